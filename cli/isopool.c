/* isopool.c: the isopool command.
 *
 *   isopool serve [OPTIONS]
 *   isopool run [--root DIR] [--import-map FILE] [--v8-flags=FLAGS]
 *               [--heap-mb N] [--kv-path FILE] FILE [ARG...]
 *
 * `serve` starts the service (pool/iso_pool.h) and runs until SIGINT or
 * SIGTERM, then shuts down gracefully and exits 0. Its options may come
 * from a config file too (--config, cli/config.h). Its main thread waits
 * for signals: SIGHUP reads the config file again and reloads the
 * modules (serve_reload); under systemd it tells the service manager
 * when it is ready, reloading and stopping, and pings its watchdog while
 * the front's routing answers (sd_notify; docs/deploy.md).
 *
 * `run` is `deno run` for one module on the calling thread: evaluate FILE as
 * the main module, take its default export as the value (a function is
 * called with the ARGs, each parsed as JSON or else passed as a string, and
 * awaited), print a value that is not undefined as one JSON line, dispatch
 * `load`, run the event loop to completion, dispatch `unload`. Like `deno
 * run`, FILE and its imports may be any file the user can read (the
 * runtime's module root is "/"); `--root DIR` confines them to DIR, as the
 * service's module root does. Exit status:
 * 0 when everything settled fine, 1 on an error (printed Deno-style to
 * stderr), 2 on bad usage.
 *
 * `isopool --version` prints isopool's version (common/iso_version.h) on
 * its first line, then the V8 and Node.js (libnode) it was built with.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_net.h"
#include "iso_pool.h"
#include "iso_rt.h"
#include "iso_suggest.h"
#include "iso_utf8.h"
#include "iso_version.h"

#define EXIT_USAGE 2

/* --processes' default (docs/architecture.md, "Processes", has the
 * figures behind it). */
#define ISO_SERVE_PROCESSES_DEFAULT (-1) /* one per 2 workers */
/* The least --max-message: room for any error reply the service makes
 * (its message, its stats; without the id when that leaves no room). */
#define ISO_SERVE_MIN_MESSAGE 1024

#ifdef ISO_DEFAULT_CONFIG
#define ISO_DEFAULT_CONFIG_TEXT ISO_DEFAULT_CONFIG
#else
#define ISO_DEFAULT_CONFIG_TEXT "no file"
#endif

static const char kOverview[] =
    "usage: isopool serve [OPTIONS]\n"
    "       isopool run [OPTIONS] FILE [ARG...]\n"
    "       isopool help [serve|run]\n"
    "       isopool --version\n"
    "\n"
    "  serve   run the service: jobs from clients over NNG (poolctl,\n"
    "          docs/protocol.md) on a pool of V8 isolates\n"
    "  run     evaluate one module, as `deno run` does\n"
    "  help    this text, or a command's options\n";

/* serve's options (isopool help serve, isopool serve --help). */
static const char kServeHelp[] =
    "usage: isopool serve [OPTIONS]\n"
    "\n"
    "  serve              run the service until SIGINT or SIGTERM\n"
    "  --listen URL       listen here (repeatable; tcp://, ipc://,\n"
    "                     tls+tcp://); default tcp://127.0.0.1:7447\n"
    "  --workers N        worker threads, one isolate each (default: CPUs)\n"
    "  --processes P      run the workers in P sandboxed pool processes,\n"
    "                     N/P threads each (the first N%P one more); 0: in\n"
    "                     this process (default: one per 2 workers)\n"
    "  --spare-processes S  pool processes kept started to take a dead\n"
    "                     one's place (default 1)\n"
    "  --process-max-mb M a pool process's memory bound in MiB (RLIMIT_DATA;\n"
    "                     exceeding it ends that process only; default:\n"
    "                     none). It must hold the process's threads'\n"
    "                     stacks (8 MiB each, usually) and, per worker\n"
    "                     thread, --heap-mb and 80 more, per spare isolate\n"
    "                     its stack and 8 more: a smaller value\n"
    "                     is refused with the least it takes\n"
    "  --max-inflight-per-worker N  jobs at once per worker (default 64)\n"
    "  --max-queue N      jobs waiting for a worker before `busy` (4096)\n"
    "  --modules DIR      module root for jobs (default: current dir)\n"
    "  --max-message B    largest request and reply in bytes (default 16\n"
    "                     MiB, at least 1024)\n"
    "  --timeout MS       default job deadline (default 30000)\n"
    "  --cpu-ms MS        a job's CPU time limit (its JavaScript's CPU\n"
    "                     time, awaits not counted): the default and the\n"
    "                     ceiling of a job's cpu_ms; past it the job ends\n"
    "                     `cpu_limit` (default 0: none)\n"
    "  --grace-ms MS      shutdown grace for running jobs (default 5000)\n"
    "  --heap-mb N        V8 heap limit per worker (default 512)\n"
    "  --code-cache-mb M  bound of each process's code cache of modules\n"
    "                     (compiled code its isolates share; default 32,\n"
    "                     0: none)\n"
    "  --code-cache DIR   keep the pool processes' code cache in DIR too\n"
    "                     (made 0700; refused if others may write it;\n"
    "                     each entry signed with DIR/key, 0600), so a\n"
    "                     restart compiles from it (default: memory only)\n"
    "  --background-ms MS how long JavaScript that belongs to no pending\n"
    "                     job (a timer a call left) may run at a time\n"
    "                     (default 1000)\n"
    "  --spare-isolates N isolates built in advance per pool process (or\n"
    "                     for --processes 0), each taking over a worker\n"
    "                     whose isolate is replaced (default 1; 0: the\n"
    "                     worker rebuilds on its own thread)\n"
    "  --recycle-after-jobs N  a worker's isolate is replaced after N jobs\n"
    "  --heap-soft-mb N   ... when its heap in use after a job (ArrayBuffers\n"
    "                     included) is past N MiB: it takes no new jobs,\n"
    "                     finishes its own, then takes a spare\n"
    "  --recycle-heap-mb N  ... when the heap it has committed (what a\n"
    "                     collection leaves: fragmentation, a past peak)\n"
    "                     is past N MiB\n"
    "  --idle-timeout S   an isolate idle for S seconds is freed; the\n"
    "                     worker's next job takes a spare's (default: off)\n"
    "  --allow-call-source  take `source` on call jobs: the module text a\n"
    "                     worker's warm module is compiled from (only for\n"
    "                     clients trusted with every module's calls)\n"
    "  --tls-cert FILE, --tls-key FILE  for tls+tcp:// listeners\n"
    "  --admin URL        the admin socket for poolctl (default\n"
    "                     ipc://$XDG_RUNTIME_DIR/isopool/admin.sock, else\n"
    "                     ipc:///tmp/isopool-$UID/admin.sock; none: off)\n"
    "  --admin-token S, --admin-token-file FILE  require this secret\n"
    "  --metrics URL      Prometheus text at this http:// URL (e.g.\n"
    "                     http://127.0.0.1:9447/metrics; default: none);\n"
    "                     also /healthz, /readyz and a dashboard at /\n"
    "  --log-format text|json, --log-level debug|info|warn|error\n"
    "  --log-jobs         also log output of code that calls left running\n"
    "  --op-threads N     threads that run async ops (default 2)\n"
    "  --fetch-max-mb N   a fetch response body's limit in MiB (default 64)\n"
    "  --quiet            no start-up line\n"
    "  --config FILE      options from FILE too (INI: `key = value`, the\n"
    "                     keys serve's long options; the command line's\n"
    "                     replace a key's lines); an installed isopool\n"
    "                     reads " ISO_DEFAULT_CONFIG_TEXT
    " if it exists\n"
    "  --no-config        read no config file\n"
    "                     SIGHUP: the config file again (--log-level at\n"
    "                     once, the rest at the next start) and every\n"
    "                     module loaded again; never stops the service\n";

