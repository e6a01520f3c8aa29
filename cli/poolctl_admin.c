/* poolctl_admin.c: poolctl's admin commands: status, workers, jobs,
 * stats, cancel, resize, recycle, reload, drain, shutdown (see poolctl.c
 * for the command line; docs/protocol.md, "The admin protocol").
 *
 * Each sends one request map {v, cmd, token, the command's keys} to the
 * admin socket (`--admin URL`) with iso_client_request_raw, and decodes
 * the reply with ipc/iso_admin.h, the codec the service encodes it with,
 * into the typed result of its command. The decoder is lenient (keys a
 * newer service adds are ignored, missing ones are "absent"), and what is
 * absent prints as "-". The result prints as a key/value block, a table
 * that fits 80 columns or one line saying what happened; `--json` prints
 * the reply map itself as one JSON line, every key kept. status, workers
 * and stats take `--watch SECONDS`: a new round every SECONDS until
 * SIGINT, SIGTERM or `--count N` rounds. Exit status: 0 ok, 1 the service
 * answered ok:false (or no reply in time), 2 bad usage, 3 no connection.
 *
 * kViews says, per command, how its request's keys come from the command
 * line (fill_*), how its result prints (show_*) and whether it may be
 * watched.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_utf8.h"
#include "poolctl.h"

/* ---- figures for people ------------------------------------------------- */

#define COLUMNS 80

/* A short piece of text, returned by value so calls can nest. */
typedef struct txt {
  char s[64];
} txt;

static txt txtf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static txt txtf(const char* fmt, ...) {
  txt t;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t.s, sizeof t.s, fmt, ap);
  va_end(ap);
  return t;
}

/* A duration in microseconds: "123 us", "4.5 ms", "1.2 s", "5m 03s",
 * "2h 05m", "3d 04h". */
static txt fmt_us(double us) {
  if (!(us >= 0)) {
    return txtf("-");
  }
  if (us < 999.5) {
    return txtf("%.0f us", us);
  }
  if (us < 99.95e3) {
    return txtf("%.1f ms", us / 1e3);
  }
  if (us < 999.5e3) {
    return txtf("%.0f ms", us / 1e3);
  }
  if (us < 99.95e6) {
    return txtf("%.1f s", us / 1e6);
  }
  if (!(us < 1e20)) { /* absurd, but no overflow below */
    return txtf("%.3g s", us / 1e6);
  }
  long long s = (long long)(us / 1e6 + 0.5);
  if (s < 3600) {
    return txtf("%lldm %02llds", s / 60, s % 60);
  }
  if (s < 86400) {
    return txtf("%lldh %02lldm", s / 3600, s / 60 % 60);
  }
  return txtf("%lldd %02lldh", s / 86400, s / 3600 % 24);
}

/* Bytes: "512 B", "12.5 KiB", "256 MiB", "1.50 GiB". */
static txt fmt_bytes(double b) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (!(b >= 0)) {
    return txtf("-");
  }
  if (b < 1024) {
    return txtf("%.0f B", b);
  }
  int u = 0;
  for (b /= 1024; b >= 1023.95 && u < 3; u++) {
    b /= 1024;
  }
  if (b >= 99.95 || b == (double)(int)b) {
    return txtf("%.0f %s", b, units[u]);
  }
  return txtf("%.1f %s", b, units[u]);
}

/* A reply's integer, microseconds, milliseconds or bytes; "-" when it is
 * absent (missing from the reply, or not a number). */
static txt t_int(int64_t v) {
  return v != ISO_ADMIN_NO_INT ? txtf("%lld", (long long)v) : txtf("-");
}

static txt t_us(double v) {
  return !isnan(v) ? fmt_us(v) : txtf("-");
}

static txt t_ms(double v) {
  return !isnan(v) ? fmt_us(v * 1e3) : txtf("-");
}

static txt t_bytes(double v) {
  return !isnan(v) ? fmt_bytes(v) : txtf("-");
}

/* A reply's string cut to fit txt, or "-" (nil: nil_text). */
static txt t_str(iso_admin_str s, const char* nil_text) {
  if (s.ptr != NULL) {
    txt t;
    size_t n = s.len < sizeof t.s - 1 ? s.len : sizeof t.s - 1;
    memcpy(t.s, s.ptr, n);
    t.s[n] = '\0';
    return t;
  }
  return txtf("%s", s.nil ? nil_text : "-");
}

/* Is s (a reply's string) exactly text? */
static int str_is(iso_admin_str s, const char* text) {
  return s.ptr != NULL && s.len == strlen(text) &&
         memcmp(s.ptr, text, s.len) == 0;
}

