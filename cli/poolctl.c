/* poolctl.c: the command-line client of an isopool service.
 *
 *   poolctl [OPTIONS] eval FILE [ARG...]
 *   poolctl [OPTIONS] eval --module SPEC [ARG...]
 *   poolctl [OPTIONS] call SPEC [--export NAME] [ARG...]
 *   poolctl [OPTIONS] status | workers | jobs | stats | cancel ID | resize N
 *                   | recycle [WORKER|--all] | reload [SPEC] | drain
 *                   | shutdown [--grace MS]
 *
 * The job commands (eval, call) send one job through the client library
 * (ipc/iso_client.h) and wait for its reply. The value is printed as one
 * JSON line on stdout and the job's console lines go to stderr; `--json`
 * prints the whole reply as one JSON object instead. Exit status: 0
 * fulfilled, 1 rejected or refused by the service (or no reply in time), 2
 * bad usage (including a FILE that cannot be read), 3 no connection to the
 * service.
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
 * The admin commands talk to the service's admin socket (`--admin URL`;
 * docs/protocol.md, "The admin protocol"): each sends one request map
 * {v, cmd, token, the command's keys}, encoded by ipc/iso_admin.h (the
 * codec the service decodes with), with iso_client_request_raw and
 * prints the reply as a key/value block, a table that fits 80 columns or
 * one line saying what happened; `--json` prints the reply map itself as
 * one JSON line. Replies are read with the codec's reader (iso_mp.h)
 * through small helpers (mv_*) that look keys up by name, so keys a newer
 * service adds are ignored and missing ones print as "-". status, workers
 * and stats take `--watch SECONDS`: a new round every SECONDS until SIGINT,
 * SIGTERM or `--count N` rounds. Exit status as for jobs: 0 ok, 1 the service
 * answered ok:false (or no reply in time), 2 bad usage, 3 no connection.
 *
 * Commands and options are data tables (kCommands, kOptions); main() only
 * walks them.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "iso_proto.h"
#include "iso_utf8.h"

#define DEFAULT_URL "tcp://127.0.0.1:7447"
#define DEFAULT_TIMEOUT_MS 60000
/* how long to wait for the connection itself before exit 3 */
#define CONNECT_WAIT_MS 5000

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NOCONN = 3 };

/* One msgpack value inside an admin reply: it starts at p, the reply ends
 * at end. p == NULL: absent (a missing key, an index past the end). */
typedef struct mv {
  const uint8_t* p;
  const uint8_t* end;
} mv;

/* ---- the parsed command line -------------------------------------------- */

typedef struct ctl {
  const char* url;
  long long timeout_ms;     /* client-side deadline of the whole exchange */
  long long job_timeout_ms; /* the job's timeout_ms; 0: the server's */
  int json;
  const char* module;      /* eval --module SPEC */
  const char* export_name; /* call --export NAME */
  const char* target;      /* eval FILE, call SPEC, cancel ID, ... */
  const char* permissions; /* --permissions JSON, or NULL */
  char** args;             /* the ARGs */
  int nargs;
  /* the admin commands */
  const char* admin_url;
  const char* admin_from;       /* where admin_url came from, for errors */
  const char* admin_token;      /* --admin-token, or NULL */
  const char* admin_token_file; /* --admin-token-file, or NULL */
  double watch_s;               /* --watch SECONDS; 0: once */
  long long count;              /* --count N; 0: until a signal */
  int all;                      /* recycle --all */
  long long grace_ms;           /* shutdown --grace MS; -1: the service's */
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
  /* Admin commands (run = cmd_admin): the request's cmd, a function that
   * sets the command's own keys from the command line (returns 0, or -1
   * after saying on stderr what is wrong), the human view of an ok reply,
   * and whether --watch may repeat it. */
  iso_admin_cmd admin;
  int (*fill)(const ctl* c, iso_admin_req* q);
  void (*show)(const ctl* c, mv reply);
  int watchable;
};

