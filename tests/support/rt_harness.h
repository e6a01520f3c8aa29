/* rt_harness.h: runs modules in-process through the runtime, for the
 * runtime suites (loader, loop, values). Each case writes its modules into
 * a fresh temporary module root, runs the main one the way `isopool run`
 * does (iso_run_new on a libuv loop of its own) and gets back the value
 * as JSON, the formatted error and the console output in order.
 * Library iso_test_rt (it links the runtime and V8). V8 is initialized in
 * the case's process (rt_init_process), never in the runner's: a fork does
 * not keep the platform's threads. Thread: the case's main thread.
 */
#ifndef ISO_RT_HARNESS_H
#define ISO_RT_HARNESS_H

#include <stdint.h>
#include <uv.h>

#include "iso_buf.h"
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

/* rt_init_process: iso_rt_init_process, once per process. */
void rt_init_process(void);

/* rt_root: makes a fresh temporary module root for the current case and
 * returns it; rt_root_path: the current one. (Static storage; the next
 * rt_root replaces it.) */
const char* rt_root(void);
const char* rt_root_path(void);

/* rt_root_fixture: rt_root holding a copy of tests/fixtures/<name>. */
const char* rt_root_fixture(const char* name);

/* rt_write: writes root/name (creating its directories) from a
 * printf format. */
void rt_write(const char* name, const char* fmt, ...);

/* rt_cbs: the iso_run callbacks that fill an rt_result (their data): the
 * console lines into out, the value, then status and error, and stop the
 * result's loop. */
iso_run_cbs rt_cbs(void);

/* rt_run_opts: runs root/main to completion with the given evaluation
 * options (specifier and call are filled in), on a loop of its own. */
void rt_run_opts(const char* main, iso_eval_opts eo, rt_result* r);

/* rt_run_args: with string arguments, each parsed as JSON or kept. */
void rt_run_args(const char* main, int argc, const char** argv, rt_result* r);

/* rt_run_opts_map: rt_run with an import map (the caller's). */
void rt_run_opts_map(const char* main, const iso_import_map* map, rt_result* r);

/* rt_run: without arguments. */
void rt_run(const char* main, rt_result* r);

/* rt_out: the console output so far, NUL-terminated. */
const char* rt_out(rt_result* r);

/* rt_result_free: frees what r holds and removes the module root. */
void rt_result_free(rt_result* r);

/* rt_expect_value: runs root/main; it succeeds and its value (JSON) is
 * want (the error's text is printed when it does not). */
void rt_expect_value(const char* main, const char* want);

/* rt_expect_error: runs root/main; it fails with code, and the error's
 * text holds each of the NULL-terminated parts (RT_PARTS), where "~"
 * stands for the module root. */
void rt_expect_error(const char* main, int code, const char* const* parts);
#define RT_PARTS(...) ((const char* const[]){__VA_ARGS__, NULL})

#endif /* ISO_RT_HARNESS_H */
