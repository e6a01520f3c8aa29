/* fs.c: isopool:fs, file ops confined to the data root (op_fs_*).
 *
 * Every path a job names is relative to the data root (--data). It is
 * first normalised as text: an absolute path, or ".." climbing above the
 * root, fails PermissionDenied before the file system is touched, and the
 * normalised path is what the realm's read or write permission is checked
 * against. Then the kernel resolves it with openat2(2) beneath the root's
 * O_PATH fd (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): a symlink that
 * leaves the root fails (EXDEV), one that stays inside is followed. Ops on
 * a last component (create, mkdir, remove, rename) resolve its parent that
 * way and call the *at() function on the base name without following a
 * final symlink, and a recursive remove never follows one at all.
 *
 * A hard link is the one way into the root that no path resolution sees:
 * a name inside it for a file whose other name is outside. So the ops that
 * open a file's contents or metadata (readFile, writeFile, stat) refuse a
 * file with more than one link, checked with fstat on the O_PATH fd the
 * path resolved to before anything reads, truncates or writes it; files
 * are read and written by reopening that fd (/proc/self/fd), so the check
 * holds for the very inode used. Nothing but a regular file is opened for
 * reading or writing (a FIFO would block an op thread). With that, no op
 * reaches a file outside the root, whatever the tree holds (bind mounts
 * the operator made inside it aside).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iso_err.h"
#include "iso_ops.h"
#include "iso_utf8.h"
#include "ops_private.h"

#define READ_MAX ((size_t)256 << 20)
/* entries readDir returns: its result is built in memory and becomes one
 * JavaScript array, so a huge directory is an error, not a stall */
#define READDIR_MAX 100000
#define TREE_DEPTH_MAX 256
#define OPENAT2_TRIES 8

/* One path argument: as given (for messages) and normalised. */
typedef struct fs_path {
  iso_op_call* call;
  const char* op; /* the user-facing name: "readFile" */
  char given[PATH_MAX];
  char rel[PATH_MAX]; /* "" is the root */
  iso_perm_kind kind; /* the permission the op needs on it */
} fs_path;

/* ---- errors ---- */

static int fs_fail(const fs_path* p, iso_op_err err, const char* what) {
  return iso_op_fail(p->call, err, "%s \"%.300s\": %s", p->op, p->given, what);
}

/* Fails the call for errno e. `resolving`: e came from resolving the path
 * (openat2), where EXDEV and ELOOP mean it left the root. */
static int fs_fail_errno(const fs_path* p, int e, int resolving) {
  char text[128];
  if (resolving && e == EXDEV) {
    return fs_fail(p, ISO_OPERR_PERMISSION_DENIED, "escapes the data root");
  }
  if (resolving && e == ELOOP) {
    return fs_fail(p, ISO_OPERR_PERMISSION_DENIED,
                   "escapes the data root or is a symbolic link loop");
  }
  if (e == ENXIO) { /* its text ("no such device or address") misleads */
    return fs_fail(p, iso__ops_err_of_errno(e), "is not a regular file");
  }
  return fs_fail(p, iso__ops_err_of_errno(e),
                 iso__ops_strerror(e, text, sizeof text));
}

/* ---- paths ---- */

static const char* perm_name(iso_perm_kind kind) {
  return kind == ISO_PERM_WRITE ? "write" : "read";
}

/* Reads argument i as a path the op may use with permission `kind`. */
static int fs_arg(fs_path* p,
                  iso_op_call* call,
                  const char* op,
                  int i,
                  const char* what,
                  iso_perm_kind kind) {
  p->call = call;
  p->op = op;
  p->kind = kind;
  if (iso_op_arg_str(call, i, what, p->given, sizeof p->given) != 0) {
    return ISO_EOP;
  }
  if (p->given[0] == '\0') {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: argument %d (%s) must not be empty",
                       call->def->name, i + 1, what);
  }
  if (call->env == NULL || call->env->root_fd < 0) {
    return iso_op_fail(call, ISO_OPERR_NOT_FOUND,
                       "no data root: start the service with --data DIR");
  }
  const char* why;
  if (iso__ops_path_norm(p->given, 0, p->rel, sizeof p->rel, &why) != 0) {
    return fs_fail(p, ISO_OPERR_PERMISSION_DENIED, "escapes the data root");
  }
  if (!iso_perms_allows_path(call->perms, kind, p->rel)) {
    return iso_op_fail(call, ISO_OPERR_PERMISSION_DENIED,
                       "%s \"%.300s\": requires --allow-%s=%.300s", op,
                       p->given, perm_name(kind), p->rel[0] ? p->rel : ".");
  }
  return 0;
}

