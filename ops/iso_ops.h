/* iso_ops.h: the op registry and the op ABI (Deno's ops, in C).
 *
 * JavaScript reaches native code through ops. An op is one row of a table
 * (iso_op_def: name, sync or async, the permission it needs, its function)
 * and one C function. Sync ops run inline on the isolate's thread; async
 * ops run on the op threads, reached over the op bus (pool/, a worker's
 * ops link: ipc/iso_link.h):
 * the runtime (isolate/) batches the requests of one event loop tick into
 * an iso_op_batch, the op threads run them with iso_op_batch_run() and
 * send the batch back, and the runtime resolves every promise of the batch
 * in one call into JavaScript.
 *
 * The ABI is bytes in, bytes out: an op gets its JavaScript arguments as
 * one msgpack array (converted by the V8 shim, docs/values.md) and writes
 * its result as one msgpack value, or fails with an error class that
 * crosses to JavaScript as Isopool.errors.<Class> (TypeError for wrong
 * arguments). No argument can crash the process: the argument readers
 * below check every type and size and fail the call with a TypeError that
 * names the op and the argument.
 *
 * What an op may touch is in its iso_op_call: the permissions of the realm
 * that called it (iso_perms) and the service-wide state (iso_ops_env: the
 * data root for isopool:fs, the kv store for isopool:kv). docs/ops.md is
 * the user-facing contract and says how to add an op.
 */
#ifndef ISO_OPS_H
#define ISO_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_perm_req.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error classes ---- */

/* X(enum suffix, JavaScript class name). The class names are the ones
 * JavaScript sees (Isopool.errors.NotFound, ...; TypeError and Error are
 * the built-in classes). A class is not an ISO_E* code: to C, every op
 * failure is ISO_EOP (iso_err.h), and its class and message travel in the
 * iso_op_call (Deno's error classes, which JavaScript code catches by
 * name). The class of an errno is one table, in fs.c. */
#define ISO_OP_ERRORS(X)                   \
  X(TYPE, "TypeError")                     \
  X(NOT_FOUND, "NotFound")                 \
  X(PERMISSION_DENIED, "PermissionDenied") \
  X(ALREADY_EXISTS, "AlreadyExists")       \
  X(INVALID_DATA, "InvalidData")           \
  X(TIMED_OUT, "TimedOut")                 \
  X(OTHER, "Error")

typedef enum iso_op_err {
  ISO_OPERR_NONE = 0,
#define ISO_OP_ERR_ENUM(e, name) ISO_OPERR_##e,
  ISO_OP_ERRORS(ISO_OP_ERR_ENUM)
#undef ISO_OP_ERR_ENUM
      ISO_OPERR_COUNT
} iso_op_err;

/* Not a class: a record whose op answers later than its batch, through a
 * ticket (iso_op_defer); the promise stays pending. */
#define ISO_OPERR_LATER ((iso_op_err)63) /* ISO_LINK_MAX_OP_ERR: it crosses */

/* iso_op_err_class: the JavaScript class name of err ("NotFound"), NULL
 * for ISO_OPERR_NONE or an unknown value. Thread: any. */
const char* iso_op_err_class(iso_op_err err);

/* ---- permissions ---- */

typedef enum iso_perm_kind {
  ISO_PERM_NONE = 0, /* the op needs no permission */
  ISO_PERM_READ,     /* files under the data root */
  ISO_PERM_WRITE,
  ISO_PERM_ENV, /* environment variables */
  ISO_PERM_NET, /* hosts fetch may reach (HOST[:PORT]) */
  ISO_PERM_KINDS
} iso_perm_kind;

/* A set of permissions, as in Deno: per kind, nothing, everything, or a
 * list of paths (relative to the data root; a path grants itself and
 * everything under it), variable names, or hosts (HOST grants every port
 * of HOST, HOST:PORT that port; IPv6 in brackets). Immutable once made, shared
 * by reference count between the realm that holds it and the op batches in
 * flight. */
typedef struct iso_perms iso_perms;

/* iso_perms_parse: constructor. Parses a permission spec for each kind:
 * NULL (not granted), "" (everything) or a comma-separated list
 * ("data,cache/x" for read/write, "HOME,LANG" for env). Returns 0 and
 * *out, or ISO_EINVAL with err naming the bad entry (an absolute path, a
 * path with ".."), or ISO_ENOMEM. Thread: any. */