/* run's options (isopool help run, isopool run --help). */
static const char kRunHelp[] =
    "usage: isopool run [OPTIONS] FILE [ARG...]\n"
    "\n"
    "  run FILE [ARG...]  evaluate FILE as an ES module; call its default\n"
    "                     export with the ARGs (JSON, else strings) and\n"
    "                     print the value as JSON\n"
    "  --root DIR         module root: FILE and its imports must stay\n"
    "                     inside it (default: none, any file you can read)\n"
    "  --v8-flags=FLAGS   flags passed to V8\n"
    "  --heap-mb N        V8 heap limit in MiB\n"
    "  --import-map FILE  an import map (JSON: \"imports\", \"scopes\"; as\n"
    "                     Deno): consulted before node_modules (run and\n"
    "                     serve; for serve its targets stay in --modules)\n";

/* What serve and run share, after either's. */
static const char kSharedHelp[] =
    "\n"
    "  permissions (serve and run; default: nothing):\n"
    "  --data DIR         the root of isopool:fs (paths below are in it)\n"
    "  --allow-read[=PATHS]   read files under the data root (all, or\n"
    "                         these comma-separated paths and below)\n"
    "  --allow-write[=PATHS]  write files under the data root\n"
    "  --allow-env[=NAMES]    read environment variables (isopool:env)\n"
    "  --allow-net[=HOSTS]    fetch from the network (all, or these\n"
    "                         comma-separated HOST or HOST:PORT; IPv6\n"
    "                         in brackets: [::1]:8080)\n"
    "\n"
    "  isopool:kv (serve and run; default: in memory, gone at exit):\n"
    "  --kv-path FILE     keep it in this LMDB file (made if missing), so\n"
    "                     values outlive the process; one service per file\n"
    "  --kv-sync full|nometa|none  what a crash of the machine (not of\n"
    "                     isopool: every setting keeps what was answered)\n"
    "                     may take: nothing; the last write (default);\n"
    "                     recent writes, or the file\n"
    "  --kv-max-mb N      size limit of isopool:kv (default 64)\n";

/* Says that name is no command, and which one it may have meant. */
static void unknown_command(const char* name) {
  static const char* const kCommandNames[] = {"serve", "run", "help"};
  const char* near = iso_suggest(name, kCommandNames, 3, sizeof(char*));
  fprintf(stderr, "isopool: unknown command \"%s\"", name);
  if (near != NULL) {
    fprintf(stderr, " (did you mean %s?)\n", near);
  } else {
    fprintf(stderr, " (commands: serve, run, help)\n");
  }
}

/* After getopt said an option of cmd is unknown or lacks its value: the
 * option it may have meant, and where the options are listed. */
static void bad_option(const char* cmd,
                       const struct option* opts,
                       char** argv) {
  const char* arg = argv[optind - 1];
  if (strncmp(arg, "--", 2) == 0) {
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    size_t n = 0;
    while (opts[n].name != NULL) {
      n++;
    }
    const char* near = iso_suggest(name, opts, n, sizeof *opts);
    if (near != NULL && strcmp(near, name) != 0) {
      fprintf(stderr, "isopool: did you mean --%s?\n", near);
    }
  }
  fprintf(stderr, "isopool: `isopool help %s` lists its options\n", cmd);
}

/* A command's help, on f. */
static void help_of(const char* cmd, FILE* f) {
  fputs(strcmp(cmd, "run") == 0 ? kRunHelp : kServeHelp, f);
  fputs(kSharedHelp, f);
}

/* The permission options serve and run share. */
enum { O_DATA = 300, O_ALLOW_READ, O_ALLOW_WRITE, O_ALLOW_ENV, O_ALLOW_NET };
#define PERM_OPTIONS                                           \
  {"data", required_argument, NULL, O_DATA},                   \
      {"allow-read", optional_argument, NULL, O_ALLOW_READ},   \
      {"allow-write", optional_argument, NULL, O_ALLOW_WRITE}, \
      {"allow-env", optional_argument, NULL, O_ALLOW_ENV}, {   \
    "allow-net", optional_argument, NULL, O_ALLOW_NET          \
  }

typedef struct perm_flags {
  const char* data;
  const char* read; /* NULL: not granted; "": everything */
  const char* write;
  const char* env;
  const char* net; /* HOST[:PORT] list */
} perm_flags;

/* Takes getopt's `c` if it is a permission option; returns 1 if it was. */
static int perm_option(int c, const char* arg, perm_flags* pf) {
  const char* value = arg != NULL ? arg : "";
  switch (c) {
    case O_DATA:
      pf->data = arg;
      return 1;
    case O_ALLOW_READ:
      pf->read = value;
      return 1;
    case O_ALLOW_WRITE:
      pf->write = value;
      return 1;
    case O_ALLOW_ENV:
      pf->env = value;
      return 1;
    case O_ALLOW_NET:
      pf->net = value;
      return 1;
    default:
      return 0;
  }
}

/* The kv options serve and run share. */
enum { O_KV_PATH = 320, O_KV_SYNC, O_KV_MAX };

/* --import-map FILE (run and serve). */
enum { O_IMPORT_MAP = 330, O_CODE_CACHE_DIR };

/* An import map file read and parsed: its text and URL (for the pool,
 * which parses its own copy in each worker) and the map (for run). */
typedef struct import_map_file {
  char* text;
  size_t len;
  char* url;
  iso_import_map* map;
} import_map_file;

