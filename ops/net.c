/* net.c: fetch's transfers on libcurl's multi interface (iso_net.h).
 *
 * DESIGN: one CURLM, driven by one thread (the net thread: whoever calls
 * iso_net_run) with curl_multi_poll; other threads hand it commands on a
 * list under `lock` and wake it with curl_multi_wakeup. curl_multi_poll
 * rather than libuv socket callbacks: the net thread runs nothing else,
 * so a loop would add the socket and timer glue
 * (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION) and gain nothing; poll(2)'s cost
 * per wake is linear in the transfers, which stays small against the
 * transfer itself for the hundreds a service has in flight. Every
 * libcurl call, every transfer and every callback is the net thread's,
 * so transfers need no lock of their own.
 *
 * A transfer (xfer) lives from its start command until its body's end is
 * read, it fails before its head, or it is cancelled or released. Each
 * hop is one easy handle: redirects are followed here
 * (CURLOPT_FOLLOWLOCATION off), so each hop's host and port are checked
 * against the caller's permissions before it connects. The header
 * callback notes the end of a hop's head; the write callback buffers the
 * body up to ISO_NET_BUFFER_BYTES and then pauses the handle
 * (CURL_WRITEFUNC_PAUSE: libcurl hands the same bytes again once a read
 * unpauses it), so a body nobody reads costs one buffer, and counts the
 * body against the limit. After each round of libcurl's work, pump()
 * answers what became answerable.
 *
 * DNS: Debian's libcurl resolves names on a thread of its own (its
 * threaded resolver, the AsynchDNS feature); iso_net_new refuses a
 * libcurl without it, since a blocking resolve would stop every transfer.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "iso_err.h"
#include "iso_mp.h"
#include "iso_net.h"
#include "iso_utf8.h"

#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DEFAULT_CONNECT_MS 30000L
#define BUCKETS 1024
/* rid, status, statusText, headers, url, redirected (build_head) */
#define HEAD_ENTRIES 6

typedef struct xfer xfer;

typedef enum cmd_kind { C_START, C_SEND, C_READ, C_CANCEL, C_RELEASE } cmd_kind;

typedef struct cmd {
  struct cmd* next;
  cmd_kind kind;
  uint64_t owner;
  uint32_t rid;
  uint64_t job;
  iso_net_cb cb;
  void* data;
  xfer* x;       /* C_START: made on the caller's thread */
  char bad[256]; /* C_START: the request's problem (TypeError) */
} cmd;

struct xfer {
  xfer* hnext; /* in its bucket */
  xfer* next;  /* in net->all */
  xfer* prev;
  iso_net* net;
  uint64_t owner;
  uint32_t rid;
  uint64_t job; /* (realm << 32 | tag): iso_net_release */
  const iso_perms* perms;
  /* the request */
  char* method;
  char* url; /* this hop's */
  struct curl_slist* headers;
  uint8_t* body;
  size_t body_len;
  iso_net_redirect redirect;
  uint64_t deadline_ms;
  int redirects;
  /* this hop */
  CURL* easy;
  int hop_head;     /* its head has ended (a final status) */
  int hop_redirect; /* and it is a redirect being followed */
  char status_text[128];
  char errbuf[CURL_ERROR_SIZE];
  /* the response */
  int head_ready; /* the head to answer send with */
  int head_built; /* in head: its map's entries, built while the handle is */
  iso_buf head;
  int head_sent;
  int done;   /* the last hop ended (done or failed) */
  int failed; /* with fail_* */
  iso_op_err fail_err;
  const char* fail_name;
  char fail_msg[384];
  iso_buf buf; /* body bytes not read yet */
  size_t body_total;
  int paused;
  /* the commands waiting */
  int send_at_start; /* iso_net_req.send */
  int started;       /* its first hop has started (at start, or on send) */
  int send_waiting;  /* a send came (send_cb) */
  iso_net_cb send_cb;
  void* send_data;
  int reading;
  iso_net_cb read_cb;
  void* read_data;
};

struct iso_net {
  CURLM* multi;
  size_t max_body;
  long connect_ms;
  pthread_mutex_t lock; /* cmds, stopped */
  cmd* cmds;
  cmd** cmds_tail;
  int stopped;
  /* the net thread's */
  xfer* buckets[BUCKETS];
  xfer* all;
  atomic_size_t count; /* read by any thread */
  uint32_t next_rid;
  iso_buf out; /* answers are written here */
};

/* ---- answers ---- */

static void answer_err(iso_net_cb cb,
                       void* data,
                       iso_op_err err,
                       const char* name,
                       const char* fmt,
                       ...) __attribute__((format(printf, 5, 6)));

static void answer_err(iso_net_cb cb,
                       void* data,
                       iso_op_err err,
                       const char* name,
                       const char* fmt,
                       ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  iso_net_done d = {.err = err, .name = name, .msg = msg};
  cb(data, &d);
}

static void answer_value(iso_net* net,
                         iso_net_cb cb,
                         void* data,
                         const iso_buf* v) {
  (void)net;
  iso_net_done d = {.err = ISO_OPERR_NONE, .value = v->data, .len = v->len};
  cb(data, &d);
}

