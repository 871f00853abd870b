/* containerd client: the operations kukeon needs, over runtime/grpc.
 *
 *     struct kk_ctd *c;
 *     if (kk_ctd_open("/run/containerd/containerd.sock", NULL, &c, err) < 0)
 *         return kk_error_wrap(err, "containerd");
 *     kk_ctd_namespace_create(c, "kukeon-main", labels, true, err);
 *     ...
 *     kk_ctd_close(c);
 *
 * Invariants:
 *   - Every call names its containerd namespace explicitly (`ns`); nothing is
 *     implied by the client. Namespace-level calls take the namespace name.
 *   - Errors carry containerd's gRPC status as the kk_error code, so
 *     KK_E_NOT_FOUND, KK_E_EXISTS, KK_E_PRECONDITION ... stay distinguishable;
 *     KK_E_UNAVAILABLE means containerd could not be reached (the client keeps
 *     reconnecting with backoff; a later call may succeed).
 *   - Thread-safety: a struct kk_ctd may be used from any number of threads at
 *     once; all calls share ONE HTTP/2 connection driven by one I/O thread
 *     (see runtime/grpc/grpc.h). Every unary call has a deadline (the
 *     client's default, see struct kk_ctd_opts); Wait has its own.
 *   - Labels are passed and returned as NULL-terminated string vectors of
 *     alternating keys and values: {"k1", "v1", "k2", "v2", NULL}. Returned
 *     vectors are owned by the caller (kk_strv_free).
 *   - Output structs are owned by the caller and released with the matching
 *     *_clear / *_free function; those accept zeroed structs and are
 *     idempotent.
 *   - Limits: ids and names are checked for length (KK_CTD_NAME_MAX) before
 *     they are sent; blobs read back are capped by the caller's `max`.
 */
#ifndef KUKEON_CONTAINERD_H
#define KUKEON_CONTAINERD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

#define KK_CTD_NAME_MAX            255
#define KK_CTD_DEFAULT_SNAPSHOTTER "overlayfs"
#define KK_CTD_DEFAULT_RUNTIME     "io.containerd.runc.v2"
#define KK_CTD_SPEC_TYPE_URL       "types.containerd.io/opencontainers/runtime-spec/1/Spec"

struct kk_ctd;

struct kk_ctd_opts {
    int timeout_ms; /* deadline of each unary call; 0: 30 s */
};

/* Connects lazily: opening succeeds even if containerd is not up yet; the
 * first call that cannot reach it fails with KK_E_UNAVAILABLE after retrying
 * until its deadline. `address` is a unix socket path (an optional
 * "unix://" prefix is accepted). opts may be NULL. */
int kk_ctd_open(const char *address, const struct kk_ctd_opts *opts, struct kk_ctd **out,
                kk_error **err);
/* A second handle on the same connection whose calls carry the
 * `containerd-lease: lease_id` header (content writes, snapshot prepares
 * and commits are then protected by the lease). Close it with kk_ctd_close;
 * the parent must outlive it. */
int kk_ctd_with_lease(struct kk_ctd *c, const char *lease_id, struct kk_ctd **out, kk_error **err);
/* Ends every stream (subscriptions must be closed first), joins the I/O
 * thread of a root client. NULL is accepted. */
void kk_ctd_close(struct kk_ctd *c);
KK_DEFINE_CLEANUP(struct kk_ctd, kk_ctd_close)
#define _cleanup_ctd_ _cleanup_(kk_ctd_closep)

int kk_ctd_version(struct kk_ctd *c, char **version, char **revision, kk_error **err);

/* ---- Namespaces ------------------------------------------------------ */

/* With exist_ok, AlreadyExists is success (labels are then left as they are). */
int kk_ctd_namespace_create(struct kk_ctd *c, const char *name, const char *const *labels,
                            bool exist_ok, kk_error **err);
int kk_ctd_namespace_list(struct kk_ctd *c, char ***names, kk_error **err);
/* Deletes an empty namespace; FailedPrecondition if it still holds things. */
int kk_ctd_namespace_delete(struct kk_ctd *c, const char *name, kk_error **err);
/* Removes everything in the namespace so that it can be deleted: tasks
 * (killed), containers, images, leases, snapshots of every snapshotter in
 * `snapshotters` (NULL: overlayfs and native), content. Idempotent. */
int kk_ctd_namespace_drain(struct kk_ctd *c, const char *name, const char *const *snapshotters,
                           kk_error **err);

/* ---- Content --------------------------------------------------------- */

