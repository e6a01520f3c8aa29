/* perms.c: permission sets (iso_perms, iso_ops.h).
 *
 * A set holds, per kind (read, write, env, net), either everything or a
 * list: paths relative to the data root for read/write, variable names for
 * env, HOST or HOST:PORT for net (Deno's --allow-net: a host without a
 * port grants all its ports; an IPv6 address in brackets). Lists are kept
 * canonical (sorted, without duplicates, without an entry another entry
 * already covers; a list holding the root "" becomes "everything"; hosts
 * lowercased, IPv6 addresses in inet_ntop's form), so two sets that grant
 * the same compare equal byte for byte and hash alike: the pool keys its
 * warm realms on that.
 *
 * DESIGN: a set is immutable once made and shared by an atomic reference
 * count between the realm that holds it and the op batches in flight on
 * other threads; the last unref frees it. iso_perms_none() is one static
 * set that is never counted or freed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "iso_ops.h"
#include "iso_utf8.h"
#include "ops_private.h"

/* Entries of one kind a job's `permissions` may list: narrowing is
 * quadratic in them (set_canon) and runs on the service's NNG threads, so
 * a request of a million entries must be refused, not worked through. */
#define NARROW_MAX 1024

typedef struct perm_set {
  int all;
  char** items;
  size_t n;
} perm_set;

struct iso_perms {
  atomic_int refs;
  int is_static;
  perm_set k[ISO_PERM_KINDS]; /* indexed by iso_perm_kind; [0] unused */
};

static iso_perms none_perms = {.is_static = 1};

static const char* const kind_names[ISO_PERM_KINDS] = {
    [ISO_PERM_READ] = "read",
    [ISO_PERM_WRITE] = "write",
    [ISO_PERM_ENV] = "env",
    [ISO_PERM_NET] = "net",
};

static int is_path_kind(iso_perm_kind kind) {
  return kind == ISO_PERM_READ || kind == ISO_PERM_WRITE;
}

/* ---- sets ---- */

static void set_clear(perm_set* s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->items[i]);
  }
  free(s->items);
  s->items = NULL;
  s->n = 0;
}

static int set_add(perm_set* s, const char* item) {
  char** items = realloc(s->items, (s->n + 1) * sizeof *items);
  if (items == NULL) {
    return ISO_ENOMEM;
  }
  s->items = items;
  items[s->n] = strdup(item);
  if (items[s->n] == NULL) {
    return ISO_ENOMEM;
  }
  s->n++;
  return 0;
}

static int set_copy(perm_set* dst, const perm_set* src) {
  dst->all = src->all;
  for (size_t i = 0; i < src->n; i++) {
    if (set_add(dst, src->items[i]) != 0) {
      return ISO_ENOMEM;
    }
  }
  return 0;
}

