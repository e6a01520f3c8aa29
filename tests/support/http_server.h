/* http_server.h: an HTTP server on 127.0.0.1 for the fetch suites, on
 * NNG's HTTP server (as ipc/iso_http.c serves metrics): no HTTP parsing
 * of our own on either side of a test.
 *
 * Routes (any method; the request body is collected, up to 1 MiB):
 *   /text            200 "hello" (text/plain)
 *   /json            200 {"a":1,"b":[true,null]} (application/json)
 *   /echo            200 JSON {"method", "body", "x_test" (the X-Test
 *                    header or ""), "type" (Content-Type or ""), "auth"
 *                    (Authorization or "")}
 *   /status/N        status N (a 3-digit number), body "status N"
 *   /redirect/N      302 to /redirect/N-1; /redirect/0 to /text
 *   /see-other       303 to /echo
 *   /away            302 to http://localhost:PORT/text (another host name
 *                    for the same server: a grant of 127.0.0.1 misses it)
 *   /away-echo       302 to http://localhost:PORT/echo (another origin)
 *   /near-echo       302 to /echo (the same origin)
 *   /loop            302 to /loop
 *   /slow/MS         "slow" after MS milliseconds
 *   /big/N           N bytes of 'x'
 *   /headers         200 with X-One: 1 and X-Two: "two, 2"
 * Requests are counted (http_server_hits).
 */
#ifndef ISO_TEST_HTTP_SERVER_H
#define ISO_TEST_HTTP_SERVER_H

#include <stddef.h>

typedef struct http_server http_server;

/* http_server_start: listens on 127.0.0.1 on a free port. Returns NULL
 * (after printing why) when it cannot. Thread: any. */
http_server* http_server_start(void);

/* http_server_port: the port it listens on. */
int http_server_port(const http_server* s);

/* http_server_hits: requests handled so far. Thread: any. */
long http_server_hits(http_server* s);

/* http_server_stop: stops and frees; accepts NULL. */
void http_server_stop(http_server* s);

#endif /* ISO_TEST_HTTP_SERVER_H */
