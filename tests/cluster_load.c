/* cluster_load.c: the load driver of the cluster test (tests/cluster/,
 * `make test-cluster`; not for users). One client over the nodes' URLs
 * keeps --inflight K call jobs of record.js in flight for --seconds S,
 * each with a unique id ("PREFIX-N") as its one argument; --idempotent PCT
 * marks that share of them idempotent (every 100/PCT-th). Every job's
 * outcome is recorded exactly as the client delivered it: "ok" (fulfilled;
 * the node that ran it from the value, record.js returns "ID@nK"),
 * "rejected", an error reply's code ("busy", "shutting_down", ...) or the
 * client's own error (ISO_ENODELOST is "ENODELOST", iso_err_name). A
 * second callback for the same job is counted, never overwrites the
 * first, and is a failure the check reports.
 *
 * SIGUSR1 marks the moment of the fault (the script sends it right before
 * it makes the fault, so that nothing the fault causes precedes it). At the end
 * the driver writes --out FILE, one line per id: `ID OUTCOME NODE IDEMPOTENT
 * CALLBACKS DONE_MS` (NODE "-" when not known), and prints its figures, one
 * `key value` per line after `figures`: jobs/s over the load (fulfilled jobs:
 * throughput counts only those), the jobs/s of the 50 ms buckets from 500 ms
 * before the fault to 1500 ms after, the pre-fault mean (the second before the
 * fault, past the first 500 ms), the lowest bucket in the second after it,
 * the recovery time (from the fault to the start of the first bucket after
 * it from which two 100 ms windows in a row each make >= 80% of that
 * mean), per node the time until the client took it out and until it was
 * up again (out_ms_I, in_ms_I: the nodes' `up`, polled every 5 ms; -1
 * never; detect_ms and back_ms the first of them) and how often it was
 * taken out before the fault, the time until the first ENODELOST, and the
 * count of each outcome. Exit status 0 when it ran (the checks are the
 * script's), 2 on bad usage, 3 if no client could be made.
 *
 * DESIGN: the main thread submits while fewer than K jobs are in flight
 * and otherwise waits on a condition variable the completion callbacks
 * (NNG threads) signal; it wakes every 5 ms anyway to poll the nodes'
 * states. A callback touches only its own job's record (atomics) and one
 * bucket counter, so the records are a preallocated array (--max-jobs) and
 * nothing is allocated per job on this side.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "iso_proto.h"

#define BUCKET_MS 50
#define NBUCKETS 8192 /* 409 s of timeline */
#define MAX_URLS 16
#define POLL_MS 5
/* outcomes that are not a client error code (those are <= 0) */
#define OUT_OK 1
#define OUT_REJECTED 2
#define OUT_CODE_BASE 100 /* + iso_proto_code of an error reply */

typedef struct rec {
  atomic_int callbacks;
  atomic_int outcome; /* 0 until the first callback: OUT_* or ISO_E* */
  atomic_int node;    /* 1..9 from the value, 0 unknown */
  atomic_uint done_ms;
  uint8_t idempotent;
} rec;

