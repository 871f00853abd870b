/* Private to the agent's own files (agent.c: services and life cycle,
 * dispatch.c: routing, the queue callback, events and scans, status-io.c:
 * the agent's status file): the agent object. Reconcilers do not include
 * this: they get a struct agent_ctx (agent/internal.h), the first member
 * of the agent, and reach the rest only through the services.
 */
#ifndef KUKEON_AGENT_AGENT_PRIVATE_H
#define KUKEON_AGENT_AGENT_PRIVATE_H

#include <stddef.h>

#include "agent/internal.h"
#include "fsapi/hashmap.h"

/* The state tree's last write that failed (a full or read-only disk), for
 * _agent/status.yaml and the converged check. */
struct write_fault {
    bool failing;    /* no write went through since `path` failed */
    char path[256];  /* relative to the state root */
    char error[256]; /* the error's message */
    int errnum;      /* its errno (ENOSPC, EROFS, ...), 0 if none */
    int64_t at_ns;   /* wall clock of the failure */
    unsigned count;  /* failed writes since the last one that went through */
};

/* Test mode's list of keys to run (workers == 0). */
struct pending_key {
    char *key;
    bool delayed;
    bool parked;
};

struct kk_agent {
    struct agent_ctx ctx;   /* first: what reconcilers see */
    struct kk_queue *queue; /* NULL in test mode */
    struct kk_ctd_sub *sub;
    struct kk_watch *watch;    /* may be NULL (tests) */
    pthread_mutex_t lock;      /* mems, pending, the fields below */
    pthread_cond_t pending_cv; /* test mode: a key was added to pending */
    pthread_mutex_t cg_lock;
    struct kk_hashmap mems;      /* key -> struct res_mem * */
    struct pending_key *pending; /* test mode */
    size_t n_pending, cap_pending;
    bool scanned;
    int64_t started_at, last_scan_at;
    bool ctd_connected;
    bool ctd_stream_up; /* the event subscription is live (connected follows it) */
    char **ooms;        /* "<ns>/<containerd id>" of OOM events not yet seen by a reconcile */
    size_t n_ooms, cap_ooms;
    struct write_fault wfault;
};

/* The agent a context belongs to. */
static inline struct kk_agent *agent_of(struct agent_ctx *c)
{
    return (struct kk_agent *)(void *)((char *)c - offsetof(struct kk_agent, ctx));
}

/* agent.c */
/* Test mode: adds key to the pending list (or updates its flags). */
void agent_pending_add(struct kk_agent *a, const char *key, bool delayed, bool parked);
struct pending_key *agent_pending_find(struct kk_agent *a, const char *key);
/* Records whether containerd's event stream is up (status, metrics). */
void agent_set_ctd_connected(struct kk_agent *a, bool up);

/* Writes to the state tree that fail for want of space or write access.
 * agent_note_write records the outcome of one write of `rel` (err NULL: it
 * went through): the first failure is logged as a warning, the first
 * success after failures as "writes go through again". Thread-safe. (For
 * reconcilers, which see only struct agent_ctx, this belongs in
 * agent/internal.h; the writers are agent_status_write, write_spec and
 * write_report.) */
/* Whether the last write failed and none went through since: the agent is
 * not converged then, whatever its queue says. */
bool agent_writes_failing(struct kk_agent *a);
/* Adds "lastWriteError: {path, error, at}" to the status mapping of
 * _agent/status.yaml while writes are failing; nothing otherwise. */
void agent_write_fault_emit(struct kk_agent *a, struct kk_ytree *t, struct kk_ynode *status);
/* Writes _agent/status.yaml (or another small file of the agent's own,
 * `rel`) if it changed. When the atomic write cannot get space (ENOSPC,
 * EDQUOT), the new content is written in place over the old file if it
 * fits in what that file already occupies (padded with newlines, which
 * YAML ignores, so no block is allocated and nothing is truncated): a full
 * disk can then still be reported in the file that reports it. Returns 1
 * if written, 0 if unchanged, < 0 on error. */
int agent_write_own_file(struct kk_agent *a, const char *rel, const void *data, size_t len,
                         kk_error **err);

#endif
