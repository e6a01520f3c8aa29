/* daemon.c: starting and stopping `isopool serve` for the service suites
 * (daemon.h). */
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int wait_count(pthread_mutex_t* mu,
               pthread_cond_t* cv,
               const int* done,
               int want,
               int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  pthread_mutex_lock(mu);
  while (*done < want && now_ms() < end) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
  }
  int ok = *done >= want;
  pthread_mutex_unlock(mu);
  return ok;
}

int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr*)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr*)&a, &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) {
    close(fd);
  }
  return port;
}

static int daemon_seq;

void daemon_names(const char* tag,
                  char path[DAEMON_PATH_LEN],
                  char url[DAEMON_URL_LEN],
                  char log[DAEMON_PATH_LEN]) {
  int n = ++daemon_seq;
  snprintf(path, DAEMON_PATH_LEN, "/tmp/isopool-%s-%d-%d.ipc", tag,
           (int)getpid(), n);
  snprintf(url, DAEMON_URL_LEN, "ipc://%s", path);
  snprintf(log, DAEMON_PATH_LEN, "/tmp/isopool-%s-%d-%d.log", tag,
           (int)getpid(), n);
  unlink(path);
}

void daemon_argv(const char* argv[DAEMON_ARGC],
                 const char* const* base,
                 const char* const* extra) {
  int argc = 0;
  for (size_t i = 0; base[i] != NULL && argc < DAEMON_ARGC - 2; i++) {
    argv[argc++] = base[i];
  }
  for (size_t i = 0;
       extra != NULL && extra[i] != NULL && argc < DAEMON_ARGC - 2; i++) {
    argv[argc++] = extra[i];
  }
  argv[argc] = NULL;
}

pid_t daemon_spawn(const char* const* argv, const char* log) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) {
    return pid;
  }
  /* never outlive the test, whatever happens to it */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) {
    _exit(126);
  }
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  execv(argv[0], (char* const*)argv);
  fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

int daemon_start(const char* const* argv,
                 const char* log,
                 iso_client* c,
                 const char* ping,
                 pid_t* pid) {
  iso_job job = {.kind = ISO_JOB_EVAL};
  int tries = 0;
  /* exec may fail for a moment while a parallel build relinks the binary
   * (EACCES, ETXTBSY): the child exits 127; start again */
  for (int attempt = 0; attempt < 20; attempt++) {
    *pid = daemon_spawn(argv, log);
    if (*pid < 0) {
      CHECK(*pid > 0);
      *pid = 0;
      return -1;
    }
    int64_t start = now_ms();
    int exited = 0;
    while (!exited && now_ms() - start < 10000) {
      int ws;
      if (waitpid(*pid, &ws, WNOHANG) == *pid) {
        *pid = 0;
        exited = 1;
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127) {
          break;
        }
        fprintf(stderr, "  the daemon exited early (status %d)\n", ws);
        CHECK(!"the daemon started");
        return -1;
      }
      /* each try's text its own: a ping retried on a slow start would
       * otherwise compile the same text twice, and the second compile
       * makes a code cache entry the case did not ask for */
      char src[512];
      snprintf(src, sizeof src, "%s\n// try %d", ping, tries++);
      job.source = src;
      iso_result r;
      int rc = iso_client_call(c, &job, 500, &r);
      int ok = rc == 0 && r.status == ISO_STATUS_FULFILLED;
      iso_result_close(&r);
      if (ok) {
        return 0;
      }
      sleep_ms(20);
    }
    if (!exited) {
      break;
    }
    sleep_ms(250);
  }
  CHECK(!"the daemon answered within 10 s");
  return -1;
}

int daemon_wait(pid_t* pid, int timeout_ms) {
  if (*pid <= 0) {
    return -1;
  }
  int64_t end = now_ms() + timeout_ms;
  int ws = 0;
  pid_t got = 0;
  for (;;) {
    got = waitpid(*pid, &ws, WNOHANG);
    if (got == *pid || got < 0 || now_ms() >= end) {
      break;
    }
    sleep_ms(5);
  }
  if (got != *pid) {
    fprintf(stderr, "  the daemon did not exit within %d ms; killed\n",
            timeout_ms);
    kill(*pid, SIGKILL);
    waitpid(*pid, &ws, 0);
    *pid = 0;
    return -1;
  }
  *pid = 0;
  if (WIFSIGNALED(ws)) {
    fprintf(stderr, "  the daemon died of signal %d\n", WTERMSIG(ws));
    return -1;
  }
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

void daemon_stop(pid_t* pid, int timeout_ms) {
  if (*pid > 0) {
    kill(*pid, SIGTERM);
    CHECK_EQ(daemon_wait(pid, timeout_ms), 0);
  }
}

void daemon_dump_log(const char* log) {
  FILE* f = fopen(log, "r");
  if (f == NULL) {
    return;
  }
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL && n++ < 50) {
    fprintf(stderr, "  daemon: %s", line);
  }
  fclose(f);
}

int daemon_log_lines(const char* log, const char* what) {
  FILE* f = fopen(log, "r");
  char line[2048];
  int n = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    n += strstr(line, what) != NULL;
  }
  if (f != NULL) {
    fclose(f);
  }
  return n;
}

int daemon_wait_log(const char* log, const char* what, int timeout_ms) {
  int64_t end = now_ms() + (int64_t)(timeout_ms * iso_test_scale());
  while (daemon_log_lines(log, what) == 0 && now_ms() < end) {
    sleep_ms(20);
  }
  return daemon_log_lines(log, what) > 0;
}

void daemon_clean(const char* log, const char* path) {
  if (iso_test_failed) {
    daemon_dump_log(log);
  }
  unlink(log);
  unlink(path);
}
