/* test_crypto.c: the crypto ops (ops/crypto.c): digests against known
 * vectors, random bytes and UUIDs, and a 16 MiB digest.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "iso_ops.h"
#include "ops_harness.h"
#include "tap.h"

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

/* ---- hostile input ---- */

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

static const iso_test cases[] = {{"crypto_digest", t_crypto_digest},
                                 {"crypto_random", t_crypto_random},
                                 {"crypto_uuid", t_crypto_uuid},
                                 {"crypto_digest_large", t_crypto_digest_large},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
