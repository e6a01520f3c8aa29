/* rt_eval.c: evaluations (iso_realm_eval), dynamic imports, and each
 * realm's part of the event loop tick.
 *
 * An evaluation is a small state machine (EV_*, rt_private.h): its module
 * graph loads (rt_load.c); then ticks instantiate and evaluate it, await its
 * evaluation promise, take the export, call it when asked, await the
 * value and hand it to the callback as msgpack, or the error. A dynamic
 * import goes the same way as far as the module's namespace, which
 * settles the import's promise. iso__rt_realm_tick, at the end, is the
 * seed's poll_event_loop for one realm; runtime.c's DESIGN paragraph says
 * when it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "rt_private.h"

static const char kModuleStall[] =
    "Module evaluation is still pending but there are no pending ops or "
    "dynamic imports. This situation is often caused by unresolved promise.";
static const char kDynStall[] =
    "Dynamically imported module evaluation is still pending but there are "
    "no pending ops. This situation is often caused by unresolved promise.";

/* The seed removes the evaluation promise from pending_promise_exceptions:
 * the runtime reports its rejection itself. */
static void forget_rejection(iso_realm* realm, v8s_ref promise) {
  rt_rejection** pp = &realm->pending_promise_exceptions;
  while (*pp != NULL) {
    if (v8s_ref_same(realm->rt->iso, (*pp)->promise, promise)) {
      rt_rejection* r = *pp;
      *pp = r->next;
      r->next = NULL;
      iso__rt_rejections_free(realm->rt, r);
      return;
    }
    pp = &(*pp)->next;
  }
}

/* JavaScript entered for one evaluation: its own deadline, else the
 * realm's. */
static void enter_eval(iso_rt* rt, iso_realm* realm, rt_eval* ev) {
  iso__rt_enter_until(
      rt, ev->deadline_ns != 0 ? ev->deadline_ns : realm->deadline_ns, ev, 1);
}

int iso_realm_eval_stats(iso_realm* realm, void* data, iso_eval_stats* out) {
  assert(iso__rt_on_thread(realm->rt));
  for (const rt_eval* e = realm->evals; e != NULL; e = e->next) {
    if (e->data == data) {
      if (e == realm->rt->heap_owner) {
        /* its last entry's growth too; what C code allocates from here to
         * the next entry (the next call's arguments) goes to that entry's
         * evaluation (iso__rt_enter_until) */
        iso__rt_heap_flush(realm->rt);
        realm->rt->heap_owner = NULL;
        realm->rt->heap_between = 1;
      }
      *out = (iso_eval_stats){
          .cpu_ns = e->cpu_ns, .heap_bytes = e->heap_bytes, .ops = e->ops};
      return 0;
    }
  }
  return ISO_ENOENT;
}

void iso__rt_eval_free(iso_rt* rt, rt_eval* ev) {
  if (rt->charge == ev) {
    rt->charge = NULL; /* freed during its entry: charged to none */
  }
  if (rt->last_charge == ev) {
    rt->last_charge = NULL;
  }
  if (rt->heap_owner == ev) {
    rt->heap_owner = NULL; /* its growth since the last read goes to none */
  }
  iso__rt_load_free(ev->load);
  v8s_ref_free(rt->iso, ev->promise);
  v8s_ref_free(rt->iso, ev->value);
  iso_js_error_close(&ev->err);
  free(ev->export_name);
  free(ev->args_mp);
  for (int i = 0; i < ev->argc; i++) {
    free(ev->argv[i]);
  }
  free(ev->argv);
  free(ev);
}

void iso__rt_dyn_free(iso_rt* rt, rt_dyn* d) {
  iso__rt_load_free(d->load);
  v8s_ref_free(rt->iso, d->resolver);
  v8s_ref_free(rt->iso, d->promise);
  free(d);
}

int iso_realm_eval_cancel(iso_realm* realm, void* data) {
  assert(iso__rt_on_thread(realm->rt));
  int n = 0;
  for (rt_eval* e = realm->evals; e != NULL; e = e->next) {
    if (e->data == data && !e->cancelled) {
      e->cancelled = 1;
      /* its ops in flight are forgotten when they come back */
      realm->cancelled_tags[realm->cancelled_next++ % 16] = e->tag;
      iso__rt_ops_release(realm, e->tag); /* and its fetches end */
      n++;
    }
  }
  if (n > 0) {
    iso__rt_wake(realm->rt); /* the tick frees them */
  }
  return n;
}

