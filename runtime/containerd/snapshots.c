/* Snapshots (overlayfs by default) and Diff.Apply. */
#include <string.h>

#include "github.com/containerd/containerd/api/services/diff/v1/diff.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

typedef Containerd__Services__Snapshots__V1__Info SnapInfo;

#define SNAPSHOTS(m) CTD_SVC("snapshots.v1.Snapshots/" m)

static const char *snapshotter_or_default(const char *s)
{
    return s && *s ? s : KK_CTD_DEFAULT_SNAPSHOTTER;
}

void kk_ctd_mounts_clear(struct kk_ctd_mounts *m)
{
    for (size_t i = 0; m->v && i < m->n; i++) {
        free(m->v[i].type);
        free(m->v[i].source);
        free(m->v[i].target);
        kk_strv_free(m->v[i].options);
    }
    free(m->v);
    *m = (struct kk_ctd_mounts){0};
}

static void copy_mounts(struct kk_ctd_mounts *out, Containerd__Types__Mount **v, size_t n)
{
    out->v = kk_xcalloc(n + 1, sizeof(*out->v));
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        out->v[i].type = kk_xstrdup(v[i]->type ? v[i]->type : "");
        out->v[i].source = kk_xstrdup(v[i]->source ? v[i]->source : "");
        out->v[i].target = kk_xstrdup(v[i]->target ? v[i]->target : "");
        out->v[i].options = ctd_strv_dup(v[i]->options, v[i]->n_options);
    }
}

Containerd__Types__Mount **ctd_mounts_build(const struct kk_ctd_mounts *m)
{
    Containerd__Types__Mount **v = kk_xcalloc(m->n + 1, sizeof(*v));
    for (size_t i = 0; i < m->n; i++) {
        v[i] = kk_xmalloc(sizeof(**v));
        containerd__types__mount__init(v[i]);
        v[i]->type = m->v[i].type;
        v[i]->source = m->v[i].source;
        v[i]->target = m->v[i].target;
        size_t k = 0;
        while (m->v[i].options && m->v[i].options[k])
            k++;
        v[i]->n_options = k;
        v[i]->options = m->v[i].options;
    }
    return v;
}

