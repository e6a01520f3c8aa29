/* test_fs.c: the fs ops (ops/fs.c) beneath the data root: reading,
 * writing, directories, stat, mkdir, remove, rename, and every way out of
 * the root (.., symlinks, hard links, special files, hostile paths) with
 * its error; every case that expects an escape to fail also checks that
 * nothing outside was touched.
 *
 * The ops fixture's data root (ops_harness.h) holds a file tree, a FIFO
 * and symlinks that stay inside it or point outside it; the cases run in
 * order on it.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "ops_harness.h"
#include "tap.h"

static void t_fs_read_write(void) {
  run("op_fs_read_file", g_all, "s", "notes/a.txt");
  CHECK_OK("\"aGVsbG8=\""); /* "hello" */
  run("op_fs_write_file", g_all, "sy", "notes/b.txt", "one");
  CHECK_OK("");
  run("op_fs_write_file", g_all, "syb", "notes/b.txt", "two", 1);
  CHECK_OK("");
  run("op_fs_read_file", g_all, "s", "notes/b.txt");
  CHECK_OK("\"b25ldHdv\""); /* "onetwo" */
  run("op_fs_write_file", g_all, "sy", "notes/b.txt", "3");
  run("op_fs_read_file", g_all, "s", "./notes//b.txt");
  CHECK_OK("\"Mw==\""); /* truncated, then "3" */
  run("op_fs_write_file", g_all, "sybbb", "notes/b.txt", "", 0, 1, 1);
  CHECK_ERR("AlreadyExists", "writeFile \"notes/b.txt\": file exists");
  run("op_fs_write_file", g_all, "sybbb", "notes/new.txt", "n", 0, 1, 1);
  CHECK_OK("");
  run("op_fs_write_file", g_all, "sybb", "notes/c.txt", "", 0, 0);
  CHECK_ERR("NotFound", "writeFile \"notes/c.txt\": no such file or directory");
  run("op_fs_write_file", g_all, "sy", "nodir/c.txt", "");
  CHECK_ERR("NotFound", "writeFile \"nodir/c.txt\": no such file or directory");
  run("op_fs_read_file", g_all, "s", "notes/x.txt");
  CHECK_ERR("NotFound", "readFile \"notes/x.txt\": no such file or directory");
  run("op_fs_read_file", g_all, "s", "notes/a.txt/x");
  CHECK_ERR("NotFound", "readFile \"notes/a.txt/x\": not a directory");
  run("op_fs_read_file", g_all, "s", "notes");
  CHECK_ERR("InvalidData", "readFile \"notes\": is not a regular file");
  run("op_fs_read_file", g_all, "i", 1);
  CHECK_ERR("TypeError", "op_fs_read_file: argument 1 (path) must be a string");
  run("op_fs_read_file", g_all, "");
  CHECK_ERR("TypeError", "op_fs_read_file: argument 1 (path) must be a string");
  run("op_fs_read_file", g_all, "s", "");
  CHECK_ERR("TypeError",
            "op_fs_read_file: argument 1 (path) must not be empty");
  run("op_fs_write_file", g_all, "ss", "notes/b.txt", "text");
  CHECK_ERR("TypeError",
            "op_fs_write_file: argument 2 (data) must be a "
            "Uint8Array or ArrayBuffer");
  run("op_fs_write_file", g_all, "syi", "notes/b.txt", "x", 1);
  CHECK_ERR("TypeError",
            "op_fs_write_file: argument 3 (append) must be a "
            "boolean");
  run("op_fs_write_file", g_all, "sy", ".", "x");
  CHECK_ERR("Error", "writeFile \".\": is a directory");
  run("op_fs_write_file", g_all, "sy", "notes", "x");
  CHECK_ERR("Error", "writeFile \"notes\": is a directory");
  /* binary data round-trips */
  uint8_t bin[256];
  for (int i = 0; i < 256; i++) {
    bin[i] = (uint8_t)i;
  }
  run("op_fs_write_file", g_all, "sY", "notes/bin", bin, sizeof bin);
  CHECK_OK("");
  run("op_fs_read_file", g_all, "s", "notes/bin");
  size_t n = 0;
  const uint8_t* got = result_bin(&n);
  CHECK(got != NULL && n == sizeof bin && memcmp(got, bin, n) == 0);
}

