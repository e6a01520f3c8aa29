/* dispatch.c: the front dispatcher and the watchdog.
 *
 * DESIGN: requests arrive on NNG threads (ipc/iso_server.h). The request
 * callback copies the bytes, decodes them, and routes every job under
 * pool->lock: to the least-loaded worker with room (fewer than
 * max_inflight_per_worker in flight), else to the bounded wait queue, else
 * it is answered `busy` at once. Jobs for one worker leave as one batch on
 * its bus. Finished jobs come back on the bus (another NNG thread): their
 * worker's count drops, queued jobs refill it, and a request whose last job
 * is answered gets its reply, on the REP context it came from.
 *
 * The watchdog thread wakes every few milliseconds: it answers `timeout`
 * for queued jobs past their deadline, and stops JavaScript that runs past
 * the deadline of the realm it runs for (iso_rt_terminate_gen), so a job
 * stuck in `while (true) {}` costs its own worker that job only; every
 * 100 ms it also frees the workers a resize retired once they are idle.
 * Every request is in the registry (pool->jobs_lock) from its receipt to
 * its last job's answer, for poolctl jobs and cancel, which skip the jobs
 * already answered. pool.c has the pool's life, admin.c the admin plane.
 *
 * Locks: jobs_lock is taken before lock, never after. Under lock: the
 * workers array, each worker's inflight, each job's target, on_worker and
 * cancel_listed, the wait queue and the list of cancelled jobs. A job is
 * on_worker from routing to the bus message that gives it back; that
 * message lowers inflight and clears on_worker in one lock hold, so a
 * worker seen under the lock as some job's target has something in flight
 * and is not reaped before the lock is dropped (cancel wakes it under the
 * lock for that reason).
 *
 * Cancel (poolctl cancel, or the client's connection closed) answers the
 * job `cancelled` through the same claim as every answer. A job on a
 * worker is also listed in pool->cancels until its worker gives it back;
 * each round the watchdog stops the JavaScript its worker runs if it runs
 * for a listed job, which it tells by the deadline the runtime reports:
 * a job's own JavaScript (and all of an eval job's realm) runs with the
 * job's deadline, and no two jobs in flight share a deadline (it carries
 * the job's number: job_deadline). For a cancelled job the watchdog acts
 * as if that deadline were now. (A warm realm's shared JavaScript runs
 * with the earliest pending deadline + 50 ms, which equals another job's
 * deadline only for numbers 2^20 apart whose deadlines fall in the same
 * millisecond. Knowing the job by identity needs the runtime to report
 * which evaluation runs.) The worker, woken by the CANCEL bit, drops the
 * job when its loop next runs. A closed connection's jobs are the
 * registered requests that came on it; a request whose connection closed
 * before it was registered (its notification came first) runs, and its
 * answer goes nowhere.
 *
 * A batch's reply (envelope and elements) must fit the client's limit,
 * --max-message: elements that would make it larger are answered
 * too_large in their place (batch_fit). A request is counted in the
 * metrics when its reply is final, each job with the time it was
 * answered.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"
#include "pool_private.h"

#define WATCHDOG_PERIOD_MS 2

uint64_t pool__now(void) {
  return uv_hrtime();
}

/* ---- answering ---- */

/* Whoever wins this answers the job (writes job->reply). */
int pool__job_claim(pool_job* job) {
  int expected = 0;
  return atomic_compare_exchange_strong(&job->answered, &expected, 1);
}

/* The error reply for job, as answered by worker (-1: none). */
static void encode_error_as(pool_job* job,
                            iso_proto_code code,
                            const char* msg,
                            int worker) {
  job->outcome_status = ISO_STATUS_ERROR;
  job->outcome = code;
  iso_proto_reply r = {
      .id = job->in != NULL ? job->in->id : (iso_bytes){NULL, 0},
      .status = ISO_STATUS_ERROR,
      .code = code,
      .message = iso_str_of(msg),
      .stats = {.worker = worker},
  };
  iso_buf_reset(&job->reply);
  iso_proto_encode_reply(&r, &job->reply);
}

/* Thread: the job's worker (job->worker is its own), or the claimer of a
 * job no worker started. */
void pool__encode_error(pool_job* job, iso_proto_code code, const char* msg) {
  encode_error_as(job, code, msg, job->worker ? job->worker->id : -1);
}

