/* sandbox_private.h: what sandbox/'s files share. Private to sandbox/. */
#ifndef ISO_SANDBOX_PRIVATE_H
#define ISO_SANDBOX_PRIVATE_H

#include "iso_sandbox.h"

/* iso__sandbox_seccomp: builds the allow-list (seccomp.c's table) and
 * installs it on every thread, with the SIGSYS handler for what it does
 * not list; fills out->seccomp*. Returns 0, ISO_ESANDBOX or ISO_ENOMEM
 * (iso_sandbox_seal). Thread: any thread of the process. */
int iso__sandbox_seccomp(const iso_sandbox_opts* o, iso_sandbox_report* out);

#endif /* ISO_SANDBOX_PRIVATE_H */
