/* iso_proto.h: the job protocol codec, wire format v1 (docs/protocol.md).
 *
 * Every request and every reply is one msgpack map in one NNG message. This
 * header turns those bytes into C structs and back, without exposing any
 * msgpack type:
 *
 *   server side   iso_proto_decode()        request bytes -> iso_proto_msg
 *                 iso_proto_encode_reply()  iso_proto_reply -> reply bytes
 *   client side   iso_proto_encode_request()  iso_job -> request bytes
 *                 iso_proto_decode_reply()    reply bytes -> iso_result
 *
 * (iso_proto_server.c and iso_proto_client.c hold the two sides, and
 * iso_proto.c what they share; the installed client library has no server
 * side.)
 *
 * Request decoding trusts nothing: it is the first code that touches bytes
 * from the network. It checks structure (truncation, counts larger than the
 * remaining bytes could hold, trailing bytes, nesting deeper than
 * ISO_PROTO_MAX_DEPTH), then meaning (types, required and unknown fields,
 * version, strings that are not UTF-8). Every refusal is ISO_EPROTO with a
 * message that names the field and the problem, meant to be sent back to
 * the client in a bad_request reply. Decoded requests point into the
 * caller's buffer (no copies), so that buffer must outlive them.
 *
 * Every string a reply carries is valid UTF-8 (iso_utf8.h): the decoder
 * refuses a `source`, `module` or `export` that is not, and an `id` holding
 * such a string anywhere (ids are echoed byte for byte, so it is not echoed
 * in the refusal either); the reply encoder replaces ill-formed bytes in
 * the text it is given (error names, messages, stacks, console lines) with
 * U+FFFD. A fulfilled reply's value is copied as it is: its producer (the
 * runtime's encoder) must write valid UTF-8.
 */
#ifndef ISO_PROTO_H
#define ISO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_perm_req.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------- */

#define ISO_PROTO_VERSION 1
/* Containers nest at most this deep in one request, counting the request map
 * itself as level 1 (so `args` is level 2 and its elements level 3). In a
 * batch, each element counts from its own map. */
#define ISO_PROTO_MAX_DEPTH 64
/* Requests in one batch (1 .. this). */
#define ISO_PROTO_MAX_BATCH 10000
/* Bytes in `module` and in `export`. */
#define ISO_PROTO_MAX_MODULE 4096
#define ISO_PROTO_MAX_EXPORT 1024
/* `permissions`: entries in one list (read, write or env), and bytes in one
 * entry (a path or a variable name). */
#define ISO_PROTO_MAX_PERM_ENTRIES 64
#define ISO_PROTO_MAX_PERM_ENTRY 4096
/* Default maximum message size in either direction (servers and clients set
 * NNG's receive limit to this unless configured otherwise). */
#define ISO_PROTO_MAX_MSG_DEFAULT ((size_t)16 << 20)
/* Room an error message needs (longer ones are truncated). */
#define ISO_PROTO_ERRMSG_MAX 160

/* ---- shared enums ------------------------------------------------------- */

typedef enum iso_job_kind {
  ISO_JOB_EVAL = 1, /* evaluate a module (source text or a file); a
                     * function default export is called with args */
  ISO_JOB_CALL = 2, /* call an export of a module with args */
  ISO_JOB_PING = 3  /* a heartbeat: {v, kind, id} only, never in a batch;
                     * the front answers it itself, without a worker
                     * (docs/protocol.md, "ping") */
} iso_job_kind;

typedef enum iso_status {
  ISO_STATUS_NONE = 0,
  ISO_STATUS_FULFILLED = 1, /* value */
  ISO_STATUS_REJECTED = 2,  /* the job threw: name, message, stack */
  ISO_STATUS_ERROR = 3      /* the service refused or failed: code, message */
} iso_status;

/* Which replies may carry a code: the third column of the table below. */
#define ISO_CODE_JOB 1   /* a job reply with status "error" */
#define ISO_CODE_ADMIN 2 /* an admin reply with ok: false (iso_admin.h) */

/* X(enum suffix, wire string, ISO_CODE_JOB | ISO_CODE_ADMIN): the error
 * codes of both protocols, one table (docs/protocol.md, "Error codes").
 * The job codes come first (pool/metrics.h counts them by value); a new
 * code is a row here and a line in that doc. */
