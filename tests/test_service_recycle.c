/* test_service_recycle.c: replacing a worker's isolate through the spare
 * engines (pool/worker.c's DESIGN), end to end: each recycling policy
 * triggers (--recycle-after-jobs, --heap-soft-mb under load,
 * --recycle-heap-mb after a burst of garbage, --heap-mb's
 * condemned runtime under load, --idle-timeout), and with
 * --spare-isolates 0 the worker rebuilds on its own thread as before;
 * replacement isolates compile from the code cache (--code-cache-mb).
 *
 * Each case starts the real daemon (support/service_admin.h, on
 * fixtures/recycle: count.js counts its calls in its warm realm, so a
 * fresh isolate answers 1 again; hold.js keeps memory alive there;
 * grow.js crosses the heap limit; spike.js leaves a burst of garbage;
 * sleep.js waits) with its log at info,
 * talks to it through the client library (every job tracked: exactly one
 * reply each), and reads what happened from `status` (the recycling map:
 * recycles, recycles_cold, spare_builds, spares_ready) and the log (which
 * policy: "recycled (jobs)"). Waits poll for a state, bounded by
 * iso_test_scale(); nothing asserts a wall-clock duration.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iso_admin.h"
#include "iso_buf.h"
#include "iso_proto.h"
#include "json_path.h"
#include "procfs.h"
#include "prom_check.h"
#include "service_admin.h"
#include "tap.h"
#include "tracker.h"

#define RECYCLE_FIXTURES ISO_FIXTURES "/recycle"

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The daemon on fixtures/recycle with `workers` and the case's flags
 * (NULL-terminated), its log at info, no spare pool process; with
 * `metrics`, --metrics on a free port. */
static int start_m(svc* s,
                   const char* workers,
                   const char* const* flags,
                   int metrics) {
  const char* extra[24];
  int n = 0;
  extra[n++] = "--log-level";
  extra[n++] = "info";
  /* no spare process: its spare isolate would count as ready */
  extra[n++] = "--spare-processes";
  extra[n++] = "0";
  for (int i = 0; flags[i] != NULL && n < 23; i++) {
    extra[n++] = flags[i];
  }
  extra[n] = NULL;
  svc_opts o = {.workers = workers,
                .inflight = "8",
                .modules = RECYCLE_FIXTURES,
                .metrics = metrics,
                .extra = extra};
  return svc_start(s, &o);
}

static int start(svc* s, const char* workers, const char* const* flags) {
  return start_m(s, workers, flags, 0);
}

/* status's <map>.<key>, or -1. */
static long map_stat(svc* s, const char* map, const char* key) {
  char* st = admin(s, ISO_ADMIN_STATUS);
  char path[64];
  snprintf(path, sizeof path, "%s.%s", map, key);
  double v = js_num(st, path);
  free(st);
  return isnan(v) ? -1 : (long)v;
}

/* status's recycling.<key>, or -1. */
static long stat_of(svc* s, const char* key) {
  return map_stat(s, "recycling", key);
}

/* Waits until status's recycling.<key> is at least want (timeout_ms,
 * scaled); returns its last value. */
static long wait_stat(svc* s, const char* key, long want, int timeout_ms) {
  int64_t end = now_ms() + (int64_t)(timeout_ms * iso_test_scale());
  long v = stat_of(s, key);
  while (v < want && now_ms() < end) {
    nap_ms(20);
    v = stat_of(s, key);
  }
  return v;
}

/* Waits until the group has a spare ready again: every spare taken so
 * far (a recycle not cold) was followed by its engine's build, and the
 * report (SPARES, every 100 ms) says one is ready. */
static void wait_spare(svc* s) {
  int64_t end = now_ms() + (int64_t)(20000 * iso_test_scale());
  for (;;) {
    long taken = stat_of(s, "recycles") - stat_of(s, "recycles_cold");
    if ((stat_of(s, "spare_builds") >= 1 + taken &&
         stat_of(s, "spares_ready") >= 1) ||
        now_ms() >= end) {
      break;
    }
    nap_ms(20);
  }
  CHECK(stat_of(s, "spares_ready") >= 1);
}

/* One call, waited for: its value (JSON) into want's comparison. */
static void expect_call(svc* s,
                        const char* module,
                        const char* args,
                        const char* want) {
  tracker t;
  tracker_init(&t, 1);
  iso_buf keep;
  tracker_submit_ok(&t, s->c, 0, call_job(module, args, &keep), 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 1, 60000));
  expect_fulfilled(&t, 0, want);
  tracker_free(&t);
}

/* poolctl recycle --all: every worker on a fresh isolate (through the
 * spare when there is one), its job count from 0 (the daemon's start-up
 * probe was a job); waits until it is done. */
