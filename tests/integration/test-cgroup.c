/* runtime/cgroup against the real kernel (root). On these hosts that is v1
 * hybrid; the v2 code paths run too, on the cgroup2 companion mount
 * (/sys/fs/cgroup/unified), which has no controllers but has the core:
 * cgroup.procs, cgroup.events, cgroup.freeze, cgroup.subtree_control.
 *
 * Every run uses its own root names (kktest-cg-<pid>, kktest-cg2-<pid>),
 * kills only the children it forked, and removes its directories from every
 * cgroup mount at exit, also after a failure; the last case checks that
 * nothing is left in any of them.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/error.h"
#include "runtime/cgroup/cgroup.h"
#include "tests/integration/test-cgroup-util.h"
#include "tests/lib/kktest.h"

static char root1[64], root2[64];
static pid_t children[16];
static size_t n_children;

static void kill_children(void)
{
    for (size_t i = 0; i < n_children; i++) {
        kill(children[i], SIGKILL);
        waitpid(children[i], NULL, 0);
    }
    n_children = 0;
}

/* Whatever the module did or did not do: our children die, our roots go. */
static void cleanup(void)
{
    thaw_root(root1);
    thaw_root(root2);
    kill_children();
    remove_root(root1);
    remove_root(root2);
}

static void setup(void)
{
    if (!root1[0]) {
        snprintf(root1, sizeof(root1), "kktest-cg-%d", (int)getpid());
        snprintf(root2, sizeof(root2), "kktest-cg2-%d", (int)getpid());
        kt_atexit(cleanup);
    }
}

/* A child that counts in shared memory until killed (or, with lifetime_ms,
 * until it exits by itself), so a test can see whether it runs. */
static pid_t spawn_counter(volatile unsigned long **counter, int lifetime_ms)
{
    volatile unsigned long *c =
            mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        return -1;
    *c = 0;
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
            (*c)++;
            usleep(1000);
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (lifetime_ms > 0 && ms >= lifetime_ms)
                _exit(0);
        }
    }
    if (pid > 0 && n_children < KK_ARRAY_SIZE(children))
        children[n_children++] = pid;
    *counter = c;
    return pid;
}

/* Waits (bounded) until the child has counted past `target`: it runs. */
static bool counts_past(volatile unsigned long *count, unsigned long target, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (*count > target)
            return true;
        usleep(10 * 1000);
    }
    return *count > target;
}

static void reap(pid_t pid)
{
    for (size_t i = 0; i < n_children; i++)
        if (children[i] == pid) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            children[i] = children[--n_children];
            return;
        }
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static const struct kk_cg_ref cell = {"r1", "s1", "st1", "c1", NULL, NULL};
static const struct kk_cg_ref leaf = {"r1", "s1", "st1", "c1", "web", "root"};
static const struct kk_cg_ref top = {0};

static int open_v1(struct kk_cg **cg, kk_error **err)
{
    struct kk_cg_config cfg = {.root = root1, .require = KK_CG_CPU | KK_CG_MEMORY | KK_CG_PIDS};
    return kk_cg_open_real(&cfg, cg, err);
}

static int open_v2(struct kk_cg **cg, kk_error **err)
{
    struct kk_cg_config cfg = {.mount = MOUNT "/unified", .root = root2, .mode = KK_CG_MODE_V2};
    return kk_cg_open_real(&cfg, cg, err);
}

KT_CASE(detects_host_mode)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_v1(&cg, &err), &err);

    /* What the test sees for itself: cgroup2 at the mount means v2. */
    char mounts[MAX_MOUNTS][256];
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS);
    bool unified_companion = false, v2_host = false;
    for (size_t i = 0; i < n; i++) {
        unified_companion |= strcmp(mounts[i], MOUNT "/unified") == 0;
        v2_host |= strcmp(mounts[i], MOUNT) == 0;
    }
    KT_ASSERT(n > 0);
    if (v2_host) {
        KT_ASSERT_EQ(cg->mode, KK_CG_MODE_V2);
        KT_ASSERT(!cg->hybrid);
    } else {
        KT_ASSERT_EQ(cg->mode, KK_CG_MODE_V1);
        KT_ASSERT_EQ(cg->hybrid, unified_companion);
        KT_ASSERT(is_dir(MOUNT "/freezer") == !!(cg->available & KK_CG_FREEZER));
        KT_ASSERT(is_dir(MOUNT "/blkio") == !!(cg->available & KK_CG_IO));
    }
    _cleanup_free_ char *names = kk_cg_controllers_format(cg->available, cg->mode);
    fprintf(stderr, "  mode %s%s, controllers: %s\n", cg->mode == KK_CG_MODE_V2 ? "v2" : "v1",
            cg->hybrid ? " (hybrid)" : "", names);
}