static void answer_nil(iso_net* net, iso_net_cb cb, void* data) {
  static const uint8_t nil = 0xc0;
  (void)net;
  iso_net_done d = {.err = ISO_OPERR_NONE, .value = &nil, .len = 1};
  cb(data, &d);
}

static void xfer_drop(xfer* x);

/* Answers cb with x's failure after dropping x, so that whoever the
 * answer wakes sees it gone. */
static void drop_and_fail(xfer* x, iso_net_cb cb, void* data) {
  iso_op_err err = x->fail_err;
  const char* name = x->fail_name;
  char msg[sizeof x->fail_msg];
  memcpy(msg, x->fail_msg, sizeof msg);
  xfer_drop(x);
  answer_err(cb, data, err, name, "%s", msg);
}

static void fail(xfer* x,
                 iso_op_err err,
                 const char* name,
                 const char* fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static void fail(xfer* x,
                 iso_op_err err,
                 const char* name,
                 const char* fmt,
                 ...) {
  if (x->failed) {
    return; /* the first cause stays */
  }
  x->failed = 1;
  x->fail_err = err;
  x->fail_name = name;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->fail_msg, sizeof x->fail_msg, fmt, ap);
  va_end(ap);
}

/* ---- transfers ---- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static xfer* find(iso_net* net, uint64_t owner, uint32_t rid) {
  for (xfer* x = net->buckets[rid % BUCKETS]; x != NULL; x = x->hnext) {
    if (x->rid == rid) {
      return x->owner == owner ? x : NULL;
    }
  }
  return NULL;
}

static void hop_end(xfer* x) {
  if (x->easy != NULL) {
    curl_multi_remove_handle(x->net->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
  }
}

static void xfer_free(xfer* x) {
  if (x == NULL) {
    return;
  }
  hop_end(x);
  curl_slist_free_all(x->headers);
  iso_perms_unref(x->perms);
  free(x->method);
  free(x->url);
  free(x->body);
  iso_buf_close(&x->buf);
  iso_buf_close(&x->head);
  free(x);
}

/* Unlinks x from the net's tables and frees it. */
static void xfer_drop(xfer* x) {
  iso_net* net = x->net;
  xfer** pp = &net->buckets[x->rid % BUCKETS];
  while (*pp != x) {
    pp = &(*pp)->hnext;
  }
  *pp = x->hnext;
  if (x->prev != NULL) {
    x->prev->next = x->next;
  } else {
    net->all = x->next;
  }
  if (x->next != NULL) {
    x->next->prev = x->prev;
  }
  atomic_fetch_sub(&net->count, 1);
  xfer_free(x);
}

/* Ends x now: its waiting send or read answers with the error given. */
static void xfer_abort(xfer* x,
                       iso_op_err err,
                       const char* name,
                       const char* msg) {
  int send = x->send_waiting && !x->head_sent, read = x->reading;
  iso_net_cb send_cb = x->send_cb, read_cb = x->read_cb;
  void *send_data = x->send_data, *read_data = x->read_data;
  xfer_drop(x);
  if (send) {
    answer_err(send_cb, send_data, err, name, "%s", msg);
  }
  if (read) {
    answer_err(read_cb, read_data, err, name, "%s", msg);
  }
}

/* ---- the request's checks (any thread) ---- */

static int is_tchar(int c) {
  return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_token(const char* s, size_t n) {
  if (n == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!is_tchar((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

/* Host and port of an http(s) URL, with the scheme's default port. */
static int url_target(const char* url,
                      char* host,
                      size_t hostlen,
                      int* port,
                      char* why,
                      size_t whylen) {
  CURLU* u = curl_url();
  char *scheme = NULL, *h = NULL, *p = NULL;
  int rc = ISO_EINVAL;
  if (u == NULL) {
    snprintf(why, whylen, "out of memory");
    return ISO_ENOMEM;
  }
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
    snprintf(why, whylen, "\"%.200s\" is not a valid URL", url);
  } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    snprintf(why, whylen,
             "scheme \"%.40s\" is not supported (fetch takes http: and "
             "https:)",
             scheme != NULL ? scheme : "");
  } else if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
             strlen(h) >= hostlen) {
    snprintf(why, whylen, "\"%.200s\" has no host", url);
  } else if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) !=
             CURLUE_OK) {
    snprintf(why, whylen, "\"%.200s\" has no port", url);
  } else {
    snprintf(host, hostlen, "%s", h);
    *port = atoi(p);
    rc = 0;
  }
  curl_free(scheme);
  curl_free(h);
  curl_free(p);
  curl_url_cleanup(u);
  return rc;
}

