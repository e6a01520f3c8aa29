/* tracker.h: the async reply tracker the service suites (test_service.c,
 * test_service_ops.c, test_service_admin.c) share, on top of daemon.h
 * (wait_count) and json_check.h (json_of).
 *
 * A tracker holds n records, one per request id 0..n-1. tracker_submit()
 * sends a job through iso_client_submit() with its id set to i (msgpack
 * uint32, so every id has the same 5-byte form); tracker_cb(), on an NNG
 * thread, decodes the id of the reply and fills record i with the first
 * reply's rc, status, code, value (JSON), name, message, worker and time.
 * A reply for an id never sent, or whose id is not the one sent, counts as
 * stray; tracker_check_once() then checks that every id sent got exactly
 * one reply and nothing else came.
 *
 *   tracker t;
 *   tracker_init(&t, N);
 *   for (int i = 0; i < N; i++) tracker_submit_ok(&t, c, i, job, 10000);
 *   CHECK(tracker_wait(&t, N, 10000));
 *   ... t.r[i].status, t.r[i].value ...
 *   tracker_check_once(&t);
 *   tracker_free(&t);
 */
#ifndef ISO_TRACKER_H
#define ISO_TRACKER_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_check.h"
#include "tap.h"

/* id_encode: request ids as msgpack uint32 (the 5-byte form). */
static inline void id_encode(uint32_t v, uint8_t out[5]) {
  out[0] = 0xce;
  out[1] = (uint8_t)(v >> 24);
  out[2] = (uint8_t)(v >> 16);
  out[3] = (uint8_t)(v >> 8);
  out[4] = (uint8_t)v;
}

/* id_decode: the id of a reply, or -1 if it is not a non-negative
 * integer. */
static inline int64_t id_decode(const uint8_t* p, size_t n) {
  if (p == NULL || n == 0) {
    return -1;
  }
  if (n == 1 && p[0] <= 0x7f) {
    return p[0];
  }
  size_t w = p[0] == 0xcc   ? 1
             : p[0] == 0xcd ? 2
             : p[0] == 0xce ? 4
             : p[0] == 0xcf ? 8
                            : 0;
  if (w == 0 || n != w + 1) {
    return -1;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < w; i++) {
    v = (v << 8) | p[1 + i];
  }
  return v > INT64_MAX ? -1 : (int64_t)v;
}

/* rec: what came back for one id (the first reply; later ones are only
 * counted). */
typedef struct rec {
  int sent;  /* submitted (the callback is owed) */
  int calls; /* callbacks that came for this id */
  int rc;    /* the client's status */
  iso_status status;
  iso_proto_code code;
  char* value; /* JSON, when fulfilled */
  char* name;
  char* message;
  int64_t worker; /* -2 until a reply came */
  int64_t sent_ms, done_ms;
} rec;

typedef struct tracker {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int n;
  int done;  /* callbacks, all ids */
  int stray; /* callbacks for an id not sent, or whose reply had another */
  rec* r;
  struct tracker_tag {
    struct tracker* t;
    int i;
  } * tags;
} tracker;

static inline void tracker_init(tracker* t, int n) {
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  t->n = n;
  t->r = calloc((size_t)n, sizeof *t->r);
  t->tags = calloc((size_t)n, sizeof *t->tags);
  for (int i = 0; i < n; i++) {
    t->tags[i].t = t;
    t->tags[i].i = i;
    t->r[i].worker = -2;
  }
}

static inline void tracker_free(tracker* t) {
  for (int i = 0; i < t->n; i++) {
    free(t->r[i].value);
    free(t->r[i].name);
    free(t->r[i].message);
  }
  free(t->r);
  free(t->tags);
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
}

