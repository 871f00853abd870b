/* Image archive → import plan (see archive.h). */
#include "runtime/image/archive.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fsapi/json.h"
#include "fsapi/log.h"
#include "fsapi/model.h"
#include "runtime/image/tar.h"
#include "runtime/oci/spec.h"

#define MAX_SYMLINK_HOPS 8

struct member {
    char *name;
    char *link; /* symlinks: the target, resolved against name's directory */
    const uint8_t *data;
    size_t size;
    size_t ordinal;
};

struct ctx {
    struct kk_image_archive *a;
    struct member *m;
    size_t n_m;
    const char *os, *arch, *base_name;
};

/* ---- members ---------------------------------------------------------- */

static int member_cmp(const void *x, const void *y)
{
    const struct member *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->ordinal > b->ordinal) - (a->ordinal < b->ordinal);
}

static void free_members(struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].name);
        free(m[i].link);
    }
    free(m);
}

/* path.Join(path.Dir(name), link), cleaned of "." and ".." components. */
static char *resolve_link(const char *name, const char *link)
{
    _cleanup_free_ char *joined = NULL;
    const char *slash = strrchr(name, '/');
    if (link[0] == '/')
        joined = kk_xstrdup(link + 1);
    else if (slash)
        joined = kk_xasprintf("%.*s/%s", (int)(slash - name), name, link);
    else
        joined = kk_xstrdup(link);
    char *out = kk_xcalloc(strlen(joined) + 1, 1);
    size_t k = 0;
    for (char *save = NULL, *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            char *up = k ? memrchr(out, '/', k) : NULL;
            k = up ? (size_t)(up - out) : 0;
            out[k] = 0;
            continue;
        }
        if (k)
            out[k++] = '/';
        strcpy(out + k, c);
        k += strlen(c);
    }
    return out;
}

static int index_members(struct ctx *x, const void *data, size_t len, kk_error **err)
{
    struct kk_tar t;
    struct kk_tar_entry e;
    size_t cap = 0;
    int r;

    kk_tar_init(&t, data, len);
    while ((r = kk_tar_next(&t, &e, err)) > 0) {
        if (e.type != KK_TAR_REG && e.type != KK_TAR_SYMLINK)
            continue;
        void *p = x->m;
        kk_xgrow(&p, &cap, x->n_m + 1, sizeof(*x->m));
        x->m = p;
        struct member *m = &x->m[x->n_m];
        *m = (struct member){.name = kk_xstrdup(e.name), .ordinal = x->n_m};
        x->n_m++;
        if (e.type == KK_TAR_SYMLINK) {
            m->link = resolve_link(e.name, e.linkname);
        } else {
            m->data = e.data;
            m->size = (size_t)e.size;
        }
    }
    if (r < 0)
        return kk_error_wrap(err, "reading the archive");
    if (x->n_m)
        qsort(x->m, x->n_m, sizeof(*x->m), member_cmp);
    return 0;
}

/* The last member named `name` (tar semantics: a later entry wins),
 * following symlinks. */
static const struct member *find(const struct ctx *x, const char *name)
{
    for (int hop = 0; hop < MAX_SYMLINK_HOPS; hop++) {
        size_t lo = 0, hi = x->n_m;
        while (lo < hi) { /* first index with m.name > name */
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(x->m[mid].name, name) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0 || strcmp(x->m[lo - 1].name, name) != 0)
            return NULL;
        const struct member *m = &x->m[lo - 1];
        if (!m->link)
            return m;
        name = m->link;
    }
    return NULL;
}

/* ---- plan building ------------------------------------------------------ */

static void labels_add(char ***v, size_t *n, const char *k, const char *val)
{
    *v = kk_xrealloc(*v, (*n + 3) * sizeof(**v));
    (*v)[(*n)++] = kk_xstrdup(k);
    (*v)[(*n)++] = kk_xstrdup(val);
    (*v)[*n] = NULL;
}

