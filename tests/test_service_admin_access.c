/* test_service_admin_access.c: who may use the admin plane and what it
 * logs (pool/admin.c, cli/isopool.c, pool/log.c): --admin-token and
 * --admin-token-file, the admin socket's modes and its default location
 * (which poolctl finds by itself), and --log-format json.
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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_json.h"
#include "json_check.h"
#include "json_path.h"
#include "proc.h"
#include "service_admin.h"
#include "tap.h"

/* --admin-token and --admin-token-file: no token or a wrong one is
 * refused and logged (never the token); the right one works. */
static void t_token(void) {
  static const char* const tok[] = {"--admin-token", "s3cret", NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.extra = tok}) != 0) {
    svc_stop(&s);
    return;
  }
  PC_FAILS(&s, "poolctl: unauthorized: ", "status");
  proc_result r;
  PC(&s, &r, "status");
  CHECK_CONTAINS(r.err, "check --admin-token");
  proc_result_free(&r);
  PC_FAILS(&s, "poolctl: unauthorized: ", "--admin-token", "wr0ngT0ken-42",
           "status");
  PC_FAILS(&s, "unauthorized", "--admin-token", "wr0ngT0ken-42", "resize", "1");
  PC(&s, &r, "--admin-token", "wr0ngT0ken-42", "--json", "workers");
  CHECK_EQ(r.status, 1);
  CHECK(js_is(r.out, "code", "unauthorized"));
  show(&r);
  proc_result_free(&r);
  /* raw: none, wrong, a prefix of the right one */
  static const char* const bad[] = {NULL, "wr0ngT0ken-42", "s3cre", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    iso_admin_req q = areq(ISO_ADMIN_STATUS);
    if (bad[i] != NULL) {
      q.has_token = 1;
      snprintf(q.token, sizeof q.token, "%s", bad[i]);
    }
    char* rep = admin_req(&s, q);
    CHECK(js_is(rep, "code", "unauthorized"));
    free(rep);
  }
  /* the right one */
  s.token = "s3cret";
  char* out = pc_human(&s, "status", NULL);
  CHECK_CONTAINS(out, "workers     2/2 alive\n"); /* the resize was refused */
  free(out);
  char* rep = admin(&s, ISO_ADMIN_WORKERS);
  CHECK_EQ(js_len(rep, "workers"), 2);
  free(rep);
  char* log = read_log(&s);
  CHECK_CONTAINS(log, "admin: status refused: no token");
  CHECK_CONTAINS(log, "admin: status refused: wrong token");
  CHECK_CONTAINS(log, "admin: resize refused: wrong token");
  CHECK(strstr(log, "wr0ngT0ken") == NULL);
  CHECK(strstr(log, "s3cre") == NULL);
  free(log);
  svc_stop(&s);

  /* the token from a file: its first line */
  char file[64];
  snprintf(file, sizeof file, "/tmp/isopool-adm-token-%d", (int)getpid());
  FILE* f = fopen(file, "w");
  CHECK(f != NULL);
  if (f == NULL) {
    return;
  }
  fputs("fil3secret\nsecond line\n", f);
  fclose(f);
  chmod(file, 0600);
  const char* const from_file[] = {"--admin-token-file", file, NULL};
  if (svc_start(&s, &(svc_opts){.extra = from_file}) == 0) {
    PC_FAILS(&s, "unauthorized", "workers");
    PC_FAILS(&s, "unauthorized", "--admin-token", "second line", "workers");
    PC_FAILS(&s, "unauthorized", "--admin-token", "fil3secret\nsecond line",
             "workers");
    PC(&s, &r, "--admin-token-file", file, "workers");
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "  1 running ");
    show(&r);
    proc_result_free(&r);
    s.token = "fil3secret";
    out = pc_human(&s, "workers", NULL);
    CHECK_CONTAINS(out, "  0 running ");
    free(out);
    log = read_log(&s);
    CHECK(strstr(log, "fil3secret") == NULL);
    CHECK(strstr(log, "second line") == NULL);
    free(log);
  }
  svc_stop(&s);
  unlink(file);
}

static int mode_of(const char* path, int* is_sock, int* is_dir) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "  stat %s: %s\n", path, strerror(errno));
    return -1;
  }
  *is_sock = S_ISSOCK(st.st_mode);
  *is_dir = S_ISDIR(st.st_mode);
  return (int)(st.st_mode & 07777);
}

/* The admin socket is 0600; by default it is
 * $XDG_RUNTIME_DIR/isopool/admin.sock in a 0700 directory, which poolctl
 * finds by itself; a directory open to others is refused. */