/* 1 iff path entry `item` grants `rel`: itself or anything under it. */
static int path_covers(const char* item, const char* rel) {
  size_t n = strlen(item);
  if (n == 0) {
    return 1;
  }
  return strncmp(rel, item, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

/* The length of the host in a canonical net entry ("[::1]:80": 5). */
static size_t net_host_len(const char* s) {
  if (s[0] == '[') {
    const char* end = strchr(s, ']');
    return end != NULL ? (size_t)(end - s) + 1 : strlen(s);
  }
  return strcspn(s, ":");
}

/* 1 iff net entry `item` grants `x` (both canonical): the same entry, or
 * item is a host alone and x is that host with a port. */
static int net_covers(const char* item, const char* x) {
  size_t n = net_host_len(item);
  if (item[n] == '\0') {
    return strncmp(item, x, n) == 0 && (x[n] == '\0' || x[n] == ':');
  }
  return strcmp(item, x) == 0;
}

static int item_covers(iso_perm_kind kind, const char* item, const char* x) {
  if (is_path_kind(kind)) {
    return path_covers(item, x);
  }
  if (kind == ISO_PERM_NET) {
    return net_covers(item, x);
  }
  return strcmp(item, x) == 0;
}

static int set_covers(const perm_set* s, iso_perm_kind kind, const char* x) {
  if (s->all) {
    return 1;
  }
  for (size_t i = 0; i < s->n; i++) {
    if (item_covers(kind, s->items[i], x)) {
      return 1;
    }
  }
  return 0;
}

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

/* Whether item i is redundant: a duplicate or covered by another entry
 * (a path by one above it, HOST:PORT by HOST). Items are sorted, so of two
 * equal entries the first one stays. */
static int redundant(const perm_set* s, size_t i, iso_perm_kind kind) {
  for (size_t j = 0; j < s->n; j++) {
    if (j == i || s->items[j] == NULL) { /* dropped: what covered it stays */
      continue;
    }
    int same = strcmp(s->items[j], s->items[i]) == 0;
    if (same ? j < i : item_covers(kind, s->items[j], s->items[i])) {
      return 1;
    }
  }
  return 0;
}

static void set_canon(perm_set* s, iso_perm_kind kind) {
  int paths = is_path_kind(kind);
  for (size_t i = 0; paths && i < s->n; i++) {
    s->all |= s->items[i][0] == '\0';
  }
  if (s->all) {
    set_clear(s);
    return;
  }
  if (s->n > 1) {
    qsort(s->items, s->n, sizeof *s->items, cmp_str);
  }
  size_t keep = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (redundant(s, i, kind)) {
      free(s->items[i]);
      s->items[i] = NULL;
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    if (s->items[i] != NULL) {
      s->items[keep++] = s->items[i];
    }
  }
  s->n = keep;
}

/* The set as "*", "none" or "a,b" into out (snprintf's rule). */
static int set_text(const perm_set* s, char* out, size_t outlen) {
  if (s->all) {
    return snprintf(out, outlen, "*");
  }
  if (s->n == 0) {
    return snprintf(out, outlen, "none");
  }
  size_t len = 0;
  for (size_t i = 0; i < s->n; i++) {
    int k = snprintf(out + (len < outlen ? len : outlen),
                     len < outlen ? outlen - len : 0, "%s%s", i ? "," : "",
                     s->items[i]);
    len += (size_t)k;
  }
  return (int)len;
}

/* ---- lifecycle ---- */

static iso_perms* perms_alloc(void) {
  iso_perms* p = calloc(1, sizeof *p);
  if (p != NULL) {
    atomic_init(&p->refs, 1);
  }
  return p;
}

static void perms_free(iso_perms* p) {
  for (int k = 0; k < ISO_PERM_KINDS; k++) {
    set_clear(&p->k[k]);
  }
  free(p);
}

iso_perms* iso_perms_none(void) {
  return &none_perms;
}

iso_perms* iso_perms_ref(const iso_perms* p) {
  iso_perms* m = (iso_perms*)p;
  if (m != NULL && !m->is_static) {
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  }
  return m;
}

void iso_perms_unref(const iso_perms* p) {
  iso_perms* m = (iso_perms*)p;
  if (m == NULL || m->is_static) {
    return;
  }
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
    perms_free(m);
  }
}

/* ---- entries ---- */

int iso__perms_net_entry(const char* in,
                         char* out,
                         size_t outlen,
                         const char** why) {
  char host[256];
  const char* port = NULL;
  size_t n;
  if (strpbrk(in, "/@?#") != NULL) {
    *why = "is not HOST[:PORT] (a URL is not a host)";
    return ISO_EINVAL;
  }
  if (in[0] == '[') { /* [IPv6] */
    const char* end = strchr(in, ']');
    struct in6_addr a6;
    n = end != NULL ? (size_t)(end - in) - 1 : 0;
    if (end == NULL || n == 0 || n >= sizeof host) {
      *why = "has a '[' without its ']'";
      return ISO_EINVAL;
    }
    memcpy(host, in + 1, n);
    host[n] = '\0';
    if (inet_pton(AF_INET6, host, &a6) != 1) {
      *why = "is not an IPv6 address in brackets";
      return ISO_EINVAL;
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a6, text, sizeof text);
    snprintf(host, sizeof host, "[%s]", text);
    if (end[1] == ':') {
      port = end + 2;
    } else if (end[1] != '\0') {
      *why = "has something after the ']' that is not :PORT";
      return ISO_EINVAL;
    }
  } else {
    n = strcspn(in, ":");
    if (in[n] == ':') {
      port = in + n + 1;
      if (strchr(port, ':') != NULL) {
        *why = "is not HOST[:PORT] (an IPv6 address goes in brackets)";
        return ISO_EINVAL;
      }
    }
    if (n == 0 || n > 253) {
      *why = n == 0 ? "has no host" : "has a host longer than 253 bytes";
      return ISO_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)in[i];
      if (!isalnum(c) && c != '-' && c != '.' && c != '_') {
        *why = "has a host that is not letters, digits, '-', '.' and '_'";
        return ISO_EINVAL;
      }
      host[i] = (char)tolower(c);
    }
    host[n] = '\0';
    if (host[0] == '.' || strstr(host, "..") != NULL) {
      *why = "has an empty label in its host";
      return ISO_EINVAL;
    }
  }
  unsigned long pn = 0;
  if (port != NULL) {
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || digits > 5 || port[digits] != '\0' ||
        (pn = strtoul(port, NULL, 10)) < 1 || pn > 65535) {
      *why = "has a port that is not a number from 1 to 65535";
      return ISO_EINVAL;
    }
  }
  int k = port != NULL ? snprintf(out, outlen, "%s:%lu", host, pn)
                       : snprintf(out, outlen, "%s", host);
  if (k < 0 || (size_t)k >= outlen) {
    *why = "is too long";
    return ISO_EINVAL;
  }
  return 0;
}

