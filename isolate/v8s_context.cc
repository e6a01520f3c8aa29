// v8s_context.cc: contexts and what runs in them: scripts, calls from C,
// microtask checkpoints and job tags.
//
// Each context is a realm's: it carries the realm pointer (kRealmSlot), the
// __iso natives and its own microtask queue (CtxQueue), and every call into
// it ends with a checkpoint of that queue. A checkpoint that was stopped
// is reported (ISO_ETERMINATED, v8s_microtasks_dropped), since V8 then
// dropped the promise jobs still queued.

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "iso_bootstrap.h"
#include "v8s_internal.h"

namespace v8s {

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
      v8s_exc_close(exc);
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

namespace {

// An ASCII text in static storage as a V8 string's characters; V8 deletes
// the resource when the string is collected, never the text.
class StaticText : public String::ExternalOneByteStringResource {
 public:
  StaticText(const char* data, size_t len) : data_(data), len_(len) {}
  const char* data() const override { return data_; }
  size_t length() const override { return len_; }

 private:
  const char* data_;
  size_t len_;
};

// The prelude's text as one resource for every isolate of the process,
// never deleted: its address is an external reference (external_refs), so
// the startup snapshot keeps the prelude's script source as this external
// string instead of a copy of its 200 KB in every isolate's heap.
class SharedText : public StaticText {
 public:
  using StaticText::StaticText;

