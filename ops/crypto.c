/* crypto.c: isopool:crypto's native half (op_crypto_*).
 *
 * Random bytes come from the kernel (getrandom(2)); digests from OpenSSL's
 * libcrypto (EVP), never from hand-written hash code. These ops need no
 * permission and touch no shared state.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
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
