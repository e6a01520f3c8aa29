/* super.h: the front's supervisor of pool processes (issue 11, step 4):
 * a thread with its own libuv loop that starts pool processes, hears them
 * die and runs the timers of delayed restarts; the restart policy as pure
 * functions.
 *
 * Private to pool/. Nothing in the front but the supervisor may wait for
 * a child or take SIGCHLD: super.c says how its SIGCHLD handling lives
 * with the front's other threads and loops (DESIGN there).
 */
#ifndef ISO_POOL_SUPER_H
#define ISO_POOL_SUPER_H

#include <stddef.h>
#include <stdint.h>

#include "pool_base.h"

typedef struct pool_super pool_super;

/* What the exit callback hears of a child that ended. */
typedef struct pool_super_exit {
  int pid;
  int status;        /* its exit status, or -1 when a signal ended it */
  int signal;        /* the signal that ended it, or 0 */
  uint64_t lived_ns; /* from its fork to its reaping */
  void* data;        /* pool_super_spawn's data */
  int at_end;        /* pool__super_free killed it (the service's end) */
} pool_super_exit;

/* pool_super_exit_cb: a child ended (it has been reaped: its pid is free
 * for reuse once this returns, so pool__super_kill refuses it already).
 * Every child spawn started is reported exactly once, those pool__super_free
 * kills included. Thread: the supervisor's; it may call pool__super_spawn,
 * pool__super_kill and pool__super_after (which then do their work at once,
 * without the round trip through the loop), take the front's locks that
 * are never held while waiting for the supervisor (no lock held around a
 * pool__super_spawn call from another thread), and log; it must not block
 * (the loop reaps and spawns for every process) nor call pool__super_free. */
typedef void (*pool_super_exit_cb)(pool_super* s,
                                   const pool_super_exit* e,
                                   void* arg);

typedef struct pool_super_opts {
  pool_logger log;
  pool_super_exit_cb exit_cb; /* required */
  void* arg;                  /* exit_cb's */
} pool_super_opts;

/* pool__super_new: constructor: the supervisor and its thread, running.
 * Returns 0 and *out, ISO_EINVAL (no exit_cb), ISO_ENOMEM or
 * ISO_EINTERNAL (no thread, no loop). Thread: any. */
int pool__super_new(const pool_super_opts* o, pool_super** out);

/* pool__super_free: destructor: SIGKILLs every child still running, reaps
 * it (its exit callback runs, on the supervisor's thread, before this
 * returns), drops the pending timers (their callbacks run with cancelled
 * set), ends the thread and frees. Spawns asked for after it began fail
 * with ISO_ESHUTDOWN. Accepts NULL. Thread: any but the supervisor's. */
void pool__super_free(pool_super* s);

/* What to start. Everything is copied before pool__super_spawn returns. */
typedef struct pool_super_spawn {
  const char* path;        /* exec'd as is (the front: /proc/self/exe) */
  const char* const* argv; /* NULL-terminated, argv[0] included */
  /* The child's environment, and nothing else of the front's: the
   * front's variables named in `keep` (NULL-terminated names; NULL:
   * none), or every one of them with keep_all; then the "NAME=value"
   * strings of `env` (NULL-terminated; NULL: none), each replacing a kept
   * variable of its name; then POOL_SUPER_PARENT_ENV, which the
   * supervisor sets. A pool process is not trusted with what the service
   * would not give a job (docs/architecture.md): the front's secrets stay
   * out of its /proc/PID/environ and its getenv. */
  const char* const* keep;
  int keep_all;
  const char* const* env;
  /* Descriptors of the front the child gets, at the same numbers (each
   * >= 3); every other descriptor is closed in the child before exec.
   * Its stdin is /dev/null, its stdout and stderr the front's. */
  const int* fds;
  int nfds;
  void* data; /* given back in its pool_super_exit */
} pool_super_spawn;

/* pool__super_spawn: forks and execs a child on the supervisor's thread
 * (so that thread is its parent for PR_SET_PDEATHSIG: see
 * pool__super_child_begin) and returns once exec succeeded or failed.
 * Returns 0 and *pid, ISO_EINVAL (no path or argv, a bad fd), ISO_ENOENT
 * (exec found no such file), ISO_EPERM (exec refused), ISO_ENOMEM,
 * ISO_EINTERNAL (fork failed) or ISO_ESHUTDOWN (being freed). A child
 * whose exec failed is reaped at once and never reported. Thread: any
 * (from another thread it is marshalled onto the loop and waits). */
