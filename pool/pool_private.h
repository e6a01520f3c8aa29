/* pool_private.h: the front's structures and its files' private
 * functions (pool__...), declared per file below. The worker side
 * (worker*.c) does not include it: what the two share is pool_base.h,
 * the link's records (ipc/iso_link.h) and what records.h keeps, and
 * worker.h's start and end of a worker thread.
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

#include "iso_link.h"
#include "iso_net.h"
#include "iso_ops.h"
#include "iso_queue.h"
#include "iso_rt.h"
#include "iso_server.h"
#include "metrics.h"
#include "pool_base.h"
#include "pool_proc.h"
#include "super.h"
#include "worker.h"

typedef struct pool_req pool_req;
typedef struct pool_job pool_job;
typedef struct pool_worker pool_worker;
typedef struct pool_proc pool_proc;
typedef struct pool_code pool_code;

/* The debug-build checks of the thread and lock rules (pool__on_worker,
 * pool__on_watchdog, pool__mutex_held) are pool_base.h's. */

struct pool_req {
  iso_pool* pool;
  pool_req *rprev, *rnext; /* the registry, until its last job's answer */
  iso_server_req* sreq;
  uint32_t peer; /* the client's connection (iso_server_req_peer) */
  uint8_t* buf;  /* the request's bytes (owned) */
  size_t len;
  iso_proto_msg msg;
  pool_job* jobs; /* msg.count jobs */
  iso_buf tasks;  /* their TASK records, written ahead (dispatch.c) */
  atomic_int unanswered;
  atomic_int refs;
};

/* The front's side of a job, from its receipt to its release. Its worker
 * never sees it: the worker gets a TASK record (the link's, written from
 * this at routing) and answers with a DONE record naming the job by its
 * token. */
struct pool_job {
  pool_req* req;
  const iso_proto_req* in; /* the decoded request, inside req->buf */
  int64_t sid;             /* the service's job number (poolctl jobs) */
  pool_worker* target;     /* the worker routing chose (under pool->lock) */
  pool_token token;        /* its slot on target (under pool->lock) */
  uint32_t perm_id;        /* its permission set's id on target (route_send,
                              under target->perm_lock) */
  iso_proto_code outcome;  /* how it was answered (0: fulfilled, or the
                              error code; rejected: ISO_CODE_UNKNOWN) */
  int outcome_status;      /* an iso_status */
  uint64_t received_ns;
  uint64_t answered_ns; /* by whoever claimed it, for the counters */
  uint64_t deadline_ns; /* unique among the jobs of a request */
  uint32_t timeout_ms;
  uint32_t cpu_ms; /* its CPU budget; 0: none */
  /* what it cost, from its DONE record (cpu_us -1: it never ran), and
   * the limit that ended it, for the metrics */
  int64_t cpu_us, heap_bytes, ops;
  iso_limit limit;
  iso_perms* perms; /* what its ops may do (a reference) */
  char* perm_err;   /* why its `permissions` were refused */
  pool_job* qnext;  /* the dispatcher's wait queue */
  /* its TASK record but for what routing decides, in req->tasks
   * (iso_link_put_task_ahead); task_len 0: none (out of memory) */
  uint32_t task_at, task_len, task_perms_at;
  atomic_int answered;
  int on_worker; /* sent to target, not given back (under pool->lock) */
  /* when it was sent to its worker, then (once its DONE record won the
   * claim) when the worker started it; 0: never sent. Atomic: whoever
   * answers it counts it with this. */
  _Atomic uint64_t started_ns;
  /* the watchdog's (under pool->lock): the latest deadline of the jobs
   * on its worker while it was not yet overdue, which it may wait behind
   * (watchdog.c, POOL_HELD_MS); 0: not seen on a worker yet */
  uint64_t held_until_ns;
  iso_buf reply; /* the encoded reply map */
};

/* A worker's table of the permission sets the front sent it (TASK
 * records): a set's id (POOL_PERM_ID) is its entry's index and
 * generation. Under the worker's perm_lock. An entry no job in flight
 * uses may be given to another set (least recently used first), and then
 * its id names nothing: an op of a realm that still holds it gets no
 * permission. */