#define ISO_PROTO_CODE_TABLE(X)                                \
  X(BAD_REQUEST, "bad_request", ISO_CODE_JOB | ISO_CODE_ADMIN) \
  X(BUSY, "busy", ISO_CODE_JOB)                                \
  X(TIMEOUT, "timeout", ISO_CODE_JOB)                          \
  X(TOO_LARGE, "too_large", ISO_CODE_JOB)                      \
  X(SHUTTING_DOWN, "shutting_down", ISO_CODE_JOB)              \
  X(CANCELLED, "cancelled", ISO_CODE_JOB)                      \
  X(WORKER_LOST, "worker_lost", ISO_CODE_JOB)                  \
  X(CPU_LIMIT, "cpu_limit", ISO_CODE_JOB)                      \
  X(MEMORY_LIMIT, "memory_limit", ISO_CODE_JOB)                \
  X(INTERNAL, "internal", ISO_CODE_JOB | ISO_CODE_ADMIN)       \
  X(UNAUTHORIZED, "unauthorized", ISO_CODE_ADMIN)              \
  X(NOT_FOUND, "not_found", ISO_CODE_ADMIN)                    \
  X(CONFLICT, "conflict", ISO_CODE_ADMIN)

typedef enum iso_proto_code {
  ISO_CODE_UNKNOWN = 0, /* a code this library does not know (decode only) */
#define ISO_PROTO_CODE_ENUM(name, str, where) ISO_CODE_##name,
  ISO_PROTO_CODE_TABLE(ISO_PROTO_CODE_ENUM)
#undef ISO_PROTO_CODE_ENUM
} iso_proto_code;

/* X(enum suffix, wire string). Console levels of a log entry. */
#define ISO_LOG_LEVEL_TABLE(X) \
  X(LOG, "log")                \
  X(INFO, "info")              \
  X(DEBUG, "debug")            \
  X(WARN, "warn")              \
  X(ERROR, "error")

typedef enum iso_log_level {
#define ISO_LOG_LEVEL_ENUM(name, str) ISO_LOG_##name,
  ISO_LOG_LEVEL_TABLE(ISO_LOG_LEVEL_ENUM)
#undef ISO_LOG_LEVEL_ENUM
} iso_log_level;

/* One console line a job produced. */
typedef struct iso_log {
  iso_log_level level;
  const char* text; /* len bytes; NUL-terminated in an iso_result */
  size_t len;
} iso_log;

/* X(enum suffix, wire string). Which limit ended a job (stats.limit). */
#define ISO_LIMIT_TABLE(X) \
  X(CPU, "cpu")            \
  X(WALL, "wall")          \
  X(MEMORY, "memory")

typedef enum iso_limit {
  ISO_LIMIT_NONE = 0, /* none: absent on the wire */
#define ISO_LIMIT_ENUM(name, str) ISO_LIMIT_##name,
  ISO_LIMIT_TABLE(ISO_LIMIT_ENUM)
#undef ISO_LIMIT_ENUM
} iso_limit;

/* iso_limit_name: "cpu", "wall", "memory", or NULL for ISO_LIMIT_NONE and
 * values outside the table. Static string. Thread: any. */
const char* iso_limit_name(iso_limit limit);

/* A job's costs (docs/protocol.md, "stats"). A decoder that does not know
 * a key skips it, so replies from older servers leave these at 0 (and
 * limit NONE), and older clients ignore what newer servers add. */
typedef struct iso_stats {
  int64_t worker;     /* the worker that ran the job; -1 if none did */
  int64_t queue_us;   /* time waiting for a worker */
  int64_t run_us;     /* time running */
  int64_t cpu_us;     /* CPU time of its JavaScript (iso_eval_stats) */
  int64_t wall_us;    /* from the front's accept to its reply's encoding */
  int64_t heap_bytes; /* heap bytes its JavaScript allocated (an estimate) */
  int64_t ops;        /* ops it called, sync and async */
  iso_limit limit;    /* the limit that ended it, or NONE */
} iso_stats;

/* iso_proto_code_name: the wire string of a code ("bad_request"), or
 * "unknown". Static string. Thread: any. */
const char* iso_proto_code_name(iso_proto_code code);

/* iso_proto_code_where: the replies that may carry code (ISO_CODE_JOB,
 * ISO_CODE_ADMIN or both), or 0 for ISO_CODE_UNKNOWN and values outside
 * the table. Thread: any. */
int iso_proto_code_where(iso_proto_code code);

