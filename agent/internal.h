/* Private to agent/: what the reconcilers (parents.c, inbox.c, cell.c)
 * see of the agent -- a narrow context and the services it offers -- and
 * the memory they share. The agent object itself, the queue and the scans
 * are the dispatch's (agent/agent-private.h, agent.c, dispatch.c).
 *
 * Memory of the agent (struct res_mem, one per resource key seen): whether
 * the resource was reconciled Ready in this run (children wait for it), a
 * realm's containerd namespace, and a cell's sticky ctl state and per
 * container restart bookkeeping. The table is guarded by the agent's lock; the
 * fields of one entry are touched only by the worker that holds its key
 * (the queue runs one worker per key), except `ready`, `state` and `ns`,
 * which other threads read: those are only touched under the lock.
 *
 * Nothing here is the source of truth: after a restart the agent rebuilds
 * it from the tree (specs, status.yaml) and containerd (labels, tasks).
 */
#ifndef KUKEON_AGENT_INTERNAL_H
#define KUKEON_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/metrics.h"
#include "agent/puller.h"
#include "agent/queue.h"
#include "fsapi/contract.h"
#include "fsapi/status.h"
#include "fsapi/tree.h"

#define KK_AGENT_VERSION KUKEON_VERSION
#define INBOX_KEY_PREFIX "_inbox/"
#define RESCAN_KEY       "_rescan"
/* "_owned/<key>": a spec of the tree changed; if an inbox file owns it,
 * that file is applied again (off the main loop: it parses YAML). */
#define OWNED_KEY_PREFIX "_owned/"
#define IMAGE_RETRY_MS   5000
/* An inbox file missing for less than this is an editor's save in flight
 * (vim renames web.yaml to web.yaml~ and writes a new one), not a removal. */
#define INBOX_REMOVE_GRACE_MS 500
#define OOM_PENDING_MAX       1024

struct ctr_mem {
    char id[KK_NAME_MAX + 1];
    uint32_t restart_count;
    int64_t backoff_until_ms; /* CLOCK_MONOTONIC ms; 0: no restart pending */
    int64_t started_at;       /* wall ns of the pid below */
    uint32_t pid;
    int64_t finished_at;
    bool oom; /* containerd reported an OOM kill of the current task */
};

struct res_mem {
    char key[KK_KEY_STRLEN];
    bool ready;
    int state; /* enum kk_state last written */
    char *ns;  /* realms: the containerd namespace in use */
    /* cells */
    bool loaded; /* sticky state and counters read from status.yaml */
    bool stopped, paused;
    int64_t stop_sent_ms; /* when SIGTERM went out (monotonic ms), 0: none */
    struct ctr_mem *ctrs;
    size_t n_ctrs;
    /* consecutive reconciles that met a containerd failure, and when the
     * first did (monotonic ms): agent_cell_hold_error's count */
    unsigned ctd_fail_tries;
    int64_t ctd_fail_since_ms;
    /* inbox keys: when the file was first found missing (monotonic ms), 0
     * while it is there */
    int64_t inbox_missing_ms;
};

/* What a reconciler may use of the agent: configuration, backends, the
 * state tree, and the services declared below. The dispatch state (the
 * queue, the memory list, scans; agent/agent-private.h) is not in it. */
struct agent_ctx {
    struct kk_agent_config cfg;
    struct kk_agent_backends be;
    int rootfd;                /* the state tree */
    struct kk_puller *puller;  /* NULL without a registry backend */
    struct kk_metrics metrics; /* thread-safe on its own */
    /* Orders a spec written from the inbox against the removal of its
     * resource's directory by a delete that began before the write. */
    pthread_mutex_t spec_lock;
    /* Which inbox file owns each spec and which keys each file defines
     * (agent/inbox-index.h); filled by agent_inbox_ensure_defaults. */
    struct agent_inbox_index *inbox_index;
};

/* ---- services to reconcilers (agent.c, status-io.c) ---------------------- */

/* The agent's clock (be.clock): real time in ns, monotonic time in ms. */
int64_t agent_now_ns(const struct agent_ctx *a);
int64_t agent_mono_ms(const struct agent_ctx *a);
/* Runs key (again) on a worker: now, or no later than ms from now. */
void agent_enqueue(struct agent_ctx *a, const char *key);
void agent_enqueue_after(struct agent_ctx *a, const char *key, unsigned ms);
/* Test mode (cfg.workers == 0): keys are run by hand, so no grace period
 * is waited for. */
bool agent_test_mode(const struct agent_ctx *a);
/* The memory of key, created if absent; never NULL. */
struct res_mem *agent_mem(struct agent_ctx *a, const char *key);
void agent_mem_drop(struct agent_ctx *a, const char *key);
void agent_set_ready(struct agent_ctx *a, const char *key, bool ready);
/* Whether the key has been reconciled Ready in this run of the agent. */
bool agent_key_ready(struct agent_ctx *a, const char *key);
/* The state last written to key's status.yaml in this run (KK_STATE_NONE:
 * none yet). */
