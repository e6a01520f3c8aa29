// v8s_snapshot.cc: the startup snapshot of the prelude: made at build time
// (v8s_snapshot_make, run by isolate/snapshot_gen.c), checked once per
// process and used by every isolate whose ops are the snapshot's.
//
// The blob is a header and V8's snapshot. The header is text lines:
//   isopool-snapshot 1 <header length, padding included>
//   v8 <V8's version string>
//   flags <the V8 flags it was made with, v8s_platform_init's>
//   build <the build id: FNV-1a 64 of the format, the prelude's text and
//          the names in the shim's callback tables>
//   ops <FNV-1a 64 of the ops' names and kinds>
//   sum <zlib's CRC-32 of V8's part>
// padded with NULs so V8's part starts 16-aligned. V8 aborts the process
// on a snapshot of another version or flags; the header is checked first,
// and a blob that does not fit (or a build without one) leaves the process
// on the old path (a context runs the prelude) with one warning. The sum
// is checked once per process (0.1 ms), in place of V8's own checksum,
// which it verifies at every isolate's start (--no-verify-snapshot-checksum:
// 2.4 M instructions, a quarter of a runtime's start).
//
// The snapshot's context 0 is a context made as every context is
// (v8s_context_new) in which the prelude ran (v8s_execute_static); its
// hooks object waits in embedder data slot kHooksSlot for
// v8s_context_boot. The realm slot is null in it: a context's realm is
// set after it is deserialized. V8 resets a context's Math.random state
// when it serializes it, and the prelude reads the time origin when used
// (timeOrigin()), so nothing a context starts with is frozen at build
// time. Every C++ callback a snapshot's objects hold is in external_refs,
// built from the NativeTables natives_template and install_ops install
// from, and lazy_data_get (the lazy globals' accessor).
//
// DESIGN: the blob is static (embedded); its check and the external
// references are made once per process (function-local statics, which
// C++ initialises once under a lock); the rest is the isolate's thread's.

#include <uv.h>
#include <zlib.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "iso_bootstrap.h"
#include "v8s_internal.h"

namespace v8s {

namespace {

constexpr char kFormat[] = "isopool-snapshot 1";
constexpr size_t kAlign = 16;

uint64_t fnv(uint64_t h, const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i++) {
    h = (h ^ b[i]) * 0x100000001b3ull;
  }
  return h;
}

constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;

std::vector<NativeTable> all_tables() {
  return {core_natives(), host_natives(), url_natives(),
          zlib_natives(), icu_natives(),  op_natives()};
}

// The build id: what the snapshot's context is made of on this side.
uint64_t build_id() {
  uint64_t h = fnv(kFnvBasis, kFormat, sizeof(kFormat));
  h = fnv(h, iso_bootstrap_prelude, iso_bootstrap_prelude_len);
  for (const NativeTable& t : all_tables()) {
    for (size_t i = 0; i < t.n; i++) {
      h = fnv(h, t.fns[i].name, strlen(t.fns[i].name) + 1);
    }
  }
  return h;
}

uint64_t ops_id(const std::vector<std::string>& names,
                const std::vector<bool>& async) {
  uint64_t h = kFnvBasis;
  for (size_t i = 0; i < names.size(); i++) {
    h = fnv(h, names[i].c_str(), names[i].size() + 1);
    h = fnv(h, async[i] ? "a" : "s", 1);
  }
  return h;
}

std::string hex(uint64_t v) {
  char b[17];
  snprintf(b, sizeof(b), "%016" PRIx64, v);
  return b;
}

// A blob's header, parsed.
struct Header {
  size_t len = 0;  // the header's bytes, padding included
  std::string v8;
  std::string flags;
  std::string build;
  std::string ops;
  std::string sum;
};

// The sum of V8's part of a blob whose header is hlen bytes.
std::string v8_part_sum(const unsigned char* blob, size_t n, size_t hlen) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t at = hlen; at < n;) {  // crc32 takes a uInt of bytes at once
    uInt step = static_cast<uInt>(n - at > (1u << 30) ? (1u << 30) : n - at);
    crc = crc32(crc, blob + at, step);
    at += step;
  }
  char b[16];
  snprintf(b, sizeof(b), "%08lx", static_cast<unsigned long>(crc));
  return b;
}

