/* test_super.c: pool/super.c, the front's supervisor of pool processes:
 * spawning (from its thread, from others, from its callbacks and timers),
 * the exit reports (exit status, signal, lifetime, exactly once), a
 * child's end seen before its reap (pool__super_exited), kill,
 * free with children running (none left, no zombie), the descriptors a
 * child gets, the parent-death rule, SIGCHLD beside another libuv loop's
 * children; the restart policy.
 *
 * The children are this binary, re-exec'd through /proc/self/exe with
 * --child MODE [ARG] (main below), as the front will exec itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "super.h"
#include "support/procfs.h"
#include "support/tap.h"

/* ---- the child ---- */

static int child_main(const char* mode, const char* arg) {
  if (strcmp(mode, "exit0") == 0) {
    return 0;
  }
  if (strcmp(mode, "exit3") == 0) {
    return 3;
  }
  if (strcmp(mode, "segv") == 0) {
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 1;
  }
  if (strcmp(mode, "env") == 0) {
    /* the supervisor's variable names our parent, the addition is there,
     * replacing the front's value, a kept variable has the front's value,
     * and the front's other variables are not there at all */
    const char* t = getenv("ISO_T");
    const char* kept = getenv("ISO_T_KEPT");
    return pool__super_child_begin() == 0 && t != NULL && strcmp(t, "x") == 0 &&
                   kept != NULL && strcmp(kept, "kept") == 0 &&
                   getenv("ISO_T_SECRET") == NULL && getenv("PATH") == NULL
               ? 0
               : 1;
  }
  if (strcmp(mode, "sigs") == 0) {
    /* what the front ignores and blocks is back to the default */
    struct sigaction sa;
    sigset_t mask;
    sigaction(SIGPIPE, NULL, &sa);
    sigprocmask(SIG_SETMASK, NULL, &mask);
    return sa.sa_handler == SIG_DFL && !sigismember(&mask, SIGTERM) &&
                   !sigismember(&mask, SIGCHLD)
               ? 0
               : 1;
  }
  if (strcmp(mode, "sleep") == 0 || strcmp(mode, "ready") == 0) {
    if (pool__super_child_begin() != 0) {
      return 2;
    }
    if (arg != NULL) { /* the descriptor to say "ready" on */
      int fd = atoi(arg);
      if (write(fd, "r", 1) != 1) {
        return 4;
      }
    }
    sleep(60);
    return 0;
  }
  return 99;
}

/* ---- the reports the exit callback hears ---- */

typedef struct reports {
  pthread_mutex_t m;
  pthread_cond_t c;
  pool_super_exit e[64];
  pthread_t thread[64];
  int n;
  /* from_callback: the callback spawns this many replacements itself */
  int respawn;
  int respawned[8];
  int nrespawned;
} reports;

static reports g_r = {.m = PTHREAD_MUTEX_INITIALIZER,
                      .c = PTHREAD_COND_INITIALIZER};

static const char* const kExit0[] = {"test_super", "--child", "exit0", NULL};

/* exited_before_reap: the exit callback of the child whose data is
 * kHold waits here until released, holding the supervisor's loop (no
 * other child is reaped meanwhile). */
static char kHold[1];
static struct {
  pthread_mutex_t m;
  pthread_cond_t c;
  int in, released;
} g_hold = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER};

