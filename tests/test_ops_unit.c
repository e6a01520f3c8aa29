/* test_ops_unit.c: the op registry and the built-in ops (ops/iso_ops.h).
 *
 * Calls ops the way the runtime does, through iso_op_invoke with msgpack
 * arguments, and reads results as JSON (ipc/iso_json.h) so each case shows
 * the value it expects. fs cases run against a temporary data root made
 * under /tmp with a file tree, a FIFO and symlinks that stay inside it or
 * point outside it; every case that expects an escape to fail also checks
 * that nothing outside was touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
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
#include "tap.h"

/* ---- fixture: the data root, an outside directory, shared perms ---- */

static char g_root[64];
static char g_out[64];
static iso_ops_env* g_env;
static iso_perms* g_all;

static void write_path(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* root-relative helpers for building and checking the tree */
static void put(const char* rel, const char* text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", g_root, rel);
  write_path(path, text);
}

static int exists(const char* dir, const char* rel) {
  char path[256];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return lstat(path, &st) == 0;
}

static void sub(const char* rel, char* path, size_t n) {
  snprintf(path, n, "%s/%s", g_root, rel);
}

static void make_tree(void) {
  char p[256], t[256];
  const char* dirs[] = {"notes", "data",   "database", "empty",
                        "tree",  "tree/a", "tree/a/b"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    sub(dirs[i], p, sizeof p);
    mkdir(p, 0755);
  }
  put("notes/a.txt", "hello");
  put("data/x.txt", "x");
  put("database/y.txt", "y");
  put("tree/f", "f");
  put("tree/a/b/g", "g");
  sub("fifo", p, sizeof p);
  mkfifo(p, 0644);
  snprintf(t, sizeof t, "%s/secret.txt", g_out);
  write_path(t, "secret");
  struct {
    const char* rel;
    const char* target;
  } links[] = {{"link_in", "notes/a.txt"},
               {"link_dir_in", "notes"},
               {"link_up", "../x/secret.txt"},
               {"tree/out", g_out}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    sub(links[i].rel, p, sizeof p);
    CHECK_EQ(symlink(links[i].target, p), 0);
  }
  sub("link_out", p, sizeof p);
  CHECK_EQ(symlink(t, p), 0); /* absolute, to outside */
  sub("link_dir_out", p, sizeof p);
  CHECK_EQ(symlink(g_out, p), 0);
}

static iso_ops_env* env(void) {
  if (g_env == NULL) {
    char err[256] = "";
    snprintf(g_root, sizeof g_root, "/tmp/iso_ops_root_XXXXXX");
    snprintf(g_out, sizeof g_out, "/tmp/iso_ops_out_XXXXXX");
    CHECK(mkdtemp(g_root) != NULL && mkdtemp(g_out) != NULL);
    make_tree();
    iso_ops_env_opts o = {.data_root = g_root};
    CHECK_EQ(iso_ops_env_new(&o, &g_env, err, sizeof err), 0);
    CHECK_EQ(iso_perms_parse("", "", "", &g_all, err, sizeof err), 0);
  }
  return g_env;
}

static int rm_cb(const char* p,
                 const struct stat* st,
                 int flag,
                 struct FTW* f) {
  return remove(p);
}

static void teardown(void) {
  if (g_env != NULL) {
    nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    nftw(g_out, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    iso_ops_env_free(g_env);
    iso_perms_unref(g_all);
  }
}

static iso_perms* perms(const char* r, const char* w, const char* e) {
  iso_perms* p = NULL;
  char err[256];
  int rc = iso_perms_parse(r, w, e, &p, err, sizeof err);
  CHECK_EQ(rc, 0);
  return p;
}

/* ---- calling ops ---- */

/* Builds a msgpack argument array. One spec letter per argument: s str,
 * y bin (a C string's bytes), Y bin (pointer, size_t), b bool (int), i int,
 * I long long, d double, n nil, j a JSON value, r raw msgpack (pointer,
 * size_t). */
static void build_args(iso_buf* b, const char* spec, va_list ap) {
  iso_mp_wr w;
  iso_mp_wr_init(&w, b);
  iso_mp_put_array(&w, (uint32_t)strlen(spec));
  for (const char* s = spec; *s != '\0'; s++) {
    const char* t;
    const void* p;
    size_t n;
    switch (*s) {
      case 's':
        iso_mp_put_cstr(&w, va_arg(ap, const char*));
        break;
      case 'y':
        t = va_arg(ap, const char*);
        iso_mp_put_bin(&w, t, strlen(t));
        break;
      case 'Y':
      case 'r':
        p = va_arg(ap, const void*);
        n = va_arg(ap, size_t);
        if (*s == 'Y') {
          iso_mp_put_bin(&w, p, n);
        } else {
          iso_mp_put_raw(&w, p, n);
        }
        break;
      case 'b':
        iso_mp_put_bool(&w, va_arg(ap, int));
        break;
      case 'i':
        iso_mp_put_int(&w, va_arg(ap, int));
        break;
      case 'I':
        iso_mp_put_int(&w, va_arg(ap, long long));
        break;
      case 'd':
        iso_mp_put_double(&w, va_arg(ap, double));
        break;
      case 'n':
        iso_mp_put_nil(&w);
        break;
      case 'j':
        t = va_arg(ap, const char*);
        CHECK_EQ(iso_json_to_msgpack(t, strlen(t), b), 0);
        break;
    }
  }
}

/* The last call's outcome; json is "" for undefined or an error. */
typedef struct res {
  int rc;
  iso_op_err err;
  char msg[512];
  iso_buf out;
  iso_buf json;
} res;

static res R;

static void set_json(void) {
  iso_buf_reset(&R.json);
  if (R.rc == 0 && R.out.len > 0) {
    CHECK_EQ(iso_json_from_msgpack(R.out.data, R.out.len, &R.json), 0);
  }
  iso_buf_terminate(&R.json);
}

static void invoke_raw(const iso_op_def* def,
                       const iso_perms* p,
                       iso_ops_env* e,
                       const uint8_t* args,
                       size_t len) {
  iso_op_call call = {.def = def, .perms = p, .env = e, .out = &R.out};
  iso_buf_reset(&R.out);
  R.rc = iso_op_invoke(&call, args, len);
  R.err = call.err;
  memcpy(R.msg, call.msg, sizeof R.msg);
  set_json();
}

static void vinvoke(const iso_op_def* def,
                    const iso_perms* p,
                    iso_ops_env* e,
                    const char* spec,
                    va_list ap) {
  iso_buf args;
  iso_buf_init(&args);
  build_args(&args, spec, ap);
  invoke_raw(def, p, e, args.data, args.len);
  iso_buf_free(&args);
}

static const iso_op_def* def_of(const char* name) {
  const iso_op_table* t = iso_ops_builtin();
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->defs[i].name, name) == 0) {
      return &t->defs[i];
    }
  }
  fprintf(stderr, "  no op %s\n", name);
  abort();
}

/* Runs a built-in op with perms p on the shared env. */
static const char* run(const char* op,
                       const iso_perms* p,
                       const char* spec,
                       ...) {
  va_list ap;
  va_start(ap, spec);
  vinvoke(def_of(op), p, env(), spec, ap);
  va_end(ap);
  return (const char*)R.json.data;
}

/* The same with a given def and env. */
static void run_def(const iso_op_def* def,
                    iso_ops_env* e,
                    const char* spec,
                    ...) {
  va_list ap;
  va_start(ap, spec);
  vinvoke(def, iso_perms_none(), e, spec, ap);
  va_end(ap);
}

#define CHECK_OK(json_text)                         \
  do {                                              \
    CHECK_EQ(R.rc, 0);                              \
    CHECK_STR(R.msg, "");                           \
    CHECK_STR((const char*)R.json.data, json_text); \
  } while (0)

#define CHECK_ERR(cls, text)                 \
  do {                                       \
    CHECK_EQ(R.rc, -1);                      \
    CHECK_STR(iso_op_err_class(R.err), cls); \
    CHECK_STR(R.msg, text);                  \
  } while (0)

/* The last result as bin bytes; NULL when it is not a bin. */
static const uint8_t* result_bin(size_t* len) {
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, R.out.data, R.out.len);
  if (R.rc != 0 || iso_mp_read(&r, &o) != 0 || o.type != ISO_MP_BIN) {
    return NULL;
  }
  *len = o.len;
  return o.data;
}

static void to_hex(const uint8_t* p, size_t n, char* out) {
  for (size_t i = 0; i < n; i++) {
    snprintf(out + 2 * i, 3, "%02x", p[i]);
  }
  out[2 * n] = '\0';
}