typedef struct pool_perm {
  iso_perms* perms; /* NULL: free */
  uint64_t hash;    /* iso_perms_hash */
  uint64_t used;    /* for reuse: the least recently used goes */
  uint32_t gen;     /* bumped as a set takes the entry; never 0 once used */
  uint32_t users;   /* jobs on the worker with it */
} pool_perm;

/* A worker's table of the jobs it has (pool_worker.slots): a job's token
 * is its slot's index and generation. Under pool->lock. */
typedef struct pool_slot {
  pool_job* job; /* NULL: free */
  uint32_t gen;  /* bumped as a job takes it; never 0 once used */
  uint32_t next; /* the free list */
} pool_slot;

/* The front's side of a worker: routing, the table of its jobs, what its
 * records said (INFO, RELOADED, STATE, READY), its links' listening ends,
 * and the handle of its thread (worker.h). Its thread never touches
 * it. */
struct pool_worker {
  int id;
  iso_pool* pool;
  atomic_int state;     /* POOL_W_*, the front's (routing reads it) */
  atomic_long answered; /* its DONE records that gave their job's answer */
  atomic_long recycles; /* its RECYCLED records */
  /* its last INFO record */
  atomic_llong heap_used, heap_limit;
  atomic_int warm_modules;
  pthread_mutex_t info_lock; /* the fields below, up to start_err */
  pthread_cond_t info_cond;  /* a RELOADED or READY record came */
  char last_error[160];      /* the last DONE record's note */
  int reload_pending;        /* a RELOAD sent, its RELOADED not back */
  int reload_realms;         /* what the last RELOADED said */
  int ready;                 /* its READY record came: */
  int start_rc;              /* what it said */
  char start_err[256];
  /* the front's, under pool->lock: jobs sent and not given back, and the
   * table that names them (nslots: max_inflight_per_worker) */
  int inflight;
  pool_slot* slots;
  uint32_t nslots, free_slot;
  /* the permission sets sent to it (nperms entries: 2 * nslots, so one
   * no job uses is always there), under perm_lock; perm_last: the last
   * found, tried first */
  pthread_mutex_t perm_lock;
  pool_perm* perms;
  uint32_t nperms, perm_last;
  uint64_t perm_clock;
  uint64_t route; /* its token in pool->routes (the front's op batches
                     from it carry it) */
  /* its links (ipc/iso_link.h), the front's ends, read by callback on
   * the link hub's thread (pool__jobs_msg_cb, pool__ops_msg_cb), and
   * the other ends (socket descriptors) until they are handed over: to
   * its worker thread, or to its pool process's spawn (then closed);
   * -1 after */
  iso_link* jobs;
  iso_link* ops;
  int jobs_peer, ops_peer;
  /* the pool process it runs in (procs.c), NULL: a thread of the front
   * (--processes 0). Set before its links open, never changed. */
  pool_proc* proc;
  /* it sent what no worker sends (pool__worker_bad): the watchdog
   * declares it lost with `bad_why`, and the front reads nothing more
   * from it */
  atomic_int bad;
  char bad_why[320];    /* set once, before bad */
  pool_runner* runner;  /* its thread (worker.h), NULL before start */
  atomic_int stop_sent; /* a STOP record went out */
  atomic_int exited;    /* its STATE stopped came: it is ending */
  atomic_int wedged;    /* its group said WEDGED: the watchdog declares
                           it lost */
  int abandoned;        /* the shutdown stopped waiting for its thread */
};

#define POOL_MAX_WORKERS 256
/* The job socket's REP contexts (iso_server.h: each holds one request
 * from its receipt to its reply) are as many as the jobs the pool can
 * hold (--max-queue, and --max-inflight-per-worker for each worker it
 * starts with) and POOL_PING_CONTEXTS more, within [POOL_MIN_CONTEXTS,
 * POOL_MAX_CONTEXTS]. The last POOL_PING_CONTEXTS free are for pings: a
 * request with jobs that finds fewer free is answered busy at once
 * (dispatch.c), so a ping never waits behind jobs for a context (a
 * resize or the bound can make the jobs outnumber them). A context
 * costs about 770 bytes: 2.5 MB for the default's 4288 (2 workers). */
