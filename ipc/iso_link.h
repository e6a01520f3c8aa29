/* iso_link.h: the link between the front and a pool process: batches of
 * bytes over NNG PAIR1 (docs/link.md).
 *
 * A link is iso_bus carrying bytes instead of pointers, between two ends
 * that may live in different processes. One end listens on a URL
 * (ipc://path, or inproc://name within one process), the other dials it.
 * Records (encoded byte strings) are appended to an end's outbox with
 * iso_link_send(), and the outbox goes out as one NNG message when the
 * previous one has left, so a burst costs a few messages, not one per
 * record. Each message starts with the bytes given as `head` (the codec's
 * header) and never exceeds `max_send`; the receiving end gets whole
 * messages and splits them into records itself.
 *
 * One peer per link, for the link's life: the first connection is the
 * peer, any later one is refused (a name per process generation, and this
 * rule, mean a dying process can never hold its successor's link; on
 * ipc:// `peer_pid` can also name the one process allowed). The owner
 * hears of the peer through events: ISO_LINK_PEER_UP once it is
 * connected, ISO_LINK_PEER_GONE once it is not (it died, it closed its
 * end, or an end refused a message above its `max_recv`). The front
 * takes PEER_GONE as one sign that a pool process died. A dialing end
 * dials once: if its peer goes, it does not dial again.
 *
 * DESIGN: each end has two PAIR1 sockets, one it only sends on and one it
 * only receives on, so a link at URL is two NNG addresses, URL.ld (the
 * listener sends, the dialer receives) and URL.dl. Sends are asynchronous
 * (one nng_aio) and serialised by the end's mutex; NNG buffers nothing
 * (SENDBUF and RECVBUF are 0): the outbox is the buffer, and at most one
 * message per direction is inside NNG. An end is read in one of two
 * ways, chosen at open: with a callback, run on an NNG thread, that must
 * only queue the work and wake its owner (the front's ends), or by its
 * owner's own loop, which polls iso_link_fd() (uv_poll) and takes
 * messages with iso_link_drain() on its own thread (a worker's ends).
 *
 * Why two sockets: NNG 1.5.2's ipc transport (tcp's too) can hang for
 * ever when a connection is closed while its read or its write is between
 * two steps of a message (the next step is started on an aio the close
 * just stopped, so it never ends, and NNG's one reaper thread waits for
 * it: no NNG socket in the process can close again). NNG closes a
 * connection itself when one direction fails, so a peer killed while
 * messages flow both ways could set it off (tests/test_link.c
 * kill_mid_transfer did, often, with one socket). With one direction per
 * connection, nothing is ever in flight the other way: the receiving
 * connection writes only a one-byte hello when it comes up, and the
 * sending one reads only that hello, which it holds unread (with no NNG
 * buffer, PAIR1 then reads no more on it; sends wait until it is there).
 * So a failure closes a connection only from the direction that failed,
 * after its last step.
 *
 * Closing does the same for our own close, and avoids the two other
 * ways NNG 1.5.2 has crashed this project at close (ipc/iso_server.c,
 * ipc/iso_client.c): no NNG call of ours is under way when a socket
 * closes (io_enter/io_leave), and the aios are stopped first. Then
 * iso_link_free waits (at most 0.5 s) until both connections are idle:
 * it sends EOF (an empty message) and takes and drops what arrives until
 * the peer's answering EOF, after which the peer sends nothing; a peer
 * that does not answer (its owner does not read) is waited for until it
 * holds one message nobody takes, which stops its connection reading. A
 * peer that sends a message slower than that and does not answer is the
 * one case left: the front closes a pool process's links after the
 * process is gone (it kills it first), which leaves nothing in flight.
 */
#ifndef ISO_LINK_H
#define ISO_LINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The default bound of a message in either direction: a reply of the
 * service's largest (ISO_PROTO_MAX_MSG_DEFAULT) with room around it. */
#define ISO_LINK_MAX_MSG_DEFAULT ((size_t)17 << 20)

typedef struct iso_link iso_link;

typedef enum iso_link_event {
  ISO_LINK_PEER_UP = 1,  /* the peer connected */
  ISO_LINK_PEER_GONE = 2 /* its connection ended; it will not come back */
} iso_link_event;

/* A message arrived: its `len` bytes (head included) are valid only
 * during the call. Thread: an NNG thread (a callback end), or the one
 * calling iso_link_drain. */
