/* group.c: a group of worker threads and its watchdog: the worker side's
 * half of the watchdog, the half that needs the isolates.
 *
 * DESIGN: the worker threads that will live in one pool process (issue
 * 11, step 3b; until then one group holds every worker thread) share a
 * watchdog thread. It wakes every WATCHDOG_PERIOD_MS, or when the front
 * sends a message on the group's control link (iso_link.h: a socketpair
 * the front made, of which the group has one end; the watchdog polls its
 * end's fd and drains it on its own thread). Each
 * round it reads what every runner's runtime runs (iso_rt_running: the
 * entry's generation and the deadline of the job it runs for, or of its
 * realm: in a warm realm a timer callback of a call runs by that call's
 * deadline, so a stop is never for another call that is overdue) and
 * stops JavaScript that runs past that deadline (iso_rt_terminate_gen, which
 * stops that entry only if it still runs, so a late watchdog never stops
 * the next job): a job stuck in `while (true) {}` costs its own worker
 * that job only. The same round enforces CPU budgets (iso_eval_opts.cpu_ms):
 * an entry charged to a job with a budget publishes what is left of it,
 * and iso_rt_cpu_stop reads the worker thread's CPU clock
 * (pthread_getcpuclockid) from here, reckons at its first look the
 * clock's value when the entry began, and stops the entry once the clock
 * has moved past what was left, with the same generation rule. This is
 * in place of a POSIX CPU timer per worker (timer_create on
 * CLOCK_THREAD_CPUTIME_ID, armed at each entry): such a timer expires on
 * the scheduler's tick (4 ms at HZ=250), and its signal could only wake a
 * thread that may call V8 (this one) through a pipe, so it would be no
 * more precise than this 2 ms round; and it would cost the worker a
 * thread CPU clock read and two timer_settime calls per entry (system
 * calls; the clock read alone, twice per entry, cost a quarter of the
 * batched jobs/s), a signal handler interrupting V8 and libuv, and three
 * more system calls in the pool process's seccomp allow-list. A HALT
 * record with a deadline (the job was cancelled) makes that deadline count as
 * now, for that worker, until the worker has dropped the job
 * (pool__group_uncancel) or the deadline passes; dispatch.c's DESIGN says how a
 * job's JavaScript is told by its deadline. A HALT without one (the service
 * stops) halts the runner at once (pool__runner_halt). A runner whose stopped
 * entry still runs POOL_LOST_GRACE_MS later is reported WEDGED to the front,
 * once per entry: the front declares the worker lost (pool__worker_lost); a
 * test fault (ISOPOOL_TEST_NO_WEDGED, below) keeps it quiet, for the front's
 * own bound on a job held by a group that lies (watchdog.c). Every
 * POOL_ALIVE_MS it says ALIVE, which lets the front tell a group that
 * cannot speak from jobs that are only late (watchdog.c). The records
 * are the link's (HALT in; WEDGED and ALIVE out), bytes that step 4
 * carries between a pool process and the front unchanged; the group
 * trusts the front, but a message that does not decode is logged and
 * dropped, never used. In a pool process (proc.c) the group is made
 * held: each runner makes its runtime and waits (pool__group_wait_released)
 * before its READY, so no job runs before the process has sealed its
 * sandbox (pool__group_release); and the control link's PEER_GONE is
 * passed on (gone_cb), which ends the process.
 *
 * The group also owns the engines that run its workers (worker.c's
 * DESIGN: a thread, its loop, its isolate), one per worker and
 * pool_group_opts.spares more, idle, their isolates built: a list under
 * its lock, where a worker about to recycle takes a spare
 * (pool__group_spare_take) and hands itself to it (pool__group_hand, the
 * spare's uv_async). A spare's first build waits for the workers' own
 * (pool__group_starting). The watchdog joins and frees the engines whose
 * thread ended (their worker stopped) and, with ALIVE, says SPARES when
 * what it would say changed: how many are ready, their builds so far and
 * the memory they hold. pool__group_stop ends the spares and joins every
 * engine.
 *
 * In a pool process (pool_group_opts.share_code) the watchdog also
 * carries the process's code cache to and from the front (pool/code.c's
 * DESIGN): before each ALIVE it sends the entries its process made since
 * (CODE, POOL_CODE_ROUND at most), and it puts each CODE_PUT the front
 * sends in the cache (trusted, as everything from the front). Every
 * group, the front's own too, says its cache's figures before its ALIVE
 * when they changed (CODE_STATS: status's and the metrics' code_cache).
 *
 * It reads only the worker side: the runners (under the group's lock,
 * which keeps them from being freed: a runner leaves the group before it
 * is freed) and their runtimes (under each runner's rt_lock). The front's
 * half (queued jobs past their deadline, declaring a worker lost,
 * reaping) is watchdog.c's.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group_private.h"
#include "iso_link.h"

#define WATCHDOG_PERIOD_MS 2

/* What the watchdog keeps of one runner. */
typedef struct pool_watch {
  pool_runner* r;
  int id; /* the front's number for its worker */
  uint32_t nslots;
  uint64_t stop_gen; /* the entry it stopped last, and when */
  uint64_t stop_ns;
  int wedged_sent; /* WEDGED sent for stop_gen */
  /* the deadlines of its cancelled jobs (HALT records) */
  uint64_t* cancels;
  uint32_t ncancels;
} pool_watch;

