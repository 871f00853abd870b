/* The IPv4 networks a host already uses, so that a space's subnet never
 * shadows one (runtime/net internal; also behind kk_ipam_host_overlaps).
 *
 * "In use" means: the network of every IPv4 address, and the destination
 * of every IPv4 route with a prefix (not the default route, which overlaps
 * everything) in any routing table but `local` (a VPN's or a container
 * engine's route with no address of ours on it, e.g. a tunnel to 10.8.0.0/24
 * or a route table of tailscale, counts as much as a LAN on eth0).
 * Addresses and routes on links whose name starts with a given prefix (our
 * own bridges, whose subnets IPAM already knows) are left out.
 *
 * The source is a struct of function pointers, so IPAM's checks are unit
 * tested with a fake list (tests/unit/test-ipam-host.c).
 */
#ifndef KUKEON_NET_HOSTNETS_H
#define KUKEON_NET_HOSTNETS_H

#include <stddef.h>

#include "fsapi/error.h"
#include "runtime/net/ipam.h"
#include "runtime/net/nl.h"

struct kk_hostnets_source {
    /* Every network in use (see above) except on links named skip_prefix*
     * (NULL or "": none skipped). *out is allocated (the caller frees it,
     * also when *n is 0), *n its length. */
    int (*list)(void *ctx, const char *skip_prefix, struct kk_hostnet **out, size_t *n,
                kk_error **err);
    void *ctx;
};

/* The calling thread's network namespace, over rtnetlink. */
extern const struct kk_hostnets_source kk_hostnets_netlink;

/* The same over an open socket; nl must belong to the calling thread's
 * namespace (route devices are named with if_indextoname). A dump the
 * kernel marks interrupted (the table changed meanwhile: other agents,
 * containers coming and going) is read again, up to 100 times. */
int kk_hostnets_list_nl(struct kk_nl *nl, const char *skip_prefix, struct kk_hostnet **out,
                        size_t *n, kk_error **err);

/* The same reduced to bare networks, in the form kk_ipam_space_ensure's
 * `avoid` takes. */
int kk_hostnets_ipv4(struct kk_nl *nl, const char *skip_prefix, struct kk_ipv4_net **out, size_t *n,
                     kk_error **err);

#endif
