/* crypto.c: the `crypto` global's native half (op_crypto_*).
 *
 * Random bytes come from the kernel (getrandom(2)); digests, HMAC, AES-GCM
 * and signature checks from OpenSSL's libcrypto (EVP), never from
 * hand-written cryptography. These ops need no permission and touch no
 * shared state: a key travels with each call as its bytes (the prelude's
 * CryptoKey holds them; 60-crypto.js), so nothing lives here between
 * calls. Parameters are checked by the prelude first, as Web Crypto's
 * algorithm normalisation says, and checked again here: a key, IV or
 * point that is wrong fails InvalidData (the prelude's DataError or
 * OperationError), never a crash.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "iso_err.h"
#include "iso_ops.h"
#include "ops_private.h"

#define RANDOM_MAX 65536

/* Fills p with n random bytes. Returns 0 or ISO_EIO (errno set). */
static int fill_random(uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = getrandom(p, n, 0);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k < 0) {
      return ISO_EIO;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int random_fail(iso_op_call* call) {
  char text[128];
  return iso_op_fail(call, ISO_OPERR_OTHER, "%s: getrandom: %s",
                     call->def->name,
                     iso__ops_strerror(errno, text, sizeof text));
}

int iso__op_crypto_random(iso_op_call* call) {
  int64_t n;
  if (!iso__ops_arg_present(call, 0)) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: argument 1 (n) must be a number of bytes",
                       call->def->name);
  }
  if (iso_op_arg_int(call, 0, "n", 0, INT64_MAX, 0, &n) != 0) {
    return ISO_EOP;
  }
  if (n > RANDOM_MAX) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: at most %d bytes at a time (asked for %lld)",
                       call->def->name, RANDOM_MAX, (long long)n);
  }
  uint8_t* buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf == NULL) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "%s: out of memory",
                       call->def->name);
  }
  int rc = fill_random(buf, (size_t)n) != 0
               ? random_fail(call)
               : iso_op_ret_bin(call, buf, (size_t)n);
  free(buf);
  return rc;
}

int iso__op_crypto_random_uuid(iso_op_call* call) {
  uint8_t b[16];
  char s[37];
  if (fill_random(b, sizeof b) != 0) {
    return random_fail(call);
  }
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 (RFC 4122) */
  snprintf(s, sizeof s,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
  return iso_op_ret_str(call, s, 36);
}

/* "SHA-256", "sha256", ... -> the EVP digest; NULL for anything else. */
static const EVP_MD* digest_by_name(const char* alg) {
  char n[16];
  size_t len = 0;
  for (const char* p = alg; *p != '\0'; p++) {
    if (*p == '-') {
      continue;
    }
    if (len + 1 >= sizeof n) {
      return NULL;
    }
    n[len++] = (char)toupper((unsigned char)*p);
  }
  n[len] = '\0';
  if (strcmp(n, "SHA1") == 0) {
    return EVP_sha1();
  }
  if (strcmp(n, "SHA256") == 0) {
    return EVP_sha256();
  }
  if (strcmp(n, "SHA384") == 0) {
    return EVP_sha384();
  }
  if (strcmp(n, "SHA512") == 0) {
    return EVP_sha512();
  }
  return NULL;
}

int iso__op_crypto_digest(iso_op_call* call) {
  char alg[32];
  const uint8_t* data;
  size_t len;
  if (iso_op_arg_str(call, 0, "algorithm", alg, sizeof alg) != 0 ||
      iso_op_arg_bytes(call, 1, "data", &data, &len) != 0) {
    return ISO_EOP;
  }
  const EVP_MD* md = digest_by_name(alg);
  if (md == NULL) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: unsupported digest algorithm \"%s\" (use SHA-1, "
                       "SHA-256, SHA-384 or SHA-512)",
                       call->def->name, alg);
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int outlen = 0;
  if (EVP_Digest(data, len, out, &outlen, md, NULL) != 1) {
    return iso_op_fail(call, ISO_OPERR_OTHER, "%s: digest failed",
                       call->def->name);
  }
  return iso_op_ret_bin(call, out, outlen);
}

/* ---- HMAC ---- */

