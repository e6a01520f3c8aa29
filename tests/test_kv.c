/* test_kv.c: the kv ops (ops/kv.c) on both backends, in memory
 * (kv_mem.c) and in an LMDB file (kv_lmdb.c): get, set, delete, list,
 * increment, the store's limits, increments from many threads, keys and
 * values at and past the limits. Each of those cases is a row run once
 * per backend (`kv_basic`, `kv_basic_lmdb`), on a store of its own.
 *
 * Then the file's own cases: values survive closing and reopening, and a
 * process killed between writes; a second open of a file in use is
 * refused; no descriptor of the store survives an exec; a full map is the
 * same "kv store is full" error; files that are not kv stores are refused; and
 * kv_differential runs one random sequence of ops with keys around the 502-byte
 * chunks long keys are cut into against both backends and compares every answer
 * byte for byte.
 */

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "iso_ops.h"
#include "ops_harness.h"
#include "tap.h"

/* ---- the store a case runs on ---- */

typedef enum backend { MEM, LMDB } backend;

static backend B;      /* the row's backend */
static iso_ops_env* E; /* the row's store */
static char g_dir[64]; /* the case's directory for kv files */

/* The path of kv file `name` in the case's directory (made on first use). */
static const char* kv_file(const char* name) {
  static char path[128];
  if (g_dir[0] == '\0') {
    snprintf(g_dir, sizeof g_dir, "/tmp/iso_kv_XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
  }
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  return path;
}

/* A store on the row's backend with limit max (0: the default). Its
 * commits are not flushed (ISO_KV_SYNC_NONE): the ops mean the same with
 * every setting, which decides only what a machine's crash keeps, and
 * kv_threads_lmdb's 16,000 flushed commits would take a minute. */
static iso_ops_env* kv_env(size_t max) {
  iso_ops_env* e = NULL;
  char err[256] = "";
  iso_ops_env_opts o = {.kv_max_bytes = max, .kv_sync = ISO_KV_SYNC_NONE};
  if (B == LMDB) {
    static int n;
    char name[32];
    snprintf(name, sizeof name, "kv%d.mdb", n++);
    o.kv_path = kv_file(name);
  }
  int rc = iso_ops_env_new(&o, &e, err, sizeof err);
  CHECK_EQ(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "  iso_ops_env_new: %s\n", err);
  }
  return e;
}

/* The row's store, with the op as the harness's run() does it. */
static void kv(const char* op, const char* spec, ...) {
  va_list ap;
  va_start(ap, spec);
  vinvoke(def_of(op), NULL, E, spec, ap);
  va_end(ap);
}

/* ---- the cases of both backends ---- */

static void t_kv_basic(void) {
  kv("op_kv_get", "s", "kb:a");
  CHECK_OK("");
  kv("op_kv_set", "sj", "kb:a", "{\"x\":[1,2]}");
  CHECK_OK("");
  kv("op_kv_get", "s", "kb:a");
  CHECK_OK("{\"x\":[1,2]}");
  kv("op_kv_set", "sn", "kb:a");
  kv("op_kv_get", "s", "kb:a");
  CHECK_OK("null");
  kv("op_kv_set", "sy", "kb:b", "bytes");
  kv("op_kv_get", "s", "kb:b");
  CHECK_OK("\"Ynl0ZXM=\"");
  kv("op_kv_delete", "s", "kb:a");
  CHECK_OK("true");
  kv("op_kv_delete", "s", "kb:a");
  CHECK_OK("false");
  kv("op_kv_get", "s", "kb:a");
  CHECK_OK("");
  kv("op_kv_delete", "s", "kb:b");
  kv("op_kv_set", "s", "kb:a");
  CHECK_ERR("TypeError", "op_kv_set: argument 2 (value) is missing");
  kv("op_kv_get", "s", "");
  CHECK_ERR("TypeError", "op_kv_get: argument 1 (key) must not be empty");
  kv("op_kv_get", "i", 1);
  CHECK_ERR("TypeError", "op_kv_get: argument 1 (key) must be a string");
  char key[1026];
  memset(key, 'k', 1025);
  key[1025] = '\0';
  kv("op_kv_set", "si", key, 1);
  CHECK_ERR("TypeError",
            "op_kv_set: argument 1 (key) is too long (at most 1024 bytes)");
  key[1024] = '\0';
  kv("op_kv_set", "si", key, 1);
  CHECK_OK("");
  kv("op_kv_get", "s", key);
  CHECK_OK("1");
  kv("op_kv_delete", "s", key);
  CHECK_OK("true");
}