/* openat2 beneath the root; returns the fd or -1 with errno. */
static int open_beneath(int root, const char* rel, int flags) {
  struct open_how how = {
      .flags = (uint64_t)(flags | O_CLOEXEC),
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
  };
  for (int i = 0; i < OPENAT2_TRIES; i++) {
    long fd = syscall(SYS_openat2, root, rel[0] ? rel : ".", &how, sizeof how);
    if (fd >= 0) {
      return (int)fd;
    }
    if (errno != EAGAIN && errno != EINTR) {
      break;
    }
  }
  return ISO_EOP;
}

/* The permission again, on where the path really led: a symlink inside
 * the root may lead to a part of it the permission does not cover. `fd`
 * is what the path opened (or its parent, with `base` the last
 * component). Returns 0, or ISO_EOP after failing the call. */
static int fs_check_real(const fs_path* p, int fd, const char* base) {
  const iso_ops_env* env = p->call->env;
  if (iso_perms_allows_path(p->call->perms, p->kind, "")) {
    return 0; /* all of the root is allowed */
  }
  char link[64], real[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, real, sizeof real - 1);
  size_t rootlen = strlen(env->root_path);
  if (n >= 0) {
    real[n] = '\0';
  }
  /* "/data" is not a prefix of "/database" */
  if (n < 0 || (size_t)n < rootlen ||
      memcmp(real, env->root_path, rootlen) != 0 ||
      (real[rootlen] != '/' && real[rootlen] != '\0' &&
       strcmp(env->root_path, "/") != 0)) {
    return fs_fail(p, ISO_OPERR_PERMISSION_DENIED, "escapes the data root");
  }
  const char* rel = real + rootlen + (real[rootlen] == '/');
  char full[PATH_MAX];
  if (base != NULL) {
    snprintf(full, sizeof full, "%s%s%s", rel, rel[0] ? "/" : "", base);
    rel = full;
  }
  /* no symlink on the way: the check on the path as written stands */
  if (strcmp(rel, p->rel) != 0 &&
      !iso_perms_allows_path(p->call->perms, p->kind, rel)) {
    return iso_op_fail(p->call, ISO_OPERR_PERMISSION_DENIED,
                       "%s \"%.300s\": leads to \"%.300s\" (a symbolic link), "
                       "which --allow-%s does not cover",
                       p->op, p->given, rel, perm_name(p->kind));
  }
  return 0;
}

static int fs_open(const fs_path* p, int flags, int* fd) {
  *fd = open_beneath(p->call->env->root_fd, p->rel, flags);
  if (*fd < 0) {
    return fs_fail_errno(p, errno, 1);
  }
  if (fs_check_real(p, *fd, NULL) != 0) {
    close(*fd);
    *fd = -1;
    return ISO_EOP;
  }
  return 0;
}

/* Opens the parent of p's last component (p must not be the root) as an
 * O_PATH directory; *base is the last component. */
static int fs_open_parent(const fs_path* p, int* dfd, const char** base) {
  char parent[PATH_MAX];
  const char* slash = strrchr(p->rel, '/');
  size_t n = slash ? (size_t)(slash - p->rel) : 0;
  memcpy(parent, p->rel, n);
  parent[n] = '\0';
  *base = slash ? slash + 1 : p->rel;
  *dfd = open_beneath(p->call->env->root_fd, parent, O_PATH | O_DIRECTORY);
  if (*dfd < 0) {
    return fs_fail_errno(p, errno, 1);
  }
  if (fs_check_real(p, *dfd, *base) != 0) {
    close(*dfd);
    *dfd = -1;
    return ISO_EOP;
  }
  return 0;
}

/* Refuses a file that has other names than the one the path found (st is
 * fstat of the fd it resolved to): one of them may be outside the root, and
 * no path check can tell. Directories always have several links. Returns 0
 * or ISO_EOP after failing the call. */
static int fs_check_links(const fs_path* p, const struct stat* st) {
  if (S_ISDIR(st->st_mode) || st->st_nlink <= 1) {
    return 0;
  }
  char what[160];
  snprintf(what, sizeof what,
           "has %ju hard links; isopool:fs does not open a file with more "
           "than one, since another may be outside the data root",
           (uintmax_t)st->st_nlink);
  return fs_fail(p, ISO_OPERR_PERMISSION_DENIED, what);
}