/* Raw msgpack as it is, or nil when there is none. */
static void put_raw_or_nil(iso_mp_wr* w, const uint8_t* p, size_t n) {
  if (n > 0) {
    iso_mp_put_raw(w, p, n);
  } else {
    iso_mp_put_nil(w);
  }
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
  } else if (rc == ISO_ETOOBIG) {
    /* map keys that are maps, nested deeply, double the text at each
     * level (iso_json.h): the JSON would be too large to print */
    fprintf(stderr,
            "poolctl: the reply's value is too large to print as JSON (map "
            "keys that are maps nest too deeply)\n");
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
  iso_mp_wr w;
  iso_mp_wr_init(&w, &mp);
  iso_mp_put_map(&w, 6);
  iso_mp_put_cstr(&w, "id");
  put_raw_or_nil(&w, r->id, r->id_len);
  iso_mp_put_cstr(&w, "status");
  iso_mp_put_cstr(&w, status_name(r->status));
  iso_mp_put_cstr(&w, "value");
  put_raw_or_nil(&w, r->status == ISO_STATUS_FULFILLED ? r->value : NULL,
                 r->status == ISO_STATUS_FULFILLED ? r->value_len : 0);
  iso_mp_put_cstr(&w, "error");
  if (r->status == ISO_STATUS_REJECTED) {
    iso_mp_put_map(&w, 3);
    iso_mp_put_cstr(&w, "name");
    iso_mp_put_cstr(&w, r->name);
    iso_mp_put_cstr(&w, "message");
    iso_mp_put_cstr(&w, r->message);
    iso_mp_put_cstr(&w, "stack");
    iso_mp_put_cstr(&w, r->stack);
  } else if (r->status == ISO_STATUS_ERROR) {
    iso_mp_put_map(&w, 2);
    iso_mp_put_cstr(&w, "code");
    iso_mp_put_cstr(&w, r->code_name);
    iso_mp_put_cstr(&w, "message");
    iso_mp_put_cstr(&w, r->message);
  } else {
    iso_mp_put_nil(&w);
  }
  iso_mp_put_cstr(&w, "logs");
  iso_mp_put_array(&w, r->nlogs);
  for (size_t i = 0; i < r->nlogs; i++) {
    iso_mp_put_array(&w, 2);
    iso_mp_put_cstr(&w, iso_log_level_name(r->logs[i].level));
    iso_mp_put_str(&w, r->logs[i].text, r->logs[i].len);
  }
  iso_mp_put_cstr(&w, "stats");
  iso_mp_put_map(&w, 3);
  iso_mp_put_cstr(&w, "worker");
  iso_mp_put_int(&w, r->stats.worker);
  iso_mp_put_cstr(&w, "queue_us");
  iso_mp_put_int(&w, r->stats.queue_us);
  iso_mp_put_cstr(&w, "run_us");
  iso_mp_put_int(&w, r->stats.run_us);
  int rc = w.err;
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
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_array(&w, (size_t)c->nargs);
  for (int i = 0; w.err == 0 && i < c->nargs; i++) {
    const char* a = c->args[i];
    int rc = iso_json_to_msgpack(a, strlen(a), out);
    if (rc == ISO_EPROTO) {
      iso_mp_put_cstr(&w, a);
    } else if (rc != 0) {
      return rc;
    }
  }
  return w.err;
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

/* Opens a client of url and waits for its connection a bounded time: a
 * service that is not there fails fast, while the dial retries in the
 * background. Returns 0 with *out (connected or not: check
 * iso_client_connected) and *wait_ms, the time it waited at most; else
 * iso_client_open's error. */
static int open_client(const ctl* c,
                       const char* url,
                       iso_client** out,
                       long long* wait_ms) {
  iso_client_opts opts = {.max_inflight = 1};
  int rc = iso_client_open(url, &opts, out);
  if (rc != 0) {
    return rc;
  }
  *wait_ms = c->timeout_ms < CONNECT_WAIT_MS && c->timeout_ms >= 0
                 ? c->timeout_ms
                 : CONNECT_WAIT_MS;
  for (long long t = 0; !iso_client_connected(*out) && t < *wait_ms; t += 5) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
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

  iso_client* client = NULL;
  long long wait_ms;
  int rc = open_client(c, c->url, &client, &wait_ms);
  if (rc != 0) {
    iso_buf_free(&perms);
    iso_buf_free(&args);
    fprintf(stderr, "poolctl: cannot use URL \"%s\": %s\n", c->url,
            iso_strerror(rc));
    return rc == ISO_EINVAL ? EXIT_USAGE : EXIT_FAILED;
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

/* ---- reading an admin reply: values by key, over the codec's reader ---- */

/* The header of the value v (o), and where what follows it starts (*next,
 * if asked); 0 or -1 when v is absent or malformed. */
static int mv_head(mv v, iso_mp_obj* o, const uint8_t** next) {
  if (v.p == NULL) {
    return -1;
  }
  iso_mp_rd r = {v.p, v.end};
  if (iso_mp_read(&r, o) != 0) {
    return -1;
  }
  if (next != NULL) {
    *next = r.p;
  }
  return 0;
}

/* Where the value after the one at p starts, stepping over it whole; NULL
 * when the bytes are malformed or nest too deep. */
static const uint8_t* mv_skip(const uint8_t* p, const uint8_t* end) {
  if (p == NULL) {
    return NULL;
  }
  iso_mp_rd r = {p, end};
  int too_deep = 0;
  if (iso_mp_skip(&r, 1, 2 * ISO_JSON_MAX_PRINT_DEPTH, &too_deep) != 0 ||
      too_deep) {
    return NULL;
  }
  return r.p;
}

/* The value's type (an iso_mp_type), or -1 when it is absent or
 * malformed. */
static int mv_kind(mv v) {
  iso_mp_obj o;
  return mv_head(v, &o, NULL) == 0 ? (int)o.type : -1;
}

/* The number of entries of an array or map; 0 for anything else. */
static size_t mv_count(mv v) {
  iso_mp_obj o;
  if (mv_head(v, &o, NULL) != 0 ||
      (o.type != ISO_MP_ARRAY && o.type != ISO_MP_MAP)) {
    return 0;
  }
  return o.len;
}

/* The i-th element of an array, or the i-th key (*key) and value of a map;
 * absent past the end or in anything else. */
static mv mv_at(mv v, size_t i, mv* key) {
  mv none = {NULL, v.end};
  if (key != NULL) {
    *key = none;
  }
  iso_mp_obj o;
  const uint8_t* p;
  if (mv_head(v, &o, &p) != 0 ||
      (o.type != ISO_MP_ARRAY && o.type != ISO_MP_MAP) || i >= o.len) {
    return none;
  }
  size_t per = o.type == ISO_MP_MAP ? 2 : 1;
  for (size_t k = 0; k < i * per && p != NULL; k++) {
    p = mv_skip(p, v.end);
  }
  if (p != NULL && per == 2) {
    if (key != NULL) {
      key->p = p;
      key->end = v.end;
    }
    p = mv_skip(p, v.end);
  }
  mv out = {p, v.end};
  return out;
}

/* The value of a map's string key; absent when there is none (the first of
 * duplicates wins). */
static mv mv_get(mv m, const char* key) {
  mv none = {NULL, m.end};
  iso_mp_obj o;
  const uint8_t* p;
  if (mv_head(m, &o, &p) != 0 || o.type != ISO_MP_MAP) {
    return none;
  }
  for (size_t k = 0; k < o.len && p != NULL; k++) {
    mv at = {p, m.end};
    iso_mp_obj ko;
    int match = mv_head(at, &ko, NULL) == 0 && iso_mp_str_is(&ko, key);
    p = mv_skip(p, m.end);
    if (match && p != NULL) {
      mv out = {p, m.end};
      return out;
    }
    p = mv_skip(p, m.end);
  }
  return none;
}

/* mv_get along a path of keys, NULL-terminated. */
static mv mv_path(mv m, const char* key, ...) {
  va_list ap;
  va_start(ap, key);
  for (const char* k = key; k != NULL && m.p != NULL;
       k = va_arg(ap, const char*)) {
    m = mv_get(m, k);
  }
  va_end(ap);
  return m;
}

/* An integer (a uint above INT64_MAX clamps); 0 if it is not one. */
static int mv_integer(const iso_mp_obj* o, int64_t* out) {
  if (o->type == ISO_MP_UINT) {
    *out = o->v.u > INT64_MAX ? INT64_MAX : (int64_t)o->v.u;
    return 1;
  }
  if (o->type == ISO_MP_INT) {
    *out = o->v.i;
    return 1;
  }
  return 0;
}

/* A number (int or float) as a double; 0 if it is not one. */
static int mv_num(mv v, double* out) {
  iso_mp_obj o;
  int64_t i;
  if (mv_head(v, &o, NULL) != 0) {
    return 0;
  }
  if (mv_integer(&o, &i)) {
    *out = (double)i;
    return 1;
  }
  if ((o.type != ISO_MP_F32 && o.type != ISO_MP_F64) || o.v.f != o.v.f) {
    return 0;
  }
  *out = o.v.f;
  return 1;
}

/* An integer (or a float that holds one); 0 if it is not one. */
static int mv_int(mv v, long long* out) {
  iso_mp_obj o;
  int64_t i;
  if (mv_head(v, &o, NULL) != 0) {
    return 0;
  }
  if (mv_integer(&o, &i)) {
    *out = i;
    return 1;
  }
  if ((o.type == ISO_MP_F32 || o.type == ISO_MP_F64) && o.v.f >= -9e15 &&
      o.v.f <= 9e15 && o.v.f == (double)(long long)o.v.f) {
    *out = (long long)o.v.f;
    return 1;
  }
  return 0;
}

/* A string (not NUL-terminated); 0 if it is not one. */
static int mv_str(mv v, const char** s, size_t* n) {
  iso_mp_obj o;
  if (mv_head(v, &o, NULL) != 0 || o.type != ISO_MP_STR) {
    return 0;
  }
  *s = (const char*)o.data;
  *n = o.len;
  return 1;
}

static int mv_true(mv v) {
  iso_mp_obj o;
  return mv_head(v, &o, NULL) == 0 && o.type == ISO_MP_BOOL && o.v.b;
}

static int mv_is(mv v, const char* s) {
  iso_mp_obj o;
  return mv_head(v, &o, NULL) == 0 && iso_mp_str_is(&o, s);
}

/* ---- figures for people ------------------------------------------------- */

#define COLUMNS 80

/* A short piece of text, returned by value so calls can nest. */
typedef struct txt {
  char s[64];
} txt;

static txt txtf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static txt txtf(const char* fmt, ...) {
  txt t;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t.s, sizeof t.s, fmt, ap);
  va_end(ap);
  return t;
}

/* A duration in microseconds: "123 us", "4.5 ms", "1.2 s", "5m 03s",
 * "2h 05m", "3d 04h". */
static txt fmt_us(double us) {
  if (!(us >= 0)) {
    return txtf("-");
  }
  if (us < 999.5) {
    return txtf("%.0f us", us);
  }
  if (us < 99.95e3) {
    return txtf("%.1f ms", us / 1e3);
  }
  if (us < 999.5e3) {
    return txtf("%.0f ms", us / 1e3);
  }
  if (us < 99.95e6) {
    return txtf("%.1f s", us / 1e6);
  }
  if (!(us < 1e20)) { /* absurd, but no overflow below */
    return txtf("%.3g s", us / 1e6);
  }
  long long s = (long long)(us / 1e6 + 0.5);
  if (s < 3600) {
    return txtf("%lldm %02llds", s / 60, s % 60);
  }
  if (s < 86400) {
    return txtf("%lldh %02lldm", s / 3600, s / 60 % 60);
  }
  return txtf("%lldd %02lldh", s / 86400, s / 3600 % 24);
}

/* Bytes: "512 B", "12.5 KiB", "256 MiB", "1.50 GiB". */
static txt fmt_bytes(double b) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (!(b >= 0)) {
    return txtf("-");
  }
  if (b < 1024) {
    return txtf("%.0f B", b);
  }
  int u = 0;
  for (b /= 1024; b >= 1023.95 && u < 3; u++) {
    b /= 1024;
  }
  if (b >= 99.95 || b == (double)(int)b) {
    return txtf("%.0f %s", b, units[u]);
  }
  return txtf("%.1f %s", b, units[u]);
}

/* A reply's integer, microseconds, milliseconds or bytes; "-" when it is
 * missing or not a number. */
static txt t_int(mv v) {
  long long n;
  return mv_int(v, &n) ? txtf("%lld", n) : txtf("-");
}

static txt t_us(mv v) {
  double d;
  return mv_num(v, &d) ? fmt_us(d) : txtf("-");
}

static txt t_ms(mv v) {
  double d;
  return mv_num(v, &d) ? fmt_us(d * 1e3) : txtf("-");
}

static txt t_bytes(mv v) {
  double d;
  return mv_num(v, &d) ? fmt_bytes(d) : txtf("-");
}

/* A reply's string cut to fit txt, or "-" (nil: nil_text). */
static txt t_str(mv v, const char* nil_text) {
  const char* s;
  size_t n;
  if (mv_str(v, &s, &n)) {
    txt t;
    n = n < sizeof t.s - 1 ? n : sizeof t.s - 1;
    memcpy(t.s, s, n);
    t.s[n] = '\0';
    return t;
  }
  return txtf("%s", mv_kind(v) == ISO_MP_NIL ? nil_text : "-");
}

/* Terminal columns of UTF-8 text: one per character. */
static size_t text_cols(const char* s, size_t n) {
  size_t cols = 0;
  for (size_t k = 0; k < n; k++) {
    cols += ((uint8_t)s[k] & 0xc0) != 0x80;
  }
  return cols;
}

typedef enum align { LEFT, RIGHT, LAST } align;

/* Prints n bytes of s in exactly width columns: padded with spaces (LAST:
 * not padded), or, when longer, its first width - 3 characters and "...".
 * Control characters print as spaces, so a field cannot break the line. */
static void cell(const char* s, size_t n, size_t width, align a) {
  size_t cols = text_cols(s, n);
  size_t keep = n, shown = cols;
  int cut = cols > width;
  if (cut) {
    size_t want = width > 3 ? width - 3 : 0, seen = 0;
    for (keep = 0; keep < n; keep++) {
      if (((uint8_t)s[keep] & 0xc0) != 0x80 && seen++ == want) {
        break;
      }
    }
    shown = want + 3;
  }
  size_t pad = width > shown && a != LAST ? width - shown : 0;
  for (size_t k = 0; a == RIGHT && k < pad; k++) {
    putchar(' ');
  }
  for (size_t k = 0; k < keep; k++) {
    uint8_t b = (uint8_t)s[k];
    putchar(b < 0x20 || b == 0x7f ? ' ' : b);
  }
  if (cut) {
    fputs("...", stdout);
  }
  for (size_t k = 0; a == LEFT && k < pad; k++) {
    putchar(' ');
  }
}

static void cells(const char* s, size_t width, align a) {
  cell(s, strlen(s), width, a);
}

/* One "key  value" line of a key/value block. */
#define KEY_WIDTH 12
static void kv(const char* key, const char* value, size_t n) {
  cells(key, KEY_WIDTH, LEFT);
  cell(value, n, COLUMNS - KEY_WIDTH, LAST);
  putchar('\n');
}

static void kvs(const char* key, const char* value) {
  kv(key, value, strlen(value));
}

/* Appends printf output to a fixed buffer, cutting what does not fit. */
static void catf(char* b, size_t size, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void catf(char* b, size_t size, const char* fmt, ...) {
  size_t len = strlen(b);
  if (len + 1 >= size) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b + len, size - len, fmt, ap);
  va_end(ap);
}

/* ---- the admin views ---------------------------------------------------- */

/* a + b for counts from a reply, which may be absurd: no overflow. */
static long long sat_add(long long a, long long b) {
  if (b > 0 && a > LLONG_MAX - b) {
    return LLONG_MAX;
  }
  if (b < 0 && a < LLONG_MIN - b) {
    return LLONG_MIN;
  }
  return a + b;
}

static void show_status(const ctl* c, mv r) {
  kvs("version", t_str(mv_get(r, "version"), "-").s);
  kvs("uptime", t_ms(mv_get(r, "uptime_ms")).s);
  kvs("state", t_str(mv_get(r, "state"), "-").s);
  /* one line per listen URL */
  mv listen = mv_get(r, "listen");
  size_t n = mv_count(listen);
  for (size_t i = 0; i < n; i++) {
    const char* s;
    size_t len;
    mv url = mv_at(listen, i, NULL);
    if (mv_str(url, &s, &len)) {
      kv(i == 0 ? "listen" : "", s, len);
    }
  }
  if (n == 0) {
    kvs("listen", "-");
  }
  kvs("admin", t_str(mv_get(r, "admin"), "-").s);
  kvs("metrics", t_str(mv_get(r, "metrics"), "off").s);
  mv w = mv_get(r, "workers");
  kvs("workers", txtf("%s/%s alive", t_int(mv_get(w, "alive")).s,
                      t_int(mv_get(w, "configured")).s)
                     .s);
  kvs("queue", t_int(mv_get(r, "queue")).s);
  kvs("in flight", t_int(mv_get(r, "inflight")).s);
  mv totals = mv_get(r, "totals");
  kvs("accepted", t_int(mv_get(totals, "accepted")).s);
  kvs("fulfilled", t_int(mv_get(totals, "fulfilled")).s);
  kvs("rejected", t_int(mv_get(totals, "rejected")).s);
  /* errors: their sum, then each code in the reply's order */
  mv errors = mv_get(totals, "errors");
  char by_code[256] = "";
  long long sum = 0;
  size_t ncodes = mv_count(errors);
  for (size_t i = 0; i < ncodes; i++) {
    mv code;
    long long k;
    if (mv_int(mv_at(errors, i, &code), &k)) {
      sum = sat_add(sum, k);
      catf(by_code, sizeof by_code, "%s%s %lld", by_code[0] ? ", " : "",
           t_str(code, "?").s, k);
    }
  }
  char line[300];
  if (mv_kind(errors) != ISO_MP_MAP) {
    snprintf(line, sizeof line, "-");
  } else if (by_code[0] != '\0') {
    snprintf(line, sizeof line, "%lld (%s)", sum, by_code);
  } else {
    snprintf(line, sizeof line, "0");
  }
  kvs("errors", line);
  /* answered jobs per second over the last 1, 10 and 60 s */
  static const char* const windows[] = {"1s", "10s", "60s"};
  mv rate = mv_get(r, "rate");
  line[0] = '\0';
  for (size_t i = 0; i < 3; i++) {
    double d;
    if (mv_num(mv_get(rate, windows[i]), &d)) {
      catf(line, sizeof line, "%s%.1f/s (%s)", line[0] ? ", " : "", d,
           windows[i]);
    }
  }
  kvs("rate", line[0] ? line : "-");
}

static void show_workers(const ctl* c, mv r) {
  mv list = mv_get(r, "workers");
  size_t n = mv_count(list);
  if (n == 0) {
    puts("no workers");
    return;
  }
  /* 3+1+9+1+8+1+8+1+20+1+4+1 = 58 columns; LAST ERROR gets the rest */
  printf("%3s %-9s %8s %8s %20s %4s %s\n", "ID", "STATE", "INFLIGHT", "DONE",
         "HEAP USED/LIMIT", "WARM", "LAST ERROR");
  for (size_t i = 0; i < n; i++) {
    mv w = mv_at(list, i, NULL);
    cells(t_int(mv_get(w, "id")).s, 3, RIGHT);
    putchar(' ');
    cells(t_str(mv_get(w, "state"), "-").s, 9, LEFT);
    putchar(' ');
    cells(t_int(mv_get(w, "inflight")).s, 8, RIGHT);
    putchar(' ');
    cells(t_int(mv_get(w, "done")).s, 8, RIGHT);
    putchar(' ');
    cells(txtf("%s/%s", t_bytes(mv_get(w, "heap_used")).s,
               t_bytes(mv_get(w, "heap_limit")).s)
              .s,
          20, RIGHT);
    putchar(' ');
    cells(t_int(mv_get(w, "warm_modules")).s, 4, RIGHT);
    putchar(' ');
    const char* s;
    size_t len;
    if (mv_str(mv_get(w, "last_error"), &s, &len)) {
      cell(s, len, COLUMNS - 58, LAST);
    } else {
      putchar('-');
    }
    putchar('\n');
  }
}

static void show_jobs(const ctl* c, mv r) {
  mv list = mv_get(r, "jobs");
  size_t n = mv_count(list);
  if (n == 0) {
    puts("no jobs in flight or queued");
    return;
  }
  /* 10+1+5+1+6+1+8+2 = 34 columns; MODULE gets the rest */
  printf("%10s %-5s %6s %8s  %s\n", "ID", "KIND", "WORKER", "AGE", "MODULE");
  size_t queued = 0;
  for (size_t i = 0; i < n; i++) {
    mv j = mv_at(list, i, NULL);
    cells(t_int(mv_get(j, "id")).s, 10, RIGHT);
    putchar(' ');
    cells(t_str(mv_get(j, "kind"), "-").s, 5, LEFT);
    putchar(' ');
    long long worker;
    if (mv_int(mv_get(j, "worker"), &worker) && worker < 0) {
      queued++;
      cells("queued", 6, RIGHT);
    } else {
      cells(t_int(mv_get(j, "worker")).s, 6, RIGHT);
    }
    putchar(' ');
    cells(t_ms(mv_get(j, "age_ms")).s, 8, RIGHT);
    fputs("  ", stdout);
    const char* s;
    size_t len;
    if (mv_str(mv_get(j, "module"), &s, &len)) {
      cell(s, len, COLUMNS - 34, LAST);
    } else {
      fputs("(source)", stdout);
    }
    putchar('\n');
  }
  printf("%zu job%s, %zu queued%s\n", n, n == 1 ? "" : "s", queued,
         mv_true(mv_get(r, "truncated"))
             ? " (the oldest shown; more are in flight)"
             : "");
}

/* The histogram of a stats entry's buckets: one line per bucket that has
 * jobs (neighbours merged when there are more than HIST_LINES), its bar
 * scaled to the largest. */
#define HIST_LINES 20
#define HIST_LABEL 19 /* "100.0 ms .. 200 ms" */
#define HIST_BAR 36

typedef struct bucket {
  double lo, hi; /* microseconds; hi < 0: no upper bound */
  long long count;
} bucket;

static void show_histogram(mv hist) {
  mv buckets = mv_get(hist, "buckets");
  size_t n = mv_count(buckets), k = 0;
  bucket* b = calloc(n ? n : 1, sizeof *b);
  if (b == NULL) {
    return;
  }
  double lo = 0;
  long long total = 0;
  for (size_t i = 0; i < n; i++) {
    mv pair = mv_at(buckets, i, NULL);
    double hi;
    long long count;
    if (!mv_int(mv_at(pair, 1, NULL), &count)) {
      continue;
    }
    if (!mv_num(mv_at(pair, 0, NULL), &hi)) {
      hi = -1; /* nil: infinity */
    }
    if (count > 0) {
      b[k++] = (bucket){lo, hi, count};
      total = sat_add(total, count);
    }
    lo = hi;
  }
  if (k > 0) {
    /* merge runs of `per` neighbours so at most HIST_LINES remain */
    size_t per = (k + HIST_LINES - 1) / HIST_LINES, m = 0;
    for (size_t i = 0; i < k; i += per) {
      bucket g = b[i];
      for (size_t j = i + 1; j < i + per && j < k; j++) {
        g.hi = b[j].hi;
        g.count = sat_add(g.count, b[j].count);
      }
      b[m++] = g;
    }
    long long widest = 0;
    for (size_t i = 0; i < m; i++) {
      widest = b[i].count > widest ? b[i].count : widest;
    }
    printf("\ntotal time of all jobs (%lld):\n", total);
    for (size_t i = 0; i < m; i++) {
      txt label = b[i].hi < 0
                      ? txtf("> %s", fmt_us(b[i].lo).s)
                      : txtf("%s .. %s", fmt_us(b[i].lo).s, fmt_us(b[i].hi).s);
      cells(label.s, HIST_LABEL, RIGHT);
      fputs(" |", stdout);
      size_t bar = (size_t)((double)b[i].count * HIST_BAR / (double)widest);
      bar = bar > 0 ? bar : 1;
      for (size_t j = 0; j < HIST_BAR; j++) {
        putchar(j < bar ? '#' : ' ');
      }
      /* 19+2+36 = 57 columns; then " count (pct%)" in 23 */
      cells(txtf(" %lld (%.1f%%)", b[i].count, 100.0 * b[i].count / total).s,
            COLUMNS - HIST_LABEL - 2 - HIST_BAR, LAST);
      putchar('\n');
    }
  }
  free(b);
}

static void show_stats(const ctl* c, mv r) {
  static const char* const parts[] = {"queue", "run", "total"};
  static const char* const quantiles[] = {"p50", "p90", "p99", "p999", "max"};
  mv kinds = mv_get(r, "kinds");
  size_t n = mv_count(kinds);
  if (n == 0) {
    puts("no statistics");
    return;
  }
  /* 8 + 6 * 10 = 68 columns */
  for (size_t i = 0; i < n; i++) {
    mv name;
    mv kind = mv_at(kinds, i, &name);
    if (i > 0) {
      putchar('\n');
    }
    cells(t_str(name, "?").s, 8, LEFT);
    printf(" %9s %9s %9s %9s %9s %9s\n", "COUNT", "P50", "P90", "P99", "P99.9",
           "MAX");
    for (size_t p = 0; p < 3; p++) {
      mv h = mv_get(kind, parts[p]);
      printf("  %-6s %9s", parts[p], t_int(mv_get(h, "count")).s);
      for (size_t q = 0; q < 5; q++) {
        printf(" %9s", t_us(mv_get(h, quantiles[q])).s);
      }
      putchar('\n');
    }
  }
  show_histogram(mv_path(kinds, "all", "total", NULL));
}

static void show_cancel(const ctl* c, mv r) {
  long long job;
  printf("cancelled job %s\n",
         mv_int(mv_get(r, "job"), &job) ? txtf("%lld", job).s : c->target);
}

static void show_resize(const ctl* c, mv r) {
  mv w = mv_get(r, "workers");
  printf("resizing to %s workers (%s alive)\n",
         t_int(mv_get(w, "configured")).s, t_int(mv_get(w, "alive")).s);
}

static void show_recycle(const ctl* c, mv r) {
  mv ids = mv_get(r, "workers");
  size_t n = mv_count(ids);
  char line[512];
  snprintf(line, sizeof line, "%s",
           n == 0   ? "no worker to recycle"
           : n == 1 ? "recycling worker "
                    : "recycling workers ");
  for (size_t i = 0; i < n; i++) {
    catf(line, sizeof line, "%s%s", i ? ", " : "",
         t_int(mv_at(ids, i, NULL)).s);
  }
  cells(line, COLUMNS, LAST);
  putchar('\n');
}

static void show_reload(const ctl* c, mv r) {
  long long realms = -1;
  mv_int(mv_get(r, "realms"), &realms);
  char line[512];
  snprintf(line, sizeof line, "dropped %s warm realm%s",
           realms >= 0 ? txtf("%lld", realms).s : "-", realms == 1 ? "" : "s");
  if (c->target != NULL) {
    catf(line, sizeof line, " that had loaded %s", c->target);
  }
  cells(line, COLUMNS, LAST);
  putchar('\n');
}

/* drain, shutdown: what the reply's state means. */
static void show_state(const ctl* c, mv r) {
  mv state = mv_get(r, "state");
  if (mv_is(state, "draining")) {
    puts("draining: no new jobs are taken");
  } else if (mv_is(state, "shutting_down")) {
    fputs("shutting down", stdout);
    if (c->grace_ms >= 0) {
      printf(" (grace %lld ms)", c->grace_ms);
    }
    putchar('\n');
  } else {
    printf("the service is %s\n", t_str(state, "-").s);
  }
}

/* ---- the admin commands' keys ------------------------------------------- */

/* Parses s as an integer in [min, max]; else says what name wants. */
static int parse_int(const char* name,
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
    return -1;
  }
  *out = v;
  return 0;
}

