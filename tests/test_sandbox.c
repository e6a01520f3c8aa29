/* test_sandbox.c: the pool process's sandbox (sandbox/iso_sandbox.h).
 *
 * A sandbox cannot be left, so no case applies it to its own process:
 * each forks a child (in_child) that sandboxes itself the way a pool
 * process will (iso_sandbox_enter first, then V8, libuv and NNG start
 * their threads, then iso_sandbox_seal) and does its part; the case
 * watches it from outside: its exit status, the signal that ended it,
 * what it wrote to stderr. That way ISO_TEST_NOFORK runs work too.
 *
 * What must still work under the filter: a real runtime with V8's
 * platform threads (big allocations and GC, Wasm compiled and trapping,
 * timers, static and dynamic imports read on libuv's thread pool, async
 * ops over the runtime's libuv transport, Atomics, promises), the link
 * (ipc/iso_link.h) on an inherited socketpair end, as a pool process
 * holds its links, and NNG on a connected ipc:// pair. What must not: the rows
 * of kHostile and the refusals of t_refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iso_err.h"
#include "iso_link.h"
#include "iso_sandbox.h"
#include "rt_harness.h"
#include "tap.h"

/* ---- a sandboxed child, watched from outside ---- */

/* /proc/self/status, opened by the child before it sandboxes itself:
 * Landlock leaves it unreadable by path afterwards, and a read from
 * offset 0 gives its current text. */
static int status_fd = -1;

typedef struct child {
  pid_t pid;
  int err_fd;
  char err_path[64];
  int status; /* waitpid's */
  char err[8192];
} child;

/* child_start: runs body(arg) in a forked child whose stderr is captured
 * for c->err. The child exits 0, or 98 when a CHECK failed in it, with
 * _exit: a sandboxed process cannot run the leak check's ptrace
 * (sandbox/README.md, ASan). child_wait: waits for it and fills c->err
 * (echoed, for the log). in_child: both. */
static void child_start(void (*body)(void*), void* arg, child* c) {
  memset(c, 0, sizeof *c);
  snprintf(c->err_path, sizeof c->err_path, "/tmp/isopool-sandbox-err-XXXXXX");
  c->err_fd = mkstemp(c->err_path);
  CHECK(c->err_fd >= 0);
  fflush(NULL);
  c->pid = fork();
  if (c->pid == 0) {
    dup2(c->err_fd, STDERR_FILENO);
    status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    iso_test_failed = 0;
    body(arg);
    fflush(NULL);
    _exit(iso_test_failed ? 98 : 0);
  }
  CHECK(c->pid > 0);
}

static void child_wait(child* c) {
  CHECK_EQ(waitpid(c->pid, &c->status, 0), c->pid);
  ssize_t n = pread(c->err_fd, c->err, sizeof c->err - 1, 0);
  c->err[n > 0 ? n : 0] = '\0';
  close(c->err_fd);
  unlink(c->err_path);
  if (c->err[0] != '\0') {
    fprintf(stderr, "  [child stderr]\n%s  [end]\n", c->err);
  }
}

static void in_child(void (*body)(void*), void* arg, child* c) {
  child_start(body, arg, c);
  child_wait(c);
}

static int exited_ok(const child* c) {
  return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

static int killed_by(const child* c) {
  return WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0;
}

/* The field of /proc/self/status named `key` ("Seccomp"), as a number. */
static long proc_status(const char* key) {
  char text[4096];
  ssize_t n = pread(status_fd, text, sizeof text - 1, 0);
  if (n <= 0) {
    return -1;
  }
  text[n] = '\0';
  size_t klen = strlen(key);
  for (const char* line = text; line != NULL && *line != '\0';) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      return strtol(line + klen + 1, NULL, 10);
    }
    line = strchr(line, '\n');
    line = line != NULL ? line + 1 : NULL;
  }
  return -1;
}

/* The Landlock ABI of the running kernel (0: none), asked the way
 * landlock.c asks, so the cases know what to expect. */
static int kernel_landlock_abi(void) {
  long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL);
  return v > 0 ? (int)v : 0;
}

static void apply_or_fail(void) {
  iso_sandbox_report r = {0};
  int rc = iso_sandbox_apply(NULL, &r);
  if (rc != 0) {
    fprintf(stderr, "iso_sandbox_apply: %s\n", iso_strerror(rc));
    _exit(97);
  }
}

/* ---- the layers are on ---- */