static void on_exit_cb(pool_super* s, const pool_super_exit* e, void* arg) {
  reports* r = arg;
  int respawn = 0;
  if (e->data == kHold) {
    pthread_mutex_lock(&g_hold.m);
    g_hold.in = 1;
    pthread_cond_broadcast(&g_hold.c);
    while (!g_hold.released) {
      pthread_cond_wait(&g_hold.c, &g_hold.m);
    }
    pthread_mutex_unlock(&g_hold.m);
  }
  pthread_mutex_lock(&r->m);
  if (r->n < 64) {
    r->e[r->n] = *e;
    r->thread[r->n] = pthread_self();
    r->n++;
  }
  if (r->respawn > 0) {
    r->respawn--;
    respawn = 1;
  }
  pthread_mutex_unlock(&r->m);
  if (respawn) { /* the restart-at-once path: on the supervisor's thread */
    pool_super_spawn sp = {.path = "/proc/self/exe", .argv = kExit0};
    int pid = 0;
    int rc = pool__super_spawn(s, &sp, &pid);
    pthread_mutex_lock(&r->m);
    r->respawned[r->nrespawned++] = rc == 0 ? pid : rc;
    pthread_mutex_unlock(&r->m);
  }
  pthread_mutex_lock(&r->m);
  pthread_cond_broadcast(&r->c);
  pthread_mutex_unlock(&r->m);
}

/* Waits until n reports came (or ms passed); returns how many came. */
static int wait_reports(int n, int ms) {
  int64_t end = now_ms() + (int64_t)(ms * iso_test_scale());
  pthread_mutex_lock(&g_r.m);
  while (g_r.n < n && now_ms() < end) {
    pthread_mutex_unlock(&g_r.m);
    sleep_ms(5);
    pthread_mutex_lock(&g_r.m);
  }
  int got = g_r.n;
  pthread_mutex_unlock(&g_r.m);
  return got;
}

static const pool_super_exit* report_of(int pid) {
  const pool_super_exit* found = NULL;
  int times = 0;
  pthread_mutex_lock(&g_r.m);
  for (int i = 0; i < g_r.n; i++) {
    if (g_r.e[i].pid == pid) {
      found = &g_r.e[i];
      times++;
    }
  }
  pthread_mutex_unlock(&g_r.m);
  CHECK_EQ(times, 1); /* each child once */
  return found;
}

static pool_super* new_super(void) {
  pool_super_opts o = {
      .log = pool__logger_of("debug", "text"),
      .exit_cb = on_exit_cb,
      .arg = &g_r,
  };
  pool_super* s = NULL;
  CHECK_EQ(pool__super_new(&o, &s), 0);
  return s;
}

/* The front's variables every child here keeps: the sanitizers' (the
 * ASan tree's LSAN_OPTIONS names its suppressions), ISO_T, ISO_T_KEPT. */
static const char* const kKeep[] = {
    "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "ISO_T",
    "ISO_T_KEPT",   NULL,
};

static int spawn_mode(pool_super* s,
                      const char* mode,
                      const char* arg,
                      const char* const* env,
                      const int* fds,
                      int nfds,
                      void* data) {
  const char* argv[] = {"test_super", "--child", mode, arg, NULL};
  pool_super_spawn sp = {
      .path = "/proc/self/exe",
      .argv = argv,
      .keep = kKeep,
      .env = env,
      .fds = fds,
      .nfds = nfds,
      .data = data,
  };
  int pid = 0;
  int rc = pool__super_spawn(s, &sp, &pid);
  CHECK_EQ(rc, 0);
  return rc == 0 ? pid : -1;
}

/* No child of this process left, not even a zombie. */
static void check_no_children(void) {
  errno = 0;
  CHECK_EQ(waitpid(-1, NULL, WNOHANG), -1);
  CHECK_EQ(errno, ECHILD);
}

/* ---- cases: spawning and reports ---- */