static int fill_none(const ctl* c, iso_admin_req* q) {
  return 0;
}

static int fill_cancel(const ctl* c, iso_admin_req* q) {
  long long id;
  if (parse_int("cancel", "a job ID (a number from `poolctl jobs`)", c->target,
                0, INT64_MAX, &id) != 0) {
    return -1;
  }
  q->job = id;
  return 0;
}

static int fill_resize(const ctl* c, iso_admin_req* q) {
  long long n;
  if (parse_int("resize", "a number of workers from 1 to 256", c->target, 1,
                ISO_ADMIN_MAX_WORKERS, &n) != 0) {
    return -1;
  }
  q->workers = (int)n;
  return 0;
}

/* recycle WORKER, recycle --all, or recycle alone: every worker. */
static int fill_recycle(const ctl* c, iso_admin_req* q) {
  if (c->target != NULL && c->all) {
    fprintf(stderr,
            "poolctl: recycle takes a WORKER id (from `poolctl workers`) or "
            "--all, not both\n");
    return -1;
  }
  long long id = -1;
  if (!c->all && c->target != NULL &&
      parse_int("recycle", "a WORKER id (from `poolctl workers`) or --all",
                c->target, 0, ISO_ADMIN_MAX_WORKERS - 1, &id) != 0) {
    return -1;
  }
  q->all = c->all || c->target == NULL;
  q->worker = (int)id;
  return 0;
}

