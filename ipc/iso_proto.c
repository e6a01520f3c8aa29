/* iso_proto.c: the job protocol codec (iso_proto.h, docs/protocol.md).
 *
 * Decoding a request is one pass with the codec's reader (iso_mp.h): each
 * field's value is stepped over with a depth-checked skip, and only its
 * span is remembered; the spans are interpreted afterwards (build_req). A
 * structural fault (truncation, absurd counts) ends the whole message,
 * because nothing after it can be located; a semantic fault (wrong type,
 * unknown field) only marks the request, so inside a batch the neighbours
 * still run. The first fault found is the one reported.
 */
#include "iso_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_utf8.h"

static const uint8_t k_empty_array[1] = {0x90};
static const uint8_t k_nil[1] = {0xc0};

/* ---- names -------------------------------------------------------------- */

const char* iso_proto_code_name(iso_proto_code code) {
  switch (code) {
#define ISO_PROTO_CODE_NAME(name, str, where) \
  case ISO_CODE_##name:                       \
    return str;
    ISO_PROTO_CODE_TABLE(ISO_PROTO_CODE_NAME)
#undef ISO_PROTO_CODE_NAME
    default:
      return "unknown";
  }
}

int iso_proto_code_where(iso_proto_code code) {
  switch (code) {
#define ISO_PROTO_CODE_WHERE(name, str, where) \
  case ISO_CODE_##name:                        \
    return where;
    ISO_PROTO_CODE_TABLE(ISO_PROTO_CODE_WHERE)
#undef ISO_PROTO_CODE_WHERE
    default:
      return 0;
  }
}

/* A job reply's code by its name; the admin-only ones are unknown here. */
static iso_proto_code code_from_name(const uint8_t* s, size_t n) {
#define ISO_PROTO_CODE_MATCH(name, str, where)          \
  if (((where)&ISO_CODE_JOB) && n == sizeof(str) - 1 && \
      memcmp(s, str, n) == 0) {                         \
    return ISO_CODE_##name;                             \
  }
  ISO_PROTO_CODE_TABLE(ISO_PROTO_CODE_MATCH)
#undef ISO_PROTO_CODE_MATCH
  return ISO_CODE_UNKNOWN;
}

iso_proto_code iso_proto_code_from_err(int err) {
  switch (err) {
    case ISO_EPROTO:
    case ISO_EINVAL:
      return ISO_CODE_BAD_REQUEST;
    case ISO_EBUSY:
      return ISO_CODE_BUSY;
    case ISO_ETIMEDOUT:
    case ISO_ETERMINATED:
      return ISO_CODE_TIMEOUT;
    case ISO_ETOOBIG:
      return ISO_CODE_TOO_LARGE;
    case ISO_ESHUTDOWN:
      return ISO_CODE_SHUTTING_DOWN;
    default:
      return ISO_CODE_INTERNAL;
  }
}

const char* iso_log_level_name(iso_log_level level) {
  switch (level) {
#define ISO_LOG_LEVEL_NAME(name, str) \
  case ISO_LOG_##name:                \
    return str;
    ISO_LOG_LEVEL_TABLE(ISO_LOG_LEVEL_NAME)
#undef ISO_LOG_LEVEL_NAME
    default:
      return "log";
  }
}

static int level_from_name(const uint8_t* s, size_t n, iso_log_level* out) {
#define ISO_LOG_LEVEL_MATCH(name, str)                  \
  if (n == sizeof(str) - 1 && memcmp(s, str, n) == 0) { \
    *out = ISO_LOG_##name;                              \
    return 1;                                           \
  }
  ISO_LOG_LEVEL_TABLE(ISO_LOG_LEVEL_MATCH)
#undef ISO_LOG_LEVEL_MATCH
  return 0;
}

static const char* type_name(iso_mp_type t) {
  static const char* const names[] = {
      [ISO_MP_NIL] = "nil",         [ISO_MP_BOOL] = "a boolean",
      [ISO_MP_UINT] = "an integer", [ISO_MP_INT] = "an integer",
      [ISO_MP_F32] = "a float",     [ISO_MP_F64] = "a float",
      [ISO_MP_STR] = "a string",    [ISO_MP_BIN] = "binary",
      [ISO_MP_ARRAY] = "an array",  [ISO_MP_MAP] = "a map",
      [ISO_MP_EXT] = "an ext"};
  return names[t];
}

/* ---- request decoding --------------------------------------------------- */

enum {
  F_V,
  F_ID,
  F_KIND,
  F_SOURCE,
  F_MODULE,
  F_EXPORT,
  F_ARGS,
  F_TIMEOUT,
  F_PERMISSIONS,
  F_BATCH,
  F_COUNT
};

static const char* const k_field[F_COUNT] = {[F_V] = "v",
                                             [F_ID] = "id",
                                             [F_KIND] = "kind",
                                             [F_SOURCE] = "source",
                                             [F_MODULE] = "module",
                                             [F_EXPORT] = "export",
                                             [F_ARGS] = "args",
                                             [F_TIMEOUT] = "timeout_ms",
                                             [F_PERMISSIONS] = "permissions",
                                             [F_BATCH] = "batch"};

typedef struct span {
  const uint8_t* p; /* NULL: field absent */
  const uint8_t* end;
} span;

/* What one pass over a request map found. */
typedef struct scan {
  span f[F_COUNT];
  int bad;   /* a fault was recorded in err */
  int fatal; /* the fault was structural */
  char err[ISO_PROTO_ERRMSG_MAX];
} scan;

static void fault(scan* sc, const char* fmt, ...) {
  if (sc->bad) {
    return;
  }
  sc->bad = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sc->err, sizeof sc->err, fmt, ap);
  va_end(ap);
}

/* dst = a + b, truncated to cap. */
static void join(char* dst, size_t cap, const char* a, const char* b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na > cap - 1) {
    na = cap - 1;
  }
  if (nb > cap - 1 - na) {
    nb = cap - 1 - na;
  }
  memmove(dst + na, b, nb);
  memcpy(dst, a, na);
  dst[na + nb] = 0;
}

/* A structural fault replaces any earlier message: it is the real cause. */
static int structural(scan* sc, int mp_rc, const char* where) {
  sc->bad = 1;
  sc->fatal = 1;
  join(sc->err, sizeof sc->err, where, iso_mp_strerror(mp_rc));
  return ISO_EPROTO;
}

