/* ops.c: the op threads, the native side of the op bus.
 *
 * DESIGN: workers send their batches of async op requests (one per event
 * loop tick, iso_rt's op_send) into one NNG work queue (ipc/iso_queue.h,
 * PUSH/PULL inproc); --op-threads threads block on it, each takes a whole
 * batch, runs its ops in order (iso_op_batch_run) and sends the batch back
 * on the asking worker's op bus (ipc/iso_bus.h, PAIR1), whose fd the
 * worker's loop polls. So an op costs two NNG hops and no other thread
 * hand-off, and a tick's thousand ops cost the same two messages.
 * A batch moves by pointer: the records, arguments and results stay in
 * the batch's memory, which the runtime reuses. pool->batches_out counts
 * batches away from their runtime so the shutdown can free every one.
 *
 * What a batch says of its worker is not taken on trust (step 3b: a pool
 * process may be compromised). Its route is a token, an entry and
 * generation in pool->routes, which the op thread looks up under
 * routes_lock when it takes the batch and again when it sends it back (a
 * worker freed meanwhile has left the table: its batch is freed). Its
 * records name their permissions by id, and the op thread gives each
 * record the set that id names in its worker's table (pool_worker.perms,
 * the sets the front sent that worker with its jobs; an id that names
 * none gets no permission), not a set the worker points at: a worker can
 * have at most the permissions of the jobs sent to it. The table is
 * written by routing (pool__perm_id, as a TASK record is sent) and read
 * here, under the worker's perm_lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "pool_private.h"

#define DEFAULT_OP_THREADS 2

/* ---- the permission sets sent to each worker ---- */

uint32_t pool__perm_id(pool_worker* w, iso_perms* perms, int* send) {
  pool_perm* last = &w->perms[w->perm_last];
  pool_perm* e = NULL;
  if (last->perms == perms && perms != NULL) {
    e = last; /* the usual case: one set for most jobs */
  } else {
    uint64_t h = iso_perms_hash(perms);
    pool_perm* spare = NULL; /* free, or the least recently used unused */
    for (uint32_t i = 0; i < w->nperms; i++) {
      pool_perm* p = &w->perms[i];
      if (p->perms != NULL && p->hash == h &&
          iso_perms_equal(p->perms, perms)) {
        e = p;
        break;
      }
      if (p->users == 0 &&
          (spare == NULL || (spare->perms != NULL &&
                             (p->perms == NULL || p->used < spare->used)))) {
        spare = p;
      }
    }
    if (e == NULL) {
      /* a new id: nslots jobs use at most nslots entries of 2 * nslots,
       * so there is a spare */
      assert(spare != NULL);
      e = spare;
      iso_perms_unref(e->perms);
      e->perms = iso_perms_ref(perms);
      e->hash = h;
      e->gen = (e->gen + 1) & 0xffffu;
      e->gen = e->gen != 0 ? e->gen : 1;
      *send = 1;
    }
  }
  w->perm_last = (uint32_t)(e - w->perms);
  e->users++;
  e->used = ++w->perm_clock;
  return POOL_PERM_ID(w->perm_last, e->gen);
}

void pool__perm_release(pool_worker* w, uint32_t id) {
  uint32_t i = POOL_PERM_INDEX(id);
  if (i < w->nperms && w->perms[i].gen == POOL_PERM_GEN(id) &&
      w->perms[i].users > 0) {
    w->perms[i].users--;
  }
}

const iso_perms* pool__perm_resolve(pool_worker* w, uint32_t id) {
  uint32_t i = POOL_PERM_INDEX(id);
  if (id != 0 && i < w->nperms && w->perms[i].perms != NULL &&
      w->perms[i].gen == POOL_PERM_GEN(id)) {
    return iso_perms_ref(w->perms[i].perms);
  }
  return iso_perms_none();
}

/* ---- the op threads ---- */

/* The worker a batch's route token names, or NULL. Called with
 * routes_lock, which keeps it alive. */
static pool_worker* route_of(iso_pool* pool, uint64_t route) {
  assert(pool__mutex_held(&pool->routes_lock));
  uint32_t i = (uint32_t)route;
  uint32_t gen = (uint32_t)(route >> 32);
  if (i < POOL_MAX_ROUTES && pool->routes[i].w != NULL &&
      pool->routes[i].gen == gen) {
    return pool->routes[i].w;
  }
  return NULL;
}

/* Gives each record of b the permission set its perm id names on b's
 * worker (the worker names none itself); 0, or ISO_ENOENT when b's route
 * names no worker. */
static int resolve(iso_pool* pool, iso_op_batch* b) {
  pool__mutex_lock(&pool->routes_lock);
  pool_worker* w = route_of(pool, b->route);
  if (w != NULL) {
    pthread_mutex_lock(&w->perm_lock);
    for (size_t i = 0; i < b->n; i++) {
      iso_op_rec* r = &b->recs[i];
      iso_perms_unref(r->perms); /* a worker's own claim is not taken */
      r->perms = pool__perm_resolve(w, r->perm_id);
    }
    pthread_mutex_unlock(&w->perm_lock);
  }
  pool__mutex_unlock(&pool->routes_lock);
  return w != NULL ? 0 : ISO_ENOENT;
}