#define POOL_PING_CONTEXTS 64
#define POOL_MIN_CONTEXTS 1024
#define POOL_MAX_CONTEXTS 16384
/* Entries of pool->routes: workers alive at once, lost ones included. */
#define POOL_MAX_ROUTES (2 * POOL_MAX_WORKERS)

/* pool->routes: the token an op batch carries names an entry and its
 * generation (POOL_ROUTE); the op threads find the batch's worker there,
 * under routes_lock, which keeps it from being freed meanwhile. */
/* A worker group's spares, as its last SPARES record said (watchdog.c):
 * ready ones and the memory they hold; the builds it had counted (the
 * front adds what grew to iso_pool.spare_builds). */
typedef struct pool_spares {
  atomic_long ready;
  atomic_llong bytes;
  uint64_t builds; /* the link hub's thread's */
} pool_spares;

/* A worker group's code cache (isolate/iso_rt.h, iso_code_stats), as its
 * last CODE_STATS record said (code.c, pool__code_figures): its entries
 * and their bytes now; the counters it had said (the front adds what grew
 * to iso_pool.code_counts, so a total survives the process). */
typedef struct pool_code_figs {
  atomic_llong bytes;
  atomic_llong entries;
  iso_link_code_stats said; /* the link hub's thread's */
} pool_code_figs;

/* The code cache's figures over every group: the counters since the
 * service started, the entries and bytes of the groups there now, and
 * the front's own copy's (code.c). */
typedef struct pool_code_count {
  uint64_t hits, misses, rejected, evicted, made, put;
  uint64_t bytes, entries;
  uint64_t front_entries, front_bytes;
} pool_code_count;

/* pool__spares_count: the ready spares of every group and their memory.
 * Thread: any (takes procs_lock). */
void pool__spares_count(iso_pool* pool, long* ready, long long* bytes);

typedef struct pool_route {
  pool_worker* w; /* NULL: free */
  uint32_t gen;
} pool_route;
#define POOL_ROUTE(index, gen) ((uint64_t)(index) | ((uint64_t)(gen) << 32))

/* How far the shutdown is (iso_pool.stopping). */
enum {
  POOL_STOP_NONE = 0,
  POOL_STOP_BEGUN,   /* no worker is added or reaped any more */
  POOL_STOP_WORKERS, /* workers are stopping: none is woken any more */
};
#define POOL_DRAIN (-2) /* stop_grace_ms: wait for every job taken */

/* ---- pool processes (procs.c) ---- */

/* A pool process's state in the front's table. */
enum {
  POOL_P_STARTING = 1, /* spawned; not every worker said READY */
  POOL_P_SPARE,        /* ready, out of routing: takes a dead one's place */
  POOL_P_ACTIVE,       /* its workers are routed to */
  POOL_P_DYING,        /* killed by the front (or its links went): its
                          workers are out of routing, its exit not heard */
  POOL_P_DEAD,         /* reaped; its jobs answered; the watchdog frees it */
};

/* Entries of the process table: active, spare, starting and dead ones not
 * yet freed. */
#define POOL_MAX_PROCS 128

/* The front's side of a pool process. Written by procs.c; `state`,
 * `nready`, `pid` and `spawned` under pool->procs_lock (state also read
 * without it, atomically). */
