/* test_poolctl.c: poolctl end to end, against the real daemon.
 *
 * The suite's setup starts `isopool serve` on
 * ipc:///tmp/isopool-poolctl-<pid>-shared.ipc with fixtures/poolctl as its
 * module root and waits until a trivial call succeeds; every case's process
 * (tap.h) then runs poolctl against it the way a user would (in
 * fixtures/poolctl, so `eval local/x.js` reads a local file) and checks its
 * stdout, stderr and exit status. The last case starts a daemon of its own,
 * stops it with SIGTERM and checks that it exits 0. A daemon's own stderr
 * goes to /tmp/isopool-poolctl-<pid>-<tag>.log and is printed when it did
 * not start or stop as it should.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "proc.h"
#include "tap.h"

#define FIXTURES ISO_FIXTURES "/poolctl"
#define ISOPOOL ISO_BIN_DIR "/isopool"
#define POOLCTL ISO_BIN_DIR "/poolctl"

/* ---- the daemon --------------------------------------------------------- */

typedef struct pdaemon {
  pid_t pid; /* 0: not started; -1: gone */
  char url[128];
  char log[128];
  int up; /* answered a call */
} pdaemon;

/* The daemon the cases share: started by the suite's setup in the runner's
 * process (tap.h), so every case's process talks to the same one. */
static pdaemon shared;

static void show_daemon_log(const pdaemon* d) {
  FILE* f = fopen(d->log, "r");
  if (f == NULL) {
    return;
  }
  char line[512];
  fprintf(stderr, "  --- daemon log (%s) ---\n", d->log);
  while (fgets(line, sizeof line, f) != NULL) {
    fprintf(stderr, "  | %s", line);
  }
  fclose(f);
}

/* Runs poolctl with --url `url` first, then the arguments in ap. */
static void pc_va(const char* url, proc_result* r, va_list ap) {
  const char* argv[32] = {POOLCTL, "--url", url};
  int n = 3;
  const char* a;
  while ((a = va_arg(ap, const char*)) != NULL && n < 31) {
    argv[n++] = a;
  }
  argv[n] = NULL;
  CHECK(proc_run(FIXTURES, argv, 30, r) == 0);
}

/* Runs poolctl against d, with the NULL-terminated arguments. */
static void pc_at(const pdaemon* d, proc_result* r, ...) {
  va_list ap;
  va_start(ap, r);
  pc_va(d->url, r, ap);
  va_end(ap);
}

/* Runs poolctl against url. */
static void pc_url(const char* url, proc_result* r, ...) {
  va_list ap;
  va_start(ap, r);
  pc_va(url, r, ap);
  va_end(ap);
}
#define PC_AT(url, r, ...) pc_url(url, r, __VA_ARGS__, NULL)

/* Runs poolctl against the shared daemon. */
static void pc(proc_result* r, ...) {
  va_list ap;
  va_start(ap, r);
  pc_va(shared.url, r, ap);
  va_end(ap);
}

/* Starts d (ipc:///tmp/isopool-poolctl-<pid>-<tag>.ipc) and waits (up to
 * ~10 s) until it answers. Returns d->up. */
static int daemon_up(pdaemon* d, const char* tag) {
  memset(d, 0, sizeof *d);
  snprintf(d->url, sizeof d->url, "ipc:///tmp/isopool-poolctl-%d-%s.ipc",
           (int)getpid(), tag);
  snprintf(d->log, sizeof d->log, "/tmp/isopool-poolctl-%d-%s.log",
           (int)getpid(), tag);
  unlink(d->url + strlen("ipc://"));
  pid_t parent = getpid();
  d->pid = fork();
  if (d->pid < 0) {
    CHECK(!"fork");
    return 0;
  }
  if (d->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the suite */
    if (getppid() != parent) {
      _exit(126);
    }
    int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    const char* argv[] = {ISOPOOL,     "serve",  "--listen",  d->url,
                          "--modules", FIXTURES, "--workers", "2",
                          "--admin",   "none",   "--quiet",   NULL};
    execv(argv[0], (char* const*)argv);
    _exit(127);
  }
  /* a daemon's start (its pool processes' V8) takes longer under a
   * sanitizer or a loaded machine: the bound scales as the others do */
  double start = proc_now();
  while (proc_now() - start < 10 * iso_test_scale()) {
    proc_result r;
    pc_at(d, &r, "--timeout", "500", "call", "job.js", "1", NULL);
    int ok =
        r.status == 0 && strcmp(r.out, "{\"value\":2,\"label\":null}\n") == 0;
    proc_result_free(&r);
    if (ok) {
      d->up = 1;
      break;
    }
    if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
      fprintf(stderr, "  the daemon exited early\n");
      d->pid = -1;
      break;
    }
  }
  if (!d->up) {
    show_daemon_log(d);
  }
  return d->up;
}

