// v8s_msgpack.cc: JavaScript values to msgpack and back (the mapping is
// docs/values.md).
//
// The Encoder walks a value without running JavaScript beyond its getters
// and refuses what cannot be sent (functions, symbols, cycles, BigInts
// outside int64) with an error naming where; it checks its size and a
// termination at every element. The Decoder reads hostile bytes: counts are
// checked against what is left before anything is allocated, nesting is
// bounded by kMaxDepth, and a map becomes a plain object only when every
// key is a string.

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "v8s_internal.h"

namespace v8s {

// ---- Encoder ----

// Checked at every container element: a huge sparse array or map would
// otherwise grow the buffer outside V8's heap limit.
bool Encoder::over() {
  if (iso_of(isolate)->stop_requested.load(std::memory_order_relaxed)) {
    return true; /* stopped: element reads of holes never notice */
  }
  if (w.out.size() <= limit) {
    return false;
  }
  if (!too_big) {
    too_big = true;
    fail("the value is larger than " + std::to_string(limit) +
         " bytes of msgpack");
  }
  return true;
}

bool Encoder::fail(const std::string& what) {
  if (err.empty()) {
    err = what;
  }
  return false;
}

bool Encoder::string(Local<String> s) {
  int n = s->Utf8Length(isolate);
  w.str_head(n);
  size_t at = w.out.size();
  w.out.resize(at + n);
  s->WriteUtf8(isolate, &w.out[at], n, nullptr,
               String::NO_NULL_TERMINATION | String::REPLACE_INVALID_UTF8);
  return true;
}

// A value as a string, without running JavaScript (to_std).
bool Encoder::text(Local<Value> v) {
  if (v->IsString()) {
    return string(v.As<String>());
  }
  std::string t = to_std(isolate, v);
  w.str_head(t.size());
  w.raw(t.data(), t.size());
  return true;
}

bool Encoder::number(double d) {
  if (std::isfinite(d) && d == std::floor(d) && d >= -9223372036854775808.0 &&
      d < 9223372036854775808.0 && !(d == 0 && std::signbit(d))) {
    w.int64(static_cast<int64_t>(d));
  } else {
    w.float64(d);
  }
  return true;
}

bool Encoder::value(Local<Value> v, const std::string& where) {
  if (v->IsUndefined() || v->IsNull()) {
    w.nil();
    return true;
  }
  if (v->IsBoolean()) {
    w.boolean(v->IsTrue());
    return true;
  }
  if (v->IsNumber()) {
    return number(v.As<Number>()->Value());
  }
  if (v->IsString()) {
    return string(v.As<String>());
  }
  if (v->IsBigInt()) {
    bool lossless = false;
    int64_t i = v.As<BigInt>()->Int64Value(&lossless);
    if (!lossless) {
      return fail(where + " is a BigInt outside the int64 range");
    }
    w.int64(i);
    return true;
  }
  if (v->IsSymbol()) {
    return fail(where + " is a symbol, which cannot be sent");
  }
  if (v->IsFunction()) {
    return fail(where + " is a function, which cannot be sent");
  }
  if (v->IsNumberObject() || v->IsStringObject() || v->IsBooleanObject()) {
    if (v->IsNumberObject()) {
      return number(v.As<v8::NumberObject>()->ValueOf());
    }
    if (v->IsBooleanObject()) {
      w.boolean(v.As<v8::BooleanObject>()->ValueOf());
      return true;
    }
    return string(v.As<v8::StringObject>()->ValueOf());
  }
  if (v->IsDate()) {
    double ms = v.As<v8::Date>()->ValueOf();
    if (!std::isfinite(ms)) {
      return fail(where + " is an invalid Date");
    }
    w.timestamp(ms);
    return true;
  }
  const uint8_t* p;
  size_t n;
  if (view_bytes(v, &p, &n)) {
    w.bin(p, n);
    return true;
  }
  if (v->IsPromise()) {
    return fail(where + " is a Promise, which cannot be sent (await it)");
  }
  if (!v->IsObject()) {
    return fail(where + " has a type that cannot be sent");
  }
  Local<Object> obj = v.As<Object>();
  for (const Local<Object>& o : path) {
    if (o == obj) {
      return fail(where + " is a cycle (the value refers to itself)");
    }
  }
  if (path.size() >= static_cast<size_t>(kMaxDepth)) {
    return fail(where + " is nested too deeply");
  }
  path.push_back(obj);
  bool ok = container(obj, where);
  path.pop_back();
  return ok;
}

bool Encoder::container(Local<Object> obj, const std::string& where) {
  if (obj->IsArray()) {
    Local<Array> a = obj.As<Array>();
    uint32_t n = a->Length();
    w.array_head(n);
    for (uint32_t i = 0; i < n; i++) {
      Local<Value> e;
      if (over()) {
        return false;
      }
      if (!a->Get(context, i).ToLocal(&e)) {
        return fail(where + "[" + std::to_string(i) + "]: getter threw");
      }
      if (!value(e, where + "[" + std::to_string(i) + "]")) {
        return false;
      }
    }
    return true;
  }
  if (obj->IsMap()) {
    Local<Array> pairs = obj.As<v8::Map>()->AsArray();
    uint32_t n = pairs->Length() / 2;
    w.map_head(n);
    for (uint32_t i = 0; i < n * 2; i++) {
      if (over()) {
        return false;
      }
      Local<Value> e;
      if (!pairs->Get(context, i).ToLocal(&e)) {
        return fail(where + ": reading the Map failed");
      }
      if (!value(e, where + (i % 2 == 0 ? " (Map key)" : " (Map value)"))) {
        return false;
      }
    }
    return true;
  }
  if (obj->IsSet()) {
    Local<Array> items = obj.As<v8::Set>()->AsArray();
    uint32_t n = items->Length();
    w.array_head(n);
    for (uint32_t i = 0; i < n; i++) {
      if (over()) {
        return false;
      }
      Local<Value> e;
      if (!items->Get(context, i).ToLocal(&e)) {
        return fail(where + ": reading the Set failed");
      }
      if (!value(e, where + " (Set item)")) {
        return false;
      }
    }
    return true;
  }
  if (obj->IsNativeError()) {
    w.map_head(2);
    w.str_head(4), w.raw("name", 4);
    Local<Value> name, message;
    if (!obj->Get(context, str(isolate, "name")).ToLocal(&name) ||
        !obj->Get(context, str(isolate, "message")).ToLocal(&message)) {
      return fail(where + ": reading the error failed");
    }
    // name and message may be anything (a Symbol, an object whose
    // toString throws): their detail strings, which run no JavaScript
    text(name);
    w.str_head(7), w.raw("message", 7);
    return text(message);
  }
  Local<Array> keys;
  if (!obj->GetOwnPropertyNames(context, v8::ONLY_ENUMERABLE,
                                v8::KeyConversionMode::kConvertToString)
           .ToLocal(&keys)) {
    return fail(where + ": reading its keys failed");
  }
  uint32_t n = keys->Length();
  w.map_head(n);
  for (uint32_t i = 0; i < n; i++) {
    if (over()) {
      return false;
    }
    Local<Value> k, e;
    if (!keys->Get(context, i).ToLocal(&k) || !k->IsString()) {
      return fail(where + ": reading its keys failed");
    }
    if (!obj->Get(context, k).ToLocal(&e)) {
      return fail(where + ": a getter threw");
    }
    string(k.As<String>());
    if (!value(e, where + "." + to_std(isolate, k))) {
      return false;
    }
  }
  return true;
}

namespace {

struct Decoder {
  Isolate* isolate;
  Local<Context> context;
  const uint8_t* p;
  const uint8_t* end;
  std::string err;