struct pool_proc {
  iso_pool* pool;
  uint32_t num, gen; /* its entry in pool->procs and that entry's use:
                        its links' names (pool_proc.h) */
  atomic_int pid;    /* 0 until its spawn returned */
  atomic_int state;  /* POOL_P_* */
  int spawned;       /* its spawner is done with it, */
  int exit_done;     /* and its exit callback: the watchdog may free it */
  int nworkers;
  pool_worker* workers[POOL_PROC_MAX_WORKERS];
  int nready;          /* its workers whose READY came */
  uint64_t started_ns; /* its spawn */
  uint64_t active_ns;  /* it went into routing; 0: never */
  /* its control link, the front's end (HALT out; WEDGED, ALIVE in), and
   * the process's end until its spawn (then closed; -1) */
  iso_link* ctl;
  int ctl_peer;
  _Atomic uint64_t alive_ns; /* its last ALIVE, or its spawn; 0: distrusted */
  atomic_int distrusted;
  pool_spares spares;       /* its group's last SPARES */
  pool_code_figs code_figs; /* its group's last CODE_STATS */
  uint64_t code_sent;       /* the last code cache entry offered to it (code.c;
                               the link hub's) */
  atomic_int killed;        /* the front SIGKILLed it, for `why` (1), or as its
                               links went (2) */
  char why[320];            /* set once, before killed */
  uint64_t killed_ns;       /* when, set with why */
  int retired;              /* a resize stopped all its workers: its exit is no
                               death (under procs_lock) */
  int reserved;             /* a grow's: it holds one of procs_want's places
                               while STARTING (pool->nreserved; procs_lock) */
  /* its jobs were answered as it ended, before its reap (procs.c,
   * answer_dead), and how many; answer_lock orders that with its exit
   * callback's answers, so the exit's line counts both */
  atomic_int early;
  size_t lost_early; /* under answer_lock */
  pthread_mutex_t answer_lock;
};

/* pool__procs_start: the supervisor and the first
 * processes: --processes active ones (waited for: each worker's READY)
 * and --spare-processes spares (not waited for). Returns 0 or an error
 * with err. Thread: the controlling thread. */
int pool__procs_start(iso_pool* pool, char* err, size_t errlen);
/* pool__procs_stop: the shutdown's end of them: every worker of every
 * process was sent STOP (pool.c); closes their control links (a process
 * exits by itself once its front's end goes), waits for them to exit
 * within a bound, kills what is left and reaps all (the supervisor's
 * end). Thread: the controlling thread, after
 * the watchdog stopped. */
void pool__procs_stop(iso_pool* pool);
/* pool__procs_free: frees the table's processes and their workers (after
 * pool__procs_stop). Thread: the controlling thread. */
void pool__procs_free(iso_pool* pool);
/* pool__proc_kill: the front gives up on p (why: what it did, kept for
 * its jobs' answers and the log): its workers leave routing at once, and
 * it is SIGKILLed; its exit (the supervisor's callback) answers its jobs
 * worker_lost and puts a spare in its place. Once per process (the first
 * reason stands). Thread: any but a worker's. */
