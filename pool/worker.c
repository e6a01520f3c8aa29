/* worker.c: a worker thread: one isolate, its runtime and its libuv
 * loop, and its ends of the two links to the front.
 *
 * DESIGN: the worker side of a job is a pool_task (worker_task.c), made
 * from the TASK record the front sent; the worker never sees the front's
 * pool_job, and answers with a DONE record that names the job by its
 * token and carries the reply map the worker encoded; the front claims
 * the answer (answer.c). All of it is bytes on the worker's jobs link
 * (ipc/iso_link.h, docs/link.md: a socket the front made, given to the
 * worker as it starts), read from its own loop: a uv_poll on the link's
 * fd (iso_link_fd). When messages wait, the loop takes them all
 * (iso_link_drain, which also writes what a full socket held back) and
 * decodes their records straight into the start of each task, on the
 * worker's own thread; no other thread, queue or lock stands between
 * the front's send and the
 * task's start. The runtime's tick then runs at once. A uv_prepare
 * handle, which runs after the runtime's tick in each loop iteration,
 * finishes the settled tasks and sends the iteration's records in one
 * message (pool__runner_send). Its async ops go the same way on its ops
 * link (worker_ops.c).
 *
 * Everything else comes as records too, in order with the tasks: CANCEL,
 * RELOAD (answered RELOADED), RECYCLE (a fresh isolate once idle, then
 * STATE running), STOP (what is left answered shutting_down, STATE
 * stopped, the loop ends). The worker tells the front what only it knows
 * with INFO (heap, warm modules: every 500 ms), STATE (a condemned
 * runtime asks for no new jobs) and READY (its runtime is up, or why
 * not: its first record). It trusts the front but decodes with the same
 * code: a message it cannot read is logged and dropped. It sees no
 * structure of the front's: it includes pool_base.h, worker.h and
 * group_private.h only (through worker_private.h), and was given what it
 * needs at its start (pool_runner_opts).
 *
 * Only the worker's thread touches its runtime, its realms and its tasks;
 * the group's watchdog reads w->rt under rt_lock and sets `halted`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"
#include "worker_private.h"

/* iso_pool_opts.background_ms's default. */
#define POOL_BACKGROUND_MS 1000

static void maybe_recycle(pool_runner* w);

/* ---- records for the front ---- */

void pool__runner_put(pool_runner* w, const iso_link_rec* rec) {
  assert(pool__on_worker(w));
  size_t mark = w->out.len;
  if (iso_link_put(&w->out, rec) != 0) {
    abort(); /* a job would be lost; nothing sane is left to do */
  }
  if (w->out.len > w->out_max && mark > 0) {
    /* past the link's bound: what was before goes first */
    iso_link_send(w->jobs, w->out.data, mark);
    memmove(w->out.data, w->out.data + mark, w->out.len - mark);
    w->out.len -= mark;
  }
}

void pool__runner_send(pool_runner* w) {
  assert(pool__on_worker(w));
  if (w->out.len > 0) {
    iso_link_send(w->jobs, w->out.data, w->out.len); /* closing: dropped */
    iso_buf_reset(&w->out);
  }
}

static void put_state(pool_runner* w, int state) {
  iso_link_rec r = {.kind = ISO_LINK_STATE,
                    .u.state = {.state = (iso_link_wstate)state}};
  pool__runner_put(w, &r);
}

void pool__runner_info(pool_runner* w) {
  assert(pool__on_worker(w));
  if (w->rt == NULL) {
    return;
  }
  size_t used = 0, limit = 0;
  iso_rt_heap(w->rt, &used, &limit);
  iso_link_rec r = {
      .kind = ISO_LINK_INFO,
      .u.info = {.heap_used = used,
                 .heap_limit = limit,
                 .warm_modules = (uint32_t)pool__warm_modules(w)}};
  pool__runner_put(w, &r);
}

