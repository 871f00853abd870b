/* The keyed work queue (agent/queue.h): dedup, one worker per key, backoff,
 * delayed enqueue, parking, shutdown. Time is a fake clock that the tests
 * advance; they wait for the workers with handshakes (gates, and the
 * queue's kk_queue_wait_runs/kk_queue_wait_idle), never by sleeping. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "agent/queue.h"
#include "fsapi/clock.h"
#include "tests/lib/kktest.h"

static struct kk_fake_clock fclock;

static void clock_reset(void)
{
    kk_fake_clock_init(&fclock, 1000, 1700000000LL * KK_NSEC_PER_SEC);
}

static uint64_t now_ms(void)
{
    return (uint64_t)kk_clock_mono_ms(&fclock.clock);
}

/* Moves the fake clock by ms and lets the workers run what became due. */
static void advance(struct kk_queue *q, unsigned ms)
{
    kk_fake_clock_advance(&fclock, ms);
    kk_queue_kick(q);
    kk_queue_wait_idle(q);
}

/* A gate a handler can block on until the test opens it. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
};
#define GATE_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false                                 \
    }

static void gate_wait(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* --- dedup -------------------------------------------------------------- */

struct dedup {
    struct gate gate, started;
    atomic_int runs_a, runs_b, started_a;
};

static int dedup_fn(void *ud, const char *key, unsigned attempt)
{
    struct dedup *d = ud;
    (void)attempt;
    if (strcmp(key, "a") == 0) {
        if (atomic_fetch_add(&d->started_a, 1) == 0) {
            gate_open(&d->started);
            gate_wait(&d->gate);
        }
        atomic_fetch_add(&d->runs_a, 1);
    } else {
        atomic_fetch_add(&d->runs_b, 1);
    }
    return KK_QUEUE_DONE;
}

KT_CASE(dedup_queued_and_rerun_once_after_running)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct dedup d = {.gate = GATE_INIT, .started = GATE_INIT};
    struct kk_queue_config cfg = {.workers = 1, .fn = dedup_fn, .userdata = &d};
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);

    KT_ASSERT(kk_queue_enqueue(q, "a"));
    gate_wait(&d.started); /* "a" runs, blocked on the gate */
    for (int i = 0; i < 5; i++) {
        KT_ASSERT(kk_queue_enqueue(q, "b")); /* queued behind "a": deduplicated */
        KT_ASSERT(kk_queue_enqueue(q, "a")); /* running: marked dirty, once */
    }
    struct kk_queue_stats st;
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.queued, 1);
    KT_ASSERT_EQ(st.running, 1);
    gate_open(&d.gate);
    kk_queue_wait_runs(q, 3);
    kk_queue_wait_idle(q);
    kk_queue_stop(q, true);
    KT_ASSERT_EQ(atomic_load(&d.runs_a), 2);
    KT_ASSERT_EQ(atomic_load(&d.runs_b), 1);
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.runs, 3);
}

/* --- contention --------------------------------------------------------- */

#define NKEYS 8
struct contention {
    struct kk_queue *q;
    atomic_int in_flight[NKEYS];
    atomic_int violations;
    atomic_int runs;
    atomic_uint seq;
    atomic_uint last_enqueue[NKEYS]; /* seq of the key's last enqueue */
    atomic_uint last_start[NKEYS];   /* seq at the start of its last run */
};

static int contention_fn(void *ud, const char *key, unsigned attempt)
{
    struct contention *c = ud;
    (void)attempt;
    int k = key[1] - '0';
    atomic_store(&c->last_start[k], atomic_fetch_add(&c->seq, 1) + 1);
    if (atomic_fetch_add(&c->in_flight[k], 1) != 0)
        atomic_fetch_add(&c->violations, 1);
    sched_yield(); /* a window for another worker to take the same key */
    atomic_fetch_sub(&c->in_flight[k], 1);
    atomic_fetch_add(&c->runs, 1);
    return KK_QUEUE_DONE;
}

