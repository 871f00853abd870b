/* Private to agent/: the cell reconciler's working set, shared by cell.c
 * (the state machine) and container.c (spec building, containerd calls).
 *
 * A cell reconcile builds one `struct desired` per container to run (the
 * cell's containers, root first, then standalone containers/<id>.yaml),
 * observes containerd, acts, and fills one status entry per container.
 */
#ifndef KUKEON_AGENT_CELL_H
#define KUKEON_AGENT_CELL_H

#include "agent/events.h"
#include "agent/internal.h"
#include "fsapi/hash.h"

struct desired {
    const struct kk_container *spec; /* borrowed from the loaded specs */
    bool root;
    const char *role; /* "root" or the container id */
    char hash[KK_HASH_SIZE];
    char ctd_id[4 * (KK_NAME_MAX + 1)];
    char *log_path; /* absolute */
    bool restarted; /* its task was restarted by this reconcile */
};

struct cell_ctx {
    struct agent_ctx *a;
    const struct kk_key *key;
    char keystr[KK_KEY_STRLEN];
    char *ns;
    struct res_mem *mem;
    const struct kk_status *prev;
    struct kk_status *st;
    char netns_path[4096];
    char ip[KK_NET_ADDRSTRLEN];
    char *files_dir;   /* hosts, hostname, resolv.conf */
    bool host_network; /* kk_cell_uses_host_network: no netns, veth, IP or ports */
    struct desired *desired;
    size_t n_desired;
    unsigned retry_ms; /* > 0: run again that soon (backoff, images) */
    bool failed;       /* a host operation failed: retry with the queue's backoff */
    bool root_down;    /* the root exited for good: the others stop */
    bool announced;    /* a transition (Stopping) was written mid-reconcile */
    int ctd_code;      /* kk_code of the first containerd call that failed; 0: none */
    bool ctl_seen;     /* a ctl request was consumed: its result must be written */
};

/* cell.c */
/* Appends an event to the cell's events.log (agent/events.h): about the
 * cell, or about container `container` when not NULL. Best effort. */
void agent_cell_event(struct cell_ctx *c, enum kk_event_type type, const char *reason,
                      const char *container, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* container.c */
/* Resolves the image, prepares the snapshot and creates the containerd
 * container of d with its kukeon.io labels. */
int agent_container_create(struct cell_ctx *c, const struct desired *d, kk_error **err);
/* Creates (replacing a stale one) and starts the task of d. */
int agent_task_start_new(struct cell_ctx *c, const struct desired *d, uint32_t *pid,
                         kk_error **err);
/* The published ports of every container, for the firewall. */
int agent_cell_ports(const struct cell_ctx *c, struct kk_fw_port **out, size_t *n, kk_error **err);

#endif
