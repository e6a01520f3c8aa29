/* registry.c: the built-in op table, iso_op_invoke, the argument readers,
 * the result writers and the async batches (iso_ops.h).
 *
 * An op is a row of `builtin[]` below; its function reads its arguments
 * with the readers here, which turn every wrong type into a TypeError that
 * names the op and the argument, and writes its result with the writers.
 * The small ops (core, env) live here too; fs, kv and crypto have a file
 * each.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "iso_utf8.h"
#include "ops_private.h"

#define MAX_ARG_DEPTH 128

/* ---- error classes ---- */

static const char* const kErrClass[ISO_OPERR_COUNT] = {
#define ISO_OP_ERR_ROW(e, name) [ISO_OPERR_##e] = name,
    ISO_OP_ERRORS(ISO_OP_ERR_ROW)
#undef ISO_OP_ERR_ROW
};

const char* iso_op_err_class(iso_op_err err) {
  return (unsigned)err < ISO_OPERR_COUNT ? kErrClass[err] : NULL;
}

/* The class of an errno: the one table (an errno not in it is Error). */
static const iso_op_err kErrnoClass[] = {
    [ENOENT] = ISO_OPERR_NOT_FOUND,
    [ENOTDIR] = ISO_OPERR_NOT_FOUND,
    [EEXIST] = ISO_OPERR_ALREADY_EXISTS,
    [EACCES] = ISO_OPERR_PERMISSION_DENIED,
    [EPERM] = ISO_OPERR_PERMISSION_DENIED,
    [ENXIO] = ISO_OPERR_INVALID_DATA, /* a FIFO without a reader, a socket */
};

iso_op_err iso__ops_err_of_errno(int e) {
  size_t n = sizeof kErrnoClass / sizeof kErrnoClass[0];
  return e > 0 && (size_t)e < n && kErrnoClass[e] != ISO_OPERR_NONE
             ? kErrnoClass[e]
             : ISO_OPERR_OTHER;
}

int iso_op_fail(iso_op_call* call, iso_op_err err, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(call->msg, sizeof call->msg, fmt, ap);
  va_end(ap);
  call->err = err;
  return ISO_EOP;
}

/* ---- paths ---- */

int iso__ops_path_norm(const char* in,
                       int strict,
                       char* out,
                       size_t cap,
                       const char** why) {
  static const char kTooLong[] = "is too long";
  if (in[0] == '/') {
    *why = "is an absolute path (paths are relative to the data root)";
    return ISO_EPERM;
  }
  size_t len = 0;
  const char* p = in;
  while (*p != '\0') {
    const char* slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    const char* next = slash ? slash + 1 : p + n;
    if (n == 0 && strict) {
      *why = "has an empty component";
      return ISO_EINVAL;
    }
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (strict || len == 0) {
        *why = strict ? "has a \"..\" component" : "climbs above the data root";
        return ISO_EPERM;
      }
      while (len > 0 && out[len - 1] != '/') {
        len--;
      }
      len = len > 0 ? len - 1 : 0;
    } else if (n > 0 && !(n == 1 && p[0] == '.')) {
      if (len + (len > 0) + n + 1 > cap) {
        *why = kTooLong;
        return ISO_ETOOBIG;
      }
      if (len > 0) {
        out[len++] = '/';
      }
      memcpy(out + len, p, n);
      len += n;
    }
    p = next;
  }
  if (cap == 0) {
    *why = kTooLong;
    return ISO_ETOOBIG;
  }
  out[len] = '\0';
  return 0;
}

const char* iso__ops_strerror(int e, char* buf, size_t len) {
  const char* s = strerror_r(e, buf, len); /* the GNU one: may return buf */
  if (s != buf) {
    snprintf(buf, len, "%s", s);
  }
  if (len > 0) {
    buf[0] = (char)tolower((unsigned char)buf[0]);
  }
  return buf;
}

/* ---- invoke ---- */