static void t_exit_reports(void) {
  pool_super* s = new_super();
  /* ASan's own SIGSEGV handler would turn the signal into exit 1 */
  const char* segv_env[] = {"ASAN_OPTIONS=handle_segv=0", NULL};
  const char* env[] = {"ISO_T=x", NULL};
  setenv("ISO_T", "front's", 1);
  setenv("ISO_T_KEPT", "kept", 1);
  setenv("ISO_T_SECRET", "the front's only", 1);
  int p0 = spawn_mode(s, "exit0", NULL, NULL, NULL, 0, (void*)1);
  int p3 = spawn_mode(s, "exit3", NULL, NULL, NULL, 0, (void*)2);
  int pseg = spawn_mode(s, "segv", NULL, segv_env, NULL, 0, (void*)3);
  int penv = spawn_mode(s, "env", NULL, env, NULL, 0, (void*)4);
  int pslp = spawn_mode(s, "sleep", NULL, NULL, NULL, 0, (void*)5);
  CHECK_EQ(wait_reports(4, 10000), 4);
  CHECK_EQ(pool__super_kill(s, pslp, SIGKILL), 0);
  CHECK_EQ(wait_reports(5, 10000), 5);
  sleep_ms(100); /* nothing more comes */
  CHECK_EQ(wait_reports(6, 0), 5);
  struct {
    int pid, status, signal;
    void* data;
  } want[] = {
      {p0, 0, 0, (void*)1},          {p3, 3, 0, (void*)2},
      {pseg, -1, SIGSEGV, (void*)3}, {penv, 0, 0, (void*)4},
      {pslp, -1, SIGKILL, (void*)5},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const pool_super_exit* e = report_of(want[i].pid);
    CHECK(e != NULL);
    if (e != NULL) {
      CHECK_EQ(e->status, want[i].status);
      CHECK_EQ(e->signal, want[i].signal);
      CHECK(e->data == want[i].data);
      CHECK(e->lived_ns > 0);
    }
  }
  /* reaped: its pid is no longer ours to signal */
  CHECK_EQ(pool__super_kill(s, pslp, SIGKILL), ISO_ENOENT);
  CHECK_EQ(pool__super_kill(s, getpid(), 0), ISO_ENOENT);
  pool__super_free(s);
  check_no_children();
}

/* pool__super_exited: a child that has ended but is not reaped yet (the
 * supervisor's loop is held in another child's exit callback) is seen
 * ended, with its signal and data, and left to the reap, which reports
 * it once; a running child, a reaped one and a pid not ours are not. */
static void t_exited_before_reap(void) {
  pool_super* s = new_super();
  int before = wait_reports(0, 0);
  int sleeper = spawn_mode(s, "sleep", NULL, NULL, NULL, 0, (void*)7);
  pool_super_exit e;
  CHECK_EQ(pool__super_exited(s, sleeper, &e), 0); /* it runs */
  int holder = spawn_mode(s, "exit0", NULL, NULL, NULL, 0, kHold);
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  pthread_mutex_lock(&g_hold.m);
  while (!g_hold.in && now_ms() < end) {
    pthread_mutex_unlock(&g_hold.m);
    sleep_ms(5);
    pthread_mutex_lock(&g_hold.m);
  }
  int held = g_hold.in;
  pthread_mutex_unlock(&g_hold.m);
  CHECK(held); /* the loop is in the holder's exit callback */
  CHECK_EQ(pool__super_exited(s, holder, &e), 0); /* reaped already */
  CHECK_EQ(pool__super_kill(s, sleeper, SIGKILL), 0);
  int ended = 0;
  while (!ended && now_ms() < end) {
    ended = pool__super_exited(s, sleeper, &e);
    if (!ended) {
      sleep_ms(1);
    }
  }
  CHECK(ended);
  if (ended) {
    CHECK_EQ(e.pid, sleeper);
    CHECK_EQ(e.signal, SIGKILL);
    CHECK_EQ(e.status, -1);
    CHECK(e.data == (void*)7);
  }
  CHECK_EQ(pool__super_exited(s, sleeper, &e), 1); /* still there */
  CHECK_EQ(pool__super_exited(s, getpid(), &e), 0);
  /* neither reported yet: the holder's callback waits, the sleeper's
   * reap waits for the loop */
  CHECK_EQ(wait_reports(before + 1, 0), before);
  pthread_mutex_lock(&g_hold.m);
  g_hold.released = 1;
  pthread_cond_broadcast(&g_hold.c);
  pthread_mutex_unlock(&g_hold.m);
  CHECK_EQ(wait_reports(before + 2, 10000), before + 2);
  const pool_super_exit* r = report_of(sleeper);
  CHECK(r != NULL && r->signal == SIGKILL);
  CHECK_EQ(pool__super_exited(s, sleeper, &e), 0); /* reaped now */
  pool__super_free(s);
  check_no_children();
}

