/* test_service_contain.c: containment (issue 11) end to end: `isopool
 * serve --processes P` runs its workers in sandboxed pool processes, and
 * the front answers every job exactly once when one of them dies.
 *
 * Each case starts the real daemon on fixtures/service
 * (support/service.h) with --processes and the flags it needs, talks to
 * it only through ipc/iso_client.h (real NNG sockets), finds its pool
 * processes as the daemon's children (/proc/PID/task/TID/children: the
 * supervisor's thread forks them) and what workers each runs (its
 * command line's --workers), kills them as a crash would, and ends with
 * the daemon stopped by SIGTERM and exiting 0. Asynchronous jobs go
 * through a tracker (tracker.h): every id sent gets exactly one reply.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_check.h"
#include "proc.h"
#include "procfs.h"
#include "service.h"
#include "tap.h"
#include "tracker.h"

#define ISOPOOL ISO_BIN_DIR "/isopool"

enum { MAXKIDS = 32 };

/* pool/super.h's POOL_QUICK_DEATH_MS (the suite does not include the
 * pool's private headers). */
#define POOL_QUICK_DEATH_MS_FOR_TEST 10000

/* Whether pool process cpid runs worker `w` (its command line's
 * --workers list). */
static int runs_worker(int cpid, int64_t w) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/cmdline", cpid);
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    return 0;
  }
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  for (size_t i = 0; i + 1 < n; i += strlen(buf + i) + 1) {
    if (strcmp(buf + i, "--workers") == 0) {
      const char* list = buf + i + strlen(buf + i) + 1;
      char* end;
      for (const char* p = list; *p != '\0'; p = *end ? end + 1 : end) {
        long v = strtol(p, &end, 10);
        if (end == p) {
          return 0;
        }
        if (v == w) {
          return 1;
        }
      }
      return 0;
    }
  }
  return 0;
}

/* 2 processes of 2 workers and a spare: 3 children, each sandboxed
 * (NoNewPrivs 1, Seccomp 2: filter mode), and jobs answered. */
static void t_processes_sandboxed(void) {
  const char* flags[] = {"--workers", "4", "--processes", "2", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  int kids[MAXKIDS];
  int n = procfs_children(s.pid, kids, MAXKIDS);
  for (int i = 0; i < n; i++) {
    /* a child just exec'd has not sandboxed itself yet (the spare may
     * still be starting): each is sealed before it says READY */
    int64_t end = now_ms() + (int64_t)(5000 * iso_test_scale());
    while (procfs_status_field(kids[i], "Seccomp") != 2 && now_ms() < end) {
      sleep_ms(20);
    }
    CHECK_EQ(procfs_status_field(kids[i], "NoNewPrivs"), 1);
    CHECK_EQ(procfs_status_field(kids[i], "Seccomp"), 2);
  }
  iso_buf keep;
  for (int i = 0; i < 8; i++) {
    expect_value(&s, call_job("double.js", NULL, "[21]", &keep), "42");
    iso_buf_close(&keep);
  }
  svc_stop(&s);
  for (int i = 0; i < n; i++) { /* none outlives its front */
    CHECK(kill(kids[i], 0) != 0);
  }
}

/* How many lines of the daemon's log name pool process pid, by pid: the
 * front's "(pid N)" and the supervisor's old "process N ". */
static int log_lines_of(const char* log, int pid) {
  char a[32], b[32], line[2048];
  snprintf(a, sizeof a, "(pid %d)", pid);
  snprintf(b, sizeof b, "process %d ", pid);
  FILE* f = fopen(log, "r");
  int n = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    n += strstr(line, a) != NULL || strstr(line, b) != NULL;
  }
  if (f != NULL) {
    fclose(f);
  }
  return n;
}

/* kill -9 of a pool process with jobs in flight: each job answered once,
 * worker_lost ("killed by signal 9") only for those on the dead process,
 * the others fulfilled; the spare takes its place at once (a job sent
 * right after runs on a process started before the kill, never waits for
 * a cold start), and a new spare comes. */
