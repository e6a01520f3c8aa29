/* test_service_ops.c: the op bus end to end: isopool:fs, isopool:kv,
 * isopool:env, crypto and Isopool.core against the real daemon.
 *
 * Each case starts `isopool serve` (ISO_BIN_DIR/isopool, 2 workers) on its
 * own ipc:///tmp/isopool-ops-<pid>-<n>.ipc with fixtures/ops as the module
 * root and a fresh data root made here (mkdtemp): a tree with files, a
 * directory, a FIFO, and symlinks in data/pub: one to a file beside it, one
 * to a file inside the data root but outside pub, one to a file outside the
 * data root, one to the data root itself. The daemon gets the grants the
 * case needs (--allow-read, --allow-write, --allow-env) and the environment
 * of this process (ISO_TEST_VAR=hello, ISO_TEST_UNSET unset). Jobs go
 * through ipc/iso_client.h only; each case stops the daemon with SIGTERM
 * and checks that it exits 0 (its stderr is printed when the case failed).
 *
 * Most checks run one eval job whose default export tries several things
 * and returns a list of "label=outcome" strings ("read=ok:alpha",
 * "nofile=NotFound: readFile 'nope': ..."; double quotes in messages become
 * single quotes), read back with expect_item().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, mkdtemp */
#endif
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_proto.h"
#include "json_check.h"
#include "tap.h"
#include "tracker.h"

#define FIXTURES ISO_FIXTURES "/ops"
#define ISOPOOL ISO_BIN_DIR "/isopool"

/* isolate/rt_eval.c kModuleStall: an eval whose top-level await waits on
 * nothing that keeps the loop alive */
#define STALL_MESSAGE                                                   \
  "Module evaluation is still pending but there are no pending ops or " \
  "dynamic imports. This situation is often caused by unresolved promise."

/* The long op: SHA-512 of LONG_OPS buffers of 15 MiB (an op's arguments
 * are at most 16 MiB of msgpack), all sent in one tick, so one op thread
 * hashes 150 MiB: most of a second, far over a 100 ms job timeout. */
#define LONG_OPS                                  \
  "const big = new Uint8Array(15 << 20);\n"       \
  "const ps = Array.from({ length: 10 }, () =>\n" \
  "  Isopool.core.opAsync('op_crypto_digest', 'SHA-512', big));\n"

/* ---- small helpers ------------------------------------------------------ */

