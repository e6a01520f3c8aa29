/* iso_client.h: the client library: send jobs to isopool servers.
 *
 * One iso_client talks to one or more nodes (`isopool serve` processes),
 * one NNG REQ0 socket dialed to each node's REP0 socket
 * (docs/protocol.md). It carries many requests at once: each in-flight
 * request takes a slot of its node's socket (an NNG context and an aio),
 * up to opts.max_inflight requests in all; slots are created on demand
 * and reused.
 *
 *   iso_client_new / _new_nodes            one URL, or several
 *   iso_client_call / iso_client_batch     block the calling thread
 *   iso_client_submit / _submit_batch      return at once; a callback runs
 *                                          on an NNG thread when done
 *   iso_client_request_raw                 arbitrary bytes out, reply bytes
 *                                          back (tests, tools)
 *   iso_client_nodes                       what the client sees of its nodes
 *
 * Several nodes (docs/scaling.md): URLs given, or a tcp:// or tls+tcp://
 * host name that resolves to several addresses (one node per address,
 * resolved again every opts.resolve_ms, as a Kubernetes headless Service
 * gives). Each request goes to the less loaded (requests in flight) of two
 * random nodes that are up. With more than one node, each is sent a `ping`
 * every opts.heartbeat_ms; a node is out while it is not connected, from
 * its second missed ping in a row, or when it answers that it is not ready
 * or shutting down, and back in when a ping is answered. A reply `busy` or
 * `shutting_down` (the job never ran) is sent on to another node, each
 * node at most once, while the deadline lasts; a request that a lost node
 * never received moves to another node. A request a node may have received
 * when it was lost (its connection dropped, or it missed two pings)
 * completes with ISO_ENODELOST, once; a job marked `idempotent` is instead
 * sent once more to another node.
 *
 * Deadlines are relative: deadline_ms is how long from the call the whole
 * exchange (connecting, sending, waiting for the reply, every node it is
 * sent to) may take; ISO_CLIENT_FOREVER waits forever. A job sent with a
 * deadline carries it as its timeout_ms (what is left of it each time the
 * job is sent, at least 1 ms; the job's own timeout_ms when that is
 * shorter), so the server stops a job whose client has given up instead
 * of running it to the server's default. Errors, as negative ISO_E* codes:
 *   ISO_ECONNECT   no node took the request by the deadline (it was never
 *                  sent)
 *   ISO_ENODELOST  the request was sent and its node was lost before it
 *                  answered: the job may have run (requests are never
 *                  resent, but for idempotent jobs, so it did not run twice)
 *   ISO_ETIMEDOUT  sent, but no reply by the deadline
 *   ISO_EPROTO     the reply was not a valid protocol reply
 *   ISO_ECLOSED    the client was closed
 *   ISO_EBUSY      all slots are in use (async submits only)
 *   ISO_ETOOBIG    the request is larger than opts.max_msg
 *   ISO_EINVAL     a bad argument or job (see iso_proto_encode_request)
 *
 * DESIGN: NNG's REQ protocol would resend a request that got no reply
 * within NNG_OPT_REQ_RESENDTIME (default 60 s), running a slow job twice;
 * the client disables that (NNG_DURATION_INFINITE), and with resend
 * disabled NNG also fails, rather than replays, a request whose connection
 * drops. The dial is non-blocking and NNG keeps reconnecting in the
 * background, so a client may be opened before its server is up; a request
 * waits in NNG's send queue until a connection exists. A slot's aio
 * callback runs the send -> receive -> decode steps; the user callback runs
 * at the end of it, and the slot goes back to the free list only after the
 * user callback has returned.
 */
#ifndef ISO_CLIENT_H
#define ISO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ISO_CLIENT_FOREVER (-1)
#define ISO_CLIENT_DEFAULT_INFLIGHT 256
#define ISO_CLIENT_MAX_INFLIGHT 65536
#define ISO_CLIENT_MAX_NODES 64
#define ISO_CLIENT_DEFAULT_HEARTBEAT_MS 250
#define ISO_CLIENT_DEFAULT_RESOLVE_MS 5000

typedef struct iso_client iso_client;

