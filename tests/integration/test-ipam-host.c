/* The subnet allocator against a real kernel's addresses and routes (root),
 * in a network namespace of the test's own: a dummy link holding an address
 * inside the pool, and a route to another of the pool's /24s, make the real
 * backend skip both subnets, and kk_ipam_host_overlaps names them. The
 * namespace is unshared by one thread and dies with it, so nothing of the
 * host is touched and nothing is left behind.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/net/hostnets.h"
#include "runtime/net/ipam.h"
#include "runtime/net/net.h"
#include "runtime/net/nl.h"
#include "tests/lib/kktest.h"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *cmd = NULL;
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    _cleanup_free_ char *quiet = kk_xasprintf("(%s) >/dev/null 2>&1", cmd);
    int r = system(quiet);
    return WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

struct run {
    unsigned x; /* the pool is 10.x.0.0/16 */
    char dir[256];
    /* results, read by the main thread after join */
    char setup_err[256];
    char first[KK_NET_CIDRSTRLEN], second[KK_NET_CIDRSTRLEN];
    char explicit_err[512];
    int overlaps;
    char report[2][KK_IPAM_HOSTNET_STRLEN];
};

static void on_overlap(void *ctx, const struct kk_ipv4_net *pool, const struct kk_hostnet *hn)
{
    (void)pool;
    struct run *r = ctx;
    if (r->overlaps < 2)
        kk_ipam_format_hostnet(hn, r->report[r->overlaps]);
    r->overlaps++;
}

static void *in_private_netns(void *arg)
{
    struct run *r = arg;
    _cleanup_error_ kk_error *err = NULL;
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(r->setup_err, sizeof(r->setup_err), "unshare(CLONE_NEWNET): %m");
        return NULL;
    }
    /* Children of this thread (system) run in its namespace. */
    /* A dummy link where the kernel has the module, else an empty bridge
     * (the test VMs have no dummy.ko): either just holds an address. */
    if (sh("ip link set lo up && "
           "{ ip link add lan0 type dummy || ip link add lan0 type bridge; } && "
           "ip addr add 10.%u.0.1/24 dev lan0 && ip link set lan0 up && "
           "ip route add 10.%u.1.0/24 dev lan0",
           r->x, r->x) != 0) {
        snprintf(r->setup_err, sizeof(r->setup_err), "ip could not set up the dummy link");
        return NULL;
    }
    _cleanup_free_ char *pool = kk_xasprintf("10.%u.0.0/16", r->x);
    _cleanup_free_ char *ns = kk_xasprintf("%s/netns", r->dir);
    _cleanup_free_ char *st = kk_xasprintf("%s/ipam", r->dir);
    struct kk_net_config cfg = {"kkt", "kku", ns, st, pool};
    r->overlaps = kk_ipam_host_overlaps(pool, "kkt", on_overlap, r, &err);
    if (r->overlaps < 0) {
        snprintf(r->setup_err, sizeof(r->setup_err), "host overlaps: %s", err->message);
        return NULL;
    }
    _cleanup_net_ struct kk_net *net = NULL;
    if (kk_net_new(&cfg, &net, &err) < 0) {
        snprintf(r->setup_err, sizeof(r->setup_err), "kk_net_new: %s", err->message);
        return NULL;
    }
    struct kk_net_space sp;
    if (kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "a", NULL}, &sp, &err) < 0) {
        snprintf(r->setup_err, sizeof(r->setup_err), "space a: %s", err->message);
        return NULL;
    }
    snprintf(r->first, sizeof(r->first), "%s", sp.subnet);
    /* Our own bridge's address is not "the host's": b is next, not later. */
    if (kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "b", NULL}, &sp, &err) < 0) {
        snprintf(r->setup_err, sizeof(r->setup_err), "space b: %s", err->message);
        return NULL;
    }
    snprintf(r->second, sizeof(r->second), "%s", sp.subnet);
    _cleanup_free_ char *want = kk_xasprintf("10.%u.1.0/24", r->x);
    if (kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "c", want}, &sp, &err) < 0)
        snprintf(r->explicit_err, sizeof(r->explicit_err), "%s", err->message);
    return NULL;
}