static void put_file(const char* dir, const char* rel, const char* text) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE* f = fopen(path, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* The contents of dir/rel (at most 4 KiB), or NULL; the caller frees. */
static char* get_file(const char* dir, const char* rel) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    return NULL;
  }
  char* buf = calloc(1, 4097);
  size_t n = fread(buf, 1, 4096, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int rm_entry(const char* path,
                    const struct stat* st,
                    int flag,
                    struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* ---- the data root ------------------------------------------------------ */

/* tmp/                        (mkdtemp)
 *   outside.txt               "outside": beyond the data root
 *   data/                     --data
 *     secret.txt              "secret"
 *     fifo                    a FIFO
 *     dir/                    empty
 *     pub/a.txt, pub/b.txt    "alpha", "beta"
 *     pub/in_link   -> a.txt             inside pub
 *     pub/sec_link  -> ../secret.txt     inside the root, outside pub
 *     pub/out_link  -> ../../outside.txt outside the root
 *     pub/up        -> ..                the data root itself
 */
static int make_tree(char* tmp, size_t tmplen, char* data, size_t datalen) {
  snprintf(tmp, tmplen, "/tmp/isopool-opsdata-XXXXXX");
  if (mkdtemp(tmp) == NULL) {
    CHECK(!"mkdtemp");
    return -1;
  }
  snprintf(data, datalen, "%s/data", tmp);
  char p[PATH_MAX];
  int ok = mkdir(data, 0755) == 0;
  put_file(tmp, "outside.txt", "outside");
  put_file(data, "secret.txt", "secret");
  snprintf(p, sizeof p, "%s/fifo", data);
  ok = ok && mkfifo(p, 0644) == 0;
  snprintf(p, sizeof p, "%s/dir", data);
  ok = ok && mkdir(p, 0755) == 0;
  snprintf(p, sizeof p, "%s/pub", data);
  ok = ok && mkdir(p, 0755) == 0;
  put_file(data, "pub/a.txt", "alpha");
  put_file(data, "pub/b.txt", "beta");
  static const char* const links[][2] = {
      {"a.txt", "pub/in_link"},
      {"../secret.txt", "pub/sec_link"},
      {"../../outside.txt", "pub/out_link"},
      {"..", "pub/up"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", data, links[i][1]);
    ok = ok && symlink(links[i][0], p) == 0;
  }
  CHECK(ok);
  return ok ? 0 : -1;
}

/* ---- the daemon --------------------------------------------------------- */

typedef struct svc {
  pid_t pid;
  char url[DAEMON_URL_LEN];
  char path[DAEMON_PATH_LEN]; /* the ipc socket file */
  char log[DAEMON_PATH_LEN];  /* the daemon's stderr */
  char tmp[64];               /* the tree above */
  char data[80];              /* tmp/data: --data */
  iso_client* c;
} svc;

/* svc_start: makes a fresh data tree and starts `isopool serve` with the
 * base flags (2 workers, fixtures/ops, --data, --quiet) and then `extra`
 * (NULL-terminated), opens a client, and waits up to 10 s for a trivial
 * eval to be answered. Returns 0, or -1 (the case is failed). */
static int svc_start(svc* s, const char* const* extra) {
  memset(s, 0, sizeof *s);
  daemon_names("ops", s->path, s->url, s->log);
  if (make_tree(s->tmp, sizeof s->tmp, s->data, sizeof s->data) != 0) {
    return -1;
  }
  const char* base[] = {ISOPOOL,     "serve",  "--listen",  s->url,
                        "--modules", FIXTURES, "--workers", "2",
                        "--data",    s->data,  "--admin",   "none",
                        "--quiet",   NULL};
  const char* argv[DAEMON_ARGC];
  daemon_argv(argv, base, extra);
  iso_client_opts o = {.max_inflight = 1024};
  int rc = iso_client_open(s->url, &o, &s->c);
  CHECK_EQ(rc, 0);
  if (rc != 0) {
    return -1;
  }
  return daemon_start(argv, s->log, s->c, "export default 1;", &s->pid);
}

/* svc_stop: SIGTERM; the daemon must exit 0 within 8 s (else it is
 * killed). Closes the client and removes the data tree. Accepts a daemon
 * that did not start. */
static void svc_stop(svc* s) {
  daemon_stop(&s->pid, 8000);
  iso_client_close(s->c);
  s->c = NULL;
  daemon_clean(s->log, s->path);
  if (s->tmp[0] != '\0') {
    nftw(s->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

/* The daemon most cases use: everything granted, env for two names. */
static const char* const kAllowAll[] = {
    "--allow-read", "--allow-write", "--allow-env=ISO_TEST_VAR,ISO_TEST_UNSET",
    NULL};

/* ---- jobs --------------------------------------------------------------- */

/* What every eval job source starts with: the modules, and `outcome`,
 * which runs f and says how it went as one "label=..." string. */
#define JS_PRELUDE                                            \
  "import * as fs from 'isopool:fs';\n"                       \
  "import * as kv from 'isopool:kv';\n"                       \
  "import * as env from 'isopool:env';\n"                     \
  "const core = Isopool.core;\n"                              \
  "const q = (s) => String(s).replaceAll('\"', \"'\");\n"     \
  "const outcome = async (label, f) => {\n"                   \
  "  try {\n"                                                 \
  "    const v = await f();\n"                                \
  "    return `${label}=ok:${q(typeof v === 'string' ? v :\n" \
  "      JSON.stringify(v))}`;\n"                             \
  "  } catch (e) {\n"                                         \
  "    return `${label}=${e?.name}: ${q(e?.message)}`;\n"     \
  "  }\n"                                                     \
  "};\n"

typedef struct jobopt {
  const char* perms; /* JSON of the job's `permissions`, or NULL */
  int64_t timeout_ms;
} jobopt;

/* Runs an eval job whose source is JS_PRELUDE + "export default async ()
 * => { body }" and fills r (the caller frees it). Returns the client's
 * status (checked to be 0). */
static int run_js(svc* s, const char* body, jobopt o, iso_result* r) {
  size_t n = strlen(JS_PRELUDE) + strlen(body) + 64;
  char* src = malloc(n);
  snprintf(src, n, "%sexport default async () => {\n%s\n};\n", JS_PRELUDE,
           body);
  iso_buf perms;
  iso_buf_init(&perms);
  iso_job j = {.kind = ISO_JOB_EVAL, .source = src, .timeout_ms = o.timeout_ms};
  if (o.perms != NULL) {
    perms = mp_of(o.perms);
    j.permissions = perms.data;
    j.permissions_len = perms.len;
  }
  int rc = iso_client_call(s->c, &j, 30000, r);
  if (rc != 0) {
    fprintf(stderr, "  iso_client_call: %s\n", iso_strerror(rc));
  }
  CHECK_EQ(rc, 0);
  iso_buf_free(&perms);
  free(src);
  return rc;
}

static void print_failure(const iso_result* r) {
  fprintf(stderr, "    status %d %s: %s %s\n", r->status,
          r->code_name ? r->code_name : "", r->name ? r->name : "",
          r->message ? r->message : "");
}

/* Runs body; the job must fulfil; returns the value as JSON (the caller
 * frees it), "(none)" when it did not. */
static char* js_value(svc* s, const char* body, jobopt o) {
  iso_result r;
  if (run_js(s, body, o, &r) != 0) {
    return strdup("(none)");
  }
  CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
  if (r.status != ISO_STATUS_FULFILLED) {
    print_failure(&r);
  }
  char* v = r.status == ISO_STATUS_FULFILLED ? json_of(r.value, r.value_len)
                                             : strdup("(none)");
  iso_result_free(&r);
  return v;
}

/* Runs body; its value must be the JSON text want. */
static void expect_js(svc* s, const char* body, jobopt o, const char* want) {
  char* v = js_value(s, body, o);
  CHECK_STR(v, want);
  free(v);
}

/* Runs body; the job must be rejected with error `name` whose message
 * contains frag. */
static void expect_js_rejects(svc* s,
                              const char* body,
                              jobopt o,
                              const char* name,
                              const char* frag) {
  iso_result r;
  if (run_js(s, body, o, &r) != 0) {
    return;
  }
  CHECK_EQ(r.status, ISO_STATUS_REJECTED);
  if (r.status != ISO_STATUS_REJECTED) {
    print_failure(&r);
  }
  CHECK_STR(r.name, name);
  CHECK_CONTAINS(r.message, frag);
  iso_result_free(&r);
}

/* Runs body; the service must refuse it with error `code`, the message
 * containing frag. */
static void expect_js_refused(svc* s,
                              const char* body,
                              jobopt o,
                              iso_proto_code code,
                              const char* frag) {
  iso_result r;
  if (run_js(s, body, o, &r) != 0) {
    return;
  }
  CHECK_EQ(r.status, ISO_STATUS_ERROR);
  CHECK_EQ(r.code, code);
  if (r.status != ISO_STATUS_ERROR || r.code != code) {
    print_failure(&r);
  }
  CHECK_CONTAINS(r.message, frag);
  iso_result_free(&r);
}

/* check_item: in json (an array of outcome strings), the element
 * "label=..." must exist, start with "label=<want>" and contain frag (NULL:
 * anything). Returns 1 if it did. */
static int check_item(const char* json,
                      const char* label,
                      const char* want,
                      const char* frag,
                      int line) {
  char key[128];
  snprintf(key, sizeof key, "\"%s=", label);
  const char* at = json != NULL ? strstr(json, key) : NULL;
  char item[1024] = "(missing)";
  if (at != NULL) {
    at += 1;
    const char* end = strchr(at, '"');
    size_t n = end != NULL ? (size_t)(end - at) : strlen(at);
    if (n >= sizeof item) {
      n = sizeof item - 1;
    }
    memcpy(item, at, n);
    item[n] = '\0';
  }
  size_t ll = strlen(label);
  int ok = at != NULL && strncmp(item + ll + 1, want, strlen(want)) == 0 &&
           (frag == NULL || strstr(item, frag) != NULL);
  if (!ok) {
    fprintf(stderr,
            "  line %d: outcome %s\n    got:  %s\n    want: %s=%s... "
            "containing \"%s\"\n",
            line, label, item, label, want, frag ? frag : "");
    iso_test_failed = 1;
  }
  return ok;
}

#define CHECK_ITEM(json, label, want, frag) \
  check_item((json), (label), (want), (frag), __LINE__)

/* ---- many jobs at once -------------------------------------------------- */

/* check_all_workers: 16 eval jobs at once, each sleeping a little (so
 * they spread over both workers) and doing a kv op and a sync op; every
 * one must answer right, and both workers must have answered. */
static void check_all_workers(svc* s) {
  enum { N = 16 };
  tracker t;
  tracker_init(&t, N);
  iso_job j = {.kind = ISO_JOB_EVAL,
               .source =
                   "import * as kv from 'isopool:kv';\n"
                   "export default async () => {\n"
                   "  await new Promise((r) => setTimeout(r, 30));\n"
                   "  await kv.set('alive', 1);\n"
                   "  Isopool.core.ops.op_noop();\n"
                   "  return (await kv.get('alive')) + 41;\n"
                   "};\n"};
  for (int i = 0; i < N; i++) {
    tracker_submit_ok(&t, s->c, i, j, 60000);
  }
  CHECK(tracker_wait(&t, N, 20000));
  int seen[2] = {0, 0}, wrong = 0;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    if (r->rc != 0 || r->status != ISO_STATUS_FULFILLED || r->value == NULL ||
        strcmp(r->value, "42") != 0) {
      if (wrong++ < 3) {
        fprintf(stderr, "  alive job %d: rc %d status %d value %s (%s)\n", i,
                r->rc, r->status, r->value ? r->value : "-",
                r->message ? r->message : "");
      }
    }
    if (r->worker == 0 || r->worker == 1) {
      seen[r->worker]++;
    }
  }
  CHECK_EQ(wrong, 0);
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  tracker_free(&t);
}

/* ---- cases: isopool:fs -------------------------------------------------- */

/* Every fs op's happy path, and what it did on disk. */
static void t_fs_happy_paths(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  jobopt o = {0};
  /* files made here are read there, bytes and text */
  expect_js(&s,
            "const b = await fs.readFile('pub/a.txt');\n"
            "return [b instanceof Uint8Array, Array.from(b).join(','),\n"
            "  await fs.readTextFile('pub/b.txt'),\n"
            "  await fs.readTextFile('pub/in_link')];",
            o, "[true,\"97,108,112,104,97\",\"beta\",\"alpha\"]");
  /* write, then read back */
  expect_js(&s,
            "await fs.mkdir('w/x/y', { recursive: true });\n"
            "await fs.mkdir('w/x/y', { recursive: true });\n" /* exists: fine */
            "await fs.mkdir('w/z');\n"
            "const bytes = new Uint8Array([0, 1, 2, 127, 128, 250, 255]);\n"
            "await fs.writeFile('w/bytes.bin', bytes);\n"
            "const back = await fs.readFile('w/bytes.bin');\n"
            "await fs.writeTextFile('w/t.txt', 'h\\u00e9llo \\u2713\\n');\n"
            "await fs.writeTextFile('w/t.txt', 'more', { append: true });\n"
            "await fs.writeFile('w/new.bin', new Uint16Array([0x4241]),\n"
            "  { createNew: true });\n"
            "await fs.writeTextFile('w/x/y/deep.txt', 'deep');\n"
            "await fs.writeTextFile('from_js.txt', 'written by a job');\n"
            "return [back instanceof Uint8Array, Array.from(back).join(','),\n"
            "  await fs.readTextFile('w/t.txt'),\n"
            "  await fs.readTextFile('w/new.bin'),\n"
            "  await fs.readTextFile('w/x/y/deep.txt')];",
            o,
            "[true,\"0,1,2,127,128,250,255\",\"h\xc3\xa9llo "
            "\xe2\x9c\x93\\nmore\",\"AB\","
            "\"deep\"]");
  char* on_disk = get_file(s.data, "from_js.txt");
  CHECK_STR(on_disk, "written by a job");
  free(on_disk);
  on_disk = get_file(s.data, "w/t.txt");
  CHECK_STR(on_disk, "h\xc3\xa9llo \xe2\x9c\x93\nmore");
  free(on_disk);
  /* readDir: every entry with its kind, sorted by name (docs/ops.md) */
  expect_js(&s,
            "const es = await fs.readDir('w');\n"
            "return es.map((e) => [e.name, e.isFile, e.isDirectory,\n"
            "  e.isSymlink]);",
            o,
            "[[\"bytes.bin\",true,false,false],[\"new.bin\",true,false,false],"
            "[\"t.txt\",true,false,false],[\"x\",false,true,false],"
            "[\"z\",false,true,false]]");
  expect_js(&s,
            "const es = await fs.readDir('pub');\n"
            "return es.map((e) => e.name + ':' + (e.isFile ? 'f' : '') +\n"
            "  (e.isDirectory ? 'd' : '') + (e.isSymlink ? 'l' : ''));",
            o,
            "[\"a.txt:f\",\"b.txt:f\",\"in_link:l\",\"out_link:l\","
            "\"sec_link:l\",\"up:l\"]");
  /* stat: size, kind, mtime a Date close to now */
  expect_js(
      &s,
      "const f = await fs.stat('w/bytes.bin');\n"
      "const d = await fs.stat('w/x');\n"
      "const age = Date.now() - f.mtime.getTime();\n"
      "return [f.size, f.isFile, f.isDirectory, f.mtime instanceof Date,\n"
      "  age > -60000 && age < 60000, d.isFile, d.isDirectory,\n"
      "  (await fs.stat('pub/a.txt')).size];",
      o, "[7,true,false,true,true,false,true,5]");
  /* rename, then remove: a file, an empty dir, a tree */
  expect_js(&s,
            "await fs.rename('w/t.txt', 'w/x/moved.txt');\n"
            "await fs.rename('w/z', 'w/z2');\n"
            "const moved = await fs.readTextFile('w/x/moved.txt');\n"
            "const old = await outcome('old', () => fs.stat('w/t.txt'));\n"
            "await fs.remove('w/new.bin');\n"
            "await fs.remove('w/z2');\n"
            "const left = (await fs.readDir('w')).map((e) => e.name).sort();\n"
            "await fs.remove('w', { recursive: true });\n"
            "const gone = await outcome('gone', () => fs.stat('w'));\n"
            "return [moved, old.split(':')[0], left, gone.split(':')[0]];",
            o,
            "[\"h\xc3\xa9llo \xe2\x9c\x93\\nmore\",\"old=NotFound\","
            "[\"bytes.bin\",\"x\"],\"gone=NotFound\"]");
  struct stat st;
  CHECK(lstat(s.data, &st) == 0);
  char w[PATH_MAX];
  snprintf(w, sizeof w, "%s/w", s.data);
  CHECK(lstat(w, &st) != 0 && errno == ENOENT);
  svc_stop(&s);
}

/* Each fs op's errors, as Isopool.errors classes with messages. */
static void t_fs_errors(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  jobopt o = {0};
  char* v = js_value(
      &s,
      "return Promise.all([\n"
      "  outcome('nofile', () => fs.readFile('nope.txt')),\n"
      "  outcome('nofile_text', () => fs.readTextFile('pub/nope')),\n"
      "  outcome('nodir', () => fs.readDir('nodir')),\n"
      "  outcome('nostat', () => fs.stat('nope.txt')),\n"
      "  outcome('noremove', () => fs.remove('nope.txt')),\n"
      "  outcome('norename', () => fs.rename('nope.txt', 'x.txt')),\n"
      "  outcome('noparent', () => fs.writeTextFile('no/dir/x.txt', 'x')),\n"
      "  outcome('nomkdir', () => fs.mkdir('no/dir')),\n"
      "  outcome('nocreate', () =>\n"
      "    fs.writeTextFile('new.txt', 'x', { create: false })),\n"
      "  outcome('exists', () =>\n"
      "    fs.writeTextFile('pub/a.txt', 'x', { createNew: true })),\n"
      "  outcome('mkdir_exists', () => fs.mkdir('dir')),\n"
      "  outcome('mkdir_file', () => fs.mkdir('pub/a.txt')),\n"
      "  outcome('read_dir', () => fs.readFile('dir')),\n"
      "  outcome('read_fifo', () => fs.readTextFile('fifo')),\n"
      "  outcome('write_dir', () => fs.writeTextFile('dir', 'x')),\n"
      "  outcome('path_number', () => fs.readFile(5)),\n"
      "  outcome('path_object', () => fs.stat({ path: 'a' })),\n"
      "  outcome('path_undefined', () => fs.readDir()),\n"
      "  outcome('rename_number', () => fs.rename('pub/a.txt', 7)),\n"
      "  outcome('data_string', () => fs.writeFile('x.bin', 'text')),\n"
      "  outcome('nul', () => fs.readFile('pub/a.txt\\0x')),\n"
      "]);",
      o);
  CHECK_ITEM(v, "nofile", "NotFound: ", "nope.txt");
  CHECK_ITEM(v, "nofile_text", "NotFound: ", "no such file");
  CHECK_ITEM(v, "nodir", "NotFound: ", "nodir");
  CHECK_ITEM(v, "nostat", "NotFound: ", "nope.txt");
  CHECK_ITEM(v, "noremove", "NotFound: ", "nope.txt");
  CHECK_ITEM(v, "norename", "NotFound: ", "nope.txt");
  CHECK_ITEM(v, "noparent", "NotFound: ", "no/dir/x.txt");
  CHECK_ITEM(v, "nomkdir", "NotFound: ", "no/dir");
  CHECK_ITEM(v, "nocreate", "NotFound: ", "new.txt");
  CHECK_ITEM(v, "exists", "AlreadyExists: ", "pub/a.txt");
  CHECK_ITEM(v, "mkdir_exists", "AlreadyExists: ", "dir");
  CHECK_ITEM(v, "mkdir_file", "AlreadyExists: ", "pub/a.txt");
  CHECK_ITEM(v, "read_dir", "InvalidData: ", "not a regular file");
  CHECK_ITEM(v, "read_fifo", "InvalidData: ", "not a regular file");
  CHECK_ITEM(v, "write_dir", "Error: ", "is a directory");
  CHECK_ITEM(v, "path_number", "TypeError: ", "path must be a string");
  CHECK_ITEM(v, "path_object", "TypeError: ", "path must be a string");
  CHECK_ITEM(v, "path_undefined", "TypeError: ", "path must be a string");
  CHECK_ITEM(v, "rename_number", "TypeError: ", "newpath must be a string");
  CHECK_ITEM(v, "data_string", "TypeError: ", "data must be");
  CHECK_ITEM(v, "nul", "TypeError: ", "NUL");
  free(v);
  /* the same through the raw ops: the shim checks the types */
  v = js_value(
      &s,
      "return Promise.all([\n"
      "  outcome('op_path', () => core.opAsync('op_fs_read_file', 5)),\n"
      "  outcome('op_data', () =>\n"
      "    core.opAsync('op_fs_write_file', 'x.bin', 'text')),\n"
      "  outcome('op_noargs', () => core.ops.op_fs_stat()),\n"
      "]);",
      o);
  CHECK_ITEM(v, "op_path", "TypeError: ",
             "op_fs_read_file: argument 1 (path) must be a string");
  CHECK_ITEM(v, "op_data", "TypeError: ", "op_fs_write_file: argument 2");
  CHECK_ITEM(v, "op_noargs", "TypeError: ", "op_fs_stat: argument 1 (path)");
  free(v);
  /* nothing was created by the failures, and the FIFO is still there */
  struct stat st;
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/new.txt", s.data);
  CHECK(lstat(p, &st) != 0);
  snprintf(p, sizeof p, "%s/no", s.data);
  CHECK(lstat(p, &st) != 0);
  snprintf(p, sizeof p, "%s/fifo", s.data);
  CHECK(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode));
  char* a = get_file(s.data, "pub/a.txt");
  CHECK_STR(a, "alpha");
  free(a);
  /* an uncaught op error rejects the job with its class */
  expect_js_rejects(&s, "return await fs.readFile('nope.txt');", o, "NotFound",
                    "nope.txt");
  svc_stop(&s);
}

/* ---- cases: permissions ------------------------------------------------- */

/* --allow-read=pub and nothing else: reading outside pub, every write,
 * and every escape from the root are PermissionDenied. */
static void t_perms_service_grant(void) {
  const char* flags[] = {"--allow-read=pub", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  jobopt o = {0};
  char* v = js_value(
      &s,
      "return Promise.all([\n"
      "  outcome('a', () => fs.readTextFile('pub/a.txt')),\n"
      "  outcome('list', async () =>\n"
      "    (await fs.readDir('pub')).map((e) => e.name).sort().join()),\n"
      "  outcome('stat', async () => (await fs.stat('pub/b.txt')).size),\n"
      "  outcome('in_link', () => fs.readTextFile('pub/in_link')),\n"
      "  outcome('secret', () => fs.readTextFile('secret.txt')),\n"
      "  outcome('root', () => fs.readDir('')),\n"
      "  outcome('dot', () => fs.readDir('.')),\n"
      "  outcome('dir', () => fs.readDir('dir')),\n"
      "  outcome('stat_secret', () => fs.stat('secret.txt')),\n"
      "  outcome('dotdot_inside', () => "
      "fs.readTextFile('pub/../secret.txt')),\n"
      "  outcome('dotdot', () => fs.readTextFile('../outside.txt')),\n"
      "  outcome('dotdot_x', () => fs.readTextFile('../x')),\n"
      "  outcome('abs', () => fs.readTextFile('/etc/passwd')),\n"
      "  outcome('pub_dotdot', () => fs.readTextFile('pub/../../x')),\n"
      "  outcome('pub_dotdot_out', () =>\n"
      "    fs.readTextFile('pub/../../outside.txt')),\n"
      "  outcome('out_link', () => fs.readTextFile('pub/out_link')),\n"
      "  outcome('sec_link', () => fs.readTextFile('pub/sec_link')),\n"
      "  outcome('up_link', () => fs.readTextFile('pub/up/secret.txt')),\n"
      "  outcome('write', () => fs.writeTextFile('pub/new.txt', 'x')),\n"
      "  outcome('overwrite', () => fs.writeTextFile('pub/a.txt', 'x')),\n"
      "  outcome('mkdir', () => fs.mkdir('pub/d')),\n"
      "  outcome('remove', () => fs.remove('pub/a.txt')),\n"
      "  outcome('rename', () => fs.rename('pub/a.txt', 'pub/c.txt')),\n"
      "  outcome('env', () => env.get('ISO_TEST_VAR')),\n"
      "]);",
      o);
  CHECK_ITEM(v, "a", "ok:alpha", NULL);
  CHECK_ITEM(v, "list", "ok:a.txt,b.txt,in_link,out_link,sec_link,up", NULL);
  CHECK_ITEM(v, "stat", "ok:4", NULL);
  CHECK_ITEM(v, "in_link", "ok:alpha", NULL);
  CHECK_ITEM(v, "secret", "PermissionDenied: ", "secret.txt");
  CHECK_ITEM(v, "root", "TypeError: ", "must not be empty");
  CHECK_ITEM(v, "dot", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "dir", "PermissionDenied: ", "dir");
  CHECK_ITEM(v, "stat_secret", "PermissionDenied: ", "secret.txt");
  CHECK_ITEM(v, "dotdot_inside", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "dotdot", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "dotdot_x", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "abs", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "pub_dotdot", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "pub_dotdot_out", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "out_link", "PermissionDenied: ", "escapes the data root");
  /* a symlink inside the root is followed, and the permission is checked
   * again where it leads */
  CHECK_ITEM(v, "sec_link",
             "PermissionDenied: ", "leads to 'secret.txt' (a symbolic link)");
  CHECK_ITEM(v, "up_link",
             "PermissionDenied: ", "leads to 'secret.txt' (a symbolic link)");
  CHECK_ITEM(v, "write", "PermissionDenied: ", "--allow-write");
  CHECK_ITEM(v, "overwrite", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "mkdir", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "remove", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "rename", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "env", "PermissionDenied: ", "--allow-env");
  free(v);
  /* nothing changed on disk; nothing leaked into the reply */
  char* a = get_file(s.data, "pub/a.txt");
  CHECK_STR(a, "alpha");
  free(a);
  char* n = get_file(s.data, "pub/new.txt");
  CHECK(n == NULL);
  free(n);
  /* the same through a call job on a fixture module */
  iso_buf args = mp_of("[\"pub/out_link\"]");
  iso_job j = {.kind = ISO_JOB_CALL,
               .module = "fs_probe.js",
               .export_name = "read",
               .args = args.data,
               .args_len = args.len};
  iso_result r;
  int rc = iso_client_call(s.c, &j, 10000, &r);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_REJECTED);
    CHECK_STR(r.name, "PermissionDenied");
    CHECK(strstr(r.message, "outside") == NULL);
    iso_result_free(&r);
  }
  iso_buf_free(&args);
  svc_stop(&s);
}

/* A job's `permissions` narrows the grant; asking for more than the
 * service grants, or a malformed field, is bad_request. */
static void t_perms_job_narrowing(void) {
  const char* flags[] = {"--allow-read=pub", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  const char* body =
      "return Promise.all([\n"
      "  outcome('a', () => fs.readTextFile('pub/a.txt')),\n"
      "  outcome('b', () => fs.readTextFile('pub/b.txt')),\n"
      "  outcome('in_link', () => fs.readTextFile('pub/in_link')),\n"
      "]);";
  /* asks for no reading */
  char* v = js_value(&s, body, (jobopt){.perms = "{\"read\": false}"});
  CHECK_ITEM(v, "a", "PermissionDenied: ", NULL);
  CHECK_ITEM(v, "b", "PermissionDenied: ", NULL);
  free(v);
  v = js_value(&s, body, (jobopt){.perms = "{}"});
  CHECK_ITEM(v, "a", "PermissionDenied: ", NULL);
  free(v);
  /* asks for one file */
  v = js_value(&s, body, (jobopt){.perms = "{\"read\": [\"pub/a.txt\"]}"});
  CHECK_ITEM(v, "a", "ok:alpha", NULL);
  CHECK_ITEM(v, "b", "PermissionDenied: ", "pub/b.txt");
  CHECK_ITEM(v, "in_link", "PermissionDenied: ", NULL);
  free(v);
  /* true: all the service grants; absent: the same */
  v = js_value(&s, body, (jobopt){.perms = "{\"read\": true}"});
  CHECK_ITEM(v, "a", "ok:alpha", NULL);
  CHECK_ITEM(v, "b", "ok:beta", NULL);
  free(v);
  v = js_value(&s, body, (jobopt){0});
  CHECK_ITEM(v, "b", "ok:beta", NULL);
  free(v);
  /* call jobs: a narrower set runs in its own realm; the wider one still
   * reads */
  static const struct {
    const char* perms;
    iso_status status;
    const char* want;
  } calls[] = {
      {"{\"read\": false}", ISO_STATUS_REJECTED, "PermissionDenied"},
      {NULL, ISO_STATUS_FULFILLED, "\"beta\""},
      {"{\"read\": [\"pub/a.txt\"]}", ISO_STATUS_REJECTED, "PermissionDenied"},
      {"{\"read\": [\"pub\"]}", ISO_STATUS_FULFILLED, "\"beta\""},
      {"{\"read\": false}", ISO_STATUS_REJECTED, "PermissionDenied"},
  };
  iso_buf args = mp_of("[\"pub/b.txt\"]");
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    iso_buf perms;
    iso_buf_init(&perms);
    iso_job j = {.kind = ISO_JOB_CALL,
                 .module = "fs_probe.js",
                 .export_name = "read",
                 .args = args.data,
                 .args_len = args.len};
    if (calls[i].perms != NULL) {
      perms = mp_of(calls[i].perms);
      j.permissions = perms.data;
      j.permissions_len = perms.len;
    }
    iso_result r;
    int rc = iso_client_call(s.c, &j, 10000, &r);
    CHECK_EQ(rc, 0);
    if (rc == 0) {
      CHECK_EQ(r.status, calls[i].status);
      if (r.status == ISO_STATUS_FULFILLED) {
        CHECK_JSON(r.value, r.value_len, calls[i].want);
      } else {
        CHECK_STR(r.name, calls[i].want);
      }
      iso_result_free(&r);
    }
    iso_buf_free(&perms);
  }
  iso_buf_free(&args);
  /* more than the service grants: refused, naming what */
  const char* ok = "return 1;";
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"write\": [\"x\"]}"},
                    ISO_CODE_BAD_REQUEST, "write \"x\"");
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"read\": [\"secret\"]}"},
                    ISO_CODE_BAD_REQUEST, "read \"secret\"");
  expect_js_refused(&s, ok,
                    (jobopt){.perms = "{\"read\": [\"pub\", \"pub2/x\"]}"},
                    ISO_CODE_BAD_REQUEST, "pub2/x");
  expect_js_refused(&s, ok, (jobopt){.perms = "{\"env\": [\"HOME\"]}"},
                    ISO_CODE_BAD_REQUEST, "HOME");
  /* malformed: only a raw request can carry it past the client library */
  static const struct {
    const char* perms;
    const char* frag;
  } bad[] = {
      {"[\"read\"]", "'permissions' must be a map"},
      {"{\"net\": true}", "permissions.net"},
      {"{\"read\": \"pub\"}", "'permissions.read' must be true, false or"},
      {"{\"read\": [\"pub\", 5]}", "'permissions.read[1]' must be a string"},
      {"{\"read\": [\"\"]}", "permissions.read"},
      {"7", "'permissions' must be a map"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char json[256];
    snprintf(json, sizeof json,
             "{\"v\":1,\"id\":%zu,\"kind\":\"eval\","
             "\"source\":\"export default 1\",\"permissions\":%s}",
             i, bad[i].perms);
    iso_buf req = mp_of(json);
    iso_buf reply;
    iso_buf_init(&reply);
    int rc = iso_client_request_raw(s.c, req.data, req.len, 10000, &reply);
    CHECK_EQ(rc, 0);
    iso_result r;
    memset(&r, 0, sizeof r);
    if (rc == 0) {
      rc = iso_proto_decode_reply(reply.data, reply.len, &r);
      CHECK_EQ(rc, 0);
    }
    if (rc == 0) {
      CHECK_EQ(r.status, ISO_STATUS_ERROR);
      CHECK_EQ(r.code, ISO_CODE_BAD_REQUEST);
      CHECK_CONTAINS(r.message, bad[i].frag);
      iso_result_free(&r);
    }
    iso_buf_free(&reply);
    iso_buf_free(&req);
  }
  /* and the client library refuses to send one */
  iso_buf perms = mp_of("{\"read\": \"pub\"}");
  iso_job j = {.kind = ISO_JOB_EVAL,
               .source = "export default 1",
               .permissions = perms.data,
               .permissions_len = perms.len};
  iso_result r;
  CHECK_EQ(iso_client_call(s.c, &j, 10000, &r), ISO_EINVAL);
  iso_buf_free(&perms);
  /* still serving */
  expect_js(&s, "return fs.readTextFile('pub/a.txt');", (jobopt){0},
            "\"alpha\"");
  svc_stop(&s);
}

