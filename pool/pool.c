/* pool.c: the pool's life: start, resize, shutdown, free.
 *
 * DESIGN: the workers live in pool->workers, an array of pointers under
 * pool->lock; each is the front's side of a worker (pool_worker), whose
 * thread is started with what it needs (worker.h: the runner) and reached
 * only with records on its links (ipc/iso_link.h: two socketpairs per
 * worker, the front's ends read on its link hub, hub.c; the worker's
 * ends given to its thread, or to its pool process). Growing adds a
 * worker (its links and its thread, which makes its isolate and says so
 * with a READY record) and
 * lets it take queued jobs at once. Shrinking never stops a busy worker:
 * it marks the newest workers retiring, so routing passes them by, and
 * the watchdog thread (watchdog.c) stops and frees each one once it has
 * nothing in flight. A worker struct is freed only after it left the
 * array under the lock and its links are closed (the worker's ends
 * first).
 *
 * Who may hold a worker pointer outside the lock: the watchdog (it is the
 * only reaper, and the shutdown frees workers after the watchdog ended);
 * an admin command that read it under the lock while admin_waiting,
 * which the reaper reads under the lock, was raised; a thread that sent a
 * worker a record did so under the lock. Nobody else: whatever reads the array
 * (routing, the watchdog's snapshot, admin commands) takes the lock.
 *
 * The shutdown and a resize: the shutdown sets pool->stopping under the
 * lock first (from then on no worker is added or reaped: a resize under
 * way finds it when it would add its worker, and stops that worker
 * again), then takes resize_lock, so it waits for a resize under way;
 * after that the array does not change, and the shutdown stops exactly
 * the workers it holds. Before it stops them it sets POOL_STOP_WORKERS
 * under the lock, after which nobody sends a worker a record but its
 * STOP. A worker stops in two steps: the STOP record (it answers what is
 * left cancelled, gives every job back, says STATE stopped and
 * ends) and pool__runner_halt, which stops the JavaScript it may be
 * running so that its loop reads the STOP; the shutdown then waits for
 * its end (pool__runner_join: its engine let go of it).
 *
 * Every job accepted before a drain or shutdown is answered: the pool
 * waits until nothing is in flight or queued (a drain without limit),
 * the workers answer what is left `cancelled` (it may have run in part;
 * `shutting_down` stays for a job that never ran: a queued one, or a
 * TASK that came after the STOP), what none gave back is answered from
 * the registry the same way, and the server then waits until each
 * request it received is replied to. A request arriving
 * meanwhile, until the server closes, is answered `shutting_down` by the
 * dispatcher.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"
#include "pool_private.h"

static const pool_runner_impl k_runners = {
    .start = pool__runner_start,
    .join = pool__runner_join,
    .free = pool__runner_free,
};
const pool_runner_impl* pool__runners = &k_runners;

#ifndef NDEBUG
_Thread_local char pool__thread_tag;
_Thread_local pool_runner* pool__this_worker;
_Thread_local pool_group* pool__this_group;
_Thread_local iso_pool* pool__this_watchdog;
#endif

static int fail(char* err, size_t errlen, int rc, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char* err, size_t errlen, int rc, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return rc;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- one worker ---- */

/* Sets up the front's side of w (the caller's storage, zeroed): its slot
 * table and its info lock. Returns 0 or ISO_ENOMEM (worker_close undoes
 * what was done). */
static int worker_init(pool_worker* w, iso_pool* pool, int id) {
  w->pool = pool;
  w->id = id;
  w->nslots = (uint32_t)pool->opts.max_inflight_per_worker;
  pthread_mutex_init(&w->info_lock, NULL);
  pthread_cond_init(&w->info_cond, NULL);
  pthread_mutex_init(&w->perm_lock, NULL);
  w->slots = calloc(w->nslots, sizeof(*w->slots));
  w->nperms = 2 * w->nslots;
  w->perms = calloc(w->nperms, sizeof(*w->perms));
  if (w->slots == NULL || w->perms == NULL) {
    return ISO_ENOMEM;
  }
  for (uint32_t i = 0; i < w->nslots; i++) {
    w->slots[i].next = i + 1; /* nslots: the end of the free list */
  }
  return 0;
}

static void worker_close(pool_worker* w) {
  for (uint32_t i = 0; w->perms != NULL && i < w->nperms; i++) {
    iso_perms_unref(w->perms[i].perms);
  }
  free(w->perms);
  pthread_mutex_destroy(&w->perm_lock);
  free(w->slots);
  pthread_mutex_destroy(&w->info_lock);
  pthread_cond_destroy(&w->info_cond);
}

int pool__worker_send(pool_worker* w, const iso_link_rec* rec) {
  assert(!pool__on_worker(NULL));
  return iso_link_send_rec(w->jobs, rec); /* closing: dropped */
}

