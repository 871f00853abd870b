/* The real struct kk_net: rtnetlink through libmnl, namespaces as bind
 * mounts, IPAM in files. See net.h for the contract. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "fsapi/log.h"
#include "runtime/net/hostnets.h"
#include "runtime/net/ipam.h"
#include "runtime/net/net.h"
#include "runtime/net/netns.h"
#include "runtime/net/nl.h"
#include "runtime/net/rtnl.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

struct net_real {
    struct kk_net base;
    struct kk_net_config cfg; /* points at the strings below */
    char *bridge_prefix, *veth_prefix, *netns_dir, *state_dir, *subnet_pool;
    struct kk_ipam ipam;
    pthread_mutex_t lock; /* guards dir_ready */
    bool dir_ready;
};

static struct net_real *real(struct kk_net *net)
{
    return (struct net_real *)net;
}

static void net_nl_closep(struct kk_nl *nl)
{
    kk_nl_close(nl);
}
#define _cleanup_nl_    _cleanup_(net_nl_closep)
#define _cleanup_netns_ _cleanup_(kk_netns_close)

static int host_nl_open(struct kk_nl *nl, kk_error **err)
{
    if (kk_nl_open(nl, err) < 0)
        return kk_error_wrap(err, "host rtnetlink");
    return 0;
}

/* ---- spaces ---------------------------------------------------------------- */

/* Fails unless the link is of `kind` and owned by `key` (its ifalias). An
 * empty alias is ours too: the kernel sets no alias at creation, so a crash
 * between creating a link and recording its owner leaves one like that
 * (and the derived name, under our prefix, is ours by construction). */
static int check_owner(const struct kk_link *l, const char *name, const char *kind, const char *key,
                       kk_error **err)
{
    if (strcmp(l->kind, kind) == 0 && (strcmp(l->alias, key) == 0 || !l->alias[0]))
        return 0;
    return kk_error_set(err, KK_E_EXISTS,
                        "link %s exists but is not the %s of %s (kind \"%s\", alias \"%s\")", name,
                        kind, key, l->kind, l->alias);
}

static int space_ensure(struct kk_net *net, const struct kk_net_space_spec *spec,
                        struct kk_net_space *out, kk_error **err)
{
    struct net_real *n = real(net);
    char bridge[KK_NET_IFNAMSIZ], key[2 * KK_NET_NAME_MAX + 2];
    if (kk_net_bridge_name(&n->cfg, spec->realm, spec->space, bridge, err) < 0)
        return kk_error_wrap(err, "space");
    snprintf(key, sizeof(key), "%s/%s", spec->realm, spec->space);

    _cleanup_nl_ struct kk_nl nl = {0};
    if (host_nl_open(&nl, err) < 0)
        return kk_error_wrap(err, "space %s", key);
    /* A new subnet must not shadow a network the host already has (a LAN,
     * another container engine's bridge, a VPN's route); our own bridges
     * are in IPAM. */
    _cleanup_free_ struct kk_ipv4_net *host_nets = NULL;
    size_t n_host = 0;
    struct kk_ipv4_net subnet;
    if (kk_hostnets_ipv4(&nl, n->cfg.bridge_prefix, &host_nets, &n_host, err) < 0 ||
        kk_ipam_space_ensure(&n->ipam, spec->realm, spec->space, spec->subnet, host_nets, n_host,
                             &subnet, err) < 0)
        return kk_error_wrap(err, "space %s", key);

    struct kk_link br;
    int r = kk_rtnl_link_get(&nl, bridge, &br, err);
    if (r < 0)
        return kk_error_wrap(err, "space %s", key);
    if (r == 0) {
        struct kk_nl_batch b;
        kk_nl_batch_init(&b, &nl);
        /* EEXIST: someone made it meanwhile; the check below decides. */
        kk_rtnl_put_bridge(kk_nl_batch_add(&b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, EEXIST,
                                           "create bridge"),
                           bridge);
        if (kk_nl_batch_commit(&b, err) < 0 || kk_rtnl_link_get(&nl, bridge, &br, err) < 0)
            return kk_error_wrap(err, "space %s: bridge %s", key, bridge);
    }
    if (check_owner(&br, bridge, "bridge", key, err) < 0)
        return kk_error_wrap(err, "space %s", key);

