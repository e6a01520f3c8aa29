/* records.h: what crosses between the front and the worker side: the
 * records of a worker's bus, and nothing else.
 *
 * The front (dispatch.c, answer.c, admin.c, watchdog.c, pool.c, ops.c)
 * and the worker side (worker.c: a worker thread, its isolate and its
 * tasks) share no structure: the front's pool_job and the worker's
 * pool_task never point at each other, and all traffic between them is
 * one of these records, each a self-contained allocation that belongs to
 * the sender until it is sent and to the receiver after (the receiver
 * frees it). Today they move by pointer on a worker's bus (ipc/iso_bus.h,
 * one message per batch, as before); issue 11's step 3b encodes each one
 * as the array of the same name in /work/design11.md ("The link") and
 * sends the bytes over ipc/iso_link.h instead, so a record holds only
 * what can be written as bytes: numbers, byte strings, and a permission
 * set (iso_perms, which 3b writes as its spec).
 *
 * A job on a worker is named by a token, the index and generation of the
 * slot the front gave it in that worker's table (pool_worker.slots); the
 * worker hands the token back in its DONE record and the front checks it
 * (a stale or unknown token is logged and dropped, never used to find
 * memory). Fields the design's arrays do not have are marked "(+)"; 3b
 * adds them to the link's codec.
 */
#ifndef ISO_POOL_RECORDS_H
#define ISO_POOL_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_ops.h"

/* A job's name on its worker: its slot in the worker's table on the front
 * and the slot's generation (never 0 for a slot in use). */
typedef struct pool_token {
  uint32_t slot;
  uint32_t gen;
} pool_token;

/* A permission set's id on a worker: its index in the worker's table on
 * the front (pool_worker.perms) and that entry's generation, never 0
 * (an id is never 0). Op records carry it (iso_op_rec.perm_id); the
 * front's op threads resolve it from that table, so a worker gets at most
 * the permissions of the jobs sent to it. */
#define POOL_PERM_ID(index, gen) ((uint32_t)(index) | ((uint32_t)(gen) << 16))
#define POOL_PERM_INDEX(id) ((id)&0xffffu)
#define POOL_PERM_GEN(id) ((id) >> 16)

/* Every record starts with its type, one of the direction's enum. */
typedef struct pool_rec {
  uint8_t type;
} pool_rec;

/* front -> worker */
typedef enum pool_rec_down {
  POOL_REC_TASK = 1,
  POOL_REC_CANCEL = 2,
  POOL_REC_RELOAD = 3,
  POOL_REC_RECYCLE = 4, /* a bare pool_rec */
  POOL_REC_STOP = 5,    /* a bare pool_rec */
} pool_rec_down;

/* worker -> front */
typedef enum pool_rec_up {
  POOL_REC_DONE = 1,
  POOL_REC_INFO = 2,
  POOL_REC_RELOADED = 3,
  POOL_REC_STATE = 4,
  POOL_REC_READY = 5,
} pool_rec_up;

/* A worker's life, as poolctl workers shows it. The front keeps each
 * worker's (pool_worker.state); a STATE record tells it of the changes
 * only the worker knows of. */
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

/* TASK: a job to run. `module`, `export_name`, `source`, `args` and `id`
 * point into the record's own allocation (pool__rec_task_new copies
 * them), so the worker needs nothing of the front's. */
typedef struct pool_rec_task {
  pool_rec hdr; /* POOL_REC_TASK */
  pool_token token;
  uint8_t kind;         /* iso_job_kind */
  iso_str module;       /* {NULL, 0}: nil */
  iso_str export_name;  /* {NULL, 0}: nil */
  iso_str source;       /* {NULL, 0}: nil */
  iso_bytes args;       /* a msgpack array */
  uint64_t deadline_ns; /* uv_hrtime() time; carries sid's low bits */
  int64_t sid;          /* the service's job number */
  /* what its ops may do: the set's id on this worker (POOL_PERM_ID),
   * and the set (a reference the record owns and the worker takes) the
   * first time the front uses that id on this worker, else NULL: the
   * worker keeps each set by id, in a table as large as the front's
   * (pool_runner_opts.nperms) */
  uint32_t perm_id;
  iso_perms* perms;
  iso_bytes id;         /* (+) the client's id, raw msgpack ({NULL, 0}:
                           nil), echoed in the reply */
  uint64_t received_ns; /* (+) when the front took it: the reply's
                           queue_us */
  uint32_t timeout_ms;  /* (+) for the timeout's message */
} pool_rec_task;

/* CANCEL: the job was answered by someone else (poolctl cancel, its
 * client's connection closed): the worker drops it, or never starts it
 * if the record comes first. */
typedef struct pool_rec_cancel {
  pool_rec hdr; /* POOL_REC_CANCEL */
  pool_token token;
} pool_rec_cancel;

/* DONE: the worker is done with the job: its answer, which the front
 * gives if it wins the job's claim, or (status ISO_STATUS_NONE, no reply)
 * only the job coming back. */
typedef struct pool_rec_done {
  pool_rec hdr; /* POOL_REC_DONE */
  pool_token token;
  uint8_t status;       /* the reply's iso_status; NONE: no reply */
  uint16_t code;        /* ISO_STATUS_ERROR: its iso_proto_code */
  uint64_t started_ns;  /* when the worker started it (0: never) */
  uint64_t finished_ns; /* when it was finished */
  iso_buf reply;        /* the encoded reply map (owned) */
  char note[160];       /* (+) not fulfilled: "name: message", for
                           poolctl workers' last_error; "" otherwise */
} pool_rec_done;

