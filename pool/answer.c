/* answer.c: a job's answer, from its claim to its release, and the
 * registry of requests with unanswered jobs.
 *
 * DESIGN: each job is answered exactly once, and every answer goes through
 * this file: claim, encode, count, reply, release. Whoever wins the job's
 * `answered` compare-and-swap (pool__answer_claim) writes job->reply; all
 * of them run on the front:
 *
 *   - the DONE record of its worker (pool__answer_done, on the NNG thread
 *     that reads the worker's jobs link): the reply map the worker encoded (the
 *     value or the error, too_large when over --max-message, or
 *     cancelled when the worker stops with the job started, shutting_down
 *     when its TASK came after the STOP), closed here with its stats
 *     from the record's costs and times (the worker sends each once, and
 *     the front validates no map of them);
 *   - the dispatcher, with bad_request, busy or shutting_down for a job it
 *     refuses; the watchdog with timeout for a job queued past its
 *     deadline; the shutdown with shutting_down for the queued ones
 *     (pool__answer_refuse);
 *   - a cancel (poolctl cancel, or the client's connection closed) with
 *     cancelled; the watchdog with worker_lost for the jobs of a lost
 *     worker; the shutdown's last resort with cancelled for what no
 *     worker gave back (it was sent to one: it may have run in part) and
 *     shutting_down for a job sent to none (pool__answer_claimed,
 *     pool__answer_unanswered, pool__answer_stopped).
 *
 * A DONE record for a job someone else answered is only the job coming
 * back: its reply is dropped. The winner then reports the answer
 * (answered()): with a request's last answer the request leaves the
 * registry, its reply is made to fit --max-message (a batch's elements
 * that would not fit are answered too_large in their place), each job is
 * counted in the metrics as it was finally answered, and the reply goes
 * out on the REP context the request came from. A message that never
 * became jobs (too large, undecodable) gets its one error reply here too
 * (pool__answer_message), and so does a ping (pool__answer_ping: the
 * front's own answer, never a job, so none of the above applies).
 *
 * Release: a request owns its bytes, which its jobs point into; it is
 * freed when its last job is released (its DONE record came back, or it
 * was never sent to a worker), which is never before its last answer, so
 * a reader holding jobs_lock may use any registered request.
 *
 * Threads: NNG threads (the dispatcher, a worker's jobs link, cancel), the
 * watchdog or the shutdown's thread; never a worker's, which only makes
 * reply maps open for their stats (pool__reply_error, and worker_task.c's
 * own encoder).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_version.h"
#include "pool_private.h"

/* ---- the claim ---- */

int pool__answer_claim(pool_job* job) {
  int expected = 0;
  return atomic_compare_exchange_strong(&job->answered, &expected, 1);
}

/* ---- encoding ---- */

/* Microseconds from a to b, 0 if b is not later. */
static int64_t us_between(uint64_t a, uint64_t b) {
  return b > a ? (int64_t)((b - a) / 1000) : 0;
}

/* The error reply for job, as answered by worker (-1: none). Thread: the
 * claim's winner. */
static void encode_error(pool_job* job,
                         iso_proto_code code,
                         const char* msg,
                         int worker) {
  job->outcome_status = ISO_STATUS_ERROR;
  job->outcome = code;
  job->limit = code == ISO_CODE_TIMEOUT ? ISO_LIMIT_WALL : ISO_LIMIT_NONE;
  iso_buf_reset(&job->reply);
  iso_stats st = {
      .worker = worker,
      .wall_us =
          job->received_ns != 0 ? us_between(job->received_ns, pool__now()) : 0,
      .limit = job->limit,
  };
  pool__reply_error(&job->reply,
                    job->in != NULL ? job->in->id : (iso_bytes){NULL, 0}, code,
                    msg, &st);
  if (job->reply.len > job->req->pool->opts.max_message) {
    /* its id leaves no room: without it, the one reply the client can
     * receive (as a worker's error replies, worker_task.c) */
    iso_buf_reset(&job->reply);
    pool__reply_error(&job->reply, (iso_bytes){NULL, 0}, code, msg, &st);
  }
}

