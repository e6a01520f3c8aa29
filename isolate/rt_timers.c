/* rt_timers.c: timers: one uv_timer per runtime, one deadline per realm.
 *
 * The prelude keeps each realm's timers (bootstrap/prelude/25-timers.js)
 * and tells the runtime only when the next one is due and whether a
 * pending one is ref'd (iso__rt_host_timer_arm, the shim's timerArm). The
 * runtime arms its one uv_timer for the earliest deadline of all its
 * realms; when it fires, each due realm's fireTimers hook runs (the seed's
 * macrotasks), and the tick is woken for what they changed. A realm with
 * a ref'd timer pending is not idle (timer_refed).
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

static void fire_realm_timers(iso_realm* r) {
  iso_rt* rt = r->rt;
  r->timer_deadline = -1;
  r->timer_refed = 0;
  v8s_exc exc = {0};
  iso__rt_enter(rt, r);
  int rc = v8s_call(rt->iso, r->ctx, r->fire_timers, 0, NULL, NULL, &exc);
  iso__rt_leave_hook(rt, r, rc, &exc);
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