static const char* perm_flag(iso_perm_kind kind) {
  switch (kind) {
    case ISO_PERM_READ:
      return "--allow-read";
    case ISO_PERM_WRITE:
      return "--allow-write";
    case ISO_PERM_ENV:
      return "--allow-env";
    case ISO_PERM_NET:
      return "--allow-net";
    default:
      return "a permission";
  }
}

static int malformed(iso_op_call* call, int rc) {
  return iso_op_fail(call, ISO_OPERR_TYPE, "%s: malformed arguments (%s)",
                     call->def->name, iso_mp_strerror(rc));
}

static int split_args(iso_op_call* call, const uint8_t* args, size_t len) {
  static const uint8_t none[1];
  const char* name = call->def->name;
  iso_mp_rd r;
  iso_mp_obj o;
  /* no bytes may come as NULL, and the reader would compute NULL + 0 */
  iso_mp_rd_init(&r, args != NULL ? args : none, args != NULL ? len : 0);
  int rc = iso_mp_read(&r, &o);
  if (rc != 0) {
    return malformed(call, rc);
  }
  if (o.type != ISO_MP_ARRAY) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: the arguments must be a msgpack array", name);
  }
  if (o.len > ISO_OP_MAX_ARGS) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: at most %d arguments (got %u)", name,
                       ISO_OP_MAX_ARGS, o.len);
  }
  for (uint32_t i = 0; i < o.len; i++) {
    int too_deep = 0; /* depth is the shim's business: values are opaque */
    call->argv[i] = r.p;
    rc = iso_mp_skip(&r, 1, MAX_ARG_DEPTH, &too_deep);
    if (rc != 0) {
      return malformed(call, rc);
    }
    call->argl[i] = (size_t)(r.p - call->argv[i]);
  }
  if (r.p != r.end) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: trailing bytes after the arguments", name);
  }
  call->argc = (int)o.len;
  return 0;
}

int iso_op_invoke(iso_op_call* call, const uint8_t* args, size_t args_len) {
  const iso_op_def* def = call->def;
  size_t out_len = call->out->len;
  call->err = ISO_OPERR_NONE;
  call->msg[0] = '\0';
  call->argc = 0;
  if (split_args(call, args, args_len) != 0) {
    return ISO_EOP;
  }
  if (def->perm != ISO_PERM_NONE && !iso_perms_allows(call->perms, def->perm)) {
    /* the service's flag, or the job's own `permissions` left it out */
    return iso_op_fail(call, ISO_OPERR_PERMISSION_DENIED,
                       "%s: requires %s (not granted to this job)", def->name,
                       perm_flag(def->perm));
  }
  if (def->fn(call) == 0) {
    return 0;
  }
  call->out->len = out_len; /* drop a partial result */
  if (call->err == ISO_OPERR_NONE) {
    call->err = ISO_OPERR_OTHER;
    if (call->msg[0] == '\0') {
      snprintf(call->msg, sizeof call->msg, "%s failed", def->name);
    }
  }
  return ISO_EOP;
}

/* ---- answers later than the batch ---- */

struct iso_op_ticket {
  iso_op_late_fn fn;
  iso_op_late_hold_fn hold;
  void* arg;
  uint64_t route;
  uint32_t promise, realm, tag;
};

int iso_op_defer(iso_op_call* call, iso_op_ticket** out) {
  if (call->late_fn == NULL) {
    return iso_op_fail(call, ISO_OPERR_OTHER,
                       "%s: this op answers later, which the op bus here "
                       "does not carry",
                       call->def != NULL ? call->def->name : "op");
  }
  iso_op_ticket* t = calloc(1, sizeof *t);
  if (t == NULL) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "out of memory");
  }
  *t = (iso_op_ticket){.fn = call->late_fn,
                       .hold = call->late_hold,
                       .arg = call->late_arg,
                       .route = call->route,
                       .promise = call->promise,
                       .realm = call->realm,
                       .tag = call->tag};
  if (t->hold != NULL) {
    t->hold(t->arg, +1);
  }
  call->ticket = t;
  *out = t;
  return 0;
}

