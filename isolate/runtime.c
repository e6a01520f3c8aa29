/* runtime.c: the runtime, its realms and the event loop tick.
 *
 * DESIGN: one thread owns an iso_rt and drives it from its libuv loop.
 * Anything that changes what JavaScript can observe (a timer fired, a file
 * arrived, a dynamic import was asked for, an evaluation was submitted)
 * calls iso__rt_wake(), which starts a uv_idle handle; the idle callback
 * runs one tick, the seed's poll_event_loop, for every realm in order:
 *   ops (timers fire in their own uv_timer callback: the macrotasks),
 *   check promise exceptions, evaluate dynamic imports whose graph loaded
 *   or whose evaluation settled, check promise exceptions again, evaluate
 *   pending modules (watching each evaluation promise until it settles),
 *   then decide: nothing pending (idle_cb), still waiting, or stalled with
 *   the seed's messages.
 * A uv_idle makes the loop poll without blocking, so a tick runs in the
 * same loop iteration as the event that asked for it; the handle stops
 * itself, so an idle runtime does not spin.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_bootstrap.h"
#include "iso_buf.h"
#include "iso_err.h"
#include "rt_private.h"

/* How long JavaScript of a shared realm may run past the realm's deadline
 * when it is not one evaluation's own (iso__rt_enter). */
#define SHARED_REALM_GRACE_NS (50 * 1000000ull)

static const char kModuleStall[] =
    "Module evaluation is still pending but there are no pending ops or "
    "dynamic imports. This situation is often caused by unresolved promise.";
static const char kDynStall[] =
    "Dynamically imported module evaluation is still pending but there are "
    "no pending ops. This situation is often caused by unresolved promise.";

/* ---- errors ---- */

void iso_js_error_clear(iso_js_error* e) {
  if (e == NULL) {
    return;
  }
  free(e->name);
  free(e->message);
  free(e->stack);
  memset(e, 0, sizeof(*e));
}

