/* dispatch.c: the front dispatcher: requests in, jobs routed, cancel.
 *
 * DESIGN: requests arrive on NNG threads (ipc/iso_server.h). A ping (a
 * heartbeat, no job) is answered there and then (answer.c,
 * pool__answer_ping); a request with jobs that finds fewer than
 * POOL_PING_CONTEXTS of the REP contexts free is answered busy, so the
 * pings always find one (pool_private.h). Otherwise the request
 * callback copies the bytes, decodes them, and routes every job under
 * pool->lock: to the least-loaded worker with room (fewer than
 * max_inflight_per_worker in flight), else to the bounded wait queue, else
 * it is answered `busy` at once. A routed job takes a slot in its worker's
 * table (pool_worker.slots), whose index and generation are its token, and
 * its TASK record (ipc/iso_link.h: written from the request's bytes as it
 * arrives, but for what routing decides, which is patched in as it is
 * sent, so a refill costs copies, not encoding) leaves with the others for
 * that worker as one message on its jobs link; the worker never sees the
 * pool_job. Its records come back on the link (the link hub's thread), as
 * bytes from a worker that may be compromised (step 4: another process): a
 * message is decoded whole first (the decoder refuses what no worker
 * sends); each DONE names its job by token, the job leaves the slot, the
 * worker's count drops, queued jobs refill it, and the record's answer
 * (its reply, copied) is given if nobody gave one (answer.c, which has the
 * rule that each job is answered once, the registry, the replies and the
 * counting). What the front checks against its own state: a DONE's token
 * must name a job it sent that worker and has not had back, and its reply
 * must be within --max-message; a message that does not decode, or fails
 * these, makes the worker bad (pool__worker_bad: the watchdog declares it
 * lost, its jobs are answered worker_lost saying why, and nothing it says
 * is taken any more, though its jobs still leave it as it gives them
 * back). Every request is in the registry (pool->jobs_lock) from its
 * receipt to its last job's answer, for poolctl jobs and cancel, which
 * skip the jobs already answered. pool.c has the pool's life, watchdog.c
 * the watchdog, admin.c the admin plane.
 *
 * Locks: jobs_lock is taken before lock, never after; a worker's
 * perm_lock (its table of permission sets, ops.c) after lock, or alone
 * (route_send, the op threads after routes_lock), and nothing is taken
 * under it but a link's own mutex. Under lock: the
 * workers array, each worker's inflight and slots, each job's target,
 * token and on_worker, and the wait queue. A job is on_worker (in a slot)
 * from routing to the DONE record that gives it back; that record lowers
 * inflight and clears on_worker in one lock hold, so a worker seen under
 * the lock as some job's target has something in flight and is not
 * reaped before the lock is dropped (cancel sends it records under the
 * lock for that reason).
 *
 * Cancel (poolctl cancel, or the client's connection closed) answers the
 * job `cancelled` through the same claim as every answer. For a job on a
 * worker it also sends a HALT record, with the job's deadline, to the
 * worker's group (group.c): its watchdog stops the JavaScript the worker
 * runs if it runs for that job, which it tells by the deadline the
 * runtime reports: a job's own JavaScript (and all of an eval job's
 * realm) runs with the job's deadline, and no two jobs in flight share a
 * deadline (it carries the job's number: job_deadline). For a cancelled
 * job the watchdog acts as if that deadline were now. (A warm realm's shared
 * JavaScript runs with the earliest pending deadline + 50 ms, which equals
 * another job's deadline only for numbers 2^20 apart whose deadlines fall in
 * the same millisecond. Knowing the job by identity needs the runtime to report
 * which evaluation runs.) The worker gets a CANCEL record naming the
 * job's token and drops its task when its loop next runs. A closed connection's
 * jobs are the registered requests that came on it; a request whose connection
 * closed before it was registered (its notification came first) runs, and its
 * answer goes nowhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "pool_private.h"

/* ---- routing ---- */