static int field_index(const uint8_t* k, uint32_t n) {
  int f;
  switch (n) {
    case 1:
      f = F_V;
      break;
    case 2:
      f = F_ID;
      break;
    case 4:
      f = k[0] == 'k' ? F_KIND : F_ARGS;
      break;
    case 5:
      f = F_BATCH;
      break;
    case 6:
      f = k[0] == 's' ? F_SOURCE : k[0] == 'm' ? F_MODULE : F_EXPORT;
      break;
    case 10:
      f = F_TIMEOUT;
      break;
    case 11:
      f = F_PERMISSIONS;
      break;
    default:
      return -1;
  }
  return memcmp(k_field[f], k, n) == 0 ? f : -1;
}

/* A field name from the wire, safe to put in a message. */
static void printable(char* dst, size_t cap, const uint8_t* s, uint32_t n) {
  size_t j = 0;
  uint32_t i = 0;
  for (; i < n && j + 4 < cap; i++) {
    dst[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
  }
  if (i < n) {
    memcpy(dst + j, "...", 3);
    j += 3;
  }
  dst[j] = 0;
}

/* Steps over a field's value; 1 if it nests too deep (a fault), 0, or
 * ISO_EPROTO (structural). */
static int skip_value(iso_mp_rd* r, scan* sc, const char* field) {
  int too_deep = 0;
  int rc = iso_mp_skip(r, 2, ISO_PROTO_MAX_DEPTH, &too_deep);
  if (rc != 0) {
    return structural(sc, rc, "");
  }
  if (too_deep) {
    fault(sc, "'%s' nests deeper than %d levels", field, ISO_PROTO_MAX_DEPTH);
    return 1;
  }
  return 0;
}

static int decode_batch(iso_mp_rd* r, iso_proto_msg* out, scan* top);

/* Steps over the npairs fields of a request map, recording spans. With out
 * set (the top level), a `batch` field is decoded in place. Returns 0 (a
 * semantic fault may be in sc), ISO_EPROTO (structural, in sc), or
 * ISO_ENOMEM. */
static int scan_fields(iso_mp_rd* r,
                       uint32_t npairs,
                       scan* sc,
                       iso_proto_msg* out) {
  for (uint32_t i = 0; i < npairs; i++) {
    const uint8_t* key_at = r->p;
    iso_mp_obj k;
    int rc = iso_mp_read(r, &k);
    if (rc != 0) {
      return structural(sc, rc, "");
    }
    if (k.type != ISO_MP_STR) {
      r->p = key_at;
      rc = skip_value(r, sc, "a field name");
      if (rc >= 0) {
        fault(sc, "field names must be strings (got %s)", type_name(k.type));
        rc = skip_value(r, sc, "a field");
      }
      if (rc < 0) {
        return rc;
      }
      continue;
    }
    int f = field_index(k.data, k.len);
    if (f < 0 || sc->f[f].p != NULL) {
      char name[40];
      printable(name, sizeof name, k.data, k.len);
      fault(sc, f < 0 ? "unknown field '%s'" : "duplicate field '%s'", name);
      rc = skip_value(r, sc, name);
      if (rc < 0) {
        return rc;
      }
      continue;
    }
    const uint8_t* start = r->p;
    if (f == F_BATCH && out != NULL) {
      rc = decode_batch(r, out, sc);
    } else {
      rc = skip_value(r, sc, k_field[f]);
    }
    if (rc < 0) {
      return rc;
    }
    if (rc == 1 && f == F_ID) {
      continue; /* an id nesting too deep is not echoed */
    }
    sc->f[f].p = start;
    sc->f[f].end = r->p;
  }
  return 0;
}

/* Reads the one value of a recorded (already validated) field. */
static iso_mp_obj field_obj(const scan* sc, int f) {
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, sc->f[f].p, (size_t)(sc->f[f].end - sc->f[f].p));
  if (iso_mp_read(&r, &o) != 0) {
    o.type = ISO_MP_NIL; /* cannot happen: the span was skipped once */
  }
  return o;
}

static void check_version(scan* sc, int required) {
  if (sc->f[F_V].p == NULL) {
    if (required) {
      fault(sc, "missing 'v' (the protocol version, %d)", ISO_PROTO_VERSION);
    }
    return;
  }
  iso_mp_obj o = field_obj(sc, F_V);
  if (o.type == ISO_MP_UINT && o.v.u == ISO_PROTO_VERSION) {
    return;
  }
  if (o.type == ISO_MP_UINT) {
    fault(sc, "unsupported protocol version %llu (this server speaks %d)",
          (unsigned long long)o.v.u, ISO_PROTO_VERSION);
  } else if (o.type == ISO_MP_INT) {
    fault(sc, "unsupported protocol version %lld (this server speaks %d)",
          (long long)o.v.i, ISO_PROTO_VERSION);
  } else {
    fault(sc, "'v' must be an integer (got %s)", type_name(o.type));
  }
}

/* 1 iff every string in the one msgpack value [p, end) (map keys included)
 * is valid UTF-8 (the value was stepped over once already, so it is whole
 * and bounded). */
static int strings_utf8(const uint8_t* p, const uint8_t* end) {
  return iso_mp_strings_utf8(p, (size_t)(end - p));
}

/* A string field naming something (module, export): non-empty, bounded, no
 * NUL bytes (these names become C strings and paths). */
static int name_field(scan* sc, int f, size_t max, iso_str* out) {
  if (sc->f[f].p == NULL) {
    return 0;
  }
  iso_mp_obj o = field_obj(sc, f);
  if (o.type != ISO_MP_STR) {
    fault(sc, "'%s' must be a string (got %s)", k_field[f], type_name(o.type));
    return 0;
  }
  if (o.len == 0) {
    fault(sc, "'%s' is empty", k_field[f]);
  } else if (o.len > max) {
    fault(sc, "'%s' is longer than %zu bytes", k_field[f], max);
  } else if (memchr(o.data, 0, o.len) != NULL) {
    fault(sc, "'%s' contains a NUL byte", k_field[f]);
  } else if (!iso_utf8_valid(o.data, o.len)) {
    /* names are echoed in replies, logs and `jobs`, which must be UTF-8 */
    fault(sc, "'%s' is not valid UTF-8", k_field[f]);
  }
  out->ptr = (const char*)o.data;
  out->len = o.len;
  return 1;
}

/* ---- permissions ---- */

