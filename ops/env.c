/* env.c: the service-wide op state (iso_ops_env, iso_ops.h).
 *
 * One per service, shared by every op thread: the data root, opened once
 * as an O_PATH directory fd that every fs op resolves beneath (fs.c), and
 * the kv store (kv.c: in memory, or in the LMDB file of kv_path). Nothing
 * here changes after iso_ops_env_new, so the struct needs no lock of its
 * own.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iso_err.h"
#include "iso_ops.h"
#include "ops_private.h"

#define KV_DEFAULT_MAX ((size_t)64 << 20)

/* Fails early on a kernel without openat2(2) (before Linux 5.6), which fs
 * ops need to stay beneath the root. */
static int probe_openat2(int root_fd) {
  struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                         .resolve = RESOLVE_BENEATH};
  long fd = syscall(SYS_openat2, root_fd, ".", &how, sizeof how);
  if (fd < 0) {
    return ISO_EIO; /* errno says why */
  }
  close((int)fd);
  return 0;
}

/* fs ops open the files they checked through /proc/self/fd (the inode
 * checked is the one used): without /proc every read and write would
 * fail, so the service says so at start-up instead. */
static int probe_proc(int root_fd) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", root_fd);
  int fd = open(link, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return ISO_EIO; /* errno says why */
  }
  close(fd);
  return 0;
}

static int open_root(const char* path, int* fd, char* err, size_t errlen) {
  *fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*fd < 0) {
    int e = errno;
    char text[128];
    snprintf(err, errlen, "data root \"%s\": %s", path,
             iso__ops_strerror(e, text, sizeof text));
    return e == ENOENT ? ISO_ENOENT : ISO_EINVAL;
  }
  if (probe_openat2(*fd) != 0) {
    char text[128];
    snprintf(err, errlen,
             "data root \"%s\": openat2(2) failed (%s); "
             "isopool:fs needs Linux 5.6 or later",
             path, iso__ops_strerror(errno, text, sizeof text));
    close(*fd);
    *fd = -1;
    return ISO_EINVAL;
  }
  if (probe_proc(*fd) != 0) {
    char text[128];
    snprintf(err, errlen,
             "data root \"%s\": cannot reopen it through /proc/self/fd (%s); "
             "isopool:fs needs /proc mounted",
             path, iso__ops_strerror(errno, text, sizeof text));
    close(*fd);
    *fd = -1;
    return ISO_EINVAL;
  }
  return 0;
}

int iso_ops_env_new(const iso_ops_env_opts* opts,
                    iso_ops_env** out,
                    char* err,
                    size_t errlen) {
  iso_ops_env_opts none = {0};
  opts = opts ? opts : &none;
  iso_ops_env* env = calloc(1, sizeof *env);
  if (env == NULL) {
    return ISO_ENOMEM;
  }
  env->root_fd = -1;
  if (opts->data_root != NULL) {
    int rc = open_root(opts->data_root, &env->root_fd, err, errlen);
    if (rc != 0) {
      free(env);
      return rc;
    }
    env->root_path = realpath(opts->data_root, NULL);
    if (env->root_path == NULL) {
      iso_ops_env_free(env);
      return ISO_ENOMEM;
    }
  }
  int rc = iso__ops_kv_new(
      opts, opts->kv_max_bytes ? opts->kv_max_bytes : KV_DEFAULT_MAX, &env->kv,
      err, errlen);
  if (rc != 0) {
    iso_ops_env_free(env);
    return rc;
  }
  *out = env;
  return 0;
}

void iso_ops_env_set_net(iso_ops_env* env, struct iso_net* net) {
  env->net = net;
}

void iso_ops_env_free(iso_ops_env* env) {
  if (env == NULL) {
    return;
  }
  if (env->root_fd >= 0) {
    close(env->root_fd);
  }
  iso__ops_kv_free(env->kv);
  free(env->root_path);
  free(env);
}