/* The last error a job got on this worker, for poolctl workers. */
static void note_error(pool_worker* w, const char* note) {
  pthread_mutex_lock(&w->info_lock);
  snprintf(w->last_error, sizeof(w->last_error), "%s", note);
  pthread_mutex_unlock(&w->info_lock);
}

/* The too_large answer for element i of a batch whose reply would be
 * over `limit`, into out. */
static void too_large_for(const pool_job* job, size_t limit, iso_buf* out) {
  char msg[200];
  snprintf(msg, sizeof(msg),
           "the batch's reply would be over %zu bytes (--max-message) with "
           "this element's answer (%zu bytes) in it",
           limit, job->reply.len);
  iso_proto_reply r = {
      .id = job->in != NULL ? job->in->id : (iso_bytes){NULL, 0},
      .status = ISO_STATUS_ERROR,
      .code = ISO_CODE_TOO_LARGE,
      .message = iso_str_of(msg),
      .stats = {.worker = -1},
  };
  iso_buf_reset(out);
  iso_proto_encode_reply(&r, out);
}

/* Makes a batch's reply fit `limit` bytes: elements are kept in order
 * while every later one can still fit, as its own answer or as too_large;
 * an element that would not fit is answered too_large in its place. The
 * first ones are kept rather than the smallest: a client reads them in
 * order, and this takes one pass. Returns 0, or ISO_ETOOBIG when even a
 * reply of too_large answers would be over the limit. Thread: the one
 * sending the reply (every job is answered). */
static int batch_fit(pool_req* req, size_t limit) {
  size_t n = req->msg.count;
  iso_buf head;
  iso_buf_init(&head);
  iso_proto_encode_batch_header(n, &head);
  size_t total = head.len;
  iso_buf_close(&head);
  size_t header = total;
  for (size_t i = 0; i < n; i++) {
    total += req->jobs[i].reply.len;
  }
  if (total <= limit) {
    return 0; /* the usual case costs one pass over the lengths */
  }
  /* the least each element can take: its answer or its too_large */
  size_t* least = malloc(n * sizeof(*least));
  iso_buf small;
  iso_buf_init(&small);
  if (least == NULL) {
    return ISO_ETOOBIG;
  }
  size_t rest = 0;
  for (size_t i = 0; i < n; i++) {
    too_large_for(&req->jobs[i], limit, &small);
    size_t len = req->jobs[i].reply.len;
    least[i] = len < small.len ? len : small.len;
    rest += least[i];
  }
  int rc = 0;
  if (header + rest > limit) {
    rc = ISO_ETOOBIG;
  }
  size_t used = header;
  for (size_t i = 0; i < n && rc == 0; i++) {
    pool_job* job = &req->jobs[i];
    rest -= least[i];
    if (used + job->reply.len + rest <= limit) {
      used += job->reply.len;
      continue;
    }
    too_large_for(job, limit, &small);
    iso_buf_reset(&job->reply);
    iso_buf_append(&job->reply, small.data, small.len);
    job->outcome_status = ISO_STATUS_ERROR;
    job->outcome = ISO_CODE_TOO_LARGE;
    used += small.len;
  }
  iso_buf_close(&small);
  free(least);
  return rc;
}

/* ---- counting ---- */

/* Counts a job in tally (flushed once per request) as it was finally
 * answered: its outcome, its times in the queue, on its worker and in the
 * service, and its costs. */
/* At debug level, one line per job as it is counted: its event
 * ("job_fulfilled", "job_rejected", "job_" and its error code: job_timeout,
 * job_busy, job_too_large, ...), its number and worker as fields, what
 * it ran and how long it took. */
