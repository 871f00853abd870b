/* Emptying a namespace so that it can be deleted (the seed's
 * CleanupNamespaceResources): containers with their tasks, images, leases,
 * snapshots of every snapshotter, unfinished ingests, content. */
#include <string.h>
#include <unistd.h>

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
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

/* Runs the garbage collector now: a lease deleted with sync. */
static int collect_garbage(struct kk_ctd *c, const char *ns, kk_error **err)
{
    static unsigned counter;
    _cleanup_free_ char *id = kk_xasprintf("kukeon-gc-%d-%u", (int)getpid(),
                                           __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    if (kk_ctd_lease_create(c, ns, id, 60, err) < 0)
        return -1;
    return kk_ctd_lease_delete(c, ns, id, true, err);
}

/* Drops every label of a snapshot (containerd.io/gc.root among them). */
static int clear_snapshot_labels(struct kk_ctd *c, const char *ns, const char *snapshotter,
                                 const char *name, kk_error **err)
{
    Containerd__Services__Snapshots__V1__Info info =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
    info.name = (char *)name;
    char *paths[] = {"labels"};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.n_paths = 1;
    mask.paths = paths;
    Containerd__Services__Snapshots__V1__UpdateSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter;
    req.info = &info;
    req.update_mask = &mask;
    return ctd_unary(c, ns, CTD_SVC("snapshots.v1.Snapshots/Update"), &req.base,
                     &containerd__services__snapshots__v1__update_snapshot_response__descriptor,
                     NULL, err);
}

/* Leaves first: a snapshot with children cannot be removed.
 *
 * containerd 1.6's garbage collector deletes a snapshot without taking it
 * off its parent's list of children, so a parent whose child was collected
 * is refused forever (FailedPrecondition) although no child is listed. Only
 * the collector can take such a parent: when removal stalls, the refused
 * snapshots lose their labels (a gc.root label would keep them) and the
 * collector runs, once. */
static void drain_snapshots(struct kk_ctd *c, const char *ns, const char *snapshotter,
                            kk_error **first)
{
    bool collected = false;
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
            /* NotFound: the garbage collector was quicker; gone all the same. */
            if (kk_ctd_snapshot_remove(c, ns, snapshotter, v[i].name, &err) == 0 ||
                kk_error_code(err) == KK_E_NOT_FOUND) {
                removed++;
            } else if (kk_error_code(err) == KK_E_PRECONDITION && !collected) {
                kk_error_free(refused);
                refused = TAKE_PTR(err);
                clear_snapshot_labels(c, ns, snapshotter, v[i].name, &err);
            }
            keep_first(first, &err);
        }
        kk_ctd_snapshot_list_free(v, n);
        if (refused && removed == 0) {
            kk_error_free(refused);
            collect_garbage(c, ns, &err);
            keep_first(first, &err);
            collected = true;
            continue;
        }
        kk_error_free(refused);
        if (n == 0 || removed == 0)
            return;
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
