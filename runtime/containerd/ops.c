/* struct kk_ctd_ops for the real client: thin adapters from `void *self`. */
#include <unistd.h>

#include "runtime/containerd/internal.h"

#define PREPARE_LEASE_S 120

static int namespace_create(void *self, const char *name, const char *const *labels, bool exist_ok,
                            kk_error **err)
{
    return kk_ctd_namespace_create(self, name, labels, exist_ok, err);
}

static int namespace_drain(void *self, const char *name, kk_error **err)
{
    return kk_ctd_namespace_drain(self, name, NULL, err);
}

static int namespace_delete(void *self, const char *name, kk_error **err)
{
    return kk_ctd_namespace_delete(self, name, err);
}

static int container_create(void *self, const char *ns, const struct kk_ctd_container_spec *spec,
                            kk_error **err)
{
    return kk_ctd_container_create(self, ns, spec, err);
}

static int container_create_from(void *self, const char *ns,
                                 const struct kk_ctd_container_spec *spec, const char *parent,
                                 kk_error **err)
{
    return kk_ctd_container_create_from(self, ns, spec, parent, err);
}

static int container_get(void *self, const char *ns, const char *id, struct kk_ctd_container *out,
                         kk_error **err)
{
    return kk_ctd_container_get(self, ns, id, out, err);
}

static int container_list(void *self, const char *ns, const char *filter,
                          struct kk_ctd_container **out, size_t *n, kk_error **err)
{
    return kk_ctd_container_list(self, ns, filter, out, n, err);
}

static int container_remove_safely(void *self, const char *ns, const char *id, int stop_timeout_ms,
                                   kk_error **err)
{
    return kk_ctd_container_remove_safely(self, ns, id, stop_timeout_ms, err);
}

/* The new snapshot is referenced by nothing until container_create: hold
 * it with a lease that expires by itself (the caller never sees it). */
static int snapshot_prepare(void *self, const char *ns, const char *snapshotter, const char *key,
                            const char *parent, kk_error **err)
{
    static unsigned counter;
    _cleanup_free_ char *lease = kk_xasprintf("kukeon-prepare-%d-%u", (int)getpid(),
                                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    if (kk_ctd_lease_create(self, ns, lease, PREPARE_LEASE_S, err) < 0)
        return kk_error_wrap(err, "prepare snapshot %s", key);
    _cleanup_ctd_ struct kk_ctd *leased = NULL;
    if (kk_ctd_with_lease(self, lease, &leased, err) < 0)
        return -1;
    return kk_ctd_snapshot_prepare(leased, ns, snapshotter, key, parent, NULL, NULL, err);
}

static int task_create(void *self, const char *ns, const char *id, const char *log_path,
                       uint32_t *pid, kk_error **err)
{
    return kk_ctd_task_create(self, ns, id, NULL, log_path, pid, err);
}

static int task_start(void *self, const char *ns, const char *id, uint32_t *pid, kk_error **err)
{
    return kk_ctd_task_start(self, ns, id, pid, err);
}

static int task_get(void *self, const char *ns, const char *id, struct kk_ctd_task_state *state,
                    kk_error **err)
{
    return kk_ctd_task_get(self, ns, id, state, err);
}

static int task_kill(void *self, const char *ns, const char *id, int signal, bool all,
                     kk_error **err)
{
    return kk_ctd_task_kill(self, ns, id, signal, all, err);
}

static int task_delete(void *self, const char *ns, const char *id, uint32_t *exit_status,
                       kk_error **err)
{
    return kk_ctd_task_delete(self, ns, id, exit_status, err);
}

static int task_pause(void *self, const char *ns, const char *id, kk_error **err)
{
    return kk_ctd_task_pause(self, ns, id, err);
}

static int task_resume(void *self, const char *ns, const char *id, kk_error **err)
{
    return kk_ctd_task_resume(self, ns, id, err);
}

static int task_metrics(void *self, const char *ns, const char *id, struct kk_ctd_metrics *out,
                        kk_error **err)
{
    return kk_ctd_task_metrics(self, ns, id, out, err);
}

static int subscribe(void *self, const char *const *filters, kk_ctd_event_fn fn, void *userdata,
                     struct kk_ctd_sub **out, kk_error **err)
{
    return kk_ctd_subscribe(self, filters, fn, userdata, out, err);
}

static void unsubscribe(void *self, struct kk_ctd_sub *sub)
{
    (void)self;
    kk_ctd_unsubscribe(sub);
}

const struct kk_ctd_ops kk_ctd_real_ops = {
        .namespace_create = namespace_create,
        .namespace_drain = namespace_drain,
        .namespace_delete = namespace_delete,
        .container_create = container_create,
        .container_create_from = container_create_from,
        .container_get = container_get,
        .container_list = container_list,
        .container_remove_safely = container_remove_safely,
        .snapshot_prepare = snapshot_prepare,
        .task_create = task_create,
        .task_start = task_start,
        .task_get = task_get,
        .task_kill = task_kill,
        .task_delete = task_delete,
        .task_pause = task_pause,
        .task_resume = task_resume,
        .task_metrics = task_metrics,
        .subscribe = subscribe,
        .unsubscribe = unsubscribe,
};