int iso_perms_parse(const char* read,
                    const char* write,
                    const char* env,
                    iso_perms** out,
                    char* err,
                    size_t errlen);

/* The --allow-* flags, each as iso_perms_parse takes it: NULL, "" or a
 * list. */
typedef struct iso_perm_flags {
  const char* read;
  const char* write;
  const char* env;
  const char* net; /* "example.com,127.0.0.1:8080,[::1]:443" */
} iso_perm_flags;

/* iso_perms_parse_flags: constructor: iso_perms_parse with every kind,
 * net among them (iso_perms_parse grants no net). A net entry is HOST or
 * HOST:PORT (Deno's --allow-net): a name of letters, digits, '-', '.',
 * '_' (lowercased), an IPv4 address, or an IPv6 address in brackets; a
 * port from 1 to 65535. Returns as iso_perms_parse, with err naming a bad
 * entry ("--allow-net: entry \"http://x\" is not HOST[:PORT] ...").
 * Thread: any. */
int iso_perms_parse_flags(const iso_perm_flags* flags,
                          iso_perms** out,
                          char* err,
                          size_t errlen);

/* iso_perms_none: a shared set that grants nothing (never freed).
 * Thread: any. */
iso_perms* iso_perms_none(void);

/* iso_perms_narrow: the set a job asks for, checked against what the
 * service grants. `request` is the job's `permissions` as the request
 * decoder read it (iso_perm_req.h: per kind nothing, all, or a list of
 * paths or names); NULL, or one whose `present` is 0 (the field was not
 * sent), asks for all of `granted` (and returns a new reference to it).
 * Returns 0 and *out, or ISO_EINVAL with err naming a bad entry (an
 * absolute path, a ".." component; more than 1024 entries of one kind), or
 * ISO_EPERM with err naming the first thing asked for that `granted` does
 * not allow, or ISO_ENOMEM. The shape of the field (keys, types, counts)
 * is the decoder's to check, with its own messages. Thread: any. */
int iso_perms_narrow(const iso_perms* granted,
                     const iso_perm_req* request,
                     iso_perms** out,
                     char* err,
                     size_t errlen);

/* iso_perms_to_req: the set as data, the shape a job's `permissions`
 * are read into (iso_perm_req.h), which the pool's link writes as
 * [read, write, env, net] (ipc/iso_link.h, iso_link_put_perms): per kind
 * ISO_PERM_ASK_ALL for everything, a list of its entries (views into p,
 * valid while the caller holds p, stored in items[0 .. cap)), or
 * nothing. Returns 0, or ISO_ETOOBIG when cap is too small
 * (ISO_PERM_REQ_KINDS * 1024 always does: a set holds at most 1024
 * entries of a kind).
 * iso_perms_from_req: constructor: the set such data describes (read back
 * from the link, iso_link_get_perms): ISO_PERM_ASK_ALL is everything
 * (not narrowed: the sender narrowed it), a list is checked and made
 * canonical as iso_perms_narrow does, so the set made equals the one
 * written (iso_perms_equal) and a worker keeps one warm realm per set.
 * Returns 0 and *out, or ISO_EINVAL with err (req absent, a bad entry),
 * or ISO_ENOMEM. Thread: any. */
int iso_perms_to_req(const iso_perms* p,
                     iso_perm_req* out,
                     iso_str* items,
                     size_t cap);
int iso_perms_from_req(const iso_perm_req* req,
                       iso_perms** out,
                       char* err,
                       size_t errlen);

/* iso_perms_ref / iso_perms_unref: reference counting (atomic); unref
 * frees at zero and accepts NULL. Thread: any. */
iso_perms* iso_perms_ref(const iso_perms* p);
void iso_perms_unref(const iso_perms* p);

/* iso_perms_equal: 1 iff a and b grant the same (the pool keeps one warm
 * realm per distinct set). iso_perms_hash: a hash consistent with it.
 * Thread: any. */
int iso_perms_equal(const iso_perms* a, const iso_perms* b);
uint64_t iso_perms_hash(const iso_perms* p);

/* iso_perms_allows: 1 iff p allows `kind` at all (the registry's check
 * before an op runs). iso_perms_allows_path: 1 iff p allows kind on
 * `rel`, a normalised path relative to the data root ("" is the root
 * itself). iso_perms_allows_name: 1 iff p allows env variable `name`.
 * Thread: any. */
int iso_perms_allows(const iso_perms* p, iso_perm_kind kind);
int iso_perms_allows_path(const iso_perms* p,
                          iso_perm_kind kind,
                          const char* rel);
