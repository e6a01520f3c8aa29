/* test_fetch_js.c: fetch() from JavaScript (bootstrap/prelude/95-fetch.js
 * on the op_fetch_* ops and ops/net.c) through `isopool run
 * --allow-net=...`, each script run beside Deno's fetch with the same
 * flag against the same local server (tests/support/http_server.h), where
 * the two must print the same; the cases where isopool differs on
 * purpose (the permission error's class and words) are checked on
 * isopool alone. The service's path (a sandboxed pool process, the
 * front's net thread, a job's permissions) is test_service_fetch's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"
#include "js_run.h"
#include "tap.h"

static http_server* g_srv;
static char g_allow[96]; /* --allow-net=127.0.0.1:PORT,localhost:PORT */

/* src with every "PORT" replaced by the server's port (static: the last
 * two results stay valid). */
static const char* with_port(const char* src) {
  static char bufs[2][16384];
  static int next;
  char* out = bufs[next++ % 2];
  char port[16];
  snprintf(port, sizeof port, "%d", http_server_port(g_srv));
  size_t k = 0;
  for (const char* p = src; *p != '\0' && k + 16 < sizeof bufs[0];) {
    if (strncmp(p, "PORT", 4) == 0) {
      k += (size_t)snprintf(out + k, sizeof bufs[0] - k, "%s", port);
      p += 4;
    } else {
      out[k++] = *p++;
    }
  }
  out[k] = '\0';
  return out;
}

/* Runs src (PORT replaced) under isopool and Deno with --allow-net for
 * the server: both exit 0 with the same stdout, which is want (NULL:
 * whatever they agree on). */
#define EXPECT_FETCH_AS_DENO(src, want)                 \
  do {                                                  \
    const char* flags_[] = {g_allow, NULL};             \
    EXPECT_AS_DENO_FLAGS(flags_, with_port(src), want); \
  } while (0)

/* isopool alone, with the flags given (NULL-ended); PORT replaced in
 * the source and in want_out. */
#define EXPECT_FETCH_RUN(flags, src, want_status, want_out) \
  do {                                                      \
    js_run r_;                                              \
    CHECK(run_js_flags((flags), with_port(src), &r_) == 0); \
    if (r_.status != (want_status)) {                       \
      fprintf(stderr, "  isopool: %s\n", r_.err);           \
    }                                                       \
    CHECK_EQ(r_.status, (want_status));                     \
    CHECK_STR(r_.out, with_port(want_out));                 \
    run_free(&r_);                                          \
  } while (0)

// clang-format off

/* GET: status, text, JSON, the response's url, type and headers. */
static void t_get(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const r = await fetch("http://127.0.0.1:PORT/text");
    console.log(r.status, r.ok, r.statusText, r.type, r.redirected,
                r.url === "http://127.0.0.1:PORT/text");
    console.log(r.headers.get("content-type"), await r.text(), r.bodyUsed);
    const j = await fetch(new URL("http://127.0.0.1:PORT/json"));
    console.log(JSON.stringify(await j.json()));
    const h = await fetch("http://127.0.0.1:PORT/headers");
    console.log(h.headers.get("x-one"), h.headers.get("X-Two"));
    const b = await (await fetch("http://127.0.0.1:PORT/json")).arrayBuffer();
    console.log(b.byteLength, new Uint8Array(b)[0]);
  ), "200 true OK basic false true\n"
     "text/plain hello true\n"
     "{\"a\":1,\"b\":[true,null]}\n"
     "1 two, 2\n"
     "23 123\n");
}