static void log_job(iso_pool* pool,
                    const pool_job* job,
                    int64_t queue_us,
                    int64_t run_us,
                    int64_t total_us) {
  if (!pool__log_on(&pool->logger, "debug")) {
    return;
  }
  const char* what = job->outcome_status == ISO_STATUS_FULFILLED ? "fulfilled"
                     : job->outcome_status == ISO_STATUS_REJECTED
                         ? "rejected"
                         : iso_proto_code_name(job->outcome);
  char event[48];
  snprintf(event, sizeof event, "job_%s", what);
  const iso_proto_req* in = job->in;
  pool_log_fields f = {
      .event = event,
      .job = job->sid,
      .worker = job->target != NULL ? job->target->id : -1,
  };
  char ran[160] = "";
  if (run_us >= 0) {
    snprintf(ran, sizeof ran, " (queue %lld us, run %lld us)",
             (long long)queue_us, (long long)run_us);
  }
  pool__log_event(
      pool, "debug", &f, "%s %.*s%s%.*s: %s in %lld us%s",
      in == NULL                 ? "job"
      : in->kind == ISO_JOB_CALL ? "call"
                                 : "eval",
      in != NULL && in->module.ptr ? (int)in->module.len : 0,
      in != NULL && in->module.ptr ? in->module.ptr : "",
      in != NULL && in->kind == ISO_JOB_CALL ? "#" : "",
      in != NULL && in->export_name.ptr ? (int)in->export_name.len : 0,
      in != NULL && in->export_name.ptr ? in->export_name.ptr : "", what,
      (long long)total_us, ran);
}

static void count_answered(iso_pool* pool,
                           pool_job* job,
                           iso_metrics_tally* tally) {
  uint64_t now = job->answered_ns != 0 ? job->answered_ns : pool__now();
  int outcome =
      job->outcome_status == ISO_STATUS_FULFILLED  ? ISO_METRICS_FULFILLED
      : job->outcome_status == ISO_STATUS_REJECTED ? ISO_METRICS_REJECTED
                                                   : (int)job->outcome;
  int64_t queue_us = -1, run_us = -1;
  uint64_t started = atomic_load(&job->started_ns);
  if (started != 0) {
    queue_us = (int64_t)(started - job->received_ns) / 1000;
    run_us = now > started ? (int64_t)(now - started) / 1000 : 0;
  } else if (job->outcome != ISO_CODE_BAD_REQUEST &&
             job->outcome != ISO_CODE_BUSY &&
             job->outcome != ISO_CODE_TOO_LARGE) {
    queue_us = (int64_t)(now - job->received_ns) / 1000; /* queued */
  }
  iso_metrics_kind kind =
      iso_metrics_kind_of(job->in != NULL ? job->in->kind : ISO_JOB_EVAL);
  iso_metrics_tally_answered(tally, kind, outcome, queue_us, run_us,
                             (int64_t)(now - job->received_ns) / 1000);
  log_job(pool, job, queue_us, run_us,
          (int64_t)(now - job->received_ns) / 1000);
  iso_metrics_tally_costs(tally, kind, job->cpu_us, job->heap_bytes, job->ops,
                          job->limit);
}

/* ---- replies ---- */

void pool__answer_message(iso_server_req* sreq,
                          iso_bytes id,
                          iso_proto_code code,
                          const char* msg,
                          size_t max) {
  iso_proto_reply r = {
      .id = id,
      .status = ISO_STATUS_ERROR,
      .code = code,
      .message = iso_str_of(msg),
      .stats = {.worker = -1},
  };
  iso_buf out;
  iso_buf_init(&out);
  iso_proto_encode_reply(&r, &out);
  if (out.len > max && r.id.data != NULL) { /* as encode_error's */
    iso_buf_reset(&out);
    r.id = (iso_bytes){NULL, 0};
    iso_proto_encode_reply(&r, &out);
  }
  iso_server_reply(sreq, out.data, out.len);
  iso_buf_close(&out);
}

