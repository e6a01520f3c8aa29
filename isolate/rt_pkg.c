/* rt_pkg.c: bare and "#" specifiers, resolved as Node's ESM resolver does.
 *
 * iso__rt_resolve (rt_resolve.c) hands over every specifier that is not a
 * path, a file:// URL or an isopool: module, and checks what comes back
 * against the module root as it checks a path. This file follows the
 * algorithm of Node's ESM documentation ("Resolution Algorithm
 * Specification"), with its names in the comments: PACKAGE_RESOLVE tries
 * PACKAGE_SELF_RESOLVE, then walks up node_modules folders from the
 * importer's directory, never above the module root; a package's
 * "exports" (PACKAGE_EXPORTS_RESOLVE) and "imports"
 * (PACKAGE_IMPORTS_RESOLVE) go through PACKAGE_IMPORTS_EXPORTS_RESOLVE
 * (exact keys, then one-"*" patterns by PATTERN_KEY_COMPARE's longest
 * prefix) and PACKAGE_TARGET_RESOLVE (strings, conditions, arrays of
 * fallbacks, null); a package without "exports" has Node's legacy main
 * resolution ("main", then main.js, main.json, main/index.js,
 * main/index.json, then index.js, index.json), and "pkg/sub/path" names
 * the file in the package's directory. The conditions are one table
 * (esm_conditions: "import", "module", "default", matched in the order the
 * package lists them, as Node does); require() passes its own
 * (require_conditions: "require", "default").
 * A resolved file is given by its real path when it has one inside the
 * root (Node's ESM_RESOLVE takes the real path: a package linked into
 * node_modules, as pnpm does, finds its own dependencies next to it).
 *
 * CommonJS (rt_cjs.c runs it) needs two more answers from here. What a
 * file is (iso__rt_pkg_format): .mjs an ES module, .cjs CommonJS, .json
 * JSON; another file by its package scope's "type": "module" or
 * "commonjs"; with no "type", CommonJS inside node_modules (where it may
 * still turn out to be an ES module: V8S_FMT_DETECT, Node's
 * detect-module) and an ES module elsewhere, so the modules written for
 * isopool before CommonJS (every .js an ES module) keep working. And
 * where require(x) leads (iso__rt_pkg_require): paths as Node's
 * LOAD_AS_FILE then LOAD_AS_DIRECTORY, "#" specifiers through "imports",
 * package names through PACKAGE_RESOLVE with the require conditions (a
 * subpath of a package without "exports" searched as a file then a
 * directory, pctx.cjs); the file's real path, inside the module root.
 *
 * Where it differs from Node: there are no Node built-ins ("fs",
 * "node:path" fail with an error naming the built-in and the importer, and
 * the package that needs it), no ".node" addons among the main fallbacks,
 * no "node" condition, and the walk stops at the module root.
 *
 * Errors name the specifier, the importer and what was tried: the
 * node_modules folders looked in, the "exports" or "imports" key that did
 * not match, the main fallbacks.
 *
 * package.json files are read synchronously on the isolate's thread (a
 * resolution answers a V8 callback at once), as rt_read.c reads modules:
 * canonicalised and checked against the module root, opened without
 * following symlinks or blocking (iso__rt_open_module), a regular file of
 * at most PKG_JSON_MAX bytes, parsed by codec/iso_json.h into msgpack
 * that the functions below walk with the codec's reader. Each runtime
 * caches them (rt->pkgs: path -> the msgpack and its fields), at most
 * PKG_CACHE_MAX files and PKG_CACHE_BYTES of msgpack after each
 * resolution, least recently used out first; an entry is used only while
 * the file's inode, size and mtime are those it was read with, so an
 * edited package.json is read again. Nothing is freed during a
 * resolution (it may hold several entries): stale and evicted entries go
 * at its end (cache_trim).
 *
 * Thread: the runtime's own (its loop's).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "rt_private.h"

/* A package.json larger than this is refused (the largest on npm are a
 * few hundred KiB: "exports" maps of thousands of files). */
#define PKG_JSON_MAX ((size_t)8 << 20)
/* The cache, per runtime, after each resolution. */
#define PKG_CACHE_MAX 256
#define PKG_CACHE_BYTES ((size_t)8 << 20)
/* PACKAGE_RESOLVE nested through "imports" targets naming packages. */
#define PKG_MAX_DEPTH 8

/* PACKAGE_TARGET_RESOLVE's outcomes besides a path (0) and an error (<0). */
enum { R_UNDEF = 1, R_NULL = 2 };

/* The conditions an ES module import matches, in one table: the CommonJS
 * step adds a set with "require". "default" always matches. */
static const char* const esm_conditions[] = {"import", "module", "default",
                                             NULL};
/* require() from a CommonJS module: Node's set without "node" (isopool is
 * not Node: a package's "node" build is the one that needs its built-ins),
 * as the ESM set has no "node" either. */
static const char* const require_conditions[] = {"require", "default", NULL};

/* Node's built-in module names (v18): a bare specifier equal to one of
 * them, or any "node:" specifier, is a built-in, which isopool has not. */
// clang-format off
static const char* const node_builtins[] = {
    "assert", "assert/strict", "async_hooks", "buffer", "child_process",
    "cluster", "console", "constants", "crypto", "dgram",
    "diagnostics_channel", "dns", "dns/promises", "domain", "events", "fs",
    "fs/promises", "http", "http2", "https", "inspector", "module", "net",
    "os", "path", "path/posix", "path/win32", "perf_hooks", "process",
    "punycode", "querystring", "readline", "readline/promises", "repl",
    "stream", "stream/consumers", "stream/promises", "stream/web",
    "string_decoder", "sys", "timers", "timers/promises", "tls",
    "trace_events", "tty", "url", "util", "util/types", "v8", "vm", "wasi",
    "worker_threads", "zlib", NULL};
// clang-format on

/* One msgpack value's bytes inside a pkg_json's mp; {NULL, 0}: absent. */
typedef struct mpv {
  const uint8_t* p;
  size_t n;
} mpv;

