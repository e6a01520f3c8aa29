/* test_service_kv.c: isopool:kv kept in a file (`--kv-path`), against the
 * real daemon: values set through jobs are there after a SIGTERM and a
 * new daemon on the same file; after a SIGKILL in the middle of writes,
 * the file opens and holds every value whose job was answered; a second
 * daemon on a file in use is refused and the first goes on; `poolctl
 * status` names the file.
 *
 * Each daemon is `isopool serve` on fixtures/ops (support/service_ops.h),
 * with --kv-path FILE in a directory of the case's own, which outlives the
 * daemons; jobs go through ipc/iso_client.h only.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_proto.h"
#include "json_check.h"
#include "proc.h"
#include "service_ops.h"
#include "tap.h"
#include "tracker.h"

#define ISOPOOL ISO_BIN_DIR "/isopool"
#define POOLCTL ISO_BIN_DIR "/poolctl"

/* The case's kv directory and file. */
static char g_kvdir[64];
static char g_kvfile[96];

static void kv_dir_make(void) {
  snprintf(g_kvdir, sizeof g_kvdir, "/tmp/iso_svc_kv_XXXXXX");
  CHECK(mkdtemp(g_kvdir) != NULL);
  snprintf(g_kvfile, sizeof g_kvfile, "%s/store.mdb", g_kvdir);
}

static void kv_dir_remove(void) {
  if (g_kvdir[0] != '\0') {
    char lock[128];
    snprintf(lock, sizeof lock, "%s-lock", g_kvfile);
    unlink(g_kvfile);
    unlink(lock);
    rmdir(g_kvdir);
    g_kvdir[0] = '\0';
  }
}

/* Starts a daemon on the case's kv file (with `sync`: --kv-sync). */
static int start_on_file(svc* s, const char* sync) {
  const char* extra[] = {"--kv-path", g_kvfile, "--kv-sync",
                         sync ? sync : "nometa", NULL};
  return svc_start(s, extra);
}

/* Values of every kind, a 1024-byte key and 400 increments from call jobs
 * on both workers are the same after a SIGTERM and a new daemon; without
 * --kv-path a new daemon starts empty. */
static void t_kv_file_restart(void) {
  enum { N = 40, PER = 10 };
  kv_dir_make();
  svc s;
  if (start_on_file(&s, NULL) != 0) {
    svc_stop(&s);
    kv_dir_remove();
    return;
  }
  expect_js(&s,
            "await kv.set('obj', { a: 1, s: 'h\\u00e9', f: 1.5, n: null,\n"
            "  arr: [1, [2]], u8: new Uint8Array([0, 200]) });\n"
            "await kv.set('x'.repeat(1024), 'long');\n"
            "await kv.set('gone', 1);\n"
            "return await kv.delete('gone');",
            (jobopt){0}, "true");
  tracker t;
  tracker_init(&t, N);
  iso_buf args = mp_of("[10]");
  iso_job j = {.kind = ISO_JOB_CALL,
               .module = "kv_hits.js",
               .args = args.data,
               .args_len = args.len};
  for (int i = 0; i < N; i++) {
    tracker_submit_ok(&t, s.c, i, j, 60000);
  }
  iso_buf_close(&args);
  CHECK(tracker_wait(&t, N, 60000));
  tracker_free(&t);
  svc_stop(&s); /* SIGTERM; exit 0 */

  if (start_on_file(&s, NULL) != 0) {
    svc_stop(&s);
    kv_dir_remove();
    return;
  }
  expect_js(&s,
            "const o = await kv.get('obj');\n"
            "return [o.a, o.s, o.f, o.n, o.arr, Array.from(o.u8),\n"
            "  o.u8 instanceof Uint8Array, await kv.get('x'.repeat(1024)),\n"
            "  await kv.get('hits'), (await kv.get('gone')) ?? 'none',\n"
            "  (await kv.list()).map((e) => e.key.length)];",
            (jobopt){0},
            "[1,\"h\xc3\xa9\",1.5,null,[1,[2]],[0,200],true,\"long\",400,"
            "\"none\",[4,3,1024]]");
  svc_stop(&s);

  svc m; /* in memory: nothing of the above */
  if (svc_start(&m, NULL) == 0) {
    expect_js(&m, "return (await kv.list()).length;", (jobopt){0}, "0");
  }
  svc_stop(&m);
  kv_dir_remove();
}

/* SIGKILL while call jobs set keys: the next daemon opens the file, and
 * every key whose job was answered holds its value. */