struct pool_group {
  pool_group_opts o;
  iso_link* ctl; /* its end of the control link (fd mode: the watchdog's) */
  pthread_t thread;
  int thread_started;
  atomic_int stop;
  pthread_mutex_t lock; /* the watch array and each one's cancels */
  pool_watch* watch;
  int n, cap;
  int held; /* under lock; released signals `released` */
  pthread_cond_t released;
  int no_wedged; /* the test fault below: it never says WEDGED */
  /* its engines (worker.c), under lock: the spare builds so far, and
   * whether it stops */
  pool_engine* engines;
  uint64_t spare_builds;
  int stopping;
  int starting;         /* workers' first engines still building */
  pthread_cond_t built; /* starting fell to 0, or the group stops */
  iso_link_spares said; /* the last SPARES record sent (the watchdog's) */
  iso_link_code_stats said_code; /* the last CODE_STATS sent (its too) */
};

/* The test fault ISOPOOL_TEST_NO_WEDGED=1 (honoured only with
 * ISOPOOL_TEST_FAULTS=1 too): the group never says WEDGED, as a pool
 * process that lies (or whose WEDGED is lost) would, and keeps saying
 * ALIVE; the front's own bound on a job (watchdog.c, POOL_HELD_MS) is
 * what is left (tests/test_service_contain.c). Read once, at the
 * group's start, from the environment: the front passes the variable to
 * a pool process only when it has it itself (procs.c), and a job sets no
 * variable. */
static int test_no_wedged(void) {
  const char* faults = getenv("ISOPOOL_TEST_FAULTS");
  const char* on = getenv("ISOPOOL_TEST_NO_WEDGED");
  return faults != NULL && strcmp(faults, "1") == 0 && on != NULL &&
         strcmp(on, "1") == 0;
}

/* Called with the lock. */
static pool_watch* watch_of(pool_group* g, const pool_runner* r, int id) {
  for (int i = 0; i < g->n; i++) {
    if (r != NULL ? g->watch[i].r == r : g->watch[i].id == id) {
      return &g->watch[i];
    }
  }
  return NULL;
}

static int is_cancelled(const pool_watch* w, uint64_t deadline) {
  for (uint32_t i = 0; i < w->ncancels; i++) {
    if (w->cancels[i] == deadline) {
      return 1;
    }
  }
  return 0;
}

/* Adds a cancelled job's deadline; with the list full (more cancels than
 * the worker can have jobs: most are of jobs it dropped already), the
 * oldest goes. Called with the lock. */
static void cancel_add(pool_watch* w, uint64_t deadline) {
  uint32_t cap = 2 * w->nslots;
  if (is_cancelled(w, deadline)) {
    return;
  }
  if (w->ncancels == cap) {
    memmove(w->cancels, w->cancels + 1, (cap - 1) * sizeof(*w->cancels));
    w->ncancels--;
  }
  w->cancels[w->ncancels++] = deadline;
}

static void cancel_drop(pool_watch* w, uint64_t deadline) {
  for (uint32_t i = 0; i < w->ncancels;) {
    if (w->cancels[i] == deadline) {
      w->cancels[i] = w->cancels[--w->ncancels];
    } else {
      i++;
    }
  }
}

