/* test_pool_proc_args.c: pool/proc_args.c, a pool process's command line:
 * what the front writes the process parses back to the same values; every
 * kind of malformed line is refused with a sentence naming the option;
 * the links' names. Built from its source with super.c (the links'
 * directory) and log.c, without V8; the process itself is
 * test_pool_proc's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "pool_proc.h"
#include "super.h"
#include "support/tap.h"

static pool_proc_args base_args(void) {
  pool_proc_args a = {
      .linkdir = "/tmp/isopool-abc123",
      .proc = 3,
      .gen = 7,
      .nworkers = 3,
      .workers = {4, 5, 11},
      .modules = "/srv/modules",
      .heap_mb = 64,
      .process_max_mb = 1024,
      .max_message = 1 << 20,
      .background_ms = 250,
      .nslots = 8,
      .nperms = 16,
      .log_level = "info",
      .log_format = "json",
      .probe_fd = -1,
  };
  return a;
}

static void check_same(const pool_proc_args* a, const pool_proc_args* b) {
  CHECK_STR(a->linkdir, b->linkdir);
  CHECK_EQ(a->proc, b->proc);
  CHECK_EQ(a->gen, b->gen);
  CHECK_EQ(a->nworkers, b->nworkers);
  for (int i = 0; i < a->nworkers && i < b->nworkers; i++) {
    CHECK_EQ(a->workers[i], b->workers[i]);
  }
  CHECK_STR(a->modules, b->modules);
  CHECK_EQ(a->heap_mb, b->heap_mb);
  CHECK_EQ(a->process_max_mb, b->process_max_mb);
  CHECK_EQ(a->max_message, b->max_message);
  CHECK_EQ(a->background_ms, b->background_ms);
  CHECK_EQ(a->nslots, b->nslots);
  CHECK_EQ(a->nperms, b->nperms);
  CHECK_EQ(a->log_jobs, b->log_jobs);
  CHECK_STR(a->log_level, b->log_level);
  CHECK_STR(a->log_format, b->log_format);
  CHECK_EQ(a->v8_flags == NULL, b->v8_flags == NULL);
  if (a->v8_flags != NULL && b->v8_flags != NULL) {
    CHECK_STR(a->v8_flags, b->v8_flags);
  }
  CHECK_EQ(a->probe_fd, b->probe_fd);
}

static int argc_of(char** argv) {
  int n = 0;
  while (argv[n] != NULL) {
    n++;
  }
  return n;
}

/* Writes a, checks the line's shape, parses it back. */
static void round_trip(const pool_proc_args* a) {
  char** argv = NULL;
  char err[256] = "";
  CHECK_EQ(pool__proc_argv_new(a, &argv, err, sizeof err), 0);
  if (argv == NULL) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK_STR(argv[0], "isopool");
  CHECK_STR(argv[1], POOL_PROC_CMD);
  pool_proc_args b;
  memset(&b, 0xa5, sizeof b);
  CHECK_EQ(
      pool__proc_args_parse(argc_of(argv) - 1, argv + 1, &b, err, sizeof err),
      0);
  check_same(a, &b);
  pool__proc_argv_free(argv);
}

static void t_round_trip(void) {
  pool_proc_args a = base_args();
  round_trip(&a);
  /* the optional ones, and the bounds of each number */
  a.log_jobs = 1;
  a.v8_flags = "--stack-size=900 --no-opt";
  a.probe_fd = 9;
  a.process_max_mb = 0;
  a.background_ms = 0;
  a.proc = UINT32_MAX;
  a.gen = 0;
  a.nworkers = POOL_PROC_MAX_WORKERS;
  for (int i = 0; i < a.nworkers; i++) {
    a.workers[i] = i == 0 ? INT32_MAX : i; /* not sorted: kept as given */
  }
  a.nperms = 65536;
  a.nslots = 100000;
  a.heap_mb = 1;
  a.max_message = (size_t)1 << 30;
  round_trip(&a);
  a.nworkers = 1;
  a.workers[0] = 0;
  a.log_level = "debug";
  a.log_format = "text";
  round_trip(&a);
}

/* The writer refuses what the process would, and writes nothing. */
static void t_writer_refuses(void) {
  char** argv = (char**)1;
  char err[256] = "";
  pool_proc_args a = base_args();
  a.nworkers = 0;
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK(strstr(err, "--workers") != NULL);
  CHECK(argv == (char**)1);
  a = base_args();
  a.modules = NULL;
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK_STR(err, "--modules is missing");
  a = base_args();
  a.modules = "relative/mods";
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK(strstr(err, "not an absolute path") != NULL);
  a = base_args();
  a.workers[2] = 4;
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK_STR(err, "--workers: worker 4 named twice");
  a = base_args();
  a.process_max_mb = 192; /* 3 x 64: no room */
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK(strstr(err, "--process-max-mb") != NULL);
  a.process_max_mb = 193;
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), 0);
  pool__proc_argv_free(argv);
  pool__proc_argv_free(NULL);
}

