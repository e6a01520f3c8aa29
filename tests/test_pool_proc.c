/* test_pool_proc.c: the pool process (`isopool pool-process`, pool/proc.c)
 * against a front played by the suite: the real binary, spawned by the
 * real supervisor (pool/super.c) with the command line the front writes
 * (pool/proc_args.c), given the other ends of link socketpairs the suite
 * made and reads on a hub of its own, as docs/link.md says the front
 * does.
 *
 * - alive_and_sandboxed: it says ALIVE, each worker says READY; it
 *   runs with no_new_privs and the seccomp filter (/proc/PID/status), its
 *   RLIMIT_DATA from --process-max-mb, and logs its sandbox.
 * - sandbox_probe: once sealed it cannot open a file outside its module
 *   root (Landlock, where the kernel has it) nor make a socket (the
 *   filter), but can open its module root (the test-only probe, on a
 *   descriptor the supervisor hands it).
 * - job: a TASK over a jobs link runs in the process and its DONE comes
 *   back, with a sync op (isopool:env) answered from the process's own
 *   environment under the job's permissions.
 * - async_op: an async op goes to the front as an OP record on the ops
 *   link; the front's OP_RESULT settles the job.
 * - deadline, cancel_halt: the process's own watchdog stops JavaScript
 *   past its deadline (the job answered timeout), or on a HALT over the
 *   control link with a CANCEL (the job comes back unanswered).
 * - memory_unbounded, memory_limit: --process-max-mb bounds what the
 *   process's JavaScript can allocate (a RangeError, or the process
 *   ends), where the same job without the bound gets its memory.
 * - stop: a STOP to every worker: each says STATE stopped, and the
 *   process exits 0 while its front still listens.
 * - front_closes: the front closes the control link: the process exits,
 *   within a bound, though its jobs links stay open.
 * - front_killed: the front (a process of its own here) is SIGKILLed: the
 *   pool process dies too (PR_SET_PDEATHSIG).
 * - bad_command_line: a malformed command line is refused with exit
 *   status 2 and a sentence naming the option (a list of link
 *   descriptors that is not one per worker among them); so is one
 *   without a supervisor behind it.
 * - bad_link_fds: a link descriptor that is not a socket (a pipe), or
 *   not a stream one (a datagram socketpair), is refused with exit
 *   status 2 naming it, before anything starts.
 *
 * Not in the ASan tree: LSan cannot run in a sandboxed child. The command
 * line's parser is test_pool_proc_args's, which is. In the TSan tree, the
 * pool process is this tree's too: it gets the sanitizers' options as
 * the front passes them (tests/tsan.supp), and no RLIMIT_DATA (its
 * shadow memory; sandbox/README.md), so memory_limit has nothing to
 * bound there.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iso_link.h"
#include "pool_proc.h"
#include "super.h"
#include "support/proc.h"
#include "support/procfs.h"
#include "support/tap.h"
#include "worker.h"

#define ISOPOOL ISO_BIN_DIR "/isopool"
#define MAX_W 2
#define MAX_MESSAGE ((size_t)1 << 20)

/* ---- the suite's front ---- */

typedef struct front {
  iso_link_hub* hub; /* the suite's front ends, read by its thread */
  pthread_t hub_thread;
  int hub_stop;
  int ctl_peer, jobs_peer[MAX_W], ops_peer[MAX_W]; /* the process's ends */
  char mods[64];
  char log[64];
  int saved_stderr;
  pool_super* s;
  iso_link* ctl;
  iso_link* jobs[MAX_W];
  iso_link* ops[MAX_W];
  int ids[MAX_W];
  int n;
  int pid;
  pthread_mutex_t m;
  /* what came, under m */
  int alive, ctl_gone, bad;
  int ready[MAX_W], ready_rc[MAX_W], stopped[MAX_W];
  int ready_seccomp[MAX_W]; /* the process's Seccomp: as READY came */
  int ndone, done_status, done_code;
  char done_reply[1024];
  int nops;
  uint32_t op_promise, op_realm, op_tag;
  int exited;
  pool_super_exit ex;
  uint32_t gen; /* of the last TASK: slot 0's, a new one each time */
} front;

static front F = {.m = PTHREAD_MUTEX_INITIALIZER};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_exit_cb(pool_super* s, const pool_super_exit* e, void* arg) {
  pthread_mutex_lock(&F.m);
  F.exited++;
  F.ex = *e;
  pthread_mutex_unlock(&F.m);
}