/* A record to the front: 0, or the send failed (the front's end is gone
 * or stopped reading, ISO_EBUSY past max_queued) and the record is
 * dropped: the front then hears nothing, which its watchdog takes as
 * silence. */
static int send_up(pool_group* g, const iso_link_rec* rec) {
  return iso_link_send_rec(g->ctl, rec);
}

/* A message from the front: HALT records. Thread: the watchdog's (it
 * drains its end). */
static void ctl_msg_cb(const uint8_t* data, size_t len, void* arg) {
  pool_group* g = arg;
  assert(pool__on_group(g));
  iso_link_rd rd;
  iso_link_rec rec;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_FRONT_CTL, data, len, err, sizeof(err));
  pthread_mutex_lock(&g->lock);
  while (rc == 0) {
    int got = iso_link_rd_next(&rd, &rec, err, sizeof(err));
    if (got != 1) {
      rc = got; /* 0: the end; else what was wrong */
      break;
    }
    if (rec.kind == ISO_LINK_CODE_PUT) { /* trusted: the front's */
      if (g->o.share_code) {
        (void)iso_rt_code_put(rec.u.code.key.data, rec.u.code.key.len,
                              rec.u.code.data.data, rec.u.code.data.len);
      }
      continue;
    }
    if (rec.kind != ISO_LINK_HALT) {
      continue;
    }
    const iso_link_halt* h = &rec.u.halt;
    pool_watch* w =
        h->worker <= INT32_MAX ? watch_of(g, NULL, (int)h->worker) : NULL;
    if (w != NULL && h->deadline_ns == 0) {
      pool__runner_halt(w->r);
    } else if (w != NULL) {
      cancel_add(w, h->deadline_ns);
    }
  }
  pthread_mutex_unlock(&g->lock);
  if (rc < 0) { /* a front bug: said, not acted on */
    pool__logf(&g->o.log, "error",
               "the workers' watchdog: a control message it cannot read: %s",
               err);
  }
}

/* One round over the runners. Called with the lock. */
static void round_runners(pool_group* g, uint64_t now) {
  for (int i = 0; i < g->n; i++) {
    pool_watch* w = &g->watch[i];
    for (uint32_t k = 0; k < w->ncancels;) { /* past: the rule below */
      if (w->cancels[k] < now) {
        w->cancels[k] = w->cancels[--w->ncancels];
      } else {
        k++;
      }
    }
    iso_rt* rt = pool__runner_rt_lock(w->r);
    uint64_t gen, since, deadline;
    int stop = 0;
    if (rt != NULL && iso_rt_running(rt, &gen, &since, &deadline) &&
        deadline != 0) {
      stop = now > deadline || is_cancelled(w, deadline);
    }
    if (stop) {
      iso_rt_terminate_gen(rt, gen);
    } else if (rt != NULL) {
      stop = iso_rt_cpu_stop(rt, &gen); /* a job past its CPU budget */
    }
    pool__runner_rt_unlock(w->r);
    if (!stop) {
      continue;
    }
    /* the entry it stopped before and still runs: how long since? */
    if (w->stop_gen != gen) {
      w->stop_gen = gen;
      w->stop_ns = now;
      w->wedged_sent = 0;
    } else if (!w->wedged_sent &&
               now - w->stop_ns > POOL_LOST_GRACE_MS * 1000000ull) {
      iso_link_rec rec = {ISO_LINK_WEDGED,
                          .u.wedged = {.worker = (uint32_t)w->id}};
      /* else the next round; the test fault says it was sent */
      w->wedged_sent = g->no_wedged || send_up(g, &rec) == 0;
    }
  }
}

/* Joins and frees the engines whose thread ended (all of them when
 * `all`: the group stops and every engine's worker stopped). */
static void reap_engines(pool_group* g, int all) {
  for (;;) {
    pthread_mutex_lock(&g->lock);
    pool_engine** pp = &g->engines;
    while (*pp != NULL && !all && (*pp)->state != POOL_ENG_ENDED) {
      pp = &(*pp)->next;
    }
    pool_engine* e = *pp;
    if (e != NULL) {
      *pp = e->next;
    }
    pthread_mutex_unlock(&g->lock);
    if (e == NULL) {
      return;
    }
    pthread_join(e->thread, NULL);
    pool__engine_free(e);
  }
}

