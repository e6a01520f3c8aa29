/* code.c: the front's copy of its pool processes' code caches (issue 15):
 * what one pool process compiled, the others, and those that start later
 * (spares, replacements, a grow's), consume instead of compiling it.
 *
 * A pool process's group sends each user module entry its process makes
 * (isolate/iso_rt.h, iso_rt_code_next_made) to the front, a CODE record
 * on its control link (group.c); the front keeps it here, and at each
 * ALIVE of every other process (every POOL_ALIVE_MS) sends it what it has
 * not yet offered that process, CODE_PUT records, which its group puts in
 * its process's cache (iso_rt_code_put). The control link, not a worker's
 * jobs or ops link: the cache is the process's, not a worker's, and its
 * records then never wait in front of a job's or an op's, nor are read
 * by a worker's loop; the watchdog thread that reads them only copies
 * them into the cache.
 *
 * Bounds: entries are kept in the order they came, bounded by the same
 * --code-cache-mb as a process's own cache (each costs its cache, its key
 * and its record); past it the oldest go (the front consumes nothing, so
 * the order they came is its only order of use); an entry over a quarter
 * of the bound, or over ISO_LINK_CODE_MAX, is not kept, nor one whose key
 * it has. What goes to one process per ALIVE is POOL_CODE_OFFER_BYTES at
 * most (plus the entry that crosses it), and a send the link refuses
 * (ISO_EBUSY: its outbox is full) waits for the next ALIVE, so it never
 * waits and never crowds the link's HALTs out; a process that was offered
 * everything costs a comparison per ALIVE. Each process keeps the number
 * of the last entry offered to it (entries are numbered as they come): a
 * new process starts from 0 and gets every entry kept.
 *
 * Trust: a pool process runs untrusted JavaScript and may be compromised,
 * and a code cache is code: V8 deserializes it without checking its
 * payload, so a hostile entry passed on runs as native code in each
 * process that consumes it, under whatever module key the sender chose.
 * The front cannot check one (it runs no V8). What it does, and why it
 * relays anyway, is docs/architecture.md's "The code cache across pool
 * processes": it takes no entry from a process it distrusts, and when a
 * process ends other than asked (procs.c: kill_proc, as the front kills
 * it, pool__proc_kill, for a lie, a wedge, a job held, or its links close
 * while the service runs, pool__proc_gone; exit_cb, as one not stopped
 * nor retired exits: a crash, a memory bomb, a kill from outside) it
 * drops every entry that process gave it, here and in DIR (those it
 * passed on stay in the processes that took them).
 *
 * On disk (--code-cache DIR, iso_pool_opts.code_cache_dir): the front,
 * not a pool process (sandboxed: nothing writable), keeps every entry it
 * holds in DIR too, a file each, named by its key in hex: a magic, the
 * key, the cache's length, the cache, then the HMAC-SHA256 (OpenSSL) of
 * all that with DIR/key, 32 random bytes made on first use (0600), so
 * that only what this front wrote (or one with the same key file) is
 * taken, and a file renamed to another key's name is not (the key is
 * under the MAC). DIR is made 0700, and refused (a warning; the service
 * runs on, memory only) if it is not a directory we own, others may
 * write it, we cannot write it, or its key file is not a 32-byte file
 * of ours that only we can read. At start the front loads DIR's entries
 * (as if a process had sent them, from none: each process is offered
 * them), checking each: one that fails is logged, deleted and ignored.
 * The front runs no V8, so it learns V8's version tag (a key's last 4
 * bytes) from the first CODE_STATS of a trusted group, which comes
 * before that group's first ALIVE, so before any entry is offered: the
 * entries loaded of another tag (another V8, other flags or CPU: no
 * process here would consume one) are deleted then, with one line
 * (forget_other_tags).
 * Writes and deletions are a thread's of its own (isopool-codedisk),
 * never the hub's: each file is written to a temporary name, then
 * renamed. An entry that leaves the store (the bound; a killed
 * process's) leaves DIR too, so DIR holds what the store holds. A write
 * that fails stops the writing, with one warning.
 *
 * DESIGN: CODE and ALIVE are read on the link hub's thread
 * (watchdog.c's ctl_msg), which does the taking and the offering; a kill
 * comes from any thread. The store is under its own lock, held for the
 * list's updates and while the records are queued on a link (a send never
 * blocks), never under pool->lock; a kill takes it under procs_lock, and
 * nothing here takes procs_lock. A process's `code_sent` is the hub's
 * alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso_err.h"
#include "pool_private.h"

/* an entry's file: magic, key, length (u64, little endian), cache, MAC */
#define DISK_MAGIC "isopcc01"
#define DISK_MAGIC_LEN 8
#define DISK_HEAD (DISK_MAGIC_LEN + ISO_LINK_CODE_KEY + 8)
#define DISK_MAC 32
#define DISK_KEY_LEN 32
#define DISK_NAME_LEN (2 * ISO_LINK_CODE_KEY) /* hex */
/* where an entry that came from no process (DIR) says it came from */
#define FROM_DISK UINT32_MAX

