/* rt_realm.c: realms: one V8 context each, with the bootstrap prelude run
 * in it (by the startup snapshot it came from, or when it is made) and what the
 * seed keeps per program (struct iso_realm, rt_private.h).
 *
 * A realm is freed in two steps: iso_realm_free marks it (freed), and
 * while a tick or a callback walks the realm list (in_tick) the release
 * waits for the end of the tick (idle_cb, runtime.c), so a realm's own
 * callbacks may free it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_bootstrap.h"
#include "iso_err.h"
#include "rt_private.h"

int iso_realm_new(iso_rt* rt,
                  const iso_realm_cbs* cbs,
                  void* data,
                  iso_realm** out) {
  assert(iso__rt_on_thread(rt));
  iso_realm* realm = calloc(1, sizeof(*realm));
  if (realm == NULL) {
    return ISO_ENOMEM;
  }
  realm->rt = rt;
  realm->cbs = *cbs;
  realm->data = data;
  realm->timer_deadline = -1;
  realm->timer_refed = 0;
  /* the prelude run already, from the startup snapshot (hooks != 0), or
   * not (below) */
  v8s_ref hooks = 0;
  int rc = v8s_context_boot(rt->iso, realm, &realm->ctx, &hooks);
  if (rc != 0) {
    free(realm);
    return rc;
  }
  iso__rt_ops_realm_init(realm);
  realm->next = rt->realms;
  if (rt->realms != NULL) {
    rt->realms->prev = realm;
  }
  rt->realms = realm;
  v8s_exc exc = {0};
  if (hooks == 0) {
    /* the prelude is isopool's own: no deadline (a slow host, a sanitizer
     * build, must not fail a realm's start) */
    iso__rt_enter_until(rt, 0, NULL, 0);
    rc = v8s_execute_static(rt->iso, realm->ctx, "isopool:bootstrap",
                            iso_bootstrap_prelude, iso_bootstrap_prelude_len,
                            &hooks, &exc);
    iso__rt_leave(rt, NULL, rc, &exc);
  }
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
  if (rc == 0) {
    rc = v8s_get(rt->iso, realm->ctx, hooks, "unhandledRejections",
                 &realm->unhandled_hook, &exc);
  }
  if (rc == 0) {
    rc = v8s_get(rt->iso, realm->ctx, hooks, "rejectionsHandled",
                 &realm->handled_hook, &exc);
  }
  v8s_ref_free(rt->iso, hooks);
  if (rc != 0) {
    fprintf(stderr, "isopool: bootstrap failed: %s\n",
            exc.stack     ? exc.stack
            : exc.message ? exc.message
                          : "?");
    v8s_exc_close(&exc);
    realm->freed = 1;
    iso__rt_realm_free_now(realm);
    return rc;
  }
  *out = realm;
  return 0;
}

/* Frees the realm now; only when no tick is walking the realm list. */
void iso__rt_realm_free_now(iso_realm* realm) {
  iso_rt* rt = realm->rt;
  while (realm->evals != NULL) {
    rt_eval* ev = realm->evals;
    realm->evals = ev->next;
    iso__rt_eval_free(rt, ev);
  }
  realm->evals_tail = NULL;
  while (realm->dyns != NULL) {
    rt_dyn* d = realm->dyns;
    realm->dyns = d->next;
    iso__rt_dyn_free(rt, d);
  }
  iso__rt_rejections_free(rt, realm->pending_promise_exceptions);
  realm->pending_promise_exceptions = NULL;
  iso__rt_rejections_free(rt, realm->handled_rejections);
  realm->handled_rejections = NULL;
  iso__rt_modules_close(realm);
  for (unsigned i = 0; i < 4; i++) {
    free(realm->spec_cache[i].spec);
  }
  v8s_ref_free(rt->iso, realm->fire_timers);
  v8s_ref_free(rt->iso, realm->dispatch);
  v8s_ref_free(rt->iso, realm->resolve_ops);
  v8s_ref_free(rt->iso, realm->unhandled_hook);
  v8s_ref_free(rt->iso, realm->handled_hook);
  iso__rt_ops_realm_close(realm);
  v8s_context_free(rt->iso, realm->ctx);
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

void iso_realm_set_cbs(iso_realm* realm, const iso_realm_cbs* cbs, void* data) {
  assert(iso__rt_on_thread(realm->rt));
  realm->cbs = *cbs;
  realm->data = data;
}

void iso_realm_free(iso_realm* realm) {
  if (realm == NULL || realm->freed) {
    return;
  }
  assert(iso__rt_on_thread(realm->rt));
  iso__rt_ops_release(realm, 0); /* its fetches end with it */
  realm->freed = 1;
  realm->timer_deadline = -1;
  realm->timer_refed = 0;
  realm->platform_waits = 0;
  if (realm->rt->in_tick > 0) {
    iso__rt_wake(realm->rt); /* released at the end of the tick */
    return;
  }
  iso_rt* rt = realm->rt;
  iso__rt_realm_free_now(realm);
  iso__rt_timers_rearm(rt);
}

int iso_realm_dispatch(iso_realm* realm, const char* type) {
  assert(iso__rt_on_thread(realm->rt));
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

/* A pending, not cancelled evaluation of the realm by its tag. */
rt_eval* iso__rt_eval_by_tag(const iso_realm* realm, uint32_t tag) {
  for (rt_eval* ev = realm->evals; tag != 0 && ev != NULL; ev = ev->next) {
    if (ev->tag == tag) {
      return ev->cancelled ? NULL : ev;
    }
  }
  return NULL;
}

/* The evaluation's own JavaScript, or a promise continuation of it (its
 * job tag came along), while the evaluation is pending. */
void* iso_realm_current(const iso_realm* realm) {
  assert(iso__rt_on_thread(realm->rt));
  if (realm->current != NULL) {
    return realm->current;
  }
  rt_eval* ev = iso__rt_eval_by_tag(realm, v8s_job_tag(realm->rt->iso));
  return ev != NULL ? ev->data : NULL;
}

int iso_realm_broken(const iso_realm* realm) {
  assert(iso__rt_on_thread(realm->rt));
  return realm->broken;
}

int iso_realm_module_count(const iso_realm* realm) {
  assert(iso__rt_on_thread(realm->rt));
  int n = 0;
  for (const rt_mod* m = realm->modules; m != NULL; m = m->next) {
    n += m->state == MOD_COMPILED;
  }
  return n;
}

int iso_realm_has_module(iso_realm* realm, const char* specifier) {
  assert(iso__rt_on_thread(realm->rt));
  char* url = NULL;
  if (iso_rt_module_url(realm->rt, specifier, &url) != 0) {
    return 0;
  }
  int found = iso__rt_mod_find(realm, url) != NULL;
  free(url);
  return found;
}

void iso_realm_set_deadline(iso_realm* realm, uint64_t deadline_ns) {
  assert(iso__rt_on_thread(realm->rt));
  realm->deadline_ns = deadline_ns;
}
