/* worker.h: the worker side as the front sees it: a group of worker
 * threads (pool_group: those of one pool process, step 4; one group for
 * all of them until then) with its watchdog, reached over its control
 * link (HALT in; WEDGED and ALIVE out: ipc/iso_link.h's records, as
 * bytes; the front makes the link and gives the group its end), and
 * each worker thread (a runner), started in a group with what it needs,
 * copied, and its ends of the two links the front made for it (its jobs
 * link and its ops link, ipc/iso_link.h); from then on the front
 * reaches it only with the links' records, as bytes. This header is the
 * rest, their life: start, wait for the end, free. Issue 11's step 4
 * makes these the spawn, waitpid and cleanup of a pool process.
 *
 * The worker side (worker*.c, group.c) includes pool_base.h, this header,
 * group_private.h and worker_private.h only: it sees no structure of the
 * front's (iso_pool, pool_worker, pool_job).
 */
#ifndef ISO_POOL_WORKER_H
#define ISO_POOL_WORKER_H

#include "iso_link.h"
#include "iso_ops.h"
#include "iso_rt.h"
#include "pool_base.h"

typedef struct pool_group pool_group;

/* How often the group says ALIVE; the front falls back on the jobs'
 * deadlines (watchdog.c) when it has heard nothing for POOL_SILENT_MS. */
#define POOL_ALIVE_MS 100
#define POOL_SILENT_MS 3000

/* The answer for a job on a worker when the shutdown stopped it
 * (--grace-ms ran out, or its process ended with the service): its TASK
 * was sent, so some of its JavaScript may have run, and `cancelled`
 * keeps a client from sending it elsewhere (`shutting_down` is only for a
 * job that never ran: docs/protocol.md, Error codes). */
#define POOL_STOPPED_MSG                                                  \
  "stopped: the service shut down before the job finished (--grace-ms); " \
  "it may have run in part"

/* The control link's bound on a message, each way (a batch of HALTs, or
 * of WEDGEDs and ALIVEs: a few bytes each; a code cache entry, CODE or
 * CODE_PUT: ISO_LINK_CODE_MAX at most), and on what waits in either end's
 * outbox for a peer that stopped reading. */
#define POOL_CTL_MAX_MSG (ISO_LINK_CODE_MAX + ((size_t)64 << 10))
#define POOL_CTL_MAX_QUEUED ((size_t)4 << 20)
/* Code cache entries a group sends its front per POOL_ALIVE_MS, at most
 * (the rest wait for the next rounds). */
#define POOL_CODE_ROUND 8

typedef struct pool_group_opts {
  pool_logger log;
  /* The control link: the group's end, a socket the front made
   * (iso_link_socketpair; a pool process inherits it). Taken by
   * pool__group_new, even when it fails. */
  int ctl_fd;
  /* gone_cb: the front's end of the control link went (it closed it, or
   * died): a pool process then ends. Thread: the group's watchdog; it
   * must only wake its owner. NULL: not told. */
  void (*gone_cb)(void* arg);
  void* gone_arg;
  /* held: 1: its worker threads wait, their runtimes made, before their
   * READY record (before they read a job) until pool__group_release: a
   * pool process seals its sandbox in between; 0: they do not wait. */
  int held;
  /* spares: the spare engines it keeps (--spare-isolates: threads with
   * an isolate built, idle, each ready to take over a worker whose
   * isolate is replaced; worker.c's DESIGN); 0: none (a worker recycles
   * on its own thread). */
  int spares;
  /* share_code: 1: it sends the code cache entries its process makes to
   * the front (CODE; the caller turned iso_rt_code_export on) and puts
   * those the front sends (CODE_PUT, iso_rt_code_put) in its process's
   * cache: a pool process's group; 0: neither (--processes 0: the
   * workers share the front's own cache). */
  int share_code;
} pool_group_opts;

/* pool__group_new: constructor; a group with no worker thread yet, its
 * end of the control link open (its head and bounds: iso_link_head,
 * POOL_CTL_MAX_MSG) and its watchdog thread started. Returns 0 and *out,
 * or an error of iso_link_new (ISO_EINVAL: ctl_fd is no stream socket)
 * or ISO_ENOMEM, with err saying why. pool__group_stop: ends its
 * watchdog thread and its spare engines, waits for every engine thread
 * (their workers stopped first), and closes its end of the link (what
 * the front sent and nobody read is dropped). pool__group_free: destructor
 * (stops it first), once every worker thread of the group has been freed (none
 * abandoned). Both accept NULL. Thread: the controlling thread. */
