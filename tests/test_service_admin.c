/* test_service_admin.c: the admin plane against the real daemon, under
 * load (docs/protocol.md, "The admin protocol"; pool/admin.c): the
 * commands that read, status, workers, jobs and stats, their shapes and
 * values after a known mix of jobs; and --metrics, the Prometheus text
 * over HTTP. The other commands have suites of their own:
 * test_service_admin_cancel.c (cancel, and a client gone),
 * test_service_admin_workers.c (resize, recycle, reload),
 * test_service_admin_shutdown.c (drain, shutdown) and
 * test_service_admin_access.c (tokens, the socket, log lines).
 *
 * Each case starts `isopool serve` with its admin socket
 * (support/service_admin.h: fixtures/admin unless the case writes its own
 * module root), loads it with call jobs tracked per request id (exactly
 * one reply each, with the right value), sends its commands through the
 * built poolctl (human output within 80 columns, and --json) and as raw
 * admin requests, and reads the replies as JSON text (json_path.h). Every
 * case ends with the daemon gone: SIGTERM and exit 0, or the exit 0 of a
 * drain or shutdown; its stderr (a log file) is printed when the case
 * failed.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_proto.h"
#include "json_check.h"
#include "json_path.h"
#include "prom_check.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

enum { LONG_ID = 9001 };

/* status, workers, jobs, stats: shapes and values after a known mix. */
/* A count in status (absent: none yet). */
static double count_at(const char* json, const char* path) {
  double n = js_num(json, path);
  return isnan(n) ? 0 : n;
}

