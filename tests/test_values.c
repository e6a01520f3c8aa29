/* test_values.c: the one conversion between JavaScript values and msgpack
 * (docs/values.md), both ways, byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"

/* Runs `export default <expr>` and returns the result (caller frees). */
static void value_of(const char* expr, rt_result* r) {
  rt_root();
  rt_write("main.js", "export default %s;\n", expr);
  rt_run("main.js", r);
}

static void t_encode_exact_bytes(void) {
  static const struct {
    const char* expr;
    const char* hex;
  } table[] = {
      {"null", "c0"},
      {"[undefined, null]", "92c0c0"},
      {"true", "c3"},
      {"false", "c2"},
      {"0", "00"},
      {"-1", "ff"},
      {"127", "7f"},
      {"128", "cc80"},
      {"-33", "d0df"},
      {"65536", "ce00010000"},
      {"2 ** 53", "cf0020000000000000"},
      {"-(2 ** 40)", "d3ffffff0000000000"},
      {"1.5", "cb3ff8000000000000"},
      {"-0", "cb8000000000000000"},
      {"NaN", "cb7ff8000000000000"},
      {"2n ** 40n", "cf0000010000000000"},
      {"-5n", "fb"},
      {"'hé'", "a368c3a9"},
      {"new Uint8Array([1, 2, 3])", "c403010203"},
      {"new Uint8Array([9, 8, 7]).subarray(1)", "c4020807"},
      {"new Uint8Array([4, 5]).buffer", "c4020405"},
      {"new Date(1000)", "d7ff0000000000000001"},
      {"new Date(1500)", "d7ff7735940000000001"},
      {"new Date(-1)", "c70cff3b8b87c0ffffffffffffffff"},
      {"{ a: 1, b: [true] }", "82a16101a16291c3"},
      {"new Map([[1, 'x']])", "8101a178"},
      {"new Set([1, 2])", "920102"},
      {"new Error('e')", "82a46e616d65a54572726f72a76d657373616765a165"},
      {"Object(7)", "07"},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    rt_result r;
    value_of(table[i].expr, &r);
    if (r.status != 0 || r.hex == NULL || strcmp(r.hex, table[i].hex) != 0) {
      fprintf(stderr, "  %s: got %s (status %d, %s), want %s\n", table[i].expr,
              r.hex ? r.hex : "(none)", r.status, r.error ? r.error : "",
              table[i].hex);
      iso_test_failed = 1;
    }
    rt_result_free(&r);
  }
}

static void t_unsendable(void) {
  static const struct {
    const char* expr;
    const char* message;
  } table[] = {
      {"{ f: () => 1 }", "the value.f is a function"},
      {"[Symbol('s')]", "the value[0] is a symbol"},
      {"(() => { const o = { a: {} }; o.a.o = o; return o; })()",
       "the value.a.o is a cycle"},
      {"2n ** 64n", "the value is a BigInt outside the int64 range"},
      {"{ p: Promise.resolve(1) }", "the value.p is a Promise"},
      {"new Date(NaN)", "the value is an invalid Date"},
  };
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    rt_result r;
    value_of(table[i].expr, &r);
    CHECK_EQ(r.status, ISO_ETYPE);
    CHECK_CONTAINS(r.error, table[i].message);
    rt_result_free(&r);
  }
}

static void t_shared_not_cycle(void) {
  rt_result r;
  value_of("(() => { const s = { v: 1 }; return [s, s, { s }]; })()", &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value, "[{\"v\":1},{\"v\":1},{\"s\":{\"v\":1}}]");
  rt_result_free(&r);
}

