/* op_bench.c: the op bus's figures, side by side in one run.
 *
 *   op_bench [ROUNDS]
 *
 * Starts two pools in this process, each with 1 worker, 2 op threads, an
 * ipc:// listener and bench/modules as its module root: one whose worker
 * thread runs here (`--processes 0`: the op link is in-process) and one
 * whose worker runs in a sandboxed pool process (`isopool pool-process`,
 * the binary beside this one: the op link crosses between processes, as
 * with `isopool serve`'s defaults). It sends call jobs to
 * bench/modules/ops.js, which times the ops inside the isolate:
 *   - a sync no-op op (ns per call; an empty JavaScript call for scale);
 *   - an async no-op op with one in flight (median latency, us);
 *   - 10,000 async no-op ops in flight (ops/s, one isolate);
 * and, between them, the bare NNG inproc round trip: two threads
 * ping-ponging one message over PAIR1 (median, us), and the bare round
 * trip of the op link's own transport, a socketpair (ipc/iso_link.h),
 * between two threads blocked in read (median, us). ROUNDS rounds
 * alternate the pools and the measurements; the medians are printed, the
 * two pools side by side, then a `target` line for scripts/bench.sh's
 * table of issue 15's targets: the pool process's op against the bare
 * round trip (bench/README.md, "Targets"). This is the one program outside ipc/
 * that uses NNG directly: the baseline must be NNG with nothing of isopool
 * around it.
 */
#include <limits.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_exe.h"

#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_pool.h"
#include "iso_rt.h"

#define MAX_ROUNDS 64
#define NNG_TRIPS 2000

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the bare NNG round trip ---- */

static void* echo_main(void* arg) {
  nng_socket s = *(nng_socket*)arg;
  nng_msg* m;
  while (nng_recvmsg(s, &m, 0) == 0) {
    if (nng_sendmsg(s, m, 0) != 0) {
      nng_msg_free(m);
    }
  }
  return NULL;
}

/* Median us of NNG_TRIPS round trips of an 8-byte message. */
static double nng_round_trip(nng_socket a) {
  static double lat[NNG_TRIPS];
  for (int i = 0; i < NNG_TRIPS; i++) {
    nng_msg* m;
    double t0 = now_us();
    nng_msg_alloc(&m, 8);
    nng_sendmsg(a, m, 0);
    if (nng_recvmsg(a, &m, 0) != 0) {
      return -1;
    }
    nng_msg_free(m);
    lat[i] = now_us() - t0;
  }
  return median(lat, NNG_TRIPS);
}

/* ---- the bare socketpair round trip ---- */

static void* pair_echo_main(void* arg) {
  int fd = *(int*)arg;
  char b[8];
  ssize_t n;
  while ((n = read(fd, b, sizeof b)) > 0) {
    if (write(fd, b, (size_t)n) != n) {
      break;
    }
  }
  return NULL;
}

/* Median us of NNG_TRIPS round trips of 8 bytes over fd. */
static double pair_round_trip(int fd) {
  static double lat[NNG_TRIPS];
  char b[8] = {0};
  for (int i = 0; i < NNG_TRIPS; i++) {
    double t0 = now_us();
    if (write(fd, b, sizeof b) != (ssize_t)sizeof b ||
        read(fd, b, sizeof b) != (ssize_t)sizeof b) {
      return -1;
    }
    lat[i] = now_us() - t0;
  }
  return median(lat, NNG_TRIPS);
}

/* ---- the op figures, through the pool ---- */

