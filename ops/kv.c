/* kv.c: isopool:kv, the service's key-value store (op_kv_*).
 *
 * One store per iso_ops_env, shared by every job of the service. Keys are
 * strings of 1 to 1024 bytes; values are kept as the msgpack bytes the op
 * received and handed back unchanged, so the store never decodes a value
 * except to add to it (op_kv_increment). The store's size is capped at
 * kv_max_bytes: keys plus values plus OPS_KV_OVERHEAD per key, which is
 * what an entry costs besides its bytes (its slot in the array, two
 * allocations), so a million one-byte keys cannot hide a gigabyte of
 * bookkeeping under a 64 MiB limit.
 *
 * This file holds what the ops mean: their arguments and checks, their
 * errors and increment's arithmetic, once. Where the entries live is a
 * backend's (kv_private.h): kv_mem.c in memory, or kv_lmdb.c in an LMDB
 * file when the env was given kv_path (--kv-path); iso__ops_kv_new picks one.
 * A backend hands entries to this file's callbacks, which copy them into
 * the call's result while the backend still holds them (under its lock, or
 * in its read transaction), and runs increment's step inside its one
 * atomic read-modify-write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "kv_private.h"
#include "ops_private.h"

#define LIST_DEFAULT 1000
#define LIST_MAX 100000

int iso__ops_kv_new(const iso_ops_env_opts* opts,
                    size_t max_bytes,
                    iso_kv** out,
                    char* err,
                    size_t errlen) {
  if (opts->kv_path != NULL) {
    return iso__ops_kv_lmdb_new(opts, max_bytes, out, err, errlen);
  }
  int rc = iso__ops_kv_mem_new(max_bytes, out);
  if (rc != 0) {
    snprintf(err, errlen, "kv store: %s", iso_strerror(rc));
  }
  return rc;
}

void iso__ops_kv_free(iso_kv* kv) {
  if (kv != NULL) {
    kv->be->free(kv);
  }
}

const char* iso__ops_kv_path(const iso_kv* kv) {
  return kv->path;
}

/* ---- errors ---- */

/* Fails the call for a backend's rc (not 0). `failed` is what the
 * callback that failed the call returned, for rc == OPS_KV_FAILED. */
static int kv_fail(iso_op_call* call,
                   const iso_kv* kv,
                   int rc,
                   int failed,
                   const char* why) {
  if (rc == OPS_KV_FAILED) {
    return failed;
  }
  if (rc == ISO_ENOMEM) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "%s: out of memory",
                       call->def->name);
  }
  if (rc != ISO_ETOOBIG) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "%s: kv store \"%s\": %s",
                       call->def->name, kv->path ? kv->path : "(memory)",
                       why[0] ? why : iso_strerror(rc));
  }
  size_t mib = kv->max >> 20;
  if (mib > 0 && kv->max == mib << 20) {
    return iso_op_fail(call, ISO_OPERR_OTHER,
                       "kv store is full (%zu MiB): delete keys or raise "
                       "--kv-max-mb",
                       mib);
  }
  return iso_op_fail(call, ISO_OPERR_OTHER,
                     "kv store is full (%zu bytes): delete keys or raise "
                     "--kv-max-mb",
                     kv->max);
}

/* ---- arguments ---- */

static int arg_key(iso_op_call* call, char* key, size_t* klen) {
  int rc = iso_op_arg_str(call, 0, "key", key, OPS_KV_KEY_MAX + 1);
  if (rc != 0) {
    return rc;
  }
  *klen = strlen(key);
  if (*klen == 0) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: argument 1 (key) must not be empty",
                       call->def->name);
  }
  return 0;
}

/* A msgpack number: an integer when is_int, else d. */
typedef struct num {
  int is_int;
  int64_t i;
  double d;
} num;

/* Decodes one msgpack number; ISO_ETYPE when the value is something
 * else. */