static void import_map_close(import_map_file* f) {
  free(f->text);
  free(f->url);
  iso_import_map_free(f->map);
  memset(f, 0, sizeof(*f));
}

/* Reads and parses the import map FILE (its URL: file:// and its real
 * path); prints the map's warnings. Returns 0, or EXIT_USAGE (said). */
static int import_map_load(const char* file, import_map_file* f) {
  memset(f, 0, sizeof(*f));
  char* real = realpath(file, NULL);
  FILE* in = real != NULL ? fopen(real, "rb") : NULL;
  if (in == NULL) {
    fprintf(stderr, "isopool: cannot read the import map %s: %s\n", file,
            strerror(errno));
    free(real);
    return EXIT_USAGE;
  }
  f->text = malloc(ISO_IMPORT_MAP_MAX + 1);
  f->len = f->text != NULL ? fread(f->text, 1, ISO_IMPORT_MAP_MAX + 1, in) : 0;
  int bad = f->text == NULL || ferror(in);
  fclose(in);
  size_t n = strlen(real) + 8;
  f->url = malloc(n);
  if (bad || f->url == NULL) {
    fprintf(stderr, "isopool: cannot read the import map %s\n", file);
    free(real);
    import_map_close(f);
    return EXIT_USAGE;
  }
  snprintf(f->url, n, "file://%s", real);
  free(real);
  f->text[f->len < ISO_IMPORT_MAP_MAX + 1 ? f->len : ISO_IMPORT_MAP_MAX] = '\0';
  char err[512] = "";
  char* warnings = NULL;
  int rc = iso_import_map_new(f->text, f->len, f->url, &f->map, &warnings, err,
                              sizeof(err));
  if (warnings != NULL) {
    for (char* line = strtok(warnings, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
      fprintf(stderr, "warning: %s (%s)\n", line, file);
    }
    free(warnings);
  }
  if (rc != 0) {
    fprintf(stderr, "isopool: %s: %s\n", file, err[0] ? err : iso_strerror(rc));
    import_map_close(f);
    return EXIT_USAGE;
  }
  return 0;
}
#define KV_OPTIONS                                       \
  {"kv-path", required_argument, NULL, O_KV_PATH},       \
      {"kv-sync", required_argument, NULL, O_KV_SYNC}, { \
    "kv-max-mb", required_argument, NULL, O_KV_MAX       \
  }

typedef struct kv_flags {
  const char* path; /* NULL: in memory */
  iso_kv_sync sync;
  long max_mb; /* 0: the default */
} kv_flags;

typedef struct run_state {
  uv_loop_t* loop;
  int status; /* the exit status */
  int done;
  int unprintable; /* the value could not be printed: exit 1 */
} run_state;

static void value_cb(void* data, const uint8_t* mp, size_t len) {
  run_state* st = data;
  if (mp == NULL) {
    return;
  }
  iso_buf json;
  iso_buf_init(&json);
  int rc = iso_json_from_msgpack(mp, len, &json);
  if (rc == 0) {
    fwrite(json.data, 1, json.len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  } else {
    /* ISO_ETOOBIG: map keys that are maps, nested deeply (iso_json.h) */
    fprintf(
        stderr, "isopool: the value cannot be printed as JSON: %s\n",
        rc == ISO_ETOOBIG ? "its text would be too large" : iso_strerror(rc));
    st->unprintable = 1;
  }
  iso_buf_close(&json);
}

/* `isopool run`'s net thread: fetch's transfers (ops/net.c), made only
 * when --allow-net grants something (a fetch without the permission is
 * refused before it needs one). */
typedef struct run_net {
  iso_net* net;
  pthread_t thread;
  atomic_int quit;
  int started;
} run_net;

static void* run_net_main(void* arg) {
  run_net* rn = arg;
  pthread_setname_np(pthread_self(), "isopool-net");
  while (!atomic_load(&rn->quit) && iso_net_run(rn->net, -1)) {
  }
  return NULL;
}

static int run_net_start(run_net* rn,
                         iso_ops_env* env,
                         char* err,
                         size_t errlen) {
  int rc = iso_net_new(NULL, &rn->net, err, errlen);
  if (rc != 0) {
    return rc;
  }
  atomic_store(&rn->quit, 0);
  if (pthread_create(&rn->thread, NULL, run_net_main, rn) != 0) {
    snprintf(err, errlen, "cannot start the net thread");
    iso_net_free(rn->net);
    rn->net = NULL;
    return ISO_ENOMEM;
  }
  rn->started = 1;
  iso_ops_env_set_net(env, rn->net);
  return 0;
}

/* After the runtime: the answers still owed are dropped. */
static void run_net_stop(run_net* rn) {
  if (rn->started) {
    atomic_store(&rn->quit, 1);
    iso_net_wakeup(rn->net);
    pthread_join(rn->thread, NULL);
    rn->started = 0;
  }
  iso_net_free(rn->net);
  rn->net = NULL;
}

static void done_cb(void* data, int status, const iso_js_error* err) {
  run_state* st = data;
  if (err != NULL) {
    char* text = iso_js_error_format(err);
    fflush(stdout);
    fprintf(stderr, "%s\n", text ? text : "error");
    free(text);
  }
  st->done = 1;
  st->status = status == 0 && !st->unprintable ? 0 : 1;
  uv_stop(st->loop);
}

static int parse_range(const char* name,
                       const char* s,
                       long min,
                       long max,
                       long* out) {
  char* end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "isopool: %s needs a number from %ld to %ld, not \"%s\"\n",
            name, min, max, s);
    return ISO_EUSAGE;
  }
  *out = v;
  return 0;
}

static int parse_count(const char* name, const char* s, long max, long* out) {
  return parse_range(name, s, 1, max, out);
}

/* Takes getopt's `c` if it is a kv option: 1 if it was, -1 if its value
 * is wrong (said on stderr), 0 if it is another option. */
static int kv_option(int c, const char* arg, kv_flags* kf) {
  static const struct {
    const char* name;
    iso_kv_sync sync;
  } syncs[] = {{"full", ISO_KV_SYNC_FULL},
               {"nometa", ISO_KV_SYNC_NOMETA},
               {"none", ISO_KV_SYNC_NONE}};
  switch (c) {
    case O_KV_PATH:
      if (arg[0] == '\0') {
        fprintf(stderr, "isopool: --kv-path needs a file\n");
        return -1;
      }
      kf->path = arg;
      return 1;
    case O_KV_SYNC:
      for (size_t i = 0; i < sizeof(syncs) / sizeof(syncs[0]); i++) {
        if (strcmp(arg, syncs[i].name) == 0) {
          kf->sync = syncs[i].sync;
          return 1;
        }
      }
      fprintf(stderr, "isopool: --kv-sync is full, nometa or none\n");
      return -1;
    case O_KV_MAX:
      return parse_count("--kv-max-mb", arg, 1L << 20, &kf->max_mb) == 0 ? 1
                                                                         : -1;
    default:
      return 0;
  }
}

