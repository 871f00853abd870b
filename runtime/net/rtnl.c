#include "runtime/net/rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <stdlib.h>
#include <string.h>

static int link_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
        return MNL_CB_OK;
    tb[type] = attr;
    return MNL_CB_OK;
}

static int info_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, IFLA_INFO_MAX) < 0)
        return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}

static void copy_str(char *dst, size_t size, const struct nlattr *attr)
{
    dst[0] = '\0';
    if (!attr || mnl_attr_validate(attr, MNL_TYPE_STRING) < 0)
        return;
    size_t len = strnlen(mnl_attr_get_str(attr), mnl_attr_get_payload_len(attr));
    if (len >= size)
        len = size - 1;
    memcpy(dst, mnl_attr_get_str(attr), len);
    dst[len] = '\0';
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct kk_link *l = data;
    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb);
    l->index = ifm->ifi_index;
    l->flags = ifm->ifi_flags;
    l->master = tb[IFLA_MASTER] && mnl_attr_validate(tb[IFLA_MASTER], MNL_TYPE_U32) == 0
                        ? (int)mnl_attr_get_u32(tb[IFLA_MASTER])
                        : 0;
    copy_str(l->alias, sizeof(l->alias), tb[IFLA_IFALIAS]);
    l->kind[0] = '\0';
    if (tb[IFLA_LINKINFO] && mnl_attr_validate(tb[IFLA_LINKINFO], MNL_TYPE_NESTED) == 0) {
        const struct nlattr *info[IFLA_INFO_MAX + 1] = {0};
        mnl_attr_parse_nested(tb[IFLA_LINKINFO], info_attr_cb, info);
        copy_str(l->kind, sizeof(l->kind), info[IFLA_INFO_KIND]);
    }
    return MNL_CB_OK;
}

int kk_rtnl_link_get(struct kk_nl *nl, const char *name, struct kk_link *out, kk_error **err)
{
    char buf[256] = {0}; /* zeroed: libmnl leaves attribute padding as is */
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    /* Without stats the reply stays small. */
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    memset(out, 0, sizeof(*out));
    if (kk_nl_query(nl, nlh, link_cb, out, err) < 0) {
        if ((*err)->sys_errno == ENODEV) {
            kk_error_freep(err);
            return 0;
        }
        return kk_error_wrap(err, "look up link %s", name);
    }
    return out->index > 0 ? 1 : 0;
}

struct net_list {
    const char *skip_prefix;
    struct kk_ipv4_net *v;
    size_t n, cap;
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
        return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    struct net_list *l = data;
    if (nlh->nlmsg_type != RTM_NEWADDR)
        return MNL_CB_OK;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFA_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb);
    const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (ifa->ifa_family != AF_INET || !a || mnl_attr_validate(a, MNL_TYPE_U32) < 0 ||
        ifa->ifa_prefixlen > 32)
        return MNL_CB_OK;
    char label[KK_RTNL_ALIAS_MAX];
    copy_str(label, sizeof(label), tb[IFA_LABEL]);
    if (l->skip_prefix && strncmp(label, l->skip_prefix, strlen(l->skip_prefix)) == 0)
        return MNL_CB_OK;
    uint32_t addr = ntohl(mnl_attr_get_u32(a));
    uint32_t mask = ifa->ifa_prefixlen ? ~0u << (32 - ifa->ifa_prefixlen) : 0;
    void *p = l->v;
    kk_xgrow(&p, &l->cap, l->n + 1, sizeof(*l->v));
    l->v = p;
    l->v[l->n++] = (struct kk_ipv4_net){addr & mask, ifa->ifa_prefixlen};
    return MNL_CB_OK;
}

int kk_rtnl_ipv4_networks(struct kk_nl *nl, const char *skip_prefix, struct kk_ipv4_net **out,
                          size_t *n, kk_error **err)
{
    char buf[64] = {0};
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETADDR;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    struct net_list l = {.skip_prefix = skip_prefix};
    if (kk_nl_dump(nl, nlh, addr_cb, &l, err) < 0) {
        free(l.v);
        return kk_error_wrap(err, "list IPv4 addresses");
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, int index)
{
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = index;
    return ifm;
}

static void set_up(struct ifinfomsg *ifm)
{
    ifm->ifi_flags |= IFF_UP;
    ifm->ifi_change |= IFF_UP;
}

void kk_rtnl_put_bridge(struct nlmsghdr *nlh, const char *name)
{
    set_up(put_ifinfo(nlh, 0));
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, info);
}

void kk_rtnl_put_veth(struct nlmsghdr *nlh, const char *name, int master, const char *peer,
                      int peer_nsfd)
{
    set_up(put_ifinfo(nlh, 0));
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    /* The peer's attributes follow its own ifinfomsg inside the nest. */
    put_ifinfo(nlh, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
    mnl_attr_nest_end(nlh, p);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
}

void kk_rtnl_put_link_up(struct nlmsghdr *nlh, int index, const char *name, int master,
                         const char *alias)
{
    set_up(put_ifinfo(nlh, index));
    if (index == 0)
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    if (master > 0)
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    if (alias)
        mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
}

void kk_rtnl_put_hairpin(struct nlmsghdr *nlh, int index)
{
    struct ifinfomsg *ifm = put_ifinfo(nlh, index);
    ifm->ifi_family = AF_BRIDGE;
    struct nlattr *port = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
    mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
    mnl_attr_nest_end(nlh, port);
}

void kk_rtnl_put_link_del(struct nlmsghdr *nlh, int index, const char *name)
{
    put_ifinfo(nlh, index);
    if (index == 0)
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
}

void kk_rtnl_put_addr(struct nlmsghdr *nlh, int index, uint32_t addr, uint8_t len)
{
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = len;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (uint32_t)index;
    uint32_t mask = len ? ~0u << (32 - len) : 0;
    mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(addr));
    mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(addr));
    mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(addr | ~mask));
}

void kk_rtnl_put_default_route(struct nlmsghdr *nlh, uint32_t gw)
{
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 0;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gw));
}
