#include "agent/watch.h"

#include <fcntl.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "fsapi/buf.h"
#include "fsapi/fsutil.h"
#include "fsapi/inbox.h"
#include "fsapi/log.h"

/* Only complete writes, arrivals and departures; IN_CREATE for directories
 * (and symlinks in the inbox), never IN_MODIFY. */
#define TREE_MASK                                                                                  \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR |           \
     IN_EXCL_UNLINK)
#define INBOX_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR |           \
     IN_EXCL_UNLINK)
#define PARENT_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)

/* A spec larger than this is not one the agent wrote. */
#define SELF_WRITE_MAX (1 << 20)
#define DIGEST_LEN     32

/* libinotifytools is process-global: one watcher per process. */
static atomic_bool watcher_exists;

struct dirwatch {
    int wd;
    bool seen; /* mark for the overflow resync */
    char *rel; /* "" for the state root */
};

struct self_note {
    char *rel;
    bool removed;
    unsigned char digest[DIGEST_LEN];
};

/* A sorted set of inbox file names. */
struct nameset {
    char **v;
    size_t n, cap;
};

struct kk_watch {
    kk_watch_fn fn;
    void *userdata;
    size_t max_inbox_files, max_dirs;
    bool lib_initialized;
    int fd; /* libinotifytools' inotify descriptor (it owns it) */

    char *state;
    int rootfd;
    struct dirwatch *dirs; /* sorted by wd */
    size_t ndirs, capdirs;

    char *inbox;        /* as configured */
    char *inbox_parent; /* its directory */
    char *inbox_base;   /* its last component */
    int inbox_wd, parent_wd;
    dev_t inbox_dev;
    ino_t inbox_ino;
    struct nameset inbox_names;

    pthread_mutex_t self_mu;
    struct self_note *self;
    size_t nself, capself;
};

/* --- small helpers ------------------------------------------------------ */

static char *rel_join(const char *dir, const char *name)
{
    return *dir ? kk_xasprintf("%s/%s", dir, name) : kk_xstrdup(name);
}

