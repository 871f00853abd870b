/* runtime/cgroup without root: conversions, names, paths, limits checks, and
 * the v2 and v1 backends against a fake cgroupfs (plain files in a temp
 * dir). A plain file keeps the last value written, so what the backend wrote
 * is what the test reads; the kernel's side (a controller appearing in
 * cgroup.controllers, frozen 1 in cgroup.events) is played by the test. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/error.h"
#include "runtime/cgroup/cgroup.h"
#include "tests/lib/kktest.h"

#define ALL_V2 "cpuset cpu io memory hugetlb pids rdma misc"

static void put(const char *dir, const char *file, const char *content)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/%s", dir, file);
    _cleanup_fclose_ FILE *f = fopen(p, "we");
    if (f)
        fputs(content, f);
}

static char *get(const char *dir, const char *file)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/%s", dir, file);
    _cleanup_fclose_ FILE *f = fopen(p, "re");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    return kk_xstrdup(f ? buf : "(missing)");
}

#define ASSERT_FILE(dir, file, want)                                                               \
    do {                                                                                           \
        _cleanup_free_ char *kt_got = get(dir, file);                                              \
        KT_ASSERT_MSG(strcmp(kt_got, want) == 0, "%s/%s: \"%s\", expected \"%s\"", dir, file,      \
                      kt_got, want);                                                               \
    } while (0)

static bool is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One fake v2 cgroup directory with the core and controller files. */
static char *fake_v2_dir(const char *base, const char *rel, const char *controllers)
{
    char *dir = kk_xasprintf("%s%s%s", base, *rel ? "/" : "", rel);
    mkdir(dir, 0755);
    put(dir, "cgroup.controllers", controllers);
    put(dir, "cgroup.subtree_control", "");
    put(dir, "cgroup.procs", "");
    put(dir, "cgroup.events", "populated 0\nfrozen 0\n");
    put(dir, "cgroup.freeze", "0");
    put(dir, "cpu.weight", "100");
    put(dir, "cpu.max", "max 100000");
    put(dir, "cpuset.cpus", "");
    put(dir, "cpuset.mems", "");
    put(dir, "memory.max", "max");
    put(dir, "memory.high", "max");
    put(dir, "memory.swap.max", "max");
    put(dir, "io.weight", "default 100");
    put(dir, "io.max", "");
    put(dir, "pids.max", "max");
    return dir;
}

static const char *const cell_levels[] = {"kk",        "kk/r",        "kk/r/s",
                                          "kk/r/s/st", "kk/r/s/st/c", "kk/r/s/st/c/web_root"};
static const struct kk_cg_ref cell = {"r", "s", "st", "c", NULL, NULL};
static const struct kk_cg_ref leaf = {"r", "s", "st", "c", "web", "root"};

/* A fake v2 mount with the whole cell tree already there (the backend's
 * mkdir would make empty directories: only the kernel fills them). */
static char *fake_v2(const char *offered, const char *leaf_controllers)
{
    char *base = kk_xasprintf("%s/cg", kt_tmpdir());
    free(fake_v2_dir(base, "", offered));
    for (size_t i = 0; i < KK_ARRAY_SIZE(cell_levels); i++)
        free(fake_v2_dir(base, cell_levels[i],
                         i + 1 == KK_ARRAY_SIZE(cell_levels) ? leaf_controllers : offered));
    return base;
}

static int open_fake(const char *mount, enum kk_cg_mode mode, unsigned require, struct kk_cg **cg,
                     kk_error **err)
{
    struct kk_cg_config cfg = {.mount = mount, .root = "kk", .mode = mode, .require = require};
    return kk_cg_open_real(&cfg, cg, err);
}