KT_CASE(allocator_skips_the_hosts_address_and_route)
{
    KT_REQUIRE_ROOT();
    struct run r = {.x = 150 + (unsigned)getpid() % 40};
    snprintf(r.dir, sizeof(r.dir), "%s", kt_tmpdir());
    pthread_t t;
    KT_ASSERT(pthread_create(&t, NULL, in_private_netns, &r) == 0);
    pthread_join(t, NULL);
    KT_ASSERT_MSG(!r.setup_err[0], "%s", r.setup_err);
    char want[KK_NET_CIDRSTRLEN];
    snprintf(want, sizeof(want), "10.%u.2.0/24", r.x);
    KT_ASSERT_STREQ(r.first, want);
    snprintf(want, sizeof(want), "10.%u.3.0/24", r.x);
    KT_ASSERT_STREQ(r.second, want);
    KT_ASSERT_MSG(strstr(r.explicit_err, "overlaps") && strstr(r.explicit_err, "on the host"),
                  "explicit subnet on the route: \"%s\"", r.explicit_err);
    /* The address's network, its kernel route, and the added route. */
    KT_ASSERT_MSG(r.overlaps == 3, "%d overlaps", r.overlaps);
    char addr[KK_IPAM_HOSTNET_STRLEN];
    snprintf(addr, sizeof(addr), "10.%u.0.0/24 (address on lan0)", r.x);
    KT_ASSERT_STREQ(r.report[0], addr);
}

/* ---- a dump while the table changes -------------------------------------- */

struct churn {
    int nsfd;
    unsigned x;
    volatile int stop;
    char err[128];
};

/* Adds and deletes one address, in the test's namespace, until told. */
static void *churner(void *arg)
{
    struct churn *c = arg;
    if (setns(c->nsfd, CLONE_NEWNET) < 0) {
        snprintf(c->err, sizeof(c->err), "setns: %m");
        return NULL;
    }
    while (!c->stop)
        sh("ip addr add 10.%u.255.1/32 dev lan0; ip addr del 10.%u.255.1/32 dev lan0", c->x, c->x);
    return NULL;
}

struct dumps {
    unsigned x;
    char setup_err[256];
    unsigned runs, failures, min_seen;
    char first_failure[256];
};

static void *dump_under_churn(void *arg)
{
    struct dumps *d = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(d->setup_err, sizeof(d->setup_err), "unshare(CLONE_NEWNET): %m");
        return NULL;
    }
    /* Enough addresses that a dump takes several reads: the kernel can only
     * mark a dump interrupted between two of them. */
    _cleanup_free_ char *batch = kk_xasprintf("%s/addrs", kt_tmpdir());
    FILE *f = fopen(batch, "w");
    if (!f) {
        snprintf(d->setup_err, sizeof(d->setup_err), "%s: %m", batch);
        return NULL;
    }
    for (unsigned i = 0; i < 3000; i++)
        fprintf(f, "addr add 10.%u.%u.%u/32 dev lan0\n", d->x, i / 250, i % 250 + 1);
    fclose(f);
    if (sh("ip link set lo up && { ip link add lan0 type dummy || ip link add lan0 type bridge; } "
           "&& ip link set lan0 up && ip -batch %s",
           batch) != 0) {
        snprintf(d->setup_err, sizeof(d->setup_err), "ip could not set up 3000 addresses");
        return NULL;
    }
    struct churn c = {.nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), .x = d->x};
    pthread_t t;
    if (c.nsfd < 0 || pthread_create(&t, NULL, churner, &c) != 0) {
        snprintf(d->setup_err, sizeof(d->setup_err), "churner: %m");
        return NULL;
    }
    struct kk_nl nl = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_nl_open(&nl, &err) == 0) {
        d->min_seen = UINT32_MAX;
        for (d->runs = 0; d->runs < 300; d->runs++) {
            _cleanup_free_ struct kk_hostnet *v = NULL;
            size_t n = 0;
            if (kk_hostnets_list_nl(&nl, NULL, &v, &n, &err) < 0) {
                if (!d->failures++)
                    snprintf(d->first_failure, sizeof(d->first_failure), "%s", err->message);
                kk_error_freep(&err);
                continue;
            }
            if (n < d->min_seen)
                d->min_seen = (unsigned)n;
        }
        kk_nl_close(&nl);
    } else {
        snprintf(d->setup_err, sizeof(d->setup_err), "netlink: %s", err->message);
    }
    c.stop = 1;
    pthread_join(t, NULL);
    close(c.nsfd);
    return NULL;
}

/* The kernel marks a dump NLM_F_DUMP_INTR when the table changes between
 * two of its reads (other agents' links, containers coming and going): the
 * dump is read again rather than failing the space's allocation. */
KT_CASE(dump_survives_a_changing_table)
{
    KT_REQUIRE_ROOT();
    struct dumps d = {.x = 150 + (unsigned)getpid() % 40};
    pthread_t t;
    KT_ASSERT(pthread_create(&t, NULL, dump_under_churn, &d) == 0);
    pthread_join(t, NULL);
    KT_ASSERT_MSG(!d.setup_err[0], "%s", d.setup_err);
    KT_ASSERT_MSG(d.failures == 0, "%u of %u dumps failed, first: %s", d.failures, d.runs,
                  d.first_failure);
    KT_ASSERT_MSG(d.min_seen >= 3000, "a dump saw only %u networks", d.min_seen);
}