int iso__rt_realm_tag_cancelled(const iso_realm* realm, uint32_t tag) {
  for (unsigned i = 0; tag != 0 && i < 16; i++) {
    if (realm->cancelled_tags[i] == tag) {
      return 1;
    }
  }
  return 0;
}

/* ---- evaluations ---- */

/* Appends, so evaluations finish in submission order when they can. */
static void eval_append(iso_realm* realm, rt_eval* ev) {
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
  assert(iso__rt_on_thread(realm->rt));
  if (realm->failed || realm->freed) {
    return ISO_ECLOSED;
  }
  iso_rt* rt = realm->rt;
  rt_eval* ev = calloc(1, sizeof(*ev));
  if (ev == NULL) {
    return ISO_ENOMEM;
  }
  ev->cb = cb;
  ev->data = data;
  ev->tag = ++realm->rt->next_tag ? realm->rt->next_tag : ++realm->rt->next_tag;
  ev->deadline_ns = o->deadline_ns;
  ev->cpu_budget_ns = (uint64_t)o->cpu_ms * 1000000;
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
      rt_mod* m = realm->spec_cache[i].mod;
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
    rc = s ? iso__rt_resolve(rt, s, "", &url, err, sizeof(err)) : ISO_ENOMEM;
    free(abs);
  }
  if (rc != 0 || url == NULL) {
    iso__rt_error_set(&ev->err, rc ? rc : ISO_ENOMEM, ISO_JS_PLAIN, "TypeError",
                      "%s", rc ? err : "out of memory");
    free(url);
    ev->state = EV_FAILED;
  } else {
    rt_mod* m = iso__rt_mod_find(realm, url);
    if (o->source != NULL && (m == NULL || m->state == MOD_FAILED)) {
      /* each module is compiled once per realm: a source only counts the
       * first time (or after it failed) */
      m = iso__rt_mod_get(realm, url, 0);
      if (m != NULL) {
        iso__rt_mod_set_source(realm, m, o->source, o->source_len);
      }
    } else if (m == NULL) {
      m = iso__rt_mod_get(realm, url, 0);
    }
    free(url);
    if (ev->state != EV_FAILED) {
      if (m == NULL && realm->nmods >= ISO_MOD_MAX) {
        iso__rt_error_set(&ev->err, ISO_ETOOBIG, ISO_JS_UNCAUGHT, "RangeError",
                          "this realm's module map is full (%d modules)",
                          ISO_MOD_MAX);
        ev->state = EV_FAILED;
      } else if (m == NULL) {
        iso__rt_error_set(&ev->err, ISO_ENOMEM, ISO_JS_PLAIN, "Error",
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
          ev->load = iso__rt_load_new(realm, m);
          ev->state = EV_LOADING;
          if (ev->load == NULL) {
            iso__rt_error_set(&ev->err, ISO_ENOMEM, ISO_JS_PLAIN, "Error",
                              "out of memory");
            ev->state = EV_FAILED;
          }
        }
      }
    }
  }
  eval_append(realm, ev);
  return 0;
}

/* Ends a JavaScript entry made for one evaluation: a stop (termination,
 * the heap limit) fails that evaluation, not its realm; a thrown value
 * becomes its error. Returns rc. */
static int eval_leave(iso_realm* realm, rt_eval* ev, int rc, v8s_exc* exc) {
  realm->current = NULL;
  v8s_set_job_tag(realm->rt->iso, realm->ctx, 0);
  iso_rt* rt = realm->rt;
  iso__rt_leave(rt, NULL, rc, exc);
  if (rc == 0 && rt->last_stop_oom) {
    /* it reached the heap limit and finished before the stop took (one
     * large allocation, a builtin that ignores the stop): its value was
     * made above the limit, so it fails like a stopped one */
    rc = ISO_ETERMINATED;
  }
  if (!rt->last_stop_oom && ev->cpu_budget_ns != 0 &&
      ev->cpu_ns >= ev->cpu_budget_ns) {
    /* past its CPU budget, stopped or finished before the stop came: it
     * fails as a stopped one, whatever it made */
    rt->last_stop_cpu = 1;
    rt->last_cpu_budget_ns = ev->cpu_budget_ns;
    rt->last_cpu_used_ns = ev->cpu_ns;
    rc = ISO_ETERMINATED;
  }
  if (rc == ISO_ETERMINATED) {
    iso__rt_stopped_error(realm->rt, &ev->err);
  } else if (rc != 0 && exc != NULL && (exc->message || exc->name)) {
    iso__rt_error_from_exc(&ev->err, exc, ISO_JS_UNCAUGHT, rc);
  }
  iso__rt_microtasks_lost(realm, ev);
  return rc;
}

