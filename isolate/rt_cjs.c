/* rt_cjs.c: CommonJS modules, the runtime's side.
 *
 * A module record whose file is CommonJS (iso__rt_pkg_format: .cjs, or a
 * .js file in node_modules whose package.json says no "type": "module")
 * is compiled here instead of as an ES module (iso__rt_cjs_compile, from
 * rt_modules.c): its source is scanned for the names it exports, as
 * Node's cjs-module-lexer does (iso__rt_cjs_lex; the re-exports of
 * `module.exports = require("x")` are followed a few levels), and the shim
 * makes it a synthetic module whose evaluation runs it (v8s_cjs.cc). A
 * .js file in node_modules without a "type" that only parses as an ES
 * module (import, export) is compiled as one, as Node's detect-module
 * does.
 *
 * require() calls the two host callbacks below on the isolate's thread
 * and waits for them: where a specifier leads (rt_pkg.c, with the
 * "require" conditions) and the file's text, read at once as rt_read.c
 * reads a module's (canonical path checked against the module root,
 * opened without following symlinks nor blocking, a regular file of at
 * most ISO_RT_MODULE_MAX: iso__rt_read_file).
 *
 * Thread: the runtime's own (its loop's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_utf8.h"
#include "rt_private.h"

/* Names one module may export beyond "default": more are left out. */
#define MAX_CJS_NAMES 4096
/* module.exports = require("x") followed this deep for names. */
#define MAX_REEXPORT_DEPTH 4

/* ---- the lexer ---- */

static int id_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == '$' || c >= 0x80;
}

static int id_char(unsigned char c) {
  return id_start(c) || (c >= '0' && c <= '9');
}

/* `x = require("y")` seen so far (offsets into the source), for Babel's
 * re-exports: Object.keys(x).forEach(...) */
#define MAX_BINDINGS 64

typedef struct lx {
  const char* s;
  size_t n;
  rt_cjs_names* out;
  int oom;
  struct {
    size_t name, namelen, spec, speclen;
  } bind[MAX_BINDINGS];
  int nbind;
} lx;

static int list_push(char*** v,
                     size_t* n,
                     size_t* cap,
                     const char* s,
                     size_t len) {
  for (size_t i = 0; i < *n; i++) {
    if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0) {
      return 0;
    }
  }
  if (*n >= MAX_CJS_NAMES) {
    return 0;
  }
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    char** nv = realloc(*v, c * sizeof(*nv));
    if (nv == NULL) {
      return ISO_ENOMEM;
    }
    *v = nv;
    *cap = c;
  }
  char* d = malloc(len + 1);
  if (d == NULL) {
    return ISO_ENOMEM;
  }
  memcpy(d, s, len);
  d[len] = '\0';
  (*v)[(*n)++] = d;
  return 0;
}

static void add_name(lx* l, const char* s, size_t len) {
  /* a name is text: two malformed ones would be one name to V8 */
  if (len == 0 || (len == 7 && memcmp(s, "default", 7) == 0) ||
      memchr(s, '\0', len) != NULL || !iso_utf8_valid(s, len)) {
    return;
  }
  if (list_push(&l->out->names, &l->out->n, &l->out->cap, s, len) != 0) {
    l->oom = 1;
  }
}

static void add_reexport(lx* l, const char* s, size_t len) {
  if (len > 0 && memchr(s, '\0', len) == NULL &&
      list_push(&l->out->reexports, &l->out->nre, &l->out->capre, s, len) !=
          0) {
    l->oom = 1;
  }
}

/* Past white space and comments from i. */
static size_t ws(const lx* l, size_t i) {
  while (i < l->n) {
    char c = l->s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
        c == '\v') {
      i++;
    } else if (c == '/' && i + 1 < l->n && l->s[i + 1] == '/') {
      while (i < l->n && l->s[i] != '\n') {
        i++;
      }
    } else if (c == '/' && i + 1 < l->n && l->s[i + 1] == '*') {
      i += 2;
      while (i + 1 < l->n && !(l->s[i] == '*' && l->s[i + 1] == '/')) {
        i++;
      }
      i += 2;
    } else {
      break;
    }
  }
  return i < l->n ? i : l->n;
}

/* Past the string or template literal starting at i (its quote). */
static size_t skip_quoted(const lx* l, size_t i) {
  char q = l->s[i++];
  while (i < l->n && l->s[i] != q) {
    if (l->s[i] == '\\') {
      i++;
    } else if (q != '`' && l->s[i] == '\n') {
      return i;
    }
    i++;
  }
  return i < l->n ? i + 1 : l->n;
}

