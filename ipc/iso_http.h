/* iso_http.h: a tiny HTTP GET endpoint on NNG's HTTP server, for the
 * Prometheus metrics page (`isopool serve --metrics URL`).
 *
 * One URL (http://HOST:PORT/PATH) serves one document that a callback
 * renders afresh for every request, on an NNG thread.
 */
#ifndef ISO_HTTP_H
#define ISO_HTTP_H

#include <stddef.h>

#include "iso_buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct iso_http iso_http;

/* Renders the document into out (empty on entry). Returns 0, or an
 * error (the client gets 500). Thread: an NNG thread. */
typedef int (*iso_http_render_cb)(void* arg, iso_buf* out);

/* iso_http_new: constructor; listen on `url` (http:// only) and answer
 * GET on its path with render's output and `content_type`. Returns 0,
 * ISO_EINVAL (a bad URL, with err) or ISO_EIO (cannot listen, with err).
 * Thread: any. */
int iso_http_new(const char* url,
                 const char* content_type,
                 iso_http_render_cb render,
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