/* The MAC of data under key with hash `alg` into out (EVP_MAX_MD_SIZE).
 * Returns its length, or 0 after failing the call. */
static unsigned int hmac_of(iso_op_call* call, unsigned char* out) {
  char alg[32];
  const uint8_t *key, *data;
  size_t key_len, len;
  if (iso_op_arg_str(call, 0, "hash", alg, sizeof alg) != 0 ||
      iso_op_arg_bytes(call, 1, "key", &key, &key_len) != 0 ||
      iso_op_arg_bytes(call, 2, "data", &data, &len) != 0) {
    return 0;
  }
  const EVP_MD* md = digest_by_name(alg);
  if (md == NULL) {
    iso_op_fail(call, ISO_OPERR_TYPE, "%s: unsupported hash \"%s\"",
                call->def->name, alg);
    return 0;
  }
  unsigned int n = 0;
  if (HMAC(md, key, (int)key_len, data, len, out, &n) == NULL || n == 0) {
    iso_op_fail(call, ISO_OPERR_OTHER, "%s: HMAC failed", call->def->name);
    return 0;
  }
  return n;
}

/* (hash, key, data) -> the MAC */
int iso__op_crypto_hmac(iso_op_call* call) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = hmac_of(call, mac);
  return n == 0 ? ISO_EOP : iso_op_ret_bin(call, mac, n);
}

/* (hash, key, data, signature) -> whether signature is the MAC, compared
 * in constant time */
int iso__op_crypto_hmac_verify(iso_op_call* call) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  const uint8_t* sig;
  size_t sig_len;
  unsigned int n = hmac_of(call, mac);
  if (n == 0 || iso_op_arg_bytes(call, 3, "signature", &sig, &sig_len) != 0) {
    return ISO_EOP;
  }
  return iso_op_ret_bool(call, sig_len == n && CRYPTO_memcmp(sig, mac, n) == 0);
}

/* ---- AES-GCM ---- */

static const EVP_CIPHER* aes_gcm_of(size_t key_len) {
  switch (key_len) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return NULL;
  }
}

/* (encrypt, key, iv, additionalData, tagLength in bits, data) -> the
 * ciphertext with its tag appended, or the plaintext. A tag that does not
 * match fails InvalidData (Web Crypto's OperationError). */
int iso__op_crypto_aes_gcm(iso_op_call* call) {
  int enc;
  const uint8_t *key, *iv, *aad, *data;
  size_t key_len, iv_len, aad_len, len;
  int64_t tag_bits;
  if (iso_op_arg_bool(call, 0, "encrypt", 0, &enc) != 0 ||
      iso_op_arg_bytes(call, 1, "key", &key, &key_len) != 0 ||
      iso_op_arg_bytes(call, 2, "iv", &iv, &iv_len) != 0 ||
      iso_op_arg_bytes(call, 3, "additionalData", &aad, &aad_len) != 0 ||
      iso_op_arg_int(call, 4, "tagLength", 32, 128, 128, &tag_bits) != 0 ||
      iso_op_arg_bytes(call, 5, "data", &data, &len) != 0) {
    return ISO_EOP;
  }
  const EVP_CIPHER* cipher = aes_gcm_of(key_len);
  size_t tag_len = (size_t)tag_bits / 8;
  if (cipher == NULL || iv_len == 0 || iv_len > INT32_MAX ||
      tag_bits % 8 != 0 || len > INT32_MAX - 16 || aad_len > INT32_MAX) {
    return iso_op_fail(call, ISO_OPERR_TYPE,
                       "%s: a key of 16, 24 or 32 bytes, an IV of 1 byte or "
                       "more and a tag of whole bytes are needed",
                       call->def->name);
  }
  if (!enc && len < tag_len) {
    return iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                       "%s: the data is shorter than its tag", call->def->name);
  }
  size_t body = enc ? len : len - tag_len;
  uint8_t* out = malloc(body + tag_len + 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int ok = out != NULL && ctx != NULL;
  int n = 0, fin = 0;
  ok = ok && EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) ==
           1 &&
       EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) == 1;
  if (ok && aad_len > 0) {
    ok = EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1;
  }
  if (ok && body > 0) {
    ok = EVP_CipherUpdate(ctx, out, &n, data, (int)body) == 1;
  } else {
    n = 0;
  }
  if (ok && !enc) {
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len,
                             (void*)(data + body)) == 1;
  }
  int tag_ok = ok && EVP_CipherFinal_ex(ctx, out + n, &fin) == 1;
  if (tag_ok && enc) {
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)tag_len,
                             out + n + fin) == 1;
  }
  int rc;
  if (out == NULL || ctx == NULL) {
    rc = iso_op_fail(call, ISO_OPERR_OTHER, "%s: out of memory",
                     call->def->name);
  } else if (ok && !tag_ok && !enc) {
    rc = iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                     "%s: the data or its tag is not authentic",
                     call->def->name);
  } else if (!ok || !tag_ok) {
    rc = iso_op_fail(call, ISO_OPERR_OTHER, "%s: AES-GCM failed",
                     call->def->name);
  } else {
    rc = iso_op_ret_bin(call, out, (size_t)(n + fin) + (enc ? tag_len : 0));
  }
  EVP_CIPHER_CTX_free(ctx);
  free(out);
  return rc;
}

