/* iso_proto_server.c: the server's half of the job protocol codec
 * (iso_proto.h, docs/protocol.md): request decoding and reply encoding.
 *
 * Decoding a request is one pass with the codec's reader (iso_mp.h): each
 * field's value is stepped over with a depth-checked skip, and only its
 * span is remembered; the spans are interpreted afterwards (build_req). A
 * structural fault (truncation, absurd counts) ends the whole message,
 * because nothing after it can be located; a semantic fault (wrong type,
 * unknown field) only marks the request, so inside a batch the neighbours
 * still run. The first fault found is the one reported.
 *
 * The request's fields are the rows of one table, k_fields: a row names
 * the field, the msgpack type its value must have, whether it is required,
 * which job kinds take it, and the function that reads it into the
 * iso_proto_req. scan_fields finds a key's row by walking the table, and
 * build_req walks the rows in order, so the table's order is the order in
 * which faults are looked for (and the order is part of the wire
 * behaviour: the first fault is the one a client is told). The job kinds
 * are a table too (k_kinds): what each needs and what it refuses (a ping
 * takes only its id, and never stands in a batch). How to add a field:
 * ipc/README.md.
 */
#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_proto.h"
#include "iso_proto_private.h"
#include "iso_utf8.h"

static const uint8_t k_empty_array[1] = {0x90};
static const uint8_t k_nil[1] = {0xc0};

/* ---- request decoding: the state of one pass ---------------------------- */

/* The fields, in the order build_req checks them (see the file comment). */
enum {
  F_ID,
  F_BATCH,
  F_V,
  F_KIND,
  F_SOURCE,
  F_MODULE,
  F_EXPORT,
  F_ARGS,
  F_TIMEOUT,
  F_CPU,
  F_PERMISSIONS,
  F_COUNT
};

#define FIELD_BIT(f) (1u << (f))
_Static_assert(F_COUNT <= 32, "a scan's field mask is one unsigned");

typedef struct span {
  const uint8_t* p;
  const uint8_t* end;
} span;

/* What one pass over a request map found. */
typedef struct scan {
  unsigned present; /* FIELD_BIT()s of the fields found; only their spans
                     * in f are set */
  span f[F_COUNT];  /* indexed by F_*, the rows of k_fields */
  int bad;          /* a fault was recorded in err */
  int fatal;        /* the fault was structural */
  char err[ISO_PROTO_ERRMSG_MAX];
} scan;

static void scan_init(scan* sc) {
  sc->present = 0;
  sc->bad = 0;
  sc->fatal = 0;
}

static int has(const scan* sc, int f) {
  return (sc->present & FIELD_BIT(f)) != 0;
}

static void fault(scan* sc, const char* fmt, ...) {
  if (sc->bad) {
    return;
  }
  sc->bad = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sc->err, sizeof sc->err, fmt, ap);
  va_end(ap);
}

/* dst = a + b, truncated to cap. */
static void join(char* dst, size_t cap, const char* a, const char* b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na > cap - 1) {
    na = cap - 1;
  }
  if (nb > cap - 1 - na) {
    nb = cap - 1 - na;
  }
  memmove(dst + na, b, nb);
  memcpy(dst, a, na);
  dst[na + nb] = 0;
}

/* A structural fault replaces any earlier message: it is the real cause. */
static int structural(scan* sc, int mp_rc, const char* where) {
  sc->bad = 1;
  sc->fatal = 1;
  join(sc->err, sizeof sc->err, where, iso_mp_strerror(mp_rc));
  return ISO_EPROTO;
}

/* ---- request decoding: the fields --------------------------------------- */

typedef struct field field;

/* Reads a present field into q: s is the value's whole span, and o the
 * value itself, already of the row's type (NULL for a row of ANY type:
 * such a read reads what it needs from s). Faults go to sc. Returns 0, or
 * ISO_ENOMEM (which ends the decoding). */
typedef int field_read(scan* sc,
                       iso_proto_req* q,
                       const field* f,
                       const iso_mp_obj* o,
                       span s);

#define ANY (-1) /* field.type: any msgpack type (its read checks) */

enum {
  REQ_NO = 0, /* optional (the default) */
  REQ_ALONE,  /* required in a message of its own, optional in a batch
               * element (the batch's envelope has it) */
  REQ_ALWAYS  /* required everywhere */
};

#define KIND_BIT(kind) (1u << (kind))
/* "1" for ISO_PROTO_VERSION, in a row's constant message */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
/* A row's name and its length (keys are matched on both). */
#define NAME(s) .name = s, .len = sizeof(s) - 1