/* ---- registry ---- */

static void t_err_class(void) {
  CHECK_STR(iso_op_err_class(ISO_OPERR_TYPE), "TypeError");
  CHECK_STR(iso_op_err_class(ISO_OPERR_NOT_FOUND), "NotFound");
  CHECK_STR(iso_op_err_class(ISO_OPERR_PERMISSION_DENIED), "PermissionDenied");
  CHECK_STR(iso_op_err_class(ISO_OPERR_ALREADY_EXISTS), "AlreadyExists");
  CHECK_STR(iso_op_err_class(ISO_OPERR_INVALID_DATA), "InvalidData");
  CHECK_STR(iso_op_err_class(ISO_OPERR_TIMED_OUT), "TimedOut");
  CHECK_STR(iso_op_err_class(ISO_OPERR_OTHER), "Error");
  CHECK(iso_op_err_class(ISO_OPERR_NONE) == NULL);
  CHECK(iso_op_err_class(ISO_OPERR_COUNT) == NULL);
}

static void t_builtin_table(void) {
  static const struct {
    const char* name;
    iso_op_kind kind;
    iso_perm_kind perm;
  } want[] = {
      {"op_noop", ISO_OP_SYNC, ISO_PERM_NONE},
      {"op_noop_async", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_echo_async", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_env_get", ISO_OP_SYNC, ISO_PERM_ENV},
      {"op_fs_read_file", ISO_OP_ASYNC, ISO_PERM_READ},
      {"op_fs_write_file", ISO_OP_ASYNC, ISO_PERM_WRITE},
      {"op_fs_read_dir", ISO_OP_ASYNC, ISO_PERM_READ},
      {"op_fs_stat", ISO_OP_ASYNC, ISO_PERM_READ},
      {"op_fs_mkdir", ISO_OP_ASYNC, ISO_PERM_WRITE},
      {"op_fs_remove", ISO_OP_ASYNC, ISO_PERM_WRITE},
      {"op_fs_rename", ISO_OP_ASYNC, ISO_PERM_WRITE},
      {"op_kv_get", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_kv_set", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_kv_delete", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_kv_list", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_kv_increment", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_crypto_random", ISO_OP_SYNC, ISO_PERM_NONE},
      {"op_crypto_random_uuid", ISO_OP_SYNC, ISO_PERM_NONE},
      {"op_crypto_digest", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_test_block", ISO_OP_SYNC, ISO_PERM_NONE},
  };
  const iso_op_table* t = iso_ops_builtin();
  CHECK_EQ(t->n, sizeof want / sizeof *want);
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    const iso_op_def* d = def_of(want[i].name);
    CHECK_EQ(d->kind, want[i].kind);
    CHECK_EQ(d->perm, want[i].perm);
    CHECK(d->fn != NULL);
  }
  for (size_t i = 0; i < t->n; i++) {
    for (size_t j = i + 1; j < t->n; j++) {
      CHECK(strcmp(t->defs[i].name, t->defs[j].name) != 0);
    }
  }
}

/* Test ops for the readers: each reads one argument and returns it. */
static int t_str_fn(iso_op_call* c) {
  char buf[8];
  return iso_op_arg_str(c, 0, "s", buf, sizeof buf) != 0
             ? -1
             : iso_op_ret_str(c, buf, strlen(buf));
}

static int t_int_fn(iso_op_call* c) {
  int64_t v;
  return iso_op_arg_int(c, 0, "n", -5, 100, 7, &v) != 0 ? -1
                                                        : iso_op_ret_int(c, v);
}

static int t_bool_fn(iso_op_call* c) {
  int v;
  return iso_op_arg_bool(c, 0, "flag", 1, &v) != 0 ? -1 : iso_op_ret_bool(c, v);
}

static int t_bytes_fn(iso_op_call* c) {
  const uint8_t* p;
  size_t n;
  return iso_op_arg_bytes(c, 0, "data", &p, &n) != 0
             ? -1
             : iso_op_ret_int(c, (int64_t)n);
}

static int t_plain_fail_fn(iso_op_call* c) {
  iso_op_ret_str(c, "partial", 7);
  return -1;
}

static const iso_op_def t_str = {"t_str", ISO_OP_SYNC, ISO_PERM_NONE, t_str_fn};
static const iso_op_def t_int = {"t_int", ISO_OP_SYNC, ISO_PERM_NONE, t_int_fn};
static const iso_op_def t_bool = {"t_bool", ISO_OP_SYNC, ISO_PERM_NONE,
                                  t_bool_fn};
static const iso_op_def t_bytes = {"t_bytes", ISO_OP_SYNC, ISO_PERM_NONE,
                                   t_bytes_fn};
static const iso_op_def t_plain = {"t_plain", ISO_OP_SYNC, ISO_PERM_NONE,
                                   t_plain_fail_fn};

static void t_invoke(void) {
  const iso_op_def* echo = def_of("op_echo_async");
  static const uint8_t not_array[] = {0x01};
  static const uint8_t truncated[] = {0x91, 0xa3, 'a'};
  static const uint8_t bad_count[] = {0x92, 0x01};
  static const uint8_t trailing[] = {0x91, 0x01, 0x02};
  invoke_raw(echo, g_all, env(), not_array, sizeof not_array);
  CHECK_ERR("TypeError",
            "op_echo_async: the arguments must be a msgpack array");
  invoke_raw(echo, g_all, env(), truncated, sizeof truncated);
  CHECK_ERR("TypeError",
            "op_echo_async: malformed arguments (truncated msgpack)");
  invoke_raw(echo, g_all, env(), bad_count, sizeof bad_count);
  CHECK_ERR("TypeError",
            "op_echo_async: malformed arguments (array/map count larger than "
            "the message could hold)");
  invoke_raw(echo, g_all, env(), trailing, sizeof trailing);
  CHECK_ERR("TypeError", "op_echo_async: trailing bytes after the arguments");
  invoke_raw(echo, g_all, env(), NULL, 0);
  CHECK_ERR("TypeError",
            "op_echo_async: malformed arguments (truncated msgpack)");
  run("op_echo_async", g_all, "iiiiiiiii", 1, 2, 3, 4, 5, 6, 7, 8, 9);
  CHECK_ERR("TypeError", "op_echo_async: at most 8 arguments (got 9)");
  run("op_echo_async", g_all, "iiiiiiii", 1, 2, 3, 4, 5, 6, 7, 8);
  CHECK_OK("1");
  /* the permission kind is checked before the op runs */
  run("op_fs_read_file", iso_perms_none(), "s", "notes/a.txt");
  CHECK_ERR("PermissionDenied",
            "op_fs_read_file: requires --allow-read (not granted to this job)");
  run("op_fs_write_file", NULL, "sy", "notes/a.txt", "x");
  CHECK_ERR(
      "PermissionDenied",
      "op_fs_write_file: requires --allow-write (not granted to this job)");
  /* a failure without a class is an Error, and its partial result goes */
  run_def(&t_plain, env(), "");
  CHECK_ERR("Error", "t_plain failed");
  CHECK_EQ(R.out.len, 0);
}

static void t_arg_readers(void) {
  static const uint8_t bad_utf8[] = {0xa2, 0xff, 0xfe};
  static const uint8_t with_nul[] = {0xa3, 'a', 0, 'b'};
  run_def(&t_str, env(), "s", "abc");
  CHECK_OK("\"abc\"");
  run_def(&t_str, env(), "s", "1234567");
  CHECK_OK("\"1234567\"");
  run_def(&t_str, env(), "s", "12345678");
  CHECK_ERR("TypeError", "t_str: argument 1 (s) is too long (at most 7 bytes)");
  run_def(&t_str, env(), "i", 1);
  CHECK_ERR("TypeError", "t_str: argument 1 (s) must be a string");
  run_def(&t_str, env(), "");
  CHECK_ERR("TypeError", "t_str: argument 1 (s) must be a string");
  run_def(&t_str, env(), "y", "abc");
  CHECK_ERR("TypeError", "t_str: argument 1 (s) must be a string");
  run_def(&t_str, env(), "r", bad_utf8, sizeof bad_utf8);
  CHECK_ERR("TypeError",
            "t_str: argument 1 (s) must be valid UTF-8 without NUL bytes");
  run_def(&t_str, env(), "r", with_nul, sizeof with_nul);
  CHECK_ERR("TypeError",
            "t_str: argument 1 (s) must be valid UTF-8 without NUL bytes");

  static const char* const int_range =
      "t_int: argument 1 (n) must be an "
      "integer in [-5, 100]";
  run_def(&t_int, env(), "i", 42);
  CHECK_OK("42");
  run_def(&t_int, env(), "d", 3.0); /* a whole float counts */
  CHECK_OK("3");
  run_def(&t_int, env(), "d", -5.0);
  CHECK_OK("-5");
  run_def(&t_int, env(), "");
  CHECK_OK("7");
  run_def(&t_int, env(), "n");
  CHECK_OK("7");
  run_def(&t_int, env(), "d", 2.5);
  CHECK_ERR("TypeError", int_range);
  run_def(&t_int, env(), "i", 101);
  CHECK_ERR("TypeError", int_range);
  run_def(&t_int, env(), "i", -6);
  CHECK_ERR("TypeError", int_range);
  run_def(&t_int, env(), "d", 1e300);
  CHECK_ERR("TypeError", int_range);
  run_def(&t_int, env(), "j", "18446744073709551615");
  CHECK_ERR("TypeError", int_range);
  run_def(&t_int, env(), "s", "5");
  CHECK_ERR("TypeError", int_range);
  run_def(&t_int, env(), "b", 1);
  CHECK_ERR("TypeError", int_range);

  run_def(&t_bool, env(), "b", 0);
  CHECK_OK("false");
  run_def(&t_bool, env(), "n");
  CHECK_OK("true");
  run_def(&t_bool, env(), "");
  CHECK_OK("true");
  run_def(&t_bool, env(), "i", 0);
  CHECK_ERR("TypeError", "t_bool: argument 1 (flag) must be a boolean");

  run_def(&t_bytes, env(), "y", "abcd");
  CHECK_OK("4");
  run_def(&t_bytes, env(), "s", "abcd");
  CHECK_ERR("TypeError",
            "t_bytes: argument 1 (data) must be a Uint8Array or ArrayBuffer");
}

static void t_core_ops(void) {
  run("op_noop", NULL, "");
  CHECK_OK("");
  run("op_noop_async", NULL, "i", 1);
  CHECK_OK("");
  run("op_echo_async", NULL, "j", "{\"a\":[1,2.5,null,\"x\"]}");
  CHECK_OK("{\"a\":[1,2.5,null,\"x\"]}");
  run("op_echo_async", NULL, "");
  CHECK_ERR("TypeError", "op_echo_async: argument 1 (value) is missing");
}

static void t_env_op(void) {
  iso_perms* p = perms(NULL, NULL, "ISO_OPS_T1,ISO_OPS_T2");
  setenv("ISO_OPS_T1", "v1", 1);
  unsetenv("ISO_OPS_T2");
  run("op_env_get", p, "s", "ISO_OPS_T1");
  CHECK_OK("\"v1\"");
  run("op_env_get", p, "s", "ISO_OPS_T2");
  CHECK_OK("");
  run("op_env_get", p, "s", "HOME");
  CHECK_ERR("PermissionDenied", "env \"HOME\": requires --allow-env=HOME");
  run("op_env_get", p, "s", "");
  CHECK_ERR("TypeError",
            "op_env_get: argument 1 (name) must be a variable "
            "name (not empty, without '=')");
  run("op_env_get", p, "s", "A=B");
  CHECK_ERR("TypeError",
            "op_env_get: argument 1 (name) must be a variable "
            "name (not empty, without '=')");
  run("op_env_get", p, "i", 3);
  CHECK_ERR("TypeError", "op_env_get: argument 1 (name) must be a string");
  run("op_env_get", iso_perms_none(), "s", "HOME");
  CHECK_ERR("PermissionDenied",
            "op_env_get: requires --allow-env (not granted to this job)");
  run("op_env_get", g_all, "s", "ISO_OPS_T1");
  CHECK_OK("\"v1\"");
  iso_perms_unref(p);
}

/* ---- permissions ---- */

static void check_describe(const iso_perms* p, const char* want) {
  char buf[256];
  int n = iso_perms_describe(p, buf, sizeof buf);
  CHECK_STR(buf, want);
  CHECK_EQ(n, strlen(want));
}

static void check_parse_err(const char* r, const char* e, const char* want) {
  iso_perms* p = NULL;
  char err[256] = "";
  CHECK_EQ(iso_perms_parse(r, NULL, e, &p, err, sizeof err), ISO_EINVAL);
  CHECK(p == NULL);
  CHECK_STR(err, want);
}

static void t_perms_parse(void) {
  iso_perms* p = perms("data/,cache/x,data/sub,a/./b", NULL, "LANG,HOME,LANG");
  check_describe(p, "read=a/b,cache/x,data write=none env=HOME,LANG");
  iso_perms_unref(p);
  p = perms(".", "", NULL);
  check_describe(p, "read=* write=* env=none");
  iso_perms_unref(p);
  check_describe(iso_perms_none(), "read=none write=none env=none");
  check_describe(NULL, "read=none write=none env=none");
  check_parse_err("/etc", NULL,
                  "--allow-read: entry \"/etc\" is an absolute path (paths "
                  "are relative to the data root)");
  check_parse_err("a/../b", NULL,
                  "--allow-read: entry \"a/../b\" has a \"..\" component");
  check_parse_err("..", NULL,
                  "--allow-read: entry \"..\" has a \"..\" component");
  check_parse_err("a//b", NULL,
                  "--allow-read: entry \"a//b\" has an empty component");
  check_parse_err("a,,b", NULL, "--allow-read: entry \"\" is empty");
  check_parse_err("a,", NULL, "--allow-read: entry \"\" is empty");
  check_parse_err(NULL, "A=B", "--allow-env: entry \"A=B\" contains '='");
  /* describe follows snprintf's rule */
  char small[8];
  p = perms("data", NULL, NULL);
  CHECK_EQ(iso_perms_describe(p, small, sizeof small),
           strlen("read=data write=none env=none"));
  CHECK_STR(small, "read=da");
  iso_perms_unref(p);
}

static int narrow(const iso_perms* g,
                  const char* json,
                  iso_perms** out,
                  char* err) {
  iso_buf b;
  iso_buf_init(&b);
  CHECK_EQ(iso_json_to_msgpack(json, strlen(json), &b), 0);
  err[0] = '\0';
  *out = NULL;
  int rc = iso_perms_narrow(g, b.data, b.len, out, err, 256);
  iso_buf_free(&b);
  return rc;
}

static void check_narrow(const iso_perms* g,
                         const char* json,
                         const char* want) {
  iso_perms* p;
  char err[256];
  CHECK_EQ(narrow(g, json, &p, err), 0);
  CHECK_STR(err, "");
  check_describe(p, want);
  iso_perms_unref(p);
}

static void check_narrow_err(const iso_perms* g,
                             const char* json,
                             int rc,
                             const char* want) {
  iso_perms* p;
  char err[256];
  CHECK_EQ(narrow(g, json, &p, err), rc);
  CHECK(p == NULL);
  CHECK_STR(err, want);
}

static void t_perms_narrow(void) {
  iso_perms* g = perms("data,cache", "data/out", "HOME");
  iso_perms* p = NULL;
  char err[256];
  CHECK_EQ(iso_perms_narrow(g, NULL, 0, &p, err, sizeof err), 0);
  CHECK(p == g); /* a new reference to the same set */
  iso_perms_unref(p);
  check_narrow(g, "{}", "read=none write=none env=none");
  check_narrow(g, "{\"read\":true,\"write\":false,\"env\":null}",
               "read=cache,data write=none env=none");
  check_narrow(g, "{\"read\":[\"data/x\",\"data\"],\"write\":[\"data/out/a\"]}",
               "read=data write=data/out/a env=none");
  check_narrow(g, "{\"read\":[],\"env\":[\"HOME\"]}",
               "read=none write=none env=HOME");
  check_narrow(g_all, "{\"read\":true,\"write\":[\".\"]}",
               "read=* write=* env=none");
  check_narrow_err(g, "{\"read\":[\"database\"]}", ISO_EPERM,
                   "permissions: read \"database\" is not granted by the "
                   "service (--allow-read=cache,data)");
  check_narrow_err(g, "{\"write\":[\"data\"]}", ISO_EPERM,
                   "permissions: write \"data\" is not granted by the "
                   "service (--allow-write=data/out)");
  check_narrow_err(iso_perms_none(), "{\"env\":[\"HOME\"]}", ISO_EPERM,
                   "permissions: env \"HOME\" is not granted by the service "
                   "(no --allow-env)");
  check_narrow_err(g, "{\"net\":true}", ISO_EINVAL,
                   "permissions: unknown key \"net\" (expected read, write "
                   "and env)");
  check_narrow_err(g, "{\"read\":true,\"read\":false}", ISO_EINVAL,
                   "permissions: duplicate key \"read\" (expected read, "
                   "write and env)");
  check_narrow_err(g, "{\"read\":1}", ISO_EINVAL,
                   "permissions: read must be true, false or an array of "
                   "strings");
  check_narrow_err(g, "{\"read\":[1]}", ISO_EINVAL,
                   "permissions: read: entries must be strings");
  check_narrow_err(g, "{\"read\":[\"/etc\"]}", ISO_EINVAL,
                   "permissions: read: entry \"/etc\" is an absolute path "
                   "(paths are relative to the data root)");
  check_narrow_err(g, "{\"read\":[\"data/../x\"]}", ISO_EINVAL,
                   "permissions: read: entry \"data/../x\" has a \"..\" "
                   "component");
  check_narrow_err(g, "[true]", ISO_EINVAL,
                   "permissions: must be a map such as {read: [\"data\"]}");
  static const uint8_t trunc[] = {0x81, 0xa4, 'r', 'e', 'a', 'd'};
  CHECK_EQ(iso_perms_narrow(g, trunc, sizeof trunc, &p, err, sizeof err),
           ISO_EINVAL);
  iso_perms_unref(g);
}

static void t_perms_equal_hash(void) {
  iso_perms* a = perms("b,a", NULL, "X");
  iso_perms* b = perms("a,b,a/c", NULL, "X,X");
  iso_perms* c = perms("a", NULL, "X");
  iso_perms* n = perms(NULL, NULL, NULL);
  iso_perms* w = perms(NULL, "a,b", "X"); /* same lists, other kind */
  CHECK(iso_perms_equal(a, b));
  CHECK_EQ(iso_perms_hash(a), iso_perms_hash(b));
  CHECK(!iso_perms_equal(a, c));
  CHECK(iso_perms_hash(a) != iso_perms_hash(c));
  CHECK(!iso_perms_equal(a, w));
  CHECK(iso_perms_hash(a) != iso_perms_hash(w));
  CHECK(iso_perms_equal(n, iso_perms_none()));
  CHECK_EQ(iso_perms_hash(n), iso_perms_hash(iso_perms_none()));
  /* ref/unref: the static set is never counted; NULL is fine */
  CHECK(iso_perms_ref(iso_perms_none()) == iso_perms_none());
  iso_perms_unref(iso_perms_none());
  iso_perms_unref(NULL);
  CHECK(iso_perms_ref(a) == a);
  iso_perms_unref(a);
  iso_perms_unref(a);
  iso_perms_unref(b);
  iso_perms_unref(c);
  iso_perms_unref(n);
  iso_perms_unref(w);
}

static void t_perms_allows(void) {
  iso_perms* p = perms("data,x/y", NULL, "HOME");
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "data"));
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "data/x"));
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "data/x/y/z"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "database"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "dat"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, ""));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "x"));
  CHECK(iso_perms_allows_path(p, ISO_PERM_READ, "x/y"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_READ, "x/yz"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_WRITE, "data"));
  CHECK(!iso_perms_allows_path(p, ISO_PERM_ENV, "data"));
  CHECK(iso_perms_allows(p, ISO_PERM_READ));
  CHECK(!iso_perms_allows(p, ISO_PERM_WRITE));
  CHECK(iso_perms_allows(p, ISO_PERM_ENV));
  CHECK(iso_perms_allows(p, ISO_PERM_NONE));
  CHECK(iso_perms_allows(NULL, ISO_PERM_NONE));
  CHECK(!iso_perms_allows(NULL, ISO_PERM_READ));
  CHECK(iso_perms_allows_name(p, "HOME"));
  CHECK(!iso_perms_allows_name(p, "HOMER"));
  CHECK(!iso_perms_allows_name(p, "HOM"));
  CHECK(iso_perms_allows_path(g_all, ISO_PERM_WRITE, ""));
  CHECK(iso_perms_allows_name(g_all, "ANY"));
  CHECK(!iso_perms_allows_path(iso_perms_none(), ISO_PERM_READ, "a"));
  iso_perms_unref(p);
}

