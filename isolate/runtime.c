/* runtime.c: the runtime (an isolate, its handles, the host callbacks the
 * shim calls) and the event loop tick.
 *
 * The runtime's other files: rt_enter.c (entering and leaving
 * JavaScript, errors), rt_timers.c, rt_realm.c (realms), rt_eval.c
 * (evaluations, dynamic imports, and each realm's part of the tick),
 * rt_ops.c (the op bus), the module loader (rt_load.c, rt_resolve.c,
 * rt_pkg.c, rt_modules.c, rt_read.c), run.c (the run command);
 * rt_private.h holds what they share.
 *
 * DESIGN: one thread owns an iso_rt and drives it from its libuv loop.
 * Anything that changes what JavaScript can observe (a timer fired, a file
 * arrived, a dynamic import was asked for, an evaluation was submitted)
 * calls iso__rt_wake(), which starts a uv_idle handle; the idle callback
 * runs one tick, the seed's poll_event_loop, for every realm in order
 * (iso__rt_realm_tick, in rt_eval.c):
 *   ops (timers fire in their own uv_timer callback: the macrotasks),
 *   check promise exceptions, evaluate dynamic imports whose graph loaded
 *   or whose evaluation settled, check promise exceptions again, evaluate
 *   pending modules (watching each evaluation promise until it settles),
 *   then decide: nothing pending (idle_cb), still waiting, or stalled with
 *   the seed's messages.
 * A uv_idle makes the loop poll without blocking, so a tick runs in the
 * same loop iteration as the event that asked for it; the handle stops
 * itself, so an idle runtime does not spin.
 * V8's own work is pending work too, as Deno's loop counts V8's pending
 * background tasks: a task posted to run now and not run yet (the end of a
 * Wasm compilation, a FinalizationRegistry cleanup already due, an
 * Atomics.notify's resolution), a Wasm compilation on V8's threads, and a
 * realm's Atomics.waitAsync with a timeout (the prelude counts those, as
 * V8's timeout is a delayed task). Node's platform runs those tasks from
 * handles that do not keep the loop alive, so platform_hold does while
 * any is under way; each task V8 runs wakes the tick (task_leave). A
 * FinalizationRegistry whose targets live posts nothing and keeps nothing
 * alive. A retired runtime (iso_rt_retire: its owner let go of it and
 * frees it once its loop has turned) runs none of V8's tasks: they are
 * dropped unrun (task_enter), so no JavaScript runs where nothing watches.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "rt_private.h"

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
    rt_rejection* r = calloc(1, sizeof(*r));
    if (r == NULL) {
      return;
    }
    r->promise = v8s_ref_dup(rt->iso, promise);
    r->reason = v8s_ref_dup(rt->iso, reason);
    r->culprit = iso_realm_current(realm);
    /* append: the first rejection is the one reported */
    rt_rejection** pp = &realm->pending_promise_exceptions;
    while (*pp != NULL) {
      pp = &(*pp)->next;
    }
    *pp = r;
    iso__rt_wake(rt);
  } else if (event == V8S_HANDLER_ADDED_AFTER_REJECT) {
    iso__rt_rejection_handled(realm, promise);
  }
}

static void host_wait_ref(void* realm_p, int delta) {
  iso_realm* realm = realm_p;
  if (realm->failed || realm->freed) {
    return; /* its count was dropped */
  }
  if (delta > 0) {
    realm->platform_waits++;
  } else if (realm->platform_waits > 0) {
    realm->platform_waits--;
  }
  iso__rt_wake(realm->rt);
}

int iso__rt_platform_pending(iso_realm* realm) {
  return realm->platform_waits > 0 || v8s_isolate_pending_tasks(realm->rt->iso);
}

const char* iso_rt_condemned(const iso_rt* rt) {
  assert(iso__rt_on_thread(rt));
  return rt->condemned;
}