static void t_structured_clone_native(void) {
  /* structuredClone's native half in process (the ASan leak check):
   * transfer, a SharedArrayBuffer, a DOMException cloned twice (the host
   * object hooks), a failed clone that keeps its buffers */
  rt_result r;
  value_of(
      "(() => {\n"
      "  const ab = new ArrayBuffer(16); new Uint8Array(ab)[3] = 9;\n"
      "  const moved = structuredClone({ ab }, { transfer: [ab] }).ab;\n"
      "  const sab = new SharedArrayBuffer(8);\n"
      "  const shared = structuredClone([sab, sab]);\n"
      "  new Uint8Array(shared[0])[0] = 5;\n"
      "  const e = structuredClone(structuredClone({ e: new "
      "DOMException('m', 'DataError') })).e;\n"
      "  const keep = new ArrayBuffer(4); let name = '';\n"
      "  try { structuredClone([keep, Symbol()], { transfer: [keep] }); }\n"
      "  catch (x) { name = x.name; }\n"
      "  return [ab.byteLength, moved.byteLength, new Uint8Array(moved)[3],\n"
      "    shared[0] === shared[1], new Uint8Array(sab)[0],\n"
      "    e instanceof DOMException, e.name, e.message, name,\n"
      "    keep.byteLength];\n"
      "})()",
      &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value,
            "[0,16,9,true,5,true,\"DataError\",\"m\",\"DataCloneError\",4]");
  rt_result_free(&r);
}

/* Decodes `hex`, calls the module's default export with it as the argument
 * array, and returns what the function returned. */
static void call_with(const char* fn, const char* hex, rt_result* r) {
  size_t n = strlen(hex) / 2;
  uint8_t* mp = malloc(n);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    mp[i] = (uint8_t)v;
  }
  rt_root();
  rt_write("main.js", "export default %s;\n", fn);
  iso_eval_opts eo = {.args_mp = mp, .args_len = n};
  rt_run_opts("main.js", eo, r);
  free(mp);
}

static void t_round_trip_bytes(void) {
  /* everything the encoder produces comes back identical */
  static const char* inputs[] = {
      "90",
      "93c0c3c2",
      "9501ff7fcc80d0df",
      "92cf0020000000000000d3ffffff0000000000",
      "91cb3ff8000000000000",
      "91a368c3a9",
      "91c403010203",
      "91d7ff0000000000000001",
      "91d7ff7735940000000001",
      "9182a16101a16291c3",
      "918101a178",
      "91cf0000010000000000",
  };
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    rt_result r;
    call_with("(...args) => args", inputs[i], &r);
    if (r.status != 0 || r.hex == NULL || strcmp(r.hex, inputs[i]) != 0) {
      fprintf(stderr, "  round trip of %s gave %s (%s)\n", inputs[i],
              r.hex ? r.hex : "(none)", r.error ? r.error : "");
      iso_test_failed = 1;
    }
    rt_result_free(&r);
  }
}

static void t_decode_types(void) {
  rt_result r;
  /* [nil, 1.5f32, bin, ts, {1: "x"}, u64 max, str8, ext 5] */
  call_with(
      "(...a) => a.map((v) => v === null ? 'null' :\n"
      "  typeof v === 'object' ? v.constructor.name : typeof v)",
      "98c0ca3fc00000c40101d6ff000000018101a178cfffffffffffffffffd90161"
      "d50501ff",
      &r);
  CHECK_EQ(r.status, 0);
  CHECK_STR(r.value,
            "[\"null\",\"number\",\"Uint8Array\",\"Date\",\"Map\","
            "\"bigint\",\"string\",\"Uint8Array\"]");
  rt_result_free(&r);
}

static void t_decode_rejects_garbage(void) {
  static const char* bad[] = {
      "c1",         /* never used */
      "92c0",       /* truncated array */
      "dd7fffffff", /* absurd count */
      "90c0",       /* trailing bytes */
      "c0",         /* not an array */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rt_result r;
    call_with("(...a) => a", bad[i], &r);
    CHECK(r.status != 0);
    CHECK(r.error != NULL);
    rt_result_free(&r);
  }
}

static const iso_test cases[] = {
    {"encode_exact_bytes", t_encode_exact_bytes},
    {"unsendable", t_unsendable},
    {"shared_not_cycle", t_shared_not_cycle},
    {"structured_clone_native", t_structured_clone_native},
    {"round_trip_bytes", t_round_trip_bytes},
    {"decode_types", t_decode_types},
    {"decode_rejects_garbage", t_decode_rejects_garbage},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
