/* landlock.c: the pool process's file system, read-only beneath its module
 * roots and a few files the runtime needs, with Landlock.
 *
 * Debian 12 has no library for Landlock (no liblandlock), so this file
 * speaks to the kernel itself: its three syscalls and <linux/landlock.h>.
 * That header is Linux 6.1's (ABI 2); the rights and fields of later ABIs
 * are defined below from the kernel's documentation, so the process uses
 * everything the running kernel offers, whatever headers it was built
 * with:
 *
 *   ABI 1 (5.13)  file system: execute, read, write, list, create, remove
 *   ABI 2 (5.19)  + refer (rename and link across directories)
 *   ABI 3 (6.2)   + truncate
 *   ABI 4 (6.7)   + TCP bind and connect (handled_access_net)
 *   ABI 5 (6.10)  + ioctl on devices
 *   ABI 6 (6.12)  + scopes: abstract UNIX sockets and signals outside the
 *                 domain
 *   ABI 7 (6.15)  audit logging flags only: nothing more to handle
 *
 * Every right the kernel knows is handled, and the only ones granted are
 * reading files (beneath the roots and on the runtime's paths) and
 * listing directories (beneath the roots): everything else, including
 * writes inside the roots, is denied. Landlock applies to the calling
 * thread and the threads it starts later, never to threads already
 * running (until ABI 8's TSYNC), hence iso_sandbox_enter's "one thread".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iso_err.h"
#include "sandbox_private.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* The rights of ABIs after Linux 6.1's header (ABI 2). */
#define FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define NET_CONNECT_TCP (1ULL << 1)
#define SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; the kernel is given the
 * prefix its ABI knows. */
typedef struct ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net; /* ABI 4 */
  uint64_t scoped;             /* ABI 6 */
} ruleset_attr;

#define FS_ABI1                                                     \
  (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |     \
   LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |     \
   LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
   LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |     \
   LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |     \
   LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |   \
   LANDLOCK_ACCESS_FS_MAKE_SYM)

/* What the pool process may do beneath a root, and on a runtime file. */
#define READ_TREE (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define READ_FILE LANDLOCK_ACCESS_FS_READ_FILE

/* The newest ABI this file knows; a newer kernel is used at this one. */
enum { kKnownAbi = 7 };

int iso__sandbox_landlock_abi(void) {
  long v = syscall(SYS_landlock_create_ruleset, NULL, 0,
                   LANDLOCK_CREATE_RULESET_VERSION);
  return v > 0 ? (int)v : 0;
}

static size_t attr_for(int abi, ruleset_attr* a) {
  memset(a, 0, sizeof *a);
  a->handled_access_fs = FS_ABI1;
  if (abi >= 2) {
    a->handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
  }
  if (abi >= 3) {
    a->handled_access_fs |= FS_TRUNCATE;
  }
  if (abi >= 5) {
    a->handled_access_fs |= FS_IOCTL_DEV;
  }
  if (abi >= 4) {
    a->handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
  }
  if (abi >= 6) {
    a->scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
    return sizeof *a;
  }
  return abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
}

/* Grants `want` on path (a directory: beneath it) in the ruleset. A file
 * can hold only file rights, so a directory's listing right is dropped
 * for one. Returns 0, ISO_ENOENT (no such path) or ISO_EIO. */
static int grant(int ruleset, const char* path, uint64_t want) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT || errno == ENOTDIR ? ISO_ENOENT : ISO_EIO;
  }
  struct stat st;
  int rc = ISO_EIO;
  if (fstat(fd, &st) == 0) {
    struct landlock_path_beneath_attr pb = {
        .allowed_access = S_ISDIR(st.st_mode) ? want : want & READ_FILE,
        .parent_fd = fd,
    };
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb,
                0) == 0) {
      rc = 0;
    }
  }
  close(fd);
  return rc;
}

int iso__sandbox_landlock(const iso_sandbox_opts* o,
                          int abi,
                          iso_sandbox_report* out) {
  if (abi > kKnownAbi) {
    abi = kKnownAbi;
  }
  ruleset_attr attr;
  size_t size = attr_for(abi, &attr);
  int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
  if (ruleset < 0) {
    out->landlock_why = "unavailable: the kernel refused the ruleset";
    return ISO_ESANDBOX;
  }
  int rc = 0;
  for (const char* const* p = o->roots; p != NULL && *p != NULL; p++) {
    rc = grant(ruleset, *p, READ_TREE);
    if (rc != 0) {
      out->landlock_why = "a module root cannot be opened";
      break;
    }
    out->landlock_rules++;
  }
  const char* const* extra =
      o->read_paths != NULL ? o->read_paths : iso_sandbox_runtime_paths();
  for (const char* const* p = extra; rc == 0 && *p != NULL; p++) {
    int g = grant(ruleset, *p, READ_FILE);
    if (g == 0) {
      out->landlock_rules++;
    } else if (g != ISO_ENOENT) { /* a path this system lacks is skipped */
      out->landlock_why = "a read path cannot be opened";
      rc = g;
    }
  }
  if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
    out->landlock_why = "unavailable: the kernel refused to restrict";
    rc = ISO_ESANDBOX;
  }
  close(ruleset);
  if (rc == 0) {
    out->landlock_abi = abi;
    out->landlock_why = NULL;
  }
  return rc;
}

const char* const* iso_sandbox_runtime_paths(void) {
  static const char* const kPaths[] = {
      /* V8 seeds its random numbers (Math.random, hash seeds) from it */
      "/dev/urandom",
      /* glibc's pthread_getattr_np reads the main thread's stack bounds
       * there; V8 asks for them when an isolate enters that thread */
      "/proc/self/maps",
      /* glibc's malloc, before it shrinks a thread's arena */
      "/proc/sys/vm/overcommit_memory",
      /* OpenSSL's configuration, read on first use (crypto ops); Debian's
       * is a symlink into /etc/ssl, which the rule follows */
      "/usr/lib/ssl/openssl.cnf",
      /* the local time zone for Date and Intl (ICU and glibc) */
      "/etc/localtime",
      "/usr/share/zoneinfo",
      NULL,
  };
  return kPaths;
}
