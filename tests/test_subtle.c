/* test_subtle.c: crypto.subtle beyond digest (bootstrap/prelude/65-subtle.js
 * over the ops of ops/crypto.c) through `isopool run`, each script also
 * run by Deno where it can be (support/js_run.h, EXPECT_AS_DENO): HMAC,
 * AES-GCM, ECDSA and Ed25519 verification with keys and signatures Deno
 * made, importKey/exportKey as raw and jwk, generateKey, and the
 * DOMException each misuse gets. Where isopool and Deno differ on purpose
 * (isopool checks an EC point at import, follows WebIDL for a missing
 * `hash`, and has no RSA or ECDSA keys of its own), the case checks
 * isopool alone and says why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_run.h"
#include "tap.h"

/* A line every script starts with: hex of an ArrayBuffer, the subtle
 * object, an encoder. */
#define PRE                                                                  \
  "const hex = (b) => Array.from(new Uint8Array(b), (x) => "                 \
  "x.toString(16).padStart(2, \"0\")).join(\"\"); const s = crypto.subtle; " \
  "const e = new TextEncoder(); const name = async (p) => { try { await p; " \
  "return \"ok\"; } catch (x) { return x.name; } };"

/* Made by Deno 2.9.6: generateKey, exportKey of the public key,
 * sign("isopool"); as JavaScript declarations (JS(...) stringizes its
 * argument, so a C macro inside it would not expand). */
#define KEYS                                                                   \
  "const P256_PUB = "                                                          \
  "\"042ab2ad6d6262f1f5c0d7352efe1c072d1740879edf0ec0ff70d6c8e4d33b4cda3687df" \
  "8009521f8bbfada750b87905e3307f991d997f70214435ceb996782b96\";"              \
  "const P256_SIG = "                                                          \
  "\"169af0ca077b0f1dacb7969c35abd8aa09895ff56b8ea389f8426491aa53df7a23f8fd41" \
  "2fc2578688c63a797a4baa5fec3157aa9f3b89fe2a66b988b85f1f9c\";"                \
  "const P384_JWK = {kty: \"EC\", alg: \"ES384\", crv: \"P-384\", x: "         \
  "\"vWAtEef_YAoQUDpkuANMQKG2bTt1cTw-9IZFJZ_abXDLFd7n8La0pub2axo-8sc-\", y: "  \
  "\"Vn5NKYC1vb9taMYA4NxrwuiEbcAGMquHEOSKWKdLABOwfQa9thcO3WXgsdVUBNAn\", "     \
  "key_ops: [\"verify\"], ext: true};"                                         \
  "const P384_SIG = "                                                          \
  "\"559d26cc67620ab249982c8d0e822354ff814862859a962315e4f321b03e6ddb89eb8b99" \
  "7178fd28fcf9f00c479785cf23e831242110cb2f29673dd2542090657430d95c22ef086dd1" \
  "75f28a4024d5fb703ce90afdab573837c4909e3fc6a823\";"                          \
  "const ED_JWK = {kty: \"OKP\", crv: \"Ed25519\", x: "                        \
  "\"U7wzjbwCkpXH8on176MLS_UvcPsP8n_8TcAGaHnPqdM\", key_ops: [\"verify\"], "   \
  "ext: true};"                                                                \
  "const ED_SIG = "                                                            \
  "\"6b209725f7aecb728cf54fd7a3a44630f846cde9a283139dbddebde6a504a5d7f7afb981" \
  "642fcdc424057715837fdb467466092c5232097001d65d0b271a3d09\";"                \
  "const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, " \
  "16)));"

/* The cases are kept out of `make format` (js_run.h). */
// clang-format off

static void t_hmac(void) {
  EXPECT_AS_DENO(PRE JS(
      const k = await s.importKey("raw", e.encode("key"), {name: "HMAC", hash: "SHA-256"}, true, ["sign", "verify"]);
      console.log(k);
      const msg = e.encode("The quick brown fox jumps over the lazy dog");
      const sig = await s.sign("HMAC", k, msg);
      console.log(hex(sig));
      console.log(await s.verify("HMAC", k, sig, msg), await s.verify("HMAC", k, sig, e.encode("x")));
      const jwk = await s.exportKey("jwk", k);
      console.log(JSON.stringify(jwk));
      const k2 = await s.importKey("jwk", jwk, {name: "hmac", hash: {name: "SHA-256"}}, false, ["verify"]);
      console.log(await s.verify({name: "HMAC"}, k2, sig, msg), k2.extractable, k2.usages);
      console.log(hex(await s.exportKey("raw", k)));),
    NULL);
}

