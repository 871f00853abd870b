/* A keyed work queue (client-go's workqueue, in C): one key per resource,
 * N worker threads, at most one worker per key at a time.
 *
 *     struct kk_queue_config cfg = {.workers = 4, .fn = reconcile, .userdata = agent};
 *     kk_queue_new(&cfg, &q, &err);
 *     kk_queue_enqueue(q, "default/default/default/web");   // from the watcher
 *     ...
 *     kk_queue_free(q);                                     // stops and joins
 *
 * A key is an opaque string of at most KK_QUEUE_KEY_MAX bytes; the agent
 * uses the resource keys of fsapi/tree.h ("realm/space/stack/cell"), and
 * the only structure the queue sees in them is the '/' hierarchy used by
 * parking (below).
 *
 * States of a key and what enqueue does in each:
 *
 *     absent    -> queued (FIFO order)
 *     queued    -> no-op (deduplicated)
 *     delayed   -> queued now (an explicit enqueue beats a timer or backoff)
 *     parked    -> queued
 *     running   -> marked dirty: runs once more after the current run ends,
 *                  however many times it was enqueued meanwhile
 *
 * The handler's return value decides what happens after a run:
 *
 *     KK_QUEUE_DONE   forgotten (its failure count reset), unless dirty
 *                     (queued again) or an enqueue_after arrived while it
 *                     ran (delayed). Keys parked beneath it are woken.
 *     KK_QUEUE_RETRY  (any negative value) failed: delayed by exponential
 *                     backoff, base * 2^(failures-1) capped at max, with
 *                     optional jitter (uniform in [d/2, d]); dirty keys are
 *                     retried at once, as new input may be the fix.
 *     KK_QUEUE_PARK   (1; other positive values count as DONE)
 *                     waiting for something else -- typically its parent
 *                     ("WaitingForParent"). Parked keys consume no timer and
 *                     no thread; they are queued again by an enqueue of the
 *                     key itself, or when an ancestor key (a prefix ending
 *                     at '/': "r/s" is an ancestor of "r/s/st/c") finishes
 *                     with KK_QUEUE_DONE, or by kk_queue_wake_children().
 *
 * Why parking rather than ordering inside the queue: docs/design.md wants order
 * across files to be irrelevant, so a child can arrive long before its
 * parent exists. The child's reconciler knows best whether its parent is
 * ready; the queue only remembers that it waits and wakes it the moment the
 * parent's reconcile succeeds -- no polling, and no lost wake-up: waking
 * also marks a descendant that is running at that moment dirty, so a child
 * that looked at its parent just before the parent became ready runs once
 * more instead of parking for good. A periodic resync of the agent remains
 * the safety net.
 *
 * Timers: delayed keys live in a min-heap; idle workers sleep on a condition
 * variable with a deadline at the earliest due time (CLOCK_MONOTONIC), so
 * nothing polls. With a fake clock (cfg.clock, fsapi/clock.h) time moves
 * only when the test advances it, and the test then calls kk_queue_kick()
 * to queue what became due; kk_queue_wait_runs() and kk_queue_wait_idle()
 * let it wait for the workers without sleeping:
 *
 *     kk_fake_clock_advance(&fc, 200);
 *     kk_queue_kick(q);
 *     kk_queue_wait_idle(q);
 *
 * Thread-safety: every function may be called from any thread, including
 * from inside a handler (for its own key or others), except kk_queue_free,
 * kk_queue_stop and the kk_queue_wait_* functions, which must not be called
 * from a handler.
 */
#ifndef KUKEON_AGENT_QUEUE_H
#define KUKEON_AGENT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/clock.h"
#include "fsapi/error.h"

#define KK_QUEUE_KEY_MAX     512
#define KK_QUEUE_WORKERS_MAX 256

enum {
    KK_QUEUE_RETRY = -1,
    KK_QUEUE_DONE = 0,
    KK_QUEUE_PARK = 1,
};

/* Runs one key. `attempt` is 1 for a first run and n+1 after n consecutive
 * failures. Called without any queue lock held. */
typedef int (*kk_queue_fn)(void *userdata, const char *key, unsigned attempt);

struct kk_queue_config {
    unsigned workers;         /* 1..KK_QUEUE_WORKERS_MAX */
    unsigned backoff_base_ms; /* 0: 100 ms */
    unsigned backoff_max_ms;  /* 0: 5 minutes; at least the base */
    bool jitter;
    /* Due times of delays and backoffs; NULL or &kk_clock_system: the
     * system's monotonic clock, which workers wait on by themselves. Any
     * other clock is a test's:
     * workers wake for due keys only at kk_queue_kick(). */
    const struct kk_clock *clock;
    kk_queue_fn fn;
    void *userdata;
};

struct kk_queue;

/* Starts the workers. */
int kk_queue_new(const struct kk_queue_config *cfg, struct kk_queue **out, kk_error **err);

/* Both return false (and do nothing) for a key that is empty or longer than
 * KK_QUEUE_KEY_MAX, or once the queue is stopping. */
bool kk_queue_enqueue(struct kk_queue *q, const char *key);
/* Runs `key` no later than `ms` from now: an earlier pending run wins, a
 * later timer is brought forward. */
bool kk_queue_enqueue_after(struct kk_queue *q, const char *key, unsigned ms);

/* Queues every parked key beneath `parent` (see above); returns how many. */
size_t kk_queue_wake_children(struct kk_queue *q, const char *parent);

/* Drops a delayed or parked key (e.g. its resource was deleted). A queued or
 * running key is left alone: its handler will find out. */
void kk_queue_forget(struct kk_queue *q, const char *key);

struct kk_queue_stats {
    size_t queued, running, delayed, parked;
    uint64_t runs, failures;
};
void kk_queue_get_stats(struct kk_queue *q, struct kk_queue_stats *out);

/* Queues the delayed keys that are due now and wakes the workers: what a
 * test calls after advancing a fake clock (harmless with the system's). */
void kk_queue_kick(struct kk_queue *q);
/* Block until at least `runs` runs have finished in all (stats.runs), or
 * until nothing is queued or running (delayed and parked keys may remain);
 * both also return once the queue is stopped. Tests' handshakes with the
 * workers. */
void kk_queue_wait_runs(struct kk_queue *q, uint64_t runs);
void kk_queue_wait_idle(struct kk_queue *q);

/* Stops the queue and joins the workers; idempotent. With drain, every key
 * queued (or dirty) at this point still runs; delayed and parked keys are
 * dropped either way. Enqueues after this are refused. */
void kk_queue_stop(struct kk_queue *q, bool drain);

/* kk_queue_stop(q, false) if still running, then frees. NULL is fine. */
void kk_queue_free(struct kk_queue *q);
KK_DEFINE_CLEANUP(struct kk_queue, kk_queue_free)
#define _cleanup_queue_ _cleanup_(kk_queue_freep)

#endif