static void t_kv_list(void) {
  const char* keys[] = {"kl:b", "kl:a", "kl:ab", "kl:a/c", "kl:", "km"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    kv("op_kv_set", "si", keys[i], (int)i);
  }
  kv("op_kv_list", "s", "kl:a");
  CHECK_OK(
      "[{\"key\":\"kl:a\",\"value\":1},{\"key\":\"kl:a/c\",\"value\":3},"
      "{\"key\":\"kl:ab\",\"value\":2}]");
  kv("op_kv_list", "si", "kl:", 2);
  CHECK_OK("[{\"key\":\"kl:\",\"value\":4},{\"key\":\"kl:a\",\"value\":1}]");
  kv("op_kv_list", "si", "kl:", 0);
  CHECK_OK("[]");
  kv("op_kv_list", "s", "kz");
  CHECK_OK("[]");
  kv("op_kv_list", "ni", 2); /* no prefix: from the first key */
  CHECK_OK("[{\"key\":\"kl:\",\"value\":4},{\"key\":\"kl:a\",\"value\":1}]");
  kv("op_kv_list", "");
  CHECK_EQ(R.rc, 0);
  CHECK_CONTAINS((const char*)R.json.data, "{\"key\":\"km\",\"value\":5}");
  kv("op_kv_list", "si", "kl:", -1);
  CHECK_ERR("TypeError",
            "op_kv_list: argument 2 (limit) must be an integer in [0, 100000]");
  kv("op_kv_list", "si", "kl:", 100001);
  CHECK_ERR("TypeError",
            "op_kv_list: argument 2 (limit) must be an integer in [0, 100000]");
  kv("op_kv_list", "i", 1);
  CHECK_ERR("TypeError", "op_kv_list: argument 1 (prefix) must be a string");
  /* after another op's result in the same buffer (a batch's): the array's
   * header goes in front of list's own entries only */
  static const uint8_t args[] = {0x91, 0xa3, 'k', 'l', ':'};
  iso_buf out;
  iso_buf_init(&out);
  iso_buf_append(&out, "\xc3", 1);
  iso_op_call c = {.def = def_of("op_kv_list"), .env = E, .out = &out};
  CHECK_EQ(iso_op_invoke(&c, args, sizeof args), 0);
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, out.data, out.len);
  CHECK(iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_BOOL);
  CHECK(iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_ARRAY && o.len == 5);
  iso_buf_close(&out);
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    kv("op_kv_delete", "s", keys[i]);
    CHECK_OK("true");
  }
  kv("op_kv_list", "");
  CHECK_OK("[]");
}

static void t_kv_increment(void) {
  kv("op_kv_increment", "s", "ki:n");
  CHECK_OK("1");
  kv("op_kv_increment", "si", "ki:n", 5);
  CHECK_OK("6");
  kv("op_kv_increment", "sd", "ki:n", -6.0); /* whole floats: double */
  CHECK_OK("0.0");
  kv("op_kv_increment", "sd", "ki:n", 0.5);
  CHECK_OK("0.5");
  kv("op_kv_get", "s", "ki:n");
  CHECK_OK("0.5");
  kv("op_kv_set", "sI", "ki:big", (long long)INT64_MAX);
  kv("op_kv_increment", "s", "ki:big"); /* overflow: double */
  CHECK_OK("9223372036854776000.0");    /* 2^63 */
  kv("op_kv_set", "si", "ki:neg", -3);
  kv("op_kv_increment", "sn", "ki:neg");
  CHECK_OK("-2");
  kv("op_kv_set", "ss", "ki:s", "text");
  kv("op_kv_increment", "s", "ki:s");
  CHECK_ERR("InvalidData",
            "op_kv_increment: the value of \"ki:s\" is not a number");
  kv("op_kv_get", "s", "ki:s");
  CHECK_OK("\"text\"");
  kv("op_kv_increment", "ss", "ki:n", "1");
  CHECK_ERR("TypeError", "op_kv_increment: argument 2 (by) must be a number");
  const char* keys[] = {"ki:n", "ki:big", "ki:neg", "ki:s"};
  for (size_t i = 0; i < 4; i++) {
    kv("op_kv_delete", "s", keys[i]);
    CHECK_OK("true");
  }
}

