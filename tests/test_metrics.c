/* test_metrics.c: pool/metrics.c, the admin plane's counters, rates and
 * histograms, built from its source (no V8, no NNG).
 *
 * Totals must add up exactly under concurrent recording; rates run on an
 * injected clock; percentiles are compared with the exact quantiles of
 * known distributions; the Prometheus text is checked line by line by a
 * strict validator (prom_check.h: prom_validate, itself tested here on
 * broken documents), and by `promtool check metrics` when promtool is
 * installed.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_version.h"
#include "metrics.h"
#include "prom_check.h"
#include "tap.h"

/* ---- helpers ------------------------------------------------------------ */

static int64_t fake_clock(void* arg) {
  return *(int64_t*)arg;
}

static iso_metrics_snap* snap_of(iso_metrics* m) {
  iso_metrics_snap* s = malloc(sizeof(*s));
  CHECK_EQ(iso_metrics_snapshot(m, s), 0);
  return s;
}

static uint64_t answered_of(const iso_metrics_totals* t) {
  uint64_t n = t->fulfilled + t->rejected;
  for (size_t c = 0; c < ISO_METRICS_NCODES; c++) {
    n += t->errors[c];
  }
  return n;
}

/* The text of a snapshot's exposition, checked by prom_validate. */
static char* prom_text(const iso_metrics_snap* s, const iso_metrics_gauges* g) {
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_metrics_prometheus(s, g, &b), 0);
  CHECK_EQ(iso_buf_terminate(&b), 0);
  char err[256] = "";
  int rc = prom_validate((const char*)b.data, b.len, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "  prometheus output refused: %s\n", err);
  }
  CHECK_EQ(rc, 0);
  return (char*)b.data; /* the caller frees */
}

/* ---- cases -------------------------------------------------------------- */

static void t_bucket_layout(void) {
  CHECK(iso_metrics_bucket_le_us(0) == 1);
  CHECK(iso_metrics_bucket_le_us(1) == 1.25);
  CHECK(iso_metrics_bucket_le_us(9) == 8);
  CHECK(iso_metrics_bucket_le_us(10) == 10);
  CHECK(iso_metrics_bucket_le_us(ISO_METRICS_NBOUNDS - 1) == 1e8);
  CHECK(isinf(iso_metrics_bucket_le_us(ISO_METRICS_NBOUNDS)));
  CHECK(isinf(iso_metrics_bucket_le_us(1000)));
  for (size_t i = 1; i < ISO_METRICS_NBOUNDS; i++) {
    double lo = iso_metrics_bucket_le_us(i - 1);
    double hi = iso_metrics_bucket_le_us(i);
    CHECK(hi > lo && hi - lo <= hi * 0.25); /* at most 25% of its bound */
    if (i >= 10) {
      CHECK(hi == iso_metrics_bucket_le_us(i - 10) * 10);
    }
  }
  /* A value on a bound belongs to that bucket (le is inclusive). */
  iso_metrics* m = iso_metrics_new();
  int64_t values[] = {0, 1, 2, 5000, 5001};
  size_t want[] = {0, 0, 3, 37, 38};
  for (size_t i = 0; i < 5; i++) {
    iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_METRICS_FULFILLED, -1, -1,
                         values[i]);
  }
  iso_metrics_snap* s = snap_of(m);
  const iso_metrics_hist* h = &s->hist[ISO_METRICS_EVAL][ISO_METRICS_TOTAL];
  CHECK_EQ(h->buckets[0], 2);
  for (size_t i = 2; i < 5; i++) {
    CHECK_EQ(h->buckets[want[i]], 1);
  }
  CHECK(iso_metrics_bucket_le_us(37) == 5000);
  free(s);
  iso_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 100000

/* What thread t records as its j-th job. */
static int th_kind(int t, int j) {
  return (j + t) % 2;
}
static int th_outcome(int j) {
  int r = j % (2 + ISO_METRICS_NCODES);
  return r == 0 ? ISO_METRICS_FULFILLED : r == 1 ? ISO_METRICS_REJECTED : r - 2;
}
static int64_t th_queue(int j) {
  return j % 1000;
}
static int64_t th_run(int j) {
  return j % 7 == 0 ? -1 : j % 5000;
}
static int64_t th_total(int t, int j) {
  return (int64_t)j + t;
}

typedef struct th_arg {
  iso_metrics* m;
  int t;
} th_arg;

static void* th_main(void* arg) {
  th_arg* a = arg;
  for (int j = 0; j < PER_THREAD; j++) {
    iso_metrics_kind k = (iso_metrics_kind)th_kind(a->t, j);
    iso_metrics_accepted(a->m, k);
    iso_metrics_answered(a->m, k, th_outcome(j), th_queue(j), th_run(j),
                         th_total(a->t, j));
  }
  return NULL;
}