static int read_num(const uint8_t* mp, size_t len, num* n) {
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, mp, len);
  if (iso_mp_read(&r, &o) != 0) {
    return ISO_ETYPE;
  }
  *n = (num){0};
  if (o.type == ISO_MP_UINT && o.v.u <= (uint64_t)INT64_MAX) {
    *n = (num){.is_int = 1, .i = (int64_t)o.v.u};
  } else if (o.type == ISO_MP_UINT) {
    n->d = (double)o.v.u;
  } else if (o.type == ISO_MP_INT) {
    *n = (num){.is_int = 1, .i = o.v.i};
  } else if (o.type == ISO_MP_F32 || o.type == ISO_MP_F64) {
    n->d = o.v.f;
  } else {
    return ISO_ETYPE;
  }
  return 0;
}

static num num_add(num a, num b) {
  int64_t sum;
  if (a.is_int && b.is_int && !__builtin_add_overflow(a.i, b.i, &sum)) {
    return (num){.is_int = 1, .i = sum};
  }
  double x = a.is_int ? (double)a.i : a.d;
  double y = b.is_int ? (double)b.i : b.d;
  return (num){.d = x + y};
}

/* ---- ops ---- */

/* What the callbacks write into: the call, and what a failed writer
 * returned. */
typedef struct out_ctx {
  iso_op_call* call;
  int failed;
  uint32_t n; /* entries written (list) */
} out_ctx;

static int put_value(void* ctx,
                     const char* key,
                     size_t klen,
                     const uint8_t* val,
                     size_t vlen) {
  out_ctx* o = ctx;
  o->failed = iso_op_ret_raw(o->call, val, vlen);
  return o->failed != 0 ? OPS_KV_FAILED : 0;
}

int iso__op_kv_get(iso_op_call* call) {
  char key[OPS_KV_KEY_MAX + 1];
  size_t klen;
  int rc = arg_key(call, key, &klen);
  if (rc != 0) {
    return rc;
  }
  iso_kv* kv = call->env->kv;
  out_ctx o = {.call = call};
  char why[OPS_KV_WHY] = "";
  rc = kv->be->get(kv, key, klen, put_value, &o, why);
  return rc != 0 ? kv_fail(call, kv, rc, o.failed, why) : 0;
}

int iso__op_kv_set(iso_op_call* call) {
  char key[OPS_KV_KEY_MAX + 1];
  size_t klen, vlen;
  const uint8_t* v;
  int rc = arg_key(call, key, &klen);
  if (rc != 0 || (rc = iso_op_arg_value(call, 1, "value", &v, &vlen)) != 0) {
    return rc;
  }
  iso_kv* kv = call->env->kv;
  char why[OPS_KV_WHY] = "";
  rc = kv->be->set(kv, key, klen, v, vlen, why);
  return rc != 0 ? kv_fail(call, kv, rc, 0, why) : 0;
}

int iso__op_kv_delete(iso_op_call* call) {
  char key[OPS_KV_KEY_MAX + 1];
  size_t klen;
  int rc = arg_key(call, key, &klen);
  if (rc != 0) {
    return rc;
  }
  iso_kv* kv = call->env->kv;
  char why[OPS_KV_WHY] = "";
  int found = 0;
  rc = kv->be->del(kv, key, klen, &found, why);
  if (rc != 0) {
    return kv_fail(call, kv, rc, 0, why);
  }
  return iso_op_ret_bool(call, found);
}

/* One {key, value} of list's array; the array's header goes in front
 * once the count is known (list_header). */
static int put_entry(void* ctx,
                     const char* key,
                     size_t klen,
                     const uint8_t* val,
                     size_t vlen) {
  out_ctx* o = ctx;
  iso_op_call* call = o->call;
  if ((o->failed = iso_op_ret_map(call, 2)) != 0 ||
      (o->failed = iso_op_ret_str(call, "key", 3)) != 0 ||
      (o->failed = iso_op_ret_str(call, key, klen)) != 0 ||
      (o->failed = iso_op_ret_str(call, "value", 5)) != 0 ||
      (o->failed = iso_op_ret_raw(call, val, vlen)) != 0) {
    return OPS_KV_FAILED;
  }
  o->n++;
  return 0;
}

