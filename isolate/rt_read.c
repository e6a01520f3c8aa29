/* rt_read.c: module files, read on libuv's thread pool.
 *
 * A record's file is read with uv_queue_work: on the pool thread its path
 * is canonicalised with realpath() and checked against the module root,
 * so a symlink cannot lead outside it; the canonical path is then opened
 * without following any symlink (one swapped in meanwhile fails the load)
 * and without blocking (O_NONBLOCK: a FIFO would hold a pool thread, and
 * with it every load), and only a regular file of at most
 * ISO_RT_MODULE_MAX is read (iso__rt_read_file, which rt_cjs.c and
 * rt_pkg.c use too, synchronously). Back on the loop, the source is compiled
 * into its record and the loads waiting on it go on (rt_load.c). A read
 * outlives a realm freed meanwhile (rt_read.realm becomes NULL) and then only
 * frees itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iso_err.h"
#include "rt_private.h"

static void read_work_cb(uv_work_t* w);
static void read_done_cb(uv_work_t* w, int status);

static int track_read(iso_realm* realm, rt_read* r) {
  if (realm->nreads == realm->capreads) {
    size_t cap = realm->capreads ? realm->capreads * 2 : 8;
    rt_read** n = realloc(realm->reads, cap * sizeof(*n));
    if (n == NULL) {
      return ISO_ENOMEM;
    }
    realm->reads = n;
    realm->capreads = cap;
  }
  realm->reads[realm->nreads++] = r;
  return 0;
}

static void untrack_read(iso_realm* realm, rt_read* r) {
  for (size_t i = 0; i < realm->nreads; i++) {
    if (realm->reads[i] == r) {
      realm->reads[i] = realm->reads[--realm->nreads];
      return;
    }
  }
}

int iso__rt_read_start(iso_realm* realm, rt_mod* m) {
  rt_read* r = calloc(1, sizeof(*r));
  if (r == NULL) {
    return ISO_ENOMEM;
  }
  r->realm = realm;
  r->mod = m;
  r->path = strdup(m->path);
  r->root = realm->rt->root;
  r->work.data = r;
  if (r->path == NULL || track_read(realm, r) != 0) {
    free(r->path);
    free(r);
    return ISO_ENOMEM;
  }
  m->read = r;
  int rc = uv_queue_work(realm->rt->loop, &r->work, read_work_cb, read_done_cb);
  if (rc != 0) {
    untrack_read(realm, r);
    m->read = NULL;
    free(r->path);
    free(r);
    return ISO_EIO;
  }
  return 0;
}

/* What st is, for "is not a regular file (a FIFO)". */
static const char* file_kind(const struct stat* st) {
  return S_ISDIR(st->st_mode)    ? "a directory"
         : S_ISFIFO(st->st_mode) ? "a FIFO"
         : S_ISSOCK(st->st_mode) ? "a socket"
         : S_ISCHR(st->st_mode)  ? "a character device"
         : S_ISBLK(st->st_mode)  ? "a block device"
                                 : "not a file";
}

/* Opens `real`, a canonical path (no symlink, no "..", checked against the
 * root as text), for reading: openat2(RESOLVE_NO_SYMLINKS) opens exactly
 * that path, so a symlink swapped onto it after realpath() fails (ELOOP)
 * instead of leading elsewhere; O_NONBLOCK, since opening a FIFO for
 * reading otherwise waits for a writer. Kernels without openat2 (before
 * 5.6) get O_NOFOLLOW, which guards the last component only. rt_pkg.c
 * opens package.json files with it too. */
