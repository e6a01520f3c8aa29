/* test_service_ops_perms.c: the permissions of ops end to end, against
 * the real daemon (ops/perms.c through the service): what the service
 * grants (--allow-read, --allow-write, --allow-env, --allow-net), and a job's
 * `permissions` narrowing the grant, never widening it.
 *
 * Each case starts `isopool serve` on fixtures/ops with a fresh data root
 * and the grants it needs (support/service_ops.h: the tree, and the
 * environment the daemon inherits: ISO_TEST_VAR=hello, ISO_TEST_UNSET
 * unset); jobs go through ipc/iso_client.h only, and each case stops the
 * daemon with SIGTERM and checks that it exits 0. Most checks run one
 * eval job whose default export tries several things and returns a list
 * of "label=outcome" strings, read back with CHECK_ITEM().
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_proto.h"
#include "json_check.h"
#include "proc.h"
#include "service_ops.h"
#include "tap.h"

/* ---- cases: permissions ------------------------------------------------- */

/* --allow-read=pub and nothing else: reading outside pub, every write,
 * and every escape from the root are PermissionDenied. */
static void t_perms_service_grant(void) {
  const char* flags[] = {"--allow-read=pub", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  jobopt o = {0};
  char* v = js_value(
      &s,
      "return Promise.all([\n"
      "  outcome('a', () => fs.readTextFile('pub/a.txt')),\n"
      "  outcome('list', async () =>\n"
      "    (await fs.readDir('pub')).map((e) => e.name).sort().join()),\n"
      "  outcome('stat', async () => (await fs.stat('pub/b.txt')).size),\n"
      "  outcome('in_link', () => fs.readTextFile('pub/in_link')),\n"
      "  outcome('secret', () => fs.readTextFile('secret.txt')),\n"
      "  outcome('root', () => fs.readDir('')),\n"
      "  outcome('dot', () => fs.readDir('.')),\n"
      "  outcome('dir', () => fs.readDir('dir')),\n"
      "  outcome('stat_secret', () => fs.stat('secret.txt')),\n"
      "  outcome('dotdot_inside', () => "
      "fs.readTextFile('pub/../secret.txt')),\n"
      "  outcome('dotdot', () => fs.readTextFile('../outside.txt')),\n"
      "  outcome('dotdot_x', () => fs.readTextFile('../x')),\n"
      "  outcome('abs', () => fs.readTextFile('/etc/passwd')),\n"
      "  outcome('pub_dotdot', () => fs.readTextFile('pub/../../x')),\n"
      "  outcome('pub_dotdot_out', () =>\n"
      "    fs.readTextFile('pub/../../outside.txt')),\n"
      "  outcome('out_link', () => fs.readTextFile('pub/out_link')),\n"
      "  outcome('sec_link', () => fs.readTextFile('pub/sec_link')),\n"
      "  outcome('up_link', () => fs.readTextFile('pub/up/secret.txt')),\n"
      "  outcome('write', () => fs.writeTextFile('pub/new.txt', 'x')),\n"
      "  outcome('overwrite', () => fs.writeTextFile('pub/a.txt', 'x')),\n"
      "  outcome('mkdir', () => fs.mkdir('pub/d')),\n"
      "  outcome('remove', () => fs.remove('pub/a.txt')),\n"
      "  outcome('rename', () => fs.rename('pub/a.txt', 'pub/c.txt')),\n"
      "  outcome('env', () => env.get('ISO_TEST_VAR')),\n"
      "]);",
      o);
  CHECK_ITEM(v, "a", "ok:alpha", NULL);
  CHECK_ITEM(v, "list", "ok:a.txt,b.txt,in_link,out_link,sec_link,up", NULL);
  CHECK_ITEM(v, "stat", "ok:4", NULL);
  CHECK_ITEM(v, "in_link", "ok:alpha", NULL);
  CHECK_ITEM(v, "secret", "PermissionDenied: ", "secret.txt");
  CHECK_ITEM(v, "root", "TypeError: ", "must not be empty");
  CHECK_ITEM(v, "dot", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "dir", "PermissionDenied: ", "dir");
  CHECK_ITEM(v, "stat_secret", "PermissionDenied: ", "secret.txt");
  CHECK_ITEM(v, "dotdot_inside", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "dotdot", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "dotdot_x", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "abs", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "pub_dotdot", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "pub_dotdot_out", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "out_link", "PermissionDenied: ", "escapes the data root");
  /* a symlink inside the root is followed, and the permission is checked
   * again where it leads */
  CHECK_ITEM(v, "sec_link",
             "PermissionDenied: ", "leads to 'secret.txt' (a symbolic link)");
  CHECK_ITEM(v, "up_link",
             "PermissionDenied: ", "leads to 'secret.txt' (a symbolic link)");
  CHECK_ITEM(v, "write", "PermissionDenied: ", "--allow-write");
  CHECK_ITEM(v, "overwrite", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "mkdir", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "remove", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "rename", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "env", "PermissionDenied: ", "--allow-env");
  free(v);
  /* nothing changed on disk; nothing leaked into the reply */
  char* a = get_file(s.data, "pub/a.txt");
  CHECK_STR(a, "alpha");
  free(a);
  char* n = get_file(s.data, "pub/new.txt");
  CHECK(n == NULL);
  free(n);
  /* the same through a call job on a fixture module */
  iso_buf args = mp_of("[\"pub/out_link\"]");
  iso_job j = {.kind = ISO_JOB_CALL,
               .module = "fs_probe.js",
               .export_name = "read",
               .args = args.data,
               .args_len = args.len};
  iso_result r;
  int rc = iso_client_call(s.c, &j, 10000, &r);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_REJECTED);
    CHECK_STR(r.name, "PermissionDenied");
    CHECK(strstr(r.message, "outside") == NULL);
    iso_result_close(&r);
  }
  iso_buf_close(&args);
  svc_stop(&s);
}

