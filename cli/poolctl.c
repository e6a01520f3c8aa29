/* poolctl.c: the command-line client of an isopool service: main, the
 * command table, the options, usage and help.
 *
 *   poolctl [OPTIONS] eval FILE [ARG...]
 *   poolctl [OPTIONS] eval --module SPEC [ARG...]
 *   poolctl [OPTIONS] call SPEC [--export NAME] [ARG...]
 *   poolctl [OPTIONS] status | workers | jobs | stats | cancel ID | resize N
 *                   | recycle [WORKER|--all] | reload [SPEC] | drain
 *                   | shutdown [--grace MS]
 *
 * The job commands (eval, call; poolctl_jobs.c) send one job to the job
 * socket through the client library (ipc/iso_client.h) and print its
 * value; the admin commands (poolctl_admin.c) ask the admin socket, with
 * the admin protocol's codec (ipc/iso_admin.h), and print what it says.
 * Exit status: 0 done (fulfilled), 1 rejected or refused by the service
 * (or no reply in time), 2 bad usage, 3 no connection to the service.
 *
 * Commands and options are data tables (kCommands, kOptions); main() only
 * walks them. A new command is a row in kCommands and a run function (for
 * an admin command, poolctl__admin_run and a row in poolctl_admin.c's
 * kViews).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_suggest.h"
#include "iso_version.h"
#include "poolctl.h"

/* ---- shared by the commands --------------------------------------------- */

/* The exit status of a failure: the one table, by -code (0: EXIT_FAILED). */
static const int kExitOfErr[] = {
    [-ISO_EINVAL] = EXIT_USAGE,      [-ISO_EUSAGE] = EXIT_USAGE,
    [-ISO_ECONNECT] = EXIT_NOCONN,   [-ISO_ENODELOST] = EXIT_NOCONN,
    [-ISO_ETIMEDOUT] = EXIT_NOREPLY,
};

int poolctl__exit_status(int err) {
  size_t n = sizeof kExitOfErr / sizeof kExitOfErr[0];
  if (err == 0) {
    return EXIT_OK;
  }
  return err < 0 && (size_t)-err < n && kExitOfErr[-err] != 0 ? kExitOfErr[-err]
                                                              : EXIT_FAILED;
}

int poolctl__parse_int(const char* name,
                       const char* want,
                       const char* s,
                       long long min,
                       long long max,
                       long long* out) {
  char* end;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (s == NULL || *s == '\0' || *end != '\0' || errno != 0 || v < min ||
      v > max) {
    fprintf(stderr, "poolctl: %s needs %s, not \"%s\"\n", name, want,
            s ? s : "");
    return ISO_EUSAGE;
  }
  *out = v;
  return 0;
}

int poolctl__read_file(const char* path, iso_buf* b, int* sys) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    *sys = errno;
    return ISO_EIO;
  }
  int err = 0;
  char chunk[65536];
  size_t n;
  while (err == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    err = iso_buf_append(b, chunk, n) == 0 ? 0 : ENOMEM;
  }
  if (err == 0 && ferror(f)) {
    err = errno ? errno : EIO; /* a directory reads as EISDIR */
  }
  fclose(f);
  if (err == 0 && iso_buf_terminate(b) != 0) {
    err = ENOMEM;
  }
  *sys = err;
  return err == 0 ? 0 : ISO_EIO;
}

/* How long opening a client waits for a connection: 5 s, or --timeout if
 * shorter. */
static long long connect_wait_ms(const ctl* c) {
  return c->timeout_ms < POOLCTL_CONNECT_WAIT_MS && c->timeout_ms >= 0
             ? c->timeout_ms
             : POOLCTL_CONNECT_WAIT_MS;
}

/* The client options of poolctl: one request at a time, the --tls-*. */
static iso_client_opts client_opts(const ctl* c) {
  return (iso_client_opts){.max_inflight = 1,
                           .tls_ca_file = c->tls_ca,
                           .tls_cert_file = c->tls_cert,
                           .tls_key_file = c->tls_key,
                           .tls_server_name = c->tls_server_name};
}

/* Waits up to wait_ms for client to be connected (to a node); 1 if it is. */
static int wait_connected(iso_client* client, long long wait_ms) {
  for (long long t = 0; !iso_client_connected(client) && t < wait_ms; t += 5) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return iso_client_connected(client);
}

