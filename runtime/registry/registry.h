/* Pulling images from OCI / Docker registries into containerd.
 *
 *     struct kk_registry_config cfg = {0};
 *     kk_registry_config_load("/etc/kukeon/registries.yaml", &cfg, err);  // missing file: defaults
 *     struct kk_registry *reg;
 *     kk_registry_new(&cfg, &reg, err);
 *     struct kk_registry_pull_opts o = {.credentials = realm->registry_credentials,
 *                                       .n_credentials = realm->n_registry_credentials};
 *     if (kk_registry_pull(reg, ctd, "kukeon-main", "nginx:alpine", &o, NULL, err) < 0)
 *         ... (*err)->reason is "ImagePullFailed", message says why
 *
 * A pull produces exactly what `kuke image load` of the same image produces
 * (runtime/image/image.h): under a lease, the layers and the config are
 * written first, then the manifest with containerd.io/gc.ref.content.config
 * and .l.<i>, then the index (if the reference names one) with .m.<i> for
 * the manifest chosen; the image record is created or updated (target: the
 * descriptor the reference resolved to, index or manifest, as `ctr pull`
 * does), and the image is unpacked with kk_image_unpack. Then the lease is
 * deleted. `ctr images check` reports the result complete and unpacked.
 *
 * Guarantees:
 *   - Every blob is checked against its descriptor's digest AND size before
 *     it reaches containerd: a blob is downloaded into an unlinked temporary
 *     file (never into memory, never past its declared size), hashed on the
 *     way, and written to containerd only when it matches. Manifests and
 *     indexes (at most KK_IMAGE_MAX_JSON) are verified the same way; a
 *     manifest fetched by tag is verified against the registry's
 *     Docker-Content-Digest when it sends one.
 *   - Blobs already in the namespace are not downloaded; a second pull of
 *     the same reference downloads only the manifest (or nothing at all
 *     when the registry's HEAD answer names a manifest that is present).
 *   - Layers are fetched concurrently (max_concurrent_downloads transfers on
 *     one libcurl multi handle).
 *   - A failed pull leaves nothing half-written: no ingest (content writes
 *     abort theirs), no lease, and what it wrote is collected (the lease is
 *     deleted synchronously on failure).
 *   - Errors carry reason "ImagePullFailed" and a message naming the
 *     registry's own words ("manifest unknown", "authentication required",
 *     "digest mismatch", "no manifest for linux/amd64"); codes: NotFound,
 *     Unauthenticated, PermissionDenied, DataLoss (digest/size mismatch),
 *     Unavailable (network, 5xx), InvalidArgument (bad reference/document).
 *
 * Endpoints: a reference's domain is served by its mirrors (tried in order)
 * and then by the domain itself (docker.io by registry-1.docker.io). HTTPS
 * with the system CA store and the host's ca_file; plain HTTP only for
 * hosts marked insecure (and mirrors written with an http:// URL).
 *
 * Credentials, first match wins: the realm credential whose serverAddress
 * matches the endpoint's host, the realm credential without serverAddress,
 * the auth file's entry for the host (longest repository prefix), none.
 * They are only ever sent to the endpoint (and to the token realm its
 * challenge names); Bearer tokens are cached per host, service, scope and
 * user until they expire.
 *
 * Thread-safety: a struct kk_registry may be used by any number of threads
 * at once (the token cache is locked); each pull has its own transfers. A
 * pull of an image into a namespace where the same image is being pulled
 * waits for that pull, then finds its content present: two cells starting
 * with one image download it once.
 */
#ifndef KUKEON_REGISTRY_H
#define KUKEON_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/error.h"
#include "fsapi/model.h"
#include "runtime/containerd/containerd.h"
#include "runtime/registry/parse.h"

#define KK_REGISTRY_CONFIG_PATH      "/etc/kukeon/registries.yaml"
#define KK_REGISTRY_AUTH_FILE        "/etc/kukeon/auth.json"
#define KK_REGISTRY_TMP_DIR          "/var/tmp"
#define KK_REGISTRY_MAX_HOSTS        64
#define KK_REGISTRY_MAX_MIRRORS      8
#define KK_REGISTRY_MAX_PARALLEL     16
#define KK_REGISTRY_DEFAULT_PARALLEL 3

