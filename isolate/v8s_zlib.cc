// v8s_zlib.cc: the natives of CompressionStream and DecompressionStream
// (bootstrap/prelude/80-streams.js) on zlib: "gzip", "deflate" (zlib's
// format) and "deflate-raw", each way. zlib is Debian's libz.so.1, the
// one libnode itself links, so the process holds one zlib (no second copy
// whose symbols could clash).
//
// DESIGN: a stream's whole state lives in an ArrayBuffer the prelude holds
// (zlibNew makes it; the prelude never hands it to user code): a header,
// the z_stream, the output area, and a bump arena that zlib's zalloc
// takes its state and window from. So no memory is allocated outside V8's
// accounting, nothing needs a finalizer or a teardown hook, and a stream
// dropped unfinished (a reader that walks away) is freed with its buffer
// by the garbage collector. zlib frees its allocations only in
// deflateEnd/inflateEnd, which are never called (they would hand the
// memory back to the arena, which goes as a whole); zlib keeps pointers
// into the buffer (its state points back at the z_stream) between calls,
// which holds because an ArrayBuffer's backing store never moves.
//
// Each zlibRun call runs zlib until its output area (kOut bytes) is full
// or its input is used up, and returns what came out as a new Uint8Array
// of that size: the prelude enqueues it and asks again only when the
// reader wants more, so a small input that inflates to gigabytes is read
// kOut bytes at a time (bounded memory). Corrupt input is a TypeError
// with Deno's messages (Deno decodes with flate2): "invalid gzip header",
// "corrupt gzip stream does not have a matching checksum", "corrupt
// deflate stream", and "failed to write whole buffer" for bytes after the
// end of the compressed data.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "v8s_internal.h"

namespace v8s {

namespace {

constexpr uint32_t kMagic = 0x7a6c6962;  // "zlib"
constexpr size_t kOut = 64 * 1024;       // the most one zlibRun returns

// zlib 1.2.13's allocations: deflate's state (~6 KiB) and its window,
// prev, head and pending buffers (64 KiB each at windowBits 15, memLevel
// 8); inflate's state (~7 KiB) and its 32 KiB window. With room to spare;
// a zalloc the arena cannot meet makes zlib fail with Z_MEM_ERROR, which
// is an Error, never an overrun.
constexpr size_t kDeflateArena = 288 * 1024;
constexpr size_t kInflateArena = 48 * 1024;

// Modes, as 80-streams.js numbers them.
enum Mode : uint32_t {
  kGzipDeflate = 0,
  kZlibDeflate = 1,
  kRawDeflate = 2,
  kGzipInflate = 3,
  kZlibInflate = 4,
  kRawInflate = 5,
  kModes = 6,
};

struct Stream {
  uint32_t magic;
  uint32_t mode;
  uint32_t ended;  // 1 once zlib said Z_STREAM_END
  uint32_t pad;
  size_t arena_used;
  size_t arena_size;
  z_stream z;
  unsigned char out[kOut];
  alignas(16) unsigned char arena[1];  // arena_size bytes from here
};

bool inflating(uint32_t mode) {
  return mode >= kGzipInflate;
}

size_t arena_for(uint32_t mode) {
  return inflating(mode) ? kInflateArena : kDeflateArena;
}

size_t stream_size(uint32_t mode) {
  return offsetof(Stream, arena) + arena_for(mode);
}

voidpf arena_alloc(voidpf opaque, uInt items, uInt size) {
  Stream* s = static_cast<Stream*>(opaque);
  size_t n = static_cast<size_t>(items) * size;
  if (size != 0 && n / size != items) {
    return Z_NULL;
  }
  n = (n + 15) & ~static_cast<size_t>(15);
  if (n > s->arena_size - s->arena_used) {
    return Z_NULL;
  }
  void* p = reinterpret_cast<unsigned char*>(s) + offsetof(Stream, arena) +
            s->arena_used;
  s->arena_used += n;
  return p;
}

void arena_free(voidpf opaque, voidpf address) {}

// The Stream in args[0], checked (magic, mode, size), or nullptr with a
// TypeError thrown.
Stream* stream_of(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() < 1 || !args[0]->IsArrayBuffer()) {
    throw_type(args.GetIsolate(), "zlib natives: expected a zlib stream");
    return nullptr;
  }
  Local<v8::ArrayBuffer> buffer = args[0].As<v8::ArrayBuffer>();
  Stream* s = static_cast<Stream*>(buffer->Data());
  if (s == nullptr || buffer->ByteLength() < offsetof(Stream, arena) ||
      s->magic != kMagic || s->mode >= kModes ||
      buffer->ByteLength() != stream_size(s->mode)) {
    throw_type(args.GetIsolate(), "zlib natives: expected a zlib stream");
    return nullptr;
  }
  return s;
}

// zlibNew(mode): a new stream's ArrayBuffer.
void n_zlib_new(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsUint32() ||
      args[0].As<v8::Uint32>()->Value() >= kModes) {
    throw_type(isolate, "zlibNew: expected a mode");
    return;
  }
  uint32_t mode = args[0].As<v8::Uint32>()->Value();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(isolate, stream_size(mode));
  if (!store || store->Data() == nullptr) {
    isolate->ThrowException(
        v8::Exception::RangeError(str(isolate, "zlibNew: out of memory")));
    return;
  }
  Stream* s = static_cast<Stream*>(store->Data());
  if (reinterpret_cast<uintptr_t>(s) % alignof(Stream) != 0) {
    isolate->ThrowException(v8::Exception::Error(
        str(isolate, "zlibNew: an ArrayBuffer's memory is not aligned")));
    return;
  }
  memset(s, 0, offsetof(Stream, arena));
  s->magic = kMagic;
  s->mode = mode;
  s->arena_size = arena_for(mode);
  s->z.zalloc = arena_alloc;
  s->z.zfree = arena_free;
  s->z.opaque = s;
  static const int kWindowBits[kModes] = {31, 15, -15, 31, 15, -15};
  int rc = inflating(mode)
               ? inflateInit2(&s->z, kWindowBits[mode])
               : deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                              kWindowBits[mode], 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    isolate->ThrowException(v8::Exception::Error(
        str(isolate, "zlibNew: zlib could not start a stream")));
    return;
  }
  args.GetReturnValue().Set(v8::ArrayBuffer::New(isolate, std::move(store)));
}

