/* proc.h: runs a program the way a user would and captures what it says.
 *
 * proc_run() forks, execs argv[0] (a path) in `cwd`, captures stdout and
 * stderr through pipes, kills the child after `timeout_s` seconds, and
 * reports the exit status (-1 when killed by a signal or the timeout).
 */
#ifndef ISO_PROC_H
#define ISO_PROC_H

typedef struct proc_result {
  int status;  /* exit status, or -1 */
  int signal;  /* the signal that ended it, or 0 */
  char* out;   /* stdout, NUL-terminated; owned */
  char* err;   /* stderr, NUL-terminated; owned */
  double secs; /* wall time */
} proc_result;

/* proc_now: CLOCK_MONOTONIC in seconds. Thread: any. */
double proc_now(void);

/* proc_run: returns 0 and fills r (free with proc_result_free), or -1 when
 * the child could not be started. argv is NULL-terminated; cwd may be NULL
 * (the caller's). Thread: any (it forks; not while another thread of the
 * process holds a lock the child would need). */
int proc_run(const char* cwd,
             const char* const* argv,
             int timeout_s,
             proc_result* r);

/* proc_result_free: frees r's text and zeroes it. */
void proc_result_free(proc_result* r);

#endif /* ISO_PROC_H */
