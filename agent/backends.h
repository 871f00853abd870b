/* What the agent drives on the host, behind one struct so that the
 * reconcilers run unchanged against fakes (tests/unit/test-agent*.c).
 *
 *     struct kk_agent_backends be;
 *     kk_agent_backends_open_real(&cfg, &be, err);   // containerd, cgroups, net, nft
 *     ...
 *     kk_agent_backends_close(&be);
 *
 * Invariants:
 *   - ctd/ctd_self, image_resolve, cg, net and fw are all set after a
 *     successful open; a fake fills them itself and owns them.
 *   - ctd and fw are thread-safe; net is for different cells at a time; cg
 *     is not thread-safe, so the agent serialises its calls (agent->cg_lock).
 */
#ifndef KUKEON_AGENT_BACKENDS_H
#define KUKEON_AGENT_BACKENDS_H

#include "agent/config.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/containerd/containerd.h"
#include "runtime/firewall/firewall.h"
#include "runtime/net/net.h"

/* An image present in a namespace, as a container needs it. */
struct kk_agent_image {
    char *config_json; /* the image config blob (runtime/oci imgconfig input) */
    size_t config_len;
    char *chain_id; /* the top layer's chain ID: the parent snapshot */
};
void kk_agent_image_clear(struct kk_agent_image *img);

/* Finds image `ref` in namespace `ns`: NotFound (reason ImageNotFound) if
 * the namespace has no such image or its layers are not unpacked. */
typedef int (*kk_agent_image_resolve_fn)(void *self, const char *ns, const char *ref,
                                         struct kk_agent_image *out, kk_error **err);

struct kk_agent_backends {
    const struct kk_ctd_ops *ctd;
    void *ctd_self;
    kk_agent_image_resolve_fn image_resolve;
    void *image_self;
    struct kk_cg *cg;
    struct kk_net *net;
    struct kk_fw *fw;
    /* Real backends only: the client, for kk_agent_backends_close. */
    struct kk_ctd *client;
};

int kk_agent_backends_open_real(const struct kk_agent_config *cfg, struct kk_agent_backends *out,
                                kk_error **err);
/* Closes what open_real opened; a fake's backends are the test's. */
void kk_agent_backends_close(struct kk_agent_backends *be);

/* The real resolver (self: a struct kk_ctd *): image record -> manifest
 * (the host platform's, through an index) -> config -> diff IDs -> chain
 * ID, checked to exist as a committed snapshot. */
int kk_agent_image_resolve_real(void *self, const char *ns, const char *ref,
                                struct kk_agent_image *out, kk_error **err);

#endif
