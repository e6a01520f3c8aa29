/* worker_ops.c: a worker thread's end of its ops link: the runtime's
 * async ops go to the front's op threads as bytes (pool/ops.c has the
 * other end).
 *
 * DESIGN: the runtime hands over the async op requests of one event loop
 * tick as a batch (iso_rt's op_send). They leave as OP records, in one
 * message, on the ops link; the batch itself stays here, waiting, on a
 * list in the order sent. The front runs them in a batch of its own and
 * writes their responses as OP_RESULT records, in the order of the
 * batch's records (one message per batch, more only past the link's
 * bound). Each OP_RESULT fills the response of the next waiting record
 * of the batch whose next record it names (promise, realm and tag; a
 * promise is pending once), and a batch whose records are all answered
 * goes back to its runtime (iso_rt_ops_done), or is freed if that
 * runtime is gone (recycled). Two op threads may answer two batches in
 * either order, so the batch is found by its next record, not by
 * position.
 *
 * The results' budgets (iso_op_budget: what a realm's or a runtime's
 * results hold until JavaScript takes them) are the runtime's, here: a
 * response is charged as it fills its record (iso_op_batch_respond), and
 * a record whose budget is spent when its batch is sent fails here, as
 * iso_op_batch_run would fail it, without going to the front. A batch
 * none of whose records went out goes back on a 0 ms timer.
 * Thread: the runner's, all of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker_private.h"

/* A batch sent, waiting for its responses. */
struct pool_op_out {
  pool_op_out* next;
  iso_op_batch* b;
  size_t next_rec; /* the next record whose response is due */
  size_t left;     /* records whose response is due */
};

/* Moves o->next_rec past the records answered here. */
static void skip_answered(pool_op_out* o) {
  while (o->next_rec < o->b->n && o->b->recs[o->next_rec].err != 0) {
    o->next_rec++;
  }
}

/* Gives back every batch whose responses are all in: to its runtime, or
 * freed if that runtime is gone. Returns how many. */
static int hand_back(pool_runner* w) {
  int n = 0;
  pool_op_out** pp = &w->ops_head;
  w->ops_tail = NULL;
  while (*pp != NULL) {
    pool_op_out* o = *pp;
    if (o->left > 0) {
      w->ops_tail = o;
      pp = &o->next;
      continue;
    }
    *pp = o->next;
    if (w->rt != NULL && o->b->owner == w->rt) {
      iso_rt_ops_done(w->rt, o->b);
    } else {
      iso_op_batch_free(o->b);
    }
    free(o);
    n++;
  }
  return n;
}

static void ops_timer_cb(uv_timer_t* h) {
  pool_runner* w = h->data;
  if (hand_back(w) > 0 && w->rt != NULL) {
    iso_rt_tick(w->rt);
  }
}

int pool__runner_op_send(void* data, iso_op_batch* b) {
  pool_runner* w = pool__engine_runner(data);
  if (w == NULL) { /* a spare's runtime runs no job */
    return ISO_ECLOSED;
  }
  assert(pool__on_worker(w));
  pool_op_out* o = calloc(1, sizeof(*o));
  if (o == NULL) {
    return ISO_ENOMEM;
  }
  o->b = b;
  iso_buf_reset(&w->ops_buf);
  char msg[256];
  for (size_t i = 0; i < b->n; i++) {
    iso_op_rec* r = &b->recs[i];
    if (iso_op_batch_over_budget(b, i, msg, sizeof msg)) {
      r->err = ISO_OPERR_OTHER; /* marked: it fails here, below */
      continue;
    }
    iso_link_rec rec = {
        .kind = ISO_LINK_OP,
        .u.op = {.op = r->op,
                 .promise = r->promise,
                 .realm = r->realm,
                 .tag = r->tag,
                 .perm_id = r->perm_id,
                 .args =
                     r->args_len > 0
                         ? (iso_bytes){b->args.data + r->args_off, r->args_len}
                         : (iso_bytes){(const uint8_t*)"\x90", 1}},
    };
    int rc = iso_link_put(&w->ops_buf, &rec);
    if (rc != 0) {
      free(o);
      return rc;
    }
    o->left++;
  }
  if (o->left > 0) {
    int rc = iso_link_send(w->ops, w->ops_buf.data, w->ops_buf.len);
    if (rc != 0) { /* the link is closing, or the batch too large */
      free(o);
      return rc;
    }
  }
  /* what did not go out fails now, not before: a refused send leaves the
   * batch to the runtime with nothing charged. (A budget only grows
   * meanwhile, so each marked record is still over it.) */
  for (size_t i = 0; i < b->n; i++) {
    if (b->recs[i].err != 0) {
      if (!iso_op_batch_over_budget(b, i, msg, sizeof msg)) {
        snprintf(msg, sizeof msg,
                 "the results of the ops in flight are "
                 "too large: await some first");
      }
      iso_op_batch_respond(b, i, ISO_OPERR_OTHER, msg, strlen(msg));
    }
  }
  skip_answered(o);
  if (w->ops_tail != NULL) {
    w->ops_tail->next = o;
  } else {
    w->ops_head = o;
  }
  w->ops_tail = o;
  if (o->left == 0) {
    uv_timer_start(&w->ops_timer, ops_timer_cb, 0, 0);
  }
  return 0;
}