/* A parsed package.json, as cached. */
typedef struct pkg_json {
  struct pkg_json *prev, *next; /* the cache's list, most recent first */
  char* path;                   /* .../package.json as looked up: the key */
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  uint8_t* mp;
  size_t len;
  mpv name, main, type, exports, imports;
} pkg_json;

struct rt_pkgs {
  pkg_json* head;
  pkg_json* tail;
  pkg_json* retired; /* stale entries, freed by cache_trim */
  size_t n, bytes;
};

/* One resolution: what its messages name. */
typedef struct pctx {
  iso_rt* rt;
  const char* spec;     /* as imported */
  const char* importer; /* the importer's URL */
  const char* const* conds;
  char* err;
  size_t errlen;
  int invalid_target; /* the last error was an invalid target (arrays go
                         on to their next fallback) */
  int depth;
  int cjs; /* a require(): a package subpath without "exports" is looked
              up as Node's CommonJS does (LOAD_AS_FILE, LOAD_AS_DIRECTORY) */
} pctx;

static char* strfmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

static char* strfmt(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    return NULL;
  }
  char* s = malloc((size_t)n + 1);
  if (s != NULL) {
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  return s;
}

static int fail(pctx* c, int rc, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(pctx* c, int rc, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  c->invalid_target = 0;
  return rc;
}

static int oom(pctx* c) {
  return fail(c, ISO_ENOMEM, "out of memory");
}

/* dir + "/" + rest, where dir may be "/". */
static char* path_join(const char* dir, const char* rest, size_t restlen) {
  return strfmt("%s/%.*s", strcmp(dir, "/") == 0 ? "" : dir, (int)restlen,
                rest);
}

/* The parent directory of an absolute path, in place ("/a" -> "/"). */
static void path_up(char* p) {
  char* s = strrchr(p, '/');
  if (s == NULL || s == p) {
    strcpy(p, "/");
  } else {
    *s = '\0';
  }
}

static int is_dir(const char* p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char* p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Appends ", item" (or item) to the list in buf, cut at its size. */
static void list_add(char* buf, size_t cap, const char* item) {
  size_t n = strlen(buf);
  snprintf(buf + n, cap - n, "%s%s", n > 0 ? ", " : "", item);
}

/* ---- msgpack views (the bytes come from iso_json, so they are well
 * formed; every read is checked all the same) ---- */

static int mp_head(mpv v, iso_mp_obj* o, iso_mp_rd* r) {
  if (v.p == NULL) {
    return -1;
  }
  iso_mp_rd_init(r, v.p, v.n);
  return iso_mp_read(r, o) == 0 ? 0 : -1;
}

static int mp_kind(mpv v) {
  iso_mp_obj o;
  iso_mp_rd r;
  return mp_head(v, &o, &r) == 0 ? (int)o.type : -1;
}

/* 1 iff v is a string without NUL: *s, *n point into it. */
static int mp_str(mpv v, const char** s, size_t* n) {
  iso_mp_obj o;
  iso_mp_rd r;
  if (mp_head(v, &o, &r) != 0 || o.type != ISO_MP_STR ||
      memchr(o.data, '\0', o.len) != NULL) {
    return 0;
  }
  *s = (const char*)o.data;
  *n = o.len;
  return 1;
}

/* A map's or an array's elements, in order. */
typedef struct mp_it {
  iso_mp_rd r;
  uint32_t left;
  int map;
} mp_it;

static int mp_begin(mpv v, mp_it* it, iso_mp_type want) {
  iso_mp_obj o;
  if (mp_head(v, &o, &it->r) != 0 || o.type != want) {
    return 0;
  }
  it->left = o.len;
  it->map = want == ISO_MP_MAP;
  return 1;
}

static int mp_value(iso_mp_rd* r, mpv* val) {
  int deep = 0;
  val->p = r->p;
  if (iso_mp_skip(r, 1, 128, &deep) != 0) {
    return 0;
  }
  val->n = (size_t)(r->p - val->p);
  return 1;
}

/* The next pair (maps: *k, *kn the key, a string) or element (arrays). */
static int mp_next(mp_it* it, const char** k, size_t* kn, mpv* val) {
  if (it->left == 0) {
    return 0;
  }
  it->left--;
  if (it->map) {
    iso_mp_obj o;
    if (iso_mp_read(&it->r, &o) != 0 || o.type != ISO_MP_STR) {
      return 0;
    }
    *k = (const char*)o.data;
    *kn = o.len;
  }
  return mp_value(&it->r, val);
}

static int key_is(const char* k, size_t kn, const char* s) {
  return strlen(s) == kn && memcmp(k, s, kn) == 0;
}

/* The value of key in the map v (the last one, as JSON.parse keeps). */
static mpv mp_get(mpv v, const char* key) {
  mpv found = {NULL, 0}, val;
  mp_it it;
  const char* k;
  size_t kn;
  if (mp_begin(v, &it, ISO_MP_MAP)) {
    while (mp_next(&it, &k, &kn, &val)) {
      if (key_is(k, kn, key)) {
        found = val;
      }
    }
  }
  return found;
}

/* ---- package.json files and their cache ---- */

static void pj_free(pkg_json* pj) {
  if (pj != NULL) {
    free(pj->path);
    free(pj->mp);
    free(pj);
  }
}

static void cache_unlink(struct rt_pkgs* pc, pkg_json* pj) {
  if (pj->prev != NULL) {
    pj->prev->next = pj->next;
  } else {
    pc->head = pj->next;
  }
  if (pj->next != NULL) {
    pj->next->prev = pj->prev;
  } else {
    pc->tail = pj->prev;
  }
  pj->prev = pj->next = NULL;
  pc->n--;
  pc->bytes -= pj->len;
}

static void cache_push(struct rt_pkgs* pc, pkg_json* pj) {
  pj->prev = NULL;
  pj->next = pc->head;
  if (pc->head != NULL) {
    pc->head->prev = pj;
  } else {
    pc->tail = pj;
  }
  pc->head = pj;
  pc->n++;
  pc->bytes += pj->len;
}

/* After a resolution: frees the stale entries and the least recently used
 * ones past the bounds. */
static void cache_trim(struct rt_pkgs* pc) {
  while (pc->retired != NULL) {
    pkg_json* pj = pc->retired;
    pc->retired = pj->next;
    pj_free(pj);
  }
  while (pc->tail != NULL &&
         (pc->n > PKG_CACHE_MAX || pc->bytes > PKG_CACHE_BYTES)) {
    pkg_json* pj = pc->tail;
    cache_unlink(pc, pj);
    pj_free(pj);
  }
}

void iso__rt_pkg_cache_free(iso_rt* rt) {
  struct rt_pkgs* pc = rt->pkgs;
  if (pc == NULL) {
    return;
  }
  while (pc->head != NULL) {
    pkg_json* pj = pc->head;
    cache_unlink(pc, pj);
    pj_free(pj);
  }
  cache_trim(pc);
  free(pc);
  rt->pkgs = NULL;
}

/* Reads path (a package.json that exists) into a new entry. */
static int pj_load(pctx* c, const char* path, pkg_json** out) {
  char* text;
  size_t got;
  struct stat st;
  char why[512];
  int rc = iso__rt_read_file(c->rt->root, path, PKG_JSON_MAX, "a package.json",
                             &text, &got, &st, why, sizeof(why));
  if (rc == ISO_ENOMEM) {
    return oom(c);
  }
  if (rc != 0) {
    return fail(c, rc, "Cannot read %s: %s (imported as \"%s\" from \"%s\")",
                path, why, c->spec, c->importer);
  }
  /* a UTF-8 byte order mark, which editors on some systems write */
  size_t skip = got >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  iso_buf mp;
  iso_buf_init(&mp);
  iso_json_error je = {0};
  rc = iso_json_to_msgpack_ex(text + skip, got - skip, &mp, &je);
  free(text);
  if (rc == ISO_ENOMEM) {
    iso_buf_close(&mp);
    return oom(c);
  }
  mpv top = {mp.data, mp.len};
  if (rc != 0 || mp_kind(top) != ISO_MP_MAP) {
    iso_buf_close(&mp);
    if (rc != 0) {
      return fail(c, ISO_EINVAL,
                  "Invalid package configuration %s: %s at line %d, column %d "
                  "(imported as \"%s\" from \"%s\")",
                  path, je.message, je.line, je.column, c->spec, c->importer);
    }
    return fail(c, ISO_EINVAL,
                "Invalid package configuration %s: not a JSON object "
                "(imported as \"%s\" from \"%s\")",
                path, c->spec, c->importer);
  }
  pkg_json* pj = calloc(1, sizeof(*pj));
  if (pj == NULL || (pj->path = strdup(path)) == NULL) {
    free(pj);
    iso_buf_close(&mp);
    return oom(c);
  }
  pj->mp = mp.data; /* iso_buf_init's buffer is heap memory, now the entry's */
  pj->len = mp.len;
  pj->dev = st.st_dev;
  pj->ino = st.st_ino;
  pj->size = st.st_size;
  pj->mtime = st.st_mtim;
  top.p = pj->mp;
  pj->name = mp_get(top, "name");
  pj->main = mp_get(top, "main");
  pj->type = mp_get(top, "type");
  pj->exports = mp_get(top, "exports");
  pj->imports = mp_get(top, "imports");
  *out = pj;
  return 0;
}

/* READ_PACKAGE_JSON: dir's package.json, or *out NULL when there is none.
 * The entry stays valid until the resolution ends (cache_trim). */
static int read_pjson(pctx* c, const char* dir, pkg_json** out) {
  *out = NULL;
  char* path = path_join(dir, "package.json", 12);
  if (path == NULL) {
    return oom(c);
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    int e = errno;
    free(path);
    if (e == ENOENT || e == ENOTDIR) {
      return 0;
    }
    return fail(c, ISO_EIO, "Cannot read %s/package.json: %s", dir,
                strerror(e));
  }
  struct rt_pkgs* pc = c->rt->pkgs;
  for (pkg_json* pj = pc->head; pj != NULL; pj = pj->next) {
    if (strcmp(pj->path, path) != 0) {
      continue;
    }
    cache_unlink(pc, pj);
    if (pj->dev == st.st_dev && pj->ino == st.st_ino &&
        pj->size == st.st_size && pj->mtime.tv_sec == st.st_mtim.tv_sec &&
        pj->mtime.tv_nsec == st.st_mtim.tv_nsec) {
      cache_push(pc, pj);
      free(path);
      *out = pj;
      return 0;
    }
    pj->next = pc->retired; /* edited since: read it again */
    pc->retired = pj;
    break;
  }
  pkg_json* pj = NULL;
  int rc = pj_load(c, path, &pj);
  free(path);
  if (rc != 0) {
    return rc;
  }
  cache_push(pc, pj);
  *out = pj;
  return 0;
}

/* LOOKUP_PACKAGE_SCOPE: the nearest package.json from dir up to the
 * module root, not crossing a node_modules folder. *scope: its directory
 * (the caller frees it), NULL with *pj when there is none. */
static int lookup_scope(pctx* c, const char* dir, pkg_json** pj, char** scope) {
  *pj = NULL;
  *scope = NULL;
  char* d = strdup(dir);
  if (d == NULL) {
    return oom(c);
  }
  for (;;) {
    const char* base = strrchr(d, '/');
    if (base != NULL && strcmp(base + 1, "node_modules") == 0) {
      break;
    }
    int rc = read_pjson(c, d, pj);
    if (rc != 0) {
      free(d);
      return rc;
    }
    if (*pj != NULL) {
      *scope = d;
      return 0;
    }
    if (strcmp(d, c->rt->root) == 0 || strcmp(d, "/") == 0) {
      break;
    }
    path_up(d);
  }
  free(d);
  return 0;
}

/* ---- targets, exports and imports ---- */

static int pkg_resolve(pctx* c, const char* spec, const char* dir, char** out);

/* What a key or target is called in messages: "exports" or "imports". */
static const char* field_of(int is_imports) {
  return is_imports ? "imports" : "exports";
}

/* 1 iff the segment [s, s+n), percent-decoded and without case, is "",
 * ".", ".." or "node_modules". */
static int bad_segment(const char* s, size_t n) {
  char d[16];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%' && i + 2 < n) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      char* end;
      long v = strtol(hex, &end, 16);
      if (*end == '\0') {
        ch = (char)v;
        i += 2;
      }
    }
    if (m == sizeof(d) - 1) {
      return 0; /* longer than "node_modules": fine */
    }
    d[m++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  d[m] = '\0';
  return m == 0 || strcmp(d, ".") == 0 || strcmp(d, "..") == 0 ||
         strcmp(d, "node_modules") == 0;
}

/* 1 iff a segment of [s, s+n) (split on "/" or "\"), from segment `from`
 * on, is a bad one. */
static int bad_segments(const char* s, size_t n, int from) {
  int idx = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '/' || s[i] == '\\') {
      if (idx >= from && bad_segment(s + start, i - start)) {
        return 1;
      }
      idx++;
      start = i + 1;
    }
  }
  return 0;
}

