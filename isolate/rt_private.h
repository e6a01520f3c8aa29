/* rt_private.h: the runtime's state and its files' private functions
 * (iso__rt_..., the folder's one prefix), declared per file below.
 *
 * The seed's JsRuntimeState is split in two: what belongs to the isolate
 * (iso_rt: global context, realms, op state and counts, the timer and the
 * tick handle) and what the seed keeps per program, which isopool keeps
 * per realm because the pool runs many programs in one isolate (iso_realm:
 * module map, pending module evaluations, dynamic imports, promise
 * exceptions, timer deadline, pending ops). Not for use outside isolate/.
 */
#ifndef ISO_RT_PRIVATE_H
#define ISO_RT_PRIVATE_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "iso_bootstrap.h"
#include "iso_rt.h"
#include "v8s.h"

typedef struct rt_mod rt_mod;
typedef struct rt_load rt_load;
typedef struct rt_read rt_read;

/* A module record in a realm's module map. */
enum { MOD_LOADING = 0, MOD_COMPILED, MOD_FAILED };

typedef struct rt_waiter {
  struct rt_waiter* next;
  rt_load* load;
  char* importer; /* URL of the importing module */
  char* specifier;
} rt_waiter;

#define ISO_MOD_BUCKETS 64
/* Records one realm's module map may hold: a realm that imports more
 * distinct modules fails the import with an error that says so (each
 * record is C memory outside V8's heap limit). */
#define ISO_MOD_MAX 10000

struct rt_mod {
  rt_mod* next;  /* all records of the realm */
  rt_mod* hnext; /* the record's hash bucket */
  char* url;     /* file:///abs/path, the map key */
  char* path;    /* /abs/path */
  int is_json;
  int state;
  int evaluated; /* its evaluation promise fulfilled once */
  v8s_ref ref;
  char* key_name; /* the export the last call read, and its name as a */
  v8s_ref key;    /* V8 string (v8s_module_get) */
  v8s_requests req;
  char** urls;      /* req's specifiers resolved (NULL: not yet): a package's
                       resolution reads package.json files, so it is done once
                       per record and V8's link step reuses it */
  iso_js_error err; /* MOD_FAILED: why (read error) */
  rt_waiter* waiters;
  rt_read* read; /* in flight */
  int loads;     /* live loads that visited it: a failed record is
                    removed from the map once none is left */
};

/* One asynchronous, recursive load of a module graph (the seed's
 * load_main_module / prepare_dyn_imports). */
struct rt_load {
  iso_realm* realm;
  rt_mod* root;
  int pending;      /* visited records still loading */
  int done;         /* finished (ok or failed) */
  iso_js_error err; /* set when failed (err.message != NULL) */
  rt_mod** visited;
  size_t nvisited, capvisited;
};

/* A file read on libuv's thread pool; outlives its realm if need be. */
struct rt_read {
  uv_work_t work;
  iso_realm* realm; /* NULL once the realm is gone */
  rt_mod* mod;
  char* path;
  const char* root;
  char* data;
  size_t len;
  int err;
  char errmsg[512];
};

/* A module evaluation (the seed's pending_mod_evaluate), with the steps
 * isopool adds after it: take the export, call it, await the value. */
enum {
  EV_LOADING = 0, /* its graph is loading */
  EV_READY,       /* loaded: instantiate and evaluate in the next tick */
  EV_EVALUATING,  /* the module's evaluation promise is pending */
  EV_AWAITING,    /* the export's value (or call result) is pending */
  EV_VALUE,       /* the value is there (ev->value): deliver it */
  EV_FAILED       /* finished with err; report in the next tick */
};

