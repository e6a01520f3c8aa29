/* iso_proto.c: what both halves of the job protocol codec share
 * (iso_proto.h, docs/protocol.md): the names of codes, log levels and
 * msgpack types, and the one reading of a job's `permissions` (the
 * server's decoder hands it on as an iso_perm_req; the client checks a job
 * with it before sending). The halves: iso_proto_server.c (decode
 * requests, encode replies) and iso_proto_client.c (encode requests,
 * decode replies); what they share is declared in iso_proto_private.h.
 * The client library builds this file and the client half only.
 */
#include "iso_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_proto_private.h"
#include "iso_utf8.h"

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
iso_proto_code iso__proto_code_from_name(const uint8_t* s, size_t n) {
#define ISO_PROTO_CODE_MATCH(name, str, where)          \
  if (((where)&ISO_CODE_JOB) && n == sizeof(str) - 1 && \
      memcmp(s, str, n) == 0) {                         \
    return ISO_CODE_##name;                             \
  }
  ISO_PROTO_CODE_TABLE(ISO_PROTO_CODE_MATCH)
#undef ISO_PROTO_CODE_MATCH
  return ISO_CODE_UNKNOWN;
}

/* The one mapping from ISO_E* to the wire (docs/protocol.md, Error codes):
 * the code a job reply and an admin reply carry for a failure, by -code.
 * A code without a row here, or without a code for that reply, is
 * `internal`. */
static const struct {
  iso_proto_code job, admin;
} kCodeOfErr[] = {
    [-ISO_EPROTO] = {.job = ISO_CODE_BAD_REQUEST},
    [-ISO_EINVAL] = {.job = ISO_CODE_BAD_REQUEST},
    [-ISO_EBUSY] = {.job = ISO_CODE_BUSY, .admin = ISO_CODE_CONFLICT},
    [-ISO_ECLOSED] = {.admin = ISO_CODE_CONFLICT},
    [-ISO_ETIMEDOUT] = {.job = ISO_CODE_TIMEOUT},
    [-ISO_ETERMINATED] = {.job = ISO_CODE_TIMEOUT},
    [-ISO_ETOOBIG] = {.job = ISO_CODE_TOO_LARGE},
    [-ISO_ESHUTDOWN] = {.job = ISO_CODE_SHUTTING_DOWN},
    [-ISO_ELOST] = {.job = ISO_CODE_WORKER_LOST},
    [-ISO_ECPULIMIT] = {.job = ISO_CODE_CPU_LIMIT},
    [-ISO_EHEAPLIMIT] = {.job = ISO_CODE_MEMORY_LIMIT},
};

iso_proto_code iso_proto_code_for(int err, int where) {
  size_t n = sizeof kCodeOfErr / sizeof kCodeOfErr[0];
  iso_proto_code code = ISO_CODE_UNKNOWN;
  if (err < 0 && (size_t)-err < n) {
    code =
        where == ISO_CODE_ADMIN ? kCodeOfErr[-err].admin : kCodeOfErr[-err].job;
  }
  return code != ISO_CODE_UNKNOWN ? code : ISO_CODE_INTERNAL;
}

iso_proto_code iso_proto_code_from_err(int err) {
  return iso_proto_code_for(err, ISO_CODE_JOB);
}

const char* iso_limit_name(iso_limit limit) {
  switch (limit) {
#define ISO_LIMIT_NAME(name, str) \
  case ISO_LIMIT_##name:          \
    return str;
    ISO_LIMIT_TABLE(ISO_LIMIT_NAME)
#undef ISO_LIMIT_NAME
    default:
      return NULL;
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

int iso__proto_level_from_name(const uint8_t* s, size_t n, iso_log_level* out) {
#define ISO_LOG_LEVEL_MATCH(name, str)                  \
  if (n == sizeof(str) - 1 && memcmp(s, str, n) == 0) { \
    *out = ISO_LOG_##name;                              \
    return 1;                                           \
  }
  ISO_LOG_LEVEL_TABLE(ISO_LOG_LEVEL_MATCH)
#undef ISO_LOG_LEVEL_MATCH
  return 0;
}

const char* iso__proto_type_name(iso_mp_type t) {
  static const char* const names[] = {
      [ISO_MP_NIL] = "nil",         [ISO_MP_BOOL] = "a boolean",
      [ISO_MP_UINT] = "an integer", [ISO_MP_INT] = "an integer",
      [ISO_MP_F32] = "a float",     [ISO_MP_F64] = "a float",
      [ISO_MP_STR] = "a string",    [ISO_MP_BIN] = "binary",
      [ISO_MP_ARRAY] = "an array",  [ISO_MP_MAP] = "a map",
      [ISO_MP_EXT] = "an ext"};
  return names[t];
}

/* A field name from the wire, safe to put in a message. */
void iso__proto_printable(char* dst, size_t cap, const uint8_t* s, uint32_t n) {
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

/* ---- permissions ------------------------------------------------------- */

static void perm_fault(char* err, size_t errlen, const char* fmt, ...) {
  if (err == NULL || errlen == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The index of a permissions key (read, write, env, net), or -1. */
static int perm_key(const iso_mp_obj* k) {
  static const char* const keys[] = {"read", "write", "env", "net"};
  for (int i = 0; i < 4; i++) {
    size_t n = strlen(keys[i]);
    if (k->len == n && memcmp(k->data, keys[i], n) == 0) {
      return i;
    }
  }
  return -1;
}

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
               key, iso__proto_type_name(o.type));
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
                 i, iso__proto_type_name(e.type));
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

/* The field read once, into plain data (iso_proto_private.h). The first
 * problem stops the walk, which is why the checker takes any bytes. */
int iso__proto_perms_decode(const uint8_t* p,
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
               iso__proto_type_name(o.type));
    return ISO_EINVAL;
  }
  if (o.len > ISO_PERM_REQ_KINDS) {
    perm_fault(err, errlen,
               "'permissions' has %u keys (it takes read, write, env and net)",
               o.len);
    return ISO_EINVAL;
  }
  static const char* const names[] = {"read", "write", "env", "net"};
  iso_perm_list* lists[] = {&out->read, &out->write, &out->env, &out->net};
  unsigned seen = 0;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k;
    if (iso_mp_read(&r, &k) != 0) {
      perm_fault(err, errlen, "'permissions' is not valid msgpack");
      return ISO_EINVAL;
    }
    if (k.type != ISO_MP_STR) {
      perm_fault(err, errlen, "'permissions' keys must be strings (got %s)",
                 iso__proto_type_name(k.type));
      return ISO_EINVAL;
    }
    int key = perm_key(&k);
    if (key < 0) {
      char name[40];
      iso__proto_printable(name, sizeof name, k.data, k.len);
      perm_fault(err, errlen,
                 "unknown key 'permissions.%s' (the keys are read, write, env "
                 "and net)",
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
  iso_str items[ISO__PROTO_PERM_ITEMS];
  uint32_t used;
  return iso__proto_perms_decode(p, len, &req, items, &used, err, errlen);
}