KT_CASE(weights_convert_like_runc)
{
    KT_ASSERT_EQ(kk_cg_shares_to_weight(2), 1);
    KT_ASSERT_EQ(kk_cg_shares_to_weight(1024), 39);
    KT_ASSERT_EQ(kk_cg_shares_to_weight(262144), 10000);
    KT_ASSERT_EQ(kk_cg_shares_to_weight(1), 1); /* clamped */
    KT_ASSERT_EQ(kk_cg_weight_to_shares(1), 2);
    KT_ASSERT_EQ(kk_cg_weight_to_shares(10000), 262144);
    KT_ASSERT_EQ(kk_cg_weight_to_shares(0), 2);
    for (uint64_t w = 1; w <= 10000; w++)
        KT_ASSERT_EQ(kk_cg_shares_to_weight(kk_cg_weight_to_shares(w)), w);

    KT_ASSERT_EQ(kk_cg_blkio_to_io_weight(10), 1);
    KT_ASSERT_EQ(kk_cg_blkio_to_io_weight(500), 4950);
    KT_ASSERT_EQ(kk_cg_blkio_to_io_weight(1000), 10000);
    KT_ASSERT_EQ(kk_cg_io_weight_to_blkio(1), 10);
    KT_ASSERT_EQ(kk_cg_io_weight_to_blkio(10000), 1000);
    for (uint64_t b = 10; b <= 1000; b++)
        KT_ASSERT_EQ(kk_cg_io_weight_to_blkio(kk_cg_blkio_to_io_weight(b)), b);
}

KT_CASE(controller_lists)
{
    unsigned set;
    KT_ASSERT_EQ(kk_cg_controllers_parse(ALL_V2 "\n", KK_CG_MODE_V2, &set), 0);
    _cleanup_free_ char *back = kk_cg_controllers_format(set, KK_CG_MODE_V2);
    KT_ASSERT_STREQ(back, ALL_V2);
    KT_ASSERT_EQ(kk_cg_controllers_parse("+cpu  +memory future", KK_CG_MODE_V2, &set), 1);
    KT_ASSERT_EQ(set, KK_CG_CPU | KK_CG_MEMORY);
    KT_ASSERT_EQ(kk_cg_controllers_parse("cpu,cpuacct", KK_CG_MODE_V1, &set), 0);
    KT_ASSERT_EQ(set, KK_CG_CPU | KK_CG_CPUACCT);
    KT_ASSERT_EQ(kk_cg_controllers_parse("blkio", KK_CG_MODE_V1, &set), 0);
    KT_ASSERT_EQ(set, KK_CG_IO);
    KT_ASSERT_EQ(kk_cg_controllers_parse("blkio freezer", KK_CG_MODE_V2, &set), 2);
    KT_ASSERT_EQ(set, 0);
    _cleanup_free_ char *v1 = kk_cg_controllers_format(KK_CG_DEFAULT_SET, KK_CG_MODE_V1);
    KT_ASSERT_STREQ(v1, "cpu blkio memory pids");
    _cleanup_free_ char *none = kk_cg_controllers_format(0, KK_CG_MODE_V2);
    KT_ASSERT_STREQ(none, "");
    KT_ASSERT(kk_cg_controller_name(KK_CG_FREEZER, KK_CG_MODE_V2) == NULL);
    _cleanup_free_ char *other = kk_cg_controllers_format(KK_CG_FREEZER | KK_CG_CPU, KK_CG_MODE_V2);
    KT_ASSERT_STREQ(other, "cpu freezer");
}

static kk_code path_code(const char *root, struct kk_cg_ref ref)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *p = NULL;
    kk_cg_ref_path(root, &ref, &p, &err);
    return kk_error_code(err);
}

