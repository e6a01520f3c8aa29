/* super.c: the front's supervisor of pool processes: a thread with its own
 * libuv loop that forks and execs them, reaps them and reports how they
 * ended, and runs the timers of delayed restarts; the restart policy
 * (super.h).
 *
 * DESIGN. Children are forked by the supervisor's thread, always: that
 * thread is their parent for PR_SET_PDEATHSIG (the kernel's "parent" is
 * the forking thread), and it lives until pool__super_free has killed and
 * reaped them all. Other threads marshal a spawn onto the loop (a request
 * on `spawns`, uv_async) and wait on `cond` for its result; the exit
 * callback and the timers, already on the loop, spawn directly.
 *
 * Why fork + exec of our own rather than uv_spawn: libuv (1.44) closes
 * nothing in the child but what it dup2s, so every descriptor of the front
 * without O_CLOEXEC (NNG's, LMDB's, a library's) would leak into the pool
 * process; between fork and exec the child here sets PR_SET_PDEATHSIG,
 * checks its parent, resets every signal's disposition (the front ignores
 * SIGPIPE, libuv has handlers) and its mask (the front blocks SIGINT and
 * SIGTERM for sigwait), makes stdin /dev/null, and marks every descriptor
 * but 0-2 and the given ones close-on-exec (close_range), all
 * async-signal-safe calls. All signals are blocked in the parent across
 * fork, so no handler of the front's (libuv's writes to its signal pipe,
 * which the child shares) runs in the child before that reset. An exec
 * failure comes back as errno on a close-on-exec pipe.
 *
 * Reaping: a uv_signal watcher on SIGCHLD; on each, waitpid(pid, WNOHANG)
 * for every child of ours, never waitpid(-1), so a child of someone else
 * in the process (libuv's uv_spawn on another loop does the same for its
 * own) is not taken. The handler libuv installs is process-wide
 * (SA_RESTART) and writes to a pipe the loops with a SIGCHLD watcher
 * read; the thread that takes the signal may be any thread that does not
 * block it, where a call SA_RESTART does not restart (nanosleep, poll,
 * epoll_wait) returns EINTR: libuv's loops and NNG's pollers retry, the
 * front's nanosleeps are polls that only wake early. The front should
 * block SIGCHLD before it starts threads (as it blocks SIGINT and SIGTERM
 * for sigwait); the supervisor's thread unblocks it for itself, so the
 * signal is then taken by that thread only.
 *
 * Others may look at a child's end before its reap (pool__super_exited:
 * waitid with WNOWAIT, which leaves the zombie to the reap): the SIGCHLD's
 * way to this loop (a handler on whichever thread takes it, libuv's
 * signal pipe, this thread's wake-up) took 88 ms once under load, after
 * the front had seen the process's links close.
 *
 * Locking: `lock` guards the children list (reaping removes a child under
 * it, so pool__super_kill and pool__super_exited, from any thread, never
 * see a pid already reaped and maybe reused), the request queues and
 * `stopping`.
 */
#include "super.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

typedef struct super_child {
  int pid;
  uint64_t born;
  void* data;
  struct super_child* next;
} super_child;

/* A spawn asked for by another thread: on its stack until done. */
typedef struct spawn_req {
  const pool_super_spawn* sp;
  int pid;
  int rc;
  int done;
  struct spawn_req* next;
} spawn_req;

/* A timer: queued (not started) on `timers_q`, then running on `timers`. */
typedef struct super_timer {
  uv_timer_t t;
  pool_super* s;
  uint32_t ms;
  pool_super_timer_cb fn;
  void* arg;
  struct super_timer* next;
} super_timer;

struct pool_super {
  pool_super_opts o;
  uv_loop_t loop;
  uv_async_t wake;
  uv_signal_t chld;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* a spawn request is done */
  super_child* children;
  spawn_req* spawns;
  super_timer* timers_q;
  super_timer* timers; /* the loop's only */
  int stopping;
  int stopped; /* the loop's only: the shutdown ran */
};

static _Thread_local pool_super* this_super;

/* ---- the child, between fork and exec ---- */

/* Only async-signal-safe calls from here to execve: the front has other
 * threads, whose locks (malloc's) a fork may have copied held. */
