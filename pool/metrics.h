/* metrics.h: the service's counters, rates and latency histograms.
 *
 * The pool records every job twice: once when it is accepted and once when
 * it is answered (fulfilled, rejected, or an error code), with the time it
 * waited for a worker, ran, and spent in the service. The admin plane reads
 * it all through a snapshot: the `status` totals and rates, the `stats`
 * histograms (docs/protocol.md, "The admin protocol"), and the Prometheus
 * text exposition for a metrics endpoint.
 *
 * Self-contained: pure C11 and <stdatomic.h>, no NNG, no V8; it uses only
 * common/, codec/'s buffer and ipc/'s code table (iso_buf.h, iso_proto.h).
 *
 * DESIGN: recording happens on hot paths in many threads at once (the
 * dispatcher's NNG callbacks, every worker), so it takes no lock: each
 * record is a handful of relaxed atomic adds on fixed counters. A
 * histogram is a fixed array of log-linear buckets, so recording is a
 * binary search over a static table, two adds (its bucket and the sum)
 * and a compare-and-swap only when a value raises the maximum. Rates come from
 * a ring of 64 per-second counters, each one 64-bit word holding the second it
 * counts (high 32 bits) and its count (low 32 bits), so a slot from an earlier
 * lap is recognised by its second and replaced by one CAS the first time each
 * second reaches it. Nothing is ever reset. A snapshot reads each counter once:
 * it is not one instant (a job may show as accepted and not yet answered), but
 * every number in it is one the counters really held, and a histogram's count
 * is the sum of its buckets, so the two agree.
 */
#ifndef ISO_METRICS_H
#define ISO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layout ------------------------------------------------------------- */

/* The kinds of job counted apart. ISO_METRICS_ALL is not recorded: in a
 * snapshot it is the sum of the others. */
typedef enum iso_metrics_kind {
  ISO_METRICS_EVAL = 0,
  ISO_METRICS_CALL = 1,
  ISO_METRICS_ALL = 2
} iso_metrics_kind;
#define ISO_METRICS_NKINDS 2 /* recorded kinds (eval, call) */

/* iso_metrics_kind_of: the metrics kind of a protocol job kind.
 * Thread: any. */
static inline iso_metrics_kind iso_metrics_kind_of(iso_job_kind kind) {
  return kind == ISO_JOB_CALL ? ISO_METRICS_CALL : ISO_METRICS_EVAL;
}

/* The three times of a job, each with its histogram. */
typedef enum iso_metrics_stage {
  ISO_METRICS_QUEUE = 0, /* waiting for a worker */
  ISO_METRICS_RUN = 1,   /* on the worker */
  ISO_METRICS_TOTAL = 2, /* from receipt to reply */
  ISO_METRICS_NSTAGES = 3
} iso_metrics_stage;

/* What a job cost, each with its histogram (iso_metrics_costs), on the
 * same buckets as the times: CPU time in microseconds, heap allocated in
 * KiB, ops as a count. */
typedef enum iso_metrics_cost {
  ISO_METRICS_CPU = 0,  /* its JavaScript's CPU time, us */
  ISO_METRICS_HEAP = 1, /* heap its JavaScript allocated, KiB */
  ISO_METRICS_OPS = 2,  /* ops it called */
  ISO_METRICS_NCOSTS = 3
} iso_metrics_cost;

/* Jobs ended by a limit, indexed by iso_limit (0, NONE, unused). */
#define ISO_METRICS_NLIMITS (ISO_LIMIT_MEMORY + 1)

/* How a job was answered: ISO_METRICS_FULFILLED, ISO_METRICS_REJECTED, or
 * an error reply's iso_proto_code (ISO_CODE_BUSY, ...; a value outside the
 * table counts as ISO_CODE_UNKNOWN). */
#define ISO_METRICS_FULFILLED (-1)
#define ISO_METRICS_REJECTED (-2)