static void *producer(void *arg)
{
    struct contention *c = arg;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    for (int i = 0; i < 2000; i++) {
        int k = rand_r(&seed) % NKEYS;
        char key[3] = {'k', (char)('0' + k), 0};
        /* Record before enqueueing: a run that starts after the enqueue
         * has a larger seq. */
        atomic_store(&c->last_enqueue[k], atomic_fetch_add(&c->seq, 1) + 1);
        kk_queue_enqueue(c->q, key);
    }
    return NULL;
}

KT_CASE(one_worker_per_key_and_no_lost_enqueue)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct contention c;
    struct kk_queue_config cfg = {.workers = 4, .fn = contention_fn, .userdata = &c};
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    c.q = q;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        KT_ASSERT(pthread_create(&th[i], NULL, producer, &c) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    kk_queue_stop(q, true);
    KT_ASSERT_EQ(atomic_load(&c.violations), 0);
    KT_ASSERT(atomic_load(&c.runs) >= NKEYS);
    KT_ASSERT(atomic_load(&c.runs) <= 8000);
    /* Every key's last run started after its last enqueue. */
    for (int k = 0; k < NKEYS; k++)
        KT_ASSERT_MSG(atomic_load(&c.last_start[k]) > atomic_load(&c.last_enqueue[k]),
                      "key %d: last run %u before last enqueue %u", k,
                      atomic_load(&c.last_start[k]), atomic_load(&c.last_enqueue[k]));
}

/* --- backoff ------------------------------------------------------------ */

struct flaky {
    int fail_times;
    atomic_int runs;
    uint64_t at[8];
    unsigned attempts[8];
};

static int flaky_fn(void *ud, const char *key, unsigned attempt)
{
    struct flaky *f = ud;
    (void)key;
    int n = atomic_load(&f->runs);
    if (n < 8) {
        f->at[n] = now_ms();
        f->attempts[n] = attempt;
    }
    atomic_fetch_add(&f->runs, 1);
    return n < f->fail_times ? KK_QUEUE_RETRY : KK_QUEUE_DONE;
}

KT_CASE(failed_keys_back_off_exponentially_to_the_cap)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct flaky f = {.fail_times = 4};
    struct kk_queue_config cfg = {.workers = 2,
                                  .backoff_base_ms = 20,
                                  .backoff_max_ms = 80,
                                  .fn = flaky_fn,
                                  .userdata = &f};
    cfg.clock = &fclock.clock;
    clock_reset();
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    KT_ASSERT(kk_queue_enqueue(q, "x"));
    kk_queue_wait_idle(q);
    static const unsigned want[] = {20, 40, 80, 80};
    for (int i = 0; i < 4; i++) {
        advance(q, want[i] - 1); /* not yet due */
        KT_ASSERT_EQ(atomic_load(&f.runs), i + 1);
        advance(q, 1);
        KT_ASSERT_EQ(atomic_load(&f.runs), i + 2);
    }
    for (int i = 0; i < 4; i++) {
        uint64_t gap = f.at[i + 1] - f.at[i];
        KT_ASSERT_MSG(gap >= want[i] && gap < want[i] + 100, "gap %d: %llu ms, want ~%u", i,
                      (unsigned long long)gap, want[i]);
        KT_ASSERT_EQ(f.attempts[i], (unsigned)i + 1);
    }
    KT_ASSERT_EQ(f.attempts[4], 5);
    advance(q, 150); /* success: no further retries */
    KT_ASSERT_EQ(atomic_load(&f.runs), 5);
    struct kk_queue_stats st;
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.failures, 4);
    KT_ASSERT_EQ(st.delayed, 0);
}

KT_CASE(backoff_jitter_stays_within_half_to_full)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct flaky f = {.fail_times = 3};
    struct kk_queue_config cfg = {.workers = 1,
                                  .backoff_base_ms = 60,
                                  .backoff_max_ms = 60,
                                  .jitter = true,
                                  .fn = flaky_fn,
                                  .userdata = &f};
    cfg.clock = &fclock.clock;
    clock_reset();
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    KT_ASSERT(kk_queue_enqueue(q, "x"));
    kk_queue_wait_idle(q);
    for (int ms = 0; ms < 200 && atomic_load(&f.runs) < 4; ms++)
        advance(q, 1); /* a millisecond at a time: the run is at its due time */
    KT_ASSERT_EQ(atomic_load(&f.runs), 4);
    for (int i = 0; i < 3; i++) {
        uint64_t gap = f.at[i + 1] - f.at[i];
        KT_ASSERT_MSG(gap >= 30 && gap < 60 + 100, "gap %d: %llu ms", i, (unsigned long long)gap);
    }
}

