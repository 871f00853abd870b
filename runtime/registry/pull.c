/* Pull orchestration: resolve, fetch, write into containerd, record,
 * unpack (see registry.h). */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fsapi/clock.h"
#include "fsapi/json.h"
#include "fsapi/log.h"
#include "runtime/image/image.h"
#include "runtime/oci/spec.h"
#include "runtime/registry/internal.h"

#define LEASE_S        3600
#define PROGRESS_EVERY (100 * KK_NSEC_PER_MSEC) /* ns */
#define MAX_BLOB_SIZE  (INT64_C(64) << 30)
#define REASON         "ImagePullFailed"
#define MANIFEST_ACCEPT                                                                            \
    KK_MT_OCI_INDEX ", " KK_MT_OCI_MANIFEST ", " KK_MT_DOCKER_LIST ", " KK_MT_DOCKER_MANIF

struct pull {
    struct kk_registry *r;
    struct kk_ctd *c;  /* for reads */
    struct kk_ctd *lc; /* leased, for writes */
    const char *ns;
    const struct kk_registry_ref *ref;
    const struct kk_registry_pull_opts *o;
    struct kk_registry_pull_result *res;
    struct kk_registry_progress prog; /* touched on the pulling thread only */
    int64_t last_progress;
    /* Blobs written by fetch.c's writer thread. */
    atomic_size_t written;
    _Atomic int64_t written_bytes;
};

/* A manifest or an index, verified. */
struct doc {
    char *digest, *media_type;
    struct kk_buf data;
    struct kk_json *json;
};

static void doc_clear(struct doc *d)
{
    free(d->digest);
    free(d->media_type);
    kk_buf_release(&d->data);
    kk_json_free(d->json);
    memset(d, 0, sizeof(*d));
}

static bool is_index(const char *mt)
{
    return mt && (strcmp(mt, KK_MT_OCI_INDEX) == 0 || strcmp(mt, KK_MT_DOCKER_LIST) == 0);
}

static bool is_manifest(const char *mt)
{
    return mt && (strcmp(mt, KK_MT_OCI_MANIFEST) == 0 || strcmp(mt, KK_MT_DOCKER_MANIF) == 0);
}

static void progress(struct pull *p, const char *phase, bool force)
{
    if (!p->o->progress)
        return;
    int64_t now = kk_clock_mono_ns(NULL);
    if (!force && phase == p->prog.phase && now - p->last_progress < PROGRESS_EVERY)
        return;
    p->prog.phase = phase;
    p->prog.blobs_done = atomic_load(&p->written);
    p->last_progress = now;
    p->o->progress(&p->prog, p->o->progress_data);
}

static char *unique(const char *prefix)
{
    static atomic_uint counter;
    return kk_xasprintf("%s-%d-%u-%lld", prefix, (int)getpid(), atomic_fetch_add(&counter, 1),
                        (long long)kk_clock_real_ns(NULL));
}

/* ---- documents ---------------------------------------------------------- */

static int present(struct pull *p, const char *digest, bool *out, kk_error **err)
{
    if (kk_ctd_content_info(p->c, p->ns, digest, NULL, err) == 0) {
        *out = true;
        return 0;
    }
    if (kk_error_code(*err) != KK_E_NOT_FOUND)
        return -1;
    kk_error_freep(err);
    *out = false;
    return 0;
}

/* The media type of a document: the descriptor's, else the server's
 * Content-Type, else its own mediaType field, else guessed from its shape
 * (OCI allows mediaType to be left out). */
static char *doc_media_type(const char *hint, const char *content_type, const struct kk_json *j)
{
    if (hint && (is_index(hint) || is_manifest(hint)))
        return kk_xstrdup(hint);
    if (content_type) {
        size_t n = strcspn(content_type, "; ");
        _cleanup_free_ char *ct = kk_xstrndup(content_type, n);
        if (is_index(ct) || is_manifest(ct))
            return TAKE_PTR(ct);
    }
    const char *mt = kk_json_str(kk_json_get(j, "mediaType"));
    if (mt)
        return kk_xstrdup(mt);
    return kk_xstrdup(kk_json_get(j, "manifests") ? KK_MT_OCI_INDEX : KK_MT_OCI_MANIFEST);
}

