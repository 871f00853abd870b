/* Leases: holding things that already exist (see lease.c for why). */
#ifndef KUKEON_IMAGE_LEASE_H
#define KUKEON_IMAGE_LEASE_H

#include "fsapi/error.h"
#include "runtime/containerd/containerd.h"

/* Adds resource `id` of `type` ("content" with a digest, or
 * "snapshots/<snapshotter>" with a snapshot key) to lease `lease` in ns.
 * Idempotent. */
int kk_image_lease_add(struct kk_ctd *c, const char *ns, const char *lease, const char *type,
                       const char *id, kk_error **err);

#endif