static void t_kill9_in_flight(void) {
  const char* flags[] = {"--workers", "4", "--processes", "2", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  enum { N = 40, AFTER = 8 };
  tracker t;
  tracker_init(&t, N + AFTER);
  iso_buf keep;
  for (int i = 0; i < N; i++) {
    char args[32];
    snprintf(args, sizeof args, "[600, %d]", i);
    tracker_submit_ok(&t, s.c, i, call_job("sleep.js", NULL, args, &keep),
                      20000);
    iso_buf_close(&keep);
  }
  /* a first short job tells which worker runs; its process is the
   * victim */
  iso_result r;
  call(&s, call_job("double.js", NULL, "[1]", &keep), 10000, &r);
  iso_buf_close(&keep);
  int64_t victim_worker = r.stats.worker;
  iso_result_close(&r);
  int kids[MAXKIDS];
  int n = procfs_children(s.pid, kids, MAXKIDS);
  int victim = -1;
  for (int i = 0; i < n && victim < 0; i++) {
    if (runs_worker(kids[i], victim_worker)) {
      victim = kids[i];
    }
  }
  CHECK(victim > 0);
  int on_victim[64] = {0}; /* the workers it runs, by number */
  int on_others[64] = {0}; /* those of the survivor and the spare */
  for (int w = 0; w < 64 && victim > 0; w++) {
    on_victim[w] = runs_worker(victim, w);
    for (int i = 0; i < n; i++) {
      on_others[w] |= kids[i] != victim && runs_worker(kids[i], w);
    }
  }
  if (victim > 0) {
    kill(victim, SIGKILL);
  }
  /* jobs the client sent before the front heard of it (the links'
   * PEER_GONE, the exit) are answered worker_lost with the others; its
   * log line says it has */
  char gone[64];
  snprintf(gone, sizeof gone, "(pid %d) died", victim);
  CHECK(daemon_wait_log(s.log, gone, 5000));
  /* jobs sent now go to the survivor and the spare, started before the
   * kill: none waits for a cold start */
  for (int i = 0; i < AFTER; i++) {
    tracker_submit_ok(&t, s.c, N + i, call_job("double.js", NULL, "[5]", &keep),
                      10000);
    iso_buf_close(&keep);
  }
  CHECK(tracker_wait(&t, N + AFTER, 15000));
  tracker_check_once(&t);
  int lost = 0, fulfilled = 0;
  for (int i = 0; i < N; i++) {
    if (t.r[i].status == ISO_STATUS_FULFILLED) {
      fulfilled++;
    } else {
      CHECK_EQ(t.r[i].code, ISO_CODE_WORKER_LOST);
      CHECK_CONTAINS(t.r[i].message,
                     "the pool process died: killed by signal 9");
      CHECK(t.r[i].worker >= 0 && t.r[i].worker < 64 &&
            on_victim[t.r[i].worker]);
      lost++;
    }
  }
  for (int i = 0; i < AFTER; i++) {
    CHECK_EQ(t.r[N + i].status, ISO_STATUS_FULFILLED);
    CHECK(t.r[N + i].worker >= 0 && t.r[N + i].worker < 64 &&
          on_others[t.r[N + i].worker]);
  }
  fprintf(stderr, "    %d lost, %d fulfilled\n", lost, fulfilled);
  CHECK(lost > 0);
  CHECK(fulfilled > 0);
  CHECK_EQ(lost + fulfilled, N);
  /* a new spare: 3 children again */
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  tracker_free(&t);
  /* its end is one line of the log (at the default level), saying how
   * it ended and what was lost */
  CHECK_EQ(log_lines_of(s.log, victim), 1);
  char died[96];
  snprintf(died, sizeof died, "(pid %d) died after ", victim);
  FILE* f = fopen(s.log, "r");
  char line[2048];
  int found = 0;
  while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
    found = strstr(line, died) != NULL &&
            strstr(line, ": killed by signal 9 (Killed); ") != NULL &&
            strstr(line, "job(s) answered worker_lost") != NULL;
  }
  if (f != NULL) {
    fclose(f);
  }
  CHECK(found);
  svc_stop(&s);
}

/* The pool process running worker w, or -1. */
static int process_of(pid_t pid, int64_t w) {
  int kids[MAXKIDS];
  int n = procfs_children(pid, kids, MAXKIDS);
  for (int i = 0; i < n; i++) {
    if (runs_worker(kids[i], w)) {
      return kids[i];
    }
  }
  return -1;
}

/* A job that ends its process (a test fault: op_test_crash writes
 * through a null pointer, as a native bug would; one worker per process
 * so the bystanders are on the other): it is answered worker_lost
 * "killed by signal 11", the jobs on the other process are fulfilled, the
 * service keeps answering and a new spare comes. A job's eval of a
 * memory bomb past --process-max-mb ends its process likewise. */
