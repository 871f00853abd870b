/* Images already in containerd: resolve, list, remove, container rootfs. */
#include <stdlib.h>
#include <string.h>

#include "fsapi/json.h"
#include "runtime/image/image.h"

static bool is_index_type(const char *mt)
{
    return mt && (strcmp(mt, KK_MT_OCI_INDEX) == 0 || strcmp(mt, KK_MT_DOCKER_LIST) == 0);
}

static int read_json(struct kk_ctd *c, const char *ns, const char *digest, struct kk_json **out,
                     kk_error **err)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    if (kk_ctd_content_read(c, ns, digest, KK_IMAGE_MAX_JSON, &b, err) < 0)
        return kk_error_wrap(err, "read %s", digest);
    char got[72];
    kk_image_sha256(b.data, b.len, got);
    if (strcmp(got, digest) != 0)
        return kk_error_set(err, KK_E_DATA_LOSS, "blob %s hashes to %s", digest, got);
    if (kk_json_parse(b.data, b.len, out, err) < 0)
        return kk_error_wrap(err, "%s", digest);
    return 0;
}

/* From an index, the manifest descriptor for this platform (depth-limited). */
static int pick_manifest(struct kk_ctd *c, const char *ns, const char *digest, int depth,
                         char **mdigest, kk_error **err)
{
    _cleanup_json_ struct kk_json *idx = NULL;
    if (depth >= KK_IMAGE_MAX_DEPTH)
        return kk_error_set(err, KK_E_INVALID, "indexes nested too deeply");
    if (read_json(c, ns, digest, &idx, err) < 0)
        return -1;
    const struct kk_json *ms = kk_json_get(idx, "manifests");
    for (size_t i = 0; i < kk_json_len(ms) && i < KK_IMAGE_MAX_MANIFESTS; i++) {
        const struct kk_json *d = kk_json_at(ms, i);
        const struct kk_json *p = kk_json_get(d, "platform");
        const char *os = kk_json_str(kk_json_get(p, "os"));
        const char *arch = kk_json_str(kk_json_get(p, "architecture"));
        const char *mt = kk_json_str(kk_json_get(d, "mediaType"));
        const char *dg = kk_json_str(kk_json_get(d, "digest"));
        if ((os && strcmp(os, "linux") != 0) || (arch && strcmp(arch, kk_image_host_arch()) != 0))
            continue;
        if (!kk_image_digest_valid(dg))
            continue;
        if (is_index_type(mt)) {
            if (pick_manifest(c, ns, dg, depth + 1, mdigest, err) == 0)
                return 0;
            if (kk_error_code(*err) != KK_E_NOT_FOUND)
                return -1;
            kk_error_freep(err);
            continue;
        }
        *mdigest = kk_xstrdup(dg);
        return 0;
    }
    return kk_error_set(err, KK_E_NOT_FOUND, "index %s has no manifest for linux/%s", digest,
                        kk_image_host_arch());
}

static int desc_fields(const struct kk_json *d, char **digest, char **mt, int64_t *size,
                       kk_error **err)
{
    const char *dg = kk_json_str(kk_json_get(d, "digest"));
    const char *m = kk_json_str(kk_json_get(d, "mediaType"));
    if (!kk_image_digest_valid(dg) || kk_json_int(kk_json_get(d, "size"), size) < 0)
        return kk_error_set(err, KK_E_INVALID, "bad descriptor");
    *digest = kk_xstrdup(dg);
    *mt = kk_xstrdup(m ? m : "");
    return 0;
}

static int resolve(struct kk_ctd *c, const char *ns, const char *name, struct kk_image_info *out,
                   kk_error **err)
{
    struct kk_ctd_image rec = {0};
    _cleanup_json_ struct kk_json *man = NULL;
    int r = kk_ctd_image_get(c, ns, name, &rec, err);
    if (r < 0)
        return -1;
    out->name = kk_xstrdup(rec.name);
    out->target_media_type = kk_xstrdup(rec.media_type);
    if (is_index_type(rec.media_type))
        r = pick_manifest(c, ns, rec.digest, 0, &out->manifest_digest, err);
    else
        out->manifest_digest = kk_xstrdup(rec.digest);
    kk_ctd_image_clear(&rec);
    if (r < 0 || read_json(c, ns, out->manifest_digest, &man, err) < 0)
        return -1;
    out->size = 0;

    const struct kk_json *layers = kk_json_get(man, "layers");
    size_t n = kk_json_len(layers);
    if (n == 0 || n > KK_IMAGE_MAX_LAYERS)
        return kk_error_set(err, KK_E_INVALID, "manifest %s: %zu layers", out->manifest_digest, n);
    if (desc_fields(kk_json_get(man, "config"), &out->config_digest, &out->config_media_type,
                    &out->config_size, err) < 0)
        return kk_error_wrap(err, "manifest %s: config", out->manifest_digest);
    out->layers = kk_xcalloc(n, sizeof(*out->layers));
    for (size_t i = 0; i < n; i++, out->n_layers++) {
        struct kk_image_layer *l = &out->layers[i];
        if (desc_fields(kk_json_at(layers, i), &l->digest, &l->media_type, &l->size, err) < 0)
            return kk_error_wrap(err, "manifest %s: layer %zu", out->manifest_digest, i);
        out->size += l->size;
    }

    _cleanup_buf_ struct kk_buf cfg = KK_BUF_INIT;
    if (kk_ctd_content_read(c, ns, out->config_digest, KK_IMAGE_MAX_JSON, &cfg, err) < 0)
        return kk_error_wrap(err, "config %s", out->config_digest);
    char got[72];
    kk_image_sha256(cfg.data, cfg.len, got);
    if (strcmp(got, out->config_digest) != 0)
        return kk_error_set(err, KK_E_DATA_LOSS, "config %s hashes to %s", out->config_digest, got);
    if (kk_oci_image_config_parse(cfg.data, cfg.len, &out->config, err) < 0)
        return -1;
    size_t nd = 0;
    while (out->config.diff_ids && out->config.diff_ids[nd])
        nd++;
    if (nd != n)
        return kk_error_set(err, KK_E_INVALID, "config %s: %zu diff_ids for %zu layers",
                            out->config_digest, nd, n);
    for (size_t i = 0; i < nd; i++)
        if (!kk_image_digest_valid(out->config.diff_ids[i]))
            return kk_error_set(err, KK_E_INVALID, "config %s: bad diff_id", out->config_digest);
    out->diff_ids = TAKE_PTR(out->config.diff_ids);
    _cleanup_strv_ char **chain = kk_image_chain_ids(out->diff_ids, n);
    out->chain_id = kk_xstrdup(chain[n - 1]);
    out->size += out->config_size; /* the manifest's own size is added by the caller */
    return 0;
}

