// v8s_icu.cc: the natives of TextDecoder's CJK encodings
// (bootstrap/prelude/40-encoding.js: gbk, gb18030, big5, euc-jp,
// iso-2022-jp, shift_jis, euc-kr) on ICU's converters (ucnv). ICU is
// Debian's libicu72, the one libnode itself links (libicuuc.so.72): one
// ICU in the process.
//
// DESIGN: as v8s_zlib.cc does for zlib, a decoder's whole state lives in
// an ArrayBuffer the prelude holds: a header and a UConverter cloned into
// the buffer (ucnv_safeClone with the buffer as its "stack buffer"; ICU
// then allocates nothing, and ucnv_close would free nothing). So the GC
// frees a decoder nobody closed and nothing needs a finalizer. What a
// clone keeps outside the buffer is a reference count on the converter's
// shared table data, which ICU caches for the life of the process anyway
// (it is only unloaded by ucnv_flushCache, which nothing calls).
// ucnv_safeClone is deprecated since ICU 71 in favour of ucnv_clone,
// which always allocates; it is still in ICU 72 and does what this needs.
//
// ICU's converters are not the Encoding standard's decoders: which ICU
// table each encoding takes and where they differ (found against Deno,
// whose TextDecoder is encoding_rs, the standard's) is in
// bootstrap/README.md and tests/test_encoding.c.

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "v8s_internal.h"