int poolctl__open_client(const ctl* c,
                         const char* url,
                         iso_client** out,
                         char* why,
                         size_t whylen) {
  *out = NULL;
  long long wait_ms = connect_wait_ms(c);
  iso_client_opts opts = client_opts(c);
  int rc = iso_client_probe(url, &opts, (int)wait_ms, why, whylen);
  if (rc != 0) {
    return rc;
  }
  rc = iso_client_new(url, &opts, out);
  if (rc != 0) {
    snprintf(why, whylen, "%s%s", iso_strerror(rc),
             strncmp(url, "tls+", 4) == 0 && c->tls_ca == NULL
                 ? " (a tls+tcp:// URL needs --tls-ca FILE)"
             : strncmp(url, "tls+", 4) == 0
                 ? " (check the --tls-ca, --tls-cert and --tls-key files)"
                 : "");
    return rc;
  }
  if (!wait_connected(*out, wait_ms)) {
    snprintf(why, whylen,
             "it accepts connections, but none was made within %lld ms (%s)",
             wait_ms,
             strncmp(url, "tls+", 4) == 0
                 ? "a TLS handshake that fails? check --tls-ca, "
                   "--tls-server-name and --tls-cert/--tls-key"
                 : "is an isopool service listening there?");
    iso_client_free(*out);
    *out = NULL;
    return ISO_ECONNECT;
  }
  return 0;
}

int poolctl__open_jobs_client(const ctl* c,
                              iso_client** out,
                              char* why,
                              size_t whylen) {
  if (c->nurls <= 1) {
    return poolctl__open_client(c, c->url, out, why, whylen);
  }
  *out = NULL;
  long long wait_ms = connect_wait_ms(c);
  iso_client_opts opts = client_opts(c);
  int rc = iso_client_new_nodes(c->urls, (size_t)c->nurls, &opts, out);
  if (rc != 0) {
    snprintf(why, whylen, "%s (check each --url and the --tls-* files)",
             iso_strerror(rc));
    return rc;
  }
  if (!wait_connected(*out, wait_ms)) {
    snprintf(why, whylen,
             "none of the %d nodes accepted a connection within %lld ms "
             "(is an isopool service listening at each --url?)",
             c->nurls, wait_ms);
    iso_client_free(*out);
    *out = NULL;
    return ISO_ECONNECT;
  }
  return 0;
}

void poolctl__close_client(iso_client* client, int rc) {
  if (rc != ISO_ETIMEDOUT) {
    iso_client_free(client);
  }
}

/* ---- the commands ------------------------------------------------------- */

static int cmd_help(const command* cmd, ctl* c);

#define WATCH_HELP                                                           \
  "  --watch SECONDS  ask again every SECONDS (0.5 is fine) until Ctrl-C,\n" \
  "                   redrawing the screen of a terminal\n"                  \
  "  --count N        with --watch: stop after N rounds\n"

