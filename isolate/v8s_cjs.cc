// v8s_cjs.cc: CommonJS modules, as Node's ESM loader runs them.
//
// A CommonJS file imported from an ES module is a synthetic module
// (v8s_cjs_compile), as a JSON module is: its source is compiled at once
// as Node's wrapper function, (function (exports, require, module,
// __filename, __dirname) {...}) (ScriptCompiler::CompileFunction, so a
// syntax error fails the import with its place), and its evaluation steps
// run that function through the context's loader, then export "default"
// (module.exports) and the names the host found in the source.
//
// The loader is a little JavaScript (kLoader), made once per context on
// the first CommonJS module and kept in the context's embedder data
// (kCjsSlot): require(), its cache by path (require.cache; a cycle gets
// the partial module.exports, as in Node), module objects, JSON files. It
// reaches C through three natives: resolve (the host's cjs_resolve: where
// a specifier leads, and the file's format), read (cjs_read) and compile
// (read, then compile the wrapper). The first CommonJS module of a context
// also defines `global` (globalThis) when the context has none: many
// CommonJS packages use it, and ES module code never sees a difference
// unless it looks for it.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "v8s_internal.h"

namespace v8s {

namespace {

// The loader: called with the natives and the global object, it returns
// run(path, fn): the exports of the CommonJS module at path, evaluating fn
// (its compiled wrapper) unless the cache has it already. Formats are
// v8s.h's V8S_FMT_ numbers (1 CommonJS, 2 detect, 3 JSON).
const char kLoader[] = R"JS((function (natives) {
  'use strict';
  const resolve = natives.resolve;
  const read = natives.read;
  const compile = natives.compile;
  const parse = JSON.parse;
  const apply = Reflect.apply;
  const cache = Object.create(null);
  function dirname(p) {
    const i = p.lastIndexOf('/');
    return i <= 0 ? '/' : p.slice(0, i);
  }
  function Module(id, parent) {
    this.id = id;
    this.path = dirname(id);
    this.exports = {};
    this.filename = id;
    this.loaded = false;
    this.children = [];
    this.parent = parent;
  }
  function makeRequire(mod) {
    const require = function require(id) {
      if (typeof id !== 'string') {
        throw new TypeError('The "id" argument must be of type string. ' +
                            'Received ' + typeof id);
      }
      const r = resolve(id, mod.filename);
      return load(r[0], r[1], mod, undefined).exports;
    };
    require.resolve = function resolveId(id) {
      return resolve(String(id), mod.filename)[0];
    };
    require.cache = cache;
    mod.require = require;
    return require;
  }
  function load(path, format, parent, fn) {
    let mod = cache[path];
    if (mod !== undefined) {
      return mod;
    }
    mod = new Module(path, parent);
    if (parent !== undefined) {
      parent.children[parent.children.length] = mod;
    }
    cache[path] = mod;
    let ok = false;
    try {
      if (format === 3) {
        try {
          mod.exports = parse(read(path));
        } catch (e) {
          if (e instanceof SyntaxError) {
            e.message = path + ': ' + e.message;
          }
          throw e;
        }
      } else {
        if (fn === undefined) {
          fn = compile(path, format, parent !== undefined ? parent.filename
                                                          : '');
        }
        apply(fn, mod.exports,
              [mod.exports, makeRequire(mod), mod, path, mod.path]);
      }
      ok = true;
    } finally {
      if (!ok) {
        delete cache[path];
      }
    }
    mod.loaded = true;
    return mod;
  }
  return function run(path, fn) {
    return load(path, 1, undefined, fn).exports;
  };
}))JS";

Local<String> param(Isolate* isolate, const char* s) {
  return str(isolate, s);
}

// Throws an Error with Node's `code` property (when code is not NULL).
void throw_coded(Isolate* isolate, const char* code, const std::string& msg) {
  Local<Context> context = isolate->GetCurrentContext();
  Local<Value> e = v8::Exception::Error(str(isolate, msg.c_str()));
  if (code != nullptr && e->IsObject()) {
    // a fresh Error: only a pending termination fails this
    if (e.As<Object>()
            ->Set(context, str(isolate, "code"), str(isolate, code))
            .IsNothing()) {
      return;
    }
  }
  isolate->ThrowException(e);
}

