/* rt_timers.c: timers: one uv_timer per runtime, one deadline per realm.
 *
 * The prelude keeps each realm's timers (bootstrap/prelude/25-timers.js)
 * and tells the runtime only when the next one is due and whether a
 * pending one is ref'd (iso__rt_host_timer_arm, the shim's timerArm). The
 * runtime arms its one uv_timer for the earliest deadline of all its
 * realms; when it fires, each due realm's fireTimers hook runs (the seed's
 * macrotasks), and the tick is woken for what they changed. A realm with
 * a ref'd timer pending is not idle (timer_refed).
 *
 * Whose a callback is: a timer keeps the job tag current when it was set
 * and fireTimers says it before each callback (the shim's timerJob,
 * iso__rt_host_timer_job), so in a realm many jobs share the callback runs
 * by its own job's deadline (iso__rt_timer_deadline), not by the realm's
 * (its earliest job's). A stop there is then that job's own when the job
 * is past its deadline: it alone fails, and the realm's other timers are
 * armed again (the stop skipped fireTimers' re-arming). Any other stop in
 * a shared realm (a callback of no job, the pass's microtasks, a stop
 * meant for the callback before) loses the realm (iso__rt_realm_lost): no
 * job is ever left waiting on a callback that will not run.
 */
#include <uv.h>

#include "rt_private.h"

static void timer_cb(uv_timer_t* t);

void iso__rt_timers_rearm(iso_rt* rt) {
  double earliest = -1;
  for (iso_realm* r = rt->realms; r != NULL; r = r->next) {
    if (!r->failed && !r->freed && r->timer_deadline >= 0 &&
        (earliest < 0 || r->timer_deadline < earliest)) {
      earliest = r->timer_deadline;
    }
  }
  if (earliest < 0) {
    uv_timer_stop(&rt->timer);
    return;
  }
  double delay = earliest - v8s_platform_now_ms();
  uint64_t ms = delay <= 0 ? 0 : (uint64_t)delay + (delay > (uint64_t)delay);
  uv_timer_start(&rt->timer, timer_cb, ms, 0);
}

void iso__rt_host_timer_arm(void* realm_p, double deadline, int refed) {
  iso_realm* realm = realm_p;
  realm->timer_deadline = deadline;
  realm->timer_refed = deadline >= 0 && refed;
  if (deadline >= 0) {
    realm->idle_notified = 0;
  }
  iso__rt_timers_rearm(realm->rt);
}

void iso__rt_host_timer_job(void* realm_p, uint32_t tag) {
  iso_realm* realm = realm_p;
  realm->timer_tag = tag;
  /* a new entry (a new generation): a watchdog that read the last
   * callback's deadline cannot stop this one for it; its CPU time is its
   * job's (in a shared realm; in an eval realm every callback is the one
   * job's) */
  rt_eval* ev = realm->cbs.job_error_cb != NULL
                    ? iso__rt_eval_by_tag(realm, tag)
                    : iso__rt_realm_charge(realm);
  iso__rt_enter_until(realm->rt, iso__rt_timer_deadline(realm, tag), ev, 0);
}

/* fireTimers was stopped in a realm many jobs share (see the top). */
static void timers_stopped(iso_realm* r, v8s_exc* exc) {
  iso_rt* rt = r->rt;
  iso__rt_leave(rt, NULL, ISO_ETERMINATED, exc); /* no realm error yet */
  v8s_exc_close(exc);
  int dropped = v8s_microtasks_dropped(rt->iso);
  rt_eval* ev = iso__rt_eval_by_tag(r, r->timer_tag);
  int cpu = rt->last_stop_cpu && ev != NULL && ev == rt->last_charge;
  if (!dropped && cpu) {
    /* its own callback, past its CPU budget: that job alone (the charge's
     * end may have failed it already) */
    if (ev->state == EV_EVALUATING || ev->state == EV_AWAITING) {
      iso__rt_stopped_error(rt, &ev->err);
      ev->state = EV_FAILED;
    }
  } else if (!dropped && ev != NULL && ev->deadline_ns != 0 &&
             ev->deadline_ns <= uv_hrtime() &&
             (ev->state == EV_EVALUATING || ev->state == EV_AWAITING)) {
    /* its own callback, past its own deadline: that job alone */
    iso__rt_stopped_error(rt, &ev->err);
    ev->state = EV_FAILED;
  } else {
    iso_js_error e = {0};
    iso__rt_stopped_error(rt, &e);
    iso__rt_realm_error(r, NULL, &e);
    iso__rt_realm_lost(
        r, NULL,
        dropped ? "another job's JavaScript in the same realm was stopped "
                  "while promise jobs ran, and V8 dropped this job's "
                  "pending continuations with it"
                : "a timer callback in the same realm that was not this "
                  "job's own was stopped, and what this job waited for may "
                  "never happen");
  }
  if (!r->failed && !r->freed) {
    /* due now: the next pass runs the timers still due and re-arms */
    r->timer_deadline = 0;
    r->timer_refed = 1;
  }
  iso__rt_wake(rt);
}

static void fire_realm_timers(iso_realm* r) {
  iso_rt* rt = r->rt;
  r->timer_deadline = -1;
  r->timer_refed = 0;
  r->timer_tag = 0;
  v8s_exc exc = {0};
  iso__rt_enter(rt, r);
  int rc = v8s_call(rt->iso, r->ctx, r->fire_timers, 0, NULL, NULL, &exc);
  if (rc == ISO_ETERMINATED && r->cbs.job_error_cb != NULL && !r->freed) {
    timers_stopped(r, &exc);
  } else {
    iso__rt_leave_hook(rt, r, rc, &exc);
  }
  if (!r->freed) {
    /* the tag of a callback that threw or was stopped stays no longer */
    v8s_set_job_tag(rt->iso, r->ctx, 0);
  }
}

static void timer_cb(uv_timer_t* t) {
  iso_rt* rt = t->data;
  double now = v8s_platform_now_ms();
  rt->in_tick++;
  for (iso_realm* r = rt->realms; r != NULL; r = r->next) {
    if (!r->failed && !r->freed && r->timer_deadline >= 0 &&
        r->timer_deadline <= now + 0.5) {
      fire_realm_timers(r);
    }
  }
  rt->in_tick--;
  iso__rt_timers_rearm(rt);
  iso__rt_wake(rt);
}