KT_CASE(missing_controllers_are_named)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    struct kk_cg_config cfg = {.root = root2, .require = KK_CG_FREEZER};
    if (access(MOUNT "/unified/cgroup.procs", F_OK) == 0) {
        /* The hybrid host's cgroup2 mount has no controllers at all. */
        cfg.mount = MOUNT "/unified";
        cfg.mode = KK_CG_MODE_V2;
        cfg.require = KK_CG_MEMORY | KK_CG_PIDS;
    } /* else a v2 host: v2 never has a freezer controller */
    KT_ASSERT(kk_cg_open_real(&cfg, &cg, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    KT_ASSERT_STREQ(err->reason, "CgroupControllersMissing");
    KT_ASSERT_MSG(strstr(err->message, cfg.mount ? "missing: memory pids" : "missing: freezer"),
                  "message: %s", err->message);

    kk_error_freep(&err);
    cfg.mount = "/proc";
    cfg.mode = KK_CG_MODE_AUTO;
    KT_ASSERT(kk_cg_open_real(&cfg, &cg, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
}

KT_CASE(hierarchy_created_everywhere_then_removed)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_v1(&cg, &err), &err);

    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(!st.ready);
    kk_cg_status_release(&st);

    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, 0, &st, &err), &err);
    _cleanup_free_ char *want = kk_xasprintf("/%s/r1/s1/st1/c1", root1);
    KT_ASSERT_STREQ(st.path, want);
    KT_ASSERT(st.ready);
    KT_ASSERT(!st.populated);
    KT_ASSERT((st.controllers & (KK_CG_CPU | KK_CG_MEMORY | KK_CG_PIDS)) ==
              (KK_CG_CPU | KK_CG_MEMORY | KK_CG_PIDS));
    kk_cg_status_release(&st);
    /* Idempotent, and the leaf below it. */
    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, 0, NULL, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, &st, &err), &err);
    KT_ASSERT(st.ready);
    kk_cg_status_release(&st);

    _cleanup_free_ char *runc = NULL;
    KT_ASSERT_OK(kk_cg_runc_path(cg, &leaf, &runc, &err), &err);
    _cleanup_free_ char *runc_want = kk_xasprintf("/%s/r1/s1/st1/c1/web_root", root1);
    KT_ASSERT_STREQ(runc, runc_want);

    char mounts[MAX_MOUNTS][256];
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS);
    KT_ASSERT(n > 0);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = kk_xasprintf("%s%s", mounts[i], runc);
        KT_ASSERT_MSG(is_dir(p), "%s missing", p);
    }
    /* v1 cpuset: the leaf inherited cpus and mems, so tasks can join it. */
    if (is_dir(MOUNT "/cpuset")) {
        _cleanup_free_ char *p = kk_xasprintf(MOUNT "/cpuset%s/cpuset.cpus", runc);
        _cleanup_free_ char *cpus = read_text(p);
        _cleanup_free_ char *top_cpus = read_text(MOUNT "/cpuset/cpuset.cpus");
        KT_ASSERT(cpus && top_cpus && *cpus);
        KT_ASSERT_STREQ(cpus, top_cpus);
    }

    /* A nested runtime's own cgroups below the leaf, in every hierarchy. */
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *a = kk_xasprintf("%s%s/inner", mounts[i], runc);
        _cleanup_free_ char *b = kk_xasprintf("%s/x", a);
        _cleanup_free_ char *c = kk_xasprintf("%s/y", b);
        KT_ASSERT(mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0 && mkdir(c, 0755) == 0);
    }

    /* Removing the cell removes its leaf too, and nothing above it. */
    KT_ASSERT_OK(kk_cg_remove(cg, &cell, 1000, &err), &err);
    KT_ASSERT_OK(kk_cg_remove(cg, &cell, 1000, &err), &err);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *gone = kk_xasprintf("%s%s", mounts[i], want);
        _cleanup_free_ char *kept = kk_xasprintf("%s/%s/r1/s1/st1", mounts[i], root1);
        KT_ASSERT_MSG(!is_dir(gone), "%s left behind", gone);
        KT_ASSERT_MSG(is_dir(kept), "%s removed", kept);
    }
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(!st.ready);
    kk_cg_status_release(&st);

    KT_ASSERT_OK(kk_cg_remove(cg, &top, 1000, &err), &err);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *gone = kk_xasprintf("%s/%s", mounts[i], root1);
        KT_ASSERT_MSG(!is_dir(gone), "%s left behind", gone);
    }
}

