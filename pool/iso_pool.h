/* iso_pool.h: the service: worker threads, each with its own isolate and
 * loop, behind a front dispatcher that takes jobs from NNG clients.
 *
 * iso_pool_new() starts N worker threads (each owns an iso_rt, its warm
 * realm for call jobs and its libuv loop) with their group's watchdog, the
 * front's watchdog, and the listeners. Requests are decoded on NNG
 * threads, routed to the least loaded worker as records over its link
 * (ipc/iso_link.h, bytes; docs/link.md), run there, and their replies
 * travel back the same way. docs/architecture.md draws it.
 *
 * Thread: iso_pool_new, iso_pool_shutdown and iso_pool_free are called
 * from one controlling thread (the main thread of `isopool serve`).
 */
#ifndef ISO_POOL_H
#define ISO_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_pool iso_pool;

/* The service's state (poolctl status). */
enum { ISO_POOL_RUNNING = 0, ISO_POOL_DRAINING, ISO_POOL_SHUTTING_DOWN };

/* Worker threads per pool process when iso_pool_opts.processes < 0 (the
 * default of isopool serve): docs/architecture.md has the measurement
 * behind it. */
#define POOL_THREADS_PER_PROCESS 2

/* iso_pool_opts.code_cache_mb's default, and the bound in bytes opts give */
#define ISO_POOL_CODE_CACHE_MB 32
#define ISO_POOL_CODE_CACHE_BYTES(opts)                                \
  ((opts)->code_cache_mb < 0    ? (size_t)0                            \
   : (opts)->code_cache_mb == 0 ? (size_t)ISO_POOL_CODE_CACHE_MB << 20 \
                                : (size_t)(opts)->code_cache_mb << 20)

/* iso_pool_opts.spare_isolates's default, and the spares per group that
 * opts (after iso_pool_new's defaults) ask for. */
#define POOL_SPARE_ISOLATES_DEFAULT 1
#define POOL_SPARES(opts) \
  ((opts)->spare_isolates > 0 ? (opts)->spare_isolates : 0)