static const iso_link_rec k_stop = {.kind = ISO_LINK_STOP,
                                    .u.stop = {.grace_ms = 0}};

void pool__worker_bad(pool_worker* w, const char* fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&w->info_lock);
  int first = atomic_load(&w->bad) == 0;
  if (first) {
    snprintf(w->bad_why, sizeof w->bad_why, "invalid reply from worker %d: %s",
             w->id, what);
    atomic_store(&w->bad, 1); /* the watchdog's to handle */
  }
  pthread_mutex_unlock(&w->info_lock);
  if (first) {
    pool__log(w->pool, "error", "%s", w->bad_why);
    pthread_mutex_lock(&w->pool->wd_lock);
    pthread_cond_signal(&w->pool->wd_cond);
    pthread_mutex_unlock(&w->pool->wd_lock);
  }
}

/* Asks the worker to stop (a STOP record, once) and waits for its thread
 * until `until_ns` (pool__now() time; 0: for ever). Returns 0, or
 * ISO_ETIMEDOUT when the thread did not come back in time (its JavaScript
 * would not stop): the worker is then abandoned and never freed. */
static int worker_stop(pool_worker* w, uint64_t until_ns) {
  if (w->proc != NULL) { /* its process ends once its front's end goes
                            (pool__procs_stop), or is killed */
    pthread_mutex_lock(&w->info_lock);
    int started = w->ready && w->start_rc == 0;
    pthread_mutex_unlock(&w->info_lock);
    if (started && atomic_load(&w->proc->state) != POOL_P_DEAD &&
        !atomic_exchange(&w->stop_sent, 1)) {
      pool__worker_send(w, &k_stop);
      pool__halt_send(w, 0);
    }
    uint64_t bound = pool__now() + 1000000000ull;
    if (until_ns == 0 || until_ns > bound) {
      until_ns = bound;
    }
    while (started && !atomic_load(&w->exited) &&
           atomic_load(&w->proc->state) != POOL_P_DEAD &&
           pool__now() < until_ns) {
      sleep_ms(2);
    }
    return 0;
  }
  if (w->runner == NULL) {
    return 0;
  }
  if (w->start_rc == 0 && !atomic_exchange(&w->stop_sent, 1)) {
    pool__worker_send(w, &k_stop);
  }
  /* JavaScript that never returns would keep the loop from the STOP: its
   * group's watchdog stops it */
  if (w->start_rc == 0) {
    pool__halt_send(w, 0);
  }
  if (pool__runners->join(w->runner, until_ns) != 0) {
    w->abandoned = 1;
    return ISO_ETIMEDOUT;
  }
  return 0;
}

/* Gives w an entry in pool->routes: its token, which its op batches
 * carry. Returns 0, or ISO_EBUSY when every entry is taken. */
static int route_take(iso_pool* pool, pool_worker* w) {
  int rc = ISO_EBUSY;
  pool__mutex_lock(&pool->routes_lock);
  for (uint32_t i = 0; i < POOL_MAX_ROUTES; i++) {
    pool_route* r = &pool->routes[i];
    if (r->w == NULL) {
      r->w = w;
      r->gen = r->gen + 1 != 0 ? r->gen + 1 : 1;
      w->route = POOL_ROUTE(i, r->gen);
      rc = 0;
      break;
    }
  }
  pool__mutex_unlock(&pool->routes_lock);
  return rc;
}

static void route_clear(iso_pool* pool, pool_worker* w) {
  pool__mutex_lock(&pool->routes_lock);
  for (uint32_t i = 0; i < POOL_MAX_ROUTES; i++) {
    if (pool->routes[i].w == w) {
      pool->routes[i].w = NULL;
    }
  }
  pool__mutex_unlock(&pool->routes_lock);
  if (pool->net != NULL && w->route != 0) {
    iso_net_release(pool->net, w->route, 0); /* its fetches end with it */
  }
}

/* Stops a worker that is out of the array (or never got in) and frees
 * it. Thread: not the worker's own, not the link hub's. */
static void worker_free(iso_pool* pool, pool_worker* w, int launched) {
  assert(!pool__on_worker(NULL));
  assert(!pool__on_hub(pool));
  if (launched) {
    worker_stop(w, 0);
  }
  pool__runners->free(w->runner); /* its ends of the links first */
  /* no callback of the links runs after this; op threads find no route
   * to it from here on (their batches' responses are dropped) */
  route_clear(pool, w);
  iso_link_free(w->jobs);
  iso_link_free(w->ops);
  if (w->jobs_peer >= 0) {
    close(w->jobs_peer);
  }
  if (w->ops_peer >= 0) {
    close(w->ops_peer);
  }
  worker_close(w);
  free(w);
}

/* One front end on the hub, from a new socketpair; the other end in
 * *peer. */
