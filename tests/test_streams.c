/* test_streams.c: the streams through `isopool run`: ReadableStream,
 * WritableStream, TransformStream and the queuing strategies (the vendored
 * web-streams-polyfill, bootstrap/vendor/, evaluated lazily by
 * bootstrap/prelude/80-streams.js), TextEncoderStream and
 * TextDecoderStream, CompressionStream and DecompressionStream (80-streams.js
 * on isolate/v8s_zlib.cc).
 *
 * Most cases run the same module under Deno and check both print the same
 * lines (support/js_run.h EXPECT_AS_DENO); the lazy globals and the
 * inspection, where isopool's own output is the point, are EXPECT_RUN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_run.h"
#include "tap.h"

/* The cases, defined at the end of the file: their JavaScript is kept out
 * of `make format` (js_run.h), and clang-format's brace tracking loses its
 * way in some of it, so the region stays off to the end of the file. */
static void t_readable_default(void);
static void t_byte_stream_byob(void);
static void t_tee_pipe_from(void);
static void t_writable_transform(void);
static void t_text_streams(void);
static void t_errors(void);
static void t_lazy_globals(void);
static void t_inspect(void);
static void t_pipe_signal(void);
static void t_compression(void);
static void t_compression_errors(void);
static void t_compression_standard(void);
static void t_compression_bounded(void);
static void t_compression_interop(void);

static const iso_test cases[] = {
    {"readable_default", t_readable_default},
    {"byte_stream_byob", t_byte_stream_byob},
    {"tee_pipe_from", t_tee_pipe_from},
    {"writable_transform", t_writable_transform},
    {"text_streams", t_text_streams},
    {"errors", t_errors},
    {"lazy_globals", t_lazy_globals},
    {"inspect", t_inspect},
    {"pipe_signal", t_pipe_signal},
    {"compression", t_compression},
    {"compression_errors", t_compression_errors},
    {"compression_standard", t_compression_standard},
    {"compression_bounded", t_compression_bounded},
    {"compression_interop", t_compression_interop},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}

// clang-format off

static void t_readable_default(void) {
  /* a default stream: reads, release, cancel reason, async iteration, strategy */
  EXPECT_AS_DENO(JS(let cancelled;
                    const rs = new ReadableStream({
                      start(c) { c.enqueue("a"); c.enqueue("b"); },
                      pull(c) { c.enqueue("p"); c.close(); },
                      cancel(r) { cancelled = r; },
                    });
                    const reader = rs.getReader();
                    console.log(rs.locked, (await reader.read()).value, (await reader.read()).value);
                    console.log(JSON.stringify(await reader.read()), JSON.stringify(await reader.read()));
                    reader.releaseLock();
                    console.log(rs.locked);
                    const rs2 = new ReadableStream({ cancel(r) { cancelled = r; } }, { highWaterMark: 3 });
                    await rs2.cancel("why");
                    console.log(cancelled);
                    const got = [];
                    for await (const x of new ReadableStream({ start(c) { for (const i of [1, 2, 3]) c.enqueue(i); c.close(); } })) got.push(x);
                    console.log(got.join(","));
                    const strat = new ReadableStream({ start(c) { console.log("desired", c.desiredSize); c.enqueue("xx"); console.log("desired", c.desiredSize); } },
                      new ByteLengthQueuingStrategy({ highWaterMark: 4 }).highWaterMark ? { highWaterMark: 2, size: (ch) => ch.length } : undefined);),
                 "true a b\n"
                 "{\"value\":\"p\",\"done\":false} {\"done\":true}\n"
                 "false\n"
                 "why\n"
                 "1,2,3\n"
                 "desired 2\n"
                 "desired 0\n");
}