/* True if rel is `top` or beneath it. */
static bool rel_within(const char *rel, const char *top)
{
    size_t n = strlen(top);
    if (n == 0)
        return true;
    return strncmp(rel, top, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

static void emit(struct kk_watch *w, enum kk_watch_type type, const char *name,
                 const struct kk_key *key, const char *path)
{
    struct kk_watch_event ev = {.type = type, .name = name, .path = path};
    if (key)
        ev.key = *key;
    w->fn(w->userdata, &ev);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool nameset_has(const struct nameset *s, const char *name)
{
    return s->n && bsearch(&name, s->v, s->n, sizeof(*s->v), name_cmp);
}

static void nameset_add(struct nameset *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->v[mid], name);
        if (c == 0)
            return;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    void *p = s->v;
    kk_xgrow(&p, &s->cap, s->n + 1, sizeof(*s->v));
    s->v = p;
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(*s->v));
    s->v[lo] = kk_xstrdup(name);
    s->n++;
}

static void nameset_del(struct nameset *s, const char *name)
{
    char **hit = s->n ? bsearch(&name, s->v, s->n, sizeof(*s->v), name_cmp) : NULL;
    if (!hit)
        return;
    free(*hit);
    size_t i = (size_t)(hit - s->v);
    memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

static void nameset_release(struct nameset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (struct nameset){NULL, 0, 0};
}

/* --- the wd -> directory map -------------------------------------------- */

static size_t dir_lower_bound(const struct kk_watch *w, int wd)
{
    size_t lo = 0, hi = w->ndirs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->dirs[mid].wd < wd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct dirwatch *dir_find(struct kk_watch *w, int wd)
{
    size_t i = dir_lower_bound(w, wd);
    return i < w->ndirs && w->dirs[i].wd == wd ? &w->dirs[i] : NULL;
}

static void dir_put(struct kk_watch *w, int wd, const char *rel)
{
    size_t i = dir_lower_bound(w, wd);
    if (i < w->ndirs && w->dirs[i].wd == wd) {
        /* The kernel gives one wd per inode: same directory, maybe a new name. */
        free(w->dirs[i].rel);
        w->dirs[i].rel = kk_xstrdup(rel);
        w->dirs[i].seen = true;
        return;
    }
    void *p = w->dirs;
    kk_xgrow(&p, &w->capdirs, w->ndirs + 1, sizeof(*w->dirs));
    w->dirs = p;
    memmove(w->dirs + i + 1, w->dirs + i, (w->ndirs - i) * sizeof(*w->dirs));
    w->dirs[i] = (struct dirwatch){wd, true, kk_xstrdup(rel)};
    w->ndirs++;
}

static void dir_drop_at(struct kk_watch *w, size_t i)
{
    free(w->dirs[i].rel);
    memmove(w->dirs + i, w->dirs + i + 1, (w->ndirs - i - 1) * sizeof(*w->dirs));
    w->ndirs--;
}

/* --- self-writes -------------------------------------------------------- */

static void digest(const void *data, size_t len, unsigned char out[DIGEST_LEN])
{
    unsigned int n = DIGEST_LEN;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
        abort(); /* only on out-of-memory */
}

/* self_mu held */
static struct self_note *self_find(struct kk_watch *w, const char *rel)
{
    for (size_t i = 0; i < w->nself; i++)
        if (strcmp(w->self[i].rel, rel) == 0)
            return &w->self[i];
    return NULL;
}

/* self_mu held */
static void self_drop(struct kk_watch *w, struct self_note *n)
{
    free(n->rel);
    *n = w->self[--w->nself];
}

static void self_note(struct kk_watch *w, const char *rel, bool removed, const void *data,
                      size_t len)
{
    unsigned char d[DIGEST_LEN] = {0};
    if (!removed)
        digest(data, len, d);
    pthread_mutex_lock(&w->self_mu);
    struct self_note *n = self_find(w, rel);
    if (!n) {
        void *p = w->self;
        kk_xgrow(&p, &w->capself, w->nself + 1, sizeof(*w->self));
        w->self = p;
        n = &w->self[w->nself++];
        n->rel = kk_xstrdup(rel);
    }
    n->removed = removed;
    memcpy(n->digest, d, DIGEST_LEN);
    pthread_mutex_unlock(&w->self_mu);
}

void kk_watch_note_self_write(struct kk_watch *w, const char *rel, const void *data, size_t len)
{
    self_note(w, rel, false, data, len);
}

void kk_watch_note_self_remove(struct kk_watch *w, const char *rel)
{
    self_note(w, rel, true, NULL, 0);
}

/* True if rel now holds exactly what the agent last wrote there. */
static bool is_self_write(struct kk_watch *w, const char *rel)
{
    unsigned char want[DIGEST_LEN], got[DIGEST_LEN];
    pthread_mutex_lock(&w->self_mu);
    struct self_note *n = self_find(w, rel);
    bool noted = n && !n->removed;
    if (noted)
        memcpy(want, n->digest, DIGEST_LEN);
    pthread_mutex_unlock(&w->self_mu);
    if (!noted)
        return false;

    _cleanup_buf_ struct kk_buf content = KK_BUF_INIT;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_read_file(w->rootfd, rel, SELF_WRITE_MAX, &content, &err) < 0)
        return false;
    digest(content.data ? content.data : "", content.len, got);
    return memcmp(want, got, DIGEST_LEN) == 0;
}

/* True if the agent announced this removal; the note is used up either way
 * (a file the agent wrote is gone: nothing left to recognise). */
static bool is_self_remove(struct kk_watch *w, const char *rel)
{
    pthread_mutex_lock(&w->self_mu);
    struct self_note *n = self_find(w, rel);
    bool removed = n && n->removed;
    if (n)
        self_drop(w, n);
    pthread_mutex_unlock(&w->self_mu);
    return removed;
}

/* --- the state tree ----------------------------------------------------- */

/* A spec or ctl appeared (present) or went away in the tree. */
static void tree_file(struct kk_watch *w, const char *rel, bool present)
{
    struct kk_tree_class cls;
    kk_tree_classify(rel, &cls);
    switch (cls.file) {
    case KK_TREE_SPEC:
    case KK_TREE_CONTAINER_SPEC:
        if (present && !is_self_write(w, rel))
            emit(w, KK_WATCH_SPEC_CHANGED, NULL, &cls.key, rel);
        else if (!present && !is_self_remove(w, rel))
            emit(w, KK_WATCH_SPEC_REMOVED, NULL, &cls.key, rel);
        break;
    case KK_TREE_CTL:
        if (present)
            emit(w, KK_WATCH_CTL, NULL, &cls.key, rel);
        break;
    default:
        break; /* status, logs, _inbox, _agent, temp files: never input */
    }
}

static bool is_watched_dir(const char *rel)
{
    struct kk_tree_class cls;
    if (*rel == '\0')
        return true;
    kk_tree_classify(rel, &cls);
    return cls.file == KK_TREE_DIR || cls.file == KK_TREE_CONTAINERS_DIR;
}

/* Watches the directory rel, opened safely beneath the root: the watch is
 * added through /proc/self/fd, so it lands on exactly the directory that was
 * opened without following any symlink. */
static int watch_dir(struct kk_watch *w, const char *rel, kk_error **err)
{
    _cleanup_close_ int fd = kk_fs_open_dir(w->rootfd, rel, err);
    if (fd < 0)
        return -1;
    if (w->ndirs >= w->max_dirs)
        return kk_error_set(err, KK_E_EXHAUSTED, "watch %s: more than %zu directories",
                            *rel ? rel : ".", w->max_dirs);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int wd = inotify_add_watch(w->fd, proc, TREE_MASK);
    if (wd < 0)
        return kk_error_errno(err, "watch %s", *rel ? rel : ".");
    dir_put(w, wd, rel);
    return 0;
}

/* Watches rel and every resource directory beneath it. With `report`, the
 * directory is new to us (created or moved in after start): its specs and
 * ctl files are reported as if just written. The watch goes on before the
 * listing, so a file created meanwhile is seen at least once. */
static int scan_tree(struct kk_watch *w, const char *rel, bool report, kk_error **err)
{
    if (watch_dir(w, rel, err) < 0)
        return -1;
    _cleanup_fs_list_ struct kk_fs_list list = {NULL, 0};
    if (kk_fs_list_dir(w->rootfd, rel, 100000, &list, err) < 0)
        return -1;
    for (size_t i = 0; i < list.n; i++) {
        const struct kk_fs_entry *e = &list.entries[i];
        if (e->name[0] == '.')
            continue;
        _cleanup_free_ char *child = rel_join(rel, e->name);
        if (e->type == DT_DIR && is_watched_dir(child)) {
            _cleanup_error_ kk_error *cerr = NULL;
            if (scan_tree(w, child, report, &cerr) < 0) {
                if (kk_error_code(cerr) != KK_E_NOT_FOUND) {
                    *err = TAKE_PTR(cerr);
                    return -1;
                }
            }
        } else if (report && e->type == DT_REG) {
            tree_file(w, child, true);
        }
    }
    return 0;
}

/* A directory left the tree (moved away) or is being re-scanned: stop
 * watching it and everything beneath; with `report`, say that each resource
 * there is gone (deepest first). */
static void unwatch_tree(struct kk_watch *w, const char *rel, bool report)
{
    for (size_t i = w->ndirs; i-- > 0;) {
        if (!rel_within(w->dirs[i].rel, rel))
            continue;
        if (report) {
            struct kk_tree_class cls;
            kk_tree_classify(w->dirs[i].rel, &cls);
            if (cls.file == KK_TREE_DIR) {
                _cleanup_free_ char *spec = kk_tree_spec_path(&cls.key);
                emit(w, KK_WATCH_SPEC_REMOVED, NULL, &cls.key, spec);
            }
        }
        inotify_rm_watch(w->fd, w->dirs[i].wd); /* EINVAL if already gone: fine */
        dir_drop_at(w, i);
    }
}

static void tree_event(struct kk_watch *w, struct dirwatch *d, const struct inotify_event *ev)
{
    if (ev->mask & IN_IGNORED) {
        dir_drop_at(w, (size_t)(d - w->dirs));
        return;
    }
    if (ev->len == 0 || ev->name[0] == '.')
        return;
    _cleanup_free_ char *rel = rel_join(d->rel, ev->name);
    if (ev->mask & IN_ISDIR) {
        if (!is_watched_dir(rel))
            return;
        if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
            _cleanup_error_ kk_error *err = NULL;
            if (scan_tree(w, rel, true, &err) < 0 && kk_error_code(err) != KK_E_NOT_FOUND)
                kk_log_error("watch: %s (events beneath it may be missed until the next "
                             "resync)",
                             err->message);
        } else if (ev->mask & IN_MOVED_FROM) {
            unwatch_tree(w, rel, true);
        }
        /* IN_DELETE: it was empty; its files' deletions were reported and
         * IN_IGNORED drops its watch. */
        return;
    }
    if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
        tree_file(w, rel, true);
    else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
        tree_file(w, rel, false);
}

/* --- the inbox ---------------------------------------------------------- */

/* Lists the inbox's manifest names into *out. */
static int inbox_list(struct kk_watch *w, struct nameset *out, kk_error **err)
{
    _cleanup_close_ int fd = kk_fs_open_root(w->inbox, err);
    if (fd < 0)
        return -1;
    _cleanup_fs_list_ struct kk_fs_list list = {NULL, 0};
    if (kk_fs_list_dir(fd, "", w->max_inbox_files * 4 + 64, &list, err) < 0)
        return kk_error_wrap(err, "inbox %s", w->inbox);
    for (size_t i = 0; i < list.n; i++) {
        const struct kk_fs_entry *e = &list.entries[i];
        if (e->type == DT_DIR || !kk_inbox_name_counts(e->name))
            continue;
        if (out->n == w->max_inbox_files)
            return kk_error_set(err, KK_E_EXHAUSTED, "inbox %s: more than %zu manifests", w->inbox,
                                w->max_inbox_files);
        nameset_add(out, e->name);
    }
    return 0;
}

/* (Re)attaches the inbox watch to whatever directory the inbox path names
 * now. With `report`, compares its contents with the names known so far. */
static int inbox_attach(struct kk_watch *w, bool report, kk_error **err)
{
    bool was_absent = w->inbox_wd < 0;
    struct stat st;
    if (stat(w->inbox, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if (w->inbox_wd >= 0)
            inotify_rm_watch(w->fd, w->inbox_wd);
        w->inbox_wd = -1;
        kk_log_warn("inbox %s: not a directory now; waiting for it to appear", w->inbox);
        return 0;
    }
    if (w->inbox_wd < 0 || st.st_dev != w->inbox_dev || st.st_ino != w->inbox_ino) {
        /* Follows the symlink, if the inbox is one: we watch its target. */
        int wd = inotify_add_watch(w->fd, w->inbox, INBOX_MASK);
        if (wd < 0)
            return kk_error_errno(err, "watch inbox %s", w->inbox);
        if (w->inbox_wd >= 0 && w->inbox_wd != wd)
            inotify_rm_watch(w->fd, w->inbox_wd);
        w->inbox_wd = wd;
        w->inbox_dev = st.st_dev;
        w->inbox_ino = st.st_ino;
    }

    struct nameset now = {NULL, 0, 0};
    if (inbox_list(w, &now, err) < 0) {
        nameset_release(&now);
        return -1;
    }
    if (report) {
        for (size_t i = 0; i < w->inbox_names.n; i++)
            if (!nameset_has(&now, w->inbox_names.v[i]))
                emit(w, KK_WATCH_INBOX_REMOVED, w->inbox_names.v[i], NULL, NULL);
        for (size_t i = 0; i < now.n; i++)
            emit(w, KK_WATCH_INBOX_CHANGED, now.v[i], NULL, NULL);
    }
    nameset_release(&w->inbox_names);
    w->inbox_names = now;
    /* Back after being gone (rm -rf, then mkdir with other files): files
     * removed while there was no inbox were not pruned then (an absent inbox
     * is no reason to delete anything), and their names are no longer known
     * here. A rescan finds them by their reports. */
    if (report && was_absent)
        emit(w, KK_WATCH_RESCAN, NULL, NULL, NULL);
    return 0;
}

/* IN_CREATE of a symlink or a hard link (`ln`) is the whole write: no
 * IN_CLOSE_WRITE follows. A regular file with one link is still being
 * written by whoever created it. */
static bool inbox_entry_complete_on_create(struct kk_watch *w, const char *name)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/%s", w->inbox, name);
    struct stat st;
    if (lstat(p, &st) < 0)
        return false;
    return S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1);
}