static void crash_case(const char* source, const char* const* more) {
  setenv("ISOPOOL_TEST_FAULTS", "1", 1);
  const char* flags[16] = {"--workers", "2", "--processes", "2"};
  int nf = 4;
  for (int i = 0; more != NULL && more[i] != NULL && nf < 15; i++) {
    flags[nf++] = more[i];
  }
  flags[nf] = NULL;
  svc s;
  int started = svc_start(&s, flags, 0);
  unsetenv("ISOPOOL_TEST_FAULTS");
  if (started != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  enum { N = 6 };
  tracker t;
  tracker_init(&t, N + 1);
  iso_buf keep;
  for (int i = 0; i < N; i++) {
    char args[32];
    snprintf(args, sizeof args, "[400, %d]", i);
    tracker_submit_ok(&t, s.c, i, call_job("sleep.js", NULL, args, &keep),
                      20000);
    iso_buf_close(&keep);
  }
  iso_job bad = eval_src(source);
  bad.timeout_ms = 20000;
  tracker_submit_ok(&t, s.c, N, bad, 30000);
  CHECK(tracker_wait(&t, N + 1, 30000));
  tracker_check_once(&t);
  rec* r = &t.r[N];
  CHECK_EQ(r->status, ISO_STATUS_ERROR);
  CHECK_EQ(r->code, ISO_CODE_WORKER_LOST);
  CHECK_CONTAINS(r->message, "the pool process died");
  int lost = 0;
  for (int i = 0; i < N; i++) {
    if (t.r[i].status != ISO_STATUS_FULFILLED) {
      CHECK_EQ(t.r[i].code, ISO_CODE_WORKER_LOST);
      CHECK_EQ(t.r[i].worker, r->worker); /* only the dead one's */
      lost++;
    }
  }
  fprintf(stderr, "    %s; %d bystander(s) lost with it\n", r->message, lost);
  CHECK(lost < N);
  expect_value(&s, call_job("double.js", NULL, "[4]", &keep), "8");
  iso_buf_close(&keep);
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  tracker_free(&t);
  svc_stop(&s);
}

static void t_segfault(void) {
  crash_case(
      "await new Promise((r) => setTimeout(r, 100));"
      "Isopool.core.ops.op_test_crash();"
      "export default 'unreachable';",
      NULL);
}

/* The least --process-max-mb `isopool serve` takes with `flags`, as its
 * refusal of 1 MiB names it ("needs at least N"); 0 when it did not
 * refuse so. The figure depends on the machine (its CPUs, the stack
 * size), so the cases ask the binary rather than repeat its arithmetic. */
static long min_process_mb(const char* const* flags, char* err, size_t cap) {
  const char* argv[32] = {ISOPOOL,    "serve",
                          "--admin",  "none",
                          "--listen", "ipc:///tmp/isopool-contain-refused.ipc"};
  int n = 6;
  for (int i = 0; flags[i] != NULL && n < 28; i++) {
    argv[n++] = flags[i];
  }
  argv[n++] = "--process-max-mb";
  argv[n++] = "1";
  argv[n] = NULL;
  proc_result r;
  long least = 0;
  if (proc_run(NULL, argv, 30, &r) == 0) {
    const char* at = strstr(r.err, "needs at least ");
    if (r.status == 2 && at != NULL) {
      least = strtol(at + strlen("needs at least "), NULL, 10);
    }
    snprintf(err, cap, "%s", r.err);
    proc_result_free(&r);
  }
  return least;
}

/* A bomb past --process-max-mb (RLIMIT_DATA), set at the least the
 * option takes for one worker thread with --heap-mb 64: a WebAssembly
 * memory (the ArrayBuffer allocator's cap does not hold it; the heap
 * limit counts it only at the next full collection) grows until the
 * bound refuses it, which it does gracefully; then a large array's
 * allocation fails, V8's fatal out-of-memory aborts the process, and
 * only its jobs are lost. */
static void t_memory_bomb(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  /* the daemon is this tree's too: its pool processes get no RLIMIT_DATA
   * under ASan or TSan (sandbox/README.md, "Memory") */
  fprintf(stderr, "    not under a sanitizer: no data bound there\n");
  return;
#endif
  const char* sizing[] = {"--workers", "2",  "--processes", "2",
                          "--heap-mb", "64", NULL};
  char err[1024] = "";
  long least = min_process_mb(sizing, err, sizeof err);
  CHECK(least > 64);
  if (least <= 64) {
    fprintf(stderr, "    %s\n", err);
    return;
  }
  char bound[32];
  snprintf(bound, sizeof bound, "%ld", least);
  fprintf(stderr, "    --process-max-mb %s\n", bound);
  const char* more[] = {"--heap-mb", "64", "--process-max-mb", bound, NULL};
  crash_case(
      "await new Promise((r) => setTimeout(r, 100));"
      "const m = new WebAssembly.Memory({ initial: 0, maximum: 65536 });"
      "try { for (;;) m.grow(16); } catch (e) {}"
      "try { for (;;) m.grow(1); } catch (e) {}"
      "const big = []; for (;;) big.push(new Array(1 << 22).fill(1.5));"
      "export default 'unreachable';",
      more);
}

/* --process-max-mb below what a pool process needs (its threads' stacks,
 * then per worker thread its heap limit and ISO_POOL_PROCESS_WORKER_MB)
 * is refused on the command line, naming the least it takes (--heap-mb 64
 * --process-max-mb 160 had every pool process abort 1.5 s after its
 * start, again and again). With that least, the processes run jobs that
 * fill their heaps to near the limit, on both workers of a process at
 * once, among a stream of calls, and none dies. */
static void t_process_max_mb_floor(void) {
  const char* sizing[] = {"--workers", "2", "--heap-mb", "64", NULL};
  char err[1024] = "";
  long least = min_process_mb(sizing, err, sizeof err);
  fprintf(stderr, "    %s", err);
  CHECK_CONTAINS(err, "a pool process of 2 worker threads with --heap-mb 64");
  CHECK(least > 2 * 64);
  char bound[32];
  const char* argv[] = {ISOPOOL,
                        "serve",
                        "--admin",
                        "none",
                        "--listen",
                        "ipc:///tmp/isopool-x.ipc",
                        "--workers",
                        "2",
                        "--heap-mb",
                        "64",
                        "--process-max-mb",
                        bound,
                        NULL};
  const long refused[] = {160, least - 1};
  for (size_t i = 0; i < 2; i++) {
    snprintf(bound, sizeof bound, "%ld", refused[i]);
    proc_result r;
    CHECK_EQ(proc_run(NULL, argv, 30, &r), 0);
    CHECK_EQ(r.status, 2);
    char want[160];
    snprintf(want, sizeof want, "--process-max-mb %ld is too small",
             refused[i]);
    CHECK_CONTAINS(r.err, want);
    snprintf(want, sizeof want, "needs at least %ld ", least);
    CHECK_CONTAINS(r.err, want);
    proc_result_free(&r);
  }
  snprintf(bound, sizeof bound, "%ld", least);
  const char* flags[] = {"--workers",        "2",   "--heap-mb", "64",
                         "--process-max-mb", bound, NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(procfs_wait_children(s.pid, 2, 10000), 2); /* the process, a spare */
  int before[MAXKIDS];
  int nbefore = procfs_children(s.pid, before, MAXKIDS);
  enum { ROUNDS = 3, FILLS = 2, CALLS = 30, PER = FILLS + CALLS };
  tracker t;
  tracker_init(&t, ROUNDS * PER);
  iso_buf keep;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < FILLS; i++) { /* 50 MB of live strings each */
      iso_job fill = eval_src(
          "const a = [];"
          "for (let i = 0; i < 50000; i++) a.push('x'.repeat(990) + i);"
          "export default a.length;");
      fill.timeout_ms = 20000;
      tracker_submit_ok(&t, s.c, round * PER + i, fill, 30000);
    }
    for (int i = 0; i < CALLS; i++) {
      tracker_submit_ok(&t, s.c, round * PER + FILLS + i,
                        call_job("double.js", NULL, "[21]", &keep), 30000);
      iso_buf_close(&keep);
    }
    CHECK(tracker_wait(&t, (round + 1) * PER, 60000));
  }
  tracker_check_once(&t);
  for (int i = 0; i < ROUNDS * PER; i++) {
    CHECK_EQ(t.r[i].status, ISO_STATUS_FULFILLED);
  }
  tracker_free(&t);
  CHECK(!daemon_log_lines(s.log, "died"));
  int after[MAXKIDS];
  int nafter = procfs_children(s.pid, after, MAXKIDS);
  CHECK_EQ(nafter, nbefore);
  for (int i = 0; i < nbefore && i < nafter; i++) {
    int same = 0;
    for (int k = 0; k < nafter; k++) {
      same |= after[k] == before[i];
    }
    CHECK(same);
  }
  svc_stop(&s);
}