/* tracker_cb: runs on an NNG thread: copy, count, signal; never block. */
static inline void tracker_cb(void* data, int status, iso_result* res) {
  struct tracker_tag* g = data;
  tracker* t = g->t;
  int64_t at = now_ms();
  int64_t id = res != NULL ? id_decode(res->id, res->id_len) : g->i;
  pthread_mutex_lock(&t->mu);
  if (id != g->i || id < 0 || id >= t->n || !t->r[id].sent) {
    t->stray++;
  } else {
    rec* r = &t->r[id];
    r->calls++;
    if (r->calls == 1) {
      r->rc = status;
      r->done_ms = at;
      if (res != NULL) {
        r->status = res->status;
        r->code = res->code;
        r->value = res->status == ISO_STATUS_FULFILLED
                       ? json_of(res->value, res->value_len)
                       : NULL;
        r->name = strdup(res->name);
        r->message = strdup(res->message);
        r->worker = res->stats.worker;
      }
    }
  }
  t->done++;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

/* tracker_submit: sends job as id i. Returns the client's rc (0: a
 * callback is owed; else none is, and the record is not sent). */
static inline int tracker_submit(tracker* t,
                                 iso_client* c,
                                 int i,
                                 iso_job job,
                                 int64_t deadline_ms) {
  uint8_t id[5];
  id_encode((uint32_t)i, id);
  job.id = id;
  job.id_len = sizeof id;
  pthread_mutex_lock(&t->mu);
  t->r[i].sent = 1;
  t->r[i].sent_ms = now_ms();
  pthread_mutex_unlock(&t->mu);
  int rc = iso_client_submit(c, &job, deadline_ms, tracker_cb, &t->tags[i]);
  if (rc != 0) {
    pthread_mutex_lock(&t->mu);
    t->r[i].sent = 0;
    pthread_mutex_unlock(&t->mu);
  }
  return rc;
}

/* tracker_submit_ok: tracker_submit, and the submit must succeed (else it
 * says why and fails the case). */
static inline int tracker_submit_ok(tracker* t,
                                    iso_client* c,
                                    int i,
                                    iso_job job,
                                    int64_t deadline_ms) {
  int rc = tracker_submit(t, c, i, job, deadline_ms);
  if (rc != 0) {
    fprintf(stderr, "  submit %d: %s\n", i, iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
  return rc;
}

/* tracker_wait: waits until `want` callbacks came or timeout_ms passed;
 * 1 if they came. */
static inline int tracker_wait(tracker* t, int want, int timeout_ms) {
  return wait_count(&t->mu, &t->cv, &t->done, want, timeout_ms);
}

/* tracker_sent: how many ids were submitted (and not refused). */
static inline int tracker_sent(tracker* t) {
  int n = 0;
  pthread_mutex_lock(&t->mu);
  for (int i = 0; i < t->n; i++) {
    n += t->r[i].sent;
  }
  pthread_mutex_unlock(&t->mu);
  return n;
}

/* tracker_done: how many callbacks came so far, all ids. */
static inline int tracker_done(tracker* t) {
  pthread_mutex_lock(&t->mu);
  int n = t->done;
  pthread_mutex_unlock(&t->mu);
  return n;
}

/* tracker_calls: the callbacks for id i so far (for waiting on one job). */
static inline int tracker_calls(tracker* t, int i) {
  pthread_mutex_lock(&t->mu);
  int n = t->r[i].calls;
  pthread_mutex_unlock(&t->mu);
  return n;
}

/* tracker_check_once: exactly one reply per id sent, none for anything
 * else; waits a little for late duplicates first. */
static inline void tracker_check_once(tracker* t) {
  sleep_ms(50);
  pthread_mutex_lock(&t->mu);
  int missing = 0, twice = 0;
  for (int i = 0; i < t->n; i++) {
    if (t->r[i].sent && t->r[i].calls == 0) {
      if (missing++ < 5) {
        fprintf(stderr, "  id %d: no reply\n", i);
      }
    }
    if (t->r[i].calls > 1) {
      if (twice++ < 5) {
        fprintf(stderr, "  id %d: %d replies\n", i, t->r[i].calls);
      }
    }
    if (!t->r[i].sent && t->r[i].calls > 0) {
      twice++;
    }
  }
  CHECK_EQ(missing, 0);
  CHECK_EQ(twice, 0);
  CHECK_EQ(t->stray, 0);
  pthread_mutex_unlock(&t->mu);
}

#endif /* ISO_TRACKER_H */
