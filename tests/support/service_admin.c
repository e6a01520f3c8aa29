/* service_admin.c: the admin plane suites' fixture (service_admin.h),
 * from test_service_admin.c. */
#include "service_admin.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "iso_err.h"
#include "iso_json.h"
#include "json_check.h"
#include "json_path.h"

int svc_start(svc* s, const svc_opts* o) {
  memset(s, 0, sizeof *s);
  daemon_names("adm", s->path, s->url, s->log);
  snprintf(s->admin_path, sizeof s->admin_path, "%s.admin", s->path);
  snprintf(s->admin_url, sizeof s->admin_url, "ipc://%s", s->admin_path);
  unlink(s->admin_path);
  const char* argv[DAEMON_ARGC];
  const char* base[24] = {ISOPOOL,     "serve",
                          "--listen",  s->url,
                          "--modules", o->modules ? o->modules : FIXTURES,
                          "--workers", o->workers ? o->workers : "2",
                          "--quiet"};
  int n = 9;
  if (o->inflight != NULL) {
    base[n++] = "--max-inflight-per-worker";
    base[n++] = o->inflight;
  }
  if (!o->default_admin) {
    base[n++] = "--admin";
    base[n++] = s->admin_url;
  }
  if (o->metrics) {
    s->metrics_port = free_port();
    snprintf(s->metrics_url, sizeof s->metrics_url,
             "http://127.0.0.1:%d/metrics", s->metrics_port);
    base[n++] = "--metrics";
    base[n++] = s->metrics_url;
  }
  base[n] = NULL;
  daemon_argv(argv, base, o->extra);
  iso_client_opts co = {.max_inflight = 1024};
  int rc = iso_client_new(s->url, &co, &s->c);
  CHECK_EQ(rc, 0);
  if (rc == 0 && !o->default_admin) {
    rc = iso_client_new(s->admin_url, NULL, &s->a);
    CHECK_EQ(rc, 0);
  }
  if (rc != 0) {
    return -1;
  }
  return daemon_start(argv, s->log, s->c, "export default 1;", &s->pid);
}

void svc_stop(svc* s) {
  daemon_stop(&s->pid, 8000);
  iso_client_free(s->c);
  iso_client_free(s->a);
  s->c = s->a = NULL;
  daemon_clean(s->log, s->path);
  unlink(s->admin_path);
}

char* read_log(const svc* s) {
  FILE* f = fopen(s->log, "r");
  char* buf = calloc(1, 65537);
  if (f != NULL) {
    size_t n = fread(buf, 1, 65536, f);
    buf[n] = '\0';
    fclose(f);
  }
  return buf;
}

iso_admin_req areq(iso_admin_cmd cmd) {
  iso_admin_req q;
  memset(&q, 0, sizeof q);
  q.cmd = cmd;
  q.worker = -1;
  q.grace_ms = -1;
  return q;
}

