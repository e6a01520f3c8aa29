/* service.c: the job service suites' fixture (service.h), from
 * test_service.c. */
#include "service.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "json_check.h"
#include "tap.h"

#define FIXTURES ISO_FIXTURES "/service"
#define ISOPOOL ISO_BIN_DIR "/isopool"

const char* fixtures_real(void) {
  static char buf[PATH_MAX];
  if (buf[0] == '\0' && realpath(FIXTURES, buf) == NULL) {
    snprintf(buf, sizeof buf, "%s", FIXTURES);
  }
  return buf;
}

iso_job eval_src(const char* source) {
  iso_job j = {.kind = ISO_JOB_EVAL, .source = source};
  return j;
}

iso_job call_job(const char* module,
                 const char* export_name,
                 const char* args,
                 iso_buf* keep) {
  iso_buf_init(keep);
  iso_job j = {
      .kind = ISO_JOB_CALL, .module = module, .export_name = export_name};
  if (args != NULL) {
    *keep = mp_of(args);
    j.args = keep->data;
    j.args_len = keep->len;
  }
  return j;
}

void submit_sleeps(svc* s, tracker* t, int first, int n, int ms) {
  for (int i = first; i < first + n; i++) {
    char args[48];
    snprintf(args, sizeof args, "[%d, %d]", ms, i);
    iso_buf keep;
    CHECK_EQ(tracker_submit(t, s->c, i, call_job("sleep.js", NULL, args, &keep),
                            10000),
             0);
    iso_buf_close(&keep);
  }
}

int svc_start(svc* s, const char* const* extra, int max_inflight) {
  memset(s, 0, sizeof *s);
  daemon_names("svc", s->path, s->url, s->log);
  /* no admin socket unless a case asks (a default one would be shared by
   * every daemon of a parallel test run) */
  const char* base[] = {ISOPOOL,     "serve",  "--listen",  s->url,
                        "--modules", FIXTURES, "--workers", "2",
                        "--admin",   "none",   "--quiet",   NULL};
  const char* argv[DAEMON_ARGC];
  daemon_argv(argv, base, extra);
  iso_client_opts o = {.max_inflight = max_inflight};
  int rc = iso_client_new(s->url, &o, &s->c);
  CHECK_EQ(rc, 0);
  if (rc != 0) {
    return -1;
  }
  return daemon_start(argv, s->log, s->c, "export default 'ready';", &s->pid);
}

void svc_stop_within(svc* s, int timeout_ms) {
  daemon_stop(&s->pid, timeout_ms);
  iso_client_free(s->c);
  s->c = NULL;
  daemon_clean(s->log, s->path);
}

void svc_stop(svc* s) {
  svc_stop_within(s, 8000);
}

void call(svc* s, iso_job job, int64_t deadline_ms, iso_result* r) {
  int rc = iso_client_call(s->c, &job, deadline_ms, r);
  if (rc != 0) {
    fprintf(stderr, "  iso_client_call: %s\n", iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
}

void expect_value(svc* s, iso_job job, const char* want) {
  iso_result r;
  call(s, job, 10000, &r);
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  if (r.status != ISO_STATUS_FULFILLED) {
    fprintf(stderr, "    %s: %s %s\n", r.code_name ? r.code_name : "",
            r.name ? r.name : "", r.message ? r.message : "");
  }
  CHECK_JSON(r.value, r.value_len, want);
  iso_result_close(&r);
}

int raw(svc* s, const uint8_t* p, size_t n, iso_result* out) {
  iso_buf reply;
  iso_buf_init(&reply);
  memset(out, 0, sizeof *out);
  int rc = iso_client_request_raw(s->c, p, n, 10000, &reply);
  if (rc == 0) {
    rc = iso_proto_decode_reply(reply.data, reply.len, out);
  }
  iso_buf_close(&reply);
  return rc;
}