static void ctl_msg_cb(const uint8_t* data, size_t len, void* arg) {
  iso_link_rd rd;
  iso_link_rec r;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_GROUP_CTL, data, len, err, sizeof err);
  pthread_mutex_lock(&F.m);
  while (rc == 0 && (rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    F.alive += r.kind == ISO_LINK_ALIVE;
    rc = 0;
  }
  F.bad += rc < 0;
  pthread_mutex_unlock(&F.m);
}

static void ctl_event_cb(iso_link* link, iso_link_event ev, void* arg) {
  pthread_mutex_lock(&F.m);
  F.ctl_gone += ev == ISO_LINK_PEER_GONE;
  pthread_mutex_unlock(&F.m);
}

static void jobs_msg_cb(const uint8_t* data, size_t len, void* arg) {
  int w = (int)(intptr_t)arg;
  iso_link_rd rd;
  iso_link_rec r;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_WORKER_JOBS, data, len, err, sizeof err);
  pthread_mutex_lock(&F.m);
  while (rc == 0 && (rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    rc = 0;
    if (r.kind == ISO_LINK_READY) {
      F.ready_seccomp[w] = (int)procfs_status_field(F.pid, "Seccomp");
      F.ready[w] = 1;
      F.ready_rc[w] = (int)r.u.ready.rc;
    } else if (r.kind == ISO_LINK_STATE &&
               r.u.state.state == ISO_LINK_W_STOPPED) {
      F.stopped[w] = 1;
    } else if (r.kind == ISO_LINK_DONE) {
      F.ndone++;
      F.done_status = (int)r.u.done.status;
      F.done_code = (int)r.u.done.code;
      size_t n = r.u.done.reply.len < sizeof F.done_reply - 1
                     ? r.u.done.reply.len
                     : sizeof F.done_reply - 1;
      memcpy(F.done_reply, r.u.done.reply.data, n);
      F.done_reply[n] = '\0'; /* msgpack: its strings are searchable */
      for (size_t i = 0; i < n; i++) {
        F.done_reply[i] = F.done_reply[i] ? F.done_reply[i] : ' ';
      }
    }
  }
  F.bad += rc < 0;
  pthread_mutex_unlock(&F.m);
}

static void ops_msg_cb(const uint8_t* data, size_t len, void* arg) {
  iso_link_rd rd;
  iso_link_rec r;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_WORKER_OPS, data, len, err, sizeof err);
  pthread_mutex_lock(&F.m);
  while (rc == 0 && (rc = iso_link_rd_next(&rd, &r, err, sizeof err)) == 1) {
    rc = 0;
    F.nops++;
    F.op_promise = r.u.op.promise;
    F.op_realm = r.u.op.realm;
    F.op_tag = r.u.op.tag;
  }
  F.bad += rc < 0;
  pthread_mutex_unlock(&F.m);
}

/* Reads one int of F under its lock. */
static int get(const int* field) {
  pthread_mutex_lock(&F.m);
  int v = *field;
  pthread_mutex_unlock(&F.m);
  return v;
}

/* Waits until *field >= want, or ms (scaled) passed; returns *field. */
static int wait_for(const int* field, int want, int ms) {
  int64_t end = now_ms() + (int64_t)(ms * iso_test_scale());
  int v;
  while ((v = get(field)) < want && now_ms() < end) {
    sleep_ms(5);
  }
  return v;
}

static void* hub_main(void* arg) {
  (void)arg;
  struct pollfd p = {.fd = iso_link_hub_fd(F.hub), .events = POLLIN};
  while (!__atomic_load_n(&F.hub_stop, __ATOMIC_SEQ_CST)) {
    poll(&p, 1, 10);
    iso_link_hub_run(F.hub);
  }
  return NULL;
}

typedef enum link_kind { K_CTL, K_JOBS, K_OPS } link_kind;

/* One link: the front's end on the suite's hub, the other in *peer. */
static int open_link(link_kind kind,
                     int w,
                     iso_link_msg_cb cb,
                     iso_link** out,
                     int* peer) {
  int fds[2];
  CHECK_EQ(iso_link_socketpair(fds, NULL, 0), 0);
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  size_t max = kind == K_CTL    ? POOL_CTL_MAX_MSG
               : kind == K_JOBS ? POOL_LINK_MAX(MAX_MESSAGE)
                                : POOL_OPS_LINK_MAX;
  iso_link_opts o = {
      .fd = fds[0],
      .max_recv = max,
      .max_send = max,
      .head = head,
      .head_len = hl,
      .hub = F.hub,
      .msg_cb = cb,
      .event_cb = kind == K_CTL ? ctl_event_cb : NULL,
      .arg = (void*)(intptr_t)w,
  };
  char err[256] = "";
  int rc = iso_link_new(&o, out, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "  %s\n", err);
  }
  CHECK_EQ(rc, 0);
  *peer = fds[1];
  return rc;
}

