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
 *                                            (Pending ... Unknown)
 *   kukeon_container_restarts_total          counter: restarts by policy
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
};

struct kk_metrics {
    pthread_mutex_t lock;
    struct kk_metrics_values v;
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
