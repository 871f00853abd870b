/* Space isolation, egress masquerade and port publishing (docs/design.md
 * §1), as nftables rules in one table of family inet that kukeon owns.
 *
 * The agent talks to a `struct kk_fw` through its ops table, so tests of the
 * agent can substitute a fake; kk_fw_new() builds the real backend on top of
 * libnftables. docs/firewall.md shows the ruleset and explains it.
 *
 *     struct kk_fw_config cfg = KK_FW_CONFIG_DEFAULT;
 *     _cleanup_fw_ struct kk_fw *fw = NULL;
 *     if (kk_fw_new(&cfg, &fw, err) < 0) ...
 *     kk_fw_space_apply(fw, &(struct kk_fw_space){"main/web", "kkb1a2b3c4d", "10.77.0.0/24"},
 *                       err);
 *     struct kk_fw_port p;
 *     kk_fw_port_parse("8080:80/tcp", &p, err);
 *     kk_fw_cell_apply(fw, &(struct kk_fw_cell){"main/web/app/api", "10.77.0.2", &p, 1}, err);
 *     ...
 *     kk_fw_cell_remove(fw, "main/web/app/api", err);
 *     kk_fw_space_remove(fw, "main/web", err);
 *
 * Invariants of every backend:
 *   - Everything lives in the table `cfg->table` (family inet); no other
 *     table is ever read, written or deleted.
 *   - A space or cell owns a few chains named after its key
 *     ("space/<key>/fwd", "cell/<key>/dnat", ...) and one jump to each from a
 *     shared dispatch chain. Applying replaces exactly the object's own rules;
 *     removing deletes exactly its chains and jumps. Nothing else changes.
 *   - Every change is one atomic nftables transaction: the kernel shows the
 *     old or the new ruleset, never a mix, and a failed change changes nothing.
 *   - Applying the same description twice changes nothing: the second time
 *     finds everything in place and runs no transaction at all. Removing
 *     something absent succeeds.
 *   - Keys and interface names are validated against small character sets,
 *     addresses and ports are parsed and re-rendered: nothing a user wrote
 *     reaches nft's parser unchecked (no quotes, no ';', no newlines).
 *   - A struct kk_fw may be used from several threads; the real backend
 *     serialises its operations. It assumes no other process edits its table
 *     at the same time (the read-modify-write of a change is not guarded
 *     against that).
 */
#ifndef KUKEON_FIREWALL_H
#define KUKEON_FIREWALL_H

#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

#define KK_FW_TABLE_MAX     64 /* nft accepts 255; a short name reads better */
#define KK_FW_KEY_MAX       255
#define KK_FW_ADDRSTRLEN    16  /* "255.255.255.255" + NUL */
#define KK_FW_PORTS_MAX     256 /* per cell */
#define KK_FW_PORT_SPEC_MAX 64

struct kk_fw_config {
    /* The nft table (family inet): 1..KK_FW_TABLE_MAX chars of
     * [A-Za-z0-9_-], starting with a letter. */
    const char *table;
};

#define KK_FW_CONFIG_DEFAULT                                                                       \
    {                                                                                              \
        .table = "kukeon"                                                                          \
    }

enum kk_fw_proto { KK_FW_TCP = 0, KK_FW_UDP = 1 };

/* One published port: `[hostIP:]hostPort:containerPort[/tcp|udp]`. */
struct kk_fw_port {
    char host_ip[KK_FW_ADDRSTRLEN]; /* IPv4; "" means every local address */
    uint16_t host_port;             /* 1..65535 */
    uint16_t container_port;        /* 1..65535 */
    enum kk_fw_proto proto;
};

/* Parses a port spec as above ("8080:80", "127.0.0.1:8080:80/udp"). A bare
 * "80" is not accepted: kukeon publishes only what is asked for, on the port
 * asked for. Returns 0, or -1 with InvalidArgument. */
int kk_fw_port_parse(const char *spec, struct kk_fw_port *out, kk_error **err);

/* A space as the firewall sees it. The caller owns the strings. */
struct kk_fw_space {
    /* "realm/space": '/'-separated segments of [a-z0-9-], 1..KK_FW_KEY_MAX. */
    const char *key;
    const char *bridge; /* the space's bridge, 1..15 chars of [A-Za-z0-9_.-] */
    const char *subnet; /* IPv4 CIDR, "10.77.0.0/24" (host bits must be 0) */
};

