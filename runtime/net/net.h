/* Cell networking: one bridge and one IPv4 subnet per space, one network
 * namespace with a veth pair and one address per cell (docs/design.md §1).
 *
 * The agent talks to a `struct kk_net` through its ops table, so tests of the
 * agent can substitute a fake; kk_net_new() builds the real backend, which
 * speaks rtnetlink through libmnl (no `ip` execs) and keeps its IPAM state in
 * small files under cfg->state_dir (runtime/net/ipam.h).
 *
 *     struct kk_net_config cfg = KK_NET_CONFIG_DEFAULT;
 *     _cleanup_net_ struct kk_net *net = NULL;
 *     if (kk_net_new(&cfg, &net, err) < 0) ...
 *     struct kk_net_space sp;
 *     kk_net_space_ensure(net, &(struct kk_net_space_spec){"main", "web", NULL}, &sp, err);
 *     struct kk_net_cell c;
 *     kk_net_cell_ensure(net, &(struct kk_net_cell_spec){"main", "web", "app", "api"}, &c, err);
 *     ... run the root container in c.netns_path ...
 *     kk_net_cell_remove(net, &spec, 0, err);
 *
 * Invariants of every backend:
 *   - Every operation is idempotent: *_ensure converges whatever exists
 *     (nothing, a half-made cell left by a crash, a complete one); *_remove of
 *     something absent succeeds. Existing objects that do not match (a link of
 *     our name that belongs to someone else) are an AlreadyExists error, never
 *     silently taken over.
 *   - Host-global names all come from struct kk_net_config; nothing is a
 *     literal. Link names are derived, deterministic, and at most 15 chars:
 *     bridge = bridge_prefix + hex(sha256(realm "/" space)),
 *     host veth = veth_prefix + hex(sha256(realm "/" space "/" stack "/" cell)),
 *     each owner recorded in the link's ifalias (the key, e.g. "main/web").
 *   - Names (realm, space, stack, cell) are validated: 1-63 chars of
 *     [a-z0-9-], alphanumeric at both ends. Anything else is InvalidArgument.
 *   - A cell's address is allocated and persisted before it is configured and
 *     released only after its links and namespace are gone, so a crash at any
 *     point leaks nothing permanently: ensuring the same cell again returns
 *     the same address, and reconcile() removes the cells no longer alive.
 *   - A struct kk_net may be used from several threads for *different*
 *     cells at a time; IPAM updates are serialised by a lock file (also
 *     against other processes). Two concurrent operations on the same cell
 *     are the caller's bug (the agent's work queue runs one worker per key).
 */
#ifndef KUKEON_NET_H
#define KUKEON_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "fsapi/error.h"

#define KK_NET_IFNAMSIZ    16 /* IFNAMSIZ: 15 chars + NUL */
#define KK_NET_PREFIX_MAX  7  /* leaves >= 8 hex digits (32 bits) of hash */
#define KK_NET_NAME_MAX    63
#define KK_NET_KEY_MAX     (4 * KK_NET_NAME_MAX + 3)
#define KK_NET_ADDRSTRLEN  16 /* "255.255.255.255" + NUL */
#define KK_NET_CIDRSTRLEN  19 /* "255.255.255.255/32" + NUL */
#define KK_NET_CELL_IFNAME "eth0"

/* Host-global names and places; kk_net_new copies what it keeps. */
struct kk_net_config {
    const char *bridge_prefix; /* 1..KK_NET_PREFIX_MAX chars of [a-z0-9-] */
    const char *veth_prefix;   /* same rules; must differ from bridge_prefix */
    const char *netns_dir;     /* absolute; created if missing */
    const char *state_dir;     /* absolute; IPAM files; created if missing */
    const char *subnet_pool;   /* IPv4 CIDR, prefix length 8..24 */
};

#define KK_NET_CONFIG_DEFAULT                                                                      \
    {                                                                                              \
        .bridge_prefix = "kkb", .veth_prefix = "kkv", .netns_dir = "/run/kukeon/netns",            \
        .state_dir = "/var/lib/kukeon/net", .subnet_pool = "10.77.0.0/16",                         \
    }

struct kk_net_space_spec {
    const char *realm;
    const char *space;
    /* spec.network.subnet: an IPv4 CIDR with prefix length 16..30, or NULL
     * for the lowest free /24 of the pool. Once a space has a subnet it
     * keeps it (persisted); asking for a different one is FailedPrecondition. */
    const char *subnet;
};

/* What a space is on the host. Plain values, owned by the caller. */
struct kk_net_space {
    char bridge[KK_NET_IFNAMSIZ];
    char subnet[KK_NET_CIDRSTRLEN];  /* "10.77.0.0/24" */
    char gateway[KK_NET_ADDRSTRLEN]; /* "10.77.0.1", on the bridge */
    uint8_t prefix_len;
};

struct kk_net_cell_spec {
    const char *realm;
    const char *space;
    const char *stack;
    const char *cell;
};

/* What a cell's network is. Plain values, owned by the caller. */
struct kk_net_cell {
    char netns_path[4096];           /* bind mount of the namespace */
    char host_veth[KK_NET_IFNAMSIZ]; /* host end, enslaved to the bridge */
    char ifname[KK_NET_IFNAMSIZ];    /* KK_NET_CELL_IFNAME inside */
    char ip[KK_NET_ADDRSTRLEN];
    char gateway[KK_NET_ADDRSTRLEN];
    uint8_t prefix_len;
};

