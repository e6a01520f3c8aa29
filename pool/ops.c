/* ops.c: the op threads, the native side of the op bus.
 *
 * DESIGN: workers send their batches of async op requests (one per event
 * loop tick, iso_rt's op_send) into one NNG work queue (ipc/iso_queue.h,
 * PUSH/PULL inproc); --op-threads threads block on it, each takes a whole
 * batch, runs its ops in order (iso_op_batch_run) and sends the batch back
 * on the asking worker's op bus (ipc/iso_bus.h, PAIR1), whose fd the
 * worker's loop polls. So an op costs two NNG hops and no other thread
 * hand-off, and a tick's thousand ops cost the same two messages.
 * Batches carry pointers: the records, arguments and results stay in the
 * batch's memory, which the runtime reuses. pool->batches_out counts
 * batches away from their runtime so the shutdown can free every one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "pool_private.h"

#define DEFAULT_OP_THREADS 2

static void* op_thread_main(void* arg) {
  iso_pool* pool = arg;
  pthread_setname_np(pthread_self(), "isopool-op");
  void* item;
  while (iso_queue_recv(pool->opq, &item) == 0) {
    iso_op_batch* b = item;
    iso_op_batch_run(b);
    pool_worker* w = b->route;
    if (iso_bus_send(w->ops_peer, &item, 1) != 0) {
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

/* Thread: a worker (its runtime's flush). */
int pool__op_send(void* worker, iso_op_batch* b) {
  pool_worker* w = worker;
  assert(pool__on_worker(NULL));
  b->route = w;
  atomic_fetch_add(&w->pool->batches_out, 1);
  int rc = iso_queue_send(w->pool->opq, b);
  if (rc != 0) {
    atomic_fetch_sub(&w->pool->batches_out, 1);
  }
  return rc;
}

/* A batch is back with its worker. Thread: the worker (its ops_poll). */
void pool__op_back(void* worker, iso_op_batch* b) {
  pool_worker* w = worker;
  assert(pool__on_worker(NULL));
  atomic_fetch_sub(&w->pool->batches_out, 1);
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
