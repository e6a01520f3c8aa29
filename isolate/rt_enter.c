/* rt_enter.c: entering and leaving JavaScript, and the errors that come
 * out of it.
 *
 * Every call into V8 that can run JavaScript is bracketed by an entry
 * (iso__rt_enter, iso__rt_enter_until; rt_eval.c's enter_eval) and
 * iso__rt_leave. The entry publishes that JavaScript runs, since when and
 * until which deadline, in iso_rt.run, which the pool's watchdog reads
 * from its own thread (iso_rt_running, iso_rt_terminate_gen in
 * runtime.c; hence run_lock); the leave cancels a termination so the
 * isolate can run again and fails what the stop hit. JavaScript's errors
 * become plain iso_js_error data here and reach the realm's error_cb or
 * job_error_cb (iso__rt_realm_error, iso__rt_realm_fail).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "rt_private.h"

/* How long JavaScript of a shared realm may run past the realm's deadline
 * (or past its start, when that is later) when it is not one evaluation's
 * own (iso__rt_enter). */
#define SHARED_REALM_GRACE_NS (50 * 1000000ull)

/* ---- errors ---- */

void iso_js_error_close(iso_js_error* e) {
  if (e == NULL) {
    return;
  }
  free(e->name);
  free(e->message);
  free(e->stack);
  memset(e, 0, sizeof(*e));
}

void iso__rt_error_set(iso_js_error* e,
                       int code,
                       iso_js_error_kind kind,
                       const char* name,
                       const char* fmt,
                       ...) {
  iso_js_error_close(e);
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  e->name = name ? strdup(name) : NULL;
  e->message = strdup(buf);
  if (name != NULL) {
    size_t n = strlen(name) + strlen(buf) + 3;
    e->stack = malloc(n);
    if (e->stack != NULL) {
      snprintf(e->stack, n, "%s: %s", name, buf);
    }
  }
  e->kind = kind;
  e->code = code;
}

void iso__rt_error_from_exc(iso_js_error* e,
                            v8s_exc* exc,
                            iso_js_error_kind k,
                            int code) {
  iso_js_error_close(e);
  e->name = exc->name;
  e->message = exc->message ? exc->message : strdup("");
  e->stack = exc->stack;
  e->kind = k;
  e->code = exc->terminated ? ISO_ETERMINATED : code;
  memset(exc, 0, sizeof(*exc));
}

char* iso_js_error_format(const iso_js_error* e) {
  const char* prefix = e->kind == ISO_JS_IN_PROMISE ? "Uncaught (in promise) "
                       : e->kind == ISO_JS_UNCAUGHT ? "Uncaught "
                                                    : "";
  const char* body;
  char* owned = NULL;
  if (e->kind == ISO_JS_PLAIN) {
    body = e->message ? e->message : "";
  } else if (e->stack != NULL && e->stack[0] != '\0') {
    body = e->stack;
  } else if (e->name != NULL) {
    size_t n = strlen(e->name) + strlen(e->message) + 3;
    owned = malloc(n);
    if (owned != NULL) {
      snprintf(owned, n, "%s: %s", e->name, e->message);
    }
    body = owned ? owned : e->message;
  } else {
    body = e->message ? e->message : "";
  }
  size_t n = strlen(prefix) + strlen(body) + 8;
  char* out = malloc(n);
  if (out != NULL) {
    snprintf(out, n, "error: %s%s", prefix, body);
  }
  free(owned);
  return out;
}

/* ---- entering and leaving JavaScript ---- */

/* The deadline of JavaScript that belongs to no pending job (a timer a
 * finished call left in a warm realm, a FinalizationRegistry callback):
 * iso_rt_opts.background_ms from now, or none. */
static uint64_t background_deadline(const iso_rt* rt) {
  return rt->background_ns != 0 ? uv_hrtime() + rt->background_ns : 0;
}

