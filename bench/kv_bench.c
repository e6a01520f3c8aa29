/* kv_bench.c: isopool:kv's stores side by side in one run.
 *
 *   kv_bench [DIR] [SECONDS]
 *
 * Calls op_kv_set, op_kv_get and op_kv_increment the way an op thread
 * does (iso_op_invoke with msgpack arguments, no runtime, no bus) on the
 * in-memory store and on an LMDB file in DIR (default /tmp) with each
 * sync setting (ISO_KV_SYNC_FULL, _NOMETA, _NONE), and prints per store:
 * the median and p99 latency of one set (one thread), sets per second
 * from 2 threads (the service's default --op-threads), and the median of
 * a get and of an increment. Values are 100 bytes of msgpack; keys are
 * drawn from 10,000 (increments from 10,000 others). Each measurement runs for
 * SECONDS (default 1) or 20,000 ops, whichever ends first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "iso_ops.h"

#define MAX_SAMPLES 20000
#define KEYS 10000

static double g_seconds = 1;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static const iso_op_def* def_of(const char* name) {
  const iso_op_table* t = iso_ops_builtin();
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->defs[i].name, name) == 0) {
      return &t->defs[i];
    }
  }
  abort();
}

/* [key] or [key, value]: key i of KEYS, a 100-byte bin value. */
static void args_of(iso_buf* b, const char* prefix, int i, int with_value) {
  static const uint8_t value[97];
  char key[32];
  iso_mp_wr w;
  iso_buf_reset(b);
  iso_mp_wr_init(&w, b);
  iso_mp_put_array(&w, with_value ? 2 : 1);
  snprintf(key, sizeof key, "%s:%d", prefix, i % KEYS);
  iso_mp_put_cstr(&w, key);
  if (with_value) {
    iso_mp_put_bin(&w, value, sizeof value);
  }
}

typedef struct run {
  iso_ops_env* env;
  const iso_op_def* def;
  int with_value;
  int seed;
  double* lat; /* NULL: count only */
  int n;
} run;

/* Runs the op until the time or the samples are up. */
static void* run_main(void* arg) {
  run* r = arg;
  iso_buf args, out;
  iso_buf_init(&args);
  iso_buf_init(&out);
  double end = now_us() + g_seconds * 1e6;
  for (r->n = 0; r->n < MAX_SAMPLES; r->n++) {
    args_of(&args, r->def->name[6] == 'i' ? "count" : "bench",
            r->seed + r->n * 7919, r->with_value);
    iso_op_call c = {.def = r->def, .env = r->env, .out = &out};
    iso_buf_reset(&out);
    double t0 = now_us();
    if (iso_op_invoke(&c, args.data, args.len) != 0) {
      fprintf(stderr, "kv_bench: %s: %s\n", r->def->name, c.msg);
      exit(1);
    }
    double t1 = now_us();
    if (r->lat != NULL) {
      r->lat[r->n] = t1 - t0;
    }
    if (t1 > end) {
      r->n++;
      break;
    }
  }
  iso_buf_close(&args);
  iso_buf_close(&out);
  return NULL;
}

/* Median and p99 of one thread's latencies, us. */
static void latency(iso_ops_env* env,
                    const char* op,
                    int with_value,
                    double* p50,
                    double* p99) {
  static double lat[MAX_SAMPLES];
  run r = {.env = env, .def = def_of(op), .with_value = with_value, .lat = lat};
  run_main(&r);
  qsort(lat, (size_t)r.n, sizeof *lat, cmp_double);
  *p50 = lat[r.n / 2];
  *p99 = lat[r.n * 99 / 100];
}

/* Sets per second from two threads at once. */
static double throughput(iso_ops_env* env) {
  run r[2];
  pthread_t th[2];
  double t0 = now_us();
  for (int i = 0; i < 2; i++) {
    r[i] = (run){.env = env,
                 .def = def_of("op_kv_set"),
                 .with_value = 1,
                 .seed = i * 5000};
    pthread_create(&th[i], NULL, run_main, &r[i]);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
  }
  return (r[0].n + r[1].n) / ((now_us() - t0) / 1e6);
}

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : "/tmp";
  g_seconds = argc > 2 ? atof(argv[2]) : 1;
  static const struct {
    const char* name;
    int lmdb;
    iso_kv_sync sync;
  } stores[] = {
      {"memory", 0, ISO_KV_SYNC_DEFAULT},
      {"lmdb full sync", 1, ISO_KV_SYNC_FULL},
      {"lmdb nometasync", 1, ISO_KV_SYNC_NOMETA},
      {"lmdb nosync", 1, ISO_KV_SYNC_NONE},
  };
  printf("%-16s %10s %10s %12s %10s %10s\n", "store", "set p50", "set p99",
         "sets/s (2)", "get p50", "incr p50");
  for (size_t i = 0; i < sizeof stores / sizeof *stores; i++) {
    char path[4096], lock[4200], err[256];
    snprintf(path, sizeof path, "%s/kv_bench_%d.mdb", dir, (int)getpid());
    snprintf(lock, sizeof lock, "%s-lock", path);
    iso_ops_env_opts o = {.kv_path = stores[i].lmdb ? path : NULL,
                          .kv_sync = stores[i].sync};
    iso_ops_env* env;
    if (iso_ops_env_new(&o, &env, err, sizeof err) != 0) {
      fprintf(stderr, "kv_bench: %s\n", err);
      return 1;
    }
    double set50, set99, get50, get99, inc50, inc99;
    latency(env, "op_kv_set", 1, &set50, &set99);
    double sets = throughput(env);
    latency(env, "op_kv_get", 0, &get50, &get99);
    latency(env, "op_kv_increment", 0, &inc50, &inc99);
    printf("%-16s %8.1fus %8.1fus %12.0f %8.1fus %8.1fus\n", stores[i].name,
           set50, set99, sets, get50, inc50);
    fflush(stdout);
    iso_ops_env_free(env);
    unlink(path);
    unlink(lock);
  }
  return 0;
}
