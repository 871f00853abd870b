/* kukeond, the agent: the filesystem is the API (docs/design.md §2, §3).
 *
 *     struct kk_agent *a;
 *     kk_agent_new(&cfg, &backends, &a, err);  // opens the state tree, default realm/space/stack
 *     kk_agent_start(a, err);                  // workers, containerd events, first full scan
 *     ... for each watcher event: kk_agent_notify_state(a, rel) / kk_agent_notify_inbox(a, name)
 *     kk_agent_free(a);                        // stops workers; containers keep running
 *
 * Flow of one change: a path is classified (fsapi/tree.h) and its resource
 * key enqueued; a worker reconciles the key (one worker per key at a time):
 * loads the spec, observes containerd, cgroups and the network, acts, and
 * writes status.yaml only when it changed. containerd's task events enqueue
 * the owning cell's key; a periodic resync and a rescan on watcher overflow
 * or containerd reconnect are the safety net.
 *
 * Queue keys: "realm", "realm/space", "realm/space/stack",
 * "realm/space/stack/cell" (a standalone container's events enqueue its
 * cell), "_inbox/<file>" for one inbox file, "_owned/<key>" to put back an
 * inbox-owned spec edited in the tree, and "_rescan" for a full scan.
 *
 * Code: dispatch.c routes keys to the reconcilers (parents.c, cell.c,
 * inbox.c), which see only a narrow context (agent/internal.h); agent.c
 * holds the services they call and the life cycle.
 *
 * Test mode: with cfg->workers == 0 no thread is started and nothing is
 * subscribed; enqueued keys wait in a list that kk_agent_run_pending()
 * runs synchronously, so unit tests drive the agent step by step against
 * fake backends.
 *
 * Thread-safety: notify functions may be called from any thread (they only
 * enqueue). kk_agent_free must not race with them.
 */
#ifndef KUKEON_AGENT_AGENT_H
#define KUKEON_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/backends.h"
#include "agent/config.h"

struct kk_agent;

/* cfg and be are copied (be's objects stay the caller's). */
int kk_agent_new(const struct kk_agent_config *cfg, const struct kk_agent_backends *be,
                 struct kk_agent **out, kk_error **err);
/* Starts workers and the containerd event subscription, then runs a full
 * scan (workers > 0 only; the scan is a queued key like any other). */
int kk_agent_start(struct kk_agent *a, kk_error **err);
void kk_agent_free(struct kk_agent *a);
KK_DEFINE_CLEANUP(struct kk_agent, kk_agent_free)

/* The watcher of the main loop (agent/watch.h), told about the agent's own
 * spec writes and removals so they cause no event; NULL to detach. */
struct kk_watch;
void kk_agent_set_watch(struct kk_agent *a, struct kk_watch *w);

/* A path of the state tree (relative to its root) changed. */
void kk_agent_notify_state(struct kk_agent *a, const char *relpath);
/* A file of the inbox appeared, changed or went away (name only). */
void kk_agent_notify_inbox(struct kk_agent *a, const char *name);
/* A full scan: enqueues every inbox file, every resource of the tree, and
 * the cells containerd still runs containers for (orphans are removed by
 * their cell's reconcile once the first full scan has happened). The scan
 * lists directories and asks containerd, so it runs on a worker: this only
 * enqueues it (test mode: scans at once, which only fills the pending
 * list). */
void kk_agent_rescan(struct kk_agent *a);
/* Writes _agent/status.yaml and _agent/metrics.prom (Prometheus textfile
 * collector format, agent/metrics.h); called periodically by the main loop. */
int kk_agent_write_agent_status(struct kk_agent *a, kk_error **err);
/* True once the first full scan was run to the end (nothing queued or
 * running): what was there before is known again (sd_notify READY=1). */
bool kk_agent_converged(struct kk_agent *a);
/* "3 cells ready, 1 pending, containerd up" for sd_notify STATUS=. */
void kk_agent_summary(struct kk_agent *a, char *buf, size_t size);

/* Runs one key now, in this thread; returns the KK_QUEUE_* verdict. */
int kk_agent_reconcile(struct kk_agent *a, const char *key);
/* Test mode: runs pending keys until none is left or max_runs is reached;
 * returns the number run. Delayed keys (backoff) are run only with
 * include_delayed. */
unsigned kk_agent_run_pending(struct kk_agent *a, unsigned max_runs, bool include_delayed);
/* Test mode: whether a key is pending (queued or delayed). */
bool kk_agent_is_pending(struct kk_agent *a, const char *key);
/* Test mode: waits until key is pending to run now (neither delayed nor
 * parked), e.g. woken by another thread such as the puller's; false if it
 * is not within timeout_ms. */
bool kk_agent_wait_pending(struct kk_agent *a, const char *key, unsigned timeout_ms);
/* Whether the key has been reconciled Ready in this run of the agent. */
bool kk_agent_key_ready(struct kk_agent *a, const char *key);

#endif
