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
 * processes": it takes no entry from a process it distrusts, and when it
 * kills a process (pool__proc_kill: it lied, wedged, held a job, its links
 * failed) it drops every entry that process gave it (those it passed on
 * stay in the processes that took them).
 *
 * DESIGN: CODE and ALIVE are read on the link hub's thread
 * (watchdog.c's ctl_msg), which does the taking and the offering; a kill
 * comes from any thread. The store is under its own lock, held for the
 * list's updates and while the records are queued on a link (a send never
 * blocks), never under pool->lock; a kill takes it under procs_lock, and
 * nothing here takes procs_lock. A process's `code_sent` is the hub's
 * alone.
 */
#include <stdlib.h>
#include <string.h>

#include "iso_err.h"
#include "pool_private.h"

/* what a kept entry costs beside its cache */
#define CODE_ENTRY_COST (sizeof(pool_code_entry) + 64)

typedef struct pool_code_entry {
  struct pool_code_entry* next; /* in the order they came: oldest first */
  uint64_t seq;                 /* its number, from 1 */
  uint32_t num, gen;            /* the process that sent it */
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
};

int pool__code_new(size_t limit, pool_code** out) {
  *out = NULL;
  if (limit == 0) {
    return 0;
  }
  pool_code* c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return ISO_ENOMEM;
  }
  pthread_mutex_init(&c->lock, NULL);
  c->limit = limit;
  *out = c;
  return 0;
}

void pool__code_free(pool_code* c) {
  if (c == NULL) {
    return;
  }
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
    free(e);
  }
}

void pool__code_take(pool_code* c,
                     const pool_proc* p,
                     const iso_link_code* rec) {
  if (c == NULL || atomic_load(&p->distrusted) ||
      rec->key.len != ISO_LINK_CODE_KEY || rec->data.len == 0 ||
      rec->data.len > c->limit / 4) {
    return;
  }
  pthread_mutex_lock(&c->lock);
  for (const pool_code_entry* e = c->head; e != NULL; e = e->next) {
    if (memcmp(e->key, rec->key.data, ISO_LINK_CODE_KEY) == 0) {
      pthread_mutex_unlock(&c->lock); /* two made it at once: one is kept */
      return;
    }
  }
  pool_code_entry* e = malloc(sizeof(*e) + rec->data.len);
  if (e != NULL) {
    *e = (pool_code_entry){
        .seq = ++c->seq, .num = p->num, .gen = p->gen, .len = rec->data.len};
    memcpy(e->key, rec->key.data, ISO_LINK_CODE_KEY);
    memcpy(e->data, rec->data.data, rec->data.len);
    if (c->tail != NULL) {
      c->tail->next = e;
    } else {
      c->head = e;
    }
    c->tail = e;
    c->bytes += cost(e);
    c->stats.entries++;
    c->stats.taken++;
    trim(c);
  }
  pthread_mutex_unlock(&c->lock);
}

void pool__code_offer(iso_pool* pool, pool_proc* p) {
  pool_code* c = pool->code;
  if (c == NULL || atomic_load(&p->distrusted) || p->code_sent >= c->seq) {
    return; /* c->seq: read racily; an entry taken meanwhile is the hub's
               own doing (this thread), so nothing is missed */
  }
  pthread_mutex_lock(&c->lock);
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
