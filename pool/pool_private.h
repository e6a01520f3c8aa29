/* pool_private.h: the pool's shared structures and its files' private
 * functions (pool__...), declared per file below.
 *
 * A request (one client message) owns a private copy of its bytes, which
 * its jobs point into, so the NNG message can be reused for the reply.
 * Each job is answered exactly once, through answer.c (its DESIGN has the
 * rule); the request's reply goes out when its last job is answered, and
 * the request is freed when its last job is released (returned by its
 * worker, or never sent to one).
 */
#ifndef ISO_POOL_PRIVATE_H
#define ISO_POOL_PRIVATE_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_bus.h"
#include "iso_err.h"
#include "iso_ops.h"
#include "iso_pool.h"
#include "iso_proto.h"
#include "iso_queue.h"
#include "iso_rt.h"
#include "iso_server.h"
#include "metrics.h"
#include "records.h"

typedef struct pool_req pool_req;
typedef struct pool_job pool_job;
typedef struct pool_worker pool_worker;
typedef struct pool_task pool_task; /* worker.c's: a job on its worker */

/* ---- debug-build checks of the thread and lock rules ----
 *
 * Where a comment says "Thread: w's", "worker thread only", "Thread: the
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
/* The worker whose thread this is, and the pool whose watchdog this is
 * (NULL for any other thread); set by worker_main and the watchdog. */
extern _Thread_local pool_worker* pool__this_worker;
extern _Thread_local iso_pool* pool__this_watchdog;
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
/* pool__on_worker: the calling thread is w's (w NULL: any worker's).
 * For asserts only. */
static inline int pool__on_worker(const pool_worker* w) {
  return w != NULL ? pool__this_worker == w : pool__this_worker != NULL;
}
/* pool__on_watchdog: the calling thread is pool's watchdog. For asserts
 * only. */
static inline int pool__on_watchdog(const iso_pool* pool) {
  return pool__this_watchdog == pool;
}
#endif

struct pool_req {
  iso_pool* pool;
  pool_req *rprev, *rnext; /* the registry, until its last job's answer */
  iso_server_req* sreq;
  uint32_t peer; /* the client's connection (iso_server_req_peer) */
  uint8_t* buf;  /* the request's bytes (owned) */
  size_t len;
  iso_proto_msg msg;
  pool_job* jobs; /* msg.count jobs */
  atomic_int unanswered;
  atomic_int refs;
};

/* Log lines a job keeps, and their total size. */
#define POOL_MAX_LOGS 100
#define POOL_MAX_LOG_BYTES (16 * 1024)

/* The front's side of a job, from its receipt to its release. Its worker
 * never sees it: the worker gets a TASK record (records.h) and answers
 * with a DONE record naming the job by its token. */
struct pool_job {
  pool_req* req;
  const iso_proto_req* in; /* the decoded request, inside req->buf */
  int64_t sid;             /* the service's job number (poolctl jobs) */
  pool_worker* target;     /* the worker routing chose (under pool->lock) */
  pool_token token;        /* its slot on target (under pool->lock) */
  pool_rec_task* task;     /* its TASK record, made at receipt, until it is
                              sent (then the worker's) */
  pool_job* cnext;         /* pool->cancels (under pool->lock) */
  int cancel_listed;       /* on pool->cancels (under pool->lock) */
  iso_proto_code outcome;  /* how it was answered (0: fulfilled, or the
                              error code; rejected: ISO_CODE_UNKNOWN) */
  int outcome_status;      /* an iso_status */
  uint64_t received_ns;
  uint64_t answered_ns; /* by whoever claimed it, for the counters */
  uint64_t deadline_ns; /* unique among the jobs of a request */
  uint32_t timeout_ms;
  iso_perms* perms; /* what its ops may do (a reference) */
  char* perm_err;   /* why its `permissions` were refused */
  pool_job* qnext;  /* the dispatcher's wait queue */
  atomic_int answered;
  int on_worker; /* sent to target, not given back (under pool->lock) */
  /* when it was sent to its worker, then (once its DONE record won the
   * claim) when the worker started it; 0: never sent. Atomic: whoever
   * answers it counts it with this. */
  _Atomic uint64_t started_ns;
  iso_buf reply; /* the encoded reply map */
};

