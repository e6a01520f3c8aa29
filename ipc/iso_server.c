/* iso_server.c: REP0 contexts feeding the dispatcher (see iso_server.h). */
#include "iso_server.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"

struct iso_server_req {
  iso_server* srv;
  nng_ctx ctx;
  nng_aio* aio;
  nng_msg* msg;  /* the request, held until the reply */
  uint32_t peer; /* its pipe */
  int sending;
};

/* A listener and what restarting it needs (watch_once). */
typedef struct iso_listener {
  nng_listener l;
  char* url;
  int up;         /* listening (a restart can fail: tried again) */
  uint64_t other; /* its "other" errors counted so far */
  /* watch_once's probe of a listener whose "other" count grew: a REQ0
   * socket dialed to it, and its "accept" count when the probe began */
  int probing;
  nng_socket probe;
  uint64_t probe_accepts;
  nng_time probe_until;
} iso_listener;

struct iso_server {
  nng_socket sock;
  iso_listener* listeners;
  size_t nlisteners;
  size_t max;     /* NNG_OPT_RECVMAXSZ of each listener */
  char* tls_cert; /* for a tls+tcp:// listener's restart */
  char* tls_key;
  /* the watcher thread (watch_main) and what wakes it to end */
  pthread_t watcher;
  int watching; /* it was started */
  pthread_mutex_t watch_mu;
  pthread_cond_t watch_cv;
  iso_server_req* reqs;
  int nreqs;
  iso_server_cb cb;
  iso_server_closed_cb closed_cb;
  void* arg;
  atomic_int busy;    /* requests received and not yet sent back */
  atomic_int closing; /* iso_server_free: no new NNG call, no pipe event */
  atomic_int in_nng;  /* threads inside nng_ctx_recv/_send (io_enter) */
};

/* NNG 1.5.2 lets a thread still inside nng_ctx_recv or nng_ctx_send (a
 * context callback reposting its receive, a dispatcher thread sending a
 * reply) drop the last reference to the context after nng_close has
 * destroyed the socket's mutex: the process aborts ("pthread_mutex_lock:
 * Invalid argument"), as the client library did at exit. So those calls
 * are made only between io_enter and io_leave, and iso_server_free sets
 * `closing` and waits for the count to drain before it stops anything.
 * Counting is a pair of atomics (both sequentially consistent: either the
 * caller sees `closing` or the closer sees the count), no lock on the job
 * path. */
static int io_enter(iso_server* srv) {
  atomic_fetch_add(&srv->in_nng, 1);
  if (atomic_load(&srv->closing)) {
    atomic_fetch_sub(&srv->in_nng, 1);
    return 0;
  }
  return 1;
}

static void io_leave(iso_server* srv) {
  atomic_fetch_sub(&srv->in_nng, 1);
}

static void recv_next(iso_server_req* r) {
  if (io_enter(r->srv)) {
    nng_ctx_recv(r->ctx, r->aio);
    io_leave(r->srv);
  }
}

/* How long iso_server_drain leaves the connections to write the last
 * replies: a context's send completes once its connection took the
 * message, and closing the socket then would cut the write. */
#define DRAIN_LINGER_MS 20

static void ctx_cb(void* arg) {
  iso_server_req* r = arg;
  int rv = nng_aio_result(r->aio);
  if (r->sending) {
    r->sending = 0;
    atomic_fetch_sub(&r->srv->busy, 1);
    if (rv != 0) {
      /* the client went away: drop the reply */
      nng_msg_free(nng_aio_get_msg(r->aio));
    }
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
      return;
    }
    recv_next(r);
    return;
  }
  if (rv != 0) {
    if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
      recv_next(r); /* e.g. a connection reset */
    }
    return;
  }
  if (atomic_load(&r->srv->closing)) {
    /* arrived while iso_server_free runs: dropped unread, as a request
     * reaching a closed socket would be (its connection closes next) */
    nng_msg_free(nng_aio_get_msg(r->aio));
    return;
  }
  r->msg = nng_aio_get_msg(r->aio);
  r->peer = nng_pipe_id(nng_msg_get_pipe(r->msg));
  atomic_fetch_add(&r->srv->busy, 1);
  r->srv->cb(r, nng_msg_body(r->msg), nng_msg_len(r->msg), r->srv->arg);
}

uint32_t iso_server_req_peer(const iso_server_req* r) {
  return r->peer;
}

int iso_server_req_room(const iso_server_req* r) {
  return r->srv->nreqs - atomic_load(&r->srv->busy);
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void* arg) {
  iso_server* srv = arg;
  if (ev == NNG_PIPE_EV_REM_POST && !atomic_load(&srv->closing)) {
    srv->closed_cb((uint32_t)nng_pipe_id(p), srv->arg);
  }
}