static int fill_reload(const ctl* c, iso_admin_req* q) {
  if (c->target == NULL) {
    return 0;
  }
  if (c->target[0] == '\0' || strlen(c->target) >= sizeof q->module) {
    fprintf(stderr, "poolctl: reload needs a module SPEC of 1 to %d bytes\n",
            ISO_ADMIN_MAX_MODULE);
    return -1;
  }
  strcpy(q->module, c->target);
  return 0;
}

static int fill_shutdown(const ctl* c, iso_admin_req* q) {
  q->grace_ms = c->grace_ms;
  return 0;
}

/* ---- talking to the admin socket ---------------------------------------- */

/* The service's own default (docs/protocol.md): under $XDG_RUNTIME_DIR,
 * else under /tmp, per user. */
static const char* default_admin_url(void) {
  static char url[4096];
  const char* dir = getenv("XDG_RUNTIME_DIR");
  if (dir != NULL && dir[0] != '\0') {
    snprintf(url, sizeof url, "ipc://%s/isopool/admin.sock", dir);
  } else {
    snprintf(url, sizeof url, "ipc:///tmp/isopool-%u/admin.sock",
             (unsigned)getuid());
  }
  return url;
}

/* The token to send, from --admin-token, --admin-token-file (its first
 * line) or $ISOPOOL_ADMIN_TOKEN, in that order; *token NULL for none.
 * Returns 0 or -1 (bad usage, said). buf holds a token read from a file. */
