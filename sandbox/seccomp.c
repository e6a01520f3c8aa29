/* seccomp.c: the pool process's syscall allow-list (libseccomp), and what
 * happens to the syscalls it does not allow.
 *
 * The list was found empirically (tests/test_sandbox.c runs V8 with its
 * platform threads, libuv's loop and thread pool, the link on an
 * inherited socketpair end (the pool process's links to the front), NNG
 * on a connected ipc:// pair, Wasm, big allocations and GC under it;
 * `strace -f -c` on
 * that suite, run with the filter off, lists what they call), then
 * narrowed by argument where libseccomp can express it. Each syscall has
 * one verdict, a row of kRows:
 *
 *   ALLOW    what V8, glibc, libuv and NNG do after start: memory, threads,
 *            futexes, clocks, reading and writing descriptors already open
 *            (the link sockets, epoll, eventfd, timerfd), reading files
 *            (the module root: which files is Landlock's business, not
 *            this filter's), signals to the process itself;
 *   EPERM    what a library may try and must see refused, quietly: a new
 *            socket or connection (the pool process needs none: its links
 *            are socketpair ends it inherited), fork, raising a limit,
 *            changing a file's name, mode or times, scheduling above
 *            others;
 *   EACCES   opening a file for writing, creating or truncating one (the
 *            filter checks open's flags; Landlock, where the kernel has
 *            it, refuses the same and more by path);
 *   ENOSYS   clone3, whose arguments sit in memory a filter cannot read:
 *            glibc then falls back to clone, whose flags it can check;
 *            openat2 likewise, unless Landlock is in force, which checks
 *            what openat2 opens by path and access (the module loader
 *            uses openat2's RESOLVE_NO_SYMLINKS when it can);
 *   KILL     what no library of a pool process calls and an attacker
 *            wants: execve, ptrace and process_vm_*, new namespaces and
 *            mounts, BPF, perf, userfaultfd, io_uring, keyrings, modules,
 *            changing identity or the clock. The kernel ends the whole
 *            process at once (SIGSYS; no core: RLIMIT_CORE is 0), and the
 *            front answers its jobs worker_lost.
 *
 * A syscall in no row, or a listed one whose arguments fall outside its
 * rows (clone without CLONE_THREAD, an ioctl or prctl not listed, a
 * signal to another process, setting a limit), traps: the SIGSYS handler
 * below makes it return ENOSYS, the answer libraries expect from a kernel
 * that lacks a syscall (Docker learnt this when glibc 2.33's faccessat2
 * met EPERM), and writes one line naming it to stderr, once per syscall,
 * so that a library update that needs a new syscall shows in the log
 * instead of as a silent failure. The syscall itself never runs, so a
 * compromised process that replaces the handler gains nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <unistd.h>

#include "iso_err.h"
#include "sandbox_private.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41 /* Linux 5.17: glibc names its arenas */
#endif

/* LANDLOCKED: ALLOW when Landlock is in force, else NOSYS. */
enum verdict { ALLOW = 1, REFUSE, DENY_WRITE, NOSYS, LANDLOCKED, KILL };

/* A datum filled with the process's pid when the filter is built: the
 * process may signal and query only itself. */
#define SELF UINT64_MAX

#define ARG_EQ(n, v) \
  { .arg = (n), .op = SCMP_CMP_EQ, .datum_a = (v) }
#define ARG_BITS(n, mask, v) \
  { .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (v) }

typedef struct row {
  const char* name; /* libseccomp's name; one missing on this arch is
                       skipped */
  enum verdict verdict;
  struct scmp_arg_cmp cmp[2]; /* all must hold; .op 0 ends them */
} row;

/* A thread, as glibc's pthread_create makes one: it shares the address
 * space, the signal handlers and the thread group, and makes no
 * namespace. Anything else (fork, posix_spawn's vfork) is refused. */
#define THREAD_MUST (CLONE_VM | CLONE_SIGHAND | CLONE_THREAD)
#define THREAD_MASK                                                            \
  (THREAD_MUST | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
   CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_VFORK | CLONE_PTRACE |  \
   CLONE_UNTRACED)

/* Opening only to read: no write access, no O_CREAT, no O_TRUNC. */
#define OPEN_WRITES (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)

