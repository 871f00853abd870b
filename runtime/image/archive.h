/* Reading an image archive into an import plan: which blobs to write (with
 * which media types and GC labels), which image records to create, and
 * what to unpack. Pure: no containerd, no root; the plan is then carried
 * out by import.c.
 *
 * Formats (detected from the archive's contents, as containerd does):
 *   - OCI image layout: oci-layout + index.json + blobs/<alg>/<hex>.
 *     Nested indexes are followed (depth-limited); manifests for another
 *     platform than the requested one are skipped. An image named on a
 *     nested index is recorded with this platform's manifest as its target.
 *   - Docker `docker save` (v1.1/v1.2): manifest.json [{Config, RepoTags,
 *     Layers}]. Like containerd's importer, a Docker schema2 manifest is
 *     synthesized per entry (layers typed tar or tar+gzip by sniffing) and
 *     an OCI index over them, one descriptor per RepoTag annotated with the
 *     normalised name. The synthesized JSON is byte-compatible with
 *     containerd's, so both importers produce the same manifest digests.
 *
 * Plan invariants:
 *   - blobs[] is in write order: every blob comes after the blobs it
 *     references (layers and config, then the manifest, then indexes), so a
 *     parent's GC labels never point at missing content.
 *   - Each digest appears once in blobs[].
 *   - Manifest blobs carry containerd.io/gc.ref.content.config and
 *     containerd.io/gc.ref.content.l.<i>; index blobs carry
 *     containerd.io/gc.ref.content.m.<i> — as `ctr images import` sets them.
 *   - JSON blobs (indexes, manifests, configs) were hashed and checked
 *     against their digests before being parsed; layer digests are checked
 *     by containerd on commit (the write passes the expected digest).
 *   - Every manifest's diff_ids come from its config's rootfs.diff_ids and
 *     match its layer count.
 *   - Input is untrusted: sizes, counts and names are bounded (see the
 *     KK_IMAGE_MAX_* limits) and every descriptor is checked against the
 *     archive member it names.
 */
#ifndef KUKEON_IMAGE_ARCHIVE_H
#define KUKEON_IMAGE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/error.h"

#define KK_IMAGE_MAX_JSON      (8u << 20) /* one index/manifest/config */
#define KK_IMAGE_MAX_LAYERS    128
#define KK_IMAGE_MAX_MANIFESTS 64
#define KK_IMAGE_MAX_DEPTH     4 /* index nesting */

#define KK_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define KK_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define KK_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define KK_MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define KK_MT_OCI_LAYER_GZ    "application/vnd.oci.image.layer.v1.tar+gzip"
#define KK_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define KK_MT_DOCKER_MANIF    "application/vnd.docker.distribution.manifest.v2+json"
#define KK_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define KK_MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar"
#define KK_MT_DOCKER_LAYER_GZ "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define KK_LABEL_GC_CONFIG   "containerd.io/gc.ref.content.config"
#define KK_LABEL_GC_LAYER    "containerd.io/gc.ref.content.l."
#define KK_LABEL_GC_MANIFEST "containerd.io/gc.ref.content.m."
#define KK_LABEL_GC_SNAPSHOT "containerd.io/gc.ref.snapshot."

enum kk_image_format { KK_IMAGE_FORMAT_OCI = 1, KK_IMAGE_FORMAT_DOCKER = 2 };

enum kk_image_blob_kind {
    KK_BLOB_LAYER,
    KK_BLOB_CONFIG,
    KK_BLOB_MANIFEST,
    KK_BLOB_INDEX,
};

struct kk_image_blob {
    enum kk_image_blob_kind kind;
    char *digest; /* "sha256:<64 hex>" */
    char *media_type;
    const uint8_t *data; /* into the archive, or into `owned` */
    size_t size;
    char *owned;   /* synthesized JSON, or NULL */
    char **labels; /* {k, v, ..., NULL}; NULL when none */
};

struct kk_image_manifest {
    size_t blob;   /* index into blobs[] of the manifest itself */
    size_t config; /* index into blobs[] */
    size_t n_layers;
    size_t *layers;  /* indices into blobs[] */
    char **diff_ids; /* n_layers, NULL-terminated */
};

struct kk_image_named {
    char *name;      /* normalised, e.g. docker.io/library/busybox:latest */
    size_t manifest; /* index into manifests[] */
};

struct kk_image_archive {
    enum kk_image_format format;
    struct kk_image_blob *blobs;
    size_t n_blobs;
    struct kk_image_manifest *manifests;
    size_t n_manifests;
    struct kk_image_named *images;
    size_t n_images;
    /* private */
    void *map;
    size_t map_len;
    size_t cap_blobs, cap_manifests, cap_images;
};

struct kk_image_archive_opts {
    const char *os;           /* NULL: "linux" */
    const char *architecture; /* NULL: this machine's (amd64, arm64, ...) */
    /* Prefix for OCI ref names that are only a tag ("latest" ->
     * "<base_name>:latest"); NULL: such manifests get no name. */
    const char *base_name;
};

/* Maps the file read-only and builds the plan. opts may be NULL. */
int kk_image_archive_open(const char *path, const struct kk_image_archive_opts *opts,
                          struct kk_image_archive **out, kk_error **err);
/* Same over bytes the caller keeps alive for the archive's lifetime. */
int kk_image_archive_parse(const void *data, size_t len, const struct kk_image_archive_opts *opts,
                           struct kk_image_archive **out, kk_error **err);
void kk_image_archive_free(struct kk_image_archive *a);
static inline void kk_image_archive_freep(struct kk_image_archive **a)
{
    kk_image_archive_free(*a);
    *a = NULL;
}

/* The label value for key, or NULL. */
const char *kk_image_label(char *const *labels, const char *key);

/* "sha256:<hex>" of data. out must hold 72 bytes. */
void kk_image_sha256(const void *data, size_t len, char out[72]);
/* True for "sha256:" + 64 lower-case hex digits. */
bool kk_image_digest_valid(const char *d);
/* chain[0] = diff_ids[0]; chain[i] = sha256(chain[i-1] + " " + diff_ids[i]).
 * Returns a NULL-terminated vector of n entries. */
char **kk_image_chain_ids(char *const *diff_ids, size_t n);
/* This machine's GOARCH name (amd64, arm64, 386, arm, ppc64le, s390x, riscv64). */
const char *kk_image_host_arch(void);

#endif