static int doc_verify(struct doc *d, const char *want_digest, int64_t want_size, kk_error **err)
{
    char got[72];
    kk_image_sha256(d->data.data ? d->data.data : "", d->data.len, got);
    if (want_digest && strcmp(got, want_digest) != 0)
        return kk_error_set(err, KK_E_DATA_LOSS,
                            "manifest %s: digest mismatch: content hashes to %s", want_digest, got);
    if (want_size >= 0 && (int64_t)d->data.len != want_size)
        return kk_error_set(err, KK_E_DATA_LOSS,
                            "manifest %s: size mismatch: got %zu bytes, descriptor says %jd", got,
                            d->data.len, (intmax_t)want_size);
    d->digest = kk_xstrdup(got);
    return kk_json_parse(kk_buf_str(&d->data), d->data.len, &d->json, err) < 0
                   ? kk_error_wrap(err, "manifest %s", got)
                   : 0;
}

/* Fetches the manifest or index named by `reference` (a tag or a digest).
 * want_digest/want_size (NULL/-1 when unknown) are what it must match;
 * a document already in containerd is read from there instead. */
static int fetch_doc(struct pull *p, struct reg_session *s, const char *reference,
                     const char *want_digest, int64_t want_size, const char *mt_hint,
                     struct doc *out, kk_error **err)
{
    struct reg_response resp = {.content_length = -1};
    _cleanup_free_ char *path = kk_xasprintf("manifests/%s", reference);
    _cleanup_free_ char *known = want_digest ? kk_xstrdup(want_digest) : NULL;
    bool have = false;

    memset(out, 0, sizeof(*out));
    /* By tag: HEAD tells the digest, and maybe we have it already. */
    if (!known) {
        if (reg_request(s, "HEAD", path, MANIFEST_ACCEPT, 0, &resp, err) < 0)
            goto fail;
        /* Any other answer: HEAD has no body to say why, the GET will. */
        if (resp.status == 200 && kk_image_digest_valid(resp.docker_digest))
            known = kk_xstrdup(resp.docker_digest);
    }
    if (known && present(p, known, &have, err) < 0)
        goto fail;
    if (have) {
        if (kk_ctd_content_read(p->c, p->ns, known, KK_IMAGE_MAX_JSON, &out->data, err) < 0)
            goto fail;
        if (doc_verify(out, known, want_size, err) < 0)
            goto fail;
        out->media_type = doc_media_type(mt_hint, resp.content_type, out->json);
        reg_response_clear(&resp);
        return 0;
    }

    if (reg_request(s, "GET", path, MANIFEST_ACCEPT, KK_IMAGE_MAX_JSON, &resp, err) < 0)
        goto fail;
    if (resp.status != 200) {
        _cleanup_free_ char *what = kk_xasprintf("manifest %s", reference);
        reg_status_error(&resp, what, err);
        goto fail;
    }
    /* by tag, the server's digest is what we check against */
    if (!want_digest && kk_image_digest_valid(resp.docker_digest)) {
        free(known);
        known = kk_xstrdup(resp.docker_digest);
    } else if (!want_digest) {
        free(known);
        known = NULL;
    }
    out->data = resp.body;
    memset(&resp.body, 0, sizeof(resp.body));
    if (doc_verify(out, known, want_size, err) < 0)
        goto fail;
    out->media_type = doc_media_type(mt_hint, resp.content_type, out->json);
    reg_response_clear(&resp);
    return 0;
fail:
    reg_response_clear(&resp);
    doc_clear(out);
    return -1;
}

/* ---- the manifest ------------------------------------------------------- */

struct desc {
    const char *digest, *media_type;
    int64_t size;
};

static int desc_get(const struct kk_json *j, struct desc *d, kk_error **err)
{
    d->digest = kk_json_str(kk_json_get(j, "digest"));
    d->media_type = kk_json_str(kk_json_get(j, "mediaType"));
    if (!kk_image_digest_valid(d->digest))
        return kk_error_set(err, KK_E_INVALID, "descriptor without a valid sha256 digest");
    if (kk_json_int(kk_json_get(j, "size"), &d->size) < 0 || d->size < 0 || d->size > MAX_BLOB_SIZE)
        return kk_error_set(err, KK_E_INVALID, "descriptor %s: invalid size", d->digest);
    if (!d->media_type || !*d->media_type || strlen(d->media_type) > 255)
        return kk_error_set(err, KK_E_INVALID, "descriptor %s: no media type", d->digest);
    return 0;
}

