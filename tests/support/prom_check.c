/* prom_check.c: the Prometheus text validator declared in prom_check.h.
 * One pass over the lines; a family's state (HELP, TYPE, whether its
 * samples came) and each histogram series' running buckets are kept in
 * fixed tables (PV_MAX), which is plenty for isopool's exposition. */
#include "prom_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PV_MAX 128

typedef struct pv_family {
  char name[128];
  char type[16]; /* "" until its TYPE line */
  int help;
  int sampled;
} pv_family;

typedef struct pv_series { /* a histogram's series: its labels but le */
  int fam;
  char key[512];
  int nbuckets;
  double last_le, last_count;
  int has_inf, has_sum, has_count;
  double inf, count;
} pv_series;

typedef struct pv {
  pv_family fam[PV_MAX];
  int nfam;
  pv_series ser[PV_MAX];
  int nser;
  char seen[PV_MAX * 8][600]; /* every series' canonical name{labels} */
  int nseen;
  int cur; /* the family whose samples came last; -1 before any */
  char* err;
  size_t errlen;
  int line;
} pv;

static int pv_fail(pv* p, const char* why) {
  snprintf(p->err, p->errlen, "line %d: %s", p->line, why);
  return -1;
}

/* A metric name [a-zA-Z_:][a-zA-Z0-9_:]* at *s; its length, 0 if none. */
static size_t pv_name(const char* s, int colon) {
  size_t n = 0;
  for (;; n++) {
    char c = s[n];
    int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                (colon && c == ':');
    if (!(alpha || (n > 0 && c >= '0' && c <= '9'))) {
      return n;
    }
  }
}

/* A float as Go's ParseFloat takes it, or +Inf, -Inf, NaN. */
static int pv_value(const char* s, size_t n, double* out) {
  char tmp[64];
  if (n == 0 || n >= sizeof(tmp)) {
    return -1;
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  if (strcmp(tmp, "+Inf") == 0 || strcmp(tmp, "-Inf") == 0 ||
      strcmp(tmp, "NaN") == 0) {
    *out = tmp[0] == '+' ? INFINITY : tmp[0] == '-' ? -INFINITY : NAN;
    return 0;
  }
  if (strspn(tmp, "0123456789+-.eE") != n) {
    return -1; /* no hex, no "inf" spellings */
  }
  char* end;
  *out = strtod(tmp, &end);
  return end == tmp + n ? 0 : -1;
}

static int pv_family_of(pv* p, const char* name, size_t n, int create) {
  for (int i = 0; i < p->nfam; i++) {
    if (strlen(p->fam[i].name) == n && memcmp(p->fam[i].name, name, n) == 0) {
      return i;
    }
  }
  if (!create || p->nfam == PV_MAX || n >= sizeof(p->fam[0].name)) {
    return -1;
  }
  pv_family* f = &p->fam[p->nfam];
  memset(f, 0, sizeof(*f));
  memcpy(f->name, name, n);
  return p->nfam++;
}

typedef struct pv_label {
  char name[64];
  char value[256]; /* unescaped */
} pv_label;

static int pv_label_cmp(const void* a, const void* b) {
  return strcmp(((const pv_label*)a)->name, ((const pv_label*)b)->name);
}

/* Parses {name="value",...} at *s (s[0] == '{'); advances *s past '}'. */
static int pv_labels(pv* p, const char** s, pv_label* out, int* n) {
  const char* q = *s + 1;
  *n = 0;
  if (*q == '}') {
    *s = q + 1;
    return 0;
  }
  for (;;) {
    size_t len = pv_name(q, 0);
    if (len == 0 || len >= sizeof(out[0].name)) {
      return pv_fail(p, "bad label name");
    }
    if (len >= 2 && q[0] == '_' && q[1] == '_') {
      return pv_fail(p, "label name starts with __ (reserved)");
    }
    if (*n == 16) {
      return pv_fail(p, "too many labels");
    }
    pv_label* l = &out[(*n)++];
    memcpy(l->name, q, len);
    l->name[len] = '\0';
    q += len;
    if (q[0] != '=' || q[1] != '"') {
      return pv_fail(p, "label name not followed by =\"");
    }
    q += 2;
    size_t v = 0;
    for (; *q != '"'; q++) {
      char c = *q;
      if (c == '\n' || c == '\0') {
        return pv_fail(p, "unterminated label value");
      }
      if (c == '\\') {
        q++;
        if (*q == 'n') {
          c = '\n';
        } else if (*q == '\\' || *q == '"') {
          c = *q;
        } else {
          return pv_fail(p, "bad escape in a label value");
        }
      }
      if (v + 1 >= sizeof(l->value)) {
        return pv_fail(p, "label value too long");
      }
      l->value[v++] = c;
    }
    l->value[v] = '\0';
    q++;
    if (*q == '}') {
      break;
    }
    if (*q != ',' || q[1] == '}') {
      return pv_fail(p, "labels not separated by one comma");
    }
    q++;
  }
  *s = q + 1;
  qsort(out, (size_t)*n, sizeof(out[0]), pv_label_cmp);
  for (int i = 1; i < *n; i++) {
    if (strcmp(out[i - 1].name, out[i].name) == 0) {
      return pv_fail(p, "a label appears twice");
    }
  }
  return 0;
}

static int pv_meta(pv* p, const char* s, const char* eol) {
  int help = strncmp(s, "# HELP ", 7) == 0;
  if (!help && strncmp(s, "# TYPE ", 7) != 0) {
    return pv_fail(p, "a comment that is neither HELP nor TYPE");
  }
  s += 7;
  size_t n = pv_name(s, 1);
  if (n == 0 || s[n] != ' ') {
    return pv_fail(p, "bad metric name in HELP/TYPE");
  }
  int f = pv_family_of(p, s, n, 1);
  if (f < 0) {
    return pv_fail(p, "too many families");
  }
  pv_family* fam = &p->fam[f];
  if (fam->sampled) {
    return pv_fail(p, "HELP/TYPE after the family's samples");
  }
  const char* text = s + n + 1;
  if (help) {
    if (fam->help) {
      return pv_fail(p, "second HELP for a family");
    }
    fam->help = 1;
    for (const char* c = text; c < eol; c++) {
      if (*c == '\\' && (c + 1 == eol || (c[1] != '\\' && c[1] != 'n'))) {
        return pv_fail(p, "bad escape in HELP");
      }
      c += *c == '\\';
    }
    return 0;
  }
  if (fam->type[0] != '\0') {
    return pv_fail(p, "second TYPE for a family");
  }
  size_t tl = (size_t)(eol - text);
  static const char* const types[] = {"counter", "gauge", "histogram",
                                      "summary", "untyped"};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (strlen(types[i]) == tl && memcmp(types[i], text, tl) == 0) {
      memcpy(fam->type, text, tl);
      return 0;
    }
  }
  return pv_fail(p, "unknown TYPE");
}