static bool first_block_device(unsigned *major, unsigned *minor)
{
    /* A real disk, not a loop or zram device, if there is one. */
    const char *names[] = {"vda", "sda", "nvme0n1", "xvda", "loop0"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(names); i++) {
        _cleanup_free_ char *p = kk_xasprintf("/sys/block/%s/dev", names[i]);
        _cleanup_free_ char *dev = read_text(p);
        if (dev && sscanf(dev, "%u:%u", major, minor) == 2)
            return true;
    }
    return false;
}

/* A file of the leaf: in the controller's hierarchy on v1, in the one
 * hierarchy on v2. */
static char *leaf_file(const struct kk_cg *cg, const char *v1_hier, const char *file)
{
    if (cg->mode == KK_CG_MODE_V2)
        return kk_xasprintf(MOUNT "/%s/r1/s1/st1/c1/web_root/%s", root1, file);
    return kk_xasprintf(MOUNT "/%s/%s/r1/s1/st1/c1/web_root/%s", v1_hier, root1, file);
}

static bool leaf_has(const struct kk_cg *cg, const char *v1_hier, const char *file)
{
    _cleanup_free_ char *p = leaf_file(cg, v1_hier, file);
    return access(p, F_OK) == 0;
}

static bool leaf_file_is(const struct kk_cg *cg, const char *v1_hier, const char *file,
                         const char *want)
{
    _cleanup_free_ char *p = leaf_file(cg, v1_hier, file);
    _cleanup_free_ char *text = read_text(p);
    /* io.weight and BFQ's weights print "default N". */
    const char *v = text && strncmp(text, "default ", 8) == 0 ? text + 8 : text;
    if (!v || strcmp(v, want) != 0) {
        fprintf(stderr, "  %s: \"%s\", expected \"%s\"\n", p, text ? text : "(missing)", want);
        return false;
    }
    return true;
}