/* Terminal columns of UTF-8 text: one per character. */
static size_t text_cols(const char* s, size_t n) {
  size_t cols = 0;
  for (size_t k = 0; k < n; k++) {
    cols += ((uint8_t)s[k] & 0xc0) != 0x80;
  }
  return cols;
}

typedef enum align { LEFT, RIGHT, LAST } align;

/* Prints n bytes of s in exactly width columns: padded with spaces (LAST:
 * not padded), or, when longer, its first width - 3 characters and "...".
 * Control characters print as spaces, so a field cannot break the line. */
static void cell(const char* s, size_t n, size_t width, align a) {
  size_t cols = text_cols(s, n);
  size_t keep = n, shown = cols;
  int cut = cols > width;
  if (cut) {
    size_t want = width > 3 ? width - 3 : 0, seen = 0;
    for (keep = 0; keep < n; keep++) {
      if (((uint8_t)s[keep] & 0xc0) != 0x80 && seen++ == want) {
        break;
      }
    }
    shown = want + 3;
  }
  size_t pad = width > shown && a != LAST ? width - shown : 0;
  for (size_t k = 0; a == RIGHT && k < pad; k++) {
    putchar(' ');
  }
  for (size_t k = 0; k < keep; k++) {
    uint8_t b = (uint8_t)s[k];
    putchar(b < 0x20 || b == 0x7f ? ' ' : b);
  }
  if (cut) {
    fputs("...", stdout);
  }
  for (size_t k = 0; a == LEFT && k < pad; k++) {
    putchar(' ');
  }
}

static void cells(const char* s, size_t width, align a) {
  cell(s, strlen(s), width, a);
}

/* One "key  value" line of a key/value block. */
#define KEY_WIDTH 12
static void kv(const char* key, const char* value, size_t n) {
  cells(key, KEY_WIDTH, LEFT);
  cell(value, n, COLUMNS - KEY_WIDTH, LAST);
  putchar('\n');
}

static void kvs(const char* key, const char* value) {
  kv(key, value, strlen(value));
}

/* Appends printf output to a fixed buffer, cutting what does not fit. */
static void catf(char* b, size_t size, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void catf(char* b, size_t size, const char* fmt, ...) {
  size_t len = strlen(b);
  if (len + 1 >= size) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b + len, size - len, fmt, ap);
  va_end(ap);
}

/* ---- the admin views ---------------------------------------------------- */

/* Each prints the result of an ok reply, decoded by iso_admin_decode_reply:
 * what the reply lacks, or has in another type, prints as "-". */

/* a + b for counts from a reply, which may be absurd: no overflow. */
static long long sat_add(long long a, long long b) {
  if (b > 0 && a > LLONG_MAX - b) {
    return LLONG_MAX;
  }
  if (b < 0 && a < LLONG_MIN - b) {
    return LLONG_MIN;
  }
  return a + b;
}