static int admin_token(const ctl* c, iso_buf* buf, const char** token) {
  *token = NULL;
  if (c->admin_token != NULL && c->admin_token_file != NULL) {
    fprintf(stderr,
            "poolctl: give --admin-token or --admin-token-file, not both\n");
    return -1;
  }
  if (c->admin_token != NULL) {
    *token = c->admin_token;
  } else if (c->admin_token_file != NULL) {
    int err = read_file(c->admin_token_file, buf);
    if (err != 0) {
      fprintf(stderr, "poolctl: cannot read --admin-token-file %s: %s\n",
              c->admin_token_file, strerror(err));
      return -1;
    }
    if (buf->data != NULL) {
      char* s = (char*)buf->data;
      s[strcspn(s, "\r\n")] = '\0';
    }
    *token = buf->data != NULL ? (const char*)buf->data : "";
  } else {
    const char* env = getenv("ISOPOOL_ADMIN_TOKEN");
    *token = env != NULL && env[0] != '\0' ? env : NULL;
  }
  size_t len = *token != NULL ? strlen(*token) : 1;
  /* the service takes only such tokens (isopool serve refuses to start
   * with another), so another one is a mistake to point out here */
  int text = *token == NULL || iso_utf8_valid(*token, len);
  if (len == 0 || len > ISO_ADMIN_MAX_TOKEN || !text) {
    fprintf(stderr, "poolctl: the admin token%s%s is %s\n",
            c->admin_token_file ? " in " : "",
            c->admin_token_file ? c->admin_token_file : "",
            len == 0                    ? "empty"
            : len > ISO_ADMIN_MAX_TOKEN ? "too long (256 bytes at most)"
                                        : "not valid UTF-8");
    return -1;
  }
  return 0;
}