static void perm_fault(char* err, size_t errlen, const char* fmt, ...) {
  if (err == NULL || errlen == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The index of a permissions key (read, write, env), or -1. */
static int perm_key(const iso_mp_obj* k) {
  static const char* const keys[] = {"read", "write", "env"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(keys[i]);
    if (k->len == n && memcmp(k->data, keys[i], n) == 0) {
      return i;
    }
  }
  return -1;
}

/* Room for every entry a `permissions` map the decoder accepts can hold. */
#define PERM_ITEMS (3 * ISO_PROTO_MAX_PERM_ENTRIES)

/* Reads one value of the map into *out: true, false or an array of names,
 * whose views go to items[*used..]. The first problem stops the walk, so
 * nothing needs skipping after it. */
static int perm_value(iso_mp_rd* r,
                      const char* key,
                      iso_perm_list* out,
                      iso_str* items,
                      uint32_t* used,
                      char* err,
                      size_t n) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0) {
    perm_fault(err, n, "'permissions.%s' is not valid msgpack", key);
    return ISO_EINVAL;
  }
  if (o.type == ISO_MP_BOOL) {
    out->ask = o.v.b ? ISO_PERM_ASK_ALL : ISO_PERM_ASK_NOTHING;
    return 0;
  }
  if (o.type != ISO_MP_ARRAY) {
    perm_fault(err, n,
               "'permissions.%s' must be true, false or an array of strings "
               "(got %s)",
               key, type_name(o.type));
    return ISO_EINVAL;
  }
  if (o.len > ISO_PROTO_MAX_PERM_ENTRIES) {
    perm_fault(err, n, "'permissions.%s' has %u entries (the limit is %d)", key,
               o.len, ISO_PROTO_MAX_PERM_ENTRIES);
    return ISO_EINVAL;
  }
  out->ask = ISO_PERM_ASK_LIST;
  out->n = o.len;
  out->items = items + *used;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj e;
    const char* why = NULL;
    if (iso_mp_read(r, &e) != 0) {
      why = "is not valid msgpack";
    } else if (e.type != ISO_MP_STR) {
      perm_fault(err, n, "'permissions.%s[%u]' must be a string (got %s)", key,
                 i, type_name(e.type));
      return ISO_EINVAL;
    } else if (e.len == 0) {
      why = "is empty";
    } else if (e.len > ISO_PROTO_MAX_PERM_ENTRY) {
      perm_fault(err, n, "'permissions.%s[%u]' is longer than %d bytes", key, i,
                 ISO_PROTO_MAX_PERM_ENTRY);
      return ISO_EINVAL;
    } else if (memchr(e.data, 0, e.len) != NULL) {
      why = "contains a NUL byte";
    } else if (!iso_utf8_valid(e.data, e.len)) {
      why = "is not valid UTF-8";
    }
    if (why != NULL) {
      perm_fault(err, n, "'permissions.%s[%u]' %s", key, i, why);
      return ISO_EINVAL;
    }
    items[*used].ptr = (const char*)e.data;
    items[*used].len = e.len;
    (*used)++;
  }
  return 0;
}

/* Decodes a `permissions` value (the one msgpack value in [p, p+len)) into
 * *out, its entries into items (PERM_ITEMS views, caller's storage) and
 * their number into *used. Returns 0, or ISO_EINVAL with err naming the key
 * and the problem (and *out then half filled). The one reading of the
 * field: the server's decoder and the client's check both use it. */
static int perms_decode(const uint8_t* p,
                        size_t len,
                        iso_perm_req* out,
                        iso_str* items,
                        uint32_t* used,
                        char* err,
                        size_t errlen) {
  memset(out, 0, sizeof *out);
  *used = 0;
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, p, p != NULL ? len : 0);
  if (p == NULL || len == 0 || iso_mp_read(&r, &o) != 0) {
    perm_fault(err, errlen, "'permissions' is not valid msgpack");
    return ISO_EINVAL;
  }
  if (o.type != ISO_MP_MAP) {
    perm_fault(err, errlen, "'permissions' must be a map (got %s)",
               type_name(o.type));
    return ISO_EINVAL;
  }
  if (o.len > 3) {
    perm_fault(err, errlen,
               "'permissions' has %u keys (it takes read, write and env)",
               o.len);
    return ISO_EINVAL;
  }
  static const char* const names[] = {"read", "write", "env"};
  iso_perm_list* lists[] = {&out->read, &out->write, &out->env};
  unsigned seen = 0;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(&r, &k) != 0) {
      perm_fault(err, errlen, "'permissions' is not valid msgpack");
      return ISO_EINVAL;
    }
    if (k.type != ISO_MP_STR) {
      perm_fault(err, errlen, "'permissions' keys must be strings (got %s)",
                 type_name(k.type));
      return ISO_EINVAL;
    }
    int key = perm_key(&k);
    if (key < 0) {
      char name[40];
      printable(name, sizeof name, k.data, k.len);
      perm_fault(err, errlen,
                 "unknown key 'permissions.%s' (the keys are read, write and "
                 "env)",
                 name);
      return ISO_EINVAL;
    }
    if (seen & (1u << key)) {
      perm_fault(err, errlen, "duplicate key 'permissions.%s'", names[key]);
      return ISO_EINVAL;
    }
    seen |= 1u << key;
    int rc = perm_value(&r, names[key], lists[key], items, used, err, errlen);
    if (rc != 0) {
      return rc;
    }
  }
  if (r.p != r.end) {
    perm_fault(err, errlen, "%zu trailing bytes after 'permissions'",
               (size_t)(r.end - r.p));
    return ISO_EINVAL;
  }
  out->present = 1;
  return 0;
}

int iso_proto_check_permissions(const uint8_t* p,
                                size_t len,
                                char* err,
                                size_t errlen) {
  iso_perm_req req;
  iso_str items[PERM_ITEMS];
  uint32_t used;
  return perms_decode(p, len, &req, items, &used, err, errlen);
}

/* The request's `permissions`, decoded into q->permissions with its
 * entries copied out of the decoder's scratch into one block the request
 * owns (q->mem_; only for a request no fault refused so far). Returns 0 (a
 * fault may be in sc) or ISO_ENOMEM. */