/* The runtime asks for a new isolate (iso_rt_condemned): the worker asks
 * the front for no new jobs (STATE recycling), answers the ones it has,
 * and recycles, as `poolctl recycle` does. A halted worker (the service or
 * the worker stops: its STOP is on the way) makes no new isolate. */
static void check_condemned(pool_runner* w) {
  assert(pool__on_worker(w));
  const char* why = w->rt != NULL ? iso_rt_condemned(w->rt) : NULL;
  if (why == NULL || w->recycle_wanted || atomic_load(&w->halted)) {
    return;
  }
  put_state(w, POOL_W_RECYCLING);
  w->recycle_wanted = 1;
  pool__logf(&w->o.log, "warn", "worker %d: %s; recycling its isolate", w->id,
             why);
}

/* Runs after the runtime's tick in every loop iteration. */
static void flush_cb(uv_prepare_t* h) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  check_condemned(w);
  if (pool__tasks_finish(w)) {
    pool__warm_deadlines(w);
    pool__tasks_arm(w);
    pool__warm_free_stale(w);
  }
  if (w->recycle_wanted) {
    maybe_recycle(w);
  }
  pool__runner_send(w);
}

/* Op responses are back (worker_ops.c); the jobs they settled finish in
 * this iteration. */
static void ops_poll_cb(uv_poll_t* h, int status, int events) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  if (pool__runner_ops_read(w) > 0) {
    flush_cb(&w->flush);
  }
}

/* ---- the front's records ---- */

/* RELOAD (poolctl reload): drops the warm realms (those that loaded the
 * module, if one is named) so the next calls load the modules again;
 * answers with INFO, then RELOADED. */
static void reload(pool_runner* w, iso_str spec) {
  char name[ISO_LINK_MAX_NAME + 1];
  snprintf(name, sizeof name, "%.*s", (int)spec.len, spec.ptr);
  int dropped = pool__warm_reload(w, name);
  pool__runner_info(w);
  iso_link_rec r = {.kind = ISO_LINK_RELOADED,
                    .u.reloaded = {.n = (uint32_t)dropped}};
  pool__runner_put(w, &r);
}

/* STOP: answers what is still running, gives every job back, says STATE
 * stopped (its last record) and ends the loop. (STOP's grace_ms is 0 from
 * this front, which waited out the grace itself: docs/link.md.) */
static void stop_jobs(pool_runner* w) {
  assert(pool__on_worker(w));
  pool__tasks_stop(w);
  put_state(w, POOL_W_STOPPED);
  pool__runner_send(w);
  uv_stop(&w->loop);
}

/* A message of the front's records, valid only during the call, handled
 * in order: a TASK is started now (or, once a STOP came, given back); a
 * recycle waits for maybe_recycle, which jobs_poll_cb runs after. */
static void take_cb(const uint8_t* data, size_t len, void* arg) {
  pool_runner* w = arg;
  assert(pool__on_worker(w));
  iso_link_rd rd;
  iso_link_rec r;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_FRONT_JOBS, data, len, err, sizeof err);
  if (rc == 0) {
    rc = 1;
  }
  while (rc == 1 && (rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    switch (r.kind) {
      case ISO_LINK_TASK:
        pool__task_take(w, &r.u.task);
        break;
      case ISO_LINK_CANCEL:
        pool__task_cancel(w, r.u.cancel.slot, r.u.cancel.gen);
        break;
      case ISO_LINK_RELOAD:
        reload(w, r.u.reload.spec);
        break;
      case ISO_LINK_RECYCLE:
        w->recycle_wanted = 1;
        break;
      case ISO_LINK_STOP:
        w->stopping = 1;
        break;
      default: /* the decoder hands out this link's kinds only */
        break;
    }
  }
  if (rc < 0) { /* the front's fault: its jobs there are lost to it */
    pool__logf(&w->o.log, "error", "worker %d: the front's records refused: %s",
               w->id, err);
  }
}

/* The jobs link's fd is readable: the worker reads every message
 * waiting, starts their tasks and runs them in this loop iteration. */
