/* iso_admin.h: the admin protocol's codec (docs/protocol.md, "The admin
 * protocol"): typed requests and typed replies, encoded and decoded by the
 * same code on both sides, as iso_proto.h does for jobs.
 *
 *   service   iso_admin_decode()        request bytes -> iso_admin_req
 *             iso_admin_encode_reply()  iso_admin_reply -> reply bytes
 *   poolctl   iso_admin_encode()        iso_admin_req -> request bytes
 *             iso_admin_decode_reply()  reply bytes -> iso_admin_reply
 *
 * The admin socket takes one msgpack map per request: {v, cmd, token, and
 * the command's keys}. iso_admin_decode() checks it completely (types,
 * ranges, unknown commands) so the service's handler only dispatches.
 * A reply is one map: {ok: true, the command's result} or {ok: false,
 * code, message}, code one of the admin rows of iso_proto.h's
 * ISO_PROTO_CODE_TABLE (the one table of codes both protocols share).
 *
 * Each command's result is a C struct below; in iso_admin_reply.c each
 * is a table of fields (key, type, offset) that both the encoder and the
 * decoder walk, so a new key is one row there and one member here. The
 * reply decoder is lenient where the request decoder is strict: it is
 * written for clients of services newer (or older) than themselves, so
 * unknown keys are ignored, a missing key or one of another type leaves
 * its member "absent" (ISO_ADMIN_NO_INT, NaN, a NULL string) and the
 * first of duplicate keys counts.
 */
#ifndef ISO_ADMIN_H
#define ISO_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- commands and requests --------------------------------------------- */

/* X(enum suffix, wire name) */
#define ISO_ADMIN_CMD_TABLE(X) \
  X(STATUS, "status")          \
  X(WORKERS, "workers")        \
  X(JOBS, "jobs")              \
  X(CANCEL, "cancel")          \
  X(STATS, "stats")            \
  X(RESIZE, "resize")          \
  X(RECYCLE, "recycle")        \
  X(RELOAD, "reload")          \
  X(DRAIN, "drain")            \
  X(SHUTDOWN, "shutdown")

typedef enum iso_admin_cmd {
  ISO_ADMIN_NONE = 0,
#define ISO_ADMIN_CMD_ENUM(e, s) ISO_ADMIN_##e,
  ISO_ADMIN_CMD_TABLE(ISO_ADMIN_CMD_ENUM)
#undef ISO_ADMIN_CMD_ENUM
} iso_admin_cmd;

#define ISO_ADMIN_MAX_WORKERS 256
#define ISO_ADMIN_MAX_TOKEN 256
#define ISO_ADMIN_MAX_MODULE 1024
/* An admin request is at most this many bytes (the service's admin socket
 * takes no larger message) and has at most this many keys. */
#define ISO_ADMIN_MAX_MSG 65536
#define ISO_ADMIN_MAX_KEYS 16

/* A decoded admin request. Strings are NUL-terminated copies. */
typedef struct iso_admin_req {
  iso_admin_cmd cmd;
  int has_token;
  char token[ISO_ADMIN_MAX_TOKEN + 1];
  int64_t job;                           /* cancel */
  int workers;                           /* resize: 1..ISO_ADMIN_MAX_WORKERS */
  int worker;                            /* recycle: -1 with all */
  int all;                               /* recycle */
  char module[ISO_ADMIN_MAX_MODULE + 1]; /* reload: "" for all */
  int64_t grace_ms;                      /* shutdown: -1 when absent */
} iso_admin_req;

/* iso_admin_cmd_name: "status", ...; NULL for an unknown value. */
const char* iso_admin_cmd_name(iso_admin_cmd cmd);

/* iso_admin_decode: decode and check one request: a map of at most
 * ISO_ADMIN_MAX_KEYS string keys, each once, in at most ISO_ADMIN_MAX_MSG
 * bytes, with 'v' (1) and 'cmd'; unknown keys are ignored (newer clients may
 * send more). Returns 0, or ISO_EPROTO with err saying what is wrong
 * ("'workers' must be an integer from 1 to 256"). A request whose token is
 * wrong is still decoded: the caller checks has_token/token. Thread: any. */
