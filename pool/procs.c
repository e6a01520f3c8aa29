/* procs.c: the front's pool processes (--processes P > 0): their table,
 * their spawn, their death and their spares.
 *
 * DESIGN: a pool process (pool/pool_proc.h: `isopool pool-process`) runs
 * some of the front's workers; the front keeps a pool_worker for each,
 * as for a worker thread of its own (pool.c), and a pool_proc for the
 * process: its number and generation (its entry in pool->procs and how
 * often that entry was used: its name in the log), its pid, its workers,
 * its state (STARTING, SPARE, ACTIVE, DYING, DEAD) and its control link.
 * The front makes every link of a process (its control link, each
 * worker's jobs and ops links) as a socketpair before it spawns it,
 * keeps one end of each (on its link hub, hub.c) and gives the other to
 * the spawn (pool__super_spawn's fds: the child has them at the same
 * numbers, named on its command line), then closes its copies of the
 * child's ends. Inheritance is the authentication: nobody else can reach
 * a link, so there is no peer to check, and the process needs no socket
 * or connect before it seals its sandbox.
 *
 * Life: spawned (the supervisor's fork and exec, super.h) -> STARTING
 * until every worker's READY came (a failed start kills it) -> ACTIVE
 * when fewer than P are (its workers join routing: pool->workers), else
 * SPARE (started, connected, sandboxed, isolates made; out of routing).
 * The start waits for P active ones; spares come when they come. A
 * grow's process (a resize) holds its place among the P while it starts
 * (reserved): a spare or a replacement that comes up first stays a spare
 * (it would take the place with its own count of workers, and the
 * grow's process, coming up next, would be the spare: the resize
 * undone).
 *
 * Death: the supervisor's exit callback (on its thread) marks the
 * process DEAD; before it, a kill by the front (pool__proc_kill: a
 * worker lost by watchdog.c's rules, a group or a link that sent what
 * none sends, a link's peer gone) marks it DYING and takes its workers
 * out of routing at once. Once it has ended every job on its workers is
 * answered worker_lost, once, through the claim (answer.c), saying how
 * the process ended ("killed by signal 9", "exited with status 1", and
 * why the front killed it, when it did): as soon as the front sees it
 * has (answer_dead: at a link's PEER_GONE, or within a watchdog round
 * after, a DYING process found ended by pool__super_exited, still
 * unreaped), or at its exit callback, whichever is first (the SIGCHLD's
 * way to the supervisor's loop took 88 ms once under load, after the
 * links had closed); the jobs leave their slots at the exit; a spare
 * goes into routing in the place of an active process (at its kill, or
 * at its exit); a replacement is spawned after pool__restart_delay_ms's
 * delay (by the time it was active: a process that dies young is
 * restarted later and later, up to 30 s; one backoff for the pool, since
 * any process may replace any other). Restarts and jobs lost are
 * counted; the last death is kept for poolctl status. The watchdog frees
 * dead processes (pool__procs_reap: links after the process is gone, as
 * iso_link.h asks), being the only thread that frees workers while the
 * service runs.
 *
 * Workers per process: --workers N over P processes is N / P each, the
 * first N % P processes one more; a spare has the most (N / P rounded
 * up), so it can stand in for any; after such a replacement the pool may
 * hold up to one worker more per replaced process than --workers.
 *
 * Locks: procs_lock guards the table, the counts, the backoff, each
 * process's state, nready, pid and spawned; it is taken before
 * pool->lock (out of routing, into routing), never under it, and never
 * held across a spawn (the supervisor may be running an exit callback
 * that wants it). A process's answer_lock orders answer_dead's answers
 * with its exit callback's (taken alone; only the answers' own locks
 * under it), so the exit's line counts both.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"
#include "pool_private.h"

/* How long the start waits for the first processes to be ready, and the
 * shutdown for them to exit once their control links closed. */
#define PROCS_START_MS 60000
#define PROCS_EXIT_MS 2000

static void respawn_cb(pool_super* s, void* arg, int cancelled);
static void answer_dead(pool_proc* p);

/* The service is stopping (a shutdown, or a start that failed and is
 * being undone): a process's end is no death. */
static int stopping(iso_pool* pool) {
  pool__mutex_lock(&pool->lock);
  int st = pool->stopping != POOL_STOP_NONE;
  pool__mutex_unlock(&pool->lock);
  pthread_mutex_lock(&pool->procs_lock);
  st |= pool->procs_stopping;
  pthread_mutex_unlock(&pool->procs_lock);
  return st;
}

/* ---- routing ---- */

/* p's workers into routing (p just became active). */
static void route_in(pool_proc* p) {
  iso_pool* pool = p->pool;
  pool__mutex_lock(&pool->lock);
  int in = pool->stopping == POOL_STOP_NONE && !pool->routing_closed &&
           pool->nworkers + p->nworkers <= POOL_MAX_WORKERS;
  for (int i = 0; in && i < p->nworkers; i++) {
    pool->workers[pool->nworkers++] = p->workers[i];
    atomic_store(&p->workers[i]->state, POOL_W_RUNNING);
  }
  pool__mutex_unlock(&pool->lock);
  for (int i = 0; in && i < p->nworkers; i++) {
    pool__refill(pool, p->workers[i]);
  }
  pthread_mutex_lock(&pool->procs_lock);
  pool->nrouted++; /* the start waits for these */
  pthread_cond_broadcast(&pool->procs_cond);
  pthread_mutex_unlock(&pool->procs_lock);
}

