/* iso_sandbox.h: what a pool process may still do once its JavaScript
 * starts: the sandbox it puts itself in (issue 11).
 *
 * A pool process runs untrusted JavaScript on V8, which is not a security
 * boundary on its own. Once it has started, and before it takes any job,
 * it narrows itself in two steps, each irreversible:
 *
 *   iso_sandbox_enter  while the process has one thread (right after
 *                      exec, before V8, libuv or NNG start theirs):
 *                      resource limits, then no_new_privs;
 *   iso_sandbox_seal   once its sockets are connected and its threads
 *                      started: the seccomp allow-list, on every thread.
 *
 * iso_sandbox_apply does both, for a process that is still single-threaded
 * when it is ready (the tests). What each step does, why, and what a
 * compromised isolate could still do is in sandbox/README.md; the
 * allow-list itself is the table in sandbox/seccomp.c.
 *
 * Only sandbox/ includes libseccomp's header (scripts/check-includes.sh).
 * Linux only.
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
  /* RLIMIT_NOFILE, soft and hard: the most file descriptors the process
   * may hold (its sockets, epoll and eventfds, a module being read).
   * 0: 256. Descriptors already open above it stay open. */
  unsigned max_files;
  /* The seccomp allow-list. Default: required. */
  iso_sandbox_mode seccomp;
} iso_sandbox_opts;

/* What was applied, for the service's log and status. Zero-initialise it
 * before the first call; each step fills its own fields. */
typedef struct iso_sandbox_report {
  int limits;              /* 1 once the rlimits are set */
  unsigned max_files;      /* RLIMIT_NOFILE as set */
  int no_new_privs;        /* 1 once PR_SET_NO_NEW_PRIVS is set */
  int seccomp;             /* 1 once the filter is on every thread */
  unsigned seccomp_rows;   /* rows of the allow-list table installed */
  const char* seccomp_why; /* why not, when seccomp is 0: a static
                              string ("off", "unavailable: ...") or NULL */
} iso_sandbox_report;

/* iso_sandbox_enter: the first step, in this order: RLIMIT_CORE 0 (no
 * core file holds other jobs' data), RLIMIT_NOFILE (opts->max_files),
 * then PR_SET_NO_NEW_PRIVS (no execve can gain privileges, and the
 * filter and Landlock may be installed without CAP_SYS_ADMIN). Call it
 * while the process has one thread: no_new_privs is a per-thread flag,
 * and threads started later inherit it. `opts` may be NULL (defaults).
 * Returns 0, or ISO_EIO when the kernel refused a limit or the flag (out
 * says how far it got). Thread: the process's only thread. */
int iso_sandbox_enter(const iso_sandbox_opts* opts, iso_sandbox_report* out);

/* iso_sandbox_seal: the last step: the seccomp allow-list, installed on
 * every thread of the process at once (SECCOMP_FILTER_FLAG_TSYNC), and a
 * SIGSYS handler for the syscalls it does not list (sandbox/README.md,
 * "The filter"). Call it after iso_sandbox_enter, once the process has
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

/* iso_sandbox_describe: the report as one line for the log
 * ("nofile=256 core=0; no_new_privs; seccomp: 182 rows"), NUL-terminated
 * and cut to len. Returns what snprintf returns. Thread: any. */
int iso_sandbox_describe(const iso_sandbox_report* r, char* buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ISO_SANDBOX_H */
