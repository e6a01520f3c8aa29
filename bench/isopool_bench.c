/* isopool_bench.c: isopool-bench, a load generator for a running service.
 *
 *   build/bin/isopool serve --modules bench/modules --workers 2 &
 *   build/bin/isopool-bench --mode all          # tcp://127.0.0.1:7447
 *
 * or, over a Unix socket (faster on one machine) and with the server's CPU
 * use in the table:
 *
 *   build/bin/isopool serve --listen ipc:///tmp/isopool.ipc \
 *       --modules bench/modules --workers 2 &
 *   build/bin/isopool-bench --url ipc:///tmp/isopool.ipc --server-pid $!
 *
 * It talks to the service the way any client does (ipc/iso_client.h) and
 * prints one table row per mode:
 *
 *   call     --concurrency N (64) unbatched call jobs kept in flight with
 *            iso_client_submit; jobs/s and per-job latency percentiles
 *   batch    --batches B (4) batch messages of --batch N (256) call jobs
 *            in flight; jobs/s, batches/s, per-batch latency percentiles
 *   latency  one call job in flight (iso_client_call in a loop)
 *   eval     --eval-concurrency N (16) eval jobs of `export default 1 + 1;`
 *            (with --eval-import SPEC, `import 'SPEC';` before it)
 *   all      each of the above (the default), --duration S (5) seconds each
 *   kill     (not in all; needs --server-pid) call mode's load, and half-way
 *            through SIGKILL of the server's busiest pool process (its
 *            child with the most CPU time): jobs sent and answered, how
 *            each was answered (worker_lost is expected, only for jobs in
 *            flight at the kill), how soon a job sent after the kill is
 *            fulfilled, and jobs/s in 100 ms windows around the kill
 *
 * Call jobs go to --module SPEC (bench/modules/bench.js:
 * `export default (x) => x * 2;`) and --export NAME (default); job i
 * carries args [i] and must come back fulfilled with the value 2*i; eval
 * jobs must give 2. Every reply is checked; a wrong one counts as an error
 * (the first is printed) and the exit status is 1 if any mode had one (3
 * if the service cannot be reached). `--server-pid PID` adds the server's
 * CPU use (from /proc) next to the bench's own, which shows which side is
 * the bottleneck; it counts the server's pool processes too (the
 * children it runs JavaScript in), those that ended included.
 *
 * The floor. Each row of call, batch, latency and eval is followed by an
 * `echo` row: a bare NNG REQ/REP echo measured in the same run, the
 * transport's floor under that figure (unless --no-floor). Its server is
 * this program again in another process (`isopool-bench --echo-server
 * URL`, not for users), so its threads compete for the cores as the
 * service's do: a REP0 socket with 1024 contexts, each receiving a request
 * and sending the same message back, with the options the service's front
 * sets (ipc/iso_server.c: RECVMAXSZ twice the 16 MiB message bound on the
 * listener). It listens on an address of --url's own scheme: ipc://PATH
 * gets PATH.floor.PID beside it, tcp://HOST:PORT gets HOST with a port
 * the kernel picks; other schemes (tls+tcp://) measure no floor. The
 * echo's client is plain NNG too, REQ0 contexts with the client library's
 * options (resend off, RECVMAXSZ 16 MiB, --sockets sockets), sending the
 * very bytes the mode's requests are (iso_proto_encode_request /
 * iso_proto_encode_batch of the same jobs, ids and timeout_ms) in the
 * mode's loop: call and eval keep as many requests in flight, batch as
 * many batch-sized messages, latency one at a time on this thread. Each
 * echo must come back byte for byte (else it counts as an error). After
 * the table, the ratios the targets are written in (issue 15):
 * p50 and p99 at one job in flight against the echo's, unbatched jobs/s
 * against the echo's requests/s at the same concurrency, batched jobs/s
 * against the echo's messages/s times the jobs a batch carries (the same
 * bytes), eval jobs/s against its echo's requests/s; then the same as
 * machine-readable `target` lines, for scripts/bench.sh's table of the
 * targets (bench/README.md, "Targets").
 *
 * The relayed echo. A job goes from the front to a pool process and back
 * (two socketpair writes, two wake-ups in two processes), which the bare
 * echo does not. So call and latency rows get a second floor, a `relay`
 * row: the same echo server, but each message it receives goes through a
 * socketpair to a child process that echoes bytes and comes back on a
 * reader thread that sends it (echo_relay.h). The service's ratio to it
 * is what the service adds beyond that hop. This program uses
 * NNG directly for the floor only (an exception in
 * scripts/check-includes.sh); the service is measured through the client
 * library as any client talks to it.
 *
 * DESIGN: each in-flight job (or batch) is a "flight": a struct allocated
 * once with its iso_job, args and id already in msgpack form; relaunching
 * rewrites the 8 bytes of the number in place. A completion callback (an
 * NNG thread) checks the reply, records the latency in a lock-free
 * log-linear histogram and relaunches its flight, so this side allocates
 * nothing per job beyond what the client library does (one NNG message and
 * one decoded result). A client slot is freed only after its callback
 * returns, so each client gets twice as many slots as the flights it
 * carries. Flights can be spread over --sockets K clients (REQ sockets):
 * on a 2-core machine with 64 call jobs in flight, 1 and 2 sockets measured
 * the same within noise (about 50,000 jobs/s each over 5 runs, +-12%) and
 * 4 sockets about 8% less, so the default is 1. A 0.3 s warm-up precedes
 * each measured window; jobs/s counts completions inside the window. The
 * floor's flights (eflight) are the same on bare NNG: a REQ context and
 * its aio each, whose callback (an NNG thread) starts the receive once the
 * send is done, and once the echo is back checks it, counts it and sends
 * that same message again, so the echo's client allocates nothing per
 * message; the echo server sends back the message it received. The
 * service is idle while its floor is measured and the echo server while
 * the service is.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "echo_relay.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "iso_version.h"

#define WARMUP_NS 300000000ull /* 0.3 s before each window */
/* How long a job may take before the bench gives up on it. The client
 * library sends it as the job's timeout_ms, so the service stops such a job
 * too instead of spending a worker on it after the bench has moved on. */
#define JOB_DEADLINE_MS 30000

/* ---- options ------------------------------------------------------------ */

typedef struct bench_opts {
  const char* url;                        /* the first --url */
  const char* urls[ISO_CLIENT_MAX_NODES]; /* every --url: the nodes */
  int nurls;
  const char* mode;
  const char* module;
  const char* export_name;
  int concurrency;         /* call mode */
  int eval_concurrency;    /* eval mode */
  const char* eval_source; /* eval jobs' source (kEvalSource, or with
                              --eval-import's import first) */
  int batch;               /* jobs per batch */
  int batches;             /* batches in flight */
  int sockets;             /* clients the flights are spread over */
  double duration_s;
  long server_pid; /* 0: none */
  int floor;       /* measure the bare NNG echo beside each mode */
  /* --tls-*: a tls+tcp:// service (iso_client_opts) */
  const char* tls_ca;
  const char* tls_cert;
  const char* tls_key;
  const char* tls_server_name;
} bench_opts;

/* The client options the bench's clients take: o's TLS ones. */
static iso_client_opts client_opts(const bench_opts* o, int max_inflight) {
  return (iso_client_opts){.max_inflight = max_inflight,
                           .tls_ca_file = o->tls_ca,
                           .tls_cert_file = o->tls_cert,
                           .tls_key_file = o->tls_key,
                           .tls_server_name = o->tls_server_name};
}

/* ---- time and CPU ------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull),
                        (long)(ns % 1000000000ull)};
  nanosleep(&ts, NULL);
}

/* CPU seconds used so far by this process. */
static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU seconds used so far by process pid (utime + stime), or -1; with
 * `reaped`, its reaped children's too (cutime + cstime). */