static void show_status(const ctl* c, const iso_admin_reply* r) {
  const iso_admin_status* s = &r->status;
  kvs("version", t_str(s->version, "-").s);
  kvs("uptime", t_ms(s->uptime_ms).s);
  kvs("state", t_str(s->state, "-").s);
  /* one line per listen URL */
  for (size_t i = 0; i < s->nlisten; i++) {
    if (s->listen[i].ptr != NULL) {
      kv(i == 0 ? "listen" : "", s->listen[i].ptr, s->listen[i].len);
    }
  }
  if (s->nlisten == 0) {
    kvs("listen", "-");
  }
  kvs("admin", t_str(s->admin, "-").s);
  kvs("metrics", t_str(s->metrics, "off").s);
  kvs("kv", t_str(s->kv, "in memory").s);
  kvs("workers", txtf("%s/%s alive", t_int(s->workers.alive).s,
                      t_int(s->workers.configured).s)
                     .s);
  kvs("queue", t_int(s->queue).s);
  kvs("in flight", t_int(s->inflight).s);
  kvs("accepted", t_int(s->accepted).s);
  kvs("fulfilled", t_int(s->fulfilled).s);
  kvs("rejected", t_int(s->rejected).s);
  /* errors: their sum, then each code in the reply's order */
  char by_code[256] = "";
  long long sum = 0;
  for (size_t i = 0; i < s->nerrors; i++) {
    const iso_admin_error_count* e = &s->errors[i];
    if (e->count != ISO_ADMIN_NO_INT) {
      sum = sat_add(sum, e->count);
      catf(by_code, sizeof by_code, "%s%s %lld", by_code[0] ? ", " : "",
           t_str(e->code, "?").s, (long long)e->count);
    }
  }
  char line[300];
  if (s->errors == NULL) {
    snprintf(line, sizeof line, "-");
  } else if (by_code[0] != '\0') {
    snprintf(line, sizeof line, "%lld (%s)", sum, by_code);
  } else {
    snprintf(line, sizeof line, "0");
  }
  kvs("errors", line);
  /* answered jobs per second over the last 1, 10 and 60 s */
  static const char* const windows[] = {"1s", "10s", "60s"};
  const double rates[] = {s->rate_1s, s->rate_10s, s->rate_60s};
  line[0] = '\0';
  for (size_t i = 0; i < 3; i++) {
    if (!isnan(rates[i])) {
      catf(line, sizeof line, "%s%.1f/s (%s)", line[0] ? ", " : "", rates[i],
           windows[i]);
    }
  }
  kvs("rate", line[0] ? line : "-");
  /* pool processes: shown when there are (--processes > 0) or were */
  if (s->procs_active > 0 || s->procs_spare > 0 || s->procs_starting > 0 ||
      s->last_death.ptr != NULL) {
    kvs("processes",
        txtf("%s active, %s spare, %s starting; %s restarts, %s jobs lost",
             t_int(s->procs_active).s, t_int(s->procs_spare).s,
             t_int(s->procs_starting).s, t_int(s->procs_restarts).s,
             t_int(s->jobs_lost).s)
            .s);
  }
  if (s->spare_isolates != ISO_ADMIN_NO_INT) {
    kvs("spares",
        txtf("%s per group: %s ready, %s built", t_int(s->spare_isolates).s,
             t_int(s->spares_ready).s, t_int(s->spare_builds).s)
            .s);
    kvs("recycles", txtf("%s, %s without a spare ready", t_int(s->recycles).s,
                         t_int(s->recycles_cold).s)
                        .s);
    char pol[200] = "";
    if (s->recycle_after_jobs > 0) {
      catf(pol, sizeof pol, "%s%lld jobs", pol[0] ? ", " : "",
           (long long)s->recycle_after_jobs);
    }
    if (s->heap_soft_mb > 0) {
      catf(pol, sizeof pol, "%sheap %lld MiB", pol[0] ? ", " : "",
           (long long)s->heap_soft_mb);
    }
    if (s->recycle_heap_mb > 0) {
      catf(pol, sizeof pol, "%scommitted %lld MiB", pol[0] ? ", " : "",
           (long long)s->recycle_heap_mb);
    }
    if (s->idle_timeout_s > 0) {
      catf(pol, sizeof pol, "%sidle %lld s", pol[0] ? ", " : "",
           (long long)s->idle_timeout_s);
    }
    if (pol[0] != '\0') {
      kvs("recycle at", pol);
    }
  }
  /* the code cache: shown by a service that has one to show */
  if (s->code_limit_mb == 0) {
    kvs("code cache", "off");
  } else if (s->code_limit_mb != ISO_ADMIN_NO_INT) {
    kvs("code cache",
        txtf("%s hits, %s misses (%s rejected), %s made, %s evicted",
             t_int(s->code_hits).s, t_int(s->code_misses).s,
             t_int(s->code_rejected).s, t_int(s->code_made).s,
             t_int(s->code_evicted).s)
            .s);
    kvs("code entries",
        txtf("%s (%s) of %s MiB a process, %s from the front; front %s (%s)",
             t_int(s->code_entries).s, t_bytes((double)s->code_bytes).s,
             t_int(s->code_limit_mb).s, t_int(s->code_from_front).s,
             t_int(s->code_front_entries).s,
             t_bytes((double)s->code_front_bytes).s)
            .s);
  }
  if (s->last_death.ptr != NULL) {
    kvs("last death", txtf("%s ago: %s", t_ms(s->last_death_ago_ms).s,
                           t_str(s->last_death, "-").s)
                          .s);
  }
}

