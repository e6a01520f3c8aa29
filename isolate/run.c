/* run.c: the seed's run command (execute_module, dispatch `load`,
 * run_event_loop, dispatch `unload`) as a small state machine on realm
 * callbacks, so `isopool run` and the tests drive it the same way. */
#include <stdlib.h>

#include "iso_err.h"
#include "iso_rt.h"

struct iso_run {
  iso_realm* realm;
  iso_run_cbs cbs;
  void* data;
  int evaluated;
  int done;
};

static void run_finish(iso_run* run, int status, const iso_js_error* err) {
  if (!run->done) {
    run->done = 1;
    run->cbs.done_cb(run->data, status, err);
  }
}

static void log_cb(iso_realm* realm,
                   void* data,
                   const char* level,
                   const char* text,
                   size_t len) {
  iso_run* run = data;
  run->cbs.log_cb(run->data, level, text, len);
}

static void error_cb(iso_realm* realm, void* data, const iso_js_error* err) {
  run_finish(data, err->code ? err->code : ISO_EJS, err);
}

static void idle_cb(iso_realm* realm, void* data) {
  iso_run* run = data;
  if (!run->evaluated || run->done) {
    return;
  }
  if (iso_realm_dispatch(realm, "unload") == 0) {
    run_finish(run, 0, NULL);
  }
}

static void eval_cb(iso_realm* realm,
                    void* data,
                    int status,
                    const uint8_t* mp,
                    size_t len,
                    const iso_js_error* err) {
  iso_run* run = data;
  if (status != 0) {
    run_finish(run, status, err);
    return;
  }
  if (run->cbs.value_cb != NULL) {
    run->cbs.value_cb(run->data, mp, len);
  }
  run->evaluated = 1;
  iso_realm_dispatch(realm, "load");
}

int iso_run_new(iso_rt* rt,
                const iso_eval_opts* opts,
                const iso_run_cbs* cbs,
                void* data,
                iso_run** out) {
  if (cbs == NULL || cbs->done_cb == NULL) {
    return ISO_EINVAL;
  }
  iso_run* run = calloc(1, sizeof(*run));
  if (run == NULL) {
    return ISO_ENOMEM;
  }
  run->cbs = *cbs;
  run->data = data;
  iso_realm_cbs rc = {
      .log_cb = cbs->log_cb ? log_cb : NULL,
      .error_cb = error_cb,
      .idle_cb = idle_cb,
  };
  int err = iso_realm_new(rt, &rc, run, &run->realm);
  if (err == 0) {
    iso_eval_opts o = *opts;
    o.main = 1;
    err = iso_realm_eval(run->realm, &o, eval_cb, run);
  }
  if (err != 0) {
    iso_run_free(run);
    return err;
  }
  *out = run;
  return 0;
}

void iso_run_free(iso_run* run) {
  if (run == NULL) {
    return;
  }
  iso_realm_free(run->realm);
  free(run);
}
