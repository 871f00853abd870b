/* IPAM against the host's own networks, with a fake host (no netlink): the
 * overlap report behind the agent's start-up warning and `kuke doctor`, the
 * allocator skipping routed networks, and the default pool staying clear of
 * the defaults of other tools. */
#include <string.h>

#include "fsapi/contract.h"
#include "fsapi/error.h"
#include "runtime/net/hostnets.h"
#include "runtime/net/ipam.h"
#include "runtime/net/net.h"
#include "tests/lib/kktest.h"

static void ipam_closep(struct kk_ipam *ipam)
{
    kk_ipam_close(ipam);
}
#define _cleanup_ipam_ _cleanup_(ipam_closep)

static struct kk_hostnet hn(const char *cidr, bool route, const char *dev)
{
    struct kk_hostnet h = {.route = route};
    kk_error *err = NULL;
    if (kk_ipam_parse_cidr(cidr, 0, 32, &h.net, &err) < 0)
        kk_error_free(err);
    snprintf(h.dev, sizeof(h.dev), "%s", dev);
    return h;
}

/* A fake host: a fixed list, filtered by the skip prefix like the real one. */
struct fake_host {
    const struct kk_hostnet *nets;
    size_t n;
    const char *last_skip;
    unsigned calls;
    bool fail;
};