static const row kRows[] = {
    /* memory: V8's heap, code space (W^X flips), Wasm reservations,
     * glibc malloc */
    {.name = "brk", .verdict = ALLOW},
    {.name = "mmap", .verdict = ALLOW},
    {.name = "munmap", .verdict = ALLOW},
    {.name = "mprotect", .verdict = ALLOW},
    {.name = "mremap", .verdict = ALLOW},
    {.name = "madvise", .verdict = ALLOW},
    {.name = "mincore", .verdict = ALLOW},
    {.name = "pkey_alloc", .verdict = ALLOW},
    {.name = "pkey_free", .verdict = ALLOW},
    {.name = "pkey_mprotect", .verdict = ALLOW},
    {.name = "membarrier", .verdict = ALLOW},
    /* threads (V8's platform workers, libuv's pool, NNG's) and their
     * synchronisation */
    {.name = "clone",
     .verdict = ALLOW,
     .cmp = {ARG_BITS(0, THREAD_MASK, THREAD_MUST)}},
    {.name = "clone3", .verdict = NOSYS},
    {.name = "futex", .verdict = ALLOW},
    {.name = "set_robust_list", .verdict = ALLOW},
    {.name = "get_robust_list", .verdict = ALLOW},
    {.name = "set_tid_address", .verdict = ALLOW},
    {.name = "rseq", .verdict = ALLOW},
    {.name = "exit", .verdict = ALLOW},
    {.name = "exit_group", .verdict = ALLOW},
    {.name = "sched_yield", .verdict = ALLOW},
    {.name = "sched_getaffinity", .verdict = ALLOW},
    {.name = "sched_getparam", .verdict = ALLOW},
    {.name = "sched_getscheduler", .verdict = ALLOW},
    {.name = "sched_get_priority_max", .verdict = ALLOW},
    {.name = "sched_get_priority_min", .verdict = ALLOW},
    {.name = "getpriority", .verdict = ALLOW},
    /* time */
    {.name = "clock_gettime", .verdict = ALLOW},
    {.name = "clock_getres", .verdict = ALLOW},
    {.name = "clock_nanosleep", .verdict = ALLOW},
    {.name = "nanosleep", .verdict = ALLOW},
    {.name = "gettimeofday", .verdict = ALLOW},
    {.name = "time", .verdict = ALLOW},
    /* who and where the process is */
    {.name = "getpid", .verdict = ALLOW},
    {.name = "gettid", .verdict = ALLOW},
    {.name = "getppid", .verdict = ALLOW},
    {.name = "getuid", .verdict = ALLOW},
    {.name = "geteuid", .verdict = ALLOW},
    {.name = "getgid", .verdict = ALLOW},
    {.name = "getegid", .verdict = ALLOW},
    {.name = "getresuid", .verdict = ALLOW},
    {.name = "getresgid", .verdict = ALLOW},
    {.name = "getgroups", .verdict = ALLOW},
    {.name = "getrusage", .verdict = ALLOW},
    {.name = "times", .verdict = ALLOW},
    {.name = "sysinfo", .verdict = ALLOW},
    {.name = "uname", .verdict = ALLOW},
    {.name = "getrandom", .verdict = ALLOW},
    {.name = "getrlimit", .verdict = ALLOW},
    {.name = "prlimit64",
     .verdict = ALLOW,
     .cmp = {ARG_EQ(0, 0), ARG_EQ(2, 0)}}, /* read only */
    {.name = "prlimit64",
     .verdict = ALLOW,
     .cmp = {ARG_EQ(0, SELF), ARG_EQ(2, 0)}},
    {.name = "setrlimit", .verdict = REFUSE},
    {.name = "prctl",
     .verdict = ALLOW,
     .cmp = {ARG_EQ(0, PR_SET_NAME)}}, /* thread names */
    {.name = "prctl", .verdict = ALLOW, .cmp = {ARG_EQ(0, PR_GET_NAME)}},
    {.name = "prctl", .verdict = ALLOW, .cmp = {ARG_EQ(0, PR_GET_DUMPABLE)}},
    {.name = "prctl",
     .verdict = ALLOW,
     .cmp = {ARG_EQ(0, PR_GET_NO_NEW_PRIVS)}},
    {.name = "prctl", .verdict = ALLOW, .cmp = {ARG_EQ(0, PR_GET_SECCOMP)}},
    {.name = "prctl", .verdict = ALLOW, .cmp = {ARG_EQ(0, PR_SET_VMA)}},
    {.name = "restart_syscall", .verdict = ALLOW},
    /* signals, to the process itself only (abort, V8's and glibc's own) */
    {.name = "rt_sigaction", .verdict = ALLOW},
    {.name = "rt_sigprocmask", .verdict = ALLOW},
    {.name = "rt_sigreturn", .verdict = ALLOW},
    {.name = "rt_sigtimedwait", .verdict = ALLOW},
    {.name = "rt_sigpending", .verdict = ALLOW},
    {.name = "rt_sigsuspend", .verdict = ALLOW},
    {.name = "sigaltstack", .verdict = ALLOW},
    {.name = "kill", .verdict = ALLOW, .cmp = {ARG_EQ(0, SELF)}},
    {.name = "tgkill", .verdict = ALLOW, .cmp = {ARG_EQ(0, SELF)}},
    /* descriptors already open: the link sockets, libuv's epoll, eventfds
     * and timerfds, stdout/stderr, a module file being read */
    {.name = "read", .verdict = ALLOW},
    {.name = "write", .verdict = ALLOW},
    {.name = "readv", .verdict = ALLOW},
    {.name = "writev", .verdict = ALLOW},
    {.name = "pread64", .verdict = ALLOW},
    {.name = "pwrite64", .verdict = ALLOW},
    {.name = "preadv", .verdict = ALLOW},
    {.name = "pwritev", .verdict = ALLOW},
    {.name = "preadv2", .verdict = ALLOW},
    {.name = "pwritev2", .verdict = ALLOW},
    {.name = "lseek", .verdict = ALLOW},
    {.name = "close", .verdict = ALLOW},
    {.name = "fcntl", .verdict = ALLOW},
    {.name = "dup", .verdict = ALLOW},
    {.name = "dup2", .verdict = ALLOW},
    {.name = "dup3", .verdict = ALLOW},
    {.name = "pipe2", .verdict = ALLOW},
    {.name = "eventfd2", .verdict = ALLOW},
    {.name = "timerfd_create", .verdict = ALLOW},
    {.name = "timerfd_settime", .verdict = ALLOW},
    {.name = "timerfd_gettime", .verdict = ALLOW},
    {.name = "epoll_create1", .verdict = ALLOW},
    {.name = "epoll_ctl", .verdict = ALLOW},
    {.name = "epoll_wait", .verdict = ALLOW},
    {.name = "epoll_pwait", .verdict = ALLOW},
    {.name = "epoll_pwait2", .verdict = ALLOW},
    {.name = "poll", .verdict = ALLOW},
    {.name = "ppoll", .verdict = ALLOW},
    {.name = "select", .verdict = ALLOW},
    {.name = "pselect6", .verdict = ALLOW},
    {.name = "sendmsg", .verdict = ALLOW},
    {.name = "recvmsg", .verdict = ALLOW},
    {.name = "sendto", .verdict = ALLOW},
    {.name = "recvfrom", .verdict = ALLOW},
    {.name = "sendmmsg", .verdict = ALLOW},
    {.name = "recvmmsg", .verdict = ALLOW},
    {.name = "shutdown", .verdict = ALLOW},
    {.name = "getsockopt", .verdict = ALLOW},
    {.name = "setsockopt", .verdict = ALLOW},
    {.name = "getsockname", .verdict = ALLOW},
    {.name = "getpeername", .verdict = ALLOW},
    {.name = "ioctl",
     .verdict = ALLOW,
     .cmp = {ARG_EQ(1, FIONBIO)}}, /* libuv */
    {.name = "ioctl", .verdict = ALLOW, .cmp = {ARG_EQ(1, FIOCLEX)}},
    {.name = "ioctl", .verdict = ALLOW, .cmp = {ARG_EQ(1, FIONCLEX)}},
    {.name = "ioctl", .verdict = ALLOW, .cmp = {ARG_EQ(1, FIONREAD)}},
    {.name = "ioctl",
     .verdict = ALLOW,
     .cmp = {ARG_EQ(1, TCGETS)}}, /* isatty (stdio) */
    {.name = "ioctl", .verdict = ALLOW, .cmp = {ARG_EQ(1, TIOCGWINSZ)}},
    /* files: open to read (which ones: Landlock), look at, list */
    {.name = "openat", .verdict = ALLOW, .cmp = {ARG_BITS(2, OPEN_WRITES, 0)}},
    {.name = "openat",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(2, O_WRONLY, O_WRONLY)}},
    {.name = "openat",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(2, O_RDWR, O_RDWR)}},
    {.name = "openat",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(2, O_CREAT, O_CREAT)}},
    {.name = "openat",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(2, O_TRUNC, O_TRUNC)}},
    {.name = "open", .verdict = ALLOW, .cmp = {ARG_BITS(1, OPEN_WRITES, 0)}},
    {.name = "open",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(1, O_WRONLY, O_WRONLY)}},
    {.name = "open",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(1, O_RDWR, O_RDWR)}},
    {.name = "open",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(1, O_CREAT, O_CREAT)}},
    {.name = "open",
     .verdict = DENY_WRITE,
     .cmp = {ARG_BITS(1, O_TRUNC, O_TRUNC)}},
    {.name = "creat", .verdict = DENY_WRITE},
    {.name = "openat2", .verdict = LANDLOCKED},
    {.name = "fstat", .verdict = ALLOW},
    {.name = "newfstatat", .verdict = ALLOW},
    {.name = "statx", .verdict = ALLOW},
    {.name = "stat", .verdict = ALLOW},
    {.name = "lstat", .verdict = ALLOW},
    {.name = "access", .verdict = ALLOW},
    {.name = "faccessat", .verdict = ALLOW},
    {.name = "faccessat2", .verdict = ALLOW},
    {.name = "readlink", .verdict = ALLOW},
    {.name = "readlinkat", .verdict = ALLOW},
    {.name = "getdents64", .verdict = ALLOW},
    {.name = "getcwd", .verdict = ALLOW},
    /* refused quietly: libraries may try these and cope */
    {.name = "socket", .verdict = REFUSE},
    {.name = "socketpair", .verdict = REFUSE},
    {.name = "connect", .verdict = REFUSE},
    {.name = "bind", .verdict = REFUSE},
    {.name = "listen", .verdict = REFUSE},
    {.name = "accept", .verdict = REFUSE},
    {.name = "accept4", .verdict = REFUSE},
    {.name = "fork", .verdict = REFUSE},
    {.name = "vfork", .verdict = REFUSE},
    {.name = "mkdir", .verdict = REFUSE},
    {.name = "mkdirat", .verdict = REFUSE},
    {.name = "rmdir", .verdict = REFUSE},
    {.name = "unlink", .verdict = REFUSE},
    {.name = "unlinkat", .verdict = REFUSE},
    {.name = "rename", .verdict = REFUSE},
    {.name = "renameat", .verdict = REFUSE},
    {.name = "renameat2", .verdict = REFUSE},
    {.name = "link", .verdict = REFUSE},
    {.name = "linkat", .verdict = REFUSE},
    {.name = "symlink", .verdict = REFUSE},
    {.name = "symlinkat", .verdict = REFUSE},
    {.name = "mknod", .verdict = REFUSE},
    {.name = "mknodat", .verdict = REFUSE},
    {.name = "chmod", .verdict = REFUSE},
    {.name = "fchmod", .verdict = REFUSE},
    {.name = "fchmodat", .verdict = REFUSE},
    {.name = "chown", .verdict = REFUSE},
    {.name = "fchown", .verdict = REFUSE},
    {.name = "fchownat", .verdict = REFUSE},
    {.name = "lchown", .verdict = REFUSE},
    {.name = "truncate", .verdict = REFUSE},
    {.name = "ftruncate", .verdict = REFUSE},
    {.name = "utime", .verdict = REFUSE},
    {.name = "utimes", .verdict = REFUSE},
    {.name = "utimensat", .verdict = REFUSE},
    {.name = "futimesat", .verdict = REFUSE},
    {.name = "memfd_create", .verdict = REFUSE},
    {.name = "setpriority", .verdict = REFUSE},
    {.name = "sched_setscheduler", .verdict = REFUSE},
    {.name = "sched_setparam", .verdict = REFUSE},
    {.name = "sched_setattr", .verdict = REFUSE},
    {.name = "sched_setaffinity", .verdict = REFUSE},
    {.name = "mlock", .verdict = REFUSE},
    {.name = "mlock2", .verdict = REFUSE},
    {.name = "mlockall", .verdict = REFUSE},
    /* the end of the process: nothing a pool process's libraries call */
    {.name = "execve", .verdict = KILL},
    {.name = "execveat", .verdict = KILL},
    {.name = "ptrace", .verdict = KILL},
    {.name = "process_vm_readv", .verdict = KILL},
    {.name = "process_vm_writev", .verdict = KILL},
    {.name = "process_madvise", .verdict = KILL},
    {.name = "pidfd_open", .verdict = KILL},
    {.name = "pidfd_getfd", .verdict = KILL},
    {.name = "pidfd_send_signal", .verdict = KILL},
    {.name = "kcmp", .verdict = KILL},
    {.name = "bpf", .verdict = KILL},
    {.name = "perf_event_open", .verdict = KILL},
    {.name = "userfaultfd", .verdict = KILL},
    {.name = "io_uring_setup", .verdict = KILL},
    {.name = "io_uring_enter", .verdict = KILL},
    {.name = "io_uring_register", .verdict = KILL},
    {.name = "keyctl", .verdict = KILL},
    {.name = "add_key", .verdict = KILL},
    {.name = "request_key", .verdict = KILL},
    {.name = "unshare", .verdict = KILL},
    {.name = "setns", .verdict = KILL},
    {.name = "mount", .verdict = KILL},
    {.name = "umount2", .verdict = KILL},
    {.name = "pivot_root", .verdict = KILL},
    {.name = "chroot", .verdict = KILL},
    {.name = "open_tree", .verdict = KILL},
    {.name = "move_mount", .verdict = KILL},
    {.name = "fsopen", .verdict = KILL},
    {.name = "fsconfig", .verdict = KILL},
    {.name = "fsmount", .verdict = KILL},
    {.name = "fspick", .verdict = KILL},
    {.name = "mount_setattr", .verdict = KILL},
    {.name = "open_by_handle_at", .verdict = KILL},
    {.name = "name_to_handle_at", .verdict = KILL},
    {.name = "init_module", .verdict = KILL},
    {.name = "finit_module", .verdict = KILL},
    {.name = "delete_module", .verdict = KILL},
    {.name = "kexec_load", .verdict = KILL},
    {.name = "kexec_file_load", .verdict = KILL},
    {.name = "reboot", .verdict = KILL},
    {.name = "swapon", .verdict = KILL},
    {.name = "swapoff", .verdict = KILL},
    {.name = "iopl", .verdict = KILL},
    {.name = "ioperm", .verdict = KILL},
    {.name = "setuid", .verdict = KILL},
    {.name = "setgid", .verdict = KILL},
    {.name = "setreuid", .verdict = KILL},
    {.name = "setregid", .verdict = KILL},
    {.name = "setresuid", .verdict = KILL},
    {.name = "setresgid", .verdict = KILL},
    {.name = "setfsuid", .verdict = KILL},
    {.name = "setfsgid", .verdict = KILL},
    {.name = "setgroups", .verdict = KILL},
    {.name = "capset", .verdict = KILL},
    {.name = "settimeofday", .verdict = KILL},
    {.name = "clock_settime", .verdict = KILL},
    {.name = "clock_adjtime", .verdict = KILL},
    {.name = "adjtimex", .verdict = KILL},
    {.name = "sethostname", .verdict = KILL},
    {.name = "setdomainname", .verdict = KILL},
    {.name = "acct", .verdict = KILL},
    {.name = "quotactl", .verdict = KILL},
    {.name = "syslog", .verdict = KILL},
    {.name = "vhangup", .verdict = KILL},
};

