/* iso_link_msg.c: the link's records (iso_link.h, "the records";
 * docs/link.md).
 *
 * Each kind is a row of k_kinds (indexed by its value): its name, its
 * channel, its fields and a check of the rules between them. Each field
 * is a row too: its name, its type, whether nil is allowed, its bounds
 * and where it lives in the kind's struct. The types are a table of their
 * own (k_types: how one is read and how it is written), so the encoder
 * and the decoder both walk the same rows, and a new field is a row. The
 * layout hash in the header is taken over these tables.
 *
 * The decoder reads with codec/iso_mp.h's bounded reader and allocates
 * nothing: what it hands out points into the message.
 */
#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "iso_err.h"
#include "iso_link.h"
#include "iso_mp.h"
#include "iso_utf8.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the tables ---------------------------------------------------------- */

typedef enum ftype {
  T_U32,   /* an unsigned integer within [min, max], a uint32_t */
  T_U64,   /* ... a uint64_t */
  T_ENUM,  /* ... an enum (an int) */
  T_NAME,  /* a str of at most max bytes, UTF-8, no NUL: an iso_str */
  T_TEXT,  /* a str of at most max bytes, UTF-8: an iso_str */
  T_RAW,   /* one msgpack value (of type mp unless ANY): an iso_bytes */
  T_REPLY, /* a bin holding one msgpack map, its strings UTF-8 */
  T_PERMS, /* [read, write, env, net]: an iso_bytes */
  T_BIN,   /* a bin of at most max bytes: its bytes, an iso_bytes */
  T_COUNT
} ftype;

#define ANY (-1)

typedef struct field {
  const char* name;
  uint8_t type;   /* ftype */
  uint8_t nil_ok; /* nil is {NULL, 0} */
  int8_t mp;      /* T_RAW: the value's iso_mp_type, or ANY */
  uint16_t at;    /* offset in the kind's member of iso_link_rec.u */
  uint64_t min, max;
} field;

typedef struct kind_def {
  const char* name; /* NULL: no such kind */
  iso_link_chan chan;
  const field* fields;
  uint8_t n;
  /* the rules between fields: NULL if kept, else what is wrong */
  const char* (*check)(const iso_link_rec* r);
} kind_def;

_Static_assert(sizeof(iso_job_kind) == sizeof(int) &&
                   sizeof(iso_status) == sizeof(int) &&
                   sizeof(iso_proto_code) == sizeof(int) &&
                   sizeof(iso_link_wstate) == sizeof(int) &&
                   sizeof(iso_link_reason) == sizeof(int) &&
                   sizeof(iso_link_how) == sizeof(int) &&
                   sizeof(iso_limit) == sizeof(int),
               "T_ENUM fields are ints");

#define U32(n, s, m) \
  { .name = n, .type = T_U32, .at = offsetof(s, m), .max = UINT32_MAX }
#define U64(n, s, m) \
  { .name = n, .type = T_U64, .at = offsetof(s, m), .max = UINT64_MAX }
#define ENUM(n, s, m, lo, hi) \
  { .name = n, .type = T_ENUM, .at = offsetof(s, m), .min = lo, .max = hi }
#define NAME(n, s, m, nil, cap) \
  { .name = n, .type = T_NAME, .at = offsetof(s, m), .nil_ok = nil, .max = cap }
#define TEXT(n, s, m, nil, cap) \
  { .name = n, .type = T_TEXT, .at = offsetof(s, m), .nil_ok = nil, .max = cap }
#define RAW(n, s, m, t, nil) \
  { .name = n, .type = T_RAW, .at = offsetof(s, m), .mp = t, .nil_ok = nil }
#define PERMS(n, s, m) \
  { .name = n, .type = T_PERMS, .at = offsetof(s, m), .nil_ok = 1 }
#define REPLY(n, s, m) \
  { .name = n, .type = T_REPLY, .at = offsetof(s, m), .nil_ok = 1 }

/* the last job code (the job codes come first in the table) */
#define LAST_CODE ISO_CODE_INTERNAL

static const field k_task[] = {
    U32("slot", iso_link_task, slot),
    U32("gen", iso_link_task, gen),
    ENUM("kind", iso_link_task, kind, ISO_JOB_EVAL, ISO_JOB_CALL),
    NAME("module", iso_link_task, module, 1, ISO_LINK_MAX_NAME),
    NAME("export", iso_link_task, export_name, 1, ISO_PROTO_MAX_EXPORT),
    TEXT("source", iso_link_task, source, 1, UINT32_MAX),
    RAW("args", iso_link_task, args, ISO_MP_ARRAY, 0),
    U64("deadline_ns", iso_link_task, deadline_ns),
    U64("sid", iso_link_task, sid),
    U32("perm_id", iso_link_task, perm_id),
    PERMS("perms", iso_link_task, perms),
    RAW("id", iso_link_task, id, ANY, 1),
    U64("received_ns", iso_link_task, received_ns),
    U32("timeout_ms", iso_link_task, timeout_ms),
    U32("cpu_ms", iso_link_task, cpu_ms),
};

static const field k_cancel[] = {
    U32("slot", iso_link_cancel, slot),
    U32("gen", iso_link_cancel, gen),
};

static const field k_reload[] = {
    NAME("spec", iso_link_reload, spec, 0, ISO_LINK_MAX_NAME),
};

static const field k_stop[] = {
    {.name = "grace_ms",
     .type = T_U32,
     .at = offsetof(iso_link_stop, grace_ms),
     .max = ISO_LINK_MAX_GRACE_MS},
};