  bool need(size_t n) {
    if (static_cast<size_t>(end - p) < n) {
      err = "truncated msgpack";
      return false;
    }
    return true;
  }
  uint64_t be(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
      v = (v << 8) | *p++;
    }
    return v;
  }
  bool length(int n, size_t* out) {
    if (!need(n)) {
      return false;
    }
    *out = static_cast<size_t>(be(n));
    return true;
  }
  Local<Value> integer(int64_t i) {
    if (i > 9007199254740991LL || i < -9007199254740991LL) {
      return BigInt::New(isolate, i);
    }
    return Number::New(isolate, static_cast<double>(i));
  }

  bool read(Local<Value>* out, int depth) {
    if (depth > kMaxDepth) {
      err = "msgpack nested too deeply";
      return false;
    }
    if (!need(1)) {
      return false;
    }
    uint8_t b = *p++;
    size_t n = 0;
    if (b <= 0x7f) {
      *out = Integer::New(isolate, b);
      return true;
    }
    if (b >= 0xe0) {
      *out = Integer::New(isolate, static_cast<int8_t>(b));
      return true;
    }
    if ((b & 0xf0) == 0x80) {
      return map(b & 0x0f, out, depth);
    }
    if ((b & 0xf0) == 0x90) {
      return array(b & 0x0f, out, depth);
    }
    if ((b & 0xe0) == 0xa0) {
      return string(b & 0x1f, out);
    }
    switch (b) {
      case 0xc0:
        *out = v8::Null(isolate);
        return true;
      case 0xc2:
        *out = v8::False(isolate);
        return true;
      case 0xc3:
        *out = v8::True(isolate);
        return true;
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return length(1 << (b - 0xc4), &n) && bin(n, out);
      case 0xc7:
      case 0xc8:
      case 0xc9:
        return length(1 << (b - 0xc7), &n) && ext(n, out);
      case 0xca: {
        if (!need(4)) {
          return false;
        }
        uint32_t bits = static_cast<uint32_t>(be(4));
        float f;
        memcpy(&f, &bits, 4);
        *out = Number::New(isolate, f);
        return true;
      }
      case 0xcb: {
        if (!need(8)) {
          return false;
        }
        uint64_t bits = be(8);
        double d;
        memcpy(&d, &bits, 8);
        *out = Number::New(isolate, d);
        return true;
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        int w = 1 << (b - 0xcc);
        if (!need(w)) {
          return false;
        }
        uint64_t u = be(w);
        if (u > 9007199254740991ULL) {
          *out = BigInt::NewFromUnsigned(isolate, u);
        } else {
          *out = integer(static_cast<int64_t>(u));
        }
        return true;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        int w = 1 << (b - 0xd0);
        if (!need(w)) {
          return false;
        }
        uint64_t u = be(w);
        int64_t i;
        if (w == 1) {
          i = static_cast<int8_t>(u);
        } else if (w == 2) {
          i = static_cast<int16_t>(u);
        } else if (w == 4) {
          i = static_cast<int32_t>(u);
        } else {
          i = static_cast<int64_t>(u);
        }
        *out = integer(i);
        return true;
      }
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return ext(static_cast<size_t>(1) << (b - 0xd4), out);
      case 0xd9:
      case 0xda:
      case 0xdb:
        return length(1 << (b - 0xd9), &n) && string(n, out);
      case 0xdc:
      case 0xdd:
        return length(b == 0xdc ? 2 : 4, &n) && array(n, out, depth);
      case 0xde:
      case 0xdf:
        return length(b == 0xde ? 2 : 4, &n) && map(n, out, depth);
      default:
        err = "invalid msgpack byte";
        return false;
    }
  }