/* ---- cases: isopool:env ------------------------------------------------- */

static void t_env(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  const char* body =
      "return Promise.all([\n"
      "  outcome('var', () => env.get('ISO_TEST_VAR')),\n"
      "  outcome('unset', () => env.get('ISO_TEST_UNSET') ?? 'undefined'),\n"
      "  outcome('home', () => env.get('HOME')),\n"
      "  outcome('path', () => env.get('PATH')),\n"
      "  outcome('raw', () => core.ops.op_env_get('ISO_TEST_VAR')),\n"
      "  outcome('number', () => env.get(5)),\n"
      "  outcome('empty', () => core.ops.op_env_get('')),\n"
      "  outcome('eq', () => core.ops.op_env_get('A=B')),\n"
      "]);";
  char* v = js_value(&s, body, (jobopt){0});
  CHECK_ITEM(v, "var", "ok:hello", NULL);
  CHECK_ITEM(v, "unset", "ok:undefined", NULL);
  CHECK_ITEM(v, "home", "PermissionDenied: ", "HOME");
  CHECK_ITEM(v, "path", "PermissionDenied: ", "PATH");
  CHECK_ITEM(v, "raw", "ok:hello", NULL);
  CHECK_ITEM(v, "number", "TypeError: ", "must be a string");
  CHECK_ITEM(v, "empty", "TypeError: ", NULL);
  CHECK_ITEM(v, "eq", "TypeError: ", NULL);
  free(v);
  /* the unset name's value is undefined: nil in the reply */
  expect_js(&s, "return [env.get('ISO_TEST_UNSET')];", (jobopt){0}, "[null]");
  expect_js(&s, "return env.get('ISO_TEST_UNSET');", (jobopt){0}, "null");
  /* narrowed by the job */
  v = js_value(&s, body, (jobopt){.perms = "{\"env\": false}"});
  CHECK_ITEM(v, "var", "PermissionDenied: ", NULL);
  free(v);
  v = js_value(&s, body, (jobopt){.perms = "{\"env\": [\"ISO_TEST_VAR\"]}"});
  CHECK_ITEM(v, "var", "ok:hello", NULL);
  CHECK_ITEM(v, "unset", "PermissionDenied: ", "ISO_TEST_UNSET");
  free(v);
  expect_js_refused(&s, "return 1;", (jobopt){.perms = "{\"env\": [\"HOME\"]}"},
                    ISO_CODE_BAD_REQUEST, "HOME");
  svc_stop(&s);
}

