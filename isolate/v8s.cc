// v8s.cc: the V8 shim behind isolate/v8s.h; the only C++ in isopool.
//
// Every entry point opens the same scopes with ENTER (HandleScope, the
// ref'd Context's Context::Scope) and, where JavaScript can
// run, a TryCatch whose exception becomes a v8s_exc. JavaScript values the C
// side keeps live in `refs`, a table of v8::Global<v8::Data> indexed by
// v8s_ref. The platform is Node's MultiIsolatePlatform, so V8's own
// foreground tasks (Wasm compilation, Atomics.waitAsync, FinalizationRegistry
// cleanup) run on the isolate's libuv loop.
//
// DESIGN: an isolate belongs to one thread, and stays entered on it
// (Isolate::Enter) from v8s_isolate_new to v8s_isolate_free, which saves an
// Enter/Exit pair on every call; so isolates created on one thread are
// freed in the reverse order. The only cross-thread entry is
// v8s_terminate(), which calls Isolate::TerminateExecution, documented by V8
// as callable from any thread. Contexts carry their realm pointer in
// embedder data slot kRealmSlot; callbacks recover it from the current or
// the creation context, and ignore JavaScript whose realm was disposed.

#include "v8s.h"

#include <node.h>
#include <uv.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "iso_err.h"

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

namespace {

constexpr int kRealmSlot = 1;
constexpr int kOpErrorsSlot = 2; /* the prelude's error classes */
constexpr int kMaxDepth = 100;

std::unique_ptr<node::MultiIsolatePlatform> g_platform;
uint64_t g_start_ns;
double g_start_epoch_ms; /* wall clock when the now() clock read 0 */

struct Natives;

// ArrayBuffer memory lives outside V8's heap, so the heap limit does not
// bound it: a job keeping gigabytes of typed arrays would take the whole
// process down. This allocator refuses past a cap (V8 then throws
// "RangeError: Array buffer allocation failed"). Free may run on GC
// threads, hence the atomic.
// V8's V8_TYPED_ARRAY_MAX_SIZE_IN_HEAP: typed arrays up to this many bytes
// are made inside the heap.
constexpr size_t kOnHeapTypedArrayMax = 64;

class CappedAllocator : public ArrayBuffer::Allocator {
 public:
  explicit CappedAllocator(size_t cap)
      : inner_(ArrayBuffer::Allocator::NewDefaultAllocator()), cap_(cap) {}
  ~CappedAllocator() override { delete inner_; }
  void* Allocate(size_t n) override {
    return Take(n) ? Keep(inner_->Allocate(n), n) : nullptr;
  }
  void* AllocateUninitialized(size_t n) override {
    return Take(n) ? Keep(inner_->AllocateUninitialized(n), n) : nullptr;
  }
  void Free(void* p, size_t n) override {
    inner_->Free(p, n);
    used_.fetch_sub(n);
  }
  size_t used() const { return used_.load(); }

 private:
  bool Take(size_t n) {
    size_t used = used_.fetch_add(n);
    // A small typed array lives inside the V8 heap until its .buffer is
    // read; V8 then moves it here and aborts the process if this fails
    // (JSTypedArray::GetBuffer). Such sizes are never refused: each is
    // backed by an object on the heap, whose own limit bounds how many.
    if (n <= kOnHeapTypedArrayMax) {
      return true;
    }
    if (used + n > cap_) {
      used_.fetch_sub(n);
      return false;
    }
    return true;
  }
  void* Keep(void* p, size_t n) {
    if (p == nullptr) {
      used_.fetch_sub(n);
    }
    return p;
  }
  ArrayBuffer::Allocator* inner_;
  size_t cap_;
  std::atomic<size_t> used_{0};
};

// V8's platform is Node's, behind this wrapper, which only changes one
// thing: a task V8 posts for an isolate's loop runs between the host's
// task_enter and task_leave. V8 runs JavaScript from such tasks
// (FinalizationRegistry cleanup callbacks) outside every entry the runtime
// makes, where no deadline could stop it.
class HookedTask : public v8::Task {
 public:
  HookedTask(Isolate* isolate, std::unique_ptr<v8::Task> inner)
      : isolate_(isolate), inner_(std::move(inner)) {}
  void Run() override;

 private:
  Isolate* isolate_;
  std::unique_ptr<v8::Task> inner_;
};

class HookedRunner : public v8::TaskRunner {
 public:
  HookedRunner(Isolate* isolate, std::shared_ptr<v8::TaskRunner> inner)
      : isolate_(isolate), inner_(std::move(inner)) {}
  void PostTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostTask(Wrap(std::move(task)));
  }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostNonNestableTask(Wrap(std::move(task)));
  }
  void PostDelayedTask(std::unique_ptr<v8::Task> task,
                       double delay_in_seconds) override {
    inner_->PostDelayedTask(Wrap(std::move(task)), delay_in_seconds);
  }
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task,
                                  double delay_in_seconds) override {
    inner_->PostNonNestableDelayedTask(Wrap(std::move(task)), delay_in_seconds);
  }
  void PostIdleTask(std::unique_ptr<v8::IdleTask> task) override {
    inner_->PostIdleTask(std::move(task));
  }
  bool IdleTasksEnabled() override { return inner_->IdleTasksEnabled(); }
  bool NonNestableTasksEnabled() const override {
    return inner_->NonNestableTasksEnabled();
  }
  bool NonNestableDelayedTasksEnabled() const override {
    return inner_->NonNestableDelayedTasksEnabled();
  }

 private:
  std::unique_ptr<v8::Task> Wrap(std::unique_ptr<v8::Task> task) {
    return std::make_unique<HookedTask>(isolate_, std::move(task));
  }
  Isolate* isolate_;
  std::shared_ptr<v8::TaskRunner> inner_;
};

class HookedPlatform : public v8::Platform {
 public:
  explicit HookedPlatform(v8::Platform* inner) : inner_(inner) {}
  v8::PageAllocator* GetPageAllocator() override {
    return inner_->GetPageAllocator();
  }
  void OnCriticalMemoryPressure() override {
    inner_->OnCriticalMemoryPressure();
  }
  bool OnCriticalMemoryPressure(size_t length) override {
    return inner_->OnCriticalMemoryPressure(length);
  }
  int NumberOfWorkerThreads() override {
    return inner_->NumberOfWorkerThreads();
  }
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(
      Isolate* isolate) override {
    return std::make_shared<HookedRunner>(
        isolate, inner_->GetForegroundTaskRunner(isolate));
  }
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallOnWorkerThread(std::move(task));
  }
  void CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallBlockingTaskOnWorkerThread(std::move(task));
  }
  void CallLowPriorityTaskOnWorkerThread(
      std::unique_ptr<v8::Task> task) override {
    inner_->CallLowPriorityTaskOnWorkerThread(std::move(task));
  }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task,
                                 double delay_in_seconds) override {
    inner_->CallDelayedOnWorkerThread(std::move(task), delay_in_seconds);
  }
  bool IdleTasksEnabled(Isolate* isolate) override {
    return inner_->IdleTasksEnabled(isolate);
  }
  std::unique_ptr<v8::JobHandle> PostJob(
      v8::TaskPriority priority,
      std::unique_ptr<v8::JobTask> job_task) override {
    return inner_->PostJob(priority, std::move(job_task));
  }
  double MonotonicallyIncreasingTime() override {
    return inner_->MonotonicallyIncreasingTime();
  }
  double CurrentClockTimeMillis() override {
    return inner_->CurrentClockTimeMillis();
  }
  StackTracePrinter GetStackTracePrinter() override {
    return inner_->GetStackTracePrinter();
  }
  v8::TracingController* GetTracingController() override {
    return inner_->GetTracingController();
  }
  void DumpWithoutCrashing() override { inner_->DumpWithoutCrashing(); }

 private:
  v8::Platform* inner_;
};

std::unique_ptr<HookedPlatform> g_hooked;

}  // namespace

struct v8s_isolate {
  Isolate* isolate = nullptr;
  // set by v8s_terminate: C++ loops of the shim that call no JavaScript
  // (encoding a huge sparse array) see it even when V8 has no interrupt
  // check to take
  std::atomic<bool> stop_requested{false};
  CappedAllocator* allocator = nullptr;
  uv_loop_t* loop = nullptr;
  const v8s_host* host = nullptr;
  void* host_data = nullptr;
  size_t heap_max = 0;            // the configured limit (bytes), 0: V8's own
  bool heap_over = false;         // the heap went past it once
  size_t heap_check_at = 0;       // gc_epilogue_cb: when to look again
  bool heap_check_asked = false;  // a full collection is asked for
  size_t wasm_bytes = 0;          // WebAssembly memory, as gc_prologue_cb saw
  std::vector<Global<Data>> refs;
  std::vector<v8s_ref> free_refs;
  // refs of promises the runtime polls itself (module evaluations, job
  // values): their rejections are not unhandled. Few at a time.
  std::vector<v8s_ref> watched;
  Global<ObjectTemplate> natives;
  // the op registry as __iso.ops: names, kinds, one template per op
  std::vector<std::string> op_names;
  std::vector<bool> op_async;
  std::vector<Global<FunctionTemplate>> op_fns;
  size_t op_args_max = 0;
  // module identity hash -> refs, to find a referrer's ref in callbacks
  std::unordered_multimap<int, v8s_ref> modules;
  // synthetic JSON module identity hash -> its parsed value
  std::unordered_multimap<int, std::pair<Global<Module>, Global<Value>>> json;
  // v8s_execute_static: source pointer -> its compiled script
  std::vector<std::pair<const char*, Global<v8::UnboundScript>>> scripts;
  // every context's own microtask queue (see v8s_context_new), until the
  // context is collected or the isolate freed
  std::vector<struct CtxQueue*> queues;
  // the last checkpoint was stopped: V8 dropped that context's queue
  bool microtasks_dropped = false;
};

// A context's microtask queue. V8 keeps a raw pointer to it in the native
// context, so it lives until the context is collected (a second-pass weak
// callback) or the isolate is freed, never just until the realm is.
struct CtxQueue {
  v8s_isolate* iso;
  std::unique_ptr<v8::MicrotaskQueue> queue;
  Global<Context> weak;
};

void HookedTask::Run() {
  // Tasks of an isolate run on its thread, only while it is registered
  // with the platform (v8s_isolate_new to v8s_isolate_free).
  v8s_isolate* iso = static_cast<v8s_isolate*>(isolate_->GetData(0));
  bool hooked = iso != nullptr && iso->host->task_enter != nullptr &&
                iso->host->task_leave != nullptr;
  if (hooked) {
    iso->host->task_enter(iso->host_data);
  }
  inner_->Run();
  if (hooked) {
    iso->host->task_leave(iso->host_data);
  }
}

