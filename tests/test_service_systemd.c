/* test_service_systemd.c: `isopool serve` under a service manager: the
 * config file (--config, cli/config.h), sd_notify (READY, RELOADING,
 * STOPPING, WATCHDOG) and SIGHUP, and the unit files (deploy/systemd).
 *
 * The service manager's side is played by the case: a datagram socket
 * named by NOTIFY_SOCKET in the daemon's environment, as systemd gives
 * it, read for the daemon's messages. Each case starts the real daemon
 * and talks to it over NNG (support/service.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_client.h"
#include "iso_proto.h"
#include "proc.h"
#include "service.h"
#include "tap.h"

#define FIXTURES ISO_FIXTURES "/service"

#ifndef ISO_DEPLOY_DIR
#error "ISO_DEPLOY_DIR: the configured unit files (build/deploy)"
#endif

/* The service manager's end: a bound datagram socket. */
typedef struct notify {
  int fd;
  char path[108];
} notify;

/* Opens the socket and names it in NOTIFY_SOCKET (and WATCHDOG_USEC when
 * watchdog_usec > 0) for the daemons this case starts. */
static int notify_open(notify* n, long watchdog_usec) {
  static int seq;
  snprintf(n->path, sizeof n->path, "/tmp/isopool-notify-%d-%d.sock",
           (int)getpid(), seq++);
  unlink(n->path);
  n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", n->path);
  CHECK(n->fd >= 0);
  if (n->fd < 0 || bind(n->fd, (struct sockaddr*)&a, sizeof a) != 0) {
    CHECK(0);
    return -1;
  }
  setenv("NOTIFY_SOCKET", n->path, 1);
  if (watchdog_usec > 0) {
    char v[32];
    snprintf(v, sizeof v, "%ld", watchdog_usec);
    setenv("WATCHDOG_USEC", v, 1);
  } else {
    unsetenv("WATCHDOG_USEC");
  }
  return 0;
}

static void notify_close(notify* n) {
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  if (n->fd >= 0) {
    close(n->fd);
  }
  unlink(n->path);
}

/* The next message, within timeout_ms, into buf. Returns its length, or
 * -1 when none came. */
static int notify_next(notify* n, int timeout_ms, char* buf, size_t cap) {
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t k = recv(n->fd, buf, cap - 1, 0);
  if (k < 0) {
    return -1;
  }
  buf[k] = '\0';
  return (int)k;
}

/* Reads messages until one has the line `want` (within timeout_ms,
 * scaled), skipping WATCHDOG=1 pings unless asked for. The message goes
 * into buf. Returns 1 if it came. */
static int notify_wait(notify* n,
                       const char* want,
                       int timeout_ms,
                       char* buf,
                       size_t cap) {
  int64_t end = now_ms() + (int64_t)(timeout_ms * iso_test_scale());
  size_t wl = strlen(want);
  while (now_ms() < end) {
    if (notify_next(n, (int)(end - now_ms()) + 1, buf, cap) < 0) {
      return 0;
    }
    for (const char* p = buf; p != NULL && *p; p = strchr(p, '\n')) {
      p += *p == '\n';
      if (strncmp(p, want, wl) == 0 && (p[wl] == '\n' || p[wl] == '\0')) {
        return 1;
      }
    }
  }
  return 0;
}

static void write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* A directory of the case's own: a module root and a config file. */
static void case_dir(char* dir, size_t cap) {
  snprintf(dir, cap, "/tmp/isopool-sd-%d-XXXXXX", (int)getpid());
  CHECK(mkdtemp(dir) != NULL);
}

static void rm_dir(const char* dir) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK_EQ(system(cmd), 0);
}

/* The value of a call of m.js's default export, as JSON. */
static void expect_m(svc* s, const char* want) {
  iso_buf keep;
  expect_value(s, call_job("m.js", NULL, "[]", &keep), want);
  iso_buf_close(&keep);
}

/* READY=1 once the workers are up (STATUS says how many), WATCHDOG=1
 * pings at half of WATCHDOG_USEC, STOPPING=1 at SIGTERM, exit 0. */
static void t_notify_lifecycle(void) {
  notify n;
  if (notify_open(&n, 200000) != 0) {
    return;
  }
  const char* flags[] = {"--workers", "2", NULL};
  svc s;
  int rc = svc_start(&s, flags, 0);
  char msg[512];
  if (rc == 0) {
    CHECK(notify_wait(&n, "READY=1", 5000, msg, sizeof msg));
    CHECK_CONTAINS(msg, "STATUS=running: 2 of 2 workers up");
    /* about 5 pings a second: 3 within 1.5 s even on a busy machine */
    int pings = 0;
    int64_t end = now_ms() + (int64_t)(1500 * iso_test_scale());
    while (pings < 3 && now_ms() < end &&
           notify_next(&n, (int)(end - now_ms()) + 1, msg, sizeof msg) > 0) {
      pings += strcmp(msg, "WATCHDOG=1") == 0;
    }
    CHECK_EQ(pings, 3);
    kill(s.pid, SIGTERM);
    CHECK(notify_wait(&n, "STOPPING=1", 5000, msg, sizeof msg));
    CHECK_EQ(daemon_wait(&s.pid, 8000), 0);
  }
  svc_stop(&s);
  notify_close(&n);
}

