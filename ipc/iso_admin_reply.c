/* iso_admin_reply.c: the admin protocol's reply codec (see iso_admin.h):
 * one table of fields per command's result, which the encoder (the
 * service) and the decoder (poolctl) both walk.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_admin.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "iso_utf8.h"

/* How a member is sent and read. */
typedef enum ftype {
  F_INT,   /* int64_t: an integer (nil: ISO_ADMIN_NO_INT) */
  F_WHOLE, /* double: an integer when whole, else float 64 (nil: NaN) */
  F_DEC1,  /* double: float 64 rounded to 1 decimal (nil: NaN) */
  F_DEC3,  /* double: float 64 rounded to 3 decimals (nil: NaN) */
  F_BOUND, /* double: a bucket bound as %g (iso_admin_bucket; nil: not
            * finite) */
  F_STR,   /* iso_admin_str */
  F_RAW,   /* iso_bytes: one msgpack value as it is (nil: {NULL, 0}) */
  F_TRUE,  /* int: the key with true when 1, no key when 0 */
  F_MAP,   /* a map of sub's fields, members of the same struct */
  F_TUPLE, /* an array of sub's fields by position */
  F_LIST,  /* an array of elem, esize bytes each: pointer at off, count
            * (size_t) at noff */
  F_DICT   /* a map of data keys: as F_LIST, each element an iso_admin_str
            * (the key) at its start and elem (the value) */
} ftype;

typedef struct field field;
typedef struct fields {
  const field* f;
  size_t n;
} fields;

struct field {
  const char* key; /* NULL in a tuple */
  ftype type;
  size_t off;
  const fields* sub; /* F_MAP, F_TUPLE */
  const field* elem; /* F_LIST, F_DICT: off within the element */
  size_t esize;      /* F_LIST, F_DICT */
  size_t noff;       /* F_LIST, F_DICT */
};

#define FIELDS(a) \
  { a, sizeof(a) / sizeof(a[0]) }
#define KEY(name, t, type_, member) \
  { .key = name, .type = type_, .off = offsetof(t, member) }

static const field kSizeF[] = {
    KEY("configured", iso_admin_size, F_INT, configured),
    KEY("alive", iso_admin_size, F_INT, alive),
};
static const fields kSize = FIELDS(kSizeF);

/* status's `workers` and resize's: an iso_admin_size member */
#define SIZE_KEY(name, t, member) \
  { .key = name, .type = F_MAP, .off = offsetof(t, member), .sub = &kSize }

static const field kStrElem = {.type = F_STR};
static const field kIntElem = {.type = F_INT};
static const field kErrorCountElem = {
    .type = F_INT,
    .off = offsetof(iso_admin_error_count, count)};

static const field kTotalsF[] = {
    KEY("accepted", iso_admin_status, F_INT, accepted),
    KEY("fulfilled", iso_admin_status, F_INT, fulfilled),
    KEY("rejected", iso_admin_status, F_INT, rejected),
    {.key = "errors",
     .type = F_DICT,
     .off = offsetof(iso_admin_status, errors),
     .elem = &kErrorCountElem,
     .esize = sizeof(iso_admin_error_count),
     .noff = offsetof(iso_admin_status, nerrors)},
};
static const fields kTotals = FIELDS(kTotalsF);

static const field kRateF[] = {
    KEY("1s", iso_admin_status, F_DEC3, rate_1s),
    KEY("10s", iso_admin_status, F_DEC3, rate_10s),
    KEY("60s", iso_admin_status, F_DEC3, rate_60s),
};
static const fields kRate = FIELDS(kRateF);

static const field kProcsF[] = {
    KEY("active", iso_admin_status, F_INT, procs_active),
    KEY("spare", iso_admin_status, F_INT, procs_spare),
    KEY("starting", iso_admin_status, F_INT, procs_starting),
    KEY("restarts", iso_admin_status, F_INT, procs_restarts),
    KEY("jobs_lost", iso_admin_status, F_INT, jobs_lost),
    KEY("last_death", iso_admin_status, F_STR, last_death),
    KEY("last_death_ago_ms", iso_admin_status, F_WHOLE, last_death_ago_ms),
};
static const fields kProcs = FIELDS(kProcsF);