static void t_status_workers_jobs_stats(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){0}) != 0) {
    svc_stop(&s);
    return;
  }
  /* before: the start-up ping(s), all answered (one may still be in
   * flight on a loaded machine: waited for) */
  char* st0 = pc_json(&s, "status", NULL);
  for (int64_t end = now_ms() + 10000;
       st0 != NULL && count_at(st0, "inflight") + count_at(st0, "queue") > 0 &&
       now_ms() < end;) {
    free(st0);
    sleep_ms(20);
    st0 = pc_json(&s, "status", NULL);
  }
  char* wk0 = admin(&s, ISO_ADMIN_WORKERS);
  char* ss0 = admin(&s, ISO_ADMIN_STATS);
  double acc0 = js_num(st0, "totals.accepted");
  double ful0 = js_num(st0, "totals.fulfilled");
  double rej0 = js_num(st0, "totals.rejected");
  double err0 = js_sum(st0, "totals.errors");
  CHECK(acc0 >= 1);
  CHECK_EQ(ful0 + rej0 + err0, acc0);

  /* a long job, seen by `jobs` with its client id and a growing age */
  enum { NFUL = 24, NREJ = 6, NTIME = 3, NBAD = 4, NEVAL = 3, NEVREJ = 2 };
  enum { N = 1 + NFUL + NREJ + NTIME + NBAD + NEVAL + NEVREJ };
  tracker t;
  tracker_init(&t, LONG_ID + 1);
  iso_buf keep;
  uint8_t long_id[5];
  id_encode(LONG_ID, long_id);
  /* long enough for three poolctl runs under ThreadSanitizer */
  tracker_submit_ok(&t, s.c, LONG_ID,
                    call_job("sleep.js", "[5000,\"long\"]", &keep), 60000);
  iso_buf_close(&keep);
  char* jobs = NULL;
  int64_t end = now_ms() + 5000;
  do {
    free(jobs);
    jobs = pc_json(&s, "jobs", NULL);
  } while (js_len(jobs, "jobs") < 1 && now_ms() < end && (sleep_ms(5), 1));
  CHECK_EQ(js_len(jobs, "jobs"), 1);
  CHECK_EQ(js_num(jobs, "jobs.0.client_id"), LONG_ID);
  CHECK(js_is(jobs, "jobs.0.kind", "call"));
  CHECK(js_is(jobs, "jobs.0.module", "sleep.js"));
  double w = js_num(jobs, "jobs.0.worker");
  CHECK(w == 0 || w == 1);
  double age1 = js_num(jobs, "jobs.0.age_ms"), sid = js_num(jobs, "jobs.0.id");
  CHECK(age1 >= 0 && sid >= 1);
  sleep_ms(200);
  free(jobs);
  jobs = admin(&s, ISO_ADMIN_JOBS);
  CHECK_EQ(js_num(jobs, "jobs.0.id"), sid);
  CHECK(js_num(jobs, "jobs.0.age_ms") >= age1 + 150);
  char* out = pc_human(&s, "jobs", NULL);
  CHECK_CONTAINS(out, "sleep.js");
  CHECK_CONTAINS(out, "1 job, 0 queued");
  free(out);
  free(jobs);

  /* the mix: ids 0.. */
  iso_buf perms = mp_of("{\"read\":[\"x\"]}");
  int i = 0;
  for (int k = 0; k < NFUL; k++, i++) {
    char args[32];
    snprintf(args, sizeof args, "[5,%d]", i);
    tracker_submit_ok(&t, s.c, i, call_job("sleep.js", args, &keep), 60000);
    iso_buf_close(&keep);
  }
  for (int k = 0; k < NREJ; k++, i++) {
    tracker_submit_ok(&t, s.c, i, call_job("throw.js", "[\"x\"]", &keep),
                      60000);
    iso_buf_close(&keep);
  }
  for (int k = 0; k < NTIME; k++, i++) {
    iso_job j = call_job("sleep.js", "[3000,0]", &keep);
    j.timeout_ms = 100;
    tracker_submit_ok(&t, s.c, i, j, 60000);
    iso_buf_close(&keep);
  }
  for (int k = 0; k < NBAD; k++, i++) { /* asks for more than granted */
    iso_job j = call_job("sleep.js", "[1,1]", &keep);
    j.permissions = perms.data;
    j.permissions_len = perms.len;
    tracker_submit_ok(&t, s.c, i, j, 60000);
    iso_buf_close(&keep);
  }
  for (int k = 0; k < NEVAL; k++, i++) {
    tracker_submit_ok(
        &t, s.c, i,
        (iso_job){.kind = ISO_JOB_EVAL, .source = "export default 7;"}, 60000);
  }
  for (int k = 0; k < NEVREJ; k++, i++) {
    tracker_submit_ok(
        &t, s.c, i,
        (iso_job){.kind = ISO_JOB_EVAL, .source = "throw new Error('no');"},
        60000);
  }
  iso_buf_close(&perms);
  CHECK(tracker_wait(&t, N, 30000));
  tracker_check_once(&t);
  expect_fulfilled(&t, LONG_ID, "\"long\"");
  i = 0;
  int ran_on[2] = {0, 0}, ran = 1;
  if (t.r[LONG_ID].worker >= 0 && t.r[LONG_ID].worker < 2) {
    ran_on[t.r[LONG_ID].worker]++;
  }
  for (int k = 0; k < N - 1; k++, i++) {
    if (k < NFUL) {
      char want[16];
      snprintf(want, sizeof want, "%d", i);
      expect_fulfilled(&t, i, want);
    } else if (k < NFUL + NREJ) {
      CHECK_EQ(t.r[i].status, ISO_STATUS_REJECTED);
    } else if (k < NFUL + NREJ + NTIME) {
      expect_error(&t, i, ISO_CODE_TIMEOUT);
    } else if (k < NFUL + NREJ + NTIME + NBAD) {
      expect_error(&t, i, ISO_CODE_BAD_REQUEST);
      continue; /* never ran */
    } else if (k < NFUL + NREJ + NTIME + NBAD + NEVAL) {
      expect_fulfilled(&t, i, "7");
    } else {
      CHECK_EQ(t.r[i].status, ISO_STATUS_REJECTED);
    }
    ran++;
    if (t.r[i].worker >= 0 && t.r[i].worker < 2) {
      ran_on[t.r[i].worker]++;
    } else {
      fprintf(stderr, "  id %d: reply names worker %lld\n", i,
              (long long)t.r[i].worker);
    }
  }

  /* status: the totals add up exactly */
  char* st = pc_json(&s, "status", NULL);
  CHECK_EQ(js_num(st, "totals.accepted") - acc0, N);
  CHECK_EQ(js_num(st, "totals.fulfilled") - ful0, 1 + NFUL + NEVAL);
  CHECK_EQ(js_num(st, "totals.rejected") - rej0, NREJ + NEVREJ);
  CHECK_EQ(js_sum(st, "totals.errors") - err0, NTIME + NBAD);
  /* by code, from the start too: a start-up ping that waited past its
   * 500 ms (daemon_start; a loaded machine, a pool process still starting)
   * was answered timeout before st0 */
  CHECK_EQ(count_at(st, "totals.errors.timeout") -
               count_at(st0, "totals.errors.timeout"),
           NTIME);
  CHECK_EQ(count_at(st, "totals.errors.bad_request") -
               count_at(st0, "totals.errors.bad_request"),
           NBAD);
  CHECK_EQ(js_num(st, "totals.fulfilled") + js_num(st, "totals.rejected") +
               js_sum(st, "totals.errors"),
           js_num(st, "totals.accepted"));
  CHECK(js_is(st, "state", "running"));
  CHECK_EQ(js_num(st, "workers.configured"), 2);
  CHECK_EQ(js_num(st, "workers.alive"), 2);
  CHECK_EQ(js_num(st, "queue"), 0);
  CHECK_EQ(js_num(st, "inflight"), 0);
  CHECK(js_num(st, "uptime_ms") >= 1500);
  CHECK(js_is(st, "listen.0", s.url));
  CHECK(js_is(st, "admin", s.admin_url));
  CHECK(strncmp(js_at(st, "metrics"), "null", 4) == 0);
  CHECK(strncmp(js_at(st, "kv"), "null", 4) == 0); /* in memory */
  /* the default: one pool process of the 2 workers, and a spare (which
   * may still be starting) */
  CHECK_EQ(js_num(st, "processes.active"), 1);
  CHECK_EQ(js_num(st, "processes.spare") + js_num(st, "processes.starting"), 1);
  CHECK_EQ(js_num(st, "processes.restarts"), 0);
  CHECK_EQ(js_num(st, "processes.jobs_lost"), 0);
  CHECK(strncmp(js_at(st, "processes.last_death"), "null", 4) == 0);
  /* rates: numbers; the answers' seconds are over, so some are > 0 */
  CHECK(js_num(st, "rate.1s") >= 0);
  CHECK(js_num(st, "rate.10s") > 0);
  CHECK(js_num(st, "rate.60s") > 0);
  CHECK(js_num(st, "rate.10s") <= N + acc0);
  if (iso_test_failed) {
    fprintf(stderr, "  status before: %s\n  status: %s\n", st0, st);
  }

  /* workers: both, `done` adds up to the jobs they ran */
  char* wk = pc_json(&s, "workers", NULL);
  CHECK_EQ(js_len(wk, "workers"), 2);
  double done = 0;
  for (int k = 0; k < 2; k++) {
    char p[64], q[64];
    snprintf(p, sizeof p, "workers.%d.id", k);
    CHECK_EQ(js_num(wk, p), k);
    snprintf(p, sizeof p, "workers.%d.state", k);
    CHECK(js_is(wk, p, "running"));
    snprintf(p, sizeof p, "workers.%d.inflight", k);
    CHECK_EQ(js_num(wk, p), 0);
    snprintf(p, sizeof p, "workers.%d.done", k);
    double d = js_num(wk, p) - js_num(wk0, p);
    CHECK_EQ(d, ran_on[k]);
    done += d;
    snprintf(p, sizeof p, "workers.%d.heap_used", k);
    snprintf(q, sizeof q, "workers.%d.heap_limit", k);
    CHECK(js_num(wk, p) > 0 && js_num(wk, p) < js_num(wk, q));
    snprintf(p, sizeof p, "workers.%d.warm_modules", k);
    CHECK(js_num(wk, p) >= 0);
    snprintf(p, sizeof p, "workers.%d.last_error", k);
    CHECK(js_at(wk, p) != NULL);
  }
  CHECK_EQ(done, ran);
  if (iso_test_failed) {
    fprintf(stderr, "  workers: %s\n  ran on 0: %d, on 1: %d\n", wk, ran_on[0],
            ran_on[1]);
  }

  /* stats: the histograms count what was answered, per kind */
  char* ss = pc_json(&s, "stats", NULL);
  static const struct {
    const char* kind;
    int total, ran;
  } kinds[] = {
      {"call", 1 + NFUL + NREJ + NTIME + NBAD, 1 + NFUL + NREJ + NTIME},
      {"eval", NEVAL + NEVREJ, NEVAL + NEVREJ},
      {"all", N, N - NBAD},
  };
  for (size_t k = 0; k < 3; k++) {
    static const char* const parts[] = {"total", "run", "queue"};
    for (int h = 0; h < 3; h++) {
      char p[96];
      snprintf(p, sizeof p, "kinds.%s.%s.count", kinds[k].kind, parts[h]);
      double want = h == 0 ? kinds[k].total : kinds[k].ran;
      int failed = iso_test_failed;
      CHECK_EQ(js_num(ss, p) - js_num(ss0, p), want);
      /* the buckets hold every count; the last bound is nil (inf) */
      snprintf(p, sizeof p, "kinds.%s.%s.buckets", kinds[k].kind, parts[h]);
      int nb = js_len(ss, p);
      double in_buckets = 0;
      for (int b = 0; b < nb; b++) {
        char q[128];
        snprintf(q, sizeof q, "%s.%d.1", p, b);
        in_buckets += js_num(ss, q);
      }
      snprintf(p, sizeof p, "kinds.%s.%s.count", kinds[k].kind, parts[h]);
      CHECK_EQ(in_buckets, js_num(ss, p));
      snprintf(p, sizeof p, "kinds.%s.%s", kinds[k].kind, parts[h]);
      const char* hist = js_at(ss, p);
      CHECK(js_num(hist, "p50") <= js_num(hist, "p90"));
      CHECK(js_num(hist, "p90") <= js_num(hist, "p99"));
      CHECK(js_num(hist, "p99") <= js_num(hist, "p999"));
      CHECK(js_num(hist, "p999") <= js_num(hist, "max"));
      CHECK(js_num(hist, "sum") >= js_num(hist, "max"));
      if (iso_test_failed && !failed) {
        fprintf(stderr, "  stats %s.%s\n", kinds[k].kind, parts[h]);
      }
    }
  }
  /* the timeouts ran 100 ms: the call run histogram saw them */
  CHECK(js_num(ss, "kinds.call.run.max") >= 100000);

  /* the human forms fit 80 columns */
  out = pc_human(&s, "status", NULL);
  char line[64];
  snprintf(line, sizeof line, "accepted    %d\n",
           (int)js_num(st, "totals.accepted"));
  CHECK_CONTAINS(out, line);
  CHECK_CONTAINS(out, "workers     2/2 alive\n");
  free(out);
  out = pc_human(&s, "workers", NULL);
  CHECK_CONTAINS(out, "  0 running ");
  CHECK_CONTAINS(out, "  1 running ");
  free(out);
  out = pc_human(&s, "stats", NULL);
  CHECK_CONTAINS(out, "call         COUNT");
  free(out);
  out = pc_human(&s, "jobs", NULL);
  CHECK_STR(out, "no jobs in flight or queued\n");
  free(out);
  free(ss);
  free(ss0);
  free(wk);
  free(wk0);
  free(st);
  free(st0);
  svc_stop(&s); /* its client's callbacks end before the tracker */
  tracker_free(&t);
}