static int cmd_run(int argc, char** argv) {
  static const struct option opts[] = {
      {"root", required_argument, NULL, 'r'},
      {"v8-flags", required_argument, NULL, 'v'},
      {"heap-mb", required_argument, NULL, 'm'},
      {"import-map", required_argument, NULL, O_IMPORT_MAP},
      {"help", no_argument, NULL, 'h'},
      PERM_OPTIONS,
      KV_OPTIONS,
      {NULL, 0, NULL, 0},
  };
  perm_flags pf = {0};
  kv_flags kf = {0};
  const char* root = NULL;
  const char* import_map = NULL;
  const char* v8_flags = NULL;
  long heap_mb = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+r:m:h", opts, NULL)) != -1) {
    if (perm_option(c, optarg, &pf)) {
      continue;
    }
    int kv = kv_option(c, optarg, &kf);
    if (kv != 0) {
      if (kv < 0) {
        return EXIT_USAGE;
      }
      continue;
    }
    switch (c) {
      case 'r':
        root = optarg;
        break;
      case 'v':
        v8_flags = optarg;
        break;
      case O_IMPORT_MAP:
        import_map = optarg;
        break;
      case 'm':
        if (parse_count("--heap-mb", optarg, 1L << 20, &heap_mb) != 0) {
          return EXIT_USAGE;
        }
        break;
      case 'h':
        help_of("run", stdout);
        return 0;
      default:
        bad_option("run", opts, argv);
        return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf(stderr,
            "isopool: run needs FILE (`isopool help run` lists its "
            "options)\n");
    return EXIT_USAGE;
  }
  import_map_file imf = {0};
  if (import_map != NULL && import_map_load(import_map, &imf) != 0) {
    return EXIT_USAGE;
  }
  const char* file = argv[optind];
  char* abs = NULL;
  if (file[0] != '/' && strncmp(file, "file://", 7) != 0) {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
      perror("isopool: getcwd");
      return 1;
    }
    size_t n = strlen(cwd) + strlen(file) + 2;
    abs = malloc(n);
    snprintf(abs, n, "%s/%s", cwd, file);
    file = abs;
  }

  if (iso_rt_init_process(v8_flags) != 0) {
    fprintf(stderr, "isopool: cannot initialise V8\n");
    free(abs);
    import_map_close(&imf);
    return 1;
  }
  char err[512] = "";
  iso_ops_env* env = NULL;
  iso_perms* perms = NULL;
  iso_ops_env_opts envo = {.data_root = pf.data,
                           .kv_path = kf.path,
                           .kv_sync = kf.sync,
                           .kv_max_bytes = (size_t)kf.max_mb << 20};
  int rc = iso_ops_env_new(&envo, &env, err, sizeof(err));
  if (rc == 0) {
    iso_perm_flags flags = {
        .read = pf.read, .write = pf.write, .env = pf.env, .net = pf.net};
    rc = iso_perms_parse_flags(&flags, &perms, err, sizeof(err));
  }
  run_net rn = {0};
  if (rc == 0 && pf.net != NULL) {
    rc = run_net_start(&rn, env, err, sizeof(err));
  }
  if (rc != 0) {
    fprintf(stderr, "isopool: %s\n", err[0] ? err : iso_strerror(rc));
    iso_perms_unref(perms);
    iso_ops_env_free(env);
    free(abs);
    import_map_close(&imf);
    /* a kv file in use, or failing, is no misuse */
    return rc == ISO_EBUSY || rc == ISO_EIO ? 1 : EXIT_USAGE;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = NULL;
  /* no --root: no confinement, which the runtime spells as the root "/"
   * (node_modules lookups then walk up to "/", as Node's do) */
  iso_rt_opts ro = {.loop = &loop,
                    .root = root != NULL ? root : "/",
                    .import_map = imf.map,
                    .heap_max_mb = heap_mb,
                    .ops_env = env,
                    .default_perms = perms};
  rc = iso_rt_new(&ro, &rt);
  iso_perms_unref(perms); /* the runtime holds its own reference */
  if (rc != 0) {
    fprintf(stderr, "isopool: cannot start the runtime%s%s: %s\n",
            root ? " with root " : "", root ? root : "", iso_strerror(rc));
    run_net_stop(&rn);
    iso_ops_env_free(env);
    free(abs);
    import_map_close(&imf);
    return rc == ISO_ENOENT ? EXIT_USAGE : 1;
  }
  run_state st = {.loop = &loop};
  iso_run_cbs cbs = {.value_cb = value_cb, .done_cb = done_cb};
  iso_eval_opts eo = {
      .specifier = file,
      .call = 1,
      .argc = argc - optind - 1,
      .argv = (const char* const*)argv + optind + 1,
  };
  iso_run* run = NULL;
  rc = iso_run_new(rt, &eo, &cbs, &st, &run);
  if (rc != 0) {
    fprintf(stderr, "isopool: %s\n", iso_strerror(rc));
    st.status = 1;
  } else {
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!st.done) {
      /* the loop ran dry without the realm going idle: a bug */
      fprintf(stderr, "error: the event loop ended early\n");
      st.status = 1;
    }
  }
  fflush(stdout);
  iso_run_free(run);
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT); /* let the handles close, ops finish */
  uv_loop_close(&loop);
  run_net_stop(&rn);
  iso_ops_env_free(env);
  free(abs);
  import_map_close(&imf); /* after the runtime, which used it */
  return st.status;
}

/* The admin plane asks us to stop (poolctl drain/shutdown): the main
 * thread, in sigwait, takes it like a SIGTERM. */
static atomic_int g_admin_stop; /* set on an NNG thread, read in main */

/* How long the teardown after a shutdown (every reply has left) may take
 * before the process ends anyway: a sanitizer's build frees its isolates
 * many times slower, and its leak check runs only if the process gets to
 * exit(). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEARDOWN_MS 120000
#else
#define TEARDOWN_MS 5000
#endif

/* The teardown's bound. iso_pool_free closes NNG sockets, and NNG 1.5.2
 * can hang in nng_close, waiting for a pipe it never reaps (seen about
 * once in 45 SIGTERMs under load; ipc/iso_client.c, "Not worked
 * around"). Every job has been answered by then, so the process says so
 * and exits 0 rather than hang until the service manager kills it. */
