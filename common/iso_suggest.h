/* iso_suggest.h: "did you mean": the candidate nearest a mistyped word. */
#ifndef ISO_SUGGEST_H
#define ISO_SUGGEST_H

#include <stddef.h>

/* iso_suggest: of the n candidates (each a string, `stride` bytes after
 * the one before: an array of char pointers, or of structs that start
 * with one), the one fewest edits (insert, delete or change a character,
 * swap two neighbours) away from word, if at most 2 are needed and fewer than
 * the word's length; the first of equals. NULL when none is that near. Thread:
 * any. */
const char* iso_suggest(const char* word,
                        const void* candidates,
                        size_t n,
                        size_t stride);

#endif