static const command kCommands[] = {
    {.name = "eval",
     .synopsis = "eval FILE [ARG...]\n"
                 "       poolctl [OPTIONS] eval --module SPEC [ARG...]",
     .help =
         "Evaluate a module in a fresh realm; if its default export is a\n"
         "function, call it with the ARGs and await the value.\n"
         "  FILE           a local file, sent as source text named by its\n"
         "                 base name: its relative imports resolve against\n"
         "                 the server's module root, not FILE's folder\n"
         "  --module SPEC  a module file under the server's module root\n",
     .target = "FILE",
     .takes_args = 1,
     .run = poolctl__eval},
    {.name = "call",
     .synopsis = "call SPEC [--export NAME] [ARG...]",
     .help = "Call an export of the module SPEC (under the server's module\n"
             "root, kept warm between calls) with the ARGs; await the value.\n"
             "  --export NAME  the export to call (default: default)\n",
     .target = "SPEC",
     .takes_args = 1,
     .run = poolctl__call},
    {.name = "ping",
     .synopsis = "ping",
     .help = "Ask the service whether it takes jobs: it answers at once,\n"
             "without a worker, however busy they are (the client library's\n"
             "heartbeat). Prints {\"ready\", \"workers\", \"in_flight\",\n"
             "\"version\"} as JSON; ready is /readyz's test (every worker up,\n"
             "not draining). A draining service answers shutting_down (exit\n"
             "1).\n",
     .run = poolctl__ping},
    {.name = "status",
     .synopsis = "status [--watch SECONDS [--count N]]",
     .help =
         "Show the service's version, uptime, state, sockets, workers\n"
         "alive, jobs queued and in flight, totals (errors by code) and\n"
         "jobs answered per second over the last 1, 10 and 60 s.\n" WATCH_HELP,
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_STATUS},
    {.name = "workers",
     .synopsis = "workers [--watch SECONDS [--count N]]",
     .help = "One line per worker: its id, state, jobs in flight and done,\n"
             "V8 heap used and its limit, warm modules and the last error a\n"
             "job got on it.\n" WATCH_HELP,
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_WORKERS},
    {.name = "jobs",
     .synopsis = "jobs",
     .help = "The jobs in flight and queued, oldest first: the service's job\n"
             "ID (for cancel), kind, worker (or queued), age and module.\n",
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_JOBS},
    {.name = "stats",
     .synopsis = "stats [--watch SECONDS [--count N]]",
     .help = "Latency per kind of job (eval, call, all): the wait for a\n"
             "worker (queue), the time on it (run) and both (total), as\n"
             "count, p50, p90, p99, p99.9 and max; then a histogram of the\n"
             "total time of all jobs.\n" WATCH_HELP,
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_STATS},
    {.name = "cancel",
     .synopsis = "cancel ID",
     .help = "End the job ID (from `poolctl jobs`); its client gets an error\n"
             "reply with code cancelled.\n",
     .target = "ID",
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_CANCEL},
    {.name = "resize",
     .synopsis = "resize N",
     .help = "Grow or shrink the pool to N workers (1..256); busy workers\n"
             "finish their jobs before they stop.\n",
     .target = "N",
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_RESIZE},
    {.name = "recycle",
     .synopsis = "recycle [WORKER|--all]",
     .help = "Give the worker WORKER (from `poolctl workers`), or every\n"
             "worker (--all, or no WORKER), a fresh isolate once its jobs in\n"
             "flight are done; its warm modules load again on the next call.\n",
     .target = "WORKER",
     .target_optional = 1, /* or --all: poolctl_admin.c checks */
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_RECYCLE},
    {.name = "reload",
     .synopsis = "reload [SPEC]",
     .help = "Drop the warm realms (all of them, or those that have loaded\n"
             "the module SPEC) so the next call reads the modules again.\n",
     .target = "SPEC",
     .target_optional = 1,
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_RELOAD},
    {.name = "drain",
     .synopsis = "drain",
     .help = "Stop taking jobs (new ones get shutting_down), finish every\n"
             "job taken, queued ones included, however long they take, then\n"
             "exit. shutdown bounds the wait instead (--grace).\n",
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_DRAIN},
    {.name = "shutdown",
     .synopsis = "shutdown [--grace MS]",
     .help = "Drain, wait up to MS (default: the service's --grace-ms) for\n"
             "the jobs in flight, answer the rest shutting_down and exit.\n"
             "  --grace MS       how long the jobs in flight may take (up to\n"
             "                   3600000, an hour)\n",
     .run = poolctl__admin_run,
     .admin = ISO_ADMIN_SHUTDOWN},
    {.name = "help",
     .synopsis = "help [COMMAND]",
     .help = "Print the usage of poolctl or of one command.\n",
     .target = "COMMAND",
     .target_optional = 1,
     .run = cmd_help},
};
#define NCOMMANDS (sizeof kCommands / sizeof kCommands[0])

/* ---- options ------------------------------------------------------------ */

enum {
  O_URL,
  O_TIMEOUT,
  O_JOB_TIMEOUT,
  O_CPU_MS,
  O_PERMISSIONS,
  O_JSON,
  O_STATS,
  O_MODULE,
  O_EXPORT,
  O_ADMIN,
  O_ADMIN_TOKEN,
  O_ADMIN_TOKEN_FILE,
  O_WATCH,
  O_COUNT,
  O_ALL,
  O_GRACE,
  O_STRING,
  O_IDEMPOTENT,
  O_TLS_CA,
  O_TLS_CERT,
  O_TLS_KEY,
  O_TLS_SERVER_NAME,
  O_HELP,
  O_VERSION
};

