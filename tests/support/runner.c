/* runner.c: the table-of-cases runner declared in tap.h.
 *
 * DESIGN. Each case runs in a fork of the runner (after the suite's setup)
 * that is the leader of a new process group. The runner keeps SIGCHLD
 * blocked while a case runs and sleeps in sigtimedwait() until a child
 * changes state or the case's deadline passes; it reaps only the case's pid
 * (a daemon the setup started is another child of the runner, and its
 * SIGCHLD only wakes the loop). When the case ends, or at its deadline,
 * the runner SIGKILLs the case's process group, so whatever the case
 * started (a daemon, `isopool run`, poolctl) goes with it. The case's
 * process asks for SIGKILL when the runner dies (PR_SET_PDEATHSIG), and the
 * runner forwards SIGINT/SIGTERM/SIGHUP to the running case's group, so an
 * interrupted run leaves nothing behind. The runner starts no threads:
 * a case's process is a fork of a single-threaded process.
 */
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int iso_test_failed;

typedef struct one {
  const char* name;
  void (*fn)(void);
  void (*run_row)(const void* row);
  const void* row;
  int timeout_s;
  int selected;
  int failed;
} one;

/* A case's process exits with this when a CHECK failed: 1 is taken by the
 * sanitizers' reports, which must not read as a failed CHECK. */
enum { EXIT_CHECK_FAILED = 98 };

static volatile sig_atomic_t running_pgid;

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

double iso_test_scale(void) {
  const char* env = getenv("ISO_TEST_TIMEOUT_SCALE");
  double scale = env != NULL ? atof(env) : 1.0;
  return scale > 0 ? scale : 1.0;
}

/* The runner was told to stop: the running case's group goes first. */
static void on_stop_signal(int sig) {
  pid_t g = (pid_t)running_pgid;
  if (g > 0) {
    kill(-g, SIGKILL);
    waitpid(g, NULL, 0);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void run_body(const one* c, const iso_test_suite* s) {
  iso_test_failed = 0;
  if (s->case_setup != NULL) {
    s->case_setup();
  }
  if (iso_test_failed) { /* case_setup failed: the case can't run */
  } else if (c->fn != NULL) {
    c->fn();
  } else {
    c->run_row(c->row);
  }
  if (s->case_teardown != NULL) {
    s->case_teardown();
  }
}

/* In the case's process: never returns. */
static void run_child(const one* c,
                      const iso_test_suite* s,
                      pid_t runner,
                      const sigset_t* mask) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != runner) { /* the runner is already gone */
    _exit(125);
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  sigprocmask(SIG_SETMASK, mask, NULL);
  run_body(c, s);
  fflush(NULL);
  /* exit, not _exit: stdio is flushed and the leak check runs per case */
  exit(iso_test_failed ? EXIT_CHECK_FAILED : 0);
}

/* Waits for pid until deadline (ms on now_ms's clock, <= 0: none); 1 and
 * *ws when it ended, 0 at the deadline. SIGCHLD is blocked. */
static int wait_case(pid_t pid, int64_t deadline, int* ws) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    pid_t got = waitpid(pid, ws, WNOHANG);
    if (got == pid) {
      return 1;
    }
    if (got < 0 && errno != EINTR) {
      *ws = 0;
      return 1; /* not our child any more: nothing to wait for */
    }
    int64_t left = deadline > 0 ? deadline - now_ms() : 1000;
    if (left <= 0) {
      return 0;
    }
    if (left > 1000) { /* a lost wakeup costs at most a second */
      left = 1000;
    }
    struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
    sigtimedwait(&chld, NULL, &ts);
  }
}

/* Runs one case in a process of its own; its TAP line's directive into
 * why ("" when it passed). */
static int run_forked(const one* c,
                      const iso_test_suite* s,
                      double scale,
                      char* why,
                      size_t why_len) {
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  fflush(NULL);
  pid_t runner = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(why, why_len, "fork: %s", strerror(errno));
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0;
  }
  if (pid == 0) {
    run_child(c, s, runner, &old);
  }
  setpgid(pid, pid); /* as the child does: whichever runs first */
  running_pgid = pid;
  int timeout_s = (int)(c->timeout_s * scale + 0.5);
  if (timeout_s < 1) {
    timeout_s = 1;
  }
  int ws = 0;
  int ended = wait_case(pid, now_ms() + (int64_t)timeout_s * 1000, &ws);
  kill(-pid, SIGKILL); /* the case, if it hangs, and what it started */
  if (!ended) {
    waitpid(pid, &ws, 0);
  }
  running_pgid = 0;
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (!ended) {
    snprintf(why, why_len, "timeout after %d s", timeout_s);
    return 0;
  }
  if (WIFSIGNALED(ws)) {
    snprintf(why, why_len, "signal %d (%s)", WTERMSIG(ws),
             strsignal(WTERMSIG(ws)));
    return 0;
  }
  int status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  if (status == 0) {
    why[0] = '\0';
    return 1;
  }
  if (status == EXIT_CHECK_FAILED) {
    snprintf(why, why_len, "failed");
  } else {
    snprintf(why, why_len, "exit status %d", status);
  }
  return 0;
}