struct kk_ctd_desc {
    const char *media_type;
    const char *digest; /* "sha256:<hex>" */
    int64_t size;
};

struct kk_ctd_content_info {
    char *digest;
    int64_t size;
    char **labels;
};
void kk_ctd_content_info_clear(struct kk_ctd_content_info *info);

/* NotFound if the blob is not there. info may be NULL (existence check). */
int kk_ctd_content_info(struct kk_ctd *c, const char *ns, const char *digest,
                        struct kk_ctd_content_info *info, kk_error **err);

/* Supplies bytes of the blob being written: fills buf with up to len bytes
 * from `offset` and returns how many (> 0), or < 0 with err set. Called on
 * the client's I/O thread while the writer is blocked in
 * kk_ctd_content_write; it may be asked for the same offset again when a
 * request has to be re-sent. */
typedef long (*kk_ctd_reader)(void *userdata, void *buf, size_t len, int64_t offset,
                              kk_error **err);

/* Writes a blob of `size` bytes whose digest is `digest`, with labels set on
 * commit. Checks Content.Info first: returns 1 (nothing sent) if the blob is
 * already there, 0 once written. Blobs up to one chunk (1 MiB) go as one
 * COMMIT message; larger ones stream in 1 MiB chunks. A write refused at
 * commit (a wrong digest) aborts its ingest; one that was cut short (the
 * ref held by a concurrent writer, containerd restarting, a status lost by
 * libcurl) re-checks Info and is retried a few times. A leftover ingest of
 * the same ref from an earlier run is restarted from offset 0. Safe from
 * several threads at once. `ref` NULL: "kukeon-<digest>". */
int kk_ctd_content_write(struct kk_ctd *c, const char *ns, const char *ref, const char *digest,
                         int64_t size, kk_ctd_reader read, void *userdata,
                         const char *const *labels, kk_error **err);
/* Same, from memory. */
int kk_ctd_content_write_mem(struct kk_ctd *c, const char *ns, const char *ref, const char *digest,
                             const void *data, size_t size, const char *const *labels,
                             kk_error **err);
/* Appends the blob to `out`; OutOfRange if it is larger than `max`. */
int kk_ctd_content_read(struct kk_ctd *c, const char *ns, const char *digest, size_t max,
                        struct kk_buf *out, kk_error **err);
/* Sets the given labels (an empty value removes one) leaving others alone. */
int kk_ctd_content_update_labels(struct kk_ctd *c, const char *ns, const char *digest,
                                 const char *const *labels, kk_error **err);
int kk_ctd_content_delete(struct kk_ctd *c, const char *ns, const char *digest, kk_error **err);
/* Aborts an ingest by ref; NotFound if there is none. */
int kk_ctd_content_abort(struct kk_ctd *c, const char *ns, const char *ref, kk_error **err);
/* Digests of every blob in the namespace. */
int kk_ctd_content_list(struct kk_ctd *c, const char *ns, char ***digests, kk_error **err);

/* ---- Leases ---------------------------------------------------------- */

/* expire_s > 0 sets containerd.io/gc.expire that far in the future. */
int kk_ctd_lease_create(struct kk_ctd *c, const char *ns, const char *id, int expire_s,
                        kk_error **err);
/* sync: run the garbage collector before returning. */
int kk_ctd_lease_delete(struct kk_ctd *c, const char *ns, const char *id, bool sync,
                        kk_error **err);
int kk_ctd_lease_list(struct kk_ctd *c, const char *ns, char ***ids, kk_error **err);

/* ---- Image records --------------------------------------------------- */

struct kk_ctd_image {
    char *name;
    char *media_type; /* of the target */
    char *digest;
    int64_t size;
    char **labels;
};
void kk_ctd_image_clear(struct kk_ctd_image *img);
void kk_ctd_image_list_free(struct kk_ctd_image *v, size_t n);

/* Create, or on AlreadyExists update target and labels. */
int kk_ctd_image_put(struct kk_ctd *c, const char *ns, const char *name,
                     const struct kk_ctd_desc *target, const char *const *labels, kk_error **err);
int kk_ctd_image_get(struct kk_ctd *c, const char *ns, const char *name, struct kk_ctd_image *out,
                     kk_error **err);
/* filter: a containerd filter (e.g. `name~="busybox"`) or NULL for all. */
int kk_ctd_image_list(struct kk_ctd *c, const char *ns, const char *filter,
                      struct kk_ctd_image **out, size_t *n, kk_error **err);