static void recycle_all(svc* s, long recycles_before) {
  iso_admin_req q = areq(ISO_ADMIN_RECYCLE);
  q.all = 1;
  q.worker = -1;
  free(admin_req(s, q));
  CHECK(wait_stat(s, "recycles", recycles_before + 1, 20000) >=
        recycles_before + 1);
}

static int log_has(svc* s, const char* text) {
  char* log = read_log(s);
  int has = strstr(log, text) != NULL;
  if (!has) {
    fprintf(stderr, "  the log has no \"%s\":\n%s\n", text, log);
  }
  free(log);
  return has;
}

/* --recycle-after-jobs 5: calls one at a time on one worker count 1..5,
 * then the 6th runs on a fresh isolate (its warm realm's counter starts
 * again at 1), a spare's: none was built on the worker's thread. */
static void t_after_jobs(void) {
  const char* flags[] = {"--recycle-after-jobs", "5", NULL};
  svc s;
  if (start(&s, "1", flags) != 0) {
    svc_stop(&s);
    return;
  }
  wait_spare(&s);
  recycle_all(&s, 0); /* "asked" */
  for (int round = 0; round < 3; round++) {
    /* the last round's recycle done (a reply comes before it), and its
     * spare's replacement built, before the round needs it */
    CHECK(wait_stat(&s, "recycles", 1 + round, 10000) >= 1 + round);
    wait_spare(&s);
    for (int i = 1; i <= 5; i++) {
      char want[8];
      snprintf(want, sizeof want, "%d", i);
      expect_call(&s, "count.js", "[]", want);
    }
  }
  CHECK(wait_stat(&s, "recycles", 4, 10000) >= 4);
  CHECK_EQ(stat_of(&s, "recycles_cold"), 0);
  /* the first, then one after each spare taken */
  CHECK(wait_stat(&s, "spare_builds", 5, 20000) >= 5);
  if (iso_test_failed) {
    char* st = admin(&s, ISO_ADMIN_STATUS);
    fprintf(stderr, "  status: %s\n", st);
    free(st);
  }
  CHECK(log_has(&s, "recycled (asked): a spare's isolate"));
  CHECK_EQ(stat_of(&s, "recycle_after_jobs"), 5);
  CHECK(log_has(&s, "recycled (jobs): a spare's isolate"));
  svc_stop(&s);
}

/* Each replacement isolate compiles count.js again, from the pool
 * process's code cache after the second (docs/architecture.md, "The code
 * cache"; --code-cache-mb reaches the pool process, which would refuse a
 * command line it did not parse): every fresh isolate's module still
 * counts from 1, its warm state its own, whether compiled from the text
 * or from the cache, and with the cache off (0) alike. */
static void t_code_cache(void) {
  const char* mbs[] = {"1", "0"};
  for (int k = 0; k < 2; k++) {
    const char* flags[] = {"--recycle-after-jobs",
                           "2",
                           "--spare-isolates",
                           "0",
                           "--code-cache-mb",
                           mbs[k],
                           NULL};
    svc s;
    if (start(&s, "1", flags) != 0) {
      svc_stop(&s);
      return;
    }
    recycle_all(&s, 0); /* the start-up probe was a job */
    for (int round = 0; round < 5; round++) {
      CHECK(wait_stat(&s, "recycles", 1 + round, 10000) >= 1 + round);
      expect_call(&s, "count.js", "[]", "1");
      expect_call(&s, "count.js", "[]", "2");
    }
    CHECK(wait_stat(&s, "recycles", 6, 10000) >= 6);
    svc_stop(&s);
  }
}

/* The log has `text` within timeout_ms (scaled). */
static int wait_log(svc* s, const char* text, int timeout_ms) {
  int64_t end = now_ms() + (int64_t)(timeout_ms * iso_test_scale());
  for (;;) {
    char* log = read_log(s);
    int has = strstr(log, text) != NULL;
    free(log);
    if (has || now_ms() >= end) {
      return has;
    }
    nap_ms(20);
  }
}

/* One call of count.js, waited for, that answers want: the worker that
 * ran it. */
static int64_t call_on(svc* s, const char* want) {
  tracker t;
  tracker_init(&t, 1);
  iso_buf keep;
  tracker_submit_ok(&t, s->c, 0, call_job("count.js", "[]", &keep), 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 1, 60000));
  expect_fulfilled(&t, 0, want);
  int64_t w = t.r[0].worker;
  tracker_free(&t);
  return w;
}

/* The code cache across pool processes (pool/code.c): --processes 2, a
 * worker each. count.js compiles twice in one process (a call, both
 * workers recycled, a call: the first idle worker both times), which
 * makes its entry and sends it to the
 * front; the front passes it on to the second process; a call there
 * (a slow call on one worker, so that one goes to the other) compiles it
 * from that entry: the second process's counters, logged as it stops
 * (a resize to 1 worker retires worker 1, and its process exits by
 * itself), say 1 hit and 1 entry from the front. Each fresh isolate still
 * counts from 1. With --code-cache-mb 0, nothing is passed on and nothing
 * counts (no compile looks for a cache: no hit, no miss).
 */
