/* iso_admin.c: the admin protocol's request codec (see iso_admin.h):
 * command names, requests decoded with complete checks, and encoded. The
 * replies are iso_admin_reply.c's. */
#include "iso_admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_utf8.h"

static const char* const kCmdNames[] = {[ISO_ADMIN_NONE] = NULL,
#define ISO_ADMIN_CMD_NAME(e, s) [ISO_ADMIN_##e] = s,
                                        ISO_ADMIN_CMD_TABLE(ISO_ADMIN_CMD_NAME)
#undef ISO_ADMIN_CMD_NAME
};
#define NCMDS (sizeof(kCmdNames) / sizeof(kCmdNames[0]))

const char* iso_admin_cmd_name(iso_admin_cmd cmd) {
  return (size_t)cmd < NCMDS ? kCmdNames[cmd] : NULL;
}

static int fail(char* err, size_t errlen, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char* err, size_t errlen, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return ISO_EPROTO;
}

static int key_is(const iso_mp_obj* k, const char* name) {
  return k->len == strlen(name) && memcmp(k->data, name, k->len) == 0;
}

/* An integer value in [min, max] (whole floats count). */
static int int_in(const iso_mp_obj* v, int64_t min, int64_t max, int64_t* out) {
  int64_t x;
  if (v->type == ISO_MP_UINT && v->v.u <= INT64_MAX) {
    x = (int64_t)v->v.u;
  } else if (v->type == ISO_MP_INT) {
    x = v->v.i;
  } else if ((v->type == ISO_MP_F64 || v->type == ISO_MP_F32) &&
             v->v.f >= -0x1p63 && v->v.f < 0x1p63 &&
             v->v.f == (double)(int64_t)v->v.f) {
    /* the range test first: casting NaN or 1e300 to int64_t is undefined
     * (both bounds are exact doubles, and NaN fails both) */
    x = (int64_t)v->v.f;
  } else {
    return ISO_EPROTO;
  }
  if (x < min || x > max) {
    return ISO_EPROTO;
  }
  *out = x;
  return 0;
}

static int str_into(const iso_mp_obj* v, char* dst, size_t cap) {
  if (v->type != ISO_MP_STR || v->len >= cap ||
      memchr(v->data, '\0', v->len) != NULL ||
      !iso_utf8_valid(v->data, v->len)) {
    return ISO_EPROTO;
  }
  memcpy(dst, v->data, v->len);
  dst[v->len] = '\0';
  return 0;
}

/* One key of the map: k is its name, v its value (already read; a
 * container value's elements follow in r and are skipped by the caller). */