static const field kRecyclingF[] = {
    KEY("spare_isolates", iso_admin_status, F_INT, spare_isolates),
    KEY("recycle_after_jobs", iso_admin_status, F_INT, recycle_after_jobs),
    KEY("heap_soft_mb", iso_admin_status, F_INT, heap_soft_mb),
    KEY("recycle_heap_mb", iso_admin_status, F_INT, recycle_heap_mb),
    KEY("idle_timeout_s", iso_admin_status, F_INT, idle_timeout_s),
    KEY("spares_ready", iso_admin_status, F_INT, spares_ready),
    KEY("spare_builds", iso_admin_status, F_INT, spare_builds),
    KEY("recycles", iso_admin_status, F_INT, recycles),
    KEY("recycles_cold", iso_admin_status, F_INT, recycles_cold),
};
static const fields kRecycling = FIELDS(kRecyclingF);

static const field kCodeCacheF[] = {
    KEY("limit_mb", iso_admin_status, F_INT, code_limit_mb),
    KEY("hits", iso_admin_status, F_INT, code_hits),
    KEY("misses", iso_admin_status, F_INT, code_misses),
    KEY("rejected", iso_admin_status, F_INT, code_rejected),
    KEY("evicted", iso_admin_status, F_INT, code_evicted),
    KEY("made", iso_admin_status, F_INT, code_made),
    KEY("from_front", iso_admin_status, F_INT, code_from_front),
    KEY("entries", iso_admin_status, F_INT, code_entries),
    KEY("bytes", iso_admin_status, F_INT, code_bytes),
    KEY("front_entries", iso_admin_status, F_INT, code_front_entries),
    KEY("front_bytes", iso_admin_status, F_INT, code_front_bytes),
};
static const fields kCodeCache = FIELDS(kCodeCacheF);

static const field kStatusF[] = {
    KEY("version", iso_admin_status, F_STR, version),
    KEY("uptime_ms", iso_admin_status, F_WHOLE, uptime_ms),
    {.key = "listen",
     .type = F_LIST,
     .off = offsetof(iso_admin_status, listen),
     .elem = &kStrElem,
     .esize = sizeof(iso_admin_str),
     .noff = offsetof(iso_admin_status, nlisten)},
    KEY("admin", iso_admin_status, F_STR, admin),
    KEY("metrics", iso_admin_status, F_STR, metrics),
    KEY("kv", iso_admin_status, F_STR, kv),
    KEY("state", iso_admin_status, F_STR, state),
    SIZE_KEY("workers", iso_admin_status, workers),
    KEY("queue", iso_admin_status, F_INT, queue),
    KEY("inflight", iso_admin_status, F_INT, inflight),
    {.key = "totals", .type = F_MAP, .sub = &kTotals},
    {.key = "rate", .type = F_MAP, .sub = &kRate},
    {.key = "processes", .type = F_MAP, .sub = &kProcs},
    {.key = "recycling", .type = F_MAP, .sub = &kRecycling},
    {.key = "code_cache", .type = F_MAP, .sub = &kCodeCache},
};

static const field kWorkerF[] = {
    KEY("id", iso_admin_worker, F_INT, id),
    KEY("state", iso_admin_worker, F_STR, state),
    KEY("inflight", iso_admin_worker, F_INT, inflight),
    KEY("done", iso_admin_worker, F_INT, done),
    KEY("heap_used", iso_admin_worker, F_WHOLE, heap_used),
    KEY("heap_limit", iso_admin_worker, F_WHOLE, heap_limit),
    KEY("warm_modules", iso_admin_worker, F_INT, warm_modules),
    KEY("last_error", iso_admin_worker, F_STR, last_error),
    KEY("process", iso_admin_worker, F_STR, process),
    KEY("pid", iso_admin_worker, F_INT, pid),
};
static const fields kWorker = FIELDS(kWorkerF);
static const field kWorkerElem = {.type = F_MAP, .sub = &kWorker};

static const field kWorkersF[] = {
    {.key = "workers",
     .type = F_LIST,
     .off = offsetof(iso_admin_workers, list),
     .elem = &kWorkerElem,
     .esize = sizeof(iso_admin_worker),
     .noff = offsetof(iso_admin_workers, n)},
};

