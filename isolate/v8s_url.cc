// v8s_url.cc: the natives of URL (bootstrap/prelude/70-url.js) on ada, the
// WHATWG URL parser Node uses (ada 2.7.8, built by
// isolate/CMakeLists.txt from the tarball scripts/deps.sh fetches).
//
// A parsed URL lives in JavaScript as its serialization (href, always
// ASCII) plus the offsets ada computes into it (ada::url_components), so
// every getter is a slice of a string and only parsing and the setters
// cross into C++. Each native writes the offsets into the Uint32Array the
// prelude passes first (kSlots of them, see put_components) and returns the
// href, or undefined when the input does not parse (the setters: when ada
// refuses the new value; the URL is then unchanged). Nothing is kept
// between calls: a setter parses the href again, as Node's binding does.
//
// Strings arrive as UTF-8 with lone surrogates as U+FFFD (utf8() in
// v8s_values.cc), the USVString conversion the URL standard asks for. The
// prelude checks the arguments; the natives check them again and throw a
// TypeError rather than trust them.

#include <ada.h>

#include <string>
#include <string_view>

#include "v8s_internal.h"

namespace v8s {

namespace {

// The offsets, in the order of ada::url_components, then the scheme type
// (ada::scheme::type: 0 http, 1 not special, 2 https, 3 ws, 4 ftp, 5 wss,
// 6 file). An absent component is 0xffffffff (ada's `omitted`).
constexpr size_t kSlots = 9;

static_assert(ada::scheme::type::HTTP == 0 && ada::scheme::type::FILE == 6,
              "70-url.js reads ada's scheme types as numbers");
static_assert(ada::url_components::omitted == 0xffffffffu,
              "70-url.js tests absent components against 0xffffffff");

// The Uint32Array of kSlots the results go to, or nullptr (a TypeError is
// thrown).
uint32_t* slots_of(Isolate* isolate, Local<Value> v) {
  if (!v->IsUint32Array() || v.As<v8::Uint32Array>()->Length() < kSlots) {
    throw_type(isolate, "url natives: expected a Uint32Array(9)");
    return nullptr;
  }
  Local<v8::Uint32Array> a = v.As<v8::Uint32Array>();
  return reinterpret_cast<uint32_t*>(
      static_cast<uint8_t*>(a->Buffer()->Data()) + a->ByteOffset());
}

// args[i] as UTF-8 (USVString), or false with a TypeError thrown.
bool arg_string(const FunctionCallbackInfo<Value>& args,
                int i,
                std::string* out) {
  if (args.Length() <= i || !args[i]->IsString()) {
    throw_type(args.GetIsolate(), "url natives: expected a string");
    return false;
  }
  *out = utf8(args.GetIsolate(), args[i].As<String>());
  return true;
}

// Returns the URL's href to JavaScript and its offsets into `slots`.
void put_result(const FunctionCallbackInfo<Value>& args,
                uint32_t* slots,
                const ada::url_aggregator& url) {
  const ada::url_components& c = url.get_components();
  slots[0] = c.protocol_end;
  slots[1] = c.username_end;
  slots[2] = c.host_start;
  slots[3] = c.host_end;
  slots[4] = c.port;
  slots[5] = c.pathname_start;
  slots[6] = c.search_start;
  slots[7] = c.hash_start;
  slots[8] = static_cast<uint32_t>(url.type);
  std::string_view href = url.get_href();
  Local<String> s;
  if (href.size() > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromOneByte(
           args.GetIsolate(), reinterpret_cast<const uint8_t*>(href.data()),
           v8::NewStringType::kNormal, static_cast<int>(href.size()))
           .ToLocal(&s)) {
    args.GetIsolate()->ThrowException(
        v8::Exception::RangeError(str(args.GetIsolate(), "URL too long")));
    return;
  }
  args.GetReturnValue().Set(s);
}

// urlParse(slots, input[, base]): input parsed against base (a string, or
// absent). Returns the href, or undefined when input or base does not
// parse.
void n_url_parse(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  uint32_t* slots =
      slots_of(isolate, args.Length() > 0 ? args[0]
                                          : v8::Undefined(isolate).As<Value>());
  std::string input;
  if (slots == nullptr || !arg_string(args, 1, &input)) {
    return;
  }
  if (args.Length() > 2 && !args[2]->IsUndefined()) {
    std::string base_text;
    if (!arg_string(args, 2, &base_text)) {
      return;
    }
    ada::result<ada::url_aggregator> base =
        ada::parse<ada::url_aggregator>(base_text);
    if (!base) {
      return;
    }
    ada::result<ada::url_aggregator> url =
        ada::parse<ada::url_aggregator>(input, &*base);
    if (url) {
      put_result(args, slots, *url);
    }
    return;
  }
  ada::result<ada::url_aggregator> url = ada::parse<ada::url_aggregator>(input);
  if (url) {
    put_result(args, slots, *url);
  }
}

// urlCanParse(input[, base]): whether input parses against base.
void n_url_can_parse(const FunctionCallbackInfo<Value>& args) {
  std::string input;
  if (!arg_string(args, 0, &input)) {
    return;
  }
  bool ok;
  if (args.Length() > 1 && !args[1]->IsUndefined()) {
    std::string base_text;
    if (!arg_string(args, 1, &base_text)) {
      return;
    }
    std::string_view base_view(base_text);
    ok = ada::can_parse(input, &base_view);
  } else {
    ok = ada::can_parse(input);
  }
  args.GetReturnValue().Set(ok);
}

// The setters urlSet takes, by the number 70-url.js passes (kUrlSetters
// there lists the same order).
struct Setter {
  const char* name;
  bool (*set)(ada::url_aggregator* url, std::string_view value);
};

const Setter kSetters[] = {
    {"protocol", [](ada::url_aggregator* u,
                    std::string_view v) { return u->set_protocol(v); }},
    {"username", [](ada::url_aggregator* u,
                    std::string_view v) { return u->set_username(v); }},
    {"password", [](ada::url_aggregator* u,
                    std::string_view v) { return u->set_password(v); }},
    {"host",
     [](ada::url_aggregator* u, std::string_view v) { return u->set_host(v); }},
    {"hostname", [](ada::url_aggregator* u,
                    std::string_view v) { return u->set_hostname(v); }},
    {"port",
     [](ada::url_aggregator* u, std::string_view v) { return u->set_port(v); }},
    {"pathname", [](ada::url_aggregator* u,
                    std::string_view v) { return u->set_pathname(v); }},
    {"search",
     [](ada::url_aggregator* u, std::string_view v) {
       u->set_search(v);
       return true;
     }},
    {"hash",
     [](ada::url_aggregator* u, std::string_view v) {
       u->set_hash(v);
       return true;
     }},
};

// urlSet(slots, href, setter, value): href (a URL's own serialization)
// with one component set, setter an index into kSetters. Returns the new
// href, or undefined when the setter refused the value.
void n_url_set(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  uint32_t* slots =
      slots_of(isolate, args.Length() > 0 ? args[0]
                                          : v8::Undefined(isolate).As<Value>());
  std::string href, value;
  if (slots == nullptr || !arg_string(args, 1, &href)) {
    return;
  }
  if (args.Length() < 3 || !args[2]->IsUint32() ||
      args[2].As<v8::Uint32>()->Value() >=
          sizeof(kSetters) / sizeof(kSetters[0])) {
    throw_type(isolate, "urlSet: unknown setter");
    return;
  }
  const Setter& setter = kSetters[args[2].As<v8::Uint32>()->Value()];
  if (!arg_string(args, 3, &value)) {
    return;
  }
  ada::result<ada::url_aggregator> url = ada::parse<ada::url_aggregator>(href);
  if (!url) {
    throw_type(isolate, "urlSet: not a URL's href");
    return;
  }
  if (setter.set(&*url, value)) {
    put_result(args, slots, *url);
  }
}

// urlOrigin(href): the origin's serialization ("null" for an opaque one).
void n_url_origin(const FunctionCallbackInfo<Value>& args) {
  std::string href;
  if (!arg_string(args, 0, &href)) {
    return;
  }
  ada::result<ada::url_aggregator> url = ada::parse<ada::url_aggregator>(href);
  if (!url) {
    throw_type(args.GetIsolate(), "urlOrigin: not a URL's href");
    return;
  }
  std::string origin = url->get_origin();
  args.GetReturnValue().Set(
      str(args.GetIsolate(), origin.data(), static_cast<int>(origin.size())));
}

}  // namespace

NativeTable url_natives() {
  static const NativeFn table[] = {
      {"urlParse", n_url_parse},
      {"urlCanParse", n_url_can_parse},
      {"urlSet", n_url_set},
      {"urlOrigin", n_url_origin},
  };
  return {table, sizeof(table) / sizeof(table[0])};
}

}  // namespace v8s