void agent_set_state(struct agent_ctx *a, const char *key, int state);
int agent_get_state(struct agent_ctx *a, const char *key);
/* The containerd namespace of realm (owned by the caller): the realm's
 * reconciled namespace, else its status.yaml's, else prefix + realm. */
char *agent_realm_ns(struct agent_ctx *a, const char *realm);
/* Records the namespace a realm's reconcile settled on. */
void agent_set_realm_ns(struct agent_ctx *a, const char *realm, const char *ns);
/* Records a containerd error: KK_E_UNAVAILABLE marks the connection down
 * (in _agent/status.yaml and the metrics) until a call goes through again
 * (agent_note_ctd_ok) with the event stream live. */
void agent_note_ctd_error(struct agent_ctx *a, const kk_error *err);
/* A containerd call succeeded: `connected` is true again if the event
 * stream is live (one failed call, e.g. a stream reset by containerd, does
 * not leave the agent reporting containerd down while the stream is up). */
void agent_note_ctd_ok(struct agent_ctx *a);
/* containerd's /tasks/oom, kept until the container's reconcile takes it
 * (at most OOM_PENDING_MAX remembered). */
void agent_note_oom(struct agent_ctx *a, const char *ns, const char *ctd_id);
bool agent_take_oom(struct agent_ctx *a, const char *ns, const char *ctd_id);
/* Whether the key's directory holds child resource directories. */
bool agent_has_children(struct agent_ctx *a, const struct kk_key *key);
/* Tells the watcher (if any) about the agent's own write or removal of a
 * spec, so that it causes no event. */
void agent_note_self_write(struct agent_ctx *a, const char *rel, const void *data, size_t len);
void agent_note_self_remove(struct agent_ctx *a, const char *rel);
/* The outcome of one write of `rel` to the state tree (err NULL: it went
 * through), for _agent/status.yaml's lastWriteError and the converged
 * check (agent.c). */
void agent_note_write(struct agent_ctx *a, const char *rel, const kk_error *err);

void agent_status_set_cgroup(struct kk_status *st, const struct kk_cg_status *cs,
                             enum kk_cg_mode mode);
/* cgroup calls serialised on one lock (struct kk_cg is not thread-safe);
 * ensure fills st's cgroup fields when st is not NULL. */
int agent_cg_ensure(struct agent_ctx *a, const struct kk_cg_ref *ref, unsigned flags,
                    struct kk_status *st, kk_error **err);
int agent_cg_remove(struct agent_ctx *a, const struct kk_cg_ref *ref, kk_error **err);

/* status-io.c */
/* The status of key as last written, or NULL (missing or unparseable:
 * never a reason to act). */
struct kk_status *agent_status_load(struct agent_ctx *a, const struct kk_key *key);
/* Writes st if it differs from the file, keeping createdAt/readyAt of prev
 * and stamping updatedAt only on a change. Returns 1 written, 0 unchanged.
 * Only the file: the caller records the state in memory (agent_set_state). */
int agent_status_write(struct agent_ctx *a, const struct kk_key *key, struct kk_status *st,
                       const struct kk_status *prev, kk_error **err);
/* Loads the spec of key from the tree: 1 loaded, 0 absent, < 0 invalid. */
int agent_spec_load(struct agent_ctx *a, const struct kk_key *key, struct kk_resource **out,
                    kk_error **err);

/* ---- reconcilers, called by dispatch.c only ------------------------------ */

/* parents.c */
int agent_reconcile_realm(struct agent_ctx *a, const struct kk_key *key);
int agent_reconcile_space(struct agent_ctx *a, const struct kk_key *key);
int agent_reconcile_stack(struct agent_ctx *a, const struct kk_key *key);
/* 1 if the parent was reconciled Ready in this run; 0 if it is not (st is
 * set to Pending/WaitingForParent); -1 if its spec exists but it has not
 * been reconciled yet in this run (park without writing status). */
int agent_parent_ready(struct agent_ctx *a, const struct kk_key *key, struct kk_status *st);

/* cell.c */
int agent_reconcile_cell(struct agent_ctx *a, const struct kk_key *key);

/* inbox.c */
int agent_reconcile_inbox(struct agent_ctx *a, const char *name);
/* Ensures default/, default/default/, default/default/default/ specs. */
int agent_inbox_ensure_defaults(struct agent_ctx *a, kk_error **err);

/* ---- appended (restart without flapping, orphans) ---------------------- */

/* dispatch.c: whether key was reconciled Ready in this run and the state
 * last written to its status.yaml, read together under the agent's lock.
 * One snapshot matters: a parent's reconcile publishes ready before state,
 * so two separate reads can see "not ready" and then "state written" and
 * take the pair for a parent found not Ready in this run. */
void agent_key_readiness(struct agent_ctx *a, const char *key, bool *ready, int *state);

#endif
