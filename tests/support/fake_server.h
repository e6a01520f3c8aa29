/* fake_server.h: a small NNG REP0 job server for the client library's
 * suites (test_client, test_client_nodes).
 *
 * server_start listens on its own ipc:///tmp/isopool-test-client-<pid>-<n>.ipc
 * and answers on one thread, one request at a time, by its mode. The
 * server decodes requests with iso_proto_decode() and, in echo mode,
 * answers each with status "fulfilled" and the request's args as the
 * value. It counts the jobs it receives (`requests`), which is how the
 * cases see resends, and apart from them the client's heartbeats
 * (`pings`, answered {ready: true} but where the mode says otherwise).
 * The mode may be changed while it runs (atomic).
 */
#ifndef FAKE_SERVER_H
#define FAKE_SERVER_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

typedef enum srv_mode {
  SRV_ECHO,     /* fulfilled, value = args */
  SRV_SILENT,   /* never answers, pings neither */
  SRV_SLOW,     /* echo after delay_ms */
  SRV_DROP,     /* first request: close the connection, then echo */
  SRV_GARBAGE,  /* answers 0xc1 */
  SRV_WRONG_ID, /* answers with id "x" whatever was asked */
  SRV_TIMEOUTS, /* fulfilled, value = the request's timeout_ms (nil: none) */
  SRV_BUSY,     /* error busy (after delay_ms) */
  SRV_DRAINING  /* error shutting_down, to pings too */
} srv_mode;

typedef struct server {
  char url[128];
  nng_socket sock;
  pthread_t thread;
  atomic_int mode; /* srv_mode */
  int delay_ms;
  atomic_int requests; /* jobs received */
  atomic_int pings;    /* pings received */
  atomic_int replies;  /* handed to NNG */
  atomic_int stop;
} server;

/* make_url: a new ipc:// URL for a server. Thread: any. */
void make_url(char* buf, size_t n);

/* server_start: a server in mode on a new URL (s->url), serving. Marks
 * the case failed if it cannot listen (it then serves nothing). Free with
 * server_stop. */
server* server_start(srv_mode mode, int delay_ms);

/* server_start_at: the same on url (ipc:// or tcp://), for a case that
 * starts its server later than its client, or needs a tcp:// one. */
server* server_start_at(const char* url, srv_mode mode, int delay_ms);

/* server_stop: stops serving, closes and frees s, removes its socket file. */
void server_stop(server* s);

#endif