/* The process's command line for F, as the front writes it. */
static pool_proc_args args_of(void) {
  pool_proc_args a = {
      .ctl_fd = F.ctl_peer,
      .njobs_fds = F.n,
      .nops_fds = F.n,
      .proc = 1,
      .gen = 0,
      .nworkers = F.n,
      .modules = F.mods,
      .heap_mb = 64,
      .process_max_mb = 1024,
      .max_message = MAX_MESSAGE,
      .nslots = 4,
      .nperms = 8,
      .log_level = "debug",
      .log_format = "text",
      .probe_fd = -1,
  };
  memcpy(a.workers, F.ids, sizeof F.ids);
  memcpy(a.jobs_fds, F.jobs_peer, sizeof F.jobs_peer);
  memcpy(a.ops_fds, F.ops_peer, sizeof F.ops_peer);
  return a;
}

/* The front's files: the module root, its log (this case's stderr from
 * now on), for n workers (numbered 7, 8: the front's numbers, not the
 * process's). No thread yet. */
static void front_files(int n) {
  snprintf(F.mods, sizeof F.mods, "/tmp/isopool-mods-XXXXXX");
  CHECK(mkdtemp(F.mods) != NULL);
  snprintf(F.log, sizeof F.log, "/tmp/isopool-proc-log-XXXXXX");
  int fd = mkstemp(F.log);
  CHECK(fd >= 0);
  /* the process logs to the front's stderr: this case's, into F.log */
  fflush(stderr);
  F.saved_stderr = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
  F.n = n;
  for (int i = 0; i < n; i++) {
    F.ids[i] = 7 + i;
  }
}

/* The front's links and its supervisor; no process yet. */
static void front_listen(void) {
  int n = F.n;
  CHECK_EQ(iso_link_hub_new(&F.hub), 0);
  F.hub_stop = 0;
  pthread_mutex_lock(&F.m); /* a case may open a front more than once */
  F.exited = F.alive = F.ctl_gone = 0;
  pthread_mutex_unlock(&F.m);
  CHECK_EQ(pthread_create(&F.hub_thread, NULL, hub_main, NULL), 0);
  open_link(K_CTL, -1, ctl_msg_cb, &F.ctl, &F.ctl_peer);
  for (int i = 0; i < n; i++) {
    open_link(K_JOBS, i, jobs_msg_cb, &F.jobs[i], &F.jobs_peer[i]);
    open_link(K_OPS, i, ops_msg_cb, &F.ops[i], &F.ops_peer[i]);
  }
  pool_super_opts so = {.log = pool__logger_of("debug", "text"),
                        .exit_cb = on_exit_cb};
  CHECK_EQ(pool__super_new(&so, &F.s), 0);
}

static void front_open(int n) {
  front_files(n);
  front_listen();
}

/* Closes the suite's copies of the process's ends (after its spawn). */
static void close_peers(void) {
  int* fds[1 + 2 * MAX_W] = {&F.ctl_peer};
  int n = 1;
  for (int i = 0; i < F.n; i++) {
    fds[n++] = &F.jobs_peer[i];
    fds[n++] = &F.ops_peer[i];
  }
  for (int i = 0; i < n; i++) {
    if (*fds[i] >= 0) {
      close(*fds[i]);
      *fds[i] = -1;
    }
  }
}

/* What the front keeps of its environment for a pool process besides
 * what a case gives (procs.c's kEnvKeep): the sanitizers' options, so a
 * report under the TSan tree's suppressions is one of ours. */
static const char* const kKeep[] = {"ASAN_OPTIONS", "LSAN_OPTIONS",
                                    "UBSAN_OPTIONS", "TSAN_OPTIONS", NULL};

#if defined(__SANITIZE_THREAD__)
enum { DATA_BOUNDED = 0 }; /* sandbox.c: no RLIMIT_DATA under TSan */
#else
enum { DATA_BOUNDED = 1 };
#endif