/* t with every "*" replaced by pm (or t itself when pm is NULL). */
static char* replace_stars(const char* t, size_t tn, const char* pm) {
  size_t stars = 0;
  for (size_t i = 0; i < tn; i++) {
    stars += t[i] == '*';
  }
  size_t pml = pm != NULL ? strlen(pm) : 0;
  char* s = malloc(tn + (pm != NULL ? stars * pml : 0) + 1);
  if (s == NULL) {
    return NULL;
  }
  size_t o = 0;
  for (size_t i = 0; i < tn; i++) {
    if (t[i] == '*' && pm != NULL) {
      memcpy(s + o, pm, pml);
      o += pml;
    } else {
      s[o++] = t[i];
    }
  }
  s[o] = '\0';
  return s;
}

/* Where a target came from, for its errors. */
typedef struct tgt_at {
  const char* pkgdir;
  const char* pjpath; /* its package.json */
  const char* key;    /* the "exports" or "imports" key */
  int is_imports;
} tgt_at;

static int invalid_target(pctx* c, const tgt_at* at, const char* t, size_t tn) {
  int rc = fail(c, ISO_EINVAL,
                "Invalid \"%s\" target \"%.*s\" for \"%s\" in %s (imported as "
                "\"%s\" from \"%s\"): a target starts with \"./\" and has no "
                "\"..\", \".\" or \"node_modules\" segments",
                field_of(at->is_imports), (int)tn, t, at->key, at->pjpath,
                c->spec, c->importer);
  c->invalid_target = 1;
  return rc;
}