static void t_totals_threads(void) {
  iso_metrics* m = iso_metrics_new();
  pthread_t th[THREADS];
  th_arg args[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t] = (th_arg){m, t};
    CHECK_EQ(pthread_create(&th[t], NULL, th_main, &args[t]), 0);
  }
  /* Snapshots while the threads record: each count only grows. */
  uint64_t last = 0;
  for (int i = 0; i < 20; i++) {
    iso_metrics_snap* s = snap_of(m);
    const iso_metrics_hist* h = &s->hist[ISO_METRICS_ALL][ISO_METRICS_TOTAL];
    CHECK(h->count >= last);
    last = h->count;
    free(s);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(th[t], NULL);
  }

  iso_metrics_totals want[3];
  uint64_t count[3][3], sum[3][3], max[3][3];
  memset(want, 0, sizeof(want));
  memset(count, 0, sizeof(count));
  memset(sum, 0, sizeof(sum));
  memset(max, 0, sizeof(max));
  for (int t = 0; t < THREADS; t++) {
    for (int j = 0; j < PER_THREAD; j++) {
      int ks[2] = {th_kind(t, j), ISO_METRICS_ALL};
      int64_t v[3] = {th_queue(j), th_run(j), th_total(t, j)};
      for (int i = 0; i < 2; i++) {
        iso_metrics_totals* w = &want[ks[i]];
        int o = th_outcome(j);
        w->accepted++;
        if (o == ISO_METRICS_FULFILLED) {
          w->fulfilled++;
        } else if (o == ISO_METRICS_REJECTED) {
          w->rejected++;
        } else {
          w->errors[o]++;
        }
        for (int st = 0; st < 3; st++) {
          if (v[st] >= 0) {
            count[ks[i]][st]++;
            sum[ks[i]][st] += (uint64_t)v[st];
            if ((uint64_t)v[st] > max[ks[i]][st]) {
              max[ks[i]][st] = (uint64_t)v[st];
            }
          }
        }
      }
    }
  }
  iso_metrics_snap* s = snap_of(m);
  for (int k = 0; k < 3; k++) {
    const iso_metrics_totals* got = &s->totals[k];
    CHECK_EQ(got->accepted, want[k].accepted);
    CHECK_EQ(got->fulfilled, want[k].fulfilled);
    CHECK_EQ(got->rejected, want[k].rejected);
    for (size_t c = 0; c < ISO_METRICS_NCODES; c++) {
      CHECK_EQ(got->errors[c], want[k].errors[c]);
    }
    CHECK_EQ(answered_of(got), got->accepted);
    for (int st = 0; st < 3; st++) {
      const iso_metrics_hist* h = &s->hist[k][st];
      CHECK_EQ(h->count, count[k][st]);
      CHECK_EQ(h->sum_us, sum[k][st]);
      CHECK_EQ(h->max_us, max[k][st]);
    }
  }
  CHECK_EQ(s->totals[ISO_METRICS_ALL].accepted, THREADS * PER_THREAD);
  CHECK_EQ(s->hist[ISO_METRICS_ALL][ISO_METRICS_TOTAL].max_us,
           PER_THREAD - 1 + THREADS - 1);
  free(s);
  iso_metrics_free(m);
}

static void t_outcomes(void) {
  iso_metrics* m = iso_metrics_new();
  iso_metrics_answered(m, ISO_METRICS_CALL, ISO_CODE_BUSY, -1, -1, 3);
  iso_metrics_answered(m, ISO_METRICS_CALL, ISO_CODE_TIMEOUT, 10, -1, 20);
  iso_metrics_answered(m, ISO_METRICS_CALL, ISO_CODE_UNKNOWN, 1, 2, 3);
  iso_metrics_answered(m, ISO_METRICS_CALL, 9999, 1, 2, 3); /* not a code */
  iso_metrics_answered(m, ISO_METRICS_CALL, -77, 1, 2, 3);  /* nor this */
  iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_METRICS_REJECTED, 0, 0, 0);
  iso_metrics_accepted(NULL, ISO_METRICS_EVAL); /* NULL: nothing */
  iso_metrics_answered(NULL, ISO_METRICS_EVAL, ISO_METRICS_FULFILLED, 1, 1, 1);
  iso_metrics_snap* s = snap_of(m);
  const iso_metrics_totals* call = &s->totals[ISO_METRICS_CALL];
  CHECK_EQ(call->errors[ISO_CODE_BUSY], 1);
  CHECK_EQ(call->errors[ISO_CODE_TIMEOUT], 1);
  CHECK_EQ(call->errors[ISO_CODE_UNKNOWN], 3);
  CHECK_EQ(s->totals[ISO_METRICS_EVAL].rejected, 1);
  CHECK_EQ(s->totals[ISO_METRICS_ALL].rejected, 1);
  /* Negative times are stages never reached; 0 is a real time. */
  CHECK_EQ(s->hist[ISO_METRICS_CALL][ISO_METRICS_QUEUE].count, 4);
  CHECK_EQ(s->hist[ISO_METRICS_CALL][ISO_METRICS_RUN].count, 3);
  CHECK_EQ(s->hist[ISO_METRICS_CALL][ISO_METRICS_TOTAL].count, 5);
  CHECK_EQ(s->hist[ISO_METRICS_EVAL][ISO_METRICS_RUN].count, 1);
  CHECK_EQ(s->hist[ISO_METRICS_EVAL][ISO_METRICS_RUN].buckets[0], 1);
  CHECK_EQ(s->hist[ISO_METRICS_ALL][ISO_METRICS_RUN].count, 4);
  CHECK_EQ(iso_metrics_snapshot(NULL, s), ISO_EINVAL);
  CHECK_EQ(iso_metrics_snapshot(m, NULL), ISO_EINVAL);
  CHECK_EQ(iso_metrics_prometheus(NULL, NULL, NULL), ISO_EINVAL);
  free(s);
  iso_metrics_free(m);
  iso_metrics_free(NULL);
}