/* A worker's table of the jobs it has (pool_worker.slots): a job's token
 * is its slot's index and generation. Under pool->lock. */
typedef struct pool_slot {
  pool_job* job; /* NULL: free */
  uint32_t gen;  /* bumped as a job takes it; never 0 once used */
  uint32_t next; /* the free list */
} pool_slot;

/* A warm realm: call jobs run in the one for their permissions. */
#define POOL_MAX_WARM 32

/* A warm realm: the calls to one module with one permission set. */
typedef struct pool_warm {
  iso_realm* realm; /* NULL: a free slot */
  char* module;     /* the module's URL (owned) */
  iso_perms* perms;
  uint64_t used; /* for replacing the least recently used */
  int stale;     /* dropped by poolctl reload: freed once idle, no new calls */
} pool_warm;

/* A worker's life, as poolctl workers shows it. */
enum {
  POOL_W_STARTING = 0,
  POOL_W_RUNNING,
  POOL_W_RECYCLING, /* no new jobs; a fresh isolate once the last is done */
  POOL_W_RETIRING,  /* no new jobs; stops once the last is done (resize) */
  POOL_W_STOPPED,
  POOL_W_LOST /* its JavaScript would not stop: its jobs were answered
                 worker_lost and a new worker took its place; freed once its
                 thread comes back, if ever */
};

/* How long JavaScript the watchdog stopped may go on running before its
 * worker is declared lost. */
#define POOL_LOST_GRACE_MS 1000

/* Worker control requests (pool_worker.ctl bits), from the admin plane. */
enum {
  POOL_CTL_RELOAD = 2,  /* drop warm realms (reload_spec: "" for all) */
  POOL_CTL_RECYCLE = 4, /* replace the isolate once idle */
};

struct pool_worker {
  int id;
  iso_pool* pool;
  atomic_int state;
  atomic_int ctl;
  atomic_long answered; /* jobs it answered */
  atomic_llong heap_used, heap_limit;
  atomic_int warm_modules;
  pthread_mutex_t info_lock; /* last_error, reload_spec, reload_result */
  char last_error[160];
  char reload_spec[1040]; /* ISO_ADMIN_MAX_MODULE + 1 fits */
  int reload_pending;     /* reload requests not yet carried out */
  int reload_realms;      /* warm realms the last reload dropped */
  pthread_cond_t info_cond;
  uv_timer_t info_timer; /* refreshes heap_used etc. */
  int recycle_wanted;    /* worker thread only */
  pthread_t thread;
  uv_loop_t loop;
  uv_async_t async;   /* stop requests */
  uv_poll_t bus_poll; /* the bus's receive fd: jobs arrive */
  uv_prepare_t flush;
  uv_timer_t deadline;
  iso_rt* rt; /* set before start; NULL after, under rt_lock */
  pthread_mutex_t rt_lock;
  pool_warm warm[POOL_MAX_WARM]; /* call jobs; replaced when one fails */
  uint64_t warm_clock;
  iso_bus_end* end;      /* the worker's end of its bus */
  iso_bus_end* disp_end; /* the dispatcher's end */
  iso_bus_end* ops_end;  /* op responses arrive here (polled) */
  iso_bus_end* ops_peer; /* the op threads send them here */
  uv_poll_t ops_poll;
  /* worker thread only: records for the front, sent once per loop
   * iteration; the tasks started, sorted by deadline; per slot, the
   * generation a CANCEL record named (its task may come after it) */
  pool_rec** done;
  size_t ndone, capdone;
  pool_task* active;
  pool_task* spare; /* finished tasks kept for reuse */
  int nspare;
  uint32_t* cancelled;
  /* the front's, under pool->lock: jobs sent and not given back, and the
   * table that names them (nslots: max_inflight_per_worker) */
  int inflight;
  pool_slot* slots;
  uint32_t nslots, free_slot;
  atomic_int stop;
  atomic_int exited; /* its thread has left worker_main */
  int abandoned;     /* the shutdown stopped waiting for its thread */
  uint64_t stop_gen; /* the watchdog's: the entry it stopped, and when */
  uint64_t stop_ns;
  int thread_started;
  int start_done; /* under info_lock; info_cond signals it */
  int start_rc;
  char start_err[256];
};