static void t_socket_modes(void) {
  svc s;
  int sock, dir;
  if (svc_start(&s, &(svc_opts){0}) == 0) {
    CHECK_EQ(mode_of(s.admin_path, &sock, &dir), 0600);
    CHECK(sock);
  }
  svc_stop(&s);

  const char* old = getenv("XDG_RUNTIME_DIR");
  char* saved = old != NULL ? strdup(old) : NULL;
  char xdg[] = "/tmp/isopool-adm-xdg-XXXXXX";
  CHECK(mkdtemp(xdg) != NULL);
  chmod(xdg, 0700);
  setenv("XDG_RUNTIME_DIR", xdg, 1);
  char sub[96], path[128], url[160];
  snprintf(sub, sizeof sub, "%s/isopool", xdg);
  snprintf(path, sizeof path, "%s/admin.sock", sub);
  snprintf(url, sizeof url, "ipc://%s", path);
  if (svc_start(&s, &(svc_opts){.default_admin = 1}) == 0) {
    CHECK_EQ(mode_of(sub, &sock, &dir), 0700);
    CHECK(dir);
    CHECK_EQ(mode_of(path, &sock, &dir), 0600);
    CHECK(sock);
    const char* argv[] = {POOLCTL, "status", NULL};
    proc_result r;
    CHECK(proc_run(NULL, argv, 30, &r) == 0);
    CHECK_EQ(r.status, 0);
    char want[192];
    snprintf(want, sizeof want, "admin       %s\n", url);
    CHECK_CONTAINS(r.out, want);
    show(&r);
    proc_result_free(&r);
  }
  svc_stop(&s);
  unlink(path);
  rmdir(sub);
  rmdir(xdg);

  /* isopool/ open to others: refused, naming it */
  char xdg2[] = "/tmp/isopool-adm-xdg-XXXXXX";
  CHECK(mkdtemp(xdg2) != NULL);
  setenv("XDG_RUNTIME_DIR", xdg2, 1);
  snprintf(sub, sizeof sub, "%s/isopool", xdg2);
  CHECK_EQ(mkdir(sub, 0755), 0);
  chmod(sub, 0755);
  char jpath[DAEMON_PATH_LEN], jurl[DAEMON_URL_LEN], log[DAEMON_PATH_LEN];
  daemon_names("adm", jpath, jurl, log);
  const char* argv[] = {ISOPOOL,     "serve",  "--listen",  jurl,
                        "--modules", FIXTURES, "--workers", "1",
                        "--quiet",   NULL};
  pid_t pid = daemon_spawn(argv, log);
  int rc = daemon_wait(&pid, 10000);
  CHECK(rc > 0);
  FILE* f = fopen(log, "r");
  char text[2048] = "";
  if (f != NULL) {
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
  }
  CHECK_CONTAINS(text, sub);
  fprintf(stderr, "    refused: %s", text);
  CHECK_EQ(mode_of(sub, &sock, &dir), 0755); /* left as it was */
  snprintf(path, sizeof path, "%s/admin.sock", sub);
  CHECK(access(path, F_OK) != 0);
  daemon_clean(log, jpath);
  rmdir(sub);
  rmdir(xdg2);
  if (saved != NULL) {
    setenv("XDG_RUNTIME_DIR", saved, 1);
    free(saved);
  } else {
    unsetenv("XDG_RUNTIME_DIR");
  }
}

/* --log-format json: the admin log lines, and every other line up to the
 * exit after a drain, are JSON objects {ts, level, msg}. */
static void t_json_logs(void) {
  static const char* const flags[] = {"--log-format", "json", "--admin-token",
                                      "t0k", NULL};
  svc s;
  if (svc_start(&s, &(svc_opts){.extra = flags}) != 0) {
    svc_stop(&s);
    return;
  }
  PC_FAILS(&s, "unauthorized", "reload"); /* a warn line */
  s.token = "t0k";
  char* out = pc_human(&s, "reload", NULL);
  free(out);
  out = pc_human(&s, "resize", "3");
  free(out);
  wait_workers_running(&s, 3, 10000);
  /* and the lines of a drain to the end */
  out = pc_human(&s, "drain", NULL);
  free(out);
  CHECK_EQ(daemon_wait(&s.pid, 10000), 0);
  char* log = read_log(&s);
  int admin_lines = 0, lines = 0;
  int saw_reload = 0, saw_refused = 0, saw_resize = 0, saw_drain = 0;
  for (char* line = strtok(log, "\n"); line != NULL;
       line = strtok(NULL, "\n")) {
    lines++;
    iso_buf mp;
    iso_buf_init(&mp);
    int rc = iso_json_to_msgpack(line, strlen(line), &mp);
    char* json = rc == 0 ? json_of(mp.data, mp.len) : NULL;
    iso_buf_close(&mp);
    if (rc != 0 || json[0] != '{') {
      fprintf(stderr, "  not a JSON object: %s\n", line);
      iso_test_failed = 1;
      free(json);
      continue;
    }
    CHECK(js_num(json, "ts") > 1.6e9);
    CHECK(js_at(json, "level") != NULL && *js_at(json, "level") == '"');
    const char* msg = js_at(json, "msg");
    CHECK(msg != NULL && *msg == '"');
    if (msg != NULL && strncmp(msg, "\"admin: ", 8) == 0) {
      admin_lines++;
      saw_reload |= strncmp(msg, "\"admin: reload (all)", 20) == 0 &&
                    js_is(json, "level", "info");
      saw_refused |=
          strncmp(msg, "\"admin: reload refused: no token\"", 33) == 0 &&
          js_is(json, "level", "warn");
      saw_resize |= strncmp(msg, "\"admin: resize to 3 workers\"", 28) == 0;
      saw_drain |= strncmp(msg, "\"admin: drain", 13) == 0;
    }
    free(json);
  }
  fprintf(stderr, "    %d log lines, %d from admin commands\n", lines,
          admin_lines);
  CHECK(saw_reload);
  CHECK(saw_refused);
  CHECK(saw_resize);
  CHECK(saw_drain);
  if (iso_test_failed) {
    daemon_dump_log(s.log);
  }
  free(log);
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"token", t_token},
    {"socket_modes", t_socket_modes},
    {"json_logs", t_json_logs},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return svc_admin_main(argc, argv, cases);
}