  bool string(size_t n, Local<Value>* out) {
    if (!need(n) || n > static_cast<size_t>(String::kMaxLength)) {
      return false;
    }
    Local<String> s;
    if (!String::NewFromUtf8(isolate, reinterpret_cast<const char*>(p),
                             v8::NewStringType::kNormal, static_cast<int>(n))
             .ToLocal(&s)) {
      err = "string too long";
      return false;
    }
    p += n;
    *out = s;
    return true;
  }
  bool bin(size_t n, Local<Value>* out) {
    if (!need(n)) {
      return false;
    }
    Local<ArrayBuffer> ab;
    if (!new_buffer(isolate, n).ToLocal(&ab)) {
      err = kBufferFailed;
      return false;
    }
    if (n > 0) {  // an empty buffer's Data() may be NULL
      memcpy(ab->Data(), p, n);
    }
    p += n;
    *out = v8::Uint8Array::New(ab, 0, n);
    return true;
  }
  bool ext(size_t n, Local<Value>* out) {
    if (!need(1 + n)) {
      return false;
    }
    int8_t type = static_cast<int8_t>(*p++);
    if (type == -1 && (n == 4 || n == 8 || n == 12)) {
      int64_t sec;
      uint32_t nsec = 0;
      if (n == 4) {
        sec = static_cast<int64_t>(be(4));
      } else if (n == 8) {
        uint64_t v = be(8);
        nsec = static_cast<uint32_t>(v >> 34);
        sec = static_cast<int64_t>(v & ((1ULL << 34) - 1));
      } else {
        nsec = static_cast<uint32_t>(be(4));
        sec = static_cast<int64_t>(be(8));
      }
      double ms = static_cast<double>(sec) * 1000.0 + nsec / 1e6;
      if (!v8::Date::New(context, ms).ToLocal(out)) {
        err = "invalid timestamp";
        return false;
      }
      return true;
    }
    // Other extension types arrive as their bytes.
    return bin(n, out);
  }
  bool array(size_t n, Local<Value>* out, int depth) {
    if (n > static_cast<size_t>(end - p)) {
      err = "msgpack array count exceeds the message";
      return false;
    }
    std::vector<Local<Value>> elems;
    if (!elements(n, &elems, depth)) {
      return false;
    }
    // made from its elements: Set would run setters a job defined on
    // Array.prototype for the holes of an Array::New(n)
    *out = Array::New(isolate, elems.data(), elems.size());
    return true;
  }
  bool elements(size_t n, std::vector<Local<Value>>* out, int depth) {
    out->reserve(n);
    for (size_t i = 0; i < n; i++) {
      Local<Value> e;
      if (!read(&e, depth + 1)) {
        return false;
      }
      out->push_back(e);
    }
    return true;
  }
  // A top-level msgpack array straight into *out (a call's arguments).
  bool array_elements(std::vector<Local<Value>>* out) {
    if (!need(1)) {
      return false;
    }
    uint8_t b = *p++;
    size_t n = 0;
    if ((b & 0xf0) == 0x90) {
      n = b & 0x0f;
    } else if (b == 0xdc || b == 0xdd) {
      if (!length(b == 0xdc ? 2 : 4, &n)) {
        return false;
      }
    } else {
      err = "args must be a msgpack array";
      return false;
    }
    if (n > static_cast<size_t>(end - p)) {
      err = "msgpack array count exceeds the message";
      return false;
    }
    return elements(n, out, 0);
  }
  bool map(size_t n, Local<Value>* out, int depth) {
    if (n > static_cast<size_t>(end - p) / 2) {
      err = "msgpack map count exceeds the message";
      return false;
    }
    // Plain object when every key is a string, else a Map.
    std::vector<Local<Value>> kv;
    kv.reserve(n * 2);
    bool all_strings = true;
    for (size_t i = 0; i < n * 2; i++) {
      Local<Value> e;
      if (!read(&e, depth + 1)) {
        return false;
      }
      if (i % 2 == 0 && !e->IsString()) {
        all_strings = false;
      }
      kv.push_back(e);
    }
    if (all_strings) {
      Local<Object> o = Object::New(isolate);
      for (size_t i = 0; i < n * 2; i += 2) {
        if (!o->CreateDataProperty(context, kv[i].As<Name>(), kv[i + 1])
                 .FromMaybe(false)) {
          return false;
        }
      }
      *out = o;
    } else {
      Local<v8::Map> m = v8::Map::New(isolate);
      for (size_t i = 0; i < n * 2; i += 2) {
        if (m->Set(context, kv[i], kv[i + 1]).IsEmpty()) {
          return false;
        }
      }
      *out = m;
    }
    return true;
  }
};

}  // namespace