void pool__answer_ping(iso_pool* pool, iso_server_req* sreq, iso_bytes id) {
  uint64_t t0 = pool__now();
  atomic_fetch_add(&pool->pings, 1);
  iso_pool_health h;
  pool__health_read(pool, &h);
  size_t max = pool->opts.max_message;
  if (h.state != ISO_POOL_RUNNING) {
    /* as a job would be answered now: a client takes the node out of
     * its rotation without counting it lost */
    pool__answer_message(sreq, id, ISO_CODE_SHUTTING_DOWN,
                         "the service is shutting down", max);
    return;
  }
  iso_proto_ping p = {
      .ready = pool__health_ready(&h),
      .workers = h.workers,
      .in_flight = h.in_flight,
      .version = ISO_VERSION,
  };
  iso_buf value, out;
  iso_buf_init(&value);
  iso_buf_init(&out);
  iso_proto_reply r = {
      .id = id,
      .status = ISO_STATUS_FULFILLED,
      .stats = {.worker = -1, .wall_us = us_between(t0, pool__now())},
  };
  int rc = iso_proto_encode_ping(&p, &value);
  if (rc == 0) {
    r.value = (iso_bytes){value.data, value.len};
    rc = iso_proto_encode_reply(&r, &out);
  }
  if (rc == 0 && out.len > max && id.data != NULL) { /* as encode_error's */
    iso_buf_reset(&out);
    r.id = (iso_bytes){NULL, 0};
    rc = iso_proto_encode_reply(&r, &out);
  }
  if (rc != 0) {
    pool__answer_message(sreq, id, ISO_CODE_INTERNAL, "out of memory", max);
  } else {
    iso_server_reply(sreq, out.data, out.len);
  }
  iso_buf_close(&value);
  iso_buf_close(&out);
}

/* Sends the request's reply (its one job's map, or the batch) and counts
 * its jobs, each as it was finally answered. */
static void req_reply(pool_req* req) {
  iso_pool* pool = req->pool;
  if (!req->msg.is_batch) {
    iso_metrics_tally one;
    iso_metrics_tally_init(&one, pool->metrics);
    count_answered(pool, &req->jobs[0], &one);
    iso_metrics_tally_flush(&one);
    iso_server_reply(req->sreq, req->jobs[0].reply.data,
                     req->jobs[0].reply.len);
    return;
  }
  size_t limit = pool->opts.max_message;
  iso_metrics_tally tally;
  iso_metrics_tally_init(&tally, pool->metrics);
  if (batch_fit(req, limit) != 0) {
    char msg[200];
    snprintf(msg, sizeof(msg),
             "the batch's reply would be over %zu bytes (--max-message) even "
             "with every element answered too_large; send smaller batches",
             limit);
    for (size_t i = 0; i < req->msg.count; i++) {
      req->jobs[i].outcome_status = ISO_STATUS_ERROR;
      req->jobs[i].outcome = ISO_CODE_TOO_LARGE;
      count_answered(pool, &req->jobs[i], &tally);
    }
    iso_metrics_tally_flush(&tally);
    pool__answer_message(req->sreq, (iso_bytes){NULL, 0}, ISO_CODE_TOO_LARGE,
                         msg, limit);
    return;
  }
  iso_buf out;
  iso_buf_init(&out);
  size_t total = 16;
  for (size_t i = 0; i < req->msg.count; i++) {
    total += req->jobs[i].reply.len;
    count_answered(pool, &req->jobs[i], &tally);
  }
  iso_metrics_tally_flush(&tally);
  iso_buf_reserve(&out, total);
  iso_proto_encode_batch_header(req->msg.count, &out);
  for (size_t i = 0; i < req->msg.count; i++) {
    iso_buf_append(&out, req->jobs[i].reply.data, req->jobs[i].reply.len);
  }
  iso_server_reply(req->sreq, out.data, out.len);
  iso_buf_close(&out);
}

/* ---- the registry of requests with unanswered jobs (poolctl jobs,
 * cancel) ---- */

/* Numbers the request's jobs and registers it: one lock hold per
 * request, not per job (a batch of 256 costs what one job does). */
