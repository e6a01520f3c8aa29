/* test_env.c: the ops env (ops/env.c): iso_ops_env_new on a missing
 * data root, on a file, and without one (kv works, fs ops fail NotFound).
 */

#include <stdint.h>
#include <stdio.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_ops.h"
#include "ops_harness.h"
#include "tap.h"

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
  CHECK_EQ(iso_op_invoke(&call, args.data, args.len), ISO_EOP);
  CHECK_EQ(call.err, ISO_OPERR_NOT_FOUND);
  CHECK_STR(call.msg, "no data root: start the service with --data DIR");
  iso_buf_close(&args);
  iso_ops_env_free(e);
  iso_ops_env_free(NULL);
}

static const iso_test cases[] = {{"env_new", t_env_new}, {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
