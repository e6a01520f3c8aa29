/* rt_load.c: the asynchronous, recursive module loader, and V8's host
 * callbacks for imports.
 *
 * A load (rt_load, rt_private.h: the seed's load_main_module, or a
 * dynamic import's preparation) visits a module graph: each record not
 * compiled yet is read (rt_read.c) and compiled when its source arrives
 * (rt_modules.c); its static imports are then visited by every load
 * waiting on it, so diamonds share records and cycles end at records
 * already visited. A load finishes when every record it visited is
 * compiled, or at the first failure; its owner (an evaluation or a
 * dynamic import, rt_eval.c) sees load->done in the next tick. At most
 * MAX_PENDING_DYN dynamic imports are in flight per realm. The loader's
 * other files: rt_resolve.c (specifiers to URLs), rt_modules.c (the
 * module map), rt_read.c (file reads).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_bootstrap.h"
#include "iso_err.h"
#include "rt_private.h"

/* dynamic imports in flight per realm: each holds C memory (a load, a
 * record's waiter) until the next tick sees it */
#define MAX_PENDING_DYN 10000

/* ---- loads ---- */

static void load_finish(rt_load* load) {
  if (!load->done && load->pending == 0) {
    load->done = 1;
    iso__rt_wake(load->realm->rt);
  }
}

static void load_fail(rt_load* load, iso_js_error* err) {
  if (load->done) {
    iso_js_error_close(err);
    return;
  }
  load->err = *err;
  memset(err, 0, sizeof(*err));
  load->done = 1;
  iso__rt_wake(load->realm->rt);
}

/* load->visited is a set of records: open addressing over capvisited
 * slots (a power of two, at most half full; NULL is an empty slot), so a
 * graph whose modules import one another many times is visited in linear
 * time. */
static size_t slot_of(const rt_mod* m, size_t cap) {
  uint64_t x = (uint64_t)(uintptr_t)m;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull; /* a 64-bit mix (murmur3's finaliser) */
  x ^= x >> 33;
  return (size_t)x & (cap - 1);
}

static int visited(const rt_load* load, const rt_mod* m) {
  if (load->capvisited == 0) {
    return 0;
  }
  size_t mask = load->capvisited - 1;
  for (size_t i = slot_of(m, load->capvisited);; i = (i + 1) & mask) {
    if (load->visited[i] == m) {
      return 1;
    }
    if (load->visited[i] == NULL) {
      return 0;
    }
  }
}

/* Adds m (not in the set yet). Returns 0 or ISO_ENOMEM. */
static int visit_add(rt_load* load, rt_mod* m) {
  if (2 * (load->nvisited + 1) > load->capvisited) {
    size_t cap = load->capvisited ? load->capvisited * 2 : 16;
    rt_mod** n = calloc(cap, sizeof(*n));
    if (n == NULL) {
      return ISO_ENOMEM;
    }
    for (size_t i = 0; i < load->capvisited; i++) {
      rt_mod* v = load->visited[i];
      if (v != NULL) {
        size_t j = slot_of(v, cap);
        while (n[j] != NULL) {
          j = (j + 1) & (cap - 1);
        }
        n[j] = v;
      }
    }
    free(load->visited);
    load->visited = n;
    load->capvisited = cap;
  }
  size_t j = slot_of(m, load->capvisited);
  while (load->visited[j] != NULL) {
    j = (j + 1) & (load->capvisited - 1);
  }
  load->visited[j] = m;
  load->nvisited++;
  return 0;
}

static void load_visit(rt_load* load,
                       rt_mod* m,
                       const char* importer,
                       const char* specifier);

/* m's request i resolved (*url, the caller frees): once per record, kept
 * in m->urls for the next load that visits it and for V8's link step
 * (iso__rt_host_resolve). A failure is not kept: the next try resolves
 * again. */
static int resolve_request(iso_realm* realm,
                           rt_mod* m,
                           size_t i,
                           char** url,
                           char* err,
                           size_t errlen) {
  if (m->urls != NULL && m->urls[i] != NULL) {
    *url = strdup(m->urls[i]);
    if (*url == NULL) {
      snprintf(err, errlen, "out of memory");
      return ISO_ENOMEM;
    }
    return 0;
  }
  int rc =
      iso__rt_resolve(realm->rt, m->req.specifier[i], m->url, url, err, errlen);
  if (rc == 0 && m->urls == NULL) {
    m->urls = calloc(m->req.n, sizeof(*m->urls));
  }
  if (rc == 0 && m->urls != NULL) {
    m->urls[i] = strdup(*url); /* NULL: resolved again next time */
  }
  return rc;
}