/* Spawns the pool process with argv and env, giving it the links' ends
 * and `fds` besides; then closes the suite's copies of the links' ends,
 * as the front does. */
static int spawn_argv(const char* const* argv,
                      const char* const* env,
                      const int* fds,
                      int nfds) {
  int given[1 + 2 * MAX_W + 4];
  int n = 0;
  given[n++] = F.ctl_peer;
  for (int i = 0; i < F.n; i++) {
    given[n++] = F.jobs_peer[i];
    given[n++] = F.ops_peer[i];
  }
  for (int i = 0; i < nfds && n < (int)(sizeof given / sizeof *given); i++) {
    given[n++] = fds[i];
  }
  pool_super_spawn sp = {
      .path = ISOPOOL,
      .argv = argv,
      .keep = kKeep,
      .env = env,
      .fds = given,
      .nfds = n,
  };
  int rc = pool__super_spawn(F.s, &sp, &F.pid);
  close_peers();
  CHECK_EQ(rc, 0);
  return rc;
}

/* Spawns the pool process with a (its command line) and env. */
static int front_spawn(const pool_proc_args* a,
                       const char* const* env,
                       const int* fds,
                       int nfds) {
  char** argv = NULL;
  char err[256] = "";
  CHECK_EQ(pool__proc_argv_new(a, &argv, err, sizeof err), 0);
  int rc = spawn_argv((const char* const*)argv, env, fds, nfds);
  pool__proc_argv_free(argv);
  return rc;
}

/* Waits for ALIVE and every worker's READY. */
static void wait_started(void) {
  CHECK(wait_for(&F.alive, 1, 10000) >= 1);
  for (int i = 0; i < F.n; i++) {
    CHECK_EQ(wait_for(&F.ready[i], 1, 10000), 1);
    CHECK_EQ(get(&F.ready_rc[i]), 0);
    CHECK_EQ(get(&F.ready_seccomp[i]), 2); /* no job before the seal */
  }
}

/* The process's log so far (the case's stderr); a static buffer. */
static const char* log_text(void) {
  static char buf[16384];
  fflush(stderr);
  int fd = open(F.log, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  buf[n > 0 ? n : 0] = '\0';
  if (fd >= 0) {
    close(fd);
  }
  return buf;
}

/* Removes the front's files, shows the log on a failure. */
static void front_files_close(void) {
  const char* text = log_text();
  fflush(stderr);
  dup2(F.saved_stderr, STDERR_FILENO);
  close(F.saved_stderr);
  if (iso_test_failed) {
    fprintf(stderr, "  the log:\n%s\n", text);
  }
  unlink(F.log);
  rmdir(F.mods);
}

/* Kills what is left, frees the front and its files. */
static void front_close(void) {
  pool__super_free(F.s); /* kills the process if it still runs */
  iso_link_free(F.ctl);
  F.ctl = NULL;
  for (int i = 0; i < F.n; i++) {
    iso_link_free(F.jobs[i]);
    iso_link_free(F.ops[i]);
    F.jobs[i] = F.ops[i] = NULL;
  }
  close_peers(); /* a case that never spawned */
  __atomic_store_n(&F.hub_stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(F.hub_thread, NULL);
  iso_link_hub_free(F.hub);
  F.hub = NULL;
  front_files_close();
}

/* The soft "Max data size" of /proc/PID/limits in bytes, or -1. */
static long long data_limit(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/limits", pid);
  FILE* f = fopen(path, "r");
  long long v = -1;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "Max data size", 13) == 0) {
      v = strtoll(line + 13, NULL, 10);
      break;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  return v;
}

static int kernel_landlock_abi(void) {
  long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL);
  return v > 0 ? (int)v : 0;
}

/* ---- the cases ---- */

static void t_alive_and_sandboxed(void) {
  front_open(2);
  pool_proc_args a = args_of();
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  CHECK_EQ(procfs_status_field(F.pid, "NoNewPrivs"), 1);
  CHECK_EQ(procfs_status_field(F.pid, "Seccomp"), 2);
  CHECK_EQ(data_limit(F.pid), DATA_BOUNDED ? 1024LL << 20 : 0);
  /* it keeps saying ALIVE (every POOL_ALIVE_MS) */
  int alive = get(&F.alive);
  CHECK(wait_for(&F.alive, alive + 2, 2000) >= alive + 2);
  const char* log = log_text();
  CHECK_CONTAINS(log, "pool process 1.0");
  CHECK_CONTAINS(log, "2 workers, sandboxed: ");
  CHECK_CONTAINS(log, "no_new_privs");
  CHECK_CONTAINS(log, "seccomp: ");
  CHECK_EQ(get(&F.bad), 0);
  CHECK_EQ(get(&F.exited), 0);
  front_close();
}