static void answer_n(iso_metrics* m, int n) {
  for (int i = 0; i < n; i++) {
    iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_METRICS_FULFILLED, 1, 1, 1);
  }
}

typedef struct rate_case {
  int64_t now;
  double r1, r10, r60;
} rate_case;

static void check_rates(iso_metrics* m,
                        int64_t* now,
                        const rate_case* rc,
                        size_t n) {
  for (size_t i = 0; i < n; i++) {
    *now = rc[i].now;
    iso_metrics_snap* s = snap_of(m);
    if (s->rate_1s != rc[i].r1 || fabs(s->rate_10s - rc[i].r10) > 1e-9 ||
        fabs(s->rate_60s - rc[i].r60) > 1e-9) {
      fprintf(stderr, "  at second %lld: rates %g %g %g, want %g %g %g\n",
              (long long)rc[i].now, s->rate_1s, s->rate_10s, s->rate_60s,
              rc[i].r1, rc[i].r10, rc[i].r60);
      iso_test_failed = 1;
    }
    free(s);
  }
}

static void t_rates(void) {
  iso_metrics* m = iso_metrics_new();
  int64_t now = 10;
  iso_metrics_set_clock(m, fake_clock, &now);
  answer_n(m, 50);
  now = 11;
  answer_n(m, 30);
  const rate_case before[] = {
      {11, 50, 5.0, 50.0 / 60}, /* second 11 is not over */
      {12, 30, 8.0, 80.0 / 60}, /* the brief's example */
      {21, 0, 3.0, 80.0 / 60},  /* 10 s window: seconds 11..20 */
      {22, 0, 0, 80.0 / 60},    /* both left it */
      {71, 0, 0, 30.0 / 60},    /* 60 s window: seconds 11..70 */
      {72, 0, 0, 0},            /* empty */
  };
  check_rates(m, &now, before, sizeof(before) / sizeof(before[0]));

  /* Second 74 reuses second 10's slot: the stale count is replaced. */
  now = 74;
  answer_n(m, 2);
  /* A recorder that stalled a lap (its second 10 is gone) is dropped
   * rather than clobbering second 74. */
  now = 10;
  answer_n(m, 1);
  const rate_case after[] = {
      {75, 2, 0.2, 2.0 / 60},
      {139, 0, 0, 0}, /* 64 s later the slot holds 74 for second 138 */
  };
  check_rates(m, &now, after, sizeof(after) / sizeof(after[0]));

  iso_metrics_set_clock(m, NULL, NULL); /* back to the real clock */
  answer_n(m, 1);
  iso_metrics_snap* s = snap_of(m);
  CHECK_EQ(s->totals[ISO_METRICS_EVAL].fulfilled, 50 + 30 + 2 + 1 + 1);
  free(s);
  iso_metrics_free(m);
}

/* ---- percentiles of known distributions ----------------------------- */

typedef struct dist_case {
  const char* name;
  size_t n;
  int64_t (*value)(size_t i, size_t n);
  double tolerance; /* relative, on each percentile */
} dist_case;

static int64_t d_uniform(size_t i, size_t n) {
  return (int64_t)i + 1; /* 1 .. n */
}
static int64_t d_constant(size_t i, size_t n) {
  return 700;
}
static int64_t d_bimodal(size_t i, size_t n) {
  return i % 10 == 9 ? 1000000 : 100; /* 90% at 100 us, 10% at 1 s */
}
static int64_t d_log_uniform(size_t i, size_t n) {
  return (int64_t)llround(pow(10, 7.0 * (double)i / (double)n)); /* 1us-10s */
}
static int64_t d_overflow(size_t i, size_t n) {
  return 200000000 + (int64_t)i * 1000; /* 200 s and up: past 100 s */
}