/* Whether w takes new jobs: running, and not found sending what no worker
 * sends (pool__worker_bad: the watchdog is about to declare it lost; a
 * job routed to it meanwhile would be answered worker_lost for nothing).
 * Called with the lock. */
static int takes_jobs(const pool_worker* w) {
  return atomic_load(&w->state) == POOL_W_RUNNING && !atomic_load(&w->bad);
}

/* The least-loaded running worker with room, or NULL. Called with the
 * lock. */
static pool_worker* least_loaded(iso_pool* pool) {
  assert(pool__mutex_held(&pool->lock));
  pool_worker* best = NULL;
  int cap = pool->opts.max_inflight_per_worker;
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    if (takes_jobs(w) && w->inflight < cap &&
        (best == NULL || w->inflight < best->inflight)) {
      best = w;
    }
  }
  return best;
}

/* Gives job a slot in w's table (its token) and puts it on w. Called with
 * the lock; w has room (inflight < nslots). */
static void put_on(pool_worker* w, pool_job* job) {
  assert(pool__mutex_held(&w->pool->lock));
  assert(w->free_slot < w->nslots);
  uint32_t i = w->free_slot;
  pool_slot* s = &w->slots[i];
  w->free_slot = s->next;
  s->job = job;
  if (++s->gen == 0) {
    s->gen = 1;
  }
  job->token = (pool_token){.slot = i, .gen = s->gen};
  job->target = w;
  job->on_worker = 1;
  w->inflight++;
}

/* The job w's token names, taken off w (its slot freed), or NULL for a
 * token that names none (stale, or never given). Called with the lock. */
static pool_job* take_off(pool_worker* w, pool_token t) {
  assert(pool__mutex_held(&w->pool->lock));
  if (t.slot >= w->nslots || w->slots[t.slot].job == NULL ||
      w->slots[t.slot].gen != t.gen) {
    return NULL;
  }
  pool_slot* s = &w->slots[t.slot];
  pool_job* job = s->job;
  s->job = NULL;
  s->next = w->free_slot;
  w->free_slot = t.slot;
  w->inflight--;
  job->on_worker = 0;
  return job;
}

/* Writes job's TASK record ahead of its routing (all of it but its
 * slot, generation and permission set: put_task), into its request's
 * tasks. Called before the job is routed, outside the lock. */
static void task_ahead(pool_job* job) {
  const iso_proto_req* in = job->in;
  iso_buf* b = &job->req->tasks;
  iso_link_task t = {
      .kind = in->kind,
      .module = in->module,
      .export_name =
          in->kind == ISO_JOB_CALL ? in->export_name : (iso_str){NULL, 0},
      .source = in->source,
      .args = in->args,
      .deadline_ns = job->deadline_ns,
      .sid = (uint64_t)job->sid,
      .id = in->id,
      .received_ns = job->received_ns,
      .timeout_ms = job->timeout_ms,
      .cpu_ms = job->cpu_ms,
  };
  size_t at = b->len, perms_at = 0;
  if (iso_link_put_task_ahead(b, &t, &perms_at) == 0 &&
      b->len - at <= UINT32_MAX && at <= UINT32_MAX) {
    job->task_at = (uint32_t)at;
    job->task_len = (uint32_t)(b->len - at);
    job->task_perms_at = (uint32_t)perms_at;
  }
}

/* Writes job's TASK record for worker w to out: the one written ahead,
 * with its token and its permission set by the id it has there, and the
 * set itself when the id is new on w (scratch: for the set's bytes).
 * Returns 0, or the codec's error (out then as it was). Called with
 * w->perm_lock. */