KT_CASE(limits_written_and_read_back)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_v1(&cg, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);
    bool v1 = cg->mode == KK_CG_MODE_V1;

    const uint64_t mib = 1024 * 1024;
    struct kk_cg_resources res = {
            .cpu_weight = 200,
            .cpu_quota_us = 50000,
            .cpu_period_us = 100000,
            .memory_max = 64 * mib,
            .memory_high = 32 * mib,
            .pids_max = 42,
    };
    if (cg->available & KK_CG_CPUSET) {
        snprintf(res.cpuset_cpus, sizeof(res.cpuset_cpus), "0");
        snprintf(res.cpuset_mems, sizeof(res.cpuset_mems), "0");
    }
    bool swap = leaf_has(cg, "memory", v1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max");
    if (swap)
        res.swap_max = 16 * mib;
    unsigned major = 0, minor = 0;
    if ((cg->available & KK_CG_IO) && first_block_device(&major, &minor)) {
        res.io_throttle[res.n_io_throttle++] = (struct kk_cg_io_throttle){
                .type = KK_CG_IO_RBPS, .major = major, .minor = minor, .rate = mib};
        res.io_throttle[res.n_io_throttle++] = (struct kk_cg_io_throttle){
                .type = KK_CG_IO_WIOPS, .major = major, .minor = minor, .rate = 100};
    }
    /* Proportional I/O weight needs CFQ (gone) or BFQ on v1. */
    const char *wfile =
            v1 ? (leaf_has(cg, "blkio", "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight")
               : (leaf_has(cg, "", "io.weight") ? "io.weight" : "io.bfq.weight");
    if ((cg->available & KK_CG_IO) && leaf_has(cg, "blkio", wfile))
        res.io_weight = 500;
    KT_ASSERT_OK(kk_cg_apply(cg, &leaf, &res, &err), &err);
    fprintf(stderr, "  swap %s, io weight %s, throttles on %u:%u: %zu\n", swap ? "yes" : "no",
            res.io_weight ? wfile : "no", major, minor, res.n_io_throttle);

    /* The kernel's own files. */
    char v[128];
    if (v1) {
        snprintf(v, sizeof(v), "%ju", (uintmax_t)kk_cg_weight_to_shares(200));
        KT_ASSERT(leaf_file_is(cg, "cpu", "cpu.shares", v));
        KT_ASSERT(leaf_file_is(cg, "cpu", "cpu.cfs_quota_us", "50000"));
        KT_ASSERT(leaf_file_is(cg, "cpu", "cpu.cfs_period_us", "100000"));
        KT_ASSERT(leaf_file_is(cg, "memory", "memory.limit_in_bytes", "67108864"));
        KT_ASSERT(leaf_file_is(cg, "memory", "memory.soft_limit_in_bytes", "33554432"));
        KT_ASSERT(!swap || leaf_file_is(cg, "memory", "memory.memsw.limit_in_bytes", "83886080"));
    } else {
        KT_ASSERT(leaf_file_is(cg, "", "cpu.weight", "200"));
        KT_ASSERT(leaf_file_is(cg, "", "cpu.max", "50000 100000"));
        KT_ASSERT(leaf_file_is(cg, "", "memory.max", "67108864"));
        KT_ASSERT(leaf_file_is(cg, "", "memory.high", "33554432"));
        KT_ASSERT(!swap || leaf_file_is(cg, "", "memory.swap.max", "16777216"));
    }
    KT_ASSERT(!res.cpuset_cpus[0] || leaf_file_is(cg, "cpuset", "cpuset.cpus", "0"));
    KT_ASSERT(!res.cpuset_mems[0] || leaf_file_is(cg, "cpuset", "cpuset.mems", "0"));
    KT_ASSERT(leaf_file_is(cg, "pids", "pids.max", "42"));
    if (res.io_weight) {
        bool scaled = v1 || strcmp(wfile, "io.bfq.weight") == 0;
        snprintf(v, sizeof(v), "%ju", (uintmax_t)(scaled ? kk_cg_io_weight_to_blkio(500) : 500));
        KT_ASSERT(leaf_file_is(cg, "blkio", wfile, v));
    }
    if (res.n_io_throttle && v1) {
        snprintf(v, sizeof(v), "%u:%u 1048576", major, minor);
        KT_ASSERT(leaf_file_is(cg, "blkio", "blkio.throttle.read_bps_device", v));
        snprintf(v, sizeof(v), "%u:%u 100", major, minor);
        KT_ASSERT(leaf_file_is(cg, "blkio", "blkio.throttle.write_iops_device", v));
    } else if (res.n_io_throttle) {
        snprintf(v, sizeof(v), "%u:%u rbps=1048576 wbps=max riops=max wiops=100", major, minor);
        KT_ASSERT(leaf_file_is(cg, "", "io.max", v));
    }

    /* And through the module's read-back, in kk_cg_resources units. */
    struct kk_cg_resources got;
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.cpu_weight, 200);
    KT_ASSERT_EQ(got.cpu_quota_us, 50000);
    KT_ASSERT_EQ(got.cpu_period_us, 100000);
    KT_ASSERT_STREQ(got.cpuset_cpus, res.cpuset_cpus);
    KT_ASSERT_EQ(got.memory_max, 64 * mib);
    KT_ASSERT_EQ(got.memory_high, 32 * mib);
    if (swap)
        KT_ASSERT_EQ(got.swap_max, 16 * mib);
    KT_ASSERT_EQ(got.pids_max, 42);
    KT_ASSERT_EQ(got.n_io_throttle, res.n_io_throttle);
    if (res.io_weight)
        KT_ASSERT_EQ(kk_cg_io_weight_to_blkio(got.io_weight), kk_cg_io_weight_to_blkio(500));

    /* Shrinking memory below the old memsw, and lifting limits: on v1 the
     * write order (limit before memsw when shrinking) makes this pass. */
    struct kk_cg_resources less = {.memory_max = 16 * mib, .pids_max = KK_CG_MAX};
    if (swap)
        less.swap_max = KK_CG_ZERO;
    less.cpu_quota_us = KK_CG_MAX;
    for (size_t i = 0; i < res.n_io_throttle; i++) {
        less.io_throttle[i] = res.io_throttle[i];
        less.io_throttle[i].rate = KK_CG_MAX;
    }
    less.n_io_throttle = res.n_io_throttle;
    KT_ASSERT_OK(kk_cg_apply(cg, &leaf, &less, &err), &err);
    KT_ASSERT(leaf_file_is(cg, "memory", v1 ? "memory.limit_in_bytes" : "memory.max", "16777216"));
    if (swap && v1)
        KT_ASSERT(leaf_file_is(cg, "memory", "memory.memsw.limit_in_bytes", "16777216"));
    else if (swap)
        KT_ASSERT(leaf_file_is(cg, "", "memory.swap.max", "0"));
    KT_ASSERT(leaf_file_is(cg, "pids", "pids.max", "max"));
    KT_ASSERT(v1 ? leaf_file_is(cg, "cpu", "cpu.cfs_quota_us", "-1")
                 : leaf_file_is(cg, "", "cpu.max", "max 100000"));
    if (res.n_io_throttle)
        KT_ASSERT(leaf_file_is(cg, "blkio", v1 ? "blkio.throttle.read_bps_device" : "io.max", ""));
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.pids_max, KK_CG_MAX);
    KT_ASSERT_EQ(got.cpu_quota_us, KK_CG_MAX);
    if (swap)
        KT_ASSERT_EQ(got.swap_max, KK_CG_ZERO);
    KT_ASSERT_EQ(got.n_io_throttle, 0);

    /* No memory limit at all, swap not mentioned: memsw must follow. */
    struct kk_cg_resources unlimited = {.memory_max = KK_CG_MAX};
    KT_ASSERT_OK(kk_cg_apply(cg, &leaf, &unlimited, &err), &err);
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.memory_max, KK_CG_MAX);

    /* Bad input never reaches the kernel. */
    struct kk_cg_resources bad = {.cpu_weight = 10001};
    KT_ASSERT(kk_cg_apply(cg, &leaf, &bad, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 1000, &err), &err);
}

