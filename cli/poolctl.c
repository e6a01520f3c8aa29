/* poolctl.c: the command-line client of an isopool service.
 *
 *   poolctl [OPTIONS] eval FILE [ARG...]
 *   poolctl [OPTIONS] eval --module SPEC [ARG...]
 *   poolctl [OPTIONS] call SPEC [--export NAME] [ARG...]
 *
 * Each command sends one job through the client library (ipc/iso_client.h)
 * and waits for its reply. The value is printed as one JSON line on stdout
 * and the job's console lines go to stderr; `--json` prints the whole reply
 * as one JSON object instead. Exit status: 0 fulfilled, 1 rejected or
 * refused by the service (or no reply in time), 2 bad usage (including a
 * FILE that cannot be read), 3 no connection to the service.
 *
 * `--permissions JSON` sends the job's `permissions` field (what it may
 * read, write and see of the environment, at most what the service
 * grants; docs/protocol.md): the JSON object is converted to msgpack and
 * its shape checked here, so a malformed value is a usage error (exit 2)
 * rather than a bad_request reply.
 *
 * `eval FILE` sends FILE's text as the module source, named by FILE's base
 * name, so the server resolves its relative imports against its module
 * root: `./lib/x.js` in FILE means <root>/lib/x.js, wherever FILE is here.
 *
 * Commands and options are data tables (kCommands, kOptions); main() only
 * walks them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_proto.h"

#define DEFAULT_URL "tcp://127.0.0.1:7447"
#define DEFAULT_TIMEOUT_MS 60000
/* how long to wait for the connection itself before exit 3 */
#define CONNECT_WAIT_MS 5000

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NOCONN = 3 };

/* ---- the parsed command line -------------------------------------------- */

typedef struct ctl {
  const char* url;
  long long timeout_ms;     /* client-side deadline of the whole exchange */
  long long job_timeout_ms; /* the job's timeout_ms; 0: the server's */
  int json;
  const char* module;      /* eval --module SPEC */
  const char* export_name; /* call --export NAME */
  const char* target;      /* eval FILE, call SPEC */
  const char* permissions; /* --permissions JSON, or NULL */
  char** args;             /* the ARGs */
  int nargs;
} ctl;

typedef struct command command;
struct command {
  const char* name;
  const char* synopsis; /* after "poolctl [OPTIONS] " */
  const char* help;     /* what it does and its own options */
  /* The word before the ARGs ("FILE"), or NULL; --module SPEC stands in
   * for it (eval). */
  const char* target;
  int target_optional;
  int takes_args;
  int (*run)(const command* cmd, ctl* c);
};

/* ---- small msgpack writers (args and the --json reply) ------------------ */

/* A str, array or map header: the fix form, else the 32-bit form (the
 * reader accepts any width). */
static int mp_head(iso_buf* b,
                   uint8_t fix,
                   uint8_t fix_max,
                   uint8_t wide,
                   size_t n) {
  uint8_t h[5];
  if (n <= fix_max) {
    h[0] = (uint8_t)(fix | n);
    return iso_buf_append(b, h, 1);
  }
  h[0] = wide;
  for (int i = 0; i < 4; i++) {
    h[1 + i] = (uint8_t)(n >> (24 - 8 * i));
  }
  return iso_buf_append(b, h, 5);
}

static int mp_str(iso_buf* b, const char* s, size_t n) {
  int rc = mp_head(b, 0xa0, 31, 0xdb, n);
  return rc ? rc : iso_buf_append(b, s, n);
}

static int mp_cstr(iso_buf* b, const char* s) {
  return mp_str(b, s, strlen(s));
}

static int mp_array(iso_buf* b, size_t n) {
  return mp_head(b, 0x90, 15, 0xdd, n);
}

static int mp_map(iso_buf* b, size_t n) {
  return mp_head(b, 0x80, 15, 0xdf, n);
}

