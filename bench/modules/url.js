// url.js: URLSearchParams and URL micro-benchmarks, for isopool and Deno
// alike (bench/README.md): `build/bin/isopool run bench/modules/url.js`
// and `$(scripts/deno.sh) run bench/modules/url.js`. Each figure is the
// best of 5 rounds (the machine is shared).
function b(name, n, f) { let best = 0; for (let r = 0; r < 5; r++) { for (let i = 0; i < n/10; i++) f(i); const t = performance.now(); for (let i = 0; i < n; i++) f(i); const dt = performance.now() - t; best = Math.max(best, n / dt / 1000); } console.log(name.padEnd(28), best.toFixed(3), "M ops/s"); }
const q = "utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale&q=caf%C3%A9+au+lait&page=2&sort=price_asc&filter=a%2Cb%2Cc&empty=&flag";
b("parse long query", 50000, () => new URLSearchParams(q));
const p = new URLSearchParams(q);
b("toString long", 50000, () => p.toString());
b("sort", 50000, () => new URLSearchParams(q).sort());
b("from record", 50000, () => new URLSearchParams({ a: "1", b: "two words", c: "é" }).toString());
b("url.search roundtrip", 50000, (i) => { const u = new URL("https://example.com/path?" + q); u.searchParams.set("page", i); return u.href; });
b("append x10 toString", 30000, () => { const s = new URLSearchParams(); for (let i = 0; i < 10; i++) s.append("k" + i, "v " + i); return s.toString(); });
