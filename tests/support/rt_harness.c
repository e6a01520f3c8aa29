/* rt_harness.c: the in-process runtime harness (rt_harness.h). */
#include "rt_harness.h"

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
#include "tap.h"

static char root[512];

const char* rt_root(void) {
  snprintf(root, sizeof(root), "/tmp/isopool-test-XXXXXX");
  if (mkdtemp(root) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
  return root;
}

void rt_write(const char* name, const char* fmt, ...) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", root, name);
  for (char* s = path + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
    *s = '\0';
    mkdir(path, 0755);
    *s = '/';
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

static void log_cb(void* data,
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

static void value_cb(void* data, const uint8_t* mp, size_t len) {
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
  iso_buf_close(&json);
}

static void done_cb(void* data, int status, const iso_js_error* err) {
  rt_result* r = data;
  r->status = status;
  r->error = err ? iso_js_error_format(err) : NULL;
  r->done = 1;
  uv_stop(r->loop);
}

static int process_ready;

void rt_init_process(void) {
  if (!process_ready) {
    iso_rt_init_process(NULL);
    process_ready = 1;
  }
}

const char* rt_root_path(void) {
  return root;
}

const char* rt_root_fixture(const char* name) {
  rt_root();
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "cp -R '%s/%s/.' '%s/'", ISO_FIXTURES, name, root);
  CHECK(system(cmd) == 0);
  return root;
}

void rt_expect_value(const char* main, const char* want) {
  rt_result r;
  rt_run(main, &r);
  if (r.status != 0) {
    fprintf(stderr, "  %s\n", r.error ? r.error : "(no error text)");
  }
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, want);
  rt_result_free(&r);
}

void rt_expect_error(const char* main, int code, const char* const* parts) {
  rt_result r;
  rt_run(main, &r);
  CHECK_EQ(r.status, code);
  CHECK(r.error != NULL);
  for (const char* const* p = parts; *p != NULL; p++) {
    char want[1024];
    size_t o = 0;
    for (const char* s = *p; *s != '\0' && o + 1 < sizeof(want); s++) {
      if (*s == '~') {
        o += (size_t)snprintf(want + o, sizeof(want) - o, "%s", root);
        o = o < sizeof(want) ? o : sizeof(want) - 1;
      } else {
        want[o++] = *s;
      }
    }
    want[o] = '\0';
    CHECK_CONTAINS(r.error, want);
  }
  rt_result_free(&r);
}

iso_run_cbs rt_cbs(void) {
  return (iso_run_cbs){
      .log_cb = log_cb, .value_cb = value_cb, .done_cb = done_cb};
}

static const iso_import_map* run_map; /* rt_run_opts_map's, for a run */

void rt_run_opts(const char* main, iso_eval_opts eo, rt_result* r) {
  rt_init_process();
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  uv_loop_t loop;
  uv_loop_init(&loop);
  r->loop = &loop;
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = root, .import_map = run_map};
  if (iso_rt_new(&ro, &rt) != 0) {
    fprintf(stderr, "iso_rt_new failed\n");
    exit(2);
  }
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/%s", root, main);
  eo.specifier = spec;
  eo.call = 1;
  iso_run_cbs cbs = rt_cbs();
  iso_run* run = NULL;
  int rc = iso_run_new(rt, &eo, &cbs, r, &run);
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

void rt_run_args(const char* main, int argc, const char** argv, rt_result* r) {
  iso_eval_opts eo = {.argc = argc, .argv = argv};
  rt_run_opts(main, eo, r);
}

void rt_run_opts_map(const char* main,
                     const iso_import_map* map,
                     rt_result* r) {
  run_map = map;
  rt_run(main, r);
  run_map = NULL;
}

void rt_run(const char* main, rt_result* r) {
  rt_run_args(main, 0, NULL, r);
}

const char* rt_out(rt_result* r) {
  return (const char*)r->out.data;
}

void rt_result_free(rt_result* r) {
  free(r->value);
  free(r->hex);
  free(r->error);
  iso_buf_close(&r->out);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
  if (system(cmd) != 0) {
    fprintf(stderr, "cleanup of %s failed\n", root);
  }
}