static void t_kv_limit(void) {
  iso_ops_env_free(E);
  /* each key costs 64 bytes besides its key and value */
  E = kv_env(84);
  /* "a" + "0123456789" as msgpack (11 bytes) + 64: 76 of 84 */
  kv("op_kv_set", "ss", "a", "0123456789");
  CHECK_OK("");
  kv("op_kv_set", "ss", "b", "0");
  CHECK_ERR("Error",
            "kv store is full (84 bytes): delete keys or raise "
            "--kv-max-mb");
  kv("op_kv_set", "ss", "a", "0123456789abcdefg"); /* replacing: 83 */
  CHECK_OK("");
  kv("op_kv_increment", "s", "n");
  CHECK_ERR("Error",
            "kv store is full (84 bytes): delete keys or raise "
            "--kv-max-mb");
  kv("op_kv_delete", "s", "a");
  CHECK_OK("true");
  kv("op_kv_increment", "s", "n");
  CHECK_OK("1");
  iso_ops_env_free(E);
  /* tiny keys: the limit counts what they cost, not only their bytes */
  E = kv_env(64 << 10);
  int stored = 0;
  for (int i = 0; i < 100000; i++) {
    char key[16];
    snprintf(key, sizeof key, "%d", 99999 - i); /* each shifts the array */
    kv("op_kv_set", "si", key, 1);
    if (R.rc != 0) {
      break;
    }
    stored++;
  }
  CHECK(stored > 800 && stored < 1000);
  CHECK_EQ(R.err, ISO_OPERR_OTHER);
  iso_ops_env_free(E);
  E = kv_env(0); /* the default, 64 MiB */
  size_t big = ((size_t)64 << 20) + 1;
  uint8_t* blob = calloc(1, big);
  kv("op_kv_set", "sY", "k", blob, big);
  CHECK_ERR("Error",
            "kv store is full (64 MiB): delete keys or raise "
            "--kv-max-mb");
  free(blob);
}

enum { KV_THREADS = 8, KV_INCS = 2000 };

static void* kv_worker(void* arg) {
  static const uint8_t args[] = {0x91, 0xa4, 'k', 't', ':', 'n'};
  iso_buf out;
  iso_buf_init(&out);
  int* fails = arg;
  for (int i = 0; i < KV_INCS; i++) {
    iso_op_call c = {.def = def_of("op_kv_increment"), .env = E, .out = &out};
    iso_buf_reset(&out);
    *fails += iso_op_invoke(&c, args, sizeof args) != 0;
  }
  iso_buf_close(&out);
  return NULL;
}

/* Increments from 8 threads at once count exactly. */
static void t_kv_threads(void) {
  pthread_t th[KV_THREADS];
  int fails[KV_THREADS] = {0};
  for (int i = 0; i < KV_THREADS; i++) {
    CHECK_EQ(pthread_create(&th[i], NULL, kv_worker, &fails[i]), 0);
  }
  for (int i = 0; i < KV_THREADS; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ(fails[i], 0);
  }
  kv("op_kv_get", "s", "kt:n");
  char want[16];
  snprintf(want, sizeof want, "%d", KV_THREADS * KV_INCS);
  CHECK_OK(want);
  kv("op_kv_delete", "s", "kt:n");
}

/* kv keys at and past the limits, and keys that are not text. */
static void t_kv_hostile(void) {
  static const uint8_t key_nul[] = {0xa3, 'k', 0, 'k'};
  static const uint8_t key_bad[] = {0xa2, 0xc0, 0x80}; /* overlong NUL */
  kv("op_kv_set", "ri", key_nul, sizeof key_nul, 1);
  CHECK_ERR("TypeError",
            "op_kv_set: argument 1 (key) must be valid UTF-8 without NUL "
            "bytes");
  kv("op_kv_get", "r", key_bad, sizeof key_bad);
  CHECK_ERR("TypeError",
            "op_kv_get: argument 1 (key) must be valid UTF-8 without NUL "
            "bytes");
  char* key = malloc((1 << 20) + 1);
  memset(key, 'k', 1 << 20);
  key[1 << 20] = '\0';
  kv("op_kv_get", "s", key);
  CHECK_ERR("TypeError",
            "op_kv_get: argument 1 (key) is too long (at most 1024 bytes)");
  kv("op_kv_list", "s", key);
  CHECK_ERR("TypeError",
            "op_kv_list: argument 1 (prefix) is too long (at most 1024 "
            "bytes)");
  free(key);
  kv("op_kv_increment", "sd", "kh:n", 1e308);
  kv("op_kv_increment", "sd", "kh:n", 1e308);
  iso_mp_rd r; /* an overflow to Infinity (JSON shows it as null) */
  iso_mp_obj o;
  iso_mp_rd_init(&r, R.out.data, R.out.len);
  CHECK(R.rc == 0 && iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_F64 &&
        o.v.f > 1.7e308);
  kv("op_kv_delete", "s", "kh:n");
  kv("op_kv_list", "si", "", 100000); /* the most at once */
  CHECK_EQ(R.rc, 0);
}