static ssize_t find_blob(const struct kk_image_archive *a, const char *digest)
{
    for (size_t i = 0; i < a->n_blobs; i++)
        if (strcmp(a->blobs[i].digest, digest) == 0)
            return (ssize_t)i;
    return -1;
}

/* Appends a blob unless its digest is already planned; returns its index.
 * Takes ownership of owned and labels. */
static size_t add_blob(struct kk_image_archive *a, enum kk_image_blob_kind kind, const char *digest,
                       const char *media_type, const uint8_t *data, size_t size, char *owned,
                       char **labels)
{
    ssize_t have = find_blob(a, digest);
    if (have >= 0) {
        free(owned);
        kk_strv_free(labels);
        return (size_t)have;
    }
    void *p = a->blobs;
    kk_xgrow(&p, &a->cap_blobs, a->n_blobs + 1, sizeof(*a->blobs));
    a->blobs = p;
    a->blobs[a->n_blobs] = (struct kk_image_blob){
            .kind = kind,
            .digest = kk_xstrdup(digest),
            .media_type = kk_xstrdup(media_type),
            .data = owned ? (const uint8_t *)owned : data,
            .size = size,
            .owned = owned,
            .labels = labels,
    };
    return a->n_blobs++;
}

/* The archive member holding the blob a descriptor names, size-checked. */
static int desc_member(const struct ctx *x, const struct kk_json *desc, const char **digest,
                       const struct member **out, kk_error **err)
{
    const char *d = kk_json_str(kk_json_get(desc, "digest"));
    int64_t size;
    if (!kk_image_digest_valid(d))
        return kk_error_set(err, KK_E_INVALID, "descriptor digest \"%s\" is not sha256:<hex>",
                            d ? d : "(missing)");
    if (kk_json_int(kk_json_get(desc, "size"), &size) < 0 || size < 0)
        return kk_error_set(err, KK_E_INVALID, "descriptor %s: bad size", d);
    char name[96];
    snprintf(name, sizeof(name), "blobs/sha256/%s", d + 7);
    const struct member *m = find(x, name);
    if (!m)
        return kk_error_set(err, KK_E_NOT_FOUND, "blob %s is not in the archive", d);
    if ((uint64_t)size != m->size)
        return kk_error_set(err, KK_E_INVALID, "blob %s: %zu bytes, descriptor says %" PRId64, d,
                            m->size, size);
    *digest = d;
    *out = m;
    return 0;
}

/* Parses a JSON member after checking it hashes to `digest` (NULL: any). */
static int load_json(const struct member *m, const char *digest, struct kk_json **out,
                     kk_error **err)
{
    if (m->size > KK_IMAGE_MAX_JSON)
        return kk_error_set(err, KK_E_INVALID, "%s: %zu bytes of JSON, over the limit", m->name,
                            m->size);
    if (digest) {
        char got[72];
        kk_image_sha256(m->data, m->size, got);
        if (strcmp(got, digest) != 0)
            return kk_error_set(err, KK_E_DATA_LOSS, "%s: content hashes to %s", digest, got);
    }
    if (kk_json_parse((const char *)m->data, m->size, out, err) < 0)
        return kk_error_wrap(err, "%s", m->name);
    return 0;
}

static bool is_layer_type(const char *mt)
{
    return mt && (strncmp(mt, "application/vnd.oci.image.layer.", 32) == 0 ||
                  strncmp(mt, "application/vnd.docker.image.rootfs.", 36) == 0);
}

static size_t add_manifest_record(struct kk_image_archive *a, size_t blob, size_t config,
                                  size_t *layers, size_t n_layers, char **diff_ids)
{
    for (size_t i = 0; i < a->n_manifests; i++)
        if (a->manifests[i].blob == blob) {
            free(layers);
            kk_strv_free(diff_ids);
            return i;
        }
    void *p = a->manifests;
    kk_xgrow(&p, &a->cap_manifests, a->n_manifests + 1, sizeof(*a->manifests));
    a->manifests = p;
    a->manifests[a->n_manifests] = (struct kk_image_manifest){
            .blob = blob,
            .config = config,
            .n_layers = n_layers,
            .layers = layers,
            .diff_ids = diff_ids,
    };
    return a->n_manifests++;
}

