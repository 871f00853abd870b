/* Images in a containerd namespace: import from an archive, unpack into a
 * snapshotter, list, resolve, remove, and prepare a container's rootfs.
 *
 *     struct kk_image_import_result res = {0};
 *     if (kk_image_import(ctd, "kukeon-main", "busybox.tar", NULL, &res, err) < 0)
 *         return kk_error_wrap(err, "load busybox.tar");
 *
 * What an import does, in containerd's own way (so `ctr -n NS images
 * check` reports the result complete and unpacked, and `ctr images import`
 * of the same archive is a no-op afterwards):
 *   1. creates the namespace if missing;
 *   2. takes a lease, so nothing written is collected half-way;
 *   3. writes every blob of the plan (archive.h) children first, on a few
 *      threads, each digest added to the lease before it is looked for (so
 *      garbage awaiting the collector cannot vanish under us), skipping
 *      the ones already present (Content.Info), with the GC labels
 *      gc.ref.content.config / .l.<i> on manifests and .m.<i> on indexes
 *      (re-applied when the blob was already there);
 *   4. meanwhile unpacks each manifest (unless no_unpack), each layer as
 *      soon as its blob is written: chain IDs from the config's diff_ids; a
 *      layer whose chain ID is already a committed snapshot is skipped;
 *      otherwise Prepare("extract-<unique> <chainID>", parent), Diff.Apply
 *      (the applied digest must equal the diffID), Commit(chainID) —
 *      AlreadyExists from a racing unpack is success; then labels the
 *      config with containerd.io/gc.ref.snapshot.<snapshotter>=<top chainID>;
 *   5. creates or updates the image records (target: the manifest);
 *   6. deletes the lease: from then on the image record holds everything.
 * A second import of the same archive unpacks nothing and writes nothing but,
 * possibly, the index blob (no image record holds it, so the collector may
 * have taken it, as after `ctr images import`).
 * A failed import leaves no half-written content behind once its lease is
 * gone (the lease is deleted on every path).
 *
 * Every function takes the containerd client and the namespace explicitly;
 * `snapshotter` NULL means overlayfs. Errors carry containerd's codes
 * (NotFound for a missing image, ...).
 */
#ifndef KUKEON_IMAGE_IMAGE_H
#define KUKEON_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/error.h"
#include "runtime/containerd/containerd.h"
#include "runtime/image/archive.h"
#include "runtime/oci/spec.h"

struct kk_image_import_opts {
    const char *snapshotter; /* NULL: overlayfs */
    const char *base_name;   /* names bare OCI ref-name tags, see archive.h */
    const char *os, *architecture;
    bool no_unpack;
    int lease_expire_s; /* 0: one hour */
};

struct kk_image_import_result {
    char **names; /* image records created or updated, NULL-terminated */
    size_t blobs_written, blobs_present;
    size_t layers_unpacked, layers_present;
};
void kk_image_import_result_clear(struct kk_image_import_result *r);

/* Imports the archive at path into namespace ns. opts and res may be NULL. */
int kk_image_import(struct kk_ctd *c, const char *ns, const char *path,
                    const struct kk_image_import_opts *opts, struct kk_image_import_result *res,
                    kk_error **err);
/* Same from an archive plan already opened by the caller. */
int kk_image_import_archive(struct kk_ctd *c, const char *ns, const struct kk_image_archive *a,
                            const struct kk_image_import_opts *opts,
                            struct kk_image_import_result *res, kk_error **err);

/* An image as the runtime needs it. */
struct kk_image_layer {
    char *digest, *media_type;
    int64_t size;
};
struct kk_image_info {
    char *name;
    char *target_media_type; /* of the image record's target */
    char *manifest_digest;
    char *config_digest, *config_media_type;
    int64_t config_size;
    int64_t size; /* manifest + config + layers, as stored (compressed) */
    struct kk_image_layer *layers;
    size_t n_layers;
    char **diff_ids; /* n_layers, NULL-terminated */
    char *chain_id;  /* top-most chain ID: the rootfs parent snapshot */
    struct kk_oci_image_config config;
};
void kk_image_info_clear(struct kk_image_info *i);