typedef struct iso_pool_opts {
  int workers;                 /* 0: the number of CPUs */
  int max_inflight_per_worker; /* 0: 64 */
  int max_queue;               /* jobs waiting for a worker; 0: 4096 */
  const char* const* listen;   /* URLs; none: tcp://127.0.0.1:7447 */
  size_t nlisten;
  const char* modules; /* module root; NULL: the current dir */
  size_t max_message;  /* request bytes; 0: 16 MiB */
  uint32_t timeout_ms; /* a job's default deadline; 0: 30000 */
  /* a job's CPU budget in ms (iso_eval_opts.cpu_ms) and its ceiling: a
   * job's own cpu_ms may only lower it; 0: none (a job's own applies) */
  uint32_t cpu_ms;
  uint32_t grace_ms; /* shutdown grace; 0: 5000 */
  size_t heap_mb;    /* V8 heap limit per worker; 0: 512 */
  /* how long JavaScript that belongs to no pending job (a timer a call
   * left in a warm realm) may run at a time; 0: 1000 */
  uint32_t background_ms;
  /* Recycling (docs/architecture.md, "Spare isolates and recycling"):
   * spare engines per worker group (one group per pool process, or one
   * for --processes 0), each a thread with an isolate built, ready to
   * take over a worker whose isolate is replaced; 0: 1, < 0: none (a
   * worker then rebuilds on its own thread). The policies, 0: off: a
   * worker's isolate is replaced after recycle_jobs jobs, when its heap
   * in use after a job is past heap_soft_mb, or its committed heap past
   * recycle_heap_mb; an isolate idle for idle_timeout_ms is freed. */
  int spare_isolates;
  uint32_t recycle_jobs;
  uint32_t heap_soft_mb;
  uint32_t recycle_heap_mb;
  uint32_t idle_timeout_ms;
  /* 1: call jobs may bring their module's `source` (trusted clients only:
   * a source sets the code every later call of that module on that worker
   * runs); 0: such a job is refused bad_request */
  int allow_call_source;
  /* the op bus and what ops may do (docs/ops.md) */
  int op_threads;          /* 0: 2 */
  const char* data_dir;    /* isopool:fs's root; NULL: none */
  const char* allow_read;  /* NULL: not granted; "": all; "a,b": those */
  const char* allow_write; /* paths relative to data_dir */
  const char* allow_env;   /* variable names */
  const char* allow_net;   /* HOST[:PORT] entries (iso_perms_parse_flags) */
  size_t fetch_max_mb;     /* a fetch response body's limit; 0: 64 */
  size_t kv_max_mb;        /* isopool:kv's size limit; 0: 64 */
  const char* kv_path;     /* isopool:kv's LMDB file; NULL: in memory */
  int kv_sync;             /* with kv_path: an iso_kv_sync (iso_ops.h) */
  /* the admin plane (docs/protocol.md, "The admin protocol") */
  const char* admin_url;   /* NULL: the default ipc:// socket; "none": off */
  const char* admin_token; /* NULL: no token */
  /* stop_cb: the admin plane asks the service to stop (poolctl drain or
   * shutdown); the owner should call iso_pool_shutdown soon, from its own
   * thread. Thread: an NNG thread. NULL: those commands are refused. */
  void (*stop_cb)(void* arg);
  void* stop_arg;
  const char* metrics_url; /* Prometheus text over HTTP; NULL: none */
  const char* log_format;  /* "text" (NULL) or "json" */
  const char* log_level;   /* "debug", "info" (NULL), "warn", "error" */
  int log_jobs; /* 1: output of code calls left running goes to the log */
  const char* tls_cert; /* for tls+tcp:// listeners */
  const char* tls_key;
  int quiet; /* 1: no start-up line on stderr */
  /* Pool processes (issue 11; docs/architecture.md, "The front's pool
   * processes"): 0: the worker threads run in this process over
   * socketpair links within it (the embedding and debugging mode); < 0: one
   * process per POOL_THREADS_PER_PROCESS workers; P > 0: they run in P
   * sandboxed `isopool pool-process` children of this process, `workers` split
   * workers / P threads each (the first workers % P get one more), over
   * socketpair links they inherit, with spare_processes more started and kept
   * ready
   * (< 0: POOL_SPARE_PROCESSES_DEFAULT) to take a dead one's place.
   * The owner must block SIGCHLD in every thread before iso_pool_new
   * (pool/super.h: the supervisor takes it). */
  int processes;
  int spare_processes;
  size_t process_max_mb; /* a pool process's data bound; 0: none */
  const char* v8_flags;  /* what iso_rt_init_process had, for them */
  /* the bound of each process's code cache of modules, in MiB
   * (docs/architecture.md, "The code cache"): 0: the default
   * (ISO_POOL_CODE_CACHE_MB), < 0: none. The pool processes apply it; with
   * processes 0 the owner does (iso_rt_code_limit), as it starts V8. */
  int code_cache_mb;
  /* --code-cache DIR: the front keeps the pool processes' code cache
   * entries in DIR too, signed, and loads them as it starts
   * (docs/architecture.md, "The code cache on disk"); NULL: memory only.
   * Only with processes > 0 and a code cache. The caller's string. */
  const char* code_cache_dir;
  const char* exe; /* the isopool binary they run; NULL:
                      /proc/self/exe */
  /* The import map every job's resolution consults (docs/architecture.md):
   * its JSON text (at most ISO_IMPORT_MAP_MAX bytes) and its URL
   * (file:///...), both or neither; the caller's, for the pool's life.
   * Its targets stay confined to the module root. */
  const char* import_map;
  const char* import_map_url;
} iso_pool_opts;

/* iso_pool_process_threads: how many worker threads the largest of the
 * pool processes opts ask for runs (a spare's, a replacement's: --workers
 * over --processes, rounded up, after the defaults iso_pool_new applies);
 * 0 when the workers run in this process (--processes 0). Thread: any. */
int iso_pool_process_threads(const iso_pool_opts* opts);