static void say_no_connection(const ctl* c, long long wait_ms) {
  fprintf(stderr,
          "poolctl: cannot connect to the admin socket %s (%s; no "
          "connection within %lld ms, or it was lost)\n"
          "poolctl: is the service running? start it with `isopool serve`, "
          "or pass --admin URL / set ISOPOOL_ADMIN\n",
          c->admin_url, c->admin_from, wait_ms);
}

/* Prints one reply; returns the exit status. */
static int admin_report(const command* cmd,
                        const ctl* c,
                        const uint8_t* p,
                        size_t n) {
  iso_buf json;
  iso_buf_init(&json);
  int rc = iso_json_from_msgpack(p, n, &json);
  if (rc != 0) {
    iso_buf_free(&json);
    fprintf(stderr, "poolctl: the reply from %s %s\n", c->admin_url,
            rc == ISO_ETOOBIG ? "is too large to print as JSON"
                              : "is not valid msgpack");
    return EXIT_FAILED;
  }
  mv r = {p, p + n};
  mv ok = mv_get(r, "ok");
  if (mv_kind(ok) != ISO_MP_BOOL) {
    iso_buf_free(&json);
    fprintf(stderr,
            "poolctl: %s did not answer like an admin socket (no \"ok\" in "
            "its reply%s)\n",
            c->admin_url,
            mv_kind(mv_get(r, "status")) == ISO_MP_STR
                ? "; it looks like the job socket: --admin is the admin "
                  "socket, --url the job socket"
                : "");
    return EXIT_FAILED;
  }
  int good = mv_true(ok);
  if (c->json) {
    fwrite(json.data, 1, json.len, stdout);
    fputc('\n', stdout);
  } else if (good) {
    cmd->show(c, r);
  } else {
    mv code = mv_get(r, "code");
    fprintf(stderr, "poolctl: %s: %s\n", t_str(code, "error").s,
            t_str(mv_get(r, "message"), "").s);
    if (mv_is(code, "unauthorized")) {
      fprintf(stderr,
              "poolctl: the service wants its admin token: check "
              "--admin-token, --admin-token-file or ISOPOOL_ADMIN_TOKEN\n");
    }
  }
  iso_buf_free(&json);
  return good ? EXIT_OK : EXIT_FAILED;
}

static volatile sig_atomic_t stop_watching;

static void on_stop_signal(int sig) {
  stop_watching = 1;
}