/* Answers the job with an error if nobody has answered it yet; the caller
 * then reports it with pool__job_answered (dispatcher side) or by giving
 * it back (worker side). Returns through job->answered. */
void pool__job_error(pool_job* job, iso_proto_code code, const char* fmt, ...) {
  if (!pool__job_claim(job)) {
    return;
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  encode_error_as(job, code, msg, -1);
}

static void req_free(pool_req* req) {
  for (size_t i = 0; i < req->msg.count; i++) {
    iso_buf_free(&req->jobs[i].reply);
    iso_perms_unref(req->jobs[i].perms);
    free(req->jobs[i].perm_err);
  }
  iso_proto_msg_free(&req->msg);
  free(req->jobs);
  free(req->buf);
  free(req);
}

static void reply_whole_error(iso_server_req* sreq,
                              iso_bytes id,
                              iso_proto_code code,
                              const char* msg);

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
  iso_buf_free(&head);
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
  iso_buf_free(&small);
  free(least);
  return rc;
}

/* Sends the request's reply (its one job's map, or the batch) and counts
 * its jobs, each as it was finally answered. */
static void req_reply(pool_req* req) {
  iso_pool* pool = req->pool;
  if (!req->msg.is_batch) {
    pool__count_answered(pool, &req->jobs[0]);
    iso_server_reply(req->sreq, req->jobs[0].reply.data,
                     req->jobs[0].reply.len);
    return;
  }
  size_t limit = pool->opts.max_message;
  if (batch_fit(req, limit) != 0) {
    char msg[200];
    snprintf(msg, sizeof(msg),
             "the batch's reply would be over %zu bytes (--max-message) even "
             "with every element answered too_large; send smaller batches",
             limit);
    for (size_t i = 0; i < req->msg.count; i++) {
      req->jobs[i].outcome_status = ISO_STATUS_ERROR;
      req->jobs[i].outcome = ISO_CODE_TOO_LARGE;
      pool__count_answered(pool, &req->jobs[i]);
    }
    reply_whole_error(req->sreq, (iso_bytes){NULL, 0}, ISO_CODE_TOO_LARGE,
                      msg);
    return;
  }
  iso_buf out;
  iso_buf_init(&out);
  size_t total = 16;
  for (size_t i = 0; i < req->msg.count; i++) {
    total += req->jobs[i].reply.len;
    pool__count_answered(pool, &req->jobs[i]);
  }
  iso_buf_reserve(&out, total);
  iso_proto_encode_batch_header(req->msg.count, &out);
  for (size_t i = 0; i < req->msg.count; i++) {
    iso_buf_append(&out, req->jobs[i].reply.data, req->jobs[i].reply.len);
  }
  iso_server_reply(req->sreq, out.data, out.len);
  iso_buf_free(&out);
}

/* ---- the registry of requests with unanswered jobs (poolctl jobs,
 * cancel) ---- */

/* Numbers the request's jobs and registers it: one lock hold per
 * request, not per job (a batch of 256 costs what one job does). */
void pool__req_register(iso_pool* pool, pool_req* req) {
  size_t n = req->msg.count;
  int64_t base = atomic_fetch_add(&pool->next_sid, (long long)n);
  for (size_t i = 0; i < n; i++) {
    req->jobs[i].sid = base + (int64_t)i + 1;
  }
  pthread_mutex_lock(&pool->jobs_lock);
  req->rprev = pool->reqs_tail;
  req->rnext = NULL;
  if (pool->reqs_tail != NULL) {
    pool->reqs_tail->rnext = req;
  } else {
    pool->reqs_head = req;
  }
  pool->reqs_tail = req;
  pthread_mutex_unlock(&pool->jobs_lock);
}

/* Its last job is answered. The request is freed only after this (each
 * job is answered before it is released), so a reader holding jobs_lock
 * may use any registered request. */
static void req_unregister(iso_pool* pool, pool_req* req) {
  pthread_mutex_lock(&pool->jobs_lock);
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
  pthread_mutex_unlock(&pool->jobs_lock);
}

/* A job of req has its answer in job->reply; the request's reply goes out
 * with its last job, which also takes the request out of the registry and
 * counts its jobs (a batch's reply may still change some answers). */
