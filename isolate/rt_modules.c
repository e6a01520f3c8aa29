/* rt_modules.c: a realm's module map and its records.
 *
 * A record (rt_mod, rt_private.h) is keyed by its URL and compiled once
 * per realm, when its source arrives (iso__rt_mod_set_source); the loads
 * (rt_load.c) fill the map and V8's callbacks find records in it by URL or
 * by module ref. The map is bounded: at most ISO_MOD_MAX records per
 * realm, past which an import fails with an error that says so; and a
 * failed record leaves the map as soon as no live load holds it
 * (rt_mod.loads), so a retry loads it afresh and a loop of failing
 * imports leaves nothing behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "rt_private.h"

/* static imports of one module: each is resolved when the graph loads and
 * again when it is instantiated, in C that no deadline can stop, and a
 * job's own source can spell one file a million ways ("./a.js",
 * ".//a.js", "././a.js") that V8 does not merge */
#define MAX_MODULE_IMPORTS 10000

static size_t bucket_of(const char* url) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char* p = (const unsigned char*)url; *p; p++) {
    h = (h ^ *p) * 16777619u;
  }
  return h % ISO_MOD_BUCKETS;
}

rt_mod* iso__rt_mod_find(iso_realm* realm, const char* url) {
  for (rt_mod* m = realm->buckets[bucket_of(url)]; m != NULL; m = m->hnext) {
    if (strcmp(m->url, url) == 0) {
      return m;
    }
  }
  return NULL;
}

/* The last record found by its ref, per thread (each runtime runs on one
 * thread): V8 asks for one importer's record once per import while it
 * instantiates, and a walk of the whole map each time is quadratic. Reset
 * when a record or a realm goes. */
static _Thread_local struct {
  const iso_realm* realm;
  v8s_ref ref;
  rt_mod* mod;
} by_ref;

rt_mod* iso__rt_mod_by_ref(iso_realm* realm, v8s_ref ref) {
  if (ref == 0) {
    return NULL;
  }
  if (by_ref.realm == realm && by_ref.ref == ref) {
    return by_ref.mod;
  }
  for (rt_mod* m = realm->modules; m != NULL; m = m->next) {
    if (m->ref == ref) {
      by_ref.realm = realm;
      by_ref.ref = ref;
      by_ref.mod = m;
      return m;
    }
  }
  return NULL;
}

/* Gets the record for url, creating it if new (NULL when out of memory or
 * when the map already holds ISO_MOD_MAX records: callers that can say so
 * check iso__rt_map_full first). A record that failed to load is tried again
 * (the file may exist now). */
/* Closes a record's requests and their resolved URLs. */
static void requests_close(rt_mod* m) {
  if (m->urls != NULL) {
    for (size_t i = 0; i < m->req.n; i++) {
      free(m->urls[i]);
    }
    free(m->urls);
    m->urls = NULL;
  }
  v8s_requests_close(&m->req);
}

rt_mod* iso__rt_mod_get(iso_realm* realm, const char* url, int is_json) {
  rt_mod* m = iso__rt_mod_find(realm, url);
  if (m != NULL) {
    if (m->state == MOD_FAILED && m->read == NULL && m->ref == 0) {
      m->state = MOD_LOADING;
      iso_js_error_close(&m->err);
      requests_close(m);
    }
    return m;
  }
  if (realm->nmods >= ISO_MOD_MAX) {
    return NULL;
  }
  m = calloc(1, sizeof(*m));
  if (m == NULL) {
    return NULL;
  }
  m->url = strdup(url);
  m->path = strdup(strncmp(url, "file://", 7) == 0 ? url + 7 : url);
  m->is_json = is_json;
  m->state = MOD_LOADING;
  if (m->url == NULL || m->path == NULL) {
    free(m->url);
    free(m->path);
    free(m);
    return NULL;
  }
  m->next = realm->modules;
  realm->modules = m;
  size_t b = bucket_of(url);
  m->hnext = realm->buckets[b];
  realm->buckets[b] = m;
  realm->nmods++;
  return m;
}

/* 1 (with err) when url is not in the map and the map has no room for it. */
int iso__rt_map_full(iso_realm* realm,
                     const char* url,
                     char* err,
                     size_t errlen) {
  if (realm->nmods < ISO_MOD_MAX || iso__rt_mod_find(realm, url) != NULL) {
    return 0;
  }
  snprintf(err, errlen,
           "Cannot load \"%.300s\": this realm's module map is full (%d "
           "modules)",
           url, ISO_MOD_MAX);
  return 1;
}

static void free_waiters(rt_waiter* w) {
  while (w != NULL) {
    rt_waiter* next = w->next;
    free(w->importer);
    free(w->specifier);
    free(w);
    w = next;
  }
}

static void mod_free(iso_realm* realm, rt_mod* m) {
  if (by_ref.mod == m) {
    by_ref.realm = NULL;
    by_ref.mod = NULL;
  }
  free_waiters(m->waiters);
  v8s_ref_free(realm->rt->iso, m->ref);
  v8s_ref_free(realm->rt->iso, m->key);
  free(m->key_name);
  requests_close(m);
  iso_js_error_close(&m->err);
  free(m->url);
  free(m->path);
  free(m);
}

/* Takes a failed record out of the map once nothing can reach it: no live
 * load visited it, no load waits on it, no read is in flight. Its memory
 * would otherwise stay until the realm goes (a warm realm lives long), and
 * the next import of the URL starts afresh. Records are prepended, and a
 * failed one is usually recent, so the walks are short. */
