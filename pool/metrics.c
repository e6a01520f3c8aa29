/* metrics.c: lock-free job counters, per-second rates and log-linear
 * latency histograms, with snapshots and the Prometheus exposition (see
 * metrics.h for the API and the DESIGN note). */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "iso_err.h"

/* calloc'd counters must be valid zeroed atomics: true of lock-free ones,
 * which have the representation of the plain type. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

typedef _Atomic uint64_t counter;

#define RING 64 /* per-second slots; > 60 + the current second */
#define RING_SEC(w) ((uint32_t)((w) >> 32))
#define RING_COUNT(w) ((uint32_t)(w))

/* 10 bounds per decade: {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8} x p. Every
 * product is exact in a double (p is a power of ten >= 1). */
#define DECADE(p) \
  1 * p, 1.25 * p, 1.5 * p, 2 * p, 2.5 * p, 3 * p, 4 * p, 5 * p, 6 * p, 8 * p
static const double bounds[ISO_METRICS_NBOUNDS] = {
    DECADE(1e0), DECADE(1e1), DECADE(1e2), DECADE(1e3), DECADE(1e4),
    DECADE(1e5), DECADE(1e6), DECADE(1e7), 1e8};
#undef DECADE

/* The Prometheus buckets: the 1-2-5 series from 100 us to 50 s, then 60 s
 * (each one of the bounds above, so the cumulative counts are exact). */
static const uint64_t prom_le_us[] = {
    100,     200,      500,      1000,     2000,    5000,    10000,
    20000,   50000,    100000,   200000,   500000,  1000000, 2000000,
    5000000, 10000000, 20000000, 50000000, 60000000};
#define NPROM_LE (sizeof(prom_le_us) / sizeof(prom_le_us[0]))

/* The cost histograms' Prometheus buckets, in their recorded units (KiB
 * for the heap, a count for ops): the 1-2-5 series, each a bound above. */
static const uint64_t prom_le_kib[] = {
    1,    2,    5,     10,    20,    50,     100,    200,    500,    1000,
    2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000};
static const uint64_t prom_le_ops[] = {1,     2,     5,     10,    20,   50,
                                       100,   200,   500,   1000,  2000, 5000,
                                       10000, 20000, 50000, 100000};

/* errors[] holds the job codes only: they must be the table's first rows.
 * (NCODES is taken out of the table's expansion first: a macro does not
 * expand inside itself.) */
enum { NCODES = ISO_METRICS_NCODES };
#define JOB_CODE_FIRST(name, str, where)                             \
  _Static_assert(                                                    \
      !((where)&ISO_CODE_JOB) || (int)ISO_CODE_##name < (int)NCODES, \
      "job codes come first in ISO_PROTO_CODE_TABLE: " str);
ISO_PROTO_CODE_TABLE(JOB_CODE_FIRST)
#undef JOB_CODE_FIRST

static const char* const kind_names[ISO_METRICS_NKINDS] = {"eval", "call"};

typedef struct hist {
  counter buckets[ISO_METRICS_NBUCKETS];
  counter sum_us;
  counter max_us;
} hist;

typedef struct kind_counters {
  counter accepted;
  counter fulfilled;
  counter rejected;
  counter errors[ISO_METRICS_NCODES];
  hist hists[ISO_METRICS_NSTAGES];
  hist costs[ISO_METRICS_NCOSTS];
} kind_counters;

struct iso_metrics {
  kind_counters kinds[ISO_METRICS_NKINDS];
  counter ring[RING]; /* second << 32 | jobs answered in it */
  counter limited[ISO_METRICS_NLIMITS];
  iso_metrics_clock_cb clock_cb;
  void* clock_arg;
};

static int64_t monotonic_s(void* arg) {
  (void)arg;
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* ~ns, ms resolution */
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (int64_t)ts.tv_sec;
}

double iso_metrics_bucket_le_us(size_t i) {
  return i < ISO_METRICS_NBOUNDS ? bounds[i] : INFINITY;
}

