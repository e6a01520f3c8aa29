/* echo_relay.c: the relayed echo's relay (echo_relay.h). */
#include "echo_relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)

struct echo_relay {
  int fd; /* the server's end of the socketpair */
  pthread_mutex_t write_mu;
  pthread_t reader;
  echo_relay_deliver deliver;
  void* arg;
};

/* The child: echoes the byte stream until the server's end closes. */
static void child_echo(int fd) {
  static uint8_t buf[READ_CHUNK];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      _exit(0);
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t k = write(fd, buf + off, (size_t)(n - off));
      if (k < 0 && errno == EINTR) {
        continue;
      }
      if (k <= 0) {
        _exit(0);
      }
      off += k;
    }
  }
}

echo_relay* echo_relay_new(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return NULL;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    child_echo(sv[1]);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return NULL;
  }
  echo_relay* r = calloc(1, sizeof *r);
  if (r == NULL) {
    close(sv[0]); /* the child sees the end and exits */
    return NULL;
  }
  r->fd = sv[0];
  pthread_mutex_init(&r->write_mu, NULL);
  return r;
}

static int write_all(int fd, const void* p, size_t len) {
  const uint8_t* b = p;
  while (len > 0) {
    ssize_t k = write(fd, b, len);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k <= 0) {
      return -1;
    }
    b += k;
    len -= (size_t)k;
  }
  return 0;
}

int echo_relay_send(echo_relay* r, uint32_t tag, const void* p, size_t len) {
  uint32_t head[2] = {(uint32_t)len, tag};
  pthread_mutex_lock(&r->write_mu);
  int rc = write_all(r->fd, head, sizeof head);
  if (rc == 0) {
    rc = write_all(r->fd, p, len);
  }
  pthread_mutex_unlock(&r->write_mu);
  return rc;
}

/* The reader thread: every whole frame in what one read gives is
 * delivered; a partial one waits for the next read (the buffer grows to
 * hold a frame larger than it). Ends when the child is gone. */
static void* reader_main(void* arg) {
  echo_relay* r = arg;
  size_t cap = READ_CHUNK, have = 0;
  uint8_t* buf = malloc(cap);
  while (buf != NULL) {
    if (have == cap) {
      uint8_t* bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        break;
      }
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(r->fd, buf + have, cap - have);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    have += (size_t)n;
    /* the frames came back whole, so their sends wrote every byte; a
     * send may still hold the lock it wrote them under, and the frame's
     * delivery reuses the sender's message: wait for it (the socket is
     * no ordering ThreadSanitizer sees) */
    pthread_mutex_lock(&r->write_mu);
    pthread_mutex_unlock(&r->write_mu);
    size_t off = 0;
    while (have - off >= 8) {
      uint32_t head[2];
      memcpy(head, buf + off, sizeof head);
      if (have - off - 8 < head[0]) {
        break;
      }
      r->deliver(r->arg, head[1], buf + off + 8, head[0]);
      off += 8 + head[0];
    }
    memmove(buf, buf + off, have - off);
    have -= off;
  }
  free(buf);
  return NULL;
}

int echo_relay_start(echo_relay* r, echo_relay_deliver deliver, void* arg) {
  r->deliver = deliver;
  r->arg = arg;
  return pthread_create(&r->reader, NULL, reader_main, r);
}
