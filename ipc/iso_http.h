/* iso_http.h: a tiny HTTP GET server on NNG's HTTP server, for the
 * metrics page and the health checks (`isopool serve --metrics URL`).
 *
 * One URL (http://HOST:PORT/PATH) serves a few documents, each at a path
 * of its own, each rendered afresh by a callback for every request, on
 * an NNG thread.
 */
#ifndef ISO_HTTP_H
#define ISO_HTTP_H

#include <stddef.h>

#include "iso_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_http iso_http;

/* One document the server answers GET for: path ("/healthz"; NULL: the
 * URL's own path), its Content-Type, and the callback that renders it
 * afresh for every request into out (empty on entry) and may set *status
 * (200 on entry; 503 for a health check that fails). The callback returns
 * 0, or an error (the client gets 500). Thread: an NNG thread. */
typedef struct iso_http_route {
  const char* path;
  const char* content_type;
  int (*render)(void* arg, iso_buf* out, int* status);
} iso_http_route;

/* iso_http_new: constructor; listen on `url` (http:// only) and answer
 * GET on each route's path with what its render gives (arg passed to
 * each). Returns 0, ISO_EINVAL (a bad URL, or two routes on one path,
 * with err) or ISO_EIO (cannot listen, with err). Thread: any. */
int iso_http_new(const char* url,
                 const iso_http_route* routes,
                 size_t nroutes,
                 void* arg,
                 iso_http** out,
                 char* err,
                 size_t errlen);

/* iso_http_free: destructor; stops serving (waits for requests in
 * progress). Accepts NULL. Thread: not an NNG callback of it. */
void iso_http_free(iso_http* h);

#ifdef __cplusplus
}
#endif

#endif /* ISO_HTTP_H */