static int link_make(iso_pool* pool,
                     pool_worker* w,
                     size_t max,
                     iso_link_msg_cb msg_cb,
                     iso_link_event_cb event_cb,
                     iso_link** out,
                     int* peer,
                     char* err,
                     size_t errlen) {
  int fds[2];
  int rc = iso_link_socketpair(fds, err, errlen);
  if (rc != 0) {
    return rc;
  }
  size_t head_len;
  const uint8_t* head = iso_link_head(&head_len);
  iso_link_opts lo = {
      .fd = fds[0],
      .max_recv = max,
      .max_send = max,
      .head = head,
      .head_len = head_len,
      .hub = pool->hub,
      .msg_cb = msg_cb,
      .event_cb = event_cb,
      .arg = w,
  };
  rc = iso_link_new(&lo, out, err, errlen);
  if (rc != 0) {
    close(fds[1]);
    return rc;
  }
  *peer = fds[1];
  return 0;
}

/* Opens w's links: the front's ends on the hub, read by callback; the
 * worker's in w->jobs_peer and w->ops_peer. Returns 0 or an error with
 * err. */
static int links_open(iso_pool* pool,
                      pool_worker* w,
                      char* err,
                      size_t errlen) {
  int rc = link_make(pool, w, POOL_LINK_MAX(pool->opts.max_message),
                     pool__jobs_msg_cb, pool__jobs_event_cb, &w->jobs,
                     &w->jobs_peer, err, errlen);
  if (rc == 0) { /* its jobs link says when it goes */
    rc = link_make(pool, w, POOL_OPS_LINK_MAX, pool__ops_msg_cb, NULL, &w->ops,
                   &w->ops_peer, err, errlen);
  }
  return rc;
}

int pool__worker_new(iso_pool* pool,
                     pool_proc* p,
                     pool_worker** out,
                     char* err,
                     size_t errlen) {
  pool_worker* w = calloc(1, sizeof(*w));
  if (w == NULL) {
    return fail(err, errlen, ISO_ENOMEM, "out of memory");
  }
  w->proc = p;
  w->jobs_peer = w->ops_peer = -1;
  pool__mutex_lock(&pool->lock);
  int rc = worker_init(w, pool, pool->next_worker_id++);
  pool__mutex_unlock(&pool->lock);
  if (rc != 0) {
    worker_free(pool, w, 0);
    return fail(err, errlen, rc, "out of memory");
  }
  if (route_take(pool, w) != 0) {
    worker_free(pool, w, 0);
    return fail(err, errlen, ISO_EBUSY,
                "too many workers (%d at most, lost ones included)",
                POOL_MAX_ROUTES);
  }
  rc = links_open(pool, w, err, errlen);
  if (rc != 0) {
    worker_free(pool, w, 0);
    return rc;
  }
  *out = w;
  return 0;
}

void pool__worker_free(iso_pool* pool, pool_worker* w) {
  worker_free(pool, w, 0);
}

/* Starts a new worker, waits for its READY record and puts it in the
 * array, running. Returns 0 or an error with err. Thread: the controlling
 * thread or the admin plane's. */
static int worker_add(iso_pool* pool, char* err, size_t errlen) {
  assert(pool__mutex_held(&pool->resize_lock));
  pool_worker* w;
  int rc = pool__worker_new(pool, NULL, &w, err, errlen);
  if (rc != 0) {
    return rc;
  }
  const iso_pool_opts* o = &pool->opts;
  pool_runner_opts ro = {
      .id = w->id,
      .modules = pool->modules,
      .import_map = o->import_map,
      .import_map_url = o->import_map_url,
      .heap_mb = o->heap_mb,
      .max_message = o->max_message,
      .background_ms = o->background_ms,
      .recycle_jobs = o->recycle_jobs,
      .heap_soft_mb = o->heap_soft_mb,
      .recycle_heap_mb = o->recycle_heap_mb,
      .idle_ms = o->idle_timeout_ms,
      .nslots = w->nslots,
      .log_jobs = o->log_jobs,
      .log = pool->logger,
      .ops_env = pool->ops_env,
      .nperms = w->nperms,
      .jobs_fd = w->jobs_peer, /* taken by the start, even a failed one */
      .ops_fd = w->ops_peer,
  };
  w->jobs_peer = w->ops_peer = -1;
  char why[256] = "";
  rc = pool__runners->start(pool->group, &ro, &w->runner, why, sizeof why);
  if (rc != 0) {
    fail(err, errlen, rc, "worker %d: cannot start: %s", w->id,
         why[0] ? why : iso_strerror(rc));
    worker_free(pool, w, 0);
    return rc;
  }
  /* its READY record says how its runtime started */
  pthread_mutex_lock(&w->info_lock);
  while (!w->ready) {
    pthread_cond_wait(&w->info_cond, &w->info_lock);
  }
  rc = w->start_rc;
  pthread_mutex_unlock(&w->info_lock);
  if (rc != 0) {
    fail(err, errlen, rc, "%s", w->start_err);
    worker_free(pool, w, 1); /* it ends by itself */
    return rc;
  }
  pool__mutex_lock(&pool->lock);
  int stopping = pool->stopping != POOL_STOP_NONE;
  if (!stopping) {
    pool->workers[pool->nworkers++] = w;
    atomic_store(&w->state, POOL_W_RUNNING);
  }
  pool__mutex_unlock(&pool->lock);
  if (stopping) { /* the shutdown began while it started: it never ran */
    worker_free(pool, w, 1);
    return fail(err, errlen, ISO_ECLOSED, "the service is stopping");
  }
  pool__refill(pool, w);
  return 0;
}

