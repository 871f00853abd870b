#include "tests/lib/containerd-fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "fsapi/cleanup.h"

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS  5000
#define TASK_STATE_DIR   "io.containerd.runtime.v2.task"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int write_file(const char *path, const char *text, kk_error **err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return kk_error_errno(err, "create %s", path);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        return kk_error_errno(err, "write %s", path);
    return 0;
}

static bool socket_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

static int spawn(struct kt_ctd *f, kk_error **err)
{
    _cleanup_free_ char *config = kk_xasprintf("%s/config.toml", f->dir);
    unlink(f->address);
    pid_t pid = fork();
    if (pid < 0)
        return kk_error_errno(err, "fork");
    if (pid == 0) {
        int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        /* Its own process group, so a ^C of the test does not reach it
         * before the test's own cleanup does. */
        setpgid(0, 0);
        execlp("containerd", "containerd", "--config", config, (char *)NULL);
        _exit(127);
    }
    f->pid = pid;
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            f->pid = 0;
            return kk_error_set(err, KK_E_UNAVAILABLE, "containerd exited at start-up (see %s)",
                                f->log);
        }
        if (socket_answers(f->address))
            return 0;
        sleep_ms(20);
    }
    return kk_error_set(err, KK_E_DEADLINE, "containerd socket %s did not answer (see %s)",
                        f->address, f->log);
}

int kt_ctd_start(struct kt_ctd **out, kk_error **err)
{
    static unsigned counter;
    struct kt_ctd *f = kk_xcalloc(1, sizeof(*f));
    f->dir = kk_xasprintf("/var/tmp/kkctd-%d-XXXXXX", (int)getpid());
    if (!mkdtemp(f->dir)) {
        kk_error_errno(err, "mkdtemp %s", f->dir);
        free(f->dir);
        free(f);
        return -1;
    }
    f->address = kk_xasprintf("%s/containerd.sock", f->dir);
    f->state = kk_xasprintf("%s/state", f->dir);
    f->root = kk_xasprintf("%s/root", f->dir);
    f->log = kk_xasprintf("%s/containerd.log", f->dir);
    f->cgroup_parent = kk_xasprintf("kkctd-%d-%u", (int)getpid(), counter++);
    *out = f;

    _cleanup_free_ char *config = kk_xasprintf("%s/config.toml", f->dir);
    _cleanup_free_ char *toml =
            kk_xasprintf("version = 2\n"
                         "root = \"%s\"\n"
                         "state = \"%s\"\n"
                         "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
                         "[grpc]\n  address = \"%s\"\n"
                         "[ttrpc]\n  address = \"%s.ttrpc\"\n"
                         "[debug]\n  address = \"\"\n  level = \"info\"\n"
                         "[metrics]\n  address = \"\"\n"
                         "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"%s/opt\"\n",
                         f->root, f->state, f->address, f->address, f->dir);
    if (write_file(config, toml, err) < 0 || spawn(f, err) < 0)
        return kk_error_wrap(err, "private containerd in %s", f->dir);
    return 0;
}

void kt_ctd_stop(struct kt_ctd *f)
{
    if (!f || f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    for (int waited = 0;; waited += 20) {
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid)
            break;
        if (waited >= STOP_TIMEOUT_MS) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, NULL, 0);
            break;
        }
        sleep_ms(20);
    }
    f->pid = 0;
}

int kt_ctd_restart(struct kt_ctd *f, kk_error **err)
{
    kt_ctd_stop(f);
    if (spawn(f, err) < 0)
        return kk_error_wrap(err, "restart containerd in %s", f->dir);
    return 0;
}

static pid_t read_pid(const char *path)
{
    char buf[32] = "";
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
        return 0;
    long v = strtol(buf, NULL, 10);
    return v > 1 ? (pid_t)v : 0;
}

/* Calls fn(bundle_dir, ud) for state/<TASK_STATE_DIR>/<ns>/<id>. */
static void for_each_bundle(const struct kt_ctd *f, void (*fn)(const char *, void *), void *ud)
{
    _cleanup_free_ char *tasks = kk_xasprintf("%s/%s", f->state, TASK_STATE_DIR);
    _cleanup_closedir_ DIR *d = opendir(tasks);
    if (!d)
        return;
    struct dirent *ns;
    while ((ns = readdir(d))) {
        if (ns->d_name[0] == '.')
            continue;
        _cleanup_free_ char *nsdir = kk_xasprintf("%s/%s", tasks, ns->d_name);
        _cleanup_closedir_ DIR *nd = opendir(nsdir);
        struct dirent *id;
        while (nd && (id = readdir(nd))) {
            if (id->d_name[0] == '.')
                continue;
            _cleanup_free_ char *bundle = kk_xasprintf("%s/%s", nsdir, id->d_name);
            fn(bundle, ud);
        }
    }
}

struct pid_list {
    pid_t *v;
    size_t n, max;
};

static void add_pid(struct pid_list *l, pid_t pid)
{
    if (pid > 1 && l->n + 1 < l->max)
        l->v[l->n++] = pid;
}

/* The runc v2 shim writes no pid file, but it runs in the bundle
 * directory: find it by its working directory (never by name). */