/* Reads a config blob's diff_ids and platform. */
static int read_config(const uint8_t *data, size_t size, const char *what,
                       struct kk_oci_image_config *cfg, kk_error **err)
{
    if (size > KK_IMAGE_MAX_JSON)
        return kk_error_set(err, KK_E_INVALID, "config %s: too large", what);
    if (kk_oci_image_config_parse((const char *)data, size, cfg, err) < 0)
        return kk_error_wrap(err, "config %s", what);
    return 0;
}

/* An OCI (or Docker schema2) manifest and everything below it. */
static int add_oci_manifest(struct ctx *x, const struct kk_json *desc, size_t *out_manifest,
                            size_t *out_blob, kk_error **err)
{
    struct kk_image_archive *a = x->a;
    const char *md, *cd;
    const struct member *mm, *cm;
    _cleanup_json_ struct kk_json *man = NULL;
    struct kk_oci_image_config cfg = {0};

    if (desc_member(x, desc, &md, &mm, err) < 0 || load_json(mm, md, &man, err) < 0)
        return -1;
    const struct kk_json *cdesc = kk_json_get(man, "config");
    const struct kk_json *layers = kk_json_get(man, "layers");
    size_t n = kk_json_len(layers);
    if (!kk_json_is(layers, KK_JSON_ARRAY) || n > KK_IMAGE_MAX_LAYERS)
        return kk_error_set(err, KK_E_INVALID, "manifest %s: missing or too many layers", md);
    if (desc_member(x, cdesc, &cd, &cm, err) < 0)
        return kk_error_wrap(err, "manifest %s: config", md);
    char got[72];
    kk_image_sha256(cm->data, cm->size, got);
    if (strcmp(got, cd) != 0)
        return kk_error_set(err, KK_E_DATA_LOSS, "config %s: content hashes to %s", cd, got);
    if (read_config(cm->data, cm->size, cd, &cfg, err) < 0)
        return -1;
    size_t n_diff = 0;
    while (cfg.diff_ids && cfg.diff_ids[n_diff])
        n_diff++;
    if (n_diff != n) {
        kk_oci_image_config_clear(&cfg);
        return kk_error_set(err, KK_E_INVALID, "manifest %s: %zu layers but %zu diff_ids", md, n,
                            n_diff);
    }

    _cleanup_free_ size_t *idx = kk_xcalloc(n ? n : 1, sizeof(*idx));
    char **labels = NULL;
    size_t nl = 0;
    labels_add(&labels, &nl, KK_LABEL_GC_CONFIG, cd);
    for (size_t i = 0; i < n; i++) {
        const struct kk_json *l = kk_json_at(layers, i);
        const char *ld, *mt = kk_json_str(kk_json_get(l, "mediaType"));
        const struct member *lm;
        if (!is_layer_type(mt) || !kk_image_digest_valid(cfg.diff_ids[i]) ||
            desc_member(x, l, &ld, &lm, err) < 0) {
            kk_strv_free(labels);
            kk_oci_image_config_clear(&cfg);
            if (!*err)
                kk_error_set(err, KK_E_INVALID, "layer %zu: bad diff_id or media type %s", i,
                             mt ? mt : "(none)");
            return kk_error_wrap(err, "manifest %s", md);
        }
        idx[i] = add_blob(a, KK_BLOB_LAYER, ld, mt, lm->data, lm->size, NULL, NULL);
        char key[64];
        snprintf(key, sizeof(key), KK_LABEL_GC_LAYER "%zu", i);
        labels_add(&labels, &nl, key, ld);
    }
    const char *cmt = kk_json_str(kk_json_get(cdesc, "mediaType"));
    size_t config = add_blob(a, KK_BLOB_CONFIG, cd, cmt ? cmt : KK_MT_OCI_CONFIG, cm->data,
                             cm->size, NULL, NULL);
    const char *mmt = kk_json_str(kk_json_get(man, "mediaType"));
    if (!mmt)
        mmt = kk_json_str(kk_json_get(desc, "mediaType"));
    size_t blob = add_blob(a, KK_BLOB_MANIFEST, md, mmt ? mmt : KK_MT_OCI_MANIFEST, mm->data,
                           mm->size, NULL, labels);
    *out_blob = blob;
    *out_manifest = add_manifest_record(a, blob, config, TAKE_PTR(idx), n, TAKE_PTR(cfg.diff_ids));
    kk_oci_image_config_clear(&cfg);
    return 0;
}