/* what a kept entry costs beside its cache */
#define CODE_ENTRY_COST (sizeof(pool_code_entry) + 64)

typedef struct pool_code_entry {
  struct pool_code_entry* next; /* in the order they came: oldest first */
  uint64_t seq;                 /* its number, from 1 */
  uint32_t num, gen;            /* the process that sent it */
  int on_disk;                  /* 1: in DIR (written, or loaded) */
  size_t len;
  uint8_t key[ISO_LINK_CODE_KEY];
  uint8_t data[];
} pool_code_entry;

struct pool_code {
  pthread_mutex_t lock;
  pool_code_entry *head, *tail;
  size_t bytes, limit;
  uint64_t seq; /* the last entry's number */
  pool_code_stats stats;
  /* a group said V8's version tag in the processes' keys, and the
   * entries of another went (pool__code_figures) */
  int tag_known;
  /* the disk: dirfd -1: none */
  iso_pool* pool;
  char* dir;
  int dirfd;
  uint8_t mac_key[DISK_KEY_LEN];
  pthread_t writer;
  int writer_started;
  pthread_cond_t wake; /* an entry to write, a file to delete, the end */
  int quit;
  char (*unlinks)[DISK_NAME_LEN + 1]; /* files to delete, in order */
  size_t nunlinks, capunlinks;
};

static void disk_open(pool_code* c, const char* dir);
static void* writer_main(void* arg);

int pool__code_new(iso_pool* pool,
                   size_t limit,
                   const char* dir,
                   pool_code** out) {
  *out = NULL;
  if (limit == 0) {
    if (dir != NULL) {
      pool__log(pool, "warn",
                "--code-cache %s: no code cache (--code-cache-mb 0): "
                "nothing is kept there",
                dir);
    }
    return 0;
  }
  pool_code* c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return ISO_ENOMEM;
  }
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->wake, NULL);
  c->limit = limit;
  c->pool = pool;
  c->dirfd = -1;
  if (dir != NULL) {
    disk_open(c, dir); /* else memory only, said */
  }
  if (c->dirfd >= 0) {
    c->dir = strdup(dir); /* for a line about it (NULL: none) */
    if (pthread_create(&c->writer, NULL, writer_main, c) == 0) {
      c->writer_started = 1;
    } else {
      pool__log(pool, "warn",
                "--code-cache %s: no thread to write it: memory only", dir);
      close(c->dirfd);
      c->dirfd = -1;
    }
  }
  *out = c;
  return 0;
}

void pool__code_free(pool_code* c) {
  if (c == NULL) {
    return;
  }
  if (c->writer_started) {
    pthread_mutex_lock(&c->lock);
    c->quit = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->writer, NULL);
  }
  if (c->dirfd >= 0) {
    close(c->dirfd);
  }
  free(c->unlinks);
  free(c->dir);
  pthread_cond_destroy(&c->wake);
  for (pool_code_entry* e = c->head; e != NULL;) {
    pool_code_entry* next = e->next;
    free(e);
    e = next;
  }
  pthread_mutex_destroy(&c->lock);
  free(c);
}