static int fake_list(void *ctx, const char *skip_prefix, struct kk_hostnet **out, size_t *n,
                     kk_error **err)
{
    struct fake_host *f = ctx;
    f->calls++;
    f->last_skip = skip_prefix;
    if (f->fail)
        return kk_error_set(err, KK_E_UNAVAILABLE, "netlink down");
    struct kk_hostnet *v = kk_xmalloc((f->n + 1) * sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (!skip_prefix || strncmp(f->nets[i].dev, skip_prefix, strlen(skip_prefix)) != 0)
            v[k++] = f->nets[i];
    *out = v;
    *n = k;
    return 0;
}

struct report {
    char lines[8][KK_IPAM_HOSTNET_STRLEN + 24];
    size_t n;
};

static void on_overlap(void *ctx, const struct kk_ipv4_net *pool, const struct kk_hostnet *h)
{
    struct report *r = ctx;
    char p[KK_NET_CIDRSTRLEN], s[KK_IPAM_HOSTNET_STRLEN];
    kk_ipam_format_cidr(pool, p);
    kk_ipam_format_hostnet(h, s);
    if (r->n < 8)
        snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s: %s", p, s);
}

KT_CASE(host_overlaps_reports_routes_and_addresses)
{
    _cleanup_error_ kk_error *err = NULL;
    const struct kk_hostnet nets[] = {
            hn("192.168.1.0/24", false, "eth0"), /* the LAN: outside the pool */
            hn("10.60.0.0/16", true, "tun0"),    /* a VPN route around the pool's /24s */
            hn("10.60.7.0/24", false, "cni-podman1"),
            hn("10.60.9.0/24", false, "kkb12345678"), /* our own bridge: skipped */
            hn("10.61.0.0/24", true, "wg0"),          /* next to the pool */
            hn("10.0.0.0/8", true, ""),               /* a blackhole around everything */
    };
    struct fake_host f = {nets, KK_ARRAY_SIZE(nets), NULL, 0, false};
    struct kk_hostnets_source src = {fake_list, &f};
    struct report r = {.n = 0};
    int n = kk_ipam_host_overlaps_from(&src, "10.60.0.0/16", "kkb", on_overlap, &r, &err);
    KT_ASSERT_OK(n, &err);
    KT_ASSERT_EQ(n, 3);
    KT_ASSERT_STREQ(f.last_skip, "kkb");
    KT_ASSERT_EQ(r.n, 3);
    KT_ASSERT_STREQ(r.lines[0], "10.60.0.0/16: 10.60.0.0/16 (route on tun0)");
    KT_ASSERT_STREQ(r.lines[1], "10.60.0.0/16: 10.60.7.0/24 (address on cni-podman1)");
    KT_ASSERT_STREQ(r.lines[2], "10.60.0.0/16: 10.0.0.0/8 (route)");

    /* Nothing overlapping: 0 and no call. */
    struct fake_host clean = {nets, 1, NULL, 0, false};
    src.ctx = &clean;
    r.n = 0;
    KT_ASSERT_EQ(kk_ipam_host_overlaps_from(&src, "10.60.0.0/16", "kkb", on_overlap, &r, &err), 0);
    KT_ASSERT_EQ(r.n, 0);
}

KT_CASE(host_overlaps_errors)
{
    _cleanup_error_ kk_error *err = NULL;
    struct fake_host f = {NULL, 0, NULL, 0, true};
    struct kk_hostnets_source src = {fake_list, &f};
    KT_ASSERT(kk_ipam_host_overlaps_from(&src, "10.60.0.0/16", "kkb", NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAVAILABLE);
    kk_error_freep(&err);
    /* A bad pool is refused before the host is asked. */
    f.calls = 0;
    KT_ASSERT(kk_ipam_host_overlaps_from(&src, "10.60.0.1/16", "kkb", NULL, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
    KT_ASSERT_EQ(f.calls, 0u);
}

/* The allocator, given the fake host's networks as `avoid` (what the real
 * backend passes from kk_hostnets_ipv4), skips every /24 a route or an
 * address covers, and refuses an explicit subnet inside one. */
KT_CASE(allocator_skips_routed_subnets)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ipam_ struct kk_ipam ipam = {.dirfd = -1};
    const struct kk_hostnet nets[] = {
            hn("10.60.0.0/23", true, "wg0"),          /* .0 and .1 routed */
            hn("10.60.2.128/25", true, "tun0"),       /* half of .2 */
            hn("10.60.3.1/32", false, "dummy0"),      /* one address in .3 */
            hn("10.60.4.0/24", false, "kkb0000aaaa"), /* ours: not avoided */
    };
    struct fake_host f = {nets, KK_ARRAY_SIZE(nets), NULL, 0, false};
    _cleanup_free_ struct kk_hostnet *list = NULL;
    size_t n = 0;
    KT_ASSERT_OK(fake_list(&f, "kkb", &list, &n, &err), &err);
    struct kk_ipv4_net avoid[8];
    for (size_t i = 0; i < n; i++)
        avoid[i] = list[i].net;
    KT_ASSERT_OK(kk_ipam_open(&ipam, kt_tmpdir(), "10.60.0.0/16", &err), &err);
    struct kk_ipv4_net a, b;
    char s[KK_NET_CIDRSTRLEN];
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "a", NULL, avoid, n, &a, &err), &err);
    kk_ipam_format_cidr(&a, s);
    KT_ASSERT_STREQ(s, "10.60.4.0/24");
    KT_ASSERT_OK(kk_ipam_space_ensure(&ipam, "r", "b", NULL, avoid, n, &b, &err), &err);
    kk_ipam_format_cidr(&b, s);
    KT_ASSERT_STREQ(s, "10.60.5.0/24");
    KT_ASSERT(kk_ipam_space_ensure(&ipam, "r", "c", "10.60.2.0/24", avoid, n, &b, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    KT_ASSERT_MSG(strstr(err->message, "10.60.2.128/25 on the host"), "%s", err->message);
}

/* The default pool (docs/networking.md, "The default pool") overlaps none
 * of the defaults of the tools a kukeon host is likely to run as well. */
KT_CASE(default_pool_clear_of_common_defaults)
{
    const char *taken[] = {
            "172.17.0.0/16", /* docker0 */
            "172.18.0.0/15", /* docker's user networks: 172.18-31 */
            "172.20.0.0/14",   "172.24.0.0/13",
            "192.168.0.0/16",  /* docker's second pool, calico, libvirt .122, vbox .56 */
            "10.88.0.0/16",    /* podman, containerd's CNI */
            "10.89.0.0/16",    /* podman network create, counting up */
            "10.42.0.0/16",    /* k3s pods */
            "10.43.0.0/16",    /* k3s services */
            "10.244.0.0/16",   /* flannel, kind, kubeadm docs */
            "10.96.0.0/12",    /* kubernetes services */
            "10.32.0.0/12",    /* weave */
            "10.1.0.0/16",     /* microk8s pods */
            "10.152.183.0/24", /* microk8s services */
            "10.0.0.0/16",     /* swarm and cilium hand out from 10.0.0.0/8 upwards */
            "10.8.0.0/24",     /* OpenVPN */
            "10.128.0.0/9",    /* GCP auto-mode VPCs */
            "100.64.0.0/10",   /* CGNAT: tailscale */
            "172.30.0.0/16",   /* OpenShift services */
    };
    _cleanup_error_ kk_error *err = NULL;
    struct kk_ipv4_net pool;
    KT_ASSERT_OK(kk_ipam_parse_cidr(KK_DEFAULT_SUBNET_POOL, 8, 24, &pool, &err), &err);
    struct kk_hostnet nets[KK_ARRAY_SIZE(taken)];
    for (size_t i = 0; i < KK_ARRAY_SIZE(taken); i++)
        nets[i] = hn(taken[i], true, "");
    KT_ASSERT_EQ(kk_ipam_overlaps(&pool, nets, KK_ARRAY_SIZE(nets), NULL, NULL), 0u);
    /* and the net backend's default agrees with the contract's */
    struct kk_net_config cfg = KK_NET_CONFIG_DEFAULT;
    KT_ASSERT_STREQ(cfg.subnet_pool, KK_DEFAULT_SUBNET_POOL);
}
