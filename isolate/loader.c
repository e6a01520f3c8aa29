/* loader.c: the module map and the asynchronous, recursive module loader.
 *
 * Specifiers resolve like Deno's: "./", "../", "/" and "file://" against
 * the importer's URL; anything else (a bare specifier) is an error naming
 * the specifier and its importer. Files are read on libuv's thread pool
 * (uv_queue_work), where the path is also canonicalised with realpath() and
 * checked against the module root, so a symlink cannot lead outside it;
 * the canonical path is then opened without following any symlink (one
 * swapped in meanwhile fails the load) and without blocking (O_NONBLOCK: a
 * FIFO would hold a pool thread, and with it every load), and only a
 * regular file of at most MAX_MODULE_BYTES is read. A record is compiled
 * once per realm when its source arrives; its static imports are then
 * visited by every load waiting on it, so diamonds share records and
 * cycles end at records already visited. A load finishes when every record
 * it visited is compiled, or at the first failure; the owner (an
 * evaluation or a dynamic import in runtime.c) sees load->done in the next
 * tick.
 *
 * The module map is bounded: at most ISO_MOD_MAX records per realm and
 * MAX_PENDING_DYN dynamic imports in flight, past which an import fails
 * with an error that says so; and a failed record leaves the map as soon
 * as no live load holds it (iso_mod.loads), so a retry loads it afresh and
 * a loop of failing imports leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iso_bootstrap.h"
#include "iso_err.h"
#include "iso_utf8.h"
#include "rt_private.h"

/* A module's source: V8 takes strings up to 2^29 characters, but a source
 * this large is a mistake or an attack, and each read holds it in C memory
 * until it is compiled. */
#define MAX_MODULE_BYTES ((size_t)64 << 20)
#define MAX_MODULE_MIB 64
/* dynamic imports in flight per realm: each holds C memory (a load, a
 * record's waiter) until the next tick sees it */
#define MAX_PENDING_DYN 10000
/* static imports of one module: each is resolved when the graph loads and
 * again when it is instantiated, in C that no deadline can stop, and a
 * job's own source can spell one file a million ways ("./a.js",
 * ".//a.js", "././a.js") that V8 does not merge */
#define MAX_MODULE_IMPORTS 10000

/* ---- resolution ---- */

static int starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Lexically normalises an absolute path: collapses "//", "." and "..". */
static char* normalize_path(const char* path) {
  size_t n = strlen(path);
  char* out = malloc(n + 2);
  if (out == NULL) {
    return NULL;
  }
  size_t o = 0;
  const char* p = path;
  while (*p != '\0') {
    while (*p == '/') {
      p++;
    }
    if (*p == '\0') {
      break;
    }
    const char* seg = p;
    while (*p != '\0' && *p != '/') {
      p++;
    }
    size_t len = (size_t)(p - seg);
    if (len == 1 && seg[0] == '.') {
      continue;
    }
    if (len == 2 && seg[0] == '.' && seg[1] == '.') {
      while (o > 0 && out[o - 1] != '/') {
        o--;
      }
      if (o > 0) {
        o--;
      }
      continue;
    }
    out[o++] = '/';
    memcpy(out + o, seg, len);
    o += len;
  }
  if (o == 0) {
    out[o++] = '/';
  }
  out[o] = '\0';
  return out;
}

/* Percent-decodes a file:// URL path (only what paths need). */
static void percent_decode(char* s) {
  char* w = s;
  for (char* r = s; *r != '\0'; r++) {
    if (r[0] == '%' && r[1] != '\0' && r[2] != '\0') {
      char hex[3] = {r[1], r[2], 0};
      char* end;
      long v = strtol(hex, &end, 16);
      if (*end == '\0' && v > 0) {
        *w++ = (char)v;
        r += 2;
        continue;
      }
    }
    *w++ = *r;
  }
  *w = '\0';
}

/* The embedded source of built-in module `url` ("isopool:fs"), or NULL. */
static const iso_builtin_module* builtin_of(const char* url) {
  for (size_t i = 0; i < iso_builtin_modules_count; i++) {
    if (strcmp(iso_builtin_modules[i].specifier, url) == 0) {
      return &iso_builtin_modules[i];
    }
  }
  return NULL;
}