/* Opens the inode behind path_fd (an O_PATH fd, already checked) with
 * `flags`, through /proc/self/fd: the same file, whatever the path names
 * by now. Returns the fd, or ISO_EOP (negative) after failing the call. */
static int fs_reopen(const fs_path* p, int path_fd, int flags) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", path_fd);
  int fd = open(link, flags | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return fs_fail_errno(p, errno, 0);
  }
  return fd;
}

/* ---- result helpers ---- */

static int put_key(iso_op_call* call, const char* key) {
  return iso_op_ret_str(call, key, strlen(key));
}

static int put_bool(iso_op_call* call, const char* key, int b) {
  return put_key(call, key) != 0 || iso_op_ret_bool(call, b) != 0 ? ISO_EOP : 0;
}

/* ---- readFile ---- */

/* Reads the whole of fd (a regular file of `size` bytes, which may still
 * grow) into *buf. Returns 0, or ISO_EOP after failing the call. */
static int read_all(const fs_path* p,
                    int fd,
                    size_t size,
                    uint8_t** buf,
                    size_t* len) {
  size_t cap = size + 1, n = 0; /* one spare byte to see the end */
  uint8_t* b = malloc(cap);
  for (;;) {
    if (b == NULL) {
      return iso_op_fail(p->call, ISO_OPERR_OTHER, "%s: out of memory",
                         p->call->def->name);
    }
    ssize_t k = read(fd, b + n, cap - n);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k < 0) {
      int e = errno;
      free(b);
      return fs_fail_errno(p, e, 0);
    }
    if (k == 0) {
      break;
    }
    n += (size_t)k;
    if (n > READ_MAX) {
      free(b);
      return fs_fail(p, ISO_OPERR_INVALID_DATA, "is larger than 256 MiB");
    }
    if (n == cap) {
      cap = cap * 2 > READ_MAX + 1 ? READ_MAX + 1 : cap * 2;
      uint8_t* grown = realloc(b, cap);
      if (grown == NULL) {
        free(b);
      }
      b = grown;
    }
  }
  *buf = b;
  *len = n;
  return 0;
}

/* Reads the file path_fd (O_PATH) resolved to: decided on fstat before
 * anything is opened for reading, so a FIFO or a device is never opened,
 * and a file with other names is refused. */
static int read_regular(const fs_path* p, int path_fd) {
  struct stat st;
  if (fstat(path_fd, &st) != 0) {
    return fs_fail_errno(p, errno, 0);
  }
  if (!S_ISREG(st.st_mode)) {
    return fs_fail(p, ISO_OPERR_INVALID_DATA, "is not a regular file");
  }
  if (fs_check_links(p, &st) != 0) {
    return ISO_EOP;
  }
  if ((uint64_t)st.st_size > READ_MAX) {
    return fs_fail(p, ISO_OPERR_INVALID_DATA, "is larger than 256 MiB");
  }
  int fd = fs_reopen(p, path_fd, O_RDONLY);
  if (fd < 0) {
    return ISO_EOP;
  }
  uint8_t* buf = NULL;
  size_t len = 0;
  int rc = read_all(p, fd, (size_t)st.st_size, &buf, &len);
  close(fd);
  if (rc == 0) {
    rc = iso_op_ret_bin(p->call, buf, len);
    free(buf);
  }
  return rc;
}

int iso__op_fs_read_file(iso_op_call* call) {
  fs_path p;
  int fd;
  if (fs_arg(&p, call, "readFile", 0, "path", ISO_PERM_READ) != 0 ||
      fs_open(&p, O_PATH, &fd) != 0) {
    return ISO_EOP;
  }
  int rc = read_regular(&p, fd);
  close(fd);
  return rc;
}

/* ---- writeFile ---- */

static int write_all(const fs_path* p, int fd, const uint8_t* d, size_t n) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return fs_fail_errno(p, errno, 0);
  }
  if (!S_ISREG(st.st_mode)) {
    return fs_fail(p, ISO_OPERR_INVALID_DATA, "is not a regular file");
  }
  while (n > 0) {
    ssize_t k = write(fd, d, n);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k < 0) {
      return fs_fail_errno(p, errno, 0);
    }
    d += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Opens an existing file for writing: resolved beneath the root without
 * side effects first (a symlink that stays inside is followed), checked,
 * and only then reopened to write (and truncate). Returns 0, ISO_ENOENT
 * when it does not exist (the call not failed), or ISO_EOP after failing
 * the call. */
