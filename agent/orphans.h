/* Host traces of resources no spec accounts for (agent/orphans.c).
 *
 * A resource whose spec directory went while the agent was not running
 * (removed by hand, its inbox file and report removed, the whole realm
 * removed, the state tree restored from a backup) leaves what the agent
 * made for it on the host: containerd containers and tasks with their
 * snapshots, the netns bind mount and its veth, the IP lease, nft chains,
 * cgroups. Nothing in the tree names it any more, so no scan of the tree
 * finds it. These functions find it from the host, by this agent's own
 * configured names only:
 *
 *   - cgroups: directories below <mount>[/<hierarchy>]/<cgroup root>/,
 *     down to the cell level (realm/space/stack/cell);
 *   - the netns directory <run dir>/netns/: files realm_space_stack_cell;
 *   - the IPAM directory <run dir>/net/: files realm_space.ipam.
 *
 * (The two run-dir places are the ones agent/backends.c configures the
 * network backend with.) containerd is searched by the dispatch, in the
 * namespace of each realm found here or in the tree: a namespace is never
 * guessed from a prefix alone, since another agent's prefix may extend
 * ours ("kukeon-" and "kukeon-x-").
 *
 * Nothing here changes the host: the keys found are enqueued, and the
 * reconcilers take each resource down in the safe order, under the
 * queue's one-worker-per-key rule (a cell's delete, then its stack's,
 * space's and realm's: agent/parents.c tears down a parent level whose
 * directory is gone).
 *
 * Thread-safety: none needed; called from the worker running a full scan.
 */
#ifndef KUKEON_AGENT_ORPHANS_H
#define KUKEON_AGENT_ORPHANS_H

#include <stdbool.h>

#include "agent/internal.h"
#include "fsapi/yaml-codec.h"
#include "runtime/cgroup/cgroup.h"

/* The cgroup mount the real backend uses (agent/backends.c opens it with
 * the default). NULL to the functions below: cgroups are not searched
 * (test mode, where the cgroup backend is a fake and the host's real
 * cgroups are none of the test's business). */
#define AGENT_ORPHANS_CG_MOUNT KK_CG_DEFAULT_MOUNT

/* The cgroup mount to search: NULL in test mode (cfg.workers == 0). */
const char *agent_orphans_cg_mount(const struct agent_ctx *a);

/* Appends to keys (deduplicated; "realm", "realm/space",
 * "realm/space/stack", "realm/space/stack/cell") every resource that has a
 * trace under this agent's configured names. Unreadable places are
 * skipped (logged at debug): finding less is always safe. */
void agent_orphans_traces(struct agent_ctx *a, const char *cg_mount, struct kk_strv *keys);

/* Whether realm has a trace of this agent's own on the host (a cgroup
 * below the cgroup root, a netns or IPAM file named after it). A realm
 * that is neither in the tree nor traced here is not this agent's: a
 * containerd event from a namespace that only looks like one of ours
 * must not make the agent delete what is in it. */
bool agent_orphans_realm_traced(struct agent_ctx *a, const char *cg_mount, const char *realm);

/* Of the keys given, those whose directory is not in the state tree. */
void agent_orphans_untracked(struct agent_ctx *a, const struct kk_strv *keys, struct kk_strv *out);

/* Of the orphan keys given, the deepest ones: those with no other key of
 * the list below them. Taking those down enqueues their parents in turn,
 * so a parent is not tried (and found busy) before its children. */
void agent_orphans_leaves(const struct kk_strv *keys, struct kk_strv *out);

#endif