void pool__proc_kill(pool_proc* p, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* pool__proc_gone: a link of p went while the service runs (`what`):
 * as pool__proc_kill, but the jobs' answers say how the process ended,
 * not that the front killed it (it most likely died first). Thread: the
 * link hub's. */
void pool__proc_gone(pool_proc* p, const char* what);
/* pool__proc_ready: w (of a process) said READY: when all its process's
 * workers did, the process goes into routing or becomes a spare.
 * Thread: the link hub's (w's jobs link). */
void pool__proc_ready(pool_worker* w);
/* pool__worker_new: a worker, the front's side (its slot and permission
 * tables, its route, its links: the front's ends on the hub, the others
 * in jobs_peer and ops_peer), of pool process p, or (p NULL) a worker
 * thread of the front's; pool__worker_free: destructor (its process is
 * gone, or never ran; its thread ended). Thread: not a worker's.
 * (pool.c) */
int pool__worker_new(iso_pool* pool,
                     pool_proc* p,
                     pool_worker** out,
                     char* err,
                     size_t errlen);
void pool__worker_free(iso_pool* pool, pool_worker* w);
/* pool__worker_release_all: w's process is gone: every job on it leaves
 * its slot (its permission set's use released) and is released; they
 * were answered first. Returns how many. Thread: not a worker's.
 * (dispatch.c) */
size_t pool__worker_release_all(pool_worker* w);
/* pool__procs_grow: a resize by n workers more: new pool processes of
 * theirs (as many threads each as the start's largest), into routing once
 * ready; waits for them. Returns 0, or an error with err (one that died
 * or could not start; ISO_ECLOSED: the service is stopping). Thread: the
 * resize's (resize_lock held). */
int pool__procs_grow(iso_pool* pool, int n, char* err, size_t errlen);
/* pool__proc_retire: w, of a process, left the array (a resize retired
 * it, idle) and was sent its STOP: once every worker of its process has,
 * the process is retired: it exits by itself, which is no death (no
 * restart, no spare). Thread: the watchdog. */
void pool__proc_retire(pool_worker* w);
/* pool__procs_reap: frees the dead processes and their workers (out of
 * routing since their death). Thread: the watchdog. */
void pool__procs_reap(iso_pool* pool);
/* pool__procs_watch: the processes the front killed or whose links went
 * (DYING) and that have ended, not yet reaped: their jobs are answered
 * now (each once), not at the reap. Thread: the watchdog (each round). */
void pool__procs_watch(iso_pool* pool);
/* pool__procs_ctl_msg_cb: a message on a process's control link (arg: the
 * pool_proc): watchdog.c's decoding, for that process. Thread: the link
 * hub's. */
void pool__procs_ctl_msg_cb(const uint8_t* data, size_t len, void* arg);

struct iso_pool {
  iso_pool_opts opts;
  pool_logger logger;
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
  int routing_closed;     /* the workers are being freed: no process's
                            workers join routing (under lock) */
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
  int draining;
  pthread_t watchdog;
  pthread_mutex_t wd_lock;
  pthread_cond_t wd_cond;
  int wd_stop;
  iso_metrics* metrics;
  /* the worker side: one group of worker threads (worker.h), reached
   * over its control link (watchdog.c): ctl is the front's end (HALT
   * out; WEDGED and ALIVE in, pool__ctl_msg_cb); the group has the
   * other */
  pool_group* group;
  iso_link* ctl;
  /* the pool processes' code cache entries, passed between them (code.c;
   * NULL with --processes 0 or --code-cache-mb 0) */
  pool_code* code;
  /* the link hub every front end is read on, and its thread (hub.c) */
  iso_link_hub* hub;
  uv_loop_t hub_loop;
  uv_poll_t hub_poll;
  uv_async_t hub_stop;
  pthread_t hub_thread;
  int hub_started;
  /* its last ALIVE (or its start); 0 once it is distrusted */
  _Atomic uint64_t group_alive_ns;
  atomic_int group_distrusted; /* it sent what it must not: its ALIVE no
                                  longer counts (watchdog.c) */
  /* the op threads (ops.c) */
  iso_ops_env* ops_env;
  iso_perms* granted; /* what the service's flags allow */
  iso_queue* opq;     /* the front's batches of the workers' async ops
                         (ops.c): link callbacks -> op threads */
  pthread_t* op_threads;
  int nop_threads;
  /* the net thread (ops.c): fetch's transfers (iso_net.h), one per
   * service, released per worker as its route goes */
  iso_net* net;
  pthread_t net_thread;
  int net_started;
  atomic_int net_quit;
  pool_mutex routes_lock; /* routes: the workers op batches go back to */
  pool_route routes[POOL_MAX_ROUTES];
  /* the pool processes (procs.c; --processes > 0): their supervisor and
   * the table, under procs_lock (taken alone, or before lock, never
   * under it) */
  pool_super* super;
  pthread_mutex_t procs_lock;
  pthread_cond_t procs_cond; /* a process became ready or died */
  pool_proc* procs[POOL_MAX_PROCS];
  uint32_t proc_gens[POOL_MAX_PROCS];
  int nactive, nspare, nstarting, nwaiting; /* waiting: a restart's delay */
  int nrouted;        /* processes that went into routing, ever */
  int procs_want;     /* active processes wanted: --processes, and resizes */
  int nreserved;      /* of those, places held by a grow's processes still
                         starting: no spare takes them */
  int procs_stopping; /* the shutdown began: no spawn, no wait for one */
  int spawning;       /* spawns under way (procs.c's proc_spawn) */
  pool_backoff backoff;
  atomic_long restarts;
  atomic_long jobs_lost;
  /* recycling: workers' isolates replaced, by reason (RECYCLED records),
   * those built on the worker's thread (no spare was ready), the spares'
   * builds over every group, and the front's own group's last SPARES */
  atomic_long recycles[ISO_LINK_R_COUNT];
  atomic_long recycles_cold;
  atomic_long spare_builds;
  atomic_long pings; /* pings answered (they are not jobs: dispatch.c) */
  pool_spares group_spares;
  /* the code caches' counters over every group (CODE_STATS; code.c), and
   * the front's own group's last CODE_STATS */
  _Atomic uint64_t code_hits, code_misses, code_rejected, code_evicted,
      code_made, code_put;
  pool_code_figs group_code_figs;
  char last_death[900];
  uint64_t last_death_ns;
};

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
 * unless someone answered the job, its reply is the record's (copied:
 * the record points into the link's message; counted in w->answered, its
 * note kept for poolctl workers) and is reported; a record without a
 * reply for a job nobody answered gets an internal error. Then the job
 * is released. Thread: the link hub's (the front's end of w's jobs
 * link). */
