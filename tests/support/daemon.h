/* daemon.h: the harness the service suites (test_service*.c) share:
 * starting and stopping the real `isopool serve`.
 *
 * A suite names its daemon (daemon_names), builds the argv it needs
 * (daemon_argv), opens a client on the URL, and calls daemon_start(), which
 * execs the daemon with its stderr in a log file and waits until a trivial
 * eval is answered. daemon_stop() sends SIGTERM and checks that the daemon
 * exits 0; daemon_clean() prints the log when the case failed and removes
 * the log and the socket file. What is particular to one suite (its flags,
 * a data tree) stays in that suite, or in its family's fixture when
 * several suites share it (service.h). Also here: wait_count for the trackers
 * of asynchronous replies (tracker.h), and free_port for a TCP listener.
 * Library iso_test_ipc.
 *
 * A daemon started in a case belongs to the case's process (tap.h): it
 * dies with it (PR_SET_PDEATHSIG) and the runner kills what is left of the
 * case's process group. Thread: the case's main thread (daemon_spawn's
 * death signal is tied to the thread that forks).
 */
#ifndef ISO_DAEMON_H
#define ISO_DAEMON_H

#include <pthread.h>
#include <sys/types.h>

#include "iso_client.h"
#include "tap.h"

/* The sizes of a suite's url, path and log buffers; the most argv holds. */
enum { DAEMON_URL_LEN = 160, DAEMON_PATH_LEN = 128, DAEMON_ARGC = 64 };

/* wait_count: with mu, waits on cv until *done >= want or timeout_ms
 * passed (cv is signalled by the callbacks that count *done; it is
 * checked at least every 10 ms). Returns 1 if *done reached want. */
int wait_count(pthread_mutex_t* mu,
               pthread_cond_t* cv,
               const int* done,
               int want,
               int timeout_ms);

/* free_port: a free TCP port on the loopback (bound, read, released), or
 * -1. */
int free_port(void);

/* daemon_names: names this process's next daemon: the socket file
 * /tmp/isopool-<tag>-<pid>-<n>.ipc (removed if it is left over), its URL
 * ipc://<path> and the log /tmp/isopool-<tag>-<pid>-<n>.log. */
void daemon_names(const char* tag,
                  char path[DAEMON_PATH_LEN],
                  char url[DAEMON_URL_LEN],
                  char log[DAEMON_PATH_LEN]);

/* daemon_argv: fills argv (DAEMON_ARGC entries) with base and then extra
 * (both NULL-terminated; extra may be NULL), NULL-terminated. */
void daemon_argv(const char* argv[DAEMON_ARGC],
                 const char* const* base,
                 const char* const* extra);

/* daemon_spawn: forks and execs argv with stderr to `log`; the pid, or -1.
 * The child dies with the test. */
pid_t daemon_spawn(const char* const* argv, const char* log);

/* daemon_start: runs argv (the daemon, stderr to `log`) and waits up to
 * 10 s until the eval job `ping` sent through c (already open on its URL)
 * is fulfilled. Sets *pid (0 when the daemon is not running). Returns 0,
 * or -1 (the case is failed). */
int daemon_start(const char* const* argv,
                 const char* log,
                 iso_client* c,
                 const char* ping,
                 pid_t* pid);

/* daemon_wait: waits up to timeout_ms for *pid to exit, and sets *pid to 0.
 * Returns its exit status, or -1 (a signal, not running, or still running:
 * then it is killed). */
int daemon_wait(pid_t* pid, int timeout_ms);

/* daemon_stop: SIGTERM, then the daemon must exit 0 within timeout_ms (the
 * grace period is over at once when nothing runs). Nothing when *pid is 0
 * (it did not start, or was waited for). */
void daemon_stop(pid_t* pid, int timeout_ms);

/* daemon_dump_log: prints the first 50 lines of the daemon's stderr. */
void daemon_dump_log(const char* log);

/* daemon_log_lines: how many lines of the daemon's log (the file `log`)
 * have `what` in them; 0 when it cannot be read. */
int daemon_log_lines(const char* log, const char* what);

/* daemon_wait_log: waits until a line of `log` has `what`, at most
 * timeout_ms (scaled by iso_test_scale). Returns 1 if one came. */
int daemon_wait_log(const char* log, const char* what, int timeout_ms);

/* daemon_clean: after daemon_stop: prints the log if the case failed, then
 * removes the log and the socket file. */
void daemon_clean(const char* log, const char* path);

#endif /* ISO_DAEMON_H */