static void t_byte_stream_byob(void) {
  /* a byte stream through a BYOB reader; autoAllocateChunkSize */
  EXPECT_AS_DENO(JS(let n = 0;
                    const bs = new ReadableStream({
                      type: "bytes",
                      pull(c) {
                        const req = c.byobRequest;
                        if (n++ < 2) { req.view[0] = 7 + n; req.respond(1); } else { c.close(); req.respond(0); }
                      },
                    });
                    const r = bs.getReader({ mode: "byob" });
                    let res = await r.read(new Uint8Array(4));
                    console.log(res.done, res.value.byteLength, res.value[0]);
                    res = await r.read(new Uint8Array(4));
                    console.log(res.done, res.value[0]);
                    res = await r.read(new Uint8Array(4));
                    console.log(res.done, res.value.byteLength);
                    const auto = new ReadableStream({ type: "bytes", autoAllocateChunkSize: 16,
                      pull(c) { const v = c.byobRequest.view; console.log("view", v.byteLength); v[0] = 1; c.byobRequest.respond(1); c.close(); } });
                    const chunks = [];
                    for await (const ch of auto) chunks.push(ch.length);
                    console.log(chunks);),
                 "false 1 8\n"
                 "false 9\n"
                 "true 0\n"
                 "view 16\n"
                 "[ 1 ]\n");
}

static void t_tee_pipe_from(void) {
  /* tee, pipeThrough, pipeTo (preventClose), ReadableStream.from an iterable and an async generator */
  EXPECT_AS_DENO(JS(const [a, b] = ReadableStream.from(["x", "y"]).tee();
                    const ra = [], rb = [];
                    for await (const v of a) ra.push(v);
                    for await (const v of b) rb.push(v);
                    console.log(ra, rb);
                    const written = [];
                    let closed = false;
                    const ws = new WritableStream({ write(c) { written.push(c); }, close() { closed = true; } });
                    await ReadableStream.from([1, 2, 3])
                      .pipeThrough(new TransformStream({ transform(c, ctl) { ctl.enqueue(c * 2); }, flush(ctl) { ctl.enqueue(0); } }))
                      .pipeTo(ws);
                    console.log(written, closed);
                    let closed2 = false;
                    await ReadableStream.from([5]).pipeTo(new WritableStream({ close() { closed2 = true; } }), { preventClose: true });
                    console.log(closed2);
                    async function* gen() { yield "g1"; yield "g2"; }
                    const out = [];
                    for await (const v of ReadableStream.from(gen())) out.push(v);
                    console.log(out);),
                 "[ \"x\", \"y\" ] [ \"x\", \"y\" ]\n"
                 "[ 2, 4, 6, 0 ] true\n"
                 "false\n"
                 "[ \"g1\", \"g2\" ]\n");
}

static void t_writable_transform(void) {
  /* WritableStream writer, backpressure, close, abort; an identity TransformStream */
  EXPECT_AS_DENO(JS(const log = [];
                    const ws = new WritableStream({
                      write(c) { log.push("w:" + c); return new Promise((r) => setTimeout(r, 1)); },
                      close() { log.push("close"); },
                      abort(r) { log.push("abort:" + r); },
                    }, new CountQueuingStrategy({ highWaterMark: 2 }));
                    const w = ws.getWriter();
                    console.log(w.desiredSize, ws.locked);
                    w.write("a"); w.write("b");
                    console.log(w.desiredSize);
                    await w.ready;
                    await w.close();
                    console.log(log.join(" "));
                    const ws2 = new WritableStream({ abort(r) { log.push("abort:" + r); } });
                    await ws2.getWriter().abort("stop");
                    console.log(log.at(-1));
                    const ts = new TransformStream();
                    const tw = ts.writable.getWriter();
                    tw.write("through"); tw.close();
                    console.log((await ts.readable.getReader().read()).value);),
                 "2 true\n"
                 "0\n"
                 "w:a w:b close\n"
                 "abort:stop\n"
                 "through\n");
}