/* The identifier at i: its end, or i when there is none. */
static size_t ident(const lx* l, size_t i) {
  if (i >= l->n || !id_start((unsigned char)l->s[i])) {
    return i;
  }
  while (i < l->n && id_char((unsigned char)l->s[i])) {
    i++;
  }
  return i;
}

static int ident_is(const lx* l, size_t i, size_t end, const char* word) {
  size_t n = strlen(word);
  return end - i == n && memcmp(l->s + i, word, n) == 0;
}

/* A plain string literal at i ('x' or "x", no escapes): its contents in
 * [*a, *a + *len) and its end, or i. */
static size_t plain_string(const lx* l, size_t i, size_t* a, size_t* len) {
  if (i >= l->n || (l->s[i] != '\'' && l->s[i] != '"')) {
    return i;
  }
  char q = l->s[i];
  size_t j = i + 1;
  while (j < l->n && l->s[j] != q && l->s[j] != '\\' && l->s[j] != '\n') {
    j++;
  }
  if (j >= l->n || l->s[j] != q) {
    return i;
  }
  *a = i + 1;
  *len = j - i - 1;
  return j + 1;
}

/* `= x` (not `==`) at i. */
static int assigns(const lx* l, size_t i) {
  i = ws(l, i);
  return i + 1 < l->n && l->s[i] == '=' && l->s[i + 1] != '=';
}

/* After `exports`: `.name =` or `["name"] =`. */
static void member_assign(lx* l, size_t i) {
  i = ws(l, i);
  if (i < l->n && l->s[i] == '.') {
    size_t a = ws(l, i + 1);
    size_t e = ident(l, a);
    if (e > a && assigns(l, e)) {
      add_name(l, l->s + a, e - a);
    }
  } else if (i < l->n && l->s[i] == '[') {
    size_t a, len;
    size_t e = plain_string(l, ws(l, i + 1), &a, &len);
    if (e > i + 1) {
      e = ws(l, e);
      if (e < l->n && l->s[e] == ']' && assigns(l, e + 1)) {
        add_name(l, l->s + a, len);
      }
    }
  }
}

/* `require("x")` at i: its end (x in [*a, *a + *len)), or i. */
static size_t require_call(const lx* l, size_t i, size_t* a, size_t* len) {
  size_t e = ident(l, i);
  if (!ident_is(l, i, e, "require")) {
    return i;
  }
  size_t k = ws(l, e);
  if (k >= l->n || l->s[k] != '(') {
    return i;
  }
  size_t se = plain_string(l, ws(l, k + 1), a, len);
  if (se == ws(l, k + 1)) {
    return i;
  }
  se = ws(l, se);
  return se < l->n && l->s[se] == ')' ? se + 1 : i;
}

/* Past a value in an object literal: to the `,` or `}` that ends it. */
static size_t skip_value(const lx* l, size_t i) {
  int depth = 0;
  while (i < l->n) {
    i = ws(l, i);
    if (i >= l->n) {
      break;
    }
    char c = l->s[i];
    if (c == '\'' || c == '"' || c == '`') {
      i = skip_quoted(l, i);
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      depth++;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) {
        return i;
      }
      depth--;
    } else if (c == ',' && depth == 0) {
      return i;
    }
    i++;
  }
  return i;
}

/* `module.exports = {a, b: 1, "c": 2, d() {}, ...require("x")}` at i
 * (the `{`). */
static void object_literal(lx* l, size_t i) {
  i++;
  for (;;) {
    i = ws(l, i);
    if (i >= l->n || l->s[i] == '}') {
      return;
    }
    size_t a = i, len = 0, e;
    int shorthand_ok = 0;
    if (i + 2 < l->n && memcmp(l->s + i, "...", 3) == 0) {
      size_t ra, rlen;
      size_t k = ws(l, i + 3);
      if (require_call(l, k, &ra, &rlen) > k) {
        add_reexport(l, l->s + ra, rlen);
      }
      i = skip_value(l, k);
    } else {
      e = ident(l, i);
      if (e > i) {
        len = e - i;
        shorthand_ok = 1;
        size_t k = ws(l, e);
        size_t e2 = ident(l, k);
        if (e2 > k && (ident_is(l, i, e, "get") || ident_is(l, i, e, "set") ||
                       ident_is(l, i, e, "async"))) {
          a = k; /* get x() {} */
          len = e2 - k;
          e = e2;
          shorthand_ok = 0;
        }
      } else {
        e = plain_string(l, i, &a, &len);
        if (e == i) {
          return; /* a computed key or something else: stop here */
        }
      }
      size_t k = ws(l, e);
      if (k >= l->n) {
        return;
      }
      if (l->s[k] == ',' || l->s[k] == '}') {
        if (shorthand_ok) {
          add_name(l, l->s + a, len);
        }
        i = k;
      } else if (l->s[k] == ':' || l->s[k] == '(') {
        add_name(l, l->s + a, len);
        i = skip_value(l, l->s[k] == ':' ? k + 1 : k);
      } else {
        return;
      }
    }
    if (i >= l->n || l->s[i] != ',') {
      return;
    }
    i++;
  }
}

