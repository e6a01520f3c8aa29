/* test_snapshot.c: the startup snapshot of the prelude (isolate/README.md,
 * "The startup snapshot"): its header check refuses a blob that does not
 * fit this process and the process falls back to running the prelude, with
 * one warning; contexts from it do not share a Math.random state or a time
 * origin frozen at build time. In-process through the runtime, and end to
 * end through `isopool run`. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "proc.h"
#include "rt_harness.h"
#include "tap.h"
#include "v8s.h"

#define FIXTURES ISO_FIXTURES "/run"
#define ISOPOOL ISO_BIN_DIR "/isopool"

/* A copy of the embedded blob with the header line `key` given `value`
 * (same length: the header keeps its layout), written to a temporary
 * file; returns its path (static storage). */
static const char* bad_blob(const char* key, char value) {
  static char path[64];
  size_t n = iso_snapshot_blob_len;
  unsigned char* b = malloc(n);
  CHECK(b != NULL);
  memcpy(b, iso_snapshot_blob, n);
  char needle[32];
  snprintf(needle, sizeof(needle), "\n%s ", key);
  char* at = strstr((char*)b, needle);
  CHECK(at != NULL);
  at += strlen(needle);
  *at = *at == value ? (char)(value + 1) : value;
  snprintf(path, sizeof(path), "/tmp/iso-snap-XXXXXX");
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, b, n) == (ssize_t)n);
  close(fd);
  free(b);
  return path;
}

/* the embedded blob fits; each header field changed, or a header cut
 * short, does not, and says why */