KT_CASE(ref_paths_and_names)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *p = NULL, *q = NULL, *r = NULL;
    KT_ASSERT_OK(kk_cg_ref_path("kukeon", &leaf, &p, &err), &err);
    KT_ASSERT_STREQ(p, "/kukeon/r/s/st/c/web_root");
    KT_ASSERT_OK(kk_cg_ref_path("a.slice/kukeon", &cell, &q, &err), &err);
    KT_ASSERT_STREQ(q, "/a.slice/kukeon/r/s/st/c");
    KT_ASSERT_OK(kk_cg_ref_path("kukeon", &(struct kk_cg_ref){0}, &r, &err), &err);
    KT_ASSERT_STREQ(r, "/kukeon");

    const char *bad_names[] = {
            "",    "UP",  "a/b",
            "..",  "-a",  "a-",
            "a_b", "a b", "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad_names); i++) {
        KT_ASSERT_EQ(path_code("kukeon", (struct kk_cg_ref){.realm = "r", .space = bad_names[i]}),
                     KK_E_INVALID);
        KT_ASSERT_EQ(path_code("kukeon", (struct kk_cg_ref){"r", "s", "t", "c", "x", bad_names[i]}),
                     KK_E_INVALID);
    }
    KT_ASSERT_EQ(path_code("kukeon", (struct kk_cg_ref){.realm = "r", .stack = "t"}), KK_E_INVALID);
    KT_ASSERT_EQ(path_code("kukeon", (struct kk_cg_ref){"r", "s", "t", NULL, "x", "root"}),
                 KK_E_INVALID);
    KT_ASSERT_EQ(path_code("kukeon", (struct kk_cg_ref){"r", "s", "t", "c", "x", NULL}),
                 KK_E_INVALID);
    const char *bad_roots[] = {"", "/kukeon", "kukeon/", "a//b", "a/../b", ".", "k k", "k\n"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad_roots); i++)
        KT_ASSERT_MSG(path_code(bad_roots[i], cell) == KK_E_INVALID, "root \"%s\" accepted",
                      bad_roots[i]);
}

static kk_code check_code(struct kk_cg_resources res)
{
    _cleanup_error_ kk_error *err = NULL;
    kk_cg_resources_check(&res, &err);
    return kk_error_code(err);
}

KT_CASE(limits_are_checked)
{
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){0}), KK_E_OK);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.cpu_weight = 10000, .io_weight = 1}),
                 KK_E_OK);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.cpu_weight = 10001}), KK_E_INVALID);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.io_weight = 10001}), KK_E_INVALID);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.cpu_period_us = 999}), KK_E_INVALID);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.cpu_period_us = 1000001}), KK_E_INVALID);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.cpu_quota_us = 10}), KK_E_INVALID);
    KT_ASSERT_EQ(check_code((struct kk_cg_resources){.cpu_quota_us = KK_CG_MAX}), KK_E_OK);
    const char *good[] = {"0", "0-3", "0-3,5,7-9"};
    const char *bad[] = {"0-3,x", "-1", "0,", ",0", "0--1", "0 1"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(good); i++) {
        struct kk_cg_resources res = {0};
        snprintf(res.cpuset_cpus, sizeof(res.cpuset_cpus), "%s", good[i]);
        KT_ASSERT_EQ(check_code(res), KK_E_OK);
    }
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        struct kk_cg_resources res = {0};
        snprintf(res.cpuset_mems, sizeof(res.cpuset_mems), "%s", bad[i]);
        KT_ASSERT_MSG(check_code(res) == KK_E_INVALID, "cpuset \"%s\" accepted", bad[i]);
    }
    struct kk_cg_resources res = {.n_io_throttle = 1};
    res.io_throttle[0] = (struct kk_cg_io_throttle){KK_CG_IO_RBPS, 8, 0, 0};
    KT_ASSERT_EQ(check_code(res), KK_E_INVALID); /* rate 0 */
    res.io_throttle[0] = (struct kk_cg_io_throttle){7, 8, 0, 1};
    KT_ASSERT_EQ(check_code(res), KK_E_INVALID); /* type */
    res.io_throttle[0] = (struct kk_cg_io_throttle){KK_CG_IO_WIOPS, 8, 0, 1};
    KT_ASSERT_EQ(check_code(res), KK_E_OK);
    res.n_io_throttle = KK_CG_IO_THROTTLE_MAX + 1;
    KT_ASSERT_EQ(check_code(res), KK_E_INVALID);
}