/* ---- cases: isopool:kv -------------------------------------------------- */

/* 200 call jobs on both workers, each incrementing "hits" 10 times, one
 * op at a time: exactly 2000 in the end. */
static void t_kv_concurrent_increments(void) {
  enum { N = 200, PER = 10 };
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, N);
  iso_buf args = mp_of("[10]");
  iso_job j = {.kind = ISO_JOB_CALL,
               .module = "kv_hits.js",
               .args = args.data,
               .args_len = args.len};
  int sent = 0;
  for (int i = 0; i < N; i++) {
    sent += tracker_submit_ok(&t, s.c, i, j, 60000) == 0;
  }
  iso_buf_free(&args);
  CHECK_EQ(sent, N);
  CHECK(tracker_wait(&t, sent, 60000));
  int seen[2] = {0, 0}, wrong = 0, top = 0;
  for (int i = 0; i < N; i++) {
    rec* r = &t.r[i];
    int last = r->value != NULL ? atoi(r->value) : -1;
    if (r->calls != 1 || r->rc != 0 || r->status != ISO_STATUS_FULFILLED ||
        last < PER || last > N * PER) {
      if (wrong++ < 5) {
        fprintf(stderr, "  job %d: calls %d rc %d status %d value %s (%s)\n", i,
                r->calls, r->rc, r->status, r->value ? r->value : "-",
                r->message ? r->message : "");
      }
    }
    if (last > top) {
      top = last;
    }
    if (r->worker == 0 || r->worker == 1) {
      seen[r->worker]++;
    }
  }
  fprintf(stderr, "    worker 0 ran %d jobs, worker 1 ran %d\n", seen[0],
          seen[1]);
  CHECK_EQ(wrong, 0);
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  CHECK_EQ(seen[0] + seen[1], N);
  /* the job that made the last increment saw the total */
  CHECK_EQ(top, N * PER);
  tracker_free(&t);
  expect_js(&s, "return kv.get('hits');", (jobopt){0}, "2000");
  svc_stop(&s);
}

