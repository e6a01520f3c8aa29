/* iso_link.h: the link between the front and a pool process: framed
 * batches of records over a connected AF_UNIX stream socket
 * (docs/link.md).
 *
 * A link carries bytes between two ends that may live in different
 * processes. The front makes each link as a socketpair
 * (iso_link_socketpair), keeps one end and gives the other to the pool
 * process it spawns, which inherits it (or, with --processes 0, to its
 * own worker thread). Inheritance is the authentication: one connection
 * per link, from the one process the front started, holds by
 * construction; nobody can dial a link. Records (encoded byte strings)
 * are appended to an end's outbox with iso_link_send(); a burst leaves
 * as one message. Each message is framed: a 4-byte length (little
 * endian), then the bytes given as `head` (the codec's header), then
 * whole records; it never exceeds `max_send`. The receiving end gets
 * whole messages and splits them into records itself.
 *
 * The owner hears of the peer once: ISO_LINK_PEER_GONE when a read
 * finds the connection's end (the peer closed or shut down its end, or
 * died: a read of 0, ECONNRESET, EPIPE), or a frame above this end's
 * `max_recv` arrived (refused before anything is allocated for it; the
 * link is shut down, so the peer hears of it too). The front takes
 * PEER_GONE as one sign that a pool process died.
 *
 * DESIGN: an end is one non-blocking socket. iso_link_send appends to
 * the outbox under the end's lock and, when nothing waits ahead, writes
 * at once from the caller's thread (one sendmsg of the frame's length,
 * the head and the records, without copying them); what the socket does
 * not take stays in the outbox, and records sent meanwhile join its last
 * message until it would pass max_send (a burst behind a slow peer is a
 * few messages, not one per record). The rest goes out when the socket
 * is writable: the end's poller then reports it. An end is read in one
 * of two ways, chosen at open:
 *   - by its owner's loop (a worker's ends): iso_link_fd() is an epoll
 *     descriptor of the end's own that polls readable while a message
 *     may wait, or while the outbox waits and the socket takes more; the
 *     loop (uv_poll) then calls iso_link_drain(), which writes what it
 *     can and reads every whole message, on the owner's thread;
 *   - by a hub (the front's ends): iso_link_hub is one epoll set of many
 *     ends whose owner (pool/: one thread with a libuv loop) polls
 *     iso_link_hub_fd() and calls iso_link_hub_run(), which reads and
 *     writes for the ends that are ready and runs their msg_cb there.
 * Nothing is buffered but the outbox and the reading end's buffer of the
 * message under way; closing is a close (iso_link_free, after a bounded
 * wait for the outbox to leave): no handshake, no thread of the link's
 * own.
 */
#ifndef ISO_LINK_H
#define ISO_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_perm_req.h"
#include "iso_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default bound of a message in either direction: a reply of the
 * service's largest (ISO_PROTO_MAX_MSG_DEFAULT) with room around it. */
#define ISO_LINK_MAX_MSG_DEFAULT ((size_t)17 << 20)
/* The bytes of a message's frame before its head: its length. */
#define ISO_LINK_FRAME_LEN 4

typedef struct iso_link iso_link;
typedef struct iso_link_hub iso_link_hub;

typedef enum iso_link_event {
  ISO_LINK_PEER_GONE = 2 /* its connection ended; it will not come back */
} iso_link_event;

/* A message arrived: its `len` bytes (head included, frame not) are
 * valid only during the call. Thread: the hub's (a hub end), or the one
 * calling iso_link_drain. */
typedef void (*iso_link_msg_cb)(const uint8_t* data, size_t len, void* arg);

/* The peer went: reported once per link, never for what iso_link_free
 * does. It must not call iso_link_free on its link. Thread: as
 * iso_link_msg_cb's. */
typedef void (*iso_link_event_cb)(iso_link* link, iso_link_event ev, void* arg);