void iso_op_ticket_answer(iso_op_ticket* t,
                          iso_op_err err,
                          const void* res,
                          size_t len) {
  t->fn(t->arg, t->route, t->promise, t->realm, t->tag, err, res, len);
  if (t->hold != NULL) {
    t->hold(t->arg, -1);
  }
  free(t);
}

uint64_t iso_op_ticket_owner(const iso_op_ticket* t) {
  return t->route;
}

uint64_t iso_op_ticket_job(const iso_op_ticket* t) {
  return (uint64_t)t->realm << 32 | t->tag;
}

/* ---- argument readers ---- */

int iso__ops_arg_present(const iso_op_call* call, int i) {
  return i < call->argc && !(call->argl[i] == 1 && call->argv[i][0] == 0xc0);
}

/* Reads argument i's header; 0 when present, 1 when missing. */
static int arg_obj(const iso_op_call* call, int i, iso_mp_obj* o) {
  if (i < 0 || i >= call->argc) {
    return 1;
  }
  iso_mp_rd r;
  iso_mp_rd_init(&r, call->argv[i], call->argl[i]);
  return iso_mp_read(&r, o) == 0 ? 0 : 1;
}

static int arg_fail(iso_op_call* call,
                    int i,
                    const char* what,
                    const char* must) {
  return iso_op_fail(call, ISO_OPERR_TYPE, "%s: argument %d (%s) %s",
                     call->def->name, i + 1, what, must);
}

int iso_op_arg_str(iso_op_call* call,
                   int i,
                   const char* what,
                   char* buf,
                   size_t buflen) {
  iso_mp_obj o;
  if (arg_obj(call, i, &o) != 0 || o.type != ISO_MP_STR) {
    return arg_fail(call, i, what, "must be a string");
  }
  if (memchr(o.data, 0, o.len) != NULL || !iso_utf8_valid(o.data, o.len)) {
    return arg_fail(call, i, what, "must be valid UTF-8 without NUL bytes");
  }
  if ((size_t)o.len >= buflen) {
    char must[64];
    snprintf(must, sizeof must, "is too long (at most %zu bytes)",
             buflen > 0 ? buflen - 1 : 0);
    return arg_fail(call, i, what, must);
  }
  memcpy(buf, o.data, o.len);
  buf[o.len] = '\0';
  return 0;
}

int iso_op_arg_bytes(iso_op_call* call,
                     int i,
                     const char* what,
                     const uint8_t** p,
                     size_t* len) {
  iso_mp_obj o;
  if (arg_obj(call, i, &o) != 0 || o.type != ISO_MP_BIN) {
    return arg_fail(call, i, what, "must be a Uint8Array or ArrayBuffer");
  }
  *p = o.data;
  *len = o.len;
  return 0;
}

int iso_op_arg_value(iso_op_call* call,
                     int i,
                     const char* what,
                     const uint8_t** mp,
                     size_t* len) {
  if (i < 0 || i >= call->argc) {
    return arg_fail(call, i, what, "is missing");
  }
  *mp = call->argv[i];
  *len = call->argl[i];
  return 0;
}

/* A whole double in the int64 range, converted; else ISO_ETYPE. */
static int whole(double f, int64_t* out) {
  if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0) ||
      f != trunc(f)) {
    return ISO_ETYPE;
  }
  *out = (int64_t)f;
  return 0;
}