void iso__rt_mod_release_failed(iso_realm* realm, rt_mod* m) {
  if (m->state != MOD_FAILED || m->loads > 0 || m->waiters != NULL ||
      m->read != NULL) {
    return;
  }
  for (rt_mod** pp = &realm->buckets[bucket_of(m->url)]; *pp != NULL;
       pp = &(*pp)->hnext) {
    if (*pp == m) {
      *pp = m->hnext;
      break;
    }
  }
  for (rt_mod** pp = &realm->modules; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  }
  /* the runtime's pointers to it (rt_eval.c reads them only for records
   * that evaluated) */
  for (unsigned i = 0; i < 4; i++) {
    if (realm->spec_cache[i].mod == m) {
      realm->spec_cache[i].mod = NULL;
    }
  }
  if (realm->main_mod == m) {
    realm->main_mod = NULL;
  }
  realm->nmods--;
  mod_free(realm, m);
}

static char* rewrite_import_with(const char* src, size_t len, size_t* out_len);

int iso__rt_mod_set_source(iso_realm* realm,
                           rt_mod* m,
                           const char* src,
                           size_t len) {
  v8s_exc exc = {0};
  iso_rt* rt = realm->rt;
  int cjs = 0; /* a CommonJS file, compiled by rt_cjs.c */
  int rc = m->is_json ? 0 : iso__rt_cjs_compile(realm, m, src, len, &cjs, &exc);
  char* rewritten =
      m->is_json || cjs ? NULL : rewrite_import_with(src, len, &len);
  if (rewritten != NULL) {
    src = rewritten;
  }
  if (!cjs) {
    rc = v8s_module_compile(rt->iso, realm->ctx, m->url, src, len, m->is_json,
                            &m->ref, &exc);
  }
  if (rc == 0) {
    rc = v8s_module_requests(rt->iso, realm->ctx, m->ref, &m->req);
  }
  if (rc == 0 && m->req.n > MAX_MODULE_IMPORTS) {
    m->state = MOD_FAILED;
    iso__rt_error_set(&m->err, ISO_ETOOBIG, ISO_JS_UNCAUGHT, "RangeError",
                      "Module \"%s\" has %zu static imports (at most %d)",
                      m->url, m->req.n, MAX_MODULE_IMPORTS);
    requests_close(m);
    rc = ISO_ETOOBIG;
  } else if (rc == 0) {
    m->state = MOD_COMPILED;
  } else {
    m->state = MOD_FAILED;
    iso__rt_error_from_exc(&m->err, &exc, ISO_JS_UNCAUGHT, rc);
    const char* at = m->err.stack ? strstr(m->err.stack, "\n    at ") : NULL;
    if (rc == ISO_ESYNTAX && at != NULL) {
      /* the message alone names the place too (dynamic import errors) */
      size_t n = strlen(m->err.message) + strlen(at) + 1;
      char* msg = malloc(n);
      if (msg != NULL) {
        snprintf(msg, n, "%s at %s", m->err.message, at + 8);
        free(m->err.message);
        m->err.message = msg;
      }
    }
  }
  v8s_exc_close(&exc);
  free(rewritten);
  return rc;
}

/* Rewrites `import ... from "x" with {` (import attributes, which V8 10.2
 * does not parse) to the older `assert {` form it does. Returns a malloc'd
 * copy, or NULL when nothing needed rewriting. */
static char* rewrite_import_with(const char* src, size_t len, size_t* out_len) {
  char* out = NULL;
  size_t o = 0, last = 0;
  for (size_t i = 0; i + 4 < len; i++) {
    char q = src[i];
    if (q != '"' && q != '\'') {
      continue;
    }
    size_t j = i + 1;
    while (j < len && src[j] != q && src[j] != '\n') {
      j++;
    }
    if (j >= len || src[j] != q) {
      continue;
    }
    /* is this string preceded by `from` or `import`? */
    size_t b = i;
    while (b > 0 && (src[b - 1] == ' ' || src[b - 1] == '\t')) {
      b--;
    }
    int after_kw = (b >= 4 && strncmp(src + b - 4, "from", 4) == 0) ||
                   (b >= 6 && strncmp(src + b - 6, "import", 6) == 0);
    size_t k = j + 1;
    while (k < len && (src[k] == ' ' || src[k] == '\t')) {
      k++;
    }
    if (after_kw && k + 4 < len && strncmp(src + k, "with", 4) == 0) {
      size_t m = k + 4;
      while (m < len && (src[m] == ' ' || src[m] == '\t')) {
        m++;
      }
      if (m < len && src[m] == '{') {
        if (out == NULL) {
          out = malloc(len + len / 2 + 16);
          if (out == NULL) {
            return NULL;
          }
        }
        memcpy(out + o, src + last, k - last);
        o += k - last;
        memcpy(out + o, "assert", 6);
        o += 6;
        last = k + 4;
      }
    }
    i = j;
  }
  if (out == NULL) {
    return NULL;
  }
  memcpy(out + o, src + last, len - last);
  o += len - last;
  out[o] = '\0';
  *out_len = o;
  return out;
}

void iso__rt_modules_close(iso_realm* realm) {
  if (by_ref.realm == realm) {
    by_ref.realm = NULL;
    by_ref.mod = NULL;
  }
  for (size_t i = 0; i < realm->nreads; i++) {
    realm->reads[i]->realm = NULL; /* read_done_cb frees it */
  }
  free(realm->reads);
  realm->reads = NULL;
  realm->nreads = realm->capreads = 0;
  rt_mod* m = realm->modules;
  while (m != NULL) {
    rt_mod* next = m->next;
    mod_free(realm, m);
    m = next;
  }
  realm->modules = NULL;
  realm->nmods = 0;
  memset(realm->buckets, 0, sizeof(realm->buckets));
}