/* Structured values round-trip; delete; list by prefix and limit. */
static void t_kv_values(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  jobopt o = {0};
  expect_js(
      &s,
      "await kv.set('obj', { a: 1, s: 'x', f: 1.5, neg: -7, t: true,\n"
      "  n: null, arr: [1, 'two', null, false, [3, [4]]],\n"
      "  nested: { deep: { u8: new Uint8Array([1, 2, 255]), e: {} } } });\n"
      "await kv.set('arr', [1, { b: [2] }, 'c']);\n"
      "await kv.set('u8', new Uint8Array([0, 9, 200]));\n"
      "await kv.set('str', 'h\\u00e9');\n"
      "await kv.set('num', 42);\n"
      "await kv.set('empty', '');\n"
      "const o = await kv.get('obj');\n"
      "const u8 = await kv.get('u8');\n"
      "return [o.a, o.s, o.f, o.neg, o.t, o.n, o.arr,\n"
      "  o.nested.deep.u8 instanceof Uint8Array,\n"
      "  Array.from(o.nested.deep.u8), o.nested.deep.e,\n"
      "  await kv.get('arr'), u8 instanceof Uint8Array, Array.from(u8),\n"
      "  await kv.get('str'), await kv.get('num'), await kv.get('empty'),\n"
      "  (await kv.get('missing')) ?? 'none'];",
      o,
      "[1,\"x\",1.5,-7,true,null,[1,\"two\",null,false,[3,[4]]],true,"
      "[1,2,255],{},[1,{\"b\":[2]},\"c\"],true,[0,9,200],\"h\xc3\xa9\",42,\"\","
      "\"none\"]");
  /* overwrite, delete */
  expect_js(&s,
            "await kv.set('num', { now: 'an object' });\n"
            "const after = await kv.get('num');\n"
            "return [after, await kv.delete('num'), await kv.delete('num'),\n"
            "  (await kv.get('num')) ?? 'none', await kv.delete('never'),\n"
            "  await kv.increment('ctr'), await kv.increment('ctr', 5),\n"
            "  await kv.increment('ctr', -2), await kv.increment('f', 0.5)];",
            o, "[{\"now\":\"an object\"},true,false,\"none\",false,1,6,4,0.5]");
  /* list: key order, prefix, limit */
  expect_js(&s,
            "for (const k of ['p/c', 'p/a', 'q/x', 'p/b', 'p', 'pz'])\n"
            "  await kv.set(k, k.toUpperCase());\n"
            "const keys = (es) => es.map((e) => e.key + '=' + e.value);\n"
            "return [keys(await kv.list({ prefix: 'p/' })),\n"
            "  keys(await kv.list({ prefix: 'p/', limit: 2 })),\n"
            "  keys(await kv.list({ prefix: 'p' })),\n"
            "  keys(await kv.list({ prefix: 'nothing' })),\n"
            "  (await kv.list()).length >= 9];",
            o,
            "[[\"p/a=P/A\",\"p/b=P/B\",\"p/c=P/C\"],[\"p/a=P/A\",\"p/b=P/B\"],"
            "[\"p=P\",\"p/a=P/A\",\"p/b=P/B\",\"p/c=P/C\",\"pz=PZ\"],[],true]");
  /* kept between jobs, seen from both workers */
  check_all_workers(&s);
  expect_js(&s, "return kv.get('arr');", o, "[1,{\"b\":[2]},\"c\"]");
  /* errors */
  char* v =
      js_value(&s,
               "return Promise.all([\n"
               "  outcome('key_number', () => kv.get(5)),\n"
               "  outcome('set_fn', () => kv.set('k', () => 1)),\n"
               "  outcome('set_symbol', () => kv.set('k', Symbol('s'))),\n"
               "  outcome('inc_str', () => kv.increment('str')),\n"
               "  outcome('inc_by', () => kv.increment('ctr', 'x')),\n"
               "  outcome('long_key', () => kv.set('k'.repeat(100000), 1)),\n"
               "  outcome('list_prefix', () => kv.list({ prefix: 5 })),\n"
               "  outcome('list_limit', () => kv.list({ limit: -1 })),\n"
               "]);",
               o);
  CHECK_ITEM(v, "key_number", "TypeError: ", "key must be a string");
  CHECK_ITEM(v, "set_fn", "TypeError: ", "function");
  CHECK_ITEM(v, "set_symbol", "TypeError: ", "symbol");
  CHECK_ITEM(v, "inc_str", "InvalidData: ", "not a number");
  CHECK_ITEM(v, "inc_by", "TypeError: ", "by");
  CHECK_ITEM(v, "long_key", "TypeError: ", "too long");
  CHECK_ITEM(v, "list_prefix", "TypeError: ", "prefix");
  CHECK_ITEM(v, "list_limit", "TypeError: ", "limit");
  free(v);
  expect_js(&s, "return kv.get('str');", o, "\"h\xc3\xa9\"");
  svc_stop(&s);
}