static void report_body(void* arg) {
  (void)arg;
  iso_sandbox_report r = {0};
  const char* roots[] = {"/tmp", NULL};
  iso_sandbox_opts o = {.max_files = 200, .roots = roots};
  CHECK_EQ(iso_sandbox_enter(&o, &r), 0);
  CHECK_EQ(r.limits, 1);
  CHECK_EQ(r.max_files, 200);
  CHECK_EQ(r.no_new_privs, 1);
  int abi = kernel_landlock_abi();
  CHECK_EQ(r.landlock_abi, abi > 7 ? 7 : abi);
  if (abi > 0) {
    /* the root, and the runtime's paths this system has */
    CHECK(r.landlock_rules >= 2);
    CHECK(r.landlock_why == NULL);
  } else {
    CHECK_STR(r.landlock_why, "unavailable: the kernel has no Landlock");
  }
  CHECK_EQ(r.seccomp, 0);
  CHECK_EQ(proc_status("NoNewPrivs"), 1);
  CHECK_EQ(proc_status("Seccomp"), 0);
  CHECK_EQ(iso_sandbox_seal(&o, &r), 0);
  CHECK_EQ(r.seccomp, 1);
  CHECK(r.seccomp_rows > 100);
  CHECK(r.seccomp_why == NULL);
  CHECK_EQ(proc_status("Seccomp"), 2); /* filter mode */
  CHECK(proc_status("Seccomp_filters") >= 1);
  struct rlimit rl;
  CHECK_EQ(getrlimit(RLIMIT_CORE, &rl), 0);
  CHECK_EQ(rl.rlim_cur, 0);
  CHECK_EQ(rl.rlim_max, 0);
  CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  CHECK_EQ(rl.rlim_max, 200);
  char text[256];
  iso_sandbox_describe(&r, text, sizeof text);
  fprintf(stderr, "report: %s\n", text);
  CHECK_CONTAINS(text, "nofile=200 core=0; no_new_privs; landlock: ");
  CHECK_CONTAINS(text, "; seccomp: ");
  if (abi > 0) {
    char want[64];
    snprintf(want, sizeof want, "landlock: abi %d, ", abi > 7 ? 7 : abi);
    CHECK_CONTAINS(text, want);
  }
}

static void t_report(void) {
  child c;
  in_child(report_body, NULL, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "report: ");
}

/* Off: nothing installed, and the report says so. */
static void off_body(void* arg) {
  (void)arg;
  iso_sandbox_report r = {0};
  iso_sandbox_opts o = {.seccomp = ISO_SANDBOX_OFF,
                        .landlock = ISO_SANDBOX_OFF};
  CHECK_EQ(iso_sandbox_apply(&o, &r), 0);
  CHECK_EQ(r.seccomp, 0);
  CHECK_STR(r.seccomp_why, "off");
  CHECK_EQ(r.landlock_abi, 0);
  CHECK_STR(r.landlock_why, "off");
  CHECK_EQ(proc_status("Seccomp"), 0);
  CHECK_EQ(proc_status("NoNewPrivs"), 1);
}

static void t_off(void) {
  child c;
  in_child(off_body, NULL, &c);
  CHECK(exited_ok(&c));
}

/* ---- refused, with the process going on ---- */

static void refused_body(void* arg) {
  (void)arg;
  apply_or_fail();
  errno = 0;
  CHECK_EQ(socket(AF_INET, SOCK_STREAM, 0), -1);
  CHECK_EQ(errno, EPERM);
  errno = 0;
  CHECK_EQ(socket(AF_UNIX, SOCK_STREAM, 0), -1);
  CHECK_EQ(errno, EPERM);
  int sv[2];
  CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), -1);
  /* open for writing: refused whatever the path */
  errno = 0;
  CHECK_EQ(open("/tmp/isopool-sandbox-write", O_WRONLY | O_CREAT, 0600), -1);
  CHECK_EQ(errno, EACCES);
  errno = 0;
  CHECK_EQ(open("/dev/urandom", O_RDWR), -1);
  CHECK_EQ(errno, EACCES);
  errno = 0;
  CHECK_EQ(mkdir("/tmp/isopool-sandbox-dir", 0700), -1);
  CHECK_EQ(errno, EPERM);
  /* reading: Landlock's to restrict, beneath the roots and the runtime's
   * paths */
  int fd = open("/dev/urandom", O_RDONLY);
  CHECK(fd >= 0);
  close(fd);
  /* a limit can't be raised back */
  struct rlimit rl = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
  errno = 0;
  CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), -1);
  CHECK(errno == EPERM || errno == ENOSYS);
  /* fork (clone without CLONE_THREAD): no child */
  errno = 0;
  CHECK_EQ(fork(), -1);
  CHECK_EQ(errno, ENOSYS);
  /* clone3: ENOSYS, quietly (glibc falls back to clone) */
  errno = 0;
  CHECK_EQ(syscall(SYS_clone3, NULL, 0), -1);
  CHECK_EQ(errno, ENOSYS);
  /* a signal to another process (the parent) */
  errno = 0;
  CHECK_EQ(kill(getppid(), 0), -1);
  CHECK_EQ(errno, ENOSYS);
  /* itself: yes */
  CHECK_EQ(kill(getpid(), 0), 0);
  /* a syscall the list doesn't name: ENOSYS and one line in the log */
  errno = 0;
  CHECK_EQ(syscall(SYS_personality, 0xffffffffUL), -1);
  CHECK_EQ(errno, ENOSYS);
  CHECK_EQ(syscall(SYS_personality, 0xffffffffUL), -1);
  fprintf(stderr, "still here\n");
}

static void t_refused(void) {
  child c;
  in_child(refused_body, NULL, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "still here");
  CHECK_CONTAINS(c.err,
                 "isopool: sandbox: syscall personality (135) is not "
                 "allowed: it returns ENOSYS");
  CHECK_CONTAINS(c.err, "syscall clone (56) is not allowed");
  CHECK_CONTAINS(c.err, "syscall kill (62) is not allowed");
  /* once per syscall */
  const char* first = strstr(c.err, "syscall personality");
  CHECK(first != NULL && strstr(first + 1, "syscall personality") == NULL);
  /* quiet refusals are not logged */
  CHECK(strstr(c.err, "syscall socket") == NULL);
  CHECK(strstr(c.err, "syscall clone3") == NULL);
}