void iso__error_set(iso_js_error* e,
                    int code,
                    iso_js_error_kind kind,
                    const char* name,
                    const char* fmt,
                    ...) {
  iso_js_error_clear(e);
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

void iso__error_from_exc(iso_js_error* e,
                         v8s_exc* exc,
                         iso_js_error_kind k,
                         int code) {
  iso_js_error_clear(e);
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

/* Every call into V8 that can run JavaScript ends here: a termination
 * (iso_rt_terminate) is cancelled so the isolate can run again, and the
 * realm it hit fails. Returns rc. */
static void enter_until(iso_rt* rt, uint64_t deadline_ns) {
  pthread_mutex_lock(&rt->run_lock);
  rt->run.running = 1;
  rt->run.gen++;
  rt->run.since_ns = uv_hrtime();
  rt->run.deadline_ns = deadline_ns;
  pthread_mutex_unlock(&rt->run_lock);
}

/* JavaScript entered for a realm, not for one evaluation of it (timers,
 * op responses, microtasks). In a realm many jobs share, it may belong to
 * any of them, not to the one whose deadline is the realm's: it gets a
 * grace past that deadline, so short JavaScript of another job is never
 * stopped for it, while a spinning continuation still is. */
void iso__rt_enter(iso_rt* rt, iso_realm* realm) {
  uint64_t d = realm != NULL ? realm->deadline_ns : 0;
  if (d != 0 && realm->cbs.job_error_cb != NULL) {
    d += SHARED_REALM_GRACE_NS;
  }
  enter_until(rt, d != 0 ? d : background_deadline(rt));
}

/* JavaScript entered for one evaluation: its own deadline, else the
 * realm's. */
static void enter_eval(iso_rt* rt, iso_realm* realm, const iso_eval* ev) {
  enter_until(rt, ev->deadline_ns != 0 ? ev->deadline_ns : realm->deadline_ns);
}

/* The error an evaluation gets when its JavaScript was stopped. */
static void stopped_error(iso_rt* rt, iso_js_error* e) {
  if (rt->last_stop_oom) {
    char limit[64] = "V8's default";
    if (rt->heap_max_mb > 0) {
      snprintf(limit, sizeof(limit), "%zu MiB", rt->heap_max_mb);
    }
    iso__error_set(e, ISO_ENOMEM, ISO_JS_UNCAUGHT, "RangeError",
                   "JavaScript heap out of memory: stopped at the heap "
                   "limit (%s)",
                   limit);
  } else {
    iso__error_set(e, ISO_ETERMINATED, ISO_JS_PLAIN, "Error",
                   "execution terminated");
  }
}

/* After a stop: if it hit a microtask checkpoint, V8 dropped the promise
 * jobs queued in that realm. An eval realm has failed already (its one
 * evaluation, or the realm itself). In a shared realm the other pending
 * evaluations may have lost what they awaited: those past their deadline
 * are stopped ones, the rest fail with ISO_ELOST, and the realm is broken
 * (no new work; see iso_realm_broken). `stopped` is the evaluation the
 * stop was for, if known. */
static void microtasks_lost(iso_realm* realm, iso_eval* stopped) {
  iso_rt* rt = realm->rt;
  if (!v8s_microtasks_dropped(rt->iso) || realm->cbs.job_error_cb == NULL) {
    return;
  }
  realm->broken = 1;
  uint64_t now = uv_hrtime();
  for (iso_eval* ev = realm->evals; ev != NULL; ev = ev->next) {
    if (ev == stopped || ev->cancelled ||
        (ev->state != EV_EVALUATING && ev->state != EV_AWAITING)) {
      continue;
    }
    iso_js_error_clear(&ev->err);
    if (ev->deadline_ns != 0 && ev->deadline_ns <= now) {
      stopped_error(rt, &ev->err);
    } else {
      iso__error_set(&ev->err, ISO_ELOST, ISO_JS_PLAIN, "Error",
                     "another job's JavaScript in the same realm was stopped "
                     "while promise jobs ran, and V8 dropped this job's "
                     "pending continuations with it");
    }
    ev->state = EV_FAILED;
  }
  iso__rt_wake(rt);
}

int iso_realm_broken(const iso_realm* realm) {
  return realm->broken;
}

int iso__rt_leave(iso_rt* rt, iso_realm* realm, int rc, v8s_exc* exc) {
  pthread_mutex_lock(&rt->run_lock);
  rt->run.running = 0;
  pthread_mutex_unlock(&rt->run_lock);
  if (rc == ISO_ETERMINATED || rt->out_of_memory ||
      atomic_exchange(&rt->terminate_requested, 0) != 0) {
    atomic_store(&rt->terminate_requested, 0);
    v8s_cancel_terminate(rt->iso);
  }
  rt->last_stop_oom = rt->out_of_memory;
  rt->out_of_memory = 0;
  if (rc == ISO_ETERMINATED && realm != NULL) {
    iso_js_error e = {0};
    stopped_error(rt, &e);
    iso__realm_error(realm, NULL, &e);
    if (exc != NULL) {
      v8s_exc_clear(exc);
    }
    if (!realm->freed) {
      microtasks_lost(realm, NULL);
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
    iso__error_from_exc(&e, exc, ISO_JS_UNCAUGHT, ISO_EJS);
    iso__realm_error(realm, NULL, &e);
  }
  v8s_exc_clear(exc);
  return rc;
}

static void idle_cb(uv_idle_t* h);

void iso__rt_wake(iso_rt* rt) {
  if (!rt->freeing && !uv_is_active((uv_handle_t*)&rt->idle)) {
    uv_idle_start(&rt->idle, idle_cb);
  }
}

/* An error of the realm's JavaScript: fatal to the realm, unless the realm
 * survives its errors (job_error_cb), which are then reported there. */
void iso__realm_error(iso_realm* realm, void* culprit, iso_js_error* err) {
  if (realm->cbs.job_error_cb == NULL || realm->failed || realm->freed) {
    iso__realm_fail(realm, err);
    return;
  }
  realm->rt->in_tick++; /* as in iso__realm_fail */
  realm->cbs.job_error_cb(realm, realm->data, culprit, err);
  realm->rt->in_tick--;
  iso_js_error_clear(err);
}

void iso__realm_fail(iso_realm* realm, iso_js_error* err) {
  if (realm->failed || realm->freed) {
    iso_js_error_clear(err);
    return;
  }
  realm->failed = 1;
  /* stop its timer so a dead realm keeps nothing alive */
  realm->timer_deadline = -1;
  realm->timer_refed = 0;
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
  iso_js_error_clear(err);
}

/* ---- timers: one uv_timer per runtime, one deadline per realm ---- */

static void timer_cb(uv_timer_t* t);

static void rearm_timer(iso_rt* rt) {
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

static void host_timer_arm(void* realm_p, double deadline, int refed) {
  iso_realm* realm = realm_p;
  realm->timer_deadline = deadline;
  realm->timer_refed = deadline >= 0 && refed;
  if (deadline >= 0) {
    realm->idle_notified = 0;
  }
  rearm_timer(realm->rt);
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
  rearm_timer(rt);
  iso__rt_wake(rt);
}

/* ---- host callbacks ---- */

static void host_print(void* realm_p,
                       const char* level,
                       const char* text,
                       size_t len) {
  iso_realm* realm = realm_p;
  if (realm->cbs.log_cb != NULL) {
    realm->cbs.log_cb(realm, realm->data, level, text, len);
    return;
  }
  FILE* f = (strcmp(level, "warn") == 0 || strcmp(level, "error") == 0)
                ? stderr
                : stdout;
  fwrite(text, 1, len, f);
  fputc('\n', f);
  if (f == stderr) {
    fflush(stdout);
  }
}

static void host_promise_reject(void* realm_p,
                                int event,
                                v8s_ref promise,
                                v8s_ref reason) {
  iso_realm* realm = realm_p;
  iso_rt* rt = realm->rt;
  if (event == V8S_REJECT_NO_HANDLER) {
    iso_rejection* r = calloc(1, sizeof(*r));
    if (r == NULL) {
      return;
    }
    r->promise = v8s_ref_dup(rt->iso, promise);
    r->reason = v8s_ref_dup(rt->iso, reason);
    r->culprit = iso_realm_current(realm);
    /* append: the first rejection is the one reported */
    iso_rejection** pp = &realm->pending_promise_exceptions;
    while (*pp != NULL) {
      pp = &(*pp)->next;
    }
    *pp = r;
    iso__rt_wake(rt);
  } else if (event == V8S_HANDLER_ADDED_AFTER_REJECT) {
    iso_rejection** pp = &realm->pending_promise_exceptions;
    while (*pp != NULL) {
      if (v8s_ref_same(rt->iso, (*pp)->promise, promise)) {
        iso_rejection* r = *pp;
        *pp = r->next;
        v8s_ref_free(rt->iso, r->promise);
        v8s_ref_free(rt->iso, r->reason);
        free(r);
        return;
      }
      pp = &(*pp)->next;
    }
  }
}

/* A V8 task (a FinalizationRegistry cleanup) runs JavaScript outside
 * every entry: it gets the background deadline, and a stop is cancelled
 * afterwards like any other. */
static void host_task_enter(void* data) {
  iso_rt* rt = data;
  enter_until(rt, background_deadline(rt));
}

static void host_task_leave(void* data) {
  iso_rt* rt = data;
  int stopped = atomic_load(&rt->terminate_requested) != 0;
  iso__rt_leave(rt, NULL, 0, NULL);
  if (stopped && rt->condemned == NULL) {
    /* V8 posts the cleanup again for the callbacks still due: only a new
     * isolate ends it */
    rt->condemned =
        "a FinalizationRegistry callback ran past its deadline and was "
        "stopped";
  }
  iso__rt_wake(rt);
}

const char* iso_rt_condemned(const iso_rt* rt) {
  return rt->condemned;
}

static int host_near_heap_limit(void* data) {
  iso_rt* rt = data;
  /* the shim raised V8's limit so the process survives: only a new
   * isolate gets the configured one back */
  if (rt->condemned == NULL) {
    rt->condemned = "the JavaScript heap reached its limit";
  }
  if (!rt->run.running) {
    return 0; /* no JavaScript to blame: the next entry must not be */
  }
  rt->out_of_memory = 1; /* the shim stops what runs */
  return 1;
}

static void host_uncaught(void* realm_p, const v8s_exc* exc) {
  iso_realm* realm = realm_p;
  iso_js_error e = {0};
  e.name = exc->name ? strdup(exc->name) : NULL;
  e.message = strdup(exc->message ? exc->message : "");
  e.stack = exc->stack ? strdup(exc->stack) : NULL;
  e.kind = ISO_JS_UNCAUGHT;
  e.code = ISO_EJS;
  iso__realm_error(realm, iso_realm_current(realm), &e);
  iso__rt_wake(realm->rt);
}

/* The seed removes the evaluation promise from pending_promise_exceptions:
 * the runtime reports its rejection itself. */
static void forget_rejection(iso_realm* realm, v8s_ref promise) {
  iso_rejection** pp = &realm->pending_promise_exceptions;
  while (*pp != NULL) {
    if (v8s_ref_same(realm->rt->iso, (*pp)->promise, promise)) {
      iso_rejection* r = *pp;
      *pp = r->next;
      v8s_ref_free(realm->rt->iso, r->promise);
      v8s_ref_free(realm->rt->iso, r->reason);
      free(r);
      return;
    }
    pp = &(*pp)->next;
  }
}

/* ---- the runtime ---- */

int iso_rt_init_process(const char* v8_flags) {
  return v8s_platform_init(v8_flags, 2);
}

int iso_rt_new(const iso_rt_opts* opts, iso_rt** out) {
  if (opts == NULL || opts->loop == NULL) {
    return ISO_EINVAL;
  }
  iso_rt* rt = calloc(1, sizeof(*rt));
  if (rt == NULL) {
    return ISO_ENOMEM;
  }
  rt->loop = opts->loop;
  pthread_mutex_init(&rt->run_lock, NULL);
  rt->root = realpath(opts->root ? opts->root : ".", NULL);
  if (rt->root == NULL) {
    free(rt);
    return ISO_ENOENT;
  }
  rt->host = (v8s_host){
      .resolve = iso__host_resolve,
      .dyn_import = iso__host_dyn_import,
      .import_meta = iso__host_import_meta,
      .promise_reject = host_promise_reject,
      .uncaught = host_uncaught,
      .print = host_print,
      .timer_arm = host_timer_arm,
      .op_sync = iso__host_op_sync,
      .op_async = iso__host_op_async,
      .op_ref = iso__host_op_ref,
      .near_heap_limit = host_near_heap_limit,
      .task_enter = host_task_enter,
      .task_leave = host_task_leave,
  };
  rt->heap_max_mb = opts->heap_max_mb;
  rt->background_ns = (uint64_t)opts->background_ms * 1000000u;
  rt->value_max_bytes = opts->value_max_bytes;
  iso__ops_init(rt, opts);
  v8s_op_info* ops = calloc(rt->ops->n + 1, sizeof(*ops));
  for (size_t i = 0; ops != NULL && i < rt->ops->n; i++) {
    ops[i].name = rt->ops->defs[i].name;
    ops[i].is_async = rt->ops->defs[i].kind == ISO_OP_ASYNC;
  }
  v8s_isolate_opts vo = {
      .loop = opts->loop,
      .host = &rt->host,
      .host_data = rt,
      .heap_max_mb = opts->heap_max_mb,
      .ops = ops,
      .nops = ops != NULL ? rt->ops->n : 0,
      .op_args_max = opts->value_max_bytes,
  };
  /* the JsRuntimeState (this iso_rt) goes into the isolate's data slot */
  int rc = ops != NULL ? v8s_isolate_new(&vo, &rt->iso) : ISO_ENOMEM;
  free(ops);
  if (rc != 0) {
    iso__ops_free(rt);
    pthread_mutex_destroy(&rt->run_lock);
    free(rt->root);
    free(rt);
    return rc;
  }
  uv_timer_init(rt->loop, &rt->timer);
  rt->timer.data = rt;
  uv_idle_init(rt->loop, &rt->idle);
  rt->idle.data = rt;
  uv_prepare_init(rt->loop, &rt->op_flush);
  rt->op_flush.data = rt;
  rt->handles_open = 3; /* timer, idle, op_flush */
  rc = iso_realm_new(rt, &(iso_realm_cbs){0}, NULL, &rt->global);
  if (rc != 0) {
    iso_rt_free(rt);
    return rc;
  }
  *out = rt;
  return 0;
}

static void realm_release(iso_realm* realm);

static void handle_closed_cb(uv_handle_t* h) {
  iso_rt* rt = h->data;
  if (--rt->handles_open == 0) {
    pthread_mutex_destroy(&rt->run_lock);
    free(rt->root);
    free(rt);
  }
}

void iso_rt_free(iso_rt* rt) {
  if (rt == NULL) {
    return;
  }
  rt->freeing = 1;
  while (rt->realms != NULL) {
    iso_realm* r = rt->realms;
    r->freed = 1;
    realm_release(r);
  }
  rt->global = NULL;
  v8s_isolate_free(rt->iso);
  rt->iso = NULL;
  iso__ops_free(rt);
  uv_close((uv_handle_t*)&rt->timer, handle_closed_cb);
  uv_close((uv_handle_t*)&rt->idle, handle_closed_cb);
  uv_close((uv_handle_t*)&rt->op_flush, handle_closed_cb);
}

void iso_rt_terminate(iso_rt* rt) {
  atomic_store(&rt->terminate_requested, 1);
  v8s_terminate(rt->iso);
}

int iso_rt_running(iso_rt* rt,
                   uint64_t* gen,
                   uint64_t* since_ns,
                   uint64_t* deadline_ns) {
  pthread_mutex_lock(&rt->run_lock);
  int running = rt->run.running;
  *gen = rt->run.gen;
  *since_ns = rt->run.since_ns;
  *deadline_ns = rt->run.deadline_ns;
  pthread_mutex_unlock(&rt->run_lock);
  return running;
}

int iso_rt_terminate_gen(iso_rt* rt, uint64_t gen) {
  int hit = 0;
  pthread_mutex_lock(&rt->run_lock);
  if (rt->run.running && rt->run.gen == gen) {
    atomic_store(&rt->terminate_requested, 1);
    v8s_terminate(rt->iso);
    hit = 1;
  }
  pthread_mutex_unlock(&rt->run_lock);
  return hit;
}

/* A pending, not cancelled evaluation of the realm by its tag. */
static iso_eval* eval_by_tag(const iso_realm* realm, uint32_t tag) {
  for (iso_eval* ev = realm->evals; tag != 0 && ev != NULL; ev = ev->next) {
    if (ev->tag == tag) {
      return ev->cancelled ? NULL : ev;
    }
  }
  return NULL;
}

/* The evaluation's own JavaScript, or a promise continuation of it (its
 * job tag came along), while the evaluation is pending. */
void* iso_realm_current(const iso_realm* realm) {
  if (realm->current != NULL) {
    return realm->current;
  }
  iso_eval* ev = eval_by_tag(realm, v8s_job_tag(realm->rt->iso));
  return ev != NULL ? ev->data : NULL;
}

int iso__realm_tag_cancelled(const iso_realm* realm, uint32_t tag) {
  for (unsigned i = 0; tag != 0 && i < 16; i++) {
    if (realm->cancelled_tags[i] == tag) {
      return 1;
    }
  }
  return 0;
}

void iso_rt_heap(iso_rt* rt, size_t* used, size_t* limit) {
  v8s_heap_stats(rt->iso, used, limit);
}

int iso_realm_module_count(const iso_realm* realm) {
  int n = 0;
  for (const iso_mod* m = realm->modules; m != NULL; m = m->next) {
    n += m->state == MOD_COMPILED;
  }
  return n;
}

int iso_rt_module_url(iso_rt* rt, const char* specifier, char** url) {
  char err[256];
  char referrer[PATH_MAX + 16];
  snprintf(referrer, sizeof(referrer), "file://%s/", rt->root);
  const char* spec = specifier;
  char rel[PATH_MAX + 4];
  if (specifier[0] != '.' && specifier[0] != '/' &&
      strncmp(specifier, "file://", 7) != 0 &&
      strncmp(specifier, "isopool:", 8) != 0) {
    snprintf(rel, sizeof(rel), "./%s", specifier); /* like a job's module */
    spec = rel;
  }
  *url = NULL;
  return iso__resolve(rt, spec, referrer, url, err, sizeof(err));
}

int iso_realm_has_module(iso_realm* realm, const char* specifier) {
  char* url = NULL;
  if (iso_rt_module_url(realm->rt, specifier, &url) != 0) {
    return 0;
  }
  int found = iso__mod_find(realm, url) != NULL;
  free(url);
  return found;
}

void iso_realm_set_deadline(iso_realm* realm, uint64_t deadline_ns) {
  realm->deadline_ns = deadline_ns;
}

int iso_rt_execute(iso_rt* rt,
                   const char* name,
                   const char* source,
                   iso_js_error* err) {
  v8s_exc exc = {0};
  iso__rt_enter(rt, NULL);
  int rc = v8s_execute(rt->iso, rt->global->ctx, name, source, strlen(source),
                       NULL, &exc);
  iso__rt_leave(rt, NULL, rc, &exc);
  if (rc != 0 && err != NULL) {
    iso__error_from_exc(err, &exc, ISO_JS_UNCAUGHT, rc);
  }
  v8s_exc_clear(&exc);
  iso__rt_wake(rt);
  return rc;
}

/* ---- realms ---- */

int iso_realm_new(iso_rt* rt,
                  const iso_realm_cbs* cbs,
                  void* data,
                  iso_realm** out) {
  iso_realm* realm = calloc(1, sizeof(*realm));
  if (realm == NULL) {
    return ISO_ENOMEM;
  }
  realm->rt = rt;
  realm->cbs = *cbs;
  realm->data = data;
  realm->timer_deadline = -1;
  realm->timer_refed = 0;
  int rc = v8s_context_new(rt->iso, realm, &realm->ctx);
  if (rc != 0) {
    free(realm);
    return rc;
  }
  iso__ops_realm_init(realm);
  realm->next = rt->realms;
  if (rt->realms != NULL) {
    rt->realms->prev = realm;
  }
  rt->realms = realm;
  v8s_exc exc = {0};
  v8s_ref hooks = 0;
  /* the prelude is isopool's own: no deadline (a slow host, a sanitizer
   * build, must not fail a realm's start) */
  enter_until(rt, 0);
  rc = v8s_execute_static(rt->iso, realm->ctx, "isopool:bootstrap",
                          iso_bootstrap_prelude, iso_bootstrap_prelude_len,
                          &hooks, &exc);
  iso__rt_leave(rt, NULL, rc, &exc);
  if (rc == 0) {
    rc = v8s_get(rt->iso, realm->ctx, hooks, "fireTimers", &realm->fire_timers,
                 &exc);
  }
  if (rc == 0) {
    rc =
        v8s_get(rt->iso, realm->ctx, hooks, "dispatch", &realm->dispatch, &exc);
  }
  if (rc == 0) {
    rc = v8s_get(rt->iso, realm->ctx, hooks, "resolveOps", &realm->resolve_ops,
                 &exc);
  }
  v8s_ref_free(rt->iso, hooks);
  if (rc != 0) {
    fprintf(stderr, "isopool: bootstrap failed: %s\n",
            exc.stack     ? exc.stack
            : exc.message ? exc.message
                          : "?");
    v8s_exc_clear(&exc);
    realm->freed = 1;
    realm_release(realm);
    return rc;
  }
  *out = realm;
  return 0;
}

static void eval_free(iso_rt* rt, iso_eval* ev) {
  iso__load_free(ev->load);
  v8s_ref_free(rt->iso, ev->promise);
  v8s_ref_free(rt->iso, ev->value);
  iso_js_error_clear(&ev->err);
  free(ev->export_name);
  free(ev->args_mp);
  for (int i = 0; i < ev->argc; i++) {
    free(ev->argv[i]);
  }
  free(ev->argv);
  free(ev);
}

static void dyn_free(iso_rt* rt, iso_dyn* d) {
  iso__load_free(d->load);
  v8s_ref_free(rt->iso, d->resolver);
  v8s_ref_free(rt->iso, d->promise);
  free(d);
}

/* Frees the realm now; only when no tick is walking the realm list. */
static void realm_release(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  while (realm->evals != NULL) {
    iso_eval* ev = realm->evals;
    realm->evals = ev->next;
    eval_free(rt, ev);
  }
  realm->evals_tail = NULL;
  while (realm->dyns != NULL) {
    iso_dyn* d = realm->dyns;
    realm->dyns = d->next;
    dyn_free(rt, d);
  }
  while (realm->pending_promise_exceptions != NULL) {
    iso_rejection* r = realm->pending_promise_exceptions;
    realm->pending_promise_exceptions = r->next;
    v8s_ref_free(rt->iso, r->promise);
    v8s_ref_free(rt->iso, r->reason);
    free(r);
  }
  iso__loader_realm_free(realm);
  for (unsigned i = 0; i < 4; i++) {
    free(realm->spec_cache[i].spec);
  }
  v8s_ref_free(rt->iso, realm->fire_timers);
  v8s_ref_free(rt->iso, realm->dispatch);
  v8s_ref_free(rt->iso, realm->resolve_ops);
  iso__ops_realm_free(realm);
  v8s_context_dispose(rt->iso, realm->ctx);
  if (realm->prev != NULL) {
    realm->prev->next = realm->next;
  } else {
    rt->realms = realm->next;
  }
  if (realm->next != NULL) {
    realm->next->prev = realm->prev;
  }
  free(realm);
}

void iso_realm_free(iso_realm* realm) {
  if (realm == NULL || realm->freed) {
    return;
  }
  realm->freed = 1;
  realm->timer_deadline = -1;
  realm->timer_refed = 0;
  if (realm->rt->in_tick > 0) {
    iso__rt_wake(realm->rt); /* released at the end of the tick */
    return;
  }
  iso_rt* rt = realm->rt;
  realm_release(realm);
  rearm_timer(rt);
}

int iso_realm_dispatch(iso_realm* realm, const char* type) {
  if (realm->failed || realm->freed) {
    return ISO_ECLOSED;
  }
  iso_rt* rt = realm->rt;
  v8s_ref arg = v8s_string(rt->iso, realm->ctx, type);
  v8s_exc exc = {0};
  iso__rt_enter(rt, realm);
  int rc = v8s_call(rt->iso, realm->ctx, realm->dispatch, 1, &arg, NULL, &exc);
  v8s_ref_free(rt->iso, arg);
  iso__rt_leave_hook(rt, realm, rc, &exc);
  iso__rt_wake(rt);
  return rc;
}

static int has_dyn(const iso_realm* r, int evaluating) {
  for (const iso_dyn* d = r->dyns; d != NULL; d = d->next) {
    if ((d->state == DYN_EVALUATING) == (evaluating != 0)) {
      return 1;
    }
  }
  return 0;
}

static int has_eval(const iso_realm* r, int evaluating) {
  for (const iso_eval* e = r->evals; e != NULL; e = e->next) {
    if (e->cancelled) {
      continue;
    }
    int ev = e->state == EV_EVALUATING || e->state == EV_AWAITING;
    if (ev == (evaluating != 0)) {
      return 1;
    }
  }
  return 0;
}

int iso_realm_eval_cancel(iso_realm* realm, void* data) {
  int n = 0;
  for (iso_eval* e = realm->evals; e != NULL; e = e->next) {
    if (e->data == data && !e->cancelled) {
      e->cancelled = 1;
      /* its ops in flight are forgotten when they come back */
      realm->cancelled_tags[realm->cancelled_next++ % 16] = e->tag;
      n++;
    }
  }
  if (n > 0) {
    iso__rt_wake(realm->rt); /* the tick frees them */
  }
  return n;
}

/* ---- evaluations ---- */

/* Appends, so evaluations finish in submission order when they can. */
static void eval_append(iso_realm* realm, iso_eval* ev) {
  if (realm->evals_tail != NULL) {
    realm->evals_tail->next = ev;
  } else {
    realm->evals = ev;
  }
  realm->evals_tail = ev;
  realm->idle_notified = 0;
  iso__rt_wake(realm->rt);
}

int iso_realm_eval(iso_realm* realm,
                   const iso_eval_opts* o,
                   iso_eval_cb cb,
                   void* data) {
  if (realm == NULL || o == NULL || cb == NULL) {
    return ISO_EINVAL;
  }
  if (realm->failed || realm->freed) {
    return ISO_ECLOSED;
  }
  iso_rt* rt = realm->rt;
  iso_eval* ev = calloc(1, sizeof(*ev));
  if (ev == NULL) {
    return ISO_ENOMEM;
  }
  ev->cb = cb;
  ev->data = data;
  ev->tag = ++realm->rt->next_tag ? realm->rt->next_tag : ++realm->rt->next_tag;
  ev->deadline_ns = o->deadline_ns;
  ev->call = o->call;
  ev->export_name = strdup(o->export_name ? o->export_name : "default");
  if (o->args_mp != NULL && o->args_len > 0) {
    ev->args_mp = malloc(o->args_len);
    if (ev->args_mp != NULL) {
      memcpy(ev->args_mp, o->args_mp, o->args_len);
      ev->args_len = o->args_len;
    }
  }
  if (o->argc > 0) {
    ev->argv = calloc((size_t)o->argc, sizeof(char*));
    for (int i = 0; ev->argv != NULL && i < o->argc; i++) {
      ev->argv[i] = strdup(o->argv[i]);
      ev->argc++;
    }
  }

  /* warm path: a specifier evaluated before */
  if (o->specifier != NULL && o->source == NULL) {
    for (unsigned i = 0; i < 4; i++) {
      iso_mod* m = realm->spec_cache[i].mod;
      if (m != NULL && m->evaluated &&
          strcmp(realm->spec_cache[i].spec, o->specifier) == 0) {
        ev->mod = m;
        ev->state = EV_READY;
        eval_append(realm, ev);
        return 0;
      }
    }
  }
  /* the main module's URL */
  char err[1024];
  char* url = NULL;
  int rc = 0;
  if (o->specifier == NULL) {
    size_t n = strlen(rt->root) + 32;
    url = malloc(n);
    if (url != NULL) {
      snprintf(url, n, "file://%s/$eval.js", rt->root);
    }
  } else {
    const char* s = o->specifier;
    char* abs = NULL;
    if (s[0] != '/' && strncmp(s, "file://", 7) != 0) {
      /* a plain relative path names a file under the module root */
      size_t n = strlen(rt->root) + strlen(s) + 2;
      abs = malloc(n);
      if (abs != NULL) {
        snprintf(abs, n, "%s/%s", rt->root, s);
      }
      s = abs;
    }
    rc = s ? iso__resolve(rt, s, "", &url, err, sizeof(err)) : ISO_ENOMEM;
    free(abs);
  }
  if (rc != 0 || url == NULL) {
    iso__error_set(&ev->err, rc ? rc : ISO_ENOMEM, ISO_JS_PLAIN, "TypeError",
                   "%s", rc ? err : "out of memory");
    free(url);
    ev->state = EV_FAILED;
  } else {
    iso_mod* m = iso__mod_find(realm, url);
    if (o->source != NULL && (m == NULL || m->state == MOD_FAILED)) {
      /* each module is compiled once per realm: a source only counts the
       * first time (or after it failed) */
      m = iso__mod_get(realm, url, 0);
      if (m != NULL) {
        iso__mod_set_source(realm, m, o->source, o->source_len);
      }
    } else if (m == NULL) {
      m = iso__mod_get(realm, url, 0);
    }
    free(url);
    if (ev->state != EV_FAILED) {
      if (m == NULL && realm->nmods >= ISO_MOD_MAX) {
        iso__error_set(&ev->err, ISO_ETOOBIG, ISO_JS_UNCAUGHT, "RangeError",
                       "this realm's module map is full (%d modules)",
                       ISO_MOD_MAX);
        ev->state = EV_FAILED;
      } else if (m == NULL) {
        iso__error_set(&ev->err, ISO_ENOMEM, ISO_JS_PLAIN, "Error",
                       "out of memory");
        ev->state = EV_FAILED;
      } else {
        ev->mod = m;
        if (o->main && realm->main_mod == NULL) {
          realm->main_mod = m;
        }
        if (o->source == NULL && o->specifier != NULL) {
          unsigned i = realm->spec_next++ % 4;
          free(realm->spec_cache[i].spec);
          realm->spec_cache[i].spec = strdup(o->specifier);
          realm->spec_cache[i].mod =
              realm->spec_cache[i].spec != NULL ? m : NULL;
        }
        if (m->evaluated) {
          ev->state = EV_READY; /* warm: no load, no evaluation */
        } else {
          ev->load = iso__load_start(realm, m);
          ev->state = EV_LOADING;
        }
      }
    }
  }
  eval_append(realm, ev);
  return 0;
}

/* Takes the evaluated module's export, calls it if asked, and starts
 * awaiting the value. */
/* Ends a JavaScript entry made for one evaluation: a stop (termination,
 * the heap limit) fails that evaluation, not its realm; a thrown value
 * becomes its error. Returns rc. */
static int eval_leave(iso_realm* realm, iso_eval* ev, int rc, v8s_exc* exc) {
  realm->current = NULL;
  v8s_set_job_tag(realm->rt->iso, realm->ctx, 0);
  iso__rt_leave(realm->rt, NULL, rc, exc);
  if (rc == 0 && realm->rt->last_stop_oom) {
    /* it reached the heap limit and finished before the stop took (one
     * large allocation, a builtin that ignores the stop): its value was
     * made above the limit, so it fails like a stopped one */
    rc = ISO_ETERMINATED;
  }
  if (rc == ISO_ETERMINATED) {
    stopped_error(realm->rt, &ev->err);
  } else if (rc != 0 && exc != NULL && (exc->message || exc->name)) {
    iso__error_from_exc(&ev->err, exc, ISO_JS_UNCAUGHT, rc);
  }
  microtasks_lost(realm, ev);
  return rc;
}

/* Takes the evaluated module's export, calls it if asked, and starts
 * awaiting the value. */
static void eval_take_export(iso_realm* realm, iso_eval* ev) {
  iso_rt* rt = realm->rt;
  v8s_ref ns = 0, value = 0, result = 0;
  v8s_exc exc = {0};
  enter_eval(rt, realm, ev);
  realm->current = ev->data;
  v8s_set_job_tag(rt->iso, realm->ctx, ev->tag);
  int rc = v8s_module_namespace(rt->iso, realm->ctx, ev->mod->ref, &ns);
  if (rc == 0) {
    rc = v8s_get(rt->iso, realm->ctx, ns, ev->export_name, &value, &exc);
  }
  if (rc == 0 && ev->call && v8s_kind(rt->iso, value) == V8S_FUNCTION) {
    if (ev->argv != NULL) {
      rc = v8s_call_jsonish(rt->iso, realm->ctx, value, ev->argc,
                            (const char* const*)ev->argv, &result, &exc);
    } else {
      rc = v8s_call_msgpack(rt->iso, realm->ctx, value, ev->args_mp,
                            ev->args_len, &result, &exc);
    }
    v8s_ref_free(rt->iso, value);
    value = result;
  } else if (rc == 0 && ev->call && strcmp(ev->export_name, "default") &&
             v8s_kind(rt->iso, value) == V8S_UNDEFINED) {
    iso__error_set(&ev->err, ISO_ENOENT, ISO_JS_UNCAUGHT, "TypeError",
                   "Module \"%s\" has no export named \"%s\"", ev->mod->url,
                   ev->export_name);
    rc = ISO_ENOENT;
  }
  int kind = rc == 0 ? v8s_kind(rt->iso, value) : 0;
  if (rc == 0 && kind != V8S_PROMISE && kind != V8S_OBJECT &&
      kind != V8S_FUNCTION) {
    ev->value = value; /* a primitive: nothing to await */
    value = 0;
    ev->state = EV_VALUE;
  } else if (rc == 0) {
    rc = v8s_to_promise(rt->iso, realm->ctx, value, &ev->promise);
    if (rc == 0) {
      forget_rejection(realm, ev->promise);
      ev->state = EV_AWAITING;
      /* a thenable's then() runs as a promise job: now, in this entry */
      rc = v8s_microtasks(rt->iso, realm->ctx);
    }
  }
  rc = eval_leave(realm, ev, rc, &exc);
  if (rc != 0) {
    ev->state = EV_FAILED;
  }
  v8s_exc_clear(&exc);
  v8s_ref_free(rt->iso, ns);
  v8s_ref_free(rt->iso, value);
}

/* Instantiates and evaluates a loaded graph (the seed's
 * mod_evaluate_inner). Returns 0 with *promise, or an error in *err.
 * With ev == NULL (a dynamic import), a stop fails the realm. */
static int instantiate_evaluate(iso_realm* realm,
                                iso_eval* ev,
                                iso_mod* m,
                                v8s_ref* promise,
                                iso_js_error* err) {
  iso_rt* rt = realm->rt;
  v8s_exc exc = {0};
  if (ev != NULL) {
    enter_eval(rt, realm, ev);
  } else {
    iso__rt_enter(rt, realm);
  }
  realm->current = ev != NULL ? ev->data : NULL;
  v8s_set_job_tag(rt->iso, realm->ctx, ev != NULL ? ev->tag : 0);
  int rc = v8s_module_instantiate(rt->iso, realm->ctx, m->ref, &exc);
  if (rc == 0) {
    rc = v8s_module_evaluate(rt->iso, realm->ctx, m->ref, promise, &exc);
  }
  if (rc == 0) {
    forget_rejection(realm, *promise);
    rc = v8s_microtasks(rt->iso, realm->ctx);
  }
  if (ev != NULL) {
    rc = eval_leave(realm, ev, rc, &exc);
  } else {
    realm->current = NULL;
    iso__rt_leave(rt, realm, rc, &exc);
    if (rc != 0 && rc != ISO_ETERMINATED) {
      iso__error_from_exc(err, &exc, ISO_JS_UNCAUGHT, rc);
    }
  }
  v8s_exc_clear(&exc);
  return rc;
}

/* Reads a settled promise: 0 fulfilled, ISO_EJS rejected (err filled). */
static int settled(iso_realm* realm,
                   iso_eval* ev,
                   v8s_ref promise,
                   int state,
                   iso_js_error* err) {
  if (state == V8S_FULFILLED) {
    return 0;
  }
  iso_rt* rt = realm->rt;
  v8s_ref reason = v8s_promise_result(rt->iso, promise);
  v8s_exc exc = {0};
  enter_eval(rt, realm, ev); /* reading .stack may run a getter */
  v8s_exc_from_value(rt->iso, realm->ctx, reason, &exc);
  iso__rt_leave(rt, NULL, 0, NULL);
  v8s_ref_free(rt->iso, reason);
  if (exc.terminated) {
    /* the reason's getters or traps ran past the deadline */
    v8s_exc_clear(&exc);
    stopped_error(rt, err);
    return ISO_ETERMINATED;
  }
  iso__error_from_exc(err, &exc, ISO_JS_UNCAUGHT, ISO_EJS);
  return ISO_EJS;
}

/* Reads the state of the evaluation's promise (the seed's
 * evaluate_pending_module); a rejection moves it to EV_FAILED. */
static int poll_promise(iso_realm* realm, iso_eval* ev) {
  int st = v8s_promise_state(realm->rt->iso, ev->promise);
  if (st == V8S_REJECTED) {
    settled(realm, ev, ev->promise, st, &ev->err);
    ev->state = EV_FAILED;
  }
  return st;
}

/* Moves one evaluation as far as it can go; returns 1 when finished (its
 * callback has been called). */
static int eval_step(iso_realm* realm, iso_eval* ev) {
  iso_rt* rt = realm->rt;
  for (;;) {
    if (ev->cancelled) {
      return 1;
    }
    if (realm->failed || realm->freed) {
      return 0;
    }
    switch (ev->state) {
      case EV_LOADING:
        if (!ev->load->done) {
          return 0;
        }
        if (ev->load->err.message != NULL) {
          ev->err = ev->load->err;
          memset(&ev->load->err, 0, sizeof(ev->load->err));
          ev->state = EV_FAILED;
        } else {
          ev->state = EV_READY;
        }
        iso__load_free(ev->load);
        ev->load = NULL;
        continue;
      case EV_READY:
        if (ev->mod->evaluated) {
          eval_take_export(realm, ev);
          continue;
        }
        if (instantiate_evaluate(realm, ev, ev->mod, &ev->promise, &ev->err) !=
            0) {
          ev->state = EV_FAILED;
          continue;
        }
        ev->state = EV_EVALUATING;
        continue;
      case EV_EVALUATING: {
        int st = poll_promise(realm, ev);
        if (st != V8S_FULFILLED) {
          if (st == V8S_PENDING) {
            return 0;
          }
          continue;
        }
        v8s_ref_free(rt->iso, ev->promise);
        ev->promise = 0;
        ev->mod->evaluated = 1;
        eval_take_export(realm, ev);
        continue;
      }
      case EV_AWAITING: {
        int st = poll_promise(realm, ev);
        if (st != V8S_FULFILLED) {
          if (st == V8S_PENDING) {
            return 0;
          }
          continue;
        }
        ev->value = v8s_promise_result(rt->iso, ev->promise);
        ev->state = EV_VALUE;
        continue;
      }
      case EV_VALUE: {
        v8s_ref value = ev->value;
        ev->value = 0;
        iso_buf mp; /* empty: the value is undefined */
        iso_buf_init(&mp);
        char err[512];
        int rc = 0;
        if (v8s_kind(rt->iso, value) != V8S_UNDEFINED) {
          enter_eval(rt, realm, ev); /* getters run JavaScript */
          rc = v8s_to_msgpack(rt->iso, realm->ctx, value, rt->value_max_bytes,
                              &mp, err, sizeof(err));
          int lrc = eval_leave(realm, ev, rc, NULL);
          if (lrc != rc) { /* made at the heap limit: not sent */
            rc = lrc;
          }
        }
        v8s_ref_free(rt->iso, value);
        if (rc != 0) {
          iso_buf_free(&mp);
        }
        if (rc == ISO_ETERMINATED) {
          ev->state = EV_FAILED;
          continue;
        }
        if (rc != 0) {
          iso__error_set(&ev->err, rc, ISO_JS_UNCAUGHT, "TypeError",
                         "The job's value cannot be sent: %s", err);
          ev->state = EV_FAILED;
          continue;
        }
        ev->cb(realm, ev->data, 0, mp.data, mp.len, NULL);
        iso_buf_free(&mp);
        return 1;
      }
      case EV_FAILED:
        if (ev->err.message == NULL) {
          iso__error_set(&ev->err, ISO_EINTERNAL, ISO_JS_PLAIN, "Error",
                         "evaluation failed");
        }
        ev->cb(realm, ev->data, ev->err.code ? ev->err.code : ISO_EJS, NULL, 0,
               &ev->err);
        return 1;
      default:
        return 0;
    }
  }
}

/* Removes ev, which *pp points to, from the realm's list. */
static void eval_unlink(iso_realm* realm, iso_eval** pp, iso_eval* ev) {
  *pp = ev->next;
  if (realm->evals_tail == ev) {
    realm->evals_tail = NULL;
    for (iso_eval* e = realm->evals; e != NULL; e = e->next) {
      realm->evals_tail = e;
    }
  }
}

/* The seed's evaluate_pending_module, for every evaluation in the realm. */
static void evaluate_pending_modules(iso_realm* realm) {
  iso_eval** pp = &realm->evals;
  while (*pp != NULL && !realm->failed && !realm->freed) {
    iso_eval* ev = *pp;
    if (eval_step(realm, ev)) {
      /* callbacks only append, so pp still leads to ev */
      eval_unlink(realm, pp, ev);
      eval_free(realm->rt, ev);
    } else {
      pp = &ev->next;
    }
  }
}

/* Settles a dynamic import's promise and runs the realm's microtasks in
 * one entry: resolving with a module namespace that exports `then` runs
 * that function, which the watchdog must be able to stop. A stop fails the
 * realm (iso__rt_leave). */
static void dyn_settle(iso_realm* realm,
                       iso_dyn* d,
                       const iso_js_error* err,
                       v8s_ref reason) {
  iso_rt* rt = realm->rt;
  iso__rt_enter(rt, realm);
  int rc;
  if (err != NULL) {
    rc = v8s_resolver_reject_msg(rt->iso, realm->ctx, d->resolver, err->name,
                                 err->message);
  } else if (reason != 0) {
    rc = v8s_resolver_reject(rt->iso, realm->ctx, d->resolver, reason);
  } else {
    v8s_ref ns = 0;
    d->mod->evaluated = 1;
    rc = v8s_module_namespace(rt->iso, realm->ctx, d->mod->ref, &ns);
    if (rc == 0) {
      rc = v8s_resolver_resolve(rt->iso, realm->ctx, d->resolver, ns);
    }
    v8s_ref_free(rt->iso, ns);
  }
  if (rc != ISO_ETERMINATED) {
    rc = v8s_microtasks(rt->iso, realm->ctx);
  }
  iso__rt_leave(rt, realm, rc == ISO_ETERMINATED ? rc : 0, NULL);
  iso__rt_wake(rt);
}

/* The seed's prepare/poll/evaluate_dyn_imports. */
static void evaluate_dyn_imports(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  iso_dyn** pp = &realm->dyns;
  while (*pp != NULL && !realm->failed && !realm->freed) {
    iso_dyn* d = *pp;
    /* settled below: with a load error, an evaluation error, the
     * evaluation's rejection, or (none of these) its namespace */
    int finished = 0;
    iso_js_error err = {0};
    v8s_ref reason = 0;
    if (d->state == DYN_PREPARING && d->load->done) {
      if (d->load->err.message != NULL) {
        err = d->load->err;
        memset(&d->load->err, 0, sizeof(d->load->err));
        finished = 1;
      } else {
        d->state = DYN_READY;
      }
      iso__load_free(d->load);
      d->load = NULL;
    }
    if (!finished && d->state == DYN_READY) {
      if (instantiate_evaluate(realm, NULL, d->mod, &d->promise, &err) != 0) {
        if (realm->failed || realm->freed) {
          iso_js_error_clear(&err);
          return;
        }
        finished = 1;
      } else {
        d->state = DYN_EVALUATING;
      }
    }
    if (!finished && d->state == DYN_EVALUATING) {
      int st = v8s_promise_state(rt->iso, d->promise);
      if (st == V8S_FULFILLED) {
        finished = 1;
      } else if (st == V8S_REJECTED) {
        reason = v8s_promise_result(rt->iso, d->promise);
        finished = 1;
      }
    }
    if (finished) {
      *pp = d->next;
      dyn_settle(realm, d, err.message != NULL ? &err : NULL, reason);
      iso_js_error_clear(&err);
      v8s_ref_free(rt->iso, reason);
      dyn_free(rt, d);
    } else {
      pp = &d->next;
    }
  }
}

/* The seed's check_promise_exceptions: the first unhandled rejection fails
 * the realm (a realm that survives its errors reports each of them). */
static void check_promise_exceptions(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  iso_rejection* r;
  while ((r = realm->pending_promise_exceptions) != NULL && !realm->failed &&
         !realm->freed) {
    realm->pending_promise_exceptions = r->next;
    v8s_exc exc = {0};
    iso__rt_enter(rt, realm);
    v8s_exc_from_value(rt->iso, realm->ctx, r->reason, &exc);
    iso__rt_leave(rt, NULL, 0, NULL);
    iso_js_error e = {0};
    iso__error_from_exc(&e, &exc, ISO_JS_IN_PROMISE, ISO_EJS);
    void* culprit = r->culprit;
    v8s_ref_free(rt->iso, r->promise);
    v8s_ref_free(rt->iso, r->reason);
    free(r);
    iso__realm_error(realm, culprit, &e);
  }
}

/* One tick of the event loop for one realm (the seed's poll_event_loop). */
static void realm_tick(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  check_promise_exceptions(realm);
  evaluate_dyn_imports(realm);
  check_promise_exceptions(realm);
  evaluate_pending_modules(realm);
  check_promise_exceptions(realm);
  if (realm->failed || realm->freed) {
    return;
  }
  /* unref'd timers and ops do not count (the seed's pending_unref_ops) */
  int has_pending_ops = realm->timer_refed || realm->pending_ops > 0;
  int has_pending_dyn_imports = has_dyn(realm, 0) || has_eval(realm, 0);
  int has_pending_dyn_module_evaluation = has_dyn(realm, 1);
  int has_pending_module_evaluation = has_eval(realm, 1);
  if (!has_pending_ops && !has_pending_dyn_imports &&
      !has_pending_dyn_module_evaluation && !has_pending_module_evaluation) {
    if (!realm->idle_notified) {
      realm->idle_notified = 1;
      if (realm->cbs.idle_cb != NULL) {
        realm->cbs.idle_cb(realm, realm->data);
      }
    }
    return;
  }
  if (has_pending_module_evaluation && !has_pending_ops &&
      !has_pending_dyn_imports && !has_pending_dyn_module_evaluation) {
    /* every evaluation still waiting fails with the seed's message */
    iso_eval** pp = &realm->evals;
    while (*pp != NULL && !realm->freed) {
      iso_eval* ev = *pp;
      if (!ev->cancelled &&
          (ev->state == EV_EVALUATING || ev->state == EV_AWAITING)) {
        iso__error_set(&ev->err, ISO_ESTALL, ISO_JS_PLAIN, "Error", "%s",
                       kModuleStall);
        ev->state = EV_FAILED;
        eval_step(realm, ev);
        eval_unlink(realm, pp, ev);
        eval_free(rt, ev);
      } else {
        pp = &ev->next;
      }
    }
    iso__rt_wake(rt);
    return;
  }
  if (has_pending_dyn_module_evaluation && !has_pending_ops &&
      !has_pending_dyn_imports) {
    iso_js_error e = {0};
    iso__error_set(&e, ISO_ESTALL, ISO_JS_PLAIN, "Error", "%s", kDynStall);
    iso__realm_error(realm, NULL, &e);
  }
}

void iso_rt_tick(iso_rt* rt) {
  if (rt->in_tick == 0 && uv_is_active((uv_handle_t*)&rt->idle)) {
    idle_cb(&rt->idle);
  }
}

static void idle_cb(uv_idle_t* h) {
  iso_rt* rt = h->data;
  uv_idle_stop(&rt->idle);
  rt->in_tick++;
  for (iso_realm* r = rt->realms; r != NULL; r = r->next) {
    if (!r->failed && !r->freed) {
      realm_tick(r);
    }
  }
  rt->in_tick--;
  if (rt->in_tick == 0) {
    iso_realm* r = rt->realms;
    while (r != NULL) {
      iso_realm* next = r->next;
      if (r->freed) {
        realm_release(r);
      }
      r = next;
    }
  }
  rearm_timer(rt);
}