static int mp_int(iso_buf* b, int64_t v) {
  uint8_t h[9] = {0xd3};
  for (int i = 0; i < 8; i++) {
    h[1 + i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
  }
  return iso_buf_append(b, h, 9);
}

static int mp_raw_or_nil(iso_buf* b, const uint8_t* p, size_t n) {
  static const uint8_t nil = 0xc0;
  return n > 0 ? iso_buf_append(b, p, n) : iso_buf_append(b, &nil, 1);
}

/* ---- output ------------------------------------------------------------- */

static const char* status_name(iso_status s) {
  switch (s) {
    case ISO_STATUS_FULFILLED:
      return "fulfilled";
    case ISO_STATUS_REJECTED:
      return "rejected";
    case ISO_STATUS_ERROR:
      return "error";
    default:
      return "none";
  }
}

/* Prints one msgpack value (none: nil) as a JSON line on stdout. */
static int print_json(const uint8_t* mp, size_t len) {
  static const uint8_t nil = 0xc0;
  iso_buf out;
  iso_buf_init(&out);
  int rc = len > 0 ? iso_json_from_msgpack(mp, len, &out)
                   : iso_json_from_msgpack(&nil, 1, &out);
  if (rc == 0) {
    fwrite(out.data, 1, out.len, stdout);
    fputc('\n', stdout);
  } else {
    fprintf(stderr, "poolctl: the reply's value is not valid msgpack\n");
  }
  iso_buf_free(&out);
  return rc;
}

/* The whole reply as one JSON object, in a fixed key order:
 * {"id", "status", "value", "error", "logs", "stats"}. */
static int print_reply_json(const iso_result* r) {
  iso_buf mp;
  iso_buf_init(&mp);
  int rc = mp_map(&mp, 6);
  rc = rc ? rc : mp_cstr(&mp, "id");
  rc = rc ? rc : mp_raw_or_nil(&mp, r->id, r->id_len);
  rc = rc ? rc : mp_cstr(&mp, "status");
  rc = rc ? rc : mp_cstr(&mp, status_name(r->status));
  rc = rc ? rc : mp_cstr(&mp, "value");
  rc = rc ? rc
          : mp_raw_or_nil(&mp,
                          r->status == ISO_STATUS_FULFILLED ? r->value : NULL,
                          r->status == ISO_STATUS_FULFILLED ? r->value_len : 0);
  rc = rc ? rc : mp_cstr(&mp, "error");
  if (r->status == ISO_STATUS_REJECTED) {
    rc = rc ? rc : mp_map(&mp, 3);
    rc = rc ? rc : mp_cstr(&mp, "name");
    rc = rc ? rc : mp_cstr(&mp, r->name);
    rc = rc ? rc : mp_cstr(&mp, "message");
    rc = rc ? rc : mp_cstr(&mp, r->message);
    rc = rc ? rc : mp_cstr(&mp, "stack");
    rc = rc ? rc : mp_cstr(&mp, r->stack);
  } else if (r->status == ISO_STATUS_ERROR) {
    rc = rc ? rc : mp_map(&mp, 2);
    rc = rc ? rc : mp_cstr(&mp, "code");
    rc = rc ? rc : mp_cstr(&mp, r->code_name);
    rc = rc ? rc : mp_cstr(&mp, "message");
    rc = rc ? rc : mp_cstr(&mp, r->message);
  } else {
    rc = rc ? rc : mp_raw_or_nil(&mp, NULL, 0);
  }
  rc = rc ? rc : mp_cstr(&mp, "logs");
  rc = rc ? rc : mp_array(&mp, r->nlogs);
  for (size_t i = 0; rc == 0 && i < r->nlogs; i++) {
    rc = mp_array(&mp, 2);
    rc = rc ? rc : mp_cstr(&mp, iso_log_level_name(r->logs[i].level));
    rc = rc ? rc : mp_str(&mp, r->logs[i].text, r->logs[i].len);
  }
  rc = rc ? rc : mp_cstr(&mp, "stats");
  rc = rc ? rc : mp_map(&mp, 3);
  rc = rc ? rc : mp_cstr(&mp, "worker");
  rc = rc ? rc : mp_int(&mp, r->stats.worker);
  rc = rc ? rc : mp_cstr(&mp, "queue_us");
  rc = rc ? rc : mp_int(&mp, r->stats.queue_us);
  rc = rc ? rc : mp_cstr(&mp, "run_us");
  rc = rc ? rc : mp_int(&mp, r->stats.run_us);
  if (rc == 0) {
    rc = print_json(mp.data, mp.len);
  }
  iso_buf_free(&mp);
  return rc;
}

/* Console lines to stderr: the text, prefixed "[level] " unless the level
 * is plain "log". */
static void print_logs(const iso_result* r) {
  for (size_t i = 0; i < r->nlogs; i++) {
    const iso_log* l = &r->logs[i];
    if (l->level != ISO_LOG_LOG) {
      fprintf(stderr, "[%s] ", iso_log_level_name(l->level));
    }
    fwrite(l->text, 1, l->len, stderr);
    fputc('\n', stderr);
  }
}

/* Prints a reply the way the options ask; returns the exit status. */
static int report(const ctl* c, const iso_result* r) {
  int status = r->status == ISO_STATUS_FULFILLED ? EXIT_OK : EXIT_FAILED;
  if (c->json) {
    return print_reply_json(r) == 0 ? status : EXIT_FAILED;
  }
  print_logs(r);
  fflush(stderr);
  switch (r->status) {
    case ISO_STATUS_FULFILLED:
      if (print_json(r->value, r->value_len) != 0) {
        status = EXIT_FAILED;
      }
      break;
    case ISO_STATUS_REJECTED:
      if (r->stack[0] != '\0') {
        fprintf(stderr, "error: Uncaught %s\n", r->stack);
      } else if (r->name[0] != '\0') {
        fprintf(stderr, "error: Uncaught %s: %s\n", r->name, r->message);
      } else {
        fprintf(stderr, "error: Uncaught %s\n", r->message);
      }
      break;
    case ISO_STATUS_ERROR:
      fprintf(stderr, "error: %s: %s\n", r->code_name, r->message);
      break;
    default:
      fprintf(stderr, "poolctl: a reply without a status\n");
      break;
  }
  return status;
}

/* ---- sending a job ------------------------------------------------------ */

/* The ARGs as one msgpack array: each parsed as JSON, else a string. */
static int encode_args(const ctl* c, iso_buf* out) {
  int rc = mp_array(out, (size_t)c->nargs);
  for (int i = 0; rc == 0 && i < c->nargs; i++) {
    const char* a = c->args[i];
    rc = iso_json_to_msgpack(a, strlen(a), out);
    if (rc == ISO_EPROTO) {
      rc = mp_cstr(out, a);
    }
  }
  return rc;
}

/* --permissions JSON as a msgpack map in out. Returns 0, EXIT_USAGE (a
 * malformed value, said on stderr) or EXIT_FAILED (out of memory). */
static int encode_permissions(const char* json, iso_buf* out) {
  iso_json_error je;
  int rc = iso_json_to_msgpack_ex(json, strlen(json), out, &je);
  if (rc == ISO_EPROTO) {
    fprintf(stderr,
            "poolctl: --permissions is not valid JSON: %s at column %d (want "
            "an object such as '{\"read\":[\"data\"],\"env\":true}')\n",
            je.message, je.column);
    return EXIT_USAGE;
  }
  if (rc != 0) {
    fprintf(stderr, "poolctl: out of memory\n");
    return EXIT_FAILED;
  }
  char why[ISO_PROTO_ERRMSG_MAX];
  if (iso_proto_check_permissions(out->data, out->len, why, sizeof why) != 0) {
    fprintf(stderr, "poolctl: --permissions: %s\n", why);
    return EXIT_USAGE;
  }
  return 0;
}

/* Sends job with the ARGs, prints the reply; returns the exit status. */
static int send_job(const ctl* c, iso_job* job) {
  iso_buf perms;
  iso_buf_init(&perms);
  if (c->permissions != NULL) {
    int st = encode_permissions(c->permissions, &perms);
    if (st != 0) {
      iso_buf_free(&perms);
      return st;
    }
    job->permissions = perms.data;
    job->permissions_len = perms.len;
  }
  iso_buf args;
  iso_buf_init(&args);
  if (encode_args(c, &args) != 0) {
    iso_buf_free(&perms);
    iso_buf_free(&args);
    fprintf(stderr, "poolctl: out of memory\n");
    return EXIT_FAILED;
  }
  job->args = args.data;
  job->args_len = args.len;
  job->timeout_ms = c->job_timeout_ms;

  iso_client_opts opts = {.max_inflight = 1};
  iso_client* client = NULL;
  int rc = iso_client_open(c->url, &opts, &client);
  if (rc != 0) {
    iso_buf_free(&perms);
    iso_buf_free(&args);
    fprintf(stderr, "poolctl: cannot use URL \"%s\": %s\n", c->url,
            iso_strerror(rc));
    return rc == ISO_EINVAL ? EXIT_USAGE : EXIT_FAILED;
  }
  /* a service that is not there fails fast: the dial retries in the
   * background, so wait for the connection itself a bounded time */
  long long wait_ms = c->timeout_ms < CONNECT_WAIT_MS && c->timeout_ms >= 0
                          ? c->timeout_ms
                          : CONNECT_WAIT_MS;
  for (long long t = 0; !iso_client_connected(client) && t < wait_ms; t += 5) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  iso_result r;
  rc = iso_client_connected(client)
           ? iso_client_call(client, job, c->timeout_ms, &r)
           : ISO_ECONNECT;
  int status;
  switch (rc) {
    case 0:
      status = report(c, &r);
      iso_result_free(&r);
      break;
    case ISO_ECONNECT:
      fprintf(stderr,
              "poolctl: cannot connect to %s (no connection within %lld ms, "
              "or it was lost)\n",
              c->url, wait_ms);
      status = EXIT_NOCONN;
      break;
    case ISO_ETIMEDOUT:
      fprintf(stderr, "poolctl: no reply from %s within %lld ms\n", c->url,
              c->timeout_ms);
      status = EXIT_FAILED;
      break;
    case ISO_EINVAL:
      fprintf(stderr,
              "poolctl: the job is not valid (check SPEC and "
              "--export)\n");
      status = EXIT_USAGE;
      break;
    default:
      fprintf(stderr, "poolctl: %s: %s\n", c->url, iso_strerror(rc));
      status = EXIT_FAILED;
      break;
  }
  iso_client_close(client);
  iso_buf_free(&perms);
  iso_buf_free(&args);
  return status;
}

/* Reads a whole file into b (NUL-terminated). Returns 0 or an errno
 * value. */
static int read_file(const char* path, iso_buf* b) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    return errno;
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
  return err;
}