/* POST and PUT with bodies and headers, echoed; a Request as input. */
static void t_post(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const r = await fetch("http://127.0.0.1:PORT/echo", {
      method: "POST", body: JSON.stringify({ q: "caf\u00e9" }),
      headers: { "X-Test": "yes", "Content-Type": "application/json" } });
    const e = await r.json();
    console.log(e.method, e.body, e.x_test, e.type);
    const t = await (await fetch("http://127.0.0.1:PORT/echo",
                                 { method: "put", body: "plain" })).json();
    console.log(t.method, t.body, t.type);
    const q = new Request("http://127.0.0.1:PORT/echo", {
      method: "POST", body: new Uint8Array([104, 105]),
      headers: [ ["x-test", "from a Request"] ] });
    const u = await (await fetch(q)).json();
    console.log(u.method, u.body, u.x_test, q.bodyUsed);
    const f = new FormData();
    f.append("k", "v");
    const m = await (await fetch("http://127.0.0.1:PORT/echo",
                                 { method: "POST", body: f })).json();
    console.log(m.type.startsWith("multipart/form-data; boundary="),
                m.body.includes("name=\"k\""));
  ), "POST {\"q\":\"caf\u00c3\u00a9\"} yes application/json\n"
     "PUT plain text/plain;charset=UTF-8\n"
     "POST hi from a Request true\n"
     "true true\n");
}

/* A stream body is read whole and sent with its length (Deno sends it
 * chunked, which the test server does not take: isopool only). */
static void t_post_stream(void) {
  const char* flags[] = {g_allow, NULL};
  EXPECT_FETCH_RUN(flags, JS(
    const enc = new TextEncoder();
    const chunks = [enc.encode("str"), enc.encode("eam")];
    const pull = (c) => chunks.length > 0 ? c.enqueue(chunks.shift()) : c.close();
    const s = new ReadableStream({ pull });
    const init = { method: "POST", body: s, duplex: "half" };
    const r = await fetch("http://127.0.0.1:PORT/echo", init);
    console.log((await r.json()).body);
  ), 0, "stream\n");
}

/* Statuses that are not OK are responses, not errors; null-body
 * statuses. */
static void t_status(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const r = await fetch("http://127.0.0.1:PORT/nowhere");
    console.log(r.status, r.ok, r.statusText, await r.text());
    const s = await fetch("http://127.0.0.1:PORT/status/503");
    console.log(s.status, s.ok, await s.text());
    const n = await fetch("http://127.0.0.1:PORT/status/204");
    console.log(n.status, n.body, await n.text());
    const h = await fetch("http://127.0.0.1:PORT/text", { method: "HEAD" });
    console.log(h.status, h.body, await h.text());
  ), "404 false Not Found no route\n"
     "503 false status 503\n"
     "204 null \n"
     "200 null \n");
}

/* Redirects: followed (url, redirected), 303 turns POST into GET,
 * "manual" gives the redirect itself, "error" and a loop reject; the
 * credentials do not follow a redirect to another origin. */
static void t_redirects(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const r = await fetch("http://127.0.0.1:PORT/redirect/3");
    console.log(r.status, r.redirected, r.url.endsWith("/text"), await r.text());
    const p = await fetch("http://127.0.0.1:PORT/see-other",
                          { method: "POST", body: "gone" });
    const e = await p.json();
    console.log(e.method, JSON.stringify(e.body), p.redirected);
    const m = await fetch("http://127.0.0.1:PORT/redirect/1",
                          { redirect: "manual" });
    console.log(m.status, m.headers.get("location"), m.redirected);
    for (const path of ["/redirect/1", "/loop"]) {
      try {
        await fetch("http://127.0.0.1:PORT" + path,
                    { redirect: path === "/loop" ? "follow" : "error" });
        console.log("no error");
      } catch (err) {
        console.log(err.name);
      }
    }
    const auth = { headers: { Authorization: "Bearer s3cret" } };
    const near = await (await fetch("http://127.0.0.1:PORT/near-echo", auth)).json();
    const away = await (await fetch("http://127.0.0.1:PORT/away-echo", auth)).json();
    console.log(JSON.stringify(near.auth), JSON.stringify(away.auth));
  ), "200 true true hello\n"
     "GET \"\" true\n"
     "302 /redirect/0 false\n"
     "TypeError\n"
     "TypeError\n"
     "\"Bearer s3cret\" \"\"\n");
}

