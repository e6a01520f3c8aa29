/* test_service_ping.c: the ping job kind end to end (docs/protocol.md,
 * "ping"; pool/answer.c, pool__answer_ping): the heartbeat a multi-node
 * client sends each node, answered by the front itself.
 *
 * Each case starts `isopool serve` with its admin socket
 * (support/service_admin.h, fixtures/admin) and pings it through the
 * client library and the built poolctl: the value ({ready, workers,
 * in_flight, version}), pings left out of every job figure, a ping
 * answered while more requests than the service's REP contexts used to
 * hold wait on the workers (jobs held on a gate, so the order is
 * causality, not a clock), ready false while the pool process is down and
 * true once it is back, and shutting_down while the service drains.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_proto.h"
#include "iso_version.h"
#include "json_path.h"
#include "proc.h"
#include "procfs.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

/* A data root (--data) for gate.js: jobs that stay in flight until the
 * test opens the gate (creates the file). */
typedef struct gate {
  char dir[64];
  char file[96];
} gate;

static void gate_init(gate* g) {
  snprintf(g->dir, sizeof g->dir, "/tmp/isopool-ping-gate-XXXXXX");
  CHECK(mkdtemp(g->dir) != NULL);
  snprintf(g->file, sizeof g->file, "%s/open", g->dir);
}

static void gate_open(gate* g) {
  FILE* f = fopen(g->file, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fclose(f);
  }
}

static void gate_clean(gate* g) {
  unlink(g->file);
  rmdir(g->dir);
}

/* Submits gate.js("open", i) as id i for i in [from, to) on c. */
static void submit_gated(tracker* t, iso_client* c, int from, int to) {
  for (int i = from; i < to; i++) {
    char args[64];
    snprintf(args, sizeof args, "[\"open\",%d]", i);
    iso_buf keep;
    tracker_submit_ok(t, c, i, call_job("gate.js", args, &keep), 120000);
    iso_buf_close(&keep);
  }
}

/* 1 if the JSON value at path is the word `word` (true, false). */
static int js_word(const char* json, const char* path, const char* word) {
  const char* at = js_at(json, path);
  return at != NULL && strncmp(at, word, strlen(word)) == 0;
}

/* One ping on c: its reply (checked: the client's rc is 0) and its value
 * as JSON in *json (fulfilled; else NULL; the caller frees it). */
static void ping(iso_client* c, iso_result* r, char** json) {
  iso_job job = {.kind = ISO_JOB_PING};
  *json = NULL;
  int rc = iso_client_call(c, &job, 10000, r);
  CHECK_EQ(rc, 0);
  if (rc != 0 || r->status != ISO_STATUS_FULFILLED) {
    return;
  }
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_json_from_msgpack(r->value, r->value_len, &b), 0);
  iso_buf_append(&b, "", 1);
  *json = (char*)b.data;
}

/* The value of a ping, which must be fulfilled (the caller frees it). */
static char* ping_value(iso_client* c) {
  iso_result r;
  char* json;
  ping(c, &r, &json);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  CHECK_EQ(r.stats.worker, -1); /* the front's answer: no worker */
  iso_result_close(&r);
  return json != NULL ? json : strdup("{}");
}

/* The value: its four keys, every worker up; pings are no jobs (no job
 * counted or timed, isopool_pings_total counts them); poolctl ping prints
 * the value and exits 0, and --json the whole reply. */