/* Reads the image record, its manifest (choosing this platform's from an
 * index) and config. NotFound if there is no such image. */
int kk_image_resolve(struct kk_ctd *c, const char *ns, const char *name, struct kk_image_info *out,
                     kk_error **err);
/* Unpacks a resolved image into the snapshotter (idempotent: nothing is
 * done when its top chain ID is already committed). *unpacked (may be NULL)
 * receives the number of layers applied. */
int kk_image_unpack(struct kk_ctd *c, const char *ns, const char *snapshotter,
                    const struct kk_image_info *img, size_t *unpacked, kk_error **err);
/* True if the image's top chain ID is a snapshot in the snapshotter. */
int kk_image_is_unpacked(struct kk_ctd *c, const char *ns, const char *snapshotter,
                         const struct kk_image_info *img, bool *out, kk_error **err);

/* Image records in ns. Free with kk_ctd_image_list_free. */
int kk_image_list(struct kk_ctd *c, const char *ns, struct kk_ctd_image **out, size_t *n,
                  kk_error **err);
/* Deletes the image record; containerd's GC then collects its content and
 * snapshots unless something else holds them (sync: before returning).
 * NotFound if there is no such image. */
int kk_image_remove(struct kk_ctd *c, const char *ns, const char *name, bool sync, kk_error **err);

/* Prepares the active snapshot `key` (a container's rootfs) on top of the
 * image's layers, unpacking them first if needed, and returns its mounts
 * (may be NULL). If `key` already exists its mounts are returned: the call
 * is idempotent, and the caller removes a stale snapshot when the image
 * changes. The snapshot (and layers unpacked on the way) are held by a
 * lease of their own that expires after two minutes: create the container
 * record that owns the snapshot within that time. */
int kk_image_prepare_rootfs(struct kk_ctd *c, const char *ns, const char *snapshotter,
                            const char *image, const char *key, struct kk_ctd_mounts *mounts,
                            kk_error **err);

/* Reads the file at `path` of the image's root filesystem (at most `max`
 * bytes, appended to out), e.g. /etc/passwd to resolve a user name as the
 * container will. The unpacked image is mounted read-only (a View snapshot)
 * on a private temporary directory and the path is resolved inside it
 * (openat2 RESOLVE_IN_ROOT: no symlink leads out of the image); everything
 * is unmounted and removed before returning. Needs CAP_SYS_ADMIN and an
 * unpacked image. NotFound if the file is not in the image. */
int kk_image_read_file(struct kk_ctd *c, const char *ns, const char *snapshotter,
                       const struct kk_image_info *img, const char *path, size_t max,
                       struct kk_buf *out, kk_error **err);

/* ---- Backend interface ------------------------------------------------ */

/* What the agent uses, as function pointers, so that it can run against a
 * fake. `self` is the backend's object: a struct kk_ctd * for the real one
 * (a leased view of it protects a rootfs until its container exists). */
struct kk_image_ops {
    int (*import)(void *self, const char *ns, const char *path,
                  const struct kk_image_import_opts *opts, struct kk_image_import_result *res,
                  kk_error **err);
    int (*resolve)(void *self, const char *ns, const char *name, struct kk_image_info *out,
                   kk_error **err);
    int (*prepare_rootfs)(void *self, const char *ns, const char *snapshotter, const char *image,
                          const char *key, struct kk_ctd_mounts *mounts, kk_error **err);
    int (*read_file)(void *self, const char *ns, const char *snapshotter,
                     const struct kk_image_info *img, const char *path, size_t max,
                     struct kk_buf *out, kk_error **err);
    int (*remove)(void *self, const char *ns, const char *name, bool sync, kk_error **err);
};

/* The real implementation over containerd. */
extern const struct kk_image_ops kk_image_real_ops;

#endif