/* An AbortSignal stops a request before its head and during its body,
 * and a signal aborted first never sends; the rejection is the signal's
 * reason. */
static void t_abort(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const t0 = performance.now();
    try {
      await fetch("http://127.0.0.1:PORT/slow/3000",
                  { signal: AbortSignal.timeout(100) });
    } catch (e) {
      console.log(e.name, performance.now() - t0 < 2000);
    }
    const ac = new AbortController();
    const p = fetch("http://127.0.0.1:PORT/slow/3000", { signal: ac.signal });
    setTimeout(() => ac.abort(new Error("mine")), 50);
    try { await p; } catch (e) { console.log(e.message); }
    try {
      await fetch("http://127.0.0.1:PORT/text", { signal: AbortSignal.abort() });
    } catch (e) {
      console.log(e.name);
    }
    const bc = new AbortController();
    const big = await fetch("http://127.0.0.1:PORT/big/5000000",
                            { signal: bc.signal });
    const reader = big.body.getReader();
    await reader.read();
    bc.abort();
    try {
      for (let d = false; !d;) { d = (await reader.read()).done; }
      console.log("read to the end");
    } catch (e) {
      console.log(e.name);
    }
  ), "TimeoutError true\n"
     "mine\n"
     "AbortError\n"
     "AbortError\n");
}

/* A body streams: a large one read chunk by chunk adds up; a cancelled
 * one stops; many requests at once all come back. */
static void t_stream(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const r = await fetch("http://127.0.0.1:PORT/big/3000000");
    let n = 0, chunks = 0;
    for await (const c of r.body) { n += c.byteLength; chunks++; }
    console.log(n, chunks > 1);
    const c = await fetch("http://127.0.0.1:PORT/big/3000000");
    await c.body.cancel();
    console.log(c.bodyUsed);
    const all = await Promise.all(Array.from({ length: 64 }, (_, i) =>
      fetch("http://127.0.0.1:PORT/json").then((x) => x.json())));
    console.log(all.length, all.every((x) => x.a === 1));
  ), "3000000 true\n"
     "true\n"
     "64 true\n");
}

/* data: URLs are answered in the runtime (no op, no permission): the
 * standard's processor, its MIME types, base64, a fragment; a bad one
 * is a TypeError. */
static void t_data_urls(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const tries = ["data:,Hello%2C%20World%21", "data:text/plain;base64,SGVsbG8=",
      "data:;base64,SGVsbG8=", "data: text/HTML ;Charset=\"utf-8\",<b>x</b>",
      "data:application/json,%7B%22a%22%3A1%7D", "data:text/plain;base64 ,SGVs bG8",
      "data:text/plain;a=\"b\\\"c\";base64,SGk=", "data:text/plain;base64,SGV@sbG8",
      "data:nocomma"];
    for (const u of tries) {
      try {
        const r = await fetch(u + "#frag");
        console.log(r.status, r.statusText, r.type, r.url === u, r.redirected,
                    r.headers.get("content-type"), [...r.headers].length,
                    JSON.stringify(await r.text()));
      } catch (e) { console.log(e.name); }
    }
    const a = new Uint8Array(await (await fetch("data:;base64,AP8A")).arrayBuffer());
    console.log(a.join());
    const h = await fetch("data:,x", { method: "HEAD" });
    console.log(h.status, JSON.stringify(await h.text()));
  ), NULL);
  /* no permission needed: a data: URL is not the network */
  EXPECT_FETCH_RUN(NULL, JS(
    console.log(await (await fetch("data:,ok")).text());
  ), 0, "ok\n");
}

/* blob: URLs name the realm's Blobs (URL.createObjectURL): answered in
 * the runtime with the Blob's bytes, type and length; GET only; a revoked
 * or unknown one is a TypeError. */
