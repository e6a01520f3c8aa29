/* iso_queue.h: a work queue between threads of one process, over NNG.
 *
 * Many threads put work in, a group of threads takes it out, one item per
 * receiver: the op bus's request side (workers send batches of op
 * requests, the op threads take them). It is an NNG inproc PUSH socket
 * dialled to a PULL socket; every receiver blocks in nng_recv on the PULL
 * socket, so a batch goes from the sender's thread to whichever op thread
 * is free with no thread in between. It moves pointers, never bytes, and
 * never frees them.
 *
 * DESIGN: iso_queue_send never blocks the sender (a worker's loop): it
 * tries a non-blocking send and, when the buffers are full (every op
 * thread busy and 1024 items waiting), hands the message to an nng_aio
 * that completes when there is room. iso_queue_shutdown wakes every
 * receiver with ISO_ECLOSED.
 */
#ifndef ISO_QUEUE_H
#define ISO_QUEUE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_queue iso_queue;

/* iso_queue_new: constructor; a queue named `name` (unique in the
 * process). Returns 0 and *out, or ISO_EIO/ISO_ENOMEM. Thread: any. */
int iso_queue_new(const char* name, iso_queue** out);

/* iso_queue_send: put `item` in. Returns 0 (it will reach one receiver,
 * unless the queue is closed first: see iso_queue_shutdown), ISO_ECLOSED or
 * ISO_ENOMEM. Thread: any; never blocks. */
int iso_queue_send(iso_queue* q, void* item);

/* iso_queue_recv: take one item, waiting for it. Returns 0 and *item, or
 * ISO_ECLOSED once the queue is closing. Thread: any (the receivers). */
int iso_queue_recv(iso_queue* q, void** item);

/* iso_queue_shutdown: wake every receiver with ISO_ECLOSED and refuse new
 * items; items still inside are handed to drain_cb(item, arg) (may be
 * NULL), so the caller can free them. Call it, join the receivers, then
 * iso_queue_free. Thread: not a receiver. */
void iso_queue_shutdown(iso_queue* q,
                        void (*drain_cb)(void* item, void* arg),
                        void* arg);

/* iso_queue_free: destructor. Accepts NULL. Thread: not a receiver. */
void iso_queue_free(iso_queue* q);

#ifdef __cplusplus
}
#endif

#endif /* ISO_QUEUE_H */