struct manifest {
    struct desc config;
    struct desc *layers;
    size_t n_layers;
};

static int manifest_parse(const struct doc *m, struct manifest *out, kk_error **err)
{
    const struct kk_json *layers = kk_json_get(m->json, "layers");
    int64_t version = 0;

    if (kk_json_int(kk_json_get(m->json, "schemaVersion"), &version) < 0 || version != 2)
        return kk_error_set(err, KK_E_INVALID,
                            "manifest %s: schemaVersion is not 2 (Docker schema 1 images are not "
                            "supported)",
                            m->digest);
    size_t n = kk_json_len(layers);
    if (!kk_json_is(layers, KK_JSON_ARRAY) || n == 0 || n > KK_IMAGE_MAX_LAYERS)
        return kk_error_set(err, KK_E_INVALID, "manifest %s: %zu layers", m->digest, n);
    if (desc_get(kk_json_get(m->json, "config"), &out->config, err) < 0)
        return kk_error_wrap(err, "manifest %s: config", m->digest);
    if (out->config.size > KK_IMAGE_MAX_JSON)
        return kk_error_set(err, KK_E_INVALID, "manifest %s: config too large", m->digest);
    out->layers = kk_xcalloc(n, sizeof(*out->layers));
    for (size_t i = 0; i < n; i++, out->n_layers++)
        if (desc_get(kk_json_at(layers, i), &out->layers[i], err) < 0)
            return kk_error_wrap(err, "manifest %s: layer %zu", m->digest, i);
    return 0;
}

/* ---- blobs -------------------------------------------------------------- */