/* One malformed line: the base line with one change. */
typedef struct bad_row {
  const char* name;
  const char* drop;   /* this option (and its value) left out */
  const char* set;    /* this option's value replaced by value */
  const char* value;  /* (set) */
  const char* extra1; /* appended */
  const char* extra2;
  const char* expect; /* in the error */
} bad_row;

static const bad_row kBad[] = {
    {"missing_option", .drop = "--gen", .expect = "--gen is missing"},
    {"missing_link_dir", .drop = "--link-dir",
     .expect = "--link-dir is missing"},
    {"unknown_option", .extra1 = "--frobnicate", .extra2 = "1",
     .expect = "\"--frobnicate\" is not an option of pool-process"},
    {"positional", .extra1 = "serve", .expect = "\"serve\" is not an option"},
    {"equals_form", .extra1 = "--log-jobs=1",
     .expect = "\"--log-jobs=1\" is not an option"},
    {"repeated", .extra1 = "--proc", .extra2 = "4",
     .expect = "--proc given twice"},
    {"repeated_flag", .extra1 = "--log-jobs", .extra2 = "--log-jobs",
     .expect = "--log-jobs given twice"},
    {"no_value", .extra1 = "--v8-flags", .expect = "--v8-flags needs a value"},
    {"not_a_number", .set = "--heap-mb", .value = "64M",
     .expect = "--heap-mb: \"64M\" is not a number"},
    {"negative", .set = "--proc", .value = "-1",
     .expect = "--proc: \"-1\" is not a number"},
    {"plus_sign", .set = "--gen", .value = "+1",
     .expect = "--gen: \"+1\" is not a number"},
    {"leading_zero", .set = "--slots", .value = "08",
     .expect = "--slots: \"08\" is not a number"},
    {"empty_number", .set = "--slots", .value = "",
     .expect = "--slots: \"\" is not a number"},
    {"overflow", .set = "--max-message", .value = "99999999999999999999999",
     .expect = "is not a number"},
    {"u32_overflow", .set = "--gen", .value = "4294967296",
     .expect = "--gen: 4294967296 is not within 0 .. 4294967295"},
    {"zero_heap", .set = "--heap-mb", .value = "0",
     .expect = "--heap-mb: 0 is not within 1 .. 1048576"},
    {"too_many_perms", .set = "--perms", .value = "65537",
     .expect = "--perms: 65537 is not within 1 .. 65536"},
    {"zero_slots", .set = "--slots", .value = "0",
     .expect = "--slots: 0 is not within"},
    {"huge_background", .set = "--background-ms", .value = "3600001",
     .expect = "--background-ms: 3600001 is not within"},
    {"low_probe_fd", .extra1 = "--test-probe-fd", .extra2 = "2",
     .expect = "--test-probe-fd: 2 is not within 3 .. 1023"},
    {"list_empty", .set = "--workers", .value = "",
     .expect = "--workers: \"\" is not a list of worker numbers"},
    {"list_trailing_comma", .set = "--workers", .value = "1,2,",
     .expect = "is not a list of worker numbers"},
    {"list_spaces", .set = "--workers", .value = "1, 2",
     .expect = "is not a list of worker numbers"},
    {"list_negative", .set = "--workers", .value = "1,-2",
     .expect = "is not a list of worker numbers"},
    {"list_too_large", .set = "--workers", .value = "2147483648",
     .expect = "is not a list of worker numbers"},
    {"list_twice", .set = "--workers", .value = "3,9,3",
     .expect = "--workers: worker 3 named twice"},
    {"relative_link_dir", .set = "--link-dir", .value = "tmp/x",
     .expect = "--link-dir: \"tmp/x\" is not an absolute path"},
    {"long_link_dir", .set = "--link-dir",
     .value =
         "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaa",
     .expect = "leaves no room for the links' names"},
    {"relative_modules", .set = "--modules", .value = ".",
     .expect = "--modules: \".\" is not an absolute path"},
    {"bad_level", .set = "--log-level", .value = "verbose",
     .expect = "--log-level: \"verbose\" is not debug, info, warn or error"},
    {"bad_format", .set = "--log-format", .value = "xml",
     .expect = "--log-format: \"xml\" is not text or json"},
    {"empty_v8_flags", .extra1 = "--v8-flags", .extra2 = "",
     .expect = "--v8-flags: empty"},
    {"heaps_over_limit", .set = "--process-max-mb", .value = "100",
     .expect = "--process-max-mb: 100 MiB does not hold the isolates' heaps "
               "(3 x --heap-mb 64)"},
};

