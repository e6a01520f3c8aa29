// v8s_platform.cc: V8's process-wide platform and the shim's clock.
//
// The platform is Node's MultiIsolatePlatform, so V8's own foreground tasks
// (Wasm compilation, Atomics.waitAsync, FinalizationRegistry cleanup) run
// on the isolate's libuv loop (v8s_isolate_new registers each isolate with
// its loop). It sits behind HookedPlatform, which runs those tasks inside
// the host's task_enter/task_leave and counts the ones posted to run now
// and not run yet, so the event loop can wait for them
// (v8s_isolate_pending_tasks). v8s_platform_init runs once, before any
// isolate; the rest of the shim reads g_platform and g_start_epoch_ms.

#include <dlfcn.h>
#include <node.h>

#include <mutex>
#include <unordered_map>

#include "v8s_internal.h"

namespace v8s {

std::unique_ptr<node::MultiIsolatePlatform> g_platform;
void* (*g_heap_of_profiler)(void* profiler) = nullptr;
size_t (*g_heap_size_of_objects)(void* heap) = nullptr;
double g_start_epoch_ms; /* wall clock when the now() clock read 0 */
std::string g_v8_flags;

namespace {

uint64_t g_start_ns;

// isolate -> its tasks_posted counter (platform_count_tasks). V8 posts
// from any thread, so the lookup takes a lock and the tasks share the
// counter rather than point into a v8s_isolate that may be gone.
std::mutex g_counters_mu;
std::unordered_map<Isolate*, std::shared_ptr<std::atomic<int>>> g_counters;

std::shared_ptr<std::atomic<int>> counter_of(Isolate* isolate) {
  std::lock_guard<std::mutex> lock(g_counters_mu);
  auto it = g_counters.find(isolate);
  return it != g_counters.end() ? it->second : nullptr;
}

// V8's platform is Node's, behind this wrapper, which only changes one
// thing: a task V8 posts for an isolate's loop runs between the host's
// task_enter and task_leave, or not at all if task_enter refuses it (it is
// then dropped, as unregistering the isolate drops those still queued).
// V8 runs JavaScript from such tasks (FinalizationRegistry cleanup
// callbacks) outside every entry the runtime makes, where no deadline
// could stop it.
//
// A task posted to run now (not a delayed one) also counts in the
// isolate's counter until it has run or is dropped: the loop waits for it
// (a Wasm compilation's last step, a FinalizationRegistry cleanup, an
// Atomics.notify's resolution), while Node's platform wakes the loop for
// it through a uv_async of its own that does not keep the loop alive.
// Delayed tasks do not count: V8 posts some for itself (incremental
// marking); the prelude keeps the loop alive for an Atomics.waitAsync
// timeout (25-timers.js).
class HookedTask : public v8::Task {
 public:
  HookedTask(Isolate* isolate,
             std::unique_ptr<v8::Task> inner,
             std::shared_ptr<std::atomic<int>> counter)
      : isolate_(isolate),
        inner_(std::move(inner)),
        counter_(std::move(counter)) {
    if (counter_) {
      counter_->fetch_add(1);
    }
  }
  ~HookedTask() override { Uncount(); }
  void Run() override;

 private:
  void Uncount() {
    if (counter_) {
      counter_->fetch_sub(1);
      counter_.reset();
    }
  }
  Isolate* isolate_;
  std::unique_ptr<v8::Task> inner_;
  std::shared_ptr<std::atomic<int>> counter_;
};

class HookedRunner : public v8::TaskRunner {
 public:
  HookedRunner(Isolate* isolate, std::shared_ptr<v8::TaskRunner> inner)
      : isolate_(isolate), inner_(std::move(inner)) {}
  void PostTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostTask(Wrap(std::move(task), true));
  }
  void PostNonNestableTask(std::unique_ptr<v8::Task> task) override {
    inner_->PostNonNestableTask(Wrap(std::move(task), true));
  }
  void PostDelayedTask(std::unique_ptr<v8::Task> task,
                       double delay_in_seconds) override {
    inner_->PostDelayedTask(Wrap(std::move(task), false), delay_in_seconds);
  }
  void PostNonNestableDelayedTask(std::unique_ptr<v8::Task> task,
                                  double delay_in_seconds) override {
    inner_->PostNonNestableDelayedTask(Wrap(std::move(task), false),
                                       delay_in_seconds);
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
  std::unique_ptr<v8::Task> Wrap(std::unique_ptr<v8::Task> task, bool now) {
    return std::make_unique<HookedTask>(isolate_, std::move(task),
                                        now ? counter_of(isolate_) : nullptr);
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

void HookedTask::Run() {
  // Tasks of an isolate run on its thread, only while it is registered
  // with the platform (v8s_isolate_new to v8s_isolate_free).
  v8s_isolate* iso = static_cast<v8s_isolate*>(isolate_->GetData(0));
  bool hooked = iso != nullptr && iso->host->task_enter != nullptr &&
                iso->host->task_leave != nullptr;
  if (hooked && iso->host->task_enter(iso->host_data) != 0) {
    Uncount(); /* refused: dropped with this wrapper */
    return;
  }
  inner_->Run();
  Uncount(); /* before task_leave wakes the loop to look at it */
  if (hooked) {
    iso->host->task_leave(iso->host_data);
  }
}

void platform_count_tasks(Isolate* isolate,
                          std::shared_ptr<std::atomic<int>> counter) {
  std::lock_guard<std::mutex> lock(g_counters_mu);
  g_counters[isolate] = std::move(counter);
}

void platform_uncount_tasks(Isolate* isolate) {
  std::lock_guard<std::mutex> lock(g_counters_mu);
  g_counters.erase(isolate);
}

}  // namespace v8s

using namespace v8s;

extern "C" {

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
  // V8 10.2; the loader rewrites the newer `with` form to it. The startup
  // snapshot's sum is checked once per process (v8s_snapshot.cc), not by
  // V8 at every isolate's start; the code caches V8 reads are the
  // process's own (v8s_context.cc), or checked with their own key.
  g_v8_flags = "--harmony-import-assertions --no-verify-snapshot-checksum";
  if (flags != nullptr && flags[0] != '\0') {
    g_v8_flags = g_v8_flags + " " + flags;
  }
  v8::V8::SetFlagsFromString(g_v8_flags.c_str());
  g_platform = node::MultiIsolatePlatform::Create(threads > 0 ? threads : 2);
  g_hooked = std::make_unique<HookedPlatform>(g_platform.get());
  v8::V8::InitializePlatform(g_hooked.get());
  v8::V8::Initialize();
  g_heap_of_profiler = reinterpret_cast<void* (*)(void*)>(
      dlsym(RTLD_DEFAULT, "_ZNK2v88internal12HeapProfiler4heapEv"));
  g_heap_size_of_objects = reinterpret_cast<size_t (*)(void*)>(
      dlsym(RTLD_DEFAULT, "_ZN2v88internal4Heap13SizeOfObjectsEv"));
  return 0;
}

int v8s_isolate_pending_tasks(v8s_isolate* iso) {
  return iso->tasks_posted->load() > 0 ||
         iso->isolate->HasPendingBackgroundTasks();
}

void* v8s_platform_handle(void) {
  return g_platform.get();
}

double v8s_platform_now_ms(void) {
  return static_cast<double>(uv_hrtime() - g_start_ns) / 1e6;
}

}  // extern "C"