void pool__job_answered(pool_job* job) {
  pool_req* req = job->req;
  job->answered_ns = pool__now();
  if (atomic_fetch_sub(&req->unanswered, 1) == 1) {
    req_unregister(req->pool, req);
    req_reply(req);
  }
}

/* The job is no longer used by anyone (returned, or never sent). */
void pool__job_release(pool_job* job) {
  pool_req* req = job->req;
  if (atomic_fetch_sub(&req->refs, 1) == 1) {
    req_free(req);
  }
}

/* Answers a job the dispatcher refuses or gives up on (no worker has it:
 * refused, queued or never routed). */
void pool__refuse(pool_job* job, iso_proto_code code, const char* msg) {
  if (pool__job_claim(job)) {
    encode_error_as(job, code, msg, -1);
    pool__job_answered(job);
  }
}

/* Replies to a message that could not even be decoded. */
static void reply_whole_error(iso_server_req* sreq,
                              iso_bytes id,
                              iso_proto_code code,
                              const char* msg) {
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
  iso_server_reply(sreq, out.data, out.len);
  iso_buf_free(&out);
}

/* ---- routing ---- */

/* The least-loaded running worker with room, or NULL. Called with the
 * lock. */
static pool_worker* least_loaded(iso_pool* pool) {
  assert(pool__held(&pool->lock));
  pool_worker* best = NULL;
  int cap = pool->opts.max_inflight_per_worker;
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    if (atomic_load(&w->state) == POOL_W_RUNNING && w->inflight < cap &&
        (best == NULL || w->inflight < best->inflight)) {
      best = w;
    }
  }
  return best;
}

/* Sends routed jobs (job->target set under the lock) to their workers,
 * one bus message per worker, outside the lock. */
static void route_send(pool_job** jobs, size_t n) {
  pool_job* group[n > 0 ? n : 1];
  for (size_t i = 0; i < n; i++) {
    pool_worker* w = jobs[i] != NULL ? jobs[i]->target : NULL;
    if (w == NULL) {
      continue;
    }
    size_t k = 0;
    for (size_t j = i; j < n; j++) {
      if (jobs[j] != NULL && jobs[j]->target == w) {
        group[k++] = jobs[j];
        jobs[j] = NULL;
      }
    }
    iso_bus_send(w->disp_end, (void* const*)group, k);
  }
}

/* The wait queue. Called with the lock. */
static void queue_push(iso_pool* pool, pool_job* job) {
  assert(pool__held(&pool->lock));
  job->qnext = NULL;
  if (pool->qtail != NULL) {
    pool->qtail->qnext = job;
  } else {
    pool->qhead = job;
  }
  pool->qtail = job;
  pool->qlen++;
}

static pool_job* queue_pop(iso_pool* pool) {
  assert(pool__held(&pool->lock));
  pool_job* job = pool->qhead;
  if (job != NULL) {
    pool->qhead = job->qnext;
    if (pool->qhead == NULL) {
      pool->qtail = NULL;
    }
    pool->qlen--;
  }
  return job;
}

/* ---- requests ---- */

/* A job's deadline: 1 to 2 ms after now + timeout, with the job's service
 * number in the low 20 bits of the nanoseconds, so that no two jobs in
 * flight share one (they would need numbers 2^20 apart and deadlines in
 * the same 1 ms) and the watchdog can tell a cancelled job's JavaScript
 * by the deadline the runtime reports (the DESIGN above). */
#define DEADLINE_SID_BITS 20

static uint64_t job_deadline(uint64_t now, uint32_t timeout_ms, int64_t sid) {
  const uint64_t mask = ((uint64_t)1 << DEADLINE_SID_BITS) - 1;
  uint64_t base = now + (uint64_t)timeout_ms * 1000000;
  return ((base | mask) + 1) | ((uint64_t)sid & mask);
}

