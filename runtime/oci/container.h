/* A Container of the model (fsapi/model.h) onto the spec builder's
 * config (spec.h): the one place that knows both, so the agent fills only
 * what is its own (image, hostname, network namespace, cgroup, cell
 * files, resources).
 *
 *     _cleanup_(kk_oci_container_storage_release) struct kk_oci_container_storage st = {0};
 *     struct kk_oci_spec_config sc = {.image = ..., .netns_path = ...};
 *     if (kk_oci_spec_from_container(&sc, k, &st, err) < 0) ...
 *     kk_oci_spec_build(&sc, out, err);
 *
 * Sets: binds and tmpfs (volumes by kind, then tmpfs[]), devices,
 * privileged, cap_bounding (the agent's own bounding set), cap_add,
 * cap_drop, readonly_rootfs, seccomp and seccomp_profile, apparmor_profile,
 * allow_new_privileges (securityOpts: no-new-privileges=false), host_network,
 * host_pid, host_cgroup. The config then points into k and st: both must
 * outlive the kk_oci_spec_build call. k must be normalised
 * (kk_model_normalize); an entry it would have refused is an
 * InvalidArgument error. */
#ifndef KUKEON_OCI_CONTAINER_H
#define KUKEON_OCI_CONTAINER_H

#include "fsapi/model.h"
#include "runtime/oci/spec.h"

struct kk_oci_container_storage {
    struct kk_oci_bind *binds;
    struct kk_oci_tmpfs *tmpfs;
    struct kk_oci_device *devices;
    struct kk_device *parsed; /* n_devices of them */
    size_t n_devices;
    char *seccomp_profile, *apparmor_profile;
};

int kk_oci_spec_from_container(struct kk_oci_spec_config *c, const struct kk_container *k,
                               struct kk_oci_container_storage *st, kk_error **err);
/* Frees what st holds; st may be all zero. */
void kk_oci_container_storage_release(struct kk_oci_container_storage *st);

#endif
