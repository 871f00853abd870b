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
    struct res_mem *mems;
    struct pending_key *pending; /* test mode */
    size_t n_pending, cap_pending;
    bool scanned;
    int64_t started_at, last_scan_at;
    bool ctd_connected;
    char **ooms; /* "<ns>/<containerd id>" of OOM events not yet seen by a reconcile */
    size_t n_ooms, cap_ooms;
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

#endif