typedef struct rt_eval {
  struct rt_eval* next;
  uint32_t tag;         /* its JavaScript's job tag (v8s_set_job_tag) */
  uint64_t deadline_ns; /* for its own JavaScript; 0: the realm's */
  int state;
  int cancelled; /* dropped by iso_realm_eval_cancel: no callback */
  rt_load* load;
  rt_mod* mod;
  v8s_ref promise;
  v8s_ref value;
  char* export_name;
  int call;
  uint8_t* args_mp;
  size_t args_len;
  int argc;
  char** argv;
  iso_eval_cb cb;
  void* data;
  iso_js_error err;
  /* what it cost so far (iso_eval_stats; charged by rt_enter.c) and its
   * CPU budget (0: none) */
  uint64_t cpu_budget_ns;
  uint64_t cpu_ns;
  int cpu_warn; /* 1: past 90% of its budget, to be told; 2: told */
  uint64_t heap_bytes;
  uint64_t ops;
} rt_eval;

/* A dynamic import (the seed's preparing/pending dyn imports and
 * pending_dyn_mod_evaluate). */
enum { DYN_PREPARING = 0, DYN_READY, DYN_EVALUATING };

typedef struct rt_dyn {
  struct rt_dyn* next;
  int state;
  rt_load* load;
  rt_mod* mod;
  v8s_ref resolver;
  v8s_ref promise;
} rt_dyn;

/* A promise rejected with no handler (pending_promise_exceptions), or one
 * that got a handler after that (handled_rejections: no reason). */
typedef struct rt_rejection {
  struct rt_rejection* next;
  v8s_ref promise;
  v8s_ref reason;
  void* culprit; /* the evaluation whose JS rejected it, if any */
} rt_rejection;

struct iso_realm {
  iso_rt* rt;
  iso_realm *prev, *next;
  iso_realm_cbs cbs;
  void* data;
  v8s_ref ctx;
  v8s_ref fire_timers; /* the prelude's hooks */
  v8s_ref dispatch;
  v8s_ref resolve_ops;
  v8s_ref unhandled_hook; /* unhandledRejections */
  v8s_ref handled_hook;   /* rejectionsHandled */
  rt_mod* modules;        /* module map: every record, and by URL hash */
  rt_mod* buckets[ISO_MOD_BUCKETS];
  rt_mod* main_mod;
  /* the last specifiers evaluated and their records: warm calls skip the
   * resolution */
  struct {
    char* spec;
    rt_mod* mod;
  } spec_cache[4];
  unsigned spec_next;
  double timer_deadline; /* -1: no timer armed */
  int timer_refed;       /* a timer that keeps the loop alive is pending */
  uint32_t timer_tag;    /* the job tag of the timer callback running now */
  uint32_t id;           /* the op bus's name for it (never reused) */
  iso_perms* perms;      /* what its ops may do (a reference) */
  uint32_t perm_id;      /* the transport's name for them (0: none) */
  int pending_ops;       /* ref'd async ops in flight (op bus) */
  int platform_waits;    /* Atomics.waitAsync with a timeout, not settled */
  int pending_unref_ops; /* unref'd ones, whose ids are in unref_ids */
  uint32_t* unref_ids;
  size_t nunref, capunref;
  /* tags of the last evaluations cancelled while pending: their ops'
   * responses are forgotten (a ring; older ones are simply delivered) */
  uint32_t cancelled_tags[16];
  unsigned cancelled_next;
  rt_rejection* pending_promise_exceptions;
  /* promises no longer in pending_promise_exceptions that got a handler
   * (the prelude's rejectionsHandled tells those it notified about) */
  rt_rejection* handled_rejections;
  rt_eval* evals; /* pending evaluations, in submission order */
  rt_eval* evals_tail;
  rt_dyn* dyns;
  rt_read** reads; /* reads in flight, orphaned on free */
  size_t nreads, capreads;
  uint64_t deadline_ns; /* uv_hrtime() by which its JS must stop; 0: none */
  void* current;        /* data of the evaluation whose JS runs now */
  int failed;
  int freed;
  int idle_notified;
  size_t nmods;       /* records in the module map (at most ISO_MOD_MAX) */
  size_t op_args_out; /* bytes of its async op arguments not yet back */
  iso_op_budget* op_budget; /* the results of its ops (ops/) */
  int broken;  /* a stop may have lost its promise jobs (iso_realm_broken) */
  int fetched; /* it called a fetch op: its transfers end with it */
};