static void t_aes_gcm(void) {
  EXPECT_AS_DENO(PRE JS(
      const k = await s.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["encrypt", "decrypt"]);
      const iv = new Uint8Array(12);
      console.log(hex(await s.encrypt({name: "AES-GCM", iv}, k, new Uint8Array(0))));
      const ct = await s.encrypt({name: "AES-GCM", iv}, k, new Uint8Array(16));
      console.log(hex(ct));
      console.log(hex(await s.decrypt({name: "AES-GCM", iv}, k, ct)));
      const aad = e.encode("header");
      const ct2 = await s.encrypt({name: "AES-GCM", iv, additionalData: aad}, k, e.encode("isopool"));
      console.log(ct2.byteLength, new TextDecoder().decode(await s.decrypt({name: "AES-GCM", iv, additionalData: aad}, k, ct2)));
      console.log(await name(s.decrypt({name: "AES-GCM", iv}, k, ct2)));
      const bad = new Uint8Array(ct);
      bad[0] ^= 1;
      console.log(await name(s.decrypt({name: "AES-GCM", iv}, k, bad)));
      console.log(JSON.stringify(await s.exportKey("jwk", k)));),
    "58e2fccefa7e3061367f1d57a4e7455a\n"
    "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf\n"
    "00000000000000000000000000000000\n"
    "23 isopool\n"
    "OperationError\n"
    "OperationError\n"
    "{\"kty\":\"oct\",\"alg\":\"A128GCM\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"key_ops\":[\"encrypt\",\"decrypt\"],\"ext\":true}\n");
}

static void t_ecdsa(void) {
  EXPECT_AS_DENO(PRE KEYS JS(
      const pub = await s.importKey("raw", unhex(P256_PUB), {name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]);
      console.log(pub);
      const alg = {name: "ECDSA", hash: "SHA-256"};
      const sig = unhex(P256_SIG);
      console.log(await s.verify(alg, pub, sig, e.encode("isopool")), await s.verify(alg, pub, sig, e.encode("isopoo1")));
      console.log(await s.verify(alg, pub, sig.subarray(1), e.encode("isopool")));
      console.log(JSON.stringify(await s.exportKey("jwk", pub)));
      console.log(hex(await s.exportKey("raw", pub)) === P256_PUB);
      const p384 = await s.importKey("jwk", P384_JWK, {name: "ECDSA", namedCurve: "P-384"}, true, ["verify"]);
      console.log(await s.verify({name: "ECDSA", hash: "SHA-384"}, p384, unhex(P384_SIG), e.encode("isopool")));
      console.log(JSON.stringify(await s.exportKey("jwk", p384)) === JSON.stringify(P384_JWK));),
    NULL);
}

static void t_ed25519(void) {
  EXPECT_AS_DENO(PRE KEYS JS(
      const pub = await s.importKey("jwk", ED_JWK, "Ed25519", true, ["verify"]);
      console.log(pub.type, pub.algorithm, pub.usages);
      const sig = unhex(ED_SIG);
      console.log(await s.verify("Ed25519", pub, sig, e.encode("isopool")), await s.verify("Ed25519", pub, sig, e.encode("isopoo1")));
      console.log(hex(await s.exportKey("raw", pub)));
      const raw = await s.importKey("raw", await s.exportKey("raw", pub), {name: "ed25519"}, false, ["verify"]);
      console.log(await s.verify("Ed25519", raw, sig, e.encode("isopool")));
      console.log(JSON.stringify(await s.exportKey("jwk", pub)) === JSON.stringify(ED_JWK));),
    "public { name: \"Ed25519\" } [ \"verify\" ]\n"
    "true false\n"
    "53bc338dbc029295c7f289f5efa30b4bf52f70fb0ff27ffc4dc0066879cfa9d3\n"
    "true\n"
    "true\n");
}

