/* Tasks: create, start, get, kill, wait, delete, pause, resume, metrics. */
#include <string.h>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb-c.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"

#define TASKS(m)        CTD_SVC("tasks.v1.Tasks/" m)
#define MAX_LOG_PATH    4096
#define CGROUPS_V1_TYPE "io.containerd.cgroups.v1.Metrics"
#define CGROUPS_V2_TYPE "io.containerd.cgroups.v2.Metrics"

const char *kk_ctd_task_status_name(enum kk_ctd_task_status s)
{
    static const char *const names[] = {"Unknown", "Created", "Running",
                                        "Stopped", "Paused",  "Pausing"};
    return (unsigned)s < KK_ARRAY_SIZE(names) ? names[s] : "Unknown";
}

int kk_ctd_task_create(struct kk_ctd *c, const char *ns, const char *id,
                       const struct kk_ctd_mounts *rootfs, const char *log_path, uint32_t *pid,
                       kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    if (!log_path || log_path[0] != '/' || strlen(log_path) > MAX_LOG_PATH)
        return kk_error_set(err, KK_E_INVALID, "task %s: log path must be absolute", id);
    struct kk_ctd_mounts own = {0};
    if (!rootfs) {
        struct kk_ctd_container ctr = {0};
        int r = kk_ctd_container_get(c, ns, id, &ctr, err);
        if (r == 0)
            r = kk_ctd_snapshot_mounts(c, ns, ctr.snapshotter, ctr.snapshot_key, &own, err);
        kk_ctd_container_clear(&ctr);
        if (r < 0)
            return kk_error_wrap(err, "create task %s", id);
        rootfs = &own;
    }
    /* Both streams: an empty stderr makes the runc v2 shim panic. */
    _cleanup_free_ char *uri = kk_xasprintf("file://%s", log_path);
    Containerd__Services__Tasks__V1__CreateTaskRequest req =
            CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
    req.container_id = (char *)id;
    req.n_rootfs = rootfs->n;
    req.rootfs = ctd_mounts_build(rootfs);
    req.stdout = uri;
    req.stderr = uri;
    Containerd__Services__Tasks__V1__CreateTaskResponse *resp = NULL;
    int r = ctd_unary(c, ns, TASKS("Create"), &req.base,
                      &containerd__services__tasks__v1__create_task_response__descriptor,
                      (ProtobufCMessage **)&resp, err);
    ctd_mounts_free(req.rootfs, req.n_rootfs);
    kk_ctd_mounts_clear(&own);
    if (r < 0)
        return kk_error_wrap(err, "create task %s", id);
    if (pid)
        *pid = resp->pid;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_task_start(struct kk_ctd *c, const char *ns, const char *id, uint32_t *pid,
                      kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__StartRequest req =
            CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__StartResponse *resp = NULL;
    if (ctd_unary(c, ns, TASKS("Start"), &req.base,
                  &containerd__services__tasks__v1__start_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "start task %s", id);
    if (pid)
        *pid = resp->pid;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_task_get(struct kk_ctd *c, const char *ns, const char *id,
                    struct kk_ctd_task_state *state, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__GetRequest req =
            CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__GetResponse *resp = NULL;
    if (ctd_unary(c, ns, TASKS("Get"), &req.base,
                  &containerd__services__tasks__v1__get_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "task %s", id);
    *state = (struct kk_ctd_task_state){0};
    if (resp->process) {
        state->pid = resp->process->pid;
        state->status = (enum kk_ctd_task_status)resp->process->status;
        state->exit_status = resp->process->exit_status;
        state->exited_at_ns = ctd_timestamp_ns(resp->process->exited_at);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_task_kill(struct kk_ctd *c, const char *ns, const char *id, int signal, bool all,
                     kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    if (signal <= 0 || signal > 64)
        return kk_error_set(err, KK_E_INVALID, "task %s: invalid signal %d", id, signal);
    Containerd__Services__Tasks__V1__KillRequest req =
            CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
    req.container_id = (char *)id;
    req.signal = (uint32_t)signal;
    req.all = all;
    if (ctd_unary(c, ns, TASKS("Kill"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "kill task %s with signal %d", id, signal);
    return 0;
}

int kk_ctd_task_wait(struct kk_ctd *c, const char *ns, const char *id, int timeout_ms,
                     uint32_t *exit_status, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__WaitRequest req =
            CONTAINERD__SERVICES__TASKS__V1__WAIT_REQUEST__INIT;
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__WaitResponse *resp = NULL;
    const char *md[5];
    ctd_metadata(c, ns, md);
    if (kk_grpc_unary(c->grpc, TASKS("Wait"), md, &req.base,
                      &containerd__services__tasks__v1__wait_response__descriptor,
                      (ProtobufCMessage **)&resp, timeout_ms > 0 ? timeout_ms : -1, err) < 0)
        return kk_error_wrap(err, "wait for task %s", id);
    if (exit_status)
        *exit_status = resp->exit_status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_task_delete(struct kk_ctd *c, const char *ns, const char *id, uint32_t *exit_status,
                       kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__DeleteTaskRequest req =
            CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__DeleteResponse *resp = NULL;
    if (ctd_unary(c, ns, TASKS("Delete"), &req.base,
                  &containerd__services__tasks__v1__delete_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "delete task %s", id);
    if (exit_status)
        *exit_status = resp->exit_status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int kk_ctd_task_pause(struct kk_ctd *c, const char *ns, const char *id, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__PauseTaskRequest req =
            CONTAINERD__SERVICES__TASKS__V1__PAUSE_TASK_REQUEST__INIT;
    req.container_id = (char *)id;
    if (ctd_unary(c, ns, TASKS("Pause"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "pause task %s", id);
    return 0;
}

int kk_ctd_task_resume(struct kk_ctd *c, const char *ns, const char *id, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    Containerd__Services__Tasks__V1__ResumeTaskRequest req =
            CONTAINERD__SERVICES__TASKS__V1__RESUME_TASK_REQUEST__INIT;
    req.container_id = (char *)id;
    if (ctd_unary(c, ns, TASKS("Resume"), &req.base, &google__protobuf__empty__descriptor, NULL,
                  err) < 0)
        return kk_error_wrap(err, "resume task %s", id);
    return 0;
}

static int decode_v1(const ProtobufCBinaryData *data, struct kk_ctd_metrics *out, kk_error **err)
{
    Io__Containerd__Cgroups__V1__Metrics *m =
            io__containerd__cgroups__v1__metrics__unpack(NULL, data->len, data->data);
    if (!m)
        return kk_error_set(err, KK_E_INTERNAL, "undecodable cgroup v1 metrics");
    out->cgroup_version = 1;
    if (m->pids) {
        out->pids_current = m->pids->current;
        out->pids_limit = m->pids->limit;
    }
    if (m->cpu && m->cpu->usage)
        out->cpu_usage_ns = m->cpu->usage->total;
    if (m->memory) {
        out->memory_rss = m->memory->rss;
        if (m->memory->usage) {
            out->memory_usage = m->memory->usage->usage;
            out->memory_limit = m->memory->usage->limit;
        }
    }
    io__containerd__cgroups__v1__metrics__free_unpacked(m, NULL);
    return 0;
}

static int decode_v2(const ProtobufCBinaryData *data, struct kk_ctd_metrics *out, kk_error **err)
{
    Io__Containerd__Cgroups__V2__Metrics *m =
            io__containerd__cgroups__v2__metrics__unpack(NULL, data->len, data->data);
    if (!m)
        return kk_error_set(err, KK_E_INTERNAL, "undecodable cgroup v2 metrics");
    out->cgroup_version = 2;
    if (m->pids) {
        out->pids_current = m->pids->current;
        out->pids_limit = m->pids->limit;
    }
    if (m->cpu)
        out->cpu_usage_ns = m->cpu->usage_usec * 1000;
    if (m->memory) {
        out->memory_usage = m->memory->usage;
        out->memory_limit = m->memory->usage_limit;
        out->memory_rss = m->memory->anon;
    }
    io__containerd__cgroups__v2__metrics__free_unpacked(m, NULL);
    return 0;
}

int kk_ctd_task_metrics(struct kk_ctd *c, const char *ns, const char *id,
                        struct kk_ctd_metrics *out, kk_error **err)
{
    if (ctd_check_name("container id", id, err) < 0)
        return -1;
    _cleanup_free_ char *filter = kk_xasprintf("id==%s", id);
    char *filters[] = {filter};
    Containerd__Services__Tasks__V1__MetricsRequest req =
            CONTAINERD__SERVICES__TASKS__V1__METRICS_REQUEST__INIT;
    req.n_filters = 1;
    req.filters = filters;
    Containerd__Services__Tasks__V1__MetricsResponse *resp = NULL;
    if (ctd_unary(c, ns, TASKS("Metrics"), &req.base,
                  &containerd__services__tasks__v1__metrics_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return kk_error_wrap(err, "metrics of task %s", id);
    *out = (struct kk_ctd_metrics){0};
    int r;
    const Google__Protobuf__Any *any = resp->n_metrics > 0 ? resp->metrics[0]->data : NULL;
    if (!any)
        r = kk_error_set(err, KK_E_NOT_FOUND, "task %s: no metrics", id);
    else if (any->type_url && strcmp(any->type_url, CGROUPS_V1_TYPE) == 0)
        r = decode_v1(&any->value, out, err);
    else if (any->type_url && strcmp(any->type_url, CGROUPS_V2_TYPE) == 0)
        r = decode_v2(&any->value, out, err);
    else
        r = kk_error_set(err, KK_E_UNIMPLEMENTED, "task %s: metrics of type %s", id,
                         any->type_url ? any->type_url : "(none)");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return r < 0 ? kk_error_wrap(err, "metrics of task %s", id) : 0;
}