static int put_task(pool_worker* w,
                    pool_job* job,
                    iso_buf* out,
                    iso_buf* scratch) {
  int send = 0;
  job->perm_id = pool__perm_id(w, job->perms, &send);
  if (job->task_len == 0) {
    return ISO_ENOMEM; /* it could not be written ahead */
  }
  iso_bytes perms = {NULL, 0};
  if (send) {
    /* 64 KiB at most, on the heap: a set goes once per worker and id, off
     * the job path's common case, and no routing thread's stack or TLS
     * carries it */
    size_t cap = ISO_PERM_REQ_KINDS * ISO_LINK_MAX_PERM_ENTRIES;
    iso_str* items = malloc(cap * sizeof(*items));
    iso_perm_req req;
    iso_buf_reset(scratch);
    int rc = items != NULL ? iso_perms_to_req(job->perms, &req, items, cap)
                           : ISO_ENOMEM;
    if (rc == 0) {
      rc = iso_link_put_perms(scratch, &req);
    }
    free(items); /* req's lists were in it: the set is written now */
    if (rc != 0) {
      return rc;
    }
    perms = (iso_bytes){scratch->data, scratch->len};
  }
  return iso_link_put_task_routed(
      out, job->req->tasks.data + job->task_at, job->task_len,
      job->task_perms_at, job->token.slot, job->token.gen, job->perm_id, perms);
}

/* Sends routed jobs (put_on under the lock) to their workers, their TASK
 * records in one message per worker (more only past the link's bound),
 * outside the lock (a job on a worker keeps it from being reaped: pool.c's
 * DESIGN). Each record names its job's permission set by its id on that
 * worker, and brings the set the first time the id is used: ids are
 * given and the message sent in one hold of the worker's perm_lock, so
 * the worker always gets a set before a record that names it without
 * bringing it. A job whose record cannot be written (out of memory) is
 * taken off its worker again and answered internal. */
static void route_send(pool_job** jobs, size_t n) {
  uint64_t now = pool__now();
  uint8_t small[4096];
  iso_buf out, scratch;
  iso_buf_init_with(&out, small, sizeof small);
  iso_buf_init(&scratch);
  pool_job* failed[n > 0 ? n : 1];
  size_t nfailed = 0;
  for (size_t i = 0; i < n; i++) {
    pool_worker* w = jobs[i] != NULL ? jobs[i]->target : NULL;
    if (w == NULL) {
      continue;
    }
    size_t limit = POOL_LINK_MAX(w->pool->opts.max_message);
    iso_buf_reset(&out);
    pthread_mutex_lock(&w->perm_lock);
    for (size_t j = i; j < n; j++) {
      pool_job* job = jobs[j];
      if (job == NULL || job->target != w) {
        continue;
      }
      jobs[j] = NULL;
      size_t mark = out.len;
      if (put_task(w, job, &out, &scratch) != 0) {
        failed[nfailed++] = job;
        continue;
      }
      atomic_store_explicit(&job->started_ns, now, memory_order_relaxed);
      if (out.len > limit && mark > 0) { /* past the bound: what was before
                                            goes first */
        iso_link_send(w->jobs, out.data, mark);
        memmove(out.data, out.data + mark, out.len - mark);
        out.len -= mark;
      }
    }
    iso_link_send(w->jobs, out.data, out.len); /* closing: dropped; the
                                                  jobs are answered as
                                                  their worker stops */
    pthread_mutex_unlock(&w->perm_lock);
  }
  iso_buf_close(&out);
  iso_buf_close(&scratch);
  for (size_t i = 0; i < nfailed; i++) {
    pool_job* job = failed[i];
    pool_worker* w = job->target;
    iso_pool* pool = w->pool;
    pool__mutex_lock(&pool->lock);
    pthread_mutex_lock(&w->perm_lock);
    if (take_off(w, job->token) == job) {
      pool__perm_release(w, job->perm_id);
    }
    pthread_mutex_unlock(&w->perm_lock);
    pool__mutex_unlock(&pool->lock);
    pool__answer_refuse(job, ISO_CODE_INTERNAL,
                        "the job could not be sent to its worker (out of "
                        "memory)");
  }
}