static void t_text_streams(void) {
  /* TextEncoderStream (a surrogate pair split across chunks, a lone one at the end), TextDecoderStream (sequences split across chunks, fatal) */
  EXPECT_AS_DENO(JS(const enc = new TextEncoderStream();
                    const wr = enc.writable.getWriter();
                    wr.write("a\uD83D"); wr.write("\uDE00b"); wr.write("\uD83D"); wr.close();
                    const bytes = [];
                    for await (const c of enc.readable) bytes.push(...c);
                    console.log(enc.encoding, bytes.join(" "));
                    const dec = new TextDecoderStream();
                    const dw = dec.writable.getWriter();
                    dw.write(new Uint8Array([0x68, 0xc3])); dw.write(new Uint8Array([0xa9, 0xe2, 0x82])); dw.write(new Uint8Array([0xac])); dw.close();
                    const parts = [];
                    for await (const s of dec.readable) parts.push(s);
                    console.log(dec.encoding, dec.fatal, dec.ignoreBOM, parts.join("|"));
                    const fatal = new TextDecoderStream("utf-8", { fatal: true });
                    const fw = fatal.writable.getWriter();
                    fw.write(new Uint8Array([0xff])).catch(() => {});
                    try { await fatal.readable.getReader().read(); } catch (e) { console.log("fatal:", e instanceof TypeError); }),
                 "utf-8 97 240 159 152 128 98 239 191 189\n"
                 "utf-8 false false h|é|€\n"
                 "fatal: true\n");
}

static void t_errors(void) {
  /* the errors: an errored stream, a locked one, bad arguments, brand checks */
  EXPECT_AS_DENO(JS(const errored = new ReadableStream({ start(c) { c.error(new RangeError("bad")); } });
                    try { await errored.getReader().read(); } catch (e) { console.log(e.name, e.message); }
                    const rs = new ReadableStream();
                    rs.getReader();
                    try { rs.getReader(); } catch (e) { console.log("locked:", e instanceof TypeError); }
                    try { new ReadableStream({ type: "nope" }); } catch (e) { console.log("type:", e instanceof TypeError); }
                    try { await new ReadableStream().pipeTo({}); } catch (e) { console.log("pipeTo:", e instanceof TypeError); }
                    try { new CountQueuingStrategy(); } catch (e) { console.log("strategy:", e instanceof TypeError); }
                    try { await ReadableStream.prototype.cancel.call({}); } catch (e) { console.log("brand:", e instanceof TypeError); }
                    try { new ReadableStream({ start(c) { c.close(); c.enqueue(1); } }); } catch (e) { console.log("enqueue after close:", e instanceof TypeError); }
                    try { ReadableStream.from(5); } catch (e) { console.log("from:", e instanceof TypeError); }
                    try { new TextDecoderStream("nope"); } catch (e) { console.log("label:", e instanceof RangeError); }),
                 "RangeError bad\n"
                 "locked: true\n"
                 "type: true\n"
                 "pipeTo: true\n"
                 "strategy: true\n"
                 "brand: true\n"
                 "enqueue after close: true\n"
                 "from: true\n"
                 "label: true\n");
}

static void t_lazy_globals(void) {
  /* the stream globals are lazy data properties: hidden, writable and
   * configurable, the class made when first read (the descriptor too);
   * assignment replaces them; the polyfill defines nothing global and
   * keeps working when user code replaces the globals it would otherwise
   * read */
  EXPECT_RUN(JS(const d0 = Object.getOwnPropertyDescriptor(globalThis, "WritableStream");
                console.log(typeof d0.value, d0.enumerable, d0.configurable);
                console.log(typeof WritableStream, WritableStream.name);
                const d1 = Object.getOwnPropertyDescriptor(globalThis, "WritableStream");
                console.log(typeof d1.value, d1.writable, d1.enumerable, d1.configurable);
                globalThis.CountQueuingStrategy = 5;
                console.log(CountQueuingStrategy);
                globalThis.queueMicrotask = () => { throw new Error("replaced"); };
                globalThis.DOMException = null;
                globalThis.structuredClone = null;
                const byob = new ReadableStream({ type: "bytes", start(c) {
                  c.enqueue(new Uint8Array([4, 2])); c.close(); } });
                const got = [];
                for await (const v of byob) got.push(...v);
                console.log(got, (await ReadableStream.from([1]).getReader().read()).value);
                console.log("WebStreamsPolyfill" in globalThis, typeof exports,
                            typeof module);),
             0,
             "function false true\n"
             "function WritableStream\n"
             "function true false true\n"
             "5\n"
             "[ 4, 2 ] 1\n"
             "false undefined undefined\n",
             "");
}