static bool platform_ok(const struct ctx *x, const struct kk_json *platform)
{
    if (!platform)
        return true;
    const char *os = kk_json_str(kk_json_get(platform, "os"));
    const char *arch = kk_json_str(kk_json_get(platform, "architecture"));
    return (!os || strcmp(os, x->os) == 0) && (!arch || strcmp(arch, x->arch) == 0);
}

static int add_image_name(struct ctx *x, const char *raw, size_t target_manifest, kk_error **err)
{
    struct kk_image_archive *a = x->a;
    const char *why = NULL;
    _cleanup_free_ char *full = NULL;
    if (!strpbrk(raw, "/:@")) {
        if (!x->base_name)
            return 0; /* a bare tag and no base name: unnamed, as ctr */
        full = kk_xasprintf("%s:%s", x->base_name, raw);
        raw = full;
    }
    char *name = kk_image_normalize(raw, &why);
    if (!name)
        return kk_error_set(err, KK_E_INVALID, "image name \"%s\": %s", raw, why);
    void *p = a->images;
    kk_xgrow(&p, &a->cap_images, a->n_images + 1, sizeof(*a->images));
    a->images = p;
    a->images[a->n_images++] = (struct kk_image_named){name, target_manifest};
    return 0;
}

/* Walks an index: manifests for our platform (and nested indexes), adding
 * the index blob itself last with its gc.ref.content.m.<i> labels. Top-level
 * entries name images. *first_manifest receives the first manifest found
 * (SIZE_MAX if none). */
static int walk_index(struct ctx *x, const struct kk_json *idx, const char *digest,
                      const struct member *m, int depth, bool top, size_t *first_manifest,
                      size_t *out_blob, kk_error **err)
{
    const struct kk_json *ms = kk_json_get(idx, "manifests");
    size_t n = kk_json_len(ms);
    char **labels = NULL;
    size_t nl = 0, k = 0;

    *first_manifest = SIZE_MAX;
    if (!kk_json_is(ms, KK_JSON_ARRAY) || n > KK_IMAGE_MAX_MANIFESTS)
        return kk_error_set(err, KK_E_INVALID, "index: missing or too many manifests");
    for (size_t i = 0; i < n; i++) {
        const struct kk_json *d = kk_json_at(ms, i);
        const char *mt = kk_json_str(kk_json_get(d, "mediaType"));
        size_t manifest = SIZE_MAX, blob = 0;
        if (!mt || !platform_ok(x, kk_json_get(d, "platform")))
            continue;
        if (strcmp(mt, KK_MT_OCI_INDEX) == 0 || strcmp(mt, KK_MT_DOCKER_LIST) == 0) {
            const char *cd;
            const struct member *cm;
            _cleanup_json_ struct kk_json *child = NULL;
            if (depth + 1 >= KK_IMAGE_MAX_DEPTH) {
                kk_strv_free(labels);
                return kk_error_set(err, KK_E_INVALID, "indexes nested too deeply");
            }
            if (desc_member(x, d, &cd, &cm, err) < 0 || load_json(cm, cd, &child, err) < 0 ||
                walk_index(x, child, cd, cm, depth + 1, false, &manifest, &blob, err) < 0) {
                kk_strv_free(labels);
                return -1;
            }
            if (manifest == SIZE_MAX)
                continue;
        } else if (strcmp(mt, KK_MT_OCI_MANIFEST) == 0 || strcmp(mt, KK_MT_DOCKER_MANIF) == 0) {
            if (add_oci_manifest(x, d, &manifest, &blob, err) < 0) {
                kk_strv_free(labels);
                return -1;
            }
        } else {
            continue; /* attestations, artifacts: not ours to unpack */
        }
        if (*first_manifest == SIZE_MAX)
            *first_manifest = manifest;
        char key[64];
        snprintf(key, sizeof(key), KK_LABEL_GC_MANIFEST "%zu", k++);
        labels_add(&labels, &nl, key, x->a->blobs[blob].digest);
        if (top) {
            const struct kk_json *ann = kk_json_get(d, "annotations");
            const char *name = kk_json_str(kk_json_get(ann, "io.containerd.image.name"));
            if (!name)
                name = kk_json_str(kk_json_get(ann, "org.opencontainers.image.ref.name"));
            if (name && add_image_name(x, name, manifest, err) < 0) {
                kk_strv_free(labels);
                return -1;
            }
        }
    }
    *out_blob =
            add_blob(x->a, KK_BLOB_INDEX, digest, KK_MT_OCI_INDEX, m->data, m->size, NULL, labels);
    return 0;
}