static struct {
  iso_client* client;
  const char* prefix;
  rec* recs;
  size_t nrecs;
  atomic_uint buckets[NBUCKETS];
  atomic_int doubles;
  uint64_t t0_ns;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int inflight;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static _Atomic uint64_t fault_ns; /* SIGUSR1's time, 0 before */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_usr1(int sig) {
  (void)sig;
  uint64_t zero = 0;
  atomic_compare_exchange_strong(&fault_ns, &zero, now_ns());
}

/* The node a fulfilled job ran on: record.js returns "ID@nK". */
static int value_node(const iso_result* r) {
  iso_mp_rd rd;
  iso_mp_obj o;
  iso_mp_rd_init(&rd, r->value, r->value_len);
  if (iso_mp_read(&rd, &o) != 0 || o.type != ISO_MP_STR || o.len < 3) {
    return 0;
  }
  const char* s = (const char*)o.data;
  if (s[o.len - 3] != '@' || s[o.len - 2] != 'n' || s[o.len - 1] < '1' ||
      s[o.len - 1] > '9') {
    return 0;
  }
  return s[o.len - 1] - '0';
}

static void done_cb(void* data, int status, iso_result* res) {
  rec* r = &g.recs[(uintptr_t)data];
  uint64_t ms = (now_ns() - g.t0_ns) / 1000000u;
  if (atomic_fetch_add(&r->callbacks, 1) != 0) {
    atomic_fetch_add(&g.doubles, 1);
    return; /* the first outcome stands; the check reports the count */
  }
  int out = status;
  if (status == 0 && res->status == ISO_STATUS_FULFILLED) {
    out = OUT_OK;
    atomic_store(&r->node, value_node(res));
  } else if (status == 0 && res->status == ISO_STATUS_REJECTED) {
    out = OUT_REJECTED;
  } else if (status == 0) {
    out = OUT_CODE_BASE + (int)res->code;
  }
  atomic_store(&r->done_ms, (unsigned)ms);
  atomic_store(&r->outcome, out);
  if (out == OUT_OK && ms / BUCKET_MS < NBUCKETS) {
    atomic_fetch_add(&g.buckets[ms / BUCKET_MS], 1);
  }
  pthread_mutex_lock(&g.mu);
  g.inflight--;
  pthread_cond_signal(&g.cv);
  pthread_mutex_unlock(&g.mu);
}

static const char* outcome_name(int out, char* buf, size_t len) {
  if (out == OUT_OK) {
    return "ok";
  }
  if (out == OUT_REJECTED) {
    return "rejected";
  }
  if (out >= OUT_CODE_BASE) {
    return iso_proto_code_name((iso_proto_code)(out - OUT_CODE_BASE));
  }
  if (out == 0) {
    return "none"; /* never completed */
  }
  snprintf(buf, len, "%s", iso_err_name(out));
  return buf;
}

/* Submits job n; its outcome is the submit's error if that fails. */
static void submit(size_t n, uint8_t* args, int64_t deadline_ms) {
  char id[96];
  int idlen = snprintf(id, sizeof id, "%s-%zu", g.prefix, n);
  iso_buf b; /* [id] in args (the prefix is short: it fits) */
  iso_buf_init_with(&b, args, 128);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &b);
  iso_mp_put_array(&w, 1);
  iso_mp_put_str(&w, id, (size_t)idlen);
  iso_job job = {.kind = ISO_JOB_CALL,
                 .module = "record.js",
                 .args = b.data,
                 .args_len = b.len};
  job.idempotent = g.recs[n].idempotent;
  pthread_mutex_lock(&g.mu);
  g.inflight++;
  pthread_mutex_unlock(&g.mu);
  int rc = iso_client_submit(g.client, &job, deadline_ms, done_cb,
                             (void*)(uintptr_t)n);
  iso_buf_close(&b); /* the job was encoded by the submit */
  if (rc != 0) {
    /* no callback will come: the submit's error is the outcome */
    atomic_store(&g.recs[n].callbacks, 1);
    atomic_store(&g.recs[n].outcome, rc);
    pthread_mutex_lock(&g.mu);
    g.inflight--;
    pthread_mutex_unlock(&g.mu);
  }
}

static double bucket_rate(size_t b) {
  return b < NBUCKETS ? atomic_load(&g.buckets[b]) * (1000.0 / BUCKET_MS) : 0.0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: cluster_load --url URL [--url URL...] --prefix P --out "
          "FILE\n"
          "         [--seconds S (4)] [--inflight K (48)] [--idempotent "
          "PCT]\n"
          "         [--deadline-ms MS (5000)] [--max-jobs N (2000000)]\n");
}

