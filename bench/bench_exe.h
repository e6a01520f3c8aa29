/* bench_exe.h: what several bench programs share.
 */
#ifndef ISO_BENCH_EXE_H
#define ISO_BENCH_EXE_H

#include <stddef.h>

/* bench_isopool_exe: the path of the isopool binary in this program's
 * directory (the build's bin/), into out (cap bytes). Returns 0, or -1
 * when it is not there or not executable. Thread: any. */
int bench_isopool_exe(char* out, size_t cap);

#endif /* ISO_BENCH_EXE_H */