/* Frees the retiring workers with nothing in flight. Thread: the
 * watchdog. */
void pool__reap(iso_pool* pool) {
  assert(pool__on_watchdog(pool));
  pool_worker* done[POOL_MAX_WORKERS];
  pool_worker* retire[POOL_MAX_WORKERS];
  int n = 0, nretire = 0;
  pool__mutex_lock(&pool->lock);
  /* an admin command holds workers; the shutdown stops them all */
  int hold =
      atomic_load(&pool->admin_waiting) > 0 || pool->stopping != POOL_STOP_NONE;
  for (int i = 0; i < pool->nworkers && !hold;) {
    pool_worker* w = pool->workers[i];
    int st = atomic_load(&w->state);
    if (w->proc != NULL) { /* freed with its process (pool__procs_reap) */
      if (st == POOL_W_RETIRING && w->inflight == 0) {
        retire[nretire++] = w; /* out of the array; stopped below */
        pool->workers[i] = pool->workers[--pool->nworkers];
      } else {
        i++;
      }
      continue;
    }
    if ((st == POOL_W_RETIRING && w->inflight == 0) ||
        (st == POOL_W_LOST && atomic_load(&w->exited))) {
      done[n++] = w;
      pool->workers[i] = pool->workers[--pool->nworkers];
    } else {
      i++;
    }
  }
  pool__mutex_unlock(&pool->lock);
  for (int i = 0; i < n; i++) {
    atomic_store(&done[i]->state, POOL_W_STOPPED);
    worker_free(pool, done[i], 1);
  }
  /* a worker of a process: its thread there ends on its STOP (a process
   * whose workers all stopped exits; pool__proc_retire), and it is freed
   * with its process */
  for (int i = 0; i < nretire; i++) {
    pool_worker* w = retire[i];
    atomic_store(&w->state, POOL_W_STOPPED);
    if (!atomic_exchange(&w->stop_sent, 1)) {
      pool__worker_send(w, &k_stop);
    }
    pool__proc_retire(w);
  }
}

static int resize_locked(iso_pool* pool, int n, char* err, size_t errlen);

int pool__resize(iso_pool* pool, int n, char* err, size_t errlen) {
  if (pool__mutex_trylock(&pool->resize_lock) != 0) {
    snprintf(err, errlen, "a resize is under way; try again when it is done");
    return ISO_EBUSY;
  }
  int rc = resize_locked(pool, n, err, errlen);
  pool__mutex_unlock(&pool->resize_lock);
  return rc;
}