/* ---- ECDSA and Ed25519: verification ---- */

/* "P-256", "P-384", "P-521" -> the curve's NID and its field size in
 * bytes; 0 for anything else. */
static int curve_of(const char* name, size_t* field) {
  static const struct {
    const char* name;
    int nid;
    size_t field;
  } kCurves[] = {
      {.name = "P-256", .nid = NID_X9_62_prime256v1, .field = 32},
      {.name = "P-384", .nid = NID_secp384r1, .field = 48},
      {.name = "P-521", .nid = NID_secp521r1, .field = 66},
  };
  for (size_t i = 0; i < sizeof kCurves / sizeof kCurves[0]; i++) {
    if (strcmp(name, kCurves[i].name) == 0) {
      *field = kCurves[i].field;
      return kCurves[i].nid;
    }
  }
  return 0;
}

/* The curve argument i (its NID, field size), or 0 after failing the call. */
static int curve_arg(iso_op_call* call, int i, size_t* field) {
  char name[16];
  if (iso_op_arg_str(call, i, "namedCurve", name, sizeof name) != 0) {
    return 0;
  }
  int nid = curve_of(name, field);
  if (nid == 0) {
    iso_op_fail(call, ISO_OPERR_TYPE,
                "%s: unsupported curve \"%s\" (P-256, P-384, P-521)",
                call->def->name, name);
  }
  return nid;
}

/* (namedCurve, point) -> the point, uncompressed, once it is checked to be
 * on the curve (a public key's import). InvalidData when it is not a
 * point of that curve. */
int iso__op_crypto_ec_point(iso_op_call* call) {
  size_t field;
  const uint8_t* pt;
  size_t pt_len;
  int nid = curve_arg(call, 0, &field);
  if (nid == 0 || iso_op_arg_bytes(call, 1, "point", &pt, &pt_len) != 0) {
    return ISO_EOP;
  }
  EC_GROUP* g = EC_GROUP_new_by_curve_name(nid);
  EC_POINT* p = g != NULL ? EC_POINT_new(g) : NULL;
  uint8_t out[1 + 2 * 66];
  size_t n = 0;
  if (p != NULL && EC_POINT_oct2point(g, p, pt, pt_len, NULL) == 1 &&
      !EC_POINT_is_at_infinity(g, p) && EC_POINT_is_on_curve(g, p, NULL) == 1) {
    n = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, out, sizeof out,
                           NULL);
  }
  EC_POINT_free(p);
  EC_GROUP_free(g);
  if (n != 1 + 2 * field) {
    return iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                       "%s: not a point of the curve", call->def->name);
  }
  return iso_op_ret_bin(call, out, n);
}

/* An EVP_PKEY of the uncompressed point on curve nid; NULL if it is not
 * one. */
static EVP_PKEY* ec_public_key(int nid, const uint8_t* pt, size_t pt_len) {
  OSSL_PARAM_BLD* b = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = NULL;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  EVP_PKEY* key = NULL;
  if (b != NULL && ctx != NULL &&
      OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
                                      OBJ_nid2sn(nid), 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                       pt_len) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(b)) != NULL &&
      EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      key = NULL;
    }
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(b);
  EVP_PKEY_CTX_free(ctx);
  return key;
}

