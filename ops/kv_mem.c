/* kv_mem.c: the kv store in the service's memory (kv_private.h), the
 * backend when no --kv-path is given; its entries end with the process.
 *
 * DESIGN: one sorted array of entries (byte order of keys) behind one
 * mutex. Lookups are a binary search; a new key is inserted in place (a
 * memmove, fine at the sizes a 64 MiB store holds: OPS_KV_OVERHEAD per key
 * bounds the keys to about a million, so the tail an insert moves to 32 MB,
 * a few milliseconds); list(prefix) finds the first key >= prefix and walks
 * forward, so it is ordered and costs O(log n + results) without sorting.
 * Every op holds the mutex for the whole of its read-modify-write, which
 * is what makes increment atomic between threads, and hands entries to its
 * callback while still holding it (the callback copies; no pointer into
 * the store escapes). set copies the value before taking the lock. The
 * callbacks (kv.c) never call back into the store.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "kv_private.h"

typedef struct kv_ent {
  char* key; /* NUL-terminated, klen bytes */
  size_t klen;
  uint8_t* val; /* one msgpack value */
  size_t vlen;
} kv_ent;

typedef struct mem_kv {
  iso_kv base;
  pthread_mutex_t mu;
  kv_ent* ents; /* sorted by key */
  size_t n, cap;
  size_t bytes; /* iso__ops_kv_cost of every entry */
} mem_kv;

/* ---- the sorted array (caller holds mu) ---- */

static int key_cmp(const kv_ent* e, const char* key, size_t klen) {
  int c = memcmp(e->key, key, e->klen < klen ? e->klen : klen);
  if (c != 0) {
    return c;
  }
  return e->klen < klen ? -1 : e->klen > klen;
}

/* The index of the first key >= key; *found iff it is equal. */
static size_t lower_bound(const mem_kv* kv,
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
static int put(mem_kv* kv,
               size_t i,
               int found,
               const char* key,
               size_t klen,
               uint8_t* val,
               size_t vlen) {
  size_t old = found ? iso__ops_kv_cost(kv->ents[i].klen, kv->ents[i].vlen) : 0;
  size_t add = iso__ops_kv_cost(klen, vlen);
  if (kv->bytes - old + add > kv->base.max) {
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

/* ---- the backend ---- */

static int mem_get(iso_kv* base,
                   const char* key,
                   size_t klen,
                   ops_kv_entry_cb cb,
                   void* ctx,
                   char* why) {
  mem_kv* kv = (mem_kv*)base;
  int found, rc = 0;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, key, klen, &found);
  if (found) {
    const kv_ent* e = &kv->ents[i];
    rc = cb(ctx, e->key, e->klen, e->val, e->vlen);
  }
  pthread_mutex_unlock(&kv->mu);
  return rc;
}

static int mem_set(iso_kv* base,
                   const char* key,
                   size_t klen,
                   const uint8_t* v,
                   size_t vlen,
                   char* why) {
  mem_kv* kv = (mem_kv*)base;
  uint8_t* val = malloc(vlen);
  if (val == NULL) {
    return ISO_ENOMEM;
  }
  memcpy(val, v, vlen);
  int found;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, key, klen, &found);
  int rc = put(kv, i, found, key, klen, val, vlen);
  pthread_mutex_unlock(&kv->mu);
  if (rc != 0) {
    free(val);
  }
  return rc;
}

/* Caller holds mu. */
static int update_locked(mem_kv* kv,
                         const char* key,
                         size_t klen,
                         ops_kv_update_cb cb,
                         void* ctx) {
  int found;
  size_t i = lower_bound(kv, key, klen, &found);
  const uint8_t* v;
  size_t vlen;
  int rc = found ? cb(ctx, kv->ents[i].val, kv->ents[i].vlen, 1, &v, &vlen)
                 : cb(ctx, NULL, 0, 0, &v, &vlen);
  if (rc != 0) {
    return rc;
  }
  uint8_t* val = malloc(vlen);
  if (val == NULL) {
    return ISO_ENOMEM;
  }
  memcpy(val, v, vlen);
  rc = put(kv, i, found, key, klen, val, vlen);
  if (rc != 0) {
    free(val);
  }
  return rc;
}

static int mem_update(iso_kv* base,
                      const char* key,
                      size_t klen,
                      ops_kv_update_cb cb,
                      void* ctx,
                      char* why) {
  mem_kv* kv = (mem_kv*)base;
  pthread_mutex_lock(&kv->mu);
  int rc = update_locked(kv, key, klen, cb, ctx);
  pthread_mutex_unlock(&kv->mu);
  return rc;
}

static int mem_del(iso_kv* base,
                   const char* key,
                   size_t klen,
                   int* found,
                   char* why) {
  mem_kv* kv = (mem_kv*)base;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, key, klen, found);
  if (*found) {
    kv_ent e = kv->ents[i];
    kv->bytes -= iso__ops_kv_cost(e.klen, e.vlen);
    memmove(&kv->ents[i], &kv->ents[i + 1], (kv->n - i - 1) * sizeof *kv->ents);
    kv->n--;
    free(e.key);
    free(e.val);
  }
  pthread_mutex_unlock(&kv->mu);
  return 0;
}

static int mem_list(iso_kv* base,
                    const char* prefix,
                    size_t plen,
                    size_t limit,
                    ops_kv_entry_cb cb,
                    void* ctx,
                    char* why) {
  mem_kv* kv = (mem_kv*)base;
  int found, rc = 0;
  pthread_mutex_lock(&kv->mu);
  size_t i = lower_bound(kv, prefix, plen, &found);
  for (size_t n = 0; rc == 0 && n < limit && i < kv->n; n++, i++) {
    const kv_ent* e = &kv->ents[i];
    if (e->klen < plen || memcmp(e->key, prefix, plen) != 0) {
      break;
    }
    rc = cb(ctx, e->key, e->klen, e->val, e->vlen);
  }
  pthread_mutex_unlock(&kv->mu);
  return rc;
}

static void mem_free(iso_kv* base) {
  mem_kv* kv = (mem_kv*)base;
  for (size_t i = 0; i < kv->n; i++) {
    free(kv->ents[i].key);
    free(kv->ents[i].val);
  }
  free(kv->ents);
  pthread_mutex_destroy(&kv->mu);
  free(kv);
}

static const ops_kv_backend kMem = {
    .name = "memory",
    .get = mem_get,
    .set = mem_set,
    .update = mem_update,
    .del = mem_del,
    .list = mem_list,
    .free = mem_free,
};

int iso__ops_kv_mem_new(size_t max_bytes, iso_kv** out) {
  mem_kv* kv = calloc(1, sizeof *kv);
  if (kv == NULL) {
    return ISO_ENOMEM;
  }
  kv->base = (iso_kv){.be = &kMem, .max = max_bytes};
  pthread_mutex_init(&kv->mu, NULL);
  *out = &kv->base;
  return 0;
}
