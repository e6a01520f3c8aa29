/* dispatch.c: the front dispatcher, the watchdog, and the pool's life.
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
 * stuck in `while (true) {}` costs its own worker that job only.
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

void pool__encode_error(pool_job* job, iso_proto_code code, const char* msg) {
  iso_proto_reply r = {
      .id = job->in != NULL ? job->in->id : (iso_bytes){NULL, 0},
      .status = ISO_STATUS_ERROR,
      .code = code,
      .message = iso_str_of(msg),
      .stats = {.worker = job->worker ? job->worker->id : -1},
  };
  iso_buf_reset(&job->reply);
  iso_proto_encode_reply(&r, &job->reply);
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
  pool__encode_error(job, code, msg);
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

/* Sends the request's reply: its one job's map, or the batch. */
static void req_reply(pool_req* req) {
  if (!req->msg.is_batch) {
    iso_server_reply(req->sreq, req->jobs[0].reply.data,
                     req->jobs[0].reply.len);
    return;
  }
  iso_buf out;
  iso_buf_init(&out);
  size_t total = 16;
  for (size_t i = 0; i < req->msg.count; i++) {
    total += req->jobs[i].reply.len;
  }
  iso_buf_reserve(&out, total);
  iso_proto_encode_batch_header(req->msg.count, &out);
  for (size_t i = 0; i < req->msg.count; i++) {
    iso_buf_append(&out, req->jobs[i].reply.data, req->jobs[i].reply.len);
  }
  iso_server_reply(req->sreq, out.data, out.len);
  iso_buf_free(&out);
}

