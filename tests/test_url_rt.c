/* test_url_rt.c: URL (bootstrap/prelude/70-url.js over isolate/v8s_url.cc
 * and ada) in-process, on the runtime harness, so that the ASan tree runs
 * ada and the natives: the WPT conformance harness (tests/url/wpt.js, as
 * test_url runs it through `isopool run`), and inputs no test file has
 * (very long ones, NULs, lone surrogates, every setter refused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_rt.h"
#include "rt_harness.h"
#include "tap.h"
#include "url/wpt_source.h"

static void t_wpt(void) {
  char* src = wpt_source();
  CHECK(src != NULL);
  if (src == NULL) {
    return;
  }
  rt_root();
  rt_write("main.js", "%s\nexport default `${passed}/${total}`;\n", src);
  /* every case passes (test_url's floors, tests/url/wpt.js) */
  rt_expect_value("main.js", "\"4929/4929\"");
  free(src);
}

static void t_hostile(void) {
  rt_root();
  rt_write(
      "main.js",
      "const out = [];\n"
      "const long = 'x'.repeat(1 << 22);\n"
      "const u = new URL(`http://a/${long}?${long}#${long}`);\n"
      "out.push(u.pathname.length, u.search.length, u.hash.length);\n"
      "out.push(URL.canParse(`http://${'a'.repeat(70000)}.com/`));\n"
      "out.push(new URL('http://a/\\0\\ud800?\\udc00#\\0').href);\n"
      "for (const k of ['protocol', 'username', 'password', 'host',\n"
      "                 'hostname', 'port', 'pathname', 'search',\n"
      "                 'hash']) {\n"
      "  const v = new URL('mailto:x');\n"
      "  for (const s of ['', ':', '\\0', '\\ud800', '[', long, '%%zz']) {\n"
      "    v[k] = s;\n"
      "  }\n"
      "  out.push(v.href.length);\n"
      "}\n"
      "const p = new URLSearchParams(`a=${long}&%%ff%%fe=\\ud800`);\n"
      "out.push(p.get('a').length, p.has('\\ufffd\\ufffd'));\n"
      "try { new URL('http://[::1'); } catch (e) { out.push(e.name); }\n"
      "export default out;\n");
  /* the trailing NUL goes with the C0 controls the parser strips; of the
   * setters on an opaque-path URL, protocol takes the long scheme, search
   * and hash take "%zz", the others refuse every value */
  rt_expect_value("main.js",
                  "[4194305,4194305,4194305,true,"
                  "\"http://a/%00%EF%BF%BD?%EF%BF%BD#\","
                  "4194306,8,8,8,8,8,8,12,12,4194304,true,\"TypeError\"]");
}

static const iso_test cases[] = {
    {"wpt", t_wpt, .timeout_s = 180},
    {"hostile", t_hostile, .timeout_s = 120},
    {NULL, NULL},
};

int main(int argc, char** argv) {
  return iso_test_main(argc, argv, cases);
}
