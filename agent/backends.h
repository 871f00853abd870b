/* What the agent drives on the host, behind one struct so that the
 * reconcilers run unchanged against fakes (tests/unit/test-agent*.c).
 *
 *     struct kk_agent_backends be;
 *     kk_agent_backends_open_real(&cfg, &be, err);   // containerd, cgroups, net, nft
 *     ...
 *     kk_agent_backends_close(&be);
 *
 * Invariants:
 *   - ctd/ctd_self, image/image_self, cg, net and fw (and registry, which
 *     a fake may leave NULL) are all set after a
 *     successful open; a fake fills them itself and owns them.
 *   - ctd, image and fw are thread-safe; net is for different cells at a time; cg
 *     is not thread-safe, so the agent serialises its calls (agent->cg_lock).
 */
#ifndef KUKEON_AGENT_BACKENDS_H
#define KUKEON_AGENT_BACKENDS_H

#include "agent/config.h"
#include "fsapi/clock.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/containerd/containerd.h"
#include "runtime/firewall/firewall.h"
#include "runtime/image/image.h"
#include "runtime/net/net.h"
#include "runtime/registry/registry.h"

struct kk_agent_backends {
    const struct kk_ctd_ops *ctd;
    void *ctd_self;
    const struct kk_image_ops *image; /* resolve, prepare_rootfs, read_file */
    void *image_self;
    struct kk_cg *cg;
    struct kk_net *net;
    struct kk_fw *fw;
    /* Registry pulls (agent/puller.h runs them off the reconcile path);
     * NULL: no pulls, a missing image stays ImageNotFound. */
    const struct kk_registry_ops *registry;
    void *registry_self;
    /* Time for timestamps, backoffs and grace periods (fsapi/clock.h);
     * NULL: the system clock. Unit tests pass a fake and advance it. */
    const struct kk_clock *clock;
    /* Real backends only: what kk_agent_backends_close releases. The
     * client is also what pulls write into. */
    struct kk_ctd *client;
    struct kk_registry *registry_real;
};

int kk_agent_backends_open_real(const struct kk_agent_config *cfg, struct kk_agent_backends *out,
                                kk_error **err);
/* Closes what open_real opened; a fake's backends are the test's. */
void kk_agent_backends_close(struct kk_agent_backends *be);

#endif