/* ---- the commands ------------------------------------------------------- */

static int cmd_eval(const command* cmd, ctl* c) {
  if (c->module != NULL && c->target != NULL) {
    fprintf(stderr, "poolctl: eval takes FILE or --module SPEC, not both\n");
    return EXIT_USAGE;
  }
  if (c->module != NULL) {
    iso_job job = {.kind = ISO_JOB_EVAL, .module = c->module};
    return send_job(c, &job);
  }
  iso_buf text;
  iso_buf_init(&text);
  errno = 0;
  int err = read_file(c->target, &text);
  if (err != 0) {
    iso_buf_free(&text);
    fprintf(stderr, "poolctl: cannot read %s: %s\n", c->target, strerror(err));
    return EXIT_USAGE;
  }
  const char* base = strrchr(c->target, '/');
  base = base ? base + 1 : c->target;
  /* An empty file sends source "" (source_len 0 means strlen: 0 too). */
  iso_job job = {.kind = ISO_JOB_EVAL,
                 .source = text.data ? (const char*)text.data : "",
                 .source_len = text.len,
                 .module = base};
  int status = send_job(c, &job);
  iso_buf_free(&text);
  return status;
}

static int cmd_call(const command* cmd, ctl* c) {
  iso_job job = {
      .kind = ISO_JOB_CALL, .module = c->target, .export_name = c->export_name};
  return send_job(c, &job);
}