/* Checks one entry of kind `kind` and writes its canonical form to out
 * (PATH_MAX bytes). `where` prefixes the error ("--allow-read"). */
static int entry(iso_perm_kind kind,
                 const char* where,
                 const char* in,
                 char* out,
                 char* err,
                 size_t errlen) {
  const char* why = NULL;
  if (in[0] == '\0') {
    why = "is empty";
  } else if (kind == ISO_PERM_NET) {
    if (iso__perms_net_entry(in, out, PATH_MAX, &why) == 0) {
      why = NULL;
    }
  } else if (!is_path_kind(kind)) {
    why = strchr(in, '=') ? "contains '='" : NULL;
    snprintf(out, PATH_MAX, "%s", in);
  } else {
    if (iso__ops_path_norm(in, 1, out, PATH_MAX, &why) == 0) {
      why = NULL;
    }
  }
  if (why != NULL) {
    snprintf(err, errlen, "%s: entry \"%.200s\" %s", where, in, why);
    return ISO_EINVAL;
  }
  return 0;
}

/* ---- parse ---- */

static int parse_kind(perm_set* s,
                      iso_perm_kind kind,
                      const char* spec,
                      char* err,
                      size_t errlen) {
  char where[32], item[PATH_MAX], norm[PATH_MAX];
  snprintf(where, sizeof where, "--allow-%s", kind_names[kind]);
  if (spec == NULL) {
    return 0;
  }
  s->all = spec[0] == '\0';
  for (const char* p = spec; !s->all;) {
    size_t n = strcspn(p, ",");
    if (n >= sizeof item) {
      snprintf(err, errlen, "%s: an entry is too long", where);
      return ISO_EINVAL;
    }
    memcpy(item, p, n);
    item[n] = '\0';
    int rc = entry(kind, where, item, norm, err, errlen);
    if (rc == 0) {
      rc = set_add(s, norm);
    }
    if (rc != 0) {
      return rc;
    }
    if (p[n] == '\0') {
      break;
    }
    p += n + 1;
  }
  set_canon(s, kind);
  return 0;
}

int iso_perms_parse(const char* read,
                    const char* write,
                    const char* env,
                    iso_perms** out,
                    char* err,
                    size_t errlen) {
  iso_perm_flags f = {.read = read, .write = write, .env = env};
  return iso_perms_parse_flags(&f, out, err, errlen);
}

