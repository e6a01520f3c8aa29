// v8s_natives.cc: the prelude's natives, the object every context gets as
// globalThis.__iso (bootstrap/iso_bootstrap.h takes it from there).
//
// A native reaches the host through the realm of the context that called
// it (NULL once the realm is disposed: the call then does nothing). The
// object is made from one template per isolate (natives_template), to
// which v8s_context_new adds timeOrigin and the ops (v8s_ops.cc). part()
// compiles the prelude's lazy parts (bootstrap/iso_bootstrap.h) on demand.

#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "iso_bootstrap.h"
#include "iso_utf8.h"
#include "iso_version.h"
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

// timeOrigin(): epoch ms when now() read 0. A function, not a number the
// prelude keeps: a context from the startup snapshot ran the prelude at
// build time, and must read this process's origin.
void n_time_origin(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(g_start_epoch_ms);
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
    throw_type(isolate, "The encoded data is not valid");
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

// structuredClone(value, transfer): V8's serializer and deserializer, with
// three additions through their delegates:
//  - host objects: what `new HostObject()` makes (an API object, which V8
//    hands to the delegate) is described by the prelude's describe hook as
//    an array of strings, written as UTF-16, and made again from them by
//    its revive hook (setCloneHooks). The prelude makes DOMExceptions so.
//  - SharedArrayBuffers: the copy shares the original's memory.
//  - transfer: the ArrayBuffers listed move to the copy; the originals are
//    detached once the value is serialized (not when it fails).
// Errors are thrown as plain Errors; the prelude makes DataCloneErrors of
// them.

// The hooks live on the global object under a private key: [describe,
// revive], or absent (then host objects cannot be cloned).
Local<v8::Private> clone_hooks_key(Isolate* isolate) {
  return v8::Private::ForApi(isolate, str(isolate, "isopool:cloneHooks"));
}

bool clone_hook(Local<Context> context, uint32_t i, Local<Function>* out) {
  Isolate* isolate = context->GetIsolate();
  Local<Value> hooks;
  Local<Value> fn;
  if (!context->Global()
           ->GetPrivate(context, clone_hooks_key(isolate))
           .ToLocal(&hooks) ||
      !hooks->IsArray() || !hooks.As<Array>()->Get(context, i).ToLocal(&fn) ||
      !fn->IsFunction()) {
    return false;
  }
  *out = fn.As<Function>();
  return true;
}

constexpr uint32_t kHostFieldsMax = 16;

void throw_clone_error(Isolate* isolate, const char* msg) {
  isolate->ThrowException(v8::Exception::Error(str(isolate, msg)));
}

class CloneDelegate : public v8::ValueSerializer::Delegate {
 public:
  CloneDelegate(Isolate* isolate, Local<Context> context)
      : isolate_(isolate), context_(context) {}

  void set_serializer(v8::ValueSerializer* ser) { ser_ = ser; }

  void ThrowDataCloneError(Local<String> message) override {
    isolate_->ThrowException(v8::Exception::Error(message));
  }

  v8::Maybe<bool> WriteHostObject(Isolate* isolate,
                                  Local<Object> object) override {
    Local<Function> describe;
    Local<Value> got;
    Local<Value> argv[] = {object};
    if (!clone_hook(context_, 0, &describe)) {
      throw_clone_error(isolate, "#<Object> could not be cloned.");
      return v8::Nothing<bool>();
    }
    if (!describe->Call(context_, v8::Undefined(isolate), 1, argv)
             .ToLocal(&got)) {
      return v8::Nothing<bool>();
    }
    if (!got->IsArray() || got.As<Array>()->Length() > kHostFieldsMax) {
      throw_clone_error(isolate, "#<Object> could not be cloned.");
      return v8::Nothing<bool>();
    }
    Local<Array> fields = got.As<Array>();
    uint32_t n = fields->Length();
    ser_->WriteUint32(n);
    std::vector<uint16_t> units;
    for (uint32_t i = 0; i < n; i++) {
      Local<Value> field;
      Local<String> text;
      if (!fields->Get(context_, i).ToLocal(&field) ||
          !field->ToString(context_).ToLocal(&text)) {
        return v8::Nothing<bool>();
      }
      int len = text->Length();
      units.resize(static_cast<size_t>(len));
      text->Write(isolate, units.data(), 0, len, String::NO_NULL_TERMINATION);
      ser_->WriteUint32(static_cast<uint32_t>(len));
      ser_->WriteRawBytes(units.data(), units.size() * sizeof(uint16_t));
    }
    return v8::Just(true);
  }

  v8::Maybe<uint32_t> GetSharedArrayBufferId(
      Isolate* isolate,
      Local<v8::SharedArrayBuffer> sab) override {
    for (size_t i = 0; i < shared_.size(); i++) {
      if (shared_[i] == sab) {
        return v8::Just(static_cast<uint32_t>(i));
      }
    }
    shared_.emplace_back(isolate, sab);  // a Global: V8's scope may close
    return v8::Just(static_cast<uint32_t>(shared_.size() - 1));
  }

  const std::vector<Global<v8::SharedArrayBuffer>>& shared() const {
    return shared_;
  }

 private:
  Isolate* isolate_;
  Local<Context> context_;
  v8::ValueSerializer* ser_ = nullptr;
  std::vector<Global<v8::SharedArrayBuffer>> shared_;
};

// V8 runs no JavaScript while it deserializes, so a host object is made
// in two steps: a bare HostObject now, kept with its fields, and the
// revive hook's call on it once the value is read.
class ReviveDelegate : public v8::ValueDeserializer::Delegate {
 public:
  ReviveDelegate(v8s_isolate* iso,
                 Local<Context> context,
                 const std::vector<Global<v8::SharedArrayBuffer>>* shared)
      : iso_(iso), context_(context), shared_(shared) {}

  void set_deserializer(v8::ValueDeserializer* des) { des_ = des; }

  v8::MaybeLocal<Object> ReadHostObject(Isolate* isolate) override {
    uint32_t n = 0;
    Local<Object> object;
    if (!des_->ReadUint32(&n) || n > kHostFieldsMax ||
        iso_->host_object.IsEmpty() ||
        !iso_->host_object.Get(isolate)
             ->InstanceTemplate()
             ->NewInstance(context_)
             .ToLocal(&object)) {
      throw_clone_error(isolate, "Unable to deserialize cloned data.");
      return {};
    }
    // Globals: V8 may read this inside a handle scope of its own
    std::vector<Global<Value>> call;
    call.emplace_back(isolate, object);
    std::vector<uint16_t> units;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t len = 0;
      const void* bytes = nullptr;
      Local<String> text;
      if (!des_->ReadUint32(&len) ||
          len > static_cast<uint32_t>(String::kMaxLength) ||
          !des_->ReadRawBytes(len * sizeof(uint16_t), &bytes)) {
        throw_clone_error(isolate, "Unable to deserialize cloned data.");
        return {};
      }
      units.resize(len);
      memcpy(units.data(), bytes, len * sizeof(uint16_t));  // may be unaligned
      if (!String::NewFromTwoByte(isolate, units.data(),
                                  v8::NewStringType::kNormal,
                                  static_cast<int>(len))
               .ToLocal(&text)) {
        return {};
      }
      call.emplace_back(isolate, text);
    }
    pending_.push_back(std::move(call));
    return object;
  }

  // revive(object, ...fields) for each host object read, in order.
  bool revive_all(Isolate* isolate) {
    if (pending_.empty()) {
      return true;
    }
    Local<Function> revive;
    if (!clone_hook(context_, 1, &revive)) {
      throw_clone_error(isolate, "Unable to deserialize cloned data.");
      return false;
    }
    std::vector<Local<Value>> argv;
    for (const std::vector<Global<Value>>& call : pending_) {
      argv.clear();
      for (const Global<Value>& arg : call) {
        argv.push_back(arg.Get(isolate));
      }
      if (revive
              ->Call(context_, v8::Undefined(isolate),
                     static_cast<int>(argv.size()), argv.data())
              .IsEmpty()) {
        return false;
      }
    }
    return true;
  }

  v8::MaybeLocal<v8::SharedArrayBuffer> GetSharedArrayBufferFromId(
      Isolate* isolate,
      uint32_t id) override {
    if (id >= shared_->size()) {
      throw_clone_error(isolate, "Unable to deserialize cloned data.");
      return {};
    }
    return v8::SharedArrayBuffer::New(
        isolate, (*shared_)[id].Get(isolate)->GetBackingStore());
  }

 private:
  v8s_isolate* iso_;
  Local<Context> context_;
  const std::vector<Global<v8::SharedArrayBuffer>>* shared_;
  v8::ValueDeserializer* des_ = nullptr;
  std::vector<std::vector<Global<Value>>> pending_;
};

