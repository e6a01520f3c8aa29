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
 * ops over the runtime's libuv transport, Atomics, promises), and NNG on
 * a connected ipc:// pair. What must not: the rows of kHostile and the
 * refusals of t_refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <signal.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "iso_err.h"
#include "iso_sandbox.h"
#include "rt_harness.h"
#include "tap.h"

/* ---- a sandboxed child, watched from outside ---- */

typedef struct child {
  int status; /* waitpid's */
  char err[8192];
} child;

/* in_child: runs body(arg) in a forked child whose stderr is captured in
 * c->err (and echoed, for the log), and waits for it. The child exits
 * 0, or 98 when a CHECK failed in it, with _exit: a sandboxed process
 * cannot run the leak check's ptrace (sandbox/README.md, ASan). */
static void in_child(void (*body)(void*), void* arg, child* c) {
  memset(c, 0, sizeof *c);
  char path[] = "/tmp/isopool-sandbox-err-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, STDERR_FILENO);
    iso_test_failed = 0;
    body(arg);
    fflush(NULL);
    _exit(iso_test_failed ? 98 : 0);
  }
  CHECK(pid > 0);
  CHECK_EQ(waitpid(pid, &c->status, 0), pid);
  ssize_t n = pread(fd, c->err, sizeof c->err - 1, 0);
  c->err[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
  if (c->err[0] != '\0') {
    fprintf(stderr, "  [child stderr]\n%s  [end]\n", c->err);
  }
}

static int exited_ok(const child* c) {
  return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

static int killed_by(const child* c) {
  return WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0;
}

/* The fields of /proc/self/status named `key` ("Seccomp"), as a number. */
static long proc_status(const char* key) {
  FILE* f = fopen("/proc/self/status", "r");
  if (f == NULL) {
    return -1;
  }
  char line[256];
  long v = -1;
  size_t klen = strlen(key);
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      v = strtol(line + klen + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
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
  iso_sandbox_opts o = {.max_files = 200};
  CHECK_EQ(iso_sandbox_enter(&o, &r), 0);
  CHECK_EQ(r.limits, 1);
  CHECK_EQ(r.max_files, 200);
  CHECK_EQ(r.no_new_privs, 1);
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
  CHECK_CONTAINS(text, "nofile=200 core=0; no_new_privs; seccomp: ");
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
  iso_sandbox_opts o = {.seccomp = ISO_SANDBOX_OFF};
  CHECK_EQ(iso_sandbox_apply(&o, &r), 0);
  CHECK_EQ(r.seccomp, 0);
  CHECK_STR(r.seccomp_why, "off");
  CHECK_EQ(proc_status("Seccomp"), 0);
  CHECK_EQ(proc_status("NoNewPrivs"), 1);
}

static void t_seccomp_off(void) {
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
  CHECK_EQ(open("/dev/null", O_RDWR), -1);
  CHECK_EQ(errno, EACCES);
  errno = 0;
  CHECK_EQ(mkdir("/tmp/isopool-sandbox-dir", 0700), -1);
  CHECK_EQ(errno, EPERM);
  /* reading is Landlock's to restrict, not the filter's */
  int fd = open("/dev/null", O_RDONLY);
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

static void write_modules(void) {
  rt_root();
  rt_write("main.js", "%s", kMain);
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
  CHECK_EQ(iso_sandbox_enter(o, &r), 0);
  rt_init_process(); /* V8's platform threads start here */
  CHECK_EQ(iso_sandbox_seal(o, &r), 0);
  CHECK_EQ(proc_status("Seccomp"), o->seccomp == ISO_SANDBOX_OFF ? 0 : 2);
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
  fprintf(stderr, "runtime done\n");
}

static void run_runtime(iso_sandbox_mode seccomp) {
  write_modules();
  iso_sandbox_opts o = {.seccomp = seccomp};
  child c;
  in_child(runtime_body, &o, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "runtime done");
  CHECK(strstr(c.err, "is not allowed") == NULL);
  remove_root();
}

static void t_runtime(void) {
  run_runtime(ISO_SANDBOX_REQUIRED);
}

/* The same without the filter: when both fail, the JavaScript is wrong,
 * not the sandbox. */
static void t_runtime_control(void) {
  run_runtime(ISO_SANDBOX_OFF);
}

/* NNG on a connected ipc:// pair, as a pool process holds its sockets to
 * the front: messages both ways under the filter, then closed. */
static void nng_body(void* arg) {
  (void)arg;
  iso_sandbox_report r = {0};
  CHECK_EQ(iso_sandbox_enter(NULL, &r), 0);
  char url[128];
  snprintf(url, sizeof url, "ipc:///tmp/isopool-sandbox-%d.ipc", (int)getpid());
  nng_socket a, b;
  CHECK_EQ(nng_pair1_open(&a), 0);
  CHECK_EQ(nng_pair1_open(&b), 0);
  CHECK_EQ(nng_listen(a, url, NULL, 0), 0);
  CHECK_EQ(nng_dial(b, url, NULL, 0), 0);
  nng_setopt_ms(a, NNG_OPT_RECVTIMEO, 5000);
  nng_setopt_ms(b, NNG_OPT_RECVTIMEO, 5000);
  /* connected: the pipe is up once a first message crossed */
  CHECK_EQ(nng_send(b, "hello", 6, 0), 0);
  char buf[64];
  size_t sz = sizeof buf;
  CHECK_EQ(nng_recv(a, buf, &sz, 0), 0);
  unlink(url + strlen("ipc://")); /* connected: the name is not needed */
  CHECK_EQ(iso_sandbox_seal(NULL, &r), 0);
  for (int i = 0; i < 1000; i++) {
    char msg[32];
    int n = snprintf(msg, sizeof msg, "m%d", i);
    CHECK_EQ(nng_send(i % 2 ? a : b, msg, (size_t)n + 1, 0), 0);
    sz = sizeof buf;
    CHECK_EQ(nng_recv(i % 2 ? b : a, buf, &sz, 0), 0);
    CHECK_STR(buf, msg);
  }
  /* a large message: NNG's buffers grow */
  size_t big = 4 << 20;
  char* data = calloc(1, big);
  CHECK_EQ(nng_send(a, data, big, 0), 0);
  void* got = NULL;
  CHECK_EQ(nng_recv(b, &got, &sz, NNG_FLAG_ALLOC), 0);
  CHECK_EQ(sz, big);
  nng_free(got, sz);
  free(data);
  CHECK_EQ(nng_close(a), 0);
  CHECK_EQ(nng_close(b), 0);
  nng_fini();
  fprintf(stderr, "nng done\n");
}

static void t_nng_ipc(void) {
  child c;
  in_child(nng_body, NULL, &c);
  CHECK(exited_ok(&c));
  CHECK_CONTAINS(c.err, "nng done");
  CHECK(strstr(c.err, "is not allowed") == NULL);
}

static const iso_test kCases[] = {
    {"report", t_report},
    {"seccomp_off", t_seccomp_off},
    {"refused", t_refused},
    {"runtime_control", t_runtime_control, .timeout_s = 120},
    {"runtime", t_runtime, .timeout_s = 120},
    {"nng_ipc", t_nng_ipc},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_rows(argc, argv, kHostile,
                       sizeof kHostile / sizeof kHostile[0], sizeof kHostile[0],
                       run_hostile, kCases);
}
