/* json_path.h: JSON text read by path, for the suites that check what
 * poolctl --json and the admin plane print (library iso_test_support,
 * libc only). Paths are object keys and array indexes joined by dots:
 *
 *   js_at(json, "totals.errors.timeout")   the value's text, or NULL
 *   js_num(json, "workers.1.done")         its number, or NAN
 */
#ifndef ISO_JSON_PATH_H
#define ISO_JSON_PATH_H

/* js_ws: p past JSON whitespace. */
const char* js_ws(const char* p);

/* js_skip: past the one JSON value at p; NULL if it is malformed. */
const char* js_skip(const char* p);

/* js_at: the value at path in json: object keys and array indexes joined
 * by dots ("totals.errors.timeout", "workers.1.done"; "" is json itself).
 * NULL when there is none. */
const char* js_at(const char* json, const char* path);

/* js_num: the number at path; NAN when there is none or it is not a
 * number. */
double js_num(const char* json, const char* path);

/* js_len: the length of the array at path, -1 when it is not an array. */
int js_len(const char* json, const char* path);

/* js_is: 1 if the value at path is the string s (no escapes in s). */
int js_is(const char* json, const char* path, const char* s);

/* js_sum: the sum of the numbers in the object at path (0 when empty; NAN
 * when it is not an object). */
double js_sum(const char* json, const char* path);

#endif /* ISO_JSON_PATH_H */