static int resolve_builtin(const char* specifier,
                           const char* referrer,
                           char** url,
                           char* err,
                           size_t errlen) {
  if (builtin_of(specifier) == NULL) {
    int n = snprintf(err, errlen,
                     "Unknown built-in module \"%s\" imported from \"%s\" "
                     "(there are",
                     specifier, referrer);
    for (size_t i = 0;
         i < iso_builtin_modules_count && n >= 0 && (size_t)n < errlen; i++) {
      n += snprintf(err + n, errlen - n, "%s %s", i ? "," : "",
                    iso_builtin_modules[i].specifier);
    }
    if (n >= 0 && (size_t)n < errlen) {
      snprintf(err + n, errlen - n, ")");
    }
    return ISO_ENOENT;
  }
  *url = strdup(specifier);
  return *url != NULL ? 0 : ISO_ENOMEM;
}

int iso__resolve(iso_rt* rt,
                 const char* specifier,
                 const char* referrer,
                 char** url,
                 char* err,
                 size_t errlen) {
  char* joined = NULL;
  if (starts_with(specifier, "isopool:")) {
    return resolve_builtin(specifier, referrer, url, err, errlen);
  }
  if (starts_with(specifier, "file://")) {
    joined = strdup(specifier + 7);
    if (joined != NULL) {
      percent_decode(joined);
    }
  } else if (specifier[0] == '/') {
    joined = strdup(specifier);
  } else if (starts_with(specifier, "./") || starts_with(specifier, "../") ||
             strcmp(specifier, ".") == 0 || strcmp(specifier, "..") == 0) {
    const char* base = starts_with(referrer, "file://") ? referrer + 7 : NULL;
    if (base == NULL) {
      base = rt->root; /* a script: relative to the module root */
    }
    const char* slash = strrchr(base, '/');
    size_t dirlen = slash ? (size_t)(slash - base) : 0;
    int is_file = starts_with(referrer, "file://");
    size_t n = (is_file ? dirlen : strlen(base)) + strlen(specifier) + 2;
    joined = malloc(n);
    if (joined != NULL) {
      snprintf(joined, n, "%.*s/%s", (int)(is_file ? dirlen : strlen(base)),
               base, specifier);
    }
  } else {
    snprintf(err, errlen,
             "Relative import path \"%s\" not prefixed with / or ./ or ../ "
             "from \"%s\" (bare specifiers are not supported)",
             specifier, referrer);
    return ISO_ENOENT;
  }
  if (joined == NULL) {
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  /* a percent-decoded URL must stay text: it reaches JavaScript
   * (import.meta.url) and error messages */
  if (!iso_utf8_valid(joined, strlen(joined))) {
    free(joined);
    snprintf(err, errlen,
             "Import of \"%.300s\" from \"%.300s\": the path is not valid "
             "UTF-8",
             specifier, referrer);
    return ISO_EINVAL;
  }
  char* norm = normalize_path(joined);
  free(joined);
  if (norm == NULL) {
    return ISO_ENOMEM;
  }
  size_t rootlen = strlen(rt->root);
  if (!(strcmp(rt->root, "/") == 0 ||
        (strncmp(norm, rt->root, rootlen) == 0 &&
         (norm[rootlen] == '/' || norm[rootlen] == '\0')))) {
    snprintf(err, errlen,
             "Import of \"%s\" from \"%s\" resolves to \"%s\", which is "
             "outside the module root \"%s\"",
             specifier, referrer, norm, rt->root);
    free(norm);
    return ISO_EPERM;
  }
  if (strlen(norm) >= PATH_MAX) {
    /* no such file can be opened, and a record, its read and its waiters
     * would each hold a copy of the path until the import fails */
    snprintf(err, errlen,
             "Import of \"%.200s...\" from \"%.300s\": the path is longer than "
             "%d bytes",
             specifier, referrer, PATH_MAX - 1);
    free(norm);
    return ISO_EINVAL;
  }
  size_t n = strlen(norm) + 8;
  *url = malloc(n);
  if (*url == NULL) {
    free(norm);
    return ISO_ENOMEM;
  }
  snprintf(*url, n, "file://%s", norm);
  free(norm);
  return 0;
}

int iso__json_type(const char* type,
                   const char* url,
                   int* is_json,
                   char* err,
                   size_t errlen) {
  if (type == NULL || type[0] == '\0') {
    *is_json = 0;
    return 0;
  }
  if (strcmp(type, "json") == 0) {
    *is_json = 1;
    return 0;
  }
  snprintf(err, errlen, "Import \"%s\" has an unsupported type \"%s\"", url,
           type);
  return ISO_EINVAL;
}

/* ---- the module map ---- */

static size_t bucket_of(const char* url) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char* p = (const unsigned char*)url; *p; p++) {
    h = (h ^ *p) * 16777619u;
  }
  return h % ISO_MOD_BUCKETS;
}