static int write_open_existing(const fs_path* p, int flags, int* fd) {
  int path_fd = open_beneath(p->call->env->root_fd, p->rel, O_PATH);
  if (path_fd < 0) {
    return errno == ENOENT ? ISO_ENOENT : fs_fail_errno(p, errno, 1);
  }
  struct stat st = {0};
  int rc = fs_check_real(p, path_fd, NULL);
  if (rc == 0 && (fstat(path_fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    rc = S_ISDIR(st.st_mode)
             ? fs_fail(p, ISO_OPERR_OTHER, "is a directory")
             : fs_fail(p, ISO_OPERR_INVALID_DATA, "is not a regular file");
  }
  if (rc == 0) {
    rc = fs_check_links(p, &st); /* before O_TRUNC touches it */
  }
  if (rc == 0) {
    *fd = fs_reopen(p, path_fd, flags);
    rc = *fd < 0 ? ISO_EOP : 0;
  }
  close(path_fd);
  return rc;
}

/* Opens p for writeFile. An existing file (or a symlink to one inside the
 * root) is written; a missing one is created in its parent, itself
 * resolved and checked beneath the root, so nothing is created or
 * truncated where the permission does not reach. */
static int write_open(const fs_path* p,
                      int append,
                      int create,
                      int create_new,
                      int* fd) {
  int flags = O_WRONLY | O_NONBLOCK | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  for (int tries = 0; tries < 2; tries++) {
    int rc = create_new ? ISO_ENOENT : write_open_existing(p, flags, fd);
    if (rc != ISO_ENOENT) {
      return rc;
    }
    if (!create && !create_new) {
      return fs_fail_errno(p, ENOENT, 0);
    }
    int dfd;
    const char* base;
    if (fs_open_parent(p, &dfd, &base) != 0) {
      return ISO_EOP;
    }
    *fd = openat(dfd, base, flags | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    int e = errno;
    close(dfd);
    if (*fd >= 0) {
      return 0;
    }
    if (e != EEXIST || create_new) {
      return fs_fail_errno(p, e, 0);
    }
    /* made meanwhile, or a dangling symlink: look again, once */
  }
  return fs_fail(p, ISO_OPERR_INVALID_DATA,
                 "is a symbolic link that leads nowhere");
}

int iso__op_fs_write_file(iso_op_call* call) {
  fs_path p;
  const uint8_t* data;
  size_t len;
  int append, create, create_new;
  if (fs_arg(&p, call, "writeFile", 0, "path", ISO_PERM_WRITE) != 0 ||
      iso_op_arg_bytes(call, 1, "data", &data, &len) != 0 ||
      iso_op_arg_bool(call, 2, "append", 0, &append) != 0 ||
      iso_op_arg_bool(call, 3, "create", 1, &create) != 0 ||
      iso_op_arg_bool(call, 4, "createNew", 0, &create_new) != 0) {
    return ISO_EOP;
  }
  if (p.rel[0] == '\0') {
    return fs_fail(&p, ISO_OPERR_OTHER, "is a directory");
  }
  int fd = -1;
  if (write_open(&p, append, create, create_new, &fd) != 0) {
    return ISO_EOP;
  }
  int rc = write_all(&p, fd, data, len);
  close(fd);
  return rc;
}

/* ---- readDir ---- */

typedef struct dir_ent {
  char* name;
  unsigned char type; /* DT_* */
} dir_ent;

static int cmp_ent(const void* a, const void* b) {
  return strcmp(((const dir_ent*)a)->name, ((const dir_ent*)b)->name);
}

static void free_ents(dir_ent* ents, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(ents[i].name);
  }
  free(ents);
}

/* Collects the entries of d but "." and ".." and names that are not
 * UTF-8 (JavaScript could neither hold nor name them: fs paths must be
 * UTF-8). Returns 0, ISO_ETOOBIG past READDIR_MAX entries, or ISO_EIO with
 * *sys the errno that says why (ENOMEM too, for the message). */
static int collect(DIR* d, dir_ent** out, size_t* count, int* sys) {
  dir_ent* ents = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(d);
    if (de == NULL) {
      break;
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
        !iso_utf8_valid((const uint8_t*)de->d_name, strlen(de->d_name))) {
      continue;
    }
    if (n == READDIR_MAX) {
      free_ents(ents, n);
      return ISO_ETOOBIG;
    }
    unsigned char type = de->d_type;
    struct stat st;
    if (type == DT_UNKNOWN &&
        fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      type = S_ISDIR(st.st_mode)   ? DT_DIR
             : S_ISREG(st.st_mode) ? DT_REG
             : S_ISLNK(st.st_mode) ? DT_LNK
                                   : DT_UNKNOWN;
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      dir_ent* grown = realloc(ents, cap * sizeof *ents);
      if (grown == NULL) {
        free_ents(ents, n);
        *sys = ENOMEM;
        return ISO_EIO;
      }
      ents = grown;
    }
    ents[n].name = strdup(de->d_name);
    if (ents[n].name == NULL) {
      free_ents(ents, n);
      *sys = ENOMEM;
      return ISO_EIO;
    }
    ents[n++].type = type;
  }
  if (errno != 0) {
    *sys = errno;
    free_ents(ents, n);
    return ISO_EIO;
  }
  if (n > 1) { /* qsort(NULL, 0, ...) is undefined */
    qsort(ents, n, sizeof *ents, cmp_ent);
  }
  *out = ents;
  *count = n;
  return 0;
}

static int write_ents(iso_op_call* call, const dir_ent* ents, size_t n) {
  if (iso_op_ret_array(call, (uint32_t)n) != 0) {
    return ISO_EOP;
  }
  for (size_t i = 0; i < n; i++) {
    if (iso_op_ret_map(call, 4) != 0 || put_key(call, "name") != 0 ||
        put_key(call, ents[i].name) != 0 ||
        put_bool(call, "isFile", ents[i].type == DT_REG) != 0 ||
        put_bool(call, "isDirectory", ents[i].type == DT_DIR) != 0 ||
        put_bool(call, "isSymlink", ents[i].type == DT_LNK) != 0) {
      return ISO_EOP;
    }
  }
  return 0;
}

int iso__op_fs_read_dir(iso_op_call* call) {
  fs_path p;
  int fd;
  if (fs_arg(&p, call, "readDir", 0, "path", ISO_PERM_READ) != 0 ||
      fs_open(&p, O_RDONLY | O_DIRECTORY, &fd) != 0) {
    return ISO_EOP;
  }
  DIR* d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    return fs_fail_errno(&p, e, 0);
  }
  dir_ent* ents = NULL;
  size_t n = 0;
  int sys = 0;
  int rc = collect(d, &ents, &n, &sys);
  closedir(d);
  if (rc == ISO_ETOOBIG) {
    return fs_fail(&p, ISO_OPERR_OTHER,
                   "has more than 100000 entries (the most readDir returns)");
  }
  if (rc != 0) {
    return fs_fail_errno(&p, sys, 0);
  }
  rc = write_ents(call, ents, n);
  free_ents(ents, n);
  return rc;
}