/* ---- hostile: the process ends at once ---- */

typedef struct hostile {
  const char* name;
  void (*call)(void);
} hostile;

static void call_execve(void) {
  char* argv[] = {"/bin/true", NULL};
  char* envp[] = {NULL};
  execve("/bin/true", argv, envp);
}
static void call_ptrace(void) {
  ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}
static void call_process_vm_readv(void) {
  char buf[8];
  struct iovec local = {buf, sizeof buf}, remote = {buf, sizeof buf};
  process_vm_readv(getppid(), &local, 1, &remote, 1, 0);
}
static void call_unshare(void) {
  unshare(0); /* harmless if it ran */
}
static void call_io_uring(void) {
  syscall(SYS_io_uring_setup, 1, NULL);
}
static void call_bpf(void) {
  syscall(SYS_bpf, 0, NULL, 0);
}
static void call_setuid(void) {
  syscall(SYS_setuid, 0);
}

static const hostile kHostile[] = {
    {"kill_execve", call_execve},
    {"kill_ptrace", call_ptrace},
    {"kill_process_vm_readv", call_process_vm_readv},
    {"kill_unshare", call_unshare},
    {"kill_io_uring_setup", call_io_uring},
    {"kill_bpf", call_bpf},
    {"kill_setuid", call_setuid},
};

static void hostile_body(void* arg) {
  const hostile* h = arg;
  apply_or_fail();
  h->call();
  fprintf(stderr, "survived %s\n", h->name);
}

static void run_hostile(const void* row) {
  child c;
  in_child(hostile_body, (void*)row, &c);
  CHECK_EQ(killed_by(&c), SIGSYS);
  CHECK(strstr(c.err, "survived") == NULL);
}

/* ---- Landlock: read-only beneath the roots ---- */

/* A module root with files, a directory and a symlink that leads out of
 * it, and a directory outside it. */
static char tree_root[64], tree_out[64];

static void path_in(char* buf, size_t len, const char* dir, const char* f) {
  snprintf(buf, len, "%s/%s", dir, f);
}

static void write_file(const char* dir, const char* name, const char* text) {
  char p[256];
  path_in(p, sizeof p, dir, name);
  FILE* f = fopen(p, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

static void make_tree(void) {
  snprintf(tree_root, sizeof tree_root, "/tmp/isopool-sandbox-root-XXXXXX");
  snprintf(tree_out, sizeof tree_out, "/tmp/isopool-sandbox-out-XXXXXX");
  CHECK(mkdtemp(tree_root) != NULL);
  CHECK(mkdtemp(tree_out) != NULL);
  char p[256], q[256];
  path_in(p, sizeof p, tree_root, "sub");
  CHECK_EQ(mkdir(p, 0755), 0);
  write_file(tree_root, "a.txt", "in the root\n");
  write_file(tree_root, "sub/b.txt", "beneath it\n");
  write_file(tree_out, "secret.txt", "outside\n");
  path_in(p, sizeof p, tree_out, "secret.txt");
  path_in(q, sizeof q, tree_root, "link_out");
  CHECK_EQ(symlink(p, q), 0);
}

static void remove_tree(void) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", tree_root, tree_out);
  CHECK_EQ(system(cmd), 0);
}

/* 0 when path opens with flags, else errno. */
static int open_errno(const char* dir, const char* name, int flags) {
  char p[256];
  path_in(p, sizeof p, dir, name);
  int fd = open(p, flags, 0600);
  if (fd < 0) {
    return errno;
  }
  close(fd);
  return 0;
}

/* 0 when rc is 0, else errno. */
static int err_of(int rc) {
  return rc == 0 ? 0 : errno;
}

static char abstract_name[64]; /* a listener of the case's, outside */

static void landlock_body(void* arg) {
  (void)arg;
  int abi = kernel_landlock_abi();
  const char* roots[] = {tree_root, NULL};
  /* the filter off: Landlock alone must answer */
  iso_sandbox_opts o = {.roots = roots,
                        .landlock = ISO_SANDBOX_REQUIRED,
                        .seccomp = ISO_SANDBOX_OFF};
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_apply(&o, &r), 0);
  CHECK_EQ(r.landlock_abi, abi > 7 ? 7 : abi);
  /* reading beneath the root */
  CHECK_EQ(open_errno(tree_root, "a.txt", O_RDONLY), 0);
  CHECK_EQ(open_errno(tree_root, "sub/b.txt", O_RDONLY), 0);
  CHECK_EQ(open_errno(tree_root, ".", O_RDONLY | O_DIRECTORY), 0);
  CHECK_EQ(open_errno(tree_root, "sub", O_RDONLY | O_DIRECTORY), 0);
  /* and the runtime's paths */
  CHECK_EQ(open_errno("/dev", "urandom", O_RDONLY), 0);
  CHECK_EQ(open_errno("/proc/self", "maps", O_RDONLY), 0);
  /* nothing else, not even through a symlink in the root */
  CHECK_EQ(open_errno(tree_out, "secret.txt", O_RDONLY), EACCES);
  CHECK_EQ(open_errno(tree_root, "link_out", O_RDONLY), EACCES);
  CHECK_EQ(open_errno("/etc", "passwd", O_RDONLY), EACCES);
  CHECK_EQ(open_errno("/", ".", O_RDONLY | O_DIRECTORY), EACCES);
  CHECK_EQ(open_errno("/proc/self", "status", O_RDONLY), EACCES);
  /* no change inside the root */
  char p[256], q[256];
  CHECK_EQ(open_errno(tree_root, "a.txt", O_WRONLY), EACCES);
  CHECK_EQ(open_errno(tree_root, "a.txt", O_RDWR), EACCES);
  CHECK_EQ(open_errno(tree_root, "new.txt", O_WRONLY | O_CREAT), EACCES);
  path_in(p, sizeof p, tree_root, "a.txt");
  path_in(q, sizeof q, tree_root, "moved.txt");
  CHECK_EQ(err_of(rename(p, q)), EACCES);
  CHECK_EQ(err_of(unlink(p)), EACCES);
  CHECK_EQ(err_of(link(p, q)), EACCES);
  CHECK_EQ(err_of(symlink(p, q)), EACCES);
  if (abi >= 3) {
    CHECK_EQ(err_of(truncate(p, 0)), EACCES);
  }
  path_in(p, sizeof p, tree_root, "newdir");
  CHECK_EQ(err_of(mkdir(p, 0700)), EACCES);
  path_in(p, sizeof p, tree_root, "sub");
  CHECK_EQ(err_of(rmdir(p)), EACCES);
  /* the network (ABI 4) and other processes (ABI 6) */
  if (abi >= 4) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(9),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(err_of(connect(s, (struct sockaddr*)&sin, sizeof sin)), EACCES);
    sin.sin_port = 0;
    CHECK_EQ(err_of(bind(s, (struct sockaddr*)&sin, sizeof sin)), EACCES);
    close(s);
  }
  if (abi >= 6) {
    CHECK_EQ(err_of(kill(getppid(), 0)), EPERM);
    CHECK_EQ(kill(getpid(), 0), 0);
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path + 1, abstract_name, strlen(abstract_name));
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(abstract_name));
    CHECK_EQ(err_of(connect(u, (struct sockaddr*)&sun, len)), EPERM);
    close(u);
  }
  fprintf(stderr, "landlock done\n");
}

