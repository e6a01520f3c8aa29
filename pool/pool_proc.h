/* pool_proc.h: a pool process (issue 11, step 4): `isopool pool-process`, the
 * front's worker threads in a process of their own. What the front gives
 * it on its command line, in one place (proc_args.c: the front writes it,
 * the process parses it and refuses anything else: among it the numbers
 * of the link sockets it inherits), and its main (proc.c).
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
 * a loop and two links (a socket and an epoll descriptor each:
 * RLIMIT_NOFILE grows with them, proc.c). */
#define POOL_PROC_MAX_WORKERS 64
/* How long a pool process whose front went waits for its worker threads
 * to end (those that had a STOP send their last records) before it
 * exits anyway: nobody is left to answer. */
#define POOL_PROC_STOP_MS 500

/* What a pool process is given. Strings are borrowed: the caller's when
 * written, argv's when parsed. */
typedef struct pool_proc_args {
  /* The link sockets it inherits (iso_link.h; the front made them and
   * gave them to the spawn): its control link's, and per worker (in the
   * order of `workers`) its jobs link's and its ops link's. Each >= 3,
   * each named once; as many of each list as workers. */
  int ctl_fd;
  int jobs_fds[POOL_PROC_MAX_WORKERS];
  int njobs_fds;
  int ops_fds[POOL_PROC_MAX_WORKERS];
  int nops_fds;
  uint32_t proc; /* its number and generation among the front's */
  uint32_t gen;  /* pool processes: its name in the log */
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
  /* recycling (pool_runner_opts, pool_group_opts.spares; 0: off) */
  uint32_t spares;
  uint32_t recycle_jobs;
  uint32_t heap_soft_mb;
  uint32_t recycle_heap_mb;
  uint32_t idle_ms;
  uint32_t nslots;        /* the front's table of jobs per worker */
  uint32_t nperms;        /* and of permission sets (POOL_PERM_INDEX) */
  int log_jobs;           /* --log-jobs */
  const char* log_level;  /* debug, info, warn or error */
  const char* log_format; /* text or json */
  const char* v8_flags;   /* --v8-flags; NULL: none */
  uint32_t code_cache_mb; /* --code-cache-mb: the code cache's bound; 0:
                             none */
  /* --import-map, --import-map-url: the map's JSON text itself (the
   * process could not read the file: its sandbox holds it to the module
   * root) and its URL; both or neither */
  const char* import_map;
  const char* import_map_url;
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
 * absolute, a limit the heaps do not fit in, lists of descriptors that
 * are not one per worker or name one twice). Whether the descriptors are
 * link sockets is the process's to check (iso_link_check_fd). Thread: any. */
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

#endif /* ISO_POOL_POOL_PROC_H */