void iso_rt_retire(iso_rt* rt) {
  assert(iso__rt_on_thread(rt));
  rt->retired = 1;
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
  iso__rt_realm_error(realm, iso_realm_current(realm), &e);
  iso__rt_wake(realm->rt);
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
  rt->thread = pthread_self();
  if (pthread_getcpuclockid(rt->thread, &rt->cpu_clock) != 0) {
    rt->cpu_clock = (clockid_t)-1; /* CPU budgets are then not enforced */
  }
  pthread_mutex_init(&rt->run_lock, NULL);
  rt->root = realpath(opts->root ? opts->root : ".", NULL);
  if (rt->root == NULL) {
    free(rt);
    return ISO_ENOENT;
  }
  rt->host = (v8s_host){
      .resolve = iso__rt_host_resolve,
      .dyn_import = iso__rt_host_dyn_import,
      .import_meta = iso__rt_host_import_meta,
      .promise_reject = host_promise_reject,
      .uncaught = host_uncaught,
      .print = host_print,
      .timer_arm = iso__rt_host_timer_arm,
      .timer_job = iso__rt_host_timer_job,
      .op_sync = iso__rt_host_op_sync,
      .op_async = iso__rt_host_op_async,
      .op_ref = iso__rt_host_op_ref,
      .wait_ref = host_wait_ref,
      .near_heap_limit = host_near_heap_limit,
      .task_enter = iso__rt_host_task_enter,
      .task_leave = iso__rt_host_task_leave,
      .cjs_resolve = iso__rt_host_cjs_resolve,
      .cjs_read = iso__rt_host_cjs_read,
  };
  rt->heap_max_mb = opts->heap_max_mb;
  rt->import_map = opts->import_map;
  rt->background_ns = (uint64_t)opts->background_ms * 1000000u;
  rt->no_costs = opts->no_costs;
  rt->value_max_bytes = opts->value_max_bytes;
  iso__rt_ops_init(rt, opts);
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
    iso__rt_ops_close(rt);
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
  /* never sent: only its ref counts (idle_cb) */
  uv_async_init(rt->loop, &rt->platform_hold, NULL);
  uv_unref((uv_handle_t*)&rt->platform_hold);
  rt->platform_hold.data = rt;
  /* ref'd only while answers later than their batch are owed (rt_ops.c) */
  uv_async_init(rt->loop, &rt->late_async, iso__rt_ops_late_cb);
  uv_unref((uv_handle_t*)&rt->late_async);
  rt->late_async.data = rt;
  rt->handles_open = 5; /* timer, idle, op_flush, platform_hold, late_async */
  /* no global realm yet: iso_rt_execute makes it; a service's workers
   * never use one, and a context is about a third of a runtime's cost */
  *out = rt;
  return 0;
}

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
  assert(iso__rt_on_thread(rt));
  rt->freeing = 1;
  while (rt->realms != NULL) {
    iso_realm* r = rt->realms;
    r->freed = 1;
    iso__rt_realm_free_now(r);
  }
  rt->global = NULL;
  v8s_isolate_free(rt->iso);
  rt->iso = NULL;
  iso__rt_ops_close(rt);
  iso__rt_pkg_cache_free(rt);
  uv_close((uv_handle_t*)&rt->timer, handle_closed_cb);
  uv_close((uv_handle_t*)&rt->idle, handle_closed_cb);
  uv_close((uv_handle_t*)&rt->op_flush, handle_closed_cb);
  uv_close((uv_handle_t*)&rt->platform_hold, handle_closed_cb);
  uv_close((uv_handle_t*)&rt->late_async, handle_closed_cb);
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

int iso_rt_cpu_stop(iso_rt* rt, uint64_t* gen) {
  int hit = 0;
  pthread_mutex_lock(&rt->run_lock);
  /* each round while the entry runs on past it: the watchdog's WEDGED
   * rule counts from the first (a builtin that ignores stops) */
  if (rt->run.running && rt->run.cpu_left_ns != 0 &&
      rt->cpu_clock != (clockid_t)-1) {
    struct timespec ts;
    if (clock_gettime(rt->cpu_clock, &ts) == 0) {
      uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
      if (rt->run.cpu_base_ns == 0) {
        /* the first look at this entry: its CPU clock when it began, as
         * if the thread ran all the time since (no preemption in the
         * entry's first round at most: a little too early, never late) */
        uint64_t ran = uv_hrtime() - rt->run.since_ns;
        rt->run.cpu_base_ns = cpu > ran ? cpu - ran : 1;
      }
      if (cpu - rt->run.cpu_base_ns >= rt->run.cpu_left_ns) {
        rt->run.cpu_stop_gen = rt->run.gen;
        atomic_store(&rt->terminate_requested, 1);
        v8s_terminate(rt->iso);
        *gen = rt->run.gen;
        hit = 1;
      }
    }
  }
  pthread_mutex_unlock(&rt->run_lock);
  return hit;
}

void iso_rt_collect(iso_rt* rt) {
  assert(iso__rt_on_thread(rt));
  v8s_collect(rt->iso);
}

