/* test_poolctl_admin.c: poolctl's admin commands against a fake admin
 * socket.
 *
 * Each case's process runs its own admin server: a thread with an NNG REP0
 * socket on ipc:///tmp/isopool-pctl-admin-<pid>.sock that records each request
 * (as JSON), checks it with the service's own decoder (iso_admin_decode:
 * bad_request if it refuses it) and answers the canned replies of
 * docs/protocol.md, "The admin protocol", one per cmd, each with a key no
 * service sends yet (which poolctl must ignore). A case may make it demand a
 * token or answer one reply of its own instead. The cases run the built poolctl
 * as a user would and check its stdout, stderr and exit status, that human
 * output fits 80 columns, and the exact request map the server got.
 */
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_json.h"
#include "iso_version.h"
#include "json_check.h"
#include "proc.h"
#include "tap.h"

#define POOLCTL ISO_BIN_DIR "/poolctl"

/* ---- canned replies ----------------------------------------------------- */

static const char kStatus[] =
    "{\"ok\":true,\"version\":\"" ISO_VERSION
    "\",\"uptime_ms\":7384000,"
    "\"listen\":[\"tcp://127.0.0.1:7447\",\"ipc:///tmp/isopool.ipc\"],"
    "\"admin\":\"ipc:///run/user/1000/isopool/admin.sock\",\"metrics\":null,"
    "\"kv\":null,"
    "\"state\":\"running\",\"workers\":{\"configured\":2,\"alive\":2},"
    "\"queue\":3,\"inflight\":5,\"totals\":{\"accepted\":1234,"
    "\"fulfilled\":1200,\"rejected\":30,\"errors\":{\"timeout\":3,"
    "\"busy\":1}},\"rate\":{\"1s\":12.5,\"10s\":10,\"60s\":9.8},"
    "\"processes\":{\"active\":1,\"spare\":1,\"starting\":0,"
    "\"restarts\":2,\"jobs_lost\":31,\"last_death\":\"pool process 0.1 "
    "(pid 77): the pool process died: killed by signal 9\","
    "\"last_death_ago_ms\":65000},"
    "\"from_the_future\":{\"nested\":[1,{\"x\":null}]}}";

static const char kWorkers[] =
    "{\"ok\":true,\"workers\":[{\"id\":0,\"state\":\"running\","
    "\"inflight\":1,\"done\":1234,\"heap_used\":12939264,"
    "\"heap_limit\":268435456,\"warm_modules\":3,\"last_error\":null,"
    "\"process\":\"1.2\",\"pid\":4242,\"cpu\":0.5},{\"id\":1,\"state\":"
    "\"recycling\",\"inflight\":0,"
    "\"done\":99,\"heap_used\":524288,\"heap_limit\":268435456,"
    "\"warm_modules\":0,\"last_error\":\"timeout: the job ran past its "
    "deadline of 30000 ms while it awaited a fetch\"}],\"spare\":true}";

static const char kJobs[] =
    "{\"ok\":true,\"jobs\":[{\"id\":12,\"client_id\":7,\"kind\":\"call\","
    "\"module\":\"lib/a/very/long/path/to/some/deeply/nested/module/that/"
    "goes/on/index.js\",\"worker\":0,\"age_ms\":4500,\"priority\":1},"
    "{\"id\":13,\"client_id\":null,\"kind\":\"eval\",\"module\":null,"
    "\"worker\":-1,\"age_ms\":120},{\"id\":14,\"client_id\":\"abc\","
    "\"kind\":\"call\",\"module\":\"\xd0\xbc\xd0\xbe\xd0\xb4\xd1\x83\xd0\xbb"
    "\xd1\x8c/\xd0\xbc\xd0\xbe\xd0\xb4\xd1\x83\xd0\xbb\xd1\x8c/\xd0\xbc\xd0"
    "\xbe\xd0\xb4\xd1\x83\xd0\xbb\xd1\x8c/\xd0\xbc\xd0\xbe\xd0\xb4\xd1\x83"
    "\xd0\xbb\xd1\x8c/\xd0\xbc\xd0\xbe\xd0\xb4\xd1\x83\xd0\xbb\xd1\x8c/\xd0"
    "\xbc\xd0\xbe\xd0\xb4\xd1\x83\xd0\xbb\xd1\x8c/\xd0\xbc\xd0\xbe\xd0\xb4"
    "\xd1\x83\xd0\xbb\xd1\x8c/\xd0\xbc\xd0\xbe\xd0\xb4\xd1\x83\xd0\xbb\xd1"
    "\x8c.js\",\"worker\":1,\"age_ms\":61000}],\"truncated\":false}";

#define HIST_SHORT                                                            \
  "{\"count\":4,\"sum\":400,\"p50\":90,\"p90\":120,\"p99\":130,\"p999\":130," \
  "\"max\":130,\"buckets\":[[100,2],[200,2],[null,0]]}"
static const char kStats[] =
    "{\"ok\":true,\"kinds\":{\"eval\":{\"queue\":" HIST_SHORT
    ",\"run\":" HIST_SHORT ",\"total\":" HIST_SHORT
    "},\"call\":{\"queue\":" HIST_SHORT ",\"run\":" HIST_SHORT
    ",\"total\":" HIST_SHORT ",\"cpu\":{}},\"all\":{\"queue\":" HIST_SHORT
    ",\"run\":" HIST_SHORT
    ",\"total\":{\"count\":100,\"sum\":1234567,\"p50\":1500,\"p90\":4200,"
    "\"p99\":45000,\"p999\":98000,\"max\":120000,\"buckets\":[[100,0],"
    "[200,5],[500,10],[1000,20],[2000,30],[5000,25],[10000,5],[20000,0],"
    "[50000,3],[100000,1],[null,1]]}}},\"window_s\":60}";

