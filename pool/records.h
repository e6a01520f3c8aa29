/* records.h: what the front and the worker side still share besides the
 * link's records: the ids a TASK names a permission set by, a worker's
 * states, and the group channel's records.
 *
 * The front (dispatch.c, answer.c, admin.c, watchdog.c, pool.c, ops.c)
 * and the worker side (worker*.c: a worker thread, its isolate and its
 * tasks) share no structure. A worker's own traffic is bytes on two links
 * (ipc/iso_link.h, docs/link.md): its jobs link (TASK, CANCEL, RELOAD,
 * RECYCLE, STOP to it; DONE, INFO, RELOADED, STATE, READY back) and its
 * ops link (OP to the front's op threads; OP_RESULT back), whose records
 * are the link codec's (iso_link_rec): each side decodes what it reads
 * into its own structures, copying what it keeps. A job on a worker is
 * named by a token, the index and generation of the slot the front gave
 * it in that worker's table (pool_worker.slots); the front checks every
 * token a worker hands back (one that names no job it sent that worker
 * and has not got back makes the worker lost).
 *
 * What is left here: POOL_PERM_ID, the worker states (the link's, and
 * the front's LOST), and the group channel (HALT in; WEDGED and ALIVE
 * out), whose records still move by pointer on an iso_bus between the
 * front and the group's watchdog thread.
 */
#ifndef ISO_POOL_RECORDS_H
#define ISO_POOL_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "iso_link.h"

/* A job's name on its worker: its slot in the worker's table on the front
 * and the slot's generation (never 0 for a slot in use); a TASK, CANCEL
 * or DONE record's slot and gen. */
typedef struct pool_token {
  uint32_t slot;
  uint32_t gen;
} pool_token;

/* A permission set's id on a worker: its index in the worker's table on
 * the front (pool_worker.perms) and that entry's generation, never 0
 * (an id is never 0). TASK and OP records carry it; the front's op
 * threads resolve it from that table, so a worker gets at most the
 * permissions of the jobs sent to it. */
#define POOL_PERM_ID(index, gen) ((uint32_t)(index) | ((uint32_t)(gen) << 16))
#define POOL_PERM_INDEX(id) ((id)&0xffffu)
#define POOL_PERM_GEN(id) ((id) >> 16)

/* Every group channel record starts with its type, one of the
 * direction's enum. */
typedef struct pool_rec {
  uint8_t type;
} pool_rec;

/* A worker's life, as poolctl workers shows it: the link's states
 * (iso_link_wstate, which a STATE record carries) and the front's LOST.
 * The front keeps each worker's (pool_worker.state); a STATE record tells
 * it of the changes only the worker knows of. */
enum {
  POOL_W_STARTING = ISO_LINK_W_STARTING,
  POOL_W_RUNNING = ISO_LINK_W_RUNNING,
  POOL_W_RECYCLING = ISO_LINK_W_RECYCLING, /* no new jobs; a fresh isolate
                                              once the last is done */
  POOL_W_RETIRING = ISO_LINK_W_RETIRING,   /* no new jobs; stops once the
                                              last is done (resize) */
  POOL_W_STOPPED = ISO_LINK_W_STOPPED,
  POOL_W_LOST = ISO_LINK_W_COUNT /* its JavaScript would not stop, or it
                                    sent what no worker sends: its jobs were
                                    answered worker_lost and a new worker
                                    took its place; freed once its thread
                                    comes back, if ever */
};

/* ---- the group channel ----
 *
 * Between the front and a group of worker threads (pool_group: those of
 * one pool process, step 3b), read on the group's side by its watchdog
 * thread, which runs while a worker's JavaScript keeps its loop from its
 * links. Records of their own kinds (a third and fourth enum). */

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
 * follows on the worker's jobs link); else the JavaScript of the job of
 * that deadline (cancelled; its CANCEL record is on the worker's jobs
 * link), now and
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

/* pool__rec_new: constructor of a group channel record of `size` bytes
 * (the type's struct), zeroed but for its type; freed with free().
 * Returns NULL when out of memory. Thread: any. */
pool_rec* pool__rec_new(uint8_t type, size_t size);

#endif /* ISO_POOL_RECORDS_H */
