#include "fsapi/atomic.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/clock.h"
#include "fsapi/fsutil.h"

#define SUFFIX_LEN 6

void (*kk_atomic_before_rename_hook)(const char *tmpname);

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static void random_suffix(char out[SUFFIX_LEN + 1])
{
    uint64_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
        uint64_t ns = (uint64_t)kk_clock_mono_ns(NULL);
        r = ns * 6364136223846793005ULL ^ (uint64_t)getpid() << 32;
    }
    for (int i = 0; i < SUFFIX_LEN; i++) {
        out[i] = alphabet[r % (sizeof(alphabet) - 1)];
        r /= sizeof(alphabet) - 1;
    }
    out[SUFFIX_LEN] = '\0';
}

bool kk_atomic_is_temp_name(const char *name)
{
    size_t len = strlen(name);
    /* "." + at least one char + "." + suffix */
    if (len < 3 + SUFFIX_LEN || name[0] != '.' || name[len - SUFFIX_LEN - 1] != '.')
        return false;
    for (size_t i = len - SUFFIX_LEN; i < len; i++)
        if (!strchr(alphabet, name[i]))
            return false;
    return true;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Creates, fills and syncs the temp file; on failure nothing is left. */
static int write_temp(int dirfd, const char *rel, const char *base, const void *data, size_t len,
                      mode_t mode, char tmp[NAME_MAX + 1], kk_error **err)
{
    _cleanup_close_ int fd = -1;
    for (int tries = 0; fd < 0; tries++) {
        char sfx[SUFFIX_LEN + 1];
        random_suffix(sfx);
        snprintf(tmp, NAME_MAX + 1, ".%s.%s", base, sfx);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && (errno != EEXIST || tries >= 100))
            return kk_error_errno(err, "create temp file for %s", rel);
    }
    if (write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        kk_error_errno(err, "write %s", rel);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    /* close() can report a deferred write error (NFS, quota). */
    if (close(TAKE_FD(fd)) < 0) {
        kk_error_errno(err, "write %s", rel);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    return 0;
}

int kk_atomic_write(int rootfd, const char *rel, const void *data, size_t len, mode_t mode,
                    kk_error **err)
{
    const char *base;
    _cleanup_close_ int dirfd = kk_fs_open_parent(rootfd, rel, &base, err);
    if (dirfd < 0)
        return kk_error_wrap(err, "write %s", rel);
    if (strlen(base) + SUFFIX_LEN + 2 > NAME_MAX)
        return kk_error_errnum(err, ENAMETOOLONG, "write %s", rel);

    struct stat st;
    if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            kk_error_set(err, KK_E_INVALID,
                         "write %s: the target is a symlink (symlinks are never followed "
                         "beneath the root)",
                         rel);
            (*err)->sys_errno = ELOOP;
            return -1;
        }
        if (S_ISDIR(st.st_mode))
            return kk_error_errnum(err, EISDIR, "write %s", rel);
    } else if (errno != ENOENT) {
        return kk_error_errno(err, "write %s", rel);
    }

    char tmp[NAME_MAX + 1];
    if (write_temp(dirfd, rel, base, data, len, mode, tmp, err) < 0)
        return -1;
    if (kk_atomic_before_rename_hook)
        kk_atomic_before_rename_hook(tmp);
    /* rename(2) replaces the name, never writes through it: even a symlink
     * planted after the check above is replaced, not followed. */
    if (renameat(dirfd, tmp, dirfd, base) < 0) {
        kk_error_errno(err, "write %s: rename", rel);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    if (fsync(dirfd) < 0)
        return kk_error_errno(err, "write %s: sync directory", rel);
    return 0;
}

int kk_atomic_write_if_changed(int rootfd, const char *rel, const void *data, size_t len,
                               mode_t mode, kk_error **err)
{
    _cleanup_buf_ struct kk_buf cur = KK_BUF_INIT;
    _cleanup_error_ kk_error *rerr = NULL;

    /* Read at most len + 1 bytes' worth: anything longer differs anyway. */
    if (kk_fs_read_file(rootfd, rel, len, &cur, &rerr) == 0) {
        if (cur.len == len && (len == 0 || memcmp(cur.data, data, len) == 0))
            return 0;
    } else if (rerr->sys_errno != ENOENT && rerr->sys_errno != EFBIG) {
        *err = TAKE_PTR(rerr);
        return kk_error_wrap(err, "write %s", rel);
    }
    if (kk_atomic_write(rootfd, rel, data, len, mode, err) < 0)
        return -1;
    return 1;
}

int kk_atomic_remove_stale(int rootfd, const char *rel, unsigned min_age_s, kk_error **err)
{
    _cleanup_fs_list_ struct kk_fs_list list = {NULL, 0};
    _cleanup_close_ int dirfd = kk_fs_open_dir(rootfd, rel, err);
    if (dirfd < 0)
        return -1;
    if (kk_fs_list_dir(dirfd, "", 100000, &list, err) < 0)
        return kk_error_wrap(err, "sweep %s", rel);
    int64_t now_s = kk_clock_real_ns(NULL) / KK_NSEC_PER_SEC;
    int removed = 0;
    for (size_t i = 0; i < list.n; i++) {
        const struct kk_fs_entry *e = &list.entries[i];
        struct stat st;
        if (e->type != DT_REG || !kk_atomic_is_temp_name(e->name))
            continue;
        if (fstatat(dirfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (now_s - (int64_t)st.st_mtim.tv_sec < (int64_t)min_age_s)
            continue;
        if (unlinkat(dirfd, e->name, 0) == 0)
            removed++;
        else if (errno != ENOENT)
            return kk_error_errno(err, "sweep %s: unlink %s", rel, e->name);
    }
    return removed;
}