static int parse_oci(struct ctx *x, kk_error **err)
{
    _cleanup_json_ struct kk_json *layout = NULL, *idx = NULL;
    const struct member *lm = find(x, "oci-layout"), *im = find(x, "index.json");
    size_t first, blob;
    char digest[72];

    if (load_json(lm, NULL, &layout, err) < 0)
        return -1;
    const char *v = kk_json_str(kk_json_get(layout, "imageLayoutVersion"));
    if (!v || strcmp(v, "1.0.0") != 0)
        return kk_error_set(err, KK_E_INVALID, "unsupported OCI layout version %s",
                            v ? v : "(none)");
    if (!im)
        return kk_error_set(err, KK_E_INVALID, "OCI layout without index.json");
    if (load_json(im, NULL, &idx, err) < 0)
        return -1;
    kk_image_sha256(im->data, im->size, digest);
    if (walk_index(x, idx, digest, im, 0, true, &first, &blob, err) < 0)
        return kk_error_wrap(err, "index.json");
    return 0;
}

/* ---- Docker ------------------------------------------------------------- */

static const char *sniff_layer(const uint8_t *d, size_t n, kk_error **err)
{
    if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
        return KK_MT_DOCKER_LAYER_GZ;
    if (n >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd) {
        kk_error_set(err, KK_E_UNIMPLEMENTED, "zstd layers in Docker archives are not supported");
        return NULL;
    }
    if (n >= 3 && d[0] == 'B' && d[1] == 'Z' && d[2] == 'h') {
        kk_error_set(err, KK_E_UNIMPLEMENTED, "bzip2 layers are not supported");
        return NULL;
    }
    return KK_MT_DOCKER_LAYER;
}

static void write_desc(struct kk_json_writer *w, const char *mt, const char *digest, size_t size)
{
    kk_jw_kstr(w, "mediaType", mt);
    kk_jw_kstr(w, "digest", digest);
    kk_jw_key(w, "size");
    kk_jw_uint(w, size);
}

/* The OCI ref name containerd derives: the tag of a normalised name. */
static const char *ref_object(const char *name)
{
    const char *at = strchr(name, '@');
    if (at)
        return at + 1;
    const char *slash = strrchr(name, '/');
    const char *colon = strrchr(slash ? slash : name, ':');
    return colon ? colon + 1 : name;
}

