/* test_crypto.c: the crypto ops (ops/crypto.c): digests against known
 * vectors, random bytes and UUIDs, a 16 MiB digest; HMAC (RFC 4231),
 * AES-GCM (the GCM paper's test cases), ECDSA and Ed25519 verification
 * (keys and signatures made by Deno's Web Crypto), and what each does
 * with keys, IVs, tags and signatures that are wrong.
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

/* hex into out (at most cap bytes); its length. */
static size_t from_hex(const char* hex, uint8_t* out, size_t cap) {
  size_t n = strlen(hex) / 2;
  CHECK(n <= cap);
  for (size_t i = 0; i < n && i < cap; i++) {
    unsigned v = 0;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  return n;
}

static void check_bin(const char* hex) {
  char got[512] = "";
  size_t n = 0;
  const uint8_t* p = result_bin(&n);
  CHECK(p != NULL && n * 2 < sizeof got);
  if (p != NULL && n * 2 < sizeof got) {
    to_hex(p, n, got);
  }
  CHECK_STR(got, hex);
}

static void t_crypto_hmac(void) {
  /* RFC 4231, test case 2 */
  const char* mac =
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  run("op_crypto_hmac", NULL, "syy", "SHA-256", "Jefe",
      "what do ya want for nothing?");
  check_bin(mac);
  uint8_t sig[32];
  from_hex(mac, sig, sizeof sig);
  run("op_crypto_hmac_verify", NULL, "syyY", "SHA-256", "Jefe",
      "what do ya want for nothing?", sig, sizeof sig);
  CHECK_OK("true");
  sig[31] ^= 1;
  run("op_crypto_hmac_verify", NULL, "syyY", "SHA-256", "Jefe",
      "what do ya want for nothing?", sig, sizeof sig);
  CHECK_OK("false");
  /* a prefix of the MAC is not the MAC */
  run("op_crypto_hmac_verify", NULL, "syyY", "SHA-256", "Jefe",
      "what do ya want for nothing?", sig, (size_t)16);
  CHECK_OK("false");
  run("op_crypto_hmac", NULL, "syy", "MD5", "k", "d");
  CHECK_ERR("TypeError", "op_crypto_hmac: unsupported hash \"MD5\"");
}

static void t_crypto_aes_gcm(void) {
  uint8_t key[32] = {0}, iv[12] = {0}, zero[16] = {0}, ct[64];
  /* the GCM paper's test case 1 (no plaintext) and 2 (one zero block) */
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 1, key, (size_t)16, iv, sizeof iv,
      zero, (size_t)0, 128, zero, (size_t)0);
  check_bin("58e2fccefa7e3061367f1d57a4e7455a");
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 1, key, (size_t)16, iv, sizeof iv,
      zero, (size_t)0, 128, zero, sizeof zero);
  check_bin("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
  size_t n = from_hex(
      "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf", ct,
      sizeof ct);
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 0, key, (size_t)16, iv, sizeof iv,
      zero, (size_t)0, 128, ct, n);
  check_bin("00000000000000000000000000000000");
  /* a flipped bit in the text or the tag, another AAD, a short tag */
  ct[0] ^= 1;
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 0, key, (size_t)16, iv, sizeof iv,
      zero, (size_t)0, 128, ct, n);
  CHECK_ERR("InvalidData",
            "op_crypto_aes_gcm: the data or its tag is not authentic");
  ct[0] ^= 1;
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 0, key, (size_t)16, iv, sizeof iv,
      "x", (size_t)1, 128, ct, n);
  CHECK_ERR("InvalidData",
            "op_crypto_aes_gcm: the data or its tag is not authentic");
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 0, key, (size_t)16, iv, sizeof iv,
      zero, (size_t)0, 128, ct, (size_t)15);
  CHECK_ERR("InvalidData",
            "op_crypto_aes_gcm: the data is shorter than its tag");
  /* 96-bit tags: the first 12 bytes of the full tag */
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 1, key, (size_t)16, iv, sizeof iv,
      zero, (size_t)0, 96, zero, (size_t)0);
  check_bin("58e2fccefa7e3061367f1d57");
  /* keys of 24 and 32 bytes work; 20 do not; nor an empty IV */
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 1, key, (size_t)32, iv, sizeof iv,
      zero, (size_t)0, 128, zero, (size_t)0);
  check_bin("530f8afbc74536b9a963b4f1c4cb738b"); /* test case 13 */
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 1, key, (size_t)20, iv, sizeof iv,
      zero, (size_t)0, 128, zero, (size_t)0);
  CHECK_EQ(R.rc, ISO_EOP);
  CHECK_STR(iso_op_err_class(R.err), "TypeError");
  run("op_crypto_aes_gcm", NULL, "bYYYiY", 1, key, (size_t)16, iv, (size_t)0,
      zero, (size_t)0, 128, zero, (size_t)0);
  CHECK_EQ(R.rc, ISO_EOP);
}

/* Made by Deno 2.9.6's crypto.subtle: generateKey, sign("isopool"),
 * exportKey("raw") of the public key. */