static long read_fd(void *userdata, void *buf, size_t len, int64_t offset, kk_error **err)
{
    int fd = *(int *)userdata;
    for (;;) {
        ssize_t n = pread(fd, buf, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return kk_error_errno(err, "read temporary file");
        if (n == 0)
            return kk_error_set(err, KK_E_DATA_LOSS, "temporary file ends at %jd",
                                (intmax_t)offset);
        return (long)n;
    }
}

/* On fetch.c's writer thread: only the atomics of p are touched. */
static int blob_done(struct reg_blob *b, void *userdata, kk_error **err)
{
    struct pull *p = userdata;
    _cleanup_free_ char *ref = unique("kukeon-pull");
    int r = kk_ctd_content_write(p->lc, p->ns, ref, b->digest, b->size, read_fd, &b->fd, NULL, err);
    if (r < 0)
        return kk_error_wrap(err, "blob %s", b->digest);
    atomic_fetch_add(&p->written, 1);
    atomic_fetch_add(&p->written_bytes, b->size);
    return 0;
}

static void on_bytes(int64_t delta, void *userdata)
{
    struct pull *p = userdata;
    p->prog.bytes_done += delta;
    progress(p, "fetching", false);
}

/* Config and layers: what containerd lacks is downloaded and written. */
static int fetch_blobs(struct pull *p, struct reg_session *s, const struct manifest *m,
                       kk_error **err)
{
    _cleanup_free_ struct reg_blob *todo = kk_xcalloc(m->n_layers + 1, sizeof(*todo));
    size_t n = 0;

    /* this endpoint's attempt (an earlier mirror may have written some) */
    atomic_store(&p->written, 0);
    atomic_store(&p->written_bytes, 0);
    p->prog.bytes_total = p->prog.bytes_done = 0;

    for (size_t i = 0; i <= m->n_layers; i++) {
        const struct desc *d = i == 0 ? &m->config : &m->layers[i - 1];
        bool dup = false, have = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(todo[k].digest, d->digest) == 0;
        if (dup)
            continue;
        if (present(p, d->digest, &have, err) < 0)
            return kk_error_wrap(err, "blob %s", d->digest);
        if (have) {
            p->res->blobs_present++;
            continue;
        }
        todo[n++] = (struct reg_blob){d->digest, d->size, -1};
        p->prog.bytes_total += d->size;
    }
    p->prog.blobs_total = n;
    progress(p, "fetching", true);
    unsigned parallel = p->r->cfg.max_concurrent_downloads;
    if (!parallel)
        parallel = KK_REGISTRY_DEFAULT_PARALLEL;
    int r = reg_fetch_blobs(s, todo, n, parallel, blob_done, on_bytes, p, err);
    /* the writer is idle now: plain reads are fine */
    p->res->blobs_fetched += atomic_load(&p->written);
    p->res->bytes_fetched += atomic_load(&p->written_bytes);
    if (r == 0)
        progress(p, "fetching", true);
    return r;
}

/* Writes a manifest or index with its GC labels (re-applied if present). */
static int write_doc(struct pull *p, const struct doc *d, char **labels, kk_error **err)
{
    _cleanup_free_ char *ref = unique("kukeon-pull");
    const char *const *l = (const char *const *)labels;
    int r = kk_ctd_content_write_mem(p->lc, p->ns, ref, d->digest, d->data.data, d->data.len, l,
                                     err);
    if (r < 0)
        return kk_error_wrap(err, "write %s", d->digest);
    if (r == 1 && l && kk_ctd_content_update_labels(p->lc, p->ns, d->digest, l, err) < 0)
        return kk_error_wrap(err, "label %s", d->digest);
    return 0;
}

static char **manifest_labels(const struct manifest *m)
{
    char **v = kk_xcalloc(2 * (m->n_layers + 1) + 1, sizeof(*v));
    size_t k = 0;
    v[k++] = kk_xstrdup(KK_LABEL_GC_CONFIG);
    v[k++] = kk_xstrdup(m->config.digest);
    for (size_t i = 0; i < m->n_layers; i++) {
        v[k++] = kk_xasprintf(KK_LABEL_GC_LAYER "%zu", i);
        v[k++] = kk_xstrdup(m->layers[i].digest);
    }
    return v;
}

static int read_config(struct pull *p, const struct manifest *m, struct kk_oci_image_config *cfg,
                       kk_error **err)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    char got[72];
    if (kk_ctd_content_read(p->c, p->ns, m->config.digest, KK_IMAGE_MAX_JSON, &b, err) < 0)
        return kk_error_wrap(err, "config");
    kk_image_sha256(kk_buf_str(&b), b.len, got);
    if (strcmp(got, m->config.digest) != 0)
        return kk_error_set(err, KK_E_DATA_LOSS, "config %s hashes to %s", m->config.digest, got);
    if (kk_oci_image_config_parse(kk_buf_str(&b), b.len, cfg, err) < 0)
        return kk_error_wrap(err, "config %s", m->config.digest);
    size_t n = 0;
    while (cfg->diff_ids && cfg->diff_ids[n])
        n++;
    if (n != m->n_layers)
        return kk_error_set(err, KK_E_INVALID, "config %s: %zu diff_ids for %zu layers",
                            m->config.digest, n, m->n_layers);
    for (size_t i = 0; i < n; i++)
        if (!kk_image_digest_valid(cfg->diff_ids[i]))
            return kk_error_set(err, KK_E_INVALID, "config %s: invalid diff_id", m->config.digest);
    return 0;
}

/* ---- one endpoint ------------------------------------------------------- */

