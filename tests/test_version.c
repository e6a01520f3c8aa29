/* test_version.c: the one version (CMakeLists.txt's project(VERSION),
 * common/iso_version.h) wherever isopool says it: `--version` of the built
 * isopool, poolctl and isopool-bench; and against the real daemon (on the
 * fixture of support/service_admin.h) the status reply's "version",
 * poolctl status, isopool_build_info{version} on --metrics, and
 * navigator.userAgent and Isopool.version in a job. Every value must be
 * the build's ISO_VERSION, so a version bump needs no edit here and a
 * literal left behind anywhere (issue 16: the status reply once said
 * 0.2.0 while CMake said 0.1.0) fails.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_version.h"
#include "json_path.h"
#include "proc.h"
#include "service_admin.h"
#include "tap.h"

#define BENCH ISO_BIN_DIR "/isopool-bench"

/* argv[0] --version: exit 0, nothing on stderr, stdout starting `first`
 * (a whole first line). Returns stdout (the caller frees it). */
static char* version_of(const char* bin, const char* first) {
  const char* argv[] = {bin, "--version", NULL};
  proc_result r;
  CHECK(proc_run(NULL, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK(strncmp(r.out, first, strlen(first)) == 0);
  if (iso_test_failed) {
    fprintf(stderr, "  %s --version: exit %d\n%s%s", bin, r.status, r.out,
            r.err);
  }
  char* out = r.out;
  r.out = NULL;
  proc_result_free(&r);
  return out;
}

/* --version of each binary; isopool's names the V8 it was built with. */
static void t_binaries(void) {
  char* out = version_of(ISO_BIN_DIR "/isopool", "isopool " ISO_VERSION "\n");
  CHECK_CONTAINS(out, "\nV8 " ISO_V8_VERSION " (libnode, Node.js ");
  CHECK(strncmp(ISO_V8_VERSION, "10.2.", 5) == 0);
  free(out);
  free(version_of(ISO_BIN_DIR "/poolctl",
                  "poolctl (isopool) " ISO_VERSION "\n"));
  free(version_of(BENCH, "isopool-bench (isopool) " ISO_VERSION "\n"));
  /* the version is a version: MAJOR.MINOR.PATCH, from CMake */
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", ISO_VERSION_MAJOR, ISO_VERSION_MINOR,
           ISO_VERSION_PATCH);
  CHECK_STR(ISO_VERSION, want);
}

/* The running service: status (raw and through poolctl), /metrics and
 * what a job sees. */
static void t_service(void) {
  svc s;
  if (svc_start(&s, &(svc_opts){.metrics = 1}) != 0) {
    svc_stop(&s);
    return;
  }
  char* st = admin(&s, ISO_ADMIN_STATUS);
  CHECK(js_is(st, "version", ISO_VERSION));
  if (iso_test_failed) {
    fprintf(stderr, "  status: %s\n", st);
  }
  free(st);

  proc_result r;
  PC(&s, &r, "status");
  CHECK_EQ(r.status, 0);
  CHECK(strncmp(r.out, "version     " ISO_VERSION "\n",
                strlen("version     " ISO_VERSION "\n")) == 0);
  show(&r);
  proc_result_free(&r);

  /* a job: navigator.userAgent and Isopool.version, sent by poolctl */
  char path[128];
  snprintf(path, sizeof path, "/tmp/isopool-version-%d.js", (int)getpid());
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs("export default [navigator.userAgent, Isopool.version];\n", f);
    fclose(f);
  }
  const char* eval[] = {POOLCTL, "--url", s.url, "eval", path, NULL};
  CHECK(proc_run(NULL, eval, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[\"isopool/" ISO_VERSION "\",\"" ISO_VERSION "\"]\n");
  show(&r);
  proc_result_free(&r);
  unlink(path);

  /* isopool_build_info on --metrics, fetched by curl (scripts/deps.sh) */
  const char* get[] = {"/usr/bin/curl", "-sS", "-f", s.metrics_url, NULL};
  if (access(get[0], X_OK) != 0) {
    fprintf(stderr, "  skipped /metrics: %s is not installed\n", get[0]);
  } else {
    CHECK(proc_run(NULL, get, 30, &r) == 0);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out,
                   "\nisopool_build_info{version=\"" ISO_VERSION "\"} 1\n");
    if (iso_test_failed) {
      fprintf(stderr, "  curl exit %d: %s\n", r.status, r.err);
    }
    proc_result_free(&r);
  }
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"binaries", t_binaries},
    {"service", t_service},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