/* `(exports, "x"` or `(module.exports, "x"` after defineProperty. */
static void define_property(lx* l, size_t i) {
  i = ws(l, i);
  if (i >= l->n || l->s[i] != '(') {
    return;
  }
  size_t a = ws(l, i + 1);
  size_t e = ident(l, a);
  if (ident_is(l, a, e, "module")) {
    size_t k = ws(l, e);
    if (k >= l->n || l->s[k] != '.') {
      return;
    }
    a = ws(l, k + 1);
    e = ident(l, a);
  }
  if (!ident_is(l, a, e, "exports")) {
    return;
  }
  size_t k = ws(l, e);
  if (k >= l->n || l->s[k] != ',') {
    return;
  }
  size_t na, nlen;
  if (plain_string(l, ws(l, k + 1), &na, &nlen) > ws(l, k + 1)) {
    add_name(l, l->s + na, nlen);
  }
}

/* After `x`: ` = require("y")` or ` = wrap(require("y"))` (Babel's
 * _interopRequireWildcard): remember x. */
static void binding(lx* l, size_t i, size_t e) {
  if (l->nbind >= MAX_BINDINGS || !assigns(l, e)) {
    return;
  }
  size_t v = ws(l, ws(l, e) + 1);
  size_t ra, rlen;
  if (require_call(l, v, &ra, &rlen) == v) {
    size_t we = ident(l, v);
    size_t k = ws(l, we);
    if (we == v || k >= l->n || l->s[k] != '(' ||
        require_call(l, ws(l, k + 1), &ra, &rlen) == ws(l, k + 1)) {
      return;
    }
  }
  l->bind[l->nbind].name = i;
  l->bind[l->nbind].namelen = e - i;
  l->bind[l->nbind].spec = ra;
  l->bind[l->nbind].speclen = rlen;
  l->nbind++;
}

/* Object.keys(x).forEach( where x was bound to require("y"): Babel's
 * `export * from "y"`. i: after `keys`. */
static void keys_foreach(lx* l, size_t i) {
  i = ws(l, i);
  if (i >= l->n || l->s[i] != '(') {
    return;
  }
  size_t a = ws(l, i + 1);
  size_t ae = ident(l, a);
  size_t k = ws(l, ae);
  if (ae == a || k >= l->n || l->s[k] != ')') {
    return;
  }
  k = ws(l, k + 1);
  if (k >= l->n || l->s[k] != '.') {
    return;
  }
  size_t f = ws(l, k + 1);
  if (!ident_is(l, f, ident(l, f), "forEach")) {
    return;
  }
  for (int b = l->nbind - 1; b >= 0; b--) {
    if (l->bind[b].namelen == ae - a &&
        memcmp(l->s + l->bind[b].name, l->s + a, ae - a) == 0) {
      add_reexport(l, l->s + l->bind[b].spec, l->bind[b].speclen);
      return;
    }
  }
}