static size_t cost(const pool_code_entry* e) {
  return CODE_ENTRY_COST + e->len;
}

static void hex_name(const uint8_t* key, char out[DISK_NAME_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < ISO_LINK_CODE_KEY; i++) {
    out[2 * i] = digits[key[i] >> 4];
    out[2 * i + 1] = digits[key[i] & 15];
  }
  out[DISK_NAME_LEN] = '\0';
}

/* e leaves the store: its file leaves DIR (the writer's). Called with the
 * lock. */
static void gone(pool_code* c, const pool_code_entry* e) {
  if (!e->on_disk || c->dirfd < 0) {
    return;
  }
  if (c->nunlinks == c->capunlinks) {
    size_t cap = c->capunlinks ? 2 * c->capunlinks : 16;
    void* p = realloc(c->unlinks, cap * sizeof(*c->unlinks));
    if (p == NULL) {
      return; /* left in DIR: the bound on load takes it */
    }
    c->unlinks = p;
    c->capunlinks = cap;
  }
  hex_name(e->key, c->unlinks[c->nunlinks++]);
  pthread_cond_signal(&c->wake);
}

/* Drops the oldest entries down to the bound. Called with the lock. */
static void trim(pool_code* c) {
  while (c->bytes > c->limit && c->head != NULL) {
    pool_code_entry* e = c->head;
    c->head = e->next;
    if (c->head == NULL) {
      c->tail = NULL;
    }
    c->bytes -= cost(e);
    c->stats.entries--;
    c->stats.evicted++;
    gone(c, e);
    free(e);
  }
}

/* Keeps an entry (a copy) unless one of its key is kept or it is too
 * large; `on_disk`: it came from DIR. Returns 1 if kept. Called with the
 * lock. */
static int add(pool_code* c,
               const uint8_t* key,
               const uint8_t* data,
               size_t len,
               uint32_t num,
               uint32_t gen,
               int on_disk) {
  if (len == 0 || len > c->limit / 4 || len > ISO_LINK_CODE_MAX) {
    return 0;
  }
  for (const pool_code_entry* e = c->head; e != NULL; e = e->next) {
    if (memcmp(e->key, key, ISO_LINK_CODE_KEY) == 0) {
      return 0; /* two made it at once: one is kept */
    }
  }
  pool_code_entry* e = malloc(sizeof(*e) + len);
  if (e == NULL) {
    return 0;
  }
  *e = (pool_code_entry){
      .seq = ++c->seq, .num = num, .gen = gen, .on_disk = on_disk, .len = len};
  memcpy(e->key, key, ISO_LINK_CODE_KEY);
  memcpy(e->data, data, len);
  if (c->tail != NULL) {
    c->tail->next = e;
  } else {
    c->head = e;
  }
  c->tail = e;
  c->bytes += cost(e);
  c->stats.entries++;
  trim(c);
  if (c->dirfd >= 0 && !on_disk) {
    pthread_cond_signal(&c->wake); /* to write */
  }
  return 1;
}

void pool__code_take(pool_code* c,
                     const pool_proc* p,
                     const iso_link_code* rec) {
  if (c == NULL || atomic_load(&p->distrusted) ||
      rec->key.len != ISO_LINK_CODE_KEY) {
    return;
  }
  pthread_mutex_lock(&c->lock);
  c->stats.taken +=
      add(c, rec->key.data, rec->data.data, rec->data.len, p->num, p->gen, 0);
  pthread_mutex_unlock(&c->lock);
}