static void t_value(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  char *head, *body;
  /* the metrics server starts after the job socket answers */
  int code = -1;
  for (int64_t until = now_ms() + 10000; code == -1 && now_ms() < until;) {
    code = http_get(s.metrics_port, "/metrics", &head, &body);
    if (code == -1) {
      sleep_ms(20);
    }
  }
  CHECK_EQ(code, 200);
  double accepted0 = prom_sum(body, "isopool_jobs_accepted_total");
  double answered0 = prom_sum(body, "isopool_jobs_answered_total");
  double timed0 = prom_sum(body, "isopool_job_duration_seconds_count");
  double pings0 = prom_sum(body, "isopool_pings_total");
  free(head);
  free(body);
  enum { PINGS = 5 };
  for (int i = 0; i < PINGS; i++) {
    char* v = ping_value(s.c);
    char want[160];
    snprintf(want, sizeof want,
             "{\"ready\":true,\"workers\":2,\"in_flight\":0,\"version\":"
             "\"%s\"}",
             ISO_VERSION);
    CHECK_STR(v, want);
    free(v);
  }
  proc_result r;
  const char* argv[] = {POOLCTL, "--url", s.url, "ping", NULL};
  CHECK(proc_run(NULL, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK(strstr(r.out, "{\"ready\":true,\"workers\":2,\"in_flight\":0,") ==
        r.out);
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);
  const char* jargv[] = {POOLCTL, "--url", s.url, "--json", "ping", NULL};
  CHECK(proc_run(NULL, jargv, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK(js_is(r.out, "status", "fulfilled"));
  CHECK(js_is(r.out, "value.version", ISO_VERSION));
  CHECK_EQ(js_num(r.out, "stats.worker"), -1);
  show(&r);
  proc_result_free(&r);
  /* a ping takes no job's options */
  const char* bad[] = {POOLCTL, "--url", s.url, "--cpu-ms", "5", "ping", NULL};
  CHECK(proc_run(NULL, bad, 30, &r) == 0);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "ping takes no --cpu-ms");
  proc_result_free(&r);
  CHECK_EQ(http_get(s.metrics_port, "/metrics", &head, &body), 200);
  CHECK_EQ(prom_sum(body, "isopool_jobs_accepted_total"), accepted0);
  CHECK_EQ(prom_sum(body, "isopool_jobs_answered_total"), answered0);
  CHECK_EQ(prom_sum(body, "isopool_job_duration_seconds_count"), timed0);
  CHECK_EQ(prom_sum(body, "isopool_pings_total"), pings0 + PINGS + 2);
  free(head);
  free(body);
  svc_stop(&s);
}

/* A ping is answered at once however many requests wait on the workers:
 * more gated jobs than the REP contexts the front once had (1024) are
 * in flight, none answered (the gate is shut), and a ping on its own
 * client is answered meanwhile, saying how many are in flight. */
static void t_while_busy(void) {
  gate g;
  gate_init(&g);
  const char* extra[] = {"--data", g.dir, "--allow-read", NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.extra = extra}) != 0) {
    svc_stop(&s);
    gate_clean(&g);
    return;
  }
  enum { N = 1100 }; /* 128 on the two workers (64 each), the rest queued */
  iso_client* jobs = NULL;
  iso_client_opts co = {.max_inflight = 2048};
  CHECK_EQ(iso_client_new(s.url, &co, &jobs), 0);
  tracker t;
  tracker_init(&t, N);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_gated(&t, jobs, 0, N);
  /* most of them in: a front with 1024 contexts has them all held */
  CHECK(wait_accepted(&s, acc0 + 1000, 30000));
  int64_t t0 = now_ms();
  char* v = ping_value(s.c);
  int64_t took = now_ms() - t0;
  fprintf(stderr, "    ping with >= 1000 jobs in flight: %lld ms: %s\n",
          (long long)took, v);
  CHECK(js_word(v, "ready", "true"));
  CHECK(js_num(v, "in_flight") >= 1000);
  free(v);
  /* all of them in, and the ping still answered first */
  CHECK(wait_accepted(&s, acc0 + N, 30000));
  v = ping_value(s.c);
  CHECK_EQ(js_num(v, "in_flight"), N);
  free(v);
  CHECK_EQ(tracker_done(&t), 0); /* the pings came first */
  gate_open(&g);
  CHECK(tracker_wait(&t, N, 120000));
  tracker_check_once(&t);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(t.r[i].status, ISO_STATUS_FULFILLED);
  }
  v = ping_value(s.c);
  CHECK_EQ(js_num(v, "in_flight"), 0);
  free(v);
  iso_client_free(jobs); /* its callbacks end before the tracker */
  svc_stop(&s);
  tracker_free(&t);
  gate_clean(&g);
}

/* The contexts' reserve: a pool grown past what its contexts were sized
 * for (1 worker of 600 jobs and a queue of 1: the least, 1024 contexts;
 * then a resize to 2) takes requests with jobs only while 64 contexts
 * stay free: the later ones are answered busy at once, and a ping on one
 * of the 64 is answered while the jobs wait on the gate. */