namespace {

// ---- refs ----

v8s_ref ref_new(v8s_isolate* iso, Local<Data> value) {
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

Local<Data> ref_get(v8s_isolate* iso, v8s_ref r) {
  if (r == 0 || r >= iso->refs.size() || iso->refs[r].IsEmpty()) {
    return Local<Data>();
  }
  return iso->refs[r].Get(iso->isolate);
}

Local<Value> ref_value(v8s_isolate* iso, v8s_ref r) {
  Local<Data> d = ref_get(iso, r);
  if (d.IsEmpty() || !d->IsValue()) {
    return v8::Undefined(iso->isolate);
  }
  return d.As<Value>();
}

Local<Module> ref_module(v8s_isolate* iso, v8s_ref r) {
  Local<Data> d = ref_get(iso, r);
  if (d.IsEmpty() || !d->IsModule()) {
    return Local<Module>();
  }
  return d.As<Module>();
}

Local<Context> ref_context(v8s_isolate* iso, v8s_ref r) {
  Local<Data> d = ref_get(iso, r);
  return d.IsEmpty() ? Local<Context>() : d.As<Context>();
}

v8s_isolate* iso_of(Isolate* isolate) {
  return static_cast<v8s_isolate*>(isolate->GetData(0));
}

void* realm_of(Local<Context> context) {
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

// The UTF-8 of a string with every lone surrogate replaced by U+FFFD (3
// bytes, as many as WriteUtf8 counts for the surrogate): whatever the
// JavaScript put in a string, what reaches C is valid UTF-8.
std::string utf8(Isolate* isolate, Local<String> s) {
  std::string out(static_cast<size_t>(s->Utf8Length(isolate)), '\0');
  if (!out.empty()) {
    s->WriteUtf8(isolate, &out[0], static_cast<int>(out.size()), nullptr,
                 String::NO_NULL_TERMINATION | String::REPLACE_INVALID_UTF8);
  }
  return out;
}

// A value as text without running JavaScript: a string as it is, anything
// else as V8's side-effect-free detail string (a Symbol, an object whose
// toString loops or throws).
std::string to_std(Isolate* isolate, Local<Value> v) {
  if (v.IsEmpty()) {
    return std::string();
  }
  if (v->IsString()) {
    return utf8(isolate, v.As<String>());
  }
  Local<String> s;
  if (!isolate->InContext()) {
    return std::string();
  }
  if (!v->ToDetailString(isolate->GetCurrentContext()).ToLocal(&s)) {
    return std::string();
  }
  return utf8(isolate, s);
}

char* dup_utf8(Isolate* isolate, Local<Value> v) {
  if (v.IsEmpty()) {
    return nullptr;
  }
  return strdup(to_std(isolate, v).c_str());
}

// A V8 string of s. Only a string over V8's length limit fails, which the
// callers' strings (names, messages, short texts) never are; the empty
// string stands in so a caller never holds an empty handle.
Local<String> str(Isolate* isolate, const char* s, int len = -1) {
  Local<String> out;
  if (!String::NewFromUtf8(isolate, s, v8::NewStringType::kNormal, len)
           .ToLocal(&out)) {
    return String::Empty(isolate);
  }
  return out;
}

const char kBufferFailed[] = "Array buffer allocation failed";

// An ArrayBuffer of n bytes (uninitialised) from the isolate's capped
// allocator, or empty when it refuses: ArrayBuffer::New(isolate, n) and
// NewBackingStore(isolate, n) abort the process when the allocator
// refuses, and a job can bring it to refuse (its buffers at the cap).
MaybeLocal<ArrayBuffer> new_buffer(Isolate* isolate, size_t n) {
  if (n == 0) {
    return ArrayBuffer::New(isolate, 0);
  }
  CappedAllocator* a =
      static_cast<v8s_isolate*>(isolate->GetData(0))->allocator;
  void* data = a->AllocateUninitialized(n);
  if (data == nullptr) {
    return MaybeLocal<ArrayBuffer>();
  }
  std::unique_ptr<v8::BackingStore> store = ArrayBuffer::NewBackingStore(
      data, n,
      [](void* d, size_t len, void* alloc) {
        static_cast<CappedAllocator*>(alloc)->Free(d, len);
      },
      a);
  return ArrayBuffer::New(isolate, std::move(store));
}

// Describes a thrown value. Errors keep name, message and stack; other
// values become their JSON text (strings) or detail string.
void describe_value(Isolate* isolate,
                    Local<Context> context,
                    Local<Value> value,
                    v8s_exc* exc) {
  TryCatch tc(isolate);
  v8s_exc_clear(exc);
  if (value->IsNativeError() || value->IsObject()) {
    Local<Object> obj = value.As<Object>();
    Local<Value> stack, name, message;
    if (value->IsNativeError() ||
        obj->Has(context, str(isolate, "stack")).FromMaybe(false)) {
      if (obj->Get(context, str(isolate, "stack")).ToLocal(&stack) &&
          stack->IsString()) {
        exc->stack = dup_utf8(isolate, stack);
      }
      if (obj->Get(context, str(isolate, "name")).ToLocal(&name) &&
          !name->IsUndefined()) {
        exc->name = dup_utf8(isolate, name);
      }
      if (obj->Get(context, str(isolate, "message")).ToLocal(&message) &&
          !message->IsUndefined()) {
        exc->message = dup_utf8(isolate, message);
      }
      if (exc->message == nullptr) {
        exc->message = strdup("");
      }
      if (exc->name == nullptr) {
        exc->name = strdup("Error");
      }
      return;
    }
  }
  Local<String> text;
  if (value->IsString()) {
    if (!v8::JSON::Stringify(context, value).ToLocal(&text)) {
      text = value.As<String>();
    }
  } else if (!value->ToDetailString(context).ToLocal(&text)) {
    text = str(isolate, "<unprintable value>");
  }
  exc->message = dup_utf8(isolate, text);
}

// Runs the context's microtasks. A termination there makes V8 drop the
// whole queue, the other promise jobs waiting in it included: it is
// reported (ISO_ETERMINATED, microtasks_dropped) so the runtime can fail
// what waited on them instead of letting them stall.
int checkpoint(v8s_isolate* iso, Local<Context> context) {
  Isolate* isolate = iso->isolate;
  TryCatch tc(isolate);
  context->GetMicrotaskQueue()->PerformCheckpoint(isolate);
  if (tc.HasTerminated() || isolate->IsExecutionTerminating() ||
      iso->stop_requested.load()) {
    iso->microtasks_dropped = true;
    return ISO_ETERMINATED;
  }
  return 0;
}

// describe_value, marked `terminated` when reading the value (a getter, a
// Proxy trap) was stopped: what it says is then only a placeholder.
void describe(Isolate* isolate,
              Local<Context> context,
              Local<Value> value,
              v8s_exc* exc) {
  describe_value(isolate, context, value, exc);
  if (iso_of(isolate)->stop_requested.load()) {
    exc->terminated = 1;
  }
}

// Fills exc from a TryCatch and returns the code the entry point returns.
int caught(v8s_isolate* iso,
           Local<Context> context,
           TryCatch& tc,
           v8s_exc* exc) {
  if (tc.HasTerminated() || !tc.CanContinue()) {
    if (exc != nullptr) {
      v8s_exc_clear(exc);
      exc->name = strdup("Error");
      exc->message = strdup("execution terminated");
      exc->terminated = 1;
    }
    return ISO_ETERMINATED;
  }
  if (!tc.HasCaught()) {
    if (exc != nullptr) {
      v8s_exc_clear(exc);
      exc->name = strdup("Error");
      exc->message = strdup("operation failed without an exception");
    }
    return ISO_EJS;
  }
  if (exc != nullptr) {
    describe(iso->isolate, context, tc.Exception(), exc);
  }
  return ISO_EJS;
}

// A SyntaxError from compilation: its stack gets "at url:line:column".
int syntax_error(v8s_isolate* iso,
                 Local<Context> context,
                 TryCatch& tc,
                 v8s_exc* exc) {
  int rc = caught(iso, context, tc, exc);
  Local<Message> msg = tc.Message();
  if (rc == ISO_EJS && exc != nullptr && !msg.IsEmpty()) {
    std::string url = to_std(iso->isolate, msg->GetScriptResourceName());
    int line = msg->GetLineNumber(context).FromMaybe(0);
    int col = msg->GetStartColumn(context).FromMaybe(0) + 1;
    std::string stack = std::string(exc->name ? exc->name : "SyntaxError") +
                        ": " + (exc->message ? exc->message : "") +
                        "\n    at " + url + ":" + std::to_string(line) + ":" +
                        std::to_string(col);
    free(exc->stack);
    exc->stack = strdup(stack.c_str());
    return ISO_ESYNTAX;
  }
  return rc;
}

bool is_watched(v8s_isolate* iso, Local<Promise> promise) {
  for (v8s_ref r : iso->watched) {
    Local<Data> d = ref_get(iso, r);
    if (!d.IsEmpty() && d == promise) {
      return true;
    }
  }
  return false;
}

// ---- natives (the prelude's __iso object) ----

v8s_isolate* native_iso(const FunctionCallbackInfo<Value>& args) {
  return iso_of(args.GetIsolate());
}

void* native_realm(const FunctionCallbackInfo<Value>& args) {
  return realm_of(args.GetIsolate()->GetCurrentContext());
}

void throw_type(Isolate* isolate, const char* msg) {
  isolate->ThrowException(v8::Exception::TypeError(str(isolate, msg)));
}

void n_print(const FunctionCallbackInfo<Value>& args) {
  v8s_isolate* iso = native_iso(args);
  void* realm = native_realm(args);
  if (realm == nullptr || args.Length() < 2) {
    return;
  }
  std::string level = to_std(args.GetIsolate(), args[0]);
  std::string text = to_std(args.GetIsolate(), args[1]);
  iso->host->print(realm, level.empty() ? "log" : level.c_str(), text.data(),
                   text.size());
}

void n_timer_arm(const FunctionCallbackInfo<Value>& args) {
  v8s_isolate* iso = native_iso(args);
  void* realm = native_realm(args);
  if (realm == nullptr) {
    return;
  }
  double deadline = args.Length() > 0 && args[0]->IsNumber()
                        ? args[0].As<Number>()->Value()
                        : -1;
  int refed = args.Length() > 1 ? args[1]->BooleanValue(args.GetIsolate())
                                : deadline >= 0;
  iso->host->timer_arm(realm, deadline, refed);
}

void n_now(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(v8s_platform_now_ms());
}

void n_encode_utf8(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Local<String> s;
  if (args.Length() < 1 ||
      !args[0]->ToString(isolate->GetCurrentContext()).ToLocal(&s)) {
    return;
  }
  int n = s->Utf8Length(isolate);
  Local<ArrayBuffer> ab;
  if (!new_buffer(isolate, static_cast<size_t>(n)).ToLocal(&ab)) {
    isolate->ThrowException(
        v8::Exception::RangeError(str(isolate, kBufferFailed)));
    return;
  }
  s->WriteUtf8(isolate, static_cast<char*>(ab->Data()), n, nullptr,
               String::NO_NULL_TERMINATION | String::REPLACE_INVALID_UTF8);
  args.GetReturnValue().Set(v8::Uint8Array::New(ab, 0, n));
}

bool view_bytes(Local<Value> v, const uint8_t** p, size_t* n) {
  if (v->IsArrayBufferView()) {
    Local<ArrayBufferView> view = v.As<ArrayBufferView>();
    *p = static_cast<const uint8_t*>(view->Buffer()->Data()) +
         view->ByteOffset();
    *n = view->ByteLength();
    return true;
  }
  if (v->IsArrayBuffer()) {
    Local<ArrayBuffer> ab = v.As<ArrayBuffer>();
    *p = static_cast<const uint8_t*>(ab->Data());
    *n = ab->ByteLength();
    return true;
  }
  if (v->IsSharedArrayBuffer()) {
    Local<v8::SharedArrayBuffer> ab = v.As<v8::SharedArrayBuffer>();
    *p = static_cast<const uint8_t*>(ab->Data());
    *n = ab->ByteLength();
    return true;
  }
  return false;
}

bool utf8_valid(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) {
      return false;
    }
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

void n_decode_utf8(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  const uint8_t* p = nullptr;
  size_t n = 0;
  if (args.Length() < 1 || !view_bytes(args[0], &p, &n)) {
    throw_type(isolate,
               "The provided value is not of type '(ArrayBuffer or "
               "ArrayBufferView)'");
    return;
  }
  bool fatal = args.Length() > 1 && args[1]->BooleanValue(isolate);
  if (fatal && !utf8_valid(p, n)) {
    throw_type(isolate, "The encoded data is not valid.");
    return;
  }
  Local<String> s;
  if (n > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromUtf8(isolate, reinterpret_cast<const char*>(p),
                           v8::NewStringType::kNormal, static_cast<int>(n))
           .ToLocal(&s)) {
    throw_type(isolate, "string too long");
    return;
  }
  args.GetReturnValue().Set(s);
}

class CloneDelegate : public v8::ValueSerializer::Delegate {
 public:
  explicit CloneDelegate(Isolate* isolate) : isolate_(isolate) {}
  void ThrowDataCloneError(Local<String> message) override {
    isolate_->ThrowException(v8::Exception::Error(message));
  }

 private:
  Isolate* isolate_;
};

void n_structured_clone(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  CloneDelegate delegate(isolate);
  v8::ValueSerializer ser(isolate, &delegate);
  ser.WriteHeader();
  Local<Value> v =
      args.Length() > 0 ? args[0] : v8::Undefined(isolate).As<Value>();
  if (!ser.WriteValue(context, v).FromMaybe(false)) {
    return;  // exception pending
  }
  std::pair<uint8_t*, size_t> buf = ser.Release();
  v8::ValueDeserializer des(isolate, buf.first, buf.second);
  Local<Value> out;
  if (des.ReadHeader(context).FromMaybe(false) &&
      des.ReadValue(context).ToLocal(&out)) {
    args.GetReturnValue().Set(out);
  }
  free(buf.first);
}

void n_queue_microtask(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() < 1 || !args[0]->IsFunction()) {
    throw_type(args.GetIsolate(),
               "The callback provided as parameter 1 is "
               "not a function.");
    return;
  }
  Isolate* isolate = args.GetIsolate();
  isolate->GetCurrentContext()->GetMicrotaskQueue()->EnqueueMicrotask(
      isolate, args[0].As<Function>());
}

void n_run_microtasks(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  isolate->GetCurrentContext()->GetMicrotaskQueue()->PerformCheckpoint(isolate);
}

void n_promise_state(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() > 0 && args[0]->IsPromise()) {
    args.GetReturnValue().Set(static_cast<int>(args[0].As<Promise>()->State()));
  }
}

void n_promise_result(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() > 0 && args[0]->IsPromise()) {
    Local<Promise> p = args[0].As<Promise>();
    if (p->State() != Promise::kPending) {
      args.GetReturnValue().Set(p->Result());
    }
  }
}