/* Kills d if it still runs, and removes its socket and log. */
static void daemon_kill(pdaemon* d) {
  if (d->pid > 0) {
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = -1;
  }
  if (d->url[0] != '\0') {
    unlink(d->url + strlen("ipc://"));
    unlink(d->log);
  }
}

static int suite_setup(void) {
  return daemon_up(&shared, "shared") ? 0 : -1;
}

static void suite_teardown(void) {
  daemon_kill(&shared);
}

/* Runs poolctl against the shared daemon; a failed case shows what
 * poolctl said. */
#define PC(r, ...) pc((r), __VA_ARGS__, NULL)

static void show(const proc_result* r) {
  if (iso_test_failed) {
    fprintf(stderr, "  exit %d\n  stdout: %s\n  stderr: %s\n", r->status,
            r->out, r->err);
  }
}

/* ---- the cases ---------------------------------------------------------- */

static void t_daemon_answers(void) {
  proc_result r;
  PC(&r, "call", "job.js", "1");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "{\"value\":2,\"label\":null}\n");
  show(&r);
  proc_result_free(&r);
}

static void t_eval_file_with_args(void) {
  proc_result r;
  /* local/imports.js imports ./lib/scale.js: resolved against the module
   * root (the file is sent as source named imports.js) */
  PC(&r, "eval", "local/imports.js", "5");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "15\n");
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);
}

static void t_eval_module(void) {
  proc_result r;
  PC(&r, "eval", "--module", "job.js", "4", "hi");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "{\"value\":8,\"label\":\"hi\"}\n");
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);
}

static void t_nil_prints_null(void) {
  proc_result r;
  PC(&r, "eval", "local/no_value.js");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "null\n");
  show(&r);
  proc_result_free(&r);
}

static void t_call_with_export(void) {
  proc_result r;
  PC(&r, "call", "job.js", "--export", "add", "2", "3");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "5\n");
  show(&r);
  proc_result_free(&r);
  /* an async export, awaited; --export=NAME; the default export */
  PC(&r, "call", "--export=later", "job.js", "5");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "\"waited\"\n");
  show(&r);
  proc_result_free(&r);
  PC(&r, "call", "job.js", "21", "x");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "{\"value\":42,\"label\":\"x\"}\n");
  show(&r);
  proc_result_free(&r);
}

static void t_json_and_string_args(void) {
  proc_result r;
  PC(&r, "call", "echo.js", "1", "\"1\"", "abc", "{\"a\":[1,2]}", "-1", "true",
     "null", "a1");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out,
            "[[\"number\",1],[\"string\",\"1\"],[\"string\",\"abc\"],"
            "[\"object\",{\"a\":[1,2]}],[\"number\",-1],[\"boolean\",true],"
            "[\"object\",null],[\"string\",\"a1\"]]\n");
  show(&r);
  proc_result_free(&r);
  /* an ARG that starts like JSON but is not: an error (it was a mistake,
   * as a shell eats quotes), unless --string sends every ARG as it is */
  const char* broken[] = {"[1,", "{a:1}", "\"abc", "-5x", " [1"};
  for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
    PC(&r, "call", "echo.js", "1", broken[i]);
    CHECK_EQ(r.status, 2);
    CHECK_STR(r.out, "");
    CHECK_CONTAINS(r.err, "poolctl: ARG 2, '");
    CHECK_CONTAINS(r.err, "looks like JSON but is not: ");
    CHECK_CONTAINS(r.err, "pass --string");
    show(&r);
    proc_result_free(&r);
  }
  PC(&r, "--string", "call", "echo.js", "[1,", "1", "{\"a\":2}");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out,
            "[[\"string\",\"[1,\"],[\"string\",\"1\"],"
            "[\"string\",\"{\\\"a\\\":2}\"]]\n");
  show(&r);
  proc_result_free(&r);
  /* an option after the first ARG is a mistake, not an ARG; after --,
   * everything is an ARG */
  const char* late[] = {"--json", "--timeout", "-h", "--"};
  for (size_t i = 0; i < sizeof late / sizeof late[0]; i++) {
    PC(&r, "call", "echo.js", "x", late[i]);
    CHECK_EQ(r.status, 2);
    CHECK_STR(r.out, "");
    CHECK_CONTAINS(r.err, "after the arguments");
    show(&r);
    proc_result_free(&r);
  }
  PC(&r, "call", "echo.js", "--", "--export", "--json");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "[[\"string\",\"--export\"],[\"string\",\"--json\"]]\n");
  show(&r);
  proc_result_free(&r);
}

