/* kv_lmdb.c: the kv store in an LMDB file (--kv-path FILE; kv_private.h).
 *
 * The store survives the process: a commit is in the file before the op
 * that made it answers, so a value whose job was answered is there after
 * a crash (SIGKILL included) and a restart; ISO_KV_SYNC_* decides what a
 * crash of the machine may take (docs/ops.md, "Durability"). Everything
 * else is the in-memory store's contract, kept to the byte: the same keys
 * (1 to 1024 bytes), order (bytewise), limit and accounting, errors.
 *
 * DESIGN
 *
 * Keys longer than LMDB's. Debian builds LMDB with its default largest key,
 * 511 bytes (mdb_env_get_maxkeysize), and ours go to 1024. So a key is cut
 * into chunks of CHUNK (502) bytes, and the store is a trie of nodes, each
 * a run of LMDB keys `node id (8 bytes, big-endian) + chunk`: the root is
 * node 0; a key of up to 502 bytes is one record in it, `0 + key -> value`.
 * A longer key's first 502 bytes lead through a link record `node + chunk +
 * LINK_TAG -> child node id` to a child node holding the rest the same
 * way (a 1024-byte key: two links, then a record of 20 bytes). Value
 * records are at most 8 + 502 bytes and links exactly 8 + 503, so neither
 * passes 511 and neither can be mistaken for the other. The order is the
 * keys' order: within a node LMDB sorts chunks bytewise; a link sorts
 * right after the value record of its own 502 bytes (a prefix comes
 * first) and before every other chunk, and every key below it shares
 * those 502 bytes, so a walk of the trie in LMDB's order, into each link
 * as it comes, yields the keys in byte order (list). A node left empty by
 * a delete is unlinked, so no walk visits dead links.
 *
 * Byte accounting. The limit counts what the memory store counts
 * (iso__ops_kv_cost: keys + values + 64 per key), kept in the record "state"
 * of the database "meta" and changed in the same write transaction as the
 * entries, so it is always exact and the two backends refuse the same
 * writes. The LMDB map (the most the file may grow to) is sized from the
 * limit with room for LMDB's own overhead: MAP_FACTOR times the limit plus
 * MAP_SLACK. Measured at a 64 MiB limit, filled to the byte and then half
 * deleted and refilled five times: 1-byte values left a file of 0.63 times
 * the limit, 1 KB values 1.84, values of 1.3-1.4 KB or just past LMDB's
 * overflow size (2041-2100 bytes, a page each) 1.93, 4 KB values 1.77,
 * 30-60 KB values 1.18; so 3 leaves room over the worst seen. If the map
 * fills first all the same (a worse pattern of fragmentation), MDB_MAP_FULL
 * is the same "kv store is full" error, and the write is undone.
 *
 * Threads and processes. Every op is one transaction: a read-only one for
 * get and list (so a list is one snapshot), one write transaction for set,
 * delete and increment, whose read-modify-write LMDB's single writer lock
 * makes atomic between threads. The env is opened MDB_NOTLS, since op
 * threads are a pool and a read transaction's reader slot must belong to
 * the transaction, not the thread. LMDB lets several processes share a
 * file, which isopool does not want (two services each believing the
 * store is theirs), so the file is flock'ed exclusively before LMDB opens
 * it: a second env on it, in this process or another, is refused with
 * ISO_EBUSY and a sentence that says so, and never touches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_err.h"
#include "kv_private.h"
#include "ops_private.h"

#define NODE_LEN 8
#define LMDB_KEY_MAX 511 /* LMDB's default build, the smallest there is */
#define CHUNK (LMDB_KEY_MAX - NODE_LEN - 1)
#define LINK_TAG 0x01
#define FORMAT 1
#define MAP_FACTOR 3
#define MAP_SLACK ((size_t)16 << 20)
/* reader slots: op threads and libuv's pool (isopool run) are fewer */
#define READERS 1024

/* The one record of the "meta" database. */
typedef struct kv_state {
  char magic[8]; /* "isokv" */
  uint32_t format;
  uint32_t chunk;
  uint64_t bytes; /* iso__ops_kv_cost of every entry */
  uint64_t keys;
  uint64_t next_node;
} kv_state;

static const char kMagic[8] = "isokv";

typedef struct lmdb_kv {
  iso_kv base;
  MDB_env* env;
  MDB_dbi kv, meta;
  int lock_fd; /* the data file, flock'ed */
  int opened;  /* mdb_env_open succeeded */
  char* path;
} lmdb_kv;