/* What JavaScript the isolate runs right now, for iso_rt_running() and the
 * pool's watchdog on another thread; guarded by iso_rt.run_lock. */
typedef struct rt_run_slot {
  int running;
  uint64_t gen;
  uint64_t since_ns;
  uint64_t deadline_ns;
  /* the CPU time the evaluation the entry is charged to has left of its
   * budget; 0: it has none. cpu_base_ns: the thread's CPU clock when the
   * entry began, as the watchdog reckons it at its first look (its clock
   * then, less the time since the entry began); 0: not looked at yet
   * (iso_rt_cpu_stop) */
  uint64_t cpu_left_ns;
  uint64_t cpu_base_ns;
  uint64_t cpu_stop_gen; /* the entry iso_rt_cpu_stop stopped last */
} rt_run_slot;

struct iso_rt {
  uv_loop_t* loop;
  pthread_t thread; /* the one that runs loop: iso_rt_new's caller */
  v8s_isolate* iso;
  char* root; /* realpath of the module root, no trailing '/' */
  const iso_import_map* import_map; /* iso_rt_opts.import_map, or NULL */
  iso_realm* global; /* the seed's global context (iso_rt_execute makes it
                        on first use), or NULL */
  iso_realm* realms;
  uv_timer_t timer;
  uv_idle_t idle;
  /* ref'd while V8 has work under way for a realm (a task to run, a Wasm
   * compilation, a timed Atomics.waitAsync), so that the loop waits for
   * it: Node's platform wakes the loop through its own unref'd handles */
  uv_async_t platform_hold;
  int platform_task_ran; /* since the last tick (task_leave) */
  int in_tick;
  int handles_open;
  int freeing;
  atomic_int terminate_requested;
  pthread_mutex_t run_lock;
  rt_run_slot run;
  int out_of_memory; /* the heap limit stopped the running JavaScript */
  int last_stop_oom; /* the last termination was the heap limit */
  /* costs (rt_enter.c): the evaluation the open entry is charged to
   * (NULL: none), whether the entry is its own (enter_eval), the
   * monotonic clock when it began, and the heap's reads (rt_enter.c) */
  clockid_t cpu_clock; /* the runtime's thread's, for other threads */
  int no_costs;        /* iso_rt_opts.no_costs */
  rt_eval* charge;
  int charge_own;
  int charging;
  uint64_t charge_mono0;
  rt_eval* heap_owner; /* the evaluation the heap's growth goes to */
  uint64_t heap_mark;  /* v8s_heap_allocated at the last read */
  int heap_between;    /* read as an evaluation ended; no JavaScript since */
  /* the last entry left: the evaluation it was charged to, and whether a
   * CPU stop (iso_rt_cpu_stop) ended it, with that evaluation's budget and
   * use for the message */
  rt_eval* last_charge;
  int last_stop_cpu;
  uint64_t last_cpu_budget_ns, last_cpu_used_ns;
  size_t heap_max_mb;
  size_t value_max_bytes;
  uint64_t background_ns;    /* iso_rt_opts.background_ms; 0: no deadline */
  const char* condemned;     /* why the isolate should be replaced, or NULL */
  int retired;               /* iso_rt_retire: V8's tasks are dropped */
  uint64_t task_deadline_ns; /* the running V8 task's (iso__rt_host_task_*) */
  v8s_host host;
  /* the op bus (rt_ops.c) */
  const iso_op_table* ops;
  iso_ops_env* ops_env;
  iso_perms* default_perms;
  int (*op_send)(void* data, iso_op_batch* batch);
  void* op_send_data;
  int op_perm_ids;        /* records carry perm_id, not perms */
  size_t max_pending_ops; /* per realm */
  iso_op_call op_call;    /* sync ops: the call and its result */
  iso_buf op_out;
  iso_op_batch* op_batch;      /* the requests of this tick */
  iso_op_batch* op_spare;      /* a returned batch, kept for reuse */
  uv_prepare_t op_flush;       /* sends op_batch at the end of the iteration */
  struct rt_op_work* op_works; /* batches on libuv's thread pool */
  v8s_op_result* op_results;   /* scratch for iso_rt_ops_done */
  size_t cap_op_results;
  uint32_t next_tag;        /* evaluations' job tags */
  uint64_t ops_dropped;     /* responses whose realm was gone */
  size_t op_args_out;       /* bytes of async op arguments not yet back */
  iso_op_budget* op_budget; /* the results of its batches (ops/) */
  /* answers later than their batch, in process (no op_send): the op
   * threads and the net thread post them to the mailbox, late_async takes
   * them; ref'd while late_pending (answers owed) > 0 */
  struct rt_mailbox* mailbox;
  uv_async_t late_async;
  int late_pending;
  size_t own_ops_out;      /* op_fetch_release records not back yet */
  uint32_t op_fetch_first; /* [first, end): the fetch ops (realm->fetched) */
  uint32_t op_fetch_end;
  uint32_t op_fetch_release; /* UINT32_MAX: no such op in the table */
  struct rt_pkgs* pkgs;      /* package.json files read (rt_pkg.c) */
};

