/* rt_harness.h: runs modules in-process through the runtime, for the
 * runtime suites (loader, loop, values). Each case writes its modules into
 * a fresh temporary module root, runs the main one the way `isopool run`
 * does (iso_run_start on a libuv loop of its own) and gets back the value
 * as JSON, the formatted error and the console output in order.
 */
#ifndef ISO_RT_HARNESS_H
#define ISO_RT_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_rt.h"

typedef struct rt_result {
  int status;  /* 0, or the code of the error that ended the run */
  char* value; /* the value as JSON; NULL when undefined or on error */
  char* hex;   /* the value's msgpack bytes in hex, or NULL */
  char* error; /* Deno-style error text, or NULL */
  iso_buf out; /* console output, one "level: text\n" per line, except
                  plain "text\n" for log */
  int done;
  uv_loop_t* loop;
} rt_result;

static char rt_root_[512];

/* rt_root: a fresh temporary module root for the current case. */
static inline const char* rt_root(void) {
  snprintf(rt_root_, sizeof(rt_root_), "/tmp/isopool-test-XXXXXX");
  if (mkdtemp(rt_root_) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
  return rt_root_;
}

/* rt_write: writes root/name (creating one level of directory). */
static inline void rt_write(const char* name, const char* fmt, ...) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", rt_root_, name);
  char* slash = strrchr(path, '/');
  if (slash != NULL && slash > path + strlen(rt_root_)) {
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
  }
  FILE* f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fclose(f);
}

static inline void rt_log_cb_(void* data,
                              const char* level,
                              const char* text,
                              size_t len) {
  rt_result* r = data;
  if (strcmp(level, "log") != 0) {
    iso_buf_append(&r->out, level, strlen(level));
    iso_buf_append(&r->out, ": ", 2);
  }
  iso_buf_append(&r->out, text, len);
  iso_buf_append(&r->out, "\n", 1);
}

static inline void rt_value_cb_(void* data, const uint8_t* mp, size_t len) {
  rt_result* r = data;
  iso_buf_append(&r->out, "<value>\n", 8);
  if (mp == NULL) {
    return;
  }
  iso_buf json;
  iso_buf_init(&json);
  if (iso_json_from_msgpack(mp, len, &json) == 0) {
    r->value = strndup((const char*)json.data, json.len);
  }
  r->hex = malloc(len * 2 + 1);
  for (size_t i = 0; i < len; i++) {
    snprintf(r->hex + 2 * i, 3, "%02x", mp[i]);
  }
  r->hex[len * 2] = '\0';
  iso_buf_free(&json);
}

static inline void rt_done_cb_(void* data,
                               int status,
                               const iso_js_error* err) {
  rt_result* r = data;
  r->status = status;
  r->error = err ? iso_js_error_format(err) : NULL;
  r->done = 1;
  uv_stop(r->loop);
}

static int rt_process_ready_;

/* rt_run_opts: runs root/main to completion with the given evaluation
 * options (specifier and call are filled in). */
static inline void rt_run_opts(const char* main,
                               iso_eval_opts eo,
                               rt_result* r) {
  if (!rt_process_ready_) {
    iso_rt_init_process(NULL);
    rt_process_ready_ = 1;
  }
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  uv_loop_t loop;
  uv_loop_init(&loop);
  r->loop = &loop;
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = rt_root_};
  if (iso_rt_new(&ro, &rt) != 0) {
    fprintf(stderr, "iso_rt_new failed\n");
    exit(2);
  }
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/%s", rt_root_, main);
  eo.specifier = spec;
  eo.call = 1;
  iso_run_cbs cbs = {
      .log_cb = rt_log_cb_, .value_cb = rt_value_cb_, .done_cb = rt_done_cb_};
  iso_run* run = NULL;
  int rc = iso_run_start(rt, &eo, &cbs, r, &run);
  if (rc != 0) {
    r->status = rc;
  } else {
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!r->done) {
      r->status = ISO_EINTERNAL;
      r->error = strdup("the loop ended before the run did");
    }
  }
  iso_run_free(run);
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  iso_buf_append(&r->out, "", 1); /* NUL-terminate */
  r->out.len--;
}

/* rt_run_args: with string arguments, each parsed as JSON or kept. */
static inline void rt_run_args(const char* main,
                               int argc,
                               const char** argv,
                               rt_result* r) {
  iso_eval_opts eo = {.argc = argc, .argv = argv};
  rt_run_opts(main, eo, r);
}

static inline void rt_run(const char* main, rt_result* r) {
  rt_run_args(main, 0, NULL, r);
}

static inline const char* rt_out(rt_result* r) {
  return (const char*)r->out.data;
}

static inline void rt_result_free(rt_result* r) {
  free(r->value);
  free(r->hex);
  free(r->error);
  iso_buf_free(&r->out);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt_root_);
  if (system(cmd) != 0) {
    fprintf(stderr, "cleanup of %s failed\n", rt_root_);
  }
}

#endif /* ISO_RT_HARNESS_H */
