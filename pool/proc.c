/* proc.c: a pool process's main (`isopool pool-process`, exec'd by the
 * front's supervisor): the front's worker threads and their group, in a
 * process of their own, sandboxed, reached only over their links.
 *
 * DESIGN: the order is the sandbox's (sandbox/README.md, "For the pool
 * process"), each step before the next:
 *   1. pool__super_child_begin: die with the front (PR_SET_PDEATHSIG),
 *      or exit at once if it is already gone;
 *   2. parse the command line (proc_args.c) and check that the
 *      descriptors it names are link sockets (iso_link_check_fd: each
 *      an AF_UNIX stream socket; refused: status 2);
 *   3. iso_sandbox_enter while the process has one thread: rlimits (the
 *      data bound is --process-max-mb), no_new_privs, Landlock (reading
 *      beneath the module root and the runtime's paths only);
 *   4. iso_rt_init_process (V8's platform threads start here);
 *   5. open its ends of the links it inherited (the front made each a
 *      socketpair: nothing to dial): the group's control link
 *      (pool__group_new, its watchdog thread starts and says ALIVE), then
 *      each worker thread's jobs and ops links (pool__runner_start); the
 *      group is held: each worker thread makes its runtime, then waits;
 *   6. iso_sandbox_seal: the seccomp allow-list on every thread (no
 *      socket, connect, execve, ptrace from here on; the process never
 *      needs the first two), logged with iso_sandbox_describe;
 *   7. release the group: the worker threads send READY and take jobs,
 *      so no job runs before the seal.
 * Then the main thread waits until the front's end of the control link
 * goes (the front closed it or died: the link's PEER_GONE, on the
 * group's watchdog thread, wakes it) or every worker thread has ended (each had
 * its STOP record, or failed to start). Either way the process ends: it never
 * outlives its front, and it is never restarted in place (the front
 * spawns a new generation). After the STOPs it frees the worker threads,
 * which closes their links gracefully (their last records reach the
 * front), and exits 0; once the front is gone it gives the worker
 * threads POOL_PROC_STOP_MS to end and exits 0 whatever they do, with
 * _exit: a thread may still run V8, so nothing is torn down under it.
 *
 * Ops: the async ones (isopool:fs, isopool:kv, crypto digests) cross to
 * the front on each worker's ops link and run there, with the front's
 * data root and kv store, which this process cannot even read. The sync
 * ones run on the worker's thread here and need no service-wide state:
 * op_env_get reads this process's environment, which is the front's (the
 * supervisor passes it on) and is checked against the job's permissions,
 * which came in its TASK record; op_crypto_random* use the kernel's
 * random source; op_noop and op_test_block nothing. So the runtimes get
 * no iso_ops_env (NULL: an op that needed one would fail, not crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "iso_link.h"
#include "iso_rt.h"
#include "iso_sandbox.h"
#include "pool_proc.h"
#include "super.h"
#include "worker.h"

/* What the process waits on: the control link's PEER_GONE. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;
static int g_gone;

static void gone_cb(void* arg) {
  pthread_mutex_lock(&g_lock);
  g_gone = 1;
  pthread_cond_signal(&g_cond);
  pthread_mutex_unlock(&g_lock);
}

/* Waits until the front's end went or ms passed; returns g_gone. */
static int wait_gone(uint32_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&g_lock);
  while (!g_gone && pthread_cond_timedwait(&g_cond, &g_lock, &ts) == 0) {
  }
  int gone = g_gone;
  pthread_mutex_unlock(&g_lock);
  return gone;
}

/* Ends the process: other threads may run V8 (nothing is torn down). */
static void die(int status) {
  fflush(NULL);
  _exit(status);
}

/* The test probe (pool_proc_args.probe_fd): what this sealed process may
 * still do, as errno values (0: it could), on one line: the module root,
 * a file outside it, the root's parent, a new socket. */