void pool__code_offer(iso_pool* pool, pool_proc* p) {
  pool_code* c = pool->code;
  if (c == NULL || atomic_load(&p->distrusted)) {
    return;
  }
  pthread_mutex_lock(&c->lock);
  if (p->code_sent >= c->seq) { /* offered everything: the usual case */
    pthread_mutex_unlock(&c->lock);
    return;
  }
  size_t sent = 0;
  int n = 0;
  for (const pool_code_entry* e = c->head;
       e != NULL && sent < POOL_CODE_OFFER_BYTES; e = e->next) {
    if (e->seq <= p->code_sent) {
      continue;
    }
    if (e->num != p->num || e->gen != p->gen) {
      iso_link_rec rec = {.kind = ISO_LINK_CODE_PUT};
      rec.u.code.key = (iso_bytes){.data = e->key, .len = ISO_LINK_CODE_KEY};
      rec.u.code.data = (iso_bytes){.data = e->data, .len = e->len};
      int rc = iso_link_send_rec(p->ctl, &rec);
      if (rc == ISO_EBUSY) {
        break; /* at the next ALIVE */
      }
      if (rc == 0) {
        sent += e->len;
        c->stats.given++;
        n++;
      }
    }
    p->code_sent = e->seq;
  }
  pthread_mutex_unlock(&c->lock);
  if (n > 0) {
    pool__log(pool, "debug",
              "code cache: %d entr%s (%zu bytes) passed on to pool process "
              "%u.%u",
              n, n == 1 ? "y" : "ies", sent, p->num, p->gen);
  }
}

void pool__code_drop_from(pool_code* c, const pool_proc* p) {
  if (c == NULL) {
    return;
  }
  pthread_mutex_lock(&c->lock);
  pool_code_entry** at = &c->head;
  c->tail = NULL;
  while (*at != NULL) {
    pool_code_entry* e = *at;
    if (e->num == p->num && e->gen == p->gen) {
      *at = e->next;
      c->bytes -= cost(e);
      c->stats.entries--;
      c->stats.dropped++;
      gone(c, e);
      free(e);
    } else {
      c->tail = e;
      at = &e->next;
    }
  }
  pthread_mutex_unlock(&c->lock);
}

void pool__code_stats(pool_code* c, pool_code_stats* out) {
  memset(out, 0, sizeof(*out));
  if (c == NULL) {
    return;
  }
  pthread_mutex_lock(&c->lock);
  *out = c->stats;
  out->bytes = c->bytes;
  pthread_mutex_unlock(&c->lock);
}

/* The entries loaded from DIR whose key is of another V8 version tag than
 * `tag` (another V8, other flags, another CPU: no process here would
 * consume one) leave the store and DIR, with one line saying how many.
 * Once: the first tag said counts. */
static void forget_other_tags(pool_code* c, uint32_t tag) {
  pthread_mutex_lock(&c->lock);
  if (c->tag_known) {
    pthread_mutex_unlock(&c->lock);
    return;
  }
  c->tag_known = 1;
  int n = 0;
  pool_code_entry** at = &c->head;
  c->tail = NULL;
  while (*at != NULL) {
    pool_code_entry* e = *at;
    uint32_t etag;
    memcpy(&etag, e->key + ISO_LINK_CODE_KEY - sizeof etag, sizeof etag);
    if (e->num == FROM_DISK && etag != tag) {
      *at = e->next;
      c->bytes -= cost(e);
      c->stats.entries--;
      gone(c, e);
      free(e);
      n++;
    } else {
      c->tail = e;
      at = &e->next;
    }
  }
  pthread_mutex_unlock(&c->lock);
  if (n > 0) {
    pool__log(c->pool, "info",
              "--code-cache %s: %d entr%s of another V8 (its version, flags "
              "or CPU) deleted",
              c->dir != NULL ? c->dir : "", n, n == 1 ? "y" : "ies");
  }
}

/* One counter of a CODE_STATS: what it grew by since the group last said
 * it is added to the service's total. */
static void count_up(_Atomic uint64_t* total, uint64_t now, uint64_t said) {
  if (now > said) {
    atomic_fetch_add(total, now - said);
  }
}