/* eval - reads the module from stdin */
static void t_eval_stdin(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd,
           "printf 'export default (a) => a * 3;' | '%s' --url '%s' eval - 14",
           POOLCTL, shared.url);
  const char* argv[] = {"/bin/sh", "-c", cmd, NULL};
  proc_result r;
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "42\n");
  show(&r);
  proc_result_free(&r);
  /* an error in it names stdin.js */
  snprintf(cmd, sizeof cmd,
           "printf 'throw new Error(\"boom\");' | '%s' --url '%s' eval -",
           POOLCTL, shared.url);
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "error: Uncaught Error: boom");
  CHECK_CONTAINS(r.err, "stdin.js");
  show(&r);
  proc_result_free(&r);
}

/* ping: the service's answer, printed as JSON (exit 0), from the front
 * itself (--json: no worker); a ping is not a job (not in `jobs`). */
static void t_ping(void) {
  proc_result r;
  PC(&r, "ping");
  CHECK_EQ(r.status, 0);
  CHECK(strncmp(r.out, "{\"ready\":true,\"workers\":", 24) == 0);
  CHECK_CONTAINS(r.out, ",\"in_flight\":0,\"version\":\"");
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);
  PC(&r, "--json", "ping");
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "\"status\":\"fulfilled\"");
  CHECK_CONTAINS(r.out, "\"stats\":{\"worker\":-1,");
  show(&r);
  proc_result_free(&r);
}

static void t_rejection(void) {
  proc_result r;
  PC(&r, "call", "throw.js", "foo");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK_CONTAINS(r.err,
                 "error: Uncaught TypeError: bad input: foo\n"
                 "    at fail (file://");
  CHECK_CONTAINS(r.err, "/fixtures/poolctl/throw.js:2:9)");
  show(&r);
  proc_result_free(&r);
  PC(&r, "eval", "local/syntax.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "error: Uncaught SyntaxError: Unexpected token ';'");
  CHECK_CONTAINS(r.err, "syntax.js:2:13");
  show(&r);
  proc_result_free(&r);
}

static void t_timeout_error_status(void) {
  proc_result r;
  PC(&r, "--job-timeout", "100", "eval", "--module", "loop.js");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK(strncmp(r.err, "error: timeout: ", 16) == 0);
  CHECK_CONTAINS(r.err, "100 ms");
  CHECK(r.secs < 10);
  show(&r);
  proc_result_free(&r);
  /* the worker goes on serving */
  PC(&r, "call", "job.js", "--export", "add", "1", "1");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "2\n");
  show(&r);
  proc_result_free(&r);
}

/* --timeout is sent as the job's deadline (timeout_ms): two loops whose
 * client gives up after 300 ms are stopped by the service then, so the next
 * call is answered at once. Without it each would spin on its worker until
 * the service's default (30 s) and the call would wait behind one. */
static void t_timeout_is_sent(void) {
  proc_result r;
  for (int i = 0; i < 2; i++) {
    PC(&r, "--timeout", "300", "eval", "--module", "loop.js");
    /* the service's timeout reply (exit 1), or poolctl's own if that is
     * first (exit 4: no reply in time) */
    CHECK((r.status == 1 && strstr(r.err, "error: timeout: ") == r.err) ||
          (r.status == 4 && strstr(r.err, "poolctl: no reply from") == r.err));
    CHECK(r.secs < 3 * iso_test_scale()); /* far below the 30 s */
    show(&r);
    proc_result_free(&r);
  }
  PC(&r, "--timeout", "5000", "call", "job.js", "--export", "add", "2", "2");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "4\n");
  CHECK(r.secs < 3 * iso_test_scale()); /* far below the 30 s */
  show(&r);
  proc_result_free(&r);
}