void pool__answer_done(pool_worker* w,
                       pool_job* job,
                       const iso_link_done* done);
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
/* pool__answer_stopped: the shutdown's last resort, once its workers
 * stopped: answers every unanswered job, `cancelled` (POOL_STOPPED_MSG)
 * if it was on a worker (its TASK sent: it may have run in part), else
 * `shutting_down` (it never ran), and counts these in *never_sent.
 * Returns how many in all. Thread: the shutdown's. */
size_t pool__answer_stopped(iso_pool* pool, size_t* never_sent);
/* pool__answer_ping: answers a ping (a request of kind ping, alone) at
 * once, from the front's state and without a worker: fulfilled with
 * {ready, workers, in_flight, version}, or shutting_down once the service
 * drains or stops. Never a job: counted in pings only, never registered
 * (dispatch.c). Takes the routing lock for as long as reading counts
 * takes. Thread: its NNG thread. */
void pool__answer_ping(iso_pool* pool, iso_server_req* sreq, iso_bytes id);
/* pool__health_read: h as iso_pool_health_get fills it, waiting for the
 * routing lock as long as it is held (a ping's reading, in the order of
 * the requests routed under that lock). Thread: any. (admin.c) */
void pool__health_read(iso_pool* pool, iso_pool_health* h);
/* pool__health_ready: whether h says the service takes jobs with every
 * configured worker up, /readyz's test and a ping's `ready`. Thread: any.
 * (admin.c) */
int pool__health_ready(const iso_pool_health* h);
/* pool__answer_message: replies code/msg to a message that never became
 * jobs (too large, undecodable, out of memory), with id unless that makes
 * the reply larger than max (--max-message). Thread: its NNG thread. */
void pool__answer_message(iso_server_req* sreq,
                          iso_bytes id,
                          iso_proto_code code,
                          const char* msg,
                          size_t max);
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
/* pool__jobs_msg_cb: the front's end of a worker's jobs link (arg: the
 * pool_worker): a message of its records, checked (a decoding error, a
 * DONE naming no job of that worker's, a reply over --max-message:
 * pool__worker_bad). pool__jobs_event_cb: its peer went (before its
 * STOP: pool__worker_bad). Thread: the link hub's. */
void pool__jobs_msg_cb(const uint8_t* data, size_t len, void* arg);
void pool__jobs_event_cb(iso_link* link, iso_link_event ev, void* arg);
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
/* pool__runners: how the front starts, joins and frees the worker side
 * (worker.h's pool__runner_start, _join and _free). A suite that plays
 * a worker against the real front over its links (tests/test_pool_link.c)
 * points it at its own before iso_pool_new; nothing else changes it. */
typedef struct pool_runner_impl {
  int (*start)(pool_group* g,
               const pool_runner_opts* o,
               pool_runner** out,
               char* err,
               size_t errlen);
  int (*join)(pool_runner* r, uint64_t until_ns);
  void (*free)(pool_runner* r);
} pool_runner_impl;
extern const pool_runner_impl* pool__runners;
/* pool__resize: n workers: new ones start at once, the newest retire
 * (the watchdog frees them once idle). Returns 0, ISO_EBUSY (a resize is
 * under way), ISO_ECLOSED (stopping) or a start's error, with err.
 * Thread: not a worker's (it takes resize_lock). */