static void t_generate(void) {
  EXPECT_AS_DENO(PRE JS(
      const h = await s.generateKey({name: "HMAC", hash: "SHA-256"}, true, ["sign"]);
      console.log(h.algorithm, (await s.exportKey("raw", h)).byteLength);
      const h5 = await s.generateKey({name: "HMAC", hash: "SHA-512"}, false, ["sign", "verify"]);
      console.log(h5.algorithm.length, h5.extractable, await name(s.exportKey("raw", h5)));
      const a = await s.generateKey({name: "AES-GCM", length: 256}, true, ["encrypt", "decrypt"]);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = await s.encrypt({name: "AES-GCM", iv}, a, e.encode("hello"));
      console.log(a.algorithm, new TextDecoder().decode(await s.decrypt({name: "AES-GCM", iv}, a, ct)));
      const b = await s.generateKey({name: "AES-GCM", length: 256}, true, ["encrypt"]);
      console.log(hex(await s.exportKey("raw", a)) !== hex(await s.exportKey("raw", b)));),
    "{ name: \"HMAC\", length: 512, hash: { name: \"SHA-256\" } } 64\n"
    "1024 false InvalidAccessError\n"
    "{ name: \"AES-GCM\", length: 256 } hello\n"
    "true\n");
}

static void t_key_is_a_copy(void) {
  /* the key's bytes are taken at import: changing the source later
   * changes nothing */
  EXPECT_AS_DENO(PRE JS(
      const bytes = e.encode("secret");
      const k = await s.importKey("raw", bytes, {name: "HMAC", hash: "SHA-256"}, true, ["sign"]);
      const before = hex(await s.sign("HMAC", k, e.encode("m")));
      bytes.fill(0);
      console.log(before === hex(await s.sign("HMAC", k, e.encode("m"))));
      console.log(new TextDecoder().decode(await s.exportKey("raw", k)));),
    "true\nsecret\n");
}

static void t_errors(void) {
  EXPECT_AS_DENO(PRE JS(
      const k = await s.importKey("raw", e.encode("k"), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
      const a = await s.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["encrypt"]);
      const hmac = {name: "HMAC", hash: "SHA-256"};
      for (const f of [
        () => s.importKey("raw", e.encode("k"), hmac, true, ["encrypt"]),
        () => s.importKey("raw", e.encode("k"), hmac, true, []),
        () => s.importKey("raw", new Uint8Array(0), hmac, true, ["sign"]),
        () => s.importKey("raw", new Uint8Array(20), "AES-GCM", true, ["encrypt"]),
        () => s.importKey("jwk", {kty: "EC", crv: "P-256", x: "AA", y: "AA"}, hmac, true, ["sign"]),
        () => s.importKey("raw", new Uint8Array(65), {name: "ECDSA", namedCurve: "P-256"}, true, ["sign"]),
        () => s.importKey("raw", new Uint8Array(31), "Ed25519", true, ["verify"]),
        () => s.importKey("raw", e.encode("k"), {name: "HMAC", hash: "SHA-256", length: 100}, true, ["sign"]),
        () => s.importKey("jwk", {kty: "oct", k: "a2V5", alg: "HS512"}, hmac, true, ["sign"]),
        () => s.importKey("jwk", {kty: "oct", k: "a2V5", ext: false}, hmac, true, ["sign"]),
        () => s.exportKey("raw", k),
        () => s.verify("HMAC", k, new Uint8Array(32), e.encode("x")),
        () => s.sign("HMAC", a, e.encode("x")),
        () => s.encrypt({name: "AES-GCM", iv: new Uint8Array(12), tagLength: 100}, a, e.encode("x")),
        () => s.encrypt({name: "AES-GCM"}, a, e.encode("x")),
        () => s.generateKey({name: "AES-GCM", length: 100}, true, ["encrypt"]),
        () => s.importKey("raw", e.encode("k"), "NO-SUCH", true, ["sign"]),
      ]) {
        console.log(await name(f()));
      }
      let r;
      try { new CryptoKey(); } catch (x) { r = x.name; }
      console.log(r, Object.prototype.toString.call(k));),
    "SyntaxError\nSyntaxError\nDataError\nDataError\nDataError\nSyntaxError\n"
    "DataError\nDataError\nDataError\nDataError\nInvalidAccessError\n"
    "InvalidAccessError\nInvalidAccessError\nOperationError\nTypeError\n"
    "OperationError\nNotSupportedError\nTypeError [object CryptoKey]\n");
}