// The TypeError for inflate's Z_DATA_ERROR, in Deno's words.
const char* corrupt_message(const Stream* s) {
  const char* msg = s->z.msg != nullptr ? s->z.msg : "";
  if (s->mode == kGzipInflate) {
    if (strcmp(msg, "incorrect header check") == 0 ||
        strcmp(msg, "unknown compression method") == 0 ||
        strcmp(msg, "unknown header flags set") == 0 ||
        strcmp(msg, "header crc mismatch") == 0) {
      return "invalid gzip header";
    }
    if (strcmp(msg, "incorrect data check") == 0 ||
        strcmp(msg, "incorrect length check") == 0) {
      return "corrupt gzip stream does not have a matching checksum";
    }
  }
  return "corrupt deflate stream";
}

// zlibRun(stream, input, offset, finish, result): runs zlib on input's
// bytes from offset (input a Uint8Array, or undefined for none), with
// Z_FINISH when finish. Writes into result (a Uint32Array of 2) the
// offset reached in input and whether the stream has ended (1) and
// returns the output, a new Uint8Array of at most kOut bytes (maybe
// empty). A stream that has ended takes no more input: bytes given after
// its end are a TypeError, as is an inflating stream finished before its
// end or corrupt input.
void n_zlib_run(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  Stream* s = stream_of(args);
  if (s == nullptr) {
    return;
  }
  const unsigned char* in = nullptr;
  size_t in_len = 0;
  if (args.Length() > 1 && args[1]->IsUint8Array()) {
    Local<v8::Uint8Array> view = args[1].As<v8::Uint8Array>();
    in_len = view->ByteLength();
    if (in_len > 0) {
      in = static_cast<const unsigned char*>(view->Buffer()->Data()) +
           view->ByteOffset();
    }
  } else if (args.Length() > 1 && !args[1]->IsUndefined()) {
    throw_type(isolate, "zlibRun: expected a Uint8Array");
    return;
  }
  if (args.Length() < 5 || !args[2]->IsUint32() || !args[4]->IsUint32Array() ||
      args[4].As<v8::Uint32Array>()->Length() < 2) {
    throw_type(isolate, "zlibRun: bad arguments");
    return;
  }
  size_t offset = args[2].As<v8::Uint32>()->Value();
  if (offset > in_len) {
    throw_type(isolate, "zlibRun: offset past the input");
    return;
  }
  bool finish = args[3]->BooleanValue(isolate);
  Local<v8::Uint32Array> result = args[4].As<v8::Uint32Array>();

  size_t left = in_len - offset;
  size_t produced = 0;
  if (s->ended) {
    if (left > 0) {
      throw_type(isolate, "failed to write whole buffer");
      return;
    }
  } else {
    // avail_in is a uInt: a larger input is taken in slices across calls
    uInt take = left > 0x40000000 ? 0x40000000 : static_cast<uInt>(left);
    s->z.next_in = left > 0 ? const_cast<unsigned char*>(in + offset) : Z_NULL;
    s->z.avail_in = take;
    s->z.next_out = s->out;
    s->z.avail_out = kOut;
    int rc = inflating(s->mode)
                 ? inflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH)
                 : deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
    size_t used = take - s->z.avail_in;
    produced = kOut - s->z.avail_out;
    s->z.next_in = Z_NULL;
    s->z.next_out = Z_NULL;
    s->z.avail_in = 0;
    s->z.avail_out = 0;
    offset += used;
    if (rc == Z_STREAM_END) {
      s->ended = 1;
    } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      throw_type(isolate, corrupt_message(s));
      return;
    } else if (rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
      isolate->ThrowException(v8::Exception::Error(
          str(isolate, "zlibRun: zlib failed (out of its arena)")));
      return;
    }
    // Z_OK and Z_BUF_ERROR (no progress possible now) go on
    if (finish && inflating(s->mode) && !s->ended && produced < kOut &&
        offset == in_len) {
      // the input ended before the compressed data did
      throw_type(isolate,
                 s->mode == kGzipInflate
                     ? "corrupt gzip stream does not have a matching checksum"
                     : "unexpected end of deflate stream");
      return;
    }
  }
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(isolate, produced);
  if (!store || (produced > 0 && store->Data() == nullptr)) {
    isolate->ThrowException(
        v8::Exception::RangeError(str(isolate, "zlibRun: out of memory")));
    return;
  }
  if (produced > 0) {
    memcpy(store->Data(), s->out, produced);
  }
  Local<v8::ArrayBuffer> out = v8::ArrayBuffer::New(isolate, std::move(store));
  uint32_t* slots = reinterpret_cast<uint32_t*>(
      static_cast<uint8_t*>(result->Buffer()->Data()) + result->ByteOffset());
  slots[0] = static_cast<uint32_t>(offset);
  slots[1] = s->ended;
  args.GetReturnValue().Set(v8::Uint8Array::New(out, 0, produced));
}

}  // namespace

NativeTable zlib_natives() {
  static const NativeFn table[] = {
      {"zlibNew", n_zlib_new},
      {"zlibRun", n_zlib_run},
  };
  return {table, sizeof(table) / sizeof(table[0])};
}

}  // namespace v8s
