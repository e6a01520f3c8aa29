/* client.c: a program of a user of the installed client library, built by
 * tests/install_test.sh against the DESTDIR install, once through
 * pkg-config (isopool-client.pc) and once through the CMake package
 * (find_package(isopool-client), CMakeLists.txt beside it).
 *
 *   client            prints the headers' ISO_VERSION
 *   client URL        sends one eval job (6 * 7) to the service at URL
 *                     and prints its value as JSON
 *
 * Exit status 0 when it printed what it should, 1 otherwise.
 */
#include <stdio.h>

#include "iso_buf.h"
#include "iso_client.h"
#include "iso_err.h"
#include "iso_json.h"
#include "iso_proto.h"
#include "iso_version.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    printf("%s\n", ISO_VERSION);
    return 0;
  }
  iso_client* c = NULL;
  int rc = iso_client_new(argv[1], NULL, &c);
  if (rc != 0) {
    fprintf(stderr, "client: %s: %s\n", argv[1], iso_strerror(rc));
    return 1;
  }
  iso_job job = {.kind = ISO_JOB_EVAL, .source = "export default 6 * 7;"};
  iso_result r;
  rc = iso_client_call(c, &job, 20000, &r);
  int ok = 0;
  if (rc != 0) {
    fprintf(stderr, "client: %s\n", iso_strerror(rc));
  } else if (r.status != ISO_STATUS_FULFILLED) {
    fprintf(stderr, "client: status %d: %s\n", (int)r.status, r.message);
  } else {
    iso_buf out;
    iso_buf_init(&out);
    if (iso_json_from_msgpack(r.value, r.value_len, &out) == 0 &&
        iso_buf_terminate(&out) == 0) {
      printf("%s\n", (const char*)out.data);
      ok = 1;
    }
    iso_buf_close(&out);
  }
  if (rc == 0) {
    iso_result_close(&r);
  }
  iso_client_free(c);
  return ok ? 0 : 1;
}