static int run_in_process(const one* c,
                          const iso_test_suite* s,
                          char* why,
                          size_t why_len) {
  run_body(c, s);
  why[0] = '\0';
  if (iso_test_failed) {
    snprintf(why, why_len, "failed");
  }
  return !iso_test_failed;
}

int iso_test_run(int argc, char** argv, const iso_test_suite* s) {
  size_t ncases = 0;
  for (const iso_test* t = s->cases; t != NULL && t->name != NULL; t++) {
    ncases++;
  }
  size_t n = s->nrows + ncases;
  one* all = calloc(n > 0 ? n : 1, sizeof *all);
  if (all == NULL) {
    return 1;
  }
  int def = s->timeout_s > 0 ? s->timeout_s : ISO_TEST_TIMEOUT_S;
  for (size_t i = 0; i < s->nrows; i++) {
    const void* row = (const char*)s->rows + i * s->row_size;
    all[i] = (one){.name = *(const char* const*)row,
                   .run_row = s->run_row,
                   .row = row,
                   .timeout_s = def};
  }
  for (size_t i = 0; i < ncases; i++) {
    const iso_test* t = &s->cases[i];
    all[s->nrows + i] =
        (one){.name = t->name,
              .fn = t->fn,
              .timeout_s = t->timeout_s > 0 ? t->timeout_s : def};
  }

  int list = argc > 1 && strcmp(argv[1], "--list") == 0;
  int unknown = 0;
  for (size_t i = 0; i < n; i++) {
    all[i].selected = argc <= 1 || list;
  }
  for (int a = 1; a < argc && !list; a++) {
    int found = 0;
    for (size_t i = 0; i < n; i++) {
      if (strcmp(argv[a], all[i].name) == 0) {
        all[i].selected = found = 1;
      }
    }
    if (!found) {
      fprintf(stderr, "no case named %s\n", argv[a]);
      unknown++;
    }
  }
  if (list) {
    for (size_t i = 0; i < n; i++) {
      printf("%s %d\n", all[i].name, all[i].timeout_s);
    }
    free(all);
    return 0;
  }

  const char* nofork_env = getenv("ISO_TEST_NOFORK");
  int nofork = nofork_env != NULL && nofork_env[0] != '\0' &&
               strcmp(nofork_env, "0") != 0;
  double scale = iso_test_scale();

  int ran = 0, failed = 0, setup_ok = 1;
  if (s->setup != NULL) {
    iso_test_failed = 0;
    setup_ok = s->setup() == 0 && !iso_test_failed;
    if (!setup_ok) {
      fprintf(stderr, "the suite's setup failed: no case runs\n");
    }
  }
  if (!nofork) {
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
  }
  for (size_t i = 0; i < n && setup_ok; i++) {
    if (!all[i].selected) {
      continue;
    }
    fprintf(stderr, "- %s\n", all[i].name);
    char why[128];
    int64_t start = now_ms();
    int ok = nofork ? run_in_process(&all[i], s, why, sizeof why)
                    : run_forked(&all[i], s, scale, why, sizeof why);
    double secs = (double)(now_ms() - start) / 1000.0;
    ran++;
    if (ok) {
      fprintf(stderr, "ok %d - %s (%.2f s)\n", ran, all[i].name, secs);
    } else {
      failed++;
      all[i].failed = 1;
      fprintf(stderr, "not ok %d - %s # %s\n", ran, all[i].name, why);
    }
  }
  if (!nofork) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
  }
  if (s->teardown != NULL) {
    s->teardown();
  }
  if (failed > 0) { /* the names again, at the end of a long log */
    fprintf(stderr, "failed:");
    for (size_t i = 0; i < n; i++) {
      if (all[i].failed) {
        fprintf(stderr, " %s", all[i].name);
      }
    }
    fprintf(stderr, "\n");
  }
  fprintf(stderr, "%d/%d passed\n", ran - failed, ran);
  free(all);
  return (setup_ok && failed == 0 && unknown == 0 && ran > 0) ? 0 : 1;
}

int iso_test_main(int argc, char** argv, const iso_test* cases) {
  iso_test_suite s = {.cases = cases};
  return iso_test_run(argc, argv, &s);
}

int iso_test_rows(int argc,
                  char** argv,
                  const void* rows,
                  size_t n,
                  size_t size,
                  void (*run)(const void* row),
                  const iso_test* more) {
  iso_test_suite s = {.rows = rows,
                      .nrows = n,
                      .row_size = size,
                      .run_row = run,
                      .cases = more};
  return iso_test_run(argc, argv, &s);
}
