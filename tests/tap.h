/* tap.h: the test harness every suite uses: a table of named cases.
 *
 *   static void t_foo(void) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   static const iso_test cases[] = { {"foo", t_foo}, {NULL, NULL} };
 *   int main(int argc, char** argv) { return iso_test_main(argc, argv, cases);
 * }
 *
 * iso_test_rows runs a table of cases that share one body the same way.
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

/* Runs one case unless argv[1] names another; counts it. */
static inline void iso_test_one_(int argc,
                                 char** argv,
                                 const char* name,
                                 void (*fn)(void),
                                 void (*row_fn)(const void*),
                                 const void* row,
                                 int* ran,
                                 int* failed) {
  if (argc > 1 && strcmp(argv[1], name) != 0) {
    return;
  }
  iso_test_failed_ = 0;
  fprintf(stderr, "- %s\n", name);
  if (fn != NULL) {
    fn();
  } else {
    row_fn(row);
  }
  (*ran)++;
  if (iso_test_failed_) {
    fprintf(stderr, "  FAILED %s\n", name);
    (*failed)++;
  }
}

static inline int iso_test_end_(int ran, int failed) {
  fprintf(stderr, "%d/%d passed\n", ran - failed, ran);
  return (failed == 0 && ran > 0) ? 0 : 1;
}

static inline int iso_test_main(int argc, char** argv, const iso_test* t) {
  int failed = 0, ran = 0;
  for (; t->name != NULL; t++) {
    iso_test_one_(argc, argv, t->name, t->fn, NULL, NULL, &ran, &failed);
  }
  return iso_test_end_(ran, failed);
}

/* iso_test_rows: for a table of cases that share one body: run(row) for
 * each of the n rows (`size` bytes apart, each starting with its name as a
 * const char*), then the cases in `more` (NULL-terminated; may be NULL). */
static inline int iso_test_rows(int argc,
                                char** argv,
                                const void* rows,
                                size_t n,
                                size_t size,
                                void (*run)(const void* row),
                                const iso_test* more) {
  int failed = 0, ran = 0;
  for (size_t i = 0; i < n; i++) {
    const void* row = (const char*)rows + i * size;
    const char* name = *(const char* const*)row;
    iso_test_one_(argc, argv, name, NULL, run, row, &ran, &failed);
  }
  for (; more != NULL && more->name != NULL; more++) {
    iso_test_one_(argc, argv, more->name, more->fn, NULL, NULL, &ran, &failed);
  }
  return iso_test_end_(ran, failed);
}

#endif /* ISO_TAP_H */