static void* teardown_guard(void* arg) {
  (void)arg;
  struct timespec ts = {TEARDOWN_MS / 1000, 0};
  while (nanosleep(&ts, &ts) != 0) {
  }
  fprintf(stderr,
          "isopool: warn: the teardown after the shutdown did not end within "
          "%d ms (a close inside NNG); every job was answered; exiting\n",
          TEARDOWN_MS);
  fflush(NULL);
  _exit(0);
  return NULL;
}

static void stop_cb(void* arg) {
  atomic_store(&g_admin_stop, 1);
  kill(getpid(), SIGTERM);
}

/* An admin token must be one a client can send: not empty (an empty
 * token would admit anyone who sends "token": ""), at most
 * ISO_ADMIN_MAX_TOKEN bytes and valid UTF-8 (the admin decoder refuses any
 * other token, so the service would start and then refuse every request).
 * `from` names where it came from. Returns 0 or ISO_EUSAGE (said). */
static int check_token(const char* tok, size_t len, const char* from) {
  const char* why = NULL;
  if (len == 0) {
    why = "is empty (leave the option out to run without a token)";
  } else if (len > ISO_ADMIN_MAX_TOKEN) {
    why = "is longer than the admin protocol's limit";
  } else if (memchr(tok, '\0', len) != NULL || !iso_utf8_valid(tok, len)) {
    why = "is not text (valid UTF-8, no NUL bytes)";
  }
  if (why != NULL) {
    fprintf(stderr, "isopool: the admin token %s %s (%zu bytes; at most %d)\n",
            from, why, len, ISO_ADMIN_MAX_TOKEN);
    return ISO_EUSAGE;
  }
  return 0;
}

/* The first line of FILE, the admin token, into out (ISO_ADMIN_MAX_TOKEN +
 * 1 bytes). The whole line is read and checked, so a long token is refused
 * rather than cut. Returns 0 or ISO_EUSAGE (said). */
static int read_token(const char* file, char* out) {
  FILE* f = fopen(file, "r");
  if (f == NULL) {
    fprintf(stderr, "isopool: cannot read the admin token from %s: %s\n", file,
            strerror(errno));
    return ISO_EUSAGE;
  }
  char* line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, f);
  fclose(f);
  size_t len = n > 0 ? (size_t)n : 0;
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
    len--;
  }
  char from[300];
  snprintf(from, sizeof from, "in %s", file);
  int rc = check_token(line != NULL ? line : "", len, from);
  if (rc == 0) {
    memcpy(out, line, len);
    out[len] = '\0';
  }
  free(line);
  return rc;
}

enum serve_option {
  O_INFLIGHT = 256,
  O_QUEUE,
  O_MAXMSG,
  O_GRACE,
  O_TLSCERT,
  O_TLSKEY,
  O_OPTHREADS,
  O_ADMIN,
  O_ADMIN_TOKEN,
  O_ADMIN_TOKEN_FILE,
  O_LOG_FORMAT,
  O_LOG_LEVEL,
  O_METRICS,
  O_LOG_JOBS,
  O_BACKGROUND,
  O_CALL_SOURCE,
  O_PROCESSES,
  O_SPARES,
  O_PROCESS_MAX_MB,
  O_FETCH_MAX_MB,
  O_SPARE_ISOLATES,
  O_RECYCLE_JOBS,
  O_HEAP_SOFT,
  O_RECYCLE_HEAP,
  O_IDLE_TIMEOUT,
  O_CPU_MS,
  O_CODE_CACHE_MB,
  O_CONFIG,
  O_NO_CONFIG
};

