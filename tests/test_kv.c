/* test_kv.c: the kv ops (ops/kv.c): get, set, delete, list, increment,
 * the store's limits, increments from many threads, and keys and values
 * at and past the limits.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "ops_harness.h"
#include "tap.h"

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
  iso_buf_close(&out);
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

/* ---- hostile input ---- */

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

static const iso_test cases[] = {{"kv_basic", t_kv_basic},
                                 {"kv_list", t_kv_list},
                                 {"kv_increment", t_kv_increment},
                                 {"kv_limit", t_kv_limit},
                                 {"kv_threads", t_kv_threads},
                                 {"kv_hostile", t_kv_hostile},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
