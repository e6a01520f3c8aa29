/* poolctl_jobs.c: poolctl's job commands, eval, call and ping (see
 * poolctl.c for the command line).
 *
 * Each sends one job through the client library (ipc/iso_client.h) and
 * waits for its reply. The value is printed as one JSON line on stdout and
 * the job's console lines go to stderr; `--json` prints the whole reply as
 * one JSON object instead. Exit status: 0 fulfilled, 1 rejected or refused
 * by the service, 2 bad usage (including a FILE that cannot be read), 3 no
 * connection to the service, 4 no reply within --timeout.
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
 * `ping` sends a ping (docs/protocol.md, "ping": the heartbeat the client
 * library sends each node), which the service answers itself without a
 * worker: its value ({ready, workers, in_flight, version}) is printed as
 * eval's is, and shutting_down (draining) is an error reply, exit 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "iso_proto.h"
#include "iso_utf8.h"
#include "poolctl.h"

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
  iso_buf_close(&out);
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
  iso_mp_put_lit(&w, "id");
  put_raw_or_nil(&w, r->id, r->id_len);
  iso_mp_put_lit(&w, "status");
  iso_mp_put_cstr(&w, status_name(r->status));
  iso_mp_put_lit(&w, "value");
  put_raw_or_nil(&w, r->status == ISO_STATUS_FULFILLED ? r->value : NULL,
                 r->status == ISO_STATUS_FULFILLED ? r->value_len : 0);
  iso_mp_put_lit(&w, "error");
  if (r->status == ISO_STATUS_REJECTED) {
    iso_mp_put_map(&w, 3);
    iso_mp_put_lit(&w, "name");
    iso_mp_put_cstr(&w, r->name);
    iso_mp_put_lit(&w, "message");
    iso_mp_put_cstr(&w, r->message);
    iso_mp_put_lit(&w, "stack");
    iso_mp_put_cstr(&w, r->stack);
  } else if (r->status == ISO_STATUS_ERROR) {
    iso_mp_put_map(&w, 2);
    iso_mp_put_lit(&w, "code");
    iso_mp_put_cstr(&w, r->code_name);
    iso_mp_put_lit(&w, "message");
    iso_mp_put_cstr(&w, r->message);
  } else {
    iso_mp_put_nil(&w);
  }
  iso_mp_put_lit(&w, "logs");
  iso_mp_put_array(&w, r->nlogs);
  for (size_t i = 0; i < r->nlogs; i++) {
    iso_mp_put_array(&w, 2);
    iso_mp_put_cstr(&w, iso_log_level_name(r->logs[i].level));
    iso_mp_put_str(&w, r->logs[i].text, r->logs[i].len);
  }
  const char* limit = iso_limit_name(r->stats.limit);
  iso_mp_put_lit(&w, "stats");
  iso_mp_put_map(&w, 8);
  iso_mp_put_lit(&w, "worker");
  iso_mp_put_int(&w, r->stats.worker);
  iso_mp_put_lit(&w, "queue_us");
  iso_mp_put_int(&w, r->stats.queue_us);
  iso_mp_put_lit(&w, "run_us");
  iso_mp_put_int(&w, r->stats.run_us);
  iso_mp_put_lit(&w, "cpu_us");
  iso_mp_put_int(&w, r->stats.cpu_us);
  iso_mp_put_lit(&w, "wall_us");
  iso_mp_put_int(&w, r->stats.wall_us);
  iso_mp_put_lit(&w, "heap_bytes");
  iso_mp_put_int(&w, r->stats.heap_bytes);
  iso_mp_put_lit(&w, "ops");
  iso_mp_put_int(&w, r->stats.ops);
  iso_mp_put_lit(&w, "limit");
  if (limit != NULL) {
    iso_mp_put_cstr(&w, limit);
  } else {
    iso_mp_put_nil(&w);
  }
  int rc = w.err;
  if (rc == 0) {
    rc = print_json(mp.data, mp.len);
  }
  iso_buf_close(&mp);
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
  if (c->stats) {
    const char* limit = iso_limit_name(r->stats.limit);
    fprintf(stderr,
            "stats: worker %lld, queue %lld us, run %lld us, cpu %lld us, "
            "wall %lld us, heap %lld bytes, ops %lld%s%s\n",
            (long long)r->stats.worker, (long long)r->stats.queue_us,
            (long long)r->stats.run_us, (long long)r->stats.cpu_us,
            (long long)r->stats.wall_us, (long long)r->stats.heap_bytes,
            (long long)r->stats.ops, limit != NULL ? ", limit " : "",
            limit != NULL ? limit : "");
  }
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

/* Does a start as JSON text does: an object, an array, a string or a
 * number? (true, false and null are words a user may mean as strings.) */