static void t_lifetime(void) {
  /* as the front does: SIGTERM (and SIGINT) blocked for sigwait, SIGCHLD
   * blocked, SIGPIPE ignored; the supervisor's thread inherits the mask */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  pool_super* s = new_super();
  int sigs = spawn_mode(s, "sigs", NULL, NULL, NULL, 0, NULL);
  int pid = spawn_mode(s, "sleep", NULL, NULL, NULL, 0, NULL);
  CHECK_EQ(wait_reports(1, 10000), 1);
  const pool_super_exit* es = report_of(sigs);
  if (es != NULL) {
    CHECK_EQ(es->status, 0);
  }
  sleep_ms(300);
  CHECK_EQ(pool__super_kill(s, pid, SIGTERM), 0);
  CHECK_EQ(wait_reports(2, 10000), 2);
  const pool_super_exit* e = report_of(pid);
  if (e != NULL) {
    CHECK_EQ(e->signal, SIGTERM); /* its SIGTERM is not blocked nor caught */
    CHECK(e->lived_ns >= 300000000ull);
    CHECK(e->lived_ns < 10000000000ull);
  }
  pool__super_free(s);
}

static void t_exec_fails(void) {
  pool_super* s = new_super();
  const char* argv[] = {"x", NULL};
  pool_super_spawn sp = {.path = "/nonexistent/isopool", .argv = argv};
  int pid = -5;
  CHECK_EQ(pool__super_spawn(s, &sp, &pid), ISO_ENOENT);
  CHECK_EQ(pid, -5);
  pool_super_spawn bad = {.path = "/proc/self/exe", .argv = NULL};
  CHECK_EQ(pool__super_spawn(s, &bad, &pid), ISO_EINVAL);
  int fd1 = 1;
  pool_super_spawn badfd = {
      .path = "/proc/self/exe", .argv = kExit0, .fds = &fd1, .nfds = 1};
  CHECK_EQ(pool__super_spawn(s, &badfd, &pid), ISO_EINVAL);
  sleep_ms(100);
  CHECK_EQ(wait_reports(1, 0), 0); /* a failed spawn is never reported */
  check_no_children();             /* and left no zombie */
  pool__super_free(s);
}

static void t_free_kills_children(void) {
  int before = (int)procfs_status_field(0, "Threads");
  pool_super* s = new_super();
  CHECK_EQ((int)procfs_status_field(0, "Threads"), before + 1);
  int pids[3];
  for (int i = 0; i < 3; i++) {
    pids[i] = spawn_mode(s, "sleep", NULL, NULL, NULL, 0, NULL);
  }
  pool__super_free(s);
  /* every one was reported, killed, before free returned */
  CHECK_EQ(wait_reports(3, 0), 3);
  for (int i = 0; i < 3; i++) {
    const pool_super_exit* e = report_of(pids[i]);
    if (e != NULL) {
      CHECK_EQ(e->signal, SIGKILL);
    }
    errno = 0;
    CHECK_EQ(kill(pids[i], 0), -1);
    CHECK_EQ(errno, ESRCH);
  }
  check_no_children();
  /* the supervisor's thread is joined; the kernel wakes a joiner when the
   * thread clears its tid, a moment before the thread leaves the count */
  int64_t end = now_ms() + (int64_t)(1000 * iso_test_scale());
  while ((int)procfs_status_field(0, "Threads") != before && now_ms() < end) {
    sleep_ms(1);
  }
  CHECK_EQ((int)procfs_status_field(0, "Threads"), before);
}