static void show_workers(const ctl* c, const iso_admin_reply* r) {
  size_t n = r->workers.n;
  if (n == 0) {
    puts("no workers");
    return;
  }
  /* 3+1+9+1+8+1+8+1+20+1+4+1+11+1 = 70 columns; LAST ERROR gets the
   * rest (--json: all of it). PROCESS: its pool process, number.generation
   * and pid ("front": --processes 0) */
  printf("%3s %-9s %8s %8s %20s %4s %-11s %s\n", "ID", "STATE", "INFLIGHT",
         "DONE", "HEAP USED/LIMIT", "WARM", "PROCESS", "LAST ERROR");
  for (size_t i = 0; i < n; i++) {
    const iso_admin_worker* w = &r->workers.list[i];
    cells(t_int(w->id).s, 3, RIGHT);
    putchar(' ');
    cells(t_str(w->state, "-").s, 9, LEFT);
    putchar(' ');
    cells(t_int(w->inflight).s, 8, RIGHT);
    putchar(' ');
    cells(t_int(w->done).s, 8, RIGHT);
    putchar(' ');
    cells(txtf("%s/%s", t_bytes(w->heap_used).s, t_bytes(w->heap_limit).s).s,
          20, RIGHT);
    putchar(' ');
    cells(t_int(w->warm_modules).s, 4, RIGHT);
    putchar(' ');
    cells(w->process.ptr != NULL
              ? txtf("%s/%s", t_str(w->process, "-").s, t_int(w->pid).s).s
              : "front",
          11, LEFT);
    putchar(' ');
    if (w->last_error.ptr != NULL) {
      cell(w->last_error.ptr, w->last_error.len, COLUMNS - 70, LAST);
    } else {
      putchar('-');
    }
    putchar('\n');
  }
}

static void show_jobs(const ctl* c, const iso_admin_reply* r) {
  size_t n = r->jobs.n;
  if (n == 0) {
    puts("no jobs in flight or queued");
    return;
  }
  /* 10+1+5+1+6+1+8+2 = 34 columns; MODULE gets the rest */
  printf("%10s %-5s %6s %8s  %s\n", "ID", "KIND", "WORKER", "AGE", "MODULE");
  size_t queued = 0;
  for (size_t i = 0; i < n; i++) {
    const iso_admin_job* j = &r->jobs.list[i];
    cells(t_int(j->id).s, 10, RIGHT);
    putchar(' ');
    cells(t_str(j->kind, "-").s, 5, LEFT);
    putchar(' ');
    if (j->worker != ISO_ADMIN_NO_INT && j->worker < 0) {
      queued++;
      cells("queued", 6, RIGHT);
    } else {
      cells(t_int(j->worker).s, 6, RIGHT);
    }
    putchar(' ');
    cells(t_ms(j->age_ms).s, 8, RIGHT);
    fputs("  ", stdout);
    if (j->module.ptr != NULL) {
      cell(j->module.ptr, j->module.len, COLUMNS - 34, LAST);
    } else {
      fputs("(source)", stdout);
    }
    putchar('\n');
  }
  printf("%zu job%s, %zu queued%s\n", n, n == 1 ? "" : "s", queued,
         r->jobs.truncated ? " (the oldest shown; more are in flight)" : "");
}

/* The histogram of a stats entry's buckets: one line per bucket that has
 * jobs (neighbours merged when there are more than HIST_LINES), its bar
 * scaled to the largest. */
#define HIST_LINES 20
#define HIST_LABEL 19 /* "100.0 ms .. 200 ms" */
#define HIST_BAR 36

typedef struct bucket {
  double lo, hi; /* microseconds; hi < 0: no upper bound */
  long long count;
} bucket;

static void show_histogram(const iso_admin_hist* hist) {
  size_t n = hist->nbuckets, k = 0;
  bucket* b = calloc(n ? n : 1, sizeof *b);
  if (b == NULL) {
    return;
  }
  double lo = 0;
  long long total = 0;
  for (size_t i = 0; i < n; i++) {
    const iso_admin_bucket* pair = &hist->buckets[i];
    if (pair->count == ISO_ADMIN_NO_INT) {
      continue;
    }
    long long count = pair->count;
    double hi = isnan(pair->le) ? -1 : pair->le; /* nil: infinity */
    if (count > 0) {
      b[k++] = (bucket){lo, hi, count};
      total = sat_add(total, count);
    }
    lo = hi;
  }
  if (k > 0) {
    /* merge runs of `per` neighbours so at most HIST_LINES remain */
    size_t per = (k + HIST_LINES - 1) / HIST_LINES, m = 0;
    for (size_t i = 0; i < k; i += per) {
      bucket g = b[i];
      for (size_t j = i + 1; j < i + per && j < k; j++) {
        g.hi = b[j].hi;
        g.count = sat_add(g.count, b[j].count);
      }
      b[m++] = g;
    }
    long long widest = 0;
    for (size_t i = 0; i < m; i++) {
      widest = b[i].count > widest ? b[i].count : widest;
    }
    printf("\ntotal time of all jobs (%lld):\n", total);
    for (size_t i = 0; i < m; i++) {
      txt label = b[i].hi < 0
                      ? txtf("> %s", fmt_us(b[i].lo).s)
                      : txtf("%s .. %s", fmt_us(b[i].lo).s, fmt_us(b[i].hi).s);
      cells(label.s, HIST_LABEL, RIGHT);
      fputs(" |", stdout);
      size_t bar = (size_t)((double)b[i].count * HIST_BAR / (double)widest);
      bar = bar > 0 ? bar : 1;
      for (size_t j = 0; j < HIST_BAR; j++) {
        putchar(j < bar ? '#' : ' ');
      }
      /* 19+2+36 = 57 columns; then " count (pct%)" in 23 */
      cells(txtf(" %lld (%.1f%%)", b[i].count, 100.0 * b[i].count / total).s,
            COLUMNS - HIST_LABEL - 2 - HIST_BAR, LAST);
      putchar('\n');
    }
  }
  free(b);
}

