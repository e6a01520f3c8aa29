// v8s_ops.cc: the op registry's functions on __iso.ops, and the batch that
// settles async ops.
//
// An op's arguments cross to C as one msgpack array (v8s_msgpack.cc). A
// sync op runs inline through the host's op_sync and its result is decoded
// back; an async op is queued through op_async under a promise id, and its
// response arrives with the others of its tick in v8s_ops_resolve, which
// hands them to the prelude's hook in one call.

#include <cstring>
#include <string>
#include <vector>

#include "v8s_internal.h"

namespace v8s {

namespace {

// ---- ops: the registry's functions on __iso.ops ----

// The arguments args[first..] as one msgpack array, through e (a zero-arg
// call, the common no-op case, costs nothing). Returns false with a
// TypeError thrown.
bool encode_op_args(v8s_isolate* iso,
                    const FunctionCallbackInfo<Value>& args,
                    int first,
                    Encoder* e) {
  int n = args.Length() - first;
  iso_mp_put_array(&e->w, n < 0 ? 0 : n);
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

// An op's arguments as msgpack, for the length of the native call. They
// start in an array on the native's stack, so the common call (a few short
// arguments) costs no malloc and free; longer ones move to the heap. Each
// call has its own: an argument's getter may call another op while this
// one's arguments are being encoded.
struct ArgsBuf {
  static constexpr size_t kInline = 256;
  uint8_t inline_bytes[kInline];
  iso_buf b;
  ArgsBuf() { iso_buf_init_with(&b, inline_bytes, sizeof(inline_bytes)); }
  ~ArgsBuf() {
    if (b.data != b.fixed) {  // the common path: no call at all
      iso_buf_close(&b);
    }
  }
  ArgsBuf(const ArgsBuf&) = delete;
  ArgsBuf& operator=(const ArgsBuf&) = delete;
};

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
  ArgsBuf buf;
  if (args.Length() > 0) {
    Encoder e(isolate, context, iso->op_args_max, &buf.b);
    if (!encode_op_args(iso, args, 0, &e)) {
      return;
    }
    a = buf.b.data;
    alen = buf.b.len;
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
  ArgsBuf buf;
  Encoder e(isolate, context, iso->op_args_max, &buf.b);
  if (!encode_op_args(iso, args, 1, &e)) {
    return;
  }
  const char* cls = nullptr;
  const char* msg = nullptr;
  if (iso->host->op_async(in.realm, in.op, args[0].As<v8::Uint32>()->Value(),
                          buf.b.data, buf.b.len, &cls, &msg) != 0) {
    throw_op_error(isolate, context, cls ? cls : "Error", msg ? msg : "");
  }
}

}  // namespace

NativeTable op_natives() {
  static const NativeFn table[] = {{"sync", n_op_sync}, {"async", n_op_async}};
  return {table, 2};
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
          isolate, op_natives().fns[iso->op_async[i] ? 1 : 0].fn,
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

}  // namespace v8s

using namespace v8s;

extern "C" {

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

}  // extern "C"