static int build_permissions(scan* sc, iso_proto_req* q) {
  const uint8_t* p = sc->f[F_PERMISSIONS].p;
  size_t n = (size_t)(sc->f[F_PERMISSIONS].end - p);
  iso_str items[PERM_ITEMS];
  uint32_t used;
  char why[ISO_PROTO_ERRMSG_MAX];
  if (perms_decode(p, n, &q->permissions, items, &used, why, sizeof why) != 0) {
    fault(sc, "%s", why);
  }
  if (sc->bad || used == 0) { /* a refused request needs no copy */
    return 0;
  }
  iso_str* copy = malloc(used * sizeof *copy);
  if (copy == NULL) {
    return ISO_ENOMEM;
  }
  memcpy(copy, items, used * sizeof *copy);
  iso_perm_list* lists[] = {&q->permissions.read, &q->permissions.write,
                            &q->permissions.env};
  for (int i = 0; i < 3; i++) {
    if (lists[i]->n > 0) {
      lists[i]->items = copy + (lists[i]->items - items);
    }
  }
  q->mem_ = copy;
  return 0;
}

/* Interprets the spans of one request. Faults go to sc. Returns 0 or
 * ISO_ENOMEM. */
static int build_req(scan* sc, iso_proto_req* q, int in_batch) {
  q->timeout_ms = -1;
  q->args.data = k_empty_array;
  q->args.len = sizeof k_empty_array;
  if (sc->f[F_ID].p != NULL && !strings_utf8(sc->f[F_ID].p, sc->f[F_ID].end)) {
    /* the id is echoed byte for byte, and a reply holds only valid UTF-8:
     * such an id is refused, and not echoed in the refusal either */
    fault(sc, "'id' holds a string that is not valid UTF-8");
    sc->f[F_ID].p = NULL;
  }
  if (sc->f[F_ID].p != NULL) {
    q->id.data = sc->f[F_ID].p;
    q->id.len = (size_t)(sc->f[F_ID].end - sc->f[F_ID].p);
  }
  if (sc->f[F_BATCH].p != NULL) {
    fault(sc, "'batch' is not allowed inside a batch");
  }
  check_version(sc, !in_batch);

  if (sc->f[F_KIND].p == NULL) {
    fault(sc, "missing 'kind' (\"eval\" or \"call\")");
  } else {
    iso_mp_obj o = field_obj(sc, F_KIND);
    if (o.type == ISO_MP_STR && o.len == 4 && memcmp(o.data, "eval", 4) == 0) {
      q->kind = ISO_JOB_EVAL;
    } else if (o.type == ISO_MP_STR && o.len == 4 &&
               memcmp(o.data, "call", 4) == 0) {
      q->kind = ISO_JOB_CALL;
    } else if (o.type == ISO_MP_STR) {
      char got[24];
      printable(got, sizeof got, o.data, o.len);
      fault(sc, "unknown kind \"%s\" ('kind' must be \"eval\" or \"call\")",
            got);
    } else {
      fault(sc, "'kind' must be a string (got %s)", type_name(o.type));
    }
  }
  if (sc->f[F_SOURCE].p != NULL) {
    iso_mp_obj o = field_obj(sc, F_SOURCE);
    if (o.type != ISO_MP_STR) {
      fault(sc, "'source' must be a string (got %s)", type_name(o.type));
    } else if (!iso_utf8_valid(o.data, o.len)) {
      /* module text is UTF-8; its lines come back in stacks and errors */
      fault(sc, "'source' is not valid UTF-8");
    } else {
      q->source.ptr = (const char*)o.data;
      q->source.len = o.len;
    }
  }
  name_field(sc, F_MODULE, ISO_PROTO_MAX_MODULE, &q->module);
  int has_export =
      name_field(sc, F_EXPORT, ISO_PROTO_MAX_EXPORT, &q->export_name);
  if (sc->f[F_ARGS].p != NULL) {
    iso_mp_obj o = field_obj(sc, F_ARGS);
    if (o.type != ISO_MP_ARRAY) {
      fault(sc, "'args' must be an array (got %s)", type_name(o.type));
    } else {
      q->args.data = sc->f[F_ARGS].p;
      q->args.len = (size_t)(sc->f[F_ARGS].end - sc->f[F_ARGS].p);
    }
  }
  if (sc->f[F_TIMEOUT].p != NULL) {
    iso_mp_obj o = field_obj(sc, F_TIMEOUT);
    if (o.type == ISO_MP_UINT && o.v.u <= (uint64_t)INT64_MAX) {
      q->timeout_ms = (int64_t)o.v.u;
    } else {
      fault(sc, "'timeout_ms' must be a non-negative integer (got %s)",
            o.type == ISO_MP_INT ? "a negative integer" : type_name(o.type));
    }
  }
  int rc = 0;
  if (sc->f[F_PERMISSIONS].p != NULL) {
    rc = build_permissions(sc, q);
  }

  if (q->kind == ISO_JOB_EVAL) {
    if (has_export) {
      fault(sc, "'export' is only for kind \"call\"");
    }
    if (sc->f[F_SOURCE].p == NULL && sc->f[F_MODULE].p == NULL) {
      fault(sc, "eval needs 'source' or 'module'");
    }
    q->export_name.ptr = NULL;
    q->export_name.len = 0;
  } else if (q->kind == ISO_JOB_CALL) {
    if (sc->f[F_MODULE].p == NULL) {
      fault(sc, "call needs 'module'");
    }
    if (!has_export) {
      q->export_name = iso_str_of("default");
    }
  }
  if (sc->bad) { /* a refused request carries no permissions */
    memset(&q->permissions, 0, sizeof q->permissions);
  }
  return rc;
}

/* "batch[3]: ", the prefix of a structural fault inside a batch (built only
 * on that path: formatting it per element would double the decode cost). */
static const char* batch_where(char* buf, size_t n, size_t index) {
  snprintf(buf, n, "batch[%zu]: ", index);
  return buf;
}

/* One element of a batch. A semantic fault marks only this element; a
 * structural one ends the message (the next element cannot be found). */
