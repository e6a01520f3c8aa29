/* proto_check.c: checks on the job protocol decoder's views
 * (proto_check.h), from test_proto.c. */
#include "proto_check.h"

#include <stdio.h>
#include <string.h>

int str_is(iso_str s, const char* want) {
  return s.ptr != NULL && s.len == strlen(want) &&
         memcmp(s.ptr, want, s.len) == 0;
}

const char* perm_text(const iso_perm_req* pr) {
  static char out[256];
  if (!pr->present) {
    return "absent";
  }
  const iso_perm_list* lists[] = {&pr->read, &pr->write, &pr->env, &pr->net};
  static const char* const names[] = {"read", "write", "env", "net"};
  size_t len = 0;
  for (int k = 0; k < ISO_PERM_REQ_KINDS; k++) {
    const iso_perm_list* l = lists[k];
    if (k == 3 && l->ask == ISO_PERM_ASK_NOTHING) {
      break; /* net shown only when asked for */
    }
    len += (size_t)snprintf(out + len, sizeof out - len, "%s%s=", k ? " " : "",
                            names[k]);
    if (l->ask == ISO_PERM_ASK_NOTHING) {
      len += (size_t)snprintf(out + len, sizeof out - len, "-");
    } else if (l->ask == ISO_PERM_ASK_ALL) {
      len += (size_t)snprintf(out + len, sizeof out - len, "*");
    } else {
      len += (size_t)snprintf(out + len, sizeof out - len, "[");
      for (uint32_t i = 0; i < l->n; i++) {
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s",
                                i ? "," : "", (int)l->items[i].len,
                                l->items[i].ptr);
      }
      len += (size_t)snprintf(out + len, sizeof out - len, "]");
    }
    if (len >= sizeof out) {
      break;
    }
  }
  return out;
}

int perm_inside(const iso_perm_req* pr, const uint8_t* buf, size_t len) {
  const iso_perm_list* lists[] = {&pr->read, &pr->write, &pr->env, &pr->net};
  for (int k = 0; k < ISO_PERM_REQ_KINDS; k++) {
    for (uint32_t i = 0; lists[k]->ask == ISO_PERM_ASK_LIST && i < lists[k]->n;
         i++) {
      const uint8_t* p = (const uint8_t*)lists[k]->items[i].ptr;
      if (p < buf || p + lists[k]->items[i].len > buf + len) {
        return 0;
      }
    }
  }
  return 1;
}