/* ---- CPU time and heap, per evaluation ----
 *
 * Each entry is charged to one evaluation (or to none), and its cost is
 * taken when it ends (or when a nested entry, the next timer callback,
 * begins):
 *
 * - CPU time: the entry's duration on the monotonic clock, which the
 *   entry reads anyway (vDSO, 25 ns), and which is its CPU time unless
 *   the kernel preempted the thread meanwhile; but an entry the watchdog
 *   looked at (iso_rt_cpu_stop: one that ran on when a job with a budget
 *   has one, at most one look per watchdog round) is charged on the
 *   thread's CPU clock from the base the watchdog reckoned. The thread
 *   CPU clock is a system call (0.6 us here, more under the pool
 *   process's seccomp filter): two reads at every entry of every job
 *   cost 2x on runtime_bench's warm call and 0.74 of the service's
 *   batched jobs/s, so the worker reads it only at the end of an entry
 *   the watchdog has seen.
 * - Heap: v8s_heap_allocated (45 ns) when an entry begins that is charged
 *   to another evaluation than the last (or to none): what was allocated
 *   since the last read goes to the last one (heap_owner). Consecutive
 *   entries of one evaluation (its call, then its value's conversion) so
 *   cost one read; what C code allocated on the heap after an entry goes
 *   with the evaluation before it, except after one whose costs were read
 *   (iso_realm_eval_stats: a job's end), which ends its share: then it
 *   goes to the next entry's, whose arguments it usually is. A job so
 *   costs one read, at its end. */

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void iso__rt_cpu_error(const rt_eval* ev, iso_js_error* e) {
  iso__rt_error_set(e, ISO_ECPULIMIT, ISO_JS_PLAIN, "Error",
                    "CPU time limit exceeded: %llu ms (it used %llu ms)",
                    (unsigned long long)(ev->cpu_budget_ns / 1000000),
                    (unsigned long long)(ev->cpu_ns / 1000000));
}

/* What was allocated since the last read goes to the heap's owner. */
void iso__rt_heap_flush(iso_rt* rt) {
  uint64_t heap = v8s_heap_allocated(rt->iso);
  if (rt->heap_owner != NULL && heap > rt->heap_mark) {
    rt->heap_owner->heap_bytes += heap - rt->heap_mark;
  }
  rt->heap_mark = heap;
}

static int over_budget(const rt_eval* ev) {
  return ev->cpu_budget_ns != 0 && ev->cpu_ns >= ev->cpu_budget_ns;
}

/* Ends the open charge: its evaluation gets what the entry (or the part
 * since the last switch) cost. JavaScript that is not the evaluation's
 * own entry (a timer callback, the realm's op responses) and took it past
 * its budget fails it here, stopped or not (its own entry's leave,
 * eval_leave, does that for its own). */
static void charge_end(iso_rt* rt, uint64_t cpu_base) {
  rt_eval* ev = rt->charge;
  rt->charging = 0;
  rt->charge = NULL;
  if (ev == NULL) {
    return;
  }
  uint64_t cpu = 0;
  if (cpu_base != 0) {
    cpu = thread_cpu_ns();
    cpu = cpu > cpu_base ? cpu - cpu_base : 0;
  } else {
    cpu = uv_hrtime() - rt->charge_mono0;
  }
  ev->cpu_ns += cpu;
  if (ev->cpu_budget_ns != 0 && ev->cpu_warn == 0 &&
      ev->cpu_ns >= ev->cpu_budget_ns / 10 * 9) {
    ev->cpu_warn = 1; /* the realm's tick dispatches cpulimitwarning */
    iso__rt_wake(rt);
  }
  if (!rt->charge_own && over_budget(ev) && !ev->cancelled &&
      (ev->state == EV_EVALUATING || ev->state == EV_AWAITING)) {
    iso__rt_cpu_error(ev, &ev->err);
    ev->state = EV_FAILED;
    iso__rt_wake(rt);
  }
}

rt_eval* iso__rt_realm_charge(iso_realm* realm) {
  rt_eval* only = NULL;
  for (rt_eval* ev = realm != NULL ? realm->evals : NULL; ev != NULL;
       ev = ev->next) {
    if (ev->cancelled || ev->state == EV_FAILED) {
      continue;
    }
    if (only != NULL) {
      return NULL; /* shared by several: charged to none */
    }
    only = ev;
  }
  return only;
}

/* Publishes that JavaScript runs now, until deadline_ns (0: none), for
 * iso_rt_running and the watchdog, and opens its charge. A nested entry
 * (the next timer callback of one fireTimers) ends the last one's. */
void iso__rt_enter_until(iso_rt* rt,
                         uint64_t deadline_ns,
                         rt_eval* ev,
                         int own) {
  if (rt->charging) {
    pthread_mutex_lock(&rt->run_lock);
    uint64_t base = rt->run.cpu_base_ns;
    pthread_mutex_unlock(&rt->run_lock);
    charge_end(rt, base);
  }
  uint64_t now = uv_hrtime();
  uint64_t cpu_left = 0;
  if (rt->no_costs) {
    ev = NULL;
  } else if (ev != rt->heap_owner) {
    if (!rt->heap_between) {
      iso__rt_heap_flush(rt);
    }
    rt->heap_owner = ev;
  }
  rt->heap_between = 0;
  rt->charging = 1;
  rt->charge = ev;
  rt->charge_own = own;
  rt->charge_mono0 = now;
  if (ev != NULL && ev->cpu_budget_ns != 0) {
    /* 1 ns when spent: the watchdog stops it at its first look */
    cpu_left =
        ev->cpu_budget_ns > ev->cpu_ns ? ev->cpu_budget_ns - ev->cpu_ns : 1;
  }
  pthread_mutex_lock(&rt->run_lock);
  rt->run.running = 1;
  rt->run.gen++;
  rt->run.since_ns = now;
  rt->run.deadline_ns = deadline_ns;
  rt->run.cpu_left_ns = cpu_left;
  rt->run.cpu_base_ns = 0;
  pthread_mutex_unlock(&rt->run_lock);
}

