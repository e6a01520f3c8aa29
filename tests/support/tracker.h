/* tracker.h: the async reply tracker the service suites (test_service*.c)
 * share, on top of daemon.h (wait_count) and json_check.h (json_of).
 *
 * A tracker holds n records, one per request id 0..n-1. tracker_submit()
 * sends a job through iso_client_submit() with its id set to i (msgpack
 * uint32, so every id has the same 5-byte form); tracker_cb(), on an NNG
 * thread, decodes the id of the reply and fills record i with the first
 * reply's rc, status, code, value (JSON), name, message, worker and time.
 * A reply for an id never sent, or whose id is not the one sent, counts as
 * stray; tracker_check_once() then checks that every id sent got exactly
 * one reply and nothing else came.
 *
 *   tracker t;
 *   tracker_init(&t, N);
 *   for (int i = 0; i < N; i++) tracker_submit_ok(&t, c, i, job, 10000);
 *   CHECK(tracker_wait(&t, N, 10000));
 *   ... t.r[i].status, t.r[i].value ...
 *   tracker_check_once(&t);
 *   tracker_free(&t);
 */
#ifndef ISO_TRACKER_H
#define ISO_TRACKER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "iso_client.h"
#include "iso_proto.h"

/* rec: what came back for one id (the first reply; later ones are only
 * counted). */
typedef struct rec {
  int sent;  /* submitted (the callback is owed) */
  int calls; /* callbacks that came for this id */
  int rc;    /* the client's status */
  iso_status status;
  iso_proto_code code;
  char* value; /* JSON, when fulfilled */
  char* name;
  char* message;
  int64_t worker;  /* -2 until a reply came */
  iso_limit limit; /* the limit that ended it, as the reply says */
  int64_t sent_ms, done_ms;
} rec;

typedef struct tracker {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int n;
  int done;  /* callbacks, all ids */
  int stray; /* callbacks for an id not sent, or whose reply had another */
  rec* r;
  struct tracker_tag {
    struct tracker* t;
    int i;
  } * tags;
} tracker;

/* id_encode: request ids as msgpack uint32 (the 5-byte form). */
void id_encode(uint32_t v, uint8_t out[5]);

/* id_decode: the id of a reply, or -1 if it is not a non-negative
 * integer. */
int64_t id_decode(const uint8_t* p, size_t n);

/* tracker_init: n records, ids 0..n-1; tracker_free releases them (after
 * every owed callback came, or the client was closed). */
void tracker_init(tracker* t, int n);
void tracker_free(tracker* t);

/* tracker_cb: the submit callback: runs on an NNG thread: copy, count, signal;
 * never block. */
void tracker_cb(void* data, int status, iso_result* res);

/* tracker_submit: sends job as id i. Returns the client's rc (0: a
 * callback is owed; else none is, and the record is not sent). */
int tracker_submit(tracker* t,
                   iso_client* c,
                   int i,
                   iso_job job,
                   int64_t deadline_ms);

/* tracker_submit_ok: tracker_submit, and the submit must succeed (else it
 * says why and fails the case). */
int tracker_submit_ok(tracker* t,
                      iso_client* c,
                      int i,
                      iso_job job,
                      int64_t deadline_ms);

/* tracker_wait: waits until `want` callbacks came or timeout_ms passed;
 * 1 if they came. */
int tracker_wait(tracker* t, int want, int timeout_ms);

/* tracker_sent: how many ids were submitted (and not refused). */
int tracker_sent(tracker* t);

/* tracker_done: how many callbacks came so far, all ids. */
int tracker_done(tracker* t);

/* tracker_calls: the callbacks for id i so far (for waiting on one job). */
int tracker_calls(tracker* t, int i);

/* tracker_check_once: exactly one reply per id sent, none for anything
 * else; waits a little for late duplicates first. */
void tracker_check_once(tracker* t);

#endif /* ISO_TRACKER_H */
