/* test_service_admin_dashboard.c: the live dashboard on the metrics server
 * (pool/dashboard.html at /, its JSON at /api/dashboard; pool/admin.c)
 * against the real daemon: the page is served whole and self-contained;
 * the JSON holds the admin plane's status, workers and stats replies,
 * whose numbers match the admin socket's after a known mix of jobs
 * (fulfilled, rejected, one timeout), and which many concurrent requests
 * all get whole; with the metrics at / the page moves to /dashboard; and
 * in a real browser (Debian's chromium, headless: skipped with a message
 * where it is missing) the page fills in the workers table, the state,
 * the totals and the timeout's error code, takes a screenshot (a PNG of
 * a plausible size, kept at build/dashboard.png), and says "service
 * unreachable" when its JSON cannot be fetched.
 *
 * Each case starts `isopool serve` with --metrics on a free loopback port
 * (support/service_admin.h), sends its jobs with the client library
 * (each tracked to exactly one reply) and reads the pages with http_get.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_json.h"
#include "iso_proto.h"
#include "iso_version.h"
#include "json_path.h"
#include "proc.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

/* The known mix: NCALL sleeps (fulfilled), one throw.js call (rejected),
 * one eval past its deadline (timeout). */
enum { NCALL = 12, I_THROW = NCALL, I_TIMEOUT = NCALL + 1, NJOBS };

static void run_mix(svc* s, tracker* t) {
  tracker_init(t, NJOBS);
  submit_sleeps(t, s->c, 0, NCALL, 2);
  iso_buf keep;
  tracker_submit_ok(t, s->c, I_THROW, call_job("throw.js", "[1]", &keep),
                    60000);
  iso_buf_close(&keep);
  tracker_submit_ok(
      t, s->c, I_TIMEOUT,
      (iso_job){
          .kind = ISO_JOB_EVAL, .source = "for (;;) {}", .timeout_ms = 100},
      60000);
  CHECK(tracker_wait(t, NJOBS, 30000));
  tracker_check_once(t);
  expect_own_numbers(t, 0, NCALL);
  expect_error(t, I_TIMEOUT, ISO_CODE_TIMEOUT);
  CHECK_EQ(t->r[I_THROW].status, ISO_STATUS_REJECTED);
}

/* GET /api/dashboard: 200, application/json, text that parses. The
 * caller frees it (NULL on failure). */
static char* dashboard_json(int port) {
  char *head, *body;
  int code = http_get(port, "/api/dashboard", &head, &body);
  CHECK_EQ(code, 200);
  char* json = NULL;
  if (code == 200) {
    CHECK(strcasestr(head, "content-type: application/json") != NULL);
    CHECK(strcasestr(head, "cache-control: no-store") != NULL);
    iso_buf mp;
    iso_buf_init(&mp);
    int rc = iso_json_to_msgpack(body, strlen(body), &mp);
    CHECK_EQ(rc, 0);
    iso_buf_close(&mp);
    if (rc == 0) {
      json = body;
      body = NULL;
    }
  }
  free(head);
  free(body);
  return json;
}

/* / is the page: text/html, whole, with nothing fetched from elsewhere;
 * /api/dashboard's numbers are the admin socket's. */