    struct kk_nl_batch b;
    kk_nl_batch_init(&b, &nl);
    kk_rtnl_put_link_up(kk_nl_batch_add(&b, RTM_NEWLINK, 0, 0, "set bridge up"), br.index, NULL, 0,
                        key);
    kk_rtnl_put_addr(kk_nl_batch_add(&b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, 0,
                                     "add gateway address"),
                     br.index, kk_ipam_gateway(&subnet), subnet.len);
    if (kk_nl_batch_commit(&b, err) < 0)
        return kk_error_wrap(err, "space %s: bridge %s", key, bridge);

    memcpy(out->bridge, bridge, sizeof(out->bridge));
    kk_ipam_format_cidr(&subnet, out->subnet);
    kk_ipam_format_addr(kk_ipam_gateway(&subnet), out->gateway);
    out->prefix_len = subnet.len;
    return 0;
}

/* Deletes the link `name` if it exists and is owned by key; 0 if absent. */
static int delete_owned_link(struct kk_nl *nl, const char *name, const char *kind, const char *key,
                             kk_error **err)
{
    struct kk_link l;
    int r = kk_rtnl_link_get(nl, name, &l, err);
    if (r <= 0)
        return r;
    if (check_owner(&l, name, kind, key, err) < 0)
        return -1;
    struct kk_nl_batch b;
    kk_nl_batch_init(&b, nl);
    /* ENODEV: gone meanwhile, which is what we want. */
    kk_rtnl_put_link_del(kk_nl_batch_add(&b, RTM_DELLINK, 0, ENODEV, "delete link"), l.index, NULL);
    return kk_nl_batch_commit(&b, err);
}

static int space_remove(struct kk_net *net, const char *realm, const char *space, kk_error **err)
{
    struct net_real *n = real(net);
    char bridge[KK_NET_IFNAMSIZ], key[2 * KK_NET_NAME_MAX + 2];
    if (kk_net_bridge_name(&n->cfg, realm, space, bridge, err) < 0)
        return kk_error_wrap(err, "remove space");
    snprintf(key, sizeof(key), "%s/%s", realm, space);
    _cleanup_nl_ struct kk_nl nl = {0};
    if (host_nl_open(&nl, err) < 0 || delete_owned_link(&nl, bridge, "bridge", key, err) < 0)
        return kk_error_wrap(err, "remove space %s: bridge %s", key, bridge);
    if (kk_ipam_space_remove(&n->ipam, realm, space, err) < 0)
        return kk_error_wrap(err, "remove space %s", key);
    return 0;
}

/* ---- cells ----------------------------------------------------------------- */

struct cell_names {
    char key[KK_NET_KEY_MAX + 1];
    char veth[KK_NET_IFNAMSIZ];
    char bridge[KK_NET_IFNAMSIZ];
    char netns[4096];
};

static int cell_names(struct net_real *n, const struct kk_net_cell_spec *spec, struct cell_names *c,
                      kk_error **err)
{
    if (kk_net_cell_key(spec, c->key, err) < 0 ||
        kk_net_veth_name(&n->cfg, spec, c->veth, err) < 0 ||
        kk_net_bridge_name(&n->cfg, spec->realm, spec->space, c->bridge, err) < 0 ||
        kk_net_netns_path(&n->cfg, spec, c->netns, sizeof(c->netns), err) < 0)
        return kk_error_wrap(err, "cell");
    return 0;
}

static int prepare_netns_dir(struct net_real *n, kk_error **err)
{
    pthread_mutex_lock(&n->lock);
    int r = n->dir_ready ? 0 : kk_netns_prepare_dir(n->netns_dir, err);
    if (r == 0)
        n->dir_ready = true;
    pthread_mutex_unlock(&n->lock);
    return r;
}

