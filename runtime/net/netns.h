/* Named network namespaces: bind mounts of an nsfs file (internal).
 *
 * Like `ip netns`, but every path is a parameter: a namespace is kept alive
 * by a bind mount of /proc/thread-self/ns/net onto an empty file, so it
 * outlives every process in it and anyone can enter it with
 * `nsenter --net=<path>` or setns(2).
 *
 * The calling thread never changes namespace: the unshare/setns happens in
 * a short-lived helper thread, which opens an rtnetlink socket there before
 * it ends. The socket stays bound to the namespace, so the caller configures
 * the namespace from outside.
 */
#ifndef KUKEON_NET_NETNS_H
#define KUKEON_NET_NETNS_H

#include <stdbool.h>

#include "fsapi/error.h"
#include "runtime/net/nl.h"

struct kk_netns {
    int fd;          /* the namespace (nsfs), for IFLA_NET_NS_FD */
    struct kk_nl nl; /* rtnetlink inside it */
};

#define KK_NETNS_INIT                                                                              \
    {                                                                                              \
        .fd = -1, .nl = { 0 }                                                                      \
    }

/* Makes dir (created if missing) a shared mount point, as iproute2 does for
 * /run/netns, so namespace mounts and unmounts under it propagate to mount
 * namespaces created later (containers, private-/tmp services) instead of
 * pinning deleted namespaces there. Idempotent. */
int kk_netns_prepare_dir(const char *dir, kk_error **err);

/* Opens the namespace mounted at path, creating and mounting it first if
 * there is none (an empty leftover file from a crash is reused). *created
 * (may be NULL) tells which. */
int kk_netns_ensure(const char *path, struct kk_netns *out, bool *created, kk_error **err);
/* Unmounts and unlinks path; absent is fine. The namespace itself dies when
 * its last user (a process, an fd) is gone. */
int kk_netns_remove(const char *path, kk_error **err);
/* True if path is a mounted namespace. */
bool kk_netns_mounted(const char *path);
void kk_netns_close(struct kk_netns *ns);

#endif