/* ---- the fake admin server ---------------------------------------------- */

typedef struct fake {
  char url[128];
  nng_socket sock;
  pthread_t thread;
  atomic_int stop;
  pthread_mutex_t mu;
  /* under mu */
  char last[2048];   /* the last request, as JSON */
  int requests;      /* how many came */
  const char* token; /* demanded when set */
  const char* reply; /* answered to everything when set; "GARBAGE": 0xc1 */
} fake;

static fake srv;

/* The canned reply of the request's cmd. */
static const char* canned(const char* request) {
  static const struct {
    const char* cmd;
    const char* reply;
  } table[] = {
      {"\"cmd\":\"status\"", kStatus},
      {"\"cmd\":\"workers\"", kWorkers},
      {"\"cmd\":\"jobs\"", kJobs},
      {"\"cmd\":\"stats\"", kStats},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (strstr(request, table[i].cmd) != NULL) {
      return table[i].reply;
    }
  }
  return "{\"ok\":false,\"code\":\"bad_request\",\"message\":\"unknown cmd\"}";
}

static void answer(const uint8_t* msg, size_t len, iso_buf* out) {
  char* request = json_of(msg, len);
  iso_admin_req q;
  char err[128], refused[256] = "";
  if (iso_admin_decode(msg, len, &q, err, sizeof err) != 0) {
    snprintf(refused, sizeof refused,
             "{\"ok\":false,\"code\":\"bad_request\",\"message\":\"%s\"}", err);
  }
  pthread_mutex_lock(&srv.mu);
  snprintf(srv.last, sizeof srv.last, "%s", request);
  srv.requests++;
  const char* reply = refused[0]  ? refused
                      : srv.reply ? srv.reply
                                  : canned(request);
  if (srv.token != NULL) {
    char want[128];
    snprintf(want, sizeof want, "\"token\":\"%s\"", srv.token);
    if (strstr(request, want) == NULL) {
      reply =
          "{\"ok\":false,\"code\":\"unauthorized\",\"message\":\"the "
          "admin token is missing or wrong\"}";
    }
  }
  pthread_mutex_unlock(&srv.mu);
  free(request);
  if (strcmp(reply, "GARBAGE") == 0) {
    static const uint8_t c1 = 0xc1;
    iso_buf_append(out, &c1, 1);
  } else if (iso_json_to_msgpack(reply, strlen(reply), out) != 0) {
    fprintf(stderr, "  bad canned reply: %s\n", reply);
  }
}

static void* server_main(void* arg) {
  iso_buf out;
  iso_buf_init(&out);
  while (!atomic_load(&srv.stop)) {
    nng_msg* m;
    int rv = nng_recvmsg(srv.sock, &m, 0);
    if (rv == NNG_ETIMEDOUT) {
      continue;
    }
    if (rv != 0) {
      break;
    }
    iso_buf_reset(&out);
    answer(nng_msg_body(m), nng_msg_len(m), &out);
    nng_msg_free(m);
    nng_msg* r;
    if (nng_msg_alloc(&r, out.len) == 0) {
      memcpy(nng_msg_body(r), out.data, out.len);
      if (nng_sendmsg(srv.sock, r, 0) != 0) {
        nng_msg_free(r);
      }
    }
  }
  iso_buf_close(&out);
  return NULL;
}

static int server_start(void) {
  snprintf(srv.url, sizeof srv.url, "ipc:///tmp/isopool-pctl-admin-%d.sock",
           (int)getpid());
  unlink(srv.url + strlen("ipc://"));
  pthread_mutex_init(&srv.mu, NULL);
  atomic_init(&srv.stop, 0);
  int rv = nng_rep0_open(&srv.sock);
  if (rv == 0) {
    nng_socket_set_ms(srv.sock, NNG_OPT_RECVTIMEO, 20);
    rv = nng_listen(srv.sock, srv.url, NULL, 0);
  }
  if (rv != 0) {
    fprintf(stderr, "fake admin server on %s: %s\n", srv.url, nng_strerror(rv));
    nng_close(srv.sock);
    pthread_mutex_destroy(&srv.mu);
    srv.url[0] = '\0'; /* nothing for server_stop */
    return -1;
  }
  pthread_create(&srv.thread, NULL, server_main, NULL);
  return 0;
}

static void server_stop(void) {
  atomic_store(&srv.stop, 1);
  pthread_join(srv.thread, NULL);
  nng_close(srv.sock);
  unlink(srv.url + strlen("ipc://"));
  pthread_mutex_destroy(&srv.mu);
  srv.url[0] = '\0';
}

/* Each case's process runs a server of its own (NNG threads do not cross
 * the runner's fork). */
static void case_setup(void) {
  CHECK_EQ(server_start(), 0);
}

static void case_teardown(void) {
  if (srv.url[0] != '\0') {
    server_stop();
  }
  nng_fini(); /* waits for NNG's reaper, so the leak check sees the end */
}

