#include "agent/queue.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "fsapi/clock.h"
#include "fsapi/hashmap.h"
#include "fsapi/log.h"

enum state { ST_NEW, ST_QUEUED, ST_DELAYED, ST_PARKED, ST_RUNNING };

struct item {
    char *key;
    size_t keylen;
    struct item *qnext; /* ready FIFO */
    enum state state;
    bool dirty;      /* RUNNING: run once more when done */
    uint64_t due_ms; /* DELAYED: when; RUNNING: an enqueue_after meanwhile (0: none) */
    size_t heap_idx; /* DELAYED: index in q->heap */
    unsigned failures;
};

struct kk_queue {
    struct kk_queue_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* work is ready, the earliest timer moved, or stopping */
    pthread_cond_t done; /* a run finished (kk_queue_wait_runs, kk_queue_wait_idle) */

    struct kk_hashmap items; /* key -> struct item * */

    struct item *head, *tail; /* ready FIFO */
    size_t nready;

    struct item **heap; /* delayed keys, min-heap on due_ms */
    size_t nheap, capheap;

    size_t nrunning, nparked;
    uint64_t runs, failures;
    unsigned rng;

    bool stopping, draining, joined;
    pthread_t *threads;
    unsigned nthreads;
};

static uint64_t now_ms(const struct kk_queue *q)
{
    return (uint64_t)kk_clock_mono_ms(q->cfg.clock);
}

/* --- the key table ------------------------------------------------------ */

static struct item *lookup(struct kk_queue *q, const char *key)
{
    return kk_hashmap_get(&q->items, key);
}

static struct item *insert(struct kk_queue *q, const char *key, size_t len)
{
    struct item *it = kk_xcalloc(1, sizeof(*it));
    it->key = kk_xstrndup(key, len);
    it->keylen = len;
    kk_hashmap_put(&q->items, it->key, it);
    return it;
}

static void item_free(void *p)
{
    struct item *it = p;
    if (!it)
        return;
    free(it->key);
    free(it);
}

static void remove_item(struct kk_queue *q, struct item *it)
{
    kk_hashmap_take(&q->items, it->key);
    item_free(it);
}

/* --- the timer heap ----------------------------------------------------- */

static void heap_set(struct kk_queue *q, size_t i, struct item *it)
{
    q->heap[i] = it;
    it->heap_idx = i;
}

static void heap_up(struct kk_queue *q, size_t i)
{
    struct item *it = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent]->due_ms <= it->due_ms)
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, it);
}

static void heap_down(struct kk_queue *q, size_t i)
{
    struct item *it = q->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = it->due_ms;
        if (l < q->nheap && q->heap[l]->due_ms < best)
            m = l, best = q->heap[l]->due_ms;
        if (r < q->nheap && q->heap[r]->due_ms < best)
            m = r;
        if (m == i)
            break;
        heap_set(q, i, q->heap[m]);
        i = m;
    }
    heap_set(q, i, it);
}

static void heap_push(struct kk_queue *q, struct item *it)
{
    void *p = q->heap;
    kk_xgrow(&p, &q->capheap, q->nheap + 1, sizeof(*q->heap));
    q->heap = p;
    heap_set(q, q->nheap++, it);
    heap_up(q, it->heap_idx);
}

static void heap_remove(struct kk_queue *q, struct item *it)
{
    size_t i = it->heap_idx;
    struct item *last = q->heap[--q->nheap];
    if (i == q->nheap)
        return;
    heap_set(q, i, last);
    heap_up(q, i);
    heap_down(q, last->heap_idx);
}

/* --- state changes (q->mu held) ----------------------------------------- */

static void make_ready(struct kk_queue *q, struct item *it)
{
    if (it->state == ST_DELAYED)
        heap_remove(q, it);
    else if (it->state == ST_PARKED)
        q->nparked--;
    it->state = ST_QUEUED;
    it->qnext = NULL;
    if (q->tail)
        q->tail->qnext = it;
    else
        q->head = it;
    q->tail = it;
    q->nready++;
    pthread_cond_signal(&q->cv);
}

static void make_delayed(struct kk_queue *q, struct item *it, uint64_t due)
{
    bool was_first = q->nheap == 0 || due < q->heap[0]->due_ms;
    if (it->state == ST_PARKED)
        q->nparked--;
    it->state = ST_DELAYED;
    it->due_ms = due;
    heap_push(q, it);
    /* Sleeping workers computed their deadline from the old first timer. */
    if (was_first)
        pthread_cond_broadcast(&q->cv);
}

static struct item *pop_ready(struct kk_queue *q)
{
    struct item *it = q->head;
    q->head = it->qnext;
    if (!q->head)
        q->tail = NULL;
    q->nready--;
    return it;
}

static void promote_due(struct kk_queue *q, uint64_t now)
{
    while (q->nheap > 0 && q->heap[0]->due_ms <= now)
        make_ready(q, q->heap[0]);
}

