/* iso_err.c: text and names for the ISO_E* codes, from the one table. */
#include "iso_err.h"

#include <stddef.h>

const char* iso_strerror(int err) {
  switch (err) {
    case 0:
      return "success";
#define ISO_ERR_TEXT(name, value, text) \
  case name:                            \
    return text;
      ISO_ERR_TABLE(ISO_ERR_TEXT)
#undef ISO_ERR_TEXT
    default:
      return "unknown error";
  }
}

const char* iso_err_name(int err) {
  switch (err) {
    case 0:
      return "OK";
#define ISO_ERR_NAME(name, value, text) \
  case name:                            \
    return #name + 4;
      ISO_ERR_TABLE(ISO_ERR_NAME)
#undef ISO_ERR_NAME
    default:
      return "EUNKNOWN";
  }
}