/* Waits secs, or less when a stop signal comes. */
static void watch_sleep(double secs) {
  for (double t = 0; t < secs && !stop_watching; t += 0.02) {
    double step = secs - t < 0.02 ? secs - t : 0.02;
    struct timespec ts = {0, (long)(step * 1e9)};
    nanosleep(&ts, NULL);
  }
}

/* The request map of cmd: {v, cmd, token, the command's keys}, encoded by
 * the codec the service decodes with. Returns 0 or an exit status (bad
 * usage or out of memory, said on stderr). */
static int admin_request(const command* cmd, const ctl* c, iso_buf* req) {
  iso_admin_req q = {.cmd = cmd->admin, .worker = -1, .grace_ms = -1};
  iso_buf token_buf;
  iso_buf_init(&token_buf);
  const char* token;
  int status = EXIT_USAGE;
  if (admin_token(c, &token_buf, &token) == 0 && cmd->fill(c, &q) == 0) {
    if (token != NULL) {
      q.has_token = 1;
      strcpy(q.token, token); /* admin_token checked its length */
    }
    status = EXIT_OK;
    if (iso_admin_encode(&q, req) != 0) {
      fprintf(stderr, "poolctl: out of memory\n");
      status = EXIT_FAILED;
    }
  }
  iso_buf_free(&token_buf);
  return status;
}

/* Sends req once, or each round of a --watch; prints each reply. Returns
 * the exit status. */
static int admin_rounds(const command* cmd, const ctl* c, const iso_buf* req) {
  iso_client* client = NULL;
  long long wait_ms;
  int rc = open_client(c, c->admin_url, &client, &wait_ms);
  if (rc != 0) {
    fprintf(stderr, "poolctl: cannot use admin URL \"%s\" (%s): %s\n",
            c->admin_url, c->admin_from, iso_strerror(rc));
    return rc == ISO_EINVAL ? EXIT_USAGE : EXIT_FAILED;
  }
  int tty = isatty(STDOUT_FILENO), status = EXIT_OK;
  if (c->watch_s > 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
  }
  iso_buf reply;
  iso_buf_init(&reply);
  for (long long round = 0; !stop_watching; round++) {
    iso_buf_reset(&reply);
    rc = iso_client_connected(client)
             ? iso_client_request_raw(client, req->data, req->len,
                                      c->timeout_ms, &reply)
             : ISO_ECONNECT;
    if (rc == ISO_ECONNECT) {
      say_no_connection(c, wait_ms);
      status = EXIT_NOCONN;
      break;
    }
    if (rc == ISO_ETIMEDOUT) {
      fprintf(stderr, "poolctl: no reply from %s within %lld ms\n",
              c->admin_url, c->timeout_ms);
      status = EXIT_FAILED;
      break;
    }
    if (rc != 0) {
      fprintf(stderr, "poolctl: %s: %s\n", c->admin_url, iso_strerror(rc));
      status = EXIT_FAILED;
      break;
    }
    /* a watch redraws a terminal's screen, else a blank line separates
     * rounds; JSON is one line per round either way */
    if (c->watch_s > 0 && !c->json && tty) {
      fputs("\033[H\033[2J", stdout);
    } else if (round > 0 && !c->json) {
      putchar('\n');
    }
    status = admin_report(cmd, c, reply.data, reply.len);
    fflush(stdout);
    if (status != EXIT_OK || c->watch_s <= 0 ||
        (c->count > 0 && round + 1 >= c->count)) {
      break;
    }
    watch_sleep(c->watch_s);
  }
  iso_buf_free(&reply);
  iso_client_close(client);
  return status;
}