/* p's workers out of routing (lost: nothing is sent to them). */
static void route_out(pool_proc* p) {
  iso_pool* pool = p->pool;
  pool__mutex_lock(&pool->lock);
  for (int i = 0; i < p->nworkers; i++) {
    atomic_store(&p->workers[i]->state, POOL_W_LOST);
  }
  pool__mutex_unlock(&pool->lock);
}

/* Called with procs_lock: an active process is missing whose place no
 * grow's process still starting holds. */
static int place_free(const iso_pool* pool) {
  return pool->nactive + pool->nreserved < pool->procs_want;
}

/* Called with procs_lock: p, a grow's, leaves STARTING (ready, killed or
 * dead): its place is no longer held. */
static void unreserve(pool_proc* p) {
  if (p->reserved) {
    p->reserved = 0;
    p->pool->nreserved--;
  }
}

/* A spare into routing, if one is ready and an active process is
 * missing. */
static void promote(iso_pool* pool) {
  pool_proc* sp = NULL;
  pthread_mutex_lock(&pool->procs_lock);
  if (place_free(pool)) {
    for (int i = 0; i < POOL_MAX_PROCS && sp == NULL; i++) {
      pool_proc* p = pool->procs[i];
      if (p != NULL && atomic_load(&p->state) == POOL_P_SPARE) {
        sp = p;
      }
    }
  }
  if (sp != NULL) {
    atomic_store(&sp->state, POOL_P_ACTIVE);
    pool->nspare--;
    pool->nactive++;
    sp->active_ns = pool__now();
  }
  pthread_mutex_unlock(&pool->procs_lock);
  if (sp != NULL) {
    route_in(sp);
    pool__log(pool, "info",
              "pool process %u.%u (pid %d), a spare, took the place of a "
              "dead one",
              sp->num, sp->gen, atomic_load(&sp->pid));
  }
}

/* ---- kill ---- */

/* Called with procs_lock: p leaves its state's count. */
static void uncount(pool_proc* p, int state) {
  iso_pool* pool = p->pool;
  switch (state) {
    case POOL_P_STARTING:
      pool->nstarting--;
      unreserve(p);
      break;
    case POOL_P_SPARE:
      pool->nspare--;
      break;
    case POOL_P_ACTIVE:
      pool->nactive--;
      break;
    default:
      break;
  }
}

/* SIGKILLs pid through the supervisor, unless the shutdown has taken it
 * away (pool__procs_stop: it kills and reaps them all itself). Under
 * procs_lock, so that it never runs into pool__super_free: a link's
 * thread may find a process gone while the shutdown ends them. */
static void super_kill(iso_pool* pool, int pid) {
  pthread_mutex_lock(&pool->procs_lock);
  if (pool->super != NULL) {
    pool__super_kill(pool->super, pid, SIGKILL);
  }
  pthread_mutex_unlock(&pool->procs_lock);
}

/* Kills p for why; gone: its links went (it is most likely dead
 * already, and the kill makes sure: its exit, not the front, says how it
 * ended). */
static void kill_proc(pool_proc* p, int gone, const char* why) {
  iso_pool* pool = p->pool;
  pthread_mutex_lock(&pool->procs_lock);
  int st = atomic_load(&p->state);
  if (p->retired) { /* a resize ended it: out of every count already; its
                       links going is its exit */
    int pid = st != POOL_P_DEAD && !gone ? atomic_load(&p->pid) : 0;
    pthread_mutex_unlock(&pool->procs_lock);
    if (pid > 0) {
      super_kill(pool, pid);
    }
    return;
  }
  int first = st != POOL_P_DEAD && !atomic_load(&p->killed);
  if (first) {
    pool__code_drop_from(pool->code, p); /* code.c's DESIGN: trust */
    snprintf(p->why, sizeof p->why, "%s", why);
    p->killed_ns = pool__now();
    atomic_store(&p->killed, gone ? 2 : 1);
    if (st != POOL_P_DYING) {
      uncount(p, st);
      atomic_store(&p->state, POOL_P_DYING);
    }
  }
  int pid = atomic_load(&p->pid);
  pthread_mutex_unlock(&pool->procs_lock);
  if (!first) {
    if (gone) { /* the front killed it, and now its links went */
      answer_dead(p);
    }
    return;
  }
  /* its links going is how the front hears first of most deaths: the
   * exit's line (exit_cb) says how it ended */
  pool__log(pool, gone ? "debug" : "error", "pool process %u.%u (pid %d): %s%s",
            p->num, p->gen, pid, gone ? "" : "killed: ", why);
  route_out(p);
  if (st == POOL_P_ACTIVE) {
    promote(pool); /* at once, not at its exit */
  }
  if (pid > 0) { /* else its spawner kills it as the pid comes back */
    super_kill(pool, pid);
  }
  if (gone) { /* most likely dead already: its jobs need not wait */
    answer_dead(p);
  }
}