static void inbox_event(struct kk_watch *w, const struct inotify_event *ev)
{
    if (ev->mask & IN_IGNORED) {
        w->inbox_wd = -1; /* the directory is gone; the parent watch says when it is back */
        return;
    }
    if (ev->len == 0 || (ev->mask & IN_ISDIR))
        return;
    enum kk_inbox_verdict v = kk_inbox_classify(ev->name);
    if (v == KK_INBOX_IGNORED_TOO_LONG) {
        kk_log_warn("inbox: ignoring %s: %s", ev->name, kk_inbox_verdict_name(v));
        return;
    }
    if (v != KK_INBOX_MANIFEST) {
        kk_log_debug("inbox: ignoring %s (%s)", ev->name, kk_inbox_verdict_name(v));
        return;
    }
    bool changed = ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO);
    if ((ev->mask & IN_CREATE) && inbox_entry_complete_on_create(w, ev->name))
        changed = true;
    if (changed) {
        if (!nameset_has(&w->inbox_names, ev->name) && w->inbox_names.n >= w->max_inbox_files) {
            kk_log_error("inbox: more than %zu manifests, ignoring %s", w->max_inbox_files,
                         ev->name);
            return;
        }
        nameset_add(&w->inbox_names, ev->name);
        emit(w, KK_WATCH_INBOX_CHANGED, ev->name, NULL, NULL);
    } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        nameset_del(&w->inbox_names, ev->name);
        emit(w, KK_WATCH_INBOX_REMOVED, ev->name, NULL, NULL);
    }
}

