/* fetch_bench: many small fetches against a local HTTP server, in one run:
 * the transfers isopool's fetch runs on (ops/net.c's iso_net on a net
 * thread, as the front runs it) beside Deno's fetch (scripts/deno.sh) on
 * the same URL, the same count and the same concurrency.
 *
 *   fetch_bench [N [CONCURRENCY]]     (default 5000 requests, 32 at once)
 *
 * The transfers are asked for as fetch() asks (ops/fetch.c: sent at
 * start, a small body carried by the head).
 * The server is the fetch suites' (tests/support/http_server.h, NNG's HTTP
 * server, 127.0.0.1, GET /json: 23 bytes). Prints requests per second for
 * each: the bare transfers (the floor of everything above them), isopool's
 * fetch() from JavaScript (`isopool run --allow-net`: the prelude's fetch,
 * the op_fetch_* ops on libuv's threads, the same net on its thread), the
 * same loop as one job of `isopool serve` (its JavaScript in a sandboxed
 * pool process, the ops over the links to the front's net thread), and
 * Deno's fetch() running the same loop.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_server.h"
#include "iso_mp.h"
#include "iso_net.h"
#include "iso_ops.h"
#include "proc.h"

static iso_net* g_net;
static iso_perms* g_perms;
static char g_url[128];
static atomic_int g_quit;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_left; /* requests not started */
static int g_done; /* requests finished */
static int g_failed;

typedef struct slot {
  uint32_t rid;
  int state; /* 0 start, 1 send, 2 read */
} slot;

static void step(slot* s);

static void finish(slot* s, int ok) {
  pthread_mutex_lock(&g_mu);
  g_done++;
  g_failed += !ok;
  int more = g_left > 0;
  g_left -= more;
  pthread_cond_signal(&g_cv);
  pthread_mutex_unlock(&g_mu);
  if (more) {
    s->state = 0;
    step(s);
  }
}

/* Whether a head (a map) carries the whole body (iso_net_send). */
static int head_has_body(const uint8_t* p, size_t len) {
  iso_mp_rd r;
  iso_mp_obj o, k;
  iso_mp_rd_init(&r, p, len);
  if (iso_mp_read(&r, &o) != 0 || o.type != ISO_MP_MAP) {
    return 0;
  }
  for (uint32_t i = 0; i < o.len; i++) {
    int deep = 0;
    if (iso_mp_read(&r, &k) != 0) {
      return 0;
    }
    if (k.type == ISO_MP_STR && k.len == 4 && memcmp(k.data, "body", 4) == 0) {
      return 1;
    }
    if (iso_mp_skip(&r, 1, 64, &deep) != 0) {
      return 0;
    }
  }
  return 0;
}

static void done_cb(void* data, const iso_net_done* d) {
  slot* s = data;
  if (d->err != ISO_OPERR_NONE) {
    fprintf(stderr, "fetch_bench: %s\n", d->msg);
    finish(s, 0);
    return;
  }
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, d->value, d->len);
  iso_mp_read(&r, &o);
  if (s->state == 0) {
    s->rid = (uint32_t)o.v.u;
    s->state = 1;
    step(s);
  } else if (s->state == 1) {
    if (head_has_body(d->value, d->len)) {
      finish(s, 1); /* the transfer is done */
      return;
    }
    s->state = 2;
    step(s);
  } else if (o.type == ISO_MP_NIL) {
    finish(s, 1);
  } else {
    step(s);
  }
}

static void step(slot* s) {
  /* as fetch() asks: sent at start, a small body in the head */
  static const iso_net_req req = {.url = g_url, .send = 1};
  switch (s->state) {
    case 0:
      iso_net_start(g_net, 1, g_perms, &req, done_cb, s);
      break;
    case 1:
      iso_net_send(g_net, 1, s->rid, done_cb, s);
      break;
    default:
      iso_net_read(g_net, 1, s->rid, done_cb, s);
  }
}

