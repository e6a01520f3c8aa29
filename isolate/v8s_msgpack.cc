// v8s_msgpack.cc: JavaScript values to msgpack and back (the mapping is
// docs/values.md).
//
// Both sides use the codec's msgpack (codec/iso_mp.h): the Encoder writes
// through its writer into an iso_buf, the Decoder reads with its bounded
// reader. What is JavaScript's is here. The Encoder walks a value without
// running JavaScript beyond its getters and refuses what cannot be sent
// (functions, symbols, cycles, BigInts outside int64) with an error naming
// where; it checks its size and a termination at every element. The
// Decoder reads hostile bytes: counts are checked against what is left
// before anything is allocated, nesting is bounded by kMaxDepth, and a map
// becomes a plain object only when every key is a string.

#include <cmath>
#include <cstdio>
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
  if (w.err == 0 && w.buf->len - start <= limit) {
    return false;
  }
  if (!too_big) {
    too_big = true;
    // ISO_ENOMEM from the writer, or ISO_ETOOBIG for a length past
    // msgpack's 32 bits (which is past any limit too)
    fail(w.err == ISO_ENOMEM ? std::string("out of memory for the msgpack")
                             : "the value is larger than " +
                                   std::to_string(limit) + " bytes of msgpack");
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
  iso_mp_put_str_head(&w, n);
  if (w.err == 0 && iso_buf_reserve(w.buf, n) != 0) {
    w.err = ISO_ENOMEM;
  }
  if (w.err != 0) {
    return true;  // over() reports it
  }
  s->WriteUtf8(isolate, reinterpret_cast<char*>(w.buf->data + w.buf->len), n,
               nullptr,
               String::NO_NULL_TERMINATION | String::REPLACE_INVALID_UTF8);
  w.buf->len += n;
  return true;
}

// A value as a string, without running JavaScript (to_std).
bool Encoder::text(Local<Value> v) {
  if (v->IsString()) {
    return string(v.As<String>());
  }
  std::string t = to_std(isolate, v);
  iso_mp_put_str(&w, t.data(), t.size());
  return true;
}

bool Encoder::number(double d) {
  if (std::isfinite(d) && d == std::floor(d) && d >= -9223372036854775808.0 &&
      d < 9223372036854775808.0 && !(d == 0 && std::signbit(d))) {
    iso_mp_put_int(&w, static_cast<int64_t>(d));
  } else {
    iso_mp_put_double(&w, d);
  }
  return true;
}

bool Encoder::value(Local<Value> v, const std::string& where) {
  if (v->IsUndefined() || v->IsNull()) {
    iso_mp_put_nil(&w);
    return true;
  }
  if (v->IsBoolean()) {
    iso_mp_put_bool(&w, v->IsTrue());
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
    iso_mp_put_int(&w, i);
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
      iso_mp_put_bool(&w, v.As<v8::BooleanObject>()->ValueOf());
      return true;
    }
    return string(v.As<v8::StringObject>()->ValueOf());
  }
  if (v->IsDate()) {
    double ms = v.As<v8::Date>()->ValueOf();
    if (!std::isfinite(ms)) {
      return fail(where + " is an invalid Date");
    }
    // seconds and nanoseconds, the nanoseconds clamped below 1e9 (a
    // rounding of ms can reach it)
    double secs = std::floor(ms / 1000.0);
    uint32_t nsec = static_cast<uint32_t>((ms - secs * 1000.0) * 1e6);
    if (nsec >= 1000000000u) {
      nsec = 999999999u;
    }
    iso_mp_put_timestamp(&w, static_cast<int64_t>(secs), nsec);
    return true;
  }
  const uint8_t* p;
  size_t n;
  if (view_bytes(v, &p, &n)) {
    iso_mp_put_bin(&w, p, n);
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
    iso_mp_put_array(&w, n);
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
    iso_mp_put_map(&w, n);
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
    iso_mp_put_array(&w, n);
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
    iso_mp_put_map(&w, 2);
    iso_mp_put_str(&w, "name", 4);
    Local<Value> name, message;
    if (!obj->Get(context, str(isolate, "name")).ToLocal(&name) ||
        !obj->Get(context, str(isolate, "message")).ToLocal(&message)) {
      return fail(where + ": reading the error failed");
    }
    // name and message may be anything (a Symbol, an object whose
    // toString throws): their detail strings, which run no JavaScript
    text(name);
    iso_mp_put_str(&w, "message", 7);
    return text(message);
  }
  Local<Array> keys;
  if (!obj->GetOwnPropertyNames(context, v8::ONLY_ENUMERABLE,
                                v8::KeyConversionMode::kConvertToString)
           .ToLocal(&keys)) {
    return fail(where + ": reading its keys failed");
  }
  uint32_t n = keys->Length();
  iso_mp_put_map(&w, n);
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

// Reads with the codec's bounded reader (codec/iso_mp.h), which checks a
// count against the bytes left before anything is allocated; what is
// JavaScript's (depth, integers past 2^53 as BigInts, timestamps as Dates,
// maps as objects or Maps) and the error texts JavaScript sees are here.
struct Decoder {
  Isolate* isolate;
  Local<Context> context;
  iso_mp_rd r;
  std::string err;

