/* An in-memory struct kk_cg for the agent's unit tests: no kernel, no files,
 * no root. It keeps which cgroups exist, their limits, their frozen state and
 * which pids are in them, and follows the real backends' observable rules:
 *
 *   - names are validated the same way (kk_cg_ref_path);
 *   - ensure creates every level, is idempotent, and on v2 delegates the
 *     default set (or everything, nested) filtered by `available`;
 *   - apply needs the cgroup to exist and its controllers to be available;
 *   - place moves a pid out of whatever cgroup had it;
 *   - remove of a cgroup holding pids (itself or below) fails at once with
 *     FailedPrecondition / CgroupBusy (the fake has no clock to wait on);
 *     use kk_cg_fake_exit to let a process go first.
 *
 * Not thread-safe, like the real one.
 */
#ifndef KUKEON_RUNTIME_CGROUP_FAKE_H
#define KUKEON_RUNTIME_CGROUP_FAKE_H

#include "runtime/cgroup/cgroup.h"

/* mode is V1 or V2; root NULL means KK_CG_DEFAULT_ROOT. */
int kk_cg_open_fake(enum kk_cg_mode mode, unsigned available, const char *root, struct kk_cg **out,
                    kk_error **err);
/* The process exited: it leaves its cgroup. */
void kk_cg_fake_exit(struct kk_cg *cg, pid_t pid);
/* The next call of op ("ensure", "apply", "freeze", "place", "remove",
 * "status", "read", "procs") fails with code, once. */
void kk_cg_fake_fail_next(struct kk_cg *cg, const char *op, kk_code code);
/* How many cgroups exist (the root and every level counted). */
size_t kk_cg_fake_count(struct kk_cg *cg);

#endif
