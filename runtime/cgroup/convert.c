/* Unit conversions between cgroup v1 and v2, and checks of user limits. */
#include "runtime/cgroup/cg-internal.h"

#include <string.h>

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ceil(a * num / den) without overflow for our small ranges. */
static uint64_t mul_div_ceil(uint64_t a, uint64_t num, uint64_t den)
{
    return (a * num + den - 1) / den;
}

uint64_t kk_cg_shares_to_weight(uint64_t shares)
{
    shares = clamp(shares, 2, 262144);
    return 1 + (shares - 2) * 9999 / 262142;
}

uint64_t kk_cg_weight_to_shares(uint64_t weight)
{
    weight = clamp(weight, 1, 10000);
    return 2 + mul_div_ceil(weight - 1, 262142, 9999);
}

uint64_t kk_cg_blkio_to_io_weight(uint64_t blkio)
{
    blkio = clamp(blkio, 10, 1000);
    return 1 + (blkio - 10) * 9999 / 990;
}

uint64_t kk_cg_io_weight_to_blkio(uint64_t weight)
{
    weight = clamp(weight, 1, 10000);
    return 10 + mul_div_ceil(weight - 1, 990, 9999);
}

/* "0-3,6,8-9": what cpuset.cpus / cpuset.mems accept, bounded. */
static int check_cpuset(const char *what, const char *s, kk_error **err)
{
    size_t len = strnlen(s, KK_CG_CPUSET_LEN);
    if (len == KK_CG_CPUSET_LEN)
        return kk_error_set(err, KK_E_INVALID, "%s: longer than %d bytes", what,
                            KK_CG_CPUSET_LEN - 1);
    bool want_digit = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            want_digit = false;
            continue;
        }
        if ((c != ',' && c != '-') || want_digit)
            return kk_error_set(err, KK_E_INVALID, "%s \"%s\": not a list like 0-3,6", what, s);
        want_digit = true;
    }
    if (len > 0 && want_digit)
        return kk_error_set(err, KK_E_INVALID, "%s \"%s\": not a list like 0-3,6", what, s);
    return 0;
}

int kk_cg_resources_check(const struct kk_cg_resources *res, kk_error **err)
{
    if (res->cpu_weight && res->cpu_weight > 10000)
        return kk_error_set(err, KK_E_INVALID, "cpu weight %ju: not in 1..10000",
                            (uintmax_t)res->cpu_weight);
    if (res->cpu_period_us && (res->cpu_period_us < 1000 || res->cpu_period_us > 1000000))
        return kk_error_set(err, KK_E_INVALID, "cpu period %juus: not in 1000..1000000",
                            (uintmax_t)res->cpu_period_us);
    if (res->cpu_quota_us && res->cpu_quota_us != KK_CG_MAX && res->cpu_quota_us < 1000)
        return kk_error_set(err, KK_E_INVALID, "cpu quota %juus: below 1000us",
                            (uintmax_t)res->cpu_quota_us);
    if (check_cpuset("cpuset cpus", res->cpuset_cpus, err) < 0 ||
        check_cpuset("cpuset mems", res->cpuset_mems, err) < 0)
        return -1;
    if (res->io_weight && res->io_weight > 10000)
        return kk_error_set(err, KK_E_INVALID, "io weight %ju: not in 1..10000",
                            (uintmax_t)res->io_weight);
    if (res->n_io_throttle > KK_CG_IO_THROTTLE_MAX)
        return kk_error_set(err, KK_E_INVALID, "%zu io throttles: at most %d", res->n_io_throttle,
                            KK_CG_IO_THROTTLE_MAX);
    for (size_t i = 0; i < res->n_io_throttle; i++) {
        const struct kk_cg_io_throttle *t = &res->io_throttle[i];
        if (t->type < KK_CG_IO_RBPS || t->type > KK_CG_IO_WIOPS)
            return kk_error_set(err, KK_E_INVALID, "io throttle %zu: unknown type %d", i,
                                (int)t->type);
        if (t->rate == 0)
            return kk_error_set(err, KK_E_INVALID,
                                "io throttle %u:%u: rate 0 (use KK_CG_MAX to lift a limit)",
                                t->major, t->minor);
    }
    return 0;
}

unsigned cg_resources_needs(const struct kk_cg_resources *res)
{
    unsigned need = 0;
    if (res->cpu_weight || res->cpu_quota_us || res->cpu_period_us)
        need |= KK_CG_CPU;
    if (res->cpuset_cpus[0] || res->cpuset_mems[0])
        need |= KK_CG_CPUSET;
    if (res->memory_max || res->memory_high || res->swap_max)
        need |= KK_CG_MEMORY;
    if (res->io_weight || res->n_io_throttle)
        need |= KK_CG_IO;
    if (res->pids_max)
        need |= KK_CG_PIDS;
    return need;
}