static int take_key(iso_admin_req* q,
                    const iso_mp_obj* k,
                    const iso_mp_obj* v,
                    int* has_cmd,
                    char* err,
                    size_t errlen) {
  int64_t x;
  if (key_is(k, "v")) {
    if (int_in(v, 1, 1, &x) != 0) {
      return fail(err, errlen, "'v' must be 1");
    }
  } else if (key_is(k, "cmd")) {
    char name[32];
    if (str_into(v, name, sizeof(name)) != 0) {
      return fail(err, errlen, "'cmd' must be a command name");
    }
    for (size_t i = 1; i < NCMDS; i++) {
      if (strcmp(kCmdNames[i], name) == 0) {
        q->cmd = (iso_admin_cmd)i;
      }
    }
    if (q->cmd == ISO_ADMIN_NONE) {
      return fail(err, errlen, "unknown command '%s'", name);
    }
    *has_cmd = 1;
  } else if (key_is(k, "token")) {
    if (str_into(v, q->token, sizeof(q->token)) != 0) {
      return fail(err, errlen, "'token' must be a string of at most %d bytes",
                  ISO_ADMIN_MAX_TOKEN);
    }
    q->has_token = 1;
  } else if (key_is(k, "job")) {
    if (int_in(v, 0, INT64_MAX, &q->job) != 0) {
      return fail(err, errlen, "'job' must be a job number from `jobs`");
    }
  } else if (key_is(k, "workers")) {
    if (int_in(v, 1, ISO_ADMIN_MAX_WORKERS, &x) != 0) {
      return fail(err, errlen, "'workers' must be an integer from 1 to %d",
                  ISO_ADMIN_MAX_WORKERS);
    }
    q->workers = (int)x;
  } else if (key_is(k, "worker")) {
    if (int_in(v, 0, ISO_ADMIN_MAX_WORKERS - 1, &x) != 0) {
      return fail(err, errlen, "'worker' must be a worker id from 0 to %d",
                  ISO_ADMIN_MAX_WORKERS - 1);
    }
    q->worker = (int)x;
  } else if (key_is(k, "all")) {
    if (v->type != ISO_MP_BOOL) {
      return fail(err, errlen, "'all' must be true or false");
    }
    q->all = v->v.b;
  } else if (key_is(k, "module")) {
    if (v->type != ISO_MP_NIL &&
        str_into(v, q->module, sizeof(q->module)) != 0) {
      return fail(err, errlen, "'module' must be a module specifier");
    }
  } else if (key_is(k, "grace_ms")) {
    if (int_in(v, 0, 3600000, &q->grace_ms) != 0) {
      return fail(err, errlen,
                  "'grace_ms' must be an integer from 0 to 3600000");
    }
  }
  /* other keys: ignored, so newer clients can send more */
  return 0;
}

/* Was key k already one of the first n keys (each's name in names)? */
static int seen_before(const iso_mp_obj* names,
                       uint32_t n,
                       const iso_mp_obj* k) {
  for (uint32_t i = 0; i < n; i++) {
    if (names[i].len == k->len && memcmp(names[i].data, k->data, k->len) == 0) {
      return 1;
    }
  }
  return 0;
}

int iso_admin_decode(const uint8_t* msg,
                     size_t len,
                     iso_admin_req* q,
                     char* err,
                     size_t errlen) {
  memset(q, 0, sizeof(*q));
  q->job = -1;
  q->worker = -1;
  q->grace_ms = -1;
  if (msg == NULL || len == 0) {
    return fail(err, errlen, "an admin request must be a msgpack map");
  }
  if (len > ISO_ADMIN_MAX_MSG) {
    return fail(err, errlen, "the admin request is %zu bytes (the limit is %d)",
                len, ISO_ADMIN_MAX_MSG);
  }
  iso_mp_rd r;
  iso_mp_rd_init(&r, msg, len);
  iso_mp_obj map;
  if (iso_mp_read(&r, &map) != 0 || map.type != ISO_MP_MAP) {
    return fail(err, errlen, "an admin request must be a msgpack map");
  }
  if (map.len > ISO_ADMIN_MAX_KEYS) {
    return fail(err, errlen, "the admin request has %u keys (the limit is %d)",
                map.len, ISO_ADMIN_MAX_KEYS);
  }
  /* Every key once, unknown ones included: a second 'cmd' or 'token'
   * would otherwise replace the first, and what the service logs or checks
   * could differ from what it runs. */
  iso_mp_obj names[ISO_ADMIN_MAX_KEYS];
  int has_cmd = 0, has_v = 0, too_deep = 0;
  for (uint32_t i = 0; i < map.len; i++) {
    iso_mp_obj k, v;
    const uint8_t* at;
    if (iso_mp_read(&r, &k) != 0 || k.type != ISO_MP_STR) {
      return fail(err, errlen, "admin request keys must be strings");
    }
    if (seen_before(names, i, &k)) {
      char name[40];
      size_t n = 0;
      for (uint32_t j = 0; j < k.len && n + 4 < sizeof name; j++) {
        name[n++] =
            k.data[j] >= 0x20 && k.data[j] < 0x7f ? (char)k.data[j] : '?';
      }
      name[n] = '\0';
      return fail(err, errlen, "duplicate key '%s'%s", name,
                  n < k.len ? "..." : "");
    }
    names[i] = k;
    has_v |= key_is(&k, "v");
    at = r.p;
    if (iso_mp_read(&r, &v) != 0) {
      return fail(err, errlen, "the admin request is truncated");
    }
    if (v.type == ISO_MP_ARRAY || v.type == ISO_MP_MAP) {
      r.p = at; /* a container: never a valid value here; step over it */
      if (iso_mp_skip(&r, 2, 8, &too_deep) != 0 || too_deep) {
        return fail(err, errlen, "the admin request is malformed");
      }
      v.type = ISO_MP_ARRAY;
    }
    int rc = take_key(q, &k, &v, &has_cmd, err, errlen);
    if (rc != 0) {
      return rc;
    }
  }
  if (r.p != r.end) {
    return fail(err, errlen, "trailing bytes after the admin request");
  }
  if (!has_v) {
    return fail(err, errlen, "the admin request has no 'v' (the version, 1)");
  }
  if (!has_cmd) {
    return fail(err, errlen, "the admin request has no 'cmd'");
  }
  switch (q->cmd) {
    case ISO_ADMIN_CANCEL:
      if (q->job < 0) {
        return fail(err, errlen, "cancel needs 'job' (a number from `jobs`)");
      }
      break;
    case ISO_ADMIN_RESIZE:
      if (q->workers == 0) {
        return fail(err, errlen, "resize needs 'workers' (1 to %d)",
                    ISO_ADMIN_MAX_WORKERS);
      }
      break;
    case ISO_ADMIN_RECYCLE:
      if ((q->worker < 0) == (q->all == 0)) {
        return fail(err, errlen,
                    "recycle needs 'worker' (an id) or 'all': true, not both");
      }
      break;
    default:
      break;
  }
  return 0;
}