// The ArrayBuffers of the transfer list (an array; the prelude checked
// that its items are objects), checked: each an ArrayBuffer, not detached,
// detachable, listed once. False with an exception pending otherwise.
bool transfer_list(Isolate* isolate,
                   Local<Context> context,
                   Local<Value> list,
                   std::vector<Local<ArrayBuffer>>* out) {
  if (!list->IsArray()) {
    return true;
  }
  Local<Array> items = list.As<Array>();
  for (uint32_t i = 0; i < items->Length(); i++) {
    Local<Value> item;
    if (!items->Get(context, i).ToLocal(&item)) {
      return false;
    }
    std::string why;
    if (!item->IsArrayBuffer()) {
      throw_clone_error(isolate, "Value not transferable");
      return false;
    }
    Local<ArrayBuffer> ab = item.As<ArrayBuffer>();
    if (ab->WasDetached()) {
      why = " is already detached";
    } else if (!ab->IsDetachable()) {
      why = " is not detachable";
    }
    for (const Local<ArrayBuffer>& seen : *out) {
      if (why.empty() && seen == ab) {
        why = " is a duplicate of an earlier ArrayBuffer";
      }
    }
    if (!why.empty()) {
      std::string msg = "ArrayBuffer at index " + std::to_string(i) + why;
      throw_clone_error(isolate, msg.c_str());
      return false;
    }
    out->push_back(ab);
  }
  return true;
}

