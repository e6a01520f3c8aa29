/* log.c: the service's log lines (pool__logf for either side, pool__log
 * and iso_pool_log for the front).
 *
 * One line per event, on stderr, as text (`isopool: LEVEL: message`) or as
 * a JSON object ({"ts", "level", "msg"}) by --log-format, and only at or
 * above --log-level, in valid UTF-8 (ill-formed bytes become U+FFFD).
 * Each line is written in one write(2), so the lines of different threads
 * never interleave. Thread: any.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iso_utf8.h"
#include "pool_private.h"

static int level_rank(const char* level) {
  static const char* const kLevels[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++) {
    if (strcmp(level, kLevels[i]) == 0) {
      return i;
    }
  }
  return 1;
}

/* Appends s as a JSON string (quoted; '"', '\\' and control characters
 * escaped). */
static void append_json_str(iso_buf* b, const char* s) {
  iso_buf_append(b, "\"", 1);
  for (const unsigned char* p = (const unsigned char*)s; *p != '\0'; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      iso_buf_append(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", *p);
      iso_buf_append(b, esc, 6);
    } else {
      iso_buf_append(b, p, 1);
    }
  }
  iso_buf_append(b, "\"", 1);
}

static void append_str(iso_buf* b, const char* s) {
  iso_buf_append(b, s, strlen(s));
}

pool_logger pool__logger_of(const char* level, const char* format) {
  return (pool_logger){
      .min_rank = level_rank(level != NULL ? level : "info"),
      .json = format != NULL && strcmp(format, "json") == 0,
  };
}

void pool__logger_set_level(pool_logger* log, const char* level) {
  __atomic_store_n(&log->min_rank, level_rank(level), __ATOMIC_RELAXED);
}

int pool__log_on(const pool_logger* log, const char* level) {
  return level_rank(level) >= __atomic_load_n(&log->min_rank, __ATOMIC_RELAXED);
}

static void vlogf(const pool_logger* log,
                  const char* level,
                  const pool_log_fields* f,
                  const char* fmt,
                  va_list ap) {
  if (!pool__log_on(log, level)) {
    return;
  }
  char msg[1024];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  /* Lines carry valid UTF-8 only: text from outside (a job's error, a
   * module's name) or the cut above may hold ill-formed bytes, which
   * become U+FFFD as on the wire. */
  iso_buf fixed;
  iso_buf_init(&fixed);
  const char* text = msg;
  if (!iso_utf8_valid(msg, strlen(msg)) &&
      iso_utf8_append(&fixed, msg, strlen(msg)) == 0 &&
      iso_buf_terminate(&fixed) == 0) {
    text = (const char*)fixed.data;
  }
  iso_buf line;
  iso_buf_init(&line);
  if (log->json) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char head[64];
    snprintf(head, sizeof(head),
             "{\"ts\":%lld.%03ld,\"level\":", (long long)ts.tv_sec,
             ts.tv_nsec / 1000000);
    append_str(&line, head);
    append_json_str(&line, level);
    if (f != NULL && f->event != NULL) {
      append_str(&line, ",\"event\":");
      append_json_str(&line, f->event);
    }
    char num[48];
    if (f != NULL && f->job >= 0) {
      snprintf(num, sizeof num, ",\"job\":%lld", (long long)f->job);
      append_str(&line, num);
    }
    if (f != NULL && f->worker >= 0) {
      snprintf(num, sizeof num, ",\"worker\":%d", f->worker);
      append_str(&line, num);
    }
    append_str(&line, ",\"msg\":");
    append_json_str(&line, text);
    append_str(&line, "}\n");
  } else {
    append_str(&line, "isopool: ");
    append_str(&line, level);
    append_str(&line, ": ");
    if (f != NULL && f->event != NULL) {
      char fields[96];
      int n = snprintf(fields, sizeof fields, "%s", f->event);
      if (f->job >= 0 && n > 0 && (size_t)n < sizeof fields) {
        n += snprintf(fields + n, sizeof fields - (size_t)n, " job=%lld",
                      (long long)f->job);
      }
      if (f->worker >= 0 && n > 0 && (size_t)n < sizeof fields) {
        snprintf(fields + n, sizeof fields - (size_t)n, " worker=%d",
                 f->worker);
      }
      append_str(&line, fields);
      append_str(&line, ": ");
    }
    append_str(&line, text);
    append_str(&line, "\n");
  }
  /* one write, so lines of different threads do not interleave */
  if (line.len > 0 && write(STDERR_FILENO, line.data, line.len) < 0) {
    /* nowhere left to say it */
  }
  iso_buf_close(&line);
  iso_buf_close(&fixed);
}

void pool__logf(const pool_logger* log,
                const char* level,
                const char* fmt,
                ...) {
  va_list ap;
  va_start(ap, fmt);
  vlogf(log, level, NULL, fmt, ap);
  va_end(ap);
}

void pool__log(iso_pool* pool, const char* level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlogf(&pool->logger, level, NULL, fmt, ap);
  va_end(ap);
}

void pool__log_event(iso_pool* pool,
                     const char* level,
                     const pool_log_fields* f,
                     const char* fmt,
                     ...) {
  va_list ap;
  va_start(ap, fmt);
  vlogf(&pool->logger, level, f, fmt, ap);
  va_end(ap);
}

void iso_pool_log(iso_pool* pool, const char* level, const char* msg) {
  pool__log(pool, level, "%s", msg);
}

void iso_pool_set_log_level(iso_pool* pool, const char* level) {
  pool__logger_set_level(&pool->logger, level);
}
