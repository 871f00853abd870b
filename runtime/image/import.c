/* Import of an archive plan into containerd, and unpacking (see image.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/log.h"
#include "runtime/image/image.h"

#define DEFAULT_LEASE_S 3600

static const char *snapshotter_or_default(const char *s)
{
    return s && *s ? s : KK_CTD_DEFAULT_SNAPSHOTTER;
}

/* A process-unique suffix for lease ids and extraction keys. */
static char *unique_id(const char *prefix)
{
    static atomic_uint counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return kk_xasprintf("%s-%d-%u-%lld%09ld", prefix, (int)getpid(), atomic_fetch_add(&counter, 1),
                        (long long)ts.tv_sec, ts.tv_nsec);
}

void kk_image_import_result_clear(struct kk_image_import_result *r)
{
    kk_strv_free(r->names);
    memset(r, 0, sizeof(*r));
}

/* ---- unpack ------------------------------------------------------------- */

struct unpack_layer {
    struct kk_ctd_desc desc;
    const char *diff_id;
};

/* Applies one layer on top of `parent`, committing it as `chain`. */
static int apply_layer(struct kk_ctd *c, const char *ns, const char *snapshotter,
                       const struct unpack_layer *l, const char *parent, const char *chain,
                       kk_error **err)
{
    _cleanup_free_ char *uniq = unique_id("extract");
    _cleanup_free_ char *key = kk_xasprintf("%s %s", uniq, chain);
    _cleanup_free_ char *applied = NULL;
    _cleanup_error_ kk_error *ignored = NULL; /* best-effort cleanup */
    struct kk_ctd_mounts mounts = {0};
    int r;

    if (kk_ctd_snapshot_prepare(c, ns, snapshotter, key, parent, NULL, &mounts, err) < 0) {
        /* Another unpack committed it meanwhile: fine. */
        if (kk_error_code(*err) == KK_E_EXISTS) {
            kk_error_freep(err);
            return 0;
        }
        return kk_error_wrap(err, "prepare %s", chain);
    }
    r = kk_ctd_diff_apply(c, ns, &l->desc, &mounts, &applied, err);
    kk_ctd_mounts_clear(&mounts);
    if (r < 0) {
        kk_error_wrap(err, "apply layer %s", l->desc.digest);
        goto fail;
    }
    if (!applied || strcmp(applied, l->diff_id) != 0) {
        r = kk_error_set(err, KK_E_DATA_LOSS, "layer %s: applied digest %s, config says %s",
                         l->desc.digest, applied ? applied : "(none)", l->diff_id);
        goto fail;
    }
    if (kk_ctd_snapshot_commit(c, ns, snapshotter, chain, key, NULL, err) < 0) {
        if (kk_error_code(*err) != KK_E_EXISTS) {
            kk_error_wrap(err, "commit %s", chain);
            goto fail;
        }
        kk_error_freep(err); /* committed by someone else: drop ours */
        kk_ctd_snapshot_remove(c, ns, snapshotter, key, &ignored);
    }
    return 0;
fail:
    kk_ctd_snapshot_remove(c, ns, snapshotter, key, &ignored);
    return -1;
}

static int snapshot_exists(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *key, bool *out, kk_error **err)
{
    if (kk_ctd_snapshot_stat(c, ns, snapshotter, key, NULL, err) == 0) {
        *out = true;
        return 0;
    }
    if (kk_error_code(*err) != KK_E_NOT_FOUND)
        return -1;
    kk_error_freep(err);
    *out = false;
    return 0;
}

