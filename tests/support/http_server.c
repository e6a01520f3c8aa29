/* http_server.c: the fetch suites' HTTP server (http_server.h), one tree
 * handler on NNG's HTTP server that picks the route by path. */
#include "http_server.h"

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_server {
  nng_url* url;
  nng_http_server* server;
  int port;
  atomic_long hits;
};

static int reply(nng_aio* aio,
                 uint16_t status,
                 const char* type,
                 const void* body,
                 size_t len,
                 const char* location) {
  nng_http_res* res = NULL;
  int rc = nng_http_res_alloc(&res);
  if (rc == 0) {
    rc = nng_http_res_set_status(res, status);
  }
  if (rc == 0 && type != NULL) {
    rc = nng_http_res_set_header(res, "Content-Type", type);
  }
  if (rc == 0 && location != NULL) {
    rc = nng_http_res_set_header(res, "Location", location);
  }
  if (rc == 0 && len > 0) {
    rc = nng_http_res_copy_data(res, body, len);
  }
  if (rc != 0) {
    nng_http_res_free(res);
    nng_aio_finish(aio, rc);
    return rc;
  }
  nng_aio_set_output(aio, 0, res);
  nng_aio_finish(aio, 0);
  return 0;
}

/* s as a JSON string's contents (ASCII printable kept, else \u escapes) */
static void json_str(char* out, size_t cap, const char* s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 7 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      out[k++] = '\\';
      out[k++] = (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      k += (size_t)snprintf(out + k, cap - k, "\\u%04x", c);
    } else {
      out[k++] = (char)c;
    }
  }
  out[k] = '\0';
}

static void handler_cb(nng_aio* aio) {
  nng_http_req* req = nng_aio_get_input(aio, 0);
  nng_http_handler* hd = nng_aio_get_input(aio, 1);
  http_server* s = nng_http_handler_get_data(hd);
  atomic_fetch_add(&s->hits, 1);
  const char* uri = nng_http_req_get_uri(req);
  char path[256];
  snprintf(path, sizeof path, "%s", uri);
  path[strcspn(path, "?")] = '\0';
  char loc[128];
  long n = 0;
  if (strcmp(path, "/text") == 0) {
    reply(aio, 200, "text/plain", "hello", 5, NULL);
  } else if (strcmp(path, "/json") == 0) {
    const char* j = "{\"a\":1,\"b\":[true,null]}";
    reply(aio, 200, "application/json", j, strlen(j), NULL);
  } else if (strcmp(path, "/echo") == 0) {
    void* data = NULL;
    size_t len = 0;
    nng_http_req_get_data(req, &data, &len);
    const char* xt = nng_http_req_get_header(req, "X-Test");
    const char* ct = nng_http_req_get_header(req, "Content-Type");
    const char* au = nng_http_req_get_header(req, "Authorization");
    static _Thread_local char body[4096], x[512], t[512], a[512], out[6000];
    json_str(body, sizeof body, data != NULL ? data : "", len);
    json_str(x, sizeof x, xt ? xt : "", xt ? strlen(xt) : 0);
    json_str(t, sizeof t, ct ? ct : "", ct ? strlen(ct) : 0);
    json_str(a, sizeof a, au ? au : "", au ? strlen(au) : 0);
    int k = snprintf(out, sizeof out,
                     "{\"method\":\"%s\",\"body\":\"%s\",\"x_test\":\"%s\","
                     "\"type\":\"%s\",\"auth\":\"%s\"}",
                     nng_http_req_get_method(req), body, x, t, a);
    reply(aio, 200, "application/json", out, (size_t)k, NULL);
  } else if (sscanf(path, "/status/%ld", &n) == 1 && n >= 100 && n < 1000) {
    char b[32];
    int k = snprintf(b, sizeof b, "status %ld", n);
    reply(aio, (uint16_t)n, "text/plain", b, (size_t)k, NULL);
  } else if (sscanf(path, "/redirect/%ld", &n) == 1 && n >= 0) {
    if (n == 0) {
      snprintf(loc, sizeof loc, "/text");
    } else {
      snprintf(loc, sizeof loc, "/redirect/%ld", n - 1);
    }
    reply(aio, 302, "text/plain", "moved", 5, loc);
  } else if (strcmp(path, "/see-other") == 0) {
    reply(aio, 303, "text/plain", "see", 3, "/echo");
  } else if (strcmp(path, "/away") == 0) {
    snprintf(loc, sizeof loc, "http://localhost:%d/text", s->port);
    reply(aio, 302, "text/plain", "away", 4, loc);
  } else if (strcmp(path, "/away-echo") == 0) {
    snprintf(loc, sizeof loc, "http://localhost:%d/echo", s->port);
    reply(aio, 302, "text/plain", "away", 4, loc);
  } else if (strcmp(path, "/near-echo") == 0) {
    reply(aio, 302, "text/plain", "near", 4, "/echo");
  } else if (strcmp(path, "/loop") == 0) {
    reply(aio, 302, "text/plain", "loop", 4, "/loop");
  } else if (sscanf(path, "/slow/%ld", &n) == 1 && n >= 0) {
    nng_msleep((nng_duration)n);
    reply(aio, 200, "text/plain", "slow", 4, NULL);
  } else if (sscanf(path, "/big/%ld", &n) == 1 && n >= 0 && n <= (1L << 30)) {
    char* b = malloc(n > 0 ? (size_t)n : 1);
    if (b == NULL) {
      nng_aio_finish(aio, NNG_ENOMEM);
      return;
    }
    memset(b, 'x', (size_t)n);
    reply(aio, 200, "application/octet-stream", b, (size_t)n, NULL);
    free(b);
  } else if (strcmp(path, "/headers") == 0) {
    nng_http_res* res = NULL;
    if (nng_http_res_alloc(&res) != 0) {
      nng_aio_finish(aio, NNG_ENOMEM);
      return;
    }
    nng_http_res_set_header(res, "X-One", "1");
    nng_http_res_set_header(res, "X-Two", "two, 2");
    nng_http_res_copy_data(res, "h", 1);
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
  } else {
    reply(aio, 404, "text/plain", "no route", 8, NULL);
  }
}

