/* kv.c: isopool:kv, the service's in-memory key-value store (op_kv_*).
 *
 * One store per iso_ops_env, shared by every job of the service. Keys are
 * strings of 1 to 1024 bytes; values are kept as the msgpack bytes the op
 * received (copied) and handed back unchanged, so the store never decodes
 * a value except to add to it (op_kv_increment). The store's size is
 * capped at kv_max_bytes: keys plus values plus ENTRY_OVERHEAD per key,
 * which is what an entry costs besides its bytes (its slot in the array,
 * two allocations), so a million one-byte keys cannot hide a gigabyte of
 * bookkeeping under a 64 MiB limit, and the array a new key shifts (a
 * memmove under the lock) stays small enough to move in milliseconds.
 *
 * DESIGN: the store is one sorted array of entries (byte order of keys)
 * behind one mutex. Lookups are a binary search; a new key is inserted in
 * place (a memmove, fine at the sizes a 64 MiB store holds); list(prefix)
 * finds the first key >= prefix and walks forward, so it is ordered and
 * costs O(log n + results) without sorting. Every op holds the mutex for
 * the whole of its read-modify-write, which is what makes increment atomic
 * between threads, and writes its result into call->out while still
 * holding it (a copy of the value; no pointer into the store escapes).
 * Values are copied from the arguments before taking the lock. The mutex is
 * never held while calling anything that could call back into the store.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "ops_private.h"

#define KEY_MAX 1024
#define ENTRY_OVERHEAD 64
#define LIST_DEFAULT 1000
#define LIST_MAX 100000

typedef struct kv_ent {
  char* key; /* NUL-terminated, klen bytes */
  size_t klen;
  uint8_t* val; /* one msgpack value */
  size_t vlen;
} kv_ent;

struct iso_kv {
  pthread_mutex_t mu;
  kv_ent* ents; /* sorted by key */
  size_t n, cap;
  size_t bytes; /* keys + values + ENTRY_OVERHEAD per key */
  size_t max;
};

iso_kv* iso__ops_kv_new(size_t max_bytes) {
  iso_kv* kv = calloc(1, sizeof *kv);
  if (kv == NULL) {
    return NULL;
  }
  pthread_mutex_init(&kv->mu, NULL);
  kv->max = max_bytes;
  return kv;
}

void iso__ops_kv_free(iso_kv* kv) {
  if (kv == NULL) {
    return;
  }
  for (size_t i = 0; i < kv->n; i++) {
    free(kv->ents[i].key);
    free(kv->ents[i].val);
  }
  free(kv->ents);
  pthread_mutex_destroy(&kv->mu);
  free(kv);
}

/* ---- the sorted array (caller holds mu) ---- */

static int key_cmp(const kv_ent* e, const char* key, size_t klen) {
  int c = memcmp(e->key, key, e->klen < klen ? e->klen : klen);
  if (c != 0) {
    return c;
  }
  return e->klen < klen ? -1 : e->klen > klen;
}

/* The index of the first key >= key; *found iff it is equal. */
static size_t lower_bound(const iso_kv* kv,
                          const char* key,
                          size_t klen,
                          int* found) {
  size_t lo = 0, hi = kv->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (key_cmp(&kv->ents[mid], key, klen) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = lo < kv->n && key_cmp(&kv->ents[lo], key, klen) == 0;
  return lo;
}

/* Stores val (malloc'd, taken on success) under key at index i. Returns
 * 0, ISO_ENOMEM, or ISO_ETOOBIG when the store would pass its limit. */
static int put(iso_kv* kv,
               size_t i,
               int found,
               const char* key,
               size_t klen,
               uint8_t* val,
               size_t vlen) {
  size_t old = found ? kv->ents[i].klen + kv->ents[i].vlen + ENTRY_OVERHEAD : 0;
  size_t add = klen + vlen + ENTRY_OVERHEAD;
  if (kv->bytes - old + add > kv->max) {
    return ISO_ETOOBIG;
  }
  if (found) {
    free(kv->ents[i].val);
    kv->ents[i].val = val;
    kv->ents[i].vlen = vlen;
    kv->bytes = kv->bytes - old + add;
    return 0;
  }
  if (kv->n == kv->cap) {
    size_t cap = kv->cap ? 2 * kv->cap : 64;
    kv_ent* ents = realloc(kv->ents, cap * sizeof *ents);
    if (ents == NULL) {
      return ISO_ENOMEM;
    }
    kv->ents = ents;
    kv->cap = cap;
  }
  char* k = strndup(key, klen);
  if (k == NULL) {
    return ISO_ENOMEM;
  }
  memmove(&kv->ents[i + 1], &kv->ents[i], (kv->n - i) * sizeof *kv->ents);
  kv->ents[i] = (kv_ent){.key = k, .klen = klen, .val = val, .vlen = vlen};
  kv->n++;
  kv->bytes += add;
  return 0;
}

static int put_fail(iso_op_call* call, const iso_kv* kv, int rc) {
  if (rc != ISO_ETOOBIG) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "%s: out of memory",
                       call->def->name);
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
  if (iso_op_arg_str(call, 0, "key", key, KEY_MAX + 1) != 0) {
    return ISO_EOP;
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

/* The number as a malloc'd msgpack value. */
static uint8_t* num_encode(num n, size_t* len) {
  iso_buf b;
  iso_mp_wr w;
  iso_buf_init(&b);
  iso_mp_wr_init(&w, &b);
  if (n.is_int) {
    iso_mp_put_int(&w, n.i);
  } else {
    iso_mp_put_double(&w, n.d);
  }
  if (w.err != 0) {
    iso_buf_close(&b);
    return NULL;
  }
  *len = b.len;
  return b.data;
}

/* ---- ops ---- */

int iso__op_kv_get(iso_op_call* call) {
  char key[KEY_MAX + 1];
  size_t klen;
  if (arg_key(call, key, &klen) != 0) {
    return ISO_EOP;
  }
  iso_kv* kv = call->env->kv;
  int found, rc = 0;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, key, klen, &found);
  if (found) {
    rc = iso_op_ret_raw(call, kv->ents[i].val, kv->ents[i].vlen);
  }
  pthread_mutex_unlock(&kv->mu);
  return rc;
}

int iso__op_kv_set(iso_op_call* call) {
  char key[KEY_MAX + 1];
  size_t klen, vlen;
  const uint8_t* v;
  if (arg_key(call, key, &klen) != 0 ||
      iso_op_arg_value(call, 1, "value", &v, &vlen) != 0) {
    return ISO_EOP;
  }
  uint8_t* val = malloc(vlen);
  if (val == NULL) {
    return put_fail(call, call->env->kv, ISO_ENOMEM);
  }
  memcpy(val, v, vlen);
  iso_kv* kv = call->env->kv;
  int found;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, key, klen, &found);
  int rc = put(kv, i, found, key, klen, val, vlen);
  pthread_mutex_unlock(&kv->mu);
  if (rc != 0) {
    free(val);
    return put_fail(call, kv, rc);
  }
  return 0;
}

