/* agent/puller against the registry fake: one pull per image however many
 * keys ask, wake-ups when it ends, failures held then retried (on a fake
 * clock), a bounded table. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/puller.h"
#include "fsapi/log.h"
#include "runtime/registry/fake.h"
#include "tests/lib/kktest.h"

#define IMG "docker.io/library/busybox:latest"
#define NS  "kukeon-t"

struct wakes {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct kk_strv keys;
};

static void on_wake(void *ud, const char *key)
{
    struct wakes *w = ud;
    pthread_mutex_lock(&w->lock);
    kk_strv_push(&w->keys, key);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Waits up to 5 s until `n` wake-ups arrived. */
static bool wait_wakes(struct wakes *w, size_t n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&w->lock);
    while (w->keys.n < n && pthread_cond_timedwait(&w->cond, &w->lock, &dl) == 0)
        ;
    bool ok = w->keys.n >= n;
    pthread_mutex_unlock(&w->lock);
    return ok;
}

static void wakes_release(struct wakes *w)
{
    kk_strv_release(&w->keys);
}

KT_CASE(one_pull_serves_every_key_and_wakes_them)
{
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    kk_registry_fake_add(f, IMG);
    _cleanup_(wakes_release) struct wakes w = {
            PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}};
    _cleanup_(kk_puller_freep) struct kk_puller *p =
            kk_puller_new(&kk_registry_fake_ops, f, NULL, on_wake, &w);
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "r/s/st/a", &e1), -1);
    KT_ASSERT_STREQ(e1->reason, "PullingImage");
    KT_ASSERT_EQ(e1->code, KK_E_UNAVAILABLE);
    int r2 = kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "r/s/st/b", &e2);
    KT_ASSERT(wait_wakes(&w, r2 < 0 ? 2 : 1));
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "r/s/st/a", &e3), 0);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 1);
    KT_ASSERT(kk_registry_fake_present(f, NS, IMG));
    KT_ASSERT_STREQ(w.keys.v[0], "r/s/st/a");
}

KT_CASE(failure_is_reported_held_then_retried)
{
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    kk_registry_fake_add(f, IMG);
    kk_registry_fake_fail_next(f, 1, KK_E_UNAVAILABLE, "registry said no");
    _cleanup_(wakes_release) struct wakes w = {
            PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}};
    struct kk_fake_clock fc;
    kk_fake_clock_init(&fc, 1000, 1700000000LL * KK_NSEC_PER_SEC);
    _cleanup_(kk_puller_freep) struct kk_puller *p =
            kk_puller_new(&kk_registry_fake_ops, f, NULL, on_wake, &w);
    kk_puller_set_clock(p, &fc.clock);
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e3b = NULL, *e4 = NULL;
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e1), -1);
    KT_ASSERT(wait_wakes(&w, 1));
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e2), -1);
    KT_ASSERT_STREQ(e2->reason, "ImagePullFailed");
    KT_ASSERT_MSG(strstr(e2->message, "registry said no"), "%s", e2->message);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 1);
    /* Held: asking again at once does not hammer the registry. */
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e3), -1);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 1);
    kk_fake_clock_advance(&fc, KK_PULLER_FAIL_HOLD_MS - 1);
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e3b), -1);
    KT_ASSERT_STREQ(e3b->reason, "ImagePullFailed");
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 1);
    kk_fake_clock_advance(&fc, 1); /* the hold is over */
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e4), -1);
    KT_ASSERT_STREQ(e4->reason, "PullingImage");
    KT_ASSERT(wait_wakes(&w, 2));
    _cleanup_error_ kk_error *e5 = NULL;
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e5), 0);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 2);
}

KT_CASE(missing_image_fails_with_registry_message)
{
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    _cleanup_(wakes_release) struct wakes w = {
            PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}};
    _cleanup_(kk_puller_freep) struct kk_puller *p =
            kk_puller_new(&kk_registry_fake_ops, f, NULL, on_wake, &w);
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL;
    kk_puller_need(p, NS, "nope:1", KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e1);
    KT_ASSERT(wait_wakes(&w, 1));
    KT_ASSERT_EQ(kk_puller_need(p, NS, "nope:1", KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e2), -1);
    KT_ASSERT_STREQ(e2->reason, "ImagePullFailed");
}

KT_CASE(always_pulls_again_only_when_stale_and_copies_credentials)
{
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    kk_registry_fake_add(f, IMG);
    _cleanup_(wakes_release) struct wakes w = {
            PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}};
    _cleanup_(kk_puller_freep) struct kk_puller *p =
            kk_puller_new(&kk_registry_fake_ops, f, NULL, on_wake, &w);
    char user[] = "me", pass[] = "secret";
    struct kk_registry_credential cred = {.username = user, .password = pass};
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL;
    kk_puller_need(p, NS, IMG, KK_PULL_ALWAYS, &cred, 1, "k", &e1);
    memset(pass, 'x', sizeof(pass) - 1); /* the puller kept its own copy */
    KT_ASSERT(wait_wakes(&w, 1));
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_ALWAYS, &cred, 1, "k2", &e2), 0);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), 1);
}

/* Sets the log level; returns the previous one. */
static enum kk_log_level log_level_swap(enum kk_log_level l)
{
    enum kk_log_level old = kk_log_get_level();
    kk_log_set_level(l);
    return old;
}

static void log_level_restore(enum kk_log_level *l)
{
    kk_log_set_level(*l);
}

/* Asks for ref and waits for its pull to end (the n-th wake-up). */
static bool need_and_wait(struct kk_puller *p, struct wakes *w, const char *ref, const char *key,
                          size_t n)
{
    _cleanup_error_ kk_error *e = NULL;
    return kk_puller_need(p, NS, ref, KK_PULL_IF_NOT_PRESENT, NULL, 0, key, &e) == -1 &&
           strcmp(e->reason, "PullingImage") == 0 && wait_wakes(w, n);
}

