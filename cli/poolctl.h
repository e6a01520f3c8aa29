/* poolctl.h: what poolctl's files share (private to cli/).
 *
 *   poolctl.c        main: the command table, the options, usage and help
 *   poolctl_jobs.c   eval and call: one job through the client library
 *   poolctl_admin.c  the admin commands: requests, typed replies (both
 *                    through ipc/iso_admin.h) and their printing
 *
 * Names shared between the files start with poolctl__; the rest is static.
 * poolctl is single-threaded: everything here runs on its main thread.
 */
#ifndef POOLCTL_H
#define POOLCTL_H

#include <stdio.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_client.h"

#define POOLCTL_DEFAULT_URL "tcp://127.0.0.1:7447"
#define POOLCTL_DEFAULT_TIMEOUT_MS 60000
/* how long to wait for the connection itself before exit 3 */
#define POOLCTL_CONNECT_WAIT_MS 5000

/* poolctl's exit statuses (its help and docs list them). A failure's comes
 * from its ISO_E* code by one table, poolctl__exit_status. */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,  /* rejected, or refused by the service */
  EXIT_USAGE = 2,   /* bad usage, an unreadable FILE */
  EXIT_NOCONN = 3,  /* no connection to the service */
  EXIT_NOREPLY = 4, /* connected and sent, no reply within --timeout */
};

/* The parsed command line. */
typedef struct ctl {
  const char* url;                        /* the first --url */
  const char* urls[ISO_CLIENT_MAX_NODES]; /* every --url (jobs: nodes) */
  int nurls;
  long long timeout_ms;     /* client-side deadline of the whole exchange */
  long long job_timeout_ms; /* the job's timeout_ms; 0: the server's */
  long long job_cpu_ms;     /* the job's cpu_ms; 0: the server's */
  int json;
  int stats;               /* --stats: the reply's stats on stderr (jobs) */
  const char* module;      /* eval --module SPEC */
  const char* export_name; /* call --export NAME */
  const char* target;      /* eval FILE, call SPEC, cancel ID, ... */
  const char* permissions; /* --permissions JSON, or NULL */
  char** args;             /* the ARGs */
  int nargs;
  /* the admin commands */
  const char* admin_url;
  const char* admin_from;       /* where admin_url came from, for errors */
  const char* admin_token;      /* --admin-token, or NULL */
  const char* admin_token_file; /* --admin-token-file, or NULL */
  double watch_s;               /* --watch SECONDS; 0: once */
  long long count;              /* --count N; 0: until a signal */
  int all;                      /* recycle --all */
  long long grace_ms;           /* shutdown --grace MS; -1: the service's */
  int as_strings;               /* --string: the ARGs are strings */
  int idempotent;               /* --idempotent: the job may run twice */
  /* --tls-*: for a tls+tcp:// URL (iso_client_opts) */
  const char* tls_ca;
  const char* tls_cert;
  const char* tls_key;
  const char* tls_server_name;
} ctl;

/* One row of the command table (poolctl.c, kCommands). */
typedef struct command command;
struct command {
  const char* name;
  const char* synopsis; /* after "poolctl [OPTIONS] " */
  const char* help;     /* what it does and its own options */
  /* The word before the ARGs ("FILE"), or NULL; --module SPEC stands in
   * for it (eval). */
  const char* target;
  int target_optional;
  int takes_args;
  /* Runs the command; returns the exit status. */
  int (*run)(const command* cmd, ctl* c);
  /* Admin commands (run = poolctl__admin_run): the request's cmd, whose
   * keys and printing poolctl_admin.c's own table has. */
  iso_admin_cmd admin;
};

/* ---- poolctl.c ---- */

/* poolctl__exit_status: the exit status for err, from one table in
 * poolctl.c: 0 EXIT_OK; ISO_EINVAL (a URL or job that cannot be used) and
 * ISO_EUSAGE (bad usage, said on stderr) EXIT_USAGE; ISO_ECONNECT
 * EXIT_NOCONN; ISO_ETIMEDOUT EXIT_NOREPLY; any other EXIT_FAILED. */
int poolctl__exit_status(int err);

/* poolctl__parse_int: s as an integer in [min, max] into *out; else says
 * on stderr that name wants `want` and returns ISO_EUSAGE. */
int poolctl__parse_int(const char* name,
                       const char* want,
                       const char* s,
                       long long min,
                       long long max,
                       long long* out);

/* poolctl__read_file: a whole file into b (NUL-terminated). Returns 0, or
 * ISO_EIO with *sys the errno that says why (ENOMEM when b could not
 * grow). */
int poolctl__read_file(const char* path, iso_buf* b, int* sys);

/* poolctl__open_client: a connected client of url. A service that is
 * not there fails in milliseconds where the system knows (no such socket,
 * refused: iso_client_probe), else after a bounded wait for the
 * connection (5 s, or --timeout if shorter). Returns 0 with *out; or
 * ISO_ECONNECT with why (what happened and what to check) in why; or
 * iso_client_new's error (a URL or TLS files it cannot use; why says). */
int poolctl__open_client(const ctl* c,
                         const char* url,
                         iso_client** out,
                         char* why,
                         size_t whylen);

/* poolctl__open_jobs_client: the client the job commands use: of c->url
 * (poolctl__open_client), or, with --url given more than once, of every
 * node (iso_client_new_nodes), connected to at least one within the same
 * bounded wait. Returns as poolctl__open_client. */
int poolctl__open_jobs_client(const ctl* c,
                              iso_client** out,
                              char* why,
                              size_t whylen);

/* poolctl__close_client: closes a client poolctl__open_client opened,
 * after its last request ended with rc; not after ISO_ETIMEDOUT, when the
 * service's late reply may be arriving: NNG 1.5.2 can hang closing a
 * connection in the middle of a message (ipc/iso_client.c), and poolctl
 * exits next, which closes it. */
void poolctl__close_client(iso_client* client, int rc);

/* ---- poolctl_jobs.c ---- */

/* poolctl__eval, poolctl__call, poolctl__ping: the run functions of eval,
 * call and ping. */
int poolctl__eval(const command* cmd, ctl* c);
int poolctl__call(const command* cmd, ctl* c);
int poolctl__ping(const command* cmd, ctl* c);

/* ---- poolctl_admin.c ---- */

/* poolctl__admin_run: the run function of every admin command. */
int poolctl__admin_run(const command* cmd, ctl* c);

/* poolctl__default_admin_url: the service's own default admin URL
 * (docs/protocol.md): under $XDG_RUNTIME_DIR, else under /tmp, per user.
 * A static buffer. */
const char* poolctl__default_admin_url(void);

#endif /* POOLCTL_H */