static void t_code_shared(void) {
  const char* mbs[] = {"8", "0"};
  for (int k = 0; k < 2; k++) {
    const char* flags[] = {"--processes", "2",     "--spare-isolates", "0",
                           "--log-level", "debug", "--code-cache-mb",  mbs[k],
                           NULL};
    svc s;
    if (start(&s, "2", flags) != 0) {
      svc_stop(&s);
      return;
    }
    int64_t w1 = call_on(&s, "1");
    recycle_all(&s, 0);
    CHECK(wait_stat(&s, "recycles", 2, 20000) >= 2); /* both running */
    CHECK_EQ(call_on(&s, "1"), w1); /* the first again, idle: made */
    CHECK_EQ(wait_log(&s, "entry (", k == 0 ? 10000 : 500), k == 0);
    tracker t;
    tracker_init(&t, 2);
    iso_buf keep;
    /* one worker holds this one... */
    tracker_submit_ok(&t, s.c, 0, call_job("count.js", "[1000]", &keep), 60000);
    iso_buf_close(&keep);
    /* ...so this one goes to the other, in the other process */
    tracker_submit_ok(&t, s.c, 1, call_job("count.js", "[]", &keep), 60000);
    iso_buf_close(&keep);
    CHECK(tracker_wait(&t, 2, 60000));
    CHECK(t.r[0].worker != t.r[1].worker);
    for (int i = 0; i < 2; i++) { /* w1 counted once before */
      expect_fulfilled(&t, i, t.r[i].worker == w1 ? "2" : "1");
    }
    tracker_free(&t);
    iso_admin_req q = areq(ISO_ADMIN_RESIZE);
    q.workers = 1;
    free(admin_req(&s, q));
    /* the retired process's counters, as it exits */
    CHECK(wait_log(&s, "1.1 (pid", 10000));
    if (k == 0) {
      CHECK(wait_log(&s,
                     "code cache: 1 hits, 0 misses (0 rejected), 0 made, "
                     "0 evicted, 1 from the front",
                     10000));
      CHECK(log_has(&s, "passed on to pool process 1.1"));
    } else {
      CHECK(wait_log(&s,
                     "code cache: 0 hits, 0 misses (0 rejected), 0 made, 0 "
                     "evicted, 0 from the front",
                     10000));
      char* log = read_log(&s);
      CHECK(strstr(log, "passed on to pool process") == NULL);
      CHECK(strstr(log, "1 from the front") == NULL);
      free(log);
    }
    svc_stop(&s);
  }
}

/* The code caches' figures in status, poolctl status and the metrics
 * (CODE_STATS, pool/code.c's pool__code_figures): one pool process, its
 * worker recycled after every job, so each call of count.js is a fresh
 * isolate's (it answers 1): the first two compile it (2 misses; the
 * second makes its entry), the next two consume it (2 hits), each counted
 * from the figures once the start-up probe's have settled (the probe is
 * an eval that a loaded machine may send twice). The process says its
 * figures with its ALIVE (every 100 ms), so status is polled until the
 * hits come; then the misses and made counted with them, the
 * entry held, and /metrics (strict exposition) says the same as status.
 * The same with --processes 0 (the front's own workers' cache). */