/* Makes sure the veth pair exists: host end `c->veth` owned by the cell,
 * eth0 in the namespace. Anything half there (one end only, after a crash
 * or a namespace that was recreated) is deleted and made again, which is
 * also what keeps a quick re-create clear of "File exists". Returns eth0's
 * index inside the namespace. */
static int ensure_veth(struct kk_nl *host, struct kk_netns *ns, bool fresh_ns,
                       const struct cell_names *c, int bridge_index, int *eth0_index,
                       kk_error **err)
{
    struct kk_link hv, e;
    int have_hv = kk_rtnl_link_get(host, c->veth, &hv, err);
    if (have_hv < 0)
        return -1;
    if (have_hv && check_owner(&hv, c->veth, "veth", c->key, err) < 0)
        return -1;
    /* A namespace made just now has nothing but lo. */
    int have_e = fresh_ns ? 0 : kk_rtnl_link_get(&ns->nl, KK_NET_CELL_IFNAME, &e, err);
    if (have_e < 0)
        return kk_error_wrap(err, "in namespace");

    if (have_hv && have_e) {
        /* Re-assert what may have drifted (bridge, state). */
        struct kk_nl_batch b;
        kk_nl_batch_init(&b, host);
        kk_rtnl_put_link_up(kk_nl_batch_add(&b, RTM_NEWLINK, 0, 0, "set host veth up"), hv.index,
                            NULL, bridge_index, c->key);
        kk_rtnl_put_hairpin(kk_nl_batch_add(&b, RTM_SETLINK, 0, 0, "set hairpin mode"), hv.index);
        if (kk_nl_batch_commit(&b, err) < 0)
            return -1;
        *eth0_index = e.index;
        return 0;
    }
    if (have_e) {
        struct kk_nl_batch b;
        kk_nl_batch_init(&b, &ns->nl);
        kk_rtnl_put_link_del(kk_nl_batch_add(&b, RTM_DELLINK, 0, ENODEV, "delete stale eth0"),
                             e.index, NULL);
        if (kk_nl_batch_commit(&b, err) < 0)
            return kk_error_wrap(err, "in namespace");
    }

    struct kk_nl_batch b;
    kk_nl_batch_init(&b, host);
    if (have_hv) /* its peer is elsewhere: stale */
        kk_rtnl_put_link_del(kk_nl_batch_add(&b, RTM_DELLINK, 0, ENODEV, "delete stale host veth"),
                             hv.index, NULL);
    /* One message creates both ends, names the peer eth0 right inside the
     * namespace, enslaves the host end and brings it up; the next records
     * the owner. */
    kk_rtnl_put_veth(
            kk_nl_batch_add(&b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0, "create veth pair"),
            c->veth, bridge_index, KK_NET_CELL_IFNAME, ns->fd);
    kk_rtnl_put_link_up(kk_nl_batch_add(&b, RTM_NEWLINK, 0, 0, "record veth owner"), 0, c->veth, 0,
                        c->key);
    if (kk_nl_batch_commit(&b, err) < 0)
        return -1;
    /* Bridge port attributes go by index in a message of their own family;
     * the index is known only now. */
    if (kk_rtnl_link_get(host, c->veth, &hv, err) <= 0)
        return kk_error_set(err, KK_E_INTERNAL, "host veth %s missing after creation", c->veth);
    kk_nl_batch_init(&b, host);
    kk_rtnl_put_hairpin(kk_nl_batch_add(&b, RTM_SETLINK, 0, 0, "set hairpin mode"), hv.index);
    if (kk_nl_batch_commit(&b, err) < 0)
        return -1;
    int r = kk_rtnl_link_get(&ns->nl, KK_NET_CELL_IFNAME, &e, err);
    if (r <= 0)
        return r < 0 ? kk_error_wrap(err, "in namespace")
                     : kk_error_set(err, KK_E_INTERNAL, "eth0 missing after creation");
    *eth0_index = e.index;
    return 0;
}

