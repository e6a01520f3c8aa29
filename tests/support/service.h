/* service.h: the fixture of the job service suites (test_service.c,
 * test_service_deadlines.c, test_service_limits.c,
 * test_service_shutdown.c): `isopool serve` on fixtures/service, and the
 * jobs and blocking calls they send it through the client library
 * (library iso_test_service, on daemon.h and the client library).
 *
 * svc_start() starts the real daemon (ISO_BIN_DIR/isopool serve) on its
 * own ipc:///tmp/isopool-svc-<pid>-<n>.ipc with fixtures/service as the
 * module root and whatever flags the case needs, and waits until a
 * trivial eval answers; after that the case talks to it only through
 * ipc/iso_client.h: real NNG sockets, real msgpack. svc_stop() sends
 * SIGTERM and checks that the daemon exits 0; the daemon's stderr goes to
 * a log file that is printed when the case failed. Thread: the case's main
 * thread (daemon.h).
 */
#ifndef ISO_SERVICE_H
#define ISO_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_proto.h"
#include "tracker.h"

/* The rejection of a job whose evaluation stalled. */
#define STALL_MESSAGE                                                   \
  "Module evaluation is still pending but there are no pending ops or " \
  "dynamic imports. This situation is often caused by unresolved promise."

/* fixtures_real: the module root as the daemon sees it (realpath), for
 * stack traces. */
const char* fixtures_real(void);

/* ---- jobs --------------------------------------------------------------- */

/* eval_src: an eval job of source. */
iso_job eval_src(const char* source);

/* call_job: a call job; args is JSON (NULL: none). *keep holds the msgpack
 * and must outlive the submit (the caller frees it). */
iso_job call_job(const char* module,
                 const char* export_name,
                 const char* args,
                 iso_buf* keep);

/* ---- the daemon --------------------------------------------------------- */

typedef struct svc {
  pid_t pid;
  char url[DAEMON_URL_LEN];
  char path[DAEMON_PATH_LEN]; /* the ipc socket file */
  char log[DAEMON_PATH_LEN];  /* the daemon's stderr */
  iso_client* c;
} svc;

/* svc_start: starts `isopool serve` with the base flags (2 workers, the
 * fixture root, --quiet) and then `extra` (NULL-terminated; later flags
 * win), opens a client with max_inflight, and waits up to 10 s for a
 * trivial eval to be answered. Returns 0, or -1 (the case is failed). */
int svc_start(svc* s, const char* const* extra, int max_inflight);

/* svc_stop_within: SIGTERM, then the daemon must exit 0 within timeout_ms
 * (the grace period is over at once when nothing runs). Closes the
 * client. */
void svc_stop_within(svc* s, int timeout_ms);

/* svc_stop: svc_stop_within(s, 8000). */
void svc_stop(svc* s);

/* ---- blocking calls ----------------------------------------------------- */

/* call: one job, waited for. Checks the client status is 0. */
void call(svc* s, iso_job job, int64_t deadline_ms, iso_result* r);

/* expect_value: calls and checks the value is `want` (JSON). */
void expect_value(svc* s, iso_job job, const char* want);

/* raw: a raw request; returns the decoded single reply (rc checked). */
int raw(svc* s, const uint8_t* p, size_t n, iso_result* out);

/* submit_sleeps: submits ids first .. first + n - 1 on t, each a call of
 * sleep.js that answers its id after ms (checked: each is sent). */
void submit_sleeps(svc* s, tracker* t, int first, int n, int ms);

#endif /* ISO_SERVICE_H */