/* Takes the evaluated module's export, calls it if asked, and starts
 * awaiting the value. */
static void eval_take_export(iso_realm* realm, rt_eval* ev) {
  iso_rt* rt = realm->rt;
  v8s_ref value = 0, result = 0;
  v8s_exc exc = {0};
  enter_eval(rt, realm, ev);
  realm->current = ev->data;
  v8s_set_job_tag(rt->iso, realm->ctx, ev->tag);
  rt_mod* m = ev->mod;
  if (m->key_name == NULL || strcmp(m->key_name, ev->export_name) != 0) {
    v8s_ref_free(rt->iso, m->key);
    m->key = 0;
    free(m->key_name);
    m->key_name = strdup(ev->export_name);
  }
  int rc = m->key_name != NULL
               ? v8s_module_get(rt->iso, realm->ctx, m->ref, ev->export_name,
                                &m->key, &value, &exc)
               : ISO_ENOMEM;
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
    iso__rt_error_set(&ev->err, ISO_ENOENT, ISO_JS_UNCAUGHT, "TypeError",
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
  v8s_exc_close(&exc);
  v8s_ref_free(rt->iso, value);
}

/* Instantiates and evaluates a loaded graph (the seed's
 * mod_evaluate_inner). Returns 0 with *promise, or an error in *err.
 * With ev == NULL (a dynamic import), a stop fails the realm. */
static int instantiate_evaluate(iso_realm* realm,
                                rt_eval* ev,
                                rt_mod* m,
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
      iso__rt_error_from_exc(err, &exc, ISO_JS_UNCAUGHT, rc);
    }
  }
  v8s_exc_close(&exc);
  return rc;
}

/* Reads a settled promise: 0 fulfilled, ISO_EJS rejected (err filled). */
static int settled(iso_realm* realm,
                   rt_eval* ev,
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
    v8s_exc_close(&exc);
    iso__rt_stopped_error(rt, err);
    return ISO_ETERMINATED;
  }
  iso__rt_error_from_exc(err, &exc, ISO_JS_UNCAUGHT, ISO_EJS);
  return ISO_EJS;
}

/* Reads the state of the evaluation's promise (the seed's
 * evaluate_pending_module); a rejection moves it to EV_FAILED. */
static int poll_promise(iso_realm* realm, rt_eval* ev) {
  int st = v8s_promise_state(realm->rt->iso, ev->promise);
  if (st == V8S_REJECTED) {
    settled(realm, ev, ev->promise, st, &ev->err);
    ev->state = EV_FAILED;
  }
  return st;
}

/* Moves one evaluation as far as it can go; returns 1 when finished (its
 * callback has been called). */