void pool__code_figures(iso_pool* pool,
                        pool_proc* p,
                        const iso_link_code_stats* r) {
  if (p != NULL && atomic_load(&p->distrusted)) {
    return;
  }
  pool_code_figs* f = p != NULL ? &p->code_figs : &pool->group_code_figs;
  count_up(&pool->code_hits, r->hits, f->said.hits);
  count_up(&pool->code_misses, r->misses, f->said.misses);
  count_up(&pool->code_rejected, r->rejected, f->said.rejected);
  count_up(&pool->code_evicted, r->evicted, f->said.evicted);
  count_up(&pool->code_made, r->made, f->said.made);
  count_up(&pool->code_put, r->put, f->said.put);
  f->said = *r;
  atomic_store(&f->bytes, (long long)(r->bytes <= INT64_MAX ? r->bytes : 0));
  atomic_store(&f->entries,
               (long long)(r->entries <= INT64_MAX ? r->entries : 0));
  if (pool->code != NULL && r->tag != 0) {
    forget_other_tags(pool->code, r->tag);
  }
}

void pool__code_count(iso_pool* pool, pool_code_count* out) {
  *out = (pool_code_count){
      .hits = atomic_load(&pool->code_hits),
      .misses = atomic_load(&pool->code_misses),
      .rejected = atomic_load(&pool->code_rejected),
      .evicted = atomic_load(&pool->code_evicted),
      .made = atomic_load(&pool->code_made),
      .put = atomic_load(&pool->code_put),
      .bytes = (uint64_t)atomic_load(&pool->group_code_figs.bytes),
      .entries = (uint64_t)atomic_load(&pool->group_code_figs.entries),
  };
  pthread_mutex_lock(&pool->procs_lock);
  for (int i = 0; i < POOL_MAX_PROCS; i++) {
    const pool_proc* p = pool->procs[i];
    if (p != NULL) {
      out->bytes += (uint64_t)atomic_load(&p->code_figs.bytes);
      out->entries += (uint64_t)atomic_load(&p->code_figs.entries);
    }
  }
  pthread_mutex_unlock(&pool->procs_lock);
  pool_code_stats cs;
  pool__code_stats(pool->code, &cs);
  out->front_entries = cs.entries;
  out->front_bytes = cs.bytes;
}

/* ---- the disk ------------------------------------------------------------ */

/* The MAC of an entry's file: its first n bytes, with the key file's key. */
static int disk_mac(const pool_code* c,
                    const uint8_t* p,
                    size_t n,
                    uint8_t out[DISK_MAC]) {
  unsigned int len = 0;
  return HMAC(EVP_sha256(), c->mac_key, DISK_KEY_LEN, p, n, out, &len) !=
             NULL &&
         len == DISK_MAC;
}

/* Reads DIR/key, or makes it (32 random bytes, 0600, written under a
 * temporary name and linked: a rival start takes the one that won).
 * Returns NULL, or what is wrong. */
static const char* disk_key(pool_code* c) {
  for (int round = 0; round < 2; round++) {
    int fd = openat(c->dirfd, "key", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      struct stat st;
      ssize_t got = -1;
      int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               st.st_uid == geteuid() && (st.st_mode & 077) == 0 &&
               st.st_size == DISK_KEY_LEN;
      if (ok) {
        got = read(fd, c->mac_key, DISK_KEY_LEN);
      }
      close(fd);
      if (!ok) {
        return "its key file is not a 32-byte file of ours that only we can "
               "read and write (0600)";
      }
      return got == DISK_KEY_LEN ? NULL : "its key file cannot be read";
    }
    if (errno != ENOENT) {
      return "its key file cannot be opened";
    }
    uint8_t key[DISK_KEY_LEN];
    if (RAND_bytes(key, sizeof key) != 1) {
      return "no random bytes for its key file";
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "tmp.key.%d", (int)getpid());
    unlinkat(c->dirfd, tmp, 0);
    fd = openat(c->dirfd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      return "its key file cannot be made";
    }
    int ok =
        write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok &&
         (linkat(c->dirfd, tmp, c->dirfd, "key", 0) == 0 || errno == EEXIST);
    unlinkat(c->dirfd, tmp, 0);
    OPENSSL_cleanse(key, sizeof key);
    if (!ok) {
      return "its key file cannot be made";
    }
  }
  return "its key file cannot be made";
}