/* The wait queue. Called with the lock. */
static void queue_push(iso_pool* pool, pool_job* job) {
  assert(pool__mutex_held(&pool->lock));
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
  assert(pool__mutex_held(&pool->lock));
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

/* A job's CPU budget: the service's (--cpu-ms) is a ceiling, as its
 * grants are for permissions: a job may ask for less, never for more; a
 * job's own applies when the service has none. 0: none. */
static uint32_t job_cpu_ms(int64_t asked, uint32_t service) {
  if (asked <= 0) {
    return service;
  }
  uint32_t a = asked > 86400000 ? 86400000 : (uint32_t)asked;
  return service != 0 && service < a ? service : a;
}

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
    pool__answer_message(sreq, (iso_bytes){NULL, 0}, ISO_CODE_TOO_LARGE, msg,
                         pool->opts.max_message);
    pool_log_fields f = {.event = "request_too_large", .job = -1, .worker = -1};
    pool__log_event(pool, "debug", &f, "%s", msg);
    return;
  }
  pool_req* req = calloc(1, sizeof(*req));
  uint8_t* buf = malloc(len ? len : 1);
  if (req == NULL || buf == NULL) {
    free(req);
    free(buf);
    pool__answer_message(sreq, (iso_bytes){NULL, 0}, ISO_CODE_INTERNAL,
                         "out of memory", pool->opts.max_message);
    return;
  }
  memcpy(buf, data, len);
  iso_buf_init(&req->tasks);
  req->pool = pool;
  req->sreq = sreq;
  req->peer = iso_server_req_peer(sreq);
  req->buf = buf;
  req->len = len;
  char err[ISO_PROTO_ERRMSG_MAX];
  int rc = iso_proto_decode(buf, len, &req->msg, err, sizeof(err));
  if (rc == 0 && !req->msg.is_batch && req->msg.one.kind == ISO_JOB_PING) {
    /* a heartbeat: answered here, on this context, before any job; it
     * is not one (not registered, not counted, no worker) */
    pool__answer_ping(pool, sreq, req->msg.one.id);
    iso_proto_msg_close(&req->msg);
    free(req->buf);
    free(req);
    return;
  }
  if (rc == 0 && iso_server_req_room(sreq) < POOL_PING_CONTEXTS) {
    /* the contexts left are the pings' (pool_private.h) */
    pool__answer_message(
        sreq, req->msg.is_batch ? (iso_bytes){NULL, 0} : req->msg.one.id,
        ISO_CODE_BUSY,
        "every request context is taken (too many requests in flight)",
        pool->opts.max_message);
    pool_log_fields f = {.event = "request_refused", .job = -1, .worker = -1};
    pool__log_event(pool, "debug", &f, "busy: every request context is taken");
    iso_proto_msg_close(&req->msg);
    free(req->buf);
    free(req);
    return;
  }
  if (rc == 0) {
    req->jobs = calloc(req->msg.count, sizeof(pool_job));
    if (req->jobs == NULL) {
      rc = ISO_ENOMEM;
      snprintf(err, sizeof(err), "out of memory");
    }
  }
  if (rc != 0) {
    pool__answer_message(sreq, req->msg.err_id, iso_proto_code_from_err(rc),
                         err, pool->opts.max_message);
    pool_log_fields f = {.event = "request_refused", .job = -1, .worker = -1};
    pool__log_event(pool, "debug", &f, "%s: %s",
                    iso_proto_code_name(iso_proto_code_from_err(rc)), err);
    iso_proto_msg_close(&req->msg);
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
        iso_perms_narrow(pool->granted, &in->permissions, &req->jobs[i].perms,
                         why, sizeof(why)) != 0) {
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
  /* deadlines (they carry the job numbers), outside the lock; nobody
   * reads them before the lock hold below publishes the jobs */
  for (size_t i = 0; i < n; i++) {
    pool_job* job = &req->jobs[i];
    int64_t t = job->in->timeout_ms;
    job->timeout_ms =
        t > 0 ? (uint32_t)(t > 86400000 ? 86400000 : t) : pool->opts.timeout_ms;
    job->deadline_ns = job_deadline(now, job->timeout_ms, job->sid);
    job->cpu_ms = job_cpu_ms(job->in->cpu_ms, pool->opts.cpu_ms);
    job->cpu_us = -1; /* until a DONE record says what it cost */
  }
  /* their TASK records, now: routing (in a worker's refill, the busiest
   * path) then only fills in what it decides */
  iso_buf_reserve(&req->tasks, len + n * 48);
  for (size_t i = 0; i < n; i++) {
    pool_job* job = &req->jobs[i];
    if (job->in->err == 0 && job->perms != NULL) {
      task_ahead(job);
    }
  }
  pool__mutex_lock(&pool->lock);
  for (size_t i = 0; i < n; i++) {
    pool_job* job = &req->jobs[i];
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
      put_on(w, job);
      routed[nrouted++] = job;
    } else if (pool->qlen < pool->opts.max_queue) {
      queue_push(pool, job);
    } else {
      refused[nrefused] = job;
      refused_code[nrefused++] = ISO_CODE_BUSY;
    }
  }
  pool__mutex_unlock(&pool->lock);
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
    pool__answer_refuse(job, refused_code[i], msg);
  }
}

