/* tracker.c: the async reply tracker of the service suites (tracker.h). */
#include "tracker.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "iso_err.h"
#include "json_check.h"
#include "tap.h"

void id_encode(uint32_t v, uint8_t out[5]) {
  out[0] = 0xce;
  out[1] = (uint8_t)(v >> 24);
  out[2] = (uint8_t)(v >> 16);
  out[3] = (uint8_t)(v >> 8);
  out[4] = (uint8_t)v;
}

int64_t id_decode(const uint8_t* p, size_t n) {
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

void tracker_init(tracker* t, int n) {
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

void tracker_free(tracker* t) {
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

void tracker_cb(void* data, int status, iso_result* res) {
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
        r->limit = res->stats.limit;
      }
    }
  }
  t->done++;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

int tracker_submit(tracker* t,
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

int tracker_submit_ok(tracker* t,
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

int tracker_wait(tracker* t, int want, int timeout_ms) {
  return wait_count(&t->mu, &t->cv, &t->done, want, timeout_ms);
}

int tracker_sent(tracker* t) {
  int n = 0;
  pthread_mutex_lock(&t->mu);
  for (int i = 0; i < t->n; i++) {
    n += t->r[i].sent;
  }
  pthread_mutex_unlock(&t->mu);
  return n;
}

int tracker_done(tracker* t) {
  pthread_mutex_lock(&t->mu);
  int n = t->done;
  pthread_mutex_unlock(&t->mu);
  return n;
}

int tracker_calls(tracker* t, int i) {
  pthread_mutex_lock(&t->mu);
  int n = t->r[i].calls;
  pthread_mutex_unlock(&t->mu);
  return n;
}

void tracker_check_once(tracker* t) {
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