void pool__proc_kill(pool_proc* p, const char* fmt, ...) {
  char why[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  kill_proc(p, 0, why);
}

void pool__proc_gone(pool_proc* p, const char* what) {
  kill_proc(p, 1, what);
}

/* ---- start ---- */

/* p is spawned and every worker said READY: into routing, or a spare;
 * or killed (a worker that could not start). */
static void try_ready(pool_proc* p) {
  iso_pool* pool = p->pool;
  char bad[300] = "";
  int active = 0;
  pthread_mutex_lock(&pool->procs_lock);
  int pid = atomic_load(&p->pid);
  if (atomic_load(&p->state) != POOL_P_STARTING || p->nready < p->nworkers ||
      pid == 0) {
    pthread_mutex_unlock(&pool->procs_lock);
    return;
  }
  for (int i = 0; i < p->nworkers && bad[0] == '\0'; i++) {
    pool_worker* w = p->workers[i];
    pthread_mutex_lock(&w->info_lock);
    if (w->start_rc != 0) {
      snprintf(bad, sizeof bad, "worker %d could not start: %s", w->id,
               w->start_err);
    }
    pthread_mutex_unlock(&w->info_lock);
  }
  if (bad[0] == '\0') {
    pool->nstarting--;
    unreserve(p);
    active = place_free(pool);
    if (active) {
      pool->nactive++;
      p->active_ns = pool__now();
    } else {
      pool->nspare++;
    }
    atomic_store(&p->state, active ? POOL_P_ACTIVE : POOL_P_SPARE);
    pthread_cond_broadcast(&pool->procs_cond);
  }
  pthread_mutex_unlock(&pool->procs_lock);
  if (bad[0] != '\0') {
    pool__proc_kill(p, "%s", bad);
    return;
  }
  pool__log(pool, "debug", "pool process %u.%u (pid %d): ready, %s", p->num,
            p->gen, pid, active ? "active" : "a spare");
  if (active) {
    route_in(p);
  }
}

void pool__proc_ready(pool_worker* w) {
  pool_proc* p = w->proc;
  pthread_mutex_lock(&p->pool->procs_lock);
  p->nready++;
  pthread_mutex_unlock(&p->pool->procs_lock);
  try_ready(p);
}

static void ctl_event_cb(iso_link* link, iso_link_event ev, void* arg) {
  pool_proc* p = arg;
  (void)link;
  (void)ev; /* PEER_GONE, the only event */
  if (!stopping(p->pool)) {
    pool__proc_gone(p, "its control link closed");
  }
}

/* How many workers the k-th process of the start has (k < P), or a spare
 * or a replacement (k < 0). */
static int proc_size(const iso_pool* pool, int k) {
  int n = pool->opts.workers, np = pool->opts.processes;
  if (k < 0) {
    return (n + np - 1) / np;
  }
  return n / np + (k < n % np);
}

/* Frees p's workers, links and entry (its process never ran, or is
 * reaped). */
static void proc_free(iso_pool* pool, pool_proc* p) {
  for (int i = 0; i < p->nworkers; i++) {
    pool__worker_free(pool, p->workers[i]);
  }
  iso_link_free(p->ctl);
  if (p->ctl_peer >= 0) {
    close(p->ctl_peer);
  }
  pthread_mutex_lock(&pool->procs_lock);
  if (pool->procs[p->num] == p) {
    pool->procs[p->num] = NULL;
  }
  pthread_mutex_unlock(&pool->procs_lock);
  pthread_mutex_destroy(&p->answer_lock);
  free(p);
}

/* What a pool process keeps of the front's environment besides the
 * names --allow-env grants (a job may read those through isopool:env,
 * whose op runs in the pool process): the local time zone and the
 * default locale of Date and Intl (ICU reads TZ, LC_ALL, LC_MESSAGES,
 * LANG; a job sees what they say through Intl anyway), the test faults'
 * switches (ops/registry.c: off unless "1"; group.c's
 * ISOPOOL_TEST_NO_WEDGED, which needs that one too), ISOPOOL_SNAPSHOT (the
 * startup snapshot off, isolate/README.md) and the sanitizers' options
 * of the test trees. Nothing else: a compromised pool process reads no secret
 * of the front's (docs/architecture.md). */
static const char* const kEnvKeep[] = {
    "TZ",
    "LANG",
    "LC_ALL",
    "LC_MESSAGES",
    "ISOPOOL_TEST_FAULTS",
    "ISOPOOL_TEST_NO_WEDGED",
    "ISOPOOL_SNAPSHOT",
    "ASAN_OPTIONS",
    "LSAN_OPTIONS",
    "UBSAN_OPTIONS",
    "TSAN_OPTIONS",
};
enum { ENV_KEEP_N = sizeof kEnvKeep / sizeof kEnvKeep[0] };

static void env_keep_free(char** keep) {
  for (size_t i = 0; keep != NULL && keep[i] != NULL; i++) {
    free(keep[i]);
  }
  free(keep);
}

/* The names of the front's variables a pool process gets
 * (pool_super_spawn's keep: kEnvKeep and the names --allow-env grants;
 * *all when it grants every one), NULL-terminated, freed by
 * env_keep_free; NULL when out of memory. */
static char** env_keep_new(const iso_pool* pool, int* all) {
  enum {
    CAP = ISO_PERM_REQ_KINDS * 1024
  }; /* enough for any set: iso_perms_to_req */
  iso_str* items = calloc(CAP, sizeof *items);
  iso_perm_req req;
  if (items == NULL || iso_perms_to_req(pool->granted, &req, items, CAP) != 0) {
    free(items);
    return NULL;
  }
  *all = req.env.ask == ISO_PERM_ASK_ALL;
  uint32_t n = req.env.ask == ISO_PERM_ASK_LIST ? req.env.n : 0;
  char** keep = calloc(ENV_KEEP_N + n + 1, sizeof *keep);
  int ok = keep != NULL;
  for (size_t i = 0; ok && i < ENV_KEEP_N + n; i++) {
    const iso_str* g = i >= ENV_KEEP_N ? &req.env.items[i - ENV_KEEP_N] : NULL;
    keep[i] = g != NULL ? strndup(g->ptr, g->len) : strdup(kEnvKeep[i]);
    ok = keep[i] != NULL;
  }
  free(items);
  if (!ok) {
    env_keep_free(keep);
    return NULL;
  }
  return keep;
}

/* What a pool process gets on top: under ASan, LeakSanitizer off (it
 * needs ptrace, which the sandbox forbids: sandbox/README.md). */
#if defined(__SANITIZE_ADDRESS__)
#define PROCS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROCS_ASAN 1
#endif
#endif

/* Closes the front's copies of the child's ends of p's links. */
static void proc_close_peers(pool_proc* p) {
  if (p->ctl_peer >= 0) {
    close(p->ctl_peer);
    p->ctl_peer = -1;
  }
  for (int i = 0; i < p->nworkers; i++) {
    pool_worker* w = p->workers[i];
    if (w->jobs_peer >= 0) {
      close(w->jobs_peer);
      w->jobs_peer = -1;
    }
    if (w->ops_peer >= 0) {
      close(w->ops_peer);
      w->ops_peer = -1;
    }
  }
}

/* Makes, spawns and enters in the table a process of n workers; a grow's
 * (reserve) adds its place to procs_want and holds it while it starts.
 * Returns 0, or an error with err (nothing left behind). Thread: the
 * controlling thread, the supervisor's or a resize's; no lock held. */
static int proc_make(iso_pool* pool,
                     int n,
                     int reserve,
                     char* err,
                     size_t errlen) {
  const iso_pool_opts* o = &pool->opts;
  pool_proc* p = calloc(1, sizeof(*p));
  if (p == NULL) {
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  p->pool = pool;
  p->ctl_peer = -1;
  pthread_mutex_init(&p->answer_lock, NULL);
  p->started_ns = pool__now();
  atomic_store(&p->alive_ns, p->started_ns);
  atomic_store(&p->state, POOL_P_STARTING);
  pthread_mutex_lock(&pool->procs_lock);
  int slot = -1;
  for (int i = 0; i < POOL_MAX_PROCS && slot < 0; i++) {
    slot = pool->procs[i] == NULL ? i : -1;
  }
  if (slot >= 0) {
    p->num = (uint32_t)slot;
    p->gen = ++pool->proc_gens[slot];
    pool->procs[slot] = p;
    pool->nstarting++;
    p->reserved = reserve;
    pool->nreserved += reserve;
    pool->procs_want += reserve;
  }
  pthread_mutex_unlock(&pool->procs_lock);
  if (slot < 0) {
    pthread_mutex_destroy(&p->answer_lock);
    free(p);
    snprintf(err, errlen,
             "too many pool processes (%d at most, dead ones "
             "included)",
             POOL_MAX_PROCS);
    return ISO_EBUSY;
  }
  char why[256] = "";
  int rc = pool__ctl_link_new(pool, pool__procs_ctl_msg_cb, ctl_event_cb, p,
                              &p->ctl, &p->ctl_peer, why, sizeof why);
  for (int i = 0; rc == 0 && i < n; i++) {
    rc = pool__worker_new(pool, p, &p->workers[i], why, sizeof why);
    p->nworkers += rc == 0;
  }
  pool_proc_args a = {
      .ctl_fd = p->ctl_peer,
      .proc = p->num,
      .gen = p->gen,
      .nworkers = p->nworkers,
      .modules = pool->modules,
      .heap_mb = o->heap_mb,
      .process_max_mb = o->process_max_mb,
      .max_message = o->max_message,
      .background_ms = o->background_ms,
      .spares = (uint32_t)POOL_SPARES(o),
      .recycle_jobs = o->recycle_jobs,
      .heap_soft_mb = o->heap_soft_mb,
      .recycle_heap_mb = o->recycle_heap_mb,
      .idle_ms = o->idle_timeout_ms,
      .nslots = (uint32_t)o->max_inflight_per_worker,
      .nperms = 2 * (uint32_t)o->max_inflight_per_worker,
      .log_jobs = o->log_jobs,
      /* --quiet: its start-up lines (sandboxed, ...) go too */
      .log_level = o->log_level != NULL ? o->log_level
                   : o->quiet           ? "warn"
                                        : "info",
      .log_format = o->log_format != NULL ? o->log_format : "text",
      .v8_flags = o->v8_flags,
      .code_cache_mb = (uint32_t)(ISO_POOL_CODE_CACHE_BYTES(o) >> 20),
      .import_map = o->import_map,
      .import_map_url = o->import_map_url,
      .probe_fd = -1,
  };
  /* the child's ends: given to the spawn, at the same numbers */
  int fds[1 + 2 * POOL_PROC_MAX_WORKERS];
  int nfds = 0;
  fds[nfds++] = p->ctl_peer;
  for (int i = 0; i < p->nworkers; i++) {
    a.workers[i] = p->workers[i]->id;
    a.jobs_fds[i] = fds[nfds++] = p->workers[i]->jobs_peer;
    a.ops_fds[i] = fds[nfds++] = p->workers[i]->ops_peer;
  }
  a.njobs_fds = a.nops_fds = p->nworkers;
  char** argv = NULL;
  if (rc == 0) {
    rc = pool__proc_argv_new(&a, &argv, why, sizeof why);
  }
  int pid = 0;
  int keep_all = 0;
  char** keep = NULL;
  if (rc == 0) {
    keep = env_keep_new(pool, &keep_all);
    rc = keep != NULL ? 0 : ISO_ENOMEM;
  }
  if (rc == 0) {
    char asan[512];
    const char* env[2] = {NULL, NULL};
#ifdef PROCS_ASAN
    const char* prev = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sdetect_leaks=0",
             prev != NULL ? prev : "", prev != NULL && prev[0] ? ":" : "");
    env[0] = asan;
#else
    (void)asan;
#endif
    pool_super_spawn sp = {
        .path = o->exe != NULL ? o->exe : "/proc/self/exe",
        .argv = (const char* const*)argv,
        .keep = (const char* const*)keep,
        .keep_all = keep_all,
        .env = env,
        .fds = fds,
        .nfds = nfds,
        .data = p,
    };
    rc = pool__super_spawn(pool->super, &sp, &pid);
    if (rc != 0) {
      snprintf(why, sizeof why, "cannot start %s: %s", sp.path,
               iso_strerror(rc));
    }
  }
  pool__proc_argv_free(argv);
  env_keep_free(keep);
  proc_close_peers(p); /* the child has them, or never will */
  if (rc != 0) {
    snprintf(err, errlen, "pool process %u.%u: %s", p->num, p->gen,
             why[0] ? why : iso_strerror(rc));
    pthread_mutex_lock(&pool->procs_lock);
    pool->nstarting--;
    pool->procs_want -= p->reserved; /* it never ran */
    unreserve(p);
    pthread_mutex_unlock(&pool->procs_lock);
    proc_free(pool, p);
    return rc;
  }
  /* from here its exit may be heard (exit_cb) at any time */
  pthread_mutex_lock(&pool->procs_lock);
  atomic_store(&p->pid, pid);
  int killed = atomic_load(&p->killed);
  p->spawned = 1;
  pthread_mutex_unlock(&pool->procs_lock);
  pool__log(pool, "debug", "pool process %u.%u: pid %d, %d worker(s)", p->num,
            p->gen, pid, p->nworkers);
  if (killed) {
    super_kill(pool, pid);
  } else {
    try_ready(p);
  }
  return 0;
}

/* proc_make, unless the shutdown's end of the processes began (it waits
 * for the spawns under way: pool->spawning). */
static int proc_spawn(iso_pool* pool,
                      int n,
                      int reserve,
                      char* err,
                      size_t errlen) {
  pthread_mutex_lock(&pool->procs_lock);
  int stop = pool->procs_stopping;
  pool->spawning += !stop;
  pthread_mutex_unlock(&pool->procs_lock);
  if (stop) {
    snprintf(err, errlen, "the service is stopping");
    return ISO_ECLOSED;
  }
  int rc = proc_make(pool, n, reserve, err, errlen);
  pthread_mutex_lock(&pool->procs_lock);
  pool->spawning--;
  pthread_cond_broadcast(&pool->procs_cond);
  pthread_mutex_unlock(&pool->procs_lock);
  return rc;
}

/* ---- death ---- */

/* How p ended (e): in how, for its exit's line; in msg, its jobs'
 * answer ("the pool process died: " and how, and why the front killed
 * it when it did); in front, for the exit's line, why the front killed it
 * and when ("" when it did not). Called with procs_lock (p->why). */
static void death_says(pool_proc* p,
                       const pool_super_exit* e,
                       char* how,
                       size_t how_cap,
                       char* msg,
                       size_t msg_cap,
                       char* front,
                       size_t front_cap) {
  if (e->signal == SIGSYS) {
    snprintf(how, how_cap,
             "killed by signal %d (a sandbox violation: a system call its "
             "filter forbids)",
             e->signal);
  } else if (e->signal != 0) {
    snprintf(how, how_cap, "killed by signal %d", e->signal);
  } else {
    snprintf(how, how_cap, "exited with status %d", e->status);
  }
  front[0] = '\0';
  if (atomic_load(&p->killed) == 1) {
    snprintf(msg, msg_cap,
             "the pool process died: %s (the front killed it: %s)", how,
             p->why);
    snprintf(front, front_cap, " (the front killed it %.1f s before: %s)",
             (double)(pool__now() - p->killed_ns) / 1e9, p->why);
  } else {
    snprintf(msg, msg_cap, "the pool process died: %s", how);
  }
}

/* p is DYING (the front killed it, or its links went): if it has ended
 * (pool__super_exited: a zombie the supervisor has not reaped yet), its
 * jobs are answered worker_lost now, saying how it ended as its exit
 * will, rather than at the reap, which waits for the SIGCHLD's way to
 * the supervisor's loop (88 ms once under load, after the links had
 * closed). Once per process; its exit callback answers what is left (a
 * job this raced with) and counts both in its line. Thread: the link
 * hub's (a link's PEER_GONE), or the watchdog's (a process that had not
 * quite ended when its links went). */
static void answer_dead(pool_proc* p) {
  iso_pool* pool = p->pool;
  if (atomic_load(&p->early) || stopping(pool)) {
    return;
  }
  pool_super_exit e;
  char how[160], msg[800], front[400];
  pthread_mutex_lock(&pool->procs_lock);
  int pid = atomic_load(&p->pid);
  int ended = pool->super != NULL && pid > 0 && !p->retired &&
              atomic_load(&p->state) == POOL_P_DYING &&
              pool__super_exited(pool->super, pid, &e);
  if (ended) {
    death_says(p, &e, how, sizeof how, msg, sizeof msg, front, sizeof front);
  }
  int first = ended && !atomic_exchange(&p->early, 1);
  pthread_mutex_unlock(&pool->procs_lock);
  if (!first) {
    return;
  }
  pthread_mutex_lock(&p->answer_lock);
  size_t lost = 0;
  for (int i = 0; i < p->nworkers; i++) {
    lost +=
        pool__answer_unanswered(pool, p->workers[i], ISO_CODE_WORKER_LOST, msg);
  }
  p->lost_early = lost;
  pthread_mutex_unlock(&p->answer_lock);
  atomic_fetch_add(&pool->jobs_lost, (long)lost);
  pool__log(pool, "debug",
            "pool process %u.%u (pid %d) ended (%s): %zu job(s) answered "
            "before its reap",
            p->num, p->gen, pid, how, lost);
}

void pool__procs_watch(iso_pool* pool) {
  assert(pool__on_watchdog(pool));
  pool_proc* dying[POOL_MAX_PROCS];
  int n = 0;
  pthread_mutex_lock(&pool->procs_lock);
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    pool_proc* p = pool->procs[i];
    if (p != NULL && atomic_load(&p->state) == POOL_P_DYING &&
        !atomic_load(&p->early) && atomic_load(&p->pid) > 0) {
      dying[n++] = p;
    }
  }
  pthread_mutex_unlock(&pool->procs_lock);
  /* the watchdog frees processes (pool__procs_reap), so they stay */
  for (int i = 0; i < n; i++) {
    answer_dead(dying[i]);
  }
}

