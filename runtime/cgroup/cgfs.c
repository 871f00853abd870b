/* cgroupfs file helpers: small reads and writes beneath directory fds. */
#include "runtime/cgroup/cg-internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include "fsapi/buf.h"
#include "fsapi/clock.h"

void cg_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cg_open_dir(int fd, const char *rel, kk_error **err)
{
    _cleanup_close_ int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return kk_error_errno(err, "dup");
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        _cleanup_free_ char *name = kk_xstrndup(p, n);
        int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            return kk_error_errno(err, "open %s", name);
        close(cur);
        cur = next;
        p += n;
        while (*p == '/')
            p++;
    }
    return TAKE_FD(cur);
}

int cg_mkdir_child(int parent, const char *name, kk_error **err)
{
    if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
        return kk_error_errno(err, "mkdir %s", name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "open %s", name);
    return fd;
}

DIR *cg_opendir(int dirfd, const char *name, kk_error **err)
{
    /* A new open file description, not a dup: a dup would share the
     * directory offset, and a second listing of the same fd find nothing. */
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        kk_error_errno(err, "open %s", name);
        return NULL;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        kk_error_errno(err, "opendir %s", name);
        close(fd);
    }
    return d;
}

bool cg_has_file(int dirfd, const char *file)
{
    return faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int cg_read_file(int dirfd, const char *file, char **out, kk_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "open %s", file);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    int r = kk_buf_read_fd(&b, fd, CG_FILE_MAX);
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", file);
    kk_buf_adds(&b, "");
    while (b.len > 0 && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    *out = kk_buf_detach(&b, NULL);
    return 0;
}

int cg_write_file(int dirfd, const char *file, const char *value, kk_error **err)
{
    /* O_TRUNC is a no-op on cgroupfs and makes a plain-file fake behave. */
    _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "open %s", file);
    size_t len = strlen(value);
    ssize_t n = write(fd, value, len);
    if (n < 0)
        return kk_error_errno(err, "write \"%s\" to %s", value, file);
    if ((size_t)n != len)
        return kk_error_set(err, KK_E_INTERNAL, "write \"%s\" to %s: short write", value, file);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (strcmp(s, "max") == 0 || strcmp(s, "-1") == 0) {
        *out = KK_CG_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-' || (*end && *end != '\n' && *end != ' '))
        return -1;
    *out = v;
    return 0;
}

int cg_read_u64(int dirfd, const char *file, uint64_t *out, kk_error **err)
{
    _cleanup_free_ char *s = NULL;
    if (cg_read_file(dirfd, file, &s, err) < 0)
        return -1;
    if (parse_u64(s, out) < 0)
        return kk_error_set(err, KK_E_DATA_LOSS, "%s: \"%.32s\" is not a number", file, s);
    return 0;
}

int cg_write_u64(int dirfd, const char *file, uint64_t v, bool v1, kk_error **err)
{
    char s[32];
    if (v == KK_CG_MAX)
        snprintf(s, sizeof(s), "%s", v1 ? "-1" : "max");
    else
        snprintf(s, sizeof(s), "%" PRIu64, v);
    return cg_write_file(dirfd, file, s, err);
}

int cg_keyed_get(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *line = text; line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return parse_u64(line + klen + 1, out);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

int cg_read_pids(int dirfd, const char *file, pid_t **pids, size_t *n, kk_error **err)
{
    _cleanup_free_ char *s = NULL;
    if (cg_read_file(dirfd, file, &s, err) < 0)
        return -1;
    _cleanup_free_ pid_t *v = NULL;
    size_t len = 0, cap = 0;
    for (char *p = s, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p || pid <= 0)
            return kk_error_set(err, KK_E_DATA_LOSS, "%s: not a list of pids", file);
        if (len == CG_PIDS_MAX)
            return kk_error_set(err, KK_E_EXHAUSTED, "%s: more than %d pids", file, CG_PIDS_MAX);
        void *vp = v;
        kk_xgrow(&vp, &cap, len + 1, sizeof(*v));
        v = vp;
        v[len++] = (pid_t)pid;
        while (*end == '\n')
            end++;
    }
    *pids = TAKE_PTR(v);
    *n = len;
    return 0;
}

static int collect(int dirfd, pid_t *out, size_t max, size_t *n, int depth, kk_error **err)
{
    _cleanup_free_ pid_t *pids = NULL;
    size_t np = 0;
    if (cg_read_pids(dirfd, "cgroup.procs", &pids, &np, err) < 0)
        return -1;
    for (size_t i = 0; i < np && *n < max; i++)
        out[(*n)++] = pids[i];
    if (*n >= max || depth >= CG_DEPTH_MAX)
        return 0;
    _cleanup_closedir_ DIR *d = cg_opendir(dirfd, ".", err);
    if (!d)
        return -1;
    for (struct dirent *de; (de = readdir(d));) {
        if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) || de->d_name[0] == '.')
            continue;
        _cleanup_close_ int child =
                openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            return kk_error_errno(err, "open %s", de->d_name);
        }
        if (collect(child, out, max, n, depth + 1, err) < 0)
            return kk_error_wrap(err, "%s", de->d_name);
    }
    return 0;
}