static int pull_from(struct pull *p, struct reg_session *s, kk_error **err)
{
    const struct kk_registry_ref *ref = p->ref;
    struct doc docs[KK_IMAGE_MAX_DEPTH + 1];
    size_t nd = 0;
    struct manifest m = {0};
    struct kk_oci_image_config cfg = {0};
    _cleanup_strv_ char **mlabels = NULL;
    int r = -1;

    int64_t t_start = kk_clock_mono_ns(NULL);
    memset(docs, 0, sizeof(docs));
    progress(p, "resolving", true);
    if (fetch_doc(p, s, ref->digest ? ref->digest : ref->tag, ref->digest, -1, NULL, &docs[0],
                  err) < 0)
        goto out;
    nd = 1;
    /* indexes down to this platform's manifest */
    while (is_index(docs[nd - 1].media_type)) {
        size_t pick;
        struct desc d;
        if (nd > KK_IMAGE_MAX_DEPTH) {
            kk_error_set(err, KK_E_INVALID, "indexes nested too deeply");
            goto out;
        }
        if (kk_registry_platform_pick(docs[nd - 1].json, &p->o->platform, &pick, err) < 0 ||
            desc_get(kk_json_at(kk_json_get(docs[nd - 1].json, "manifests"), pick), &d, err) < 0) {
            kk_error_wrap(err, "index %s", docs[nd - 1].digest);
            goto out;
        }
        if (d.size > KK_IMAGE_MAX_JSON) {
            kk_error_set(err, KK_E_INVALID, "index %s: manifest too large", docs[nd - 1].digest);
            goto out;
        }
        if (fetch_doc(p, s, d.digest, d.digest, d.size, d.media_type, &docs[nd], err) < 0)
            goto out;
        nd++;
    }
    struct doc *man = &docs[nd - 1];
    if (!is_manifest(man->media_type)) {
        kk_error_set(err, KK_E_INVALID, "%s: unsupported media type %s", man->digest,
                     man->media_type);
        goto out;
    }
    int64_t t_fetch = kk_clock_mono_ns(NULL);
    if (manifest_parse(man, &m, err) < 0 || fetch_blobs(p, s, &m, err) < 0 ||
        read_config(p, &m, &cfg, err) < 0)
        goto out;
    int64_t t_fetched = kk_clock_mono_ns(NULL);

    /* A single-platform image must still be for this platform. */
    const char *want_os = p->o->platform.os ? p->o->platform.os : "linux";
    const char *want_arch =
            p->o->platform.architecture ? p->o->platform.architecture : kk_image_host_arch();
    if ((cfg.os && strcmp(cfg.os, want_os) != 0) ||
        (cfg.architecture && strcmp(cfg.architecture, want_arch) != 0)) {
        kk_error_set(err, KK_E_NOT_FOUND, "no manifest for %s/%s: the image is %s/%s", want_os,
                     want_arch, cfg.os ? cfg.os : "?", cfg.architecture ? cfg.architecture : "?");
        goto out;
    }

    /* children first: the manifest, then each index up the chain */
    mlabels = manifest_labels(&m);
    if (write_doc(p, man, mlabels, err) < 0)
        goto out;
    for (size_t i = nd - 1; i-- > 0;) {
        char key[64];
        snprintf(key, sizeof(key), KK_LABEL_GC_MANIFEST "%d", 0);
        char *labels[] = {key, docs[i + 1].digest, NULL};
        if (write_doc(p, &docs[i], labels, err) < 0)
            goto out;
    }
    struct kk_ctd_desc target = {docs[0].media_type, docs[0].digest, (int64_t)docs[0].data.len};
    if (kk_ctd_image_put(p->c, p->ns, ref->name, &target, NULL, err) < 0) {
        kk_error_wrap(err, "image %s", ref->name);
        goto out;
    }
    p->res->name = kk_xstrdup(ref->name);
    p->res->digest = kk_xstrdup(docs[0].digest);
    p->res->media_type = kk_xstrdup(docs[0].media_type);
    p->res->manifest_digest = kk_xstrdup(man->digest);

    if (!p->o->no_unpack) {
        progress(p, "unpacking", true);
        _cleanup_free_ struct kk_image_layer *layers =
                kk_xcalloc(m.n_layers, sizeof(struct kk_image_layer));
        for (size_t i = 0; i < m.n_layers; i++)
            layers[i] = (struct kk_image_layer){(char *)m.layers[i].digest,
                                                (char *)m.layers[i].media_type, m.layers[i].size};
        struct kk_image_info info = {
                .name = ref->name,
                .manifest_digest = man->digest,
                .config_digest = (char *)m.config.digest,
                .layers = layers,
                .n_layers = m.n_layers,
                .diff_ids = cfg.diff_ids,
        };
        size_t unpacked = 0;
        if (kk_image_unpack(p->c, p->ns, p->o->snapshotter, &info, &unpacked, err) < 0)
            goto out;
        p->res->layers_unpacked = unpacked;
        p->res->layers_present = m.n_layers - unpacked;
    }
    kk_log_debug("pull %s from %s: resolved in %.1f ms, %zu blobs (%jd bytes) fetched and "
                 "written in %.1f ms, recorded and unpacked in %.1f ms",
                 ref->name, s->ep->base, (double)(t_fetch - t_start) / 1e6, p->res->blobs_fetched,
                 (intmax_t)p->res->bytes_fetched, (double)(t_fetched - t_fetch) / 1e6,
                 (double)(kk_clock_mono_ns(NULL) - t_fetched) / 1e6);
    r = 0;
out:
    kk_oci_image_config_clear(&cfg);
    free(m.layers);
    for (size_t i = 0; i < nd; i++)
        doc_clear(&docs[i]);
    return r;
}