static void t_blob_urls(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const b = new Blob(["h\u00e9llo"], { type: "text/plain" });
    const u = URL.createObjectURL(b);
    const r = await fetch(u + "#x");
    console.log(r.status, r.statusText, r.type, r.url === u,
                [...r.headers].map(String).join("|"), await r.text());
    const e = URL.createObjectURL(new Blob([new Uint8Array([1, 2])]));
    const r2 = await fetch(e);
    console.log([...r2.headers].map(String).join("|"),
                new Uint8Array(await r2.arrayBuffer()).join());
    const tries = [[u, "POST"], [u, "GET"], ["blob:null/nope", "GET"]];
    URL.revokeObjectURL(u);
    for (const [url, method] of tries) {
      try {
        await fetch(url, method === "POST" ? { method, body: "x" } : {});
        console.log("no error");
      } catch (err) { console.log(method, err.name); }
    }
  ), "200 OK basic true content-length,6|content-type,text/plain h\u00e9llo\n"
     "content-length,2|content-type, 1,2\n"
     "POST TypeError\n"
     "GET TypeError\n"
     "GET TypeError\n");
}

/* WebAssembly.compileStreaming and instantiateStreaming take a Response
 * (or a promise of one): application/wasm only (no parameters; spaces
 * and case aside), an ok status, a body not used. */
static void t_wasm_streaming(void) {
  EXPECT_FETCH_AS_DENO(JS(
    const ok = "data:application/wasm;base64,AGFzbQEAAAA=";
    const m = await WebAssembly.compileStreaming(fetch(ok));
    console.log(m instanceof WebAssembly.Module, WebAssembly.Module.exports(m).length);
    const r = await WebAssembly.instantiateStreaming(fetch(ok), {});
    console.log(Object.keys(r).sort().join(), r.instance instanceof WebAssembly.Instance);
    const wasm = () => new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
    const typed = (type, status) => new Response(wasm(), { status, headers: { "content-type": type } });
    const used = new Response(wasm(), { headers: { "content-type": "application/wasm" } });
    await used.text();
    const tries = [
      () => WebAssembly.compileStreaming(fetch("data:application/octet-stream;base64,AGFzbQEAAAA=")),
      () => WebAssembly.compileStreaming(fetch("data:application/wasm;charset=x;base64,AGFzbQEAAAA=")),
      () => WebAssembly.compileStreaming(typed(" Application/WASM\t", 200)),
      () => WebAssembly.compileStreaming(typed("application/wasm", 404)),
      () => WebAssembly.compileStreaming(new Response(new Uint8Array([1, 2]),
              { headers: { "content-type": "application/wasm" } })),
      () => WebAssembly.compileStreaming(42),
      () => WebAssembly.compileStreaming(used),
      () => WebAssembly.instantiateStreaming(Promise.resolve(typed("application/wasm", 200))),
    ];
    for (const t of tries) {
      try {
        const v = await t();
        console.log("ok", v instanceof WebAssembly.Module || v.instance instanceof WebAssembly.Instance);
      } catch (e) { console.log(e.constructor.name); }
    }
  ), "true 0\n"
     "instance,module true\n"
     "TypeError\n"
     "TypeError\n"
     "ok true\n"
     "TypeError\n"
     "CompileError\n"
     "TypeError\n"
     "TypeError\n"
     "ok true\n");
}

/* Network failures and bad requests are TypeErrors; nothing is sent for
 * a request that cannot be made. */
static void t_errors(void) {
  const char* flags[] = {"--allow-net=127.0.0.1", NULL};
  EXPECT_FETCH_RUN(flags, JS(
    const tries = ["http://127.0.0.1:1/", "ftp://127.0.0.1:PORT/",
                   "http://exa mple.com/", "not a url"];
    for (const u of tries) {
      try { await fetch(u); console.log("no error"); }
      catch (e) { console.log(e.name, e instanceof TypeError); }
    }
    try { await fetch("http://127.0.0.1:PORT/text", { method: "CONNECT" }); }
    catch (e) { console.log(e.name); }
    try {
      await fetch("http://127.0.0.1:PORT/text",
                  { headers: { "X-Bad": "caf\u00e9\u0100" } });
    } catch (e) { console.log(e.name); }
    try { await fetch("http://127.0.0.1:1/"); }
    catch (e) { console.log(e.message, String(e.cause).includes("127.0.0.1")); }
  ), 0,
     "TypeError true\n"
     "TypeError true\n"
     "TypeError true\n"
     "TypeError true\n"
     "TypeError\n"
     "TypeError\n"
     "fetch failed true\n");
}