/* ---- records ---- */

/* An LMDB key: node + chunk [+ LINK_TAG]. */
typedef struct ekey {
  uint8_t b[LMDB_KEY_MAX];
  MDB_val v;
} ekey;

static void put_be64(uint8_t* p, uint64_t x) {
  for (int i = 0; i < 8; i++) {
    p[i] = (uint8_t)(x >> (56 - 8 * i));
  }
}

static uint64_t get_be64(const uint8_t* p) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) {
    x = x << 8 | p[i];
  }
  return x;
}

static void ekey_set(ekey* k,
                     uint64_t node,
                     const char* chunk,
                     size_t n,
                     int link) {
  put_be64(k->b, node);
  memcpy(k->b + NODE_LEN, chunk, n);
  if (link) {
    k->b[NODE_LEN + n] = LINK_TAG;
  }
  k->v = (MDB_val){.mv_size = NODE_LEN + n + (link != 0), .mv_data = k->b};
}

/* Fails with an LMDB code: MDB_MAP_FULL is the limit's error; ours say
 * what LMDB said. */
static int lmdb_fail(int rc, char* why) {
  if (rc == MDB_MAP_FULL) {
    return ISO_ETOOBIG;
  }
  if (rc == ENOMEM) {
    return ISO_ENOMEM;
  }
  snprintf(why, OPS_KV_WHY, "%s", mdb_strerror(rc));
  return ISO_EIO;
}

static int state_get(lmdb_kv* kv, MDB_txn* t, kv_state* st) {
  MDB_val k = {.mv_size = 5, .mv_data = "state"}, v;
  int rc = mdb_get(t, kv->meta, &k, &v);
  if (rc != 0) {
    return rc;
  }
  if (v.mv_size != sizeof *st) {
    return MDB_INCOMPATIBLE; /* not our record */
  }
  memcpy(st, v.mv_data, sizeof *st);
  return 0;
}

static int state_put(lmdb_kv* kv, MDB_txn* t, const kv_state* st) {
  MDB_val k = {.mv_size = 5, .mv_data = "state"};
  MDB_val v = {.mv_size = sizeof *st, .mv_data = (void*)st};
  return mdb_put(t, kv->meta, &k, &v, 0);
}

/* Follows the links of key's full chunks: the node of its last chunk, at
 * *off, and (path != NULL) the node at each level, path[0] the root.
 * Returns 0, MDB_NOTFOUND when a link is missing, or an LMDB error. */
static int descend(lmdb_kv* kv,
                   MDB_txn* t,
                   const char* key,
                   size_t klen,
                   uint64_t* node,
                   size_t* off,
                   uint64_t* path) {
  uint64_t n = 0;
  size_t o = 0;
  for (int depth = 0;; depth++) {
    if (path != NULL) {
      path[depth] = n;
    }
    if (klen - o <= CHUNK) {
      break;
    }
    ekey k;
    MDB_val v;
    ekey_set(&k, n, key + o, CHUNK, 1);
    int rc = mdb_get(t, kv->kv, &k.v, &v);
    if (rc != 0) {
      return rc;
    }
    if (v.mv_size != NODE_LEN) {
      return MDB_CORRUPTED;
    }
    n = get_be64(v.mv_data);
    o += CHUNK;
  }
  *node = n;
  *off = o;
  return 0;
}

/* descend, making the links that are missing. */
static int make_links(lmdb_kv* kv,
                      MDB_txn* t,
                      kv_state* st,
                      const char* key,
                      size_t klen,
                      uint64_t* node,
                      size_t* off) {
  uint64_t n = 0;
  size_t o = 0;
  while (klen - o > CHUNK) {
    ekey k;
    MDB_val v;
    uint8_t id[NODE_LEN];
    ekey_set(&k, n, key + o, CHUNK, 1);
    int rc = mdb_get(t, kv->kv, &k.v, &v);
    if (rc == MDB_NOTFOUND) {
      put_be64(id, st->next_node++);
      v = (MDB_val){.mv_size = NODE_LEN, .mv_data = id};
      rc = mdb_put(t, kv->kv, &k.v, &v, 0);
    }
    if (rc != 0) {
      return rc;
    }
    if (v.mv_size != NODE_LEN) {
      return MDB_CORRUPTED;
    }
    n = get_be64(v.mv_data);
    o += CHUNK;
  }
  *node = n;
  *off = o;
  return 0;
}