static int cmp_i64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

static void t_percentiles(void) {
  static const dist_case cases[] = {
      {"uniform 1..10000", 10000, d_uniform, 0.125},
      {"constant 700", 1000, d_constant, 0.0},
      {"bimodal 100us/1s", 1000, d_bimodal, 0.125},
      {"log-uniform 1us..10s", 100000, d_log_uniform, 0.25},
      /* the overflow bucket spans 100 s .. max: interpolation is coarse */
      {"overflow", 1000, d_overflow, 0.5},
  };
  static const double qs[] = {0.5, 0.9, 0.99, 0.999};
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const dist_case* dc = &cases[c];
    iso_metrics* m = iso_metrics_new();
    int64_t* v = malloc(dc->n * sizeof(*v));
    uint64_t sum = 0;
    for (size_t i = 0; i < dc->n; i++) {
      v[i] = dc->value(i, dc->n);
      sum += (uint64_t)v[i];
      iso_metrics_answered(m, ISO_METRICS_CALL, ISO_METRICS_FULFILLED, v[i], -1,
                           -1);
    }
    qsort(v, dc->n, sizeof(*v), cmp_i64);
    iso_metrics_snap* s = snap_of(m);
    const iso_metrics_hist* h = &s->hist[ISO_METRICS_CALL][ISO_METRICS_QUEUE];
    CHECK_EQ(h->count, dc->n);
    CHECK_EQ(h->sum_us, sum);
    CHECK_EQ(h->max_us, v[dc->n - 1]);
    const double got[] = {h->p50, h->p90, h->p99, h->p999};
    for (size_t q = 0; q < 4; q++) {
      size_t rank = (size_t)ceil(qs[q] * (double)dc->n); /* 1-based */
      double exact = (double)v[rank - 1];
      CHECK(got[q] == iso_metrics_percentile(h, qs[q]));
      if (fabs(got[q] - exact) > dc->tolerance * exact + 1e-9 ||
          got[q] > (double)h->max_us) {
        fprintf(stderr, "  %s: p%g = %g, exact %g (tolerance %g%%)\n", dc->name,
                qs[q] * 100, got[q], exact, dc->tolerance * 100);
        iso_test_failed = 1;
      }
    }
    /* The all-kinds histogram is this one. */
    CHECK(s->hist[ISO_METRICS_ALL][ISO_METRICS_QUEUE].p99 == h->p99);
    free(s);
    free(v);
    iso_metrics_free(m);
  }
  iso_metrics_hist empty;
  memset(&empty, 0, sizeof(empty));
  CHECK(iso_metrics_percentile(&empty, 0.5) == 0);
}

static void t_overflow(void) {
  iso_metrics* m = iso_metrics_new();
  int64_t values[] = {0, 1, 2, 100000000, 100000001, 3000000000};
  for (size_t i = 0; i < 6; i++) {
    iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_METRICS_FULFILLED, -1,
                         values[i], -1);
  }
  iso_metrics_snap* s = snap_of(m);
  const iso_metrics_hist* h = &s->hist[ISO_METRICS_EVAL][ISO_METRICS_RUN];
  CHECK_EQ(h->buckets[0], 2);
  CHECK_EQ(h->buckets[ISO_METRICS_NBOUNDS - 1], 1); /* exactly 100 s */
  CHECK_EQ(h->buckets[ISO_METRICS_NBUCKETS - 1], 2);
  CHECK_EQ(h->max_us, 3000000000);
  CHECK(h->p50 == 2);                           /* rank 3: bucket (1.5, 2] */
  CHECK(h->p99 > 1e8 && h->p99 <= 3000000000.); /* inside the overflow */
  CHECK(iso_metrics_percentile(h, 1.0) == 3000000000.);
  char* text = prom_text(s, NULL);
  CHECK_CONTAINS(text,
                 "isopool_job_run_seconds_bucket{kind=\"eval\","
                 "le=\"60\"} 3\n");
  CHECK_CONTAINS(text,
                 "isopool_job_run_seconds_bucket{kind=\"eval\","
                 "le=\"+Inf\"} 6\n");
  CHECK_CONTAINS(text, "isopool_job_run_seconds_count{kind=\"eval\"} 6\n");
  CHECK_CONTAINS(text,
                 "isopool_job_run_seconds_sum{kind=\"eval\"} "
                 "3200.000004\n");
  free(text);
  free(s);
  iso_metrics_free(m);
}

/* What jobs cost (iso_metrics_costs): CPU in us, heap in KiB, ops, each
 * in its kind's histogram; jobs ended per limit; a job that never ran
 * (cpu_us -1) counts only its limit. */