/* The deadline of JavaScript run for a realm, not for one evaluation of
 * it (op responses, microtasks, a timer callback of no job). In a realm
 * many jobs share, it may belong to any of them, not to the one whose
 * deadline is the realm's: it gets a grace past that deadline, so short
 * JavaScript of another job is rarely stopped for it, while a spinning
 * continuation still is (and a stop of it breaks the realm: see
 * iso__rt_leave). The grace counts from the entry when that is later: the
 * realm's deadline is its earliest job's until the owner has answered that
 * job, which is late when the owner's loop is (held by other JavaScript),
 * and JavaScript entered after it must still get its grace. */
static uint64_t realm_deadline(iso_rt* rt, const iso_realm* realm) {
  uint64_t d = realm != NULL ? realm->deadline_ns : 0;
  if (d != 0 && realm->cbs.job_error_cb != NULL) {
    uint64_t now = uv_hrtime();
    d = (d > now ? d : now) + SHARED_REALM_GRACE_NS;
  }
  return d != 0 ? d : background_deadline(rt);
}

void iso__rt_enter(iso_rt* rt, iso_realm* realm) {
  iso__rt_enter_until(rt, realm_deadline(rt, realm),
                      iso__rt_realm_charge(realm), 0);
}

/* A timer callback's deadline (iso__rt_host_timer_job): in a realm many
 * jobs share, the callback of a pending job's timer runs by that job's own
 * deadline, as its module body and call do (enter_eval in rt_eval.c), so
 * the watchdog never stops it for another job that is overdue; that of a
 * job no longer pending belongs to no job (the background deadline); one
 * set with no job's tag, the realm's. Elsewhere: the realm's. */
uint64_t iso__rt_timer_deadline(iso_realm* realm, uint32_t tag) {
  iso_rt* rt = realm->rt;
  if (realm->cbs.job_error_cb == NULL || tag == 0) {
    return realm_deadline(rt, realm);
  }
  rt_eval* ev = iso__rt_eval_by_tag(realm, tag);
  if (ev == NULL) {
    return background_deadline(rt);
  }
  return ev->deadline_ns != 0 ? ev->deadline_ns : realm_deadline(rt, realm);
}

/* The error an evaluation gets when its JavaScript was stopped: by the
 * heap limit (ISO_EHEAPLIMIT), by its CPU budget (ISO_ECPULIMIT), else by
 * its deadline or the worker (ISO_ETERMINATED). */
void iso__rt_stopped_error(iso_rt* rt, iso_js_error* e) {
  if (rt->last_stop_oom) {
    char limit[64] = "V8's default";
    if (rt->heap_max_mb > 0) {
      snprintf(limit, sizeof(limit), "%zu MiB", rt->heap_max_mb);
    }
    iso__rt_error_set(e, ISO_EHEAPLIMIT, ISO_JS_UNCAUGHT, "RangeError",
                      "JavaScript heap out of memory: stopped at the heap "
                      "limit (%s)",
                      limit);
  } else if (rt->last_stop_cpu) {
    rt_eval ev = {.cpu_budget_ns = rt->last_cpu_budget_ns,
                  .cpu_ns = rt->last_cpu_used_ns};
    iso__rt_cpu_error(&ev, e);
  } else {
    iso__rt_error_set(e, ISO_ETERMINATED, ISO_JS_PLAIN, "Error",
                      "execution terminated");
  }
}

/* After a stop in a shared realm of JavaScript that may have been any
 * job's: the pending evaluations may have lost what they awaited (a
 * continuation V8 dropped, a timer callback or an op's settling that never
 * ran), and waiting on would end in the stall message, which would be a
 * lie. Those past their deadline are stopped ones, the rest fail with
 * ISO_ELOST saying `why`, and the realm is broken (no new work; see
 * iso_realm_broken). `stopped` is the evaluation the stop was for, if
 * known (it has its error already). */