/* iso_proto_code_for: the code a server sends for an ISO_E* failure in a
 * job reply (where ISO_CODE_JOB) or an admin reply (ISO_CODE_ADMIN), from
 * the one table in iso_proto.c (docs/protocol.md lists it). Jobs:
 * EPROTO/EINVAL -> bad_request, EBUSY -> busy, ETIMEDOUT and ETERMINATED
 * -> timeout, ETOOBIG -> too_large, ESHUTDOWN -> shutting_down, ELOST ->
 * worker_lost, ECPULIMIT -> cpu_limit, EHEAPLIMIT -> memory_limit. Admin: EBUSY
 * and ECLOSED -> conflict. Anything else -> internal.
 * iso_proto_code_from_err(err): the job reply's. Thread: any. */
iso_proto_code iso_proto_code_for(int err, int where);
iso_proto_code iso_proto_code_from_err(int err);

/* iso_log_level_name: "log", "info", ... Static string. Thread: any. */
const char* iso_log_level_name(iso_log_level level);

/* ---- requests: server side ---------------------------------------------- */

/* One decoded request. Every pointer points into the buffer given to
 * iso_proto_decode(), which must outlive it. */
typedef struct iso_proto_req {
  /* 0, or ISO_EPROTO for a bad element of a batch (then errmsg says why and
   * only `id` may be set; answer it with a bad_request reply). */
  int err;
  const char* errmsg; /* NUL-terminated, owned by the iso_proto_msg */
  iso_bytes id;       /* raw msgpack of `id`; {NULL, 0} if absent (echo nil) */
  iso_job_kind kind;
  iso_str source;      /* {NULL, 0} if absent */
  iso_str module;      /* {NULL, 0} if absent; never contains NUL bytes */
  iso_str export_name; /* call: "default" if absent; eval: {NULL, 0} */
  iso_bytes args;      /* raw msgpack array; a static empty array if absent */
  int64_t timeout_ms;  /* -1 if absent */
  int64_t cpu_ms;      /* -1 if absent; 0: none asked (the service's) */
  /* decoded (iso_perm_req.h; zeroed if absent), its entries pointing into
   * the buffer; what it asks for is checked against the service's grant
   * when the job runs (ops/iso_ops.h, iso_perms_narrow). */
  iso_perm_req permissions;
  void* mem_; /* private: the permission entries' views (one block) */
} iso_proto_req;

/* A decoded message: one request or a batch. */
typedef struct iso_proto_msg {
  int is_batch;
  size_t count;        /* requests in reqs: 1 for a single request */
  iso_proto_req* reqs; /* count entries */
  /* On ISO_EPROTO: the id of the refused request if it could be read, so
   * the bad_request reply can echo it; {NULL, 0} otherwise. */
  iso_bytes err_id;
  iso_proto_req one; /* storage for a single request (use reqs) */
} iso_proto_msg;

/* iso_proto_decode: decodes one request message.
 *
 * Returns 0 with *out filled: a single request (count 1, reqs[0].err == 0)
 * or a batch (count 1..ISO_PROTO_MAX_BATCH, in order), where a bad element
 * has reqs[i].err == ISO_EPROTO and reqs[i].errmsg, and the others are good
 * and should run. Returns ISO_EPROTO when the message as a whole is refused
 * (not a map, truncated, trailing bytes, a bad single request, a bad batch
 * envelope, an empty or oversized batch, a count larger than the message
 * could hold): errbuf (errlen bytes, ISO_PROTO_ERRMSG_MAX is enough; may be
 * NULL) gets a message naming the problem and out->err_id the request's id
 * when it could be read. Returns ISO_ENOMEM.
 *
 * Ownership: *out points into buf; release it with iso_proto_msg_close()
 * whatever the return value. Cost: one pass over the bytes, one allocation
 * for a batch, none for a single request, and one for each request whose
 * `permissions` lists entries. Thread: any. */
int iso_proto_decode(const uint8_t* buf,
                     size_t len,
                     iso_proto_msg* out,
                     char* errbuf,
                     size_t errlen);

/* iso_proto_msg_close: releases what iso_proto_decode() allocated (not buf)
 * and zeroes *msg, which stays the caller's storage (hence _close, not
 * _free). Destructor; accepts NULL and a zeroed msg. Thread: any. */
void iso_proto_msg_close(iso_proto_msg* msg);

/* ---- replies: server side ----------------------------------------------- */

/* A reply to encode. Borrowed views; nothing is freed by the encoder. */
typedef struct iso_proto_reply {
  iso_bytes id; /* raw msgpack of the request's id; {NULL, 0} encodes nil */
  iso_status status;
  iso_bytes value; /* fulfilled: raw msgpack; {NULL, 0} encodes nil */
  /* rejected: name, message, stack of the thrown value. error: message. */
  iso_str name, message, stack;
  iso_proto_code code; /* error: the code (not ISO_CODE_UNKNOWN) */
  const iso_log* logs;
  size_t nlogs;
  iso_stats stats;
} iso_proto_reply;

