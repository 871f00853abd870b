/* Stopping and removing a container in the one safe order: a composite of
 * the task calls (tasks.c), the container record (containers.c) and its
 * snapshot (snapshots.c), kept here so that those stay plain RPCs. */
#include <signal.h>

#include "runtime/containerd/internal.h"

#define KILL_TIMEOUT_MS 10000

/* Runs a step whose NotFound means "already done". */
static int tolerate_not_found(int r, kk_error **err)
{
    if (r < 0 && kk_error_code(*err) == KK_E_NOT_FOUND) {
        kk_error_freep(err);
        return 0;
    }
    return r;
}

/* Brings the task down: TERM, wait, KILL, wait. NotFound: there is none. */
static int stop_task(struct kk_ctd *c, const char *ns, const char *id, int stop_timeout_ms,
                     kk_error **err)
{
    struct kk_ctd_task_state st;
    if (kk_ctd_task_get(c, ns, id, &st, err) < 0)
        return -1;
    if (st.status == KK_CTD_TASK_STOPPED)
        return 0;
    if (st.status == KK_CTD_TASK_PAUSED || st.status == KK_CTD_TASK_PAUSING) {
        /* A frozen process cannot act on a signal. */
        kk_error *ignored = NULL;
        kk_ctd_task_resume(c, ns, id, &ignored);
        kk_error_free(ignored);
    }
    if (st.status != KK_CTD_TASK_CREATED && stop_timeout_ms > 0) {
        if (tolerate_not_found(kk_ctd_task_kill(c, ns, id, SIGTERM, true, err), err) < 0)
            return -1;
        if (kk_ctd_task_wait(c, ns, id, stop_timeout_ms, NULL, err) == 0)
            return 0;
        if (kk_error_code(*err) != KK_E_DEADLINE)
            return -1;
        kk_error_freep(err);
    }
    /* busybox httpd as PID 1 ignores SIGTERM: it has no handler. */
    if (tolerate_not_found(kk_ctd_task_kill(c, ns, id, SIGKILL, true, err), err) < 0)
        return -1;
    return kk_ctd_task_wait(c, ns, id, KILL_TIMEOUT_MS, NULL, err);
}

int kk_ctd_container_remove_safely(struct kk_ctd *c, const char *ns, const char *id,
                                   int stop_timeout_ms, kk_error **err)
{
    struct kk_ctd_container ctr = {0};
    if (kk_ctd_container_get(c, ns, id, &ctr, err) < 0) {
        if (kk_error_code(*err) != KK_E_NOT_FOUND)
            return kk_error_wrap(err, "remove");
        kk_error_freep(err);
    }
    int r = tolerate_not_found(stop_task(c, ns, id, stop_timeout_ms, err), err);
    if (r == 0)
        r = tolerate_not_found(kk_ctd_task_delete(c, ns, id, NULL, err), err);
    /* Never delete the record while a task may still run: that orphans the
     * shim and its rootfs mount. */
    if (r == 0 && ctr.id)
        r = tolerate_not_found(kk_ctd_container_delete(c, ns, id, err), err);
    if (r == 0 && ctr.id && ctr.snapshot_key && *ctr.snapshot_key)
        r = tolerate_not_found(
                kk_ctd_snapshot_remove(c, ns, ctr.snapshotter, ctr.snapshot_key, err), err);
    kk_ctd_container_clear(&ctr);
    return r < 0 ? kk_error_wrap(err, "remove container %s", id) : 0;
}