static int check_req(const iso_net_req* req, char* why, size_t whylen) {
  const char* m = req->method != NULL ? req->method : "GET";
  if (!is_token(m, strlen(m))) {
    snprintf(why, whylen, "\"%.100s\" is not a valid HTTP method", m);
    return ISO_EINVAL;
  }
  static const char* const forbidden[] = {"CONNECT", "TRACE", "TRACK"};
  for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
    if (strcasecmp(m, forbidden[i]) == 0) {
      snprintf(why, whylen, "method \"%s\" is forbidden", m);
      return ISO_EINVAL;
    }
  }
  if (req->body != NULL &&
      (strcasecmp(m, "GET") == 0 || strcasecmp(m, "HEAD") == 0)) {
    snprintf(why, whylen, "a request with a %s method cannot have a body", m);
    return ISO_EINVAL;
  }
  char host[256];
  int port;
  if (req->url == NULL) {
    snprintf(why, whylen, "no URL");
    return ISO_EINVAL;
  }
  int rc = url_target(req->url, host, sizeof host, &port, why, whylen);
  if (rc != 0) {
    return rc;
  }
  if (req->nheaders > ISO_NET_MAX_HEADERS) {
    snprintf(why, whylen, "at most %d headers (got %zu)", ISO_NET_MAX_HEADERS,
             req->nheaders);
    return ISO_EINVAL;
  }
  size_t total = 0;
  for (size_t i = 0; i < req->nheaders; i++) {
    iso_str n = req->headers[2 * i], v = req->headers[2 * i + 1];
    if (!is_token(n.ptr, n.len)) {
      snprintf(why, whylen, "header name \"%.*s\" is not valid",
               (int)(n.len < 100 ? n.len : 100), n.ptr ? n.ptr : "");
      return ISO_EINVAL;
    }
    for (size_t k = 0; k < v.len; k++) {
      if (v.ptr[k] == '\r' || v.ptr[k] == '\n' || v.ptr[k] == '\0') {
        snprintf(why, whylen,
                 "header \"%.*s\" has a CR, LF or NUL in its value",
                 (int)(n.len < 100 ? n.len : 100), n.ptr);
        return ISO_EINVAL;
      }
    }
    total += n.len + v.len + 4;
  }
  if (total > ISO_NET_MAX_HEADER_BYTES) {
    snprintf(why, whylen, "the headers take more than %zu KiB",
             ISO_NET_MAX_HEADER_BYTES >> 10);
    return ISO_EINVAL;
  }
  return 0;
}

static xfer* xfer_make(const iso_net_req* req) {
  xfer* x = calloc(1, sizeof *x);
  if (x == NULL) {
    return NULL;
  }
  iso_buf_init(&x->buf);
  iso_buf_init(&x->head);
  x->send_at_start = req->send;
  x->method = strdup(req->method != NULL ? req->method : "GET");
  x->url = strdup(req->url);
  if (req->body != NULL) {
    x->body = malloc(req->body_len > 0 ? req->body_len : 1);
    if (x->body != NULL && req->body_len > 0) {
      memcpy(x->body, req->body, req->body_len);
    }
    x->body_len = req->body_len;
  }
  int ok = x->method != NULL && x->url != NULL &&
           (req->body == NULL || x->body != NULL);
  /* methods are sent as given but for the standard's normalised ones */
  static const char* const norm[] = {"DELETE",  "GET",  "HEAD",
                                     "OPTIONS", "POST", "PUT"};
  for (size_t i = 0; ok && i < sizeof norm / sizeof norm[0]; i++) {
    if (strcasecmp(x->method, norm[i]) == 0) {
      strcpy(x->method, norm[i]);
    }
  }
  for (size_t i = 0; ok && i < req->nheaders; i++) {
    iso_str n = req->headers[2 * i], v = req->headers[2 * i + 1];
    size_t len = n.len + v.len + 3;
    char* line = malloc(len);
    if (line == NULL) {
      ok = 0;
      break;
    }
    /* "Name:" alone would remove the header: "Name;" sends it empty */
    snprintf(line, len, "%.*s%s%.*s", (int)n.len, n.ptr, v.len ? ": " : ";",
             (int)v.len, v.ptr != NULL ? v.ptr : "");
    struct curl_slist* l = curl_slist_append(x->headers, line);
    free(line);
    if (l == NULL) {
      ok = 0;
      break;
    }
    x->headers = l;
  }
  if (ok) { /* no 100-continue round trip */
    struct curl_slist* l = curl_slist_append(x->headers, "Expect:");
    ok = l != NULL;
    x->headers = l != NULL ? l : x->headers;
  }
  x->redirect = req->redirect;
  x->deadline_ms = req->deadline_ms;
  x->job = req->job;
  if (!ok) {
    xfer_free(x);
    return NULL;
  }
  return x;
}

/* ---- libcurl's callbacks ---- */

static int is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