typedef struct iso_link_opts {
  /* The end: a connected AF_UNIX SOCK_STREAM socket (iso_link_socketpair,
   * or one inherited). iso_link_new takes it in every case: the link
   * closes it, and so does a failed iso_link_new. */
  int fd;
  /* A message above max_recv bytes ends the link (PEER_GONE). Messages
   * this end sends stay within max_send. 0: ISO_LINK_MAX_MSG_DEFAULT. */
  size_t max_recv;
  size_t max_send;
  /* Bytes waiting in the outbox beyond which iso_link_send refuses
   * (ISO_EBUSY): a peer that stops reading costs at most this much.
   * 0: no bound (the owner's own limits bound it). */
  size_t max_queued;
  /* Every message starts with these head_len bytes (copied; the codec's
   * header, iso_link_head()). NULL: none. */
  const void* head;
  size_t head_len;
  /* A hub end: read on the hub's thread, msg_cb required. NULL: read by
   * the owner (iso_link_fd, iso_link_drain; msg_cb must be NULL). */
  iso_link_hub* hub;
  iso_link_msg_cb msg_cb;
  iso_link_event_cb event_cb; /* NULL: not told */
  void* arg;                  /* for both */
} iso_link_opts;

/* iso_link_socketpair: a connected pair of AF_UNIX stream sockets,
 * close-on-exec (a spawn gives a child its end explicitly: pool/super.h),
 * for iso_link_new at each end. Returns 0, or ISO_EIO (EMFILE, ENFILE,
 * ...) with err. Thread: any. */
int iso_link_socketpair(int fds[2], char* err, size_t errlen);

/* iso_link_check_fd: 0 if fd is an AF_UNIX stream socket (fstat's
 * S_ISSOCK, SO_DOMAIN, SO_TYPE), else ISO_EINVAL with err naming what it
 * is. A pool process checks what it was given with it. Thread: any. */
int iso_link_check_fd(int fd, char* err, size_t errlen);

/* iso_link_new: constructor; wraps o->fd (iso_link_check_fd, then made
 * non-blocking) as an end, attached to o->hub if given. Returns 0 and
 * *out, or ISO_EINVAL (bad options, or an fd that is not such a socket),
 * ISO_ENOMEM or ISO_EIO, with `err` saying why (err may be NULL); o->fd
 * is closed then. Thread: any. */
int iso_link_new(const iso_link_opts* opts,
                 iso_link** out,
                 char* err,
                 size_t errlen);

/* iso_link_send: append `n` bytes, one or more whole records, to the
 * outbox (copied when they cannot leave at once); they leave in one
 * message with the records queued before them. Never blocks. Returns 0;
 * ISO_ETOOBIG when n and the head exceed max_send (it could never be
 * sent); ISO_EBUSY past max_queued; ISO_ECLOSED once the connection
 * failed or the peer is gone; ISO_ENOMEM. Thread: any. */
int iso_link_send(iso_link* link, const void* bytes, size_t n);

/* iso_link_fd: for an end read by its owner: a descriptor that polls
 * readable while the end has work (a message may wait, or the outbox
 * waits and the socket takes more); iso_link_drain() does it. Owned by
 * the link. Returns the fd, or ISO_EINVAL for a hub end. Thread: the
 * owner. */
int iso_link_fd(iso_link* link);

/* iso_link_drain: for an end read by its owner: writes what the outbox
 * holds and the socket takes, then calls cb for each whole message that
 * has arrived, without blocking (a frame above max_recv, or the
 * connection's end, reports PEER_GONE here). Returns the number of
 * messages handed to cb. Thread: the owner (one thread at a time). */
int iso_link_drain(iso_link* link, iso_link_msg_cb cb, void* arg);

/* iso_link_free: destructor. Detaches the end from its hub (waiting for
 * a callback of this link that the hub's thread runs now, unless this is
 * that thread), writes what the outbox holds while the peer takes it (at
 * most 100 ms; the rest is dropped; no wait once the connection failed),
 * shuts the socket down and closes it: the peer reads what was written,
 * then PEER_GONE. No callback of the link runs after it returns. Accepts
 * NULL. Thread: not a callback of this link. */
void iso_link_free(iso_link* link);

/* iso_link_hub_new: constructor: an empty hub (an epoll set). Returns 0
 * and *out, or ISO_ENOMEM / ISO_EIO. iso_link_hub_free: destructor,
 * once no link is attached; accepts NULL. Thread: any. */
int iso_link_hub_new(iso_link_hub** out);
void iso_link_hub_free(iso_link_hub* hub);

/* iso_link_hub_fd: a descriptor that polls readable while an attached end
 * has work. Owned by the hub. Thread: any. */
int iso_link_hub_fd(const iso_link_hub* hub);