/* ---- stat ---- */

static double ms(struct statx_timestamp t) {
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int put_time(iso_op_call* call, const char* key, double v) {
  return put_key(call, key) != 0 || iso_op_ret_double(call, v) != 0 ? ISO_EOP
                                                                    : 0;
}

static int write_stat(iso_op_call* call, const struct statx* sx) {
  int has_btime = (sx->stx_mask & STATX_BTIME) != 0;
  if (iso_op_ret_map(call, 8) != 0 ||
      put_bool(call, "isFile", S_ISREG(sx->stx_mode)) != 0 ||
      put_bool(call, "isDirectory", S_ISDIR(sx->stx_mode)) != 0 ||
      put_bool(call, "isSymlink", 0) != 0 || put_key(call, "size") != 0 ||
      iso_op_ret_int(call, (int64_t)sx->stx_size) != 0 ||
      put_time(call, "mtime", ms(sx->stx_mtime)) != 0 ||
      put_time(call, "atime", ms(sx->stx_atime)) != 0 ||
      put_key(call, "birthtime") != 0 ||
      (has_btime ? iso_op_ret_double(call, ms(sx->stx_btime))
                 : iso_op_ret_nil(call)) != 0 ||
      put_key(call, "mode") != 0) {
    return ISO_EOP;
  }
  return iso_op_ret_int(call, sx->stx_mode);
}

/* statx, or fstat where the kernel or file system has no statx. Returns
 * 0, or ISO_EIO with errno set. */
static int stat_fd(int fd, struct statx* sx) {
  if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, sx) == 0) {
    return 0;
  }
  struct stat st;
  if (errno != ENOSYS || fstat(fd, &st) != 0) {
    return ISO_EIO;
  }
  *sx = (struct statx){
      .stx_mask = STATX_BASIC_STATS,
      .stx_mode = (uint16_t)st.st_mode,
      .stx_size = (uint64_t)st.st_size,
      .stx_mtime = {.tv_sec = st.st_mtim.tv_sec,
                    .tv_nsec = (uint32_t)st.st_mtim.tv_nsec},
      .stx_atime = {.tv_sec = st.st_atim.tv_sec,
                    .tv_nsec = (uint32_t)st.st_atim.tv_nsec},
  };
  return 0;
}