#ifndef NDEBUG
/* iso__rt_on_thread: the caller runs on rt's own thread (the one that
 * created it and runs its loop). For the asserts at the top of the public
 * entry points whose header says "Thread: owning loop" (as SQLite asserts
 * sqlite3_mutex_held); compiled away with NDEBUG. */
static inline int iso__rt_on_thread(const iso_rt* rt) {
  return pthread_equal(rt->thread, pthread_self());
}
#endif

/* rt_enter.c */
void iso__rt_enter(iso_rt* rt, iso_realm* realm);
/* an entry until deadline_ns (0: none), its CPU time charged to ev (NULL:
 * to none); own: ev's own JavaScript (enter_eval), whose leave
 * (eval_leave) fails it when over its budget */
void iso__rt_enter_until(iso_rt* rt,
                         uint64_t deadline_ns,
                         rt_eval* ev,
                         int own);
/* iso__rt_heap_flush: the heap's growth since the last read goes to
 * rt->heap_owner (rt_enter.c) */
void iso__rt_heap_flush(iso_rt* rt);
/* the evaluation a realm's own entry is charged to: the realm's only
 * pending one, else NULL */
rt_eval* iso__rt_realm_charge(iso_realm* realm);
/* ev spent its CPU budget: its error (ISO_ECPULIMIT) into e */
void iso__rt_cpu_error(const rt_eval* ev, iso_js_error* e);
int iso__rt_leave(iso_rt* rt, iso_realm* realm, int rc, v8s_exc* exc);
int iso__rt_leave_hook(iso_rt* rt, iso_realm* realm, int rc, v8s_exc* exc);
void iso__rt_stopped_error(iso_rt* rt, iso_js_error* e);
void iso__rt_microtasks_lost(iso_realm* realm, rt_eval* stopped);
void iso__rt_realm_lost(iso_realm* realm, rt_eval* stopped, const char* why);
uint64_t iso__rt_timer_deadline(iso_realm* realm, uint32_t tag);
void iso__rt_realm_fail(iso_realm* realm, iso_js_error* err);
void iso__rt_realm_error(iso_realm* realm, void* culprit, iso_js_error* err);
void iso__rt_error_from_exc(iso_js_error* e,
                            v8s_exc* exc,
                            iso_js_error_kind k,
                            int code);
void iso__rt_error_set(iso_js_error* e,
                       int code,
                       iso_js_error_kind kind,
                       const char* name,
                       const char* fmt,
                       ...);
int iso__rt_host_task_enter(void* data);
void iso__rt_host_task_leave(void* data);

/* rt_timers.c */
void iso__rt_timers_rearm(iso_rt* rt);
void iso__rt_host_timer_arm(void* realm, double deadline, int refed);
void iso__rt_host_timer_job(void* realm, uint32_t tag);

/* runtime.c */
void iso__rt_wake(iso_rt* rt);

/* rt_realm.c */
void iso__rt_realm_free_now(iso_realm* realm); /* now: not during a tick */