/* The identifier [i, e), preceded by the significant character prev. */
static void on_ident(lx* l, size_t i, size_t e, char prev) {
  if (ident_is(l, i, e, "__exportStar") || ident_is(l, i, e, "__export")) {
    /* TypeScript's __exportStar(require("./x"), exports), also as
     * tslib_1.__exportStar(...) and (0, tslib_1.__exportStar)(...) */
    size_t k = ws(l, e);
    if (k < l->n && l->s[k] == ')') {
      k = ws(l, k + 1);
    }
    size_t ra, rlen;
    if (k < l->n && l->s[k] == '(' &&
        require_call(l, ws(l, k + 1), &ra, &rlen) > ws(l, k + 1)) {
      add_reexport(l, l->s + ra, rlen);
    }
    return;
  }
  if (prev == '.') {
    return;
  }
  binding(l, i, e);
  if (ident_is(l, i, e, "exports")) {
    member_assign(l, e);
  } else if (ident_is(l, i, e, "module")) {
    size_t k = ws(l, e);
    if (k >= l->n || l->s[k] != '.') {
      return;
    }
    size_t a = ws(l, k + 1);
    size_t ae = ident(l, a);
    if (!ident_is(l, a, ae, "exports")) {
      return;
    }
    size_t m = ws(l, ae);
    if (m < l->n && (l->s[m] == '.' || l->s[m] == '[')) {
      member_assign(l, ae);
    } else if (assigns(l, ae)) {
      size_t v = ws(l, m + 1);
      size_t ra, rlen;
      if (v < l->n && l->s[v] == '{') {
        object_literal(l, v);
      } else if (require_call(l, v, &ra, &rlen) > v) {
        add_reexport(l, l->s + ra, rlen);
      }
    }
  } else if (ident_is(l, i, e, "Object")) {
    size_t k = ws(l, e);
    if (k < l->n && l->s[k] == '.') {
      size_t a = ws(l, k + 1);
      size_t ae = ident(l, a);
      if (ident_is(l, a, ae, "defineProperty")) {
        define_property(l, ae);
      } else if (ident_is(l, a, ae, "keys")) {
        keys_foreach(l, ae);
      }
    }
  }
}

/* 1 when a "/" after prev (and the keyword kw, if the last token was
 * one) starts a regular expression rather than a division. */
static int regex_allowed(char prev, int after_keyword) {
  return after_keyword || prev == '\0' || strchr("(,=:[!&|?{};+-*%<>~^", prev);
}

int iso__rt_cjs_lex(const char* src, size_t len, rt_cjs_names* out) {
  memset(out, 0, sizeof(*out));
  lx l = {.s = src, .n = len, .out = out};
  size_t i = 0;
  char prev = '\0';
  int after_keyword = 0;
  while (i < len && !l.oom) {
    size_t j = ws(&l, i);
    if (j != i) {
      i = j;
      continue;
    }
    unsigned char c = (unsigned char)src[i];
    if (c == '\'' || c == '"' || c == '`') {
      i = skip_quoted(&l, i);
      prev = '"';
      after_keyword = 0;
    } else if (c == '/') {
      if (regex_allowed(prev, after_keyword)) {
        int cls = 0;
        for (i++; i < len && src[i] != '\n'; i++) {
          if (src[i] == '\\') {
            i++;
          } else if (src[i] == '[') {
            cls = 1;
          } else if (src[i] == ']') {
            cls = 0;
          } else if (src[i] == '/' && !cls) {
            break;
          }
        }
        i++;
        prev = 'a';
      } else {
        i++;
        prev = '/';
      }
      after_keyword = 0;
    } else if (id_start(c)) {
      size_t e = ident(&l, i);
      on_ident(&l, i, e, prev);
      after_keyword =
          ident_is(&l, i, e, "return") || ident_is(&l, i, e, "typeof") ||
          ident_is(&l, i, e, "case") || ident_is(&l, i, e, "in") ||
          ident_is(&l, i, e, "of") || ident_is(&l, i, e, "void") ||
          ident_is(&l, i, e, "throw") || ident_is(&l, i, e, "delete") ||
          ident_is(&l, i, e, "else") || ident_is(&l, i, e, "do");
      prev = 'a';
      i = e;
    } else if (c >= '0' && c <= '9') {
      while (i < len && (id_char((unsigned char)src[i]) || src[i] == '.')) {
        i++;
      }
      prev = '0';
      after_keyword = 0;
    } else {
      prev = (char)c;
      after_keyword = 0;
      i++;
    }
  }
  if (l.oom) {
    iso__rt_cjs_names_free(out);
    return ISO_ENOMEM;
  }
  return 0;
}

void iso__rt_cjs_names_free(rt_cjs_names* out) {
  for (size_t i = 0; i < out->n; i++) {
    free(out->names[i]);
  }
  for (size_t i = 0; i < out->nre; i++) {
    free(out->reexports[i]);
  }
  free(out->names);
  free(out->reexports);
  memset(out, 0, sizeof(*out));
}

/* ---- files ---- */

/* The text of the file at path, read now, checked as rt_read.c checks a
 * module's. */