static void t_sandbox_probe(void) {
  front_open(1);
  int p[2];
  CHECK_EQ(pipe(p), 0);
  pool_proc_args a = args_of();
  a.probe_fd = p[1];
  const char* env[] = {"ISOPOOL_TEST_FAULTS=1", NULL};
  front_spawn(&a, env, &p[1], 1);
  close(p[1]);
  char line[256] = "";
  ssize_t n = 0, got;
  while (n < (ssize_t)sizeof line - 1 &&
         (got = read(p[0], line + n, sizeof line - 1 - (size_t)n)) > 0) {
    n += got; /* until the process closes it */
  }
  line[n > 0 ? n : 0] = '\0';
  close(p[0]);
  char want[256];
  int denied = kernel_landlock_abi() > 0 ? EACCES : 0;
  snprintf(want, sizeof want, "root=0 outside=%d parent=%d socket=%d\n", denied,
           denied, EPERM);
  CHECK_STR(line, want);
  wait_started(); /* and it goes on */
  front_close();
}

/* Sends one TASK (an eval of source, due in ms) to worker w; returns its
 * deadline. */
static uint64_t send_task_due(int w,
                              const char* source,
                              const char* env_name,
                              uint32_t ms) {
  iso_buf perms;
  iso_buf_init(&perms);
  iso_str items[1] = {iso_str_of(env_name)};
  iso_perm_req req = {.present = 1};
  if (env_name != NULL) {
    req.env = (iso_perm_list){.ask = ISO_PERM_ASK_LIST, .n = 1, .items = items};
  }
  CHECK_EQ(iso_link_put_perms(&perms, &req), 0);
  static const uint8_t kNoArgs[] = {0x90};
  uint64_t now = mono_ns();
  iso_link_rec r = {
      .kind = ISO_LINK_TASK,
      .u.task = {.slot = 0,
                 .gen = ++F.gen,
                 .kind = ISO_JOB_EVAL,
                 .source = iso_str_of(source),
                 .args = {kNoArgs, sizeof kNoArgs},
                 .deadline_ns = now + ms * 1000000ull,
                 .sid = 1,
                 .perm_id = POOL_PERM_ID(0, 1),
                 .perms = {perms.data, perms.len},
                 .received_ns = now,
                 .timeout_ms = ms},
  };
  CHECK_EQ(iso_link_send_rec(F.jobs[w], &r), 0);
  iso_buf_close(&perms);
  return r.u.task.deadline_ns;
}

static void send_task(int w, const char* source, const char* env_name) {
  send_task_due(w, source, env_name, 20000);
}

static void t_job(void) {
  front_open(1);
  pool_proc_args a = args_of();
  const char* env[] = {"ISO_T_PROC=from-the-front", NULL};
  front_spawn(&a, env, NULL, 0);
  wait_started();
  send_task(0,
            "import { get } from 'isopool:env';\n"
            "export default 'pp:' + get('ISO_T_PROC') + ':' + (40 + 2);\n",
            "ISO_T_PROC");
  CHECK_EQ(wait_for(&F.ndone, 1, 10000), 1);
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.done_status, ISO_STATUS_FULFILLED);
  CHECK_CONTAINS(F.done_reply, "pp:from-the-front:42");
  pthread_mutex_unlock(&F.m);
  CHECK_EQ(get(&F.bad), 0);
  front_close();
}

static void t_async_op(void) {
  front_open(1);
  pool_proc_args a = args_of();
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  /* isopool:kv runs in the front: here, the suite answers the OP */
  send_task(0,
            "import * as kv from 'isopool:kv';\n"
            "export default 'kv:' + (await kv.get('k'));\n",
            NULL);
  CHECK_EQ(wait_for(&F.nops, 1, 10000), 1);
  CHECK_EQ(get(&F.ndone), 0);
  static const uint8_t kValue[] = {0xa3, 'v', 'a', 'l'}; /* "val" */
  pthread_mutex_lock(&F.m);
  iso_link_rec r = {
      .kind = ISO_LINK_OP_RESULT,
      .u.op_result = {.promise = F.op_promise,
                      .realm = F.op_realm,
                      .tag = F.op_tag,
                      .result = {kValue, sizeof kValue}},
  };
  pthread_mutex_unlock(&F.m);
  CHECK_EQ(iso_link_send_rec(F.ops[0], &r), 0);
  CHECK_EQ(wait_for(&F.ndone, 1, 10000), 1);
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.done_status, ISO_STATUS_FULFILLED);
  CHECK_CONTAINS(F.done_reply, "kv:val");
  pthread_mutex_unlock(&F.m);
  front_close();
}

