/* rtnetlink messages of runtime/net (internal): link lookup, and fillers
 * for the messages the backend batches. Each put_* fills a header obtained
 * from kk_nl_batch_add (type and flags already set by the caller).
 */
#ifndef KUKEON_NET_RTNL_H
#define KUKEON_NET_RTNL_H

#include <stdint.h>

#include "runtime/net/ipam.h"
#include "runtime/net/nl.h"

#define KK_RTNL_ALIAS_MAX 256 /* IFALIASZ */

struct kk_link {
    int index;
    unsigned flags;                /* IFF_* */
    int master;                    /* ifindex, 0 if none */
    char kind[16];                 /* IFLA_INFO_KIND ("bridge", "veth"), "" if none */
    char alias[KK_RTNL_ALIAS_MAX]; /* IFLA_IFALIAS, "" if none */
};

/* Looks a link up by name in nl's namespace: 1 and *out if it exists, 0 if
 * not, -1 on error. */
int kk_rtnl_link_get(struct kk_nl *nl, const char *name, struct kk_link *out, kk_error **err);

/* The IPv4 networks of nl's namespace (every address with its prefix
 * length, as a network), except those on links whose name starts with
 * skip_prefix. *out is allocated (free it), *n its length. */
int kk_rtnl_ipv4_networks(struct kk_nl *nl, const char *skip_prefix, struct kk_ipv4_net **out,
                          size_t *n, kk_error **err);

/* RTM_NEWLINK of a bridge, up. (The kernel ignores IFLA_IFALIAS when it
 * creates a link: the alias needs a kk_rtnl_put_link_up after.) */
void kk_rtnl_put_bridge(struct nlmsghdr *nlh, const char *name);
/* RTM_NEWLINK of a veth pair: host end `name` (enslaved to master, up) and
 * its peer `peer` created directly in the namespace peer_nsfd, so it never
 * exists under its name on the host. */
void kk_rtnl_put_veth(struct nlmsghdr *nlh, const char *name, int master, const char *peer,
                      int peer_nsfd);
/* RTM_NEWLINK of an existing link: up, enslaved to master if master > 0,
 * with ifalias `alias` if not NULL. Identified by index, or by name if
 * index is 0. */
void kk_rtnl_put_link_up(struct nlmsghdr *nlh, int index, const char *name, int master,
                         const char *alias);
/* RTM_SETLINK (family AF_BRIDGE) putting bridge port `index` in hairpin
 * mode, so that a cell's packets to its own published port, DNATed back to
 * it by the host, may leave through the port they came in by. */
void kk_rtnl_put_hairpin(struct nlmsghdr *nlh, int index);
/* RTM_DELLINK by index, or by name if index is 0. */
void kk_rtnl_put_link_del(struct nlmsghdr *nlh, int index, const char *name);
/* RTM_NEWADDR: addr/len (host byte order) on index, with broadcast. */
void kk_rtnl_put_addr(struct nlmsghdr *nlh, int index, uint32_t addr, uint8_t len);
/* RTM_NEWROUTE: default route via gw (host byte order), main table. */
void kk_rtnl_put_default_route(struct nlmsghdr *nlh, uint32_t gw);

#endif