http_server* http_server_start(void) {
  http_server* s = calloc(1, sizeof *s);
  nng_http_handler* hd = NULL;
  nng_sockaddr sa;
  int rc =
      s != NULL ? nng_url_parse(&s->url, "http://127.0.0.1:0") : NNG_ENOMEM;
  if (rc == 0) {
    rc = nng_http_server_hold(&s->server, s->url);
  }
  if (rc == 0) {
    rc = nng_http_handler_alloc(&hd, "/", handler_cb);
  }
  if (rc == 0) {
    nng_http_handler_set_method(hd, NULL); /* any method */
    nng_http_handler_collect_body(hd, true, (size_t)1 << 20);
    nng_http_handler_set_tree(hd);
    nng_http_handler_set_data(hd, s, NULL);
    rc = nng_http_server_add_handler(s->server, hd);
    if (rc != 0) {
      nng_http_handler_free(hd);
    }
  }
  if (rc == 0) {
    rc = nng_http_server_start(s->server);
  }
  if (rc == 0) {
    rc = nng_http_server_get_addr(s->server, &sa);
  }
  if (rc != 0) {
    fprintf(stderr, "http_server: %s\n", nng_strerror(rc));
    http_server_stop(s);
    return NULL;
  }
  s->port = ntohs(sa.s_in.sa_port);
  return s;
}

int http_server_port(const http_server* s) {
  return s->port;
}

long http_server_hits(http_server* s) {
  return atomic_load(&s->hits);
}

void http_server_stop(http_server* s) {
  if (s == NULL) {
    return;
  }
  if (s->server != NULL) {
    nng_http_server_stop(s->server);
    nng_http_server_release(s->server);
  }
  if (s->url != NULL) {
    nng_url_free(s->url);
  }
  free(s);
}
