// v8s_code.cc: the process's code cache: V8's serialized compiled code of
// the scripts and modules the process's isolates compile, so the next
// isolate to compile one deserializes it instead of parsing and compiling
// the text.
//
// One mechanism, two kinds of key. A static script (the prelude, its lazy
// parts: v8s_context.cc's static_script) is keyed by its text's address,
// and its entry lives as long as the process. A user module, an ES
// module (v8s_modules.cc) or a CommonJS module's wrapper function
// (v8s_cjs.cc), is keyed by its kind (kKindModule, kKindCjs: the same
// text compiles to different code), the SHA-256 of its URL and source and
// V8's ScriptCompiler::CachedDataVersionTag() (V8's version, the flags
// that change its code, the CPU's features). With a bound of 0 the cache
// is off and a compile neither hashes a key nor takes the lock
// (g_code_on); the digest's context is the thread's, made once. The URL
// is in the key because V8 10.2 keeps the name a script was compiled
// under in its cache: the same bytes at another URL would consume it, and
// their stack traces would name the first file (test_code_cache's
// same_bytes_two_urls).
// V8 itself checks a cache against the source's length, its own version
// and flags only, and not its payload (its checksum is a debug build's):
// what it is given must be what this process made. Module entries are
// bounded in bytes (kDefaultLimit, v8s_code_cache_limit): each counts its
// cache and kEntryCost; past the bound the least recently used go first,
// and a cache over a quarter of the bound is not kept at all.
//
// Who makes an entry: the second compile of a text in the process (in any
// isolate), after that compile's first run, so the functions the run
// compiled lazily are in the cache too; a text compiled once (a one-off
// eval job's source, `isopool run`'s modules) never pays for making one.
// A cache V8 rejects (cached->rejected) is dropped and made again by the
// compile that found it rejected.
//
// DESIGN: any isolate's thread calls in; everything is under g_code_mu,
// held only for the map and list updates, never while V8 compiles or
// serializes. A consumer takes a shared reference to an entry's bytes
// under the lock and compiles from them after it, so an eviction meanwhile
// frees nothing in use. An entry being made is `claimed` by one isolate so
// that many isolates starting at once serialize one copy; an isolate that
// goes before its claimed entry ran gives the claim back (code_unclaim).
// The cache itself is never destroyed (no destructor at exit: the leak
// checker sees it reachable).
//
// Sharing between processes (a pool process and its front, pool/): with
// exporting on (v8s_code_cache_export), the key of each module entry this
// process makes is queued (kMadeMax at most; past it the newest are not
// queued) for v8s_code_cache_next_made, which the pool process's watchdog
// thread calls to send the entry to its front; v8s_code_cache_put inserts
// an entry the front sent (a key of this V8's version tag only). Entries
// put are not queued again: the front has them.

#include <openssl/evp.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "v8s_internal.h"