/* SPARES, when what it says changed. Thread: the watchdog's. */
static void say_spares(pool_group* g) {
  iso_link_rec rec = {.kind = ISO_LINK_SPARES};
  iso_link_spares* s = &rec.u.spares;
  pthread_mutex_lock(&g->lock);
  for (pool_engine* e = g->engines; e != NULL; e = e->next) {
    if (e->state == POOL_ENG_SPARE) {
      s->ready++;
      s->bytes += e->bytes;
    }
  }
  s->builds = g->spare_builds;
  pthread_mutex_unlock(&g->lock);
  if (memcmp(s, &g->said, sizeof *s) != 0 && send_up(g, &rec) == 0) {
    g->said = *s;
  }
}

/* CODE_STATS, when what it says changed. Thread: the watchdog's. */
static void say_code_stats(pool_group* g) {
  iso_code_stats cs;
  iso_rt_code_stats(&cs);
  iso_link_rec rec = {.kind = ISO_LINK_CODE_STATS};
  iso_link_code_stats* s = &rec.u.code_stats;
  memset(s, 0, sizeof *s); /* its padding too: compared whole below */
  s->hits = cs.hits;
  s->misses = cs.misses;
  s->rejected = cs.rejected;
  s->evicted = cs.evicted;
  s->made = cs.made;
  s->put = cs.put;
  s->bytes = cs.bytes;
  s->entries = cs.cached; /* what holds a cache, not texts only seen */
  s->tag = cs.tag;
  if (memcmp(s, &g->said_code, sizeof *s) != 0 && send_up(g, &rec) == 0) {
    memcpy(&g->said_code, s, sizeof *s);
  }
}

/* One code cache entry this process made, to the front (CODE). */
static void send_code_cb(const uint8_t* key,
                         size_t key_len,
                         const uint8_t* data,
                         size_t len,
                         void* arg) {
  if (key_len != ISO_LINK_CODE_KEY || len > ISO_LINK_CODE_MAX) {
    return; /* the front would take none so large */
  }
  iso_link_rec rec = {.kind = ISO_LINK_CODE};
  rec.u.code.key = (iso_bytes){.data = key, .len = key_len};
  rec.u.code.data = (iso_bytes){.data = data, .len = len};
  (void)send_up(arg, &rec); /* a cache: one refused is made again here */
}

/* The entries the process made since the last round, POOL_CODE_ROUND at
 * most, to the front. Thread: the watchdog's. */
static void send_codes(pool_group* g) {
  for (int i = 0;
       i < POOL_CODE_ROUND && iso_rt_code_next_made(send_code_cb, g) == 1;
       i++) {
  }
}

static void* watchdog_main(void* arg) {
  pool_group* g = arg;
  pthread_setname_np(pthread_self(), "isopool-jswatch");
#ifndef NDEBUG
  pool__this_group = g; /* for pool__on_group */
#endif
  struct pollfd pfd = {.fd = iso_link_fd(g->ctl), .events = POLLIN};
  const iso_link_rec alive = {.kind = ISO_LINK_ALIVE};
  uint64_t alive_at = 0;
  while (!atomic_load(&g->stop)) {
    poll(&pfd, 1, WATCHDOG_PERIOD_MS);
    iso_link_drain(g->ctl, ctl_msg_cb, g);
    uint64_t now = pool__now();
    pthread_mutex_lock(&g->lock);
    round_runners(g, now);
    pthread_mutex_unlock(&g->lock);
    if (now - alive_at >= POOL_ALIVE_MS * 1000000ull) {
      alive_at = now;
      if (g->o.share_code) {
        send_codes(g); /* before ALIVE, at which the front passes them on */
      }
      /* before ALIVE too: the first names V8's tag, and the front then
       * retires DIR's entries of another before it offers any (code.c) */
      say_code_stats(g);
      (void)send_up(g, &alive);
      say_spares(g);
      reap_engines(g, 0);
    }
  }
  return NULL;
}