struct field {
  const char* name; /* the key on the wire */
  uint32_t len;     /* strlen(name) */
  int type;         /* the iso_mp_type the value must have, or ANY */
  int required;     /* REQ_*; when absent, `missing` is the fault */
  const char* missing;
  unsigned kinds;   /* KIND_BIT()s of the kinds that take it; 0: all */
  const char* dflt; /* a string's value when absent for those kinds */
  size_t max;       /* read_name: the byte limit */
  size_t at;        /* offsetof its iso_str in iso_proto_req: read_name
                     * fills it; for a row with .kinds, check_kind clears
                     * or defaults it; read_ms: its int64_t */
  int envelope;     /* may stand beside `batch` in a batch message */
  int echoed;       /* the id: not kept when it nests too deep, since
                     * a refusal echoes it */
  field_read* read;
};

static field_read read_id, read_batch, read_version, read_kind, read_source,
    read_name, read_args, read_ms, read_permissions;

static const field k_fields[F_COUNT] = {
    [F_ID] = {NAME("id"), .type = ANY, .echoed = 1, .read = read_id},
    [F_BATCH] = {NAME("batch"), .type = ANY, .envelope = 1, .read = read_batch},
    [F_V] = {NAME("v"), .type = ANY, .required = REQ_ALONE,
             .missing = "missing 'v' (the protocol version, " STRINGIFY(
                 ISO_PROTO_VERSION) ")",
             .envelope = 1, .read = read_version},
    [F_KIND] = {NAME("kind"), .type = ISO_MP_STR, .required = REQ_ALWAYS,
                .missing = "missing 'kind' (\"eval\", \"call\" or \"ping\")",
                .read = read_kind},
    [F_SOURCE] = {NAME("source"), .type = ISO_MP_STR, .read = read_source},
    [F_MODULE] = {NAME("module"), .type = ISO_MP_STR,
                  .max = ISO_PROTO_MAX_MODULE,
                  .at = offsetof(iso_proto_req, module), .read = read_name},
    [F_EXPORT] = {NAME("export"), .type = ISO_MP_STR,
                  .kinds = KIND_BIT(ISO_JOB_CALL), .dflt = "default",
                  .max = ISO_PROTO_MAX_EXPORT,
                  .at = offsetof(iso_proto_req, export_name),
                  .read = read_name},
    [F_ARGS] = {NAME("args"), .type = ISO_MP_ARRAY, .read = read_args},
    [F_TIMEOUT] = {NAME("timeout_ms"), .type = ANY,
                   .at = offsetof(iso_proto_req, timeout_ms), .read = read_ms},
    [F_CPU] = {NAME("cpu_ms"), .type = ANY,
               .at = offsetof(iso_proto_req, cpu_ms), .read = read_ms},
    [F_PERMISSIONS] = {NAME("permissions"), .type = ANY,
                       .read = read_permissions},
};

/* The job kinds: `kind` names a row; a job of that kind needs at least
 * one of the fields in `needs` (none: 0), takes only those in `takes` (0:
 * any), and with `alone` is refused inside a batch. */
typedef struct kind_def {
  const char* name;
  uint32_t len;
  iso_job_kind kind;
  unsigned needs; /* FIELD_BIT()s */
  const char* needs_missing;
  unsigned takes; /* FIELD_BIT()s */
  const char* takes_only;
  int alone;
} kind_def;

static const kind_def k_kinds[] = {
    {NAME("eval"), .kind = ISO_JOB_EVAL,
     .needs = FIELD_BIT(F_SOURCE) | FIELD_BIT(F_MODULE),
     .needs_missing = "eval needs 'source' or 'module'"},
    {NAME("call"), .kind = ISO_JOB_CALL, .needs = FIELD_BIT(F_MODULE),
     .needs_missing = "call needs 'module'"},
    /* a heartbeat the front answers itself (docs/protocol.md, "ping") */
    {NAME("ping"), .kind = ISO_JOB_PING,
     .takes = FIELD_BIT(F_ID) | FIELD_BIT(F_V) | FIELD_BIT(F_KIND),
     .takes_only = "a ping takes only 'v', 'kind' and 'id'", .alone = 1},
};

#define N_KINDS (sizeof k_kinds / sizeof k_kinds[0])

/* What the decoder derives from k_fields, once (index_build): a hash of
 * the names (a key is compared with the names of its slot only, usually
 * one) and masks of the rows with a property (build_req visits only the
 * rows it must). Nothing here is written by hand: a new row is found. */