/* ---- what the filter does not list ---- */

/* The names of the syscalls, taken from libseccomp before the filter is
 * installed, so the handler can name a trapped syscall without calling
 * anything that allocates. */
enum { kMaxNr = 512, kNameLen = 24 };
static char names[kMaxNr][kNameLen];
static atomic_uchar reported[kMaxNr];

static void put(char* buf, size_t* at, size_t cap, const char* s) {
  while (*s != '\0' && *at + 1 < cap) {
    buf[(*at)++] = *s++;
  }
}

static void put_int(char* buf, size_t* at, size_t cap, long v) {
  char digits[24];
  size_t n = 0;
  unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
  do {
    digits[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u > 0 && n < sizeof digits);
  if (v < 0) {
    put(buf, at, cap, "-");
  }
  while (n > 0 && *at + 1 < cap) {
    buf[(*at)++] = digits[--n];
  }
}

/* SIGSYS from SCMP_ACT_TRAP: the syscall did not run; it returns ENOSYS.
 * Async-signal-safe: a write(2) and an atomic. */
static void on_sigsys(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  int nr = si->si_syscall;
  int first = 1;
  if (nr >= 0 && nr < kMaxNr) {
    first = atomic_exchange(&reported[nr], 1) == 0;
  }
  if (first) {
    char line[160];
    size_t at = 0;
    put(line, &at, sizeof line, "isopool: sandbox: syscall ");
    put(line, &at, sizeof line,
        nr >= 0 && nr < kMaxNr && names[nr][0] != '\0' ? names[nr] : "?");
    put(line, &at, sizeof line, " (");
    put_int(line, &at, sizeof line, nr);
    put(line, &at, sizeof line,
        ") is not allowed: it returns ENOSYS (sandbox/README.md)\n");
    ssize_t w = write(STDERR_FILENO, line, at);
    (void)w;
  }
  ucontext_t* uc = ctx;
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
#error "sandbox/seccomp.c: set the syscall's return register for this arch"
#endif
}

static void take_names(void) {
  for (int nr = 0; nr < kMaxNr; nr++) {
    char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (n != NULL) {
      strncpy(names[nr], n, kNameLen - 1);
      free(n);
    }
  }
}

static uint32_t action_of(enum verdict v, int landlocked) {
  switch (v) {
    case LANDLOCKED:
      return landlocked ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(ENOSYS);
    case ALLOW:
      return SCMP_ACT_ALLOW;
    case REFUSE:
      return SCMP_ACT_ERRNO(EPERM);
    case DENY_WRITE:
      return SCMP_ACT_ERRNO(EACCES);
    case NOSYS:
      return SCMP_ACT_ERRNO(ENOSYS);
    case KILL:
      return SCMP_ACT_KILL_PROCESS;
  }
  return SCMP_ACT_KILL_PROCESS;
}

/* Adds kRows to ctx; returns the rows added, or -1 (a row libseccomp
 * refused: a mistake in the table). */
static int add_rows(scmp_filter_ctx ctx, int landlocked) {
  uint64_t self = (uint64_t)getpid();
  int added = 0;
  for (size_t i = 0; i < sizeof kRows / sizeof kRows[0]; i++) {
    const row* r = &kRows[i];
    int nr = seccomp_syscall_resolve_name(r->name);
    if (nr == __NR_SCMP_ERROR) {
      continue; /* not a syscall on this arch */
    }
    struct scmp_arg_cmp cmp[2];
    unsigned n = 0;
    for (; n < 2 && r->cmp[n].op != 0; n++) {
      cmp[n] = r->cmp[n];
      if (cmp[n].op == SCMP_CMP_EQ && cmp[n].datum_a == SELF) {
        cmp[n].datum_a = self;
      }
    }
    if (seccomp_rule_add_array(ctx, action_of(r->verdict, landlocked), nr, n,
                               cmp) != 0) {
      return -1;
    }
    added++;
  }
  return added;
}

int iso__sandbox_seccomp(const iso_sandbox_opts* o, iso_sandbox_report* out) {
  if (o->seccomp == ISO_SANDBOX_OFF) {
    out->seccomp_why = "off";
    return 0;
  }
  int required = o->seccomp != ISO_SANDBOX_BEST_EFFORT;
  take_names();
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
  if (ctx == NULL) {
    return ISO_ENOMEM;
  }
  int rc = ISO_ESANDBOX;
  const char* why = "unavailable: libseccomp refused a row";
  int rows = -1;
  if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) !=
          0 ||
      seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
    why = "unavailable: libseccomp cannot synchronise threads";
  } else {
    rows = add_rows(ctx, out->landlock_abi > 0);
  }
  if (rows >= 0) {
    struct sigaction sa = {.sa_sigaction = on_sigsys,
                           .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0) {
      why = "unavailable: no SIGSYS handler";
    } else if (seccomp_load(ctx) != 0) {
      why = "unavailable: the kernel refused the filter";
    } else {
      rc = 0;
      out->seccomp = 1;
      out->seccomp_rows = (unsigned)rows;
      why = NULL;
    }
  }
  seccomp_release(ctx);
  out->seccomp_why = why;
  if (rc != 0 && !required) {
    return 0;
  }
  return rc;
}
