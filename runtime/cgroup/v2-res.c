/* cgroup v2 resources: cpu.*, cpuset.*, memory.*, io.*, pids.max. */
#include "runtime/cgroup/cg-internal.h"

#include <inttypes.h>
#include <string.h>

#include "fsapi/buf.h"

static const char *const io_keys[] = {
        [KK_CG_IO_RBPS] = "rbps",
        [KK_CG_IO_WBPS] = "wbps",
        [KK_CG_IO_RIOPS] = "riops",
        [KK_CG_IO_WIOPS] = "wiops",
};

static void fmt_u64(char *s, size_t size, uint64_t v)
{
    if (v == KK_CG_MAX)
        snprintf(s, size, "max");
    else
        snprintf(s, size, "%" PRIu64, v == KK_CG_ZERO ? 0 : v);
}

static int write_cpu_max(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    /* cpu.max is "QUOTA PERIOD"; keep the half we were not asked to change. */
    _cleanup_free_ char *cur = NULL;
    if (cg_read_file(fd, "cpu.max", &cur, err) < 0)
        return -1;
    char quota[32], period[32];
    if (sscanf(cur, "%31s %31s", quota, period) != 2)
        return kk_error_set(err, KK_E_DATA_LOSS, "cpu.max: \"%.40s\" unexpected", cur);
    if (res->cpu_quota_us)
        fmt_u64(quota, sizeof(quota), res->cpu_quota_us);
    if (res->cpu_period_us)
        fmt_u64(period, sizeof(period), res->cpu_period_us);
    char line[80];
    snprintf(line, sizeof(line), "%s %s", quota, period);
    return cg_write_file(fd, "cpu.max", line, err);
}

static int write_io_max(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    /* One line per device, with every key given for it. */
    bool done[KK_CG_IO_THROTTLE_MAX] = {false};
    for (size_t i = 0; i < res->n_io_throttle; i++) {
        if (done[i])
            continue;
        const struct kk_cg_io_throttle *t = &res->io_throttle[i];
        _cleanup_buf_ struct kk_buf line = KK_BUF_INIT;
        kk_buf_printf(&line, "%u:%u", t->major, t->minor);
        for (size_t j = i; j < res->n_io_throttle; j++) {
            const struct kk_cg_io_throttle *u = &res->io_throttle[j];
            if (u->major != t->major || u->minor != t->minor)
                continue;
            char v[32];
            fmt_u64(v, sizeof(v), u->rate);
            kk_buf_printf(&line, " %s=%s", io_keys[u->type], v);
            done[j] = true;
        }
        if (cg_write_file(fd, "io.max", kk_buf_str(&line), err) < 0)
            return -1;
    }
    return 0;
}

static int write_resources(int fd, const struct kk_cg_resources *res, kk_error **err)
{
    char v[32];
    if (res->cpu_weight && cg_write_u64(fd, "cpu.weight", res->cpu_weight, false, err) < 0)
        return -1;
    if ((res->cpu_quota_us || res->cpu_period_us) && write_cpu_max(fd, res, err) < 0)
        return -1;
    if (res->cpuset_cpus[0] && cg_write_file(fd, "cpuset.cpus", res->cpuset_cpus, err) < 0)
        return -1;
    if (res->cpuset_mems[0] && cg_write_file(fd, "cpuset.mems", res->cpuset_mems, err) < 0)
        return -1;
    if (res->memory_max && cg_write_u64(fd, "memory.max", res->memory_max, false, err) < 0)
        return -1;
    if (res->memory_high && cg_write_u64(fd, "memory.high", res->memory_high, false, err) < 0)
        return -1;
    if (res->swap_max) {
        if (!cg_has_file(fd, "memory.swap.max"))
            return kk_error_set(err, KK_E_PRECONDITION,
                                "no memory.swap.max (kernel without swap accounting)");
        fmt_u64(v, sizeof(v), res->swap_max);
        if (cg_write_file(fd, "memory.swap.max", v, err) < 0)
            return -1;
    }
    if (res->io_weight) {
        /* With BFQ only io.bfq.weight exists, on blkio's 1..1000 scale. */
        bool bfq = !cg_has_file(fd, "io.weight") && cg_has_file(fd, "io.bfq.weight");
        uint64_t w = bfq ? kk_cg_io_weight_to_blkio(res->io_weight) : res->io_weight;
        if (cg_write_u64(fd, bfq ? "io.bfq.weight" : "io.weight", w, false, err) < 0)
            return -1;
    }
    if (res->n_io_throttle && write_io_max(fd, res, err) < 0)
        return -1;
    if (res->pids_max && cg_write_u64(fd, "pids.max", res->pids_max, false, err) < 0)
        return -1;
    return 0;
}