int iso_perms_allows_name(const iso_perms* p, const char* name);

/* iso_perms_allows_net: 1 iff p allows connecting to host:port. host is
 * a URL's host: a name (any case), an IPv4 address, an IPv6 address with
 * or without its brackets; a host that is none of these is refused (0).
 * Thread: any. */
int iso_perms_allows_net(const iso_perms* p, const char* host, int port);

/* iso_perms_describe: the set as text, "read=data write=none env=*
 * net=none", for
 * logs and errors. Returns the bytes written (snprintf's rule). Thread:
 * any. */
int iso_perms_describe(const iso_perms* p, char* out, size_t outlen);

/* ---- service-wide op state ---- */

typedef struct iso_kv iso_kv;

/* How an LMDB kv store's commits reach the disk (docs/ops.md,
 * "Durability"). Every setting keeps what a commit wrote when the process
 * dies (SIGKILL, a crash): they differ only when the machine does. */
typedef enum iso_kv_sync {
  ISO_KV_SYNC_DEFAULT = 0, /* ISO_KV_SYNC_NOMETA */
  ISO_KV_SYNC_FULL,        /* each commit flushed before it returns */
  ISO_KV_SYNC_NOMETA,      /* the data flushed, the meta page with the next
                              commit (MDB_NOMETASYNC: a machine crash may
                              undo the last commit, never corrupts) */
  ISO_KV_SYNC_NONE         /* no flush (MDB_NOSYNC: a machine crash may
                              lose recent commits or corrupt the file) */
} iso_kv_sync;

typedef struct iso_ops_env_opts {
  const char* data_root; /* --data; NULL: isopool:fs has no root and every
                            fs op fails NotFound */
  size_t kv_max_bytes;   /* the kv store's size limit; 0: 64 MiB */
  const char* kv_path;   /* --kv-path: keep the kv store in this LMDB file
                            (made when missing; one env per file at a
                            time); NULL: in memory */
  iso_kv_sync kv_sync;   /* with kv_path */
  size_t kv_map_bytes;   /* with kv_path: the LMDB map, the most the file
                            may grow to; 0: from kv_max_bytes (kv_lmdb.c).
                            Tests set it small to fill the map first. */
} iso_ops_env_opts;

typedef struct iso_ops_env iso_ops_env;

/* iso_ops_env_new: constructor: opens the data root (an O_PATH directory
 * fd every fs op resolves beneath) and makes or opens the kv store. Returns
 * 0 and *out, or an error with a sentence in err: ISO_ENOENT/ISO_EINVAL
 * (data root missing or not a directory; kv_path's directory missing, or
 * the file not a kv store), ISO_EBUSY (kv_path is open in another env, in
 * this process or another), ISO_EIO, ISO_ENOMEM. Thread: any. */
int iso_ops_env_new(const iso_ops_env_opts* opts,
                    iso_ops_env** out,
                    char* err,
                    size_t errlen);

/* iso_ops_env_free: destructor; no op may be running. Accepts NULL. */
void iso_ops_env_free(iso_ops_env* env);

/* iso_ops_env_set_net: fetch's ops hand their transfers to net (ops/
 * iso_net.h; NULL: none, and fetch fails unless the permission check
 * fails first). Set before any op runs; net must outlive the ops.
 * Thread: any, before the ops start. */
struct iso_net;
void iso_ops_env_set_net(iso_ops_env* env, struct iso_net* net);

/* ---- the ABI ---- */

#define ISO_OP_MAX_ARGS 8

/* Where an answer later than its batch goes: the transport's function
 * (the pool: an OP_RESULT on the worker's ops link; in process: the
 * runtime's mailbox), called once per ticket, from the thread that
 * answers it. */
typedef void (*iso_op_late_fn)(void* arg,
                               uint64_t route,
                               uint32_t promise,
                               uint32_t realm,
                               uint32_t tag,
                               iso_op_err err,
                               const void* res,
                               size_t len);

/* Keeps what late_fn's argument points to alive while a ticket may still
 * call it: +1 as a call defers, -1 once its ticket is answered (NULL: the
 * argument outlives every ticket by itself, as the pool does). */
typedef void (*iso_op_late_hold_fn)(void* arg, int delta);

/* A deferred call's answer, owed exactly once (iso_op_ticket_answer). */
typedef struct iso_op_ticket iso_op_ticket;