int iso_op_arg_int(iso_op_call* call,
                   int i,
                   const char* what,
                   int64_t min,
                   int64_t max,
                   int64_t dflt,
                   int64_t* out) {
  iso_mp_obj o;
  if (!iso__ops_arg_present(call, i)) {
    *out = dflt;
    return 0;
  }
  int ok = arg_obj(call, i, &o) == 0;
  int64_t v = 0;
  if (ok && o.type == ISO_MP_UINT) {
    ok = o.v.u <= (uint64_t)INT64_MAX;
    v = (int64_t)o.v.u;
  } else if (ok && o.type == ISO_MP_INT) {
    v = o.v.i;
  } else if (ok && (o.type == ISO_MP_F32 || o.type == ISO_MP_F64)) {
    ok = whole(o.v.f, &v) == 0;
  } else {
    ok = 0;
  }
  if (!ok || v < min || v > max) {
    char must[96];
    snprintf(must, sizeof must, "must be an integer in [%lld, %lld]",
             (long long)min, (long long)max);
    return arg_fail(call, i, what, must);
  }
  *out = v;
  return 0;
}

int iso_op_arg_bool(iso_op_call* call,
                    int i,
                    const char* what,
                    int dflt,
                    int* out) {
  iso_mp_obj o;
  if (!iso__ops_arg_present(call, i)) {
    *out = dflt;
    return 0;
  }
  if (arg_obj(call, i, &o) != 0 || o.type != ISO_MP_BOOL) {
    return arg_fail(call, i, what, "must be a boolean");
  }
  *out = o.v.b;
  return 0;
}

/* ---- result writers ---- */

static int ret_done(iso_op_call* call, const iso_mp_wr* w) {
  if (w->err == 0) {
    return 0;
  }
  return iso_op_fail(
      call, ISO_OPERR_OTHER, "%s: %s", call->def->name,
      w->err == ISO_ETOOBIG ? "the result is too large" : "out of memory");
}

#define RET_WITH(call, stmt)          \
  do {                                \
    iso_mp_wr w_;                     \
    iso_mp_wr_init(&w_, (call)->out); \
    stmt;                             \
    return ret_done((call), &w_);     \
  } while (0)

int iso_op_ret_nil(iso_op_call* call) {
  RET_WITH(call, iso_mp_put_nil(&w_));
}

int iso_op_ret_bool(iso_op_call* call, int b) {
  RET_WITH(call, iso_mp_put_bool(&w_, b));
}

int iso_op_ret_int(iso_op_call* call, int64_t v) {
  RET_WITH(call, iso_mp_put_int(&w_, v));
}

int iso_op_ret_double(iso_op_call* call, double v) {
  RET_WITH(call, iso_mp_put_double(&w_, v));
}

int iso_op_ret_str(iso_op_call* call, const char* s, size_t len) {
  RET_WITH(call, iso_mp_put_str(&w_, s, len));
}

int iso_op_ret_bin(iso_op_call* call, const void* p, size_t len) {
  RET_WITH(call, iso_mp_put_bin(&w_, p, len));
}

int iso_op_ret_raw(iso_op_call* call, const void* mp, size_t len) {
  RET_WITH(call, iso_mp_put_raw(&w_, mp, len));
}

int iso_op_ret_array(iso_op_call* call, uint32_t n) {
  RET_WITH(call, iso_mp_put_array(&w_, n));
}

int iso_op_ret_map(iso_op_call* call, uint32_t n) {
  RET_WITH(call, iso_mp_put_map(&w_, n));
}

/* ---- core and env ops ---- */

static int op_noop(iso_op_call* call) {
  return 0;
}

static int op_echo_async(iso_op_call* call) {
  const uint8_t* v;
  size_t len;
  if (iso_op_arg_value(call, 0, "value", &v, &len) != 0) {
    return ISO_EOP;
  }
  return iso_op_ret_raw(call, v, len);
}

/* op_echo_later: op_echo_async answered through a ticket (iso_op_defer),
 * at once: the late answer races the batch's own, the transports' case
 * to get right. */
static int op_echo_later(iso_op_call* call) {
  const uint8_t* v;
  size_t len;
  iso_op_ticket* t = NULL;
  if (iso_op_arg_value(call, 0, "value", &v, &len) != 0 ||
      iso_op_defer(call, &t) != 0) {
    return ISO_EOP;
  }
  iso_op_ticket_answer(t, ISO_OPERR_NONE, v, len);
  return 0;
}