static void t_fs_special_files(void) {
  time_t t0 = time(NULL);
  run("op_fs_read_file", g_all, "s", "fifo");
  CHECK_ERR("InvalidData", "readFile \"fifo\": is not a regular file");
  run("op_fs_write_file", g_all, "sy", "fifo", "x");
  CHECK_ERR("InvalidData", "writeFile \"fifo\": is not a regular file");
  CHECK(time(NULL) - t0 < 5); /* neither blocked on the FIFO */
  /* a file past the limit is refused before reading (a sparse file) */
  char p[256];
  sub("big", p, sizeof p);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0 && ftruncate(fd, ((off_t)256 << 20) + 1) == 0);
  close(fd);
  run("op_fs_read_file", g_all, "s", "big");
  CHECK_ERR("InvalidData", "readFile \"big\": is larger than 256 MiB");
  unlink(p);
}

static void t_fs_read_dir(void) {
  put("data/b", "");
  put("data/a", "");
  run("op_fs_read_dir", g_all, "s", "data");
  CHECK_OK(
      "[{\"name\":\"a\",\"isFile\":true,\"isDirectory\":false,"
      "\"isSymlink\":false},"
      "{\"name\":\"b\",\"isFile\":true,\"isDirectory\":false,"
      "\"isSymlink\":false},"
      "{\"name\":\"x.txt\",\"isFile\":true,\"isDirectory\":false,"
      "\"isSymlink\":false}]");
  run("op_fs_read_dir", g_all, "s", "empty");
  CHECK_OK("[]");
  run("op_fs_read_dir", g_all, "s", "tree");
  CHECK_OK(
      "[{\"name\":\"a\",\"isFile\":false,\"isDirectory\":true,"
      "\"isSymlink\":false},"
      "{\"name\":\"f\",\"isFile\":true,\"isDirectory\":false,"
      "\"isSymlink\":false},"
      "{\"name\":\"out\",\"isFile\":false,\"isDirectory\":false,"
      "\"isSymlink\":true}]");
  run("op_fs_read_dir", g_all, "s", "link_dir_in"); /* followed: inside */
  CHECK_EQ(R.rc, 0);
  CHECK_CONTAINS((const char*)R.json.data, "\"name\":\"a.txt\"");
  run("op_fs_read_dir", g_all, "s", "notes/..");
  CHECK_EQ(R.rc, 0);
  CHECK_CONTAINS((const char*)R.json.data, "\"name\":\"notes\"");
  run("op_fs_read_dir", g_all, "s", "nope");
  CHECK_ERR("NotFound", "readDir \"nope\": no such file or directory");
  run("op_fs_read_dir", g_all, "s", "notes/a.txt");
  CHECK_ERR("NotFound", "readDir \"notes/a.txt\": not a directory");
  char p[256];
  sub("data/a", p, sizeof p);
  unlink(p);
  sub("data/b", p, sizeof p);
  unlink(p);
}

/* A value of the last map result, as JSON text, by key (crude: the
 * fields are scalars). */
static void check_field(const char* key, const char* want) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":%s", key, want);
  CHECK_CONTAINS((const char*)R.json.data, pat);
}

static void t_fs_stat(void) {
  run("op_fs_stat", g_all, "s", "notes/a.txt");
  CHECK_EQ(R.rc, 0);
  check_field("isFile", "true");
  check_field("isDirectory", "false");
  check_field("isSymlink", "false");
  check_field("size", "5");
  char mode[32];
  snprintf(mode, sizeof mode, "%d", S_IFREG | 0644);
  check_field("mode", mode);
  CHECK_CONTAINS((const char*)R.json.data, "\"birthtime\":");
  /* mtime is ms since the epoch, a float near now */
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, R.out.data, R.out.len);
  CHECK(iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_MAP && o.len == 8);
  double mtime = -1;
  for (uint32_t i = 0; i < o.len; i++) {
    iso_mp_obj k, v;
    iso_mp_read(&r, &k);
    iso_mp_read(&r, &v);
    if (k.len == 5 && memcmp(k.data, "mtime", 5) == 0) {
      CHECK_EQ(v.type, ISO_MP_F64);
      mtime = v.v.f;
    }
  }
  CHECK(mtime > ((double)time(NULL) - 3600) * 1e3 &&
        mtime < ((double)time(NULL) + 60) * 1e3);
  run("op_fs_stat", g_all, "s", "notes");
  check_field("isDirectory", "true");
  run("op_fs_stat", g_all, "s", "link_in"); /* stat follows */
  check_field("isFile", "true");
  check_field("isSymlink", "false");
  run("op_fs_stat", g_all, "s", "fifo");
  check_field("isFile", "false");
  run("op_fs_stat", g_all, "s", ".");
  check_field("isDirectory", "true");
  run("op_fs_stat", g_all, "s", "nope");
  CHECK_ERR("NotFound", "stat \"nope\": no such file or directory");
}