// V8's messages for the syntax only an ES module has: Node's
// detect-module retries such a file as an ES module.
bool esm_only_syntax(Isolate* isolate, TryCatch& tc) {
  if (tc.Message().IsEmpty()) {
    return false;
  }
  std::string m = utf8(isolate, tc.Message()->Get());
  static const char* const hints[] = {
      "Cannot use import statement outside a module",
      "Unexpected token 'export'",
      "Cannot use 'import.meta' outside a module",
  };
  for (const char* h : hints) {
    if (m.find(h) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Compiles source as the module wrapper. False with the exception in tc,
// or, with detect, with *is_esm (and nothing caught) when the source only
// fails for ES module syntax.
bool compile_wrapper(Isolate* isolate,
                     Local<Context> context,
                     const char* url,
                     const char* source,
                     size_t len,
                     bool detect,
                     TryCatch& tc,
                     bool* is_esm,
                     Local<Function>* out) {
  *is_esm = false;
  // a "#!" line, which V8 takes only at the start of a script or module
  std::string patched;
  if (len >= 2 && source[0] == '#' && source[1] == '!') {
    patched.assign(source, len);
    patched[0] = '/';
    patched[1] = '/';
    source = patched.data();
  }
  Local<String> src;
  if (len > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromUtf8(isolate, source, v8::NewStringType::kNormal,
                           static_cast<int>(len))
           .ToLocal(&src)) {
    if (!tc.HasCaught()) {
      isolate->ThrowException(v8::Exception::RangeError(
          str(isolate, "the CommonJS module's source is too large")));
    }
    return false;
  }
  ScriptOrigin origin(isolate, str(isolate, url));
  // the process's code cache of this wrapper (v8s_code.cc), keyed apart
  // from an ES module of the same URL and text
  std::string key;
  std::shared_ptr<const std::vector<uint8_t>> data;
  ScriptCompiler::CachedData* cached = nullptr;
  if (code_key_user(kKindCjs, url, source, len, &key)) {
    data = code_take(key);
  }
  if (data != nullptr) {
    cached = new ScriptCompiler::CachedData(data->data(),
                                            static_cast<int>(data->size()));
  }
  ScriptCompiler::Source source_obj(src, origin, cached);  // owns cached
  Local<String> params[] = {param(isolate, "exports"),
                            param(isolate, "require"), param(isolate, "module"),
                            param(isolate, "__filename"),
                            param(isolate, "__dirname")};
  if (ScriptCompiler::CompileFunction(
          context, &source_obj, 5, params, 0, nullptr,
          cached != nullptr ? ScriptCompiler::kConsumeCodeCache
                            : ScriptCompiler::kNoCompileOptions)
          .ToLocal(out)) {
    if (!key.empty() &&
        code_compiled(key, data.get(), cached != nullptr && cached->rejected)) {
      // made once it ran (module_code_ran)
      module_code_wait(iso_of(isolate), {std::move(key), Global<Module>(),
                                         Global<v8::UnboundModuleScript>(),
                                         Global<Function>(isolate, *out)});
    }
    return true;
  }
  if (detect && tc.HasCaught() && !tc.HasTerminated() &&
      esm_only_syntax(isolate, tc)) {
    tc.Reset();
    *is_esm = true;
  }
  return false;
}

std::string file_url(const std::string& path) {
  return "file://" + path;
}

void native_resolve(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  v8s_isolate* iso = iso_of(isolate);
  void* realm = realm_of(context);
  if (args.Length() < 2 || !args[0]->IsString() || !args[1]->IsString()) {
    throw_type(isolate, "resolve(id, parent): two strings");
    return;
  }
  std::string spec = utf8(isolate, args[0].As<String>());
  std::string parent = utf8(isolate, args[1].As<String>());
  if (spec.find('\0') != std::string::npos ||
      parent.find('\0') != std::string::npos) {
    throw_type(isolate, "require(): the id contains a NUL character");
    return;
  }
  if (realm == nullptr || iso->host->cjs_resolve == nullptr) {
    throw_coded(isolate, nullptr, "require() is not available here");
    return;
  }
  char err[1024] = "cannot resolve";
  char* path = nullptr;
  int format = V8S_FMT_ESM;
  int rc = iso->host->cjs_resolve(realm, spec.c_str(), parent.c_str(), &path,
                                  &format, err, sizeof(err));
  if (rc != 0) {
    free(path);
    throw_coded(isolate, rc == ISO_ENOENT ? "MODULE_NOT_FOUND" : nullptr, err);
    return;
  }
  std::string p = path;
  free(path);
  if (format == V8S_FMT_ESM) {
    throw_coded(isolate, "ERR_REQUIRE_ESM",
                "require() of ES Module " + p + " from " + parent +
                    " not supported: it is an ES module (.mjs, or a .js "
                    "file whose package.json says \"type\": \"module\"); "
                    "use import() instead");
    return;
  }
  Local<Value> pair[] = {str(isolate, p.c_str()),
                         Integer::New(isolate, format)};
  args.GetReturnValue().Set(Array::New(isolate, pair, 2));
}

// Reads path through the host; false after throwing.
bool read_file(Isolate* isolate, const std::string& path, std::string* out) {
  v8s_isolate* iso = iso_of(isolate);
  void* realm = realm_of(isolate->GetCurrentContext());
  if (realm == nullptr || iso->host->cjs_read == nullptr) {
    throw_coded(isolate, nullptr, "require() is not available here");
    return false;
  }
  char err[1024] = "cannot read";
  char* src = nullptr;
  size_t len = 0;
  int rc =
      iso->host->cjs_read(realm, path.c_str(), &src, &len, err, sizeof(err));
  if (rc != 0) {
    free(src);
    throw_coded(isolate, rc == ISO_ENOENT ? "MODULE_NOT_FOUND" : nullptr, err);
    return false;
  }
  out->assign(src, len);
  free(src);
  return true;
}

void native_read(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) {
    throw_type(isolate, "read(path): a string");
    return;
  }
  std::string text;
  if (!read_file(isolate, utf8(isolate, args[0].As<String>()), &text)) {
    return;
  }
  Local<String> s;
  if (text.size() > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromUtf8(isolate, text.data(), v8::NewStringType::kNormal,
                           static_cast<int>(text.size()))
           .ToLocal(&s)) {
    throw_coded(isolate, nullptr, "the file is too large for a string");
    return;
  }
  args.GetReturnValue().Set(s);
}

void native_compile(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Local<Context> context = isolate->GetCurrentContext();
  if (args.Length() < 3 || !args[0]->IsString() || !args[1]->IsInt32() ||
      !args[2]->IsString()) {
    throw_type(isolate, "compile(path, format, parent)");
    return;
  }
  std::string path = utf8(isolate, args[0].As<String>());
  bool detect = args[1].As<v8::Int32>()->Value() == V8S_FMT_DETECT;
  std::string text;
  if (!read_file(isolate, path, &text)) {
    return;
  }
  bool is_esm = false;
  {
    TryCatch tc(isolate);
    Local<Function> fn;
    std::string url = file_url(path);
    if (compile_wrapper(isolate, context, url.c_str(), text.data(), text.size(),
                        detect, tc, &is_esm, &fn)) {
      args.GetReturnValue().Set(fn);
      return;
    }
    if (!is_esm) {
      tc.ReThrow();
      return;
    }
  }
  {  // thrown outside the TryCatch, which would swallow it
    std::string parent = utf8(isolate, args[2].As<String>());
    throw_coded(isolate, "ERR_REQUIRE_ESM",
                "require() of ES Module " + path + " from " + parent +
                    " not supported: it has import or export statements; "
                    "use import() instead");
  }
}

// The context's run(path, fn), made on first use.
MaybeLocal<Function> loader(Isolate* isolate, Local<Context> context) {
  if (context->GetNumberOfEmbedderDataFields() > kCjsSlot) {
    Local<Value> have = context->GetEmbedderData(kCjsSlot);
    if (have->IsFunction()) {
      return have.As<Function>();
    }
  }
  Local<Object> natives = Object::New(isolate);
  Local<Function> f_resolve, f_read, f_compile;
  Local<v8::Script> script;
  Local<Value> factory, run;
  ScriptOrigin origin(isolate, str(isolate, "isopool:cjs"));
  if (!Function::New(context, native_resolve).ToLocal(&f_resolve) ||
      !Function::New(context, native_read).ToLocal(&f_read) ||
      !Function::New(context, native_compile).ToLocal(&f_compile) ||
      natives->Set(context, str(isolate, "resolve"), f_resolve).IsNothing() ||
      natives->Set(context, str(isolate, "read"), f_read).IsNothing() ||
      natives->Set(context, str(isolate, "compile"), f_compile).IsNothing() ||
      !v8::Script::Compile(context, str(isolate, kLoader), &origin)
           .ToLocal(&script) ||
      !script->Run(context).ToLocal(&factory) || !factory->IsFunction()) {
    return MaybeLocal<Function>();
  }
  Local<Value> argv[] = {natives};
  if (!factory.As<Function>()
           ->Call(context, v8::Undefined(isolate), 1, argv)
           .ToLocal(&run) ||
      !run->IsFunction()) {
    return MaybeLocal<Function>();
  }
  Local<Object> global = context->Global();
  Local<String> gname = str(isolate, "global");
  v8::Maybe<bool> has = global->HasOwnProperty(context, gname);
  if (has.IsNothing() ||
      (!has.FromJust() &&
       global->DefineOwnProperty(context, gname, global, v8::DontEnum)
           .IsNothing())) {
    return MaybeLocal<Function>();
  }
  context->SetEmbedderData(kCjsSlot, run);
  return run.As<Function>();
}

MaybeLocal<Value> eval_steps(Local<Context> context, Local<Module> module);

// V8 takes the exception of failed evaluation steps as pending: one thrown
// by JavaScript they called is only scheduled (for the caller's TryCatch)
// until a TryCatch of their own rethrows it, as Node's do.
MaybeLocal<Value> cjs_eval_steps(Local<Context> context, Local<Module> module) {
  Isolate* isolate = context->GetIsolate();
  TryCatch tc(isolate);
  MaybeLocal<Value> r = eval_steps(context, module);
  if (r.IsEmpty() && tc.HasCaught() && !tc.HasTerminated()) {
    tc.ReThrow();
  }
  return r;
}

MaybeLocal<Value> eval_steps(Local<Context> context, Local<Module> module) {
  Isolate* isolate = context->GetIsolate();
  v8s_isolate* iso = iso_of(isolate);
  Local<Function> fn;
  std::string path;
  std::vector<std::string> names;
  auto range = iso->cjs.equal_range(module->GetIdentityHash());
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.module.Get(isolate) == module) {
      fn = it->second.fn.Get(isolate);
      path = std::move(it->second.path);
      names = std::move(it->second.names);
      iso->cjs.erase(it);
      break;
    }
  }
  if (fn.IsEmpty()) {
    throw_coded(isolate, nullptr, "a CommonJS module evaluated twice");
    return MaybeLocal<Value>();
  }
  Local<Function> run;
  Local<Value> exports;
  Local<Value> argv[] = {str(isolate, path.c_str()), fn};
  if (!loader(isolate, context).ToLocal(&run) ||
      !run->Call(context, v8::Undefined(isolate), 2, argv).ToLocal(&exports) ||
      module
          ->SetSyntheticModuleExport(isolate, str(isolate, "default"), exports)
          .IsNothing()) {
    return MaybeLocal<Value>();
  }
  for (const std::string& name : names) {
    Local<Value> v = v8::Undefined(isolate);
    Local<String> key = str(isolate, name.c_str());
    if (exports->IsObject() &&
        !exports.As<Object>()->Get(context, key).ToLocal(&v)) {
      return MaybeLocal<Value>();
    }
    if (module->SetSyntheticModuleExport(isolate, key, v).IsNothing()) {
      return MaybeLocal<Value>();
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

}  // namespace v8s

using namespace v8s;

extern "C" {

int v8s_cjs_compile(v8s_isolate* iso,
                    v8s_ref ctx,
                    const char* url,
                    const char* path,
                    const char* source,
                    size_t len,
                    const char* const* names,
                    size_t nnames,
                    int detect,
                    int* is_esm,
                    v8s_ref* out,
                    v8s_exc* exc) {
  *out = 0;
  *is_esm = 0;
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Local<Function> fn;
  bool esm = false;
  if (!compile_wrapper(isolate, context, url, source, len, detect != 0, tc,
                       &esm, &fn)) {
    if (esm) {
      *is_esm = 1;
      return 0;
    }
    if (!tc.HasCaught()) {
      return ISO_ENOMEM;
    }
    return syntax_error(iso, context, tc, exc);
  }
  // each name once, as V8 reads it (V8 stops on a name given twice)
  std::vector<Local<String>> exports = {str(isolate, "default")};
  std::unordered_set<std::string> seen = {"default"};
  v8s_isolate::CjsModule entry;
  for (size_t i = 0; i < nnames; i++) {
    Local<String> name = str(isolate, names[i]);
    if (seen.insert(utf8(isolate, name)).second) {
      exports.push_back(name);
      entry.names.emplace_back(names[i]);
    }
  }
  Local<Module> module = Module::CreateSyntheticModule(
      isolate, str(isolate, url), exports, cjs_eval_steps);
  entry.module.Reset(isolate, module);
  entry.fn.Reset(isolate, fn);
  entry.path = path;
  iso->cjs.emplace(module->GetIdentityHash(), std::move(entry));
  *out = ref_new(iso, module);
  iso->modules.emplace(module->GetIdentityHash(), *out);
  return 0;
}

}  // extern "C"