static void code_stats_with(const char* processes) {
  const char* flags[] = {
      "--processes", processes, "--recycle-after-jobs", "1", "--spare-isolates",
      "0",           NULL};
  svc s;
  if (start_m(&s, "1", flags, 1) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK_EQ(map_stat(&s, "code_cache", "limit_mb"), 32);
  /* the start-up probe (an eval: a miss) may be counted yet or not */
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  while (map_stat(&s, "code_cache", "misses") < 1 && now_ms() < end) {
    nap_ms(20);
  }
  /* on a loaded machine the start-up probe may have been sent (and
   * compiled) more than once, and a process says its figures every 100
   * ms: let them settle, then count from there */
  nap_ms(300);
  long m0 = map_stat(&s, "code_cache", "misses");
  long h0 = map_stat(&s, "code_cache", "hits");
  long made0 = map_stat(&s, "code_cache", "made");
  long entries0 = map_stat(&s, "code_cache", "entries");
  CHECK(m0 >= 1);
  for (int i = 0; i < 4; i++) {
    expect_call(&s, "count.js", "[]", "1");
  }
  end = now_ms() + (int64_t)(10000 * iso_test_scale());
  while (map_stat(&s, "code_cache", "hits") < h0 + 2 && now_ms() < end) {
    nap_ms(20);
  }
  char* st = admin(&s, ISO_ADMIN_STATUS);
  long hits = (long)js_num(st, "code_cache.hits");
  CHECK_EQ(hits, h0 + 2);
  CHECK_EQ((long)js_num(st, "code_cache.misses"), m0 + 2);
  CHECK_EQ((long)js_num(st, "code_cache.made"), made0 + 1);
  CHECK_EQ((long)js_num(st, "code_cache.rejected"), 0);
  CHECK_EQ((long)js_num(st, "code_cache.entries"), entries0 + 1);
  CHECK(js_num(st, "code_cache.bytes") > 0);
  free(st);

  char* human = pc_human(&s, "status", NULL);
  char want[96];
  snprintf(want, sizeof want, "%ld hits, %ld misses (0 rejected), %ld made",
           hits, m0 + 2, made0 + 1);
  CHECK_CONTAINS(human, want);
  free(human);
  char* json = pc_json(&s, "status", NULL);
  CHECK_EQ((long)js_num(json, "code_cache.hits"), hits);
  free(json);

  char *head, *body;
  int code = http_get(s.metrics_port, "/metrics", &head, &body);
  CHECK_EQ(code, 200);
  if (code == 200) {
    char err[256] = "";
    CHECK_EQ(prom_validate(body, strlen(body), err, sizeof err), 0);
    CHECK_EQ(prom_sum(body, "isopool_code_cache_hits_total"), (double)hits);
    CHECK_EQ(prom_sum(body, "isopool_code_cache_misses_total"),
             (double)(m0 + 2));
    CHECK_EQ(prom_sum(body, "isopool_code_cache_made_total"),
             (double)(made0 + 1));
    CHECK_EQ(prom_sum(body, "isopool_code_cache_entries"),
             (double)(entries0 + 1));
    CHECK(prom_sum(body, "isopool_code_cache_bytes") > 0);
  }
  free(head);
  free(body);
  svc_stop(&s);
}

static void t_code_stats(void) {
  code_stats_with("1");
  code_stats_with("0");
}

/* The entries' files in dir (names of 74 hex digits): how many, and the
 * first's name in first (75 bytes) when there is one. */
static int dir_entries(const char* dir, char* first) {
  DIR* d = opendir(dir);
  int n = 0;
  for (struct dirent* de; d != NULL && (de = readdir(d)) != NULL;) {
    if (strlen(de->d_name) == 74 &&
        strspn(de->d_name, "0123456789abcdef") == 74) {
      if (n++ == 0 && first != NULL) {
        memcpy(first, de->d_name, 75);
      }
    }
  }
  if (d != NULL) {
    closedir(d);
  }
  return n;
}

/* The whole of file path, *n bytes; the caller frees it. */
static uint8_t* slurp(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  uint8_t* buf = malloc(4 << 20);
  *n = f != NULL && buf != NULL ? fread(buf, 1, 4 << 20, f) : 0;
  if (f != NULL) {
    fclose(f);
  }
  return buf;
}

static void spill(const char* path, const uint8_t* p, size_t n) {
  FILE* f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f != NULL) {
    CHECK_EQ(fwrite(p, 1, n, f), n);
    fclose(f);
  }
}

/* Two calls of count.js at once, on both workers: each answers 1 (fresh
 * isolates); then a resize to 1 worker retires the second process, whose
 * counters (logged as it exits) must read `want`. */
static void both_then_retire(svc* s, const char* want) {
  tracker t;
  tracker_init(&t, 2);
  iso_buf keep;
  tracker_submit_ok(&t, s->c, 0, call_job("count.js", "[1000]", &keep), 60000);
  iso_buf_close(&keep);
  tracker_submit_ok(&t, s->c, 1, call_job("count.js", "[]", &keep), 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, 2, 60000));
  CHECK(t.r[0].worker != t.r[1].worker);
  expect_fulfilled(&t, 0, "1");
  expect_fulfilled(&t, 1, "1");
  tracker_free(&t);
  iso_admin_req q = areq(ISO_ADMIN_RESIZE);
  q.workers = 1;
  free(admin_req(s, q));
  CHECK(wait_log(s, want, 10000));
}

/* The flags of a service of 2 pool processes, no spare, with
 * --code-cache dir, into flags[CACHE_FLAGS]. */
enum { CACHE_FLAGS = 9 };
static void cache_flags(const char* dir, const char** flags) {
  const char* f[CACHE_FLAGS] = {"--processes", "2",     "--spare-isolates", "0",
                                "--log-level", "debug", "--code-cache",     dir,
                                NULL};
  memcpy(flags, f, sizeof f);
}

/* A service of 2 pool processes with --code-cache DIR (a fresh
 * /tmp/isopool-NAME-PID, into dir), in which count.js's entry was made
 * (its second compile, after a recycle) and written to DIR. Returns the
 * worker that ran it, or -1 (the case is failed, the service stopped). */