/* ---- env ---- */

static void t_env_new(void) {
  iso_ops_env* e = NULL;
  char err[256] = "";
  iso_ops_env_opts o = {.data_root = "/nonexistent/iso_ops"};
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), ISO_ENOENT);
  CHECK_STR(err,
            "data root \"/nonexistent/iso_ops\": no such file or "
            "directory");
  char file[256];
  snprintf(file, sizeof file, "%s/secret.txt", g_out);
  o.data_root = file;
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), ISO_EINVAL);
  CHECK_CONTAINS(err, "not a directory");
  /* no data root: the env works, fs ops fail NotFound */
  CHECK_EQ(iso_ops_env_new(NULL, &e, err, sizeof err), 0);
  run_def(def_of("op_kv_set"), e, "si", "k", 1);
  CHECK_OK("");
  iso_op_call call = {.def = def_of("op_fs_read_file"),
                      .perms = g_all,
                      .env = e,
                      .out = &R.out};
  iso_buf args;
  iso_buf_init(&args);
  static const uint8_t a[] = {0x91, 0xa1, 'x'};
  iso_buf_append(&args, a, sizeof a);
  CHECK_EQ(iso_op_invoke(&call, args.data, args.len), -1);
  CHECK_EQ(call.err, ISO_OPERR_NOT_FOUND);
  CHECK_STR(call.msg, "no data root: start the service with --data DIR");
  iso_buf_free(&args);
  iso_ops_env_free(e);
  iso_ops_env_free(NULL);
}

