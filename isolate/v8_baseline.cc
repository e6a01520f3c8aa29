// v8_baseline.cc: bare-V8 reference figures for bench/runtime_bench (see
// v8_baseline.h). Kept in isolate/ because only this folder may use V8.
#include "v8_baseline.h"

#include "v8s.h"

#include <node.h>
#include <uv.h>
#include <v8.h>

#include <cstdio>
#include <string>

namespace {

v8::MaybeLocal<v8::Module> no_imports(v8::Local<v8::Context>,
                                      v8::Local<v8::String>,
                                      v8::Local<v8::FixedArray>,
                                      v8::Local<v8::Module>) {
  return v8::MaybeLocal<v8::Module>();
}

// An isolate registered with the process's platform, as V8 there needs.
struct Iso {
  uv_loop_t loop;
  v8::ArrayBuffer::Allocator* alloc;
  v8::Isolate* isolate;
  node::MultiIsolatePlatform* platform;
  Iso() {
    uv_loop_init(&loop);
    platform = static_cast<node::MultiIsolatePlatform*>(v8s_platform_handle());
    alloc = v8::ArrayBuffer::Allocator::NewDefaultAllocator();
    v8::Isolate::CreateParams p;
    p.array_buffer_allocator = alloc;
    isolate = v8::Isolate::Allocate();
    platform->RegisterIsolate(isolate, &loop);
    v8::Isolate::Initialize(isolate, p);
  }
  ~Iso() {
    platform->UnregisterIsolate(isolate);
    isolate->Dispose();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    delete alloc;
  }
};

double since_us(uint64_t t0, int n) {
  return static_cast<double>(uv_hrtime() - t0) / 1e3 / n;
}

}  // namespace

extern "C" double v8b_isolate_us(int n) {
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; i++) {
    Iso iso;
  }
  return since_us(t0, n);
}

extern "C" double v8b_context_us(int n) {
  Iso iso;
  v8::Isolate::Scope is(iso.isolate);
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; i++) {
    v8::HandleScope hs(iso.isolate);
    v8::Local<v8::Context> c = v8::Context::New(iso.isolate);
    (void)c;
  }
  return since_us(t0, n);
}

extern "C" double v8b_module_us(int n) {
  Iso iso;
  v8::Isolate* isolate = iso.isolate;
  v8::Isolate::Scope is(isolate);
  v8::HandleScope hs(isolate);
  v8::Local<v8::Context> context = v8::Context::New(isolate);
  v8::Context::Scope cs(context);
  uint64_t t0 = uv_hrtime();
  // The checked conversions below cannot fail: the benchmark's own
  // one-line modules, no user code, no deadline, no heap pressure.
  for (int i = 0; i < n; i++) {
    v8::HandleScope inner(isolate);
    std::string src = "export default " + std::to_string(i) + ";";
    std::string name = "file:///bench/baseline-" + std::to_string(i) + ".js";
    v8::ScriptOrigin origin(
        isolate,
        v8::String::NewFromUtf8(isolate, name.c_str()).ToLocalChecked(), 0, 0,
        false, -1, v8::Local<v8::Value>(), false, false, true);
    v8::ScriptCompiler::Source source(
        v8::String::NewFromUtf8(isolate, src.c_str()).ToLocalChecked(), origin);
    v8::Local<v8::Module> m =
        v8::ScriptCompiler::CompileModule(isolate, &source).ToLocalChecked();
    m->InstantiateModule(context, no_imports).Check();
    v8::Local<v8::Value> p = m->Evaluate(context).ToLocalChecked();
    isolate->PerformMicrotaskCheckpoint();
    if (p.As<v8::Promise>()->State() != v8::Promise::kFulfilled) {
      fprintf(stderr, "baseline module did not evaluate\n");
    }
    v8::Local<v8::Value> v =
        m->GetModuleNamespace()
            .As<v8::Object>()
            ->Get(context, v8::String::NewFromUtf8Literal(isolate, "default"))
            .ToLocalChecked();
    if (!v->IsNumber()) {
      fprintf(stderr, "baseline module has no default\n");
    }
  }
  return since_us(t0, n);
}