static const field kJobF[] = {
    KEY("id", iso_admin_job, F_INT, id),
    KEY("client_id", iso_admin_job, F_RAW, client_id),
    KEY("kind", iso_admin_job, F_STR, kind),
    KEY("module", iso_admin_job, F_STR, module),
    KEY("worker", iso_admin_job, F_INT, worker),
    KEY("age_ms", iso_admin_job, F_WHOLE, age_ms),
};
static const fields kJob = FIELDS(kJobF);
static const field kJobElem = {.type = F_MAP, .sub = &kJob};

static const field kJobsF[] = {
    {.key = "jobs",
     .type = F_LIST,
     .off = offsetof(iso_admin_jobs, list),
     .elem = &kJobElem,
     .esize = sizeof(iso_admin_job),
     .noff = offsetof(iso_admin_jobs, n)},
    KEY("truncated", iso_admin_jobs, F_TRUE, truncated),
};

static const field kBucketF[] = {
    {.type = F_BOUND, .off = offsetof(iso_admin_bucket, le)},
    {.type = F_INT, .off = offsetof(iso_admin_bucket, count)},
};
static const fields kBucket = FIELDS(kBucketF);
static const field kBucketElem = {.type = F_TUPLE, .sub = &kBucket};

static const field kHistF[] = {
    KEY("count", iso_admin_hist, F_INT, count),
    KEY("sum", iso_admin_hist, F_INT, sum),
    KEY("p50", iso_admin_hist, F_DEC1, p50),
    KEY("p90", iso_admin_hist, F_DEC1, p90),
    KEY("p99", iso_admin_hist, F_DEC1, p99),
    KEY("p999", iso_admin_hist, F_DEC1, p999),
    KEY("max", iso_admin_hist, F_WHOLE, max),
    {.key = "buckets",
     .type = F_LIST,
     .off = offsetof(iso_admin_hist, buckets),
     .elem = &kBucketElem,
     .esize = sizeof(iso_admin_bucket),
     .noff = offsetof(iso_admin_hist, nbuckets)},
};
static const fields kHist = FIELDS(kHistF);

static const field kKindF[] = {
    {.key = "queue",
     .type = F_MAP,
     .off = offsetof(iso_admin_kind, queue),
     .sub = &kHist},
    {.key = "run",
     .type = F_MAP,
     .off = offsetof(iso_admin_kind, run),
     .sub = &kHist},
    {.key = "total",
     .type = F_MAP,
     .off = offsetof(iso_admin_kind, total),
     .sub = &kHist},
    {.key = "cpu",
     .type = F_MAP,
     .off = offsetof(iso_admin_kind, cpu),
     .sub = &kHist},
};
static const fields kKind = FIELDS(kKindF);
static const field kKindElem = {.type = F_MAP, .sub = &kKind};

static const field kStatsF[] = {
    {.key = "kinds",
     .type = F_DICT,
     .off = offsetof(iso_admin_stats, kinds),
     .elem = &kKindElem,
     .esize = sizeof(iso_admin_kind),
     .noff = offsetof(iso_admin_stats, nkinds)},
};

static const field kCancelF[] = {KEY("job", iso_admin_cancel, F_INT, job)};
static const field kResizeF[] = {
    SIZE_KEY("workers", iso_admin_resize, workers)};
static const field kRecycleF[] = {
    {.key = "workers",
     .type = F_LIST,
     .off = offsetof(iso_admin_recycle, workers),
     .elem = &kIntElem,
     .esize = sizeof(int64_t),
     .noff = offsetof(iso_admin_recycle, n)},
};
static const field kReloadF[] = {
    KEY("realms", iso_admin_reload, F_INT, realms)};
static const field kStateF[] = {KEY("state", iso_admin_state, F_STR, state)};

static const field kErrorF[] = {
    KEY("code", iso_admin_error, F_STR, code_name),
    KEY("message", iso_admin_error, F_STR, message),
};
static const fields kError = FIELDS(kErrorF);