/* The process's own watchdog (its group's) stops JavaScript past its
 * deadline, under the filter, and the worker answers timeout. */
static void t_deadline(void) {
  front_open(1);
  pool_proc_args a = args_of();
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  int64_t t0 = now_ms();
  send_task_due(0, "while (true) {}", NULL, 300);
  CHECK_EQ(wait_for(&F.ndone, 1, 10000), 1);
  CHECK(now_ms() - t0 >= 250);
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.done_status, ISO_STATUS_ERROR);
  CHECK_EQ(F.done_code, ISO_CODE_TIMEOUT);
  pthread_mutex_unlock(&F.m);
  /* the worker goes on */
  send_task(0, "export default 'after:' + 1;", NULL);
  CHECK_EQ(wait_for(&F.ndone, 2, 10000), 2);
  pthread_mutex_lock(&F.m);
  CHECK_CONTAINS(F.done_reply, "after:1");
  pthread_mutex_unlock(&F.m);
  CHECK_EQ(get(&F.exited), 0);
  front_close();
}

/* A cancel, as the front sends it: CANCEL on the jobs link (which the
 * worker, busy in JavaScript, cannot read yet) and HALT with the job's
 * deadline on the control link, which the process's watchdog acts on:
 * the JavaScript stops long before its deadline and the job comes back. */
static void t_cancel_halt(void) {
  front_open(1);
  pool_proc_args a = args_of();
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  uint64_t deadline = send_task_due(0, "while (true) {}", NULL, 60000);
  sleep_ms(200); /* it runs */
  CHECK_EQ(get(&F.ndone), 0);
  iso_link_rec cancel = {.kind = ISO_LINK_CANCEL,
                         .u.cancel = {.slot = 0, .gen = F.gen}};
  CHECK_EQ(iso_link_send_rec(F.jobs[0], &cancel), 0);
  iso_link_rec halt = {
      .kind = ISO_LINK_HALT,
      .u.halt = {.worker = (uint32_t)F.ids[0], .deadline_ns = deadline}};
  CHECK_EQ(iso_link_send_rec(F.ctl, &halt), 0);
  CHECK_EQ(wait_for(&F.ndone, 1, 5000), 1);
  pthread_mutex_lock(&F.m);
  /* given back, or answered by the worker (its timeout, as it reads the
   * stop before the CANCEL): the front's claim keeps the cancel's */
  CHECK(F.done_status == ISO_STATUS_NONE ||
        (F.done_status == ISO_STATUS_ERROR && F.done_code == ISO_CODE_TIMEOUT));
  pthread_mutex_unlock(&F.m);
  /* the worker goes on */
  send_task(0, "export default 'after:' + 2;", NULL);
  CHECK_EQ(wait_for(&F.ndone, 2, 10000), 2);
  pthread_mutex_lock(&F.m);
  CHECK_CONTAINS(F.done_reply, "after:2");
  pthread_mutex_unlock(&F.m);
  CHECK_EQ(get(&F.exited), 0);
  front_close();
}

/* --process-max-mb is the process's RLIMIT_DATA. A job whose ArrayBuffers
 * stay within its isolate's bound (their cap is the heap's, 200 MiB here)
 * but not within the process's (the runtime's own data, some tens of
 * MiB, and 180 more do not fit in 201) gets them without the bound; with
 * it the
 * allocation fails, which V8 turns into a RangeError or, depending on
 * where it fails, into the end of the process (a fatal error: SIGTRAP or
 * SIGABRT, sandbox/README.md "Memory"): that process only, which the
 * front answers worker_lost. */