 protected:
  void Dispose() override {}
};

}  // namespace

const String::ExternalOneByteStringResource* prelude_text() {
  static SharedText text(iso_bootstrap_prelude, iso_bootstrap_prelude_len);
  return &text;
}

// The script of `source`, a text in static storage, compiled once per
// isolate (the source pointer is the key) and kept: the prelude, and its
// lazy parts (v8s_natives.cc's part()). Later contexts only bind it, and
// the functions V8 compiled lazily for an earlier context are compiled
// already. Empty, with V8's exception pending, when the text does not
// compile or is too long for a string.
MaybeLocal<v8::UnboundScript> static_script(v8s_isolate* iso,
                                            const char* name,
                                            const char* source,
                                            size_t len) {
  Isolate* isolate = iso->isolate;
  for (auto& e : iso->scripts) {
    if (e.source == source) {
      return e.script.Get(isolate);
    }
  }
  if (len > static_cast<size_t>(String::kMaxLength)) {
    isolate->ThrowException(
        v8::Exception::RangeError(str(isolate, "script too long")));
    return MaybeLocal<v8::UnboundScript>();
  }
  // ASCII (bootstrap/README.md asks the prelude to stay so): V8 reads the
  // static bytes where they are, with no UTF-8 decoding into a copy (a
  // fifth of the prelude's compile)
  bool ascii = true;
  for (size_t i = 0; i < len && ascii; i++) {
    ascii = (static_cast<unsigned char>(source[i]) & 0x80) == 0;
  }
  Local<String> src;
  if (ascii && len > 0) {
    String::ExternalOneByteStringResource* text =
        source == iso_bootstrap_prelude
            ? const_cast<String::ExternalOneByteStringResource*>(prelude_text())
            : new StaticText(source, len);
    if (!String::NewExternalOneByte(isolate, text).ToLocal(&src)) {
      return MaybeLocal<v8::UnboundScript>();
    }
  } else if (!String::NewFromUtf8(isolate, source, v8::NewStringType::kNormal,
                                  static_cast<int>(len))
                  .ToLocal(&src)) {
    return MaybeLocal<v8::UnboundScript>();
  }
  // the process's code cache of it (v8s_code.cc), made by the second
  // isolate to compile it, so a process with one isolate (isopool run)
  // never pays for making one, and a pool's later isolates start from it
  std::string key = code_key_static(source);
  std::shared_ptr<const std::vector<uint8_t>> data = code_take(key);
  ScriptCompiler::CachedData* cached = nullptr;
  if (data != nullptr) {
    cached = new ScriptCompiler::CachedData(data->data(),
                                            static_cast<int>(data->size()));
  }
  ScriptOrigin origin(isolate, str(isolate, name));
  ScriptCompiler::Source source_obj(src, origin, cached);  // owns cached
  Local<v8::UnboundScript> unbound;
  if (!ScriptCompiler::CompileUnboundScript(
           isolate, &source_obj,
           cached != nullptr ? ScriptCompiler::kConsumeCodeCache
                             : ScriptCompiler::kNoCompileOptions)
           .ToLocal(&unbound)) {
    return MaybeLocal<v8::UnboundScript>();
  }
  bool share =
      code_compiled(key, data.get(), cached != nullptr && cached->rejected);
  iso->scripts.push_back(
      {source, Global<v8::UnboundScript>(isolate, unbound), share});
  return unbound;
}

// `source` ran (its first run in this isolate): if this isolate is to
// make the process's code cache of it, it does now, with the functions
// the run compiled.
void static_script_ran(v8s_isolate* iso, const char* source) {
  for (auto& e : iso->scripts) {
    if (e.source != source || !e.share) {
      continue;
    }
    e.share = false;
    HandleScope scope(iso->isolate);
    std::unique_ptr<ScriptCompiler::CachedData> made(
        ScriptCompiler::CreateCodeCache(e.script.Get(iso->isolate)));
    code_store(code_key_static(source), made.get());
  }
}

namespace {

// ---- microtask queues ----

void queue_free_cb(const v8::WeakCallbackInfo<CtxQueue>& info) {
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
void queue_collected_cb(const v8::WeakCallbackInfo<CtxQueue>& info) {
  info.GetParameter()->weak.Reset();
  info.SetSecondPassCallback(queue_free_cb);
}

}  // namespace

// A new context of iso's for `realm`, with its own microtask queue: bare
// (Context::New), or the startup snapshot's context 0, the prelude run
// (from_snapshot). The realm pointer is set here, never serialized.
int new_context(v8s_isolate* iso,
                void* realm,
                bool from_snapshot,
                Local<Context>* out) {
  Isolate* isolate = iso->isolate;
  // Each context gets its own microtask queue, so a termination during one
  // realm's checkpoint (which drops the queue it ran) never loses another
  // realm's promise jobs.
  CtxQueue* q = new (std::nothrow) CtxQueue{iso, nullptr, {}};
  if (q == nullptr) {
    return ISO_ENOMEM;
  }
  q->queue = v8::MicrotaskQueue::New(isolate, v8::MicrotasksPolicy::kExplicit);
  Local<Context> context;
  if (from_snapshot) {
    if (!Context::FromSnapshot(
             isolate, 0,
             v8::DeserializeInternalFieldsCallback(deserialize_field, nullptr),
             nullptr, MaybeLocal<Value>(), q->queue.get())
             .ToLocal(&context)) {
      context = Local<Context>();
    }
  } else {
    context =
        Context::New(isolate, nullptr, v8::MaybeLocal<ObjectTemplate>(),
                     v8::MaybeLocal<Value>(),
                     v8::DeserializeInternalFieldsCallback(), q->queue.get());
  }
  if (context.IsEmpty()) {
    delete q;
    return ISO_ENOMEM;
  }
  iso->queues.push_back(q);
  q->weak.Reset(isolate, context);
  q->weak.SetWeak(q, queue_collected_cb, v8::WeakCallbackType::kParameter);
  context->SetAlignedPointerInEmbedderData(kRealmSlot, realm);
  *out = context;
  return 0;
}

}  // namespace v8s

using namespace v8s;

extern "C" {

namespace {
constexpr int kDisposedBatch = 64;
}  // namespace

int v8s_context_new(v8s_isolate* iso, void* realm, v8s_ref* out) {
  Isolate* isolate = iso->isolate;
  HandleScope scope(isolate);
  Local<Context> context;
  int rc = new_context(iso, realm, false, &context);
  if (rc != 0) {
    return rc;
  }
  Context::Scope context_scope(context);
  Local<Object> natives;
  if (!natives_template(iso)->NewInstance(context).ToLocal(&natives)) {
    return ISO_ENOMEM;
  }
  if (!install_ops(iso, context, natives) ||
      context->Global()
          ->Set(context, str(isolate, "__iso"), natives)
          .IsNothing()) {
    return ISO_ENOMEM;
  }
  *out = ref_new(iso, context);
  return 0;
}

int v8s_context_boot(v8s_isolate* iso,
                     void* realm,
                     v8s_ref* out,
                     v8s_ref* hooks) {
  *hooks = 0;
  if (!iso->from_snapshot) {
    return v8s_context_new(iso, realm, out);
  }
  Isolate* isolate = iso->isolate;
  HandleScope scope(isolate);
  Local<Context> context;
  int rc = new_context(iso, realm, true, &context);
  if (rc != 0) {
    return rc;
  }
  // the prelude's hooks, which the snapshot kept in the context: the
  // realm's refs now, the slot emptied
  Local<Value> h = context->GetEmbedderData(kHooksSlot);
  context->SetEmbedderData(kHooksSlot, v8::Undefined(isolate));
  if (!h->IsObject()) {
    return ISO_EINVAL;
  }
  // what V8 installs only now (SharedArrayBuffer, Atomics: bootstrap/
  // README.md, "The startup snapshot"), the prelude takes now
  Context::Scope context_scope(context);
  Local<Value> started;
  if (!h.As<Object>()
           ->Get(context, str(isolate, "snapshotStarted"))
           .ToLocal(&started) ||
      call_fn(iso, context, started, 0, nullptr, nullptr, nullptr) != 0) {
    return ISO_ENOMEM;  // a stop pending (the heap limit): nothing else
  }
  *out = ref_new(iso, context);
  *hooks = ref_new(iso, h);
  return 0;
}

void v8s_context_free(v8s_isolate* iso, v8s_ref ctx) {
  {
    HandleScope scope(iso->isolate);
    Local<Context> context = ref_context(iso, ctx);
    if (!context.IsEmpty()) {
      context->SetAlignedPointerInEmbedderData(kRealmSlot, nullptr);
      // A context from the snapshot is made in the old generation, which
      // only a full collection frees, and V8 starts one late: eval jobs
      // (a context each) took a pool process's peak RSS from 140 to 290
      // MB. Every kDisposedBatch freed such contexts (some 20 MB), V8 is
      // asked to start marking (incrementally, as for memory pressure).
      if (iso->from_snapshot && ++iso->disposed >= kDisposedBatch) {
        iso->disposed = 0;
        iso->isolate->MemoryPressureNotification(
            v8::MemoryPressureLevel::kModerate);
      }
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
  if (!static_script(iso, name, source, len).ToLocal(&unbound)) {
    return syntax_error(iso, context, tc, exc);
  }
  Local<Value> value;
  if (!unbound->BindToCurrentContext()->Run(context).ToLocal(&value)) {
    return caught(iso, context, tc, exc);
  }
  static_script_ran(iso, source);
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

// ---- job tags ----

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

}  // extern "C"
