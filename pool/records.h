/* records.h: what the front and the worker side still share besides the
 * link's records: the ids a TASK names a permission set by, and a
 * worker's states.
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
 * What is left here: POOL_PERM_ID and the worker states (the link's, and
 * the front's LOST). A group's control link (HALT in; WEDGED and ALIVE
 * out: worker.h, watchdog.c) carries the link's records too.
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

#endif /* ISO_POOL_RECORDS_H */