/* Options; a zeroed struct (or NULL) means the defaults. */
typedef struct iso_client_opts {
  /* Largest reply accepted and largest request sent (NNG_OPT_RECVMAXSZ);
   * 0 means ISO_PROTO_MAX_MSG_DEFAULT (16 MiB). */
  size_t max_msg;
  /* Requests in flight at once (slots); 0 means
   * ISO_CLIENT_DEFAULT_INFLIGHT, at most ISO_CLIENT_MAX_INFLIGHT. */
  int max_inflight;
  /* NNG_OPT_REQ_RESENDTIME in ms. 0 (the default) disables resending.
   * Only for jobs that are safe to run twice; a resent job runs again. */
  int resend_ms;
  /* tls+tcp:// only. ca_file: PEM file of CAs the server's certificate must
   * chain to (required unless tls_insecure). server_name: the name to
   * verify (default: the URL's host). cert_key_file: PEM with this client's
   * certificate and key, if the server asks for one. tls_insecure: skip
   * verification (testing only). */
  const char* tls_ca_file;
  const char* tls_server_name;
  const char* tls_cert_key_file;
  int tls_insecure;
  /* Or this client's certificate and its key in two PEM files (both or
   * neither; not with tls_cert_key_file). */
  const char* tls_cert_file;
  const char* tls_key_file;
  /* With more than one node: ping each node this often (ms); a node that
   * misses two pings in a row (no answer before the next is due) is out
   * until one is answered. 0 means ISO_CLIENT_DEFAULT_HEARTBEAT_MS; < 0
   * sends none (a node is then out only while it is not connected). */
  int heartbeat_ms;
  /* A tcp:// or tls+tcp:// URL with a host name is one node per address
   * of the name, looked up again this often (ms). 0 means
   * ISO_CLIENT_DEFAULT_RESOLVE_MS; < 0 looks it up once. */
  int resolve_ms;
} iso_client_opts;

/* iso_client_new: creates a client dialing url ("ipc:///run/isopool.ipc",
 * "tcp://host:port", "tls+tcp://host:port"). Returns immediately; the
 * connection is made in the background (see DESIGN). Returns 0 with *out
 * set, ISO_EINVAL (bad url or options, a scheme this NNG lacks, tls+tcp://
 * without tls_ca_file or tls_insecure), ISO_ENOMEM, ISO_EIO (NNG failed).
 * Constructor; *out is owned by the caller, release it with
 * iso_client_free(). Thread: any. */
int iso_client_new(const char* url,
                   const iso_client_opts* opts,
                   iso_client** out);

/* iso_client_new_nodes: iso_client_new over n URLs (1..
 * ISO_CLIENT_MAX_NODES; the same URL twice is one node), one socket per
 * node. iso_client_new(url) is this with n = 1. Returns as
 * iso_client_new. */
int iso_client_new_nodes(const char* const* urls,
                         size_t n,
                         const iso_client_opts* opts,
                         iso_client** out);

/* What the client sees of one node. */
typedef struct iso_client_node {
  char url[256];    /* as dialed: an address where a name was resolved */
  int up;           /* takes requests now */
  int connected;    /* a connection is up now */
  int in_flight;    /* requests out on it now */
  uint64_t sent;    /* requests sent to it (a batch is one) */
  uint64_t lost;    /* requests lost with it (ISO_ENODELOST, or resent) */
  uint64_t retried; /* its busy and shutting_down replies, sent on */
} iso_client_node;

/* iso_client_nodes: copies up to cap nodes' views into out (out may be
 * NULL when cap is 0) and returns how many nodes there are (names that
 * left the DNS answer included while their socket is open). A snapshot:
 * it may change right after. Thread: any. */
int iso_client_nodes(iso_client* c, iso_client_node* out, size_t cap);

/* iso_client_free: completes every request in flight with ISO_ECLOSED
 * (their callbacks run before this returns), closes the socket and frees
 * the client. With NNG 1.5.2 it can hang if a reply is being received as
 * the connection closes (iso_client.c): after ISO_ETIMEDOUT the server's
 * reply may still come, so a process that is about to exit may skip it
 * (poolctl does). Destructor; accepts NULL. Thread: any thread that is not
 * inside a callback of this client and while no other thread is in a
 * call on it. */
void iso_client_free(iso_client* c);

/* iso_client_open, iso_client_close: the names of iso_client_new and
 * iso_client_free in 0.1 (the library allocates a client: _new/_free).
 * Deprecated; kept for code built against the installed headers. */