static int pv_sample(pv* p, const char* s, const char* eol) {
  size_t n = pv_name(s, 1);
  if (n == 0) {
    return pv_fail(p, "bad metric name");
  }
  char name[128];
  if (n >= sizeof(name)) {
    return pv_fail(p, "metric name too long");
  }
  memcpy(name, s, n);
  name[n] = '\0';
  const char* q = s + n;
  pv_label labels[16];
  int nl = 0;
  if (*q == '{' && pv_labels(p, &q, labels, &nl) != 0) {
    return -1;
  }
  if (*q != ' ') {
    return pv_fail(p, "no space before the value");
  }
  q++;
  double value;
  if (pv_value(q, (size_t)(eol - q), &value) != 0) {
    return pv_fail(p, "bad value (or a timestamp, which isopool never sends)");
  }

  /* Its family: the name itself, or a histogram's _bucket/_sum/_count. */
  const char* suffix = "";
  int f = pv_family_of(p, name, n, 0);
  static const char* const sfx[] = {"_bucket", "_sum", "_count"};
  for (size_t i = 0; f < 0 && i < 3; i++) {
    size_t sl = strlen(sfx[i]);
    if (n > sl && strcmp(name + n - sl, sfx[i]) == 0) {
      int g = pv_family_of(p, name, n - sl, 0);
      if (g >= 0 && strcmp(p->fam[g].type, "histogram") == 0) {
        f = g;
        suffix = sfx[i];
      }
    }
  }
  if (f < 0 || !p->fam[f].help || p->fam[f].type[0] == '\0') {
    return pv_fail(p, "a sample without HELP and TYPE before it");
  }
  pv_family* fam = &p->fam[f];
  if (p->cur != f && fam->sampled) {
    return pv_fail(p, "a family's samples are not one group");
  }
  p->cur = f;
  fam->sampled = 1;

  /* The canonical series (labels sorted) must be new. */
  char key[600];
  size_t kl = (size_t)snprintf(key, sizeof(key), "%s{", name);
  for (int i = 0; i < nl && kl < sizeof(key); i++) {
    kl += (size_t)snprintf(key + kl, sizeof(key) - kl, "%s=\"%s\",",
                           labels[i].name, labels[i].value);
  }
  if (kl >= sizeof(key) - 1) {
    return pv_fail(p, "series too long");
  }
  key[kl] = '}';
  key[kl + 1] = '\0';
  for (int i = 0; i < p->nseen; i++) {
    if (strcmp(p->seen[i], key) == 0) {
      return pv_fail(p, "a series appears twice");
    }
  }
  if (p->nseen == PV_MAX * 8) {
    return pv_fail(p, "too many series");
  }
  strcpy(p->seen[p->nseen++], key);

  if (strcmp(fam->type, "counter") == 0) {
    if (!(value >= 0) || isinf(value)) {
      return pv_fail(p, "a counter must be finite and >= 0");
    }
    if (n < 6 || strcmp(name + n - 6, "_total") != 0) {
      return pv_fail(p, "a counter's name must end in _total");
    }
  }
  if (strcmp(fam->type, "histogram") != 0) {
    return 0;
  }

  /* Histograms: buckets ascending and cumulative up to +Inf == _count. */
  if (suffix[0] == '\0') {
    return pv_fail(p, "a histogram sample without _bucket/_sum/_count");
  }
  double le = NAN;
  char skey[512];
  size_t sk = 0;
  skey[0] = '\0';
  for (int i = 0; i < nl; i++) {
    if (strcmp(labels[i].name, "le") == 0) {
      if (pv_value(labels[i].value, strlen(labels[i].value), &le) != 0 ||
          isnan(le)) {
        return pv_fail(p, "bad le");
      }
      continue;
    }
    sk += (size_t)snprintf(skey + sk, sizeof(skey) - sk, "%s=\"%s\",",
                           labels[i].name, labels[i].value);
    if (sk >= sizeof(skey)) {
      return pv_fail(p, "labels too long");
    }
  }
  int bucket = strcmp(suffix, "_bucket") == 0;
  if (bucket == isnan(le)) {
    return pv_fail(p, bucket ? "a bucket without le" : "le outside _bucket");
  }
  pv_series* ser = NULL;
  for (int i = 0; i < p->nser; i++) {
    if (p->ser[i].fam == f && strcmp(p->ser[i].key, skey) == 0) {
      ser = &p->ser[i];
    }
  }
  if (ser == NULL) {
    if (p->nser == PV_MAX) {
      return pv_fail(p, "too many histogram series");
    }
    ser = &p->ser[p->nser++];
    memset(ser, 0, sizeof(*ser));
    ser->fam = f;
    strcpy(ser->key, skey);
    ser->last_le = -INFINITY;
  }
  if (!(value >= 0) || value != floor(value)) {
    if (strcmp(suffix, "_sum") != 0 || isnan(value)) {
      return pv_fail(p, "a bucket or _count that is not a count");
    }
  }
  if (bucket) {
    if (ser->has_sum || ser->has_count) {
      return pv_fail(p, "a bucket after _sum or _count");
    }
    if (!(le > ser->last_le)) {
      return pv_fail(p, "buckets not in ascending le");
    }
    if (value < ser->last_count) {
      return pv_fail(p, "buckets not cumulative");
    }
    ser->last_le = le;
    ser->last_count = value;
    ser->nbuckets++;
    if (isinf(le)) {
      ser->has_inf = 1;
      ser->inf = value;
    }
  } else if (strcmp(suffix, "_sum") == 0) {
    ser->has_sum = 1;
  } else {
    ser->has_count = 1;
    ser->count = value;
  }
  return 0;
}

