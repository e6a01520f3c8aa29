/* worker_private.h: what the files of a worker thread share: worker.c
 * (its engines: the threads and loops that run it; its jobs link),
 * worker_task.c (its tasks and their replies), worker_warm.c (its warm realms)
 * and worker_ops.c (its ops link). The front does not include it; group.c sees
 * only group_private.h.
 *
 * Everything in a pool_runner is its thread's own (Thread: the runner's)
 * but rt, which the group's watchdog reads under rt_lock, and halted.
 */
#ifndef ISO_POOL_WORKER_PRIVATE_H
#define ISO_POOL_WORKER_PRIVATE_H

#include "group_private.h"

/* A warm realm: call jobs run in the one for their module and
 * permissions, up to POOL_MAX_WARM of them per worker. */
#define POOL_MAX_WARM 32

typedef struct pool_task pool_task;
typedef struct pool_op_out pool_op_out;

/* A warm realm: the calls to one module with one permission set. */
typedef struct pool_warm {
  iso_realm* realm; /* NULL: a free slot */
  char* module;     /* the module's URL (owned) */
  char* spec;       /* the specifier the last call named it by (owned) */
  iso_perms* perms;
  uint64_t used; /* for replacing the least recently used */
  int stale;     /* dropped by poolctl reload: freed once idle, no new calls */
} pool_warm;

/* A worker: the front's worker on the worker side, run by one engine at
 * a time (worker.c's DESIGN): "the runner's thread" below is the thread
 * of the engine that runs it now. */
struct pool_runner {
  pool_runner_opts o; /* o.modules owned; the fds are the links' */
  int id;
  pool_group* group; /* its watchdog's */
  int started;       /* its first engine's thread was started */
  pool_engine* eng;  /* the engine that runs it (NULL: being handed on) */
  uv_loop_t* loop;   /* eng's loop: its handles are on it */
  /* its ends of the links, read by this loop (iso_link_fd) */
  iso_link* jobs;
  iso_link* ops;
  /* its handles, made on each engine's loop it runs on and closed
   * before it moves on */
  uv_poll_t jobs_poll; /* the front's records arrive */
  uv_poll_t ops_poll;  /* op responses come back */
  uv_prepare_t flush;
  uv_timer_t deadline;
  uv_timer_t info_timer;  /* an INFO record every 500 ms */
  uv_timer_t ops_timer;   /* batches answered without the front (0 ms) */
  uv_timer_t idle_timer;  /* --idle-timeout: its isolate freed */
  int closing;            /* its handles still closing */
  int detach;             /* why they close (worker.c) */
  pool_engine* detach_to; /* the spare it moves to */
  iso_realm* ready_realm; /* a realm of rt made in advance (a spare's),
                             for its next warm realm; or NULL */
  iso_rt* rt; /* its engine's runtime; NULL before start, after, while it
                 moves and while idle (freed): under rt_lock */
  pthread_mutex_t rt_lock;
  pool_warm warm[POOL_MAX_WARM]; /* call jobs; replaced when one fails */
  uint64_t warm_clock;
  /* records for the front, sent in one message per loop iteration
   * (pool__runner_send) */
  iso_buf out;
  size_t out_max;         /* the jobs link's bound, less its header */
  iso_buf reply;          /* a task's reply map being made, kept for reuse */
  pool_task* active;      /* the tasks started, sorted by deadline */
  pool_task* active_last; /* its last (NULL: none) */
  pool_task* spare;       /* finished tasks kept for reuse */
  int nspare;
  /* per slot, the generation a CANCEL record named (its TASK may come
   * after it) */
  uint32_t* cancelled;
  uint32_t nslots;
  /* the permission sets the front sent, by id (POOL_PERM_ID): the index
   * into the table and the generation the set came with */
  struct {
    iso_perms* perms;
    uint32_t gen;
  } * perms;
  uint32_t nperms;
  /* op batches sent to the front, waiting for their responses, oldest
   * first (worker_ops.c) */
  pool_op_out* ops_head;
  pool_op_out* ops_tail;
  iso_op_batch* late; /* answers later than their batch, this drain's */
  iso_buf ops_buf;    /* OP records being written */
  int recycle_wanted; /* a fresh isolate once nothing is in flight */
  int recycle_reason; /* why (iso_link_reason) */
  int said_recycling; /* it said STATE recycling: STATE running follows */
  uint32_t rt_jobs;   /* jobs taken on this isolate */
  iso_buf held;       /* the front's messages while it had no isolate */
  int stopping;       /* a STOP record came */
  atomic_int halted;  /* pool__runner_halt: the stop is coming */
  /* its end (pool__runner_join): set once its engine let go of it */
  pthread_mutex_t end_lock;
  pthread_cond_t end_cond;
  int ended;
};

/* A job on this worker, made from its TASK record, whose fields it
 * copies: the worker's side of it, which the front never sees (the
 * front's is its pool_job). */
struct pool_task {
  pool_task* anext; /* the worker's active list, by deadline */
  /* what its TASK record said; strings NUL-terminated, all in mem */
  uint32_t slot, gen;
  iso_job_kind kind;
  const char* module;      /* NULL: nil */
  const char* export_name; /* NULL: nil */
  const char* source;      /* NULL: nil */
  size_t source_len;
  iso_bytes args; /* a msgpack array */
  iso_bytes id;   /* the client's id, raw msgpack ({NULL, 0}: nil) */
  uint64_t deadline_ns, received_ns;
  uint32_t perm_id, timeout_ms, cpu_ms;
  iso_buf mem; /* kept with the task for reuse */
  /* its run */
  iso_realm* realm; /* eval: its own realm; call: the worker's warm realm */
  uint64_t started_ns;
  int settled;   /* the evaluation called back */
  int status;    /* 0, or ISO_E* */
  int cancelled; /* a CANCEL record named it: no reply is made */
  iso_js_error err;
  uint8_t* value;
  size_t value_len;
  iso_log* logs; /* POOL_MAX_LOGS + 1 entries once the task logs */
  size_t nlogs, log_bytes, logs_dropped;
  iso_eval_stats stats; /* what it cost, read while its evaluation lived */
  int have_stats;
};