enum kk_net_remove_flags {
    /* Keep the cell's address allocated (a recreate gets the same IP). */
    KK_NET_KEEP_IP = 1u << 0,
};

/* Tells reconcile whether the cell with this key ("realm/space/stack/cell")
 * still exists. */
typedef bool (*kk_net_alive_fn)(const char *key, void *ctx);

struct kk_net;

struct kk_net_ops {
    /* Allocates (or finds) the space's subnet, then ensures the bridge with
     * the gateway address, up. */
    int (*space_ensure)(struct kk_net *net, const struct kk_net_space_spec *spec,
                        struct kk_net_space *out, kk_error **err);
    /* Deletes the bridge and forgets the subnet and every allocation of the
     * space. The caller removes the space's cells first. */
    int (*space_remove)(struct kk_net *net, const char *realm, const char *space, kk_error **err);
    /* The space must have been ensured (else FailedPrecondition). Ensures
     * the namespace, lo up, the veth pair (host end on the bridge, up; eth0
     * inside, up), the address and the default route via the gateway. */
    int (*cell_ensure)(struct kk_net *net, const struct kk_net_cell_spec *spec,
                       struct kk_net_cell *out, kk_error **err);
    /* Removes the veth pair, the namespace mount and file, and (unless
     * KK_NET_KEEP_IP) the address allocation. */
    int (*cell_remove)(struct kk_net *net, const struct kk_net_cell_spec *spec, unsigned flags,
                       kk_error **err);
    /* Removes every cell of the space that holds an allocation or a
     * namespace file but is not alive() any more (what a crash between
     * allocate and configure, or an agent down while a cell was deleted,
     * leaves behind). *removed, if not NULL, gets the number of cells
     * removed. */
    int (*reconcile)(struct kk_net *net, const char *realm, const char *space,
                     kk_net_alive_fn alive, void *ctx, unsigned *removed, kk_error **err);
    /* Sets net.ipv4.ip_forward=1 (a host-wide sysctl: cells reach beyond
     * their bridge only with it). No-op if already set. */
    int (*ensure_forwarding)(struct kk_net *net, kk_error **err);
    void (*free)(struct kk_net *net);
};

/* Backends embed this as their first member. */
struct kk_net {
    const struct kk_net_ops *ops;
};

/* The real backend (rtnetlink via libmnl, bind-mounted namespace files,
 * IPAM files). Validates cfg, creates state_dir and netns_dir, and copies
 * the config strings, so cfg may be freed afterwards. */
int kk_net_new(const struct kk_net_config *cfg, struct kk_net **out, kk_error **err);

static inline void kk_net_free(struct kk_net *net)
{
    if (net)
        net->ops->free(net);
}
static inline void kk_net_freep(struct kk_net **net)
{
    kk_net_free(*net);
}
#define _cleanup_net_ _cleanup_(kk_net_freep)

/* Derived names (pure functions, no I/O); for the firewall and for tests.
 * `out` has KK_NET_IFNAMSIZ bytes. Return -1 with *err on invalid names. */
int kk_net_bridge_name(const struct kk_net_config *cfg, const char *realm, const char *space,
                       char out[KK_NET_IFNAMSIZ], kk_error **err);
int kk_net_veth_name(const struct kk_net_config *cfg, const struct kk_net_cell_spec *spec,
                     char out[KK_NET_IFNAMSIZ], kk_error **err);
/* "<netns_dir>/<realm>_<space>_<stack>_<cell>" into out (size bytes). */
int kk_net_netns_path(const struct kk_net_config *cfg, const struct kk_net_cell_spec *spec,
                      char *out, size_t size, kk_error **err);
/* "realm/space/stack/cell" into out (KK_NET_KEY_MAX + 1 bytes). */
int kk_net_cell_key(const struct kk_net_cell_spec *spec, char out[KK_NET_KEY_MAX + 1],
                    kk_error **err);
/* Checks a config as kk_net_new does (prefixes, paths; not the pool,
 * which IPAM parses), without touching anything. */
int kk_net_config_check(const struct kk_net_config *cfg, kk_error **err);
/* 1-63 chars of [a-z0-9-], alphanumeric at both ends. */
bool kk_net_name_valid(const char *name);

/* Convenience wrappers over the ops table. */
static inline int kk_net_space_ensure(struct kk_net *net, const struct kk_net_space_spec *spec,
                                      struct kk_net_space *out, kk_error **err)
{
    return net->ops->space_ensure(net, spec, out, err);
}
static inline int kk_net_space_remove(struct kk_net *net, const char *realm, const char *space,
                                      kk_error **err)
{
    return net->ops->space_remove(net, realm, space, err);
}
static inline int kk_net_cell_ensure(struct kk_net *net, const struct kk_net_cell_spec *spec,
                                     struct kk_net_cell *out, kk_error **err)
{
    return net->ops->cell_ensure(net, spec, out, err);
}
static inline int kk_net_cell_remove(struct kk_net *net, const struct kk_net_cell_spec *spec,
                                     unsigned flags, kk_error **err)
{
    return net->ops->cell_remove(net, spec, flags, err);
}
static inline int kk_net_reconcile(struct kk_net *net, const char *realm, const char *space,
                                   kk_net_alive_fn alive, void *ctx, unsigned *removed,
                                   kk_error **err)
{
    return net->ops->reconcile(net, realm, space, alive, ctx, removed, err);
}
static inline int kk_net_ensure_forwarding(struct kk_net *net, kk_error **err)
{
    return net->ops->ensure_forwarding(net, err);
}

#endif