static int configure_inside(struct kk_netns *ns, int eth0, uint32_t ip,
                            const struct kk_ipv4_net *subnet, kk_error **err)
{
    struct kk_nl_batch b;
    kk_nl_batch_init(&b, &ns->nl);
    kk_rtnl_put_link_up(kk_nl_batch_add(&b, RTM_NEWLINK, 0, 0, "set lo up"), 0, "lo", 0, NULL);
    kk_rtnl_put_link_up(kk_nl_batch_add(&b, RTM_NEWLINK, 0, 0, "set eth0 up"), eth0, NULL, 0, NULL);
    kk_rtnl_put_addr(
            kk_nl_batch_add(&b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, 0, "add address"), eth0,
            ip, subnet->len);
    kk_rtnl_put_default_route(
            kk_nl_batch_add(&b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, 0, "add default route"),
            kk_ipam_gateway(subnet));
    if (kk_nl_batch_commit(&b, err) < 0)
        return kk_error_wrap(err, "in namespace");
    return 0;
}

/* The namespace and the veth pair; *created tells whether the namespace
 * is new. */
static int make_links(struct net_real *n, const struct cell_names *c, struct kk_nl *host,
                      int bridge_index, struct kk_netns *ns, bool *created, int *eth0,
                      kk_error **err)
{
    if (prepare_netns_dir(n, err) < 0 || kk_netns_ensure(c->netns, ns, created, err) < 0)
        return -1;
    return ensure_veth(host, ns, *created, c, bridge_index, eth0, err);
}

static int cell_remove(struct kk_net *net, const struct kk_net_cell_spec *spec, unsigned flags,
                       kk_error **err);

struct alloc_job {
    struct kk_ipam *ipam;
    const char *realm, *space, *owner;
    uint32_t ip;
    kk_error *err;
};

static void *alloc_worker(void *arg)
{
    struct alloc_job *job = arg;
    kk_ipam_alloc(job->ipam, job->realm, job->space, job->owner, &job->ip, &job->err);
    return NULL;
}

static int cell_ensure(struct kk_net *net, const struct kk_net_cell_spec *spec,
                       struct kk_net_cell *out, kk_error **err)
{
    struct net_real *n = real(net);
    struct cell_names c;
    if (cell_names(n, spec, &c, err) < 0)
        return -1;

    struct kk_ipv4_net subnet;
    if (kk_ipam_space_get(&n->ipam, spec->realm, spec->space, &subnet, err) < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND)
            (*err)->code = KK_E_PRECONDITION;
        return kk_error_wrap(err, "cell %s", c.key);
    }
    _cleanup_nl_ struct kk_nl host = {0};
    if (host_nl_open(&host, err) < 0)
        return kk_error_wrap(err, "cell %s", c.key);
    struct kk_link br;
    int r = kk_rtnl_link_get(&host, c.bridge, &br, err);
    if (r < 0)
        return kk_error_wrap(err, "cell %s", c.key);
    if (r == 0)
        return kk_error_set(err, KK_E_PRECONDITION, "cell %s: bridge %s of the space is missing",
                            c.key, c.bridge);

    /* The address is persisted (fsync'ed: the slowest step) by a helper
     * thread while this one makes the namespace and the veth pair, which do
     * not depend on it; nothing uses the address before it is on disk. A
     * crash in between leaves at worst a namespace (and links) without an
     * allocation, which reconcile finds by the namespace's name. */
    struct alloc_job alloc = {&n->ipam, spec->realm, spec->space, c.key, 0, NULL};
    pthread_t alloc_tid;
    bool alloc_async = pthread_create(&alloc_tid, NULL, alloc_worker, &alloc) == 0;
    if (!alloc_async)
        alloc_worker(&alloc);

    _cleanup_netns_ struct kk_netns ns = KK_NETNS_INIT;
    bool created = false;
    int eth0 = 0;
    int r_links = make_links(n, &c, &host, br.index, &ns, &created, &eth0, err);
    if (alloc_async)
        pthread_join(alloc_tid, NULL);
    _cleanup_error_ kk_error *alloc_err = alloc.err;
    if (r_links < 0)
        return kk_error_wrap(err, "cell %s", c.key);
    if (alloc_err) {
        /* No address (e.g. the subnet is full): undo what this call made,
         * never a namespace that was there before. */
        _cleanup_error_ kk_error *undo_err = NULL;
        if (created && cell_remove(net, spec, 0, &undo_err) < 0)
            kk_log_warn("net: cell %s: undo: %s", c.key, undo_err->message);
        *err = TAKE_PTR(alloc_err);
        return kk_error_wrap(err, "cell %s", c.key);
    }
    if (configure_inside(&ns, eth0, alloc.ip, &subnet, err) < 0)
        return kk_error_wrap(err, "cell %s", c.key);

    memcpy(out->netns_path, c.netns, sizeof(out->netns_path));
    memcpy(out->host_veth, c.veth, sizeof(out->host_veth));
    snprintf(out->ifname, sizeof(out->ifname), "%s", KK_NET_CELL_IFNAME);
    kk_ipam_format_addr(alloc.ip, out->ip);
    kk_ipam_format_addr(kk_ipam_gateway(&subnet), out->gateway);
    out->prefix_len = subnet.len;
    return 0;
}