/* JavaScript a stop cannot reach (op_test_block holds its thread in C):
 * past its deadline and the grace its group says WEDGED and the front
 * SIGKILLs its process; the job is answered worker_lost saying so. */
static void t_wedged_process_killed(void) {
  setenv("ISOPOOL_TEST_FAULTS", "1", 1);
  const char* flags[] = {"--workers", "2", "--processes", "2", NULL};
  svc s;
  int started = svc_start(&s, flags, 0);
  unsetenv("ISOPOOL_TEST_FAULTS");
  if (started != 0) {
    svc_stop(&s);
    return;
  }
  iso_job stuck = eval_src(
      "Isopool.core.ops.op_test_block(8000); export default 'unreachable';");
  stuck.timeout_ms = 300;
  iso_result r;
  int64_t t0 = now_ms();
  call(&s, stuck, 20000, &r);
  int64_t took = now_ms() - t0;
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_WORKER_LOST);
  CHECK_CONTAINS(r.message, "killed by signal 9 (the front killed it");
  CHECK(took < 5000); /* not the 8 s of the block */
  iso_result_close(&r);
  iso_buf keep;
  expect_value(&s, call_job("double.js", NULL, "[4]", &keep), "8");
  iso_buf_close(&keep);
  svc_stop(&s);
}

/* A pool process that stops answering (SIGSTOP: its watchdog says ALIVE
 * no more, and its jobs run no further) with a job past its deadline and
 * the grace is killed by the front after POOL_SILENT_MS (3 s) of
 * silence; the job is answered worker_lost saying what happened (its
 * process stopped answering), not that JavaScript "ran on after it was
 * stopped", which it never was; the other process's job times out as
 * usual and the spare takes the place. */