/* Each worker knows the permission sets sent to it by id, in a table as
 * large as twice the jobs it may hold (pool/records.h, POOL_PERM_ID):
 * with one job per worker, a table of two, and four sets in turn, ids are
 * given again to other sets all the time, and every job's ops still get
 * its own set, never another's. */
static void t_perms_ids_reused(void) {
  const char* flags[] = {"--allow-read=pub", "--max-inflight-per-worker", "1",
                         NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  const char* body =
      "return Promise.all([\n"
      "  outcome('a', () => fs.readTextFile('pub/a.txt')),\n"
      "  outcome('b', () => fs.readTextFile('pub/b.txt')),\n"
      "]);";
  static const struct {
    const char* perms;
    const char* a; /* CHECK_ITEM's prefix for each */
    const char* b;
  } sets[] = {
      {"{\"read\": [\"pub/a.txt\"]}", "ok:alpha", "PermissionDenied: "},
      {"{\"read\": [\"pub/b.txt\"]}", "PermissionDenied: ", "ok:beta"},
      {"{\"read\": false}", "PermissionDenied: ", "PermissionDenied: "},
      {"{\"read\": [\"pub\"]}", "ok:alpha", "ok:beta"},
  };
  enum { NSETS = sizeof sets / sizeof sets[0] };
  for (int round = 0; round < 3 * NSETS; round++) {
    int i = (round * 3) % NSETS; /* 0 3 2 1 0 ...: every pair in turn */
    char* v = js_value(&s, body, (jobopt){.perms = sets[i].perms});
    CHECK_ITEM(v, "a", sets[i].a, NULL);
    CHECK_ITEM(v, "b", sets[i].b, NULL);
    free(v);
  }
  svc_stop(&s);
}

/* A job's `permissions` narrows the grant; asking for more than the
 * service grants, or a malformed field, is bad_request. */
static void t_perms_job_narrowing(void) {
  const char* flags[] = {"--allow-read=pub", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  const char* body =
      "return Promise.all([\n"
      "  outcome('a', () => fs.readTextFile('pub/a.txt')),\n"
      "  outcome('b', () => fs.readTextFile('pub/b.txt')),\n"
      "  outcome('in_link', () => fs.readTextFile('pub/in_link')),\n"
      "]);";
  /* asks for no reading */
  char* v = js_value(&s, body, (jobopt){.perms = "{\"read\": false}"});
  CHECK_ITEM(v, "a", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "b", "PermissionDenied: ", NULL);
  free(v);
  v = js_value(&s, body, (jobopt){.perms = "{}"});
  CHECK_ITEM(v, "a", "PermissionDenied: ", NULL);
  free(v);
  /* asks for one file */
  v = js_value(&s, body, (jobopt){.perms = "{\"read\": [\"pub/a.txt\"]}"});
  CHECK_ITEM(v, "a", "ok:alpha", NULL);
  CHECK_ITEM(v, "b", "PermissionDenied: ", "pub/b.txt");
  CHECK_ITEM(v, "in_link", "PermissionDenied: ", NULL);
  free(v);
  /* true: all the service grants; absent: the same */
  v = js_value(&s, body, (jobopt){.perms = "{\"read\": true}"});
  CHECK_ITEM(v, "a", "ok:alpha", NULL);
  CHECK_ITEM(v, "b", "ok:beta", NULL);
  free(v);
  v = js_value(&s, body, (jobopt){0});
  CHECK_ITEM(v, "b", "ok:beta", NULL);
  free(v);
  /* call jobs: a narrower set runs in its own realm; the wider one still
   * reads */
  static const struct {
    const char* perms;
    iso_status status;
    const char* want;
  } calls[] = {
      {"{\"read\": false}", ISO_STATUS_REJECTED, "PermissionDenied"},
      {NULL, ISO_STATUS_FULFILLED, "\"beta\""},
      {"{\"read\": [\"pub/a.txt\"]}", ISO_STATUS_REJECTED, "PermissionDenied"},
      {"{\"read\": [\"pub\"]}", ISO_STATUS_FULFILLED, "\"beta\""},
      {"{\"read\": false}", ISO_STATUS_REJECTED, "PermissionDenied"},
  };
  iso_buf args = mp_of("[\"pub/b.txt\"]");
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    iso_buf perms;
    iso_buf_init(&perms);
    iso_job j = {.kind = ISO_JOB_CALL,
                 .module = "fs_probe.js",
                 .export_name = "read",
                 .args = args.data,
                 .args_len = args.len};
    if (calls[i].perms != NULL) {
      perms = mp_of(calls[i].perms);
      j.permissions = perms.data;
      j.permissions_len = perms.len;
    }
    iso_result r;
    int rc = iso_client_call(s.c, &j, 10000, &r);
    CHECK_EQ(rc, 0);
    if (rc == 0) {
      CHECK_EQ(r.status, calls[i].status);
      if (r.status == ISO_STATUS_FULFILLED) {
        CHECK_JSON(r.value, r.value_len, calls[i].want);
      } else {
        CHECK_STR(r.name, calls[i].want);
      }
      iso_result_close(&r);
    }
    iso_buf_close(&perms);
  }
  iso_buf_close(&args);
  /* more than the service grants: refused, naming what */
  const char* ok = "return 1;";
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"write\": [\"x\"]}"},
                    ISO_CODE_BAD_REQUEST, "write \"x\"");
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"read\": [\"secret\"]}"},
                    ISO_CODE_BAD_REQUEST, "read \"secret\"");
  expect_js_refused(&s, ok,
                    (jobopt){.perms = "{\"read\": [\"pub\", \"pub2/x\"]}"},
                    ISO_CODE_BAD_REQUEST, "pub2/x");
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"env\": [\"HOME\"]}"},
                    ISO_CODE_BAD_REQUEST, "HOME");
  /* malformed: only a raw request can carry it past the client library */
  static const struct {
    const char* perms;
    const char* frag;
  } bad[] = {
      {"[\"read\"]", "'permissions' must be a map"},
      {"{\"sys\": true}", "permissions.sys"},
      {"{\"read\": \"pub\"}", "'permissions.read' must be true, false or"},
      {"{\"read\": [\"pub\", 5]}", "'permissions.read[1]' must be a string"},
      {"{\"read\": [\"\"]}", "permissions.read"},
      {"7", "'permissions' must be a map"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char json[256];
    snprintf(json, sizeof json,
             "{\"v\":1,\"id\":%zu,\"kind\":\"eval\","
             "\"source\":\"export default 1\",\"permissions\":%s}",
             i, bad[i].perms);
    iso_buf req = mp_of(json);
    iso_buf reply;
    iso_buf_init(&reply);
    int rc = iso_client_request_raw(s.c, req.data, req.len, 10000, &reply);
    CHECK_EQ(rc, 0);
    iso_result r;
    memset(&r, 0, sizeof r);
    if (rc == 0) {
      rc = iso_proto_decode_reply(reply.data, reply.len, &r);
      CHECK_EQ(rc, 0);
    }
    if (rc == 0) {
      CHECK_EQ(r.status, ISO_STATUS_ERROR);
      CHECK_EQ(r.code, ISO_CODE_BAD_REQUEST);
      CHECK_CONTAINS(r.message, bad[i].frag);
      iso_result_close(&r);
    }
    iso_buf_close(&reply);
    iso_buf_close(&req);
  }
  /* and the client library refuses to send one */
  iso_buf perms = mp_of("{\"read\": \"pub\"}");
  iso_job j = {.kind = ISO_JOB_EVAL,
               .source = "export default 1",
               .permissions = perms.data,
               .permissions_len = perms.len};
  iso_result r;
  CHECK_EQ(iso_client_call(s.c, &j, 10000, &r), ISO_EINVAL);
  iso_buf_close(&perms);
  /* still serving */
  expect_js(&s, "return fs.readTextFile('pub/a.txt');", (jobopt){0},
            "\"alpha\"");
  svc_stop(&s);
}

