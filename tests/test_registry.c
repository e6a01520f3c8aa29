/* test_registry.c: the op registry (ops/registry.c): error classes, the
 * built-in table, iso_op_invoke and the argument readers, the core ops
 * (op_noop, op_echo_async, op_env_get), op batches and their budgets, and
 * every built-in op called with random arguments.
 *
 * Ops are called the way the runtime calls them and results read as JSON
 * (ops_harness.h), against the ops fixture's data root.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "ops_harness.h"
#include "ops_private.h"
#include "tap.h"

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
  CHECK(iso_op_err_class((iso_op_err)-1) == NULL);
  /* an op's failure is ISO_EOP to C, and has a name and text of its own */
  CHECK_EQ(iso_op_fail(&(iso_op_call){0}, ISO_OPERR_TYPE, "x"), ISO_EOP);
  CHECK_STR(iso_err_name(ISO_EOP), "EOP");
  CHECK_STR(iso_strerror(ISO_EOP), "op failed");
}

/* The one errno -> class table (ops/registry.c), which the fs ops use. */
static void t_errno_class(void) {
  static const struct {
    int e;
    iso_op_err cls;
  } map[] = {{ENOENT, ISO_OPERR_NOT_FOUND},
             {ENOTDIR, ISO_OPERR_NOT_FOUND},
             {EEXIST, ISO_OPERR_ALREADY_EXISTS},
             {EACCES, ISO_OPERR_PERMISSION_DENIED},
             {EPERM, ISO_OPERR_PERMISSION_DENIED},
             {ENXIO, ISO_OPERR_INVALID_DATA},
             {ENOTEMPTY, ISO_OPERR_OTHER},
             {EIO, ISO_OPERR_OTHER},
             {ENOMEM, ISO_OPERR_OTHER},
             {0, ISO_OPERR_OTHER},
             {-1, ISO_OPERR_OTHER},
             {100000, ISO_OPERR_OTHER}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (iso__ops_err_of_errno(map[i].e) != map[i].cls) {
      fprintf(stderr, "    errno %d\n", map[i].e);
    }
    CHECK_EQ(iso__ops_err_of_errno(map[i].e), map[i].cls);
  }
}

