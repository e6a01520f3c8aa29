/* service_admin.h: the fixture of the admin plane's service suites
 * (test_service_admin*.c): `isopool serve` with its admin socket, admin
 * requests, poolctl, and the jobs that load the daemon (library
 * iso_test_service_admin, on daemon.h, tracker.h, proc.h and json_path.h).
 *
 * svc_start() starts `isopool serve` (ISO_BIN_DIR/isopool, fixtures/admin
 * as the module root unless the case writes its own) on its own
 * ipc:///tmp/isopool-adm-<pid>-<n>.ipc with its admin socket beside it
 * (<that>.admin), and whatever the case needs: a token, a metrics port (a
 * free one, bound and released), a log format. Load comes from the client
 * library: many call jobs at once (fixtures/admin/sleep.js sleeps and
 * gives back its argument), tracked per request id so that every job is
 * checked to get exactly one reply with the right value. Commands go both
 * ways: through the built poolctl (human output, which must fit 80
 * columns, and --json) and as raw admin requests (iso_admin_encode on a
 * REQ client to the admin URL). Replies are read as JSON text
 * (json_path.h). Thread: the case's main thread (daemon.h).
 */
#ifndef ISO_SERVICE_ADMIN_H
#define ISO_SERVICE_ADMIN_H

#include "daemon.h"
#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_proto.h"
#include "proc.h"
#include "tap.h"
#include "tracker.h"

#define FIXTURES ISO_FIXTURES "/admin"
#define ISOPOOL ISO_BIN_DIR "/isopool"
#define POOLCTL ISO_BIN_DIR "/poolctl"

/* ---- the daemon --------------------------------------------------------- */

typedef struct svc {
  pid_t pid;
  char url[DAEMON_URL_LEN];
  char path[DAEMON_PATH_LEN]; /* the job socket file */
  char log[DAEMON_PATH_LEN];  /* the daemon's stderr */
  char admin_url[DAEMON_URL_LEN];
  char admin_path[DAEMON_PATH_LEN + 8];
  char metrics_url[DAEMON_URL_LEN];
  int metrics_port;
  const char* token; /* sent by pc() and admin() when set */
  iso_client* c;     /* jobs */
  iso_client* a;     /* admin, raw requests */
} svc;

typedef struct svc_opts {
  const char* workers;  /* "2" when NULL */
  const char* inflight; /* --max-inflight-per-worker, when set */
  const char* modules;  /* FIXTURES when NULL */
  int metrics;          /* --metrics on a free port */
  int default_admin;    /* no --admin: the default location */
  const char* const* extra;
} svc_opts;

/* svc_start: starts `isopool serve` on a fresh job socket with its admin
 * socket (and the options), opens a job client and an admin client, and
 * waits up to 10 s for a trivial eval to be answered. Returns 0, or -1
 * (the case is failed). */
int svc_start(svc* s, const svc_opts* o);

/* svc_stop: SIGTERM (unless the daemon is gone), exit 0 within 8 s; closes
 * the clients, prints the log if the case failed, removes the files. */
void svc_stop(svc* s);

/* The daemon's log (at most 64 KiB); the caller frees it. */
char* read_log(const svc* s);

/* ---- admin requests ----------------------------------------------------- */

/* areq: an admin request for cmd with no keys set (worker and grace_ms
 * -1: none). */
iso_admin_req areq(iso_admin_cmd cmd);

/* admin_req: sends q (with s->token, unless q has a token) on the admin
 * socket; the reply as JSON ("(none)" when there was none). The caller
 * frees it. */
char* admin_req(svc* s, iso_admin_req q);

/* admin: a command without keys, which must succeed. */
char* admin(svc* s, iso_admin_cmd cmd);

/* ---- metrics ------------------------------------------------------------ */

/* http_get: a minimal HTTP/1.1 GET on the loopback (the service's
 * --metrics, svc_opts.metrics): the status code (-1: no answer), the
 * headers and the body (de-chunked) in *head and *body (the caller frees
 * them). */
int http_get(int port, const char* path, char** head, char** body);

/* prom_sum: the sum of the samples of `name` (any labels) in Prometheus
 * text. */
double prom_sum(const char* text, const char* name);

/* ---- poolctl ------------------------------------------------------------ */

/* pc_run: poolctl --admin <s's> [--admin-token <s's>] ARGS... (NULL-
 * terminated). */
void pc_run(svc* s, proc_result* r, const char* first, ...);

#define PC(s, r, ...) pc_run((s), (r), __VA_ARGS__, NULL)

/* show: prints poolctl's exit status and output when the case failed. */
void show(const proc_result* r);

/* The widest line of s, in characters (UTF-8). */
size_t widest_line(const char* s);

/* poolctl CMD in human form: exit 0, lines of 80 columns at most. Returns
 * stdout (the caller frees it). */
char* pc_human(svc* s, const char* cmd, const char* arg);

/* poolctl --json CMD [ARG]: exit 0; the JSON it printed (the caller frees
 * it). */
char* pc_json(svc* s, const char* cmd, const char* arg);

/* poolctl ARGS must fail: exit 1, stderr containing `code`. */
#define PC_FAILS(s, code, ...)    \
  do {                            \
    proc_result r_;               \
    PC((s), &r_, __VA_ARGS__);    \
    int f_ = iso_test_failed;     \
    CHECK_EQ(r_.status, 1);       \
    CHECK_STR(r_.out, "");        \
    CHECK_CONTAINS(r_.err, code); \
    if (iso_test_failed && !f_) { \
      show(&r_);                  \
    }                             \
    proc_result_free(&r_);        \
  } while (0)

/* ---- jobs and their replies --------------------------------------------- */

/* Record i: fulfilled with the JSON value want. */
void expect_fulfilled(tracker* t, int i, const char* want);

/* Record i: an error reply with code. */
void expect_error(tracker* t, int i, iso_proto_code code);

/* A call job; args is JSON. *keep holds the msgpack until the submit
 * returned (the caller frees it). */
iso_job call_job(const char* module, const char* args, iso_buf* keep);

/* Submits sleep.js(ms, i) as id i for i in [from, to). */
void submit_sleeps(tracker* t, iso_client* c, int from, int to, int ms);

/* Every id in [from, to) fulfilled with its own number. */
void expect_own_numbers(tracker* t, int from, int to);

/* Waits until status says `want` jobs were accepted (they reached the
 * service, not only the client's queue). Returns 1 if so. */
int wait_accepted(svc* s, double want, int timeout_ms);

/* Polls `workers` until every worker runs and there are n of them. */
int wait_workers_running(svc* s, int n, int timeout_ms);

/* svc_admin_main: the admin suites' main: SIGPIPE ignored (a peer that
 * goes mid-write), ISOPOOL_ADMIN and ISOPOOL_ADMIN_TOKEN unset (poolctl
 * finds its socket and token only where a case says), then
 * iso_test_main. */
int svc_admin_main(int argc, char** argv, const iso_test* cases);

#endif /* ISO_SERVICE_ADMIN_H */