static int invalid_config(pctx* c, const char* pjpath, const char* why) {
  return fail(c, ISO_EINVAL,
              "Invalid package configuration %s: %s (imported as \"%s\" from "
              "\"%s\")",
              pjpath, why, c->spec, c->importer);
}

/* PACKAGE_TARGET_RESOLVE: 0 and *out, R_UNDEF (no condition matched),
 * R_NULL (excluded), or an error. pm: the pattern's match, or NULL. */
static int target_resolve(pctx* c,
                          const tgt_at* at,
                          mpv target,
                          const char* pm,
                          int depth,
                          char** out) {
  if (depth > 32) {
    return invalid_config(c, at->pjpath, "conditions nest too deeply");
  }
  const char* t;
  size_t tn;
  mp_it it;
  int kind = mp_kind(target);
  if (kind == ISO_MP_STR) {
    if (!mp_str(target, &t, &tn)) {
      return invalid_target(c, at, "(a string with NUL)", 19);
    }
    if (!(tn >= 2 && t[0] == '.' && t[1] == '/')) {
      if (!at->is_imports || (tn >= 3 && memcmp(t, "../", 3) == 0) ||
          (tn >= 1 && t[0] == '/') || iso__rt_url_scheme(t, tn) > 0) {
        return invalid_target(c, at, t, tn);
      }
      /* "imports" may map to a package */
      char* spec = replace_stars(t, tn, pm);
      if (spec == NULL) {
        return oom(c);
      }
      int rc = pkg_resolve(c, spec, at->pkgdir, out);
      free(spec);
      return rc;
    }
    if (bad_segments(t, tn, 1)) {
      return invalid_target(c, at, t, tn);
    }
    if (pm != NULL && bad_segments(pm, strlen(pm), 0)) {
      return fail(c, ISO_EINVAL,
                  "Invalid module specifier \"%s\" imported from \"%s\": "
                  "\"%s\" matched by \"%s\" in %s has \"..\", \".\" or "
                  "\"node_modules\" segments",
                  c->spec, c->importer, pm, at->key, at->pjpath);
    }
    char* rel = replace_stars(t + 1, tn - 1, pm); /* "/dist/x.js" */
    if (rel == NULL) {
      return oom(c);
    }
    *out = strfmt("%s%s", at->pkgdir, rel);
    free(rel);
    return *out != NULL ? 0 : oom(c);
  }
  if (kind == ISO_MP_MAP) {
    const char* k;
    size_t kn;
    mpv val;
    mp_begin(target, &it, ISO_MP_MAP);
    while (mp_next(&it, &k, &kn, &val)) {
      size_t digits = 0;
      while (digits < kn && k[digits] >= '0' && k[digits] <= '9') {
        digits++;
      }
      if (kn > 0 && digits == kn) {
        return invalid_config(c, at->pjpath,
                              "a condition is a number (an array index)");
      }
    }
    mp_begin(target, &it, ISO_MP_MAP);
    while (mp_next(&it, &k, &kn, &val)) {
      int match = 0;
      for (const char* const* cond = c->conds; *cond != NULL; cond++) {
        match |= key_is(k, kn, *cond);
      }
      if (!match && !key_is(k, kn, "default")) {
        continue;
      }
      int rc = target_resolve(c, at, val, pm, depth + 1, out);
      if (rc != R_UNDEF) {
        return rc;
      }
    }
    return R_UNDEF;
  }
  if (kind == ISO_MP_ARRAY) {
    mpv val;
    mp_begin(target, &it, ISO_MP_ARRAY);
    if (it.left == 0) {
      return R_NULL;
    }
    int last = R_UNDEF;
    while (mp_next(&it, NULL, NULL, &val)) {
      c->invalid_target = 0;
      int rc = target_resolve(c, at, val, pm, depth + 1, out);
      if (rc < 0 && c->invalid_target) {
        last = rc; /* its message stays in c->err */
        continue;
      }
      if (rc == R_UNDEF) {
        continue;
      }
      if (rc == R_NULL) {
        last = R_NULL;
        continue;
      }
      return rc;
    }
    return last;
  }
  if (kind == ISO_MP_NIL) {
    return R_NULL;
  }
  return invalid_target(c, at, "(not a string, object, array or null)", 38);
}