static int decode_element(iso_mp_rd* r,
                          iso_proto_req* q,
                          size_t index,
                          scan* top) {
  char where[32];
  const uint8_t* start = r->p;
  iso_mp_obj o;
  int rc = iso_mp_read(r, &o);
  if (rc != 0) {
    return structural(top, rc, batch_where(where, sizeof where, index));
  }
  scan sc;
  memset(sc.f, 0, sizeof sc.f);
  sc.bad = 0;
  sc.fatal = 0;
  if (o.type != ISO_MP_MAP) {
    int too_deep = 0;
    r->p = start;
    rc = iso_mp_skip(r, 1, ISO_PROTO_MAX_DEPTH, &too_deep);
    if (rc != 0) {
      return structural(top, rc, batch_where(where, sizeof where, index));
    }
    fault(&sc, "a request must be a map (got %s)", type_name(o.type));
  } else {
    rc = scan_fields(r, o.len, &sc, NULL);
    if (rc == ISO_ENOMEM) {
      return rc;
    }
    if (rc != 0) {
      top->bad = 1;
      top->fatal = 1;
      join(top->err, sizeof top->err, batch_where(where, sizeof where, index),
           sc.err);
      return ISO_EPROTO;
    }
    rc = build_req(&sc, q, 1);
    if (rc != 0) {
      return rc;
    }
  }
  if (sc.bad) {
    q->err = ISO_EPROTO;
    q->errmsg = strdup(sc.err);
    if (q->errmsg == NULL) {
      return ISO_ENOMEM;
    }
  }
  return 0;
}