static const struct option_spec {
  const char* name;
  int takes_value;
  int id;
  const char* only_for; /* the one command that takes it; NULL: all */
} kOptions[] = {
    {"--url", 1, O_URL, NULL},
    {"--timeout", 1, O_TIMEOUT, NULL},
    {"--job-timeout", 1, O_JOB_TIMEOUT, NULL},
    {"--cpu-ms", 1, O_CPU_MS, NULL},
    {"--permissions", 1, O_PERMISSIONS, NULL},
    {"--json", 0, O_JSON, NULL},
    {"--stats", 0, O_STATS, NULL},
    {"--module", 1, O_MODULE, "eval"},
    {"--export", 1, O_EXPORT, "call"},
    {"--admin", 1, O_ADMIN, NULL},
    {"--admin-token", 1, O_ADMIN_TOKEN, NULL},
    {"--admin-token-file", 1, O_ADMIN_TOKEN_FILE, NULL},
    /* status, workers and stats only: poolctl__admin_run says so */
    {"--watch", 1, O_WATCH, NULL},
    {"--count", 1, O_COUNT, NULL},
    {"--all", 0, O_ALL, "recycle"},
    {"--grace", 1, O_GRACE, "shutdown"},
    {"--string", 0, O_STRING, NULL},
    {"--idempotent", 0, O_IDEMPOTENT, NULL},
    {"--tls-ca", 1, O_TLS_CA, NULL},
    {"--tls-cert", 1, O_TLS_CERT, NULL},
    {"--tls-key", 1, O_TLS_KEY, NULL},
    {"--tls-server-name", 1, O_TLS_SERVER_NAME, NULL},
    {"--help", 0, O_HELP, NULL},
    {"-h", 0, O_HELP, NULL},
    {"--version", 0, O_VERSION, NULL},
};
#define NOPTIONS (sizeof kOptions / sizeof kOptions[0])

static const char kOptionsHelp[] =
    "options (before the command or before the first ARG):\n"
    "  --timeout MS       give up waiting for the reply after MS (default\n"
    "                     60000); exit 3 if no connection was made\n"
    "                     within 5 s (or MS, if shorter). A job is sent\n"
    "                     with MS as its deadline, so the service stops\n"
    "                     it when poolctl gives up\n"
    "  --json             print the whole reply as one JSON object\n"
    "  --tls-ca FILE      for a tls+tcp:// URL: the CAs (PEM) the service's\n"
    "                     certificate must chain to\n"
    "  --tls-cert FILE, --tls-key FILE\n"
    "                     this client's certificate and key (PEM), for a\n"
    "                     service that asks for one\n"
    "  --tls-server-name NAME\n"
    "                     the name the certificate must have (default: the\n"
    "                     URL's host)\n"
    "  -h, --help         this text (after a command: that command's)\n"
    "  --version          poolctl's version\n";

static const char kJobOptionsHelp[] =
    "job options (eval, call; ping takes --url only):\n"
    "  --url URL          the service's job socket (default $ISOPOOL_URL,\n"
    "                     else " POOLCTL_DEFAULT_URL
    ");\n"
    "                     again for each node of several: the job goes to\n"
    "                     the less busy of two, and on to another if one\n"
    "                     is busy, draining or lost; a tcp:// host name is\n"
    "                     a node per address (docs/scaling.md)\n"
    "  --idempotent       the job may run twice: if its node is lost, send\n"
    "                     it once more to another (else: exit 3, the job\n"
    "                     may have run)\n"
    "  --job-timeout MS   the job's own deadline on the server, if\n"
    "                     shorter than --timeout\n"
    "  --cpu-ms MS        the job's CPU time limit (cpu_ms; the service's\n"
    "                     --cpu-ms is its ceiling)\n"
    "  --stats            print what the job cost to stderr (worker,\n"
    "                     queue, run, cpu and wall time, heap, ops, limit)\n"
    "  --permissions JSON what the job may use (default: all the service\n"
    "                     grants), a JSON object with keys read, write,\n"
    "                     env, each true (all granted), false or left out\n"
    "                     (none), or a list of paths under the data root\n"
    "                     (read, write) or of variable names (env), e.g.\n"
    "                     '{\"read\":[\"data\"],\"env\":true}'\n"
    "  --string           send each ARG as a string, as it is\n"
    "  --                 what follows is ARGs, even if it starts with --\n"
    "With --json the object is {\"id\",\"status\",\"value\",\"error\","
    "\"logs\",\"stats\"}.\n"
    "Each ARG is parsed as JSON, else sent as a string (hello sends the\n"
    "string \"hello\", 1 the number 1, '\"1\"' the string \"1\"); an ARG\n"
    "that starts like JSON ({, [, \", a digit, -digit) but is not valid\n"
    "JSON is an error, unless --string. FILE - reads the module from\n"
    "stdin. The value prints as JSON on stdout, the job's console lines\n"
    "on stderr (prefixed [level] unless plain log).\n"
    "Exit status: 0 fulfilled, 1 rejected or refused (error: ...), 2 bad\n"
    "usage or unreadable FILE, 3 cannot connect or node lost,\n"
    "4 no reply in time.\n";

