/* proc_args.c: a pool process's command line, written by the front and
 * parsed by the process, from one table of its options (kOpts), so the
 * two cannot drift apart.
 *
 * The command line comes from the front, which the process trusts, but it
 * is still parsed strictly: "--name value" pairs and flags, each named
 * once, every value checked against its row's bounds, nothing left over.
 * A front and a pool process of different builds, or a person running
 * the subcommand by hand, get a sentence naming the option, and exit
 * status 2, rather than a process that half understood. The writer parses
 * what it wrote, so it refuses what the process would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "pool_proc.h"
#include "records.h"

typedef enum opt_type {
  T_U32 = 1, /* a decimal uint32_t within [min, max] */
  T_SIZE,    /* a decimal size_t within [min, max] */
  T_INT,     /* a decimal int within [min, max] (a descriptor) */
  T_PATH,    /* an absolute path */
  T_TEXT,    /* a non-empty string */
  T_LIST,    /* decimal ints within [min, max], comma-separated, each
                once: an int array at off, its count at count_off */
  T_LEVEL,   /* a log level */
  T_FORMAT,  /* a log format */
  T_FLAG     /* no value: sets an int to 1 */
} opt_type;

typedef struct opt_row {
  const char* name; /* without its "--" */
  opt_type type;
  size_t off;       /* its field in pool_proc_args */
  size_t count_off; /* T_LIST: its count's */
  uint64_t min, max;
  int required;
} opt_row;

#define ROW(n, t, field, lo, hi, req)                                          \
  {                                                                            \
    .name = n, .type = t, .off = offsetof(pool_proc_args, field), .min = (lo), \
    .max = (hi), .required = (req)                                             \
  }
#define LIST(n, field, count, lo, hi)                                       \
  {                                                                         \
    .name = n, .type = T_LIST, .off = offsetof(pool_proc_args, field),      \
    .count_off = offsetof(pool_proc_args, count), .min = (lo), .max = (hi), \
    .required = 1                                                           \
  }
/* A descriptor's number, as the process may have it. */
#define FD_MAX (1u << 20)

static const opt_row kOpts[] = {
    ROW("ctl-fd", T_INT, ctl_fd, 3, FD_MAX, 1),
    LIST("jobs-fds", jobs_fds, njobs_fds, 3, FD_MAX),
    LIST("ops-fds", ops_fds, nops_fds, 3, FD_MAX),
    ROW("proc", T_U32, proc, 0, UINT32_MAX, 1),
    ROW("gen", T_U32, gen, 0, UINT32_MAX, 1),
    LIST("workers", workers, nworkers, 0, INT32_MAX),
    ROW("modules", T_PATH, modules, 0, 0, 1),
    ROW("heap-mb", T_SIZE, heap_mb, 1, (uint64_t)1 << 20, 1),
    ROW("process-max-mb", T_SIZE, process_max_mb, 0, (uint64_t)1 << 30, 1),
    ROW("max-message", T_SIZE, max_message, 1, (uint64_t)1 << 30, 1),
    ROW("background-ms", T_U32, background_ms, 0, 3600000, 1),
    ROW("spare-isolates", T_U32, spares, 0, 64, 1),
    ROW("recycle-after-jobs", T_U32, recycle_jobs, 0, UINT32_MAX, 1),
    ROW("heap-soft-mb", T_U32, heap_soft_mb, 0, 1u << 20, 1),
    ROW("recycle-heap-mb", T_U32, recycle_heap_mb, 0, 1u << 20, 1),
    ROW("idle-timeout-ms", T_U32, idle_ms, 0, UINT32_MAX, 1),
    ROW("slots", T_U32, nslots, 1, 100000, 1),
    /* a permission set's index is 16 bits (POOL_PERM_INDEX) */
    ROW("perms", T_U32, nperms, 1, POOL_PERM_INDEX(UINT32_MAX) + 1u, 1),
    ROW("log-level", T_LEVEL, log_level, 0, 0, 1),
    ROW("log-format", T_FORMAT, log_format, 0, 0, 1),
    ROW("log-jobs", T_FLAG, log_jobs, 0, 0, 0),
    ROW("v8-flags", T_TEXT, v8_flags, 0, 0, 0),
    ROW("code-cache-mb", T_U32, code_cache_mb, 0, 4096, 1),
    ROW("import-map", T_TEXT, import_map, 0, 0, 0),
    ROW("import-map-url", T_TEXT, import_map_url, 0, 0, 0),
    ROW("test-probe-fd", T_INT, probe_fd, 3, 1023, 0),
};
#define NOPTS (sizeof kOpts / sizeof kOpts[0])