static void exit_cb(pool_super* s, const pool_super_exit* e, void* arg) {
  iso_pool* pool = arg;
  pool_proc* p = e->data;
  char how[160], msg[800], front[400];
  pthread_mutex_lock(&pool->procs_lock);
  int st = atomic_load(&p->state);
  int retired = p->retired;
  death_says(p, e, how, sizeof how, msg, sizeof msg, front, sizeof front);
  if (st != POOL_P_DYING && !retired) { /* a retired one left its count */
    uncount(p, st);
  }
  atomic_store(&p->state, POOL_P_DEAD);
  int64_t active_ms = p->active_ns != 0
                          ? (int64_t)((pool__now() - p->active_ns) / 1000000)
                          : -1;
  if (!retired) { /* a resize ended it: no death (a grow waiting for its
                     own processes must not take it for one) */
    snprintf(pool->last_death, sizeof pool->last_death,
             "pool process %u.%u (pid %d): %s", p->num, p->gen, e->pid, msg);
    pool->last_death_ns = pool__now();
  }
  pthread_cond_broadcast(&pool->procs_cond);
  pthread_mutex_unlock(&pool->procs_lock);
  route_out(p);
  /* at the shutdown its jobs are answered as every other left over (a
   * worker that would not stop: its process went with the front's end):
   * cancelled, since they were sent to it and may have run in part */
  int stop = stopping(pool);
  iso_proto_code code = stop ? ISO_CODE_CANCELLED : ISO_CODE_WORKER_LOST;
  const char* answer = stop ? POOL_STOPPED_MSG : msg;
  size_t lost = 0;
  pthread_mutex_lock(&p->answer_lock); /* after answer_dead's, if it ran */
  for (int i = 0; i < p->nworkers; i++) {
    pool_worker* w = p->workers[i];
    atomic_store(&w->stop_sent, 1); /* its links' going is no news */
    atomic_store(&w->exited, 1);
    lost += pool__answer_unanswered(pool, w, code, answer);
    pool__worker_release_all(w);
  }
  size_t early = p->lost_early;
  pthread_mutex_unlock(&p->answer_lock);
  if (!stop) {
    atomic_fetch_add(&pool->jobs_lost, (long)lost);
  }
  lost += early; /* answered as it ended, before this reap */
  /* the one line of its end (the supervisor's own is debug) */
  double secs = (double)e->lived_ns / 1e9;
  const char* sig = e->signal != 0 ? strsignal(e->signal) : NULL;
  if (retired && lost == 0) {
    pool__log(pool, "info",
              "pool process %u.%u (pid %d) ended after %.1f s: a resize "
              "stopped its workers (%s)",
              p->num, p->gen, e->pid, secs, how);
  } else if (stop && lost == 0) {
    /* killed by the supervisor's end is the shutdown's own way out for a
     * process whose workers all stopped (pool__procs_stop): no news */
    pool__log(pool, e->status == 0 || e->at_end ? "debug" : "warn",
              "pool process %u.%u (pid %d) ended with the service after "
              "%.1f s: %s%s",
              p->num, p->gen, e->pid, secs, how, front);
  } else {
    pool__log(pool, stop ? "warn" : "error",
              "pool process %u.%u (pid %d) died after %.1f s: %s%s%s%s%s; "
              "%zu job(s) answered %s",
              p->num, p->gen, e->pid, secs, how, sig != NULL ? " (" : "",
              sig != NULL ? sig : "", sig != NULL ? ")" : "", front, lost,
              iso_proto_code_name(code));
  }
  pthread_mutex_lock(&pool->procs_lock);
  p->exit_done = 1; /* the watchdog may free it now */
  pthread_mutex_unlock(&pool->procs_lock);
  if (stop || (retired && lost == 0)) { /* a resize ended it */
    return;
  }
  pool__code_drop_from(pool->code, p); /* it died unasked: code.c, trust */
  if (st == POOL_P_ACTIVE) {
    promote(pool);
  }
  pthread_mutex_lock(&pool->procs_lock);
  uint32_t delay = pool__restart_delay_ms(&pool->backoff, active_ms);
  pool->nwaiting++;
  pthread_mutex_unlock(&pool->procs_lock);
  atomic_fetch_add(&pool->restarts, 1);
  pool__log(pool, "info", "starting a new pool process in %u ms", delay);
  if (pool__super_after(s, delay, respawn_cb, pool) != 0) {
    pthread_mutex_lock(&pool->procs_lock);
    pool->nwaiting--;
    pthread_mutex_unlock(&pool->procs_lock);
  }
}