/* PATTERN_KEY_COMPARE for two keys with one "*" each: < 0 when a is the
 * more specific (a longer prefix before the "*", then a longer key). */
static int pattern_cmp(const char* a, size_t an, const char* b, size_t bn) {
  size_t ba = (size_t)((const char*)memchr(a, '*', an) - a) + 1;
  size_t bb = (size_t)((const char*)memchr(b, '*', bn) - b) + 1;
  if (ba != bb) {
    return ba > bb ? -1 : 1;
  }
  if (an != bn) {
    return an > bn ? -1 : 1;
  }
  return 0;
}

/* PACKAGE_IMPORTS_EXPORTS_RESOLVE: match_key in the map obj; R_NULL when
 * no key matches. at->key is filled with the key that did. */
static int ie_resolve(pctx* c,
                      tgt_at* at,
                      const char* match_key,
                      mpv obj,
                      char* keybuf,
                      size_t keylen,
                      char** out) {
  mp_it it;
  const char* k;
  size_t kn;
  mpv val;
  size_t mlen = strlen(match_key);
  if (strchr(match_key, '*') == NULL) {
    mpv exact = mp_get(obj, match_key);
    if (exact.p != NULL) {
      snprintf(keybuf, keylen, "%s", match_key);
      at->key = keybuf;
      return target_resolve(c, at, exact, NULL, 0, out);
    }
  }
  const char* best = NULL;
  size_t bestn = 0;
  mpv bestv = {NULL, 0};
  mp_begin(obj, &it, ISO_MP_MAP);
  while (mp_next(&it, &k, &kn, &val)) {
    const char* star = memchr(k, '*', kn);
    if (star == NULL || memchr(star + 1, '*', kn - (size_t)(star - k) - 1)) {
      continue; /* not a pattern, or more than one "*" */
    }
    size_t base = (size_t)(star - k);
    size_t trail = kn - base - 1;
    if (!(mlen > base && memcmp(match_key, k, base) == 0)) {
      continue;
    }
    if (trail > 0 && !(mlen >= kn && memcmp(match_key + mlen - trail, star + 1,
                                            trail) == 0)) {
      continue;
    }
    if (best == NULL || pattern_cmp(k, kn, best, bestn) < 0) {
      best = k;
      bestn = kn;
      bestv = val;
    }
  }
  if (best == NULL) {
    return R_NULL;
  }
  size_t base = (size_t)((const char*)memchr(best, '*', bestn) - best);
  size_t trail = bestn - base - 1;
  char* pm = strfmt("%.*s", (int)(mlen - base - trail), match_key + base);
  if (pm == NULL) {
    return oom(c);
  }
  snprintf(keybuf, keylen, "%.*s", (int)bestn, best);
  at->key = keybuf;
  int rc = target_resolve(c, at, bestv, pm, 0, out);
  free(pm);
  return rc;
}

/* PACKAGE_EXPORTS_RESOLVE: subpath is "." or "./x". */
static int exports_resolve(pctx* c,
                           const char* pkgdir,
                           const pkg_json* pj,
                           const char* subpath,
                           char** out) {
  char keybuf[256];
  tgt_at at = {.pkgdir = pkgdir, .pjpath = pj->path, .key = subpath};
  mpv ex = pj->exports;
  int kind = mp_kind(ex);
  int dot_keys = 0, other_keys = 0;
  if (kind == ISO_MP_MAP) {
    mp_it it;
    const char* k;
    size_t kn;
    mpv val;
    mp_begin(ex, &it, ISO_MP_MAP);
    while (mp_next(&it, &k, &kn, &val)) {
      if (kn > 0 && k[0] == '.') {
        dot_keys = 1;
      } else {
        other_keys = 1;
      }
    }
    if (dot_keys && other_keys) {
      return invalid_config(c, pj->path,
                            "\"exports\" mixes subpaths (keys starting with "
                            "\".\") and conditions");
    }
  }
  int rc = R_NULL;
  if (strcmp(subpath, ".") == 0) {
    mpv main = {NULL, 0};
    if (kind != ISO_MP_MAP || !dot_keys) {
      main = ex;
    } else {
      main = mp_get(ex, ".");
    }
    if (main.p != NULL) {
      rc = target_resolve(c, &at, main, NULL, 0, out);
      if (rc <= 0) {
        return rc;
      }
    }
    return fail(c, ISO_ENOENT,
                "No \"exports\" main defined in %s (imported as \"%s\" from "
                "\"%s\")",
                pj->path, c->spec, c->importer);
  }
  if (kind == ISO_MP_MAP && dot_keys) {
    rc = ie_resolve(c, &at, subpath, ex, keybuf, sizeof(keybuf), out);
    if (rc <= 0) {
      return rc;
    }
  }
  return fail(c, ISO_ENOENT,
              "Package subpath \"%s\" is not defined by \"exports\" in %s "
              "(imported as \"%s\" from \"%s\")",
              subpath, pj->path, c->spec, c->importer);
}

/* PACKAGE_IMPORTS_RESOLVE: a "#" specifier from a module in dir. */
static int imports_resolve(pctx* c,
                           const char* spec,
                           const char* dir,
                           char** out) {
  if (strcmp(spec, "#") == 0 || strncmp(spec, "#/", 2) == 0) {
    return fail(c, ISO_EINVAL,
                "Invalid module specifier \"%s\" imported from \"%s\": \"#\" "
                "and \"#/...\" are not valid \"imports\" keys",
                spec, c->importer);
  }
  pkg_json* pj = NULL;
  char* scope = NULL;
  int rc = lookup_scope(c, dir, &pj, &scope);
  if (rc != 0) {
    return rc;
  }
  if (pj == NULL) {
    return fail(c, ISO_ENOENT,
                "Package import specifier \"%s\" imported from \"%s\" is not "
                "defined: no package.json above it within the module root "
                "\"%s\"",
                spec, c->importer, c->rt->root);
  }
  if (mp_kind(pj->imports) == ISO_MP_MAP) {
    char keybuf[256];
    tgt_at at = {
        .pkgdir = scope, .pjpath = pj->path, .key = spec, .is_imports = 1};
    rc = ie_resolve(c, &at, spec, pj->imports, keybuf, sizeof(keybuf), out);
    if (rc <= 0) {
      free(scope);
      return rc;
    }
  }
  free(scope);
  return fail(c, ISO_ENOENT,
              "Package import specifier \"%s\" is not defined in %s "
              "(imported from \"%s\")",
              spec, pj->path, c->importer);
}