static int looks_like_json(const char* a) {
  while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r') {
    a++;
  }
  return *a == '{' || *a == '[' || *a == '"' || (*a >= '0' && *a <= '9') ||
         (*a == '-' && a[1] >= '0' && a[1] <= '9');
}

/* The ARGs as one msgpack array: each parsed as JSON, else a string
 * (--string: each a string). Returns 0, ISO_EUSAGE (an ARG that looks
 * like JSON but is not; said) or ISO_ENOMEM. */
static int encode_args(const ctl* c, iso_buf* out) {
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_array(&w, (size_t)c->nargs);
  for (int i = 0; w.err == 0 && i < c->nargs; i++) {
    const char* a = c->args[i];
    if (c->as_strings) {
      iso_mp_put_cstr(&w, a);
      continue;
    }
    iso_json_error je;
    int rc = iso_json_to_msgpack_ex(a, strlen(a), out, &je);
    if (rc == ISO_EPROTO && looks_like_json(a)) {
      fprintf(stderr,
              "poolctl: ARG %d, '%s', looks like JSON but is not: %s at "
              "column %d (quote it for the shell, or pass --string to send "
              "every ARG as a string)\n",
              i + 1, a, je.message, je.column);
      return ISO_EUSAGE;
    }
    if (rc == ISO_EPROTO) {
      iso_mp_put_cstr(&w, a);
    } else if (rc != 0) {
      return rc;
    }
  }
  return w.err;
}

/* --permissions JSON as a msgpack map in out. Returns 0, ISO_EUSAGE (a
 * malformed value) or ISO_ENOMEM, said on stderr. */
static int encode_permissions(const char* json, iso_buf* out) {
  iso_json_error je;
  int rc = iso_json_to_msgpack_ex(json, strlen(json), out, &je);
  if (rc == ISO_EPROTO) {
    fprintf(stderr,
            "poolctl: --permissions is not valid JSON: %s at column %d (want "
            "an object such as '{\"read\":[\"data\"],\"env\":true}')\n",
            je.message, je.column);
    return ISO_EUSAGE;
  }
  if (rc != 0) {
    fprintf(stderr, "poolctl: out of memory\n");
    return ISO_ENOMEM;
  }
  char why[ISO_PROTO_ERRMSG_MAX];
  if (iso_proto_check_permissions(out->data, out->len, why, sizeof why) != 0) {
    fprintf(stderr, "poolctl: --permissions: %s\n", why);
    return ISO_EUSAGE;
  }
  return 0;
}

static int call_job(const ctl* c, const iso_job* job);

/* Sends job with the ARGs, prints the reply; returns the exit status. */
static int send_job(const ctl* c, iso_job* job) {
  iso_buf perms;
  iso_buf_init(&perms);
  if (c->permissions != NULL) {
    int rc = encode_permissions(c->permissions, &perms);
    if (rc != 0) {
      iso_buf_close(&perms);
      return poolctl__exit_status(rc);
    }
    job->permissions = perms.data;
    job->permissions_len = perms.len;
  }
  iso_buf args;
  iso_buf_init(&args);
  int arc = encode_args(c, &args);
  if (arc != 0) {
    iso_buf_close(&perms);
    iso_buf_close(&args);
    if (arc != ISO_EUSAGE) {
      fprintf(stderr, "poolctl: out of memory\n");
    }
    return poolctl__exit_status(arc);
  }
  job->args = args.data;
  job->args_len = args.len;
  job->timeout_ms = c->job_timeout_ms;
  job->cpu_ms = c->job_cpu_ms;
  job->idempotent = c->idempotent;
  int status = call_job(c, job);
  iso_buf_close(&perms);
  iso_buf_close(&args);
  return status;
}