/* Worker w gave jobs back (`tokens`, n of them, from its DONE records;
 * none: w just became ready or recycled): their jobs leave it (done[i] is
 * each one's job, or NULL for a token that names none: the caller's to
 * report), then it gets as many queued jobs as it now has room for (the
 * queue is drained in order), in one hold of the lock; they are sent
 * outside it. */
static void refill(iso_pool* pool,
                   pool_worker* w,
                   const pool_token* tokens,
                   size_t n,
                   pool_job** done) {
  pool_job* stack[64];
  pool_job** jobs = stack;
  size_t k = 0;
  pool__mutex_lock(&pool->lock);
  if (n > 0) {
    pthread_mutex_lock(&w->perm_lock); /* their sets' users, before the
                                          jobs below take new ones */
  }
  for (size_t i = 0; i < n; i++) {
    done[i] = take_off(w, tokens[i]);
    if (done[i] != NULL) {
      pool__perm_release(w, done[i]->perm_id);
    }
  }
  if (n > 0) {
    pthread_mutex_unlock(&w->perm_lock);
  }
  if (pool->qlen > 0 && takes_jobs(w)) {
    size_t room = (size_t)(pool->opts.max_inflight_per_worker - w->inflight);
    if (room > 64) {
      jobs = malloc(sizeof(pool_job*) * room);
      room = jobs != NULL ? room : 64;
      jobs = jobs != NULL ? jobs : stack;
    }
    while (k < room && pool->qlen > 0) {
      pool_job* job = queue_pop(pool);
      put_on(w, job);
      jobs[k++] = job;
    }
  }
  pool__mutex_unlock(&pool->lock);
  route_send(jobs, k);
  if (jobs != stack) {
    free(jobs);
  }
}

void pool__refill(iso_pool* pool, pool_worker* w) {
  refill(pool, w, NULL, 0, NULL);
}

size_t pool__worker_release_all(pool_worker* w) {
  iso_pool* pool = w->pool;
  pool_job* stack[64];
  pool_job** jobs = stack;
  size_t n = 0;
  pool__mutex_lock(&pool->lock);
  if (w->inflight > 64) {
    jobs = malloc(sizeof(*jobs) * (size_t)w->inflight);
    if (jobs == NULL) {
      abort(); /* the requests would never be freed */
    }
  }
  pthread_mutex_lock(&w->perm_lock);
  for (uint32_t i = 0; i < w->nslots; i++) {
    pool_job* job = w->slots[i].job;
    if (job != NULL &&
        take_off(w, (pool_token){.slot = i, .gen = w->slots[i].gen}) == job) {
      pool__perm_release(w, job->perm_id);
      jobs[n++] = job;
    }
  }
  pthread_mutex_unlock(&w->perm_lock);
  pool__mutex_unlock(&pool->lock);
  for (size_t i = 0; i < n; i++) {
    pool__answer_release(jobs[i]);
  }
  if (jobs != stack) {
    free(jobs);
  }
  return n;
}