/* The cgroup2 line ("0::/path") of /proc/PID/cgroup is `path`. */
static bool proc_in_cgroup_v2(pid_t pid, const char *path)
{
    _cleanup_free_ char *p = kk_xasprintf("/proc/%d/cgroup", (int)pid);
    _cleanup_free_ char *want = kk_xasprintf("0::%s", path);
    if (file_has_line(p, want))
        return true;
    _cleanup_free_ char *text = read_text(p);
    fprintf(stderr, "  pid %d not in %s: %s\n", (int)pid, path, text ? text : "?");
    return false;
}

KT_CASE(process_placed_frozen_thawed)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_v1(&cg, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);

    volatile unsigned long *count;
    pid_t pid = spawn_counter(&count, 0);
    KT_ASSERT(pid > 0);
    KT_ASSERT_OK(kk_cg_place(cg, &leaf, pid, &err), &err);

    _cleanup_free_ char *path = NULL;
    KT_ASSERT_OK(kk_cg_runc_path(cg, &leaf, &path, &err), &err);
    size_t lines;
    KT_ASSERT(proc_in_cgroup(pid, path, &lines));
    char mounts[MAX_MOUNTS][256];
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS);
    KT_ASSERT_EQ(lines, n); /* in every hierarchy, the unified one too */
    char pidline[16];
    snprintf(pidline, sizeof(pidline), "%d", (int)pid);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *procs = kk_xasprintf("%s%s/cgroup.procs", mounts[i], path);
        KT_ASSERT_MSG(file_has_line(procs, pidline), "pid %d not in %s", (int)pid, procs);
    }
    _cleanup_free_ pid_t *pids = NULL;
    size_t np = 0;
    KT_ASSERT_OK(kk_cg_procs(cg, &leaf, &pids, &np, &err), &err);
    KT_ASSERT_EQ(np, 1);
    KT_ASSERT_EQ(pids[0], pid);
    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(st.populated && !st.frozen);
    kk_cg_status_release(&st);

    /* Pause the whole cell: the child stops counting. */
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, true, 2000, &err), &err);
    _cleanup_free_ char *fz = cg->mode == KK_CG_MODE_V1
                                      ? kk_xasprintf(MOUNT "/freezer%s/freezer.state", path)
                                      : kk_xasprintf(MOUNT "%s/cgroup.events", path);
    _cleanup_free_ char *state = read_text(fz);
    KT_ASSERT_MSG(state && strstr(state, cg->mode == KK_CG_MODE_V1 ? "FROZEN" : "frozen 1"),
                  "%s: %s", fz, state ? state : "(missing)");
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(st.frozen);
    kk_cg_status_release(&st);
    unsigned long c1 = *count;
    usleep(150 * 1000);
    KT_ASSERT_MSG(*count == c1, "counter moved while frozen: %lu -> %lu", c1, *count);
    _cleanup_free_ char *statp = kk_xasprintf("/proc/%d/stat", (int)pid);
    _cleanup_free_ char *stat = read_text(statp);
    fprintf(stderr, "  frozen child: state %c\n",
            stat && strrchr(stat, ')') ? strrchr(stat, ')')[2] : '?');
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, true, 2000, &err), &err); /* idempotent */

    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, false, 2000, &err), &err);
    KT_ASSERT_MSG(counts_past(count, c1 + 10, 3000), "counter still at %lu after thaw", *count);
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(!st.frozen);
    kk_cg_status_release(&st);

    reap(pid);
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 2000, &err), &err);
}