static int resize_locked(iso_pool* pool, int n, char* err, size_t errlen) {
  assert(pool__mutex_held(&pool->resize_lock));
  pool__mutex_lock(&pool->lock);
  if (pool->stopping != POOL_STOP_NONE) {
    pool__mutex_unlock(&pool->lock);
    return fail(err, errlen, ISO_ECLOSED, "the service is stopping");
  }
  int alive = 0;
  for (int i = 0; i < pool->nworkers; i++) {
    int st = atomic_load(&pool->workers[i]->state);
    alive += st != POOL_W_RETIRING && st != POOL_W_LOST;
  }
  pool->configured = n;
  /* shrink: the newest go first */
  for (int i = pool->nworkers - 1; i >= 0 && alive > n; i--) {
    pool_worker* w = pool->workers[i];
    int st = atomic_load(&w->state);
    if (st != POOL_W_RETIRING && st != POOL_W_LOST) {
      atomic_store(&w->state, POOL_W_RETIRING);
      alive--;
    }
  }
  int missing = n - alive;
  pool__mutex_unlock(&pool->lock);
  if (pool->super != NULL) { /* new pool processes */
    return missing > 0 ? pool__procs_grow(pool, missing, err, errlen) : 0;
  }
  for (int i = 0; i < missing; i++) {
    int rc = worker_add(pool, err, errlen);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

/* ---- start ---- */

static void set_defaults(iso_pool_opts* o) {
  if (o->workers <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = n > 0 ? (int)n : 1;
  }
  if (o->workers > POOL_MAX_WORKERS) {
    o->workers = POOL_MAX_WORKERS;
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
  if (o->spare_isolates == 0) { /* < 0 stays: none */
    o->spare_isolates = POOL_SPARE_ISOLATES_DEFAULT;
  }
  if (o->processes < 0) { /* docs/architecture.md: the figures */
    o->processes =
        (o->workers + POOL_THREADS_PER_PROCESS - 1) / POOL_THREADS_PER_PROCESS;
  }
  if (o->processes > o->workers) {
    o->processes = o->workers; /* a process runs one worker at least */
  }
  if (o->spare_processes < 0) {
    o->spare_processes = POOL_SPARE_PROCESSES_DEFAULT;
  }
  if (o->processes == 0) {
    o->spare_processes = 0;
  }
  static const char* const kDefaultUrl[] = {"tcp://127.0.0.1:7447"};
  if (o->nlisten == 0) {
    o->listen = kDefaultUrl;
    o->nlisten = 1;
  }
}

int iso_pool_process_threads(const iso_pool_opts* opts) {
  iso_pool_opts o = *opts;
  set_defaults(&o);
  return o.processes > 0 ? (o.workers + o.processes - 1) / o.processes : 0;
}

/* What a pool process's data bound must hold (iso_pool_process_min_mb).
 * Its threads besides its main thread and its worker threads: V8's
 * platform (3) and the group's watchdog (its links are socketpairs: no
 * NNG thread); each has a stack of glibc's default size (RLIMIT_STACK's
 * soft limit, 2 MiB when that is unlimited), and RLIMIT_DATA counts a
 * stack whole, touched or not (the main thread's grows: not counted).
 * Measured with 8 MiB stacks (VmData of an idle process): 45, 56 and
 * 79 MB with 1, 2 and 4 worker threads, of which 5, 6 and 8 stacks are
 * all but 5 MB, and each worker thread 2.5 MB more.
 * PROC_BASE_MB is that rest with room. ISO_POOL_PROCESS_WORKER_MB is
 * what a worker commits beside its heap limit, which counts live objects
 * after a full collection: V8's semi-space they are copied into, garbage
 * not yet collected, the worker's own 2.5 MB; 56 MB above a 64 MB limit
 * at the worst measured (docs/architecture.md). */
#define PROC_OTHER_THREADS 4
#define PROC_BASE_MB 16

static size_t thread_stack_mb(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_STACK, &r) != 0 || r.rlim_cur == RLIM_INFINITY) {
    return 2;
  }
  return (size_t)((r.rlim_cur + ((1u << 20) - 1)) >> 20);
}

size_t iso_pool_process_min_mb(int threads, int spares, size_t heap_mb) {
  size_t t = threads > 0 ? (size_t)threads : 1;
  size_t sp = spares == 0  ? POOL_SPARE_ISOLATES_DEFAULT
              : spares < 0 ? 0
                           : (size_t)spares;
  size_t stacks = (PROC_OTHER_THREADS + t + sp) * thread_stack_mb();
  return stacks + PROC_BASE_MB + sp * ISO_POOL_PROCESS_SPARE_MB +
         t * ((heap_mb > 0 ? heap_mb : 512) + ISO_POOL_PROCESS_WORKER_MB);
}

/* The worker side: its one group of worker threads, and the control
 * link to its watchdog (a socketpair: the front keeps one end, the group
 * gets the other). */
static int group_start(iso_pool* pool, char* err, size_t errlen) {
  int peer;
  int rc = pool__ctl_open(pool, &peer, err, errlen);
  if (rc != 0) {
    return rc;
  }
  atomic_store(&pool->group_alive_ns, pool__now());
  /* the group takes peer, even when it fails */
  pool_group_opts go = {
      .log = pool->logger, .ctl_fd = peer, .spares = POOL_SPARES(&pool->opts)};
  char why[256];
  rc = pool__group_new(&go, &pool->group, why, sizeof(why));
  if (rc != 0) {
    return fail(err, errlen, rc, "cannot start the workers' watchdog: %s", why);
  }
  return 0;
}

/* Stops and frees every worker (none may be routed to any more). */
static void workers_free(iso_pool* pool) {
  /* the pool processes' ends from here on are no deaths (procs.c) */
  pthread_mutex_lock(&pool->procs_lock);
  pool->procs_stopping = 1;
  pthread_cond_broadcast(&pool->procs_cond);
  pthread_mutex_unlock(&pool->procs_lock);
  pool__mutex_lock(&pool->lock);
  int n = pool->nworkers;
  pool->nworkers = 0;
  pool->routing_closed = 1; /* a process that gets ready now stays out */
  pool__mutex_unlock(&pool->lock);
  for (int i = 0; i < n; i++) {
    worker_stop(pool->workers[i], 0);
  }
  pool__ops_stop(pool);   /* op responses due to stopped workers are freed */
  pool__procs_stop(pool); /* the processes end: their workers' links go */
  for (int i = 0; i < n; i++) {
    if (pool->workers[i]->proc == NULL) { /* else its process's */
      worker_free(pool, pool->workers[i], 0);
    }
    pool->workers[i] = NULL;
  }
}

int iso_pool_new(const iso_pool_opts* opts,
                 iso_pool** out,
                 char* err,
                 size_t errlen) {
  iso_pool* pool = calloc(1, sizeof(*pool));
  if (pool == NULL) {
    return fail(err, errlen, ISO_ENOMEM, "out of memory");
  }
  pool->opts = *opts;
  iso_pool_opts* o = &pool->opts;
  set_defaults(o);
  size_t min_mb = iso_pool_process_min_mb(iso_pool_process_threads(o),
                                          o->spare_isolates, o->heap_mb);
  if (o->processes > 0 && o->process_max_mb > 0 && o->process_max_mb < min_mb) {
    int rc = fail(err, errlen, ISO_EINVAL,
                  "a data bound of %zu MiB per pool process is below the %zu "
                  "its %d worker thread(s) with heap limits of %zu MiB need",
                  o->process_max_mb, min_mb, iso_pool_process_threads(o),
                  o->heap_mb);
    free(pool);
    return rc;
  }
  pool->logger = pool__logger_of(o->log_level, o->log_format);
  pool->started_ns = pool__now();
  pool->stop_grace_ms = -1;
  pool->modules = realpath(o->modules ? o->modules : ".", NULL);
  if (pool->modules == NULL) {
    int rc = fail(err, errlen, ISO_ENOENT, "the module root %s does not exist",
                  o->modules ? o->modules : ".");
    free(pool);
    return rc;
  }
  pool__mutex_init(&pool->lock);
  pool__mutex_init(&pool->jobs_lock);
  pool__mutex_init(&pool->resize_lock);
  pool__mutex_init(&pool->routes_lock);
  pthread_mutex_init(&pool->procs_lock, NULL);
  pthread_cond_init(&pool->procs_cond, NULL);
  pthread_mutex_init(&pool->wd_lock, NULL);
  pthread_cond_init(&pool->wd_cond, NULL);
  pool->metrics = iso_metrics_new();
  int rc = pool->metrics != NULL
               ? pool__hub_start(pool, err, errlen)
               : fail(err, errlen, ISO_ENOMEM, "out of memory");
  if (rc == 0) {
    rc = pool__ops_start(pool, err, errlen);
  }
  if (rc == 0 && o->processes == 0 && o->code_cache_dir != NULL) {
    pool__log(pool, "warn",
              "--code-cache %s: only with pool processes (--processes 0 "
              "shares its workers' cache in memory): not used",
              o->code_cache_dir);
  }
  if (rc == 0 && o->processes > 0) {
    rc = pool__code_new(pool, ISO_POOL_CODE_CACHE_BYTES(o), o->code_cache_dir,
                        &pool->code);
    if (rc != 0) {
      rc = fail(err, errlen, rc, "out of memory");
    }
  }
  if (rc == 0 && o->processes > 0) {
    rc = pool__procs_start(pool, err, errlen);
    pool->configured = o->workers;
  } else if (rc == 0) {
    rc = group_start(pool, err, errlen);
    if (rc == 0) {
      rc = pool__resize(pool, o->workers, err, errlen);
    }
  }
  int watchdog = 0;
  if (rc == 0) {
    watchdog = pool__watchdog_start(pool) == 0;
    rc = watchdog ? 0
                  : fail(err, errlen, ISO_ENOMEM,
                         "cannot start the watchdog thread");
  }
  if (rc == 0) {
    /* pool_private.h, POOL_PING_CONTEXTS */
    int64_t contexts = (int64_t)o->max_queue +
                       (int64_t)o->workers * o->max_inflight_per_worker +
                       POOL_PING_CONTEXTS;
    contexts = contexts < POOL_MIN_CONTEXTS   ? POOL_MIN_CONTEXTS
               : contexts > POOL_MAX_CONTEXTS ? POOL_MAX_CONTEXTS
                                              : contexts;
    iso_server_opts so = {
        .urls = o->listen,
        .nurls = o->nlisten,
        .contexts = (int)contexts,
        .max_message = o->max_message,
        .tls_cert = o->tls_cert,
        .tls_key = o->tls_key,
        .cb = pool__request_cb,
        .closed_cb = pool__peer_closed_cb,
        .arg = pool,
    };
    rc = iso_server_new(&so, &pool->server, err, errlen);
  }
  if (rc == 0) {
    rc = pool__admin_start(pool, err, errlen);
  }
  if (rc != 0) {
    iso_server_free(pool->server);
    pool->server = NULL;
    if (watchdog) {
      pool__watchdog_stop(pool);
    }
    workers_free(pool);
    iso_pool_free(pool);
    return rc;
  }
  if (!o->quiet) {
    pool__mutex_lock(&pool->lock); /* the admin socket is already open */
    int nworkers = pool->nworkers;
    pool__mutex_unlock(&pool->lock);
    char urls[512] = "", procs[96] = " in the front (--processes 0)";
    if (o->processes > 0) {
      snprintf(procs, sizeof procs, " in %d pool processes (and %d spare%s)",
               o->processes, o->spare_processes,
               o->spare_processes == 1 ? "" : "s");
    }
    for (size_t i = 0, n = 0; i < o->nlisten && n < sizeof(urls); i++) {
      n += (size_t)snprintf(urls + n, sizeof(urls) - n, "%s%s", i ? " " : "",
                            o->listen[i]);
    }
    pool__log(pool, "info",
              "serving on %s with %d workers%s (modules: %s; admin: %s%s%s; "
              "kv: %s)",
              urls, nworkers, procs, pool->modules,
              pool->admin_url != NULL ? pool->admin_url : "off",
              o->metrics_url != NULL ? "; metrics: " : "",
              o->metrics_url != NULL ? o->metrics_url : "",
              o->kv_path != NULL ? o->kv_path : "in memory");
  }
  *out = pool;
  return 0;
}

/* ---- shutdown ---- */

void pool__worker_lost(iso_pool* pool, pool_worker* w, const char* why) {
  assert(pool__on_watchdog(pool));
  if (w->proc != NULL) { /* its process goes, and its jobs with it */
    pool__proc_kill(w->proc, "%s", why);
    return;
  }
  pool__mutex_lock(&pool->lock);
  int st = atomic_load(&w->state);
  if (pool->stopping != POOL_STOP_NONE || st == POOL_W_LOST ||
      st == POOL_W_STOPPED) {
    pool__mutex_unlock(&pool->lock);
    return; /* a shutdown waits for its workers with a bound of its own */
  }
  atomic_store(&w->state, POOL_W_LOST); /* routing passes it by */
  /* when its thread comes back it reads the STOP and stops as at a
   * shutdown */
  if (!atomic_exchange(&w->stop_sent, 1)) {
    pool__worker_send(w, &k_stop);
  }
  pool__mutex_unlock(&pool->lock);
  char msg[400];
  snprintf(msg, sizeof(msg), "%s; a new worker took its place", why);
  size_t n = pool__answer_unanswered(pool, w, ISO_CODE_WORKER_LOST, msg);
  pool__log(pool, "error",
            "%s; %zu job(s) answered worker_lost; starting a new worker", why,
            n);
  char err[256];
  pool__mutex_lock(&pool->resize_lock);
  int rc = worker_add(pool, err, sizeof(err));
  pool__mutex_unlock(&pool->resize_lock);
  if (rc != 0 && rc != ISO_ECLOSED) {
    pool__log(pool, "error", "worker %d lost and not replaced: %s", w->id, err);
  }
}

int iso_pool_abandoned(const iso_pool* pool) {
  return pool->abandoned;
}

static int total_inflight(iso_pool* pool) {
  int n = 0;
  pool__mutex_lock(&pool->lock);
  for (int i = 0; i < pool->nworkers; i++) {
    /* a lost or abandoned worker may never give its jobs back (they are
     * answered: the watchdog did, or the shutdown's last resort will) */
    if (atomic_load(&pool->workers[i]->state) != POOL_W_LOST &&
        !pool->workers[i]->abandoned) {
      n += pool->workers[i]->inflight;
    }
  }
  n += pool->qlen;
  pool__mutex_unlock(&pool->lock);
  return n;
}

void iso_pool_shutdown(iso_pool* pool) {
  /* 1. stop taking jobs and changing workers; unless draining, what waits
   * in the queue is answered now */
  pool__mutex_lock(&pool->lock);
  int drain = pool->stop_grace_ms == POOL_DRAIN;
  uint64_t grace_ms = pool->stop_grace_ms >= 0 ? (uint64_t)pool->stop_grace_ms
                                               : pool->opts.grace_ms;
  pool->draining = 1;
  pool->stopping = POOL_STOP_BEGUN;
  atomic_store(&pool->state,
               drain ? ISO_POOL_DRAINING : ISO_POOL_SHUTTING_DOWN);
  pool_job* queued = drain ? NULL : pool->qhead;
  if (!drain) {
    pool->qhead = pool->qtail = NULL;
    pool->qlen = 0;
  }
  pool__mutex_unlock(&pool->lock);
  pthread_mutex_lock(&pool->procs_lock); /* a resize's wait ends */
  pool->procs_stopping = 1;
  pthread_cond_broadcast(&pool->procs_cond);
  pthread_mutex_unlock(&pool->procs_lock);
  while (queued != NULL) {
    pool_job* job = queued;
    queued = job->qnext;
    pool__answer_refuse(job, ISO_CODE_SHUTTING_DOWN,
                        "the service is shutting down");
  }
  /* 2. the grace period for jobs on the workers (draining: all of them,
   * queued ones included, however long) */
  uint64_t end = pool__now() + grace_ms * 1000000;
  while (total_inflight(pool) > 0 && (drain || pool__now() < end)) {
    sleep_ms(5);
  }
  /* 3. the workers answer what is left cancelled and give it back. A
   * resize under way ends first (it adds no worker now); then the array
   * holds still */
  atomic_store(&pool->state, ISO_POOL_SHUTTING_DOWN);
  pool__mutex_lock(&pool->resize_lock);
  pool__mutex_lock(&pool->lock);
  pool->stopping = POOL_STOP_WORKERS;
  int n = pool->nworkers;
  pool_worker* ws[POOL_MAX_WORKERS];
  memcpy(ws, pool->workers, (size_t)n * sizeof(ws[0]));
  pool__mutex_unlock(&pool->lock);
  pool__mutex_unlock(&pool->resize_lock);
  /* a thread whose JavaScript never stops is not waited for past the
   * grace and one more second: SIGTERM always ends the process */
  uint64_t until = pool__now() + 1000000000ull;
  int abandoned = 0;
  for (int i = 0; i < n; i++) {
    if (worker_stop(ws[i], until) != 0) {
      abandoned++;
      pool__log(pool, "warn",
                "worker %d: its JavaScript would not stop; not waited for",
                ws[i]->id);
    }
  }
  pool->abandoned = abandoned;
  /* the spares' workers (out of routing, in no array) stop too */
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    pthread_mutex_lock(&pool->procs_lock);
    pool_proc* p = pool->procs[i];
    int spare = p != NULL && atomic_load(&p->state) == POOL_P_SPARE;
    pthread_mutex_unlock(&pool->procs_lock);
    for (int k = 0; spare && k < p->nworkers; k++) {
      worker_stop(p->workers[k], until);
    }
  }
  pool__watchdog_stop(pool);
  pool__ops_stop(pool);
  pool__procs_stop(pool); /* the processes exit; they are reaped */
  end = pool__now() + 2000000000ull;
  while (total_inflight(pool) > 0 && pool__now() < end) {
    sleep_ms(2);
  }
  /* what no worker gave back is answered all the same: cancelled if it
   * was sent to one (it may have run in part) */
  size_t never_sent = 0;
  size_t left = pool__answer_stopped(pool, &never_sent);
  if (left > 0) {
    pool__log(pool, "warn",
              "%zu job(s) were not given back by their workers; answered "
              "cancelled (%zu never sent to one: shutting_down)",
              left, never_sent);
  }
  /* 4. every request received is replied to and its reply has left */
  iso_server_drain(pool->server, 1000);
}

