/* cold_bench.c: a cold start, `isopool run FILE` beside `deno run FILE`,
 * alternated in one run (issue 15's first target).
 *
 *   cold_bench [--rounds N] [--deno PATH | --no-deno REASON] FILE
 *
 * Each round starts `isopool run FILE` (the isopool binary beside this
 * one) and `deno run FILE` once each, the order flipped every round so
 * neither side always follows the other, each a new process made with
 * posix_spawn and reaped with wait4: its wall time (clock_gettime
 * CLOCK_MONOTONIC from just before posix_spawn to wait4's return) and its
 * CPU time (wait4's rusage, user + system, the process and the children it
 * waited for). Both sides pay the same spawn and reap, from this process,
 * with no shell between. One round of each first, not counted: the
 * binaries, the libraries and FILE are in the page cache for both, and
 * Deno's cache directory ($DENO_DIR, else its default) exists. Every run's
 * stdout goes to a file that must then hold the same bytes as the first
 * isopool run's (a run that fails or prints something else stops the
 * bench); stderr is left alone. DENO_NO_UPDATE_CHECK=1 and NO_COLOR=1 are
 * set for both, so Deno does not ask the network for a new version.
 *
 * Prints the medians of each (ms), their ratio (isopool / Deno: below 1
 * is faster than Deno) and the median of the rounds' ratios, then a
 * `target` line (bench/README.md, "Targets"). Without Deno (--no-deno
 * REASON: scripts/deno.sh could not get it), the isopool figures and
 * `deno: skipped (REASON)`, and a target line without a baseline.
 * Exit status 0, 1 when a run failed, 2 on bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_exe.h"

extern char** environ;

#define MAX_ROUNDS 1000
#define OUT_CAP 4096

enum { ISO, DENO, NSIDES };

typedef struct side {
  const char* name;
  char* argv[4];
  double wall_ms[MAX_ROUNDS];
  double cpu_ms[MAX_ROUNDS];
} side;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double tv_ms(struct timeval tv) {
  return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

/* The median of v[0..n); sorts a copy. */
static double median(const double* v, int n) {
  double s[MAX_ROUNDS];
  memcpy(s, v, (size_t)n * sizeof(*v));
  qsort(s, (size_t)n, sizeof(*s), cmp_double);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Reads up to cap bytes of path into buf; the length, or -1. */
static ssize_t slurp(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  ssize_t n = read(fd, buf, cap);
  close(fd);
  return n;
}

/* Runs s once with its stdout in out_path; 0 with *wall and *cpu (ms), or
 * -1 (said why). */
static int run_once(const side* s,
                    const char* out_path,
                    double* wall,
                    double* cpu) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path,
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  double t0 = now_ms();
  int rc = posix_spawn(&pid, s->argv[0], &fa, NULL, s->argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cold_bench: cannot start %s: %s\n", s->argv[0],
            strerror(rc));
    return -1;
  }
  int status;
  struct rusage ru;
  pid_t got;
  do {
    got = wait4(pid, &status, 0, &ru);
  } while (got < 0 && errno == EINTR);
  *wall = now_ms() - t0;
  if (got != pid) {
    fprintf(stderr, "cold_bench: wait4: %s\n", strerror(errno));
    return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "cold_bench: %s run %s: exit status %d\n", s->name,
            s->argv[2], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -1;
  }
  *cpu = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
  return 0;
}

/* run_once, then the output compared with want (want_len bytes; when
 * want_len is -1, the output becomes want). 0 or -1 (said why). */
static int run_checked(const side* s,
                       const char* out_path,
                       char* want,
                       ssize_t* want_len,
                       double* wall,
                       double* cpu) {
  if (run_once(s, out_path, wall, cpu) != 0) {
    return -1;
  }
  char got[OUT_CAP];
  ssize_t n = slurp(out_path, got, sizeof got);
  if (n < 0) {
    fprintf(stderr, "cold_bench: cannot read %s\n", out_path);
    return -1;
  }
  if (*want_len < 0) {
    memcpy(want, got, (size_t)n);
    *want_len = n;
    return 0;
  }
  if (n != *want_len || memcmp(got, want, (size_t)n) != 0) {
    fprintf(stderr,
            "cold_bench: %s printed \"%.*s\" where isopool printed \"%.*s\"\n",
            s->name, (int)n, got, (int)*want_len, want);
    return -1;
  }
  return 0;
}