/* A STATE record: what the worker alone knows of its life. */
static void worker_state(pool_worker* w, int state) {
  iso_pool* pool = w->pool;
  int refill_now = 0;
  pool__mutex_lock(&pool->lock);
  int st = atomic_load(&w->state);
  switch (state) {
    case POOL_W_RECYCLING: /* condemned: no new jobs */
    case POOL_W_RETIRING:  /* recycling failed: no more jobs */
      if (st == POOL_W_RUNNING || st == POOL_W_RECYCLING) {
        atomic_store(&w->state, state);
      }
      break;
    case POOL_W_RUNNING: /* recycled */
      if (st == POOL_W_RECYCLING) {
        atomic_store(&w->state, POOL_W_RUNNING);
        refill_now = 1;
      }
      break;
    case POOL_W_STOPPED: /* its loop ended: pool__reap may join it */
      atomic_store(&w->exited, 1);
      break;
    default: /* STARTING: it never says so */
      break;
  }
  pool__mutex_unlock(&pool->lock);
  if (refill_now) {
    pool__refill(pool, w);
  }
}

/* A record of w's other than DONE. */
static void worker_record(pool_worker* w, const iso_link_rec* r) {
  switch (r->kind) {
    case ISO_LINK_INFO: {
      const iso_link_info* i = &r->u.info;
      atomic_store(&w->heap_used, (long long)i->heap_used);
      atomic_store(&w->heap_limit, (long long)i->heap_limit);
      atomic_store(&w->warm_modules, (int)i->warm_modules);
      break;
    }
    case ISO_LINK_RELOADED:
      pthread_mutex_lock(&w->info_lock);
      w->reload_realms = (int)r->u.reloaded.n;
      w->reload_pending = 0;
      pthread_cond_broadcast(&w->info_cond);
      pthread_mutex_unlock(&w->info_lock);
      break;
    case ISO_LINK_STATE:
      worker_state(w, (int)r->u.state.state);
      break;
    case ISO_LINK_RECYCLED: /* the decoder checked both */
      atomic_fetch_add(&w->pool->recycles[r->u.recycled.reason], 1);
      atomic_fetch_add(&w->recycles, 1);
      if (r->u.recycled.how == ISO_LINK_HOW_COLD) {
        atomic_fetch_add(&w->pool->recycles_cold, 1);
      }
      break;
    case ISO_LINK_READY: {
      const iso_link_ready* rd = &r->u.ready;
      pthread_mutex_lock(&w->info_lock);
      if (!w->ready) { /* its first one counts */
        w->start_rc = -(int)rd->rc;
        snprintf(w->start_err, sizeof(w->start_err), "%.*s", (int)rd->error.len,
                 rd->error.ptr ? rd->error.ptr : "");
        w->ready = 1;
        pthread_cond_broadcast(&w->info_cond);
        pthread_mutex_unlock(&w->info_lock);
        if (w->proc != NULL) { /* its process may now be ready */
          pool__proc_ready(w);
        }
        break;
      }
      pthread_mutex_unlock(&w->info_lock);
      break;
    }
    default: /* the decoder hands out this link's kinds only */
      break;
  }
}

/* The records of one message from w, decoded (they point into it). */
typedef struct jobs_msg {
  iso_link_rec* recs;
  size_t n;
  pool_token* tokens; /* its DONE records', in order */
  pool_job** jobs;    /* ... and their jobs (refill) */
  size_t ndone;
} jobs_msg;

/* Decodes the message into m, up to the first record that does not
 * decode (then reported: pool__worker_bad; the records before it are
 * still handled). Returns 0, or ISO_ENOMEM. */