/* Sends job as it is, prints the reply; returns the exit status. */
static int call_job(const ctl* c, const iso_job* job) {
  iso_client* client = NULL;
  char why[512];
  const char* where = c->nurls > 1 ? "the nodes" : c->url;
  int rc = poolctl__open_jobs_client(c, &client, why, sizeof why);
  if (rc != 0) {
    fprintf(stderr, "poolctl: cannot %s %s: %s\n",
            rc == ISO_ECONNECT ? "connect to" : "use", where, why);
    return poolctl__exit_status(rc);
  }
  iso_result r;
  rc = iso_client_call(client, job, c->timeout_ms, &r);
  int status = poolctl__exit_status(rc);
  switch (rc) {
    case 0:
      status = report(c, &r);
      iso_result_close(&r);
      break;
    case ISO_ECONNECT:
      fprintf(stderr, "poolctl: the job could not be sent to %s\n", where);
      break;
    case ISO_ENODELOST:
      fprintf(stderr,
              "poolctl: the connection to the node running the job (%s) was "
              "lost: the job may have run (--idempotent: sent once more, to "
              "another node)\n",
              where);
      break;
    case ISO_ETIMEDOUT:
      fprintf(stderr,
              "poolctl: no reply from %s within %lld ms (--timeout; the job "
              "may still run until its deadline)\n",
              where, c->timeout_ms);
      break;
    case ISO_EINVAL:
      fprintf(stderr,
              "poolctl: the job is not valid (check SPEC and "
              "--export)\n");
      break;
    default:
      fprintf(stderr, "poolctl: %s: %s\n", where, iso_strerror(rc));
      break;
  }
  poolctl__close_client(client, rc);
  return status;
}

/* ---- the commands ------------------------------------------------------- */

int poolctl__eval(const command* cmd, ctl* c) {
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
  int sys = 0;
  int from_stdin = strcmp(c->target, "-") == 0;
  if (poolctl__read_file(from_stdin ? "/dev/stdin" : c->target, &text, &sys) !=
      0) {
    iso_buf_close(&text);
    fprintf(stderr, "poolctl: cannot read %s: %s\n", c->target, strerror(sys));
    return EXIT_USAGE; /* the FILE named on the command line */
  }
  if (!iso_utf8_valid(text.data, text.len)) {
    /* the service takes module text as UTF-8 only (docs/protocol.md) */
    iso_buf_close(&text);
    fprintf(stderr, "poolctl: %s is not UTF-8 text\n", c->target);
    return EXIT_USAGE;
  }
  const char* base = strrchr(c->target, '/');
  base = from_stdin ? "stdin.js" : base ? base + 1 : c->target;
  /* An empty file sends source "" (source_len 0 means strlen: 0 too). */
  iso_job job = {.kind = ISO_JOB_EVAL,
                 .source = text.data ? (const char*)text.data : "",
                 .source_len = text.len,
                 .module = base};
  int status = send_job(c, &job);
  iso_buf_close(&text);
  return status;
}

int poolctl__call(const command* cmd, ctl* c) {
  iso_job job = {
      .kind = ISO_JOB_CALL, .module = c->target, .export_name = c->export_name};
  return send_job(c, &job);
}

int poolctl__ping(const command* cmd, ctl* c) {
  /* a ping takes nothing but its id: the service refuses the rest */
  const char* extra = c->permissions != NULL  ? "--permissions"
                      : c->job_timeout_ms > 0 ? "--job-timeout"
                      : c->job_cpu_ms > 0     ? "--cpu-ms"
                                              : NULL;
  if (extra != NULL) {
    fprintf(stderr, "poolctl: ping takes no %s (a ping is no job)\n", extra);
    return EXIT_USAGE;
  }
  iso_job job = {.kind = ISO_JOB_PING};
  return call_job(c, &job);
}