/* The first bucket whose bound is >= v (ISO_METRICS_NBOUNDS: overflow). */
static size_t bucket_of(uint64_t v) {
  double d = (double)v;
  size_t lo = 0, hi = ISO_METRICS_NBOUNDS;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (d <= bounds[mid]) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

iso_metrics* iso_metrics_new(void) {
  iso_metrics* m = calloc(1, sizeof(*m));
  if (m == NULL) {
    return NULL;
  }
  m->clock_cb = monotonic_s;
  return m;
}

void iso_metrics_free(iso_metrics* m) {
  free(m);
}

void iso_metrics_set_clock(iso_metrics* m,
                           iso_metrics_clock_cb clock_cb,
                           void* arg) {
  m->clock_cb = clock_cb != NULL ? clock_cb : monotonic_s;
  m->clock_arg = clock_cb != NULL ? arg : NULL;
}

static kind_counters* kind_of(iso_metrics* m, iso_metrics_kind kind) {
  return &m->kinds[kind == ISO_METRICS_CALL ? 1 : 0];
}

static void add(counter* c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void iso_metrics_accepted(iso_metrics* m, iso_metrics_kind kind) {
  if (m == NULL) {
    return;
  }
  add(&kind_of(m, kind)->accepted, 1);
}

/* Adds n values, of sum `sum` and largest `max`, all in bucket b. */
static void hist_record_n(hist* h,
                          size_t b,
                          uint64_t n,
                          uint64_t sum,
                          uint64_t max) {
  add(&h->buckets[b], n);
  if (sum != 0) {
    add(&h->sum_us, sum);
  }
  uint64_t cur = atomic_load_explicit(&h->max_us, memory_order_relaxed);
  while (max > cur && !atomic_compare_exchange_weak_explicit(
                          &h->max_us, &cur, max, memory_order_relaxed,
                          memory_order_relaxed)) {
  }
}

/* Counts n answers in second `now`'s slot. The slot usually holds this
 * second already (one add); the first answer of a second finds an earlier
 * lap's second there and replaces it, racing only other first answers. */
static void ring_count(iso_metrics* m, int64_t now, uint64_t n) {
  uint32_t sec = (uint32_t)now;
  counter* slot = &m->ring[sec % RING];
  uint64_t cur = atomic_load_explicit(slot, memory_order_relaxed);
  for (;;) {
    if (RING_SEC(cur) == sec) {
      add(slot, n);
      return;
    }
    if ((int32_t)(RING_SEC(cur) - sec) > 0) {
      return; /* this thread stalled a whole lap: its second is gone */
    }
    if (atomic_compare_exchange_weak_explicit(
            slot, &cur, (uint64_t)sec << 32 | (uint32_t)n, memory_order_relaxed,
            memory_order_relaxed)) {
      return;
    }
  }
}

/* A job's answer and costs are a tally of one. */
void iso_metrics_answered(iso_metrics* m,
                          iso_metrics_kind kind,
                          int outcome,
                          int64_t queue_us,
                          int64_t run_us,
                          int64_t total_us) {
  iso_metrics_tally t;
  iso_metrics_tally_init(&t, m);
  iso_metrics_tally_answered(&t, kind, outcome, queue_us, run_us, total_us);
  iso_metrics_tally_flush(&t);
}

void iso_metrics_costs(iso_metrics* m,
                       iso_metrics_kind kind,
                       int64_t cpu_us,
                       int64_t heap_bytes,
                       int64_t ops,
                       iso_limit limit) {
  iso_metrics_tally t;
  iso_metrics_tally_init(&t, m);
  iso_metrics_tally_costs(&t, kind, cpu_us, heap_bytes, ops, limit);
  iso_metrics_tally_flush(&t);
}

/* ---- tallies ------------------------------------------------------------ */

void iso_metrics_tally_init(iso_metrics_tally* t, iso_metrics* m) {
  memset(t, 0, sizeof(*t));
  t->m = m;
  for (int k = 0; k < ISO_METRICS_NKINDS; k++) {
    for (int i = 0; i < ISO_METRICS_NSTAGES + ISO_METRICS_NCOSTS; i++) {
      t->kinds[k].h[i].bucket = -1;
    }
  }
}

/* The recorder's histogram a tally's h[i] goes to. */
static hist* tally_target(iso_metrics* m, iso_metrics_kind kind, int i) {
  kind_counters* k = kind_of(m, kind);
  return i < ISO_METRICS_NSTAGES ? &k->hists[i]
                                 : &k->costs[i - ISO_METRICS_NSTAGES];
}

static void tally_run_end(iso_metrics* m,
                          iso_metrics_kind kind,
                          int i,
                          iso_metrics_tally_hist* th) {
  if (th->run != 0) {
    hist_record_n(tally_target(m, kind, i), (size_t)th->bucket, th->run, 0, 0);
    th->run = 0;
  }
}

/* One value into the tally's h[i]: the run goes on while its bucket does
 * (two integer comparisons: the values are whole, so a bound counts as
 * its floor; no search). */
static void tally_add(iso_metrics_tally* t,
                      iso_metrics_kind kind,
                      int i,
                      int64_t v) {
  if (v < 0) {
    return; /* the job never reached this stage */
  }
  iso_metrics_tally_hist* th = &t->kinds[kind].h[i];
  uint64_t u = (uint64_t)v;
  int b = th->bucket;
  if (b < 0 || u > th->hi || (b > 0 && u <= th->lo)) {
    tally_run_end(t->m, kind, i, th);
    b = (int)bucket_of(u);
    th->bucket = b;
    th->hi = b < ISO_METRICS_NBOUNDS ? (uint64_t)bounds[b] : UINT64_MAX;
    th->lo = b > 0 ? (uint64_t)bounds[b - 1] : 0;
  }
  th->run++;
  th->sum += u;
  if (u > th->max) {
    th->max = u;
  }
}

void iso_metrics_tally_answered(iso_metrics_tally* t,
                                iso_metrics_kind kind,
                                int outcome,
                                int64_t queue_us,
                                int64_t run_us,
                                int64_t total_us) {
  if (t->m == NULL) {
    return;
  }
  kind = kind == ISO_METRICS_CALL ? ISO_METRICS_CALL : ISO_METRICS_EVAL;
  if (outcome == ISO_METRICS_FULFILLED) {
    t->kinds[kind].fulfilled++;
  } else if (outcome == ISO_METRICS_REJECTED) {
    t->kinds[kind].rejected++;
  } else {
    add(&kind_of(t->m, kind)
             ->errors[outcome > 0 && outcome < ISO_METRICS_NCODES ? outcome
                                                                  : 0],
        1);
  }
  tally_add(t, kind, ISO_METRICS_QUEUE, queue_us);
  tally_add(t, kind, ISO_METRICS_RUN, run_us);
  tally_add(t, kind, ISO_METRICS_TOTAL, total_us);
  t->answered++;
}

void iso_metrics_tally_costs(iso_metrics_tally* t,
                             iso_metrics_kind kind,
                             int64_t cpu_us,
                             int64_t heap_bytes,
                             int64_t ops,
                             iso_limit limit) {
  if (t->m == NULL) {
    return;
  }
  kind = kind == ISO_METRICS_CALL ? ISO_METRICS_CALL : ISO_METRICS_EVAL;
  if (cpu_us >= 0) {
    tally_add(t, kind, ISO_METRICS_NSTAGES + ISO_METRICS_CPU, cpu_us);
    tally_add(t, kind, ISO_METRICS_NSTAGES + ISO_METRICS_HEAP,
              heap_bytes > 0 ? heap_bytes / 1024 : 0);
    tally_add(t, kind, ISO_METRICS_NSTAGES + ISO_METRICS_OPS,
              ops > 0 ? ops : 0);
  }
  if (limit > ISO_LIMIT_NONE && limit < ISO_METRICS_NLIMITS) {
    add(&t->m->limited[limit], 1);
  }
}

void iso_metrics_tally_flush(iso_metrics_tally* t) {
  iso_metrics* m = t->m;
  if (m == NULL) {
    return;
  }
  for (int k = 0; k < ISO_METRICS_NKINDS; k++) {
    kind_counters* kc = &m->kinds[k];
    if (t->kinds[k].fulfilled != 0) {
      add(&kc->fulfilled, t->kinds[k].fulfilled);
    }
    if (t->kinds[k].rejected != 0) {
      add(&kc->rejected, t->kinds[k].rejected);
    }
    for (int i = 0; i < ISO_METRICS_NSTAGES + ISO_METRICS_NCOSTS; i++) {
      iso_metrics_tally_hist* th = &t->kinds[k].h[i];
      if (th->bucket < 0) {
        continue;
      }
      hist* h = tally_target(m, (iso_metrics_kind)k, i);
      hist_record_n(h, (size_t)th->bucket, th->run, th->sum, th->max);
    }
  }
  if (t->answered != 0) {
    ring_count(m, m->clock_cb(m->clock_arg), t->answered);
  }
  iso_metrics_tally_init(t, m);
}

/* ---- snapshots ---------------------------------------------------------- */

static uint64_t load(counter* c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

double iso_metrics_percentile(const iso_metrics_hist* h, double q) {
  if (h == NULL || h->count == 0) {
    return 0;
  }
  double max = (double)h->max_us;
  double rank = (q > 1 ? 1 : q) * (double)h->count;
  uint64_t below = 0;
  for (size_t i = 0; i < ISO_METRICS_NBUCKETS; i++) {
    uint64_t c = h->buckets[i];
    if (c == 0) {
      continue;
    }
    if ((double)(below + c) >= rank) {
      double lo = i == 0 ? 0 : bounds[i - 1];
      double hi = i < ISO_METRICS_NBOUNDS ? bounds[i] : max;
      double v = lo;
      if (hi > lo && rank > (double)below) {
        v = lo + (hi - lo) * (rank - (double)below) / (double)c;
      }
      return v < max ? v : max;
    }
    below += c;
  }
  return max; /* rounding left rank above the total */
}

static void hist_finish(iso_metrics_hist* h) {
  h->p50 = iso_metrics_percentile(h, 0.5);
  h->p90 = iso_metrics_percentile(h, 0.9);
  h->p99 = iso_metrics_percentile(h, 0.99);
  h->p999 = iso_metrics_percentile(h, 0.999);
}

static void hist_read(hist* src, iso_metrics_hist* dst) {
  dst->count = 0;
  for (size_t i = 0; i < ISO_METRICS_NBUCKETS; i++) {
    dst->buckets[i] = load(&src->buckets[i]);
    dst->count += dst->buckets[i];
  }
  dst->sum_us = load(&src->sum_us);
  dst->max_us = load(&src->max_us);
  hist_finish(dst);
}

static void hist_add(iso_metrics_hist* dst, const iso_metrics_hist* src) {
  for (size_t i = 0; i < ISO_METRICS_NBUCKETS; i++) {
    dst->buckets[i] += src->buckets[i];
  }
  dst->count += src->count;
  dst->sum_us += src->sum_us;
  if (src->max_us > dst->max_us) {
    dst->max_us = src->max_us;
  }
}

static void totals_add(iso_metrics_totals* dst, const iso_metrics_totals* s) {
  dst->accepted += s->accepted;
  dst->fulfilled += s->fulfilled;
  dst->rejected += s->rejected;
  for (size_t c = 0; c < ISO_METRICS_NCODES; c++) {
    dst->errors[c] += s->errors[c];
  }
}

int iso_metrics_snapshot(iso_metrics* m, iso_metrics_snap* out) {
  if (m == NULL || out == NULL) {
    return ISO_EINVAL;
  }
  memset(out, 0, sizeof(*out));
  iso_metrics_totals* all = &out->totals[ISO_METRICS_ALL];
  for (size_t k = 0; k < ISO_METRICS_NKINDS; k++) {
    kind_counters* src = &m->kinds[k];
    iso_metrics_totals* t = &out->totals[k];
    t->accepted = load(&src->accepted);
    t->fulfilled = load(&src->fulfilled);
    t->rejected = load(&src->rejected);
    for (size_t c = 0; c < ISO_METRICS_NCODES; c++) {
      t->errors[c] = load(&src->errors[c]);
    }
    totals_add(all, t);
    for (size_t s = 0; s < ISO_METRICS_NSTAGES; s++) {
      hist_read(&src->hists[s], &out->hist[k][s]);
      hist_add(&out->hist[ISO_METRICS_ALL][s], &out->hist[k][s]);
    }
  }
  for (size_t s = 0; s < ISO_METRICS_NSTAGES; s++) {
    hist_finish(&out->hist[ISO_METRICS_ALL][s]);
  }
  for (size_t k = 0; k < ISO_METRICS_NKINDS; k++) {
    for (size_t c = 0; c < ISO_METRICS_NCOSTS; c++) {
      hist_read(&m->kinds[k].costs[c], &out->costs[k][c]);
      hist_add(&out->costs[ISO_METRICS_ALL][c], &out->costs[k][c]);
    }
  }
  for (size_t c = 0; c < ISO_METRICS_NCOSTS; c++) {
    hist_finish(&out->costs[ISO_METRICS_ALL][c]);
  }
  for (size_t l = 0; l < ISO_METRICS_NLIMITS; l++) {
    out->limited[l] = load(&m->limited[l]);
  }

  /* Rates: the whole seconds before the current one. */
  int64_t now = m->clock_cb(m->clock_arg);
  uint64_t sum1 = 0, sum10 = 0, sum60 = 0;
  for (int64_t ago = 1; ago <= 60; ago++) {
    uint32_t sec = (uint32_t)(now - ago);
    uint64_t w = load(&m->ring[sec % RING]);
    uint64_t n = RING_SEC(w) == sec ? RING_COUNT(w) : 0;
    sum1 += ago <= 1 ? n : 0;
    sum10 += ago <= 10 ? n : 0;
    sum60 += n;
  }
  out->rate_1s = (double)sum1;
  out->rate_10s = (double)sum10 / 10;
  out->rate_60s = (double)sum60 / 60;
  return 0;
}

/* ---- Prometheus --------------------------------------------------------- */

/* Appends to a buffer, remembering the first failure so the writing code
 * reads straight through; the caller rolls the buffer back once. */
typedef struct writer {
  iso_buf* b;
  int err;
} writer;

static void put(writer* w, const char* s, size_t n) {
  if (w->err == 0) {
    w->err = iso_buf_append(w->b, s, n);
  }
}

static void puts_(writer* w, const char* s) {
  put(w, s, strlen(s));
}

/* Appends s escaped: backslash and newline always, '"' in label values
 * (HELP text leaves it alone, as the format says). */
static void put_escaped(writer* w, const char* s, int quote) {
  const char* run = s;
  for (; *s != '\0'; s++) {
    const char* esc = NULL;
    if (*s == '\\') {
      esc = "\\\\";
    } else if (*s == '\n') {
      esc = "\\n";
    } else if (*s == '"' && quote) {
      esc = "\\\"";
    }
    if (esc != NULL) {
      put(w, run, (size_t)(s - run));
      puts_(w, esc);
      run = s + 1;
    }
  }
  put(w, run, (size_t)(s - run));
}

/* Microseconds as decimal seconds, exactly: 100 -> "0.0001". */
static void us_to_s(char* buf, size_t n, uint64_t us) {
  uint64_t frac = us % 1000000;
  if (frac == 0) {
    snprintf(buf, n, "%" PRIu64, us / 1000000);
    return;
  }
  snprintf(buf, n, "%" PRIu64 ".%06" PRIu64, us / 1000000, frac);
  size_t len = strlen(buf);
  while (buf[len - 1] == '0') {
    buf[--len] = '\0';
  }
}

static void family(writer* w,
                   const char* name,
                   const char* type,
                   const char* help) {
  puts_(w, "# HELP ");
  puts_(w, name);
  puts_(w, " ");
  put_escaped(w, help, 0);
  puts_(w, "\n# TYPE ");
  puts_(w, name);
  puts_(w, " ");
  puts_(w, type);
  puts_(w, "\n");
}

/* One sample: name{k="v",...} value. labels: NULL-terminated pairs. */
static void sample(writer* w,
                   const char* name,
                   const char* const* labels,
                   const char* value) {
  puts_(w, name);
  if (labels != NULL && labels[0] != NULL) {
    puts_(w, "{");
    for (size_t i = 0; labels[i] != NULL; i += 2) {
      if (i > 0) {
        puts_(w, ",");
      }
      puts_(w, labels[i]);
      puts_(w, "=\"");
      put_escaped(w, labels[i + 1], 1);
      puts_(w, "\"");
    }
    puts_(w, "}");
  }
  puts_(w, " ");
  puts_(w, value);
  puts_(w, "\n");
}

static void sample_u64(writer* w,
                       const char* name,
                       const char* const* labels,
                       uint64_t v) {
  char num[24];
  snprintf(num, sizeof(num), "%" PRIu64, v);
  sample(w, name, labels, num);
}

static void gauge(writer* w, const char* name, const char* help, int64_t v) {
  char num[24];
  snprintf(num, sizeof(num), "%" PRId64, v);
  family(w, name, "gauge", help);
  sample(w, name, NULL, num);
}

/* How a histogram's recorded values are written: microseconds as
 * seconds, KiB as bytes, or as they are. */
enum { UNIT_US, UNIT_KIB, UNIT_COUNT };

static void unit_put(char* buf, size_t n, int unit, uint64_t v) {
  if (unit == UNIT_US) {
    us_to_s(buf, n, v);
  } else {
    snprintf(buf, n, "%" PRIu64, unit == UNIT_KIB ? v * 1024 : v);
  }
}

static void prom_hist_in(writer* w,
                         const char* base,
                         const char* kind,
                         const iso_metrics_hist* h,
                         const uint64_t* le,
                         size_t nle,
                         int unit) {
  char name[64], num[32];
  uint64_t total = 0; /* recounted, so +Inf and _count agree */
  for (size_t i = 0; i < ISO_METRICS_NBUCKETS; i++) {
    total += h->buckets[i];
  }
  snprintf(name, sizeof(name), "%s_bucket", base);
  uint64_t cum = 0;
  size_t i = 0;
  for (size_t j = 0; j < nle; j++) {
    while (i < ISO_METRICS_NBOUNDS && bounds[i] <= (double)le[j]) {
      cum += h->buckets[i++];
    }
    unit_put(num, sizeof(num), unit, le[j]);
    const char* labels[] = {"kind", kind, "le", num, NULL};
    sample_u64(w, name, labels, cum);
  }
  const char* inf[] = {"kind", kind, "le", "+Inf", NULL};
  sample_u64(w, name, inf, total);
  const char* labels[] = {"kind", kind, NULL};
  snprintf(name, sizeof(name), "%s_sum", base);
  unit_put(num, sizeof(num), unit, h->sum_us);
  sample(w, name, labels, num);
  snprintf(name, sizeof(name), "%s_count", base);
  sample_u64(w, name, labels, total);
}

static void prom_hist(writer* w,
                      const char* base,
                      const char* kind,
                      const iso_metrics_hist* h) {
  prom_hist_in(w, base, kind, h, prom_le_us, NPROM_LE, UNIT_US);
}

/* The per-worker families, one sample per worker each. */
static void prom_workers(writer* w, const iso_metrics_gauges* g) {
  static const struct {
    const char* name;
    const char* type;
    const char* help;
    size_t off;
  } fams[] = {
      {"isopool_worker_heap_used_bytes", "gauge",
       "A worker's V8 heap in use (its last report, every 500 ms).",
       offsetof(iso_metrics_worker, heap_used)},
      {"isopool_worker_heap_limit_bytes", "gauge", "A worker's V8 heap limit.",
       offsetof(iso_metrics_worker, heap_limit)},
      {"isopool_worker_jobs_inflight", "gauge", "Jobs on a worker.",
       offsetof(iso_metrics_worker, inflight)},
      {"isopool_worker_jobs_answered_total", "counter",
       "Jobs a worker answered (since it started).",
       offsetof(iso_metrics_worker, answered)},
      {"isopool_worker_recycles_by_worker_total", "counter",
       "Times a worker's isolate was replaced (since the worker started).",
       offsetof(iso_metrics_worker, recycles)},
  };
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
    family(w, fams[f].name, fams[f].type, fams[f].help);
    for (int i = 0; i < g->nworkers; i++) {
      char id[16];
      snprintf(id, sizeof id, "%d", g->workers[i].id);
      const char* labels[] = {"worker", id, NULL};
      int64_t v;
      memcpy(&v, (const char*)&g->workers[i] + fams[f].off, sizeof v);
      sample_u64(w, fams[f].name, labels, v > 0 ? (uint64_t)v : 0);
    }
  }
  family(w, "isopool_worker_state", "gauge",
         "1 for each worker, its state in the label.");
  for (int i = 0; i < g->nworkers; i++) {
    char id[16];
    snprintf(id, sizeof id, "%d", g->workers[i].id);
    const char* labels[] = {"worker", id, "state", g->workers[i].state, NULL};
    sample(w, "isopool_worker_state", labels, "1");
  }
}

/* The serving process's process_* families (Prometheus's own names). */
static void prom_process(writer* w, const iso_metrics_process* p) {
  if (!p->valid) {
    return;
  }
  char num[48];
  family(w, "process_cpu_seconds_total", "counter",
         "User and system CPU time of the service's front process.");
  snprintf(num, sizeof num, "%.2f", p->cpu_seconds);
  sample(w, "process_cpu_seconds_total", NULL, num);
  gauge(w, "process_resident_memory_bytes", "Resident memory of the front.",
        p->resident_bytes);
  gauge(w, "process_virtual_memory_bytes", "Virtual memory of the front.",
        p->virtual_bytes);
  gauge(w, "process_open_fds", "Open file descriptors of the front.",
        p->open_fds);
  gauge(w, "process_max_fds", "The front's file descriptor limit.", p->max_fds);
  family(w, "process_start_time_seconds", "gauge",
         "When the front started, in seconds since the epoch.");
  snprintf(num, sizeof num, "%.2f", p->start_time_seconds);
  sample(w, "process_start_time_seconds", NULL, num);
}

void iso_metrics_process_read(iso_metrics_process* out) {
  memset(out, 0, sizeof *out);
  long ticks = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  char buf[1024];
  FILE* f = fopen("/proc/self/stat", "r");
  size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f != NULL) {
    fclose(f);
  }
  buf[n] = '\0';
  /* fields after the command's closing parenthesis (it may hold spaces):
   * 3 state ... 14 utime 15 stime ... 22 starttime 23 vsize 24 rss */
  const char* p = strrchr(buf, ')');
  unsigned long long utime, stime, start, vsize;
  long long rss;
  if (p == NULL || ticks <= 0 ||
      sscanf(p + 2,
             "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
             "%*d %*d %*d %*d %llu %llu %lld",
             &utime, &stime, &start, &vsize, &rss) != 5) {
    return;
  }
  /* the boot time, for the start time since the epoch */
  unsigned long long btime = 0;
  f = fopen("/proc/stat", "r");
  char line[256];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "btime %llu", &btime) == 1) {
      break;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  int fds = 0;
  DIR* d = opendir("/proc/self/fd");
  for (struct dirent* e; d != NULL && (e = readdir(d)) != NULL;) {
    fds += e->d_name[0] != '.';
  }
  if (d != NULL) {
    closedir(d);
    fds--; /* the one opendir holds */
  }
  struct rlimit rl;
  out->cpu_seconds = (double)(utime + stime) / (double)ticks;
  out->resident_bytes = rss * page;
  out->virtual_bytes = (int64_t)vsize;
  out->open_fds = fds;
  out->max_fds =
      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
          ? (int64_t)rl.rlim_cur
          : -1;
  out->start_time_seconds = (double)btime + (double)start / (double)ticks;
  out->valid = btime > 0;
}