/* --- overflow ----------------------------------------------------------- */

/* Events were lost: re-walk the tree (adding what is missing, dropping what
 * is gone), re-read the inbox, then tell the agent to rescan everything. */
static void resync(struct kk_watch *w)
{
    _cleanup_error_ kk_error *err = NULL;
    for (size_t i = 0; i < w->ndirs; i++)
        w->dirs[i].seen = false;
    if (scan_tree(w, "", false, &err) < 0) {
        kk_log_error("watch: resync: %s", err->message);
        kk_error_freep(&err);
    }
    for (size_t i = w->ndirs; i-- > 0;) {
        if (!w->dirs[i].seen) {
            inotify_rm_watch(w->fd, w->dirs[i].wd);
            dir_drop_at(w, i);
        }
    }
    if (inbox_attach(w, false, &err) < 0)
        kk_log_error("watch: resync: %s", err->message);
    emit(w, KK_WATCH_RESCAN, NULL, NULL, NULL);
}

/* --- dispatch ----------------------------------------------------------- */

static void handle(struct kk_watch *w, const struct inotify_event *ev)
{
    if (kk_log_get_level() >= KK_LOG_DEBUG)
        kk_log_debug("watch: wd %d %s %s", ev->wd, inotifytools_event_to_str((int)ev->mask),
                     ev->len ? ev->name : "");
    if (ev->mask & IN_Q_OVERFLOW) {
        kk_log_warn("watch: inotify queue overflow, rescanning");
        resync(w);
        return;
    }
    if (ev->wd == w->parent_wd && ev->len && strcmp(ev->name, w->inbox_base) == 0) {
        _cleanup_error_ kk_error *err = NULL;
        if (inbox_attach(w, true, &err) < 0)
            kk_log_error("watch: %s", err->message);
    }
    if (ev->wd == w->inbox_wd)
        inbox_event(w, ev);
    struct dirwatch *d = dir_find(w, ev->wd);
    if (d)
        tree_event(w, d, ev);
}

