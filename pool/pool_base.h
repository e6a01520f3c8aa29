/* pool_base.h: what both sides of the pool use: the front (pool_private.h)
 * and the worker side (worker.h), which share no structure.
 *
 * The records that cross between them (records.h), the debug-build checks
 * of the thread and lock rules, the clock, the log and the error reply
 * map. Nothing here names a structure of either side.
 */
#ifndef ISO_POOL_BASE_H
#define ISO_POOL_BASE_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_pool.h"
#include "iso_proto.h"
#include "records.h"

typedef struct pool_runner pool_runner; /* worker.c's: a worker thread */
typedef struct pool_group pool_group;   /* group.c's: a group of them */

/* ---- debug-build checks of the thread and lock rules ----
 *
 * Where a comment says "Thread: r's", "worker thread only", "Thread: the
 * watchdog" or "called with the lock", an assert says it again, as
 * SQLite's assert(sqlite3_mutex_held(db->mutex)) does. The checks and the
 * bookkeeping behind them exist only without NDEBUG: they run in the Debug
 * trees (make test-asan, part of make test, and make test-tsan) and cost
 * nothing in a release build. */

/* pool_mutex: a pthread mutex that knows, in debug builds, which thread
 * holds it, so pool__mutex_held can tell "held by me" from "held by
 * someone" (pool->lock, pool->jobs_lock, pool->resize_lock). */
typedef struct pool_mutex {
  pthread_mutex_t m;
#ifndef NDEBUG
  atomic_uintptr_t owner; /* pool__thread_id() of its holder, 0: none */
#endif
} pool_mutex;

#ifndef NDEBUG
/* Each thread's own byte: its address names the thread while it lives. */
extern _Thread_local char pool__thread_tag;
static inline uintptr_t pool__thread_id(void) {
  return (uintptr_t)&pool__thread_tag;
}
/* The worker thread this is (its runner), and the pool whose watchdog
 * this is (NULL for any other thread); set by runner_main and the
 * watchdog. */
extern _Thread_local pool_runner* pool__this_worker;
extern _Thread_local iso_pool* pool__this_watchdog;
/* The group whose watchdog this thread is (NULL for any other). */
extern _Thread_local pool_group* pool__this_group;
#endif

static inline void pool__mutex_init(pool_mutex* m) {
  pthread_mutex_init(&m->m, NULL);
#ifndef NDEBUG
  atomic_init(&m->owner, 0);
#endif
}

static inline void pool__mutex_close(pool_mutex* m) {
  pthread_mutex_destroy(&m->m);
}

static inline void pool__mutex_lock(pool_mutex* m) {
  pthread_mutex_lock(&m->m);
#ifndef NDEBUG
  atomic_store_explicit(&m->owner, pool__thread_id(), memory_order_relaxed);
#endif
}

/* pool__mutex_trylock: 0 when taken, else ISO_EBUSY. */
static inline int pool__mutex_trylock(pool_mutex* m) {
  int rc = pthread_mutex_trylock(&m->m);
#ifndef NDEBUG
  if (rc == 0) {
    atomic_store_explicit(&m->owner, pool__thread_id(), memory_order_relaxed);
  }
#endif
  return rc == 0 ? 0 : ISO_EBUSY;
}

static inline void pool__mutex_unlock(pool_mutex* m) {
#ifndef NDEBUG
  assert(atomic_load_explicit(&m->owner, memory_order_relaxed) ==
         pool__thread_id());
  atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
#endif
  pthread_mutex_unlock(&m->m);
}

#ifndef NDEBUG
/* pool__mutex_held: the calling thread holds m. For asserts only. */
static inline int pool__mutex_held(pool_mutex* m) {
  return atomic_load_explicit(&m->owner, memory_order_relaxed) ==
         pool__thread_id();
}
/* pool__on_worker: the calling thread is worker thread r's (r NULL: any
 * worker thread's). For asserts only. */
static inline int pool__on_worker(const pool_runner* r) {
  return r != NULL ? pool__this_worker == r : pool__this_worker != NULL;
}
/* pool__on_watchdog: the calling thread is pool's watchdog. For asserts
 * only. */
static inline int pool__on_watchdog(const iso_pool* pool) {
  return pool__this_watchdog == pool;
}
/* pool__on_group: the calling thread is g's watchdog (g NULL: any
 * group's). For asserts only. */
static inline int pool__on_group(const pool_group* g) {
  return g != NULL ? pool__this_group == g : pool__this_group != NULL;
}
#endif

static inline uint64_t pool__now(void) {
  return uv_hrtime();
}

/* How long JavaScript the watchdog stopped may go on running before its
 * worker is declared lost. */
#define POOL_LOST_GRACE_MS 1000

/* log.c: where the service's log lines go and which are kept (from
 * --log-level and --log-format; a copy for each side). */
typedef struct pool_logger {
  int min_rank; /* 0 debug, 1 info, 2 warn, 3 error; read and written
                   with __atomic builtins (pool__logger_set_level) */
  int json;     /* 1: JSON objects, else text */
} pool_logger;

/* pool__logger_of: the logger for iso_pool_opts' level and format. */
pool_logger pool__logger_of(const char* level, const char* format);

/* pool__logger_set_level: a new least level for log's lines ("debug",
 * "info", "warn", "error"), seen by every thread at its next line.
 * Thread: any. */
void pool__logger_set_level(pool_logger* log, const char* level);

/* A log line's fields besides its text: what happened ("job_timeout"),
 * the service's job number and the worker it concerns (-1: none). In
 * JSON they are members of the line's object; in text they lead the
 * message: "isopool: debug: job_timeout job=12 worker=1: ...". */
typedef struct pool_log_fields {
  const char* event;
  int64_t job;
  int worker;
} pool_log_fields;

/* pool__log_on: whether log shows lines of this level (one relaxed load:
 * a caller checks it before it builds a line per job). Thread: any. */
int pool__log_on(const pool_logger* log, const char* level);

/* pool__logf: one line of the service's log, in one write(2). Thread:
 * any. */
void pool__logf(const pool_logger* log, const char* level, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* records.c: pool__reply_error: appends the error reply map (code, msg,
 * the request's id, and stats) to out: the one both sides make (the
 * front's refusals and timeouts, a worker's shutting_down, internal and
 * too_large). A worker's passes stats NULL: the map is left open, its
 * stats entry to come from the front (iso_proto_encode_reply_open, as
 * every reply in a DONE record); the front's pass at least .worker, the
 * worker or -1. Thread: any. */
void pool__reply_error(iso_buf* out,
                       iso_bytes id,
                       iso_proto_code code,
                       const char* msg,
                       const iso_stats* stats);

#endif /* ISO_POOL_BASE_H */