// Parses blob's header; false with *why when it is not one.
bool parse(const unsigned char* blob, size_t n, Header* h, const char** why) {
  const char* p = reinterpret_cast<const char*>(blob);
  size_t flen = sizeof(kFormat) - 1;
  if (blob == nullptr || n == 0) {
    *why = "this build has no snapshot";
    return false;
  }
  if (n < flen + 2 || memcmp(p, kFormat, flen) != 0 || p[flen] != ' ') {
    *why = "not a snapshot of this format";
    return false;
  }
  h->len = strtoul(p + flen + 1, nullptr, 10);
  if (h->len < flen || h->len % kAlign != 0 || h->len >= n) {
    *why = "a bad header";
    return false;
  }
  std::string text(p, strnlen(p, h->len));
  size_t at = text.find('\n');
  while (at != std::string::npos && at + 1 < text.size()) {
    size_t end = text.find('\n', at + 1);
    if (end == std::string::npos) {
      break;
    }
    std::string line = text.substr(at + 1, end - at - 1);
    size_t sp = line.find(' ');
    std::string key = line.substr(0, sp);
    std::string value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (key == "v8") {
      h->v8 = value;
    } else if (key == "flags") {
      h->flags = value;
    } else if (key == "build") {
      h->build = value;
    } else if (key == "ops") {
      h->ops = value;
    } else if (key == "sum") {
      h->sum = value;
    }
    at = end;
  }
  return true;
}

// Parses and checks blob against this process; false with *why.
bool check(const unsigned char* blob, size_t n, Header* h, const char** why) {
  if (!parse(blob, n, h, why)) {
    return false;
  }
  if (h->v8 != v8::V8::GetVersion()) {
    *why = "made by another V8 version";
  } else if (h->flags != g_v8_flags) {
    *why = "made with other V8 flags";
  } else if (h->build != hex(build_id())) {
    *why = "made from another prelude or shim";
  } else if (h->sum != v8_part_sum(blob, n, h->len)) {
    *why = "its V8 part is damaged (its sum differs)";
  } else {
    return true;
  }
  return false;
}

// The process's snapshot: checked on first use, with one warning when it
// cannot be used.
struct ProcessBlob {
  bool ok = false;
  v8::StartupData data{nullptr, 0};
  std::string ops;
  const unsigned char* file = nullptr;  // ISOPOOL_SNAPSHOT=FILE's bytes
};

// A blob file's bytes (ISOPOOL_SNAPSHOT=FILE), 16-aligned, kept for the
// process's life; false when it cannot be read.
bool read_blob(const char* path, const unsigned char** blob, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (f == nullptr) {
    return false;
  }
  std::string bytes;
  char chunk[65536];
  size_t got;
  while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    bytes.append(chunk, got);
  }
  fclose(f);
  void* p = aligned_alloc(kAlign, (bytes.size() + kAlign) / kAlign * kAlign);
  if (p == nullptr) {
    return false;
  }
  memcpy(p, bytes.data(), bytes.size());
  *blob = static_cast<const unsigned char*>(p);
  *n = bytes.size();
  return true;
}

const ProcessBlob& process_blob() {
  static const ProcessBlob blob = [] {
    ProcessBlob b;
    // ISOPOOL_SNAPSHOT=0: the old path, without a warning; =FILE: that
    // blob instead of the embedded one (a test's)
    const char* env = getenv("ISOPOOL_SNAPSHOT");
    if (env != nullptr && strcmp(env, "0") == 0) {
      return b;
    }
    const unsigned char* bytes = iso_snapshot_blob;
    size_t n = iso_snapshot_blob_len;
    if (env != nullptr && env[0] != '\0' && !read_blob(env, &bytes, &n)) {
      bytes = nullptr;
      n = 0;
    }
    Header h;
    const char* why = nullptr;
    bool fits = check(bytes, n, &h, &why);
    if (bytes != iso_snapshot_blob) {
      if (fits) {
        b.file = bytes;  // kept for the isolates' lives: the process's
      } else {
        free(const_cast<unsigned char*>(bytes));
      }
    }
    if (!fits && h.flags + " " == g_v8_flags.substr(0, h.flags.size() + 1)) {
      return b;  // the user's --v8-flags: their choice, no warning
    }
    if (!fits) {
      fprintf(stderr,
              "isopool: the startup snapshot is not used (%s): every "
              "context runs the prelude\n",
              why);
      return b;
    }
    b.ok = true;
    b.data.data = reinterpret_cast<const char*>(bytes) + h.len;
    b.data.raw_size = static_cast<int>(n - h.len);
    b.ops = h.ops;
    return b;
  }();
  return blob;
}

}  // namespace

const intptr_t* external_refs() {
  static const std::vector<intptr_t> refs = [] {
    std::vector<intptr_t> r;
    for (const NativeTable& t : all_tables()) {
      for (size_t i = 0; i < t.n; i++) {
        r.push_back(reinterpret_cast<intptr_t>(t.fns[i].fn));
      }
    }
    r.push_back(reinterpret_cast<intptr_t>(lazy_data_get));
    // the prelude's source, an external string of the snapshot's script
    r.push_back(reinterpret_cast<intptr_t>(prelude_text()));
    r.push_back(0);
    return r;
  }();
  return refs.data();
}

const v8::StartupData* snapshot_for(v8s_isolate* iso) {
  const ProcessBlob& b = process_blob();
  if (!b.ok || b.ops != hex(ops_id(iso->op_names, iso->op_async))) {
    return nullptr;
  }
  return &b.data;
}

