/* A private containerd for root tests.
 *
 *     struct kt_ctd *ctd = NULL;
 *     if (kt_ctd_start(&ctd, &err) < 0) ...
 *     ... talk to ctd->address, run containers with
 *         linux.cgroupsPath = "/<ctd->cgroup_parent>/<id>" ...
 *     kt_ctd_destroy(ctd);
 *
 * The daemon runs from a fresh temporary directory (config.toml version 2,
 * root, state, gRPC and ttrpc sockets, opt dir; CRI disabled), so it never
 * touches a system containerd. kt_ctd_destroy leaves nothing behind, also
 * after a failed test: it stops containerd by pid, kills the containers'
 * init processes and the shims this containerd started (found through the
 * state directory: init.pid files, and the processes whose working
 * directory is a task bundle there — never by name), unmounts everything
 * under the temporary directory (from /proc/self/mountinfo), removes the
 * cgroup_parent directories in every cgroup hierarchy and the temporary
 * directory. kt_ctd_leftovers reports anything that is still there.
 *
 * Depends on fsapi only (it is linked into every test binary). Not
 * thread-safe; one fixture per test case is the intended use.
 */
#ifndef KUKEON_CONTAINERD_FIXTURE_H
#define KUKEON_CONTAINERD_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include "fsapi/buf.h"
#include "fsapi/error.h"

struct kt_ctd {
    char *dir;           /* the temporary directory, /var/tmp/kkctd-<pid>-XXXXXX */
    char *address;       /* gRPC unix socket path */
    char *state;         /* containerd state directory */
    char *root;          /* containerd root directory */
    char *log;           /* containerd's stdout and stderr */
    char *cgroup_parent; /* "kkctd-<pid>-<n>": put test containers' cgroups below it */
    pid_t pid;           /* containerd, 0 when stopped */
};

/* Creates the directory and starts containerd; returns once its socket
 * accepts connections (at most 20 s). */
int kt_ctd_start(struct kt_ctd **out, kk_error **err);
/* Stops containerd (SIGTERM, then SIGKILL after 5 s); containers and shims
 * keep running, as with a real restart. */
void kt_ctd_stop(struct kt_ctd *f);
/* Starts containerd again on the same directories (after kt_ctd_stop). */
int kt_ctd_restart(struct kt_ctd *f, kk_error **err);
/* Stops and removes everything, frees f. NULL is accepted. */
void kt_ctd_destroy(struct kt_ctd *f);
/* After kt_ctd_destroy: appends to `why` what was left behind (the daemon
 * pid, shim or container pids, mounts, cgroups, the directory) for a fixture
 * that used `dir`, `cgroup_parent` and the pids in `pids` (0-terminated);
 * returns true if nothing was. */
bool kt_ctd_leftovers_none(const char *dir, const char *cgroup_parent, const pid_t *pids,
                           struct kk_buf *why);
/* Pids of this fixture's daemon, shims and container init processes now
 * (for kt_ctd_leftovers_none); 0-terminated, at most max-1 entries. */
size_t kt_ctd_pids(const struct kt_ctd *f, pid_t *pids, size_t max);

#endif
