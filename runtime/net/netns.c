#include "runtime/net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fsapi/fsutil.h"

#define THREAD_NETNS "/proc/thread-self/ns/net"

int kk_netns_prepare_dir(const char *dir, kk_error **err)
{
    if (kk_fs_mkdir_p_abs(dir, 0755, err) < 0)
        return kk_error_wrap(err, "namespace directory");
    bool bound = false;
    while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
        /* EINVAL: not a mount point yet; make it one, once. */
        if (errno != EINVAL || bound)
            return kk_error_errno(err, "make %s a shared mount", dir);
        if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
            return kk_error_errno(err, "bind mount %s on itself", dir);
        bound = true;
    }
    return 0;
}

bool kk_netns_mounted(const char *path)
{
    struct statfs st;
    return statfs(path, &st) == 0 && st.f_type == NSFS_MAGIC;
}

struct ns_job {
    const char *path;
    bool create;
    struct kk_netns ns;
    kk_error *err;
};

/* Runs in its own thread: enters (or creates) the namespace, then opens
 * what the caller needs from inside it. The thread's namespace dies with
 * the thread; what it opened keeps the namespace. */
static void *ns_worker(void *arg)
{
    struct ns_job *job = arg;
    if (job->create) {
        if (unshare(CLONE_NEWNET) < 0) {
            kk_error_errno(&job->err, "unshare network namespace");
            return NULL;
        }
        if (mount(THREAD_NETNS, job->path, "none", MS_BIND, NULL) < 0) {
            kk_error_errno(&job->err, "bind mount namespace on %s", job->path);
            return NULL;
        }
    } else {
        _cleanup_close_ int fd = open(job->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
            kk_error_errno(&job->err, "enter namespace %s", job->path);
            return NULL;
        }
    }
    job->ns.fd = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
    if (job->ns.fd < 0) {
        kk_error_errno(&job->err, "open %s", THREAD_NETNS);
        return NULL;
    }
    if (kk_nl_open(&job->ns.nl, &job->err) < 0)
        kk_netns_close(&job->ns);
    return NULL;
}

int kk_netns_ensure(const char *path, struct kk_netns *out, bool *created, kk_error **err)
{
    struct ns_job job = {.path = path, .create = !kk_netns_mounted(path), .ns = KK_NETNS_INIT};
    if (job.create) {
        /* Mode 0 like iproute2: the file is only a mount point. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0)
            return kk_error_errno(err, "create %s", path);
    }
    pthread_t tid;
    int r = pthread_create(&tid, NULL, ns_worker, &job);
    if (r != 0)
        kk_error_errnum(&job.err, r, "start namespace thread");
    else
        pthread_join(tid, NULL);
    if (job.err) {
        if (job.create)
            unlink(path);
        kk_error_free(*err);
        *err = job.err;
        return -1;
    }
    *out = job.ns;
    if (created)
        *created = job.create;
    return 0;
}

int kk_netns_remove(const char *path, kk_error **err)
{
    /* Several mounts may be stacked on the file after a crash mid-create. */
    for (int i = 0; kk_netns_mounted(path); i++) {
        if (i == 8)
            return kk_error_set(err, KK_E_INTERNAL, "%s: still mounted", path);
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
            return kk_error_errno(err, "unmount %s", path);
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return kk_error_errno(err, "remove %s", path);
    return 0;
}

void kk_netns_close(struct kk_netns *ns)
{
    kk_nl_close(&ns->nl);
    if (ns->fd >= 0)
        close(ns->fd);
    ns->fd = -1;
}
