// v8s_isolate.cc: isolates: making and freeing them, their memory limits,
// stopping their JavaScript, and the callbacks V8 makes for a whole isolate.
//
// Memory is bounded twice: ArrayBuffers by CappedAllocator (they live
// outside V8's heap) and the heap by the collection callbacks below, which
// ask the host to condemn an isolate that went past its limit. Promise
// rejections and uncaught exceptions reach the host's promise_reject and
// uncaught with the realm of the context they came from.
//
// DESIGN: an isolate belongs to one thread, and stays entered on it
// (Isolate::Enter) from v8s_isolate_new to v8s_isolate_free, which saves an
// Enter/Exit pair on every call; so isolates created on one thread are
// freed in the reverse order. The only cross-thread entry is
// v8s_terminate(), which calls Isolate::TerminateExecution, documented by V8
// as callable from any thread. Contexts carry their realm pointer in
// embedder data slot kRealmSlot; callbacks recover it from the current or
// the creation context, and ignore JavaScript whose realm was disposed.

#include <node.h>

#include <algorithm>
#include <cstdlib>

#include "v8s_internal.h"

namespace v8s {

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

namespace {

bool is_watched(v8s_isolate* iso, Local<Promise> promise) {
  for (v8s_ref r : iso->watched) {
    Local<Data> d = ref_get(iso, r);
    if (!d.IsEmpty() && d == promise) {
      return true;
    }
  }
  return false;
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
  v8s_exc_close(&exc);
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

// The heap's bytes in use, for v8s_heap_allocated, which the job path
// reads once per job. V8 10.2's API has GetHeapStatistics, which adds up
// every space and page, and GetHeapSpaceStatistics, which for one space
// also walks its pages for their committed physical memory: 95 ns for the
// four spaces JavaScript allocates in (new, old, the two large object
// spaces), 4% of the service's batched job path. V8 keeps the bytes in
// use as counters, which Heap::SizeOfObjects adds up without a walk; it
// is not in the API but libnode exports it (V8_EXPORT_PRIVATE), and so
// HeapProfiler::heap, which leads from the API's heap profiler to the
// heap: both looked up by name once (v8s_platform_init), and each isolate
// checks the read against GetHeapStatistics' used_heap_size (the same
// counters) before it uses it (v8s_isolate_new). Where either is missing
// or the check fails, the four spaces' public statistics are read.
size_t heap_used_now(v8s_isolate* iso) {
  if (iso->heap_internal != nullptr) {
    return g_heap_size_of_objects(iso->heap_internal);
  }
  size_t used = 0;
  for (int i : iso->alloc_spaces) {
    if (i >= 0) {
      v8::HeapSpaceStatistics s;
      iso->isolate->GetHeapSpaceStatistics(&s, static_cast<size_t>(i));
      used += s.space_used_size();
    }
  }
  return used;
}

// The internal heap of an isolate, for heap_used_now, or NULL when its
// read does not agree with the API's.
void* heap_internal_checked(Isolate* isolate) {
  if (g_heap_of_profiler == nullptr || g_heap_size_of_objects == nullptr) {
    return nullptr;
  }
  void* heap = g_heap_of_profiler(isolate->GetHeapProfiler());
  if (heap == nullptr) {
    return nullptr;
  }
  v8::HeapStatistics hs;
  isolate->GetHeapStatistics(&hs);
  return g_heap_size_of_objects(heap) == hs.used_heap_size() ? heap : nullptr;
}

// WebAssembly memories are not allocated through the ArrayBuffer allocator
// (which caps ArrayBuffers on its own) but V8 counts them as external
// memory: what the allocator does not hold is theirs, and counts with the
// heap. Read before a collection starts, when V8 has finished sweeping
// the last one's buffers: during sweeping the allocator has freed buffers
// that V8 still counts, which would look like WebAssembly memory.
// The prologue also notes the spaces' bytes in use, so the epilogue can
// count what the collection freed (v8s_heap_allocated).
void gc_prologue_cb(Isolate* isolate,
                    v8::GCType type,
                    v8::GCCallbackFlags flags,
                    void* data) {
  v8s_isolate* iso = static_cast<v8s_isolate*>(data);
  v8::HeapStatistics hs;
  isolate->GetHeapStatistics(&hs);
  iso->gc_used_before = heap_used_now(iso);
  size_t external = hs.external_memory();
  size_t buffers = iso->allocator->used();
  iso->wasm_bytes = external > buffers ? external - buffers : 0;
}

void gc_epilogue_cb(Isolate* isolate,
                    v8::GCType type,
                    v8::GCCallbackFlags flags,
                    void* data) {
  v8s_isolate* iso = static_cast<v8s_isolate*>(data);
  size_t after = heap_used_now(iso);
  if (iso->gc_used_before > after) {
    iso->gc_freed += iso->gc_used_before - after;
  }
  iso->gc_used_before = after;
  if (iso->heap_over || iso->heap_max == 0) {
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

}  // namespace

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

// A v8s_isolate for opts, without its V8 isolate yet (isolate_attach).
// Null when out of memory.
v8s_isolate* isolate_alloc(const v8s_isolate_opts* opts) {
  v8s_isolate* iso = new (std::nothrow) v8s_isolate();
  if (iso == nullptr) {
    return nullptr;
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
  if (opts->heap_max_mb > 0) {
    iso->heap_max = opts->heap_max_mb * (size_t{1} << 20);
  }
  return iso;
}

// A V8 isolate allocated (Isolate::Allocate) for iso, registered with the
// platform on iso's loop; Isolate::Initialize (or SnapshotCreator) next.
Isolate* isolate_register(v8s_isolate* iso) {
  Isolate* isolate = Isolate::Allocate();
  iso->tasks_posted = std::make_shared<std::atomic<int>>(0);
  platform_count_tasks(isolate, iso->tasks_posted);
  g_platform->RegisterIsolate(isolate, iso->loop);
  return isolate;
}

// The initialized `isolate` becomes iso's: data slots, policies and the
// isolate-wide callbacks. One that makes a snapshot (v8s_snapshot_make)
// gets no message listener: V8 keeps those on its heap, where the
// snapshot would take them.
void isolate_attach(v8s_isolate* iso, Isolate* isolate, bool for_snapshot) {
  iso->isolate = isolate;
  isolate->SetData(0, iso);
  isolate->SetData(1, iso->host_data);
  isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  // Like a browser's main thread: Atomics.wait would block the loop that
  // every job on this isolate shares.
  isolate->SetAllowAtomicsWait(false);
  isolate->SetHostImportModuleDynamicallyCallback(dyn_import_cb);
  isolate->SetHostInitializeImportMetaObjectCallback(import_meta_cb);
  isolate->SetPromiseRejectCallback(promise_reject_cb);
  if (!for_snapshot) {
    isolate->AddMessageListenerWithErrorLevel(message_cb,
                                              Isolate::kMessageError);
  }
  isolate->SetCaptureStackTraceForUncaughtExceptions(true, 10);
  isolate->AddNearHeapLimitCallback(near_heap_limit_cb, iso);
  // always: they count what collections free (v8s_heap_allocated)
  isolate->AddGCPrologueCallback(gc_prologue_cb, iso);
  isolate->AddGCEpilogueCallback(gc_epilogue_cb, iso);
  static const char* const kAllocSpaces[4] = {
      "new_space", "old_space", "large_object_space", "new_large_object_space"};
  for (size_t i = 0; i < isolate->NumberOfHeapSpaces(); i++) {
    v8::HeapSpaceStatistics s;
    isolate->GetHeapSpaceStatistics(&s, i);
    for (int k = 0; k < 4; k++) {
      if (s.space_name() != nullptr &&
          strcmp(s.space_name(), kAllocSpaces[k]) == 0) {
        iso->alloc_spaces[k] = static_cast<int>(i);
      }
    }
  }
  iso->heap_internal = heap_internal_checked(isolate);
}

// Drops every handle iso keeps (refs, templates, scripts, the contexts'
// queues' weak handles) before its V8 isolate goes; the queues themselves
// stay on iso->queues (V8 may still point at them) for isolate_free.
void isolate_release(v8s_isolate* iso) {
  for (auto& g : iso->refs) {
    g.Reset();
  }
  iso->refs.clear();
  iso->free_refs.clear();
  iso->json.clear();
  iso->cjs.clear();
  iso->modules.clear();
  // claims on code caches this isolate was to make go back (v8s_code.cc)
  for (auto& e : iso->scripts) {
    if (e.share) {
      code_unclaim(code_key_static(e.source));
    }
  }
  iso->scripts.clear();
  for (auto& m : iso->module_code) {
    code_unclaim(m.key);
  }
  iso->module_code.clear();
  iso->watched.clear();
  iso->natives.Reset();
  iso->host_object.Reset();
  iso->op_fns.clear();
  for (CtxQueue* q : iso->queues) {
    // a collected context's handle is empty already, its second-pass
    // callback still to come (from a task, which dies with the isolate)
    if (!q->weak.IsEmpty()) {
      q->weak.ClearWeak();
      q->weak.Reset();
    }
  }
}

// The platform forgets the isolate (isolate_register's undo).
void isolate_unregister(Isolate* isolate) {
  g_platform->UnregisterIsolate(isolate);
  platform_uncount_tasks(isolate);
}

// iso's contexts' queues, its allocator and iso itself, once nothing in
// V8 runs any more (isolate_release first).
void isolate_delete(v8s_isolate* iso) {
  for (CtxQueue* q : iso->queues) {
    delete q;
  }
  iso->queues.clear();
  delete iso->allocator;
  delete iso;
}

}  // namespace v8s

using namespace v8s;

extern "C" {

int v8s_isolate_new(const v8s_isolate_opts* opts, v8s_isolate** out) {
  if (!g_platform || opts == nullptr || opts->loop == nullptr ||
      opts->host == nullptr) {
    return ISO_EINVAL;
  }
  v8s_isolate* iso = isolate_alloc(opts);
  if (iso == nullptr) {
    return ISO_ENOMEM;
  }
  Isolate::CreateParams params;
  params.array_buffer_allocator = iso->allocator;
  if (iso->heap_max > 0) {
    params.constraints.ConfigureDefaultsFromHeapSize(
        0, iso->heap_max + kHeapHeadroom);
  }
  // the startup snapshot, when this build has one that fits (its V8, its
  // flags, this isolate's ops): contexts then start with the prelude run
  const v8::StartupData* blob = snapshot_for(iso);
  if (blob != nullptr) {
    params.snapshot_blob = const_cast<v8::StartupData*>(blob);  // only read
    params.external_references = external_refs();
  }
  Isolate* isolate = isolate_register(iso);
  Isolate::Initialize(isolate, params);
  isolate_attach(iso, isolate, false);
  if (blob != nullptr) {
    snapshot_attach(iso);
  }
  isolate->Enter();
  *out = iso;
  return 0;
}

void v8s_isolate_free(v8s_isolate* iso) {
  if (iso == nullptr) {
    return;
  }
  isolate_release(iso);
  for (CtxQueue* q : iso->queues) {
    delete q;
  }
  iso->queues.clear();
  Isolate* isolate = iso->isolate;
  isolate->Exit();
  isolate_unregister(isolate);
  isolate->Dispose();
  isolate_delete(iso);
}

uint64_t v8s_heap_allocated(v8s_isolate* iso) {
  return iso->gc_freed + heap_used_now(iso);
}

void v8s_collect(v8s_isolate* iso) {
  iso->isolate->LowMemoryNotification();
}

void v8s_heap_stats(v8s_isolate* iso, size_t* used, size_t* limit) {
  v8::HeapStatistics hs;
  iso->isolate->GetHeapStatistics(&hs);
  *used = hs.used_heap_size();
  *limit = iso->heap_max > 0 ? iso->heap_max : hs.heap_size_limit();
}

void v8s_memory(v8s_isolate* iso, size_t* used, size_t* committed) {
  v8::HeapStatistics hs;
  iso->isolate->GetHeapStatistics(&hs);
  size_t outside = iso->allocator->used() + iso->wasm_bytes;
  *used = hs.used_heap_size() + outside;
  *committed = hs.total_heap_size() + outside;
}

void v8s_terminate(v8s_isolate* iso) {
  iso->stop_requested.store(true);
  iso->isolate->TerminateExecution();
}

void v8s_cancel_terminate(v8s_isolate* iso) {
  iso->stop_requested.store(false);
  iso->isolate->CancelTerminateExecution();
}

}  // extern "C"