void pool__request_cb(iso_server_req* sreq,
                      const uint8_t* data,
                      size_t len,
                      void* arg) {
  iso_pool* pool = arg;
  uint64_t now = pool__now();
  if (len > pool->opts.max_message) {
    char msg[128];
    snprintf(msg, sizeof(msg),
             "the request is %zu bytes; the limit is %zu (--max-message)", len,
             pool->opts.max_message);
    reply_whole_error(sreq, (iso_bytes){NULL, 0}, ISO_CODE_TOO_LARGE, msg);
    return;
  }
  pool_req* req = calloc(1, sizeof(*req));
  uint8_t* buf = malloc(len ? len : 1);
  if (req == NULL || buf == NULL) {
    free(req);
    free(buf);
    reply_whole_error(sreq, (iso_bytes){NULL, 0}, ISO_CODE_INTERNAL,
                      "out of memory");
    return;
  }
  memcpy(buf, data, len);
  req->pool = pool;
  req->sreq = sreq;
  req->peer = iso_server_req_peer(sreq);
  req->buf = buf;
  req->len = len;
  char err[ISO_PROTO_ERRMSG_MAX];
  int rc = iso_proto_decode(buf, len, &req->msg, err, sizeof(err));
  if (rc == 0) {
    req->jobs = calloc(req->msg.count, sizeof(pool_job));
    if (req->jobs == NULL) {
      rc = ISO_ENOMEM;
      snprintf(err, sizeof(err), "out of memory");
    }
  }
  if (rc != 0) {
    reply_whole_error(
        sreq, req->msg.err_id,
        rc == ISO_EPROTO ? ISO_CODE_BAD_REQUEST : ISO_CODE_INTERNAL, err);
    iso_proto_msg_free(&req->msg);
    free(req->buf);
    free(req);
    return;
  }
  size_t n = req->msg.count;
  atomic_store(&req->unanswered, (int)n);
  atomic_store(&req->refs, (int)n);
  pool_job* routed[n > 0 ? n : 1];
  size_t nrouted = 0;
  /* refusals are answered after the lock is dropped */
  pool_job* refused[n > 0 ? n : 1];
  iso_proto_code refused_code[n > 0 ? n : 1];
  size_t nrefused = 0;
  /* what each job may do: the service's grant, narrowed by its request */
  for (size_t i = 0; i < n; i++) {
    const iso_proto_req* in = &req->msg.reqs[i];
    char why[256];
    if (in->err == 0 && in->kind == ISO_JOB_CALL && in->source.ptr != NULL &&
        !pool->opts.allow_call_source) {
      /* a call's source would be the code of the module's later calls on
       * that worker, other clients' included */
      req->jobs[i].perm_err = strdup(
          "`source` on a call job is refused: this service compiles its "
          "warm modules from its module root only (isopool serve "
          "--allow-call-source lets trusted clients send it)");
      continue;
    }
    if (in->err == 0 &&
        iso_perms_narrow(pool->granted, in->permissions.data,
                         in->permissions.len, &req->jobs[i].perms, why,
                         sizeof(why)) != 0) {
      req->jobs[i].perm_err = strdup(why);
    }
  }

  for (size_t i = 0; i < n; i++) {
    pool_job* job = &req->jobs[i];
    job->req = req;
    job->in = &req->msg.reqs[i];
    job->received_ns = now;
    /* before it is registered: from then on a cancel may answer it */
    iso_buf_init(&job->reply);
    iso_metrics_accepted(pool->metrics, iso_metrics_kind_of(job->in->kind));
  }
  pool__req_register(pool, req);
  pthread_mutex_lock(&pool->lock);
  for (size_t i = 0; i < n; i++) {
    pool_job* job = &req->jobs[i];
    int64_t t = job->in->timeout_ms;
    job->timeout_ms =
        t > 0 ? (uint32_t)(t > 86400000 ? 86400000 : t) : pool->opts.timeout_ms;
    job->deadline_ns = job_deadline(now, job->timeout_ms, job->sid);
    if (job->in->err != 0 || job->perms == NULL) {
      refused[nrefused] = job;
      refused_code[nrefused++] = ISO_CODE_BAD_REQUEST;
      continue;
    }
    if (pool->draining) {
      refused[nrefused] = job;
      refused_code[nrefused++] = ISO_CODE_SHUTTING_DOWN;
      continue;
    }
    pool_worker* w = least_loaded(pool);
    if (w != NULL) {
      w->inflight++;
      job->on_worker = 1;
      job->target = w;
      routed[nrouted++] = job;
    } else if (pool->qlen < pool->opts.max_queue) {
      queue_push(pool, job);
    } else {
      refused[nrefused] = job;
      refused_code[nrefused++] = ISO_CODE_BUSY;
    }
  }
  pthread_mutex_unlock(&pool->lock);
  route_send(routed, nrouted);
  for (size_t i = 0; i < nrefused; i++) {
    pool_job* job = refused[i];
    char msg[256];
    switch (refused_code[i]) {
      case ISO_CODE_BAD_REQUEST:
        snprintf(msg, sizeof(msg), "%s",
                 job->in->err != 0 ? job->in->errmsg
                 : job->perm_err   ? job->perm_err
                                   : "permissions: out of memory");
        break;
      case ISO_CODE_SHUTTING_DOWN:
        snprintf(msg, sizeof(msg), "the service is shutting down");
        break;
      default:
        snprintf(msg, sizeof(msg),
                 "every worker is busy and the queue is full (%d jobs, "
                 "--max-queue)",
                 pool->opts.max_queue);
        break;
    }
    pool__refuse(job, refused_code[i], msg);
    pool__job_release(job);
  }
}

