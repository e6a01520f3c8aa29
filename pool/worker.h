/* worker.h: the worker side as the front sees it: a worker thread (a
 * runner) is started with what it needs, copied, and two bus ends, and
 * from then on the front reaches it only with records on its bus
 * (records.h); this header is the rest, its life: start, wait for its
 * end, free. Issue 11's step 3b makes these the spawn, waitpid and
 * cleanup of a pool process.
 *
 * worker.c includes pool_base.h and this header only: it sees no
 * structure of the front's (iso_pool, pool_worker, pool_job).
 */
#ifndef ISO_POOL_WORKER_H
#define ISO_POOL_WORKER_H

#include "iso_bus.h"
#include "iso_ops.h"
#include "iso_rt.h"
#include "pool_base.h"

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
  /* The op transport (ops.c): op_send hands a batch of async op requests
   * to the op threads (the runtime's op_send); op_back takes one that
   * came back on ops_end before the runner uses or frees it. Thread: the
   * runner's. */
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

/* pool__runner_start: constructor; starts a worker thread with o (copied)
 * and returns at once: its READY record says how its runtime started
 * (after a failed start it ends by itself). Returns 0 and *out, or
 * ISO_ENOMEM (no thread or memory). Thread: not a worker's. */
int pool__runner_start(const pool_runner_opts* o, pool_runner** out);

/* pool__runner_join: waits for the thread to end (after its STOP record,
 * or a failed start) until `until_ns` (pool__now() time; 0: for ever).
 * Returns 0, or ISO_ETIMEDOUT when it did not end in time (JavaScript
 * that would not stop): it is then abandoned and must never be freed.
 * Thread: not r's. */
int pool__runner_join(pool_runner* r, uint64_t until_ns);

/* pool__runner_free: destructor, once its thread ended (or never
 * started). Accepts NULL. Thread: not r's. */
void pool__runner_free(pool_runner* r);

/* pool__runner_halt: the stop's first step, for JavaScript that would
 * keep the loop from reading the STOP record: from now on a job whose
 * JavaScript is stopped is answered shutting_down, and the JavaScript
 * running now is stopped. Thread: any but r's. */
void pool__runner_halt(pool_runner* r);

/* The runner's runtime for the watchdog, or NULL once it is gone; held
 * until pool__runner_rt_unlock. Thread: any. */
iso_rt* pool__runner_rt_lock(pool_runner* r);
void pool__runner_rt_unlock(pool_runner* r);

#endif /* ISO_POOL_WORKER_H */