/* ---- fs ---- */

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

/* ---- kv ---- */

static void t_kv_basic(void) {
  run("op_kv_get", NULL, "s", "kb:a");
  CHECK_OK("");
  run("op_kv_set", NULL, "sj", "kb:a", "{\"x\":[1,2]}");
  CHECK_OK("");
  run("op_kv_get", NULL, "s", "kb:a");
  CHECK_OK("{\"x\":[1,2]}");
  run("op_kv_set", NULL, "sn", "kb:a");
  run("op_kv_get", NULL, "s", "kb:a");
  CHECK_OK("null");
  run("op_kv_set", NULL, "sy", "kb:b", "bytes");
  run("op_kv_get", NULL, "s", "kb:b");
  CHECK_OK("\"Ynl0ZXM=\"");
  run("op_kv_delete", NULL, "s", "kb:a");
  CHECK_OK("true");
  run("op_kv_delete", NULL, "s", "kb:a");
  CHECK_OK("false");
  run("op_kv_get", NULL, "s", "kb:a");
  CHECK_OK("");
  run("op_kv_delete", NULL, "s", "kb:b");
  run("op_kv_set", NULL, "s", "kb:a");
  CHECK_ERR("TypeError", "op_kv_set: argument 2 (value) is missing");
  run("op_kv_get", NULL, "s", "");
  CHECK_ERR("TypeError", "op_kv_get: argument 1 (key) must not be empty");
  run("op_kv_get", NULL, "i", 1);
  CHECK_ERR("TypeError", "op_kv_get: argument 1 (key) must be a string");
  char key[1026];
  memset(key, 'k', 1025);
  key[1025] = '\0';
  run("op_kv_set", NULL, "si", key, 1);
  CHECK_ERR("TypeError",
            "op_kv_set: argument 1 (key) is too long (at most 1024 bytes)");
  key[1024] = '\0';
  run("op_kv_set", NULL, "si", key, 1);
  CHECK_OK("");
  run("op_kv_delete", NULL, "s", key);
  CHECK_OK("true");
}

static void t_kv_list(void) {
  const char* keys[] = {"kl:b", "kl:a", "kl:ab", "kl:a/c", "kl:", "km"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    run("op_kv_set", NULL, "si", keys[i], (int)i);
  }
  run("op_kv_list", NULL, "s", "kl:a");
  CHECK_OK(
      "[{\"key\":\"kl:a\",\"value\":1},{\"key\":\"kl:a/c\",\"value\":3},"
      "{\"key\":\"kl:ab\",\"value\":2}]");
  run("op_kv_list", NULL, "si", "kl:", 2);
  CHECK_OK("[{\"key\":\"kl:\",\"value\":4},{\"key\":\"kl:a\",\"value\":1}]");
  run("op_kv_list", NULL, "si", "kl:", 0);
  CHECK_OK("[]");
  run("op_kv_list", NULL, "s", "kz");
  CHECK_OK("[]");
  run("op_kv_list", NULL, "ni", 2); /* no prefix: from the first key */
  CHECK_EQ(R.rc, 0);
  run("op_kv_list", NULL, "");
  CHECK_EQ(R.rc, 0);
  CHECK_CONTAINS((const char*)R.json.data, "{\"key\":\"km\",\"value\":5}");
  run("op_kv_list", NULL, "si", "kl:", -1);
  CHECK_ERR("TypeError",
            "op_kv_list: argument 2 (limit) must be an integer in [0, 100000]");
  run("op_kv_list", NULL, "si", "kl:", 100001);
  CHECK_ERR("TypeError",
            "op_kv_list: argument 2 (limit) must be an integer in [0, 100000]");
  run("op_kv_list", NULL, "i", 1);
  CHECK_ERR("TypeError", "op_kv_list: argument 1 (prefix) must be a string");
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    run("op_kv_delete", NULL, "s", keys[i]);
    CHECK_OK("true");
  }
}