/* What the next requests get: a token to demand and a reply of the case's
 * own (NULL, NULL: none, the canned ones). */
static void server_set(const char* token, const char* reply) {
  pthread_mutex_lock(&srv.mu);
  srv.token = token;
  srv.reply = reply;
  pthread_mutex_unlock(&srv.mu);
}

static int server_requests(void) {
  pthread_mutex_lock(&srv.mu);
  int n = srv.requests;
  pthread_mutex_unlock(&srv.mu);
  return n;
}

#define CHECK_LAST_REQUEST(want)   \
  do {                             \
    char got_[2048];               \
    pthread_mutex_lock(&srv.mu);   \
    memcpy(got_, srv.last, 2048);  \
    pthread_mutex_unlock(&srv.mu); \
    CHECK_STR(got_, want);         \
  } while (0)

/* ---- running poolctl ---------------------------------------------------- */

/* Runs poolctl with the NULL-terminated arguments after argv0 (no --admin
 * is added). */
static void run_v(proc_result* r, const char* first, va_list ap) {
  const char* argv[40] = {POOLCTL};
  int n = 1;
  for (const char* a = first; a != NULL && n < 39;
       a = va_arg(ap, const char*)) {
    argv[n++] = a;
  }
  argv[n] = NULL;
  CHECK(proc_run(NULL, argv, 30, r) == 0);
}

static void run(proc_result* r, const char* first, ...) {
  va_list ap;
  va_start(ap, first);
  run_v(r, first, ap);
  va_end(ap);
}

/* poolctl --admin <the fake server> ARGS... */
#define PC(r, ...) run((r), "--admin", srv.url, __VA_ARGS__, NULL)

static void show(const proc_result* r) {
  if (iso_test_failed) {
    fprintf(stderr, "  exit %d\n  stdout:\n%s\n  stderr:\n%s\n", r->status,
            r->out, r->err);
  }
}

/* The widest line of s, in characters (UTF-8). */
static size_t widest_line(const char* s) {
  size_t widest = 0, cols = 0;
  for (; *s != '\0'; s++) {
    if (*s == '\n') {
      cols = 0;
    } else if (((unsigned char)*s & 0xc0) != 0x80) {
      cols++;
      widest = cols > widest ? cols : widest;
    }
  }
  return widest;
}

static int count_of(const char* hay, const char* needle) {
  int n = 0;
  for (const char* p = strstr(hay, needle); p != NULL;
       p = strstr(p + 1, needle)) {
    n++;
  }
  return n;
}

/* ---- the cases ---------------------------------------------------------- */

static void t_status(void) {
  proc_result r;
  PC(&r, "status");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"status\"}");
  CHECK_CONTAINS(r.out, "version     " ISO_VERSION "\n");
  CHECK_CONTAINS(r.out, "uptime      2h 03m\n");
  CHECK_CONTAINS(r.out, "state       running\n");
  CHECK_CONTAINS(r.out,
                 "listen      tcp://127.0.0.1:7447\n"
                 "            ipc:///tmp/isopool.ipc\n");
  CHECK_CONTAINS(r.out,
                 "admin       ipc:///run/user/1000/isopool/admin.sock\n");
  CHECK_CONTAINS(r.out, "metrics     off\n");
  CHECK_CONTAINS(r.out, "kv          in memory\n");
  CHECK_CONTAINS(r.out, "workers     2/2 alive\n");
  CHECK_CONTAINS(r.out, "queue       3\n");
  CHECK_CONTAINS(r.out, "in flight   5\n");
  CHECK_CONTAINS(r.out, "accepted    1234\n");
  CHECK_CONTAINS(r.out, "fulfilled   1200\n");
  CHECK_CONTAINS(r.out, "rejected    30\n");
  CHECK_CONTAINS(r.out, "errors      4 (timeout 3, busy 1)\n");
  CHECK_CONTAINS(r.out, "rate        12.5/s (1s), 10.0/s (10s), 9.8/s (60s)\n");
  CHECK_CONTAINS(r.out,
                 "processes   1 active, 1 spare, 0 starting; 2 restarts, 31 "
                 "jobs lost\n");
  CHECK_CONTAINS(r.out, "last death  65.0 s ago: pool process 0.1 (pid 77)");
  CHECK(strstr(r.out, "future") == NULL);
  CHECK(widest_line(r.out) <= 80);
  show(&r);
  proc_result_free(&r);
}

static void t_workers(void) {
  proc_result r;
  PC(&r, "workers");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"workers\"}");
  CHECK_CONTAINS(r.out,
                 " ID STATE     INFLIGHT     DONE      HEAP USED/LIMIT "
                 "WARM PROCESS     LAST ERROR\n");
  CHECK_CONTAINS(r.out,
                 "  0 running          1     1234     12.3 MiB/256 MiB "
                 "   3 1.2/4242    -\n");
  CHECK_CONTAINS(r.out,
                 "  1 recycling        0       99      512 KiB/256 MiB "
                 "   0 front       timeout...\n");
  CHECK_EQ(count_of(r.out, "\n"), 3);
  CHECK(widest_line(r.out) <= 80);
  show(&r);
  proc_result_free(&r);
}