void iso__rt_realm_lost(iso_realm* realm, rt_eval* stopped, const char* why) {
  iso_rt* rt = realm->rt;
  if (realm->cbs.job_error_cb == NULL || realm->failed || realm->freed) {
    return;
  }
  realm->broken = 1;
  uint64_t now = uv_hrtime();
  for (rt_eval* ev = realm->evals; ev != NULL; ev = ev->next) {
    if (ev == stopped || ev->cancelled ||
        (ev->state != EV_EVALUATING && ev->state != EV_AWAITING)) {
      continue;
    }
    iso_js_error_close(&ev->err);
    if (rt->last_stop_cpu && ev == rt->last_charge) {
      iso__rt_stopped_error(rt, &ev->err); /* its CPU budget stopped it */
    } else if (ev->deadline_ns != 0 && ev->deadline_ns <= now) {
      iso__rt_stopped_error(rt, &ev->err);
    } else {
      iso__rt_error_set(&ev->err, ISO_ELOST, ISO_JS_PLAIN, "Error", "%s", why);
    }
    ev->state = EV_FAILED;
  }
  iso__rt_wake(rt);
}

/* After a stop: if it hit a microtask checkpoint, V8 dropped the promise
 * jobs queued in that realm. An eval realm has failed already (its one
 * evaluation, or the realm itself). In a shared realm the other pending
 * evaluations may have lost what they awaited (iso__rt_realm_lost).
 * `stopped` is the evaluation the stop was for, if known. */
void iso__rt_microtasks_lost(iso_realm* realm, rt_eval* stopped) {
  if (!v8s_microtasks_dropped(realm->rt->iso)) {
    return;
  }
  iso__rt_realm_lost(realm, stopped,
                     "another job's JavaScript in the same realm was stopped "
                     "while promise jobs ran, and V8 dropped this job's "
                     "pending continuations with it");
}

/* Every call into V8 that can run JavaScript ends here: a termination
 * (iso_rt_terminate) is cancelled so the isolate can run again, and the
 * realm it hit fails. Returns rc. */
int iso__rt_leave(iso_rt* rt, iso_realm* realm, int rc, v8s_exc* exc) {
  pthread_mutex_lock(&rt->run_lock);
  rt->run.running = 0;
  int cpu_stop = rt->run.cpu_stop_gen == rt->run.gen;
  uint64_t cpu_base = rt->run.cpu_base_ns;
  rt->run.cpu_left_ns = 0;
  pthread_mutex_unlock(&rt->run_lock);
  rt_eval* charged = rt->charge;
  rt->last_charge = charged;
  if (rt->charging) {
    charge_end(rt, cpu_base);
  }
  if (rc == ISO_ETERMINATED || rt->out_of_memory ||
      atomic_exchange(&rt->terminate_requested, 0) != 0) {
    atomic_store(&rt->terminate_requested, 0);
    v8s_cancel_terminate(rt->iso);
  }
  rt->last_stop_oom = rt->out_of_memory;
  rt->out_of_memory = 0;
  rt->last_stop_cpu = cpu_stop && charged != NULL;
  if (rt->last_stop_cpu) {
    rt->last_cpu_budget_ns = charged->cpu_budget_ns;
    rt->last_cpu_used_ns = charged->cpu_ns;
  }
  if (rc == ISO_ETERMINATED && realm != NULL) {
    iso_js_error e = {0};
    iso__rt_stopped_error(rt, &e);
    iso__rt_realm_error(realm, NULL, &e);
    if (exc != NULL) {
      v8s_exc_close(exc);
    }
    /* JavaScript of the realm, not of one evaluation (an evaluation's own
     * is eval_leave's): in a shared realm it was anyone's, and whatever it
     * was doing for them (a continuation, an op's settling, a timer
     * callback) may never happen: the realm is lost, dropped microtasks
     * or not */
    int dropped = v8s_microtasks_dropped(rt->iso);
    if (!realm->freed) {
      iso__rt_realm_lost(
          realm, NULL,
          dropped ? "another job's JavaScript in the same realm was stopped "
                    "while promise jobs ran, and V8 dropped this job's "
                    "pending continuations with it"
                  : "JavaScript in the same realm that was not this job's "
                    "own (a continuation, a timer callback) was stopped, "
                    "and what this job waited for may never happen");
    }
  }
  return rc;
}

/* Leaving one of the prelude's hooks (fireTimers, dispatch, resolveOps):
 * what it let through is an uncaught error of the realm, with no
 * evaluation to blame. Clears exc; returns rc. */
