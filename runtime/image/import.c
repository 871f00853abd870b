/* Import of an archive plan into containerd, and unpacking (see image.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/clock.h"
#include "fsapi/log.h"
#include "runtime/image/image.h"
#include "runtime/image/lease.h"

#define DEFAULT_LEASE_S 3600
#define WRITER_THREADS  3

static const char *snapshotter_or_default(const char *s)
{
    return s && *s ? s : KK_CTD_DEFAULT_SNAPSHOTTER;
}

/* A process-unique suffix for lease ids and extraction keys. */
static char *unique_id(const char *prefix)
{
    static atomic_uint counter;
    return kk_xasprintf("%s-%d-%u-%lld", prefix, (int)getpid(), atomic_fetch_add(&counter, 1),
                        (long long)kk_clock_real_ns(NULL));
}

/* Monotonic time in ms with a fraction, for the debug log's timings. */
static double now_ms(void)
{
    return (double)kk_clock_mono_ns(NULL) / 1e6;
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

    /* The key is unique, so two unpacks of the same layer never collide
     * here; they meet at Commit, where the second finds AlreadyExists. */
    if (kk_ctd_snapshot_prepare(c, ns, snapshotter, key, parent, NULL, &mounts, err) < 0)
        return kk_error_wrap(err, "prepare %s", chain);
    double t0 = now_ms();
    r = kk_ctd_diff_apply(c, ns, &l->desc, &mounts, &applied, err);
    double t1 = now_ms();
    kk_ctd_mounts_clear(&mounts);
    if (r < 0) {
        kk_error_wrap(err, "apply layer %s", l->desc.digest);
        goto fail;
    }
    if (!applied || strcmp(applied, l->diff_id) != 0) {
        kk_error_set(err, KK_E_DATA_LOSS, "layer %s: applied digest %s, config says %s",
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
    kk_log_debug("unpack %s: %s applied in %.1f ms, committed in %.1f ms", ns, chain, t1 - t0,
                 now_ms() - t1);
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

/* Keeps a snapshot from being collected while we build on it (it may be
 * unreferenced garbage awaiting the collector); call it before looking. */
static int hold_snapshot(struct kk_ctd *c, const char *ns, const char *lease,
                         const char *snapshotter, const char *key, kk_error **err)
{
    if (!lease)
        return 0;
    _cleanup_free_ char *type = kk_xasprintf("snapshots/%s", snapshotter);
    return kk_image_lease_add(c, ns, lease, type, key, err);
}

/* Called before layer i is applied (SIZE_MAX: before the config is
 * labelled); returns -1 if that blob will never be there. */
typedef int (*blob_ready_fn)(void *userdata, size_t layer);

/* Unpacks layers[0..n) and labels the config. `c` should be leased. ready
 * may be NULL (everything is in the content store already). */
static int unpack_layers(struct kk_ctd *c, const char *ns, const char *snapshotter,
                         const char *lease, const struct unpack_layer *layers, size_t n,
                         const char *config_digest, blob_ready_fn ready, void *userdata,
                         size_t *applied_out, size_t *present_out, kk_error **err)
{
    _cleanup_free_ char **diff = kk_xcalloc(n + 1, sizeof(*diff)); /* borrowed strings */
    size_t applied = 0, present = 0;
    bool have;

    snapshotter = snapshotter_or_default(snapshotter);
    if (n == 0)
        return kk_error_set(err, KK_E_INVALID, "image has no layers");
    for (size_t i = 0; i < n; i++)
        diff[i] = (char *)layers[i].diff_id;
    _cleanup_strv_ char **chain = kk_image_chain_ids(diff, n);

    /* Fast path: the whole stack is there (a re-import, a second image
     * sharing everything). Snapshots are held before they are looked at,
     * for the same reason as blobs (see write_blob). */
    if (hold_snapshot(c, ns, lease, snapshotter, chain[n - 1], err) < 0 ||
        snapshot_exists(c, ns, snapshotter, chain[n - 1], &have, err) < 0)
        return kk_error_wrap(err, "stat %s", chain[n - 1]);
    if (have) {
        present = n;
    } else {
        /* Bottom-up: skip what exists; above the first missing layer
         * nothing can exist (a snapshot needs its parent). */
        bool building = false;
        for (size_t i = 0; i < n; i++) {
            if (!building && i < n - 1 &&
                (hold_snapshot(c, ns, lease, snapshotter, chain[i], err) < 0 ||
                 snapshot_exists(c, ns, snapshotter, chain[i], &have, err) < 0))
                return kk_error_wrap(err, "stat %s", chain[i]);
            if (!building && i < n - 1 && have) {
                present++;
                continue;
            }
            building = true;
            if (ready && ready(userdata, i) < 0)
                return -1;
            if (apply_layer(c, ns, snapshotter, &layers[i], i ? chain[i - 1] : NULL, chain[i],
                            err) < 0)
                return -1;
            applied++;
        }
    }

    if (ready && ready(userdata, SIZE_MAX) < 0)
        return -1;
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
    r = unpack_layers(lc, ns, snapshotter, lease, l, img->n_layers, img->config_digest, NULL, NULL,
                      unpacked, NULL, err);
    kk_ctd_lease_delete(c, ns, lease, false, &ignored);
    return r < 0 ? kk_error_wrap(err, "unpack %s", img->name) : 0;
}

/* ---- import ------------------------------------------------------------- */

/* Writes one blob; *present is set when it was there already. */
static int write_blob(struct kk_ctd *lc, const char *ns, const char *lease,
                      const struct kk_image_blob *b, bool *present, kk_error **err)
{
    _cleanup_error_ kk_error *ignored = NULL;
    const char *const *labels = (const char *const *)b->labels;
    /* One ingest ref per import and blob: a stale ingest of an earlier
     * failed import can never collide with this one. */
    _cleanup_free_ char *ref = kk_xasprintf("%s-%s", lease, b->digest + 7);
    double t0 = now_ms();
    /* Hold the digest before looking: a blob that is present but held by
     * nothing (garbage awaiting the collector) could otherwise vanish
     * between the write's existence check and our use of it. A reference to
     * content that does not exist yet is harmless: we are about to write it
     * under this lease anyway. */
    if (kk_image_lease_add(lc, ns, lease, "content", b->digest, err) < 0)
        return -1;
    int r = kk_ctd_content_write_mem(lc, ns, ref, b->digest, b->data, b->size, labels, err);
    if (r < 0) {
        /* A failed commit (e.g. a digest mismatch) leaves the ingest
         * behind; abort it so that a later import starts afresh. */
        kk_ctd_content_abort(lc, ns, ref, &ignored);
        return kk_error_wrap(err, "write %s", b->digest);
    }
    /* Present already (an earlier import, a shared base): make sure its GC
     * references are there too, as ctr does. */
    if (r == 1 && labels && kk_ctd_content_update_labels(lc, ns, b->digest, labels, err) < 0)
        return kk_error_wrap(err, "label %s", b->digest);
    *present = r == 1;
    kk_log_debug("import %s: %s %s (%zu bytes) in %.1f ms", ns, r == 1 ? "had" : "wrote", b->digest,
                 b->size, now_ms() - t0);
    return 0;
}

/* Blobs are written by a few threads while the caller unpacks layers as
 * soon as they are in: commits (each an fsync in containerd) overlap each
 * other and the Diff.Apply of earlier layers. A manifest or index is only
 * claimed once every blob before it in the plan is in, so the plan's
 * children-first order still holds for whoever looks at the store. */
enum { BLOB_PENDING, BLOB_WRITING, BLOB_DONE };

struct writers {
    struct kk_ctd *lc;
    const char *ns, *lease;
    const struct kk_image_archive *a;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *state;
    size_t next;
    bool stop;
    kk_error *err; /* the first failure */
    size_t written, present;
    pthread_t threads[WRITER_THREADS];
    size_t n_threads;
};

static bool all_before_done(const struct writers *w, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (w->state[k] != BLOB_DONE)
            return false;
    return true;
}

static void *writer_main(void *arg)
{
    struct writers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->next < w->a->n_blobs &&
               w->a->blobs[w->next].kind >= KK_BLOB_MANIFEST && !all_before_done(w, w->next))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop || w->next >= w->a->n_blobs)
            break;
        size_t i = w->next++;
        w->state[i] = BLOB_WRITING;
        pthread_mutex_unlock(&w->mu);

        kk_error *err = NULL;
        bool present = false;
        int r = write_blob(w->lc, w->ns, w->lease, &w->a->blobs[i], &present, &err);

        pthread_mutex_lock(&w->mu);
        if (r < 0) {
            if (!w->err)
                w->err = err;
            else
                kk_error_free(err);
            w->stop = true;
        } else {
            w->state[i] = BLOB_DONE;
            *(present ? &w->present : &w->written) += 1;
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writers_start(struct writers *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->state = kk_xcalloc(w->a->n_blobs ? w->a->n_blobs : 1, 1);
    size_t n = w->a->n_blobs < WRITER_THREADS ? w->a->n_blobs : WRITER_THREADS;
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&w->threads[w->n_threads], NULL, writer_main, w) == 0)
            w->n_threads++;
    if (w->n_threads == 0) /* no thread to be had: write on this one */
        writer_main(w);
}

/* Waits until blob i is written; -1 if the writers failed or stopped. */
static int writers_wait(struct writers *w, size_t i)
{
    pthread_mutex_lock(&w->mu);
    while (!w->stop && w->state[i] != BLOB_DONE)
        pthread_cond_wait(&w->cv, &w->mu);
    int r = w->state[i] == BLOB_DONE ? 0 : -1;
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* Stops (if asked) and joins the writers; returns their first error. */
static int writers_finish(struct writers *w, bool stop, struct kk_image_import_result *res,
                          kk_error **err)
{
    pthread_mutex_lock(&w->mu);
    w->stop |= stop;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->n_threads; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->state);
    res->blobs_written = w->written;
    res->blobs_present = w->present;
    if (w->err) {
        kk_error_free(*err);
        *err = w->err;
        return -1;
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

struct manifest_wait {
    struct writers *w;
    const struct kk_image_manifest *m;
};

static int manifest_blob_ready(void *userdata, size_t layer)
{
    const struct manifest_wait *mw = userdata;
    return writers_wait(mw->w, layer == SIZE_MAX ? mw->m->config : mw->m->layers[layer]);
}

/* Unpacks a manifest of the plan, each layer as soon as it is written. */
static int unpack_manifest(struct kk_ctd *lc, const char *ns, const char *snapshotter,
                           const struct kk_image_archive *a, const struct kk_image_manifest *m,
                           struct writers *w, struct kk_image_import_result *res, kk_error **err)
{
    _cleanup_free_ struct unpack_layer *l = kk_xcalloc(m->n_layers ? m->n_layers : 1, sizeof(*l));
    struct manifest_wait mw = {w, m};
    for (size_t i = 0; i < m->n_layers; i++) {
        const struct kk_image_blob *b = &a->blobs[m->layers[i]];
        l[i] = (struct unpack_layer){{b->media_type, b->digest, (int64_t)b->size}, m->diff_ids[i]};
    }
    return unpack_layers(lc, ns, snapshotter, w->lease, l, m->n_layers, a->blobs[m->config].digest,
                         manifest_blob_ready, &mw, &res->layers_unpacked, &res->layers_present,
                         err);
}

static int import_leased(struct kk_ctd *c, struct kk_ctd *lc, const char *ns, const char *lease,
                         const struct kk_image_archive *a, const struct kk_image_import_opts *o,
                         struct kk_image_import_result *res, kk_error **err)
{
    struct writers w = {.lc = lc, .ns = ns, .lease = lease, .a = a};
    int r = 0;

    writers_start(&w);
    double t0 = now_ms();
    for (size_t i = 0; !o->no_unpack && r == 0 && i < a->n_manifests; i++)
        r = unpack_manifest(lc, ns, o->snapshotter, a, &a->manifests[i], &w, res, err);
    if (r == 0 && !o->no_unpack)
        kk_log_debug("import %s: unpacked in %.1f ms", ns, now_ms() - t0);
    /* A writer's error explains an unpack that stopped waiting. */
    if (writers_finish(&w, r < 0, res, err) < 0 || r < 0)
        return kk_error_wrap(err, r < 0 && !w.err ? "unpack" : "write");
    return put_images(c, ns, a, res, err);
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
    /* On success the image records hold everything; on failure the
     * collector takes what was written, right away (sync), so a retry does
     * not find half an import waiting to be collected. */
    _cleanup_error_ kk_error *lerr = NULL;
    if (kk_ctd_lease_delete(c, ns, lease, r < 0, &lerr) < 0)
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