static void t_inspect(void) {
  /* Deno's fields (it breaks the ReadableStream's line where isopool's
   * 72-column rule does not) */
  EXPECT_RUN(JS(const rs = new ReadableStream({ type: "bytes" });
                rs.getReader();
                console.log(rs);
                console.log(new WritableStream(), new CountQueuingStrategy({ highWaterMark: 1 }));
                const closed = new ReadableStream({ start(c) { c.close(); } });
                console.log(closed);
                console.log(new TextEncoderStream().encoding);),
             0,
             "ReadableStream { locked: true, state: \"readable\", supportsBYOB: true }\n"
             "WritableStream { locked: false } CountQueuingStrategy { highWaterMark: 1, size: [Function: size] }\n"
             "ReadableStream { locked: false, state: \"closed\", supportsBYOB: false }\n"
             "utf-8\n",
             "");
}

static void t_pipe_signal(void) {
  /* pipeTo and pipeThrough stopped by an AbortSignal (75-abort.js): the
   * pipe rejects with the reason, the source is cancelled with it; an
   * already aborted signal rejects with an AbortError */
  EXPECT_AS_DENO(JS(const ac2 = new AbortController();
                    let pulls = 0;
                    const rs = new ReadableStream({ pull(ctl) { pulls++; ctl.enqueue(1); return new Promise((r) => setTimeout(r, 5)); } });
                    const p = rs.pipeTo(new WritableStream(), { signal: ac2.signal });
                    setTimeout(() => ac2.abort(new Error("stop")), 30);
                    try { await p; } catch (e) { console.log("pipe:", e.message, pulls > 1, rs.locked); }
                    try { await ReadableStream.from([1]).pipeTo(new WritableStream(), { signal: AbortSignal.abort() }); } catch (e) { console.log("pre-aborted:", e.name); }
                    let cancelled;
                    const src = new ReadableStream({ cancel(r) { cancelled = r; } });
                    const ac3 = new AbortController();
                    const through = src.pipeThrough(new TransformStream(), { signal: ac3.signal });
                    ac3.abort("reason3");
                    await new Promise((r) => setTimeout(r, 10));
                    console.log(cancelled, through.locked);),
                 "pipe: stop true false\n"
                 "pre-aborted: AbortError\n"
                 "reason3 false\n");
}

/* CompressionStream/DecompressionStream beside Deno: round trips in every
 * format over several chunks (ArrayBuffer, views, DataView), the bytes
 * `gzip -c` and Python's zlib made for "hello hello hello\n", the shape
 * and the inspection. The compressed bytes themselves differ (Deno has
 * flate2, which flushes each chunk and writes OS 255 in the gzip header):
 * compression_interop checks that each decompresses the other's. */
