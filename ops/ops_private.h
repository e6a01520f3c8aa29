/* ops_private.h: what the files of ops/ share and nobody else sees.
 *
 * The service-wide state (iso_ops_env), the kv store's constructor, the
 * path normaliser the permission lists and the fs ops both use, and the op
 * functions the registry's table (registry.c) points at, one group per
 * file.
 */
#ifndef ISO_OPS_PRIVATE_H
#define ISO_OPS_PRIVATE_H

#include <stddef.h>

#include "iso_ops.h"

struct iso_ops_env {
  int root_fd;     /* O_PATH directory fd of the data root; -1: none */
  char* root_path; /* its real path, to check where symlinks lead */
  iso_kv* kv;
  struct iso_net* net; /* fetch's (iso_ops_env_set_net); NULL: none */
};

/* iso__ops_env_net: env's net, or NULL (no env, or none set). */
static inline struct iso_net* iso__ops_env_net(const iso_ops_env* env) {
  return env != NULL ? env->net : NULL;
}

/* iso__ops_kv_new: constructor of the kv store (kv.c), capped at
 * max_bytes (> 0): in the LMDB file opts->kv_path, else in memory. Returns
 * 0 and *out, or an error with a sentence in err (iso_ops_env_new's).
 * iso__ops_kv_free: destructor; accepts NULL. iso__ops_kv_path: the
 * store's file, NULL in memory. Thread: any. */
int iso__ops_kv_new(const iso_ops_env_opts* opts,
                    size_t max_bytes,
                    iso_kv** out,
                    char* err,
                    size_t errlen);
void iso__ops_kv_free(iso_kv* kv);
const char* iso__ops_kv_path(const iso_kv* kv);

/* iso__ops_path_norm: normalises a path relative to the data root into
 * out (cap bytes): "." and empty components are dropped and ".." removes
 * the previous component. strict (permission lists) refuses ".." and
 * empty components other than a trailing '/' instead. Returns 0 ("" is
 * the root), or an error with *why saying what is wrong with the path as
 * the end of a sentence ("is an absolute path (...)"): ISO_EPERM (it is
 * absolute, or climbs above the root or, when strict, has ".."),
 * ISO_EINVAL (an empty component, strict only) or ISO_ETOOBIG (longer
 * than cap). Thread: any. */
int iso__ops_path_norm(const char* in,
                       int strict,
                       char* out,
                       size_t cap,
                       const char** why);

/* iso__ops_err_of_errno: the class of an op that failed with errno e
 * (outside path resolution, where EXDEV and ELOOP mean an escape):
 * ENOENT and ENOTDIR NotFound, EEXIST AlreadyExists, EACCES and EPERM
 * PermissionDenied, ENXIO InvalidData, anything else Error. One table
 * (registry.c). Thread: any. */
iso_op_err iso__ops_err_of_errno(int e);

/* iso__ops_strerror: errno e as text starting in lower case ("no such
 * file or directory"), in buf or a static string. Thread: any. */
const char* iso__ops_strerror(int e, char* buf, size_t len);

/* iso__perms_net_entry: checks a net entry, HOST or HOST:PORT, and
 * writes its canonical form to out (lowercased; an IPv6 address in
 * brackets in inet_ntop's form; the port without leading zeros). Returns 0,
 * or ISO_EINVAL with *why saying what is wrong ("has no host"). Thread:
 * any. */
int iso__perms_net_entry(const char* in,
                         char* out,
                         size_t outlen,
                         const char** why);

/* iso__ops_arg_present: 1 iff argument i was passed and is not nil. */
int iso__ops_arg_present(const iso_op_call* call, int i);

/* The op functions (one group per file). */
int iso__op_fs_read_file(iso_op_call* call);
int iso__op_fs_write_file(iso_op_call* call);
int iso__op_fs_read_dir(iso_op_call* call);
int iso__op_fs_stat(iso_op_call* call);
int iso__op_fs_mkdir(iso_op_call* call);
int iso__op_fs_remove(iso_op_call* call);
int iso__op_fs_rename(iso_op_call* call);

int iso__op_kv_get(iso_op_call* call);
int iso__op_kv_set(iso_op_call* call);
int iso__op_kv_delete(iso_op_call* call);
int iso__op_kv_list(iso_op_call* call);
int iso__op_kv_increment(iso_op_call* call);

int iso__op_crypto_random(iso_op_call* call);
int iso__op_crypto_random_uuid(iso_op_call* call);
int iso__op_crypto_digest(iso_op_call* call);
int iso__op_crypto_hmac(iso_op_call* call);
/* fetch.c */
int iso__op_fetch_start(iso_op_call* call);
int iso__op_fetch_send(iso_op_call* call);
int iso__op_fetch_read(iso_op_call* call);
int iso__op_fetch_cancel(iso_op_call* call);
int iso__op_fetch_release(iso_op_call* call);
int iso__op_crypto_hmac_verify(iso_op_call* call);
int iso__op_crypto_aes_gcm(iso_op_call* call);
int iso__op_crypto_ec_point(iso_op_call* call);
int iso__op_crypto_ecdsa_verify(iso_op_call* call);
int iso__op_crypto_ed25519_verify(iso_op_call* call);

#endif /* ISO_OPS_PRIVATE_H */