/* A cell as the firewall sees it. The caller owns everything. */
struct kk_fw_cell {
    const char *key; /* "realm/space/stack/cell", same syntax as a space key */
    const char *ip;  /* the cell's IPv4 address */
    const struct kk_fw_port *ports;
    size_t n_ports; /* 0..KK_FW_PORTS_MAX; host ports must not repeat */
};

struct kk_fw;

struct kk_fw_ops {
    /* Ensures the table and its base chains, and replaces the space's rules:
     * traffic entering the bridge from anywhere else is dropped unless it is
     * a reply or a published flow (this is what keeps spaces apart),
     * traffic from the subnet leaving by another interface is masqueraded,
     * and so is traffic to a published port coming from 127.0.0.0/8 or from
     * the space itself (hairpin). Also sets route_localnet=1 on the bridge
     * (so the host's 127.0.0.1 can reach a published port) and drops
     * packets for 127.0.0.0/8 arriving on the bridge (so that setting opens
     * nothing to the cells). The bridge must exist (else NotFound). */
    int (*space_apply)(struct kk_fw *fw, const struct kk_fw_space *space, kk_error **err);
    /* Deletes the space's chains and jumps. Its cells are removed first. */
    int (*space_remove)(struct kk_fw *fw, const char *key, kk_error **err);
    /* Replaces the cell's published ports: DNAT of host_port on local
     * addresses (from other hosts and namespaces in prerouting, from the
     * host itself in output) to ip:container_port, and the forward accept of
     * that flow. A cell without ports owns no rules at all. */
    int (*cell_apply)(struct kk_fw *fw, const struct kk_fw_cell *cell, kk_error **err);
    int (*cell_remove)(struct kk_fw *fw, const char *key, kk_error **err);
    /* Deletes the chains and jumps of every space and cell not named in
     * live_spaces / live_cells (NULL-terminated key lists; NULL is empty):
     * what an agent that was down while resources were deleted finds, once
     * it has scanned everything. *removed (if not NULL) gets the number of
     * chains deleted. One transaction; nothing to delete is no transaction. */
    int (*prune)(struct kk_fw *fw, const char *const *live_spaces, const char *const *live_cells,
                 unsigned *removed, kk_error **err);
    /* Deletes the whole table (all spaces and cells); absent is fine. */
    int (*teardown)(struct kk_fw *fw, kk_error **err);
    /* Appends the table as `nft list table` prints it ("" if absent). */
    int (*dump)(struct kk_fw *fw, struct kk_buf *out, kk_error **err);
    void (*free)(struct kk_fw *fw);
};

/* Backends embed this as their first member. */
struct kk_fw {
    const struct kk_fw_ops *ops;
};

/* The real backend (libnftables). Validates cfg and copies what it keeps.
 * Touches nothing in the kernel until the first operation. */
int kk_fw_new(const struct kk_fw_config *cfg, struct kk_fw **out, kk_error **err);

static inline void kk_fw_free(struct kk_fw *fw)
{
    if (fw)
        fw->ops->free(fw);
}
static inline void kk_fw_freep(struct kk_fw **fw)
{
    kk_fw_free(*fw);
}
#define _cleanup_fw_ _cleanup_(kk_fw_freep)

static inline int kk_fw_space_apply(struct kk_fw *fw, const struct kk_fw_space *space,
                                    kk_error **err)
{
    return fw->ops->space_apply(fw, space, err);
}
static inline int kk_fw_space_remove(struct kk_fw *fw, const char *key, kk_error **err)
{
    return fw->ops->space_remove(fw, key, err);
}
static inline int kk_fw_cell_apply(struct kk_fw *fw, const struct kk_fw_cell *cell, kk_error **err)
{
    return fw->ops->cell_apply(fw, cell, err);
}
static inline int kk_fw_cell_remove(struct kk_fw *fw, const char *key, kk_error **err)
{
    return fw->ops->cell_remove(fw, key, err);
}
static inline int kk_fw_prune(struct kk_fw *fw, const char *const *live_spaces,
                              const char *const *live_cells, unsigned *removed, kk_error **err)
{
    return fw->ops->prune(fw, live_spaces, live_cells, removed, err);
}
static inline int kk_fw_teardown(struct kk_fw *fw, kk_error **err)
{
    return fw->ops->teardown(fw, err);
}
static inline int kk_fw_dump(struct kk_fw *fw, struct kk_buf *out, kk_error **err)
{
    return fw->ops->dump(fw, out, err);
}

#endif