int iso__rt_open_module(const char* real) {
  struct open_how how = {
      .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
      .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  for (;;) {
    long fd = syscall(SYS_openat2, AT_FDCWD, real, &how, sizeof how);
    if (fd >= 0) {
      return (int)fd;
    }
    if (errno == ENOSYS) {
      return open(real, (int)how.flags | O_NOFOLLOW);
    }
    if (errno != EINTR && errno != EAGAIN) {
      return -1;
    }
  }
}

int iso__rt_under(const char* root, const char* path) {
  size_t n = strlen(root);
  return strcmp(root, "/") == 0 ||
         (strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0'));
}

/* Never blocks on anything but a regular file's data: a FIFO, a device or
 * a directory is refused by fstat on the fd opened without blocking,
 * before any read. */
int iso__rt_read_file(const char* root,
                      const char* path,
                      size_t max,
                      const char* what,
                      char** data,
                      size_t* len,
                      struct stat* st_out,
                      char* why,
                      size_t whylen) {
  *data = NULL;
  *len = 0;
  char real[PATH_MAX];
  if (realpath(path, real) == NULL) {
    int e = errno;
    snprintf(why, whylen, "%s", strerror(e));
    return e == ENOENT || e == ENOTDIR ? ISO_ENOENT : ISO_EIO;
  }
  /* the root itself is inside (and then refused as a directory) */
  if (!iso__rt_under(root, real)) {
    snprintf(why, whylen,
             "it is a link to \"%.200s\", outside the module root \"%.200s\"",
             real, root);
    return ISO_EPERM;
  }
  int fd = iso__rt_open_module(real);
  if (fd < 0) {
    int e = errno;
    struct stat st;
    if (e == ELOOP) {
      snprintf(why, whylen,
               "a symbolic link appeared on its path while it was loaded");
      return ISO_EPERM;
    }
    if (lstat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
      /* a socket, a device without a driver (ENXIO): say what it is */
      snprintf(why, whylen, "not a regular file (%s)", file_kind(&st));
      return ISO_EIO;
    }
    snprintf(why, whylen, "%s", strerror(e));
    return e == ENOENT ? ISO_ENOENT : e == EACCES ? ISO_EPERM : ISO_EIO;
  }
  struct stat st;
  char* text = NULL;
  int rc = 0;
  if (fstat(fd, &st) != 0) {
    snprintf(why, whylen, "%s", strerror(errno));
    rc = ISO_EIO;
  } else if (!S_ISREG(st.st_mode)) {
    snprintf(why, whylen, "not a regular file (%s)", file_kind(&st));
    rc = ISO_EIO;
  } else if ((uint64_t)st.st_size > max) {
    snprintf(why, whylen, "the file is larger than %zu MiB (the limit for %s)",
             max >> 20, what);
    rc = ISO_ETOOBIG;
  } else if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
    snprintf(why, whylen, "out of memory");
    rc = ISO_ENOMEM;
  }
  /* st_size bytes at most: a file that grows while it is read is cut at
   * the size it had, one that shrinks is read as it is now */
  size_t got = 0;
  while (rc == 0 && got < (size_t)st.st_size) {
    ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      snprintf(why, whylen, "%s", strerror(errno));
      rc = ISO_EIO;
    }
    if (n <= 0) {
      break;
    }
    got += (size_t)n;
  }
  close(fd);
  if (rc != 0) {
    free(text);
    return rc;
  }
  text[got] = '\0';
  *data = text;
  *len = got;
  if (st_out != NULL) {
    *st_out = st;
  }
  return 0;
}

/* Thread: libuv's thread pool. Touches only the rt_read. */
static void read_work_cb(uv_work_t* w) {
  rt_read* r = w->data;
  r->err =
      iso__rt_read_file(r->root, r->path, ISO_RT_MODULE_MAX, "a module",
                        &r->data, &r->len, NULL, r->errmsg, sizeof(r->errmsg));
}

static void read_done_cb(uv_work_t* w, int status) {
  rt_read* r = w->data;
  iso_realm* realm = r->realm;
  if (realm == NULL) { /* the realm went away meanwhile */
    free(r->data);
    free(r->path);
    free(r);
    return;
  }
  untrack_read(realm, r);
  rt_mod* m = r->mod;
  m->read = NULL;
  if (status != 0 && r->err == 0) {
    r->err = ISO_EIO;
    snprintf(r->errmsg, sizeof(r->errmsg), "%s", uv_strerror(status));
  }
  if (r->err == ISO_ENOENT) {
    m->state = MOD_FAILED;
    iso__rt_error_set(&m->err, ISO_ENOENT, ISO_JS_UNCAUGHT, "TypeError",
                      "Module not found \"%s\"", m->url);
  } else if (r->err != 0) {
    m->state = MOD_FAILED;
    iso__rt_error_set(&m->err, r->err, ISO_JS_UNCAUGHT,
                      r->err == ISO_ETOOBIG ? "RangeError" : "TypeError",
                      "Cannot load module \"%s\": %s", m->url, r->errmsg);
  } else {
    iso__rt_mod_set_source(realm, m, r->data, r->len);
  }
  free(r->data);
  free(r->path);
  free(r);
  iso__rt_mod_ready(realm, m);
  iso__rt_mod_release_failed(realm, m); /* its loads were all freed meanwhile */
  iso__rt_wake(realm->rt);
}