/* Visits the static imports of a compiled record. */
static void visit_children(rt_load* load, rt_mod* m) {
  iso_realm* realm = load->realm;
  for (size_t i = 0; i < m->req.n && !load->done; i++) {
    char err[1024];
    char* url = NULL;
    int is_json = 0;
    int rc = resolve_request(realm, m, i, &url, err, sizeof(err));
    if (rc == 0) {
      rc = iso__rt_json_type(m->req.type[i], url, &is_json, err, sizeof(err));
    }
    if (rc == 0 && iso__rt_map_full(realm, url, err, sizeof(err))) {
      rc = ISO_ETOOBIG;
    }
    if (rc != 0) {
      iso_js_error e = {0};
      iso__rt_error_set(&e, rc, ISO_JS_UNCAUGHT,
                        rc == ISO_ETOOBIG ? "RangeError" : "TypeError", "%s",
                        err);
      free(url);
      load_fail(load, &e);
      return;
    }
    rt_mod* child = iso__rt_mod_get(realm, url, is_json);
    free(url);
    if (child == NULL) {
      iso_js_error e = {0};
      iso__rt_error_set(&e, ISO_ENOMEM, ISO_JS_PLAIN, "Error", "out of memory");
      load_fail(load, &e);
      return;
    }
    load_visit(load, child, m->url, m->req.specifier[i]);
  }
}

static void fail_from_mod(rt_load* load,
                          rt_mod* m,
                          const char* importer,
                          const char* specifier) {
  iso_js_error e = {0};
  if (importer != NULL) {
    iso__rt_error_set(&e, m->err.code, ISO_JS_UNCAUGHT,
                      m->err.name ? m->err.name : "TypeError",
                      "%s (imported as \"%s\" from \"%s\")", m->err.message,
                      specifier, importer);
    if (m->err.stack != NULL && m->err.code == ISO_ESYNTAX) {
      free(e.stack);
      e.stack = strdup(m->err.stack);
    }
  } else {
    iso__rt_error_set(&e, m->err.code, ISO_JS_UNCAUGHT,
                      m->err.name ? m->err.name : "TypeError", "%s",
                      m->err.message);
    if (m->err.stack != NULL) {
      free(e.stack);
      e.stack = strdup(m->err.stack);
    }
  }
  load_fail(load, &e);
}

static void load_visit(rt_load* load,
                       rt_mod* m,
                       const char* importer,
                       const char* specifier) {
  if (load->done || visited(load, m)) {
    return;
  }
  if (visit_add(load, m) != 0) {
    iso_js_error e = {0};
    iso__rt_error_set(&e, ISO_ENOMEM, ISO_JS_PLAIN, "Error", "out of memory");
    load_fail(load, &e);
    return;
  }
  m->loads++;
  const iso_builtin_module* builtin =
      m->state == MOD_LOADING ? iso__rt_builtin_of(m->url) : NULL;
  if (builtin != NULL) { /* embedded: compiled at once, nothing to read */
    iso__rt_mod_set_source(load->realm, m, builtin->source, builtin->len);
  }
  switch (m->state) {
    case MOD_COMPILED:
      visit_children(load, m);
      return;
    case MOD_FAILED:
      fail_from_mod(load, m, importer, specifier);
      return;
    default:
      break;
  }
  rt_waiter* w = calloc(1, sizeof(*w));
  if (w == NULL) {
    iso_js_error e = {0};
    iso__rt_error_set(&e, ISO_ENOMEM, ISO_JS_PLAIN, "Error", "out of memory");
    load_fail(load, &e);
    return;
  }
  w->load = load;
  w->importer = importer ? strdup(importer) : NULL;
  w->specifier = specifier ? strdup(specifier) : NULL;
  w->next = m->waiters;
  m->waiters = w;
  load->pending++;
  if (m->read == NULL && iso__rt_read_start(load->realm, m) != 0) {
    /* every load waiting on it (this one too) fails now, or it would wait
     * for a read that never comes */
    m->state = MOD_FAILED;
    iso__rt_error_set(&m->err, ISO_EIO, ISO_JS_UNCAUGHT, "TypeError",
                      "Cannot start reading \"%s\"", m->url);
    iso__rt_mod_ready(load->realm, m);
  }
}

/* The record's source arrived (compiled, or it failed): tells every
 * load waiting on it. */
void iso__rt_mod_ready(iso_realm* realm, rt_mod* m) {
  rt_waiter* w = m->waiters;
  m->waiters = NULL;
  while (w != NULL) {
    rt_waiter* next = w->next;
    rt_load* load = w->load;
    if (!load->done) {
      load->pending--;
      if (m->state == MOD_COMPILED) {
        visit_children(load, m);
        load_finish(load);
      } else {
        fail_from_mod(load, m, w->importer, w->specifier);
      }
    }
    free(w->importer);
    free(w->specifier);
    free(w);
    w = next;
  }
}

rt_load* iso__rt_load_new(iso_realm* realm, rt_mod* root) {
  rt_load* load = calloc(1, sizeof(*load));
  if (load == NULL) {
    return NULL;
  }
  load->realm = realm;
  load->root = root;
  load_visit(load, root, NULL, NULL);
  load_finish(load);
  return load;
}

void iso__rt_load_free(rt_load* load) {
  if (load == NULL) {
    return;
  }
  /* drop this load from every record it visited: its waiters (only
   * records it visited can have them), its count, and a failed record
   * nobody else holds */
  for (size_t i = 0; i < load->capvisited; i++) {
    rt_mod* m = load->visited[i];
    if (m == NULL) {
      continue;
    }
    rt_waiter** pp = &m->waiters;
    while (load->pending > 0 && *pp != NULL) {
      rt_waiter* w = *pp;
      if (w->load == load) {
        *pp = w->next;
        free(w->importer);
        free(w->specifier);
        free(w);
      } else {
        pp = &w->next;
      }
    }
    m->loads--;
    iso__rt_mod_release_failed(load->realm, m);
  }
  iso_js_error_close(&load->err);
  free(load->visited);
  free(load);
}