/* iso_link_hub_run: does the work of the ends that are ready, without
 * blocking: writes their outboxes, reads their messages and runs their
 * msg_cb and event_cb. Returns the number of ends served. Thread: the
 * hub's owner, one thread (the hub's thread, as the callbacks see it). */
int iso_link_hub_run(iso_link_hub* hub);

/* ---- the records (iso_link_msg.c) ---------------------------------------
 *
 * A message is the link header, then records, each one msgpack array
 * whose first element is its kind (docs/link.md has the same table):
 *
 *   header  [ "isopool-link", ISO_LINK_VERSION, layout ]   (iso_link_head)
 *
 *   front -> worker, jobs link (ISO_LINK_FRONT_JOBS)
 *   TASK      [1, slot, gen, kind, module|nil, export|nil, source|nil,
 *              args (an array), deadline_ns, sid, perm_id, perms|nil,
 *              id|nil, received_ns, timeout_ms, cpu_ms]
 *   CANCEL    [2, slot, gen]
 *   RELOAD    [3, spec]                       ("" for every module)
 *   RECYCLE   [4]
 *   STOP      [5, grace_ms]
 *   worker -> front, jobs link (ISO_LINK_WORKER_JOBS)
 *   DONE      [16, slot, gen, status, code, started_ns, finished_ns,
 *              reply (bin: one msgpack map, the job's reply)|nil,
 *              note|nil, cpu_us, heap_bytes, ops, limit]
 *   INFO      [17, heap_used, heap_limit, warm_modules]
 *   RELOADED  [18, n]
 *   STATE     [19, state]
 *   READY     [20, rc, error|nil]
 *   RECYCLED  [21, reason, how]
 *   worker -> front, ops link (ISO_LINK_WORKER_OPS)
 *   OP        [32, op, promise, realm, tag, perm_id, args (an array)]
 *   front -> worker, ops link (ISO_LINK_FRONT_OPS)
 *   OP_RESULT [48, promise, realm, tag, err, result (bin)]
 *   front -> pool process, control link (ISO_LINK_FRONT_CTL)
 *   HALT      [64, worker, deadline_ns]
 *   CODE_PUT  [65, key (bin), cache (bin)]
 *   pool process -> front, control link (ISO_LINK_GROUP_CTL)
 *   WEDGED    [80, worker]
 *   ALIVE     [81]
 *   SPARES    [82, ready, builds, bytes]
 *   CODE      [83, key (bin), cache (bin)]
 *   CODE_STATS [84, hits, misses, rejected, evicted, made, put, bytes,
 *              entries, tag]
 *
 * Integers are unsigned, within 32 bits but for the *_ns, sid and heap
 * fields (64); times are CLOCK_MONOTONIC nanoseconds, which every process
 * on a machine shares. perms is [read, write, env, net], each false, true or
 * an array of names (iso_link_put_perms). An OP_RESULT's err is 0 with
 * its result a bin holding one msgpack value or nothing (the op returned
 * undefined, which msgpack cannot tell from null), or an op error class
 * (ops/'s iso_op_err) with its result a bin holding the message. READY's
 * rc is 0 once the worker's runtime is up, else the start's ISO_E* code
 * negated, with its error text. STOP's grace_ms is 0 from this build's
 * front, which waits out the grace itself before it sends STOP (the
 * worker answers what is left at once); the field stays for a front
 * that lets a pool process finish its jobs. A control record's worker
 * is the front's number for a worker thread (poolctl's). Kinds are
 * unique across the six channels, so a record on the wrong link is named
 * as such.
 *
 * `layout` is a hash of the tables the codec is made of (kinds, fields,
 * types, bounds): a front and a pool process whose records differ in any
 * way refuse each other's first message, naming both layouts, even when
 * nobody remembered to raise ISO_LINK_VERSION.
 *
 * The decoder is for bytes from a process that may be compromised: it
 * reads with codec/iso_mp.h's bounded reader, allocates nothing, copies
 * nothing (strings and raw values point into the message), and refuses
 * with ISO_EPROTO and a reason anything a well-behaved peer would not
 * send: a wrong header, an unknown kind or one of another channel, a
 * wrong field count, a field of the wrong type or out of its bounds, a
 * name or text that is not UTF-8 (names also without NUL bytes), a raw
 * value that is not exactly one well-formed msgpack value of its type
 * nesting at most ISO_LINK_MAX_DEPTH deep, a reply map holding a string
 * that is not UTF-8 (it goes to a client as it is), and the rules between
 * fields (a call names a module and an export; an eval has a module or a
 * source, and no export; an error has a job code and nothing else has
 * one; a DONE without a status, the job only coming back, has no reply,
 * and every other has one; a job does not finish before it starts; an
 * op's error message is a string). What records mean (a slot the front
 * used, an op in the table, a perm_id it granted) is the front's to
 * check. */