static void t_kv_increment(void) {
  run("op_kv_increment", NULL, "s", "ki:n");
  CHECK_OK("1");
  run("op_kv_increment", NULL, "si", "ki:n", 5);
  CHECK_OK("6");
  run("op_kv_increment", NULL, "sd", "ki:n", -6.0); /* whole floats: double */
  CHECK_OK("0.0");
  run("op_kv_increment", NULL, "sd", "ki:n", 0.5);
  CHECK_OK("0.5");
  run("op_kv_get", NULL, "s", "ki:n");
  CHECK_OK("0.5");
  run("op_kv_set", NULL, "sI", "ki:big", (long long)INT64_MAX);
  run("op_kv_increment", NULL, "s", "ki:big"); /* overflow: double */
  CHECK_OK("9223372036854776000.0");           /* 2^63 */
  run("op_kv_set", NULL, "si", "ki:neg", -3);
  run("op_kv_increment", NULL, "sn", "ki:neg");
  CHECK_OK("-2");
  run("op_kv_set", NULL, "ss", "ki:s", "text");
  run("op_kv_increment", NULL, "s", "ki:s");
  CHECK_ERR("InvalidData",
            "op_kv_increment: the value of \"ki:s\" is not a number");
  run("op_kv_get", NULL, "s", "ki:s");
  CHECK_OK("\"text\"");
  run("op_kv_increment", NULL, "ss", "ki:n", "1");
  CHECK_ERR("TypeError", "op_kv_increment: argument 2 (by) must be a number");
  const char* keys[] = {"ki:n", "ki:big", "ki:neg", "ki:s"};
  for (size_t i = 0; i < 4; i++) {
    run("op_kv_delete", NULL, "s", keys[i]);
  }
}

static void t_kv_limit(void) {
  iso_ops_env* e = NULL;
  char err[256];
  /* each key costs 64 bytes besides its key and value */
  iso_ops_env_opts o = {.kv_max_bytes = 84};
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), 0);
  const iso_op_def* set = def_of("op_kv_set");
  /* "a" + "0123456789" as msgpack (11 bytes) + 64: 76 of 84 */
  run_def(set, e, "ss", "a", "0123456789");
  CHECK_OK("");
  run_def(set, e, "ss", "b", "0");
  CHECK_ERR("Error",
            "kv store is full (84 bytes): delete keys or raise "
            "--kv-max-mb");
  run_def(set, e, "ss", "a", "0123456789abcdefg"); /* replacing: 83 */
  CHECK_OK("");
  run_def(def_of("op_kv_increment"), e, "s", "n");
  CHECK_ERR("Error",
            "kv store is full (84 bytes): delete keys or raise "
            "--kv-max-mb");
  run_def(def_of("op_kv_delete"), e, "s", "a");
  CHECK_OK("true");
  run_def(def_of("op_kv_increment"), e, "s", "n");
  CHECK_OK("1");
  iso_ops_env_free(e);
  /* tiny keys: the limit counts what they cost, not only their bytes */
  o.kv_max_bytes = 64 << 10;
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), 0);
  int stored = 0;
  for (int i = 0; i < 100000; i++) {
    char key[16];
    snprintf(key, sizeof key, "%d", 99999 - i); /* each shifts the array */
    run_def(set, e, "si", key, 1);
    if (R.rc != 0) {
      break;
    }
    stored++;
  }
  CHECK(stored > 800 && stored < 1000);
  CHECK_EQ(R.err, ISO_OPERR_OTHER);
  iso_ops_env_free(e);
  o.kv_max_bytes = 0; /* the default, 64 MiB */
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), 0);
  size_t big = ((size_t)64 << 20) + 1;
  uint8_t* blob = calloc(1, big);
  run_def(set, e, "sY", "k", blob, big);
  CHECK_ERR("Error",
            "kv store is full (64 MiB): delete keys or raise "
            "--kv-max-mb");
  free(blob);
  iso_ops_env_free(e);
}

enum { KV_THREADS = 8, KV_INCS = 2000 };

static void* kv_worker(void* arg) {
  static const uint8_t args[] = {0x91, 0xa4, 'k', 't', ':', 'n'};
  iso_buf out;
  iso_buf_init(&out);
  int* fails = arg;
  for (int i = 0; i < KV_INCS; i++) {
    iso_op_call c = {
        .def = def_of("op_kv_increment"), .env = g_env, .out = &out};
    iso_buf_reset(&out);
    *fails += iso_op_invoke(&c, args, sizeof args) != 0;
  }
  iso_buf_free(&out);
  return NULL;
}

static void t_kv_threads(void) {
  pthread_t th[KV_THREADS];
  int fails[KV_THREADS] = {0};
  env();
  for (int i = 0; i < KV_THREADS; i++) {
    CHECK_EQ(pthread_create(&th[i], NULL, kv_worker, &fails[i]), 0);
  }
  for (int i = 0; i < KV_THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ(fails[i], 0);
  }
  run("op_kv_get", NULL, "s", "kt:n");
  char want[16];
  snprintf(want, sizeof want, "%d", KV_THREADS * KV_INCS);
  CHECK_OK(want);
  run("op_kv_delete", NULL, "s", "kt:n");
}

/* ---- crypto ---- */

static void check_digest(const char* alg, const char* data, const char* hex) {
  char got[129] = "";
  size_t n = 0;
  run("op_crypto_digest", NULL, "sy", alg, data);
  const uint8_t* p = result_bin(&n);
  CHECK(p != NULL && n * 2 == strlen(hex));
  if (p != NULL && n <= 64) {
    to_hex(p, n, got);
  }
  CHECK_STR(got, hex);
}

static void t_crypto_digest(void) {
  const char* sha256 =
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  check_digest("SHA-256", "abc", sha256);
  check_digest("sha256", "abc", sha256);
  check_digest("Sha-256", "abc", sha256);
  check_digest("SHA-1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
  check_digest("SHA1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  check_digest("SHA-384", "abc",
               "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5b"
               "ed8086072ba1e7cc2358baeca134c825a7");
  check_digest("SHA-512", "abc",
               "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d3"
               "9a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54c"
               "a49f");
  run("op_crypto_digest", NULL, "sy", "MD5", "abc");
  CHECK_ERR("TypeError",
            "op_crypto_digest: unsupported digest algorithm "
            "\"MD5\" (use SHA-1, SHA-256, SHA-384 or SHA-512)");
  run("op_crypto_digest", NULL, "ss", "SHA-256", "abc");
  CHECK_ERR("TypeError",
            "op_crypto_digest: argument 2 (data) must be a "
            "Uint8Array or ArrayBuffer");
  run("op_crypto_digest", NULL, "y", "abc");
  CHECK_ERR("TypeError",
            "op_crypto_digest: argument 1 (algorithm) must be a string");
}

static void t_crypto_random(void) {
  static const int sizes[] = {0, 1, 16, 65536};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    size_t n = 99;
    run("op_crypto_random", NULL, "i", sizes[i]);
    CHECK(result_bin(&n) != NULL);
    CHECK_EQ(n, sizes[i]);
  }
  run("op_crypto_random", NULL, "d", 32.0);
  CHECK_EQ(R.rc, 0);
  run("op_crypto_random", NULL, "i", 32);
  size_t n;
  const uint8_t* p = result_bin(&n);
  static const uint8_t zero[32];
  CHECK(p != NULL && memcmp(p, zero, 32) != 0);
  run("op_crypto_random", NULL, "i", 65537);
  CHECK_ERR("TypeError",
            "op_crypto_random: at most 65536 bytes at a time (asked for "
            "65537)");
  run("op_crypto_random", NULL, "i", -1);
  CHECK_ERR("TypeError",
            "op_crypto_random: argument 1 (n) must be an "
            "integer in [0, 9223372036854775807]");
  run("op_crypto_random", NULL, "d", 1.5);
  CHECK_EQ(R.err, ISO_OPERR_TYPE);
  run("op_crypto_random", NULL, "");
  CHECK_ERR("TypeError",
            "op_crypto_random: argument 1 (n) must be a number of bytes");
}