static void t_fs_mkdir(void) {
  run("op_fs_mkdir", g_all, "s", "m1");
  CHECK_OK("");
  CHECK(exists(g_root, "m1"));
  run("op_fs_mkdir", g_all, "s", "m1");
  CHECK_ERR("AlreadyExists", "mkdir \"m1\": file exists");
  run("op_fs_mkdir", g_all, "sb", "m1", 1);
  CHECK_OK("");
  run("op_fs_mkdir", g_all, "s", "m2/a/b");
  CHECK_ERR("NotFound", "mkdir \"m2/a/b\": no such file or directory");
  run("op_fs_mkdir", g_all, "sb", "m2/a/b/", 1);
  CHECK_OK("");
  CHECK(exists(g_root, "m2/a/b"));
  run("op_fs_mkdir", g_all, "sb", "m1/../m3/x", 1);
  CHECK_OK("");
  CHECK(exists(g_root, "m3/x"));
  run("op_fs_mkdir", g_all, "sb", "link_dir_in/sub", 1); /* follows inside */
  CHECK_OK("");
  CHECK(exists(g_root, "notes/sub"));
  run("op_fs_mkdir", g_all, "sb", "notes/a.txt", 1);
  CHECK_ERR("AlreadyExists", "mkdir \"notes/a.txt\": file exists");
  run("op_fs_mkdir", g_all, "sb", "notes/a.txt/x", 1);
  CHECK_ERR("NotFound", "mkdir \"notes/a.txt/x\": not a directory");
  run("op_fs_mkdir", g_all, "s", ".");
  CHECK_ERR("AlreadyExists", "mkdir \".\": file exists");
  run("op_fs_mkdir", g_all, "sb", ".", 1);
  CHECK_OK("");
  run("op_fs_mkdir", g_all, "ss", "m4", "yes");
  CHECK_ERR("TypeError",
            "op_fs_mkdir: argument 2 (recursive) must be a boolean");
}

static void t_fs_remove(void) {
  put("r1", "x");
  run("op_fs_remove", g_all, "s", "r1");
  CHECK_OK("");
  CHECK(!exists(g_root, "r1"));
  run("op_fs_remove", g_all, "s", "r1");
  CHECK_ERR("NotFound", "remove \"r1\": no such file or directory");
  run("op_fs_remove", g_all, "s", "empty");
  CHECK_OK("");
  CHECK(!exists(g_root, "empty"));
  run("op_fs_remove", g_all, "s", "tree");
  CHECK_ERR("Error", "remove \"tree\": directory not empty");
  /* recursive: tree/out is a symlink to the outside directory; it is
   * unlinked, never followed */
  run("op_fs_remove", g_all, "sb", "tree", 1);
  CHECK_OK("");
  CHECK(!exists(g_root, "tree"));
  CHECK(exists(g_out, "secret.txt"));
  /* a symlink is removed itself */
  char p[256];
  sub("link_tmp", p, sizeof p);
  CHECK_EQ(symlink("notes/a.txt", p), 0);
  run("op_fs_remove", g_all, "s", "link_tmp");
  CHECK_OK("");
  CHECK(!exists(g_root, "link_tmp"));
  CHECK(exists(g_root, "notes/a.txt"));
  run("op_fs_remove", g_all, "sb", ".", 1);
  CHECK_ERR("PermissionDenied",
            "remove \".\": the data root itself cannot be removed");
  run("op_fs_remove", g_all, "sb", "m3/..", 1);
  CHECK_ERR("PermissionDenied",
            "remove \"m3/..\": the data root itself cannot be removed");
  CHECK(exists(g_root, "notes/a.txt"));
  /* a deep tree */
  run("op_fs_mkdir", g_all, "sb", "deep/1/2/3/4/5/6/7/8/9", 1);
  CHECK_OK("");
  run("op_fs_remove", g_all, "sb", "deep", 1);
  CHECK_OK("");
  CHECK(!exists(g_root, "deep"));
}

