/* Status: what the agent observed, written to status.yaml beside a spec.
 *
 * One document per file, of the kind it describes:
 *
 *     apiVersion: v1beta1
 *     kind: Cell
 *     metadata:
 *       name: web
 *     status:
 *       state: Ready
 *       createdAt: 2026-11-23T05:55:02.123Z
 *       ...
 *       containers:
 *         - id: web
 *           state: Ready
 *           pid: 4242
 *
 * One schema serves every kind; fields that do not apply to a kind are
 * simply left unset (and so not written): `ip` and `containers` are a
 * Cell's, `subnet`/`bridge` a Space's, `namespace` a Realm's. A standalone
 * Container's status is an entry of its cell's `containers`.
 *
 * Writer: the agent only. Readers (kuke get, tests, people) must treat an
 * unparseable status file as "unknown", never as a reason to act.
 *
 * Timestamps are nanoseconds since the epoch (0 = unset) and are written as
 * RFC 3339 UTC. createdAt and readyAt are set once (by the writer); the
 * loader does not enforce it.
 */
#ifndef KUKEON_STATUS_H
#define KUKEON_STATUS_H

#include "fsapi/model.h"

enum kk_state {
    KK_STATE_NONE, /* not written */
    KK_STATE_PENDING,
    KK_STATE_READY,
    KK_STATE_STOPPED,
    KK_STATE_PAUSED,
    KK_STATE_PAUSING,
    KK_STATE_FAILED,
    KK_STATE_UNKNOWN,
    /* Transitions the agent writes at once, before the work that takes
     * time (a stop timeout, a teardown); `deadline` says until when. */
    KK_STATE_STOPPING,    /* a stop or restart is under way */
    KK_STATE_TERMINATING, /* the spec was removed; the resource is being deleted */
};
/* The last state: loops over every state end here (not at UNKNOWN). */
#define KK_STATE_LAST KK_STATE_TERMINATING

/* "Pending", ...; "" for KK_STATE_NONE. kk_state_parse: -1 if unknown. */
const char *kk_state_name(enum kk_state state);
int kk_state_parse(const char *name);

/* The last request consumed from a cell's ctl file. */
struct kk_last_control {
    char *verb;   /* "stop", "kill SIGTERM", ... */
    int64_t at;   /* when it was consumed */
    char *result; /* "ok" or an error message */
};

struct kk_container_status {
    char *id;
    int state; /* enum kk_state */
    char *reason;
    char *message;
    char *containerd_id; /* containerdId: <space>_<stack>_<cell>_<container> */
    uint32_t pid;        /* 0 = no task */
    char *image;         /* the normalised reference that runs */
    int64_t exit_code;   /* exitCode: KK_UNSET until the task has exited */
    uint32_t restart_count;
    int64_t started_at, finished_at;
    char *log_path;
    char *observed_generation; /* kk_model_container_hash of what runs */
    int64_t deadline;          /* Stopping: when SIGKILL goes out (0: none) */
    int64_t next_retry_at;     /* nextRetryAt: a backoff's next attempt (0: none) */
};

struct kk_status {
    enum kk_kind kind;
    char *name;    /* metadata.name */
    int state;     /* enum kk_state */
    char *reason;  /* CamelCase code, e.g. WaitingForParent */
    char *message; /* human text */
    int64_t created_at, updated_at, ready_at;
    char *observed_generation; /* kk_model_spec_hash the agent acted on */
    char *cgroup_path;
    bool cgroup_ready;
    struct kk_strv subtree_controllers;
    char *namespace_; /* Realm: the containerd namespace in use */
    char *subnet;     /* Space: the subnet in use */
    char *bridge;     /* Space: the bridge interface */
    char *ip;         /* Cell: its address */
    int64_t deadline; /* Stopping / Terminating: when the stop timeout expires
                         (SIGKILL goes out); 0: none */
    struct kk_last_control last_control;
    struct kk_container_status *containers;
    size_t n_containers;
};

struct kk_status *kk_status_new(enum kk_kind kind, const char *name);
void kk_status_free(struct kk_status *st);
KK_DEFINE_CLEANUP(struct kk_status, kk_status_free)

/* The entry of container `id`, appended (state unset) if absent. An append
 * may move the array: earlier entry pointers are invalid afterwards. */
struct kk_container_status *kk_status_container(struct kk_status *st, const char *id);
/* The entry of container `id`, or NULL. */
const struct kk_container_status *kk_status_find_container(const struct kk_status *st,
                                                           const char *id);

/* Sets the condition of a resource (st) or of one container (cs): state,
 * reason (CamelCase, may be NULL) and message (may be NULL), copied; the
 * previous reason and message are freed. The _error forms take reason and
 * message from err when it has them (err->reason wins over `reason`). */
void kk_status_set(struct kk_status *st, enum kk_state state, const char *reason,
                   const char *message);
void kk_status_set_error(struct kk_status *st, enum kk_state state, const char *reason,
                         const kk_error *err);
void kk_container_status_set(struct kk_container_status *cs, enum kk_state state,
                             const char *reason, const char *message);
void kk_container_status_set_error(struct kk_container_status *cs, enum kk_state state,
                                   const char *reason, const kk_error *err);

/* Writes st as one YAML document (see the top of this file). */
void kk_status_emit(const struct kk_status *st, struct kk_buf *out);
/* Loads a status document; unknown fields are errors, as for manifests.
 * Returns 0, or -1 with *err (KK_E_INVALID plus diagnostics when the content
 * is wrong). */
int kk_status_load_buffer(const char *file, const char *data, size_t len, struct kk_status **out,
                          struct kk_diags *diags, kk_error **err);
int kk_status_load_fd(int fd, const char *file, struct kk_status **out, struct kk_diags *diags,
                      kk_error **err);

#endif