/* iso_proto_encode_reply: appends one reply map to out. id and value must
 * each be exactly one msgpack value (they are copied verbatim, not parsed).
 * name, message, stack and log texts go out as valid UTF-8 (ill-formed
 * bytes become U+FFFD).
 * Returns 0, ISO_EINVAL (bad status or code), ISO_ETOOBIG (a string over 4
 * GiB), ISO_ENOMEM; on error out->len is unchanged. Thread: any. */
int iso_proto_encode_reply(const iso_proto_reply* reply, iso_buf* out);

/* A reply in two parts, for a server where one side runs the job and
 * another knows what it cost (isopool's worker and front):
 * iso_proto_encode_reply_open appends the reply map but its last entry,
 * "stats" (the map's header counts it; reply->stats is not read), and
 * returns as iso_proto_encode_reply; iso_proto_encode_stats appends that
 * entry, the "stats" key and its map, at most ISO_PROTO_STATS_MAX bytes,
 * and returns 0 or ISO_ENOMEM. Both leave out->len unchanged on error.
 * Thread: any. */
int iso_proto_encode_reply_open(const iso_proto_reply* reply, iso_buf* out);
int iso_proto_encode_stats(const iso_stats* stats, iso_buf* out);
#define ISO_PROTO_STATS_MAX 136

/* What a ping's fulfilled reply says of the service (its value, a map of
 * these four keys; docs/protocol.md, "ping"). */
typedef struct iso_proto_ping {
  int ready;           /* takes jobs with every configured worker up: the
                        * test /readyz makes */
  int workers;         /* configured */
  int in_flight;       /* jobs queued or on a worker */
  const char* version; /* the service's, "x.y.z" */
} iso_proto_ping;

/* iso_proto_encode_ping: appends the value of a ping's reply, the map
 * {ready, workers, in_flight, version}, to out (one msgpack value, for
 * iso_proto_reply.value). Returns 0 or ISO_ENOMEM; on error out->len is
 * unchanged. Thread: any. */
int iso_proto_encode_ping(const iso_proto_ping* ping, iso_buf* out);

/* iso_proto_encode_batch_header: appends the envelope of a batch reply with
 * n replies ({"v": 1, "batch": [ ... n elements); the caller then appends
 * exactly n iso_proto_encode_reply() maps in request order. Lets a server
 * encode replies as they finish and join them at the end. Returns 0 or
 * ISO_ENOMEM. Thread: any. */
int iso_proto_encode_batch_header(size_t n, iso_buf* out);

/* iso_proto_encode_batch_reply: the whole batch reply for n replies.
 * Returns as iso_proto_encode_reply. Thread: any. */
int iso_proto_encode_batch_reply(const iso_proto_reply* replies,
                                 size_t n,
                                 iso_buf* out);

/* ---- requests: client side ---------------------------------------------- */

/* A job to send. All pointers are borrowed for the duration of the call. */
typedef struct iso_job {
  iso_job_kind kind;
  const char* source;      /* module text, or NULL */
  size_t source_len;       /* 0: strlen(source) */
  const char* module;      /* specifier under the module root, or NULL */
  const char* export_name; /* call only; NULL sends nothing ("default") */
  const uint8_t* args;     /* one msgpack array, or NULL for [] */
  size_t args_len;
  int64_t timeout_ms; /* > 0 sends timeout_ms; <= 0 leaves the server's;
                       * never sent for a ping (answered at once) */
  int64_t cpu_ms;     /* > 0 sends cpu_ms; <= 0 leaves the server's */
  const uint8_t* id;  /* one msgpack value, or NULL (the client numbers it) */
  size_t id_len;
  /* one msgpack map {read, write, env} (iso_proto_check_permissions), or
   * NULL: send nothing, so the job gets everything the service grants.
   * Bytes rather than an iso_perm_req: callers have the field as JSON or
   * msgpack already (a config, poolctl --permissions; iso_json_to_msgpack
   * turns the one into the other), and the server decodes it anyway */
  const uint8_t* permissions;
  size_t permissions_len;
  /* Not sent: for the client library. Nonzero: the job may run twice, so
   * when the node running it is lost it is sent once more, to another
   * node, instead of completing with ISO_ENODELOST (iso_client.h). */
  int idempotent;
} iso_job;