static const field k_done[] = {
    U32("slot", iso_link_done, slot),
    U32("gen", iso_link_done, gen),
    ENUM("status", iso_link_done, status, ISO_STATUS_NONE, ISO_STATUS_ERROR),
    ENUM("code", iso_link_done, code, 0, LAST_CODE),
    U64("started_ns", iso_link_done, started_ns),
    U64("finished_ns", iso_link_done, finished_ns),
    REPLY("reply", iso_link_done, reply),
    TEXT("note", iso_link_done, note, 1, ISO_LINK_MAX_TEXT),
    U64("cpu_us", iso_link_done, cpu_us),
    U64("heap_bytes", iso_link_done, heap_bytes),
    U64("ops", iso_link_done, ops),
    ENUM("limit", iso_link_done, limit, ISO_LIMIT_NONE, ISO_LIMIT_MEMORY),
};

static const field k_info[] = {
    U64("heap_used", iso_link_info, heap_used),
    U64("heap_limit", iso_link_info, heap_limit),
    U32("warm_modules", iso_link_info, warm_modules),
};

static const field k_reloaded[] = {
    U32("n", iso_link_reloaded, n),
};

static const field k_state[] = {
    ENUM("state", iso_link_state, state, 0, ISO_LINK_W_COUNT - 1),
};

static const field k_ready[] = {
    {.name = "rc",
     .type = T_U32,
     .at = offsetof(iso_link_ready, rc),
     .max = ISO_LINK_MAX_RC},
    TEXT("error", iso_link_ready, error, 1, ISO_LINK_MAX_TEXT),
};

static const field k_recycled[] = {
    ENUM("reason", iso_link_recycled, reason, 0, ISO_LINK_R_COUNT - 1),
    ENUM("how", iso_link_recycled, how, ISO_LINK_HOW_SPARE, ISO_LINK_HOW_COLD),
};

static const field k_op[] = {
    U32("op", iso_link_op, op),
    U32("promise", iso_link_op, promise),
    U32("realm", iso_link_op, realm),
    U32("tag", iso_link_op, tag),
    U32("perm_id", iso_link_op, perm_id),
    RAW("args", iso_link_op, args, ISO_MP_ARRAY, 0),
};

static const field k_op_result[] = {
    U32("promise", iso_link_op_result, promise),
    U32("realm", iso_link_op_result, realm),
    U32("tag", iso_link_op_result, tag),
    {.name = "err",
     .type = T_U32,
     .at = offsetof(iso_link_op_result, err),
     .max = ISO_LINK_MAX_OP_ERR},
    {.name = "result",
     .type = T_BIN,
     .at = offsetof(iso_link_op_result, result),
     .max = UINT32_MAX},
};

static const field k_halt[] = {
    U32("worker", iso_link_halt, worker),
    U64("deadline_ns", iso_link_halt, deadline_ns),
};

static const field k_wedged[] = {
    U32("worker", iso_link_wedged, worker),
};

static const field k_spares[] = {
    U32("ready", iso_link_spares, ready),
    U64("builds", iso_link_spares, builds),
    U64("bytes", iso_link_spares, bytes),
};

static const field k_code_stats[] = {
    U64("hits", iso_link_code_stats, hits),
    U64("misses", iso_link_code_stats, misses),
    U64("rejected", iso_link_code_stats, rejected),
    U64("evicted", iso_link_code_stats, evicted),
    U64("made", iso_link_code_stats, made),
    U64("put", iso_link_code_stats, put),
    U64("bytes", iso_link_code_stats, bytes),
    U64("entries", iso_link_code_stats, entries),
    U32("tag", iso_link_code_stats, tag),
};

static const field k_code[] = {
    {.name = "key",
     .type = T_BIN,
     .at = offsetof(iso_link_code, key),
     .max = ISO_LINK_CODE_KEY},
    {.name = "cache",
     .type = T_BIN,
     .at = offsetof(iso_link_code, data),
     .max = ISO_LINK_CODE_MAX},
};

static const char* check_code(const iso_link_rec* r) {
  const iso_link_code* c = &r->u.code;
  if (c->key.len != ISO_LINK_CODE_KEY || c->data.len == 0) {
    return "a code cache entry has a key of 37 bytes and a cache";
  }
  return NULL;
}

_Static_assert(ISO_LINK_CODE_KEY == 37, "the message above says so");

static const char* check_task(const iso_link_rec* r) {
  const iso_link_task* t = &r->u.task;
  if (t->kind == ISO_JOB_CALL) {
    if (t->module.ptr == NULL || t->export_name.ptr == NULL) {
      return "a call names its module and its export";
    }
  } else if (t->export_name.ptr != NULL) {
    return "an eval has no export";
  } else if (t->module.ptr == NULL && t->source.ptr == NULL) {
    return "an eval has a module or a source";
  }
  return NULL;
}

static const char* check_done(const iso_link_rec* r) {
  const iso_link_done* d = &r->u.done;
  if ((d->status == ISO_STATUS_ERROR) != (d->code != ISO_CODE_UNKNOWN)) {
    return "an error, and only an error, has a code";
  }
  if (d->code != ISO_CODE_UNKNOWN &&
      (iso_proto_code_where(d->code) & ISO_CODE_JOB) == 0) {
    return "'code' is not a job's code";
  }
  if ((d->status == ISO_STATUS_NONE) != (d->reply.data == NULL)) {
    return "a reply comes with a status, and only with one";
  }
  if (d->finished_ns < d->started_ns) {
    return "the job finished before it started";
  }
  return NULL;
}

static const char* check_ready(const iso_link_rec* r) {
  const iso_link_ready* d = &r->u.ready;
  if ((d->rc == 0) != (d->error.ptr == NULL)) {
    return "a failed start, and only one, has an error";
  }
  return NULL;
}