static void t_silent_process_killed(void) {
  const char* flags[] = {"--workers", "2", "--processes", "2", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  iso_result r;
  iso_buf keep;
  call(&s, call_job("double.js", NULL, "[1]", &keep), 10000, &r);
  iso_buf_close(&keep);
  int victim = process_of(s.pid, r.stats.worker);
  iso_result_close(&r);
  CHECK(victim > 0);
  if (victim <= 0) {
    svc_stop(&s);
    return;
  }
  kill(victim, SIGSTOP);
  int64_t t0 = now_ms();
  enum { N = 4 };
  tracker t;
  tracker_init(&t, N);
  for (int i = 0; i < N; i++) { /* both workers get some */
    iso_job j = call_job("sleep.js", NULL, "[5000, 1]", &keep);
    j.timeout_ms = 300;
    tracker_submit_ok(&t, s.c, i, j, 20000);
    iso_buf_close(&keep);
  }
  CHECK(tracker_wait(&t, N, 20000));
  tracker_check_once(&t);
  int lost = 0;
  for (int i = 0; i < N; i++) {
    if (t.r[i].code == ISO_CODE_WORKER_LOST) {
      lost++;
      CHECK_CONTAINS(t.r[i].message,
                     "killed by signal 9 (the front killed it: worker ");
      CHECK_CONTAINS(t.r[i].message,
                     "was lost: its pool process stopped answering (its "
                     "watchdog said nothing for ");
      CHECK(strstr(t.r[i].message, "ran on") == NULL);
      CHECK(t.r[i].done_ms - t0 >= 2500); /* by the silence rule */
      fprintf(stderr, "    %s\n", t.r[i].message);
    } else {
      CHECK_EQ(t.r[i].code, ISO_CODE_TIMEOUT);
    }
  }
  CHECK(lost > 0);
  CHECK(lost < N);
  CHECK(kill(victim, 0) != 0 || errno == EPERM);
  tracker_free(&t);
  expect_value(&s, call_job("double.js", NULL, "[4]", &keep), "8");
  iso_buf_close(&keep);
  svc_stop(&s);
}

/* watchdog.c's POOL_HELD_MS (POOL_LOST_GRACE_MS + POOL_SILENT_MS): how
 * long past its deadline a job may stay unanswered on a worker whose group
 * still says ALIVE. */
#define POOL_HELD_MS_FOR_TEST 4000

/* A worker held by `source` (a job of timeout_ms that a test fault keeps
 * in C) while its group lies (ISOPOOL_TEST_NO_WEDGED: it keeps saying
 * ALIVE and never says WEDGED), with `flags`: the job is answered
 * worker_lost by the front's own bound, not sooner (no WEDGED, no
 * silence) and not much later; jobs on the other worker are answered
 * meanwhile; the log says why. Returns the stuck job's reply message in
 * msg (the caller checks the rest), or "" when the service did not
 * start. */
static void held_case(svc* s, const char* const* flags, char* msg, size_t cap) {
  msg[0] = '\0';
  setenv("ISOPOOL_TEST_FAULTS", "1", 1);
  setenv("ISOPOOL_TEST_NO_WEDGED", "1", 1);
  int started = svc_start(s, flags, 0);
  unsetenv("ISOPOOL_TEST_FAULTS");
  unsetenv("ISOPOOL_TEST_NO_WEDGED");
  if (started != 0) {
    return;
  }
  enum { TIMEOUT = 300, BYSTANDERS = 20 };
  tracker t;
  tracker_init(&t, 1);
  iso_job stuck = eval_src(
      "Isopool.core.ops.op_test_block(9000); export default 'unreachable';");
  stuck.timeout_ms = TIMEOUT;
  int64_t t0 = now_ms();
  tracker_submit_ok(&t, s->c, 0, stuck, 30000);
  sleep_ms(100);
  /* meanwhile the other worker answers, one call at a time (routing
   * takes the least loaded: the idle one, never the held one), every
   * 200 ms */
  iso_buf keep;
  int64_t by[BYSTANDERS];
  for (int i = 0; i < BYSTANDERS; i++) {
    iso_result b;
    call(s, call_job("double.js", NULL, "[7]", &keep), 20000, &b);
    iso_buf_close(&keep);
    CHECK_EQ(b.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(b.value, b.value_len, "14");
    by[i] = b.stats.worker;
    iso_result_close(&b);
    sleep_ms(200);
  }
  CHECK(tracker_wait(&t, 1, 20000));
  tracker_check_once(&t);
  rec* r = &t.r[0];
  int64_t took = r->done_ms - t0;
  fprintf(stderr, "    answered %lld ms after it was sent: %s\n",
          (long long)took, r->message);
  CHECK_EQ(r->status, ISO_STATUS_ERROR);
  CHECK_EQ(r->code, ISO_CODE_WORKER_LOST);
  /* by the front's bound: not before it (no WEDGED came, the group did
   * not go silent), and within a slow round and some slack after it */
  CHECK(took >= TIMEOUT + POOL_HELD_MS_FOR_TEST);
  CHECK(took <
        TIMEOUT + POOL_HELD_MS_FOR_TEST + (int64_t)(2000 * iso_test_scale()));
  CHECK_CONTAINS(r->message, "a job on it was unanswered ");
  CHECK_CONTAINS(r->message, "kept saying it was alive");
  CHECK(strstr(r->message, "ran on") == NULL);
  CHECK(strstr(r->message, "stopped answering") == NULL);
  snprintf(msg, cap, "%s", r->message);
  for (int i = 0; i < BYSTANDERS; i++) {
    CHECK(by[i] != r->worker);
  }
  /* the log names the reason, once */
  CHECK(daemon_wait_log(s->log, "kept saying it was alive", 2000));
  tracker_free(&t);
}

/* A pool process that lies: its worker is held in C (op_test_block) and
 * its group keeps saying ALIVE without ever saying WEDGED. The front's
 * own bound kills it (SIGKILL: "the front killed it"), the job is
 * answered worker_lost saying why, the other process answers meanwhile,
 * the spare takes its place and a new spare comes. */
static void t_lying_process_killed(void) {
  const char* flags[] = {"--workers",   "2",    "--processes", "2",
                         "--log-level", "info", NULL};
  svc s;
  char msg[1024];
  held_case(&s, flags, msg, sizeof msg);
  if (msg[0] == '\0') {
    svc_stop(&s);
    return;
  }
  CHECK_CONTAINS(msg, "killed by signal 9 (the front killed it: worker ");
  CHECK_CONTAINS(msg, "while its pool process kept saying it was alive");
  CHECK(daemon_wait_log(s.log, "a spare, took the place of a dead one", 2000));
  /* said at the kill, once, and again in the exit's line (which the
   * supervisor writes when it reaps the process: it may come later) */
  int64_t until = now_ms() + (int64_t)(2000 * iso_test_scale());
  while (daemon_log_lines(s.log, "kept saying it was alive") < 2 &&
         now_ms() < until) {
    sleep_ms(20);
  }
  CHECK_EQ(daemon_log_lines(s.log, "): killed: worker "), 1);
  int said = daemon_log_lines(s.log, "kept saying it was alive");
  CHECK_EQ(said, 2);
  iso_buf keep;
  for (int i = 0; i < 4; i++) {
    expect_value(&s, call_job("double.js", NULL, "[4]", &keep), "8");
    iso_buf_close(&keep);
  }
  CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
  svc_stop(&s);
}

/* The same rule with --processes 0: a worker thread held in C while the
 * front's group of threads keeps saying ALIVE and never WEDGED is
 * declared lost, its job answered worker_lost, and a new worker takes
 * its place; the lost thread is freed when the fault lets go (9 s after
 * the job's start). */
static void t_lying_group_worker_lost(void) {
  const char* flags[] = {"--workers",   "2",    "--processes", "0",
                         "--log-level", "info", NULL};
  svc s;
  char msg[1024];
  held_case(&s, flags, msg, sizeof msg);
  if (msg[0] == '\0') {
    svc_stop(&s);
    return;
  }
  CHECK_CONTAINS(msg, "while its group of threads kept saying it was alive");
  CHECK_CONTAINS(msg, "a new worker took its place");
  CHECK_EQ(daemon_log_lines(s.log, "kept saying it was alive"), 1);
  iso_buf keep;
  for (int i = 0; i < 4; i++) {
    expect_value(&s, call_job("double.js", NULL, "[4]", &keep), "8");
    iso_buf_close(&keep);
  }
  sleep_ms(5000); /* the fault lets go; the thread comes back */
  svc_stop(&s);
}

/* The bound leaves room for a job that waits behind another job's
 * JavaScript on the same worker (one worker): a job of 300 ms sent
 * behind 6 s of busy JavaScript (a job of 8 s) is answered `timeout`
 * when that JavaScript ends, 5.7 s past its deadline, past POOL_HELD_MS:
 * the front counts the deadline of the job it waited behind, and kills
 * nothing. */
static void t_held_behind_javascript(void) {
  const char* flags[] = {
      "--workers", "1",           "--processes", "1", "--spare-processes",
      "0",         "--log-level", "info",        NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  int kids[MAXKIDS];
  CHECK_EQ(procfs_children(s.pid, kids, MAXKIDS), 1);
  tracker t;
  tracker_init(&t, 2);
  iso_job busy = eval_src(
      "const end = Date.now() + 6000; while (Date.now() < end) {}"
      "export default 'done';");
  busy.timeout_ms = 8000;
  tracker_submit_ok(&t, s.c, 0, busy, 30000);
  sleep_ms(100);
  iso_buf keep;
  iso_job behind = call_job("double.js", NULL, "[3]", &keep);
  behind.timeout_ms = 300;
  int64_t t0 = now_ms();
  tracker_submit_ok(&t, s.c, 1, behind, 30000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 2, 30000));
  tracker_check_once(&t);
  CHECK_EQ(t.r[0].status, ISO_STATUS_FULFILLED);
  CHECK_STR(t.r[0].value, "\"done\"");
  CHECK_EQ(t.r[1].status, ISO_STATUS_ERROR);
  CHECK_EQ(t.r[1].code, ISO_CODE_TIMEOUT);
  int64_t waited = t.r[1].done_ms - t0;
  fprintf(stderr, "    the job behind answered after %lld ms\n",
          (long long)waited);
  CHECK(waited > 300 + POOL_HELD_MS_FOR_TEST); /* the case's point */
  CHECK(!daemon_log_lines(s.log, "was lost"));
  CHECK(!daemon_log_lines(s.log, "died"));
  CHECK_EQ(procfs_children(s.pid, kids, MAXKIDS), 1);
  tracker_free(&t);
  svc_stop(&s);
}

/* kv lives in the front: a value set before its pool process is killed
 * is read after, by a job on another process. */
static void t_kv_survives(void) {
  const char* flags[] = {"--workers", "2", "--processes", "2", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_result r;
  call(&s,
       eval_src("import * as kv from 'isopool:kv';"
                "await kv.set('k', 'kept');"
                "export default 1;"),
       10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  int victim = process_of(s.pid, r.stats.worker);
  iso_result_close(&r);
  CHECK(victim > 0);
  if (victim > 0) {
    kill(victim, SIGKILL);
  }
  /* the front has heard of the death (under load that can take longer
   * than any fixed sleep): no job goes to the dead process's worker */
  CHECK(daemon_wait_log(s.log, "died", 5000));
  for (int i = 0; i < 4; i++) {
    expect_value(&s,
                 eval_src("import * as kv from 'isopool:kv';"
                          "export default await kv.get('k');"),
                 "\"kept\"");
  }
  svc_stop(&s);
}

/* A clean SIGTERM says nothing alarming: the pool processes (the active
 * ones, whose workers stopped and gave their last records, and the
 * spare) are ended by the supervisor's end without waiting for their
 * isolates' teardown, which is the shutdown's own way out, not a death
 * (nor a warning in an operator's log). */
static void t_clean_shutdown_quiet(void) {
  const char* flags[] = {"--workers", "2", "--processes", "2", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  expect_value(&s, call_job("double.js", NULL, "[21]", &keep), "42");
  iso_buf_close(&keep);
  daemon_stop(&s.pid, 8000); /* exit status 0 checked there */
  CHECK(!daemon_log_lines(s.log, "warn:"));
  CHECK(!daemon_log_lines(s.log, "error:"));
  CHECK(!daemon_log_lines(s.log, "died"));
  svc_stop(&s);
}

/* A pool process that dies at its start again and again (its module
 * root went: its sandbox cannot be entered) is restarted later and later
 * (the log shows the delays doubling); meanwhile the service answers
 * (queued jobs time out with a clear message), and once the root is back
 * a restart succeeds and jobs run again. */
static void t_backoff(void) {
  char root[] = "/tmp/isopool-contain-XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char file[128];
  snprintf(file, sizeof file, "%s/double.js", root);
  FILE* f = fopen(file, "w");
  CHECK(f != NULL);
  if (f == NULL) {
    return;
  }
  fputs("export default (x) => x * 2;\n", f);
  fclose(f);
  const char* flags[] = {"--workers",         "1",    "--processes", "1",
                         "--spare-processes", "0",    "--modules",   root,
                         "--log-level",       "info", NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  iso_buf keep;
  expect_value(&s, call_job("double.js", NULL, "[2]", &keep), "4");
  iso_buf_close(&keep);
  char moved[160];
  snprintf(moved, sizeof moved, "%s.away", root);
  CHECK_EQ(rename(root, moved), 0);
  int kids[MAXKIDS];
  if (procfs_children(s.pid, kids, MAXKIDS) == 1) {
    kill(kids[0], SIGKILL);
  }
  /* 100 + 200 + 400 ms of backoff, and their failed starts */
  CHECK(daemon_wait_log(s.log, "starting a new pool process in 100 ms", 5000));
  CHECK(daemon_wait_log(s.log, "starting a new pool process in 200 ms", 5000));
  CHECK(daemon_wait_log(s.log, "starting a new pool process in 400 ms", 5000));
  /* no worker: a job waits in the queue and is answered at its deadline */
  iso_job j = call_job("double.js", NULL, "[3]", &keep);
  j.timeout_ms = 300;
  iso_result r;
  call(&s, j, 5000, &r);
  iso_buf_close(&keep);
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
  iso_result_close(&r);
  CHECK_EQ(rename(moved, root), 0);
  /* the next restart (within the backoff's 30 s bound, here a few s) */
  int64_t end = now_ms() + (int64_t)(20000 * iso_test_scale());
  int ok = 0;
  while (!ok && now_ms() < end) {
    iso_job k = call_job("double.js", NULL, "[5]", &keep);
    k.timeout_ms = 500;
    call(&s, k, 5000, &r);
    iso_buf_close(&keep);
    ok = r.status == ISO_STATUS_FULFILLED;
    iso_result_close(&r);
  }
  CHECK(ok);
  svc_stop(&s);
  unlink(file);
  rmdir(root);
}

/* A pool process gets none of the front's environment but what the
 * service may grant (--allow-env's names) and what it needs itself (TZ,
 * the locale): a secret in the front's environment is not in a pool
 * process's /proc/PID/environ, nor readable by an env job, while a
 * granted variable still reaches a job through isopool:env. With
 * --allow-env granting every variable the pool processes get all of it
 * (docs/architecture.md says so); with none granted, no granted one. */
static void t_environment(void) {
  static const struct {
    const char* allow; /* the --allow-env flag, or NULL */
    int granted;       /* ISO_T_GRANTED reaches the pool processes */
    int secret;        /* ISO_T_SECRET does */
  } rows[] = {
      {"--allow-env=ISO_T_GRANTED,ISO_T_MISSING", 1, 0},
      {NULL, 0, 0},
      {"--allow-env", 1, 1},
  };
  for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
    fprintf(stderr, "    %s\n", rows[k].allow ? rows[k].allow : "(none)");
    setenv("ISO_T_SECRET", "the-front-only", 1);
    setenv("ISO_T_GRANTED", "granted-value", 1);
    setenv("TZ", "Asia/Tokyo", 1);
    const char* flags[] = {"--workers", "2",           "--processes",
                           "2",         rows[k].allow, NULL};
    svc s;
    int started = svc_start(&s, flags, 0);
    unsetenv("ISO_T_SECRET");
    unsetenv("ISO_T_GRANTED");
    unsetenv("TZ");
    if (started != 0) {
      svc_stop(&s);
      return;
    }
    char v[256];
    /* the front has them: what follows is the pool processes' doing */
    CHECK(procfs_environ_get(s.pid, "ISO_T_SECRET", v, sizeof v));
    CHECK(procfs_environ_get(s.pid, "ISO_T_GRANTED", v, sizeof v));
    CHECK_EQ(procfs_wait_children(s.pid, 3, 10000), 3);
    int kids[MAXKIDS];
    int n = procfs_children(s.pid, kids, MAXKIDS);
    CHECK_EQ(n, 3);
    for (int i = 0; i < n; i++) {
      CHECK_EQ(procfs_environ_get(kids[i], "ISO_T_SECRET", v, sizeof v),
               rows[k].secret);
      CHECK_EQ(procfs_environ_get(kids[i], "ISO_T_GRANTED", v, sizeof v),
               rows[k].granted);
      if (rows[k].granted) {
        CHECK_STR(v, "granted-value");
      }
      CHECK(procfs_environ_get(kids[i], "TZ", v, sizeof v));
      CHECK_STR(v, "Asia/Tokyo");
      CHECK_EQ(procfs_environ_get(kids[i], "ISO_T_MISSING", v, sizeof v), 0);
    }
    /* on both processes (a job per worker, at least: 2 each) */
    for (int i = 0; i < 6; i++) {
      expect_value(
          &s,
          eval_src("import { get } from 'isopool:env';"
                   "let r;"
                   "try { r = get('ISO_T_GRANTED') ?? 'unset'; }"
                   "catch (e) { r = e.name; }"
                   "export default r;"),
          rows[k].granted ? "\"granted-value\"" : "\"PermissionDenied\"");
      expect_value(
          &s,
          eval_src("import { get } from 'isopool:env';"
                   "let r;"
                   "try { r = get('ISO_T_SECRET') ?? 'unset'; }"
                   "catch (e) { r = e.name; }"
                   "export default r;"),
          rows[k].secret ? "\"the-front-only\"" : "\"PermissionDenied\"");
      /* the time zone is the front's */
      expect_value(&s,
                   eval_src("export default "
                            "Intl.DateTimeFormat().resolvedOptions()"
                            ".timeZone;"),
                   "\"Asia/Tokyo\"");
    }
    svc_stop(&s);
  }
}

/* The delays of the restarts the daemon's log announced ("starting a new
 * pool process in N ms"), in order, into out; returns how many. */
static int restart_delays(const svc* s, long* out, int max) {
  static const char kWhat[] = "starting a new pool process in ";
  FILE* f = fopen(s->log, "r");
  char line[2048];
  int n = 0;
  while (f != NULL && n < max && fgets(line, sizeof line, f) != NULL) {
    const char* at = strstr(line, kWhat);
    if (at != NULL) {
      out[n++] = strtol(at + strlen(kWhat), NULL, 10);
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  return n;
}

/* Kills the daemon's only pool process, then waits until a job is
 * answered by its replacement: returns when that one is active. */
static void kill_and_replace(svc* s) {
  int kids[MAXKIDS];
  int n = procfs_children(s->pid, kids, MAXKIDS);
  CHECK_EQ(n, 1);
  if (n == 1) {
    /* the front has heard of this death (its line names the pid) */
    char died[64];
    snprintf(died, sizeof died, "(pid %d) died", kids[0]);
    kill(kids[0], SIGKILL);
    CHECK(daemon_wait_log(s->log, died, 5000));
  }
  iso_buf keep;
  iso_job j = call_job("double.js", NULL, "[2]", &keep);
  j.timeout_ms = 10000;
  expect_value(s, j, "4");
  iso_buf_close(&keep);
}

/* The restart policy in the service (pool__restart_delay_ms alone is a
 * unit): processes that die young (within POOL_QUICK_DEATH_MS, 10 s, of
 * going active) are restarted after 100, then 200 ms; one that was
 * active for longer is restarted at once (0 ms) and the backoff starts
 * over (the next quick death waits 100 ms again, not 400). The 10 s are
 * waited for: the threshold is the one the service runs with. */
static void t_restart_after_long_life(void) {
  const char* flags[] = {
      "--workers", "1",           "--processes", "1", "--spare-processes",
      "0",         "--log-level", "info",        NULL};
  svc s;
  if (svc_start(&s, flags, 0) != 0) {
    svc_stop(&s);
    return;
  }
  kill_and_replace(&s); /* young: 100 ms */
  kill_and_replace(&s); /* young again: 200 ms */
  int64_t t0 = now_ms();
  sleep_ms(POOL_QUICK_DEATH_MS_FOR_TEST + 300); /* active since before t0 */
  CHECK(now_ms() - t0 > POOL_QUICK_DEATH_MS_FOR_TEST);
  kill_and_replace(&s); /* lived long: at once */
  kill_and_replace(&s); /* young: the backoff starts over */
  long d[8];
  int n = restart_delays(&s, d, 8);
  CHECK_EQ(n, 4);
  const long want[] = {100, 200, 0, 100};
  for (int i = 0; i < n && i < 4; i++) {
    CHECK_EQ(d[i], want[i]);
  }
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"processes_sandboxed", t_processes_sandboxed},
    {"kill9_in_flight", t_kill9_in_flight},
    {"segfault", t_segfault},
    {"memory_bomb", t_memory_bomb},
    {"wedged_process_killed", t_wedged_process_killed},
    {"silent_process_killed", t_silent_process_killed},
    {"lying_process_killed", t_lying_process_killed},
    {"lying_group_worker_lost", t_lying_group_worker_lost},
    {"held_behind_javascript", t_held_behind_javascript},
    {"kv_survives", t_kv_survives},
    {"clean_shutdown_quiet", t_clean_shutdown_quiet},
    {"backoff", t_backoff},
    {"environment", t_environment},
    {"process_max_mb_floor", t_process_max_mb_floor},
    {"restart_after_long_life", t_restart_after_long_life},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return iso_test_main(argc, argv, cases);
}