/* rt_eval.c */
void iso__rt_eval_free(iso_rt* rt, rt_eval* ev);
void iso__rt_dyn_free(iso_rt* rt, rt_dyn* d);
int iso__rt_realm_tag_cancelled(const iso_realm* realm, uint32_t tag);
rt_eval* iso__rt_eval_by_tag(const iso_realm* realm, uint32_t tag);
void iso__rt_realm_tick(iso_realm* realm);
/* iso__rt_rejections_free: frees a list of rt_rejection. */
void iso__rt_rejections_free(iso_rt* rt, rt_rejection* r);
/* iso__rt_rejection_handled: the host's promise_reject for
 * V8S_HANDLER_ADDED_AFTER_REJECT (promise borrowed). */
void iso__rt_rejection_handled(iso_realm* realm, v8s_ref promise);

/* rt_ops.c */
int iso__rt_ops_init(iso_rt* rt, const iso_rt_opts* opts);
void iso__rt_ops_close(iso_rt* rt); /* not op_flush: iso_rt_free closes it */
/* iso__rt_ops_late_cb: late_async's callback (runtime.c makes the handle,
 * unref'd, and closes it). */
void iso__rt_ops_late_cb(uv_async_t* h);
/* iso__rt_ops_release: the realm's transfers (fetch) end, those of one
 * job (tag) or all of them (tag 0), if it ever fetched. */
void iso__rt_ops_release(iso_realm* realm, uint32_t tag);
void iso__rt_ops_realm_init(iso_realm* realm);
void iso__rt_ops_realm_close(iso_realm* realm);
int iso__rt_host_op_sync(void* realm,
                         uint32_t op,
                         const uint8_t* args,
                         size_t len,
                         const uint8_t** res,
                         size_t* res_len,
                         const char** err_class,
                         const char** err_msg);
int iso__rt_host_op_async(void* realm,
                          uint32_t op,
                          uint32_t promise,
                          const uint8_t* args,
                          size_t len,
                          const char** err_class,
                          const char** err_msg);
void iso__rt_host_op_ref(void* realm, uint32_t promise, int ref);
/* V8 work under way for `realm` that keeps the loop alive: a task of the
 * isolate to run or a Wasm compilation (v8s_isolate_pending_tasks: all of
 * the isolate's realms wait for them), or a timed Atomics.waitAsync of
 * the realm's (runtime.c). */
int iso__rt_platform_pending(iso_realm* realm);

/* rt_resolve.c */
int iso__rt_resolve(iso_rt* rt,
                    const char* specifier,
                    const char* referrer,
                    char** url,
                    char* err,
                    size_t errlen);
int iso__rt_json_type(const char* type,
                      const char* url,
                      int* is_json,
                      char* err,
                      size_t errlen);
const iso_builtin_module* iso__rt_builtin_of(const char* url);
/* the length of [s, s+n)'s URL scheme with its ':' ("https:": 6), or 0 */
int iso__rt_url_scheme(const char* s, size_t n);

/* rt_pkg.c */
/* a bare or "#" specifier to an absolute path (*path, the caller frees) */
int iso__rt_pkg_resolve(iso_rt* rt,
                        const char* specifier,
                        const char* referrer,
                        char** path,
                        char* err,
                        size_t errlen);
void iso__rt_pkg_cache_free(iso_rt* rt);
/* what the file at path is (V8S_FMT_*): its extension, or its package's
 * "type" (rt_pkg.c's header has the rules) */
int iso__rt_pkg_format(iso_rt* rt,
                       const char* path,
                       int* format,
                       char* err,
                       size_t errlen);
/* require(specifier) from the CommonJS module at `parent` (a path): the
 * file's real path (*path, the caller frees) and its format */
int iso__rt_pkg_require(iso_rt* rt,
                        const char* specifier,
                        const char* parent,
                        char** path,
                        int* format,
                        char* err,
                        size_t errlen);

/* rt_cjs.c */
/* m's source, when m's file is CommonJS: compiled into m->ref (*done 1;
 * returns 0 or an error in exc); *done 0: compile it as an ES module */
