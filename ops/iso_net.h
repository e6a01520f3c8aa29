/* iso_net.h: HTTP transfers for fetch, on libcurl's multi interface.
 *
 * One iso_net per service owns one CURLM and every transfer of every
 * worker. It creates no thread: its owner (pool/net.c, the front's net
 * thread; a test) calls iso_net_run() in a loop on one thread, the net
 * thread, where every libcurl call and every completion callback happens.
 * Any other thread talks to it with iso_net_start/_send/_read/_cancel/
 * _release, which queue a command under a mutex and wake the net thread
 * (curl_multi_wakeup); each command is answered exactly once, through its
 * callback, on the net thread (a command made after iso_net_stop is
 * answered at once, on the caller's thread, with an Error).
 *
 * A transfer is a resource of one owner (the pool: a worker's route
 * token) named by a resource id (rid) that the owner got from
 * iso_net_start; a command naming a rid its owner does not hold is
 * refused (BadResource), so a worker cannot reach another's transfers.
 * Every hop (the request and each redirect, which this module follows
 * itself, never libcurl) is checked against the caller's permissions
 * (iso_perms_allows_net) before it connects. Response bodies stream: a
 * transfer buffers at most ISO_NET_BUFFER_BYTES and pauses its easy
 * handle (CURL_WRITEFUNC_PAUSE) until a read takes them, and a body past
 * the service's limit fails the transfer.
 */
#ifndef ISO_NET_H
#define ISO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "iso_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a transfer buffers before it pauses, and the most one read
 * returns. */
#define ISO_NET_BUFFER_BYTES ((size_t)256 << 10)
/* Redirects followed before a fetch fails (the Fetch standard's 20). */
#define ISO_NET_MAX_REDIRECTS 20
/* Transfers alive at once per owner (a worker), and in all: a start past
 * either fails, so a worker cannot take the service's memory and sockets
 * with transfers it never reads. */
#define ISO_NET_MAX_PER_OWNER 1024
#define ISO_NET_MAX_TRANSFERS 16384
/* Request headers, and bytes of one request's headers. */
#define ISO_NET_MAX_HEADERS 256
#define ISO_NET_MAX_HEADER_BYTES ((size_t)64 << 10)

typedef struct iso_net iso_net;

typedef struct iso_net_opts {
  size_t max_body_bytes;   /* a response body's limit (--fetch-max-mb); 0:
                              64 MiB */
  long connect_timeout_ms; /* 0: 30 s */
} iso_net_opts;

/* iso_net_new: constructor. Fails (ISO_EINVAL, with err) when the libcurl
 * it runs on resolves names in the calling thread (no AsynchDNS: DNS
 * would block the net thread), or ISO_ENOMEM. Thread: any. */
int iso_net_new(const iso_net_opts* opts,
                iso_net** out,
                char* err,
                size_t errlen);

/* iso_net_stop: answers every pending command (Error "the service is
 * stopping"), ends every transfer and makes later commands fail at once.
 * Thread: the net thread, or any once no thread runs iso_net_run. */
void iso_net_stop(iso_net* net);

/* iso_net_free: destructor: stops (if not yet) and frees. No thread may
 * be in iso_net_run. Accepts NULL. */
void iso_net_free(iso_net* net);

/* iso_net_run: one round on the net thread: runs the queued commands,
 * lets libcurl work, answers what completed, then waits at most
 * timeout_ms (-1: until woken) for sockets, a timer or a command.
 * Returns 1 while the net runs, 0 once stopped. Thread: the net thread
 * (one at a time). */
int iso_net_run(iso_net* net, int timeout_ms);

/* iso_net_wakeup: makes a waiting iso_net_run return. Thread: any. */
void iso_net_wakeup(iso_net* net);

/* The answer to a command: a msgpack value (err ISO_OPERR_NONE), or an
 * error class and message. Valid during the callback. The class is an
 * ops/ class or one of these names, which fetch turns into its errors. */
typedef struct iso_net_done {
  iso_op_err err;
  const char* name; /* with err ISO_OPERR_OTHER: "AbortError",
                       "BadResource", "TypeError" (a network error) or
                       NULL (Error) */
  const char* msg;
  const uint8_t* value;
  size_t len;
} iso_net_done;