// setOpErrors(classes): the constructors sync ops throw, by class name.
void n_set_op_errors(const FunctionCallbackInfo<Value>& args) {
  Local<Context> context = args.GetIsolate()->GetCurrentContext();
  if (args.Length() > 0 && args[0]->IsObject()) {
    context->SetEmbedderData(kOpErrorsSlot, args[0]);
  }
}

void op_ref(const FunctionCallbackInfo<Value>& args, int ref) {
  v8s_isolate* iso = native_iso(args);
  void* realm = native_realm(args);
  if (realm != nullptr && args.Length() > 0 && args[0]->IsUint32()) {
    iso->host->op_ref(realm, args[0].As<v8::Uint32>()->Value(), ref);
  }
}

void n_op_ref(const FunctionCallbackInfo<Value>& args) {
  op_ref(args, 1);
}

void n_op_unref(const FunctionCallbackInfo<Value>& args) {
  op_ref(args, 0);
}

Local<ObjectTemplate> natives_template(v8s_isolate* iso) {
  Isolate* isolate = iso->isolate;
  if (!iso->natives.IsEmpty()) {
    return iso->natives.Get(isolate);
  }
  Local<ObjectTemplate> t = ObjectTemplate::New(isolate);
  struct {
    const char* name;
    v8::FunctionCallback fn;
  } table[] = {
      {"print", n_print},
      {"timerArm", n_timer_arm},
      {"now", n_now},
      {"encodeUtf8", n_encode_utf8},
      {"decodeUtf8", n_decode_utf8},
      {"structuredClone", n_structured_clone},
      {"queueMicrotask", n_queue_microtask},
      {"runMicrotasks", n_run_microtasks},
      {"promiseState", n_promise_state},
      {"promiseResult", n_promise_result},
      {"setOpErrors", n_set_op_errors},
      {"opRef", n_op_ref},
      {"opUnref", n_op_unref},
  };
  for (const auto& e : table) {
    t->Set(str(isolate, e.name), FunctionTemplate::New(isolate, e.fn));
  }
  iso->natives.Reset(isolate, t);
  return t;
}

// ---- callbacks from V8 ----

std::string type_of_assertions(Local<Context> context,
                               Local<FixedArray> assertions) {
  Isolate* isolate = context->GetIsolate();
  if (assertions.IsEmpty()) {
    return "";
  }
  for (int i = 0; i + 1 < assertions->Length(); i++) {
    Local<Data> k = assertions->Get(context, i);
    Local<Data> v = assertions->Get(context, i + 1);
    if (k->IsValue() && k.As<Value>()->IsString() && v->IsValue() &&
        v.As<Value>()->IsString() && to_std(isolate, k.As<Value>()) == "type") {
      return to_std(isolate, v.As<Value>());
    }
  }
  return "";
}

v8s_ref module_ref_of(v8s_isolate* iso, Local<Module> module) {
  auto range = iso->modules.equal_range(module->GetIdentityHash());
  for (auto it = range.first; it != range.second; ++it) {
    Local<Module> m = ref_module(iso, it->second);
    if (!m.IsEmpty() && m == module) {
      return it->second;
    }
  }
  return 0;
}

// A specifier crosses into C as a C string: one with a NUL in it would be
// cut there ('./ok.js\0/../x' would load ok.js), so it is refused.
bool nul_free(const std::string& spec, char* err, size_t errlen) {
  if (spec.find('\0') == std::string::npos) {
    return true;
  }
  snprintf(err, errlen, "Module specifier \"%.200s\" contains a NUL character",
           spec.c_str());
  return false;
}

MaybeLocal<Module> resolve_cb(Local<Context> context,
                              Local<String> specifier,
                              Local<FixedArray> assertions,
                              Local<Module> referrer) {
  Isolate* isolate = context->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  void* realm = realm_of(context);
  char err[512] = "module not loaded";
  v8s_ref target = 0;
  if (realm != nullptr) {
    std::string spec = to_std(isolate, specifier);
    std::string type = type_of_assertions(context, assertions);
    if (!nul_free(spec, err, sizeof(err))) {
      target = 0;
    } else {
      target =
          iso->host->resolve(realm, spec.c_str(), type.c_str(),
                             module_ref_of(iso, referrer), err, sizeof(err));
    }
  }
  Local<Module> m = ref_module(iso, target);
  if (m.IsEmpty()) {
    isolate->ThrowException(v8::Exception::TypeError(str(isolate, err)));
    return MaybeLocal<Module>();
  }
  return m;
}

MaybeLocal<Promise> dyn_import_cb(Local<Context> context,
                                  Local<Data> host_defined_options,
                                  Local<Value> resource_name,
                                  Local<String> specifier,
                                  Local<FixedArray> assertions) {
  Isolate* isolate = context->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  EscapableHandleScope scope(isolate);
  Local<Promise::Resolver> resolver;
  if (!Promise::Resolver::New(context).ToLocal(&resolver)) {
    return MaybeLocal<Promise>();
  }
  void* realm = realm_of(context);
  char err[512] = "dynamic import is not available here";
  int rc = ISO_EINVAL;
  if (realm != nullptr) {
    std::string spec = to_std(isolate, specifier);
    std::string type = type_of_assertions(context, assertions);
    std::string referrer =
        resource_name.IsEmpty() ? "" : to_std(isolate, resource_name);
    if (nul_free(spec, err, sizeof(err))) {
      v8s_ref r = ref_new(iso, resolver);
      rc = iso->host->dyn_import(realm, spec.c_str(), type.c_str(),
                                 referrer.c_str(), r, err, sizeof(err));
      if (rc != 0) {
        v8s_ref_free(iso, r);
      }
    }
  }
  if (rc != 0) {
    // rejecting runs no JavaScript; only a pending termination fails it,
    // and then nothing will look at the promise
    if (resolver->Reject(context, v8::Exception::TypeError(str(isolate, err)))
            .IsNothing()) {
      return MaybeLocal<Promise>();
    }
  }
  return scope.Escape(resolver->GetPromise());
}

void import_meta_cb(Local<Context> context,
                    Local<Module> module,
                    Local<Object> meta) {
  Isolate* isolate = context->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  void* realm = realm_of(context);
  if (realm == nullptr) {
    return;
  }
  const char* url = "";
  int is_main = 0;
  iso->host->import_meta(realm, module_ref_of(iso, module), &url, &is_main);
  // a fresh object: only a pending termination can make these fail
  if (meta->CreateDataProperty(context, str(isolate, "url"), str(isolate, url))
          .IsNothing() ||
      meta->CreateDataProperty(context, str(isolate, "main"),
                               Boolean::New(isolate, is_main != 0))
          .IsNothing()) {
    return;
  }
}

void promise_reject_cb(PromiseRejectMessage message) {
  Local<Promise> promise = message.GetPromise();
  Isolate* isolate = promise->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  HandleScope scope(isolate);
  Local<Context> context;
  if (!promise->GetCreationContext().ToLocal(&context)) {
    return;
  }
  void* realm = realm_of(context);
  if (realm == nullptr) {
    return;
  }
  if (is_watched(iso, promise)) {
    return;  // the runtime polls this promise itself (seed: mod_evaluate)
  }
  int event = static_cast<int>(message.GetEvent());
  Local<Value> reason = message.GetValue();
  v8s_ref p = ref_new(iso, promise);
  v8s_ref r = reason.IsEmpty() ? 0 : ref_new(iso, reason);
  iso->host->promise_reject(realm, event, p, r);
  v8s_ref_free(iso, p);
  v8s_ref_free(iso, r);
}

void message_cb(Local<Message> message, Local<Value> error) {
  Isolate* isolate = message->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  HandleScope scope(isolate);
  Local<Context> context = isolate->GetCurrentContext();
  void* realm = realm_of(context);
  if (realm == nullptr) {
    return;
  }
  v8s_exc exc = {};
  describe(isolate, context, error, &exc);
  iso->host->uncaught(realm, &exc);
  v8s_exc_clear(&exc);
}

// The heap limit. V8's own limit is a poor place to enforce it: V8 aborts
// the process unless the near-heap-limit callback returns a limit above
// both the current one and the heap as it stands (a large new object is
// let in past the limit regardless), and a failed allocation, which can be
// 1 GiB, gets one call and then aborts if the retry does not fit. So V8's
// limit is set kHeapHeadroom above the configured one, and the configured
// one is enforced here, after every full garbage collection: past it, the
// running JavaScript is stopped and the host told (it condemns the
// isolate, which is replaced once its jobs are answered; until then its
// other jobs run on, only under V8's limit). Should a builtin
// that ignores the stop reach V8's limit, that limit grows again rather
// than abort.
constexpr size_t kHeapHeadroom = size_t{1} << 30;

void heap_over(v8s_isolate* iso) {
  if (iso->host->near_heap_limit == nullptr ||
      iso->host->near_heap_limit(iso->host_data) != 0) {
    v8s_terminate(iso);
  }
}