/* Unpacks layers[0..n) and labels the config. `c` should be leased. */
static int unpack_layers(struct kk_ctd *c, const char *ns, const char *snapshotter,
                         const struct unpack_layer *layers, size_t n, const char *config_digest,
                         size_t *applied_out, size_t *present_out, kk_error **err)
{
    _cleanup_strv_ char **diff = kk_xcalloc(n + 1, sizeof(*diff));
    size_t applied = 0, present = 0;
    bool have;

    snapshotter = snapshotter_or_default(snapshotter);
    if (n == 0)
        return kk_error_set(err, KK_E_INVALID, "image has no layers");
    for (size_t i = 0; i < n; i++)
        diff[i] = kk_xstrdup(layers[i].diff_id);
    _cleanup_strv_ char **chain = kk_image_chain_ids(diff, n);

    /* Fast path: the whole stack is there (a re-import, a second image
     * sharing everything). */
    if (snapshot_exists(c, ns, snapshotter, chain[n - 1], &have, err) < 0)
        return kk_error_wrap(err, "stat %s", chain[n - 1]);
    if (have) {
        present = n;
    } else {
        /* Bottom-up: skip what exists; above the first missing layer
         * nothing can exist (a snapshot needs its parent). */
        bool building = false;
        for (size_t i = 0; i < n; i++) {
            if (!building && i < n - 1 &&
                snapshot_exists(c, ns, snapshotter, chain[i], &have, err) < 0)
                return kk_error_wrap(err, "stat %s", chain[i]);
            if (!building && i < n - 1 && have) {
                present++;
                continue;
            }
            building = true;
            if (apply_layer(c, ns, snapshotter, &layers[i], i ? chain[i - 1] : NULL, chain[i],
                            err) < 0)
                return -1;
            applied++;
        }
    }

    _cleanup_free_ char *label = kk_xasprintf(KK_LABEL_GC_SNAPSHOT "%s", snapshotter);
    const char *labels[] = {label, chain[n - 1], NULL};
    if (kk_ctd_content_update_labels(c, ns, config_digest, labels, err) < 0)
        return kk_error_wrap(err, "label config %s", config_digest);
    if (applied_out)
        *applied_out += applied;
    if (present_out)
        *present_out += present;
    return 0;
}

int kk_image_unpack(struct kk_ctd *c, const char *ns, const char *snapshotter,
                    const struct kk_image_info *img, size_t *unpacked, kk_error **err)
{
    _cleanup_free_ struct unpack_layer *l =
            kk_xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*l));
    _cleanup_free_ char *lease = unique_id("kukeon-unpack");
    _cleanup_(kk_ctd_closep) struct kk_ctd *lc = NULL;
    _cleanup_error_ kk_error *ignored = NULL;
    int r;

    for (size_t i = 0; i < img->n_layers; i++)
        l[i] = (struct unpack_layer){
                {img->layers[i].media_type, img->layers[i].digest, img->layers[i].size},
                img->diff_ids[i]};
    if (kk_ctd_lease_create(c, ns, lease, DEFAULT_LEASE_S, err) < 0)
        return kk_error_wrap(err, "unpack %s: lease", img->name);
    if (kk_ctd_with_lease(c, lease, &lc, err) < 0) {
        kk_ctd_lease_delete(c, ns, lease, false, &ignored);
        return -1;
    }
    if (unpacked)
        *unpacked = 0;
    r = unpack_layers(lc, ns, snapshotter, l, img->n_layers, img->config_digest, unpacked, NULL,
                      err);
    kk_ctd_lease_delete(c, ns, lease, false, &ignored);
    return r < 0 ? kk_error_wrap(err, "unpack %s", img->name) : 0;
}

/* ---- import ------------------------------------------------------------- */

static int write_blobs(struct kk_ctd *lc, const char *ns, const char *lease,
                       const struct kk_image_archive *a, struct kk_image_import_result *res,
                       kk_error **err)
{
    for (size_t i = 0; i < a->n_blobs; i++) {
        const struct kk_image_blob *b = &a->blobs[i];
        _cleanup_error_ kk_error *ignored = NULL;
        const char *const *labels = (const char *const *)b->labels;
        /* One ingest ref per import and blob: a stale ingest of an earlier
         * failed import can never collide with this one. */
        _cleanup_free_ char *ref = kk_xasprintf("%s-%s", lease, b->digest + 7);
        int r = kk_ctd_content_write_mem(lc, ns, ref, b->digest, b->data, b->size, labels, err);
        if (r < 0) {
            /* A failed commit (e.g. a digest mismatch) leaves the ingest
             * behind; abort it so that a later import starts afresh. */
            kk_ctd_content_abort(lc, ns, ref, &ignored);
            return kk_error_wrap(err, "write %s", b->digest);
        }
        if (r == 1) {
            res->blobs_present++;
            /* Present already (an earlier import, a shared base): make
             * sure its GC references are there too, as ctr does. */
            if (labels && kk_ctd_content_update_labels(lc, ns, b->digest, labels, err) < 0)
                return kk_error_wrap(err, "label %s", b->digest);
        } else {
            res->blobs_written++;
        }
    }
    return 0;
}