/* --allow-net on serve: a job's `net` list narrows it, asking for a host
 * or port the service does not grant is refused naming it, and the sets
 * travel to the pool processes (each a warm realm of its own); a
 * malformed --allow-net stops the service before it starts. */
static void t_perms_net(void) {
  const char* flags[] = {"--allow-net=127.0.0.1:8080,Example.com", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  const char* ok = "return 1;";
  static const char* const granted[] = {
      "{\"net\": true}",
      "{\"net\": [\"example.com:443\"]}",
      "{\"net\": [\"EXAMPLE.COM\", \"127.0.0.1:8080\"]}",
      "{\"net\": false, \"read\": false}",
      "{\"net\": []}",
  };
  for (size_t i = 0; i < sizeof granted / sizeof granted[0]; i++) {
    expect_js(&s, ok, (jobopt){.perms = granted[i]}, "1");
  }
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"net\": [\"127.0.0.1\"]}"},
                    ISO_CODE_BAD_REQUEST,
                    "net \"127.0.0.1\" is not granted by the service "
                    "(--allow-net=127.0.0.1:8080,example.com)");
  expect_js_refused(&s, ok,
                    (jobopt){.perms = "{\"net\": [\"www.example.com\"]}"},
                    ISO_CODE_BAD_REQUEST, "net \"www.example.com\"");
  expect_js_refused(&s, ok,
                    (jobopt){.perms = "{\"net\": [\"http://example.com\"]}"},
                    ISO_CODE_BAD_REQUEST, "is not HOST[:PORT]");
  svc_stop(&s);
  /* refused at start, naming the entry; serve and run alike */
  static const char* const bad[][4] = {
      {"serve", "--allow-net=http://x", "--listen", "ipc:///nonexistent/x"},
      {"run", "--allow-net=::1", "x.js", NULL},
      {"run", "--allow-net=a:0", "x.js", NULL},
  };
  static const char* const why[] = {
      "--allow-net: entry \"http://x\" is not HOST[:PORT]",
      "--allow-net: entry \"::1\" is not HOST[:PORT] (an IPv6 address goes "
      "in brackets)",
      "--allow-net: entry \"a:0\" has a port that is not a number",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char* argv[] = {ISO_BIN_DIR "/isopool",
                          bad[i][0],
                          bad[i][1],
                          bad[i][2],
                          bad[i][3],
                          NULL};
    proc_result r;
    CHECK_EQ(proc_run(NULL, argv, 20, &r), 0);
    CHECK(r.status != 0 && r.status != -1);
    CHECK_CONTAINS(r.err, why[i]);
    proc_result_free(&r);
  }
}

static const iso_test cases[] = {
    {"perms_net", t_perms_net},
    {"perms_service_grant", t_perms_service_grant},
    {"perms_job_narrowing", t_perms_job_narrowing},
    {"perms_ids_reused", t_perms_ids_reused},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  /* the daemon inherits these */
  setenv("ISO_TEST_VAR", "hello", 1);
  unsetenv("ISO_TEST_UNSET");
  return iso_test_main(argc, argv, cases);
}