int pool__super_spawn(pool_super* s, const pool_super_spawn* sp, int* pid);

/* pool__super_kill: sends sig to pid if pid is a child of s not yet
 * reaped (so never to a process that reused the pid). Returns 0 or
 * ISO_ENOENT. Thread: any. */
int pool__super_kill(pool_super* s, int pid, int sig);

/* pool__super_exited: whether child pid has ended, without reaping it
 * (waitid with WNOWAIT, under the lock that reaping takes, so never of a
 * process that reused the pid): 1 and its end in *e (as its exit callback
 * will report it, lived_ns up to now), or 0 (it runs, or it is no child
 * of s's not yet reaped). Its exit callback still comes, at its reap: a
 * caller that hears of a death first (its links closing) can answer for
 * it without waiting for the SIGCHLD's way to the supervisor's loop.
 * Thread: any. */
int pool__super_exited(pool_super* s, int pid, pool_super_exit* e);

/* pool__super_after: runs fn(s, arg, 0) on the supervisor's thread after
 * ms (a delayed restart); at pool__super_free, a pending one runs as
 * fn(s, arg, 1) instead (release arg, start nothing). Returns 0,
 * ISO_ENOMEM or ISO_ESHUTDOWN (fn is then never called). Thread: any. */
typedef void (*pool_super_timer_cb)(pool_super* s, void* arg, int cancelled);
int pool__super_after(pool_super* s,
                      uint32_t ms,
                      pool_super_timer_cb fn,
                      void* arg);

/* ---- in the child ---- */

/* The variable pool__super_spawn sets to the front's pid. */
#define POOL_SUPER_PARENT_ENV "ISO_POOL_PARENT"
/* The exit status of a child that found its front gone. */
#define POOL_SUPER_ORPHAN_EXIT 70

/* pool__super_child_begin: the first thing a pool process does (before
 * its sandbox, before any thread): asks the kernel to SIGKILL it when its
 * parent dies (PR_SET_PDEATHSIG; the supervisor also sets it between fork
 * and exec, this says it again where the pool process's code can see it),
 * then exits with POOL_SUPER_ORPHAN_EXIT if its parent is no longer the
 * front that started it (the front died before the first step: the
 * signal would never come). Returns 0, or ISO_EINVAL when the process was
 * not started by a supervisor (no POOL_SUPER_PARENT_ENV). The "parent" of
 * PR_SET_PDEATHSIG is the supervisor's thread, not the front's process:
 * the child also dies when that thread ends, which only
 * pool__super_free does, after killing it. Thread: the child's only. */
int pool__super_child_begin(void);

/* ---- the restart policy (pure) ---- */

/* A process that dies within POOL_QUICK_DEATH_MS of becoming active is
 * restarted after a backoff of POOL_BACKOFF_MIN_MS doubling to
 * POOL_BACKOFF_MAX_MS; one that lived longer is restarted at once and its
 * backoff starts over. */
#define POOL_QUICK_DEATH_MS 10000
#define POOL_BACKOFF_MIN_MS 100
#define POOL_BACKOFF_MAX_MS 30000
/* --spare-processes' default. */
#define POOL_SPARE_PROCESSES_DEFAULT 1

/* One process slot's backoff; zeroed: none yet. */
typedef struct pool_backoff {
  uint32_t next_ms; /* the next quick death's delay (0: MIN) */
} pool_backoff;

/* pool__restart_delay_ms: how long to wait before restarting a process
 * that died after active_ms as an active process (< 0: it never became
 * active, a quick death), and b's next step. Thread: any (b is the
 * caller's). */
uint32_t pool__restart_delay_ms(pool_backoff* b, int64_t active_ms);

/* pool__spares_to_spawn: how many processes to spawn now so that `want`
 * spares (--spare-processes) will be there: those ready, those starting
 * and those waiting for their backoff count. Thread: any. */
int pool__spares_to_spawn(int want, int ready, int starting, int waiting);

#endif /* ISO_POOL_SUPER_H */
