/* The agent's Prometheus metrics, as a node_exporter textfile-collector
 * file. The caller chooses the path; kukeond's is <state>/_agent/metrics.prom.
 *
 *     struct kk_metrics m;
 *     kk_metrics_init(&m, time(NULL));
 *     kk_metrics_observe_reconcile(&m, 0.012, true);    // a worker, per key run
 *     kk_metrics_add_restart(&m);                       // restart policy fired
 *     kk_metrics_event(&m, now);                        // inotify or containerd event
 *     kk_metrics_set_containerd_up(&m, false);          // connection lost
 *     kk_metrics_set_resources(&m, counts);             // after a status pass
 *     kk_metrics_write(&m, "/opt/kukeon/_agent/metrics.prom", err);
 *     kk_metrics_destroy(&m);
 *
 * Exposed series (all present from the first write, zeros included, so a
 * dashboard never sees a series appear out of nothing):
 *
 *   kukeon_resources{kind,state}             gauge: resources of each kind
 *                                            (realm ... container) by state
 *                                            (Pending ... Terminating);
 *                                            Container counts come from
 *                                            kk_metrics_set_cell
 *   kukeon_build_info{version}               gauge: always 1
 *   kukeon_restarts_total                    counter: restarts by policy, all
 *                                            containers (was
 *                                            kukeon_container_restarts_total
 *                                            without labels)
 *   per container, labelled {realm,space,stack,cell,container}, for the
 *   containers of the cells reconciled in this run (kk_metrics_set_cell):
 *   kukeon_container_restarts_total          counter: its restartCount
 *   kukeon_container_cpu_seconds_total       counter: CPU time of its cgroup
 *   kukeon_container_memory_bytes            gauge: memory charged to it
 *   kukeon_container_oom_kills_total         counter: OOM kills in it
 *   (the last three read from the container's cgroup files when the file is
 *   rendered -- v2 cpu.stat, memory.current, memory.events; v1
 *   cpuacct.usage, memory.usage_in_bytes, memory.oom_control -- and left
 *   out when the cgroup is gone)
 *   kukeon_reconcile_duration_seconds        histogram: one key reconciled
 *   kukeon_reconcile_errors_total            counter: reconciles that failed
 *   kukeon_events_total                      counter: watcher + containerd events
 *   kukeon_last_event_timestamp_seconds      gauge: unix time of the last one
 *                                            (0 before any)
 *   kukeon_containerd_up                     gauge: 1 connected, 0 not
 *   kukeon_agent_start_time_seconds          gauge: unix time kukeond started
 *
 * The file holds no sample timestamps (the textfile collector rejects them)
 * and ends with a newline. kk_metrics_write replaces it atomically
 * (fsapi/atomic.h: temp file, fsync, rename), so node_exporter never reads
 * half a file; point --collector.textfile.directory at <state>/_agent, or
 * set --metrics-file to a file in node_exporter's directory.
 *
 * Thread-safety: every function locks the struct's mutex; workers, the
 * event thread and the writer may call them concurrently. kk_metrics_render
 * works on a consistent snapshot.
 */
#ifndef KUKEON_AGENT_METRICS_H
#define KUKEON_AGENT_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"
#include "fsapi/model.h"
#include "fsapi/status.h"

/* Upper bounds (seconds) of the reconcile histogram's buckets; +Inf is
 * implicit. From a no-op reconcile (~1 ms) to an image unpack (tens of s). */
#define KK_METRICS_BUCKETS                                                                         \
    {                                                                                              \
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60                     \
    }
#define KK_METRICS_NBUCKETS 14
/* States counted per kind: enum kk_state without KK_STATE_NONE. */
#define KK_METRICS_NSTATES KK_STATE_LAST