/* ---- cases: crypto ------------------------------------------------------ */

static void t_crypto(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  expect_js(
      &s,
      "const hex = (b) => Array.from(new Uint8Array(b),\n"
      "  (x) => x.toString(16).padStart(2, '0')).join('');\n"
      "const te = new TextEncoder();\n"
      "const u = crypto.randomUUID();\n"
      "const re = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
      "[0-9a-f]{12}$/;\n"
      "const a = crypto.getRandomValues(new Uint8Array(32));\n"
      "const b = crypto.getRandomValues(new Uint32Array(8));\n"
      "const raw = core.ops.op_crypto_random(16);\n"
      "return [u.length, u[14], re.test(u), u !== crypto.randomUUID(),\n"
      "  re.test(core.ops.op_crypto_random_uuid()),\n"
      "  a.length, a.some((x) => x !== 0), b.some((x) => x !== 0),\n"
      "  raw instanceof Uint8Array && raw.length,\n"
      "  hex(await crypto.subtle.digest('SHA-256', te.encode('abc'))),\n"
      "  hex(await crypto.subtle.digest({ name: 'sha-1' },\n"
      "    te.encode('abc'))),\n"
      "  hex(await crypto.subtle.digest('SHA-256', new ArrayBuffer(0))),\n"
      "  (await crypto.subtle.digest('SHA-512', te.encode('abc')))\n"
      "    .byteLength,\n"
      "  (await crypto.subtle.digest('SHA-384', te.encode('abc')))\n"
      "    .byteLength];",
      (jobopt){0},
      "[36,\"4\",true,true,true,32,true,true,16,"
      "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\","
      "\"a9993e364706816aba3e25717850c26c9cd0d89d\","
      "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
      "64,48]");
  char* v = js_value(
      &s,
      "return Promise.all([\n"
      "  outcome('md5', () => crypto.subtle.digest('MD5', new "
      "Uint8Array(1))),\n"
      "  outcome('noname', () => crypto.subtle.digest({}, new "
      "Uint8Array(1))),\n"
      "  outcome('data', () => crypto.subtle.digest('SHA-256', 'abc')),\n"
      "  outcome('op_md5', () =>\n"
      "    core.opAsync('op_crypto_digest', 'MD5', new Uint8Array(1))),\n"
      "  outcome('float', () => crypto.getRandomValues(new Float32Array(4))),\n"
      "  outcome('quota', () =>\n"
      "    crypto.getRandomValues(new Uint8Array(65537))),\n"
      "  outcome('random_n', () => core.ops.op_crypto_random(1e9)),\n"
      "]);",
      (jobopt){0});
  CHECK_ITEM(v, "md5", "NotSupportedError: ", "Unrecognized algorithm");
  CHECK_ITEM(v, "noname", "TypeError: ", "name");
  CHECK_ITEM(v, "data", "TypeError: ", "ArrayBuffer");
  CHECK_ITEM(v, "op_md5", "TypeError: ", "unsupported digest algorithm");
  CHECK_ITEM(v, "float", "TypeMismatchError: ", NULL);
  CHECK_ITEM(v, "quota", "QuotaExceededError: ", NULL);
  CHECK_ITEM(v, "random_n", "TypeError: ", "op_crypto_random");
  free(v);
  svc_stop(&s);
}

/* ---- cases: the op bus under stress ------------------------------------- */

/* A job that times out while its ops still run: the reply is timeout; the
 * ops finish later, their responses are dropped, and every worker still
 * serves, kv included. */
static void t_ops_outlive_timed_out_job(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  iso_result r;
  int64_t t0 = now_ms();
  if (run_js(&s, LONG_OPS "await Promise.all(ps);\nreturn 'finished';",
             (jobopt){.timeout_ms = 100}, &r) == 0) {
    int64_t took = now_ms() - t0;
    CHECK_EQ(r.status, ISO_STATUS_ERROR);
    CHECK_EQ(r.code, ISO_CODE_TIMEOUT);
    if (r.status != ISO_STATUS_ERROR || r.code != ISO_CODE_TIMEOUT) {
      print_failure(&r);
    }
    fprintf(stderr, "    timed out after %lld ms\n", (long long)took);
    iso_result_free(&r);
  }
  /* while the op thread hashes: the other op thread serves kv */
  expect_js(&s, "await kv.set('during', 1); return kv.get('during');",
            (jobopt){0}, "1");
  sleep_ms(1500);
  check_all_workers(&s);
  expect_js(&s,
            "await kv.set('after', [1, 2]);\n"
            "return [await kv.get('after'), await kv.increment('n'),\n"
            "  await fs.readTextFile('pub/a.txt')];",
            (jobopt){0}, "[[1,2],1,\"alpha\"]");
  /* the same ops, awaited without a deadline: they all finish */
  expect_js(&s, LONG_OPS "await Promise.all(ps); return ps.length;",
            (jobopt){0}, "10");
  svc_stop(&s);
}

/* A call job (the warm realm) that times out while awaiting an op (the
 * only op thread is busy hashing for another job): the rest of the call
 * never runs, though the warm realm lives on. A call's console lines
 * printed after awaits (a timer, an op) are its own. */