static int put_images(struct kk_ctd *c, const char *ns, const struct kk_image_archive *a,
                      struct kk_image_import_result *res, kk_error **err)
{
    res->names = kk_xcalloc(a->n_images + 1, sizeof(*res->names));
    for (size_t i = 0; i < a->n_images; i++) {
        const struct kk_image_named *im = &a->images[i];
        const struct kk_image_blob *m = &a->blobs[a->manifests[im->manifest].blob];
        struct kk_ctd_desc target = {m->media_type, m->digest, (int64_t)m->size};
        if (kk_ctd_image_put(c, ns, im->name, &target, NULL, err) < 0)
            return kk_error_wrap(err, "image %s", im->name);
        res->names[i] = kk_xstrdup(im->name);
    }
    return 0;
}

static int unpack_manifest(struct kk_ctd *lc, const char *ns, const char *snapshotter,
                           const struct kk_image_archive *a, const struct kk_image_manifest *m,
                           struct kk_image_import_result *res, kk_error **err)
{
    _cleanup_free_ struct unpack_layer *l = kk_xcalloc(m->n_layers ? m->n_layers : 1, sizeof(*l));
    for (size_t i = 0; i < m->n_layers; i++) {
        const struct kk_image_blob *b = &a->blobs[m->layers[i]];
        l[i] = (struct unpack_layer){{b->media_type, b->digest, (int64_t)b->size}, m->diff_ids[i]};
    }
    return unpack_layers(lc, ns, snapshotter, l, m->n_layers, a->blobs[m->config].digest,
                         &res->layers_unpacked, &res->layers_present, err);
}

static int import_leased(struct kk_ctd *c, struct kk_ctd *lc, const char *ns, const char *lease,
                         const struct kk_image_archive *a, const struct kk_image_import_opts *o,
                         struct kk_image_import_result *res, kk_error **err)
{
    if (write_blobs(lc, ns, lease, a, res, err) < 0 || put_images(c, ns, a, res, err) < 0)
        return -1;
    if (o->no_unpack)
        return 0;
    for (size_t i = 0; i < a->n_manifests; i++)
        if (unpack_manifest(lc, ns, o->snapshotter, a, &a->manifests[i], res, err) < 0)
            return kk_error_wrap(err, "unpack");
    return 0;
}

int kk_image_import_archive(struct kk_ctd *c, const char *ns, const struct kk_image_archive *a,
                            const struct kk_image_import_opts *opts,
                            struct kk_image_import_result *res, kk_error **err)
{
    static const struct kk_image_import_opts defaults = {0};
    const struct kk_image_import_opts *o = opts ? opts : &defaults;
    struct kk_image_import_result local = {0};
    _cleanup_free_ char *lease = unique_id("kukeon-import");
    _cleanup_(kk_ctd_closep) struct kk_ctd *lc = NULL;
    _cleanup_error_ kk_error *ignored = NULL;
    int r;

    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (a->n_images == 0)
        kk_log_warn("the archive names no image: content is imported, but no image record "
                    "holds it");
    if (kk_ctd_namespace_create(c, ns, NULL, true, err) < 0)
        return kk_error_wrap(err, "namespace %s", ns);
    if (kk_ctd_lease_create(c, ns, lease, o->lease_expire_s ? o->lease_expire_s : DEFAULT_LEASE_S,
                            err) < 0)
        return kk_error_wrap(err, "lease");
    if (kk_ctd_with_lease(c, lease, &lc, err) < 0) {
        kk_ctd_lease_delete(c, ns, lease, false, &ignored);
        return kk_error_wrap(err, "lease");
    }
    r = import_leased(c, lc, ns, lease, a, o, res, err);
    /* On success the image records hold everything; on failure this lets
     * the garbage collector take what was written. */
    _cleanup_error_ kk_error *lerr = NULL;
    if (kk_ctd_lease_delete(c, ns, lease, false, &lerr) < 0)
        kk_log_warn("import: delete lease %s: %s", lease, lerr->message);
    if (res == &local)
        kk_image_import_result_clear(&local);
    return r;
}

int kk_image_import(struct kk_ctd *c, const char *ns, const char *path,
                    const struct kk_image_import_opts *opts, struct kk_image_import_result *res,
                    kk_error **err)
{
    _cleanup_(kk_image_archive_freep) struct kk_image_archive *a = NULL;
    struct kk_image_archive_opts ao = {0};

    if (opts) {
        ao.os = opts->os;
        ao.architecture = opts->architecture;
        ao.base_name = opts->base_name;
    }
    if (kk_image_archive_open(path, &ao, &a, err) < 0)
        return -1;
    if (kk_image_import_archive(c, ns, a, opts, res, err) < 0)
        return kk_error_wrap(err, "import %s", path);
    return 0;
}