static void t_page_and_json(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  char *head, *body;
  int code = http_get(s.metrics_port, "/", &head, &body);
  CHECK_EQ(code, 200);
  if (code == 200) {
    CHECK(strcasestr(head, "content-type: text/html") != NULL);
    CHECK(strncmp(body, "<!DOCTYPE html>", 15) == 0);
    CHECK_CONTAINS(body, "<tbody id=\"workers\">");
    CHECK_CONTAINS(body, "fetch(\"api/dashboard\"");
    CHECK_CONTAINS(body, "</html>\n");
    /* self-contained: no script, style or image from elsewhere */
    CHECK(strstr(body, "src=") == NULL);
    CHECK(strstr(body, "<link") == NULL);
    CHECK(strstr(body, "http://") == NULL);
    CHECK(strstr(body, "https://") == NULL);
    CHECK(strstr(body, "innerHTML") == NULL);
  }
  free(head);
  free(body);

  tracker t;
  run_mix(&s, &t);
  /* the numbers: as the admin socket's replies say */
  char* st = admin(&s, ISO_ADMIN_STATUS);
  char* ws = admin(&s, ISO_ADMIN_WORKERS);
  char* d = dashboard_json(s.metrics_port);
  if (d != NULL) {
    CHECK(js_at(d, "status.ok") != NULL &&
          strncmp(js_at(d, "status.ok"), "true", 4) == 0);
    CHECK(js_is(d, "status.state", "running"));
    CHECK(js_is(d, "status.version", ISO_VERSION));
    double accepted = js_num(st, "totals.accepted");
    CHECK(accepted >= NJOBS);
    CHECK_EQ(js_num(d, "status.totals.accepted"), accepted);
    CHECK_EQ(js_num(d, "status.totals.fulfilled"),
             js_num(st, "totals.fulfilled"));
    CHECK_EQ(js_num(d, "status.totals.rejected"), 1);
    CHECK_EQ(js_num(d, "status.totals.errors.timeout"), 1);
    CHECK_EQ(js_num(d, "status.workers.configured"), 2);
    CHECK_EQ(js_num(d, "status.workers.alive"), 2);
    CHECK(js_num(d, "status.uptime_ms") >= js_num(st, "uptime_ms"));
    /* nothing the metrics do not show: no addresses */
    CHECK_EQ(js_len(d, "status.listen"), 0);
    CHECK(js_at(d, "status.admin") != NULL &&
          strncmp(js_at(d, "status.admin"), "null", 4) == 0);
    CHECK(js_at(d, "status.kv") != NULL &&
          strncmp(js_at(d, "status.kv"), "null", 4) == 0);
    CHECK(js_is(d, "status.metrics", s.metrics_url));
    CHECK(strstr(d, s.admin_url) == NULL);
    CHECK(strstr(d, s.url) == NULL);
    /* workers: the same two, every job answered by one of them */
    CHECK_EQ(js_len(d, "workers.workers"), 2);
    CHECK_EQ(js_len(ws, "workers"), 2);
    double done = 0;
    for (int i = 0; i < 2; i++) {
      char p[64], q[64];
      snprintf(p, sizeof p, "workers.workers.%d.id", i);
      snprintf(q, sizeof q, "workers.%d.id", i);
      CHECK_EQ(js_num(d, p), js_num(ws, q));
      snprintf(p, sizeof p, "workers.workers.%d.state", i);
      CHECK(js_is(d, p, "running"));
      snprintf(p, sizeof p, "workers.workers.%d.done", i);
      done += js_num(d, p);
      snprintf(p, sizeof p, "workers.workers.%d.heap_limit", i);
      CHECK(js_num(d, p) > 0);
    }
    CHECK_EQ(done, accepted);
    CHECK(strstr(d, "refused 1") != NULL); /* throw.js's, a last error */
    /* stats: every answered job in the histograms */
    CHECK_EQ(js_num(d, "stats.kinds.all.total.count"), accepted);
    CHECK_EQ(js_num(d, "stats.kinds.call.total.count"), NCALL + 1);
    CHECK(js_num(d, "stats.kinds.all.total.p99") > 0);
    CHECK(js_len(d, "stats.kinds.all.total.buckets") > 0);
  }
  free(d);
  free(st);
  free(ws);
  svc_stop(&s);
  tracker_free(&t);
}

/* Many concurrent requests, while jobs run: each gets the whole JSON. */
typedef struct getter {
  int port, n, ok;
} getter;

static void* get_many(void* arg) {
  getter* g = arg;
  for (int i = 0; i < g->n; i++) {
    char *head, *body;
    if (http_get(g->port, "/api/dashboard", &head, &body) == 200 &&
        js_num(body, "workers.workers.0.id") >= 0 &&
        js_num(body, "stats.kinds.all.total.count") >= 0) {
      g->ok++;
    }
    free(head);
    free(body);
  }
  return NULL;
}

static void t_concurrent(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  enum { NTHREADS = 6, NGET = 15, NLOAD = 60 };
  tracker t;
  tracker_init(&t, NLOAD);
  submit_sleeps(&t, s.c, 0, NLOAD, 5);
  pthread_t th[NTHREADS];
  getter g[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    g[i] = (getter){.port = s.metrics_port, .n = NGET};
    CHECK_EQ(pthread_create(&th[i], NULL, get_many, &g[i]), 0);
  }
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ(g[i].ok, NGET);
  }
  CHECK(tracker_wait(&t, NLOAD, 30000));
  tracker_check_once(&t);
  expect_own_numbers(&t, 0, NLOAD);
  svc_stop(&s);
  tracker_free(&t);
}