int iso__rt_cjs_compile(iso_realm* realm,
                        rt_mod* m,
                        const char* src,
                        size_t len,
                        int* done,
                        v8s_exc* exc);
int iso__rt_host_cjs_resolve(void* realm,
                             const char* specifier,
                             const char* parent,
                             char** path,
                             int* format,
                             char* err,
                             size_t errlen);
int iso__rt_host_cjs_read(void* realm,
                          const char* path,
                          char** src,
                          size_t* len,
                          char* err,
                          size_t errlen);
/* the names cjs-module-lexer would find as exports of a CommonJS source
 * (exports.x =, module.exports = {x}, Object.defineProperty(exports,
 * "x"), each once, never "default"), and the specifiers of its re-exports
 * (module.exports = require("x")); free both with iso__rt_cjs_names_free */
typedef struct rt_cjs_names {
  char** names;
  size_t n, cap;
  char** reexports;
  size_t nre, capre;
} rt_cjs_names;
int iso__rt_cjs_lex(const char* src, size_t len, rt_cjs_names* out);
void iso__rt_cjs_names_free(rt_cjs_names* out);

/* rt_modules.c */
rt_mod* iso__rt_mod_find(iso_realm* realm, const char* url);
rt_mod* iso__rt_mod_by_ref(iso_realm* realm, v8s_ref ref);
rt_mod* iso__rt_mod_get(iso_realm* realm, const char* url, int is_json);
int iso__rt_map_full(iso_realm* realm,
                     const char* url,
                     char* err,
                     size_t errlen);
int iso__rt_mod_set_source(iso_realm* realm,
                           rt_mod* mod,
                           const char* src,
                           size_t len);
void iso__rt_mod_release_failed(iso_realm* realm, rt_mod* m);
void iso__rt_modules_close(iso_realm* realm); /* the map; orphans reads */

/* rt_read.c */
/* A module's source: V8 takes strings up to 2^29 characters, but a source
 * this large is a mistake or an attack, and each read holds it in C memory
 * until it is compiled. */
#define ISO_RT_MODULE_MAX ((size_t)64 << 20)
int iso__rt_read_start(iso_realm* realm, rt_mod* m);
int iso__rt_open_module(const char* real); /* a canonical path, or -1 */
/* Whether path (canonical) is root or inside it; "/" holds everything. */
struct stat;
int iso__rt_under(const char* root, const char* path);
/* iso__rt_read_file: path's whole text, read as a module's is: its
 * canonical path inside root (a link leading out is refused), opened by
 * iso__rt_open_module, a regular file of at most max bytes; *data is
 * malloc'd and NUL-terminated, *len its length, *st (unless NULL) what
 * fstat said of the file read. On failure: the code
 * (ISO_ENOENT, ISO_EPERM, ISO_EIO, ISO_ETOOBIG, ISO_ENOMEM) and the reason
 * in why, without the path (`what` names the limit: "a module"). Thread:
 * any; it touches no runtime. */
int iso__rt_read_file(const char* root,
                      const char* path,
                      size_t max,
                      const char* what,
                      char** data,
                      size_t* len,
                      struct stat* st,
                      char* why,
                      size_t whylen);

/* rt_load.c */
/* a load of root's graph, started at once; NULL: out of memory */
rt_load* iso__rt_load_new(iso_realm* realm, rt_mod* root);
void iso__rt_load_free(rt_load* load);
void iso__rt_mod_ready(iso_realm* realm, rt_mod* m);
v8s_ref iso__rt_host_resolve(void* realm,
                             const char* specifier,
                             const char* type,
                             v8s_ref referrer,
                             char* err,
                             size_t errlen);
int iso__rt_host_dyn_import(void* realm,
                            const char* specifier,
                            const char* type,
                            const char* referrer_url,
                            v8s_ref resolver,
                            char* err,
                            size_t errlen);
void iso__rt_host_import_meta(void* realm,
                              v8s_ref module,
                              const char** url,
                              int* is_main);

#endif /* ISO_RT_PRIVATE_H */