#define ISO_LINK_VERSION 1
/* Nesting of a raw value (args, a reply map, an op's args and result),
 * counting the value itself: a JavaScript value converts at most 100
 * deep (isolate/), and a reply map holds one. */
#define ISO_LINK_MAX_DEPTH 128
/* Bytes of a text field (READY's error, DONE's note, an op error's
 * message). */
#define ISO_LINK_MAX_TEXT 4096
/* A RELOAD's spec and a TASK's module: as the job protocol's. */
#define ISO_LINK_MAX_NAME ISO_PROTO_MAX_MODULE
/* perms: names per kind, bytes per name. */
#define ISO_LINK_MAX_PERM_ENTRIES 1024
#define ISO_LINK_MAX_PERM_ENTRY ISO_PROTO_MAX_PERM_ENTRY
/* STOP's grace_ms, as the admin protocol's. */
#define ISO_LINK_MAX_GRACE_MS 3600000
/* An OP_RESULT's err: ops/'s classes fit well below. */
#define ISO_LINK_MAX_OP_ERR 63
/* READY's rc: an ISO_E* code, negated. */
#define ISO_LINK_MAX_RC 255

/* X(enum suffix, value, channel suffix): the kinds, by channel. */
#define ISO_LINK_KIND_TABLE(X) \
  X(TASK, 1, FRONT_JOBS)       \
  X(CANCEL, 2, FRONT_JOBS)     \
  X(RELOAD, 3, FRONT_JOBS)     \
  X(RECYCLE, 4, FRONT_JOBS)    \
  X(STOP, 5, FRONT_JOBS)       \
  X(DONE, 16, WORKER_JOBS)     \
  X(INFO, 17, WORKER_JOBS)     \
  X(RELOADED, 18, WORKER_JOBS) \
  X(STATE, 19, WORKER_JOBS)    \
  X(READY, 20, WORKER_JOBS)    \
  X(RECYCLED, 21, WORKER_JOBS) \
  X(OP, 32, WORKER_OPS)        \
  X(OP_RESULT, 48, FRONT_OPS)  \
  X(HALT, 64, FRONT_CTL)       \
  X(CODE_PUT, 65, FRONT_CTL)   \
  X(WEDGED, 80, GROUP_CTL)     \
  X(ALIVE, 81, GROUP_CTL)      \
  X(SPARES, 82, GROUP_CTL)     \
  X(CODE, 83, GROUP_CTL)       \
  X(CODE_STATS, 84, GROUP_CTL)

typedef enum iso_link_kind {
#define ISO_LINK_KIND_ENUM(e, v, chan) ISO_LINK_##e = v,
  ISO_LINK_KIND_TABLE(ISO_LINK_KIND_ENUM)
#undef ISO_LINK_KIND_ENUM
} iso_link_kind;

/* What a link carries, by who sends it and on which link. */
typedef enum iso_link_chan {
  ISO_LINK_FRONT_JOBS = 1, /* TASK CANCEL RELOAD RECYCLE STOP */
  ISO_LINK_WORKER_JOBS,    /* DONE INFO RELOADED STATE READY RECYCLED */
  ISO_LINK_WORKER_OPS,     /* OP */
  ISO_LINK_FRONT_OPS,      /* OP_RESULT */
  ISO_LINK_FRONT_CTL,      /* HALT CODE_PUT: to a pool process's watchdog */
  ISO_LINK_GROUP_CTL,      /* WEDGED ALIVE SPARES CODE CODE_STATS: from it */
  ISO_LINK_CHAN_LAST = ISO_LINK_GROUP_CTL
} iso_link_chan;

/* X(enum suffix, name): a worker's states, as STATE reports them. */
#define ISO_LINK_WSTATE_TABLE(X) \
  X(STARTING, "starting")        \
  X(RUNNING, "running")          \
  X(RECYCLING, "recycling")      \
  X(RETIRING, "retiring")        \
  X(STOPPED, "stopped")