/* Keys longer than LMDB's 511 bytes, sharing long prefixes: found, listed
 * in byte order (a prefix before its extensions), by every prefix length,
 * and gone when deleted. */
static void t_kv_long_keys(void) {
  static const size_t lens[] = {1, 501, 502, 503, 600, 1003, 1004, 1005, 1024};
  const size_t n = sizeof lens / sizeof *lens;
  char key[1025];
  memset(key, 'a', sizeof key);
  for (size_t i = 0; i < n; i++) {
    key[lens[i]] = '\0';
    kv("op_kv_set", "si", key, (int)lens[i]);
    CHECK_OK("");
    key[lens[i]] = 'a';
  }
  /* a key that differs at byte 700 sorts after all of those */
  memset(key, 'a', 1024);
  key[700] = 'b';
  key[800] = '\0';
  kv("op_kv_set", "si", key, 800);
  key[700] = 'a';
  key[800] = 'a';
  for (size_t i = 0; i < n; i++) {
    key[lens[i]] = '\0';
    kv("op_kv_get", "s", key);
    char want[16];
    snprintf(want, sizeof want, "%zu", lens[i]);
    CHECK_OK(want);
    key[lens[i]] = 'a';
  }
  /* every prefix length: the keys at least that long, in order (the 'b'
   * key after every 'a' one that shares its first 700 bytes) */
  static const size_t plens[] = {0, 1, 2, 501, 502, 503, 700, 1004, 1010};
  for (size_t p = 0; p < sizeof plens / sizeof *plens; p++) {
    size_t want[16], nwant = 0;
    for (size_t i = 0; i < n; i++) {
      if (lens[i] >= plens[p]) {
        want[nwant++] = lens[i];
      }
    }
    if (plens[p] <= 700) {
      want[nwant++] = 800;
    }
    key[plens[p]] = '\0';
    kv("op_kv_list", "si", key, 100);
    key[plens[p]] = 'a';
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, R.out.data, R.out.len);
    CHECK_EQ(R.rc, 0);
    CHECK(iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_ARRAY);
    CHECK_EQ(o.len, nwant);
    for (uint32_t i = 0; i < o.len && i < nwant; i++) {
      iso_mp_obj f, k, fv, v;
      CHECK(iso_mp_read(&r, &f) == 0 && iso_mp_read(&r, &k) == 0 &&
            iso_mp_read(&r, &k) == 0 && iso_mp_read(&r, &fv) == 0 &&
            iso_mp_read(&r, &v) == 0);
      CHECK(k.type == ISO_MP_STR && k.len == want[i]);
      CHECK_EQ(v.v.u, want[i]);
    }
  }
  for (size_t i = 0; i < n; i++) {
    key[lens[i]] = '\0';
    kv("op_kv_delete", "s", key);
    CHECK_OK("true");
    kv("op_kv_get", "s", key);
    CHECK_OK("");
    key[lens[i]] = 'a';
  }
  kv("op_kv_list", "si", "", 100);
  CHECK_EQ(R.rc, 0);
  CHECK_CONTAINS((const char*)R.json.data, "\"value\":800}]");
}

typedef struct kv_row {
  const char* name;
  void (*fn)(void);
  backend b;
} kv_row;