static const char kAdminOptionsHelp[] =
    "admin options (status ... shutdown):\n"
    "  --admin URL        the service's admin socket (default\n"
    "                     $ISOPOOL_ADMIN, else the service's default:\n"
    "                     ipc://$XDG_RUNTIME_DIR/isopool/admin.sock, or\n"
    "                     ipc:///tmp/isopool-$UID/admin.sock when\n"
    "                     XDG_RUNTIME_DIR is not set)\n"
    "  --admin-token SECRET\n"
    "                     the service's admin token, if it has one\n"
    "                     (default $ISOPOOL_ADMIN_TOKEN)\n"
    "  --admin-token-file FILE\n"
    "                     the same, read from FILE's first line\n"
    "  --watch SECONDS    status, workers, stats: ask again every SECONDS\n"
    "                     until Ctrl-C; --count N stops after N rounds\n"
    "With --json the object is the reply map as the service sent it (one\n"
    "line per round of --watch).\n"
    "Exit status: 0 done, 1 refused by the service (poolctl: CODE:\n"
    "MESSAGE), 2 bad usage, 3 cannot connect, 4 no reply in time.\n";

static void usage(FILE* f) {
  fputs("usage:", f);
  for (size_t i = 0; i < NCOMMANDS; i++) {
    fprintf(f, "%s poolctl [OPTIONS] %s\n", i ? "      " : "",
            kCommands[i].synopsis);
  }
  fprintf(f,
          "\neval and call send a job to the service's job socket, and ping\n"
          "asks it whether it takes jobs; the other commands ask its admin\n"
          "socket (docs/protocol.md). `poolctl help COMMAND` says more\n"
          "about one.\n\n%s\n%s\n%s",
          kOptionsHelp, kJobOptionsHelp, kAdminOptionsHelp);
}

static void command_usage(const command* cmd, FILE* f) {
  fprintf(f, "usage: poolctl [OPTIONS] %s\n\n%s\n%s", cmd->synopsis, cmd->help,
          kOptionsHelp);
  if (cmd->admin != ISO_ADMIN_NONE) {
    fprintf(f, "\n%s", kAdminOptionsHelp);
  } else if (cmd->run != cmd_help) {
    fprintf(f, "\n%s", kJobOptionsHelp);
  }
}

static const command* find_command(const char* name) {
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (strcmp(kCommands[i].name, name) == 0) {
      return &kCommands[i];
    }
  }
  return NULL;
}

/* Says that name is no command, and which one it may have meant. */
static void unknown_command(const char* name) {
  const char* near = iso_suggest(name, kCommands, NCOMMANDS, sizeof *kCommands);
  if (near != NULL) {
    fprintf(stderr, "poolctl: unknown command \"%s\" (did you mean %s?)\n",
            name, near);
  } else {
    fprintf(stderr, "poolctl: unknown command \"%s\" (try --help)\n", name);
  }
}

static int cmd_help(const command* cmd, ctl* c) {
  if (c->target == NULL) {
    usage(stdout);
    return EXIT_OK;
  }
  const command* which = find_command(c->target);
  if (which == NULL) {
    unknown_command(c->target);
    return EXIT_USAGE;
  }
  command_usage(which, stdout);
  return EXIT_OK;
}