/* sync: collect garbage (content, snapshots) before returning. */
int kk_ctd_image_delete(struct kk_ctd *c, const char *ns, const char *name, bool sync,
                        kk_error **err);

/* ---- Snapshots and diff ---------------------------------------------- */

struct kk_ctd_mount {
    char *type;
    char *source;
    char *target;
    char **options; /* NULL-terminated */
};
struct kk_ctd_mounts {
    struct kk_ctd_mount *v;
    size_t n;
};
void kk_ctd_mounts_clear(struct kk_ctd_mounts *m);

enum kk_ctd_snapshot_kind {
    KK_CTD_SNAPSHOT_UNKNOWN = 0,
    KK_CTD_SNAPSHOT_VIEW = 1,
    KK_CTD_SNAPSHOT_ACTIVE = 2,
    KK_CTD_SNAPSHOT_COMMITTED = 3,
};
struct kk_ctd_snapshot_info {
    char *name;
    char *parent; /* "" for none */
    enum kk_ctd_snapshot_kind kind;
    char **labels;
};
void kk_ctd_snapshot_info_clear(struct kk_ctd_snapshot_info *info);
void kk_ctd_snapshot_list_free(struct kk_ctd_snapshot_info *v, size_t n);

/* snapshotter NULL: overlayfs. parent NULL or "": none. mounts may be NULL. */
int kk_ctd_snapshot_prepare(struct kk_ctd *c, const char *ns, const char *snapshotter,
                            const char *key, const char *parent, const char *const *labels,
                            struct kk_ctd_mounts *mounts, kk_error **err);
int kk_ctd_snapshot_view(struct kk_ctd *c, const char *ns, const char *snapshotter, const char *key,
                         const char *parent, struct kk_ctd_mounts *mounts, kk_error **err);
int kk_ctd_snapshot_mounts(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *key, struct kk_ctd_mounts *mounts, kk_error **err);
int kk_ctd_snapshot_commit(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *name, const char *key, const char *const *labels,
                           kk_error **err);
int kk_ctd_snapshot_stat(struct kk_ctd *c, const char *ns, const char *snapshotter, const char *key,
                         struct kk_ctd_snapshot_info *info, kk_error **err);
int kk_ctd_snapshot_remove(struct kk_ctd *c, const char *ns, const char *snapshotter,
                           const char *key, kk_error **err);
int kk_ctd_snapshot_list(struct kk_ctd *c, const char *ns, const char *snapshotter,
                         struct kk_ctd_snapshot_info **out, size_t *n, kk_error **err);

/* Applies the layer blob `layer` (content in ns) onto `mounts`; *applied
 * (may be NULL) receives the digest of the uncompressed tar (the diffID). */
int kk_ctd_diff_apply(struct kk_ctd *c, const char *ns, const struct kk_ctd_desc *layer,
                      const struct kk_ctd_mounts *mounts, char **applied, kk_error **err);

/* ---- Containers ------------------------------------------------------ */

struct kk_ctd_container_spec {
    const char *id;
    const char *image;
    const char *const *labels;
    const char *runtime;   /* NULL: io.containerd.runc.v2 */
    const char *spec_json; /* OCI runtime spec, sent as an Any */
    size_t spec_len;
    const char *snapshotter; /* NULL: overlayfs */
    const char *snapshot_key;
};

struct kk_ctd_container {
    char *id;
    char *image;
    char *runtime;
    char *snapshotter;
    char *snapshot_key;
    char **labels;
    char *spec_json; /* NUL-terminated copy of the spec */
    size_t spec_len;
};
void kk_ctd_container_clear(struct kk_ctd_container *ctr);
void kk_ctd_container_list_free(struct kk_ctd_container *v, size_t n);

int kk_ctd_container_create(struct kk_ctd *c, const char *ns,
                            const struct kk_ctd_container_spec *spec, kk_error **err);
/* Prepares the container's rootfs snapshot (spec->snapshot_key, on the
 * committed snapshot `parent`, e.g. an image's top chain ID) and creates the
 * container, holding the snapshot with a short lease in between: an active
 * snapshot nothing refers to yet is fair game for the garbage collector.
 * If the create fails, the snapshot is removed again. */
int kk_ctd_container_create_from(struct kk_ctd *c, const char *ns,
                                 const struct kk_ctd_container_spec *spec, const char *parent,
                                 kk_error **err);
int kk_ctd_container_get(struct kk_ctd *c, const char *ns, const char *id,
                         struct kk_ctd_container *out, kk_error **err);