KT_CASE(v2_ensure_delegates_default_set_up_the_chain)
{
    _cleanup_free_ char *base = fake_v2(ALL_V2, "cpu io memory pids");
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V2, KK_CG_DEFAULT_SET, &cg, &err), &err);
    KT_ASSERT_EQ(cg->mode, KK_CG_MODE_V2);

    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, &st, &err), &err);
    KT_ASSERT_STREQ(st.path, "/kk/r/s/st/c/web_root");
    KT_ASSERT(st.ready && !st.populated && !st.frozen);
    KT_ASSERT_EQ(st.controllers, KK_CG_DEFAULT_SET); /* the leaf's cgroup.controllers */
    kk_cg_status_release(&st);

    /* The mount's root cgroup and every level down to the cell delegate;
     * the leaf, which holds processes, does not. */
    ASSERT_FILE(base, "cgroup.subtree_control", "+cpu +io +memory +pids");
    for (size_t i = 0; i + 1 < KK_ARRAY_SIZE(cell_levels); i++) {
        _cleanup_free_ char *d = kk_xasprintf("%s/%s", base, cell_levels[i]);
        ASSERT_FILE(d, "cgroup.subtree_control", "+cpu +io +memory +pids");
    }
    _cleanup_free_ char *l = kk_xasprintf("%s/kk/r/s/st/c/web_root", base);
    ASSERT_FILE(l, "cgroup.subtree_control", "");

    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT_EQ(st.controllers, KK_CG_DEFAULT_SET);
    _cleanup_free_ char *names = kk_cg_controllers_format(st.controllers, cg->mode);
    KT_ASSERT_STREQ(names, "cpu io memory pids");
    kk_cg_status_release(&st);

    /* Idempotent: nothing is missing, so nothing is written again. */
    _cleanup_free_ char *cd = kk_xasprintf("%s/kk/r/s/st/c", base);
    put(cd, "cgroup.subtree_control", "cpu io memory pids");
    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, 0, NULL, &err), &err);
    ASSERT_FILE(cd, "cgroup.subtree_control", "cpu io memory pids");
}

KT_CASE(v2_nested_delegates_everything_offered)
{
    _cleanup_free_ char *base = fake_v2(ALL_V2, ALL_V2);
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V2, 0, &cg, &err), &err);
    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, KK_CG_ENSURE_NESTED, &st, &err), &err);
    _cleanup_free_ char *cd = kk_xasprintf("%s/kk/r/s/st/c", base);
    ASSERT_FILE(cd, "cgroup.subtree_control",
                "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc");
    KT_ASSERT_EQ(st.controllers, cg->available);
    kk_cg_status_release(&st);
}