static int parse_docker_entry(struct ctx *x, const struct kk_json *e, struct kk_json_writer *iw,
                              char ***idx_labels, size_t *n_idx_labels, kk_error **err)
{
    struct kk_image_archive *a = x->a;
    const char *cname = kk_json_str(kk_json_get(e, "Config"));
    const struct kk_json *layers = kk_json_get(e, "Layers");
    const struct kk_json *tags = kk_json_get(e, "RepoTags");
    size_t n = kk_json_len(layers);
    const struct member *cm = cname ? find(x, cname) : NULL;
    struct kk_oci_image_config cfg = {0};
    char cd[72];

    if (!cm)
        return kk_error_set(err, KK_E_INVALID, "image config %s not found",
                            cname ? cname : "(missing)");
    if (!kk_json_is(layers, KK_JSON_ARRAY) || n > KK_IMAGE_MAX_LAYERS)
        return kk_error_set(err, KK_E_INVALID, "missing or too many Layers");
    if (kk_json_len(tags) > KK_IMAGE_MAX_MANIFESTS)
        return kk_error_set(err, KK_E_INVALID, "too many RepoTags");
    kk_image_sha256(cm->data, cm->size, cd);
    if (read_config(cm->data, cm->size, cname, &cfg, err) < 0)
        return -1;
    size_t n_diff = 0;
    while (cfg.diff_ids && cfg.diff_ids[n_diff])
        n_diff++;
    if (n_diff != n) {
        kk_oci_image_config_clear(&cfg);
        return kk_error_set(err, KK_E_INVALID, "%s: %zu layers but %zu diff_ids", cname, n, n_diff);
    }

    _cleanup_buf_ struct kk_buf mb = KK_BUF_INIT;
    struct kk_json_writer w;
    kk_jw_init(&w, &mb);
    kk_jw_obj(&w);
    kk_jw_kint(&w, "schemaVersion", 2);
    kk_jw_kstr(&w, "mediaType", KK_MT_DOCKER_MANIF);
    kk_jw_key(&w, "config");
    kk_jw_obj(&w);
    write_desc(&w, KK_MT_DOCKER_CONFIG, cd, cm->size);
    kk_jw_end(&w);
    kk_jw_key(&w, "layers");
    kk_jw_arr(&w);

    _cleanup_free_ size_t *idx = kk_xcalloc(n ? n : 1, sizeof(*idx));
    char **labels = NULL;
    size_t nl = 0;
    labels_add(&labels, &nl, KK_LABEL_GC_CONFIG, cd);
    for (size_t i = 0; i < n; i++) {
        const char *lname = kk_json_str(kk_json_at(layers, i));
        const struct member *lm = lname ? find(x, lname) : NULL;
        const char *mt;
        char ld[72], key[64];
        if (!lm || !(mt = sniff_layer(lm->data, lm->size, err)) ||
            !kk_image_digest_valid(cfg.diff_ids[i])) {
            kk_strv_free(labels);
            kk_oci_image_config_clear(&cfg);
            if (!*err)
                kk_error_set(err, KK_E_INVALID, "layer %s not found or bad diff_id",
                             lname ? lname : "(missing)");
            return -1;
        }
        kk_image_sha256(lm->data, lm->size, ld);
        idx[i] = add_blob(a, KK_BLOB_LAYER, ld, mt, lm->data, lm->size, NULL, NULL);
        kk_jw_obj(&w);
        write_desc(&w, mt, ld, lm->size);
        kk_jw_end(&w);
        snprintf(key, sizeof(key), KK_LABEL_GC_LAYER "%zu", i);
        labels_add(&labels, &nl, key, ld);
    }
    kk_jw_end(&w);
    kk_jw_end(&w);

    size_t config =
            add_blob(a, KK_BLOB_CONFIG, cd, KK_MT_DOCKER_CONFIG, cm->data, cm->size, NULL, NULL);
    char md[72];
    kk_image_sha256(mb.data, mb.len, md);
    size_t mlen = mb.len;
    size_t blob = add_blob(a, KK_BLOB_MANIFEST, md, KK_MT_DOCKER_MANIF, NULL, mlen,
                           kk_buf_detach(&mb, NULL), labels);
    size_t manifest =
            add_manifest_record(a, blob, config, TAKE_PTR(idx), n, TAKE_PTR(cfg.diff_ids));

    /* One index descriptor per tag (or one unnamed), like containerd. */
    size_t n_tags = kk_json_len(tags);
    for (size_t t = 0; t < (n_tags ? n_tags : 1); t++) {
        const char *tag = kk_json_str(kk_json_at(tags, t));
        _cleanup_free_ char *name = NULL;
        const char *why;
        if (n_tags && !tag) {
            kk_oci_image_config_clear(&cfg);
            return kk_error_set(err, KK_E_INVALID, "RepoTags: not a string");
        }
        if (tag && !(name = kk_image_normalize(tag, &why))) {
            kk_oci_image_config_clear(&cfg);
            return kk_error_set(err, KK_E_INVALID, "RepoTag \"%s\": %s", tag, why);
        }
        kk_jw_obj(iw);
        write_desc(iw, KK_MT_DOCKER_MANIF, md, mlen);
        if (name) {
            kk_jw_key(iw, "annotations");
            kk_jw_obj(iw);
            kk_jw_kstr(iw, "io.containerd.image.name", name);
            kk_jw_kstr(iw, "org.opencontainers.image.ref.name", ref_object(name));
            kk_jw_end(iw);
        }
        if (cfg.architecture && cfg.os) {
            kk_jw_key(iw, "platform");
            kk_jw_obj(iw);
            kk_jw_kstr(iw, "architecture", cfg.architecture);
            kk_jw_kstr(iw, "os", cfg.os);
            kk_jw_end(iw);
        }
        kk_jw_end(iw);
        char key[64];
        snprintf(key, sizeof(key), KK_LABEL_GC_MANIFEST "%zu", *n_idx_labels / 2);
        labels_add(idx_labels, n_idx_labels, key, md);
        if (name) {
            void *p = a->images;
            kk_xgrow(&p, &a->cap_images, a->n_images + 1, sizeof(*a->images));
            a->images = p;
            a->images[a->n_images++] = (struct kk_image_named){TAKE_PTR(name), manifest};
        }
    }
    bool ok = (!cfg.os || strcmp(cfg.os, x->os) == 0) &&
              (!cfg.architecture || strcmp(cfg.architecture, x->arch) == 0);
    if (!ok)
        kk_log_warn("image %s is for %s/%s, not %s/%s", cname, cfg.os, cfg.architecture, x->os,
                    x->arch);
    kk_oci_image_config_clear(&cfg);
    return 0;
}