/* Sends b back to its worker's op bus; 0, or ISO_ENOENT when it is gone. */
static int send_back(iso_pool* pool, iso_op_batch* b) {
  pool__mutex_lock(&pool->routes_lock);
  pool_worker* w = route_of(pool, b->route);
  void* item = b;
  int rc = w != NULL ? iso_bus_send(w->ops_peer, &item, 1) : ISO_ENOENT;
  pool__mutex_unlock(&pool->routes_lock);
  return rc;
}

static void* op_thread_main(void* arg) {
  iso_pool* pool = arg;
  pthread_setname_np(pthread_self(), "isopool-op");
  void* item;
  while (iso_queue_recv(pool->opq, &item) == 0) {
    iso_op_batch* b = item;
    if (resolve(pool, b) == 0) {
      iso_op_batch_run(b);
    }
    if (send_back(pool, b) != 0) {
      iso_op_batch_free(b); /* the worker is gone */
      atomic_fetch_sub(&pool->batches_out, 1);
    }
  }
  return NULL;
}

int pool__ops_start(iso_pool* pool, char* err, size_t errlen) {
  const iso_pool_opts* o = &pool->opts;
  iso_ops_env_opts eo = {
      .data_root = o->data_dir,
      .kv_max_bytes = o->kv_max_mb * ((size_t)1 << 20),
      .kv_path = o->kv_path,
      .kv_sync = (iso_kv_sync)o->kv_sync,
  };
  char why[512] = "";
  int rc = iso_ops_env_new(&eo, &pool->ops_env, why, sizeof(why));
  if (rc == 0) {
    rc = iso_perms_parse(o->allow_read, o->allow_write, o->allow_env,
                         &pool->granted, why, sizeof(why));
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s", why[0] ? why : iso_strerror(rc));
    return rc;
  }
  char name[64];
  snprintf(name, sizeof(name), "%p-ops", (void*)pool);
  rc = iso_queue_new(name, &pool->opq);
  if (rc != 0) {
    snprintf(err, errlen, "cannot open the op bus: %s", iso_strerror(rc));
    return rc;
  }
  int n = o->op_threads > 0 ? o->op_threads : DEFAULT_OP_THREADS;
  pool->op_threads = calloc((size_t)n, sizeof(pthread_t));
  if (pool->op_threads == NULL) {
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    if (pthread_create(&pool->op_threads[i], NULL, op_thread_main, pool) != 0) {
      snprintf(err, errlen, "cannot start the op threads");
      return ISO_ENOMEM;
    }
    pool->nop_threads++;
  }
  return 0;
}

/* Thread: a worker (its runtime's flush); b->route is its token. */
int pool__op_send(void* data, iso_op_batch* b) {
  iso_pool* pool = data;
  assert(pool__on_worker(NULL));
  atomic_fetch_add(&pool->batches_out, 1);
  int rc = iso_queue_send(pool->opq, b);
  if (rc != 0) {
    atomic_fetch_sub(&pool->batches_out, 1);
  }
  return rc;
}

/* A batch is back with its worker. Thread: the worker (its ops_poll). */
void pool__op_back(void* data, iso_op_batch* b) {
  iso_pool* pool = data;
  assert(pool__on_worker(NULL));
  atomic_fetch_sub(&pool->batches_out, 1);
}

static void drain_cb(void* item, void* arg) {
  iso_pool* pool = arg;
  iso_op_batch_free(item);
  atomic_fetch_sub(&pool->batches_out, 1);
}

static void free_batches(void* const* items, size_t n, void* arg) {
  iso_pool* pool = arg;
  for (size_t i = 0; i < n; i++) {
    iso_op_batch_free(items[i]);
    atomic_fetch_sub(&pool->batches_out, 1);
  }
}

void pool__ops_stop(iso_pool* pool) {
  if (pool->opq == NULL) {
    return;
  }
  iso_queue_shutdown(pool->opq, drain_cb, pool);
  for (int i = 0; i < pool->nop_threads; i++) {
    pthread_join(pool->op_threads[i], NULL);
  }
  /* the batches the op threads sent back to workers that had stopped:
   * they arrive on the buses asynchronously, so wait a little for them */
  uint64_t end = pool__now() + 1000000000ull;
  do {
    pool__mutex_lock(&pool->lock);
    for (int i = 0; i < pool->nworkers; i++) {
      iso_bus_drain(pool->workers[i]->ops_end, free_batches, pool);
    }
    pool__mutex_unlock(&pool->lock);
    if (atomic_load(&pool->batches_out) <= 0) {
      break;
    }
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  } while (pool__now() < end);
}

/* A worker is about to close its op bus (stopped): what came back on it
 * is freed. Thread: not the worker's. */
void pool__ops_forget(iso_pool* pool, pool_worker* w) {
  assert(!pool__on_worker(NULL));
  if (w->ops_end != NULL) {
    iso_bus_drain(w->ops_end, free_batches, pool);
  }
}

void pool__ops_close(iso_pool* pool) {
  iso_queue_free(pool->opq);
  pool->opq = NULL;
  free(pool->op_threads);
  pool->op_threads = NULL;
  iso_perms_unref(pool->granted);
  pool->granted = NULL;
  iso_ops_env_free(pool->ops_env);
  pool->ops_env = NULL;
}