static const char kP256Pub[] =
    "042ab2ad6d6262f1f5c0d7352efe1c072d1740879edf0ec0ff70d6c8e4d33b4cda3687"
    "df8009521f8bbfada750b87905e3307f991d997f70214435ceb996782b96";
static const char kP256Sig[] =
    "169af0ca077b0f1dacb7969c35abd8aa09895ff56b8ea389f8426491aa53df7a23f8fd"
    "412fc2578688c63a797a4baa5fec3157aa9f3b89fe2a66b988b85f1f9c";
static const char kEdPub[] =
    "53bc338dbc029295c7f289f5efa30b4bf52f70fb0ff27ffc4dc0066879cfa9d3";
static const char kEdSig[] =
    "6b209725f7aecb728cf54fd7a3a44630f846cde9a283139dbddebde6a504a5d7f7afb9"
    "81642fcdc424057715837fdb467466092c5232097001d65d0b271a3d09";

static void t_crypto_ecdsa(void) {
  uint8_t pub[65], sig[64], comp[33];
  size_t pn = from_hex(kP256Pub, pub, sizeof pub);
  size_t sn = from_hex(kP256Sig, sig, sizeof sig);
  run("op_crypto_ecdsa_verify", NULL, "ssYYy", "P-256", "SHA-256", pub, pn, sig,
      sn, "isopool");
  CHECK_OK("true");
  run("op_crypto_ecdsa_verify", NULL, "ssYYy", "P-256", "SHA-256", pub, pn, sig,
      sn, "isopoo1");
  CHECK_OK("false");
  run("op_crypto_ecdsa_verify", NULL, "ssYYy", "P-256", "SHA-384", pub, pn, sig,
      sn, "isopool");
  CHECK_OK("false");
  run("op_crypto_ecdsa_verify", NULL, "ssYYy", "P-256", "SHA-256", pub, pn, sig,
      sn - 1, "isopool");
  CHECK_OK("false");
  /* r and s of zeros: not a signature, and no crash */
  uint8_t zeros[64] = {0};
  run("op_crypto_ecdsa_verify", NULL, "ssYYy", "P-256", "SHA-256", pub, pn,
      zeros, sizeof zeros, "isopool");
  CHECK_OK("false");
  /* the point: compressed form accepted and given back uncompressed; one
   * off the curve refused, here and when verifying */
  comp[0] = (uint8_t)(2 + (pub[64] & 1));
  memcpy(comp + 1, pub + 1, 32);
  run("op_crypto_ec_point", NULL, "sY", "P-256", comp, sizeof comp);
  check_bin(kP256Pub);
  pub[40] ^= 1;
  run("op_crypto_ec_point", NULL, "sY", "P-256", pub, pn);
  CHECK_ERR("InvalidData", "op_crypto_ec_point: not a point of the curve");
  run("op_crypto_ecdsa_verify", NULL, "ssYYy", "P-256", "SHA-256", pub, pn, sig,
      sn, "isopool");
  CHECK_ERR("InvalidData",
            "op_crypto_ecdsa_verify: not a public key of the curve");
  run("op_crypto_ec_point", NULL, "sY", "P-384", comp, sizeof comp);
  CHECK_ERR("InvalidData", "op_crypto_ec_point: not a point of the curve");
  run("op_crypto_ec_point", NULL, "sY", "secp256k1", comp, sizeof comp);
  CHECK_ERR("TypeError",
            "op_crypto_ec_point: unsupported curve \"secp256k1\" (P-256, "
            "P-384, P-521)");
}

static void t_crypto_ed25519(void) {
  uint8_t pub[32], sig[64];
  from_hex(kEdPub, pub, sizeof pub);
  from_hex(kEdSig, sig, sizeof sig);
  run("op_crypto_ed25519_verify", NULL, "YYy", pub, sizeof pub, sig, sizeof sig,
      "isopool");
  CHECK_OK("true");
  sig[0] ^= 1;
  run("op_crypto_ed25519_verify", NULL, "YYy", pub, sizeof pub, sig, sizeof sig,
      "isopool");
  CHECK_OK("false");
  run("op_crypto_ed25519_verify", NULL, "YYy", pub, sizeof pub, sig, (size_t)63,
      "isopool");
  CHECK_OK("false");
  run("op_crypto_ed25519_verify", NULL, "YYy", pub, (size_t)31, sig, sizeof sig,
      "isopool");
  CHECK_ERR("InvalidData",
            "op_crypto_ed25519_verify: not an Ed25519 public key");
}

static const iso_test cases[] = {{"crypto_digest", t_crypto_digest},
                                 {"crypto_random", t_crypto_random},
                                 {"crypto_uuid", t_crypto_uuid},
                                 {"crypto_digest_large", t_crypto_digest_large},
                                 {"crypto_hmac", t_crypto_hmac},
                                 {"crypto_aes_gcm", t_crypto_aes_gcm},
                                 {"crypto_ecdsa", t_crypto_ecdsa},
                                 {"crypto_ed25519", t_crypto_ed25519},
                                 {NULL, NULL}};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases,
                          .setup = ops_fixture_setup,
                          .teardown = ops_fixture_teardown};
  return iso_test_run(argc, argv, &suite);
}
