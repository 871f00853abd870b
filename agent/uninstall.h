/* `kukeond --uninstall`: removes from the host everything an agent with
 * this configuration created, by the configured names only (so a second
 * agent, or a test, with other names is never touched):
 *
 *   - containerd: every namespace named <namespace-prefix>*, and every
 *     namespace a realm of the state tree names in spec.namespace, drained
 *     (tasks killed, containers, images, leases, snapshots, content) and
 *     deleted; runc's empty state directory of each;
 *   - links: the cells' host veths (<veth-prefix>*, kind veth) and the
 *     spaces' bridges (<bridge-prefix>*, kind bridge), with the gateway
 *     addresses and routes on them;
 *   - the nftables table inet <nft-table>;
 *   - the namespace bind mounts under <run-dir>/netns and that directory's
 *     own (shared) mount;
 *   - <cgroup-root> in every cgroup hierarchy (v1, hybrid and v2);
 *   - <run-dir> (IPAM leases, hosts files), and the agent's lock files in
 *     the lock directory;
 *   - with purge_state only: the state tree and the inbox.
 *
 * It refuses (FailedPrecondition... AlreadyExists from the lock) while a
 * kukeond holds any of the agent's locks (agent/lock.h), and holds them
 * itself meanwhile, so no agent starts half-way through. dry_run lists
 * what it would remove and touches nothing (not even the locks' files).
 * Every item is one line on `out`: "<kind> <name>" prefixed with
 * "would remove " or "removed ". A failure to remove one item is reported
 * and the others are still removed; the call then fails naming the first.
 * Running it again on a clean host finds nothing and succeeds.
 */
#ifndef KUKEON_AGENT_UNINSTALL_H
#define KUKEON_AGENT_UNINSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/config.h"

struct agent_uninstall_opts {
    bool dry_run;
    bool purge_state;
    const char *lock_dir;  /* AGENT_LOCK_DIR */
    const char *cgroup_fs; /* where the cgroup hierarchies are mounted: "/sys/fs/cgroup" */
    const char *runc_root; /* runc's state root: "/run/containerd/runc" */
    int stop_timeout_ms;   /* for tasks still running; 0: 2 s */
};

int agent_uninstall(const struct kk_agent_config *cfg, const struct agent_uninstall_opts *opts,
                    FILE *out, kk_error **err);

/* The ownership rules, pure, for tests. */

/* Why containerd namespace ns (whose containers are v[0..n)) is not this
 * agent's, or NULL if nothing says so (a string to free). A namespace
 * found by the prefix alone must be the prefix and a realm name, and its
 * containers must name that realm (another agent's prefix may extend
 * ours: "kukeon-" and "kukeon-x-"); one a realm names in spec.namespace
 * (from_spec) may hold containers of any realm. Either way a container
 * without the kukeon.io/realm label is none of ours (a namespace shared
 * with ctr, nerdctl, or another tool): the namespace is kept. */
struct kk_ctd_container;
char *agent_uninstall_ns_foreign(const char *ns, const char *prefix, bool from_spec,
                                 const struct kk_ctd_container *v, size_t n);

/* Whether link l, found by `prefix` (the bridge or the veth prefix), is
 * this configuration's: the name our prefixes give the owner its alias
 * records ("realm/space" for a bridge, "realm/space/stack/cell" for a
 * veth); a link of our prefix named otherwise belongs to an agent whose
 * prefix extends ours ("kkb" and "kkb2"). With no alias (a crash between
 * creating the link and naming its owner) the name must still be shaped
 * as ours, the prefix then hex digits to 15 characters: a short prefix
 * ("d") must not take docker0. */
struct kk_net_link_info;
bool agent_uninstall_link_ours(const struct kk_agent_config *cfg, const char *prefix,
                               const struct kk_net_link_info *l);

#endif
