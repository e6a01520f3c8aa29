/* test_pool_proc_args.c: pool/proc_args.c, a pool process's command line:
 * what the front writes the process parses back to the same values; every
 * kind of malformed line is refused with a sentence naming the option,
 * lists of link descriptors that are not one per worker or name one
 * twice included. Built from its source with log.c, without V8; the
 * process itself (and its check that the descriptors are link sockets)
 * is test_pool_proc's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "pool_proc.h"
#include "support/tap.h"

static pool_proc_args base_args(void) {
  pool_proc_args a = {
      .ctl_fd = 20,
      .jobs_fds = {21, 23, 25},
      .njobs_fds = 3,
      .ops_fds = {22, 24, 26},
      .nops_fds = 3,
      .proc = 3,
      .gen = 7,
      .nworkers = 3,
      .workers = {4, 5, 11},
      .modules = "/srv/modules",
      .heap_mb = 64,
      .process_max_mb = 1024,
      .max_message = 1 << 20,
      .background_ms = 250,
      .code_cache_mb = 32,
      .nslots = 8,
      .nperms = 16,
      .log_level = "info",
      .log_format = "json",
      .probe_fd = -1,
  };
  return a;
}

static void check_same(const pool_proc_args* a, const pool_proc_args* b) {
  CHECK_EQ(a->ctl_fd, b->ctl_fd);
  CHECK_EQ(a->njobs_fds, b->njobs_fds);
  CHECK_EQ(a->nops_fds, b->nops_fds);
  for (int i = 0; i < a->njobs_fds && i < b->njobs_fds; i++) {
    CHECK_EQ(a->jobs_fds[i], b->jobs_fds[i]);
    CHECK_EQ(a->ops_fds[i], b->ops_fds[i]);
  }
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
  CHECK_EQ(a->code_cache_mb, b->code_cache_mb);
  CHECK_EQ(a->nslots, b->nslots);
  CHECK_EQ(a->nperms, b->nperms);
  CHECK_EQ(a->log_jobs, b->log_jobs);
  CHECK_STR(a->log_level, b->log_level);
  CHECK_STR(a->log_format, b->log_format);
  CHECK_EQ(a->v8_flags == NULL, b->v8_flags == NULL);
  if (a->v8_flags != NULL && b->v8_flags != NULL) {
    CHECK_STR(a->v8_flags, b->v8_flags);
  }
  CHECK_EQ(a->import_map == NULL, b->import_map == NULL);
  if (a->import_map != NULL && b->import_map != NULL) {
    CHECK_STR(a->import_map, b->import_map);
    CHECK_STR(a->import_map_url, b->import_map_url);
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
  /* an import map's text, as the front read it: newlines, quotes */
  a.import_map = "{\n  \"imports\": {\"a b\": \"./x y.js\"}\n}\n";
  a.import_map_url = "file:///srv/app/import map.json";
  a.probe_fd = 1023; /* none of the links' */
  a.process_max_mb = 0;
  a.background_ms = 0;
  a.proc = UINT32_MAX;
  a.gen = 0;
  a.nworkers = a.njobs_fds = a.nops_fds = POOL_PROC_MAX_WORKERS;
  a.ctl_fd = 1 << 20; /* the largest */
  for (int i = 0; i < a.nworkers; i++) {
    a.workers[i] = i == 0 ? INT32_MAX : i; /* not sorted: kept as given */
    a.jobs_fds[i] = 3 + 2 * i;
    a.ops_fds[i] = 4 + 2 * i;
  }
  a.nperms = 65536;
  a.nslots = 100000;
  a.heap_mb = 1;
  a.max_message = (size_t)1 << 30;
  round_trip(&a);
  a.nworkers = a.njobs_fds = a.nops_fds = 1;
  a.workers[0] = 0;
  a.probe_fd = -1;
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
  CHECK_STR(err, "--workers: 4 named twice");
  a = base_args();
  a.nops_fds = 2; /* one per worker, each list */
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK(strstr(err, "one descriptor per worker") != NULL);
  a = base_args();
  a.probe_fd = 20; /* the control link's */
  CHECK_EQ(pool__proc_argv_new(&a, &argv, err, sizeof err), ISO_EUSAGE);
  CHECK_STR(err, "descriptor 20 is given for two uses");
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
    {"missing_ctl_fd", .drop = "--ctl-fd", .expect = "--ctl-fd is missing"},
    {"missing_jobs_fds", .drop = "--jobs-fds",
     .expect = "--jobs-fds is missing"},
    {"low_ctl_fd", .set = "--ctl-fd", .value = "2",
     .expect = "--ctl-fd: 2 is not within 3 .. 1048576"},
    {"too_few_fds", .set = "--jobs-fds", .value = "21,23",
     .expect = "one descriptor per worker each (3 workers; 2 and 3"},
    {"too_many_fds", .set = "--ops-fds", .value = "22,24,26,28",
     .expect = "one descriptor per worker each (3 workers; 3 and 4"},
    {"fd_for_two_links", .set = "--ops-fds", .value = "22,24,21",
     .expect = "descriptor 21 is given for two uses"},
    {"ctl_fd_twice", .set = "--ctl-fd", .value = "26",
     .expect = "descriptor 26 is given for two uses"},
    {"fd_list_twice", .set = "--jobs-fds", .value = "21,23,21",
     .expect = "--jobs-fds: 21 named twice"},
    {"fd_list_low", .set = "--jobs-fds", .value = "21,1,25",
     .expect = "--jobs-fds: \"21,1,25\" is not a list of numbers (3 to"},
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
     .expect = "--workers: \"\" is not a list of numbers"},
    {"list_trailing_comma", .set = "--workers", .value = "1,2,",
     .expect = "is not a list of numbers"},
    {"list_spaces", .set = "--workers", .value = "1, 2",
     .expect = "is not a list of numbers"},
    {"list_negative", .set = "--workers", .value = "1,-2",
     .expect = "is not a list of numbers"},
    {"list_too_large", .set = "--workers", .value = "2147483648",
     .expect = "is not a list of numbers"},
    {"list_twice", .set = "--workers", .value = "3,9,3",
     .expect = "--workers: 3 named twice"},
    {"relative_modules", .set = "--modules", .value = ".",
     .expect = "--modules: \".\" is not an absolute path"},
    {"bad_level", .set = "--log-level", .value = "verbose",
     .expect = "--log-level: \"verbose\" is not debug, info, warn or error"},
    {"bad_format", .set = "--log-format", .value = "xml",
     .expect = "--log-format: \"xml\" is not text or json"},
    {"empty_v8_flags", .extra1 = "--v8-flags", .extra2 = "",
     .expect = "--v8-flags: empty"},
    {"import_map_alone", .extra1 = "--import-map", .extra2 = "{}",
     .expect = "--import-map and --import-map-url go together"},
    {"import_map_url_alone", .extra1 = "--import-map-url",
     .extra2 = "file:///m.json",
     .expect = "--import-map and --import-map-url go together"},
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

static const iso_test cases[] = {
    {"round_trip", t_round_trip},
    {"writer_refuses", t_writer_refuses},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_rows(argc, argv, kBad, sizeof kBad / sizeof kBad[0],
                       sizeof kBad[0], run_bad, cases);
}
