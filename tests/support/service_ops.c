/* service_ops.c: the op bus suites' fixture (service_ops.h), from
 * test_service_ops.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, mkdtemp */
#endif
#include "service_ops.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "json_check.h"
#include "tap.h"
#include "tracker.h"

#define FIXTURES ISO_FIXTURES "/ops"
#define ISOPOOL ISO_BIN_DIR "/isopool"

static void put_file(const char* dir, const char* rel, const char* text) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

char* get_file(const char* dir, const char* rel) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    return NULL;
  }
  char* buf = calloc(1, 4097);
  size_t n = fread(buf, 1, 4096, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int rm_entry(const char* path,
                    const struct stat* st,
                    int flag,
                    struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* make_tree: the tree drawn in service_ops.h (above svc). */
static int make_tree(char* tmp, size_t tmplen, char* data, size_t datalen) {
  snprintf(tmp, tmplen, "/tmp/isopool-opsdata-XXXXXX");
  if (mkdtemp(tmp) == NULL) {
    CHECK(!"mkdtemp");
    return -1;
  }
  snprintf(data, datalen, "%s/data", tmp);
  char p[PATH_MAX];
  int ok = mkdir(data, 0755) == 0;
  put_file(tmp, "outside.txt", "outside");
  put_file(data, "secret.txt", "secret");
  snprintf(p, sizeof p, "%s/fifo", data);
  ok = ok && mkfifo(p, 0644) == 0;
  snprintf(p, sizeof p, "%s/dir", data);
  ok = ok && mkdir(p, 0755) == 0;
  snprintf(p, sizeof p, "%s/pub", data);
  ok = ok && mkdir(p, 0755) == 0;
  put_file(data, "pub/a.txt", "alpha");
  put_file(data, "pub/b.txt", "beta");
  static const char* const links[][2] = {
      {"a.txt", "pub/in_link"},
      {"../secret.txt", "pub/sec_link"},
      {"../../outside.txt", "pub/out_link"},
      {"..", "pub/up"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", data, links[i][1]);
    ok = ok && symlink(links[i][0], p) == 0;
  }
  CHECK(ok);
  return ok ? 0 : -1;
}

int svc_start(svc* s, const char* const* extra) {
  memset(s, 0, sizeof *s);
  daemon_names("ops", s->path, s->url, s->log);
  if (make_tree(s->tmp, sizeof s->tmp, s->data, sizeof s->data) != 0) {
    return -1;
  }
  const char* base[] = {ISOPOOL,     "serve",  "--listen",  s->url,
                        "--modules", FIXTURES, "--workers", "2",
                        "--data",    s->data,  "--admin",   "none",
                        "--quiet",   NULL};
  const char* argv[DAEMON_ARGC];
  daemon_argv(argv, base, extra);
  iso_client_opts o = {.max_inflight = 1024};
  int rc = iso_client_new(s->url, &o, &s->c);
  CHECK_EQ(rc, 0);
  if (rc != 0) {
    return -1;
  }
  return daemon_start(argv, s->log, s->c, "export default 1;", &s->pid);
}

void svc_stop(svc* s) {
  daemon_stop(&s->pid, 8000);
  iso_client_free(s->c);
  s->c = NULL;
  daemon_clean(s->log, s->path);
  if (s->tmp[0] != '\0') {
    nftw(s->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

const char* const kAllowAll[] = {"--allow-read", "--allow-write",
                                 "--allow-env=ISO_TEST_VAR,ISO_TEST_UNSET",
                                 NULL};

int run_js(svc* s, const char* body, jobopt o, iso_result* r) {
  size_t n = strlen(JS_PRELUDE) + strlen(body) + 64;
  char* src = malloc(n);
  snprintf(src, n, "%sexport default async () => {\n%s\n};\n", JS_PRELUDE,
           body);
  iso_buf perms;
  iso_buf_init(&perms);
  iso_job j = {.kind = ISO_JOB_EVAL, .source = src, .timeout_ms = o.timeout_ms};
  if (o.perms != NULL) {
    perms = mp_of(o.perms);
    j.permissions = perms.data;
    j.permissions_len = perms.len;
  }
  int rc = iso_client_call(s->c, &j, 30000, r);
  if (rc != 0) {
    fprintf(stderr, "  iso_client_call: %s\n", iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
  iso_buf_close(&perms);
  free(src);
  return rc;
}

void print_failure(const iso_result* r) {
  fprintf(stderr, "    status %d %s: %s %s\n", r->status,
          r->code_name ? r->code_name : "", r->name ? r->name : "",
          r->message ? r->message : "");
}

char* js_value(svc* s, const char* body, jobopt o) {
  iso_result r;
  if (run_js(s, body, o, &r) != 0) {
    return strdup("(none)");
  }
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  if (r.status != ISO_STATUS_FULFILLED) {
    print_failure(&r);
  }
  char* v = r.status == ISO_STATUS_FULFILLED ? json_of(r.value, r.value_len)
                                             : strdup("(none)");
  iso_result_close(&r);
  return v;
}

void expect_js(svc* s, const char* body, jobopt o, const char* want) {
  char* v = js_value(s, body, o);
  CHECK_STR(v, want);
  free(v);
}

void expect_js_rejects(svc* s,
                       const char* body,
                       jobopt o,
                       const char* name,
                       const char* frag) {
  iso_result r;
  if (run_js(s, body, o, &r) != 0) {
    return;
  }
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  if (r.status != ISO_STATUS_REJECTED) {
    print_failure(&r);
  }
  CHECK_STR(r.name, name);
  CHECK_CONTAINS(r.message, frag);
  iso_result_close(&r);
}

void expect_js_refused(svc* s,
                       const char* body,
                       jobopt o,
                       iso_proto_code code,
                       const char* frag) {
  iso_result r;
  if (run_js(s, body, o, &r) != 0) {
    return;
  }
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, code);
  if (r.status != ISO_STATUS_ERROR || r.code != code) {
    print_failure(&r);
  }
  CHECK_CONTAINS(r.message, frag);
  iso_result_close(&r);
}

int check_item(const char* json,
               const char* label,
               const char* want,
               const char* frag,
               int line) {
  char key[128];
  snprintf(key, sizeof key, "\"%s=", label);
  const char* at = json != NULL ? strstr(json, key) : NULL;
  char item[1024] = "(missing)";
  if (at != NULL) {
    at += 1;
    const char* end = strchr(at, '"');
    size_t n = end != NULL ? (size_t)(end - at) : strlen(at);
    if (n >= sizeof item) {
      n = sizeof item - 1;
    }
    memcpy(item, at, n);
    item[n] = '\0';
  }
  size_t ll = strlen(label);
  int ok = at != NULL && strncmp(item + ll + 1, want, strlen(want)) == 0 &&
           (frag == NULL || strstr(item, frag) != NULL);
  if (!ok) {
    fprintf(stderr,
            "  line %d: outcome %s\n    got:  %s\n    want: %s=%s... "
            "containing \"%s\"\n",
            line, label, item, label, want, frag ? frag : "");
    iso_test_failed = 1;
  }
  return ok;
}

void check_all_workers(svc* s) {
  enum { N = 16 };
  tracker t;
  tracker_init(&t, N);
  iso_job j = {.kind = ISO_JOB_EVAL,
               .source =
                   "import * as kv from 'isopool:kv';\n"
                   "export default async () => {\n"
                   "  await new Promise((r) => setTimeout(r, 30));\n"
                   "  await kv.set('alive', 1);\n"
                   "  Isopool.core.ops.op_noop();\n"
                   "  return (await kv.get('alive')) + 41;\n"
                   "};\n"};
  for (int i = 0; i < N; i++) {
    tracker_submit_ok(&t, s->c, i, j, 60000);
  }
  CHECK(tracker_wait(&t, N, 20000));
  int seen[2] = {0, 0}, wrong = 0;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    if (r->rc != 0 || r->status != ISO_STATUS_FULFILLED || r->value == NULL ||
        strcmp(r->value, "42") != 0) {
      if (wrong++ < 3) {
        fprintf(stderr, "  alive job %d: rc %d status %d value %s (%s)\n", i,
                r->rc, r->status, r->value ? r->value : "-",
                r->message ? r->message : "");
      }
    }
    if (r->worker == 0 || r->worker == 1) {
      seen[r->worker]++;
    }
  }
  CHECK_EQ(wrong, 0);
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  tracker_free(&t);
}