#define NAME_SLOTS 32 /* a power of 2; slots hold chains, so any will do */
static struct {
  pthread_once_t once;
  int8_t slot[NAME_SLOTS]; /* by name_hash: a row, or -1 */
  int8_t next[F_COUNT];    /* the next row in the slot, or -1 */
  unsigned required[2];    /* [in_batch]: the rows required there */
  unsigned envelope;       /* the rows allowed beside `batch` */
  unsigned for_some_kinds; /* the rows with .kinds */
} g_index = {.once = PTHREAD_ONCE_INIT};

/* First letter and length: no two of today's names share a slot. */
static unsigned name_hash(uint8_t first, uint32_t n) {
  return (first ^ (n << 3)) & (NAME_SLOTS - 1);
}

static void index_build(void) {
  memset(g_index.slot, -1, sizeof g_index.slot);
  for (int f = F_COUNT - 1; f >= 0; f--) {
    const field* row = &k_fields[f];
    assert(row->name != NULL && row->len >= 1 && row->len == strlen(row->name));
    unsigned h = name_hash((uint8_t)row->name[0], row->len);
    g_index.next[f] = g_index.slot[h];
    g_index.slot[h] = (int8_t)f;
    if (row->required == REQ_ALWAYS) {
      g_index.required[0] |= FIELD_BIT(f);
      g_index.required[1] |= FIELD_BIT(f);
    } else if (row->required == REQ_ALONE) {
      g_index.required[0] |= FIELD_BIT(f);
    }
    if (row->envelope) {
      g_index.envelope |= FIELD_BIT(f);
    }
    if (row->kinds != 0) {
      g_index.for_some_kinds |= FIELD_BIT(f);
    }
  }
}

/* The row of a field name (n > 0 bytes at k), or -1. */
static int field_index(const uint8_t* k, uint32_t n) {
  for (int f = g_index.slot[name_hash(k[0], n)]; f >= 0; f = g_index.next[f]) {
    if (k_fields[f].len == n && memcmp(k_fields[f].name, k, n) == 0) {
      return f;
    }
  }
  return -1;
}

/* The one value in a span (already stepped over, so it is whole). */
static void span_obj(span s, iso_mp_obj* o) {
  iso_mp_rd r;
  iso_mp_rd_init(&r, s.p, (size_t)(s.end - s.p));
  if (iso_mp_read(&r, o) != 0) {
    o->type = ISO_MP_NIL; /* cannot happen: the span was skipped once */
  }
}

/* The id is echoed byte for byte, and a reply holds only valid UTF-8:
 * such an id is refused, and not echoed in the refusal either. */
static int read_id(scan* sc,
                   iso_proto_req* q,
                   const field* f,
                   const iso_mp_obj* o,
                   span s) {
  if (!iso_mp_strings_utf8(s.p, (size_t)(s.end - s.p))) {
    fault(sc, "'id' holds a string that is not valid UTF-8");
    sc->present &= ~FIELD_BIT(F_ID);
    return 0;
  }
  q->id.data = s.p;
  q->id.len = (size_t)(s.end - s.p);
  return 0;
}

/* At the top level `batch` is decoded while scanning (decode_batch); a
 * request that reaches build_req with one is a batch element. */
static int read_batch(scan* sc,
                      iso_proto_req* q,
                      const field* f,
                      const iso_mp_obj* o,
                      span s) {
  fault(sc, "'batch' is not allowed inside a batch");
  return 0;
}

static int read_version(scan* sc,
                        iso_proto_req* q,
                        const field* f,
                        const iso_mp_obj* unused,
                        span s) {
  iso_mp_obj o;
  span_obj(s, &o);
  if (o.type == ISO_MP_UINT && o.v.u == ISO_PROTO_VERSION) {
    return 0;
  }
  if (o.type == ISO_MP_UINT) {
    fault(sc, "unsupported protocol version %llu (this server speaks %d)",
          (unsigned long long)o.v.u, ISO_PROTO_VERSION);
  } else if (o.type == ISO_MP_INT) {
    fault(sc, "unsupported protocol version %lld (this server speaks %d)",
          (long long)o.v.i, ISO_PROTO_VERSION);
  } else {
    fault(sc, "'v' must be an integer (got %s)", iso__proto_type_name(o.type));
  }
  return 0;
}

static int read_kind(scan* sc,
                     iso_proto_req* q,
                     const field* f,
                     const iso_mp_obj* o,
                     span s) {
  for (size_t i = 0; i < N_KINDS; i++) {
    if (o->len == k_kinds[i].len &&
        memcmp(o->data, k_kinds[i].name, o->len) == 0) {
      q->kind = k_kinds[i].kind;
      return 0;
    }
  }
  char got[24];
  iso__proto_printable(got, sizeof got, o->data, o->len);
  fault(sc,
        "unknown kind \"%s\" ('kind' must be \"eval\", \"call\" or "
        "\"ping\")",
        got);
  return 0;
}

