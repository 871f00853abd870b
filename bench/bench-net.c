/* bench-net: cell network setup and teardown, kukeon (runtime/net, one
 * process, batched rtnetlink) against the same steps done with ip(8)
 * commands, in the same run, alternating, on the same bridge.
 *
 *   KK_BENCH_ITERS=50 bench-net     (root; built on the kktest harness, so
 *                                    it ends with a PASS/FAIL line)
 *
 * Setup = named namespace, lo up, veth pair with the host end on the bridge
 * and up, eth0 inside up, address, default route. kukeon's setup also
 * persists the IPAM allocation (fsync'ed) first, which the ip(8) version
 * does not do at all; the state directory is KK_BENCH_STATE_DIR (default
 * under /var/tmp: a real disk, as /var/lib in production).
 * Teardown = delete the veth pair and the namespace (and, for kukeon,
 * release the allocation).
 *
 * Every name carries the pid; everything is removed at the end, also on
 * failure and on fatal signals (kt_atexit).
 */
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/net/net.h"
#include "tests/lib/kktest.h"

extern char **environ;

static char bridge_prefix[16], veth_prefix[16], base[64], netns_dir[96], state_dir[128], pool[32],
        ipns[64], ipveth[16];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs argv (no shell: fork+exec is what each ip(8) step costs). */
static int run(const char *arg0, ...)
{
    const char *argv[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char **)argv, environ) != 0)
        return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int quiet(const char *cmd)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "(%s) >/dev/null 2>&1", cmd);
    return system(buf);
}

static void cleanup(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | "
             "grep -E '^(%s|%s|%s)'); do ip link del $l; done; ip netns del %s",
             bridge_prefix, veth_prefix, ipveth, ipns);
    quiet(cmd);
    snprintf(cmd, sizeof(cmd),
             "for f in %s/*; do umount -l $f; rm -f $f; done; umount -l %s; rm -rf %s %s",
             netns_dir, netns_dir, base, state_dir);
    quiet(cmd);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

KT_CASE(cell_setup_teardown_vs_ip)
{
    KT_REQUIRE_ROOT();
    const char *env = getenv("KK_BENCH_ITERS");
    int iters = env ? atoi(env) : 50;
    KT_ASSERT_MSG(iters >= 1 && iters <= 10000, "KK_BENCH_ITERS must be 1..10000");
    unsigned pid = (unsigned)getpid();
    snprintf(bridge_prefix, sizeof(bridge_prefix), "bb%05x", pid & 0xfffff);
    snprintf(veth_prefix, sizeof(veth_prefix), "bv%05x", pid & 0xfffff);
    snprintf(ipveth, sizeof(ipveth), "bi%05x", pid & 0xfffff);
    snprintf(base, sizeof(base), "/run/kkbench-net-%u", pid);
    snprintf(netns_dir, sizeof(netns_dir), "%s/netns", base);
    const char *sd = getenv("KK_BENCH_STATE_DIR");
    snprintf(state_dir, sizeof(state_dir), "%s/kkbench-net-%u", sd ? sd : "/var/tmp", pid);
    snprintf(pool, sizeof(pool), "10.%u.0.0/16", 190 + pid % 10);
    snprintf(ipns, sizeof(ipns), "kkbench-%u", pid);
    kt_atexit(cleanup);

    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = {bridge_prefix, veth_prefix, netns_dir, state_dir, pool};
    _cleanup_net_ struct kk_net *net = NULL;
    struct kk_net_space sp;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    KT_ASSERT_OK(
            kk_net_space_ensure(net, &(struct kk_net_space_spec){"bench", "s", NULL}, &sp, &err),
            &err);
    char ipaddr[32];
    /* The ip(8) cell takes .250, far from what IPAM hands out here. */
    snprintf(ipaddr, sizeof(ipaddr), "%.*s.250/%u", (int)(strrchr(sp.gateway, '.') - sp.gateway),
             sp.gateway, sp.prefix_len);

    const int warmup = 3;
    _cleanup_free_ double *ks = kk_xcalloc((size_t)iters, sizeof(double));
    _cleanup_free_ double *kt = kk_xcalloc((size_t)iters, sizeof(double));
    _cleanup_free_ double *is = kk_xcalloc((size_t)iters, sizeof(double));
    _cleanup_free_ double *it = kk_xcalloc((size_t)iters, sizeof(double));
    struct kk_net_cell_spec spec = {"bench", "s", "st", "cell"};
    for (int i = -warmup; i < iters; i++) {
        double t0 = now_ms();
        struct kk_net_cell cell;
        KT_ASSERT_OK(kk_net_cell_ensure(net, &spec, &cell, &err), &err);
        double t1 = now_ms();
        KT_ASSERT_OK(kk_net_cell_remove(net, &spec, 0, &err), &err);
        double t2 = now_ms();

        int rc = 0;
        rc |= run("ip", "netns", "add", ipns, NULL);
        rc |= run("ip", "link", "add", ipveth, "type", "veth", "peer", "name", "eth0", "netns",
                  ipns, NULL);
        rc |= run("ip", "link", "set", ipveth, "master", sp.bridge, "up", NULL);
        rc |= run("ip", "-n", ipns, "link", "set", "lo", "up", NULL);
        rc |= run("ip", "-n", ipns, "link", "set", "eth0", "up", NULL);
        rc |= run("ip", "-n", ipns, "addr", "add", ipaddr, "dev", "eth0", NULL);
        rc |= run("ip", "-n", ipns, "route", "add", "default", "via", sp.gateway, NULL);
        double t3 = now_ms();
        rc |= run("ip", "link", "del", ipveth, NULL);
        rc |= run("ip", "netns", "del", ipns, NULL);
        double t4 = now_ms();
        KT_ASSERT_MSG(rc == 0, "an ip(8) command failed");
        if (i >= 0) {
            ks[i] = t1 - t0, kt[i] = t2 - t1, is[i] = t3 - t2, it[i] = t4 - t3;
        }
    }
    KT_ASSERT_OK(kk_net_space_remove(net, "bench", "s", &err), &err);

    double kmean = mean(ks, iters), imean = mean(is, iters);
    double ktmean = mean(kt, iters), itmean = mean(it, iters);
    double kmed = median(ks, iters), imed = median(is, iters);
    double ktmed = median(kt, iters), itmed = median(it, iters);
    printf("bench-net: %d iterations (state dir %s)\n", iters, sd ? sd : "/var/tmp");
    printf("  setup     kukeon  median %7.3f ms  mean %7.3f ms\n", kmed, kmean);
    printf("  setup     ip(8)   median %7.3f ms  mean %7.3f ms\n", imed, imean);
    printf("  teardown  kukeon  median %7.3f ms  mean %7.3f ms\n", ktmed, ktmean);
    printf("  teardown  ip(8)   median %7.3f ms  mean %7.3f ms\n", itmed, itmean);
    printf("  ratio setup kukeon/ip = %.3f (median), %.3f (mean); goal <= 0.2\n", kmed / imed,
           kmean / imean);
    printf("  ratio teardown kukeon/ip = %.3f (median)\n", ktmed / itmed);
    fflush(stdout);
}