static void t_jobs(void) {
  proc_result r;
  PC(&r, "jobs");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"jobs\"}");
  CHECK_CONTAINS(r.out, "        ID KIND  WORKER      AGE  MODULE\n");
  CHECK_CONTAINS(r.out,
                 "        12 call       0    4.5 s  lib/a/very/long/path/to/"
                 "some/deeply/nested/...\n");
  CHECK_CONTAINS(r.out, "        13 eval  queued   120 ms  (source)\n");
  CHECK_CONTAINS(r.out,
                 "        14 call       1   61.0 s  \xd0\xbc\xd0\xbe\xd0\xb4"
                 "\xd1\x83\xd0\xbb\xd1\x8c/");
  CHECK_CONTAINS(r.out, "3 jobs, 1 queued\n");
  CHECK(widest_line(r.out) <= 80);
  show(&r);
  proc_result_free(&r);
  /* the oldest 1000 only */
  server_set(NULL,
             "{\"ok\":true,\"jobs\":[{\"id\":1,\"kind\":\"call\",\"module\":"
             "\"a.js\",\"worker\":0,\"age_ms\":5}],\"truncated\":true}");
  PC(&r, "jobs");
  server_set(NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "1 job, 0 queued (the oldest shown; more are in");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, "{\"ok\":true,\"jobs\":[]}");
  PC(&r, "jobs");
  server_set(NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "no jobs in flight or queued\n");
  show(&r);
  proc_result_free(&r);
}

static void t_stats(void) {
  proc_result r;
  PC(&r, "stats");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"stats\"}");
  CHECK_CONTAINS(r.out,
                 "eval         COUNT       P50       P90       P99     P99.9"
                 "       MAX\n"
                 "  queue          4     90 us    120 us    130 us    130 us"
                 "    130 us\n");
  CHECK_CONTAINS(r.out, "\ncall         COUNT");
  CHECK_CONTAINS(r.out,
                 "\nall          COUNT       P50       P90       P99     P99.9"
                 "       MAX\n");
  CHECK_CONTAINS(r.out,
                 "  total        100    1.5 ms    4.2 ms   45.0 ms   98.0 ms"
                 "    120 ms\n");
  /* the histogram: buckets with jobs only, the widest 36 marks */
  CHECK_CONTAINS(r.out, "\ntotal time of all jobs (100):\n");
  CHECK(strstr(r.out, "0 us .. 100 us") == NULL);
  CHECK(strstr(r.out, "10.0 ms .. 20.0 ms") == NULL);
  CHECK_CONTAINS(r.out,
                 "   100 us .. 200 us |######                               5 "
                 "(5.0%)\n");
  CHECK_CONTAINS(r.out,
                 "   1.0 ms .. 2.0 ms |####################################"
                 " 30 (30.0%)\n");
  CHECK_CONTAINS(r.out, "           > 100 ms |#");
  CHECK_EQ(count_of(r.out, " |"), 9);
  CHECK(widest_line(r.out) <= 80);
  show(&r);
  proc_result_free(&r);
}

/* Many buckets merge into at most 20 lines. */
static void t_stats_many_buckets(void) {
  char reply[8192];
  int n = snprintf(reply, sizeof reply,
                   "{\"ok\":true,\"kinds\":{\"all\":{\"total\":{\"count\":"
                   "4500,\"buckets\":[");
  for (int i = 1; i <= 90; i++) {
    n += snprintf(reply + n, sizeof reply - (size_t)n, "[%d,%d],", i * 1000,
                  i % 2 ? i : 0);
  }
  snprintf(reply + n, sizeof reply - (size_t)n, "[null,2475]]}}}}");
  server_set(NULL, reply);
  proc_result r;
  PC(&r, "stats");
  server_set(NULL, NULL);
  CHECK_EQ(r.status, 0);
  int lines = count_of(r.out, " |");
  CHECK(lines > 10 && lines <= 20);
  CHECK_CONTAINS(r.out, "total time of all jobs (4500):");
  CHECK_CONTAINS(r.out, "  queue          -         -"); /* missing: "-" */
  CHECK(widest_line(r.out) <= 80);
  show(&r);
  proc_result_free(&r);
}