/* Each command's result: its fields (after "ok") and its union member. */
static const struct result {
  fields t;
  size_t off;
} kResults[] = {
    [ISO_ADMIN_STATUS] = {FIELDS(kStatusF), offsetof(iso_admin_reply, status)},
    [ISO_ADMIN_WORKERS] = {FIELDS(kWorkersF),
                           offsetof(iso_admin_reply, workers)},
    [ISO_ADMIN_JOBS] = {FIELDS(kJobsF), offsetof(iso_admin_reply, jobs)},
    [ISO_ADMIN_CANCEL] = {FIELDS(kCancelF), offsetof(iso_admin_reply, cancel)},
    [ISO_ADMIN_STATS] = {FIELDS(kStatsF), offsetof(iso_admin_reply, stats)},
    [ISO_ADMIN_RESIZE] = {FIELDS(kResizeF), offsetof(iso_admin_reply, resize)},
    [ISO_ADMIN_RECYCLE] = {FIELDS(kRecycleF),
                           offsetof(iso_admin_reply, recycle)},
    [ISO_ADMIN_RELOAD] = {FIELDS(kReloadF), offsetof(iso_admin_reply, reload)},
    [ISO_ADMIN_DRAIN] = {FIELDS(kStateF), offsetof(iso_admin_reply, state)},
    [ISO_ADMIN_SHUTDOWN] = {FIELDS(kStateF), offsetof(iso_admin_reply, state)},
};

static const struct result* result_of(iso_admin_cmd cmd) {
  size_t i = (size_t)cmd;
  return i > 0 && i < sizeof(kResults) / sizeof(kResults[0]) &&
                 kResults[i].t.f != NULL
             ? &kResults[i]
             : NULL;
}

/* ---- encoding ---- */

/* A float with `places` decimals, as "%.*f" wrote it into the JSON text
 * the replies once were (rounded in decimal, then read back). */
static void put_decimal(iso_mp_wr* w, double x, int places) {
  if (isnan(x)) {
    iso_mp_put_nil(w);
    return;
  }
  if (isfinite(x)) {
    char text[400];
    snprintf(text, sizeof text, "%.*f", places, x);
    x = strtod(text, NULL);
  }
  iso_mp_put_double(w, x);
}

/* A bucket bound as "%g" wrote it into JSON: digits only read back as an
 * integer, anything else ("1.25", "1e+06", "-0") as a float 64. */
static void put_bound(iso_mp_wr* w, double x) {
  if (!isfinite(x)) {
    iso_mp_put_nil(w);
    return;
  }
  char text[64];
  snprintf(text, sizeof text, "%g", x);
  const char* digits = text + (text[0] == '-');
  if (digits[strspn(digits, "0123456789")] == '\0' && strcmp(text, "-0") != 0) {
    iso_mp_put_int(w, strtoll(text, NULL, 10));
  } else {
    iso_mp_put_double(w, strtod(text, NULL));
  }
}

static void put_fields(iso_mp_wr* w, const fields* t, const char* base);