/* --metrics http://HOST:PORT (no path): the metrics keep /, the page is
 * at /dashboard. */
static void t_metrics_at_root(void) {
  int port = free_port();
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  const char* extra[] = {"--metrics", url, NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.extra = extra}) != 0) {
    svc_stop(&s);
    return;
  }
  char *head, *body;
  CHECK_EQ(http_get(port, "/", &head, &body), 200);
  CHECK_CONTAINS(body, "\nisopool_workers_alive 2\n");
  free(head);
  free(body);
  CHECK_EQ(http_get(port, "/dashboard", &head, &body), 200);
  CHECK(strcasestr(head, "content-type: text/html") != NULL);
  CHECK_CONTAINS(body, "<tbody id=\"workers\">");
  free(head);
  free(body);
  char* d = dashboard_json(port);
  CHECK(d != NULL && js_is(d, "status.state", "running"));
  free(d);
  svc_stop(&s);
}

/* ---- in a real browser ---- */

static const char* chromium_path(void) {
  static const char* const kPaths[] = {"/usr/bin/chromium",
                                       "/usr/bin/chromium-browser"};
  for (size_t i = 0; i < sizeof kPaths / sizeof kPaths[0]; i++) {
    if (access(kPaths[i], X_OK) == 0) {
      return kPaths[i];
    }
  }
  return NULL;
}

/* Runs headless chromium on url with one more flag (--dump-dom or
 * --screenshot=...), its own profile, 3 s of virtual time (three polls).
 * Returns 0 and fills r, or -1 (the case is failed). */
static int chromium(const char* url, const char* flag, proc_result* r) {
  char profile[] = "/tmp/isopool-chromium-XXXXXX";
  CHECK(mkdtemp(profile) != NULL);
  char dir_flag[64];
  snprintf(dir_flag, sizeof dir_flag, "--user-data-dir=%s", profile);
  const char* argv[] = {chromium_path(),
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--no-first-run",
                        "--hide-scrollbars",
                        dir_flag,
                        "--window-size=1280,900",
                        "--virtual-time-budget=3000",
                        flag,
                        url,
                        NULL};
  int rc = proc_run(NULL, argv, (int)(90 * iso_test_scale()), r);
  CHECK_EQ(rc, 0);
  char rm[96];
  snprintf(rm, sizeof rm, "rm -rf %s", profile);
  CHECK_EQ(system(rm), 0);
  if (rc == 0 && r->status != 0) {
    fprintf(stderr, "  chromium exited %d (signal %d):\n%s\n", r->status,
            r->signal, r->err);
    CHECK_EQ(r->status, 0);
  }
  return rc == 0 && r->status == 0 ? 0 : -1;
}

/* How many times needle occurs in s. */
static int count_of(const char* s, const char* needle) {
  int n = 0;
  for (const char* p = strstr(s, needle); p != NULL;
       p = strstr(p + 1, needle)) {
    n++;
  }
  return n;
}

/* The text of the element with id (its first text node), in dumped DOM;
 * "" when there is none. Copied into buf. */
static const char* text_of(const char* dom,
                           const char* id,
                           char* buf,
                           size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "id=\"%s\">", id);
  const char* p = strstr(dom, key);
  buf[0] = '\0';
  if (p != NULL) {
    p += strlen(key);
    size_t n = strcspn(p, "<");
    snprintf(buf, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), p);
  }
  return buf;
}