typedef void (*iso_link_msg_cb)(const uint8_t* data, size_t len, void* arg);

/* The peer came or went. Each link reports PEER_UP at most once and
 * PEER_GONE at most once, after PEER_UP if that was reported (a
 * connection refused before it was up reports only PEER_GONE). Not called
 * for what iso_link_free does. It must not call iso_link_free. Thread:
 * an NNG thread; PEER_UP of a dialing end may come before iso_link_new
 * returns. */
typedef void (*iso_link_event_cb)(iso_link* link, iso_link_event ev, void* arg);

typedef struct iso_link_opts {
  const char* url; /* ipc://path or inproc://name */
  int listen;      /* 1: listen on url; 0: dial it, once */
  /* A message above max_recv bytes is refused and its connection closed
   * (NNG_OPT_RECVMAXSZ; the link checks inproc's itself). Messages this
   * end sends stay within max_send. 0: ISO_LINK_MAX_MSG_DEFAULT. */
  size_t max_recv;
  size_t max_send;
  /* Bytes waiting in the outbox beyond which iso_link_send refuses
   * (ISO_EBUSY): a peer that stops reading costs at most this much.
   * 0: no bound (the owner's own limits bound it). */
  size_t max_queued;
  /* Every message starts with these head_len bytes (copied; the codec's
   * header, iso_link_head()). NULL: none. */
  const void* head;
  size_t head_len;
  /* A listening ipc:// end: the one process allowed to connect (0: any);
   * any other is refused before it is the peer. */
  int peer_pid;
  iso_link_msg_cb msg_cb;     /* NULL: read by the owner (iso_link_fd) */
  iso_link_event_cb event_cb; /* NULL: not told */
  void* arg;                  /* for both */
} iso_link_opts;

/* iso_link_new: constructor; opens an end and listens or dials. A
 * listening ipc:// end's socket files (path.ld, path.dl) are made 0600
 * (the front's directory is 0700) and removed at close; url must leave
 * room for the suffix (an ipc:// path is at most 107 bytes). A dialing
 * end connects before this returns, or fails. Returns 0 and *out, or ISO_EINVAL
 * (a bad URL or options), ISO_ECONNECT (nobody listens there), ISO_EIO (the
 * address is taken, or another NNG failure) or ISO_ENOMEM, with `err` naming
 * the URL and NNG's reason (err may be NULL). Thread: any. */
int iso_link_new(const iso_link_opts* opts,
                 iso_link** out,
                 char* err,
                 size_t errlen);

/* iso_link_send: append `n` bytes, one or more whole records, to the
 * outbox (copied); they leave in one message, with the records sent
 * before them, as soon as the message before has left (and the peer's
 * hello has arrived). Returns 0;
 * ISO_ETOOBIG when n and the head exceed max_send (it could never be
 * sent); ISO_EBUSY past max_queued; ISO_ECLOSED once the peer is gone or
 * the link is closing; ISO_ENOMEM. Records queued before the peer
 * connects wait for it. Thread: any. */
int iso_link_send(iso_link* link, const void* bytes, size_t n);

/* iso_link_fd: for an end opened without msg_cb: a file descriptor that
 * polls readable while a message waits (NNG_OPT_RECVFD), so the owner's
 * loop can wake on it; iso_link_drain() then takes them. Owned by the
 * link. Returns the fd, or ISO_EINVAL for a callback end. Thread: the
 * owner. */
int iso_link_fd(iso_link* link);

/* iso_link_drain: call cb for each message waiting at an end opened
 * without msg_cb, without blocking. A message above max_recv is dropped
 * and its connection closed. Returns the number of messages handed to
 * cb. Thread: the owner (one thread at a time). */
int iso_link_drain(iso_link* link, iso_link_msg_cb cb, void* arg);

/* iso_link_peer_pid: the process id of an ipc:// peer once it is up
 * (SO_PEERCRED), else ISO_EINVAL. Thread: any. */
int iso_link_peer_pid(const iso_link* link);

/* iso_link_free: destructor. Stops sending and taking messages (records
 * still in the outbox are dropped, and so are those arriving now), waits
 * until the connections are idle (DESIGN above: at most 0.5 s, no wait
 * for inproc:// or a peer already gone), closes the sockets and frees the
 * link.
 * No callback of the link runs after it returns. Accepts NULL.
 * Thread: not a callback of this link. */
void iso_link_free(iso_link* link);

#ifdef __cplusplus
}
#endif

#endif /* ISO_LINK_H */