#define POOL_MAX_WORKERS 256

/* How far the shutdown is (iso_pool.stopping). */
enum {
  POOL_STOP_NONE = 0,
  POOL_STOP_BEGUN,   /* no worker is added or reaped any more */
  POOL_STOP_WORKERS, /* workers are stopping: none is woken any more */
};
#define POOL_DRAIN (-2) /* stop_grace_ms: wait for every job taken */

struct iso_pool {
  iso_pool_opts opts;
  char* modules;
  iso_server* server;
  /* the workers, under lock (pool.c's DESIGN says who may hold a pointer
   * outside it): a retired worker is stopped and freed by the watchdog
   * once it has nothing in flight. nworkers: slots in use. */
  pool_worker* workers[POOL_MAX_WORKERS];
  int nworkers;
  int configured; /* the size the pool is asked to be (lock) */
  int abandoned;  /* workers the shutdown did not wait for (iso_pool_abandoned)
                   */
  int stopping;   /* POOL_STOP_* (under lock) */
  pool_mutex resize_lock; /* one resize at a time; the shutdown */
  int next_worker_id;
  /* the admin plane */
  iso_server* admin;
  struct iso_http* http; /* the metrics page */
  char* admin_url;
  char* admin_token;
  uint64_t started_ns;
  atomic_llong next_sid;
  pool_mutex jobs_lock; /* the registry of requests (unanswered) */
  pool_req *reqs_head, *reqs_tail;
  atomic_int state;         /* ISO_POOL_RUNNING, ... (iso_pool.h) */
  atomic_int admin_waiting; /* admin commands waiting on workers: no reaping */
  int64_t stop_grace_ms;    /* asked by the admin plane: -1 none, POOL_DRAIN */
  pool_mutex lock;          /* routing: inflight counts, the wait queue */
  pool_job *qhead, *qtail;
  int qlen;
  pool_job* cancels; /* cancelled on a worker, not given back (watchdog) */
  int draining;
  pthread_t watchdog;
  pthread_mutex_t wd_lock;
  pthread_cond_t wd_cond;
  int wd_stop;
  iso_metrics* metrics;
  /* the op bus (ops.c) */
  iso_ops_env* ops_env;
  iso_perms* granted; /* what the service's flags allow */
  iso_queue* opq;     /* requests: workers -> op threads */
  pthread_t* op_threads;
  int nop_threads;
  atomic_long batches_out; /* sent to the op threads, not yet back */
};

static inline uint64_t pool__now(void) {
  return uv_hrtime();
}

/* answer.c: claim, encode, count, reply and release a job's answer (its
 * DESIGN paragraph). */

/* pool__answer_claim: 1 if the caller wins the job's one answer (and must
 * now give it: pool__answer_claimed), 0 if someone else has. Thread: any. */
int pool__answer_claim(pool_job* job);
/* pool__answer_claimed: answers a job the caller claimed with an error,
 * as answered by worker `worker` (its id, or -1), and reports it: its
 * request's reply goes out with its last answer. Thread: not a worker's. */
void pool__answer_claimed(pool_job* job,
                          iso_proto_code code,
                          const char* msg,
                          int worker);