  // The reader's error rc for the object that starts with byte b.
  bool failed(int rc, uint8_t b) {
    if (rc == ISO_MP_ECOUNT) {
      bool is_map = (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
      err = is_map ? "msgpack map count exceeds the message"
                   : "msgpack array count exceeds the message";
    } else if (rc == ISO_MP_EBYTE) {
      err = "invalid msgpack byte";
    } else {
      err = "truncated msgpack";
    }
    return false;
  }
  Local<Value> integer(int64_t i) {
    if (i > 9007199254740991LL || i < -9007199254740991LL) {
      return BigInt::New(isolate, i);
    }
    if (i >= INT32_MIN && i <= INT32_MAX) {
      return Integer::New(isolate, static_cast<int32_t>(i));
    }
    return Number::New(isolate, static_cast<double>(i));
  }

  bool read(Local<Value>* out, int depth) {
    if (depth > kMaxDepth) {
      err = "msgpack nested too deeply";
      return false;
    }
    uint8_t b = r.p < r.end ? *r.p : 0;
    iso_mp_obj o;
    int rc = iso_mp_read(&r, &o);
    if (rc != 0) {
      return failed(rc, b);
    }
    switch (o.type) {
      case ISO_MP_NIL:
        *out = v8::Null(isolate);
        return true;
      case ISO_MP_BOOL:
        *out = o.v.b ? v8::True(isolate) : v8::False(isolate);
        return true;
      case ISO_MP_UINT:
        if (o.v.u > 9007199254740991ULL) {
          *out = BigInt::NewFromUnsigned(isolate, o.v.u);
        } else {
          *out = integer(static_cast<int64_t>(o.v.u));
        }
        return true;
      case ISO_MP_INT:
        *out = integer(o.v.i);
        return true;
      case ISO_MP_F32:
      case ISO_MP_F64:
        *out = Number::New(isolate, o.v.f);
        return true;
      case ISO_MP_STR:
        return string(o.data, o.len, out);
      case ISO_MP_BIN:
        return bin(o.data, o.len, out);
      case ISO_MP_EXT:
        return ext(o, out);
      case ISO_MP_ARRAY:
        return array(o.len, out, depth);
      case ISO_MP_MAP:
        return map(o.len, out, depth);
    }
    err = "invalid msgpack byte";
    return false;
  }

  bool string(const uint8_t* p, size_t n, Local<Value>* out) {
    if (n > static_cast<size_t>(String::kMaxLength)) {
      return false;
    }
    Local<String> s;
    if (!String::NewFromUtf8(isolate, reinterpret_cast<const char*>(p),
                             v8::NewStringType::kNormal, static_cast<int>(n))
             .ToLocal(&s)) {
      err = "string too long";
      return false;
    }
    *out = s;
    return true;
  }
  bool bin(const uint8_t* p, size_t n, Local<Value>* out) {
    Local<ArrayBuffer> ab;
    if (!new_buffer(isolate, n).ToLocal(&ab)) {
      err = kBufferFailed;
      return false;
    }
    if (n > 0) {  // an empty buffer's Data() may be NULL
      memcpy(ab->Data(), p, n);
    }
    *out = v8::Uint8Array::New(ab, 0, n);
    return true;
  }
  bool ext(const iso_mp_obj& o, Local<Value>* out) {
    int64_t sec;
    uint32_t nsec;
    if (iso_mp_timestamp(&o, &sec, &nsec)) {
      double ms = static_cast<double>(sec) * 1000.0 + nsec / 1e6;
      if (!v8::Date::New(context, ms).ToLocal(out)) {
        err = "invalid timestamp";
        return false;
      }
      return true;
    }
    // Other extension types arrive as their bytes.
    return bin(o.data, o.len, out);
  }
  bool array(size_t n, Local<Value>* out, int depth) {
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
    if (r.p >= r.end) {
      err = "truncated msgpack";
      return false;
    }
    uint8_t b = *r.p;
    if ((b & 0xf0) != 0x90 && b != 0xdc && b != 0xdd) {
      err = "args must be a msgpack array";
      return false;
    }
    iso_mp_obj o;
    int rc = iso_mp_read(&r, &o);
    if (rc != 0) {
      return failed(rc, b);
    }
    return elements(o.len, out, 0);
  }
  bool map(size_t n, Local<Value>* out, int depth) {
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
  Decoder d{isolate, context, {}, {}};
  iso_mp_rd_init(&d.r, p, n);
  if (d.read(out, 0) && d.r.p == d.r.end) {
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
    Decoder d{isolate, context, {}, {}};
    iso_mp_rd_init(&d.r, args_mp, args_len);
    if (!d.array_elements(&args) || d.r.p != d.r.end) {
      if (exc != nullptr) {
        v8s_exc_close(exc);
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
                   iso_buf* out,
                   char* err,
                   size_t errlen) {
  ENTER(iso, ctx);
  TryCatch tc(isolate);
  Encoder e(isolate, context, max_bytes ? max_bytes : (size_t)256 << 20, out);
  if (!e.value(ref_value(iso, value), "the value") || e.over()) {
    out->len = e.start;  // what the caller had, nothing of the value
    if (tc.HasTerminated() || iso->stop_requested.load()) {
      return ISO_ETERMINATED;
    }
    snprintf(err, errlen, "%s", e.err.c_str());
    return e.w.err == ISO_ENOMEM ? ISO_ENOMEM
           : e.too_big           ? ISO_ETOOBIG
                                 : ISO_ETYPE;
  }
  return 0;
}

}  // extern "C"