int kk_image_resolve(struct kk_ctd *c, const char *ns, const char *name, struct kk_image_info *out,
                     kk_error **err)
{
    memset(out, 0, sizeof(*out));
    if (resolve(c, ns, name, out, err) < 0) {
        kk_image_info_clear(out);
        return kk_error_wrap(err, "image %s", name);
    }
    struct kk_ctd_content_info ci = {0};
    _cleanup_error_ kk_error *ignored = NULL; /* the size is informative only */
    if (kk_ctd_content_info(c, ns, out->manifest_digest, &ci, &ignored) == 0)
        out->size += ci.size;
    kk_ctd_content_info_clear(&ci);
    return 0;
}

void kk_image_info_clear(struct kk_image_info *i)
{
    free(i->name);
    free(i->target_media_type);
    free(i->manifest_digest);
    free(i->config_digest);
    free(i->config_media_type);
    for (size_t k = 0; k < i->n_layers; k++) {
        free(i->layers[k].digest);
        free(i->layers[k].media_type);
    }
    free(i->layers);
    kk_strv_free(i->diff_ids);
    free(i->chain_id);
    kk_oci_image_config_clear(&i->config);
    memset(i, 0, sizeof(*i));
}

int kk_image_is_unpacked(struct kk_ctd *c, const char *ns, const char *snapshotter,
                         const struct kk_image_info *img, bool *out, kk_error **err)
{
    snapshotter = snapshotter && *snapshotter ? snapshotter : KK_CTD_DEFAULT_SNAPSHOTTER;
    if (kk_ctd_snapshot_stat(c, ns, snapshotter, img->chain_id, NULL, err) == 0) {
        *out = true;
        return 0;
    }
    if (kk_error_code(*err) != KK_E_NOT_FOUND)
        return -1;
    kk_error_freep(err);
    *out = false;
    return 0;
}

int kk_image_list(struct kk_ctd *c, const char *ns, struct kk_ctd_image **out, size_t *n,
                  kk_error **err)
{
    if (kk_ctd_image_list(c, ns, NULL, out, n, err) < 0)
        return kk_error_wrap(err, "list images in %s", ns);
    return 0;
}

int kk_image_remove(struct kk_ctd *c, const char *ns, const char *name, bool sync, kk_error **err)
{
    if (kk_ctd_image_delete(c, ns, name, sync, err) < 0)
        return kk_error_wrap(err, "remove image %s", name);
    return 0;
}

/* Seconds a rootfs lease lives: long enough for the caller to create the
 * container record that then owns the snapshot. */
#define ROOTFS_LEASE_S 120

int kk_image_prepare_rootfs(struct kk_ctd *client, const char *ns, const char *snapshotter,
                            const char *image, const char *key, struct kk_ctd_mounts *mounts,
                            kk_error **err)
{
    struct kk_image_info img;
    bool unpacked;
    int r = -1;

    /* Nothing references a new snapshot (nor layers unpacked on the way)
     * until the caller's container record exists, and containerd's GC may
     * run in between — it did, under load, leaving a cell whose rootfs was
     * gone. A lease that expires by itself holds them meanwhile. */
    static unsigned counter;
    _cleanup_free_ char *lease = kk_xasprintf("kukeon-rootfs-%d-%u", (int)getpid(),
                                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    _cleanup_ctd_ struct kk_ctd *c = NULL;
    if (kk_ctd_lease_create(client, ns, lease, ROOTFS_LEASE_S, err) < 0 ||
        kk_ctd_with_lease(client, lease, &c, err) < 0)
        return kk_error_wrap(err, "rootfs %s: lease", key);

    snapshotter = snapshotter && *snapshotter ? snapshotter : KK_CTD_DEFAULT_SNAPSHOTTER;
    if (kk_image_resolve(c, ns, image, &img, err) < 0)
        return -1;
    if (kk_image_is_unpacked(c, ns, snapshotter, &img, &unpacked, err) < 0 ||
        (!unpacked && kk_image_unpack(c, ns, snapshotter, &img, NULL, err) < 0))
        goto out;
    r = kk_ctd_snapshot_prepare(c, ns, snapshotter, key, img.chain_id, NULL, mounts, err);
    if (r < 0 && kk_error_code(*err) == KK_E_EXISTS) {
        kk_error_freep(err);
        r = mounts ? kk_ctd_snapshot_mounts(c, ns, snapshotter, key, mounts, err) : 0;
    }
    if (r < 0)
        kk_error_wrap(err, "rootfs %s from %s", key, image);
out:
    kk_image_info_clear(&img);
    return r;
}