/* Whether node has no record left. */
static int node_empty(lmdb_kv* kv, MDB_txn* t, uint64_t node, int* empty) {
  MDB_cursor* c;
  int rc = mdb_cursor_open(t, kv->kv, &c);
  if (rc != 0) {
    return rc;
  }
  uint8_t b[NODE_LEN];
  put_be64(b, node);
  MDB_val k = {.mv_size = NODE_LEN, .mv_data = b}, v;
  rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  *empty = rc == MDB_NOTFOUND ||
           (rc == 0 && (k.mv_size < NODE_LEN || memcmp(k.mv_data, b, 8) != 0));
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- the backend ---- */

static int lm_get(iso_kv* base,
                  const char* key,
                  size_t klen,
                  ops_kv_entry_cb cb,
                  void* ctx,
                  char* why) {
  lmdb_kv* kv = (lmdb_kv*)base;
  MDB_txn* t;
  int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &t);
  if (rc != 0) {
    return lmdb_fail(rc, why);
  }
  uint64_t node;
  size_t off;
  int res = 0;
  rc = descend(kv, t, key, klen, &node, &off, NULL);
  if (rc == 0) {
    ekey k;
    MDB_val v;
    ekey_set(&k, node, key + off, klen - off, 0);
    rc = mdb_get(t, kv->kv, &k.v, &v);
    if (rc == 0) {
      res = cb(ctx, key, klen, v.mv_data, v.mv_size);
    }
  }
  mdb_txn_abort(t);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return lmdb_fail(rc, why);
  }
  return res;
}

/* set (cb == NULL: val) and update (cb decides val), in one write
 * transaction. */