static int read_source(scan* sc,
                       iso_proto_req* q,
                       const field* f,
                       const iso_mp_obj* o,
                       span s) {
  if (!iso_utf8_valid(o->data, o->len)) {
    /* module text is UTF-8; its lines come back in stacks and errors */
    fault(sc, "'source' is not valid UTF-8");
    return 0;
  }
  q->source.ptr = (const char*)o->data;
  q->source.len = o->len;
  return 0;
}

/* A string naming something (module, export): non-empty, at most f->max
 * bytes, no NUL bytes (these names become C strings and paths). */
static int read_name(scan* sc,
                     iso_proto_req* q,
                     const field* f,
                     const iso_mp_obj* o,
                     span s) {
  if (o->len == 0) {
    fault(sc, "'%s' is empty", f->name);
  } else if (o->len > f->max) {
    fault(sc, "'%s' is longer than %zu bytes", f->name, f->max);
  } else if (memchr(o->data, 0, o->len) != NULL) {
    fault(sc, "'%s' contains a NUL byte", f->name);
  } else if (!iso_utf8_valid(o->data, o->len)) {
    /* names are echoed in replies, logs and `jobs`, which must be UTF-8 */
    fault(sc, "'%s' is not valid UTF-8", f->name);
  }
  iso_str* out = (iso_str*)((char*)q + f->at);
  out->ptr = (const char*)o->data;
  out->len = o->len;
  return 0;
}

static int read_args(scan* sc,
                     iso_proto_req* q,
                     const field* f,
                     const iso_mp_obj* o,
                     span s) {
  q->args.data = s.p;
  q->args.len = (size_t)(s.end - s.p);
  return 0;
}

/* A non-negative integer field (timeout_ms, cpu_ms) into the int64_t at
 * the row's offset. */
static int read_ms(scan* sc,
                   iso_proto_req* q,
                   const field* f,
                   const iso_mp_obj* unused,
                   span s) {
  iso_mp_obj o;
  span_obj(s, &o);
  if (o.type == ISO_MP_UINT && o.v.u <= (uint64_t)INT64_MAX) {
    *(int64_t*)((char*)q + f->at) = (int64_t)o.v.u;
  } else {
    fault(sc, "'%s' must be a non-negative integer (got %s)", f->name,
          o.type == ISO_MP_INT ? "a negative integer"
                               : iso__proto_type_name(o.type));
  }
  return 0;
}

/* Decoded into q->permissions with its entries copied out of the
 * decoder's scratch into one block the request owns (q->mem_; only for a
 * request no fault refused so far). */
static int read_permissions(scan* sc,
                            iso_proto_req* q,
                            const field* f,
                            const iso_mp_obj* o,
                            span s) {
  iso_str items[ISO__PROTO_PERM_ITEMS];
  uint32_t used;
  char why[ISO_PROTO_ERRMSG_MAX];
  if (iso__proto_perms_decode(s.p, (size_t)(s.end - s.p), &q->permissions,
                              items, &used, why, sizeof why) != 0) {
    fault(sc, "%s", why);
  }
  if (sc->bad || used == 0) { /* a refused request needs no copy */
    return 0;
  }
  iso_str* copy = malloc(used * sizeof *copy);
  if (copy == NULL) {
    return ISO_ENOMEM;
  }
  memcpy(copy, items, used * sizeof *copy);
  iso_perm_list* lists[] = {&q->permissions.read, &q->permissions.write,
                            &q->permissions.env};
  for (int i = 0; i < 3; i++) {
    if (lists[i]->n > 0) {
      lists[i]->items = copy + (lists[i]->items - items);
    }
  }
  q->mem_ = copy;
  return 0;
}

/* ---- request decoding: the pass ----------------------------------------- */

/* Steps over a field's value; 1 if it nests too deep (a fault), 0, or
 * ISO_EPROTO (structural). */
static inline int skip_value(iso_mp_rd* r, scan* sc, const char* field) {
  /* most values are scalars: the reader's inline path steps over them */
  const uint8_t* at = r->p;
  iso_mp_obj o;
  int rc = iso_mp_read(r, &o);
  if (rc == 0 && o.type != ISO_MP_ARRAY && o.type != ISO_MP_MAP) {
    return 0;
  }
  r->p = at; /* a container (or an error, which iso_mp_skip reports too) */
  int too_deep = 0;
  rc = iso_mp_skip(r, 2, ISO_PROTO_MAX_DEPTH, &too_deep);
  if (rc != 0) {
    return structural(sc, rc, "");
  }
  if (too_deep) {
    fault(sc, "'%s' nests deeper than %d levels", field, ISO_PROTO_MAX_DEPTH);
    return 1;
  }
  return 0;
}