static int decode_batch(iso_mp_rd* r, iso_proto_msg* out, scan* top) {
  const uint8_t* start = r->p;
  iso_mp_obj o;
  int rc = iso_mp_read(r, &o);
  if (rc != 0) {
    return structural(top, rc, "'batch': ");
  }
  if (o.type != ISO_MP_ARRAY || o.len == 0 || o.len > ISO_PROTO_MAX_BATCH) {
    if (o.type != ISO_MP_ARRAY) {
      fault(top, "'batch' must be an array (got %s)", type_name(o.type));
    } else if (o.len == 0) {
      fault(top, "'batch' is empty");
    } else {
      fault(top, "'batch' has %u requests (the limit is %d)", o.len,
            ISO_PROTO_MAX_BATCH);
    }
    r->p = start;
    rc = skip_value(r, top, "batch");
    return rc < 0 ? rc : 0;
  }
  out->reqs = calloc(o.len, sizeof *out->reqs);
  if (out->reqs == NULL) {
    return ISO_ENOMEM;
  }
  out->is_batch = 1;
  out->count = o.len;
  for (uint32_t i = 0; i < o.len; i++) {
    rc = decode_element(r, &out->reqs[i], i, top);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

void iso_proto_msg_free(iso_proto_msg* msg) {
  if (msg == NULL) {
    return;
  }
  for (size_t i = 0; msg->reqs != NULL && i < msg->count; i++) {
    free(msg->reqs[i].mem_);
    if (msg->is_batch) {
      free((char*)msg->reqs[i].errmsg);
    }
  }
  if (msg->is_batch) {
    free(msg->reqs);
  }
  memset(msg, 0, sizeof *msg);
}

int iso_proto_decode(const uint8_t* buf,
                     size_t len,
                     iso_proto_msg* out,
                     char* errbuf,
                     size_t errlen) {
  memset(out, 0, sizeof *out);
  scan top;
  memset(top.f, 0, sizeof top.f);
  top.bad = 0;
  top.fatal = 0;
  int rc = 0;
  iso_mp_rd r = {NULL, NULL};
  iso_mp_obj o = {.type = ISO_MP_NIL};
  if (len > 0 && buf != NULL) {
    iso_mp_rd_init(&r, buf, len); /* not before: NULL + 0 is undefined */
    rc = iso_mp_read(&r, &o);
  }
  if (len == 0 || buf == NULL) {
    fault(&top, "empty message");
  } else if (rc != 0) {
    structural(&top, rc, "");
    rc = 0;
  } else if (o.type != ISO_MP_MAP) {
    fault(&top, "a message must be a msgpack map (got %s)", type_name(o.type));
  } else {
    rc = scan_fields(&r, o.len, &top, out);
    if (rc == ISO_ENOMEM) {
      iso_proto_msg_free(out);
      return rc;
    }
    if (!top.bad && r.p != r.end) {
      fault(&top, "%zu trailing bytes after the message",
            (size_t)(r.end - r.p));
    }
    if (top.f[F_BATCH].p != NULL) {
      for (int f = 0; f < F_COUNT; f++) {
        if (f != F_V && f != F_BATCH && top.f[f].p != NULL) {
          fault(&top, "a batch message takes only 'v' and 'batch' (found '%s')",
                k_field[f]);
        }
      }
      check_version(&top, 1);
    } else if (!top.fatal) {
      out->reqs = &out->one;
      out->count = 1;
      if (build_req(&top, &out->one, 0) != 0) {
        iso_proto_msg_free(out);
        return ISO_ENOMEM;
      }
    }
  }
  if (!top.bad) {
    return 0;
  }
  iso_bytes id = {NULL, 0};
  if (top.f[F_ID].p != NULL && top.f[F_BATCH].p == NULL &&
      strings_utf8(top.f[F_ID].p, top.f[F_ID].end)) {
    id.data = top.f[F_ID].p;
    id.len = (size_t)(top.f[F_ID].end - top.f[F_ID].p);
  }
  iso_proto_msg_free(out);
  out->err_id = id;
  if (errbuf != NULL && errlen > 0) {
    snprintf(errbuf, errlen, "%s", top.err);
  }
  return ISO_EPROTO;
}

/* ---- reply encoding ----------------------------------------------------- */

static void put_raw_or_nil(iso_mp_wr* w, iso_bytes b) {
  if (b.data == NULL || b.len == 0) {
    iso_mp_put_raw(w, k_nil, 1);
  } else {
    iso_mp_put_raw(w, b.data, b.len);
  }
}

/* Text from outside (a thrown error, console output, a message quoting a
 * request) goes out as valid UTF-8: ill-formed bytes become U+FFFD, so a
 * strict client can always decode the reply. */
static void put_text(iso_mp_wr* w, const char* s, size_t n) {
  if (s == NULL) {
    s = "";
    n = 0;
  }
  if (iso_utf8_valid(s, n)) {
    iso_mp_put_str(w, s, n);
    return;
  }
  iso_buf fixed;
  iso_buf_init(&fixed);
  int rc = iso_utf8_append(&fixed, s, n);
  if (rc == 0) {
    iso_mp_put_str(w, (const char*)fixed.data, fixed.len);
  } else if (w->err == 0) {
    w->err = rc;
  }
  iso_buf_free(&fixed);
}

static void put_view(iso_mp_wr* w, iso_str s) {
  put_text(w, s.ptr, s.ptr ? s.len : 0);
}

int iso_proto_encode_reply(const iso_proto_reply* rp, iso_buf* out) {
  const char* status;
  switch (rp->status) {
    case ISO_STATUS_FULFILLED:
      status = "fulfilled";
      break;
    case ISO_STATUS_REJECTED:
      status = "rejected";
      break;
    case ISO_STATUS_ERROR:
      if (!(iso_proto_code_where(rp->code) & ISO_CODE_JOB)) {
        return ISO_EINVAL;
      }
      status = "error";
      break;
    default:
      return ISO_EINVAL;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 6);
  iso_mp_put_cstr(&w, "v");
  iso_mp_put_uint(&w, ISO_PROTO_VERSION);
  iso_mp_put_cstr(&w, "id");
  put_raw_or_nil(&w, rp->id);
  iso_mp_put_cstr(&w, "status");
  iso_mp_put_cstr(&w, status);
  if (rp->status == ISO_STATUS_FULFILLED) {
    iso_mp_put_cstr(&w, "value");
    put_raw_or_nil(&w, rp->value);
  } else if (rp->status == ISO_STATUS_REJECTED) {
    iso_mp_put_cstr(&w, "error");
    iso_mp_put_map(&w, 3);
    iso_mp_put_cstr(&w, "name");
    put_view(&w, rp->name);
    iso_mp_put_cstr(&w, "message");
    put_view(&w, rp->message);
    iso_mp_put_cstr(&w, "stack");
    put_view(&w, rp->stack);
  } else {
    iso_mp_put_cstr(&w, "error");
    iso_mp_put_map(&w, 2);
    iso_mp_put_cstr(&w, "code");
    iso_mp_put_cstr(&w, iso_proto_code_name(rp->code));
    iso_mp_put_cstr(&w, "message");
    put_view(&w, rp->message);
  }
  iso_mp_put_cstr(&w, "logs");
  iso_mp_put_array(&w, rp->nlogs);
  for (size_t i = 0; i < rp->nlogs; i++) {
    iso_mp_put_array(&w, 2);
    iso_mp_put_cstr(&w, iso_log_level_name(rp->logs[i].level));
    put_text(&w, rp->logs[i].text, rp->logs[i].text ? rp->logs[i].len : 0);
  }
  iso_mp_put_cstr(&w, "stats");
  iso_mp_put_map(&w, 3);
  iso_mp_put_cstr(&w, "worker");
  iso_mp_put_int(&w, rp->stats.worker);
  iso_mp_put_cstr(&w, "queue_us");
  iso_mp_put_int(&w, rp->stats.queue_us);
  iso_mp_put_cstr(&w, "run_us");
  iso_mp_put_int(&w, rp->stats.run_us);
  if (w.err != 0) {
    out->len = mark;
    return w.err;
  }
  return 0;
}

int iso_proto_encode_batch_header(size_t n, iso_buf* out) {
  if (n > UINT32_MAX) {
    return ISO_EINVAL;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 2);
  iso_mp_put_cstr(&w, "v");
  iso_mp_put_uint(&w, ISO_PROTO_VERSION);
  iso_mp_put_cstr(&w, "batch");
  iso_mp_put_array(&w, n);
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

int iso_proto_encode_batch_reply(const iso_proto_reply* replies,
                                 size_t n,
                                 iso_buf* out) {
  size_t mark = out->len;
  int rc = iso_proto_encode_batch_header(n, out);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    rc = iso_proto_encode_reply(&replies[i], out);
  }
  if (rc != 0) {
    out->len = mark;
  }
  return rc;
}

/* ---- request encoding --------------------------------------------------- */

static int check_job(const iso_job* job) {
  if (job == NULL) {
    return ISO_EINVAL;
  }
  if (job->kind == ISO_JOB_EVAL) {
    if ((job->source == NULL && job->module == NULL) ||
        job->export_name != NULL) {
      return ISO_EINVAL;
    }
  } else if (job->kind == ISO_JOB_CALL) {
    if (job->module == NULL) {
      return ISO_EINVAL;
    }
  } else {
    return ISO_EINVAL;
  }
  if (job->module != NULL &&
      (job->module[0] == 0 || strlen(job->module) > ISO_PROTO_MAX_MODULE ||
       !iso_utf8_valid(job->module, strlen(job->module)))) {
    return ISO_EINVAL;
  }
  if (job->export_name != NULL &&
      (job->export_name[0] == 0 ||
       strlen(job->export_name) > ISO_PROTO_MAX_EXPORT ||
       !iso_utf8_valid(job->export_name, strlen(job->export_name)))) {
    return ISO_EINVAL;
  }
  if (job->source != NULL &&
      !iso_utf8_valid(job->source, job->source_len ? job->source_len
                                                   : strlen(job->source))) {
    return ISO_EINVAL;
  }
  if (job->args != NULL) {
    uint8_t c = job->args_len > 0 ? job->args[0] : 0;
    int is_array = (c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd;
    if (!is_array ||
        iso_mp_one(job->args, job->args_len, ISO_PROTO_MAX_DEPTH - 1) != 0) {
      return ISO_EINVAL;
    }
  }
  if (job->id != NULL &&
      (iso_mp_one(job->id, job->id_len, ISO_PROTO_MAX_DEPTH - 1) != 0 ||
       !strings_utf8(job->id, job->id + job->id_len))) {
    return ISO_EINVAL;
  }
  if (job->permissions != NULL &&
      iso_proto_check_permissions(job->permissions, job->permissions_len, NULL,
                                  0) != 0) {
    return ISO_EINVAL;
  }
  return 0;
}

static void put_request(iso_mp_wr* w, const iso_job* job, int with_v) {
  uint32_t n = (with_v ? 1 : 0) + 1 + (job->id != NULL) +
               (job->source != NULL) + (job->module != NULL) +
               (job->export_name != NULL) + (job->args != NULL) +
               (job->timeout_ms > 0) + (job->permissions != NULL);
  iso_mp_put_map(w, n);
  if (with_v) {
    iso_mp_put_cstr(w, "v");
    iso_mp_put_uint(w, ISO_PROTO_VERSION);
  }
  if (job->id != NULL) {
    iso_mp_put_cstr(w, "id");
    iso_mp_put_raw(w, job->id, job->id_len);
  }
  iso_mp_put_cstr(w, "kind");
  iso_mp_put_cstr(w, job->kind == ISO_JOB_EVAL ? "eval" : "call");
  if (job->source != NULL) {
    iso_mp_put_cstr(w, "source");
    iso_mp_put_str(w, job->source,
                   job->source_len ? job->source_len : strlen(job->source));
  }
  if (job->module != NULL) {
    iso_mp_put_cstr(w, "module");
    iso_mp_put_cstr(w, job->module);
  }
  if (job->export_name != NULL) {
    iso_mp_put_cstr(w, "export");
    iso_mp_put_cstr(w, job->export_name);
  }
  if (job->args != NULL) {
    iso_mp_put_cstr(w, "args");
    iso_mp_put_raw(w, job->args, job->args_len);
  }
  if (job->timeout_ms > 0) {
    iso_mp_put_cstr(w, "timeout_ms");
    iso_mp_put_int(w, job->timeout_ms);
  }
  if (job->permissions != NULL) {
    iso_mp_put_cstr(w, "permissions");
    iso_mp_put_raw(w, job->permissions, job->permissions_len);
  }
}

int iso_proto_encode_request(const iso_job* job, iso_buf* out) {
  int rc = check_job(job);
  if (rc != 0) {
    return rc;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  put_request(&w, job, 1);
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

int iso_proto_encode_batch(const iso_job* jobs, size_t n, iso_buf* out) {
  if (jobs == NULL || n == 0 || n > ISO_PROTO_MAX_BATCH) {
    return ISO_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    int rc = check_job(&jobs[i]);
    if (rc != 0) {
      return rc;
    }
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 2);
  iso_mp_put_cstr(&w, "v");
  iso_mp_put_uint(&w, ISO_PROTO_VERSION);
  iso_mp_put_cstr(&w, "batch");
  iso_mp_put_array(&w, n);
  for (size_t i = 0; i < n; i++) {
    put_request(&w, &jobs[i], 0);
  }
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

/* ---- reply decoding ----------------------------------------------------- */

/* The parts of one reply, as views into the message, before copying. */
typedef struct rview {
  iso_status status;
  iso_bytes id, value;
  iso_bytes name, message, stack, code; /* str payloads */
  iso_bytes logs;                       /* raw logs array */
  uint32_t nlogs;
  size_t log_bytes; /* sum of log text lengths */
  iso_stats stats;
} rview;

static int key_is(const iso_mp_obj* k, const char* name) {
  size_t n = strlen(name);
  return k->type == ISO_MP_STR && k->len == n && memcmp(k->data, name, n) == 0;
}

static int skip_any(iso_mp_rd* r) {
  int too_deep = 0; /* replies come from the server: depth is not policed */
  return iso_mp_skip(r, 2, ISO_PROTO_MAX_DEPTH, &too_deep) ? ISO_EPROTO : 0;
}

static int read_int(iso_mp_rd* r, int64_t* out) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type == ISO_MP_INT) {
    *out = o.v.i;
  } else if (o.type == ISO_MP_UINT && o.v.u <= (uint64_t)INT64_MAX) {
    *out = (int64_t)o.v.u;
  } else {
    return ISO_EPROTO;
  }
  return 0;
}

static int read_str(iso_mp_rd* r, iso_bytes* out) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_STR) {
    return ISO_EPROTO;
  }
  out->data = o.data;
  out->len = o.len;
  return 0;
}

static int read_error_map(iso_mp_rd* r, rview* v) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    iso_bytes* dst = key_is(&k, "name")      ? &v->name
                     : key_is(&k, "message") ? &v->message
                     : key_is(&k, "stack")   ? &v->stack
                     : key_is(&k, "code")    ? &v->code
                                             : NULL;
    int rc = dst ? read_str(r, dst) : skip_any(r);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

static int read_logs(iso_mp_rd* r, rview* v) {
  const uint8_t* start = r->p;
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_ARRAY) {
    return ISO_EPROTO;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj pair;
    iso_bytes level, text;
    if (iso_mp_read(r, &pair) != 0 || pair.type != ISO_MP_ARRAY ||
        pair.len != 2 || read_str(r, &level) != 0 || read_str(r, &text) != 0) {
      return ISO_EPROTO;
    }
    v->log_bytes += text.len + 1;
  }
  v->logs.data = start;
  v->logs.len = (size_t)(r->p - start);
  v->nlogs = o.len;
  return 0;
}

static int read_stats(iso_mp_rd* r, rview* v) {
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    int64_t* dst = key_is(&k, "worker")     ? &v->stats.worker
                   : key_is(&k, "queue_us") ? &v->stats.queue_us
                   : key_is(&k, "run_us")   ? &v->stats.run_us
                                            : NULL;
    int rc = dst ? read_int(r, dst) : skip_any(r);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

/* Reads one reply map into views. */
static int read_reply(iso_mp_rd* r, rview* v) {
  memset(v, 0, sizeof *v);
  v->stats.worker = -1;
  iso_mp_obj o;
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  int have_v = 0, have_error = 0;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    int rc = 0;
    const uint8_t* at = r->p;
    if (key_is(&k, "v")) {
      int64_t ver;
      rc = read_int(r, &ver);
      if (rc == 0 && ver != ISO_PROTO_VERSION) {
        rc = ISO_EPROTO;
      }
      have_v = 1;
    } else if (key_is(&k, "id") || key_is(&k, "value")) {
      rc = skip_any(r);
      iso_bytes* dst = key_is(&k, "id") ? &v->id : &v->value;
      dst->data = at;
      dst->len = (size_t)(r->p - at);
    } else if (key_is(&k, "status")) {
      iso_bytes s;
      rc = read_str(r, &s);
      if (rc == 0) {
        if (s.len == 9 && memcmp(s.data, "fulfilled", 9) == 0) {
          v->status = ISO_STATUS_FULFILLED;
        } else if (s.len == 8 && memcmp(s.data, "rejected", 8) == 0) {
          v->status = ISO_STATUS_REJECTED;
        } else if (s.len == 5 && memcmp(s.data, "error", 5) == 0) {
          v->status = ISO_STATUS_ERROR;
        } else {
          rc = ISO_EPROTO;
        }
      }
    } else if (key_is(&k, "error")) {
      rc = read_error_map(r, v);
      have_error = 1;
    } else if (key_is(&k, "logs")) {
      rc = read_logs(r, v);
    } else if (key_is(&k, "stats")) {
      rc = read_stats(r, v);
    } else {
      rc = skip_any(r);
    }
    if (rc != 0) {
      return rc;
    }
  }
  if (!have_v || v->status == ISO_STATUS_NONE ||
      (v->status != ISO_STATUS_FULFILLED && !have_error)) {
    return ISO_EPROTO;
  }
  return 0;
}

static char* copy_str(char** at, iso_bytes s) {
  char* dst = *at;
  if (s.len > 0) {
    memcpy(dst, s.data, s.len);
  }
  dst[s.len] = 0;
  *at += s.len + 1;
  return dst;
}

/* Copies a view into an owned result (one allocation). */
static int make_result(const rview* v, iso_result* out) {
  memset(out, 0, sizeof *out);
  iso_bytes id = v->id;
  if (id.len == 0) {
    id.data = k_nil;
    id.len = 1;
  }
  iso_bytes value = v->value;
  if (v->status == ISO_STATUS_FULFILLED && value.len == 0) {
    value.data = k_nil;
    value.len = 1;
  }
  size_t size = v->nlogs * sizeof(iso_log) + id.len + value.len + v->name.len +
                v->message.len + v->stack.len + v->code.len + 4 + v->log_bytes;
  char* mem = malloc(size);
  if (mem == NULL) {
    return ISO_ENOMEM;
  }
  iso_log* logs = (iso_log*)mem;
  char* at = mem + v->nlogs * sizeof(iso_log);
  memcpy(at, id.data, id.len);
  out->id = (const uint8_t*)at;
  out->id_len = id.len;
  at += id.len;
  if (value.len > 0) {
    memcpy(at, value.data, value.len);
    out->value = (const uint8_t*)at;
    out->value_len = value.len;
    at += value.len;
  }
  out->name = copy_str(&at, v->name);
  out->message = copy_str(&at, v->message);
  out->stack = copy_str(&at, v->stack);
  out->code_name = copy_str(&at, v->code);
  if (v->status == ISO_STATUS_ERROR) {
    out->code = code_from_name(v->code.data, v->code.len);
  }
  iso_mp_rd r = {NULL, NULL};
  iso_mp_obj o;
  if (v->nlogs > 0) {
    /* only then: a reply without logs has logs.data NULL, and NULL + 0 is
     * undefined */
    iso_mp_rd_init(&r, v->logs.data, v->logs.len);
    iso_mp_read(&r, &o); /* the array header, validated by read_logs */
  }
  for (uint32_t i = 0; i < v->nlogs; i++) {
    iso_bytes level = {k_nil, 0}, text = {k_nil, 0};
    iso_mp_read(&r, &o);
    read_str(&r, &level);
    read_str(&r, &text);
    if (!level_from_name(level.data, level.len, &logs[i].level)) {
      logs[i].level = ISO_LOG_LOG;
    }
    logs[i].text = copy_str(&at, text);
    logs[i].len = text.len;
  }
  out->status = v->status;
  out->logs = v->nlogs ? logs : NULL;
  out->nlogs = v->nlogs;
  out->stats = v->stats;
  out->mem_ = mem;
  return 0;
}

void iso_result_free(iso_result* r) {
  if (r == NULL) {
    return;
  }
  free(r->mem_);
  memset(r, 0, sizeof *r);
}

int iso_proto_decode_reply(const uint8_t* buf, size_t len, iso_result* out) {
  memset(out, 0, sizeof *out);
  if (buf == NULL) {
    return ISO_EPROTO;
  }
  iso_mp_rd r;
  iso_mp_rd_init(&r, buf, len);
  rview v;
  int rc = read_reply(&r, &v);
  if (rc == 0 && r.p != r.end) {
    rc = ISO_EPROTO;
  }
  if (rc != 0) {
    return rc;
  }
  return make_result(&v, out);
}

/* Finds the `batch` array of a batch reply: 1 and *r positioned at its
 * first element with *count set; 0 if there is no `batch` field; <0 if the
 * envelope is malformed. */
static int find_batch(const uint8_t* buf,
                      size_t len,
                      iso_mp_rd* r,
                      uint32_t* count) {
  iso_mp_obj o;
  iso_mp_rd_init(r, buf, len);
  if (iso_mp_read(r, &o) != 0 || o.type != ISO_MP_MAP) {
    return ISO_EPROTO;
  }
  int found = 0, have_v = 0;
  iso_mp_rd at = *r;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(r, &k) != 0) {
      return ISO_EPROTO;
    }
    if (key_is(&k, "batch")) {
      at = *r;
      found = 1;
    } else if (key_is(&k, "v")) {
      int64_t ver;
      iso_mp_rd vr = *r;
      if (read_int(&vr, &ver) != 0 || ver != ISO_PROTO_VERSION) {
        return ISO_EPROTO;
      }
      have_v = 1;
    }
    if (skip_any(r) != 0) {
      return ISO_EPROTO;
    }
  }
  if (r->p != r->end) {
    return ISO_EPROTO;
  }
  if (!found) {
    return 0;
  }
  if (!have_v || iso_mp_read(&at, &o) != 0 || o.type != ISO_MP_ARRAY) {
    return ISO_EPROTO;
  }
  *r = at;
  *count = o.len;
  return 1;
}

