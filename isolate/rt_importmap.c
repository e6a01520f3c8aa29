/* rt_importmap.c: import maps (the WICG standard Deno uses; the HTML
 * spec's "parse an import map string" and "resolve a module specifier").
 *
 * A map is JSON ({"imports": {...}, "scopes": {prefix: {...}}}) read once
 * (iso_import_map_new) into sorted tables of URLs: every key that is
 * URL-like ("/", "./", "../", or an absolute URL) and every address is
 * resolved against the map's own URL, each table sorted in descending
 * order so that a longer key sharing a prefix comes first. Errors the spec
 * calls fatal (not JSON, not an object, "imports" or "scopes" or a scope
 * that is not an object) refuse the map; the rest (an empty key, an
 * address that is not a string or not a URL, a "/" key whose address
 * does not end in "/", a scope prefix that is not a URL, an unknown
 * top-level key) are warnings, and the entry is null (a specifier it
 * matches is blocked), as the spec says.
 *
 * iso__rt_resolve (rt_resolve.c) asks the map first: the scopes whose
 * prefix is the importer's URL, or a "/"-ended prefix of it, longest
 * first, then the top-level imports; in each, an exact key, then the
 * longest "/"-ended key that prefixes the specifier (for a bare specifier
 * or a file: URL). A match gives a URL, which is then resolved as an
 * import of that URL would be (confined to the module root); no match
 * leaves the specifier to the usual rules (a path, then Node's for a bare
 * one), so bare specifiers are mapped before node_modules is searched.
 *
 * URLs here are the loader's: "file://" and the absolute path as it is,
 * not percent-encoded (rt_resolve.c decodes the ones it is given); other
 * schemes are kept as text (the loader then refuses what it cannot load).
 * A map is immutable once made: runtimes on several threads may share it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "rt_private.h"

typedef struct im_entry {
  char* key;
  char* addr; /* NULL: blocked (an invalid address, or null) */
} im_entry;

typedef struct im_map {
  im_entry* v;
  size_t n, cap;
} im_map;

typedef struct im_scope {
  char* prefix;
  im_map map;
} im_scope;

struct iso_import_map {
  im_map imports;
  im_scope* scopes;
  size_t nscopes, capscopes;
};

static int starts_with(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends_with_slash(const char* s) {
  size_t n = strlen(s);
  return n > 0 && s[n - 1] == '/';
}

/* The scheme's length (before its ':'), or 0 if s starts with none. */
static size_t scheme_len(const char* s) {
  int n = iso__rt_url_scheme(s, strlen(s));
  return n > 0 ? (size_t)n : 0;
}

/* The URL spec's special schemes (a prefix key matches only these). */
static int is_special(const char* url) {
  static const char* const special[] = {
      "file:", "http:", "https:", "ws:", "wss:", "ftp:", NULL};
  for (int i = 0; special[i] != NULL; i++) {
    if (strncasecmp(url, special[i], strlen(special[i])) == 0) {
      return 1;
    }
  }
  return 0;
}

/* "file://" + `path` (absolute) with "." and ".." segments collapsed and
 * empty ones dropped; a path ending in "/", "/." or "/.." keeps one
 * trailing "/", since a prefix key and its address are told by it. */
static char* file_url(const char* path) {
  size_t n = strlen(path);
  char* out = malloc(n + 10);
  if (out == NULL) {
    return NULL;
  }
  memcpy(out, "file://", 7);
  char* o = out + 7;
  size_t len = 0; /* the path written at o, without a trailing "/" */
  int dir = 0;    /* the last segment read asks for a trailing "/" */
  const char* p = path;
  while (*p != '\0') {
    const char* seg = p;
    while (*p != '\0' && *p != '/') {
      p++;
    }
    size_t sl = (size_t)(p - seg);
    if (*p == '/') {
      p++;
    }
    if (sl == 0 || (sl == 1 && seg[0] == '.')) {
      dir = 1;
      continue;
    }
    if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
      while (len > 0 && o[len - 1] != '/') {
        len--;
      }
      if (len > 0) {
        len--; /* the "/" before the segment dropped */
      }
      dir = 1;
      continue;
    }
    o[len++] = '/';
    memcpy(o + len, seg, sl);
    len += sl;
    dir = 0;
  }
  if (dir || len == 0 || path[n - 1] == '/') {
    o[len++] = '/';
  }
  o[len] = '\0';
  return out;
}

