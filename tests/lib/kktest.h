/* A minimal test harness. Each test binary holds several cases:
 *
 *     KT_CASE(parses_hello_world) {
 *         KT_ASSERT(load(...) == 0);
 *         KT_ASSERT_STREQ(cell->id, "hello-world");
 *     }
 *
 * A failed assertion reports file:line and ends the case (it returns from
 * the case function, so _cleanup_ variables are released). Each case prints
 * one line, "PASS: <binary>/<case>" or "FAIL: <binary>/<case>: <why>", which
 * tests/run.sh counts. `test-foo case1 case2` runs only the named cases.
 *
 * Root tests call KT_REQUIRE_ROOT() first: without root they FAIL (CI runs as
 * root; a silently skipped test is a test that cannot fail).
 */
#ifndef KUKEON_KKTEST_H
#define KUKEON_KKTEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef void (*kt_fn)(void);
void kt_register(const char *name, kt_fn fn);
void kt_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
bool kt_failed(void);
/* A per-case scratch directory, created on first use, removed after the case. */
const char *kt_tmpdir(void);
/* Fixtures that must run after every case whatever happened (e.g. stop a
 * daemon): registered once, run at exit and on fatal signals. */
void kt_atexit(void (*fn)(void));

#define KT_CASE(name)                                                                              \
    static void kt_case_##name(void);                                                              \
    __attribute__((constructor)) static void kt_reg_##name(void)                                   \
    {                                                                                              \
        kt_register(#name, kt_case_##name);                                                        \
    }                                                                                              \
    static void kt_case_##name(void)

#define KT_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            kt_fail(__FILE__, __LINE__, "assertion failed: %s", #cond);                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define KT_ASSERT_MSG(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            kt_fail(__FILE__, __LINE__, __VA_ARGS__);                                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define KT_ASSERT_EQ(a, b)                                                                         \
    do {                                                                                           \
        intmax_t kt_a = (intmax_t)(a), kt_b = (intmax_t)(b);                                       \
        if (kt_a != kt_b) {                                                                        \
            kt_fail(__FILE__, __LINE__, "%s == %s: %jd != %jd", #a, #b, kt_a, kt_b);               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define KT_ASSERT_STREQ(a, b)                                                                      \
    do {                                                                                           \
        const char *kt_a = (a), *kt_b = (b);                                                       \
        if (!kt_a || !kt_b || strcmp(kt_a, kt_b) != 0) {                                           \
            kt_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                      \
                    kt_a ? kt_a : "(null)", kt_b ? kt_b : "(null)");                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Asserts that a kk_error-returning call succeeded, printing the error. */
#define KT_ASSERT_OK(call, errp)                                                                   \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            kt_fail(__FILE__, __LINE__, "%s: %s", #call,                                           \
                    *(errp) ? (*(errp))->message : "(no error set)");                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define KT_REQUIRE_ROOT()                                                                          \
    do {                                                                                           \
        if (geteuid() != 0) {                                                                      \
            kt_fail(__FILE__, __LINE__, "this test needs root");                                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