char* admin_req(svc* s, iso_admin_req q) {
  if (s->token != NULL && !q.has_token) {
    q.has_token = 1;
    snprintf(q.token, sizeof q.token, "%s", s->token);
  }
  iso_buf req, reply;
  iso_buf_init(&req);
  iso_buf_init(&reply);
  CHECK_EQ(iso_admin_encode(&q, &req), 0);
  int rc = iso_client_request_raw(s->a, req.data, req.len, 10000, &reply);
  if (rc != 0) {
    fprintf(stderr, "  admin %s: %s\n", iso_admin_cmd_name(q.cmd),
            iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
  char* json = json_of(reply.data, reply.len);
  iso_buf_close(&req);
  iso_buf_close(&reply);
  return json;
}

char* admin(svc* s, iso_admin_cmd cmd) {
  char* json = admin_req(s, areq(cmd));
  if (js_at(json, "ok") == NULL || strncmp(js_at(json, "ok"), "true", 4)) {
    fprintf(stderr, "  admin %s: %s\n", iso_admin_cmd_name(cmd), json);
    iso_test_failed = 1;
  }
  return json;
}

void pc_run(svc* s, proc_result* r, const char* first, ...) {
  const char* argv[40] = {POOLCTL, "--admin", s->admin_url};
  int n = 3;
  if (s->token != NULL) {
    argv[n++] = "--admin-token";
    argv[n++] = s->token;
  }
  va_list ap;
  va_start(ap, first);
  for (const char* a = first; a != NULL && n < 39;
       a = va_arg(ap, const char*)) {
    argv[n++] = a;
  }
  va_end(ap);
  argv[n] = NULL;
  CHECK(proc_run(NULL, argv, 30, r) == 0);
}

void show(const proc_result* r) {
  if (iso_test_failed) {
    fprintf(stderr, "  poolctl exit %d\n  stdout:\n%s\n  stderr:\n%s\n",
            r->status, r->out, r->err);
  }
}

size_t widest_line(const char* s) {
  size_t widest = 0, cols = 0;
  for (; *s != '\0'; s++) {
    if (*s == '\n') {
      cols = 0;
    } else if (((unsigned char)*s & 0xc0) != 0x80) {
      cols++;
      widest = cols > widest ? cols : widest;
    }
  }
  return widest;
}

char* pc_human(svc* s, const char* cmd, const char* arg) {
  proc_result r;
  if (arg != NULL) {
    PC(s, &r, cmd, arg);
  } else {
    PC(s, &r, cmd);
  }
  int failed = iso_test_failed;
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK(widest_line(r.out) <= 80);
  if (iso_test_failed && !failed) {
    fprintf(stderr, "  poolctl %s:\n", cmd);
    show(&r);
  }
  char* out = r.out;
  r.out = NULL;
  proc_result_free(&r);
  return out;
}

char* pc_json(svc* s, const char* cmd, const char* arg) {
  proc_result r;
  if (arg != NULL) {
    PC(s, &r, "--json", cmd, arg);
  } else {
    PC(s, &r, "--json", cmd);
  }
  int failed = iso_test_failed;
  CHECK_EQ(r.status, 0);
  iso_buf mp;
  iso_buf_init(&mp);
  CHECK_EQ(iso_json_to_msgpack(r.out, strlen(r.out), &mp), 0);
  iso_buf_close(&mp);
  if (iso_test_failed && !failed) {
    fprintf(stderr, "  poolctl --json %s:\n", cmd);
    show(&r);
  }
  char* out = r.out;
  r.out = NULL;
  proc_result_free(&r);
  return out;
}

void expect_fulfilled(tracker* t, int i, const char* want) {
  rec* r = &t->r[i];
  if (r->calls != 1 || r->rc != 0 || r->status != ISO_STATUS_FULFILLED ||
      r->value == NULL || strcmp(r->value, want) != 0) {
    fprintf(stderr, "  id %d: rc %d status %d code %d value %s (%s), want %s\n",
            i, r->rc, r->status, r->code, r->value ? r->value : "-",
            r->message ? r->message : "", want);
    iso_test_failed = 1;
  }
}

void expect_error(tracker* t, int i, iso_proto_code code) {
  rec* r = &t->r[i];
  if (r->calls != 1 || r->rc != 0 || r->status != ISO_STATUS_ERROR ||
      r->code != code) {
    fprintf(stderr, "  id %d: rc %d status %d code %d (%s), want error %s\n", i,
            r->rc, r->status, r->code, r->message ? r->message : "",
            iso_proto_code_name(code));
    iso_test_failed = 1;
  }
}

iso_job call_job(const char* module, const char* args, iso_buf* keep) {
  *keep = mp_of(args);
  iso_job j = {.kind = ISO_JOB_CALL,
               .module = module,
               .args = keep->data,
               .args_len = keep->len};
  return j;
}

void submit_sleeps(tracker* t, iso_client* c, int from, int to, int ms) {
  for (int i = from; i < to; i++) {
    char args[64];
    snprintf(args, sizeof args, "[%d,%d]", ms, i);
    iso_buf keep;
    tracker_submit_ok(t, c, i, call_job("sleep.js", args, &keep), 60000);
    iso_buf_close(&keep);
  }
}

void expect_own_numbers(tracker* t, int from, int to) {
  int failed = iso_test_failed, shown = 0;
  for (int i = from; i < to && shown < 5; i++) {
    char want[16];
    snprintf(want, sizeof want, "%d", i);
    expect_fulfilled(t, i, want);
    if (iso_test_failed && !failed) {
      shown++;
    }
  }
}

int wait_accepted(svc* s, double want, int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  for (;;) {
    char* st = admin(s, ISO_ADMIN_STATUS);
    double got = js_num(st, "totals.accepted");
    free(st);
    if (got >= want) {
      return 1;
    }
    if (now_ms() >= end) {
      fprintf(stderr, "  accepted %g, want %g\n", got, want);
      CHECK(!"the jobs reached the service");
      return 0;
    }
    sleep_ms(5);
  }
}

int wait_workers_running(svc* s, int n, int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  char* w = NULL;
  for (;;) {
    free(w);
    w = admin(s, ISO_ADMIN_WORKERS);
    int len = js_len(w, "workers"), running = 0;
    for (int i = 0; i < len; i++) {
      char path[32];
      snprintf(path, sizeof path, "workers.%d.state", i);
      running += js_is(w, path, "running");
    }
    if (len == n && running == n) {
      free(w);
      return 1;
    }
    if (now_ms() >= end) {
      fprintf(stderr, "  workers: %s (want %d running)\n", w, n);
      free(w);
      CHECK(!"the workers are running");
      return 0;
    }
    sleep_ms(10);
  }
}

/* ---- metrics ------------------------------------------------------------ */

/* A minimal HTTP/1.1 GET on the loopback: the status code, the headers
 * and the body (de-chunked) in *head and *body (the caller frees them). */
int http_get(int port, const char* path, char** head, char** body) {
  *head = *body = NULL;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  char req[256];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Connection: close\r\n\r\n",
                   path, port);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  size_t len = 0, cap = 1 << 16;
  char* buf = malloc(cap + 1);
  for (;;) {
    if (cap - len < 4096) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
    }
    ssize_t got = read(fd, buf + len, cap - len);
    if (got <= 0) {
      break;
    }
    len += (size_t)got;
  }
  close(fd);
  buf[len] = '\0';
  char* sep = strstr(buf, "\r\n\r\n");
  int code = -1;
  if (sep == NULL || sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
    free(buf);
    return -1;
  }
  *sep = '\0';
  *head = strdup(buf);
  const char* p = sep + 4;
  if (strcasestr(*head, "transfer-encoding: chunked") != NULL) {
    char* out = calloc(1, len + 1);
    size_t o = 0;
    for (;;) {
      char* end;
      unsigned long k = strtoul(p, &end, 16);
      if (end == p || strncmp(end, "\r\n", 2) != 0 || k == 0) {
        break;
      }
      p = end + 2;
      memcpy(out + o, p, k);
      o += k;
      p += k + 2;
    }
    *body = out;
  } else {
    *body = strdup(p);
    const char* cl = strcasestr(*head, "content-length:");
    if (cl != NULL && strtoul(cl + 15, NULL, 10) != strlen(*body)) {
      fprintf(stderr, "  http: Content-Length %lu, body %zu bytes\n",
              strtoul(cl + 15, NULL, 10), strlen(*body));
      iso_test_failed = 1;
    }
  }
  free(buf);
  return code;
}

/* The sum of the samples of `name` (any labels) in Prometheus text. */
double prom_sum(const char* text, const char* name) {
  double sum = 0;
  size_t n = strlen(name);
  for (const char* p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, name, n) == 0 && (p[n] == '{' || p[n] == ' ')) {
      const char* sp = strchr(p, ' ');
      const char* q = p[n] == '{' ? strchr(p, '}') : p + n;
      sp = q != NULL ? strchr(q, ' ') : sp;
      sum += sp != NULL ? strtod(sp + 1, NULL) : NAN;
    }
    p = strchr(p, '\n');
    p = p != NULL ? p + 1 : NULL;
  }
  return sum;
}

int svc_admin_main(int argc, char** argv, const iso_test* cases) {
  signal(SIGPIPE, SIG_IGN);
  unsetenv("ISOPOOL_ADMIN");
  unsetenv("ISOPOOL_ADMIN_TOKEN");
  return iso_test_main(argc, argv, cases);
}