static void t_browser(void) {
  if (chromium_path() == NULL) {
    fprintf(stderr,
            "    chromium is not installed (scripts/deps.sh installs it): "
            "the browser case is not run\n");
    return;
  }
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  run_mix(&s, &t);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.metrics_port);
  proc_result r;
  if (chromium(url, "--dump-dom", &r) == 0) {
    const char* dom = r.out;
    char buf[128];
    CHECK_STR(text_of(dom, "state", buf, sizeof buf), "running");
    CHECK_STR(text_of(dom, "version", buf, sizeof buf), ISO_VERSION);
    CHECK_STR(text_of(dom, "workers-alive", buf, sizeof buf), "2 / 2");
    /* one row per worker, each running */
    CHECK_EQ(count_of(dom, "<tr class=\"worker\">"), 2);
    CHECK_EQ(count_of(dom, "<td><span class=\"pill running\">running</span>"),
             2);
    /* the totals: at least the mix (the start-up ping too) */
    double accepted = js_num(st, "totals.accepted");
    char want[32];
    snprintf(want, sizeof want, "%.0f", accepted);
    CHECK_STR(text_of(dom, "accepted", buf, sizeof buf), want);
    CHECK_STR(text_of(dom, "rejected", buf, sizeof buf), "1");
    CHECK_STR(text_of(dom, "errors-total", buf, sizeof buf), "1");
    /* the timeout's code in the errors table, throw.js's message among
     * the workers' last errors */
    CHECK_CONTAINS(dom,
                   "<tr class=\"error\"><td class=\"err\">timeout</td>"
                   "<td class=\"num\">1</td></tr>");
    CHECK(count_of(dom, "<tr class=\"last-error\">") >= 1);
    CHECK_CONTAINS(dom, "refused 1");
    /* latency rows per kind, a histogram, reachable */
    CHECK_EQ(count_of(dom, "<tr class=\"kind\">"), 3);
    CHECK(count_of(dom, "class=\"col\"") >= 1);
    CHECK(strstr(dom, "<body class=\"down\"") == NULL);
    CHECK(strcmp(text_of(dom, "updated", buf, sizeof buf), "never") != 0);
    if (iso_test_failed) {
      fprintf(stderr, "  DOM:\n%s\n", dom);
    }
  }
  proc_result_free(&r);

  /* a screenshot: a PNG of a plausible size */
  const char* png = ISO_BIN_DIR "/../dashboard.png";
  unlink(png);
  char flag[600];
  snprintf(flag, sizeof flag, "--screenshot=%s", png);
  if (chromium(url, flag, &r) == 0) {
    FILE* f = fopen(png, "rb");
    CHECK(f != NULL);
    if (f != NULL) {
      unsigned char sig[8] = {0};
      CHECK_EQ(fread(sig, 1, 8, f), 8);
      CHECK(memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0);
      fseek(f, 0, SEEK_END);
      long size = ftell(f);
      fclose(f);
      CHECK(size > 20000 && size < 5000000);
      fprintf(stderr, "    screenshot: %s (%ld bytes)\n", png, size);
    }
  }
  proc_result_free(&r);
  free(st);
  svc_stop(&s);
  tracker_free(&t);
}

/* The page where its JSON cannot be fetched (a copy opened as a file):
 * it says so, with since when, rather than showing numbers. */
static void t_browser_unreachable(void) {
  if (chromium_path() == NULL) {
    fprintf(stderr,
            "    chromium is not installed (scripts/deps.sh installs it): "
            "the browser case is not run\n");
    return;
  }
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  char *head, *body;
  CHECK_EQ(http_get(s.metrics_port, "/", &head, &body), 200);
  svc_stop(&s);
  char path[] = "/tmp/isopool-dashboard-XXXXXX.html";
  int fd = mkstemps(path, 5);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK_EQ(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "file://%s", path);
    proc_result r;
    if (chromium(url, "--dump-dom", &r) == 0) {
      char buf[128];
      CHECK(strstr(r.out, "<body class=\"down\"") != NULL);
      CHECK_CONTAINS(r.out,
                     "service unreachable since <span id=\"down-since\">");
      CHECK(strlen(text_of(r.out, "down-since", buf, sizeof buf)) > 0);
      CHECK(strlen(text_of(r.out, "down-why", buf, sizeof buf)) > 0);
      CHECK_STR(text_of(r.out, "down-last", buf, sizeof buf), "none");
      CHECK_STR(text_of(r.out, "updated", buf, sizeof buf), "never");
      CHECK_STR(text_of(r.out, "state", buf, sizeof buf), "unreachable");
      CHECK_EQ(count_of(r.out, "<tr class=\"worker\">"), 0);
      if (iso_test_failed) {
        fprintf(stderr, "  DOM:\n%s\n", r.out);
      }
    }
    proc_result_free(&r);
    unlink(path);
  }
  free(head);
  free(body);
}

static const iso_test cases[] = {
    {"page_and_json", t_page_and_json},
    {"concurrent", t_concurrent},
    {"metrics_at_root", t_metrics_at_root},
    {"browser", t_browser, .timeout_s = 240},
    {"browser_unreachable", t_browser_unreachable, .timeout_s = 240},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