/* The front's end went: told to the owner (a pool process ends). */
static void ctl_event_cb(iso_link* link, iso_link_event ev, void* arg) {
  pool_group* g = arg;
  (void)link;
  if (ev == ISO_LINK_PEER_GONE && g->o.gone_cb != NULL) {
    g->o.gone_cb(g->o.gone_arg);
  }
}

int pool__group_new(const pool_group_opts* o,
                    pool_group** out,
                    char* err,
                    size_t errlen) {
  pool_group* g = calloc(1, sizeof(*g));
  if (g == NULL) {
    close(o->ctl_fd);
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  g->o = *o;
  g->o.ctl_fd = -1; /* the link's */
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  iso_link_opts lo = {
      .fd = o->ctl_fd,
      .max_recv = POOL_CTL_MAX_MSG,
      .max_send = POOL_CTL_MAX_MSG,
      .max_queued = POOL_CTL_MAX_QUEUED,
      .head = head,
      .head_len = hl,
      .event_cb = ctl_event_cb,
      .arg = g,
  };
  g->held = o->held;
  g->no_wedged = test_no_wedged();
  if (g->no_wedged) {
    pool__logf(&g->o.log, "warn",
               "a test fault: this group never says WEDGED "
               "(ISOPOOL_TEST_NO_WEDGED)");
  }
  pthread_cond_init(&g->released, NULL);
  pthread_cond_init(&g->built, NULL);
  int rc = iso_link_new(&lo, &g->ctl, err, errlen);
  if (rc != 0) {
    pthread_cond_destroy(&g->released);
    pthread_cond_destroy(&g->built);
    free(g);
    return rc;
  }
  pthread_mutex_init(&g->lock, NULL);
  if (pthread_create(&g->thread, NULL, watchdog_main, g) != 0) {
    snprintf(err, errlen, "cannot create the workers' watchdog thread");
    iso_link_free(g->ctl);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->released);
    pthread_cond_destroy(&g->built);
    free(g);
    return ISO_ENOMEM;
  }
  g->thread_started = 1;
  *out = g;
  return 0;
}

void pool__group_stop(pool_group* g) {
  if (g == NULL) {
    return;
  }
  if (g->thread_started) {
    atomic_store(&g->stop, 1);
    pthread_join(g->thread, NULL);
    g->thread_started = 0;
  }
  /* the spares end; the other engines ended with their workers' STOP */
  pthread_mutex_lock(&g->lock);
  g->stopping = 1;
  pthread_cond_broadcast(&g->built);
  for (pool_engine* e = g->engines; e != NULL; e = e->next) {
    e->stop = 1;
    if (e->wakeable) {
      uv_async_send(&e->wake);
    }
  }
  pthread_mutex_unlock(&g->lock);
  reap_engines(g, 1);
  iso_link_free(g->ctl); /* what the front sent and nobody read is dropped */
  g->ctl = NULL;
}

void pool__group_free(pool_group* g) {
  if (g == NULL) {
    return;
  }
  assert(g->n == 0);
  pool__group_stop(g);
  free(g->watch);
  pthread_mutex_destroy(&g->lock);
  pthread_cond_destroy(&g->released);
  pthread_cond_destroy(&g->built);
  free(g);
}

void pool__group_release(pool_group* g) {
  pthread_mutex_lock(&g->lock);
  g->held = 0;
  pthread_cond_broadcast(&g->released);
  pthread_mutex_unlock(&g->lock);
}

void pool__group_wait_released(pool_group* g) {
  pthread_mutex_lock(&g->lock);
  while (g->held) {
    pthread_cond_wait(&g->released, &g->lock);
  }
  pthread_mutex_unlock(&g->lock);
}

int pool__group_join(pool_group* g, pool_runner* r, int id, uint32_t nslots) {
  uint64_t* cancels = calloc(2 * (nslots > 0 ? nslots : 1), sizeof(*cancels));
  if (cancels == NULL) {
    return ISO_ENOMEM;
  }
  pthread_mutex_lock(&g->lock);
  if (g->n == g->cap) {
    int cap = g->cap ? g->cap * 2 : 16;
    pool_watch* grown = realloc(g->watch, (size_t)cap * sizeof(*grown));
    if (grown == NULL) {
      pthread_mutex_unlock(&g->lock);
      free(cancels);
      return ISO_ENOMEM;
    }
    g->watch = grown;
    g->cap = cap;
  }
  g->watch[g->n++] = (pool_watch){
      .r = r, .id = id, .nslots = nslots > 0 ? nslots : 1, .cancels = cancels};
  pthread_mutex_unlock(&g->lock);
  return 0;
}