static void t_landlock(void) {
  if (kernel_landlock_abi() == 0) {
    fprintf(stderr, "  skipped: this kernel has no Landlock\n");
    return;
  }
  make_tree();
  /* a listener on an abstract UNIX name, outside the child's domain */
  snprintf(abstract_name, sizeof abstract_name, "isopool-sandbox-%d",
           (int)getpid());
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  memcpy(sun.sun_path + 1, abstract_name, strlen(abstract_name));
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                              strlen(abstract_name));
  CHECK_EQ(bind(l, (struct sockaddr*)&sun, len), 0);
  CHECK_EQ(listen(l, 4), 0);
  child c;
  in_child(landlock_body, NULL, &c);
  close(l);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "landlock done");
  /* the root as it was */
  CHECK_EQ(open_errno(tree_root, "a.txt", O_RDONLY), 0);
  CHECK_EQ(open_errno(tree_root, "moved.txt", O_RDONLY), ENOENT);
  CHECK_EQ(open_errno(tree_root, "new.txt", O_RDONLY), ENOENT);
  remove_tree();
}

/* Landlock would miss threads already running: enter refuses. */
static _Atomic int sleeper_tid;

static void* sleeper(void* arg) {
  (void)arg;
  sleeper_tid = (int)gettid();
  sleep(30);
  return NULL;
}

/* The field `key` of a status file opened by path. */
static long status_of(const char* path, const char* key) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    return -1;
  }
  int saved = status_fd;
  status_fd = fd;
  long v = proc_status(key);
  status_fd = saved;
  close(fd);
  return v;
}

static void threads_body(void* arg) {
  (void)arg;
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, sleeper, NULL), 0);
  const char* roots[] = {"/tmp", NULL};
  iso_sandbox_opts o = {.roots = roots};
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_enter(&o, &r), ISO_EBUSY);
  CHECK_STR(r.landlock_why, "the process has other threads");
  CHECK_EQ(r.landlock_abi, 0);
  /* without Landlock the rest applies, the filter to both threads */
  o.landlock = ISO_SANDBOX_OFF;
  memset(&r, 0, sizeof r);
  CHECK_EQ(iso_sandbox_apply(&o, &r), 0);
  CHECK_EQ(proc_status("Seccomp"), 2);
  /* the thread that ran before: no_new_privs and the filter reached it */
  while (sleeper_tid == 0) {
    sleep_ms(1);
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", sleeper_tid);
  CHECK_EQ(status_of(path, "NoNewPrivs"), 1);
  CHECK_EQ(status_of(path, "Seccomp"), 2);
  fprintf(stderr, "threads done\n");
}

static void t_landlock_threads(void) {
  if (kernel_landlock_abi() == 0) {
    fprintf(stderr, "  skipped: this kernel has no Landlock\n");
    return;
  }
  child c;
  in_child(threads_body, NULL, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "threads done");
}

static void missing_root_body(void* arg) {
  (void)arg;
  const char* roots[] = {"/nonexistent/isopool-root", NULL};
  iso_sandbox_opts o = {.roots = roots};
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_enter(&o, &r), ISO_ENOENT);
  CHECK_EQ(r.landlock_abi, 0);
  fprintf(stderr, "missing done\n");
}