/* The run function of every admin command. */
static int cmd_admin(const command* cmd, ctl* c) {
  if (c->watch_s > 0 && !cmd->watchable) {
    fprintf(stderr,
            "poolctl: --watch works with status, workers and stats, not %s\n",
            cmd->name);
    return EXIT_USAGE;
  }
  if (c->count > 0 && c->watch_s <= 0) {
    fprintf(stderr, "poolctl: --count N needs --watch SECONDS\n");
    return EXIT_USAGE;
  }
  iso_buf req;
  iso_buf_init(&req);
  int status = admin_request(cmd, c, &req);
  if (status == EXIT_OK) {
    status = admin_rounds(cmd, c, &req);
  }
  iso_buf_free(&req);
  return status;
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
  if (!iso_utf8_valid(text.data, text.len)) {
    /* the service takes module text as UTF-8 only (docs/protocol.md) */
    iso_buf_free(&text);
    fprintf(stderr, "poolctl: %s is not UTF-8 text\n", c->target);
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
     .run = cmd_eval},
    {.name = "call",
     .synopsis = "call SPEC [--export NAME] [ARG...]",
     .help = "Call an export of the module SPEC (under the server's module\n"
             "root, kept warm between calls) with the ARGs; await the value.\n"
             "  --export NAME  the export to call (default: default)\n",
     .target = "SPEC",
     .takes_args = 1,
     .run = cmd_call},
    {.name = "status",
     .synopsis = "status [--watch SECONDS [--count N]]",
     .help =
         "Show the service's version, uptime, state, sockets, workers\n"
         "alive, jobs queued and in flight, totals (errors by code) and\n"
         "jobs answered per second over the last 1, 10 and 60 s.\n" WATCH_HELP,
     .run = cmd_admin,
     .admin = ISO_ADMIN_STATUS,
     .fill = fill_none,
     .show = show_status,
     .watchable = 1},
    {.name = "workers",
     .synopsis = "workers [--watch SECONDS [--count N]]",
     .help = "One line per worker: its id, state, jobs in flight and done,\n"
             "V8 heap used and its limit, warm modules and the last error a\n"
             "job got on it.\n" WATCH_HELP,
     .run = cmd_admin,
     .admin = ISO_ADMIN_WORKERS,
     .fill = fill_none,
     .show = show_workers,
     .watchable = 1},
    {.name = "jobs",
     .synopsis = "jobs",
     .help = "The jobs in flight and queued, oldest first: the service's job\n"
             "ID (for cancel), kind, worker (or queued), age and module.\n",
     .run = cmd_admin,
     .admin = ISO_ADMIN_JOBS,
     .fill = fill_none,
     .show = show_jobs},
    {.name = "stats",
     .synopsis = "stats [--watch SECONDS [--count N]]",
     .help = "Latency per kind of job (eval, call, all): the wait for a\n"
             "worker (queue), the time on it (run) and both (total), as\n"
             "count, p50, p90, p99, p99.9 and max; then a histogram of the\n"
             "total time of all jobs.\n" WATCH_HELP,
     .run = cmd_admin,
     .admin = ISO_ADMIN_STATS,
     .fill = fill_none,
     .show = show_stats,
     .watchable = 1},
    {.name = "cancel",
     .synopsis = "cancel ID",
     .help = "End the job ID (from `poolctl jobs`); its client gets an error\n"
             "reply with code cancelled.\n",
     .target = "ID",
     .run = cmd_admin,
     .admin = ISO_ADMIN_CANCEL,
     .fill = fill_cancel,
     .show = show_cancel},
    {.name = "resize",
     .synopsis = "resize N",
     .help = "Grow or shrink the pool to N workers (1..256); busy workers\n"
             "finish their jobs before they stop.\n",
     .target = "N",
     .run = cmd_admin,
     .admin = ISO_ADMIN_RESIZE,
     .fill = fill_resize,
     .show = show_resize},
    {.name = "recycle",
     .synopsis = "recycle [WORKER|--all]",
     .help = "Give the worker WORKER (from `poolctl workers`), or every\n"
             "worker (--all, or no WORKER), a fresh isolate once its jobs in\n"
             "flight are done; its warm modules load again on the next call.\n",
     .target = "WORKER",
     .target_optional = 1, /* or --all: fill_recycle checks */
     .run = cmd_admin,
     .admin = ISO_ADMIN_RECYCLE,
     .fill = fill_recycle,
     .show = show_recycle},
    {.name = "reload",
     .synopsis = "reload [SPEC]",
     .help = "Drop the warm realms (all of them, or those that have loaded\n"
             "the module SPEC) so the next call reads the modules again.\n",
     .target = "SPEC",
     .target_optional = 1,
     .run = cmd_admin,
     .admin = ISO_ADMIN_RELOAD,
     .fill = fill_reload,
     .show = show_reload},
    {.name = "drain",
     .synopsis = "drain",
     .help = "Stop taking jobs (new ones get shutting_down); the jobs in\n"
             "flight finish. The service keeps running until shutdown.\n",
     .run = cmd_admin,
     .admin = ISO_ADMIN_DRAIN,
     .fill = fill_none,
     .show = show_state},
    {.name = "shutdown",
     .synopsis = "shutdown [--grace MS]",
     .help = "Drain, wait up to MS (default: the service's --grace-ms) for\n"
             "the jobs in flight, answer the rest shutting_down and exit.\n"
             "  --grace MS       how long the jobs in flight may take (up to\n"
             "                   3600000, an hour)\n",
     .run = cmd_admin,
     .admin = ISO_ADMIN_SHUTDOWN,
     .fill = fill_shutdown,
     .show = show_state},
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
  O_ADMIN,
  O_ADMIN_TOKEN,
  O_ADMIN_TOKEN_FILE,
  O_WATCH,
  O_COUNT,
  O_ALL,
  O_GRACE,
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
    {"--admin", 1, O_ADMIN, NULL},
    {"--admin-token", 1, O_ADMIN_TOKEN, NULL},
    {"--admin-token-file", 1, O_ADMIN_TOKEN_FILE, NULL},
    /* status, workers and stats only: cmd_admin says so */
    {"--watch", 1, O_WATCH, NULL},
    {"--count", 1, O_COUNT, NULL},
    {"--all", 0, O_ALL, "recycle"},
    {"--grace", 1, O_GRACE, "shutdown"},
    {"--help", 0, O_HELP, NULL},
    {"-h", 0, O_HELP, NULL},
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
    "  -h, --help         this text (after a command: that command's)\n";

static const char kJobOptionsHelp[] =
    "job options (eval, call):\n"
    "  --url URL          the service's job socket (default $ISOPOOL_URL,\n"
    "                     else " DEFAULT_URL
    ")\n"
    "  --job-timeout MS   the job's own deadline on the server, if\n"
    "                     shorter than --timeout\n"
    "  --permissions JSON what the job may use (default: all the service\n"
    "                     grants), a JSON object with keys read, write,\n"
    "                     env, each true (all granted), false or left out\n"
    "                     (none), or a list of paths under the data root\n"
    "                     (read, write) or of variable names (env), e.g.\n"
    "                     '{\"read\":[\"data\"],\"env\":true}'\n"
    "  --                 what follows is ARGs, even if it starts with --\n"
    "With --json the object is {\"id\",\"status\",\"value\",\"error\","
    "\"logs\",\"stats\"}.\n"
    "Each ARG is parsed as JSON, else sent as a string ('\"1\"' sends the\n"
    "string \"1\", 1 the number). The value prints as JSON on stdout, the\n"
    "job's console lines on stderr (prefixed [level] unless plain log).\n"
    "Exit status: 0 fulfilled, 1 rejected or refused (error: ...), 2 bad\n"
    "usage or unreadable FILE, 3 cannot connect.\n";

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
    "MESSAGE), 2 bad usage, 3 cannot connect.\n";

static void usage(FILE* f) {
  fputs("usage:", f);
  for (size_t i = 0; i < NCOMMANDS; i++) {
    fprintf(f, "%s poolctl [OPTIONS] %s\n", i ? "      " : "",
            kCommands[i].synopsis);
  }
  fprintf(f,
          "\neval and call send a job to the service's job socket; the other\n"
          "commands ask its admin socket (docs/protocol.md). `poolctl help\n"
          "COMMAND` says more about one.\n\n%s\n%s\n%s",
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
      return parse_seconds("--watch", value, &c->watch_s) ? -1 : 1;
    case O_COUNT:
      return parse_int("--count", "a number of rounds (1 or more)", value, 1,
                       1000000000, &c->count)
                 ? -1
                 : 1;
    case O_ALL:
      c->all = 1;
      break;
    case O_GRACE:
      return parse_int("--grace", "a number of milliseconds from 0 to 3600000",
                       value, 0, 3600000, &c->grace_ms)
                 ? -1
                 : 1;
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
  const char* env_admin = getenv("ISOPOOL_ADMIN");
  int admin_env = env_admin != NULL && env_admin[0] != '\0';
  ctl c = {
      .url = env_url && env_url[0] ? env_url : DEFAULT_URL,
      .timeout_ms = DEFAULT_TIMEOUT_MS,
      .admin_url = admin_env ? env_admin : default_admin_url(),
      .admin_from = admin_env ? "from ISOPOOL_ADMIN" : "the default",
      .grace_ms = -1,
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
    fprintf(stderr,
            "poolctl: %s takes no argument \"%s\" (see poolctl help %s)\n",
            cmd->name, c.args[0], cmd->name);
    return EXIT_USAGE;
  }
  return cmd->run(cmd, &c);
}