void iso_server_reply(iso_server_req* r, const uint8_t* data, size_t len) {
  nng_msg* msg = r->msg;
  r->msg = NULL;
  /* reuse the request's message: NNG keeps the routing header in it */
  if (nng_msg_realloc(msg, len) != 0) {
    nng_msg_clear(msg);
  } else {
    memcpy(nng_msg_body(msg), data, len);
  }
  iso_server* srv = r->srv;
  if (!io_enter(srv)) { /* closing: the reply has nowhere to go */
    nng_msg_free(msg);
    atomic_fetch_sub(&srv->busy, 1);
    return;
  }
  r->sending = 1;
  nng_aio_set_msg(r->aio, msg);
  nng_ctx_send(r->ctx, r->aio);
  io_leave(srv);
}

/* Reads a whole (small) PEM file; NULL if it cannot. */
static char* read_pem(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  char* buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
  }
  return buf;
}

static int set_tls(nng_listener l,
                   const iso_server_opts* o,
                   char* err,
                   size_t errlen) {
  if (o->tls_cert == NULL || o->tls_key == NULL) {
    snprintf(err, errlen,
             "tls+tcp:// needs a certificate and key (--tls-cert, --tls-key)");
    return ISO_EINVAL;
  }
  char* cert = read_pem(o->tls_cert);
  char* key = read_pem(o->tls_key);
  if (cert == NULL || key == NULL) {
    snprintf(err, errlen, "cannot read %s",
             cert == NULL ? o->tls_cert : o->tls_key);
    free(cert);
    free(key);
    return ISO_EINVAL;
  }
  nng_tls_config* cfg = NULL;
  int rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER);
  if (rv == 0) {
    rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
  }
  free(cert);
  free(key);
  if (rv == 0) {
    rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
  }
  if (cfg != NULL && rv != NNG_ENOMEM) {
    nng_tls_config_free(cfg); /* the listener holds its own reference */
  }
  if (rv != 0) {
    snprintf(err, errlen, "TLS set-up failed: %s", nng_strerror(rv));
    return ISO_EINVAL;
  }
  return 0;
}

/* Frees what srv keeps of its listeners (not the NNG listeners: the
 * socket's close ends them). */
static void server_free_listeners(iso_server* srv) {
  for (size_t i = 0; srv->listeners != NULL && i < srv->nlisteners; i++) {
    free(srv->listeners[i].url);
  }
  free(srv->listeners);
  free(srv->tls_cert);
  free(srv->tls_key);
}

/* Listens on L->url: L->l, up. Returns 0, or an error with err. */
static int listen_one(iso_server* srv,
                      iso_listener* L,
                      char* err,
                      size_t errlen) {
  int rv = nng_listener_create(&L->l, srv->sock, L->url);
  if (rv != 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", L->url, nng_strerror(rv));
    return ISO_EINVAL;
  }
  nng_listener_set_size(L->l, NNG_OPT_RECVMAXSZ, srv->max);
  iso_server_opts tls = {.tls_cert = srv->tls_cert, .tls_key = srv->tls_key};
  if (strncmp(L->url, "tls+", 4) == 0 &&
      set_tls(L->l, &tls, err, errlen) != 0) {
    nng_listener_close(L->l);
    return ISO_EINVAL;
  }
  rv = nng_listener_start(L->l, 0);
  if (rv != 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", L->url, nng_strerror(rv));
    nng_listener_close(L->l);
    return ISO_EIO;
  }
  L->up = 1;
  L->other = 0;
  return 0;
}

/* NNG 1.5.2 ends a listener's accepting for good when a client's
 * connection closes before the SP handshake is done: the transport (ipc,
 * tcp) hands the handshake's NNG_ECLOSED to the listener's pending
 * accept, which takes it for its own close and accepts no more (NNG
 * upstream maps it to NNG_ECONNSHUT since). One client that connects and
 * goes at once (a timeout while the service is slow, a probe of the
 * port) would leave the service deaf on that URL for the rest of its
 * life: connections are still taken, handshaken and parked, never
 * served. NNG counts that error in the listener's "other" statistic, as
 * it counts errors it accepts again after (a peer that shut its side
 * down: NNG_ECONNSHUT). So every WATCH_MS the server reads the counts; a
 * listener whose count grew is probed: a REQ0 socket of the server's
 * dials it, and a listener that takes the probe's connection (its
 * "accept" count grows) within PROBE_MS is well; one that does not is
 * closed and listens again on its URL. Its connections close with it,
 * the live ones too (NNG closes a listener's pipes): their clients dial
 * again, and a request one had out fails (ISO_ECONNECT at the client):
 * the price of a listener that takes new clients again. tls+tcp:// listeners
 * are not probed (the probe has no TLS configuration). Thread: the
 * server's watcher, a thread of its own, never one of NNG's: closing a
 * probe or a listener from an NNG callback can wait for NNG's threads
 * for ever (seen: a probe's nng_close in a timer callback held SIGTERM's
 * shutdown, which waited for that callback). iso_server_free ends it
 * before anything else of NNG's is closed. */