static void put_value(iso_mp_wr* w, const field* f, const char* base) {
  const char* at = base + f->off;
  switch (f->type) {
    case F_INT: {
      int64_t v;
      memcpy(&v, at, sizeof v);
      if (v == ISO_ADMIN_NO_INT) {
        iso_mp_put_nil(w);
      } else {
        iso_mp_put_int(w, v);
      }
      break;
    }
    case F_WHOLE: {
      double v;
      memcpy(&v, at, sizeof v);
      if (isnan(v)) {
        iso_mp_put_nil(w);
      } else if (v >= -0x1p63 && v < 0x1p63 && v == (double)(int64_t)v) {
        /* the range first: casting 1e300 to int64_t is undefined */
        iso_mp_put_int(w, (int64_t)v);
      } else {
        iso_mp_put_double(w, v);
      }
      break;
    }
    case F_DEC1:
    case F_DEC3: {
      double v;
      memcpy(&v, at, sizeof v);
      put_decimal(w, v, f->type == F_DEC1 ? 1 : 3);
      break;
    }
    case F_BOUND: {
      double v;
      memcpy(&v, at, sizeof v);
      put_bound(w, v);
      break;
    }
    case F_STR: {
      const iso_admin_str* s = (const iso_admin_str*)at;
      if (s->ptr == NULL) {
        iso_mp_put_nil(w);
      } else {
        iso_mp_put_text(w, s->ptr, s->len);
      }
      break;
    }
    case F_RAW: {
      const iso_bytes* b = (const iso_bytes*)at;
      if (b->data == NULL || b->len == 0) {
        iso_mp_put_nil(w);
      } else {
        iso_mp_put_raw(w, b->data, b->len);
      }
      break;
    }
    case F_TRUE:
      iso_mp_put_bool(w, 1);
      break;
    case F_MAP:
      put_fields(w, f->sub, at);
      break;
    case F_TUPLE:
      iso_mp_put_array(w, f->sub->n);
      for (size_t i = 0; i < f->sub->n; i++) {
        put_value(w, &f->sub->f[i], at);
      }
      break;
    case F_LIST:
    case F_DICT: {
      const char* items;
      size_t n;
      memcpy(&items, at, sizeof items);
      memcpy(&n, base + f->noff, sizeof n);
      if (items == NULL) {
        n = 0;
      }
      if (f->type == F_LIST) {
        iso_mp_put_array(w, n);
      } else {
        iso_mp_put_map(w, n);
      }
      for (size_t i = 0; i < n; i++) {
        const char* item = items + i * f->esize;
        if (f->type == F_DICT) {
          const iso_admin_str* key = (const iso_admin_str*)item;
          iso_mp_put_text(w, key->ptr != NULL ? key->ptr : "",
                          key->ptr != NULL ? key->len : 0);
        }
        put_value(w, f->elem, item);
      }
      break;
    }
  }
}

/* Is f sent? (F_TRUE only when set.) */
static int sent(const field* f, const char* base) {
  int v;
  if (f->type != F_TRUE) {
    return 1;
  }
  memcpy(&v, base + f->off, sizeof v);
  return v != 0;
}

static void put_fields(iso_mp_wr* w, const fields* t, const char* base) {
  size_t n = 0;
  for (size_t i = 0; i < t->n; i++) {
    n += sent(&t->f[i], base);
  }
  iso_mp_put_map(w, n);
  for (size_t i = 0; i < t->n; i++) {
    if (sent(&t->f[i], base)) {
      iso_mp_put_cstr(w, t->f[i].key);
      put_value(w, &t->f[i], base);
    }
  }
}

int iso_admin_encode_reply(const iso_admin_reply* r, iso_buf* out) {
  const fields* t;
  const char* base;
  iso_admin_error e;
  if (r->ok) {
    const struct result* res = result_of(r->cmd);
    if (res == NULL) {
      return ISO_EINVAL;
    }
    t = &res->t;
    base = (const char*)r + res->off;
  } else {
    if (!(iso_proto_code_where(r->error.code) & ISO_CODE_ADMIN)) {
      return ISO_EINVAL;
    }
    e = r->error;
    e.code_name = iso_admin_str_of(iso_proto_code_name(e.code));
    if (e.message.ptr == NULL) {
      e.message = iso_admin_str_of("");
    }
    t = &kError;
    base = (const char*)&e;
  }
  size_t at = out->len;
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  /* {ok, the fields}: put_fields's map with one more key in front */
  size_t n = 1;
  for (size_t i = 0; i < t->n; i++) {
    n += sent(&t->f[i], base);
  }
  iso_mp_put_map(&w, n);
  iso_mp_put_lit(&w, "ok");
  iso_mp_put_bool(&w, r->ok != 0);
  for (size_t i = 0; i < t->n; i++) {
    if (sent(&t->f[i], base)) {
      iso_mp_put_cstr(&w, t->f[i].key);
      put_value(&w, &t->f[i], base);
    }
  }
  if (w.err != 0) {
    out->len = at;
    return w.err;
  }
  return 0;
}

/* ---- decoding ---- */

/* What the decoder allocated: a chain of blocks, freed together. */
typedef struct block {
  struct block* next;
  max_align_t data[];
} block;

typedef struct dec {
  iso_mp_rd r;
  iso_admin_reply* out;
  size_t budget; /* bytes it may still allocate */
  int err;
} dec;

/* An array of n elements of size bytes, zeroed; an empty one is a
 * non-NULL pointer too (present, with nothing in it). NULL on error
 * (d->err set). */