static void add_processes_in(struct pid_list *l, const char *dir)
{
    _cleanup_closedir_ DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1)
            continue;
        char link[64], cwd[4096];
        snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
        ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
        if (n <= 0)
            continue;
        cwd[n] = '\0';
        if (strcmp(cwd, dir) == 0)
            add_pid(l, (pid_t)pid);
    }
}

static void collect_bundle_pids(const char *bundle, void *ud)
{
    _cleanup_free_ char *init = kk_xasprintf("%s/init.pid", bundle);
    add_pid(ud, read_pid(init));
    add_processes_in(ud, bundle);
}

size_t kt_ctd_pids(const struct kt_ctd *f, pid_t *pids, size_t max)
{
    struct pid_list l = {pids, 0, max};
    if (max == 0)
        return 0;
    add_pid(&l, f->pid);
    for_each_bundle(f, collect_bundle_pids, &l);
    pids[l.n] = 0;
    return l.n;
}

static bool pid_alive(pid_t pid)
{
    if (kill(pid, 0) < 0)
        return false;
    /* A zombie of someone else's still answers kill(0); look at its state. */
    char path[64], buf[512] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
        return false;
    const char *p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && p[2] == 'Z');
}

static void kill_and_reap(const pid_t *pids)
{
    for (const pid_t *p = pids; *p; p++)
        kill(*p, SIGKILL);
    for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 20) {
        bool any = false;
        for (const pid_t *p = pids; *p; p++) {
            waitpid(*p, NULL, WNOHANG); /* only reaps our own children */
            any |= pid_alive(*p);
        }
        if (!any)
            break;
        sleep_ms(20);
    }
}

/* Mount points at or below dir, deepest (latest) last. */
static char **mounts_under(const char *dir)
{
    _cleanup_fclose_ FILE *fp = fopen("/proc/self/mountinfo", "re");
    char **v = kk_xcalloc(1, sizeof(*v));
    size_t n = 0, cap = 1, dlen = strlen(dir);
    char *line = NULL;
    size_t linecap = 0;
    while (fp && getline(&line, &linecap, fp) > 0) {
        char mp[4096];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
            continue;
        if (strncmp(mp, dir, dlen) != 0 || (mp[dlen] != '/' && mp[dlen] != '\0'))
            continue;
        void *p = v;
        kk_xgrow(&p, &cap, n + 2, sizeof(*v));
        v = p;
        v[n++] = kk_xstrdup(mp);
        v[n] = NULL;
    }
    free(line);
    return v;
}

static void unmount_under(const char *dir)
{
    for (int round = 0; round < 8; round++) {
        _cleanup_strv_ char **v = mounts_under(dir);
        if (!v[0])
            return;
        size_t n = 0;
        while (v[n])
            n++;
        while (n-- > 0)
            umount2(v[n], MNT_DETACH);
    }
}

static int rmdir_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Calls fn on /sys/fs/cgroup/<hierarchy>/<parent> for each hierarchy. */
static void for_each_cgroup(const char *parent, void (*fn)(const char *, void *), void *ud)
{
    _cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *path = kk_xasprintf("/sys/fs/cgroup/%s/%s", e->d_name, parent);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            fn(path, ud);
    }
    /* A pure cgroup v2 host. */
    _cleanup_free_ char *v2 = kk_xasprintf("/sys/fs/cgroup/%s", parent);
    struct stat st;
    if (lstat(v2, &st) == 0 && S_ISDIR(st.st_mode))
        fn(v2, ud);
}

static void remove_cgroup_tree(const char *path, void *ud)
{
    (void)ud;
    /* cgroup directories hold only control files: rmdir bottom-up. */
    for (int round = 0; round < 50; round++) {
        nftw(path, rmdir_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (access(path, F_OK) != 0)
            return;
        sleep_ms(20);
    }
}

void kt_ctd_destroy(struct kt_ctd *f)
{
    if (!f)
        return;
    pid_t pids[256];
    kt_ctd_stop(f);
    /* The containers' init processes first (the pid namespace then dies
     * with them), then the shims. */
    if (kt_ctd_pids(f, pids, KK_ARRAY_SIZE(pids)) > 0)
        kill_and_reap(pids);
    unmount_under(f->dir);
    for_each_cgroup(f->cgroup_parent, remove_cgroup_tree, NULL);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    free(f->dir);
    free(f->address);
    free(f->state);
    free(f->root);
    free(f->log);
    free(f->cgroup_parent);
    free(f);
}

static void note_cgroup(const char *path, void *ud)
{
    kk_buf_printf(ud, " cgroup %s;", path);
}

bool kt_ctd_leftovers_none(const char *dir, const char *cgroup_parent, const pid_t *pids,
                           struct kk_buf *why)
{
    size_t before = why->len;
    for (const pid_t *p = pids; p && *p; p++)
        if (pid_alive(*p))
            kk_buf_printf(why, " pid %d alive;", (int)*p);
    _cleanup_strv_ char **m = mounts_under(dir);
    for (char **p = m; *p; p++)
        kk_buf_printf(why, " mount %s;", *p);
    for_each_cgroup(cgroup_parent, note_cgroup, why);
    if (access(dir, F_OK) == 0)
        kk_buf_printf(why, " directory %s;", dir);
    return why->len == before;
}
