/* iso_server.h: the service's front door: NNG REP0 listeners with contexts.
 *
 * One REP0 socket listens on every URL given (tcp://, ipc://, tls+tcp://);
 * a fixed number of contexts each receive one request at a time, so that
 * many requests per connection are in flight at once. Each request is
 * handed to the callback; its reply goes back on the context it came from
 * with iso_server_reply(), from any thread, after which that context
 * receives the next request.
 *
 * DESIGN: the request callback runs on an NNG thread and must not block:
 * it decodes, queues and returns. Messages above `max_message` bytes are
 * still received up to twice that size, so the service can answer them
 * `too_large`; NNG drops anything larger (NNG_OPT_RECVMAXSZ) by closing the
 * connection.
 *
 * Each request carries the id of the connection (NNG pipe) it came on;
 * when a connection closes (NNG_PIPE_EV_REM_POST), closed_cb gets its id,
 * so the owner can stop work nobody waits for any more. The contexts
 * model is unchanged: a reply still goes back on the request's context
 * (NNG drops it if its connection is gone).
 *
 * A listener NNG 1.5.2 stopped (a client's connection that closed before
 * the SP handshake ends its accepting for good) is found within about a
 * second and listens again on its URL, closing the connections it had
 * (their requests out fail at the client; iso_server.c, watch_cb).
 */
#ifndef ISO_SERVER_H
#define ISO_SERVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_server iso_server;
typedef struct iso_server_req iso_server_req;

/* A request arrived: `data`/`len` are valid until iso_server_reply() is
 * called for `req`, which the callback's owner must do exactly once.
 * Thread: an NNG thread. */
typedef void (*iso_server_cb)(iso_server_req* req,
                              const uint8_t* data,
                              size_t len,
                              void* arg);

/* A client's connection closed: the requests that came on it (see
 * iso_server_req_peer) will find nobody to take their replies. Not called
 * for the connections iso_server_free closes. Thread: an NNG thread. */
typedef void (*iso_server_closed_cb)(uint32_t peer, void* arg);

typedef struct iso_server_opts {
  const char* const* urls; /* at least one */
  size_t nurls;
  size_t max_message;   /* bytes; 0: 16 MiB */
  int contexts;         /* requests in flight at once; 0: 1024 */
  const char* tls_cert; /* PEM files for tls+tcp:// listeners */
  const char* tls_key;
  iso_server_cb cb;
  iso_server_closed_cb closed_cb; /* NULL: not told */
  void* arg;                      /* for both callbacks */
} iso_server_opts;

/* iso_server_new: constructor; listens and starts receiving, and starts
 * the server's watcher thread (iso_server.c: it probes and restarts deaf
 * listeners, closing sockets outside NNG's callbacks). Returns 0, or
 * ISO_EINVAL / ISO_EIO / ISO_ENOMEM with `err` naming the URL and NNG's
 * reason. Thread: any. */
int iso_server_new(const iso_server_opts* opts,
                   iso_server** out,
                   char* err,
                   size_t errlen);

/* iso_server_reply: send `len` bytes back on req's context (copied) and
 * let the context take the next request. Thread: any. */
void iso_server_reply(iso_server_req* req, const uint8_t* data, size_t len);

/* iso_server_req_peer: the id of the connection req came on (nonzero),
 * as closed_cb will name it. Thread: the callback's, until the reply. */
uint32_t iso_server_req_peer(const iso_server_req* req);

/* iso_server_req_room: how many of req's server's contexts hold no
 * request now (req's own is held), so the owner can keep some free: a
 * request that arrives while every context is held waits in its
 * connection until one is replied to. A moment's count. Thread: any. */
int iso_server_req_room(const iso_server_req* req);

/* iso_server_drain: wait up to timeout_ms until every request received so
 * far is replied to (iso_server_reply) and each reply was handed to its
 * connection, then a moment more for the connection to write it. A
 * request that arrives meanwhile is handed to the callback as usual.
 * Thread: any but an NNG callback. */
void iso_server_drain(iso_server* srv, int timeout_ms);

/* iso_server_free: destructor. From its start no NNG call begins (a
 * request arriving is dropped unread, a reply sent is freed); it joins
 * the watcher, waits for the calls under way and every context's
 * callback, closes the contexts and then the socket. Accepts NULL.
 * Thread: not an NNG callback. */
void iso_server_free(iso_server* srv);

#ifdef __cplusplus
}
#endif

#endif /* ISO_SERVER_H */
