/* cgroup v1 resources: each limit in its controller's hierarchy, in v1's
 * files and units (cpu.shares, cfs quota, memsw, blkio, ...). */
#include "runtime/cgroup/cg-internal.h"

#include <inttypes.h>
#include <string.h>

/* v1 reports "unlimited" as the largest page-aligned counter value
 * (9223372036854771712 on 4 KiB pages) rather than -1. */
#define V1_UNLIMITED_FROM (UINT64_C(1) << 62)

static const char *const throttle_files[] = {
        [KK_CG_IO_RBPS] = "blkio.throttle.read_bps_device",
        [KK_CG_IO_WBPS] = "blkio.throttle.write_bps_device",
        [KK_CG_IO_RIOPS] = "blkio.throttle.read_iops_device",
        [KK_CG_IO_WIOPS] = "blkio.throttle.write_iops_device",
};

/* Opens rel in the hierarchy of `controller`; *what names it for errors. */
static int open_in(struct kk_cg *cg, unsigned controller, const char *rel, char **what,
                   kk_error **err)
{
    struct cg_real *r = cg_real(cg);
    for (size_t i = 0; i < r->n_hiers; i++) {
        if (!(r->hiers[i].controllers & controller))
            continue;
        *what = cg_describe(&r->hiers[i], rel);
        int fd = cg_open_dir(r->hiers[i].fd, rel, err);
        if (fd < 0)
            return kk_error_wrap(err, "cgroup %s", *what);
        return fd;
    }
    kk_error_set(err, KK_E_PRECONDITION, "cgroup v1: no %s hierarchy mounted",
                 kk_cg_controller_name(controller, KK_CG_MODE_V1));
    return kk_error_reason(err, "CgroupControllersMissing");
}

static int apply_cpu(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    if (res->cpu_weight &&
        cg_write_u64(fd, "cpu.shares", kk_cg_weight_to_shares(res->cpu_weight), true, err) < 0)
        return -1;
    if (!res->cpu_period_us)
        return res->cpu_quota_us
                       ? cg_write_u64(fd, "cpu.cfs_quota_us", res->cpu_quota_us, true, err)
                       : 0;
    /* The kernel checks quota against period at each write: write the
     * period first, and if the old quota forbids it, the quota first. */
    _cleanup_error_ kk_error *first = NULL;
    if (cg_write_u64(fd, "cpu.cfs_period_us", res->cpu_period_us, true, &first) == 0)
        return res->cpu_quota_us
                       ? cg_write_u64(fd, "cpu.cfs_quota_us", res->cpu_quota_us, true, err)
                       : 0;
    if (first->sys_errno != EINVAL || !res->cpu_quota_us) {
        *err = TAKE_PTR(first);
        return -1;
    }
    if (cg_write_u64(fd, "cpu.cfs_quota_us", res->cpu_quota_us, true, err) < 0)
        return -1;
    return cg_write_u64(fd, "cpu.cfs_period_us", res->cpu_period_us, true, err);
}