static void memory_job(size_t max_mb, int* got, int* refused, int* died) {
  front_open(1);
  pool_proc_args a = args_of();
  a.heap_mb = 200;
  a.process_max_mb = max_mb;
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  send_task(
      0,
      "const kept = [];\n"
      "let r;\n"
      "try {\n"
      "  for (let i = 0; i < 4; i++) kept.push(new ArrayBuffer(45 << 20));\n"
      "  r = 'got:' + kept.length;\n"
      "} catch (e) { r = 'refused:' + e.name; }\n"
      "export default r;\n",
      NULL);
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  while (get(&F.ndone) == 0 && get(&F.exited) == 0 && now_ms() < end) {
    sleep_ms(5);
  }
  pthread_mutex_lock(&F.m);
  *got = F.ndone == 1 && F.done_status == ISO_STATUS_FULFILLED &&
         strstr(F.done_reply, "got:4") != NULL;
  *refused = F.ndone == 1 && F.done_status == ISO_STATUS_FULFILLED &&
             strstr(F.done_reply, "refused:RangeError") != NULL;
  *died = F.ndone == 0 && F.exited == 1 &&
          (F.ex.signal == SIGTRAP || F.ex.signal == SIGABRT);
  pthread_mutex_unlock(&F.m);
  front_close();
}

static void t_memory_unbounded(void) {
  int got, refused, died;
  memory_job(0, &got, &refused, &died);
  CHECK(got);
}

static void t_memory_limit(void) {
  if (!DATA_BOUNDED) {
    fprintf(stderr, "    not under ThreadSanitizer: no data bound there\n");
    return;
  }
  int got, refused, died;
  memory_job(201, &got, &refused, &died);
  CHECK(refused || died);
}

static void t_stop(void) {
  front_open(2);
  pool_proc_args a = args_of();
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  iso_link_rec stop = {.kind = ISO_LINK_STOP};
  for (int i = 0; i < F.n; i++) {
    CHECK_EQ(iso_link_send_rec(F.jobs[i], &stop), 0);
  }
  for (int i = 0; i < F.n; i++) {
    CHECK_EQ(wait_for(&F.stopped[i], 1, 5000), 1);
  }
  CHECK_EQ(wait_for(&F.exited, 1, 5000), 1);
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.ex.pid, F.pid);
  CHECK_EQ(F.ex.status, 0);
  CHECK_EQ(F.ex.signal, 0);
  pthread_mutex_unlock(&F.m);
  CHECK_EQ(get(&F.ctl_gone), 1); /* it closed its end as it went */
  front_close();
}

static void t_front_closes(void) {
  front_open(1);
  pool_proc_args a = args_of();
  front_spawn(&a, NULL, NULL, 0);
  wait_started();
  int64_t t0 = now_ms();
  iso_link_free(F.ctl); /* its jobs and ops links stay */
  F.ctl = NULL;
  CHECK_EQ(wait_for(&F.exited, 1, 5000), 1);
  int64_t took = now_ms() - t0;
  /* POOL_PROC_STOP_MS for its worker, which had no STOP, and the rest */
  CHECK(took < (int64_t)((POOL_PROC_STOP_MS + 1500) * iso_test_scale()));
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.ex.status, 0);
  CHECK_EQ(F.ex.signal, 0);
  pthread_mutex_unlock(&F.m);
  CHECK_CONTAINS(log_text(), "the front went");
  front_close();
}

static void t_front_killed(void) {
  /* the pool process is reparented to this process, which can then wait */
  CHECK_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int p[2];
  CHECK_EQ(pipe(p), 0);
  front_files(1); /* here: this process removes them */
  pid_t fr = fork();
  if (fr == 0) {
    close(p[0]);
    front_listen();
    pool_proc_args a = args_of();
    front_spawn(&a, NULL, NULL, 0);
    wait_started();
    int ok = !iso_test_failed;
    if (write(p[1], &F.pid, sizeof F.pid) != (ssize_t)sizeof F.pid || !ok) {
      _exit(1);
    }
    pause();
    _exit(0);
  }
  close(p[1]);
  int child = 0;
  CHECK_EQ(read(p[0], &child, sizeof child), (ssize_t)sizeof child);
  close(p[0]);
  CHECK(child > 0);
  if (child <= 0) {
    kill(fr, SIGKILL);
    waitpid(fr, NULL, 0);
    front_files_close();
    return;
  }
  CHECK_EQ(procfs_status_field(child, "Seccomp"), 2);
  CHECK_EQ(kill(fr, SIGKILL), 0);
  int st = 0;
  CHECK_EQ(waitpid(fr, &st, 0), fr);
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  int rc = 0;
  while ((rc = waitpid(child, &st, WNOHANG)) == 0 && now_ms() < end) {
    sleep_ms(10);
  }
  CHECK_EQ(rc, child);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  front_files_close();
}