/* ---- worker.c ---- */

/* pool__runner_put: a record for the front, sent with this loop
 * iteration's others in one message (pool__runner_send; earlier if the
 * message would pass the link's bound). pool__runner_send: sends them.
 * Thread: the runner's. */
void pool__runner_put(pool_runner* w, const iso_link_rec* rec);
void pool__runner_send(pool_runner* w);

/* pool__runner_info: puts an INFO record: what poolctl workers shows that
 * only this thread can read (the heap, the warm modules). Thread: the
 * runner's. */
void pool__runner_info(pool_runner* w);

/* ---- worker_task.c ---- */

/* pool__task_take: a TASK record (its fields point into the link's
 * message: copied): its task is started now, or, once a STOP came (or a
 * CANCEL came first), the job is given back at once. Thread: the
 * runner's. */
void pool__task_take(pool_runner* w, const iso_link_task* rec);
/* pool__task_cancel: a CANCEL record: the front answered the job; its
 * task ends as if its deadline had passed, without a reply, and one not
 * here yet never starts. Thread: the runner's. */
void pool__task_cancel(pool_runner* w, uint32_t slot, uint32_t gen);
/* pool__tasks_finish: finishes the settled tasks (their DONE records go
 * out with this iteration's); returns 1 if any. pool__tasks_stop: STOP:
 * finishes every task, what did not finish answered shutting_down.
 * pool__tasks_arm: the deadline timer at the earliest deadline of the
 * unsettled tasks. pool__tasks_close: frees the tasks kept for reuse.
 * Thread: the runner's (close: any, once it ended). */
int pool__tasks_finish(pool_runner* w);
void pool__tasks_stop(pool_runner* w);
void pool__tasks_arm(pool_runner* w);
void pool__tasks_close(pool_runner* w);
/* pool__task_busy: 1 if a task runs in realm. Thread: the runner's. */
int pool__task_busy(const pool_runner* w, const iso_realm* realm);
/* pool__tasks_fail_realm: the warm realm is dead: its unsettled tasks
 * fail with err. pool__task_blame: task `culprit`, if it is still here,
 * fails with err (1), else 0. Thread: the runner's. */
void pool__tasks_fail_realm(pool_runner* w,
                            const iso_realm* realm,
                            const iso_js_error* err);
int pool__task_blame(pool_runner* w, void* culprit, const iso_js_error* err);
/* pool__task_log: a line of output of task t's JavaScript, kept for its
 * reply. Thread: the runner's. */
void pool__task_log(pool_task* t,
                    const char* level,
                    const char* text,
                    size_t len);

/* ---- worker_warm.c ---- */

/* pool__warm_for: the warm realm for calls to `module` (its URL, which
 * the job named by `spec`) with perms, made if need be; NULL when none can
 * be made (every slot runs calls now). pool__warm_by_spec: the live warm
 * realm a call with perms last reached by `spec`, or NULL: a specifier
 * names one URL as long as its slot is not stale (a reload, which may
 * change what names resolve to, drops the slots), so a warm call skips
 * the resolution. pool__warm_is: realm is one of them. pool__warm_deadlines:
 * each warm realm's deadline, the earliest of its unsettled calls'.
 * pool__warm_free_stale: frees the realms a reload dropped once idle.
 * pool__warm_reload: drops those that loaded spec ("": all); returns how
 * many. pool__warm_modules: the modules the live ones hold.
 * pool__warm_free_all: frees them all (a runtime's end). Thread: the
 * runner's. */
iso_realm* pool__warm_for(pool_runner* w,
                          iso_perms* perms,
                          const char* module,
                          const char* spec);
iso_realm* pool__warm_by_spec(pool_runner* w,
                              iso_perms* perms,
                              const char* spec);
int pool__warm_is(const pool_runner* w, const iso_realm* realm);
void pool__warm_deadlines(pool_runner* w);
void pool__warm_free_stale(pool_runner* w);
int pool__warm_reload(pool_runner* w, const char* spec);
int pool__warm_modules(const pool_runner* w);
void pool__warm_free_all(pool_runner* w);

/* ---- worker_ops.c ---- */

/* pool__engine_runner: the worker the engine `data` (a runtime's
 * op_send_data) runs, or NULL. Thread: the engine's. */
pool_runner* pool__engine_runner(void* data);

/* pool__runner_op_send: the runtime's op_send (data: its engine, which
 * names the worker it runs: pool__engine_runner): the batch's
 * async ops as OP records in one message on the ops link; the batch is
 * kept until their responses are back. pool__runner_ops_read: the ops link is
 * readable: each OP_RESULT record fills its op's response, and each batch
 * whose responses are all in goes back to its runtime (returns how many
 * went back). pool__runner_ops_close:
 * frees the batches still out (the runner's end). Thread: the runner's. */
int pool__runner_op_send(void* data, iso_op_batch* batch);
int pool__runner_ops_read(pool_runner* w);
void pool__runner_ops_close(pool_runner* w);

#endif /* ISO_POOL_WORKER_PRIVATE_H */