int kk_watch_dispatch(struct kk_watch *w, kk_error **err)
{
    int n = 0;
    for (;;) {
        /* Timeout 0: never blocks. The library buffers a whole read, so
         * drain it completely: the fd alone would not wake us again. */
        struct inotify_event *ev = inotifytools_next_events(0, 1);
        if (!ev) {
            int e = inotifytools_error();
            if (e && e != EINTR && e != EAGAIN)
                return kk_error_errnum(err, e, "read inotify events");
            return n;
        }
        handle(w, ev);
        n++;
    }
}

/* --- setup -------------------------------------------------------------- */

/* The inotify descriptors of this process, as a bitmap over fd numbers. */
static int inotify_fds(unsigned char *bits, size_t nbits, kk_error **err)
{
    _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
    if (!d)
        return kk_error_errno(err, "open /proc/self/fd");
    memset(bits, 0, nbits / 8);
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (*end || fd < 0 || (size_t)fd >= nbits)
            continue;
        char target[64];
        ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, "anon_inode:inotify") == 0)
            bits[fd / 8] |= (unsigned char)(1u << (fd % 8));
    }
    return 0;
}

/* Starts libinotifytools and finds the descriptor it created. */
static int start_library(struct kk_watch *w, kk_error **err)
{
    /* select(2) inside the library cannot take descriptors >= FD_SETSIZE. */
    enum { NBITS = 1024 };
    unsigned char before[NBITS / 8], after[NBITS / 8];
    if (inotify_fds(before, NBITS, err) < 0)
        return -1;
    if (!inotifytools_initialize())
        return kk_error_errnum(err, inotifytools_error(), "libinotifytools");
    w->lib_initialized = true;
    if (inotify_fds(after, NBITS, err) < 0)
        return -1;
    w->fd = -1;
    for (int fd = 0; fd < NBITS; fd++) {
        if ((after[fd / 8] & ~before[fd / 8]) & (1u << (fd % 8))) {
            if (w->fd >= 0)
                return kk_error_set(err, KK_E_INTERNAL,
                                    "libinotifytools: cannot tell its descriptor apart");
            w->fd = fd;
        }
    }
    if (w->fd < 0)
        return kk_error_set(err, KK_E_PRECONDITION,
                            "libinotifytools: no new inotify descriptor below %d (already "
                            "initialised elsewhere in this process?)",
                            NBITS);
    if (fcntl(w->fd, F_SETFD, FD_CLOEXEC) < 0)
        return kk_error_errno(err, "libinotifytools: set close-on-exec");
    return 0;
}