static int parse_ms(const char* name, const char* s, long long* out) {
  char* end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno != 0 || v <= 0 ||
      v > 7LL * 24 * 3600 * 1000) {
    fprintf(stderr, "poolctl: %s needs a number of milliseconds, not \"%s\"\n",
            name, s);
    return ISO_EUSAGE;
  }
  *out = v;
  return 0;
}

/* --watch SECONDS: a positive number up to a day, fractions allowed. */
static int parse_seconds(const char* name, const char* s, double* out) {
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= 0.01) || v > 86400) {
    fprintf(stderr,
            "poolctl: %s needs a number of seconds such as 2 or 0.5, not "
            "\"%s\"\n",
            name, s);
    return ISO_EUSAGE;
  }
  *out = v;
  return 0;
}

/* Handles argv[*i] when it is an option; returns 1 (an option, consumed,
 * *i advanced past its value), 0 (not an option) or ISO_EUSAGE (bad usage,
 * said). cmd is NULL before the command name. */
static int take_option(ctl* c,
                       const command* cmd,
                       int argc,
                       char** argv,
                       int* i) {
  const char* arg = argv[*i];
  if (strncmp(arg, "--", 2) != 0 && strcmp(arg, "-h") != 0) {
    return 0; /* "-1" is an ARG (a negative number), not an option */
  }
  const char* eq = strchr(arg, '=');
  size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
  const struct option_spec* o = NULL;
  for (size_t k = 0; k < NOPTIONS; k++) {
    if (strlen(kOptions[k].name) == name_len &&
        strncmp(kOptions[k].name, arg, name_len) == 0) {
      o = &kOptions[k];
    }
  }
  if (o == NULL || (o->only_for != NULL &&
                    (cmd == NULL || strcmp(o->only_for, cmd->name) != 0))) {
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)name_len, arg);
    const char* near =
        o == NULL ? iso_suggest(name, kOptions, NOPTIONS, sizeof *kOptions)
                  : NULL;
    fprintf(stderr, "poolctl: unknown option \"%s\"%s%s", name,
            cmd ? " for " : "", cmd ? cmd->name : "");
    if (near != NULL) {
      fprintf(stderr, " (did you mean %s?)\n", near);
    } else {
      fprintf(stderr, " (see --help)\n");
    }
    return ISO_EUSAGE;
  }
  const char* value = NULL;
  if (o->takes_value) {
    if (eq != NULL) {
      value = eq + 1;
    } else if (*i + 1 < argc) {
      value = argv[++*i];
    } else {
      fprintf(stderr, "poolctl: %s needs a value\n", o->name);
      return ISO_EUSAGE;
    }
  } else if (eq != NULL) {
    fprintf(stderr, "poolctl: %s takes no value\n", o->name);
    return ISO_EUSAGE;
  }
  (*i)++;
  switch (o->id) {
    case O_URL:
      if (c->nurls == ISO_CLIENT_MAX_NODES) {
        fprintf(stderr, "poolctl: at most %d --url\n", ISO_CLIENT_MAX_NODES);
        return ISO_EUSAGE;
      }
      c->urls[c->nurls++] = value;
      c->url = c->urls[0];
      break;
    case O_TIMEOUT:
      return parse_ms("--timeout", value, &c->timeout_ms) ? ISO_EUSAGE : 1;
    case O_JOB_TIMEOUT:
      return parse_ms("--job-timeout", value, &c->job_timeout_ms) ? ISO_EUSAGE
                                                                  : 1;
    case O_CPU_MS:
      return parse_ms("--cpu-ms", value, &c->job_cpu_ms) ? ISO_EUSAGE : 1;
    case O_PERMISSIONS:
      c->permissions = value;
      break;
    case O_JSON:
      c->json = 1;
      break;
    case O_STATS:
      c->stats = 1;
      break;
    case O_MODULE:
      c->module = value;
      break;
    case O_EXPORT:
      c->export_name = value;
      break;
    case O_ADMIN:
      c->admin_url = value;
      c->admin_from = "from --admin";
      break;
    case O_ADMIN_TOKEN:
      c->admin_token = value;
      break;
    case O_ADMIN_TOKEN_FILE:
      c->admin_token_file = value;
      break;
    case O_WATCH:
      return parse_seconds("--watch", value, &c->watch_s) ? ISO_EUSAGE : 1;
    case O_COUNT:
      return poolctl__parse_int("--count", "a number of rounds (1 or more)",
                                value, 1, 1000000000, &c->count)
                 ? ISO_EUSAGE
                 : 1;
    case O_ALL:
      c->all = 1;
      break;
    case O_STRING:
      c->as_strings = 1;
      break;
    case O_IDEMPOTENT:
      c->idempotent = 1;
      break;
    case O_TLS_CA:
      c->tls_ca = value;
      break;
    case O_TLS_CERT:
      c->tls_cert = value;
      break;
    case O_TLS_KEY:
      c->tls_key = value;
      break;
    case O_TLS_SERVER_NAME:
      c->tls_server_name = value;
      break;
    case O_GRACE:
      return poolctl__parse_int("--grace",
                                "a number of milliseconds from 0 to 3600000",
                                value, 0, 3600000, &c->grace_ms)
                 ? ISO_EUSAGE
                 : 1;
    case O_HELP:
      if (cmd != NULL) {
        command_usage(cmd, stdout);
      } else {
        usage(stdout);
      }
      exit(EXIT_OK);
    case O_VERSION:
      printf("poolctl (isopool) " ISO_VERSION "\n");
      exit(EXIT_OK);
  }
  return 1;
}