static void show_stats(const ctl* c, const iso_admin_reply* r) {
  static const char* const parts[] = {"queue", "run", "total", "cpu"};
  size_t n = r->stats.nkinds;
  if (n == 0) {
    puts("no statistics");
    return;
  }
  /* 8 + 6 * 10 = 68 columns */
  const iso_admin_hist* all = NULL; /* the first kind named "all" */
  for (size_t i = 0; i < n; i++) {
    const iso_admin_kind* kind = &r->stats.kinds[i];
    if (all == NULL && str_is(kind->name, "all")) {
      all = &kind->total;
    }
    if (i > 0) {
      putchar('\n');
    }
    cells(t_str(kind->name, "?").s, 8, LEFT);
    printf(" %9s %9s %9s %9s %9s %9s\n", "COUNT", "P50", "P90", "P99", "P99.9",
           "MAX");
    const iso_admin_hist* h[] = {&kind->queue, &kind->run, &kind->total,
                                 &kind->cpu};
    for (size_t p = 0; p < 4; p++) {
      printf("  %-6s %9s", parts[p], t_int(h[p]->count).s);
      const double q[] = {h[p]->p50, h[p]->p90, h[p]->p99, h[p]->p999,
                          h[p]->max};
      for (size_t k = 0; k < 5; k++) {
        printf(" %9s", t_us(q[k]).s);
      }
      putchar('\n');
    }
  }
  if (all != NULL) {
    show_histogram(all);
  }
}

static void show_cancel(const ctl* c, const iso_admin_reply* r) {
  int64_t job = r->cancel.job;
  printf("cancelled job %s\n",
         job != ISO_ADMIN_NO_INT ? txtf("%lld", (long long)job).s : c->target);
}

static void show_resize(const ctl* c, const iso_admin_reply* r) {
  printf("resizing to %s workers (%s alive)\n",
         t_int(r->resize.workers.configured).s,
         t_int(r->resize.workers.alive).s);
}

static void show_recycle(const ctl* c, const iso_admin_reply* r) {
  size_t n = r->recycle.n;
  char line[512];
  snprintf(line, sizeof line, "%s",
           n == 0   ? "no worker to recycle"
           : n == 1 ? "recycling worker "
                    : "recycling workers ");
  for (size_t i = 0; i < n; i++) {
    catf(line, sizeof line, "%s%s", i ? ", " : "",
         t_int(r->recycle.workers[i]).s);
  }
  cells(line, COLUMNS, LAST);
  putchar('\n');
}

static void show_reload(const ctl* c, const iso_admin_reply* r) {
  long long realms =
      r->reload.realms != ISO_ADMIN_NO_INT ? (long long)r->reload.realms : -1;
  char line[512];
  snprintf(line, sizeof line, "dropped %s warm realm%s",
           realms >= 0 ? txtf("%lld", realms).s : "-", realms == 1 ? "" : "s");
  if (c->target != NULL) {
    catf(line, sizeof line, " that had loaded %s", c->target);
  }
  cells(line, COLUMNS, LAST);
  putchar('\n');
}

/* drain, shutdown: what the reply's state means. */
static void show_state(const ctl* c, const iso_admin_reply* r) {
  iso_admin_str state = r->state.state;
  if (str_is(state, "draining")) {
    puts("draining: no new jobs are taken");
  } else if (str_is(state, "shutting_down")) {
    fputs("shutting down", stdout);
    if (c->grace_ms >= 0) {
      printf(" (grace %lld ms)", c->grace_ms);
    }
    putchar('\n');
  } else {
    printf("the service is %s\n", t_str(state, "-").s);
  }
}

/* ---- the admin commands' keys ------------------------------------------- */