static int cell_remove(struct kk_net *net, const struct kk_net_cell_spec *spec, unsigned flags,
                       kk_error **err)
{
    struct net_real *n = real(net);
    struct cell_names c;
    if (cell_names(n, spec, &c, err) < 0)
        return kk_error_wrap(err, "remove");
    _cleanup_nl_ struct kk_nl host = {0};
    /* Deleting the host end takes eth0 with it, synchronously: the name is
     * free again when this returns, whatever still holds the namespace. */
    if (host_nl_open(&host, err) < 0 || delete_owned_link(&host, c.veth, "veth", c.key, err) < 0 ||
        kk_netns_remove(c.netns, err) < 0)
        return kk_error_wrap(err, "remove cell %s", c.key);
    if (!(flags & KK_NET_KEEP_IP) &&
        kk_ipam_release(&n->ipam, spec->realm, spec->space, c.key, err) < 0)
        return kk_error_wrap(err, "remove cell %s", c.key);
    return 0;
}

/* Splits "realm/space/stack/cell" (in buf, modified) into spec; false
 * unless it is a cell of realm/space with valid names. */
static bool parse_key(char *buf, const char *realm, const char *space,
                      struct kk_net_cell_spec *spec)
{
    char *save = NULL;
    spec->realm = strtok_r(buf, "/", &save);
    spec->space = strtok_r(NULL, "/", &save);
    spec->stack = strtok_r(NULL, "/", &save);
    spec->cell = strtok_r(NULL, "/", &save);
    return spec->cell && !strtok_r(NULL, "/", &save) && strcmp(spec->realm, realm) == 0 &&
           strcmp(spec->space, space) == 0 && kk_net_name_valid(spec->stack) &&
           kk_net_name_valid(spec->cell);
}

