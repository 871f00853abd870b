/* The host's IPv4 networks over rtnetlink: an address dump and a route
 * dump. See hostnets.h. */
#include "runtime/net/hostnets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

struct hn_list {
    const char *skip_prefix;
    struct kk_hostnet *v;
    size_t n, cap;
};

static bool skipped(const struct hn_list *l, const char *dev)
{
    size_t len = l->skip_prefix ? strlen(l->skip_prefix) : 0;
    return len > 0 && strncmp(dev, l->skip_prefix, len) == 0;
}

static void add(struct hn_list *l, uint32_t addr, uint8_t len, bool route, const char *dev)
{
    if (skipped(l, dev))
        return;
    uint32_t mask = len ? ~0u << (32 - len) : 0;
    void *p = l->v;
    kk_xgrow(&p, &l->cap, l->n + 1, sizeof(*l->v));
    l->v = p;
    struct kk_hostnet *hn = &l->v[l->n++];
    *hn = (struct kk_hostnet){.net = {addr & mask, len}, .route = route};
    snprintf(hn->dev, sizeof(hn->dev), "%s", dev);
}

static int attr_cb(const struct nlattr *attr, void *data, int max)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, (uint16_t)max) < 0)
        return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}
static int addr_attr_cb(const struct nlattr *attr, void *data)
{
    return attr_cb(attr, data, IFA_MAX);
}
static int route_attr_cb(const struct nlattr *attr, void *data)
{
    return attr_cb(attr, data, RTA_MAX);
}

static bool u32_attr(const struct nlattr *a)
{
    return a && mnl_attr_validate(a, MNL_TYPE_U32) == 0;
}

/* The link's name; for IPv4 addresses the kernel sends it as the label. */
static void dev_name(int index, const struct nlattr *label, char out[IF_NAMESIZE])
{
    out[0] = '\0';
    if (label && mnl_attr_validate(label, MNL_TYPE_STRING) == 0) {
        snprintf(out, IF_NAMESIZE, "%.*s", (int)mnl_attr_get_payload_len(label),
                 mnl_attr_get_str(label));
        return;
    }
    if (index > 0 && !if_indextoname((unsigned)index, out))
        out[0] = '\0';
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    if (nlh->nlmsg_type != RTM_NEWADDR)
        return MNL_CB_OK;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFA_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
    const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (ifa->ifa_family != AF_INET || !u32_attr(a) || ifa->ifa_prefixlen > 32)
        return MNL_CB_OK;
    char dev[IF_NAMESIZE];
    dev_name((int)ifa->ifa_index, tb[IFA_LABEL], dev);
    add(data, ntohl(mnl_attr_get_u32(a)), ifa->ifa_prefixlen, false, dev);
    return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
    if (nlh->nlmsg_type != RTM_NEWROUTE)
        return MNL_CB_OK;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[RTA_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
    uint32_t table = u32_attr(tb[RTA_TABLE]) ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
    /* The local table holds the host's own addresses and broadcasts, which
     * the address dump already has; multicast and the like are no subnet. */
    bool kind_ok = rtm->rtm_type == RTN_UNICAST || rtm->rtm_type == RTN_BLACKHOLE ||
                   rtm->rtm_type == RTN_UNREACHABLE || rtm->rtm_type == RTN_PROHIBIT;
    if (rtm->rtm_family != AF_INET || table == RT_TABLE_LOCAL || !kind_ok ||
        rtm->rtm_dst_len == 0 || rtm->rtm_dst_len > 32 || !u32_attr(tb[RTA_DST]))
        return MNL_CB_OK;
    char dev[IF_NAMESIZE];
    dev_name(u32_attr(tb[RTA_OIF]) ? (int)mnl_attr_get_u32(tb[RTA_OIF]) : 0, NULL, dev);
    add(data, ntohl(mnl_attr_get_u32(tb[RTA_DST])), rtm->rtm_dst_len, true, dev);
    return MNL_CB_OK;
}

/* The kernel marks a dump NLM_F_DUMP_INTR (libmnl: EINTR) when the table
 * changed while it was being read; on a host where links come and go (other
 * agents, containers) that is common, and the answer is to read it again. */
#define DUMP_TRIES 100

static int dump_retry(struct kk_nl *nl, const char *req, size_t req_len, mnl_cb_t cb,
                      struct hn_list *l, kk_error **err)
{
    for (int i = 0;; i++) {
        char buf[64];
        memcpy(buf, req, req_len);
        size_t keep = l->n;
        if (kk_nl_dump(nl, (struct nlmsghdr *)buf, cb, l, err) == 0)
            return 0;
        if ((*err)->sys_errno != EINTR || i + 1 >= DUMP_TRIES)
            return -1;
        kk_error_freep(err);
        l->n = keep; /* forget the partial answer */
    }
}

int kk_hostnets_list_nl(struct kk_nl *nl, const char *skip_prefix, struct kk_hostnet **out,
                        size_t *n, kk_error **err)
{
    struct hn_list l = {.skip_prefix = skip_prefix};
    char buf[64] = {0};
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETADDR;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    if (dump_retry(nl, buf, nlh->nlmsg_len, addr_cb, &l, err) < 0) {
        free(l.v);
        return kk_error_wrap(err, "list IPv4 addresses");
    }
    memset(buf, 0, sizeof(buf));
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    /* RT_TABLE_UNSPEC with a dump: every table (policy routing included). */
    if (dump_retry(nl, buf, nlh->nlmsg_len, route_cb, &l, err) < 0) {
        free(l.v);
        return kk_error_wrap(err, "list IPv4 routes");
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

int kk_hostnets_ipv4(struct kk_nl *nl, const char *skip_prefix, struct kk_ipv4_net **out, size_t *n,
                     kk_error **err)
{
    struct kk_hostnet *hn = NULL;
    size_t count = 0;
    if (kk_hostnets_list_nl(nl, skip_prefix, &hn, &count, err) < 0)
        return -1;
    struct kk_ipv4_net *nets = kk_xmalloc((count ? count : 1) * sizeof(*nets));
    for (size_t i = 0; i < count; i++)
        nets[i] = hn[i].net;
    free(hn);
    *out = nets;
    *n = count;
    return 0;
}

static int netlink_list(void *ctx, const char *skip_prefix, struct kk_hostnet **out, size_t *n,
                        kk_error **err)
{
    (void)ctx;
    struct kk_nl nl = {0};
    if (kk_nl_open(&nl, err) < 0)
        return kk_error_wrap(err, "host rtnetlink");
    int r = kk_hostnets_list_nl(&nl, skip_prefix, out, n, err);
    kk_nl_close(&nl);
    return r;
}

const struct kk_hostnets_source kk_hostnets_netlink = {.list = netlink_list, .ctx = NULL};