static int unhex(const char* name, uint8_t key[ISO_LINK_CODE_KEY]) {
  if (strlen(name) != DISK_NAME_LEN) {
    return 0;
  }
  for (int i = 0; i < DISK_NAME_LEN; i++) {
    char ch = name[i];
    int v = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                     : -1;
    if (v < 0) {
      return 0;
    }
    key[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : (key[i / 2] | v));
  }
  return 1;
}

/* One entry's file: NULL and kept, or what is wrong with it. */
static const char* disk_load_one(pool_code* c, const char* name) {
  uint8_t key[ISO_LINK_CODE_KEY];
  if (!unhex(name, key)) {
    return "not an entry's name";
  }
  int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return "it cannot be opened";
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size < DISK_HEAD + 1 + DISK_MAC ||
      (size_t)st.st_size > DISK_HEAD + ISO_LINK_CODE_MAX + DISK_MAC) {
    close(fd);
    return "not a file of an entry's size";
  }
  size_t n = (size_t)st.st_size;
  uint8_t* buf = malloc(n);
  size_t got = 0;
  while (buf != NULL && got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) {
      break;
    }
    got += (size_t)r;
  }
  close(fd);
  if (buf == NULL || got != n) {
    free(buf);
    return "it cannot be read";
  }
  const char* why = NULL;
  uint8_t mac[DISK_MAC];
  uint64_t len = 0;
  for (int i = 0; i < 8; i++) {
    len |= (uint64_t)buf[DISK_MAGIC_LEN + ISO_LINK_CODE_KEY + i] << (8 * i);
  }
  if (memcmp(buf, DISK_MAGIC, DISK_MAGIC_LEN) != 0) {
    why = "not an entry of this build";
  } else if (len != n - DISK_HEAD - DISK_MAC) {
    why = "its length is wrong";
  } else if (!disk_mac(c, buf, n - DISK_MAC, mac) ||
             CRYPTO_memcmp(mac, buf + n - DISK_MAC, DISK_MAC) != 0) {
    why = "its MAC is wrong (changed, or made with another key)";
  } else if (memcmp(buf + DISK_MAGIC_LEN, key, ISO_LINK_CODE_KEY) != 0) {
    why = "it is another key's entry";
  } else if (!add(c, key, buf + DISK_HEAD, (size_t)len, FROM_DISK, FROM_DISK,
                  1)) {
    why = "not kept (over the bound, or a duplicate)";
  }
  free(buf);
  return why;
}

/* Opens DIR (made 0700), checks it and its key, loads its entries;
 * c->dirfd stays -1 (memory only, one warning) when it cannot be used. */
static void disk_open(pool_code* c, const char* dir) {
  iso_pool* pool = c->pool;
  const char* why = NULL;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    why = strerror(errno);
  }
  int fd = why == NULL ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  struct stat st;
  if (why != NULL) {
  } else if (fd < 0) {
    why = strerror(errno);
  } else if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
    why = "not a directory";
  } else if (st.st_uid != geteuid()) {
    why = "not ours";
  } else if ((st.st_mode & 022) != 0) {
    why = "others may write it (it must be 0700)";
  } else if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
    why = "we cannot write it";
  }
  if (why == NULL) {
    c->dirfd = fd;
    why = disk_key(c);
  }
  if (why != NULL) {
    pool__log(pool, "warn",
              "--code-cache %s: %s; the service runs without a disk cache", dir,
              why);
    if (fd >= 0) {
      close(fd);
    }
    c->dirfd = -1;
    return;
  }
  int dfd = dup(fd);
  DIR* d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (d == NULL) {
    if (dfd >= 0) {
      close(dfd);
    }
    return;
  }
  int loaded = 0;
  pthread_mutex_lock(&c->lock);
  for (struct dirent* de; (de = readdir(d)) != NULL;) {
    const char* name = de->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, "key") == 0) {
      continue;
    }
    if (strncmp(name, "tmp.", 4) == 0) { /* a write that never finished */
      unlinkat(c->dirfd, name, 0);
      continue;
    }
    const char* bad = disk_load_one(c, name);
    if (bad == NULL) {
      loaded++;
    } else {
      unlinkat(c->dirfd, name, 0);
      pool__log(pool, "warn", "--code-cache %s: %s: %s; deleted", dir, name,
                bad);
    }
  }
  pthread_mutex_unlock(&c->lock);
  closedir(d);
  pool__log(pool, "info", "--code-cache %s: %d entr%s loaded", dir, loaded,
            loaded == 1 ? "y" : "ies");
}