/* Without NOTIFY_SOCKET nothing is sent and nothing changes (the daemon
 * of every other suite); with it but no WATCHDOG_USEC, no pings. */
static void t_no_watchdog_no_pings(void) {
  notify n;
  if (notify_open(&n, 0) != 0) {
    return;
  }
  svc s;
  char msg[512];
  if (svc_start(&s, NULL, 0) == 0) {
    CHECK(notify_wait(&n, "READY=1", 5000, msg, sizeof msg));
    CHECK_EQ(notify_next(&n, 600, msg, sizeof msg), -1);
  }
  svc_stop(&s);
  notify_close(&n);
}

/* SIGHUP: RELOADING=1 then READY=1; modules load again (a changed module
 * gives its new value, where before the signal the warm realm kept the
 * old); the config file is read again: log-level applies at once, another
 * changed key is named as waiting for a restart; a file that no longer
 * parses changes nothing and the service goes on. */
static void t_sighup_reloads(void) {
  char dir[128], conf[200], mod[200], buf[600];
  case_dir(dir, sizeof dir);
  snprintf(conf, sizeof conf, "%s/isopool.conf", dir);
  snprintf(mod, sizeof mod, "%s/m.js", dir);
  write_file(mod, "export default () => 1;\n");
  write_file(conf, "[serve]\nlog-level = warn\ntimeout = 20000\n");
  notify n;
  if (notify_open(&n, 0) != 0) {
    rm_dir(dir);
    return;
  }
  const char* flags[] = {"--config", conf, "--modules", dir, NULL};
  svc s;
  if (svc_start(&s, flags, 0) == 0) {
    CHECK(notify_wait(&n, "READY=1", 5000, buf, sizeof buf));
    expect_m(&s, "1");
    write_file(mod, "export default () => 2;\n");
    expect_m(&s, "1"); /* the warm realm keeps what it loaded */
    write_file(conf, "[serve]\nlog-level = info\ntimeout = 100\n");
    kill(s.pid, SIGHUP);
    CHECK(notify_wait(&n, "RELOADING=1", 5000, buf, sizeof buf));
    CHECK(notify_wait(&n, "READY=1", 5000, buf, sizeof buf));
    expect_m(&s, "2");
    CHECK(daemon_wait_log(s.log, "SIGHUP: the log level is now info", 2000));
    CHECK(daemon_wait_log(s.log, "SIGHUP: changed in", 2000));
    CHECK(daemon_log_lines(s.log, "for the next start (not live): timeout\n"));
    CHECK(!daemon_log_lines(s.log, "log-level")); /* applied, not deferred */
    /* info lines show now (under warn, the reload's were not logged) */
    CHECK(daemon_wait_log(s.log, "modules reloaded", 2000));
    /* a file gone bad: the error is logged, the service goes on */
    write_file(conf, "[serve]\nlog-levle = debug\n");
    kill(s.pid, SIGHUP);
    CHECK(notify_wait(&n, "READY=1", 5000, buf, sizeof buf));
    CHECK(daemon_wait_log(s.log,
                          "unknown key \"log-levle\" (did you mean "
                          "\"log-level\"?); the running config stays",
                          2000));
    write_file(mod, "export default () => 3;\n");
    expect_m(&s, "3"); /* the modules were still reloaded */
    /* and a value an option refuses */
    write_file(conf, "[serve]\nmax-queue = 0\n");
    kill(s.pid, SIGHUP);
    CHECK(notify_wait(&n, "READY=1", 5000, buf, sizeof buf));
    CHECK(daemon_wait_log(s.log, "does not make a valid command line", 2000));
    expect_m(&s, "3");
  }
  svc_stop(&s);
  notify_close(&n);
  rm_dir(dir);
}

/* Without --config, SIGHUP reloads the modules only; SIGHUP never ends the
 * service (before this, its default action killed it). */
static void t_sighup_without_config(void) {
  char dir[128], mod[200];
  case_dir(dir, sizeof dir);
  snprintf(mod, sizeof mod, "%s/m.js", dir);
  write_file(mod, "export default () => 'a';\n");
  const char* flags[] = {"--modules", dir, NULL};
  svc s;
  if (svc_start(&s, flags, 0) == 0) {
    expect_m(&s, "\"a\"");
    write_file(mod, "export default () => 'b';\n");
    for (int i = 0; i < 3; i++) {
      kill(s.pid, SIGHUP);
    }
    sleep_ms(300);
    expect_m(&s, "\"b\"");
  }
  svc_stop(&s);
  rm_dir(dir);
}

/* The file's keys become options; the command line's replace a key's
 * every line (listen here); `key = true` for a flag. */