static int reconcile(struct kk_net *net, const char *realm, const char *space,
                     kk_net_alive_fn alive, void *ctx, unsigned *removed, kk_error **err)
{
    struct net_real *n = real(net);
    unsigned count = 0;
    struct kk_net_cell_spec spec;
    char buf[KK_NET_KEY_MAX + 1];
    if (!kk_net_name_valid(realm) || !kk_net_name_valid(space))
        return kk_error_set(err, KK_E_INVALID, "reconcile: invalid realm or space name");

    /* Cells holding an address... */
    _cleanup_strv_ char **owners = NULL;
    if (kk_ipam_owners(&n->ipam, realm, space, &owners, err) < 0)
        return kk_error_wrap(err, "reconcile %s/%s", realm, space);
    for (char **o = owners; *o; o++) {
        if (alive(*o, ctx))
            continue;
        snprintf(buf, sizeof(buf), "%s", *o);
        if (parse_key(buf, realm, space, &spec)) {
            if (cell_remove(net, &spec, 0, err) < 0)
                return kk_error_wrap(err, "reconcile %s/%s", realm, space);
        } else {
            kk_log_warn("net: reconcile %s/%s: releasing foreign IPAM owner \"%s\"", realm, space,
                        *o);
            if (kk_ipam_release(&n->ipam, realm, space, *o, err) < 0)
                return kk_error_wrap(err, "reconcile %s/%s", realm, space);
        }
        kk_log_info("net: reconcile: removed leftover network of %s", *o);
        count++;
    }

    /* ...and namespaces without one (made while the allocation was being
     * written when a crash came), found by their file name. */
    _cleanup_closedir_ DIR *d = opendir(n->netns_dir);
    if (!d && errno != ENOENT)
        return kk_error_errno(err, "reconcile %s/%s: open %s", realm, space, n->netns_dir);
    char prefix[2 * KK_NET_NAME_MAX + 3];
    snprintf(prefix, sizeof(prefix), "%s_%s_", realm, space);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char key[KK_NET_KEY_MAX + 1];
        snprintf(key, sizeof(key), "%s", de->d_name);
        for (char *p = key; *p; p++)
            if (*p == '_')
                *p = '/';
        snprintf(buf, sizeof(buf), "%s", key);
        if (alive(key, ctx) || !parse_key(buf, realm, space, &spec))
            continue;
        if (cell_remove(net, &spec, 0, err) < 0)
            return kk_error_wrap(err, "reconcile %s/%s", realm, space);
        kk_log_info("net: reconcile: removed leftover namespace of %s", key);
        count++;
    }
    if (removed)
        *removed = count;
    return 0;
}

static int ensure_forwarding(struct kk_net *net, kk_error **err)
{
    (void)net;
    _cleanup_close_ int fd = open(IP_FORWARD, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "open %s", IP_FORWARD);
    char c = 0;
    if (read(fd, &c, 1) != 1)
        return kk_error_errno(err, "read %s", IP_FORWARD);
    if (c == '1')
        return 0;
    if (pwrite(fd, "1\n", 2, 0) != 2)
        return kk_error_errno(err, "enable IPv4 forwarding (%s)", IP_FORWARD);
    kk_log_info("net: enabled IPv4 forwarding (net.ipv4.ip_forward=1)");
    return 0;
}

static void net_free(struct kk_net *net)
{
    struct net_real *n = real(net);
    kk_ipam_close(&n->ipam);
    pthread_mutex_destroy(&n->lock);
    free(n->bridge_prefix);
    free(n->veth_prefix);
    free(n->netns_dir);
    free(n->state_dir);
    free(n->subnet_pool);
    free(n);
}

static const struct kk_net_ops real_ops = {
        .space_ensure = space_ensure,
        .space_remove = space_remove,
        .cell_ensure = cell_ensure,
        .cell_remove = cell_remove,
        .reconcile = reconcile,
        .ensure_forwarding = ensure_forwarding,
        .free = net_free,
};

int kk_net_new(const struct kk_net_config *cfg, struct kk_net **out, kk_error **err)
{
    if (kk_net_config_check(cfg, err) < 0)
        return kk_error_wrap(err, "net config");
    struct net_real *n = kk_xcalloc(1, sizeof(*n));
    n->base.ops = &real_ops;
    n->bridge_prefix = kk_xstrdup(cfg->bridge_prefix);
    n->veth_prefix = kk_xstrdup(cfg->veth_prefix);
    n->netns_dir = kk_xstrdup(cfg->netns_dir);
    n->state_dir = kk_xstrdup(cfg->state_dir);
    n->subnet_pool = kk_xstrdup(cfg->subnet_pool ? cfg->subnet_pool : "");
    n->cfg = (struct kk_net_config){n->bridge_prefix, n->veth_prefix, n->netns_dir, n->state_dir,
                                    n->subnet_pool};
    pthread_mutex_init(&n->lock, NULL);
    n->ipam.dirfd = -1;
    if (kk_ipam_open(&n->ipam, n->state_dir, n->subnet_pool, err) < 0) {
        net_free(&n->base);
        return kk_error_wrap(err, "net config");
    }
    *out = &n->base;
    return 0;
}