int iso_metrics_prometheus(const iso_metrics_snap* s,
                           const iso_metrics_gauges* g,
                           iso_buf* out) {
  if (s == NULL || out == NULL) {
    return ISO_EINVAL;
  }
  writer w = {out, 0};
  size_t start = out->len;

  const char* acc = "isopool_jobs_accepted_total";
  family(&w, acc, "counter", "Jobs accepted, by kind.");
  for (size_t k = 0; k < ISO_METRICS_NKINDS; k++) {
    const char* labels[] = {"kind", kind_names[k], NULL};
    sample_u64(&w, acc, labels, s->totals[k].accepted);
  }

  const char* ans = "isopool_jobs_answered_total";
  family(&w, ans, "counter",
         "Jobs answered, by kind and outcome (fulfilled, rejected, or error "
         "with the reply's code).");
  for (size_t k = 0; k < ISO_METRICS_NKINDS; k++) {
    const iso_metrics_totals* t = &s->totals[k];
    const char* ful[] = {"kind", kind_names[k], "outcome", "fulfilled", NULL};
    sample_u64(&w, ans, ful, t->fulfilled);
    const char* rej[] = {"kind", kind_names[k], "outcome", "rejected", NULL};
    sample_u64(&w, ans, rej, t->rejected);
    for (size_t c = 0; c < ISO_METRICS_NCODES; c++) {
      if (c == ISO_CODE_UNKNOWN && t->errors[c] == 0) {
        continue;
      }
      const char* err[] = {"kind",    kind_names[k],
                           "outcome", "error",
                           "code",    iso_proto_code_name((iso_proto_code)c),
                           NULL};
      sample_u64(&w, ans, err, t->errors[c]);
    }
  }

  static const struct {
    const char* name;
    const char* help;
  } stages[ISO_METRICS_NSTAGES] = {
      [ISO_METRICS_QUEUE] = {"isopool_job_queue_seconds",
                             "Time jobs waited for a worker."},
      [ISO_METRICS_RUN] = {"isopool_job_run_seconds",
                           "Time jobs ran on a worker."},
      [ISO_METRICS_TOTAL] = {"isopool_job_duration_seconds",
                             "Time from a job's receipt to its reply."},
  };
  for (size_t st = 0; st < ISO_METRICS_NSTAGES; st++) {
    family(&w, stages[st].name, "histogram", stages[st].help);
    for (size_t k = 0; k < ISO_METRICS_NKINDS; k++) {
      prom_hist(&w, stages[st].name, kind_names[k], &s->hist[k][st]);
    }
  }

  static const struct {
    const char* name;
    const char* help;
    const uint64_t* le;
    size_t nle;
    int unit;
  } costs[ISO_METRICS_NCOSTS] = {
      [ISO_METRICS_CPU] = {"isopool_job_cpu_seconds",
                           "CPU time of jobs' JavaScript.", prom_le_us,
                           NPROM_LE, UNIT_US},
      [ISO_METRICS_HEAP] = {"isopool_job_heap_bytes",
                            "Heap bytes jobs' JavaScript allocated (an "
                            "estimate, counted in KiB).",
                            prom_le_kib,
                            sizeof prom_le_kib / sizeof prom_le_kib[0],
                            UNIT_KIB},
      [ISO_METRICS_OPS] = {"isopool_job_ops", "Ops jobs called.", prom_le_ops,
                           sizeof prom_le_ops / sizeof prom_le_ops[0],
                           UNIT_COUNT},
  };
  for (size_t c = 0; c < ISO_METRICS_NCOSTS; c++) {
    family(&w, costs[c].name, "histogram", costs[c].help);
    for (size_t k = 0; k < ISO_METRICS_NKINDS; k++) {
      prom_hist_in(&w, costs[c].name, kind_names[k], &s->costs[k][c],
                   costs[c].le, costs[c].nle, costs[c].unit);
    }
  }
  const char* lim = "isopool_jobs_limited_total";
  family(&w, lim, "counter",
         "Jobs a limit ended: cpu (cpu_limit), wall (timeout), memory "
         "(memory_limit).");
  for (int l = ISO_LIMIT_NONE + 1; l < ISO_METRICS_NLIMITS; l++) {
    const char* labels[] = {"limit", iso_limit_name((iso_limit)l), NULL};
    sample_u64(&w, lim, labels, s->limited[l]);
  }

  if (g != NULL) {
    gauge(&w, "isopool_workers_configured", "Workers the pool should have.",
          g->workers_configured);
    gauge(&w, "isopool_workers_alive", "Workers running.", g->workers_alive);
    gauge(&w, "isopool_jobs_queued", "Jobs waiting for a worker.", g->queued);
    gauge(&w, "isopool_jobs_inflight", "Jobs on workers.", g->inflight);
    gauge(&w, "isopool_fetch_transfers",
          "fetch() transfers open (a request or a body not read to its end).",
          g->fetch_transfers);
    char num[32];
    us_to_s(num, sizeof(num),
            g->uptime_ms > 0 ? (uint64_t)g->uptime_ms * 1000 : 0);
    family(&w, "isopool_uptime_seconds", "gauge",
           "Seconds since the service started.");
    sample(&w, "isopool_uptime_seconds", NULL, num);
    family(&w, "isopool_processes", "gauge",
           "Pool processes, by state (none with --processes 0).");
    const struct {
      const char* state;
      int64_t n;
    } procs[] = {{"active", g->processes_active},
                 {"spare", g->processes_spare},
                 {"starting", g->processes_starting}};
    for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
      const char* labels[] = {"state", procs[i].state, NULL};
      sample_u64(&w, "isopool_processes", labels,
                 procs[i].n > 0 ? (uint64_t)procs[i].n : 0);
    }
    family(&w, "isopool_process_restarts_total", "counter",
           "Pool processes started in the place of one that died.");
    sample_u64(&w, "isopool_process_restarts_total", NULL,
               g->process_restarts > 0 ? (uint64_t)g->process_restarts : 0);
    family(&w, "isopool_jobs_lost_total", "counter",
           "Jobs answered worker_lost because their pool process died.");
    sample_u64(&w, "isopool_jobs_lost_total", NULL,
               g->jobs_lost > 0 ? (uint64_t)g->jobs_lost : 0);
    family(&w, "isopool_pings_total", "counter",
           "Pings answered by the front (heartbeats, not jobs).");
    sample_u64(&w, "isopool_pings_total", NULL,
               g->pings > 0 ? (uint64_t)g->pings : 0);
    family(&w, "isopool_worker_recycles_total", "counter",
           "Workers' isolates replaced, by reason.");
    for (int i = 0; i < g->nrecycles && i < ISO_METRICS_MAX_REASONS; i++) {
      const char* labels[] = {"reason", g->recycles[i].reason, NULL};
      sample_u64(&w, "isopool_worker_recycles_total", labels,
                 g->recycles[i].n > 0 ? (uint64_t)g->recycles[i].n : 0);
    }
    family(&w, "isopool_worker_cold_recycles_total", "counter",
           "Of those, isolates built on the worker's own thread (no spare "
           "was ready).");
    sample_u64(&w, "isopool_worker_cold_recycles_total", NULL,
               g->recycles_cold > 0 ? (uint64_t)g->recycles_cold : 0);
    family(&w, "isopool_spare_builds_total", "counter",
           "Spare isolates built.");
    sample_u64(&w, "isopool_spare_builds_total", NULL,
               g->spare_builds > 0 ? (uint64_t)g->spare_builds : 0);
    gauge(&w, "isopool_spare_isolates", "Spare isolates ready.",
          g->spares_ready);
    gauge(&w, "isopool_spare_isolate_bytes",
          "Memory the ready spare isolates hold (their committed heaps).",
          g->spare_bytes);
    const struct {
      const char* name;
      const char* help;
      int64_t n;
    } code[] = {
        {"isopool_code_cache_hits_total",
         "Module compiles that consumed a code cache.", g->code_hits},
        {"isopool_code_cache_misses_total",
         "Module compiles from the text (the cache on).", g->code_misses},
        {"isopool_code_cache_rejected_total",
         "Of those, compiles whose code cache V8 refused.", g->code_rejected},
        {"isopool_code_cache_evicted_total",
         "Code cache entries evicted by the bound.", g->code_evicted},
        {"isopool_code_cache_made_total", "Code caches made.", g->code_made},
    };
    for (size_t i = 0; i < sizeof code / sizeof code[0]; i++) {
      family(&w, code[i].name, "counter", code[i].help);
      sample_u64(&w, code[i].name, NULL,
                 code[i].n > 0 ? (uint64_t)code[i].n : 0);
    }
    gauge(&w, "isopool_code_cache_entries",
          "Code cache entries in the pool processes.", g->code_entries);
    gauge(&w, "isopool_code_cache_bytes",
          "Bytes of the code cache entries in the pool processes.",
          g->code_bytes);
    prom_workers(&w, g);
    prom_process(&w, &g->process);
    if (g->version != NULL) {
      family(&w, "isopool_build_info", "gauge",
             "Always 1; the version is in the label.");
      const char* labels[] = {"version", g->version, NULL};
      sample(&w, "isopool_build_info", labels, "1");
    }
  }

  if (w.err != 0) {
    out->len = start;
    return w.err;
  }
  return 0;
}