static void probe(const pool_proc_args* a) {
  const char* paths[] = {a->modules, "/etc/passwd", NULL};
  int errs[3];
  for (int i = 0; paths[i] != NULL; i++) {
    int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    errs[i] = fd >= 0 ? 0 : errno;
    if (fd >= 0) {
      close(fd);
    }
  }
  char parent[4096];
  snprintf(parent, sizeof parent, "%s/..", a->modules);
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  errs[2] = fd >= 0 ? 0 : errno;
  if (fd >= 0) {
    close(fd);
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int serr = s >= 0 ? 0 : errno;
  if (s >= 0) {
    close(s);
  }
  dprintf(a->probe_fd, "root=%d outside=%d parent=%d socket=%d\n", errs[0],
          errs[1], errs[2], serr);
  close(a->probe_fd);
}

/* The worker threads: ended (joined) ones are NULL'ed in `ended`. */
static int all_ended(pool_runner** r, int* ended, int n) {
  int left = 0;
  for (int i = 0; i < n; i++) {
    /* until now: does not wait (worker.h: it may be asked again) */
    if (!ended[i] && pool__runner_join(r[i], pool__now()) == 0) {
      ended[i] = 1;
    }
    left += !ended[i];
  }
  return left == 0;
}

int iso_pool_process_main(int argc, char** argv) {
  /* 1. */
  if (pool__super_child_begin() != 0) {
    fprintf(stderr,
            "isopool %s: an internal command: isopool serve starts it\n",
            POOL_PROC_CMD);
    return POOL_PROC_EXIT_USAGE;
  }
  /* 2. */
  pool_proc_args a;
  char err[512] = "";
  if (pool__proc_args_parse(argc, argv, &a, err, sizeof err) != 0) {
    fprintf(stderr, "isopool %s: %s\n", POOL_PROC_CMD, err);
    return POOL_PROC_EXIT_USAGE;
  }
  int fds[1 + 2 * POOL_PROC_MAX_WORKERS];
  int nfds = 0;
  fds[nfds++] = a.ctl_fd;
  for (int i = 0; i < a.nworkers; i++) {
    fds[nfds++] = a.jobs_fds[i];
    fds[nfds++] = a.ops_fds[i];
  }
  for (int i = 0; i < nfds; i++) {
    if (iso_link_check_fd(fds[i], err, sizeof err) != 0) {
      fprintf(stderr, "isopool %s: %s\n", POOL_PROC_CMD, err);
      return POOL_PROC_EXIT_USAGE;
    }
  }
  const char* faults = getenv("ISOPOOL_TEST_FAULTS");
  if (a.probe_fd >= 0 && (faults == NULL || strcmp(faults, "1") != 0)) {
    fprintf(stderr, "isopool %s: --test-probe-fd: a test fault, off here\n",
            POOL_PROC_CMD);
    return POOL_PROC_EXIT_USAGE;
  }
  pool_logger log = pool__logger_of(a.log_level, a.log_format);
  char me[64];
  snprintf(me, sizeof me, "pool process %u.%u (pid %d)", a.proc, a.gen,
           (int)getpid());
  signal(SIGPIPE, SIG_IGN);
  /* the front's to take: a terminal's ^C or a service manager's SIGTERM
   * to the whole group would end it in the middle of the front's drain;
   * it ends when its front closes its control link or dies */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  /* 3. */
  const char* roots[] = {a.modules, NULL};
  iso_sandbox_opts so = {
      .roots = roots,
      .max_mb = a.process_max_mb,
      /* 21 for the process, measured with NNG links (fewer now), and per
       * worker thread its loop's and its two links' (a socket and an
       * epoll each): with room */
      .max_files = 64 + 32 * (unsigned)a.nworkers,
  };
  iso_sandbox_report rep = {0};
  int rc = iso_sandbox_enter(&so, &rep);
  if (rc != 0) {
    pool__logf(&log, "error", "%s: cannot enter its sandbox: %s", me,
               iso_strerror(rc));
    return 1;
  }
  /* 4. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g_cond, &ca);
  pthread_condattr_destroy(&ca);
  if (iso_rt_init_process(a.v8_flags) != 0) {
    pool__logf(&log, "error", "%s: cannot initialise V8", me);
    die(1);
  }
  iso_rt_code_limit((size_t)a.code_cache_mb << 20);
  iso_rt_code_export(a.code_cache_mb > 0); /* to the front: group.c */
  /* 5. */
  pool_group_opts go = {.log = log,
                        .ctl_fd = a.ctl_fd,
                        .gone_cb = gone_cb,
                        .held = 1,
                        .spares = (int)a.spares,
                        .share_code = a.code_cache_mb > 0};
  pool_group* g = NULL;
  rc = pool__group_new(&go, &g, err, sizeof err);
  if (rc != 0) {
    pool__logf(&log, "error", "%s: cannot open its control link: %s", me, err);
    die(1);
  }
  pool_runner* runners[POOL_PROC_MAX_WORKERS] = {0};
  int ended[POOL_PROC_MAX_WORKERS] = {0};
  for (int i = 0; i < a.nworkers; i++) {
    pool_runner_opts ro = {
        .id = a.workers[i],
        .modules = a.modules,
        .import_map = a.import_map,
        .import_map_url = a.import_map_url,
        .heap_mb = a.heap_mb,
        .max_message = a.max_message,
        .background_ms = a.background_ms,
        .recycle_jobs = a.recycle_jobs,
        .heap_soft_mb = a.heap_soft_mb,
        .recycle_heap_mb = a.recycle_heap_mb,
        .idle_ms = a.idle_ms,
        .nslots = a.nslots,
        .log_jobs = a.log_jobs,
        .log = log,
        .ops_env = NULL, /* DESIGN: the sync ops need none */
        .nperms = a.nperms,
        .jobs_fd = a.jobs_fds[i],
        .ops_fd = a.ops_fds[i],
    };
    err[0] = '\0';
    rc = pool__runner_start(g, &ro, &runners[i], err, sizeof err);
    if (rc != 0) {
      pool__logf(&log, "error", "%s: worker %d: cannot start: %s", me,
                 a.workers[i], err[0] ? err : iso_strerror(rc));
      die(1);
    }
  }
  /* 6. */
  rc = iso_sandbox_seal(&so, &rep);
  if (rc != 0) {
    pool__logf(&log, "error", "%s: cannot seal its sandbox: %s", me,
               iso_strerror(rc));
    die(1);
  }
  char line[512];
  iso_sandbox_describe(&rep, line, sizeof line);
  pool__logf(&log, "info", "%s: %d worker%s, sandboxed: %s", me, a.nworkers,
             a.nworkers == 1 ? "" : "s", line);
  if (a.probe_fd >= 0) {
    probe(&a);
  }
  /* 7. */
  pool__group_release(g);
  int gone = 0;
  while (!(gone = wait_gone(20)) && !all_ended(runners, ended, a.nworkers)) {
  }
  if (gone) {
    uint64_t until = pool__now() + POOL_PROC_STOP_MS * 1000000ull;
    while (!all_ended(runners, ended, a.nworkers) && pool__now() < until) {
      struct timespec ts = {0, 10 * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (!all_ended(runners, ended, a.nworkers)) {
      /* not a warning: a spare's workers never had a STOP, and a worker
       * whose JavaScript would not stop on one is the front's warning */
      pool__logf(&log, "info",
                 "%s: the front went; its workers had not ended: ended with "
                 "the process",
                 me);
      die(0);
    }
  }
  for (int i = 0; i < a.nworkers; i++) {
    pool__runner_free(runners[i]); /* their last records leave */
  }
  pool__group_free(g);
  iso_code_stats cs;
  iso_rt_code_stats(&cs);
  pool__logf(&log, "debug",
             "%s: code cache: %llu hits, %llu misses (%llu rejected), %llu "
             "made, %llu evicted, %llu from the front",
             me, (unsigned long long)cs.hits, (unsigned long long)cs.misses,
             (unsigned long long)cs.rejected, (unsigned long long)cs.made,
             (unsigned long long)cs.evicted, (unsigned long long)cs.put);
  pool__logf(&log, gone ? "info" : "debug", "%s: %s", me,
             gone ? "the front went" : "stopped");
  die(0);
  return 0;
}