// Asked for by gc_epilogue_cb at the next interrupt check of running
// JavaScript: a full collection, after which the heap is what is alive.
void heap_check_cb(Isolate* isolate, void* data) {
  v8s_isolate* iso = static_cast<v8s_isolate*>(data);
  iso->heap_check_asked = false;
  if (!iso->heap_over) {
    isolate->LowMemoryNotification();
  }
}

// WebAssembly memories are not allocated through the ArrayBuffer allocator
// (which caps ArrayBuffers on its own) but V8 counts them as external
// memory: what the allocator does not hold is theirs, and counts with the
// heap. Read before a collection starts, when V8 has finished sweeping
// the last one's buffers: during sweeping the allocator has freed buffers
// that V8 still counts, which would look like WebAssembly memory.
void gc_prologue_cb(Isolate* isolate,
                    v8::GCType type,
                    v8::GCCallbackFlags flags,
                    void* data) {
  v8s_isolate* iso = static_cast<v8s_isolate*>(data);
  v8::HeapStatistics hs;
  isolate->GetHeapStatistics(&hs);
  size_t external = hs.external_memory();
  size_t buffers = iso->allocator->used();
  iso->wasm_bytes = external > buffers ? external - buffers : 0;
}

void gc_epilogue_cb(Isolate* isolate,
                    v8::GCType type,
                    v8::GCCallbackFlags flags,
                    void* data) {
  v8s_isolate* iso = static_cast<v8s_isolate*>(data);
  if (iso->heap_over) {
    return;  // condemned already: its other jobs may finish meanwhile
  }
  v8::HeapStatistics hs;
  isolate->GetHeapStatistics(&hs);
  size_t used = hs.used_heap_size() + iso->wasm_bytes;
  if ((type & v8::kGCTypeMarkSweepCompact) != 0) {
    if (used > iso->heap_max) {
      iso->heap_over = true;
      heap_over(iso);
    }
    // the next full collection we ask for: after another eighth
    iso->heap_check_at = std::max(used, iso->heap_max) + iso->heap_max / 8;
    return;
  }
  // After a minor collection the count still holds the old generation's
  // garbage, and V8, whose own limit is far above, may not collect it for
  // a while: past the limit (and an eighth more since the last look), ask
  // for a full collection to know.
  if (used > iso->heap_max && used > iso->heap_check_at &&
      !iso->heap_check_asked) {
    iso->heap_check_asked = true;
    isolate->RequestInterrupt(heap_check_cb, iso);
  }
}

size_t near_heap_limit_cb(void* data, size_t current, size_t initial) {
  v8s_isolate* iso = static_cast<v8s_isolate*>(data);
  v8::HeapStatistics hs;
  iso->isolate->GetHeapStatistics(&hs);
  heap_over(iso);
  size_t floor = std::max(current, hs.total_heap_size());
  return floor + std::max(floor / 2, kHeapHeadroom);
}

MaybeLocal<Value> json_eval_steps(Local<Context> context,
                                  Local<Module> module) {
  Isolate* isolate = context->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  auto range = iso->json.equal_range(module->GetIdentityHash());
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.first.Get(isolate) == module) {
      bool ok = module
                    ->SetSyntheticModuleExport(isolate, str(isolate, "default"),
                                               it->second.second.Get(isolate))
                    .IsJust();
      iso->json.erase(it);
      if (!ok) {
        return MaybeLocal<Value>();
      }
      break;
    }
  }
  Local<Promise::Resolver> r;
  if (!Promise::Resolver::New(context).ToLocal(&r) ||
      r->Resolve(context, v8::Undefined(isolate)).IsNothing()) {
    return MaybeLocal<Value>();
  }
  return r->GetPromise();
}

// ---- msgpack ----

struct Writer {
  std::string out;
  void u8(uint8_t b) { out.push_back(static_cast<char>(b)); }
  void be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) {
      u8(static_cast<uint8_t>(v >> (8 * i)));
    }
  }
  void raw(const void* p, size_t n) {
    out.append(static_cast<const char*>(p), n);
  }
  void nil() { u8(0xc0); }
  void boolean(bool b) { u8(b ? 0xc3 : 0xc2); }
  void int64(int64_t v) {
    if (v >= 0) {
      if (v < 128) {
        u8(static_cast<uint8_t>(v));
      } else if (v < 256) {
        u8(0xcc), be(v, 1);
      } else if (v < 65536) {
        u8(0xcd), be(v, 2);
      } else if (v < 4294967296LL) {
        u8(0xce), be(v, 4);
      } else {
        u8(0xcf), be(v, 8);
      }
    } else if (v >= -32) {
      u8(static_cast<uint8_t>(v));
    } else if (v >= -128) {
      u8(0xd0), be(static_cast<uint64_t>(v), 1);
    } else if (v >= -32768) {
      u8(0xd1), be(static_cast<uint64_t>(v), 2);
    } else if (v >= -2147483648LL) {
      u8(0xd2), be(static_cast<uint64_t>(v), 4);
    } else {
      u8(0xd3), be(static_cast<uint64_t>(v), 8);
    }
  }
  void float64(double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    u8(0xcb), be(bits, 8);
  }
  void head(uint8_t fix,
            uint8_t fixmax,
            uint8_t b8,
            uint8_t b16,
            uint8_t b32,
            size_t n) {
    if (fix != 0 && n <= fixmax) {
      u8(static_cast<uint8_t>(fix | n));
    } else if (b8 != 0 && n < 256) {
      u8(b8), be(n, 1);
    } else if (n < 65536) {
      u8(b16), be(n, 2);
    } else {
      u8(b32), be(n, 4);
    }
  }
  void str_head(size_t n) { head(0xa0, 31, 0xd9, 0xda, 0xdb, n); }
  void bin(const void* p, size_t n) {
    head(0, 0, 0xc4, 0xc5, 0xc6, n);
    raw(p, n);
  }
  void array_head(size_t n) { head(0x90, 15, 0, 0xdc, 0xdd, n); }
  void map_head(size_t n) { head(0x80, 15, 0, 0xde, 0xdf, n); }
  void timestamp(double ms) {
    double secs = std::floor(ms / 1000.0);
    int64_t sec = static_cast<int64_t>(secs);
    uint32_t nsec = static_cast<uint32_t>((ms - secs * 1000.0) * 1e6);
    if (nsec >= 1000000000u) {
      nsec = 999999999u;
    }
    if (sec >= 0 && sec < (1LL << 34)) {
      u8(0xd7), u8(0xff);
      be((static_cast<uint64_t>(nsec) << 34) | static_cast<uint64_t>(sec), 8);
    } else {
      u8(0xc7), u8(12), u8(0xff);
      be(nsec, 4), be(static_cast<uint64_t>(sec), 8);
    }
  }
};

struct Encoder {
  Isolate* isolate;
  Local<Context> context;
  size_t limit;
  Writer w;
  std::vector<Local<Object>> path;
  std::string err;
  bool too_big = false;

  // Checked at every container element: a huge sparse array or map would
  // otherwise grow the buffer outside V8's heap limit.
  bool over() {
    if (iso_of(isolate)->stop_requested.load(std::memory_order_relaxed)) {
      return true; /* stopped: element reads of holes never notice */
    }
    if (w.out.size() <= limit) {
      return false;
    }
    if (!too_big) {
      too_big = true;
      fail("the value is larger than " + std::to_string(limit) +
           " bytes of msgpack");
    }
    return true;
  }

  bool fail(const std::string& what) {
    if (err.empty()) {
      err = what;
    }
    return false;
  }

  bool string(Local<String> s) {
    int n = s->Utf8Length(isolate);
    w.str_head(n);
    size_t at = w.out.size();
    w.out.resize(at + n);
    s->WriteUtf8(isolate, &w.out[at], n, nullptr,
                 String::NO_NULL_TERMINATION | String::REPLACE_INVALID_UTF8);
    return true;
  }

  // A value as a string, without running JavaScript (to_std).
  bool text(Local<Value> v) {
    if (v->IsString()) {
      return string(v.As<String>());
    }
    std::string t = to_std(isolate, v);
    w.str_head(t.size());
    w.raw(t.data(), t.size());
    return true;
  }

  bool number(double d) {
    if (std::isfinite(d) && d == std::floor(d) && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0 && !(d == 0 && std::signbit(d))) {
      w.int64(static_cast<int64_t>(d));
    } else {
      w.float64(d);
    }
    return true;
  }

  bool value(Local<Value> v, const std::string& where) {
    if (v->IsUndefined() || v->IsNull()) {
      w.nil();
      return true;
    }
    if (v->IsBoolean()) {
      w.boolean(v->IsTrue());
      return true;
    }
    if (v->IsNumber()) {
      return number(v.As<Number>()->Value());
    }
    if (v->IsString()) {
      return string(v.As<String>());
    }
    if (v->IsBigInt()) {
      bool lossless = false;
      int64_t i = v.As<BigInt>()->Int64Value(&lossless);
      if (!lossless) {
        return fail(where + " is a BigInt outside the int64 range");
      }
      w.int64(i);
      return true;
    }
    if (v->IsSymbol()) {
      return fail(where + " is a symbol, which cannot be sent");
    }
    if (v->IsFunction()) {
      return fail(where + " is a function, which cannot be sent");
    }
    if (v->IsNumberObject() || v->IsStringObject() || v->IsBooleanObject()) {
      if (v->IsNumberObject()) {
        return number(v.As<v8::NumberObject>()->ValueOf());
      }
      if (v->IsBooleanObject()) {
        w.boolean(v.As<v8::BooleanObject>()->ValueOf());
        return true;
      }
      return string(v.As<v8::StringObject>()->ValueOf());
    }
    if (v->IsDate()) {
      double ms = v.As<v8::Date>()->ValueOf();
      if (!std::isfinite(ms)) {
        return fail(where + " is an invalid Date");
      }
      w.timestamp(ms);
      return true;
    }
    const uint8_t* p;
    size_t n;
    if (view_bytes(v, &p, &n)) {
      w.bin(p, n);
      return true;
    }
    if (v->IsPromise()) {
      return fail(where + " is a Promise, which cannot be sent (await it)");
    }
    if (!v->IsObject()) {
      return fail(where + " has a type that cannot be sent");
    }
    Local<Object> obj = v.As<Object>();
    for (const Local<Object>& o : path) {
      if (o == obj) {
        return fail(where + " is a cycle (the value refers to itself)");
      }
    }
    if (path.size() >= static_cast<size_t>(kMaxDepth)) {
      return fail(where + " is nested too deeply");
    }
    path.push_back(obj);
    bool ok = container(obj, where);
    path.pop_back();
    return ok;
  }

