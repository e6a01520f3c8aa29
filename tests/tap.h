/* tap.h: the test harness every suite uses: a table of named cases.
 *
 *   static void t_foo(void) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   static const iso_test cases[] = { {"foo", t_foo}, {NULL, NULL} };
 *   int main(int argc, char** argv) { return iso_test_main(argc, argv, cases);
 * }
 *
 * Each case runs in order; a failed CHECK prints file:line and the case is
 * marked failed (it goes on, so one run shows every failure). Pass a case
 * name as argv[1] to run only that case. Exit status 0 iff all passed.
 */
#ifndef ISO_TAP_H
#define ISO_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct iso_test {
  const char* name;
  void (*fn)(void);
} iso_test;

static int iso_test_failed_;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                    \
      iso_test_failed_ = 1;                                              \
    }                                                                    \
  } while (0)

#define CHECK_EQ(a, b)                                                      \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_) {                                                         \
      fprintf(stderr, "  %s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
              __FILE__, __LINE__, #a, a_, #b, b_);                          \
      iso_test_failed_ = 1;                                                 \
    }                                                                       \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                     \
      fprintf(stderr,                                                          \
              "  %s:%d: CHECK_STR failed: %s\n    got:      \"%s\"\n"          \
              "    expected: \"%s\"\n",                                        \
              __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
      iso_test_failed_ = 1;                                                    \
    }                                                                          \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                    \
  do {                                                                 \
    const char *h_ = (hay), *n_ = (needle);                            \
    if (h_ == NULL || strstr(h_, n_) == NULL) {                        \
      fprintf(stderr,                                                  \
              "  %s:%d: CHECK_CONTAINS failed: %s\n    in:   \"%s\"\n" \
              "    want: \"%s\"\n",                                    \
              __FILE__, __LINE__, #hay, h_ ? h_ : "(null)", n_);       \
      iso_test_failed_ = 1;                                            \
    }                                                                  \
  } while (0)

static inline int iso_test_main(int argc, char** argv, const iso_test* t) {
  int failed = 0, ran = 0;
  for (; t->name != NULL; t++) {
    if (argc > 1 && strcmp(argv[1], t->name) != 0) {
      continue;
    }
    iso_test_failed_ = 0;
    fprintf(stderr, "- %s\n", t->name);
    t->fn();
    ran++;
    if (iso_test_failed_) {
      fprintf(stderr, "  FAILED %s\n", t->name);
      failed++;
    }
  }
  fprintf(stderr, "%d/%d passed\n", ran - failed, ran);
  return (failed == 0 && ran > 0) ? 0 : 1;
}

#endif /* ISO_TAP_H */