static void t_fds(void) {
  /* descriptors of the front without O_CLOEXEC, as a library may leave */
  int leak_file = open("/dev/null", O_RDONLY);
  int leak_sock = socket(AF_UNIX, SOCK_STREAM, 0);
  int ready[2];
  CHECK_EQ(pipe(ready), 0);
  CHECK(leak_file >= 3 && leak_sock >= 3);
  pool_super* s = new_super();
  char arg[16];
  snprintf(arg, sizeof arg, "%d", ready[1]);
  int pid = spawn_mode(s, "ready", arg, NULL, &ready[1], 1, NULL);
  char c = 0;
  CHECK_EQ(read(ready[0], &c, 1), 1); /* it runs: its startup is over */
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
  DIR* d = opendir(dir);
  CHECK(d != NULL);
  int seen[4] = {0};
  int others = 0;
  struct dirent* e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    int fd = atoi(e->d_name);
    if (fd >= 0 && fd <= 2) {
      seen[fd] = 1;
    } else if (fd == ready[1]) {
      seen[3] = 1;
    } else {
      fprintf(stderr, "  the child holds fd %d\n", fd);
      others++;
    }
  }
  if (d != NULL) {
    closedir(d);
  }
  CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
  CHECK_EQ(others, 0);
  char path[64], target[64] = "";
  snprintf(path, sizeof path, "/proc/%d/fd/0", pid);
  CHECK(readlink(path, target, sizeof target - 1) > 0);
  CHECK_STR(target, "/dev/null");
  pool__super_free(s);
  close(leak_file);
  close(leak_sock);
  close(ready[0]);
  close(ready[1]);
}

/* The front (a process of its own here) is SIGKILLed: its child dies. */
static void t_parent_death(void) {
  /* the grandchild is reparented to this process, which can then wait */
  CHECK_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int p[2];
  CHECK_EQ(pipe(p), 0);
  pid_t front = fork();
  if (front == 0) {
    close(p[0]);
    pool_super* s = new_super();
    int pid = spawn_mode(s, "sleep", NULL, NULL, NULL, 0, NULL);
    if (write(p[1], &pid, sizeof pid) != (ssize_t)sizeof pid) {
      _exit(1);
    }
    pause();
    _exit(0);
  }
  close(p[1]);
  int child = 0;
  CHECK_EQ(read(p[0], &child, sizeof child), (ssize_t)sizeof child);
  CHECK(child > 0);
  CHECK_EQ(kill(child, 0), 0);
  CHECK_EQ(kill(front, SIGKILL), 0);
  int st = 0;
  CHECK_EQ(waitpid(front, &st, 0), front);
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  int rc = 0;
  while ((rc = waitpid(child, &st, WNOHANG)) == 0 && now_ms() < end) {
    sleep_ms(10);
  }
  CHECK_EQ(rc, child);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  close(p[0]);
}

/* pool__super_child_begin on its own: not started by a supervisor; started
 * by the process that is its parent; its parent already changed. */
static void t_child_begin(void) {
  unsetenv(POOL_SUPER_PARENT_ENV);
  CHECK_EQ(pool__super_child_begin(), ISO_EINVAL);
  for (int orphan = 0; orphan <= 1; orphan++) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      char v[32];
      /* an orphan's front was another process than its parent now */
      snprintf(v, sizeof v, "%d", orphan ? (int)parent + 100000 : parent);
      setenv(POOL_SUPER_PARENT_ENV, v, 1);
      _exit(pool__super_child_begin() == 0 ? 0 : 1);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), orphan ? POOL_SUPER_ORPHAN_EXIT : 0);
  }
}

typedef struct spawner {
  pool_super* s;
  int pids[5];
} spawner;

static void* spawn_five(void* arg) {
  spawner* sp = arg;
  for (int i = 0; i < 5; i++) {
    pool_super_spawn o = {.path = "/proc/self/exe", .argv = kExit0};
    sp->pids[i] = -1;
    if (pool__super_spawn(sp->s, &o, &sp->pids[i]) != 0) {
      sp->pids[i] = -1;
    }
  }
  return NULL;
}