static void t_costs(void) {
  iso_metrics* m = iso_metrics_new();
  iso_metrics_costs(m, ISO_METRICS_CALL, 1500, 10 << 20, 3, ISO_LIMIT_NONE);
  iso_metrics_costs(m, ISO_METRICS_CALL, 50000, 2048, 0, ISO_LIMIT_CPU);
  iso_metrics_costs(m, ISO_METRICS_EVAL, 200000, 0, 7, ISO_LIMIT_WALL);
  iso_metrics_costs(m, ISO_METRICS_EVAL, -1, 0, 0, ISO_LIMIT_WALL);
  iso_metrics_costs(m, ISO_METRICS_EVAL, 9000, 300 << 20, 0, ISO_LIMIT_MEMORY);
  iso_metrics_snap* s = snap_of(m);
  const iso_metrics_hist* cpu = &s->costs[ISO_METRICS_CALL][ISO_METRICS_CPU];
  CHECK_EQ(cpu->count, 2);
  CHECK_EQ(cpu->sum_us, 51500);
  CHECK_EQ(cpu->max_us, 50000);
  CHECK_EQ(s->costs[ISO_METRICS_EVAL][ISO_METRICS_CPU].count, 2);
  CHECK_EQ(s->costs[ISO_METRICS_ALL][ISO_METRICS_CPU].count, 4);
  CHECK_EQ(s->costs[ISO_METRICS_CALL][ISO_METRICS_HEAP].sum_us, 10240 + 2);
  CHECK_EQ(s->costs[ISO_METRICS_ALL][ISO_METRICS_OPS].sum_us, 10);
  CHECK_EQ(s->limited[ISO_LIMIT_CPU], 1);
  CHECK_EQ(s->limited[ISO_LIMIT_WALL], 2);
  CHECK_EQ(s->limited[ISO_LIMIT_MEMORY], 1);
  char* text = prom_text(s, NULL);
  CHECK_CONTAINS(text, "# TYPE isopool_job_cpu_seconds histogram\n");
  CHECK_CONTAINS(text,
                 "isopool_job_cpu_seconds_bucket{kind=\"call\",le=\"0.002\"} "
                 "1\n");
  CHECK_CONTAINS(text, "isopool_job_cpu_seconds_sum{kind=\"call\"} 0.0515\n");
  CHECK_CONTAINS(text,
                 "isopool_job_heap_bytes_bucket{kind=\"call\",le=\"2048\"} "
                 "1\n");
  CHECK_CONTAINS(text,
                 "isopool_job_heap_bytes_bucket{kind=\"call\",le="
                 "\"10240000\"} 1\n");
  CHECK_CONTAINS(text,
                 "isopool_job_heap_bytes_bucket{kind=\"call\",le="
                 "\"20480000\"} 2\n");
  CHECK_CONTAINS(text, "isopool_job_ops_bucket{kind=\"eval\",le=\"10\"} 2\n");
  CHECK_CONTAINS(text, "isopool_jobs_limited_total{limit=\"cpu\"} 1\n");
  CHECK_CONTAINS(text, "isopool_jobs_limited_total{limit=\"wall\"} 2\n");
  CHECK_CONTAINS(text, "isopool_jobs_limited_total{limit=\"memory\"} 1\n");
  free(text);
  free(s);
  iso_metrics_free(m);
}

/* A batch's tally records what one call per job records: the same
 * answers, direct into one recorder and through tallies (flushed at
 * uneven points, runs of equal buckets broken by values on both sides of
 * bucket bounds, the overflow, stages never reached, errors and limits)
 * into another, give equal snapshots and rates; nothing shows before the
 * flush; a tally of no recorder records nothing. */