typedef void (*iso_net_cb)(void* data, const iso_net_done* done);

/* How redirects are handled (RequestInit.redirect). */
typedef enum iso_net_redirect {
  ISO_NET_FOLLOW = 0,
  ISO_NET_MANUAL,
  ISO_NET_ERROR
} iso_net_redirect;

/* A request. Everything is copied by iso_net_start. */
typedef struct iso_net_req {
  const char* method;     /* NULL: GET */
  const char* url;        /* http: or https: */
  const iso_str* headers; /* name, value, name, value, ... */
  size_t nheaders;        /* pairs */
  const uint8_t* body;    /* NULL: none */
  size_t body_len;
  iso_net_redirect redirect;
  uint64_t deadline_ms; /* CLOCK_MONOTONIC ms at which the transfer
                           fails TimedOut; 0: none */
  uint64_t job;         /* the caller's job, (realm << 32 | tag), for
                           iso_net_release */
  int send;             /* send the request at once (its head is held for
                           iso_net_send): one round trip less */
} iso_net_req;

/* iso_net_start: checks the request (method, URL, headers: a TypeError
 * naming what is wrong), makes a transfer owned by `owner` with perms (a
 * reference is taken) and answers at once with its rid (an int); the
 * request is sent now if req->send says so, else on iso_net_send. Past
 * ISO_NET_MAX_PER_OWNER transfers of the owner, or ISO_NET_MAX_TRANSFERS in
 * all, it fails (Error). Thread: any. */
void iso_net_start(iso_net* net,
                   uint64_t owner,
                   const iso_perms* perms,
                   const iso_net_req* req,
                   iso_net_cb cb,
                   void* data);

/* iso_net_send: sends transfer rid's request (unless it went at start),
 * following redirects as its mode says, and answers with the response's
 * head: a map {rid (int), status (int), statusText (str), headers
 * ([[name (str, lower case), value (bin)], ...]), url (str, after
 * redirects), redirected (bool)} and, when the body has ended by then and
 * fits one read, body (bin): the transfer is then done (its rid names
 * nothing); or PermissionDenied
 * `net access to "HOST:PORT" was not granted ...` for a hop the
 * permissions do not cover, TypeError for a network failure, AbortError
 * when cancelled, TimedOut past the deadline. Thread: any. */
void iso_net_send(iso_net* net,
                  uint64_t owner,
                  uint32_t rid,
                  iso_net_cb cb,
                  void* data);

/* iso_net_read: answers with the next bytes of the response body (a bin
 * of at most ISO_NET_BUFFER_BYTES) as soon as there are some, or nil at
 * its end (the transfer is then gone: its rid names nothing), or the
 * error that ended it (Error `response body larger than N MiB
 * (--fetch-max-mb)` past the limit). One read at a time per transfer.
 * Thread: any. */
void iso_net_read(iso_net* net,
                  uint64_t owner,
                  uint32_t rid,
                  iso_net_cb cb,
                  void* data);

/* iso_net_cancel: ends transfer rid (its pending send or read answers
 * AbortError) and answers nil; a rid already gone answers nil too.
 * Thread: any. */
void iso_net_cancel(iso_net* net,
                    uint64_t owner,
                    uint32_t rid,
                    iso_net_cb cb,
                    void* data);

/* iso_net_release: ends every transfer of `owner` (job 0), of one realm
 * of it (realm << 32) or of one job (realm << 32 | tag), as
 * iso_net_cancel does, without an answer of its own: a worker gone, a
 * realm freed, a job cancelled. Thread: any. */
void iso_net_release(iso_net* net, uint64_t owner, uint64_t job);

/* iso_net_check_url: whether a fetch may go to url's host and port with
 * perms: 0, or ISO_EOP with *err TypeError (not an http(s) URL with a
 * host) or PermissionDenied and the message in msg (the same a hop the
 * permissions do not cover fails with). Needs no iso_net: a runtime
 * without a network still says why. Thread: any. */
int iso_net_check_url(const iso_perms* perms,
                      const char* url,
                      iso_op_err* err,
                      char* msg,
                      size_t msglen);

/* iso_net_count: transfers alive now (tests, metrics). Thread: any. */
size_t iso_net_count(iso_net* net);

#ifdef __cplusplus
}
#endif

#endif /* ISO_NET_H */
