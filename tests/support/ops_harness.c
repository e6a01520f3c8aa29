/* ops_harness.c: the ops suites' fixture and op calls (ops_harness.h). */
#include "ops_harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_json.h"
#include "iso_mp.h"
#include "tap.h"

char g_root[64];
char g_out[64];
iso_ops_env* g_env;
iso_perms* g_all;

void write_path(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* root-relative helpers for building and checking the tree */
void put(const char* rel, const char* text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", g_root, rel);
  write_path(path, text);
}

int exists(const char* dir, const char* rel) {
  char path[256];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return lstat(path, &st) == 0;
}

void sub(const char* rel, char* path, size_t n) {
  snprintf(path, n, "%s/%s", g_root, rel);
}

static void make_tree(void) {
  char p[256], t[256];
  const char* dirs[] = {"notes", "data",   "database", "empty",
                        "tree",  "tree/a", "tree/a/b"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    sub(dirs[i], p, sizeof p);
    mkdir(p, 0755);
  }
  put("notes/a.txt", "hello");
  put("data/x.txt", "x");
  put("database/y.txt", "y");
  put("tree/f", "f");
  put("tree/a/b/g", "g");
  sub("fifo", p, sizeof p);
  mkfifo(p, 0644);
  snprintf(t, sizeof t, "%s/secret.txt", g_out);
  write_path(t, "secret");
  struct {
    const char* rel;
    const char* target;
  } links[] = {{"link_in", "notes/a.txt"},
               {"link_dir_in", "notes"},
               {"link_up", "../x/secret.txt"},
               {"tree/out", g_out}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    sub(links[i].rel, p, sizeof p);
    CHECK_EQ(symlink(links[i].target, p), 0);
  }
  sub("link_out", p, sizeof p);
  CHECK_EQ(symlink(t, p), 0); /* absolute, to outside */
  sub("link_dir_out", p, sizeof p);
  CHECK_EQ(symlink(g_out, p), 0);
}

iso_ops_env* env(void) {
  if (g_env == NULL) {
    char err[256] = "";
    snprintf(g_root, sizeof g_root, "/tmp/iso_ops_root_XXXXXX");
    snprintf(g_out, sizeof g_out, "/tmp/iso_ops_out_XXXXXX");
    CHECK(mkdtemp(g_root) != NULL && mkdtemp(g_out) != NULL);
    make_tree();
    iso_ops_env_opts o = {.data_root = g_root};
    CHECK_EQ(iso_ops_env_new(&o, &g_env, err, sizeof err), 0);
    iso_perm_flags all = {.read = "", .write = "", .env = "", .net = ""};
    CHECK_EQ(iso_perms_parse_flags(&all, &g_all, err, sizeof err), 0);
  }
  return g_env;
}

static int rm_cb(const char* p,
                 const struct stat* st,
                 int flag,
                 struct FTW* f) {
  return remove(p);
}

void rm_tree(const char* path) {
  nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int ops_fixture_setup(void) {
  return env() != NULL && !iso_test_failed ? 0 : -1;
}

void ops_fixture_teardown(void) {
  if (g_env != NULL) {
    rm_tree(g_root);
    rm_tree(g_out);
    iso_ops_env_free(g_env);
    iso_perms_unref(g_all);
    g_env = NULL;
    g_all = NULL;
  }
  iso_buf_close(&R.out);
  iso_buf_close(&R.json);
}

iso_perms* perms(const char* r, const char* w, const char* e) {
  iso_perms* p = NULL;
  char err[256];
  int rc = iso_perms_parse(r, w, e, &p, err, sizeof err);
  CHECK_EQ(rc, 0);
  return p;
}

/* ---- calling ops ---- */

/* Builds a msgpack argument array. One spec letter per argument: s str,
 * y bin (a C string's bytes), Y bin (pointer, size_t), b bool (int), i int,
 * I long long, d double, n nil, j a JSON value, r raw msgpack (pointer,
 * size_t). */
static void build_args(iso_buf* b, const char* spec, va_list ap) {
  iso_mp_wr w;
  iso_mp_wr_init(&w, b);
  iso_mp_put_array(&w, (uint32_t)strlen(spec));
  for (const char* s = spec; *s != '\0'; s++) {
    const char* t;
    const void* p;
    size_t n;
    switch (*s) {
      case 's':
        iso_mp_put_cstr(&w, va_arg(ap, const char*));
        break;
      case 'y':
        t = va_arg(ap, const char*);
        iso_mp_put_bin(&w, t, strlen(t));
        break;
      case 'Y':
      case 'r':
        p = va_arg(ap, const void*);
        n = va_arg(ap, size_t);
        if (*s == 'Y') {
          iso_mp_put_bin(&w, p, n);
        } else {
          iso_mp_put_raw(&w, p, n);
        }
        break;
      case 'b':
        iso_mp_put_bool(&w, va_arg(ap, int));
        break;
      case 'i':
        iso_mp_put_int(&w, va_arg(ap, int));
        break;
      case 'I':
        iso_mp_put_int(&w, va_arg(ap, long long));
        break;
      case 'd':
        iso_mp_put_double(&w, va_arg(ap, double));
        break;
      case 'n':
        iso_mp_put_nil(&w);
        break;
      case 'j':
        t = va_arg(ap, const char*);
        CHECK_EQ(iso_json_to_msgpack(t, strlen(t), b), 0);
        break;
    }
  }
}

res R;

static void set_json(void) {
  iso_buf_reset(&R.json);
  if (R.rc == 0 && R.out.len > 0) {
    CHECK_EQ(iso_json_from_msgpack(R.out.data, R.out.len, &R.json), 0);
  }
  iso_buf_terminate(&R.json);
}

void invoke_raw(const iso_op_def* def,
                const iso_perms* p,
                iso_ops_env* e,
                const uint8_t* args,
                size_t len) {
  iso_op_call call = {.def = def, .perms = p, .env = e, .out = &R.out};
  iso_buf_reset(&R.out);
  R.rc = iso_op_invoke(&call, args, len);
  R.err = call.err;
  memcpy(R.msg, call.msg, sizeof R.msg);
  set_json();
}

void vinvoke(const iso_op_def* def,
             const iso_perms* p,
             iso_ops_env* e,
             const char* spec,
             va_list ap) {
  iso_buf args;
  iso_buf_init(&args);
  build_args(&args, spec, ap);
  invoke_raw(def, p, e, args.data, args.len);
  iso_buf_close(&args);
}

const iso_op_def* def_of(const char* name) {
  const iso_op_table* t = iso_ops_builtin();
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->defs[i].name, name) == 0) {
      return &t->defs[i];
    }
  }
  fprintf(stderr, "  no op %s\n", name);
  abort();
}

/* Runs a built-in op with perms p on the shared env. */
const char* run(const char* op, const iso_perms* p, const char* spec, ...) {
  va_list ap;
  va_start(ap, spec);
  vinvoke(def_of(op), p, env(), spec, ap);
  va_end(ap);
  return (const char*)R.json.data;
}

/* The same with a given def and env. */
void run_def(const iso_op_def* def, iso_ops_env* e, const char* spec, ...) {
  va_list ap;
  va_start(ap, spec);
  vinvoke(def, iso_perms_none(), e, spec, ap);
  va_end(ap);
}

/* The last result as bin bytes; NULL when it is not a bin. */
const uint8_t* result_bin(size_t* len) {
  iso_mp_rd r;
  iso_mp_obj o;
  iso_mp_rd_init(&r, R.out.data, R.out.len);
  if (R.rc != 0 || iso_mp_read(&r, &o) != 0 || o.type != ISO_MP_BIN) {
    return NULL;
  }
  *len = o.len;
  return o.data;
}

void to_hex(const uint8_t* p, size_t n, char* out) {
  for (size_t i = 0; i < n; i++) {
    snprintf(out + 2 * i, 3, "%02x", p[i]);
  }
  out[2 * n] = '\0';
}