static void* alloc_items(dec* d, size_t n, size_t size) {
  static const max_align_t kNone;
  if (n == 0) {
    return (void*)&kNone;
  }
  if (n > (SIZE_MAX - sizeof(block)) / size) {
    d->err = ISO_ETOOBIG;
    return NULL;
  }
  size_t bytes = sizeof(block) + n * size;
  if (bytes > d->budget) {
    d->err = ISO_ETOOBIG;
    return NULL;
  }
  block* b = calloc(1, bytes);
  if (b == NULL) {
    d->err = ISO_ENOMEM;
    return NULL;
  }
  d->budget -= bytes;
  b->next = d->out->mem_;
  d->out->mem_ = b;
  return b->data;
}

/* Members a reply lacks are absent: ISO_ADMIN_NO_INT, NaN, NULL. */
static void set_absent(const fields* t, char* base);

static void set_absent_field(const field* f, char* base) {
  static const double kNaN = NAN;
  static const int64_t kNoInt = ISO_ADMIN_NO_INT;
  char* at = base + f->off;
  switch (f->type) {
    case F_INT:
      memcpy(at, &kNoInt, sizeof kNoInt);
      break;
    case F_WHOLE:
    case F_DEC1:
    case F_DEC3:
    case F_BOUND:
      memcpy(at, &kNaN, sizeof kNaN);
      break;
    case F_STR:
      memset(at, 0, sizeof(iso_admin_str));
      break;
    case F_RAW:
      memset(at, 0, sizeof(iso_bytes));
      break;
    case F_TRUE:
      memset(at, 0, sizeof(int));
      break;
    case F_MAP:
    case F_TUPLE:
      set_absent(f->sub, at);
      break;
    case F_LIST:
    case F_DICT:
      memset(at, 0, sizeof(void*));
      memset(base + f->noff, 0, sizeof(size_t));
      break;
  }
}

static void set_absent(const fields* t, char* base) {
  for (size_t i = 0; i < t->n; i++) {
    set_absent_field(&t->f[i], base);
  }
}

/* Steps over the rest of the value whose header o was read from start (a
 * container's elements; nothing for a scalar). */
static void skip_rest(dec* d, const uint8_t* start, const iso_mp_obj* o) {
  int too_deep = 0;
  if (o->type != ISO_MP_ARRAY && o->type != ISO_MP_MAP) {
    return;
  }
  d->r.p = start;
  if (iso_mp_skip(&d->r, 1, ISO_ADMIN_REPLY_MAX_DEPTH, &too_deep) != 0) {
    d->err = ISO_EPROTO; /* not after iso_mp_one said yes */
  }
}

static void skip_value(dec* d) {
  iso_mp_obj o;
  const uint8_t* start = d->r.p;
  if (iso_mp_read(&d->r, &o) != 0) {
    d->err = ISO_EPROTO;
    return;
  }
  skip_rest(d, start, &o);
}

/* An integer, or a float that holds one (within +-9e15); else absent. */
static int64_t int_of(const iso_mp_obj* o) {
  if (o->type == ISO_MP_UINT) {
    return o->v.u > INT64_MAX ? INT64_MAX : (int64_t)o->v.u;
  }
  if (o->type == ISO_MP_INT) {
    return o->v.i;
  }
  if ((o->type == ISO_MP_F32 || o->type == ISO_MP_F64) && o->v.f >= -9e15 &&
      o->v.f <= 9e15 && o->v.f == (double)(int64_t)o->v.f) {
    return (int64_t)o->v.f;
  }
  return ISO_ADMIN_NO_INT;
}

/* Any number but NaN, as a double; else NaN (absent). */
static double num_of(const iso_mp_obj* o) {
  int64_t i;
  if (o->type == ISO_MP_UINT || o->type == ISO_MP_INT) {
    i = int_of(o);
    return (double)i;
  }
  if (o->type == ISO_MP_F32 || o->type == ISO_MP_F64) {
    return o->v.f; /* NaN stays NaN: absent */
  }
  return NAN;
}

static iso_admin_str str_of(const iso_mp_obj* o) {
  iso_admin_str s = {NULL, 0, o->type == ISO_MP_NIL};
  if (o->type == ISO_MP_STR) {
    s.ptr = (const char*)o->data;
    s.len = o->len;
  }
  return s;
}