static int read_file(iso_rt* rt,
                     const char* path,
                     char** src,
                     size_t* len,
                     char* err,
                     size_t errlen) {
  char* text;
  size_t got;
  char why[512];
  int rc = iso__rt_read_file(rt->root, path, ISO_RT_MODULE_MAX, "a module",
                             &text, &got, NULL, why, sizeof(why));
  if (rc != 0) {
    snprintf(err, errlen, "Cannot read %s: %s", path, why);
    return rc;
  }
  /* a UTF-8 byte order mark, which Node strips (JSON.parse refuses it) */
  if (got >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    memmove(text, text + 3, got - 3);
    got -= 3;
  }
  text[got] = '\0';
  *src = text;
  *len = got;
  return 0;
}

/* Adds the names of the modules `names` re-exports (resolved from the
 * module at path) to `into`, depth levels down at most. What cannot be
 * resolved or read is left out: require() reports it when it runs. */
static int add_reexports(iso_rt* rt,
                         const char* path,
                         const rt_cjs_names* names,
                         rt_cjs_names* into,
                         int depth) {
  if (depth >= MAX_REEXPORT_DEPTH) {
    return 0;
  }
  for (size_t i = 0; i < names->nre; i++) {
    char err[512];
    char* target = NULL;
    int format = V8S_FMT_ESM;
    if (iso__rt_pkg_require(rt, names->reexports[i], path, &target, &format,
                            err, sizeof(err)) != 0 ||
        (format != V8S_FMT_CJS && format != V8S_FMT_DETECT)) {
      free(target);
      continue;
    }
    char* src = NULL;
    size_t len = 0;
    rt_cjs_names sub = {0};
    int rc = read_file(rt, target, &src, &len, err, sizeof(err));
    if (rc == 0) {
      rc = iso__rt_cjs_lex(src, len, &sub);
      free(src);
      if (rc != 0) {
        free(target);
        return rc;
      }
      for (size_t k = 0; k < sub.n && rc == 0; k++) {
        rc = list_push(&into->names, &into->n, &into->cap, sub.names[k],
                       strlen(sub.names[k]));
      }
      if (rc == 0) {
        rc = add_reexports(rt, target, &sub, into, depth + 1);
      }
      iso__rt_cjs_names_free(&sub);
    }
    free(target);
    if (rc == ISO_ENOMEM) {
      return rc;
    }
  }
  return 0;
}

static void exc_set(v8s_exc* exc, const char* name, const char* msg) {
  v8s_exc_close(exc);
  exc->name = strdup(name);
  exc->message = strdup(msg);
}

int iso__rt_cjs_compile(iso_realm* realm,
                        rt_mod* m,
                        const char* src,
                        size_t len,
                        int* done,
                        v8s_exc* exc) {
  *done = 0;
  if (strncmp(m->url, "file://", 7) != 0) {
    return 0;
  }
  iso_rt* rt = realm->rt;
  char err[1024];
  int format = V8S_FMT_ESM;
  int rc = iso__rt_pkg_format(rt, m->path, &format, err, sizeof(err));
  if (rc != 0) {
    *done = 1;
    exc_set(exc, "TypeError", err);
    return rc;
  }
  if (format != V8S_FMT_CJS && format != V8S_FMT_DETECT) {
    return 0;
  }
  rt_cjs_names names = {0};
  rc = iso__rt_cjs_lex(src, len, &names);
  if (rc == 0) {
    rc = add_reexports(rt, m->path, &names, &names, 0);
  }
  int is_esm = 0;
  if (rc == 0) {
    rc = v8s_cjs_compile(rt->iso, realm->ctx, m->url, m->path, src, len,
                         (const char* const*)names.names, names.n,
                         format == V8S_FMT_DETECT, &is_esm, &m->ref, exc);
  }
  iso__rt_cjs_names_free(&names);
  if (rc == ISO_ENOMEM && exc->message == NULL) {
    exc_set(exc, "RangeError", "out of memory");
  }
  *done = !is_esm;
  return rc;
}

/* ---- host callbacks ---- */

int iso__rt_host_cjs_resolve(void* realm_p,
                             const char* specifier,
                             const char* parent,
                             char** path,
                             int* format,
                             char* err,
                             size_t errlen) {
  iso_realm* realm = realm_p;
  return iso__rt_pkg_require(realm->rt, specifier, parent, path, format, err,
                             errlen);
}

int iso__rt_host_cjs_read(void* realm_p,
                          const char* path,
                          char** src,
                          size_t* len,
                          char* err,
                          size_t errlen) {
  iso_realm* realm = realm_p;
  return read_file(realm->rt, path, src, len, err, errlen);
}
