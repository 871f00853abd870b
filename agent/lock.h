/* One kukeond per state tree and per host-global name: a second agent on
 * the same tree, cgroup root, nft table, bridge or veth prefix would fight the
 * first one over every container and rule. kukeond takes these locks
 * before it touches anything and keeps them for its lifetime.
 *
 *     struct agent_locks l;
 *     if (agent_locks_take(&cfg, AGENT_LOCK_DIR, &l, err) < 0)
 *         ...;   // err names the other agent's pid and the shared name
 *     ...
 *     agent_locks_release(&l);
 *
 * The locks are flock(2) locks on small files that hold the owner's pid:
 * <state>/_agent/kukeond.lock (the agent's own directory), and under
 * lock_dir one file per host-global name ("nft-<table>.lock", ...). They
 * go away with the process, so a crash leaves nothing to clean up.
 */
#ifndef KUKEON_AGENT_LOCK_H
#define KUKEON_AGENT_LOCK_H

#include "agent/config.h"

#define AGENT_LOCK_DIR  "/run/lock/kukeon"
#define AGENT_LOCKS_MAX 5

struct agent_locks {
    int fds[AGENT_LOCKS_MAX];
    size_t n;
};

/* Takes every lock or none. */
int agent_locks_take(const struct kk_agent_config *cfg, const char *lock_dir,
                     struct agent_locks *out, kk_error **err);
/* Releases them; fine on a zeroed or already released struct. */
void agent_locks_release(struct agent_locks *l);

#endif