void iso_pool_free(iso_pool* pool) {
  if (pool == NULL) {
    return;
  }
  pool__admin_stop(pool);
  iso_server_free(pool->server);
  int whole = pool->abandoned == 0; /* else its watchdog still watches */
  /* no record crosses the control link from here on (an abandoned
   * worker's group still sends: its sends fail) */
  pool__ctl_close(pool);
  if (whole) {
    pool__group_stop(pool->group);
  }
  for (int i = 0; i < pool->nworkers; i++) {
    pool_worker* w = pool->workers[i];
    if (w == NULL || w->proc != NULL) {
      continue; /* freed with its process (pool__procs_free) */
    }
    if (!w->abandoned) {
      worker_free(pool, w, 0);
    } else { /* its thread still uses it; its links' callbacks use the
                pool, which goes now */
      iso_link_free(w->jobs);
      iso_link_free(w->ops);
      w->jobs = w->ops = NULL;
    }
  }
  if (whole) {
    pool__group_free(pool->group);
  }
  pool__procs_stop(pool); /* already done, unless the start failed */
  pool__procs_free(pool);
  /* no link is left on the hub (an abandoned worker's were freed above) */
  pool__hub_stop(pool);
  pool__code_free(pool->code);
  pool__ops_close(pool);
  iso_metrics_free(pool->metrics);
  pool__mutex_close(&pool->lock);
  pool__mutex_close(&pool->jobs_lock);
  pool__mutex_close(&pool->resize_lock);
  pool__mutex_close(&pool->routes_lock);
  pthread_mutex_destroy(&pool->wd_lock);
  pthread_cond_destroy(&pool->wd_cond);
  pthread_mutex_destroy(&pool->procs_lock);
  pthread_cond_destroy(&pool->procs_cond);
  free(pool->modules);
  free(pool);
}