/* A value whose JSON would be too large to print (Maps keyed by Maps: the
 * text doubles at each level) is an error that says so, not 2^35 bytes. */
static void t_value_too_large_for_json(void) {
  proc_result r;
  PC(&r, "eval", "local/map_keys.js");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK_CONTAINS(r.err, "too large to print as JSON");
  CHECK(r.secs < 10);
  show(&r);
  proc_result_free(&r);
  PC(&r, "--json", "eval", "local/map_keys.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "too large to print as JSON");
  show(&r);
  proc_result_free(&r);
}

static void t_logs_on_stderr(void) {
  proc_result r;
  PC(&r, "eval", "--module", "logs.js");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "\"logged\"\n");
  CHECK_STR(r.err,
            "plain line\n[info] for your information\n[warn] careful\n"
            "[error] bad thing\n");
  show(&r);
  proc_result_free(&r);
}

/* --cpu-ms is sent as the job's cpu_ms: a loop is stopped `cpu_limit`;
 * --stats prints what a job cost, and --json carries it all. */
static void t_cpu_ms_and_stats(void) {
  proc_result r;
  PC(&r, "--cpu-ms", "20", "--stats", "eval", "--module", "loop.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "error: cpu_limit: CPU time limit exceeded: 20 ms");
  CHECK_CONTAINS(r.err, "stats: worker ");
  CHECK_CONTAINS(r.err, ", limit cpu\n");
  show(&r);
  proc_result_free(&r);
  PC(&r, "--stats", "call", "job.js", "21", "x");
  CHECK_EQ(r.status, 0);
  CHECK(strncmp(r.err, "stats: worker ", 14) == 0);
  CHECK(strstr(r.err, "limit") == NULL);
  show(&r);
  proc_result_free(&r);
  PC(&r, "--json", "--cpu-ms", "20", "eval", "--module", "loop.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.out, "\"code\":\"cpu_limit\"");
  CHECK_CONTAINS(r.out, ",\"cpu_us\":");
  CHECK_CONTAINS(r.out, ",\"wall_us\":");
  CHECK_CONTAINS(r.out, ",\"heap_bytes\":");
  CHECK_CONTAINS(r.out, ",\"ops\":0,\"limit\":\"cpu\"}}");
  show(&r);
  proc_result_free(&r);
}

static void t_json_output(void) {
  proc_result r;
  PC(&r, "--json", "call", "job.js", "21", "x");
  CHECK_EQ(r.status, 0);
  CHECK(strncmp(r.out,
                "{\"id\":1,\"status\":\"fulfilled\",\"value\":{\"value\":42,"
                "\"label\":\"x\"},\"error\":null,\"logs\":[],\"stats\":{"
                "\"worker\":",
                strlen("{\"id\":1,\"status\":\"fulfilled\",\"value\":{"
                       "\"value\":42,\"label\":\"x\"},\"error\":null,"
                       "\"logs\":[],\"stats\":{\"worker\":")) == 0);
  CHECK_CONTAINS(r.out, ",\"queue_us\":");
  CHECK_CONTAINS(r.out, ",\"run_us\":");
  CHECK_CONTAINS(r.out, ",\"limit\":null}}");
  CHECK(strlen(r.out) > 2 && strcmp(r.out + strlen(r.out) - 3, "}}\n") == 0);
  CHECK(strchr(r.out, '\n') == r.out + strlen(r.out) - 1); /* one line */
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);

  /* logs go into the object, not to stderr */
  PC(&r, "eval", "--json", "--module", "logs.js");
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out,
                 "\"status\":\"fulfilled\",\"value\":\"logged\",\"error\":"
                 "null,\"logs\":[[\"log\",\"plain line\"],[\"info\",\"for "
                 "your information\"],[\"warn\",\"careful\"],[\"error\","
                 "\"bad thing\"]],\"stats\":{");
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);

  PC(&r, "--json", "call", "throw.js", "x");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.out,
                 "\"status\":\"rejected\",\"value\":null,\"error\":{\"name\":"
                 "\"TypeError\",\"message\":\"bad input: x\",\"stack\":"
                 "\"TypeError: bad input: x\\n    at fail (file://");
  CHECK_STR(r.err, "");
  show(&r);
  proc_result_free(&r);

  PC(&r, "--json", "--job-timeout", "100", "eval", "--module", "loop.js");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.out,
                 "\"status\":\"error\",\"value\":null,\"error\":{\"code\":"
                 "\"timeout\",\"message\":\"");
  show(&r);
  proc_result_free(&r);
}