int iso_proto_decode_batch_reply(const uint8_t* buf,
                                 size_t len,
                                 iso_result* out,
                                 size_t n) {
  for (size_t i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
  }
  if (buf == NULL || n == 0) {
    return ISO_EPROTO;
  }
  iso_mp_rd r;
  uint32_t count = 0;
  int rc = find_batch(buf, len, &r, &count);
  if (rc < 0) {
    return rc;
  }
  size_t done = 0;
  rview v;
  if (rc == 0) {
    /* A single reply refusing the whole batch. */
    rc = iso_proto_decode_reply(buf, len, &out[0]);
    if (rc == 0 && out[0].status != ISO_STATUS_ERROR) {
      rc = ISO_EPROTO;
    }
    if (rc == 0) {
      iso_mp_rd_init(&r, buf, len);
      rc = read_reply(&r, &v);
    }
    for (done = 1; rc == 0 && done < n; done++) {
      rc = make_result(&v, &out[done]);
    }
  } else if (count != n) {
    rc = ISO_EPROTO;
  } else {
    for (rc = 0; rc == 0 && done < n; done++) {
      rc = read_reply(&r, &v);
      if (rc == 0) {
        rc = make_result(&v, &out[done]);
      }
    }
  }
  if (rc != 0) {
    for (size_t i = 0; i < n; i++) {
      iso_result_free(&out[i]);
    }
  }
  return rc;
}
