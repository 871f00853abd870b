/* The per-cell /etc/hosts, /etc/hostname and /etc/resolv.conf.
 *
 * kk_net_write_cell_files writes the three files into one directory of the
 * cell (the agent bind-mounts each over the container's /etc/<file>, like
 * Docker and podman do), atomically, so a container starting meanwhile sees
 * a complete file.
 *
 * resolv.conf policy: the host's resolv.conf minus loopback nameservers
 * (127.0.0.0/8, ::1, 0.0.0.0 — e.g. systemd-resolved's 127.0.0.53 stub,
 * unreachable from the cell's namespace); if that leaves none, the
 * fallback file (systemd-resolved's list of upstream servers) the same way;
 * if still none, no nameserver line at all, with a comment saying why: the
 * cell's resolver then fails fast instead of querying a host it cannot
 * reach or a public server the operator never chose. search/domain/options
 * lines are kept; at most 3 nameservers (glibc's MAXNS).
 */
#ifndef KUKEON_NET_HOSTS_H
#define KUKEON_NET_HOSTS_H

#include "fsapi/buf.h"
#include "fsapi/error.h"

#define KK_NET_HOSTS_ALIASES_MAX    64
#define KK_NET_HOST_RESOLV          "/etc/resolv.conf"
#define KK_NET_HOST_RESOLV_UPSTREAM "/run/systemd/resolve/resolv.conf"

struct kk_net_hosts_spec {
    const char *hostname; /* the cell name (a valid DNS label) */
    const char *ip;       /* the cell's IPv4 address */
    /* NULL-terminated extra names for ip (container names, aliases), or
     * NULL. Each a hostname of [A-Za-z0-9.-], at most 253 chars; at most
     * KK_NET_HOSTS_ALIASES_MAX; duplicates are dropped. */
    const char *const *aliases;
    const char *host_resolv;     /* NULL: KK_NET_HOST_RESOLV */
    const char *upstream_resolv; /* NULL: KK_NET_HOST_RESOLV_UPSTREAM */
};

/* Appends the content of each file to out (pure, for tests and previews). */
int kk_net_render_hosts(const struct kk_net_hosts_spec *spec, struct kk_buf *out, kk_error **err);
void kk_net_render_hostname(const struct kk_net_hosts_spec *spec, struct kk_buf *out);
/* Filters resolv.conf text `host` (upstream may be NULL); see above. */
void kk_net_render_resolv(const char *host, const char *upstream, struct kk_buf *out);

/* Writes <dir>/hosts, <dir>/hostname and <dir>/resolv.conf (mode 0644),
 * creating dir if needed. Idempotent. A missing host resolv.conf counts as
 * one without nameservers. */
int kk_net_write_cell_files(const char *dir, const struct kk_net_hosts_spec *spec, kk_error **err);

#endif