static int decode_batch(iso_mp_rd* r, iso_proto_msg* out, scan* top);

/* Steps over the npairs fields of a request map, recording spans. With out
 * set (the top level), a `batch` field is decoded in place. Returns 0 (a
 * semantic fault may be in sc), ISO_EPROTO (structural, in sc), or
 * ISO_ENOMEM. */
static int scan_fields(iso_mp_rd* r,
                       uint32_t npairs,
                       scan* sc,
                       iso_proto_msg* out) {
  for (uint32_t i = 0; i < npairs; i++) {
    const uint8_t* key_at = r->p;
    iso_mp_obj k;
    int rc = iso_mp_read(r, &k);
    if (rc != 0) {
      return structural(sc, rc, "");
    }
    if (k.type != ISO_MP_STR) {
      r->p = key_at;
      rc = skip_value(r, sc, "a field name");
      if (rc >= 0) {
        fault(sc, "field names must be strings (got %s)",
              iso__proto_type_name(k.type));
        rc = skip_value(r, sc, "a field");
      }
      if (rc < 0) {
        return rc;
      }
      continue;
    }
    int f = k.len > 0 ? field_index(k.data, k.len) : -1;
    if (f < 0 || has(sc, f)) {
      char name[40];
      iso__proto_printable(name, sizeof name, k.data, k.len);
      fault(sc, f < 0 ? "unknown field '%s'" : "duplicate field '%s'", name);
      rc = skip_value(r, sc, name);
      if (rc < 0) {
        return rc;
      }
      continue;
    }
    const uint8_t* start = r->p;
    if (f == F_BATCH && out != NULL) {
      rc = decode_batch(r, out, sc);
    } else {
      rc = skip_value(r, sc, k_fields[f].name);
    }
    if (rc < 0) {
      return rc;
    }
    if (rc == 1 && k_fields[f].echoed) {
      continue;
    }
    sc->present |= FIELD_BIT(f);
    sc->f[f].p = start;
    sc->f[f].end = r->p;
  }
  return 0;
}

/* A present field of k_fields: of the wrong type, or read (inline: it is
 * the inner loop of build_req). */
static inline int read_field(scan* sc, iso_proto_req* q, int f) {
  const field* row = &k_fields[f];
  if (row->type == ANY) {
    return row->read(sc, q, row, NULL, sc->f[f]);
  }
  iso_mp_obj o;
  span_obj(sc->f[f], &o);
  if ((int)o.type != row->type) {
    fault(sc, "'%s' must be %s (got %s)", row->name,
          iso__proto_type_name((iso_mp_type)row->type),
          iso__proto_type_name(o.type));
    return 0;
  }
  return row->read(sc, q, row, &o, sc->f[f]);
}

/* What the request's kind asks of the other fields: those it does not
 * take at all, those only some kinds take (refused for the others,
 * defaulted when absent), and the fields the kind needs; and whether it
 * may stand in a batch. */
static void check_kind(scan* sc, iso_proto_req* q, int in_batch) {
  const kind_def* kd = NULL;
  for (size_t i = 0; i < N_KINDS; i++) {
    if (k_kinds[i].kind == q->kind) {
      kd = &k_kinds[i];
    }
  }
  if (kd == NULL) {
    return; /* no kind: that fault is recorded already */
  }
  if (kd->alone && in_batch) {
    fault(sc, "a %s cannot be in a batch (send it alone)", kd->name);
  }
  unsigned extra = kd->takes != 0 ? sc->present & ~kd->takes : 0;
  if (extra != 0) {
    fault(sc, "%s (found '%s')", kd->takes_only,
          k_fields[__builtin_ctz(extra)].name);
  }
  for (unsigned rows = g_index.for_some_kinds; rows != 0; rows &= rows - 1) {
    int f = __builtin_ctz(rows);
    const field* row = &k_fields[f];
    iso_str* out = (iso_str*)((char*)q + row->at);
    if (!(row->kinds & KIND_BIT(q->kind))) {
      if (has(sc, f)) {
        /* the kinds that take it, for the message */
        const char* takes = "";
        for (size_t i = 0; i < N_KINDS; i++) {
          if (row->kinds & KIND_BIT(k_kinds[i].kind)) {
            takes = k_kinds[i].name;
          }
        }
        fault(sc, "'%s' is only for kind \"%s\"", row->name, takes);
      }
      out->ptr = NULL;
      out->len = 0;
    } else if (!has(sc, f) && row->dflt != NULL) {
      *out = iso_str_of(row->dflt);
    }
  }
  if (kd->needs != 0 && !(kd->needs & sc->present)) {
    fault(sc, "%s", kd->needs_missing);
  }
}