/* filter: e.g. `labels."kukeon.io/cell"=="web"`, or NULL for all. */
int kk_ctd_container_list(struct kk_ctd *c, const char *ns, const char *filter,
                          struct kk_ctd_container **out, size_t *n, kk_error **err);
/* Deletes the record only; see kk_ctd_container_remove_safely. */
int kk_ctd_container_delete(struct kk_ctd *c, const char *ns, const char *id, kk_error **err);
/* Stops and removes a container in the one safe order: SIGTERM to all
 * processes, wait up to stop_timeout_ms, SIGKILL and wait, Tasks.Delete,
 * Containers.Delete, Snapshots.Remove of its snapshot. A missing task,
 * container or snapshot is fine (idempotent). */
int kk_ctd_container_remove_safely(struct kk_ctd *c, const char *ns, const char *id,
                                   int stop_timeout_ms, kk_error **err);

/* ---- Tasks ----------------------------------------------------------- */

enum kk_ctd_task_status {
    KK_CTD_TASK_UNKNOWN = 0,
    KK_CTD_TASK_CREATED = 1,
    KK_CTD_TASK_RUNNING = 2,
    KK_CTD_TASK_STOPPED = 3,
    KK_CTD_TASK_PAUSED = 4,
    KK_CTD_TASK_PAUSING = 5,
};
const char *kk_ctd_task_status_name(enum kk_ctd_task_status s);

struct kk_ctd_task_state {
    uint32_t pid;
    enum kk_ctd_task_status status;
    uint32_t exit_status;
    int64_t exited_at_ns; /* Unix time in ns, 0 if it has not exited */
};

/* Creates the task of container `id`. stdout and stderr are appended to the
 * file `log_path` (absolute) by the shim, so output survives this client;
 * both streams are always set (an empty stderr makes the runc shim panic).
 * rootfs NULL: the container's own snapshot mounts. *pid may be NULL. */
int kk_ctd_task_create(struct kk_ctd *c, const char *ns, const char *id,
                       const struct kk_ctd_mounts *rootfs, const char *log_path, uint32_t *pid,
                       kk_error **err);
int kk_ctd_task_start(struct kk_ctd *c, const char *ns, const char *id, uint32_t *pid,
                      kk_error **err);
int kk_ctd_task_get(struct kk_ctd *c, const char *ns, const char *id,
                    struct kk_ctd_task_state *state, kk_error **err);
int kk_ctd_task_kill(struct kk_ctd *c, const char *ns, const char *id, int signal, bool all,
                     kk_error **err);
/* Blocks until the task exits or timeout_ms passes (KK_E_DEADLINE; <= 0: no
 * limit). Other calls proceed meanwhile: a wait is one more stream on the
 * shared connection. A task that exited already answers at once. If
 * containerd goes away meanwhile: KK_E_UNAVAILABLE (wait again later). */
int kk_ctd_task_wait(struct kk_ctd *c, const char *ns, const char *id, int timeout_ms,
                     uint32_t *exit_status, kk_error **err);
int kk_ctd_task_delete(struct kk_ctd *c, const char *ns, const char *id, uint32_t *exit_status,
                       kk_error **err);
int kk_ctd_task_pause(struct kk_ctd *c, const char *ns, const char *id, kk_error **err);
int kk_ctd_task_resume(struct kk_ctd *c, const char *ns, const char *id, kk_error **err);

/* Decoded from io.containerd.cgroups.v1.Metrics or ...v2.Metrics. A field
 * the payload does not carry is 0. */
struct kk_ctd_metrics {
    int cgroup_version; /* 1 or 2 */
    uint64_t pids_current;
    uint64_t pids_limit;
    uint64_t cpu_usage_ns;
    uint64_t memory_usage;
    uint64_t memory_limit;
    uint64_t memory_rss; /* v1 rss, v2 anon */
};
int kk_ctd_task_metrics(struct kk_ctd *c, const char *ns, const char *id,
                        struct kk_ctd_metrics *out, kk_error **err);

/* ---- Events ---------------------------------------------------------- */

enum kk_ctd_event_kind {
    KK_CTD_EVENT_OTHER = 0,
    KK_CTD_EVENT_TASK_START,
    KK_CTD_EVENT_TASK_EXIT,
    KK_CTD_EVENT_TASK_OOM,
    KK_CTD_EVENT_TASK_PAUSED,
    KK_CTD_EVENT_TASK_RESUMED,
    KK_CTD_EVENT_TASK_DELETE,
    /* The stream was re-established after containerd went away: events may
     * have been missed, so a consumer should resync everything. */
    KK_CTD_EVENT_RESUBSCRIBED,
    /* The stream ended because containerd went away (not because the
     * subscription was closed); RESUBSCRIBED follows when it is back. */
    KK_CTD_EVENT_DISCONNECTED,
};