static void t_compression(void) {
  EXPECT_AS_DENO(
      JS(const collect = async (rs) => new Uint8Array(await new Response(rs).arrayBuffer());
         const text = "the quick brown fox ".repeat(500) + "\u00e9\u20ac";
         const bytes = new TextEncoder().encode(text);
         for (const f of ["gzip", "deflate", "deflate-raw"]) {
           const cs = new CompressionStream(f);
           const w = cs.writable.getWriter();
           const done = collect(cs.readable);
           await w.write(bytes.subarray(0, 100));
           await w.write(bytes.slice(100, 5000).buffer);
           await w.write(new DataView(bytes.buffer, 5000));
           await w.close();
           const z = await done;
           const back = await collect(new Blob([z]).stream().pipeThrough(new DecompressionStream(f)));
           console.log(f, z.length < bytes.length / 10, new TextDecoder().decode(back) === text);
         }
         const known = {
           gzip: [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
                  0x90, 0x5c, 0, 0x3b, 0x7c, 0x8a, 0xdf, 0x12, 0, 0, 0],
           deflate: [0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x90, 0x5c, 0, 0x40,
                     0xb5, 6, 0x87],
           "deflate-raw": [0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x90, 0x5c, 0],
         };
         for (const [f, list] of Object.entries(known)) {
           const ds = new DecompressionStream(f);
           const w = ds.writable.getWriter();
           const done = collect(ds.readable);
           for (const b of list) { w.write(new Uint8Array([b])); }
           w.close();
           console.log(f, JSON.stringify(new TextDecoder().decode(await done)));
         }
         for (const f of ["gzip", "deflate", "deflate-raw"]) {
           const e = await collect(new Blob([]).stream().pipeThrough(new CompressionStream(f)));
           const back = await collect(new Blob([e]).stream().pipeThrough(new DecompressionStream(f)));
           console.log(f, "empty", back.length);
         }
         const c = new CompressionStream("gzip");
         console.log(Object.prototype.toString.call(c), c.readable instanceof ReadableStream,
                     c.writable instanceof WritableStream, CompressionStream.length,
                     DecompressionStream.name, c.readable === c.readable);
         console.log(new DecompressionStream("deflate").writable);
         try { CompressionStream.prototype.readable; } catch (e) { console.log(e.name); }),
      "gzip true true\n"
      "deflate true true\n"
      "deflate-raw true true\n"
      "gzip \"hello hello hello\\n\"\n"
      "deflate \"hello hello hello\\n\"\n"
      "deflate-raw \"hello hello hello\\n\"\n"
      "gzip empty 0\n"
      "deflate empty 0\n"
      "deflate-raw empty 0\n"
      "[object CompressionStream] true true 1 DecompressionStream true\n"
      "WritableStream { locked: false }\n"
      "TypeError\n");
}

/* Bad formats and corrupt input, beside Deno: the same TypeErrors, on
 * both sides of the pair (the write rejects, the read rejects). */