void iso_rt_heap(iso_rt* rt, size_t* used, size_t* limit) {
  assert(iso__rt_on_thread(rt));
  v8s_heap_stats(rt->iso, used, limit);
}

void iso_rt_memory(iso_rt* rt, size_t* used, size_t* committed) {
  assert(iso__rt_on_thread(rt));
  v8s_memory(rt->iso, used, committed);
}

void iso_rt_code_stats(iso_code_stats* out) {
  v8s_code_stats s;
  v8s_code_cache_stats(&s);
  *out = (iso_code_stats){.hits = s.hits,
                          .misses = s.misses,
                          .rejected = s.rejected,
                          .made = s.made,
                          .evicted = s.evicted,
                          .bytes = s.bytes,
                          .entries = s.entries,
                          .cached = s.cached,
                          .limit = s.limit,
                          .put = s.put,
                          .tag = s.tag};
}

void iso_rt_code_limit(size_t bytes) {
  v8s_code_cache_limit(bytes);
}

void iso_rt_code_export(int on) {
  v8s_code_cache_export(on);
}

int iso_rt_code_next_made(iso_code_entry_cb cb, void* arg) {
  return v8s_code_cache_next_made(cb, arg);
}

int iso_rt_code_put(const uint8_t* key,
                    size_t key_len,
                    const uint8_t* data,
                    size_t len) {
  return v8s_code_cache_put(key, key_len, data, len);
}

int iso_rt_module_url(iso_rt* rt, const char* specifier, char** url) {
  assert(iso__rt_on_thread(rt));
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
  return iso__rt_resolve(rt, spec, referrer, url, err, sizeof(err));
}

int iso_rt_execute(iso_rt* rt,
                   const char* name,
                   const char* source,
                   iso_js_error* err) {
  assert(iso__rt_on_thread(rt));
  if (rt->global == NULL) {
    int rc = iso_realm_new(rt, &(iso_realm_cbs){0}, NULL, &rt->global);
    if (rc != 0) {
      return rc;
    }
  }
  v8s_exc exc = {0};
  iso__rt_enter(rt, NULL);
  int rc = v8s_execute(rt->iso, rt->global->ctx, name, source, strlen(source),
                       NULL, &exc);
  iso__rt_leave(rt, NULL, rc, &exc);
  if (rc != 0 && err != NULL) {
    iso__rt_error_from_exc(err, &exc, ISO_JS_UNCAUGHT, rc);
  }
  v8s_exc_close(&exc);
  iso__rt_wake(rt);
  return rc;
}

/* ---- the tick ---- */

/* The loop waits for V8's work under way while a live realm could see it
 * land; every task V8 runs wakes the tick (task_leave), which looks
 * again. */
static void hold_for_platform(iso_rt* rt) {
  /* iso__rt_platform_pending for any live realm, with the isolate's part
   * (a mutex in V8 for its Wasm jobs) asked once a tick, not per realm */
  int live = 0, waits = 0;
  for (iso_realm* r = rt->realms; r != NULL && !waits; r = r->next) {
    if (!r->failed && !r->freed) {
      live = 1;
      waits = r->platform_waits > 0;
    }
  }
  if (waits || (live && v8s_isolate_pending_tasks(rt->iso))) {
    uv_ref((uv_handle_t*)&rt->platform_hold);
  } else {
    uv_unref((uv_handle_t*)&rt->platform_hold);
  }
}

static void idle_cb(uv_idle_t* h) {
  iso_rt* rt = h->data;
  uv_idle_stop(&rt->idle);
  rt->in_tick++;
  for (iso_realm* r = rt->realms; r != NULL; r = r->next) {
    if (!r->failed && !r->freed) {
      iso__rt_realm_tick(r);
    }
  }
  rt->in_tick--;
  rt->platform_task_ran = 0;
  if (rt->in_tick == 0) {
    iso_realm* r = rt->realms;
    while (r != NULL) {
      iso_realm* next = r->next;
      if (r->freed) {
        iso__rt_realm_free_now(r);
      }
      r = next;
    }
  }
  iso__rt_timers_rearm(rt);
  hold_for_platform(rt);
}

void iso__rt_wake(iso_rt* rt) {
  if (!rt->freeing && !uv_is_active((uv_handle_t*)&rt->idle)) {
    uv_idle_start(&rt->idle, idle_cb);
  }
}

void iso_rt_tick(iso_rt* rt) {
  assert(iso__rt_on_thread(rt));
  if (rt->in_tick == 0 && uv_is_active((uv_handle_t*)&rt->idle)) {
    idle_cb(&rt->idle);
  }
}
