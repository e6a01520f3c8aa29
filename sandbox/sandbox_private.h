/* sandbox_private.h: what sandbox/'s files share. Private to sandbox/. */
#ifndef ISO_SANDBOX_PRIVATE_H
#define ISO_SANDBOX_PRIVATE_H

#include "iso_sandbox.h"

/* iso__sandbox_seccomp: builds the allow-list (seccomp.c's table) and
 * installs it on every thread, with the SIGSYS handler for what it does
 * not list; fills out->seccomp*. Returns 0, ISO_ESANDBOX or ISO_ENOMEM
 * (iso_sandbox_seal). Thread: any thread of the process. */
int iso__sandbox_seccomp(const iso_sandbox_opts* o, iso_sandbox_report* out);

/* iso__sandbox_landlock_abi: the Landlock ABI the kernel offers; 0: none
 * (not built in, or disabled at boot). Thread: any. */
int iso__sandbox_landlock_abi(void);

/* iso__sandbox_landlock: restricts the calling thread (and the threads it
 * starts) to reading o->roots and o->read_paths under ABI `abi` (> 0);
 * fills out->landlock*. Returns 0, ISO_ENOENT (a root), ISO_EIO or
 * ISO_ESANDBOX (landlock.c). Thread: the process's only thread. */
int iso__sandbox_landlock(const iso_sandbox_opts* o,
                          int abi,
                          iso_sandbox_report* out);

#endif /* ISO_SANDBOX_PRIVATE_H */