int iso__rt_leave_hook(iso_rt* rt, iso_realm* realm, int rc, v8s_exc* exc) {
  iso__rt_leave(rt, realm, rc, exc);
  if (rc == ISO_EJS) {
    iso_js_error e = {0};
    iso__rt_error_from_exc(&e, exc, ISO_JS_UNCAUGHT, ISO_EJS);
    iso__rt_realm_error(realm, NULL, &e);
  }
  v8s_exc_close(exc);
  return rc;
}

/* An error of the realm's JavaScript: fatal to the realm, unless the realm
 * survives its errors (job_error_cb), which are then reported there. */
void iso__rt_realm_error(iso_realm* realm, void* culprit, iso_js_error* err) {
  if (realm->cbs.job_error_cb == NULL || realm->failed || realm->freed) {
    iso__rt_realm_fail(realm, err);
    return;
  }
  realm->rt->in_tick++; /* as in iso__rt_realm_fail */
  realm->cbs.job_error_cb(realm, realm->data, culprit, err);
  realm->rt->in_tick--;
  iso_js_error_close(err);
}

void iso__rt_realm_fail(iso_realm* realm, iso_js_error* err) {
  if (realm->failed || realm->freed) {
    iso_js_error_close(err);
    return;
  }
  realm->failed = 1;
  /* stop its timer so a dead realm keeps nothing alive */
  realm->timer_deadline = -1;
  realm->timer_refed = 0;
  realm->platform_waits = 0;
  if (realm->cbs.error_cb != NULL) {
    /* the callback may free the realm; its caller still holds it, so the
     * release waits for the tick (iso_realm_free sees in_tick) */
    realm->rt->in_tick++;
    realm->cbs.error_cb(realm, realm->data, err);
    realm->rt->in_tick--;
  } else {
    char* text = iso_js_error_format(err);
    fprintf(stderr, "%s\n", text ? text : "error");
    free(text);
  }
  iso_js_error_close(err);
}

/* A V8 task (a FinalizationRegistry cleanup) runs JavaScript outside
 * every entry: it gets the background deadline, and a stop is cancelled
 * afterwards like any other. Most of V8's tasks run no JavaScript at all
 * (a scavenge, a step of incremental marking), but the watchdog cannot
 * tell them apart: a stop that was not for the task's deadline (the
 * worker's halt, when the service or the worker stops, stops whatever
 * runs) may land in any of them, and says nothing about the task; nor
 * does one for a collection that outlasted the deadline (a loaded
 * machine, a sanitizer, a small --background-ms). Only JavaScript that
 * ran past the task's deadline and took the stop condemns the isolate.
 * A retired runtime's tasks do not run (iso_rt_retire). */
int iso__rt_host_task_enter(void* data) {
  iso_rt* rt = data;
  if (rt->retired) {
    return 1; /* iso_rt_retire: nothing would stop its JavaScript */
  }
  rt->task_deadline_ns = background_deadline(rt);
  iso__rt_enter_until(rt, rt->task_deadline_ns, NULL, 0);
  return 0;
}

/* Whether JavaScript took the stop the watchdog made during a V8 task:
 * a stop no JavaScript ran into (the task's own work was a collection, or
 * its JavaScript had returned) is still pending, and stops the first
 * JavaScript entered: here a script of one number, in the context of a
 * live realm (it has no effect there). Without one no JavaScript can have
 * run: not taken. Called with the stop not yet cancelled. */
static int stop_taken(iso_rt* rt) {
  static const char kProbe[] = "0";
  if (rt->freeing) {
    return 1; /* as before, the stop counts */
  }
  iso_realm* in = rt->realms;
  while (in != NULL && in->freed) {
    in = in->next;
  }
  if (in == NULL) {
    return 0;
  }
  v8s_exc exc = {0};
  int rc = v8s_execute_static(rt->iso, in->ctx, "isopool:stop-probe", kProbe,
                              sizeof kProbe - 1, NULL, &exc);
  v8s_exc_close(&exc);
  return rc != ISO_ETERMINATED;
}

void iso__rt_host_task_leave(void* data) {
  iso_rt* rt = data;
  uint64_t deadline = rt->task_deadline_ns;
  int overran = atomic_load(&rt->terminate_requested) != 0 && deadline != 0 &&
                uv_hrtime() >= deadline && stop_taken(rt);
  iso__rt_leave(rt, NULL, 0, NULL);
  rt->task_deadline_ns = 0;
  rt->platform_task_ran = 1;
  if (overran && rt->condemned == NULL) {
    /* V8 posts the cleanup again for the callbacks still due: only a new
     * isolate ends it */
    rt->condemned =
        "a FinalizationRegistry callback ran past its deadline and was "
        "stopped";
  }
  iso__rt_wake(rt);
}
