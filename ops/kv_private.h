/* kv_private.h: the kv store's two backends behind one table, for kv.c.
 *
 * kv.c owns the ops (op_kv_*): their arguments, their errors and the
 * arithmetic of increment. A backend owns where entries live and how one
 * op's read-modify-write is made atomic: kv_mem.c (a sorted array behind a
 * mutex, the default) or kv_lmdb.c (an LMDB file, --kv-path). Both count
 * the same bytes against the same limit (keys + values + OPS_KV_OVERHEAD
 * per key), so a store behaves the same whichever holds it, up to the
 * errors of a file (kv_lmdb.c's header).
 *
 * Every backend function returns 0 or a negative ISO_E* code: ISO_ETOOBIG
 * when the store would pass its limit (kv.c says "kv store is full"),
 * ISO_ENOMEM, ISO_EIO for a failure of the backend itself with its text in
 * why (OPS_KV_WHY bytes), or what a callback returned. A callback returns
 * 0 to go on; anything else stops the op and is handed back as it is
 * (OPS_KV_FAILED: the callback failed the call itself).
 *
 * Thread: any; a backend serialises its writers itself.
 */
#ifndef ISO_KV_PRIVATE_H
#define ISO_KV_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "iso_ops.h"

#define OPS_KV_KEY_MAX 1024
/* what an entry costs besides its key and value bytes (docs/ops.md) */
#define OPS_KV_OVERHEAD 64
#define OPS_KV_WHY 192
/* a callback's "I failed the call already": positive, so never an ISO_E */
#define OPS_KV_FAILED 1

/* The store's size in the accounting both backends share. */
static inline size_t iso__ops_kv_cost(size_t klen, size_t vlen) {
  return klen + vlen + OPS_KV_OVERHEAD;
}

/* An entry handed to a callback: views valid only during the call. */
typedef int (*ops_kv_entry_cb)(void* ctx,
                               const char* key,
                               size_t klen,
                               const uint8_t* val,
                               size_t vlen);

/* increment's step: given the current value (found = 0: none), set *val
 * and *vlen to the value to store (owned by ctx, valid until the backend
 * returns). */
typedef int (*ops_kv_update_cb)(void* ctx,
                                const uint8_t* cur,
                                size_t curlen,
                                int found,
                                const uint8_t** val,
                                size_t* vlen);

typedef struct ops_kv_backend {
  const char* name; /* "memory", "lmdb" */
  /* get: cb with key's value, once; not at all when it is missing. */
  int (*get)(iso_kv* kv,
             const char* key,
             size_t klen,
             ops_kv_entry_cb cb,
             void* ctx,
             char* why);
  /* set: stores a copy of val under key. */
  int (*set)(iso_kv* kv,
             const char* key,
             size_t klen,
             const uint8_t* val,
             size_t vlen,
             char* why);
  /* update: cb's value under key, decided and stored in one atomic step. */
  int (*update)(iso_kv* kv,
                const char* key,
                size_t klen,
                ops_kv_update_cb cb,
                void* ctx,
                char* why);
  /* del: *found tells whether key was there (and is gone now). */
  int (*del)(iso_kv* kv, const char* key, size_t klen, int* found, char* why);
  /* list: cb for each entry whose key starts with prefix, in key byte
   * order, at most limit of them, all from one state of the store. */
  int (*list)(iso_kv* kv,
              const char* prefix,
              size_t plen,
              size_t limit,
              ops_kv_entry_cb cb,
              void* ctx,
              char* why);
  void (*free)(iso_kv* kv);
} ops_kv_backend;

/* The head of every backend's store. */
struct iso_kv {
  const ops_kv_backend* be;
  size_t max;       /* the limit, in iso__ops_kv_cost bytes */
  const char* path; /* the file (owned by the backend); NULL: in memory */
};

/* iso__ops_kv_mem_new: constructor of the in-memory store (kv_mem.c). Returns
 * 0 and *out, or ISO_ENOMEM. */
int iso__ops_kv_mem_new(size_t max_bytes, iso_kv** out);

/* iso__ops_kv_lmdb_new: constructor of the store in the LMDB file at
 * opts->kv_path (kv_lmdb.c): opens it, or makes it. Returns 0 and *out, or
 * ISO_EBUSY (another process, or another env of this one, has it open),
 * ISO_ENOENT, ISO_EINVAL (not a kv file, or a setting out of range),
 * ISO_EIO, ISO_ENOMEM, each with a sentence in err. */
int iso__ops_kv_lmdb_new(const iso_ops_env_opts* opts,
                         size_t max_bytes,
                         iso_kv** out,
                         char* err,
                         size_t errlen);

#endif /* ISO_KV_PRIVATE_H */