void pool__group_leave(pool_group* g, pool_runner* r) {
  pthread_mutex_lock(&g->lock);
  pool_watch* w = watch_of(g, r, 0);
  if (w != NULL) {
    free(w->cancels);
    *w = g->watch[--g->n];
  }
  pthread_mutex_unlock(&g->lock);
}

void pool__group_uncancel(pool_group* g, pool_runner* r, uint64_t deadline) {
  assert(pool__on_worker(r));
  pthread_mutex_lock(&g->lock);
  pool_watch* w = watch_of(g, r, 0);
  if (w != NULL) {
    cancel_drop(w, deadline);
  }
  pthread_mutex_unlock(&g->lock);
}

/* ---- engines ---- */

void pool__group_engine_add(pool_group* g, pool_engine* e) {
  pthread_mutex_lock(&g->lock);
  e->next = g->engines;
  g->engines = e;
  pthread_mutex_unlock(&g->lock);
}

int pool__group_engines_missing(pool_group* g) {
  pthread_mutex_lock(&g->lock);
  int live = 0;
  for (pool_engine* e = g->engines; e != NULL; e = e->next) {
    live += e->state < POOL_ENG_ENDING;
  }
  int missing = g->stopping ? 0 : g->n + g->o.spares - live;
  pthread_mutex_unlock(&g->lock);
  return missing > 0 ? missing : 0;
}

int pool__group_engine_wakeable(pool_group* g, pool_engine* e) {
  pthread_mutex_lock(&g->lock);
  e->wakeable = 1;
  int go = !g->stopping && !e->stop;
  pthread_mutex_unlock(&g->lock);
  return go;
}

void pool__group_engine_state(pool_group* g, pool_engine* e, int state) {
  pthread_mutex_lock(&g->lock);
  e->state = state;
  if (state >= POOL_ENG_ENDING) {
    e->wakeable = 0; /* its handle closes */
  }
  pthread_mutex_unlock(&g->lock);
}

int pool__group_spare_ready(pool_group* g, pool_engine* e, uint64_t bytes) {
  pthread_mutex_lock(&g->lock);
  g->spare_builds++;
  int go = !g->stopping && !e->stop;
  if (go) {
    e->state = POOL_ENG_SPARE;
    e->bytes = bytes;
  }
  pthread_mutex_unlock(&g->lock);
  return go;
}

pool_engine* pool__group_spare_take(pool_group* g) {
  pthread_mutex_lock(&g->lock);
  pool_engine* e = g->engines;
  while (e != NULL && e->state != POOL_ENG_SPARE) {
    e = e->next;
  }
  if (e != NULL) {
    e->state = POOL_ENG_TAKEN;
  }
  pthread_mutex_unlock(&g->lock);
  return e;
}

void pool__group_hand(pool_group* g, pool_engine* to, pool_runner* w) {
  pthread_mutex_lock(&g->lock);
  to->handed = w;
  uv_async_send(&to->wake); /* a spare's handle is initialised */
  pthread_mutex_unlock(&g->lock);
}

pool_runner* pool__group_mail(pool_group* g, pool_engine* e, int* stop) {
  pthread_mutex_lock(&g->lock);
  pool_runner* w = e->handed;
  e->handed = NULL;
  *stop = e->stop;
  pthread_mutex_unlock(&g->lock);
  return w;
}

void pool__group_starting(pool_group* g, int delta) {
  pthread_mutex_lock(&g->lock);
  g->starting += delta;
  if (g->starting <= 0) {
    g->starting = 0;
    pthread_cond_broadcast(&g->built);
  }
  pthread_mutex_unlock(&g->lock);
}

void pool__group_wait_started(pool_group* g) {
  pthread_mutex_lock(&g->lock);
  while (g->starting > 0 && !g->stopping) {
    pthread_cond_wait(&g->built, &g->lock);
  }
  pthread_mutex_unlock(&g->lock);
}
