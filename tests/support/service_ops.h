/* service_ops.h: the fixture of the op bus's service suites
 * (test_service_ops*.c): `isopool serve` on fixtures/ops with a fresh data
 * root, and eval jobs that try ops and say how each went (library
 * iso_test_service_ops, on daemon.h and tracker.h).
 *
 * svc_start() starts `isopool serve` (ISO_BIN_DIR/isopool, 2 workers) on
 * its own ipc:///tmp/isopool-ops-<pid>-<n>.ipc with fixtures/ops as the
 * module root and a fresh data root made here (mkdtemp; the tree is drawn
 * below). The daemon gets the grants the case needs (--allow-read,
 * --allow-write, --allow-env) and the environment of this process. Jobs
 * go through ipc/iso_client.h only; svc_stop() stops the daemon with
 * SIGTERM, checks that it exits 0 (its stderr is printed when the case
 * failed) and removes the data root.
 *
 * Most checks run one eval job whose default export tries several things
 * and returns a list of "label=outcome" strings ("read=ok:alpha",
 * "nofile=NotFound: readFile 'nope': ..."; double quotes in messages
 * become single quotes), read back with CHECK_ITEM(). Thread: the case's
 * main thread (daemon.h).
 */
#ifndef ISO_SERVICE_OPS_H
#define ISO_SERVICE_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "iso_client.h"
#include "iso_proto.h"

/* get_file: the contents of dir/rel (at most 4 KiB), or NULL; the caller
 * frees. */
char* get_file(const char* dir, const char* rel);

/* ---- the daemon --------------------------------------------------------- */

/* The tree svc_start makes; data/ is the data root:
 * tmp/                        (mkdtemp)
 *   outside.txt               "outside": beyond the data root
 *   data/                     --data
 *     secret.txt              "secret"
 *     fifo                    a FIFO
 *     dir/                    empty
 *     pub/a.txt, pub/b.txt    "alpha", "beta"
 *     pub/in_link   -> a.txt             inside pub
 *     pub/sec_link  -> ../secret.txt     inside the root, outside pub
 *     pub/out_link  -> ../../outside.txt outside the root
 *     pub/up        -> ..                the data root itself
 */

typedef struct svc {
  pid_t pid;
  char url[DAEMON_URL_LEN];
  char path[DAEMON_PATH_LEN]; /* the ipc socket file */
  char log[DAEMON_PATH_LEN];  /* the daemon's stderr */
  char tmp[64];               /* the tree above */
  char data[80];              /* tmp/data: --data */
  iso_client* c;
} svc;

/* svc_start: makes a fresh data tree and starts `isopool serve` with the
 * base flags (2 workers, fixtures/ops, --data, --quiet) and then `extra`
 * (NULL-terminated), opens a client, and waits up to 10 s for a trivial
 * eval to be answered. Returns 0, or -1 (the case is failed). */
int svc_start(svc* s, const char* const* extra);

/* svc_stop: SIGTERM; the daemon must exit 0 within 8 s (else it is
 * killed). Closes the client and removes the data tree. Accepts a daemon
 * that did not start. */
void svc_stop(svc* s);

/* kAllowAll: the daemon most cases use: everything granted, env for two
 * names. */
extern const char* const kAllowAll[];

/* ---- jobs --------------------------------------------------------------- */

/* What every eval job source starts with: the modules, and `outcome`,
 * which runs f and says how it went as one "label=..." string. */
#define JS_PRELUDE                                            \
  "import * as fs from 'isopool:fs';\n"                       \
  "import * as kv from 'isopool:kv';\n"                       \
  "import * as env from 'isopool:env';\n"                     \
  "const core = Isopool.core;\n"                              \
  "const q = (s) => String(s).replaceAll('\"', \"'\");\n"     \
  "const outcome = async (label, f) => {\n"                   \
  "  try {\n"                                                 \
  "    const v = await f();\n"                                \
  "    return `${label}=ok:${q(typeof v === 'string' ? v :\n" \
  "      JSON.stringify(v))}`;\n"                             \
  "  } catch (e) {\n"                                         \
  "    return `${label}=${e?.name}: ${q(e?.message)}`;\n"     \
  "  }\n"                                                     \
  "};\n"

typedef struct jobopt {
  const char* perms; /* JSON of the job's `permissions`, or NULL */
  int64_t timeout_ms;
} jobopt;

/* Runs an eval job whose source is JS_PRELUDE + "export default async ()
 * => { body }" and fills r (the caller frees it). Returns the client's
 * status (checked to be 0). */
int run_js(svc* s, const char* body, jobopt o, iso_result* r);

/* print_failure: a result that was not what the case wanted, on stderr. */
void print_failure(const iso_result* r);

/* Runs body; the job must fulfil; returns the value as JSON (the caller
 * frees it), "(none)" when it did not. */
char* js_value(svc* s, const char* body, jobopt o);

/* Runs body; its value must be the JSON text want. */
void expect_js(svc* s, const char* body, jobopt o, const char* want);

/* Runs body; the job must be rejected with error `name` whose message
 * contains frag. */
void expect_js_rejects(svc* s,
                       const char* body,
                       jobopt o,
                       const char* name,
                       const char* frag);

/* Runs body; the service must refuse it with error `code`, the message
 * containing frag. */
void expect_js_refused(svc* s,
                       const char* body,
                       jobopt o,
                       iso_proto_code code,
                       const char* frag);

/* check_item: in json (an array of outcome strings), the element
 * "label=..." must exist, start with "label=<want>" and contain frag (NULL:
 * anything). Returns 1 if it did. */
int check_item(const char* json,
               const char* label,
               const char* want,
               const char* frag,
               int line);

#define CHECK_ITEM(json, label, want, frag) \
  check_item((json), (label), (want), (frag), __LINE__)

/* ---- many jobs at once -------------------------------------------------- */

/* check_all_workers: 16 eval jobs at once, each sleeping a little (so
 * they spread over both workers) and doing a kv op and a sync op; every
 * one must answer right, and both workers must have answered. */
void check_all_workers(svc* s);

#endif /* ISO_SERVICE_OPS_H */