// Decodes one msgpack value for JavaScript; on failure *why (if given)
// says what went wrong: malformed bytes, or no memory for a buffer.
bool decode_value(Isolate* isolate,
                  Local<Context> context,
                  const uint8_t* p,
                  size_t n,
                  Local<Value>* out,
                  std::string* why) {
  if (n == 0) {
    *out = v8::Undefined(isolate);
    return true;
  }
  Decoder d{isolate, context, p, p + n, {}};
  if (d.read(out, 0) && d.p == d.end) {
    return true;
  }
  if (why != nullptr) {
    *why = d.err == kBufferFailed ? d.err : "op returned malformed msgpack";
  }
  return false;
}

}  // namespace v8s

using namespace v8s;

extern "C" {

int v8s_call_msgpack(v8s_isolate* iso,
                     v8s_ref ctx,
                     v8s_ref fn,
                     const uint8_t* args_mp,
                     size_t args_len,
                     v8s_ref* out,
                     v8s_exc* exc) {
  ENTER(iso, ctx);
  std::vector<Local<Value>> args;
  if (args_mp != nullptr && args_len > 0) {
    Decoder d{isolate, context, args_mp, args_mp + args_len, {}};
    if (!d.array_elements(&args) || d.p != d.end) {
      if (exc != nullptr) {
        v8s_exc_clear(exc);
        exc->name = strdup("TypeError");
        exc->message = strdup(d.err.empty() ? "args must be a msgpack array"
                                            : d.err.c_str());
      }
      return ISO_EPROTO;
    }
  }
  int rc = call_fn(iso, context, ref_value(iso, fn),
                   static_cast<int>(args.size()), args.data(), out, exc);
  if (rc != ISO_ETERMINATED) {
    int crc = checkpoint(iso, context);
    if (crc != 0) {
      rc = crc;
    }
  }
  return rc;
}

int v8s_to_msgpack(v8s_isolate* iso,
                   v8s_ref ctx,
                   v8s_ref value,
                   size_t max_bytes,
                   uint8_t** out,
                   size_t* out_len,
                   char* err,
                   size_t errlen) {
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Encoder e{isolate, context, max_bytes ? max_bytes : (size_t)256 << 20,
            {},      {},      {}};
  if (!e.value(ref_value(iso, value), "the value") || e.over()) {
    if (tc.HasTerminated() || iso->stop_requested.load()) {
      return ISO_ETERMINATED;
    }
    snprintf(err, errlen, "%s", e.err.c_str());
    return e.too_big ? ISO_ETOOBIG : ISO_ETYPE;
  }
  *out = static_cast<uint8_t*>(malloc(e.w.out.size() + 1));
  if (*out == nullptr) {
    return ISO_ENOMEM;
  }
  memcpy(*out, e.w.out.data(), e.w.out.size());
  *out_len = e.w.out.size();
  return 0;
}

}  // extern "C"
