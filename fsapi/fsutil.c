#include "fsapi/fsutil.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 0: not probed yet, 1: openat2 works, 2: use the openat walk. */
static atomic_int openat2_state;
static atomic_bool forced_fallback;

bool kk_fs_have_openat2(void)
{
    return !atomic_load(&forced_fallback) && atomic_load(&openat2_state) == 1;
}

void kk_fs_force_fallback(bool on)
{
    atomic_store(&forced_fallback, on);
}

bool kk_fs_relpath_valid(const char *rel)
{
    if (!rel)
        return false;
    size_t total = strnlen(rel, PATH_MAX);
    if (total >= PATH_MAX || rel[0] == '/')
        return false;
    if (total == 0 || strcmp(rel, ".") == 0)
        return true;
    for (const char *p = rel;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len > NAME_MAX)
            return false;
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

static bool is_root_rel(const char *rel)
{
    return rel[0] == '\0' || strcmp(rel, ".") == 0;
}

/* Fails with a message naming the path; ELOOP/EXDEV (a symlink or an escape
 * attempt) get an explicit one rather than "Too many levels of symbolic
 * links". */
static int path_error(kk_error **err, int errnum, const char *op, const char *rel)
{
    if (errnum == ELOOP || errnum == EXDEV) {
        kk_error_set(err, KK_E_INVALID,
                     "%s %s: a symlink is in the way (symlinks are never followed "
                     "beneath the root)",
                     op, is_root_rel(rel) ? "." : rel);
        (*err)->sys_errno = ELOOP;
        return -1;
    }
    return kk_error_errnum(err, errnum, "%s %s", op, is_root_rel(rel) ? "." : rel);
}

/* ENOTDIR from O_PATH|O_DIRECTORY|O_NOFOLLOW on a symlink means "symlink". */
static int refine_errno(int dirfd, const char *name, int errnum)
{
    struct stat st;
    if (errnum == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        return ELOOP;
    return errnum;
}

/* The fallback: walk rel one component at a time. Returns fd or -errno. */
static int walk_open(int rootfd, const char *rel, int flags, mode_t mode)
{
    _cleanup_close_ int cur = -1;
    int dirfd = rootfd;
    const char *p = rel;

    if (is_root_rel(rel))
        p = ".";
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        char comp[NAME_MAX + 1];
        size_t len = (size_t)(slash - p);
        memcpy(comp, p, len);
        comp[len] = '\0';
        int fd = openat(dirfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -refine_errno(dirfd, comp, errno);
        kk_closep(&cur);
        cur = fd;
        dirfd = cur;
        p = slash + 1;
    }
    int fd = openat(dirfd, p, flags, mode);
    if (fd < 0)
        return -refine_errno(dirfd, p, errno);
    return fd;
}

static int try_openat2(int rootfd, const char *rel, int flags, mode_t mode)
{
    struct open_how how = {
            .flags = (unsigned long long)flags,
            .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    /* EAGAIN: a concurrent rename raced the kernel's path check; retry. */
    int tries = 0;
    do
        fd = syscall(SYS_openat2, rootfd, is_root_rel(rel) ? "." : rel, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN && ++tries < 16);
    return fd < 0 ? -errno : (int)fd;
}

/* Returns fd or -errno. */
static int open_beneath(int rootfd, const char *rel, int flags, mode_t mode)
{
    flags |= O_NOFOLLOW | O_CLOEXEC;
    if (!atomic_load(&forced_fallback) && atomic_load(&openat2_state) != 2) {
        int fd = try_openat2(rootfd, rel, flags, mode);
        if (fd != -ENOSYS) {
            atomic_store(&openat2_state, 1);
            /* O_NOFOLLOW | O_DIRECTORY on a symlink says ENOTDIR: let the
             * walk find out which component it was and say ELOOP. */
            if (fd == -ENOTDIR)
                return walk_open(rootfd, rel, flags, mode);
            return fd == -EXDEV ? -ELOOP : fd;
        }
        atomic_store(&openat2_state, 2);
    }
    return walk_open(rootfd, rel, flags, mode);
}

int kk_fs_open_root(const char *path, kk_error **err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kk_error_errno(err, "open root %s", path);
    return fd;
}

int kk_fs_open(int rootfd, const char *rel, int flags, mode_t mode, kk_error **err)
{
    if (!kk_fs_relpath_valid(rel))
        return kk_error_set(err, KK_E_INVALID, "invalid relative path \"%.200s\"", rel ? rel : "");
    int fd = open_beneath(rootfd, rel, flags, mode);
    if (fd < 0)
        return path_error(err, -fd, "open", rel);
    return fd;
}

int kk_fs_open_dir(int rootfd, const char *rel, kk_error **err)
{
    return kk_fs_open(rootfd, rel, O_RDONLY | O_DIRECTORY, 0, err);
}

int kk_fs_open_parent(int rootfd, const char *rel, const char **base, kk_error **err)
{
    if (!kk_fs_relpath_valid(rel) || is_root_rel(rel)) {
        /* An explicit -1: callers use *base exactly when the result is >= 0,
         * which a reader (and clang's analyzer) can only see from here. */
        kk_error_set(err, KK_E_INVALID, "invalid relative path \"%.200s\"", rel ? rel : "");
        return -1;
    }
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        *base = rel;
        return kk_fs_open_dir(rootfd, "", err);
    }
    _cleanup_free_ char *parent = kk_xstrndup(rel, (size_t)(slash - rel));
    int fd = kk_fs_open_dir(rootfd, parent, err);
    if (fd < 0)
        return -1;
    *base = slash + 1;
    return fd;
}

int kk_fs_mkdir_p(int rootfd, const char *rel, mode_t mode, int *dirfd, kk_error **err)
{
    if (!kk_fs_relpath_valid(rel))
        return kk_error_set(err, KK_E_INVALID, "invalid relative path \"%.200s\"", rel ? rel : "");
    _cleanup_close_ int cur = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return kk_error_errno(err, "open root");
    const char *p = rel;
    while (!is_root_rel(rel) && *p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char comp[NAME_MAX + 1];
        memcpy(comp, p, len);
        comp[len] = '\0';
        /* mkdirat never follows a symlink in its last component (EEXIST);
         * the O_NOFOLLOW open below then refuses it. */
        if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST)
            return path_error(err, errno, "mkdir", rel);
        int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return path_error(err, refine_errno(cur, comp, errno), "mkdir", rel);
        kk_closep(&cur);
        cur = fd;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (dirfd)
        *dirfd = TAKE_FD(cur);
    return 0;
}

int kk_fs_open_regular(int rootfd, const char *rel, struct stat *st, kk_error **err)
{
    /* O_NONBLOCK: opening a FIFO planted in the tree must not hang us. */
    _cleanup_close_ int fd = kk_fs_open(rootfd, rel, O_RDONLY | O_NONBLOCK, 0, err);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0)
        return kk_error_errno(err, "stat %s", rel);
    if (!S_ISREG(st->st_mode))
        return kk_error_set(err, KK_E_INVALID, "read %s: not a regular file", rel);
    return TAKE_FD(fd);
}

int kk_fs_read_file(int rootfd, const char *rel, size_t max, struct kk_buf *out, kk_error **err)
{
    kk_buf_reset(out);
    struct stat st;
    _cleanup_close_ int fd = kk_fs_open_regular(rootfd, rel, &st, err);
    if (fd < 0)
        return -1;
    if ((uintmax_t)st.st_size > max)
        return kk_error_errnum(err, EFBIG, "read %s: larger than %zu bytes", rel, max);
    int r = kk_buf_read_fd(out, fd, max);
    if (r < 0) {
        kk_buf_reset(out);
        if (r == -EFBIG)
            return kk_error_errnum(err, EFBIG, "read %s: larger than %zu bytes", rel, max);
        return kk_error_errnum(err, -r, "read %s", rel);
    }
    return 0;
}

int kk_fs_unlink(int rootfd, const char *rel, kk_error **err)
{
    const char *base;
    _cleanup_close_ int dirfd = kk_fs_open_parent(rootfd, rel, &base, err);
    if (dirfd < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND) {
            kk_error_freep(err);
            return 0;
        }
        return -1;
    }
    if (unlinkat(dirfd, base, 0) < 0) {
        if (errno == ENOENT)
            return 0;
        return kk_error_errno(err, "unlink %s", rel);
    }
    return 1;
}