/* --metrics: the text after load passes the strict validator (and
 * promtool, when installed) and its counters match what was sent. */
static void t_metrics(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  CHECK(js_is(st, "metrics", s.metrics_url));
  free(st);
  enum { NCALL = 30, NEVAL = 5, NREJ = 3, N = NCALL + NEVAL + NREJ };
  tracker t;
  tracker_init(&t, N);
  submit_sleeps(&t, s.c, 0, NCALL, 2);
  for (int i = NCALL; i < NCALL + NEVAL; i++) {
    tracker_submit_ok(
        &t, s.c, i,
        (iso_job){.kind = ISO_JOB_EVAL, .source = "export default 1;"}, 60000);
  }
  for (int i = NCALL + NEVAL; i < N; i++) {
    iso_buf keep;
    tracker_submit_ok(&t, s.c, i, call_job("throw.js", "[1]", &keep), 60000);
    iso_buf_close(&keep);
  }
  CHECK(tracker_wait(&t, N, 30000));
  tracker_check_once(&t);
  expect_own_numbers(&t, 0, NCALL);

  char *head, *body;
  int code = http_get(s.metrics_port, "/metrics", &head, &body);
  CHECK_EQ(code, 200);
  if (code == 200) {
    CHECK(strcasestr(head, "content-type: text/plain") != NULL);
    char err[256] = "";
    int rc = prom_validate(body, strlen(body), err, sizeof err);
    if (rc != 0) {
      fprintf(stderr, "  /metrics refused: %s\n", err);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(prom_sum(body, "isopool_jobs_accepted_total"), acc0 + N);
    CHECK_EQ(prom_sum(body, "isopool_jobs_answered_total"), acc0 + N);
    CHECK_CONTAINS(body, "isopool_jobs_accepted_total{kind=\"call\"} 33\n");
    CHECK_CONTAINS(body,
                   "isopool_jobs_answered_total{kind=\"call\",outcome="
                   "\"rejected\"} 3\n");
    CHECK_CONTAINS(body, "\nisopool_workers_alive 2\n");
    CHECK_CONTAINS(body, "\nisopool_workers_configured 2\n");
    CHECK_CONTAINS(body, "\nisopool_jobs_inflight 0\n");
    CHECK_CONTAINS(body, "\nisopool_processes{state=\"active\"} 1\n");
    CHECK_CONTAINS(body, "\nisopool_process_restarts_total 0\n");
    CHECK_CONTAINS(body, "\nisopool_jobs_lost_total 0\n");
    CHECK_EQ(prom_sum(body, "isopool_job_duration_seconds_count"), acc0 + N);
    /* per worker: every job answered by one of the two */
    CHECK_EQ(prom_sum(body, "isopool_worker_jobs_answered_total"), acc0 + N);
    CHECK_EQ(prom_sum(body, "isopool_worker_jobs_inflight"), 0);
    CHECK_EQ(prom_sum(body, "isopool_worker_state"), 2);
    CHECK(strstr(body, "isopool_worker_state{worker=\"") != NULL);
    CHECK(strstr(body, ",state=\"running\"} 1\n") != NULL);
    CHECK_EQ(prom_sum(body, "isopool_worker_recycles_by_worker_total"), 0);
    /* the front process's own, as Prometheus's process collector names */
    CHECK(prom_sum(body, "process_resident_memory_bytes") > 1e6);
    CHECK(prom_sum(body, "process_open_fds") > 3);
    CHECK(prom_sum(body, "process_cpu_seconds_total") > 0);
    double started = prom_sum(body, "process_start_time_seconds");
    CHECK(started > (double)time(NULL) - 600 && started <= time(NULL) + 1);
    st = admin(&s, ISO_ADMIN_STATUS);
    CHECK_EQ(js_num(st, "totals.accepted"), acc0 + N);
    free(st);
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
      fprintf(stderr, "    promtool is not installed: not run\n");
    } else {
      char path[] = "/tmp/isopool-adm-metrics-XXXXXX";
      int fd = mkstemp(path);
      CHECK(fd >= 0);
      FILE* f = fdopen(fd, "w");
      fputs(body, f);
      fclose(f);
      char cmd[128];
      snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
      CHECK_EQ(system(cmd), 0);
      unlink(path);
    }
    if (iso_test_failed) {
      fprintf(stderr, "  head:\n%s\n", head);
    }
  }
  free(head);
  free(body);
  /* another path: not found */
  code = http_get(s.metrics_port, "/nope", &head, &body);
  CHECK_EQ(code, 404);
  free(head);
  free(body);
  /* every worker's isolate replaced: each worker's count is 1 */
  iso_admin_req q = areq(ISO_ADMIN_RECYCLE);
  q.all = 1;
  free(admin_req(&s, q));
  double recycled = 0;
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  while (recycled < 2 && now_ms() < end) {
    if (http_get(s.metrics_port, "/metrics", &head, &body) == 200) {
      recycled = prom_sum(body, "isopool_worker_recycles_by_worker_total");
    }
    free(head);
    free(body);
    sleep_ms(50);
  }
  CHECK_EQ(recycled, 2);
  svc_stop(&s); /* its client's callbacks end before the tracker */
  tracker_free(&t);
}