static void respawn_cb(pool_super* s, void* arg, int cancelled) {
  iso_pool* pool = arg;
  pthread_mutex_lock(&pool->procs_lock);
  pool->nwaiting--;
  pthread_mutex_unlock(&pool->procs_lock);
  if (cancelled || stopping(pool)) {
    return;
  }
  char err[400];
  int rc = proc_spawn(pool, proc_size(pool, -1), 0, err, sizeof err);
  if (rc != 0 && rc != ISO_ECLOSED) {
    pthread_mutex_lock(&pool->procs_lock);
    uint32_t delay = pool__restart_delay_ms(&pool->backoff, -1);
    pool->nwaiting++;
    pthread_mutex_unlock(&pool->procs_lock);
    pool__log(pool, "error", "%s; trying again in %u ms", err, delay);
    if (pool__super_after(s, delay, respawn_cb, pool) != 0) {
      pthread_mutex_lock(&pool->procs_lock);
      pool->nwaiting--;
      pthread_mutex_unlock(&pool->procs_lock);
    }
  }
}

/* ---- resize ---- */

/* Waits (procs_lock held) until `routed` more processes went into
 * routing than `base`, one died (the last death is no longer death_ns),
 * the service stops or PROCS_START_MS passed. Returns 0, or an error with
 * err. */
