/* test_service_ops_bus.c: the op bus under stress, against the real
 * daemon (pool/ops.c and the worker's op batches): ops that outlive a job
 * that timed out, in eval jobs and in the warm realm of calls, warm
 * realms per permission set, thousands of ops in one job, an unref'd op
 * that does not keep a job alive, and wrong arguments to ops.
 *
 * Each case starts `isopool serve` on fixtures/ops with a fresh data root
 * and the grants it needs (support/service_ops.h: the tree, and the
 * environment the daemon inherits: ISO_TEST_VAR=hello, ISO_TEST_UNSET
 * unset); jobs go through ipc/iso_client.h only, and each case stops the
 * daemon with SIGTERM and checks that it exits 0. Most checks run one
 * eval job whose default export tries several things and returns a list
 * of "label=outcome" strings, read back with CHECK_ITEM().
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_proto.h"
#include "json_check.h"
#include "service_ops.h"
#include "tap.h"
#include "tracker.h"

/* The long op: SHA-512 of LONG_OPS buffers of 15 MiB (an op's arguments
 * are at most 16 MiB of msgpack), all sent in one tick, so one op thread
 * hashes 150 MiB: most of a second, far over a 100 ms job timeout. */
#define LONG_OPS                                  \
  "const big = new Uint8Array(15 << 20);\n"       \
  "const ps = Array.from({ length: 10 }, () =>\n" \
  "  Isopool.core.opAsync('op_crypto_digest', 'SHA-512', big));\n"

/* isolate/rt_eval.c kModuleStall: an eval whose top-level await waits on
 * nothing that keeps the loop alive */
#define STALL_MESSAGE                                                   \
  "Module evaluation is still pending but there are no pending ops or " \
  "dynamic imports. This situation is often caused by unresolved promise."

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
    iso_result_close(&r);
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
  char src[1024];
  snprintf(src, sizeof src,
           "export default async () => {\n%s"
           "  await Promise.all(ps); return 'hashed';\n};\n",
           LONG_OPS);
  iso_job hashing = {.kind = ISO_JOB_EVAL, .source = src};
  /* a call that awaits an op (the gate), 100 ms to live: once the
   * hashing holds the op thread, the call times out at the gate (until
   * then it may still finish). Only a call that says it reached the gate
   * and not past it is the case: one that never started proves nothing,
   * and one past it had sent its kv.set (its gate op slipped in between
   * two hashes, which the sanitizers' slow links space out, and its
   * kv.set waited behind the next). Tried while a hashing job runs,
   * however long its ops take to reach the op thread (a count of tries
   * measured the machine), and with up to HASH_ROUNDS of them: under
   * the sanitizers one may never hold the op thread 100 ms at a stretch */
  enum { HASH_ROUNDS = 4 };
  char key[32] = "";
  for (int round = 0; round < HASH_ROUNDS && key[0] == '\0'; round++) {
    tracker t;
    tracker_init(&t, 1);
    CHECK_EQ(tracker_submit_ok(&t, s.c, 0, hashing, 60000), 0);
    for (int i = 0; key[0] == '\0' && tracker_done(&t) == 0; i++) {
      char k[32], args[64];
      snprintf(k, sizeof k, "slow_after_%d_%d", round, i);
      snprintf(args, sizeof args, "[\"%s\"]", k);
      iso_buf a = mp_of(args);
      iso_job slow = {.kind = ISO_JOB_CALL,
                      .module = "slow_call.js",
                      .export_name = "slow",
                      .args = a.data,
                      .args_len = a.len,
                      .timeout_ms = 100};
      iso_result r;
      if (iso_client_call(s.c, &slow, 30000, &r) == 0) {
        if (r.status == ISO_STATUS_ERROR && r.code == ISO_CODE_TIMEOUT &&
            r.nlogs == 1 && strcmp(r.logs[0].text, "at the gate") == 0) {
          snprintf(key, sizeof key, "%s", k);
        }
        iso_result_close(&r);
      }
      iso_buf_close(&a);
      sleep_ms(key[0] ? 0 : 50);
    }
    CHECK(tracker_wait(&t, 1, 60000));
    CHECK_STR(t.r[0].value, "\"hashed\"");
    tracker_free(&t);
  }
  CHECK(key[0] != '\0'); /* a call waited >= 100 ms at the gate */
  sleep_ms(200);         /* the slow call's response, behind the hashing */
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
    iso_result_close(&r);
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
      iso_result_close(&r);
    }
  }
  iso_buf_close(&nine);
  for (int i = 0; i < N; i++) {
    iso_buf_close(&perms[i]);
  }
  iso_buf_close(&args);
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
    iso_result_close(&r);
  }
  j.source = ref_src;
  rc = iso_client_call(s.c, &j, 30000, &r);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    CHECK_EQ(r.status, ISO_STATUS_FULFILLED);
    CHECK_JSON(r.value, r.value_len, "\"resolved\"");
    ref_us = r.stats.run_us;
    iso_result_close(&r);
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
    iso_result_close(&r);
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
