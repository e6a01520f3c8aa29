/* sandbox.c: the order of the sandbox's steps (iso_sandbox.h): the
 * resource limits and no_new_privs of iso_sandbox_enter; Landlock is
 * landlock.c's, the seccomp filter seccomp.c's. */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "iso_err.h"
#include "iso_sandbox.h"
#include "sandbox_private.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <unistd.h>
#endif

enum { kDefaultMaxFiles = 256 };

static int set_limit(int resource, rlim_t value) {
  struct rlimit rl = {.rlim_cur = value, .rlim_max = value};
  return setrlimit(resource, &rl) == 0 ? 0 : ISO_EIO;
}

/* Core files would hold whatever the process held (other jobs' values);
 * the descriptor bound keeps a leak or a hostile loop from holding the
 * machine's files. Hard limits too: a root process could raise a soft one
 * again (the filter refuses setrlimit, but the limits come first). */
static int set_limits(const iso_sandbox_opts* o, iso_sandbox_report* r) {
  unsigned files = o->max_files > 0 ? o->max_files : kDefaultMaxFiles;
  if (set_limit(RLIMIT_CORE, 0) != 0 ||
      set_limit(RLIMIT_NOFILE, (rlim_t)files) != 0) {
    return ISO_EIO;
  }
  r->max_files = files;
#if defined(__SANITIZE_ADDRESS__)
  /* ASan's shadow and allocator regions are private writable mappings
   * far above any limit: every later mmap would fail */
  if (o->max_mb > 0) {
    r->max_mb_why = "not under AddressSanitizer";
  }
#elif defined(__SANITIZE_THREAD__)
  if (o->max_mb > 0) { /* TSan's shadow and allocator too */
    r->max_mb_why = "not under ThreadSanitizer";
  }
#else
  if (o->max_mb > 0) {
    if (o->max_mb > (size_t)(RLIM_INFINITY >> 20) - 1 ||
        set_limit(RLIMIT_DATA, (rlim_t)o->max_mb << 20) != 0) {
      return ISO_EIO;
    }
    r->max_mb = o->max_mb;
  }
#endif
  r->limits = 1;
  return 0;
}

/* The process's threads, from /proc/self/status; 0 when unknown. */
static int count_threads(void) {
  FILE* f = fopen("/proc/self/status", "re");
  if (f == NULL) {
    return 0;
  }
  char line[128];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "Threads: %d", &n) == 1) {
      break;
    }
  }
  fclose(f);
  return n;
}

static int restrict_files(const iso_sandbox_opts* o, iso_sandbox_report* r) {
  if (o->landlock == ISO_SANDBOX_OFF) {
    r->landlock_why = "off";
    return 0;
  }
  int abi = iso__sandbox_landlock_abi();
  if (abi == 0) {
    r->landlock_why = "unavailable: the kernel has no Landlock";
    return o->landlock == ISO_SANDBOX_REQUIRED ? ISO_ESANDBOX : 0;
  }
  /* Landlock would leave the threads already running unrestricted: a
   * half-applied sandbox is worse than an error the caller sees. */
  if (count_threads() != 1) {
    r->landlock_why = "the process has other threads";
    return ISO_EBUSY;
  }
  int rc = iso__sandbox_landlock(o, abi, r);
  if (rc == ISO_ESANDBOX && o->landlock != ISO_SANDBOX_REQUIRED) {
    return 0;
  }
  return rc;
}

/* ThreadSanitizer symbolizes its reports with a process of its own
 * (llvm-symbolizer), started at the first report: in the sandbox it
 * cannot start (Landlock refuses the exec, then the filter execve), so the
 * reports came unsymbolized and the suppressions (tests/tsan.supp, which
 * name V8's functions) matched nothing. Started now (on an address in
 * libc, whose symbols it reads at once), it serves them over its pipes.
 * (ASan's reports need no symbols to fail a test, and a pool process
 * under ASan starts no later for it.) */
static void start_symbolizer(void) {
#if defined(__SANITIZE_THREAD__)
  char where[256];
  __sanitizer_symbolize_pc((void*)(uintptr_t)&getpid, "%p %F", where,
                           sizeof where);
#endif
}

int iso_sandbox_enter(const iso_sandbox_opts* opts, iso_sandbox_report* out) {
  static const iso_sandbox_opts kDefaults;
  const iso_sandbox_opts* o = opts != NULL ? opts : &kDefaults;
  start_symbolizer();
  int rc = set_limits(o, out);
  if (rc != 0) {
    return rc;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ISO_EIO;
  }
  out->no_new_privs = 1;
  return restrict_files(o, out);
}

int iso_sandbox_seal(const iso_sandbox_opts* opts, iso_sandbox_report* out) {
  static const iso_sandbox_opts kDefaults;
  return iso__sandbox_seccomp(opts != NULL ? opts : &kDefaults, out);
}

int iso_sandbox_apply(const iso_sandbox_opts* opts, iso_sandbox_report* out) {
  int rc = iso_sandbox_enter(opts, out);
  return rc != 0 ? rc : iso_sandbox_seal(opts, out);
}

int iso_sandbox_describe(const iso_sandbox_report* r, char* buf, size_t len) {
  char limits[64] = "no rlimits";
  if (r->limits) {
    if (r->max_mb > 0) {
      snprintf(limits, sizeof limits, "nofile=%u core=0 data=%zuMiB",
               r->max_files, r->max_mb);
    } else if (r->max_mb_why != NULL) {
      snprintf(limits, sizeof limits, "nofile=%u core=0 data: %s", r->max_files,
               r->max_mb_why);
    } else {
      snprintf(limits, sizeof limits, "nofile=%u core=0", r->max_files);
    }
  }
  char landlock[96];
  if (r->landlock_abi > 0) {
    snprintf(landlock, sizeof landlock, "landlock: abi %d, %u paths",
             r->landlock_abi, r->landlock_rules);
  } else {
    snprintf(landlock, sizeof landlock, "landlock: %s",
             r->landlock_why != NULL ? r->landlock_why : "not applied");
  }
  char seccomp[96];
  if (r->seccomp) {
    snprintf(seccomp, sizeof seccomp, "seccomp: %u rows", r->seccomp_rows);
  } else {
    snprintf(seccomp, sizeof seccomp, "seccomp: %s",
             r->seccomp_why != NULL ? r->seccomp_why : "not applied");
  }
  return snprintf(buf, len, "%s; %s; %s; %s", limits,
                  r->no_new_privs ? "no_new_privs" : "privileges not frozen",
                  landlock, seccomp);
}
