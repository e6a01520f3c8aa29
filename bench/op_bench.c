/* op_bench.c: the op bus's figures, side by side in one run.
 *
 *   op_bench [ROUNDS]
 *
 * Starts a pool in this process (1 worker, 2 op threads, an ipc://
 * listener) with bench/modules as its module root, and sends call jobs to
 * bench/modules/ops.js, which times the ops inside the isolate:
 *   - a sync no-op op (ns per call; an empty JavaScript call for scale);
 *   - an async no-op op with one in flight (median latency, us);
 *   - 10,000 async no-op ops in flight (ops/s, one isolate);
 * and, between them, the bare NNG inproc round trip the async path is
 * built on: two threads ping-ponging one message over PAIR1 (median, us).
 * ROUNDS rounds alternate the measurements; the medians are printed.
 * This is the one program outside ipc/ that uses NNG directly: the
 * baseline must be NNG with nothing of isopool around it.
 */
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
  char url[128];
  snprintf(url, sizeof(url), "ipc:///tmp/isopool-opbench-%d.ipc",
           (int)getpid());
  const char* urls[] = {url};
  iso_pool_opts po = {
      .workers = 1,
      .op_threads = 2,
      .listen = urls,
      .nlisten = 1,
      .modules = ISO_BENCH_MODULES,
      .quiet = 1,
  };
  iso_pool* pool = NULL;
  char err[256];
  if (iso_pool_new(&po, &pool, err, sizeof(err)) != 0) {
    fprintf(stderr, "op_bench: %s\n", err);
    return 1;
  }
  iso_client* c = NULL;
  if (iso_client_new(url, NULL, &c) != 0) {
    fprintf(stderr, "op_bench: cannot connect to %s\n", url);
    return 1;
  }
  nng_socket a, b;
  nng_pair1_open(&a);
  nng_pair1_open(&b);
  nng_listen(a, "inproc://op-bench-baseline", NULL, 0);
  nng_dial(b, "inproc://op-bench-baseline", NULL, 0);
  pthread_t echo;
  pthread_create(&echo, NULL, echo_main, &b);

  double sync_ns[MAX_ROUNDS], js_ns[MAX_ROUNDS], lat_us[MAX_ROUNDS],
      nng_us[MAX_ROUNDS], tput[MAX_ROUNDS];
  double warm;
  call_number(c, "latency", "[200]", &warm); /* warm the realm and ops */
  for (int r = 0; r < rounds; r++) {
    if (call_number(c, "sync", "[2000000]", &sync_ns[r]) != 0 ||
        call_number(c, "jsCall", "[2000000]", &js_ns[r]) != 0 ||
        call_number(c, "latency", "[2000]", &lat_us[r]) != 0 ||
        call_number(c, "throughput", "[10000, 20]", &tput[r]) != 0) {
      return 1;
    }
    nng_us[r] = nng_round_trip(a);
  }
  double lat = median(lat_us, rounds), rtt = median(nng_us, rounds);
  printf(
      "op bus figures (median of %d alternating rounds; 1 worker, "
      "2 op threads)\n",
      rounds);
  printf(
      "  sync no-op op                    %8.1f ns/call  (an empty JS "
      "call: %.1f ns)   goal <= 100 ns\n",
      median(sync_ns, rounds), median(js_ns, rounds));
  printf(
      "  async no-op op, 1 in flight      %8.1f us  vs bare NNG inproc "
      "round trip %.1f us (%.2fx)   goal <= 1.5x\n",
      lat, rtt, lat / rtt);
  printf("  async no-op ops, 10000 in flight %8.0f ops/s   goal >= 300000\n",
         median(tput, rounds));
  fflush(stdout);
  nng_close(a);
  nng_close(b);
  pthread_join(echo, NULL);
  iso_client_free(c);
  iso_pool_shutdown(pool);
  iso_pool_free(pool);
  return 0;
}