static int split_inbox(struct kk_watch *w, kk_error **err)
{
    size_t len = strlen(w->inbox);
    while (len > 1 && w->inbox[len - 1] == '/')
        w->inbox[--len] = '\0';
    const char *slash = strrchr(w->inbox, '/');
    if (!slash) {
        w->inbox_parent = kk_xstrdup(".");
        w->inbox_base = kk_xstrdup(w->inbox);
    } else {
        w->inbox_parent = slash == w->inbox ? kk_xstrdup("/")
                                            : kk_xstrndup(w->inbox, (size_t)(slash - w->inbox));
        w->inbox_base = kk_xstrdup(slash + 1);
    }
    if (!*w->inbox_base || strcmp(w->inbox_base, ".") == 0 || strcmp(w->inbox_base, "..") == 0)
        return kk_error_set(err, KK_E_INVALID, "inbox %s: want a path ending in a name", w->inbox);
    return 0;
}

/* The two roots must not contain each other: one directory cannot be both
 * input and state (and one inotify watch cannot serve both masks). */
static int check_disjoint(const char *inbox, const char *state, kk_error **err)
{
    _cleanup_free_ char *a = realpath(inbox, NULL);
    _cleanup_free_ char *b = realpath(state, NULL);
    if (!b)
        return kk_error_errno(err, "state root %s", state);
    if (!a)
        return 0; /* the inbox may appear later */
    size_t la = strlen(a), lb = strlen(b);
    bool nested = (strncmp(a, b, lb) == 0 && (a[lb] == '/' || a[lb] == '\0' || lb == 1)) ||
                  (strncmp(b, a, la) == 0 && (b[la] == '/' || b[la] == '\0' || la == 1));
    if (nested)
        return kk_error_set(err, KK_E_INVALID, "inbox %s and state root %s overlap", inbox, state);
    return 0;
}

