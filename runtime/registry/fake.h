/* An in-memory registry backend for the agent's unit tests: no network, no
 * containerd. Use it through kk_registry_fake_ops with the fake as `self`.
 *
 *     struct kk_registry_fake *f = kk_registry_fake_new();
 *     kk_registry_fake_add(f, "docker.io/library/busybox:latest");  // in the "registry"
 *     agent_opts.registry_ops = &kk_registry_fake_ops;
 *     agent_opts.registry = f;
 *
 * It follows the real backend's observable rules: references are
 * normalised and checked the same way; images a pull brought are then
 * present (per namespace); IfNotPresent and Never do not ask the registry
 * when the image is present; Never fails with NotFound when it is not;
 * an image the registry lacks fails with NotFound; every failure carries
 * reason ImagePullFailed. The containerd client passed in is ignored.
 * Thread-safe (the agent pulls from several workers).
 */
#ifndef KUKEON_REGISTRY_FAKE_H
#define KUKEON_REGISTRY_FAKE_H

#include <stdbool.h>

#include "runtime/registry/registry.h"

struct kk_registry_fake;

struct kk_registry_fake *kk_registry_fake_new(void);
void kk_registry_fake_free(struct kk_registry_fake *f);
KK_DEFINE_CLEANUP(struct kk_registry_fake, kk_registry_fake_free)

/* Makes ref (normalised) available from the fake registry. */
void kk_registry_fake_add(struct kk_registry_fake *f, const char *ref);
/* The next `n` pulls fail with code and message (e.g. Unavailable, to test
 * the agent's backoff), then pulls work again. */
void kk_registry_fake_fail_next(struct kk_registry_fake *f, unsigned n, kk_code code,
                                const char *message);
/* Whether ref is present in namespace ns (pulled before). */
bool kk_registry_fake_present(struct kk_registry_fake *f, const char *ns, const char *ref);
/* How many times the registry was asked (pull attempts, failed ones too). */
unsigned kk_registry_fake_pulls(struct kk_registry_fake *f);

extern const struct kk_registry_ops kk_registry_fake_ops;

#endif
