/* test_service_fetch.c: fetch() through the real daemon: the job's
 * JavaScript runs in a sandboxed pool process (which may not open a
 * socket), its op_fetch_* ops cross the ops link to the front, whose net
 * thread makes the requests (pool/ops.c, ops/fetch.c, ops/net.c), and the
 * answers come back later than their batch (OP_RESULT records on their
 * own). Against the local HTTP server of tests/support/http_server.h;
 * the daemon is support/service_ops.h's, with --allow-net.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_server.h"
#include "iso_client.h"
#include "iso_proto.h"
#include "service_ops.h"
#include "tap.h"

static http_server* g_srv;
static int g_port;

/* fmt with every %d the server's port (at most 6 of them; static). */
static const char* P(const char* fmt) {
  static char out[2][8192];
  static int next;
  char* o = out[next++ % 2];
  snprintf(o, sizeof out[0], fmt, g_port, g_port, g_port, g_port, g_port,
           g_port);
  return o;
}

/* GET, JSON, POST with headers echoed, a 404 and a redirect, all from
 * inside the sandbox, in one job; and many at once. */
static void t_fetch_through_front(void) {
  char grant[64];
  snprintf(grant, sizeof grant, "--allow-net=127.0.0.1:%d", g_port);
  const char* flags[] = {grant, NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  expect_js(&s,
            P("const base = 'http://127.0.0.1:%d';\n"
              "const t = await fetch(base + '/text');\n"
              "const j = await (await fetch(base + '/json')).json();\n"
              "const e = await (await fetch(base + '/echo', { method: 'POST',\n"
              "  body: 'hi', headers: { 'X-Test': 'yes' } })).json();\n"
              "const n = await fetch(base + '/nowhere');\n"
              "const r = await fetch(base + '/redirect/2');\n"
              "return [t.status, await t.text(), j.a, e.method, e.body,\n"
              "  e.x_test, n.status, r.redirected, await r.text()];"),
            (jobopt){0},
            "[200,\"hello\",1,\"POST\",\"hi\",\"yes\",404,true,\"hello\"]");
  expect_js(&s,
            P("const all = await Promise.all(Array.from({ length: 100 },\n"
              "  () => fetch('http://127.0.0.1:%d/json').then((r) => "
              "r.json())));\n"
              "return all.filter((x) => x.a === 1).length;"),
            (jobopt){0}, "100");
  /* ops that answer later than their batch, racing it, many at once */
  expect_js(&s,
            "const v = await Promise.all(Array.from({ length: 5000 },\n"
            "  (_, i) => core.opAsync('op_echo_later', i)));\n"
            "return v.every((x, i) => x === i) ? v.length : -1;",
            (jobopt){0}, "5000");
  /* a body larger than one read streams through several late answers */
  expect_js(&s,
            P("const r = await fetch('http://127.0.0.1:%d/big/1000000');\n"
              "let n = 0;\n"
              "for await (const c of r.body) n += c.byteLength;\n"
              "return n;"),
            (jobopt){0}, "1000000");
  svc_stop(&s);
}

/* What the service grants bounds every job; a job's permissions.net
 * narrows it for that job only; a redirect to a host the job may not
 * reach is refused. Nothing is sent for a refused request. */
static void t_fetch_permissions(void) {
  char grant[96];
  snprintf(grant, sizeof grant, "--allow-net=127.0.0.1:%d,localhost:%d", g_port,
           g_port);
  const char* flags[] = {grant, NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  char body[2048];
  snprintf(
      body, sizeof body, "%s",
      P("const base = 'http://127.0.0.1:%d';\n"
        "return Promise.all([\n"
        "  outcome('ip', async () => (await fetch(base + '/text')).status),\n"
        "  outcome('name', async () =>\n"
        "    (await fetch('http://localhost:%d/text')).status),\n"
        "  outcome('other', () => fetch('http://127.0.0.1:1/')),\n"
        "  outcome('away', async () => (await fetch(base + '/away')).status),\n"
        "]);"));
  long hits = http_server_hits(g_srv);
  char* v = js_value(&s, body, (jobopt){0});
  CHECK_ITEM(v, "ip", "ok:200", NULL);
  CHECK_ITEM(v, "name", "ok:200", NULL);
  CHECK_ITEM(v, "other", "PermissionDenied: ", "net access to '127.0.0.1:1'");
  CHECK_ITEM(v, "away", "ok:200", NULL);
  free(v);
  CHECK_EQ(http_server_hits(g_srv), hits + 4); /* /away's hop included */
  char only_name[128];
  snprintf(only_name, sizeof only_name, "{\"net\": [\"localhost:%d\"]}",
           g_port);
  v = js_value(&s, body, (jobopt){.perms = only_name});
  CHECK_ITEM(v, "ip", "PermissionDenied: ", P("'127.0.0.1:%d' was not"));
  CHECK_ITEM(v, "name", "ok:200", NULL);
  CHECK_ITEM(v, "away", "PermissionDenied: ", NULL);
  free(v);
  char only_ip[128];
  snprintf(only_ip, sizeof only_ip, "{\"net\": [\"127.0.0.1:%d\"]}", g_port);
  v = js_value(&s, body, (jobopt){.perms = only_ip});
  CHECK_ITEM(v, "ip", "ok:200", NULL);
  CHECK_ITEM(v, "name", "PermissionDenied: ", NULL);
  /* the redirect's second hop goes to localhost: refused */
  CHECK_ITEM(v, "away", "PermissionDenied: ", P("'localhost:%d'"));
  free(v);
  hits = http_server_hits(g_srv);
  v = js_value(&s, body, (jobopt){.perms = "{\"net\": false}"});
  CHECK_ITEM(v, "ip", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "name", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "away", "PermissionDenied: ", NULL);
  free(v);
  CHECK_EQ(http_server_hits(g_srv), hits); /* none sent */
  svc_stop(&s);
}

/* The job's metrics, read by a job: isopool_fetch_transfers. */
static long transfers(svc* s, int metrics_port) {
  char body[512];
  snprintf(body, sizeof body,
           "const m = await (await fetch('http://127.0.0.1:%d/metrics'))"
           ".text();\n"
           "const l = m.split('\\n').find((x) =>\n"
           "  x.startsWith('isopool_fetch_transfers '));\n"
           "return Number(l.split(' ')[1]);",
           metrics_port);
  char* v = js_value(s, body, (jobopt){0});
  long n = v != NULL ? strtol(v, NULL, 10) : -1;
  free(v);
  return n - 1; /* the metrics request itself */
}

/* A job past its deadline is answered timeout at its deadline, not when
 * its request would have ended, and its requests end with it; so do
 * those of a job that returned without awaiting them. */
static void t_fetch_job_end(void) {
  int mport = free_port();
  CHECK(mport > 0);
  char murl[96];
  snprintf(murl, sizeof murl, "http://127.0.0.1:%d/metrics", mport);
  const char* flags[] = {"--allow-net=127.0.0.1", "--metrics", murl, NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(transfers(&s, mport), 0);
  int64_t t0 = now_ms();
  iso_result r;
  CHECK_EQ(run_js(&s,
                  P("await fetch('http://127.0.0.1:%d/slow/2000');\n"
                    "return 'late';"),
                  (jobopt){.timeout_ms = 300}, &r),
           0);
  int64_t took = now_ms() - t0;
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
  CHECK(took < 1500);
  iso_result_close(&r);
  /* The server answers these after 4 s; released well before that. */
  int64_t t1 = now_ms();
  expect_js(&s,
            P("for (let i = 0; i < 3; i++)\n"
              "  fetch('http://127.0.0.1:%d/slow/4000').catch(() => {});\n"
              "return 'left';"),
            (jobopt){0}, "\"left\"");
  long n = -1;
  while (now_ms() - t1 < 3000) {
    n = transfers(&s, mport);
    if (n == 0) {
      break;
    }
    sleep_ms(20);
  }
  CHECK_EQ(n, 0);
  CHECK(now_ms() - t1 < 3000); /* released, not ended by the server */
  svc_stop(&s);
}

/* A call job (the warm realm, which outlives it) whose client goes away
 * is cancelled, and its request ends with it, at once: the job's own
 * transfers (its tag), not the realm's. */
static void t_fetch_cancel(void) {
  int mport = free_port();
  CHECK(mport > 0);
  char murl[96];
  snprintf(murl, sizeof murl, "http://127.0.0.1:%d/metrics", mport);
  const char* flags[] = {
      "--allow-net=127.0.0.1", "--metrics", murl, "--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  char slow[96];
  snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow/4000", g_port);
  /* a client of its own, as a user's would be: poolctl, killed */
  pid_t pc = fork();
  if (pc == 0) {
    execl(ISO_BIN_DIR "/poolctl", "poolctl", "--url", s.url, "--timeout",
          "20000", "call", "fetch_probe.js", "--export", "status", slow,
          (char*)NULL);
    _exit(127);
  }
  CHECK(pc > 0);
  long n = -1;
  for (int i = 0; i < 100 && n != 1; i++) { /* its request is out */
    n = transfers(&s, mport);
    sleep_ms(20);
  }
  CHECK_EQ(n, 1);
  int64_t t0 = now_ms();
  kill(pc, SIGKILL);
  waitpid(pc, NULL, 0);
  while (n != 0 && now_ms() - t0 < 3000) {
    n = transfers(&s, mport);
    sleep_ms(20);
  }
  CHECK_EQ(n, 0);
  CHECK(now_ms() - t0 < 3000); /* released, not ended by the server (4 s) */
  svc_stop(&s);
}

static const iso_test cases[] = {{"fetch_through_front", t_fetch_through_front},
                                 {"fetch_permissions", t_fetch_permissions},
                                 {"fetch_job_end", t_fetch_job_end},
                                 {"fetch_cancel", t_fetch_cancel},
                                 {NULL, NULL}};

/* Per case: the harness runs each case in a child, and NNG may not be
 * used across a fork. */
static void case_setup(void) {
  g_srv = http_server_start();
  if (g_srv == NULL) {
    exit(1);
  }
  g_port = http_server_port(g_srv);
}

static void case_teardown(void) {
  http_server_stop(g_srv);
  g_srv = NULL;
}

int main(int argc, char** argv) {
  iso_test_suite suite = {
      .cases = cases, .case_setup = case_setup, .case_teardown = case_teardown};
  return iso_test_run(argc, argv, &suite);
}