static void t_fs_rename(void) {
  put("n1", "1");
  run("op_fs_rename", g_all, "ss", "n1", "notes/n2");
  CHECK_OK("");
  CHECK(!exists(g_root, "n1") && exists(g_root, "notes/n2"));
  run("op_fs_rename", g_all, "ss", "n1", "n3");
  CHECK_ERR("NotFound", "rename \"n1\" -> \"n3\": no such file or directory");
  run("op_fs_rename", g_all, "ss", "notes/n2", "nodir/n3");
  CHECK_ERR("NotFound", "rename \"nodir/n3\": no such file or directory");
  run("op_fs_rename", g_all, "ss", ".", "x");
  CHECK_ERR("PermissionDenied",
            "rename \".\": the data root itself cannot be renamed");
  run("op_fs_rename", g_all, "ss", "notes/n2", "../n2");
  CHECK_ERR("PermissionDenied", "rename \"../n2\": escapes the data root");
  run("op_fs_rename", g_all, "ss", "notes/n2", "link_dir_out/n2");
  CHECK_ERR("PermissionDenied",
            "rename \"link_dir_out/n2\": escapes the data root");
  CHECK(!exists(g_out, "n2"));
  /* write permission on both */
  iso_perms* p = perms(NULL, "notes", NULL);
  run("op_fs_rename", p, "ss", "notes/n2", "notes/n4");
  CHECK_OK("");
  run("op_fs_rename", p, "ss", "notes/n4", "data/n4");
  CHECK_ERR("PermissionDenied",
            "rename \"data/n4\": requires "
            "--allow-write=data/n4");
  run("op_fs_rename", p, "ss", "data/x.txt", "notes/x");
  CHECK_ERR("PermissionDenied",
            "rename \"data/x.txt\": requires "
            "--allow-write=data/x.txt");
  iso_perms_unref(p);
}

static void t_fs_escapes(void) {
  const char* denied[][2] = {
      {"../x", "readFile \"../x\": escapes the data root"},
      {"/etc/passwd", "readFile \"/etc/passwd\": escapes the data root"},
      {"notes/../../x", "readFile \"notes/../../x\": escapes the data root"},
      {"link_out", "readFile \"link_out\": escapes the data root"},
      {"link_up", "readFile \"link_up\": escapes the data root"},
      {"link_dir_out/secret.txt",
       "readFile \"link_dir_out/secret.txt\": escapes the data root"},
  };
  for (size_t i = 0; i < sizeof denied / sizeof *denied; i++) {
    run("op_fs_read_file", g_all, "s", denied[i][0]);
    CHECK_ERR("PermissionDenied", denied[i][1]);
  }
  run("op_fs_read_file", g_all, "s", "link_in");
  CHECK_OK("\"aGVsbG8=\"");
  run("op_fs_read_file", g_all, "s", "link_dir_in/a.txt");
  CHECK_OK("\"aGVsbG8=\"");
  run("op_fs_read_file", g_all, "s", "notes/../notes/a.txt");
  CHECK_OK("\"aGVsbG8=\"");
  run("op_fs_stat", g_all, "s", "link_out");
  CHECK_ERR("PermissionDenied", "stat \"link_out\": escapes the data root");
  run("op_fs_read_dir", g_all, "s", "link_dir_out");
  CHECK_ERR("PermissionDenied",
            "readDir \"link_dir_out\": escapes the data root");
  run("op_fs_write_file", g_all, "sy", "link_dir_out/new", "x");
  CHECK_ERR("PermissionDenied",
            "writeFile \"link_dir_out/new\": escapes the data root");
  run("op_fs_write_file", g_all, "sy", "link_out", "x");
  CHECK_ERR("PermissionDenied",
            "writeFile \"link_out\": escapes the data root");
  /* a symlink that stays inside is written through */
  run("op_fs_write_file", g_all, "sy", "link_in", "hello");
  CHECK_OK("");
  run("op_fs_read_file", g_all, "s", "link_in");
  CHECK_OK("\"aGVsbG8=\"");
  run("op_fs_mkdir", g_all, "sb", "link_dir_out/d", 1);
  CHECK_ERR("PermissionDenied",
            "mkdir \"link_dir_out/d\": escapes the data root");
  run("op_fs_remove", g_all, "s", "link_dir_out/secret.txt");
  CHECK_ERR("PermissionDenied",
            "remove \"link_dir_out/secret.txt\": escapes the data root");
  run("op_fs_write_file", g_all, "sy", "/tmp/iso_ops_escape", "x");
  CHECK_ERR("PermissionDenied",
            "writeFile \"/tmp/iso_ops_escape\": escapes the data root");
  CHECK(!exists("/tmp", "iso_ops_escape"));
  CHECK(!exists(g_out, "new") && !exists(g_out, "d"));
  CHECK(exists(g_out, "secret.txt"));
  run("op_fs_read_file", g_all, "s", "notes/a.txt");
  CHECK_OK("\"aGVsbG8=\""); /* link_in was not written through */
}