static void t_landlock_missing_root(void) {
  if (kernel_landlock_abi() == 0) {
    fprintf(stderr, "  skipped: this kernel has no Landlock\n");
    return;
  }
  child c;
  in_child(missing_root_body, NULL, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "missing done");
}

/* ---- what must still work: V8, libuv, NNG ---- */

/* A Wasm module: add(a, b), load(addr) (i32.load), one page of memory
 * exported as mem. */
#define WASM_BYTES                                                   \
  "0,97,115,109,1,0,0,0, 1,12,2,96,2,127,127,1,127,96,1,127,1,127, " \
  "3,3,2,0,1, 5,3,1,0,1, "                                           \
  "7,20,3,3,97,100,100,0,0,4,108,111,97,100,0,1,3,109,101,109,2,0, " \
  "10,17,2,7,0,32,0,32,1,106,11,7,0,32,0,40,2,0,11"

static const char kMain[] =
    "import { libValue } from './lib.js';\n"
    /* The runtime does not count V8's own tasks (a Wasm compilation, an
     * Atomics.waitAsync timeout) as pending work, so an await on them
     * alone stalls, sandbox or not: a timer holds the realm meanwhile. */
    "async function held(p) {\n"
    "  const h = setInterval(() => {}, 5);\n"
    "  try { return await p; } finally { clearInterval(h); }\n"
    "}\n"
    "const out = {};\n"
    "out.lib = libValue;\n"
    "out.dyn = (await import('./dir/dyn.js')).default;\n"
    /* big allocations and garbage: several GCs, large object space */
    "let keep = [];\n"
    "for (let i = 0; i < 40; i++) keep.push(new Array(200000).fill(i));\n"
    "let sum = 0;\n"
    "for (let i = 0; i < 2000000; i++) sum += ({ v: i, s: 'x' + i }).v;\n"
    "const big = new Uint8Array(128 << 20); big[big.length - 1] = 7;\n"
    "out.alloc = keep.length + big[big.length - 1];\n"
    "keep = null;\n"
    "out.sum = sum;\n"
    /* Wasm: compiled (Liftoff, tiered up on the platform's threads), its
     * memory grown, an out-of-bounds load trapping */
    "const bytes = new Uint8Array([" WASM_BYTES
    "]);\n"
    "const module = new WebAssembly.Module(bytes);\n"
    "const instance = new WebAssembly.Instance(module);\n"
    "const add = instance.exports.add;\n"
    "let w = 0;\n"
    "for (let i = 0; i < 100000; i++) w = add(w, 1);\n"
    "instance.exports.mem.grow(200);\n"
    "let trap = '';\n"
    "try { instance.exports.load(0x7fffffff); } catch (e) { trap = e.name; }\n"
    "out.wasm = [w, instance.exports.mem.buffer.byteLength >> 16, trap];\n"
    /* asynchronous compilation, on the platform's threads */
    "const compiled = await held(WebAssembly.compile(bytes));\n"
    "out.wasmCompile = WebAssembly.Module.exports(compiled).length;\n"
    /* timers, promises */
    "const t0 = Date.now();\n"
    "await new Promise((r) => setTimeout(r, 30));\n"
    "out.timer = Date.now() - t0 >= 25;\n"
    "out.all = await Promise.all([1, 2, 3].map(async (x) => x * 2));\n"
    /* an async op on the runtime's libuv transport (thread pool) */
    "const d = await crypto.subtle.digest('SHA-256',\n"
    "  new TextEncoder().encode('abc'));\n"
    "out.digest = [...new Uint8Array(d).slice(0, 4)];\n"
    "out.random = crypto.getRandomValues(new Uint8Array(8)).length;\n"
    "out.uuid = crypto.randomUUID().length;\n"
    /* Atomics (Atomics.wait is not allowed on a runtime's thread): a
     * waitAsync that times out on the platform's delayed tasks */
    "const ia = new Int32Array(new SharedArrayBuffer(16));\n"
    "Atomics.add(ia, 0, 5);\n"
    "out.notify = Atomics.notify(ia, 1);\n"
    "out.waitAsync = await held(Atomics.waitAsync(ia, 2, 0, 10).value);\n"
    "out.atomics = Atomics.load(ia, 0);\n"
    "export default out;\n";

static const char kExpected[] =
    "{\"lib\":42,\"dyn\":\"dynamic\",\"alloc\":47,\"sum\":1999999000000,"
    "\"wasm\":[100000,201,\"RuntimeError\"],\"wasmCompile\":3,"
    "\"timer\":true,\"all\":[2,4,6],\"digest\":[186,120,22,191],"
    "\"random\":8,\"uuid\":36,\"notify\":0,"
    "\"waitAsync\":\"timed-out\",\"atomics\":5}";

/* What the runtime reads from the system after the sandbox is entered:
 * the time zone, the locale data, the random source. The sandboxed run
 * must see what the control run sees. */
static const char kEnv[] =
    "export default [Intl.DateTimeFormat().resolvedOptions().timeZone,\n"
    "  new Date(86400000 * 180).toString(),\n"
    "  (1234567.891).toLocaleString('de-DE'),\n"
    "  new Intl.DateTimeFormat('fr', {dateStyle: 'full'}).format(0),\n"
    "  typeof Math.random()];\n";

static void write_modules(void) {
  rt_root();
  rt_write("main.js", "%s", kMain);
  rt_write("env.js", "%s", kEnv);
  rt_write("lib.js", "export const libValue = 42;\n");
  rt_write("dir/dyn.js", "export default 'dynamic';\n");
}

