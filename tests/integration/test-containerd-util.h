/* Helpers shared by the containerd integration tests (and benchmarks): a
 * busybox rootfs snapshot built in place, a small OCI spec, SHA-256
 * digests, an event collector. Test code: everything is static. */
#ifndef KUKEON_TEST_CONTAINERD_UTIL_H
#define KUKEON_TEST_CONTAINERD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "runtime/containerd/containerd.h"
#include "tests/lib/containerd-fixture.h"

#define KT_BUSYBOX "/bin/busybox"

__attribute__((unused)) static char *kt_sha256(const void *data, size_t len)
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_adds(&b, "sha256:");
    for (unsigned i = 0; i < n; i++)
        kk_buf_printf(&b, "%02x", md[i]);
    return kk_buf_detach(&b, NULL);
}

/* Mounts what a snapshotter returned at target (bind or overlay). */
__attribute__((unused)) static int kt_mount_all(const struct kk_ctd_mounts *m, const char *target,
                                                kk_error **err)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct kk_ctd_mount *mt = &m->v[i];
        unsigned long flags = 0;
        struct kk_buf data = KK_BUF_INIT;
        for (char **o = mt->options; o && *o; o++) {
            if (strcmp(*o, "bind") == 0)
                flags |= MS_BIND;
            else if (strcmp(*o, "rbind") == 0)
                flags |= MS_BIND | MS_REC;
            else if (strcmp(*o, "ro") == 0)
                flags |= MS_RDONLY;
            else if (strcmp(*o, "rw") != 0) {
                if (data.len)
                    kk_buf_addch(&data, ',');
                kk_buf_adds(&data, *o);
            }
        }
        if (strcmp(mt->type, "bind") == 0)
            flags |= MS_BIND;
        int r = mount(mt->source, target, mt->type, flags, data.len ? data.data : NULL);
        kk_buf_release(&data);
        if (r < 0)
            return kk_error_errno(err, "mount %s (%s) on %s", mt->source, mt->type, target);
    }
    return 0;
}

__attribute__((unused)) static int kt_copy_file(const char *from, const char *to, mode_t mode,
                                                kk_error **err)
{
    _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kk_error_errno(err, "open %s", from);
    _cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0)
        return kk_error_errno(err, "create %s", to);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return kk_error_errno(err, "write %s", to);
    return n < 0 ? kk_error_errno(err, "read %s", from) : 0;
}

/* Makes a committed snapshot `name` holding /bin/busybox and its applets,
 * by preparing an active snapshot, mounting it, filling it and committing.
 * `scratch` is an empty directory to mount on. */
__attribute__((unused)) static int kt_busybox_snapshot(struct kk_ctd *c, const char *ns,
                                                       const char *name, const char *scratch,
                                                       kk_error **err)
{
    static const char *const applets[] = {"sh",    "sleep", "echo", "cat",  "httpd", "true",
                                          "false", "ls",    "wget", "kill", "yes",   "head"};
    /* A GC root, or the collector removes it once nothing refers to it. */
    const char *labels[] = {"containerd.io/gc.root", "2026-01-01T00:00:00Z", NULL};
    _cleanup_free_ char *key = kk_xasprintf("%s-build", name);
    struct kk_ctd_mounts m = {0};
    if (kk_ctd_snapshot_prepare(c, ns, NULL, key, NULL, labels, &m, err) < 0)
        return -1;
    int r = kt_mount_all(&m, scratch, err);
    kk_ctd_mounts_clear(&m);
    if (r == 0) {
        _cleanup_free_ char *bin = kk_xasprintf("%s/bin", scratch);
        _cleanup_free_ char *bb = kk_xasprintf("%s/bin/busybox", scratch);
        if (mkdir(bin, 0755) < 0 && errno != EEXIST)
            r = kk_error_errno(err, "mkdir %s", bin);
        if (r == 0)
            r = kt_copy_file(KT_BUSYBOX, bb, 0755, err);
        for (size_t i = 0; r == 0 && i < KK_ARRAY_SIZE(applets); i++) {
            _cleanup_free_ char *link = kk_xasprintf("%s/%s", bin, applets[i]);
            if (symlink("busybox", link) < 0)
                r = kk_error_errno(err, "symlink %s", link);
        }
        static const char *const dirs[] = {"proc", "dev", "sys", "tmp", "etc", "www"};
        for (size_t i = 0; r == 0 && i < KK_ARRAY_SIZE(dirs); i++) {
            _cleanup_free_ char *d = kk_xasprintf("%s/%s", scratch, dirs[i]);
            if (mkdir(d, 0755) < 0)
                r = kk_error_errno(err, "mkdir %s", d);
        }
        umount2(scratch, MNT_DETACH);
    }
    if (r == 0)
        r = kk_ctd_snapshot_commit(c, ns, NULL, name, key, labels, err);
    if (r < 0) {
        kk_error *ignored = NULL;
        kk_ctd_snapshot_remove(c, ns, NULL, key, &ignored);
        kk_error_free(ignored);
    }
    return r;
}

