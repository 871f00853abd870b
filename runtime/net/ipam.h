/* IPAM: subnets for spaces, addresses for cells, persisted in small files.
 *
 * State lives in one directory (kk_net_config.state_dir):
 *
 *     .lock                     flock()ed around every read-modify-write
 *     <realm>_<space>.ipam      one file per space, replaced atomically:
 *         subnet 10.77.3.0/24
 *         next 10.77.3.7
 *         alloc 10.77.3.2 main/web/app/api
 *
 * ('_' cannot occur in names, so the file name is unambiguous.)
 *
 * Invariants:
 *   - An allocation is on disk (fsync'ed) before kk_ipam_alloc returns, so
 *     nothing is configured with an address the state does not record.
 *   - An allocation is owned by an opaque key (the cell key); allocating
 *     again for the same owner returns the same address. A crash between
 *     allocate and configure is thus harmless: the retry reuses the address,
 *     and if the owner is gone, kk_ipam_owners lets a reconcile release it.
 *   - An address is never handed to two owners; the network, the gateway
 *     (network + 1) and the broadcast address are never handed out.
 *   - Addresses are handed out round-robin from `next`, so a released
 *     address is not reused at once (stale ARP entries of peers age out).
 *   - Space subnets never overlap. Pool subnets are the lowest free /24.
 *   - Every function takes the lock itself; they are safe to call from
 *     several threads and processes sharing the directory.
 *   - Files are parsed strictly with limits; a malformed file is a DataLoss
 *     error naming file:line, never silently rewritten.
 */
#ifndef KUKEON_NET_IPAM_H
#define KUKEON_NET_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/error.h"

/* An IPv4 network, address in host byte order with host bits zero. */
struct kk_ipv4_net {
    uint32_t addr;
    uint8_t len;
};

/* Parses "a.b.c.d/len" (host bits must be zero), len in min_len..max_len. */
int kk_ipam_parse_cidr(const char *s, uint8_t min_len, uint8_t max_len, struct kk_ipv4_net *out,
                       kk_error **err);
/* Formats into out: 16 bytes for an address, 19 for a CIDR. */
void kk_ipam_format_addr(uint32_t addr, char out[16]);
void kk_ipam_format_cidr(const struct kk_ipv4_net *net, char out[19]);

static inline uint32_t kk_ipam_gateway(const struct kk_ipv4_net *net)
{
    return net->addr + 1;
}

struct kk_ipam {
    int dirfd;
    struct kk_ipv4_net pool;
};

/* Opens (creating it if needed) the state directory. pool: IPv4 CIDR with
 * prefix length 8..24. */
int kk_ipam_open(struct kk_ipam *ipam, const char *state_dir, const char *pool, kk_error **err);
void kk_ipam_close(struct kk_ipam *ipam);

/* Returns the space's subnet, allocating and persisting it first if the
 * space has none: `subnet` (CIDR, /16../30) or, if NULL, the lowest free
 * /24 of the pool. Free means: overlapping neither another space nor any of
 * the n_avoid networks in `avoid` (may be NULL: the host's own networks,
 * addresses and routes, which the caller looks up with kk_hostnets_ipv4,
 * runtime/net/hostnets.h); an explicit subnet that overlaps one is
 * AlreadyExists. A space that has a subnet keeps it (avoid is not
 * consulted again); a different explicit one is FailedPrecondition. */
int kk_ipam_space_ensure(struct kk_ipam *ipam, const char *realm, const char *space,
                         const char *subnet, const struct kk_ipv4_net *avoid, size_t n_avoid,
                         struct kk_ipv4_net *out, kk_error **err);
/* The space's subnet; NotFound if the space has none. */
int kk_ipam_space_get(struct kk_ipam *ipam, const char *realm, const char *space,
                      struct kk_ipv4_net *out, kk_error **err);
/* Forgets the space and all its allocations; absent is fine. */
int kk_ipam_space_remove(struct kk_ipam *ipam, const char *realm, const char *space,
                         kk_error **err);

/* The owner's address in the space (allocating one if it has none);
 * FailedPrecondition if the space has no subnet, ResourceExhausted if full.
 * owner: 1..255 printable non-space characters. */
int kk_ipam_alloc(struct kk_ipam *ipam, const char *realm, const char *space, const char *owner,
                  uint32_t *out, kk_error **err);
/* Frees the owner's address; absent owner or space is fine. */
int kk_ipam_release(struct kk_ipam *ipam, const char *realm, const char *space, const char *owner,
                    kk_error **err);
/* The owners holding an address in the space, as a NULL-terminated array
 * the caller frees with kk_strv_free (empty if the space is unknown). */
int kk_ipam_owners(struct kk_ipam *ipam, const char *realm, const char *space, char ***out,
                   kk_error **err);

/* ---- the pool against the host's own networks ---------------------------- */

/* A network the host already uses (runtime/net/hostnets.h): an address's
 * network, or a route's destination, and the link it is on. */
struct kk_hostnet {
    struct kk_ipv4_net net;
    bool route;   /* a route (else an address) */
    char dev[16]; /* the link's name (IFNAMSIZ), "" if none (a blackhole) */
};

/* "10.88.0.0/16 (address on cni-podman0)" into out. */
#define KK_IPAM_HOSTNET_STRLEN 64
void kk_ipam_format_hostnet(const struct kk_hostnet *hn, char out[KK_IPAM_HOSTNET_STRLEN]);

/* Called once for each host network that overlaps the pool. */
typedef void (*kk_ipam_overlap_fn)(void *ctx, const struct kk_ipv4_net *pool,
                                   const struct kk_hostnet *hn);

/* Pure: calls fn (may be NULL) for each of the n networks that overlaps
 * pool, and returns how many did. */
size_t kk_ipam_overlaps(const struct kk_ipv4_net *pool, const struct kk_hostnet *nets, size_t n,
                        kk_ipam_overlap_fn fn, void *ctx);

struct kk_hostnets_source;
/* The host's networks (from src; skip_prefix: our bridge prefix, whose
 * subnets are ours) that overlap pool, a CIDR as kk_ipam_open takes it:
 * returns their count (>= 0) after calling fn for each, or -1. Space
 * subnets are never taken from such a network (kk_ipam_space_ensure skips
 * it), but an operator wants to know: the agent logs a warning at start,
 * and `kuke doctor` reports it. Reads only. */
int kk_ipam_host_overlaps_from(const struct kk_hostnets_source *src, const char *pool,
                               const char *skip_prefix, kk_ipam_overlap_fn fn, void *ctx,
                               kk_error **err);
/* The same for the calling thread's network namespace (rtnetlink). */
int kk_ipam_host_overlaps(const char *pool, const char *skip_prefix, kk_ipam_overlap_fn fn,
                          void *ctx, kk_error **err);

#endif
