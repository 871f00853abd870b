/* Links by prefix, for the uninstall (sweep.h). */
#include "runtime/net/sweep.h"

#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/net/nl.h"
#include "runtime/net/rtnl.h"

struct link_list {
    const char *prefix, *kind;
    struct kk_net_link_info *v;
    size_t n, cap;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
        return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}

static int info_cb(const struct nlattr *attr, void *data)
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
    if (attr && mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
        snprintf(dst, size, "%.*s", (int)mnl_attr_get_payload_len(attr), mnl_attr_get_str(attr));
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_list *l = data;
    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = {0};
    mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, tb);
    struct kk_net_link_info li = {.index = ifm->ifi_index};
    copy_str(li.name, sizeof(li.name), tb[IFLA_IFNAME]);
    copy_str(li.alias, sizeof(li.alias), tb[IFLA_IFALIAS]);
    if (tb[IFLA_LINKINFO] && mnl_attr_validate(tb[IFLA_LINKINFO], MNL_TYPE_NESTED) == 0) {
        const struct nlattr *info[IFLA_INFO_MAX + 1] = {0};
        mnl_attr_parse_nested(tb[IFLA_LINKINFO], info_cb, info);
        copy_str(li.kind, sizeof(li.kind), info[IFLA_INFO_KIND]);
    }
    if (strncmp(li.name, l->prefix, strlen(l->prefix)) != 0 || strcmp(li.kind, l->kind) != 0)
        return MNL_CB_OK;
    void *p = l->v;
    kk_xgrow(&p, &l->cap, l->n + 1, sizeof(*l->v));
    l->v = p;
    l->v[l->n++] = li;
    return MNL_CB_OK;
}

int kk_net_links_with_prefix(const char *prefix, const char *kind, struct kk_net_link_info **out,
                             size_t *n, kk_error **err)
{
    if (!prefix || !*prefix)
        return kk_error_set(err, KK_E_INVALID, "links: empty prefix");
    struct kk_nl nl = {0};
    if (kk_nl_open(&nl, err) < 0)
        return kk_error_wrap(err, "host rtnetlink");
    char buf[64] = {0};
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
    ifm->ifi_family = AF_UNSPEC;
    struct link_list l = {.prefix = prefix, .kind = kind};
    /* NLM_F_DUMP_INTR (EINTR): links changed meanwhile; read them again. */
    int r;
    for (int i = 0;; i++) {
        char req[64];
        memcpy(req, buf, nlh->nlmsg_len);
        l.n = 0;
        r = kk_nl_dump(&nl, (struct nlmsghdr *)req, link_cb, &l, err);
        if (r == 0 || (*err)->sys_errno != EINTR || i + 1 >= 100)
            break;
        kk_error_freep(err);
    }
    kk_nl_close(&nl);
    if (r < 0) {
        free(l.v);
        return kk_error_wrap(err, "list links");
    }
    *out = l.v ? l.v : kk_xmalloc(sizeof(**out));
    *n = l.n;
    return 0;
}

int kk_net_link_delete(int index, const char *name, kk_error **err)
{
    struct kk_nl nl = {0};
    if (kk_nl_open(&nl, err) < 0)
        return kk_error_wrap(err, "host rtnetlink");
    struct kk_nl_batch b;
    kk_nl_batch_init(&b, &nl);
    kk_rtnl_put_link_del(kk_nl_batch_add(&b, RTM_DELLINK, 0, ENODEV, "delete link"), index, name);
    int r = kk_nl_batch_commit(&b, err);
    kk_nl_close(&nl);
    return r < 0 ? kk_error_wrap(err, "link %s", name) : 0;
}