  bool container(Local<Object> obj, const std::string& where) {
    if (obj->IsArray()) {
      Local<Array> a = obj.As<Array>();
      uint32_t n = a->Length();
      w.array_head(n);
      for (uint32_t i = 0; i < n; i++) {
        Local<Value> e;
        if (over()) {
          return false;
        }
        if (!a->Get(context, i).ToLocal(&e)) {
          return fail(where + "[" + std::to_string(i) + "]: getter threw");
        }
        if (!value(e, where + "[" + std::to_string(i) + "]")) {
          return false;
        }
      }
      return true;
    }
    if (obj->IsMap()) {
      Local<Array> pairs = obj.As<v8::Map>()->AsArray();
      uint32_t n = pairs->Length() / 2;
      w.map_head(n);
      for (uint32_t i = 0; i < n * 2; i++) {
        if (over()) {
          return false;
        }
        Local<Value> e;
        if (!pairs->Get(context, i).ToLocal(&e)) {
          return fail(where + ": reading the Map failed");
        }
        if (!value(e, where + (i % 2 == 0 ? " (Map key)" : " (Map value)"))) {
          return false;
        }
      }
      return true;
    }
    if (obj->IsSet()) {
      Local<Array> items = obj.As<v8::Set>()->AsArray();
      uint32_t n = items->Length();
      w.array_head(n);
      for (uint32_t i = 0; i < n; i++) {
        if (over()) {
          return false;
        }
        Local<Value> e;
        if (!items->Get(context, i).ToLocal(&e)) {
          return fail(where + ": reading the Set failed");
        }
        if (!value(e, where + " (Set item)")) {
          return false;
        }
      }
      return true;
    }
    if (obj->IsNativeError()) {
      w.map_head(2);
      w.str_head(4), w.raw("name", 4);
      Local<Value> name, message;
      if (!obj->Get(context, str(isolate, "name")).ToLocal(&name) ||
          !obj->Get(context, str(isolate, "message")).ToLocal(&message)) {
        return fail(where + ": reading the error failed");
      }
      // name and message may be anything (a Symbol, an object whose
      // toString throws): their detail strings, which run no JavaScript
      text(name);
      w.str_head(7), w.raw("message", 7);
      return text(message);
    }
    Local<Array> keys;
    if (!obj->GetOwnPropertyNames(context, v8::ONLY_ENUMERABLE,
                                  v8::KeyConversionMode::kConvertToString)
             .ToLocal(&keys)) {
      return fail(where + ": reading its keys failed");
    }
    uint32_t n = keys->Length();
    w.map_head(n);
    for (uint32_t i = 0; i < n; i++) {
      if (over()) {
        return false;
      }
      Local<Value> k, e;
      if (!keys->Get(context, i).ToLocal(&k) || !k->IsString()) {
        return fail(where + ": reading its keys failed");
      }
      if (!obj->Get(context, k).ToLocal(&e)) {
        return fail(where + ": a getter threw");
      }
      string(k.As<String>());
      if (!value(e, where + "." + to_std(isolate, k))) {
        return false;
      }
    }
    return true;
  }
};

struct Decoder {
  Isolate* isolate;
  Local<Context> context;
  const uint8_t* p;
  const uint8_t* end;
  std::string err;

  bool need(size_t n) {
    if (static_cast<size_t>(end - p) < n) {
      err = "truncated msgpack";
      return false;
    }
    return true;
  }
  uint64_t be(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
      v = (v << 8) | *p++;
    }
    return v;
  }
  bool length(int n, size_t* out) {
    if (!need(n)) {
      return false;
    }
    *out = static_cast<size_t>(be(n));
    return true;
  }
  Local<Value> integer(int64_t i) {
    if (i > 9007199254740991LL || i < -9007199254740991LL) {
      return BigInt::New(isolate, i);
    }
    return Number::New(isolate, static_cast<double>(i));
  }

  bool read(Local<Value>* out, int depth) {
    if (depth > kMaxDepth) {
      err = "msgpack nested too deeply";
      return false;
    }
    if (!need(1)) {
      return false;
    }
    uint8_t b = *p++;
    size_t n = 0;
    if (b <= 0x7f) {
      *out = Integer::New(isolate, b);
      return true;
    }
    if (b >= 0xe0) {
      *out = Integer::New(isolate, static_cast<int8_t>(b));
      return true;
    }
    if ((b & 0xf0) == 0x80) {
      return map(b & 0x0f, out, depth);
    }
    if ((b & 0xf0) == 0x90) {
      return array(b & 0x0f, out, depth);
    }
    if ((b & 0xe0) == 0xa0) {
      return string(b & 0x1f, out);
    }
    switch (b) {
      case 0xc0:
        *out = v8::Null(isolate);
        return true;
      case 0xc2:
        *out = v8::False(isolate);
        return true;
      case 0xc3:
        *out = v8::True(isolate);
        return true;
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return length(1 << (b - 0xc4), &n) && bin(n, out);
      case 0xc7:
      case 0xc8:
      case 0xc9:
        return length(1 << (b - 0xc7), &n) && ext(n, out);
      case 0xca: {
        if (!need(4)) {
          return false;
        }
        uint32_t bits = static_cast<uint32_t>(be(4));
        float f;
        memcpy(&f, &bits, 4);
        *out = Number::New(isolate, f);
        return true;
      }
      case 0xcb: {
        if (!need(8)) {
          return false;
        }
        uint64_t bits = be(8);
        double d;
        memcpy(&d, &bits, 8);
        *out = Number::New(isolate, d);
        return true;
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        int w = 1 << (b - 0xcc);
        if (!need(w)) {
          return false;
        }
        uint64_t u = be(w);
        if (u > 9007199254740991ULL) {
          *out = BigInt::NewFromUnsigned(isolate, u);
        } else {
          *out = integer(static_cast<int64_t>(u));
        }
        return true;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        int w = 1 << (b - 0xd0);
        if (!need(w)) {
          return false;
        }
        uint64_t u = be(w);
        int64_t i;
        if (w == 1) {
          i = static_cast<int8_t>(u);
        } else if (w == 2) {
          i = static_cast<int16_t>(u);
        } else if (w == 4) {
          i = static_cast<int32_t>(u);
        } else {
          i = static_cast<int64_t>(u);
        }
        *out = integer(i);
        return true;
      }
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return ext(static_cast<size_t>(1) << (b - 0xd4), out);
      case 0xd9:
      case 0xda:
      case 0xdb:
        return length(1 << (b - 0xd9), &n) && string(n, out);
      case 0xdc:
      case 0xdd:
        return length(b == 0xdc ? 2 : 4, &n) && array(n, out, depth);
      case 0xde:
      case 0xdf:
        return length(b == 0xde ? 2 : 4, &n) && map(n, out, depth);
      default:
        err = "invalid msgpack byte";
        return false;
    }
  }

  bool string(size_t n, Local<Value>* out) {
    if (!need(n) || n > static_cast<size_t>(String::kMaxLength)) {
      return false;
    }
    Local<String> s;
    if (!String::NewFromUtf8(isolate, reinterpret_cast<const char*>(p),
                             v8::NewStringType::kNormal, static_cast<int>(n))
             .ToLocal(&s)) {
      err = "string too long";
      return false;
    }
    p += n;
    *out = s;
    return true;
  }
  bool bin(size_t n, Local<Value>* out) {
    if (!need(n)) {
      return false;
    }
    Local<ArrayBuffer> ab;
    if (!new_buffer(isolate, n).ToLocal(&ab)) {
      err = kBufferFailed;
      return false;
    }
    if (n > 0) {  // an empty buffer's Data() may be NULL
      memcpy(ab->Data(), p, n);
    }
    p += n;
    *out = v8::Uint8Array::New(ab, 0, n);
    return true;
  }
  bool ext(size_t n, Local<Value>* out) {
    if (!need(1 + n)) {
      return false;
    }
    int8_t type = static_cast<int8_t>(*p++);
    if (type == -1 && (n == 4 || n == 8 || n == 12)) {
      int64_t sec;
      uint32_t nsec = 0;
      if (n == 4) {
        sec = static_cast<int64_t>(be(4));
      } else if (n == 8) {
        uint64_t v = be(8);
        nsec = static_cast<uint32_t>(v >> 34);
        sec = static_cast<int64_t>(v & ((1ULL << 34) - 1));
      } else {
        nsec = static_cast<uint32_t>(be(4));
        sec = static_cast<int64_t>(be(8));
      }
      double ms = static_cast<double>(sec) * 1000.0 + nsec / 1e6;
      if (!v8::Date::New(context, ms).ToLocal(out)) {
        err = "invalid timestamp";
        return false;
      }
      return true;
    }
    // Other extension types arrive as their bytes.
    return bin(n, out);
  }
  bool array(size_t n, Local<Value>* out, int depth) {
    if (n > static_cast<size_t>(end - p)) {
      err = "msgpack array count exceeds the message";
      return false;
    }
    std::vector<Local<Value>> elems;
    if (!elements(n, &elems, depth)) {
      return false;
    }
    // made from its elements: Set would run setters a job defined on
    // Array.prototype for the holes of an Array::New(n)
    *out = Array::New(isolate, elems.data(), elems.size());
    return true;
  }
  bool elements(size_t n, std::vector<Local<Value>>* out, int depth) {
    out->reserve(n);
    for (size_t i = 0; i < n; i++) {
      Local<Value> e;
      if (!read(&e, depth + 1)) {
        return false;
      }
      out->push_back(e);
    }
    return true;
  }
  // A top-level msgpack array straight into *out (a call's arguments).
  bool array_elements(std::vector<Local<Value>>* out) {
    if (!need(1)) {
      return false;
    }
    uint8_t b = *p++;
    size_t n = 0;
    if ((b & 0xf0) == 0x90) {
      n = b & 0x0f;
    } else if (b == 0xdc || b == 0xdd) {
      if (!length(b == 0xdc ? 2 : 4, &n)) {
        return false;
      }
    } else {
      err = "args must be a msgpack array";
      return false;
    }
    if (n > static_cast<size_t>(end - p)) {
      err = "msgpack array count exceeds the message";
      return false;
    }
    return elements(n, out, 0);
  }
  bool map(size_t n, Local<Value>* out, int depth) {
    if (n > static_cast<size_t>(end - p) / 2) {
      err = "msgpack map count exceeds the message";
      return false;
    }
    // Plain object when every key is a string, else a Map.
    std::vector<Local<Value>> kv;
    kv.reserve(n * 2);
    bool all_strings = true;
    for (size_t i = 0; i < n * 2; i++) {
      Local<Value> e;
      if (!read(&e, depth + 1)) {
        return false;
      }
      if (i % 2 == 0 && !e->IsString()) {
        all_strings = false;
      }
      kv.push_back(e);
    }
    if (all_strings) {
      Local<Object> o = Object::New(isolate);
      for (size_t i = 0; i < n * 2; i += 2) {
        if (!o->CreateDataProperty(context, kv[i].As<Name>(), kv[i + 1])
                 .FromMaybe(false)) {
          return false;
        }
      }
      *out = o;
    } else {
      Local<v8::Map> m = v8::Map::New(isolate);
      for (size_t i = 0; i < n * 2; i += 2) {
        if (m->Set(context, kv[i], kv[i + 1]).IsEmpty()) {
          return false;
        }
      }
      *out = m;
    }
    return true;
  }
};

// ---- ops: the registry's functions on __iso.ops ----

// The arguments args[first..] as one msgpack array, into *out (a zero-arg
// call, the common no-op case, costs nothing). Returns false with a
// TypeError thrown.
bool encode_op_args(v8s_isolate* iso,
                    const FunctionCallbackInfo<Value>& args,
                    int first,
                    Encoder* e) {
  int n = args.Length() - first;
  e->w.array_head(n < 0 ? 0 : n);
  for (int i = first; i < args.Length(); i++) {
    if (!e->value(args[i], "argument " + std::to_string(i - first + 1)) ||
        e->over()) {
      if (!iso->stop_requested.load()) {
        throw_type(e->isolate, e->err.c_str());
      }
      return false;
    }
  }
  return true;
}