KT_CASE(v2_default_set_filtered_by_what_is_offered)
{
    _cleanup_free_ char *base = fake_v2("cpu memory", "cpu memory");
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V2, 0, &cg, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, 0, NULL, &err), &err);
    _cleanup_free_ char *cd = kk_xasprintf("%s/kk/r/s/st/c", base);
    ASSERT_FILE(cd, "cgroup.subtree_control", "+cpu +memory");

    /* Limits for a controller the host lacks: a clear error, nothing written. */
    struct kk_cg_resources res = {.pids_max = 10};
    KT_ASSERT(kk_cg_apply(cg, &leaf, &res, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    KT_ASSERT_MSG(strstr(err->message, "no pids controller"), "%s", err->message);
    _cleanup_free_ char *l = kk_xasprintf("%s/kk/r/s/st/c/web_root", base);
    ASSERT_FILE(l, "pids.max", "max");
}

KT_CASE(v2_missing_required_controllers_named)
{
    _cleanup_free_ char *base = fake_v2("cpu pids", "cpu pids");
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT(open_fake(base, KK_CG_MODE_V2, KK_CG_DEFAULT_SET, &cg, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    KT_ASSERT_STREQ(err->reason, "CgroupControllersMissing");
    KT_ASSERT_MSG(strstr(err->message, "missing: io memory (the host offers: cpu pids)"), "%s",
                  err->message);
}

KT_CASE(v2_no_internal_processes)
{
    _cleanup_free_ char *base = fake_v2(ALL_V2, ALL_V2);
    _cleanup_free_ char *cd = kk_xasprintf("%s/kk/r/s/st/c", base);
    put(cd, "cgroup.procs", "4242\n");
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V2, 0, &cg, &err), &err);

    KT_ASSERT(kk_cg_ensure(cg, &cell, 0, NULL, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    KT_ASSERT_STREQ(err->reason, "CgroupInternalProcesses");
    KT_ASSERT_MSG(strstr(err->message, "/kk/r/s/st/c holds processes (pid 4242)"), "%s",
                  err->message);
    ASSERT_FILE(cd, "cgroup.subtree_control", ""); /* never tried */
    kk_error_freep(&err);

    /* Asked to move them: they go to the "_internal" leaf. (A fake's
     * cgroup.procs does not empty itself, so the move never finishes.) */
    _cleanup_free_ char *internal = fake_v2_dir(base, "kk/r/s/st/c/_internal", ALL_V2);
    KT_ASSERT(kk_cg_ensure(cg, &cell, KK_CG_ENSURE_MOVE_INTERNAL, NULL, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_ABORTED);
    ASSERT_FILE(internal, "cgroup.procs", "4242");
    kk_error_freep(&err);

    /* Once empty, the ensure goes through. */
    put(cd, "cgroup.procs", "");
    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, KK_CG_ENSURE_MOVE_INTERNAL, NULL, &err), &err);
    ASSERT_FILE(cd, "cgroup.subtree_control", "+cpu +io +memory +pids");
}

KT_CASE(v2_limits_written_and_read_back)
{
    _cleanup_free_ char *base = fake_v2(ALL_V2, "cpu io memory pids");
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V2, 0, &cg, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);

    const uint64_t mib = 1024 * 1024;
    struct kk_cg_resources res = {
            .cpu_weight = 200,
            .cpu_quota_us = 50000,
            .memory_max = 64 * mib,
            .memory_high = 32 * mib,
            .swap_max = KK_CG_ZERO,
            .io_weight = 300,
            .pids_max = KK_CG_MAX,
            .n_io_throttle = 2,
    };
    snprintf(res.cpuset_cpus, sizeof(res.cpuset_cpus), "0-1");
    res.io_throttle[0] = (struct kk_cg_io_throttle){KK_CG_IO_RBPS, 8, 0, mib};
    res.io_throttle[1] = (struct kk_cg_io_throttle){KK_CG_IO_WIOPS, 8, 0, 100};
    KT_ASSERT_OK(kk_cg_apply(cg, &leaf, &res, &err), &err);

    _cleanup_free_ char *l = kk_xasprintf("%s/kk/r/s/st/c/web_root", base);
    ASSERT_FILE(l, "cpu.weight", "200");
    ASSERT_FILE(l, "cpu.max", "50000 100000"); /* the period kept */
    ASSERT_FILE(l, "cpuset.cpus", "0-1");
    ASSERT_FILE(l, "cpuset.mems", "");
    ASSERT_FILE(l, "memory.max", "67108864");
    ASSERT_FILE(l, "memory.high", "33554432");
    ASSERT_FILE(l, "memory.swap.max", "0");
    ASSERT_FILE(l, "io.weight", "300");
    ASSERT_FILE(l, "io.max", "8:0 rbps=1048576 wiops=100");
    ASSERT_FILE(l, "pids.max", "max");
    /* cpuset is not in the default set: the leaf's ancestors were widened
     * for it (only what was missing is written). */
    _cleanup_free_ char *cd = kk_xasprintf("%s/kk/r/s/st/c", base);
    ASSERT_FILE(cd, "cgroup.subtree_control", "+cpuset");
    ASSERT_FILE(base, "cgroup.subtree_control", "+cpuset");

    put(l, "io.max", "8:0 rbps=1048576 wbps=max riops=max wiops=100\n");
    put(l, "cpu.max", "max 50000");
    put(l, "memory.swap.max", "max");
    struct kk_cg_resources got;
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.cpu_weight, 200);
    KT_ASSERT_EQ(got.cpu_quota_us, KK_CG_MAX);
    KT_ASSERT_EQ(got.cpu_period_us, 50000);
    KT_ASSERT_STREQ(got.cpuset_cpus, "0-1");
    KT_ASSERT_EQ(got.memory_max, 64 * mib);
    KT_ASSERT_EQ(got.memory_high, 32 * mib);
    KT_ASSERT_EQ(got.swap_max, KK_CG_MAX);
    KT_ASSERT_EQ(got.io_weight, 300);
    KT_ASSERT_EQ(got.pids_max, KK_CG_MAX);
    KT_ASSERT_EQ(got.n_io_throttle, 2);
    KT_ASSERT(got.io_throttle[0].type == KK_CG_IO_RBPS && got.io_throttle[0].rate == mib);
    KT_ASSERT(got.io_throttle[1].type == KK_CG_IO_WIOPS && got.io_throttle[1].rate == 100);
    KT_ASSERT(got.io_throttle[1].major == 8 && got.io_throttle[1].minor == 0);
}