/* Error counters, indexed by iso_proto_code: [ISO_CODE_UNKNOWN] (0), then
 * one per job code of ISO_PROTO_CODE_TABLE (the rows marked ISO_CODE_JOB,
 * which come first), so new codes need no change here. */
#define ISO_METRICS_COUNT_CODE_(name, str, where) +(((where)&ISO_CODE_JOB) != 0)
#define ISO_METRICS_NCODES (1 ISO_PROTO_CODE_TABLE(ISO_METRICS_COUNT_CODE_))

/* Histogram buckets, in microseconds: 10 per decade, upper bounds
 * {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8} x 10^k for k = 0..7, then 10^8
 * (100 s): 81 finite bounds. Bucket i holds the values v with
 * bound(i-1) < v <= bound(i) (bucket 0: v <= 1 us, including 0); the last
 * bucket, ISO_METRICS_NBUCKETS - 1, is the overflow (v > 100 s). */
#define ISO_METRICS_NBOUNDS 81
#define ISO_METRICS_NBUCKETS (ISO_METRICS_NBOUNDS + 1)

/* iso_metrics_bucket_le_us: bucket i's upper bound in microseconds
 * (1, 1.25, ... 1e8), or INFINITY for the overflow bucket and any i past
 * it. Thread: any. */
double iso_metrics_bucket_le_us(size_t i);

/* ---- the recorder ------------------------------------------------------- */

typedef struct iso_metrics iso_metrics;

/* iso_metrics_clock_cb: a clock in whole seconds, only compared with
 * itself (the rates' "which second is it"). */
typedef int64_t (*iso_metrics_clock_cb)(void* arg);

/* iso_metrics_new: constructor; all counters zero, the clock
 * CLOCK_MONOTONIC_COARSE in seconds. Returns NULL when out of memory.
 * Free with iso_metrics_free. Thread: any. */
iso_metrics* iso_metrics_new(void);

/* iso_metrics_free: destructor; accepts NULL. Thread: any, once nobody
 * records any more. */
void iso_metrics_free(iso_metrics* m);

/* iso_metrics_set_clock: replaces the clock (tests step it by hand);
 * clock_cb NULL restores the default. Thread: before m is shared (the
 * recording functions read the pointer without synchronisation). */
void iso_metrics_set_clock(iso_metrics* m,
                           iso_metrics_clock_cb clock_cb,
                           void* arg);

/* iso_metrics_accepted: counts one job accepted (every job a request
 * carried, batch elements one by one). m NULL does nothing.
 * Thread: any; lock-free. */
void iso_metrics_accepted(iso_metrics* m, iso_metrics_kind kind);

/* iso_metrics_answered: counts one job answered with `outcome`
 * (ISO_METRICS_FULFILLED, ISO_METRICS_REJECTED or an iso_proto_code) and
 * records its times in microseconds in the kind's histograms. A negative
 * time means the job never reached that stage and is not recorded (pass -1
 * for queue_us and run_us of a job refused before it was queued, and for
 * run_us of one that timed out in the queue); 0 is a real time (under a
 * microsecond). Also counts it in the current second's rate. m NULL does
 * nothing. Thread: any; lock-free (relaxed atomic adds, and a CAS only to
 * raise a maximum or to start a new second). */
void iso_metrics_answered(iso_metrics* m,
                          iso_metrics_kind kind,
                          int outcome,
                          int64_t queue_us,
                          int64_t run_us,
                          int64_t total_us);

/* iso_metrics_costs: records what a job that ran cost (its reply's
 * stats: cpu_us, heap_bytes, ops) in the kind's cost histograms, and
 * counts it among the jobs `limit` ended (ISO_LIMIT_NONE: none). A
 * negative cpu_us records no costs (the job never ran), only the limit.
 * m NULL does nothing. Thread: any; lock-free. */
void iso_metrics_costs(iso_metrics* m,
                       iso_metrics_kind kind,
                       int64_t cpu_us,
                       int64_t heap_bytes,
                       int64_t ops,
                       iso_limit limit);