static int op_env_get(iso_op_call* call) {
  char name[1024];
  if (iso_op_arg_str(call, 0, "name", name, sizeof name) != 0) {
    return ISO_EOP;
  }
  if (name[0] == '\0' || strchr(name, '=') != NULL) {
    return arg_fail(call, 0, "name",
                    "must be a variable name (not empty, without '=')");
  }
  if (!iso_perms_allows_name(call->perms, name)) {
    return iso_op_fail(call, ISO_OPERR_PERMISSION_DENIED,
                       "env \"%.200s\": requires --allow-env=%.200s", name,
                       name);
  }
  const char* v = getenv(name);
  if (v == NULL) {
    return 0;
  }
  /* the operator's environment, but a JavaScript string must be text */
  if (!iso_utf8_valid((const uint8_t*)v, strlen(v))) {
    return iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                       "env \"%.200s\": the value is not valid UTF-8", name);
  }
  return iso_op_ret_str(call, v, strlen(v));
}

/* op_test_block: holds the calling thread for `ms` milliseconds in C,
 * where no stop reaches it: what a builtin that ignores termination, or a
 * wedged native, does to a worker. A fault for the service tests only: it
 * refuses unless the process started with ISOPOOL_TEST_FAULTS=1 in its
 * environment. */
static int op_test_block(iso_op_call* call) {
  const char* on = getenv("ISOPOOL_TEST_FAULTS");
  if (on == NULL || strcmp(on, "1") != 0) {
    return iso_op_fail(call, ISO_OPERR_PERMISSION_DENIED,
                       "op_test_block: a test fault, off in this process");
  }
  int64_t ms;
  if (iso_op_arg_int(call, 0, "ms", 0, 60000, 0, &ms) != 0) {
    return ISO_EOP;
  }
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  return 0;
}

/* op_test_crash: ends the calling process as a crash would: SIGSEGV
 * from a write through a null pointer (the signal's default action: the
 * process dies, no handler of ours runs). What a bug in native code or a
 * V8 fatal error does to a pool process, for the containment suite
 * (tests/test_service_contain.c). A fault for the service tests only: it
 * refuses unless the process started with ISOPOOL_TEST_FAULTS=1 in its
 * environment. */
static int op_test_crash(iso_op_call* call) {
  const char* on = getenv("ISOPOOL_TEST_FAULTS");
  if (on == NULL || strcmp(on, "1") != 0) {
    return iso_op_fail(call, ISO_OPERR_PERMISSION_DENIED,
                       "op_test_crash: a test fault, off in this process");
  }
  signal(SIGSEGV, SIG_DFL);
  volatile int* volatile nowhere = NULL;
  *nowhere = 1;
  return 0;
}

/* ---- the table ---- */

#define OP(n, k, p, f) \
  { .name = n, .kind = k, .perm = p, .fn = f }