/* One registries.yaml `registries:` entry. */
struct kk_registry_host {
    char *host;             /* as references spell it: "127.0.0.1:5000", "docker.io" */
    bool insecure;          /* plain HTTP */
    char *ca_file;          /* caFile: PEM, trusted in addition to the system store */
    struct kk_strv mirrors; /* "http://127.0.0.1:5001", "https://mirror.example.com", "m:5000" */
};

struct kk_registry_config {
    char *auth_file;                   /* authFile; NULL: KK_REGISTRY_AUTH_FILE */
    char *tmp_dir;                     /* tmpDir; NULL: KK_REGISTRY_TMP_DIR */
    uint32_t max_concurrent_downloads; /* 0: KK_REGISTRY_DEFAULT_PARALLEL */
    uint32_t timeout_seconds; /* a transfer making no progress for this long fails; 0: 60 */
    struct kk_registry_host *registries;
    size_t n_registries;
};

/* Reads a registries.yaml (see docs/registry.md) into *cfg (zeroed first).
 * Returns 1 and leaves defaults when the file does not exist, 0 when read,
 * -1 on an unreadable or invalid file (the message lists file:line:col
 * diagnostics). */
int kk_registry_config_load(const char *path, struct kk_registry_config *cfg, kk_error **err);
/* Same from bytes; `file` names them in diagnostics. */
int kk_registry_config_parse(const char *file, const char *data, size_t len,
                             struct kk_registry_config *cfg, kk_error **err);
void kk_registry_config_clear(struct kk_registry_config *cfg);
/* The entry for host, or NULL. */
const struct kk_registry_host *kk_registry_config_host(const struct kk_registry_config *cfg,
                                                       const char *host);

struct kk_registry;

/* Copies cfg (NULL: defaults). */
int kk_registry_new(const struct kk_registry_config *cfg, struct kk_registry **out, kk_error **err);
void kk_registry_free(struct kk_registry *r);
KK_DEFINE_CLEANUP(struct kk_registry, kk_registry_free)

struct kk_registry_progress {
    const char *ref;
    const char *phase;              /* "resolving", "fetching", "unpacking", "done" */
    size_t blobs_total, blobs_done; /* blobs to download */
    int64_t bytes_total, bytes_done;
};
/* Called on the pulling thread, at most every 100 ms while fetching and at
 * every phase change. */
typedef void (*kk_registry_progress_fn)(const struct kk_registry_progress *p, void *userdata);

struct kk_registry_pull_opts {
    const char *snapshotter;                          /* NULL: overlayfs */
    const struct kk_registry_credential *credentials; /* the realm's; may be NULL */
    size_t n_credentials;
    struct kk_registry_platform platform; /* zero: this host */
    bool no_unpack;
    kk_registry_progress_fn progress;
    void *progress_data;
};

struct kk_registry_pull_result {
    char *name;       /* the image record */
    char *digest;     /* its target */
    char *media_type; /* of the target */
    char *manifest_digest;
    char *endpoint;                      /* where it came from: "http://127.0.0.1:5000" */
    size_t blobs_fetched, blobs_present; /* config and layers */
    int64_t bytes_fetched;
    size_t layers_unpacked, layers_present;
};
void kk_registry_pull_result_clear(struct kk_registry_pull_result *res);

/* Pulls ref into namespace ns (created if missing). opts and res may be
 * NULL. */
int kk_registry_pull(struct kk_registry *r, struct kk_ctd *c, const char *ns, const char *ref,
                     const struct kk_registry_pull_opts *opts, struct kk_registry_pull_result *res,
                     kk_error **err);

/* The pull policy as the agent applies it before creating a container:
 *   IfNotPresent  pull only if there is no image record (unpack if needed)
 *   Always        pull (cheap when nothing changed: blobs are not re-fetched)
 *   Never         fail (reason ImagePullFailed) if there is no image record
 * *pulled (may be NULL) tells whether the registry was asked. */
int kk_registry_ensure_image(struct kk_registry *r, struct kk_ctd *c, const char *ns,
                             const char *ref, enum kk_pull_policy policy,
                             const struct kk_registry_pull_opts *opts, bool *pulled,
                             kk_error **err);

/* The backend interface for the agent (a fake can stand in for tests).
 * `self` is a struct kk_registry * for the real one. */
struct kk_registry_ops {
    int (*ensure_image)(void *self, struct kk_ctd *c, const char *ns, const char *ref,
                        enum kk_pull_policy policy, const struct kk_registry_pull_opts *opts,
                        bool *pulled, kk_error **err);
};
extern const struct kk_registry_ops kk_registry_real_ops;

#endif