/* ---- host callbacks from V8 ---- */

v8s_ref iso__rt_host_resolve(void* realm_p,
                             const char* specifier,
                             const char* type,
                             v8s_ref referrer,
                             char* err,
                             size_t errlen) {
  iso_realm* realm = realm_p;
  rt_mod* from = iso__rt_mod_by_ref(realm, referrer);
  if (from == NULL) {
    snprintf(err, errlen, "Cannot resolve \"%s\": unknown importer", specifier);
    return 0;
  }
  char* url = NULL;
  /* the URL the load resolved this specifier to, when it is there (the
   * type does not change where a specifier leads) */
  for (size_t i = 0; from->urls != NULL && i < from->req.n; i++) {
    if (from->urls[i] != NULL &&
        strcmp(from->req.specifier[i], specifier) == 0) {
      url = strdup(from->urls[i]);
      if (url == NULL) {
        snprintf(err, errlen, "out of memory");
        return 0;
      }
      break;
    }
  }
  if (url == NULL && iso__rt_resolve(realm->rt, specifier, from->url, &url, err,
                                     errlen) != 0) {
    return 0;
  }
  rt_mod* m = iso__rt_mod_find(realm, url);
  int is_json = 0;
  if (iso__rt_json_type(type, url, &is_json, err, errlen) != 0) {
    free(url);
    return 0;
  }
  if (m == NULL || m->state != MOD_COMPILED) {
    snprintf(err, errlen, "Module \"%s\" imported from \"%s\" is not loaded",
             url, from->url);
    free(url);
    return 0;
  }
  if (m->is_json != is_json) {
    snprintf(err, errlen,
             "Module \"%s\" was loaded %s but \"%s\" imports it %s", url,
             m->is_json ? "as JSON" : "as JavaScript", from->url,
             is_json ? "as JSON" : "as JavaScript");
    free(url);
    return 0;
  }
  free(url);
  return m->ref;
}

/* The realm's dynamic imports in flight, counted up to MAX_PENDING_DYN. */
static int pending_dyns(const iso_realm* realm) {
  int n = 0;
  for (const rt_dyn* d = realm->dyns; d != NULL && n < MAX_PENDING_DYN;
       d = d->next) {
    n++;
  }
  return n;
}

int iso__rt_host_dyn_import(void* realm_p,
                            const char* specifier,
                            const char* type,
                            const char* referrer_url,
                            v8s_ref resolver,
                            char* err,
                            size_t errlen) {
  iso_realm* realm = realm_p;
  if (realm->failed || realm->freed) {
    snprintf(err, errlen, "the realm is shutting down");
    return ISO_ECLOSED;
  }
  char* url = NULL;
  int rc =
      iso__rt_resolve(realm->rt, specifier, referrer_url, &url, err, errlen);
  int is_json = 0;
  if (rc == 0) {
    rc = iso__rt_json_type(type, url, &is_json, err, errlen);
  }
  if (rc == 0 && !is_json && (type == NULL || type[0] == '\0')) {
    size_t n = strlen(url);
    /* import("./x.json", { with: { type: "json" } }): V8 10.2 drops the
     * `with` option, so a .json file is taken as JSON. */
    is_json = n > 5 && strcmp(url + n - 5, ".json") == 0;
  }
  if (rc == 0 && iso__rt_map_full(realm, url, err, errlen)) {
    rc = ISO_ETOOBIG;
  }
  if (rc == 0 && pending_dyns(realm) >= MAX_PENDING_DYN) {
    snprintf(err, errlen,
             "Cannot import \"%.300s\": %d dynamic imports are in flight in "
             "this realm already (await some first)",
             specifier, MAX_PENDING_DYN);
    rc = ISO_ETOOBIG;
  }
  rt_dyn* d = rc == 0 ? calloc(1, sizeof(*d)) : NULL;
  rt_mod* m = d != NULL ? iso__rt_mod_get(realm, url, is_json) : NULL;
  free(url);
  if (rc != 0) {
    return rc;
  }
  if (m == NULL) {
    free(d);
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  d->state = DYN_PREPARING;
  d->mod = m;
  d->resolver = resolver;
  d->load = iso__rt_load_new(realm, m);
  if (d->load == NULL) {
    free(d);
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  d->next = realm->dyns;
  realm->dyns = d;
  realm->idle_notified = 0;
  iso__rt_wake(realm->rt);
  return 0;
}

void iso__rt_host_import_meta(void* realm_p,
                              v8s_ref module,
                              const char** url,
                              int* is_main) {
  iso_realm* realm = realm_p;
  rt_mod* m = iso__rt_mod_by_ref(realm, module);
  if (m != NULL) {
    *url = m->url;
    *is_main = m == realm->main_mod;
  }
}
