/* The model's container onto the OCI spec builder's config (container.h). */
#include "runtime/oci/container.h"

#include <string.h>

void kk_oci_container_storage_release(struct kk_oci_container_storage *st)
{
    free(st->binds);
    free(st->tmpfs);
    free(st->devices);
    for (size_t i = 0; i < st->n_devices; i++)
        kk_device_clear(&st->parsed[i]);
    free(st->parsed);
    free(st->seccomp_profile);
    free(st->apparmor_profile);
    *st = (struct kk_oci_container_storage){0};
}

static void map_volumes(struct kk_oci_spec_config *c, const struct kk_container *k,
                        struct kk_oci_container_storage *st)
{
    size_t n_tmpfs = k->n_tmpfs;
    c->n_binds = 0;
    c->n_tmpfs = 0;
    for (size_t i = 0; i < k->n_volumes; i++)
        n_tmpfs += k->volumes[i].kind == KK_VOLUME_TMPFS;
    st->binds = kk_xcalloc(k->n_volumes + 1, sizeof(*st->binds));
    st->tmpfs = kk_xcalloc(n_tmpfs + 1, sizeof(*st->tmpfs));
    for (size_t i = 0; i < k->n_volumes; i++) {
        const struct kk_volume *v = &k->volumes[i];
        if (v->kind == KK_VOLUME_TMPFS)
            st->tmpfs[c->n_tmpfs++] = (struct kk_oci_tmpfs){
                    .target = v->target,
                    .size = v->size_bytes > 0 ? v->size_bytes : 0,
                    .mode = v->mode,
                    .readonly = v->read_only,
            };
        else
            st->binds[c->n_binds++] = (struct kk_oci_bind){v->source, v->target, v->read_only};
    }
    for (size_t i = 0; i < k->n_tmpfs; i++)
        st->tmpfs[c->n_tmpfs++] = (struct kk_oci_tmpfs){
                .target = k->tmpfs[i].path,
                .size = k->tmpfs[i].size_bytes > 0 ? k->tmpfs[i].size_bytes : 0,
                .options = (const char *const *)k->tmpfs[i].options.v,
        };
    c->binds = st->binds;
    c->tmpfs = st->tmpfs;
}

static int map_devices(struct kk_oci_spec_config *c, const struct kk_container *k,
                       struct kk_oci_container_storage *st, kk_error **err)
{
    st->parsed = kk_xcalloc(k->devices.n + 1, sizeof(*st->parsed));
    st->devices = kk_xcalloc(k->devices.n + 1, sizeof(*st->devices));
    for (size_t i = 0; i < k->devices.n; i++) {
        const char *why;
        if (kk_device_parse(k->devices.v[i], &st->parsed[i], &why) < 0)
            return kk_error_set(err, KK_E_INVALID, "devices[%zu] \"%s\": %s", i, k->devices.v[i],
                                why);
        st->n_devices++;
        st->devices[i] = (struct kk_oci_device){st->parsed[i].host, st->parsed[i].container,
                                                st->parsed[i].access};
    }
    c->devices = st->devices;
    c->n_devices = st->n_devices;
    return 0;
}

static int map_security_opts(struct kk_oci_spec_config *c, const struct kk_container *k,
                             struct kk_oci_container_storage *st, kk_error **err)
{
    for (size_t i = 0; i < k->security_opts.n; i++) {
        struct kk_security_opt o;
        const char *why;
        if (kk_security_opt_parse(k->security_opts.v[i], &o, NULL, &why) < 0)
            return kk_error_set(err, KK_E_INVALID, "securityOpts[%zu] \"%s\": %s", i,
                                k->security_opts.v[i], why);
        _cleanup_free_ char *value = o.value;
        switch (o.kind) {
        case KK_SECOPT_NO_NEW_PRIVILEGES:
            c->allow_new_privileges = strcmp(value, "false") == 0;
            break;
        case KK_SECOPT_SECCOMP:
            if (strcmp(value, "unconfined") == 0) {
                c->seccomp = KK_OCI_SECCOMP_UNCONFINED;
            } else {
                c->seccomp = KK_OCI_SECCOMP_PROFILE;
                free(st->seccomp_profile);
                st->seccomp_profile = TAKE_PTR(value);
                c->seccomp_profile = st->seccomp_profile;
            }
            break;
        case KK_SECOPT_APPARMOR:
            free(st->apparmor_profile);
            st->apparmor_profile = TAKE_PTR(value);
            c->apparmor_profile = st->apparmor_profile;
            break;
        }
    }
    return 0;
}

int kk_oci_spec_from_container(struct kk_oci_spec_config *c, const struct kk_container *k,
                               struct kk_oci_container_storage *st, kk_error **err)
{
    map_volumes(c, k, st);
    if (map_devices(c, k, st, err) < 0 || map_security_opts(c, k, st, err) < 0)
        return kk_error_wrap(err, "container %s", k->id ? k->id : "");
    c->privileged = k->privileged;
    c->cap_bounding = kk_oci_cap_bounding_set();
    c->cap_add = (const char *const *)k->capabilities.add.v;
    c->cap_drop = (const char *const *)k->capabilities.drop.v;
    c->readonly_rootfs = k->read_only_root_filesystem;
    c->host_network = k->host_network;
    c->host_pid = k->host_pid;
    c->host_cgroup = k->host_cgroup;
    return 0;
}
