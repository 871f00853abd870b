/* A fake struct kk_net for tests of the agent: no root, no kernel objects.
 *
 * It keeps the real IPAM (in cfg->state_dir, so subnets and addresses are
 * exactly what the real backend would hand out, and persist the same way)
 * and the real derived names, but creates no bridge, namespace or link: the
 * netns_path it reports does not exist. It remembers which spaces and cells
 * are "up", counts calls, and can be told to fail the next call.
 *
 * Thread-safe like the real backend.
 */
#ifndef KUKEON_NET_FAKE_H
#define KUKEON_NET_FAKE_H

#include "runtime/net/net.h"

struct kk_net_fake_stats {
    unsigned space_ensure, space_remove, cell_ensure, cell_remove, reconcile, forwarding;
    unsigned spaces_up, cells_up;
};

/* Validates cfg like kk_net_new (the prefixes and paths must be valid,
 * netns_dir is never touched) and opens the IPAM state. */
int kk_net_new_fake(const struct kk_net_config *cfg, struct kk_net **out, kk_error **err);

/* The next call of any op (but free) fails with `code` and does nothing. */
void kk_net_fake_fail_next(struct kk_net *net, kk_code code);
/* Call counts and what is up now. `net` must come from kk_net_new_fake. */
struct kk_net_fake_stats kk_net_fake_stats(struct kk_net *net);
/* True if the cell ("realm/space/stack/cell") is ensured and not removed. */
bool kk_net_fake_cell_up(struct kk_net *net, const char *key);

#endif