static int parse_docker(struct ctx *x, kk_error **err)
{
    _cleanup_json_ struct kk_json *mf = NULL;
    const struct member *m = find(x, "manifest.json");

    if (load_json(m, NULL, &mf, err) < 0)
        return -1;
    size_t n = kk_json_len(mf);
    if (!kk_json_is(mf, KK_JSON_ARRAY) || n == 0 || n > KK_IMAGE_MAX_MANIFESTS)
        return kk_error_set(err, KK_E_INVALID, "manifest.json: expected 1..%d entries",
                            KK_IMAGE_MAX_MANIFESTS);

    _cleanup_buf_ struct kk_buf ib = KK_BUF_INIT;
    struct kk_json_writer w;
    char **labels = NULL;
    size_t nl = 0;
    kk_jw_init(&w, &ib);
    kk_jw_obj(&w);
    kk_jw_kint(&w, "schemaVersion", 2);
    kk_jw_key(&w, "manifests");
    kk_jw_arr(&w);
    for (size_t i = 0; i < n; i++)
        if (parse_docker_entry(x, kk_json_at(mf, i), &w, &labels, &nl, err) < 0) {
            kk_strv_free(labels);
            return kk_error_wrap(err, "manifest.json entry %zu", i);
        }
    kk_jw_end(&w);
    kk_jw_end(&w);
    char digest[72];
    kk_image_sha256(ib.data, ib.len, digest);
    size_t len = ib.len;
    add_blob(x->a, KK_BLOB_INDEX, digest, KK_MT_OCI_INDEX, NULL, len, kk_buf_detach(&ib, NULL),
             labels);
    return 0;
}

