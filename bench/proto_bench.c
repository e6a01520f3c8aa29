/* proto_bench.c: what the request decoder (iso_proto_decode) costs on the
 * shapes isopool-bench sends, in nanoseconds per request.
 *
 *   build/bin/proto_bench [N [SHAPE]]
 *
 * N requests per shape (default 1000000); SHAPE (call, eval, perms,
 * batch) runs that one only, for a profiler.
 *
 * The shapes are the ones bench/isopool_bench.c encodes (with the client
 * library, as it does): a call job {v, id, kind, module, export, args}, an
 * eval job {v, id, kind, source}, a batch of 256 call jobs; and a call job
 * with a `permissions` map, the one shape that makes the decoder do more
 * than record spans. Each shape is decoded N times (N / 256 batches); the
 * best of 5 runs is printed. The decoder runs on the job path (the
 * service's NNG threads), so a change to it should leave these figures
 * where they were.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iso_err.h"
#include "iso_json.h"
#include "iso_proto.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void put_u64(uint8_t* p, uint64_t v) {
  p[0] = 0xcf;
  for (int i = 0; i < 8; i++) {
    p[1 + i] = (uint8_t)(v >> (56 - 8 * i));
  }
}

/* ns per request: the best of 5 runs of `rounds` decodes of msg, which
 * holds `per` requests. */
static double measure(const iso_buf* msg, size_t per, long rounds) {
  double best = 1e30;
  for (int run = 0; run < 5; run++) {
    double t0 = now_ns();
    for (long i = 0; i < rounds; i++) {
      iso_proto_msg m;
      if (iso_proto_decode(msg->data, msg->len, &m, NULL, 0) != 0 ||
          m.count != per || m.reqs[per - 1].err != 0) {
        fprintf(stderr, "proto_bench: the decoder refused a shape\n");
        exit(1);
      }
      iso_proto_msg_close(&m);
    }
    double dt = (now_ns() - t0) / ((double)rounds * (double)per);
    if (dt < best) {
      best = dt;
    }
  }
  return best;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  if (n < 256) {
    n = 256;
  }
  uint8_t id[9], args[10];
  put_u64(id, 123456789);
  args[0] = 0x91;
  put_u64(args + 1, 123456789);
  iso_job call = {.kind = ISO_JOB_CALL,
                  .module = "bench.js",
                  .export_name = "default",
                  .args = args,
                  .args_len = sizeof args,
                  .id = id,
                  .id_len = sizeof id};
  iso_job eval = {.kind = ISO_JOB_EVAL,
                  .source = "export default 1 + 1;",
                  .id = id,
                  .id_len = sizeof id};
  iso_buf perms;
  iso_buf_init(&perms);
  const char* pj =
      "{\"read\":[\"data/in\",\"cache\"],\"write\":false,"
      "\"env\":[\"LANG\"]}";
  if (iso_json_to_msgpack(pj, strlen(pj), &perms) != 0) {
    return 1;
  }
  iso_job perm_call = call;
  perm_call.permissions = perms.data;
  perm_call.permissions_len = perms.len;
  enum { BATCH = 256 };
  iso_job* jobs = malloc(BATCH * sizeof *jobs);
  for (int i = 0; i < BATCH; i++) {
    jobs[i] = call;
  }

  static const char* const names[] = {"call", "eval", "call+permissions",
                                      "batch of 256 calls"};
  static const char* const shapes[] = {"call", "eval", "perms", "batch"};
  const char* only = argc > 2 ? argv[2] : NULL;
  iso_buf msgs[4];
  for (int i = 0; i < 4; i++) {
    iso_buf_init(&msgs[i]);
  }
  if (iso_proto_encode_request(&call, &msgs[0]) != 0 ||
      iso_proto_encode_request(&eval, &msgs[1]) != 0 ||
      iso_proto_encode_request(&perm_call, &msgs[2]) != 0 ||
      iso_proto_encode_batch(jobs, BATCH, &msgs[3]) != 0) {
    fprintf(stderr, "proto_bench: encoding failed\n");
    return 1;
  }
  printf("iso_proto_decode, %ld requests per shape, best of 5\n", n);
  for (int i = 0; i < 4; i++) {
    if (only != NULL && strcmp(only, shapes[i]) != 0) {
      iso_buf_close(&msgs[i]);
      continue;
    }
    size_t per = i == 3 ? BATCH : 1;
    double ns = measure(&msgs[i], per, n / (long)per);
    printf("  %-20s %4zu bytes  %7.1f ns/request\n", names[i], msgs[i].len, ns);
    iso_buf_close(&msgs[i]);
  }
  free(jobs);
  iso_buf_close(&perms);
  return 0;
}