static void remove_root(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", rt_root_path());
  CHECK_EQ(system(cmd), 0);
}

/* arg: the options (seccomp off for the control run) */
static void runtime_body(void* arg) {
  const iso_sandbox_opts* o = arg;
  iso_sandbox_report r = {0};
  /* a zone that differs from UTC, where the system has the zone data */
  setenv("TZ", "Europe/Paris", 1);
  CHECK_EQ(iso_sandbox_enter(o, &r), 0);
  rt_init_process(); /* V8's platform threads start here */
  CHECK_EQ(iso_sandbox_seal(o, &r), 0);
  CHECK_EQ(proc_status("Seccomp"), o->seccomp == ISO_SANDBOX_OFF ? 0 : 2);
  char text[256];
  iso_sandbox_describe(&r, text, sizeof text);
  fprintf(stderr, "sandbox: %s\n", text);
  /* the isolate is made, runs and is freed under the filter */
  for (int round = 0; round < 2; round++) {
    rt_result res;
    rt_run("main.js", &res);
    CHECK_EQ(res.status, 0);
    CHECK(res.error == NULL);
    if (res.error != NULL) {
      fprintf(stderr, "%s\nconsole:\n%s", res.error, rt_out(&res));
    }
    CHECK_STR(res.value, kExpected);
    free(res.value);
    free(res.hex);
    free(res.error);
    iso_buf_close(&res.out);
  }
  rt_result env;
  rt_run("env.js", &env);
  CHECK_EQ(env.status, 0);
  fprintf(stderr, "env: %s\n", env.value != NULL ? env.value : "(none)");
  free(env.value);
  free(env.hex);
  free(env.error);
  iso_buf_close(&env.out);
  fprintf(stderr, "runtime done\n");
}

/* The line "env: ..." of a child's stderr, into buf. */
static void env_line(const child* c, char* buf, size_t len) {
  const char* at = strstr(c->err, "env: ");
  size_t n = at != NULL ? strcspn(at, "\n") : 0;
  snprintf(buf, len, "%.*s", (int)n, at != NULL ? at : "");
}

/* The modules run twice in a child with the whole sandbox (Landlock on
 * the module root, the filter), and once in a control child without it:
 * when both fail, the JavaScript is wrong, not the sandbox; when they
 * see different environments, the sandbox hid something the runtime
 * reads. */
static void t_runtime(void) {
  write_modules();
  iso_sandbox_opts off = {.landlock = ISO_SANDBOX_OFF,
                          .seccomp = ISO_SANDBOX_OFF};
  child control;
  in_child(runtime_body, &off, &control);
  CHECK(exited_ok(&control));
  CHECK_CONTAINS(control.err, "runtime done");
  const char* roots[] = {rt_root_path(), NULL};
  iso_sandbox_opts on = {.roots = roots,
                         .landlock = kernel_landlock_abi() > 0
                                         ? ISO_SANDBOX_REQUIRED
                                         : ISO_SANDBOX_BEST_EFFORT,
                         .seccomp = ISO_SANDBOX_REQUIRED};
  child c;
  in_child(runtime_body, &on, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "runtime done");
  CHECK(strstr(c.err, "is not allowed") == NULL);
  char want[512], got[512];
  env_line(&control, want, sizeof want);
  env_line(&c, got, sizeof got);
  CHECK(want[0] != '\0');
  CHECK_STR(got, want);
  remove_root();
}

/* NNG on a connected ipc:// pair (as a pool process held its socket to
 * the front before its links were inherited socketpairs; NNG is still in
 * the binary): the child enters the sandbox, dials the case's listener in
 * a private directory, seals once a first message crossed, then sends
 * messages that the case echoes, a large one last, and closes. */
static char pool_url[128];

static void nng_body(void* arg) {
  (void)arg;
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_enter(NULL, &r), 0);
  nng_socket s;
  CHECK_EQ(nng_pair1_open(&s), 0);
  nng_setopt_ms(s, NNG_OPT_RECVTIMEO, 10000);
  nng_setopt_ms(s, NNG_OPT_SENDTIMEO, 10000);
  nng_setopt_ms(s, NNG_OPT_RECONNMINT, 10);
  /* the case listens once it has forked: redial until it does */
  CHECK_EQ(nng_dial(s, pool_url, NULL, NNG_FLAG_NONBLOCK), 0);
  char buf[64];
  size_t sz = sizeof buf;
  CHECK_EQ(nng_recv(s, buf, &sz, 0), 0);
  CHECK_STR(buf, "hello");
  CHECK_EQ(iso_sandbox_seal(NULL, &r), 0);
  for (int i = 0; i < 1000; i++) {
    char msg[32];
    int n = snprintf(msg, sizeof msg, "m%d", i);
    CHECK_EQ(nng_send(s, msg, (size_t)n + 1, 0), 0);
    sz = sizeof buf;
    CHECK_EQ(nng_recv(s, buf, &sz, 0), 0);
    CHECK_STR(buf, msg);
  }
  /* a large message each way: NNG's buffers grow */
  size_t big = 4 << 20;
  char* data = calloc(1, big);
  data[big - 1] = 7;
  CHECK_EQ(nng_send(s, data, big, 0), 0);
  void* got = NULL;
  CHECK_EQ(nng_recv(s, &got, &sz, NNG_FLAG_ALLOC), 0);
  CHECK_EQ(sz, big);
  CHECK(got != NULL && ((char*)got)[big - 1] == 7);
  nng_free(got, sz);
  free(data);
  CHECK_EQ(nng_close(s), 0);
  nng_fini();
  fprintf(stderr, "nng done\n");
}