static void t_bad_command_line(void) {
  front_open(1);
  pool_proc_args a = args_of();
  char** argv = NULL;
  char err[256];
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), 0);
  /* its last value replaced by what no front writes */
  int n = 0;
  while (argv[n] != NULL) {
    n++;
  }
  const char* bad[64];
  memcpy(bad, argv, (size_t)n * sizeof *bad);
  bad[n] = "--heap-mb";
  bad[n + 1] = "lots";
  bad[n + 2] = NULL;
  spawn_argv(bad, NULL, NULL, 0);
  pool__proc_argv_free(argv);
  CHECK_EQ(wait_for(&F.exited, 1, 10000), 1);
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.ex.status, POOL_PROC_EXIT_USAGE);
  pthread_mutex_unlock(&F.m);
  CHECK_CONTAINS(log_text(), "isopool pool-process: --heap-mb given twice");
  CHECK_EQ(get(&F.alive), 0); /* it started nothing */
  front_close();
  /* a worker's links' descriptors, but not one of each per worker */
  front_open(2);
  a = args_of();
  a.njobs_fds = 1;
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  a.njobs_fds = 2;
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), 0);
  for (int i = 0; argv[i] != NULL; i++) {
    if (strcmp(argv[i], "--ops-fds") == 0) {
      char one[16];
      snprintf(one, sizeof one, "%d", F.ops_peer[0]);
      free(argv[i + 1]);
      argv[i + 1] = strdup(one);
    }
  }
  spawn_argv((const char* const*)argv, NULL, NULL, 0);
  pool__proc_argv_free(argv);
  CHECK_EQ(wait_for(&F.exited, 1, 10000), 1);
  pthread_mutex_lock(&F.m);
  CHECK_EQ(F.ex.status, POOL_PROC_EXIT_USAGE);
  pthread_mutex_unlock(&F.m);
  CHECK_CONTAINS(log_text(),
                 "one descriptor per worker each (2 workers; 2 "
                 "and 1 descriptors)");
  CHECK_EQ(get(&F.alive), 0);
  front_close();
  /* without a supervisor (a person running it) */
  const char* by_hand[] = {ISOPOOL, POOL_PROC_CMD, "--proc", "1", NULL};
  proc_result r;
  CHECK_EQ(proc_run(NULL, by_hand, 30, &r), 0);
  CHECK_EQ(r.status, POOL_PROC_EXIT_USAGE);
  CHECK_CONTAINS(r.err, "an internal command");
  proc_result_free(&r);
}

/* A link's descriptor replaced by what is no link socket: the process
 * refuses to start, naming it. */
static void t_bad_link_fds(void) {
  for (int k = 0; k < 2; k++) {
    front_open(1);
    int bad[2];
    if (k == 0) {
      CHECK_EQ(pipe2(bad, O_CLOEXEC), 0);
    } else {
      CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, bad), 0);
    }
    close(F.jobs_peer[0]); /* the link's end is not given: this instead */
    F.jobs_peer[0] = bad[0];
    pool_proc_args a = args_of();
    front_spawn(&a, NULL, NULL, 0);
    close(bad[1]);
    CHECK_EQ(wait_for(&F.exited, 1, 10000), 1);
    pthread_mutex_lock(&F.m);
    CHECK_EQ(F.ex.status, POOL_PROC_EXIT_USAGE);
    pthread_mutex_unlock(&F.m);
    char want[96];
    snprintf(want, sizeof want, "descriptor %d is not %s", a.jobs_fds[0],
             k == 0 ? "a socket" : "an AF_UNIX stream socket");
    CHECK_CONTAINS(log_text(), want);
    CHECK_EQ(get(&F.alive), 0);
    front_close();
  }
}

static const iso_test cases[] = {
    {"alive_and_sandboxed", t_alive_and_sandboxed},
    {"sandbox_probe", t_sandbox_probe},
    {"job", t_job},
    {"async_op", t_async_op},
    {"deadline", t_deadline},
    {"cancel_halt", t_cancel_halt},
    {"memory_unbounded", t_memory_unbounded},
    {"memory_limit", t_memory_limit},
    {"stop", t_stop},
    {"front_closes", t_front_closes},
    {"front_killed", t_front_killed},
    {"bad_command_line", t_bad_command_line},
    {"bad_link_fds", t_bad_link_fds},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
