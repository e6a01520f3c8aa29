/* worker.c: a worker (the runner) and the engines that run it: each
 * engine a thread, its libuv loop and the runtime (one isolate) built on
 * it; the worker's ends of the two links to the front.
 *
 * DESIGN: the worker side of a job is a pool_task (worker_task.c), made
 * from the TASK record the front sent; the worker never sees the front's
 * pool_job, and answers with a DONE record that names the job by its
 * token and carries the reply map the worker encoded; the front claims
 * the answer (answer.c). All of it is bytes on the worker's jobs link
 * (ipc/iso_link.h, docs/link.md: a socket the front made, given to the
 * worker as it starts), read from its engine's loop: a uv_poll on the
 * link's fd (iso_link_fd). When messages wait, the loop takes them all
 * (iso_link_drain, which also writes what a full socket held back) and
 * decodes their records straight into the start of each task, on the
 * engine's thread; no other thread, queue or lock stands between the
 * front's send and the task's start. The runtime's tick then runs at
 * once. A uv_prepare handle, which runs after the runtime's tick in each
 * loop iteration, finishes the settled tasks and sends the iteration's
 * records in one message (pool__runner_send). Its async ops go the same
 * way on its ops link (worker_ops.c).
 *
 * Everything else comes as records too, in order with the tasks: CANCEL,
 * RELOAD (answered RELOADED), RECYCLE (a fresh isolate once idle, then
 * STATE running), STOP (what is left answered shutting_down, STATE
 * stopped, the worker ends). The worker tells the front what only it
 * knows with INFO (heap, warm modules: every 500 ms), STATE (it asks for
 * no new jobs while it recycles), RECYCLED (it runs on a new isolate: why,
 * and whether a spare's) and READY (its runtime is up, or why not: its
 * first record). It trusts the front but decodes with the same code: a
 * message it cannot read is logged and dropped. It sees no structure of
 * the front's: it includes pool_base.h, worker.h and group_private.h only
 * (through worker_private.h), and was given what it needs at its start
 * (pool_runner_opts).
 *
 * Engines and spares. An isolate stays entered on the thread that made it
 * and is registered with that thread's loop (v8s_isolate.cc), so it
 * cannot move; a worker can. The worker (its id, its links, its tasks,
 * its permission sets, its handles) is apart from the engine that runs it
 * (pool_engine: the thread, the loop, the runtime). The group keeps
 * --spare-isolates engines with no worker, their runtime built, idle
 * (group.c). When a worker's isolate is to be replaced (poolctl recycle;
 * a condemned runtime, past --heap-mb; --recycle-after-jobs,
 * --heap-soft-mb, --recycle-heap-mb, checked after each job) it says
 * STATE recycling, so the front sends it no new jobs, and answers the ones
 * it has; once none is left its engine takes a spare (group lock), frees
 * the worker's warm realms, takes w->rt away (rt_lock: the group's
 * watchdog reads it), retires the runtime (iso_rt_retire: the V8 tasks
 * still due on it, such as the FinalizationRegistry cleanup that condemned
 * it, posted again, are dropped, since no watchdog would stop their
 * JavaScript now, and the hand-over waits for this thread) and closes the
 * worker's handles; when the last close callback has run (a handle is
 * never reused before), it hands the worker to the spare
 * (pool__group_hand: its uv_async). The spare's thread makes
 * the worker's handles on its own loop, gives it its runtime (rt_lock),
 * says STATE running and RECYCLED and polls the links. The worker was out
 * of rotation for its last jobs and the hand-over, never for a build. The
 * old engine then frees its runtime (the isolate disposed, malloc_trim:
 * the memory goes back to the system), builds a new one off the job path
 * and is the group's next spare: there are always as many engines as
 * workers plus spares. (At the start a spare builds only once the
 * workers' own runtimes are built, which the service waits for.) A spare
 * also makes one realm in advance, which the worker's first warm realm
 * takes (its context and prelude are then off the job's path too). No
 * spare ready (all taken, or --spare-isolates 0): the worker rebuilds on
 * its own thread as before (RECYCLED says cold). A runtime's ops go
 * through its engine (op_send_data), which names the worker it runs; a
 * batch that comes back for a runtime that is no longer the worker's is
 * freed (worker_ops.c). An engine that ends says so (POOL_ENG_ENDING)
 * before it closes its wake handle, so the group's stop never sends to a
 * closing handle.
 *
 * Idle workers (--idle-timeout S): a worker with no task for S seconds
 * frees its runtime (warm realms, isolate; malloc_trim) and keeps its
 * engine and its handles, so the front routes to it as before. The
 * messages that then arrive are kept (w->held): without a TASK among
 * them they are taken at once, with no isolate; with one the worker
 * moves to a spare, as above, whose thread reads them first: the job
 * waits for a hand-over, not a build; the engine left behind builds and
 * becomes a spare. (Parking the engine and waking it with the spare's runtime
 * would move an isolate; the spare's thread taking the worker does not.)
 *
 * Only the engine's thread that runs the worker touches its runtime, its
 * realms, its tasks and its handles; the group's watchdog reads w->rt
 * under rt_lock and sets `halted`; pool__runner_join waits on `ended`.
 */