static void t_fs_perms(void) {
  iso_perms* p = perms("data", "data/out", NULL);
  run("op_fs_read_file", p, "s", "data/x.txt");
  CHECK_OK("\"eA==\"");
  run("op_fs_read_file", p, "s", "database/y.txt");
  CHECK_ERR("PermissionDenied",
            "readFile \"database/y.txt\": requires "
            "--allow-read=database/y.txt");
  run("op_fs_read_file", p, "s", "data/../database/y.txt");
  CHECK_ERR("PermissionDenied",
            "readFile \"data/../database/y.txt\": "
            "requires --allow-read=database/y.txt");
  run("op_fs_read_dir", p, "s", ".");
  CHECK_ERR("PermissionDenied", "readDir \".\": requires --allow-read=.");
  run("op_fs_write_file", p, "sy", "data/x.txt", "no");
  CHECK_ERR("PermissionDenied",
            "writeFile \"data/x.txt\": requires "
            "--allow-write=data/x.txt");
  run("op_fs_mkdir", p, "sb", "data/out/z", 1);
  CHECK_OK("");
  run("op_fs_write_file", p, "sy", "data/out/z/f", "ok");
  CHECK_OK("");
  /* symlinks inside the root that lead where the permission does not */
  char l[256];
  sub("data/to_base", l, sizeof l);
  CHECK_EQ(symlink("../database/y.txt", l), 0);
  run("op_fs_read_file", p, "s", "data/to_base");
  CHECK_ERR("PermissionDenied",
            "readFile \"data/to_base\": leads to \"database/y.txt\" (a "
            "symbolic link), which --allow-read does not cover");
  sub("data/out/up", l, sizeof l);
  CHECK_EQ(symlink("../../database", l), 0);
  run("op_fs_write_file", p, "sy", "data/out/up/new", "no");
  CHECK_ERR("PermissionDenied",
            "writeFile \"data/out/up/new\": leads to \"database/new\" (a "
            "symbolic link), which --allow-write does not cover");
  run("op_fs_mkdir", p, "sb", "data/out/up/d", 0);
  CHECK_ERR("PermissionDenied",
            "mkdir \"data/out/up/d\": leads to \"database/d\" (a "
            "symbolic link), which --allow-write does not cover");
  CHECK(!exists(g_root, "database/new") && !exists(g_root, "database/d"));
  run("op_fs_remove", p, "sb", "data/out", 1);
  CHECK_OK("");
  sub("data/to_base", l, sizeof l);
  CHECK_EQ(unlink(l), 0);
  iso_perms_unref(p);
}

/* ---- hostile input ---- */

/* A hard link inside the root to a file outside it is a name no path
 * resolution can see through: every op that opens a file's contents or
 * metadata refuses a file with more than one link (also two names inside
 * the root: the op cannot tell). readDir lists it; remove unlinks the name
 * inside, and the file outside stays as it was. */