/* The health checks beside --metrics: /healthz 200 while the front
 * routes jobs, /readyz 200 with every worker up and 503 with why once
 * the service drains (a slow job keeps it up meanwhile), while /healthz
 * stays 200; both text/plain, never cached. */
static void t_health(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  char *head, *body;
  CHECK_EQ(http_get(s.metrics_port, "/healthz", &head, &body), 200);
  CHECK_STR(body, "ok\n");
  CHECK(strcasestr(head, "content-type: text/plain") != NULL);
  CHECK(strcasestr(head, "cache-control: no-store") != NULL);
  free(head);
  free(body);
  CHECK_EQ(http_get(s.metrics_port, "/readyz", &head, &body), 200);
  CHECK_STR(body, "ready: 2 of 2 workers up\n");
  free(head);
  free(body);
  /* draining: not ready, still alive */
  tracker t;
  tracker_init(&t, 1);
  submit_sleeps(&t, s.c, 0, 1, 1500);
  sleep_ms(100); /* on its worker */
  free(admin(&s, ISO_ADMIN_DRAIN));
  CHECK_EQ(http_get(s.metrics_port, "/readyz", &head, &body), 503);
  CHECK_STR(body, "not ready: draining\n");
  free(head);
  free(body);
  CHECK_EQ(http_get(s.metrics_port, "/healthz", &head, &body), 200);
  free(head);
  free(body);
  CHECK(tracker_wait(&t, 1, 10000));
  CHECK_EQ(t.r[0].status, ISO_STATUS_FULFILLED);
  svc_stop(&s); /* drained: it exits by itself */
  tracker_free(&t);
}

static const iso_test cases[] = {
    {"health", t_health},
    {"status_workers_jobs_stats", t_status_workers_jobs_stats,
     .timeout_s = 120},
    {"metrics", t_metrics},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