#define WATCH_MS 100
#define PROBE_MS 1000

/* The statistics of listener l in snap (NNG 1.5.2's
 * nng_stat_find_listener returns the first listener of the process,
 * whichever it is). */
static nng_stat* find_listener(nng_stat* snap, nng_listener l) {
  for (nng_stat* st = nng_stat_child(snap); st != NULL;
       st = nng_stat_next(st)) {
    nng_stat* id = nng_stat_find(st, "id");
    if (strcmp(nng_stat_name(st), "listener") == 0 && id != NULL &&
        nng_stat_value(id) == (uint64_t)nng_listener_id(l)) {
      return st;
    }
  }
  return NULL;
}

/* The counter `name` of listener l in snap; 0 when there is none. */
static uint64_t listener_count(nng_stat* snap,
                               nng_listener l,
                               const char* name) {
  nng_stat* st = find_listener(snap, l);
  nng_stat* c = st != NULL ? nng_stat_find(st, name) : NULL;
  return c != NULL ? nng_stat_value(c) : 0;
}

static void probe_end(iso_listener* L) {
  if (L->probing) {
    nng_close(L->probe);
    L->probing = 0;
  }
}

static void watch_once(iso_server* srv) {
  nng_stat* snap = NULL;
  if (nng_stats_get(&snap) == 0) {
    for (size_t i = 0; i < srv->nlisteners; i++) {
      iso_listener* L = &srv->listeners[i];
      if (!L->up || strncmp(L->url, "tls+", 4) == 0) {
        continue;
      }
      uint64_t other = listener_count(snap, L->l, "other");
      uint64_t accepts = listener_count(snap, L->l, "accept");
      if (L->probing && accepts > L->probe_accepts) {
        probe_end(L); /* it accepts: well */
      } else if (L->probing && nng_clock() >= L->probe_until) {
        probe_end(L); /* deaf: listens again below */
        nng_listener_close(L->l);
        L->up = 0;
      } else if (!L->probing && other > L->other &&
                 nng_req0_open(&L->probe) == 0) {
        L->other = other;
        L->probing = 1;
        L->probe_accepts = accepts;
        L->probe_until = nng_clock() + PROBE_MS;
        nng_dial(L->probe, L->url, NULL, NNG_FLAG_NONBLOCK);
      }
    }
    nng_stats_free(snap);
  }
  for (size_t i = 0; i < srv->nlisteners; i++) {
    char err[256];
    iso_listener* L = &srv->listeners[i];
    if (!L->up) {
      listen_one(srv, L, err, sizeof err); /* else again next time */
    }
  }
}

/* The watcher: watch_once every WATCH_MS until iso_server_free says to
 * end (closing, under watch_mu). */
static void* watch_main(void* arg) {
  iso_server* srv = arg;
  pthread_mutex_lock(&srv->watch_mu);
  while (!atomic_load(&srv->closing)) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)WATCH_MS * 1000000;
    until.tv_sec += until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    pthread_cond_timedwait(&srv->watch_cv, &srv->watch_mu, &until);
    if (atomic_load(&srv->closing)) {
      break;
    }
    pthread_mutex_unlock(&srv->watch_mu);
    watch_once(srv);
    pthread_mutex_lock(&srv->watch_mu);
  }
  pthread_mutex_unlock(&srv->watch_mu);
  return NULL;
}