/* --- delayed enqueue ---------------------------------------------------- */

struct timed {
    atomic_int runs;
    uint64_t at[4];
};

static int timed_fn(void *ud, const char *key, unsigned attempt)
{
    struct timed *t = ud;
    (void)key, (void)attempt;
    int n = atomic_load(&t->runs);
    if (n < 4)
        t->at[n] = now_ms();
    atomic_fetch_add(&t->runs, 1);
    return KK_QUEUE_DONE;
}

KT_CASE(enqueue_after_runs_once_at_the_earliest_time)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct timed t;
    struct kk_queue_config cfg = {
            .workers = 2, .clock = &fclock.clock, .fn = timed_fn, .userdata = &t};
    clock_reset();
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);

    uint64_t t0 = now_ms();
    KT_ASSERT(kk_queue_enqueue_after(q, "x", 250));
    KT_ASSERT(kk_queue_enqueue_after(q, "x", 50));  /* brought forward */
    KT_ASSERT(kk_queue_enqueue_after(q, "x", 200)); /* later: ignored */
    struct kk_queue_stats st;
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.delayed, 1);
    advance(q, 49);
    KT_ASSERT_EQ(atomic_load(&t.runs), 0);
    advance(q, 1);
    KT_ASSERT_EQ(atomic_load(&t.runs), 1);
    KT_ASSERT_MSG(t.at[0] - t0 == 50, "ran after %llu ms", (unsigned long long)(t.at[0] - t0));
    advance(q, 250);
    KT_ASSERT_EQ(atomic_load(&t.runs), 1);

    /* An explicit enqueue beats a pending timer and consumes it. */
    t0 = now_ms();
    KT_ASSERT(kk_queue_enqueue_after(q, "y", 200));
    KT_ASSERT(kk_queue_enqueue(q, "y"));
    kk_queue_wait_runs(q, 2);
    KT_ASSERT_EQ(atomic_load(&t.runs), 2);
    KT_ASSERT(t.at[1] == t0); /* at once: no time passed */
    advance(q, 250);
    KT_ASSERT_EQ(atomic_load(&t.runs), 2);
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.delayed, 0);
}

/* --- parking ------------------------------------------------------------ */

struct family {
    atomic_bool parent_ready;
    atomic_int parent_runs, child_runs, child_done, other_runs;
};

static int family_fn(void *ud, const char *key, unsigned attempt)
{
    struct family *f = ud;
    (void)attempt;
    if (strcmp(key, "r/s") == 0) {
        atomic_store(&f->parent_ready, true);
        atomic_fetch_add(&f->parent_runs, 1);
        return KK_QUEUE_DONE;
    }
    if (strcmp(key, "r/s/st/c") == 0) {
        atomic_fetch_add(&f->child_runs, 1);
        if (!atomic_load(&f->parent_ready))
            return KK_QUEUE_PARK; /* WaitingForParent */
        atomic_fetch_add(&f->child_done, 1);
        return KK_QUEUE_DONE;
    }
    atomic_fetch_add(&f->other_runs, 1); /* "r/sx/st/c": not beneath r/s */
    return KK_QUEUE_PARK;
}