static const iso_op_def builtin[] = {
    OP("op_noop", ISO_OP_SYNC, ISO_PERM_NONE, op_noop),
    OP("op_noop_async", ISO_OP_ASYNC, ISO_PERM_NONE, op_noop),
    OP("op_echo_async", ISO_OP_ASYNC, ISO_PERM_NONE, op_echo_async),
    OP("op_echo_later", ISO_OP_ASYNC, ISO_PERM_NONE, op_echo_later),
    OP("op_fetch_start", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_fetch_start),
    OP("op_fetch_send", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_fetch_send),
    OP("op_fetch_read", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_fetch_read),
    OP("op_fetch_cancel", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_fetch_cancel),
    OP("op_fetch_release", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_fetch_release),
    OP("op_env_get", ISO_OP_SYNC, ISO_PERM_ENV, op_env_get),
    OP("op_fs_read_file", ISO_OP_ASYNC, ISO_PERM_READ, iso__op_fs_read_file),
    OP("op_fs_write_file", ISO_OP_ASYNC, ISO_PERM_WRITE, iso__op_fs_write_file),
    OP("op_fs_read_dir", ISO_OP_ASYNC, ISO_PERM_READ, iso__op_fs_read_dir),
    OP("op_fs_stat", ISO_OP_ASYNC, ISO_PERM_READ, iso__op_fs_stat),
    OP("op_fs_mkdir", ISO_OP_ASYNC, ISO_PERM_WRITE, iso__op_fs_mkdir),
    OP("op_fs_remove", ISO_OP_ASYNC, ISO_PERM_WRITE, iso__op_fs_remove),
    OP("op_fs_rename", ISO_OP_ASYNC, ISO_PERM_WRITE, iso__op_fs_rename),
    OP("op_kv_get", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_kv_get),
    OP("op_kv_set", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_kv_set),
    OP("op_kv_delete", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_kv_delete),
    OP("op_kv_list", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_kv_list),
    OP("op_kv_increment", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_kv_increment),
    OP("op_crypto_random", ISO_OP_SYNC, ISO_PERM_NONE, iso__op_crypto_random),
    OP("op_crypto_random_uuid",
       ISO_OP_SYNC,
       ISO_PERM_NONE,
       iso__op_crypto_random_uuid),
    OP("op_crypto_digest", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_crypto_digest),
    OP("op_crypto_hmac", ISO_OP_ASYNC, ISO_PERM_NONE, iso__op_crypto_hmac),
    OP("op_crypto_hmac_verify",
       ISO_OP_ASYNC,
       ISO_PERM_NONE,
       iso__op_crypto_hmac_verify),
    OP("op_crypto_aes_gcm",
       ISO_OP_ASYNC,
       ISO_PERM_NONE,
       iso__op_crypto_aes_gcm),
    OP("op_crypto_ec_point",
       ISO_OP_ASYNC,
       ISO_PERM_NONE,
       iso__op_crypto_ec_point),
    OP("op_crypto_ecdsa_verify",
       ISO_OP_ASYNC,
       ISO_PERM_NONE,
       iso__op_crypto_ecdsa_verify),
    OP("op_crypto_ed25519_verify",
       ISO_OP_ASYNC,
       ISO_PERM_NONE,
       iso__op_crypto_ed25519_verify),
    OP("op_test_block", ISO_OP_SYNC, ISO_PERM_NONE, op_test_block),
    OP("op_test_crash", ISO_OP_SYNC, ISO_PERM_NONE, op_test_crash),
};

static const iso_op_table builtin_table = {
    .defs = builtin,
    .n = sizeof builtin / sizeof builtin[0],
};

const iso_op_table* iso_ops_builtin(void) {
  return &builtin_table;
}

/* ---- result budgets ---- */

struct iso_op_budget {
  atomic_int refs;
  atomic_size_t used;
};

iso_op_budget* iso_op_budget_new(void) {
  iso_op_budget* g = calloc(1, sizeof *g);
  if (g != NULL) {
    atomic_init(&g->refs, 1);
    atomic_init(&g->used, 0);
  }
  return g;
}

iso_op_budget* iso_op_budget_ref(iso_op_budget* g) {
  if (g != NULL) {
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
  }
  return g;
}

void iso_op_budget_unref(iso_op_budget* g) {
  if (g != NULL &&
      atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) {
    free(g);
  }
}

size_t iso_op_budget_used(const iso_op_budget* g) {
  return g != NULL ? atomic_load((atomic_size_t*)&g->used) : 0;
}

/* Gives back what the batch's results charged to its own budget. */
static void batch_charge_release(iso_op_batch* b) {
  if (b->budget != NULL && b->charged > 0) {
    atomic_fetch_sub(&b->budget->used, b->charged);
  }
  b->charged = 0;
}

/* ... and to its records' (each record charged its res_len; 0 before it
 * ran), whose responses are then gone. */
static void budget_release(iso_op_batch* b) {
  batch_charge_release(b);
  for (size_t i = 0; i < b->n; i++) {
    iso_op_rec* r = &b->recs[i];
    if (r->budget != NULL && r->res_len > 0) {
      atomic_fetch_sub(&r->budget->used, (size_t)r->res_len);
    }
    r->res_len = 0;
  }
}