KT_CASE(remove_waits_for_an_emptied_cgroup)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(open_v1(&cg, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);

    /* Busy: a clear error naming the process, and nothing removed. */
    volatile unsigned long *count;
    pid_t pid = spawn_counter(&count, 0);
    KT_ASSERT(pid > 0);
    KT_ASSERT_OK(kk_cg_place(cg, &leaf, pid, &err), &err);
    KT_ASSERT(kk_cg_remove(cg, &cell, 200, &err) < 0);
    fprintf(stderr, "  %s\n", err->message);
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    KT_ASSERT_STREQ(err->reason, "CgroupBusy");
    char pidstr[16];
    snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
    KT_ASSERT_MSG(strstr(err->message, pidstr), "message: %s", err->message);
    kk_error_freep(&err);
    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_status(cg, &leaf, &st, &err), &err);
    KT_ASSERT(st.ready);
    kk_cg_status_release(&st);
    reap(pid);

    /* A process that ends by itself 300 ms from now: remove waits for it. */
    pid = spawn_counter(&count, 300);
    KT_ASSERT(pid > 0);
    KT_ASSERT_OK(kk_cg_place(cg, &leaf, pid, &err), &err);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    KT_ASSERT_OK(kk_cg_remove(cg, &cell, 5000, &err), &err);
    long ms = elapsed_ms(&t0);
    fprintf(stderr, "  remove waited %ld ms\n", ms);
    KT_ASSERT_MSG(ms >= 150 && ms < 5000, "remove took %ld ms", ms);
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(!st.ready);
    kk_cg_status_release(&st);
    reap(pid);
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 1000, &err), &err);
}

/* The v2 code on a real cgroup2 mount: hierarchy, placement, cgroup.freeze
 * and cgroup.events, removal woken by inotify. */
KT_CASE(v2_core_on_real_cgroup2)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    if (access(MOUNT "/unified/cgroup.procs", F_OK) == 0) {
        KT_ASSERT_OK(open_v2(&cg, &err), &err);
    } else {
        struct kk_cg_config cfg = {.root = root2}; /* a pure v2 host */
        KT_ASSERT_OK(kk_cg_open_real(&cfg, &cg, &err), &err);
    }
    KT_ASSERT_EQ(cg->mode, KK_CG_MODE_V2);

    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, KK_CG_ENSURE_NESTED, &st, &err), &err);
    KT_ASSERT(st.ready && !st.populated && !st.frozen);
    KT_ASSERT_EQ(st.controllers, cg->available & ~0u); /* everything offered */
    kk_cg_status_release(&st);
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT_EQ(st.controllers, cg->available);
    kk_cg_status_release(&st);

    volatile unsigned long *count;
    pid_t pid = spawn_counter(&count, 0);
    KT_ASSERT(pid > 0);
    KT_ASSERT_OK(kk_cg_place(cg, &leaf, pid, &err), &err);
    _cleanup_free_ pid_t *pids = NULL;
    size_t np = 0;
    KT_ASSERT_OK(kk_cg_procs(cg, &leaf, &pids, &np, &err), &err);
    KT_ASSERT(np == 1 && pids[0] == pid);
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT(st.populated);
    kk_cg_status_release(&st);

    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, true, 2000, &err), &err);
    KT_ASSERT_OK(kk_cg_status(cg, &leaf, &st, &err), &err);
    KT_ASSERT(st.frozen);
    kk_cg_status_release(&st);
    unsigned long c1 = *count;
    usleep(150 * 1000);
    KT_ASSERT_MSG(*count == c1, "counter moved while frozen: %lu -> %lu", c1, *count);
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, false, 2000, &err), &err);
    KT_ASSERT_MSG(counts_past(count, c1 + 10, 3000), "counter still at %lu after thaw", *count);

    KT_ASSERT(kk_cg_remove(cg, &cell, 200, &err) < 0);
    KT_ASSERT_STREQ(err->reason, "CgroupBusy");
    kk_error_freep(&err);
    reap(pid);

    pid = spawn_counter(&count, 300);
    KT_ASSERT(pid > 0);
    KT_ASSERT_OK(kk_cg_place(cg, &leaf, pid, &err), &err);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 5000, &err), &err);
    long ms = elapsed_ms(&t0);
    fprintf(stderr, "  v2 remove waited %ld ms\n", ms);
    KT_ASSERT_MSG(ms >= 150 && ms < 5000, "remove took %ld ms", ms);
    KT_ASSERT_OK(kk_cg_status(cg, &top, &st, &err), &err);
    KT_ASSERT(!st.ready);
    kk_cg_status_release(&st);
    reap(pid);
}