static void t_nng_ipc(void) {
  char dir[] = "/tmp/isopool-sandbox-ipc-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  snprintf(pool_url, sizeof pool_url, "ipc://%s/pool.ipc", dir);
  child c;
  child_start(nng_body, NULL, &c); /* before NNG starts threads here */
  nng_socket s;
  CHECK_EQ(nng_pair1_open(&s), 0);
  nng_setopt_ms(s, NNG_OPT_RECVTIMEO, 10000);
  nng_setopt_ms(s, NNG_OPT_SENDTIMEO, 10000);
  nng_setopt_size(s, NNG_OPT_RECVMAXSZ, 0);
  CHECK_EQ(nng_listen(s, pool_url, NULL, 0), 0);
  CHECK_EQ(nng_send(s, "hello", 6, 0), 0);
  /* echo until the child's large message has gone back */
  for (;;) {
    void* msg = NULL;
    size_t sz = 0;
    if (nng_recv(s, &msg, &sz, NNG_FLAG_ALLOC) != 0) {
      CHECK(0 && "no message from the child");
      break;
    }
    int rc = nng_send(s, msg, sz, NNG_FLAG_ALLOC);
    CHECK_EQ(rc, 0);
    if (rc != 0) {
      nng_free(msg, sz);
    }
    if (sz > 64) {
      break;
    }
  }
  child_wait(&c);
  nng_close(s);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "nng done");
  CHECK(strstr(c.err, "is not allowed") == NULL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK_EQ(system(cmd), 0);
}

/* ---- memory: RLIMIT_DATA (opts.max_mb) ---- */

enum { kMaxMb = 256 };

/* Each module reports how its allocation failed, or ends the process. */
static const struct {
  const char* name;
  const char* source;
} kMemModules[] = {
    {"buffer.js",
     "let r = 'allocated';\n"
     "try { new Uint8Array(new ArrayBuffer(1 << 30)).fill(1); }\n"
     "catch (e) { r = e.name + ': ' + e.message; }\n"
     "export default r;\n"},
    {"wasm.js",
     "const m = new WebAssembly.Memory({initial: 1, maximum: 65536});\n"
     "let r = 'grown';\n"
     "try { m.grow(16384); new Uint8Array(m.buffer).fill(1); }\n"
     "catch (e) { r = e.name + ': ' + e.message; }\n"
     "export default r;\n"},
    {"heap.js",
     "const keep = [];\n"
     "for (let i = 0; i < 100000; i++) keep.push(new Array(1 << "
     "20).fill(1.5));\n"
     "export default keep.length;\n"},
};

static void memory_body(void* arg) {
  (void)arg;
  const char* roots[] = {rt_root_path(), NULL};
  iso_sandbox_opts o = {.roots = roots, .max_mb = kMaxMb};
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_enter(&o, &r), 0);
#if defined(__SANITIZE_ADDRESS__)
  CHECK_EQ(r.max_mb, 0);
  CHECK_STR(r.max_mb_why, "not under AddressSanitizer");
  fprintf(stderr, "skipped under ASan\n");
  return;
#endif
  CHECK_EQ(r.max_mb, kMaxMb);
  struct rlimit rl;
  CHECK_EQ(getrlimit(RLIMIT_DATA, &rl), 0);
  CHECK_EQ(rl.rlim_cur, (rlim_t)kMaxMb << 20);
  CHECK_EQ(rl.rlim_max, (rlim_t)kMaxMb << 20);
  rt_init_process();
  CHECK_EQ(iso_sandbox_seal(&o, &r), 0);
  char text[256];
  iso_sandbox_describe(&r, text, sizeof text);
  fprintf(stderr, "sandbox: %s\n", text);
  /* C: malloc past the limit fails */
  void* big = malloc((size_t)(kMaxMb + 64) << 20);
  CHECK(big == NULL);
  free(big);
  for (size_t i = 0; i < sizeof kMemModules / sizeof kMemModules[0]; i++) {
    fprintf(stderr, "running %s\n", kMemModules[i].name);
    rt_result res;
    rt_run(kMemModules[i].name, &res);
    fprintf(stderr, "%s: status %d value %s error %s\n", kMemModules[i].name,
            res.status, res.value != NULL ? res.value : "-",
            res.error != NULL ? res.error : "-");
    free(res.value);
    free(res.hex);
    free(res.error);
    iso_buf_close(&res.out);
  }
  fprintf(stderr, "memory done, VmHWM %ld kB\n", proc_status("VmHWM"));
}