KT_CASE(v2_freeze_waits_for_the_kernel)
{
    _cleanup_free_ char *base = fake_v2(ALL_V2, ALL_V2);
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V2, 0, &cg, &err), &err);
    _cleanup_free_ char *cd = kk_xasprintf("%s/kk/r/s/st/c", base);

    /* The fake kernel never confirms: a deadline error after the timeout. */
    KT_ASSERT(kk_cg_freeze(cg, &cell, true, 50, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_DEADLINE);
    ASSERT_FILE(cd, "cgroup.freeze", "1");
    kk_error_freep(&err);

    put(cd, "cgroup.events", "populated 1\nfrozen 1\n");
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, true, 50, &err), &err);
    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(st.frozen && st.populated);
    kk_cg_status_release(&st);

    put(cd, "cgroup.events", "populated 1\nfrozen 0\n");
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, false, 50, &err), &err);
    ASSERT_FILE(cd, "cgroup.freeze", "0");
}

/* A fake v1 hybrid mount: one directory per hierarchy, a symlink alias,
 * a named hierarchy and the cgroup2 companion. */
static char *fake_v1(void)
{
    char *base = kk_xasprintf("%s/v1", kt_tmpdir());
    const char *hiers[] = {"cpu,cpuacct", "cpuset",  "memory",  "blkio",
                           "pids",        "freezer", "systemd", "unified"};
    mkdir(base, 0755);
    for (size_t i = 0; i < KK_ARRAY_SIZE(hiers); i++) {
        _cleanup_free_ char *h = kk_xasprintf("%s/%s", base, hiers[i]);
        mkdir(h, 0755);
        put(h, "cgroup.procs", "");
        for (size_t j = 0; j < KK_ARRAY_SIZE(cell_levels); j++) {
            _cleanup_free_ char *d = kk_xasprintf("%s/%s", h, cell_levels[j]);
            mkdir(d, 0755);
            put(d, "cgroup.procs", "");
            if (strcmp(hiers[i], "cpuset") == 0) {
                /* The root has cpus and mems, the levels start empty. */
                put(d, "cpuset.cpus", "");
                put(d, "cpuset.mems", "");
            }
            if (strcmp(hiers[i], "freezer") == 0)
                put(d, "freezer.state", "THAWED");
        }
    }
    _cleanup_free_ char *cs = kk_xasprintf("%s/cpuset", base);
    put(cs, "cpuset.cpus", "0-3");
    put(cs, "cpuset.mems", "0");
    _cleanup_free_ char *link = kk_xasprintf("%s/cpu", base);
    if (symlink("cpu,cpuacct", link) < 0)
        perror("symlink");
    return base;
}

