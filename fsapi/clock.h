/* Time: the one place that reads the system clocks, and an injectable clock
 * for code whose behaviour depends on time (the agent, the queue, backoffs),
 * so that unit tests advance time instead of sleeping.
 *
 *     int64_t t0 = kk_clock_mono_ms(NULL);        // the system clock
 *
 *     struct kk_fake_clock fc;
 *     kk_fake_clock_init(&fc, 1000, 1700000000LL * KK_NSEC_PER_SEC);
 *     obj->clock = &fc.clock;                      // as the object's clock
 *     kk_fake_clock_advance(&fc, 500);             // 500 ms later
 *
 * A NULL `const struct kk_clock *` everywhere means the system clock.
 * Monotonic time is CLOCK_MONOTONIC (for intervals, deadlines, backoffs);
 * real time is CLOCK_REALTIME in ns since the epoch (for timestamps that
 * are written out). Thread-safety: the system clock is; a fake clock is
 * read atomically and may be advanced from any thread.
 */
#ifndef KUKEON_CLOCK_H
#define KUKEON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define KK_NSEC_PER_SEC  1000000000LL
#define KK_NSEC_PER_MSEC 1000000LL

struct kk_clock {
    int64_t (*mono_ns)(const struct kk_clock *c);
    int64_t (*real_ns)(const struct kk_clock *c);
};

/* The system's clocks. */
extern const struct kk_clock kk_clock_system;

int64_t kk_clock_mono_ns(const struct kk_clock *c);
int64_t kk_clock_mono_ms(const struct kk_clock *c);
int64_t kk_clock_real_ns(const struct kk_clock *c);

/* A timespec for CLOCK_MONOTONIC `ms` milliseconds from now on the system
 * clock (pthread_cond_timedwait with a CLOCK_MONOTONIC condattr). */
struct timespec kk_mono_deadline_ms(int64_t ms);
/* ns as a timespec. */
struct timespec kk_ns_to_timespec(int64_t ns);

/* A clock that moves only when told to. */
struct kk_fake_clock {
    struct kk_clock clock; /* first: a struct kk_clock * points at it */
    int64_t mono_ns;       /* read and written atomically */
    int64_t real_ns;
};

void kk_fake_clock_init(struct kk_fake_clock *fc, int64_t mono_ms, int64_t real_ns);
/* Moves both clocks forward by ms. */
void kk_fake_clock_advance(struct kk_fake_clock *fc, int64_t ms);

#endif
