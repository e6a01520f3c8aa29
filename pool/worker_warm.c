/* worker_warm.c: a worker thread's warm realms: call jobs run in the one
 * for their module and permission set, kept across calls (up to
 * POOL_MAX_WARM), so a module is evaluated once, not per call.
 *
 * Each module has realms of its own, one per permission set: no other
 * module's code can see or change its globals, its prototypes or its
 * calls' arguments, and code never runs with another set's permissions.
 * A set is told apart by what it grants (iso_perms_equal), and the worker
 * keeps each set the front sent under its id (worker_task.c), so a set
 * sent once serves every later call with that id and its warm realm
 * keeps its identity. Thread: the runner's, all of it.
 */
#include <stdlib.h>
#include <string.h>

#include "worker_private.h"

/* Frees a warm slot's realm and what identifies it. */
static void warm_clear(pool_warm* s) {
  iso_realm_free(s->realm);
  iso_perms_unref(s->perms);
  free(s->module);
  free(s->spec);
  *s = (pool_warm){0};
}

static void warm_log_cb(iso_realm* realm,
                        void* data,
                        const char* level,
                        const char* text,
                        size_t len) {
  pool_task* t = iso_realm_current(realm);
  if (t != NULL) {
    pool__task_log(t, level, text, len);
    return;
  }
  /* output of code a call left running after it ended has no job to go
   * to: it is kept out of the service's log unless asked (--log-jobs) */
  pool_runner* w = data;
  if (w->o.log_jobs) {
    pool__logf(&w->o.log, "info", "worker %d: job output: %s: %.*s", w->id,
               level, (int)len, text);
  }
}

static void warm_error_cb(iso_realm* realm,
                          void* data,
                          const iso_js_error* err) {
  pool_runner* w = data;
  /* the warm realm is dead (it survives JavaScript errors, so this is the
   * runtime giving up on it): its pending calls fail, the next call gets
   * a fresh realm */
  pool__tasks_fail_realm(w, realm, err);
  pool__logf(&w->o.log, "warn",
             "worker %d: the warm realm failed (%s); starting a new one", w->id,
             err->message);
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    if (w->warm[i].realm == realm) {
      warm_clear(&w->warm[i]);
    }
  }
}

/* An error in the warm realm: the call whose JavaScript caused it is
 * rejected (even if it already returned: it has not been answered until the
 * loop iteration ends); one nobody can be blamed for goes to the log. */
static void warm_job_error_cb(iso_realm* realm,
                              void* data,
                              void* culprit,
                              const iso_js_error* err) {
  pool_runner* w = data;
  if (culprit != NULL && pool__task_blame(w, culprit, err)) {
    return;
  }
  char* text = iso_js_error_format(err);
  pool__logf(&w->o.log, "warn", "worker %d: %s", w->id,
             text ? text : err->message);
  free(text);
}

static const iso_realm_cbs kWarmCbs = {
    .log_cb = warm_log_cb,
    .error_cb = warm_error_cb,
    .job_error_cb = warm_job_error_cb,
};

/* Up to POOL_MAX_WARM per worker; a new one replaces the least recently
 * used idle one. */
/* The slot's specifier becomes spec (kept as it was when out of memory:
 * the next call resolves again). */
static void warm_name(pool_warm* s, const char* spec) {
  if (s->spec != NULL && strcmp(s->spec, spec) == 0) {
    return;
  }
  char* copy = strdup(spec);
  if (copy != NULL) {
    free(s->spec);
    s->spec = copy;
  }
}

iso_realm* pool__warm_by_spec(pool_runner* w,
                              iso_perms* perms,
                              const char* spec) {
  assert(pool__on_worker(w));
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->realm != NULL && s->spec != NULL && !s->stale &&
        strcmp(s->spec, spec) == 0 && iso_perms_equal(s->perms, perms) &&
        !iso_realm_broken(s->realm)) {
      s->used = ++w->warm_clock;
      return s->realm;
    }
  }
  return NULL;
}

iso_realm* pool__warm_for(pool_runner* w,
                          iso_perms* perms,
                          const char* module,
                          const char* spec) {
  assert(pool__on_worker(w));
  pool_warm* empty = NULL;
  pool_warm* lru = NULL; /* the least recently used idle realm */
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->realm == NULL) {
      empty = empty != NULL ? empty : s;
    } else if (s->stale || iso_realm_broken(s->realm)) {
      /* dropped by a reload, or a stop lost its promise jobs: it only
       * finishes its calls */
      s->stale = 1;
      continue;
    } else if (iso_perms_equal(s->perms, perms) &&
               strcmp(s->module, module) == 0) {
      s->used = ++w->warm_clock;
      warm_name(s, spec);
      return s->realm;
    } else if ((lru == NULL || s->used < lru->used) &&
               !pool__task_busy(w, s->realm)) {
      lru = s;
    }
  }
  pool_warm* slot = empty != NULL ? empty : lru;
  if (slot == NULL) {
    return NULL;
  }
  warm_clear(slot);
  slot->module = strdup(module);
  if (slot->module != NULL && w->ready_realm != NULL) {
    /* made in advance by the spare it came with (worker.c) */
    slot->realm = w->ready_realm;
    w->ready_realm = NULL;
    iso_realm_set_cbs(slot->realm, &kWarmCbs, w);
  } else if (slot->module == NULL ||
             iso_realm_new(w->rt, &kWarmCbs, w, &slot->realm) != 0) {
    warm_clear(slot);
    return NULL;
  }
  iso_realm_set_perms(slot->realm, perms);
  slot->perms = iso_perms_ref(perms);
  slot->used = ++w->warm_clock;
  warm_name(slot, spec);
  return slot->realm;
}

int pool__warm_is(const pool_runner* w, const iso_realm* realm) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    if (w->warm[i].realm != NULL && w->warm[i].realm == realm) {
      return 1;
    }
  }
  return 0;
}

void pool__warm_deadlines(pool_runner* w) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    iso_realm* warm = w->warm[i].realm;
    if (warm == NULL) {
      continue;
    }
    uint64_t d = 0;
    for (pool_task* t = w->active; t != NULL; t = t->anext) {
      uint64_t td = t->deadline_ns;
      if (t->realm == warm && !t->settled && td != 0 && (d == 0 || td < d)) {
        d = td;
      }
    }
    iso_realm_set_deadline(warm, d);
  }
}

void pool__warm_free_stale(pool_runner* w) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->stale && s->realm != NULL && !pool__task_busy(w, s->realm)) {
      warm_clear(s);
    }
  }
}

/* RELOAD (poolctl reload): the next calls load their modules again. */
int pool__warm_reload(pool_runner* w, const char* spec) {
  assert(pool__on_worker(w));
  int dropped = 0;
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    pool_warm* s = &w->warm[i];
    if (s->realm != NULL && !s->stale &&
        (spec[0] == '\0' || iso_realm_has_module(s->realm, spec))) {
      s->stale = 1;
      dropped++;
    }
  }
  pool__warm_free_stale(w);
  return dropped;
}

int pool__warm_modules(const pool_runner* w) {
  int modules = 0;
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    if (w->warm[i].realm != NULL && !w->warm[i].stale) {
      modules += iso_realm_module_count(w->warm[i].realm);
    }
  }
  return modules;
}

void pool__warm_free_all(pool_runner* w) {
  for (int i = 0; i < POOL_MAX_WARM; i++) {
    warm_clear(&w->warm[i]);
  }
}