static int wait_routed(iso_pool* pool,
                       int base,
                       int routed,
                       uint64_t death_ns,
                       char* err,
                       size_t errlen) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += PROCS_START_MS / 1000;
  int rc = 0;
  while (pool->nrouted - base < routed && pool->last_death_ns == death_ns &&
         !pool->procs_stopping && rc == 0) {
    int w =
        pthread_cond_timedwait(&pool->procs_cond, &pool->procs_lock, &until);
    rc = w != 0 ? ISO_ETIMEDOUT : 0;
  }
  if (pool->procs_stopping) {
    snprintf(err, errlen, "the service is stopping");
    rc = ISO_ECLOSED;
  } else if (pool->last_death_ns != death_ns) {
    snprintf(err, errlen, "%s", pool->last_death);
    rc = ISO_EINTERNAL;
  } else if (rc != 0) {
    snprintf(err, errlen, "the pool processes did not start within %d s",
             PROCS_START_MS / 1000);
  }
  return rc;
}

int pool__procs_grow(iso_pool* pool, int n, char* err, size_t errlen) {
  int size = proc_size(pool, -1);
  pthread_mutex_lock(&pool->procs_lock);
  int base = pool->nrouted;
  uint64_t death_ns = pool->last_death_ns;
  pthread_mutex_unlock(&pool->procs_lock);
  int rc = 0, spawned = 0;
  for (int left = n; rc == 0 && left > 0; left -= size) {
    /* each adds its place to procs_want as it enters the table */
    rc = proc_spawn(pool, left < size ? left : size, 1, err, errlen);
    spawned += rc == 0;
  }
  pthread_mutex_lock(&pool->procs_lock);
  if (rc == 0) {
    rc = wait_routed(pool, base, spawned, death_ns, err, errlen);
  }
  pthread_mutex_unlock(&pool->procs_lock);
  return rc;
}

