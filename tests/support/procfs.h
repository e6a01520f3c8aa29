/* procfs.h: what the suites read of other processes in /proc: a field of
 * /proc/PID/status, a process's living children (a daemon's pool
 * processes), waiting for their number, a variable of /proc/PID/environ.
 *
 * Linux only, libc only (library iso_test_support). A pid of 0 means the
 * calling process (/proc/self). Thread: any.
 */
#ifndef ISO_TEST_PROCFS_H
#define ISO_TEST_PROCFS_H

#include <stddef.h>

/* procfs_status_field: the number after "Name:" in /proc/PID/status
 * ("NoNewPrivs", "Seccomp", "Threads", "VmData" in kB), or -1 (no such
 * line, no such process). */
long procfs_status_field(int pid, const char* name);

/* procfs_children: pid's children (/proc/PID/task/TID/children of every
 * thread, as the front's supervisor thread forks them) but zombies
 * (killed, not reaped yet: no longer a pool process), in no order, into
 * out (at most max). Returns how many. */
int procfs_children(int pid, int* out, int max);

/* procfs_wait_children: waits until pid has `want` living children, at
 * most timeout_ms (scaled by iso_test_scale: a pool process starts
 * slower under sanitizers). Returns how many it had at the end. */
int procfs_wait_children(int pid, int want, int timeout_ms);

/* procfs_environ_get: the value of variable `name` in /proc/PID/environ
 * (the environment pid was exec'd with) into val (cap bytes, cut), 1; or
 * 0 when it has none (or the file cannot be read). */
int procfs_environ_get(int pid, const char* name, char* val, size_t cap);

#endif /* ISO_TEST_PROCFS_H */