/* ---- credentials -------------------------------------------------------- */

static int find_login(struct pull *p, const char *host, const char *repository,
                      struct kk_registry_login *out, kk_error **err)
{
    const struct kk_registry_pull_opts *o = p->o;
    int i = o->credentials ? kk_registry_credential_pick(o->credentials, o->n_credentials, host)
                           : -1;
    memset(out, 0, sizeof(*out));
    if (i >= 0)
        return kk_registry_credential_login(&o->credentials[i], out, err);

    const char *path = p->r->cfg.auth_file ? p->r->cfg.auth_file : KK_REGISTRY_AUTH_FILE;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return kk_error_errno(err, "auth file %s", path);
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int rr = kk_buf_read_fd(&b, fd, KK_REGISTRY_MAX_AUTHFILE);
    if (rr < 0)
        return kk_error_errnum(err, -rr, "auth file %s", path);
    rr = kk_registry_authfile_lookup(kk_buf_str(&b), b.len, host, repository, out, err);
    explicit_bzero(b.data ? b.data : (char *)"", b.len);
    if (rr < 0)
        return kk_error_wrap(err, "%s", path);
    return 0;
}

/* ---- the pull ----------------------------------------------------------- */

void kk_registry_pull_result_clear(struct kk_registry_pull_result *res)
{
    free(res->name);
    free(res->digest);
    free(res->media_type);
    free(res->manifest_digest);
    free(res->endpoint);
    memset(res, 0, sizeof(*res));
}

static int pull_endpoints(struct pull *p, kk_error **err)
{
    struct reg_endpoint *eps = NULL;
    size_t n = 0;
    int r = -1;

    if (reg_endpoints(&p->r->cfg, p->ref->domain, &eps, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct reg_session s = {.r = p->r, .ep = &eps[i], .repository = p->ref->repository};
        /* credentials of the domain for its mirrors too, unless a mirror has its own */
        r = find_login(p, eps[i].host, p->ref->repository, &s.login, err);
        if (r == 0 && kk_registry_login_empty(&s.login) && eps[i].mirror)
            r = find_login(p, p->ref->domain, p->ref->repository, &s.login, err);
        if (r == 0)
            r = pull_from(p, &s, err);
        reg_session_clear(&s);
        if (r == 0) {
            p->res->endpoint = kk_xstrdup(eps[i].base);
            break;
        }
        kk_error_wrap(err, "%s", eps[i].base);
        if (i + 1 < n) {
            kk_log_warn("pull %s: %s; trying %s", p->ref->name, (*err)->message, eps[i + 1].base);
            kk_error_freep(err);
        }
    }
    for (size_t i = 0; i < n; i++)
        reg_endpoint_clear(&eps[i]);
    free(eps);
    return r;
}

/* Waits until no other pull of key is under way, then registers this one. */
static void inflight_enter(struct kk_registry *r, char *key)
{
    pthread_mutex_lock(&r->lock);
    for (;;) {
        bool busy = false;
        for (size_t i = 0; i < r->n_inflight && !busy; i++)
            busy = strcmp(r->inflight[i], key) == 0;
        if (!busy)
            break;
        pthread_cond_wait(&r->inflight_done, &r->lock);
    }
    void *p = r->inflight;
    kk_xgrow(&p, &r->cap_inflight, r->n_inflight + 1, sizeof(char *));
    r->inflight = p;
    r->inflight[r->n_inflight++] = key;
    pthread_mutex_unlock(&r->lock);
}

static void inflight_leave(struct kk_registry *r, const char *key)
{
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_inflight; i++)
        if (r->inflight[i] == key) {
            r->inflight[i] = r->inflight[--r->n_inflight];
            break;
        }
    pthread_cond_broadcast(&r->inflight_done);
    pthread_mutex_unlock(&r->lock);
}

/* Pulls under a lease of its own, deleted when the pull is over: on success
 * the image record holds everything; on failure the collector takes what
 * was written, now (sync), so nothing half-done outlives the call. */