void pool__proc_retire(pool_worker* w) {
  pool_proc* p = w->proc;
  iso_pool* pool = p->pool;
  int all = 1;
  pool__mutex_lock(&pool->lock);
  for (int i = 0; i < p->nworkers; i++) {
    all &= atomic_load(&p->workers[i]->state) == POOL_W_STOPPED;
  }
  pool__mutex_unlock(&pool->lock);
  if (!all) {
    return;
  }
  pthread_mutex_lock(&pool->procs_lock);
  if (!p->retired && atomic_load(&p->state) == POOL_P_ACTIVE) {
    p->retired = 1;
    pool->nactive--;
    pool->procs_want--;
  }
  pthread_mutex_unlock(&pool->procs_lock);
}

/* ---- the pool's start and end ---- */

int pool__procs_start(iso_pool* pool, char* err, size_t errlen) {
  pool_super_opts so = {.log = pool->logger, .exit_cb = exit_cb, .arg = pool};
  int rc = pool__super_new(&so, &pool->super);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the supervisor: %s", iso_strerror(rc));
    return rc;
  }
  /* the active ones first (so the workers numbered first are theirs),
   * waited for: a death meanwhile fails the start; then the spares */
  int np = pool->opts.processes;
  pool->procs_want = np;
  for (int k = 0; rc == 0 && k < np; k++) {
    rc = proc_spawn(pool, proc_size(pool, k), 0, err, errlen);
  }
  if (rc == 0) {
    pthread_mutex_lock(&pool->procs_lock);
    rc = wait_routed(pool, 0, np, 0, err, errlen);
    pthread_mutex_unlock(&pool->procs_lock);
  }
  for (int k = 0; rc == 0 && k < pool->opts.spare_processes; k++) {
    rc = proc_spawn(pool, proc_size(pool, -1), 0, err, errlen);
  }
  /* routing took them as they came; poolctl lists them by number */
  pool__mutex_lock(&pool->lock);
  for (int i = 1; i < pool->nworkers; i++) {
    for (int k = i; k > 0 && pool->workers[k - 1]->id > pool->workers[k]->id;
         k--) {
      pool_worker* t = pool->workers[k];
      pool->workers[k] = pool->workers[k - 1];
      pool->workers[k - 1] = t;
    }
  }
  pool__mutex_unlock(&pool->lock);
  return rc;
}