static int call_number(iso_client* c,
                       const char* export_name,
                       const char* args_json,
                       double* out) {
  iso_buf args;
  iso_buf_init(&args);
  if (iso_json_to_msgpack(args_json, strlen(args_json), &args) != 0) {
    return ISO_EINVAL;
  }
  iso_job job = {
      .kind = ISO_JOB_CALL,
      .module = "./ops.js",
      .export_name = export_name,
      .args = args.data,
      .args_len = args.len,
      .timeout_ms = 120000,
  };
  iso_result r;
  int rc = iso_client_call(c, &job, 180000, &r);
  iso_buf_close(&args);
  if (rc != 0) {
    return rc;
  }
  iso_buf text;
  iso_buf_init(&text);
  if (r.status != ISO_STATUS_FULFILLED ||
      iso_json_from_msgpack(r.value, r.value_len, &text) != 0 ||
      iso_buf_terminate(&text) != 0) {
    fprintf(stderr, "op_bench: %s failed: %s\n", export_name,
            r.message ? r.message : "no value");
    rc = ISO_EJS;
  } else {
    *out = strtod((const char*)text.data, NULL);
  }
  iso_buf_close(&text);
  iso_result_close(&r);
  return rc;
}

/* ---- one pool and its figures ---- */

typedef struct bench_pool {
  const char* name;
  iso_pool* pool;
  iso_client* client;
  char url[128];
  double sync_ns[MAX_ROUNDS], js_ns[MAX_ROUNDS], lat_us[MAX_ROUNDS],
      tput[MAX_ROUNDS];
} bench_pool;

/* Starts bp's pool (processes: iso_pool_opts.processes; exe: the isopool
 * binary its pool process runs) and its client; 0 or -1 (said why). */
static int bench_pool_start(bench_pool* bp, int processes, const char* exe) {
  snprintf(bp->url, sizeof(bp->url), "ipc:///tmp/isopool-opbench-%d-%d.ipc",
           (int)getpid(), processes);
  const char* urls[] = {bp->url};
  iso_pool_opts po = {
      .workers = 1,
      .op_threads = 2,
      .listen = urls,
      .nlisten = 1,
      .modules = ISO_BENCH_MODULES,
      .quiet = 1,
      .admin_url = "none",
      .processes = processes,
      .spare_processes = 0,
      .exe = exe,
  };
  char err[256];
  if (iso_pool_new(&po, &bp->pool, err, sizeof(err)) != 0) {
    fprintf(stderr, "op_bench: %s: %s\n", bp->name, err);
    return -1;
  }
  if (iso_client_new(bp->url, NULL, &bp->client) != 0) {
    fprintf(stderr, "op_bench: cannot connect to %s\n", bp->url);
    return -1;
  }
  double warm;
  return call_number(bp->client, "latency", "[200]", &warm) == 0 ? 0 : -1;
}

static int bench_pool_round(bench_pool* bp, int r) {
  iso_client* c = bp->client;
  if (call_number(c, "sync", "[2000000]", &bp->sync_ns[r]) != 0 ||
      call_number(c, "jsCall", "[2000000]", &bp->js_ns[r]) != 0 ||
      call_number(c, "latency", "[2000]", &bp->lat_us[r]) != 0 ||
      call_number(c, "throughput", "[10000, 20]", &bp->tput[r]) != 0) {
    fprintf(stderr, "op_bench: %s: a measurement failed\n", bp->name);
    return -1;
  }
  return 0;
}