KT_CASE(parked_child_wakes_when_parent_succeeds)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct family f;
    struct kk_queue_config cfg = {.workers = 2, .fn = family_fn, .userdata = &f};
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);

    KT_ASSERT(kk_queue_enqueue(q, "r/s/st/c")); /* the child arrives first */
    KT_ASSERT(kk_queue_enqueue(q, "r/sx/st/c"));
    kk_queue_wait_idle(q);
    KT_ASSERT_EQ(atomic_load(&f.child_runs), 1);
    KT_ASSERT_EQ(atomic_load(&f.other_runs), 1);
    struct kk_queue_stats st;
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.parked, 2);
    KT_ASSERT_EQ(st.delayed, 0); /* parked keys hold no timer */

    KT_ASSERT(kk_queue_enqueue(q, "r/s"));
    kk_queue_wait_idle(q); /* the parent ran and woke the child, which ran */
    KT_ASSERT_EQ(atomic_load(&f.child_done), 1);
    KT_ASSERT_EQ(atomic_load(&f.child_runs), 2);
    KT_ASSERT_EQ(atomic_load(&f.other_runs), 1); /* a sibling prefix is no child */
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.parked, 1);

    KT_ASSERT_EQ(kk_queue_wake_children(q, "r"), 1); /* explicit wake */
    kk_queue_wait_idle(q);
    KT_ASSERT_EQ(atomic_load(&f.other_runs), 2);
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.parked, 1);
    kk_queue_forget(q, "r/sx/st/c");
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.parked, 0);
    KT_ASSERT_EQ(kk_queue_wake_children(q, "r"), 0);
}

/* --- shutdown ----------------------------------------------------------- */

struct stopper {
    struct gate gate, started_gate;
    atomic_int started, runs, late_runs;
    struct kk_queue *q;
    bool drain;
};

static int stopper_fn(void *ud, const char *key, unsigned attempt)
{
    struct stopper *s = ud;
    (void)attempt;
    if (atomic_fetch_add(&s->started, 1) == 0) {
        gate_open(&s->started_gate);
        gate_wait(&s->gate);
    }
    if (key[0] == 'k')
        atomic_fetch_add(&s->runs, 1);
    else if (strcmp(key, "late") == 0)
        atomic_fetch_add(&s->late_runs, 1);
    return KK_QUEUE_DONE;
}

static void *stop_thread(void *arg)
{
    struct stopper *s = arg;
    kk_queue_stop(s->q, s->drain);
    return NULL;
}

static void run_shutdown(bool drain, int want_runs)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct stopper s;
    s = (struct stopper){.gate = GATE_INIT, .started_gate = GATE_INIT, .drain = drain};
    struct kk_queue_config cfg = {
            .workers = 1, .clock = &fclock.clock, .fn = stopper_fn, .userdata = &s};
    clock_reset();
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    s.q = q;
    KT_ASSERT(kk_queue_enqueue(q, "k0"));
    gate_wait(&s.started_gate);
    for (int i = 1; i < 10; i++) {
        char key[3] = {'k', (char)('0' + i), 0};
        KT_ASSERT(kk_queue_enqueue(q, key));
    }
    KT_ASSERT(kk_queue_enqueue_after(q, "late", 10));
    pthread_t th;
    KT_ASSERT(pthread_create(&th, NULL, stop_thread, &s) == 0);
    kk_queue_wait_runs(q, UINT64_MAX); /* returns once the stopper stopped it */
    KT_ASSERT(!kk_queue_enqueue(q, "refused"));
    kk_fake_clock_advance(&fclock, 30); /* "late" is due now, but must not run */
    kk_queue_kick(q);
    gate_open(&s.gate);
    pthread_join(th, NULL);
    KT_ASSERT_EQ(atomic_load(&s.runs), want_runs);
    KT_ASSERT_EQ(atomic_load(&s.late_runs), 0); /* delayed keys are dropped */
    kk_queue_stop(q, true);                     /* idempotent */
}

KT_CASE(stop_with_drain_runs_what_was_queued)
{
    run_shutdown(true, 10);
}

KT_CASE(stop_without_drain_finishes_only_running)
{
    run_shutdown(false, 1);
}

static int noop_fn(void *ud, const char *key, unsigned attempt)
{
    (void)ud, (void)key, (void)attempt;
    return KK_QUEUE_DONE;
}