static void t_tally(void) {
  int64_t now = 100;
  iso_metrics* direct = iso_metrics_new();
  iso_metrics* tallied = iso_metrics_new();
  iso_metrics_set_clock(direct, fake_clock, &now);
  iso_metrics_set_clock(tallied, fake_clock, &now);
  static const int64_t values[] = {
      0,    1, 2, 1, 125, 126,     125, 124, -1, 3000, 3001,
      3000, 7, 7, 7, 1e8, 1e8 + 1, 5e9, 60,  61, 59,   1000000};
  const size_t nv = sizeof values / sizeof values[0];
  static const int outcomes[] = {ISO_METRICS_FULFILLED, ISO_METRICS_FULFILLED,
                                 ISO_METRICS_REJECTED,  ISO_CODE_TIMEOUT,
                                 ISO_METRICS_FULFILLED, 9999};
  static const iso_limit limits[] = {ISO_LIMIT_NONE, ISO_LIMIT_NONE,
                                     ISO_LIMIT_CPU,  ISO_LIMIT_NONE,
                                     ISO_LIMIT_WALL, ISO_LIMIT_MEMORY};
  iso_metrics_tally t;
  iso_metrics_tally_init(&t, tallied);
  uint64_t seed = 7;
  int pending = 0;
  for (int i = 0; i < 3000; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    iso_metrics_kind k =
        (seed >> 40) % 3 == 0 ? ISO_METRICS_EVAL : ISO_METRICS_CALL;
    int64_t q = values[(seed >> 20) % nv];
    int64_t r = values[(i / 7) % nv]; /* runs of seven */
    int64_t total = values[(seed >> 30) % nv];
    int out = outcomes[(seed >> 50) % 6];
    int64_t cpu = i % 11 == 0 ? -1 : values[(i / 3) % nv];
    int64_t heap = values[(seed >> 10) % nv] * 1024;
    int64_t ops = i % 5;
    iso_limit lim = limits[(seed >> 45) % 6];
    iso_metrics_answered(direct, k, out, q, r, total);
    iso_metrics_costs(direct, k, cpu, heap, ops, lim);
    iso_metrics_tally_answered(&t, k, out, q, r, total);
    iso_metrics_tally_costs(&t, k, cpu, heap, ops, lim);
    pending = 1;
    if ((seed >> 33) % 97 == 0) {
      iso_metrics_tally_flush(&t);
      pending = 0;
    }
  }
  CHECK(pending); /* the last answers are still in the tally */
  iso_metrics_snap* before = snap_of(tallied);
  iso_metrics_snap* want = snap_of(direct);
  CHECK(answered_of(&before->totals[ISO_METRICS_ALL]) <
        answered_of(&want->totals[ISO_METRICS_ALL]));
  iso_metrics_tally_flush(&t);
  now++; /* the rate counts whole seconds */
  free(want);
  want = snap_of(direct);
  iso_metrics_snap* got = snap_of(tallied);
  for (int k = 0; k <= ISO_METRICS_ALL; k++) {
    CHECK_EQ(memcmp(&got->totals[k], &want->totals[k], sizeof got->totals[k]),
             0);
    for (int st = 0; st < ISO_METRICS_NSTAGES; st++) {
      CHECK_EQ(memcmp(&got->hist[k][st], &want->hist[k][st],
                      sizeof got->hist[k][st]),
               0);
    }
    for (int c = 0; c < ISO_METRICS_NCOSTS; c++) {
      CHECK_EQ(memcmp(&got->costs[k][c], &want->costs[k][c],
                      sizeof got->costs[k][c]),
               0);
    }
  }
  CHECK_EQ(memcmp(got->limited, want->limited, sizeof got->limited), 0);
  CHECK_EQ(got->rate_1s, want->rate_1s);
  CHECK(got->rate_1s > 0);
  /* nothing left to flush; a tally of no recorder records nothing */
  iso_metrics_tally_flush(&t);
  iso_metrics_snap* again = snap_of(tallied);
  CHECK_EQ(
      memcmp(&again->totals[ISO_METRICS_ALL], &want->totals[ISO_METRICS_ALL],
             sizeof again->totals[ISO_METRICS_ALL]),
      0);
  iso_metrics_tally_init(&t, NULL);
  iso_metrics_tally_answered(&t, ISO_METRICS_CALL, ISO_METRICS_FULFILLED, 1, 1,
                             1);
  iso_metrics_tally_costs(&t, ISO_METRICS_CALL, 1, 1, 1, ISO_LIMIT_CPU);
  iso_metrics_tally_flush(&t);
  free(before);
  free(want);
  free(got);
  free(again);
  iso_metrics_free(direct);
  iso_metrics_free(tallied);
}

/* ---- Prometheus --------------------------------------------------------- */

