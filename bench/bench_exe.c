/* bench_exe.c: the isopool binary beside a bench program (bench_exe.h). */
#include "bench_exe.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int bench_isopool_exe(char* out, size_t cap) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    return -1;
  }
  self[n] = '\0';
  int len = snprintf(out, cap, "%s/isopool", dirname(self));
  return len > 0 && (size_t)len < cap && access(out, X_OK) == 0 ? 0 : -1;
}