static const struct option kServeOptions[] = {
    {"listen", required_argument, NULL, 'l'},
    {"workers", required_argument, NULL, 'w'},
    {"max-inflight-per-worker", required_argument, NULL, O_INFLIGHT},
    {"max-queue", required_argument, NULL, O_QUEUE},
    {"modules", required_argument, NULL, 'M'},
    {"max-message", required_argument, NULL, O_MAXMSG},
    {"timeout", required_argument, NULL, 't'},
    {"grace-ms", required_argument, NULL, O_GRACE},
    {"heap-mb", required_argument, NULL, 'm'},
    {"v8-flags", required_argument, NULL, 'v'},
    {"tls-cert", required_argument, NULL, O_TLSCERT},
    {"tls-key", required_argument, NULL, O_TLSKEY},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"op-threads", required_argument, NULL, O_OPTHREADS},
    {"admin", required_argument, NULL, O_ADMIN},
    {"admin-token", required_argument, NULL, O_ADMIN_TOKEN},
    {"admin-token-file", required_argument, NULL, O_ADMIN_TOKEN_FILE},
    {"log-format", required_argument, NULL, O_LOG_FORMAT},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"metrics", required_argument, NULL, O_METRICS},
    {"log-jobs", no_argument, NULL, O_LOG_JOBS},
    {"background-ms", required_argument, NULL, O_BACKGROUND},
    {"allow-call-source", no_argument, NULL, O_CALL_SOURCE},
    {"processes", required_argument, NULL, O_PROCESSES},
    {"spare-processes", required_argument, NULL, O_SPARES},
    {"process-max-mb", required_argument, NULL, O_PROCESS_MAX_MB},
    {"fetch-max-mb", required_argument, NULL, O_FETCH_MAX_MB},
    {"spare-isolates", required_argument, NULL, O_SPARE_ISOLATES},
    {"recycle-after-jobs", required_argument, NULL, O_RECYCLE_JOBS},
    {"heap-soft-mb", required_argument, NULL, O_HEAP_SOFT},
    {"recycle-heap-mb", required_argument, NULL, O_RECYCLE_HEAP},
    {"idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT},
    {"cpu-ms", required_argument, NULL, O_CPU_MS},
    {"code-cache-mb", required_argument, NULL, O_CODE_CACHE_MB},
    {"import-map", required_argument, NULL, O_IMPORT_MAP},
    {"code-cache", required_argument, NULL, O_CODE_CACHE_DIR},
    {"config", required_argument, NULL, O_CONFIG},
    {"no-config", no_argument, NULL, O_NO_CONFIG},
    PERM_OPTIONS,
    KV_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* What serve's options say (serve_parse). */
typedef struct serve_cfg {
  iso_pool_opts po;
  const char* listen[16];
  char token[ISO_ADMIN_MAX_TOKEN + 1];
  const char* import_map; /* the file, read by cmd_serve */
} serve_cfg;

/* Parses serve's options (argv[0] the command's) into cfg, checking each;
 * strings in cfg point into argv. Returns 0; -1 if it printed the help;
 * EXIT_USAGE if it said what is wrong on stderr. Reads the admin token's
 * file. Thread: main (getopt). */
static int serve_parse(int argc, char** argv, serve_cfg* cfg) {
  /* the numeric options: getopt code, name, largest value, value */
  struct {
    int code;
    const char* name;
    long max;
    long value;
    long min; /* the least value */
  } nums[] = {
      {'w', "--workers", 256, 0, 1},
      {O_INFLIGHT, "--max-inflight-per-worker", 100000, 0, 1},
      {O_QUEUE, "--max-queue", 10000000, 0, 1},
      {O_MAXMSG, "--max-message", 1L << 30, 0, ISO_SERVE_MIN_MESSAGE},
      {'t', "--timeout", 86400000, 0, 1},
      {O_GRACE, "--grace-ms", 3600000, 0, 1},
      {'m', "--heap-mb", 1L << 20, 0, 1},
      {O_OPTHREADS, "--op-threads", 256, 0, 1},
      {O_BACKGROUND, "--background-ms", 3600000, 0, 1},
      {O_PROCESSES, "--processes", 256, ISO_SERVE_PROCESSES_DEFAULT, 0},
      {O_SPARES, "--spare-processes", 64, -1, 0},
      {O_PROCESS_MAX_MB, "--process-max-mb", 1L << 30, 0, 1},
      {O_FETCH_MAX_MB, "--fetch-max-mb", 1L << 20, 0, 1},
      {O_SPARE_ISOLATES, "--spare-isolates", 64, -1, 0},
      {O_RECYCLE_JOBS, "--recycle-after-jobs", 1L << 31, 0, 1},
      {O_HEAP_SOFT, "--heap-soft-mb", 1L << 20, 0, 1},
      {O_RECYCLE_HEAP, "--recycle-heap-mb", 1L << 20, 0, 1},
      {O_IDLE_TIMEOUT, "--idle-timeout", 86400, 0, 1},
      {O_CPU_MS, "--cpu-ms", 86400000, 0, 0},
      {O_CODE_CACHE_MB, "--code-cache-mb", 4096, -1, 0},
  };
  const size_t nnums = sizeof(nums) / sizeof(nums[0]);
  memset(cfg, 0, sizeof *cfg);
  iso_pool_opts po = {.stop_cb = stop_cb};
  perm_flags pf = {0};
  kv_flags kf = {0};
  const char** listen = cfg->listen;
  const char* v8_flags = NULL;
  const char* import_map = NULL;
  int c;
  optind = 0; /* glibc: start afresh (a reload parses again) */
  while ((c = getopt_long(argc, argv, "l:w:M:t:m:qh", kServeOptions, NULL)) !=
         -1) {
    size_t k = 0;
    while (k < nnums && nums[k].code != c) {
      k++;
    }
    if (k < nnums) {
      if (parse_range(nums[k].name, optarg, nums[k].min, nums[k].max,
                      &nums[k].value)) {
        return EXIT_USAGE;
      }
      continue;
    }
    if (perm_option(c, optarg, &pf)) {
      continue;
    }
    int kv = kv_option(c, optarg, &kf);
    if (kv != 0) {
      if (kv < 0) {
        return EXIT_USAGE;
      }
      continue;
    }
    switch (c) {
      case 'l':
        if (po.nlisten == 16) {
          fprintf(stderr, "isopool: at most 16 --listen URLs\n");
          return EXIT_USAGE;
        }
        listen[po.nlisten++] = optarg;
        break;
      case 'M':
        po.modules = optarg;
        break;
      case O_IMPORT_MAP:
        import_map = optarg;
        break;
      case O_CODE_CACHE_DIR:
        po.code_cache_dir = optarg;
        break;
      case 'v':
        v8_flags = optarg;
        break;
      case O_TLSCERT:
        po.tls_cert = optarg;
        break;
      case O_TLSKEY:
        po.tls_key = optarg;
        break;
      case O_ADMIN:
        po.admin_url = optarg;
        break;
      case O_METRICS:
        po.metrics_url = optarg;
        break;
      case O_LOG_JOBS:
        po.log_jobs = 1;
        break;
      case O_CALL_SOURCE:
        po.allow_call_source = 1;
        break;
      case O_ADMIN_TOKEN:
        if (check_token(optarg, strlen(optarg), "given by --admin-token") !=
            0) {
          return EXIT_USAGE;
        }
        po.admin_token = optarg;
        break;
      case O_ADMIN_TOKEN_FILE:
        if (read_token(optarg, cfg->token) != 0) {
          return EXIT_USAGE;
        }
        po.admin_token = cfg->token;
        break;
      case O_LOG_FORMAT:
        if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
          fprintf(stderr, "isopool: --log-format is text or json\n");
          return EXIT_USAGE;
        }
        po.log_format = optarg;
        break;
      case O_LOG_LEVEL:
        if (strcmp(optarg, "debug") != 0 && strcmp(optarg, "info") != 0 &&
            strcmp(optarg, "warn") != 0 && strcmp(optarg, "error") != 0) {
          fprintf(stderr,
                  "isopool: --log-level is debug, info, warn or error\n");
          return EXIT_USAGE;
        }
        po.log_level = optarg;
        break;
      case 'q':
        po.quiet = 1;
        break;
      case O_CONFIG:
      case O_NO_CONFIG:
        break; /* taken before (serve_config) */
      case 'h':
        help_of("serve", stdout);
        return -1;
      default:
        bad_option("serve", kServeOptions, argv);
        return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "isopool: serve takes no argument \"%s\"\n", argv[optind]);
    return EXIT_USAGE;
  }
  po.listen = listen;
  po.workers = (int)nums[0].value;
  po.max_inflight_per_worker = (int)nums[1].value;
  po.max_queue = (int)nums[2].value;
  po.max_message = (size_t)nums[3].value;
  po.timeout_ms = (uint32_t)nums[4].value;
  po.grace_ms = (uint32_t)nums[5].value;
  po.heap_mb = (size_t)nums[6].value;
  po.op_threads = (int)nums[7].value;
  po.background_ms = (uint32_t)nums[8].value;
  po.processes = (int)nums[9].value;
  po.spare_processes = (int)nums[10].value;
  po.process_max_mb = (size_t)nums[11].value;
  po.fetch_max_mb = (size_t)nums[12].value;
  /* unset: the default (0); 0: none (< 0) */
  po.spare_isolates = nums[13].value < 0    ? 0
                      : nums[13].value == 0 ? -1
                                            : (int)nums[13].value;
  po.recycle_jobs = (uint32_t)nums[14].value;
  po.heap_soft_mb = (uint32_t)nums[15].value;
  po.recycle_heap_mb = (uint32_t)nums[16].value;
  po.idle_timeout_ms = (uint32_t)nums[17].value * 1000u;
  po.cpu_ms = (uint32_t)nums[18].value;
  /* unset: the default (0); 0: none (< 0) */
  po.code_cache_mb = nums[19].value < 0    ? 0
                     : nums[19].value == 0 ? -1
                                           : (int)nums[19].value;
  po.v8_flags = v8_flags;
  cfg->import_map = import_map;
  po.kv_path = kf.path;
  po.kv_sync = kf.sync;
  po.kv_max_mb = (size_t)kf.max_mb;
  po.data_dir = pf.data;
  po.allow_read = pf.read;
  po.allow_write = pf.write;
  po.allow_env = pf.env;
  po.allow_net = pf.net;
  /* a bound its pool processes cannot start or fill their heaps under
   * would have them abort and restart forever */
  int proc_threads = iso_pool_process_threads(&po);
  size_t min_mb =
      iso_pool_process_min_mb(proc_threads, po.spare_isolates, po.heap_mb);
  if (proc_threads > 0 && po.process_max_mb > 0 && po.process_max_mb < min_mb) {
    fprintf(stderr,
            "isopool: --process-max-mb %zu is too small: a pool process of "
            "%d worker thread%s with --heap-mb %zu needs at least %zu (its "
            "threads' stacks, then per worker thread its heap limit and %d "
            "MiB more: docs/architecture.md, \"Sizing --process-max-mb\")\n",
            po.process_max_mb, proc_threads, proc_threads == 1 ? "" : "s",
            po.heap_mb > 0 ? po.heap_mb : (size_t)512, min_mb,
            ISO_POOL_PROCESS_WORKER_MB);
    return EXIT_USAGE;
  }
  cfg->po = po;
  return 0;
}