/* The control commands: what each sends and the line it prints. */
static void t_control(void) {
  static const struct {
    const char* args[4];
    const char* request;
    const char* reply;
    const char* out;
  } cases[] = {
      {{"cancel", "12"},
       "{\"v\":1,\"cmd\":\"cancel\",\"job\":12}",
       "{\"ok\":true,\"job\":12}",
       "cancelled job 12\n"},
      {{"resize", "4"},
       "{\"v\":1,\"cmd\":\"resize\",\"workers\":4}",
       "{\"ok\":true,\"workers\":{\"configured\":4,\"alive\":2}}",
       "resizing to 4 workers (2 alive)\n"},
      {{"recycle", "1"},
       "{\"v\":1,\"cmd\":\"recycle\",\"worker\":1}",
       "{\"ok\":true,\"workers\":[1]}",
       "recycling worker 1\n"},
      {{"recycle", "--all"},
       "{\"v\":1,\"cmd\":\"recycle\",\"all\":true}",
       "{\"ok\":true,\"workers\":[0,1],\"later\":1}",
       "recycling workers 0, 1\n"},
      {{"recycle"},
       "{\"v\":1,\"cmd\":\"recycle\",\"all\":true}",
       "{\"ok\":true,\"workers\":[0,1]}",
       "recycling workers 0, 1\n"},
      {{"reload"},
       "{\"v\":1,\"cmd\":\"reload\"}",
       "{\"ok\":true,\"realms\":3}",
       "dropped 3 warm realms\n"},
      {{"reload", "lib/x.js"},
       "{\"v\":1,\"cmd\":\"reload\",\"module\":\"lib/x.js\"}",
       "{\"ok\":true,\"realms\":1}",
       "dropped 1 warm realm that had loaded lib/x.js\n"},
      {{"drain"},
       "{\"v\":1,\"cmd\":\"drain\"}",
       "{\"ok\":true,\"state\":\"draining\"}",
       "draining: no new jobs are taken\n"},
      {{"shutdown"},
       "{\"v\":1,\"cmd\":\"shutdown\"}",
       "{\"ok\":true,\"state\":\"shutting_down\"}",
       "shutting down\n"},
      {{"shutdown", "--grace", "500"},
       "{\"v\":1,\"cmd\":\"shutdown\",\"grace_ms\":500}",
       "{\"ok\":true,\"state\":\"shutting_down\"}",
       "shutting down (grace 500 ms)\n"},
      {{"shutdown", "--grace=0"},
       "{\"v\":1,\"cmd\":\"shutdown\",\"grace_ms\":0}",
       "{\"ok\":true,\"state\":\"shutting_down\"}",
       "shutting down (grace 0 ms)\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int failed = iso_test_failed;
    server_set(NULL, cases[i].reply);
    proc_result r;
    PC(&r, cases[i].args[0], cases[i].args[1], cases[i].args[2],
       cases[i].args[3]);
    server_set(NULL, NULL);
    CHECK_EQ(r.status, 0);
    CHECK_LAST_REQUEST(cases[i].request);
    CHECK_STR(r.out, cases[i].out);
    CHECK_STR(r.err, "");
    if (iso_test_failed && !failed) {
      fprintf(stderr, "    case %zu: %s\n", i, cases[i].args[0]);
      show(&r);
    }
    proc_result_free(&r);
  }
}

/* --json prints the reply map as it came, one line, every key kept. */
static void t_json(void) {
  static const struct {
    const char* cmd;
    const char* reply;
  } cases[] = {
      {"status", kStatus},
      {"workers", kWorkers},
      {"jobs", kJobs},
      {"stats", kStats},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    proc_result r;
    PC(&r, "--json", cases[i].cmd);
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.err, "");
    CHECK_EQ(count_of(r.out, "\n"), 1);
    size_t len = strlen(r.out);
    iso_buf mp;
    iso_buf_init(&mp);
    CHECK(len > 0 && iso_json_to_msgpack(r.out, len - 1, &mp) == 0);
    iso_buf_close(&mp);
    CHECK(len > 0 && strncmp(r.out, cases[i].reply, len - 1) == 0 &&
          strlen(cases[i].reply) == len - 1);
    show(&r);
    proc_result_free(&r);
  }
  /* a control command too, and the option after the command */
  server_set(NULL, "{\"ok\":true,\"job\":12}");
  proc_result r;
  PC(&r, "cancel", "--json", "12");
  server_set(NULL, NULL);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "{\"ok\":true,\"job\":12}\n");
  show(&r);
  proc_result_free(&r);
}

static void t_watch(void) {
  int before = server_requests();
  proc_result r;
  PC(&r, "status", "--watch", "0.1", "--count", "3");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK_EQ(server_requests() - before, 3);
  CHECK_EQ(count_of(r.out, "version     " ISO_VERSION "\n"), 3);
  CHECK_EQ(count_of(r.out, "\n\nversion"), 2); /* rounds apart */
  CHECK(strstr(r.out, "\033[") == NULL);       /* not a terminal */
  CHECK(r.secs >= 0.2);
  show(&r);
  proc_result_free(&r);
  /* workers and stats, --watch before the command; JSON: a line a round */
  PC(&r, "--watch", "0.1", "--count", "2", "workers");
  CHECK_EQ(r.status, 0);
  CHECK_EQ(count_of(r.out, "  0 running"), 2);
  show(&r);
  proc_result_free(&r);
  PC(&r, "--json", "stats", "--watch=0.1", "--count=3");
  CHECK_EQ(r.status, 0);
  CHECK_EQ(count_of(r.out, "\n"), 3);
  CHECK_EQ(count_of(r.out, "{\"ok\":true,\"kinds\":"), 3);
  show(&r);
  proc_result_free(&r);
}

/* A watch without --count runs until SIGTERM, then exits 0. */
static void t_watch_stops_on_signal(void) {
  char out_path[128];
  snprintf(out_path, sizeof out_path, "/tmp/isopool-pctl-admin-%d.out",
           (int)getpid());
  int before = server_requests();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    const char* argv[] = {POOLCTL,   "--admin", srv.url, "status",
                          "--watch", "0.05",    NULL};
    execv(argv[0], (char* const*)argv);
    _exit(127);
  }
  CHECK(pid > 0);
  double start = proc_now();
  while (server_requests() - before < 3 && proc_now() - start < 10) {
    usleep(10 * 1000);
  }
  kill(pid, SIGTERM);
  int ws = 0;
  CHECK_EQ(waitpid(pid, &ws, 0), pid);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  FILE* f = fopen(out_path, "r");
  char buf[16384] = "";
  if (f != NULL) {
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
  }
  unlink(out_path);
  CHECK(count_of(buf, "version     " ISO_VERSION) >= 2);
}

