/* procfs.c: reading other processes in /proc for the suites (procfs.h). */
#include "procfs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

enum { MAX_CHILDREN = 256 };

static void proc_path(char* out, size_t cap, int pid, const char* what) {
  if (pid == 0) {
    snprintf(out, cap, "/proc/self/%s", what);
  } else {
    snprintf(out, cap, "/proc/%d/%s", pid, what);
  }
}

long procfs_status_field(int pid, const char* name) {
  char path[64], line[256];
  proc_path(path, sizeof path, pid, "status");
  FILE* f = fopen(path, "r");
  long v = -1;
  size_t len = strlen(name);
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      v = strtol(line + len + 1, NULL, 10);
      break;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  return v;
}

/* Whether pid is a zombie (or gone). */
static int zombie(int pid) {
  char path[64];
  proc_path(path, sizeof path, pid, "stat");
  FILE* s = fopen(path, "r");
  char state = 'Z';
  if (s != NULL) {
    if (fscanf(s, "%*d %*s %c", &state) != 1) {
      state = 'Z';
    }
    fclose(s);
  }
  return state == 'Z';
}

int procfs_children(int pid, int* out, int max) {
  char dir[64];
  proc_path(dir, sizeof dir, pid, "task");
  DIR* d = opendir(dir);
  int n = 0;
  if (d == NULL) {
    return 0;
  }
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/%.32s/children", dir, e->d_name);
    FILE* f = fopen(path, "r");
    if (f == NULL) {
      continue;
    }
    int c;
    while (n < max && fscanf(f, "%d", &c) == 1) {
      if (!zombie(c)) {
        out[n++] = c;
      }
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

int procfs_wait_children(int pid, int want, int timeout_ms) {
  int kids[MAX_CHILDREN];
  int64_t end = now_ms() + (int64_t)(timeout_ms * iso_test_scale());
  int n = procfs_children(pid, kids, MAX_CHILDREN);
  while (n != want && now_ms() < end) {
    sleep_ms(20);
    n = procfs_children(pid, kids, MAX_CHILDREN);
  }
  return n;
}

int procfs_environ_get(int pid, const char* name, char* val, size_t cap) {
  char path[64];
  proc_path(path, sizeof path, pid, "environ");
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    return 0;
  }
  enum { MAX = 1 << 16 };
  char* buf = malloc(MAX);
  size_t n = buf != NULL ? fread(buf, 1, MAX - 1, f) : 0;
  fclose(f);
  if (buf == NULL) {
    return 0;
  }
  buf[n] = '\0';
  size_t len = strlen(name);
  int found = 0;
  for (size_t i = 0; i < n && !found; i += strlen(buf + i) + 1) {
    if (strncmp(buf + i, name, len) == 0 && buf[i + len] == '=') {
      snprintf(val, cap, "%s", buf + i + len + 1);
      found = 1;
    }
  }
  free(buf);
  return found;
}