KT_CASE(config_and_key_limits)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_queue_config cfg = {.workers = 0, .fn = noop_fn};
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT(kk_queue_new(&cfg, &q, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    kk_error_freep(&err);
    cfg.workers = 1;
    cfg.fn = NULL;
    KT_ASSERT(kk_queue_new(&cfg, &q, &err) < 0);
    kk_error_freep(&err);
    cfg.fn = noop_fn;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    char big[KK_QUEUE_KEY_MAX + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    KT_ASSERT(!kk_queue_enqueue(q, big));
    KT_ASSERT(!kk_queue_enqueue(q, ""));
    KT_ASSERT(!kk_queue_enqueue(q, NULL));
    big[KK_QUEUE_KEY_MAX] = '\0';
    KT_ASSERT(kk_queue_enqueue(q, big));
}

struct periodic {
    struct kk_queue *q;
    atomic_int runs;
    uint64_t at[3];
};

static int periodic_fn(void *ud, const char *key, unsigned attempt)
{
    struct periodic *p = ud;
    (void)attempt;
    int n = atomic_load(&p->runs);
    if (n < 3)
        p->at[n] = now_ms();
    if (n < 2)
        kk_queue_enqueue_after(p->q, key, 50); /* from inside its own run */
    atomic_fetch_add(&p->runs, 1);
    return KK_QUEUE_DONE;
}

KT_CASE(enqueue_after_from_own_handler_reschedules)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct periodic p;
    struct kk_queue_config cfg = {
            .workers = 3, .clock = &fclock.clock, .fn = periodic_fn, .userdata = &p};
    clock_reset();
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    p.q = q;
    KT_ASSERT(kk_queue_enqueue(q, "resync"));
    kk_queue_wait_idle(q);
    for (int i = 1; i < 3; i++) {
        advance(q, 49);
        KT_ASSERT_EQ(atomic_load(&p.runs), i);
        advance(q, 1);
        KT_ASSERT_EQ(atomic_load(&p.runs), i + 1);
    }
    for (int i = 0; i < 2; i++)
        KT_ASSERT_MSG(p.at[i + 1] - p.at[i] == 50, "gap %llu",
                      (unsigned long long)(p.at[i + 1] - p.at[i]));
    advance(q, 120);
    KT_ASSERT_EQ(atomic_load(&p.runs), 3);
}

struct race {
    struct gate child_looked, parent_done;
    atomic_bool parent_ready;
    atomic_int child_runs, child_done;
};

static int race_fn(void *ud, const char *key, unsigned attempt)
{
    struct race *r = ud;
    (void)attempt;
    if (strcmp(key, "r") == 0) {
        atomic_store(&r->parent_ready, true);
        return KK_QUEUE_DONE;
    }
    bool ready = atomic_load(&r->parent_ready);
    if (atomic_fetch_add(&r->child_runs, 1) == 0) {
        gate_open(&r->child_looked);
        gate_wait(&r->parent_done); /* the parent finishes while we decide */
    }
    if (!ready)
        return KK_QUEUE_PARK;
    atomic_fetch_add(&r->child_done, 1);
    return KK_QUEUE_DONE;
}

KT_CASE(no_lost_wakeup_when_parent_finishes_while_child_decides)
{
    _cleanup_error_ kk_error *err = NULL;
    static struct race r = {.child_looked = GATE_INIT, .parent_done = GATE_INIT};
    struct kk_queue_config cfg = {.workers = 2, .fn = race_fn, .userdata = &r};
    _cleanup_queue_ struct kk_queue *q = NULL;
    KT_ASSERT_OK(kk_queue_new(&cfg, &q, &err), &err);
    KT_ASSERT(kk_queue_enqueue(q, "r/s"));
    gate_wait(&r.child_looked); /* the child saw "not ready" */
    KT_ASSERT(kk_queue_enqueue(q, "r"));
    kk_queue_wait_runs(q, 1); /* until the parent's run is over */
    struct kk_queue_stats st;
    kk_queue_get_stats(q, &st);
    KT_ASSERT_EQ(st.runs, 1);
    gate_open(&r.parent_done); /* the child now returns PARK on a stale view */
    kk_queue_wait_runs(q, 3);
    kk_queue_wait_idle(q);
    KT_ASSERT_EQ(atomic_load(&r.child_done), 1);
    KT_ASSERT_EQ(atomic_load(&r.child_runs), 2);
}