static int fill_none(const ctl* c, iso_admin_req* q) {
  return 0;
}

static int fill_cancel(const ctl* c, iso_admin_req* q) {
  long long id;
  if (poolctl__parse_int("cancel", "a job ID (a number from `poolctl jobs`)",
                         c->target, 0, INT64_MAX, &id) != 0) {
    return ISO_EUSAGE;
  }
  q->job = id;
  return 0;
}

static int fill_resize(const ctl* c, iso_admin_req* q) {
  long long n;
  if (poolctl__parse_int("resize", "a number of workers from 1 to 256",
                         c->target, 1, ISO_ADMIN_MAX_WORKERS, &n) != 0) {
    return ISO_EUSAGE;
  }
  q->workers = (int)n;
  return 0;
}

/* recycle WORKER, recycle --all, or recycle alone: every worker. */
static int fill_recycle(const ctl* c, iso_admin_req* q) {
  if (c->target != NULL && c->all) {
    fprintf(stderr,
            "poolctl: recycle takes a WORKER id (from `poolctl workers`) or "
            "--all, not both\n");
    return ISO_EUSAGE;
  }
  long long id = -1;
  if (!c->all && c->target != NULL &&
      poolctl__parse_int("recycle",
                         "a WORKER id (from `poolctl workers`) or --all",
                         c->target, 0, ISO_ADMIN_MAX_WORKERS - 1, &id) != 0) {
    return ISO_EUSAGE;
  }
  q->all = c->all || c->target == NULL;
  q->worker = (int)id;
  return 0;
}

static int fill_reload(const ctl* c, iso_admin_req* q) {
  if (c->target == NULL) {
    return 0;
  }
  if (c->target[0] == '\0' || strlen(c->target) >= sizeof q->module) {
    fprintf(stderr, "poolctl: reload needs a module SPEC of 1 to %d bytes\n",
            ISO_ADMIN_MAX_MODULE);
    return ISO_EUSAGE;
  }
  strcpy(q->module, c->target);
  return 0;
}

static int fill_shutdown(const ctl* c, iso_admin_req* q) {
  q->grace_ms = c->grace_ms;
  return 0;
}

/* ---- the admin commands ------------------------------------------------ */

typedef struct admin_view {
  iso_admin_cmd cmd;
  /* sets the request's own keys from the command line; returns 0, or
   * ISO_EUSAGE after saying on stderr what is wrong */
  int (*fill)(const ctl* c, iso_admin_req* q);
  /* prints the result of an ok reply */
  void (*show)(const ctl* c, const iso_admin_reply* r);
  int watchable; /* --watch may repeat it */
} admin_view;

static const admin_view kViews[] = {
    {.cmd = ISO_ADMIN_STATUS,
     .fill = fill_none,
     .show = show_status,
     .watchable = 1},
    {.cmd = ISO_ADMIN_WORKERS,
     .fill = fill_none,
     .show = show_workers,
     .watchable = 1},
    {.cmd = ISO_ADMIN_JOBS, .fill = fill_none, .show = show_jobs},
    {.cmd = ISO_ADMIN_STATS,
     .fill = fill_none,
     .show = show_stats,
     .watchable = 1},
    {.cmd = ISO_ADMIN_CANCEL, .fill = fill_cancel, .show = show_cancel},
    {.cmd = ISO_ADMIN_RESIZE, .fill = fill_resize, .show = show_resize},
    {.cmd = ISO_ADMIN_RECYCLE, .fill = fill_recycle, .show = show_recycle},
    {.cmd = ISO_ADMIN_RELOAD, .fill = fill_reload, .show = show_reload},
    {.cmd = ISO_ADMIN_DRAIN, .fill = fill_none, .show = show_state},
    {.cmd = ISO_ADMIN_SHUTDOWN, .fill = fill_shutdown, .show = show_state},
};

static const admin_view* view_of(iso_admin_cmd cmd) {
  for (size_t i = 0; i < sizeof kViews / sizeof kViews[0]; i++) {
    if (kViews[i].cmd == cmd) {
      return &kViews[i];
    }
  }
  return NULL;
}

/* ---- talking to the admin socket ---------------------------------------- */

const char* poolctl__default_admin_url(void) {
  static char url[4096];
  const char* dir = getenv("XDG_RUNTIME_DIR");
  if (dir != NULL && dir[0] != '\0') {
    snprintf(url, sizeof url, "ipc://%s/isopool/admin.sock", dir);
  } else {
    snprintf(url, sizeof url, "ipc:///tmp/isopool-%u/admin.sock",
             (unsigned)getuid());
  }
  return url;
}