/* A minimal OCI runtime spec running `args` (a JSON array body, e.g.
 * "\"sh\",\"-c\",\"echo hi\""), with its cgroup below cgroup_parent. */
__attribute__((unused)) static char *kt_spec_json(const char *args, const char *cgroup_parent,
                                                  const char *id)
{
    return kk_xasprintf("{\"ociVersion\":\"1.0.2-dev\","
                        "\"process\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},"
                        "\"args\":[%s],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\","
                        "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
                        "\"effective\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
                        "\"permitted\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
                        "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
                        "\"noNewPrivileges\":true},"
                        "\"root\":{\"path\":\"rootfs\"},\"hostname\":\"kktest\","
                        "\"mounts\":["
                        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","
                        "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
                        "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                        "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
                        "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
                        "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\","
                        "\"mode=0620\"]},"
                        "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
                        "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],"
                        "\"linux\":{\"cgroupsPath\":\"/%s/%s\","
                        "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}],"
                        "\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":64}},"
                        "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
                        "{\"type\":\"mount\"},{\"type\":\"network\"}],"
                        "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"]}}",
                        args, cgroup_parent, id);
}

/* Snapshot `id` on top of `rootfs`, and a container `id` running args. */
__attribute__((unused)) static int kt_make_container(struct kk_ctd *c, const char *ns,
                                                     const char *id, const char *rootfs,
                                                     const char *args, const char *cgroup_parent,
                                                     const char *const *labels, kk_error **err)
{
    _cleanup_free_ char *spec = kt_spec_json(args, cgroup_parent, id);
    struct kk_ctd_container_spec cs = {
            .id = id,
            .image = "kktest/busybox:latest",
            .labels = labels,
            .spec_json = spec,
            .spec_len = strlen(spec),
    };
    return kk_ctd_container_create_from(c, ns, &cs, rootfs, err);
}

/* Collects events from the I/O thread for a test to wait on. */
struct kt_events {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct kt_event {
        enum kk_ctd_event_kind kind;
        char container_id[128];
        char ns[128];
        uint32_t exit_status;
    } v[256];
    size_t n;
};

__attribute__((unused)) static void kt_events_init(struct kt_events *e)
{
    memset(e, 0, sizeof(*e));
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
}

__attribute__((unused)) static void kt_events_collect(const struct kk_ctd_event *ev, void *ud)
{
    struct kt_events *e = ud;
    pthread_mutex_lock(&e->lock);
    if (e->n < KK_ARRAY_SIZE(e->v)) {
        struct kt_event *x = &e->v[e->n++];
        x->kind = ev->kind;
        snprintf(x->container_id, sizeof(x->container_id), "%s", ev->container_id);
        snprintf(x->ns, sizeof(x->ns), "%s", ev->ns);
        x->exit_status = ev->exit_status;
    }
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

/* Waits up to timeout_ms for an event of `kind` (for container `id`, if
 * not NULL); returns its index or -1. */
__attribute__((unused)) static int kt_events_wait(struct kt_events *e, enum kk_ctd_event_kind kind,
                                                  const char *id, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int found = -1;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        for (size_t i = 0; i < e->n && found < 0; i++)
            if (e->v[i].kind == kind && (!id || strcmp(e->v[i].container_id, id) == 0))
                found = (int)i;
        if (found >= 0 || pthread_cond_timedwait(&e->cond, &e->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&e->lock);
    return found;
}

/* Reads a whole small file into a new string ("" if missing). */
__attribute__((unused)) static char *kt_read_file(const char *path)
{
    struct kk_buf b = KK_BUF_INIT;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        kk_buf_read_fd(&b, fd, 1 << 20);
    kk_buf_add(&b, "", 0);
    return kk_buf_detach(&b, NULL);
}

#endif