/* RELOAD (poolctl reload): drop the warm realms that loaded `spec` (""
 * for all); the worker answers RELOADED. RECYCLE (poolctl recycle): a
 * fresh isolate once nothing is in flight; the worker answers STATE
 * running (or retiring, if it could not make one). STOP (the shutdown,
 * or the worker was lost): answer what is left shutting_down, give every
 * job back, send STATE stopped and end. */
typedef struct pool_rec_reload {
  pool_rec hdr; /* POOL_REC_RELOAD */
  char spec[];  /* NUL-terminated */
} pool_rec_reload;

/* INFO: what poolctl workers shows that only the worker can read; sent
 * every 500 ms, after a reload and with a new isolate. (The design's
 * last_error is the front's: DONE records' notes.) */
typedef struct pool_rec_info {
  pool_rec hdr; /* POOL_REC_INFO */
  int64_t heap_used, heap_limit;
  int32_t warm_modules;
} pool_rec_info;

/* RELOADED: a RELOAD was carried out; `realms` warm realms dropped. */
typedef struct pool_rec_reloaded {
  pool_rec hdr; /* POOL_REC_RELOADED */
  int32_t realms;
} pool_rec_reloaded;

/* STATE: the worker's own changes: RECYCLING (its runtime is condemned:
 * no new jobs, please), RUNNING (recycled: a fresh isolate, jobs
 * welcome), RETIRING (recycling failed: no more jobs) and STOPPED (its
 * loop has ended, after a STOP; its last record). */
typedef struct pool_rec_state {
  pool_rec hdr; /* POOL_REC_STATE */
  uint8_t state;
} pool_rec_state;

/* READY: the worker's runtime is up (rc 0) or could not be made (rc and
 * err say why; the worker then ends). Its first record. */
typedef struct pool_rec_ready {
  pool_rec hdr;  /* POOL_REC_READY */
  int32_t rc;    /* (+) */
  char err[256]; /* (+) */
} pool_rec_ready;

/* ---- the group channel ----
 *
 * Between the front and a group of worker threads (pool_group: those of
 * one pool process, step 3b), read on the group's side by its watchdog
 * thread, which runs while a worker's JavaScript keeps its loop from its
 * bus. Records of their own kinds (a third and fourth enum). */

/* front -> group */
typedef enum pool_rec_gdown {
  POOL_REC_HALT = 1,
} pool_rec_gdown;

/* group -> front */
typedef enum pool_rec_gup {
  POOL_REC_WEDGED = 1,
  POOL_REC_ALIVE = 2, /* a bare pool_rec, every POOL_ALIVE_MS */
} pool_rec_gup;

/* HALT: stop JavaScript on worker `worker` (the front's number) now,
 * whatever its deadline: with deadline_ns 0, whatever runs, and every job
 * a stop ends is answered shutting_down (the service stops; a STOP record
 * follows on the worker's bus); else the JavaScript of the job of that
 * deadline (cancelled; its CANCEL record is on the worker's bus), now and
 * whenever it runs until the worker has dropped the job. */
typedef struct pool_rec_halt {
  pool_rec hdr; /* POOL_REC_HALT */
  int32_t worker;
  uint64_t deadline_ns;
} pool_rec_halt;

/* WEDGED: JavaScript the group's watchdog stopped on worker `worker`
 * still runs POOL_LOST_GRACE_MS later: the front declares the worker
 * lost. */
typedef struct pool_rec_wedged {
  pool_rec hdr; /* POOL_REC_WEDGED */
  int32_t worker;
} pool_rec_wedged;

/* How often the group says ALIVE; the front falls back on the jobs'
 * deadlines (watchdog.c) when it has heard nothing for POOL_SILENT_MS. */
#define POOL_ALIVE_MS 100
#define POOL_SILENT_MS 3000

/* pool__rec_task_new: constructor; a TASK record with `from`'s fields,
 * its strings and bytes copied into the record's own allocation and a
 * new reference to from->perms. Returns NULL when out of memory.
 * pool__rec_task_free: destructor; accepts NULL. Thread: any. */
pool_rec_task* pool__rec_task_new(const pool_rec_task* from);
void pool__rec_task_free(pool_rec_task* t);

/* pool__rec_done_of: turns a TASK record, once its worker has read what
 * it needs, into the DONE record for its job (same token, nothing else
 * set), in the same allocation, which pool__rec_task_new made large
 * enough: a job then costs one allocation each way, not two. Thread: the
 * worker's. */
pool_rec_done* pool__rec_done_of(pool_rec_task* t);

/* pool__rec_new: constructor of a record of `size` bytes (the type's
 * struct), zeroed but for its type. pool__rec_reload_new: a RELOAD
 * record for spec. Return NULL when out of memory. Thread: any. */
pool_rec* pool__rec_new(uint8_t type, size_t size);
pool_rec_reload* pool__rec_reload_new(const char* spec);

/* pool__rec_down_free, pool__rec_up_free: destructors of any record of
 * that direction (one that was never delivered, or once read). Accept
 * NULL. (A group channel record is freed with free().) Thread: any. */
void pool__rec_down_free(pool_rec* r);
void pool__rec_up_free(pool_rec* r);

#endif /* ISO_POOL_RECORDS_H */