static const char* check_op_result(const iso_link_rec* r) {
  const iso_link_op_result* o = &r->u.op_result;
  if (o->err == 0) {
    if (o->result.len > 0 &&
        iso_mp_one(o->result.data, o->result.len, ISO_LINK_MAX_DEPTH) != 0) {
      return "an op's result holds one msgpack value (nesting at most 128 "
             "levels) or nothing";
    }
    return NULL;
  }
  if (o->result.len > ISO_LINK_MAX_TEXT ||
      !iso_utf8_valid(o->result.data, o->result.len)) {
    return "an op error's result is its message: UTF-8 text of at most "
           "4096 bytes";
  }
  return NULL;
}

_Static_assert(ISO_LINK_MAX_TEXT == 4096, "the message above says so");

#define ROW(nm, ch, f) .name = nm, .chan = ISO_LINK_##ch, .fields = f, .n = N(f)

/* Sized by its highest kind: a new kind is a row, nothing else. */
static const kind_def k_kinds[] = {
    [ISO_LINK_TASK] = {ROW("TASK", FRONT_JOBS, k_task), .check = check_task},
    [ISO_LINK_CANCEL] = {ROW("CANCEL", FRONT_JOBS, k_cancel)},
    [ISO_LINK_RELOAD] = {ROW("RELOAD", FRONT_JOBS, k_reload)},
    [ISO_LINK_RECYCLE] = {.name = "RECYCLE", .chan = ISO_LINK_FRONT_JOBS},
    [ISO_LINK_STOP] = {ROW("STOP", FRONT_JOBS, k_stop)},
    [ISO_LINK_DONE] = {ROW("DONE", WORKER_JOBS, k_done), .check = check_done},
    [ISO_LINK_INFO] = {ROW("INFO", WORKER_JOBS, k_info)},
    [ISO_LINK_RELOADED] = {ROW("RELOADED", WORKER_JOBS, k_reloaded)},
    [ISO_LINK_STATE] = {ROW("STATE", WORKER_JOBS, k_state)},
    [ISO_LINK_READY] = {ROW("READY", WORKER_JOBS, k_ready),
                        .check = check_ready},
    [ISO_LINK_RECYCLED] = {ROW("RECYCLED", WORKER_JOBS, k_recycled)},
    [ISO_LINK_OP] = {ROW("OP", WORKER_OPS, k_op)},
    [ISO_LINK_OP_RESULT] = {ROW("OP_RESULT", FRONT_OPS, k_op_result),
                            .check = check_op_result},
    [ISO_LINK_HALT] = {ROW("HALT", FRONT_CTL, k_halt)},
    [ISO_LINK_WEDGED] = {ROW("WEDGED", GROUP_CTL, k_wedged)},
    [ISO_LINK_ALIVE] = {.name = "ALIVE", .chan = ISO_LINK_GROUP_CTL},
    [ISO_LINK_SPARES] = {ROW("SPARES", GROUP_CTL, k_spares)},
    [ISO_LINK_CODE_PUT] = {ROW("CODE_PUT", FRONT_CTL, k_code),
                           .check = check_code},
    [ISO_LINK_CODE] = {ROW("CODE", GROUP_CTL, k_code), .check = check_code},
    [ISO_LINK_CODE_STATS] = {ROW("CODE_STATS", GROUP_CTL, k_code_stats)},
};

#undef ROW

#define KIND_LIMIT N(k_kinds)

static const char* const k_chan_names[] = {
    [ISO_LINK_FRONT_JOBS] = "the front's jobs",
    [ISO_LINK_WORKER_JOBS] = "a worker's jobs",
    [ISO_LINK_WORKER_OPS] = "a worker's ops",
    [ISO_LINK_FRONT_OPS] = "the front's ops",
    [ISO_LINK_FRONT_CTL] = "the front's control",
    [ISO_LINK_GROUP_CTL] = "a pool process's control",
};

static const char* const k_wstate_names[] = {
#define WSTATE_NAME(e, name) [ISO_LINK_W_##e] = name,
    ISO_LINK_WSTATE_TABLE(WSTATE_NAME)
#undef WSTATE_NAME
};

static const char* const k_reason_names[] = {
#define REASON_NAME(e, name) [ISO_LINK_R_##e] = name,
    ISO_LINK_REASON_TABLE(REASON_NAME)
#undef REASON_NAME
};

const char* iso_link_reason_name(iso_link_reason reason) {
  return (unsigned)reason < ISO_LINK_R_COUNT ? k_reason_names[reason] : NULL;
}

static const kind_def* kind_of(uint64_t kind) {
  return kind < KIND_LIMIT && k_kinds[kind].name != NULL ? &k_kinds[kind]
                                                         : NULL;
}

const char* iso_link_kind_name(iso_link_kind kind) {
  const kind_def* k = kind_of((uint64_t)kind);
  return k != NULL ? k->name : NULL;
}

const char* iso_link_wstate_name(iso_link_wstate state) {
  return (unsigned)state < ISO_LINK_W_COUNT ? k_wstate_names[state] : NULL;
}

/* ---- the header ---------------------------------------------------------- */

#define MAGIC "isopool-link"

static struct {
  pthread_once_t once;
  uint32_t layout;
  uint8_t head[32];
  size_t len;
} g_head = {.once = PTHREAD_ONCE_INIT};

static uint32_t fnv(uint32_t h, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    h = (h ^ (uint8_t)(v >> (8 * i))) * 16777619u;
  }
  return h;
}