static int64_t start_with_entry_written(svc* s,
                                        const char* name,
                                        char* dir,
                                        size_t cap) {
  char cmd[128];
  snprintf(dir, cap, "/tmp/isopool-%s-%d", name, (int)getpid());
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_EQ(system(cmd), 0);
  const char* flags[CACHE_FLAGS];
  cache_flags(dir, flags);
  if (start(s, "2", flags) != 0) {
    svc_stop(s);
    return -1;
  }
  int64_t w1 = call_on(s, "1");
  recycle_all(s, 0);
  CHECK(wait_stat(s, "recycles", 2, 20000) >= 2);
  CHECK_EQ(call_on(s, "1"), w1); /* made: written */
  CHECK(wait_log(s, " written", 10000));
  return w1;
}

/* --code-cache DIR (pool/code.c, "On disk"): a first service makes
 * count.js's entry (compiled twice in one process) and the front writes
 * it to DIR (0700; its key file 0600, 32 bytes); a second service, on
 * the same DIR, loads it and its processes compile count.js from it at
 * their first compile (1 hit, 1 entry from the front, no miss). Then the
 * entry with a byte flipped, and a valid entry under another key's name:
 * each is logged, deleted and ignored, and the calls run right (a
 * miss). A DIR that cannot be made, and one others may write: one
 * warning, and the service runs without a disk cache. */
static void t_code_disk(void) {
  char dir[64], path[160], other[160];
  svc s;
  int64_t w1 = start_with_entry_written(&s, "cc", dir, sizeof dir);
  if (w1 < 0) {
    return;
  }
  const char* flags[CACHE_FLAGS];
  cache_flags(dir, flags);
  svc_stop(&s);
  struct stat st;
  CHECK_EQ(stat(dir, &st), 0);
  CHECK_EQ(st.st_mode & 0777, 0700);
  snprintf(path, sizeof path, "%s/key", dir);
  CHECK_EQ(stat(path, &st), 0);
  CHECK_EQ(st.st_mode & 0777, 0600);
  CHECK_EQ(st.st_size, 32);
  char name[80] = "";
  CHECK_EQ(dir_entries(dir, name), 1);

  /* a restart compiles from it */
  if (start(&s, "2", flags) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK(log_has(&s, "1 entry loaded"));
  both_then_retire(&s,
                   "code cache: 1 hits, 0 misses (0 rejected), 0 made, 0 "
                   "evicted, 1 from the front");
  svc_stop(&s);

  /* tampered: a byte flipped; a valid entry under another key's name */
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t n = 0;
  uint8_t* good = slurp(path, &n);
  CHECK(n > 100);
  good[n / 2] ^= 0x01;
  spill(path, good, n);
  good[n / 2] ^= 0x01;
  snprintf(other, sizeof other, "%s/%s", dir, name);
  char* last = other + strlen(other) - 1;
  *last = *last == '0' ? '1' : '0';
  spill(other, good, n);
  free(good);
  CHECK_EQ(dir_entries(dir, NULL), 2);
  if (start(&s, "2", flags) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK(log_has(&s, "its MAC is wrong"));
  CHECK(log_has(&s, "it is another key's entry"));
  CHECK(log_has(&s, "0 entries loaded"));
  CHECK_EQ(dir_entries(dir, NULL), 0);
  both_then_retire(&s, "code cache: 0 hits, 1 misses");
  svc_stop(&s);

  /* unusable: it cannot be made; others may write it */
  const char* bad_dirs[] = {"/dev/null/cc", dir};
  const char* whys[] = {"Not a directory", "others may write it"};
  CHECK_EQ(chmod(dir, 0777), 0);
  for (int k = 0; k < 2; k++) {
    const char* f2[] = {"--processes", "2", "--code-cache", bad_dirs[k], NULL};
    if (start(&s, "2", f2) != 0) {
      svc_stop(&s);
      return;
    }
    expect_call(&s, "count.js", "[]", "1");
    CHECK(log_has(&s, whys[k]));
    CHECK(log_has(&s, "the service runs without a disk cache"));
    char* log = read_log(&s);
    char* at = strstr(log, "without a disk cache");
    CHECK(at != NULL && strstr(at + 1, "without a disk cache") == NULL);
    free(log);
    svc_stop(&s);
  }
  snprintf(path, sizeof path, "rm -rf %s", dir);
  CHECK_EQ(system(path), 0);
}

/* An entry of another V8 in DIR (pool/code.c, pool__code_figures): a
 * first service writes count.js's entry; beside it goes a copy under a
 * key of another version tag (the key's last 4 bytes), signed with DIR's
 * key as the front signs (so it loads: a valid MAC). A second service
 * loads both, and as its first pool process says its tag (CODE_STATS)
 * the front deletes the other one, in memory and in DIR, with one line;
 * the entry of this V8 stays and serves (1 hit, 1 entry from the
 * front). */
static void t_code_other_tag(void) {
  char dir[64], path[160];
  svc s;
  if (start_with_entry_written(&s, "ct", dir, sizeof dir) < 0) {
    return;
  }
  const char* flags[CACHE_FLAGS];
  cache_flags(dir, flags);
  svc_stop(&s);
  char name[80] = "";
  CHECK_EQ(dir_entries(dir, name), 1);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t n = 0;
  uint8_t* buf = slurp(path, &n);
  snprintf(path, sizeof path, "%s/key", dir);
  size_t keylen = 0;
  uint8_t* mac_key = slurp(path, &keylen);
  CHECK_EQ(keylen, 32);
  /* the file: magic (8), key (37: kind, SHA-256, tag), length, cache, MAC */
  enum { MAGIC = 8, KEY = 37, MAC = 32 };
  CHECK(n > MAGIC + KEY + 8 + MAC);
  if (n <= MAGIC + KEY + 8 + MAC || keylen != 32) {
    free(buf);
    free(mac_key);
    return;
  }
  for (int i = 0; i < 4; i++) {
    buf[MAGIC + KEY - 4 + i] ^= 0x5a;
  }
  unsigned int maclen = 0;
  CHECK(HMAC(EVP_sha256(), mac_key, 32, buf, n - MAC, buf + n - MAC, &maclen) !=
            NULL &&
        maclen == MAC);
  char other[80];
  for (int i = 0; i < KEY; i++) {
    snprintf(other + 2 * i, 3, "%02x", buf[MAGIC + i]);
  }
  CHECK(strcmp(other, name) != 0);
  snprintf(path, sizeof path, "%s/%s", dir, other);
  spill(path, buf, n);
  CHECK_EQ(chmod(path, 0600), 0);
  free(buf);
  free(mac_key);
  CHECK_EQ(dir_entries(dir, NULL), 2);

  if (start(&s, "2", flags) != 0) {
    svc_stop(&s);
    return;
  }
  CHECK(log_has(&s, "2 entries loaded"));
  CHECK(wait_log(&s, "1 entry of another V8", 10000));
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  while (access(path, F_OK) == 0 && now_ms() < end) {
    nap_ms(20);
  }
  CHECK(access(path, F_OK) != 0);
  char left[80] = "";
  CHECK_EQ(dir_entries(dir, left), 1);
  CHECK_STR(left, name);
  both_then_retire(&s,
                   "code cache: 1 hits, 0 misses (0 rejected), 0 made, 0 "
                   "evicted, 1 from the front");
  char* log = read_log(&s);
  char* at = strstr(log, "of another V8");
  CHECK(at != NULL && strstr(at + 1, "of another V8") == NULL);
  free(log);
  svc_stop(&s);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  CHECK_EQ(system(path), 0);
}

/* The pool process (a child of pid) that runs worker w, or -1: its
 * command line's --workers list names it. */
static int process_of(pid_t pid, int64_t w) {
  int kids[64];
  int n = procfs_children(pid, kids, 64);
  for (int i = 0; i < n; i++) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", kids[i]);
    FILE* f = fopen(path, "r");
    size_t len = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f != NULL) {
      fclose(f);
    }
    buf[len] = '\0';
    for (size_t k = 0; k + 1 < len; k += strlen(buf + k) + 1) {
      if (strcmp(buf + k, "--workers") == 0) {
        char* end;
        for (const char* q = buf + k + strlen(buf + k) + 1; *q != '\0';
             q = *end ? end + 1 : end) {
          long v = strtol(q, &end, 10);
          if (end == q) {
            break;
          }
          if (v == w) {
            return kids[i];
          }
        }
      }
    }
  }
  return -1;
}