namespace v8s {

namespace {

constexpr uint32_t kMagic = 0x69637564;  // "icud"
constexpr int32_t kCloneMax = 2048;      // ISO-2022's clone needs 728

// The encodings, as 40-encoding.js numbers them, and ICU's converter for
// each (names ICU 72 resolves without an ambiguity warning).
const char* const kConverters[] = {
    "gb18030",             // 0 gbk: the standard decodes it as gb18030
    "gb18030",             // 1 gb18030
    "ibm-1375_P100-2008",  // 2 big5 (Big5-HKSCS)
    "euc-jp-2007",         // 3 euc-jp (has JIS X 0212)
    "ISO_2022,locale=ja,version=0",  // 4 iso-2022-jp
    "ibm-943_P15A-2003",             // 5 shift_jis (windows-31j)
    "windows-949-2000",              // 6 euc-kr (windows-949)
};
constexpr uint32_t kEncodings = sizeof(kConverters) / sizeof(kConverters[0]);
constexpr uint32_t kGbk = 0;
constexpr uint32_t kGb18030 = 1;
constexpr uint32_t kBig5 = 2;
constexpr uint32_t kEucJp = 3;
constexpr uint32_t kIso2022Jp = 4;
constexpr uint32_t kShiftJis = 5;
constexpr uint32_t kEucKr = 6;

struct Decoder {
  uint32_t magic;
  uint32_t encoding;
  uint32_t fatal;   // the callback stops at the first error (set per call)
  uint32_t error;   // the callback saw an error in this call
  UConverter* cnv;  // inside clone[]
  alignas(16) unsigned char clone[kCloneMax];
};

// Where ICU's tables and the Encoding standard's indexes part (found by
// decoding every two-byte sequence with both, Deno being encoding_rs, the
// standard's): code points from the standard's index-big5 and
// index-gb18030, sorted by their first column.
struct Pair {
  uint16_t from;
  uint16_t to;
};

// big5: ICU decodes these to the Private Use Area, the standard to...
const Pair kBig5Pua[] = {
    {0xf303, 0x31c0}, {0xf304, 0x31c1}, {0xf305, 0x31c2}, {0xf306, 0x31c3},
    {0xf307, 0x31c4}, {0xf309, 0x31c5}, {0xf30c, 0x31c6}, {0xf30d, 0x31c7},
    {0xf310, 0x31c8}, {0xf312, 0x31c9}, {0xf313, 0x31ca}, {0xf314, 0x31cb},
    {0xf315, 0x31cc}, {0xf317, 0x31cd}, {0xf318, 0x31ce}, {0xf34a, 0x23da},
    {0xf34b, 0x23db}, {0xf57a, 0x9fa6}, {0xf5a4, 0x9fa7}, {0xf5ab, 0x9fa8},
    {0xf5cc, 0x9fa9}, {0xf5ce, 0x9faa}, {0xf5d0, 0x9fab}, {0xf5d5, 0x9fac},
    {0xf5ec, 0x9fad}, {0xf5ed, 0x9fae}, {0xf5ef, 0x9faf}, {0xf602, 0x9fb2},
    {0xf61c, 0x9fb3}, {0xf7e5, 0x31cf}, {0xf7eb, 0x9fb0}, {0xf7ed, 0x9fb1},
};

// ...and ICU has nothing for these byte pairs (lead << 8 | trail).
const Pair kBig5Unassigned[] = {
    {0x87a4, 0x9f97}, {0x87ac, 0x9f96}, {0x8e69, 0x7bb8}, {0x8e6f, 0x7c06},
    {0x8e7e, 0x7cce}, {0x8eab, 0x7dd2}, {0x8eb4, 0x7e1d}, {0x8ecd, 0x8005},
    {0x8ed0, 0x8028}, {0x8f57, 0x83c1}, {0x8f69, 0x84a8}, {0x8f6e, 0x840f},
    {0x8fcb, 0x89a6}, {0x8fcc, 0x89a9}, {0x8ffe, 0x8d77}, {0x906d, 0x90fd},
    {0x907a, 0x92b9}, {0x90dc, 0x975c}, {0x90f1, 0x97ff}, {0x91bf, 0x9f16},
    {0x9244, 0x8503}, {0x92af, 0x5159}, {0x92b0, 0x515b}, {0x92b1, 0x515d},
    {0x92b2, 0x515e}, {0x92c8, 0x936e}, {0x92d1, 0x7479}, {0x9447, 0x6d67},
    {0x94ca, 0x799b}, {0x95d9, 0x9097}, {0x9644, 0x975d}, {0x96ed, 0x701e},
    {0x96fc, 0x5b28}, {0x9b76, 0x7201}, {0x9b78, 0x77d7}, {0x9b7b, 0x7e87},
    {0x9bc6, 0x99d6}, {0x9bde, 0x91d4}, {0x9bec, 0x60de}, {0x9bf6, 0x6fb6},
    {0x9c42, 0x8f36}, {0x9c53, 0x4fbb}, {0x9c62, 0x71df}, {0x9c68, 0x9104},
    {0x9c6b, 0x9df0}, {0x9c77, 0x83cf}, {0x9cbc, 0x5c10}, {0x9cbd, 0x79e3},
    {0x9cd0, 0x5a67}, {0x9d57, 0x8f0b}, {0x9d5a, 0x7b51}, {0x9dc4, 0x62d0},
    {0x9ea9, 0x6062}, {0x9eef, 0x75f9}, {0x9efd, 0x6c4a}, {0x9f60, 0x9b2e},
    {0x9f66, 0x9f17}, {0x9fcb, 0x50ed}, {0x9fd8, 0x5f0c}, {0xa063, 0x880f},
    {0xa077, 0x62ce}, {0xa0d5, 0x7468}, {0xa0df, 0x7162}, {0xa0e4, 0x7250},
    {0xa3c0, 0x2400}, {0xa3c1, 0x2401}, {0xa3c2, 0x2402}, {0xa3c3, 0x2403},
    {0xa3c4, 0x2404}, {0xa3c5, 0x2405}, {0xa3c6, 0x2406}, {0xa3c7, 0x2407},
    {0xa3c8, 0x2408}, {0xa3c9, 0x2409}, {0xa3ca, 0x240a}, {0xa3cb, 0x240b},
    {0xa3cc, 0x240c}, {0xa3cd, 0x240d}, {0xa3ce, 0x240e}, {0xa3cf, 0x240f},
    {0xa3d0, 0x2410}, {0xa3d1, 0x2411}, {0xa3d2, 0x2412}, {0xa3d3, 0x2413},
    {0xa3d4, 0x2414}, {0xa3d5, 0x2415}, {0xa3d6, 0x2416}, {0xa3d7, 0x2417},
    {0xa3d8, 0x2418}, {0xa3d9, 0x2419}, {0xa3da, 0x241a}, {0xa3db, 0x241b},
    {0xa3dc, 0x241c}, {0xa3dd, 0x241d}, {0xa3de, 0x241e}, {0xa3df, 0x241f},
    {0xa3e0, 0x2421}, {0xc6cf, 0x5ef4}, {0xc6d3, 0x65e0}, {0xc6d5, 0x7676},
    {0xc6d7, 0x96b6}, {0xc6de, 0x3003}, {0xc6df, 0x4edd}, {0xfa5f, 0x5029},
    {0xfa66, 0x507d}, {0xfabd, 0x5305}, {0xfac5, 0x5344}, {0xfad5, 0x537f},
    {0xfb48, 0x5605}, {0xfbb8, 0x5a77}, {0xfbf3, 0x5e75}, {0xfbf9, 0x5ed0},
    {0xfc4f, 0x5f58}, {0xfc6c, 0x60a4}, {0xfcb9, 0x6490}, {0xfce2, 0x6674},
    {0xfcf1, 0x675e}, {0xfdb7, 0x6c9c}, {0xfdb8, 0x6e1d}, {0xfdbb, 0x6e2f},
    {0xfdf1, 0x716e}, {0xfe52, 0x732a}, {0xfe6f, 0x745c}, {0xfeaa, 0x74e9},
    {0xfedd, 0x7809},
};

// gb18030 (and gbk): ICU 72 has GB 18030-2005, whose Private Use Area
// code points the 2022 edition (and the standard) moved to their own.
const Pair kGbPua[] = {
    {0xe5e5, 0x3000}, {0xe78d, 0xfe10}, {0xe78e, 0xfe12}, {0xe78f, 0xfe11},
    {0xe790, 0xfe13}, {0xe791, 0xfe14}, {0xe792, 0xfe15}, {0xe793, 0xfe16},
    {0xe794, 0xfe17}, {0xe795, 0xfe18}, {0xe796, 0xfe19}, {0xe81e, 0x9fb4},
    {0xe826, 0x9fb5}, {0xe82b, 0x9fb6}, {0xe82c, 0x9fb7}, {0xe832, 0x9fb8},
    {0xe843, 0x9fb9}, {0xe854, 0x9fba}, {0xe864, 0x9fbb},
};

template <size_t N>
int lookup(const Pair (&table)[N], uint32_t from) {
  size_t lo = 0;
  size_t hi = N;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (table[mid].from == from) {
      return table[mid].to;
    }
    if (table[mid].from < from) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return -1;
}

// The to-Unicode callback: an illegal, unassigned or truncated sequence
// becomes one U+FFFD, or (fatal) stops the conversion.
void to_u_cb(const void* context,
             UConverterToUnicodeArgs* args,
             const char* codeUnits,
             int32_t length,
             UConverterCallbackReason reason,
             UErrorCode* err) {
  if (reason != UCNV_UNASSIGNED && reason != UCNV_ILLEGAL &&
      reason != UCNV_IRREGULAR) {
    return;  // reset, close, clone: nothing to write
  }
  Decoder* d = static_cast<Decoder*>(const_cast<void*>(context));
  // The standard decodes a lone 0x80 where ICU has none: gb18030's (and
  // gbk's) is U+20AC, shift_jis's is U+0080.
  if (reason != UCNV_IRREGULAR && length == 1 &&
      static_cast<unsigned char>(codeUnits[0]) == 0x80 &&
      (d->encoding == kGbk || d->encoding == kGb18030 ||
       d->encoding == kShiftJis)) {
    *err = U_ZERO_ERROR;
    const UChar c = d->encoding == kShiftJis ? 0x80 : 0x20ac;
    ucnv_cbToUWriteUChars(args, &c, 1, 0, err);
    return;
  }
  if (d->encoding == kBig5 && length == 2) {
    int c =
        lookup(kBig5Unassigned, static_cast<unsigned char>(codeUnits[0]) << 8 |
                                    static_cast<unsigned char>(codeUnits[1]));
    if (c >= 0) {
      *err = U_ZERO_ERROR;
      const UChar u = static_cast<UChar>(c);
      ucnv_cbToUWriteUChars(args, &u, 1, 0, err);
      return;
    }
  }
  d->error = 1;
  if (d->fatal) {
    return;  // *err stays the error: the conversion stops
  }
  *err = U_ZERO_ERROR;
  // A pair whose trail byte is ASCII: the standard's decoder gives U+FFFD
  // and decodes that byte again (as itself: ASCII is one byte in all of
  // these but iso-2022-jp, whose escapes ICU handles itself); ICU takes
  // both bytes.
  UChar units[2] = {0xfffd, 0};
  int32_t count = 1;
  // (ICU gives 0xFF and its next byte, then decodes that byte again)
  unsigned char lead = length == 2 ? codeUnits[0] : 0;
  unsigned char trail =
      length == 2 && lead >= 0x81 && lead <= 0xfe ? codeUnits[1] : 0xff;
  bool gb = d->encoding == kGbk || d->encoding == kGb18030;
  if (trail < 0x80 && d->encoding != kIso2022Jp &&
      !(gb && trail >= 0x30 && trail <= 0x39)) {  // gb18030's 4-byte form
    units[1] = trail;
    count = 2;
  }
  ucnv_cbToUWriteUChars(args, units, count, 0, err);
}

// What ICU's output needs to be the standard's, unit by unit (offsets:
// each unit's first byte in src, -1 for bytes an earlier call kept):
//  - gb18030, gbk: kGbPua's code points;
//  - big5: kBig5Pua's, the four HKSCS pairs the standard decodes to two
//    code points each (ICU: one in the Private Use Area), and any other
//    Private Use Area code point is an error (ICU fills the user-defined
//    rows; the standard's index has none): U+FFFD, and an ASCII trail
//    byte is decoded again, as the standard's decoder does;
//  - euc-kr: a Private Use Area code point is an error in the same way;
//  - euc-jp, euc-kr: a C1 control (ICU passes bytes 0x80..0x9F through;
//    the standard has no such single bytes) is an error;
//  - shift_jis: byte 0x7F is U+007F (ICU's table says U+001A).
// False: an error when fatal.
bool fix_up(const Decoder* d,
            const char* src,
            size_t n,
            const std::vector<int32_t>& offsets,
            std::vector<UChar>* out,
            size_t* len) {
  bool changed = false;
  std::vector<UChar> fixed;
  fixed.reserve(*len + 16);
  for (size_t i = 0; i < *len; i++) {
    UChar c = (*out)[i];
    int32_t at = offsets[i];
    bool pua = c >= 0xe000 && c <= 0xf8ff;
    bool bad = false;
    int to = -1;
    switch (d->encoding) {
      case kGbk:
      case kGb18030:
        to = pua ? lookup(kGbPua, c) : -1;
        break;
      case kBig5:
        if (c == 0xf325 || c == 0xf327 || c == 0xf344 || c == 0xf346) {
          fixed.push_back(c < 0xf340 ? 0x00ca : 0x00ea);
          fixed.push_back(c == 0xf325 || c == 0xf344 ? 0x0304 : 0x030c);
          changed = true;
          continue;
        }
        if (pua) {
          to = lookup(kBig5Pua, c);
          bad = to < 0;
        }
        break;
      case kEucKr:
        bad = pua || (c >= 0x80 && c <= 0x9f);
        break;
      case kEucJp:
        bad = c >= 0x80 && c <= 0x9f;
        break;
      case kShiftJis:
        if (c == 0x1a && at >= 0 && static_cast<size_t>(at) < n &&
            static_cast<unsigned char>(src[at]) == 0x7f) {
          to = 0x7f;
        }
        break;
      default:
        break;
    }
    if (bad) {
      if (d->fatal) {
        return false;
      }
      fixed.push_back(0xfffd);
      // the pair's trail: after its lead, or this call's first byte when
      // the lead was kept from the last call (offset -1)
      size_t trail = at >= 0 ? static_cast<size_t>(at) + 1 : 0;
      if (pua && trail < n && static_cast<unsigned char>(src[trail]) < 0x80) {
        fixed.push_back(static_cast<unsigned char>(src[trail]));
      }
      changed = true;
    } else if (to >= 0) {
      fixed.push_back(static_cast<UChar>(to));
      changed = true;
    } else {
      fixed.push_back(c);
    }
  }
  if (changed) {
    *out = std::move(fixed);
    *len = out->size();
  }
  return true;
}

Decoder* decoder_of(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() < 1 || !args[0]->IsArrayBuffer()) {
    throw_type(args.GetIsolate(), "icu natives: expected a decoder");
    return nullptr;
  }
  Local<v8::ArrayBuffer> buffer = args[0].As<v8::ArrayBuffer>();
  Decoder* d = static_cast<Decoder*>(buffer->Data());
  if (d == nullptr || buffer->ByteLength() != sizeof(Decoder) ||
      d->magic != kMagic || d->encoding >= kEncodings ||
      d->cnv != reinterpret_cast<UConverter*>(d->clone)) {
    throw_type(args.GetIsolate(), "icu natives: expected a decoder");
    return nullptr;
  }
  return d;
}

// icuDecoderNew(encoding): a new decoder's ArrayBuffer, or undefined when
// ICU lacks the converter (its data not installed).
void n_icu_decoder_new(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsUint32() ||
      args[0].As<v8::Uint32>()->Value() >= kEncodings) {
    throw_type(isolate, "icuDecoderNew: expected an encoding");
    return;
  }
  uint32_t encoding = args[0].As<v8::Uint32>()->Value();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(isolate, sizeof(Decoder));
  if (!store || store->Data() == nullptr ||
      reinterpret_cast<uintptr_t>(store->Data()) % alignof(Decoder) != 0) {
    isolate->ThrowException(v8::Exception::RangeError(
        str(isolate, "icuDecoderNew: no memory for a decoder")));
    return;
  }
  Decoder* d = static_cast<Decoder*>(store->Data());
  memset(d, 0, sizeof(Decoder));
  d->magic = kMagic;
  d->encoding = encoding;
  UErrorCode err = U_ZERO_ERROR;
  UConverter* cnv = ucnv_open(kConverters[encoding], &err);
  if (U_FAILURE(err) || cnv == nullptr) {
    return;  // undefined: the prelude says the encoding is not supported
  }
  int32_t size = kCloneMax;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  UConverter* clone = ucnv_safeClone(cnv, d->clone, &size, &err);
#pragma GCC diagnostic pop
  if (U_FAILURE(err) || err == U_SAFECLONE_ALLOCATED_WARNING ||
      clone != reinterpret_cast<UConverter*>(d->clone)) {
    // ICU put it on the heap after all: give it back and refuse
    if (clone != nullptr) {
      ucnv_close(clone);
    }
    ucnv_close(cnv);
    isolate->ThrowException(v8::Exception::Error(
        str(isolate, "icuDecoderNew: ICU could not clone the converter")));
    return;
  }
  ucnv_close(cnv);
  d->cnv = clone;
  err = U_ZERO_ERROR;
  ucnv_setToUCallBack(clone, to_u_cb, d, nullptr, nullptr, &err);
  if (U_FAILURE(err)) {
    isolate->ThrowException(v8::Exception::Error(
        str(isolate, "icuDecoderNew: ICU refused the callback")));
    return;
  }
  args.GetReturnValue().Set(v8::ArrayBuffer::New(isolate, std::move(store)));
}