static size_t header_cb(char* p, size_t size, size_t n, void* arg) {
  xfer* x = arg;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a status line */
    size_t end = len;
    while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == '\n')) {
      end--;
    }
    const char* sp1 = memchr(p, ' ', end);
    const char* sp2 =
        sp1 != NULL ? memchr(sp1 + 1, ' ', end - (size_t)(sp1 + 1 - p)) : NULL;
    size_t rl = sp2 != NULL ? end - (size_t)(sp2 + 1 - p) : 0;
    rl = rl < sizeof x->status_text ? rl : sizeof x->status_text - 1;
    if (rl > 0) {
      memcpy(x->status_text, sp2 + 1, rl);
    }
    x->status_text[rl] = '\0';
    return len;
  }
  if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) { /* the head's end */
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200) {
      return len; /* an interim response: the final one follows */
    }
    x->hop_head = 1;
    struct curl_header* loc = NULL;
    int has_loc = curl_easy_header(x->easy, "location", 0, CURLH_HEADER, -1,
                                   &loc) == CURLHE_OK;
    if (is_redirect(status) && has_loc && x->redirect == ISO_NET_FOLLOW) {
      x->hop_redirect = 1;
    } else if (is_redirect(status) && has_loc && x->redirect == ISO_NET_ERROR) {
      fail(x, ISO_OPERR_OTHER, "TypeError",
           "fetch failed: %s answered %ld (a redirect) and the request's "
           "redirect mode is \"error\"",
           x->url, status);
      return 0;
    } else {
      x->head_ready = 1;
    }
  }
  return len;
}