static int cmd_help(const command* cmd, ctl* c);

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
     .run = cmd_eval},
    {.name = "call",
     .synopsis = "call SPEC [--export NAME] [ARG...]",
     .help = "Call an export of the module SPEC (under the server's module\n"
             "root, kept warm between calls) with the ARGs; await the value.\n"
             "  --export NAME  the export to call (default: default)\n",
     .target = "SPEC",
     .takes_args = 1,
     .run = cmd_call},
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
  O_PERMISSIONS,
  O_JSON,
  O_MODULE,
  O_EXPORT,
  O_HELP
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
    {"--permissions", 1, O_PERMISSIONS, NULL},
    {"--json", 0, O_JSON, NULL},
    {"--module", 1, O_MODULE, "eval"},
    {"--export", 1, O_EXPORT, "call"},
    {"--help", 0, O_HELP, NULL},
    {"-h", 0, O_HELP, NULL},
};
#define NOPTIONS (sizeof kOptions / sizeof kOptions[0])

static const char kOptionsHelp[] =
    "options (before the command or before the first ARG):\n"
    "  --url URL          the service (default $ISOPOOL_URL, else\n"
    "                     " DEFAULT_URL
    ")\n"
    "  --timeout MS       give up waiting for the reply after MS (default\n"
    "                     60000); exit 3 if no connection was made\n"
    "                     within 5 s (or MS, if shorter)\n"
    "  --job-timeout MS   the job's own deadline on the server\n"
    "  --permissions JSON what the job may use (default: all the service\n"
    "                     grants), a JSON object with keys read, write,\n"
    "                     env, each true (all granted), false or left out\n"
    "                     (none), or a list of paths under the data root\n"
    "                     (read, write) or of variable names (env), e.g.\n"
    "                     '{\"read\":[\"data\"],\"env\":true}'\n"
    "  --json             print the whole reply as one JSON object:\n"
    "                     {\"id\",\"status\",\"value\",\"error\",\"logs\","
    "\"stats\"}\n"
    "  --                 what follows is ARGs, even if it starts with --\n"
    "\n"
    "Each ARG is parsed as JSON, else sent as a string ('\"1\"' sends the\n"
    "string \"1\", 1 the number). The value prints as JSON on stdout, the\n"
    "job's console lines on stderr (prefixed [level] unless plain log).\n"
    "Exit status: 0 fulfilled, 1 rejected or refused (error: ...), 2 bad\n"
    "usage or unreadable FILE, 3 cannot connect.\n";