/* Puts the array header for n entries in front of the entries written
 * from offset start of call->out. */
static int list_header(iso_op_call* call, size_t start, uint32_t n) {
  iso_buf h;
  iso_mp_wr w;
  iso_buf_init(&h);
  iso_mp_wr_init(&w, &h);
  iso_mp_put_array(&w, n);
  iso_buf* out = call->out;
  if (w.err != 0 || iso_buf_reserve(out, h.len) != 0) {
    iso_buf_close(&h);
    return iso_op_fail(call, ISO_OPERR_OTHER, "%s: out of memory",
                       call->def->name);
  }
  memmove(out->data + start + h.len, out->data + start, out->len - start);
  memcpy(out->data + start, h.data, h.len);
  out->len += h.len;
  iso_buf_close(&h);
  return 0;
}

int iso__op_kv_list(iso_op_call* call) {
  char prefix[OPS_KV_KEY_MAX + 1] = "";
  int64_t limit;
  int rc = 0;
  if ((iso__ops_arg_present(call, 0) &&
       (rc = iso_op_arg_str(call, 0, "prefix", prefix, sizeof prefix)) != 0) ||
      (rc = iso_op_arg_int(call, 1, "limit", 0, LIST_MAX, LIST_DEFAULT,
                           &limit)) != 0) {
    return rc;
  }
  iso_kv* kv = call->env->kv;
  out_ctx o = {.call = call};
  char why[OPS_KV_WHY] = "";
  size_t start = call->out->len;
  rc = kv->be->list(kv, prefix, strlen(prefix), (size_t)limit, put_entry, &o,
                    why);
  if (rc != 0) {
    return kv_fail(call, kv, rc, o.failed, why);
  }
  return list_header(call, start, o.n);
}

/* increment's step, run by the backend inside its atomic update. */
typedef struct inc_ctx {
  iso_op_call* call;
  const char* key;
  num by;
  iso_buf val; /* the new value, msgpack */
  int failed;
} inc_ctx;

static int inc_step(void* ctx,
                    const uint8_t* cur,
                    size_t curlen,
                    int found,
                    const uint8_t** val,
                    size_t* vlen) {
  inc_ctx* c = ctx;
  num n = {.is_int = 1};
  if (found && read_num(cur, curlen, &n) != 0) {
    c->failed = iso_op_fail(c->call, ISO_OPERR_INVALID_DATA,
                            "%s: the value of \"%.200s\" is not a number",
                            c->call->def->name, c->key);
    return OPS_KV_FAILED;
  }
  n = num_add(n, c->by);
  iso_mp_wr w;
  iso_buf_reset(&c->val);
  iso_mp_wr_init(&w, &c->val);
  if (n.is_int) {
    iso_mp_put_int(&w, n.i);
  } else {
    iso_mp_put_double(&w, n.d);
  }
  if (w.err != 0) {
    return ISO_ENOMEM;
  }
  *val = c->val.data;
  *vlen = c->val.len;
  return 0;
}

int iso__op_kv_increment(iso_op_call* call) {
  char key[OPS_KV_KEY_MAX + 1];
  size_t klen;
  inc_ctx c = {.call = call, .key = key, .by = {.is_int = 1, .i = 1}};
  int rc = arg_key(call, key, &klen);
  if (rc != 0) {
    return rc;
  }
  if (iso__ops_arg_present(call, 1) &&
      read_num(call->argv[1], call->argl[1], &c.by) != 0) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: argument 2 (by) must be a number", call->def->name);
  }
  iso_kv* kv = call->env->kv;
  char why[OPS_KV_WHY] = "";
  iso_buf_init(&c.val);
  rc = kv->be->update(kv, key, klen, inc_step, &c, why);
  if (rc == 0) {
    rc = iso_op_ret_raw(call, c.val.data, c.val.len);
  } else {
    rc = kv_fail(call, kv, rc, c.failed, why);
  }
  iso_buf_close(&c.val);
  return rc;
}
