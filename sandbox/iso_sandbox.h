/* iso_sandbox.h: what a pool process may still do once its JavaScript
 * starts: the sandbox it puts itself in (issue 11).
 *
 * A pool process runs untrusted JavaScript on V8, which is not a security
 * boundary on its own. Once it has started, and before it takes any job,
 * it narrows itself in two steps, each irreversible:
 *
 *   iso_sandbox_enter  while the process has one thread (right after
 *                      exec, before V8, libuv or NNG start theirs):
 *                      resource limits, then no_new_privs, then Landlock
 *                      (the file system, read-only beneath the module
 *                      roots);
 *   iso_sandbox_seal   once its sockets are connected and its threads
 *                      started: the seccomp allow-list, on every thread.
 *
 * iso_sandbox_apply does both, for a process that is still single-threaded
 * when it is ready (the tests). What each step does, why, and what a
 * compromised isolate could still do is in sandbox/README.md; the
 * allow-list itself is the table in sandbox/seccomp.c.
 *
 * Only sandbox/ includes libseccomp's and Landlock's headers
 * (scripts/check-includes.sh). Linux only.
 */
#ifndef ISO_SANDBOX_H
#define ISO_SANDBOX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How much a layer of the sandbox is insisted on. The zero value is each
 * layer's default, written in iso_sandbox_opts. */
typedef enum iso_sandbox_mode {
  ISO_SANDBOX_DEFAULT = 0,
  ISO_SANDBOX_REQUIRED,    /* unavailable: the call fails (ISO_ESANDBOX) */
  ISO_SANDBOX_BEST_EFFORT, /* unavailable: reported, the call goes on */
  ISO_SANDBOX_OFF          /* not applied (debugging: strace, gdb) */
} iso_sandbox_mode;

typedef struct iso_sandbox_opts {
  /* What the process may read, NULL-terminated lists of paths. Beneath
   * each root (the module roots: directories) it may read files and list
   * directories; each read path (a file, or a directory whose files it
   * may read but not list) is what the runtime itself needs after
   * iso_sandbox_enter. read_paths NULL: iso_sandbox_runtime_paths(); to
   * add to it, copy it into a list of your own. A root that does not
   * exist fails the call; a read path that does not exist is skipped. */
  const char* const* roots;
  const char* const* read_paths;
  /* Landlock. Default: best effort (a kernel without it is reported,
   * and the filter's read-only opens remain). */
  iso_sandbox_mode landlock;
  /* RLIMIT_NOFILE, soft and hard: the most file descriptors the process
   * may hold (its sockets, epoll and eventfds, a module being read).
   * 0: 256. Descriptors already open above it stay open. */
  unsigned max_files;
  /* RLIMIT_DATA, soft and hard, in MiB: the most private writable memory
   * the process may map (sandbox/README.md, "Memory"); 0: no limit.
   * Exceeding it fails the allocation: V8 then stops the JavaScript (as
   * at its heap limit) or ends the process (a fatal out-of-memory
   * error); an ArrayBuffer or a Wasm memory.grow fails in JavaScript.
   * Not applied in an AddressSanitizer or ThreadSanitizer build, whose
   * shadow memory counts as data (out->max_mb_why). */
  size_t max_mb;
  /* The seccomp allow-list. Default: required. */
  iso_sandbox_mode seccomp;
} iso_sandbox_opts;

/* What was applied, for the service's log and status. Zero-initialise it
 * before the first call and pass the same one to each step; each fills
 * its own fields. The strings are static. */