namespace v8s {

namespace {

// the default bound on module entries, in bytes (v8s_code_cache_limit)
constexpr size_t kDefaultLimit = size_t{32} << 20;
// what an entry costs beside its cache: the record, its key, the map node
constexpr size_t kEntryCost = 160;
// the keys of made entries waiting for v8s_code_cache_next_made, at most
constexpr size_t kMadeMax = 256;
// a user key: its kind (kKindModule, kKindCjs), SHA-256, the version tag
constexpr size_t kModuleKeyLen = 1 + 32 + sizeof(uint32_t);

struct Entry {
  std::string key;
  Entry* prev;  // the LRU list of module entries, most recent first
  Entry* next;
  int compiled;  // compiles without the cache, up to 2
  bool claimed;  // an isolate is making the cache
  std::shared_ptr<const std::vector<uint8_t>> data;  // the cache, or null
};

struct Cache {
  std::mutex mu;
  std::unordered_map<std::string, Entry*> map;
  Entry* head = nullptr;
  Entry* tail = nullptr;
  size_t bytes = 0;  // module entries' cost
  size_t limit = kDefaultLimit;
  size_t entries = 0;  // module entries
  size_t cached = 0;   // of them, those that hold a cache
  uint64_t hits = 0, misses = 0, rejected = 0, made = 0, evicted = 0;
  uint64_t put = 0;
  bool exporting = false;
  std::deque<std::string> made_keys;  // for v8s_code_cache_next_made
};

std::mutex g_code_mu;
Cache* g_code = nullptr;  // under g_code_mu

// a user entry's key: an ES module's or a CommonJS module's (bounded,
// shared); a static script's is neither
bool is_user(char kind) {
  return kind == kKindModule || kind == kKindCjs;
}
bool is_user_key(const std::string& key) {
  return !key.empty() && is_user(key[0]);
}

// off with a bound of 0 (v8s_code_cache_limit): read without g_code_mu,
// so a compile then neither hashes its key nor takes the lock
std::atomic<bool> g_code_on{true};

// SHA-256, fetched once (not looked up at each compile's digest)
const EVP_MD* sha256() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// a thread's digest context, made once and reused by its compiles
struct Digest {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Digest() { EVP_MD_CTX_free(ctx); }
};

size_t cost(const Entry* e) {
  return kEntryCost + e->key.size() + (e->data ? e->data->size() : 0);
}

void unlink(Cache* c, Entry* e) {
  (e->prev ? e->prev->next : c->head) = e->next;
  (e->next ? e->next->prev : c->tail) = e->prev;
  e->prev = e->next = nullptr;
}

void push_front(Cache* c, Entry* e) {
  e->prev = nullptr;
  e->next = c->head;
  (c->head ? c->head->prev : c->tail) = e;
  c->head = e;
}

// Evicts the least recently used module entries until they fit the bound.
void trim(Cache* c) {
  while (c->bytes > c->limit && c->tail != nullptr) {
    Entry* e = c->tail;
    unlink(c, e);
    c->bytes -= cost(e);
    c->entries--;
    c->cached -= e->data != nullptr;
    c->evicted++;
    c->map.erase(e->key);
    delete e;
  }
}

Cache* cache() {
  if (g_code == nullptr) {
    g_code = new Cache();
  }
  return g_code;
}

// key's entry, made if absent (null: no memory); a module's goes to the
// front of the list. Called with g_code_mu.
Entry* find(Cache* c, const std::string& key, bool make) {
  auto it = c->map.find(key);
  Entry* e = it == c->map.end() ? nullptr : it->second;
  if (e == nullptr && make) {
    e = new (std::nothrow) Entry{key, nullptr, nullptr, 0, false, nullptr};
    if (e == nullptr) {
      return nullptr;
    }
    c->map.emplace(key, e);
    if (is_user_key(key)) {
      push_front(c, e);
      c->bytes += cost(e);
      c->entries++;
      trim(c);
      it = c->map.find(key);  // e itself if the bound left room for it
      e = it == c->map.end() ? nullptr : it->second;
    }
  } else if (e != nullptr && is_user_key(key) && c->head != e) {
    unlink(c, e);
    push_front(c, e);
  }
  return e;
}

}  // namespace

std::string code_key_static(const char* source) {
  std::string key(1 + sizeof(source), 's');
  memcpy(&key[1], &source, sizeof(source));
  return key;
}

bool code_key_user(char kind,
                   const char* url,
                   const char* source,
                   size_t len,
                   std::string* key) {
  if (!g_code_on.load(std::memory_order_relaxed)) {
    return false;  // --code-cache-mb 0: nothing hashed, no lock taken
  }
  thread_local Digest digest;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_MD_CTX* ctx = digest.ctx;
  if (ctx == nullptr || sha256() == nullptr ||
      !EVP_DigestInit_ex(ctx, sha256(), nullptr) ||
      !EVP_DigestUpdate(ctx, url, strlen(url) + 1) ||  // its NUL too
      !EVP_DigestUpdate(ctx, source, len) ||
      !EVP_DigestFinal_ex(ctx, md, &mdlen)) {
    return false;
  }
  uint32_t tag = ScriptCompiler::CachedDataVersionTag();
  key->assign(1, kind);
  key->append(reinterpret_cast<const char*>(md), mdlen);
  key->append(reinterpret_cast<const char*>(&tag), sizeof(tag));
  return true;
}

std::shared_ptr<const std::vector<uint8_t>> code_take(const std::string& key) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  Entry* e = find(cache(), key, false);
  return e != nullptr ? e->data : nullptr;
}

bool code_compiled(const std::string& key,
                   const std::vector<uint8_t>* used,
                   bool rejected) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  Cache* c = cache();
  bool module = is_user_key(key);
  if (used != nullptr && !rejected) {
    c->hits += module;
    return false;
  }
  c->misses += module;
  c->rejected += module && rejected;
  Entry* e = find(c, key, true);
  if (e == nullptr) {
    return false;
  }
  if (rejected && e->data.get() == used) {
    if (module) {
      c->bytes -= e->data->size();
      c->cached--;
    }
    e->data = nullptr;
  }
  e->compiled += e->compiled < 2;  // the second is what counts
  bool make = e->compiled >= 2 && e->data == nullptr && !e->claimed;
  e->claimed = e->claimed || make;
  return make;
}