/* The layout: a hash of every row that shapes the bytes. */
static void head_build(void) {
  uint32_t h = fnv(2166136261u, ISO_LINK_VERSION);
  for (uint64_t v = 0; v < KIND_LIMIT; v++) {
    const kind_def* k = kind_of(v);
    if (k == NULL) {
      continue;
    }
    h = fnv(fnv(fnv(h, v), k->chan), k->n);
    for (unsigned i = 0; i < k->n; i++) {
      const field* f = &k->fields[i];
      h = fnv(fnv(fnv(h, f->type), f->nil_ok), (uint64_t)(int64_t)f->mp);
      h = fnv(fnv(h, f->min), f->max);
    }
  }
  h = fnv(fnv(h, ISO_LINK_MAX_DEPTH), ISO_LINK_MAX_PERM_ENTRIES);
  h = fnv(h, ISO_PERM_REQ_KINDS);
  h = fnv(fnv(h, ISO_LINK_MAX_PERM_ENTRY), ISO_LINK_W_COUNT);
#ifndef NDEBUG
  /* the enum's table and k_kinds say the same */
#define KIND_SAME(e, v, c) \
  assert(kind_of(v) != NULL && kind_of(v)->chan == ISO_LINK_##c);
  ISO_LINK_KIND_TABLE(KIND_SAME)
#undef KIND_SAME
#endif
  g_head.layout = h;
  iso_buf b;
  iso_buf_init_with(&b, g_head.head, sizeof g_head.head);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &b);
  iso_mp_put_array(&w, 3);
  iso_mp_put_cstr(&w, MAGIC);
  iso_mp_put_uint(&w, ISO_LINK_VERSION);
  iso_mp_put_uint(&w, h);
  assert(w.err == 0 && b.data == g_head.head);
  g_head.len = b.len;
}

const uint8_t* iso_link_head(size_t* len) {
  pthread_once(&g_head.once, head_build);
  *len = g_head.len;
  return g_head.head;
}

/* ---- decoding ------------------------------------------------------------ */

/* One record being read. */
typedef struct rdstate {
  iso_mp_rd r;
  const char* why; /* the fault, for fault() */
  char buf[96];    /* a fault's text made here */
} rdstate;

static int bad(rdstate* s, const char* why) {
  s->why = why;
  return ISO_EPROTO;
}

static int badf(rdstate* s, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int badf(rdstate* s, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->buf, sizeof s->buf, fmt, ap);
  va_end(ap);
  s->why = s->buf;
  return ISO_EPROTO;
}

/* Reads one object header; a structural fault ends the message. */
static int next(rdstate* s, iso_mp_obj* o) {
  int rc = iso_mp_read(&s->r, o);
  return rc == 0 ? 0 : bad(s, iso_mp_strerror(rc));
}

static int is_nil(const rdstate* s) {
  return s->r.p < s->r.end && *s->r.p == 0xc0;
}

/* The unsigned forms read here, without iso_mp_read (most of a record's
 * fields): 0xcc to 0xcf, 1 to 8 bytes big-endian. */
static int uint_inline(rdstate* s, uint64_t* v) {
  const uint8_t* p = s->r.p;
  size_t left = (size_t)(s->r.end - p);
  if (left == 0 || *p < 0xcc || *p > 0xcf) {
    return 0;
  }
  size_t n = (size_t)1 << (*p - 0xcc);
  if (left <= n) {
    return 0; /* truncated: iso_mp_read says so */
  }
  uint64_t u = 0;
  for (size_t i = 1; i <= n; i++) {
    u = (u << 8) | p[i];
  }
  *v = u;
  s->r.p += 1 + n;
  return 1;
}

static int rd_uint(rdstate* s, const field* f, void* at) {
  uint64_t v;
  if (s->r.p < s->r.end && *s->r.p <= 0x7f) { /* a positive fixint */
    v = *s->r.p++;
  } else if (!uint_inline(s, &v)) {
    iso_mp_obj o;
    if (next(s, &o) != 0) {
      return ISO_EPROTO;
    }
    if (o.type != ISO_MP_UINT) {
      return bad(s, "must be an unsigned integer");
    }
    v = o.v.u;
  }
  if (v < f->min || v > f->max) {
    return badf(s, "%llu is out of its bounds (%llu to %llu)",
                (unsigned long long)v, (unsigned long long)f->min,
                (unsigned long long)f->max);
  }
  if (f->type == T_U32) {
    *(uint32_t*)at = (uint32_t)v;
  } else if (f->type == T_U64) {
    *(uint64_t*)at = v;
  } else {
    *(int*)at = (int)v;
  }
  return 0;
}