static void t_kv_file_killed(void) {
  enum { N = 1000, KILL_AFTER = 300 }; /* the client takes 1024 at once */
  kv_dir_make();
  svc s;
  if (start_on_file(&s, NULL) != 0) {
    svc_stop(&s);
    kv_dir_remove();
    return;
  }
  tracker t;
  tracker_init(&t, N);
  int sent = 0;
  for (int i = 0; i < N; i++) {
    char json[64];
    snprintf(json, sizeof json, "[\"k:%05d\", %d]", i, i);
    iso_buf args = mp_of(json);
    iso_job j = {.kind = ISO_JOB_CALL,
                 .module = "kv_put.js",
                 .args = args.data,
                 .args_len = args.len};
    sent += tracker_submit_ok(&t, s.c, i, j, 30000) == 0;
    iso_buf_close(&args);
    if (i == 64) { /* let the first ones in before the kill is armed */
      tracker_wait(&t, 1, 10000);
    }
  }
  CHECK_EQ(sent, N);
  tracker_wait(&t, KILL_AFTER, 30000);
  CHECK(tracker_done(&t) < N); /* killed in the middle of the writes */
  kill(s.pid, SIGKILL);
  CHECK_EQ(daemon_wait(&s.pid, 10000), -1); /* by a signal */
  iso_client_free(s.c); /* what was in flight is never answered */
  s.c = NULL;
  int answered = 0;
  char* answered_ok = calloc(N, 1);
  pthread_mutex_lock(&t.mu);
  for (int i = 0; i < N; i++) {
    if (t.r[i].calls > 0 && t.r[i].status == ISO_STATUS_FULFILLED) {
      answered_ok[i] = 1;
      answered++;
    }
  }
  pthread_mutex_unlock(&t.mu);
  tracker_free(&t);
  svc_stop(&s);
  fprintf(stderr, "    %d of %d jobs answered before the kill\n", answered, N);
  CHECK(answered >= KILL_AFTER / 2);

  if (start_on_file(&s, NULL) != 0) {
    svc_stop(&s);
    kv_dir_remove();
    free(answered_ok);
    return;
  }
  char* v = js_value(&s,
                     "const l = await kv.list({ prefix: 'k:', limit: 100000 "
                     "});\n"
                     "return ',' + l.map((e) => e.key + '=' + e.value).join("
                     "',') + ',';",
                     (jobopt){0});
  int missing = 0;
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof want, ",k:%05d=%d,", i, i);
    if (answered_ok[i] && strstr(v, want) == NULL) {
      if (missing++ < 5) {
        fprintf(stderr, "  answered, but not in the store: k:%05d\n", i);
      }
    }
  }
  CHECK_EQ(missing, 0);
  free(v);
  free(answered_ok);
  expect_js(&s, "await kv.set('after', 1); return kv.get('after');",
            (jobopt){0}, "1");
  svc_stop(&s);
  kv_dir_remove();
}

/* A second daemon on the file of a running one exits 1 and says why; the
 * first goes on serving the store, and its status names the file. */
static void t_kv_file_in_use(void) {
  kv_dir_make();
  char admin_path[DAEMON_PATH_LEN], admin_url[DAEMON_URL_LEN];
  char admin_log[DAEMON_PATH_LEN];
  daemon_names("kvadm", admin_path, admin_url, admin_log);
  const char* extra[] = {"--kv-path", g_kvfile,  "--kv-sync", "full",
                         "--admin",   admin_url, NULL};
  svc s;
  if (svc_start(&s, extra) != 0) {
    svc_stop(&s);
    kv_dir_remove();
    return;
  }
  expect_js(&s, "return kv.increment('n');", (jobopt){0}, "1");
  const char* pc[] = {POOLCTL, "--admin", admin_url, "--json", "status", NULL};
  proc_result r;
  CHECK_EQ(proc_run(NULL, pc, 30, &r), 0);
  CHECK_EQ(r.status, 0);
  char want_kv[160];
  snprintf(want_kv, sizeof want_kv, "\"kv\":\"%s\"", g_kvfile);
  CHECK_CONTAINS(r.out, want_kv);
  proc_result_free(&r);
  pc[3] = "status"; /* and in words */
  pc[4] = NULL;
  CHECK_EQ(proc_run(NULL, pc, 30, &r), 0);
  snprintf(want_kv, sizeof want_kv, "kv          %s\n", g_kvfile);
  CHECK_CONTAINS(r.out, want_kv);
  proc_result_free(&r);
  char path[DAEMON_PATH_LEN], url[DAEMON_URL_LEN], log[DAEMON_PATH_LEN];
  daemon_names("kv2", path, url, log);
  const char* argv[] = {ISOPOOL, "serve",     "--listen", url,       "--admin",
                        "none",  "--kv-path", g_kvfile,   "--quiet", NULL};
  pid_t pid = daemon_spawn(argv, log);
  CHECK_EQ(daemon_wait(&pid, 10000), 1);
  char* text = get_file("/", log + 1);
  char want[256];
  snprintf(want, sizeof want,
           "isopool: kv file \"%s\" is in use: another isopool (or another "
           "store in this one) has it open, and a kv file serves one service "
           "at a time\n",
           g_kvfile);
  CHECK_CONTAINS(text, want);
  free(text);
  daemon_clean(log, path);
  expect_js(&s, "return kv.increment('n');", (jobopt){0}, "2");
  svc_stop(&s);
  kv_dir_remove();
}

static const iso_test cases[] = {
    {"kv_file_restart", t_kv_file_restart},
    {"kv_file_killed", t_kv_file_killed},
    {"kv_file_in_use", t_kv_file_in_use},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .case_teardown = kv_dir_remove};
  return iso_test_run(argc, argv, &suite);
}