static bool is_descendant(const struct item *it, const char *parent, size_t plen)
{
    return it->keylen > plen + 1 && it->key[plen] == '/' && memcmp(it->key, parent, plen) == 0;
}

static size_t wake_children_locked(struct kk_queue *q, const char *parent, size_t plen)
{
    size_t n = 0;
    if (q->nparked == 0 && q->nrunning == 0)
        return 0;
    struct kk_hashmap_iter hi = KK_HASHMAP_ITER_INIT;
    while (kk_hashmap_next(&q->items, &hi)) {
        struct item *it = hi.value;
        if (!is_descendant(it, parent, plen))
            continue;
        if (it->state == ST_PARKED) {
            make_ready(q, it);
            n++;
        } else if (it->state == ST_RUNNING) {
            /* It may be deciding to park right now on a stale view of
             * its parent: make it look again. */
            it->dirty = true;
        }
    }
    return n;
}

static unsigned backoff_ms(struct kk_queue *q, unsigned failures)
{
    uint64_t d = q->cfg.backoff_base_ms;
    for (unsigned i = 1; i < failures && d < q->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > q->cfg.backoff_max_ms)
        d = q->cfg.backoff_max_ms;
    if (q->cfg.jitter && d > 1)
        d = d / 2 + (uint64_t)rand_r(&q->rng) % (d - d / 2 + 1);
    return (unsigned)d;
}

static void finish(struct kk_queue *q, struct item *it, int result)
{
    if (result > 0 && result != KK_QUEUE_PARK)
        result = KK_QUEUE_DONE;
    q->nrunning--;
    q->runs++;
    pthread_cond_broadcast(&q->done);
    bool dirty = it->dirty;
    uint64_t requested = it->due_ms;
    it->dirty = false;
    it->due_ms = 0;

    if (result < 0) {
        q->failures++;
        it->failures++;
        unsigned d = backoff_ms(q, it->failures);
        kk_log_debug("queue: %s failed (attempt %u), retry in %u ms", it->key, it->failures, d);
        if (dirty && !q->stopping)
            make_ready(q, it);
        else if (!q->stopping)
            make_delayed(q, it, now_ms(q) + d);
        else
            remove_item(q, it);
        return;
    }

    it->failures = 0;
    if (result == KK_QUEUE_DONE)
        wake_children_locked(q, it->key, it->keylen);
    if (q->stopping && !(q->draining && dirty)) {
        remove_item(q, it);
    } else if (dirty) {
        make_ready(q, it);
    } else if (result == KK_QUEUE_PARK) {
        it->state = ST_PARKED;
        q->nparked++;
    } else if (requested) {
        make_delayed(q, it, requested);
    } else {
        remove_item(q, it);
    }
}

/* --- workers ------------------------------------------------------------ */

