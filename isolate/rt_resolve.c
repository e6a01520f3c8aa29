/* rt_resolve.c: module specifiers to URLs.
 *
 * The runtime's import map, if it has one, is asked first (rt_importmap.c);
 * what it maps to is resolved by the rules below, under the same checks.
 * Paths resolve like Deno's: "./", "../", "/" and "file://" against the
 * importer's URL; "isopool:" names a built-in module (embedded by
 * bootstrap/); another URL scheme ("https:", "data:") is refused; a bare
 * specifier ("pkg", "@scope/pkg/x", "node:fs") or a "#" one goes to
 * rt_pkg.c, which resolves it as Node's ESM resolver does (node_modules,
 * package.json "exports", "imports", "main"). A resolved path is normalised
 * lexically and must stay under the module root and be valid UTF-8; the
 * file it names is checked again when it is read (rt_read.c), since a
 * symlink can still lead elsewhere.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_bootstrap.h"
#include "iso_err.h"
#include "iso_utf8.h"
#include "rt_private.h"

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

int iso__rt_url_scheme(const char* s, size_t n) {
  size_t i = 0;
  while (i < n &&
         ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (i > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
                     s[i] == '-' || s[i] == '.')))) {
    i++;
  }
  return i >= 2 && i < n && s[i] == ':' ? (int)i + 1 : 0;
}

/* The embedded source of built-in module `url` ("isopool:fs"), or NULL. */
const iso_builtin_module* iso__rt_builtin_of(const char* url) {
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
  if (iso__rt_builtin_of(specifier) == NULL) {
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

static int resolve_unmapped(iso_rt* rt,
                            const char* specifier,
                            const char* referrer,
                            char** url,
                            char* err,
                            size_t errlen);

/* The import map first (rt_importmap.c): a specifier it maps resolves as
 * the URL it maps to would, under the same checks. The importer's URL is
 * the referrer's, or for a script or a job without a file the module
 * root's directory, as a relative import's. */
int iso__rt_resolve(iso_rt* rt,
                    const char* specifier,
                    const char* referrer,
                    char** url,
                    char* err,
                    size_t errlen) {
  if (rt->import_map == NULL) {
    return resolve_unmapped(rt, specifier, referrer, url, err, errlen);
  }
  char base[PATH_MAX + 16];
  if (starts_with(referrer, "file:///")) {
    snprintf(base, sizeof(base), "%s", referrer);
  } else {
    snprintf(base, sizeof(base), "file://%s%s", rt->root,
             strcmp(rt->root, "/") == 0 ? "" : "/");
  }
  char* mapped = NULL;
  int rc = iso_import_map_resolve(rt->import_map, specifier, base, &mapped, err,
                                  errlen);
  if (rc != 0 || mapped == NULL) {
    return rc != 0
               ? rc
               : resolve_unmapped(rt, specifier, referrer, url, err, errlen);
  }
  rc = resolve_unmapped(rt, mapped, referrer, url, err, errlen);
  free(mapped);
  return rc;
}

static int resolve_unmapped(iso_rt* rt,
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
  } else if (iso__rt_url_scheme(specifier, strlen(specifier)) > 0 &&
             !starts_with(specifier, "node:")) {
    snprintf(err, errlen,
             "Unsupported URL scheme \"%.*s\" in \"%.300s\" imported from "
             "\"%.300s\" (modules are files: file://, or paths)",
             iso__rt_url_scheme(specifier, strlen(specifier)), specifier,
             specifier, referrer);
    return ISO_ENOENT;
  } else {
    /* a bare specifier or "#internal": a package's (rt_pkg.c) */
    int rc = iso__rt_pkg_resolve(rt, specifier, referrer, &joined, err, errlen);
    if (rc != 0) {
      return rc;
    }
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

int iso__rt_json_type(const char* type,
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