static void child_exec(int parent,
                       int devnull,
                       int errfd,
                       const pool_super_spawn* sp,
                       char** envp,
                       int maxfd) {
  int err = 0;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    err = errno;
    goto fail;
  }
  if (getppid() != parent) {
    _exit(POOL_SUPER_ORPHAN_EXIT);
  }
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(sig, &sa, NULL); /* the reserved ones fail: nothing to do */
    }
  }
  if (devnull != 0 && dup2(devnull, 0) < 0) {
    err = errno;
    goto fail;
  }
  if (fcntl(0, F_SETFD, 0) != 0) {
    err = errno;
    goto fail;
  }
  /* every descriptor from 3 up closes at exec, but those given */
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < maxfd; fd++) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  for (int i = 0; i < sp->nfds; i++) {
    if (fcntl(sp->fds[i], F_SETFD, 0) != 0) {
      err = errno;
      goto fail;
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(sp->path, (char* const*)sp->argv, envp);
  err = errno;
fail:
  while (write(errfd, &err, sizeof err) < 0 && errno == EINTR) {
  }
  _exit(127);
}

/* ---- spawning, on the supervisor's thread ---- */

static int name_len(const char* kv) {
  const char* eq = strchr(kv, '=');
  return eq != NULL ? (int)(eq - kv) : (int)strlen(kv);
}

/* Whether "NAME=value" kv is a variable named in names (NULL-terminated;
 * NULL: none). */
static int named_in(const char* kv, const char* const* names) {
  int len = name_len(kv);
  for (const char* const* a = names; a != NULL && *a != NULL; a++) {
    if (name_len(*a) == len && strncmp(*a, kv, (size_t)len) == 0) {
      return 1;
    }
  }
  return 0;
}

/* The child's environment (pool_super_spawn's keep, keep_all and env):
 * the front's variables kept, less those sp->env and the supervisor set,
 * then those. An array of borrowed pointers (parent_kv is the caller's)
 * to free, or NULL. */
static char** make_env(const pool_super_spawn* sp, char* parent_kv) {
  size_t n = 0, nadd = 0;
  for (char** e = environ; e != NULL && *e != NULL; e++) {
    n++;
  }
  for (const char* const* a = sp->env; a != NULL && *a != NULL; a++) {
    nadd++;
  }
  char** envp = calloc(n + nadd + 2, sizeof(char*));
  if (envp == NULL) {
    return NULL;
  }
  const char* const parent[] = {POOL_SUPER_PARENT_ENV, NULL};
  size_t k = 0;
  for (char** e = environ; e != NULL && *e != NULL; e++) {
    if ((sp->keep_all || named_in(*e, sp->keep)) && !named_in(*e, parent) &&
        !named_in(*e, sp->env)) {
      envp[k++] = *e;
    }
  }
  for (size_t i = 0; i < nadd; i++) {
    envp[k++] = (char*)sp->env[i];
  }
  envp[k++] = parent_kv;
  envp[k] = NULL;
  return envp;
}

static int errno_to_iso(int e) {
  switch (e) {
    case ENOENT:
    case ENOTDIR:
      return ISO_ENOENT;
    case EACCES:
    case EPERM:
      return ISO_EPERM;
    case ENOMEM:
    case EAGAIN:
      return ISO_ENOMEM;
    default:
      return ISO_EINTERNAL;
  }
}

static int wait_blocking(int pid, int* status) {
  int rc;
  do {
    rc = waitpid(pid, status, 0);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

static int do_spawn(pool_super* s, const pool_super_spawn* sp, int* out) {
  assert(this_super == s);
  if (sp == NULL || sp->path == NULL || sp->argv == NULL ||
      sp->argv[0] == NULL || sp->nfds < 0 || (sp->nfds > 0 && !sp->fds)) {
    return ISO_EINVAL;
  }
  for (int i = 0; i < sp->nfds; i++) {
    if (sp->fds[i] < 3 || fcntl(sp->fds[i], F_GETFD) < 0) {
      return ISO_EINVAL;
    }
  }
  pthread_mutex_lock(&s->lock);
  int stopping = s->stopping;
  pthread_mutex_unlock(&s->lock);
  if (stopping) {
    return ISO_ESHUTDOWN;
  }
  super_child* c = calloc(1, sizeof(*c));
  char parent_kv[64];
  int parent = (int)getpid();
  snprintf(parent_kv, sizeof parent_kv, "%s=%d", POOL_SUPER_PARENT_ENV, parent);
  char** envp = c != NULL ? make_env(sp, parent_kv) : NULL;
  if (envp == NULL) {
    free(c);
    return ISO_ENOMEM;
  }
  int rc = 0;
  int errp[2] = {-1, -1};
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || pipe2(errp, O_CLOEXEC) != 0) {
    rc = errno_to_iso(errno);
    goto out;
  }
  long maxfd = sysconf(_SC_OPEN_MAX);
  if (maxfd < 0 || maxfd > 65536) {
    maxfd = 65536;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  uint64_t born = pool__now();
  pid_t pid = fork();
  if (pid == 0) {
    child_exec(parent, devnull, errp[1], sp, envp, (int)maxfd);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(errp[1]);
  errp[1] = -1;
  if (pid < 0) {
    rc = fork_errno == ENOMEM || fork_errno == EAGAIN ? ISO_ENOMEM
                                                      : ISO_EINTERNAL;
    pool__logf(&s->o.log, "error", "cannot fork a pool process: %s",
               strerror(fork_errno));
    goto out;
  }
  int child_err = 0;
  ssize_t n;
  do {
    n = read(errp[0], &child_err, sizeof child_err);
  } while (n < 0 && errno == EINTR);
  if (n != 0) { /* the exec failed (or the pipe did: as bad) */
    int st;
    wait_blocking(pid, &st);
    rc = n == (ssize_t)sizeof child_err ? errno_to_iso(child_err)
                                        : ISO_EINTERNAL;
    pool__logf(
        &s->o.log, "error", "cannot start %s: %s", sp->path,
        n == (ssize_t)sizeof child_err ? strerror(child_err) : "exec failed");
    goto out;
  }
  c->pid = (int)pid;
  c->born = born;
  c->data = sp->data;
  pthread_mutex_lock(&s->lock);
  c->next = s->children;
  s->children = c;
  pthread_mutex_unlock(&s->lock);
  c = NULL;
  *out = (int)pid;
  pool__logf(&s->o.log, "debug", "started pool process %d", (int)pid);
out:
  if (devnull >= 0) {
    close(devnull);
  }
  if (errp[0] >= 0) {
    close(errp[0]);
  }
  free(envp);
  free(c);
  return rc;
}

/* ---- reaping ---- */

static void report(pool_super* s, super_child* c, int st, int at_end) {
  pool_super_exit e = {
      .pid = c->pid,
      .status = WIFEXITED(st) ? WEXITSTATUS(st) : -1,
      .signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0,
      .lived_ns = pool__now() - c->born,
      .data = c->data,
      .at_end = at_end,
  };
  /* debug only: the exit callback's owner says it once, with what it
   * knows (why it killed it, what was lost: procs.c) */
  pool__logf(&s->o.log, "debug", "child %d %s %d after %.1f s%s", e.pid,
             e.signal != 0 ? "killed by signal" : "exited with status",
             e.signal != 0 ? e.signal : e.status, (double)e.lived_ns / 1e9,
             at_end ? " (killed at the supervisor's end)" : "");
  s->o.exit_cb(s, &e, s->o.arg);
}

static void on_sigchld(uv_signal_t* h, int signum) {
  (void)signum;
  pool_super* s = h->data;
  super_child* ended = NULL;
  int statuses[64];
  int n = 0;
  pthread_mutex_lock(&s->lock);
  /* at most 64 a round: the rest are found again just below */
  for (super_child** p = &s->children; *p != NULL && n < 64;) {
    int st;
    int rc = waitpid((*p)->pid, &st, WNOHANG);
    if (rc == (*p)->pid) {
      super_child* c = *p;
      *p = c->next;
      c->next = ended;
      ended = c;
      statuses[n++] = st;
    } else {
      p = &(*p)->next;
    }
  }
  pthread_mutex_unlock(&s->lock);
  /* `ended` is in reverse order of `statuses` */
  for (int i = n - 1; i >= 0; i--) {
    super_child* c = ended;
    ended = c->next;
    report(s, c, statuses[i], 0);
    free(c);
  }
  if (n == 64) {
    on_sigchld(h, signum);
  }
}

/* ---- timers ---- */

static void timer_closed(uv_handle_t* h) {
  free(h->data);
}

static void unlink_timer(pool_super* s, super_timer* t) {
  for (super_timer** p = &s->timers; *p != NULL; p = &(*p)->next) {
    if (*p == t) {
      *p = t->next;
      return;
    }
  }
}

static void on_timer(uv_timer_t* h) {
  super_timer* t = h->data;
  pool_super* s = t->s;
  unlink_timer(s, t);
  uv_close((uv_handle_t*)&t->t, timer_closed);
  t->fn(s, t->arg, 0);
}

static void start_timer(pool_super* s, super_timer* t) {
  uv_timer_init(&s->loop, &t->t); /* cannot fail on Unix */
  t->t.data = t;
  t->next = s->timers;
  s->timers = t;
  uv_timer_start(&t->t, on_timer, t->ms, 0);
}

/* ---- the loop ---- */

static void shutdown_loop(pool_super* s) {
  s->stopped = 1;
  pthread_mutex_lock(&s->lock);
  for (super_child* c = s->children; c != NULL; c = c->next) {
    kill(c->pid, SIGKILL);
  }
  super_child* all = s->children;
  s->children = NULL;
  super_timer* queued = s->timers_q;
  s->timers_q = NULL;
  pthread_mutex_unlock(&s->lock);
  while (all != NULL) {
    super_child* c = all;
    all = c->next;
    int st = 0;
    if (wait_blocking(c->pid, &st) == c->pid) {
      report(s, c, st, 1);
    }
    free(c);
  }
  while (s->timers != NULL) {
    super_timer* t = s->timers;
    s->timers = t->next;
    uv_timer_stop(&t->t);
    uv_close((uv_handle_t*)&t->t, timer_closed);
    t->fn(s, t->arg, 1);
  }
  while (queued != NULL) {
    super_timer* t = queued;
    queued = t->next;
    t->fn(s, t->arg, 1);
    free(t);
  }
  uv_signal_stop(&s->chld);
  uv_close((uv_handle_t*)&s->chld, NULL);
  uv_close((uv_handle_t*)&s->wake, NULL);
}

static void on_wake(uv_async_t* h) {
  pool_super* s = h->data;
  if (s->stopped) {
    return;
  }
  pthread_mutex_lock(&s->lock);
  spawn_req* reqs = s->spawns;
  s->spawns = NULL;
  super_timer* timers = s->timers_q;
  s->timers_q = NULL;
  int stopping = s->stopping;
  pthread_mutex_unlock(&s->lock);
  for (spawn_req* r = reqs; r != NULL;) {
    spawn_req* next = r->next; /* r is gone once done is seen */
    int pid = 0;
    int rc = stopping ? ISO_ESHUTDOWN : do_spawn(s, r->sp, &pid);
    pthread_mutex_lock(&s->lock);
    r->rc = rc;
    r->pid = pid;
    r->done = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    r = next;
  }
  while (timers != NULL) {
    super_timer* t = timers;
    timers = t->next;
    if (stopping) {
      t->fn(s, t->arg, 1);
      free(t);
    } else {
      start_timer(s, t);
    }
  }
  if (stopping) {
    shutdown_loop(s);
  }
}

static void* super_main(void* arg) {
  pool_super* s = arg;
  this_super = s;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ---- the API ---- */

int pool__super_new(const pool_super_opts* o, pool_super** out) {
  if (o == NULL || o->exit_cb == NULL || out == NULL) {
    return ISO_EINVAL;
  }
  pool_super* s = calloc(1, sizeof(*s));
  if (s == NULL) {
    return ISO_ENOMEM;
  }
  s->o = *o;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  int rc = uv_loop_init(&s->loop);
  if (rc == 0) {
    rc = uv_async_init(&s->loop, &s->wake, on_wake);
    s->wake.data = s;
    if (rc != 0) {
      uv_loop_close(&s->loop);
    }
  }
  if (rc == 0) {
    uv_signal_init(&s->loop, &s->chld);
    s->chld.data = s;
    rc = uv_signal_start(&s->chld, on_sigchld, SIGCHLD);
    if (rc == 0) {
      rc = pthread_create(&s->thread, NULL, super_main, s);
    }
    if (rc != 0) {
      uv_close((uv_handle_t*)&s->chld, NULL);
      uv_close((uv_handle_t*)&s->wake, NULL);
      uv_run(&s->loop, UV_RUN_DEFAULT);
      uv_loop_close(&s->loop);
    }
  }
  if (rc != 0) {
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return ISO_EINTERNAL;
  }
  *out = s;
  return 0;
}

void pool__super_free(pool_super* s) {
  if (s == NULL) {
    return;
  }
  assert(this_super != s);
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->wake);
  pthread_join(s->thread, NULL);
  int rc = uv_loop_close(&s->loop);
  assert(rc == 0);
  (void)rc;
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

int pool__super_spawn(pool_super* s, const pool_super_spawn* sp, int* pid) {
  if (s == NULL || pid == NULL) {
    return ISO_EINVAL;
  }
  if (this_super == s) {
    return do_spawn(s, sp, pid);
  }
  spawn_req r = {.sp = sp};
  pthread_mutex_lock(&s->lock);
  if (s->stopping) {
    pthread_mutex_unlock(&s->lock);
    return ISO_ESHUTDOWN;
  }
  spawn_req** tail = &s->spawns;
  while (*tail != NULL) {
    tail = &(*tail)->next;
  }
  *tail = &r;
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->wake);
  pthread_mutex_lock(&s->lock);
  while (!r.done) {
    pthread_cond_wait(&s->cond, &s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  if (r.rc == 0) {
    *pid = r.pid;
  }
  return r.rc;
}

int pool__super_exited(pool_super* s, int pid, pool_super_exit* e) {
  int ended = 0;
  pthread_mutex_lock(&s->lock);
  for (super_child* c = s->children; c != NULL; c = c->next) {
    if (c->pid != pid) {
      continue;
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        si.si_pid == pid) {
      int sig = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
      *e = (pool_super_exit){
          .pid = pid,
          .status = sig ? -1 : si.si_status,
          .signal = sig ? si.si_status : 0,
          .lived_ns = pool__now() - c->born,
          .data = c->data,
      };
      ended = 1;
    }
    break;
  }
  pthread_mutex_unlock(&s->lock);
  return ended;
}

int pool__super_kill(pool_super* s, int pid, int sig) {
  int rc = ISO_ENOENT;
  pthread_mutex_lock(&s->lock);
  for (super_child* c = s->children; c != NULL; c = c->next) {
    if (c->pid == pid) {
      rc = kill(pid, sig) == 0 ? 0 : ISO_ENOENT;
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rc;
}

int pool__super_after(pool_super* s,
                      uint32_t ms,
                      pool_super_timer_cb fn,
                      void* arg) {
  if (s == NULL || fn == NULL) {
    return ISO_EINVAL;
  }
  super_timer* t = calloc(1, sizeof(*t));
  if (t == NULL) {
    return ISO_ENOMEM;
  }
  *t = (super_timer){.s = s, .ms = ms, .fn = fn, .arg = arg};
  pthread_mutex_lock(&s->lock);
  int stopping = s->stopping;
  if (!stopping && this_super != s) {
    t->next = s->timers_q;
    s->timers_q = t;
  }
  pthread_mutex_unlock(&s->lock);
  if (stopping || (this_super == s && s->stopped)) {
    free(t);
    return ISO_ESHUTDOWN;
  }
  if (this_super == s) {
    start_timer(s, t);
  } else {
    uv_async_send(&s->wake);
  }
  return 0;
}

/* ---- in the child ---- */

int pool__super_child_begin(void) {
  const char* want = getenv(POOL_SUPER_PARENT_ENV);
  if (want == NULL) {
    return ISO_EINVAL;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char* end = NULL;
  long pid = strtol(want, &end, 10);
  if (end == want || *end != '\0' || pid != (long)getppid()) {
    _exit(POOL_SUPER_ORPHAN_EXIT);
  }
  return 0;
}

/* ---- the restart policy ---- */

uint32_t pool__restart_delay_ms(pool_backoff* b, int64_t active_ms) {
  if (active_ms >= POOL_QUICK_DEATH_MS) {
    b->next_ms = 0;
    return 0;
  }
  uint32_t d = b->next_ms != 0 ? b->next_ms : POOL_BACKOFF_MIN_MS;
  b->next_ms = d >= POOL_BACKOFF_MAX_MS / 2 ? POOL_BACKOFF_MAX_MS : d * 2;
  return d;
}

int pool__spares_to_spawn(int want, int ready, int starting, int waiting) {
  int n = want - ready - starting - waiting;
  return n > 0 ? n : 0;
}