void snapshot_attach(v8s_isolate* iso) {
  iso->from_snapshot = true;
  HandleScope scope(iso->isolate);
  Local<FunctionTemplate> host;
  if (iso->isolate->GetDataFromSnapshotOnce<FunctionTemplate>(0).ToLocal(
          &host)) {
    iso->host_object.Reset(iso->isolate, host);
  }
}

v8::StartupData serialize_field(Local<Object> holder, int index, void* data) {
  return {nullptr, 0};
}

void deserialize_field(Local<Object> holder,
                       int index,
                       v8::StartupData payload,
                       void* data) {}

}  // namespace v8s

using namespace v8s;

extern "C" {

int v8s_snapshot_make(const v8s_op_info* ops,
                      size_t nops,
                      uint8_t** out,
                      size_t* len,
                      v8s_exc* exc) {
  *out = nullptr;
  *len = 0;
  uv_loop_t loop;
  if (!g_platform || uv_loop_init(&loop) != 0) {
    return ISO_EINVAL;
  }
  // natives called while the prelude runs see no realm: they do nothing
  static const v8s_host kNoHost{};
  v8s_isolate_opts opts{};
  opts.loop = &loop;
  opts.host = &kNoHost;
  opts.ops = ops;
  opts.nops = nops;
  v8s_isolate* iso = isolate_alloc(&opts);
  if (iso == nullptr) {
    return ISO_ENOMEM;
  }
  Isolate* isolate = isolate_register(iso);
  v8::StartupData made{nullptr, 0};
  int rc;
  {
    v8::SnapshotCreator creator(isolate, external_refs());
    isolate_attach(iso, isolate, true);
    v8s_ref ctx = 0;
    v8s_ref hooks = 0;
    rc = v8s_context_new(iso, nullptr, &ctx);
    if (rc == 0) {
      rc = v8s_execute_static(iso, ctx, "isopool:bootstrap",
                              iso_bootstrap_prelude, iso_bootstrap_prelude_len,
                              &hooks, exc);
    }
    if (rc == 0) {
      HandleScope scope(isolate);
      Local<Context> context = ref_context(iso, ctx);
      {
        Context::Scope context_scope(context);
        rc = checkpoint(iso, context);
      }
      context->SetEmbedderData(kHooksSlot, ref_value(iso, hooks));
      context->SetAlignedPointerInEmbedderData(kRealmSlot, nullptr);
      creator.SetDefaultContext(Context::New(isolate));
      creator.AddContext(context, v8::SerializeInternalFieldsCallback(
                                      serialize_field, nullptr));
      creator.AddData(iso->host_object.Get(isolate));
    }
    isolate_release(iso);
    if (rc == 0) {
      made =
          creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kKeep);
    }
  }
  isolate_unregister(isolate);
  isolate_delete(iso);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (rc != 0) {
    return rc;
  }
  if (made.data == nullptr || made.raw_size <= 0) {
    delete[] made.data;
    return ISO_ENOMEM;
  }
  std::vector<std::string> names(nops);
  std::vector<bool> async(nops);
  for (size_t i = 0; i < nops; i++) {
    names[i] = ops[i].name;
    async[i] = ops[i].is_async != 0;
  }
  std::string body =
      std::string("v8 ") + v8::V8::GetVersion() + "\nflags " + g_v8_flags +
      "\nbuild " + hex(build_id()) + "\nops " + hex(ops_id(names, async)) +
      "\nsum " +
      v8_part_sum(reinterpret_cast<const unsigned char*>(made.data),
                  static_cast<size_t>(made.raw_size), 0) +
      "\n";
  // the first line names the header's length, itself included
  size_t hlen = sizeof(kFormat) + 8 + body.size();
  hlen = (hlen + kAlign - 1) / kAlign * kAlign;
  char first[64];
  snprintf(first, sizeof(first), "%s %06zu\n", kFormat, hlen);
  std::string header = std::string(first) + body;
  size_t total = hlen + static_cast<size_t>(made.raw_size);
  uint8_t* blob = static_cast<uint8_t*>(calloc(1, total));
  if (blob == nullptr || header.size() > hlen) {
    free(blob);
    delete[] made.data;
    return ISO_ENOMEM;
  }
  memcpy(blob, header.data(), header.size());
  memcpy(blob + hlen, made.data, static_cast<size_t>(made.raw_size));
  delete[] made.data;
  *out = blob;
  *len = total;
  return 0;
}

int v8s_snapshot_check(const unsigned char* blob,
                       size_t len,
                       const char** why) {
  Header h;
  return check(blob, len, &h, why) ? 0 : ISO_EINVAL;
}

int v8s_snapshot_used(void) {
  return process_blob().ok ? 1 : 0;
}

}  // extern "C"