/* The waiting batch whose next record r answers, or NULL. */
static pool_op_out* find(pool_runner* w, const iso_link_op_result* r) {
  for (pool_op_out* o = w->ops_head; o != NULL; o = o->next) {
    if (o->left == 0) {
      continue;
    }
    const iso_op_rec* rec = &o->b->recs[o->next_rec];
    if (rec->promise == r->promise && rec->realm == r->realm &&
        rec->tag == r->tag) {
      return o;
    }
  }
  return NULL;
}

/* Adds a late answer to w->late, the batch of them this drain hands to
 * the runtime. */
static void late_take(pool_runner* w, const iso_link_op_result* r) {
  if (w->late == NULL) {
    w->late = iso_op_batch_new(iso_ops_builtin(), NULL);
    if (w->late == NULL) {
      abort(); /* its promise would never settle */
    }
  }
  iso_op_caller who = {.realm = r->realm, .tag = r->tag};
  if (iso_op_batch_add(w->late, 0, r->promise, &who, NULL, 0) != 0) {
    abort();
  }
  iso_op_batch_respond(w->late, w->late->n - 1, (iso_op_err)r->err,
                       r->result.data, r->result.len);
}

/* One message of OP_RESULT records. */
static void take_results(const uint8_t* data, size_t len, void* arg) {
  pool_runner* w = arg;
  iso_link_rd rd;
  iso_link_rec rec;
  char err[256];
  int rc =
      iso_link_rd_init(&rd, ISO_LINK_FRONT_OPS, data, len, err, sizeof err);
  if (rc == 0) {
    rc = 1;
  }
  while (rc == 1 && (rc = iso_link_rd_next(&rd, &rec, err, sizeof err)) == 1) {
    const iso_link_op_result* r = &rec.u.op_result;
    pool_op_out* o = find(w, r);
    if (o == NULL) {
      /* an answer later than its batch (iso_op_defer): the batch went
       * back with the record ISO_OPERR_LATER, or this is that LATER
       * coming after the answer itself; settled on its own */
      late_take(w, r);
      continue;
    }
    /* an error's message, or the value (none: undefined); one that does
     * not fit fails as Error */
    iso_op_batch_respond(o->b, o->next_rec, (iso_op_err)r->err, r->result.data,
                         r->result.len);
    o->next_rec++;
    o->left--;
    skip_answered(o);
  }
  if (rc < 0) {
    pool__logf(&w->o.log, "error", "worker %d: op responses refused: %s", w->id,
               err);
  }
}

int pool__runner_ops_read(pool_runner* w) {
  assert(pool__on_worker(w));
  if (iso_link_drain(w->ops, take_results, w) == 0) {
    return 0;
  }
  int n = hand_back(w);
  if (w->late != NULL) {
    iso_op_batch* late = w->late;
    w->late = NULL;
    if (w->rt != NULL) {
      late->owner = w->rt;
      iso_rt_ops_done(w->rt, late);
      n++;
    } else {
      iso_op_batch_free(late);
    }
  }
  if (n > 0 && w->rt != NULL) {
    /* settle their promises and run what that made runnable, in this
     * iteration */
    iso_rt_tick(w->rt);
  }
  return n;
}

void pool__runner_ops_close(pool_runner* w) {
  while (w->ops_head != NULL) {
    pool_op_out* o = w->ops_head;
    w->ops_head = o->next;
    iso_op_batch_free(o->b);
    free(o);
  }
  w->ops_tail = NULL;
  iso_op_batch_free(w->late);
  w->late = NULL;
  iso_buf_close(&w->ops_buf);
}
