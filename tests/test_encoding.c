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
         try { new TextDecoder("iso-2022-kr"); } catch (e) {
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

static void t_decoder_labels(void) {
  EXPECT_AS_DENO(
      JS(for (const l of ["latin1", "ascii", "ISO-8859-1", " unicode-1-1-utf-8\n",
                          "utf-16", "UTF-16BE", "ucs-2", "unicodefffe", "koi8-r",
                          "x-user-defined", "cp1251", "l9", "sun_eu_greek", "tis-620",
                          "x-mac-ukrainian", "iso-8859-8-i", "logical", "dos-874",
                          "iso-2022-kr", "replacement", "bogus", ""]) {
           try { console.log(new TextDecoder(l).encoding); } catch (e) {
             console.log(e.name, e.message);
           }
         }),
      "windows-1252\nwindows-1252\nwindows-1252\nutf-8\nutf-16le\nutf-16be\n"
      "utf-16le\nutf-16be\nkoi8-r\nx-user-defined\nwindows-1251\niso-8859-15\n"
      "iso-8859-7\nwindows-874\nx-mac-cyrillic\niso-8859-8-i\niso-8859-8-i\n"
      "windows-874\n"
      "RangeError The encoding label provided ('iso-2022-kr') is invalid.\n"
      "RangeError The encoding label provided ('replacement') is invalid.\n"
      "RangeError The encoding label provided ('bogus') is invalid.\n"
      "RangeError The encoding label provided ('') is invalid.\n");
}

static void t_decoder_single_byte(void) {
  /* every byte of every single-byte encoding, as Deno (encoding_rs)
   * decodes it, and fatal on the bytes an index leaves unmapped */
  EXPECT_AS_DENO(
      JS(const names = ["ibm866", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5",
                        "iso-8859-6", "iso-8859-7", "iso-8859-8", "iso-8859-8-i",
                        "iso-8859-10", "iso-8859-13", "iso-8859-14", "iso-8859-15",
                        "iso-8859-16", "koi8-r", "koi8-u", "macintosh", "windows-874",
                        "windows-1250", "windows-1251", "windows-1252", "windows-1253",
                        "windows-1254", "windows-1255", "windows-1256", "windows-1257",
                        "windows-1258", "x-mac-cyrillic", "x-user-defined"];
         const all = new Uint8Array(256).map((_, i) => i);
         let sum = 0;
         for (const n of names) {
           const text = new TextDecoder(n).decode(all);
           let h = 0;
           for (let i = 0; i < text.length; i++) { h = (h * 31 + text.charCodeAt(i)) >>> 0; }
           let unmapped = 0;
           for (let b = 0x80; b < 0x100; b++) {
             try { new TextDecoder(n, { fatal: true }).decode(new Uint8Array([b])); } catch (e) {
               unmapped++;
             }
           }
           console.log(n, text.length, h, unmapped, JSON.stringify(text.slice(128, 136)));
         }
         console.log(new TextDecoder("latin1").decode(new Uint8Array([0x80, 0x81, 0x9f, 0xe9, 0x41])));),
      NULL);
}

static void t_decoder_utf16(void) {
  EXPECT_AS_DENO(
      JS(const d16 = new TextDecoder("utf-16le");
         console.log(JSON.stringify(d16.decode(new Uint8Array([0xff, 0xfe, 0x41, 0, 0x3d, 0xd8, 0x00, 0xde]))));
         const st = new TextDecoder("utf-16be"); let out = "";
         for (const b of [0xfe, 0xff, 0xd8, 0x3d, 0xde, 0x00, 0x00, 0x42, 0xdc]) {
           out += st.decode(new Uint8Array([b]), { stream: true });
         }
         out += st.decode(); console.log(JSON.stringify(out));
         console.log(JSON.stringify(new TextDecoder("utf-16le").decode(
             new Uint8Array([0x00, 0xdc, 0x41, 0x00, 0x00, 0xd8]))));
         console.log(JSON.stringify(new TextDecoder("utf-16le", { ignoreBOM: true }).decode(
             new Uint8Array([0xff, 0xfe, 0x41, 0]))));
         console.log(JSON.stringify(new TextDecoder("utf-16").decode(
             new Uint16Array([0x48, 0x69]))), new TextDecoder("utf-16le").decode(new ArrayBuffer(0)));
         for (const [label, bytes] of [["utf-16le", [0x00, 0xd8, 0x41, 0x00]], ["utf-16le", [0x41]],
                                       ["utf-16be", [0xdc, 0x00]], ["windows-1253", [0xaa]],
                                       ["utf-8", [0xff]]]) {
           try { new TextDecoder(label, { fatal: true }).decode(new Uint8Array(bytes));
                 console.log("decoded"); } catch (e) { console.log(e.name); }
         }
         const f = new TextDecoder("utf-16le", { fatal: true });
         try { f.decode(new Uint8Array([0x00, 0xd8]), { stream: true }); f.decode(); } catch (e) {
           console.log("end", e.name);
         }
         console.log(f.decode(new Uint8Array([0x41, 0])));),
      "\"A\xf0\x9f\x98\x80\"\n\"\xf0\x9f\x98\x80" "B\xef\xbf\xbd\"\n"
      "\"\xef\xbf\xbd" "A\xef\xbf\xbd\"\n\"\xef\xbb\xbf" "A\"\n\"Hi\" \n"
      "TypeError\nTypeError\nTypeError\nTypeError\nTypeError\n"
      "end TypeError\nA\n");
}

/* The CJK encodings (ICU's converters, isolate/v8s_icu.cc) beside Deno
 * (encoding_rs, the standard's decoders): text in each, their labels, a
 * streaming decode byte by byte (iso-2022-jp's escapes across calls
 * too), fatal errors, and the bytes the standard decodes that ICU's
 * tables do not (gb18030's 2022 code points, big5's HKSCS pairs and
 * rows, shift_jis's 0x80 and 0x7F, euc-kr's user-defined rows). */
static void t_decoder_cjk(void) {
  EXPECT_AS_DENO(
      JS(const cases = {
           gbk: [0xc4, 0xe3, 0xba, 0xc3, 0x80, 0x41, 0xa2, 0xe3, 0xfe, 0xfe, 0xa6, 0xd9, 0xfe, 0x59],
           gb18030: [0xc4, 0xe3, 0x81, 0x30, 0x81, 0x30, 0x95, 0x32, 0x82, 0x36, 0x84, 0x31, 0xa4, 0x39, 0x80, 0xff],
           big5: [0xa4, 0xa4, 0xa4, 0xe5, 0x88, 0x62, 0x88, 0x64, 0xfe, 0xfe, 0x80, 0xa1, 0x40, 0xc6, 0xa1, 0x87, 0xa4, 0x88, 0x40, 0x81, 0x40],
           "euc-jp": [0xc6, 0xfc, 0xcb, 0xdc, 0x8e, 0xb1, 0x8f, 0xb0, 0xa1, 0xa1, 0xa1, 0xad, 0xa1, 0x5c, 0x7e, 0x80, 0x41],
           "iso-2022-jp": [0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x1b, 0x28, 0x42, 0x61, 0x1b, 0x28, 0x4a, 0x5c, 0x7e, 0x1b, 0x28, 0x49, 0x31, 0x1b, 0x28, 0x42],
           shift_jis: [0x93, 0xfa, 0x96, 0x7b, 0xb1, 0x5c, 0x7e, 0x80, 0xa0, 0x87, 0x40, 0xed, 0x40, 0xfa, 0x40, 0x81, 0x5f, 0xb1, 0x7f],
           "euc-kr": [0xc7, 0xd1, 0xb1, 0xdb, 0x81, 0x41, 0xa1, 0xa1, 0xc9, 0xa1, 0xfe, 0xfe, 0x80, 0x41],
         };
         const hex = (s) => Array.from(s, (c) => c.codePointAt(0).toString(16)).join(" ");
         for (const [name, bytes] of Object.entries(cases)) {
           const u = new Uint8Array(bytes);
           const whole = new TextDecoder(name).decode(u);
           const d = new TextDecoder(name);
           let s = "";
           for (const b of bytes) { s += d.decode(new Uint8Array([b]), { stream: true }); }
           s += d.decode();
           let fatal = "ok";
           try { new TextDecoder(name, { fatal: true }).decode(u); } catch (e) { fatal = e.name; }
           console.log(name, hex(whole), s === whole, fatal, hex(new TextDecoder(name).decode(u.subarray(0, 1))));
         }
         for (const l of ["GB2312", "x-gbk", "chinese", "big5-hkscs", "cn-big5", "x-euc-jp",
                          "csiso2022jp", "sjis", "ms932", "windows-31j", "korean", "windows-949"]) {
           console.log(l, new TextDecoder(l).encoding);
         }
         for (const [name, unit] of [["gbk", [0xc4, 0xe3]], ["gb18030", [0x81, 0x30, 0x81, 0x30]],
                                     ["big5", [0x88, 0x62]]]) {
           const big = new Uint8Array(3 * 1024 * 1024 + 1);
           big[0] = 0x61;
           for (let i = 1; i + unit.length <= big.length; i += unit.length) { big.set(unit, i); }
           const t = new TextDecoder(name).decode(big);
           let h = 0;
           for (let i = 0; i < t.length; i++) { h = (h * 31 + t.charCodeAt(i)) | 0; }
           console.log(name, "large", t.length, h);
         }
         const jp = new TextDecoder("iso-2022-jp", { fatal: true });
         console.log(jp.decode(new Uint8Array([0x1b, 0x24]), { stream: true }) + "|" +
                     jp.decode(new Uint8Array([0x42, 0x46]), { stream: true }) + "|" +
                     jp.decode(new Uint8Array([0x7c, 0x1b, 0x28, 0x42])));),
      NULL);
}

/* Every two-byte sequence the standard decodes to text (no U+FFFD) gives
 * the same text under isopool and Deno, in every two-byte CJK encoding:
 * each prints how many it decoded and a hash of them. Where the two
 * differ is on bad input only (isopool alone below). */
static void t_decoder_cjk_pairs(void) {
  EXPECT_AS_DENO(
      JS(for (const name of ["gbk", "gb18030", "big5", "euc-jp", "shift_jis", "euc-kr"]) {
           let n = 0;
           let h = 0;
           const d = new TextDecoder(name);
           for (let lead = 0x81; lead <= 0xfe; lead++) {
             for (let trail = 0x40; trail <= 0xfe; trail++) {
               if (name === "euc-jp" && lead === 0x8e && trail >= 0xe0 && trail <= 0xe2) { continue; }
               const s = d.decode(new Uint8Array([lead, trail]));
               if (s.includes("\ufffd")) { continue; }
               n++;
               for (let i = 0; i < s.length; i++) { h = (h * 31 + s.charCodeAt(i)) | 0; }
               h = (h * 31 + lead * 256 + trail) | 0;
             }
           }
           console.log(name, n, h);
         }),
      NULL);
}

/* Where ICU's converters still differ from the standard (and Deno), all
 * on bad input: a lead byte followed by a byte that cannot trail it
 * gives two U+FFFD where the standard gives one (big5, euc-jp,
 * shift_jis, euc-kr); euc-jp's 0x8E 0xE0..0xE2 (no half-width katakana
 * there) decode to what ICU's table has, as do the 3-byte JIS X 0212
 * rows 0xF3 and 0xF4 (IBM extensions in ICU; not in the standard), so
 * fatal does not throw for them. */
static void t_decoder_cjk_icu(void) {
  EXPECT_RUN(
      JS(const hex = (s) => Array.from(s, (c) => c.codePointAt(0).toString(16)).join(" ");
         const dec = (name, bytes) => hex(new TextDecoder(name).decode(new Uint8Array(bytes)));
         console.log(dec("big5", [0x81, 0x81]), "|", dec("shift_jis", [0x81, 0xfd]), "|",
                     dec("euc-kr", [0x81, 0xff]), "|", dec("euc-jp", [0x8e, 0x80]));
         console.log(dec("euc-jp", [0x8e, 0xe0]), "|", dec("euc-jp", [0x8f, 0xf3, 0xa1]));),
      0,
      "fffd fffd | fffd fffd | fffd fffd | fffd fffd\n"
      "a2 | 2170\n",
      "");
}

static void t_encode_into_as_deno(void) {
  /* only whole code points fit; a lone surrogate is U+FFFD (3 bytes) */
  EXPECT_AS_DENO(
      JS(const enc = new TextEncoder();
         for (const [s, n] of [["a\u00e9\ud83d\ude00b", 3], ["a\u00e9\ud83d\ude00b", 7],
                               ["\ud800x", 4], ["abc", 0], ["\u20ac\u20ac", 5]]) {
           const d = new Uint8Array(n); const r = enc.encodeInto(s, d);
           console.log(r.read, r.written, Array.from(d).join(","));
         }
         console.log(enc.encoding, enc.encode().length,
                     Array.from(enc.encode("\udc00")).join(","));),
      "2 3 97,195,169\n4 7 97,195,169,240,159,152,128\n2 4 239,191,189,120\n"
      "0 0 \n1 3 226,130,172,0,0\nutf-8 0 239,191,189\n");
}

// clang-format on

static const iso_test cases[] = {
    {"text_round_trip", t_text_round_trip},
    {"text_decoder_options", t_text_decoder_options},
    {"text_streaming", t_text_streaming},
    {"encode_into", t_encode_into},
    {"base64", t_base64},
    {"decoder_labels", t_decoder_labels},
    {"decoder_single_byte", t_decoder_single_byte},
    {"decoder_utf16", t_decoder_utf16},
    {"encode_into_as_deno", t_encode_into_as_deno},
    {"decoder_cjk", t_decoder_cjk},
    {"decoder_cjk_pairs", t_decoder_cjk_pairs},
    {"decoder_cjk_icu", t_decoder_cjk_icu},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  iso_test_suite suite = {.cases = cases, .setup = js_run_ready};
  return iso_test_run(argc, argv, &suite);
}