/* The config file serve reads, if any: --config FILE, else none with
 * --no-config, else the installed one (ISO_DEFAULT_CONFIG, when it
 * exists) for a binary running from its installed place. NULL: none.
 * Returns 0, or EXIT_USAGE (said). */
static int serve_config(int argc, char** argv, const char** out) {
  *out = NULL;
  int none = 0;
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--config") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "isopool: --config needs a file\n");
        return EXIT_USAGE;
      }
      *out = argv[++i];
    } else if (strncmp(argv[i], "--config=", 9) == 0) {
      *out = argv[i] + 9;
    } else if (strcmp(argv[i], "--no-config") == 0) {
      none = 1;
    }
  }
  if (*out != NULL || none) {
    *out = none ? NULL : *out;
    return 0;
  }
#ifdef ISO_DEFAULT_CONFIG
  char exe[PATH_MAX], bindir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0 && realpath(ISO_INSTALL_BINDIR, bindir) != NULL) {
    exe[n] = '\0';
    char* slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
    }
    if (strcmp(exe, bindir) == 0 && access(ISO_DEFAULT_CONFIG, F_OK) == 0) {
      *out = ISO_DEFAULT_CONFIG;
    }
  }
#endif
  return 0;
}

/* The config file's keys whose lines differ between a and b (conf_load's
 * arguments from the same command line), comma-separated into out. Sets
 * *level to the new --log-level when that is one of them. */
static void config_changes(const conf_args* a,
                           const conf_args* b,
                           char* out,
                           size_t outlen,
                           const char** level) {
  out[0] = '\0';
  *level = NULL;
  for (const struct option* o = kServeOptions; o->name != NULL; o++) {
    /* the file's lines of this key, in order, in each */
    int same = 1, ia = 0, ib = 0;
    const char *va = NULL, *vb = NULL;
    size_t nlen = strlen(o->name);
    for (;;) {
      va = vb = NULL;
      for (; ia < a->nowned && va == NULL; ia++) {
        if (strncmp(a->owned[ia] + 2, o->name, nlen) == 0 &&
            (a->owned[ia][2 + nlen] == '=' || a->owned[ia][2 + nlen] == 0)) {
          va = a->owned[ia];
        }
      }
      for (; ib < b->nowned && vb == NULL; ib++) {
        if (strncmp(b->owned[ib] + 2, o->name, nlen) == 0 &&
            (b->owned[ib][2 + nlen] == '=' || b->owned[ib][2 + nlen] == 0)) {
          vb = b->owned[ib];
        }
      }
      if (va == NULL && vb == NULL) {
        break;
      }
      if (va == NULL || vb == NULL || strcmp(va, vb) != 0) {
        same = 0;
        break;
      }
    }
    if (same) {
      continue;
    }
    if (strcmp(o->name, "log-level") == 0) {
      /* the last line of the new file is the level (getopt: last wins) */
      *level = "info";
      for (int i = 0; i < b->argc; i++) {
        if (strncmp(b->argv[i], "--log-level=", 12) == 0) {
          *level = b->argv[i] + 12;
        }
      }
      continue;
    }
    size_t used = strlen(out);
    snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", o->name);
  }
}

/* SIGHUP: the config file read again and what can change live applied
 * (the log level), then every module reloaded. A file that does not
 * parse changes nothing. *cur is the running config's arguments, replaced
 * by the new file's when it parsed. */
static void serve_reload(iso_pool* pool,
                         const char* file,
                         int argc,
                         char** argv,
                         conf_args* cur) {
  sd_notify(0, "RELOADING=1\nSTATUS=reloading");
  char msg[1200];
  if (file != NULL) {
    conf_args next;
    char err[600];
    serve_cfg cfg;
    if (conf_load(file, kServeOptions, argc, argv, &next, err, sizeof err) !=
        0) {
      snprintf(msg, sizeof msg, "SIGHUP: %s; the running config stays", err);
      iso_pool_log(pool, "error", msg);
    } else if (serve_parse(next.argc, next.argv, &cfg) != 0) {
      snprintf(msg, sizeof msg,
               "SIGHUP: %s does not make a valid command line (above); the "
               "running config stays",
               file);
      iso_pool_log(pool, "error", msg);
      conf_free(&next);
    } else {
      char changed[800];
      const char* level;
      config_changes(cur, &next, changed, sizeof changed, &level);
      if (level != NULL) {
        iso_pool_set_log_level(pool, level);
        snprintf(msg, sizeof msg, "SIGHUP: the log level is now %s", level);
        iso_pool_log(pool, "info", msg);
      }
      if (changed[0] != '\0') {
        snprintf(msg, sizeof msg,
                 "SIGHUP: changed in %s, for the next start (not live): %s",
                 file, changed);
        iso_pool_log(pool, "warn", msg);
      }
      conf_free(cur);
      *cur = next;
    }
  }
  int dropped = iso_pool_reload(pool);
  snprintf(msg, sizeof msg,
           "SIGHUP: modules reloaded (warm realms dropped: %d)", dropped);
  iso_pool_log(pool, "info", msg);
  sd_notify(0, "READY=1\nSTATUS=running");
}