static void t_crypto_uuid(void) {
  char first[40] = "";
  for (int k = 0; k < 2; k++) {
    run("op_crypto_random_uuid", NULL, "");
    const char* j = (const char*)R.json.data;
    CHECK_EQ(strlen(j), 38); /* quoted */
    char u[40];
    snprintf(u, sizeof u, "%.36s", j + 1);
    for (int i = 0; i < 36; i++) {
      int dash = i == 8 || i == 13 || i == 18 || i == 23;
      CHECK(dash ? u[i] == '-' : strchr("0123456789abcdef", u[i]) != NULL);
    }
    CHECK(u[14] == '4');
    CHECK(strchr("89ab", u[19]) != NULL);
    CHECK(strcmp(u, first) != 0);
    snprintf(first, sizeof first, "%s", u);
  }
}

/* ---- batches ---- */

static uint32_t op_index(const char* name) {
  return (uint32_t)(def_of(name) - iso_ops_builtin()->defs);
}

static void add(iso_op_batch* b,
                uint32_t op,
                uint32_t promise,
                const iso_perms* p,
                const char* json) {
  iso_buf args;
  iso_buf_init(&args);
  CHECK_EQ(iso_json_to_msgpack(json, strlen(json), &args), 0);
  iso_op_caller who = {.realm = 7, .tag = 3, .perms = p};
  CHECK_EQ(iso_op_batch_add(b, op, promise, &who, args.data, args.len), 0);
  iso_buf_free(&args);
}

static void check_rec(const iso_op_batch* b,
                      size_t i,
                      iso_op_err err,
                      const char* want) {
  const iso_op_rec* r = &b->recs[i];
  iso_buf text;
  iso_buf_init(&text);
  CHECK_EQ(r->err, err);
  if (err == ISO_OPERR_NONE && r->res_len > 0) {
    CHECK_EQ(iso_json_from_msgpack(b->res.data + r->res_off, r->res_len, &text),
             0);
  } else {
    iso_buf_append(&text, b->res.data + r->res_off, r->res_len);
  }
  iso_buf_terminate(&text);
  CHECK_STR(text.data ? (const char*)text.data : "", want);
  iso_buf_free(&text);
}

static void t_batch(void) {
  iso_perms* p = perms("notes", NULL, NULL); /* held by the records */
  iso_op_batch* b = iso_op_batch_new(iso_ops_builtin(), env());
  CHECK(b != NULL);
  for (int round = 0; round < 2; round++) {
    add(b, op_index("op_echo_async"), 1, p, "[\"hi\"]");
    add(b, op_index("op_noop_async"), 2, p, "[]");
    add(b, 9999, 3, p, "[]");
    add(b, op_index("op_fs_read_file"), 4, p, "[\"notes/missing\"]");
    add(b, op_index("op_kv_increment"), 5, p, "[\"kbatch\", 2]");
    add(b, op_index("op_fs_read_file"), 6, p, "[\"data/x.txt\"]");
    add(b, op_index("op_echo_async"), 7, NULL, "[[1,{\"a\":null}]]");
    CHECK_EQ(b->n, 7);
    CHECK_EQ(b->recs[0].promise, 1);
    CHECK_EQ(b->recs[0].realm, 7);
    iso_op_batch_run(b);
    check_rec(b, 0, ISO_OPERR_NONE, "\"hi\"");
    check_rec(b, 1, ISO_OPERR_NONE, "");
    check_rec(b, 2, ISO_OPERR_TYPE, "op index 9999 out of range (20 ops)");
    check_rec(b, 3, ISO_OPERR_NOT_FOUND,
              "readFile \"notes/missing\": no such file or directory");
    check_rec(b, 4, ISO_OPERR_NONE, round == 0 ? "2" : "6");
    check_rec(b, 5, ISO_OPERR_PERMISSION_DENIED,
              "readFile \"data/x.txt\": requires --allow-read=data/x.txt");
    check_rec(b, 6, ISO_OPERR_NONE, "[1,{\"a\":null}]");
    iso_op_batch_run(b); /* running again gives the same layout */
    check_rec(b, 0, ISO_OPERR_NONE, "\"hi\"");
    iso_op_batch_reset(b);
    CHECK_EQ(b->n, 0);
  }
  add(b, op_index("op_noop_async"), 1, p, "[]");
  iso_perms_unref(p); /* the batch still holds it */
  iso_op_batch_run(b);
  check_rec(b, 0, ISO_OPERR_NONE, "");
  iso_op_batch_free(b);
  iso_op_batch_free(NULL);
  run("op_kv_delete", NULL, "s", "kbatch");
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
  CHECK_EQ(R.rc, -1);
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

/* kv keys at and past the limits, and keys that are not text. */
static void t_kv_hostile(void) {
  static const uint8_t key_nul[] = {0xa3, 'k', 0, 'k'};
  static const uint8_t key_bad[] = {0xa2, 0xc0, 0x80}; /* overlong NUL */
  run("op_kv_set", NULL, "ri", key_nul, sizeof key_nul, 1);
  CHECK_ERR("TypeError",
            "op_kv_set: argument 1 (key) must be valid UTF-8 without NUL "
            "bytes");
  run("op_kv_get", NULL, "r", key_bad, sizeof key_bad);
  CHECK_ERR("TypeError",
            "op_kv_get: argument 1 (key) must be valid UTF-8 without NUL "
            "bytes");
  char* key = malloc((1 << 20) + 1);
  memset(key, 'k', 1 << 20);
  key[1 << 20] = '\0';
  run("op_kv_get", NULL, "s", key);
  CHECK_ERR("TypeError",
            "op_kv_get: argument 1 (key) is too long (at most 1024 bytes)");
  run("op_kv_list", NULL, "s", key);
  CHECK_ERR("TypeError",
            "op_kv_list: argument 1 (prefix) is too long (at most 1024 "
            "bytes)");
  free(key);
  run("op_kv_increment", NULL, "sd", "kh:n", 1e308);
  run("op_kv_increment", NULL, "sd", "kh:n", 1e308);
  iso_mp_rd r; /* an overflow to Infinity (JSON shows it as null) */
  iso_mp_obj o;
  iso_mp_rd_init(&r, R.out.data, R.out.len);
  CHECK(R.rc == 0 && iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_F64 &&
        o.v.f > 1.7e308);
  run("op_kv_delete", NULL, "s", "kh:n");
  run("op_kv_list", NULL, "si", "", 100000); /* the most at once */
  CHECK_EQ(R.rc, 0);
}

/* A 16 MiB digest is one pass of OpenSSL over the bytes: no copy, quick. */
static void t_crypto_digest_large(void) {
  size_t n = (size_t)16 << 20;
  uint8_t* zeros = calloc(1, n);
  time_t t0 = time(NULL);
  run("op_crypto_digest", NULL, "sY", "SHA-256", zeros, n);
  CHECK(time(NULL) - t0 < 5);
  size_t len = 0;
  const uint8_t* p = result_bin(&len);
  char hex[65] = "";
  if (p != NULL && len == 32) {
    to_hex(p, len, hex);
  }
  CHECK_STR(hex,
            "080acf35a507ac9849cfcba47dc2ad83e01b75663a516279c8b9d243b719643e");
  free(zeros);
}

/* env: names at the limit, values that are not text. */
static void t_env_hostile(void) {
  char name[1100];
  memset(name, 'N', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  run("op_env_get", g_all, "s", name);
  CHECK_ERR("TypeError",
            "op_env_get: argument 1 (name) is too long (at most 1023 bytes)");
  setenv("ISO_OPS_BAD", "\xff\xfeok", 1);
  run("op_env_get", g_all, "s", "ISO_OPS_BAD");
  CHECK_ERR("InvalidData", "env \"ISO_OPS_BAD\": the value is not valid UTF-8");
  unsetenv("ISO_OPS_BAD");
}

/* A job's permission lists are bounded: narrowing stays quick whatever a
 * request holds (it runs on the service's NNG threads). */
static void t_perms_narrow_bounded(void) {
  iso_perms* granted = perms("a", NULL, "HOME");
  iso_buf req;
  iso_buf_init(&req);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &req);
  iso_mp_put_map(&w, 1);
  iso_mp_put_cstr(&w, "read");
  iso_mp_put_array(&w, 100000);
  for (int i = 0; i < 100000; i++) {
    iso_mp_put_cstr(&w, "a");
  }
  iso_perms* out = NULL;
  char err[256] = "";
  time_t t0 = time(NULL);
  CHECK_EQ(iso_perms_narrow(granted, req.data, req.len, &out, err, sizeof err),
           ISO_EINVAL);
  CHECK_STR(err, "permissions: read: at most 1024 entries (got 100000)");
  CHECK(time(NULL) - t0 < 2);
  CHECK(out == NULL);
  /* 1024 of them are fine, and canonical */
  iso_buf_reset(&req);
  iso_mp_wr_init(&w, &req);
  iso_mp_put_map(&w, 1);
  iso_mp_put_cstr(&w, "read");
  iso_mp_put_array(&w, 1024);
  for (int i = 0; i < 1024; i++) {
    char item[16];
    snprintf(item, sizeof item, "a/%d", i % 7);
    iso_mp_put_cstr(&w, item);
  }
  CHECK_EQ(iso_perms_narrow(granted, req.data, req.len, &out, err, sizeof err),
           0);
  check_describe(out, "read=a/0,a/1,a/2,a/3,a/4,a/5,a/6 write=none env=none");
  iso_perms_unref(out);
  iso_buf_free(&req);
  iso_perms_unref(granted);
}

/* A batch's results stop at ISO_OP_BATCH_RES_MAX (the ops after fail
 * without running), and a reset batch keeps only a small allocation: a
 * tick of large ops leaves nothing large behind in the batch the runtime
 * keeps for reuse. */
static void t_batch_bounded(void) {
  char p[256];
  sub("big64", p, sizeof p);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0 && ftruncate(fd, (off_t)64 << 20) == 0); /* sparse */
  close(fd);
  iso_op_batch* b = iso_op_batch_new(iso_ops_builtin(), env());
  for (int i = 0; i < 10; i++) {
    add(b, op_index("op_fs_read_file"), (uint32_t)i, g_all, "[\"big64\"]");
  }
  iso_op_batch_run(b);
  for (int i = 0; i < 10; i++) {
    CHECK_EQ(b->recs[i].err, i < 8 ? ISO_OPERR_NONE : ISO_OPERR_OTHER);
  }
  check_rec(b, 9, ISO_OPERR_OTHER,
            "op_fs_read_file: the results of the ops in flight passed 512 "
            "MiB: await some before starting more");
  CHECK(b->res.len < ((size_t)512 << 20) + ((size_t)64 << 20));
  iso_op_batch_reset(b);
  CHECK_EQ(b->res.cap, 0);
  CHECK(b->args.cap <= ISO_OP_BATCH_KEEP_BYTES);
  /* large arguments, many records: not kept either */
  size_t n = (size_t)15 << 20;
  uint8_t* blob = calloc(1, n);
  iso_buf args;
  iso_buf_init(&args);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &args);
  iso_mp_put_array(&w, 2);
  iso_mp_put_cstr(&w, "x");
  iso_mp_put_bin(&w, blob, n);
  iso_op_caller who = {.realm = 1, .perms = iso_perms_none()};
  for (int i = 0; i < 5; i++) {
    CHECK_EQ(iso_op_batch_add(b, op_index("op_fs_write_file"), 1, &who,
                              args.data, args.len),
             0);
  }
  for (int i = 0; i < ISO_OP_BATCH_KEEP_RECS + 1; i++) {
    add(b, op_index("op_noop_async"), 1, NULL, "[]");
  }
  iso_op_batch_run(b);
  check_rec(b, 0, ISO_OPERR_PERMISSION_DENIED,
            "op_fs_write_file: requires --allow-write (not granted to this "
            "job)");
  CHECK(b->args.cap > ISO_OP_BATCH_KEEP_BYTES &&
        b->cap > ISO_OP_BATCH_KEEP_RECS);
  iso_op_batch_reset(b);
  CHECK_EQ(b->args.cap, 0);
  CHECK_EQ(b->cap, 0);
  CHECK(b->recs == NULL);
  /* a small tick keeps its memory for the next one */
  add(b, op_index("op_echo_async"), 1, NULL, "[\"hi\"]");
  iso_op_batch_run(b);
  check_rec(b, 0, ISO_OPERR_NONE, "\"hi\"");
  iso_op_batch_reset(b);
  CHECK(b->args.cap > 0 && b->res.cap > 0 && b->cap > 0);
  iso_op_batch_free(b);
  iso_buf_free(&args);
  free(blob);
  unlink(p);
}