KT_CASE(v1_hybrid_layout_and_limits)
{
    _cleanup_free_ char *base = fake_v1();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V1, KK_CG_DEFAULT_SET | KK_CG_FREEZER, &cg, &err),
                 &err);
    KT_ASSERT_EQ(cg->mode, KK_CG_MODE_V1);
    KT_ASSERT(cg->hybrid);
    KT_ASSERT_EQ(cg->available, KK_CG_CPU | KK_CG_CPUACCT | KK_CG_CPUSET | KK_CG_MEMORY | KK_CG_IO |
                                        KK_CG_PIDS | KK_CG_FREEZER);

    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, &st, &err), &err);
    KT_ASSERT(st.ready);
    KT_ASSERT_EQ(st.controllers, cg->available);
    kk_cg_status_release(&st);
    const char *hiers[] = {"cpu,cpuacct", "cpuset",  "memory",  "blkio",
                           "pids",        "freezer", "systemd", "unified"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(hiers); i++) {
        _cleanup_free_ char *d = kk_xasprintf("%s/%s/kk/r/s/st/c/web_root", base, hiers[i]);
        KT_ASSERT_MSG(is_dir(d), "%s missing", d);
    }
    /* cpuset levels inherit from their parent, top-down. */
    for (size_t i = 0; i < KK_ARRAY_SIZE(cell_levels); i++) {
        _cleanup_free_ char *d = kk_xasprintf("%s/cpuset/%s", base, cell_levels[i]);
        ASSERT_FILE(d, "cpuset.cpus", "0-3");
        ASSERT_FILE(d, "cpuset.mems", "0");
    }

    /* The kernel's files in the leaf, with v1's defaults. */
    _cleanup_free_ char *cpu = kk_xasprintf("%s/cpu,cpuacct/kk/r/s/st/c/web_root", base);
    _cleanup_free_ char *mem = kk_xasprintf("%s/memory/kk/r/s/st/c/web_root", base);
    _cleanup_free_ char *blk = kk_xasprintf("%s/blkio/kk/r/s/st/c/web_root", base);
    _cleanup_free_ char *pids = kk_xasprintf("%s/pids/kk/r/s/st/c/web_root", base);
    _cleanup_free_ char *frz = kk_xasprintf("%s/freezer/kk/r/s/st/c", base);
    put(cpu, "cpu.shares", "1024");
    put(cpu, "cpu.cfs_quota_us", "-1");
    put(cpu, "cpu.cfs_period_us", "100000");
    put(mem, "memory.limit_in_bytes", "9223372036854771712");
    put(mem, "memory.memsw.limit_in_bytes", "9223372036854771712");
    put(mem, "memory.soft_limit_in_bytes", "9223372036854771712");
    put(blk, "blkio.bfq.weight", "100");
    put(blk, "blkio.throttle.read_bps_device", "");
    put(blk, "blkio.throttle.write_bps_device", "");
    put(blk, "blkio.throttle.read_iops_device", "");
    put(blk, "blkio.throttle.write_iops_device", "");
    put(pids, "pids.max", "max");

    const uint64_t mib = 1024 * 1024;
    struct kk_cg_resources res = {
            .cpu_weight = 200,
            .cpu_quota_us = KK_CG_MAX,
            .cpu_period_us = 50000,
            .memory_max = 64 * mib,
            .memory_high = 32 * mib,
            .swap_max = 16 * mib,
            .io_weight = 4950,
            .pids_max = 42,
            .n_io_throttle = 1,
    };
    res.io_throttle[0] = (struct kk_cg_io_throttle){KK_CG_IO_WBPS, 8, 16, 2 * mib};
    KT_ASSERT_OK(kk_cg_apply(cg, &leaf, &res, &err), &err);
    char v[32];
    snprintf(v, sizeof(v), "%ju", (uintmax_t)kk_cg_weight_to_shares(200));
    ASSERT_FILE(cpu, "cpu.shares", v);
    ASSERT_FILE(cpu, "cpu.cfs_quota_us", "-1");
    ASSERT_FILE(cpu, "cpu.cfs_period_us", "50000");
    ASSERT_FILE(mem, "memory.limit_in_bytes", "67108864");
    ASSERT_FILE(mem, "memory.memsw.limit_in_bytes", "83886080");
    ASSERT_FILE(mem, "memory.soft_limit_in_bytes", "33554432");
    ASSERT_FILE(blk, "blkio.bfq.weight", "500");
    ASSERT_FILE(blk, "blkio.throttle.write_bps_device", "8:16 2097152");
    ASSERT_FILE(pids, "pids.max", "42");

    struct kk_cg_resources got;
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.cpu_weight, 200);
    KT_ASSERT_EQ(got.cpu_quota_us, KK_CG_MAX);
    KT_ASSERT_EQ(got.cpu_period_us, 50000);
    KT_ASSERT_EQ(got.memory_max, 64 * mib);
    KT_ASSERT_EQ(got.swap_max, 16 * mib);
    KT_ASSERT_EQ(got.io_weight, 4950);
    KT_ASSERT_EQ(got.pids_max, 42);
    KT_ASSERT_EQ(got.n_io_throttle, 1);
    KT_ASSERT(got.io_throttle[0].type == KK_CG_IO_WBPS && got.io_throttle[0].minor == 16);

    /* v1 needs the memory limit to express swap. */
    struct kk_cg_resources swap_only = {.swap_max = mib};
    KT_ASSERT(kk_cg_apply(cg, &leaf, &swap_only, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    kk_error_freep(&err);

    /* Freezer: a plain file reads back what was written, as if the kernel
     * had frozen everything at once. */
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, true, 100, &err), &err);
    ASSERT_FILE(frz, "freezer.state", "FROZEN");
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(st.frozen);
    kk_cg_status_release(&st);
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, false, 100, &err), &err);
    ASSERT_FILE(frz, "freezer.state", "THAWED");
}