static void t_url_from_environment(void) {
  setenv("ISOPOOL_URL", shared.url, 1);
  const char* argv[] = {POOLCTL, "call", "job.js", "--export",
                        "add",   "20",   "22",     NULL};
  proc_result r;
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  unsetenv("ISOPOOL_URL");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "42\n");
  show(&r);
  proc_result_free(&r);
}

static void t_cannot_connect(void) {
  char url[128];
  snprintf(url, sizeof url, "ipc:///tmp/isopool-poolctl-nobody-%d.ipc",
           (int)getpid());
  const char* argv[] = {POOLCTL, "--url", url,      "--timeout",
                        "300",   "call",  "job.js", NULL};
  proc_result r;
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 3);
  CHECK_STR(r.out, "");
  CHECK_CONTAINS(r.err, "poolctl: cannot connect to ipc:///tmp/");
  CHECK_CONTAINS(r.err, ": no such socket /tmp/isopool-poolctl-nobody-");
  CHECK_CONTAINS(r.err, "is the service running");
  CHECK(r.secs < 1 * iso_test_scale()); /* at once, not after a wait */
  show(&r);
  proc_result_free(&r);
  /* ping likewise: a node that is not there is exit 3 */
  const char* ping[] = {POOLCTL, "--url", url, "--timeout",
                        "300",   "ping",  NULL};
  CHECK(proc_run(FIXTURES, ping, 30, &r) == 0);
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, "poolctl: cannot connect to ipc:///tmp/");
  show(&r);
  proc_result_free(&r);
  /* a socket file nobody listens on: refused, at once */
  char path[96];
  snprintf(path, sizeof path, "/tmp/isopool-poolctl-stale-%d.ipc",
           (int)getpid());
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  CHECK_EQ(bind(fd, (struct sockaddr*)&sa, sizeof sa), 0);
  snprintf(url, sizeof url, "ipc://%s", path);
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, "connection refused at /tmp/isopool-poolctl-stale-");
  CHECK(r.secs < 1 * iso_test_scale());
  show(&r);
  proc_result_free(&r);
  close(fd);
  unlink(path);
  /* a TCP port nobody listens on */
  int port = free_port();
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, "connection refused by tcp://127.0.0.1:");
  CHECK(r.secs < 1 * iso_test_scale());
  show(&r);
  proc_result_free(&r);
  /* tls+tcp:// without --tls-ca: what is missing */
  snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", port);
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "a tls+tcp:// URL needs a CA file");
  show(&r);
  proc_result_free(&r);
}

/* --url given more than once: the job goes to a node that is up (one of
 * the URLs has nobody behind it), --idempotent is taken; with nobody at
 * any URL, exit 3 saying so. */
static void t_several_urls(void) {
  char nobody[128];
  snprintf(nobody, sizeof nobody, "ipc:///tmp/isopool-poolctl-nobody-%d.ipc",
           (int)getpid());
  const char* argv[] = {POOLCTL, "--url",  nobody,     "--url", shared.url,
                        "call",  "job.js", "--export", "add",   "--idempotent",
                        "20",    "22",     NULL};
  proc_result r;
  for (int i = 0; i < 3; i++) { /* whichever node comes first */
    CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.out, "42\n");
    show(&r);
    proc_result_free(&r);
  }
  char nobody2[140];
  snprintf(nobody2, sizeof nobody2, "%s.2", nobody);
  const char* none[] = {POOLCTL,     "--url", nobody, "--url",  nobody2,
                        "--timeout", "300",   "call", "job.js", NULL};
  CHECK(proc_run(FIXTURES, none, 30, &r) == 0);
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, "none of the 2 nodes accepted a connection");
  show(&r);
  proc_result_free(&r);
}

/* --tls-ca, --tls-server-name, --tls-cert/--tls-key against a tls+tcp://
 * daemon of its own with a certificate made here (openssl): trusted and
 * named right, the call is answered; the URL's host (127.0.0.1, not the
 * certificate's localhost) or another CA, and the handshake fails at once
 * with what to check. */