static void t_spawn_from_threads(void) {
  pool_super* s = new_super();
  spawner sp[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    sp[i].s = s;
    CHECK_EQ(pthread_create(&t[i], NULL, spawn_five, &sp[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
  }
  CHECK_EQ(wait_reports(20, 20000), 20);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 5; j++) {
      CHECK(sp[i].pids[j] > 0);
      const pool_super_exit* e = report_of(sp[i].pids[j]);
      if (e != NULL) {
        CHECK_EQ(e->status, 0);
      }
    }
  }
  pool__super_free(s);
  check_no_children();
}

typedef struct timer_probe {
  int fired, cancelled;
  pthread_t thread;
  int spawned; /* the pid its callback started, or an error */
} timer_probe;

static void on_probe_timer(pool_super* s, void* arg, int cancelled) {
  timer_probe* p = arg;
  p->thread = pthread_self();
  if (cancelled) {
    p->cancelled++;
    return;
  }
  p->fired++;
  pool_super_spawn o = {.path = "/proc/self/exe", .argv = kExit0};
  int pid = 0;
  int rc = pool__super_spawn(s, &o, &pid);
  p->spawned = rc == 0 ? pid : rc;
}

/* The exit callback restarts at once; a timer restarts after a delay;
 * both on the supervisor's thread. */
static void t_from_callback_and_timer(void) {
  pool_super* s = new_super();
  g_r.respawn = 1;
  int first = spawn_mode(s, "exit3", NULL, NULL, NULL, 0, NULL);
  CHECK_EQ(wait_reports(2, 10000), 2);
  pthread_mutex_lock(&g_r.m);
  CHECK_EQ(g_r.nrespawned, 1);
  int second = g_r.respawned[0];
  pthread_mutex_unlock(&g_r.m);
  CHECK(second > 0 && second != first);
  const pool_super_exit* e = report_of(second);
  if (e != NULL) {
    CHECK_EQ(e->status, 0);
  }
  timer_probe p = {0};
  int64_t t0 = now_ms();
  CHECK_EQ(pool__super_after(s, 150, on_probe_timer, &p), 0);
  CHECK_EQ(wait_reports(3, 10000), 3);
  CHECK(now_ms() - t0 >= 150);
  CHECK_EQ(p.fired, 1);
  CHECK_EQ(p.cancelled, 0);
  CHECK(p.spawned > 0);
  report_of(p.spawned);
  pthread_mutex_lock(&g_r.m);
  /* the timer and the callbacks ran on one thread, not this one */
  CHECK(pthread_equal(p.thread, g_r.thread[0]));
  CHECK(pthread_equal(g_r.thread[1], g_r.thread[0]));
  CHECK(!pthread_equal(p.thread, pthread_self()));
  pthread_mutex_unlock(&g_r.m);
  /* a timer pending at free is run as cancelled, once */
  timer_probe q = {0};
  CHECK_EQ(pool__super_after(s, 60000, on_probe_timer, &q), 0);
  pool__super_free(s);
  CHECK_EQ(q.fired, 0);
  CHECK_EQ(q.cancelled, 1);
  check_no_children();
}

/* ---- SIGCHLD beside the rest of the front ---- */

typedef struct other_loop {
  int64_t exit_status;
  int term_signal;
  int rc;
} other_loop;

static void other_exit(uv_process_t* p, int64_t status, int sig) {
  other_loop* o = p->data;
  o->exit_status = status;
  o->term_signal = sig;
  uv_close((uv_handle_t*)p, NULL);
}

/* Another thread's libuv loop with a child of its own (uv_spawn, which
 * reaps by pid as the supervisor does). */
static void* other_thread(void* arg) {
  other_loop* o = arg;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_process_t proc;
  proc.data = o;
  char* argv[] = {"test_super", "--child", "exit3", NULL};
  uv_process_options_t po = {
      .file = "/proc/self/exe", .args = argv, .exit_cb = other_exit};
  o->rc = uv_spawn(&loop, &proc, &po);
  if (o->rc != 0) {
    uv_close((uv_handle_t*)&proc, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return NULL;
}

static void t_sigchld_coexists(void) {
  /* as the front should: SIGCHLD blocked before any thread starts, so
   * only the supervisor's thread (which unblocks it) takes it */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, NULL);
  pool_super* s = new_super();
  other_loop o = {.exit_status = -1, .rc = -1};
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, other_thread, &o), 0);
  int pids[4];
  for (int i = 0; i < 4; i++) {
    pids[i] = spawn_mode(s, "exit0", NULL, NULL, NULL, 0, NULL);
  }
  /* this thread's sleeps are not cut short by the children's deaths */
  for (int i = 0; i < 10; i++) {
    struct timespec ts = {0, 20000000};
    CHECK_EQ(nanosleep(&ts, NULL), 0);
  }
  pthread_join(t, NULL);
  CHECK_EQ(o.rc, 0);
  CHECK_EQ(o.exit_status, 3); /* its own child, reaped by its own loop */
  CHECK_EQ(o.term_signal, 0);
  CHECK_EQ(wait_reports(4, 10000), 4);
  sleep_ms(100);
  CHECK_EQ(wait_reports(5, 0), 4); /* not the other loop's child */
  for (int i = 0; i < 4; i++) {
    const pool_super_exit* e = report_of(pids[i]);
    if (e != NULL) {
      CHECK_EQ(e->status, 0);
    }
  }
  pool__super_free(s);
  check_no_children();
}