#include <malloc.h>
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

/* What an engine's thread does once its loop stops (pool_engine.after). */
enum { AFTER_NONE, AFTER_RESPARE, AFTER_END };

/* Why a worker's handles close (pool_runner.detach). */
enum { DETACH_NONE, DETACH_MOVE, DETACH_STOP };

/* The worker's handles (runner_attach makes them on an engine's loop). */
#define RUNNER_HANDLES 7

static void maybe_recycle(pool_runner* w);
static void runner_detach(pool_runner* w, int why, pool_engine* to);

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
  size_t used = 0, limit = 0;
  if (w->rt != NULL) {
    iso_rt_heap(w->rt, &used, &limit);
  }
  iso_link_rec r = {
      .kind = ISO_LINK_INFO,
      .u.info = {.heap_used = used,
                 .heap_limit = limit,
                 .warm_modules = (uint32_t)pool__warm_modules(w)}};
  pool__runner_put(w, &r);
}

/* It runs on a new isolate: RECYCLED (and STATE running if it said
 * recycling), then INFO. */
static void put_recycled(pool_runner* w, int reason, int how) {
  if (w->said_recycling) {
    w->said_recycling = 0;
    put_state(w, POOL_W_RUNNING);
  }
  iso_link_rec r = {.kind = ISO_LINK_RECYCLED,
                    .u.recycled = {.reason = (iso_link_reason)reason,
                                   .how = (iso_link_how)how}};
  pool__runner_put(w, &r);
  pool__runner_info(w);
}

/* Its isolate is to be replaced once its jobs are answered: it asks the
 * front for no new jobs (STATE recycling), as `poolctl recycle` does. A
 * halted worker (the service or the worker stops: its STOP is on the way)
 * makes no new isolate. */
static void want_recycle(pool_runner* w, int reason, const char* why) {
  assert(pool__on_worker(w));
  if (w->recycle_wanted || w->stopping || atomic_load(&w->halted) ||
      w->rt == NULL) {
    return;
  }
  if (!w->said_recycling) {
    put_state(w, POOL_W_RECYCLING);
    w->said_recycling = 1;
  }
  w->recycle_wanted = 1;
  w->recycle_reason = reason;
  pool__logf(&w->o.log, reason == ISO_LINK_R_CONDEMNED ? "warn" : "debug",
             "worker %d: %s; recycling its isolate", w->id, why);
}

/* The runtime asks for a new isolate (iso_rt_condemned). */
static void check_condemned(pool_runner* w) {
  const char* why = w->rt != NULL ? iso_rt_condemned(w->rt) : NULL;
  if (why != NULL) {
    want_recycle(w, ISO_LINK_R_CONDEMNED, why);
  }
}

/* After jobs finished: the memory policies (pool_runner_opts). */
static void check_memory(pool_runner* w) {
  const pool_runner_opts* o = &w->o;
  if (w->recycle_wanted || w->rt == NULL ||
      (o->heap_soft_mb == 0 && o->recycle_heap_mb == 0)) {
    return;
  }
  size_t used = 0, committed = 0;
  iso_rt_memory(w->rt, &used, &committed);
  char why[128];
  if (o->heap_soft_mb > 0 && used > ((size_t)o->heap_soft_mb << 20)) {
    snprintf(why, sizeof why, "its heap in use (%zu MiB) is past %u MiB",
             used >> 20, o->heap_soft_mb);
    want_recycle(w, ISO_LINK_R_HEAP_SOFT, why);
  } else if (o->recycle_heap_mb > 0 &&
             committed > ((size_t)o->recycle_heap_mb << 20)) {
    snprintf(why, sizeof why, "its committed heap (%zu MiB) is past %u MiB",
             committed >> 20, o->recycle_heap_mb);
    want_recycle(w, ISO_LINK_R_RECYCLE_HEAP, why);
  }
}