/* Strings are valid only during the callback. */
struct kk_ctd_event {
    enum kk_ctd_event_kind kind;
    const char *ns;
    const char *topic;
    const char *container_id; /* "" when not a task event */
    const char *exec_id;      /* TaskExit: "" for the init process */
    uint32_t pid;
    uint32_t exit_status;
    int64_t timestamp_ns;
    int64_t exited_at_ns;
};

/* Runs on the client's I/O thread: must be quick and must not call the
 * client (hand the event off to a queue instead). */
typedef void (*kk_ctd_event_fn)(const struct kk_ctd_event *ev, void *userdata);

struct kk_ctd_sub;

/* Subscribes with containerd filters (OR'ed; a comma ANDs within one, e.g.
 * `namespace=="kukeon-main",topic~="/tasks/"`); NULL filters: everything.
 * Returns once the subscription is live (events published afterwards are
 * delivered). The subscription survives containerd restarts: it
 * resubscribes with backoff and then delivers KK_CTD_EVENT_RESUBSCRIBED. */
int kk_ctd_subscribe(struct kk_ctd *c, const char *const *filters, kk_ctd_event_fn fn,
                     void *userdata, struct kk_ctd_sub **out, kk_error **err);
/* Ends the stream; no callback runs after it returns. NULL is accepted. */
void kk_ctd_unsubscribe(struct kk_ctd_sub *sub);

/* ---- Backend interface ------------------------------------------------ */

/* What the agent uses, as function pointers, so it can run against a fake.
 * `self` is the backend's own object (a struct kk_ctd * for the real one). */
struct kk_ctd_ops {
    int (*namespace_create)(void *self, const char *name, const char *const *labels, bool exist_ok,
                            kk_error **err);
    int (*namespace_drain)(void *self, const char *name, kk_error **err);
    int (*namespace_delete)(void *self, const char *name, kk_error **err);
    int (*container_create)(void *self, const char *ns, const struct kk_ctd_container_spec *spec,
                            kk_error **err);
    int (*container_create_from)(void *self, const char *ns,
                                 const struct kk_ctd_container_spec *spec, const char *parent,
                                 kk_error **err);
    int (*container_get)(void *self, const char *ns, const char *id, struct kk_ctd_container *out,
                         kk_error **err);
    int (*container_list)(void *self, const char *ns, const char *filter,
                          struct kk_ctd_container **out, size_t *n, kk_error **err);
    int (*container_remove_safely)(void *self, const char *ns, const char *id, int stop_timeout_ms,
                                   kk_error **err);
    /* Real: the snapshot is held by a lease that expires by itself after
     * two minutes, so that the garbage collector cannot take it before
     * container_create refers to it (or use container_create_from). */
    int (*snapshot_prepare)(void *self, const char *ns, const char *snapshotter, const char *key,
                            const char *parent, kk_error **err);
    int (*task_create)(void *self, const char *ns, const char *id, const char *log_path,
                       uint32_t *pid, kk_error **err);
    int (*task_start)(void *self, const char *ns, const char *id, uint32_t *pid, kk_error **err);
    int (*task_get)(void *self, const char *ns, const char *id, struct kk_ctd_task_state *state,
                    kk_error **err);
    int (*task_kill)(void *self, const char *ns, const char *id, int signal, bool all,
                     kk_error **err);
    int (*task_delete)(void *self, const char *ns, const char *id, uint32_t *exit_status,
                       kk_error **err);
    int (*task_pause)(void *self, const char *ns, const char *id, kk_error **err);
    int (*task_resume)(void *self, const char *ns, const char *id, kk_error **err);
    int (*task_metrics)(void *self, const char *ns, const char *id, struct kk_ctd_metrics *out,
                        kk_error **err);
    int (*subscribe)(void *self, const char *const *filters, kk_ctd_event_fn fn, void *userdata,
                     struct kk_ctd_sub **out, kk_error **err);
    void (*unsubscribe)(void *self, struct kk_ctd_sub *sub);
};

/* The real implementation; pass a struct kk_ctd * as `self`. */
extern const struct kk_ctd_ops kk_ctd_real_ops;

#endif