/* pool__answer_refuse: answers code/msg a job no worker has (refused,
 * queued, never routed) unless someone has, then releases the caller's
 * reference. Thread: not a worker's. */
void pool__answer_refuse(pool_job* job, iso_proto_code code, const char* msg);
/* pool__answer_done: w's DONE record for job (the token named it):
 * unless someone answered the job, its reply is the record's (counted in
 * w->answered, its note kept for poolctl workers) and is reported; a
 * record without a reply for a job nobody answered gets an internal
 * error. Then the job is released. Takes the record's reply. Thread: an
 * NNG thread (the dispatcher's end of w's bus). */
void pool__answer_done(pool_worker* w, pool_job* job, pool_rec_done* done);
/* pool__answer_release: the caller is done with the job; the request is
 * freed with its last job. Thread: any. */
void pool__answer_release(pool_job* job);
/* pool__answer_unanswered: answers code/msg every unanswered job, or (w
 * not NULL) every one on w, its worker being lost; the jobs stay where
 * they are. Returns how many. Thread: not a worker's. */
size_t pool__answer_unanswered(iso_pool* pool,
                               pool_worker* w,
                               iso_proto_code code,
                               const char* msg);
/* pool__answer_message: replies code/msg to a message that never became
 * jobs (too large, undecodable, out of memory). Thread: its NNG thread. */
void pool__answer_message(iso_server_req* sreq,
                          iso_bytes id,
                          iso_proto_code code,
                          const char* msg);
/* pool__reply_error: appends the error reply map (code, msg, the
 * request's id, stats.worker = worker or -1) to out. For both sides.
 * Thread: any. */
void pool__reply_error(iso_buf* out,
                       iso_bytes id,
                       iso_proto_code code,
                       const char* msg,
                       int worker);
/* pool__req_register: numbers the request's jobs and puts it in the
 * registry (pool->jobs_lock) until its last answer. Thread: any. */
void pool__req_register(iso_pool* pool, pool_req* req);

/* dispatch.c */
/* pool__refill: w just became ready or recycled: it takes queued jobs,
 * in order, as many as it has room for. Thread: any. */
void pool__refill(iso_pool* pool, pool_worker* w);
/* pool__request_cb: iso_server's request callback: a client message in.
 * Thread: an NNG thread. */
void pool__request_cb(iso_server_req* sreq,
                      const uint8_t* data,
                      size_t len,
                      void* arg);
/* pool__disp_bus_cb: the dispatcher's end of a worker's bus: finished
 * jobs back. Thread: an NNG thread. */
void pool__disp_bus_cb(void* const* items, size_t n, void* arg);
/* pool__peer_closed_cb: iso_server's closed_cb: a client's connection
 * closed; its jobs are cancelled. Thread: an NNG thread. */
void pool__peer_closed_cb(uint32_t peer, void* arg);
/* A cancel in two steps: pool__cancel_begin, with jobs_lock held (the
 * job was found in the registry, so its request is alive), takes the job
 * out of the wait queue, claims it, and if it is on a worker sends that
 * worker a CANCEL record and lists the job for the watchdog, which stops its
 * JavaScript; it takes a reference on the request. pool__cancel_end, after
 * jobs_lock is dropped, answers the job `cancelled` with msg if the claim was
 * won, and drops the references. Thread: not a worker's. */
typedef struct pool_cancel {
  pool_job* job;
  int claimed; /* this cancel answers it */
  int worker;  /* the id of the worker it was on, or -1 */
  int queued;  /* it was in the wait queue (whose reference it held) */
} pool_cancel;
void pool__cancel_begin(iso_pool* pool, pool_job* job, pool_cancel* c);
void pool__cancel_end(iso_pool* pool, pool_cancel* c, const char* msg);

/* pool.c */
/* pool__resize: n workers: new ones start at once, the newest retire
 * (the watchdog frees them once idle). Returns 0, ISO_EBUSY (a resize is
 * under way), ISO_ECLOSED (stopping) or a start's error, with err.
 * Thread: not a worker's (it takes resize_lock). */