/* Node's legacy main resolution, for a package without "exports". */
static int legacy_main(pctx* c,
                       const char* pkgdir,
                       const pkg_json* pj,
                       const char* name,
                       char** out) {
  static const char* const with_main[] = {"", ".js", ".json", "/index.js",
                                          "/index.json"};
  static const char* const without[] = {"index.js", "index.json"};
  char tried[512] = "";
  const char* m;
  size_t mn;
  if (pj != NULL && mp_str(pj->main, &m, &mn) && mn > 0) {
    char* main = strfmt("%.*s", (int)mn, m);
    if (main == NULL) {
      return oom(c);
    }
    for (size_t i = 0; i < sizeof(with_main) / sizeof(*with_main); i++) {
      char* rel = strfmt("%s%s", main, with_main[i]);
      char* p = rel != NULL ? path_join(pkgdir, rel, strlen(rel)) : NULL;
      if (p == NULL) {
        free(rel);
        free(main);
        return oom(c);
      }
      if (is_file(p)) {
        free(rel);
        free(main);
        *out = p;
        return 0;
      }
      list_add(tried, sizeof(tried), rel);
      free(rel);
      free(p);
    }
    free(main);
  }
  for (size_t i = 0; i < sizeof(without) / sizeof(*without); i++) {
    char* p = path_join(pkgdir, without[i], strlen(without[i]));
    if (p == NULL) {
      return oom(c);
    }
    if (is_file(p)) {
      *out = p;
      return 0;
    }
    free(p);
    list_add(tried, sizeof(tried), without[i]);
  }
  return fail(c, ISO_ENOENT,
              "Cannot find the main entry of package \"%s\" in %s (tried %s; "
              "imported as \"%s\" from \"%s\")",
              name, pkgdir, tried, c->spec, c->importer);
}

static int is_builtin(const char* spec) {
  for (const char* const* b = node_builtins; *b != NULL; b++) {
    if (strcmp(spec, *b) == 0) {
      return 1;
    }
  }
  return 0;
}

/* The package the file at path belongs to: the name after its last
 * node_modules folder ("@scope/name" for a scoped one), in buf; 0 when it
 * is in none. */
static int package_of(const char* path, char* buf, size_t cap) {
  const char* last = NULL;
  for (const char* p = strstr(path, "/node_modules/"); p != NULL;
       p = strstr(p + 1, "/node_modules/")) {
    last = p;
  }
  if (last == NULL) {
    return 0;
  }
  const char* n = last + 14;
  const char* end = strchr(n, '/');
  if (end != NULL && n[0] == '@') {
    end = strchr(end + 1, '/');
  }
  if (end == NULL || end == n) {
    return 0;
  }
  snprintf(buf, cap, "%.*s", (int)(end - n), n);
  return 1;
}

/* A Node built-in asked for: the error names the package that needs it
 * when the importer is in one. */
static int builtin_error(pctx* c, const char* spec) {
  char pkg[256];
  const char* from = c->importer;
  const char* verb = c->cjs ? "require" : "import";
  if (package_of(strncmp(from, "file://", 7) == 0 ? from + 7 : from, pkg,
                 sizeof(pkg))) {
    return fail(c, ISO_ENOENT,
                "Cannot %s \"%s\" from \"%s\": package \"%s\" needs the "
                "Node.js built-in module \"%s\", which isopool does not have",
                verb, spec, from, pkg, spec);
  }
  return fail(c, ISO_ENOENT,
              "Cannot %s \"%s\" from \"%s\": it is a Node.js built-in "
              "module, and isopool has no Node.js built-ins",
              verb, spec, from);
}

static int load_file_or_dir(pctx* c, const char* x, char** out);