void pool__req_register(iso_pool* pool, pool_req* req) {
  assert(!pool__mutex_held(&pool->lock)); /* jobs_lock comes first */
  size_t n = req->msg.count;
  int64_t base = atomic_fetch_add(&pool->next_sid, (long long)n);
  for (size_t i = 0; i < n; i++) {
    req->jobs[i].sid = base + (int64_t)i + 1;
  }
  pool__mutex_lock(&pool->jobs_lock);
  req->rprev = pool->reqs_tail;
  req->rnext = NULL;
  if (pool->reqs_tail != NULL) {
    pool->reqs_tail->rnext = req;
  } else {
    pool->reqs_head = req;
  }
  pool->reqs_tail = req;
  pool__mutex_unlock(&pool->jobs_lock);
}

/* Its last job is answered. The request is freed only after this (each
 * job is answered before it is released), so a reader holding jobs_lock
 * may use any registered request. */
static void req_unregister(iso_pool* pool, pool_req* req) {
  assert(!pool__mutex_held(&pool->lock)); /* jobs_lock comes first */
  pool__mutex_lock(&pool->jobs_lock);
  if (req->rprev != NULL) {
    req->rprev->rnext = req->rnext;
  } else {
    pool->reqs_head = req->rnext;
  }
  if (req->rnext != NULL) {
    req->rnext->rprev = req->rprev;
  } else {
    pool->reqs_tail = req->rprev;
  }
  pool__mutex_unlock(&pool->jobs_lock);
}

/* ---- reporting and releasing ---- */

/* A job of req has its answer in job->reply; the request's reply goes out
 * with its last job, which also takes the request out of the registry and
 * counts its jobs (a batch's reply may still change some answers). */
static void answered(pool_job* job) {
  pool_req* req = job->req;
  job->answered_ns = pool__now();
  if (atomic_fetch_sub(&req->unanswered, 1) == 1) {
    req_unregister(req->pool, req);
    req_reply(req);
  }
}

static void req_free(pool_req* req) {
  for (size_t i = 0; i < req->msg.count; i++) {
    iso_buf_close(&req->jobs[i].reply);
    iso_perms_unref(req->jobs[i].perms);
    free(req->jobs[i].perm_err);
  }
  iso_proto_msg_close(&req->msg);
  iso_buf_close(&req->tasks);
  free(req->jobs);
  free(req->buf);
  free(req);
}

void pool__answer_release(pool_job* job) {
  pool_req* req = job->req;
  if (atomic_fetch_sub(&req->refs, 1) == 1) {
    req_free(req);
  }
}

/* ---- the answers ---- */

void pool__answer_claimed(pool_job* job,
                          iso_proto_code code,
                          const char* msg,
                          int worker) {
  assert(!pool__on_worker(NULL));
  encode_error(job, code, msg, worker);
  answered(job);
}

void pool__answer_refuse(pool_job* job, iso_proto_code code, const char* msg) {
  assert(!pool__on_worker(NULL));
  if (pool__answer_claim(job)) {
    pool__answer_claimed(job, code, msg, -1);
  }
  pool__answer_release(job);
}