/* Takes job off pool->cancels. Called with the lock. */
static void cancels_remove(iso_pool* pool, pool_job* job) {
  assert(pool__held(&pool->lock));
  for (pool_job** pp = &pool->cancels; *pp != NULL; pp = &(*pp)->cnext) {
    if (*pp == job) {
      *pp = job->cnext;
      break;
    }
  }
  job->cancel_listed = 0;
}

/* Worker w gave back `back` (n jobs; NULL: n is a count only): lowers its
 * count, clears their on_worker, and gives it as many queued jobs as it
 * now has room for (the queue is drained in order), in one hold of the
 * lock; sends them outside it. */
static void refill(iso_pool* pool, pool_worker* w, void* const* back, int n) {
  pool_job* stack[64];
  pool_job** jobs = stack;
  size_t k = 0;
  pthread_mutex_lock(&pool->lock);
  w->inflight -= n;
  for (int i = 0; back != NULL && i < n; i++) {
    pool_job* job = back[i];
    job->on_worker = 0;
    if (job->cancel_listed) {
      cancels_remove(pool, job);
    }
  }
  if (pool->qlen > 0 && atomic_load(&w->state) == POOL_W_RUNNING) {
    size_t room = (size_t)(pool->opts.max_inflight_per_worker - w->inflight);
    if (room > 64) {
      jobs = malloc(sizeof(pool_job*) * room);
      room = jobs != NULL ? room : 64;
      jobs = jobs != NULL ? jobs : stack;
    }
    while (k < room && pool->qlen > 0) {
      pool_job* job = queue_pop(pool);
      job->on_worker = 1;
      job->target = w;
      w->inflight++;
      jobs[k++] = job;
    }
  }
  pthread_mutex_unlock(&pool->lock);
  route_send(jobs, k);
  if (jobs != stack) {
    free(jobs);
  }
}

/* done is 0 for a worker that just became ready (or recycled). */
void pool__refill(iso_pool* pool, pool_worker* w, int done) {
  refill(pool, w, NULL, done);
}

/* Finished jobs from a worker. Thread: an NNG thread (the bus). */
void pool__disp_bus_cb(void* const* items, size_t n, void* arg) {
  pool_worker* w = arg;
  refill(w->pool, w, items, (int)n);
  for (size_t i = 0; i < n; i++) {
    pool_job* job = items[i];
    if (job->by_worker) {
      pool__job_answered(job);
    }
    pool__job_release(job);
  }
}

/* ---- cancel ---- */

/* Called with jobs_lock (see pool_private.h). */
void pool__cancel_begin(iso_pool* pool, pool_job* job, pool_cancel* c) {
  assert(pool__held(&pool->jobs_lock));
  *c = (pool_cancel){.job = job};
  pthread_mutex_lock(&pool->lock);
  /* a queued job leaves the queue first, so the dispatcher never sends
   * it */
  pool_job* prev = NULL;
  for (pool_job* q = pool->qhead; q != NULL; prev = q, q = q->qnext) {
    if (q == job) {
      if (prev != NULL) {
        prev->qnext = q->qnext;
      } else {
        pool->qhead = q->qnext;
      }
      if (pool->qtail == q) {
        pool->qtail = prev;
      }
      pool->qlen--;
      c->queued = 1;
      break;
    }
  }
  c->claimed = pool__job_claim(job);
  c->worker = -1;
  if (job->on_worker) {
    /* on_worker under the lock: its worker is in the array (the DESIGN
     * above), so waking it here cannot touch a freed worker */
    pool_worker* w = job->target;
    c->worker = w->id;
    if (!job->cancel_listed) {
      job->cancel_listed = 1;
      job->cnext = pool->cancels;
      pool->cancels = job;
    }
    if (pool->stopping < POOL_STOP_WORKERS) { /* its loop still runs */
      atomic_fetch_or(&w->ctl, POOL_CTL_CANCEL);
      uv_async_send(&w->async);
    }
  }
  atomic_fetch_add(&job->req->refs, 1); /* ours, until cancel_end */
  pthread_mutex_unlock(&pool->lock);
}

