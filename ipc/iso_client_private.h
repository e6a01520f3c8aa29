/* iso_client_private.h: what iso_client.c shares with the rest of the
 * client library (iso_client_probe.c). Not installed. */
#ifndef ISO_CLIENT_PRIVATE_H
#define ISO_CLIENT_PRIVATE_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "iso_client.h"

/* iso__client_tls: a TLS client configuration from o's tls_* options
 * (a CA, or tls_insecure; the client's certificate and key; the server
 * name, by default url's host) set on dialer d. Returns 0 with *out (the
 * caller frees it after the dialer's socket is closed), ISO_EINVAL (the
 * options or their files cannot be used) or ISO_ENOMEM. */
int iso__client_tls(nng_dialer d,
                    const char* url,
                    const iso_client_opts* o,
                    nng_tls_config** out);

#endif