/* Writes one entry's file: its bytes to a temporary name, then renamed.
 * Returns 0 or errno. */
static int disk_write(pool_code* c, const char* name, uint8_t* buf, size_t n) {
  char tmp[DISK_NAME_LEN + 8];
  snprintf(tmp, sizeof tmp, "tmp.%s", name);
  int fd = openat(c->dirfd, tmp,
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return errno;
  }
  size_t put = 0;
  int err = 0;
  while (put < n) {
    ssize_t w = write(fd, buf + put, n - put);
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    put += (size_t)w;
  }
  if (close(fd) != 0 && err == 0) {
    err = errno;
  }
  if (err == 0 && renameat(c->dirfd, tmp, c->dirfd, name) != 0) {
    err = errno;
  }
  if (err != 0) {
    unlinkat(c->dirfd, tmp, 0);
  }
  return err;
}

/* The writer: deletes the files of entries gone, writes those new. */
static void* writer_main(void* arg) {
  pool_code* c = arg;
  pthread_setname_np(pthread_self(), "isopool-codedsk");
  int failed = 0;
  pthread_mutex_lock(&c->lock);
  while (!c->quit) {
    if (c->nunlinks > 0) {
      char name[DISK_NAME_LEN + 1];
      memcpy(name, c->unlinks[0], sizeof name);
      memmove(c->unlinks, c->unlinks + 1,
              (c->nunlinks - 1) * sizeof(*c->unlinks));
      c->nunlinks--;
      pthread_mutex_unlock(&c->lock);
      unlinkat(c->dirfd, name, 0);
      pthread_mutex_lock(&c->lock);
      continue;
    }
    pool_code_entry* e = c->head;
    while (failed == 0 && e != NULL && e->on_disk) {
      e = e->next;
    }
    if (e == NULL || failed) {
      pthread_cond_wait(&c->wake, &c->lock);
      continue;
    }
    size_t n = DISK_HEAD + e->len + DISK_MAC;
    uint8_t* buf = malloc(n);
    char name[DISK_NAME_LEN + 1];
    hex_name(e->key, name);
    e->on_disk = 1; /* from here its going deletes its file */
    if (buf != NULL) {
      memcpy(buf, DISK_MAGIC, DISK_MAGIC_LEN);
      memcpy(buf + DISK_MAGIC_LEN, e->key, ISO_LINK_CODE_KEY);
      for (int i = 0; i < 8; i++) {
        buf[DISK_MAGIC_LEN + ISO_LINK_CODE_KEY + i] =
            (uint8_t)((uint64_t)e->len >> (8 * i));
      }
      memcpy(buf + DISK_HEAD, e->data, e->len);
    }
    pthread_mutex_unlock(&c->lock);
    int err = ENOMEM;
    if (buf != NULL && disk_mac(c, buf, n - DISK_MAC, buf + n - DISK_MAC)) {
      err = disk_write(c, name, buf, n);
    }
    free(buf);
    if (err != 0) {
      failed = 1;
      pool__log(c->pool, "warn",
                "--code-cache: cannot write an entry (%s); no more are "
                "written",
                strerror(err));
    } else {
      pool__log(c->pool, "debug", "--code-cache: %s written", name);
    }
    pthread_mutex_lock(&c->lock);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}