/* The token from each of its three sources; a file's first line only. */
static void t_token_sources(void) {
  char path[128];
  snprintf(path, sizeof path, "/tmp/isopool-pctl-admin-%d.token",
           (int)getpid());
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs("s3cret\nnot this\n", f);
    fclose(f);
  }
  server_set("s3cret", NULL);
  proc_result r;
  PC(&r, "--admin-token", "s3cret", "status");
  CHECK_EQ(r.status, 0);
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"status\",\"token\":\"s3cret\"}");
  show(&r);
  proc_result_free(&r);

  server_set("s3cret", "{\"ok\":true,\"job\":7}");
  PC(&r, "--admin-token-file", path, "cancel", "7");
  CHECK_EQ(r.status, 0);
  CHECK_LAST_REQUEST(
      "{\"v\":1,\"cmd\":\"cancel\",\"token\":\"s3cret\",\"job\":7}");
  CHECK_STR(r.out, "cancelled job 7\n");
  show(&r);
  proc_result_free(&r);
  server_set("s3cret", NULL);

  setenv("ISOPOOL_ADMIN_TOKEN", "s3cret", 1);
  PC(&r, "workers");
  CHECK_EQ(r.status, 0);
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"workers\",\"token\":\"s3cret\"}");
  show(&r);
  proc_result_free(&r);
  /* the command line beats the environment */
  setenv("ISOPOOL_ADMIN_TOKEN", "wrong", 1);
  PC(&r, "jobs", "--admin-token", "s3cret");
  CHECK_EQ(r.status, 0);
  CHECK_LAST_REQUEST("{\"v\":1,\"cmd\":\"jobs\",\"token\":\"s3cret\"}");
  show(&r);
  proc_result_free(&r);
  unsetenv("ISOPOOL_ADMIN_TOKEN");
  server_set(NULL, NULL);
  unlink(path);
}

static void t_unauthorized(void) {
  server_set("s3cret", NULL);
  proc_result r;
  PC(&r, "status");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK_CONTAINS(r.err,
                 "poolctl: unauthorized: the admin token is missing or "
                 "wrong\n");
  CHECK_CONTAINS(r.err, "check --admin-token");
  show(&r);
  proc_result_free(&r);
  PC(&r, "--admin-token", "guess", "drain");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "check --admin-token");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, NULL);
}

/* ok:false exits 1 and says the code and message. */
static void t_refused(void) {
  server_set(NULL,
             "{\"ok\":false,\"code\":\"conflict\",\"message\":\"a resize is "
             "under way\"}");
  proc_result r;
  PC(&r, "resize", "3");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out, "");
  CHECK_STR(r.err, "poolctl: conflict: a resize is under way\n");
  show(&r);
  proc_result_free(&r);
  /* --json: the reply on stdout, still exit 1 */
  PC(&r, "--json", "resize", "3");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.out,
            "{\"ok\":false,\"code\":\"conflict\",\"message\":\"a resize is "
            "under way\"}\n");
  show(&r);
  proc_result_free(&r);
  /* a watch stops at the first refusal */
  PC(&r, "status", "--watch", "0.05", "--count", "5");
  CHECK_EQ(r.status, 1);
  CHECK_EQ(count_of(r.err, "conflict"), 1);
  show(&r);
  proc_result_free(&r);
  server_set(NULL,
             "{\"ok\":false,\"code\":\"not_found\",\"message\":\"no job 99 "
             "in flight\",\"hint\":\"see jobs\"}");
  PC(&r, "cancel", "99");
  CHECK_EQ(r.status, 1);
  CHECK_STR(r.err, "poolctl: not_found: no job 99 in flight\n");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, NULL);
}

/* Replies that are not admin replies: exit 1 and say so. */
static void t_bad_replies(void) {
  server_set(NULL,
             "{\"v\":1,\"id\":null,\"status\":\"error\",\"error\":{\"code\":"
             "\"bad_request\",\"message\":\"missing 'kind'\"}}");
  proc_result r;
  PC(&r, "status");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "did not answer like an admin socket");
  CHECK_CONTAINS(r.err, "job socket");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, "GARBAGE");
  PC(&r, "workers");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "is not valid msgpack");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, "[1,2]");
  PC(&r, "jobs");
  CHECK_EQ(r.status, 1);
  CHECK_CONTAINS(r.err, "did not answer like an admin socket");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, NULL);
}

/* Keys missing or of another type print "-"; unknown ones are ignored. */
static void t_sparse_and_unknown_keys(void) {
  server_set(NULL,
             "{\"newer\":{\"a\":[1,{\"b\":null}]},\"ok\":true,\"version\":"
             "\"9.9.9\",\"queue\":\"three\",\"workers\":{\"alive\":1},"
             "\"totals\":{\"errors\":{}},\"rate\":{\"10s\":2}}");
  proc_result r;
  PC(&r, "status");
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out, "version     9.9.9\n");
  CHECK_CONTAINS(r.out, "uptime      -\n");
  CHECK_CONTAINS(r.out, "listen      -\n");
  CHECK_CONTAINS(r.out, "metrics     -\n");
  CHECK_CONTAINS(r.out, "workers     1/- alive\n");
  CHECK_CONTAINS(r.out, "queue       -\n");
  CHECK_CONTAINS(r.out, "errors      0\n");
  CHECK_CONTAINS(r.out, "rate        2.0/s (10s)\n");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, "{\"ok\":true,\"workers\":[{\"id\":3,\"shiny\":[[[]]]},7]}");
  PC(&r, "workers");
  CHECK_EQ(r.status, 0);
  CHECK_CONTAINS(r.out,
                 "  3 -                -        -                  -/- "
                 "   - front       -\n");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, "{\"ok\":true}");
  PC(&r, "stats");
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.out, "no statistics\n");
  show(&r);
  proc_result_free(&r);
  server_set(NULL, NULL);
}