/* Interprets the spans of one request: the rows of k_fields present or
 * required, in the table's order. Faults go to sc. Returns 0 or
 * ISO_ENOMEM. */
static int build_req(scan* sc, iso_proto_req* q, int in_batch) {
  q->timeout_ms = -1;
  q->cpu_ms = -1;
  q->args.data = k_empty_array;
  q->args.len = sizeof k_empty_array;
  unsigned rows = sc->present | g_index.required[in_batch != 0];
  for (; rows != 0; rows &= rows - 1) {
    int f = __builtin_ctz(rows);
    if (!has(sc, f)) {
      fault(sc, "%s", k_fields[f].missing);
      continue;
    }
    int rc = read_field(sc, q, f);
    if (rc != 0) {
      return rc;
    }
  }
  check_kind(sc, q, in_batch);
  if (sc->bad) { /* a refused request carries no permissions */
    memset(&q->permissions, 0, sizeof q->permissions);
  }
  return 0;
}

/* "batch[3]: ", the prefix of a structural fault inside a batch (built only
 * on that path: formatting it per element would double the decode cost). */
static const char* batch_where(char* buf, size_t n, size_t index) {
  snprintf(buf, n, "batch[%zu]: ", index);
  return buf;
}

/* One element of a batch. A semantic fault marks only this element; a
 * structural one ends the message (the next element cannot be found). */
static int decode_element(iso_mp_rd* r,
                          iso_proto_req* q,
                          size_t index,
                          scan* top) {
  char where[32];
  const uint8_t* start = r->p;
  iso_mp_obj o;
  int rc = iso_mp_read(r, &o);
  if (rc != 0) {
    return structural(top, rc, batch_where(where, sizeof where, index));
  }
  scan sc;
  scan_init(&sc);
  if (o.type != ISO_MP_MAP) {
    int too_deep = 0;
    r->p = start;
    rc = iso_mp_skip(r, 1, ISO_PROTO_MAX_DEPTH, &too_deep);
    if (rc != 0) {
      return structural(top, rc, batch_where(where, sizeof where, index));
    }
    fault(&sc, "a request must be a map (got %s)",
          iso__proto_type_name(o.type));
  } else {
    rc = scan_fields(r, o.len, &sc, NULL);
    if (rc == ISO_ENOMEM) {
      return rc;
    }
    if (rc != 0) {
      top->bad = 1;
      top->fatal = 1;
      join(top->err, sizeof top->err, batch_where(where, sizeof where, index),
           sc.err);
      return ISO_EPROTO;
    }
    rc = build_req(&sc, q, 1);
    if (rc != 0) {
      return rc;
    }
  }
  if (sc.bad) {
    q->err = ISO_EPROTO;
    q->errmsg = strdup(sc.err);
    if (q->errmsg == NULL) {
      return ISO_ENOMEM;
    }
  }
  return 0;
}

static int decode_batch(iso_mp_rd* r, iso_proto_msg* out, scan* top) {
  const uint8_t* start = r->p;
  iso_mp_obj o;
  int rc = iso_mp_read(r, &o);
  if (rc != 0) {
    return structural(top, rc, "'batch': ");
  }
  if (o.type != ISO_MP_ARRAY || o.len == 0 || o.len > ISO_PROTO_MAX_BATCH) {
    if (o.type != ISO_MP_ARRAY) {
      fault(top, "'batch' must be an array (got %s)",
            iso__proto_type_name(o.type));
    } else if (o.len == 0) {
      fault(top, "'batch' is empty");
    } else {
      fault(top, "'batch' has %u requests (the limit is %d)", o.len,
            ISO_PROTO_MAX_BATCH);
    }
    r->p = start;
    rc = skip_value(r, top, "batch");
    return rc < 0 ? rc : 0;
  }
  out->reqs = calloc(o.len, sizeof *out->reqs);
  if (out->reqs == NULL) {
    return ISO_ENOMEM;
  }
  out->is_batch = 1;
  out->count = o.len;
  for (uint32_t i = 0; i < o.len; i++) {
    rc = decode_element(r, &out->reqs[i], i, top);
    if (rc != 0) {
      return rc;
    }
  }
  return 0;
}

void iso_proto_msg_close(iso_proto_msg* msg) {
  if (msg == NULL) {
    return;
  }
  for (size_t i = 0; msg->reqs != NULL && i < msg->count; i++) {
    if (msg->reqs[i].mem_ != NULL) {
      free(msg->reqs[i].mem_);
    }
    if (msg->is_batch) {
      free((char*)msg->reqs[i].errmsg);
    }
  }
  if (msg->is_batch) {
    free(msg->reqs);
  }
  memset(msg, 0, sizeof *msg);
}