static void bench_pool_stop(bench_pool* bp) {
  if (bp->client != NULL) {
    iso_client_free(bp->client);
  }
  if (bp->pool != NULL) {
    iso_pool_shutdown(bp->pool);
    iso_pool_free(bp->pool);
  }
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  if (rounds < 1 || rounds > MAX_ROUNDS) {
    fprintf(stderr, "usage: op_bench [ROUNDS (1..%d)]\n", MAX_ROUNDS);
    return 2;
  }
  if (iso_rt_init_process(NULL) != 0) {
    fprintf(stderr, "op_bench: cannot initialise V8\n");
    return 1;
  }
  char exe[PATH_MAX];
  if (bench_isopool_exe(exe, sizeof(exe)) != 0) {
    fprintf(stderr, "op_bench: no isopool binary beside this one\n");
    return 1;
  }
  /* the pool's supervisor takes SIGCHLD (iso_pool.h) */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, NULL);
  static bench_pool pools[2] = {{.name = "--processes 0"},
                                {.name = "1 pool process"}};
  if (bench_pool_start(&pools[0], 0, exe) != 0 ||
      bench_pool_start(&pools[1], 1, exe) != 0) {
    return 1;
  }
  nng_socket a, b;
  nng_pair1_open(&a);
  nng_pair1_open(&b);
  nng_listen(a, "inproc://op-bench-baseline", NULL, 0);
  nng_dial(b, "inproc://op-bench-baseline", NULL, 0);
  pthread_t echo;
  pthread_create(&echo, NULL, echo_main, &b);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    fprintf(stderr, "op_bench: socketpair failed\n");
    return 1;
  }
  pthread_t pair_echo;
  pthread_create(&pair_echo, NULL, pair_echo_main, &pair[1]);

  double nng_us[MAX_ROUNDS], pair_us[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    int first = r % 2; /* alternate which pool goes first */
    if (bench_pool_round(&pools[first], r) != 0 ||
        bench_pool_round(&pools[!first], r) != 0) {
      return 1;
    }
    nng_us[r] = nng_round_trip(a);
    pair_us[r] = pair_round_trip(pair[0]);
  }
  double rtt = median(nng_us, rounds);
  double pair_rtt = median(pair_us, rounds);
  double sync[2], js[2], lat[2], tput[2];
  for (int i = 0; i < 2; i++) {
    sync[i] = median(pools[i].sync_ns, rounds);
    js[i] = median(pools[i].js_ns, rounds);
    lat[i] = median(pools[i].lat_us, rounds);
    tput[i] = median(pools[i].tput, rounds);
  }
  printf(
      "op bus figures (median of %d alternating rounds; 1 worker, "
      "2 op threads)\n",
      rounds);
  printf("  %-34s %14s %15s %7s\n", "", pools[0].name, pools[1].name, "ratio");
  printf("  %-34s %11.1f ns %12.1f ns %6.2fx   goal <= 100 ns\n",
         "sync no-op op", sync[0], sync[1], sync[1] / sync[0]);
  printf("  %-34s %11.1f ns %12.1f ns %6.2fx\n", "an empty JS call (scale)",
         js[0], js[1], js[1] / js[0]);
  printf("  %-34s %11.1f us %12.1f us %6.2fx   goal <= 1.5x NNG\n",
         "async no-op op, 1 in flight", lat[0], lat[1], lat[1] / lat[0]);
  printf("  %-34s %11.0f/s %12.0f/s %6.2fx   goal >= 300000\n",
         "async no-op ops, 10000 in flight", tput[0], tput[1],
         tput[1] / tput[0]);
  printf(
      "  bare NNG inproc round trip (floor) %11.1f us   op 1 in flight: "
      "%.2fx and %.2fx of it\n",
      rtt, lat[0] / rtt, lat[1] / rtt);
  printf(
      "  bare socketpair round trip (floor) %11.1f us   op 1 in flight: "
      "%.2fx and %.2fx of it\n",
      pair_rtt, lat[0] / pair_rtt, lat[1] / pair_rtt);
  /* issue 15's target (bench/README.md, "Targets"): the default, a pool
   * process, as `isopool serve` runs */
  printf(
      "target\tasync_op_p50\t%.2f\tus\tNNG inproc RTT\t%.2f"
      "\t%.3f\n",
      lat[1], rtt, lat[1] / rtt);
  fflush(stdout);
  nng_close(a);
  nng_close(b);
  pthread_join(echo, NULL);
  close(pair[0]); /* the echo reads the end and returns */
  pthread_join(pair_echo, NULL);
  close(pair[1]);
  bench_pool_stop(&pools[0]);
  bench_pool_stop(&pools[1]);
  return 0;
}
