/* test_ops_loop.c: pending ops and the event loop, in process
 * (isolate/rt_ops.c): a ref'd op keeps an evaluation (and `isopool run`'s
 * run) alive, an unref'd one lets it stall or end, refOp again, and timers
 * beside them.
 *
 * Each case makes its runtime on the harness of support/rt_ops_harness.h:
 * the test's own op table, and most often an op_send hook that holds each
 * batch until the case runs it (on its own thread or on a pthread) and
 * hands it back, so what is in flight at each point is known.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "rt_ops_harness.h"
#include "tap.h"

/* ---- 4. pending ops and the event loop ---- */

static const char kStall[] =
    "error: Module evaluation is still pending but there are no pending ops "
    "or dynamic imports. This situation is often caused by unresolved "
    "promise.";

static void t_pending_op_keeps_eval(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "export default await Isopool.core.opAsync('gate');\n", &e);
  drain(&t); /* the loop has nothing to do but the op is pending */
  CHECK_EQ(e.done, 0);
  CHECK_EQ(t.nheld, 1);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 1);
  drain(&t); /* still no stall */
  CHECK_EQ(e.done, 0);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(e.done, 1);
  CHECK_EQ(e.status, 0);
  CHECK_STR(e.value, "\"opened\"");
  CHECK(r.error == NULL);
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

static void t_unrefed_op_stalls(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const p = Isopool.core.opAsync('gate');\n"
             "Isopool.core.unrefOp(p);\n"
             "p.then((v) => console.log('late', v));\n"
             "export default await p;\n",
             &e);
  drain(&t);
  CHECK_EQ(t.nheld, 1); /* still held */
  CHECK_EQ(e.done, 1);
  CHECK_EQ(e.status, ISO_ESTALL);
  CHECK_STR(e.error, kStall);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 1); /* unref'd, still counted */
  /* the response still reaches the realm's JavaScript */
  release(&t, 0);
  drain(&t);
  CHECK_EQ(iso_realm_pending_ops(r.realm), 0);
  CHECK_STR(realm_out(&r), "log: late opened\n");
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 0);
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

static void t_refop_again(void) {
  /* unrefOp then refOp: the op keeps the evaluation alive again */
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  tealm r;
  realm_open(&t, &r);
  tev e;
  eval_start(&r, "main.js",
             "const p = Isopool.core.opAsync('gate');\n"
             "Isopool.core.unrefOp(p);\n"
             "Isopool.core.refOp(p);\n"
             "export default await p;\n",
             &e);
  drain(&t);
  CHECK_EQ(e.done, 0);
  CHECK_EQ(t.nheld, 1);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(e.done, 1);
  CHECK_STR(e.value, "\"opened\"");
  ev_free(&e);
  realm_close(&r);
  tctx_free(&t);
}

/* The run command on a runtime with the test's transport. */
static void run_start(tctx* t, const char* src, rt_result* r, iso_run** run) {
  rt_write("main.js", "%s", src);
  memset(r, 0, sizeof(*r));
  iso_buf_init(&r->out);
  r->loop = &t->loop;
  char spec[1024];
  snprintf(spec, sizeof(spec), "%s/main.js", rt_root_path());
  iso_eval_opts eo = {.specifier = spec, .call = 1};
  iso_run_cbs cbs = rt_cbs();
  CHECK_EQ(iso_run_new(t->rt, &eo, &cbs, r, run), 0);
}

static void run_result_free(rt_result* r) {
  free(r->value);
  free(r->hex);
  free(r->error);
  iso_buf_close(&r->out);
}

static const char* run_out(rt_result* r) {
  iso_buf_append(&r->out, "", 1);
  r->out.len--;
  return rt_out(r);
}

static void t_run_refed_op_keeps_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  run_start(&t, "Isopool.core.opAsync('gate').then((v) => console.log(v));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 0); /* the held op keeps the run alive */
  CHECK_EQ(t.nheld, 1);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(r.done, 1);
  CHECK_EQ(r.status, 0);
  CHECK_STR(run_out(&r), "<value>\nopened\n");
  iso_run_free(run);
  run_result_free(&r);
  tctx_free(&t);
}

static void t_run_unrefed_op_ends_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  run_start(&t,
            "const p = Isopool.core.opAsync('gate');\n"
            "Isopool.core.unrefOp(p);\n"
            "p.then((v) => console.log(v));\n"
            "addEventListener('unload', () => console.log('unload'));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 1); /* done while the batch is still held */
  CHECK_EQ(r.status, 0);
  CHECK_EQ(t.nheld, 1);
  CHECK_STR(run_out(&r), "<value>\nunload\n");
  /* the run's realm is gone: its response is dropped */
  iso_run_free(run);
  release(&t, 0);
  drain(&t);
  CHECK_EQ(iso_rt_ops_dropped(t.rt), 1);
  CHECK_STR(run_out(&r), "<value>\nunload\n");
  run_result_free(&r);
  tctx_free(&t);
}

static uint64_t ms_since(uint64_t start_ns) {
  return (uv_hrtime() - start_ns) / 1000000;
}

static void t_run_unrefed_timer_ends_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  uint64_t start = uv_hrtime();
  run_start(&t,
            "Isopool.unrefTimer(setTimeout(() => console.log('never'), "
            "10000));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 1);
  CHECK_EQ(r.status, 0);
  CHECK(ms_since(start) < 5000);
  CHECK_STR(run_out(&r), "<value>\n");
  iso_run_free(run);
  run_result_free(&r);
  tctx_free(&t);
}

static void t_run_refed_timer_keeps_run(void) {
  tctx t;
  tctx_init(&t, (topts){.hold = 1});
  rt_result r;
  iso_run* run = NULL;
  uint64_t start = uv_hrtime();
  run_start(&t,
            "const id = setTimeout(() => console.log('fired'), 30);\n"
            "Isopool.unrefTimer(id);\n"
            "Isopool.refTimer(id);\n"
            "addEventListener('unload', () => console.log('unload'));\n",
            &r, &run);
  drain(&t);
  CHECK_EQ(r.done, 1);
  CHECK_EQ(r.status, 0);
  CHECK(ms_since(start) >= 25);
  CHECK_STR(run_out(&r), "<value>\nfired\nunload\n");
  iso_run_free(run);
  run_result_free(&r);
  tctx_free(&t);
}

static const iso_test cases[] = {
    {"pending_op_keeps_eval", t_pending_op_keeps_eval},
    {"unrefed_op_stalls", t_unrefed_op_stalls},
    {"refop_again", t_refop_again},
    {"run_refed_op_keeps_run", t_run_refed_op_keeps_run},
    {"run_unrefed_op_ends_run", t_run_unrefed_op_ends_run},
    {"run_unrefed_timer_ends_run", t_run_unrefed_timer_ends_run},
    {"run_refed_timer_keeps_run", t_run_refed_timer_keeps_run},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