/* The token to send, from --admin-token, --admin-token-file (its first
 * line) or $ISOPOOL_ADMIN_TOKEN, in that order; *token NULL for none.
 * Returns 0 or ISO_EUSAGE (bad usage, said). buf holds a token read from a
 * file. */
static int admin_token(const ctl* c, iso_buf* buf, const char** token) {
  *token = NULL;
  if (c->admin_token != NULL && c->admin_token_file != NULL) {
    fprintf(stderr,
            "poolctl: give --admin-token or --admin-token-file, not both\n");
    return ISO_EUSAGE;
  }
  if (c->admin_token != NULL) {
    *token = c->admin_token;
  } else if (c->admin_token_file != NULL) {
    int sys = 0;
    if (poolctl__read_file(c->admin_token_file, buf, &sys) != 0) {
      fprintf(stderr, "poolctl: cannot read --admin-token-file %s: %s\n",
              c->admin_token_file, strerror(sys));
      return ISO_EUSAGE;
    }
    if (buf->data != NULL) {
      char* s = (char*)buf->data;
      s[strcspn(s, "\r\n")] = '\0';
    }
    *token = buf->data != NULL ? (const char*)buf->data : "";
  } else {
    const char* env = getenv("ISOPOOL_ADMIN_TOKEN");
    *token = env != NULL && env[0] != '\0' ? env : NULL;
  }
  size_t len = *token != NULL ? strlen(*token) : 1;
  /* the service takes only such tokens (isopool serve refuses to start
   * with another), so another one is a mistake to point out here */
  int text = *token == NULL || iso_utf8_valid(*token, len);
  if (len == 0 || len > ISO_ADMIN_MAX_TOKEN || !text) {
    fprintf(stderr, "poolctl: the admin token%s%s is %s\n",
            c->admin_token_file ? " in " : "",
            c->admin_token_file ? c->admin_token_file : "",
            len == 0                    ? "empty"
            : len > ISO_ADMIN_MAX_TOKEN ? "too long (256 bytes at most)"
                                        : "not valid UTF-8");
    return ISO_EUSAGE;
  }
  return 0;
}

static void say_no_connection(const ctl* c, const char* why) {
  fprintf(stderr,
          "poolctl: cannot connect to the admin socket %s (%s): %s\n"
          "poolctl: is the service running? start it with `isopool serve`, "
          "or pass --admin URL / set ISOPOOL_ADMIN\n",
          c->admin_url, c->admin_from, why);
}

/* Prints one reply; returns the exit status. */
static int admin_report(const admin_view* v,
                        const ctl* c,
                        const uint8_t* p,
                        size_t n) {
  iso_buf json;
  iso_buf_init(&json);
  int rc = iso_json_from_msgpack(p, n, &json);
  if (rc != 0) {
    iso_buf_close(&json);
    fprintf(stderr, "poolctl: the reply from %s %s\n", c->admin_url,
            rc == ISO_ETOOBIG ? "is too large to print as JSON"
                              : "is not valid msgpack");
    return EXIT_FAILED;
  }
  iso_admin_reply r;
  rc = iso_admin_decode_reply(v->cmd, p, n, &r);
  if (rc == ISO_EPROTO) {
    fprintf(stderr,
            "poolctl: %s did not answer like an admin socket (no \"ok\" in "
            "its reply%s)\n",
            c->admin_url,
            iso_admin_reply_is_job(p, n)
                ? "; it looks like the job socket: --admin is the admin "
                  "socket, --url the job socket"
                : "");
  } else if (rc != 0) {
    fprintf(stderr, "poolctl: the reply from %s cannot be read: %s\n",
            c->admin_url, iso_strerror(rc));
  } else if (c->json) {
    fwrite(json.data, 1, json.len, stdout);
    fputc('\n', stdout);
  } else if (r.ok) {
    v->show(c, &r);
  } else {
    fprintf(stderr, "poolctl: %s: %s\n", t_str(r.error.code_name, "error").s,
            t_str(r.error.message, "").s);
    if (r.error.code == ISO_CODE_UNAUTHORIZED) {
      fprintf(stderr,
              "poolctl: the service wants its admin token: check "
              "--admin-token, --admin-token-file or ISOPOOL_ADMIN_TOKEN\n");
    }
  }
  int status = rc == 0 && r.ok ? EXIT_OK : EXIT_FAILED;
  iso_admin_reply_close(&r);
  iso_buf_close(&json);
  return status;
}

static volatile sig_atomic_t stop_watching;