static int eval_step(iso_realm* realm, rt_eval* ev) {
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
        iso__rt_load_free(ev->load);
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
        int kind = v8s_kind(rt->iso, value);
        /* an object's getters and toJSON run JavaScript, entered as the
         * evaluation's; a primitive's conversion runs none, and so skips
         * the entry (its clock reads and locks, on every call's path) */
        int js = kind != V8S_NULL && kind != V8S_OTHER;
        if (kind != V8S_UNDEFINED) {
          if (js) {
            enter_eval(rt, realm, ev);
          }
          rc = v8s_to_msgpack(rt->iso, realm->ctx, value, rt->value_max_bytes,
                              &mp, err, sizeof(err));
          int lrc = js ? eval_leave(realm, ev, rc, NULL) : rc;
          if (lrc != rc) { /* made at the heap limit: not sent */
            rc = lrc;
          }
        }
        v8s_ref_free(rt->iso, value);
        if (rc != 0) {
          iso_buf_close(&mp);
        }
        if (rc == ISO_ETERMINATED) {
          ev->state = EV_FAILED;
          continue;
        }
        if (rc != 0) {
          iso__rt_error_set(&ev->err, rc, ISO_JS_UNCAUGHT, "TypeError",
                            "The job's value cannot be sent: %s", err);
          ev->state = EV_FAILED;
          continue;
        }
        ev->cb(realm, ev->data, 0, mp.data, mp.len, NULL);
        iso_buf_close(&mp);
        return 1;
      }
      case EV_FAILED:
        if (ev->err.message == NULL) {
          iso__rt_error_set(&ev->err, ISO_EINTERNAL, ISO_JS_PLAIN, "Error",
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
static void eval_unlink(iso_realm* realm, rt_eval** pp, rt_eval* ev) {
  *pp = ev->next;
  if (realm->evals_tail == ev) {
    realm->evals_tail = NULL;
    for (rt_eval* e = realm->evals; e != NULL; e = e->next) {
      realm->evals_tail = e;
    }
  }
}

/* The seed's evaluate_pending_module, for every evaluation in the realm. */
static void evaluate_pending_modules(iso_realm* realm) {
  rt_eval** pp = &realm->evals;
  while (*pp != NULL && !realm->failed && !realm->freed) {
    rt_eval* ev = *pp;
    if (eval_step(realm, ev)) {
      /* callbacks only append, so pp still leads to ev */
      eval_unlink(realm, pp, ev);
      iso__rt_eval_free(realm->rt, ev);
    } else {
      pp = &ev->next;
    }
  }
}

/* ---- dynamic imports ---- */

/* Settles a dynamic import's promise and runs the realm's microtasks in
 * one entry: resolving with a module namespace that exports `then` runs
 * that function, which the watchdog must be able to stop. A stop fails the
 * realm (iso__rt_leave). */
static void dyn_settle(iso_realm* realm,
                       rt_dyn* d,
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
  rt_dyn** pp = &realm->dyns;
  while (*pp != NULL && !realm->failed && !realm->freed) {
    rt_dyn* d = *pp;
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
      iso__rt_load_free(d->load);
      d->load = NULL;
    }
    if (!finished && d->state == DYN_READY) {
      if (instantiate_evaluate(realm, NULL, d->mod, &d->promise, &err) != 0) {
        if (realm->failed || realm->freed) {
          iso_js_error_close(&err);
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
      iso_js_error_close(&err);
      v8s_ref_free(rt->iso, reason);
      iso__rt_dyn_free(rt, d);
    } else {
      pp = &d->next;
    }
  }
}

/* ---- the realm's tick ---- */

static int has_dyn(const iso_realm* r, int evaluating) {
  for (const rt_dyn* d = r->dyns; d != NULL; d = d->next) {
    if ((d->state == DYN_EVALUATING) == (evaluating != 0)) {
      return 1;
    }
  }
  return 0;
}

static int has_eval(const iso_realm* r, int evaluating) {
  for (const rt_eval* e = r->evals; e != NULL; e = e->next) {
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

/* ---- promise rejections ---- */

void iso__rt_rejections_free(iso_rt* rt, rt_rejection* r) {
  while (r != NULL) {
    rt_rejection* next = r->next;
    v8s_ref_free(rt->iso, r->promise);
    v8s_ref_free(rt->iso, r->reason);
    free(r);
    r = next;
  }
}

void iso__rt_rejection_handled(iso_realm* realm, v8s_ref promise) {
  iso_rt* rt = realm->rt;
  for (rt_rejection** pp = &realm->pending_promise_exceptions; *pp != NULL;
       pp = &(*pp)->next) {
    if (v8s_ref_same(rt->iso, (*pp)->promise, promise)) {
      /* handled before the end of its tick: nothing to tell */
      rt_rejection* r = *pp;
      *pp = r->next;
      r->next = NULL;
      iso__rt_rejections_free(rt, r);
      return;
    }
  }
  if (realm->failed || realm->freed) {
    return;
  }
  /* an unhandledrejection event may have been dispatched for it (the
   * prelude knows): kept newest first, told in order */
  rt_rejection* r = calloc(1, sizeof(*r));
  if (r == NULL) {
    return;
  }
  r->promise = v8s_ref_dup(rt->iso, promise);
  r->next = realm->handled_rejections;
  realm->handled_rejections = r;
  iso__rt_wake(rt);
}

/* At most this many rejections go to one call of a prelude hook. */
#define REJECTION_BATCH 64

/* Calls one of the prelude's rejection hooks (unhandledRejections,
 * rejectionsHandled) with argv, under the realm's deadline. In the name
 * of `culprit` (NULL: none) while it is a pending evaluation, as the
 * JavaScript that rejected was: the listeners' output, errors and
 * continuations are that evaluation's. What the hook lets through, or a
 * stop, is an error of the realm (iso__rt_leave_hook). Returns 0 and
 * *out (unless NULL; the caller frees it), or the hook's error code. */
static int call_rejection_hook(iso_realm* realm,
                               v8s_ref hook,
                               void* culprit,
                               int argc,
                               const v8s_ref* argv,
                               v8s_ref* out) {
  iso_rt* rt = realm->rt;
  rt_eval* ev = NULL;
  for (rt_eval* e = realm->evals; culprit != NULL && e != NULL; e = e->next) {
    if (e->data == culprit && !e->cancelled) {
      ev = e;
      break;
    }
  }
  v8s_exc exc = {0};
  iso__rt_enter(rt, realm);
  realm->current = ev != NULL ? ev->data : NULL;
  v8s_set_job_tag(rt->iso, realm->ctx, ev != NULL ? ev->tag : 0);
  int rc = v8s_call(rt->iso, realm->ctx, hook, argc, argv, out, &exc);
  realm->current = NULL;
  v8s_set_job_tag(rt->iso, realm->ctx, 0);
  return iso__rt_leave_hook(rt, realm, rc, &exc);
}

/* The seed's report of an unhandled rejection: its reason as an error of
 * the realm, "Uncaught (in promise) ...", blamed on its culprit. Takes r. */
static void report_rejection(iso_realm* realm, rt_rejection* r) {
  iso_rt* rt = realm->rt;
  v8s_exc exc = {0};
  iso__rt_enter(rt, realm); /* reading .stack may run a getter */
  v8s_exc_from_value(rt->iso, realm->ctx, r->reason, &exc);
  iso__rt_leave(rt, NULL, 0, NULL);
  iso_js_error e = {0};
  iso__rt_error_from_exc(&e, &exc, ISO_JS_IN_PROMISE, ISO_EJS);
  void* culprit = r->culprit;
  iso__rt_rejections_free(rt, r);
  iso__rt_realm_error(realm, culprit, &e);
}

/* The promises that got a handler since the last check: the prelude
 * dispatches "rejectionhandled" for those it dispatched
 * "unhandledrejection" for. */
static void notify_handled(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  rt_rejection* list = NULL; /* in the order they were handled */
  while (realm->handled_rejections != NULL) {
    rt_rejection* r = realm->handled_rejections;
    realm->handled_rejections = r->next;
    r->next = list;
    list = r;
  }
  while (list != NULL && !realm->failed && !realm->freed) {
    v8s_ref argv[REJECTION_BATCH];
    int n = 0;
    rt_rejection* last = list;
    for (rt_rejection* r = list; r != NULL && n < REJECTION_BATCH;
         r = r->next) {
      argv[n++] = r->promise;
      last = r;
    }
    rt_rejection* rest = last->next;
    last->next = NULL;
    int rc =
        call_rejection_hook(realm, realm->handled_hook, NULL, n, argv, NULL);
    iso__rt_rejections_free(rt, list);
    list = rest;
    if (rc != 0) {
      break; /* reported (iso__rt_leave_hook) */
    }
  }
  iso__rt_rejections_free(rt, list);
}

/* The seed's check_promise_exceptions, with the web's events first, as in
 * Deno: the tick's unhandled rejections go to the prelude's
 * unhandledRejections, which dispatches an "unhandledrejection"
 * PromiseRejectionEvent on globalThis for each in turn up to the first
 * that no listener canceled; that one is an error of the realm, which
 * fails it (a realm that survives its errors reports it, and the rest go
 * to the hook in turn). A canceled one is no error: the program goes on.
 * Rejections of one culprit go to one call (the listeners' microtasks run
 * after the last event, as in Deno). Before them, the promises handled
 * late (notify_handled), as Deno orders the two. */
static void check_promise_exceptions(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  if (realm->failed || realm->freed) {
    return;
  }
  notify_handled(realm);
  rt_rejection* batch = realm->pending_promise_exceptions;
  realm->pending_promise_exceptions = NULL; /* new ones go there */
  while (batch != NULL && !realm->failed && !realm->freed) {
    v8s_ref argv[2 * REJECTION_BATCH];
    int n = 0;
    for (rt_rejection* r = batch;
         r != NULL && n < REJECTION_BATCH && r->culprit == batch->culprit;
         r = r->next) {
      argv[2 * n] = r->promise;
      argv[2 * n + 1] = r->reason; /* 0 (none) is undefined */
      n++;
    }
    v8s_ref first = 0; /* the first one not canceled, or undefined */
    int rc = call_rejection_hook(realm, realm->unhandled_hook, batch->culprit,
                                 2 * n, argv, &first);
    if (rc != 0) {
      /* stopped, or the hook let an exception through: reported as such
       * (iso__rt_leave_hook), not the rejections */
      v8s_ref_free(rt->iso, first);
      break;
    }
    rt_rejection* loud = NULL;
    for (int i = 0; i < n && loud == NULL; i++) {
      rt_rejection* r = batch;
      batch = r->next;
      r->next = NULL;
      if (v8s_ref_same(rt->iso, r->promise, first)) {
        loud = r;
      } else {
        iso__rt_rejections_free(rt, r); /* canceled */
      }
    }
    v8s_ref_free(rt->iso, first);
    if (loud != NULL) {
      report_rejection(realm, loud);
    }
  }
  iso__rt_rejections_free(rt, batch);
}

/* An eval job's realm whose evaluation passed 90% of its CPU budget gets
 * a `cpulimitwarning` Event on globalThis (as Supabase's edge runtime
 * dispatches `beforeunload` before its CPU limit), once, at its next tick:
 * a listener runs when the job's JavaScript yields, under its budget. A
 * warm realm's globalThis is every call's, so there is none there. */
static void warn_cpu(iso_realm* realm) {
  if (realm->cbs.job_error_cb != NULL) {
    return;
  }
  for (rt_eval* ev = realm->evals; ev != NULL; ev = ev->next) {
    if (ev->cpu_warn == 1 && !ev->cancelled &&
        (ev->state == EV_EVALUATING || ev->state == EV_AWAITING)) {
      ev->cpu_warn = 2;
      iso_realm_dispatch(realm, "cpulimitwarning");
      return;
    }
  }
}

/* One tick of the event loop for one realm (the seed's poll_event_loop). */
void iso__rt_realm_tick(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  warn_cpu(realm);
  if (realm->failed || realm->freed) {
    return;
  }
  if (rt->platform_task_ran) {
    /* a task of V8's may have settled promises of the realm (a Wasm
     * compilation, an Atomics.notify) or queued promise jobs from its
     * FinalizationRegistry callback: they run before the tick looks at
     * what is pending */
    v8s_exc exc = {0};
    iso__rt_enter(rt, realm);
    int rc = v8s_microtasks(rt->iso, realm->ctx);
    iso__rt_leave_hook(rt, realm, rc, &exc);
  }
  check_promise_exceptions(realm);
  evaluate_dyn_imports(realm);
  check_promise_exceptions(realm);
  evaluate_pending_modules(realm);
  check_promise_exceptions(realm);
  if (realm->failed || realm->freed) {
    return;
  }
  /* unref'd timers and ops do not count (the seed's pending_unref_ops);
   * V8's own work under way does (Deno's has_pending_background_tasks) */
  int has_pending_ops = realm->timer_refed || realm->pending_ops > 0 ||
                        iso__rt_platform_pending(realm);
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
    rt_eval** pp = &realm->evals;
    while (*pp != NULL && !realm->freed) {
      rt_eval* ev = *pp;
      if (!ev->cancelled &&
          (ev->state == EV_EVALUATING || ev->state == EV_AWAITING)) {
        iso__rt_error_set(&ev->err, ISO_ESTALL, ISO_JS_PLAIN, "Error", "%s",
                          kModuleStall);
        ev->state = EV_FAILED;
        eval_step(realm, ev);
        eval_unlink(realm, pp, ev);
        iso__rt_eval_free(rt, ev);
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
    iso__rt_error_set(&e, ISO_ESTALL, ISO_JS_PLAIN, "Error", "%s", kDynStall);
    iso__rt_realm_error(realm, NULL, &e);
  }
}