/* iso_metrics_tally: a batch's answers, counted on the caller's stack and
 * added to the recorder at once (iso_metrics_tally_flush). A batch's jobs
 * mostly fall in the same few buckets, so a run of equal buckets is one
 * addition, and the sums, maximums, outcome counts and rate one each: a
 * few atomic additions per histogram for the whole batch, where
 * iso_metrics_answered and iso_metrics_costs make two per job and
 * histogram. Fill it with iso_metrics_tally_answered and
 * iso_metrics_tally_costs (the arguments of the two), then flush it once;
 * snapshots see its answers only then. Thread: one (the tally is not
 * shared); the flush is lock-free like the rest. */
typedef struct iso_metrics_tally_hist {
  int bucket;      /* the bucket of the run being counted; -1: none */
  uint64_t lo, hi; /* the whole values it holds: lo < v <= hi (0 <= v
                      <= hi in bucket 0) */
  uint64_t run;    /* its length */
  uint64_t sum, max;
} iso_metrics_tally_hist;

typedef struct iso_metrics_tally {
  iso_metrics* m;
  uint64_t answered; /* for the rate */
  struct {
    uint64_t fulfilled, rejected;
    /* the stages' histograms, then the costs' */
    iso_metrics_tally_hist h[ISO_METRICS_NSTAGES + ISO_METRICS_NCOSTS];
  } kinds[ISO_METRICS_NKINDS];
} iso_metrics_tally;

/* iso_metrics_tally_init: an empty tally for m (NULL: one that records
 * nothing). Cannot fail. */
void iso_metrics_tally_init(iso_metrics_tally* t, iso_metrics* m);

/* iso_metrics_tally_answered, iso_metrics_tally_costs: as
 * iso_metrics_answered and iso_metrics_costs, into the tally (an error
 * outcome and a limit, which are rare, go to the recorder at once). */
void iso_metrics_tally_answered(iso_metrics_tally* t,
                                iso_metrics_kind kind,
                                int outcome,
                                int64_t queue_us,
                                int64_t run_us,
                                int64_t total_us);
void iso_metrics_tally_costs(iso_metrics_tally* t,
                             iso_metrics_kind kind,
                             int64_t cpu_us,
                             int64_t heap_bytes,
                             int64_t ops,
                             iso_limit limit);

/* iso_metrics_tally_flush: adds what the tally holds to the recorder and
 * empties it. */
void iso_metrics_tally_flush(iso_metrics_tally* t);

/* ---- snapshots ---------------------------------------------------------- */

/* One histogram, in microseconds. */
typedef struct iso_metrics_hist {
  /* Per bucket, not cumulative: see ISO_METRICS_NBUCKETS for the bounds. */
  uint64_t buckets[ISO_METRICS_NBUCKETS];
  uint64_t count;  /* the sum of buckets */
  uint64_t sum_us; /* the sum of the values */
  uint64_t max_us; /* the largest value; 0 when count is 0 */
  /* From the buckets by iso_metrics_percentile; 0 when count is 0. */
  double p50, p90, p99, p999;
} iso_metrics_hist;

/* The job counters of one kind (or of all). Every accepted job ends up in
 * exactly one of fulfilled, rejected and errors[] once it is answered. */
typedef struct iso_metrics_totals {
  uint64_t accepted;
  uint64_t fulfilled;
  uint64_t rejected;
  uint64_t errors[ISO_METRICS_NCODES]; /* by iso_proto_code */
} iso_metrics_totals;

/* What iso_metrics_snapshot copies out: a plain struct (about 7 KB) the
 * caller owns and reads at leisure. Indexes: [iso_metrics_kind] (EVAL,
 * CALL, ALL = their sum) and [iso_metrics_stage] (QUEUE, RUN, TOTAL). */
