// v8s_internal.h: what the V8 shim's files share. C++ only, included by
// isolate/v8s_*.cc and nothing else: the C side sees v8s.h.
//
// The shim is one C API (v8s.h) written in files along V8's concepts, the
// shape of tommie/v8go:
//   v8s_platform.cc  V8's platform (Node's, behind HookedPlatform), the clock
//   v8s_isolate.cc   isolates: new and free, the ArrayBuffer cap and the
//                    heap limit, termination, the isolate-wide callbacks
//                    (promise rejections, messages); the DESIGN paragraph
//   v8s_context.cc   contexts and their microtask queues, scripts, calls,
//                    job tags
//   v8s_code.cc      the process's code cache (static scripts, modules)
//   v8s_values.cc    strings, exceptions, refs, promises and resolvers
//   v8s_modules.cc   ES and JSON modules, resolution, import(), import.meta
//   v8s_cjs.cc       CommonJS modules: the wrapper, require() and its cache
//   v8s_natives.cc   the prelude's __iso natives
//   v8s_url.cc       the natives of URL, on ada
//   v8s_zlib.cc      the natives of CompressionStream, on zlib
//   v8s_icu.cc       the natives of TextDecoder's CJK encodings, on ICU
//   v8s_ops.cc       the op registry's functions on __iso.ops
//   v8s_msgpack.cc   JavaScript values <-> msgpack (docs/values.md), on the
//                    codec's reader and writer (codec/iso_mp.h)
//
// Every entry point opens the same scopes with ENTER (HandleScope, the
// ref'd Context's Context::Scope) and, where JavaScript can run, a TryCatch
// whose exception becomes a v8s_exc. JavaScript values the C side keeps
// live in `refs`, a table of v8::Global<v8::Data> indexed by v8s_ref.
// What the files share is declared here, in namespace v8s (each file's own
// helpers are in an anonymous namespace); a helper's comment is at its
// definition.

#ifndef ISO_V8S_INTERNAL_H
#define ISO_V8S_INTERNAL_H

#include <uv.h>
#include <v8.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "iso_buf.h"
#include "iso_err.h"
#include "iso_mp.h"
#include "v8s.h"

using v8::Array;
using v8::ArrayBuffer;
using v8::ArrayBufferView;
using v8::BigInt;
using v8::Boolean;
using v8::Context;
using v8::Data;
using v8::EscapableHandleScope;
using v8::FixedArray;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::FunctionTemplate;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::MaybeLocal;
using v8::Message;
using v8::Module;
using v8::Name;
using v8::Number;
using v8::Object;
using v8::ObjectTemplate;
using v8::Private;
using v8::Promise;
using v8::PromiseRejectMessage;
using v8::ScriptCompiler;
using v8::ScriptOrigin;
using v8::String;
using v8::TryCatch;
using v8::Value;

// The enums of v8s.h that mirror V8's, proven (as rusty_v8 does): the shim
// hands V8's values across with a cast. (v8s_kind's value kinds are the
// shim's own and mirror nothing.)
static_assert(V8S_PENDING == static_cast<int>(Promise::kPending),
              "V8S_PENDING != Promise::kPending");
static_assert(V8S_FULFILLED == static_cast<int>(Promise::kFulfilled),
              "V8S_FULFILLED != Promise::kFulfilled");
static_assert(V8S_REJECTED == static_cast<int>(Promise::kRejected),
              "V8S_REJECTED != Promise::kRejected");
static_assert(V8S_REJECT_NO_HANDLER ==
                  static_cast<int>(v8::kPromiseRejectWithNoHandler),
              "V8S_REJECT_NO_HANDLER != kPromiseRejectWithNoHandler");
static_assert(V8S_HANDLER_ADDED_AFTER_REJECT ==
                  static_cast<int>(v8::kPromiseHandlerAddedAfterReject),
              "V8S_HANDLER_ADDED_AFTER_REJECT != "
              "kPromiseHandlerAddedAfterReject");
static_assert(V8S_REJECT_AFTER_RESOLVED ==
                  static_cast<int>(v8::kPromiseRejectAfterResolved),
              "V8S_REJECT_AFTER_RESOLVED != kPromiseRejectAfterResolved");
static_assert(V8S_RESOLVE_AFTER_RESOLVED ==
                  static_cast<int>(v8::kPromiseResolveAfterResolved),
              "V8S_RESOLVE_AFTER_RESOLVED != kPromiseResolveAfterResolved");