int cg_v2_apply(struct kk_cg *cg, const struct kk_cg_ref *ref, const struct kk_cg_resources *res,
                kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    if (kk_cg_resources_check(res, err) < 0 || cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    unsigned need = cg_resources_needs(res);
    unsigned missing = need & ~cg->available;
    if (missing) {
        _cleanup_free_ char *names = kk_cg_controllers_format(missing, KK_CG_MODE_V2);
        kk_error_set(err, KK_E_PRECONDITION,
                     "cgroup /%s: the host has no %s controller for these limits", rel, names);
        return kk_error_reason(err, "CgroupControllersMissing");
    }

    _cleanup_error_ kk_error *nf = NULL;
    _cleanup_close_ int fd = cg_open_dir(cg_real(cg)->hiers[0].fd, rel, &nf);
    if (fd < 0) {
        *err = TAKE_PTR(nf);
        return kk_error_wrap(err, "cgroup /%s", rel);
    }
    _cleanup_free_ char *ctl = NULL;
    unsigned delegated;
    if (cg_read_file(fd, "cgroup.controllers", &ctl, err) < 0)
        return kk_error_wrap(err, "cgroup /%s", rel);
    kk_cg_controllers_parse(ctl, KK_CG_MODE_V2, &delegated);
    if (need & ~delegated) {
        /* e.g. cpuset, outside the default set: widen the ancestors only. */
        close(fd);
        fd = cg_v2_walk(cg, rel, need, true, 0, err);
        if (fd < 0)
            return -1;
    }
    if (write_resources(fd, res, err) < 0)
        return kk_error_wrap(err, "cgroup /%s", rel);
    return 0;
}

static int read_opt(int fd, const char *file, uint64_t *out, kk_error **err)
{
    return cg_has_file(fd, file) ? cg_read_u64(fd, file, out, err) : 0;
}

static int read_str(int fd, const char *file, char *out, size_t size, kk_error **err)
{
    _cleanup_free_ char *s = NULL;
    if (!cg_has_file(fd, file))
        return 0;
    if (cg_read_file(fd, file, &s, err) < 0)
        return -1;
    snprintf(out, size, "%s", s);
    return 0;
}

static int read_io_max(int fd, struct kk_cg_resources *res, kk_error **err)
{
    _cleanup_free_ char *text = NULL;
    if (!cg_has_file(fd, "io.max"))
        return 0;
    if (cg_read_file(fd, "io.max", &text, err) < 0)
        return -1;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned major, minor;
        int off;
        if (sscanf(line, "%u:%u%n", &major, &minor, &off) != 2)
            continue;
        for (char *s2 = NULL, *kv = strtok_r(line + off, " ", &s2); kv;
             kv = strtok_r(NULL, " ", &s2)) {
            for (int t = KK_CG_IO_RBPS; t <= KK_CG_IO_WIOPS; t++) {
                size_t kl = strlen(io_keys[t]);
                if (strncmp(kv, io_keys[t], kl) != 0 || kv[kl] != '=' ||
                    strcmp(kv + kl + 1, "max") == 0)
                    continue;
                if (res->n_io_throttle == KK_CG_IO_THROTTLE_MAX)
                    return 0;
                res->io_throttle[res->n_io_throttle++] =
                        (struct kk_cg_io_throttle){.type = t,
                                                   .major = major,
                                                   .minor = minor,
                                                   .rate = strtoull(kv + kl + 1, NULL, 10)};
            }
        }
    }
    return 0;
}

int cg_v2_read(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_resources *res,
               kk_error **err)
{
    *res = (struct kk_cg_resources){0};
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    _cleanup_close_ int fd = cg_open_dir(cg_real(cg)->hiers[0].fd, rel, err);
    if (fd < 0)
        return kk_error_wrap(err, "cgroup /%s", rel);

    _cleanup_free_ char *cpu_max = NULL, *io_weight = NULL;
    if (read_opt(fd, "cpu.weight", &res->cpu_weight, err) < 0)
        goto fail;
    if (cg_has_file(fd, "cpu.max")) {
        char quota[32];
        unsigned long long period;
        if (cg_read_file(fd, "cpu.max", &cpu_max, err) < 0)
            goto fail;
        if (sscanf(cpu_max, "%31s %llu", quota, &period) == 2) {
            res->cpu_quota_us = strcmp(quota, "max") == 0 ? KK_CG_MAX : strtoull(quota, NULL, 10);
            res->cpu_period_us = period;
        }
    }
    if (read_str(fd, "cpuset.cpus", res->cpuset_cpus, sizeof(res->cpuset_cpus), err) < 0 ||
        read_str(fd, "cpuset.mems", res->cpuset_mems, sizeof(res->cpuset_mems), err) < 0 ||
        read_opt(fd, "memory.max", &res->memory_max, err) < 0 ||
        read_opt(fd, "memory.high", &res->memory_high, err) < 0 ||
        read_opt(fd, "memory.swap.max", &res->swap_max, err) < 0 ||
        read_opt(fd, "pids.max", &res->pids_max, err) < 0 || read_io_max(fd, res, err) < 0)
        goto fail;
    if (cg_has_file(fd, "memory.swap.max") && res->swap_max == 0)
        res->swap_max = KK_CG_ZERO;
    const char *wfile = cg_has_file(fd, "io.weight")       ? "io.weight"
                        : cg_has_file(fd, "io.bfq.weight") ? "io.bfq.weight"
                                                           : NULL;
    if (wfile) {
        /* "default 100" (and per-device lines), or just "100". */
        uint64_t w = 0;
        if (cg_read_file(fd, wfile, &io_weight, err) < 0)
            goto fail;
        if (cg_keyed_get(io_weight, "default", &w) < 0)
            w = strtoull(io_weight, NULL, 10);
        res->io_weight = strcmp(wfile, "io.weight") == 0 ? w : kk_cg_blkio_to_io_weight(w);
    }
    return 0;
fail:
    return kk_error_wrap(err, "cgroup /%s", rel);
}