static void jobs_poll_cb(uv_poll_t* h, int status, int events) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  if (iso_link_drain(w->jobs, take_cb, w) == 0) {
    return;
  }
  if (w->stopping) {
    stop_jobs(w);
    return;
  }
  /* the deadlines first: the watchdog reads them while the calls run
   * (flush_cb updates them again for the tasks it finishes) */
  pool__warm_deadlines(w);
  pool__tasks_arm(w);
  /* run them now rather than a trip around the loop later */
  iso_rt_tick(w->rt);
  flush_cb(&w->flush);
}

static void handle_closed_cb(uv_handle_t* h) {}

/* ---- the worker's runtime: started, recycled, stopped ---- */

static void info_timer_cb(uv_timer_t* t) {
  pool_runner* w = t->data;
  pool__runner_info(w);
  pool__runner_send(w);
}

static int rt_new(pool_runner* w) {
  assert(pool__on_worker(w));
  iso_rt_opts ro = {
      .loop = &w->loop,
      .root = w->o.modules,
      .import_map = w->import_map,
      .heap_max_mb = w->o.heap_mb,
      /* a larger value could not be sent back anyway */
      .value_max_bytes = w->o.max_message,
      .ops_env = w->o.ops_env,
      .op_send = pool__runner_op_send,
      .op_send_data = w,
      .op_perm_ids = 1, /* the front's op threads resolve them */
      .background_ms =
          w->o.background_ms ? w->o.background_ms : POOL_BACKGROUND_MS,
  };
  iso_rt* rt = NULL;
  int rc = iso_rt_new(&ro, &rt);
  pthread_mutex_lock(&w->rt_lock); /* the watchdog reads w->rt */
  w->rt = rt;
  pthread_mutex_unlock(&w->rt_lock);
  return rc;
}

/* Frees the warm realms and the runtime; its handles close as the loop
 * runs on. */
static void rt_free(pool_runner* w) {
  assert(pool__on_worker(w));
  pool__warm_free_all(w);
  pthread_mutex_lock(&w->rt_lock);
  iso_rt* rt = w->rt;
  w->rt = NULL;
  pthread_mutex_unlock(&w->rt_lock);
  iso_rt_free(rt);
}

/* poolctl recycle, or a condemned runtime: once nothing is in flight
 * here, a fresh isolate; STATE running tells the front it takes jobs
 * again (it sends none meanwhile: it marked the worker recycling). */
static void maybe_recycle(pool_runner* w) {
  assert(pool__on_worker(w));
  if (!w->recycle_wanted || w->active != NULL || atomic_load(&w->halted)) {
    return;
  }
  w->recycle_wanted = 0;
  rt_free(w);
  if (rt_new(w) != 0) {
    pool__logf(&w->o.log, "error", "worker %d: recycling failed; it retires",
               w->id);
    put_state(w, POOL_W_RETIRING);
    return;
  }
  pool__logf(&w->o.log, "info", "worker %d: recycled (a fresh isolate)", w->id);
  pool__runner_info(w);
  put_state(w, POOL_W_RUNNING);
}

/* The READY record: the runtime is up, or why not. */
static void put_ready(pool_runner* w, int rc) {
  char err[256] = "";
  if (rc != 0) {
    snprintf(err, sizeof(err), "worker %d: cannot start a runtime: %s", w->id,
             iso_strerror(rc));
  }
  iso_link_rec r = {
      .kind = ISO_LINK_READY,
      .u.ready = {.rc = (uint32_t)(rc < 0 ? -rc : rc) & ISO_LINK_MAX_RC,
                  .error = iso_str_of(rc != 0 ? err : NULL)},
  };
  if (rc != 0 && r.u.ready.rc == 0) {
    r.u.ready.rc = (uint32_t)-ISO_EINTERNAL;
  }
  pool__runner_put(w, &r);
}

