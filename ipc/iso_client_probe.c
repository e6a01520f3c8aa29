/* iso_client_probe.c: can a client reach a URL now, and if not, why
 * (iso_client.h, iso_client_probe).
 *
 * A client's dialer retries in the background and keeps why a dial
 * failed to itself, so a client that cannot connect learns only that it
 * did not within its wait. A user needs the reason at once: the socket
 * file is not there, nothing listens on the port, the certificate is not
 * trusted. The probe makes one synchronous dial of its own (a REQ0
 * socket, the client's TLS options) and keeps NNG's error: it fails in
 * milliseconds where the system knows at once, and a connection it makes
 * is a whole one (the SP handshake done) that it then closes. (A bare
 * connect(2) that closed before the handshake would harm the server:
 * NNG 1.5.2 stops accepting on such a listener until the service's
 * watcher restarts it, ipc/iso_server.c.)
 *
 * DESIGN: NNG's synchronous dial waits as long as the system's connect
 * does (minutes, for a host that drops packets), so it runs on a thread
 * of its own; the caller waits for it at most wait_ms, then closes the
 * probe's socket, which ends the dial, and joins the thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "iso_client.h"
#include "iso_client_private.h"
#include "iso_err.h"

typedef struct probe {
  nng_dialer dialer;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done; /* the dial returned: rv is its result */
  int rv;
} probe;

static void* dial_main(void* arg) {
  probe* p = arg;
  int rv = nng_dialer_start(p->dialer, 0);
  pthread_mutex_lock(&p->mu);
  p->rv = rv;
  p->done = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* The text of a failed dial of url: what happened, what to check. */
static void say(const char* url, int rv, int wait_ms, char* why, size_t len) {
  int ipc = strncmp(url, "ipc://", 6) == 0;
  const char* where = ipc ? url + 6 : url;
  if (ipc && rv == NNG_ECONNREFUSED && access(where, F_OK) != 0) {
    rv = NNG_ENOENT; /* NNG says refused for both */
  }
  switch (rv) {
    case NNG_ENOENT:
      snprintf(why, len,
               "no such socket %s (is the service running, and does its "
               "--listen or --admin name this path?)",
               where);
      break;
    case NNG_ECONNREFUSED:
      snprintf(why, len,
               ipc ? "connection refused at %s (the file is there but "
                     "nothing listens: a service that was killed?)"
                   : "connection refused by %s (is the service running, "
                     "and listening on this address and port?)",
               where);
      break;
    case NNG_EPERM:
      snprintf(why, len,
               "permission denied for %s (the socket's or its directory's "
               "mode: a service of another user or group?)",
               where);
      break;
    case NNG_EADDRINVAL:
      snprintf(why, len,
               "%s is not an address that can be dialed (a host name that "
               "does not resolve, or a path too long?)",
               where);
      break;
    case NNG_ECRYPTO:
    case NNG_EPEERAUTH:
      snprintf(why, len,
               "the TLS handshake with %s failed: %s (check --tls-ca, "
               "--tls-server-name and --tls-cert/--tls-key)",
               where, nng_strerror(rv));
      break;
    case NNG_EPROTO:
    case NNG_ECONNSHUT:
    case NNG_ECONNRESET:
    case NNG_ECONNABORTED:
      snprintf(why, len,
               "%s answered but did not complete an NNG handshake (%s): is "
               "an isopool service listening there, with this transport?",
               where, nng_strerror(rv));
      break;
    case NNG_ETIMEDOUT:
    case NNG_ECLOSED:
      snprintf(why, len,
               "no answer from %s within %d ms (the host down, a firewall "
               "dropping the connection, or a service too busy to accept?)",
               where, wait_ms);
      break;
    default:
      snprintf(why, len, "%s: %s", where, nng_strerror(rv));
      break;
  }
}

int iso_client_probe(const char* url,
                     const iso_client_opts* opts,
                     int wait_ms,
                     char* why,
                     size_t len) {
  why[0] = '\0';
  nng_socket sock;
  int rv = nng_req0_open(&sock);
  if (rv != 0) {
    snprintf(why, len, "%s", nng_strerror(rv));
    return rv == NNG_ENOMEM ? ISO_ENOMEM : ISO_EIO;
  }
  probe p = {0};
  nng_tls_config* tls = NULL;
  rv = nng_dialer_create(&p.dialer, sock, url);
  if (rv != 0) {
    nng_close(sock);
    snprintf(why, len, "\"%s\" is not a URL this client can dial (%s)", url,
             nng_strerror(rv));
    return ISO_EINVAL;
  }
  if (strncmp(url, "tls+", 4) == 0) {
    int rc = iso__client_tls(p.dialer, url, opts, &tls);
    if (rc != 0) {
      nng_close(sock);
      snprintf(why, len,
               "its TLS options cannot be used (a tls+tcp:// URL needs a CA "
               "file; the certificate and key files must be readable PEM, "
               "given both or neither)");
      return rc;
    }
  }
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.cv, NULL);
  pthread_t t;
  int started = pthread_create(&t, NULL, dial_main, &p) == 0;
  if (started) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p.mu);
    while (!p.done &&
           pthread_cond_timedwait(&p.cv, &p.mu, &until) != ETIMEDOUT) {
    }
    int done = p.done;
    pthread_mutex_unlock(&p.mu);
    if (!done) {
      p.rv = NNG_ETIMEDOUT;
    }
    nng_close(sock); /* ends a dial still under way */
    pthread_join(t, NULL);
    rv = done ? p.rv : NNG_ETIMEDOUT;
  } else {
    nng_close(sock);
    rv = NNG_ENOMEM;
  }
  pthread_cond_destroy(&p.cv);
  pthread_mutex_destroy(&p.mu);
  if (tls != NULL) {
    nng_tls_config_free(tls);
  }
  if (rv == 0) {
    return 0;
  }
  say(url, rv, wait_ms, why, len);
  return rv == NNG_ENOMEM ? ISO_ENOMEM : ISO_ECONNECT;
}
