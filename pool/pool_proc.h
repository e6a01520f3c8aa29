/* pool_proc.h: a pool process (issue 11, step 4): `isopool pool-process`, the
 * front's worker threads in a process of their own. What the front gives
 * it on its command line, in one place (proc_args.c: the front writes it,
 * the process parses it and refuses anything else), the names of its
 * links in the front's directory, and its main (proc.c).
 *
 * Private to pool/; cli/isopool.c reaches the main, proc.c's, through
 * iso_pool.h (iso_pool_process_main).
 */
#ifndef ISO_POOL_POOL_PROC_H
#define ISO_POOL_POOL_PROC_H

#include <stddef.h>
#include <stdint.h>

/* The subcommand (argv[1] of the front's exec of itself). */
#define POOL_PROC_CMD "pool-process"
/* Its exit status when its command line is refused; 0 after a STOP or
 * once the front is gone; 1 when it could not start (sandbox, V8, a
 * link); POOL_SUPER_ORPHAN_EXIT when its front died before it began. */
#define POOL_PROC_EXIT_USAGE 2
/* Worker threads in one pool process, at most: each holds an isolate,
 * a loop and two links (24 descriptors with their NNG sockets, pipes and
 * pollers: RLIMIT_NOFILE grows with them, proc.c). */
#define POOL_PROC_MAX_WORKERS 64
/* How long a pool process whose front went waits for its worker threads
 * to end (those that had a STOP send their last records) before it
 * exits anyway: nobody is left to answer. */
#define POOL_PROC_STOP_MS 500

/* What a pool process is given. Strings are borrowed: the caller's when
 * written, argv's when parsed. */
typedef struct pool_proc_args {
  const char* linkdir; /* the front's links' directory (pool_linkdir):
                          absolute, short enough for the links' names */
  uint32_t proc;       /* its number and generation among the front's */
  uint32_t gen;        /* pool processes: its links' names */
  int workers[POOL_PROC_MAX_WORKERS]; /* the front's numbers of the worker
                                         threads it runs (poolctl's), each
                                         once, each >= 0 */
  int nworkers;                       /* 1 .. POOL_PROC_MAX_WORKERS */
  const char* modules;                /* the module root: absolute */
  size_t heap_mb;         /* each isolate's heap limit (1 .. 1 << 20) */
  size_t process_max_mb;  /* --process-max-mb: RLIMIT_DATA; 0: none, else
                             above nworkers x heap_mb (sandbox/README.md,
                             "Memory": V8's limit comes first) */
  size_t max_message;     /* --max-message (1 .. 1 << 30) */
  uint32_t background_ms; /* --background-ms; 0: the worker's default */
  uint32_t nslots;        /* the front's table of jobs per worker */
  uint32_t nperms;        /* and of permission sets (POOL_PERM_INDEX) */
  int log_jobs;           /* --log-jobs */
  const char* log_level;  /* debug, info, warn or error */
  const char* log_format; /* text or json */
  const char* v8_flags;   /* --v8-flags; NULL: none */
  /* Tests only, and only with ISOPOOL_TEST_FAULTS=1 in the environment: a
   * descriptor (given by the supervisor) on which the process, once
   * sealed, writes what opening a file outside its module root and
   * making a socket did. -1: none. */
  int probe_fd;
} pool_proc_args;

/* pool__proc_args_parse: reads a pool process's command line (argv[0] is
 * the subcommand, options follow: "--name value" pairs and flags, each
 * named once, those of pool_proc_args; proc_args.c has the table) into
 * *out. Returns 0, or ISO_EUSAGE with a sentence in err naming the option
 * and what is wrong (unknown, repeated, missing, without its value, not
 * a number, out of range, a list that is not one, a path that is not
 * absolute or too long, a limit the heaps do not fit in). Thread: any. */
int pool__proc_args_parse(int argc,
                          char* const* argv,
                          pool_proc_args* out,
                          char* err,
                          size_t errlen);

/* pool__proc_argv_new: constructor: the command line that gives a pool
 * process *a: {"isopool", POOL_PROC_CMD, options..., NULL}, each string
 * and the array malloc'd, to pass to pool__super_spawn. Refuses what the
 * process would refuse (it parses what it wrote). Returns 0 and *out, or
 * ISO_EUSAGE with err, or ISO_ENOMEM. pool__proc_argv_free: destructor;
 * accepts NULL. Thread: any. */
int pool__proc_argv_new(const pool_proc_args* a,
                        char*** out,
                        char* err,
                        size_t errlen);
void pool__proc_argv_free(char** argv);

/* The links of a pool process, in the front's directory: its control
 * link "<proc>.<gen>.ctl" and, per worker thread, "<proc>.<gen>.<w>.jobs"
 * and "....ops" (w: the front's number of the worker). */
typedef enum pool_proc_link {
  POOL_PROC_CTL = 1,
  POOL_PROC_JOBS,
  POOL_PROC_OPS
} pool_proc_link;

/* pool__proc_link_url: writes the ipc:// URL of one of them to out (the
 * worker is ignored for the control link). Returns 0, ISO_EINVAL (no such
 * link, a negative worker, linkdir not absolute) or ISO_ETOOBIG (too long
 * for an ipc:// path or for out). Thread: any. */
int pool__proc_link_url(const char* linkdir,
                        uint32_t proc,
                        uint32_t gen,
                        pool_proc_link link,
                        int worker,
                        char* out,
                        size_t cap);

#endif /* ISO_POOL_POOL_PROC_H */