int main(int argc, char** argv) {
  const char* env_url = getenv("ISOPOOL_URL");
  const char* env_admin = getenv("ISOPOOL_ADMIN");
  int admin_env = env_admin != NULL && env_admin[0] != '\0';
  ctl c = {
      .url = env_url && env_url[0] ? env_url : POOLCTL_DEFAULT_URL,
      .timeout_ms = POOLCTL_DEFAULT_TIMEOUT_MS,
      .admin_url = admin_env ? env_admin : poolctl__default_admin_url(),
      .admin_from = admin_env ? "from ISOPOOL_ADMIN" : "the default",
      .grace_ms = -1,
  };
  int i = 1, r;
  while (i < argc && (r = take_option(&c, NULL, argc, argv, &i)) != 0) {
    if (r < 0) {
      return poolctl__exit_status(r);
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const command* cmd = find_command(argv[i]);
  if (cmd == NULL) {
    unknown_command(argv[i]);
    return EXIT_USAGE;
  }
  i++;
  /* Options until the first ARG; the target word may sit among them. */
  int dashdash = 0;
  while (i < argc) {
    int wants_target =
        cmd->target != NULL && c.target == NULL && c.module == NULL;
    if (strcmp(argv[i], "--") == 0) {
      i++;
      dashdash = 1;
      if (wants_target && i < argc) {
        c.target = argv[i++];
      }
      break;
    }
    r = take_option(&c, cmd, argc, argv, &i);
    if (r < 0) {
      return poolctl__exit_status(r);
    }
    if (r == 0) {
      if (!wants_target) {
        break;
      }
      c.target = argv[i++];
    }
  }
  c.args = argv + i;
  c.nargs = argc - i;
  /* an option after the first ARG is a mistake, not an ARG: `--` first
   * sends one as an ARG */
  for (int k = 0; !dashdash && k < c.nargs; k++) {
    if (strcmp(c.args[k], "--") == 0) {
      fprintf(stderr,
              "poolctl: \"--\" after the arguments: put it before the first "
              "ARG\n");
      return EXIT_USAGE;
    }
    if (strncmp(c.args[k], "--", 2) == 0 || strcmp(c.args[k], "-h") == 0) {
      fprintf(stderr,
              "poolctl: option \"%s\" after the arguments: options go before "
              "the first ARG (or pass it as an ARG after --)\n",
              c.args[k]);
      return EXIT_USAGE;
    }
  }
  if (cmd->target != NULL && !cmd->target_optional && c.target == NULL &&
      c.module == NULL) {
    fprintf(stderr, "poolctl: %s needs %s\n\n", cmd->name, cmd->target);
    command_usage(cmd, stderr);
    return EXIT_USAGE;
  }
  if (!cmd->takes_args && c.nargs > 0) {
    fprintf(stderr,
            "poolctl: %s takes no argument \"%s\" (see poolctl help %s)\n",
            cmd->name, c.args[0], cmd->name);
    return EXIT_USAGE;
  }
  return cmd->run(cmd, &c);
}