static int apply_memory(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    if (res->swap_max) {
        if (!res->memory_max)
            return kk_error_set(err, KK_E_INVALID,
                                "a swap limit needs a memory limit on cgroup v1 "
                                "(memory.memsw.limit_in_bytes is memory + swap)");
        if (!cg_has_file(fd, "memory.memsw.limit_in_bytes"))
            return kk_error_set(err, KK_E_PRECONDITION,
                                "no memory.memsw.limit_in_bytes (kernel without swap "
                                "accounting, swapaccount=0)");
        uint64_t swap = res->swap_max == KK_CG_ZERO ? 0 : res->swap_max;
        uint64_t memsw = KK_CG_MAX;
        if (res->memory_max != KK_CG_MAX && swap != KK_CG_MAX) {
            if (swap > V1_UNLIMITED_FROM || res->memory_max > V1_UNLIMITED_FROM)
                return kk_error_set(err, KK_E_OUT_OF_RANGE, "memory + swap too large");
            memsw = res->memory_max + swap;
        }
        /* memsw may never be below the memory limit, at any moment: when
         * the limit grows, memsw goes first; when it shrinks, last. */
        uint64_t cur;
        if (cg_read_u64(fd, "memory.limit_in_bytes", &cur, err) < 0)
            return -1;
        bool grow = res->memory_max == KK_CG_MAX || res->memory_max > cur;
        if (grow && cg_write_u64(fd, "memory.memsw.limit_in_bytes", memsw, true, err) < 0)
            return -1;
        if (cg_write_u64(fd, "memory.limit_in_bytes", res->memory_max, true, err) < 0)
            return -1;
        if (!grow && cg_write_u64(fd, "memory.memsw.limit_in_bytes", memsw, true, err) < 0)
            return -1;
    } else if (res->memory_max) {
        /* No swap asked for: leave memsw, except that "no memory limit"
         * must lift it too (as runc does), or the kernel refuses. */
        bool memsw = cg_has_file(fd, "memory.memsw.limit_in_bytes");
        if (res->memory_max == KK_CG_MAX && memsw &&
            cg_write_u64(fd, "memory.memsw.limit_in_bytes", KK_CG_MAX, true, err) < 0)
            return -1;
        if (cg_write_u64(fd, "memory.limit_in_bytes", res->memory_max, true, err) < 0) {
            if ((*err)->sys_errno == EINVAL && memsw)
                return kk_error_wrap(err, "memory.memsw.limit_in_bytes is below the new "
                                          "limit: give a swap limit too");
            return -1;
        }
    }
    if (res->memory_high &&
        cg_write_u64(fd, "memory.soft_limit_in_bytes", res->memory_high, true, err) < 0)
        return -1;
    return 0;
}