static const kv_row rows[] = {
    {"kv_basic", t_kv_basic, MEM},
    {"kv_basic_lmdb", t_kv_basic, LMDB},
    {"kv_list", t_kv_list, MEM},
    {"kv_list_lmdb", t_kv_list, LMDB},
    {"kv_increment", t_kv_increment, MEM},
    {"kv_increment_lmdb", t_kv_increment, LMDB},
    {"kv_limit", t_kv_limit, MEM},
    {"kv_limit_lmdb", t_kv_limit, LMDB},
    {"kv_threads", t_kv_threads, MEM},
    {"kv_threads_lmdb", t_kv_threads, LMDB},
    {"kv_hostile", t_kv_hostile, MEM},
    {"kv_hostile_lmdb", t_kv_hostile, LMDB},
    {"kv_long_keys", t_kv_long_keys, MEM},
    {"kv_long_keys_lmdb", t_kv_long_keys, LMDB},
};

static void remove_dir(void) {
  if (g_dir[0] != '\0') {
    rm_tree(g_dir);
    g_dir[0] = '\0';
  }
}

static void run_row(const void* row) {
  const kv_row* r = row;
  B = r->b;
  E = kv_env(0);
  if (E != NULL) {
    r->fn();
  }
  iso_ops_env_free(E);
  E = NULL;
  remove_dir();
}

/* ---- LMDB's own cases ---- */

static iso_ops_env* lmdb_open(const char* path,
                              size_t max,
                              size_t map,
                              int want_rc,
                              char* err) {
  iso_ops_env* e = NULL;
  iso_ops_env_opts o = {
      .kv_path = path, .kv_max_bytes = max, .kv_map_bytes = map};
  err[0] = '\0';
  int rc = iso_ops_env_new(&o, &e, err, 256);
  CHECK_EQ(rc, want_rc);
  if (rc != want_rc) {
    fprintf(stderr, "  %s: %s\n", path, err);
  }
  return e;
}

/* What was written is there after closing and reopening, and the byte
 * count with it: the limit refuses the same write it refused before. */
static void t_kv_lmdb_reopen(void) {
  char err[256];
  const char* path = kv_file("kv.mdb");
  char long_key[1025];
  memset(long_key, 'x', 1024);
  long_key[1024] = '\0';
  E = lmdb_open(path, 2000, 0, 0, err);
  kv("op_kv_set", "sj", "a", "{\"n\":[1,\"two\",null]}");
  kv("op_kv_set", "si", long_key, 7);
  kv("op_kv_increment", "s", "hits");
  kv("op_kv_increment", "s", "hits");
  kv("op_kv_set", "sy", "gone", "x");
  kv("op_kv_delete", "s", "gone");
  /* a: 1 + 10, the long key: 1024 + 1, hits: 4 + 1, with 64 each: 1233;
   * fill: 4 + 696 + 3 (a bin16) + 64: the store is full to the byte */
  static const uint8_t zeros[696];
  kv("op_kv_set", "sY", "fill", zeros, sizeof zeros);
  CHECK_OK("");
  kv("op_kv_set", "si", "b", 1);
  CHECK_ERR("Error",
            "kv store is full (2000 bytes): delete keys or raise --kv-max-mb");
  iso_ops_env_free(E);
  E = lmdb_open(path, 2000, 0, 0, err);
  kv("op_kv_get", "s", "a");
  CHECK_OK("{\"n\":[1,\"two\",null]}");
  kv("op_kv_get", "s", long_key);
  CHECK_OK("7");
  kv("op_kv_get", "s", "hits");
  CHECK_OK("2");
  kv("op_kv_get", "s", "gone");
  CHECK_OK("");
  kv("op_kv_set", "si", "b", 1);
  CHECK_ERR("Error",
            "kv store is full (2000 bytes): delete keys or raise --kv-max-mb");
  kv("op_kv_delete", "s", "fill");
  kv("op_kv_set", "si", "b", 1);
  CHECK_OK("");
  kv("op_kv_list", "si", "", 2);
  CHECK_OK(
      "[{\"key\":\"a\",\"value\":{\"n\":[1,\"two\",null]}},"
      "{\"key\":\"b\",\"value\":1}]");
  iso_ops_env_free(E);
  /* a lower limit than the store holds: writes that add are refused,
   * deletes still work */
  E = lmdb_open(path, 1000, 0, 0, err);
  kv("op_kv_set", "si", "c", 1);
  CHECK_ERR("Error",
            "kv store is full (1000 bytes): delete keys or raise --kv-max-mb");
  kv("op_kv_delete", "s", long_key);
  CHECK_OK("true");
  kv("op_kv_set", "si", "c", 1);
  CHECK_OK("");
  iso_ops_env_free(E);
  E = NULL;
  remove_dir();
}