static void* net_main(void* arg) {
  (void)arg;
  while (!atomic_load(&g_quit) && iso_net_run(g_net, -1)) {
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double bench_net(int n, int conc) {
  slot* slots = calloc((size_t)conc, sizeof *slots);
  g_left = n - conc;
  g_done = g_failed = 0;
  double t0 = now_s();
  for (int i = 0; i < conc; i++) {
    step(&slots[i]);
  }
  pthread_mutex_lock(&g_mu);
  while (g_done < n) {
    pthread_cond_wait(&g_cv, &g_mu);
  }
  pthread_mutex_unlock(&g_mu);
  double secs = now_s() - t0;
  free(slots);
  if (g_failed > 0) {
    fprintf(stderr, "fetch_bench: %d of %d failed\n", g_failed, n);
  }
  return n / secs;
}

static const char kDeno[] =
    "const [url, n, c] = [Deno.args[0], +Deno.args[1], +Deno.args[2]];\n"
    "let next = 0;\n"
    "async function one() {\n"
    "  while (next < n) { next++; const r = await fetch(url);\n"
    "    await r.arrayBuffer(); }\n"
    "}\n"
    "const t0 = performance.now();\n"
    "await Promise.all(Array.from({ length: c }, one));\n"
    "console.log(Math.round(n / ((performance.now() - t0) / 1000)));\n";

/* The same loop as a module for `isopool run`, whose default export is
 * called with the arguments and whose value is printed. */
static const char kIsopool[] =
    "export default async function (url, n, c) {\n"
    "  [n, c] = [+n, +c];\n"
    "  let next = 0;\n"
    "  async function one() {\n"
    "    while (next < n) { next++; const r = await fetch(url);\n"
    "      await r.arrayBuffer(); }\n"
    "  }\n"
    "  const t0 = performance.now();\n"
    "  await Promise.all(Array.from({ length: c }, one));\n"
    "  return Math.round(n / ((performance.now() - t0) / 1000));\n"
    "}\n";

/* Runs script with `bin run --allow-net=...` (plus `extra`, or NULL):
 * the requests per second it prints, or -1. */
static double bench_js(const char* bin,
                       const char* extra,
                       const char* script,
                       int n,
                       int conc,
                       int port) {
  char dir[] = "/tmp/fetch-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    return -1;
  }
  char file[256], allow[64], ns[16], cs[16];
  snprintf(file, sizeof file, "%s/main.js", dir);
  FILE* f = fopen(file, "w");
  if (f == NULL) {
    rmdir(dir);
    return -1;
  }
  fputs(script, f);
  fclose(f);
  snprintf(allow, sizeof allow, "--allow-net=127.0.0.1:%d", port);
  snprintf(ns, sizeof ns, "%d", n);
  snprintf(cs, sizeof cs, "%d", conc);
  const char* argv[9];
  int k = 0;
  argv[k++] = bin;
  argv[k++] = "run";
  if (extra != NULL) {
    argv[k++] = extra;
  }
  argv[k++] = allow;
  argv[k++] = file;
  argv[k++] = g_url;
  argv[k++] = ns;
  argv[k++] = cs;
  argv[k] = NULL;
  proc_result r;
  double rps = -1;
  if (proc_run(dir, argv, 300, &r) == 0) {
    if (r.status == 0) {
      rps = atof(r.out);
    } else {
      fprintf(stderr, "fetch_bench: %s: %s\n", bin, r.err);
    }
    proc_result_free(&r);
  }
  unlink(file);
  rmdir(dir);
  return rps;
}

/* The same loop as one call job of `isopool serve --allow-net` (one
 * worker, in a sandboxed pool process), sent with poolctl: -1 when it
 * fails. The first job (a tenth of n) warms the worker. */
static double bench_service(int n, int conc, int port) {
  char dir[] = "/tmp/fetch-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    return -1;
  }
  char file[256], sock[256], allow[64], ns[16], cs[16];
  snprintf(file, sizeof file, "%s/main.js", dir);
  snprintf(sock, sizeof sock, "ipc://%s/jobs.sock", dir);
  FILE* f = fopen(file, "w");
  if (f == NULL) {
    rmdir(dir);
    return -1;
  }
  fputs(kIsopool, f);
  fclose(f);
  snprintf(allow, sizeof allow, "--allow-net=127.0.0.1:%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    execl(ISOPOOL_BIN, ISOPOOL_BIN, "serve", "--listen", sock, "--admin",
          "none", "--modules", dir, "--workers", "1", allow, "--quiet",
          (char*)NULL);
    _exit(127);
  }
  double rps = -1;
  snprintf(cs, sizeof cs, "%d", conc);
  for (int round = 0; pid > 0 && round < 2; round++) {
    snprintf(ns, sizeof ns, "%d",
             round == 0 ? (n / 10 > conc ? n / 10 : conc) : n);
    const char* argv[] = {POOLCTL_BIN, "--url", sock, "call", "main.js",
                          g_url,       ns,      cs,   NULL};
    proc_result r;
    int ok = 0;
    /* the service may still be starting: poolctl waits 5 s to connect */
    for (int tries = 0; tries < 3 && !ok; tries++) {
      if (proc_run(dir, argv, 300, &r) != 0) {
        break;
      }
      ok = r.status == 0;
      if (ok) {
        rps = atof(r.out);
      } else if (tries == 2) {
        fprintf(stderr, "fetch_bench: poolctl: %s\n", r.err);
      }
      proc_result_free(&r);
    }
    if (!ok) {
      rps = -1;
      break;
    }
  }
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
  }
  unlink(file);
  char path[300];
  snprintf(path, sizeof path, "%s/jobs.sock", dir);
  unlink(path);
  rmdir(dir);
  return rps;
}

