#include "runtime/net/fake.h"

#include <pthread.h>
#include <string.h>

#include "runtime/net/ipam.h"

struct net_fake {
    struct kk_net base;
    struct kk_net_config cfg;
    char *strings[5];
    struct kk_ipam ipam;
    pthread_mutex_t lock; /* guards everything below */
    struct kk_net_fake_stats stats;
    kk_code fail_next;
    char **spaces, **cells; /* keys of what is up */
    size_t n_spaces, cap_spaces, n_cells, cap_cells;
};

static struct net_fake *fake(struct kk_net *net)
{
    return (struct net_fake *)net;
}

/* ---- string sets (small: linear search is fine for a fake) ------------- */

static ssize_t set_find(char **v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

static void set_add(char ***v, size_t *n, size_t *cap, const char *key)
{
    if (set_find(*v, *n, key) >= 0)
        return;
    void *p = *v;
    kk_xgrow(&p, cap, *n + 1, sizeof(**v));
    *v = p;
    (*v)[(*n)++] = kk_xstrdup(key);
}

static void set_del(char **v, size_t *n, const char *key)
{
    ssize_t i = set_find(v, *n, key);
    if (i < 0)
        return;
    free(v[i]);
    v[i] = v[--*n];
}

/* Takes the lock, counts the call, and consumes an injected failure.
 * Returns -1 (lock released) if the call must fail. */
static int enter(struct net_fake *f, unsigned *counter, const char *op, kk_error **err)
{
    pthread_mutex_lock(&f->lock);
    (*counter)++;
    kk_code code = f->fail_next;
    f->fail_next = KK_E_OK;
    if (code == KK_E_OK)
        return 0;
    pthread_mutex_unlock(&f->lock);
    return kk_error_set(err, code, "fake net: %s: injected failure", op);
}

static int leave(struct net_fake *f, int r)
{
    f->stats.spaces_up = (unsigned)f->n_spaces;
    f->stats.cells_up = (unsigned)f->n_cells;
    pthread_mutex_unlock(&f->lock);
    return r;
}

/* ---- ops ----------------------------------------------------------------- */

static int space_ensure(struct kk_net *net, const struct kk_net_space_spec *spec,
                        struct kk_net_space *out, kk_error **err)
{
    struct net_fake *f = fake(net);
    if (enter(f, &f->stats.space_ensure, "space ensure", err) < 0)
        return -1;
    struct kk_ipv4_net subnet;
    if (kk_net_bridge_name(&f->cfg, spec->realm, spec->space, out->bridge, err) < 0 ||
        kk_ipam_space_ensure(&f->ipam, spec->realm, spec->space, spec->subnet, NULL, 0, &subnet,
                             err) < 0)
        return leave(f, -1);
    kk_ipam_format_cidr(&subnet, out->subnet);
    kk_ipam_format_addr(kk_ipam_gateway(&subnet), out->gateway);
    out->prefix_len = subnet.len;
    char key[2 * KK_NET_NAME_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s", spec->realm, spec->space);
    set_add(&f->spaces, &f->n_spaces, &f->cap_spaces, key);
    return leave(f, 0);
}

static int space_remove(struct kk_net *net, const char *realm, const char *space, kk_error **err)
{
    struct net_fake *f = fake(net);
    if (enter(f, &f->stats.space_remove, "space remove", err) < 0)
        return -1;
    if (kk_ipam_space_remove(&f->ipam, realm, space, err) < 0)
        return leave(f, -1);
    char key[2 * KK_NET_NAME_MAX + 2];
    snprintf(key, sizeof(key), "%s/%s", realm, space);
    set_del(f->spaces, &f->n_spaces, key);
    return leave(f, 0);
}

static int cell_ensure(struct kk_net *net, const struct kk_net_cell_spec *spec,
                       struct kk_net_cell *out, kk_error **err)
{
    struct net_fake *f = fake(net);
    if (enter(f, &f->stats.cell_ensure, "cell ensure", err) < 0)
        return -1;
    char key[KK_NET_KEY_MAX + 1];
    struct kk_ipv4_net subnet;
    uint32_t ip;
    if (kk_net_cell_key(spec, key, err) < 0 ||
        kk_net_veth_name(&f->cfg, spec, out->host_veth, err) < 0 ||
        kk_net_netns_path(&f->cfg, spec, out->netns_path, sizeof(out->netns_path), err) < 0)
        return leave(f, -1);
    if (kk_ipam_space_get(&f->ipam, spec->realm, spec->space, &subnet, err) < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND)
            (*err)->code = KK_E_PRECONDITION;
        return leave(f, -1);
    }
    if (kk_ipam_alloc(&f->ipam, spec->realm, spec->space, key, &ip, err) < 0)
        return leave(f, -1);
    snprintf(out->ifname, sizeof(out->ifname), "%s", KK_NET_CELL_IFNAME);
    kk_ipam_format_addr(ip, out->ip);
    kk_ipam_format_addr(kk_ipam_gateway(&subnet), out->gateway);
    out->prefix_len = subnet.len;
    set_add(&f->cells, &f->n_cells, &f->cap_cells, key);
    return leave(f, 0);
}

static int cell_remove(struct kk_net *net, const struct kk_net_cell_spec *spec, unsigned flags,
                       kk_error **err)
{
    struct net_fake *f = fake(net);
    if (enter(f, &f->stats.cell_remove, "cell remove", err) < 0)
        return -1;
    char key[KK_NET_KEY_MAX + 1];
    if (kk_net_cell_key(spec, key, err) < 0)
        return leave(f, -1);
    if (!(flags & KK_NET_KEEP_IP) &&
        kk_ipam_release(&f->ipam, spec->realm, spec->space, key, err) < 0)
        return leave(f, -1);
    set_del(f->cells, &f->n_cells, key);
    return leave(f, 0);
}

static int reconcile(struct kk_net *net, const char *realm, const char *space,
                     kk_net_alive_fn alive, void *ctx, unsigned *removed, kk_error **err)
{
    struct net_fake *f = fake(net);
    if (enter(f, &f->stats.reconcile, "reconcile", err) < 0)
        return -1;
    _cleanup_strv_ char **owners = NULL;
    unsigned count = 0;
    if (kk_ipam_owners(&f->ipam, realm, space, &owners, err) < 0)
        return leave(f, -1);
    for (char **o = owners; *o; o++) {
        if (alive(*o, ctx))
            continue;
        if (kk_ipam_release(&f->ipam, realm, space, *o, err) < 0)
            return leave(f, -1);
        set_del(f->cells, &f->n_cells, *o);
        count++;
    }
    if (removed)
        *removed = count;
    return leave(f, 0);
}

static int ensure_forwarding(struct kk_net *net, kk_error **err)
{
    struct net_fake *f = fake(net);
    if (enter(f, &f->stats.forwarding, "ensure forwarding", err) < 0)
        return -1;
    return leave(f, 0);
}

static void fake_free(struct kk_net *net)
{
    struct net_fake *f = fake(net);
    kk_ipam_close(&f->ipam);
    for (size_t i = 0; i < f->n_spaces; i++)
        free(f->spaces[i]);
    for (size_t i = 0; i < f->n_cells; i++)
        free(f->cells[i]);
    free(f->spaces);
    free(f->cells);
    for (size_t i = 0; i < KK_ARRAY_SIZE(f->strings); i++)
        free(f->strings[i]);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static const struct kk_net_ops fake_ops = {
        .space_ensure = space_ensure,
        .space_remove = space_remove,
        .cell_ensure = cell_ensure,
        .cell_remove = cell_remove,
        .reconcile = reconcile,
        .ensure_forwarding = ensure_forwarding,
        .free = fake_free,
};

int kk_net_new_fake(const struct kk_net_config *cfg, struct kk_net **out, kk_error **err)
{
    if (kk_net_config_check(cfg, err) < 0)
        return kk_error_wrap(err, "fake net config");
    struct net_fake *f = kk_xcalloc(1, sizeof(*f));
    f->base.ops = &fake_ops;
    const char *src[5] = {cfg->bridge_prefix, cfg->veth_prefix, cfg->netns_dir, cfg->state_dir,
                          cfg->subnet_pool};
    for (size_t i = 0; i < 5; i++)
        f->strings[i] = kk_xstrdup(src[i] ? src[i] : "");
    f->cfg = (struct kk_net_config){f->strings[0], f->strings[1], f->strings[2], f->strings[3],
                                    f->strings[4]};
    pthread_mutex_init(&f->lock, NULL);
    f->ipam.dirfd = -1;
    if (kk_ipam_open(&f->ipam, f->cfg.state_dir, f->cfg.subnet_pool, err) < 0) {
        fake_free(&f->base);
        return kk_error_wrap(err, "fake net config");
    }
    *out = &f->base;
    return 0;
}

void kk_net_fake_fail_next(struct kk_net *net, kk_code code)
{
    struct net_fake *f = fake(net);
    pthread_mutex_lock(&f->lock);
    f->fail_next = code;
    pthread_mutex_unlock(&f->lock);
}

struct kk_net_fake_stats kk_net_fake_stats(struct kk_net *net)
{
    struct net_fake *f = fake(net);
    pthread_mutex_lock(&f->lock);
    struct kk_net_fake_stats s = f->stats;
    pthread_mutex_unlock(&f->lock);
    return s;
}

bool kk_net_fake_cell_up(struct kk_net *net, const char *key)
{
    struct net_fake *f = fake(net);
    pthread_mutex_lock(&f->lock);
    bool up = set_find(f->cells, f->n_cells, key) >= 0;
    pthread_mutex_unlock(&f->lock);
    return up;
}