static void t_call_ops_after_timeout(void) {
  const char* flags[] = {"--allow-read", "--op-threads", "1", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  tracker t;
  tracker_init(&t, 1);
  char src[1024];
  snprintf(src, sizeof src,
           "export default async () => {\n%s"
           "  await Promise.all(ps); return 'hashed';\n};\n",
           LONG_OPS);
  iso_job hashing = {.kind = ISO_JOB_EVAL, .source = src};
  CHECK_EQ(tracker_submit_ok(&t, s.c, 0, hashing, 60000), 0);
  /* a call that awaits an op, 100 ms to live: once the hashing holds the
   * op thread, the call times out (until then it may still finish) */
  char key[32] = "";
  for (int i = 0; i < 100 && key[0] == '\0'; i++) {
    char args[64];
    snprintf(args, sizeof args, "[\"slow_after_%d\"]", i);
    iso_buf a = mp_of(args);
    iso_job slow = {.kind = ISO_JOB_CALL,
                    .module = "slow_call.js",
                    .export_name = "slow",
                    .args = a.data,
                    .args_len = a.len,
                    .timeout_ms = 100};
    iso_result r;
    if (iso_client_call(s.c, &slow, 30000, &r) == 0) {
      if (r.status == ISO_STATUS_ERROR && r.code == ISO_CODE_TIMEOUT) {
        snprintf(key, sizeof key, "slow_after_%d", i);
      }
      iso_result_free(&r);
    }
    iso_buf_free(&a);
    sleep_ms(key[0] ? 0 : 50);
  }
  CHECK(key[0] != '\0');
  CHECK(tracker_wait(&t, 1, 60000));
  CHECK_STR(t.r[0].value, "\"hashed\"");
  tracker_free(&t);
  sleep_ms(200); /* the slow call's response, behind the hashing */
  char body[128];
  snprintf(body, sizeof body, "return (await kv.get('%s')) === undefined;",
           key);
  expect_js(&s, body, (jobopt){0}, "true");
  iso_result r;
  iso_job chatty = {
      .kind = ISO_JOB_CALL, .module = "slow_call.js", .export_name = "chatty"};
  for (int i = 0; i < 4; i++) { /* on both workers' warm realms */
    if (iso_client_call(s.c, &chatty, 30000, &r) != 0) {
      CHECK(!"the chatty call was answered");
      continue;
    }
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_EQ(r.nlogs, 3);
    if (r.nlogs == 3) {
      CHECK_STR(r.logs[0].text, "before");
      CHECK_STR(r.logs[1].text, "after timer");
      CHECK_STR(r.logs[2].text, "after op");
      CHECK_EQ(r.logs[2].level, ISO_LOG_WARN);
    }
    iso_result_free(&r);
  }
  svc_stop(&s);
}

/* Call jobs run in the warm realm for their module and permission set: up
 * to 32 per worker at once; a 33rd while all 32 are busy is refused with a
 * message that says so, and the sets work again once they are idle. */
static void t_warm_realms_per_permission_set(void) {
  const char* flags[] = {"--allow-read", "--workers", "1", NULL};
  svc s;
  if (svc_start(&s, flags) != 0) {
    svc_stop(&s);
    return;
  }
  enum { N = 33 };
  tracker t;
  tracker_init(&t, N);
  iso_buf args = mp_of("[400]");
  iso_buf perms[N];
  for (int i = 0; i < N; i++) {
    char json[64];
    snprintf(json, sizeof json, "{\"read\": [\"dir%d\"]}", i);
    perms[i] = mp_of(json);
    iso_job j = {.kind = ISO_JOB_CALL,
                 .module = "slow_call.js",
                 .export_name = "nap",
                 .args = args.data,
                 .args_len = args.len,
                 .permissions = perms[i].data,
                 .permissions_len = perms[i].len};
    CHECK_EQ(tracker_submit_ok(&t, s.c, i, j, 60000), 0);
  }
  CHECK(tracker_wait(&t, N, 30000));
  int fulfilled = 0, refused = 0;
  for (int i = 0; i < N; i++) {
    if (t.r[i].status == ISO_STATUS_FULFILLED) {
      fulfilled++;
    } else if (t.r[i].status == ISO_STATUS_ERROR &&
               t.r[i].code == ISO_CODE_INTERNAL && t.r[i].message != NULL &&
               strstr(t.r[i].message, "modules or permission sets") != NULL) {
      refused++;
    }
  }
  CHECK_EQ(fulfilled, N - 1);
  CHECK_EQ(refused, 1);
  tracker_free(&t);
  /* idle now: one more set replaces the least recently used one */
  iso_job j = {.kind = ISO_JOB_CALL,
               .module = "slow_call.js",
               .export_name = "nap",
               .args = args.data,
               .args_len = args.len,
               .permissions = perms[0].data,
               .permissions_len = perms[0].len};
  iso_buf nine = mp_of("{\"read\": [\"dir99\"]}");
  for (int k = 0; k < 2; k++) {
    iso_result r;
    if (k == 1) {
      j.permissions = nine.data;
      j.permissions_len = nine.len;
    }
    if (iso_client_call(s.c, &j, 30000, &r) == 0) {
      CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
      iso_result_free(&r);
    }
  }
  iso_buf_free(&nine);
  for (int i = 0; i < N; i++) {
    iso_buf_free(&perms[i]);
  }
  iso_buf_free(&args);
  svc_stop(&s);
}

/* One job with 5000 ops in flight at once (more than the promise ring of
 * 4096): every result right. */
static void t_many_ops_in_one_job(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  expect_js(
      &s,
      "const N = 5000;\n"
      "const idx = Array.from({ length: N }, (_, i) => i);\n"
      "const incs = await Promise.all(idx.map(() => kv.increment('many')));\n"
      "const sorted = incs.slice().sort((a, b) => a - b);\n"
      "const echo = await Promise.all(idx.map((i) =>\n"
      "  core.opAsync('op_echo_async', i)));\n"
      "const objs = await Promise.all(idx.map((i) =>\n"
      "  core.ops.op_echo_async({ i, s: 'v' + i })));\n"
      "const mixed = await Promise.all(idx.map((i) => i % 3 === 0\n"
      "  ? core.opAsync('op_noop_async').then(() => -1)\n"
      "  : i % 3 === 1 ? kv.get('many')\n"
      "  : core.opAsync('op_echo_async', 'x').catch((e) => e.name)));\n"
      "return [sorted.every((v, i) => v === i + 1), await kv.get('many'),\n"
      "  echo.every((v, i) => v === i), echo.reduce((a, b) => a + b, 0),\n"
      "  objs.every((o, i) => o.i === i && o.s === 'v' + i),\n"
      "  mixed.every((v, i) => i % 3 === 0 ? v === -1\n"
      "    : i % 3 === 1 ? v === N : v === 'x')];",
      (jobopt){0}, "[true,5000,true,12497500,true,true]");
  /* and two such jobs at once, one per worker */
  tracker t;
  tracker_init(&t, 4);
  iso_job j = {.kind = ISO_JOB_EVAL,
               .source =
                   "const idx = Array.from({ length: 5000 }, (_, i) => i);\n"
                   "const r = await Promise.all(idx.map((i) =>\n"
                   "  Isopool.core.opAsync('op_echo_async', i * 2)));\n"
                   "export default r.reduce((a, b) => a + b, 0);\n"};
  for (int i = 0; i < 4; i++) {
    tracker_submit_ok(&t, s.c, i, j, 60000);
  }
  CHECK(tracker_wait(&t, 4, 30000));
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(t.r[i].status, ISO_STATUS_FULFILLED);
    CHECK_STR(t.r[i].value, "24995000");
  }
  tracker_free(&t);
  svc_stop(&s);
}

/* An unref'd op does not keep an eval job's top-level await alive: the job
 * fails as stalled at once; the same ops ref'd (or ref'd again) resolve. */
static void t_unref_op(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  static const char unref_src[] = LONG_OPS
      "for (const p of ps) Isopool.core.unrefOp(p);\n"
      "await Promise.all(ps);\n"
      "export default 'resolved';\n";
  static const char ref_src[] = LONG_OPS
      "await Promise.all(ps);\n"
      "export default 'resolved';\n";
  static const char reref_src[] = LONG_OPS
      "for (const p of ps) Isopool.core.unrefOp(p);\n"
      "Isopool.core.refOp(ps[9]);\n"
      "await Promise.all(ps);\n"
      "export default 'resolved';\n";
  iso_job j = {.kind = ISO_JOB_EVAL, .source = unref_src};
  iso_result r;
  int64_t unref_us = -1, ref_us = -1;
  int rc = iso_client_call(s.c, &j, 30000, &r);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_REJECTED);
    CHECK_STR(r.message, STALL_MESSAGE);
    if (r.status != ISO_STATUS_REJECTED) {
      print_failure(&r);
    }
    unref_us = r.stats.run_us;
    iso_result_free(&r);
  }
  j.source = ref_src;
  rc = iso_client_call(s.c, &j, 30000, &r);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(r.value, r.value_len, "\"resolved\"");
    ref_us = r.stats.run_us;
    iso_result_free(&r);
  }
  fprintf(stderr, "    unref'd: failed after %lld us; ref'd: %lld us\n",
          (long long)unref_us, (long long)ref_us);
  /* (the stall itself shows the unref'd job did not wait: had it waited,
   * the ops would have resolved it; the times are only printed, since
   * converting the 150 MiB of arguments dominates under ASan) */
  j.source = reref_src;
  rc = iso_client_call(s.c, &j, 30000, &r);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(r.value, r.value_len, "\"resolved\"");
    iso_result_free(&r);
  }
  /* an unref'd op that settles while the job is alive anyway still
   * resolves; a bad argument to unrefOp is a TypeError */
  expect_js(&s,
            "const p = core.opAsync('op_echo_async', 7);\n"
            "core.unrefOp(p);\n"
            "await new Promise((r) => setTimeout(r, 50));\n"
            "return [await p, await outcome('bad', () => core.unrefOp({}))];",
            (jobopt){0},
            "[7,\"bad=TypeError: unrefOp: argument is not a "
            "promise returned by an op or its id\"]");
  sleep_ms(1000);
  check_all_workers(&s);
  svc_stop(&s);
}