static_assert(V8S_MOD_UNINSTANTIATED ==
                  static_cast<int>(Module::kUninstantiated),
              "V8S_MOD_UNINSTANTIATED != Module::kUninstantiated");
static_assert(V8S_MOD_INSTANTIATING == static_cast<int>(Module::kInstantiating),
              "V8S_MOD_INSTANTIATING != Module::kInstantiating");
static_assert(V8S_MOD_INSTANTIATED == static_cast<int>(Module::kInstantiated),
              "V8S_MOD_INSTANTIATED != Module::kInstantiated");
static_assert(V8S_MOD_EVALUATING == static_cast<int>(Module::kEvaluating),
              "V8S_MOD_EVALUATING != Module::kEvaluating");
static_assert(V8S_MOD_EVALUATED == static_cast<int>(Module::kEvaluated),
              "V8S_MOD_EVALUATED != Module::kEvaluated");
static_assert(V8S_MOD_ERRORED == static_cast<int>(Module::kErrored),
              "V8S_MOD_ERRORED != Module::kErrored");

namespace node {
class MultiIsolatePlatform;
}

namespace v8s {

constexpr int kRealmSlot = 1;
constexpr int kOpErrorsSlot = 2; /* the prelude's error classes */
constexpr int kCjsSlot = 3;      /* require()'s loader (v8s_cjs.cc) */
constexpr int kHooksSlot = 4; /* the prelude's hooks, in a snapshot's context */
constexpr int kMaxDepth = 100;

class CappedAllocator;  // v8s_isolate.cc
struct CtxQueue;

// v8s_platform.cc
extern std::unique_ptr<node::MultiIsolatePlatform> g_platform;
extern double g_start_epoch_ms; /* wall clock when the now() clock read 0 */
extern std::string g_v8_flags;  /* the flags V8 was given, as one string */
/* Two functions of V8's that are not in its API but libnode exports, by
 * their mangled names (C++ member functions: the object is the first
 * argument), looked up by v8s_platform_init; NULL where missing. For
 * v8s_isolate.cc's heap_used_now, which says why. */
extern void* (*g_heap_of_profiler)(void* profiler);  /* HeapProfiler::heap */
extern size_t (*g_heap_size_of_objects)(void* heap); /* Heap::SizeOfObjects */
// The counter of an isolate's tasks posted to run now and not run yet:
// from Isolate::Allocate (before V8 can post any) to UnregisterIsolate.
// Thread: the isolate's.
void platform_count_tasks(Isolate* isolate,
                          std::shared_ptr<std::atomic<int>> counter);
void platform_uncount_tasks(Isolate* isolate);

}  // namespace v8s