void pool__cancel_end(iso_pool* pool, pool_cancel* c, const char* msg) {
  pool_job* job = c->job;
  if (c->claimed) {
    encode_error_as(job, ISO_CODE_CANCELLED, msg, c->worker);
    pool__job_answered(job);
  }
  if (c->queued) {
    pool__job_release(job); /* the queue's reference */
  }
  pool__job_release(job);
}

/* Answers code/msg every unanswered job, or (w not NULL) every one on w.
 * Returns how many. */
static size_t answer_unanswered(iso_pool* pool,
                                pool_worker* w,
                                iso_proto_code code,
                                const char* msg) {
  pool_job** left = NULL;
  size_t n = 0, cap = 0;
  pthread_mutex_lock(&pool->jobs_lock);
  if (w != NULL) {
    pthread_mutex_lock(&pool->lock); /* target and on_worker */
  }
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
        if (grown == NULL) {
          break;
        }
        left = grown;
        cap = grown_cap;
      }
      if (pool__job_claim(job)) {
        atomic_fetch_add(&req->refs, 1); /* ours, until answered */
        left[n++] = job;
      }
    }
  }
  if (w != NULL) {
    pthread_mutex_unlock(&pool->lock);
  }
  pthread_mutex_unlock(&pool->jobs_lock);
  for (size_t i = 0; i < n; i++) {
    encode_error_as(left[i], code, msg, w != NULL ? w->id : -1);
    pool__job_answered(left[i]);
    pool__job_release(left[i]);
  }
  free(left);
  return n;
}

/* The shutdown's last resort: every job still unanswered (stuck in a
 * bus when its worker stopped, or on a worker that would not stop) is
 * answered code/msg here, so no client waits in vain. The job stays where
 * it is (its request is never freed: the process is ending). Thread: the
 * shutdown's. Returns how many it answered. */
size_t pool__answer_leftovers(iso_pool* pool,
                              iso_proto_code code,
                              const char* msg) {
  return answer_unanswered(pool, NULL, code, msg);
}

size_t pool__answer_worker(iso_pool* pool,
                           pool_worker* w,
                           iso_proto_code code,
                           const char* msg) {
  return answer_unanswered(pool, w, code, msg);
}

/* A client's connection closed: its jobs are cancelled (their answers
 * would go nowhere; the work stops and is counted). Thread: an NNG
 * thread (iso_server's pipe notification). */
void pool__peer_closed_cb(uint32_t peer, void* arg) {
  iso_pool* pool = arg;
  pool_cancel* cs = NULL;
  size_t n = 0, cap = 0;
  pthread_mutex_lock(&pool->jobs_lock);
  for (pool_req* req = pool->reqs_head; req != NULL; req = req->rnext) {
    if (req->peer != peer) {
      continue;
    }
    for (size_t i = 0; i < req->msg.count; i++) {
      if (atomic_load(&req->jobs[i].answered)) {
        continue;
      }
      if (n == cap) {
        size_t grown_cap = cap ? cap * 2 : 16;
        pool_cancel* grown = realloc(cs, grown_cap * sizeof(*cs));
        if (grown == NULL) {
          break; /* the rest runs to its end; its answer goes nowhere */
        }
        cs = grown;
        cap = grown_cap;
      }
      pool__cancel_begin(pool, &req->jobs[i], &cs[n++]);
    }
  }
  pthread_mutex_unlock(&pool->jobs_lock);
  size_t answered = 0;
  for (size_t i = 0; i < n; i++) {
    answered += cs[i].claimed;
    pool__cancel_end(pool, &cs[i],
                     "the job was cancelled: its client's connection closed");
  }
  free(cs);
  if (answered > 0) {
    pool__log(pool, "info",
              "cancelled %zu job(s): their client's connection closed",
              answered);
  }
}

