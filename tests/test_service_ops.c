/* test_service_ops.c: the op modules end to end, against the real daemon:
 * isopool:fs (happy paths, and each op's errors as Isopool.errors
 * classes), isopool:env, isopool:kv (concurrent increments, structured
 * values) and crypto. Permissions: test_service_ops_perms.c; the op bus
 * under stress: test_service_ops_bus.c.
 *
 * Each case starts `isopool serve` on fixtures/ops with a fresh data root
 * and the grants it needs (support/service_ops.h: the tree, and the
 * environment the daemon inherits: ISO_TEST_VAR=hello, ISO_TEST_UNSET
 * unset); jobs go through ipc/iso_client.h only, and each case stops the
 * daemon with SIGTERM and checks that it exits 0. Most checks run one
 * eval job whose default export tries several things and returns a list
 * of "label=outcome" strings, read back with CHECK_ITEM().
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "iso_buf.h"
#include "iso_proto.h"
#include "json_check.h"
#include "service_ops.h"
#include "tap.h"
#include "tracker.h"

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
  iso_buf_close(&args);
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

static const iso_test cases[] = {
    {"fs_happy_paths", t_fs_happy_paths},
    {"fs_errors", t_fs_errors},
    {"env", t_env},
    {"kv_concurrent_increments", t_kv_concurrent_increments},
    {"kv_values", t_kv_values},
    {"crypto", t_crypto},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  /* the daemon inherits these */
  setenv("ISO_TEST_VAR", "hello", 1);
  unsetenv("ISO_TEST_UNSET");
  return iso_test_main(argc, argv, cases);
}