/* A second env on a file in use is refused, in this process and in
 * another, and the first goes on; once it is closed the file opens. */
static void t_kv_lmdb_in_use(void) {
  char err[256];
  const char* path = kv_file("kv.mdb");
  E = lmdb_open(path, 0, 0, 0, err);
  kv("op_kv_set", "si", "k", 1);
  iso_ops_env* second = lmdb_open(path, 0, 0, ISO_EBUSY, err);
  CHECK(second == NULL);
  char want[256];
  snprintf(want, sizeof want,
           "kv file \"%s\" is in use: another isopool (or another store in "
           "this one) has it open, and a kv file serves one service at a "
           "time",
           path);
  CHECK_STR(err, want);
  pid_t pid = fork();
  if (pid == 0) {
    iso_ops_env* e = NULL;
    iso_ops_env_opts o = {.kv_path = path};
    _exit(iso_ops_env_new(&o, &e, err, sizeof err) == ISO_EBUSY ? 0 : 1);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  kv("op_kv_increment", "s", "k");
  CHECK_OK("2");
  iso_ops_env_free(E);
  E = lmdb_open(path, 0, 0, 0, err);
  kv("op_kv_get", "s", "k");
  CHECK_OK("2");
  iso_ops_env_free(E);
  E = NULL;
  remove_dir();
}

/* No descriptor of the store's files survives an exec: a process the
 * service starts cannot write the store. */
static void t_kv_lmdb_cloexec(void) {
  char err[256];
  const char* path = kv_file("kv.mdb");
  char want[160];
  snprintf(want, sizeof want, "%s", path);
  E = lmdb_open(path, 0, 0, 0, err);
  int seen = 0;
  for (int fd = 3; fd < 1024; fd++) {
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) {
      continue;
    }
    target[n] = '\0';
    if (strncmp(target, want, strlen(want)) == 0) {
      seen++;
      CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
      if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
        fprintf(stderr, "  fd %d: %s\n", fd, target);
      }
    }
  }
  CHECK(seen >= 3); /* ours, LMDB's data and lock files */
  iso_ops_env_free(E);
  E = NULL;
  remove_dir();
}

/* A map that fills before the limit: the same "kv store is full" error,
 * the write undone, and room again after a delete. */
static void t_kv_lmdb_map_full(void) {
  char err[256];
  E = lmdb_open(kv_file("kv.mdb"), (size_t)64 << 20, 256 << 10, 0, err);
  size_t len = 16 << 10;
  uint8_t* blob = calloc(1, len);
  int stored = 0;
  for (; stored < 100; stored++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", stored);
    kv("op_kv_set", "sY", key, blob, len);
    if (R.rc != 0) {
      break;
    }
  }
  CHECK(stored > 2 && stored < 16);
  CHECK_ERR("Error",
            "kv store is full (64 MiB): delete keys or raise --kv-max-mb");
  kv("op_kv_list", "si", "", 1000);
  CHECK_EQ(R.rc, 0);
  kv("op_kv_delete", "s", "k0");
  CHECK_OK("true");
  kv("op_kv_delete", "s", "k1");
  CHECK_OK("true");
  kv("op_kv_set", "sY", "again", blob, len);
  CHECK_OK("");
  free(blob);
  iso_ops_env_free(E);
  E = NULL;
  remove_dir();
}

/* Paths that are no kv store: a text file, a directory, a missing
 * directory, an LMDB file of someone else's. */