static int jobs_decode(pool_worker* w,
                       const uint8_t* data,
                       size_t len,
                       jobs_msg* m,
                       size_t stack_cap) {
  iso_link_rd rd;
  char err[256];
  if (iso_link_rd_init(&rd, ISO_LINK_WORKER_JOBS, data, len, err, sizeof err) !=
      0) {
    pool__worker_bad(w, "%s", err);
    return 0;
  }
  size_t cap = stack_cap;
  for (;;) {
    if (m->n == cap) {
      size_t grown_cap = cap * 2;
      int heap = cap != stack_cap;
      iso_link_rec* recs = heap ? realloc(m->recs, grown_cap * sizeof(*recs))
                                : malloc(grown_cap * sizeof(*recs));
      if (recs == NULL) {
        return ISO_ENOMEM;
      }
      if (!heap) {
        memcpy(recs, m->recs, m->n * sizeof(*recs));
      }
      m->recs = recs;
      cap = grown_cap;
    }
    int rc = iso_link_rd_next(&rd, &m->recs[m->n], err, sizeof err);
    if (rc == 0) {
      return 0;
    }
    if (rc < 0) {
      pool__worker_bad(w, "%s", err);
      return 0;
    }
    m->n++;
  }
}

/* A DONE record of w's, for its job (NULL: its token names none). */
static void worker_done(pool_worker* w, const iso_link_done* d, pool_job* job) {
  iso_pool* pool = w->pool;
  if (job == NULL) {
    pool__worker_bad(w,
                     "a DONE record names no job sent to it and not given "
                     "back (slot %u, generation %u)",
                     d->slot, d->gen);
    return;
  }
  if (d->reply.len + ISO_PROTO_STATS_MAX > pool->opts.max_message) {
    /* the stats the front adds must fit too (worker_task.c keeps to it) */
    pool__worker_bad(w,
                     "a reply of %zu bytes, over the limit of %zu "
                     "(--max-message) with its stats",
                     d->reply.len, pool->opts.max_message);
  }
  if (atomic_load(&w->bad)) {
    /* what it says is not taken: the job is answered worker_lost (unless
     * someone did), and only leaves it */
    if (pool__answer_claim(job)) {
      pool__answer_claimed(job, ISO_CODE_WORKER_LOST, w->bad_why, w->id);
    }
    pool__answer_release(job);
    return;
  }
  pool__answer_done(w, job, d);
}

void pool__jobs_msg_cb(const uint8_t* data, size_t len, void* arg) {
  pool_worker* w = arg;
  assert(!pool__on_worker(NULL));
  enum { STACK = 32 };
  iso_link_rec recs[STACK];
  pool_token tokens[STACK] = {{0}};
  pool_job* jobs[STACK];
  jobs_msg m = {.recs = recs, .tokens = tokens, .jobs = jobs};
  if (jobs_decode(w, data, len, &m, STACK) != 0) {
    abort(); /* its jobs would never be answered */
  }
  for (size_t i = 0; i < m.n; i++) {
    m.ndone += m.recs[i].kind == ISO_LINK_DONE;
  }
  if (m.ndone > STACK) {
    m.tokens = malloc(m.ndone * sizeof(*m.tokens));
    m.jobs = malloc(m.ndone * sizeof(*m.jobs));
    if (m.tokens == NULL || m.jobs == NULL) {
      abort(); /* likewise */
    }
  }
  for (size_t i = 0, k = 0; i < m.n; i++) {
    if (m.recs[i].kind == ISO_LINK_DONE) {
      const iso_link_done* d = &m.recs[i].u.done;
      m.tokens[k++] = (pool_token){.slot = d->slot, .gen = d->gen};
    }
  }
  refill(w->pool, w, m.tokens, m.ndone, m.jobs);
  for (size_t i = 0, k = 0; i < m.n; i++) {
    if (m.recs[i].kind == ISO_LINK_DONE) {
      worker_done(w, &m.recs[i].u.done, m.jobs[k++]);
    } else {
      worker_record(w, &m.recs[i]);
    }
  }
  if (m.recs != recs) {
    free(m.recs);
  }
  if (m.tokens != tokens) {
    free(m.tokens);
    free(m.jobs);
  }
}

