/* wpt_source.h: the URL conformance harness as one module's text
 * (tests/url/wpt_source.c). */
#ifndef ISO_TEST_WPT_SOURCE_H
#define ISO_TEST_WPT_SOURCE_H

/* wpt_source: tests/url/wpt.js (ISO_URL_HARNESS) preceded by `const WPT =
 * { urltestdata, setters, toascii, idna, percent };`, the JSON files of
 * ISO_URL_WPT_DIR (ada's tests/wpt). NULL, said on stderr, when a file is
 * missing. The caller frees. */
char* wpt_source(void);

#endif /* ISO_TEST_WPT_SOURCE_H */