__attribute__((deprecated("use iso_client_new"))) static inline int
iso_client_open(const char* url,
                const iso_client_opts* opts,
                iso_client** out) {
  return iso_client_new(url, opts, out);
}
__attribute__((deprecated("use iso_client_free"))) static inline void
iso_client_close(iso_client* c) {
  iso_client_free(c);
}

/* iso_client_probe: can a client reach url now, and if not, why? One
 * synchronous dial (opts' TLS options; opts may be NULL for other
 * schemes), within wait_ms, then closed: it fails in milliseconds where
 * the system knows at once (no such socket, connection refused, an
 * untrusted certificate) and says what to check, e.g. "no such socket
 * /run/isopool/admin.sock (is the service running, and does its --listen
 * or --admin name this path?)". Returns 0 (a connection was made),
 * ISO_EINVAL (a URL or TLS options it cannot use; why says), ISO_ECONNECT
 * (why says why) or ISO_ENOMEM. Thread: any; blocks up to wait_ms (and a
 * host name's lookup). */
int iso_client_probe(const char* url,
                     const iso_client_opts* opts,
                     int wait_ms,
                     char* why,
                     size_t len);

/* iso_client_connected: 1 if a connection to a node is up now. A hint:
 * it may change right after. Thread: any. */
int iso_client_connected(iso_client* c);

/* iso_client_call: sends one job and waits for its reply. A job with no id
 * gets the next number of this client. Returns 0 with *out holding the
 * decoded reply (whatever its status: check out->status); else an error
 * (see above) and *out zeroed. Waits for a free slot if all are busy. The
 * caller owns *out: release it with iso_result_close(). Thread: any; many
 * threads may call at once. */
int iso_client_call(iso_client* c,
                    const iso_job* job,
                    int64_t deadline_ms,
                    iso_result* out);

/* iso_client_batch: sends n jobs (1..ISO_PROTO_MAX_BATCH) as one batch
 * message and waits for the reply. Returns 0 with out[0..n) in job order
 * (each with its own status; a server that refuses the whole batch gives
 * the same error in every entry); else an error and out[] zeroed. The
 * caller owns out[]: iso_result_close() each. Thread: any. */
int iso_client_batch(iso_client* c,
                     const iso_job* jobs,
                     size_t n,
                     int64_t deadline_ms,
                     iso_result* out);

/* iso_client_request_raw: sends len bytes as they are (no checks) and
 * appends the reply bytes, whatever they are, to reply. Returns 0 or an
 * error (see above; never ISO_EPROTO). Thread: any. */
int iso_client_request_raw(iso_client* c,
                           const uint8_t* bytes,
                           size_t len,
                           int64_t deadline_ms,
                           iso_buf* reply);

/* Completion of an async submit. status is 0 or an ISO_E* code; result is
 * the decoded reply when status is 0, else NULL. The library frees the
 * result after the callback returns; to keep it, copy the struct and zero
 * the original (`*mine = *result; memset(result, 0, sizeof *result);`).
 * Runs on an NNG thread: do not block, do not call iso_client_free() or
 * the blocking calls from it; iso_client_submit() is fine. */
typedef void (*iso_client_cb)(void* data, int status, iso_result* result);

/* Completion of an async batch: results has n entries (in job order) when
 * status is 0, else NULL. Ownership as iso_client_cb, per entry. */
typedef void (*iso_client_batch_cb)(void* data,
                                    int status,
                                    iso_result* results,
                                    size_t n);

/* iso_client_submit: starts sending job and returns. Returns 0 if the
 * request is on its way: then cb runs exactly once, later, on an NNG
 * thread (possibly before this returns). Returns ISO_EBUSY when all
 * max_inflight slots are busy, ISO_ECLOSED, ISO_EINVAL, ISO_ETOOBIG,
 * ISO_ENOMEM: then cb never runs. The job is encoded before this returns,
 * so its memory may be reused at once. Thread: any, callbacks included. */
int iso_client_submit(iso_client* c,
                      const iso_job* job,
                      int64_t deadline_ms,
                      iso_client_cb cb,
                      void* data);

/* iso_client_submit_batch: iso_client_submit for n jobs in one batch
 * message; cb gets the n results. Thread: any, callbacks included. */
int iso_client_submit_batch(iso_client* c,
                            const iso_job* jobs,
                            size_t n,
                            int64_t deadline_ms,
                            iso_client_batch_cb cb,
                            void* data);

#ifdef __cplusplus
}
#endif

#endif /* ISO_CLIENT_H */