static void t_fs_hard_links(void) {
  char out[256], in[256], in2[256];
  snprintf(out, sizeof out, "%s/secret.txt", g_out);
  sub("hl", in, sizeof in);
  CHECK_EQ(link(out, in), 0);
  const char* why =
      "has 2 hard links; isopool:fs does not open a file with more than "
      "one, since another may be outside the data root";
  char want[512];
  snprintf(want, sizeof want, "readFile \"hl\": %s", why);
  run("op_fs_read_file", g_all, "s", "hl");
  CHECK_ERR("PermissionDenied", want);
  snprintf(want, sizeof want, "writeFile \"hl\": %s", why);
  run("op_fs_write_file", g_all, "sy", "hl", "pwned");
  CHECK_ERR("PermissionDenied", want);
  run("op_fs_write_file", g_all, "syb", "hl", "pwned", 1);
  CHECK_ERR("PermissionDenied", want);
  run("op_fs_write_file", g_all, "sybbb", "hl", "pwned", 0, 1, 1);
  CHECK_ERR("AlreadyExists", "writeFile \"hl\": file exists");
  snprintf(want, sizeof want, "stat \"hl\": %s", why);
  run("op_fs_stat", g_all, "s", "hl");
  CHECK_ERR("PermissionDenied", want);
  /* through a symlink inside the root, the same */
  sub("to_hl", in2, sizeof in2);
  CHECK_EQ(symlink("hl", in2), 0);
  snprintf(want, sizeof want, "readFile \"to_hl\": %s", why);
  run("op_fs_read_file", g_all, "s", "to_hl");
  CHECK_ERR("PermissionDenied", want);
  run("op_fs_read_dir", g_all, "s", ".");
  CHECK_CONTAINS((const char*)R.json.data,
                 "{\"name\":\"hl\",\"isFile\":true,\"isDirectory\":false,"
                 "\"isSymlink\":false}");
  run("op_fs_remove", g_all, "s", "to_hl");
  CHECK_OK("");
  run("op_fs_remove", g_all, "s", "hl");
  CHECK_OK("");
  char text[16] = "";
  FILE* f = fopen(out, "r");
  CHECK(f != NULL && fgets(text, sizeof text, f) != NULL);
  if (f != NULL) {
    fclose(f);
  }
  CHECK_STR(text, "secret");
  /* two names inside the root: refused too, both */
  sub("notes/a.txt", in, sizeof in);
  sub("notes/a2.txt", in2, sizeof in2);
  CHECK_EQ(link(in, in2), 0);
  run("op_fs_read_file", g_all, "s", "notes/a.txt");
  CHECK_EQ(R.err, ISO_OPERR_PERMISSION_DENIED);
  run("op_fs_remove", g_all, "s", "notes/a2.txt");
  CHECK_OK("");
  run("op_fs_read_file", g_all, "s", "notes/a.txt");
  CHECK_OK("\"aGVsbG8=\""); /* one link again */
}

/* Makes n empty files named <prefix><i> in directory dir. */
static void make_files(const char* dir, const char* prefix, int n) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  for (int i = 0; i < n; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s%d", prefix, i);
    int fd = openat(dfd, name, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    close(fd);
  }
  close(dfd);
}

/* Runs a built-in op with perms p on env e. */
static void run_in(iso_ops_env* e,
                   const char* op,
                   const iso_perms* p,
                   const char* spec,
                   ...) {
  va_list ap;
  va_start(ap, spec);
  vinvoke(def_of(op), p, e, spec, ap);
  va_end(ap);
}

/* An empty directory (nothing to sort), a name that is not UTF-8 (left
 * out: JavaScript could not name it), and the entry limit: 100000 entries
 * are listed, one more is an error, in bounded time and memory. The big
 * directory lives in a data root of its own on tmpfs where there is one
 * (making 100000 files on a busy disk takes seconds). */
static void t_fs_read_dir_limits(void) {
  char d[300], p[300];
  run("op_fs_mkdir", g_all, "s", "rd_empty");
  run("op_fs_read_dir", g_all, "s", "rd_empty");
  CHECK_OK("[]");
  run("op_fs_mkdir", g_all, "s", "rd_bad");
  sub("rd_bad/ok", p, sizeof p);
  write_path(p, "");
  sub("rd_bad/\xff\xfe", p, sizeof p);
  write_path(p, "");
  run("op_fs_read_dir", g_all, "s", "rd_bad");
  CHECK_OK(
      "[{\"name\":\"ok\",\"isFile\":true,\"isDirectory\":false,"
      "\"isSymlink\":false}]");
  run("op_fs_remove", g_all, "sb", "rd_bad", 1);
  run("op_fs_remove", g_all, "s", "rd_empty");

  char root[64] = "/dev/shm/iso_ops_rd_XXXXXX";
  if (mkdtemp(root) == NULL) {
    snprintf(root, sizeof root, "/tmp/iso_ops_rd_XXXXXX");
    CHECK(mkdtemp(root) != NULL);
  }
  iso_ops_env* e = NULL;
  char err[256];
  iso_ops_env_opts o = {.data_root = root};
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), 0);
  snprintf(d, sizeof d, "%s/big", root);
  CHECK_EQ(mkdir(d, 0755), 0);
  make_files(d, "", 100000);
  time_t t0 = time(NULL);
  run_in(e, "op_fs_read_dir", g_all, "s", "big");
  CHECK_EQ(R.rc, 0);
  iso_mp_rd r;
  iso_mp_obj obj;
  iso_mp_rd_init(&r, R.out.data, R.out.len);
  CHECK(iso_mp_read(&r, &obj) == 0 && obj.type == ISO_MP_ARRAY &&
        obj.len == 100000);
  make_files(d, "x", 1);
  run_in(e, "op_fs_read_dir", g_all, "s", "big");
  CHECK_ERR("Error",
            "readDir \"big\": has more than 100000 entries (the most "
            "readDir returns)");
  CHECK(time(NULL) - t0 < 10);
  run_in(e, "op_fs_remove", g_all, "sb", "big", 1);
  CHECK_OK("");
  iso_ops_env_free(e);
  CHECK_EQ(rmdir(root), 0);
}

