/* test_encoding.c: TextEncoder and TextDecoder
 * (bootstrap/prelude/40-encoding.js) and atob/btoa (45-base64.js) through
 * `isopool run`: round trips, decoder options, streaming, encodeInto,
 * forgiving-base64.
 *
 * Each case writes a small ES module to a fresh temporary directory, runs
 * `isopool run main.js` in a child process and checks the exact stdout,
 * stderr and exit status, the way a user of the command sees them
 * (support/js_run.h), so a failure may point at the prelude or at its
 * contract with the runtime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_run.h"
#include "tap.h"

/* The cases are kept out of `make format` (js_run.h). */
// clang-format off

/* ---- encoding ---- */

static void t_text_round_trip(void) {
  /* "h\u00e9llo \u20ac\U0001d11e" is 14 bytes of UTF-8. */
  EXPECT_RUN(JS(const s = "h" + String.fromCodePoint(0xe9, 0x6c, 0x6c, 0x6f,
                                                     0x20, 0x20ac, 0x1d11e);
                const enc = new TextEncoder();
                const b = enc.encode(s);
                console.log(enc.encoding, b.length, b.subarray(0, 3));
                const d = new TextDecoder();
                console.log(d.decode(b), d.decode(b) === s,
                            d.decode(b.buffer) === s, d.encoding, d.fatal);
                console.log(enc.encode().length, d.decode(),
                            d.decode(b.subarray(1, 3)));),
             0,
             "utf-8 14 Uint8Array(3) [ 104, 195, 169 ]\n"
             "h\xc3\xa9llo \xe2\x82\xac\xf0\x9d\x84\x9e"
             " true true utf-8 false\n"
             "0  \xc3\xa9\n",
             "");
}

static void t_text_decoder_options(void) {
  EXPECT_RUN(
      JS(const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x41]);
         console.log(new TextDecoder().decode(bom).length,
                     new TextDecoder("utf-8", { ignoreBOM: true })
                         .decode(bom).length);
         console.log(new TextDecoder().decode(new Uint8Array([0x61, 0xff,
                                                              0x62])));
         for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
           try {
             new TextDecoder("utf-8", { fatal: true })
                 .decode(new Uint8Array(bytes));
             console.log("no error");
           } catch (e) { console.log(e.name); }
         }
         try { new TextDecoder("latin1"); } catch (e) {
           console.log(e.name);
         }
         console.log(new TextDecoder(" UTF8 ").encoding,
                     new TextDecoder("unicode-1-1-utf-8").encoding);),
      0,
      "1 2\na\xef\xbf\xbd" "b\nTypeError\nTypeError\nTypeError\nRangeError\n"
      "utf-8 utf-8\n",
      "");
}

static void t_text_streaming(void) {
  EXPECT_RUN(JS(const euro = new TextEncoder().encode(String.fromCodePoint(
                    0x20ac, 0x41));
                const d = new TextDecoder();
                const parts = [d.decode(euro.subarray(0, 1), { stream: true }),
                               d.decode(euro.subarray(1, 3), { stream: true }),
                               d.decode(euro.subarray(3), { stream: true }),
                               d.decode()];
                console.log(parts.map((p) => p.length));
                console.log(d.decode(euro.subarray(0, 2), { stream: true })
                                .length, d.decode().length);),
             0, "[ 0, 1, 1, 0 ]\n0 1\n", "");
}

static void t_encode_into(void) {
  EXPECT_RUN(JS(const enc = new TextEncoder();
                const buf = new Uint8Array(4);
                console.log(enc.encodeInto("a" + String.fromCodePoint(0x20ac)
                                           + "b", buf), buf);
                console.log(enc.encodeInto("abc", new Uint8Array(8)));),
             0,
             "{ read: 2, written: 4 } Uint8Array(4) [ 97, 226, 130, 172 ]\n"
             "{ read: 3, written: 3 }\n",
             "");
}

static void t_base64(void) {
  EXPECT_RUN(JS(console.log(btoa("hello"), atob("aGVsbG8="),
                            atob(" aGVs\nbG8 "), atob("aGVsbG8"), btoa(""));
                console.log(btoa(String.fromCharCode(255, 254, 0)),
                            atob("//4A").length);
                for (const bad of ["a", "ab=c", "a*bc", "aGVsbG8==="]) {
                  try { atob(bad); console.log("accepted", bad); } catch (e) {
                    console.log(e.name, e.code, e instanceof DOMException);
                  }
                }
                try { btoa(String.fromCharCode(0x20ac)); } catch (e) {
                  console.log(e.name, e instanceof Error);
                }),
             0,
             "aGVsbG8= hello hello hello \n"
             "//4A 3\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError 5 true\n"
             "InvalidCharacterError true\n",
             "");
}

// clang-format on

static const iso_test cases[] = {
    {"text_round_trip", t_text_round_trip},
    {"text_decoder_options", t_text_decoder_options},
    {"text_streaming", t_text_streaming},
    {"encode_into", t_encode_into},
    {"base64", t_base64},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
