/* Create + start of a busybox task: the client (snapshot prepare, container
 * create, task create, task start) vs `ctr run -d` of the same image, both
 * against one private containerd, interleaved in the same run.
 *
 *   bench-task          (env KK_BENCH_TASKS: 10 of each)
 *
 * The image is built offline with contrib/mkimage/mkimage.sh and imported
 * (and unpacked) with `ctr images import`; both sides start from its
 * snapshot. Prints the mean time of each side and the ratio.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "tests/integration/test-containerd-util.h"
#include "tests/lib/kktest.h"

#define IMAGE "docker.io/library/busybox:latest"

static struct kt_ctd *fixture;

static void stop_fixture(void)
{
    kt_ctd_destroy(fixture);
    fixture = NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The committed snapshot the import unpacked (one layer: its chain ID). */
static char *top_snapshot(struct kk_ctd *c, const char *ns, kk_error **err)
{
    struct kk_ctd_snapshot_info *v = NULL;
    size_t n = 0;
    if (kk_ctd_snapshot_list(c, ns, NULL, &v, &n, err) < 0)
        return NULL;
    char *top = NULL;
    for (size_t i = 0; i < n && !top; i++)
        if (v[i].kind == KK_CTD_SNAPSHOT_COMMITTED)
            top = kk_xstrdup(v[i].name);
    kk_ctd_snapshot_list_free(v, n);
    if (!top)
        kk_error_set(err, KK_E_NOT_FOUND, "no unpacked snapshot");
    return top;
}

KT_CASE(create_start_vs_ctr_run)
{
    KT_REQUIRE_ROOT();
    const char *e = getenv("KK_BENCH_TASKS");
    int n = e && atoi(e) > 0 ? atoi(e) : 10;
    if (n > 50)
        n = 50;
    _cleanup_error_ kk_error *err = NULL;
    kt_atexit(stop_fixture);
    KT_ASSERT_OK(kt_ctd_start(&fixture, &err), &err);
    _cleanup_ctd_ struct kk_ctd *c = NULL;
    KT_ASSERT_OK(kk_ctd_open(fixture->address, NULL, &c, &err), &err);
    char ns[64];
    snprintf(ns, sizeof(ns), "kkbench-%d", (int)getpid());

    const char *src = getenv("KUKEON_SRC");
    _cleanup_free_ char *archive = kk_xasprintf("%s/busybox.tar", fixture->dir);
    _cleanup_free_ char *mkimage = kk_xasprintf("%s/contrib/mkimage/mkimage.sh", src ? src : ".");
    KT_ASSERT_EQ(run((char *[]){"bash", mkimage, "-o", archive, NULL}), 0);
    KT_ASSERT_EQ(run((char *[]){"ctr", "-a", fixture->address, "-n", ns, "images", "import",
                                "--snapshotter", "overlayfs", archive, NULL}),
                 0);
    _cleanup_free_ char *rootfs = top_snapshot(c, ns, &err);
    KT_ASSERT_OK(rootfs ? 0 : -1, &err);

    double ours = 0, theirs = 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *id = kk_xasprintf("kk-%d", i);
        _cleanup_free_ char *log = kk_xasprintf("%s/%s.log", fixture->dir, id);
        double t0 = now_ms();
        int r = kt_make_container(c, ns, id, rootfs, "\"sleep\",\"1000\"", fixture->cgroup_parent,
                                  NULL, &err);
        if (r == 0)
            r = kk_ctd_task_create(c, ns, id, NULL, log, NULL, &err);
        if (r == 0)
            r = kk_ctd_task_start(c, ns, id, NULL, &err);
        ours += now_ms() - t0;
        KT_ASSERT_OK(r, &err);

        _cleanup_free_ char *cid = kk_xasprintf("ctr-%d", i);
        _cleanup_free_ char *cg = kk_xasprintf("/%s/%s", fixture->cgroup_parent, cid);
        _cleanup_free_ char *uri = kk_xasprintf("file://%s/%s.log", fixture->dir, cid);
        t0 = now_ms();
        r = run((char *[]){"ctr", "-a", fixture->address, "-n", ns, "run", "-d", "--snapshotter",
                           "overlayfs", "--cgroup", cg, "--log-uri", uri, IMAGE, cid, "sleep",
                           "1000", NULL});
        theirs += now_ms() - t0;
        KT_ASSERT_EQ(r, 0);

        struct kk_ctd_task_state a, b;
        KT_ASSERT_OK(kk_ctd_task_get(c, ns, id, &a, &err), &err);
        KT_ASSERT_OK(kk_ctd_task_get(c, ns, cid, &b, &err), &err);
        KT_ASSERT(a.status == KK_CTD_TASK_RUNNING && b.status == KK_CTD_TASK_RUNNING);
        started++;
    }
    printf("bench-task: kukeon create+start: %7.1f ms per task (%d tasks)\n", ours / n, n);
    printf("bench-task: ctr run -d:          %7.1f ms per task (%d tasks)\n", theirs / n, n);
    printf("bench-task: ratio kukeon/ctr: %.2fx; goal <= 1.0x\n", ours / theirs);
    fflush(stdout);

    /* sleep as PID 1 ignores SIGTERM: straight to SIGKILL. */
    for (int i = 0; i < started; i++) {
        _cleanup_free_ char *id = kk_xasprintf("kk-%d", i);
        _cleanup_free_ char *cid = kk_xasprintf("ctr-%d", i);
        KT_ASSERT_OK(kk_ctd_container_remove_safely(c, ns, id, 0, &err), &err);
        KT_ASSERT_OK(kk_ctd_container_remove_safely(c, ns, cid, 0, &err), &err);
    }
    KT_ASSERT_OK(kk_ctd_namespace_drain(c, ns, NULL, &err), &err);
    KT_ASSERT_OK(kk_ctd_namespace_delete(c, ns, &err), &err);
}