int iso_perms_parse_flags(const iso_perm_flags* f,
                          iso_perms** out,
                          char* err,
                          size_t errlen) {
  iso_perms* p = perms_alloc();
  if (p == NULL) {
    return ISO_ENOMEM;
  }
  const char* specs[ISO_PERM_KINDS] = {
      [ISO_PERM_READ] = f->read,
      [ISO_PERM_WRITE] = f->write,
      [ISO_PERM_ENV] = f->env,
      [ISO_PERM_NET] = f->net,
  };
  for (int k = ISO_PERM_READ; k < ISO_PERM_KINDS; k++) {
    int rc = parse_kind(&p->k[k], k, specs[k], err, errlen);
    if (rc != 0) {
      perms_free(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

/* ---- narrow ---- */

static int bad(char* err, size_t errlen, const char* msg) {
  snprintf(err, errlen, "permissions: %s", msg);
  return ISO_EINVAL;
}

/* One entry of a request's list: checked, covered by `granted`, added. The
 * request decoder has checked its shape already (ipc/iso_proto.h); what is
 * checked again here is what C strings and messages need, for callers that
 * build the list themselves. */
static int narrow_item(perm_set* s,
                       const perm_set* granted,
                       iso_perm_kind kind,
                       iso_str item,
                       char* err,
                       size_t errlen) {
  char where[32], in[PATH_MAX], norm[PATH_MAX];
  snprintf(where, sizeof where, "permissions: %s", kind_names[kind]);
  if ((item.ptr == NULL && item.len > 0) ||
      (item.len > 0 && (memchr(item.ptr, 0, item.len) != NULL ||
                        !iso_utf8_valid(item.ptr, item.len)))) {
    snprintf(err, errlen, "%s: entries must be UTF-8 without NUL bytes", where);
    return ISO_EINVAL;
  }
  if (item.len >= sizeof in) {
    snprintf(err, errlen, "%s: entry \"%.200s...\" is too long", where,
             item.ptr);
    return ISO_EINVAL;
  }
  if (item.len > 0) {
    memcpy(in, item.ptr, item.len);
  }
  in[item.len] = '\0';
  int rc = entry(kind, where, in, norm, err, errlen);
  if (rc != 0) {
    return rc;
  }
  if (!set_covers(granted, kind, norm)) {
    char have[256] = "";
    set_text(granted, have, sizeof have);
    snprintf(err, errlen,
             "%s \"%.200s\" is not granted by the service (%s--allow-%s%s%s)",
             where, in, granted->n ? "" : "no ", kind_names[kind],
             granted->n ? "=" : "", granted->n ? have : "");
    return ISO_EPERM;
  }
  return set_add(s, norm);
}

static int narrow_kind(perm_set* s,
                       const perm_set* granted,
                       iso_perm_kind kind,
                       const iso_perm_list* asked,
                       char* err,
                       size_t errlen) {
  char msg[96];
  switch (asked->ask) {
    case ISO_PERM_ASK_NOTHING:
      return 0;
    case ISO_PERM_ASK_ALL:
      return set_copy(s, granted);
    case ISO_PERM_ASK_LIST:
      break;
    default:
      snprintf(msg, sizeof msg, "%s must be true, false or an array of strings",
               kind_names[kind]);
      return bad(err, errlen, msg);
  }
  if (asked->n > NARROW_MAX) {
    snprintf(msg, sizeof msg, "%s: at most %d entries (got %u)",
             kind_names[kind], NARROW_MAX, asked->n);
    return bad(err, errlen, msg);
  }
  for (uint32_t i = 0; i < asked->n; i++) {
    int rc = narrow_item(s, granted, kind, asked->items[i], err, errlen);
    if (rc != 0) {
      return rc;
    }
  }
  set_canon(s, kind);
  return 0;
}

int iso_perms_narrow(const iso_perms* granted,
                     const iso_perm_req* request,
                     iso_perms** out,
                     char* err,
                     size_t errlen) {
  if (granted == NULL) {
    granted = &none_perms;
  }
  if (request == NULL || !request->present) {
    *out = iso_perms_ref(granted);
    return 0;
  }
  iso_perms* p = perms_alloc();
  if (p == NULL) {
    return ISO_ENOMEM;
  }
  const iso_perm_list* asked[ISO_PERM_KINDS] = {
      [ISO_PERM_READ] = &request->read,
      [ISO_PERM_WRITE] = &request->write,
      [ISO_PERM_ENV] = &request->env,
      [ISO_PERM_NET] = &request->net,
  };
  for (int k = ISO_PERM_READ; k < ISO_PERM_KINDS; k++) {
    int rc = narrow_kind(&p->k[k], &granted->k[k], k, asked[k], err, errlen);
    if (rc != 0) {
      perms_free(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

/* ---- as data: the link's [read, write, env, net] ---- */

int iso_perms_to_req(const iso_perms* p,
                     iso_perm_req* out,
                     iso_str* items,
                     size_t cap) {
  p = p ? p : &none_perms;
  memset(out, 0, sizeof *out);
  out->present = 1;
  iso_perm_list* lists[ISO_PERM_KINDS] = {
      [ISO_PERM_READ] = &out->read,
      [ISO_PERM_WRITE] = &out->write,
      [ISO_PERM_ENV] = &out->env,
      [ISO_PERM_NET] = &out->net,
  };
  size_t used = 0;
  for (int k = ISO_PERM_READ; k < ISO_PERM_KINDS; k++) {
    const perm_set* s = &p->k[k];
    iso_perm_list* l = lists[k];
    if (s->all) {
      l->ask = ISO_PERM_ASK_ALL;
    } else if (s->n > 0) {
      if (s->n > cap - used) {
        return ISO_ETOOBIG;
      }
      l->ask = ISO_PERM_ASK_LIST;
      l->n = (uint32_t)s->n;
      l->items = items + used;
      for (size_t i = 0; i < s->n; i++) {
        items[used++] = (iso_str){s->items[i], strlen(s->items[i])};
      }
    }
  }
  return 0;
}

/* Grants everything: a set read from the link is narrowed against it,
 * which checks its entries and makes it canonical. */
static iso_perms all_perms = {
    .is_static = 1,
    .k = {[ISO_PERM_READ] = {.all = 1},
          [ISO_PERM_WRITE] = {.all = 1},
          [ISO_PERM_ENV] = {.all = 1},
          [ISO_PERM_NET] = {.all = 1}},
};

int iso_perms_from_req(const iso_perm_req* req,
                       iso_perms** out,
                       char* err,
                       size_t errlen) {
  if (req == NULL || !req->present) {
    snprintf(err, errlen, "permissions: no set");
    return ISO_EINVAL;
  }
  return iso_perms_narrow(&all_perms, req, out, err, errlen);
}

/* ---- queries ---- */

int iso_perms_equal(const iso_perms* a, const iso_perms* b) {
  a = a ? a : &none_perms;
  b = b ? b : &none_perms;
  for (int k = ISO_PERM_READ; k < ISO_PERM_KINDS; k++) {
    const perm_set *x = &a->k[k], *y = &b->k[k];
    if (x->all != y->all || x->n != y->n) {
      return 0;
    }
    for (size_t i = 0; i < x->n; i++) {
      if (strcmp(x->items[i], y->items[i]) != 0) {
        return 0;
      }
    }
  }
  return 1;
}

static uint64_t fnv(uint64_t h, const void* p, size_t n) {
  const uint8_t* s = p;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ s[i]) * 1099511628211ull;
  }
  return h;
}

uint64_t iso_perms_hash(const iso_perms* p) {
  p = p ? p : &none_perms;
  uint64_t h = 14695981039346656037ull;
  for (int k = ISO_PERM_READ; k < ISO_PERM_KINDS; k++) {
    uint8_t tag[2] = {(uint8_t)k, (uint8_t)p->k[k].all};
    h = fnv(h, tag, sizeof tag);
    for (size_t i = 0; i < p->k[k].n; i++) {
      h = fnv(h, p->k[k].items[i], strlen(p->k[k].items[i]) + 1);
    }
  }
  return h;
}

int iso_perms_allows(const iso_perms* p, iso_perm_kind kind) {
  if (kind == ISO_PERM_NONE) {
    return 1;
  }
  if (p == NULL || kind < 0 || kind >= ISO_PERM_KINDS) {
    return 0;
  }
  return p->k[kind].all || p->k[kind].n > 0;
}

int iso_perms_allows_path(const iso_perms* p,
                          iso_perm_kind kind,
                          const char* rel) {
  if (p == NULL || !is_path_kind(kind)) {
    return 0;
  }
  return set_covers(&p->k[kind], kind, rel);
}

int iso_perms_allows_name(const iso_perms* p, const char* name) {
  return p != NULL && set_covers(&p->k[ISO_PERM_ENV], ISO_PERM_ENV, name);
}

int iso_perms_allows_net(const iso_perms* p, const char* host, int port) {
  char in[300], norm[300];
  const char* why = NULL;
  if (p == NULL || host == NULL || port < 1 || port > 65535) {
    return 0;
  }
  /* a bare IPv6 address (as some URL parsers give it) gets its brackets */
  int v6 = host[0] != '[' && strchr(host, ':') != NULL;
  int k = snprintf(in, sizeof in, "%s%s%s:%d", v6 ? "[" : "", host,
                   v6 ? "]" : "", port);
  if (k < 0 || (size_t)k >= sizeof in ||
      iso__perms_net_entry(in, norm, sizeof norm, &why) != 0) {
    return 0;
  }
  return set_covers(&p->k[ISO_PERM_NET], ISO_PERM_NET, norm);
}

int iso_perms_describe(const iso_perms* p, char* out, size_t outlen) {
  p = p ? p : &none_perms;
  size_t len = 0;
  for (int k = ISO_PERM_READ; k < ISO_PERM_KINDS; k++) {
    size_t at = len < outlen ? len : outlen;
    size_t room = len < outlen ? outlen - len : 0;
    len += (size_t)snprintf(out + at, room, "%s%s=", k > 1 ? " " : "",
                            kind_names[k]);
    at = len < outlen ? len : outlen;
    room = len < outlen ? outlen - len : 0;
    len += (size_t)set_text(&p->k[k], out + at, room);
  }
  return (int)len;
}