static void get_map(dec* d, const fields* t, char* base, uint32_t npairs);

/* An admin code by its name; ISO_CODE_UNKNOWN for any other text. */
static iso_proto_code admin_code(const iso_admin_str* s) {
#define ISO_ADMIN_CODE_MATCH(name, str, where)                         \
  if (((where)&ISO_CODE_ADMIN) && s->ptr != NULL &&                    \
      s->len == sizeof(str) - 1 && memcmp(s->ptr, str, s->len) == 0) { \
    return ISO_CODE_##name;                                            \
  }
  ISO_PROTO_CODE_TABLE(ISO_ADMIN_CODE_MATCH)
#undef ISO_ADMIN_CODE_MATCH
  return ISO_CODE_UNKNOWN;
}

/* Reads one value into f's member(s) of base. */
static void get_value(dec* d, const field* f, char* base) {
  char* at = base + f->off;
  const uint8_t* start = d->r.p;
  iso_mp_obj o;
  if (iso_mp_read(&d->r, &o) != 0) {
    d->err = ISO_EPROTO;
    return;
  }
  switch (f->type) {
    case F_INT: {
      int64_t v = int_of(&o);
      memcpy(at, &v, sizeof v);
      break;
    }
    case F_WHOLE:
    case F_DEC1:
    case F_DEC3:
    case F_BOUND: {
      double v = num_of(&o);
      memcpy(at, &v, sizeof v);
      break;
    }
    case F_STR: {
      iso_admin_str s = str_of(&o);
      memcpy(at, &s, sizeof s);
      break;
    }
    case F_RAW:
      skip_rest(d, start, &o);
      ((iso_bytes*)at)->data = start;
      ((iso_bytes*)at)->len = (size_t)(d->r.p - start);
      return;
    case F_TRUE: {
      int v = o.type == ISO_MP_BOOL && o.v.b;
      memcpy(at, &v, sizeof v);
      break;
    }
    case F_MAP:
      if (o.type != ISO_MP_MAP) {
        break;
      }
      get_map(d, f->sub, at, o.len);
      return;
    case F_TUPLE:
      if (o.type != ISO_MP_ARRAY) {
        break;
      }
      for (uint32_t i = 0; i < o.len && d->err == 0; i++) {
        if (i < f->sub->n) {
          get_value(d, &f->sub->f[i], at);
        } else {
          skip_value(d);
        }
      }
      return;
    case F_LIST:
    case F_DICT: {
      if (o.type != (f->type == F_LIST ? ISO_MP_ARRAY : ISO_MP_MAP)) {
        break;
      }
      size_t n = o.len;
      char* items = alloc_items(d, n, f->esize);
      if (items == NULL) {
        return;
      }
      for (size_t i = 0; i < n && d->err == 0; i++) {
        char* item = items + i * f->esize;
        set_absent_field(f->elem, item);
        if (f->type == F_DICT) {
          const uint8_t* kstart = d->r.p;
          iso_mp_obj k;
          if (iso_mp_read(&d->r, &k) != 0) {
            d->err = ISO_EPROTO;
            return;
          }
          *(iso_admin_str*)item = str_of(&k);
          skip_rest(d, kstart, &k);
        }
        get_value(d, f->elem, item);
      }
      memcpy(at, &items, sizeof items);
      memcpy(base + f->noff, &n, sizeof n);
      return;
    }
  }
  skip_rest(d, start, &o); /* of another type: absent, stepped over */
}

/* The npairs pairs of a map into t's fields of base; the first of
 * duplicate keys counts, unknown and non-string keys are stepped over. */
static void get_map(dec* d, const fields* t, char* base, uint32_t npairs) {
  uint64_t seen = 0;
  for (uint32_t i = 0; i < npairs && d->err == 0; i++) {
    const uint8_t* kstart = d->r.p;
    iso_mp_obj k;
    if (iso_mp_read(&d->r, &k) != 0) {
      d->err = ISO_EPROTO;
      return;
    }
    const field* f = NULL;
    size_t j = 0;
    if (k.type == ISO_MP_STR) {
      for (; j < t->n; j++) {
        if (iso_mp_str_is(&k, t->f[j].key)) {
          f = &t->f[j];
          break;
        }
      }
    }
    skip_rest(d, kstart, &k);
    if (f != NULL && !(seen & ((uint64_t)1 << j))) {
      seen |= (uint64_t)1 << j;
      get_value(d, f, base);
    } else {
      skip_value(d);
    }
  }
}