/* The URL parser, for the URLs a map can name: `spec` absolute (with a
 * scheme: a file: URL normalised, another kept as text), or relative to
 * `base` (a file: URL; NULL: none). NULL when it is no URL. */
static char* parse_url(const char* spec, const char* base) {
  size_t sl = scheme_len(spec);
  if (sl > 0) {
    if (sl == 4 && strncasecmp(spec, "file", 4) == 0) {
      const char* path = spec + 5;
      if (starts_with(path, "//")) {
        path += 2;
        if (path[0] != '/') {
          return NULL; /* a host: not a local file */
        }
      }
      return path[0] == '/' ? file_url(path) : NULL;
    }
    return spec[sl + 1] != '\0' ? strdup(spec) : NULL;
  }
  if (base == NULL || !starts_with(base, "file:///")) {
    return NULL;
  }
  if (starts_with(spec, "//")) {
    return NULL; /* a host again */
  }
  if (spec[0] == '/') {
    return file_url(spec);
  }
  const char* bpath = base + 7;
  const char* slash = strrchr(bpath, '/');
  size_t dl = (size_t)(slash - bpath) + 1;
  size_t n = dl + strlen(spec) + 1;
  char* joined = malloc(n);
  if (joined == NULL) {
    return NULL;
  }
  snprintf(joined, n, "%.*s%s", (int)dl, bpath, spec);
  char* url = file_url(joined);
  free(joined);
  return url;
}

/* The spec's "resolve a URL-like module specifier". */
static char* url_like(const char* spec, const char* base) {
  if (starts_with(spec, "/") || starts_with(spec, "./") ||
      starts_with(spec, "../")) {
    return parse_url(spec, base);
  }
  return scheme_len(spec) > 0 ? parse_url(spec, NULL) : NULL;
}

static void warn(iso_buf* w, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(iso_buf* w, const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) {
    return;
  }
  size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  iso_buf_append(w, "import map: ", 12);
  iso_buf_append(w, line, len);
  iso_buf_append(w, "\n", 1);
}

static void map_close(im_map* m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].key);
    free(m->v[i].addr);
  }
  free(m->v);
  memset(m, 0, sizeof(*m));
}

/* Adds key -> addr (both taken), replacing an entry of the same key. */
static int map_put(im_map* m, char* key, char* addr) {
  for (size_t i = 0; i < m->n; i++) {
    if (strcmp(m->v[i].key, key) == 0) {
      free(m->v[i].key);
      free(m->v[i].addr);
      m->v[i] = (im_entry){key, addr};
      return 0;
    }
  }
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    im_entry* v = realloc(m->v, cap * sizeof(*v));
    if (v == NULL) {
      free(key);
      free(addr);
      return ISO_ENOMEM;
    }
    m->v = v;
    m->cap = cap;
  }
  m->v[m->n++] = (im_entry){key, addr};
  return 0;
}

static int entry_desc(const void* a, const void* b) {
  return -strcmp(((const im_entry*)a)->key, ((const im_entry*)b)->key);
}

static int scope_desc(const void* a, const void* b) {
  return -strcmp(((const im_scope*)a)->prefix, ((const im_scope*)b)->prefix);
}

static char* str_of(const iso_mp_obj* o) {
  char* s = malloc((size_t)o->len + 1);
  if (s != NULL) {
    memcpy(s, o->data, o->len);
    s[o->len] = '\0';
  }
  return s;
}