static void t_tls(void) {
  char dir[] = "/tmp/isopool-pctl-tls-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char cert[96], key[96], other[96], okey[96], cmd[600], log[128];
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(other, sizeof other, "%s/other.pem", dir);
  snprintf(okey, sizeof okey, "%s/okey.pem", dir);
  snprintf(log, sizeof log, "%s/serve.log", dir);
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s "
             "-days 1 -subj /CN=localhost >/dev/null 2>&1",
             i ? okey : key, i ? other : cert);
    CHECK_EQ(system(cmd), 0);
  }
  int port = free_port();
  char url[64];
  snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", port);
  const char* serve[] = {ISOPOOL,      "serve",  "--listen",  url,
                         "--tls-cert", cert,     "--tls-key", key,
                         "--modules",  FIXTURES, "--workers", "1",
                         "--admin",    "none",   "--quiet",   NULL};
  pid_t pid = daemon_spawn(serve, log);
  CHECK(pid > 0);
  proc_result r;
  int up = 0;
  for (double t0 = proc_now();
       !up && proc_now() - t0 < 10 * iso_test_scale();) {
    PC_AT(url, &r, "--tls-ca", cert, "--tls-server-name", "localhost",
          "--tls-cert", cert, "--tls-key", key, "call", "job.js", "1");
    up = r.status == 0;
    if (up) {
      CHECK_STR(r.out, "{\"value\":2,\"label\":null}\n");
    }
    proc_result_free(&r);
  }
  CHECK(up);
  PC_AT(url, &r, "--tls-ca", cert, "call", "job.js", "1");
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, "the TLS handshake with tls+tcp://127.0.0.1:");
  CHECK_CONTAINS(r.err, "check --tls-ca, --tls-server-name");
  CHECK(r.secs < 2 * iso_test_scale());
  show(&r);
  proc_result_free(&r);
  PC_AT(url, &r, "--tls-ca", other, "--tls-server-name", "localhost", "call",
        "job.js", "1");
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, "the TLS handshake with");
  show(&r);
  proc_result_free(&r);
  PC_AT(url, &r, "--tls-ca", cert, "--tls-cert", cert, "call", "job.js", "1");
  CHECK_EQ(r.status, 2); /* a certificate without its key */
  CHECK_CONTAINS(r.err, "given both or neither");
  proc_result_free(&r);
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
  }
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_EQ(system(cmd), 0);
}