/* iso_pool_process_min_mb: the least data bound (--process-max-mb, in
 * MiB) a pool process of `threads` worker threads, each with a heap limit
 * of heap_mb (0: the default, 512), and `spares` spare isolates
 * (iso_pool_opts.spare_isolates: 0 the default, < 0 none) runs under:
 * what it takes before any job, which is mostly its threads' stacks
 * (RLIMIT_DATA counts a thread's whole stack: V8's platform threads, its
 * watchdog, its worker and spare threads), then per worker thread its
 * heap limit and what V8 commits beside the heap's objects, and per spare
 * ISO_POOL_PROCESS_SPARE_MB. Below it a
 * process aborts at its start or once its heaps fill, again after every
 * restart; iso_pool_new refuses such a bound (ISO_EINVAL), and isopool
 * serve's option parser says so first. docs/architecture.md ("Sizing
 * --process-max-mb") has the measurements. Thread: any. */
size_t iso_pool_process_min_mb(int threads, int spares, size_t heap_mb);
/* What iso_pool_process_min_mb counts per worker thread beside its heap
 * limit, and per spare isolate beside its thread's stack, in MiB (a
 * spare's fresh isolate and its realm: 2.8 MB of VmData measured). */
#define ISO_POOL_PROCESS_WORKER_MB 80
#define ISO_POOL_PROCESS_SPARE_MB 8

/* iso_pool_new: constructor; starts the workers, the watchdog and the
 * listeners. V8 must be initialised (iso_rt_init_process). Returns 0, or
 * an ISO_E* code with `err` saying what failed (a URL that cannot be
 * listened on, a module root that does not exist). */
int iso_pool_new(const iso_pool_opts* opts,
                 iso_pool** out,
                 char* err,
                 size_t errlen);

/* iso_pool_abandoned: after iso_pool_shutdown, how many workers it did
 * not wait for because their JavaScript would not stop (the shutdown
 * waits the grace and one more second). Their threads still run V8: the
 * owner should end the process with _exit rather than free the pool or
 * tear V8 down. Thread: the owner's. */
int iso_pool_abandoned(const iso_pool* pool);

/* iso_pool_shutdown: stop accepting jobs (new ones are answered
 * shutting_down), wait up to grace_ms for the jobs in flight, answer the
 * rest shutting_down, then stop the workers. Blocks. */
void iso_pool_shutdown(iso_pool* pool);

/* iso_pool_log: one line of the service's log, in the format and at the
 * level its options say (level "debug", "info", "warn" or "error").
 * Thread: any. */
void iso_pool_log(iso_pool* pool, const char* level, const char* msg);

/* iso_pool_set_log_level: the front's log shows lines of this level
 * ("debug", "info", "warn", "error") and above from now on (a pool
 * process keeps the level it started with). Thread: any. */
void iso_pool_set_log_level(iso_pool* pool, const char* level);

/* iso_pool_reload: the next call of every module loads it again from the
 * module root (`poolctl reload` without a module): every worker drops its
 * warm realms. Waits up to 2 s for the workers' answers. Returns the
 * realms dropped. Thread: any but a worker's or the link hub's. */
int iso_pool_reload(iso_pool* pool);

/* What a service manager asks: is the service up and taking jobs? */
typedef struct iso_pool_health {
  int state;      /* ISO_POOL_RUNNING, ISO_POOL_DRAINING, ... */
  int responsive; /* 1: the routing lock was taken within wait_ms */
  int workers;    /* configured (0 when not responsive) */
  int running;    /* of them, taking jobs */
  int in_flight;  /* jobs queued or on a worker (0 when not responsive) */
} iso_pool_health;

/* iso_pool_health_get: fills h. A front whose routing lock stays held for
 * wait_ms is wedged: h->responsive 0, the counts 0. Thread: any. */
void iso_pool_health_get(iso_pool* pool, int wait_ms, iso_pool_health* h);

/* iso_pool_free: destructor, after iso_pool_shutdown. Accepts NULL. */
void iso_pool_free(iso_pool* pool);

/* iso_pool_process_main: `isopool pool-process` (internal: the front's
 * supervisor starts it; pool/pool_proc.h has its command line, from argv[0],
 * the subcommand): a pool process, the front's worker threads in a
 * sandboxed process of their own. It ends with _exit once its front is
 * gone or has stopped its workers; it returns only an exit status for a
 * command line it refused (2) or a start that failed before any thread
 * ran. Thread: the process's main, its only one. */
int iso_pool_process_main(int argc, char** argv);

#ifdef __cplusplus
}
#endif

#endif /* ISO_POOL_H */