/* The first value of key in the map at the reader (its header read: o);
 * the reader is left past it. 1 if found. */
static int find_key(iso_mp_rd* r,
                    const iso_mp_obj* map,
                    const char* key,
                    iso_mp_obj* val) {
  for (uint32_t i = 0; i < map->len; i++) {
    iso_mp_obj k;
    int too_deep = 0;
    const uint8_t* at = r->p;
    if (iso_mp_read(r, &k) != 0) {
      return 0;
    }
    if (k.type == ISO_MP_ARRAY || k.type == ISO_MP_MAP) {
      r->p = at;
      if (iso_mp_skip(r, 1, ISO_ADMIN_REPLY_MAX_DEPTH, &too_deep) != 0) {
        return 0;
      }
    }
    int match = iso_mp_str_is(&k, key);
    at = r->p;
    if (match) {
      return iso_mp_read(r, val) == 0;
    }
    if (iso_mp_skip(r, 1, ISO_ADMIN_REPLY_MAX_DEPTH, &too_deep) != 0) {
      return 0;
    }
  }
  return 0;
}

/* A map, exactly one value, not too deep: the header in *map. */
static int read_map(const uint8_t* msg,
                    size_t len,
                    iso_mp_rd* r,
                    iso_mp_obj* map) {
  if (msg == NULL || iso_mp_one(msg, len, ISO_ADMIN_REPLY_MAX_DEPTH) != 0) {
    return ISO_EPROTO;
  }
  iso_mp_rd_init(r, msg, len);
  return iso_mp_read(r, map) == 0 && map->type == ISO_MP_MAP ? 0 : ISO_EPROTO;
}

int iso_admin_reply_is_job(const uint8_t* msg, size_t len) {
  iso_mp_rd r;
  iso_mp_obj map, v;
  return read_map(msg, len, &r, &map) == 0 &&
         find_key(&r, &map, "status", &v) && v.type == ISO_MP_STR;
}

int iso_admin_decode_reply(iso_admin_cmd cmd,
                           const uint8_t* msg,
                           size_t len,
                           iso_admin_reply* out) {
  memset(out, 0, sizeof(*out));
  out->cmd = cmd;
  const struct result* res = result_of(cmd);
  if (res == NULL) {
    return ISO_EINVAL;
  }
  iso_mp_rd r;
  iso_mp_obj map, ok;
  if (read_map(msg, len, &r, &map) != 0 || !find_key(&r, &map, "ok", &ok) ||
      ok.type != ISO_MP_BOOL) {
    return ISO_EPROTO;
  }
  out->ok = ok.v.b;
  dec d = {.out = out};
  d.budget =
      len <= (SIZE_MAX - ISO_ADMIN_REPLY_MEM_SLACK) / ISO_ADMIN_REPLY_MEM_FACTOR
          ? len * ISO_ADMIN_REPLY_MEM_FACTOR + ISO_ADMIN_REPLY_MEM_SLACK
          : SIZE_MAX;
  iso_mp_rd_init(&d.r, msg, len);
  iso_mp_read(&d.r, &map);
  /* "ok" is one more field, which the tables leave out: as an unknown key
   * it is stepped over */
  if (out->ok) {
    char* base = (char*)out + res->off;
    set_absent(&res->t, base);
    get_map(&d, &res->t, base, map.len);
  } else {
    set_absent(&kError, (char*)&out->error);
    get_map(&d, &kError, (char*)&out->error, map.len);
    out->error.code = admin_code(&out->error.code_name);
  }
  if (d.err != 0) {
    iso_admin_reply_close(out);
    out->cmd = cmd;
    return d.err;
  }
  return 0;
}

void iso_admin_reply_close(iso_admin_reply* r) {
  if (r == NULL) {
    return;
  }
  for (block* b = r->mem_; b != NULL;) {
    block* next = b->next;
    free(b);
    b = next;
  }
  memset(r, 0, sizeof(*r));
}
