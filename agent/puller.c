#include "agent/puller.h"

#include <pthread.h>
#include <string.h>

#include "fsapi/clock.h"
#include "fsapi/log.h"

/* The table, p->pulls, is read and changed under p->lock, but for one
 * thing: a running pull's thread reads its own entry's ns, ref, policy and
 * creds unlocked. That is safe because a running entry is neither freed
 * (trim keeps it) nor restarted (kk_puller_need starts only the others),
 * and kk_puller_free waits for every thread. trim frees entries: nobody
 * holds a pointer into the table across it. */
enum pull_state { PULL_IDLE = 0, PULL_RUNNING, PULL_OK, PULL_FAILED };

struct pull {
    struct pull *next;
    char *ns, *ref;
    enum pull_state state;
    enum kk_pull_policy policy;
    kk_error *err; /* PULL_FAILED: why */
    int64_t done_ms;
    unsigned failures;      /* consecutive failed pulls */
    int64_t hold_ms;        /* PULL_FAILED: how long after done_ms it is held */
    int64_t took_ms;        /* PULL_OK: how long the last pull took */
    bool pulled;            /* PULL_OK: bytes came from the registry */
    struct kk_strv waiters; /* keys to wake when the pull ends */
    struct kk_registry_credential *creds;
    size_t n_creds;
    struct kk_puller *p;
};

struct kk_puller {
    const struct kk_registry_ops *ops;
    void *self;
    struct kk_ctd *ctd;
    kk_puller_wake_fn wake;
    void *userdata;
    const struct kk_clock *clock; /* NULL: the system's */
    pthread_mutex_t lock;
    pthread_cond_t idle; /* signalled when `running` drops */
    struct pull *pulls;
    size_t n_pulls;
    unsigned running;
};

static void creds_free(struct kk_registry_credential *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].username);
        free(c[i].password);
        free(c[i].password_file);
        free(c[i].server_address);
    }
    free(c);
}

static char *dup_or_null(const char *s)
{
    return s ? kk_xstrdup(s) : NULL;
}

static void set_creds(struct pull *e, const struct kk_registry_credential *c, size_t n)
{
    creds_free(e->creds, e->n_creds);
    e->creds = n ? kk_xcalloc(n, sizeof(*e->creds)) : NULL;
    e->n_creds = n;
    for (size_t i = 0; i < n; i++)
        e->creds[i] = (struct kk_registry_credential){
                .username = dup_or_null(c[i].username),
                .password = dup_or_null(c[i].password),
                .password_file = dup_or_null(c[i].password_file),
                .server_address = dup_or_null(c[i].server_address),
        };
}

static void pull_free(struct pull *e)
{
    free(e->ns);
    free(e->ref);
    kk_error_free(e->err);
    kk_strv_release(&e->waiters);
    creds_free(e->creds, e->n_creds);
    free(e);
}

static void add_waiter(struct pull *e, const char *key)
{
    for (size_t i = 0; i < e->waiters.n; i++)
        if (strcmp(e->waiters.v[i], key) == 0)
            return;
    kk_strv_push(&e->waiters, key);
}

/* The hold after the nth consecutive failure: KK_PULLER_FAIL_HOLD_MS,
 * doubled with each further failure, at most KK_PULLER_FAIL_HOLD_MAX_MS. */
static int64_t hold_of(unsigned failures)
{
    int64_t hold = KK_PULLER_FAIL_HOLD_MS;
    for (unsigned i = 1; i < failures && hold < KK_PULLER_FAIL_HOLD_MAX_MS; i++)
        hold *= 2;
    return hold < KK_PULLER_FAIL_HOLD_MAX_MS ? hold : KK_PULLER_FAIL_HOLD_MAX_MS;
}

static void *pull_thread(void *arg)
{
    struct pull *e = arg;
    struct kk_puller *p = e->p;
    struct kk_registry_pull_opts opts = {.credentials = e->creds, .n_credentials = e->n_creds};
    kk_error *err = NULL;
    bool pulled = false;
    enum kk_pull_policy policy =
            e->policy == KK_PULL_ALWAYS ? KK_PULL_ALWAYS : KK_PULL_IF_NOT_PRESENT;
    int64_t start = kk_clock_mono_ms(p->clock);
    int r = p->ops->ensure_image(p->self, p->ctd, e->ns, e->ref, policy, &opts, &pulled, &err);
    int64_t took = kk_clock_mono_ms(p->clock) - start;

    pthread_mutex_lock(&p->lock);
    /* One line per attempt: a failure says when the next one is. */
    if (r < 0) {
        e->failures++;
        e->hold_ms = hold_of(e->failures);
        kk_log_warn("image %s in %s: pull failed (attempt %u): %s; next attempt in %lld s", e->ref,
                    e->ns, e->failures, err->message, (long long)(e->hold_ms + 999) / 1000);
    } else {
        e->failures = 0;
        e->took_ms = took;
        e->pulled = pulled;
        if (pulled)
            kk_log_info("image %s in %s: pulled (%lld ms)", e->ref, e->ns, (long long)took);
        else
            kk_log_debug("image %s in %s: present", e->ref, e->ns);
    }
    e->state = r < 0 ? PULL_FAILED : PULL_OK;
    kk_error_free(e->err);
    e->err = r < 0 ? err : NULL;
    if (r >= 0)
        kk_error_free(err);
    e->done_ms = kk_clock_mono_ms(p->clock);
    struct kk_strv waiters = e->waiters;
    e->waiters = (struct kk_strv){0};
    pthread_mutex_unlock(&p->lock);

    for (size_t i = 0; i < waiters.n; i++)
        p->wake(p->userdata, waiters.v[i]);
    kk_strv_release(&waiters);

    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Forgets the finished pulls that ended longest ago until at most `max`
 * are remembered (p->lock held). Running pulls stay: their threads use
 * their entries. Frees entries: the caller holds no pointer into the table
 * across it. */
static void trim(struct kk_puller *p, size_t max)
{
    while (p->n_pulls > max) {
        struct pull **oldest = NULL;
        /* Newest first: on a tie, the later one was added earlier. */
        for (struct pull **pp = &p->pulls; *pp; pp = &(*pp)->next)
            if ((*pp)->state != PULL_RUNNING && (!oldest || (*pp)->done_ms <= (*oldest)->done_ms))
                oldest = pp;
        if (!oldest)
            return;
        struct pull *e = *oldest;
        *oldest = e->next;
        pull_free(e);
        p->n_pulls--;
    }
}

/* Starts (or restarts) the pull of e (p->lock held). */
static int start(struct kk_puller *p, struct pull *e, enum kk_pull_policy policy,
                 const struct kk_registry_credential *creds, size_t n_creds, kk_error **err)
{
    pthread_attr_t attr;
    pthread_t t;
    e->state = PULL_RUNNING;
    e->policy = policy;
    set_creds(e, creds, n_creds);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&t, &attr, pull_thread, e);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        e->state = PULL_FAILED;
        e->done_ms = kk_clock_mono_ms(p->clock);
        e->hold_ms = KK_PULLER_FAIL_HOLD_MS;
        kk_error_errnum(&e->err, r, "start a pull thread");
        return kk_error_errnum(err, r, "pull image %s: start a thread", e->ref);
    }
    p->running++;
    return 0;
}