/* Without --allow-net, or past what it grants, fetch rejects with
 * PermissionDenied naming the host and port, before anything is sent; a
 * redirect to a host not granted is refused the same way. */
static void t_permissions(void) {
  long hits = http_server_hits(g_srv);
  EXPECT_FETCH_RUN(NULL, JS(
    try { await fetch("http://127.0.0.1:PORT/text"); }
    catch (e) {
      console.log(e.name, e instanceof Isopool.errors.PermissionDenied);
      console.log(e.message);
    }
  ), 0,
     "PermissionDenied true\n"
     "net access to \"127.0.0.1:PORT\" was not granted (it needs "
     "--allow-net=127.0.0.1:PORT or wider, and the job's permissions.net, if "
     "it sends one, to allow it)\n");
  CHECK_EQ(http_server_hits(g_srv), hits); /* nothing sent */
  char only[64];
  snprintf(only, sizeof only, "--allow-net=127.0.0.1:%d",
           http_server_port(g_srv));
  const char* flags[] = {only, NULL};
  EXPECT_FETCH_RUN(flags, JS(
    try { await fetch("http://localhost:PORT/text"); }
    catch (e) { console.log(e.name); }
    try { await fetch("http://127.0.0.1:PORT/away"); }
    catch (e) { console.log(e.name, e.message.includes("localhost:PORT")); }
    console.log((await fetch("http://127.0.0.1:PORT/text")).status);
  ), 0,
     "PermissionDenied\n"
     "PermissionDenied true\n"
     "200\n");
}

/* Ops that answer later than their batch, in process (the runtime's
 * mailbox): op_echo_later defers and answers at once, racing its batch;
 * every promise settles once with its own value, and the loop waits for
 * them. */
static void t_later_ops(void) {
  EXPECT_FETCH_RUN(NULL, JS(
    const core = Isopool.core;
    const vals = await Promise.all(Array.from({ length: 5000 },
      (_, i) => core.opAsync("op_echo_later", i)));
    console.log(vals.length, vals.every((v, i) => v === i));
    setTimeout(async () => console.log(await core.opAsync("op_echo_later", "t")), 10);
  ), 0, "5000 true\nt\n");
}

// clang-format on

/* Per case (NNG's threads must not cross the harness's fork). */
static void case_setup(void) {
  g_srv = http_server_start();
  if (g_srv == NULL) {
    exit(1);
  }
  snprintf(g_allow, sizeof g_allow, "--allow-net=127.0.0.1:%d,localhost:%d",
           http_server_port(g_srv), http_server_port(g_srv));
}

static const iso_test cases[] = {{"get", t_get},
                                 {"post", t_post},
                                 {"post_stream", t_post_stream},
                                 {"status", t_status},
                                 {"redirects", t_redirects},
                                 {"abort", t_abort},
                                 {"stream", t_stream},
                                 {"data_urls", t_data_urls},
                                 {"blob_urls", t_blob_urls},
                                 {"wasm_streaming", t_wasm_streaming},
                                 {"errors", t_errors},
                                 {"permissions", t_permissions},
                                 {"later_ops", t_later_ops},
                                 {NULL, NULL}};

static void case_teardown(void) {
  http_server_stop(g_srv);
  g_srv = NULL;
}

int main(int argc, char** argv) {
  if (js_run_ready() != 0) {
    return 1;
  }
  iso_test_suite suite = {
      .cases = cases, .case_setup = case_setup, .case_teardown = case_teardown};
  return iso_test_run(argc, argv, &suite);
}