int cg_collect_pids(int dirfd, pid_t *out, size_t max, size_t *n, kk_error **err)
{
    return collect(dirfd, out, max, n, 0, err);
}

static int event_is(int dirfd, const char *key, uint64_t want, bool *done, kk_error **err)
{
    _cleanup_free_ char *text = NULL;
    uint64_t v;
    if (cg_read_file(dirfd, "cgroup.events", &text, err) < 0)
        return -1;
    if (cg_keyed_get(text, key, &v) < 0)
        return kk_error_set(err, KK_E_UNIMPLEMENTED, "cgroup.events has no \"%s\" key", key);
    *done = v == want;
    return 0;
}

int cg_wait_event(int dirfd, const char *key, uint64_t want, int timeout_ms, kk_error **err)
{
    int64_t deadline = kk_clock_mono_ms(NULL) + (timeout_ms > 0 ? timeout_ms : 0);
    bool done = false;

    /* Watch first, then read, so a change between the two is not lost. */
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino < 0)
        return kk_error_errno(err, "inotify_init1");
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d/cgroup.events", dirfd);
    if (inotify_add_watch(ino, path, IN_MODIFY) < 0)
        return kk_error_errno(err, "inotify watch cgroup.events");
    for (;;) {
        if (event_is(dirfd, key, want, &done, err) < 0)
            return -1;
        if (done)
            return 0;
        int64_t left = deadline - kk_clock_mono_ms(NULL);
        if (left <= 0)
            return kk_error_set(err, KK_E_DEADLINE,
                                "cgroup.events: no \"%s %" PRIu64 "\" after %d ms", key, want,
                                timeout_ms);
        struct pollfd pfd = {.fd = ino, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return kk_error_errno(err, "poll inotify");
        char buf[4096];
        while (read(ino, buf, sizeof(buf)) > 0)
            ;
    }
}

static int rmtree(int parent, const char *name, int64_t deadline_ms, int depth, kk_error **err)
{
    if (depth > CG_DEPTH_MAX)
        return kk_error_set(err, KK_E_OUT_OF_RANGE, "%s: more than %d levels deep", name,
                            CG_DEPTH_MAX);
    _cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || (errno == ENOTDIR && depth > 0))
            return 0;
        return kk_error_errno(err, "open %s", name);
    }
    _cleanup_closedir_ DIR *d = cg_opendir(fd, ".", err);
    if (!d)
        return kk_error_wrap(err, "%s", name);
    for (struct dirent *de; (de = readdir(d));) {
        if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) || strcmp(de->d_name, ".") == 0 ||
            strcmp(de->d_name, "..") == 0)
            continue;
        if (rmtree(fd, de->d_name, deadline_ms, depth + 1, err) < 0)
            return kk_error_wrap(err, "%s", name);
    }
    for (int delay = 1;; delay = delay < 50 ? delay * 2 : 50) {
        if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || kk_clock_mono_ms(NULL) >= deadline_ms)
            return kk_error_errno(err, "rmdir %s", name);
        cg_sleep_ms(delay);
    }
}

int cg_rmtree(int parent, const char *name, int64_t deadline_ms, kk_error **err)
{
    return rmtree(parent, name, deadline_ms, 0, err);
}

int cg_busy_error(int dirfd, const char *what, int timeout_ms, kk_error **err)
{
    pid_t pids[8];
    size_t n = 0;
    _cleanup_error_ kk_error *ignored = NULL;
    cg_collect_pids(dirfd, pids, KK_ARRAY_SIZE(pids), &n, &ignored);
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        kk_buf_printf(&b, "%s%d", i ? " " : "", (int)pids[i]);
    kk_error_set(err, KK_E_PRECONDITION, "cgroup %s still has processes after %d ms (pids %s%s)",
                 what, timeout_ms, n ? kk_buf_str(&b) : "unknown",
                 n == KK_ARRAY_SIZE(pids) ? " ..." : "");
    return kk_error_reason(err, "CgroupBusy");
}