static void missing_ref(char *buf, size_t size, unsigned i)
{
    snprintf(buf, size, "example.com/missing/img%u:1", i);
}

/* Issue "Hardening": at the 1,025th distinct image the table was full of
 * finished pulls and trim() freed the entry kk_puller_need had just added
 * (the newest, idle), which add_waiter() and the pull thread then used: a
 * heap use-after-free (a crash, or an ASan/valgrind error). The new entry
 * must survive, and the pulls that ended longest ago are the ones
 * forgotten. */
KT_CASE(table_full_of_finished_pulls_keeps_the_new_one)
{
    /* Not 1,024 "pull failed" warnings. */
    _cleanup_(log_level_restore) enum kk_log_level level = log_level_swap(KK_LOG_ERROR);
    (void)level; /* only restored */
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    kk_registry_fake_add(f, IMG);
    _cleanup_(wakes_release) struct wakes w = {
            PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}};
    struct kk_fake_clock fc;
    kk_fake_clock_init(&fc, 1000, 1700000000LL * KK_NSEC_PER_SEC);
    _cleanup_(kk_puller_freep) struct kk_puller *p =
            kk_puller_new(&kk_registry_fake_ops, f, NULL, on_wake, &w);
    kk_puller_set_clock(p, &fc.clock);
    /* A full table of failed pulls (images the registry lacks), one at a
     * time so that every one has ended, each a millisecond after the
     * previous one. The fake clock stays within every hold. */
    char ref[64];
    for (unsigned i = 0; i < KK_PULLER_MAX_ENTRIES; i++) {
        missing_ref(ref, sizeof(ref), i);
        KT_ASSERT_MSG(need_and_wait(p, &w, ref, "k", i + 1), "pull %u", i);
        kk_fake_clock_advance(&fc, 1);
    }
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), KK_PULLER_MAX_ENTRIES);

    /* One more distinct image: it is remembered, pulled once, woken. */
    KT_ASSERT(need_and_wait(p, &w, IMG, "last", KK_PULLER_MAX_ENTRIES + 1));
    KT_ASSERT_STREQ(w.keys.v[KK_PULLER_MAX_ENTRIES], "last");
    _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL;
    KT_ASSERT_EQ(kk_puller_need(p, NS, IMG, KK_PULL_IF_NOT_PRESENT, NULL, 0, "last", &e1), 0);
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), KK_PULLER_MAX_ENTRIES + 1);

    /* The most recent failure is still held (no new pull)... */
    missing_ref(ref, sizeof(ref), KK_PULLER_MAX_ENTRIES - 1);
    KT_ASSERT_EQ(kk_puller_need(p, NS, ref, KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e2), -1);
    KT_ASSERT_STREQ(e2->reason, "ImagePullFailed");
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), KK_PULLER_MAX_ENTRIES + 1);
    /* ...the oldest was forgotten: asking again pulls again. */
    missing_ref(ref, sizeof(ref), 0);
    KT_ASSERT(need_and_wait(p, &w, ref, "k", KK_PULLER_MAX_ENTRIES + 2));
    KT_ASSERT_EQ(kk_registry_fake_pulls(f), KK_PULLER_MAX_ENTRIES + 2);
}

KT_CASE(failures_back_off_doubling_and_say_when)
{
    _cleanup_(kk_registry_fake_freep) struct kk_registry_fake *f = kk_registry_fake_new();
    _cleanup_(wakes_release) struct wakes w = {
            PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}};
    struct kk_fake_clock fc;
    kk_fake_clock_init(&fc, 1000, 1700000000LL * KK_NSEC_PER_SEC);
    _cleanup_(kk_puller_freep) struct kk_puller *p =
            kk_puller_new(&kk_registry_fake_ops, f, NULL, on_wake, &w);
    kk_puller_set_clock(p, &fc.clock);
    KT_ASSERT_EQ(kk_puller_retry_in_ms(p, NS, "nope:1"), 0); /* never asked */
    int64_t hold = KK_PULLER_FAIL_HOLD_MS;
    for (unsigned i = 1; i <= 3; i++, hold *= 2) {
        _cleanup_error_ kk_error *e1 = NULL, *e2 = NULL;
        KT_ASSERT_EQ(kk_puller_need(p, NS, "nope:1", KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e1),
                     -1);
        KT_ASSERT_STREQ(e1->reason, "PullingImage");
        KT_ASSERT(wait_wakes(&w, i));
        KT_ASSERT_EQ(kk_registry_fake_pulls(f), i);
        /* Failure n is held FAIL_HOLD_MS * 2^(n-1), and says so. */
        KT_ASSERT_EQ(kk_puller_retry_in_ms(p, NS, "nope:1"), hold);
        kk_fake_clock_advance(&fc, hold - 1);
        KT_ASSERT_EQ(kk_puller_need(p, NS, "nope:1", KK_PULL_IF_NOT_PRESENT, NULL, 0, "k", &e2),
                     -1);
        KT_ASSERT_STREQ(e2->reason, "ImagePullFailed");
        KT_ASSERT_EQ(kk_puller_retry_in_ms(p, NS, "nope:1"), 1);
        KT_ASSERT_EQ(kk_registry_fake_pulls(f), i);
        kk_fake_clock_advance(&fc, 1);
        KT_ASSERT_EQ(kk_puller_retry_in_ms(p, NS, "nope:1"), 0);
    }
    int64_t took = 0;
    KT_ASSERT_EQ(kk_puller_last_pull(p, NS, "nope:1", &took), -1); /* no success on record */
}