void code_store(const std::string& key,
                const ScriptCompiler::CachedData* made) {
  std::shared_ptr<const std::vector<uint8_t>> data;
  if (made != nullptr && made->length > 0) {
    data = std::make_shared<const std::vector<uint8_t>>(
        made->data, made->data + made->length);
  }
  std::lock_guard<std::mutex> lock(g_code_mu);
  Cache* c = cache();
  auto it = c->map.find(key);
  if (it == c->map.end()) {
    return;  // evicted while it was made
  }
  Entry* e = it->second;
  e->claimed = false;
  if (data == nullptr || e->data != nullptr) {
    return;
  }
  if (is_user_key(key)) {
    if (data->size() > c->limit / 4) {
      return;
    }
    c->bytes += data->size();
    c->cached++;
    c->made++;
    e->data = std::move(data);
    if (c->exporting && c->made_keys.size() < kMadeMax) {
      c->made_keys.push_back(key);
    }
    trim(c);
  } else {
    e->data = std::move(data);
  }
}

void code_unclaim(const std::string& key) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  auto it = cache()->map.find(key);
  if (it != cache()->map.end()) {
    it->second->claimed = false;
  }
}

}  // namespace v8s

using namespace v8s;

extern "C" {

void v8s_code_cache_stats(v8s_code_stats* out) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  Cache* c = cache();
  out->hits = c->hits;
  out->misses = c->misses;
  out->rejected = c->rejected;
  out->made = c->made;
  out->evicted = c->evicted;
  out->bytes = c->bytes;
  out->entries = c->entries;
  out->cached = c->cached;
  out->limit = c->limit;
  out->put = c->put;
  out->tag = ScriptCompiler::CachedDataVersionTag();
}

void v8s_code_cache_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  Cache* c = cache();
  c->limit = bytes;
  g_code_on.store(bytes > 0, std::memory_order_relaxed);
  trim(c);
}

void v8s_code_cache_export(int on) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  Cache* c = cache();
  c->exporting = on != 0;
  if (!c->exporting) {
    c->made_keys.clear();
  }
}

int v8s_code_cache_next_made(v8s_code_entry_cb cb, void* arg) {
  std::shared_ptr<const std::vector<uint8_t>> data;
  std::string key;
  {
    std::lock_guard<std::mutex> lock(g_code_mu);
    Cache* c = cache();
    while (data == nullptr && !c->made_keys.empty()) {
      key = std::move(c->made_keys.front());
      c->made_keys.pop_front();
      auto it = c->map.find(key);  // gone or dropped since: the next
      if (it != c->map.end()) {
        data = it->second->data;
      }
    }
  }
  if (data == nullptr) {
    return 0;
  }
  cb(reinterpret_cast<const uint8_t*>(key.data()), key.size(), data->data(),
     data->size(), arg);
  return 1;
}

int v8s_code_cache_put(const uint8_t* key,
                       size_t key_len,
                       const uint8_t* data,
                       size_t len) {
  uint32_t tag = ScriptCompiler::CachedDataVersionTag();
  if (key_len != kModuleKeyLen || !is_user(static_cast<char>(key[0])) ||
      len == 0 || memcmp(key + key_len - sizeof(tag), &tag, sizeof(tag)) != 0) {
    return 0;
  }
  std::string k(reinterpret_cast<const char*>(key), key_len);
  std::shared_ptr<const std::vector<uint8_t>> bytes;
  try {
    bytes = std::make_shared<const std::vector<uint8_t>>(data, data + len);
  } catch (const std::bad_alloc&) {
    return 0;
  }
  std::lock_guard<std::mutex> lock(g_code_mu);
  Cache* c = cache();
  if (len > c->limit / 4) {
    return 0;
  }
  Entry* e = find(c, k, true);
  if (e == nullptr || e->data != nullptr) {
    return 0;  // no room, or it has one (made here, or put before)
  }
  c->bytes += len;
  c->cached++;
  c->put++;
  e->data = std::move(bytes);
  trim(c);
  return 1;
}

void v8s_code_cache_flip(size_t at) {
  std::lock_guard<std::mutex> lock(g_code_mu);
  for (Entry* e = cache()->head; e != nullptr; e = e->next) {
    if (e->data != nullptr && at < e->data->size()) {
      auto copy = std::make_shared<std::vector<uint8_t>>(*e->data);
      (*copy)[at] ^= 0xff;
      e->data = std::move(copy);
    }
  }
}

}  // extern "C"