/* A process that ends unasked takes its entries with it (pool/code.c,
 * "Trust"): count.js's entry, made in one process and written to DIR,
 * leaves DIR when that process is SIGKILLed; jobs run on. */
static void t_code_dropped(void) {
  char dir[64], cmd[96];
  svc s;
  int64_t w1 = start_with_entry_written(&s, "ccd", dir, sizeof dir);
  if (w1 < 0) {
    return;
  }
  CHECK_EQ(dir_entries(dir, NULL), 1);
  int victim = process_of(s.pid, w1);
  CHECK(victim > 0);
  if (victim > 0) {
    kill(victim, SIGKILL);
  }
  int64_t end = now_ms() + (int64_t)(10000 * iso_test_scale());
  while (dir_entries(dir, NULL) > 0 && now_ms() < end) {
    nap_ms(20);
  }
  CHECK_EQ(dir_entries(dir, NULL), 0);
  expect_call(&s, "count.js", "[]", "1"); /* the other worker's first */
  svc_stop(&s);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_EQ(system(cmd), 0);
}

/* --spare-isolates 0: the old path: the worker rebuilds on its own thread
 * (every recycle cold), and the counts still start again. */
static void t_no_spare(void) {
  const char* flags[] = {"--recycle-after-jobs", "3", "--spare-isolates", "0",
                         NULL};
  svc s;
  if (start(&s, "1", flags) != 0) {
    svc_stop(&s);
    return;
  }
  recycle_all(&s, 0);
  for (int round = 0; round < 3; round++) {
    for (int i = 1; i <= 3; i++) {
      char want[8];
      snprintf(want, sizeof want, "%d", i);
      expect_call(&s, "count.js", "[]", want);
    }
  }
  CHECK(wait_stat(&s, "recycles_cold", 3, 10000) >= 3);
  CHECK_EQ(stat_of(&s, "spare_builds"), 0);
  CHECK_EQ(stat_of(&s, "spares_ready"), 0);
  CHECK_EQ(stat_of(&s, "spare_isolates"), 0);
  CHECK(log_has(&s, "on its own thread: no spare was ready"));
  svc_stop(&s);
}