/* Empties the directory `fd` (which it consumes). Returns 0 or -errno. */
static int remove_children(int fd, unsigned depth)
{
    if (depth >= KK_FS_MAX_DEPTH) {
        close(fd);
        return -ELOOP;
    }
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    /* Unlinking while reading may hide entries on some filesystems: make
     * passes until one finds nothing left. */
    for (int pass = 0; pass < 8; pass++) {
        bool found = false;
        struct dirent *de;
        rewinddir(d);
        errno = 0;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            found = true;
            unsigned char type = de->d_type;
            struct stat st;
            if (type == DT_UNKNOWN) {
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                    if (errno == ENOENT)
                        continue;
                    return -errno;
                }
                type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
            }
            if (type == DT_DIR) {
                int child = openat(dirfd(d), de->d_name,
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) {
                    if (errno == ENOENT)
                        continue;
                    return -errno;
                }
                int r = remove_children(child, depth + 1);
                if (r < 0)
                    return r;
                if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                    return -errno;
            } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
                return -errno;
            }
            errno = 0;
        }
        if (errno)
            return -errno;
        if (!found)
            return 0;
    }
    return -ENOTEMPTY;
}

int kk_fs_remove_tree(int rootfd, const char *rel, kk_error **err)
{
    const char *base;
    _cleanup_close_ int dirfd = kk_fs_open_parent(rootfd, rel, &base, err);
    if (dirfd < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND) {
            kk_error_freep(err);
            return 0;
        }
        return -1;
    }
    struct stat st;
    if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return kk_error_errno(err, "remove %s", rel);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT)
            return kk_error_errno(err, "remove %s", rel);
        return 1;
    }
    int fd = openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return path_error(err, refine_errno(dirfd, base, errno), "remove", rel);
    int r = remove_children(fd, 0);
    if (r < 0)
        return path_error(err, -r, "remove", rel);
    if (unlinkat(dirfd, base, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return kk_error_errno(err, "remove %s", rel);
    return 1;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kk_fs_entry *)a)->name, ((const struct kk_fs_entry *)b)->name);
}

