/* runc and runtime/cgroup agree on where a container lives: given
 * linux.cgroupsPath = kk_cg_runc_path(), runc's cgroup for the container is
 * our leaf in every hierarchy (each v1 controller, name=systemd and the
 * cgroup2 companion on a hybrid host; the one hierarchy on v2), runc writes
 * its limits there, sees our freeze, and what runc leaves behind after
 * `delete` our remove takes away. Needs runc and busybox (Debian packages
 * runc and busybox-static). Its own root name, runc state dir and container
 * id; at exit the container is killed by pid and everything removed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/cleanup.h"
#include "fsapi/error.h"
#include "runtime/cgroup/cgroup.h"
#include "tests/integration/test-cgroup-util.h"
#include "tests/lib/kktest.h"

#define BUSYBOX "/bin/busybox"

static char root[64], id[64], dir[128];
static pid_t runc_run = -1, container = -1;

/* Runs `runc --root <dir>/state ARGS...`, output to <dir>/runc.log; returns
 * its exit status, or -1. With `wait` false, returns the pid instead. */
static int runc(bool wait, const char *const *args)
{
    const char *argv[16] = {"runc", "--root", NULL};
    _cleanup_free_ char *state = kk_xasprintf("%s/state", dir);
    _cleanup_free_ char *log = kk_xasprintf("%s/runc.log", dir);
    size_t n = 2;
    argv[n++] = state;
    for (size_t i = 0; args[i] && n + 1 < KK_ARRAY_SIZE(argv); i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        execv("/usr/sbin/runc", (char **)argv);
        execvp("runc", (char **)argv);
        _exit(127);
    }
    if (!wait)
        return pid;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void cleanup(void)
{
    thaw_root(root);
    if (container <= 0 && dir[0]) {
        _cleanup_free_ char *pidfile = kk_xasprintf("%s/pid", dir);
        _cleanup_free_ char *p = read_text(pidfile);
        container = p ? atoi(p) : -1;
    }
    if (container > 0)
        kill(container, SIGKILL); /* started by us, through runc */
    if (id[0]) {
        /* Kills what runc started and we did not see yet; runc run then
         * returns. */
        const char *del[] = {"delete", "--force", id, NULL};
        runc(true, del);
    }
    if (runc_run > 0) {
        waitpid(runc_run, NULL, 0);
        runc_run = -1;
    }
    remove_root(root);
    if (dir[0]) {
        _cleanup_free_ char *cmd = kk_xasprintf("rm -rf '%s'", dir);
        (void)!system(cmd);
    }
}

static bool write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool copy_file(const char *from, const char *to)
{
    _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
    _cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    char buf[65536];
    ssize_t n;
    if (in < 0 || out < 0)
        return false;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, n) != n)
            return false;
    return n == 0;
}

/* A bundle whose one process sleeps, in our leaf, with a pids limit for
 * runc to write. */
static bool make_bundle(const char *bundle, const char *cgroups_path)
{
    static const char *const dirs[] = {"", "/rootfs", "/rootfs/bin", "/rootfs/proc", "/rootfs/dev"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *d = kk_xasprintf("%s%s", bundle, dirs[i]);
        if (mkdir(d, 0755) < 0 && errno != EEXIST)
            return false;
    }
    _cleanup_free_ char *bb = kk_xasprintf("%s/rootfs/bin/busybox", bundle);
    _cleanup_free_ char *cfg = kk_xasprintf("%s/config.json", bundle);
    _cleanup_free_ char *json = kk_xasprintf(
            "{\"ociVersion\": \"1.0.2\",\n"
            " \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0},\n"
            "   \"args\": [\"/bin/busybox\", \"sleep\", \"120\"], \"env\": [\"PATH=/bin\"],\n"
            "   \"cwd\": \"/\", \"noNewPrivileges\": true},\n"
            " \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
            " \"hostname\": \"kktest\",\n"
            " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": "
            "\"proc\"},\n"
            "   {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
            "    \"options\": [\"nosuid\", \"mode=755\", \"size=1m\"]}],\n"
            " \"linux\": {\"cgroupsPath\": \"%s\",\n"
            "   \"resources\": {\"pids\": {\"limit\": 77},\n"
            "     \"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n"
            "   \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"},\n"
            "     {\"type\": \"mount\"}]}}\n",
            cgroups_path);
    return copy_file(BUSYBOX, bb) && write_file(cfg, json, 0644);
}

/* runc's own view: "running", "paused", ... from `runc state`. */
static bool runc_status_is(const char *want)
{
    _cleanup_free_ char *log = kk_xasprintf("%s/runc.log", dir);
    (void)!truncate(log, 0);
    const char *args[] = {"state", id, NULL};
    if (runc(true, args) != 0)
        return false;
    _cleanup_free_ char *out = read_text(log);
    _cleanup_free_ char *needle = kk_xasprintf("\"status\": \"%s\"", want);
    if (out && strstr(out, needle))
        return true;
    fprintf(stderr, "  runc state: want %s, got %s\n", want, out ? out : "(nothing)");
    return false;
}