int iso_proto_decode(const uint8_t* buf,
                     size_t len,
                     iso_proto_msg* out,
                     char* errbuf,
                     size_t errlen) {
  memset(out, 0, sizeof *out);
  pthread_once(&g_index.once, index_build);
  scan top;
  scan_init(&top);
  int rc = 0;
  iso_mp_rd r = {NULL, NULL};
  iso_mp_obj o = {.type = ISO_MP_NIL};
  if (len > 0 && buf != NULL) {
    iso_mp_rd_init(&r, buf, len); /* not before: NULL + 0 is undefined */
    rc = iso_mp_read(&r, &o);
  }
  if (len == 0 || buf == NULL) {
    fault(&top, "empty message");
  } else if (rc != 0) {
    structural(&top, rc, "");
    rc = 0;
  } else if (o.type != ISO_MP_MAP) {
    fault(&top, "a message must be a msgpack map (got %s)",
          iso__proto_type_name(o.type));
  } else {
    rc = scan_fields(&r, o.len, &top, out);
    if (rc == ISO_ENOMEM) {
      iso_proto_msg_close(out);
      return rc;
    }
    if (!top.bad && r.p != r.end) {
      fault(&top, "%zu trailing bytes after the message",
            (size_t)(r.end - r.p));
    }
    if (has(&top, F_BATCH)) {
      for (int f = 0; f < F_COUNT; f++) {
        if (!(g_index.envelope & FIELD_BIT(f)) && has(&top, f)) {
          fault(&top, "a batch message takes only 'v' and 'batch' (found '%s')",
                k_fields[f].name);
        }
      }
      if (!has(&top, F_V)) {
        fault(&top, "%s", k_fields[F_V].missing);
      } else {
        read_field(&top, &out->one, F_V); /* writes nothing to `one` */
      }
    } else if (!top.fatal) {
      out->reqs = &out->one;
      out->count = 1;
      if (build_req(&top, &out->one, 0) != 0) {
        iso_proto_msg_close(out);
        return ISO_ENOMEM;
      }
    }
  }
  if (!top.bad) {
    return 0;
  }
  iso_bytes id = {NULL, 0};
  if (has(&top, F_ID) && !has(&top, F_BATCH) &&
      iso_mp_strings_utf8(top.f[F_ID].p,
                          (size_t)(top.f[F_ID].end - top.f[F_ID].p))) {
    id.data = top.f[F_ID].p;
    id.len = (size_t)(top.f[F_ID].end - top.f[F_ID].p);
  }
  iso_proto_msg_close(out);
  out->err_id = id;
  if (errbuf != NULL && errlen > 0) {
    snprintf(errbuf, errlen, "%s", top.err);
  }
  return ISO_EPROTO;
}

/* ---- reply encoding ----------------------------------------------------- */

static void put_raw_or_nil(iso_mp_wr* w, iso_bytes b) {
  if (b.data == NULL || b.len == 0) {
    iso_mp_put_raw(w, k_nil, 1);
  } else {
    iso_mp_put_raw(w, b.data, b.len);
  }
}

static void put_view(iso_mp_wr* w, iso_str s) {
  iso_mp_put_text(w, s.ptr, s.ptr ? s.len : 0);
}

int iso_proto_encode_reply_open(const iso_proto_reply* rp, iso_buf* out) {
  const char* status;
  switch (rp->status) {
    case ISO_STATUS_FULFILLED:
      status = "fulfilled";
      break;
    case ISO_STATUS_REJECTED:
      status = "rejected";
      break;
    case ISO_STATUS_ERROR:
      if (!(iso_proto_code_where(rp->code) & ISO_CODE_JOB)) {
        return ISO_EINVAL;
      }
      status = "error";
      break;
    default:
      return ISO_EINVAL;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 6);
  iso_mp_put_lit(&w, "v");
  iso_mp_put_uint(&w, ISO_PROTO_VERSION);
  iso_mp_put_lit(&w, "id");
  put_raw_or_nil(&w, rp->id);
  iso_mp_put_lit(&w, "status");
  iso_mp_put_cstr(&w, status);
  if (rp->status == ISO_STATUS_FULFILLED) {
    iso_mp_put_lit(&w, "value");
    put_raw_or_nil(&w, rp->value);
  } else if (rp->status == ISO_STATUS_REJECTED) {
    iso_mp_put_lit(&w, "error");
    iso_mp_put_map(&w, 3);
    iso_mp_put_lit(&w, "name");
    put_view(&w, rp->name);
    iso_mp_put_lit(&w, "message");
    put_view(&w, rp->message);
    iso_mp_put_lit(&w, "stack");
    put_view(&w, rp->stack);
  } else {
    iso_mp_put_lit(&w, "error");
    iso_mp_put_map(&w, 2);
    iso_mp_put_lit(&w, "code");
    iso_mp_put_cstr(&w, iso_proto_code_name(rp->code));
    iso_mp_put_lit(&w, "message");
    put_view(&w, rp->message);
  }
  iso_mp_put_lit(&w, "logs");
  iso_mp_put_array(&w, rp->nlogs);
  for (size_t i = 0; i < rp->nlogs; i++) {
    iso_mp_put_array(&w, 2);
    iso_mp_put_cstr(&w, iso_log_level_name(rp->logs[i].level));
    iso_mp_put_text(&w, rp->logs[i].text,
                    rp->logs[i].text ? rp->logs[i].len : 0);
  }
  if (w.err != 0) {
    out->len = mark;
    return w.err;
  }
  return 0;
}

