/* config.c: the config file as command-line options (config.h). */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_suggest.h"

static const struct option* find(const struct option* opts,
                                 const char* name,
                                 size_t len) {
  for (const struct option* o = opts; o->name != NULL; o++) {
    if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) {
      return o;
    }
  }
  return NULL;
}

const char* conf_option_of(const char* arg,
                           const struct option* opts,
                           size_t* len) {
  if (arg[0] != '-' || arg[1] == '\0') {
    return NULL;
  }
  if (arg[1] == '-') {
    const char* name = arg + 2;
    size_t n = strcspn(name, "=");
    if (n == 0) {
      return NULL; /* `--` */
    }
    *len = n;
    return name;
  }
  for (const struct option* o = opts; o->name != NULL; o++) {
    if (o->flag == NULL && o->val == arg[1]) {
      *len = strlen(o->name);
      return o->name;
    }
  }
  return NULL;
}

typedef struct parse_state {
  const struct option* opts;
  int argc;
  char** argv; /* the command line */
  conf_args* out;
  int cap;
  char err[400]; /* the first error ("" none) */
} parse_state;

/* Is the option `name` on the command line? */
static int on_command_line(const parse_state* st, const char* name) {
  for (int i = 1; i < st->argc; i++) {
    size_t len;
    const char* n = conf_option_of(st->argv[i], st->opts, &len);
    if (n != NULL && strlen(name) == len && strncmp(n, name, len) == 0) {
      return 1;
    }
    if (strcmp(st->argv[i], "--") == 0) {
      break;
    }
  }
  return 0;
}

static int push(conf_args* a, int* cap, char* s) {
  if (a->argc + 2 > *cap) {
    int ncap = *cap ? *cap * 2 : 16;
    char** argv = realloc(a->argv, (size_t)ncap * sizeof *argv);
    char** owned = realloc(a->owned, (size_t)ncap * sizeof *owned);
    if (argv != NULL) {
      a->argv = argv;
    }
    if (owned != NULL) {
      a->owned = owned;
    }
    if (argv == NULL || owned == NULL) {
      free(s);
      return -1;
    }
    *cap = ncap;
  }
  a->argv[a->argc++] = s;
  a->argv[a->argc] = NULL;
  return 0;
}

static int fail(parse_state* st, const char* fmt, const char* a) {
  if (st->err[0] == '\0') {
    snprintf(st->err, sizeof st->err, fmt, a);
  }
  return 0; /* inih: an error at this line */
}

static int on_line(void* user,
                   const char* section,
                   const char* name,
                   const char* value) {
  parse_state* st = user;
  if (section[0] != '\0' && strcmp(section, "serve") != 0) {
    return fail(st, "section [%s]: only [serve] is read", section);
  }
  const struct option* o = find(st->opts, name, strlen(name));
  if (o == NULL || strcmp(name, "config") == 0 || strcmp(name, "help") == 0) {
    size_t n = 0;
    while (st->opts[n].name != NULL) {
      n++;
    }
    const char* near = iso_suggest(name, st->opts, n, sizeof *st->opts);
    if (near != NULL &&
        (strcmp(near, "config") == 0 || strcmp(near, "help") == 0)) {
      near = NULL;
    }
    char why[300];
    snprintf(why, sizeof why, "unknown key \"%.100s\"%s%.100s%s", name,
             near != NULL ? " (did you mean \"" : "", near != NULL ? near : "",
             near != NULL ? "\"?)" : "");
    return fail(st, "%s", why);
  }
  char* arg;
  if (o->has_arg == no_argument) {
    if (strcmp(value, "false") == 0) {
      return 1;
    }
    if (strcmp(value, "true") != 0) {
      return fail(st, "key \"%s\" takes true or false", name);
    }
    if (asprintf(&arg, "--%s", name) < 0) {
      arg = NULL;
    }
  } else if (asprintf(&arg, "--%s=%s", name, value) < 0) {
    arg = NULL;
  }
  if (arg == NULL) {
    return fail(st, "%s", "out of memory");
  }
  if (on_command_line(st, name)) {
    free(arg);
    return 1;
  }
  if (push(st->out, &st->cap, arg) != 0) {
    return fail(st, "%s", "out of memory");
  }
  st->out->owned[st->out->nowned++] = arg;
  return 1;
}

int conf_load(const char* path,
              const struct option* opts,
              int argc,
              char** argv,
              conf_args* out,
              char* err,
              size_t errlen) {
  memset(out, 0, sizeof *out);
  parse_state st = {.opts = opts, .argc = argc, .argv = argv, .out = out};
  if (push(out, &st.cap, argv[0]) != 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "cannot read the config file %s: %s", path,
             strerror(errno));
    conf_free(out);
    return -1;
  }
  int line = ini_parse_file(f, on_line, &st);
  fclose(f);
  if (line != 0) {
    if (line > 0) {
      snprintf(err, errlen, "%s:%d: %s", path, line,
               st.err[0] ? st.err : "not a `key = value` line");
    } else {
      snprintf(err, errlen, "%s: %s", path,
               st.err[0] ? st.err : "out of memory");
    }
    conf_free(out);
    return -1;
  }
  for (int i = 1; i < argc; i++) {
    if (push(out, &st.cap, argv[i]) != 0) {
      snprintf(err, errlen, "out of memory");
      conf_free(out);
      return -1;
    }
  }
  return 0;
}

void conf_free(conf_args* a) {
  for (int i = 0; i < a->nowned; i++) {
    free(a->owned[i]);
  }
  free(a->owned);
  free(a->argv);
  memset(a, 0, sizeof *a);
}