/* --heap-soft-mb 64 under load: 48 jobs at once on 2 workers, each
 * leaving 20 MiB alive in its warm realm: the workers recycle (a few
 * times each), and every job gets exactly one reply, its own value. */
static void t_soft_limit_load(void) {
  const char* flags[] = {"--heap-soft-mb", "64", NULL};
  svc s;
  if (start(&s, "2", flags) != 0) {
    svc_stop(&s);
    return;
  }
  enum { N = 48 };
  tracker t;
  tracker_init(&t, N);
  for (int i = 0; i < N; i++) {
    char args[32];
    snprintf(args, sizeof args, "[20, %d]", i);
    iso_buf keep;
    tracker_submit_ok(&t, s.c, i, call_job("hold.js", args, &keep), 60000);
    iso_buf_close(&keep);
  }
  CHECK(tracker_wait(&t, N, (int)(60000 * iso_test_scale())));
  expect_own_numbers(&t, 0, N);
  tracker_free(&t);
  /* 48 x 20 MiB over two workers recycling past 64 MiB: 6 at least */
  CHECK(wait_stat(&s, "recycles", 6, 10000) >= 6);
  CHECK(log_has(&s, "recycled (heap_soft)"));
  CHECK_EQ(stat_of(&s, "heap_soft_mb"), 64);
  svc_stop(&s);
}

/* --recycle-heap-mb 96: small calls leave the isolate alone; a call whose
 * 160 MiB of temporaries are garbage when it returns leaves the heap V8
 * committed past the bound, and the worker moves to the spare for that
 * reason (a fresh count after it). */
static void t_recycle_heap(void) {
  const char* flags[] = {"--recycle-heap-mb", "96", NULL};
  svc s;
  if (start(&s, "1", flags) != 0) {
    svc_stop(&s);
    return;
  }
  wait_spare(&s);
  CHECK_EQ(stat_of(&s, "recycle_heap_mb"), 96);
  for (int i = 1; i <= 5; i++) {
    char want[8];
    snprintf(want, sizeof want, "%d", i);
    expect_call(&s, "count.js", "[]", want);
  }
  CHECK_EQ(stat_of(&s, "recycles"), 0);
  expect_call(&s, "spike.js", "[160]", "160");
  CHECK(wait_stat(&s, "recycles", 1, 10000) >= 1);
  CHECK(log_has(&s, "recycled (recycle_heap)"));
  expect_call(&s, "count.js", "[]", "1");
  svc_stop(&s);
}

/* --heap-mb 64 under load: a job that grows the heap without end is
 * stopped (a RangeError, or its deadline), the other jobs on the same
 * worker answer their own values, and the condemned isolate is replaced
 * by the spare, which then serves (a fresh count). */
static void t_hard_limit_load(void) {
  const char* flags[] = {"--heap-mb", "64", NULL};
  svc s;
  if (start(&s, "1", flags) != 0) {
    svc_stop(&s);
    return;
  }
  wait_spare(&s);
  expect_call(&s, "count.js", "[]", "1");
  enum { N = 7 };
  tracker t;
  tracker_init(&t, N);
  for (int i = 0; i < N - 1; i++) { /* waiting on timers meanwhile */
    char args[32];
    snprintf(args, sizeof args, "[300, %d]", i);
    iso_buf keep;
    tracker_submit_ok(&t, s.c, i, call_job("sleep.js", args, &keep), 60000);
    iso_buf_close(&keep);
  }
  iso_buf keep;
  iso_job bomb = call_job("grow.js", "[]", &keep);
  bomb.timeout_ms = 20000;
  tracker_submit_ok(&t, s.c, N - 1, bomb, 60000);
  iso_buf_close(&keep);
  CHECK(tracker_wait(&t, N, (int)(60000 * iso_test_scale())));
  expect_own_numbers(&t, 0, N - 1);
  rec* b = &t.r[N - 1];
  int heap = b->status == ISO_STATUS_REJECTED && b->message != NULL &&
             strstr(b->message, "heap") != NULL;
  int late = b->status == ISO_STATUS_ERROR && b->code == ISO_CODE_TIMEOUT;
  /* (issue 14's memory_limit code, where the service has it) */
  const char* code = iso_proto_code_name((iso_proto_code)b->code);
  heap = heap || (b->status == ISO_STATUS_ERROR && code != NULL &&
                  strcmp(code, "memory_limit") == 0);
  CHECK_EQ(b->calls, 1);
  CHECK(heap || late);
  tracker_free(&t);
  CHECK(wait_stat(&s, "recycles", 1, 10000) >= 1);
  CHECK_EQ(stat_of(&s, "recycles_cold"), 0);
  CHECK(log_has(&s, "recycled (condemned): a spare's isolate"));
  expect_call(&s, "count.js", "[]", "1"); /* a fresh isolate */
  svc_stop(&s);
}

