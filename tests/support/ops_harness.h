/* ops_harness.h: the fixture and the op calls of the ops suites
 * (test_registry, test_perms, test_env, test_fs, test_kv, test_crypto),
 * library iso_test_ops.
 *
 * Ops are called the way the runtime calls them, through iso_op_invoke
 * with msgpack arguments, and results are read as JSON (ipc/iso_json.h) so
 * each case shows the value it expects. The fixture, made once by the
 * suite's setup (ops_fixture_setup, in the runner's process: tap.h), is a
 * temporary data root g_root under /tmp with a file tree, a FIFO and
 * symlinks that stay inside it or point outside it (to g_out, an outside
 * directory with secret.txt), an ops env g_env on it, and g_all, the
 * permissions that grant everything. Every case runs in a fork, so what a
 * case does in memory (kv, R) is its own; what it does to the data root
 * stays for the later cases of the same suite.
 *
 *   int main(int argc, char** argv) {
 *     iso_test_suite s = {.cases = cases,
 *                         .setup = ops_fixture_setup,
 *                         .teardown = ops_fixture_teardown};
 *     return iso_test_run(argc, argv, &s);
 *   }
 *   static void t_x(void) {
 *     run("op_fs_read_file", g_all, "s", "notes/a.txt");
 *     CHECK_OK("\"aGVsbG8=\"");
 *   }
 *
 * Thread: the case's main thread (except where a case says otherwise).
 */
#ifndef ISO_OPS_HARNESS_H
#define ISO_OPS_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "iso_buf.h"
#include "iso_ops.h"
#include "tap.h"

/* The last call's outcome; json is "" for undefined or an error. */
typedef struct res {
  int rc;
  iso_op_err err;
  char msg[512];
  iso_buf out;
  iso_buf json;
} res;

extern res R;              /* the last call's outcome */
extern char g_root[64];    /* the data root */
extern char g_out[64];     /* a directory outside it */
extern iso_ops_env* g_env; /* the env on g_root */
extern iso_perms* g_all;   /* everything granted */

/* ops_fixture_setup: makes the fixture (0, or -1 and the case is failed);
 * ops_fixture_teardown removes both directories and frees the env, g_all
 * and R. For iso_test_suite.setup/teardown. */
int ops_fixture_setup(void);
void ops_fixture_teardown(void);

/* env: the fixture's env (made on first use; the suite's setup uses it). */
iso_ops_env* env(void);

/* perms: iso_perms_parse(r, w, e); the case fails if it refuses them. The
 * caller unrefs the result. */
iso_perms* perms(const char* r, const char* w, const char* e);

/* Files: write_path writes text to path; put writes g_root/rel; exists:
 * whether dir/rel exists (lstat); sub: g_root/rel into path. */
void write_path(const char* path, const char* text);
void put(const char* rel, const char* text);
int exists(const char* dir, const char* rel);
void sub(const char* rel, char* path, size_t n);

/* rm_tree: removes path and everything beneath it (symlinks not followed). */
void rm_tree(const char* path);

/* Calls. The arguments are a msgpack array built from spec, one letter
 * each: s str, y bin (a C string's bytes), Y bin (pointer, size_t), b bool
 * (int), i int, I long long, d double, n nil, j a JSON value, r raw
 * msgpack (pointer, size_t). Each fills R. */

/* def_of: the built-in op called name (aborts when there is none). */
const iso_op_def* def_of(const char* name);

/* run: the built-in op with perms p on the fixture's env; R.json's text. */
const char* run(const char* op, const iso_perms* p, const char* spec, ...);

/* run_def: def with no permissions, on env e. */
void run_def(const iso_op_def* def, iso_ops_env* e, const char* spec, ...);

/* vinvoke: def with perms p on env e, arguments from spec and ap. */
void vinvoke(const iso_op_def* def,
             const iso_perms* p,
             iso_ops_env* e,
             const char* spec,
             va_list ap);

/* invoke_raw: def with perms p on env e, with the msgpack args as given. */
void invoke_raw(const iso_op_def* def,
                const iso_perms* p,
                iso_ops_env* e,
                const uint8_t* args,
                size_t len);

/* result_bin: the last result as bin bytes (len into *len); NULL when it
 * is not a bin. */
const uint8_t* result_bin(size_t* len);

/* to_hex: n bytes as 2n lowercase hex digits and a NUL into out. */
void to_hex(const uint8_t* p, size_t n, char* out);

#define CHECK_OK(json_text)                         \
  do {                                              \
    CHECK_EQ(R.rc, 0);                              \
    CHECK_STR(R.msg, "");                           \
    CHECK_STR((const char*)R.json.data, json_text); \
  } while (0)

#define CHECK_ERR(cls, text)                 \
  do {                                       \
    CHECK_EQ(R.rc, ISO_EOP);                 \
    CHECK_STR(iso_op_err_class(R.err), cls); \
    CHECK_STR(R.msg, text);                  \
  } while (0)

#endif /* ISO_OPS_HARNESS_H */