void pool__procs_stop(iso_pool* pool) {
  if (pool->super == NULL) {
    return;
  }
  /* no spawn from here on (a restart's timer, a resize), and none under
   * way: the table holds still */
  pthread_mutex_lock(&pool->procs_lock);
  pool->procs_stopping = 1;
  pthread_cond_broadcast(&pool->procs_cond);
  while (pool->spawning > 0) {
    pthread_cond_wait(&pool->procs_cond, &pool->procs_lock);
  }
  pthread_mutex_unlock(&pool->procs_lock);
  /* their front's end of the control link goes: each process ends (its
   * workers had their STOP and gave their last records) */
  pool_proc* ps[POOL_MAX_PROCS];
  int done[POOL_MAX_PROCS];
  int n = 0;
  pthread_mutex_lock(&pool->procs_lock);
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    if (pool->procs[i] != NULL) {
      ps[n++] = pool->procs[i];
    }
  }
  pthread_mutex_unlock(&pool->procs_lock);
  for (int i = 0; i < n; i++) {
    /* a worker that did not end on its STOP (JavaScript no stop reaches)
     * would hold its process past the front's end (pool_proc.h,
     * POOL_PROC_STOP_MS): killed now */
    int stuck = 0, started_n = 0, stopped_n = 0;
    for (int k = 0; k < ps[i]->nworkers; k++) {
      pool_worker* w = ps[i]->workers[k];
      pthread_mutex_lock(&w->info_lock);
      int started = w->ready && w->start_rc == 0;
      pthread_mutex_unlock(&w->info_lock);
      int exited = atomic_load(&w->exited);
      stuck |= started && atomic_load(&w->stop_sent) && !exited;
      started_n += started;
      stopped_n += started && exited;
    }
    int pid = atomic_load(&ps[i]->pid);
    if (stuck && pid > 0) {
      pool__log(pool, "warn",
                "pool process %u.%u (pid %d): a worker's JavaScript would not "
                "stop; killed",
                ps[i]->num, ps[i]->gen, pid);
      super_kill(pool, pid);
    }
    /* every worker that started said STOPPED, its last record (its jobs
     * given back), or none started (a spare still starting, which would
     * see the front gone only once its V8 is up): nothing of the front's
     * is left in it, and its own way out (freeing its isolates; seconds
     * under a sanitizer on a loaded machine) is not waited for:
     * pool__super_free ends it */
    done[i] = !stuck && stopped_n == started_n;
    iso_link_free(ps[i]->ctl);
    ps[i]->ctl = NULL;
  }
  uint64_t end = pool__now() + PROCS_EXIT_MS * 1000000ull;
  for (;;) {
    int alive = 0;
    pthread_mutex_lock(&pool->procs_lock);
    for (int i = 0; i < n; i++) {
      alive += !done[i] && atomic_load(&ps[i]->state) != POOL_P_DEAD;
    }
    pthread_mutex_unlock(&pool->procs_lock);
    if (alive == 0 || pool__now() >= end) {
      if (alive > 0) {
        pool__log(pool, "warn",
                  "%d pool process(es) did not exit within %d ms; killed",
                  alive, PROCS_EXIT_MS);
      }
      break;
    }
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
  /* a kill from a link's thread finds no supervisor from here on
   * (super_kill); this one kills and reaps what is left */
  pthread_mutex_lock(&pool->procs_lock);
  pool_super* s = pool->super;
  pool->super = NULL;
  pthread_mutex_unlock(&pool->procs_lock);
  pool__super_free(s);
}

void pool__procs_free(iso_pool* pool) {
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    if (pool->procs[i] != NULL) {
      proc_free(pool, pool->procs[i]);
    }
  }
}

void pool__procs_reap(iso_pool* pool) {
  assert(pool__on_watchdog(pool));
  if (atomic_load(&pool->admin_waiting) > 0) {
    return; /* an admin command may hold their workers */
  }
  pool_proc* dead[POOL_MAX_PROCS];
  int n = 0;
  pthread_mutex_lock(&pool->procs_lock);
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    pool_proc* p = pool->procs[i];
    if (p != NULL && p->spawned && p->exit_done) {
      dead[n++] = p;
    }
  }
  pthread_mutex_unlock(&pool->procs_lock);
  for (int i = 0; i < n; i++) {
    pool_proc* p = dead[i];
    pool__mutex_lock(&pool->lock);
    for (int k = 0; k < pool->nworkers;) {
      if (pool->workers[k]->proc == p) {
        pool->workers[k] = pool->workers[--pool->nworkers];
      } else {
        k++;
      }
    }
    pool__mutex_unlock(&pool->lock);
    proc_free(pool, p);
  }
}
