/* proc.c: proc_run and its helpers (proc.h). */
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double proc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int slurp(int fd, char** buf, size_t* len, size_t* cap) {
  if (*cap - *len < 4096) {
    *cap = *cap * 2 + 4096;
    *buf = realloc(*buf, *cap);
  }
  ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
  if (n > 0) {
    *len += (size_t)n;
  }
  (*buf)[*len] = '\0';
  return n > 0 || (n < 0 && errno == EINTR);
}

int proc_run(const char* cwd,
             const char* const* argv,
             int timeout_s,
             proc_result* r) {
  memset(r, 0, sizeof(*r));
  r->status = -1;
  int po[2], pe[2];
  if (pipe(po) != 0 || pipe(pe) != 0) {
    return -1;
  }
  double start = proc_now();
  pid_t pid = fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    dup2(po[1], STDOUT_FILENO);
    dup2(pe[1], STDERR_FILENO);
    close(po[0]);
    close(pe[0]);
    if (cwd != NULL && chdir(cwd) != 0) {
      _exit(126);
    }
    execv(argv[0], (char* const*)argv);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  size_t olen = 0, ocap = 0, elen = 0, ecap = 0;
  int open_fds = 2;
  struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  int killed = 0;
  while (open_fds > 0) {
    double left = timeout_s - (proc_now() - start);
    if (left <= 0 && !killed) {
      fprintf(stderr, "  %s ran over %ds; killed\n", argv[0], timeout_s);
      kill(pid, SIGKILL);
      killed = 1;
    }
    int n = poll(fds, 2, killed ? 1000 : (int)(left * 1000) + 1);
    if (n < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        int more = i == 0 ? slurp(fds[i].fd, &r->out, &olen, &ocap)
                          : slurp(fds[i].fd, &r->err, &elen, &ecap);
        if (!more) {
          close(fds[i].fd);
          fds[i].fd = -1;
          open_fds--;
        }
      }
    }
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  r->secs = proc_now() - start;
  if (WIFEXITED(ws) && !killed) {
    r->status = WEXITSTATUS(ws);
  } else if (WIFSIGNALED(ws)) {
    r->signal = WTERMSIG(ws);
  }
  if (r->out == NULL) {
    r->out = calloc(1, 1);
  }
  if (r->err == NULL) {
    r->err = calloc(1, 1);
  }
  return 0;
}

void proc_result_free(proc_result* r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}