static int pull_leased(struct pull *p, kk_error **err)
{
    _cleanup_free_ char *lease = unique("kukeon-pull");
    if (kk_ctd_namespace_create(p->c, p->ns, NULL, true, err) < 0 ||
        kk_ctd_lease_create(p->c, p->ns, lease, LEASE_S, err) < 0)
        return kk_error_wrap(err, "pull %s: namespace %s", p->ref->name, p->ns);
    if (kk_ctd_with_lease(p->c, lease, &p->lc, err) < 0) {
        kk_ctd_lease_delete(p->c, p->ns, lease, false, NULL);
        return -1;
    }
    int rc = pull_endpoints(p, err);
    kk_ctd_close(p->lc);
    p->lc = NULL;
    _cleanup_error_ kk_error *lerr = NULL;
    if (kk_ctd_lease_delete(p->c, p->ns, lease, rc < 0, &lerr) < 0)
        kk_log_warn("pull %s: delete lease %s: %s", p->ref->name, lease, lerr->message);
    if (rc == 0)
        progress(p, "done", true);
    else
        kk_error_wrap(err, "pull %s", p->ref->name);
    return rc;
}

int kk_registry_pull(struct kk_registry *r, struct kk_ctd *c, const char *ns, const char *ref,
                     const struct kk_registry_pull_opts *opts, struct kk_registry_pull_result *res,
                     kk_error **err)
{
    static const struct kk_registry_pull_opts defaults = {0};
    struct kk_registry_pull_result local = {0};
    struct kk_registry_ref parsed = {0};

    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (kk_registry_ref_parse(ref, &parsed, err) < 0)
        return kk_error_reason(err, REASON);
    struct pull p = {
            .r = r, .c = c, .ns = ns, .ref = &parsed, .o = opts ? opts : &defaults, .res = res};
    p.prog.ref = parsed.name;
    _cleanup_free_ char *key = kk_xasprintf("%s\n%s", ns, parsed.name);
    inflight_enter(r, key);
    int rc = pull_leased(&p, err);
    inflight_leave(r, key);
    if (rc < 0) {
        kk_error_reason(err, REASON);
        kk_registry_pull_result_clear(res);
    }
    if (res == &local)
        kk_registry_pull_result_clear(&local);
    kk_registry_ref_clear(&parsed);
    return rc;
}

int kk_registry_ensure_image(struct kk_registry *r, struct kk_ctd *c, const char *ns,
                             const char *ref, enum kk_pull_policy policy,
                             const struct kk_registry_pull_opts *opts, bool *pulled, kk_error **err)
{
    struct kk_registry_ref parsed = {0};
    struct kk_image_info info;
    int rc;

    if (pulled)
        *pulled = false;
    if (kk_registry_ref_parse(ref, &parsed, err) < 0)
        return kk_error_reason(err, REASON);
    if (policy != KK_PULL_ALWAYS) {
        rc = kk_image_resolve(c, ns, parsed.name, &info, err);
        if (rc == 0) {
            bool unpacked = false;
            const char *snap = opts ? opts->snapshotter : NULL;
            rc = kk_image_is_unpacked(c, ns, snap, &info, &unpacked, err);
            if (rc == 0 && !unpacked)
                rc = kk_image_unpack(c, ns, snap, &info, NULL, err);
            kk_image_info_clear(&info);
            kk_registry_ref_clear(&parsed);
            return rc;
        }
        if (kk_error_code(*err) != KK_E_NOT_FOUND) {
            kk_registry_ref_clear(&parsed);
            return -1;
        }
        if (policy == KK_PULL_NEVER) {
            kk_error_set(err, KK_E_NOT_FOUND,
                         "image %s is not present and imagePullPolicy is Never", parsed.name);
            kk_registry_ref_clear(&parsed);
            return kk_error_reason(err, REASON);
        }
        kk_error_freep(err);
    }
    if (pulled)
        *pulled = true;
    rc = kk_registry_pull(r, c, ns, parsed.name, opts, NULL, err);
    kk_registry_ref_clear(&parsed);
    return rc;
}

static int real_ensure_image(void *self, struct kk_ctd *c, const char *ns, const char *ref,
                             enum kk_pull_policy policy, const struct kk_registry_pull_opts *opts,
                             bool *pulled, kk_error **err)
{
    return kk_registry_ensure_image(self, c, ns, ref, policy, opts, pulled, err);
}

const struct kk_registry_ops kk_registry_real_ops = {
        .ensure_image = real_ensure_image,
};