static void t_config_file_options(void) {
  char dir[128], conf[200], buf[600];
  case_dir(dir, sizeof dir);
  snprintf(conf, sizeof conf, "%s/isopool.conf", dir);
  svc s;
  memset(&s, 0, sizeof s);
  daemon_names("sdc", s.path, s.url, s.log);
  char text[600];
  snprintf(text, sizeof text,
           "# a comment\n; another\n\n[serve]\nworkers = 1\n"
           "listen = ipc://%s/never.ipc\nlisten = ipc://%s/never2.ipc\n"
           "quiet = false\nadmin = none\nmodules = %s\n",
           dir, dir, FIXTURES);
  write_file(conf, text);
  notify n;
  if (notify_open(&n, 0) != 0) {
    rm_dir(dir);
    return;
  }
  const char* argv[] = {ISO_BIN_DIR "/isopool",
                        "serve",
                        "--config",
                        conf,
                        "--listen",
                        s.url,
                        NULL};
  CHECK_EQ(iso_client_new(s.url, NULL, &s.c), 0);
  if (s.c != NULL &&
      daemon_start(argv, s.log, s.c, "export default 1;", &s.pid) == 0) {
    CHECK(notify_wait(&n, "READY=1", 5000, buf, sizeof buf));
    CHECK_CONTAINS(buf, "1 of 1 workers up");
    CHECK(daemon_wait_log(s.log, "serving on", 2000));
    char never[200];
    snprintf(never, sizeof never, "%s/never.ipc", dir);
    CHECK(access(never, F_OK) != 0); /* the command line's listen only */
    CHECK(!daemon_log_lines(s.log, "never"));
  }
  svc_stop(&s);
  notify_close(&n);
  rm_dir(dir);
}

/* What a config file may not do: each refused at start with exit 2 and a
 * line that names the file, the line and what is wrong. */
typedef struct bad_conf {
  const char* name;
  const char* text;
  const char* says;
} bad_conf;

static const bad_conf kBad[] = {
    {"typo", "wokers = 2\n",
     ":1: unknown key \"wokers\" (did you mean "
     "\"workers\"?)"},
    {"section", "[front]\nworkers = 2\n", ":2: section [front]: only [serve]"},
    {"flag_value", "quiet = yes\n", ":1: key \"quiet\" takes true or false"},
    {"config_in_config", "config = /etc/passwd\n", ":1: unknown key"},
    {"not_key_value", "workers\n", ":1: not a `key = value` line"},
    {"value_checked", "workers = 0\n", "--workers"},
};

static void run_bad(const void* row) {
  const bad_conf* b = row;
  char dir[128], conf[200];
  case_dir(dir, sizeof dir);
  snprintf(conf, sizeof conf, "%s/isopool.conf", dir);
  write_file(conf, b->text);
  const char* argv[] = {ISO_BIN_DIR "/isopool",
                        "serve",
                        "--config",
                        conf,
                        "--admin",
                        "none",
                        NULL};
  proc_result r;
  CHECK_EQ(proc_run(NULL, argv, 20, &r), 0);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, b->says);
  if (strcmp(b->name, "value_checked") != 0) {
    CHECK_CONTAINS(r.err, conf);
  }
  proc_result_free(&r);
  /* and a file that is not there */
  const char* gone[] = {ISO_BIN_DIR "/isopool", "serve", "--config",
                        "/nonexistent/isopool.conf", NULL};
  CHECK_EQ(proc_run(NULL, gone, 20, &r), 0);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err,
                 "cannot read the config file "
                 "/nonexistent/isopool.conf: No such file");
  proc_result_free(&r);
  rm_dir(dir);
}

/* The unit files pass systemd-analyze verify (with ExecStart pointed at
 * the built binary, which verify wants to exist). Skipped where
 * systemd-analyze is not installed. */
static void t_units_verify(void) {
  if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
    fprintf(stderr, "    skipped: no systemd-analyze here\n");
    return;
  }
  char dir[128];
  case_dir(dir, sizeof dir);
  const char* units[] = {"isopool.service", "isopool@.service"};
  for (int i = 0; i < 2; i++) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "sed 's|^ExecStart=[^ ]*/isopool |ExecStart=%s/isopool |' "
             "'%s/%s' > '%s/%s'",
             ISO_BIN_DIR, ISO_DEPLOY_DIR, units[i], dir, units[i]);
    CHECK_EQ(system(cmd), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, units[i]);
    const char* argv[] = {"/usr/bin/systemd-analyze", "verify", "--man=no",
                          path, NULL};
    proc_result r;
    CHECK_EQ(proc_run(dir, argv, 60, &r), 0);
    if (r.status != 0 || r.err[0] != '\0') {
      fprintf(stderr, "    %s: %s%s\n", units[i], r.out, r.err);
    }
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.err, "");
    proc_result_free(&r);
  }
  rm_dir(dir);
}

int main(int argc, char** argv) {
  static const iso_test cases[] = {
      {"notify_lifecycle", t_notify_lifecycle},
      {"no_watchdog_no_pings", t_no_watchdog_no_pings},
      {"sighup_reloads", t_sighup_reloads},
      {"sighup_without_config", t_sighup_without_config},
      {"config_file_options", t_config_file_options},
      {"units_verify", t_units_verify},
      {NULL, NULL},
  };
  return iso_test_rows(argc, argv, kBad, sizeof kBad / sizeof kBad[0],
                       sizeof kBad[0], run_bad, cases);
}