/* The spec's "sort and normalize a specifier map": the `count` pairs at
 * the reader, into m. */
static int specifier_map(iso_mp_rd* r,
                         uint32_t count,
                         const char* base,
                         im_map* m,
                         iso_buf* w) {
  for (uint32_t i = 0; i < count; i++) {
    iso_mp_obj k, v;
    if (iso_mp_read(r, &k) != 0 || k.type != ISO_MP_STR) {
      return ISO_EINVAL;
    }
    char* key = str_of(&k);
    if (key == NULL) {
      return ISO_ENOMEM;
    }
    const uint8_t* at = r->p;
    if (iso_mp_read(r, &v) != 0) {
      free(key);
      return ISO_EINVAL;
    }
    if (key[0] == '\0') {
      warn(w, "an empty specifier key is ignored");
      free(key);
      r->p = at;
      int deep = 0;
      if (iso_mp_skip(r, 2, ISO_JSON_MAX_DEPTH, &deep) != 0) {
        return ISO_EINVAL;
      }
      continue;
    }
    char* nkey = url_like(key, base);
    if (nkey != NULL) {
      free(key);
      key = nkey;
    }
    char* addr = NULL;
    if (v.type != ISO_MP_STR) {
      warn(w, "the address of \"%.300s\" is not a string: it is blocked", key);
      r->p = at;
      int deep = 0;
      if (iso_mp_skip(r, 2, ISO_JSON_MAX_DEPTH, &deep) != 0) {
        free(key);
        return ISO_EINVAL;
      }
    } else {
      char* text = str_of(&v);
      if (text == NULL) {
        free(key);
        return ISO_ENOMEM;
      }
      addr = url_like(text, base);
      if (addr == NULL) {
        warn(w,
             "the address \"%.300s\" of \"%.300s\" is not a URL (it must "
             "start with /, ./ or ../, or be absolute): it is blocked",
             text, key);
      } else if (ends_with_slash(key) && !ends_with_slash(addr)) {
        warn(w,
             "the address \"%.300s\" of \"%.300s\" does not end in \"/\" "
             "as its key does: it is blocked",
             text, key);
        free(addr);
        addr = NULL;
      }
      free(text);
    }
    int rc = map_put(m, key, addr);
    if (rc != 0) {
      return rc;
    }
  }
  if (m->n > 1) {
    qsort(m->v, m->n, sizeof(*m->v), entry_desc);
  }
  return 0;
}

static int fatal(char* err, size_t errlen, const char* what) {
  snprintf(err, errlen, "%s", what);
  return ISO_EINVAL;
}

void iso_import_map_free(iso_import_map* m) {
  if (m == NULL) {
    return;
  }
  map_close(&m->imports);
  for (size_t i = 0; i < m->nscopes; i++) {
    free(m->scopes[i].prefix);
    map_close(&m->scopes[i].map);
  }
  free(m->scopes);
  free(m);
}