int iso__op_fs_stat(iso_op_call* call) {
  fs_path p;
  int fd;
  struct statx sx;
  if (fs_arg(&p, call, "stat", 0, "path", ISO_PERM_READ) != 0 ||
      fs_open(&p, O_PATH, &fd) != 0) {
    return ISO_EOP;
  }
  struct stat st;
  int rc = fstat(fd, &st) != 0 ? ISO_EIO : stat_fd(fd, &sx);
  int e = errno;
  if (rc == 0 && fs_check_links(&p, &st) != 0) {
    close(fd);
    return ISO_EOP; /* its size and times may be an outside file's */
  }
  close(fd);
  return rc != 0 ? fs_fail_errno(&p, e, 0) : write_stat(call, &sx);
}

/* ---- mkdir ---- */

/* Creates p's last component. With `exist_ok`, an existing directory is
 * fine, and an existing non-directory fails AlreadyExists when it is the
 * last component, else NotFound (not a directory). */
static int mkdir_one(const fs_path* p, int exist_ok, int last) {
  int dfd;
  const char* base;
  if (fs_open_parent(p, &dfd, &base) != 0) {
    return ISO_EOP;
  }
  int rc = mkdirat(dfd, base, 0777);
  int e = errno;
  close(dfd);
  if (rc == 0 || e != EEXIST || !exist_ok) {
    return rc == 0 ? 0 : fs_fail_errno(p, e, 0);
  }
  int fd = open_beneath(p->call->env->root_fd, p->rel, O_PATH | O_DIRECTORY);
  if (fd < 0) {
    e = errno;
    return fs_fail_errno(p, e == ENOTDIR && last ? EEXIST : e, 1);
  }
  close(fd);
  return 0;
}

/* mkdir -p: each component in turn, each resolved beneath the root. */
static int mkdir_all(fs_path* p) {
  char full[PATH_MAX];
  snprintf(full, sizeof full, "%s", p->rel);
  for (char* s = full;; s++) {
    if (*s != '/' && *s != '\0') {
      continue;
    }
    char c = *s;
    *s = '\0';
    snprintf(p->rel, sizeof p->rel, "%s", full);
    *s = c;
    if (mkdir_one(p, 1, c == '\0') != 0) {
      return ISO_EOP;
    }
    if (c == '\0') {
      return 0;
    }
  }
}

int iso__op_fs_mkdir(iso_op_call* call) {
  fs_path p;
  int recursive;
  if (fs_arg(&p, call, "mkdir", 0, "path", ISO_PERM_WRITE) != 0 ||
      iso_op_arg_bool(call, 1, "recursive", 0, &recursive) != 0) {
    return ISO_EOP;
  }
  if (p.rel[0] == '\0') {
    return recursive ? 0 : fs_fail_errno(&p, EEXIST, 0);
  }
  return recursive ? mkdir_all(&p) : mkdir_one(&p, 0, 1);
}

/* ---- remove ---- */

/* Removes directory `name` in dfd and everything under it, never following
 * a symlink (each one found is unlinked itself). Returns 0, ISO_ETOOBIG
 * when the tree is deeper than TREE_DEPTH_MAX, or ISO_EIO with *sys the
 * errno that says why. */
static int remove_tree(int dfd, const char* name, int depth, int* sys);

/* Fails with errno (ISO_EIO, *sys = errno) when errno is set, else 0. */
static int sys_err(int* sys) {
  *sys = errno;
  return *sys != 0 ? ISO_EIO : 0;
}