void pool__jobs_event_cb(iso_link* link, iso_link_event ev, void* arg) {
  pool_worker* w = arg;
  (void)link;
  if (ev != ISO_LINK_PEER_GONE || atomic_load(&w->stop_sent)) {
    return;
  }
  if (w->proc != NULL) { /* its process's exit answers its jobs */
    char what[64];
    snprintf(what, sizeof what, "worker %d's jobs link closed", w->id);
    pool__proc_gone(w->proc, what);
    return;
  }
  pthread_mutex_lock(&w->info_lock);
  int started = w->ready && w->start_rc == 0; /* else it ends by itself */
  pthread_mutex_unlock(&w->info_lock);
  if (started) {
    pool__worker_bad(w,
                     "its jobs link closed (it ended, or sent a message "
                     "over the link's limit)");
  }
}

/* ---- cancel ---- */

/* pool__cancel_begin's work. Called with jobs_lock and the lock. */
static void cancel_begin_locked(iso_pool* pool, pool_job* job, pool_cancel* c) {
  assert(pool__mutex_held(&pool->jobs_lock));
  assert(pool__mutex_held(&pool->lock));
  assert(!pool__on_worker(NULL));
  *c = (pool_cancel){.job = job};
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
  c->claimed = pool__answer_claim(job);
  c->worker = -1;
  if (job->on_worker) {
    /* on_worker under the lock: its worker is in the array (the DESIGN
     * above), so waking it here cannot touch a freed worker */
    pool_worker* w = job->target;
    c->worker = w->id;
    if (pool->stopping < POOL_STOP_WORKERS) { /* its loop still runs */
      /* its group's watchdog stops the job's JavaScript now (it may be
       * what keeps the worker's loop from the CANCEL) */
      pool__halt_send(w, job->deadline_ns);
      iso_link_rec rec = {
          .kind = ISO_LINK_CANCEL,
          .u.cancel = {.slot = job->token.slot, .gen = job->token.gen}};
      pool__worker_send(w, &rec);
    }
  }
  atomic_fetch_add(&job->req->refs, 1); /* ours, until cancel_end */
}

/* Called with jobs_lock (see pool_private.h). */
void pool__cancel_begin(iso_pool* pool, pool_job* job, pool_cancel* c) {
  pool__mutex_lock(&pool->lock);
  cancel_begin_locked(pool, job, c);
  pool__mutex_unlock(&pool->lock);
}

void pool__cancel_end(iso_pool* pool, pool_cancel* c, const char* msg) {
  pool_job* job = c->job;
  if (c->claimed) {
    pool__answer_claimed(job, ISO_CODE_CANCELLED, msg, c->worker);
  }
  if (c->queued) {
    pool__answer_release(job); /* the queue's reference */
  }
  pool__answer_release(job);
}

/* A client's connection closed: its jobs are cancelled (their answers
 * would go nowhere; the work stops and is counted). Thread: an NNG
 * thread (iso_server's pipe notification). */
void pool__peer_closed_cb(uint32_t peer, void* arg) {
  iso_pool* pool = arg;
  pool_cancel* cs = NULL;
  size_t n = 0, cap = 0;
  assert(!pool__mutex_held(&pool->lock)); /* jobs_lock comes first */
  pool__mutex_lock(&pool->jobs_lock);
  /* one hold of the lock for all of them: a running job stopped first
   * could otherwise come back, and its worker be refilled with a queued
   * job of the same client, before the loop reached that one (it ran,
   * though cancelled) */
  pool__mutex_lock(&pool->lock);
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
      cancel_begin_locked(pool, &req->jobs[i], &cs[n++]);
    }
  }
  pool__mutex_unlock(&pool->lock);
  pool__mutex_unlock(&pool->jobs_lock);
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