/* PACKAGE_RESOLVE: spec, a bare specifier, from a module in dir. */
static int pkg_resolve(pctx* c, const char* spec, const char* dir, char** out) {
  if (++c->depth > PKG_MAX_DEPTH) {
    return fail(c, ISO_EINVAL,
                "Cannot resolve \"%s\" imported from \"%s\": \"imports\" "
                "targets name packages more than %d deep",
                c->spec, c->importer, PKG_MAX_DEPTH);
  }
  if (spec[0] == '\0') {
    return fail(c, ISO_EINVAL,
                "Invalid module specifier \"\" imported from \"%s\"",
                c->importer);
  }
  if (strncmp(spec, "node:", 5) == 0 || is_builtin(spec)) {
    return builtin_error(c, spec);
  }
  const char* slash = strchr(spec, '/');
  if (spec[0] == '@') {
    if (slash == NULL || slash == spec + 1) {
      return fail(c, ISO_EINVAL,
                  "Invalid module specifier \"%s\" imported from \"%s\": a "
                  "scoped package is \"@scope/name\"",
                  spec, c->importer);
    }
    slash = strchr(slash + 1, '/');
  }
  size_t namelen = slash != NULL ? (size_t)(slash - spec) : strlen(spec);
  if (spec[0] == '.' || memchr(spec, '\\', namelen) != NULL ||
      memchr(spec, '%', namelen) != NULL ||
      (spec[0] == '@' && spec[namelen - 1] == '/')) {
    return fail(c, ISO_EINVAL,
                "Invalid module specifier \"%s\" imported from \"%s\": a "
                "package name does not start with \".\" nor contain \"\\\" or "
                "\"%%\"",
                spec, c->importer);
  }
  char name[PATH_MAX];
  if (namelen >= sizeof(name)) {
    return fail(c, ISO_EINVAL,
                "Invalid module specifier \"%.200s...\": too long", spec);
  }
  memcpy(name, spec, namelen);
  name[namelen] = '\0';
  char* subpath = strfmt(".%s", spec + namelen); /* "." or "./x" */
  if (subpath == NULL) {
    return oom(c);
  }
  /* ESM refuses "pkg/"; require() takes it as the package's folder
   * (LOAD_AS_DIRECTORY: how tr46 asks for npm's punycode, not Node's
   * built-in of that name) */
  if (!c->cjs && subpath[strlen(subpath) - 1] == '/') {
    free(subpath);
    return fail(c, ISO_EINVAL,
                "Invalid module specifier \"%s\" imported from \"%s\": it "
                "ends with \"/\"",
                spec, c->importer);
  }
  /* PACKAGE_SELF_RESOLVE */
  pkg_json* pj = NULL;
  char* scope = NULL;
  int rc = lookup_scope(c, dir, &pj, &scope);
  if (rc == 0 && pj != NULL && pj->exports.p != NULL &&
      mp_kind(pj->exports) != ISO_MP_NIL) {
    const char* n;
    size_t nn;
    if (mp_str(pj->name, &n, &nn) && nn == namelen &&
        memcmp(n, name, nn) == 0) {
      rc = exports_resolve(c, scope, pj, subpath, out);
      free(scope);
      free(subpath);
      return rc;
    }
  }
  free(scope);
  if (rc != 0) {
    free(subpath);
    return rc;
  }
  /* up the node_modules folders, from dir to the module root */
  char tried[512] = "";
  char* d = strdup(dir);
  if (d == NULL) {
    free(subpath);
    return oom(c);
  }
  for (;;) {
    char* nm = path_join(d, "node_modules", 12);
    char* pkgdir = nm != NULL ? strfmt("%s/%s", nm, name) : NULL;
    if (pkgdir == NULL) {
      free(nm);
      rc = oom(c);
      break;
    }
    list_add(tried, sizeof(tried), nm);
    free(nm);
    if (is_dir(pkgdir)) {
      rc = read_pjson(c, pkgdir, &pj);
      if (rc == 0 && pj != NULL && pj->exports.p != NULL &&
          mp_kind(pj->exports) != ISO_MP_NIL) {
        rc = exports_resolve(c, pkgdir, pj, subpath, out);
      } else if (rc == 0 && strcmp(subpath, ".") == 0) {
        rc = legacy_main(c, pkgdir, pj, name, out);
      } else if (rc == 0 && c->cjs) {
        char* x = strfmt("%s%s", pkgdir, subpath + 1);
        rc = x != NULL ? load_file_or_dir(c, x, out) : oom(c);
        free(x);
      } else if (rc == 0) {
        *out = strfmt("%s%s", pkgdir, subpath + 1);
        rc = *out != NULL ? 0 : oom(c);
      }
      free(pkgdir);
      free(d);
      free(subpath);
      return rc;
    }
    free(pkgdir);
    if (strcmp(d, c->rt->root) == 0 || strcmp(d, "/") == 0 ||
        !iso__rt_under(c->rt->root, d)) {
      break;
    }
    path_up(d);
  }
  free(d);
  free(subpath);
  if (rc != 0) {
    return rc;
  }
  return fail(c, ISO_ENOENT,
              "Cannot find package \"%s\" imported from \"%s\" (looked in %s; "
              "packages are looked up within the module root \"%s\")",
              name, c->importer, tried, c->rt->root);
}