/* One container of a cell, as its cell's reconcile last saw it. */
struct kk_metrics_container {
    char *cell; /* the cell's key, "realm/space/stack/cell" */
    char *id;   /* the container's id */
    int state;  /* enum kk_state */
    uint32_t restarts;
    char *memory_dir; /* absolute: the directory of its memory cgroup
                         (v1 memory hierarchy, or the v2 cgroup); NULL: none */
    char *cpu_dir;    /* absolute: its cpuacct (v1) or v2 cgroup; NULL: none */
};

/* What one render reads from a container's cgroup; has_*: the file was read. */
struct kk_metrics_usage {
    bool has_cpu, has_memory, has_oom;
    double cpu_seconds;
    uint64_t memory_bytes;
    uint64_t oom_kills;
};

/* The numbers, without the lock: what one render shows. */
struct kk_metrics_values {
    uint64_t resources[KK_KIND_COUNT][KK_METRICS_NSTATES]; /* [kind][state - 1] */
    uint64_t restarts;
    uint64_t reconcile_buckets[KK_METRICS_NBUCKETS + 1]; /* per bucket, not cumulative; +Inf last */
    uint64_t reconcile_count;
    double reconcile_sum_s;
    uint64_t reconcile_errors;
    uint64_t events;
    time_t last_event;
    bool containerd_up;
    time_t start_time;
    /* Per container (borrowed by a render), and what its cgroup said. */
    const struct kk_metrics_container *containers;
    const struct kk_metrics_usage *usage; /* NULL: nothing read */
    size_t n_containers;
};

struct kk_metrics {
    pthread_mutex_t lock;
    struct kk_metrics_values v;
    struct kk_metrics_container *containers; /* owned; v.containers is unset */
    size_t n_containers;
};

void kk_metrics_init(struct kk_metrics *m, time_t start_time);
void kk_metrics_destroy(struct kk_metrics *m);

/* Replaces every resource count at once (a snapshot of one status pass):
 * counts[kind][state - 1] for state in KK_STATE_PENDING..KK_STATE_LAST. */
void kk_metrics_set_resources(struct kk_metrics *m,
                              const uint64_t counts[KK_KIND_COUNT][KK_METRICS_NSTATES]);
/* Adds one resource to a counts array (a helper for building the snapshot);
 * a state of KK_STATE_NONE (no status yet) counts as Pending, an unknown
 * kind or state is ignored. */
void kk_metrics_count(uint64_t counts[KK_KIND_COUNT][KK_METRICS_NSTATES], enum kk_kind kind,
                      int state);

/* One reconcile of one key took `seconds` (negative or NaN counts as 0). */
void kk_metrics_observe_reconcile(struct kk_metrics *m, double seconds, bool ok);
void kk_metrics_add_restart(struct kk_metrics *m);
void kk_metrics_event(struct kk_metrics *m, time_t when);
void kk_metrics_set_containerd_up(struct kk_metrics *m, bool up);

/* Replaces the containers of the cell `cell` (a key) with v[0..n) (copied;
 * n == 0 forgets the cell, as when it is deleted). Their states add to
 * kukeon_resources{kind="Container"}. */
void kk_metrics_set_cell(struct kk_metrics *m, const char *cell,
                         const struct kk_metrics_container *v, size_t n);

/* Reads a container's usage from its cgroup directories (pure I/O on
 * cgroupfs, never a write; a missing file leaves its has_* false). */
void kk_metrics_read_usage(const struct kk_metrics_container *c, struct kk_metrics_usage *out);

/* Appends the Prometheus text exposition (format 0.0.4) of a consistent
 * snapshot of `m` to `out`. */
void kk_metrics_render(struct kk_metrics *m, struct kk_buf *out);
/* The same from plain values (pure: no lock, no clock). */
void kk_metrics_render_values(const struct kk_metrics_values *v, struct kk_buf *out);

/* Renders and atomically replaces the file at `path` (absolute). Its
 * directory is created (one level, 0755) if missing. The directory is the
 * trusted root of the write: the final name must not be a symlink. */
int kk_metrics_write(struct kk_metrics *m, const char *path, kk_error **err);

#endif