/* The DER form of a raw r||s signature of 2 * field bytes (Web Crypto's
 * form; OpenSSL verifies DER). Returns its length, 0 if it cannot be
 * made. *der is OpenSSL's, freed with OPENSSL_free. */
static int ecdsa_der(const uint8_t* sig, size_t field, unsigned char** der) {
  ECDSA_SIG* s = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(sig, (int)field, NULL);
  BIGNUM* t = BN_bin2bn(sig + field, (int)field, NULL);
  int n = 0;
  if (s != NULL && r != NULL && t != NULL && ECDSA_SIG_set0(s, r, t) == 1) {
    r = t = NULL; /* the signature's now */
    n = i2d_ECDSA_SIG(s, der);
  }
  BN_free(r);
  BN_free(t);
  ECDSA_SIG_free(s);
  return n > 0 ? n : 0;
}

/* Whether sig (as the algorithm's verifier takes it) signs data under key
 * with digest md (NULL for Ed25519, which hashes itself). */
static int verify_with(EVP_PKEY* key,
                       const EVP_MD* md,
                       const uint8_t* sig,
                       size_t sig_len,
                       const uint8_t* data,
                       size_t len) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
           EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

/* (namedCurve, hash, point, signature as r||s, data) -> whether it is
 * a signature of data by that public key. A signature of the wrong length
 * is false, as Web Crypto says. */
int iso__op_crypto_ecdsa_verify(iso_op_call* call) {
  size_t field;
  char alg[32];
  const uint8_t *pt, *sig, *data;
  size_t pt_len, sig_len, len;
  int nid = curve_arg(call, 0, &field);
  if (nid == 0 || iso_op_arg_str(call, 1, "hash", alg, sizeof alg) != 0 ||
      iso_op_arg_bytes(call, 2, "point", &pt, &pt_len) != 0 ||
      iso_op_arg_bytes(call, 3, "signature", &sig, &sig_len) != 0 ||
      iso_op_arg_bytes(call, 4, "data", &data, &len) != 0) {
    return ISO_EOP;
  }
  const EVP_MD* md = digest_by_name(alg);
  if (md == NULL) {
    return iso_op_fail(call, ISO_OPERR_TYPE, "%s: unsupported hash \"%s\"",
                       call->def->name, alg);
  }
  if (sig_len != 2 * field) {
    return iso_op_ret_bool(call, 0);
  }
  EVP_PKEY* key = ec_public_key(nid, pt, pt_len);
  if (key == NULL) {
    return iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                       "%s: not a public key of the curve", call->def->name);
  }
  unsigned char* der = NULL;
  int der_len = ecdsa_der(sig, field, &der);
  int ok = der_len > 0 && verify_with(key, md, der, (size_t)der_len, data, len);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return iso_op_ret_bool(call, ok);
}

/* (public key of 32 bytes, signature, data) -> whether it is an Ed25519
 * signature of data by that key. */
int iso__op_crypto_ed25519_verify(iso_op_call* call) {
  const uint8_t *pub, *sig, *data;
  size_t pub_len, sig_len, len;
  if (iso_op_arg_bytes(call, 0, "key", &pub, &pub_len) != 0 ||
      iso_op_arg_bytes(call, 1, "signature", &sig, &sig_len) != 0 ||
      iso_op_arg_bytes(call, 2, "data", &data, &len) != 0) {
    return ISO_EOP;
  }
  EVP_PKEY* key = pub_len == 32 ? EVP_PKEY_new_raw_public_key(
                                      EVP_PKEY_ED25519, NULL, pub, pub_len)
                                : NULL;
  if (key == NULL) {
    return iso_op_fail(call, ISO_OPERR_INVALID_DATA,
                       "%s: not an Ed25519 public key", call->def->name);
  }
  int ok = sig_len == 64 && verify_with(key, NULL, sig, sig_len, data, len);
  EVP_PKEY_free(key);
  return iso_op_ret_bool(call, ok);
}