typedef struct iso_metrics_snap {
  iso_metrics_totals totals[ISO_METRICS_NKINDS + 1];
  /* Jobs answered per second over the last 1, 10 and 60 whole seconds
   * (the current, incomplete second is not counted; a window longer than
   * the service has run counts the missing seconds as 0). */
  double rate_1s, rate_10s, rate_60s;
  iso_metrics_hist hist[ISO_METRICS_NKINDS + 1][ISO_METRICS_NSTAGES];
  /* [iso_metrics_kind][iso_metrics_cost]: values in the cost's unit */
  iso_metrics_hist costs[ISO_METRICS_NKINDS + 1][ISO_METRICS_NCOSTS];
  uint64_t limited[ISO_METRICS_NLIMITS]; /* jobs ended per iso_limit */
} iso_metrics_snap;

/* iso_metrics_snapshot: fills *out from m's counters (see the DESIGN note:
 * consistent per counter, not one instant) and computes the ALL sums, the
 * rates at the clock's current second and the percentiles. Returns 0, or
 * ISO_EINVAL if m or out is NULL. Thread: any; takes no lock, so it may
 * run while others record. */
int iso_metrics_snapshot(iso_metrics* m, iso_metrics_snap* out);

/* iso_metrics_percentile: the q-quantile (0 < q <= 1) of a histogram, in
 * microseconds: the bucket holding rank q * count, interpolated linearly
 * inside it (the overflow bucket is taken to end at max_us), clamped to
 * max_us. 0 for an empty histogram. The error is at most one bucket's
 * width, a quarter of its upper bound. Thread: any. */
double iso_metrics_percentile(const iso_metrics_hist* h, double q);

/* ---- Prometheus --------------------------------------------------------- */

/* The Content-Type of iso_metrics_prometheus's output. */
#define ISO_METRICS_PROMETHEUS_CONTENT_TYPE \
  "text/plain; version=0.0.4; charset=utf-8"

/* The service's state, filled by the caller for the exposition. */
/* The most recycle reasons iso_metrics_gauges carries. */
#define ISO_METRICS_MAX_REASONS 8

/* One worker's figures (the front's view: its last INFO record, its
 * slots, its DONE and RECYCLED records). */
typedef struct iso_metrics_worker {
  int id;
  const char* state; /* "running", "recycling", ... */
  int64_t heap_used, heap_limit;
  int64_t inflight;
  int64_t answered; /* jobs its DONE records answered */
  int64_t recycles; /* its isolate replaced (poolctl recycle, a limit, a
                       policy) */
} iso_metrics_worker;

/* The serving process's own figures, as Prometheus's process collector
 * names them (process_*): from /proc/self. */
typedef struct iso_metrics_process {
  double cpu_seconds;
  int64_t resident_bytes, virtual_bytes;
  int64_t open_fds, max_fds;
  double start_time_seconds; /* since the epoch */
  int valid;                 /* 0: /proc could not be read: none printed */
} iso_metrics_process;

typedef struct iso_metrics_gauges {
  int64_t workers_configured;
  int64_t workers_alive;
  int64_t queued;    /* jobs waiting for a worker */
  int64_t inflight;  /* jobs on workers */
  int64_t uptime_ms; /* since the service started */
  /* isopool's version for isopool_build_info{version="..."}; NULL: no
   * build_info. Any bytes: it is escaped. */
  const char* version;
  /* pool processes (all 0 with --processes 0): by state, and counters */
  int64_t processes_active;
  int64_t processes_spare;
  int64_t processes_starting;
  int64_t process_restarts; /* replacements started after a death */
  int64_t jobs_lost;        /* jobs answered worker_lost as their
                               process died */
  int64_t fetch_transfers;  /* fetch's transfers alive (ops/iso_net.h) */
  int64_t pings;            /* pings answered (not jobs) */
  /* recycling: workers' isolates replaced, by reason (a name and its
   * count; nrecycles of them), of which built on the worker's own thread
   * (no spare was ready); spare isolates built, ready now, and the memory
   * the ready ones hold */
  struct {
    const char* reason;
    int64_t n;
  } recycles[ISO_METRICS_MAX_REASONS];
  int nrecycles;
  int64_t recycles_cold;
  int64_t spare_builds;
  int64_t spares_ready;
  int64_t spare_bytes;
  /* the code caches of user modules over every pool process (status's
   * code_cache): counters since the service started, then the entries
   * and their bytes now */
  int64_t code_hits;
  int64_t code_misses;
  int64_t code_rejected;
  int64_t code_evicted;
  int64_t code_made;
  int64_t code_entries;
  int64_t code_bytes;
  /* per worker (nworkers of them; may be 0) */
  const iso_metrics_worker* workers;
  int nworkers;
  iso_metrics_process process;
} iso_metrics_gauges;