/* One call of an op. The caller (the shim for sync ops, iso_op_batch_run
 * for async ones) fills the inputs; the op writes `out` or fails. */
typedef struct iso_op_call {
  const struct iso_op_def* def;
  const iso_perms* perms; /* the calling realm's permissions */
  iso_ops_env* env;       /* service-wide state */
  int argc;               /* the arguments, split: each a msgpack value */
  const uint8_t* argv[ISO_OP_MAX_ARGS];
  size_t argl[ISO_OP_MAX_ARGS];
  iso_buf* out;   /* the result: one msgpack value; left empty: undefined */
  iso_op_err err; /* set by iso_op_fail */
  char msg[512];  /* the error's message */
  /* an async call's record and its transport's late answer (NULL: this
   * call cannot defer: a sync op, a batch without one) */
  iso_op_late_fn late_fn;
  iso_op_late_hold_fn late_hold;
  void* late_arg;
  uint64_t route;
  uint32_t promise, realm, tag;
  iso_op_ticket* ticket; /* set by iso_op_defer */
} iso_op_call;

/* iso_op_defer: the call answers later: its record goes back with its
 * batch as ISO_OPERR_LATER (its promise stays pending) and *out is the
 * ticket that answers it, once, from any thread. Returns 0, or ISO_EOP
 * (Error: the call cannot defer, or out of memory). Thread: the op's. */
int iso_op_defer(iso_op_call* call, iso_op_ticket** out);

/* iso_op_ticket_answer: the deferred call's answer (err NONE: res is the
 * msgpack value; else the error's message) goes to its transport; frees
 * the ticket. Thread: any. */
void iso_op_ticket_answer(iso_op_ticket* t,
                          iso_op_err err,
                          const void* res,
                          size_t len);

/* iso_op_ticket_owner / _tag: the route and the (realm << 32 | tag) of the
 * call, for resources a deferred op keeps (fetch's transfers). */
uint64_t iso_op_ticket_owner(const iso_op_ticket* t);
uint64_t iso_op_ticket_job(const iso_op_ticket* t);

/* An op's function: returns 0 with the result in call->out, or ISO_EOP
 * after iso_op_fail() (any other non-zero value counts as a failure
 * without a class: Error). */
typedef int (*iso_op_fn)(iso_op_call* call);

typedef enum iso_op_kind { ISO_OP_SYNC = 0, ISO_OP_ASYNC } iso_op_kind;

typedef struct iso_op_def {
  const char* name; /* "op_fs_read_file": Isopool.core.ops.<name> */
  iso_op_kind kind;
  iso_perm_kind perm; /* checked (iso_perms_allows) before fn runs */
  iso_op_fn fn;
} iso_op_def;

/* A registry: a table of ops. The built-in one is iso_ops_builtin();
 * embedders and tests may pass their own to the runtime. */
typedef struct iso_op_table {
  const iso_op_def* defs;
  size_t n;
} iso_op_table;

/* iso_ops_builtin: the built-in registry (static). Thread: any. */
const iso_op_table* iso_ops_builtin(void);

/* iso_op_fail: fail the call with class `err` and a printf-style message.
 * Returns ISO_EOP, for `return iso_op_fail(...)`. Thread: the op's. */