int iso_admin_encode(const iso_admin_req* q, iso_buf* out) {
  const char* name = iso_admin_cmd_name(q->cmd);
  if (name == NULL) {
    return ISO_EINVAL;
  }
  int extra = q->cmd == ISO_ADMIN_CANCEL || q->cmd == ISO_ADMIN_RESIZE ||
              q->cmd == ISO_ADMIN_RECYCLE ||
              (q->cmd == ISO_ADMIN_RELOAD && q->module[0] != '\0') ||
              (q->cmd == ISO_ADMIN_SHUTDOWN && q->grace_ms >= 0);
  size_t at = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 2 + (q->has_token != 0) + (extra != 0));
  iso_mp_put_lit(&w, "v");
  iso_mp_put_int(&w, 1);
  iso_mp_put_lit(&w, "cmd");
  iso_mp_put_cstr(&w, name);
  if (q->has_token) {
    iso_mp_put_lit(&w, "token");
    iso_mp_put_cstr(&w, q->token);
  }
  switch (extra ? q->cmd : ISO_ADMIN_NONE) {
    case ISO_ADMIN_CANCEL:
      iso_mp_put_lit(&w, "job");
      iso_mp_put_int(&w, q->job);
      break;
    case ISO_ADMIN_RESIZE:
      iso_mp_put_lit(&w, "workers");
      iso_mp_put_int(&w, q->workers);
      break;
    case ISO_ADMIN_RECYCLE:
      iso_mp_put_cstr(&w, q->all ? "all" : "worker");
      if (q->all) {
        iso_mp_put_bool(&w, 1);
      } else {
        iso_mp_put_int(&w, q->worker);
      }
      break;
    case ISO_ADMIN_RELOAD:
      iso_mp_put_lit(&w, "module");
      iso_mp_put_cstr(&w, q->module);
      break;
    case ISO_ADMIN_SHUTDOWN:
      iso_mp_put_lit(&w, "grace_ms");
      iso_mp_put_int(&w, q->grace_ms);
      break;
    default:
      break;
  }
  if (w.err != 0) {
    out->len = at;
    return w.err;
  }
  return 0;
}
