#include "fsapi/clock.h"

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * KK_NSEC_PER_SEC + ts->tv_nsec;
}

static int64_t system_mono_ns(const struct kk_clock *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_ns(&ts);
}

static int64_t system_real_ns(const struct kk_clock *c)
{
    (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts_ns(&ts);
}

const struct kk_clock kk_clock_system = {
        .mono_ns = system_mono_ns,
        .real_ns = system_real_ns,
};

int64_t kk_clock_mono_ns(const struct kk_clock *c)
{
    return c ? c->mono_ns(c) : system_mono_ns(NULL);
}

int64_t kk_clock_mono_ms(const struct kk_clock *c)
{
    return kk_clock_mono_ns(c) / KK_NSEC_PER_MSEC;
}

int64_t kk_clock_real_ns(const struct kk_clock *c)
{
    return c ? c->real_ns(c) : system_real_ns(NULL);
}

struct timespec kk_ns_to_timespec(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / KK_NSEC_PER_SEC, .tv_nsec = ns % KK_NSEC_PER_SEC};
    return ts;
}

struct timespec kk_mono_deadline_ms(int64_t ms)
{
    return kk_ns_to_timespec(system_mono_ns(NULL) + ms * KK_NSEC_PER_MSEC);
}

static int64_t fake_mono_ns(const struct kk_clock *c)
{
    const struct kk_fake_clock *fc = (const struct kk_fake_clock *)c;
    return __atomic_load_n(&fc->mono_ns, __ATOMIC_SEQ_CST);
}

static int64_t fake_real_ns(const struct kk_clock *c)
{
    const struct kk_fake_clock *fc = (const struct kk_fake_clock *)c;
    return __atomic_load_n(&fc->real_ns, __ATOMIC_SEQ_CST);
}

void kk_fake_clock_init(struct kk_fake_clock *fc, int64_t mono_ms, int64_t real_ns)
{
    fc->clock.mono_ns = fake_mono_ns;
    fc->clock.real_ns = fake_real_ns;
    fc->mono_ns = mono_ms * KK_NSEC_PER_MSEC;
    fc->real_ns = real_ns;
}

void kk_fake_clock_advance(struct kk_fake_clock *fc, int64_t ms)
{
    __atomic_add_fetch(&fc->mono_ns, ms * KK_NSEC_PER_MSEC, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&fc->real_ns, ms * KK_NSEC_PER_MSEC, __ATOMIC_SEQ_CST);
}
