/* worker.h: the worker side as the front sees it: a group of worker
 * threads (pool_group: those of one pool process, step 3b; one group for
 * all of them until then) with its watchdog, reached over the group
 * channel, and each worker thread (a runner), started in a group with
 * what it needs, copied, and two bus ends; from then on the front reaches
 * them only with records (records.h). This header is the rest, their
 * life: start, wait for the end, free. Issue 11's step 3b makes these the
 * spawn, waitpid and cleanup of a pool process.
 *
 * The worker side (worker.c, group.c) includes pool_base.h, this header
 * and group_private.h only: it sees no structure of the front's
 * (iso_pool, pool_worker, pool_job).
 */
#ifndef ISO_POOL_WORKER_H
#define ISO_POOL_WORKER_H

#include "iso_bus.h"
#include "iso_ops.h"
#include "iso_rt.h"
#include "pool_base.h"

typedef struct pool_group pool_group;

typedef struct pool_group_opts {
  pool_logger log;
  /* Its end of the group channel, read by its watchdog (HALT in; WEDGED
   * and ALIVE out); the front made it and frees it after the group. */
  iso_bus_end* end;
} pool_group_opts;

/* pool__group_new: constructor; a group with no worker thread yet, and
 * its watchdog thread started. Returns 0 and *out, or ISO_ENOMEM.
 * pool__group_stop: ends its watchdog thread and frees the records left
 * on its end of the channel (the channel may be freed after it).
 * pool__group_free: destructor (stops it first), once every worker
 * thread of the group has been freed (none abandoned). Both accept NULL.
 * Thread: the controlling thread. */
int pool__group_new(const pool_group_opts* o, pool_group** out);
void pool__group_stop(pool_group* g);
void pool__group_free(pool_group* g);

/* What a worker thread needs, all of it given at its start. */
typedef struct pool_runner_opts {
  int id;              /* the worker's number, the front's (poolctl) */
  const char* modules; /* the module root (copied) */
  size_t heap_mb;      /* its isolate's heap limit */
  size_t max_message;  /* a reply over it is answered too_large */
  uint32_t background_ms;
  uint32_t nslots; /* tokens name slots 0..nslots-1 */
  int log_jobs;    /* the output of code left running goes to the log */
  pool_logger log;
  /* The ops' service-wide state, for the ops that run on its thread (sync
   * ops). Step 3b: the pool process's own. */
  iso_ops_env* ops_env;
  /* The size of the front's table of the permission sets it sends this
   * worker (TASK records name them by id, POOL_PERM_ID): the worker keeps
   * them in one as large. */
  uint32_t nperms;
  /* The op transport (ops.c): op_send hands a batch of async op requests
   * to the op threads (the runtime's op_send; the runner writes `route`,
   * its token, into the batch, and its records carry their realms' perm
   * ids, not their sets); op_back takes one that came back on ops_end
   * before the runner uses or frees it. Thread: the runner's. */
  uint64_t route;
  int (*op_send)(void* data, iso_op_batch* batch);
  void (*op_back)(void* data, iso_op_batch* batch);
  void* op_data;
  /* Its ends, read by its own loop: records from the front arrive on
   * `end` (the front keeps the other end, whose records it reads), op
   * batches come back on `ops_end`. The front made them and frees them
   * after the runner ended. */
  iso_bus_end* end;
  iso_bus_end* ops_end;
} pool_runner_opts;

/* pool__runner_start: constructor; starts a worker thread in group g
 * with o (copied) and returns at once: its READY record says how its
 * runtime started (after a failed start it ends by itself). Returns 0 and
 * *out, or ISO_ENOMEM (no thread or memory). Thread: not a worker's. */
int pool__runner_start(pool_group* g,
                       const pool_runner_opts* o,
                       pool_runner** out);

/* pool__runner_join: waits for the thread to end (after its STOP record,
 * or a failed start) until `until_ns` (pool__now() time; 0: for ever).
 * Returns 0, or ISO_ETIMEDOUT when it did not end in time (JavaScript
 * that would not stop): it is then abandoned and must never be freed.
 * Thread: not r's. */
int pool__runner_join(pool_runner* r, uint64_t until_ns);

/* pool__runner_free: destructor, once its thread ended (or never
 * started). Accepts NULL. Thread: not r's. */
void pool__runner_free(pool_runner* r);

#endif /* ISO_POOL_WORKER_H */