static const char kUsage[] =
    "usage: cold_bench [--rounds N] [--deno PATH | --no-deno REASON] FILE\n"
    "  --rounds N        rounds, each one run of each side (default 20)\n"
    "  --deno PATH       the deno binary (scripts/deno.sh prints it)\n"
    "  --no-deno REASON  measure isopool alone, saying why\n";

int main(int argc, char** argv) {
  int rounds = 20;
  const char* deno = NULL;
  const char* no_deno = "no --deno given";
  static const struct option longopts[] = {
      {"rounds", required_argument, NULL, 'n'},
      {"deno", required_argument, NULL, 'd'},
      {"no-deno", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case 'n': {
        char* end;
        long v = strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || v < 1 || v > MAX_ROUNDS) {
          fprintf(stderr, "cold_bench: --rounds needs 1 to %d\n", MAX_ROUNDS);
          return 2;
        }
        rounds = (int)v;
        break;
      }
      case 'd':
        deno = optarg;
        break;
      case 's':
        no_deno = optarg;
        deno = NULL;
        break;
      case 'h':
        fputs(kUsage, stdout);
        return 0;
      default:
        fputs(kUsage, stderr);
        return 2;
    }
  }
  if (optind != argc - 1) {
    fputs(kUsage, stderr);
    return 2;
  }
  char* file = argv[optind];
  static char exe[PATH_MAX];
  if (bench_isopool_exe(exe, sizeof exe) != 0) {
    fprintf(stderr, "cold_bench: no isopool binary beside this one\n");
    return 1;
  }
  setenv("DENO_NO_UPDATE_CHECK", "1", 1);
  setenv("NO_COLOR", "1", 1);
  static side sides[NSIDES] = {{.name = "isopool"}, {.name = "deno"}};
  sides[ISO].argv[0] = exe;
  sides[ISO].argv[1] = "run";
  sides[ISO].argv[2] = file;
  sides[DENO].argv[0] = (char*)deno;
  sides[DENO].argv[1] = "run";
  sides[DENO].argv[2] = file;
  int nsides = deno != NULL ? 2 : 1;

  char out_path[] = "/tmp/isopool-cold-XXXXXX";
  int fd = mkstemp(out_path);
  if (fd < 0) {
    fprintf(stderr, "cold_bench: mkstemp: %s\n", strerror(errno));
    return 1;
  }
  close(fd);
  char want[OUT_CAP];
  ssize_t want_len = -1;
  int rc = 0;
  double wall, cpu;
  /* the warm-up: one of each, not counted (isopool's output is the one
   * every run must print) */
  for (int i = 0; i < nsides && rc == 0; i++) {
    rc = run_checked(&sides[i], out_path, want, &want_len, &wall, &cpu);
  }
  for (int r = 0; r < rounds && rc == 0; r++) {
    for (int k = 0; k < nsides && rc == 0; k++) {
      side* s = &sides[nsides == 2 ? (r + k) % 2 : 0];
      rc = run_checked(s, out_path, want, &want_len, &s->wall_ms[r],
                       &s->cpu_ms[r]);
    }
  }
  unlink(out_path);
  if (rc != 0) {
    return 1;
  }

  double iw = median(sides[ISO].wall_ms, rounds);
  double ic = median(sides[ISO].cpu_ms, rounds);
  printf(
      "cold start of %s, %d alternating rounds (medians; wall from spawn "
      "to reap)\n",
      file, rounds);
  printf("  %-34s %10s %10s\n", "", "wall", "cpu");
  printf("  %-34s %7.1f ms %7.1f ms\n", "isopool run", iw, ic);
  if (deno == NULL) {
    printf("  deno: skipped (%s)\n", no_deno);
    printf("target\tcold_start\t%.2f\tms\tdeno run\t-\t-\n", iw);
    return 0;
  }
  double dw = median(sides[DENO].wall_ms, rounds);
  double dc = median(sides[DENO].cpu_ms, rounds);
  double ratio[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    ratio[r] = sides[ISO].wall_ms[r] / sides[DENO].wall_ms[r];
  }
  printf("  %-34s %7.1f ms %7.1f ms\n", "deno run", dw, dc);
  printf("  %-34s %9.2fx %9.2fx   (median of rounds' wall ratios %.2fx)\n",
         "isopool / deno", iw / dw, ic / dc, median(ratio, rounds));
  printf("target\tcold_start\t%.2f\tms\tdeno run\t%.2f\t%.3f\n", iw, dw,
         iw / dw);
  return 0;
}