/* Deno's requests per second, or -1 when Deno is not there. */
static double bench_deno(int n, int conc, int port) {
  FILE* p = popen(ISO_SOURCE_DIR "/scripts/deno.sh 2>/dev/null", "r");
  char deno[1024] = "";
  if (p != NULL) {
    if (fgets(deno, sizeof deno, p) == NULL) {
      deno[0] = '\0';
    }
    pclose(p);
  }
  deno[strcspn(deno, "\n")] = '\0';
  if (deno[0] == '\0') {
    return -1;
  }
  return bench_js(deno, "--quiet", kDeno, n, conc, port);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  int conc = argc > 2 ? atoi(argv[2]) : 32;
  if (n < 1 || conc < 1 || conc > n) {
    fprintf(stderr, "usage: fetch_bench [N [CONCURRENCY <= N]]\n");
    return 2;
  }
  http_server* srv = http_server_start();
  if (srv == NULL) {
    return 1;
  }
  int port = http_server_port(srv);
  snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/json", port);
  char err[256] = "", grant[64];
  snprintf(grant, sizeof grant, "127.0.0.1:%d", port);
  iso_perm_flags pf = {.net = grant};
  if (iso_perms_parse_flags(&pf, &g_perms, err, sizeof err) != 0 ||
      iso_net_new(NULL, &g_net, err, sizeof err) != 0) {
    fprintf(stderr, "fetch_bench: %s\n", err);
    return 1;
  }
  pthread_t t;
  pthread_create(&t, NULL, net_main, NULL);
  printf("fetch_bench: %d GETs of %s (23 bytes), %d at once\n", n, g_url, conc);
  bench_net(conc, conc); /* warm: connections made */
  double net_rps = bench_net(n, conc);
  printf("  iso_net (isopool's fetch transfers, net thread): %8.0f req/s\n",
         net_rps);
  double js_rps = bench_js(ISOPOOL_BIN, NULL, kIsopool, n, conc, port);
  printf("  isopool fetch() from JavaScript (isopool run):   %8.0f req/s\n",
         js_rps);
  double svc_rps = bench_service(n, conc, port);
  printf("  isopool fetch() in a job (isopool serve):        %8.0f req/s\n",
         svc_rps);
  double deno_rps = bench_deno(n, conc, port);
  if (deno_rps < 0) {
    printf(
        "  Deno fetch():                                    %8s (no Deno: "
        "scripts/deno.sh)\n",
        "n/a");
  } else {
    printf("  Deno 2.9.6 fetch():                              %8.0f req/s\n",
           deno_rps);
    printf("  isopool run / Deno:                              %8.2f\n",
           js_rps / deno_rps);
    printf("  isopool serve job / Deno:                        %8.2f\n",
           svc_rps / deno_rps);
  }
  atomic_store(&g_quit, 1);
  iso_net_wakeup(g_net);
  pthread_join(t, NULL);
  iso_net_free(g_net);
  iso_perms_unref(g_perms);
  http_server_stop(srv);
  return 0;
}
