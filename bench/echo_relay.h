/* echo_relay.h: the relayed echo's relay, the floor of a job path that
 * crosses a pool process (isopool-bench's `relay` rows).
 *
 * The service's front answers no job itself: it writes the job to a
 * socketpair, a worker in a pool process wakes and writes the reply back,
 * and the front's link thread wakes and sends it. A bare NNG echo pays
 * none of those hand-offs. The relayed echo does, and nothing else: each
 * message the echo server receives is written, framed, to a socketpair
 * (from the NNG thread that received it, as the front writes a TASK
 * record), a child process echoes the byte stream back, and a thread of
 * the server reads the frames and hands each back to its context, which
 * sends it (as the front's link thread sends a reply).
 *
 * DESIGN: one relay per echo server. Frames are a 4-byte length and a
 * 4-byte tag, then the bytes. Writers take a mutex so that frames from
 * several NNG threads do not interleave; the child's echo keeps them
 * whole, in order. The reader thread reads what is there (up to 256 KiB)
 * and delivers every whole frame in it.
 */
#ifndef ISO_BENCH_ECHO_RELAY_H
#define ISO_BENCH_ECHO_RELAY_H

#include <stddef.h>
#include <stdint.h>

typedef struct echo_relay echo_relay;

/* Called on the relay's reader thread with a frame that came back: its
 * tag and its bytes (valid during the call only). */
typedef void (*echo_relay_deliver)(void* arg,
                                   uint32_t tag,
                                   const uint8_t* bytes,
                                   size_t len);

/* Forks the relay's child (the "pool process"). Call it before anything
 * starts a thread (NNG included): the child only echoes bytes, but a fork
 * from a threaded process could inherit a held lock. Returns the relay,
 * or NULL with errno set. Thread: any, before threads exist. */
echo_relay* echo_relay_new(void);

/* Starts the reader thread, which calls deliver(arg, ...) for each frame
 * that comes back. Returns 0 or an errno value. */
int echo_relay_start(echo_relay* r, echo_relay_deliver deliver, void* arg);

/* Writes one frame (tag, len bytes at p). Returns 0, or -1 if the child
 * is gone. Thread: any. */
int echo_relay_send(echo_relay* r, uint32_t tag, const void* p, size_t len);

#endif