static int remove_entries(DIR* d, int depth, int* sys) {
  for (;;) {
    errno = 0;
    struct dirent* de = readdir(d);
    if (de == NULL) {
      return sys_err(sys);
    }
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
      continue;
    }
    int is_dir = de->d_type == DT_DIR;
    struct stat st;
    if (de->d_type == DT_UNKNOWN &&
        fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      is_dir = S_ISDIR(st.st_mode);
    }
    int rc = 0;
    if (is_dir) {
      rc = remove_tree(dirfd(d), de->d_name, depth + 1, sys);
    } else if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
      rc = sys_err(sys);
    }
    if (rc != 0) {
      return rc;
    }
  }
}

static int remove_tree(int dfd, const char* name, int depth, int* sys) {
  if (depth > TREE_DEPTH_MAX) {
    return ISO_ETOOBIG;
  }
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return sys_err(sys);
  }
  DIR* d = fdopendir(fd);
  if (d == NULL) {
    int rc = sys_err(sys);
    close(fd);
    return rc;
  }
  int rc = remove_entries(d, depth, sys);
  closedir(d);
  if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) != 0) {
    rc = sys_err(sys);
  }
  return rc;
}

static int remove_at(const fs_path* p, int dfd, const char* base, int rec) {
  struct stat st;
  if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return fs_fail_errno(p, errno, 0);
  }
  int rc, sys = 0;
  if (!S_ISDIR(st.st_mode)) {
    rc = unlinkat(dfd, base, 0) == 0 ? 0 : sys_err(&sys);
  } else if (rec) {
    rc = remove_tree(dfd, base, 1, &sys);
  } else {
    rc = unlinkat(dfd, base, AT_REMOVEDIR) == 0 ? 0 : sys_err(&sys);
  }
  if (rc == ISO_ETOOBIG) {
    return fs_fail(p, ISO_OPERR_OTHER, "the tree is deeper than 256 levels");
  }
  /* rmdir may say EEXIST for a directory that is not empty */
  return rc == 0 ? 0 : fs_fail_errno(p, sys == EEXIST ? ENOTEMPTY : sys, 0);
}

int iso__op_fs_remove(iso_op_call* call) {
  fs_path p;
  int recursive, dfd;
  const char* base;
  if (fs_arg(&p, call, "remove", 0, "path", ISO_PERM_WRITE) != 0 ||
      iso_op_arg_bool(call, 1, "recursive", 0, &recursive) != 0) {
    return ISO_EOP;
  }
  if (p.rel[0] == '\0') {
    return fs_fail(&p, ISO_OPERR_PERMISSION_DENIED,
                   "the data root itself cannot be removed");
  }
  if (fs_open_parent(&p, &dfd, &base) != 0) {
    return ISO_EOP;
  }
  int rc = remove_at(&p, dfd, base, recursive);
  close(dfd);
  return rc;
}

/* ---- rename ---- */

static int rename_at(const fs_path* from, const fs_path* to) {
  int fdfd, tdfd;
  const char *fbase, *tbase;
  if (fs_open_parent(from, &fdfd, &fbase) != 0) {
    return ISO_EOP;
  }
  if (fs_open_parent(to, &tdfd, &tbase) != 0) {
    close(fdfd);
    return ISO_EOP;
  }
  int rc = renameat(fdfd, fbase, tdfd, tbase);
  int e = errno;
  close(fdfd);
  close(tdfd);
  if (rc == 0) {
    return 0;
  }
  char text[128];
  return iso_op_fail(from->call, iso__ops_err_of_errno(e),
                     "rename \"%.200s\" -> \"%.200s\": %s", from->given,
                     to->given, iso__ops_strerror(e, text, sizeof text));
}

int iso__op_fs_rename(iso_op_call* call) {
  fs_path from, to;
  if (fs_arg(&from, call, "rename", 0, "from", ISO_PERM_WRITE) != 0 ||
      fs_arg(&to, call, "rename", 1, "to", ISO_PERM_WRITE) != 0) {
    return ISO_EOP;
  }
  if (from.rel[0] == '\0' || to.rel[0] == '\0') {
    const fs_path* root = from.rel[0] == '\0' ? &from : &to;
    return fs_fail(root, ISO_OPERR_PERMISSION_DENIED,
                   "the data root itself cannot be renamed");
  }
  return rename_at(&from, &to);
}
