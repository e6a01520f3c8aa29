/* iso_bus.c: batches of pointers over NNG inproc PAIR1 (see iso_bus.h). */
#include "iso_bus.h"

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"

struct iso_bus_end {
  nng_socket sock;
  nng_aio* send_aio;
  nng_aio* recv_aio;
  pthread_mutex_t lock;
  void** outbox;
  size_t nout, capout;
  int sending;
  int closed;
  iso_bus_cb cb;
  void* arg;
  iso_bus_end* peer;
};

/* Sends the outbox as one message. Called with end->lock held. */
static void flush_locked(iso_bus_end* end) {
  if (end->sending || end->nout == 0 || end->closed) {
    return;
  }
  nng_msg* msg;
  if (nng_msg_alloc(&msg, end->nout * sizeof(void*)) != 0) {
    return; /* retried on the next send */
  }
  memcpy(nng_msg_body(msg), end->outbox, end->nout * sizeof(void*));
  end->nout = 0;
  /* the common case: straight into the peer's queue on this thread */
  if (nng_sendmsg(end->sock, msg, NNG_FLAG_NONBLOCK) == 0) {
    return;
  }
  end->sending = 1;
  nng_aio_set_msg(end->send_aio, msg);
  nng_send_aio(end->sock, end->send_aio);
}

static void send_cb(void* arg) {
  iso_bus_end* end = arg;
  if (nng_aio_result(end->send_aio) != 0) {
    nng_msg_free(nng_aio_get_msg(end->send_aio));
  }
  pthread_mutex_lock(&end->lock);
  end->sending = 0;
  flush_locked(end);
  pthread_mutex_unlock(&end->lock);
}

static void recv_cb(void* arg) {
  iso_bus_end* end = arg;
  if (nng_aio_result(end->recv_aio) != 0) {
    return; /* closed */
  }
  nng_msg* msg = nng_aio_get_msg(end->recv_aio);
  size_t n = nng_msg_len(msg) / sizeof(void*);
  end->cb((void* const*)nng_msg_body(msg), n, end->arg);
  nng_msg_free(msg);
  nng_recv_aio(end->sock, end->recv_aio);
}

static int end_open(iso_bus_end** out, iso_bus_cb cb, void* arg) {
  iso_bus_end* end = calloc(1, sizeof(*end));
  if (end == NULL) {
    return ISO_ENOMEM;
  }
  end->cb = cb;
  end->arg = arg;
  pthread_mutex_init(&end->lock, NULL);
  if (nng_pair1_open(&end->sock) != 0 ||
      nng_aio_alloc(&end->send_aio, send_cb, end) != 0 ||
      nng_aio_alloc(&end->recv_aio, recv_cb, end) != 0) {
    nng_aio_free(end->send_aio);
    nng_close(end->sock);
    free(end);
    return ISO_EIO;
  }
  /* a full buffer would only delay, never drop: sends wait */
  nng_socket_set_int(end->sock, NNG_OPT_SENDBUF, 64);
  nng_socket_set_int(end->sock, NNG_OPT_RECVBUF, 64);
  *out = end;
  return 0;
}

static void end_free(iso_bus_end* end) {
  nng_aio_stop(end->recv_aio);
  nng_aio_stop(end->send_aio);
  nng_close(end->sock);
  nng_aio_free(end->recv_aio);
  nng_aio_free(end->send_aio);
  pthread_mutex_destroy(&end->lock);
  free(end->outbox);
  free(end);
}

int iso_bus_new(const char* name,
                iso_bus_cb cb_a,
                void* arg_a,
                iso_bus_cb cb_b,
                void* arg_b,
                iso_bus_end** a,
                iso_bus_end** b) {
  char url[256];
  snprintf(url, sizeof(url), "inproc://isopool-bus-%s", name);
  iso_bus_end *x = NULL, *y = NULL;
  int rc = end_open(&x, cb_a, arg_a);
  if (rc == 0) {
    rc = end_open(&y, cb_b, arg_b);
  }
  if (rc == 0 && (nng_listen(x->sock, url, NULL, 0) != 0 ||
                  nng_dial(y->sock, url, NULL, 0) != 0)) {
    rc = ISO_EIO;
  }
  if (rc != 0) {
    if (x != NULL) {
      end_free(x);
    }
    if (y != NULL) {
      end_free(y);
    }
    return rc;
  }
  x->peer = y;
  y->peer = x;
  if (x->cb != NULL) {
    nng_recv_aio(x->sock, x->recv_aio);
  }
  if (y->cb != NULL) {
    nng_recv_aio(y->sock, y->recv_aio);
  }
  *a = x;
  *b = y;
  return 0;
}

int iso_bus_fd(iso_bus_end* end) {
  int fd;
  if (end->cb != NULL ||
      nng_socket_get_int(end->sock, NNG_OPT_RECVFD, &fd) != 0) {
    return ISO_EINVAL;
  }
  return fd;
}

int iso_bus_drain(iso_bus_end* end, iso_bus_cb cb, void* arg) {
  int batches = 0;
  nng_msg* msg;
  while (nng_recvmsg(end->sock, &msg, NNG_FLAG_NONBLOCK) == 0) {
    cb((void* const*)nng_msg_body(msg), nng_msg_len(msg) / sizeof(void*), arg);
    nng_msg_free(msg);
    batches++;
  }
  return batches;
}

int iso_bus_send(iso_bus_end* end, void* const* items, size_t n) {
  pthread_mutex_lock(&end->lock);
  if (end->closed) {
    pthread_mutex_unlock(&end->lock);
    return ISO_ECLOSED;
  }
  if (end->nout + n > end->capout) {
    size_t cap = end->capout ? end->capout : 64;
    while (cap < end->nout + n) {
      cap *= 2;
    }
    void** grown = realloc(end->outbox, cap * sizeof(void*));
    if (grown == NULL) {
      pthread_mutex_unlock(&end->lock);
      return ISO_ENOMEM;
    }
    end->outbox = grown;
    end->capout = cap;
  }
  memcpy(end->outbox + end->nout, items, n * sizeof(void*));
  end->nout += n;
  flush_locked(end);
  pthread_mutex_unlock(&end->lock);
  return 0;
}

void iso_bus_free(iso_bus_end* end) {
  if (end == NULL) {
    return;
  }
  iso_bus_end* peer = end->peer;
  iso_bus_end* ends[2] = {end, peer};
  for (int i = 0; i < 2; i++) {
    if (ends[i] != NULL) {
      pthread_mutex_lock(&ends[i]->lock);
      ends[i]->closed = 1;
      pthread_mutex_unlock(&ends[i]->lock);
    }
  }
  for (int i = 0; i < 2; i++) {
    if (ends[i] != NULL) {
      end_free(ends[i]);
    }
  }
}