/* ---- the restart policy ---- */

static void t_backoff(void) {
  pool_backoff b = {0};
  const uint32_t quick[] = {100,  200,   400,   800,   1600,  3200,
                            6400, 12800, 25600, 30000, 30000, 30000};
  for (size_t i = 0; i < sizeof quick / sizeof quick[0]; i++) {
    CHECK_EQ(pool__restart_delay_ms(&b, (int64_t)i * 500), quick[i]);
  }
  /* one that lived past 10 s restarts at once, and starts over */
  CHECK_EQ(pool__restart_delay_ms(&b, POOL_QUICK_DEATH_MS), 0);
  CHECK_EQ(pool__restart_delay_ms(&b, 9999), 100);
  CHECK_EQ(pool__restart_delay_ms(&b, -1), 200); /* never became active */
  CHECK_EQ(pool__restart_delay_ms(&b, 3600000), 0);
  CHECK_EQ(pool__restart_delay_ms(&b, 3600000), 0);
  CHECK_EQ(pool__restart_delay_ms(&b, 0), 100);
}

static void t_spares(void) {
  CHECK_EQ(POOL_SPARE_PROCESSES_DEFAULT, 1);
  CHECK_EQ(pool__spares_to_spawn(1, 0, 0, 0), 1);
  CHECK_EQ(pool__spares_to_spawn(1, 1, 0, 0), 0);
  CHECK_EQ(pool__spares_to_spawn(1, 0, 1, 0), 0); /* one is starting */
  CHECK_EQ(pool__spares_to_spawn(1, 0, 0, 1), 0); /* one in its backoff */
  CHECK_EQ(pool__spares_to_spawn(3, 1, 0, 0), 2);
  CHECK_EQ(pool__spares_to_spawn(0, 0, 0, 0), 0);
  CHECK_EQ(pool__spares_to_spawn(1, 2, 0, 0), 0); /* never negative */
}

static const iso_test cases[] = {
    {"exit_reports", t_exit_reports},
    {"exited_before_reap", t_exited_before_reap},
    {"lifetime", t_lifetime},
    {"exec_fails", t_exec_fails},
    {"free_kills_children", t_free_kills_children},
    {"fds", t_fds},
    {"parent_death", t_parent_death},
    {"child_begin", t_child_begin},
    {"spawn_from_threads", t_spawn_from_threads},
    {"from_callback_and_timer", t_from_callback_and_timer},
    {"sigchld_coexists", t_sigchld_coexists},
    {"backoff", t_backoff},
    {"spares", t_spares},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
    return child_main(argv[2], argc > 3 ? argv[3] : NULL);
  }
  return iso_test_main(argc, argv, cases);
}
