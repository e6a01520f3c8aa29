/* isopool.c: the isopool command.
 *
 *   isopool run [--root DIR] [--v8-flags=FLAGS] [--heap-mb N] FILE [ARG...]
 *
 * `run` is `deno run` for one module on the calling thread: evaluate FILE as
 * the main module, take its default export as the value (a function is
 * called with the ARGs, each parsed as JSON or else passed as a string, and
 * awaited), print a value that is not undefined as one JSON line, dispatch
 * `load`, run the event loop to completion, dispatch `unload`. Exit status:
 * 0 when everything settled fine, 1 on an error (printed Deno-style to
 * stderr), 2 on bad usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_rt.h"

#define EXIT_USAGE 2

static const char kUsage[] =
    "usage: isopool run [--root DIR] [--v8-flags=FLAGS] [--heap-mb N] FILE "
    "[ARG...]\n"
    "\n"
    "  run FILE [ARG...]  evaluate FILE as an ES module; call its default\n"
    "                     export with the ARGs (JSON, else strings) and\n"
    "                     print the value as JSON\n"
    "  --root DIR         module root: imports must stay inside it\n"
    "                     (default: the current directory)\n"
    "  --v8-flags=FLAGS   flags passed to V8\n"
    "  --heap-mb N        V8 heap limit in MiB\n";

typedef struct run_state {
  uv_loop_t* loop;
  int status; /* the exit status */
  int done;
} run_state;

static void value_cb(void* data, const uint8_t* mp, size_t len) {
  if (mp == NULL) {
    return;
  }
  iso_buf json;
  iso_buf_init(&json);
  if (iso_json_from_msgpack(mp, len, &json) == 0) {
    fwrite(json.data, 1, json.len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  }
  iso_buf_free(&json);
}

static void done_cb(void* data, int status, const iso_js_error* err) {
  run_state* st = data;
  if (err != NULL) {
    char* text = iso_js_error_format(err);
    fflush(stdout);
    fprintf(stderr, "%s\n", text ? text : "error");
    free(text);
  }
  st->done = 1;
  st->status = status == 0 ? 0 : 1;
  uv_stop(st->loop);
}

static int cmd_run(int argc, char** argv) {
  static const struct option opts[] = {
      {"root", required_argument, NULL, 'r'},
      {"v8-flags", required_argument, NULL, 'v'},
      {"heap-mb", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char* root = NULL;
  const char* v8_flags = NULL;
  long heap_mb = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+r:m:h", opts, NULL)) != -1) {
    switch (c) {
      case 'r':
        root = optarg;
        break;
      case 'v':
        v8_flags = optarg;
        break;
      case 'm':
        heap_mb = strtol(optarg, NULL, 10);
        if (heap_mb <= 0) {
          fprintf(stderr, "isopool: --heap-mb needs a positive number\n");
          return EXIT_USAGE;
        }
        break;
      case 'h':
        fputs(kUsage, stdout);
        return 0;
      default:
        fputs(kUsage, stderr);
        return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fputs(kUsage, stderr);
    return EXIT_USAGE;
  }
  const char* file = argv[optind];
  char* abs = NULL;
  if (file[0] != '/' && strncmp(file, "file://", 7) != 0) {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
      perror("isopool: getcwd");
      return 1;
    }
    size_t n = strlen(cwd) + strlen(file) + 2;
    abs = malloc(n);
    snprintf(abs, n, "%s/%s", cwd, file);
    file = abs;
  }

  if (iso_rt_init_process(v8_flags) != 0) {
    fprintf(stderr, "isopool: cannot initialise V8\n");
    free(abs);
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  iso_rt* rt = NULL;
  iso_rt_opts ro = {.loop = &loop, .root = root, .heap_max_mb = heap_mb};
  int rc = iso_rt_new(&ro, &rt);
  if (rc != 0) {
    fprintf(stderr, "isopool: cannot start the runtime%s%s: %s\n",
            root ? " with root " : "", root ? root : "", iso_strerror(rc));
    free(abs);
    return rc == ISO_ENOENT ? EXIT_USAGE : 1;
  }
  run_state st = {.loop = &loop};
  iso_run_cbs cbs = {.value_cb = value_cb, .done_cb = done_cb};
  iso_eval_opts eo = {
      .specifier = file,
      .call = 1,
      .argc = argc - optind - 1,
      .argv = (const char* const*)argv + optind + 1,
  };
  iso_run* run = NULL;
  rc = iso_run_start(rt, &eo, &cbs, &st, &run);
  if (rc != 0) {
    fprintf(stderr, "isopool: %s\n", iso_strerror(rc));
    st.status = 1;
  } else {
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!st.done) {
      /* the loop ran dry without the realm going idle: a bug */
      fprintf(stderr, "error: the event loop ended early\n");
      st.status = 1;
    }
  }
  fflush(stdout);
  iso_run_free(run);
  iso_rt_free(rt);
  uv_run(&loop, UV_RUN_DEFAULT); /* let the handles close */
  uv_loop_close(&loop);
  free(abs);
  return st.status;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fputs(kUsage, stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "run") == 0) {
    return cmd_run(argc - 1, argv + 1);
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(kUsage, stdout);
    return 0;
  }
  fprintf(stderr, "isopool: unknown command \"%s\"\n\n%s", argv[1], kUsage);
  return EXIT_USAGE;
}