void n_structured_clone(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  std::vector<Local<ArrayBuffer>> transfer;
  if (args.Length() > 1 &&
      !transfer_list(isolate, context, args[1], &transfer)) {
    return;
  }
  CloneDelegate delegate(isolate, context);
  v8::ValueSerializer ser(isolate, &delegate);
  delegate.set_serializer(&ser);
  ser.WriteHeader();
  for (size_t i = 0; i < transfer.size(); i++) {
    ser.TransferArrayBuffer(static_cast<uint32_t>(i), transfer[i]);
  }
  Local<Value> v =
      args.Length() > 0 ? args[0] : v8::Undefined(isolate).As<Value>();
  if (!ser.WriteValue(context, v).FromMaybe(false)) {
    return;  // exception pending
  }
  std::pair<uint8_t*, size_t> buf = ser.Release();
  ReviveDelegate revive(native_iso(args), context, &delegate.shared());
  v8::ValueDeserializer des(isolate, buf.first, buf.second, &revive);
  revive.set_deserializer(&des);
  // Serialized: the transferred buffers move to the copy now.
  for (size_t i = 0; i < transfer.size(); i++) {
    std::shared_ptr<v8::BackingStore> store = transfer[i]->GetBackingStore();
    transfer[i]->Detach();
    des.TransferArrayBuffer(static_cast<uint32_t>(i),
                            ArrayBuffer::New(isolate, std::move(store)));
  }
  Local<Value> out;
  if (des.ReadHeader(context).FromMaybe(false) &&
      des.ReadValue(context).ToLocal(&out) && revive.revive_all(isolate)) {
    args.GetReturnValue().Set(out);
  }
  free(buf.first);
}

// setCloneHooks(describe, revive): structuredClone's hooks for host
// objects (above).
void n_set_clone_hooks(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  if (args.Length() < 2 || !args[0]->IsFunction() || !args[1]->IsFunction()) {
    throw_type(isolate, "setCloneHooks(describe, revive)");
    return;
  }
  Local<Value> pair[] = {args[0], args[1]};
  // Maybe ignored on purpose: a failure leaves an exception pending
  (void)context->Global()->SetPrivate(context, clone_hooks_key(isolate),
                                      Array::New(isolate, pair, 2));
}

// new HostObject(): an object structuredClone hands to the hooks.
void n_host_object(const FunctionCallbackInfo<Value>& args) {}

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

// part(name): the prelude's lazy part `name` (iso_bootstrap.h), its script
// (isopool:bootstrap/NAME) compiled once per isolate and run in the
// calling context; returns its completion value, the part's function. An
// unknown name is a TypeError; a compile error or a stop propagates.
void n_part(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  std::string name =
      args.Length() > 0 && args[0]->IsString() ? to_std(isolate, args[0]) : "";
  const iso_bootstrap_part* part = nullptr;
  for (size_t i = 0; i < iso_bootstrap_parts_count && part == nullptr; i++) {
    if (name == iso_bootstrap_parts[i].name) {
      part = &iso_bootstrap_parts[i];
    }
  }
  if (part == nullptr) {
    throw_type(isolate, "no such part of the prelude");
    return;
  }
  std::string script_name = "isopool:bootstrap/" + name;
  Local<v8::UnboundScript> unbound;
  Local<Value> value;
  if (static_script(native_iso(args), script_name.c_str(), part->source,
                    part->len)
          .ToLocal(&unbound) &&
      unbound->BindToCurrentContext()
          ->Run(isolate->GetCurrentContext())
          .ToLocal(&value)) {
    static_script_ran(native_iso(args), part->source);
    args.GetReturnValue().Set(value);
  }
}

}  // namespace

// The loader of the lazy data properties (setLazyLoader), kept on the
// global object under a private key. Not the properties' own data: V8
// keeps an accessor's data with the accessor in the snapshot's shared
// part, which cannot hold a function of the context.
Local<v8::Private> lazy_loader_key(Isolate* isolate) {
  return v8::Private::ForApi(isolate, str(isolate, "isopool:lazyLoader"));
}

