#include "kuke/watch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/contract.h"

#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |            \
     IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* Directories of a tree are few (KK_TREE_DIR_MAX per level): a flat array
 * searched linearly is enough. */
struct wdir {
    int wd;
    int level; /* components of rel; a containers/ directory is 5 */
    char *rel;
};

struct kuke_watch {
    int fd;
    char *state_dir;
    struct kk_key scope;
    int max_level;
    kuke_watch_fn fn;
    void *ud;
    struct wdir *dirs;
    size_t n, cap;
};

int kuke_watch_fd(const struct kuke_watch *w)
{
    return w->fd;
}

void kuke_watch_free(struct kuke_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->n; i++)
        free(w->dirs[i].rel);
    free(w->dirs);
    free(w->state_dir);
    free(w);
}

static struct wdir *find_wd(struct kuke_watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->dirs[i].wd == wd)
            return &w->dirs[i];
    return NULL;
}

/* Whether the directory `name` at `level` (its parent's level + 1) is one
 * to watch. */
static bool wanted(const struct kuke_watch *w, int level, const char *name)
{
    if (level > w->max_level)
        return false;
    if (level == KK_LEVEL_CONTAINER)
        return strcmp(name, KK_TREE_CONTAINERS) == 0;
    if (!kk_name_valid_n(name, strlen(name)))
        return false;
    return level > (int)w->scope.level || strcmp(name, w->scope.names[level - 1]) == 0;
}

static char *join(const char *dir, const char *name)
{
    return *dir ? kk_xasprintf("%s/%s", dir, name) : kk_xstrdup(name);
}

/* Watches rel and what is wanted beneath it; with `report`, calls fn for
 * each file found (they were created before the watch could see them). */
static void add_dir(struct kuke_watch *w, const char *rel, int level, bool report)
{
    _cleanup_free_ char *abs =
            *rel ? kk_xasprintf("%s/%s", w->state_dir, rel) : kk_xstrdup(w->state_dir);
    int wd = inotify_add_watch(w->fd, abs, WATCH_MASK);
    if (wd < 0)
        return; /* gone already, or not a directory: nothing to watch */
    struct wdir *d = find_wd(w, wd);
    if (!d) {
        void *p = w->dirs;
        kk_xgrow(&p, &w->cap, w->n + 1, sizeof(*w->dirs));
        w->dirs = p;
        d = &w->dirs[w->n++];
        d->wd = wd;
    } else {
        free(d->rel);
    }
    d->rel = kk_xstrdup(rel);
    d->level = level;
    /* Listed after the watch is in place: whatever appears from now on is
     * an event, whatever was there before is in the listing. */
    _cleanup_closedir_ DIR *dir = opendir(abs);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *child = join(rel, e->d_name);
        unsigned type = e->d_type;
        struct stat st;
        if (type == DT_UNKNOWN && fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        if (type == DT_DIR) {
            if (wanted(w, level + 1, e->d_name))
                add_dir(w, child, level + 1, report);
        } else if (report && type == DT_REG) {
            w->fn(child, IN_CREATE, w->ud);
        }
    }
}

int kuke_watch_open(const char *state_dir, const struct kk_key *scope, enum kk_key_level max_level,
                    kuke_watch_fn fn, void *ud, struct kuke_watch **out, kk_error **err)
{
    _cleanup_(kuke_watch_freep) struct kuke_watch *w = kk_xcalloc(1, sizeof(*w));
    w->fd = inotify_init1(IN_CLOEXEC);
    if (w->fd < 0)
        return kk_error_errno(err, "inotify");
    w->state_dir = kk_xstrdup(state_dir);
    if (scope)
        w->scope = *scope;
    w->max_level = (int)max_level;
    w->fn = fn;
    w->ud = ud;
    add_dir(w, "", 0, false);
    if (w->n == 0)
        return kk_error_errno(err, "watch %s", state_dir);
    *out = TAKE_PTR(w);
    return 0;
}

static void dispatch(struct kuke_watch *w, const struct inotify_event *e)
{
    if (e->mask & IN_Q_OVERFLOW) {
        /* The IN_CREATE of a directory may be among the events lost:
         * watch what is there now (those watched keep their wd). */
        add_dir(w, "", 0, false);
        w->fn("", IN_Q_OVERFLOW, w->ud);
        return;
    }
    struct wdir *d = find_wd(w, e->wd);
    if (!d)
        return;
    if (e->mask & IN_IGNORED) { /* the directory went away */
        free(d->rel);
        *d = w->dirs[--w->n];
        return;
    }
    if (!e->len)
        return;
    _cleanup_free_ char *rel = join(d->rel, e->name);
    if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) {
        int level = d->level + 1;
        if (wanted(w, level, e->name)) {
            w->fn(rel, e->mask, w->ud);
            add_dir(w, rel, level, true);
        }
        return;
    }
    w->fn(rel, e->mask, w->ud);
}

int kuke_watch_read(struct kuke_watch *w, kk_error **err)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    do
        n = read(w->fd, buf, sizeof(buf));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return kk_error_errno(err, "inotify");
    for (char *p = buf; p < buf + n;) {
        const struct inotify_event *e = (const struct inotify_event *)p;
        dispatch(w, e);
        p += sizeof(*e) + e->len;
    }
    return 0;
}
