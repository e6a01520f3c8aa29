// v8s_values.cc: JavaScript values as the C side sees them: text, thrown
// exceptions, refs, property reads, promises and resolvers.
//
// Whatever JavaScript put in a string, what reaches C is valid UTF-8
// (utf8), and reading a value as text runs no JavaScript (to_std). A
// thrown value becomes a plain v8s_exc {name, message, stack} (caught,
// describe), marked `terminated` when the JavaScript was stopped. Refs are
// slots of the isolate's table of v8::Global (v8s_internal.h).

#include <cstdlib>
#include <string>

#include "v8s_internal.h"

namespace v8s {

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
Local<String> str(Isolate* isolate, const char* s, int len) {
  Local<String> out;
  if (!String::NewFromUtf8(isolate, s, v8::NewStringType::kNormal, len)
           .ToLocal(&out)) {
    return String::Empty(isolate);
  }
  return out;
}

namespace {

// Describes a thrown value. Errors keep name, message and stack; other
// values become their JSON text (strings) or detail string.
void describe_value(Isolate* isolate,
                    Local<Context> context,
                    Local<Value> value,
                    v8s_exc* exc) {
  TryCatch tc(isolate);
  v8s_exc_close(exc);
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

}  // namespace

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
      v8s_exc_close(exc);
      exc->name = strdup("Error");
      exc->message = strdup("execution terminated");
      exc->terminated = 1;
    }
    return ISO_ETERMINATED;
  }
  if (!tc.HasCaught()) {
    if (exc != nullptr) {
      v8s_exc_close(exc);
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

}  // namespace v8s

using namespace v8s;

extern "C" {

void v8s_exc_close(v8s_exc* exc) {
  if (exc == nullptr) {
    return;
  }
  free(exc->name);
  free(exc->message);
  free(exc->stack);
  memset(exc, 0, sizeof(*exc));
}

void v8s_exc_from_value(v8s_isolate* iso,
                        v8s_ref ctx,
                        v8s_ref value,
                        v8s_exc* exc) {
  Isolate* isolate = iso->isolate;
  HandleScope handle_scope(isolate);
  Local<Context> context = ref_context(iso, ctx);
  if (context.IsEmpty()) {
    v8s_exc_close(exc);
    exc->message = strdup("(context gone)");
    return;
  }
  Context::Scope context_scope(context);
  describe(isolate, context, ref_value(iso, value), exc);
}

// ---- refs ----

void v8s_ref_free(v8s_isolate* iso, v8s_ref ref) {
  if (ref == 0 || ref >= iso->refs.size() || iso->refs[ref].IsEmpty()) {
    return;
  }
  {
    HandleScope scope(iso->isolate);
    Local<Data> d = iso->refs[ref].Get(iso->isolate);
    if (d->IsModule()) {
      Local<Module> m = d.As<Module>();
      int hash = m->GetIdentityHash();
      auto range = iso->modules.equal_range(hash);
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == ref) {
          iso->modules.erase(it);
          break;
        }
      }
      // a synthetic module freed before it evaluated (its graph failed, its
      // realm went): what its evaluation would have used goes with it
      auto json = iso->json.equal_range(hash);
      for (auto it = json.first; it != json.second; ++it) {
        if (it->second.first.Get(iso->isolate) == m) {
          iso->json.erase(it);
          break;
        }
      }
      auto cjs = iso->cjs.equal_range(hash);
      for (auto it = cjs.first; it != cjs.second; ++it) {
        if (it->second.module.Get(iso->isolate) == m) {
          iso->cjs.erase(it);
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

// ---- values and promises ----

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

}  // extern "C"