static const char* const kLevels[] = {"debug", "info", "warn", "error", NULL};
static const char* const kFormats[] = {"text", "json", NULL};

static int usage(char* err, size_t errlen, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage(char* err, size_t errlen, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err != NULL && errlen > 0) {
    vsnprintf(err, errlen, fmt, ap);
  }
  va_end(ap);
  return ISO_EUSAGE;
}

/* A decimal number without sign, spaces or excess: 0 and *v, or -1. */
static int parse_u64(const char* s, size_t len, uint64_t* v) {
  if (len == 0 || len > 20) {
    return -1;
  }
  uint64_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    uint64_t d = (uint64_t)(s[i] - '0');
    if (n > (UINT64_MAX - d) / 10) {
      return -1;
    }
    n = n * 10 + d;
  }
  if (len > 1 && s[0] == '0') {
    return -1; /* one way to write each number */
  }
  *v = n;
  return 0;
}

static int one_of(const char* s, const char* const* names) {
  for (size_t i = 0; names[i] != NULL; i++) {
    if (strcmp(s, names[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

static int parse_list(const opt_row* o,
                      const char* v,
                      pool_proc_args* a,
                      char* err,
                      size_t errlen) {
  int* list = (int*)((char*)a + o->off);
  int* count = (int*)((char*)a + o->count_off);
  *count = 0;
  const char* p = v;
  for (;;) {
    const char* comma = strchr(p, ',');
    size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
    uint64_t n;
    if (parse_u64(p, len, &n) != 0 || n < o->min || n > o->max) {
      return usage(err, errlen,
                   "--%s: \"%.64s\" is not a list of numbers (%llu to "
                   "%llu, comma-separated)",
                   o->name, v, (unsigned long long)o->min,
                   (unsigned long long)o->max);
    }
    if (*count == POOL_PROC_MAX_WORKERS) {
      return usage(err, errlen, "--%s: more than %d entries", o->name,
                   POOL_PROC_MAX_WORKERS);
    }
    for (int i = 0; i < *count; i++) {
      if (list[i] == (int)n) {
        return usage(err, errlen, "--%s: %d named twice", o->name, (int)n);
      }
    }
    list[(*count)++] = (int)n;
    if (comma == NULL) {
      return 0;
    }
    p = comma + 1;
  }
}

/* Stores one option's value into its field. */
static int set_value(const opt_row* o,
                     const char* v,
                     pool_proc_args* a,
                     char* err,
                     size_t errlen) {
  char* field = (char*)a + o->off;
  uint64_t n = 0;
  switch (o->type) {
    case T_U32:
    case T_SIZE:
    case T_INT:
      if (parse_u64(v, strlen(v), &n) != 0) {
        return usage(err, errlen, "--%s: \"%.64s\" is not a number", o->name,
                     v);
      }
      if (n < o->min || n > o->max) {
        return usage(err, errlen, "--%s: %llu is not within %llu .. %llu",
                     o->name, (unsigned long long)n, (unsigned long long)o->min,
                     (unsigned long long)o->max);
      }
      if (o->type == T_U32) {
        *(uint32_t*)field = (uint32_t)n;
      } else if (o->type == T_SIZE) {
        *(size_t*)field = (size_t)n;
      } else {
        *(int*)field = (int)n;
      }
      return 0;
    case T_PATH:
      if (v[0] != '/') {
        return usage(err, errlen, "--%s: \"%.200s\" is not an absolute path",
                     o->name, v);
      }
      *(const char**)field = v;
      return 0;
    case T_TEXT:
      if (v[0] == '\0') {
        return usage(err, errlen, "--%s: empty", o->name);
      }
      *(const char**)field = v;
      return 0;
    case T_LIST:
      return parse_list(o, v, a, err, errlen);
    case T_LEVEL:
    case T_FORMAT:
      if (!one_of(v, o->type == T_LEVEL ? kLevels : kFormats)) {
        return usage(
            err, errlen, "--%s: \"%.64s\" is not %s", o->name, v,
            o->type == T_LEVEL ? "debug, info, warn or error" : "text or json");
      }
      *(const char**)field = v;
      return 0;
    case T_FLAG:
      *(int*)field = 1;
      return 0;
  }
  return usage(err, errlen, "--%s: no such kind of option", o->name);
}

/* What holds between the options once all are in. */
static int check_all(const pool_proc_args* a, char* err, size_t errlen) {
  if (a->njobs_fds != a->nworkers || a->nops_fds != a->nworkers) {
    return usage(err, errlen,
                 "--jobs-fds and --ops-fds: one descriptor per worker each "
                 "(%d workers; %d and %d descriptors)",
                 a->nworkers, a->njobs_fds, a->nops_fds);
  }
  /* every descriptor once: a link each, and the probe's */
  int fds[2 + 2 * POOL_PROC_MAX_WORKERS];
  int n = 0;
  fds[n++] = a->ctl_fd;
  for (int i = 0; i < a->nworkers; i++) {
    fds[n++] = a->jobs_fds[i];
    fds[n++] = a->ops_fds[i];
  }
  if (a->probe_fd >= 0) {
    fds[n++] = a->probe_fd;
  }
  for (int i = 0; i < n; i++) {
    for (int j = i + 1; j < n; j++) {
      if (fds[i] == fds[j]) {
        return usage(err, errlen, "descriptor %d is given for two uses",
                     fds[i]);
      }
    }
  }
  if ((a->import_map == NULL) != (a->import_map_url == NULL)) {
    return usage(err, errlen, "--import-map and --import-map-url go together");
  }
  if (a->process_max_mb != 0 &&
      a->process_max_mb <= (size_t)a->nworkers * a->heap_mb) {
    return usage(err, errlen,
                 "--process-max-mb: %zu MiB does not hold the isolates' "
                 "heaps (%d x --heap-mb %zu)",
                 a->process_max_mb, a->nworkers, a->heap_mb);
  }
  return 0;
}

int pool__proc_args_parse(int argc,
                          char* const* argv,
                          pool_proc_args* out,
                          char* err,
                          size_t errlen) {
  pool_proc_args a = {.probe_fd = -1, .ctl_fd = -1};
  int seen[NOPTS] = {0};
  for (int i = 1; i < argc; i++) {
    const char* arg = argv[i];
    size_t k = 0;
    if (strncmp(arg, "--", 2) == 0) {
      while (k < NOPTS && strcmp(arg + 2, kOpts[k].name) != 0) {
        k++;
      }
    } else {
      k = NOPTS;
    }
    if (k == NOPTS) {
      return usage(err, errlen, "\"%.200s\" is not an option of %s", arg,
                   POOL_PROC_CMD);
    }
    const opt_row* o = &kOpts[k];
    if (seen[k]) {
      return usage(err, errlen, "--%s given twice", o->name);
    }
    seen[k] = 1;
    const char* v = "";
    if (o->type != T_FLAG) {
      if (i + 1 >= argc) {
        return usage(err, errlen, "--%s needs a value", o->name);
      }
      v = argv[++i];
    }
    int rc = set_value(o, v, &a, err, errlen);
    if (rc != 0) {
      return rc;
    }
  }
  for (size_t k = 0; k < NOPTS; k++) {
    if (kOpts[k].required && !seen[k]) {
      return usage(err, errlen, "--%s is missing", kOpts[k].name);
    }
  }
  int rc = check_all(&a, err, errlen);
  if (rc == 0) {
    *out = a;
  }
  return rc;
}

/* Appends s (copied) to argv[*n]; -1 when out of memory. */
static int push(char** argv, int* n, const char* s) {
  argv[*n] = strdup(s);
  return argv[(*n)++] != NULL ? 0 : -1;
}

/* The value of one option as text into buf; 0 (absent: nothing to
 * write), 1 (written) or -1 (out of memory, a list too long). */
static int format_value(const opt_row* o,
                        const pool_proc_args* a,
                        char* buf,
                        size_t cap) {
  const char* field = (const char*)a + o->off;
  switch (o->type) {
    case T_U32:
      snprintf(buf, cap, "%u", *(const uint32_t*)field);
      return 1;
    case T_SIZE:
      snprintf(buf, cap, "%zu", *(const size_t*)field);
      return 1;
    case T_INT:
      if (*(const int*)field < 0) {
        return 0;
      }
      snprintf(buf, cap, "%d", *(const int*)field);
      return 1;
    case T_PATH:
    case T_TEXT:
    case T_LEVEL:
    case T_FORMAT: {
      const char* s = *(const char* const*)field;
      if (s == NULL) {
        return 0;
      }
      snprintf(buf, cap, "%s", s);
      return 1;
    }
    case T_LIST: {
      const int* list = (const int*)((const char*)a + o->off);
      int count = *(const int*)((const char*)a + o->count_off);
      size_t len = 0;
      buf[0] = '\0';
      if (count < 0 || count > POOL_PROC_MAX_WORKERS) {
        return -1;
      }
      for (int i = 0; i < count; i++) {
        int w = snprintf(buf + len, cap - len, i ? ",%d" : "%d", list[i]);
        if (w < 0 || (size_t)w >= cap - len) {
          return -1;
        }
        len += (size_t)w;
      }
      return 1;
    }
    case T_FLAG:
      return *(const int*)field ? 1 : 0;
  }
  return -1;
}

int pool__proc_argv_new(const pool_proc_args* a,
                        char*** out,
                        char* err,
                        size_t errlen) {
  if (a->nworkers < 0 || a->nworkers > POOL_PROC_MAX_WORKERS) {
    return usage(err, errlen, "--workers: %d workers (1 .. %d)", a->nworkers,
                 POOL_PROC_MAX_WORKERS);
  }
  /* "isopool", the command, a name and a value per option, NULL */
  char** argv = calloc(2 + 2 * NOPTS + 1, sizeof(*argv));
  if (argv == NULL) {
    return ISO_ENOMEM;
  }
  int n = 0;
  int rc = push(argv, &n, "isopool") || push(argv, &n, POOL_PROC_CMD);
  /* the longest value: a path, the flags, or the list of workers */
  size_t cap = 4096 + 12 * POOL_PROC_MAX_WORKERS;
  for (size_t k = 0; k < NOPTS; k++) {
    const opt_row* o = &kOpts[k];
    const char* field = (const char*)a + o->off;
    if ((o->type == T_TEXT || o->type == T_PATH) &&
        *(const char* const*)field != NULL) {
      cap = cap > strlen(*(const char* const*)field) + 1
                ? cap
                : strlen(*(const char* const*)field) + 1;
    }
  }
  char* buf = malloc(cap);
  char name[64];
  for (size_t k = 0; rc == 0 && k < NOPTS; k++) {
    const opt_row* o = &kOpts[k];
    int has = buf != NULL ? format_value(o, a, buf, cap) : -1;
    if (has < 0) {
      rc = -1;
      break;
    }
    if (has == 0) {
      continue;
    }
    snprintf(name, sizeof name, "--%s", o->name);
    rc = push(argv, &n, name);
    if (rc == 0 && o->type != T_FLAG) {
      rc = push(argv, &n, buf);
    }
  }
  free(buf);
  if (rc != 0) {
    pool__proc_argv_free(argv);
    return ISO_ENOMEM;
  }
  pool_proc_args back;
  rc = pool__proc_args_parse(n - 1, argv + 1, &back, err, errlen);
  if (rc != 0) {
    pool__proc_argv_free(argv);
    return rc;
  }
  *out = argv;
  return 0;
}

void pool__proc_argv_free(char** argv) {
  for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
    free(argv[i]);
  }
  free(argv);
}