static void t_admin_url_sources(void) {
  /* ISOPOOL_ADMIN */
  setenv("ISOPOOL_ADMIN", srv.url, 1);
  int before = server_requests();
  proc_result r;
  run(&r, "status", NULL);
  CHECK_EQ(r.status, 0);
  CHECK_EQ(server_requests() - before, 1);
  show(&r);
  proc_result_free(&r);
  /* --admin beats it */
  setenv("ISOPOOL_ADMIN", "ipc:///tmp/isopool-pctl-admin-nobody.sock", 1);
  PC(&r, "status");
  CHECK_EQ(r.status, 0);
  show(&r);
  proc_result_free(&r);
  unsetenv("ISOPOOL_ADMIN");
}

/* No service: exit 3, naming the URL tried and what to do. */
static void t_no_service(void) {
  char url[128];
  snprintf(url, sizeof url, "ipc:///tmp/isopool-pctl-admin-nobody-%d.sock",
           (int)getpid());
  proc_result r;
  run(&r, "--admin", url, "--timeout", "300", "status", NULL);
  CHECK_EQ(r.status, 3);
  CHECK_STR(r.out, "");
  CHECK_CONTAINS(r.err, "poolctl: cannot connect to the admin socket ");
  CHECK_CONTAINS(r.err, url);
  CHECK_CONTAINS(r.err, "from --admin");
  CHECK_CONTAINS(r.err,
                 "is the service running? start it with `isopool "
                 "serve`, or pass --admin URL / set ISOPOOL_ADMIN");
  CHECK(r.secs < 5);
  show(&r);
  proc_result_free(&r);

  /* the default: under $XDG_RUNTIME_DIR ... */
  char dir[128], want[192];
  snprintf(dir, sizeof dir, "/tmp/isopool-pctl-admin-xdg-%d", (int)getpid());
  snprintf(want, sizeof want,
           "ipc://%s/isopool/admin.sock (the default): no such socket", dir);
  const char* old_xdg = getenv("XDG_RUNTIME_DIR");
  char* saved = old_xdg ? strdup(old_xdg) : NULL;
  setenv("XDG_RUNTIME_DIR", dir, 1);
  run(&r, "--timeout", "300", "workers", NULL);
  CHECK_EQ(r.status, 3);
  CHECK_CONTAINS(r.err, want);
  show(&r);
  proc_result_free(&r);
  /* ... else under /tmp, per user (unless one runs there now) */
  unsetenv("XDG_RUNTIME_DIR");
  snprintf(want, sizeof want, "ipc:///tmp/isopool-%u/admin.sock",
           (unsigned)getuid());
  struct stat st;
  if (stat(want + strlen("ipc://"), &st) != 0) {
    run(&r, "--timeout", "300", "jobs", NULL);
    CHECK_EQ(r.status, 3);
    CHECK_CONTAINS(r.err, want);
    show(&r);
    proc_result_free(&r);
  }
  if (saved != NULL) {
    setenv("XDG_RUNTIME_DIR", saved, 1);
    free(saved);
  }
}

