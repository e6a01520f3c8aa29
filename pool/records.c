/* records.c: making and freeing the records of records.h, and the error
 * reply map both sides put in them (pool_base.h). Thread: any.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_base.h"

/* Copies s into *at (NUL-terminated) and returns the view of the copy;
 * {NULL, 0} stays nil. */
static iso_str copy_str(char** at, iso_str s) {
  if (s.ptr == NULL) {
    return (iso_str){NULL, 0};
  }
  char* p = *at;
  memcpy(p, s.ptr, s.len);
  p[s.len] = '\0';
  *at += s.len + 1;
  return (iso_str){p, s.len};
}

static iso_bytes copy_bytes(char** at, iso_bytes b) {
  if (b.data == NULL) {
    return (iso_bytes){NULL, 0};
  }
  uint8_t* p = (uint8_t*)*at;
  memcpy(p, b.data, b.len);
  *at += b.len;
  return (iso_bytes){p, b.len};
}

pool_rec_task* pool__rec_task_new(const pool_rec_task* from) {
  size_t n = sizeof(pool_rec_task);
  n += from->module.ptr ? from->module.len + 1 : 0;
  n += from->export_name.ptr ? from->export_name.len + 1 : 0;
  n += from->source.ptr ? from->source.len + 1 : 0;
  n += from->args.data ? from->args.len : 0;
  n += from->id.data ? from->id.len : 0;
  /* room for the DONE record it becomes (pool__rec_done_of) */
  n = n > sizeof(pool_rec_done) ? n : sizeof(pool_rec_done);
  pool_rec_task* t = malloc(n);
  if (t == NULL) {
    return NULL;
  }
  *t = *from;
  t->hdr.type = POOL_REC_TASK;
  char* at = (char*)(t + 1);
  t->module = copy_str(&at, from->module);
  t->export_name = copy_str(&at, from->export_name);
  t->source = copy_str(&at, from->source);
  t->args = copy_bytes(&at, from->args);
  t->id = copy_bytes(&at, from->id);
  t->perms = iso_perms_ref(from->perms);
  return t;
}

void pool__rec_task_free(pool_rec_task* t) {
  if (t != NULL) {
    iso_perms_unref(t->perms);
    free(t);
  }
}

pool_rec_done* pool__rec_done_of(pool_rec_task* t) {
  pool_token token = t->token;
  iso_perms_unref(t->perms);
  pool_rec_done* d = (pool_rec_done*)t;
  memset(d, 0, sizeof(*d));
  d->hdr.type = POOL_REC_DONE;
  d->token = token;
  iso_buf_init(&d->reply);
  return d;
}

pool_rec* pool__rec_new(uint8_t type, size_t size) {
  pool_rec* r = calloc(1, size);
  if (r != NULL) {
    r->type = type;
  }
  return r;
}

pool_rec_reload* pool__rec_reload_new(const char* spec) {
  size_t n = strlen(spec);
  pool_rec_reload* r = malloc(sizeof(*r) + n + 1);
  if (r != NULL) {
    r->hdr.type = POOL_REC_RELOAD;
    memcpy(r->spec, spec, n + 1);
  }
  return r;
}

void pool__reply_error(iso_buf* out,
                       iso_bytes id,
                       iso_proto_code code,
                       const char* msg,
                       int worker) {
  iso_proto_reply r = {
      .id = id,
      .status = ISO_STATUS_ERROR,
      .code = code,
      .message = iso_str_of(msg),
      .stats = {.worker = worker},
  };
  iso_proto_encode_reply(&r, out);
}

void pool__rec_down_free(pool_rec* r) {
  if (r != NULL && r->type == POOL_REC_TASK) {
    pool__rec_task_free((pool_rec_task*)r);
  } else {
    free(r);
  }
}

void pool__rec_up_free(pool_rec* r) {
  if (r != NULL && r->type == POOL_REC_DONE) {
    iso_buf_close(&((pool_rec_done*)r)->reply);
  }
  free(r);
}