int iso__rt_pkg_resolve(iso_rt* rt,
                        const char* specifier,
                        const char* referrer,
                        char** path,
                        char* err,
                        size_t errlen) {
  assert(iso__rt_on_thread(rt));
  *path = NULL;
  if (rt->pkgs == NULL) {
    rt->pkgs = calloc(1, sizeof(*rt->pkgs));
    if (rt->pkgs == NULL) {
      snprintf(err, errlen, "out of memory");
      return ISO_ENOMEM;
    }
  }
  pctx c = {.rt = rt,
            .spec = specifier,
            .importer = referrer[0] != '\0' ? referrer : rt->root,
            .conds = esm_conditions,
            .err = err,
            .errlen = errlen};
  /* the importer's directory; a script or a job (no file) starts at the
   * module root, as its relative imports do */
  char* dir = NULL;
  if (strncmp(referrer, "file://", 7) == 0 && referrer[7] == '/') {
    dir = strdup(referrer + 7);
    if (dir != NULL) {
      path_up(dir);
    }
  } else {
    dir = strdup(rt->root);
  }
  if (dir == NULL) {
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  if (!iso__rt_under(rt->root, dir)) {
    free(dir);
    dir = strdup(rt->root);
    if (dir == NULL) {
      snprintf(err, errlen, "out of memory");
      return ISO_ENOMEM;
    }
  }
  char* out = NULL;
  int rc = specifier[0] == '#' ? imports_resolve(&c, specifier, dir, &out)
                               : pkg_resolve(&c, specifier, dir, &out);
  free(dir);
  cache_trim(rt->pkgs);
  if (rc != 0) {
    free(out);
    return rc < 0 ? rc : ISO_ENOENT;
  }
  /* ESM_RESOLVE takes the real path: a package linked into node_modules
   * finds its dependencies next to its real place. One outside the root
   * keeps its path, which rt_read.c then refuses by name. */
  char real[PATH_MAX];
  if (realpath(out, real) != NULL && iso__rt_under(rt->root, real)) {
    char* r = strdup(real);
    if (r != NULL) {
      free(out);
      out = r;
    }
  }
  *path = out;
  return 0;
}

/* ---- CommonJS: formats and require() ---- */

static int cache_ready(iso_rt* rt, char* err, size_t errlen) {
  if (rt->pkgs == NULL) {
    rt->pkgs = calloc(1, sizeof(*rt->pkgs));
    if (rt->pkgs == NULL) {
      snprintf(err, errlen, "out of memory");
      return ISO_ENOMEM;
    }
  }
  return 0;
}

static int ends_with(const char* s, const char* suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The format of the file at path (V8S_FMT_*), as Node decides it, with
 * one difference: a .js file outside node_modules whose package.json has
 * no "type" stays an ES module, as every .js file was before CommonJS. */
static int file_format(pctx* c, const char* path, int* format) {
  if (ends_with(path, ".mjs")) {
    *format = V8S_FMT_ESM;
    return 0;
  }
  if (ends_with(path, ".cjs")) {
    *format = V8S_FMT_CJS;
    return 0;
  }
  if (ends_with(path, ".json")) {
    *format = V8S_FMT_JSON;
    return 0;
  }
  if (ends_with(path, ".node")) {
    return fail(c, ISO_EINVAL,
                "Cannot load \"%s\" (from \"%s\"): %s is a native addon "
                "(.node), which isopool cannot load",
                c->spec, c->importer, path);
  }
  char* dir = strdup(path);
  if (dir == NULL) {
    return oom(c);
  }
  path_up(dir);
  pkg_json* pj = NULL;
  char* scope = NULL;
  int rc = lookup_scope(c, dir, &pj, &scope);
  free(dir);
  free(scope);
  if (rc != 0) {
    return rc;
  }
  const char* t = NULL;
  size_t tn = 0;
  if (pj != NULL && mp_str(pj->type, &t, &tn) && key_is(t, tn, "module")) {
    *format = V8S_FMT_ESM;
  } else if (pj != NULL && mp_str(pj->type, &t, &tn) &&
             key_is(t, tn, "commonjs")) {
    *format = V8S_FMT_CJS;
  } else if (strstr(path, "/node_modules/") != NULL) {
    *format = V8S_FMT_DETECT;
  } else {
    *format = V8S_FMT_ESM;
  }
  return 0;
}

int iso__rt_pkg_format(iso_rt* rt,
                       const char* path,
                       int* format,
                       char* err,
                       size_t errlen) {
  assert(iso__rt_on_thread(rt));
  *format = V8S_FMT_ESM;
  int rc = cache_ready(rt, err, errlen);
  if (rc != 0) {
    return rc;
  }
  pctx c = {.rt = rt,
            .spec = path,
            .importer = path,
            .conds = require_conditions,
            .err = err,
            .errlen = errlen};
  rc = file_format(&c, path, format);
  cache_trim(rt->pkgs);
  return rc;
}

/* Node's LOAD_AS_FILE(x) (x, x.js, x.json), then LOAD_AS_DIRECTORY(x)
 * ("main", then index.js, index.json: legacy_main). */
static int load_file_or_dir(pctx* c, const char* x, char** out) {
  static const char* const exts[] = {"", ".js", ".json"};
  for (size_t i = 0; i < sizeof(exts) / sizeof(*exts); i++) {
    char* p = strfmt("%s%s", x, exts[i]);
    if (p == NULL) {
      return oom(c);
    }
    if (is_file(p)) {
      *out = p;
      return 0;
    }
    free(p);
  }
  if (is_dir(x)) {
    pkg_json* pj = NULL;
    int rc = read_pjson(c, x, &pj);
    if (rc != 0) {
      return rc;
    }
    return legacy_main(c, x, pj, c->spec, out);
  }
  return fail(c, ISO_ENOENT,
              "Cannot find module \"%s\" required from \"%s\" (tried %s, "
              "%s.js, %s.json and %s/ as a directory)",
              c->spec, c->importer, x, x, x, x);
}

int iso__rt_pkg_require(iso_rt* rt,
                        const char* specifier,
                        const char* parent,
                        char** path,
                        int* format,
                        char* err,
                        size_t errlen) {
  assert(iso__rt_on_thread(rt));
  *path = NULL;
  *format = V8S_FMT_ESM;
  int rc = cache_ready(rt, err, errlen);
  if (rc != 0) {
    return rc;
  }
  pctx c = {.rt = rt,
            .spec = specifier,
            .importer = parent,
            .conds = require_conditions,
            .err = err,
            .errlen = errlen,
            .cjs = 1};
  char* dir = strdup(parent);
  if (dir == NULL) {
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  path_up(dir);
  if (!iso__rt_under(rt->root, dir)) {
    free(dir);
    dir = strdup(rt->root);
    if (dir == NULL) {
      snprintf(err, errlen, "out of memory");
      return ISO_ENOMEM;
    }
  }
  char* out = NULL;
  const char* s = specifier;
  if (s[0] == '\0') {
    rc = fail(&c, ISO_EINVAL,
              "Invalid module specifier \"\" required from \"%s\"", parent);
  } else if (s[0] == '/' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
             strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0) {
    char* x = s[0] == '/' ? strdup(s) : path_join(dir, s, strlen(s));
    size_t n = x != NULL ? strlen(x) : 0;
    while (n > 1 && x[n - 1] == '/') {
      x[--n] = '\0'; /* "./dir/" names the directory */
    }
    rc = x != NULL ? load_file_or_dir(&c, x, &out) : oom(&c);
    free(x);
  } else if (s[0] == '#') {
    rc = imports_resolve(&c, s, dir, &out);
  } else if (iso__rt_url_scheme(s, strlen(s)) > 0 &&
             strncmp(s, "node:", 5) != 0) {
    rc = fail(&c, ISO_ENOENT,
              "Cannot require \"%s\" from \"%s\": require() takes paths and "
              "package names, not URLs",
              s, parent);
  } else {
    rc = pkg_resolve(&c, s, dir, &out);
  }
  free(dir);
  char real[PATH_MAX];
  if (rc == 0 && realpath(out, real) == NULL) {
    rc = fail(&c, ISO_ENOENT,
              "Cannot find module \"%s\" required from \"%s\": %s: %s",
              specifier, parent, out, strerror(errno));
  } else if (rc == 0 && !iso__rt_under(rt->root, real)) {
    rc = fail(&c, ISO_EPERM,
              "Cannot require \"%s\" from \"%s\": it resolves to \"%s\", "
              "outside the module root \"%s\"",
              specifier, parent, real, rt->root);
  }
  free(out);
  out = NULL;
  if (rc == 0) {
    out = strdup(real);
    rc = out != NULL ? file_format(&c, out, format) : oom(&c);
  }
  cache_trim(rt->pkgs);
  if (rc != 0) {
    free(out);
    return rc < 0 ? rc : ISO_ENOENT;
  }
  *path = out;
  return 0;
}