static double proc_cpu1(long pid, int reaped) {
  if (pid <= 0) {
    return -1;
  }
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    return -1;
  }
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (p == NULL) {
    return -1;
  }
  unsigned long utime = 0, stime = 0;
  long cutime = 0, cstime = 0;
  /* after ")": state, then fields 4..13, then utime (14), stime (15),
   * cutime (16) and cstime (17) */
  if (sscanf(p + 2,
             "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld",
             &utime, &stime, &cutime, &cstime) != 4) {
    return -1;
  }
  long ticks = (long)(utime + stime) + (reaped ? cutime + cstime : 0);
  return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* The live children of pid (its threads' children lists), up to cap;
 * returns how many. */
static int proc_children(long pid, long* out, int cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR* d = opendir(path);
  if (d == NULL) {
    return 0;
  }
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < cap) {
    if (e->d_name[0] == '.') {
      continue;
    }
    char cpath[320];
    snprintf(cpath, sizeof cpath, "/proc/%ld/task/%s/children", pid, e->d_name);
    FILE* f = fopen(cpath, "r");
    if (f == NULL) {
      continue;
    }
    long c;
    while (n < cap && fscanf(f, "%ld", &c) == 1) {
      out[n++] = c;
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

/* CPU seconds used so far by the server pid and its children (its pool
 * processes: the live ones, and the reaped ones through cutime), or -1. */
static double proc_cpu(long pid) {
  double t = proc_cpu1(pid, 1);
  if (t < 0) {
    return -1;
  }
  long kids[256];
  int n = proc_children(pid, kids, 256);
  for (int i = 0; i < n; i++) {
    double k = proc_cpu1(kids[i], 1);
    t += k > 0 ? k : 0;
  }
  return t;
}

/* ---- a lock-free log-linear histogram of nanoseconds -------------------- */

#define H_SUB 64 /* sub-buckets per power of two: ~1.6% resolution */
#define H_BUCKETS (58 * H_SUB)

typedef struct hist {
  atomic_uint_fast64_t n[H_BUCKETS];
} hist;

static int h_index(uint64_t v) {
  if (v < H_SUB) {
    return (int)v;
  }
  int msb = 63 - __builtin_clzll(v); /* >= 6 */
  int shift = msb - 6;               /* v >> shift is in [64, 128) */
  int i = (shift + 1) * H_SUB + (int)((v >> shift) - H_SUB);
  return i < H_BUCKETS ? i : H_BUCKETS - 1;
}

static uint64_t h_value(int i) { /* the middle of bucket i */
  if (i < H_SUB) {
    return (uint64_t)i;
  }
  int shift = i / H_SUB - 1;
  uint64_t lo = (uint64_t)(i % H_SUB + H_SUB) << shift;
  return lo + ((1ull << shift) >> 1);
}

static void h_add(hist* h, uint64_t ns) {
  atomic_fetch_add_explicit(&h->n[h_index(ns)], 1, memory_order_relaxed);
}

/* The q-quantile (0..1) in microseconds; 0 when empty. */
static double h_quantile(hist* h, double q) {
  uint64_t total = 0;
  for (int i = 0; i < H_BUCKETS; i++) {
    total += atomic_load_explicit(&h->n[i], memory_order_relaxed);
  }
  if (total == 0) {
    return 0;
  }
  uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1, seen = 0;
  for (int i = 0; i < H_BUCKETS; i++) {
    seen += atomic_load_explicit(&h->n[i], memory_order_relaxed);
    if (seen >= rank) {
      return (double)h_value(i) / 1e3;
    }
  }
  return 0;
}

/* ---- one measured run --------------------------------------------------- */

typedef struct run {
  const bench_opts* o;
  long server_pid; /* whose CPU is srv%: the service's or the echo's */
  iso_client** clients;
  int nclients;
  uint64_t window_start, window_end; /* completions counted inside */
  atomic_int stopping;               /* flights stop relaunching */
  atomic_int inflight;               /* flights out */
  atomic_uint_fast64_t jobs;         /* completed in the window */
  atomic_uint_fast64_t batches;      /* completed in the window */
  atomic_uint_fast64_t errors;       /* anywhere, warm-up included */
  atomic_uint_fast64_t next_seq;
  atomic_int in_nng;       /* echo flights inside an NNG call */
  atomic_flag said_error;  /* the first error is printed */
  hist lat;                /* per job, or per batch in batch mode */
  struct kill_state* kill; /* kill mode; NULL otherwise */
} run;

/* kill mode: what happens around the SIGKILL of a pool process. */
#define KILL_BUCKET_NS 100000000ull /* jobs/s in 100 ms windows */
#define KILL_MAX_BUCKETS 36001

typedef struct kill_state {
  long pid;                            /* the pool process killed */
  _Atomic uint64_t at_ns;              /* when; 0: not yet */
  _Atomic uint64_t first_after_ns;     /* first fulfilled job sent after */
  _Atomic uint64_t last_lost_ns;       /* the last worker_lost answer */
  atomic_uint_fast64_t sent, answered; /* whole run, warm-up included */
  /* lost_after: sent after the kill, routed to the dead process before
   * the front knew; lost_early: lost before any kill (an error) */
  atomic_uint_fast64_t fulfilled, lost, lost_after, lost_early, other;
  int nbuckets;
  atomic_uint_fast64_t bucket[]; /* fulfilled per 100 ms of window */
} kill_state;

/* One row of the table. */
typedef struct row {
  const char* mode;
  char shape[24];
  double jobs_s, batches_s, p50, p90, p99, self_cpu_pct, server_cpu_pct;
  uint64_t errors;
  int printed; /* the mode printed its row itself (kill: lines follow) */
  int echo;    /* the floor's row: messages, no jobs */
  int relay;   /* ... of the relayed echo */
} row;

/* --json: the table's rows as one JSON object at the end instead of the
 * table (print_json). */
static int g_json;
/* A progress line on stderr while a mode runs, when it is a terminal. */
static int g_progress;

/* The progress line: the mode, the time gone of the window and the jobs
 * so far, redrawn in place; done clears it. */
static void progress(const char* mode,
                     uint64_t start,
                     uint64_t end,
                     uint64_t jobs,
                     int done) {
  if (!g_progress) {
    return;
  }
  if (done) {
    fputs("\r\033[K", stderr);
    return;
  }
  uint64_t now = now_ns();
  double gone = now > start ? (double)(now - start) / 1e9 : 0;
  double total = (double)(end - start) / 1e9;
  fprintf(stderr, "\r\033[K%-8s %4.1f / %.1f s  %10" PRIu64 " jobs  %9.0f/s",
          mode, gone < total ? gone : total, total, jobs,
          gone > 0 ? (double)jobs / gone : 0);
}

static void run_error(run* r, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void run_error(run* r, const char* fmt, ...) {
  atomic_fetch_add(&r->errors, 1);
  if (!atomic_flag_test_and_set(&r->said_error)) {
    va_list ap;
    va_start(ap, fmt);
    fputs("isopool-bench: first error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
}

/* An integer reply value (any msgpack int form); 0 if it is not one. */
static int mp_int(const uint8_t* p, size_t n, int64_t* out) {
  if (n == 0) {
    return 0;
  }
  uint8_t c = p[0];
  if (c <= 0x7f || c >= 0xe0) {
    *out = (int8_t)c;
    return n == 1;
  }
  static const struct {
    uint8_t tag;
    uint8_t len;
    uint8_t is_signed;
  } forms[] = {{0xcc, 1, 0}, {0xcd, 2, 0}, {0xce, 4, 0}, {0xcf, 8, 0},
               {0xd0, 1, 1}, {0xd1, 2, 1}, {0xd2, 4, 1}, {0xd3, 8, 1}};
  for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
    if (forms[k].tag != c) {
      continue;
    }
    size_t len = forms[k].len;
    if (n != 1 + len) {
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
      v = (v << 8) | p[1 + i];
    }
    if (forms[k].is_signed && len < 8 && (v >> (8 * len - 1)) != 0) {
      v |= ~0ull << (8 * len); /* sign-extend */
    }
    *out = (int64_t)v;
    return 1;
  }
  return 0;
}

/* Checks one reply against the value expected. */
static void check_result(run* r, const iso_result* res, int64_t want) {
  int64_t got;
  if (res->status == ISO_STATUS_FULFILLED &&
      mp_int(res->value, res->value_len, &got) && got == want) {
    return;
  }
  if (res->status == ISO_STATUS_REJECTED) {
    run_error(r, "rejected: %s: %s", res->name, res->message);
  } else if (res->status == ISO_STATUS_ERROR) {
    run_error(r, "error: %s: %s", res->code_name, res->message);
  } else {
    run_error(r, "wrong value (wanted %" PRId64 ")", want);
  }
}

static void count_done(run* r, uint64_t sent, uint64_t done, size_t jobs) {
  if (sent >= r->window_start && done <= r->window_end) {
    atomic_fetch_add_explicit(&r->jobs, jobs, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->batches, 1, memory_order_relaxed);
    h_add(&r->lat, done - sent);
  }
}

/* The number 9-byte msgpack uint64 form, written in place. */
static void put_u64(uint8_t* p, uint64_t v) {
  p[0] = 0xcf;
  for (int i = 0; i < 8; i++) {
    p[1 + i] = (uint8_t)(v >> (56 - 8 * i));
  }
}

/* ---- flights: one job (call, eval) -------------------------------------- */

typedef struct flight {
  run* r;
  iso_client* client;
  uint64_t sent_ns;
  uint64_t seq;
  int64_t want;
  iso_job job;
  uint8_t args[10]; /* [seq] */
  uint8_t id[9];
} flight;

static void flight_cb(void* data, int status, iso_result* res);

/* Sends the flight's next job; on failure the flight lands. Nothing may
 * touch f after a successful submit (its callback may already run). */
static void flight_launch(flight* f) {
  run* r = f->r;
  if (atomic_load_explicit(&r->stopping, memory_order_relaxed)) {
    atomic_fetch_sub(&r->inflight, 1);
    return;
  }
  f->seq = atomic_fetch_add_explicit(&r->next_seq, 1, memory_order_relaxed);
  put_u64(f->id, f->seq);
  if (f->job.kind == ISO_JOB_CALL) {
    put_u64(f->args + 1, f->seq);
    f->want = (int64_t)(2 * f->seq);
  }
  f->sent_ns = now_ns();
  if (r->kill != NULL) {
    atomic_fetch_add(&r->kill->sent, 1); /* before the reply can come */
  }
  int rc = iso_client_submit(f->client, &f->job, JOB_DEADLINE_MS, flight_cb, f);
  if (rc != 0) {
    run_error(r, "submit: %s", iso_strerror(rc));
    atomic_fetch_sub(&r->inflight, 1);
  }
}

/* kill mode: sorts one reply. worker_lost is the answer the kill may
 * give a job in flight on the process killed; a job sent after the kill
 * must be fulfilled (a spare took the place). */
static void kill_count(run* r,
                       const flight* f,
                       const iso_result* res,
                       uint64_t done) {
  kill_state* k = r->kill;
  atomic_fetch_add(&k->answered, 1);
  uint64_t at = atomic_load(&k->at_ns);
  if (res->status == ISO_STATUS_ERROR && res->code == ISO_CODE_WORKER_LOST) {
    atomic_fetch_add(&k->lost, 1);
    if (at == 0) {
      atomic_fetch_add(&k->lost_early, 1); /* not explained by the kill */
    } else if (f->sent_ns > at) {
      atomic_fetch_add(&k->lost_after, 1);
    }
    uint64_t last = atomic_load(&k->last_lost_ns);
    while (done > last &&
           !atomic_compare_exchange_weak(&k->last_lost_ns, &last, done)) {
    }
    return;
  }
  int64_t got;
  if (res->status != ISO_STATUS_FULFILLED ||
      !mp_int(res->value, res->value_len, &got) || got != f->want) {
    atomic_fetch_add(&k->other, 1);
    check_result(r, res, f->want);
    return;
  }
  atomic_fetch_add(&k->fulfilled, 1);
  if (at != 0 && f->sent_ns > at) {
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&k->first_after_ns, &zero, done);
  }
  if (done >= r->window_start && done < r->window_end) {
    uint64_t b = (done - r->window_start) / KILL_BUCKET_NS;
    if (b < (uint64_t)k->nbuckets) {
      atomic_fetch_add_explicit(&k->bucket[b], 1, memory_order_relaxed);
    }
  }
}

static void flight_cb(void* data, int status, iso_result* res) {
  flight* f = data;
  run* r = f->r;
  uint64_t done = now_ns();
  if (status != 0) {
    run_error(r, "request: %s", iso_strerror(status));
    atomic_fetch_sub(&r->inflight, 1); /* a broken flight lands */
    return;
  }
  if (r->kill != NULL) {
    kill_count(r, f, res, done);
  } else {
    check_result(r, res, f->want);
  }
  count_done(r, f->sent_ns, done, 1);
  flight_launch(f);
}

/* ---- flights: one batch ------------------------------------------------- */

typedef struct bflight {
  run* r;
  iso_client* client;
  uint64_t sent_ns;
  uint64_t base; /* seq of jobs[0] */
  size_t n;
  iso_job* jobs;
  uint8_t (*args)[10];
  uint8_t (*ids)[9];
} bflight;

static void bflight_cb(void* data, int status, iso_result* res, size_t n);

static void bflight_launch(bflight* b) {
  run* r = b->r;
  if (atomic_load_explicit(&r->stopping, memory_order_relaxed)) {
    atomic_fetch_sub(&r->inflight, 1);
    return;
  }
  b->base = atomic_fetch_add_explicit(&r->next_seq, b->n, memory_order_relaxed);
  for (size_t i = 0; i < b->n; i++) {
    put_u64(b->args[i] + 1, b->base + i);
    put_u64(b->ids[i], b->base + i);
  }
  b->sent_ns = now_ns();
  int rc = iso_client_submit_batch(b->client, b->jobs, b->n, JOB_DEADLINE_MS,
                                   bflight_cb, b);
  if (rc != 0) {
    run_error(r, "submit_batch: %s", iso_strerror(rc));
    atomic_fetch_sub(&r->inflight, 1);
  }
}

static void bflight_cb(void* data, int status, iso_result* res, size_t n) {
  bflight* b = data;
  run* r = b->r;
  uint64_t done = now_ns();
  if (status != 0) {
    run_error(r, "batch request: %s", iso_strerror(status));
    atomic_fetch_sub(&r->inflight, 1);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    check_result(r, &res[i], (int64_t)(2 * (b->base + i)));
  }
  count_done(r, b->sent_ns, done, n);
  bflight_launch(b);
}

/* ---- running a mode ----------------------------------------------------- */

static const char kEvalSource[] = "export default 1 + 1;";

static int open_clients(run* r, int n, int slots_each) {
  r->clients = calloc((size_t)n, sizeof *r->clients);
  r->nclients = n;
  iso_client_opts co = client_opts(r->o, slots_each);
  for (int i = 0; i < n; i++) {
    int rc = r->o->nurls > 1
                 ? iso_client_new_nodes(r->o->urls, (size_t)r->o->nurls, &co,
                                        &r->clients[i])
                 : iso_client_new(r->o->url, &co, &r->clients[i]);
    if (rc != 0) {
      fprintf(stderr, "isopool-bench: cannot open %s: %s\n", r->o->url,
              iso_strerror(rc));
      return rc;
    }
  }
  return 0;
}

static void close_clients(run* r) {
  for (int i = 0; i < r->nclients; i++) {
    iso_client_free(r->clients[i]);
  }
  free(r->clients);
}

/* The measured window: after the warm-up, for --duration. Set before any
 * flight starts; callbacks only read it. */
static void set_window(run* r) {
  r->window_start = now_ns() + WARMUP_NS;
  r->window_end = r->window_start + (uint64_t)(r->o->duration_s * 1e9);
}

/* kill mode: SIGKILLs the server's child with the most CPU time (the
 * active pool process; a spare sits idle) and notes when. */
static void kill_busiest(run* r) {
  long kids[256];
  int n = proc_children(r->o->server_pid, kids, 256);
  long best = 0;
  double most = -1;
  for (int i = 0; i < n; i++) {
    double t = proc_cpu1(kids[i], 0);
    if (t > most) {
      most = t;
      best = kids[i];
    }
  }
  if (best == 0) {
    fprintf(stderr,
            "isopool-bench: the server (pid %ld) has no pool process to kill "
            "(does it run with --processes 0?)\n",
            r->o->server_pid);
    return;
  }
  r->kill->pid = best;
  atomic_store(&r->kill->at_ns, now_ns());
  if (kill((pid_t)best, SIGKILL) != 0) {
    fprintf(stderr, "isopool-bench: kill %ld: %s\n", best, strerror(errno));
    atomic_store(&r->kill->at_ns, 0);
    r->kill->pid = 0;
  }
}

/* Waits through warm-up and window, stops the flights and waits for them
 * to land; fills the row's rates and CPU figures. */
static void measure(run* r, row* out) {
  uint64_t now = now_ns();
  if (now < r->window_start) {
    sleep_ns(r->window_start - now);
  }
  double c0 = self_cpu(), s0 = proc_cpu(r->server_pid);
  uint64_t w0 = now_ns();
  if (r->kill != NULL) {
    sleep_ns((r->window_end - r->window_start) / 2);
    kill_busiest(r);
  }
  for (now = now_ns(); now < r->window_end; now = now_ns()) {
    uint64_t step = 250000000ull; /* the progress line's period */
    sleep_ns(r->window_end - now < step ? r->window_end - now : step);
    progress(out->mode, r->window_start, r->window_end, atomic_load(&r->jobs),
             0);
  }
  progress(NULL, 0, 0, 0, 1);
  double c1 = self_cpu(), s1 = proc_cpu(r->server_pid);
  double wall = (double)(now_ns() - w0) / 1e9;
  atomic_store(&r->stopping, 1);
  while (atomic_load(&r->inflight) > 0) {
    sleep_ns(1000000);
  }
  double secs = (double)(r->window_end - r->window_start) / 1e9;
  out->jobs_s = (double)atomic_load(&r->jobs) / secs;
  out->batches_s = (double)atomic_load(&r->batches) / secs;
  out->p50 = h_quantile(&r->lat, 0.50);
  out->p90 = h_quantile(&r->lat, 0.90);
  out->p99 = h_quantile(&r->lat, 0.99);
  out->self_cpu_pct = 100 * (c1 - c0) / wall;
  out->server_cpu_pct = s0 >= 0 && s1 >= 0 ? 100 * (s1 - s0) / wall : -1;
  out->errors = atomic_load(&r->errors);
}

static run* run_new(const bench_opts* o) {
  run* r = calloc(1, sizeof *r);
  if (r == NULL) {
    fprintf(stderr, "isopool-bench: out of memory\n");
    exit(1);
  }
  r->o = o;
  r->server_pid = o->server_pid;
  atomic_flag_clear(&r->said_error);
  atomic_store(&r->next_seq, 1);
  return r;
}

static void kill_report(const run* r);
static void print_row(const row* w);

/* call and eval: n single-job flights; kill mode with `kill`. */
static int mode_jobs(const bench_opts* o,
                     row* out,
                     iso_job_kind kind,
                     int n,
                     int kill) {
  run* r = run_new(o);
  if (kill) {
    int nb = (int)(o->duration_s * 1e9 / (double)KILL_BUCKET_NS) + 1;
    nb = nb < KILL_MAX_BUCKETS ? nb : KILL_MAX_BUCKETS;
    r->kill = calloc(1, sizeof(kill_state) + (size_t)nb * sizeof(uint64_t));
    if (r->kill == NULL) {
      fprintf(stderr, "isopool-bench: out of memory\n");
      exit(1);
    }
    r->kill->nbuckets = nb;
  }
  int nsock = o->sockets < n ? o->sockets : n;
  int per = (n + nsock - 1) / nsock;
  if (open_clients(r, nsock, 2 * per) != 0) {
    close_clients(r);
    free(r);
    return -1;
  }
  flight* fl = calloc((size_t)n, sizeof *fl);
  for (int i = 0; i < n; i++) {
    flight* f = &fl[i];
    f->r = r;
    f->client = r->clients[i % nsock];
    f->job.kind = kind;
    f->job.id = f->id;
    f->job.id_len = sizeof f->id;
    if (kind == ISO_JOB_CALL) {
      f->args[0] = 0x91;
      f->job.module = o->module;
      f->job.export_name = o->export_name;
      f->job.args = f->args;
      f->job.args_len = sizeof f->args;
    } else {
      f->job.source = o->eval_source;
      f->want = 2;
    }
  }
  set_window(r);
  atomic_store(&r->inflight, n);
  for (int i = 0; i < n; i++) {
    flight_launch(&fl[i]);
  }
  measure(r, out);
  snprintf(out->shape, sizeof out->shape, "%d x 1", n);
  if (r->kill != NULL) {
    kill_state* k = r->kill;
    /* a job unanswered, answered wrongly, or lost before the kill, is an
     * error of the service */
    uint64_t unanswered = atomic_load(&k->sent) - atomic_load(&k->answered);
    out->errors += unanswered + atomic_load(&k->lost_early);
    out->errors += k->pid == 0; /* nothing was killed */
    print_row(out);
    out->printed = 1;
    kill_report(r);
    free(k);
  }
  close_clients(r);
  free(fl);
  free(r);
  return 0;
}

static int mode_call(const bench_opts* o, row* out) {
  return mode_jobs(o, out, ISO_JOB_CALL, o->concurrency, 0);
}

static int mode_eval(const bench_opts* o, row* out) {
  return mode_jobs(o, out, ISO_JOB_EVAL, o->eval_concurrency, 0);
}

static int mode_kill(const bench_opts* o, row* out) {
  return mode_jobs(o, out, ISO_JOB_CALL, o->concurrency, 1);
}

/* kill mode's lines, after its row's header. */
static void kill_report(const run* r) {
  const kill_state* k = r->kill;
  uint64_t at = atomic_load(&k->at_ns);
  if (at == 0) {
    printf("kill: no pool process was killed\n");
    return;
  }
  uint64_t sent = atomic_load(&k->sent), answered = atomic_load(&k->answered);
  printf(
      "kill: SIGKILL of pool process %ld at %.2f s of the window, %d call "
      "jobs in flight\n",
      k->pid, (double)(at - r->window_start) / 1e9, r->o->concurrency);
  printf("  jobs sent %" PRIu64 ", answered %" PRIu64 " (fulfilled %" PRIu64
         ", worker_lost %" PRIu64 ", other %" PRIu64 "), unanswered %" PRIu64
         "\n",
         sent, answered, (uint64_t)atomic_load(&k->fulfilled),
         (uint64_t)atomic_load(&k->lost), (uint64_t)atomic_load(&k->other),
         sent - answered);
  uint64_t last_lost = atomic_load(&k->last_lost_ns);
  if (last_lost > at) {
    printf("  worker_lost: the last %.1f ms after the kill; %" PRIu64
           " of them sent after the kill, before the front knew of it; %" PRIu64
           " before the kill\n",
           (double)(last_lost - at) / 1e6,
           (uint64_t)atomic_load(&k->lost_after),
           (uint64_t)atomic_load(&k->lost_early));
  }
  uint64_t first = atomic_load(&k->first_after_ns);
  if (first != 0) {
    printf(
        "  the first job sent after the kill was fulfilled %.1f ms after "
        "it\n",
        (double)(first - at) / 1e6);
  } else {
    printf("  no job sent after the kill was fulfilled\n");
  }
  /* jobs/s in 100 ms windows: before the kill (whole windows), the
   * window holding it, and the first window after at >= 90% of before */
  int kb = (int)((at - r->window_start) / KILL_BUCKET_NS);
  int nb = (int)((r->window_end - r->window_start) / KILL_BUCKET_NS);
  nb = nb < k->nbuckets ? nb : k->nbuckets;
  double per_s = 1e9 / (double)KILL_BUCKET_NS, before = 0;
  for (int b = 0; b < kb; b++) {
    before += (double)atomic_load(&k->bucket[b]);
  }
  before = kb > 0 ? before / kb * per_s : 0;
  double in_kill = kb < nb ? (double)atomic_load(&k->bucket[kb]) * per_s : 0;
  int back = -1;
  for (int b = kb + 1; b < nb; b++) {
    if ((double)atomic_load(&k->bucket[b]) * per_s >= 0.9 * before) {
      back = b;
      break;
    }
  }
  printf("  jobs/s (100 ms windows): before %.0f, the kill's window %.0f, ",
         before, in_kill);
  if (back >= 0) {
    double end = (double)(back + 1) * (double)KILL_BUCKET_NS -
                 (double)(at - r->window_start);
    printf("back to >= 90%% in the window ending %.0f ms after the kill\n",
           end / 1e6);
  } else {
    printf("not back to >= 90%% before the end\n");
  }
  printf("  after the kill:");
  for (int b = kb + 1; b < nb && b <= kb + 10; b++) {
    printf(" %.0f", (double)atomic_load(&k->bucket[b]) * per_s);
  }
  printf("\n");
}

static int mode_batch(const bench_opts* o, row* out) {
  run* r = run_new(o);
  int nb = o->batches;
  int nsock = o->sockets < nb ? o->sockets : nb;
  int per = (nb + nsock - 1) / nsock;
  if (open_clients(r, nsock, 2 * per) != 0) {
    close_clients(r);
    free(r);
    return -1;
  }
  size_t n = (size_t)o->batch;
  bflight* bf = calloc((size_t)nb, sizeof *bf);
  for (int k = 0; k < nb; k++) {
    bflight* b = &bf[k];
    b->r = r;
    b->client = r->clients[k % nsock];
    b->n = n;
    b->jobs = calloc(n, sizeof *b->jobs);
    b->args = calloc(n, sizeof *b->args);
    b->ids = calloc(n, sizeof *b->ids);
    for (size_t i = 0; i < n; i++) {
      b->args[i][0] = 0x91;
      b->jobs[i] = (iso_job){.kind = ISO_JOB_CALL,
                             .module = o->module,
                             .export_name = o->export_name,
                             .args = b->args[i],
                             .args_len = sizeof b->args[i],
                             .id = b->ids[i],
                             .id_len = sizeof b->ids[i]};
    }
  }
  set_window(r);
  atomic_store(&r->inflight, nb);
  for (int k = 0; k < nb; k++) {
    bflight_launch(&bf[k]);
  }
  measure(r, out);
  snprintf(out->shape, sizeof out->shape, "%d x %d", nb, o->batch);
  close_clients(r);
  for (int k = 0; k < nb; k++) {
    free(bf[k].jobs);
    free(bf[k].args);
    free(bf[k].ids);
  }
  free(bf);
  free(r);
  return 0;
}

/* One message in flight, on this thread: trip(arg, seq) makes one round
 * trip for job seq and returns 0, or a negative ISO_E* code (counted as an
 * error; ISO_ECONNECT and ISO_ECLOSED end the loop). Fills the row as
 * measure() does, with r->server_pid's CPU. */
static void one_in_flight(run* r,
                          int (*trip)(void* arg, run* r, uint64_t seq),
                          void* arg,
                          row* out) {
  set_window(r);
  double c0 = 0, s0 = 0, wall0 = 0;
  int in_window = 0;
  uint64_t next_progress = 0;
  for (uint64_t seq = 1;; seq++) {
    uint64_t sent = now_ns();
    if (sent >= r->window_end) {
      break;
    }
    if (sent >= next_progress && in_window) {
      progress(out->mode, r->window_start, r->window_end, atomic_load(&r->jobs),
               0);
      next_progress = sent + 250000000ull;
    }
    if (!in_window && sent >= r->window_start) {
      in_window = 1;
      c0 = self_cpu();
      s0 = proc_cpu(r->server_pid);
      wall0 = (double)sent / 1e9;
    }
    int rc = trip(arg, r, seq);
    uint64_t done = now_ns();
    if (rc != 0) {
      run_error(r, "request: %s", iso_strerror(rc));
      if (rc == ISO_ECONNECT || rc == ISO_ECLOSED) {
        break;
      }
      continue;
    }
    count_done(r, sent, done, 1);
  }
  progress(NULL, 0, 0, 0, 1);
  double wall = (double)now_ns() / 1e9 - wall0;
  double secs = (double)(r->window_end - r->window_start) / 1e9;
  out->jobs_s = (double)atomic_load(&r->jobs) / secs;
  out->batches_s = out->jobs_s;
  out->p50 = h_quantile(&r->lat, 0.50);
  out->p90 = h_quantile(&r->lat, 0.90);
  out->p99 = h_quantile(&r->lat, 0.99);
  out->self_cpu_pct = in_window ? 100 * (self_cpu() - c0) / wall : 0;
  double s1 = proc_cpu(r->server_pid);
  out->server_cpu_pct =
      in_window && s0 >= 0 && s1 >= 0 ? 100 * (s1 - s0) / wall : -1;
  out->errors = atomic_load(&r->errors);
  snprintf(out->shape, sizeof out->shape, "1 x 1");
}

typedef struct call_trip {
  iso_client* client;
  iso_job job;
  uint8_t args[10];
  uint8_t id[9];
} call_trip;

/* latency mode's trip: one blocking call (iso_client_call). */
static int call_once(void* arg, run* r, uint64_t seq) {
  call_trip* t = arg;
  put_u64(t->args + 1, seq);
  put_u64(t->id, seq);
  iso_result res;
  int rc = iso_client_call(t->client, &t->job, JOB_DEADLINE_MS, &res);
  if (rc != 0) {
    return rc;
  }
  check_result(r, &res, (int64_t)(2 * seq));
  iso_result_close(&res);
  return 0;
}

/* One job in flight: the blocking call in a loop, on this thread. */
static int mode_latency(const bench_opts* o, row* out) {
  run* r = run_new(o);
  if (open_clients(r, 1, 1) != 0) {
    close_clients(r);
    free(r);
    return -1;
  }
  call_trip t = {.client = r->clients[0], .args = {0x91}};
  t.job = (iso_job){.kind = ISO_JOB_CALL,
                    .module = o->module,
                    .export_name = o->export_name,
                    .args = t.args,
                    .args_len = sizeof t.args,
                    .id = t.id,
                    .id_len = sizeof t.id};
  one_in_flight(r, call_once, &t, out);
  close_clients(r);
  free(r);
  return 0;
}

/* ---- the floor: a bare NNG REQ/REP echo --------------------------------- */

/* The service's front: REP contexts (iso_server_new's default), and
 * RECVMAXSZ twice the largest message (iso_server.c) */
#define ECHO_CONTEXTS 1024
#define ECHO_RECVMAX (2 * ISO_PROTO_MAX_MSG_DEFAULT)
/* How long the echo server may take to say where it listens. */
#define ECHO_START_MS 10000

/* The echo server's process, as its parent sees it. */
typedef struct floor_proc {
  pid_t pid;          /* 0: no floor */
  int stdin_fd;       /* the write end of its stdin: closing it ends it */
  char url[512];      /* where it listens (the port it was given) */
  char ipc_path[256]; /* its ipc:// socket file, removed at the end */
} floor_proc;

/* One REP context of the echo server: receive, send the same message
 * back, receive again. */
typedef struct echo_ctx {
  nng_ctx ctx;
  nng_aio* aio;
  int sending;
  uint32_t index;    /* in the server's table: its relay frames' tag */
  echo_relay* relay; /* the relayed echo's, else NULL */
} echo_ctx;

/* The relayed echo's contexts, for the relay's reader (relay_deliver). */
static echo_ctx* g_relay_ctxs;

/* A frame back from the relay: its bytes replace the message the context
 * received (a copy, as the front copies a reply from its link) and go
 * back to the client. Thread: the relay's reader. */
static void relay_deliver(void* arg,
                          uint32_t tag,
                          const uint8_t* bytes,
                          size_t len) {
  (void)arg;
  echo_ctx* e = &g_relay_ctxs[tag];
  nng_msg* m = nng_aio_get_msg(e->aio);
  nng_msg_clear(m);
  if (nng_msg_append(m, bytes, len) != 0) {
    nng_msg_clear(m); /* the client sees the wrong bytes: an error row */
  }
  e->sending = 1;
  nng_ctx_send(e->ctx, e->aio);
}

static void echo_ctx_cb(void* arg) {
  echo_ctx* e = arg;
  int rv = nng_aio_result(e->aio);
  if (e->sending) {
    e->sending = 0;
    if (rv != 0) {
      nng_msg_free(nng_aio_get_msg(e->aio)); /* its client went away */
      nng_aio_set_msg(e->aio, NULL);
    }
    if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
      nng_ctx_recv(e->ctx, e->aio);
    }
    return;
  }
  if (rv != 0) {
    if (rv != NNG_ECLOSED && rv != NNG_ECANCELED) {
      nng_ctx_recv(e->ctx, e->aio);
    }
    return;
  }
  if (e->relay != NULL) { /* the message waits in the aio for its copy */
    nng_msg* m = nng_aio_get_msg(e->aio);
    if (echo_relay_send(e->relay, e->index, nng_msg_body(m), nng_msg_len(m)) ==
        0) {
      return;
    }
  }
  e->sending = 1; /* the message received is in the aio: it goes back */
  nng_ctx_send(e->ctx, e->aio);
}

/* `isopool-bench --echo-server URL`: the floor's server. Listens on URL,
 * writes the URL it listens on (with the port a tcp:// port 0 got) and a
 * newline to stdout, then echoes until its stdin ends (the parent closed
 * it, or died); then removes its ipc:// socket file and exits without
 * closing NNG (nothing to flush: the parent has stopped sending). Returns
 * 1 if it cannot listen. */
static int echo_serve(const char* url, int relayed) {
  echo_relay* relay = NULL;
  if (relayed && (relay = echo_relay_new()) == NULL) {
    fprintf(stderr, "isopool-bench: the relayed floor: %s\n", strerror(errno));
    return 1;
  }
  nng_socket sock;
  nng_listener l;
  int rv = nng_rep0_open(&sock);
  if (rv == 0) {
    rv = nng_listener_create(&l, sock, url);
  }
  if (rv == 0) {
    rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, ECHO_RECVMAX);
  }
  if (rv == 0) {
    rv = nng_listener_start(l, 0);
  }
  if (rv != 0) {
    fprintf(stderr, "isopool-bench: the floor cannot listen on %s: %s\n", url,
            nng_strerror(rv));
    return 1;
  }
  echo_ctx* ctxs = calloc(ECHO_CONTEXTS, sizeof *ctxs);
  for (int i = 0; ctxs != NULL && i < ECHO_CONTEXTS; i++) {
    if (nng_ctx_open(&ctxs[i].ctx, sock) != 0 ||
        nng_aio_alloc(&ctxs[i].aio, echo_ctx_cb, &ctxs[i]) != 0) {
      fprintf(stderr, "isopool-bench: the floor cannot open its contexts\n");
      return 1;
    }
    ctxs[i].index = (uint32_t)i;
    ctxs[i].relay = relay;
  }
  if (ctxs == NULL) {
    return 1;
  }
  g_relay_ctxs = ctxs;
  if (relay != NULL && echo_relay_start(relay, relay_deliver, NULL) != 0) {
    fprintf(stderr, "isopool-bench: the relayed floor's thread\n");
    return 1;
  }
  for (int i = 0; i < ECHO_CONTEXTS; i++) {
    nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
  }
  char bound[600];
  int port;
  const char* colon = strrchr(url, ':');
  if (strncmp(url, "tcp", 3) == 0 && colon != NULL &&
      nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0) {
    snprintf(bound, sizeof bound, "%.*s:%d", (int)(colon - url), url, port);
  } else {
    snprintf(bound, sizeof bound, "%s", url);
  }
  printf("%s\n", bound);
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0 || errno == EINTR) {
    errno = 0;
  }
  if (strncmp(url, "ipc://", 6) == 0) {
    unlink(url + 6); /* its parent may be gone (SIGKILLed) */
  }
  _exit(0);
}

/* The floor's address for the service's url: the same scheme, beside it.
 * Returns 0, or -1 with why in err. */
static int floor_url(const char* url,
                     const char* name,
                     floor_proc* fp,
                     char* err,
                     size_t errlen) {
  long pid = (long)getpid();
  if (strncmp(url, "ipc://", 6) == 0) {
    const char* path = url + 6;
    /* a Unix socket's path has room for 107 bytes */
    int n = snprintf(fp->ipc_path, sizeof fp->ipc_path, "%s.%s.%ld", path, name,
                     pid);
    if (n < 0 || n > 100) {
      snprintf(fp->ipc_path, sizeof fp->ipc_path,
               "/tmp/isopool-bench-%s.%ld.ipc", name, pid);
    }
    snprintf(fp->url, sizeof fp->url, "ipc://%s", fp->ipc_path);
    return 0;
  }
  const char* sep = strstr(url, "://");
  const char* colon = strrchr(url, ':');
  size_t scheme = sep != NULL ? (size_t)(sep - url) : 0;
  int tcp = sep != NULL && ((scheme == 3 && strncmp(url, "tcp", 3) == 0) ||
                            (scheme == 4 && (strncmp(url, "tcp4", 4) == 0 ||
                                             strncmp(url, "tcp6", 4) == 0)));
  if (tcp && colon > sep + 3) {
    /* the service's host (a remote one cannot be listened on: no floor) */
    snprintf(fp->url, sizeof fp->url, "%.*s:0", (int)(colon - url), url);
    return 0;
  }
  snprintf(err, errlen, "no floor for %s (only ipc:// and tcp://)", url);
  return -1;
}

/* Starts the echo server: this program again (/proc/self/exe), in its own
 * process, listening beside url; relayed: the relayed echo
 * (echo_relay.h). Returns 0 with fp filled in, or -1 with why in err
 * (fp->pid stays 0). */
static int floor_start(const char* url,
                       int relayed,
                       floor_proc* fp,
                       char* err,
                       size_t errlen) {
  memset(fp, 0, sizeof *fp);
  fp->stdin_fd = -1;
  char want[512];
  if (floor_url(url, relayed ? "relay" : "floor", fp, err, errlen) != 0) {
    return -1;
  }
  snprintf(want, sizeof want, "%s", fp->url);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  if (pipe2(out, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    close(in[0]);
    close(in[1]);
    return -1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) { /* only async-signal-safe calls until exec */
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0) {
      _exit(127);
    }
    execl("/proc/self/exe", "isopool-bench", "--echo-server", want,
          relayed ? "--relay" : (char*)NULL, (char*)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(in[1]);
    close(out[0]);
    return -1;
  }
  /* its first line: where it listens (nothing, if it could not) */
  size_t n = 0;
  fp->url[0] = '\0';
  struct pollfd pfd = {.fd = out[0], .events = POLLIN};
  uint64_t until = now_ns() + (uint64_t)ECHO_START_MS * 1000000ull;
  while (n + 1 < sizeof fp->url && memchr(fp->url, '\n', n) == NULL) {
    uint64_t now = now_ns();
    if (now >= until || poll(&pfd, 1, (int)((until - now) / 1000000) + 1) < 0) {
      break;
    }
    ssize_t k = read(out[0], fp->url + n, sizeof fp->url - 1 - n);
    if (k <= 0) {
      break;
    }
    n += (size_t)k;
  }
  close(out[0]);
  char* nl = memchr(fp->url, '\n', n);
  if (nl == NULL) {
    snprintf(err, errlen, "the floor's server did not start on %.200s", want);
    close(in[1]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fp->url[0] = '\0';
    return -1;
  }
  *nl = '\0';
  fp->pid = pid;
  fp->stdin_fd = in[1];
  return 0;
}

/* Ends the echo server (its stdin closes; SIGKILL if it lingers) and
 * removes its socket file. */
static void floor_stop(floor_proc* fp) {
  if (fp->pid <= 0) {
    return;
  }
  close(fp->stdin_fd);
  int waited = 0;
  for (int i = 0; i < 2000 && waited == 0; i++) {
    waited = waitpid(fp->pid, NULL, WNOHANG) != 0;
    if (!waited) {
      sleep_ns(1000000);
    }
  }
  if (!waited) {
    kill(fp->pid, SIGKILL);
    waitpid(fp->pid, NULL, 0);
  }
  if (fp->ipc_path[0] != '\0') {
    unlink(fp->ipc_path);
  }
  fp->pid = 0;
}

/* A mode's request, encoded as the client library encodes it: n jobs of
 * kind (a batch message when batch), each with its id and (call) its args
 * [id] as 9-byte integers, as the flights write them, and the deadline's
 * timeout_ms. Returns 0 or an ISO_E* code. */
static int request_bytes(const bench_opts* o,
                         iso_job_kind kind,
                         size_t n,
                         int batch,
                         iso_buf* out) {
  typedef struct words {
    uint8_t args[10];
    uint8_t id[9];
  } words;
  iso_job* jobs = calloc(n, sizeof *jobs);
  words* w = calloc(n, sizeof *w);
  if (jobs == NULL || w == NULL) {
    free(jobs);
    free(w);
    return ISO_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    put_u64(w[i].id, 1 + i);
    jobs[i] = (iso_job){.kind = kind,
                        .timeout_ms = JOB_DEADLINE_MS,
                        .id = w[i].id,
                        .id_len = sizeof w[i].id};
    if (kind == ISO_JOB_CALL) {
      w[i].args[0] = 0x91;
      put_u64(w[i].args + 1, 1 + i);
      jobs[i].module = o->module;
      jobs[i].export_name = o->export_name;
      jobs[i].args = w[i].args;
      jobs[i].args_len = sizeof w[i].args;
    } else {
      jobs[i].source = o->eval_source;
    }
  }
  int rc = batch ? iso_proto_encode_batch(jobs, n, out)
                 : iso_proto_encode_request(&jobs[0], out);
  free(w);
  free(jobs);
  return rc;
}

/* The echo's client: a REQ0 socket with the client library's options
 * (ipc/iso_client.c: no resend, RECVMAXSZ the message bound), dialed
 * before it is used. Returns 0 or NNG's error. */
static int echo_dial(const char* url, nng_socket* out) {
  int rv = nng_req0_open(out);
  if (rv != 0) {
    return rv;
  }
  rv = nng_socket_set_ms(*out, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
  if (rv == 0) {
    rv =
        nng_socket_set_size(*out, NNG_OPT_RECVMAXSZ, ISO_PROTO_MAX_MSG_DEFAULT);
  }
  if (rv == 0) {
    rv = nng_dial(*out, url, NULL, 0);
  }
  if (rv != 0) {
    nng_close(*out);
  }
  return rv;
}

/* A message in flight to the echo: a REQ context and its aio; the
 * completion of its send starts its receive, the echo's arrival checks
 * the bytes, counts and sends the same message again. */
typedef struct eflight {
  run* r;
  nng_ctx ctx;
  nng_aio* aio;
  nng_msg* msg;       /* the request, between trips */
  const iso_buf* req; /* its bytes, which must come back */
  size_t jobs;        /* jobs it stands for (count_done) */
  uint64_t sent_ns;
  int sending;
} eflight;

/* Calls into NNG from a flight are counted (run.in_nng): the flights are
 * closed only once none is inside one (NNG 1.5.2 and a context closed
 * under a thread still in nng_ctx_recv: ipc/iso_server.c). */
static void eflight_send(eflight* f) {
  run* r = f->r;
  if (atomic_load_explicit(&r->stopping, memory_order_relaxed)) {
    atomic_fetch_sub(&r->inflight, 1);
    return;
  }
  f->sending = 1;
  f->sent_ns = now_ns();
  nng_aio_set_msg(f->aio, f->msg);
  f->msg = NULL;
  atomic_fetch_add(&r->in_nng, 1);
  nng_ctx_send(f->ctx, f->aio);
  atomic_fetch_sub(&r->in_nng, 1);
}

static void eflight_cb(void* arg) {
  eflight* f = arg;
  run* r = f->r;
  int rv = nng_aio_result(f->aio);
  if (f->sending) {
    f->sending = 0;
    if (rv != 0) {
      f->msg = nng_aio_get_msg(f->aio); /* still ours */
      nng_aio_set_msg(f->aio, NULL);
      run_error(r, "echo: send: %s", nng_strerror(rv));
      atomic_fetch_sub(&r->inflight, 1);
      return;
    }
    atomic_fetch_add(&r->in_nng, 1);
    nng_ctx_recv(f->ctx, f->aio);
    atomic_fetch_sub(&r->in_nng, 1);
    return;
  }
  uint64_t done = now_ns();
  if (rv != 0) {
    run_error(r, "echo: %s", nng_strerror(rv));
    atomic_fetch_sub(&r->inflight, 1);
    return;
  }
  nng_msg* m = nng_aio_get_msg(f->aio);
  nng_aio_set_msg(f->aio, NULL);
  size_t len = nng_msg_len(m);
  if (len != f->req->len || memcmp(nng_msg_body(m), f->req->data, len) != 0) {
    run_error(r, "echo: %zu bytes came back for %zu sent", len, f->req->len);
    if (nng_msg_realloc(m, f->req->len) == 0) {
      memcpy(nng_msg_body(m), f->req->data, f->req->len);
    }
  }
  count_done(r, f->sent_ns, done, f->jobs);
  f->msg = m;
  eflight_send(f);
}

/* The floor of call, batch and eval: n flights of req (each standing for
 * `jobs` jobs) kept in flight over --sockets REQ sockets to the echo, in
 * the service's measured window's shape. Returns 0, or -1 if the echo
 * cannot be reached. */
static int echo_flights(const bench_opts* o,
                        const floor_proc* fp,
                        const iso_buf* req,
                        int n,
                        size_t jobs,
                        row* out) {
  run* r = run_new(o);
  r->server_pid = fp->pid;
  int nsock = o->sockets < n ? o->sockets : n;
  nng_socket* socks = calloc((size_t)nsock, sizeof *socks);
  eflight* fl = calloc((size_t)n, sizeof *fl);
  int rv = socks != NULL && fl != NULL ? 0 : NNG_ENOMEM, nopen = 0, nfl = 0;
  for (; rv == 0 && nopen < nsock; nopen++) {
    rv = echo_dial(fp->url, &socks[nopen]);
    if (rv != 0) {
      break;
    }
  }
  for (; rv == 0 && nfl < n; nfl++) {
    eflight* f = &fl[nfl];
    f->r = r;
    f->req = req;
    f->jobs = jobs;
    rv = nng_ctx_open(&f->ctx, socks[nfl % nsock]);
    if (rv == 0 && (rv = nng_aio_alloc(&f->aio, eflight_cb, f)) != 0) {
      nng_ctx_close(f->ctx);
    }
    if (rv != 0) {
      break;
    }
    nng_aio_set_timeout(f->aio, JOB_DEADLINE_MS);
    if ((rv = nng_msg_alloc(&f->msg, req->len)) == 0) {
      memcpy(nng_msg_body(f->msg), req->data, req->len);
    }
  }
  if (rv == 0) {
    set_window(r);
    atomic_store(&r->inflight, n);
    for (int i = 0; i < n; i++) {
      eflight_send(&fl[i]);
    }
    measure(r, out);
  } else {
    fprintf(stderr, "isopool-bench: the floor at %s: %s\n", fp->url,
            nng_strerror(rv));
  }
  while (atomic_load(&r->in_nng) > 0) {
    sleep_ns(1000000);
  }
  for (int i = 0; i < nfl; i++) {
    nng_aio_free(fl[i].aio); /* waits for a callback under way */
    nng_ctx_close(fl[i].ctx);
    if (fl[i].msg != NULL) {
      nng_msg_free(fl[i].msg);
    }
  }
  for (int i = 0; i < nopen; i++) {
    nng_close(socks[i]);
  }
  free(fl);
  free(socks);
  free(r);
  return rv == 0 ? 0 : -1;
}

typedef struct echo_trip {
  nng_ctx ctx;
  nng_aio* aio;
  nng_msg* msg;
  const iso_buf* req;
} echo_trip;

/* latency mode's floor trip: send, wait, receive, wait. */
static int echo_once(void* arg, run* r, uint64_t seq) {
  echo_trip* t = arg;
  (void)seq;
  nng_aio_set_msg(t->aio, t->msg);
  t->msg = NULL;
  nng_ctx_send(t->ctx, t->aio);
  nng_aio_wait(t->aio);
  int rv = nng_aio_result(t->aio);
  if (rv != 0) {
    t->msg = nng_aio_get_msg(t->aio);
  } else {
    nng_ctx_recv(t->ctx, t->aio);
    nng_aio_wait(t->aio);
    rv = nng_aio_result(t->aio);
  }
  if (rv != 0) {
    if (t->msg == NULL && nng_msg_alloc(&t->msg, t->req->len) == 0) {
      memcpy(nng_msg_body(t->msg), t->req->data, t->req->len);
    }
    return rv == NNG_ECLOSED ? ISO_ECLOSED : ISO_EIO;
  }
  t->msg = nng_aio_get_msg(t->aio);
  nng_aio_set_msg(t->aio, NULL);
  size_t len = nng_msg_len(t->msg);
  if (len != t->req->len ||
      memcmp(nng_msg_body(t->msg), t->req->data, len) != 0) {
    run_error(r, "echo: %zu bytes came back for %zu sent", len, t->req->len);
    if (nng_msg_realloc(t->msg, t->req->len) == 0) {
      memcpy(nng_msg_body(t->msg), t->req->data, t->req->len);
    }
  }
  return 0;
}

static int echo_latency(const bench_opts* o,
                        const floor_proc* fp,
                        const iso_buf* req,
                        row* out) {
  run* r = run_new(o);
  r->server_pid = fp->pid;
  nng_socket sock;
  echo_trip t = {.req = req};
  int rv = echo_dial(fp->url, &sock);
  if (rv == 0 && (rv = nng_ctx_open(&t.ctx, sock)) != 0) {
    nng_close(sock);
  }
  if (rv == 0 && (rv = nng_aio_alloc(&t.aio, NULL, NULL)) != 0) {
    nng_ctx_close(t.ctx);
    nng_close(sock);
  }
  if (rv != 0) {
    fprintf(stderr, "isopool-bench: the floor at %s: %s\n", fp->url,
            nng_strerror(rv));
    free(r);
    return -1;
  }
  nng_aio_set_timeout(t.aio, JOB_DEADLINE_MS);
  if (nng_msg_alloc(&t.msg, req->len) == 0) {
    memcpy(nng_msg_body(t.msg), req->data, req->len);
    one_in_flight(r, echo_once, &t, out);
  }
  nng_aio_free(t.aio);
  nng_ctx_close(t.ctx);
  if (t.msg != NULL) {
    nng_msg_free(t.msg);
  }
  nng_close(sock);
  free(r);
  return 0;
}

/* Each mode's floor: its requests' bytes echoed in its loop. */
static int floor_of(const bench_opts* o,
                    const floor_proc* fp,
                    const char* mode,
                    row* out) {
  int is_batch = strcmp(mode, "batch") == 0;
  int is_eval = strcmp(mode, "eval") == 0;
  size_t n = is_batch ? (size_t)o->batch : 1;
  iso_buf req;
  iso_buf_init(&req);
  int rc = request_bytes(o, is_eval ? ISO_JOB_EVAL : ISO_JOB_CALL, n, is_batch,
                         &req);
  if (rc != 0) {
    fprintf(stderr, "isopool-bench: the floor's request: %s\n",
            iso_strerror(rc));
    iso_buf_close(&req);
    return -1;
  }
  if (strcmp(mode, "latency") == 0) {
    rc = echo_latency(o, fp, &req, out);
  } else {
    int flights = is_batch  ? o->batches
                  : is_eval ? o->eval_concurrency
                            : o->concurrency;
    rc = echo_flights(o, fp, &req, flights, n, out);
    snprintf(out->shape, sizeof out->shape, "%d x %zu", flights, n);
  }
  iso_buf_close(&req);
  out->echo = 1;
  return rc;
}

/* ---- the modes table and the report ------------------------------------- */

static const struct mode {
  const char* name;
  int (*run)(const bench_opts* o, row* out);
  int floor; /* an echo row follows (floor_of) */
  int relay; /* and a relayed echo's row */
  const char* what;
} kModes[] = {
    {"call", mode_call, 1, 1, "unbatched call jobs, --concurrency in flight"},
    {"batch", mode_batch, 1, 0,
     "--batches batch messages of --batch call jobs"},
    {"latency", mode_latency, 1, 1, "one call job in flight"},
    {"eval", mode_eval, 1, 0, "eval jobs, --eval-concurrency in flight"},
    {"kill", mode_kill, 0, 0, "call mode with a pool process killed half-way"},
};
#define NMODES (sizeof kModes / sizeof kModes[0])

static void print_header(const bench_opts* o,
                         const floor_proc* fp,
                         const floor_proc* rp) {
  char more[32] = "";
  if (o->nurls > 1) {
    snprintf(more, sizeof more, " and %d more node%s", o->nurls - 1,
             o->nurls == 2 ? "" : "s");
  }
  printf(
      "isopool-bench: %s%s, %.1f s per mode, %d socket%s, module %s "
      "export %s\n",
      o->url, more, o->duration_s, o->sockets, o->sockets == 1 ? "" : "s",
      o->module, o->export_name);
  if (fp->pid > 0) {
    printf(
        "floor: each echo row is a bare NNG REQ/REP echo of the row above's "
        "requests\n  at %s (REP contexts, process %ld; srv%% is its CPU)\n",
        fp->url, (long)fp->pid);
  }
  if (rp->pid > 0) {
    printf(
        "  each relay row the same echo through a socketpair to another "
        "process and back\n  (the floor of a job path through a pool "
        "process) at %s\n",
        rp->url);
  }
  fflush(stdout);
  printf("%-8s %10s %11s %10s %9s %9s %9s %7s %7s %7s\n", "mode", "in flight",
         "jobs/s", "msgs/s", "p50 us", "p90 us", "p99 us", "errors", "cpu%",
         "srv%");
}

static void print_row(const row* w) {
  if (g_json) {
    return;
  }
  char srv[16], jobs[24];
  if (w->server_cpu_pct >= 0) {
    snprintf(srv, sizeof srv, "%.0f", w->server_cpu_pct);
  } else {
    snprintf(srv, sizeof srv, "-");
  }
  if (w->echo) { /* messages only: the echo runs no job */
    snprintf(jobs, sizeof jobs, "-");
  } else {
    snprintf(jobs, sizeof jobs, "%.0f", w->jobs_s);
  }
  printf("%-8s %10s %11s %10.0f %9.1f %9.1f %9.1f %7" PRIu64 " %7.0f %7s\n",
         w->relay  ? "  relay"
         : w->echo ? "  echo"
                   : w->mode,
         w->shape, jobs, w->batches_s, w->p50, w->p90, w->p99, w->errors,
         w->self_cpu_pct, srv);
  fflush(stdout);
}

/* One ratio line: what, the ratio of a to b, and the two figures. */
static void print_ratio(const char* what,
                        double a,
                        double b,
                        const char* unit) {
  if (a > 0 && b > 0) {
    int prec = strcmp(unit, "us") == 0 ? 1 : 0;
    int rprec = a / b < 0.1 ? 3 : 2; /* eval's is a few thousandths */
    printf("  %-58s %6.*fx  (%.*f / %.*f %s)\n", what, rprec, a / b, prec, a,
           prec, b, unit);
  } else {
    printf("  %-58s      -  (no figure)\n", what);
  }
}

/* The ratios the targets are written in (issue 15), for the modes
 * measured with their floor: svc[i] and flo[i] are mode i's rows, have[i]
 * whether both were measured. */
static void print_ratios(const bench_opts* o,
                         const row* svc,
                         const row* flo,
                         const int* have,
                         const row* rel,
                         const int* have_rel) {
  int any = 0;
  for (size_t i = 0; i < NMODES; i++) {
    any |= have[i];
  }
  if (!any) {
    return;
  }
  printf(
      "against the floor (the bare NNG echo of the same bytes, this run):\n");
  char what[96];
  for (size_t i = 0; i < NMODES; i++) {
    if (!have[i]) {
      continue;
    }
    const char* m = kModes[i].name;
    const row *a = &svc[i], *b = &flo[i];
    if (strcmp(m, "latency") == 0) {
      print_ratio("p50 at one job in flight vs bare NNG echo", a->p50, b->p50,
                  "us");
      print_ratio("p99 at one job in flight vs bare NNG echo", a->p99, b->p99,
                  "us");
    } else if (strcmp(m, "call") == 0) {
      snprintf(what, sizeof what,
               "unbatched jobs/s at %d in flight vs bare NNG echo req/s",
               o->concurrency);
      print_ratio(what, a->jobs_s, b->batches_s, "/s");
    } else if (strcmp(m, "batch") == 0) {
      /* the echo's messages carry the same jobs' bytes */
      snprintf(what, sizeof what,
               "batched jobs/s (%d x %d) vs bare NNG echo msgs/s x %d",
               o->batches, o->batch, o->batch);
      print_ratio(what, a->jobs_s, b->batches_s * o->batch, "/s");
    } else if (strcmp(m, "eval") == 0) {
      snprintf(what, sizeof what,
               "eval jobs/s at %d in flight vs bare NNG echo req/s",
               o->eval_concurrency);
      print_ratio(what, a->jobs_s, b->batches_s, "/s");
    }
  }
  int any_rel = 0;
  for (size_t i = 0; i < NMODES; i++) {
    any_rel |= have_rel[i];
  }
  if (any_rel) {
    printf(
        "against the relayed echo (the same echo through another process, "
        "as a job\ngoes through a pool process):\n");
  }
  for (size_t i = 0; i < NMODES; i++) {
    if (!have_rel[i]) {
      continue;
    }
    const row *a = &svc[i], *b = &rel[i];
    if (strcmp(kModes[i].name, "latency") == 0) {
      print_ratio("p50 at one job in flight vs relayed echo", a->p50, b->p50,
                  "us");
    } else if (strcmp(kModes[i].name, "call") == 0) {
      snprintf(what, sizeof what,
               "unbatched jobs/s at %d in flight vs relayed echo req/s",
               o->concurrency);
      print_ratio(what, a->jobs_s, b->batches_s, "/s");
    }
  }
}

/* The machine-readable lines of issue 15's targets (bench/README.md,
 * "Targets"), for scripts/bench.sh's table: p50 at one in flight and
 * unbatched jobs/s against their floors (no floor: no baseline), batched
 * jobs/s (an absolute target), and eval's jobs/s as a `figure` (its
 * baseline, bare V8's Context::New, is runtime_bench's). ran[i]: mode i
 * was measured, have[i]: its floor too. */
static void print_targets(const row* svc,
                          const row* flo,
                          const int* ran,
                          const int* have,
                          const row* rel,
                          const int* have_rel) {
  for (size_t i = 0; i < NMODES; i++) {
    const row *a = &svc[i], *b = &rel[i];
    if (!have_rel[i]) {
      continue;
    }
    if (strcmp(kModes[i].name, "latency") == 0 && b->p50 > 0) {
      printf("target\tp50_one_relay\t%.1f\tus\trelayed echo\t%.1f\t%.3f\n",
             a->p50, b->p50, a->p50 / b->p50);
    } else if (strcmp(kModes[i].name, "call") == 0 && b->batches_s > 0) {
      printf(
          "target\tunbatched_relay\t%.0f\tjobs/s\trelayed echo\t%.0f\t%.3f\n",
          a->jobs_s, b->batches_s, a->jobs_s / b->batches_s);
    }
  }
  for (size_t i = 0; i < NMODES; i++) {
    if (!ran[i]) {
      continue;
    }
    const char* m = kModes[i].name;
    const row *a = &svc[i], *b = have[i] ? &flo[i] : NULL;
    if (strcmp(m, "latency") == 0 && b != NULL && b->p50 > 0) {
      printf("target\tp50_one\t%.1f\tus\tbare NNG echo\t%.1f\t%.3f\n", a->p50,
             b->p50, a->p50 / b->p50);
    } else if (strcmp(m, "latency") == 0) {
      printf("target\tp50_one\t%.1f\tus\tbare NNG echo\t-\t-\n", a->p50);
    } else if (strcmp(m, "call") == 0 && b != NULL && b->batches_s > 0) {
      printf("target\tunbatched\t%.0f\tjobs/s\tbare NNG echo\t%.0f\t%.3f\n",
             a->jobs_s, b->batches_s, a->jobs_s / b->batches_s);
    } else if (strcmp(m, "call") == 0) {
      printf("target\tunbatched\t%.0f\tjobs/s\tbare NNG echo\t-\t-\n",
             a->jobs_s);
    } else if (strcmp(m, "batch") == 0) {
      printf("target\tbatched\t%.0f\tjobs/s\t-\t-\t-\n", a->jobs_s);
    } else if (strcmp(m, "eval") == 0) {
      printf("figure\teval_jobs\t%.0f\tjobs/s\n", a->jobs_s);
    }
  }
}

/* A string as JSON (the URL is the user's: quotes, backslashes and
 * control characters escaped). */
static void json_str(const char* v) {
  putchar('"');
  for (const unsigned char* p = (const unsigned char*)v; *p; p++) {
    if (*p == '"' || *p == '\\') {
      printf("\\%c", *p);
    } else if (*p < 0x20) {
      printf("\\u%04x", *p);
    } else {
      putchar(*p);
    }
  }
  putchar('"');
}

/* One row's figures as a JSON object's members. */
static void json_row(const row* w) {
  printf("\"in_flight\":");
  json_str(w->shape);
  if (!w->echo) {
    printf(",\"jobs_s\":%.1f", w->jobs_s);
  }
  printf(
      ",\"msgs_s\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
      "\"errors\":%" PRIu64 ",\"cpu_pct\":%.1f",
      w->batches_s, w->p50, w->p90, w->p99, w->errors, w->self_cpu_pct);
  if (w->server_cpu_pct >= 0) {
    printf(",\"srv_pct\":%.1f", w->server_cpu_pct);
  } else {
    printf(",\"srv_pct\":null");
  }
}

typedef struct json_ratio {
  const char* key;
  double v;
} json_ratio;

/* --json: every mode's row, with its floors, and the ratios of issue
 * 15's targets, as one JSON object on one line. */
static void print_json(const bench_opts* o,
                       const row* svc,
                       const int* ran,
                       const row* flo,
                       const int* have,
                       const row* rel,
                       const int* have_rel) {
  printf("{\"url\":");
  json_str(o->url);
  printf(",\"nodes\":%d", o->nurls);
  printf(",\"duration_s\":%.2f,\"modes\":[", o->duration_s);
  int first = 1;
  for (size_t i = 0; i < NMODES; i++) {
    if (!ran[i]) {
      continue;
    }
    printf("%s{\"mode\":\"%s\",", first ? "" : ",", kModes[i].name);
    first = 0;
    json_row(&svc[i]);
    if (have[i]) {
      printf(",\"floor\":{");
      json_row(&flo[i]);
      putchar('}');
    }
    if (have_rel[i]) {
      printf(",\"relay\":{");
      json_row(&rel[i]);
      putchar('}');
    }
    putchar('}');
  }
  printf("],\"ratios\":{");
  first = 1;
  for (size_t i = 0; i < NMODES; i++) {
    const char* m = kModes[i].name;
    const row *a = &svc[i], *b = &flo[i], *c = &rel[i];
    json_ratio r[2];
    int n = 0;
    if (!ran[i]) {
      continue;
    }
    if (strcmp(m, "latency") == 0) {
      if (have[i] && b->p50 > 0) {
        r[n++] = (json_ratio){"p50_one", a->p50 / b->p50};
      }
      if (have_rel[i] && c->p50 > 0) {
        r[n++] = (json_ratio){"p50_one_relay", a->p50 / c->p50};
      }
    } else if (strcmp(m, "call") == 0) {
      if (have[i] && b->batches_s > 0) {
        r[n++] = (json_ratio){"unbatched", a->jobs_s / b->batches_s};
      }
      if (have_rel[i] && c->batches_s > 0) {
        r[n++] = (json_ratio){"unbatched_relay", a->jobs_s / c->batches_s};
      }
    } else if (strcmp(m, "eval") == 0 && have[i] && b->batches_s > 0) {
      r[n++] = (json_ratio){"eval_vs_echo", a->jobs_s / b->batches_s};
    }
    for (int k = 0; k < n; k++) {
      printf("%s\"%s\":%.3f", first ? "" : ",", r[k].key, r[k].v);
      first = 0;
    }
  }
  printf("}}\n");
}

static const char kUsage[] =
    "usage: isopool-bench [OPTIONS]\n"
    "  --url URL             the service (default $ISOPOOL_URL, else\n"
    "                        tcp://127.0.0.1:7447); again for each node of\n"
    "                        several (the floor is measured beside the first)\n"
    "  --mode MODE           call | batch | latency | eval | all (default);\n"
    "                        kill (not in all; needs --server-pid): call\n"
    "                        load, and SIGKILL of the server's busiest pool\n"
    "                        process half-way\n"
    "  --concurrency N       call jobs in flight (64)\n"
    "  --eval-concurrency N  eval jobs in flight (16)\n"
    "  --eval-import SPEC    eval jobs import SPEC first (lib.js: a\n"
    "                        460-line module; a realm's compile of it)\n"
    "  --batch N             jobs per batch (256)\n"
    "  --batches N           batches in flight (4)\n"
    "  --sockets N           client sockets to spread the load over (1)\n"
    "  --duration S          measured seconds per mode (5)\n"
    "  --module SPEC         call jobs' module (bench.js)\n"
    "  --export NAME         call jobs' export (default); it must return\n"
    "                        2 * its argument\n"
    "  --server-pid PID      also report the server's CPU use\n"
    "  --no-floor            measure no bare NNG echo beside the modes\n"
    "  --json                the rows and the ratios as one JSON object\n"
    "                        (not the table); a progress line goes to\n"
    "                        stderr when it is a terminal, either way\n"
    "  --version             isopool-bench's version\n"
    "  --tls-ca FILE         for a tls+tcp:// URL: the CAs (PEM) the\n"
    "                        service's certificate must chain to\n"
    "  --tls-cert FILE, --tls-key FILE  this client's certificate and key\n"
    "  --tls-server-name NAME  the certificate's name (default: the host)\n"
    "Exit status: 0, 1 a wrong reply or a failed mode, 2 bad usage, 3 no\n"
    "service at --url (at once, with why).\n"
    "Columns: msgs/s is request messages per second (batches in batch\n"
    "mode); p50/p90/p99 are per message; cpu% and srv% are the CPU time of\n"
    "this process and of the server over the window (100 = one core).\n"
    "Each mode but kill is followed by an echo row: a bare NNG REQ/REP\n"
    "echo of its requests' bytes in its loop, over --url's transport, its\n"
    "server in another process (the floor); call and latency also by a\n"
    "relay row: that echo through a socketpair to another process and\n"
    "back, as a job goes through a pool process. The ratios follow the\n"
    "table.\n";

static int parse_int(const char* name,
                     const char* s,
                     long lo,
                     long hi,
                     long* out) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
    fprintf(stderr, "isopool-bench: %s needs a number from %ld to %ld\n", name,
            lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

int main(int argc, char** argv) {
  if ((argc == 3 || (argc == 4 && strcmp(argv[3], "--relay") == 0)) &&
      strcmp(argv[1], "--echo-server") == 0) {
    return echo_serve(argv[2], argc == 4); /* a floor's server */
  }
  enum {
    O_EVALC = 256,
    O_EVALIMP,
    O_BATCHES,
    O_SOCKETS,
    O_SERVER_PID,
    O_EXPORT,
    O_NO_FLOOR,
    O_VERSION,
    O_TLS_CA,
    O_TLS_CERT,
    O_TLS_KEY,
    O_TLS_SERVER_NAME,
    O_JSON
  };
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},
      {"mode", required_argument, NULL, 'm'},
      {"concurrency", required_argument, NULL, 'c'},
      {"eval-concurrency", required_argument, NULL, O_EVALC},
      {"eval-import", required_argument, NULL, O_EVALIMP},
      {"batch", required_argument, NULL, 'b'},
      {"batches", required_argument, NULL, O_BATCHES},
      {"sockets", required_argument, NULL, O_SOCKETS},
      {"duration", required_argument, NULL, 'd'},
      {"module", required_argument, NULL, 'M'},
      {"export", required_argument, NULL, O_EXPORT},
      {"server-pid", required_argument, NULL, O_SERVER_PID},
      {"no-floor", no_argument, NULL, O_NO_FLOOR},
      {"json", no_argument, NULL, O_JSON},
      {"tls-ca", required_argument, NULL, O_TLS_CA},
      {"tls-cert", required_argument, NULL, O_TLS_CERT},
      {"tls-key", required_argument, NULL, O_TLS_KEY},
      {"tls-server-name", required_argument, NULL, O_TLS_SERVER_NAME},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, O_VERSION},
      {NULL, 0, NULL, 0},
  };
  const char* env_url = getenv("ISOPOOL_URL");
  bench_opts o = {
      .url = env_url && env_url[0] ? env_url : "tcp://127.0.0.1:7447",
      .mode = "all",
      .module = "bench.js",
      .export_name = "default",
      .concurrency = 64,
      .eval_concurrency = 16,
      .eval_source = kEvalSource,
      .batch = 256,
      .batches = 4,
      .sockets = 1,
      .duration_s = 5,
      .floor = 1,
  };
  long v;
  int c;
  while ((c = getopt_long(argc, argv, "u:m:c:b:d:M:h", opts, NULL)) != -1) {
    switch (c) {
      case 'u':
        if (o.nurls == ISO_CLIENT_MAX_NODES) {
          fprintf(stderr, "isopool-bench: at most %d --url\n",
                  ISO_CLIENT_MAX_NODES);
          return 2;
        }
        o.urls[o.nurls++] = optarg;
        o.url = o.urls[0];
        break;
      case 'm':
        o.mode = optarg;
        break;
      case 'c':
        if (parse_int("--concurrency", optarg, 1, 16384, &v) != 0) {
          return 2;
        }
        o.concurrency = (int)v;
        break;
      case O_EVALC:
        if (parse_int("--eval-concurrency", optarg, 1, 16384, &v) != 0) {
          return 2;
        }
        o.eval_concurrency = (int)v;
        break;
      case O_EVALIMP: {
        static char src[1024];
        if (strlen(optarg) > 512 || strchr(optarg, '\'') != NULL) {
          fprintf(stderr,
                  "isopool-bench: --eval-import: a specifier of "
                  "at most 512 bytes without a quote\n");
          return 2;
        }
        snprintf(src, sizeof src, "import '%s';\n%s", optarg, kEvalSource);
        o.eval_source = src;
        break;
      }
      case 'b':
        if (parse_int("--batch", optarg, 1, ISO_PROTO_MAX_BATCH, &v) != 0) {
          return 2;
        }
        o.batch = (int)v;
        break;
      case O_BATCHES:
        if (parse_int("--batches", optarg, 1, 1024, &v) != 0) {
          return 2;
        }
        o.batches = (int)v;
        break;
      case O_SOCKETS:
        if (parse_int("--sockets", optarg, 1, 64, &v) != 0) {
          return 2;
        }
        o.sockets = (int)v;
        break;
      case 'd': {
        char* end;
        o.duration_s = strtod(optarg, &end);
        if (*optarg == '\0' || *end != '\0' || !(o.duration_s > 0) ||
            o.duration_s > 3600) {
          fprintf(stderr, "isopool-bench: --duration needs seconds (0-3600]\n");
          return 2;
        }
        break;
      }
      case 'M':
        o.module = optarg;
        break;
      case O_EXPORT:
        o.export_name = optarg;
        break;
      case O_SERVER_PID:
        if (parse_int("--server-pid", optarg, 1, 1L << 30, &v) != 0) {
          return 2;
        }
        o.server_pid = v;
        break;
      case O_NO_FLOOR:
        o.floor = 0;
        break;
      case O_JSON:
        g_json = 1;
        break;
      case O_TLS_CA:
        o.tls_ca = optarg;
        break;
      case O_TLS_CERT:
        o.tls_cert = optarg;
        break;
      case O_TLS_KEY:
        o.tls_key = optarg;
        break;
      case O_TLS_SERVER_NAME:
        o.tls_server_name = optarg;
        break;
      case 'h':
        fputs(kUsage, stdout);
        return 0;
      case O_VERSION:
        printf("isopool-bench (isopool) " ISO_VERSION "\n");
        return 0;
      default:
        fputs(kUsage, stderr);
        return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "isopool-bench: unexpected argument \"%s\"\n",
            argv[optind]);
    return 2;
  }
  int all = strcmp(o.mode, "all") == 0, any = all;
  if (strcmp(o.mode, "kill") == 0 && g_json) {
    fprintf(stderr, "isopool-bench: --mode kill reports in text only\n");
    return 2;
  }
  g_progress = isatty(STDERR_FILENO);
  if (strcmp(o.mode, "kill") == 0 && o.server_pid == 0) {
    fprintf(stderr, "isopool-bench: --mode kill needs --server-pid\n");
    return 2;
  }
  for (size_t i = 0; i < NMODES; i++) {
    any |= strcmp(o.mode, kModes[i].name) == 0;
  }
  if (!any) {
    fprintf(stderr, "isopool-bench: unknown mode \"%s\"\n%s", o.mode, kUsage);
    return 2;
  }

  /* Is anyone there? A dial first (a missing service fails at once, with
   * why), then one call job, which also warms the module up. */
  iso_client_opts co = client_opts(&o, 0);
  char why[512];
  if (o.nurls == 0) {
    o.urls[o.nurls++] = o.url;
  }
  int rc = 0;
  for (int i = 0; i < o.nurls; i++) {
    rc = iso_client_probe(o.urls[i], &co, 5000, why, sizeof why);
    if (rc != 0) {
      fprintf(stderr, "isopool-bench: cannot %s %s: %s\n",
              rc == ISO_ECONNECT ? "connect to" : "use", o.urls[i], why);
      return rc == ISO_ECONNECT ? 3 : 2;
    }
  }
  iso_client* probe = NULL;
  rc = iso_client_new_nodes(o.urls, (size_t)o.nurls, &co, &probe);
  if (rc != 0) {
    fprintf(stderr, "isopool-bench: cannot use %s: %s\n", o.url,
            iso_strerror(rc));
    return 2;
  }
  uint8_t args[] = {0x91, 0x15}; /* [21] */
  iso_job job = {.kind = ISO_JOB_CALL,
                 .module = o.module,
                 .export_name = o.export_name,
                 .args = args,
                 .args_len = sizeof args};
  iso_result res;
  rc = iso_client_call(probe, &job, 10000, &res);
  iso_client_free(probe);
  if (rc != 0) {
    fprintf(stderr, "isopool-bench: %s does not answer: %s\n", o.url,
            iso_strerror(rc));
    return rc == ISO_ECONNECT ? 3 : 1;
  }
  int64_t got = 0;
  int ok = res.status == ISO_STATUS_FULFILLED &&
           mp_int(res.value, res.value_len, &got) && got == 42;
  if (!ok) {
    fprintf(stderr,
            "isopool-bench: %s export %s with [21] did not give 42 (%s%s%s); "
            "serve bench/modules or pass --module/--export\n",
            o.module, o.export_name,
            res.status == ISO_STATUS_ERROR ? res.code_name : "",
            res.status == ISO_STATUS_ERROR ? ": " : "",
            res.status == ISO_STATUS_FULFILLED ? "another value" : res.message);
    iso_result_close(&res);
    return 1;
  }
  iso_result_close(&res);

  /* The floor, for the modes that have one. */
  floor_proc fp = {.pid = 0}, rp = {.pid = 0};
  int want_floor = 0, want_relay = 0;
  for (size_t i = 0; i < NMODES; i++) {
    int on = all || strcmp(o.mode, kModes[i].name) == 0;
    want_floor |= kModes[i].floor && on;
    want_relay |= kModes[i].relay && on;
  }
  if (o.floor && want_floor) {
    char err[256];
    if (floor_start(o.url, 0, &fp, err, sizeof err) != 0) {
      fprintf(stderr, "isopool-bench: %s; measuring without the floor\n", err);
    }
    if (fp.pid > 0 && want_relay &&
        floor_start(o.url, 1, &rp, err, sizeof err) != 0) {
      fprintf(stderr, "isopool-bench: %s; measuring without the relay\n", err);
    }
  }

  if (!g_json) {
    print_header(&o, &fp, &rp);
  }
  uint64_t errors = 0;
  row svc[NMODES], flo[NMODES], rel[NMODES];
  int have[NMODES] = {0}, have_rel[NMODES] = {0}, ran[NMODES] = {0};
  int failed = 0;
  for (size_t i = 0; i < NMODES && !failed; i++) {
    int kill = strcmp(kModes[i].name, "kill") == 0;
    if ((!all || kill) && strcmp(o.mode, kModes[i].name) != 0) {
      continue;
    }
    row w = {.mode = kModes[i].name};
    if (kModes[i].run(&o, &w) != 0) {
      failed = 1;
      break;
    }
    if (!w.printed) {
      print_row(&w);
    }
    errors += w.errors;
    svc[i] = w;
    ran[i] = !kill;
    if (fp.pid > 0 && kModes[i].floor) {
      row e = {.mode = kModes[i].name};
      if (floor_of(&o, &fp, kModes[i].name, &e) != 0) {
        failed = 1;
        break;
      }
      print_row(&e);
      errors += e.errors;
      flo[i] = e;
      have[i] = 1;
    }
    if (rp.pid > 0 && kModes[i].relay) {
      row e = {.mode = kModes[i].name};
      if (floor_of(&o, &rp, kModes[i].name, &e) != 0) {
        failed = 1;
        break;
      }
      e.relay = 1;
      print_row(&e);
      errors += e.errors;
      rel[i] = e;
      have_rel[i] = 1;
    }
  }
  floor_stop(&fp);
  floor_stop(&rp);
  if (failed) {
    return 1;
  }
  if (g_json) {
    print_json(&o, svc, ran, flo, have, rel, have_rel);
  } else {
    print_ratios(&o, svc, flo, have, rel, have_rel);
    print_targets(svc, flo, ran, have, rel, have_rel);
  }
  if (errors > 0) {
    fprintf(stderr, "isopool-bench: %" PRIu64 " error%s\n", errors,
            errors == 1 ? "" : "s");
    return 1;
  }
  return 0;
}
