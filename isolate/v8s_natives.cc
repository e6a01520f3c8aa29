// v8s_natives.cc: the prelude's natives, the object every context gets as
// globalThis.__iso (bootstrap/iso_bootstrap.h takes it from there).
//
// A native reaches the host through the realm of the context that called
// it (NULL once the realm is disposed: the call then does nothing). The
// object is made from one template per isolate (natives_template), to
// which v8s_context_new adds timeOrigin and the ops (v8s_ops.cc).

#include <sched.h>

#include <cstdlib>
#include <string>

#include "iso_utf8.h"
#include "v8s_internal.h"

namespace v8s {

void throw_type(Isolate* isolate, const char* msg) {
  isolate->ThrowException(v8::Exception::TypeError(str(isolate, msg)));
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

namespace {

v8s_isolate* native_iso(const FunctionCallbackInfo<Value>& args) {
  return iso_of(args.GetIsolate());
}

void* native_realm(const FunctionCallbackInfo<Value>& args) {
  return realm_of(args.GetIsolate()->GetCurrentContext());
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

// jobTag(): the job tag of the JavaScript running now (0: none), which a
// timer keeps to run its callback under (25-timers.js).
void n_job_tag(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(v8s_job_tag(native_iso(args)));
}

// timerJob(tag): the timer callback about to run is the job's tagged
// `tag` (0: none, before the pass's microtasks): it runs under that tag,
// and the runtime publishes that job's deadline for it.
void n_timer_job(const FunctionCallbackInfo<Value>& args) {
  v8s_isolate* iso = native_iso(args);
  void* realm = native_realm(args);
  if (realm == nullptr) {
    return;
  }
  uint32_t tag = args.Length() > 0 && args[0]->IsUint32()
                     ? args[0].As<v8::Uint32>()->Value()
                     : 0;
  Isolate* isolate = args.GetIsolate();
  isolate->GetCurrentContext()->SetContinuationPreservedEmbedderData(
      tag != 0 ? Integer::NewFromUnsigned(isolate, tag).As<Value>()
               : v8::Undefined(isolate).As<Value>());
  iso->host->timer_job(realm, tag);
}

void n_now(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(v8s_platform_now_ms());
}

// cpuCount(): the CPUs this process may run on (navigator
// .hardwareConcurrency), as libuv's uv_available_parallelism counts them.
void n_cpu_count(const FunctionCallbackInfo<Value>& args) {
  cpu_set_t set;
  int n = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    n = CPU_COUNT(&set);
  }
  args.GetReturnValue().Set(n > 0 ? n : 1);
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
  if (fatal && !iso_utf8_valid(p, n)) {
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

// waitRef(delta): see v8s_host.wait_ref.
void n_wait_ref(const FunctionCallbackInfo<Value>& args) {
  v8s_isolate* iso = native_iso(args);
  void* realm = native_realm(args);
  if (realm != nullptr && iso->host->wait_ref != nullptr && args.Length() > 0 &&
      args[0]->IsInt32()) {
    iso->host->wait_ref(realm, args[0].As<v8::Int32>()->Value() > 0 ? 1 : -1);
  }
}

}  // namespace

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
      {"jobTag", n_job_tag},
      {"timerJob", n_timer_job},
      {"now", n_now},
      {"cpuCount", n_cpu_count},
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
      {"waitRef", n_wait_ref},
  };
  for (const auto& e : table) {
    t->Set(str(isolate, e.name), FunctionTemplate::New(isolate, e.fn));
  }
  // the project's version (CMake's), for navigator.userAgent
  t->Set(str(isolate, "version"), str(isolate, ISO_VERSION));
  iso->natives.Reset(isolate, t);
  return t;
}

}  // namespace v8s
