/* Containers, tasks and events against a private containerd, including a
 * containerd restart in the middle. */
#include <signal.h>

#include "fsapi/clock.h"
#include "tests/integration/test-containerd-util.h"
#include "tests/lib/kktest.h"

#define ROOTFS "kktest-rootfs"

static struct kt_ctd *fixture;
static struct kk_ctd *client;
static struct kk_ctd_sub *sub;
static struct kt_events events;
static char ns[64];
static char logdir[256];

static void teardown(void)
{
    kk_ctd_unsubscribe(sub);
    sub = NULL;
    kk_ctd_close(client);
    client = NULL;
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

/* One containerd, client, rootfs and event subscription for the binary. */
static int setup(kk_error **err)
{
    kt_atexit(teardown);
    if (client)
        return 0;
    snprintf(ns, sizeof(ns), "kktest-tasks-%d", (int)getpid());
    kt_events_init(&events);
    if (kt_ctd_start(&fixture, err) < 0 || kk_ctd_open(fixture->address, NULL, &client, err) < 0)
        return -1;
    snprintf(logdir, sizeof(logdir), "%s/logs", fixture->dir);
    _cleanup_free_ char *scratch = kk_xasprintf("%s/scratch", fixture->dir);
    if (mkdir(logdir, 0755) < 0 || mkdir(scratch, 0755) < 0)
        return kk_error_errno(err, "mkdir");
    _cleanup_free_ char *filter = kk_xasprintf("namespace==\"%s\",topic~=\"^/tasks/\"", ns);
    const char *filters[] = {filter, NULL};
    if (kk_ctd_subscribe(client, filters, kt_events_collect, &events, &sub, err) < 0)
        return -1;
    return kt_busybox_snapshot(client, ns, ROOTFS, scratch, err);
}

static char *log_path(const char *id)
{
    return kk_xasprintf("%s/%s.log", logdir, id);
}

KT_CASE(container_records_and_label_filter)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *web[] = {"kukeon.io/cell", "web", "kukeon.io/realm", "main", NULL};
    const char *db[] = {"kukeon.io/cell", "db", NULL};
    KT_ASSERT_OK(kt_make_container(client, ns, "c-web", ROOTFS, "\"true\"", fixture->cgroup_parent,
                                   web, &err),
                 &err);
    KT_ASSERT_OK(kt_make_container(client, ns, "c-db", ROOTFS, "\"true\"", fixture->cgroup_parent,
                                   db, &err),
                 &err);
    KT_ASSERT(kt_make_container(client, ns, "c-db", ROOTFS, "\"true\"", fixture->cgroup_parent, db,
                                &err) < 0); /* the snapshot exists already */
    KT_ASSERT_EQ(kk_error_code(err), KK_E_EXISTS);
    kk_error_freep(&err);

    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    KT_ASSERT_OK(
            kk_ctd_container_list(client, ns, "labels.\"kukeon.io/cell\"==\"web\"", &v, &n, &err),
            &err);
    bool one = n == 1 && strcmp(v[0].id, "c-web") == 0 &&
               strcmp(v[0].runtime, KK_CTD_DEFAULT_RUNTIME) == 0 &&
               strcmp(v[0].snapshotter, "overlayfs") == 0 && strstr(v[0].spec_json, "ociVersion");
    kk_ctd_container_list_free(v, n);
    KT_ASSERT(one);

    struct kk_ctd_container c = {0};
    KT_ASSERT_OK(kk_ctd_container_get(client, ns, "c-db", &c, &err), &err);
    bool ok = strcmp(c.snapshot_key, "c-db") == 0 && strcmp(c.image, "kktest/busybox:latest") == 0;
    kk_ctd_container_clear(&c);
    KT_ASSERT(ok);

    /* Removal of containers without tasks; a second one is a no-op. */
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, "c-web", 1000, &err), &err);
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, "c-web", 1000, &err), &err);
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, "c-db", 1000, &err), &err);
    KT_ASSERT(kk_ctd_container_get(client, ns, "c-db", NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT(kk_ctd_snapshot_stat(client, ns, NULL, "c-db", NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

KT_CASE(task_exits_non_zero)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *id = "c-exit3";
    KT_ASSERT_OK(kt_make_container(client, ns, id, ROOTFS,
                                   "\"sh\",\"-c\",\"echo to-stdout; echo to-stderr >&2; exit 3\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    _cleanup_free_ char *log = log_path(id);
    uint32_t pid = 0, status = 0;
    KT_ASSERT_OK(kk_ctd_task_create(client, ns, id, NULL, log, &pid, &err), &err);
    KT_ASSERT(pid > 0);
    struct kk_ctd_task_state st;
    KT_ASSERT_OK(kk_ctd_task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_CREATED);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns, id, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_wait(client, ns, id, 10000, &status, &err), &err);
    KT_ASSERT_EQ(status, 3);
    int i = kt_events_wait(&events, KK_CTD_EVENT_TASK_EXIT, id, 5000);
    KT_ASSERT_MSG(i >= 0, "no TaskExit event for %s", id);
    KT_ASSERT_EQ(events.v[i].exit_status, 3);
    KT_ASSERT_STREQ(events.v[i].ns, ns);
    KT_ASSERT(kt_events_wait(&events, KK_CTD_EVENT_TASK_START, id, 1000) >= 0);
    KT_ASSERT_OK(kk_ctd_task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_STOPPED);
    KT_ASSERT_EQ(st.exit_status, 3);
    uint32_t deleted_status = 0;
    KT_ASSERT_OK(kk_ctd_task_delete(client, ns, id, &deleted_status, &err), &err);
    KT_ASSERT_EQ(deleted_status, 3);
    KT_ASSERT(kt_events_wait(&events, KK_CTD_EVENT_TASK_DELETE, id, 5000) >= 0);
    /* The shim copies stdout and stderr on threads of their own: under
     * load the last write may land a moment after the exit is reported. */
    char *out = NULL;
    for (int tries = 0; tries < 40; tries++) {
        free(out);
        out = kt_read_file(log);
        if (out && strstr(out, "to-stdout\n") && strstr(out, "to-stderr\n"))
            break;
        usleep(50 * 1000);
    }
    _cleanup_free_ char *got = out;
    KT_ASSERT_MSG(got && strstr(got, "to-stdout\n") && strstr(got, "to-stderr\n"), "log: %s",
                  got ? got : "(none)");
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, id, 1000, &err), &err);
}

KT_CASE(oom_event)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *id = "c-oom";
    /* 200 MB in a shell variable, under a 64 MiB limit and no swap. */
    KT_ASSERT_OK(kt_make_container(client, ns, id, ROOTFS,
                                   "\"sh\",\"-c\",\"a=$(yes | head -c 200000000); echo survived\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    _cleanup_free_ char *log = log_path(id);
    KT_ASSERT_OK(kk_ctd_task_create(client, ns, id, NULL, log, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns, id, NULL, &err), &err);
    uint32_t status = 0;
    KT_ASSERT_OK(kk_ctd_task_wait(client, ns, id, 30000, &status, &err), &err);
    KT_ASSERT_EQ(status, 137);
    KT_ASSERT_MSG(kt_events_wait(&events, KK_CTD_EVENT_TASK_OOM, id, 5000) >= 0,
                  "no TaskOOM event for %s", id);
    _cleanup_free_ char *out = kt_read_file(log);
    KT_ASSERT(!strstr(out, "survived"));
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, id, 1000, &err), &err);
}

KT_CASE(pause_resume_metrics_and_safe_removal)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *id = "c-sleep";
    /* sleep as PID 1 has no SIGTERM handler: the kernel drops the signal. */
    KT_ASSERT_OK(kt_make_container(client, ns, id, ROOTFS, "\"sleep\",\"1000\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    _cleanup_free_ char *log = log_path(id);
    KT_ASSERT_OK(kk_ctd_task_create(client, ns, id, NULL, log, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns, id, NULL, &err), &err);
    struct kk_ctd_task_state st;
    KT_ASSERT_OK(kk_ctd_task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_RUNNING);
    KT_ASSERT(kill((pid_t)st.pid, 0) == 0);

    KT_ASSERT_OK(kk_ctd_task_pause(client, ns, id, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_PAUSED);
    KT_ASSERT(kt_events_wait(&events, KK_CTD_EVENT_TASK_PAUSED, id, 5000) >= 0);
    KT_ASSERT_OK(kk_ctd_task_resume(client, ns, id, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_RUNNING);
    KT_ASSERT(kt_events_wait(&events, KK_CTD_EVENT_TASK_RESUMED, id, 5000) >= 0);

    struct kk_ctd_metrics m;
    KT_ASSERT_OK(kk_ctd_task_metrics(client, ns, id, &m, &err), &err);
    KT_ASSERT(m.cgroup_version == 1 || m.cgroup_version == 2);
    KT_ASSERT_EQ(m.pids_current, 1);
    KT_ASSERT_EQ(m.pids_limit, 64);
    KT_ASSERT_EQ(m.memory_limit, 67108864);
    KT_ASSERT(m.memory_usage > 0);
    KT_ASSERT(m.cpu_usage_ns > 0);

    /* A Wait with a deadline ends with Deadline and blocks nothing. */
    KT_ASSERT(kk_ctd_task_wait(client, ns, id, 200, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_DEADLINE);
    kk_error_freep(&err);

    /* Deleting a running task is refused. */
    KT_ASSERT(kk_ctd_task_delete(client, ns, id, NULL, &err) < 0);
    kk_error_freep(&err);

    int64_t t0 = kk_clock_mono_ms(NULL);
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, id, 500, &err), &err);
    long ms = (long)(kk_clock_mono_ms(NULL) - t0);
    KT_ASSERT_MSG(ms >= 500, "SIGTERM was not ignored? removal took %ld ms", ms);
    int i = kt_events_wait(&events, KK_CTD_EVENT_TASK_EXIT, id, 5000);
    KT_ASSERT(i >= 0);
    KT_ASSERT_EQ(events.v[i].exit_status, 137);
    KT_ASSERT(kill((pid_t)st.pid, 0) < 0);
    KT_ASSERT(kk_ctd_container_get(client, ns, id, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
    kk_error_freep(&err);
    KT_ASSERT(kk_ctd_snapshot_stat(client, ns, NULL, id, NULL, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

struct waiter {
    const char *id;
    uint32_t status;
    int rc;
    kk_code code;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    kk_error *err = NULL;
    w->rc = kk_ctd_task_wait(client, ns, w->id, 20000, &w->status, &err);
    w->code = kk_error_code(err);
    kk_error_free(err);
    return NULL;
}

KT_CASE(wait_does_not_block_other_calls)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *id = "c-wait";
    KT_ASSERT_OK(kt_make_container(client, ns, id, ROOTFS, "\"sleep\",\"1000\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    _cleanup_free_ char *log = log_path(id);
    KT_ASSERT_OK(kk_ctd_task_create(client, ns, id, NULL, log, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns, id, NULL, &err), &err);
    struct waiter w = {id, 0, 1, KK_E_OK};
    pthread_t t;
    pthread_create(&t, NULL, wait_thread, &w);
    int calls = 0;
    for (; calls < 100; calls++) {
        struct kk_ctd_task_state st;
        if (kk_ctd_task_get(client, ns, id, &st, &err) < 0)
            break;
    }
    int killed = kk_ctd_task_kill(client, ns, id, SIGKILL, true, &err);
    pthread_join(t, NULL);
    KT_ASSERT_EQ(calls, 100);
    KT_ASSERT_OK(killed, &err);
    KT_ASSERT_EQ(w.rc, 0);
    KT_ASSERT_EQ(w.status, 137);
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, id, 1000, &err), &err);
}

/* The function-pointer table the agent uses, end to end. */
KT_CASE(backend_ops_table)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const struct kk_ctd_ops *ops = &kk_ctd_real_ops;
    const char *id = "c-ops";
    _cleanup_free_ char *spec = kt_spec_json("\"sleep\",\"1000\"", fixture->cgroup_parent, id);
    const char *labels[] = {"kukeon.io/cell", "ops", NULL};
    struct kk_ctd_container_spec cs = {.id = id,
                                       .labels = labels,
                                       .spec_json = spec,
                                       .spec_len = strlen(spec),
                                       .snapshot_key = id};
    KT_ASSERT_OK(ops->snapshot_prepare(client, ns, NULL, id, ROOTFS, &err), &err);
    KT_ASSERT_OK(ops->container_create(client, ns, &cs, &err), &err);
    _cleanup_free_ char *log = log_path(id);
    uint32_t pid = 0;
    KT_ASSERT_OK(ops->task_create(client, ns, id, log, &pid, &err), &err);
    KT_ASSERT_OK(ops->task_start(client, ns, id, NULL, &err), &err);
    struct kk_ctd_task_state st;
    KT_ASSERT_OK(ops->task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_RUNNING);
    KT_ASSERT_EQ(st.pid, pid);
    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    KT_ASSERT_OK(
            ops->container_list(client, ns, "labels.\"kukeon.io/cell\"==\"ops\"", &v, &n, &err),
            &err);
    kk_ctd_container_list_free(v, n);
    KT_ASSERT_EQ(n, 1);
    KT_ASSERT_OK(ops->container_remove_safely(client, ns, id, 0, &err), &err);
    KT_ASSERT(ops->task_get(client, ns, id, &st, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_NOT_FOUND);
}

KT_CASE(containerd_restart)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *id = "c-survivor";
    KT_ASSERT_OK(kt_make_container(client, ns, id, ROOTFS,
                                   "\"sh\",\"-c\",\"echo started; sleep 1000\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    _cleanup_free_ char *log = log_path(id);
    uint32_t pid = 0;
    KT_ASSERT_OK(kk_ctd_task_create(client, ns, id, NULL, log, &pid, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns, id, NULL, &err), &err);
    /* A Wait in flight across the restart. */
    struct waiter w = {id, 0, 1, KK_E_OK};
    pthread_t t;
    pthread_create(&t, NULL, wait_thread, &w);
    usleep(100 * 1000);

    KT_ASSERT_OK(kt_ctd_restart(fixture, &err), &err);
    /* The same client works again, and the task survived the restart. */
    struct kk_ctd_task_state st;
    KT_ASSERT_OK(kk_ctd_task_get(client, ns, id, &st, &err), &err);
    KT_ASSERT_EQ(st.status, KK_CTD_TASK_RUNNING);
    KT_ASSERT_EQ(st.pid, pid);
    /* The subscription came back, and delivers events again. */
    KT_ASSERT_MSG(kt_events_wait(&events, KK_CTD_EVENT_RESUBSCRIBED, NULL, 10000) >= 0,
                  "no resubscription after the restart");
    KT_ASSERT_OK(kk_ctd_task_kill(client, ns, id, SIGKILL, true, &err), &err);
    int i = kt_events_wait(&events, KK_CTD_EVENT_TASK_EXIT, id, 10000);
    pthread_join(t, NULL);
    KT_ASSERT_MSG(i >= 0, "no TaskExit after the restart");
    /* The Wait cut by the restart says so; a new one sees the exit. */
    KT_ASSERT_EQ(w.rc, -1);
    KT_ASSERT_EQ(w.code, KK_E_UNAVAILABLE);
    uint32_t status = 0;
    KT_ASSERT_OK(kk_ctd_task_wait(client, ns, id, 5000, &status, &err), &err);
    KT_ASSERT_EQ(status, 137);
    KT_ASSERT_EQ(events.v[i].exit_status, 137);
    KT_ASSERT_OK(kk_ctd_container_remove_safely(client, ns, id, 1000, &err), &err);
    _cleanup_free_ char *out = kt_read_file(log);
    KT_ASSERT_MSG(strstr(out, "started\n"), "log: %s", out);
}

KT_CASE(drain_with_running_task_and_leave_nothing)
{
    KT_REQUIRE_ROOT();
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(setup(&err), &err);
    const char *id = "c-left-running";
    KT_ASSERT_OK(kt_make_container(client, ns, id, ROOTFS, "\"sleep\",\"1000\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    _cleanup_free_ char *log = log_path(id);
    KT_ASSERT_OK(kk_ctd_task_create(client, ns, id, NULL, log, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns, id, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_namespace_drain(client, ns, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_namespace_delete(client, ns, &err), &err);

    /* A task left running on purpose: the fixture must clean it up too. */
    _cleanup_free_ char *ns2 = kk_xasprintf("%s-b", ns);
    _cleanup_free_ char *scratch = kk_xasprintf("%s/scratch2", fixture->dir);
    KT_ASSERT(mkdir(scratch, 0755) == 0);
    KT_ASSERT_OK(kt_busybox_snapshot(client, ns2, ROOTFS, scratch, &err), &err);
    KT_ASSERT_OK(kt_make_container(client, ns2, id, ROOTFS, "\"sleep\",\"1000\"",
                                   fixture->cgroup_parent, NULL, &err),
                 &err);
    KT_ASSERT_OK(kk_ctd_task_create(client, ns2, id, NULL, log, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_task_start(client, ns2, id, NULL, &err), &err);

    _cleanup_free_ char *dir = kk_xstrdup(fixture->dir);
    _cleanup_free_ char *cg = kk_xstrdup(fixture->cgroup_parent);
    pid_t pids[64];
    size_t n = kt_ctd_pids(fixture, pids, 64);
    KT_ASSERT_MSG(n >= 3, "expected containerd, a shim and a task, got %zu pids", n);
    teardown();
    _cleanup_buf_ struct kk_buf why = KK_BUF_INIT;
    KT_ASSERT_MSG(kt_ctd_leftovers_none(dir, cg, pids, &why), "left behind:%s", kk_buf_str(&why));
}