int pool__resize(iso_pool* pool, int n, char* err, size_t errlen);
/* pool__worker_lost: the watchdog stopped w's JavaScript and it ran on
 * for POOL_LOST_GRACE_MS: routing passes it by, its jobs are answered
 * worker_lost, it is asked to stop when (if ever) its thread comes back,
 * and a new worker takes its place. Thread: the watchdog. */
void pool__worker_lost(iso_pool* pool, pool_worker* w);
/* pool__reap: stops and frees the retired workers with nothing in flight
 * (and the lost ones whose thread came back). Thread: the watchdog. */
void pool__reap(iso_pool* pool);

/* watchdog.c: pool__watchdog_start starts the thread (0, or ISO_ENOMEM);
 * pool__watchdog_stop ends it and waits for it. Thread: the controlling
 * thread. */
int pool__watchdog_start(iso_pool* pool);
void pool__watchdog_stop(iso_pool* pool);

/* log.c: one line of the service's log (iso_pool_log's). Thread: any. */
void pool__log(iso_pool* pool, const char* level, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* admin.c: the admin socket and the metrics page, started and stopped
 * with the pool. Thread: the controlling thread. */
int pool__admin_start(iso_pool* pool, char* err, size_t errlen);
void pool__admin_stop(iso_pool* pool);

/* ops.c: pool__ops_start makes the op environment, the grant and the op
 * queue and starts the op threads; pool__ops_stop ends the threads and
 * frees the batches still out (after the workers stopped);
 * pool__ops_close frees what start made (the storage is the pool's).
 * Thread: the controlling thread. */
int pool__ops_start(iso_pool* pool, char* err, size_t errlen);
void pool__ops_stop(iso_pool* pool);
void pool__ops_close(iso_pool* pool);
/* pool__op_send: iso_rt_opts.op_send: a batch of op requests to the op
 * threads. Thread: the worker's (its runtime's flush). */
int pool__op_send(void* worker, iso_op_batch* batch);
/* pool__ops_bus_cb: batches back from the op threads (iso_bus_drain on
 * the worker's op bus). Thread: the worker's. */
void pool__ops_bus_cb(void* const* items, size_t n, void* arg);
/* pool__ops_forget: frees what came back on w's op bus, before the bus
 * closes. Thread: not w's. */
void pool__ops_forget(iso_pool* pool, pool_worker* w);

/* worker.c */
/* pool__worker_init: sets up w (the caller's storage, zeroed) for
 * pool__worker_start; returns 0 or ISO_ENOMEM. pool__worker_close undoes
 * it (also after a failed init), after the worker's thread ended
 * (pool__worker_stop) or never started. Thread: not w's. */
int pool__worker_init(pool_worker* w, iso_pool* pool, int id);
void pool__worker_close(pool_worker* w);
/* pool__worker_start: starts the worker's thread and waits until its
 * runtime is up or failed (then w->start_rc and start_err say so).
 * Returns 0, or ISO_ENOMEM when the thread could not be made. Thread: not
 * a worker's. */
int pool__worker_start(pool_worker* w);
/* pool__worker_stop: asks the worker to stop and waits for its thread
 * until `until_ns` (pool__now() time; 0: for ever). Returns 0, or
 * ISO_ETIMEDOUT when the thread did not come back in time (its JavaScript would
 * not stop): the worker is then abandoned and never freed. Thread: not w's. */
int pool__worker_stop(pool_worker* w, uint64_t until_ns);
/* The worker's runtime for another thread (the watchdog), or NULL once it
 * is gone; held until pool__worker_rt_unlock. Thread: any. */
iso_rt* pool__worker_rt_lock(pool_worker* w);
void pool__worker_rt_unlock(pool_worker* w);

#endif /* ISO_POOL_PRIVATE_H */
