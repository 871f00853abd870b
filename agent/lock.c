#include "agent/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/contract.h"
#include "fsapi/fsutil.h"

/* Locks path (created 0644) and writes our pid into it. */
static int lock_one(const char *path, const char *what, const char *value, int *out, kk_error **err)
{
    /* 0600: flock needs no write access, so a readable lock file would let
     * any user hold it and keep the agent from starting. */
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return kk_error_errno(err, "lock %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return kk_error_errno(err, "lock %s", path);
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return kk_error_set(err, KK_E_EXISTS,
                            "another kukeond (pid %s) already uses %s %s (lock %s): one agent "
                            "per %s",
                            *pid ? pid : "unknown", what, value, path, what);
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        return kk_error_errno(err, "write %s", path);
    *out = TAKE_FD(fd);
    return 0;
}

/* "<dir>/<kind>-<value>.lock" with '/' in value made '_' (cgroup roots). */
static char *global_lock_path(const char *dir, const char *kind, const char *value)
{
    char *path = kk_xasprintf("%s/%s-%s.lock", dir, kind, value);
    for (char *p = path + strlen(dir) + 1; *p; p++)
        if (*p == '/')
            *p = '_';
    return path;
}

int agent_locks_take(const struct kk_agent_config *cfg, const char *lock_dir,
                     struct agent_locks *out, kk_error **err)
{
    struct agent_locks l = {.n = 0};
    _cleanup_free_ char *agent_dir = kk_xasprintf("%s/" KK_TREE_AGENT_DIRNAME, cfg->state);
    if (kk_fs_mkdir_p_abs(agent_dir, 0755, err) < 0 || kk_fs_mkdir_p_abs(lock_dir, 0700, err) < 0)
        return -1;
    /* The lock directory may sit in a world-writable /run/lock: one that
     * someone else made (or a symlink they planted) is not ours to trust. */
    struct stat st;
    if (lstat(lock_dir, &st) < 0)
        return kk_error_errno(err, "lock directory %s", lock_dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        return kk_error_set(err, KK_E_PERMISSION,
                            "lock directory %s is not a directory of ours that only we may "
                            "write: remove it and start again",
                            lock_dir);
    const struct {
        const char *kind, *what, *value;
    } names[AGENT_LOCKS_MAX] = {
            {NULL, "state tree", cfg->state},
            {"cgroup", "cgroup root", cfg->cgroup_root},
            {"nft", "nft table", cfg->nft_table},
            {"bridge", "bridge prefix", cfg->bridge_prefix},
            /* Derived from the bridge prefix unless set ("hq1" and "hq2"
             * both give "hqv"): two agents must not share it either. */
            {"veth", "veth prefix", cfg->veth_prefix},
    };
    for (size_t i = 0; i < AGENT_LOCKS_MAX; i++) {
        if (!names[i].value) /* not set (a test's config): nothing to share */
            continue;
        _cleanup_free_ char *path =
                names[i].kind ? global_lock_path(lock_dir, names[i].kind, names[i].value)
                              : kk_xasprintf("%s/kukeond.lock", agent_dir);
        if (lock_one(path, names[i].what, names[i].value, &l.fds[l.n], err) < 0) {
            agent_locks_release(&l);
            return -1;
        }
        l.n++;
    }
    *out = l;
    return 0;
}

void agent_locks_release(struct agent_locks *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (l->fds[i] >= 0)
            close(l->fds[i]);
    l->n = 0;
}