// Throws new classes[name](message), the prelude's class for `name`
// (setOpErrors), or a plain Error when there is none.
void throw_op_error(Isolate* isolate,
                    Local<Context> context,
                    const char* name,
                    const char* msg) {
  Local<Value> text = str(isolate, msg);
  Local<Value> classes = context->GetEmbedderData(kOpErrorsSlot);
  Local<Value> ctor;
  Local<Object> error;
  if (classes->IsObject() &&
      classes.As<Object>()->Get(context, str(isolate, name)).ToLocal(&ctor) &&
      ctor->IsFunction() &&
      ctor.As<Function>()->NewInstance(context, 1, &text).ToLocal(&error)) {
    isolate->ThrowException(error);
    return;
  }
  isolate->ThrowException(strcmp(name, "TypeError") == 0
                              ? v8::Exception::TypeError(text.As<String>())
                              : v8::Exception::Error(text.As<String>()));
}

// Decodes one msgpack value for JavaScript; on failure *why (if given)
// says what went wrong: malformed bytes, or no memory for a buffer.
bool decode_value(Isolate* isolate,
                  Local<Context> context,
                  const uint8_t* p,
                  size_t n,
                  Local<Value>* out,
                  std::string* why = nullptr) {
  if (n == 0) {
    *out = v8::Undefined(isolate);
    return true;
  }
  Decoder d{isolate, context, p, p + n, {}};
  if (d.read(out, 0) && d.p == d.end) {
    return true;
  }
  if (why != nullptr) {
    *why = d.err == kBufferFailed ? d.err : "op returned malformed msgpack";
  }
  return false;
}

// What an op's native starts from: the isolate, the calling context, its
// realm (NULL once the realm is gone: the call then does nothing) and the
// op's index (the function's data).
struct OpEntry {
  Isolate* isolate;
  v8s_isolate* iso;
  Local<Context> context;
  void* realm;
  uint32_t op;
  explicit OpEntry(const FunctionCallbackInfo<Value>& args)
      : isolate(args.GetIsolate()),
        iso(iso_of(isolate)),
        context(isolate->GetCurrentContext()),
        realm(realm_of(context)),
        op(args.Data().As<v8::Uint32>()->Value()) {}
};

// A sync op: arguments to msgpack, the op inline, its result back.
void n_op_sync(const FunctionCallbackInfo<Value>& args) {
  OpEntry in(args);
  if (in.realm == nullptr) {
    return;
  }
  Isolate* isolate = in.isolate;
  Local<Context> context = in.context;
  v8s_isolate* iso = in.iso;
  static const uint8_t kNoArgs[] = {0x90};
  const uint8_t* a = kNoArgs;
  size_t alen = 1;
  Encoder e{isolate, context, iso->op_args_max, {}, {}, {}};
  if (args.Length() > 0) {
    if (!encode_op_args(iso, args, 0, &e)) {
      return;
    }
    a = reinterpret_cast<const uint8_t*>(e.w.out.data());
    alen = e.w.out.size();
  }
  const uint8_t* res = nullptr;
  size_t res_len = 0;
  const char* cls = nullptr;
  const char* msg = nullptr;
  if (iso->host->op_sync(in.realm, in.op, a, alen, &res, &res_len, &cls,
                         &msg) != 0) {
    throw_op_error(isolate, context, cls ? cls : "Error", msg ? msg : "");
    return;
  }
  if (res_len == 0) {
    return;
  }
  Local<Value> v;
  std::string why;
  if (!decode_value(isolate, context, res, res_len, &v, &why)) {
    isolate->ThrowException(
        why == kBufferFailed
            ? v8::Exception::RangeError(str(isolate, kBufferFailed))
            : v8::Exception::TypeError(str(isolate, why.c_str())));
    return;
  }
  args.GetReturnValue().Set(v);
}

// An async op: fn(promiseId, ...args) queues the request.
void n_op_async(const FunctionCallbackInfo<Value>& args) {
  OpEntry in(args);
  if (in.realm == nullptr) {
    return;
  }
  Isolate* isolate = in.isolate;
  Local<Context> context = in.context;
  v8s_isolate* iso = in.iso;
  if (args.Length() < 1 || !args[0]->IsUint32()) {
    throw_type(isolate, "an async op takes a promise id first");
    return;
  }
  Encoder e{isolate, context, iso->op_args_max, {}, {}, {}};
  if (!encode_op_args(iso, args, 1, &e)) {
    return;
  }
  const char* cls = nullptr;
  const char* msg = nullptr;
  if (iso->host->op_async(in.realm, in.op, args[0].As<v8::Uint32>()->Value(),
                          reinterpret_cast<const uint8_t*>(e.w.out.data()),
                          e.w.out.size(), &cls, &msg) != 0) {
    throw_op_error(isolate, context, cls ? cls : "Error", msg ? msg : "");
  }
}

// __iso.ops and __iso.opKinds for a new context. Returns false when V8
// refused (a termination pending from the heap limit): no user code has run
// in the context yet, so nothing else can make these fail.
bool install_ops(v8s_isolate* iso, Local<Context> context, Local<Object> n) {
  Isolate* isolate = iso->isolate;
  Local<Object> ops =
      Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0);
  Local<Object> kinds =
      Object::New(isolate, v8::Null(isolate), nullptr, nullptr, 0);
  for (size_t i = 0; i < iso->op_names.size(); i++) {
    if (iso->op_fns.size() <= i) {
      Local<FunctionTemplate> t = FunctionTemplate::New(
          isolate, iso->op_async[i] ? n_op_async : n_op_sync,
          v8::Integer::NewFromUnsigned(isolate, static_cast<uint32_t>(i)),
          Local<v8::Signature>(), 0, v8::ConstructorBehavior::kThrow);
      iso->op_fns.emplace_back(isolate, t);
    }
    Local<Function> fn;
    if (!iso->op_fns[i].Get(isolate)->GetFunction(context).ToLocal(&fn)) {
      return false;
    }
    Local<String> name = str(isolate, iso->op_names[i].c_str());
    fn->SetName(name);
    if (ops->Set(context, name, fn).IsNothing() ||
        kinds
            ->Set(context, name,
                  str(isolate, iso->op_async[i] ? "async" : "sync"))
            .IsNothing()) {
      return false;
    }
  }
  return n->Set(context, str(isolate, "ops"), ops).IsJust() &&
         n->Set(context, str(isolate, "opKinds"), kinds).IsJust();
}

int call_fn(v8s_isolate* iso,
            Local<Context> context,
            Local<Value> fn,
            int argc,
            Local<Value>* argv,
            v8s_ref* out,
            v8s_exc* exc) {
  Isolate* isolate = iso->isolate;
  if (!fn->IsFunction()) {
    if (exc != nullptr) {
      v8s_exc_clear(exc);
      exc->name = strdup("TypeError");
      exc->message = strdup("not a function");
    }
    return ISO_EJS;
  }
  TryCatch tc(isolate);
  Local<Value> result;
  if (!fn.As<Function>()
           ->Call(context, v8::Undefined(isolate), argc, argv)
           .ToLocal(&result)) {
    return caught(iso, context, tc, exc);
  }
  if (out != nullptr) {
    *out = ref_new(iso, result);
  }
  return 0;
}

}  // namespace

// ---- microtask queues ----

static void queue_free_cb(const v8::WeakCallbackInfo<CtxQueue>& info) {
  CtxQueue* q = info.GetParameter();
  std::vector<CtxQueue*>& all = q->iso->queues;
  for (size_t i = 0; i < all.size(); i++) {
    if (all[i] == q) {
      all[i] = all.back();
      all.pop_back();
      break;
    }
  }
  delete q;
}

// The context is gone: its queue can go once the GC is done with it.
static void queue_collected_cb(const v8::WeakCallbackInfo<CtxQueue>& info) {
  info.GetParameter()->weak.Reset();
  info.SetSecondPassCallback(queue_free_cb);
}

// ---- the C API ----

extern "C" {

void v8s_exc_clear(v8s_exc* exc) {
  if (exc == nullptr) {
    return;
  }
  free(exc->name);
  free(exc->message);
  free(exc->stack);
  memset(exc, 0, sizeof(*exc));
}

int v8s_platform_init(const char* flags, int threads) {
  if (g_platform) {
    return ISO_EINVAL;
  }
  g_start_ns = uv_hrtime();
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  g_start_epoch_ms = static_cast<double>(tv.tv_sec) * 1e3 +
                     static_cast<double>(tv.tv_usec) / 1e3;
  // Import assertions (`assert { type: "json" }`) are behind a flag in
  // V8 10.2; the loader rewrites the newer `with` form to it.
  v8::V8::SetFlagsFromString("--harmony-import-assertions");
  if (flags != nullptr && flags[0] != '\0') {
    v8::V8::SetFlagsFromString(flags);
  }
  g_platform = node::MultiIsolatePlatform::Create(threads > 0 ? threads : 2);
  g_hooked = std::make_unique<HookedPlatform>(g_platform.get());
  v8::V8::InitializePlatform(g_hooked.get());
  v8::V8::Initialize();
  return 0;
}

void* v8s_platform_handle(void) {
  return g_platform.get();
}

double v8s_platform_now_ms(void) {
  return static_cast<double>(uv_hrtime() - g_start_ns) / 1e6;
}

int v8s_isolate_new(const v8s_isolate_opts* opts, v8s_isolate** out) {
  if (!g_platform || opts == nullptr || opts->loop == nullptr ||
      opts->host == nullptr) {
    return ISO_EINVAL;
  }
  v8s_isolate* iso = new (std::nothrow) v8s_isolate();
  if (iso == nullptr) {
    return ISO_ENOMEM;
  }
  iso->loop = opts->loop;
  iso->host = opts->host;
  iso->host_data = opts->host_data;
  for (size_t i = 0; i < opts->nops; i++) {
    iso->op_names.emplace_back(opts->ops[i].name);
    iso->op_async.push_back(opts->ops[i].is_async != 0);
  }
  iso->op_args_max =
      opts->op_args_max ? opts->op_args_max : static_cast<size_t>(256) << 20;
  // ArrayBuffers get as much as the heap: --heap-mb caps both
  iso->allocator = new CappedAllocator(
      (opts->heap_max_mb > 0 ? opts->heap_max_mb : 4096) * (size_t{1} << 20));
  Isolate::CreateParams params;
  params.array_buffer_allocator = iso->allocator;
  if (opts->heap_max_mb > 0) {
    iso->heap_max = opts->heap_max_mb * (size_t{1} << 20);
    params.constraints.ConfigureDefaultsFromHeapSize(
        0, iso->heap_max + kHeapHeadroom);
  }
  Isolate* isolate = Isolate::Allocate();
  g_platform->RegisterIsolate(isolate, opts->loop);
  Isolate::Initialize(isolate, params);
  iso->isolate = isolate;
  isolate->SetData(0, iso);
  isolate->SetData(1, opts->host_data);
  isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  // Like a browser's main thread: Atomics.wait would block the loop that
  // every job on this isolate shares.
  isolate->SetAllowAtomicsWait(false);
  isolate->SetHostImportModuleDynamicallyCallback(dyn_import_cb);
  isolate->SetHostInitializeImportMetaObjectCallback(import_meta_cb);
  isolate->SetPromiseRejectCallback(promise_reject_cb);
  isolate->AddMessageListenerWithErrorLevel(message_cb, Isolate::kMessageError);
  isolate->SetCaptureStackTraceForUncaughtExceptions(true, 10);
  isolate->AddNearHeapLimitCallback(near_heap_limit_cb, iso);
  if (iso->heap_max > 0) {
    isolate->AddGCPrologueCallback(gc_prologue_cb, iso);
    isolate->AddGCEpilogueCallback(gc_epilogue_cb, iso);
  }
  isolate->Enter();
  *out = iso;
  return 0;
}

void v8s_isolate_free(v8s_isolate* iso) {
  if (iso == nullptr) {
    return;
  }
  for (auto& g : iso->refs) {
    g.Reset();
  }
  iso->refs.clear();
  iso->json.clear();
  iso->scripts.clear();
  iso->watched.clear();
  iso->natives.Reset();
  iso->op_fns.clear();
  for (CtxQueue* q : iso->queues) {
    // a collected context's handle is empty already, its second-pass
    // callback still to come (from a task, which dies with the isolate)
    if (!q->weak.IsEmpty()) {
      q->weak.ClearWeak();
      q->weak.Reset();
    }
    delete q;
  }
  iso->queues.clear();
  iso->isolate->Exit();
  g_platform->UnregisterIsolate(iso->isolate);
  iso->isolate->Dispose();
  delete iso->allocator;
  delete iso;
}

void v8s_heap_stats(v8s_isolate* iso, size_t* used, size_t* limit) {
  v8::HeapStatistics hs;
  iso->isolate->GetHeapStatistics(&hs);
  *used = hs.used_heap_size();
  *limit = iso->heap_max > 0 ? iso->heap_max : hs.heap_size_limit();
}

void v8s_terminate(v8s_isolate* iso) {
  iso->stop_requested.store(true);
  iso->isolate->TerminateExecution();
}

void v8s_cancel_terminate(v8s_isolate* iso) {
  iso->stop_requested.store(false);
  iso->isolate->CancelTerminateExecution();
}

void v8s_ref_free(v8s_isolate* iso, v8s_ref ref) {
  if (ref == 0 || ref >= iso->refs.size() || iso->refs[ref].IsEmpty()) {
    return;
  }
  {
    HandleScope scope(iso->isolate);
    Local<Data> d = iso->refs[ref].Get(iso->isolate);
    if (d->IsModule()) {
      auto range = iso->modules.equal_range(d.As<Module>()->GetIdentityHash());
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == ref) {
          iso->modules.erase(it);
          break;
        }
      }
    }
  }
  iso->refs[ref].Reset();
  iso->free_refs.push_back(ref);
  for (size_t i = 0; i < iso->watched.size(); i++) {
    if (iso->watched[i] == ref) {
      iso->watched[i] = iso->watched.back();
      iso->watched.pop_back();
      break;
    }
  }
}