static int scopes_of(iso_mp_rd* r,
                     uint32_t count,
                     const char* url,
                     iso_import_map* m,
                     iso_buf* w,
                     char* err,
                     size_t errlen) {
  for (uint32_t i = 0; i < count; i++) {
    iso_mp_obj k, v;
    if (iso_mp_read(r, &k) != 0 || k.type != ISO_MP_STR ||
        iso_mp_read(r, &v) != 0) {
      return fatal(err, errlen, "the import map's \"scopes\" are malformed");
    }
    if (v.type != ISO_MP_MAP) {
      snprintf(err, errlen,
               "the import map's scope \"%.*s\" is not a JSON object",
               (int)(k.len > 300 ? 300 : k.len), (const char*)k.data);
      return ISO_EINVAL;
    }
    char* key = str_of(&k);
    if (key == NULL) {
      return ISO_ENOMEM;
    }
    char* prefix = parse_url(key, url);
    im_map map = {0};
    int rc = specifier_map(r, v.len, url, &map, w);
    if (rc != 0) {
      free(key);
      free(prefix);
      map_close(&map);
      return rc == ISO_ENOMEM
                 ? rc
                 : fatal(err, errlen, "the import map is malformed");
    }
    if (prefix == NULL) {
      warn(w, "the scope prefix \"%.300s\" is not a URL: it is ignored", key);
      free(key);
      map_close(&map);
      continue;
    }
    free(key);
    size_t j = 0;
    while (j < m->nscopes && strcmp(m->scopes[j].prefix, prefix) != 0) {
      j++;
    }
    if (j < m->nscopes) {
      free(m->scopes[j].prefix);
      map_close(&m->scopes[j].map);
    } else {
      if (m->nscopes == m->capscopes) {
        size_t cap = m->capscopes ? m->capscopes * 2 : 4;
        im_scope* s = realloc(m->scopes, cap * sizeof(*s));
        if (s == NULL) {
          free(prefix);
          map_close(&map);
          return ISO_ENOMEM;
        }
        m->scopes = s;
        m->capscopes = cap;
      }
      m->nscopes++;
    }
    m->scopes[j] = (im_scope){prefix, map};
  }
  if (m->nscopes > 1) {
    qsort(m->scopes, m->nscopes, sizeof(*m->scopes), scope_desc);
  }
  return 0;
}

int iso_import_map_new(const char* json,
                       size_t len,
                       const char* url,
                       iso_import_map** out,
                       char** warnings,
                       char* err,
                       size_t errlen) {
  *out = NULL;
  if (warnings != NULL) {
    *warnings = NULL;
  }
  if (len > ISO_IMPORT_MAP_MAX) {
    snprintf(err, errlen, "the import map is larger than %u bytes",
             (unsigned)ISO_IMPORT_MAP_MAX);
    return ISO_EINVAL;
  }
  if (url == NULL || !starts_with(url, "file:///")) {
    return fatal(err, errlen, "the import map's URL must be a file:// URL");
  }
  /* a UTF-8 byte order mark, which editors on some systems write */
  size_t skip = len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  iso_buf mp;
  iso_buf_init(&mp);
  iso_json_error je = {0};
  int rc = iso_json_to_msgpack_ex(json + skip, len - skip, &mp, &je);
  if (rc != 0) {
    iso_buf_close(&mp);
    if (rc == ISO_ENOMEM) {
      return rc;
    }
    snprintf(err, errlen,
             "the import map is not valid JSON: %s at line %d, column %d",
             je.message, je.line, je.column);
    return ISO_EINVAL;
  }
  iso_import_map* m = calloc(1, sizeof(*m));
  iso_buf w;
  iso_buf_init(&w);
  iso_mp_rd r;
  iso_mp_rd_init(&r, mp.data, mp.len);
  iso_mp_obj top;
  if (m == NULL) {
    rc = ISO_ENOMEM;
  } else if (iso_mp_read(&r, &top) != 0 || top.type != ISO_MP_MAP) {
    rc = fatal(err, errlen, "the import map must be a JSON object");
  }
  for (uint32_t i = 0; rc == 0 && i < top.len; i++) {
    iso_mp_obj k, v;
    if (iso_mp_read(&r, &k) != 0 || k.type != ISO_MP_STR) {
      rc = fatal(err, errlen, "the import map is malformed");
      break;
    }
    const uint8_t* at = r.p;
    if (iso_mp_read(&r, &v) != 0) {
      rc = fatal(err, errlen, "the import map is malformed");
      break;
    }
    if (iso_mp_str_is(&k, "imports")) {
      if (v.type != ISO_MP_MAP) {
        rc = fatal(err, errlen,
                   "the import map's \"imports\" is not a JSON object");
        break;
      }
      map_close(&m->imports);
      rc = specifier_map(&r, v.len, url, &m->imports, &w);
      if (rc == ISO_EINVAL) {
        rc = fatal(err, errlen, "the import map is malformed");
      }
    } else if (iso_mp_str_is(&k, "scopes")) {
      if (v.type != ISO_MP_MAP) {
        rc = fatal(err, errlen,
                   "the import map's \"scopes\" is not a JSON object");
        break;
      }
      rc = scopes_of(&r, v.len, url, m, &w, err, errlen);
    } else {
      warn(&w, "the top-level key \"%.*s\" is not known: it is ignored",
           (int)(k.len > 300 ? 300 : k.len), (const char*)k.data);
      r.p = at;
      int deep = 0;
      if (iso_mp_skip(&r, 2, ISO_JSON_MAX_DEPTH, &deep) != 0) {
        rc = fatal(err, errlen, "the import map is malformed");
      }
    }
  }
  iso_buf_close(&mp);
  if (rc != 0) {
    iso_buf_close(&w);
    iso_import_map_free(m);
    return rc;
  }
  if (warnings != NULL && w.len > 0) {
    *warnings = malloc(w.len + 1);
    if (*warnings != NULL) {
      memcpy(*warnings, w.data, w.len);
      (*warnings)[w.len] = '\0';
    }
  }
  iso_buf_close(&w);
  *out = m;
  return 0;
}

