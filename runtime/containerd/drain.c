/* Emptying a namespace so that it can be deleted (the seed's
 * CleanupNamespaceResources): containers with their tasks, images, leases,
 * snapshots of every snapshotter, unfinished ingests, content. */
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "runtime/containerd/internal.h"

#define DRAIN_STOP_TIMEOUT_MS 2000
#define MAX_SNAPSHOT_PASSES   64

/* Keeps the first error, counts the rest as done: a drain goes on past
 * one failure so that a second drain has less to do. */
static void keep_first(kk_error **first, kk_error **err)
{
    if (!*err)
        return;
    if (kk_error_code(*err) == KK_E_NOT_FOUND || *first) {
        kk_error_freep(err);
        return;
    }
    *first = *err;
    *err = NULL;
}

static void drain_containers(struct kk_ctd *c, const char *ns, kk_error **first)
{
    kk_error *err = NULL;
    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    if (kk_ctd_container_list(c, ns, NULL, &v, &n, &err) == 0)
        for (size_t i = 0; i < n; i++) {
            kk_ctd_container_remove_safely(c, ns, v[i].id, DRAIN_STOP_TIMEOUT_MS, &err);
            keep_first(first, &err);
        }
    keep_first(first, &err);
    kk_ctd_container_list_free(v, n);
}

static void drain_images(struct kk_ctd *c, const char *ns, kk_error **first)
{
    kk_error *err = NULL;
    struct kk_ctd_image *v = NULL;
    size_t n = 0;
    if (kk_ctd_image_list(c, ns, NULL, &v, &n, &err) == 0)
        for (size_t i = 0; i < n; i++) {
            kk_ctd_image_delete(c, ns, v[i].name, false, &err);
            keep_first(first, &err);
        }
    keep_first(first, &err);
    kk_ctd_image_list_free(v, n);
}

static void drain_leases(struct kk_ctd *c, const char *ns, kk_error **first)
{
    kk_error *err = NULL;
    _cleanup_strv_ char **ids = NULL;
    if (kk_ctd_lease_list(c, ns, &ids, &err) == 0)
        for (char **id = ids; *id; id++) {
            kk_ctd_lease_delete(c, ns, *id, false, &err);
            keep_first(first, &err);
        }
    keep_first(first, &err);
}

static bool is_parent(const struct kk_ctd_snapshot_info *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].name && v[i].parent && strcmp(v[i].parent, name) == 0)
            return true;
    return false;
}

/* Leaves first: a snapshot with children cannot be removed. A removal
 * refused with FailedPrecondition (a child the list did not show yet, or
 * one still being removed) is retried on the next pass. */
static void drain_snapshots(struct kk_ctd *c, const char *ns, const char *snapshotter,
                            kk_error **first)
{
    int stalls = 0;
    for (int pass = 0; pass < MAX_SNAPSHOT_PASSES; pass++) {
        kk_error *err = NULL;
        struct kk_ctd_snapshot_info *v = NULL;
        size_t n = 0;
        if (kk_ctd_snapshot_list(c, ns, snapshotter, &v, &n, &err) < 0) {
            /* A snapshotter this containerd does not have holds nothing. */
            if (kk_error_code(err) == KK_E_NOT_FOUND || kk_error_code(err) == KK_E_UNIMPLEMENTED ||
                kk_error_code(err) == KK_E_INVALID)
                kk_error_freep(&err);
            keep_first(first, &err);
            return;
        }
        size_t removed = 0;
        kk_error *refused = NULL;
        for (size_t i = 0; i < n; i++) {
            if (is_parent(v, n, v[i].name))
                continue;
            if (kk_ctd_snapshot_remove(c, ns, snapshotter, v[i].name, &err) == 0)
                removed++;
            else if (kk_error_code(err) == KK_E_PRECONDITION) {
                kk_error_free(refused);
                refused = TAKE_PTR(err);
            }
            keep_first(first, &err);
        }
        kk_ctd_snapshot_list_free(v, n);
        if (n == 0 || (removed == 0 && !refused)) {
            kk_error_free(refused);
            return;
        }
        if (removed == 0 && ++stalls > 3) {
            keep_first(first, &refused);
            return;
        }
        kk_error_free(refused);
        if (removed == 0)
            usleep(100 * 1000);
    }
}

static void drain_ingests(struct kk_ctd *c, const char *ns, kk_error **first)
{
    Containerd__Services__Content__V1__ListStatusesRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_REQUEST__INIT;
    Containerd__Services__Content__V1__ListStatusesResponse *resp = NULL;
    kk_error *err = NULL;
    if (ctd_unary(c, ns, CTD_SVC("content.v1.Content/ListStatuses"), &req.base,
                  &containerd__services__content__v1__list_statuses_response__descriptor,
                  (ProtobufCMessage **)&resp, &err) == 0) {
        for (size_t i = 0; i < resp->n_statuses; i++) {
            if (resp->statuses[i]->ref)
                kk_ctd_content_abort(c, ns, resp->statuses[i]->ref, &err);
            keep_first(first, &err);
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    keep_first(first, &err);
}

static void drain_content(struct kk_ctd *c, const char *ns, kk_error **first)
{
    kk_error *err = NULL;
    _cleanup_strv_ char **digests = NULL;
    if (kk_ctd_content_list(c, ns, &digests, &err) == 0)
        for (char **d = digests; *d; d++) {
            kk_ctd_content_delete(c, ns, *d, &err);
            keep_first(first, &err);
        }
    keep_first(first, &err);
}

int kk_ctd_namespace_drain(struct kk_ctd *c, const char *name, const char *const *snapshotters,
                           kk_error **err)
{
    static const char *const default_snapshotters[] = {"overlayfs", "native", NULL};
    if (ctd_check_name("namespace", name, err) < 0)
        return -1;
    kk_error *first = NULL;
    drain_containers(c, name, &first);
    drain_images(c, name, &first);
    drain_leases(c, name, &first);
    for (const char *const *s = snapshotters ? snapshotters : default_snapshotters; *s; s++)
        drain_snapshots(c, name, *s, &first);
    drain_ingests(c, name, &first);
    drain_content(c, name, &first);
    if (first) {
        kk_error_free(*err);
        *err = first;
        return kk_error_wrap(err, "drain namespace %s", name);
    }
    return 0;
}