/* ASan's allocator keeps what is freed in its quarantine: a daemon built
 * with it does not give the memory back, so there the RSS is not checked
 * (the isolate's heap reading 0 says it was freed). */
#if defined(__SANITIZE_ADDRESS__)
static const int k_asan = 1;
#else
static const int k_asan = 0;
#endif

/* The pool process's resident memory, kB (its only child: one pool
 * process, no spare process). */
static long pool_rss(svc* s) {
  int kids[4];
  if (procfs_wait_children(s->pid, 1, 10000) < 1 ||
      procfs_children(s->pid, kids, 4) != 1) {
    return -1;
  }
  return procfs_status_field(kids[0], "VmRSS");
}

/* --idle-timeout 1: a worker holding 150 MiB in its warm realm frees its
 * isolate after a second idle (the pool process's RSS drops by most of
 * it); its next job is answered by a fresh isolate taken from the spare,
 * without a build on its thread. */
static void t_idle_timeout(void) {
  const char* flags[] = {"--idle-timeout", "1", "--processes", "1", NULL};
  svc s;
  if (start(&s, "1", flags) != 0) {
    svc_stop(&s);
    return;
  }
  wait_spare(&s);
  expect_call(&s, "count.js", "[]", "1");
  expect_call(&s, "hold.js", "[150, 7]", "7");
  /* (a slow start may have had it idle already: counted from here) */
  long before = stat_of(&s, "recycles");
  long full = pool_rss(&s);
  CHECK(full > 150 * 1024);
  /* freed: the worker's heap reads 0 (INFO), and its process's RSS drops
   * by most of the 150 MiB */
  int64_t end = now_ms() + (int64_t)(15000 * iso_test_scale());
  long rss = full;
  double heap = 1;
  while (((!k_asan && rss > full - 100 * 1024) || heap != 0) &&
         now_ms() < end) {
    nap_ms(100);
    rss = pool_rss(&s);
    char* wk = admin(&s, ISO_ADMIN_WORKERS);
    heap = js_num(wk, "workers.0.heap_used");
    free(wk);
  }
  CHECK(heap == 0);
  if (!k_asan && rss > full - 100 * 1024) {
    fprintf(stderr, "  RSS %ld kB after idle, %ld kB before\n", rss, full);
  }
  if (!k_asan) {
    CHECK(rss > 0 && rss <= full - 100 * 1024);
  }
  CHECK_EQ(stat_of(&s, "recycles"), before); /* freed, not replaced yet */
  expect_call(&s, "count.js", "[]", "1");    /* a fresh isolate */
  CHECK(wait_stat(&s, "recycles", before + 1, 10000) >= before + 1);
  CHECK_EQ(stat_of(&s, "recycles_cold"), 0);
  CHECK(log_has(&s, "recycled (idle): a spare's isolate"));
  /* idle again, then stopped: the STOP needs no isolate (none is taken
   * or built for it), and the daemon exits 0 */
  long now = stat_of(&s, "recycles");
  int64_t until = now_ms() + (int64_t)(15000 * iso_test_scale());
  do {
    nap_ms(100);
    char* wk = admin(&s, ISO_ADMIN_WORKERS);
    heap = js_num(wk, "workers.0.heap_used");
    free(wk);
  } while (heap != 0 && now_ms() < until);
  CHECK(heap == 0);
  free(admin(&s, ISO_ADMIN_RELOAD)); /* taken without an isolate too */
  CHECK_EQ(stat_of(&s, "recycles"), now);
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"after_jobs", t_after_jobs},
    {"no_spare", t_no_spare},
    {"code_cache", t_code_cache},
    {"code_shared", t_code_shared},
    {"code_stats", t_code_stats},
    {"code_disk", t_code_disk},
    {"code_other_tag", t_code_other_tag},
    {"code_dropped", t_code_dropped},
    {"soft_limit_load", t_soft_limit_load},
    {"hard_limit_load", t_hard_limit_load},
    {"recycle_heap", t_recycle_heap},
    {"idle_timeout", t_idle_timeout},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