static bool write_file(const char *path, const char *value, int *errnum)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value);
    *errnum = ok ? 0 : errno;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* The no-internal-process rule, with the kernel as referee: a cgroup that
 * holds a process cannot delegate; ensure says so, or moves the process to
 * "_internal" first when asked. */
KT_CASE(v2_no_internal_processes_on_real_cgroup2)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    const char *mount = MOUNT "/unified";
    if (access(MOUNT "/unified/cgroup.procs", F_OK) == 0) {
        KT_ASSERT_OK(open_v2(&cg, &err), &err);
    } else {
        struct kk_cg_config cfg = {.root = root2};
        KT_ASSERT_OK(kk_cg_open_real(&cfg, &cg, &err), &err);
        mount = MOUNT;
    }
    KT_ASSERT_EQ(cg->mode, KK_CG_MODE_V2);
    if (!cg->available) {
        fprintf(stderr, "  %s offers no controller: nothing to delegate, case not run\n", mount);
        return;
    }
    _cleanup_free_ char *names = kk_cg_controllers_format(cg->available, cg->mode);
    fprintf(stderr, "  delegating \"%s\" on %s\n", names, mount);

    /* A cell cgroup someone else made, with a process in it. */
    const struct kk_cg_ref stack = {"r1", "s1", "st1", NULL, NULL, NULL};
    const struct kk_cg_ref other = {"r1", "s1", "st1", "c2", NULL, NULL};
    KT_ASSERT_OK(kk_cg_ensure(cg, &stack, KK_CG_ENSURE_NESTED, NULL, &err), &err);
    _cleanup_free_ char *c2 = kk_xasprintf("%s/%s/r1/s1/st1/c2", mount, root2);
    KT_ASSERT(mkdir(c2, 0755) == 0);
    volatile unsigned long *count;
    pid_t pid = spawn_counter(&count, 0);
    KT_ASSERT(pid > 0);
    char pidstr[16];
    snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
    _cleanup_free_ char *procs = kk_xasprintf("%s/cgroup.procs", c2);
    int errnum;
    KT_ASSERT(write_file(procs, pidstr, &errnum));

    /* The kernel refuses the delegation... */
    _cleanup_free_ char *ctl = kk_xasprintf("%s/cgroup.subtree_control", c2);
    _cleanup_free_ char *plus = kk_xasprintf(
            "+%s", kk_cg_controller_name(cg->available & -cg->available, KK_CG_MODE_V2));
    KT_ASSERT(!write_file(ctl, plus, &errnum));
    KT_ASSERT_EQ(errnum, EBUSY);
    /* ... and ensure explains why, naming the process. */
    KT_ASSERT(kk_cg_ensure(cg, &other, KK_CG_ENSURE_NESTED, NULL, &err) < 0);
    KT_ASSERT_STREQ(err->reason, "CgroupInternalProcesses");
    KT_ASSERT_MSG(strstr(err->message, pidstr), "message: %s", err->message);
    kk_error_freep(&err);

    /* Asked to, it moves the process into a leaf and delegates. */
    struct kk_cg_status st = {0};
    KT_ASSERT_OK(
            kk_cg_ensure(cg, &other, KK_CG_ENSURE_NESTED | KK_CG_ENSURE_MOVE_INTERNAL, &st, &err),
            &err);
    KT_ASSERT_EQ(st.controllers, cg->available);
    kk_cg_status_release(&st);
    _cleanup_free_ char *where = kk_xasprintf("/%s/r1/s1/st1/c2/_internal", root2);
    KT_ASSERT(proc_in_cgroup_v2(pid, where));
    KT_ASSERT(counts_past(count, *count + 5, 3000)); /* still running */

    reap(pid);
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 2000, &err), &err);
    _cleanup_free_ char *gone = kk_xasprintf("%s/%s", mount, root2);
    KT_ASSERT(!is_dir(gone));
}

/* In the child: kukeond as a nested workload. Its container's leaf is the
 * root of its cgroup namespace and of the cgroup2 it mounts, and holds
 * kukeond itself: the kernel's EBUSY on delegation is the only sign. */