static int rd_str(rdstate* s, const field* f, void* at) {
  iso_str* v = at;
  iso_mp_obj o;
  if (f->nil_ok && is_nil(s)) {
    s->r.p++;
    *v = (iso_str){NULL, 0};
    return 0;
  }
  if (next(s, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type != ISO_MP_STR) {
    return bad(s, f->nil_ok ? "must be a string or nil" : "must be a string");
  }
  if (o.len > f->max) {
    return badf(s, "is longer than %llu bytes", (unsigned long long)f->max);
  }
  if (!iso_utf8_valid(o.data, o.len)) {
    return bad(s, "is not valid UTF-8");
  }
  if (f->type == T_NAME && memchr(o.data, 0, o.len) != NULL) {
    return bad(s, "contains a NUL byte");
  }
  /* never NULL, even for "": NULL is nil */
  *v = (iso_str){(const char*)o.data, o.len};
  return 0;
}

static const char k_not_utf8[] = "holds a string that is not valid UTF-8";

/* Steps over n whole values starting at the cursor, found at nesting
 * level `level` (0: a field's value; 1: the entries of a map that is
 * one), in one pass that also checks their nesting (at most
 * ISO_LINK_MAX_DEPTH levels, counting the outermost value) and, with
 * `utf8`, that each string in them (map keys too) is UTF-8: a reply is
 * read once, not once for its shape and again for its strings. No
 * recursion: `left[d]` counts the values still to read at level d. */
static int skip_values(rdstate* s, int utf8, uint64_t n, int level) {
  uint64_t left[ISO_LINK_MAX_DEPTH + 1];
  int d = level;
  left[d] = n;
  for (;;) {
    while (left[d] == 0) {
      if (d == level) {
        return 0;
      }
      d--;
    }
    left[d]--;
    iso_mp_obj o;
    int rc = iso_mp_read(&s->r, &o);
    if (rc != 0) {
      return bad(s, iso_mp_strerror(rc));
    }
    if (o.type == ISO_MP_STR) {
      if (utf8 && !iso_utf8_valid(o.data, o.len)) {
        return bad(s, k_not_utf8);
      }
    } else if (o.type == ISO_MP_ARRAY || o.type == ISO_MP_MAP) {
      if (d >= ISO_LINK_MAX_DEPTH) { /* this one is at level d + 1 */
        return badf(s, "nests deeper than %d levels", ISO_LINK_MAX_DEPTH);
      }
      left[++d] = o.type == ISO_MP_MAP ? 2 * (uint64_t)o.len : o.len;
    }
  }
}

static const char* const k_mp_names[] = {
    [ISO_MP_NIL] = "nil",        [ISO_MP_BOOL] = "a boolean",
    [ISO_MP_UINT] = "a uint",    [ISO_MP_INT] = "an int",
    [ISO_MP_F32] = "a float",    [ISO_MP_F64] = "a float",
    [ISO_MP_STR] = "a str",      [ISO_MP_BIN] = "a bin",
    [ISO_MP_ARRAY] = "an array", [ISO_MP_MAP] = "a map",
    [ISO_MP_EXT] = "an ext",
};

static int rd_raw(rdstate* s, const field* f, void* at) {
  iso_bytes* v = at;
  const uint8_t* start = s->r.p;
  if (f->nil_ok && is_nil(s)) {
    s->r.p++;
    *v = (iso_bytes){NULL, 0};
    return 0;
  }
  if (f->mp != ANY) {
    iso_mp_rd peek = s->r;
    iso_mp_obj o;
    int rc = iso_mp_read(&peek, &o);
    if (rc != 0) {
      return bad(s, iso_mp_strerror(rc));
    }
    if ((int)o.type != f->mp) {
      return badf(s, "must be %s", k_mp_names[f->mp]);
    }
  }
  if (skip_values(s, 0, 1, 0) != 0) {
    return ISO_EPROTO;
  }
  *v = (iso_bytes){start, (size_t)(s->r.p - start)};
  return 0;
}

/* The entries a map header at r's cursor counts, with the cursor moved
 * past it; 0 if there is none. Read here, not by iso_mp_read, which
 * refuses a header counting more values than the bytes left: an open map
 * has one entry fewer than it counts. */
static uint32_t open_map_len(iso_mp_rd* r) {
  size_t left = (size_t)(r->end - r->p);
  if (left >= 1 && r->p[0] >= 0x80 && r->p[0] <= 0x8f) {
    return (uint32_t)(*r->p++ & 0x0f);
  }
  if (left >= 3 && r->p[0] == 0xde) {
    uint32_t n = (uint32_t)r->p[1] << 8 | r->p[2];
    r->p += 3;
    return n;
  }
  if (left >= 5 && r->p[0] == 0xdf) {
    uint32_t n = (uint32_t)r->p[1] << 24 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 8 | r->p[4];
    r->p += 5;
    return n;
  }
  return 0;
}

static int rd_reply(rdstate* s, const field* f, void* at) {
  iso_bytes* v = at;
  iso_mp_obj o;
  if (f->nil_ok && is_nil(s)) {
    s->r.p++;
    *v = (iso_bytes){NULL, 0};
    return 0;
  }
  if (next(s, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type != ISO_MP_BIN) {
    return bad(s, "must be a bin (the encoded reply) or nil");
  }
  /* a map open for its last entry, the stats the front adds */
  rdstate in = {.r = {o.data, o.data + o.len}};
  uint32_t n = open_map_len(&in.r);
  if (n == 0) {
    return bad(s, "must hold a msgpack map with an entry to come");
  }
  if (skip_values(&in, 1, 2 * ((uint64_t)n - 1), 1) != 0) {
    return in.why == k_not_utf8
               ? bad(s, k_not_utf8)
               : badf(s, "does not hold a msgpack map but its last entry: %s",
                      in.why);
  }
  if (in.r.p != in.r.end) {
    return bad(s, "holds bytes after its map's entries but the last");
  }
  *v = (iso_bytes){o.data, o.len};
  return 0;
}

static int rd_bin(rdstate* s, const field* f, void* at) {
  iso_bytes* v = at;
  iso_mp_obj o;
  if (next(s, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type != ISO_MP_BIN) {
    return bad(s, "must be a bin");
  }
  if (o.len > f->max) {
    return badf(s, "is longer than %llu bytes", (unsigned long long)f->max);
  }
  /* never NULL, even when empty: the record says it has no value */
  *v = (iso_bytes){o.data != NULL ? o.data : s->r.p, o.len};
  return 0;
}

/* One kind of a perms value: false, true, or an array of names. */
static int rd_perm_kind(rdstate* s) {
  iso_mp_obj o;
  if (next(s, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type == ISO_MP_BOOL) {
    return 0;
  }
  if (o.type != ISO_MP_ARRAY) {
    return bad(s, "holds a kind that is not false, true or an array");
  }
  if (o.len > ISO_LINK_MAX_PERM_ENTRIES) {
    return badf(s, "lists more than %d names of one kind",
                ISO_LINK_MAX_PERM_ENTRIES);
  }
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj e;
    if (next(s, &e) != 0) {
      return ISO_EPROTO;
    }
    if (e.type != ISO_MP_STR || e.len == 0 || e.len > ISO_LINK_MAX_PERM_ENTRY ||
        !iso_utf8_valid(e.data, e.len) || memchr(e.data, 0, e.len) != NULL) {
      return badf(s,
                  "holds a name that is not 1 to %d bytes of UTF-8 without "
                  "NUL",
                  ISO_LINK_MAX_PERM_ENTRY);
    }
  }
  return 0;
}

static int rd_perms(rdstate* s, const field* f, void* at) {
  iso_bytes* v = at;
  const uint8_t* start = s->r.p;
  iso_mp_obj o;
  if (is_nil(s)) {
    s->r.p++;
    *v = (iso_bytes){NULL, 0};
    return 0;
  }
  if (next(s, &o) != 0) {
    return ISO_EPROTO;
  }
  if (o.type != ISO_MP_ARRAY || o.len != ISO_PERM_REQ_KINDS) {
    return bad(s, "must be nil or [read, write, env, net]");
  }
  for (int i = 0; i < ISO_PERM_REQ_KINDS; i++) {
    if (rd_perm_kind(s) != 0) {
      return ISO_EPROTO;
    }
  }
  *v = (iso_bytes){start, (size_t)(s->r.p - start)};
  return 0;
}

/* ---- encoding ------------------------------------------------------------ */

static int put_uint(iso_mp_wr* w, const field* f, const void* at) {
  uint64_t v = f->type == T_U32   ? *(const uint32_t*)at
               : f->type == T_U64 ? *(const uint64_t*)at
                                  : (uint64_t)(int64_t) * (const int*)at;
  iso_mp_put_uint(w, v);
  return 0;
}

static int put_str(iso_mp_wr* w, const field* f, const void* at) {
  const iso_str* v = at;
  if (v->ptr == NULL && f->nil_ok) {
    iso_mp_put_nil(w);
  } else if (f->type == T_TEXT) {
    iso_mp_put_text(w, v->ptr, v->len);
  } else {
    iso_mp_put_str(w, v->ptr != NULL ? v->ptr : "", v->len);
  }
  return 0;
}

static int put_raw(iso_mp_wr* w, const field* f, const void* at) {
  const iso_bytes* v = at;
  if (v->data == NULL || v->len == 0) {
    if (!f->nil_ok) {
      return ISO_EINVAL;
    }
    iso_mp_put_nil(w);
  } else {
    iso_mp_put_raw(w, v->data, v->len);
  }
  return 0;
}

static int put_reply(iso_mp_wr* w, const field* f, const void* at) {
  const iso_bytes* v = at;
  if (v->data == NULL || v->len == 0) {
    if (!f->nil_ok) {
      return ISO_EINVAL;
    }
    iso_mp_put_nil(w);
  } else {
    iso_mp_put_bin(w, v->data, v->len);
  }
  return 0;
}

static int put_bin(iso_mp_wr* w, const field* f, const void* at) {
  const iso_bytes* v = at;
  iso_mp_put_bin(w, v->len > 0 ? v->data : (const uint8_t*)"", v->len);
  return 0;
}

/* How each type is read and written. */
static const struct {
  int (*read)(rdstate* s, const field* f, void* at);
  int (*put)(iso_mp_wr* w, const field* f, const void* at);
} k_types[T_COUNT] = {
    [T_U32] = {rd_uint, put_uint},     [T_U64] = {rd_uint, put_uint},
    [T_ENUM] = {rd_uint, put_uint},    [T_NAME] = {rd_str, put_str},
    [T_TEXT] = {rd_str, put_str},      [T_RAW] = {rd_raw, put_raw},
    [T_REPLY] = {rd_reply, put_reply}, [T_PERMS] = {rd_perms, put_raw},
    [T_BIN] = {rd_bin, put_bin},
};

/* ---- reading a message --------------------------------------------------- */

static void say(char* err, size_t errlen, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char* err, size_t errlen, const char* fmt, ...) {
  if (err == NULL || errlen == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

int iso_link_rd_init(iso_link_rd* rd,
                     iso_link_chan chan,
                     const uint8_t* msg,
                     size_t len,
                     char* err,
                     size_t errlen) {
  size_t hl;
  const uint8_t* head = iso_link_head(&hl);
  rd->chan = chan;
  rd->index = 0;
  rd->p = rd->end = msg;
  if (msg == NULL || len == 0) {
    say(err, errlen, "not a link message (empty)");
    return ISO_EPROTO;
  }
  rd->end = msg + len;
  if (len >= hl && memcmp(msg, head, hl) == 0) { /* the common case */
    rd->p = msg + hl;
    return 0;
  }
  /* Say why: another program, another version, another layout. */
  iso_mp_rd r;
  iso_mp_obj a, m, v, l;
  iso_mp_rd_init(&r, msg, len);
  if (iso_mp_read(&r, &a) != 0 || a.type != ISO_MP_ARRAY || a.len != 3 ||
      iso_mp_read(&r, &m) != 0 || !iso_mp_str_is(&m, MAGIC) ||
      iso_mp_read(&r, &v) != 0 || v.type != ISO_MP_UINT ||
      iso_mp_read(&r, &l) != 0 || l.type != ISO_MP_UINT) {
    say(err, errlen, "not a link message (no isopool-link header)");
    return ISO_EPROTO;
  }
  if (v.v.u != ISO_LINK_VERSION) {
    say(err, errlen,
        "the peer speaks link version %llu, this build %d: the front and "
        "the pool process are different builds",
        (unsigned long long)v.v.u, ISO_LINK_VERSION);
    return ISO_EPROTO;
  }
  if (l.v.u != g_head.layout) {
    say(err, errlen,
        "the peer's records have layout %08llx, this build's %08lx: the "
        "front and the pool process are different builds",
        (unsigned long long)l.v.u, (unsigned long)g_head.layout);
    return ISO_EPROTO;
  }
  rd->p = r.p; /* the same header, written longer */
  return 0;
}

int iso_link_rd_next(iso_link_rd* rd,
                     iso_link_rec* rec,
                     char* err,
                     size_t errlen) {
  if (rd->p >= rd->end) {
    return 0;
  }
  size_t index = ++rd->index;
  rdstate s = {.r = {rd->p, rd->end}};
  iso_mp_obj a, k = {.type = ISO_MP_NIL};
  if (next(&s, &a) != 0 ||
      (a.type == ISO_MP_ARRAY && a.len > 0 && next(&s, &k) != 0)) {
    say(err, errlen, "record %zu: %s", index, s.why);
    return ISO_EPROTO;
  }
  if (a.type != ISO_MP_ARRAY || a.len == 0 || k.type != ISO_MP_UINT) {
    say(err, errlen, "record %zu: not an array that starts with its kind",
        index);
    return ISO_EPROTO;
  }
  const kind_def* def = kind_of(k.v.u);
  if (def == NULL) {
    say(err, errlen, "record %zu: unknown kind %llu", index,
        (unsigned long long)k.v.u);
    return ISO_EPROTO;
  }
  if (def->chan != rd->chan) {
    say(err, errlen, "record %zu: %s %s record, which %s link does not carry",
        index, strchr("AEIOU", def->name[0]) != NULL ? "an" : "a", def->name,
        (unsigned)rd->chan < N(k_chan_names) && k_chan_names[rd->chan]
            ? k_chan_names[rd->chan]
            : "this");
    return ISO_EPROTO;
  }
  if (a.len != 1u + def->n) {
    say(err, errlen, "record %zu (%s): %u fields, not %u", index, def->name,
        a.len - 1, def->n);
    return ISO_EPROTO;
  }
  memset(rec, 0, sizeof *rec);
  rec->kind = (iso_link_kind)k.v.u;
  uint8_t* base = (uint8_t*)&rec->u;
  for (unsigned i = 0; i < def->n; i++) {
    const field* f = &def->fields[i];
    if (k_types[f->type].read(&s, f, base + f->at) != 0) {
      say(err, errlen, "record %zu (%s): '%s' %s", index, def->name, f->name,
          s.why);
      return ISO_EPROTO;
    }
  }
  const char* why = def->check != NULL ? def->check(rec) : NULL;
  if (why != NULL) {
    say(err, errlen, "record %zu (%s): %s", index, def->name, why);
    return ISO_EPROTO;
  }
  rd->p = s.r.p;
  return 1;
}

/* ---- writing a record ---------------------------------------------------- */

int iso_link_put(iso_buf* out, const iso_link_rec* rec) {
  const kind_def* def = kind_of((uint64_t)rec->kind);
  if (def == NULL) {
    return ISO_EINVAL;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_array(&w, 1u + def->n);
  iso_mp_put_uint(&w, (uint64_t)rec->kind);
  const uint8_t* base = (const uint8_t*)&rec->u;
  int rc = 0;
  for (unsigned i = 0; i < def->n && rc == 0; i++) {
    const field* f = &def->fields[i];
    rc = k_types[f->type].put(&w, f, base + f->at);
  }
  if (rc == 0) {
    rc = w.err;
  }
  if (rc == 0 && def->check != NULL && def->check(rec) != NULL) {
    rc = ISO_EINVAL; /* the reader would refuse it */
  }
  if (rc != 0) {
    out->len = mark;
  }
  return rc;
}

/* ---- a TASK written ahead of routing ------------------------------------- */

/* A fixed-width uint32 (0xce and 4 bytes), so routing can patch it. */
static void put_u32_fixed(iso_mp_wr* w, uint32_t v) {
  if (w->err == 0 && iso_buf_reserve(w->buf, 5) != 0) {
    w->err = ISO_ENOMEM;
  }
  if (w->err == 0) {
    uint8_t* p = w->buf->data + w->buf->len;
    p[0] = 0xce;
    p[1] = (uint8_t)(v >> 24);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 8);
    p[4] = (uint8_t)v;
    w->buf->len += 5;
  }
}

/* Where routing patches: slot and gen right after the array header
 * (three bytes: TASK's 16 elements are an array16) and the kind (one
 * byte), perm_id right before perms. */
#define AHEAD_SLOT 4
#define AHEAD_GEN 9
#define AHEAD_FIXED 5

int iso_link_put_task_ahead(iso_buf* out,
                            const iso_link_task* t,
                            size_t* perms_at) {
  const kind_def* def = &k_kinds[ISO_LINK_TASK];
  iso_link_rec rec = {.kind = ISO_LINK_TASK, .u.task = *t};
  rec.u.task.perms = (iso_bytes){NULL, 0};
  if (def->check(&rec) != NULL) {
    return ISO_EINVAL; /* the reader would refuse it */
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_array(&w, 1u + def->n);
  iso_mp_put_uint(&w, ISO_LINK_TASK);
  const uint8_t* base = (const uint8_t*)&rec.u;
  int rc = 0;
  for (unsigned i = 0; i < def->n && rc == 0; i++) {
    const field* f = &def->fields[i];
    if (f->at == offsetof(iso_link_task, slot) ||
        f->at == offsetof(iso_link_task, gen) ||
        f->at == offsetof(iso_link_task, perm_id)) {
      /* where iso_link_put_task_routed patches (k_task's order) */
      size_t at = out->len - mark;
      assert(f->at != offsetof(iso_link_task, slot) || at == AHEAD_SLOT);
      assert(f->at != offsetof(iso_link_task, gen) || at == AHEAD_GEN);
      assert(f->at != offsetof(iso_link_task, perm_id) ||
             (i + 1 < def->n && def->fields[i + 1].type == T_PERMS));
      (void)at;
      put_u32_fixed(&w, 0);
    } else if (f->type == T_PERMS) {
      *perms_at = out->len - mark;
    } else {
      rc = k_types[f->type].put(&w, f, base + f->at);
    }
  }
  if (rc == 0) {
    rc = w.err;
  }
  if (rc != 0) {
    out->len = mark;
  }
  return rc;
}

int iso_link_put_task_routed(iso_buf* out,
                             const uint8_t* ahead,
                             size_t len,
                             size_t perms_at,
                             uint32_t slot,
                             uint32_t gen,
                             uint32_t perm_id,
                             iso_bytes perms) {
  if (perms_at < AHEAD_GEN + 2 * AHEAD_FIXED || perms_at > len ||
      ahead[AHEAD_SLOT] != 0xce || ahead[AHEAD_GEN] != 0xce ||
      ahead[perms_at - AHEAD_FIXED] != 0xce) {
    return ISO_EINVAL; /* not iso_link_put_task_ahead's */
  }
  size_t mark = out->len;
  size_t n = len + (perms.len > 0 ? perms.len : 1);
  if (iso_buf_reserve(out, n) != 0) {
    return ISO_ENOMEM;
  }
  uint8_t* p = out->data + mark;
  memcpy(p, ahead, perms_at);
  const struct {
    size_t at;
    uint32_t v;
  } patch[] = {
      {AHEAD_SLOT, slot}, {AHEAD_GEN, gen}, {perms_at - AHEAD_FIXED, perm_id}};
  for (size_t i = 0; i < N(patch); i++) {
    uint8_t* q = p + patch[i].at + 1;
    q[0] = (uint8_t)(patch[i].v >> 24);
    q[1] = (uint8_t)(patch[i].v >> 16);
    q[2] = (uint8_t)(patch[i].v >> 8);
    q[3] = (uint8_t)patch[i].v;
  }
  p += perms_at;
  if (perms.len > 0) { /* the caller's iso_link_put_perms */
    memcpy(p, perms.data, perms.len);
    p += perms.len;
  } else {
    *p++ = 0xc0;
  }
  memcpy(p, ahead + perms_at, len - perms_at);
  out->len = mark + n;
  return 0;
}

/* ---- permission sets ----------------------------------------------------- */

static void put_perm_list(iso_mp_wr* w, const iso_perm_list* k) {
  if (k->ask == ISO_PERM_ASK_LIST) {
    iso_mp_put_array(w, k->n);
    for (uint32_t i = 0; i < k->n; i++) {
      iso_mp_put_str(w, k->items[i].ptr, k->items[i].len);
    }
  } else {
    iso_mp_put_bool(w, k->ask == ISO_PERM_ASK_ALL);
  }
}

int iso_link_put_perms(iso_buf* out, const iso_perm_req* p) {
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_array(&w, ISO_PERM_REQ_KINDS);
  put_perm_list(&w, &p->read);
  put_perm_list(&w, &p->write);
  put_perm_list(&w, &p->env);
  put_perm_list(&w, &p->net);
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

int iso_link_get_perms(iso_bytes raw,
                       iso_perm_req* out,
                       iso_str* items,
                       size_t cap) {
  memset(out, 0, sizeof *out);
  if (raw.data == NULL || raw.len == 0) {
    return ISO_EPROTO;
  }
  rdstate s = {.r = {raw.data, raw.data + raw.len}};
  field f = {.name = "perms", .type = T_PERMS};
  iso_bytes check;
  if (rd_perms(&s, &f, &check) != 0 || s.r.p != s.r.end || check.data == NULL) {
    return ISO_EPROTO;
  }
  /* checked: read it again, filling out */
  iso_mp_rd_init(&s.r, raw.data, raw.len);
  iso_mp_obj o;
  iso_mp_read(&s.r, &o);
  iso_perm_list* kinds[ISO_PERM_REQ_KINDS] = {&out->read, &out->write,
                                              &out->env, &out->net};
  size_t used = 0;
  for (int i = 0; i < ISO_PERM_REQ_KINDS; i++) {
    iso_mp_read(&s.r, &o);
    if (o.type == ISO_MP_BOOL) {
      kinds[i]->ask = o.v.b ? ISO_PERM_ASK_ALL : ISO_PERM_ASK_NOTHING;
      continue;
    }
    if (o.len > cap - used) {
      return ISO_ETOOBIG;
    }
    kinds[i]->ask = ISO_PERM_ASK_LIST;
    kinds[i]->n = o.len;
    kinds[i]->items = items + used;
    for (uint32_t j = 0; j < o.len; j++) {
      iso_mp_obj e;
      iso_mp_read(&s.r, &e);
      items[used++] = (iso_str){(const char*)e.data, e.len};
    }
  }
  out->present = 1;
  return 0;
}