/* iso__ops_path_norm: its codes are ISO_E* (and *why says which). */
static void t_path_norm(void) {
  static const struct {
    const char* in;
    int strict;
    int rc;
    const char* out_or_why;
  } cases[] = {
      {"a/./b//c/", 0, 0, "a/b/c"},
      {"a/../b", 0, 0, "b"},
      {".", 0, 0, ""},
      {"/etc", 0, ISO_EPERM, "is an absolute path"},
      {"/etc", 1, ISO_EPERM, "is an absolute path"},
      {"a/../..", 0, ISO_EPERM, "climbs above the data root"},
      {"a/../b", 1, ISO_EPERM, "has a \"..\" component"},
      {"a//b", 1, ISO_EINVAL, "has an empty component"},
      {"a/b/", 1, 0, "a/b"},
      {"abcdefghijklmnop", 0, ISO_ETOOBIG, "is too long"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[16];
    const char* why = NULL;
    int rc =
        iso__ops_path_norm(cases[i].in, cases[i].strict, out, sizeof out, &why);
    if (rc != cases[i].rc) {
      fprintf(stderr, "    path \"%s\" strict %d\n", cases[i].in,
              cases[i].strict);
    }
    CHECK_EQ(rc, cases[i].rc);
    if (rc == 0) {
      CHECK_STR(out, cases[i].out_or_why);
    } else {
      CHECK(why != NULL && strncmp(why, cases[i].out_or_why,
                                   strlen(cases[i].out_or_why)) == 0);
    }
  }
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
      {"op_echo_later", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_fetch_start", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_fetch_send", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_fetch_read", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_fetch_cancel", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_fetch_release", ISO_OP_ASYNC, ISO_PERM_NONE},
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
      {"op_crypto_hmac", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_crypto_hmac_verify", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_crypto_aes_gcm", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_crypto_ec_point", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_crypto_ecdsa_verify", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_crypto_ed25519_verify", ISO_OP_ASYNC, ISO_PERM_NONE},
      {"op_test_block", ISO_OP_SYNC, ISO_PERM_NONE},
      {"op_test_crash", ISO_OP_SYNC, ISO_PERM_NONE},
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
             ? ISO_EOP
             : iso_op_ret_str(c, buf, strlen(buf));
}

static int t_int_fn(iso_op_call* c) {
  int64_t v;
  return iso_op_arg_int(c, 0, "n", -5, 100, 7, &v) != 0 ? ISO_EOP
                                                        : iso_op_ret_int(c, v);
}

static int t_bool_fn(iso_op_call* c) {
  int v;
  return iso_op_arg_bool(c, 0, "flag", 1, &v) != 0 ? ISO_EOP
                                                   : iso_op_ret_bool(c, v);
}

static int t_bytes_fn(iso_op_call* c) {
  const uint8_t* p;
  size_t n;
  return iso_op_arg_bytes(c, 0, "data", &p, &n) != 0
             ? ISO_EOP
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
  iso_buf_close(&args);
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
  iso_buf_close(&text);
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
    char range[64];
    snprintf(range, sizeof range, "op index 9999 out of range (%zu ops)",
             iso_ops_builtin()->n);
    check_rec(b, 2, ISO_OPERR_TYPE, range);
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
  iso_buf_close(&args);
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
  iso_buf_close(&args);
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
  iso_buf_close(&args);
  iso_buf_close(&out);
  iso_ops_env_free(e);
  rm_tree(root);
}

/* ---- answers later than the batch (iso_op_defer) ---- */

static iso_op_ticket* g_ticket;
static struct {
  int calls;
  uint64_t route;
  uint32_t promise, realm, tag;
  iso_op_err err;
  char res[64];
} g_late;

static int op_later(iso_op_call* call) {
  return iso_op_defer(call, &g_ticket);
}

static void late_cb(void* arg,
                    uint64_t route,
                    uint32_t promise,
                    uint32_t realm,
                    uint32_t tag,
                    iso_op_err err,
                    const void* res,
                    size_t len) {
  CHECK(arg == &g_late);
  g_late.calls++;
  g_late.route = route;
  g_late.promise = promise;
  g_late.realm = realm;
  g_late.tag = tag;
  g_late.err = err;
  snprintf(g_late.res, sizeof g_late.res, "%.*s", (int)len, (const char*)res);
}

static void* answer_main(void* arg) {
  iso_op_ticket_answer(arg, ISO_OPERR_NONE, "\xa2ok", 3);
  return NULL;
}

/* An op that defers: its record goes back ISO_OPERR_LATER with no bytes,
 * the batch's other records as usual; its ticket answers once, from
 * another thread, with the record's ids. Without a transport that carries
 * late answers the op fails instead. */
static void t_batch_later(void) {
  static const iso_op_def defs[] = {
      {"op_t_later", ISO_OP_ASYNC, ISO_PERM_NONE, op_later},
  };
  iso_op_table table = {defs, 1};
  iso_op_batch* b = iso_op_batch_new(&table, env());
  b->route = 0x1234;
  b->late_fn = late_cb;
  b->late_arg = &g_late;
  add(b, 0, 11, NULL, "[]");
  add(b, 5, 12, NULL, "[]");
  iso_op_batch_run(b);
  check_rec(b, 0, ISO_OPERR_LATER, "");
  CHECK_EQ(b->recs[0].res_len, 0);
  check_rec(b, 1, ISO_OPERR_TYPE, "op index 5 out of range (1 ops)");
  CHECK(g_ticket != NULL);
  CHECK_EQ(iso_op_ticket_owner(g_ticket), 0x1234);
  CHECK_EQ(iso_op_ticket_job(g_ticket), ((uint64_t)7 << 32) | 3);
  CHECK_EQ(g_late.calls, 0);
  pthread_t t;
  pthread_create(&t, NULL, answer_main, g_ticket);
  pthread_join(t, NULL);
  g_ticket = NULL;
  CHECK_EQ(g_late.calls, 1);
  CHECK_EQ(g_late.route, 0x1234);
  CHECK_EQ(g_late.promise, 11);
  CHECK_EQ(g_late.realm, 7);
  CHECK_EQ(g_late.tag, 3);
  CHECK_EQ(g_late.err, ISO_OPERR_NONE);
  CHECK_STR(g_late.res, "\xa2ok");
  iso_op_batch_free(b);
  /* no late answers on this bus: the op fails, nothing is owed */
  b = iso_op_batch_new(&table, env());
  add(b, 0, 13, NULL, "[]");
  iso_op_batch_run(b);
  check_rec(b, 0, ISO_OPERR_OTHER,
            "op_t_later: this op answers later, which the op bus here does "
            "not carry");
  CHECK(g_ticket == NULL);
  iso_op_batch_free(b);
}

static const iso_test cases[] = {{"err_class", t_err_class},
                                 {"errno_class", t_errno_class},
                                 {"path_norm", t_path_norm},
                                 {"builtin_table", t_builtin_table},
                                 {"invoke", t_invoke},
                                 {"arg_readers", t_arg_readers},
                                 {"core_ops", t_core_ops},
                                 {"env_op", t_env_op},
                                 {"batch", t_batch},
                                 {"batch_bounded", t_batch_bounded},
                                 {"batch_budget", t_batch_budget},
                                 {"batch_caller_budget", t_batch_caller_budget},
                                 {"batch_later", t_batch_later},
                                 {"ops_random_args", t_ops_random_args},
                                 {"env_hostile", t_env_hostile},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