int pool__group_new(const pool_group_opts* o,
                    pool_group** out,
                    char* err,
                    size_t errlen);
void pool__group_stop(pool_group* g);

/* pool__group_release: a held group's worker threads go on (READY, then
 * their jobs); once, or again to no effect. Thread: the controlling
 * thread. */
void pool__group_release(pool_group* g);
void pool__group_free(pool_group* g);

/* What a worker thread needs, all of it given at its start. */
typedef struct pool_runner_opts {
  int id;              /* the worker's number, the front's (poolctl) */
  const char* modules; /* the module root (copied) */
  size_t heap_mb;      /* its isolate's heap limit */
  size_t max_message;  /* a reply over it is answered too_large; the
                          links' messages are bounded by it (POOL_LINK_MAX) */
  uint32_t background_ms;
  uint32_t nslots; /* tokens name slots 0..nslots-1 */
  int log_jobs;    /* the output of code left running goes to the log */
  pool_logger log;
  /* The ops' service-wide state, for the ops that run on its thread (sync
   * ops). Step 4: the pool process's own. */
  iso_ops_env* ops_env;
  /* The size of the front's table of the permission sets it sends this
   * worker (TASK records name them by id, POOL_PERM_ID): the worker keeps
   * them in one as large. */
  uint32_t nperms;
  /* Its ends of the links the front made (sockets: iso_link_socketpair),
   * read from its own loop: its jobs link (the front's records in, its
   * own out) and its ops link (its async op requests out, as OP records,
   * one message per batch; their responses in). Taken by
   * pool__runner_start, even when it fails. */
  int jobs_fd;
  int ops_fd;
  /* The import map's JSON text and its URL (iso_import_map_new), which
   * the runner parses for its runtime; NULL: none. */
  const char* import_map;
  const char* import_map_url;
  /* Recycling (worker.c's DESIGN; 0: off): after a job, its isolate is
   * replaced once its jobs are answered when it ran recycle_jobs jobs,
   * when its heap in use (ArrayBuffers included: iso_rt_memory's used)
   * is past heap_soft_mb, or its committed heap past recycle_heap_mb; an
   * isolate idle for idle_ms is freed, and the worker's next job takes a
   * spare's. */
  uint32_t recycle_jobs;
  uint32_t heap_soft_mb;
  uint32_t recycle_heap_mb;
  uint32_t idle_ms;
} pool_runner_opts;

/* The bound of a link's message in either direction: a reply (or a
 * request) of max_message bytes, with room for its record around it;
 * the ops link's: ISO_OP_BATCH_RES_MAX, what a batch's results (or
 * arguments) may hold, with the same room. */
#define POOL_LINK_ROOM ((size_t)64 << 10)
#define POOL_LINK_MAX(max_message) ((max_message) + POOL_LINK_ROOM)
#define POOL_OPS_LINK_MAX (ISO_OP_BATCH_RES_MAX + POOL_LINK_ROOM)

/* pool__runner_start: constructor; opens its ends of the links and
 * starts a worker thread (an engine: worker.c's DESIGN) in group g with o
 * (copied), and returns at once: its READY record says how its runtime
 * started (after a failed start it ends by itself). The group's spare
 * engines are started too, up to pool_group_opts.spares, with o's
 * runtime options (every runner of a group has the same). Returns 0 and
 * *out, or ISO_ENOMEM (no thread or memory) or a link's error
 * (ISO_EINVAL: not a stream socket; an import map that does not parse),
 * with err. Thread: not a worker's. */
int pool__runner_start(pool_group* g,
                       const pool_runner_opts* o,
                       pool_runner** out,
                       char* err,
                       size_t errlen);

/* pool__runner_join: waits for the worker to end (after its STOP record,
 * or a failed start: its engine let go of it) until `until_ns`
 * (pool__now() time; 0: for ever).
 * Returns 0, or ISO_ETIMEDOUT when it did not end in time (JavaScript
 * that would not stop): unless a later call returns 0 (a pool process
 * asks with until_ns now, which does not wait), it is then abandoned
 * and must never be freed. Thread: not r's. */
int pool__runner_join(pool_runner* r, uint64_t until_ns);

/* pool__runner_free: destructor, once its thread ended (or never
 * started): closes its ends of the links. Accepts NULL. Thread: not
 * r's. */
void pool__runner_free(pool_runner* r);

#endif /* ISO_POOL_WORKER_H */