v8s_ref v8s_ref_dup(v8s_isolate* iso, v8s_ref ref) {
  HandleScope scope(iso->isolate);
  Local<Data> d = ref_get(iso, ref);
  return d.IsEmpty() ? 0 : ref_new(iso, d);
}

int v8s_ref_same(v8s_isolate* iso, v8s_ref a, v8s_ref b) {
  HandleScope scope(iso->isolate);
  Local<Data> x = ref_get(iso, a), y = ref_get(iso, b);
  return !x.IsEmpty() && !y.IsEmpty() && x == y;
}

int v8s_kind(v8s_isolate* iso, v8s_ref ref) {
  HandleScope scope(iso->isolate);
  Local<Value> v = ref_value(iso, ref);
  if (v->IsUndefined()) {
    return V8S_UNDEFINED;
  }
  if (v->IsNull()) {
    return V8S_NULL;
  }
  if (v->IsFunction()) {
    return V8S_FUNCTION;
  }
  if (v->IsPromise()) {
    return V8S_PROMISE;
  }
  return v->IsObject() ? V8S_OBJECT : V8S_OTHER;
}

int v8s_context_new(v8s_isolate* iso, void* realm, v8s_ref* out) {
  Isolate* isolate = iso->isolate;
  HandleScope scope(isolate);
  // Each context gets its own microtask queue, so a termination during one
  // realm's checkpoint (which drops the queue it ran) never loses another
  // realm's promise jobs.
  CtxQueue* q = new (std::nothrow) CtxQueue{iso, nullptr, {}};
  if (q == nullptr) {
    return ISO_ENOMEM;
  }
  q->queue = v8::MicrotaskQueue::New(isolate, v8::MicrotasksPolicy::kExplicit);
  Local<Context> context =
      Context::New(isolate, nullptr, v8::MaybeLocal<ObjectTemplate>(),
                   v8::MaybeLocal<Value>(),
                   v8::DeserializeInternalFieldsCallback(), q->queue.get());
  if (context.IsEmpty()) {
    delete q;
    return ISO_ENOMEM;
  }
  iso->queues.push_back(q);
  q->weak.Reset(isolate, context);
  q->weak.SetWeak(q, queue_collected_cb, v8::WeakCallbackType::kParameter);
  context->SetAlignedPointerInEmbedderData(kRealmSlot, realm);
  Context::Scope context_scope(context);
  Local<Object> natives;
  if (!natives_template(iso)->NewInstance(context).ToLocal(&natives)) {
    return ISO_ENOMEM;
  }
  if (natives
          ->Set(context, str(isolate, "timeOrigin"),
                Number::New(isolate, g_start_epoch_ms))
          .IsNothing() ||
      !install_ops(iso, context, natives) ||
      context->Global()
          ->Set(context, str(isolate, "__iso"), natives)
          .IsNothing()) {
    return ISO_ENOMEM;
  }
  *out = ref_new(iso, context);
  return 0;
}

void v8s_context_dispose(v8s_isolate* iso, v8s_ref ctx) {
  {
    HandleScope scope(iso->isolate);
    Local<Context> context = ref_context(iso, ctx);
    if (!context.IsEmpty()) {
      context->SetAlignedPointerInEmbedderData(kRealmSlot, nullptr);
    }
  }
  v8s_ref_free(iso, ctx);
}

int v8s_execute(v8s_isolate* iso,
                v8s_ref ctx,
                const char* name,
                const char* source,
                size_t len,
                v8s_ref* result,
                v8s_exc* exc) {
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Local<String> src;
  if (len > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromUtf8(isolate, source, v8::NewStringType::kNormal,
                           static_cast<int>(len))
           .ToLocal(&src)) {
    return ISO_ENOMEM;
  }
  ScriptOrigin origin(isolate, str(isolate, name));
  Local<v8::Script> script;
  if (!v8::Script::Compile(context, src, &origin).ToLocal(&script)) {
    return syntax_error(iso, context, tc, exc);
  }
  Local<Value> value;
  if (!script->Run(context).ToLocal(&value)) {
    return caught(iso, context, tc, exc);
  }
  if (result != nullptr) {
    *result = ref_new(iso, value);
  }
  return 0;
}

int v8s_execute_static(v8s_isolate* iso,
                       v8s_ref ctx,
                       const char* name,
                       const char* source,
                       size_t len,
                       v8s_ref* result,
                       v8s_exc* exc) {
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Local<v8::UnboundScript> unbound;
  for (auto& e : iso->scripts) {
    if (e.first == source) {
      unbound = e.second.Get(isolate);
    }
  }
  if (unbound.IsEmpty()) {
    Local<String> src;
    if (len > static_cast<size_t>(String::kMaxLength) ||
        !String::NewFromUtf8(isolate, source, v8::NewStringType::kNormal,
                             static_cast<int>(len))
             .ToLocal(&src)) {
      return ISO_ENOMEM;
    }
    ScriptOrigin origin(isolate, str(isolate, name));
    ScriptCompiler::Source source_obj(src, origin);
    if (!ScriptCompiler::CompileUnboundScript(isolate, &source_obj)
             .ToLocal(&unbound)) {
      return syntax_error(iso, context, tc, exc);
    }
    iso->scripts.emplace_back(source,
                              Global<v8::UnboundScript>(isolate, unbound));
  }
  Local<Value> value;
  if (!unbound->BindToCurrentContext()->Run(context).ToLocal(&value)) {
    return caught(iso, context, tc, exc);
  }
  if (result != nullptr) {
    *result = ref_new(iso, value);
  }
  return 0;
}

int v8s_microtasks(v8s_isolate* iso, v8s_ref ctx) {
  ENTER(iso, ctx);
  return checkpoint(iso, context);
}

int v8s_microtasks_dropped(v8s_isolate* iso) {
  bool d = iso->microtasks_dropped;
  iso->microtasks_dropped = false;
  return d ? 1 : 0;
}

void v8s_requests_free(v8s_requests* r) {
  if (r == nullptr) {
    return;
  }
  for (size_t i = 0; i < r->n; i++) {
    free(r->specifier[i]);
    free(r->type[i]);
  }
  free(r->specifier);
  free(r->type);
  memset(r, 0, sizeof(*r));
}

int v8s_module_compile(v8s_isolate* iso,
                       v8s_ref ctx,
                       const char* url,
                       const char* source,
                       size_t len,
                       int is_json,
                       v8s_ref* out,
                       v8s_exc* exc) {
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Local<String> src;
  if (len > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromUtf8(isolate, source, v8::NewStringType::kNormal,
                           static_cast<int>(len))
           .ToLocal(&src)) {
    return ISO_ENOMEM;
  }
  Local<Module> module;
  if (is_json) {
    Local<Value> value;
    if (!v8::JSON::Parse(context, src).ToLocal(&value)) {
      int rc = caught(iso, context, tc, exc);
      if (rc == ISO_EJS && exc != nullptr) {
        std::string stack = std::string("SyntaxError: ") +
                            (exc->message ? exc->message : "") + "\n    at " +
                            url;
        free(exc->stack);
        exc->stack = strdup(stack.c_str());
        return ISO_ESYNTAX;
      }
      return rc;
    }
    std::vector<Local<String>> names = {str(isolate, "default")};
    module = Module::CreateSyntheticModule(isolate, str(isolate, url), names,
                                           json_eval_steps);
    iso->json.emplace(module->GetIdentityHash(),
                      std::make_pair(Global<Module>(isolate, module),
                                     Global<Value>(isolate, value)));
  } else {
    ScriptOrigin origin(isolate, str(isolate, url), 0, 0, false, -1,
                        Local<Value>(), false, false, true);
    ScriptCompiler::Source source_obj(src, origin);
    if (!ScriptCompiler::CompileModule(isolate, &source_obj).ToLocal(&module)) {
      return syntax_error(iso, context, tc, exc);
    }
  }
  *out = ref_new(iso, module);
  iso->modules.emplace(module->GetIdentityHash(), *out);
  return 0;
}

int v8s_module_requests(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref mod,
                        v8s_requests* out) {
  memset(out, 0, sizeof(*out));
  ENTER(iso, ctx);
  Local<Module> module = ref_module(iso, mod);
  if (module.IsEmpty()) {
    return ISO_EINVAL;
  }
  Local<FixedArray> reqs = module->GetModuleRequests();
  int n = reqs->Length();
  out->specifier = static_cast<char**>(calloc(n + 1, sizeof(char*)));
  out->type = static_cast<char**>(calloc(n + 1, sizeof(char*)));
  if (out->specifier == nullptr || out->type == nullptr) {
    v8s_requests_free(out);
    return ISO_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    Local<v8::ModuleRequest> r = reqs->Get(context, i).As<v8::ModuleRequest>();
    out->specifier[i] = dup_utf8(isolate, r->GetSpecifier());
    out->type[i] =
        strdup(type_of_assertions(context, r->GetImportAssertions()).c_str());
    out->n++;
  }
  return 0;
}

int v8s_module_instantiate(v8s_isolate* iso,
                           v8s_ref ctx,
                           v8s_ref mod,
                           v8s_exc* exc) {
  ENTER(iso, ctx);
  Local<Module> module = ref_module(iso, mod);
  if (module.IsEmpty()) {
    return ISO_EINVAL;
  }
  TryCatch tc(isolate);
  if (!module->InstantiateModule(context, resolve_cb).FromMaybe(false)) {
    return caught(iso, context, tc, exc);
  }
  return 0;
}