/* How long serve waits for its workers before it tells a service manager
 * it is ready anyway (with how many are up in STATUS). */
#define READY_WAIT_MS 30000
/* How long the watchdog's probe waits for the routing lock. */
#define WATCHDOG_PROBE_MS 200

/* Tells the service manager (sd_notify: a no-op without NOTIFY_SOCKET)
 * that the service is ready, once its workers are up. */
static void notify_ready(iso_pool* pool) {
  iso_pool_health h;
  for (int waited = 0;; waited += 10) {
    iso_pool_health_get(pool, WATCHDOG_PROBE_MS, &h);
    if ((h.responsive && h.running >= h.workers) || waited >= READY_WAIT_MS) {
      break;
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  sd_notifyf(0, "READY=1\nSTATUS=running: %d of %d workers up", h.running,
             h.workers);
}

static int cmd_serve(int argc, char** argv) {
  int cmd_argc = argc; /* the command line, for a reload */
  char** cmd_argv = argv;
  const char* file;
  if (serve_config(argc, argv, &file) != 0) {
    return EXIT_USAGE;
  }
  conf_args args = {0};
  if (file != NULL) {
    char err[600];
    if (conf_load(file, kServeOptions, argc, argv, &args, err, sizeof err) !=
        0) {
      fprintf(stderr, "isopool: %s\n", err);
      return EXIT_USAGE;
    }
    argc = args.argc;
    argv = args.argv;
  }
  static serve_cfg cfg; /* the pool's, for its life */
  int prc = serve_parse(argc, argv, &cfg);
  if (prc != 0) {
    conf_free(&args);
    return prc < 0 ? 0 : prc;
  }
  iso_pool_opts po = cfg.po;
  const char* v8_flags = po.v8_flags;
  /* read and checked here, once, with its warnings; the workers get the
   * text (a pool process could not read the file: its sandbox) */
  static import_map_file imf; /* the pool's, for its life */
  if (cfg.import_map != NULL && import_map_load(cfg.import_map, &imf) != 0) {
    conf_free(&args);
    return EXIT_USAGE;
  }
  iso_import_map_free(imf.map);
  imf.map = NULL;
  po.import_map = imf.text;
  po.import_map_url = imf.url;
  /* signals are taken by sigwait below, not by whichever thread */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  /* and SIGCHLD in every thread but the supervisor's, which reaps the
   * pool processes (pool/super.h); blocked before any thread starts */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* with pool processes the front runs no JavaScript: V8 (its heap
   * reservations, its platform's threads) starts in them only */
  if (po.processes == 0 && iso_rt_init_process(v8_flags) != 0) {
    fprintf(stderr, "isopool: cannot initialise V8\n");
    return 1;
  }
  if (po.processes == 0) {
    iso_rt_code_limit(ISO_POOL_CODE_CACHE_BYTES(&po));
  }
  iso_pool* pool = NULL;
  char err[512] = "";
  int rc = iso_pool_new(&po, &pool, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "isopool: %s\n", err);
    return rc == ISO_EINVAL || rc == ISO_ENOENT ? EXIT_USAGE : 1;
  }
  notify_ready(pool);
  /* the main thread waits for signals, and pings the service manager's
   * watchdog (WATCHDOG_USEC) at half its interval while the front's
   * routing answers */
  uint64_t wd_usec = 0;
  if (sd_watchdog_enabled(0, &wd_usec) <= 0) {
    wd_usec = 0;
  }
  int sig = 0;
  for (;;) {
    if (wd_usec == 0) {
      sig = 0;
      if (sigwait(&set, &sig) != 0) {
        continue;
      }
    } else {
      struct timespec ts = {(time_t)(wd_usec / 2 / 1000000),
                            (long)(wd_usec / 2 % 1000000) * 1000};
      sig = sigtimedwait(&set, NULL, &ts);
      if (sig < 0) {
        iso_pool_health h;
        iso_pool_health_get(pool, WATCHDOG_PROBE_MS, &h);
        if (h.responsive) {
          sd_notify(0, "WATCHDOG=1");
        } else {
          iso_pool_log(pool, "error",
                       "watchdog: the front's routing has not answered for "
                       "200 ms; not telling the service manager it is alive");
        }
        continue;
      }
    }
    if (sig == SIGHUP) {
      serve_reload(pool, file, cmd_argc, cmd_argv, &args);
      continue;
    }
    break;
  }
  sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
  if (!po.quiet) {
    iso_pool_log(pool, "info",
                 atomic_load(&g_admin_stop)
                     ? "stopping, as the admin socket asked"
                 : sig == SIGINT ? "SIGINT: shutting down"
                                 : "SIGTERM: shutting down");
  }
  iso_pool_shutdown(pool);
  if (iso_pool_abandoned(pool) > 0) {
    /* a worker's JavaScript would not stop: its thread still runs V8, so
     * nothing may be freed or torn down under it; every reply has left */
    fflush(NULL);
    _exit(0);
  }
  pthread_t guard;
  if (pthread_create(&guard, NULL, teardown_guard, NULL) == 0) {
    pthread_detach(guard); /* the process ends before it, as a rule */
  }
  iso_pool_free(pool);
  import_map_close(&imf);
  conf_free(&args);
  return 0;
}

/* isopool help [COMMAND]. */
static int cmd_help(int argc, char** argv) {
  if (argc < 2) {
    fputs(kOverview, stdout);
    return 0;
  }
  if (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "run") == 0) {
    help_of(argv[1], stdout);
    return 0;
  }
  unknown_command(argv[1]);
  return EXIT_USAGE;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fputs(kOverview, stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "help") == 0) {
    return cmd_help(argc - 1, argv + 1);
  }
  if (strcmp(argv[1], "run") == 0) {
    return cmd_run(argc - 1, argv + 1);
  }
  if (strcmp(argv[1], "serve") == 0) {
    return cmd_serve(argc - 1, argv + 1);
  }
  if (strcmp(argv[1], "pool-process") == 0) { /* internal: serve's children */
    return iso_pool_process_main(argc - 1, argv + 1);
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(kOverview, stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("isopool " ISO_VERSION "\nV8 " ISO_V8_VERSION
           " (libnode, Node.js " ISO_NODE_VERSION ")\n");
    return 0;
  }
  unknown_command(argv[1]);
  return EXIT_USAGE;
}