static void t_usage_errors(void) {
  static const struct {
    const char* args[6];
    const char* err; /* in stderr */
  } cases[] = {
      {{NULL}, "usage:"},
      {{"frobnicate"}, "unknown command \"frobnicate\""},
      {{"--bogus", "call", "job.js"}, "unknown option \"--bogus\""},
      {{"call", "job.js", "--bogus"}, "unknown option \"--bogus\" for call"},
      {{"eval", "--export", "f", "job.js"},
       "unknown option \"--export\" for eval"},
      {{"call", "--module", "job.js"}, "unknown option \"--module\" for call"},
      {{"eval"}, "eval needs FILE"},
      {{"call"}, "call needs SPEC"},
      {{"eval", "no/such/file.js"},
       "cannot read no/such/file.js: No such file or directory"},
      {{"eval", "local"}, "cannot read local: Is a directory"},
      {{"eval", "local/latin1.js"}, "local/latin1.js is not UTF-8 text"},
      {{"eval", "local/imports.js", "--module", "job.js"},
       "eval takes FILE or --module SPEC, not both"},
      {{"--timeout", "soon", "call", "job.js"},
       "--timeout needs a number of milliseconds, not \"soon\""},
      {{"--job-timeout", "0", "call", "job.js"},
       "--job-timeout needs a number of milliseconds"},
      {{"call", "job.js", "--export"}, "--export needs a value"},
      {{"--json=1", "call", "job.js"}, "--json takes no value"},
      {{"help", "nope"}, "unknown command \"nope\""},
      /* did you mean */
      {{"stauts"}, "unknown command \"stauts\" (did you mean status?)"},
      {{"help", "drian"}, "unknown command \"drian\" (did you mean drain?)"},
      {{"--jsno", "status"},
       "unknown option \"--jsno\" (did you mean --json?)"},
      {{"call", "job.js", "--exprot", "f"},
       "unknown option \"--exprot\" for call (did you mean --export?)"},
      {{"--tls-cert", "c.pem", "--url", "tls+tcp://127.0.0.1:1", "call",
        "job.js"},
       "TLS options cannot be used"},
      /* --permissions is checked before anything is sent */
      {{"call", "job.js", "--permissions", "{\"read\":"},
       "--permissions is not valid JSON: "},
      {{"--permissions", "[\"data\"]", "call", "job.js"},
       "--permissions: 'permissions' must be a map (got an array)"},
      {{"eval", "--permissions={\"read\":\"data\"}", "--module", "job.js"},
       "--permissions: 'permissions.read' must be true, false or an array "
       "of strings (got a string)"},
      {{"call", "job.js", "--permissions", "{\"sys\":true}"},
       "unknown key 'permissions.sys'"},
      {{"call", "job.js", "--permissions", "{\"env\":[\"HOME\",1]}"},
       "'permissions.env[1]' must be a string (got an integer)"},
      {{"call", "job.js", "--permissions"}, "--permissions needs a value"},
      /* a ping is no job: nothing but --url */
      {{"ping", "x"}, "ping takes no argument \"x\""},
      {{"--cpu-ms", "5", "ping"}, "ping takes no --cpu-ms"},
      {{"--job-timeout", "5", "ping"}, "ping takes no --job-timeout"},
      {{"ping", "--permissions", "{}"}, "ping takes no --permissions"},
      {{"ping", "--export", "f"}, "unknown option \"--export\" for ping"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char* argv[8] = {POOLCTL};
    int n = 1;
    for (int k = 0; k < 6 && cases[i].args[k] != NULL; k++) {
      argv[n++] = cases[i].args[k];
    }
    argv[n] = NULL;
    proc_result r;
    CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
    int failed = iso_test_failed;
    CHECK_EQ(r.status, 2);
    CHECK_STR(r.out, "");
    CHECK_CONTAINS(r.err, cases[i].err);
    if (iso_test_failed && !failed) {
      fprintf(stderr, "    case %zu: %s\n", i,
              cases[i].args[0] ? cases[i].args[0] : "(no arguments)");
    }
    proc_result_free(&r);
  }
}

/* The admin token is checked when the service starts: an empty one would
 * admit anyone sending "token": "", and one the admin protocol cannot carry
 * (over 256 bytes, not UTF-8) would start a service that refuses every
 * admin request. Each case stops at option parsing; the accepted tokens
 * are followed by a bad --workers, so the parse goes on past them and fails
 * there instead (no daemon starts). */
static void t_serve_token_checks(void) {
  char dir[] = "/tmp/isopool-token-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char t256[257], t257[258], empty_file[64], long_file[64], ok_file[64],
      crlf_file[64];
  memset(t256, 'k', 256);
  t256[256] = 0;
  memset(t257, 'k', 257);
  t257[257] = 0;
  struct {
    char* path;
    const char* text;
  } files[] = {{empty_file, ""},
               {long_file, t257},
               {ok_file, t256},
               {crlf_file, "s3cret\r\nsecond line\n"}};
  const char* names[] = {"empty", "long", "ok", "crlf"};
  for (int i = 0; i < 4; i++) {
    snprintf(files[i].path, 64, "%s/%s", dir, names[i]);
    FILE* f = fopen(files[i].path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
      fputs(files[i].text, f);
      fclose(f);
    }
  }
  static const char not_utf8[] = "ab\xc3\x28";
  const struct {
    const char* opt;
    const char* value;
    const char* err; /* in stderr */
  } cases[] = {
      {"--admin-token", "", "the admin token given by --admin-token is empty"},
      {"--admin-token", t257,
       "the admin token given by --admin-token is longer than the admin "
       "protocol's limit (257 bytes; at most 256)"},
      {"--admin-token", not_utf8, "is not text"},
      {"--admin-token-file", empty_file, "is empty"},
      {"--admin-token-file", long_file,
       "is longer than the admin protocol's limit (257 bytes"},
      {"--admin-token", t256, "--workers needs a number"},
      {"--admin-token-file", ok_file, "--workers needs a number"},
      {"--admin-token-file", crlf_file, "--workers needs a number"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char* argv[] = {ISOPOOL,     "serve",      "--admin",
                          "none",      cases[i].opt, cases[i].value,
                          "--workers", "0",          NULL};
    proc_result r;
    CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
    int failed = iso_test_failed;
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, cases[i].err);
    if (strstr(cases[i].err, "--workers") != NULL) {
      CHECK(strstr(r.err, "admin token") == NULL);
    }
    if (iso_test_failed && !failed) {
      fprintf(stderr, "    case %zu: %s %.20s\n", i, cases[i].opt,
              cases[i].value);
    }
    proc_result_free(&r);
  }
  for (int i = 0; i < 4; i++) {
    unlink(files[i].path);
  }
  rmdir(dir);
}

static void t_help(void) {
  const char* argv[] = {POOLCTL, "--help", NULL};
  proc_result r;
  CHECK(proc_run(FIXTURES, argv, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "usage: poolctl [OPTIONS] eval FILE [ARG...]");
  CHECK_CONTAINS(r.out, "poolctl [OPTIONS] call SPEC [--export NAME]");
  CHECK_CONTAINS(r.out, "--job-timeout MS");
  CHECK_CONTAINS(r.out, "--permissions JSON");
  CHECK_CONTAINS(r.out, "poolctl [OPTIONS] ping\n");
  CHECK_STR(r.err, "");
  proc_result_free(&r);
  const char* argv2[] = {POOLCTL, "call", "--help", NULL};
  CHECK(proc_run(FIXTURES, argv2, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "usage: poolctl [OPTIONS] call SPEC");
  CHECK_CONTAINS(r.out, "--export NAME");
  proc_result_free(&r);
  const char* argv3[] = {POOLCTL, "help", "eval", NULL};
  CHECK(proc_run(FIXTURES, argv3, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "relative imports resolve against");
  CHECK_CONTAINS(r.out, "4 no reply in time");
  CHECK_CONTAINS(r.out, "--string");
  CHECK_CONTAINS(r.out, "FILE - reads the module from");
  proc_result_free(&r);
  /* drain says what it does: the service exits once its jobs are done */
  const char* argv4[] = {POOLCTL, "help", "drain", NULL};
  CHECK(proc_run(FIXTURES, argv4, 30, &r) == 0);
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "however long they take, then\nexit.");
  proc_result_free(&r);
}

/* A daemon of its own (the shared one serves the other cases): SIGTERM,
 * and it exits 0 within 15 s. */
static void t_daemon_stops_on_sigterm(void) {
  pdaemon d;
  CHECK(daemon_up(&d, "stop"));
  if (d.pid <= 0) {
    daemon_kill(&d);
    return;
  }
  CHECK_EQ(kill(d.pid, SIGTERM), 0);
  int ws = 0;
  pid_t got = 0;
  double start = proc_now();
  while (got == 0 && proc_now() - start < 15) {
    got = waitpid(d.pid, &ws, WNOHANG);
    if (got == 0) {
      usleep(20 * 1000);
    }
  }
  CHECK_EQ(got, d.pid);
  if (got != d.pid) {
    fprintf(stderr, "  the daemon did not exit within 15 s of SIGTERM\n");
    show_daemon_log(&d);
    daemon_kill(&d);
    return;
  }
  d.pid = -1;
  CHECK(WIFEXITED(ws));
  CHECK_EQ(WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, 0);
  if (iso_test_failed) {
    show_daemon_log(&d);
  }
  daemon_kill(&d);
}

static const iso_test cases[] = {
    {"daemon_answers", t_daemon_answers},
    {"eval_file_with_args", t_eval_file_with_args},
    {"eval_module", t_eval_module},
    {"nil_prints_null", t_nil_prints_null},
    {"call_with_export", t_call_with_export},
    {"json_and_string_args", t_json_and_string_args},
    {"eval_stdin", t_eval_stdin},
    {"ping", t_ping},
    {"rejection", t_rejection},
    {"timeout_error_status", t_timeout_error_status},
    {"timeout_is_sent", t_timeout_is_sent},
    {"value_too_large_for_json", t_value_too_large_for_json},
    {"logs_on_stderr", t_logs_on_stderr},
    {"json_output", t_json_output},
    {"cpu_ms_and_stats", t_cpu_ms_and_stats},
    {"url_from_environment", t_url_from_environment},
    {"cannot_connect", t_cannot_connect},
    {"several_urls", t_several_urls},
    {"tls", t_tls},
    {"usage_errors", t_usage_errors},
    {"serve_token_checks", t_serve_token_checks},
    {"help", t_help},
    {"daemon_stops_on_sigterm", t_daemon_stops_on_sigterm},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  iso_test_suite suite = {
      .cases = cases, .setup = suite_setup, .teardown = suite_teardown};
  return iso_test_run(argc, argv, &suite);
}