void ctd_mounts_free(Containerd__Types__Mount **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void kk_ctd_snapshot_info_clear(struct kk_ctd_snapshot_info *info)
{
    free(info->name);
    free(info->parent);
    kk_strv_free(info->labels);
    *info = (struct kk_ctd_snapshot_info){0};
}

void kk_ctd_snapshot_list_free(struct kk_ctd_snapshot_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        kk_ctd_snapshot_info_clear(&v[i]);
    free(v);
}

static void copy_info(struct kk_ctd_snapshot_info *out, const SnapInfo *in)
{
    out->name = kk_xstrdup(in->name ? in->name : "");
    out->parent = kk_xstrdup(in->parent ? in->parent : "");
    out->kind = (enum kk_ctd_snapshot_kind)in->kind;
    out->labels = ctd_kv_strv(in->labels, in->n_labels);
}

static int check_key(const char *key, kk_error **err)
{
    return ctd_check_name("snapshot key", key, err);
}

int kk_ctd_snapshot_prepare(struct kk_ctd *c, const char *ns, const char *snapshotter,
                            const char *key, const char *parent, const char *const *labels,
                            struct kk_ctd_mounts *mounts, kk_error **err)
{
    if (check_key(key, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    req.key = (char *)key;
    req.parent = (char *)(parent ? parent : "");
    req.labels = ctd_kv_build(
            &containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__descriptor,
            labels, &req.n_labels);
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *resp = NULL;
    int r = ctd_unary(c, ns, SNAPSHOTS("Prepare"), &req.base,
                      &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor,
                      (ProtobufCMessage **)&resp, err);
    ctd_kv_free(req.labels, req.n_labels);
    if (r < 0)
        return kk_error_wrap(err, "prepare snapshot %s", key);
    if (mounts)
        copy_mounts(mounts, resp->mounts, resp->n_mounts);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_snapshot_view(struct kk_ctd *c, const char *ns, const char *snapshotter, const char *key,
                         const char *parent, struct kk_ctd_mounts *mounts, kk_error **err)
{
    if (check_key(key, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__ViewSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__VIEW_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    req.key = (char *)key;
    req.parent = (char *)(parent ? parent : "");
    Containerd__Services__Snapshots__V1__ViewSnapshotResponse *resp = NULL;
    if (ctd_unary(c, ns, SNAPSHOTS("View"), &req.base,
                  &containerd__services__snapshots__v1__view_snapshot_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "view snapshot %s", key);
    if (mounts)
        copy_mounts(mounts, resp->mounts, resp->n_mounts);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_snapshot_mounts(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *key, struct kk_ctd_mounts *mounts, kk_error **err)
{
    if (check_key(key, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__MountsRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    req.key = (char *)key;
    Containerd__Services__Snapshots__V1__MountsResponse *resp = NULL;
    if (ctd_unary(c, ns, SNAPSHOTS("Mounts"), &req.base,
                  &containerd__services__snapshots__v1__mounts_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "mounts of snapshot %s", key);
    copy_mounts(mounts, resp->mounts, resp->n_mounts);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_snapshot_commit(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *name, const char *key, const char *const *labels,
                           kk_error **err)
{
    if (check_key(key, err) < 0 || ctd_check_name("snapshot name", name, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    req.name = (char *)name;
    req.key = (char *)key;
    req.labels = ctd_kv_build(
            &containerd__services__snapshots__v1__commit_snapshot_request__labels_entry__descriptor,
            labels, &req.n_labels);
    int r = ctd_unary(c, ns, SNAPSHOTS("Commit"), &req.base, &google__protobuf__empty__descriptor,
                      NULL, err);
    ctd_kv_free(req.labels, req.n_labels);
    return r < 0 ? kk_error_wrap(err, "commit snapshot %s as %s", key, name) : 0;
}

int kk_ctd_snapshot_stat(struct kk_ctd *c, const char *ns, const char *snapshotter, const char *key,
                         struct kk_ctd_snapshot_info *info, kk_error **err)
{
    if (check_key(key, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    req.key = (char *)key;
    Containerd__Services__Snapshots__V1__StatSnapshotResponse *resp = NULL;
    if (ctd_unary(c, ns, SNAPSHOTS("Stat"), &req.base,
                  &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "snapshot %s", key);
    if (info && resp->info)
        copy_info(info, resp->info);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_snapshot_remove(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *key, kk_error **err)
{
    if (check_key(key, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    req.key = (char *)key;
    if (ctd_unary(c, ns, SNAPSHOTS("Remove"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "remove snapshot %s", key);
    return 0;
}

struct info_list {
    struct kk_ctd_snapshot_info *v;
    size_t n, cap;
};

static int on_list(void *userdata, const uint8_t *data, size_t len, kk_error **err)
{
    struct info_list *l = userdata;
    Containerd__Services__Snapshots__V1__ListSnapshotsResponse *resp =
            containerd__services__snapshots__v1__list_snapshots_response__unpack(NULL, len, data);
    if (!resp)
        return kk_error_set(err, KK_E_INTERNAL, "undecodable ListSnapshotsResponse");
    for (size_t i = 0; i < resp->n_info; i++) {
        void *p = l->v;
        kk_xgrow(&p, &l->cap, l->n + 1, sizeof(*l->v));
        l->v = p;
        copy_info(&l->v[l->n++], resp->info[i]);
    }
    containerd__services__snapshots__v1__list_snapshots_response__free_unpacked(resp, NULL);
    return 0;
}

int kk_ctd_snapshot_list(struct kk_ctd *c, const char *ns, const char *snapshotter,
                         struct kk_ctd_snapshot_info **out, size_t *n, kk_error **err)
{
    Containerd__Services__Snapshots__V1__ListSnapshotsRequest req =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter_or_default(snapshotter);
    struct info_list l = {0};
    if (ctd_stream(c, ns, SNAPSHOTS("List"), &req.base, on_list, &l, err) < 0) {
        kk_ctd_snapshot_list_free(l.v, l.n);
        return kk_error_wrap(err, "list %s snapshots", req.snapshotter);
    }
    *out = l.v ? l.v : kk_xcalloc(1, sizeof(*l.v));
    *n = l.n;
    return 0;
}

int kk_ctd_diff_apply(struct kk_ctd *c, const char *ns, const struct kk_ctd_desc *layer,
                      const struct kk_ctd_mounts *mounts, char **applied, kk_error **err)
{
    if (ctd_check_name("layer digest", layer->digest, err) < 0)
        return -1;
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    desc.media_type = (char *)(layer->media_type ? layer->media_type : "");
    desc.digest = (char *)layer->digest;
    desc.size = layer->size;
    Containerd__Services__Diff__V1__ApplyRequest req =
            CONTAINERD__SERVICES__DIFF__V1__APPLY_REQUEST__INIT;
    req.diff = &desc;
    req.n_mounts = mounts->n;
    req.mounts = ctd_mounts_build(mounts);
    Containerd__Services__Diff__V1__ApplyResponse *resp = NULL;
    int r = ctd_unary(c, ns, CTD_SVC("diff.v1.Diff/Apply"), &req.base,
                      &containerd__services__diff__v1__apply_response__descriptor,
                      (ProtobufCMessage **)&resp, err);
    ctd_mounts_free(req.mounts, req.n_mounts);
    if (r < 0)
        return kk_error_wrap(err, "apply layer %s", layer->digest);
    if (applied)
        *applied = kk_xstrdup(resp->applied && resp->applied->digest ? resp->applied->digest : "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}