int kk_watch_open(const struct kk_watch_config *cfg, struct kk_watch **out, kk_error **err)
{
    if (!cfg->fn || !cfg->inbox || !cfg->state || !*cfg->inbox || !*cfg->state)
        return kk_error_set(err, KK_E_INVALID, "watch: inbox, state root and handler required");
    if (check_disjoint(cfg->inbox, cfg->state, err) < 0)
        return -1;
    if (atomic_exchange(&watcher_exists, true))
        return kk_error_set(err, KK_E_PRECONDITION,
                            "watch: libinotifytools allows one watcher per process");

    _cleanup_watch_ struct kk_watch *w = kk_xcalloc(1, sizeof(*w));
    w->fn = cfg->fn;
    w->userdata = cfg->userdata;
    w->max_inbox_files = cfg->max_inbox_files ? cfg->max_inbox_files : 10000;
    w->max_dirs = cfg->max_dirs ? cfg->max_dirs : 100000;
    w->fd = w->rootfd = w->inbox_wd = w->parent_wd = -1;
    w->state = kk_xstrdup(cfg->state);
    w->inbox = kk_xstrdup(cfg->inbox);
    pthread_mutex_init(&w->self_mu, NULL);

    if (split_inbox(w, err) < 0)
        return -1;
    w->rootfd = kk_fs_open_root(w->state, err);
    if (w->rootfd < 0)
        return -1;
    if (start_library(w, err) < 0)
        return -1;
    w->parent_wd = inotify_add_watch(w->fd, w->inbox_parent, PARENT_MASK);
    if (w->parent_wd < 0)
        return kk_error_errno(err, "watch %s", w->inbox_parent);
    if (inbox_attach(w, false, err) < 0)
        return -1;
    if (scan_tree(w, "", false, err) < 0)
        return kk_error_wrap(err, "watch state root %s", w->state);
    *out = TAKE_PTR(w);
    return 0;
}

int kk_watch_fd(const struct kk_watch *w)
{
    return w->fd;
}

size_t kk_watch_dir_count(const struct kk_watch *w)
{
    return w->ndirs;
}

void kk_watch_close(struct kk_watch *w)
{
    if (!w)
        return;
    if (w->lib_initialized)
        inotifytools_cleanup(); /* closes w->fd */
    if (w->rootfd >= 0)
        close(w->rootfd);
    for (size_t i = 0; i < w->ndirs; i++)
        free(w->dirs[i].rel);
    free(w->dirs);
    for (size_t i = 0; i < w->nself; i++)
        free(w->self[i].rel);
    free(w->self);
    nameset_release(&w->inbox_names);
    pthread_mutex_destroy(&w->self_mu);
    free(w->state);
    free(w->inbox);
    free(w->inbox_parent);
    free(w->inbox_base);
    free(w);
    atomic_store(&watcher_exists, false);
}