int iso_op_fail(iso_op_call* call, iso_op_err err, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* iso_op_invoke: run one call: split `args` (a msgpack array of at most
 * ISO_OP_MAX_ARGS values) into call->argv, check the def's permission
 * kind, run the function. Returns 0, or ISO_EOP with call->err and
 * call->msg set. A function that fails without a class becomes ISO_OPERR_OTHER.
 * Thread: any (a sync op: the isolate's; an async op: an op thread). */
int iso_op_invoke(iso_op_call* call, const uint8_t* args, size_t args_len);

/* Argument readers. Each returns 0, or ISO_EOP after failing the call with a
 * TypeError such as "op_fs_read_file: argument 1 (path) must be a
 * string". `what` names the argument in that message. Strings are
 * checked to be UTF-8 without NUL bytes and are copied NUL-terminated
 * into `buf` (at most buflen - 1 bytes, else TypeError "too long"). */
int iso_op_arg_str(iso_op_call* call,
                   int i,
                   const char* what,
                   char* buf,
                   size_t buflen);
/* A Uint8Array/ArrayBuffer argument (msgpack bin): a view into the args,
 * valid for the call. */
int iso_op_arg_bytes(iso_op_call* call,
                     int i,
                     const char* what,
                     const uint8_t** p,
                     size_t* len);
/* Any value, as its msgpack bytes (a view into the args). A missing
 * argument is TypeError. */
int iso_op_arg_value(iso_op_call* call,
                     int i,
                     const char* what,
                     const uint8_t** mp,
                     size_t* len);
/* A number that is an integer in [min, max]; a missing or undefined/null
 * argument gives `dflt`. */
int iso_op_arg_int(iso_op_call* call,
                   int i,
                   const char* what,
                   int64_t min,
                   int64_t max,
                   int64_t dflt,
                   int64_t* out);
/* A boolean; missing, undefined or null gives dflt. */
int iso_op_arg_bool(iso_op_call* call,
                    int i,
                    const char* what,
                    int dflt,
                    int* out);

/* Result writers (msgpack into call->out; an allocation failure fails the
 * call with Error "out of memory"). Each returns 0 or ISO_EOP. Containers are
 * written as a header with their element count followed by the elements. */
int iso_op_ret_nil(iso_op_call* call);
int iso_op_ret_bool(iso_op_call* call, int b);
int iso_op_ret_int(iso_op_call* call, int64_t v);
int iso_op_ret_double(iso_op_call* call, double v);
int iso_op_ret_str(iso_op_call* call, const char* s, size_t len);
int iso_op_ret_bin(iso_op_call* call, const void* p, size_t len);
int iso_op_ret_raw(iso_op_call* call, const void* mp, size_t len);
int iso_op_ret_array(iso_op_call* call, uint32_t n);
int iso_op_ret_map(iso_op_call* call, uint32_t n);

/* ---- async batches: what the op bus carries ---- */

/* A budget for results: the bytes op threads have written for a runtime
 * (a batch's budget) or for one caller, a realm (a record's budget), that
 * the runtime has not taken yet (iso_op_batch_reset). Without it, a
 * runtime busy in JavaScript while op threads work through its queued
 * batches of large reads would gather their results without bound; with a
 * caller's own, one job's large reads leave room for the ops of the other
 * jobs on its runtime. Reference counted (atomically): the owner holds one
 * reference and each batch or record that uses it another, so one that
 * outlives its owner keeps it valid. */
typedef struct iso_op_budget iso_op_budget;

/* iso_op_budget_new: constructor (nothing used, one reference). Returns
 * NULL when out of memory. iso_op_budget_ref/unref: reference counting;
 * unref frees at zero and accepts NULL. iso_op_budget_used: the bytes
 * charged now. Thread: any. */
iso_op_budget* iso_op_budget_new(void);
iso_op_budget* iso_op_budget_ref(iso_op_budget* budget);
void iso_op_budget_unref(iso_op_budget* budget);
size_t iso_op_budget_used(const iso_op_budget* budget);

/* One async op request and, once run, its response. */
typedef struct iso_op_rec {
  uint32_t op;      /* index in the batch's table */
  uint32_t promise; /* the JavaScript promise id */
  uint32_t realm;   /* the runtime's id of the calling realm */
  uint32_t tag;     /* the runtime's tag of the calling job (0: none) */
  uint32_t args_off, args_len; /* in batch->args: a msgpack array */
  /* the realm's permissions: the set (one reference per record), or only
   * its perm_id (perms NULL) for a transport that resolves it before the
   * batch runs (the pool: from the sets it sent that worker) */
  const iso_perms* perms;
  uint32_t perm_id;
  iso_op_budget* budget; /* the realm's results budget, or NULL; one
                            reference per record */
  /* response */
  iso_op_err err;            /* ISO_OPERR_NONE: res is the value */
  uint32_t res_off, res_len; /* in batch->res: msgpack, or the message */
} iso_op_rec;

/* The requests of one tick of one runtime. Made and read on the runtime's
 * thread; in between it belongs to the op thread that runs it. */
typedef struct iso_op_batch {
  const iso_op_table* table;
  iso_ops_env* env;
  void* owner;    /* the runtime that sent it (iso_rt) */
  uint64_t route; /* the transport's token: where the responses go (the
                     pool: its worker's), not a pointer */
  iso_op_rec* recs;
  size_t n, cap;
  iso_buf args;
  iso_buf res;
  iso_op_budget* budget;  /* shared with the runtime's other batches, or
                             NULL (iso_op_batch_set_budget) */
  size_t charged;         /* what res has charged to budget */
  iso_op_late_fn late_fn; /* the transport's: ops may defer (NULL: not) */
  iso_op_late_hold_fn late_hold;
  void* late_arg;
} iso_op_batch;

/* iso_op_batch_new: constructor (empty). Returns NULL when out of memory.
 * iso_op_batch_free: destructor; drops the records' perms references.
 * Accepts NULL. Thread: any. */
iso_op_batch* iso_op_batch_new(const iso_op_table* table, iso_ops_env* env);
void iso_op_batch_free(iso_op_batch* b);

/* iso_op_batch_set_budget: charge the batch's results to `budget` from
 * now on (a new reference is taken; NULL: none). Thread: the runtime's,
 * while it holds the batch. */
void iso_op_batch_set_budget(iso_op_batch* b, iso_op_budget* budget);

/* iso_op_batch_reset: empty the batch for reuse, dropping the records'
 * perms references and giving its results' charge back to its budget. It keeps
 * its memory up to ISO_OP_BATCH_KEEP_BYTES per buffer and
 * ISO_OP_BATCH_KEEP_RECS records, and frees what is beyond, so a batch kept for
 * reuse does not keep one tick's huge arguments or results for ever. Thread:
 * any. */
#define ISO_OP_BATCH_KEEP_BYTES ((size_t)1 << 20)
#define ISO_OP_BATCH_KEEP_RECS 4096
void iso_op_batch_reset(iso_op_batch* b);

/* Who asks for an op: the runtime's ids of the realm and of the job
 * whose JavaScript called it (0: none), the realm's permissions (the set,
 * or NULL and its perm_id) and its results budget (NULL: none). */
typedef struct iso_op_caller {
  uint32_t realm;
  uint32_t tag;
  const iso_perms* perms;
  uint32_t perm_id;
  iso_op_budget* budget;
} iso_op_caller;

/* iso_op_batch_add: append a request from `caller` whose arguments are the
 * msgpack array args (copied), taking a reference to caller->perms.
 * Returns 0 or ISO_ENOMEM. Thread: the runtime's. */
int iso_op_batch_add(iso_op_batch* b,
                     uint32_t op,
                     uint32_t promise,
                     const iso_op_caller* caller,
                     const uint8_t* args,
                     size_t args_len);

/* The results one batch may hold, or all the batches that share a budget:
 * once they pass this, the next ops fail without running (Error "...
 * await some first"), so ticks of many large reads cannot take memory
 * without bound (one op's own result may still take it past, by at most
 * what that op returns, 256 MiB for readFile, per op thread). */
#define ISO_OP_BATCH_RES_MAX ((size_t)512 << 20)
/* The same for the results of one caller's ops (a record's budget): half,
 * so one job cannot take all of its runtime's room. */
#define ISO_OP_CALLER_RES_MAX ((size_t)256 << 20)

/* iso_op_batch_over_budget: 1, with the message an op gets for it (Error
 * class), when record i must fail without running: the results its realm
 * (the record's budget) or its runtime (the batch's budget, or this
 * batch's results without one) hold have passed ISO_OP_CALLER_RES_MAX or
 * ISO_OP_BATCH_RES_MAX; else 0. iso_op_batch_run checks it before each
 * record; a transport that runs the batch elsewhere, without the budgets
 * (the pool: on the front), checks it as it sends. Thread: the one
 * holding the batch. */
int iso_op_batch_over_budget(const iso_op_batch* b,
                             size_t i,
                             char* msg,
                             size_t msglen);

/* iso_op_batch_respond: writes record i's response as iso_op_batch_run
 * would: `len` bytes of res (the value, or the error's message), err,
 * charged to the budgets; for a transport that ran the record elsewhere
 * and got its response back (the pool's worker, from the front's op
 * threads). Returns 0, or ISO_ETOOBIG / ISO_ENOMEM when the bytes did not
 * fit (the record then fails with its class alone, or Error). Thread:
 * the one holding the batch. */
int iso_op_batch_respond(iso_op_batch* b,
                         size_t i,
                         iso_op_err err,
                         const void* res,
                         size_t len);

/* iso_op_batch_run: run every record in order and write its response.
 * Never fails as a whole: an op's failure is its record's err.
 * Thread: an op thread (any thread but the runtime's, which keeps running
 * JavaScript meanwhile). */
void iso_op_batch_run(iso_op_batch* b);

#ifdef __cplusplus
}
#endif

#endif /* ISO_OPS_H */