typedef enum iso_link_wstate {
#define ISO_LINK_WSTATE_ENUM(e, name) ISO_LINK_W_##e,
  ISO_LINK_WSTATE_TABLE(ISO_LINK_WSTATE_ENUM)
#undef ISO_LINK_WSTATE_ENUM
      ISO_LINK_W_COUNT
} iso_link_wstate;

/* X(enum suffix, name): why a worker's isolate was replaced (RECYCLED;
 * the metrics' `reason` label): poolctl recycle; a condemned runtime (the
 * heap limit, or background JavaScript that had to be stopped); its job
 * count (--recycle-after-jobs); its heap in use past --heap-soft-mb; its
 * committed heap past --recycle-heap-mb; a job for a worker whose
 * isolate was freed idle (--idle-timeout). */
#define ISO_LINK_REASON_TABLE(X)  \
  X(ASKED, "asked")               \
  X(CONDEMNED, "condemned")       \
  X(JOBS, "jobs")                 \
  X(HEAP_SOFT, "heap_soft")       \
  X(RECYCLE_HEAP, "recycle_heap") \
  X(IDLE, "idle")

typedef enum iso_link_reason {
#define ISO_LINK_REASON_ENUM(e, name) ISO_LINK_R_##e,
  ISO_LINK_REASON_TABLE(ISO_LINK_REASON_ENUM)
#undef ISO_LINK_REASON_ENUM
      ISO_LINK_R_COUNT
} iso_link_reason;

/* How the new isolate came: a spare engine's, already built, or built on
 * the worker's own thread while it took no jobs (no spare was ready). */
typedef enum iso_link_how {
  ISO_LINK_HOW_SPARE = 0,
  ISO_LINK_HOW_COLD = 1,
} iso_link_how;

/* The records' fields. Strings and raw values are views into the decoded
 * message (or the caller's, to encode); {NULL, 0} is nil where nil is
 * allowed. */
typedef struct iso_link_task {
  uint32_t slot, gen;   /* the front's name for the job on this worker */
  iso_job_kind kind;    /* ISO_JOB_EVAL or ISO_JOB_CALL */
  iso_str module;       /* the module's URL, or nil (an eval's source) */
  iso_str export_name;  /* a call's export; nil for an eval */
  iso_str source;       /* the module's text, or nil (its file's) */
  iso_bytes args;       /* one msgpack array */
  uint64_t deadline_ns; /* CLOCK_MONOTONIC */
  uint64_t sid;         /* the service's job number */
  uint32_t perm_id;     /* the permission set it runs with */
  iso_bytes perms;      /* that set ([read, write, env, net]) the first time
                           perm_id goes to this worker, else nil */
  iso_bytes id;         /* the client's id (one msgpack value), echoed in
                           the reply; nil: none */
  uint64_t received_ns; /* when the front took it (the reply's queue_us) */
  uint32_t timeout_ms;  /* its timeout, for the timeout's message */
  uint32_t cpu_ms;      /* its CPU budget (0: none; iso_eval_opts.cpu_ms) */
} iso_link_task;

typedef struct iso_link_cancel {
  uint32_t slot, gen;
} iso_link_cancel;

typedef struct iso_link_reload {
  iso_str spec; /* a module's URL, or "" for every module */
} iso_link_reload;

typedef struct iso_link_stop {
  uint32_t grace_ms;
} iso_link_stop;

typedef struct iso_link_done {
  uint32_t slot, gen;
  iso_status status;   /* FULFILLED, REJECTED or ERROR; NONE: the job only
                          comes back (someone else answered it) */
  iso_proto_code code; /* ERROR: a job code; else ISO_CODE_UNKNOWN (0) */
  uint64_t started_ns; /* 0: it never started */
  uint64_t finished_ns;
  iso_bytes reply; /* one msgpack map: the job's reply, sent on as it is;
                      nil exactly when status is NONE */
  iso_str note;    /* not fulfilled: "name: message", for poolctl
                      workers' last_error; nil: none */
  /* what the job cost, as its reply's stats say (for the front's
   * metrics): CPU time, heap bytes allocated, ops; 0 without a reply */
  uint64_t cpu_us, heap_bytes, ops;
  iso_limit limit; /* the limit that ended it (NONE: none) */
} iso_link_done;

/* (A worker's last error is the front's: the notes of its DONE
 * records.) */
typedef struct iso_link_info {
  uint64_t heap_used, heap_limit; /* bytes */
  uint32_t warm_modules;
} iso_link_info;