/* iso_metrics_process_read: this process's figures from /proc/self
 * (out->valid 0 when it cannot be read). Thread: any. */
void iso_metrics_process_read(iso_metrics_process* out);

/* iso_metrics_prometheus: appends the Prometheus text exposition (format
 * 0.0.4) of a snapshot and, if g is not NULL, of the gauges to out:
 *
 *   isopool_jobs_accepted_total{kind}                     counter
 *   isopool_jobs_answered_total{kind,outcome[,code]}      counter
 *       outcome "fulfilled", "rejected", or "error" with code "busy", ...
 *       (every code of the table; "unknown" only when not 0)
 *   isopool_job_{queue,run,duration}_seconds{kind}        histogram
 *       duration: from a job's receipt to its reply
 *       le = the 1-2-5 series from 100 us to 50 s, 60 s and +Inf
 *   isopool_job_cpu_seconds{kind}                         histogram
 *       its JavaScript's CPU time, le as above
 *   isopool_job_heap_bytes{kind}                          histogram
 *       heap allocated, le = the 1-2-5 series from 1 KiB to 1000 MiB
 *   isopool_job_ops{kind}                                 histogram
 *       ops called, le = the 1-2-5 series from 1 to 100000
 *   isopool_jobs_limited_total{limit="cpu","wall","memory"} counter
 *   isopool_workers_configured, isopool_workers_alive,
 *   isopool_jobs_queued, isopool_jobs_inflight,
 *   isopool_uptime_seconds, isopool_build_info{version}   gauges
 *   isopool_processes{state="active","spare","starting"}  gauge
 *   isopool_process_restarts_total, isopool_jobs_lost_total counters
 *   isopool_pings_total                                   counter
 *       pings answered (heartbeats; never jobs, so in no job figure)
 *   isopool_worker_recycles_total{reason}, isopool_worker_cold_recycles_total,
 *   isopool_spare_builds_total                            counters
 *   isopool_spare_isolates, isopool_spare_isolate_bytes   gauges
 *   isopool_code_cache_{hits,misses,rejected,evicted,made}_total counters
 *   isopool_code_cache_entries, isopool_code_cache_bytes  gauges
 *   isopool_worker_{heap_used,heap_limit}_bytes{worker},
 *   isopool_worker_jobs_inflight{worker},
 *   isopool_worker_state{worker,state} (1)               gauges
 *   isopool_worker_jobs_answered_total{worker},
 *   isopool_worker_recycles_by_worker_total{worker}      counters
 *       (a worker's own since it started; a new worker after its process
 *       died starts again at 0)
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_open_fds, process_max_fds,
 *   process_start_time_seconds                           the front process
 *       (Prometheus's process collector's names; the pool processes are
 *       isopool_processes and isopool_worker_*)
 *
 * kind is "eval" or "call" (no "all" series: Prometheus sums them). Rates
 * are left to Prometheus (rate() over the counters). Returns 0 or
 * ISO_ENOMEM (out->len unchanged), ISO_EINVAL if s or out is NULL.
 * Thread: any (s and out are the caller's). */
int iso_metrics_prometheus(const iso_metrics_snap* s,
                           const iso_metrics_gauges* g,
                           iso_buf* out);

#ifdef __cplusplus
}
#endif

#endif /* ISO_METRICS_H */