/* TAKE_PTR for a list: the caller gets the entries, *list is left empty for
 * its cleanup. */
static struct kk_fs_list list_take(struct kk_fs_list *list)
{
    struct kk_fs_list taken = *list;
    *list = (struct kk_fs_list){NULL, 0};
    return taken;
}

int kk_fs_list_dir(int rootfd, const char *rel, size_t max, struct kk_fs_list *out, kk_error **err)
{
    _cleanup_fs_list_ struct kk_fs_list list = {NULL, 0};
    size_t cap = 0;
    int fd = kk_fs_open_dir(rootfd, rel, err);
    if (fd < 0)
        return -1;
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return kk_error_errnum(err, e, "list %s", is_root_rel(rel) ? "." : rel);
    }
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                errno = 0;
                continue;
            }
            type = IFTODT(st.st_mode);
        }
        if (list.n == max)
            return kk_error_set(err, KK_E_EXHAUSTED, "list %s: more than %zu entries",
                                is_root_rel(rel) ? "." : rel, max);
        void *p = list.entries;
        kk_xgrow(&p, &cap, list.n + 1, sizeof(*list.entries));
        list.entries = p;
        list.entries[list.n++] = (struct kk_fs_entry){kk_xstrdup(de->d_name), type};
        errno = 0;
    }
    if (errno)
        return kk_error_errno(err, "list %s", is_root_rel(rel) ? "." : rel);
    if (list.n)
        qsort(list.entries, list.n, sizeof(*list.entries), entry_cmp);
    *out = list_take(&list);
    return 0;
}

void kk_fs_list_release(struct kk_fs_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->entries[i].name);
    free(list->entries);
    list->entries = NULL;
    list->n = 0;
}

int kk_fs_mkdir_p_abs(const char *path, mode_t mode, kk_error **err)
{
    if (!path || path[0] != '/')
        return kk_error_set(err, KK_E_INVALID, "not an absolute path: %s", path ? path : "(null)");
    size_t len = strlen(path);
    if (len >= PATH_MAX)
        return kk_error_set(err, KK_E_INVALID, "path too long: %.64s...", path);
    char buf[PATH_MAX];
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, saved ? 0755 : mode) < 0 && errno != EEXIST)
            return kk_error_errno(err, "mkdir %s", buf);
        *p = saved;
        if (!saved)
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return kk_error_errno(err, "stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return kk_error_set(err, KK_E_INVALID, "%s: not a directory", path);
    return 0;
}