/* prom_validate: 0 if text is a strict, complete exposition; else -1 with
 * err naming the line and the problem. */
int prom_validate(const char* text, size_t len, char* err, size_t errlen) {
  pv* p = calloc(1, sizeof(*p));
  p->err = err;
  p->errlen = errlen;
  p->cur = -1;
  int rc = 0;
  if (len == 0 || text[len - 1] != '\n' || memchr(text, '\0', len) != NULL) {
    rc = pv_fail(p, "empty, a NUL byte, or no final newline");
  }
  for (const char* s = text; rc == 0 && s < text + len;) {
    const char* eol = memchr(s, '\n', (size_t)(text + len - s));
    p->line++;
    if (eol == s) {
      rc = pv_fail(p, "an empty line");
    } else if (*s == '#') {
      rc = pv_meta(p, s, eol);
    } else {
      rc = pv_sample(p, s, eol);
    }
    s = eol + 1;
  }
  for (int i = 0; rc == 0 && i < p->nser; i++) {
    pv_series* ser = &p->ser[i];
    p->line = 0;
    if (!ser->has_inf || !ser->has_sum || !ser->has_count) {
      rc = pv_fail(p, "a histogram without le=\"+Inf\", _sum or _count");
    } else if (ser->inf != ser->count) {
      rc = pv_fail(p, "a histogram's +Inf bucket is not its _count");
    }
  }
  free(p);
  return rc;
}