/* ---- entry points --------------------------------------------------------- */

int kk_image_archive_parse(const void *data, size_t len, const struct kk_image_archive_opts *opts,
                           struct kk_image_archive **out, kk_error **err)
{
    struct kk_image_archive *a = kk_xcalloc(1, sizeof(*a));
    struct ctx x = {
            .a = a,
            .os = opts && opts->os ? opts->os : "linux",
            .arch = opts && opts->architecture ? opts->architecture : kk_image_host_arch(),
            .base_name = opts ? opts->base_name : NULL,
    };
    int r;

    const uint8_t *b = data;
    if (len >= 2 && ((b[0] == 0x1f && b[1] == 0x8b) || (b[0] == 0x28 && b[1] == 0xb5))) {
        r = kk_error_set(err, KK_E_INVALID,
                         "the archive is compressed; decompress it first (an image archive is "
                         "a plain tar, its layers may be gzip)");
    } else if (index_members(&x, data, len, err) < 0) {
        r = -1;
    } else if (find(&x, "oci-layout")) {
        a->format = KK_IMAGE_FORMAT_OCI;
        r = parse_oci(&x, err);
    } else if (find(&x, "manifest.json")) {
        a->format = KK_IMAGE_FORMAT_DOCKER;
        r = parse_docker(&x, err);
    } else {
        r = kk_error_set(err, KK_E_INVALID,
                         "unrecognized image format (neither oci-layout nor manifest.json)");
    }
    if (r == 0 && a->n_manifests == 0)
        r = kk_error_set(err, KK_E_NOT_FOUND, "no image for %s/%s in the archive", x.os, x.arch);
    free_members(x.m, x.n_m);
    if (r < 0) {
        kk_image_archive_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

int kk_image_archive_open(const char *path, const struct kk_image_archive_opts *opts,
                          struct kk_image_archive **out, kk_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;

    if (fd < 0)
        return kk_error_errno(err, "open %s", path);
    if (fstat(fd, &st) < 0)
        return kk_error_errno(err, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return kk_error_set(err, KK_E_INVALID, "%s: not a regular file", path);
    if (st.st_size == 0)
        return kk_error_set(err, KK_E_INVALID, "%s: empty file", path);
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return kk_error_errno(err, "mmap %s", path);
    /* Blobs are read front to back once; tell the kernel. */
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    if (kk_image_archive_parse(map, (size_t)st.st_size, opts, out, err) < 0) {
        munmap(map, (size_t)st.st_size);
        return kk_error_wrap(err, "%s", path);
    }
    (*out)->map = map;
    (*out)->map_len = (size_t)st.st_size;
    return 0;
}

void kk_image_archive_free(struct kk_image_archive *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_blobs; i++) {
        free(a->blobs[i].digest);
        free(a->blobs[i].media_type);
        free(a->blobs[i].owned);
        kk_strv_free(a->blobs[i].labels);
    }
    for (size_t i = 0; i < a->n_manifests; i++) {
        free(a->manifests[i].layers);
        kk_strv_free(a->manifests[i].diff_ids);
    }
    for (size_t i = 0; i < a->n_images; i++)
        free(a->images[i].name);
    free(a->blobs);
    free(a->manifests);
    free(a->images);
    if (a->map)
        munmap(a->map, a->map_len);
    free(a);
}

const char *kk_image_label(char *const *labels, const char *key)
{
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2)
        if (strcmp(labels[i], key) == 0)
            return labels[i + 1];
    return NULL;
}