static int blocked(const char* specifier,
                   const char* base,
                   const char* key,
                   char* err,
                   size_t errlen) {
  snprintf(err, errlen,
           "Import of \"%.300s\" from \"%.300s\" is blocked by the import "
           "map: its entry \"%.300s\" is null or not a valid address",
           specifier, base, key);
  return ISO_ENOENT;
}

/* The spec's "resolve an imports match": 0 with *out set or NULL (no
 * match), or an error. */
static int imports_match(const im_map* m,
                         const char* specifier,
                         const char* norm,
                         const char* as_url,
                         const char* base,
                         char** out,
                         char* err,
                         size_t errlen) {
  for (size_t i = 0; i < m->n; i++) {
    const im_entry* e = &m->v[i];
    if (strcmp(e->key, norm) == 0) {
      if (e->addr == NULL) {
        return blocked(specifier, base, e->key, err, errlen);
      }
      *out = strdup(e->addr);
      return *out != NULL ? 0 : ISO_ENOMEM;
    }
    if (ends_with_slash(e->key) && starts_with(norm, e->key) &&
        (as_url == NULL || is_special(as_url))) {
      if (e->addr == NULL) {
        return blocked(specifier, base, e->key, err, errlen);
      }
      const char* after = norm + strlen(e->key);
      char* url = parse_url(after, e->addr);
      if (url == NULL || !starts_with(url, e->addr)) {
        snprintf(err, errlen,
                 "Import of \"%.300s\" from \"%.300s\": the import map's "
                 "entry \"%.300s\" maps it to \"%.300s%.300s\", which is not "
                 "inside that entry's address",
                 specifier, base, e->key, e->addr, after);
        free(url);
        return ISO_ENOENT;
      }
      *out = url;
      return 0;
    }
  }
  return 0;
}

int iso_import_map_resolve(const iso_import_map* m,
                           const char* specifier,
                           const char* base,
                           char** out,
                           char* err,
                           size_t errlen) {
  *out = NULL;
  char* as_url = url_like(specifier, base);
  const char* norm = as_url != NULL ? as_url : specifier;
  int rc = 0;
  for (size_t i = 0; i < m->nscopes && rc == 0 && *out == NULL; i++) {
    const char* prefix = m->scopes[i].prefix;
    if (strcmp(prefix, base) == 0 ||
        (ends_with_slash(prefix) && starts_with(base, prefix))) {
      rc = imports_match(&m->scopes[i].map, specifier, norm, as_url, base, out,
                         err, errlen);
    }
  }
  if (rc == 0 && *out == NULL) {
    rc = imports_match(&m->imports, specifier, norm, as_url, base, out, err,
                       errlen);
  }
  free(as_url);
  return rc;
}