int v8s_module_evaluate(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref mod,
                        v8s_ref* promise,
                        v8s_exc* exc) {
  ENTER(iso, ctx);
  Local<Module> module = ref_module(iso, mod);
  if (module.IsEmpty()) {
    return ISO_EINVAL;
  }
  TryCatch tc(isolate);
  Local<Value> value;
  if (!module->Evaluate(context).ToLocal(&value)) {
    return caught(iso, context, tc, exc);
  }
  *promise = ref_new(iso, value);
  iso->watched.push_back(*promise);
  return 0;
}

int v8s_module_namespace(v8s_isolate* iso,
                         v8s_ref ctx,
                         v8s_ref mod,
                         v8s_ref* out) {
  ENTER(iso, ctx);
  Local<Module> module = ref_module(iso, mod);
  if (module.IsEmpty() || module->GetStatus() < Module::kInstantiated) {
    return ISO_EINVAL;
  }
  *out = ref_new(iso, module->GetModuleNamespace());
  return 0;
}

int v8s_get(v8s_isolate* iso,
            v8s_ref ctx,
            v8s_ref obj,
            const char* key,
            v8s_ref* out,
            v8s_exc* exc) {
  ENTER(iso, ctx);
  Local<Value> o = ref_value(iso, obj);
  if (!o->IsObject()) {
    return ISO_EINVAL;
  }
  TryCatch tc(isolate);
  Local<Value> v;
  if (!o.As<Object>()->Get(context, str(isolate, key)).ToLocal(&v)) {
    return caught(iso, context, tc, exc);
  }
  *out = ref_new(iso, v);
  return 0;
}

int v8s_call(v8s_isolate* iso,
             v8s_ref ctx,
             v8s_ref fn,
             int argc,
             const v8s_ref* argv,
             v8s_ref* out,
             v8s_exc* exc) {
  ENTER(iso, ctx);
  std::vector<Local<Value>> args;
  for (int i = 0; i < argc; i++) {
    args.push_back(ref_value(iso, argv[i]));
  }
  int rc =
      call_fn(iso, context, ref_value(iso, fn), argc, args.data(), out, exc);
  if (rc != ISO_ETERMINATED) {
    int crc = checkpoint(iso, context);
    if (crc != 0) {
      rc = crc;
    }
  }
  return rc;
}

int v8s_call_msgpack(v8s_isolate* iso,
                     v8s_ref ctx,
                     v8s_ref fn,
                     const uint8_t* args_mp,
                     size_t args_len,
                     v8s_ref* out,
                     v8s_exc* exc) {
  ENTER(iso, ctx);
  std::vector<Local<Value>> args;
  if (args_mp != nullptr && args_len > 0) {
    Decoder d{isolate, context, args_mp, args_mp + args_len, {}};
    if (!d.array_elements(&args) || d.p != d.end) {
      if (exc != nullptr) {
        v8s_exc_clear(exc);
        exc->name = strdup("TypeError");
        exc->message = strdup(d.err.empty() ? "args must be a msgpack array"
                                            : d.err.c_str());
      }
      return ISO_EPROTO;
    }
  }
  int rc = call_fn(iso, context, ref_value(iso, fn),
                   static_cast<int>(args.size()), args.data(), out, exc);
  if (rc != ISO_ETERMINATED) {
    int crc = checkpoint(iso, context);
    if (crc != 0) {
      rc = crc;
    }
  }
  return rc;
}

int v8s_call_jsonish(v8s_isolate* iso,
                     v8s_ref ctx,
                     v8s_ref fn,
                     int argc,
                     const char* const* argv,
                     v8s_ref* out,
                     v8s_exc* exc) {
  ENTER(iso, ctx);
  std::vector<Local<Value>> args;
  for (int i = 0; i < argc; i++) {
    Local<String> s = str(isolate, argv[i]);
    TryCatch tc(isolate);
    Local<Value> v;
    if (!v8::JSON::Parse(context, s).ToLocal(&v)) {
      v = s;
    }
    args.push_back(v);
  }
  int rc =
      call_fn(iso, context, ref_value(iso, fn), argc, args.data(), out, exc);
  if (rc != ISO_ETERMINATED) {
    int crc = checkpoint(iso, context);
    if (crc != 0) {
      rc = crc;
    }
  }
  return rc;
}

v8s_ref v8s_string(v8s_isolate* iso, v8s_ref ctx, const char* s) {
  HandleScope scope(iso->isolate);
  return ref_new(iso, str(iso->isolate, s));
}

int v8s_to_promise(v8s_isolate* iso, v8s_ref ctx, v8s_ref value, v8s_ref* out) {
  ENTER(iso, ctx);
  Local<Value> v = ref_value(iso, value);
  if (!v->IsPromise()) {
    Local<Promise::Resolver> r;
    if (!Promise::Resolver::New(context).ToLocal(&r)) {
      return ISO_ENOMEM;
    }
    // Resolving with a thenable reads its `then` now: a getter or a Proxy
    // trap runs here, and may be stopped (or throw, which rejects)
    TryCatch tc(isolate);
    if (r->Resolve(context, v).IsNothing()) {
      return ISO_ETERMINATED;
    }
    v = r->GetPromise();
  }
  *out = ref_new(iso, v);
  iso->watched.push_back(*out);
  return 0;
}

int v8s_promise_state(v8s_isolate* iso, v8s_ref promise) {
  HandleScope scope(iso->isolate);
  Local<Value> v = ref_value(iso, promise);
  if (!v->IsPromise()) {
    return ISO_EINVAL;
  }
  return static_cast<int>(v.As<Promise>()->State());
}

v8s_ref v8s_promise_result(v8s_isolate* iso, v8s_ref promise) {
  HandleScope scope(iso->isolate);
  Local<Value> v = ref_value(iso, promise);
  if (!v->IsPromise() || v.As<Promise>()->State() == Promise::kPending) {
    return 0;
  }
  return ref_new(iso, v.As<Promise>()->Result());
}

int v8s_resolver_resolve(v8s_isolate* iso,
                         v8s_ref ctx,
                         v8s_ref resolver,
                         v8s_ref value) {
  ENTER(iso, ctx);
  Local<Value> r = ref_value(iso, resolver);
  if (!r->IsPromise()) {  // a Promise::Resolver is its promise
    return ISO_EINVAL;
  }
  TryCatch tc(isolate);  // a thenable's `then` getter runs here
  if (r.As<Promise::Resolver>()
          ->Resolve(context, ref_value(iso, value))
          .IsNothing()) {
    return ISO_ETERMINATED;
  }
  return 0;
}

int v8s_resolver_reject(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref resolver,
                        v8s_ref reason) {
  ENTER(iso, ctx);
  Local<Value> r = ref_value(iso, resolver);
  if (!r->IsPromise()) {
    return ISO_EINVAL;
  }
  TryCatch tc(isolate);
  if (r.As<Promise::Resolver>()
          ->Reject(context, ref_value(iso, reason))
          .IsNothing()) {
    return ISO_ETERMINATED;
  }
  return 0;
}

int v8s_resolver_reject_msg(v8s_isolate* iso,
                            v8s_ref ctx,
                            v8s_ref resolver,
                            const char* name,
                            const char* message) {
  ENTER(iso, ctx);
  Local<Value> r = ref_value(iso, resolver);
  if (!r->IsPromise()) {
    return ISO_EINVAL;
  }
  Local<String> m = str(isolate, message);
  std::string n = name ? name : "";
  Local<Value> e = n == "TypeError"     ? v8::Exception::TypeError(m)
                   : n == "SyntaxError" ? v8::Exception::SyntaxError(m)
                   : n == "RangeError"  ? v8::Exception::RangeError(m)
                                        : v8::Exception::Error(m);
  TryCatch tc(isolate);
  if (r.As<Promise::Resolver>()->Reject(context, e).IsNothing()) {
    return ISO_ETERMINATED;
  }
  return 0;
}

void v8s_exc_from_value(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref value,
                        v8s_exc* exc) {
  Isolate* isolate = iso->isolate;
  HandleScope handle_scope(isolate);
  Local<Context> context = ref_context(iso, ctx);
  if (context.IsEmpty()) {
    v8s_exc_clear(exc);
    exc->message = strdup("(context gone)");
    return;
  }
  Context::Scope context_scope(context);
  describe(isolate, context, ref_value(iso, value), exc);
}

void v8s_set_job_tag(v8s_isolate* iso, v8s_ref ctx, uint32_t tag) {
  Isolate* isolate = iso->isolate;
  HandleScope handle_scope(isolate);
  Local<Context> context = ref_context(iso, ctx);
  if (!context.IsEmpty()) {
    context->SetContinuationPreservedEmbedderData(
        tag != 0 ? Integer::NewFromUnsigned(isolate, tag).As<Value>()
                 : v8::Undefined(isolate).As<Value>());
  }
}

uint32_t v8s_job_tag(v8s_isolate* iso) {
  Isolate* isolate = iso->isolate;
  if (!isolate->InContext()) {
    return 0;
  }
  HandleScope handle_scope(isolate);
  Local<Value> v =
      isolate->GetCurrentContext()->GetContinuationPreservedEmbedderData();
  return v->IsUint32() ? v.As<v8::Uint32>()->Value() : 0;
}

int v8s_ops_resolve(v8s_isolate* iso,
                    v8s_ref ctx,
                    v8s_ref fn,
                    const v8s_op_result* results,
                    size_t n,
                    v8s_exc* exc) {
  ENTER(iso, ctx);
  std::vector<Local<Value>> flat;
  flat.reserve(n * 3);
  for (size_t i = 0; i < n; i++) {
    const v8s_op_result* r = &results[i];
    Local<Value> v;
    Local<Value> cls = v8::Undefined(isolate);
    if (r->err_class != nullptr) {
      cls = str(isolate, r->err_class);
      v = str(isolate, reinterpret_cast<const char*>(r->data),
              static_cast<int>(r->len));
    } else if (std::string why;
               !decode_value(isolate, context, r->data, r->len, &v, &why)) {
      cls = str(isolate, why == kBufferFailed ? "RangeError" : "TypeError");
      v = str(isolate, why.c_str());
    }
    flat.push_back(Integer::NewFromUnsigned(isolate, r->promise));
    flat.push_back(cls);
    flat.push_back(v);
  }
  Local<Value> arg = Array::New(isolate, flat.data(), flat.size());
  int rc = call_fn(iso, context, ref_value(iso, fn), 1, &arg, nullptr, exc);
  if (rc != ISO_ETERMINATED) {
    int crc = checkpoint(iso, context);
    if (crc != 0) {
      rc = crc;
    }
  }
  return rc;
}

int v8s_to_msgpack(v8s_isolate* iso,
                   v8s_ref ctx,
                   v8s_ref value,
                   size_t max_bytes,
                   uint8_t** out,
                   size_t* out_len,
                   char* err,
                   size_t errlen) {
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Encoder e{isolate, context, max_bytes ? max_bytes : (size_t)256 << 20,
            {},      {},      {}};
  if (!e.value(ref_value(iso, value), "the value") || e.over()) {
    if (tc.HasTerminated() || iso->stop_requested.load()) {
      return ISO_ETERMINATED;
    }
    snprintf(err, errlen, "%s", e.err.c_str());
    return e.too_big ? ISO_ETOOBIG : ISO_ETYPE;
  }
  *out = static_cast<uint8_t*>(malloc(e.w.out.size() + 1));
  if (*out == nullptr) {
    return ISO_ENOMEM;
  }
  memcpy(*out, e.w.out.data(), e.w.out.size());
  *out_len = e.w.out.size();
  return 0;
}

}  // extern "C"