/* Batches that share a budget (one runtime's) share the limit: op threads
 * working through a runtime's queued batches while it does not take their
 * results stop at 512 MiB in all, and go on once it takes them. A batch
 * that outlives the runtime's reference keeps the budget valid. */
static void t_batch_budget(void) {
  char p[256];
  sub("big200", p, sizeof p);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0 && ftruncate(fd, (off_t)200 << 20) == 0); /* sparse */
  close(fd);
  iso_op_budget* g = iso_op_budget_new();
  iso_op_batch* a = iso_op_batch_new(iso_ops_builtin(), env());
  iso_op_batch* b = iso_op_batch_new(iso_ops_builtin(), env());
  iso_op_batch_set_budget(a, g);
  iso_op_batch_set_budget(b, g);
  for (int i = 0; i < 3; i++) {
    add(a, op_index("op_fs_read_file"), 1, g_all, "[\"big200\"]");
    add(b, op_index("op_fs_read_file"), 2, g_all, "[\"big200\"]");
  }
  iso_op_batch_run(a); /* 600 MiB: the third read started below 512 */
  CHECK_EQ(a->recs[2].err, ISO_OPERR_NONE);
  CHECK(iso_op_budget_used(g) >= (size_t)600 << 20);
  iso_op_batch_run(b);
  for (int i = 0; i < 3; i++) {
    check_rec(b, (size_t)i, ISO_OPERR_OTHER,
              "op_fs_read_file: the results of the ops in flight passed 512 "
              "MiB: await some before starting more");
  }
  iso_op_batch_reset(a); /* the runtime took a's results */
  CHECK(iso_op_budget_used(g) < 4096);
  iso_op_batch_run(b); /* run again: its charge starts afresh */
  CHECK_EQ(b->recs[2].err, ISO_OPERR_NONE);
  iso_op_batch_free(a);
  iso_op_budget_unref(g); /* b still holds it */
  iso_op_batch_reset(b);
  CHECK_EQ(b->charged, 0);
  iso_op_batch_free(b);
  unlink(p);
}

/* A caller's own budget (a realm's): its ops stop at 256 MiB of results
 * in flight while another caller's in the same batch go on, up to the
 * runtime's 512 MiB; a record holds a reference, so the budget outlives
 * its realm's. */
static void t_batch_caller_budget(void) {
  char p[256];
  sub("big200", p, sizeof p);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0 && ftruncate(fd, (off_t)200 << 20) == 0); /* sparse */
  close(fd);
  iso_op_budget* rt = iso_op_budget_new();
  iso_op_budget* ga = iso_op_budget_new();
  iso_op_budget* gb = iso_op_budget_new();
  iso_op_batch* b = iso_op_batch_new(iso_ops_builtin(), env());
  iso_op_batch_set_budget(b, rt);
  iso_buf args;
  iso_buf_init(&args);
  const char* json = "[\"big200\"]";
  CHECK_EQ(iso_json_to_msgpack(json, strlen(json), &args), 0);
  iso_op_caller a = {.realm = 1, .perms = g_all, .budget = ga};
  iso_op_caller c = {.realm = 2, .perms = g_all, .budget = gb};
  const iso_op_caller* who[] = {&a, &a, &a, &c, &c};
  for (int i = 0; i < 5; i++) {
    CHECK_EQ(iso_op_batch_add(b, op_index("op_fs_read_file"), (uint32_t)i,
                              who[i], args.data, args.len),
             0);
  }
  iso_op_budget_unref(ga); /* the realm went: its records keep it */
  iso_op_batch_run(b);
  CHECK_EQ(b->recs[0].err, ISO_OPERR_NONE);
  CHECK_EQ(b->recs[1].err, ISO_OPERR_NONE); /* 200 < 256 when it started */
  check_rec(b, 2, ISO_OPERR_OTHER,
            "op_fs_read_file: the results of this realm's ops in flight "
            "passed 256 MiB: await some before starting more");
  CHECK_EQ(b->recs[3].err, ISO_OPERR_NONE); /* the other caller: 400 < 512 */
  check_rec(b, 4, ISO_OPERR_OTHER,
            "op_fs_read_file: the results of the ops in flight passed 512 "
            "MiB: await some before starting more");
  CHECK(iso_op_budget_used(gb) >= (size_t)200 << 20);
  iso_op_batch_reset(b); /* the runtime took the results */
  CHECK_EQ(iso_op_budget_used(gb), 0);
  CHECK_EQ(iso_op_budget_used(rt), 0);
  iso_op_batch_free(b);
  iso_op_budget_unref(gb);
  iso_op_budget_unref(rt);
  iso_buf_free(&args);
  unlink(p);
}

