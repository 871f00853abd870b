/* Image pulls off the reconcile path (issue 6: "a failed pull retries with
 * backoff and never blocks other cells").
 *
 * A reconcile that needs an image asks kk_puller_need(). The first request
 * for (namespace, reference) starts a pull on a thread of its own and
 * answers "in progress" (an error with reason PullingImage): the reconcile
 * reports the cell Pending/PullingImage and returns, freeing its worker.
 * When the pull ends, every key that asked meanwhile is handed to `wake`
 * (the agent enqueues it again); its next kk_puller_need() answers:
 *
 *   0                      the image is there: go on (resolve, create);
 *   -1, reason PullingImage  still pulling (code KK_E_UNAVAILABLE);
 *   -1, reason ImagePullFailed  the pull failed, with the registry's message.
 *      A failure is remembered for KK_PULLER_FAIL_HOLD_MS, doubled with each
 *      consecutive failure of the same image up to
 *      KK_PULLER_FAIL_HOLD_MAX_MS (kk_puller_retry_in_ms says how long is
 *      left; the agent reports ImagePullBackOff meanwhile); a request after
 *      that starts a new pull. Each attempt is one line of the log.
 *
 * Policies: IfNotPresent and Never are the caller's business before it asks
 * (it asks only when the image is missing; Never never asks). Always asks
 * before every container create: a pull that succeeded less than
 * KK_PULLER_ALWAYS_FRESH_MS ago counts as fresh, so one pull serves every
 * container of a cell (and cells created together) instead of one each.
 *
 * At most KK_PULLER_MAX_ENTRIES images are remembered: past that, the
 * finished pulls that ended longest ago are forgotten (their next request
 * pulls again); running ones never are.
 *
 * Time (the hold, freshness) comes from the puller's clock: the system's
 * unless kk_puller_set_clock gave another (tests: a fake clock).
 *
 * Thread-safety: kk_puller_need may be called from any worker. `wake` runs
 * on a pull thread. kk_puller_free joins every pull thread; it must not
 * race with kk_puller_need. kk_puller_set_clock comes before the first
 * kk_puller_need.
 */
#ifndef KUKEON_AGENT_PULLER_H
#define KUKEON_AGENT_PULLER_H

#include <stddef.h>

#include "fsapi/clock.h"
#include "fsapi/model.h"
#include "runtime/registry/registry.h"

#define KK_PULLER_FAIL_HOLD_MS     2000
#define KK_PULLER_FAIL_HOLD_MAX_MS (5 * 60 * 1000)
#define KK_PULLER_ALWAYS_FRESH_MS  30000
#define KK_PULLER_MAX_ENTRIES      1024

struct kk_puller;

typedef void (*kk_puller_wake_fn)(void *userdata, const char *key);

/* ops/self: the registry backend; ctd: the containerd client pulls write
 * into (passed through to ops). */
struct kk_puller *kk_puller_new(const struct kk_registry_ops *ops, void *self, struct kk_ctd *ctd,
                                kk_puller_wake_fn wake, void *userdata);
void kk_puller_free(struct kk_puller *p);
KK_DEFINE_CLEANUP(struct kk_puller, kk_puller_free)

/* The clock for holds, freshness and pull timings; NULL (the default) is
 * the system clock. The clock must outlive the puller. */
void kk_puller_set_clock(struct kk_puller *p, const struct kk_clock *clock);

/* See the top of this file. creds (the realm's registryCredentials) are
 * copied; `key` is what to wake when the pull ends. */
int kk_puller_need(struct kk_puller *p, const char *ns, const char *ref, enum kk_pull_policy policy,
                   const struct kk_registry_credential *creds, size_t n_creds, const char *key,
                   kk_error **err);

/* Milliseconds until the failed pull of (ns, ref) may be tried again; 0
 * when it is not held (never failed, running, done, or the hold is over). */
unsigned kk_puller_retry_in_ms(struct kk_puller *p, const char *ns, const char *ref);

/* The last successful pull of (ns, ref): 1 with *took_ms when the image
 * came from the registry, 0 when it was present already, -1 when there is
 * no successful pull on record. */
int kk_puller_last_pull(struct kk_puller *p, const char *ns, const char *ref, int64_t *took_ms);

#endif