struct v8s_isolate {
  Isolate* isolate = nullptr;
  // set by v8s_terminate: C++ loops of the shim that call no JavaScript
  // (encoding a huge sparse array) see it even when V8 has no interrupt
  // check to take
  std::atomic<bool> stop_requested{false};
  v8s::CappedAllocator* allocator = nullptr;
  uv_loop_t* loop = nullptr;
  const v8s_host* host = nullptr;
  void* host_data = nullptr;
  size_t heap_max = 0;            // the configured limit (bytes), 0: V8's own
  bool heap_over = false;         // the heap went past it once
  size_t heap_check_at = 0;       // gc_epilogue_cb: when to look again
  bool heap_check_asked = false;  // a full collection is asked for
  size_t wasm_bytes = 0;          // WebAssembly memory, as gc_prologue_cb saw
  // what collections freed so far (used_heap_size before less after, each
  // collection), and the heap in use when the running one began:
  // v8s_heap_allocated
  uint64_t gc_freed = 0;
  size_t gc_used_before = 0;
  // the heap spaces JavaScript allocates in (new, old, and the two large
  // object spaces), by index, for v8s_heap_allocated; -1: none found
  int alloc_spaces[4] = {-1, -1, -1, -1};
  // V8's internal heap, when its bytes in use can be read without a walk
  // of its pages (v8s_isolate.cc, heap_used_now); NULL: read them from
  // alloc_spaces
  void* heap_internal = nullptr;
  // V8's foreground tasks for this isolate posted to run now and not run
  // yet, counted by the platform (v8s_platform.cc): pending work for the
  // event loop. Shared with the tasks, which may outlive the isolate.
  std::shared_ptr<std::atomic<int>> tasks_posted;
  std::vector<Global<Data>> refs;
  std::vector<v8s_ref> free_refs;
  // refs of promises the runtime polls itself (module evaluations, job
  // values): their rejections are not unhandled. Few at a time.
  std::vector<v8s_ref> watched;
  Global<ObjectTemplate> natives;
  // __iso.HostObject, whose instances structuredClone hands to the
  // prelude's hooks (v8s_natives.cc)
  Global<FunctionTemplate> host_object;
  // the op registry as __iso.ops: names, kinds, one template per op
  std::vector<std::string> op_names;
  std::vector<bool> op_async;
  std::vector<Global<FunctionTemplate>> op_fns;
  size_t op_args_max = 0;
  // module identity hash -> refs, to find a referrer's ref in callbacks
  std::unordered_multimap<int, v8s_ref> modules;
  // synthetic JSON module identity hash -> its parsed value
  std::unordered_multimap<int, std::pair<Global<Module>, Global<Value>>> json;
  // synthetic CommonJS module identity hash -> what its evaluation runs
  struct CjsModule {
    Global<Module> module;
    Global<v8::Function> fn;
    std::string path;
    std::vector<std::string> names;
  };
  std::unordered_multimap<int, CjsModule> cjs;
  // specifiers that led to a CommonJS module during the running
  // v8s_module_instantiate, for its missing-export hint
  std::vector<std::string> cjs_linked;
  // static_script (v8s_execute_static, the prelude's lazy parts): source
  // pointer -> its compiled script, and whether this isolate is to give
  // the process its code cache once it has run (static_script_ran)
  struct StaticScript {
    const char* source;
    Global<v8::UnboundScript> script;
    bool share;
  };
  std::vector<StaticScript> scripts;
  // modules this isolate compiled whose code cache it is to make once
  // they ran (v8s_code.cc; module_code_ran): the cache's key, the module
  // (weak), its script as compiled (a module's is only to be had before
  // it runs); or, for a CommonJS module, its wrapper function (weak; no
  // module nor script)
  struct ModuleCode {
    std::string key;
    Global<Module> module;
    Global<v8::UnboundModuleScript> script;
    Global<Function> fn;
  };
  std::vector<ModuleCode> module_code;
  // every context's own microtask queue (see v8s_context_new), until the
  // context is collected or the isolate freed
  std::vector<v8s::CtxQueue*> queues;
  // the last checkpoint was stopped: V8 dropped that context's queue
  bool microtasks_dropped = false;
  // the isolate started from the startup snapshot: its contexts come from
  // its context 0, the prelude run (v8s_context_boot)
  bool from_snapshot = false;
  int disposed = 0;  // contexts freed since the last notice (v8s_context_free)
};

