/* iso_queue.c: a PUSH/PULL work queue of pointers (see iso_queue.h). */
#include "iso_queue.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"

#define QUEUE_BUF 1024

struct iso_queue {
  nng_socket push;
  nng_socket pull;
  atomic_int closed;
  atomic_int sends_waiting; /* aio sends not yet completed */
  void (*drain_cb)(void* item, void* arg);
  void* drain_arg;
};

/* A send that had to wait for room. */
typedef struct slow_send {
  nng_aio* aio;
  iso_queue* q;
} slow_send;

static void slow_send_cb(void* arg) {
  slow_send* s = arg;
  if (nng_aio_result(s->aio) != 0) { /* closed: the item is drained */
    nng_msg* msg = nng_aio_get_msg(s->aio);
    void* item;
    memcpy(&item, nng_msg_body(msg), sizeof(item));
    if (s->q->drain_cb != NULL) {
      s->q->drain_cb(item, s->q->drain_arg);
    }
    nng_msg_free(msg);
  }
  atomic_fetch_sub(&s->q->sends_waiting, 1);
  nng_aio_free(s->aio);
  free(s);
}

int iso_queue_new(const char* name, iso_queue** out) {
  iso_queue* q = calloc(1, sizeof(*q));
  if (q == NULL) {
    return ISO_ENOMEM;
  }
  char url[256];
  snprintf(url, sizeof(url), "inproc://isopool-queue-%s", name);
  if (nng_push0_open(&q->push) != 0) {
    free(q);
    return ISO_EIO;
  }
  if (nng_pull0_open(&q->pull) != 0) {
    nng_close(q->push);
    free(q);
    return ISO_EIO;
  }
  nng_socket_set_int(q->push, NNG_OPT_SENDBUF, QUEUE_BUF);
  nng_socket_set_int(q->pull, NNG_OPT_RECVBUF, QUEUE_BUF);
  if (nng_listen(q->pull, url, NULL, 0) != 0 ||
      nng_dial(q->push, url, NULL, 0) != 0) {
    nng_close(q->push);
    nng_close(q->pull);
    free(q);
    return ISO_EIO;
  }
  *out = q;
  return 0;
}

int iso_queue_send(iso_queue* q, void* item) {
  if (atomic_load(&q->closed)) {
    return ISO_ECLOSED;
  }
  nng_msg* msg;
  if (nng_msg_alloc(&msg, sizeof(item)) != 0) {
    return ISO_ENOMEM;
  }
  memcpy(nng_msg_body(msg), &item, sizeof(item));
  if (nng_sendmsg(q->push, msg, NNG_FLAG_NONBLOCK) == 0) {
    return 0;
  }
  slow_send* s = calloc(1, sizeof(*s));
  if (s == NULL || nng_aio_alloc(&s->aio, slow_send_cb, s) != 0) {
    free(s);
    nng_msg_free(msg);
    return ISO_ENOMEM;
  }
  s->q = q;
  atomic_fetch_add(&q->sends_waiting, 1);
  nng_aio_set_msg(s->aio, msg);
  nng_send_aio(q->push, s->aio);
  return 0;
}

int iso_queue_recv(iso_queue* q, void** item) {
  nng_msg* msg;
  if (nng_recvmsg(q->pull, &msg, 0) != 0) {
    return ISO_ECLOSED;
  }
  if (nng_msg_len(msg) != sizeof(*item)) {
    nng_msg_free(msg);
    return ISO_EPROTO;
  }
  memcpy(item, nng_msg_body(msg), sizeof(*item));
  nng_msg_free(msg);
  return 0;
}

void iso_queue_shutdown(iso_queue* q,
                        void (*drain_cb)(void* item, void* arg),
                        void* arg) {
  q->drain_cb = drain_cb;
  q->drain_arg = arg;
  atomic_store(&q->closed, 1);
  /* what is still buffered goes to drain_cb before the receivers stop */
  nng_msg* msg;
  while (nng_recvmsg(q->pull, &msg, NNG_FLAG_NONBLOCK) == 0) {
    void* item;
    if (nng_msg_len(msg) == sizeof(item) && drain_cb != NULL) {
      memcpy(&item, nng_msg_body(msg), sizeof(item));
      drain_cb(item, arg);
    }
    nng_msg_free(msg);
  }
  nng_close(q->push); /* fails the waiting sends: drain_cb gets them */
  nng_close(q->pull); /* wakes the receivers */
}

void iso_queue_free(iso_queue* q) {
  if (q == NULL) {
    return;
  }
  if (!atomic_load(&q->closed)) {
    iso_queue_shutdown(q, NULL, NULL);
  }
  while (atomic_load(&q->sends_waiting) > 0) {
    nanosleep(&(struct timespec){0, 1000000}, NULL); /* their callbacks */
  }
  free(q);
}