static void* runner_main(void* arg) {
  pool_runner* w = arg;
  char name[16];
  snprintf(name, sizeof(name), "isopool-w%d", w->id);
  pthread_setname_np(pthread_self(), name);
#ifndef NDEBUG
  pool__this_worker = w; /* for pool__on_worker */
#endif
  uv_loop_init(&w->loop);
  int rc = rt_new(w);
  pool__group_wait_released(w->group); /* a pool process seals first */
  put_ready(w, rc);
  if (rc != 0) {
    pool__runner_send(w);
    rt_free(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    return NULL;
  }
  uv_prepare_init(&w->loop, &w->flush);
  w->flush.data = w;
  uv_prepare_start(&w->flush, flush_cb);
  uv_unref((uv_handle_t*)&w->flush);
  uv_timer_init(&w->loop, &w->deadline);
  w->deadline.data = w;
  uv_timer_init(&w->loop, &w->ops_timer);
  w->ops_timer.data = w;
  uv_timer_init(&w->loop, &w->info_timer);
  w->info_timer.data = w;
  uv_timer_start(&w->info_timer, info_timer_cb, 500, 500);
  uv_unref((uv_handle_t*)&w->info_timer);
  uv_poll_init(&w->loop, &w->jobs_poll, iso_link_fd(w->jobs));
  w->jobs_poll.data = w;
  uv_poll_start(&w->jobs_poll, UV_READABLE, jobs_poll_cb);
  uv_poll_init(&w->loop, &w->ops_poll, iso_link_fd(w->ops));
  w->ops_poll.data = w;
  uv_poll_start(&w->ops_poll, UV_READABLE, ops_poll_cb);
  pool__runner_info(w);
  pool__runner_send(w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  rt_free(w);
  pool__runner_ops_close(w); /* the batches out: their runtime is gone */
  uv_close((uv_handle_t*)&w->flush, handle_closed_cb);
  uv_close((uv_handle_t*)&w->deadline, handle_closed_cb);
  uv_close((uv_handle_t*)&w->ops_timer, handle_closed_cb);
  uv_close((uv_handle_t*)&w->info_timer, handle_closed_cb);
  uv_close((uv_handle_t*)&w->jobs_poll, handle_closed_cb);
  uv_close((uv_handle_t*)&w->ops_poll, handle_closed_cb);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  return NULL;
}

/* ---- its life, as the front sees it (worker.h) ---- */

/* Opens its ends of the links, read by its loop; takes both
 * descriptors. Returns 0 or the link's error, with err. */
static int links_open(pool_runner* w,
                      int jobs_fd,
                      int ops_fd,
                      char* err,
                      size_t errlen) {
  size_t head_len;
  const uint8_t* head = iso_link_head(&head_len);
  size_t max = POOL_LINK_MAX(w->o.max_message);
  iso_link_opts jo = {
      .fd = jobs_fd,
      .max_recv = max,
      .max_send = max,
      .head = head,
      .head_len = head_len,
  };
  int rc = iso_link_new(&jo, &w->jobs, err, errlen);
  iso_link_opts oo = jo;
  oo.fd = ops_fd;
  oo.max_recv = oo.max_send = POOL_OPS_LINK_MAX;
  if (rc == 0) {
    rc = iso_link_new(&oo, &w->ops, err, errlen);
  } else {
    close(ops_fd);
  }
  w->out_max = max - head_len;
  return rc;
}

int pool__runner_start(pool_group* g,
                       const pool_runner_opts* o,
                       pool_runner** out,
                       char* err,
                       size_t errlen) {
  assert(!pool__on_worker(NULL));
  pool_runner* w = calloc(1, sizeof(*w));
  if (w == NULL) {
    close(o->jobs_fd);
    close(o->ops_fd);
    return ISO_ENOMEM;
  }
  w->o = *o;
  w->o.jobs_fd = w->o.ops_fd = -1; /* the links' from here on */
  w->id = o->id;
  w->nslots = o->nslots;
  w->o.modules = strdup(o->modules);
  w->cancelled = calloc(o->nslots > 0 ? o->nslots : 1, sizeof(*w->cancelled));
  w->nperms = o->nperms;
  w->perms = calloc(o->nperms > 0 ? o->nperms : 1, sizeof(*w->perms));
  iso_buf_init(&w->out);
  iso_buf_init(&w->reply);
  iso_buf_init(&w->ops_buf);
  pthread_mutex_init(&w->rt_lock, NULL);
  if (w->o.modules == NULL || w->cancelled == NULL || w->perms == NULL) {
    close(o->jobs_fd);
    close(o->ops_fd);
    pool__runner_free(w);
    return ISO_ENOMEM;
  }
  w->o.import_map = w->o.import_map_url = NULL; /* parsed here, not kept */
  if (o->import_map != NULL) {
    /* the front parsed it first and showed its warnings */
    int rc = iso_import_map_new(o->import_map, strlen(o->import_map),
                                o->import_map_url, &w->import_map, NULL, err,
                                errlen);
    if (rc != 0) {
      close(o->jobs_fd);
      close(o->ops_fd);
      pool__runner_free(w);
      return rc;
    }
  }
  int rc = links_open(w, o->jobs_fd, o->ops_fd, err, errlen);
  if (rc != 0) {
    pool__runner_free(w);
    return rc;
  }
  if (pool__group_join(g, w, o->id, o->nslots) != 0) {
    pool__runner_free(w);
    return ISO_ENOMEM;
  }
  w->group = g; /* watched from now on */
  if (pthread_create(&w->thread, NULL, runner_main, w) != 0) {
    pool__runner_free(w);
    return ISO_ENOMEM;
  }
  w->thread_started = 1;
  *out = w;
  return 0;
}

int pool__runner_join(pool_runner* w, uint64_t until_ns) {
  assert(!pool__on_worker(w)); /* it would wait for itself */
  if (!w->thread_started) {
    return 0;
  }
  if (until_ns == 0) {
    pthread_join(w->thread, NULL);
    w->thread_started = 0;
    return 0;
  }
  /* JavaScript stuck where a stop cannot reach it (a builtin that never
   * checks, an engine bug) would hold the join for ever */
  uint64_t now = pool__now();
  uint64_t left = until_ns > now ? until_ns - now : 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(left / 1000000000u);
  ts.tv_nsec += (long)(left % 1000000000u);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  if (pthread_timedjoin_np(w->thread, NULL, &ts) != 0) {
    return ISO_ETIMEDOUT;
  }
  w->thread_started = 0;
  return 0;
}

void pool__runner_free(pool_runner* w) {
  if (w == NULL) {
    return;
  }
  assert(!pool__on_worker(w));
  assert(!w->thread_started);
  if (w->group != NULL) {
    pool__group_leave(w->group, w); /* the watchdog lets go of it */
  }
  iso_link_free(w->jobs);
  iso_link_free(w->ops);
  pool__tasks_close(w);
  pool__runner_ops_close(w);
  iso_buf_close(&w->out);
  iso_buf_close(&w->reply);
  free(w->cancelled);
  for (uint32_t i = 0; w->perms != NULL && i < w->nperms; i++) {
    iso_perms_unref(w->perms[i].perms);
  }
  free(w->perms);
  free((char*)w->o.modules);
  iso_import_map_free(w->import_map);
  pthread_mutex_destroy(&w->rt_lock);
  free(w);
}

void pool__runner_halt(pool_runner* w) {
  assert(pool__on_group(NULL));
  atomic_store(&w->halted, 1);
  pthread_mutex_lock(&w->rt_lock);
  uint64_t gen, since, deadline;
  if (w->rt != NULL && iso_rt_running(w->rt, &gen, &since, &deadline)) {
    iso_rt_terminate_gen(w->rt, gen);
  }
  pthread_mutex_unlock(&w->rt_lock);
}

iso_rt* pool__runner_rt_lock(pool_runner* w) {
  pthread_mutex_lock(&w->rt_lock);
  return w->rt;
}

void pool__runner_rt_unlock(pool_runner* w) {
  pthread_mutex_unlock(&w->rt_lock);
}