static void t_usage_errors(void) {
  static const struct {
    const char* args[7];
    const char* err; /* in stderr */
  } cases[] = {
      {{"resize"}, "resize needs N"},
      {{"resize", "x"},
       "resize needs a number of workers from 1 to 256, not \"x\""},
      {{"resize", "0"}, "resize needs a number of workers from 1 to 256"},
      {{"resize", "257"}, "resize needs a number of workers from 1 to 256"},
      {{"resize", "4", "5"}, "resize takes no argument \"5\""},
      {{"cancel"}, "cancel needs ID"},
      {{"cancel", "abc"},
       "cancel needs a job ID (a number from `poolctl "
       "jobs`), not \"abc\""},
      {{"cancel", "-1"}, "cancel needs a job ID"},
      {{"recycle", "1", "--all"}, "or --all, not both"},
      {{"recycle", "w1"}, "recycle needs a WORKER id"},
      {{"jobs", "--watch", "1"},
       "--watch works with status, workers and stats, not jobs"},
      {{"--watch", "1", "cancel", "3"},
       "--watch works with status, workers and stats, not cancel"},
      {{"status", "--watch", "0"}, "--watch needs a number of seconds"},
      {{"status", "--watch", "soon"},
       "--watch needs a number of seconds such as 2 or 0.5, not \"soon\""},
      {{"status", "--count", "3"}, "--count N needs --watch SECONDS"},
      {{"status", "--watch", "1", "--count", "0"},
       "--count needs a number of rounds"},
      {{"shutdown", "--grace", "x"},
       "--grace needs a number of milliseconds from 0 to 3600000, not \"x\""},
      {{"shutdown", "--grace", "3600001"}, "--grace needs a number of"},
      {{"recycle", "256"}, "recycle needs a WORKER id"},
      {{"reload", ""}, "reload needs a module SPEC"},
      {{"status", "--grace", "1"}, "unknown option \"--grace\" for status"},
      {{"workers", "--all"}, "unknown option \"--all\" for workers"},
      {{"--all", "recycle"}, "unknown option \"--all\""},
      {{"status", "extra"}, "status takes no argument \"extra\""},
      {{"drain", "now"}, "drain takes no argument \"now\""},
      {{"--admin-token", "a", "--admin-token-file", "/x", "status"},
       "give --admin-token or --admin-token-file, not both"},
      {{"--admin-token-file", "/nonexistent/token", "status"},
       "cannot read --admin-token-file /nonexistent/token: No such file"},
      {{"--admin-token", "", "status"}, "the admin token is empty"},
      {{"--admin-token", "ab\xc3\x28", "status"},
       "the admin token is not valid UTF-8"},
      {{"--admin", "bogus://x", "status"}, "cannot use admin URL"},
      {{"stauts"}, "unknown command \"stauts\""},
      {{"help", "stauts"}, "unknown command \"stauts\""},
  };
  int before = server_requests();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char* argv[12] = {POOLCTL, "--admin", srv.url};
    int n = 3;
    for (int k = 0; k < 7 && cases[i].args[k] != NULL; k++) {
      argv[n++] = cases[i].args[k];
    }
    argv[n] = NULL;
    proc_result r;
    CHECK(proc_run(NULL, argv, 30, &r) == 0);
    int failed = iso_test_failed;
    CHECK_EQ(r.status, 2);
    CHECK_STR(r.out, "");
    CHECK_CONTAINS(r.err, cases[i].err);
    if (iso_test_failed && !failed) {
      fprintf(stderr, "    case %zu: %s\n", i, cases[i].args[0]);
    }
    proc_result_free(&r);
  }
  char long_token[300];
  memset(long_token, 'k', sizeof long_token - 1);
  long_token[sizeof long_token - 1] = '\0';
  proc_result r;
  PC(&r, "--admin-token", long_token, "status");
  CHECK_EQ(r.status, 2);
  CHECK_CONTAINS(r.err, "the admin token is too long (256 bytes at most)");
  show(&r);
  proc_result_free(&r);
  CHECK_EQ(server_requests(), before); /* nothing was sent */
}

static void t_help(void) {
  proc_result r;
  run(&r, "--help", NULL);
  CHECK_EQ(r.status, 0);
  static const char* const synopses[] = {
      "poolctl [OPTIONS] status [--watch SECONDS [--count N]]\n",
      "poolctl [OPTIONS] workers [--watch SECONDS [--count N]]\n",
      "poolctl [OPTIONS] jobs\n",
      "poolctl [OPTIONS] stats [--watch SECONDS [--count N]]\n",
      "poolctl [OPTIONS] cancel ID\n",
      "poolctl [OPTIONS] resize N\n",
      "poolctl [OPTIONS] recycle [WORKER|--all]\n",
      "poolctl [OPTIONS] reload [SPEC]\n",
      "poolctl [OPTIONS] drain\n",
      "poolctl [OPTIONS] shutdown [--grace MS]\n",
      "--admin URL",
      "--admin-token SECRET",
      "--admin-token-file FILE",
      "ISOPOOL_ADMIN_TOKEN",
      "ipc://$XDG_RUNTIME_DIR/isopool/admin.sock",
  };
  for (size_t i = 0; i < sizeof synopses / sizeof synopses[0]; i++) {
    CHECK_CONTAINS(r.out, synopses[i]);
  }
  CHECK(widest_line(r.out) <= 80);
  proc_result_free(&r);
  static const struct {
    const char* cmd;
    const char* want;
  } cases[] = {
      {"status", "--watch SECONDS"}, {"workers", "--count N"},
      {"jobs", "oldest first"},      {"stats", "p99.9"},
      {"cancel", "cancelled"},       {"resize", "1..256"},
      {"recycle", "--all"},          {"reload", "warm realms"},
      {"drain", "Stop taking jobs"}, {"shutdown", "--grace MS"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run(&r, "help", cases[i].cmd, NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, cases[i].want);
    CHECK_CONTAINS(r.out, "admin options");
    CHECK(strstr(r.out, "--permissions") == NULL);
    CHECK(widest_line(r.out) <= 80);
    proc_result_free(&r);
    run(&r, cases[i].cmd, "--help", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, cases[i].want);
    proc_result_free(&r);
  }
}

static const iso_test cases[] = {
    {"status", t_status},
    {"workers", t_workers},
    {"jobs", t_jobs},
    {"stats", t_stats},
    {"stats_many_buckets", t_stats_many_buckets},
    {"control", t_control},
    {"json", t_json},
    {"watch", t_watch},
    {"watch_stops_on_signal", t_watch_stops_on_signal},
    {"token_sources", t_token_sources},
    {"unauthorized", t_unauthorized},
    {"refused", t_refused},
    {"bad_replies", t_bad_replies},
    {"sparse_and_unknown_keys", t_sparse_and_unknown_keys},
    {"admin_url_sources", t_admin_url_sources},
    {"no_service", t_no_service},
    {"usage_errors", t_usage_errors},
    {"help", t_help},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  /* the cases choose these themselves */
  unsetenv("ISOPOOL_ADMIN");
  unsetenv("ISOPOOL_ADMIN_TOKEN");
  iso_test_suite suite = {
      .cases = cases, .case_setup = case_setup, .case_teardown = case_teardown};
  return iso_test_run(argc, argv, &suite);
}
