/* The real backends of the agent. */
#include "agent/backends.h"

#include <string.h>

int kk_agent_backends_open_real(const struct kk_agent_config *cfg, struct kk_agent_backends *out,
                                kk_error **err)
{
    struct kk_agent_backends be = {.ctd = &kk_ctd_real_ops, .image = &kk_image_real_ops};
    if (kk_ctd_open(cfg->containerd_address, NULL, &be.client, err) < 0)
        return kk_error_wrap(err, "containerd %s", cfg->containerd_address);
    be.ctd_self = be.client;
    be.image_self = be.client;

    struct kk_cg_config cgc = {.root = cfg->cgroup_root};
    if (kk_cg_open_real(&cgc, &be.cg, err) < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "cgroups");
    }
    _cleanup_free_ char *netns = kk_xasprintf("%s/netns", cfg->run_dir);
    _cleanup_free_ char *ipam = kk_xasprintf("%s/net", cfg->run_dir);
    struct kk_net_config nc = {
            .bridge_prefix = cfg->bridge_prefix,
            .veth_prefix = cfg->veth_prefix,
            .netns_dir = netns,
            .state_dir = ipam,
            .subnet_pool = cfg->subnet_pool,
    };
    if (kk_net_new(&nc, &be.net, err) < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "network");
    }
    struct kk_fw_config fc = {.table = cfg->nft_table};
    if (kk_fw_new(&fc, &be.fw, err) < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "firewall");
    }
    struct kk_registry_config rc = {0};
    int r = kk_registry_config_load(cfg->registries_config, &rc, err);
    if (r >= 0)
        r = kk_registry_new(&rc, &be.registry_real, err);
    kk_registry_config_clear(&rc);
    if (r < 0) {
        kk_agent_backends_close(&be);
        return kk_error_wrap(err, "registries");
    }
    be.registry = &kk_registry_real_ops;
    be.registry_self = be.registry_real;
    *out = be;
    return 0;
}

void kk_agent_backends_close(struct kk_agent_backends *be)
{
    kk_registry_free(be->registry_real);
    kk_fw_free(be->fw);
    kk_net_free(be->net);
    kk_cg_close(be->cg);
    kk_ctd_close(be->client);
    memset(be, 0, sizeof(*be));
}