KT_CASE(v1_without_freezer_cannot_pause)
{
    _cleanup_free_ char *base = kk_xasprintf("%s/v1", kt_tmpdir());
    _cleanup_free_ char *h = kk_xasprintf("%s/memory", base);
    mkdir(base, 0755);
    mkdir(h, 0755);
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT(open_fake(base, KK_CG_MODE_V1, KK_CG_FREEZER | KK_CG_PIDS, &cg, &err) < 0);
    KT_ASSERT_MSG(strstr(err->message, "missing: freezer pids (the host offers: memory)"), "%s",
                  err->message);
    kk_error_freep(&err);
    KT_ASSERT_OK(open_fake(base, KK_CG_MODE_V1, 0, &cg, &err), &err);
    KT_ASSERT(!cg->hybrid);
    KT_ASSERT(kk_cg_freeze(cg, &cell, true, 100, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    KT_ASSERT_STREQ(err->reason, "CgroupControllersMissing");
}

KT_CASE(no_hierarchy_is_not_found)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT(open_fake(kt_tmpdir(), KK_CG_MODE_V1, 0, &cg, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
    kk_error_freep(&err);
    _cleanup_free_ char *nowhere = kk_xasprintf("%s/none", kt_tmpdir());
    KT_ASSERT(open_fake(nowhere, KK_CG_MODE_AUTO, 0, &cg, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
    kk_error_freep(&err);
    /* A temp dir is no cgroup filesystem. */
    KT_ASSERT(open_fake(kt_tmpdir(), KK_CG_MODE_AUTO, 0, &cg, &err) < 0);
}