static int apply_io(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    if (res->io_weight) {
        /* blkio.weight went with CFQ; BFQ offers blkio.bfq.weight instead. */
        const char *file = cg_has_file(fd, "blkio.weight")       ? "blkio.weight"
                           : cg_has_file(fd, "blkio.bfq.weight") ? "blkio.bfq.weight"
                                                                 : NULL;
        if (!file)
            return kk_error_set(err, KK_E_PRECONDITION,
                                "no blkio.weight nor blkio.bfq.weight (no proportional "
                                "I/O scheduler)");
        if (cg_write_u64(fd, file, kk_cg_io_weight_to_blkio(res->io_weight), true, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < res->n_io_throttle; i++) {
        const struct kk_cg_io_throttle *t = &res->io_throttle[i];
        char line[64];
        /* v1 lifts a device's limit with a rate of 0. */
        snprintf(line, sizeof(line), "%u:%u %" PRIu64, t->major, t->minor,
                 t->rate == KK_CG_MAX ? 0 : t->rate);
        if (cg_write_file(fd, throttle_files[t->type], line, err) < 0)
            return -1;
    }
    return 0;
}

static int apply_cpuset(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    if (res->cpuset_cpus[0] && cg_write_file(fd, "cpuset.cpus", res->cpuset_cpus, err) < 0)
        return -1;
    if (res->cpuset_mems[0] && cg_write_file(fd, "cpuset.mems", res->cpuset_mems, err) < 0)
        return -1;
    return 0;
}

static int apply_pids(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    /* pids.max says "max", not -1, even in v1. */
    return cg_write_u64(fd, "pids.max", res->pids_max, false, err);
}

int cg_v1_apply(struct kk_cg *cg, const struct kk_cg_ref *ref, const struct kk_cg_resources *res,
                kk_error **err)
{
    static const struct {
        unsigned controller;
        int (*apply)(int fd, const struct kk_cg_resources *res, kk_error **err);
    } steps[] = {
            {KK_CG_CPU, apply_cpu}, {KK_CG_CPUSET, apply_cpuset}, {KK_CG_MEMORY, apply_memory},
            {KK_CG_IO, apply_io},   {KK_CG_PIDS, apply_pids},
    };
    _cleanup_free_ char *rel = NULL;
    if (kk_cg_resources_check(res, err) < 0 || cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    unsigned need = cg_resources_needs(res);
    for (size_t i = 0; i < KK_ARRAY_SIZE(steps); i++) {
        if (!(need & steps[i].controller))
            continue;
        _cleanup_free_ char *what = NULL;
        _cleanup_close_ int fd = open_in(cg, steps[i].controller, rel, &what, err);
        if (fd < 0)
            return -1;
        if (steps[i].apply(fd, res, err) < 0)
            return kk_error_wrap(err, "cgroup %s", what);
    }
    return 0;
}

static int read_u64(int fd, const char *file, uint64_t *out, kk_error **err)
{
    if (!cg_has_file(fd, file))
        return 0;
    if (cg_read_u64(fd, file, out, err) < 0)
        return -1;
    if (*out >= V1_UNLIMITED_FROM)
        *out = KK_CG_MAX;
    return 0;
}

static int read_str(int fd, const char *file, char *out, size_t size, kk_error **err)
{
    _cleanup_free_ char *s = NULL;
    if (cg_read_file(fd, file, &s, err) < 0)
        return -1;
    snprintf(out, size, "%s", s);
    return 0;
}

static int read_cpu(int fd, struct kk_cg_resources *res, kk_error **err)
{
    uint64_t shares = 0;
    if (read_u64(fd, "cpu.shares", &shares, err) < 0 ||
        read_u64(fd, "cpu.cfs_quota_us", &res->cpu_quota_us, err) < 0 ||
        read_u64(fd, "cpu.cfs_period_us", &res->cpu_period_us, err) < 0)
        return -1;
    if (shares)
        res->cpu_weight = kk_cg_shares_to_weight(shares);
    return 0;
}

static int read_cpuset(int fd, struct kk_cg_resources *res, kk_error **err)
{
    if (read_str(fd, "cpuset.cpus", res->cpuset_cpus, sizeof(res->cpuset_cpus), err) < 0)
        return -1;
    return read_str(fd, "cpuset.mems", res->cpuset_mems, sizeof(res->cpuset_mems), err);
}

static int read_memory(int fd, struct kk_cg_resources *res, kk_error **err)
{
    uint64_t memsw = 0;
    if (read_u64(fd, "memory.limit_in_bytes", &res->memory_max, err) < 0 ||
        read_u64(fd, "memory.soft_limit_in_bytes", &res->memory_high, err) < 0 ||
        read_u64(fd, "memory.memsw.limit_in_bytes", &memsw, err) < 0)
        return -1;
    if (memsw == KK_CG_MAX || res->memory_max == KK_CG_MAX)
        res->swap_max = memsw ? KK_CG_MAX : 0;
    else if (memsw)
        res->swap_max = memsw > res->memory_max ? memsw - res->memory_max : KK_CG_ZERO;
    return 0;
}

static int read_io(int fd, struct kk_cg_resources *res, kk_error **err)
{
    uint64_t w = 0;
    if (read_u64(fd, cg_has_file(fd, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight", &w,
                 err) < 0)
        return -1;
    if (w)
        res->io_weight = kk_cg_blkio_to_io_weight(w);
    for (int t = KK_CG_IO_RBPS; t <= KK_CG_IO_WIOPS; t++) {
        _cleanup_free_ char *text = NULL;
        if (!cg_has_file(fd, throttle_files[t]))
            continue;
        if (cg_read_file(fd, throttle_files[t], &text, err) < 0)
            return -1;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            unsigned major, minor;
            unsigned long long rate;
            if (sscanf(line, "%u:%u %llu", &major, &minor, &rate) != 3 ||
                res->n_io_throttle == KK_CG_IO_THROTTLE_MAX)
                continue;
            res->io_throttle[res->n_io_throttle++] = (struct kk_cg_io_throttle){
                    .type = t, .major = major, .minor = minor, .rate = rate};
        }
    }
    return 0;
}

static int read_pids(int fd, struct kk_cg_resources *res, kk_error **err)
{
    return read_u64(fd, "pids.max", &res->pids_max, err);
}

int cg_v1_read(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_resources *res,
               kk_error **err)
{
    static const struct {
        unsigned controller;
        int (*read)(int fd, struct kk_cg_resources *res, kk_error **err);
    } steps[] = {
            {KK_CG_CPU, read_cpu}, {KK_CG_CPUSET, read_cpuset}, {KK_CG_MEMORY, read_memory},
            {KK_CG_IO, read_io},   {KK_CG_PIDS, read_pids},
    };
    *res = (struct kk_cg_resources){0};
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    for (size_t i = 0; i < KK_ARRAY_SIZE(steps); i++) {
        if (!(cg->available & steps[i].controller))
            continue;
        _cleanup_free_ char *what = NULL;
        _cleanup_close_ int fd = open_in(cg, steps[i].controller, rel, &what, err);
        if (fd < 0)
            return -1;
        if (steps[i].read(fd, res, err) < 0)
            return kk_error_wrap(err, "cgroup %s", what);
    }
    return 0;
}