int iso_proto_encode_ping(const iso_proto_ping* p, iso_buf* out) {
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 4);
  iso_mp_put_lit(&w, "ready");
  iso_mp_put_bool(&w, p->ready != 0);
  iso_mp_put_lit(&w, "workers");
  iso_mp_put_int(&w, p->workers);
  iso_mp_put_lit(&w, "in_flight");
  iso_mp_put_int(&w, p->in_flight);
  iso_mp_put_lit(&w, "version");
  iso_mp_put_cstr(&w, p->version != NULL ? p->version : "");
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

/* The stats map's integer keys, in their order on the wire. */
#define STATS_KEY(k) \
  { k, sizeof(k) - 1 }
static const struct {
  const char* text;
  size_t len;
} k_stats_keys[] = {
    STATS_KEY("worker"), STATS_KEY("queue_us"), STATS_KEY("run_us"),
    STATS_KEY("cpu_us"), STATS_KEY("wall_us"),  STATS_KEY("heap_bytes"),
    STATS_KEY("ops"),
};
#undef STATS_KEY

/* One shape, written straight into one reservation: the front closes
 * every reply a worker made with it, so it costs what a memcpy does. */
int iso_proto_encode_stats(const iso_stats* st, iso_buf* out) {
  if (iso_buf_reserve(out, ISO_PROTO_STATS_MAX) != 0) {
    return ISO_ENOMEM;
  }
  const int64_t v[] = {st->worker,  st->queue_us,   st->run_us, st->cpu_us,
                       st->wall_us, st->heap_bytes, st->ops};
  const char* limit = iso_limit_name(st->limit);
  uint8_t* p = out->data + out->len;
  memcpy(p, "\xa5stats", 6);
  p += 6;
  *p++ = (uint8_t)(0x80 | (limit != NULL ? 8 : 7)); /* a fixmap */
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    size_t n = k_stats_keys[i].len; /* a fixstr: under 32 bytes */
    *p = (uint8_t)(0xa0 | n);
    memcpy(p + 1, k_stats_keys[i].text, n);
    p = iso_mp_int_at(p + 1 + n, v[i]);
  }
  if (limit != NULL) {
    size_t n = strlen(limit); /* "memory" at most: a fixstr */
    memcpy(p, "\xa5limit", 6);
    p[6] = (uint8_t)(0xa0 | n);
    memcpy(p + 7, limit, n);
    p += 7 + n;
  }
  out->len = (size_t)(p - out->data);
  return 0;
}

int iso_proto_encode_reply(const iso_proto_reply* rp, iso_buf* out) {
  size_t mark = out->len;
  int rc = iso_proto_encode_reply_open(rp, out);
  if (rc == 0 && (rc = iso_proto_encode_stats(&rp->stats, out)) != 0) {
    out->len = mark;
  }
  return rc;
}

int iso_proto_encode_batch_header(size_t n, iso_buf* out) {
  if (n > UINT32_MAX) {
    return ISO_EINVAL;
  }
  size_t mark = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  iso_mp_put_map(&w, 2);
  iso_mp_put_lit(&w, "v");
  iso_mp_put_uint(&w, ISO_PROTO_VERSION);
  iso_mp_put_lit(&w, "batch");
  iso_mp_put_array(&w, n);
  if (w.err != 0) {
    out->len = mark;
  }
  return w.err;
}

int iso_proto_encode_batch_reply(const iso_proto_reply* replies,
                                 size_t n,
                                 iso_buf* out) {
  size_t mark = out->len;
  int rc = iso_proto_encode_batch_header(n, out);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    rc = iso_proto_encode_reply(&replies[i], out);
  }
  if (rc != 0) {
    out->len = mark;
  }
  return rc;
}