int iso__op_kv_delete(iso_op_call* call) {
  char key[KEY_MAX + 1];
  size_t klen;
  if (arg_key(call, key, &klen) != 0) {
    return ISO_EOP;
  }
  iso_kv* kv = call->env->kv;
  int found;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, key, klen, &found);
  if (found) {
    kv_ent e = kv->ents[i];
    kv->bytes -= e.klen + e.vlen + ENTRY_OVERHEAD;
    memmove(&kv->ents[i], &kv->ents[i + 1], (kv->n - i - 1) * sizeof *kv->ents);
    kv->n--;
    free(e.key);
    free(e.val);
  }
  pthread_mutex_unlock(&kv->mu);
  return iso_op_ret_bool(call, found);
}

/* Writes entries [i, i + n) as an array of {key, value}. */
static int list_write(iso_op_call* call, iso_kv* kv, size_t i, size_t n) {
  if (iso_op_ret_array(call, (uint32_t)n) != 0) {
    return ISO_EOP;
  }
  for (size_t j = i; j < i + n; j++) {
    const kv_ent* e = &kv->ents[j];
    if (iso_op_ret_map(call, 2) != 0 || iso_op_ret_str(call, "key", 3) != 0 ||
        iso_op_ret_str(call, e->key, e->klen) != 0 ||
        iso_op_ret_str(call, "value", 5) != 0 ||
        iso_op_ret_raw(call, e->val, e->vlen) != 0) {
      return ISO_EOP;
    }
  }
  return 0;
}

int iso__op_kv_list(iso_op_call* call) {
  char prefix[KEY_MAX + 1] = "";
  int64_t limit;
  if ((iso__ops_arg_present(call, 0) &&
       iso_op_arg_str(call, 0, "prefix", prefix, sizeof prefix) != 0) ||
      iso_op_arg_int(call, 1, "limit", 0, LIST_MAX, LIST_DEFAULT, &limit)) {
    return ISO_EOP;
  }
  size_t plen = strlen(prefix);
  iso_kv* kv = call->env->kv;
  int found;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, prefix, plen, &found);
  size_t n = 0;
  while (i + n < kv->n && n < (size_t)limit && kv->ents[i + n].klen >= plen &&
         memcmp(kv->ents[i + n].key, prefix, plen) == 0) {
    n++;
  }
  int rc = list_write(call, kv, i, n);
  pthread_mutex_unlock(&kv->mu);
  return rc;
}

/* The value stored at i (or 0) plus by, stored back and returned. Caller
 * holds mu. */
static int increment_locked(iso_op_call* call,
                            iso_kv* kv,
                            const char* key,
                            size_t klen,
                            num by) {
  int found;
  size_t i = lower_bound(kv, key, klen, &found);
  num cur = {.is_int = 1};
  if (found && read_num(kv->ents[i].val, kv->ents[i].vlen, &cur) != 0) {
    return iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                       "%s: the value of \"%.200s\" is not a number",
                       call->def->name, key);
  }
  size_t vlen;
  uint8_t* val = num_encode(num_add(cur, by), &vlen);
  int rc = val ? put(kv, i, found, key, klen, val, vlen) : ISO_ENOMEM;
  if (rc != 0) {
    free(val);
    return put_fail(call, kv, rc);
  }
  return iso_op_ret_raw(call, val, vlen);
}

int iso__op_kv_increment(iso_op_call* call) {
  char key[KEY_MAX + 1];
  size_t klen;
  num by = {.is_int = 1, .i = 1};
  if (arg_key(call, key, &klen) != 0) {
    return ISO_EOP;
  }
  if (iso__ops_arg_present(call, 1) &&
      read_num(call->argv[1], call->argl[1], &by) != 0) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: argument 2 (by) must be a number", call->def->name);
  }
  iso_kv* kv = call->env->kv;
  pthread_mutex_lock(&kv->mu);
  int rc = increment_locked(call, kv, key, klen, by);
  pthread_mutex_unlock(&kv->mu);
  return rc;
}