int pool__resize(iso_pool* pool, int n, char* err, size_t errlen);
/* pool__worker_lost: the watchdog gives up on w, for `why`: w's group
 * said it is WEDGED (JavaScript its watchdog stopped ran on for
 * POOL_LOST_GRACE_MS: "its JavaScript ran on 1000 ms after it was
 * stopped at its deadline"), or the group stopped answering (no ALIVE
 * for POOL_SILENT_MS) while a job on w is past its deadline and the
 * grace, a job on w is unanswered POOL_HELD_MS past its deadline (or
 * past those of the jobs it may wait behind) whatever the group says, or
 * w sent what no worker sends (pool__worker_bad's text).
 * Routing passes it by, its jobs are answered worker_lost with a message
 * that says why, it is asked to stop when (if ever) its thread comes
 * back, and a new worker takes its place; on a pool process, the process
 * is killed instead, its exit answers the jobs and a spare takes its
 * place. Thread: the watchdog. */
void pool__worker_lost(iso_pool* pool, pool_worker* w, const char* why);
/* pool__worker_bad: w sent what no worker sends (why: what, for the log
 * and its jobs' answers): from now on the front reads nothing from it,
 * and the watchdog declares it lost (the first reason stands). Thread:
 * any (the link hub's, reading its links). */