int iso_admin_decode(const uint8_t* msg,
                     size_t len,
                     iso_admin_req* out,
                     char* err,
                     size_t errlen);

/* iso_admin_encode: append the request map for req (only the keys its
 * command takes; token when has_token). Returns 0, ISO_EINVAL (no such
 * command) or ISO_ENOMEM. Thread: any. */
int iso_admin_encode(const iso_admin_req* req, iso_buf* out);

/* ---- replies ------------------------------------------------------------ */

/* What a decoded reply holds where a key was missing or of another type
 * than the protocol's: ISO_ADMIN_NO_INT in an int64_t member, NaN in a
 * double, {NULL, 0, 0} in an iso_admin_str. The encoder writes nil for
 * each (the service never has one to write). */
#define ISO_ADMIN_NO_INT INT64_MIN

/* A decoded reply's arrays take at most this many bytes per byte of the
 * reply, plus the slack (past that, ISO_ETOOBIG: a hostile socket cannot
 * make a client allocate much more than it sent; every reply a service
 * sends fits in the slack alone). */
#define ISO_ADMIN_REPLY_MEM_FACTOR 16
#define ISO_ADMIN_REPLY_MEM_SLACK ((size_t)1 << 20)
/* Replies nest at most this deep (as iso_json.h's printing depth). */
#define ISO_ADMIN_REPLY_MAX_DEPTH 128

/* A string of a reply: len bytes at ptr, not NUL-terminated. Encoding:
 * ptr NULL sends nil, anything else is sent as valid UTF-8 (ill-formed
 * bytes become U+FFFD). Decoded: a view into the reply as sent (not
 * checked); ptr NULL with nil 1 when nil was sent, with nil 0 when the key
 * was missing or not a string. */
typedef struct iso_admin_str {
  const char* ptr;
  size_t len;
  int nil;
} iso_admin_str;

/* iso_admin_str_of: a view of a NUL-terminated string (NULL: nil).
 * Thread: any. */
static inline iso_admin_str iso_admin_str_of(const char* s) {
  iso_admin_str v = {s, s ? strlen(s) : 0, s == NULL};
  return v;
}

/* {configured, alive}: status's and resize's `workers`. */
typedef struct iso_admin_size {
  int64_t configured;
  int64_t alive;
} iso_admin_size;

/* One entry of status's totals.errors: a code's name and its count. */
typedef struct iso_admin_error_count {
  iso_admin_str code;
  int64_t count;
} iso_admin_error_count;

/* status. Quantities a person reads as a duration or a size are doubles
 * (uptime_ms here, heap_* and age_ms below, a histogram's max): the
 * service sends them as integers, whole numbers, and a reader takes any
 * number. */