static void t_prometheus(void) {
  iso_metrics* m = iso_metrics_new();
  for (int i = 0; i < 7; i++) {
    iso_metrics_accepted(m, ISO_METRICS_EVAL);
  }
  iso_metrics_accepted(m, ISO_METRICS_CALL);
  iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_METRICS_FULFILLED, 150, 2500,
                       2700);
  iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_METRICS_REJECTED, 90, 40, 140);
  iso_metrics_answered(m, ISO_METRICS_EVAL, ISO_CODE_BUSY, -1, -1, 12);
  iso_metrics_answered(m, ISO_METRICS_CALL, ISO_CODE_TIMEOUT, 20, 5000000,
                       5000030);
  iso_metrics_snap* s = snap_of(m);
  iso_metrics_gauges g = {.workers_configured = 4,
                          .workers_alive = 3,
                          .queued = 2,
                          .inflight = -1, /* gauges may go negative */
                          .uptime_ms = 61250,
                          .version = ISO_VERSION " \"dev\"\\\nx",
                          .recycles = {{"asked", 2}, {"jobs", 5}},
                          .nrecycles = 2,
                          .recycles_cold = 1,
                          .spare_builds = 6,
                          .spares_ready = 1,
                          .spare_bytes = 3 << 20,
                          .code_hits = 11,
                          .code_misses = 4,
                          .code_rejected = 1,
                          .code_evicted = 2,
                          .code_made = 3,
                          .code_entries = 5,
                          .code_bytes = 70000};
  char* text = prom_text(s, &g);
  static const char* const want[] = {
      "# HELP isopool_jobs_accepted_total Jobs accepted, by kind.\n"
      "# TYPE isopool_jobs_accepted_total counter\n"
      "isopool_jobs_accepted_total{kind=\"eval\"} 7\n"
      "isopool_jobs_accepted_total{kind=\"call\"} 1\n",
      "isopool_jobs_answered_total{kind=\"eval\",outcome=\"fulfilled\"} 1\n"
      "isopool_jobs_answered_total{kind=\"eval\",outcome=\"rejected\"} 1\n",
      "{kind=\"eval\",outcome=\"error\",code=\"busy\"} 1\n",
      "{kind=\"call\",outcome=\"error\",code=\"timeout\"} 1\n",
      "{kind=\"call\",outcome=\"error\",code=\"internal\"} 0\n",
      "# TYPE isopool_job_duration_seconds histogram\n"
      "isopool_job_duration_seconds_bucket{kind=\"eval\",le=\"0.0001\"} 1\n"
      "isopool_job_duration_seconds_bucket{kind=\"eval\",le=\"0.0002\"} 2\n",
      "isopool_job_duration_seconds_bucket{kind=\"eval\",le=\"0.005\"} 3\n",
      "isopool_job_duration_seconds_sum{kind=\"eval\"} 0.002852\n"
      "isopool_job_duration_seconds_count{kind=\"eval\"} 3\n",
      "isopool_job_run_seconds_bucket{kind=\"call\",le=\"2\"} 0\n"
      "isopool_job_run_seconds_bucket{kind=\"call\",le=\"5\"} 1\n",
      "isopool_job_run_seconds_sum{kind=\"call\"} 5\n",
      "isopool_job_queue_seconds_count{kind=\"eval\"} 2\n",
      "isopool_workers_configured 4\n",
      "isopool_workers_alive 3\n",
      "isopool_jobs_queued 2\n",
      "isopool_jobs_inflight -1\n",
      "isopool_uptime_seconds 61.25\n",
      "isopool_build_info{version=\"" ISO_VERSION " \\\"dev\\\"\\\\\\nx\"} 1\n",
      "# TYPE isopool_worker_recycles_total counter\n"
      "isopool_worker_recycles_total{reason=\"asked\"} 2\n"
      "isopool_worker_recycles_total{reason=\"jobs\"} 5\n",
      "isopool_worker_cold_recycles_total 1\n",
      "isopool_spare_builds_total 6\n",
      "isopool_spare_isolates 1\n",
      "isopool_spare_isolate_bytes 3145728\n",
      "# TYPE isopool_code_cache_hits_total counter\n"
      "isopool_code_cache_hits_total 11\n",
      "isopool_code_cache_misses_total 4\n",
      "isopool_code_cache_rejected_total 1\n",
      "isopool_code_cache_evicted_total 2\n",
      "isopool_code_cache_made_total 3\n",
      "# TYPE isopool_code_cache_entries gauge\n"
      "isopool_code_cache_entries 5\n",
      "# TYPE isopool_code_cache_bytes gauge\n"
      "isopool_code_cache_bytes 70000\n",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    CHECK_CONTAINS(text, want[i]);
  }
  CHECK(strstr(text, "code=\"unknown\"") == NULL); /* only when counted */
  CHECK(strstr(text, "kind=\"all\"") == NULL);
  free(text);

  /* Appending keeps what the buffer held. */
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_buf_append(&b, "x\n", 2), 0);
  CHECK_EQ(iso_metrics_prometheus(s, NULL, &b), 0);
  CHECK(b.len > 2 && memcmp(b.data, "x\n# HELP ", 9) == 0);
  iso_buf_close(&b);

  /* An empty service: every series at 0, no gauges. */
  iso_metrics_free(m);
  m = iso_metrics_new();
  free(s);
  s = snap_of(m);
  text = prom_text(s, NULL);
  CHECK_CONTAINS(text,
                 "isopool_job_queue_seconds_bucket{kind=\"call\","
                 "le=\"+Inf\"} 0\n");
  CHECK(strstr(text, "isopool_workers") == NULL);
  free(text);
  free(s);
  iso_metrics_free(m);
}

/* The validator itself refuses what it should. */
typedef struct bad_doc {
  const char* name;
  const char* text;
} bad_doc;