static void t_reserve(void) {
  gate g;
  gate_init(&g);
  const char* extra[] = {"--data",      g.dir, "--allow-read",
                         "--max-queue", "1",   NULL};
  svc s;
  if (svc_start(
          &s, &(svc_opts){.workers = "1", .inflight = "600", .extra = extra}) !=
      0) {
    svc_stop(&s);
    gate_clean(&g);
    return;
  }
  iso_admin_req q = areq(ISO_ADMIN_RESIZE);
  q.workers = 2;
  free(admin_req(&s, q));
  CHECK(wait_workers_running(&s, 2, 30000));
  enum { N = 1100, HELD = 1024 - 64 };
  iso_client* jobs = NULL;
  iso_client_opts co = {.max_inflight = 2048};
  CHECK_EQ(iso_client_new(s.url, &co, &jobs), 0);
  tracker t;
  tracker_init(&t, N);
  submit_gated(&t, jobs, 0, N);
  /* the busy ones; a context is free again only once its reply is
   * written, so a few more than N - HELD may be (a busy reply on its
   * way as the next request came). Every request is either held or
   * answered once the pings' in_flight and the replies add up to N. */
  CHECK(tracker_wait(&t, N - HELD, 30000));
  int held = 0;
  for (int64_t until = now_ms() + 30000; now_ms() < until;) {
    char* v = ping_value(s.c);
    held = (int)js_num(v, "in_flight");
    free(v);
    if (held + tracker_done(&t) == N) {
      break;
    }
    sleep_ms(20);
  }
  CHECK_EQ(held + tracker_done(&t), N);
  CHECK(held <= HELD && held >= HELD - 32);
  int busy = 0;
  for (int i = 0; i < N; i++) {
    if (tracker_calls(&t, i) == 1) {
      busy++;
      expect_error(&t, i, ISO_CODE_BUSY);
      CHECK_CONTAINS(t.r[i].message, "every request context is taken");
    }
  }
  CHECK_EQ(busy, N - held);
  gate_open(&g);
  CHECK(tracker_wait(&t, N, 120000));
  tracker_check_once(&t);
  iso_client_free(jobs);
  svc_stop(&s);
  tracker_free(&t);
  gate_clean(&g);
}

/* ready is /readyz's test: false while the pool process is down (killed:
 * its two workers are; no spare takes its place, and its replacement
 * starts 100 ms later), true again once the replacement is up. */
static void t_ready(void) {
  /* no spare process: one would take the dead one's place at once */
  const char* extra[] = {"--spare-processes", "0", NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1, .extra = extra}) != 0) {
    svc_stop(&s);
    return;
  }
  char* v = ping_value(s.c);
  CHECK(js_word(v, "ready", "true"));
  free(v);
  int kids[8];
  int n = procfs_children(s.pid, kids, 8);
  CHECK_EQ(n, 1); /* --workers 2: one pool process */
  if (n >= 1) {
    kill(kids[0], SIGKILL);
  }
  /* not ready until the replacement is up; then ready again */
  int seen_down = 0, back = 0;
  for (int64_t until = now_ms() + 20000; now_ms() < until && !back;) {
    v = ping_value(s.c);
    if (js_word(v, "ready", "false")) {
      seen_down = 1;
      CHECK_EQ(js_num(v, "workers"), 2);
    } else if (seen_down) {
      back = 1;
    }
    free(v);
    sleep_ms(1);
  }
  CHECK(seen_down);
  CHECK(back);
  char *head, *body;
  CHECK_EQ(http_get(s.metrics_port, "/readyz", &head, &body), 200);
  free(head);
  free(body);
  svc_stop(&s);
}

/* While the service drains, a ping is answered shutting_down (so a
 * client takes the node out without counting it lost), through the
 * library and poolctl (exit 1); a gated job keeps it draining. */
static void t_draining(void) {
  gate g;
  gate_init(&g);
  const char* extra[] = {"--data", g.dir, "--allow-read", NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.extra = extra}) != 0) {
    svc_stop(&s);
    gate_clean(&g);
    return;
  }
  tracker t;
  tracker_init(&t, 1);
  char* st = admin(&s, ISO_ADMIN_STATUS);
  double acc0 = js_num(st, "totals.accepted");
  free(st);
  submit_gated(&t, s.c, 0, 1);
  CHECK(wait_accepted(&s, acc0 + 1, 10000));
  char* v = ping_value(s.c);
  CHECK_EQ(js_num(v, "in_flight"), 1);
  free(v);
  free(admin(&s, ISO_ADMIN_DRAIN));
  iso_result r;
  char* json;
  ping(s.c, &r, &json);
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_SHUTTING_DOWN);
  CHECK(json == NULL);
  iso_result_close(&r);
  proc_result pr;
  const char* argv[] = {POOLCTL, "--url", s.url, "ping", NULL};
  CHECK(proc_run(NULL, argv, 30, &pr) == 0);
  CHECK_EQ(pr.status, 1);
  CHECK_STR(pr.out, "");
  CHECK_CONTAINS(pr.err, "shutting_down");
  show(&pr);
  proc_result_free(&pr);
  CHECK_EQ(tracker_calls(&t, 0), 0); /* still draining */
  gate_open(&g);
  CHECK(tracker_wait(&t, 1, 30000));
  CHECK_EQ(t.r[0].status, ISO_STATUS_FULFILLED);
  CHECK_EQ(daemon_wait(&s.pid, 15000), 0); /* drained: it exits */
  svc_stop(&s);
  tracker_free(&t);
  gate_clean(&g);
}

static const iso_test cases[] = {
    {"value", t_value},
    {"while_busy", t_while_busy, .timeout_s = 240},
    {"reserve", t_reserve, .timeout_s = 240},
    {"ready", t_ready},
    {"draining", t_draining},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