static size_t write_cb(char* p, size_t size, size_t n, void* arg) {
  xfer* x = arg;
  size_t len = size * n;
  size_t max = x->net->max_body;
  if (x->hop_redirect) {
    x->body_total += len; /* a redirect's body: dropped, but bounded */
    if (x->body_total > max) {
      fail(x, ISO_OPERR_OTHER, NULL,
           "fetch failed: %s: a redirect's body is "
           "larger than %zu MiB",
           x->url, max >> 20);
      return 0;
    }
    return len;
  }
  if (x->buf.len >= ISO_NET_BUFFER_BYTES) {
    x->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  if (x->body_total + len > max) {
    if (max % ((size_t)1 << 20) == 0) {
      fail(x, ISO_OPERR_OTHER, NULL,
           "response body of %s is larger than %zu MiB (--fetch-max-mb)",
           x->url, max >> 20);
    } else {
      fail(x, ISO_OPERR_OTHER, NULL,
           "response body of %s is larger than %zu bytes (--fetch-max-mb)",
           x->url, max);
    }
    return 0;
  }
  if (iso_buf_append(&x->buf, p, len) != 0) {
    fail(x, ISO_OPERR_OTHER, NULL, "fetch failed: out of memory");
    return 0;
  }
  x->body_total += len;
  return len;
}

/* ---- hops ---- */

int iso_net_check_url(const iso_perms* perms,
                      const char* url,
                      iso_op_err* err,
                      char* msg,
                      size_t msglen) {
  char host[256], why[320];
  int port = 0;
  if (url_target(url, host, sizeof host, &port, why, sizeof why) != 0) {
    *err = ISO_OPERR_TYPE;
    snprintf(msg, msglen, "fetch failed: %s", why);
    return ISO_EOP;
  }
  if (!iso_perms_allows_net(perms, host, port)) {
    *err = ISO_OPERR_PERMISSION_DENIED;
    /* a bracketed IPv6 host is written as it was in the URL */
    snprintf(msg, msglen,
             "net access to \"%s:%d\" was not granted (it needs "
             "--allow-net=%s:%d or wider, and the job's permissions.net, if "
             "it sends one, to allow it)",
             host, port, host, port);
    return ISO_EOP;
  }
  return 0;
}

/* Starts x's next hop on x->url: checked against the permissions first.
 * On failure x is failed (the caller pumps). */
static void hop_start(xfer* x) {
  iso_net* net = x->net;
  char why[384];
  iso_op_err err = ISO_OPERR_NONE;
  if (iso_net_check_url(x->perms, x->url, &err, why, sizeof why) != 0) {
    fail(x, err, err == ISO_OPERR_TYPE ? "TypeError" : NULL, "%s", why);
    return;
  }
  long timeout = 0;
  if (x->deadline_ms != 0) {
    uint64_t now = now_ms();
    if (now >= x->deadline_ms) {
      fail(x, ISO_OPERR_TIMED_OUT, NULL, "fetch: the job's deadline passed");
      return;
    }
    timeout = (long)(x->deadline_ms - now);
  }
  CURL* e = curl_easy_init();
  if (e == NULL) {
    fail(x, ISO_OPERR_OTHER, NULL, "fetch failed: out of memory");
    return;
  }
  x->easy = e;
  x->hop_head = x->hop_redirect = 0;
  x->status_text[0] = '\0';
  x->errbuf[0] = '\0';
  x->body_total = 0;
  curl_easy_setopt(e, CURLOPT_URL, x->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, net->connect_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "isopool");
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  if (strcmp(x->method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (x->body != NULL) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    if (strcmp(x->method, "POST") != 0) {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    }
  } else if (strcmp(x->method, "GET") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
    if (strcmp(x->method, "POST") == 0 || strcmp(x->method, "PUT") == 0) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
  }
  if (curl_multi_add_handle(net->multi, e) != CURLM_OK) {
    fail(x, ISO_OPERR_OTHER, NULL,
         "fetch failed: libcurl refused the "
         "transfer");
    hop_end(x);
  }
}

/* Drops the request headers named in `names` (lower case, NULL-ended)
 * from x's list. */
static void drop_headers(xfer* x, const char* const* names) {
  struct curl_slist *kept = NULL, *l;
  for (l = x->headers; l != NULL; l = l->next) {
    size_t n = strcspn(l->data, ":;");
    int drop = 0;
    for (const char* const* p = names; *p != NULL && !drop; p++) {
      drop = strlen(*p) == n && strncasecmp(l->data, *p, n) == 0;
    }
    if (!drop) {
      struct curl_slist* k = curl_slist_append(kept, l->data);
      if (k == NULL) {
        curl_slist_free_all(kept);
        return; /* out of memory: fail safe below */
      }
      kept = k;
    }
  }
  curl_slist_free_all(x->headers);
  x->headers = kept;
}

/* Whether a and b are of the same origin (scheme, host, port). */
static int same_origin(const char* a, const char* b) {
  char ha[256], hb[256], why[64];
  int pa = 0, pb = 0;
  size_t sa = strcspn(a, ":"), sb = strcspn(b, ":");
  return sa == sb && strncasecmp(a, b, sa) == 0 &&
         url_target(a, ha, sizeof ha, &pa, why, sizeof why) == 0 &&
         url_target(b, hb, sizeof hb, &pb, why, sizeof why) == 0 &&
         strcasecmp(ha, hb) == 0 && pa == pb;
}

/* A hop that answered a redirect has ended: the next one, on its
 * Location, with the standard's method change; a redirect to another
 * origin drops the credentials (Authorization), as the Fetch standard's
 * HTTP-redirect fetch does. */
static void hop_follow(xfer* x) {
  char* next = NULL;
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &next);
  char* url = next != NULL ? strdup(next) : NULL;
  hop_end(x);
  if (url == NULL) {
    fail(x, ISO_OPERR_OTHER, "TypeError",
         "fetch failed: %s answered %ld without a usable Location", x->url,
         status);
    return;
  }
  if (++x->redirects > ISO_NET_MAX_REDIRECTS) {
    free(url);
    fail(x, ISO_OPERR_OTHER, "TypeError",
         "fetch failed: more than %d redirects", ISO_NET_MAX_REDIRECTS);
    return;
  }
  if (status == 303 ? strcmp(x->method, "HEAD") != 0
                    : (status == 301 || status == 302) &&
                          strcmp(x->method, "POST") == 0) {
    strcpy(x->method, "GET"); /* never longer than the method it replaces */
    free(x->body);
    x->body = NULL;
    x->body_len = 0;
    static const char* const body_headers[] = {
        "content-encoding", "content-language", "content-location",
        "content-type",     "content-length",   NULL};
    drop_headers(x, body_headers);
  }
  if (!same_origin(x->url, url)) {
    static const char* const credentials[] = {"authorization", NULL};
    drop_headers(x, credentials);
    for (struct curl_slist* l = x->headers; l != NULL; l = l->next) {
      if (strncasecmp(l->data, "authorization", 13) == 0 &&
          (l->data[13] == ':' || l->data[13] == ';')) {
        free(url); /* dropping failed (out of memory): never send them on */
        fail(x, ISO_OPERR_OTHER, NULL, "fetch failed: out of memory");
        return;
      }
    }
  }
  free(x->url);
  x->url = url;
  hop_start(x);
}

/* ---- answers as they become possible ---- */

/* The final hop's head as the entries of the map send answers with, into
 * x->head, while its handle still holds it. */
static void build_head(xfer* x) {
  iso_mp_wr w;
  iso_mp_wr_init(&w, &x->head);
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  iso_mp_put_lit(&w, "rid");
  iso_mp_put_uint(&w, x->rid);
  iso_mp_put_lit(&w, "status");
  iso_mp_put_int(&w, status);
  iso_mp_put_lit(&w, "statusText");
  iso_mp_put_text(&w, x->status_text, strlen(x->status_text));
  iso_mp_put_lit(&w, "headers");
  size_t n = 0;
  struct curl_header* h = NULL;
  while ((h = curl_easy_nextheader(x->easy, CURLH_HEADER, -1, h)) != NULL) {
    n++;
  }
  iso_mp_put_array(&w, n);
  while ((h = curl_easy_nextheader(x->easy, CURLH_HEADER, -1, h)) != NULL) {
    char name[256];
    size_t nl = strlen(h->name);
    nl = nl < sizeof name ? nl : sizeof name - 1;
    for (size_t i = 0; i < nl; i++) {
      name[i] = (char)tolower((unsigned char)h->name[i]);
    }
    iso_mp_put_array(&w, 2);
    iso_mp_put_text(&w, name, nl);
    iso_mp_put_bin(&w, h->value, strlen(h->value));
  }
  iso_mp_put_lit(&w, "url");
  iso_mp_put_text(&w, x->url, strlen(x->url));
  iso_mp_put_lit(&w, "redirected");
  iso_mp_put_bool(&w, x->redirects > 0);
  x->head_built = 1;
  if (w.err != 0) {
    fail(x, ISO_OPERR_OTHER, NULL, "fetch failed: out of memory");
  }
}

/* The head's map into net->out: its entries, and the whole body when it
 * has ended and fits one read (then *inlined: the transfer is done). */
static void put_head(iso_net* net, xfer* x, int* inlined) {
  iso_buf* out = &net->out;
  iso_buf_reset(out);
  iso_mp_wr w;
  iso_mp_wr_init(&w, out);
  *inlined = x->done && !x->failed && x->buf.len <= ISO_NET_BUFFER_BYTES;
  iso_mp_put_map(&w, *inlined ? HEAD_ENTRIES + 1 : HEAD_ENTRIES);
  if (w.err == 0 && iso_buf_append(out, x->head.data, x->head.len) != 0) {
    w.err = ISO_ENOMEM;
  }
  if (*inlined) {
    iso_mp_put_lit(&w, "body");
    iso_mp_put_bin(&w, x->buf.len > 0 ? x->buf.data : (const uint8_t*)"",
                   x->buf.len);
  }
  if (w.err != 0) {
    iso_buf_reset(out);
    fail(x, ISO_OPERR_OTHER, NULL, "fetch failed: out of memory");
  }
}

/* Takes up to ISO_NET_BUFFER_BYTES of x's body as a bin into net->out. */
static void take_body(iso_net* net, xfer* x) {
  size_t n =
      x->buf.len < ISO_NET_BUFFER_BYTES ? x->buf.len : ISO_NET_BUFFER_BYTES;
  iso_buf_reset(&net->out);
  iso_mp_wr w;
  iso_mp_wr_init(&w, &net->out);
  iso_mp_put_bin(&w, x->buf.data, n);
  memmove(x->buf.data, x->buf.data + n, x->buf.len - n);
  x->buf.len -= n;
  if (x->paused && x->easy != NULL && x->buf.len < ISO_NET_BUFFER_BYTES) {
    x->paused = 0;
    curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may call write_cb */
  }
}

/* Answers what x can answer now. May free x. */
static void pump(iso_net* net, xfer* x) {
  if (x->head_ready && !x->head_built && x->easy != NULL && !x->failed) {
    build_head(x);
  }
  if (x->send_waiting && !x->head_sent) {
    if (x->head_built && !x->failed) {
      int inlined = 0;
      x->head_sent = 1;
      put_head(net, x, &inlined);
      if (x->failed) {
        drop_and_fail(x, x->send_cb, x->send_data);
        return;
      }
      iso_net_cb cb = x->send_cb;
      void* data = x->send_data;
      if (inlined) {
        xfer_drop(x); /* its rid names nothing now */
        answer_value(net, cb, data, &net->out);
        return;
      }
      answer_value(net, cb, data, &net->out);
    } else if (x->failed) {
      x->head_sent = 1;
      drop_and_fail(x, x->send_cb, x->send_data); /* no body to read */
      return;
    }
  }
  if (!x->reading) {
    return;
  }
  if (x->buf.len > 0) {
    x->reading = 0;
    take_body(net, x);
    answer_value(net, x->read_cb, x->read_data, &net->out);
  } else if (x->failed) {
    x->reading = 0;
    drop_and_fail(x, x->read_cb, x->read_data);
  } else if (x->done) {
    iso_net_cb cb = x->read_cb;
    void* data = x->read_data;
    x->reading = 0;
    xfer_drop(x);
    answer_nil(net, cb, data);
  }
}

/* A hop's transfer ended. */
static void hop_done(iso_net* net, xfer* x, CURLcode res) {
  if (res == CURLE_OK && x->hop_redirect && !x->failed) {
    hop_follow(x);
    if (!x->failed) {
      return;
    }
  } else if (res != CURLE_OK) {
    if (res == CURLE_OPERATION_TIMEDOUT && x->deadline_ms != 0 &&
        now_ms() + 5 >= x->deadline_ms) {
      fail(x, ISO_OPERR_TIMED_OUT, NULL, "fetch: the job's deadline passed");
    } else {
      fail(x, ISO_OPERR_OTHER, "TypeError", "fetch failed: %s: %s", x->url,
           x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
    }
  }
  if (x->hop_head && !x->hop_redirect && !x->failed) {
    x->head_ready = 1; /* a head without a blank line seen (HTTP/0.9) */
  }
  x->done = 1;
  uint64_t owner = x->owner;
  uint32_t rid = x->rid;
  pump(net, x); /* answers the head while the handle still holds it */
  if (find(net, owner, rid) == x) { /* pump may have freed it */
    hop_end(x);
  }
}

/* ---- commands ---- */

/* Whether a release of `which` (0: all; realm << 32: that realm's; realm
 * << 32 | tag: that job's) covers a transfer of `job`. */
static int job_matches(uint64_t which, uint64_t job) {
  return which == 0 || ((which >> 32) == (job >> 32) &&
                        ((uint32_t)which == 0 || which == job));
}

static void run_cmd(iso_net* net, cmd* c) {
  xfer* x = NULL;
  if (c->kind == C_START) {
    if (c->bad[0] != '\0') {
      answer_err(c->cb, c->data, ISO_OPERR_TYPE, NULL, "fetch: %s", c->bad);
      return;
    }
    size_t mine = 0;
    for (xfer* y = net->all; y != NULL; y = y->next) {
      mine += y->owner == c->owner;
    }
    if (mine >= ISO_NET_MAX_PER_OWNER ||
        atomic_load(&net->count) >= ISO_NET_MAX_TRANSFERS) {
      answer_err(c->cb, c->data, ISO_OPERR_OTHER, NULL,
                 "fetch: %s has %d transfers open already: read their "
                 "bodies or cancel them first",
                 mine >= ISO_NET_MAX_PER_OWNER ? "this worker" : "the service",
                 mine >= ISO_NET_MAX_PER_OWNER ? ISO_NET_MAX_PER_OWNER
                                               : ISO_NET_MAX_TRANSFERS);
      return; /* c->x is freed with c */
    }
    x = c->x;
    x->net = net;
    do {
      x->rid = ++net->next_rid;
    } while (x->rid == 0);
    x->hnext = net->buckets[x->rid % BUCKETS];
    net->buckets[x->rid % BUCKETS] = x;
    x->next = net->all;
    if (net->all != NULL) {
      net->all->prev = x;
    }
    net->all = x;
    atomic_fetch_add(&net->count, 1);
    c->x = NULL;
    iso_buf_reset(&net->out);
    iso_mp_wr w;
    iso_mp_wr_init(&w, &net->out);
    iso_mp_put_uint(&w, x->rid);
    answer_value(net, c->cb, c->data, &net->out);
    if (x->send_at_start) { /* its head waits for the send */
      x->started = 1;
      hop_start(x);
    }
    return;
  }
  if (c->kind == C_RELEASE) {
    for (xfer *y = net->all, *next; y != NULL; y = next) {
      next = y->next;
      if (y->owner == c->owner && job_matches(c->job, y->job)) {
        xfer_abort(y, ISO_OPERR_OTHER, "AbortError",
                   "the fetch was stopped: its job ended");
      }
    }
    return;
  }
  x = find(net, c->owner, c->rid);
  if (x == NULL) {
    if (c->kind == C_CANCEL) {
      answer_nil(net, c->cb, c->data); /* ended already: nothing to do */
    } else {
      answer_err(c->cb, c->data, ISO_OPERR_OTHER, "BadResource",
                 "fetch: resource id %u names no transfer of this worker",
                 c->rid);
    }
    return;
  }
  switch (c->kind) {
    case C_SEND:
      if (x->send_waiting) {
        answer_err(c->cb, c->data, ISO_OPERR_OTHER, "BadResource",
                   "fetch: transfer %u was sent already", c->rid);
        return;
      }
      x->send_waiting = 1;
      x->send_cb = c->cb;
      x->send_data = c->data;
      if (!x->started) {
        x->started = 1;
        hop_start(x);
      }
      pump(net, x);
      return;
    case C_READ:
      if (x->reading || !x->head_sent) {
        answer_err(
            c->cb, c->data, ISO_OPERR_OTHER, "BadResource",
            "fetch: transfer %u %s", c->rid,
            x->reading ? "has a read pending already" : "has no response yet");
        return;
      }
      x->reading = 1;
      x->read_cb = c->cb;
      x->read_data = c->data;
      pump(net, x);
      return;
    case C_CANCEL:
      xfer_abort(x, ISO_OPERR_OTHER, "AbortError", "the fetch was aborted");
      answer_nil(net, c->cb, c->data);
      return;
    default:
      return;
  }
}

static void cmd_free(cmd* c) {
  xfer_free(c->x);
  free(c);
}

/* Queues c, or answers it at once when the net has stopped. */
static void submit(iso_net* net, cmd* c) {
  pthread_mutex_lock(&net->lock);
  int stopped = net->stopped;
  if (!stopped) {
    c->next = NULL;
    *net->cmds_tail = c;
    net->cmds_tail = &c->next;
  }
  pthread_mutex_unlock(&net->lock);
  if (stopped) {
    if (c->cb != NULL) {
      answer_err(c->cb, c->data, ISO_OPERR_OTHER, NULL,
                 "fetch: the service is stopping");
    }
    cmd_free(c);
    return;
  }
  curl_multi_wakeup(net->multi);
}

static cmd* cmd_new(cmd_kind kind,
                    uint64_t owner,
                    uint32_t rid,
                    iso_net_cb cb,
                    void* data) {
  cmd* c = calloc(1, sizeof *c);
  if (c == NULL) {
    if (cb != NULL) {
      answer_err(cb, data, ISO_OPERR_OTHER, NULL, "fetch: out of memory");
    }
    return NULL;
  }
  c->kind = kind;
  c->owner = owner;
  c->rid = rid;
  c->cb = cb;
  c->data = data;
  return c;
}

void iso_net_start(iso_net* net,
                   uint64_t owner,
                   const iso_perms* perms,
                   const iso_net_req* req,
                   iso_net_cb cb,
                   void* data) {
  cmd* c = cmd_new(C_START, owner, 0, cb, data);
  if (c == NULL) {
    return;
  }
  if (check_req(req, c->bad, sizeof c->bad) == 0) {
    c->x = xfer_make(req);
    if (c->x == NULL) {
      free(c);
      answer_err(cb, data, ISO_OPERR_OTHER, NULL, "fetch: out of memory");
      return;
    }
    c->x->owner = owner;
    c->x->perms = iso_perms_ref(perms != NULL ? perms : iso_perms_none());
  }
  submit(net, c);
}

void iso_net_send(iso_net* net,
                  uint64_t owner,
                  uint32_t rid,
                  iso_net_cb cb,
                  void* data) {
  cmd* c = cmd_new(C_SEND, owner, rid, cb, data);
  if (c != NULL) {
    submit(net, c);
  }
}

void iso_net_read(iso_net* net,
                  uint64_t owner,
                  uint32_t rid,
                  iso_net_cb cb,
                  void* data) {
  cmd* c = cmd_new(C_READ, owner, rid, cb, data);
  if (c != NULL) {
    submit(net, c);
  }
}

void iso_net_cancel(iso_net* net,
                    uint64_t owner,
                    uint32_t rid,
                    iso_net_cb cb,
                    void* data) {
  cmd* c = cmd_new(C_CANCEL, owner, rid, cb, data);
  if (c != NULL) {
    submit(net, c);
  }
}

void iso_net_release(iso_net* net, uint64_t owner, uint64_t job) {
  cmd* c = cmd_new(C_RELEASE, owner, 0, NULL, NULL);
  if (c != NULL) {
    c->job = job;
    submit(net, c);
  }
}

/* ---- the loop ---- */

int iso_net_run(iso_net* net, int timeout_ms) {
  pthread_mutex_lock(&net->lock);
  cmd* list = net->cmds;
  net->cmds = NULL;
  net->cmds_tail = &net->cmds;
  int stopped = net->stopped;
  pthread_mutex_unlock(&net->lock);
  if (stopped) {
    return 0;
  }
  for (cmd *c = list, *next; c != NULL; c = next) {
    next = c->next;
    run_cmd(net, c);
    cmd_free(c);
  }
  int running = 0;
  curl_multi_perform(net->multi, &running);
  CURLMsg* m;
  int left;
  while ((m = curl_multi_info_read(net->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) {
      continue;
    }
    xfer* x = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char**)&x);
    if (x != NULL) {
      hop_done(net, x, m->data.result);
    }
  }
  for (xfer *x = net->all, *next; x != NULL; x = next) {
    next = x->next;
    pump(net, x);
  }
  if (timeout_ms != 0) {
    curl_multi_poll(net->multi, NULL, 0, timeout_ms < 0 ? 1000 : timeout_ms,
                    NULL);
  }
  return 1;
}

void iso_net_wakeup(iso_net* net) {
  curl_multi_wakeup(net->multi);
}

size_t iso_net_count(iso_net* net) {
  return atomic_load(&net->count);
}

/* ---- lifecycle ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void) {
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : ISO_EIO;
}

int iso_net_new(const iso_net_opts* opts,
                iso_net** out,
                char* err,
                size_t errlen) {
  pthread_once(&global_once, global_init);
  if (global_rc != 0) {
    snprintf(err, errlen, "libcurl failed to initialise");
    return global_rc;
  }
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  if (!(v->features & CURL_VERSION_ASYNCHDNS)) {
    snprintf(err, errlen,
             "libcurl %s resolves names in the calling thread (no AsynchDNS): "
             "fetch would block on DNS",
             v->version);
    return ISO_EINVAL;
  }
  iso_net* net = calloc(1, sizeof *net);
  if (net == NULL) {
    return ISO_ENOMEM;
  }
  net->multi = curl_multi_init();
  if (net->multi == NULL) {
    free(net);
    return ISO_ENOMEM;
  }
  curl_multi_setopt(net->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  net->max_body = opts != NULL && opts->max_body_bytes > 0
                      ? opts->max_body_bytes
                      : DEFAULT_MAX_BODY;
  net->connect_ms = opts != NULL && opts->connect_timeout_ms > 0
                        ? opts->connect_timeout_ms
                        : DEFAULT_CONNECT_MS;
  pthread_mutex_init(&net->lock, NULL);
  net->cmds_tail = &net->cmds;
  iso_buf_init(&net->out);
  *out = net;
  return 0;
}

void iso_net_stop(iso_net* net) {
  pthread_mutex_lock(&net->lock);
  cmd* list = net->cmds;
  net->cmds = NULL;
  net->cmds_tail = &net->cmds;
  net->stopped = 1;
  pthread_mutex_unlock(&net->lock);
  for (cmd *c = list, *next; c != NULL; c = next) {
    next = c->next;
    if (c->cb != NULL) {
      answer_err(c->cb, c->data, ISO_OPERR_OTHER, NULL,
                 "fetch: the service is stopping");
    }
    cmd_free(c);
  }
  while (net->all != NULL) {
    xfer_abort(net->all, ISO_OPERR_OTHER, NULL,
               "fetch: the service is stopping");
  }
}

void iso_net_free(iso_net* net) {
  if (net == NULL) {
    return;
  }
  iso_net_stop(net);
  curl_multi_cleanup(net->multi);
  pthread_mutex_destroy(&net->lock);
  iso_buf_close(&net->out);
  free(net);
}