void pool__worker_bad(pool_worker* w, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* pool__reap: stops and frees the retired workers with nothing in flight
 * (and the lost ones whose thread came back). Thread: the watchdog. */
void pool__reap(iso_pool* pool);

/* watchdog.c: pool__watchdog_start starts the thread (0, or ISO_ENOMEM);
 * pool__watchdog_stop ends it and waits for it. Thread: the controlling
 * thread. */
int pool__watchdog_start(iso_pool* pool);
void pool__watchdog_stop(iso_pool* pool);
/* watchdog.c, the control links. pool__ctl_link_new: a control link's
 * front end (its bounds: POOL_CTL_MAX_MSG, POOL_CTL_MAX_QUEUED; read on
 * the link hub with msg_cb and event_cb), and in *peer the other end's
 * socket, the caller's to hand over (pool__group_new's ctl_fd, or a pool
 * process's spawn). Returns 0, or an error with err. pool__ctl_open: the
 * group's (the front's worker threads'), pool->ctl; *peer as above.
 * pool__ctl_close: closes it; no pool__ctl_msg_cb runs after. Thread:
 * the controlling thread (pool__ctl_link_new: not the hub's). */
int pool__ctl_link_new(iso_pool* pool,
                       iso_link_msg_cb msg_cb,
                       iso_link_event_cb event_cb,
                       void* arg,
                       iso_link** out,
                       int* peer,
                       char* err,
                       size_t errlen);
int pool__ctl_open(iso_pool* pool, int* peer, char* err, size_t errlen);
void pool__ctl_close(iso_pool* pool);
/* code.c: the front's copy of its pool processes' code cache entries
 * (its DESIGN). pool__code_new: one bounded at `limit` bytes (0: *out
 * NULL, no store: every call below accepts NULL), kept in `dir` too
 * unless NULL (a directory it cannot use is logged, and it runs without);
 * its entries loaded; 0 or ISO_ENOMEM.
 * pool__code_free: destructor. pool__code_take: a CODE record from p
 * (untrusted: checked, kept or not). pool__code_offer: sends p what it
 * was not offered yet (CODE_PUT; at most POOL_CODE_OFFER_BYTES of it).
 * pool__code_drop_from: drops every entry p gave (the front kills it).
 * pool__code_stats: its counters.
 * pool__code_figures: a CODE_STATS record from p's group (NULL: the
 * front's own), counted (untrusted: figures only; none from a distrusted
 * process); the first from a trusted group names V8's version tag, and
 * the entries loaded from DIR of another tag are deleted then.
 * pool__code_count: the figures of every group, summed, and the store's.
 * Thread: the link hub's (take, offer, figures); any (the others). */
#define POOL_CODE_OFFER_BYTES ((size_t)1 << 20)
typedef struct pool_code_stats {
  uint64_t taken, given, evicted, dropped;
  uint64_t entries, bytes;
} pool_code_stats;
int pool__code_new(iso_pool* pool,
                   size_t limit,
                   const char* dir,
                   pool_code** out);
void pool__code_free(pool_code* c);
void pool__code_take(pool_code* c,
                     const pool_proc* p,
                     const iso_link_code* rec);
void pool__code_offer(iso_pool* pool, pool_proc* p);
void pool__code_drop_from(pool_code* c, const pool_proc* p);
void pool__code_stats(pool_code* c, pool_code_stats* out);
void pool__code_figures(iso_pool* pool,
                        pool_proc* p,
                        const iso_link_code_stats* r);
void pool__code_count(iso_pool* pool, pool_code_count* out);

/* hub.c: the link hub (ipc/iso_link.h) every front end of a link is
 * read on, and its thread (a libuv loop polling it). pool__hub_start:
 * before any link; 0, or an error with err. pool__hub_stop: after every
 * link on it is freed; accepts a pool whose hub never started. Thread:
 * the controlling thread. pool__on_hub: whether the caller is the hub's
 * thread (for asserts). */
int pool__hub_start(iso_pool* pool, char* err, size_t errlen);
void pool__hub_stop(iso_pool* pool);
int pool__on_hub(const iso_pool* pool);
/* pool__ctl_msg_cb: a message on the front's end: WEDGED and ALIVE
 * records, from a group trusted with nothing (watchdog.c's DESIGN).
 * Thread: the link hub's (and tests). */
void pool__ctl_msg_cb(const uint8_t* data, size_t len, void* arg);
/* pool__halt_send: a HALT record for w's group (deadline_ns 0: the stop;
 * else the JavaScript of w's cancelled job of that deadline). Thread: not
 * a worker's. */
void pool__halt_send(pool_worker* w, uint64_t deadline_ns);

/* log.c: one line of the service's log (iso_pool_log's), with the
 * pool's logger (pool__logf). Thread: any. */
void pool__log(iso_pool* pool, const char* level, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pool__log_event: pool__log with fields (pool_log_fields; f may be
 * NULL). Thread: any. */
void pool__log_event(iso_pool* pool,
                     const char* level,
                     const pool_log_fields* f,
                     const char* fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* admin.c: the admin socket and the metrics page, started and stopped
 * with the pool. Thread: the controlling thread. */
int pool__admin_start(iso_pool* pool, char* err, size_t errlen);
void pool__admin_stop(iso_pool* pool);

/* ops.c: pool__ops_start makes the op environment, the grant and the op
 * queue and starts the op threads and the net thread; pool__ops_stop
 * ends the threads (the net thread's transfers answered "the service is
 * stopping") and frees the batches still queued (after the workers
 * stopped);
 * pool__ops_close frees what start made (the storage is the pool's).
 * Thread: the controlling thread. */
int pool__ops_start(iso_pool* pool, char* err, size_t errlen);
void pool__ops_stop(iso_pool* pool);
void pool__ops_close(iso_pool* pool);
/* pool__ops_msg_cb: the front's end of a worker's ops link (arg: the
 * pool_worker): a message of OP records, the async ops of one of its
 * batches, decoded into a batch of the front's own for the op threads,
 * whose route is the link's worker and whose records get the permission
 * sets their perm ids name in its table; the responses go back on the
 * same link as OP_RESULT records, one message per batch. A message that
 * does not decode makes the worker bad. Thread: the link hub's. */
void pool__ops_msg_cb(const uint8_t* data, size_t len, void* arg);
/* pool__perm_id: the id on w of a job's permission set, a new entry if
 * w has none for it, and one more user; *send: 1 if the TASK record must
 * bring the set (the id is new). pool__perm_release: a job with that id
 * left w. pool__perm_resolve: the set id names on w (a new reference),
 * or iso_perms_none() for an id that names nothing. Called with
 * w->perm_lock. */
uint32_t pool__perm_id(pool_worker* w, iso_perms* perms, int* send);
void pool__perm_release(pool_worker* w, uint32_t id);
const iso_perms* pool__perm_resolve(pool_worker* w, uint32_t id);

/* pool.c: a record for the worker side: pool__worker_send writes rec on
 * w's jobs link (dropped if the link is closing). Returns 0, or the
 * link's error. Thread: not a worker's; w must not be freed meanwhile
 * (pool.c's DESIGN). */
int pool__worker_send(pool_worker* w, const iso_link_rec* rec);

#endif /* ISO_POOL_PRIVATE_H */