static void *worker(void *arg)
{
    struct kk_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (!q->stopping)
            promote_due(q, now_ms(q));
        if (q->head && (!q->stopping || q->draining)) {
            struct item *it = pop_ready(q);
            it->state = ST_RUNNING;
            it->due_ms = 0; /* from now on: an enqueue_after during the run */
            q->nrunning++;
            unsigned attempt = it->failures + 1;
            /* The key string stays valid while RUNNING: only the thread
             * running an item may free it. */
            const char *key = it->key;
            pthread_mutex_unlock(&q->mu);
            int r = q->cfg.fn(q->cfg.userdata, key, attempt);
            pthread_mutex_lock(&q->mu);
            finish(q, it, r);
            continue;
        }
        if (q->stopping)
            break;
        /* A fake clock moves only when told: kk_queue_kick wakes us then. */
        if (q->nheap > 0 && (!q->cfg.clock || q->cfg.clock == &kk_clock_system)) {
            uint64_t due = q->heap[0]->due_ms;
            struct timespec ts = {.tv_sec = (time_t)(due / 1000),
                                  .tv_nsec = (long)(due % 1000) * 1000000};
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        } else {
            pthread_cond_wait(&q->cv, &q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* --- public ------------------------------------------------------------- */

int kk_queue_new(const struct kk_queue_config *cfg, struct kk_queue **out, kk_error **err)
{
    if (!cfg->fn)
        return kk_error_set(err, KK_E_INVALID, "work queue: no handler");
    if (cfg->workers < 1 || cfg->workers > KK_QUEUE_WORKERS_MAX)
        return kk_error_set(err, KK_E_INVALID, "work queue: workers must be 1..%d, not %u",
                            KK_QUEUE_WORKERS_MAX, cfg->workers);
    struct kk_queue *q = kk_xcalloc(1, sizeof(*q));
    q->cfg = *cfg;
    if (!q->cfg.backoff_base_ms)
        q->cfg.backoff_base_ms = 100;
    if (!q->cfg.backoff_max_ms)
        q->cfg.backoff_max_ms = 5 * 60 * 1000;
    if (q->cfg.backoff_max_ms < q->cfg.backoff_base_ms)
        q->cfg.backoff_max_ms = q->cfg.backoff_base_ms;
    q->rng = (unsigned)kk_clock_mono_ns(NULL) ^ (unsigned)getpid();
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&q->done, NULL);

    q->threads = kk_xcalloc(cfg->workers, sizeof(*q->threads));
    for (unsigned i = 0; i < cfg->workers; i++) {
        int r = pthread_create(&q->threads[i], NULL, worker, q);
        if (r != 0) {
            kk_queue_free(q);
            return kk_error_errnum(err, r, "work queue: start worker %u", i);
        }
        q->nthreads++;
    }
    *out = q;
    return 0;
}

static bool key_ok(const char *key, size_t *len)
{
    if (!key)
        return false;
    *len = strnlen(key, KK_QUEUE_KEY_MAX + 1);
    return *len > 0 && *len <= KK_QUEUE_KEY_MAX;
}

bool kk_queue_enqueue(struct kk_queue *q, const char *key)
{
    size_t len;
    if (!key_ok(key, &len))
        return false;
    pthread_mutex_lock(&q->mu);
    bool ok = !q->stopping;
    if (ok) {
        struct item *it = lookup(q, key);
        if (!it)
            make_ready(q, insert(q, key, len));
        else if (it->state == ST_RUNNING)
            it->dirty = true;
        else if (it->state != ST_QUEUED)
            make_ready(q, it);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

bool kk_queue_enqueue_after(struct kk_queue *q, const char *key, unsigned ms)
{
    size_t len;
    if (!key_ok(key, &len))
        return false;
    if (ms == 0)
        return kk_queue_enqueue(q, key);
    uint64_t due = now_ms(q) + ms;
    pthread_mutex_lock(&q->mu);
    bool ok = !q->stopping;
    if (ok) {
        struct item *it = lookup(q, key);
        if (!it) {
            make_delayed(q, insert(q, key, len), due);
        } else if (it->state == ST_DELAYED && due < it->due_ms) {
            heap_remove(q, it);
            make_delayed(q, it, due);
        } else if (it->state == ST_PARKED) {
            make_delayed(q, it, due);
        } else if (it->state == ST_RUNNING && (!it->due_ms || due < it->due_ms)) {
            it->due_ms = due;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

size_t kk_queue_wake_children(struct kk_queue *q, const char *parent)
{
    size_t len;
    if (!key_ok(parent, &len))
        return 0;
    pthread_mutex_lock(&q->mu);
    size_t n = q->stopping ? 0 : wake_children_locked(q, parent, len);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void kk_queue_forget(struct kk_queue *q, const char *key)
{
    size_t len;
    if (!key_ok(key, &len))
        return;
    pthread_mutex_lock(&q->mu);
    struct item *it = lookup(q, key);
    if (it && it->state == ST_DELAYED) {
        heap_remove(q, it);
        remove_item(q, it);
    } else if (it && it->state == ST_PARKED) {
        q->nparked--;
        remove_item(q, it);
    }
    pthread_mutex_unlock(&q->mu);
}

void kk_queue_get_stats(struct kk_queue *q, struct kk_queue_stats *out)
{
    pthread_mutex_lock(&q->mu);
    *out = (struct kk_queue_stats){
            .queued = q->nready,
            .running = q->nrunning,
            .delayed = q->nheap,
            .parked = q->nparked,
            .runs = q->runs,
            .failures = q->failures,
    };
    pthread_mutex_unlock(&q->mu);
}

void kk_queue_kick(struct kk_queue *q)
{
    pthread_mutex_lock(&q->mu);
    if (!q->stopping)
        promote_due(q, now_ms(q));
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void kk_queue_wait_runs(struct kk_queue *q, uint64_t runs)
{
    pthread_mutex_lock(&q->mu);
    while (q->runs < runs && !q->joined)
        pthread_cond_wait(&q->done, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

void kk_queue_wait_idle(struct kk_queue *q)
{
    pthread_mutex_lock(&q->mu);
    while ((q->nready > 0 || q->nrunning > 0) && !q->joined)
        pthread_cond_wait(&q->done, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

void kk_queue_stop(struct kk_queue *q, bool drain)
{
    pthread_mutex_lock(&q->mu);
    if (!q->stopping) {
        q->stopping = true;
        q->draining = drain;
    }
    pthread_cond_broadcast(&q->cv);
    bool join = !q->joined;
    q->joined = true;
    pthread_cond_broadcast(&q->done); /* waiters: nothing more will run */
    pthread_mutex_unlock(&q->mu);
    if (!join)
        return;
    for (unsigned i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
}

void kk_queue_free(struct kk_queue *q)
{
    if (!q)
        return;
    kk_queue_stop(q, false);
    kk_hashmap_clear(&q->items, item_free);
    free(q->heap);
    free(q->threads);
    pthread_cond_destroy(&q->cv);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
