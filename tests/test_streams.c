/* test_streams.c: the streams through `isopool run`: ReadableStream,
 * WritableStream, TransformStream and the queuing strategies (the vendored
 * web-streams-polyfill, bootstrap/vendor/, evaluated lazily by
 * bootstrap/prelude/80-streams.js), TextEncoderStream and
 * TextDecoderStream.
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
  /* the stream globals are accessors until first read, then plain hidden
   * data properties; assignment replaces them; the polyfill defines
   * nothing global and keeps working when user code replaces the globals
   * it would otherwise read */
  EXPECT_RUN(JS(const d0 = Object.getOwnPropertyDescriptor(globalThis, "WritableStream");
                console.log(typeof d0.get, d0.enumerable, d0.configurable);
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