/* ---- batches ---- */

iso_op_batch* iso_op_batch_new(const iso_op_table* table, iso_ops_env* env) {
  iso_op_batch* b = calloc(1, sizeof *b);
  if (b == NULL) {
    return NULL;
  }
  b->table = table;
  b->env = env;
  iso_buf_init(&b->args);
  iso_buf_init(&b->res);
  return b;
}

/* Empties buf, keeping its memory only when that is small. */
static void buf_trim(iso_buf* buf) {
  if (buf->cap > ISO_OP_BATCH_KEEP_BYTES) {
    iso_buf_close(buf);
  } else {
    iso_buf_reset(buf);
  }
}

void iso_op_batch_set_budget(iso_op_batch* b, iso_op_budget* budget) {
  batch_charge_release(b);
  iso_op_budget* old = b->budget;
  b->budget = iso_op_budget_ref(budget);
  iso_op_budget_unref(old);
}

void iso_op_batch_reset(iso_op_batch* b) {
  budget_release(b);
  for (size_t i = 0; i < b->n; i++) {
    iso_perms_unref(b->recs[i].perms);
    iso_op_budget_unref(b->recs[i].budget);
  }
  b->n = 0;
  buf_trim(&b->args);
  buf_trim(&b->res);
  if (b->cap > ISO_OP_BATCH_KEEP_RECS) {
    free(b->recs);
    b->recs = NULL;
    b->cap = 0;
  }
}

void iso_op_batch_free(iso_op_batch* b) {
  if (b == NULL) {
    return;
  }
  iso_op_batch_reset(b);
  iso_op_budget_unref(b->budget);
  iso_buf_close(&b->args);
  iso_buf_close(&b->res);
  free(b->recs);
  free(b);
}

int iso_op_batch_add(iso_op_batch* b,
                     uint32_t op,
                     uint32_t promise,
                     const iso_op_caller* caller,
                     const uint8_t* args,
                     size_t args_len) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    iso_op_rec* recs = realloc(b->recs, cap * sizeof *recs);
    if (recs == NULL) {
      return ISO_ENOMEM;
    }
    b->recs = recs;
    b->cap = cap;
  }
  size_t off = b->args.len;
  if (args_len > UINT32_MAX || off + args_len > UINT32_MAX ||
      iso_buf_append(&b->args, args, args_len) != 0) {
    return ISO_ENOMEM;
  }
  b->recs[b->n++] = (iso_op_rec){
      .op = op,
      .promise = promise,
      .realm = caller->realm,
      .tag = caller->tag,
      .args_off = (uint32_t)off,
      .args_len = (uint32_t)args_len,
      .perms = iso_perms_ref(caller->perms),
      .perm_id = caller->perm_id,
      .budget = iso_op_budget_ref(caller->budget),
  };
  return 0;
}

int iso_op_batch_over_budget(const iso_op_batch* b,
                             size_t i,
                             char* msg,
                             size_t msglen) {
  const iso_op_rec* rec = &b->recs[i];
  /* what results hold now: this batch's, or (with a budget, which this
   * batch's are charged to as they come) every batch's of its runtime */
  size_t held = b->budget != NULL ? iso_op_budget_used(b->budget) : b->res.len;
  const char* name =
      rec->op < b->table->n ? b->table->defs[rec->op].name : "op";
  if (iso_op_budget_used(rec->budget) >= ISO_OP_CALLER_RES_MAX) {
    snprintf(msg, msglen,
             "%s: the results of this realm's ops in flight passed %zu MiB: "
             "await some before starting more",
             name, ISO_OP_CALLER_RES_MAX >> 20);
    return 1;
  }
  if (held >= ISO_OP_BATCH_RES_MAX) {
    snprintf(msg, msglen,
             "%s: the results of the ops in flight passed %zu MiB: await "
             "some before starting more",
             name, ISO_OP_BATCH_RES_MAX >> 20);
    return 1;
  }
  return 0;
}