static void t_kv_lmdb_bad_files(void) {
  char err[256], want[512];
  const char* path = kv_file("text");
  write_path(path,
             "hello, this is not LMDB, but it is long enough to be "
             "read as a header and found wanting.........................");
  CHECK(lmdb_open(path, 0, 0, ISO_EINVAL, err) == NULL);
  snprintf(want, sizeof want, "kv file \"%s\" is not an isopool kv store",
           path);
  CHECK(strncmp(err, want, strlen(want)) == 0);
  CHECK(lmdb_open(g_dir, 0, 0, ISO_EINVAL, err) == NULL);
  CHECK_CONTAINS(err, "is a directory");
  CHECK(lmdb_open("/nonexistent/dir/kv.mdb", 0, 0, ISO_ENOENT, err) == NULL);
  CHECK_STR(err,
            "kv file \"/nonexistent/dir/kv.mdb\": no such file or "
            "directory");
  /* an LMDB file with a record of its own in the main database */
  MDB_env* env;
  MDB_txn* t;
  MDB_dbi dbi;
  path = kv_file("other.mdb");
  CHECK_EQ(mdb_env_create(&env), 0);
  CHECK_EQ(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
  CHECK_EQ(mdb_txn_begin(env, NULL, 0, &t), 0);
  CHECK_EQ(mdb_dbi_open(t, NULL, 0, &dbi), 0);
  MDB_val k = {.mv_size = 3, .mv_data = "key"}, v = k;
  CHECK_EQ(mdb_put(t, dbi, &k, &v, 0), 0);
  CHECK_EQ(mdb_txn_commit(t), 0);
  mdb_env_close(env);
  CHECK(lmdb_open(path, 0, 0, ISO_EINVAL, err) == NULL);
  snprintf(want, sizeof want,
           "kv file \"%s\" is an LMDB file but not an isopool kv store", path);
  CHECK_STR(err, want);
  remove_dir();
}

/* A process killed between writes: the store opens, and holds every
 * value whose set had returned. */
static void t_kv_lmdb_killed(void) {
  char err[256];
  const char* path = kv_file("kv.mdb");
  int fds[2];
  CHECK_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    E = lmdb_open(path, 0, 0, 0, err);
    for (int i = 0;; i++) {
      char key[32];
      snprintf(key, sizeof key, "k%06d", i);
      kv("op_kv_set", "ss", key, key);
      if (R.rc != 0 || write(fds[1], &i, sizeof i) != sizeof i) {
        _exit(1);
      }
    }
  }
  close(fds[1]);
  int last = -1, i;
  while (last < 200 && read(fds[0], &i, sizeof i) == sizeof i) {
    last = i;
  }
  kill(pid, SIGKILL);
  while (read(fds[0], &i, sizeof i) == sizeof i) {
    last = i; /* answered before the kill took */
  }
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  E = lmdb_open(path, 0, 0, 0, err);
  for (i = 0; i <= last; i++) {
    char key[32], want[40];
    snprintf(key, sizeof key, "k%06d", i);
    snprintf(want, sizeof want, "\"%s\"", key);
    kv("op_kv_get", "s", key);
    CHECK_OK(want);
    if (iso_test_failed) {
      fprintf(stderr, "  key %s of %d\n", key, last);
      break;
    }
  }
  kv("op_kv_set", "si", "after", 1); /* the writer's lock is free again */
  CHECK_OK("");
  iso_ops_env_free(E);
  E = NULL;
  remove_dir();
}

/* ---- the two backends side by side ---- */

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}

/* A key of 1..1024 bytes from a small alphabet, mostly near the chunk
 * boundaries (502, 1004), sharing long runs with the others. */
static size_t rnd_key(char* key) {
  static const size_t lens[] = {1,   2,   3,    501,  502,  503,
                                504, 700, 1003, 1004, 1005, 1024};
  size_t len = lens[rnd() % (sizeof lens / sizeof *lens)];
  memset(key, 'm', len);
  for (int i = 0; i < 3; i++) { /* a few bytes differ */
    key[rnd() % len] = "amz"[rnd() % 3];
  }
  key[len] = '\0';
  return len;
}

/* One op on env e into out (rc, class, message, result bytes). */
static void diff_op(iso_ops_env* e,
                    const char* op,
                    const char* spec,
                    const char* key,
                    int n,
                    res* out) {
  iso_ops_env* saved = E;
  E = e;
  if (spec[1] == 'i') {
    kv(op, spec, key, n);
  } else {
    kv(op, spec, key);
  }
  E = saved;
  out->rc = R.rc;
  out->err = R.err;
  memcpy(out->msg, R.msg, sizeof out->msg);
  iso_buf_reset(&out->out);
  iso_buf_append(&out->out, R.out.data, R.out.len);
}

