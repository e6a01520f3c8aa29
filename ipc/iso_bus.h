/* iso_bus.h: the message bus between threads of one process.
 *
 * A bus is a pair of NNG inproc PAIR1 sockets; each end sends batches of
 * pointers to the other. Like Deno's old SharedQueue, many records travel
 * in one message: iso_bus_send() appends to the end's outbox, and the
 * outbox goes out as one message when the previous send has completed, so
 * a burst costs one NNG message, not one per record. The records are the
 * caller's (jobs, ops): the bus moves pointers, never bytes, and never
 * frees them.
 *
 * DESIGN: sends are asynchronous (nng_aio) and serialised per end by a
 * mutex. An end is read in one of two ways, chosen at iso_bus_new: with a
 * callback, which runs on an NNG thread and must only queue the records
 * and wake their owner, never run JavaScript (the dispatcher's ends); or
 * by its owner's own loop, which polls iso_bus_fd() and takes each batch
 * with iso_bus_drain() on its own thread (a worker's end: its jobs start
 * straight from the batch, no queue or lock between).
 */
#ifndef ISO_BUS_H
#define ISO_BUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_bus_end iso_bus_end;

/* A batch arrived at an end: `items` holds `n` pointers, valid only during
 * the call. Thread: an NNG thread. */
typedef void (*iso_bus_cb)(void* const* items, size_t n, void* arg);

/* iso_bus_new: constructor; a new bus named `name` (unique in the
 * process), with its two ends. Each end calls `cb(items, n, arg)` for the
 * batches the other end sends, on an NNG thread; an end whose callback is
 * NULL is read by its owner instead (iso_bus_fd, iso_bus_drain). Returns 0 or
 * ISO_EIO/ISO_ENOMEM. Thread: any. */
int iso_bus_new(const char* name,
                iso_bus_cb cb_a,
                void* arg_a,
                iso_bus_cb cb_b,
                void* arg_b,
                iso_bus_end** a,
                iso_bus_end** b);

/* iso_bus_fd: for an end opened with a NULL callback: a file descriptor
 * that polls readable while batches wait (NNG_OPT_RECVFD), so the owner's
 * own loop (uv_poll) can wake on it without an NNG thread in between;
 * iso_bus_drain() then takes them. Returns the fd or ISO_EINVAL.
 * Thread: the owner. */
int iso_bus_fd(iso_bus_end* end);

/* iso_bus_drain: call cb for every batch waiting at an end opened with a
 * NULL callback, without blocking. Returns the number of batches.
 * Thread: the owner. */
int iso_bus_drain(iso_bus_end* end, iso_bus_cb cb, void* arg);

/* iso_bus_send: queue `n` pointers to the other end. Returns 0, or
 * ISO_ECLOSED once iso_bus_free has begun (a send racing it). Thread:
 * any. */
int iso_bus_send(iso_bus_end* end, void* const* items, size_t n);

/* iso_bus_free: destructor for both ends (pass either); waits for sends
 * and callbacks in progress. Records still queued are not delivered.
 * Accepts NULL. Thread: not an NNG callback of this bus. */
void iso_bus_free(iso_bus_end* end);

#ifdef __cplusplus
}
#endif

#endif /* ISO_BUS_H */