/* iso_proto_encode_request: appends the request map for job to out, with
 * v = 1. The job is checked the way a server would check it (kind; eval
 * needs source or module and takes no export; call needs module; a ping
 * takes nothing but its id (its timeout_ms is not sent), and is sent
 * alone, never in a batch;
 * module, export and source valid UTF-8; args one msgpack array; id one
 * msgpack value whose strings are valid UTF-8; permissions as
 * iso_proto_check_permissions), so mistakes surface here
 * rather than as a bad_request reply. A NULL id sends no id. Returns 0,
 * ISO_EINVAL, ISO_ENOMEM; on error out->len is unchanged. Thread: any. */
int iso_proto_encode_request(const iso_job* job, iso_buf* out);

/* iso_proto_check_permissions: checks the shape of a `permissions` value
 * (the one msgpack value in [p, p+len)) the way the server's decoder does:
 * a map of at most 4 pairs whose keys are "read", "write", "env" and
 * "net", each once, and whose values are each a boolean or an array of at most
 * ISO_PROTO_MAX_PERM_ENTRIES strings of 1..ISO_PROTO_MAX_PERM_ENTRY bytes
 * of valid UTF-8 without NUL bytes. It is the server's reading of the
 * field (iso_proto_decode then hands the result on as an iso_perm_req),
 * minus the result. Only the shape: whether the service grants what it
 * asks for is decided when the job runs. Returns 0, or
 * ISO_EINVAL with errbuf (errlen bytes, ISO_PROTO_ERRMSG_MAX is enough; may
 * be NULL) naming the key and the problem ("'permissions.read' must be
 * true, false or an array of strings (got a map)"). Thread: any. */
int iso_proto_check_permissions(const uint8_t* p,
                                size_t len,
                                char* errbuf,
                                size_t errlen);

/* iso_proto_encode_batch: appends {"v": 1, "batch": [n requests]}.
 * n must be 1..ISO_PROTO_MAX_BATCH, and no job a ping (ISO_EINVAL).
 * Returns as iso_proto_encode_request. Thread: any. */
int iso_proto_encode_batch(const iso_job* jobs, size_t n, iso_buf* out);

/* ---- replies: client side ----------------------------------------------- */

/* A decoded reply. Owns its memory (one block): strings are NUL-terminated
 * copies, never NULL ("" when absent). Release with iso_result_close(). */
typedef struct iso_result {
  iso_status status;
  const uint8_t* id; /* raw msgpack of the echoed id */
  size_t id_len;
  const uint8_t* value; /* fulfilled: raw msgpack of the value */
  size_t value_len;
  const char* name;      /* rejected: the error's name ("TypeError") */
  const char* message;   /* rejected and error */
  const char* stack;     /* rejected */
  iso_proto_code code;   /* error */
  const char* code_name; /* error: the code as sent ("busy") */
  const iso_log* logs;
  size_t nlogs;
  iso_stats stats; /* worker -1 and zeros when the reply had none */
  void* mem_;      /* private */
} iso_result;

/* iso_proto_decode_reply: decodes a single reply message into *out.
 * Unknown fields are ignored (newer servers may add some); unknown error
 * codes give ISO_CODE_UNKNOWN with code_name kept. Returns 0, ISO_EPROTO
 * (malformed reply, or a batch reply), ISO_ENOMEM; on error *out is zeroed.
 * Thread: any. */
int iso_proto_decode_reply(const uint8_t* buf, size_t len, iso_result* out);

/* iso_proto_decode_batch_reply: decodes the reply to an n-request batch
 * into out[0..n). A batch reply must hold exactly n replies; a single
 * status "error" reply (the server refused the batch as a whole) is copied
 * into all n results. Returns 0, ISO_EPROTO, ISO_ENOMEM; on error every
 * out[i] is zeroed. Thread: any. */
int iso_proto_decode_batch_reply(const uint8_t* buf,
                                 size_t len,
                                 iso_result* out,
                                 size_t n);

/* iso_result_close: releases a result and zeroes it. Destructor of the
 * caller's storage; accepts NULL and zeroed results. Thread: any. */
void iso_result_close(iso_result* r);

/* iso_result_free: the name of iso_result_close in 0.1 (a result is
 * the caller's storage: _close). Deprecated; kept for code built against
 * the installed headers. */
__attribute__((deprecated("use iso_result_close"))) static inline void
iso_result_free(iso_result* r) {
  iso_result_close(r);
}

#ifdef __cplusplus
}
#endif

#endif /* ISO_PROTO_H */