static void t_kv_differential(void) {
  char err[256];
  B = MEM;
  iso_ops_env* mem = kv_env(512 << 10);
  iso_ops_env* lm = lmdb_open(kv_file("kv.mdb"), 512 << 10, 0, 0, err);
  res a = {0}, b = {0};
  iso_buf_init(&a.out);
  iso_buf_init(&b.out);
  char key[1025];
  int steps = 0, full = 0;
  for (; steps < 4000 && !iso_test_failed; steps++) {
    rnd_key(key);
    int r = (int)(rnd() % 100);
    const char* op;
    const char* spec = "si";
    int n = (int)(rnd() % 1000);
    if (r < 35) {
      op = "op_kv_set";
    } else if (r < 50) {
      op = "op_kv_increment";
    } else if (r < 70) {
      op = "op_kv_delete";
      spec = "s";
    } else if (r < 85) {
      op = "op_kv_get";
      spec = "s";
    } else { /* a list by a prefix of the key */
      op = "op_kv_list";
      key[rnd() % (strlen(key) + 1)] = '\0';
      n = (int)(rnd() % 40);
    }
    diff_op(mem, op, spec, key, n, &a);
    diff_op(lm, op, spec, key, n, &b);
    CHECK_EQ(a.rc, b.rc);
    CHECK_STR(a.msg, b.msg);
    full += strncmp(a.msg, "kv store is full", 16) == 0;
    CHECK(a.out.len == b.out.len &&
          (a.out.len == 0 || memcmp(a.out.data, b.out.data, a.out.len) == 0));
    if (iso_test_failed) {
      fprintf(stderr, "  step %d: %s \"%.40s...\" (%zu bytes)\n", steps, op,
              key, strlen(key));
    }
  }
  /* everything deleted: the file holds no record but the state (every
   * node a delete emptied was unlinked) */
  E = lm;
  iso_buf page;
  iso_buf_init(&page);
  for (;;) {
    kv("op_kv_list", "si", "", 100);
    iso_buf_reset(&page);
    iso_buf_append(&page, R.out.data, R.out.len);
    iso_mp_rd r;
    iso_mp_obj o;
    iso_mp_rd_init(&r, page.data, page.len);
    CHECK(iso_mp_read(&r, &o) == 0 && o.type == ISO_MP_ARRAY);
    if (iso_test_failed || o.len == 0) {
      break;
    }
    for (uint32_t i = 0; i < o.len; i++) {
      iso_mp_obj f, k, fv, v;
      CHECK(iso_mp_read(&r, &f) == 0 && iso_mp_read(&r, &f) == 0 &&
            iso_mp_read(&r, &k) == 0 && iso_mp_read(&r, &fv) == 0 &&
            iso_mp_read(&r, &v) == 0);
      memcpy(key, k.data, k.len);
      key[k.len] = '\0';
      kv("op_kv_delete", "s", key);
      CHECK_OK("true");
    }
  }
  iso_buf_close(&page);
  iso_ops_env_free(lm);
  iso_ops_env_free(mem);
  E = NULL;
  MDB_env* env;
  MDB_txn* t;
  MDB_dbi dbi;
  MDB_stat st;
  CHECK_EQ(mdb_env_create(&env), 0);
  CHECK_EQ(mdb_env_set_maxdbs(env, 2), 0);
  CHECK_EQ(
      mdb_env_open(env, kv_file("kv.mdb"), MDB_NOSUBDIR | MDB_RDONLY, 0600), 0);
  CHECK_EQ(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
  CHECK_EQ(mdb_dbi_open(t, "kv", 0, &dbi), 0);
  CHECK_EQ(mdb_stat(t, dbi, &st), 0);
  CHECK_EQ(st.ms_entries, 0);
  mdb_txn_abort(t);
  mdb_env_close(env);
  iso_buf_close(&a.out);
  iso_buf_close(&b.out);
  fprintf(stderr, "  %d steps, %d refused as full\n", steps, full);
  CHECK(full > 0);
  remove_dir();
}

static const iso_test cases[] = {{"kv_lmdb_reopen", t_kv_lmdb_reopen},
                                 {"kv_lmdb_in_use", t_kv_lmdb_in_use},
                                 {"kv_lmdb_cloexec", t_kv_lmdb_cloexec},
                                 {"kv_lmdb_map_full", t_kv_lmdb_map_full},
                                 {"kv_lmdb_bad_files", t_kv_lmdb_bad_files},
                                 {"kv_lmdb_killed", t_kv_lmdb_killed},
                                 {"kv_differential", t_kv_differential},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.rows = rows,
                          .nrows = sizeof rows / sizeof *rows,
                          .row_size = sizeof *rows,
                          .run_row = run_row,
                          .cases = cases,
                          .case_teardown = remove_dir};
  return iso_test_run(argc, argv, &suite);
}
