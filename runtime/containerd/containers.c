/* Container records: create (with its snapshot), get, list, delete. The
 * safe removal with the task is remove.c. */
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "fsapi/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

typedef Containerd__Services__Containers__V1__Container Container;

#define CONTAINERS(m)  CTD_SVC("containers.v1.Containers/" m)
#define LEASE_EXPIRE_S 300

void kk_ctd_container_clear(struct kk_ctd_container *ctr)
{
    free(ctr->id);
    free(ctr->image);
    free(ctr->runtime);
    free(ctr->snapshotter);
    free(ctr->snapshot_key);
    kk_strv_free(ctr->labels);
    free(ctr->spec_json);
    *ctr = (struct kk_ctd_container){0};
}

void kk_ctd_container_list_free(struct kk_ctd_container *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        kk_ctd_container_clear(&v[i]);
    free(v);
}

static char *dup_or_empty(const char *s)
{
    return kk_xstrdup(s ? s : "");
}

static void copy_container(struct kk_ctd_container *out, const Container *in)
{
    out->id = dup_or_empty(in->id);
    out->image = dup_or_empty(in->image);
    out->runtime = dup_or_empty(in->runtime ? in->runtime->name : NULL);
    out->snapshotter = dup_or_empty(in->snapshotter);
    out->snapshot_key = dup_or_empty(in->snapshot_key);
    out->labels = ctd_kv_strv(in->labels, in->n_labels);
    if (in->spec) {
        out->spec_json = kk_xstrndup((const char *)in->spec->value.data, in->spec->value.len);
        out->spec_len = in->spec->value.len;
    } else {
        out->spec_json = kk_xstrdup("");
    }
}

int kk_ctd_container_create(struct kk_ctd *c, const char *ns,
                            const struct kk_ctd_container_spec *spec, kk_error **err)
{
    if (ctd_check_name("container id", spec->id, err) < 0)
        return -1;
    if (!spec->spec_json || !spec->spec_len)
        return kk_error_set(err, KK_E_INVALID, "container %s: no runtime spec", spec->id);
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = KK_CTD_SPEC_TYPE_URL;
    any.value.data = (uint8_t *)spec->spec_json;
    any.value.len = spec->spec_len;
    Containerd__Services__Containers__V1__Container__Runtime rt =
            CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    rt.name = (char *)(spec->runtime ? spec->runtime : KK_CTD_DEFAULT_RUNTIME);
    Container ctr = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    ctr.id = (char *)spec->id;
    ctr.image = (char *)(spec->image ? spec->image : "");
    ctr.runtime = &rt;
    ctr.spec = &any;
    ctr.snapshotter = (char *)(spec->snapshotter ? spec->snapshotter : KK_CTD_DEFAULT_SNAPSHOTTER);
    ctr.snapshot_key = (char *)(spec->snapshot_key ? spec->snapshot_key : "");
    ctr.labels =
            ctd_kv_build(&containerd__services__containers__v1__container__labels_entry__descriptor,
                         spec->labels, &ctr.n_labels);
    Containerd__Services__Containers__V1__CreateContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.container = &ctr;
    int r = ctd_unary(c, ns, CONTAINERS("Create"), &req.base,
                      &containerd__services__containers__v1__create_container_response__descriptor,
                      NULL, err);
    ctd_kv_free(ctr.labels, ctr.n_labels);
    return r < 0 ? kk_error_wrap(err, "create container %s", spec->id) : 0;
}

int kk_ctd_container_create_from(struct kk_ctd *c, const char *ns,
                                 const struct kk_ctd_container_spec *spec, const char *parent,
                                 kk_error **err)
{
    static unsigned counter;
    if (ctd_check_name("container id", spec->id, err) < 0 ||
        ctd_check_name("parent snapshot", parent, err) < 0)
        return -1;
    struct kk_ctd_container_spec s = *spec;
    if (!s.snapshot_key || !*s.snapshot_key)
        s.snapshot_key = s.id;
    _cleanup_free_ char *lease = kk_xasprintf("kukeon-create-%s-%d-%u", s.id, (int)getpid(),
                                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    if (kk_ctd_lease_create(c, ns, lease, LEASE_EXPIRE_S, err) < 0)
        return kk_error_wrap(err, "create container %s", s.id);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    int r = kk_ctd_with_lease(c, lease, &leased, err);
    if (r == 0)
        r = kk_ctd_snapshot_prepare(leased, ns, s.snapshotter, s.snapshot_key, parent, NULL, NULL,
                                    err);
    if (r == 0 && kk_ctd_container_create(c, ns, &s, err) < 0) {
        kk_error *ignored = NULL;
        kk_ctd_snapshot_remove(c, ns, s.snapshotter, s.snapshot_key, &ignored);
        kk_error_free(ignored);
        r = -1;
    }
    /* The container record holds the snapshot now; the lease can go. */
    kk_error *lease_err = NULL;
    if (kk_ctd_lease_delete(c, ns, lease, false, &lease_err) < 0)
        kk_log_warn("%s (it expires by itself)", lease_err->message);
    kk_error_free(lease_err);
    return r < 0 ? kk_error_wrap(err, "create container %s from %s", s.id, parent) : 0;
}

int kk_ctd_container_get(struct kk_ctd *c, const char *ns, const char *id,
                         struct kk_ctd_container *out, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Containers__V1__GetContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    Containerd__Services__Containers__V1__GetContainerResponse *resp = NULL;
    if (ctd_unary(c, ns, CONTAINERS("Get"), &req.base,
                  &containerd__services__containers__v1__get_container_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "container %s", id);
    int r = 0;
    if (!resp->container)
        r = kk_error_set(err, KK_E_NOT_FOUND, "container %s: not found", id);
    else if (out)
        copy_container(out, resp->container);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return r;
}

int kk_ctd_container_list(struct kk_ctd *c, const char *ns, const char *filter,
                          struct kk_ctd_container **out, size_t *n, kk_error **err)
{
    Containerd__Services__Containers__V1__ListContainersRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    char *filters[1] = {(char *)filter};
    if (filter) {
        req.n_filters = 1;
        req.filters = filters;
    }
    Containerd__Services__Containers__V1__ListContainersResponse *resp = NULL;
    if (ctd_unary(c, ns, CONTAINERS("List"), &req.base,
                  &containerd__services__containers__v1__list_containers_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "list containers");
    *out = kk_xcalloc(resp->n_containers + 1, sizeof(**out));
    *n = resp->n_containers;
    for (size_t i = 0; i < resp->n_containers; i++)
        copy_container(&(*out)[i], resp->containers[i]);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_container_delete(struct kk_ctd *c, const char *ns, const char *id, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    if (ctd_unary(c, ns, CONTAINERS("Delete"), &req.base, &google__protobuf__empty__descriptor,
                  NULL, err) < 0)
        return kk_error_wrap(err, "delete container %s", id);
    return 0;
}