/* ---- the watchdog ---- */

void* pool__watchdog_main(void* arg) {
  iso_pool* pool = arg;
  unsigned rounds = 0;
  pthread_setname_np(pthread_self(), "isopool-watch");
  for (;;) {
    pthread_mutex_lock(&pool->wd_lock);
    if (!pool->wd_stop) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&pool->wd_cond, &pool->wd_lock, &ts);
    }
    int stop = pool->wd_stop;
    pthread_mutex_unlock(&pool->wd_lock);
    if (stop) {
      return NULL;
    }
    uint64_t now = pool__now();
    if (++rounds % 50 == 0) {
      pool__reap(pool); /* retired workers with nothing left in flight */
    }
    /* a snapshot under the lock: only this thread reaps workers, and the
     * shutdown frees them after this thread ended, so the pointers stay
     * good for the round */
    pool_worker* ws[POOL_MAX_WORKERS];
    pthread_mutex_lock(&pool->lock);
    int nw = pool->nworkers;
    memcpy(ws, pool->workers, (size_t)nw * sizeof(ws[0]));
    int any_cancelled = pool->cancels != NULL;
    pthread_mutex_unlock(&pool->lock);
    /* what each runs now, and whether it runs past its deadline */
    struct {
      iso_rt* rt;
      uint64_t gen, deadline;
      int stop;
    } run[POOL_MAX_WORKERS];
    for (int i = 0; i < nw; i++) {
      iso_rt* rt = pool__worker_rt_lock(ws[i]);
      uint64_t since;
      run[i].rt = rt;
      if (rt == NULL ||
          !iso_rt_running(rt, &run[i].gen, &since, &run[i].deadline)) {
        run[i].deadline = 0;
      }
      pool__worker_rt_unlock(ws[i]);
      run[i].stop = run[i].deadline != 0 && now > run[i].deadline;
    }
    /* or for a cancelled job on it (its deadline is now) */
    if (any_cancelled) {
      pthread_mutex_lock(&pool->lock);
      for (pool_job* j = pool->cancels; j != NULL; j = j->cnext) {
        for (int i = 0; i < nw; i++) {
          if (j->target == ws[i] && run[i].deadline == j->deadline_ns) {
            run[i].stop = 1;
          }
        }
      }
      pthread_mutex_unlock(&pool->lock);
    }
    pool_worker* lost[POOL_MAX_WORKERS];
    int nlost = 0;
    for (int i = 0; i < nw; i++) {
      if (!run[i].stop) {
        continue;
      }
      /* the same runtime (not a recycled one) and still the same entry */
      iso_rt* rt = pool__worker_rt_lock(ws[i]);
      if (rt != NULL && rt == run[i].rt) {
        iso_rt_terminate_gen(rt, run[i].gen);
      }
      pool__worker_rt_unlock(ws[i]);
      /* the entry it stopped before and still runs: how long since? */
      if (ws[i]->stop_gen != run[i].gen) {
        ws[i]->stop_gen = run[i].gen;
        ws[i]->stop_ns = now;
      } else if (now - ws[i]->stop_ns > POOL_LOST_GRACE_MS * 1000000ull) {
        lost[nlost++] = ws[i];
      }
    }
    for (int i = 0; i < nlost; i++) {
      pool__worker_lost(pool, lost[i]);
    }
    /* queued jobs past their deadline */
    pool_job* expired = NULL;
    pthread_mutex_lock(&pool->lock);
    pool_job** pp = &pool->qhead;
    pool->qtail = NULL;
    while (*pp != NULL) {
      pool_job* job = *pp;
      if (job->deadline_ns <= now) {
        *pp = job->qnext;
        pool->qlen--;
        job->qnext = expired;
        expired = job;
      } else {
        pool->qtail = job;
        pp = &job->qnext;
      }
    }
    pthread_mutex_unlock(&pool->lock);
    while (expired != NULL) {
      pool_job* job = expired;
      expired = job->qnext;
      char msg[160];
      snprintf(msg, sizeof(msg),
               "the job waited for a worker past its deadline of %u ms",
               job->timeout_ms);
      pool__refuse(job, ISO_CODE_TIMEOUT, msg);
      pool__job_release(job);
    }
  }
}