/* Charges record rec's response, the last res_len bytes of res, to the
 * budgets (iso_op_batch_reset gives it back). */
static void charge(iso_op_batch* b, iso_op_rec* rec, size_t n) {
  if (b->budget != NULL) {
    atomic_fetch_add(&b->budget->used, n);
    b->charged += n;
  }
  if (rec->budget != NULL) { /* given back from res_len */
    atomic_fetch_add(&rec->budget->used, (size_t)rec->res_len);
  }
}

int iso_op_batch_respond(iso_op_batch* b,
                         size_t i,
                         iso_op_err err,
                         const void* res,
                         size_t len) {
  iso_op_rec* rec = &b->recs[i];
  size_t off = b->res.len;
  int rc = 0;
  if (off + len > UINT32_MAX) {
    rc = ISO_ETOOBIG;
  } else if (len > 0 && iso_buf_append(&b->res, res, len) != 0) {
    rc = ISO_ENOMEM;
  }
  if (rc != 0) { /* the class alone, and no value */
    len = 0;
    err = err != ISO_OPERR_NONE ? err : ISO_OPERR_OTHER;
  }
  rec->err = err;
  rec->res_off = (uint32_t)(off < UINT32_MAX ? off : 0);
  rec->res_len = (uint32_t)len;
  charge(b, rec, len);
  return rc;
}

/* Runs one record; its result (or error message) goes at the end of res,
 * whose offsets must fit the record's 32-bit fields. */
static void run_rec(iso_op_batch* b, iso_op_rec* rec) {
  iso_op_call call = {.env = b->env,
                      .out = &b->res,
                      .late_fn = b->late_fn,
                      .late_hold = b->late_hold,
                      .late_arg = b->late_arg,
                      .route = b->route,
                      .promise = rec->promise,
                      .realm = rec->realm,
                      .tag = rec->tag};
  size_t off = b->res.len;
  if (off >= UINT32_MAX) {
    iso_op_fail(&call, ISO_OPERR_OTHER, "the batch's results are too large");
  } else if (iso_op_batch_over_budget(b, (size_t)(rec - b->recs), call.msg,
                                      sizeof call.msg)) {
    call.err = ISO_OPERR_OTHER;
  } else if (rec->op >= b->table->n) {
    iso_op_fail(&call, ISO_OPERR_TYPE, "op index %u out of range (%zu ops)",
                rec->op, b->table->n);
  } else {
    call.def = &b->table->defs[rec->op];
    call.perms = rec->perms;
    /* no arguments at all leave args.data NULL: NULL + 0 is undefined */
    const uint8_t* args =
        rec->args_len > 0 ? b->args.data + rec->args_off : NULL;
    iso_op_invoke(&call, args, rec->args_len);
  }
  if (call.err == ISO_OPERR_NONE && call.ticket != NULL) {
    b->res.len = off; /* the answer is the ticket's, later */
    call.err = ISO_OPERR_LATER;
  }
  if (call.err == ISO_OPERR_NONE && b->res.len > UINT32_MAX) {
    b->res.len = off;
    iso_op_fail(&call, ISO_OPERR_OTHER, "%s: the result is too large",
                call.def->name);
  }
  if (call.err != ISO_OPERR_NONE &&
      (off >= UINT32_MAX ||
       iso_buf_append(&b->res, call.msg, strlen(call.msg)) != 0)) {
    b->res.len = off; /* the class alone */
  }
  rec->err = call.err;
  rec->res_off = (uint32_t)(off < UINT32_MAX ? off : 0);
  rec->res_len = (uint32_t)(b->res.len - off);
  charge(b, rec, b->res.len - off);
}

void iso_op_batch_run(iso_op_batch* b) {
  budget_release(b); /* a batch run again starts afresh */
  iso_buf_reset(&b->res);
  for (size_t i = 0; i < b->n; i++) {
    run_rec(b, &b->recs[i]);
  }
}