/* Wrong arguments to ops are TypeErrors, never a crash. */
static void t_bad_op_input(void) {
  svc s;
  if (svc_start(&s, kAllowAll) != 0) {
    svc_stop(&s);
    return;
  }
  char* v = js_value(
      &s,
      "const o = core.ops;\n"
      "const cyc = {}; cyc.self = cyc;\n"
      "const huge = 'x'.repeat(17 << 20);\n"
      "return Promise.all([\n"
      "  outcome('path_num', () => o.op_fs_read_file(5)),\n"
      "  outcome('path_obj', () => o.op_fs_stat({ p: 'a' })),\n"
      "  outcome('path_huge', () => o.op_fs_stat('a/'.repeat(1 << 20))),\n"
      "  outcome('key_obj', () => core.opAsync('op_kv_get', { a: 1 })),\n"
      "  outcome('key_arr', () => core.opAsync('op_kv_set', ['k'], 1)),\n"
      "  outcome('key_long', () => o.op_kv_set('x'.repeat(1 << 20), 1)),\n"
      "  outcome('value_huge', () => o.op_kv_set('k', huge)),\n"
      "  outcome('echo_huge', () => o.op_echo_async(huge)),\n"
      "  outcome('sym', () => core.opAsync('op_kv_get', Symbol('s'))),\n"
      "  outcome('fn', () => o.op_echo_async(() => 1)),\n"
      "  outcome('sym_sync', () => o.op_crypto_random(Symbol('s'))),\n"
      "  outcome('fn_sync', () => o.op_env_get(() => 1)),\n"
      "  outcome('cycle', () => o.op_echo_async(cyc)),\n"
      "  outcome('n_str', () => o.op_crypto_random('x')),\n"
      "  outcome('n_neg', () => o.op_crypto_random(-1)),\n"
      "  outcome('n_frac', () => o.op_crypto_random(1.5)),\n"
      "  outcome('n_nan', () => o.op_crypto_random(NaN)),\n"
      "  outcome('too_many', () => o.op_noop(1, 2, 3, 4, 5, 6, 7, 8, 9)),\n"
      "  outcome('too_many_async', () =>\n"
      "    core.opAsync('op_echo_async', 1, 2, 3, 4, 5, 6, 7, 8, 9)),\n"
      "  outcome('missing', () => core.opAsync('op_echo_async')),\n"
      "  outcome('by_str', () => core.opAsync('op_kv_increment', 'n', 'x')),\n"
      "  outcome('bool', () => core.opAsync('op_fs_mkdir', 'd', 'yes')),\n"
      "  outcome('digest_str', () =>\n"
      "    core.opAsync('op_crypto_digest', 'SHA-256', 'str')),\n"
      "  outcome('digest_alg', () =>\n"
      "    core.opAsync('op_crypto_digest', 5, new Uint8Array(1))),\n"
      "  outcome('unknown', () => core.opAsync('op_nope')),\n"
      "  outcome('unknown_sync', () => core.opSync('op_nope')),\n"
      "  outcome('name_num', () => core.opAsync(42)),\n"
      "  outcome('name_obj', () => core.opSync({})),\n"
      "  outcome('async_as_sync', () => core.opSync('op_kv_get', 'a')),\n"
      "  outcome('sync_as_async', () => core.opAsync('op_noop')),\n"
      "  outcome('no_op_prop', () => o.op_nope()),\n"
      "]);",
      (jobopt){0});
  CHECK_ITEM(v, "path_num", "TypeError: ",
             "op_fs_read_file: argument 1 (path) must be a string");
  CHECK_ITEM(v, "path_obj", "TypeError: ", "op_fs_stat: argument 1 (path)");
  CHECK_ITEM(v, "path_huge", "TypeError: ", "too long");
  CHECK_ITEM(v, "key_obj", "TypeError: ", "op_kv_get: argument 1 (key)");
  CHECK_ITEM(v, "key_arr", "TypeError: ", "op_kv_set: argument 1 (key)");
  CHECK_ITEM(v, "key_long", "TypeError: ", "too long");
  CHECK_ITEM(v, "value_huge", "TypeError: ", "16777216");
  CHECK_ITEM(v, "echo_huge", "TypeError: ", "16777216");
  CHECK_ITEM(v, "sym", "TypeError: ", "symbol");
  CHECK_ITEM(v, "fn", "TypeError: ", "function");
  CHECK_ITEM(v, "sym_sync", "TypeError: ", "symbol");
  CHECK_ITEM(v, "fn_sync", "TypeError: ", "function");
  CHECK_ITEM(v, "cycle", "TypeError: ", "cycle");
  CHECK_ITEM(v, "n_str", "TypeError: ", "op_crypto_random: argument 1 (n)");
  CHECK_ITEM(v, "n_neg", "TypeError: ", "op_crypto_random: argument 1 (n)");
  CHECK_ITEM(v, "n_frac", "TypeError: ", "op_crypto_random: argument 1 (n)");
  CHECK_ITEM(v, "n_nan", "TypeError: ", "op_crypto_random: argument 1 (n)");
  CHECK_ITEM(v, "too_many", "TypeError: ", "at most 8 arguments");
  CHECK_ITEM(v, "too_many_async", "TypeError: ", "at most 8 arguments");
  CHECK_ITEM(v, "missing", "TypeError: ", "argument 1 (value) is missing");
  CHECK_ITEM(v, "by_str", "TypeError: ", "argument 2 (by)");
  CHECK_ITEM(v, "bool", "TypeError: ", "op_fs_mkdir: argument 2");
  CHECK_ITEM(v, "digest_str", "TypeError: ", "op_crypto_digest: argument 2");
  CHECK_ITEM(v, "digest_alg", "TypeError: ", "op_crypto_digest: argument 1");
  CHECK_ITEM(v, "unknown", "TypeError: ", "Unknown op: op_nope");
  CHECK_ITEM(v, "unknown_sync", "TypeError: ", "Unknown op: op_nope");
  CHECK_ITEM(v, "name_num", "TypeError: ", "Unknown op: number");
  CHECK_ITEM(v, "name_obj", "TypeError: ", "Unknown op: object");
  CHECK_ITEM(v, "async_as_sync", "TypeError: ", "use opAsync");
  CHECK_ITEM(v, "sync_as_async", "TypeError: ", "use opSync");
  CHECK_ITEM(v, "no_op_prop", "TypeError: ", "not a function");
  free(v);
  /* the op natives called in odd ways: detached, as constructors, with a
   * hostile receiver, with a hostile argument */
  v = js_value(&s,
               "const o = core.ops;\n"
               "const f = o.op_crypto_random;\n"
               "const evil = { toString() { throw new Error('boom'); },\n"
               "  valueOf() { throw new Error('boom'); } };\n"
               "const getter = { get x() { throw new Error('getter'); } };\n"
               "return Promise.all([\n"
               "  outcome('detached', () => f(4).length),\n"
               "  outcome('call', () => f.call({}, 4).length),\n"
               "  outcome('new', () => new f(4)),\n"
               "  outcome('evil', () => o.op_crypto_random(evil)),\n"
               "  outcome('evil_async', () => o.op_echo_async(evil)),\n"
               "  outcome('getter', () => o.op_echo_async(getter)),\n"
               "  outcome('proxy', () => o.op_echo_async(new Proxy({}, {\n"
               "    ownKeys() { throw new Error('trap'); } }))),\n"
               "  outcome('deep', () => { let d = [];\n"
               "    for (let i = 0; i < 100000; i++) d = [d];\n"
               "    return o.op_echo_async(d); }),\n"
               "  outcome('ok', () => o.op_echo_async({ fine: [1, 'two'] })),\n"
               "]);",
               (jobopt){0});
  CHECK_ITEM(v, "detached", "ok:4", NULL);
  CHECK_ITEM(v, "call", "ok:4", NULL);
  CHECK_ITEM(v, "new", "TypeError: ", "not a constructor");
  CHECK_ITEM(v, "evil", "TypeError: ", "function");
  CHECK_ITEM(v, "evil_async", "TypeError: ", "function");
  CHECK_ITEM(v, "getter", "TypeError: ", "a getter threw");
  CHECK_ITEM(v, "proxy", "TypeError: ", "reading its keys failed");
  CHECK_ITEM(v, "deep", "TypeError: ", "nested too deeply");
  CHECK_ITEM(v, "ok", "ok:{'fine':[1,'two']}", NULL);
  free(v);
  /* an uncaught TypeError from an op rejects the job */
  expect_js_rejects(&s, "return core.ops.op_fs_read_file(5);", (jobopt){0},
                    "TypeError", "op_fs_read_file");
  /* still serving, on both workers */
  check_all_workers(&s);
  svc_stop(&s);
}

static const iso_test cases[] = {
    {"fs_happy_paths", t_fs_happy_paths},
    {"fs_errors", t_fs_errors},
    {"perms_service_grant", t_perms_service_grant},
    {"perms_job_narrowing", t_perms_job_narrowing},
    {"env", t_env},
    {"kv_concurrent_increments", t_kv_concurrent_increments},
    {"kv_values", t_kv_values},
    {"crypto", t_crypto},
    {"ops_outlive_timed_out_job", t_ops_outlive_timed_out_job},
    {"call_ops_after_timeout", t_call_ops_after_timeout},
    {"warm_realms_per_permission_set", t_warm_realms_per_permission_set},
    {"many_ops_in_one_job", t_many_ops_in_one_job},
    {"unref_op", t_unref_op},
    {"bad_op_input", t_bad_op_input},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  /* the daemon inherits these */
  setenv("ISO_TEST_VAR", "hello", 1);
  unsetenv("ISO_TEST_UNSET");
  return iso_test_main(argc, argv, cases);
}