typedef struct iso_link_reloaded {
  uint32_t n; /* warm realms dropped */
} iso_link_reloaded;

typedef struct iso_link_state {
  iso_link_wstate state;
} iso_link_state;

/* RECYCLED: the worker runs on a new isolate (after its STATE running, or
 * with no STATE at all when it had freed its isolate idle). */
typedef struct iso_link_recycled {
  iso_link_reason reason;
  iso_link_how how;
} iso_link_recycled;

typedef struct iso_link_ready {
  uint32_t rc;   /* 0: the runtime is up; else its ISO_E* code, negated */
  iso_str error; /* why it is not (then the worker ends); nil exactly
                    when rc is 0 */
} iso_link_ready;

typedef struct iso_link_op {
  uint32_t op; /* its index in the op table */
  uint32_t promise, realm, tag, perm_id;
  iso_bytes args; /* one msgpack array */
} iso_link_op;

typedef struct iso_link_op_result {
  uint32_t promise, realm, tag;
  uint32_t err;     /* 0, or an op error class (1 .. ISO_LINK_MAX_OP_ERR) */
  iso_bytes result; /* a bin's bytes: err 0: one msgpack value, or none
                       (undefined); else the message (UTF-8). Never NULL
                       once decoded, even when empty */
} iso_link_op_result;

/* HALT: stop the JavaScript of worker `worker`: with deadline_ns 0
 * whatever it runs (the service stops), else the job of that deadline's
 * (it was cancelled). WEDGED: JavaScript the pool process's watchdog
 * stopped on `worker` runs on. ALIVE (no fields): the watchdog runs. */
typedef struct iso_link_halt {
  uint32_t worker;
  uint64_t deadline_ns;
} iso_link_halt;

typedef struct iso_link_wedged {
  uint32_t worker;
} iso_link_wedged;

/* SPARES: the group's spare engines (worker.c): how many are ready (an
 * isolate built, idle), how many isolates spares have built so far, and
 * the memory the ready ones hold (iso_rt_memory's committed, bytes). Sent
 * with ALIVE when it changed. */
typedef struct iso_link_spares {
  uint32_t ready;
  uint64_t builds;
  uint64_t bytes;
} iso_link_spares;

/* CODE: a code cache entry the pool process made (isolate/iso_rt.h,
 * iso_rt_code_next_made), for the front to keep and pass on; CODE_PUT:
 * one the front passes to a pool process (iso_rt_code_put). The key is
 * exactly ISO_LINK_CODE_KEY bytes (the code cache's key of a user module,
 * ES or CommonJS), the cache 1 to ISO_LINK_CODE_MAX bytes. */
#define ISO_LINK_CODE_KEY 37
#define ISO_LINK_CODE_MAX ((size_t)1 << 20)
typedef struct iso_link_code {
  iso_bytes key;
  iso_bytes data;
} iso_link_code;

/* CODE_STATS: the pool process's code cache's figures (isolate/iso_rt.h,
 * iso_code_stats): its counters since it started (hits, misses, rejected,
 * evicted, made, put: entries from the front), its entries that hold a
 * cache and the bytes of all its entries now, and V8's version tag in its
 * keys. Sent with ALIVE when it changed. */
typedef struct iso_link_code_stats {
  uint64_t hits, misses, rejected, evicted, made, put;
  uint64_t bytes, entries;
  uint32_t tag;
} iso_link_code_stats;

/* One record: `kind` says which member of u it is (RECYCLE and ALIVE
 * have none). */
typedef struct iso_link_rec {
  iso_link_kind kind;
  union {
    iso_link_task task;
    iso_link_cancel cancel;
    iso_link_reload reload;
    iso_link_stop stop;
    iso_link_done done;
    iso_link_info info;
    iso_link_reloaded reloaded;
    iso_link_state state;
    iso_link_ready ready;
    iso_link_recycled recycled;
    iso_link_op op;
    iso_link_op_result op_result;
    iso_link_halt halt;
    iso_link_wedged wedged;
    iso_link_spares spares;
    iso_link_code code; /* CODE and CODE_PUT */
    iso_link_code_stats code_stats;
  } u;
} iso_link_rec;

/* iso_link_head: the header every message starts with, to give as
 * iso_link_opts.head (*len bytes, static). Thread: any. */
const uint8_t* iso_link_head(size_t* len);