int main(int argc, char** argv) {
  const char* urls[MAX_URLS];
  size_t nurls = 0;
  const char* out_path = NULL;
  double seconds = 4;
  int k = 48, idem_pct = 0;
  int64_t deadline_ms = 5000;
  size_t max_jobs = 2000000;
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},
      {"prefix", required_argument, NULL, 'p'},
      {"out", required_argument, NULL, 'o'},
      {"seconds", required_argument, NULL, 's'},
      {"inflight", required_argument, NULL, 'k'},
      {"idempotent", required_argument, NULL, 'i'},
      {"deadline-ms", required_argument, NULL, 'd'},
      {"max-jobs", required_argument, NULL, 'm'},
      {NULL, 0, NULL, 0}};
  g.prefix = "j";
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (c) {
      case 'u':
        if (nurls == MAX_URLS) {
          usage();
          return 2;
        }
        urls[nurls++] = optarg;
        break;
      case 'p':
        g.prefix = optarg;
        break;
      case 'o':
        out_path = optarg;
        break;
      case 's':
        seconds = atof(optarg);
        break;
      case 'k':
        k = atoi(optarg);
        break;
      case 'i':
        idem_pct = atoi(optarg);
        break;
      case 'd':
        deadline_ms = atoll(optarg);
        break;
      case 'm':
        max_jobs = (size_t)atoll(optarg);
        break;
      default:
        usage();
        return 2;
    }
  }
  if (nurls == 0 || out_path == NULL || strlen(g.prefix) > 32 || seconds <= 0 ||
      k < 1 || max_jobs < 1 || idem_pct < 0 || idem_pct > 100) {
    usage();
    return 2;
  }
  g.recs = calloc(max_jobs, sizeof *g.recs);
  if (g.recs == NULL) {
    fprintf(stderr, "cluster_load: out of memory\n");
    return 3;
  }
  iso_client_opts copts = {.max_inflight = 2 * k};
  int rc = iso_client_new_nodes(urls, nurls, &copts, &g.client);
  if (rc != 0) {
    fprintf(stderr, "cluster_load: client: %s\n", iso_strerror(rc));
    return 3;
  }
  struct sigaction sa = {.sa_handler = on_usr1};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);

  uint8_t args[128];
  g.t0_ns = now_ns();
  uint64_t end_ns = g.t0_ns + (uint64_t)(seconds * 1e9);
  /* per node: taken out after the fault (ms from it), back in after
   * that, and taken out before the fault (times) */
  int64_t out_ms[MAX_URLS], in_ms[MAX_URLS];
  int was_up[MAX_URLS], outs_before[MAX_URLS];
  for (size_t i = 0; i < MAX_URLS; i++) {
    out_ms[i] = in_ms[i] = -1;
    was_up[i] = -1; /* not seen yet */
    outs_before[i] = 0;
  }
  uint64_t polled_ns = 0;
  for (;;) {
    uint64_t t = now_ns();
    int sending = t < end_ns && g.nrecs < max_jobs;
    pthread_mutex_lock(&g.mu);
    int room = sending && g.inflight < k;
    if (!sending && g.inflight == 0) {
      pthread_mutex_unlock(&g.mu);
      break;
    }
    if (!room) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += POLL_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&g.cv, &g.mu, &ts);
    }
    pthread_mutex_unlock(&g.mu);
    if (room) {
      size_t n = g.nrecs++;
      g.recs[n].idempotent =
          idem_pct > 0 && n % (size_t)(100 / idem_pct) == 0 ? 1 : 0;
      submit(n, args, deadline_ms);
    }
    uint64_t f = atomic_load(&fault_ns);
    if (now_ns() - polled_ns >= POLL_MS * 1000000u) {
      polled_ns = now_ns();
      iso_client_node nodes[MAX_URLS];
      int nn = iso_client_nodes(g.client, nodes, MAX_URLS);
      for (int i = 0; i < nn && i < MAX_URLS; i++) {
        int64_t ms = f != 0 ? (int64_t)(polled_ns - f) / 1000000 : -1;
        if (was_up[i] == 1 && !nodes[i].up) {
          if (f == 0) {
            outs_before[i]++;
          } else if (out_ms[i] < 0) {
            out_ms[i] = ms;
          }
        } else if (was_up[i] == 0 && nodes[i].up && out_ms[i] >= 0 &&
                   in_ms[i] < 0) {
          in_ms[i] = ms;
        }
        was_up[i] = nodes[i].up;
      }
    }
    if (now_ns() > end_ns + (uint64_t)(deadline_ms + 5000) * 1000000u) {
      fprintf(stderr,
              "cluster_load: jobs still in flight %" PRId64
              " ms past their deadline\n",
              deadline_ms + 5000);
      break;
    }
  }
  {
    iso_client_node nodes[MAX_URLS];
    int nn = iso_client_nodes(g.client, nodes, MAX_URLS);
    for (int i = 0; i < nn && i < MAX_URLS; i++) {
      printf("node %s up %d connected %d sent %" PRIu64 " lost %" PRIu64
             " retried %" PRIu64 "\n",
             nodes[i].url, nodes[i].up, nodes[i].connected, nodes[i].sent,
             nodes[i].lost, nodes[i].retried);
    }
  }
  iso_client_free(g.client);

  FILE* fo = fopen(out_path, "w");
  if (fo == NULL) {
    fprintf(stderr, "cluster_load: %s: %s\n", out_path, strerror(errno));
    return 3;
  }
  /* counts per outcome name, few distinct */
  struct {
    char name[32];
    size_t n;
  } counts[32];
  size_t ncounts = 0;
  int64_t first_lost_ms = -1;
  uint64_t f = atomic_load(&fault_ns);
  int64_t f_ms = f ? (int64_t)(f - g.t0_ns) / 1000000 : -1;
  for (size_t i = 0; i < g.nrecs; i++) {
    char buf[32];
    int o = atomic_load(&g.recs[i].outcome);
    const char* name = outcome_name(o, buf, sizeof buf);
    int node = atomic_load(&g.recs[i].node);
    unsigned done = atomic_load(&g.recs[i].done_ms);
    fprintf(fo, "%s-%zu %s %c %d %d %u\n", g.prefix, i, name,
            node ? '0' + node : '-', g.recs[i].idempotent,
            atomic_load(&g.recs[i].callbacks), done);
    if (strcmp(name, "ENODELOST") == 0 && f_ms >= 0 &&
        (first_lost_ms < 0 || (int64_t)done - f_ms < first_lost_ms)) {
      first_lost_ms = (int64_t)done - f_ms;
    }
    size_t c = 0;
    while (c < ncounts && strcmp(counts[c].name, name) != 0) {
      c++;
    }
    if (c == ncounts && ncounts < 32) {
      snprintf(counts[ncounts].name, sizeof counts[ncounts].name, "%s", name);
      counts[ncounts++].n = 0;
    }
    if (c < ncounts) {
      counts[c].n++;
    }
  }
  fclose(fo);

  size_t load_buckets = (size_t)(seconds * 1000 / BUCKET_MS);
  uint64_t done_in_load = 0;
  for (size_t b = 0; b < load_buckets && b < NBUCKETS; b++) {
    done_in_load += atomic_load(&g.buckets[b]);
  }
  printf("figures\n");
  printf("jobs %zu\n", g.nrecs);
  printf("rate %.0f\n", done_in_load / seconds);
  for (size_t c = 0; c < ncounts; c++) {
    printf("outcome_%s %zu\n", counts[c].name, counts[c].n);
  }
  printf("double_callbacks %d\n", atomic_load(&g.doubles));
  for (size_t i = 0; i < nurls; i++) {
    printf("outs_before_fault_%zu %d\n", i + 1, outs_before[i]);
  }
  if (f_ms >= 0) {
    size_t fb = (size_t)f_ms / BUCKET_MS; /* the bucket the fault is in */
    size_t from = fb > 20 ? fb - 20 : 0;
    if (from < 500 / BUCKET_MS) {
      from = 500 / BUCKET_MS; /* past the warm-up */
    }
    double pre = 0;
    for (size_t b = from; b < fb; b++) {
      pre += bucket_rate(b);
    }
    pre = fb > from ? pre / (double)(fb - from) : 0;
    /* back: the first bucket after the fault's from which two 100 ms
     * windows in a row each make >= 80% of the pre-fault mean */
    int64_t recover_ms = -1;
    double dip = -1;
    for (size_t b = fb + 1; b + 4 <= load_buckets; b++) {
      if (bucket_rate(b) + bucket_rate(b + 1) >= 1.6 * pre &&
          bucket_rate(b + 2) + bucket_rate(b + 3) >= 1.6 * pre) {
        recover_ms = (int64_t)(b * BUCKET_MS) - f_ms;
        break;
      }
    }
    for (size_t b = fb; b < fb + 20 && b < load_buckets; b++) {
      if (dip < 0 || bucket_rate(b) < dip) {
        dip = bucket_rate(b);
      }
    }
    printf("fault_ms %" PRId64 "\n", f_ms);
    printf("pre_rate %.0f\n", pre);
    printf("dip_rate %.0f\n", dip);
    printf("recover_ms %" PRId64 "\n", recover_ms);
    int64_t detect_ms = -1, back_ms = -1;
    for (size_t i = 0; i < nurls; i++) {
      printf("out_ms_%zu %" PRId64 "\n", i + 1, out_ms[i]);
      printf("in_ms_%zu %" PRId64 "\n", i + 1, in_ms[i]);
      if (out_ms[i] >= 0 && (detect_ms < 0 || out_ms[i] < detect_ms)) {
        detect_ms = out_ms[i];
      }
      if (in_ms[i] >= 0 && (back_ms < 0 || in_ms[i] < back_ms)) {
        back_ms = in_ms[i];
      }
    }
    printf("detect_ms %" PRId64 "\n", detect_ms);
    printf("back_ms %" PRId64 "\n", back_ms);
    printf("first_lost_ms %" PRId64 "\n", first_lost_ms);
    printf("timeline");
    for (size_t b = fb >= 10 ? fb - 10 : 0; b < fb + 30 && b < NBUCKETS; b++) {
      printf(" %+d:%.0f", (int)((int64_t)(b * BUCKET_MS) - f_ms),
             bucket_rate(b));
    }
    printf("\n");
  }
  free(g.recs);
  return 0;
}