KT_CASE(runc_container_lives_in_our_leaf)
{
    KT_REQUIRE_ROOT();
    KT_ASSERT_MSG(access(BUSYBOX, X_OK) == 0, "%s missing (busybox-static)", BUSYBOX);
    snprintf(root, sizeof(root), "kktest-cgr-%d", (int)getpid());
    snprintf(id, sizeof(id), "kktest-cgr-%d", (int)getpid());
    snprintf(dir, sizeof(dir), "/tmp/kktest-cgr-%d", (int)getpid());
    kt_atexit(cleanup);
    KT_ASSERT(mkdir(dir, 0700) == 0);

    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    struct kk_cg_config cfg = {.root = root};
    KT_ASSERT_OK(kk_cg_open_real(&cfg, &cg, &err), &err);
    const struct kk_cg_ref cell = {"r", "s", "st", "c", NULL, NULL};
    const struct kk_cg_ref leaf = {"r", "s", "st", "c", "app", "root"};
    const struct kk_cg_ref top = {0};
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);
    _cleanup_free_ char *path = NULL;
    KT_ASSERT_OK(kk_cg_runc_path(cg, &leaf, &path, &err), &err);

    _cleanup_free_ char *bundle = kk_xasprintf("%s/bundle", dir);
    _cleanup_free_ char *pidfile = kk_xasprintf("%s/pid", dir);
    KT_ASSERT(make_bundle(bundle, path));
    const char *run[] = {"run", "--bundle", bundle, "--pid-file", pidfile, id, NULL};
    runc_run = runc(false, run);
    KT_ASSERT(runc_run > 0);
    for (int i = 0; i < 1000 && container <= 0; i++) {
        _cleanup_free_ char *p = read_text(pidfile);
        if (p && *p)
            container = atoi(p);
        else
            usleep(10 * 1000);
        int status;
        if (container <= 0 && waitpid(runc_run, &status, WNOHANG) == runc_run) {
            runc_run = -1;
            _cleanup_free_ char *log = kk_xasprintf("%s/runc.log", dir);
            _cleanup_free_ char *out = read_text(log);
            KT_ASSERT_MSG(false, "runc run exited: %s", out ? out : "?");
        }
    }
    KT_ASSERT_MSG(container > 0, "no container pid after 10 s");
    KT_ASSERT(runc_status_is("running"));

    /* Where runc put it: our leaf, in every hierarchy there is. */
    char mounts[MAX_MOUNTS][256];
    size_t n = cgroup_mounts(mounts, MAX_MOUNTS), lines;
    KT_ASSERT(proc_in_cgroup(container, path, &lines));
    KT_ASSERT_EQ(lines, n);
    _cleanup_free_ pid_t *pids = NULL;
    size_t np = 0;
    KT_ASSERT_OK(kk_cg_procs(cg, &leaf, &pids, &np, &err), &err);
    KT_ASSERT(np == 1 && pids[0] == container);
    /* runc wrote the spec's limit into our leaf. */
    struct kk_cg_resources got;
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.pids_max, 77);

    /* Our freeze of the leaf is runc's pause. (A freeze of the cell stops
     * the container just as well, but runc 1.1 reports a cgroup frozen by
     * an ancestor as running: see docs/cgroups.md.) */
    KT_ASSERT_OK(kk_cg_freeze(cg, &leaf, true, 2000, &err), &err);
    KT_ASSERT(runc_status_is("paused"));
    KT_ASSERT_OK(kk_cg_freeze(cg, &leaf, false, 2000, &err), &err);
    KT_ASSERT(runc_status_is("running"));

    KT_ASSERT(kk_cg_remove(cg, &cell, 200, &err) < 0);
    KT_ASSERT_STREQ(err->reason, "CgroupBusy");
    kk_error_freep(&err);

    /* runc stops the container; `runc run` deletes it (and, on its way
     * out, the leaf) when the process ends... */
    const char *killa[] = {"kill", id, "KILL", NULL};
    KT_ASSERT_EQ(runc(true, killa), 0);
    int status;
    KT_ASSERT(waitpid(runc_run, &status, 0) == runc_run);
    runc_run = -1;
    container = -1;
    const char *state[] = {"state", id, NULL};
    KT_ASSERT(runc(true, state) != 0);
    id[0] = '\0';
    /* ... and our remove takes the rest, everywhere. */
    KT_ASSERT_OK(kk_cg_remove(cg, &top, 2000, &err), &err);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *gone = kk_xasprintf("%s/%s", mounts[i], root);
        KT_ASSERT_MSG(!is_dir(gone), "%s left behind", gone);
    }
}