void pool__answer_done(pool_worker* w,
                       pool_job* job,
                       const iso_link_done* done) {
  assert(!pool__on_worker(NULL));
  if (pool__answer_claim(job)) {
    if (done->status != ISO_STATUS_NONE) {
      job->outcome_status = (int)done->status;
      job->outcome =
          done->status == ISO_STATUS_ERROR ? done->code : ISO_CODE_UNKNOWN;
      atomic_store(&job->started_ns, done->started_ns);
      job->cpu_us = (int64_t)done->cpu_us;
      job->heap_bytes = (int64_t)done->heap_bytes;
      job->ops = (int64_t)done->ops;
      job->limit = done->limit;
      /* the worker's map, copied (the record is the message's), closed
       * with its stats: the costs the record gives and the times on the
       * one monotonic clock both processes read (pool__now) */
      iso_stats st = {
          .worker = w->id,
          .queue_us = us_between(job->received_ns, done->started_ns),
          .run_us = us_between(done->started_ns, done->finished_ns),
          .wall_us = us_between(job->received_ns, done->finished_ns),
          .cpu_us = job->cpu_us,
          .heap_bytes = job->heap_bytes,
          .ops = job->ops,
          .limit = job->limit,
      };
      iso_buf_reset(&job->reply);
      if (iso_buf_reserve(&job->reply, done->reply.len + ISO_PROTO_STATS_MAX) !=
              0 ||
          iso_buf_append(&job->reply, done->reply.data, done->reply.len) != 0 ||
          iso_proto_encode_stats(&st, &job->reply) != 0) {
        encode_error(job, ISO_CODE_INTERNAL, "out of memory", w->id);
      }
      if (done->note.ptr != NULL) {
        char note[sizeof(w->last_error)];
        snprintf(note, sizeof note, "%.*s", (int)done->note.len,
                 done->note.ptr);
        note_error(w, note);
      }
      atomic_fetch_add(&w->answered, 1);
    } else {
      /* the worker gives back what it was told was answered: one nobody
       * answered would otherwise never be */
      encode_error(job, ISO_CODE_INTERNAL,
                   "the worker gave the job back without an answer", w->id);
    }
    answered(job);
  }
  pool__answer_release(job);
}

/* Claims every unanswered job (w NULL), or every one on w, and answers
 * it: code/msg for a job on a worker, off_code/off_msg for one on none
 * (w NULL only). Adds how many got off_code to *off. */
static size_t answer_left(iso_pool* pool,
                          pool_worker* w,
                          iso_proto_code code,
                          const char* msg,
                          iso_proto_code off_code,
                          const char* off_msg,
                          size_t* off) {
  assert(!pool__on_worker(NULL));
  assert(!pool__mutex_held(&pool->lock)); /* jobs_lock comes first */
  pool_job** left = NULL;
  unsigned char* on = NULL; /* per claimed job: it was on a worker */
  size_t n = 0, cap = 0;
  pool__mutex_lock(&pool->jobs_lock);
  pool__mutex_lock(&pool->lock); /* target and on_worker */
  for (pool_req* req = pool->reqs_head; req != NULL; req = req->rnext) {
    for (size_t i = 0; i < req->msg.count; i++) {
      pool_job* job = &req->jobs[i];
      if (atomic_load(&job->answered) ||
          (w != NULL && (job->target != w || !job->on_worker))) {
        continue;
      }
      if (n == cap) {
        size_t grown_cap = cap ? cap * 2 : 16;
        pool_job** grown = realloc(left, grown_cap * sizeof(*left));
        if (grown != NULL) {
          left = grown;
        }
        unsigned char* grown_on = realloc(on, grown_cap);
        if (grown_on != NULL) {
          on = grown_on;
        }
        if (grown == NULL || grown_on == NULL) {
          break;
        }
        cap = grown_cap;
      }
      if (pool__answer_claim(job)) {
        atomic_fetch_add(&req->refs, 1); /* ours, until answered */
        on[n] = job->on_worker != 0;
        left[n++] = job;
      }
    }
  }
  pool__mutex_unlock(&pool->lock);
  pool__mutex_unlock(&pool->jobs_lock);
  for (size_t i = 0; i < n; i++) {
    if (on[i]) {
      pool__answer_claimed(left[i], code, msg, w != NULL ? w->id : -1);
    } else {
      pool__answer_claimed(left[i], off_code, off_msg, -1);
      (*off)++;
    }
    pool__answer_release(left[i]);
  }
  free(left);
  free(on);
  return n;
}

size_t pool__answer_unanswered(iso_pool* pool,
                               pool_worker* w,
                               iso_proto_code code,
                               const char* msg) {
  size_t off = 0;
  return answer_left(pool, w, code, msg, code, msg, &off);
}

size_t pool__answer_stopped(iso_pool* pool, size_t* never_sent) {
  *never_sent = 0;
  return answer_left(pool, NULL, ISO_CODE_CANCELLED, POOL_STOPPED_MSG,
                     ISO_CODE_SHUTTING_DOWN, "the service is shutting down",
                     never_sent);
}