typedef struct iso_admin_status {
  iso_admin_str version;
  double uptime_ms;
  const iso_admin_str* listen; /* nlisten URLs */
  size_t nlisten;
  iso_admin_str admin;
  iso_admin_str metrics; /* nil: no metrics page */
  iso_admin_str kv;      /* isopool:kv's file (--kv-path); nil: in memory */
  iso_admin_str state;   /* "running", "draining", "shutting_down" */
  iso_admin_size workers;
  int64_t queue;
  int64_t inflight;
  /* totals */
  int64_t accepted;
  int64_t fulfilled;
  int64_t rejected;
  /* totals.errors, in the reply's order (the service sends the codes with
   * a count above 0, in the table's order); NULL when the reply had no
   * such map (an empty one is a non-NULL errors with nerrors 0) */
  const iso_admin_error_count* errors;
  size_t nerrors;
  /* rate: jobs answered per second over the last 1, 10 and 60 s (sent
   * with 3 decimals) */
  double rate_1s;
  double rate_10s;
  double rate_60s;
  /* processes: the pool processes (0s with --processes 0): active,
   * spare, starting; restarts after a death, jobs lost with one; the
   * last death (nil: none) and how long ago */
  int64_t procs_active;
  int64_t procs_spare;
  int64_t procs_starting;
  int64_t procs_restarts;
  int64_t jobs_lost;
  iso_admin_str last_death;
  double last_death_ago_ms; /* NaN: none */
  /* recycling: the service's flags (--spare-isolates per group,
   * --recycle-after-jobs, --heap-soft-mb, --recycle-heap-mb,
   * --idle-timeout in seconds; 0: off), the spares ready now and built
   * so far, and the workers' isolates replaced, of which on the worker's
   * own thread (no spare was ready) */
  int64_t spare_isolates;
  int64_t recycle_after_jobs;
  int64_t heap_soft_mb;
  int64_t recycle_heap_mb;
  int64_t idle_timeout_s;
  int64_t spares_ready;
  int64_t spare_builds;
  int64_t recycles;
  int64_t recycles_cold;
  /* code_cache: the code caches of user modules (docs/architecture.md,
   * "The code cache"): --code-cache-mb (0: off); over every pool process
   * (and --processes 0's workers), since the service started: compiles
   * that consumed a cache (hits), that compiled the text (misses; of
   * them, rejected: a cache V8 refused), entries evicted, caches made,
   * entries from the front (from_front); now: entries and their bytes in
   * the processes there, and in the front's copy (front_entries,
   * front_bytes; 0 with --processes 0) */
  int64_t code_limit_mb;
  int64_t code_hits;
  int64_t code_misses;
  int64_t code_rejected;
  int64_t code_evicted;
  int64_t code_made;
  int64_t code_from_front;
  int64_t code_entries;
  int64_t code_bytes;
  int64_t code_front_entries;
  int64_t code_front_bytes;
} iso_admin_status;

/* workers: one entry per worker. */
typedef struct iso_admin_worker {
  int64_t id;
  iso_admin_str state; /* "starting", "running", "recycling", ... */
  int64_t inflight;
  int64_t done;
  double heap_used; /* bytes */
  double heap_limit;
  int64_t warm_modules;
  iso_admin_str last_error; /* nil: none yet */
  /* its pool process: number.generation and pid (nil, ISO_ADMIN_NO_INT:
   * a thread of the front, --processes 0) */
  iso_admin_str process;
  int64_t pid;
} iso_admin_worker;

typedef struct iso_admin_workers {
  const iso_admin_worker* list;
  size_t n;
} iso_admin_workers;

/* jobs: one entry per job in flight or queued, oldest first. */
typedef struct iso_admin_job {
  int64_t id;           /* the service's job number, for cancel */
  iso_bytes client_id;  /* one msgpack value ({NULL, 0} encodes nil) */
  iso_admin_str kind;   /* "eval", "call" */
  iso_admin_str module; /* nil: source text */
  int64_t worker;       /* -1 while queued */
  double age_ms;
} iso_admin_job;

typedef struct iso_admin_jobs {
  const iso_admin_job* list;
  size_t n;
  int truncated; /* more jobs than listed (the key is sent only when 1) */
} iso_admin_jobs;

/* One histogram bucket: jobs with bound(i-1) < us <= le. */
typedef struct iso_admin_bucket {
  /* microseconds; not finite for the last bucket (sent as nil). Sent as
   * printf's %g reads in JSON: an integer when whole and below 10^6, else
   * a float 64 of 6 significant digits (the form the wire has always
   * had). Decoded: NaN when the pair had no number there (nil). */
  double le;
  int64_t count;
} iso_admin_bucket;

/* A latency histogram (microseconds); quantiles are sent with 1 decimal. */
typedef struct iso_admin_hist {
  int64_t count;
  int64_t sum;
  double p50;
  double p90;
  double p99;
  double p999;
  double max;                      /* whole microseconds */
  const iso_admin_bucket* buckets; /* nbuckets [le, count] pairs, the ones
                                    * with jobs, ascending */
  size_t nbuckets;
} iso_admin_hist;

/* stats: one entry per kind of job ("eval", "call", "all"), in the
 * reply's order: its name and four histograms. */
