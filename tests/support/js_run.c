/* js_run.c: `isopool run` (or `deno run`) on a module's text, for the
 * prelude suites (js_run.h). The child's stdout and stderr go to files in
 * the module's temporary directory (not pipes), read once it exited. */
#include "js_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

/* A child that runs longer than this is killed and the case fails. */
#define RUN_TIMEOUT_S 30

static double mono_secs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a whole file; NULL if it cannot. The caller frees. */
static char* slurp(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char* buf = malloc(cap);
  size_t n;
  while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len - 1 == 0) {
      char* grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf != NULL) {
    buf[len] = '\0';
  }
  return buf;
}

static int write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "wb");
  if (f == NULL) {
    return -1;
  }
  size_t n = strlen(text);
  int ok = fwrite(text, 1, n, f) == n;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Runs `argv0 run [flags...] main.js` (argv0: a path; flags NULL-ended,
 * at most 8) on source, as run_js says. */
static int run_with(const char* argv0,
                    const char* const* flags,
                    const char* source,
                    js_run* r) {
  memset(r, 0, sizeof(*r));
  r->status = -1;
  const char* tmp = getenv("TMPDIR");
  char dir[512], main_js[600], out_path[600], err_path[600];
  snprintf(dir, sizeof(dir), "%s/iso-console-XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return -1;
  }
  snprintf(main_js, sizeof(main_js), "%s/main.js", dir);
  snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
  snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
  int rc = -1;
  if (write_file(main_js, source) != 0) {
    perror("write main.js");
    goto done;
  }
  double start = mono_secs();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    goto done;
  }
  if (pid == 0) {
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0 || chdir(dir) != 0) {
      _exit(127);
    }
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    const char* argv[12];
    int k = 0;
    argv[k++] = argv0;
    argv[k++] = "run";
    for (int i = 0; flags != NULL && flags[i] != NULL && i < 8; i++) {
      argv[k++] = flags[i];
    }
    argv[k++] = main_js;
    argv[k] = NULL;
    execv(argv0, (char* const*)argv);
    _exit(127);
  }
  int wstatus = 0;
  for (;;) {
    pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) {
      break;
    }
    if (w < 0 && errno != EINTR) {
      perror("waitpid");
      goto done;
    }
    if (mono_secs() - start > RUN_TIMEOUT_S) {
      fprintf(stderr, "  %s ran over %ds; killed\n", argv0, RUN_TIMEOUT_S);
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      wstatus = -1;
      break;
    }
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  r->secs = mono_secs() - start;
  if (wstatus != -1 && WIFEXITED(wstatus)) {
    r->status = WEXITSTATUS(wstatus);
  }
  r->out = slurp(out_path);
  r->err = slurp(err_path);
  rc = (r->out != NULL && r->err != NULL) ? 0 : -1;
done:
  unlink(main_js);
  unlink(out_path);
  unlink(err_path);
  rmdir(dir);
  return rc;
}

int run_js(const char* source, js_run* r) {
  return run_with(ISO_BIN_DIR "/isopool", NULL, source, r);
}

int run_js_flag(const char* flag, const char* source, js_run* r) {
  const char* flags[] = {flag, NULL};
  return run_with(ISO_BIN_DIR "/isopool", flags, source, r);
}

int run_js_flags(const char* const* flags, const char* source, js_run* r) {
  return run_with(ISO_BIN_DIR "/isopool", flags, source, r);
}

/* Deno's binary, from scripts/deno.sh (run once per process): its path, or
 * "" when it could not be had (the script said why on stderr). */
static const char* deno_path(void) {
  static char path[1024];
  static int tried;
  if (!tried) {
    tried = 1;
    FILE* p = popen(ISO_SOURCE_DIR "/scripts/deno.sh", "r");
    if (p != NULL) {
      if (fgets(path, sizeof path, p) == NULL) {
        path[0] = '\0';
      }
      path[strcspn(path, "\n")] = '\0';
      if (pclose(p) != 0) {
        path[0] = '\0';
      }
    }
  }
  return path;
}

int deno_ready(void) {
  return deno_path()[0] != '\0' ? 0 : -1;
}

int run_deno(const char* source, js_run* r) {
  return run_deno_flags(NULL, source, r);
}

int run_deno_flags(const char* const* flags, const char* source, js_run* r) {
  if (deno_ready() != 0) {
    memset(r, 0, sizeof(*r));
    r->status = -1;
    return -1;
  }
  /* no prompt, no colors, no update check: the output is the script's */
  setenv("NO_COLOR", "1", 1);
  setenv("DENO_NO_UPDATE_CHECK", "1", 1);
  const char* all[10] = {"--quiet"};
  for (int i = 0; flags != NULL && flags[i] != NULL && i < 8; i++) {
    all[i + 1] = flags[i];
  }
  return run_with(deno_path(), all, source, r);
}

void run_free(js_run* r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

int starts_with(const char* s, const char* prefix) {
  return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

int js_run_ready(void) {
  if (access(ISO_BIN_DIR "/isopool", X_OK) != 0) {
    fprintf(stderr, "%s/isopool is missing; build it first\n", ISO_BIN_DIR);
    return -1;
  }
  return 0;
}
