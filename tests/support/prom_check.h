/* prom_check.h: a strict validator of the Prometheus text exposition
 * format (0.0.4), for the suites that check isopool's /metrics text
 * (test_metrics.c on pool/metrics.c's output, test_service_admin.c on the
 * running daemon's).
 *
 *   char err[256];
 *   if (prom_validate(text, len, err, sizeof err) != 0) { ...err... }
 *
 * Stricter than Prometheus itself: every family has HELP and TYPE before
 * its samples, which form one group; no series twice (labels compared
 * sorted); counters are finite, >= 0 and end in _total; histograms have
 * ascending le, cumulative buckets, +Inf == _count, _sum and _count; no
 * timestamps, no empty lines, a final newline.
 */
#ifndef ISO_PROM_CHECK_H
#define ISO_PROM_CHECK_H

#include <stddef.h>

/* prom_validate: 0 if text (len bytes) is a strict, complete exposition;
 * else -1 with err (errlen bytes) naming the line and the problem.
 * Thread: any. */
int prom_validate(const char* text, size_t len, char* err, size_t errlen);

#endif /* ISO_PROM_CHECK_H */