/* Paths as an attacker writes them: each a clear error, none touching the
 * file system outside the root. */
static void t_fs_hostile_paths(void) {
  static const uint8_t not_utf8[] = {0xa4, 'a', '/', 0xc3, 0x28};
  static const uint8_t with_nul[] = {0xa9, 'n', 'o', 't', 'e',
                                     's',  0,   'a', '.', 't'};
  static const uint8_t surrogate[] = {0xa4, 'x', 0xed, 0xa0, 0x80};
  run("op_fs_read_file", g_all, "r", not_utf8, sizeof not_utf8);
  CHECK_ERR("TypeError",
            "op_fs_read_file: argument 1 (path) must be valid UTF-8 without "
            "NUL bytes");
  run("op_fs_read_file", g_all, "r", with_nul, sizeof with_nul);
  CHECK_ERR("TypeError",
            "op_fs_read_file: argument 1 (path) must be valid UTF-8 without "
            "NUL bytes");
  run("op_fs_write_file", g_all, "ry", surrogate, sizeof surrogate, "x");
  CHECK_ERR("TypeError",
            "op_fs_write_file: argument 1 (path) must be valid UTF-8 without "
            "NUL bytes");
  /* longer than PATH_MAX: refused before anything is resolved */
  size_t big = 1 << 20;
  char* longp = malloc(big + 1);
  memset(longp, 'a', big);
  longp[big] = '\0';
  run("op_fs_stat", g_all, "s", longp);
  CHECK_ERR("TypeError",
            "op_fs_stat: argument 1 (path) is too long (at most 4095 bytes)");
  /* a component longer than NAME_MAX */
  longp[300] = '\0';
  run("op_fs_write_file", g_all, "sy", longp, "x");
  CHECK_EQ(R.rc, ISO_EOP);
  CHECK_CONTAINS(R.msg, "file name too long");
  /* deep: 2000 components of "a/" resolve to nothing that exists */
  for (int i = 0; i < 2000; i++) {
    memcpy(longp + 2 * i, "a/", 2);
  }
  longp[3999] = '\0';
  run("op_fs_read_file", g_all, "s", longp);
  CHECK_EQ(R.err, ISO_OPERR_NOT_FOUND);
  CHECK_CONTAINS(R.msg, "a/a/a/\": no such file or directory");
  /* ".." after a climb back down stays inside; beyond the root it is
   * refused as text */
  run("op_fs_read_file", g_all, "s", "notes/./../notes//a.txt");
  CHECK_OK("\"aGVsbG8=\"");
  run("op_fs_read_file", g_all, "s", "notes/../../notes/a.txt");
  CHECK_ERR("PermissionDenied",
            "readFile \"notes/../../notes/a.txt\": escapes the data root");
  run("op_fs_read_file", g_all, "s", "...");
  CHECK_ERR("NotFound", "readFile \"...\": no such file or directory");
  free(longp);
}

static const iso_test cases[] = {{"fs_read_write", t_fs_read_write},
                                 {"fs_special_files", t_fs_special_files},
                                 {"fs_read_dir", t_fs_read_dir},
                                 {"fs_stat", t_fs_stat},
                                 {"fs_mkdir", t_fs_mkdir},
                                 {"fs_remove", t_fs_remove},
                                 {"fs_rename", t_fs_rename},
                                 {"fs_escapes", t_fs_escapes},
                                 {"fs_perms", t_fs_perms},
                                 {"fs_hard_links", t_fs_hard_links},
                                 {"fs_read_dir_limits", t_fs_read_dir_limits},
                                 {"fs_hostile_paths", t_fs_hostile_paths},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