/* A job of req has its answer in job->reply. */
void pool__job_answered(pool_job* job) {
  pool_req* req = job->req;
  if (atomic_fetch_sub(&req->unanswered, 1) == 1) {
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

/* Answers a job the dispatcher refuses or gives up on. */
static void refuse(pool_job* job, iso_proto_code code, const char* msg) {
  if (pool__job_claim(job)) {
    pool__encode_error(job, code, msg);
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

typedef struct route_batch {
  pool_job** jobs;
  size_t n;
} route_batch;

/* Picks the least-loaded worker with room, or -1. Called with the lock. */
static int least_loaded(iso_pool* pool) {
  int best = -1;
  int cap = pool->opts.max_inflight_per_worker;
  for (int i = 0; i < pool->nworkers; i++) {
    int load = pool->workers[i].inflight;
    if (load < cap && (best < 0 || load < pool->workers[best].inflight)) {
      best = i;
    }
  }
  return best;
}

static void route_add(route_batch* out, int w, pool_job* job) {
  out[w].jobs[out[w].n++] = job;
}

/* Sends each worker its batch (outside the lock). */
static void route_send(iso_pool* pool, route_batch* out) {
  for (int i = 0; i < pool->nworkers; i++) {
    if (out[i].n > 0) {
      iso_bus_send(pool->workers[i].disp_end, (void* const*)out[i].jobs,
                   out[i].n);
    }
  }
}

static void queue_push(iso_pool* pool, pool_job* job) {
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

static void request_cb(iso_server_req* sreq,
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
  req->sreq = sreq;
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
  route_batch out[pool->nworkers];
  pool_job* stack_jobs[64 * 4];
  pool_job** slots = (size_t)pool->nworkers * n <= 64 * 4
                         ? stack_jobs
                         : malloc(sizeof(pool_job*) * n * pool->nworkers);
  for (int i = 0; i < pool->nworkers; i++) {
    out[i].jobs = slots + (size_t)i * n;
    out[i].n = 0;
  }
  /* refusals are answered after the lock is dropped */
  pool_job* refused[n > 0 ? n : 1];
  iso_proto_code refused_code[n > 0 ? n : 1];
  size_t nrefused = 0;
  /* what each job may do: the service's grant, narrowed by its request */
  for (size_t i = 0; i < n; i++) {
    const iso_proto_req* in = &req->msg.reqs[i];
    char why[256];
    if (in->err == 0 &&
        iso_perms_narrow(pool->granted, in->permissions.data,
                         in->permissions.len, &req->jobs[i].perms, why,
                         sizeof(why)) != 0) {
      req->jobs[i].perm_err = strdup(why);
    }
  }

  pthread_mutex_lock(&pool->lock);
  for (size_t i = 0; i < n; i++) {
    pool_job* job = &req->jobs[i];
    job->req = req;
    job->in = &req->msg.reqs[i];
    job->received_ns = now;
    int64_t t = job->in->timeout_ms;
    job->timeout_ms =
        t > 0 ? (uint32_t)(t > 86400000 ? 86400000 : t) : pool->opts.timeout_ms;
    job->deadline_ns = now + (uint64_t)job->timeout_ms * 1000000;
    iso_buf_init(&job->reply);
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
    int w = least_loaded(pool);
    if (w >= 0) {
      pool->workers[w].inflight++;
      job->on_worker = 1;
      route_add(out, w, job);
    } else if (pool->qlen < pool->opts.max_queue) {
      queue_push(pool, job);
    } else {
      refused[nrefused] = job;
      refused_code[nrefused++] = ISO_CODE_BUSY;
    }
  }
  pthread_mutex_unlock(&pool->lock);
  route_send(pool, out);
  if (slots != stack_jobs) {
    free(slots);
  }
  for (size_t i = 0; i < nrefused; i++) {
    pool_job* job = refused[i];
    char msg[256];
    switch (refused_code[i]) {
      case ISO_CODE_BAD_REQUEST:
        snprintf(msg, sizeof(msg), "%s",
                 job->in->err != 0 ? job->in->errmsg
                 : job->perm_err  ? job->perm_err
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
    refuse(job, refused_code[i], msg);
    pool__job_release(job);
  }
}

/* Finished jobs from a worker. Thread: an NNG thread (the bus). */
static void disp_bus_cb(void* const* items, size_t n, void* arg) {
  pool_worker* w = arg;
  iso_pool* pool = w->pool;
  route_batch out[pool->nworkers];
  size_t room = 0;
  pool_job** slots = NULL;
  pthread_mutex_lock(&pool->lock);
  w->inflight -= (int)n;
  if (pool->qlen > 0 && !pool->draining) {
    room = (size_t)(pool->opts.max_inflight_per_worker - w->inflight);
    slots = malloc(sizeof(pool_job*) * (room ? room : 1));
  }
  for (int i = 0; i < pool->nworkers; i++) {
    out[i].jobs = slots;
    out[i].n = 0;
  }
  while (slots != NULL && out[w->id].n < room && pool->qlen > 0) {
    pool_job* job = queue_pop(pool);
    job->on_worker = 1;
    w->inflight++;
    route_add(out, w->id, job);
  }
  pthread_mutex_unlock(&pool->lock);
  route_send(pool, out);
  free(slots);
  for (size_t i = 0; i < n; i++) {
    pool_job* job = items[i];
    job->on_worker = 0;
    if (job->by_worker) {
      pool__job_answered(job);
    }
    pool__job_release(job);
  }
}

/* ---- the watchdog ---- */

static void* watchdog_main(void* arg) {
  iso_pool* pool = arg;
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
    /* JavaScript running past the deadline of the realm it runs for */
    for (int i = 0; i < pool->nworkers; i++) {
      iso_rt* rt = pool__worker_rt_lock(&pool->workers[i]);
      uint64_t gen, since, deadline;
      if (rt != NULL && iso_rt_running(rt, &gen, &since, &deadline) &&
          deadline != 0 && now > deadline) {
        iso_rt_terminate_gen(rt, gen);
      }
      pool__worker_rt_unlock(&pool->workers[i]);
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
      refuse(job, ISO_CODE_TIMEOUT, msg);
      pool__job_release(job);
    }
  }
}

/* ---- the pool's life ---- */

static int fail(char* err, size_t errlen, int rc, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return rc;
}

int iso_pool_start(const iso_pool_opts* opts,
                   iso_pool** out,
                   char* err,
                   size_t errlen) {
  iso_pool* pool = calloc(1, sizeof(*pool));
  if (pool == NULL) {
    return fail(err, errlen, ISO_ENOMEM, "out of memory");
  }
  pool->opts = *opts;
  iso_pool_opts* o = &pool->opts;
  if (o->workers <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = n > 0 ? (int)n : 1;
  }
  if (o->max_inflight_per_worker <= 0) {
    o->max_inflight_per_worker = 64;
  }
  if (o->max_queue <= 0) {
    o->max_queue = 4096;
  }
  if (o->max_message == 0) {
    o->max_message = (size_t)16 << 20;
  }
  if (o->timeout_ms == 0) {
    o->timeout_ms = 30000;
  }
  if (o->grace_ms == 0) {
    o->grace_ms = 5000;
  }
  if (o->heap_mb == 0) {
    o->heap_mb = 512;
  }
  static const char* const kDefaultUrl[] = {"tcp://127.0.0.1:7447"};
  if (o->nlisten == 0) {
    o->listen = kDefaultUrl;
    o->nlisten = 1;
  }
  pool->modules = realpath(o->modules ? o->modules : ".", NULL);
  if (pool->modules == NULL) {
    int rc = fail(err, errlen, ISO_ENOENT, "the module root %s does not exist",
                  o->modules ? o->modules : ".");
    free(pool);
    return rc;
  }
  pthread_mutex_init(&pool->lock, NULL);
  pthread_mutex_init(&pool->wd_lock, NULL);
  pthread_cond_init(&pool->wd_cond, NULL);
  pthread_mutex_init(&pool->start_lock, NULL);
  pthread_cond_init(&pool->start_cond, NULL);

  pool->nworkers = o->workers;
  pool->workers = calloc((size_t)pool->nworkers, sizeof(pool_worker));
  if (pool->workers == NULL) {
    return fail(err, errlen, ISO_ENOMEM, "out of memory");
  }
  int rc = pool__ops_start(pool, err, errlen);
  int launched = 0;
  for (int i = 0; i < pool->nworkers && rc == 0; i++) {
    pool_worker* w = &pool->workers[i];
    w->id = i;
    w->pool = pool;
    char name[64];
    snprintf(name, sizeof(name), "%p-w%d", (void*)pool, i);
    /* the worker reads its ends from its own loop (iso_bus_fd) */
    rc = iso_bus_open(name, disp_bus_cb, w, NULL, NULL, &w->disp_end, &w->end);
    if (rc == 0) {
      snprintf(name, sizeof(name), "%p-w%d-ops", (void*)pool, i);
      rc = iso_bus_open(name, NULL, NULL, NULL, NULL, &w->ops_peer,
                        &w->ops_end);
    }
    if (rc != 0) {
      fail(err, errlen, rc, "cannot open the message bus: %s",
           iso_strerror(rc));
      break;
    }
    rc = pool__worker_start(w);
    if (rc != 0) {
      fail(err, errlen, rc, "%s", w->start_err);
      break;
    }
    launched++;
  }
  pthread_mutex_lock(&pool->start_lock);
  while (pool->started < launched) {
    pthread_cond_wait(&pool->start_cond, &pool->start_lock);
  }
  pthread_mutex_unlock(&pool->start_lock);
  for (int i = 0; i < launched && rc == 0; i++) {
    if (pool->workers[i].start_rc != 0) {
      rc = fail(err, errlen, pool->workers[i].start_rc, "%s",
                pool->workers[i].start_err);
    }
  }
  if (rc == 0 &&
      pthread_create(&pool->watchdog, NULL, watchdog_main, pool) != 0) {
    rc = fail(err, errlen, ISO_ENOMEM, "cannot start the watchdog thread");
  }
  if (rc == 0) {
    iso_server_opts so = {
        .urls = o->listen,
        .nurls = o->nlisten,
        .max_message = o->max_message,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
        .cb = request_cb,
        .arg = pool,
    };
    rc = iso_server_start(&so, &pool->server, err, errlen);
    if (rc != 0) {
      pthread_mutex_lock(&pool->wd_lock);
      pool->wd_stop = 1;
      pthread_cond_signal(&pool->wd_cond);
      pthread_mutex_unlock(&pool->wd_lock);
      pthread_join(pool->watchdog, NULL);
    }
  }
  if (rc != 0) {
    for (int i = 0; i < launched; i++) {
      pool__worker_stop(&pool->workers[i]);
      pool__worker_free(&pool->workers[i]);
    }
    pool__ops_stop(pool);
    for (int i = 0; i < pool->nworkers; i++) {
      iso_bus_close(pool->workers[i].end);
      iso_bus_close(pool->workers[i].ops_end);
    }
    pool__ops_free(pool);
    free(pool->workers);
    free(pool->modules);
    free(pool);
    return rc;
  }
  if (!o->quiet) {
    fprintf(stderr, "isopool: serving on");
    for (size_t i = 0; i < o->nlisten; i++) {
      fprintf(stderr, " %s", o->listen[i]);
    }
    fprintf(stderr, " with %d workers (modules: %s)\n", pool->nworkers,
            pool->modules);
  }
  *out = pool;
  return 0;
}

static int total_inflight(iso_pool* pool) {
  int n = 0;
  pthread_mutex_lock(&pool->lock);
  for (int i = 0; i < pool->nworkers; i++) {
    n += pool->workers[i].inflight;
  }
  pthread_mutex_unlock(&pool->lock);
  return n;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

void iso_pool_shutdown(iso_pool* pool) {
  /* 1. stop taking jobs; what waits in the queue is answered now */
  pthread_mutex_lock(&pool->lock);
  pool->draining = 1;
  pool_job* queued = pool->qhead;
  pool->qhead = pool->qtail = NULL;
  pool->qlen = 0;
  pthread_mutex_unlock(&pool->lock);
  while (queued != NULL) {
    pool_job* job = queued;
    queued = job->qnext;
    refuse(job, ISO_CODE_SHUTTING_DOWN, "the service is shutting down");
    pool__job_release(job);
  }
  /* 2. the grace period for jobs on the workers */
  uint64_t end = pool__now() + (uint64_t)pool->opts.grace_ms * 1000000;
  while (total_inflight(pool) > 0 && pool__now() < end) {
    sleep_ms(5);
  }
  /* 3. the workers answer what is left shutting_down and give it back */
  for (int i = 0; i < pool->nworkers; i++) {
    pool__worker_stop(&pool->workers[i]);
  }
  pthread_mutex_lock(&pool->wd_lock);
  pool->wd_stop = 1;
  pthread_cond_signal(&pool->wd_cond);
  pthread_mutex_unlock(&pool->wd_lock);
  pthread_join(pool->watchdog, NULL);
  pool__ops_stop(pool); /* op responses due to stopped workers are freed */
  end = pool__now() + 2000000000ull;
  while (total_inflight(pool) > 0 && pool__now() < end) {
    sleep_ms(2);
  }
  /* 4. let the last replies leave, then close */
  iso_server_drain(pool->server, 1000);
}

void iso_pool_free(iso_pool* pool) {
  if (pool == NULL) {
    return;
  }
  iso_server_free(pool->server);
  for (int i = 0; i < pool->nworkers; i++) {
    iso_bus_close(pool->workers[i].end);
    iso_bus_close(pool->workers[i].ops_end);
    pool__worker_free(&pool->workers[i]);
  }
  pool__ops_free(pool);
  free(pool->workers);
  pthread_mutex_destroy(&pool->lock);
  pthread_mutex_destroy(&pool->wd_lock);
  pthread_cond_destroy(&pool->wd_cond);
  pthread_mutex_destroy(&pool->start_lock);
  pthread_cond_destroy(&pool->start_cond);
  free(pool->modules);
  free(pool);
}