int kk_puller_need(struct kk_puller *p, const char *ns, const char *ref, enum kk_pull_policy policy,
                   const struct kk_registry_credential *creds, size_t n_creds, const char *key,
                   kk_error **err)
{
    pthread_mutex_lock(&p->lock);
    struct pull *e = p->pulls;
    while (e && (strcmp(e->ns, ns) != 0 || strcmp(e->ref, ref) != 0))
        e = e->next;
    int64_t now = kk_clock_mono_ms(p->clock);
    if (e && e->state == PULL_OK &&
        (policy != KK_PULL_ALWAYS || now - e->done_ms < KK_PULLER_ALWAYS_FRESH_MS)) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    if (e && e->state == PULL_FAILED && now - e->done_ms < e->hold_ms) {
        kk_error_set(err, e->err ? e->err->code : KK_E_UNKNOWN, "%s",
                     e->err ? e->err->message : "pull failed");
        kk_error_reason(err, e->err && e->err->reason ? e->err->reason : "ImagePullFailed");
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    if (!e) {
        /* Room first, then the new entry: trim cannot free what it does
         * not see. */
        trim(p, KK_PULLER_MAX_ENTRIES - 1);
        e = kk_xcalloc(1, sizeof(*e));
        e->ns = kk_xstrdup(ns);
        e->ref = kk_xstrdup(ref);
        e->p = p;
        e->next = p->pulls;
        p->pulls = e;
        p->n_pulls++;
    }
    add_waiter(e, key);
    if (e->state != PULL_RUNNING && start(p, e, policy, creds, n_creds, err) < 0) {
        pthread_mutex_unlock(&p->lock);
        return kk_error_reason(err, "ImagePullFailed");
    }
    pthread_mutex_unlock(&p->lock);
    kk_error_set(err, KK_E_UNAVAILABLE, "pulling image %s", ref);
    return kk_error_reason(err, "PullingImage");
}

/* The entry of (ns, ref), or NULL (p->lock held). */
static struct pull *find(struct kk_puller *p, const char *ns, const char *ref)
{
    struct pull *e = p->pulls;
    while (e && (strcmp(e->ns, ns) != 0 || strcmp(e->ref, ref) != 0))
        e = e->next;
    return e;
}

unsigned kk_puller_retry_in_ms(struct kk_puller *p, const char *ns, const char *ref)
{
    pthread_mutex_lock(&p->lock);
    struct pull *e = find(p, ns, ref);
    int64_t left = 0;
    if (e && e->state == PULL_FAILED)
        left = e->done_ms + e->hold_ms - kk_clock_mono_ms(p->clock);
    pthread_mutex_unlock(&p->lock);
    return left > 0 ? (unsigned)left : 0;
}

int kk_puller_last_pull(struct kk_puller *p, const char *ns, const char *ref, int64_t *took_ms)
{
    pthread_mutex_lock(&p->lock);
    struct pull *e = find(p, ns, ref);
    int r = e && e->state == PULL_OK ? (e->pulled ? 1 : 0) : -1;
    if (r >= 0)
        *took_ms = e->took_ms;
    pthread_mutex_unlock(&p->lock);
    return r;
}

struct kk_puller *kk_puller_new(const struct kk_registry_ops *ops, void *self, struct kk_ctd *ctd,
                                kk_puller_wake_fn wake, void *userdata)
{
    struct kk_puller *p = kk_xcalloc(1, sizeof(*p));
    *p = (struct kk_puller){
            .ops = ops, .self = self, .ctd = ctd, .wake = wake, .userdata = userdata};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    return p;
}

void kk_puller_set_clock(struct kk_puller *p, const struct kk_clock *clock)
{
    p->clock = clock;
}

void kk_puller_free(struct kk_puller *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    while (p->running)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
    while (p->pulls) {
        struct pull *e = p->pulls;
        p->pulls = e->next;
        pull_free(e);
    }
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