static void t_errors_isopool(void) {
  /* where Deno answers otherwise: a point not on the curve is refused at
   * import (Deno takes it); HmacImportParams' `hash` is required, so its
   * absence is WebIDL's TypeError (Deno: DataError); an empty IV is
   * OperationError as the standard says (Deno: NotSupportedError); RSA
   * and ECDSA key generation are not here (NotSupportedError); a 96-bit
   * tag decrypts (Deno 2.9.6 refuses its own: "invalid tag length") */
  EXPECT_RUN(PRE JS(
      const a = await s.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["encrypt", "decrypt"]);
      for (const f of [
        () => s.importKey("raw", new Uint8Array(65).fill(4, 0, 1), {name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]),
        () => s.importKey("raw", e.encode("k"), {name: "HMAC"}, true, ["sign"]),
        () => s.encrypt({name: "AES-GCM", iv: new Uint8Array(0)}, a, e.encode("x")),
        () => s.importKey("raw", e.encode("k"), {name: "RSA-PSS"}, true, ["sign"]),
        () => s.generateKey({name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]),
        () => s.importKey("jwk", {kty: "EC", crv: "P-256", x: "AA", y: "AA", d: "AA"}, {name: "ECDSA", namedCurve: "P-256"}, true, ["verify"]),
      ]) {
        console.log(await name(f()));
      }
      const iv = new Uint8Array(12);
      const ct = await s.encrypt({name: "AES-GCM", iv, tagLength: 96}, a, e.encode("isopool"));
      console.log(ct.byteLength, new TextDecoder().decode(await s.decrypt({name: "AES-GCM", iv, tagLength: 96}, a, ct)));),
    0, "DataError\nTypeError\nOperationError\nNotSupportedError\n"
       "NotSupportedError\nNotSupportedError\n19 isopool\n", "");
}

static void t_replaced_globals(void) {
  /* crypto.subtle is a lazy part of the prelude (a script of its own, compiled on first use): it takes the prelude's own DOMException, atob and btoa even when user code replaced the globals before the first use */
  EXPECT_RUN(JS(const DE = DOMException; const hits = [];
      for (const n of ["DOMException", "atob", "btoa", "TextEncoder", "TextDecoder"]) {
        globalThis[n] = function () { hits.push(n); throw new Error(`replaced ${n}`); };
      }
      const s = crypto.subtle;
      const k = await s.importKey("jwk", {kty: "oct", k: "a2V5", alg: "HS256", ext: true}, {name: "HMAC", hash: "SHA-256"}, true, ["sign"]);
      const jwk = await s.exportKey("jwk", k);
      console.log(jwk.k, jwk.alg, k instanceof CryptoKey, s instanceof SubtleCrypto);
      try { await s.importKey("raw", new Uint8Array(1), "NO-SUCH", true, ["sign"]); } catch (x) { console.log(x instanceof DE, x.name); }
      console.log(hits.length);),
    0, "a2V5 HS256 true true\ntrue NotSupportedError\n0\n", "");
}

/* structuredClone copies a CryptoKey (a serializable platform object):
 * the same type, extractability, algorithm, usages and key, extractable
 * or not, nested too. */
static void t_clone(void) {
  EXPECT_AS_DENO(JS(
    const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    const copy = structuredClone(key);
    console.log(copy instanceof CryptoKey, copy !== key, copy.type, copy.extractable,
                JSON.stringify(copy.algorithm), copy.usages.join());
    const data = new TextEncoder().encode("x");
    const a = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
    const b = new Uint8Array(await crypto.subtle.sign("HMAC", copy, data));
    console.log(a.join() === b.join());
    const aes = await crypto.subtle.importKey("raw", new Uint8Array(16).fill(7), "AES-GCM", true, ["encrypt"]);
    const [c2] = structuredClone([aes]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", c2));
    console.log(c2.algorithm.name, c2.algorithm.length, raw.length, raw[0]);
    console.log(Object.prototype.toString.call(copy), String(Object.keys(copy)));
  ), "true true secret false {\"name\":\"HMAC\",\"length\":512,\"hash\":{\"name\":\"SHA-256\"}} sign,verify\n"
     "true\n"
     "AES-GCM 128 16 7\n"
     "[object CryptoKey] \n");
}

// clang-format on

static const iso_test cases[] = {
    {"hmac", t_hmac},
    {"clone", t_clone},
    {"aes_gcm", t_aes_gcm},
    {"ecdsa", t_ecdsa},
    {"ed25519", t_ed25519},
    {"generate", t_generate},
    {"key_is_a_copy", t_key_is_a_copy},
    {"errors", t_errors},
    {"errors_isopool", t_errors_isopool},
    {"replaced_globals", t_replaced_globals},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