typedef struct iso_admin_kind {
  iso_admin_str name;
  iso_admin_hist queue; /* waiting for a worker */
  iso_admin_hist run;   /* on the worker */
  iso_admin_hist total; /* from receipt to reply */
  iso_admin_hist cpu;   /* its JavaScript's CPU time (stats.cpu_us); a
                           server before it sends none: all zero */
} iso_admin_kind;

typedef struct iso_admin_stats {
  const iso_admin_kind* kinds;
  size_t nkinds;
} iso_admin_stats;

typedef struct iso_admin_cancel {
  int64_t job;
} iso_admin_cancel;

typedef struct iso_admin_resize {
  iso_admin_size workers;
} iso_admin_resize;

typedef struct iso_admin_recycle {
  const int64_t* workers; /* the ids being recycled */
  size_t n;
} iso_admin_recycle;

typedef struct iso_admin_reload {
  int64_t realms; /* warm realms dropped */
} iso_admin_reload;

/* drain, shutdown */
typedef struct iso_admin_state {
  iso_admin_str state; /* "draining", "shutting_down" */
} iso_admin_state;

/* ok: false. */
typedef struct iso_admin_error {
  iso_proto_code code;     /* one of ISO_PROTO_CODE_TABLE's ISO_CODE_ADMIN rows;
                            * decoded: ISO_CODE_UNKNOWN for another */
  iso_admin_str code_name; /* decoded: the code as sent */
  iso_admin_str message;
} iso_admin_error;

/* One reply: the result of cmd (ok 1) or an error (ok 0). Filled by the
 * service to encode (every pointer borrowed), or by iso_admin_decode_reply
 * (strings and client ids point into the reply's bytes, which must
 * outlive it; the arrays are its own). */
typedef struct iso_admin_reply {
  iso_admin_cmd cmd;
  int ok;
  iso_admin_error error; /* ok 0 */
  union {                /* ok 1: the member of cmd */
    iso_admin_status status;
    iso_admin_workers workers;
    iso_admin_jobs jobs;
    iso_admin_stats stats;
    iso_admin_cancel cancel;
    iso_admin_resize resize;
    iso_admin_recycle recycle;
    iso_admin_reload reload;
    iso_admin_state state; /* drain, shutdown */
  };
  void* mem_; /* private: what the decoder allocated */
} iso_admin_reply;

/* iso_admin_encode_reply: appends the reply map of r: {ok: true, then the
 * result of r->cmd's keys in the protocol's order} or {ok: false, code,
 * message}. Returns 0, ISO_EINVAL (no such command, or an error code that
 * is not an admin code), ISO_ETOOBIG, ISO_ENOMEM; on error out->len is
 * unchanged. Thread: any. */
int iso_admin_encode_reply(const iso_admin_reply* r, iso_buf* out);

/* iso_admin_decode_reply: decodes the reply to a cmd request. The reply
 * must be exactly one msgpack map, nesting at most
 * ISO_ADMIN_REPLY_MAX_DEPTH deep, whose (first) "ok" is a boolean; the
 * rest is read leniently (see the top of this file). Returns 0; ISO_EPROTO
 * when the bytes are not such a map; ISO_EINVAL for an unknown cmd;
 * ISO_ETOOBIG past the memory budget (ISO_ADMIN_REPLY_MEM_*); ISO_ENOMEM.
 * Release *out with iso_admin_reply_close() whatever the return value.
 * Thread: any. */
int iso_admin_decode_reply(iso_admin_cmd cmd,
                           const uint8_t* msg,
                           size_t len,
                           iso_admin_reply* out);

/* iso_admin_reply_close: releases what iso_admin_decode_reply allocated
 * and zeroes *r. Destructor; accepts NULL and zeroed replies.
 * Thread: any. */
void iso_admin_reply_close(iso_admin_reply* r);

/* iso_admin_reply_is_job: 1 iff msg is a map whose "status" is a string:
 * a job protocol reply, which is what a client that dialed the job socket
 * instead of the admin socket gets. Thread: any. */
int iso_admin_reply_is_job(const uint8_t* msg, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ISO_ADMIN_H */