#define H_(n) "# HELP " n " h\n# TYPE " n
static void t_validator(void) {
  static const char* good =
      H_("a_total") " counter\na_total{k=\"v\\\"\\\\\\n\"} 1\n"
      H_("h") " histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
      "h_sum 0.75\nh_count 2\n";
  char err[256];
  CHECK_EQ(prom_validate(good, strlen(good), err, sizeof(err)), 0);
  static const bad_doc bad[] = {
      {"no final newline", H_("g") " gauge\ng 1"},
      {"empty line", H_("g") " gauge\n\ng 1\n"},
      {"no TYPE", "# HELP g h\ng 1\n"},
      {"no HELP", "# TYPE g gauge\ng 1\n"},
      {"sample first", "g 1\n" H_("g") " gauge\n"},
      {"second TYPE", H_("g") " gauge\n# TYPE g gauge\ng 1\n"},
      {"TYPE after samples", "# HELP g h\ng 1\n# TYPE g gauge\n"},
      {"bad type", H_("g") " gaug\ng 1\n"},
      {"other comment", "# hello\n"},
      {"bad name", H_("1g") " gauge\n1g 1\n"},
      {"bad label name", H_("g") " gauge\ng{1k=\"v\"} 1\n"},
      {"reserved label", H_("g") " gauge\ng{__k=\"v\"} 1\n"},
      {"bad escape", H_("g") " gauge\ng{k=\"\\t\"} 1\n"},
      {"unterminated", H_("g") " gauge\ng{k=\"v} 1\n"},
      {"trailing comma", H_("g") " gauge\ng{k=\"v\",} 1\n"},
      {"duplicate label", H_("g") " gauge\ng{k=\"v\",k=\"w\"} 1\n"},
      {"bad value", H_("g") " gauge\ng one\n"},
      {"timestamp", H_("g") " gauge\ng 1 1700000000\n"},
      {"duplicate series", H_("g") " gauge\ng{a=\"1\",b=\"2\"} 1\n"
                                   "g{b=\"2\",a=\"1\"} 1\n"},
      {"split family", H_("g") " gauge\n" H_("f") " gauge\ng{a=\"1\"} 1\n"
                                                  "f 1\ng{a=\"2\"} 1\n"},
      {"negative counter", H_("c_total") " counter\nc_total -1\n"},
      {"counter name", H_("c") " counter\nc 1\n"},
      {"not cumulative", H_("h") " histogram\nh_bucket{le=\"1\"} 2\n"
                                 "h_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
                                 "h_count 1\n"},
      {"le not ascending", H_("h") " histogram\nh_bucket{le=\"2\"} 1\n"
                                   "h_bucket{le=\"1\"} 1\n"
                                   "h_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
                                   "h_count 1\n"},
      {"no +Inf", H_("h") " histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n"
                          "h_count 1\n"},
      {"+Inf != count", H_("h") " histogram\nh_bucket{le=\"+Inf\"} 2\n"
                                "h_sum 1\nh_count 1\n"},
      {"no _sum", H_("h") " histogram\nh_bucket{le=\"+Inf\"} 1\n"
                          "h_count 1\n"},
      {"bucket without le", H_("h") " histogram\nh_bucket 1\nh_sum 1\n"
                                    "h_count 1\n"},
      {"bare histogram name", H_("h") " histogram\nh 1\n"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (prom_validate(bad[i].text, strlen(bad[i].text), err, sizeof(err)) ==
        0) {
      fprintf(stderr, "  validator accepted: %s\n", bad[i].name);
      iso_test_failed = 1;
    }
  }
}
#undef H_

/* promtool's own check, when the prometheus package is installed. */
static void t_promtool(void) {
  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    fprintf(stderr, "  skipped: promtool is not installed\n");
    return;
  }
  iso_metrics* m = iso_metrics_new();
  iso_metrics_accepted(m, ISO_METRICS_CALL);
  iso_metrics_answered(m, ISO_METRICS_CALL, ISO_METRICS_FULFILLED, 5, 300, 320);
  iso_metrics_snap* s = snap_of(m);
  iso_metrics_gauges g = {1, 1, 0, 0, 1000, ISO_VERSION};
  char* text = prom_text(s, &g);
  char path[] = "/tmp/isopool-metrics-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE* f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
  CHECK_EQ(system(cmd), 0);
  unlink(path);
  free(text);
  free(s);
  iso_metrics_free(m);
}

int main(int argc, char** argv) {
  static const iso_test cases[] = {
      {"bucket_layout", t_bucket_layout},
      {"totals_threads", t_totals_threads},
      {"outcomes", t_outcomes},
      {"rates", t_rates},
      {"percentiles", t_percentiles},
      {"overflow", t_overflow},
      {"prometheus", t_prometheus},
      {"validator", t_validator},
      {"promtool", t_promtool},
      {"costs", t_costs},
      {"tally", t_tally},
      {NULL, NULL},
  };
  return iso_test_main(argc, argv, cases);
}
