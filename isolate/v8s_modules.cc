// v8s_modules.cc: ES modules and JSON modules: compiling them, their
// static imports, instantiation (resolve_cb), evaluation, and the two
// callbacks V8 makes for a running module, import() and import.meta.
//
// The loader (rt_load.c, rt_modules.c) owns the module map; the shim only
// finds a module's ref again when V8 hands it back (module_ref_of, through
// the isolate's identity-hash index) and passes specifiers, import types
// and referrers to the host's resolve, dyn_import and import_meta. A JSON
// module is a synthetic module whose default export is the parsed value.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "v8s_internal.h"

namespace v8s {

namespace {

// modules at most an isolate keeps waiting to run before it makes their
// code caches (module_code_ran): past it, the oldest claim goes back
constexpr size_t kModuleCodeWaiting = 64;

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
  if (m->IsSyntheticModule() && iso->cjs_linked.size() < 64) {
    auto range = iso->cjs.equal_range(m->GetIdentityHash());
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second.module.Get(isolate) == m) {
        iso->cjs_linked.push_back(to_std(isolate, specifier));
        break;
      }
    }
  }
  return m;
}

// V8's "The requested module 'x' does not provide an export named 'y'",
// when x is a CommonJS module, gets Node's hint: its named exports are
// what the lexer found, and all of module.exports is the default export.
void cjs_export_hint(v8s_isolate* iso, v8s_exc* exc) {
  if (exc == nullptr || exc->message == nullptr) {
    return;
  }
  std::string msg = exc->message;
  const std::string pre = "The requested module '";
  const std::string mid = "' does not provide an export named '";
  size_t a = msg.find(pre);
  size_t b = a == std::string::npos ? a : msg.find(mid, a + pre.size());
  size_t c = b == std::string::npos ? b : msg.find('\'', b + mid.size());
  if (c == std::string::npos) {
    return;
  }
  std::string spec = msg.substr(a + pre.size(), b - a - pre.size());
  std::string name = msg.substr(b + mid.size(), c - b - mid.size());
  bool cjs = false;
  for (const std::string& s : iso->cjs_linked) {
    cjs |= s == spec;
  }
  if (!cjs) {
    return;
  }
  std::string hint = msg +
                     " (it is a CommonJS module: its named exports are "
                     "the names found in its source, and all of "
                     "module.exports is its default export: import "
                     "pkg from '" +
                     spec + "'; const { " + name + " } = pkg;)";
  if (exc->stack != nullptr) {
    std::string stack = exc->stack;
    size_t at = stack.find(msg);
    if (at != std::string::npos) {
      stack.replace(at, msg.size(), hint);
      free(exc->stack);
      exc->stack = strdup(stack.c_str());
    }
  }
  free(exc->message);
  exc->message = strdup(hint.c_str());
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

}  // namespace

// The modules this isolate is to make code caches of (module_code) that
// ran: their caches are made now, with what their run compiled; one that
// threw, or was collected before it ran, gives its claim back (the next
// compile makes it). Those not yet evaluated wait.
void module_code_ran(v8s_isolate* iso) {
  Isolate* isolate = iso->isolate;
  HandleScope scope(isolate);
  auto& all = iso->module_code;
  for (size_t i = 0; i < all.size();) {
    std::unique_ptr<ScriptCompiler::CachedData> made;
    if (all[i].key[0] == kKindCjs) {
      // compiled by the evaluation just done (an import's host compile
      // before it, a require() during it), so run if it is to run
      if (!all[i].fn.IsEmpty()) {
        made.reset(
            ScriptCompiler::CreateCodeCacheForFunction(all[i].fn.Get(isolate)));
      }
    } else {
      Module::Status st = all[i].module.IsEmpty()
                              ? Module::kErrored  // collected: never ran
                              : all[i].module.Get(isolate)->GetStatus();
      if (st < Module::kEvaluating) {
        i++;
        continue;
      }
      if (st != Module::kErrored) {
        made.reset(ScriptCompiler::CreateCodeCache(all[i].script.Get(isolate)));
      }
    }
    if (made != nullptr) {
      code_store(all[i].key, made.get());
    } else {
      code_unclaim(all[i].key);
    }
    all.erase(all.begin() + static_cast<long>(i));
  }
}