/* ---- arguments as an attacker writes them ---- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13; /* xorshift64: the same sequence every run */
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return n ? (uint32_t)(g_rng % n) : 0;
}

/* One random msgpack value, nested up to `depth`. Strings come from a
 * list of paths, keys and names that reach the ops' checks, or are random
 * bytes (often not UTF-8). */
static void rnd_value(iso_mp_wr* w, int depth) {
  static const char* const words[] = {
      "a",  "a/b",       "../x",    "/etc/passwd", "fifo", "l", ".",   "",
      "..", "a//b/../c", "SHA-256", "sha1",        "HOME", "k", "x=y", "out/x"};
  static const double doubles[] = {0.0,        -0.0,     1.5,    1e300,
                                   -1e300,     65536.0,  9.3e18, 1.0 / 0.0,
                                   -1.0 / 0.0, 0.0 / 0.0};
  static const int64_t ints[] = {0,         1,         -1,        65536,
                                 65537,     100000,    100001,    INT64_MAX,
                                 INT64_MIN, INT32_MAX, UINT32_MAX};
  uint8_t bytes[300];
  uint32_t n;
  switch (rnd(depth > 0 ? 9 : 7)) {
    case 0:
      iso_mp_put_nil(w);
      break;
    case 1:
      iso_mp_put_bool(w, (int)rnd(2));
      break;
    case 2:
      iso_mp_put_int(w, ints[rnd(sizeof ints / sizeof *ints)]);
      break;
    case 3:
      iso_mp_put_double(w, doubles[rnd(sizeof doubles / sizeof *doubles)]);
      break;
    case 4:
      iso_mp_put_cstr(w, words[rnd(sizeof words / sizeof *words)]);
      break;
    case 5:
    case 6:
      n = rnd(sizeof bytes);
      for (uint32_t i = 0; i < n; i++) {
        bytes[i] = (uint8_t)(rnd(4) ? 'a' + rnd(26) : rnd(256));
      }
      if (rnd(2)) {
        iso_mp_put_str(w, (const char*)bytes, n);
      } else {
        iso_mp_put_bin(w, bytes, n);
      }
      break;
    case 7:
      n = rnd(4);
      iso_mp_put_array(w, n);
      for (uint32_t i = 0; i < n; i++) {
        rnd_value(w, depth - 1);
      }
      break;
    default:
      n = rnd(3);
      iso_mp_put_map(w, n);
      for (uint32_t i = 0; i < 2 * n; i++) {
        rnd_value(w, depth - 1);
      }
  }
}

/* Every built-in op, 30000 calls with random arguments (random counts and
 * types, strings that are paths, escapes, not UTF-8; sometimes cut short
 * or followed by junk) in a data root of its own, with every permission:
 * each call returns a value or an error with a class and a message, and a
 * failed call leaves no partial result. Run under ASan and UBSan, this is
 * "no argument can crash the process" as a test. */
static void t_ops_random_args(void) {
  char root[64] = "/tmp/iso_ops_rnd_XXXXXX", p[128];
  CHECK(mkdtemp(root) != NULL);
  snprintf(p, sizeof p, "%s/a", root);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/a/b", root);
  write_path(p, "b");
  snprintf(p, sizeof p, "%s/fifo", root);
  mkfifo(p, 0644);
  snprintf(p, sizeof p, "%s/l", root);
  CHECK_EQ(symlink("a/b", p), 0);
  snprintf(p, sizeof p, "%s/out", root);
  CHECK_EQ(symlink(g_out, p), 0);
  iso_ops_env* e = NULL;
  char err[256];
  iso_ops_env_opts o = {.data_root = root, .kv_max_bytes = 1 << 20};
  CHECK_EQ(iso_ops_env_new(&o, &e, err, sizeof err), 0);
  const iso_op_table* t = iso_ops_builtin();
  iso_buf args, out;
  iso_buf_init(&args);
  iso_buf_init(&out);
  int bad = 0, ok = 0;
  for (int i = 0; i < 30000 && e != NULL; i++) {
    const iso_op_def* def = &t->defs[rnd((uint32_t)t->n)];
    iso_buf_reset(&args);
    iso_mp_wr w;
    iso_mp_wr_init(&w, &args);
    uint32_t argc = rnd(10);
    iso_mp_put_array(&w, argc);
    for (uint32_t k = 0; k < argc; k++) {
      rnd_value(&w, 3);
    }
    size_t len = args.len;
    if (rnd(10) == 0 && len > 0) {
      len = rnd((uint32_t)len); /* cut short */
    } else if (rnd(10) == 0) {
      iso_buf_append(&args, "\xc1\xff", 2); /* junk after the array */
      len = args.len;
    }
    iso_buf_reset(&out);
    iso_buf_append(&out, "x", 1); /* a failed call must leave this alone */
    iso_op_call call = {.def = def, .perms = g_all, .env = e, .out = &out};
    int rc = iso_op_invoke(&call, args.data, len);
    ok += rc == 0;
    if (rc == 0 ? call.err != ISO_OPERR_NONE
                : (call.err == ISO_OPERR_NONE || call.msg[0] == '\0' ||
                   out.len != 1)) {
      if (bad++ < 5) {
        fprintf(stderr, "  %s: rc %d err %d msg \"%s\" out %zu\n", def->name,
                rc, call.err, call.msg, out.len);
      }
    }
  }
  CHECK_EQ(bad, 0);
  fprintf(stderr, "  # %d of 30000 calls succeeded\n", ok);
  CHECK(ok > 1000); /* the arguments reach the ops, not only the checks */
  char secret[256] = "";
  snprintf(p, sizeof p, "%s/secret.txt", g_out);
  FILE* f = fopen(p, "r");
  CHECK(f != NULL && fgets(secret, sizeof secret, f) != NULL);
  if (f != NULL) {
    fclose(f);
  }
  CHECK_STR(secret, "secret"); /* nothing outside was written */
  iso_buf_free(&args);
  iso_buf_free(&out);
  iso_ops_env_free(e);
  nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static const iso_test cases[] = {
    {"err_class", t_err_class},
    {"builtin_table", t_builtin_table},
    {"invoke", t_invoke},
    {"arg_readers", t_arg_readers},
    {"core_ops", t_core_ops},
    {"env_op", t_env_op},
    {"perms_parse", t_perms_parse},
    {"perms_narrow", t_perms_narrow},
    {"perms_equal_hash", t_perms_equal_hash},
    {"perms_allows", t_perms_allows},
    {"env_new", t_env_new},
    {"fs_read_write", t_fs_read_write},
    {"fs_special_files", t_fs_special_files},
    {"fs_read_dir", t_fs_read_dir},
    {"fs_stat", t_fs_stat},
    {"fs_mkdir", t_fs_mkdir},
    {"fs_remove", t_fs_remove},
    {"fs_rename", t_fs_rename},
    {"fs_escapes", t_fs_escapes},
    {"fs_perms", t_fs_perms},
    {"kv_basic", t_kv_basic},
    {"kv_list", t_kv_list},
    {"kv_increment", t_kv_increment},
    {"kv_limit", t_kv_limit},
    {"kv_threads", t_kv_threads},
    {"crypto_digest", t_crypto_digest},
    {"crypto_random", t_crypto_random},
    {"crypto_uuid", t_crypto_uuid},
    {"batch", t_batch},
    {"batch_bounded", t_batch_bounded},
    {"batch_budget", t_batch_budget},
    {"batch_caller_budget", t_batch_caller_budget},
    {"ops_random_args", t_ops_random_args},
    {"fs_hard_links", t_fs_hard_links},
    {"fs_read_dir_limits", t_fs_read_dir_limits},
    {"fs_hostile_paths", t_fs_hostile_paths},
    {"kv_hostile", t_kv_hostile},
    {"crypto_digest_large", t_crypto_digest_large},
    {"env_hostile", t_env_hostile},
    {"perms_narrow_bounded", t_perms_narrow_bounded},
    {NULL, NULL}};

int main(int argc, char** argv) {
  env(); /* the fixture, whichever cases run */
  int rc = iso_test_main(argc, argv, cases);
  teardown();
  iso_buf_free(&R.out);
  iso_buf_free(&R.json);
  return rc;
}