static void on_stop_signal(int sig) {
  stop_watching = 1;
}

/* Waits secs, or less when a stop signal comes. */
static void watch_sleep(double secs) {
  for (double t = 0; t < secs && !stop_watching; t += 0.02) {
    double step = secs - t < 0.02 ? secs - t : 0.02;
    struct timespec ts = {0, (long)(step * 1e9)};
    nanosleep(&ts, NULL);
  }
}

/* The request map of cmd: {v, cmd, token, the command's keys}, encoded by
 * the codec the service decodes with. Returns 0, ISO_EUSAGE or ISO_ENOMEM,
 * said on stderr. */
static int admin_request(const admin_view* v, const ctl* c, iso_buf* req) {
  iso_admin_req q = {.cmd = v->cmd, .worker = -1, .grace_ms = -1};
  iso_buf token_buf;
  iso_buf_init(&token_buf);
  const char* token;
  int rc = admin_token(c, &token_buf, &token);
  if (rc == 0) {
    rc = v->fill(c, &q);
  }
  if (rc == 0) {
    if (token != NULL) {
      q.has_token = 1;
      strcpy(q.token, token); /* admin_token checked its length */
    }
    if (iso_admin_encode(&q, req) != 0) {
      fprintf(stderr, "poolctl: out of memory\n");
      rc = ISO_ENOMEM;
    }
  }
  iso_buf_close(&token_buf);
  return rc;
}

/* Sends req once, or each round of a --watch; prints each reply. Returns
 * the exit status. */
static int admin_rounds(const admin_view* v, const ctl* c, const iso_buf* req) {
  iso_client* client = NULL;
  char why[512];
  int rc = poolctl__open_client(c, c->admin_url, &client, why, sizeof why);
  if (rc == ISO_ECONNECT) {
    say_no_connection(c, why);
    return poolctl__exit_status(rc);
  }
  if (rc != 0) {
    fprintf(stderr, "poolctl: cannot use admin URL \"%s\" (%s): %s\n",
            c->admin_url, c->admin_from, why);
    return poolctl__exit_status(rc);
  }
  int tty = isatty(STDOUT_FILENO), status = EXIT_OK;
  if (c->watch_s > 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
  }
  iso_buf reply;
  iso_buf_init(&reply);
  for (long long round = 0; !stop_watching; round++) {
    iso_buf_reset(&reply);
    rc = iso_client_request_raw(client, req->data, req->len, c->timeout_ms,
                                &reply);
    if (rc == ISO_ECONNECT) {
      say_no_connection(c, "the connection was lost");
    } else if (rc == ISO_ETIMEDOUT) {
      fprintf(stderr, "poolctl: no reply from %s within %lld ms\n",
              c->admin_url, c->timeout_ms);
    } else if (rc != 0) {
      fprintf(stderr, "poolctl: %s: %s\n", c->admin_url, iso_strerror(rc));
    }
    if (rc != 0) {
      status = poolctl__exit_status(rc);
      break;
    }
    /* a watch redraws a terminal's screen, else a blank line separates
     * rounds; JSON is one line per round either way */
    if (c->watch_s > 0 && !c->json && tty) {
      fputs("\033[H\033[2J", stdout);
    } else if (round > 0 && !c->json) {
      putchar('\n');
    }
    status = admin_report(v, c, reply.data, reply.len);
    fflush(stdout);
    if (status != EXIT_OK || c->watch_s <= 0 ||
        (c->count > 0 && round + 1 >= c->count)) {
      break;
    }
    watch_sleep(c->watch_s);
  }
  iso_buf_close(&reply);
  poolctl__close_client(client, rc);
  return status;
}

int poolctl__admin_run(const command* cmd, ctl* c) {
  const admin_view* v = view_of(cmd->admin);
  if (v == NULL) {
    fprintf(stderr, "poolctl: %s is not an admin command\n", cmd->name);
    return EXIT_USAGE;
  }
  if (c->watch_s > 0 && !v->watchable) {
    fprintf(stderr,
            "poolctl: --watch works with status, workers and stats, not %s\n",
            cmd->name);
    return EXIT_USAGE;
  }
  if (c->count > 0 && c->watch_s <= 0) {
    fprintf(stderr, "poolctl: --count N needs --watch SECONDS\n");
    return EXIT_USAGE;
  }
  iso_buf req;
  iso_buf_init(&req);
  int status = poolctl__exit_status(admin_request(v, c, &req));
  if (status == EXIT_OK) {
    status = admin_rounds(v, c, &req);
  }
  iso_buf_close(&req);
  return status;
}