int iso_server_new(const iso_server_opts* o,
                   iso_server** out,
                   char* err,
                   size_t errlen) {
  if (o == NULL || o->nurls == 0 || o->cb == NULL) {
    snprintf(err, errlen, "no URL to listen on");
    return ISO_EINVAL;
  }
  iso_server* srv = calloc(1, sizeof(*srv));
  if (srv == NULL) {
    return ISO_ENOMEM;
  }
  srv->cb = o->cb;
  srv->closed_cb = o->closed_cb;
  srv->arg = o->arg;
  size_t max = o->max_message ? o->max_message : ((size_t)16 << 20);
  int rv = nng_rep0_open(&srv->sock);
  if (rv != 0) {
    snprintf(err, errlen, "cannot open a REP socket: %s", nng_strerror(rv));
    free(srv);
    return ISO_EIO;
  }
  /* before any listener starts, so no connection is missed */
  if (srv->closed_cb != NULL &&
      (rv = nng_pipe_notify(srv->sock, NNG_PIPE_EV_REM_POST, pipe_cb, srv)) !=
          0) {
    snprintf(err, errlen, "cannot watch connections: %s", nng_strerror(rv));
    nng_close(srv->sock);
    free(srv);
    return ISO_EIO;
  }
  srv->max = max * 2;
  srv->listeners = calloc(o->nurls, sizeof(*srv->listeners));
  srv->tls_cert = o->tls_cert != NULL ? strdup(o->tls_cert) : NULL;
  srv->tls_key = o->tls_key != NULL ? strdup(o->tls_key) : NULL;
  if (srv->listeners == NULL || (o->tls_cert != NULL && !srv->tls_cert) ||
      (o->tls_key != NULL && !srv->tls_key)) {
    snprintf(err, errlen, "out of memory");
    server_free_listeners(srv);
    nng_close(srv->sock);
    free(srv);
    return ISO_ENOMEM;
  }
  for (size_t i = 0; i < o->nurls; i++) {
    iso_listener* L = &srv->listeners[srv->nlisteners];
    L->url = strdup(o->urls[i]);
    rv = L->url != NULL ? listen_one(srv, L, err, errlen) : ISO_ENOMEM;
    if (rv != 0) {
      free(L->url);
      server_free_listeners(srv);
      nng_close(srv->sock);
      free(srv);
      return rv;
    }
    srv->nlisteners++;
  }
  srv->nreqs = o->contexts > 0 ? o->contexts : 1024;
  srv->reqs = calloc((size_t)srv->nreqs, sizeof(*srv->reqs));
  pthread_mutex_init(&srv->watch_mu, NULL);
  pthread_cond_init(&srv->watch_cv, NULL);
  if (srv->reqs == NULL) {
    free(srv->reqs);
    server_free_listeners(srv);
    nng_close(srv->sock);
    free(srv);
    return ISO_ENOMEM;
  }
  for (int i = 0; i < srv->nreqs; i++) {
    iso_server_req* r = &srv->reqs[i];
    r->srv = srv;
    if (nng_ctx_open(&r->ctx, srv->sock) != 0 ||
        nng_aio_alloc(&r->aio, ctx_cb, r) != 0) {
      srv->nreqs = i;
      iso_server_free(srv);
      snprintf(err, errlen, "cannot open REP contexts");
      return ISO_EIO;
    }
  }
  for (int i = 0; i < srv->nreqs; i++) {
    nng_ctx_recv(srv->reqs[i].ctx, srv->reqs[i].aio);
  }
  if (pthread_create(&srv->watcher, NULL, watch_main, srv) != 0) {
    iso_server_free(srv);
    snprintf(err, errlen, "cannot start the server's watcher thread");
    return ISO_ENOMEM;
  }
  srv->watching = 1;
  *out = srv;
  return 0;
}

void iso_server_drain(iso_server* srv, int timeout_ms) {
  if (srv == NULL) {
    return;
  }
  nng_time end = nng_clock() + (nng_time)timeout_ms;
  while (atomic_load(&srv->busy) > 0 && nng_clock() < end) {
    nng_msleep(1);
  }
  nng_msleep(DRAIN_LINGER_MS);
}

void iso_server_free(iso_server* srv) {
  if (srv == NULL) {
    return;
  }
  atomic_store(&srv->closing, 1);
  while (atomic_load(&srv->in_nng) > 0) {
    nng_msleep(1);
  }
  /* No NNG call starts from here on. The watcher ends first (it restarts
   * no listener from here on); stopping each aio cancels what it waits
   * for and waits for its callback; then the contexts close, and the
   * socket last, with nothing of ours left inside it. */
  if (srv->watching) {
    pthread_mutex_lock(&srv->watch_mu);
    pthread_cond_signal(&srv->watch_cv);
    pthread_mutex_unlock(&srv->watch_mu);
    pthread_join(srv->watcher, NULL);
  }
  for (size_t i = 0; i < srv->nlisteners; i++) {
    probe_end(&srv->listeners[i]);
  }
  for (int i = 0; i < srv->nreqs; i++) {
    nng_aio_cancel(srv->reqs[i].aio); /* all at once: no wait */
  }
  for (int i = 0; i < srv->nreqs; i++) {
    nng_aio_stop(srv->reqs[i].aio);
  }
  for (int i = 0; i < srv->nreqs; i++) {
    nng_ctx_close(srv->reqs[i].ctx);
    nng_aio_free(srv->reqs[i].aio);
    if (srv->reqs[i].msg != NULL) {
      nng_msg_free(srv->reqs[i].msg);
    }
  }
  nng_close(srv->sock);
  server_free_listeners(srv);
  free(srv->reqs);
  pthread_mutex_destroy(&srv->watch_mu);
  pthread_cond_destroy(&srv->watch_cv);
  free(srv);
}