typedef struct iso_sandbox_report {
  int limits;               /* 1 once the rlimits are set */
  unsigned max_files;       /* RLIMIT_NOFILE as set */
  size_t max_mb;            /* RLIMIT_DATA as set, MiB; 0: none */
  const char* max_mb_why;   /* why not, when max_mb was asked for and is
                               0 here: in an AddressSanitizer build */
  int no_new_privs;         /* 1 once PR_SET_NO_NEW_PRIVS is set */
  int landlock_abi;         /* the Landlock ABI applied; 0: none */
  unsigned landlock_rules;  /* paths granted */
  const char* landlock_why; /* why not, when landlock_abi is 0: "off",
                               "unavailable: ...", or NULL */
  int seccomp;              /* 1 once the filter is on every thread */
  unsigned seccomp_rows;    /* rows of the allow-list table installed */
  const char* seccomp_why;  /* why not, when seccomp is 0: "off",
                               "unavailable: ...", or NULL */
} iso_sandbox_report;

/* iso_sandbox_enter: the first step, in this order: RLIMIT_CORE 0 (no
 * core file holds other jobs' data), RLIMIT_NOFILE (opts->max_files),
 * RLIMIT_DATA (opts->max_mb), PR_SET_NO_NEW_PRIVS (no execve can gain
 * privileges, and the filter and Landlock may be installed without
 * CAP_SYS_ADMIN), then Landlock: every right the kernel's ABI handles is denied
 * but reading beneath opts->roots and reading opts->read_paths (so TCP bind and
 * connect, abstract UNIX sockets and signals outside the process too, where the
 * ABI has them). Call it while the process has one thread: no_new_privs
 * and Landlock hold for the calling thread and the threads it starts
 * later, not for threads already running. `opts` may be NULL (defaults:
 * no root, so only the runtime's paths are readable). Returns 0;
 * ISO_EBUSY when Landlock would apply but the process has other threads;
 * ISO_ESANDBOX when Landlock is required and the kernel lacks or refused
 * it; ISO_ENOENT when a root does not exist; ISO_EIO when the kernel
 * refused a limit, the flag or a path (out says how far it got).
 * Thread: the process's only thread. */
int iso_sandbox_enter(const iso_sandbox_opts* opts, iso_sandbox_report* out);

/* iso_sandbox_seal: the last step: the seccomp allow-list, installed on
 * every thread of the process at once (SECCOMP_FILTER_FLAG_TSYNC), and a
 * SIGSYS handler for the syscalls it does not list (sandbox/README.md,
 * "The filter"). `out` is the report iso_sandbox_enter filled: openat2,
 * whose flags a filter cannot read, is let through only when Landlock is
 * in force. Call it after iso_sandbox_enter, once the process has
 * connected its sockets and started its threads, before it takes any
 * work. Returns 0; ISO_ESANDBOX when seccomp is required and the kernel
 * or libseccomp could not install the filter (nothing was installed);
 * ISO_ENOMEM. With seccomp best-effort, an unavailable filter returns 0
 * and says why in out->seccomp_why. Thread: any thread of the process
 * (the filter goes to all of them). */
int iso_sandbox_seal(const iso_sandbox_opts* opts, iso_sandbox_report* out);

/* iso_sandbox_apply: iso_sandbox_enter then iso_sandbox_seal, for a
 * process that needs no socket or thread before it is sealed. Returns
 * the first error. Thread: the process's only thread. */
int iso_sandbox_apply(const iso_sandbox_opts* opts, iso_sandbox_report* out);

/* iso_sandbox_runtime_paths: what V8, glibc and OpenSSL read after
 * iso_sandbox_enter (found by tracing tests/test_sandbox.c's runtime),
 * the default of opts->read_paths: /dev/urandom, /proc/self/maps,
 * /proc/sys/vm/overcommit_memory, OpenSSL's configuration, the time
 * zone. A static NULL-terminated list. Thread: any. */
const char* const* iso_sandbox_runtime_paths(void);

/* iso_sandbox_describe: the report as one line for the log ("nofile=256
 * core=0; no_new_privs; landlock: abi 7, 7 paths; seccomp: 248 rows"),
 * NUL-terminated and cut to len. Returns what snprintf returns.
 * Thread: any. */
int iso_sandbox_describe(const iso_sandbox_report* r, char* buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ISO_SANDBOX_H */