iso_mod* iso__mod_find(iso_realm* realm, const char* url) {
  for (iso_mod* m = realm->buckets[bucket_of(url)]; m != NULL; m = m->hnext) {
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
  iso_mod* mod;
} by_ref;

iso_mod* iso__mod_by_ref(iso_realm* realm, v8s_ref ref) {
  if (ref == 0) {
    return NULL;
  }
  if (by_ref.realm == realm && by_ref.ref == ref) {
    return by_ref.mod;
  }
  for (iso_mod* m = realm->modules; m != NULL; m = m->next) {
    if (m->ref == ref) {
      by_ref.realm = realm;
      by_ref.ref = ref;
      by_ref.mod = m;
      return m;
    }
  }
  return NULL;
}

static void read_work_cb(uv_work_t* w);
static void read_done_cb(uv_work_t* w, int status);

static int track_read(iso_realm* realm, iso_read* r) {
  if (realm->nreads == realm->capreads) {
    size_t cap = realm->capreads ? realm->capreads * 2 : 8;
    iso_read** n = realloc(realm->reads, cap * sizeof(*n));
    if (n == NULL) {
      return ISO_ENOMEM;
    }
    realm->reads = n;
    realm->capreads = cap;
  }
  realm->reads[realm->nreads++] = r;
  return 0;
}

static void untrack_read(iso_realm* realm, iso_read* r) {
  for (size_t i = 0; i < realm->nreads; i++) {
    if (realm->reads[i] == r) {
      realm->reads[i] = realm->reads[--realm->nreads];
      return;
    }
  }
}

/* Gets the record for url, creating it if new (NULL when out of memory or
 * when the map already holds ISO_MOD_MAX records: callers that can say so
 * check map_full first). A record that failed to load is tried again (the
 * file may exist now). */
iso_mod* iso__mod_get(iso_realm* realm, const char* url, int is_json) {
  iso_mod* m = iso__mod_find(realm, url);
  if (m != NULL) {
    if (m->state == MOD_FAILED && m->read == NULL && m->ref == 0) {
      m->state = MOD_LOADING;
      iso_js_error_clear(&m->err);
      v8s_requests_free(&m->req);
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
  m->path = strdup(starts_with(url, "file://") ? url + 7 : url);
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
static int map_full(iso_realm* realm,
                    const char* url,
                    char* err,
                    size_t errlen) {
  if (realm->nmods < ISO_MOD_MAX || iso__mod_find(realm, url) != NULL) {
    return 0;
  }
  snprintf(err, errlen,
           "Cannot load \"%.300s\": this realm's module map is full (%d "
           "modules)",
           url, ISO_MOD_MAX);
  return 1;
}

static void free_waiters(iso_waiter* w) {
  while (w != NULL) {
    iso_waiter* next = w->next;
    free(w->importer);
    free(w->specifier);
    free(w);
    w = next;
  }
}

static void mod_free(iso_realm* realm, iso_mod* m) {
  if (by_ref.mod == m) {
    by_ref.realm = NULL;
    by_ref.mod = NULL;
  }
  free_waiters(m->waiters);
  v8s_ref_free(realm->rt->iso, m->ref);
  v8s_requests_free(&m->req);
  iso_js_error_clear(&m->err);
  free(m->url);
  free(m->path);
  free(m);
}

/* Takes a failed record out of the map once nothing can reach it: no live
 * load visited it, no load waits on it, no read is in flight. Its memory
 * would otherwise stay until the realm goes (a warm realm lives long), and
 * the next import of the URL starts afresh. Records are prepended, and a
 * failed one is usually recent, so the walks are short. */
static void mod_release_failed(iso_realm* realm, iso_mod* m) {
  if (m->state != MOD_FAILED || m->loads > 0 || m->waiters != NULL ||
      m->read != NULL) {
    return;
  }
  for (iso_mod** pp = &realm->buckets[bucket_of(m->url)]; *pp != NULL;
       pp = &(*pp)->hnext) {
    if (*pp == m) {
      *pp = m->hnext;
      break;
    }
  }
  for (iso_mod** pp = &realm->modules; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  }
  /* the runtime's pointers to it (runtime.c reads them only for records
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

static int start_read(iso_realm* realm, iso_mod* m) {
  iso_read* r = calloc(1, sizeof(*r));
  if (r == NULL) {
    return ISO_ENOMEM;
  }
  r->realm = realm;
  r->mod = m;
  r->path = strdup(m->path);
  r->root = realm->rt->root;
  r->work.data = r;
  if (r->path == NULL || track_read(realm, r) != 0) {
    free(r->path);
    free(r);
    return ISO_ENOMEM;
  }
  m->read = r;
  int rc = uv_queue_work(realm->rt->loop, &r->work, read_work_cb, read_done_cb);
  if (rc != 0) {
    untrack_read(realm, r);
    m->read = NULL;
    free(r->path);
    free(r);
    return ISO_EIO;
  }
  return 0;
}

/* What st is, for "is not a regular file (a FIFO)". */
static const char* file_kind(const struct stat* st) {
  return S_ISDIR(st->st_mode)    ? "a directory"
         : S_ISFIFO(st->st_mode) ? "a FIFO"
         : S_ISSOCK(st->st_mode) ? "a socket"
         : S_ISCHR(st->st_mode)  ? "a character device"
         : S_ISBLK(st->st_mode)  ? "a block device"
                                 : "not a file";
}

/* Opens `real`, a canonical path (no symlink, no "..", checked against the
 * root as text), for reading: openat2(RESOLVE_NO_SYMLINKS) opens exactly
 * that path, so a symlink swapped onto it after realpath() fails (ELOOP)
 * instead of leading elsewhere; O_NONBLOCK, since opening a FIFO for
 * reading otherwise waits for a writer. Kernels without openat2 (before
 * 5.6) get O_NOFOLLOW, which guards the last component only. */
static int open_module(const char* real) {
  struct open_how how = {
      .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
      .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  for (;;) {
    long fd = syscall(SYS_openat2, AT_FDCWD, real, &how, sizeof how);
    if (fd >= 0) {
      return (int)fd;
    }
    if (errno == ENOSYS) {
      return open(real, (int)how.flags | O_NOFOLLOW);
    }
    if (errno != EINTR && errno != EAGAIN) {
      return -1;
    }
  }
}

static void read_fail(iso_read* r, int err, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void read_fail(iso_read* r, int err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
  va_end(ap);
  r->err = err;
}

/* Thread: libuv's thread pool. Touches only the iso_read. Never blocks on
 * anything but a regular file's data: a FIFO, a device or a directory is
 * refused by fstat on the fd opened without blocking, before any read. */
static void read_work_cb(uv_work_t* w) {
  iso_read* r = w->data;
  char real[PATH_MAX];
  if (realpath(r->path, real) == NULL) {
    read_fail(r, errno == ENOENT || errno == ENOTDIR ? ISO_ENOENT : ISO_EIO,
              "%s", strerror(errno));
    return;
  }
  size_t rootlen = strlen(r->root);
  /* the root itself is inside (and then refused as a directory) */
  if (!(strcmp(r->root, "/") == 0 ||
        (strncmp(real, r->root, rootlen) == 0 &&
         (real[rootlen] == '/' || real[rootlen] == '\0')))) {
    read_fail(r, ISO_EPERM,
              "it is a link to \"%.200s\", outside the module root \"%.200s\"",
              real, r->root);
    return;
  }
  int fd = open_module(real);
  if (fd < 0) {
    int e = errno;
    struct stat st;
    if (e == ELOOP) {
      read_fail(r, ISO_EPERM,
                "a symbolic link appeared on its path while it was loaded");
    } else if (lstat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
      /* a socket, a device without a driver (ENXIO): say what it is */
      read_fail(r, ISO_EIO, "not a regular file (%s)", file_kind(&st));
    } else {
      read_fail(r,
                e == ENOENT   ? ISO_ENOENT
                : e == EACCES ? ISO_EPERM
                              : ISO_EIO,
                "%s", strerror(e));
    }
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    read_fail(r, ISO_EIO, "%s", strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    read_fail(r, ISO_EIO, "not a regular file (%s)", file_kind(&st));
  } else if ((uint64_t)st.st_size > MAX_MODULE_BYTES) {
    read_fail(r, ISO_ETOOBIG,
              "the file is larger than %d MiB (the limit for a module)",
              MAX_MODULE_MIB);
  } else {
    r->data = malloc((size_t)st.st_size + 1);
    if (r->data == NULL) {
      read_fail(r, ISO_ENOMEM, "out of memory");
    }
  }
  /* st_size bytes at most: a file that grows while it is read is cut at
   * the size it had, one that shrinks is read as it is now */
  size_t got = 0;
  while (r->err == 0 && got < (size_t)st.st_size) {
    ssize_t n = read(fd, r->data + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      read_fail(r, ISO_EIO, "%s", strerror(errno));
    }
    if (n <= 0) {
      break;
    }
    got += (size_t)n;
  }
  close(fd);
  if (r->err != 0) {
    free(r->data);
    r->data = NULL;
    return;
  }
  r->data[got] = '\0';
  r->len = got;
}

/* ---- loads ---- */

static void load_finish(iso_load* load) {
  if (!load->done && load->pending == 0) {
    load->done = 1;
    iso__rt_wake(load->realm->rt);
  }
}

static void load_fail(iso_load* load, iso_js_error* err) {
  if (load->done) {
    iso_js_error_clear(err);
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
static size_t slot_of(const iso_mod* m, size_t cap) {
  uint64_t x = (uint64_t)(uintptr_t)m;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull; /* a 64-bit mix (murmur3's finaliser) */
  x ^= x >> 33;
  return (size_t)x & (cap - 1);
}

static int visited(const iso_load* load, const iso_mod* m) {
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
static int visit_add(iso_load* load, iso_mod* m) {
  if (2 * (load->nvisited + 1) > load->capvisited) {
    size_t cap = load->capvisited ? load->capvisited * 2 : 16;
    iso_mod** n = calloc(cap, sizeof(*n));
    if (n == NULL) {
      return ISO_ENOMEM;
    }
    for (size_t i = 0; i < load->capvisited; i++) {
      iso_mod* v = load->visited[i];
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

static void load_visit(iso_load* load,
                       iso_mod* m,
                       const char* importer,
                       const char* specifier);
static void mod_ready(iso_realm* realm, iso_mod* m);

/* Visits the static imports of a compiled record. */
static void visit_children(iso_load* load, iso_mod* m) {
  iso_realm* realm = load->realm;
  for (size_t i = 0; i < m->req.n && !load->done; i++) {
    char err[1024];
    char* url = NULL;
    int is_json = 0;
    int rc = iso__resolve(realm->rt, m->req.specifier[i], m->url, &url, err,
                          sizeof(err));
    if (rc == 0) {
      rc = iso__json_type(m->req.type[i], url, &is_json, err, sizeof(err));
    }
    if (rc == 0 && map_full(realm, url, err, sizeof(err))) {
      rc = ISO_ETOOBIG;
    }
    if (rc != 0) {
      iso_js_error e = {0};
      iso__error_set(&e, rc, ISO_JS_UNCAUGHT,
                     rc == ISO_ETOOBIG ? "RangeError" : "TypeError", "%s", err);
      free(url);
      load_fail(load, &e);
      return;
    }
    iso_mod* child = iso__mod_get(realm, url, is_json);
    free(url);
    if (child == NULL) {
      iso_js_error e = {0};
      iso__error_set(&e, ISO_ENOMEM, ISO_JS_PLAIN, "Error", "out of memory");
      load_fail(load, &e);
      return;
    }
    load_visit(load, child, m->url, m->req.specifier[i]);
  }
}

static void fail_from_mod(iso_load* load,
                          iso_mod* m,
                          const char* importer,
                          const char* specifier) {
  iso_js_error e = {0};
  if (importer != NULL) {
    iso__error_set(&e, m->err.code, ISO_JS_UNCAUGHT,
                   m->err.name ? m->err.name : "TypeError",
                   "%s (imported as \"%s\" from \"%s\")", m->err.message,
                   specifier, importer);
    if (m->err.stack != NULL && m->err.code == ISO_ESYNTAX) {
      free(e.stack);
      e.stack = strdup(m->err.stack);
    }
  } else {
    iso__error_set(&e, m->err.code, ISO_JS_UNCAUGHT,
                   m->err.name ? m->err.name : "TypeError", "%s",
                   m->err.message);
    if (m->err.stack != NULL) {
      free(e.stack);
      e.stack = strdup(m->err.stack);
    }
  }
  load_fail(load, &e);
}

static void load_visit(iso_load* load,
                       iso_mod* m,
                       const char* importer,
                       const char* specifier) {
  if (load->done || visited(load, m)) {
    return;
  }
  if (visit_add(load, m) != 0) {
    iso_js_error e = {0};
    iso__error_set(&e, ISO_ENOMEM, ISO_JS_PLAIN, "Error", "out of memory");
    load_fail(load, &e);
    return;
  }
  m->loads++;
  const iso_builtin_module* builtin =
      m->state == MOD_LOADING ? builtin_of(m->url) : NULL;
  if (builtin != NULL) { /* embedded: compiled at once, nothing to read */
    iso__mod_set_source(load->realm, m, builtin->source, builtin->len);
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
  iso_waiter* w = calloc(1, sizeof(*w));
  if (w == NULL) {
    iso_js_error e = {0};
    iso__error_set(&e, ISO_ENOMEM, ISO_JS_PLAIN, "Error", "out of memory");
    load_fail(load, &e);
    return;
  }
  w->load = load;
  w->importer = importer ? strdup(importer) : NULL;
  w->specifier = specifier ? strdup(specifier) : NULL;
  w->next = m->waiters;
  m->waiters = w;
  load->pending++;
  if (m->read == NULL && start_read(load->realm, m) != 0) {
    /* every load waiting on it (this one too) fails now, or it would wait
     * for a read that never comes */
    m->state = MOD_FAILED;
    iso__error_set(&m->err, ISO_EIO, ISO_JS_UNCAUGHT, "TypeError",
                   "Cannot start reading \"%s\"", m->url);
    mod_ready(load->realm, m);
  }
}

/* Compiles the record's source and tells every waiting load. */
static void mod_ready(iso_realm* realm, iso_mod* m) {
  iso_waiter* w = m->waiters;
  m->waiters = NULL;
  while (w != NULL) {
    iso_waiter* next = w->next;
    iso_load* load = w->load;
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

static char* rewrite_import_with(const char* src, size_t len, size_t* out_len);

int iso__mod_set_source(iso_realm* realm,
                        iso_mod* m,
                        const char* src,
                        size_t len) {
  char* rewritten = m->is_json ? NULL : rewrite_import_with(src, len, &len);
  if (rewritten != NULL) {
    src = rewritten;
  }
  v8s_exc exc = {0};
  iso_rt* rt = realm->rt;
  int rc = v8s_module_compile(rt->iso, realm->ctx, m->url, src, len, m->is_json,
                              &m->ref, &exc);
  if (rc == 0) {
    rc = v8s_module_requests(rt->iso, realm->ctx, m->ref, &m->req);
  }
  if (rc == 0 && m->req.n > MAX_MODULE_IMPORTS) {
    m->state = MOD_FAILED;
    iso__error_set(&m->err, ISO_ETOOBIG, ISO_JS_UNCAUGHT, "RangeError",
                   "Module \"%s\" has %zu static imports (at most %d)", m->url,
                   m->req.n, MAX_MODULE_IMPORTS);
    v8s_requests_free(&m->req);
    rc = ISO_ETOOBIG;
  } else if (rc == 0) {
    m->state = MOD_COMPILED;
  } else {
    m->state = MOD_FAILED;
    iso__error_from_exc(&m->err, &exc, ISO_JS_UNCAUGHT, rc);
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
  v8s_exc_clear(&exc);
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

static void read_done_cb(uv_work_t* w, int status) {
  iso_read* r = w->data;
  iso_realm* realm = r->realm;
  if (realm == NULL) { /* the realm went away meanwhile */
    free(r->data);
    free(r->path);
    free(r);
    return;
  }
  untrack_read(realm, r);
  iso_mod* m = r->mod;
  m->read = NULL;
  if (status != 0 && r->err == 0) {
    r->err = ISO_EIO;
    snprintf(r->errmsg, sizeof(r->errmsg), "%s", uv_strerror(status));
  }
  if (r->err == ISO_ENOENT) {
    m->state = MOD_FAILED;
    iso__error_set(&m->err, ISO_ENOENT, ISO_JS_UNCAUGHT, "TypeError",
                   "Module not found \"%s\"", m->url);
  } else if (r->err != 0) {
    m->state = MOD_FAILED;
    iso__error_set(&m->err, r->err, ISO_JS_UNCAUGHT,
                   r->err == ISO_ETOOBIG ? "RangeError" : "TypeError",
                   "Cannot load module \"%s\": %s", m->url, r->errmsg);
  } else {
    iso__mod_set_source(realm, m, r->data, r->len);
  }
  free(r->data);
  free(r->path);
  free(r);
  mod_ready(realm, m);
  mod_release_failed(realm, m); /* its loads were all freed meanwhile */
  iso__rt_wake(realm->rt);
}

iso_load* iso__load_start(iso_realm* realm, iso_mod* root) {
  iso_load* load = calloc(1, sizeof(*load));
  if (load == NULL) {
    return NULL;
  }
  load->realm = realm;
  load->root = root;
  load_visit(load, root, NULL, NULL);
  load_finish(load);
  return load;
}

void iso__load_free(iso_load* load) {
  if (load == NULL) {
    return;
  }
  /* drop this load from every record it visited: its waiters (only
   * records it visited can have them), its count, and a failed record
   * nobody else holds */
  for (size_t i = 0; i < load->capvisited; i++) {
    iso_mod* m = load->visited[i];
    if (m == NULL) {
      continue;
    }
    iso_waiter** pp = &m->waiters;
    while (load->pending > 0 && *pp != NULL) {
      iso_waiter* w = *pp;
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
    mod_release_failed(load->realm, m);
  }
  iso_js_error_clear(&load->err);
  free(load->visited);
  free(load);
}

void iso__loader_realm_free(iso_realm* realm) {
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
  iso_mod* m = realm->modules;
  while (m != NULL) {
    iso_mod* next = m->next;
    mod_free(realm, m);
    m = next;
  }
  realm->modules = NULL;
  realm->nmods = 0;
  memset(realm->buckets, 0, sizeof(realm->buckets));
}

/* ---- host callbacks from V8 ---- */

v8s_ref iso__host_resolve(void* realm_p,
                          const char* specifier,
                          const char* type,
                          v8s_ref referrer,
                          char* err,
                          size_t errlen) {
  iso_realm* realm = realm_p;
  iso_mod* from = iso__mod_by_ref(realm, referrer);
  if (from == NULL) {
    snprintf(err, errlen, "Cannot resolve \"%s\": unknown importer", specifier);
    return 0;
  }
  char* url = NULL;
  if (iso__resolve(realm->rt, specifier, from->url, &url, err, errlen) != 0) {
    return 0;
  }
  iso_mod* m = iso__mod_find(realm, url);
  int is_json = 0;
  if (iso__json_type(type, url, &is_json, err, errlen) != 0) {
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
  for (const iso_dyn* d = realm->dyns; d != NULL && n < MAX_PENDING_DYN;
       d = d->next) {
    n++;
  }
  return n;
}

int iso__host_dyn_import(void* realm_p,
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
  int rc = iso__resolve(realm->rt, specifier, referrer_url, &url, err, errlen);
  int is_json = 0;
  if (rc == 0) {
    rc = iso__json_type(type, url, &is_json, err, errlen);
  }
  if (rc == 0 && !is_json && (type == NULL || type[0] == '\0')) {
    size_t n = strlen(url);
    /* import("./x.json", { with: { type: "json" } }): V8 10.2 drops the
     * `with` option, so a .json file is taken as JSON. */
    is_json = n > 5 && strcmp(url + n - 5, ".json") == 0;
  }
  if (rc == 0 && map_full(realm, url, err, errlen)) {
    rc = ISO_ETOOBIG;
  }
  if (rc == 0 && pending_dyns(realm) >= MAX_PENDING_DYN) {
    snprintf(err, errlen,
             "Cannot import \"%.300s\": %d dynamic imports are in flight in "
             "this realm already (await some first)",
             specifier, MAX_PENDING_DYN);
    rc = ISO_ETOOBIG;
  }
  iso_dyn* d = rc == 0 ? calloc(1, sizeof(*d)) : NULL;
  iso_mod* m = d != NULL ? iso__mod_get(realm, url, is_json) : NULL;
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
  d->load = iso__load_start(realm, m);
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

void iso__host_import_meta(void* realm_p,
                           v8s_ref module,
                           const char** url,
                           int* is_main) {
  iso_realm* realm = realm_p;
  iso_mod* m = iso__mod_by_ref(realm, module);
  if (m != NULL) {
    *url = m->url;
    *is_main = m == realm->main_mod;
  }
}