/* iso_link_kind_name: "TASK", ...; NULL for a value that is not a kind.
 * iso_link_wstate_name: "running", ...; iso_link_reason_name: "jobs", ...;
 * NULL likewise. Static strings.
 * Thread: any. */
const char* iso_link_kind_name(iso_link_kind kind);
const char* iso_link_wstate_name(iso_link_wstate state);
const char* iso_link_reason_name(iso_link_reason reason);

/* iso_link_put: appends rec, encoded, to out (records are concatenated;
 * iso_link_send sends them). Names and raw values are written as given
 * (the caller's come from a checked request or its own encoder); text
 * fields are made valid UTF-8 (U+FFFD). Returns 0; ISO_EINVAL for a kind
 * this build does not know, a raw value that is not optional but absent,
 * or a record the rules between fields refuse (out then as it was);
 * ISO_ENOMEM (likewise). Thread: any. */
int iso_link_put(iso_buf* out, const iso_link_rec* rec);

/* iso_link_send_rec: iso_link_put into a buffer of its own, then
 * iso_link_send. Returns as they do. Thread: any. */
int iso_link_send_rec(iso_link* link, const iso_link_rec* rec);

/* A reader of one message's records (caller-owned; borrows the message,
 * which must outlive what it hands out). */
typedef struct iso_link_rd {
  const uint8_t* p;
  const uint8_t* end;
  iso_link_chan chan;
  size_t index; /* records read */
} iso_link_rd;

/* iso_link_rd_init: a reader of the message [msg, msg+len) from a link
 * carrying chan; checks the header. Returns 0, or ISO_EPROTO with `err`
 * saying why (another program, another version, another layout).
 * Thread: any. */
int iso_link_rd_init(iso_link_rd* rd,
                     iso_link_chan chan,
                     const uint8_t* msg,
                     size_t len,
                     char* err,
                     size_t errlen);

/* iso_link_rd_next: the next record into *rec. Returns 1 (a record), 0
 * (no more), or ISO_EPROTO with `err` naming the record (its index, from
 * 1, and kind), the field and what is wrong; after an error the rest of
 * the message cannot be read. Thread: any. */
int iso_link_rd_next(iso_link_rd* rd,
                     iso_link_rec* rec,
                     char* err,
                     size_t errlen);

/* A TASK record in two steps, so that what routing decides costs a copy
 * and three patches, not an encoding, where the front is busiest (a
 * worker's DONE records refill it with queued jobs).
 *
 * iso_link_put_task_ahead: appends t as a TASK record as iso_link_put
 * would, except that slot, gen and perm_id are written in a fixed 32-bit
 * form (their values are not used) and perms is left out: *perms_at is
 * where it goes, from the record's start. These bytes are not a record
 * yet. Returns as iso_link_put does (out as it was on error).
 * iso_link_put_task_routed: appends the record those `len` bytes make
 * with slot, gen, perm_id and perms (an iso_link_put_perms value; {NULL,
 * 0}: nil) filled in. Returns 0; ISO_EINVAL for bytes that are not
 * iso_link_put_task_ahead's; ISO_ENOMEM (out as it was). Thread: any. */
int iso_link_put_task_ahead(iso_buf* out,
                            const iso_link_task* t,
                            size_t* perms_at);
int iso_link_put_task_routed(iso_buf* out,
                             const uint8_t* ahead,
                             size_t len,
                             size_t perms_at,
                             uint32_t slot,
                             uint32_t gen,
                             uint32_t perm_id,
                             iso_bytes perms);

/* iso_link_put_perms: appends a permission set as TASK's perms carries
 * it: [read, write, env, net], each false (nothing), true (all the service
 * grants) or an array of names. Returns 0 or ISO_ENOMEM. Thread: any. */
int iso_link_put_perms(iso_buf* out, const iso_perm_req* perms);

/* iso_link_get_perms: reads a decoded TASK's perms into *out (present 1),
 * with the names as views into the message, stored in items[0 .. cap).
 * Returns 0; ISO_ETOOBIG when cap is too small (ISO_PERM_REQ_KINDS *
 * ISO_LINK_MAX_PERM_ENTRIES always does); ISO_EPROTO for bytes that are
 * not a perms value. Thread: any. */
int iso_link_get_perms(iso_bytes perms,
                       iso_perm_req* out,
                       iso_str* items,
                       size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ISO_LINK_H */
