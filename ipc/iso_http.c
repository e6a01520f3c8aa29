/* iso_http.c: a few GET documents on NNG's HTTP server (see iso_http.h).
 */
#include "iso_http.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"

/* What a handler renders: its route and the server's argument. */
typedef struct http_doc {
  iso_http_route route;
  void* arg;
} http_doc;

struct iso_http {
  nng_url* url;
  nng_http_server* server;
  http_doc* docs;
  size_t ndocs;
};

static void handler_cb(nng_aio* aio) {
  nng_http_handler* hd = nng_aio_get_input(aio, 1);
  const http_doc* d = nng_http_handler_get_data(hd);
  nng_http_res* res = NULL;
  iso_buf body;
  iso_buf_init(&body);
  int status = NNG_HTTP_STATUS_OK;
  int rc = nng_http_res_alloc(&res);
  if (rc == 0 && d->route.render(d->arg, &body, &status) == 0) {
    rc = nng_http_res_set_header(res, "Content-Type", d->route.content_type);
    if (rc == 0) {
      rc = nng_http_res_set_header(res, "Cache-Control", "no-store");
    }
    if (rc == 0 && status != NNG_HTTP_STATUS_OK) {
      rc = nng_http_res_set_status(res, (uint16_t)status);
    }
    if (rc == 0) {
      rc = nng_http_res_copy_data(res, body.data, body.len);
    }
  } else if (rc == 0) {
    nng_http_res_set_status(res, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR);
  }
  iso_buf_close(&body);
  if (rc != 0) {
    nng_http_res_free(res);
    nng_aio_finish(aio, rc);
    return;
  }
  nng_aio_set_output(aio, 0, res);
  nng_aio_finish(aio, 0);
}

int iso_http_new(const char* url,
                 const iso_http_route* routes,
                 size_t nroutes,
                 void* arg,
                 iso_http** out,
                 char* err,
                 size_t errlen) {
  iso_http* h = calloc(1, sizeof(*h));
  http_doc* docs = calloc(nroutes, sizeof(*docs));
  if (h == NULL || docs == NULL) {
    free(h);
    free(docs);
    snprintf(err, errlen, "out of memory");
    return ISO_ENOMEM;
  }
  h->docs = docs;
  h->ndocs = nroutes;
  if (strncmp(url, "http://", 7) != 0 || nng_url_parse(&h->url, url) != 0) {
    snprintf(err, errlen,
             "--metrics %s: not an http:// URL (e.g. "
             "http://127.0.0.1:9447/metrics)",
             url);
    iso_http_free(h);
    return ISO_EINVAL;
  }
  const char* own = h->url->u_path[0] != '\0' ? h->url->u_path : "/";
  for (size_t i = 0; i < nroutes; i++) {
    docs[i].route = routes[i];
    docs[i].arg = arg;
    if (docs[i].route.path == NULL) {
      docs[i].route.path = own;
    }
    for (size_t k = 0; k < i; k++) {
      if (strcmp(docs[k].route.path, docs[i].route.path) == 0) {
        snprintf(err, errlen,
                 "--metrics %s: its path %s is taken by another page of "
                 "the server",
                 url, docs[i].route.path);
        iso_http_free(h);
        return ISO_EINVAL;
      }
    }
  }
  int rc = nng_http_server_hold(&h->server, h->url);
  for (size_t i = 0; rc == 0 && i < nroutes; i++) {
    nng_http_handler* hd = NULL;
    rc = nng_http_handler_alloc(&hd, docs[i].route.path, handler_cb);
    if (rc == 0) {
      nng_http_handler_set_method(hd, "GET");
      nng_http_handler_set_data(hd, &docs[i], NULL);
      rc = nng_http_server_add_handler(h->server, hd);
      if (rc != 0) {
        nng_http_handler_free(hd);
      }
    }
  }
  if (rc == 0) {
    rc = nng_http_server_start(h->server);
  }
  if (rc != 0) {
    snprintf(err, errlen, "cannot serve %s: %s", url, nng_strerror(rc));
    iso_http_free(h);
    return ISO_EIO;
  }
  *out = h;
  return 0;
}

void iso_http_free(iso_http* h) {
  if (h == NULL) {
    return;
  }
  if (h->server != NULL) {
    nng_http_server_stop(h->server);
    nng_http_server_release(h->server);
  }
  if (h->url != NULL) {
    nng_url_free(h->url);
  }
  free(h->docs);
  free(h);
}