static int nested_child(const char *mnt, int ready_fd)
{
    char c;
    if (read(ready_fd, &c, 1) != 1)
        return 2;
    if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("none", mnt, "cgroup2", 0, NULL) < 0) {
        perror("  namespace setup");
        return 3;
    }
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    struct kk_cg_config cfg = {.mount = mnt, .root = "inner", .mode = KK_CG_MODE_V2};
    const struct kk_cg_ref ref = {"r", "s", "st", "c", NULL, NULL};
    struct kk_cg_status st = {0};
    if (kk_cg_open_real(&cfg, &cg, &err) < 0 || !cg->available) {
        fprintf(stderr, "  open: %s\n", err ? err->message : "no controllers");
        return 4;
    }
    if (kk_cg_ensure(cg, &ref, KK_CG_ENSURE_NESTED, NULL, &err) == 0 || !err->reason ||
        strcmp(err->reason, "CgroupInternalProcesses") != 0) {
        fprintf(stderr, "  ensure without moving: %s\n", err ? err->message : "succeeded");
        return 5;
    }
    fprintf(stderr, "  as expected: %s\n", err->message);
    kk_error_freep(&err);
    if (kk_cg_ensure(cg, &ref, KK_CG_ENSURE_NESTED | KK_CG_ENSURE_MOVE_INTERNAL, &st, &err) < 0) {
        fprintf(stderr, "  ensure moving: %s\n", err->message);
        return 6;
    }
    bool ok = st.ready && st.controllers == cg->available;
    kk_cg_status_release(&st);
    return ok ? 0 : 7;
}

KT_CASE(v2_nested_runtime_in_a_cgroup_namespace)
{
    KT_REQUIRE_ROOT();
    setup();
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    const char *mount = MOUNT "/unified";
    if (access(MOUNT "/unified/cgroup.procs", F_OK) == 0) {
        KT_ASSERT_OK(open_v2(&cg, &err), &err);
    } else {
        struct kk_cg_config cfg = {.root = root2};
        KT_ASSERT_OK(kk_cg_open_real(&cfg, &cg, &err), &err);
        mount = MOUNT;
    }
    if (!cg->available) {
        fprintf(stderr, "  %s offers no controller: nothing to delegate, case not run\n", mount);
        return;
    }
    /* The nested kukeond's container: a leaf of a nested cell. */
    const struct kk_cg_ref app = {"r1", "s1", "st1", "c9", "kukeond", "root"};
    KT_ASSERT_OK(kk_cg_ensure(cg, &app, KK_CG_ENSURE_NESTED, NULL, &err), &err);
    _cleanup_free_ char *mnt = kk_xasprintf("%s/cg2", kt_tmpdir());
    KT_ASSERT(mkdir(mnt, 0755) == 0);

    int pipefd[2];
    KT_ASSERT(pipe2(pipefd, O_CLOEXEC) == 0);
    pid_t pid = fork();
    if (pid == 0)
        _exit(nested_child(mnt, pipefd[0]));
    close(pipefd[0]);
    KT_ASSERT(pid > 0);
    if (n_children < KK_ARRAY_SIZE(children))
        children[n_children++] = pid;
    KT_ASSERT_OK(kk_cg_place(cg, &app, pid, &err), &err);
    KT_ASSERT(write(pipefd[1], "x", 1) == 1);
    close(pipefd[1]);
    int status;
    KT_ASSERT(waitpid(pid, &status, 0) == pid);
    n_children--;
    KT_ASSERT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nested child: status %d",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    /* Seen from the host: the leaf now delegates, its process went to
     * _internal, and the nested tree lives below. */
    _cleanup_free_ char *leafdir = kk_xasprintf("%s/%s/r1/s1/st1/c9/kukeond_root", mount, root2);
    _cleanup_free_ char *ctl = kk_xasprintf("%s/cgroup.subtree_control", leafdir);
    _cleanup_free_ char *have = read_text(ctl);
    _cleanup_free_ char *want = kk_cg_controllers_format(cg->available, cg->mode);
    KT_ASSERT_STREQ(have, want);
    _cleanup_free_ char *inner = kk_xasprintf("%s/inner/r/s/st/c", leafdir);
    _cleanup_free_ char *internal = kk_xasprintf("%s/_internal", leafdir);
    KT_ASSERT(is_dir(inner) && is_dir(internal));
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 2000, &err), &err);
}

/* Last: after the cleanup that also runs on failure, nothing of ours is
 * left in any hierarchy. */
KT_CASE(nothing_left_behind)
{
    KT_REQUIRE_ROOT();
    setup();
    cleanup();
    char mounts[MAX_MOUNTS][256];
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *a = kk_xasprintf("%s/%s", mounts[i], root1);
        _cleanup_free_ char *b = kk_xasprintf("%s/%s", mounts[i], root2);
        KT_ASSERT_MSG(!is_dir(a), "%s left behind", a);
        KT_ASSERT_MSG(!is_dir(b), "%s left behind", b);
    }
    KT_ASSERT(n > 0);
}
