/* Finding and deleting the links an agent made, by name prefix, for
 * `kukeond --uninstall` (agent/uninstall.c): the host side of every cell
 * (veth_prefix*) and every space's bridge (bridge_prefix*), in the calling
 * thread's network namespace. Ownership is the prefix plus the link's kind
 * (a veth for the veth prefix, a bridge for the bridge prefix), the same
 * rule the backend applies (runtime/net/net.h): a link of our prefix but of
 * another kind is not ours and is left alone.
 */
#ifndef KUKEON_NET_SWEEP_H
#define KUKEON_NET_SWEEP_H

#include <stddef.h>

#include "fsapi/error.h"

struct kk_net_link_info {
    int index;
    char name[16];   /* IFNAMSIZ */
    char kind[16];   /* "bridge", "veth", "" */
    char alias[256]; /* the owner's key, "" if none */
};

/* The links whose name starts with prefix (non-empty) and whose kind is
 * `kind`. *out is allocated (free it; also when *n is 0). */
int kk_net_links_with_prefix(const char *prefix, const char *kind, struct kk_net_link_info **out,
                             size_t *n, kk_error **err);
/* Deletes the link by index (a veth's peer goes with it, a bridge's
 * addresses and routes with it); one already gone is fine. */
int kk_net_link_delete(int index, const char *name, kk_error **err);

#endif