namespace v8s {

// A context's microtask queue. V8 keeps a raw pointer to it in the native
// context, so it lives until the context is collected (a second-pass weak
// callback) or the isolate is freed, never just until the realm is.
struct CtxQueue {
  v8s_isolate* iso;
  std::unique_ptr<v8::MicrotaskQueue> queue;
  Global<Context> weak;
};

// ---- refs ----

inline v8s_ref ref_new(v8s_isolate* iso, Local<Data> value) {
  if (!iso->free_refs.empty()) {
    v8s_ref r = iso->free_refs.back();
    iso->free_refs.pop_back();
    iso->refs[r].Reset(iso->isolate, value);
    return r;
  }
  if (iso->refs.empty()) {
    iso->refs.emplace_back();  // ref 0 is never valid
  }
  iso->refs.emplace_back(iso->isolate, value);
  return static_cast<v8s_ref>(iso->refs.size() - 1);
}

inline Local<Data> ref_get(v8s_isolate* iso, v8s_ref r) {
  if (r == 0 || r >= iso->refs.size() || iso->refs[r].IsEmpty()) {
    return Local<Data>();
  }
  return iso->refs[r].Get(iso->isolate);
}

inline Local<Value> ref_value(v8s_isolate* iso, v8s_ref r) {
  Local<Data> d = ref_get(iso, r);
  if (d.IsEmpty() || !d->IsValue()) {
    return v8::Undefined(iso->isolate);
  }
  return d.As<Value>();
}

inline Local<Module> ref_module(v8s_isolate* iso, v8s_ref r) {
  Local<Data> d = ref_get(iso, r);
  if (d.IsEmpty() || !d->IsModule()) {
    return Local<Module>();
  }
  return d.As<Module>();
}

inline Local<Context> ref_context(v8s_isolate* iso, v8s_ref r) {
  Local<Data> d = ref_get(iso, r);
  return d.IsEmpty() ? Local<Context>() : d.As<Context>();
}

inline v8s_isolate* iso_of(Isolate* isolate) {
  return static_cast<v8s_isolate*>(isolate->GetData(0));
}

inline void* realm_of(Local<Context> context) {
  if (context.IsEmpty()) {
    return nullptr;
  }
  return context->GetAlignedPointerFromEmbedderData(kRealmSlot);
}

// Opens the scopes every entry point needs. `context` is the ref'd context.
#define ENTER(iso, ctxref)                               \
  Isolate* isolate = (iso)->isolate;                     \
  HandleScope handle_scope(isolate);                     \
  Local<Context> context = ref_context((iso), (ctxref)); \
  if (context.IsEmpty()) {                               \
    return ISO_EINVAL;                                   \
  }                                                      \
  Context::Scope context_scope(context)

// ---- values (v8s_values.cc) ----

std::string utf8(Isolate* isolate, Local<String> s);
std::string to_std(Isolate* isolate, Local<Value> v);
char* dup_utf8(Isolate* isolate, Local<Value> v);
Local<String> str(Isolate* isolate, const char* s, int len = -1);
void describe(Isolate* isolate,
              Local<Context> context,
              Local<Value> value,
              v8s_exc* exc);
int caught(v8s_isolate* iso,
           Local<Context> context,
           TryCatch& tc,
           v8s_exc* exc);
int syntax_error(v8s_isolate* iso,
                 Local<Context> context,
                 TryCatch& tc,
                 v8s_exc* exc);

// ---- isolates (v8s_isolate.cc) ----

inline constexpr char kBufferFailed[] = "Array buffer allocation failed";
MaybeLocal<ArrayBuffer> new_buffer(Isolate* isolate, size_t n);
v8s_isolate* isolate_alloc(const v8s_isolate_opts* opts);
Isolate* isolate_register(v8s_isolate* iso);
void isolate_attach(v8s_isolate* iso, Isolate* isolate, bool for_snapshot);
void isolate_release(v8s_isolate* iso);
void isolate_unregister(Isolate* isolate);
void isolate_delete(v8s_isolate* iso);

// ---- the startup snapshot (v8s_snapshot.cc) ----

// The shim's callbacks, 0-terminated: every NativeTable's, for V8's
// serializer and deserializer. Thread: any (made once).
const intptr_t* external_refs();
// The snapshot iso's isolate is to start from (the build's, checked once
// per process against this V8 and its flags, and against iso's ops), or
// null: contexts then run the prelude. Thread: any.
const v8::StartupData* snapshot_for(v8s_isolate* iso);
// iso's isolate started from the snapshot: take what it holds for the
// isolate (HostObject's template); its contexts come from it.
void snapshot_attach(v8s_isolate* iso);
// The callbacks for API objects' internal fields (HostObject's): nothing
// of them is kept, a field starts empty.
v8::StartupData serialize_field(Local<Object> holder, int index, void* data);
void deserialize_field(Local<Object> holder,
                       int index,
                       v8::StartupData payload,
                       void* data);

// ---- contexts (v8s_context.cc) ----

int checkpoint(v8s_isolate* iso, Local<Context> context);
// The prelude's text as an external string's resource, one for the
// process (an external reference of the snapshot). Thread: any.
const String::ExternalOneByteStringResource* prelude_text();
int new_context(v8s_isolate* iso,
                void* realm,
                bool from_snapshot,
                Local<Context>* out);
MaybeLocal<v8::UnboundScript> static_script(v8s_isolate* iso,
                                            const char* name,
                                            const char* source,
                                            size_t len);
void static_script_ran(v8s_isolate* iso, const char* source);

// the process's code cache (v8s_code.cc): keys, and a compile's steps
std::string code_key_static(const char* source);
// A user entry's kind, its key's first byte: an ES module compiled as one
// (v8s_modules.cc) or a CommonJS module's wrapper function (v8s_cjs.cc);
// the same text is two different compiles.
constexpr char kKindModule = 'm';
constexpr char kKindCjs = 'c';
// A user entry's key (kind, SHA-256 of url and source, the version tag):
// false when the cache is off (a bound of 0) or the digest failed, and
// the compile then uses no cache.
bool code_key_user(char kind,
                   const char* url,
                   const char* source,
                   size_t len,
                   std::string* key);
std::shared_ptr<const std::vector<uint8_t>> code_take(const std::string& key);
bool code_compiled(const std::string& key,
                   const std::vector<uint8_t>* used,
                   bool rejected);
void code_store(const std::string& key, const ScriptCompiler::CachedData* made);
void code_unclaim(const std::string& key);
void module_code_ran(v8s_isolate* iso);
// Queues a module's entry for module_code_ran (a few wait at most: past
// kModuleCodeWaiting the oldest claim goes back).
void module_code_wait(v8s_isolate* iso, v8s_isolate::ModuleCode entry);
int call_fn(v8s_isolate* iso,
            Local<Context> context,
            Local<Value> fn,
            int argc,
            Local<Value>* argv,
            v8s_ref* out,
            v8s_exc* exc);

// ---- modules (v8s_modules.cc) ----

MaybeLocal<Promise> dyn_import_cb(Local<Context> context,
                                  Local<Data> host_defined_options,
                                  Local<Value> resource_name,
                                  Local<String> specifier,
                                  Local<FixedArray> assertions);
void import_meta_cb(Local<Context> context,
                    Local<Module> module,
                    Local<Object> meta);

// ---- natives (v8s_natives.cc) and ops (v8s_ops.cc) ----

void throw_type(Isolate* isolate, const char* msg);
bool view_bytes(Local<Value> v, const uint8_t** p, size_t* n);
Local<ObjectTemplate> natives_template(v8s_isolate* iso);
// A native function: its name on __iso and its callback. The tables are
// the one list of the shim's C++ callbacks that a context holds:
// natives_template installs the __iso ones from them, and external_refs
// (v8s_snapshot.cc) lists every callback of every table for the startup
// snapshot, so a callback added to a table is in both.
struct NativeFn {
  const char* name;
  v8::FunctionCallback fn;
};
struct NativeTable {
  const NativeFn* fns;
  size_t n;
};
NativeTable core_natives();  // v8s_natives.cc: print, now, part, ...
// The one C++ accessor callback a context holds (lazyData's getter,
// v8s_natives.cc), listed in external_refs beside the tables' callbacks.
void lazy_data_get(Local<v8::Name> name,
                   const v8::PropertyCallbackInfo<Value>& info);
NativeTable host_natives();  // v8s_natives.cc: HostObject's constructor
NativeTable url_natives();   // v8s_url.cc
NativeTable zlib_natives();  // v8s_zlib.cc
NativeTable icu_natives();   // v8s_icu.cc
NativeTable op_natives();    // v8s_ops.cc: a sync op's, an async op's
bool install_ops(v8s_isolate* iso, Local<Context> context, Local<Object> n);

// ---- msgpack (v8s_msgpack.cc) ----

// A JavaScript value as msgpack, appended to the caller's iso_buf through
// the codec's writer (codec/iso_mp.h), at most `limit` bytes of it; on
// failure err says what and where ("the value.a[2] is a function, ...").
struct Encoder {
  Encoder(Isolate* isolate, Local<Context> context, size_t limit, iso_buf* out)
      : isolate(isolate), context(context), limit(limit), start(out->len) {
    iso_mp_wr_init(&w, out);
  }

  Isolate* isolate;
  Local<Context> context;
  size_t limit;
  size_t start;  // out->len before the value
  iso_mp_wr w;
  std::vector<Local<Object>> path;
  std::string err;
  bool too_big = false;

  bool over();
  bool fail(const std::string& what);
  bool string(Local<String> s);
  bool text(Local<Value> v);
  bool number(double d);
  bool value(Local<Value> v, const std::string& where);
  bool container(Local<Object> obj, const std::string& where);
};

bool decode_value(Isolate* isolate,
                  Local<Context> context,
                  const uint8_t* p,
                  size_t n,
                  Local<Value>* out,
                  std::string* why = nullptr);

}  // namespace v8s

#endif  // ISO_V8S_INTERNAL_H