void module_code_wait(v8s_isolate* iso, v8s_isolate::ModuleCode entry) {
  auto& all = iso->module_code;
  if (all.size() >= kModuleCodeWaiting) {
    code_unclaim(all.front().key);
    all.erase(all.begin());
  }
  all.push_back(std::move(entry));
  // weak: a module or function whose realm went before it ran keeps no
  // context alive here (a module's script, the code, does not hold one)
  if (!all.back().module.IsEmpty()) {
    all.back().module.SetWeak();
  }
  if (!all.back().fn.IsEmpty()) {
    all.back().fn.SetWeak();
  }
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

}  // namespace v8s

using namespace v8s;

extern "C" {

void v8s_requests_close(v8s_requests* r) {
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
    // the process's code cache of this source (v8s_code.cc)
    std::string key;
    std::shared_ptr<const std::vector<uint8_t>> data;
    ScriptCompiler::CachedData* cached = nullptr;
    if (code_key_user(kKindModule, url, source, len, &key)) {
      data = code_take(key);
    }
    if (data != nullptr) {
      cached = new ScriptCompiler::CachedData(data->data(),
                                              static_cast<int>(data->size()));
    }
    ScriptCompiler::Source source_obj(src, origin, cached);  // owns cached
    if (!ScriptCompiler::CompileModule(isolate, &source_obj,
                                       cached != nullptr
                                           ? ScriptCompiler::kConsumeCodeCache
                                           : ScriptCompiler::kNoCompileOptions)
             .ToLocal(&module)) {
      return syntax_error(iso, context, tc, exc);
    }
    if (!key.empty() &&
        code_compiled(key, data.get(), cached != nullptr && cached->rejected)) {
      // made once it ran; a few at most wait (a graph that never runs)
      module_code_wait(iso, {std::move(key), Global<Module>(isolate, module),
                             Global<v8::UnboundModuleScript>(
                                 isolate, module->GetUnboundModuleScript()),
                             Global<Function>()});
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
    v8s_requests_close(out);
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
  iso->cjs_linked.clear();
  if (!module->InstantiateModule(context, resolve_cb).FromMaybe(false)) {
    int rc = caught(iso, context, tc, exc);
    cjs_export_hint(iso, exc);
    iso->cjs_linked.clear();
    return rc;
  }
  iso->cjs_linked.clear();
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
    int rc = caught(iso, context, tc, exc);
    module_code_ran(iso);
    return rc;
  }
  module_code_ran(iso);
  *promise = ref_new(iso, value);
  iso->watched.push_back(*promise);
  return 0;
}

int v8s_module_get(v8s_isolate* iso,
                   v8s_ref ctx,
                   v8s_ref mod,
                   const char* name,
                   v8s_ref* key,
                   v8s_ref* out,
                   v8s_exc* exc) {
  ENTER(iso, ctx);
  Local<Module> module = ref_module(iso, mod);
  if (module.IsEmpty() || module->GetStatus() < Module::kInstantiated) {
    return ISO_EINVAL;
  }
  if (*key == 0) {
    Local<String> k;
    if (!String::NewFromUtf8(isolate, name, v8::NewStringType::kInternalized)
             .ToLocal(&k)) {
      return ISO_ENOMEM;
    }
    *key = ref_new(iso, k);
  }
  Local<Object> ns = module->GetModuleNamespace().As<Object>();
  TryCatch tc(isolate);
  Local<Value> v;
  if (!ns->Get(context, ref_value(iso, *key)).ToLocal(&v)) {
    return caught(iso, context, tc, exc);
  }
  *out = ref_new(iso, v);
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

}  // extern "C"