// icuDecode(decoder, bytes, stream, fatal): the text of bytes (a
// Uint8Array) after what the decoder kept from the last streaming call;
// keeps an incomplete sequence (and iso-2022-jp's state) when stream.
// Fatal: the first error is a TypeError ("The encoded data is not
// valid"), and the decoder starts over. Not streaming, it starts over
// after the call too.
void n_icu_decode(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Decoder* d = decoder_of(args);
  if (d == nullptr) {
    return;
  }
  if (args.Length() < 4 || !args[1]->IsUint8Array()) {
    throw_type(isolate, "icuDecode: expected bytes");
    return;
  }
  Local<v8::Uint8Array> view = args[1].As<v8::Uint8Array>();
  size_t n = view->ByteLength();
  const char* src = n == 0 ? nullptr
                           : static_cast<const char*>(view->Buffer()->Data()) +
                                 view->ByteOffset();
  bool stream = args[2]->BooleanValue(isolate);
  d->fatal = args[3]->BooleanValue(isolate) ? 1 : 0;
  d->error = 0;
  // ICU gives at most one UTF-16 unit per byte here (a big5 pair's two
  // code points, a 4-byte gb18030 sequence's surrogate pair, U+FFFD and
  // an ASCII byte again: never more units than bytes), plus what the
  // converter kept from the last call and a U+FFFD for it at the end.
  if (n > static_cast<size_t>(String::kMaxLength) - 64) {
    isolate->ThrowException(v8::Exception::RangeError(
        str(isolate, "TextDecoder: the input is too long to decode")));
    return;
  }
  // In slices of kSlice bytes, so the units and their offsets (what
  // fix_up needs) for a large input are not held all at once.
  constexpr size_t kSlice = 1 << 20;
  std::vector<UChar> text;
  text.reserve(n + 64);
  std::vector<UChar> out;
  std::vector<int32_t> offsets;
  size_t at = 0;
  do {
    size_t take = n - at < kSlice ? n - at : kSlice;
    bool last = at + take == n;
    out.resize(take + 64);
    offsets.resize(out.size());
    const char* slice = src == nullptr ? nullptr : src + at;
    UChar* target = out.data();
    const char* source = slice;
    UErrorCode err = U_ZERO_ERROR;
    ucnv_toUnicode(d->cnv, &target, out.data() + out.size(), &source,
                   slice == nullptr ? nullptr : slice + take, offsets.data(),
                   last && !stream, &err);
    size_t len = static_cast<size_t>(target - out.data());
    if (U_FAILURE(err) || (d->fatal && d->error) ||
        !fix_up(d, slice, take, offsets, &out, &len)) {
      ucnv_resetToUnicode(d->cnv);
      if (d->error || err != U_BUFFER_OVERFLOW_ERROR) {
        throw_type(isolate, "The encoded data is not valid");
      } else {
        isolate->ThrowException(v8::Exception::Error(
            str(isolate, "TextDecoder: ICU's output did not fit")));
      }
      return;
    }
    text.insert(text.end(), out.begin(), out.begin() + len);
    at += take;
  } while (at < n);
  if (!stream) {
    ucnv_resetToUnicode(d->cnv);
  }
  Local<String> result;
  if (text.size() > static_cast<size_t>(String::kMaxLength) ||
      !String::NewFromTwoByte(
           isolate, reinterpret_cast<const uint16_t*>(text.data()),
           v8::NewStringType::kNormal, static_cast<int>(text.size()))
           .ToLocal(&result)) {
    if (!isolate->IsExecutionTerminating()) {
      isolate->ThrowException(v8::Exception::RangeError(
          str(isolate, "TextDecoder: the text is too long")));
    }
    return;
  }
  args.GetReturnValue().Set(result);
}

}  // namespace

NativeTable icu_natives() {
  static const NativeFn table[] = {
      {"icuDecoderNew", n_icu_decoder_new},
      {"icuDecode", n_icu_decode},
  };
  return {table, sizeof(table) / sizeof(table[0])};
}

}  // namespace v8s