static void t_header_check(void) {
  rt_init_process();
  const char* why = NULL;
  CHECK(iso_snapshot_blob_len > 4096);
  CHECK_EQ(v8s_snapshot_check(iso_snapshot_blob, iso_snapshot_blob_len, &why),
           0);
  CHECK_EQ(v8s_snapshot_used(), 1);
  const struct {
    const char* key;
    const char* why;
  } cases[] = {
      {"v8", "made by another V8 version"},
      {"flags", "made with other V8 flags"},
      {"build", "made from another prelude or shim"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    unsigned char* b = malloc(iso_snapshot_blob_len);
    CHECK(b != NULL);
    memcpy(b, iso_snapshot_blob, iso_snapshot_blob_len);
    char needle[32];
    snprintf(needle, sizeof(needle), "\n%s ", cases[i].key);
    char* at = strstr((char*)b, needle);
    CHECK(at != NULL);
    at[strlen(needle)] ^= 1;
    why = NULL;
    CHECK_EQ(v8s_snapshot_check(b, iso_snapshot_blob_len, &why), ISO_EINVAL);
    CHECK_STR(why != NULL ? why : "", cases[i].why);
    free(b);
  }
  /* a byte of V8's part changed: its sum says so (V8 does not check its
   * own at each isolate: --no-verify-snapshot-checksum) */
  unsigned char* damaged = malloc(iso_snapshot_blob_len);
  CHECK(damaged != NULL);
  memcpy(damaged, iso_snapshot_blob, iso_snapshot_blob_len);
  damaged[iso_snapshot_blob_len - 100] ^= 0x40;
  why = NULL;
  CHECK_EQ(v8s_snapshot_check(damaged, iso_snapshot_blob_len, &why),
           ISO_EINVAL);
  CHECK_STR(why != NULL ? why : "", "its V8 part is damaged (its sum differs)");
  free(damaged);
  why = NULL;
  CHECK_EQ(v8s_snapshot_check(iso_snapshot_blob, 30, &why), ISO_EINVAL);
  CHECK(why != NULL);
  CHECK_EQ(v8s_snapshot_check(NULL, 0, &why), ISO_EINVAL);
  CHECK_STR(why, "this build has no snapshot");
  static const unsigned char other[] = "isopool-snapshot 2 000032\n";
  CHECK_EQ(v8s_snapshot_check(other, sizeof(other), &why), ISO_EINVAL);
  CHECK_STR(why, "not a snapshot of this format");
}

/* a process given a blob that does not fit runs every context through
 * the prelude: the program's output is the same, and stderr has one
 * warning line */
static void t_bad_blob_falls_back(void) {
  const char* path = bad_blob("v8", '0');
  setenv("ISOPOOL_SNAPSHOT", path, 1);
  const char* argv[] = {ISOPOOL, "run", "hello.js", NULL};
  proc_result r;
  CHECK(proc_run(FIXTURES, argv, 60, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "1\nOne\n");
  CHECK_STR(r.err,
            "isopool: the startup snapshot is not used (made by another V8 "
            "version): every context runs the prelude\n");
  proc_result_free(&r);
  unsetenv("ISOPOOL_SNAPSHOT");
  unlink(path);
}

/* the warning is the process's, not each isolate's: three runtimes (three
 * isolates) in one process on a blob that does not fit write one line,
 * and their contexts work */
static void t_one_warning_per_process(void) {
  const char* path = bad_blob("build", '0');
  setenv("ISOPOOL_SNAPSHOT", path, 1);
  char errs[] = "/tmp/iso-snap-err-XXXXXX";
  int fd = mkstemp(errs);
  CHECK(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  CHECK(dup2(fd, 2) == 2);
  rt_init_process();
  for (int i = 0; i < 3; i++) {
    rt_root();
    rt_write("main.js", "export default typeof performance.now();\n");
    rt_expect_value("main.js", "\"number\"");
  }
  fflush(stderr);
  CHECK(dup2(saved, 2) == 2);
  close(saved);
  CHECK_EQ(v8s_snapshot_used(), 0);
  char buf[4096] = {0};
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  close(fd);
  unlink(errs);
  CHECK_STR(buf,
            "isopool: the startup snapshot is not used (made from another "
            "prelude or shim): every context runs the prelude\n");
  unsetenv("ISOPOOL_SNAPSHOT");
  unlink(path);
}

typedef struct value_seen {
  int done;
  uint8_t mp[16];
  size_t len;
} value_seen;

static void value_cb(iso_realm* realm,
                     void* data,
                     int status,
                     const uint8_t* mp,
                     size_t len,
                     const iso_js_error* err) {
  value_seen* v = data;
  CHECK_EQ(status, 0);
  CHECK(len <= sizeof(v->mp));
  if (len <= sizeof(v->mp)) {
    memcpy(v->mp, mp, len);
    v->len = len;
  }
  v->done = 1;
}

/* two contexts of one isolate, both from the snapshot, draw different
 * Math.random sequences (V8 resets a context's state when it serializes
 * it; each context seeds its own on first use) */
static void t_random_differs_between_contexts(void) {
  const char* root = rt_root();
  rt_write("r.js", "export default Math.random();\n");
  rt_init_process();
  CHECK_EQ(v8s_snapshot_used(), 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = root};
  CHECK(iso_rt_new(&ro, &rt) == 0);
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/r.js", root);
  value_seen seen[2];
  memset(seen, 0, sizeof(seen));
  iso_realm* realms[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) {
    iso_realm_cbs cbs = {0};
    CHECK(iso_realm_new(rt, &cbs, NULL, &realms[i]) == 0);
    iso_eval_opts eo = {.specifier = spec};
    CHECK(iso_realm_eval(realms[i], &eo, value_cb, &seen[i]) == 0);
    while (!seen[i].done && uv_run(&loop, UV_RUN_ONCE) != 0) {
    }
    CHECK(seen[i].done);
  }
  CHECK_EQ(seen[0].len, 9); /* a float 64 */
  CHECK_EQ(seen[1].len, 9);
  CHECK(memcmp(seen[0].mp, seen[1].mp, 9) != 0);
  for (int i = 0; i < 2; i++) {
    iso_realm_free(realms[i]);
  }
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

static double wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

/* two processes draw different Math.random values, and each one's
 * performance.timeOrigin is its own start (between the test's clock
 * before and after the run), not the build's; Date is live */
static void t_random_and_time_per_process(void) {
  char path[] = "/tmp/iso-snap-XXXXXX.js";
  int fd = mkstemps(path, 3);
  CHECK(fd >= 0);
  const char* js =
      "console.log(Math.random(), performance.timeOrigin, Date.now(),\n"
      "  Math.abs(performance.timeOrigin + performance.now() - Date.now())\n"
      "    < 1000, JSON.stringify(performance) ===\n"
      "    JSON.stringify({ timeOrigin: performance.timeOrigin }));\n";
  CHECK(write(fd, js, strlen(js)) == (ssize_t)strlen(js));
  close(fd);
  const char* argv[] = {ISOPOOL, "run", path, NULL};
  double random[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    double before = wall_ms();
    proc_result r;
    CHECK(proc_run("/tmp", argv, 60, &r) == 0);
    double after = wall_ms();
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.err, "");
    double origin = 0, date = 0;
    char live[8] = {0}, json[8] = {0};
    CHECK_EQ(sscanf(r.out, "%lf %lf %lf %7s %7s", &random[i], &origin, &date,
                    live, json),
             5);
    CHECK(origin >= before - 1 && origin <= after + 1);
    CHECK(date >= origin && date <= after + 1);
    CHECK_STR(live, "true");
    CHECK_STR(json, "true");
    proc_result_free(&r);
  }
  CHECK(random[0] != random[1]);
  unlink(path);
}

static const iso_test cases[] = {
    {"header_check", t_header_check},
    {"bad_blob_falls_back", t_bad_blob_falls_back},
    {"one_warning_per_process", t_one_warning_per_process},
    {"random_differs_between_contexts", t_random_differs_between_contexts},
    {"random_and_time_per_process", t_random_and_time_per_process},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