// The getter of a property lazyData made: its data is the index of its
// loader, the value loader(index)[name]. V8 then replaces the property
// with a plain data property of the same attributes holding the value
// (replace_on_access); a throw (the loader's, a stop) leaves it as it was
// and propagates.
void lazy_data_get(Local<v8::Name> name,
                   const v8::PropertyCallbackInfo<Value>& info) {
  Isolate* isolate = info.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  Local<Value> loader;
  if (!context->Global()
           ->GetPrivate(context, lazy_loader_key(isolate))
           .ToLocal(&loader)) {
    return;
  }
  if (!loader->IsFunction()) {
    throw_type(isolate, "no lazy loader in this context");
    return;
  }
  Local<Value> index = info.Data();
  Local<Value> exports;
  if (!loader.As<Function>()
           ->Call(context, v8::Undefined(isolate), 1, &index)
           .ToLocal(&exports)) {
    return;
  }
  if (!exports->IsObject()) {
    throw_type(isolate, "the lazy loader gave no object");
    return;
  }
  Local<Value> value;
  if (exports.As<Object>()->Get(context, name).ToLocal(&value)) {
    info.GetReturnValue().Set(value);
  }
}

namespace {

// setLazyLoader(load): the context's loader of lazy data properties,
// load(index) -> the object lazyData's properties of that index take
// their values from.
void n_set_lazy_loader(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsFunction()) {
    throw_type(isolate, "setLazyLoader(load)");
    return;
  }
  Local<Context> context = isolate->GetCurrentContext();
  (void)context->Global()->SetPrivate(context, lazy_loader_key(isolate),
                                      args[0]);
}

// lazyData(target, name, index): name a hidden (non-enumerable), writable,
// configurable data property of target whose value is load(index)[name]
// (load: setLazyLoader's), taken when it is first read (its descriptor
// too); until then it holds nothing. Wrong argument types are a TypeError.
void n_lazy_data(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 3 || !args[0]->IsObject() || !args[1]->IsName() ||
      !args[2]->IsInt32()) {
    throw_type(isolate, "lazyData(target, name, index)");
    return;
  }
  Local<Context> context = isolate->GetCurrentContext();
  if (args[0]
          .As<Object>()
          ->SetLazyDataProperty(context, args[1].As<v8::Name>(), lazy_data_get,
                                args[2], v8::DontEnum)
          .IsNothing()) {
    return;  // the exception propagates
  }
}

}  // namespace

NativeTable core_natives() {
  static const NativeFn table[] = {
      {"print", n_print},
      {"timerArm", n_timer_arm},
      {"jobTag", n_job_tag},
      {"timerJob", n_timer_job},
      {"now", n_now},
      {"timeOrigin", n_time_origin},
      {"cpuCount", n_cpu_count},
      {"encodeUtf8", n_encode_utf8},
      {"decodeUtf8", n_decode_utf8},
      {"structuredClone", n_structured_clone},
      {"setCloneHooks", n_set_clone_hooks},
      {"queueMicrotask", n_queue_microtask},
      {"runMicrotasks", n_run_microtasks},
      {"promiseState", n_promise_state},
      {"promiseResult", n_promise_result},
      {"setOpErrors", n_set_op_errors},
      {"opRef", n_op_ref},
      {"opUnref", n_op_unref},
      {"waitRef", n_wait_ref},
      {"part", n_part},
      {"lazyData", n_lazy_data},
      {"setLazyLoader", n_set_lazy_loader},
  };
  return {table, sizeof(table) / sizeof(table[0])};
}

NativeTable host_natives() {
  static const NativeFn table[] = {{"HostObject", n_host_object}};
  return {table, 1};
}

Local<ObjectTemplate> natives_template(v8s_isolate* iso) {
  Isolate* isolate = iso->isolate;
  if (!iso->natives.IsEmpty()) {
    return iso->natives.Get(isolate);
  }
  Local<ObjectTemplate> t = ObjectTemplate::New(isolate);
  for (NativeTable table :
       {core_natives(), url_natives(), zlib_natives(), icu_natives()}) {
    for (size_t i = 0; i < table.n; i++) {
      t->Set(str(isolate, table.fns[i].name),
             FunctionTemplate::New(isolate, table.fns[i].fn));
    }
  }
  const NativeFn& h = host_natives().fns[0];
  Local<FunctionTemplate> host = FunctionTemplate::New(isolate, h.fn);
  host->InstanceTemplate()->SetInternalFieldCount(1);
  t->Set(str(isolate, h.name), host);
  iso->host_object.Reset(isolate, host);
  // the project's version (iso_version.h), for navigator.userAgent and
  // Isopool.version
  t->Set(str(isolate, "version"), str(isolate, ISO_VERSION));
  iso->natives.Reset(isolate, t);
  return t;
}

}  // namespace v8s