static void t_memory_limit(void) {
  rt_root();
  for (size_t i = 0; i < sizeof kMemModules / sizeof kMemModules[0]; i++) {
    rt_write(kMemModules[i].name, "%s", kMemModules[i].source);
  }
  child c;
  in_child(memory_body, NULL, &c);
  if (strstr(c.err, "skipped under ASan") != NULL) {
    CHECK(exited_ok(&c));
    remove_root();
    return; /* sandbox/README.md, "Memory" */
  }
  CHECK_CONTAINS(c.err, "data=256MiB");
  /* an ArrayBuffer and a Wasm memory past the limit fail in JavaScript */
  CHECK_CONTAINS(c.err,
                 "buffer.js: status 0 value \"RangeError: Array buffer "
                 "allocation failed\"");
  CHECK_CONTAINS(c.err,
                 "wasm.js: status 0 value \"RangeError: "
                 "WebAssembly.Memory.grow(): Unable to grow instance memory\"");
  /* the heap: V8 either stops the JavaScript (its near-heap-limit
   * callback, when a commit fails) or ends the process (a fatal OOM);
   * never more memory than the limit, and the case's own process goes on */
  CHECK_CONTAINS(c.err, "running heap.js");
  if (WIFEXITED(c.status)) {
    CHECK_EQ(WEXITSTATUS(c.status), 0);
    char want[160]; /* the heap limit's stop: ISO_EHEAPLIMIT */
    snprintf(want, sizeof want,
             "heap.js: status %d value - error error: Uncaught "
             "RangeError: JavaScript heap out of memory",
             ISO_EHEAPLIMIT);
    CHECK_CONTAINS(c.err, want);
    const char* hwm = strstr(c.err, "VmHWM ");
    long kb = hwm != NULL ? strtol(hwm + 6, NULL, 10) : -1;
    CHECK(kb > 0 && kb < (long)kMaxMb * 1024);
  } else {
    fprintf(stderr, "  the child ended: signal %d\n", killed_by(&c));
    CHECK(strstr(c.err, "memory done") == NULL);
  }
  remove_root();
}

/* The link on an inherited socketpair end, as a pool process holds its
 * links to the front: the child wraps its end after iso_sandbox_enter,
 * seals, then echoes what the case sends (polling its end's fd and
 * draining it, as a worker's loop does): 1000 small records, then one
 * larger than the socket's buffer (those sent while the socket is full
 * leave together); it ends when the case's end goes. */
static int link_fd = -1;
static atomic_int link_gone;

static void link_gone_cb(iso_link* l, iso_link_event ev, void* arg) {
  (void)l;
  (void)ev;
  (void)arg;
  atomic_store(&link_gone, 1);
}

typedef struct link_echo {
  iso_link* l;  /* where to echo; NULL: only count */
  size_t bytes; /* what came */
  int last;     /* its last byte */
} link_echo;

static void link_echo_cb(const uint8_t* d, size_t n, void* arg) {
  link_echo* e = arg;
  e->bytes += n;
  e->last = d[n - 1];
  if (e->l != NULL) {
    CHECK_EQ(iso_link_send(e->l, d, n), 0); /* no head: the bytes back */
  }
}

static void link_body(void* arg) {
  (void)arg;
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_enter(NULL, &r), 0);
  iso_link_opts o = {.fd = link_fd, .event_cb = link_gone_cb};
  link_echo e = {0};
  CHECK_EQ(iso_link_new(&o, &e.l, NULL, 0), 0);
  CHECK_EQ(iso_sandbox_seal(NULL, &r), 0);
  while (!atomic_load(&link_gone)) {
    struct pollfd p = {.fd = iso_link_fd(e.l), .events = POLLIN};
    poll(&p, 1, 100);
    iso_link_drain(e.l, link_echo_cb, &e);
  }
  CHECK_EQ(e.last, 7);
  iso_link_free(e.l);
  fprintf(stderr, "link done\n");
}

static void t_link_socketpair(void) {
  int fds[2];
  CHECK_EQ(iso_link_socketpair(fds, NULL, 0), 0);
  link_fd = fds[1];
  child c;
  child_start(link_body, NULL, &c);
  close(fds[1]);
  iso_link_opts o = {.fd = fds[0]};
  iso_link* l = NULL;
  CHECK_EQ(iso_link_new(&o, &l, NULL, 0), 0);
  char msg[32];
  size_t total = 0;
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(msg, sizeof msg, "m%d", i);
    CHECK_EQ(iso_link_send(l, msg, (size_t)n + 1), 0);
    total += (size_t)n + 1;
  }
  size_t big = 4 << 20;
  total += big;
  char* data = calloc(1, big);
  data[big - 1] = 7;
  CHECK_EQ(iso_link_send(l, data, big), 0);
  link_echo back = {0};
  int64_t end = now_ms() + 20000;
  while (back.bytes < total && now_ms() < end) {
    struct pollfd p = {.fd = iso_link_fd(l), .events = POLLIN};
    poll(&p, 1, 100);
    iso_link_drain(l, link_echo_cb, &back);
  }
  CHECK_EQ(back.bytes, total);
  CHECK_EQ(back.last, 7);
  iso_link_free(l); /* the child sees us go, and ends */
  free(data);
  child_wait(&c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "link done");
  CHECK(strstr(c.err, "is not allowed") == NULL);
}

static const iso_test kCases[] = {
    {"report", t_report},
    {"off", t_off},
    {"refused", t_refused},
    {"landlock", t_landlock},
    {"landlock_threads", t_landlock_threads},
    {"landlock_missing_root", t_landlock_missing_root},
    {"runtime", t_runtime, .timeout_s = 120},
    {"nng_ipc", t_nng_ipc},
    {"link_socketpair", t_link_socketpair},
    {"memory_limit", t_memory_limit},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_rows(argc, argv, kHostile,
                       sizeof kHostile / sizeof kHostile[0], sizeof kHostile[0],
                       run_hostile, kCases);
}