static void run_bad(const void* row) {
  const bad_row* r = row;
  pool_proc_args a = base_args();
  char** good = NULL;
  char err[256] = "";
  CHECK_EQ(pool__proc_argv_new(&a, &good, err, sizeof err), 0);
  if (good == NULL) {
    return;
  }
  char* argv[64];
  int n = 0;
  for (int i = 1; good[i] != NULL; i++) {
    if (r->drop != NULL && strcmp(good[i], r->drop) == 0) {
      i++; /* and its value */
      continue;
    }
    argv[n++] = good[i];
    if (r->set != NULL && strcmp(good[i], r->set) == 0) {
      argv[n++] = (char*)r->value;
      i++;
    }
  }
  if (r->extra1 != NULL) {
    argv[n++] = (char*)r->extra1;
  }
  if (r->extra2 != NULL) {
    argv[n++] = (char*)r->extra2;
  }
  argv[n] = NULL;
  pool_proc_args b = base_args();
  CHECK_EQ(pool__proc_args_parse(n, argv, &b, err, sizeof err), ISO_EUSAGE);
  if (strstr(err, r->expect) == NULL) {
    fprintf(stderr, "  error \"%s\", expected \"%s\"\n", err, r->expect);
    CHECK(0);
  }
  /* nothing was written to the caller's struct */
  CHECK_EQ(b.proc, 3u);
  CHECK_EQ(b.nworkers, 3);
  pool__proc_argv_free(good);
}

static void t_link_urls(void) {
  char url[256];
  CHECK_EQ(pool__proc_link_url("/run/u/isopool/x1", 2, 5, POOL_PROC_CTL, -1,
                               url, sizeof url),
           0);
  CHECK_STR(url, "ipc:///run/u/isopool/x1/2.5.ctl");
  CHECK_EQ(pool__proc_link_url("/run/u/isopool/x1", 2, 5, POOL_PROC_JOBS, 12,
                               url, sizeof url),
           0);
  CHECK_STR(url, "ipc:///run/u/isopool/x1/2.5.12.jobs");
  CHECK_EQ(pool__proc_link_url("/run/u/isopool/x1", 2, 5, POOL_PROC_OPS, 0, url,
                               sizeof url),
           0);
  CHECK_STR(url, "ipc:///run/u/isopool/x1/2.5.0.ops");
  /* the longest name of eight-digit workers fits beside the longest
   * directory; a longer one is refused when it does not fit */
  char dir[POOL_IPC_PATH_MAX];
  memset(dir, 'd', sizeof dir);
  dir[0] = '/';
  dir[POOL_IPC_PATH_MAX - POOL_LINKDIR_NAME_ROOM] = '\0';
  CHECK_EQ(pool__proc_link_url(dir, UINT32_MAX, UINT32_MAX, POOL_PROC_JOBS,
                               99999999, url, sizeof url),
           0);
  CHECK(strlen(url) - strlen("ipc://") + POOL_LINK_SUFFIX_LEN <=
        POOL_IPC_PATH_MAX);
  CHECK_EQ(pool__proc_link_url(dir, UINT32_MAX, UINT32_MAX, POOL_PROC_JOBS,
                               INT32_MAX, url, sizeof url),
           ISO_ETOOBIG);
  dir[POOL_IPC_PATH_MAX - POOL_LINKDIR_NAME_ROOM] = 'd';
  dir[POOL_IPC_PATH_MAX - POOL_LINKDIR_NAME_ROOM + 1] = '\0';
  CHECK_EQ(pool__proc_link_url(dir, 0, 0, POOL_PROC_CTL, 0, url, sizeof url),
           ISO_ETOOBIG);
  CHECK_EQ(pool__proc_link_url("rel", 0, 0, POOL_PROC_CTL, 0, url, sizeof url),
           ISO_EINVAL);
  CHECK_EQ(pool__proc_link_url("/d", 0, 0, POOL_PROC_JOBS, -1, url, sizeof url),
           ISO_EINVAL);
  CHECK_EQ(
      pool__proc_link_url("/d", 0, 0, (pool_proc_link)9, 0, url, sizeof url),
      ISO_EINVAL);
  CHECK_EQ(pool__proc_link_url("/d", 0, 0, POOL_PROC_CTL, 0, url, 8),
           ISO_ETOOBIG);
}

static const iso_test cases[] = {
    {"round_trip", t_round_trip},
    {"writer_refuses", t_writer_refuses},
    {"link_urls", t_link_urls},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_rows(argc, argv, kBad, sizeof kBad / sizeof kBad[0],
                       sizeof kBad[0], run_bad, cases);
}