static void t_compression_errors(void) {
  EXPECT_AS_DENO(
      JS(const collect = async (rs) => new Uint8Array(await new Response(rs).arrayBuffer());
         const attempt = async (what, f, parts) => {
           try {
             const out = await collect(new Blob(parts).stream().pipeThrough(new DecompressionStream(f)));
             console.log(what, "ok", out.length);
           } catch (e) { console.log(what, e.name, e.message); }
         };
         for (const bad of [["br"], [], ["GZIP"], [undefined]]) {
           try { new CompressionStream(...bad); } catch (e) { console.log(e.name, e.message); }
         }
         try { new DecompressionStream("x"); } catch (e) { console.log(e.name, e.message); }
         const junk = new Uint8Array(20).map((_, i) => i + 1);
         for (const f of ["gzip", "deflate", "deflate-raw"]) { await attempt("junk " + f, f, [junk]); }
         const src = new TextEncoder().encode("abcdefabcdef".repeat(100));
         const gz = await collect(new Blob([src]).stream().pipeThrough(new CompressionStream("gzip")));
         await attempt("gzip truncated", "gzip", [gz.slice(0, gz.length - 4)]);
         await attempt("gzip empty", "gzip", []);
         const crc = gz.slice(); crc[crc.length - 6] ^= 0xff;
         await attempt("gzip crc", "gzip", [crc]);
         const size = gz.slice(); size[size.length - 2] ^= 0xff;
         await attempt("gzip size", "gzip", [size]);
         await attempt("gzip trailing", "gzip", [gz, new Uint8Array([1, 2])]);
         await attempt("gzip two members", "gzip", [gz, gz]);
         for (const f of ["deflate", "deflate-raw"]) {
           const z = await collect(new Blob([src]).stream().pipeThrough(new CompressionStream(f)));
           await attempt(f + " trailing", f, [z, new Uint8Array([1, 2])]);
         }
         const ds = new DecompressionStream("deflate");
         const w = ds.writable.getWriter();
         const r = ds.readable.getReader();
         const wrote = w.write(junk).catch((e) => "write: " + e.message);
         const read = r.read().catch((e) => "read: " + e.message);
         console.log(await wrote, await read);),
      "TypeError Failed to construct 'CompressionStream': The provided value 'br' is not a valid enum value of type CompressionFormat\n"
      "TypeError Failed to construct 'CompressionStream': 1 argument required, but only 0 present\n"
      "TypeError Failed to construct 'CompressionStream': The provided value 'GZIP' is not a valid enum value of type CompressionFormat\n"
      "TypeError Failed to construct 'CompressionStream': The provided value 'undefined' is not a valid enum value of type CompressionFormat\n"
      "TypeError Failed to construct 'DecompressionStream': The provided value 'x' is not a valid enum value of type CompressionFormat\n"
      "junk gzip TypeError invalid gzip header\n"
      "junk deflate TypeError corrupt deflate stream\n"
      "junk deflate-raw TypeError corrupt deflate stream\n"
      "gzip truncated TypeError corrupt gzip stream does not have a matching checksum\n"
      "gzip empty TypeError corrupt gzip stream does not have a matching checksum\n"
      "gzip crc TypeError corrupt gzip stream does not have a matching checksum\n"
      "gzip size TypeError corrupt gzip stream does not have a matching checksum\n"
      "gzip trailing TypeError failed to write whole buffer\n"
      "gzip two members TypeError failed to write whole buffer\n"
      "deflate trailing TypeError failed to write whole buffer\n"
      "deflate-raw trailing TypeError failed to write whole buffer\n"
      "write: corrupt deflate stream read: corrupt deflate stream\n");
}

/* Where isopool follows the Compression standard and Deno does not: a
 * "deflate" or "deflate-raw" input that ends before its compressed data
 * does (also an empty one) is a TypeError (Deno gives what it decoded);
 * a chunk that is not a BufferSource is a TypeError on both sides (Deno's
 * write never settles). */
static void t_compression_standard(void) {
  EXPECT_RUN(
      JS(const collect = async (rs) => new Uint8Array(await new Response(rs).arrayBuffer());
         const src = new TextEncoder().encode("abcdefabcdef".repeat(100));
         for (const f of ["deflate", "deflate-raw"]) {
           const z = await collect(new Blob([src]).stream().pipeThrough(new CompressionStream(f)));
           for (const part of [z.slice(0, z.length - 3), new Uint8Array(0)]) {
             try { await collect(new Blob([part]).stream().pipeThrough(new DecompressionStream(f))); }
             catch (e) { console.log(f, e.name, e.message); }
           }
         }
         const cs = new CompressionStream("gzip");
         const w = cs.writable.getWriter();
         const r = cs.readable.getReader();
         console.log(await w.write("text").catch((e) => e.name + ": " + e.message));
         console.log(await r.read().catch((e) => e.name));),
      0,
      "deflate TypeError unexpected end of deflate stream\n"
      "deflate TypeError unexpected end of deflate stream\n"
      "deflate-raw TypeError unexpected end of deflate stream\n"
      "deflate-raw TypeError unexpected end of deflate stream\n"
      "TypeError: Failed to execute 'write': The provided value is not of type '(ArrayBuffer or ArrayBufferView)'\n"
      "TypeError\n",
      "");
}

/* Bounded memory: 64 MiB of zeros deflate to ~64 KiB; decompressing them,
 * one read gives at most 64 KiB and the write that fed it stays pending
 * (the rest waits inside zlib, not in the readable's queue), then the
 * whole comes out 64 KiB at a time; a reader that cancels leaves the
 * write settled and the writable errored with its reason. */
