/* iso_server.c: REP0 contexts feeding the dispatcher (see iso_server.h). */
#include "iso_server.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
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

struct iso_server {
  nng_socket sock;
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
  for (size_t i = 0; i < o->nurls; i++) {
    nng_listener l;
    rv = nng_listener_create(&l, srv->sock, o->urls[i]);
    if (rv != 0) {
      snprintf(err, errlen, "cannot listen on %s: %s", o->urls[i],
               nng_strerror(rv));
      nng_close(srv->sock);
      free(srv);
      return ISO_EINVAL;
    }
    nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, max * 2);
    if (strncmp(o->urls[i], "tls+", 4) == 0 &&
        set_tls(l, o, err, errlen) != 0) {
      nng_close(srv->sock);
      free(srv);
      return ISO_EINVAL;
    }
    rv = nng_listener_start(l, 0);
    if (rv != 0) {
      snprintf(err, errlen, "cannot listen on %s: %s", o->urls[i],
               nng_strerror(rv));
      nng_close(srv->sock);
      free(srv);
      return ISO_EIO;
    }
  }
  srv->nreqs = o->contexts > 0 ? o->contexts : 1024;
  srv->reqs = calloc((size_t)srv->nreqs, sizeof(*srv->reqs));
  if (srv->reqs == NULL) {
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
  /* No NNG call starts from here on. Stopping each aio cancels what it
   * waits for and waits for its callback; then the contexts close, and
   * the socket last, with nothing of ours left inside it. */
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
  free(srv->reqs);
  free(srv);
}