static int write_value(lmdb_kv* kv,
                       const char* key,
                       size_t klen,
                       ops_kv_update_cb cb,
                       void* ctx,
                       const uint8_t* val,
                       size_t vlen,
                       char* why) {
  MDB_txn* t;
  int rc = mdb_txn_begin(kv->env, NULL, 0, &t);
  if (rc != 0) {
    return lmdb_fail(rc, why);
  }
  kv_state st;
  uint64_t node;
  size_t off;
  MDB_val cur = {0};
  int found = 0, res = 0;
  rc = state_get(kv, t, &st);
  if (rc == 0) {
    rc = descend(kv, t, key, klen, &node, &off, NULL);
    if (rc == 0) {
      ekey k;
      ekey_set(&k, node, key + off, klen - off, 0);
      rc = mdb_get(t, kv->kv, &k.v, &cur);
      found = rc == 0;
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc;
  }
  if (rc == 0 && cb != NULL) {
    /* cur points into the map: read before anything is written */
    res = cb(ctx, cur.mv_data, cur.mv_size, found, &val, &vlen);
  }
  if (rc == 0 && res == 0) {
    size_t old = found ? iso__ops_kv_cost(klen, cur.mv_size) : 0;
    size_t add = iso__ops_kv_cost(klen, vlen);
    if (st.bytes - old + add > kv->base.max) {
      res = ISO_ETOOBIG;
    } else {
      rc = make_links(kv, t, &st, key, klen, &node, &off);
      if (rc == 0) {
        ekey k;
        MDB_val v = {.mv_size = vlen, .mv_data = (void*)val};
        ekey_set(&k, node, key + off, klen - off, 0);
        rc = mdb_put(t, kv->kv, &k.v, &v, 0);
      }
      if (rc == 0) {
        st.bytes = st.bytes - old + add;
        st.keys += !found;
        rc = state_put(kv, t, &st);
      }
      if (rc == 0) {
        rc = mdb_txn_commit(t);
        t = NULL;
      }
    }
  }
  if (t != NULL) {
    mdb_txn_abort(t);
  }
  return rc != 0 ? lmdb_fail(rc, why) : res;
}

static int lm_set(iso_kv* base,
                  const char* key,
                  size_t klen,
                  const uint8_t* val,
                  size_t vlen,
                  char* why) {
  return write_value((lmdb_kv*)base, key, klen, NULL, NULL, val, vlen, why);
}

static int lm_update(iso_kv* base,
                     const char* key,
                     size_t klen,
                     ops_kv_update_cb cb,
                     void* ctx,
                     char* why) {
  return write_value((lmdb_kv*)base, key, klen, cb, ctx, NULL, 0, why);
}

/* Deletes key's value record and unlinks the nodes it leaves empty. */
static int del_txn(lmdb_kv* kv,
                   MDB_txn* t,
                   const char* key,
                   size_t klen,
                   int* found) {
  kv_state st;
  uint64_t path[OPS_KV_KEY_MAX / CHUNK + 1];
  uint64_t node;
  size_t off;
  int rc = state_get(kv, t, &st);
  if (rc == 0) {
    rc = descend(kv, t, key, klen, &node, &off, path);
  }
  MDB_val v;
  ekey k;
  if (rc == 0) {
    ekey_set(&k, node, key + off, klen - off, 0);
    rc = mdb_get(t, kv->kv, &k.v, &v);
  }
  if (rc != 0) {
    return rc;
  }
  *found = 1;
  st.bytes -= iso__ops_kv_cost(klen, v.mv_size);
  st.keys--;
  rc = mdb_del(t, kv->kv, &k.v, NULL);
  for (size_t depth = off / CHUNK; rc == 0 && depth > 0; depth--) {
    int empty;
    rc = node_empty(kv, t, path[depth], &empty);
    if (rc != 0 || !empty) {
      break;
    }
    ekey_set(&k, path[depth - 1], key + (depth - 1) * CHUNK, CHUNK, 1);
    rc = mdb_del(t, kv->kv, &k.v, NULL);
  }
  return rc == 0 ? state_put(kv, t, &st) : rc;
}

static int lm_del(iso_kv* base,
                  const char* key,
                  size_t klen,
                  int* found,
                  char* why) {
  lmdb_kv* kv = (lmdb_kv*)base;
  MDB_txn* t;
  *found = 0;
  int rc = mdb_txn_begin(kv->env, NULL, 0, &t);
  if (rc != 0) {
    return lmdb_fail(rc, why);
  }
  rc = del_txn(kv, t, key, klen, found);
  if (rc == 0) {
    rc = mdb_txn_commit(t);
  } else {
    mdb_txn_abort(t);
  }
  if (rc == MDB_NOTFOUND) {
    *found = 0;
    return 0;
  }
  return rc != 0 ? lmdb_fail(rc, why) : 0;
}

typedef struct walk {
  lmdb_kv* kv;
  MDB_txn* t;
  char key[OPS_KV_KEY_MAX]; /* the key so far */
  size_t left;              /* entries still wanted */
  ops_kv_entry_cb cb;
  void* ctx;
  int res; /* the callback's, once it stops the walk */
} walk;

/* Visits in key order every value below node whose chunk starts with pre
 * (plen <= CHUNK), under the key's first blen bytes in w->key. Returns an
 * LMDB code; a callback's stop is in w->res. */
static int visit(walk* w,
                 uint64_t node,
                 size_t blen,
                 const char* pre,
                 size_t plen) {
  MDB_cursor* c;
  int rc = mdb_cursor_open(w->t, w->kv->kv, &c);
  if (rc != 0) {
    return rc;
  }
  ekey start;
  ekey_set(&start, node, pre, plen, 0);
  MDB_val k = start.v, v;
  rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && w->left > 0 && w->res == 0) {
    if (k.mv_size < start.v.mv_size ||
        memcmp(k.mv_data, start.b, start.v.mv_size) != 0) {
      break;
    }
    const char* chunk = (const char*)k.mv_data + NODE_LEN;
    size_t clen = k.mv_size - NODE_LEN;
    if (clen == CHUNK + 1) { /* a link: the keys below, in order */
      if (v.mv_size != NODE_LEN || blen + CHUNK >= OPS_KV_KEY_MAX) {
        rc = MDB_CORRUPTED;
        break;
      }
      memcpy(w->key + blen, chunk, CHUNK);
      rc = visit(w, get_be64(v.mv_data), blen + CHUNK, "", 0);
    } else {
      if (blen + clen > OPS_KV_KEY_MAX) {
        rc = MDB_CORRUPTED;
        break;
      }
      memcpy(w->key + blen, chunk, clen);
      w->res = w->cb(w->ctx, w->key, blen + clen, v.mv_data, v.mv_size);
      w->left--;
    }
    if (rc == 0) {
      rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static int lm_list(iso_kv* base,
                   const char* prefix,
                   size_t plen,
                   size_t limit,
                   ops_kv_entry_cb cb,
                   void* ctx,
                   char* why) {
  lmdb_kv* kv = (lmdb_kv*)base;
  walk* w = malloc(sizeof *w);
  if (w == NULL) {
    return ISO_ENOMEM;
  }
  *w = (walk){.kv = kv, .left = limit, .cb = cb, .ctx = ctx};
  int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &w->t);
  if (rc == 0) {
    uint64_t node;
    size_t off;
    rc = descend(kv, w->t, prefix, plen, &node, &off, NULL);
    if (rc == 0 && limit > 0) {
      memcpy(w->key, prefix, off);
      rc = visit(w, node, off, prefix + off, plen - off);
    }
    mdb_txn_abort(w->t);
  }
  int res = w->res;
  free(w);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return lmdb_fail(rc, why);
  }
  return res;
}

static void lm_free(iso_kv* base) {
  lmdb_kv* kv = (lmdb_kv*)base;
  if (kv->opened) {
    mdb_env_sync(kv->env, 1); /* what NOMETA or NONE left unflushed */
  }
  if (kv->env != NULL) {
    mdb_env_close(kv->env);
  }
  if (kv->lock_fd >= 0) {
    close(kv->lock_fd); /* releases the flock */
  }
  free(kv->path);
  free(kv);
}

static const ops_kv_backend kLmdb = {
    .name = "lmdb",
    .get = lm_get,
    .set = lm_set,
    .update = lm_update,
    .del = lm_del,
    .list = lm_list,
    .free = lm_free,
};

/* ---- opening ---- */

/* Opens the databases and checks (or writes, in a new file) the state. */
static int open_dbs(lmdb_kv* kv, char* err, size_t errlen) {
  MDB_txn* t;
  int rc = mdb_txn_begin(kv->env, NULL, 0, &t);
  if (rc != 0) {
    snprintf(err, errlen, "kv file \"%s\": %s", kv->path, mdb_strerror(rc));
    return ISO_EIO;
  }
  MDB_dbi main;
  MDB_stat ms;
  rc = mdb_dbi_open(t, NULL, 0, &main);
  if (rc == 0) {
    rc = mdb_stat(t, main, &ms);
  }
  if (rc == 0) {
    rc =
        mdb_dbi_open(t, "meta", ms.ms_entries == 0 ? MDB_CREATE : 0, &kv->meta);
  }
  if (rc == 0) {
    rc = mdb_dbi_open(t, "kv", ms.ms_entries == 0 ? MDB_CREATE : 0, &kv->kv);
  }
  kv_state st = {.format = FORMAT, .chunk = CHUNK, .next_node = 1};
  memcpy(st.magic, kMagic, sizeof st.magic);
  if (rc == 0 && ms.ms_entries == 0) {
    rc = state_put(kv, t, &st);
  } else if (rc == 0) {
    rc = state_get(kv, t, &st);
  }
  int ours = memcmp(st.magic, kMagic, sizeof kMagic) == 0;
  int same = ours && st.format == FORMAT && st.chunk == CHUNK;
  if (rc == 0 && same) {
    rc = mdb_txn_commit(t);
    t = NULL;
  }
  if (t != NULL) {
    mdb_txn_abort(t);
  }
  if (rc == 0 && ours && !same) {
    snprintf(err, errlen,
             "kv file \"%s\" was written by another version of isopool "
             "(kv format %u, chunks of %u bytes; this one reads format %d)",
             kv->path, st.format, st.chunk, FORMAT);
    return ISO_EINVAL;
  }
  if ((rc == 0 && !ours) || rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
    snprintf(err, errlen,
             "kv file \"%s\" is an LMDB file but not an isopool kv store",
             kv->path);
    return ISO_EINVAL;
  }
  if (rc != 0) {
    snprintf(err, errlen, "kv file \"%s\": %s", kv->path, mdb_strerror(rc));
    return rc == MDB_MAP_FULL ? ISO_ETOOBIG : ISO_EIO;
  }
  return 0;
}

/* Takes the file for this env alone (made when missing). */
static int lock_file(lmdb_kv* kv, char* err, size_t errlen) {
  char text[128];
  kv->lock_fd = open(kv->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (kv->lock_fd < 0) {
    int e = errno;
    snprintf(err, errlen, "kv file \"%s\": %s", kv->path,
             iso__ops_strerror(e, text, sizeof text));
    return e == ENOENT ? ISO_ENOENT : e == EISDIR ? ISO_EINVAL : ISO_EIO;
  }
  struct stat sb;
  if (fstat(kv->lock_fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    snprintf(err, errlen, "kv file \"%s\": is not a regular file", kv->path);
    return ISO_EINVAL;
  }
  if (flock(kv->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      snprintf(err, errlen,
               "kv file \"%s\" is in use: another isopool (or another store "
               "in this one) has it open, and a kv file serves one service "
               "at a time",
               kv->path);
      return ISO_EBUSY;
    }
    snprintf(err, errlen, "kv file \"%s\": cannot lock it: %s", kv->path,
             iso__ops_strerror(e, text, sizeof text));
    return ISO_EIO;
  }
  return 0;
}

/* The map: MAP_FACTOR times the limit plus MAP_SLACK, and never less than
 * the file plus MAP_SLACK (a store reopened with a lower limit can still
 * delete), in whole pages. */
static size_t map_size(const lmdb_kv* kv, const iso_ops_env_opts* opts) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t map = opts->kv_map_bytes;
  if (map == 0) {
    struct stat sb;
    size_t file = fstat(kv->lock_fd, &sb) == 0 ? (size_t)sb.st_size : 0;
    size_t max = kv->base.max;
    map = max <= (SIZE_MAX - MAP_SLACK) / MAP_FACTOR
              ? max * MAP_FACTOR + MAP_SLACK
              : SIZE_MAX / 2;
    if (map < file + MAP_SLACK) {
      map = file + MAP_SLACK;
    }
  }
  return (map + page - 1) / page * page;
}

static unsigned sync_flags(iso_kv_sync sync) {
  switch (sync) {
    case ISO_KV_SYNC_FULL:
      return 0;
    case ISO_KV_SYNC_NONE:
      return MDB_NOSYNC;
    case ISO_KV_SYNC_DEFAULT:
    case ISO_KV_SYNC_NOMETA:
    default:
      return MDB_NOMETASYNC;
  }
}

static int open_env(lmdb_kv* kv,
                    const iso_ops_env_opts* opts,
                    char* err,
                    size_t errlen) {
  int rc = mdb_env_create(&kv->env);
  if (rc == 0) {
    rc = mdb_env_set_maxdbs(kv->env, 2);
  }
  if (rc == 0) {
    rc = mdb_env_set_maxreaders(kv->env, READERS);
  }
  if (rc == 0) {
    rc = mdb_env_set_mapsize(kv->env, map_size(kv, opts));
  }
  if (rc != 0) {
    snprintf(err, errlen, "kv file \"%s\": %s", kv->path, mdb_strerror(rc));
    return rc == ENOMEM ? ISO_ENOMEM : ISO_EIO;
  }
  if (mdb_env_get_maxkeysize(kv->env) < LMDB_KEY_MAX) {
    snprintf(err, errlen,
             "kv file \"%s\": this LMDB takes keys of at most %d bytes; "
             "isopool:kv needs %d",
             kv->path, mdb_env_get_maxkeysize(kv->env), LMDB_KEY_MAX);
    return ISO_EINVAL;
  }
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | sync_flags(opts->kv_sync);
  rc = mdb_env_open(kv->env, kv->path, flags, 0600);
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
    snprintf(err, errlen, "kv file \"%s\" is not an isopool kv store (%s)",
             kv->path, mdb_strerror(rc));
    return ISO_EINVAL;
  }
  if (rc != 0) {
    char text[128];
    snprintf(
        err, errlen, "kv file \"%s\": %s", kv->path,
        rc > 0 ? iso__ops_strerror(rc, text, sizeof text) : mdb_strerror(rc));
    return rc == ENOMEM ? ISO_ENOMEM : ISO_EIO;
  }
  kv->opened = 1;
  /* LMDB 0.9.24 opens the data file without O_CLOEXEC (its lock file and
   * meta fd have it): a process the service starts must not inherit a
   * way to write the store */
  mdb_filehandle_t fd;
  if (mdb_env_get_fd(kv->env, &fd) == 0) {
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  }
  int dead;
  mdb_reader_check(kv->env, &dead); /* slots of a process that died */
  return open_dbs(kv, err, errlen);
}

int iso__ops_kv_lmdb_new(const iso_ops_env_opts* opts,
                         size_t max_bytes,
                         iso_kv** out,
                         char* err,
                         size_t errlen) {
  lmdb_kv* kv = calloc(1, sizeof *kv);
  if (kv == NULL || (kv->path = strdup(opts->kv_path)) == NULL) {
    free(kv);
    snprintf(err, errlen, "kv store: out of memory");
    return ISO_ENOMEM;
  }
  kv->base = (iso_kv){.be = &kLmdb, .max = max_bytes, .path = kv->path};
  kv->lock_fd = -1;
  int rc = lock_file(kv, err, errlen);
  if (rc == 0) {
    rc = open_env(kv, opts, err, errlen);
  }
  if (rc != 0) {
    lm_free(&kv->base);
    return rc;
  }
  *out = &kv->base;
  return 0;
}