static void usage(FILE* f) {
  fputs("usage:", f);
  for (size_t i = 0; i < NCOMMANDS; i++) {
    fprintf(f, "%s poolctl [OPTIONS] %s\n", i ? "      " : "",
            kCommands[i].synopsis);
  }
  fputs("\n", f);
  fputs(kOptionsHelp, f);
}

static void command_usage(const command* cmd, FILE* f) {
  fprintf(f, "usage: poolctl [OPTIONS] %s\n\n%s\n%s", cmd->synopsis, cmd->help,
          kOptionsHelp);
}

static const command* find_command(const char* name) {
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (strcmp(kCommands[i].name, name) == 0) {
      return &kCommands[i];
    }
  }
  return NULL;
}

static int cmd_help(const command* cmd, ctl* c) {
  if (c->target == NULL) {
    usage(stdout);
    return EXIT_OK;
  }
  const command* which = find_command(c->target);
  if (which == NULL) {
    fprintf(stderr, "poolctl: unknown command \"%s\"\n", c->target);
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
    return -1;
  }
  *out = v;
  return 0;
}

/* Handles argv[*i] when it is an option; returns 1 (an option, consumed,
 * *i advanced past its value), 0 (not an option) or -1 (bad usage, said).
 * cmd is NULL before the command name. */
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
    fprintf(stderr, "poolctl: unknown option \"%.*s\"%s%s (see --help)\n",
            (int)name_len, arg, cmd ? " for " : "", cmd ? cmd->name : "");
    return -1;
  }
  const char* value = NULL;
  if (o->takes_value) {
    if (eq != NULL) {
      value = eq + 1;
    } else if (*i + 1 < argc) {
      value = argv[++*i];
    } else {
      fprintf(stderr, "poolctl: %s needs a value\n", o->name);
      return -1;
    }
  } else if (eq != NULL) {
    fprintf(stderr, "poolctl: %s takes no value\n", o->name);
    return -1;
  }
  (*i)++;
  switch (o->id) {
    case O_URL:
      c->url = value;
      break;
    case O_TIMEOUT:
      return parse_ms("--timeout", value, &c->timeout_ms) ? -1 : 1;
    case O_JOB_TIMEOUT:
      return parse_ms("--job-timeout", value, &c->job_timeout_ms) ? -1 : 1;
    case O_PERMISSIONS:
      c->permissions = value;
      break;
    case O_JSON:
      c->json = 1;
      break;
    case O_MODULE:
      c->module = value;
      break;
    case O_EXPORT:
      c->export_name = value;
      break;
    case O_HELP:
      if (cmd != NULL) {
        command_usage(cmd, stdout);
      } else {
        usage(stdout);
      }
      exit(EXIT_OK);
  }
  return 1;
}

int main(int argc, char** argv) {
  const char* env_url = getenv("ISOPOOL_URL");
  ctl c = {
      .url = env_url && env_url[0] ? env_url : DEFAULT_URL,
      .timeout_ms = DEFAULT_TIMEOUT_MS,
  };
  int i = 1, r;
  while (i < argc && (r = take_option(&c, NULL, argc, argv, &i)) != 0) {
    if (r < 0) {
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const command* cmd = find_command(argv[i]);
  if (cmd == NULL) {
    fprintf(stderr, "poolctl: unknown command \"%s\" (try --help)\n", argv[i]);
    return EXIT_USAGE;
  }
  i++;
  /* Options until the first ARG; the target word may sit among them. */
  while (i < argc) {
    int wants_target =
        cmd->target != NULL && c.target == NULL && c.module == NULL;
    if (strcmp(argv[i], "--") == 0) {
      i++;
      if (wants_target && i < argc) {
        c.target = argv[i++];
      }
      break;
    }
    r = take_option(&c, cmd, argc, argv, &i);
    if (r < 0) {
      return EXIT_USAGE;
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
  if (cmd->target != NULL && !cmd->target_optional && c.target == NULL &&
      c.module == NULL) {
    fprintf(stderr, "poolctl: %s needs %s\n\n", cmd->name, cmd->target);
    command_usage(cmd, stderr);
    return EXIT_USAGE;
  }
  if (!cmd->takes_args && c.nargs > 0) {
    fprintf(stderr, "poolctl: %s takes no argument \"%s\"\n", cmd->name,
            c.args[0]);
    return EXIT_USAGE;
  }
  return cmd->run(cmd, &c);
}