static void t_compression_bounded(void) {
  EXPECT_RUN(
      JS(const collect = async (rs) => new Uint8Array(await new Response(rs).arrayBuffer());
         const zeros = new Uint8Array(64 * 1024 * 1024);
         const z = await collect(new Blob([zeros]).stream().pipeThrough(new CompressionStream("gzip")));
         console.log(z.length < 128 * 1024);
         const ds = new DecompressionStream("gzip");
         const w = ds.writable.getWriter();
         const r = ds.readable.getReader();
         let settled = false;
         const wrote = w.write(z).then(() => { settled = true; });
         const first = await r.read();
         await new Promise((res) => setTimeout(res, 20));
         console.log(first.value.length <= 65536, settled, ds.writable.locked);
         const closed = w.close();
         let total = first.value.length;
         let most = first.value.length;
         let nonzero = 0;
         for (;;) {
           const { value, done } = await r.read();
           if (done) { break; }
           total += value.length;
           if (value.length > most) { most = value.length; }
           if (value.some((b) => b !== 0)) { nonzero++; }
         }
         await wrote;
         await closed;
         console.log(total, most, nonzero, settled);
         const ds2 = new DecompressionStream("gzip");
         const w2 = ds2.writable.getWriter();
         const r2 = ds2.readable.getReader();
         const wrote2 = w2.write(z).then(() => "settled", (e) => "rejected " + e);
         await r2.read();
         await r2.cancel("enough");
         console.log(await wrote2, await w2.write(new Uint8Array(1)).catch((e) => "then: " + e));),
      0,
      "true\n"
      "true false true\n"
      "67108864 65536 0 true\n"
      "settled then: enough\n",
      "");
}

/* What isopool compresses, Deno decompresses, and the other way round:
 * each runtime compresses the same text in every format, prints it as
 * base64, and a second script decompresses both outputs under both. */
static void t_compression_interop(void) {
  const char* make = JS(
      const text = "interop \u00e9 ".repeat(2000);
      const out = [];
      for (const f of ["gzip", "deflate", "deflate-raw"]) {
        const rs = new Blob([text]).stream().pipeThrough(new CompressionStream(f));
        const z = new Uint8Array(await new Response(rs).arrayBuffer());
        let s = "";
        for (const b of z) { s += String.fromCharCode(b); }
        out.push(btoa(s));
      }
      console.log(out.join(" ")););
  js_run mine;
  js_run deno;
  CHECK(run_js(make, &mine) == 0);
  CHECK_EQ(mine.status, 0);
  if (run_deno(make, &deno) != 0) {
    run_free(&mine);
    return; /* without Deno, compression covers the round trip */
  }
  CHECK_EQ(deno.status, 0);
  CHECK(strcmp(mine.out, deno.out) != 0); /* flate2 and zlib differ */
  mine.out[strcspn(mine.out, "\n")] = '\0';
  deno.out[strcspn(deno.out, "\n")] = '\0';
  size_t n = strlen(mine.out) + strlen(deno.out) + 2048;
  char* src = malloc(n);
  CHECK(src != NULL);
  snprintf(src, n,
           "const sets = [\"%s\".split(\" \"), \"%s\".split(\" \")];\n"
           "const text = \"interop \\u00e9 \".repeat(2000);\n"
           "for (const set of sets) {\n"
           "  const got = [];\n"
           "  for (const [i, f] of [\"gzip\", \"deflate\", \"deflate-raw\"].entries()) {\n"
           "    const z = Uint8Array.from(atob(set[i]), (c) => c.charCodeAt(0));\n"
           "    const rs = new Blob([z]).stream().pipeThrough(new DecompressionStream(f));\n"
           "    got.push(await new Response(rs).text() === text);\n"
           "  }\n"
           "  console.log(got.join(\" \"));\n"
           "}\n",
           mine.out, deno.out);
  EXPECT_AS_DENO(src, "true true true\ntrue true true\n");
  free(src);
  run_free(&mine);
  run_free(&deno);
}