static void idle_cb(uv_timer_t* t);

/* Runs after the runtime's tick in every loop iteration. */
static void flush_cb(uv_prepare_t* h) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  check_condemned(w);
  if (pool__tasks_finish(w)) {
    pool__warm_deadlines(w);
    pool__tasks_arm(w);
    pool__warm_free_stale(w);
    check_memory(w);
    if (w->active == NULL && w->o.idle_ms > 0 && w->rt != NULL) {
      uv_timer_start(&w->idle_timer, idle_cb, w->o.idle_ms, 0);
    }
  }
  pool__runner_send(w);
  if (w->recycle_wanted) {
    maybe_recycle(w); /* last: the worker may move on */
  }
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
 * stopped (its last record) and lets go of its engine, which ends. (STOP's
 * grace_ms is 0 from this front, which waited out the grace itself:
 * docs/link.md.) */
static void stop_jobs(pool_runner* w) {
  assert(pool__on_worker(w));
  pool__tasks_stop(w);
  put_state(w, POOL_W_STOPPED);
  pool__runner_send(w);
  runner_detach(w, DETACH_STOP, NULL);
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
        if (w->o.recycle_jobs > 0 && ++w->rt_jobs == w->o.recycle_jobs) {
          /* said before this job's DONE: the front sends no more */
          char why[64];
          snprintf(why, sizeof why, "it took %u jobs", w->rt_jobs);
          want_recycle(w, ISO_LINK_R_JOBS, why);
        }
        break;
      case ISO_LINK_CANCEL:
        pool__task_cancel(w, r.u.cancel.slot, r.u.cancel.gen);
        break;
      case ISO_LINK_RELOAD:
        reload(w, r.u.reload.spec);
        break;
      case ISO_LINK_RECYCLE:
        if (!w->recycle_wanted) {
          w->said_recycling = 1; /* the front marked it recycling */
          w->recycle_wanted = 1;
          w->recycle_reason = ISO_LINK_R_ASKED;
        }
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

/* A message that came while the worker had no isolate (it freed it,
 * idle): kept, for the engine that gives it one (runner_replay). */
static void hold_cb(const uint8_t* data, size_t len, void* arg) {
  pool_runner* w = arg;
  uint32_t n = (uint32_t)len;
  if (iso_buf_append(&w->held, &n, sizeof n) != 0 ||
      iso_buf_append(&w->held, data, len) != 0) {
    abort(); /* its jobs would be lost */
  }
}

/* After the front's records were taken: run them. */
static void jobs_taken(pool_runner* w) {
  if (w->stopping) {
    stop_jobs(w);
    return;
  }
  if (w->o.idle_ms > 0) {
    uv_timer_stop(&w->idle_timer);
  }
  /* the deadlines first: the watchdog reads them while the calls run
   * (flush_cb updates them again for the tasks it finishes) */
  pool__warm_deadlines(w);
  pool__tasks_arm(w);
  /* run them now rather than a trip around the loop later */
  iso_rt_tick(w->rt);
  flush_cb(&w->flush);
}

static void unpark(pool_runner* w);

/* The jobs link's fd is readable: the worker reads every message
 * waiting, starts their tasks and runs them in this loop iteration. */
static void jobs_poll_cb(uv_poll_t* h, int status, int events) {
  pool_runner* w = h->data;
  assert(pool__on_worker(w));
  if (w->rt == NULL) { /* freed idle: kept for the isolate it takes */
    if (iso_link_drain(w->jobs, hold_cb, w) > 0) {
      unpark(w);
    }
    return;
  }
  if (iso_link_drain(w->jobs, take_cb, w) == 0) {
    return;
  }
  jobs_taken(w);
}

/* The messages held while it had no isolate, taken now that it has
 * one. */
static void runner_replay(pool_runner* w) {
  if (w->held.len == 0) {
    return;
  }
  iso_buf held = w->held;
  iso_buf_init(&w->held);
  for (size_t at = 0; at + sizeof(uint32_t) <= held.len;) {
    uint32_t n;
    memcpy(&n, held.data + at, sizeof n);
    at += sizeof n;
    take_cb(held.data + at, n, w);
    at += n;
  }
  iso_buf_close(&held);
  jobs_taken(w);
}

static void info_timer_cb(uv_timer_t* t) {
  pool_runner* w = t->data;
  pool__runner_info(w);
  pool__runner_send(w);
}

/* ---- engines: a thread, its loop, its runtime ---- */

/* The engine's runtime, built on its thread. Returns 0 or iso_rt_new's
 * error. */
static int rt_new(pool_engine* e) {
  const pool_runner_opts* o = &e->conf;
  iso_rt_opts ro = {
      .loop = &e->loop,
      .root = o->modules,
      .import_map = e->import_map,
      .heap_max_mb = o->heap_mb,
      /* a larger value could not be sent back anyway */
      .value_max_bytes = o->max_message,
      .ops_env = o->ops_env,
      .op_send = pool__runner_op_send,
      .op_send_data = e, /* the worker it runs then */
      .op_perm_ids = 1,  /* the front's op threads resolve them */
      .background_ms = o->background_ms ? o->background_ms : POOL_BACKGROUND_MS,
  };
  return iso_rt_new(&ro, &e->rt);
}

/* Gives glibc's free memory back to the system (malloc_trim). Not in a
 * sanitizer's build: its allocator replaces glibc's, whose arenas are then
 * never set up, and malloc_trim from several threads at once walked them
 * half made (a SEGV in mtrim at a shutdown, ASan tree, once). */
static void trim_heap(void) {
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  malloc_trim(0);
#endif
}

/* Frees the engine's runtime (no worker has it): the isolate is
 * disposed now, its handles close as the loop runs on; the memory goes
 * back to the system. */
static void rt_free(pool_engine* e) {
  if (e->rt == NULL) {
    return;
  }
  iso_realm_free(e->realm);
  e->realm = NULL;
  iso_rt_free(e->rt);
  e->rt = NULL;
  trim_heap();
}

pool_runner* pool__engine_runner(void* data) {
  pool_engine* e = data;
  return e->w;
}

static void set_name(pool_runner* w) {
  char name[16];
  if (w != NULL) {
    snprintf(name, sizeof(name), "isopool-w%d", w->id);
  } else {
    snprintf(name, sizeof(name), "isopool-spare");
  }
  pthread_setname_np(pthread_self(), name);
}

/* The worker runs on engine e from now on: its handles made on e's loop,
 * e's runtime its own. Thread: e's. */
static void runner_attach(pool_runner* w, pool_engine* e) {
  e->w = w;
  w->eng = e;
  w->loop = &e->loop;
#ifndef NDEBUG
  pool__this_worker = w; /* for pool__on_worker */
#endif
  set_name(w);
  pool__group_engine_state(e->group, e, POOL_ENG_RUNNING);
  uv_prepare_init(w->loop, &w->flush);
  w->flush.data = w;
  uv_prepare_start(&w->flush, flush_cb);
  uv_unref((uv_handle_t*)&w->flush);
  uv_timer_init(w->loop, &w->deadline);
  w->deadline.data = w;
  uv_timer_init(w->loop, &w->ops_timer);
  w->ops_timer.data = w;
  uv_timer_init(w->loop, &w->idle_timer);
  w->idle_timer.data = w;
  uv_unref((uv_handle_t*)&w->idle_timer);
  uv_timer_init(w->loop, &w->info_timer);
  w->info_timer.data = w;
  uv_timer_start(&w->info_timer, info_timer_cb, 500, 500);
  uv_unref((uv_handle_t*)&w->info_timer);
  uv_poll_init(w->loop, &w->jobs_poll, iso_link_fd(w->jobs));
  w->jobs_poll.data = w;
  uv_poll_start(&w->jobs_poll, UV_READABLE, jobs_poll_cb);
  uv_poll_init(w->loop, &w->ops_poll, iso_link_fd(w->ops));
  w->ops_poll.data = w;
  uv_poll_start(&w->ops_poll, UV_READABLE, ops_poll_cb);
  pthread_mutex_lock(&w->rt_lock); /* the watchdog reads w->rt */
  w->rt = e->rt;
  pthread_mutex_unlock(&w->rt_lock);
  w->rt_jobs = 0;
  w->ready_realm = e->realm; /* its first warm realm's context is made */
  e->realm = NULL;
}

/* Its runtime is no longer its own: the warm realms freed, w->rt NULL
 * (the engine keeps the runtime). */
static void runner_drop_rt(pool_runner* w) {
  pool__warm_free_all(w);
  iso_realm_free(w->ready_realm);
  w->ready_realm = NULL;
  pthread_mutex_lock(&w->rt_lock);
  w->rt = NULL;
  pthread_mutex_unlock(&w->rt_lock);
}

static void runner_ended(pool_runner* w) {
  pthread_mutex_lock(&w->end_lock);
  w->ended = 1;
  pthread_cond_broadcast(&w->end_cond);
  pthread_mutex_unlock(&w->end_lock);
}

/* The last of its handles closed: the worker leaves its engine, to the
 * engine it moves to, or for good (STOP: from here on another thread may
 * free it). The engine then becomes a spare, or ends. */
static void detach_closed_cb(uv_handle_t* h) {
  pool_runner* w = h->data;
  if (--w->closing > 0) {
    return;
  }
  pool_engine* e = w->eng;
  int why = w->detach;
  pool_engine* to = w->detach_to;
  e->w = NULL;
  w->eng = NULL;
  w->loop = NULL;
  w->detach = DETACH_NONE;
  w->detach_to = NULL;
#ifndef NDEBUG
  pool__this_worker = NULL;
#endif
  set_name(NULL);
  if (why == DETACH_STOP) {
    e->after = AFTER_END;
    runner_ended(w);
  } else {
    e->after = AFTER_RESPARE;
    pool__group_hand(e->group, to, w);
  }
  uv_stop(&e->loop);
}

/* Closes the worker's handles; detach_closed_cb goes on. Thread: its
 * engine's. */
static void runner_detach(pool_runner* w, int why, pool_engine* to) {
  assert(pool__on_worker(w));
  if (w->rt != NULL) {
    runner_drop_rt(w);
  }
  if (w->eng->rt != NULL) {
    /* the watchdog no longer sees it (w->rt), and the loop turns until
     * the handles have closed: a V8 task still due there (the cleanup V8
     * posts again after the one that condemned it) must not run
     * JavaScript that nothing would stop, on the thread the hand-over
     * waits for */
    iso_rt_retire(w->eng->rt);
  }
  w->detach = why;
  w->detach_to = to;
  w->closing = RUNNER_HANDLES;
  uv_close((uv_handle_t*)&w->flush, detach_closed_cb);
  uv_close((uv_handle_t*)&w->deadline, detach_closed_cb);
  uv_close((uv_handle_t*)&w->ops_timer, detach_closed_cb);
  uv_close((uv_handle_t*)&w->idle_timer, detach_closed_cb);
  uv_close((uv_handle_t*)&w->info_timer, detach_closed_cb);
  uv_close((uv_handle_t*)&w->jobs_poll, detach_closed_cb);
  uv_close((uv_handle_t*)&w->ops_poll, detach_closed_cb);
}

/* A fresh isolate on its own engine's thread (no spare was ready): the
 * worker waits for the build. Returns 0, or it retires. */
static int rebuild_here(pool_runner* w, int reason) {
  pool_engine* e = w->eng;
  if (w->rt != NULL) {
    runner_drop_rt(w);
  }
  rt_free(e);
  int rc = rt_new(e);
  if (rc != 0) {
    pool__logf(&w->o.log, "error",
               "worker %d: recycling failed (%s); it retires", w->id,
               iso_strerror(rc));
    put_state(w, POOL_W_RETIRING);
    pool__runner_send(w);
    return rc;
  }
  pthread_mutex_lock(&w->rt_lock);
  w->rt = e->rt;
  pthread_mutex_unlock(&w->rt_lock);
  w->rt_jobs = 0;
  pool__logf(&w->o.log, "info",
             "worker %d: recycled (%s) on its own thread: no spare was ready",
             w->id, iso_link_reason_name((iso_link_reason)reason));
  put_recycled(w, reason, ISO_LINK_HOW_COLD);
  pool__runner_send(w);
  return 0;
}

/* poolctl recycle, a condemned runtime or a policy: once nothing is in
 * flight here, a fresh isolate: a spare's (the worker moves to it), else
 * one built here. */
static void maybe_recycle(pool_runner* w) {
  assert(pool__on_worker(w));
  if (!w->recycle_wanted || w->active != NULL || atomic_load(&w->halted) ||
      w->closing > 0) {
    return;
  }
  w->recycle_wanted = 0;
  if (w->rt == NULL) { /* freed idle: its next job takes a fresh one */
    if (w->said_recycling) {
      w->said_recycling = 0;
      put_state(w, POOL_W_RUNNING);
      pool__runner_send(w);
    }
    return;
  }
  pool_engine* to = pool__group_spare_take(w->group);
  if (to != NULL) {
    runner_detach(w, DETACH_MOVE, to);
    return;
  }
  (void)rebuild_here(w, w->recycle_reason);
}

/* --idle-timeout: no task for idle_ms: the isolate is freed; the worker
 * stays on its engine, polling its links (jobs_poll_cb). */
static void idle_cb(uv_timer_t* t) {
  pool_runner* w = t->data;
  assert(pool__on_worker(w));
  if (w->active != NULL || w->rt == NULL || w->recycle_wanted || w->stopping ||
      atomic_load(&w->halted)) {
    return;
  }
  runner_drop_rt(w);
  rt_free(w->eng);
  pool__logf(&w->o.log, "debug", "worker %d: idle %u ms: its isolate freed",
             w->id, w->o.idle_ms);
  pool__runner_info(w); /* heap 0 */
  pool__runner_send(w);
}

/* 1 if a message held while the worker had no isolate has a TASK. */
static int held_task(pool_runner* w) {
  for (size_t at = 0; at + sizeof(uint32_t) <= w->held.len;) {
    uint32_t n;
    memcpy(&n, w->held.data + at, sizeof n);
    at += sizeof n;
    iso_link_rd rd;
    iso_link_rec r;
    char err[64];
    if (iso_link_rd_init(&rd, ISO_LINK_FRONT_JOBS, w->held.data + at, n, err,
                         sizeof err) == 0) {
      while (iso_link_rd_next(&rd, &r, err, sizeof err) == 1) {
        if (r.kind == ISO_LINK_TASK) {
          return 1;
        }
      }
    }
    at += n;
  }
  return 0;
}

/* Messages came for a worker that freed its isolate idle: with a job
 * among them it moves to a spare, whose thread takes them, else it
 * builds one here; without one (STOP, CANCEL, RELOAD, RECYCLE) they are
 * taken at once, with no isolate. */
static void unpark(pool_runner* w) {
  if (!held_task(w)) { /* a STOP, a CANCEL: no isolate needed */
    iso_buf held = w->held;
    iso_buf_init(&w->held);
    for (size_t at = 0; at + sizeof(uint32_t) <= held.len;) {
      uint32_t n;
      memcpy(&n, held.data + at, sizeof n);
      take_cb(held.data + sizeof n + at, n, w);
      at += sizeof n + n;
    }
    iso_buf_close(&held);
    if (w->stopping) {
      stop_jobs(w);
    } else {
      flush_cb(&w->flush); /* a RECYCLE says STATE running */
    }
    return;
  }
  pool_engine* to = pool__group_spare_take(w->group);
  w->recycle_reason = ISO_LINK_R_IDLE;
  if (to != NULL) {
    runner_detach(w, DETACH_MOVE, to);
    return;
  }
  if (rebuild_here(w, ISO_LINK_R_IDLE) == 0) {
    runner_replay(w);
  }
}

/* The engine's uv_async: a worker handed to it, or the group stops. */
static void wake_cb(uv_async_t* h) {
  pool_engine* e = h->data;
  int stop = 0;
  pool_runner* w = pool__group_mail(e->group, e, &stop);
  if (w != NULL) {
    int reason = w->recycle_reason;
    runner_attach(w, e);
    pool__logf(&w->o.log, "info", "worker %d: recycled (%s): a spare's isolate",
               w->id, iso_link_reason_name((iso_link_reason)reason));
    put_recycled(w, reason, ISO_LINK_HOW_SPARE);
    pool__runner_send(w);
    runner_replay(w); /* what came while it had none */
    return;
  }
  if (stop && e->w == NULL) {
    e->after = AFTER_END;
    uv_stop(&e->loop);
  }
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

/* A worker's first engine: its runtime, READY, then its jobs. */
static void engine_first(pool_engine* e, pool_runner* w) {
#ifndef NDEBUG
  pool__this_worker = w; /* put_ready asserts it */
#endif
  int rc = rt_new(e);
  pool__group_starting(e->group, -1);  /* the spares may build now */
  pool__group_wait_released(e->group); /* a pool process seals first */
  put_ready(w, rc);
  if (rc != 0) {
    pool__runner_send(w);
#ifndef NDEBUG
    pool__this_worker = NULL;
#endif
    e->after = AFTER_END;
    e->w = NULL;
    runner_ended(w); /* from here on the front may free it */
    return;
  }
  e->w = NULL; /* runner_attach sets it */
  runner_attach(w, e);
  pool__runner_info(w);
  pool__runner_send(w);
}

/* Frees the engine's runtime and builds another, off any job's path; the
 * engine is then a spare. */
static void engine_respare(pool_engine* e) {
  rt_free(e);
  uv_run(&e->loop, UV_RUN_NOWAIT); /* its handles' close callbacks */
  int rc = rt_new(e);
  if (rc != 0) {
    pool__logf(&e->conf.log, "error", "a spare isolate cannot be built: %s",
               iso_strerror(rc));
    e->after = AFTER_END; /* the group has a spare fewer */
    return;
  }
  /* a realm too: the context and prelude a worker's first call would
   * otherwise make on the job's path (ms under load) */
  if (iso_realm_new(e->rt, &(iso_realm_cbs){0}, NULL, &e->realm) != 0) {
    e->realm = NULL;
  }
  size_t used = 0, committed = 0;
  iso_rt_memory(e->rt, &used, &committed);
  if (!pool__group_spare_ready(e->group, e, committed)) {
    e->after = AFTER_END; /* the group stops */
  }
}

static void* engine_main(void* arg) {
  pool_engine* e = arg;
  pool_runner* first = e->w;
  set_name(first);
  uv_loop_init(&e->loop);
  uv_async_init(&e->loop, &e->wake, wake_cb);
  e->wake.data = e;
  int go = pool__group_engine_wakeable(e->group, e);
  e->after = AFTER_NONE;
  if (first != NULL) {
    engine_first(e, first); /* even when the group stops: READY */
  } else {
    if (go) { /* its first build: after the workers' own */
      pool__group_wait_started(e->group);
    }
    e->after = go ? AFTER_RESPARE : AFTER_END;
  }
  for (;;) {
    if (e->after == AFTER_RESPARE) {
      e->after = AFTER_NONE;
      engine_respare(e);
    }
    if (e->after == AFTER_END) {
      break;
    }
    uv_run(&e->loop, UV_RUN_DEFAULT); /* until uv_stop */
  }
  /* nobody sends to its wake from here on (the group's stop) */
  pool__group_engine_state(e->group, e, POOL_ENG_ENDING);
  rt_free(e);
  uv_close((uv_handle_t*)&e->wake, NULL);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  uv_loop_close(&e->loop);
  pool__group_engine_state(e->group, e, POOL_ENG_ENDED); /* its last act */
  return NULL;
}

/* Starts an engine in g with the runtime options of o: for worker w (its
 * first), or a spare (w NULL). Returns 0, or an error with err. */
static int engine_start(pool_group* g,
                        const pool_runner_opts* o,
                        pool_runner* w,
                        char* err,
                        size_t errlen) {
  pool_engine* e = calloc(1, sizeof(*e));
  if (e == NULL) {
    return ISO_ENOMEM;
  }
  e->group = g;
  e->w = w;
  e->conf = *o;
  e->conf.jobs_fd = e->conf.ops_fd = -1;
  e->conf.modules = strdup(o->modules);
  e->conf.import_map = e->conf.import_map_url = NULL; /* parsed, not kept */
  if (e->conf.modules == NULL) {
    pool__engine_free(e);
    return ISO_ENOMEM;
  }
  if (o->import_map != NULL) {
    /* the front parsed it first and showed its warnings */
    int rc = iso_import_map_new(o->import_map, strlen(o->import_map),
                                o->import_map_url, &e->import_map, NULL, err,
                                errlen);
    if (rc != 0) {
      pool__engine_free(e);
      return rc;
    }
  }
  if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
    pool__engine_free(e);
    return ISO_ENOMEM;
  }
  pool__group_engine_add(g, e); /* (its state is the thread's) */
  return 0;
}

void pool__engine_free(pool_engine* e) {
  if (e == NULL) {
    return;
  }
  free((char*)e->conf.modules);
  iso_import_map_free(e->import_map);
  free(e);
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
  w->o.jobs_fd = w->o.ops_fd = -1;              /* the links' from here on */
  w->o.import_map = w->o.import_map_url = NULL; /* its engines' */
  w->id = o->id;
  w->nslots = o->nslots;
  w->o.modules = strdup(o->modules);
  w->cancelled = calloc(o->nslots > 0 ? o->nslots : 1, sizeof(*w->cancelled));
  w->nperms = o->nperms;
  w->perms = calloc(o->nperms > 0 ? o->nperms : 1, sizeof(*w->perms));
  iso_buf_init(&w->out);
  iso_buf_init(&w->reply);
  iso_buf_init(&w->ops_buf);
  iso_buf_init(&w->held);
  pthread_mutex_init(&w->rt_lock, NULL);
  pthread_mutex_init(&w->end_lock, NULL);
  pthread_cond_init(&w->end_cond, NULL);
  if (w->o.modules == NULL || w->cancelled == NULL || w->perms == NULL) {
    close(o->jobs_fd);
    close(o->ops_fd);
    pool__runner_free(w);
    return ISO_ENOMEM;
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
  pool__group_starting(g, 1);
  rc = engine_start(g, o, w, err, errlen);
  if (rc != 0) {
    pool__group_starting(g, -1);
    pool__runner_free(w);
    return rc;
  }
  w->started = 1;
  /* the spares (none yet, or one fewer after a worker stopped) */
  for (int n = pool__group_engines_missing(g); n > 0; n--) {
    char why[256] = "";
    int src = engine_start(g, o, NULL, why, sizeof why);
    if (src != 0) {
      pool__logf(&o->log, "warn", "a spare engine cannot start: %s",
                 why[0] ? why : iso_strerror(src));
      break;
    }
  }
  *out = w;
  return 0;
}

int pool__runner_join(pool_runner* w, uint64_t until_ns) {
  assert(!pool__on_worker(w)); /* it would wait for itself */
  if (!w->started) {
    return 0;
  }
  /* JavaScript stuck where a stop cannot reach it (a builtin that never
   * checks, an engine bug) would hold it for ever */
  struct timespec ts;
  if (until_ns != 0) {
    uint64_t now = pool__now();
    uint64_t left = until_ns > now ? until_ns - now : 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(left / 1000000000u);
    ts.tv_nsec += (long)(left % 1000000000u);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
  }
  int rc = 0;
  pthread_mutex_lock(&w->end_lock);
  while (!w->ended && rc == 0) {
    rc = until_ns == 0
             ? pthread_cond_wait(&w->end_cond, &w->end_lock)
             : pthread_cond_timedwait(&w->end_cond, &w->end_lock, &ts);
  }
  int ended = w->ended;
  pthread_mutex_unlock(&w->end_lock);
  if (!ended) {
    return ISO_ETIMEDOUT;
  }
  w->started = 0;
  return 0;
}

void pool__runner_free(pool_runner* w) {
  if (w == NULL) {
    return;
  }
  assert(!pool__on_worker(w));
  assert(!w->started);
  if (w->group != NULL) {
    pool__group_leave(w->group, w); /* the watchdog lets go of it */
  }
  iso_link_free(w->jobs);
  iso_link_free(w->ops);
  pool__tasks_close(w);
  pool__runner_ops_close(w);
  iso_buf_close(&w->out);
  iso_buf_close(&w->reply);
  iso_buf_close(&w->held);
  free(w->cancelled);
  for (uint32_t i = 0; w->perms != NULL && i < w->nperms; i++) {
    iso_perms_unref(w->perms[i].perms);
  }
  free(w->perms);
  free((char*)w->o.modules);
  pthread_mutex_destroy(&w->rt_lock);
  pthread_mutex_destroy(&w->end_lock);
  pthread_cond_destroy(&w->end_cond);
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
