/* cgroup v1 / hybrid: the same directories in every hierarchy (each v1
 * controller, named ones like name=systemd, and the cgroup2 companion at
 * <mount>/unified), cpuset inheritance, freezer, placement, removal. */
#include "runtime/cgroup/cg-internal.h"

#include <string.h>

#include "fsapi/clock.h"

#define V1_STATE_LEN 16

/* A freshly made v1 cpuset is empty (cgroup.clone_children 0), and a task
 * cannot join an empty cpuset: copy the parent's, as runc does. */
static int cpuset_inherit(int parent, int child, kk_error **err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *mine = NULL, *theirs = NULL;
        if (cg_read_file(child, files[i], &mine, err) < 0)
            return -1;
        if (*mine)
            continue;
        if (cg_read_file(parent, files[i], &theirs, err) < 0)
            return -1;
        if (*theirs && cg_write_file(child, files[i], theirs, err) < 0)
            return -1;
    }
    return 0;
}

static int ensure_in(struct cg_hier *h, const char *rel, kk_error **err)
{
    _cleanup_close_ int fd = cg_open_dir(h->fd, "", err);
    if (fd < 0)
        return -1;
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        _cleanup_free_ char *name = kk_xstrndup(p, n);
        int child = cg_mkdir_child(fd, name, err);
        if (child < 0)
            return -1;
        if ((h->controllers & KK_CG_CPUSET) && cpuset_inherit(fd, child, err) < 0) {
            close(child);
            return kk_error_wrap(err, "%s", name);
        }
        close(fd);
        fd = child;
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

/* The hierarchy holding `controller`, or NULL. */
static struct cg_hier *find_hier(struct kk_cg *cg, unsigned controller)
{
    struct cg_real *r = cg_real(cg);
    for (size_t i = 0; i < r->n_hiers; i++)
        if (r->hiers[i].controllers & controller)
            return &r->hiers[i];
    return NULL;
}

/* The first v1 hierarchy, where "which processes" is asked. */
static struct cg_hier *first_v1(struct kk_cg *cg)
{
    struct cg_real *r = cg_real(cg);
    for (size_t i = 0; i < r->n_hiers; i++)
        if (!r->hiers[i].unified)
            return &r->hiers[i];
    return NULL; /* open refuses a tree without one */
}

static int read_freezer(int fd, char *state, kk_error **err)
{
    _cleanup_free_ char *s = NULL;
    if (cg_read_file(fd, "freezer.state", &s, err) < 0)
        return -1;
    snprintf(state, V1_STATE_LEN, "%s", s);
    return 0;
}

static int v1_status_fill(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                          kk_error **err)
{
    struct cg_real *r = cg_real(cg);
    _cleanup_free_ char *rel = NULL;
    if (cg_status_init(cg, ref, st, err) < 0 || cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    bool all = true;
    for (size_t i = 0; i < r->n_hiers; i++) {
        struct cg_hier *h = &r->hiers[i];
        _cleanup_error_ kk_error *e = NULL;
        _cleanup_close_ int fd = cg_open_dir(h->fd, rel, &e);
        if (fd < 0) {
            if (kk_error_code(e) != KK_E_NOT_FOUND) {
                *err = TAKE_PTR(e);
                return kk_error_wrap(err, "cgroup %s", st->path);
            }
            all = false;
            continue;
        }
        st->controllers |= h->controllers;
        if (h == first_v1(cg)) {
            pid_t pid;
            size_t n = 0;
            if (cg_collect_pids(fd, &pid, 1, &n, err) < 0)
                return kk_error_wrap(err, "cgroup %s", st->path);
            st->populated = n > 0;
        }
        if (h->controllers & KK_CG_FREEZER) {
            char state[V1_STATE_LEN];
            if (read_freezer(fd, state, err) < 0)
                return kk_error_wrap(err, "cgroup %s", st->path);
            st->frozen = strcmp(state, "FROZEN") == 0;
        }
    }
    st->ready = all;
    return 0;
}

static int v1_status(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                     kk_error **err)
{
    if (v1_status_fill(cg, ref, st, err) < 0) {
        kk_cg_status_release(st);
        return -1;
    }
    return 0;
}

static int v1_ensure(struct kk_cg *cg, const struct kk_cg_ref *ref, unsigned flags,
                     struct kk_cg_status *st, kk_error **err)
{
    struct cg_real *r = cg_real(cg);
    _cleanup_free_ char *rel = NULL;
    (void)flags; /* v1 has no delegation: every hierarchy has its controllers */
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    for (size_t i = 0; i < r->n_hiers; i++)
        if (ensure_in(&r->hiers[i], rel, err) < 0) {
            _cleanup_free_ char *what = cg_describe(&r->hiers[i], rel);
            return kk_error_wrap(err, "cgroup %s", what);
        }
    return st ? v1_status(cg, ref, st, err) : 0;
}

static int v1_place(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t pid, kk_error **err)
{
    struct cg_real *r = cg_real(cg);
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    char s[16];
    snprintf(s, sizeof(s), "%d", (int)pid);
    for (size_t i = 0; i < r->n_hiers; i++) {
        _cleanup_close_ int fd = cg_open_dir(r->hiers[i].fd, rel, err);
        if (fd < 0 || cg_write_file(fd, "cgroup.procs", s, err) < 0) {
            _cleanup_free_ char *what = cg_describe(&r->hiers[i], rel);
            return kk_error_wrap(err, "cgroup %s: place pid %d", what, (int)pid);
        }
    }
    return 0;
}

static int v1_procs(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t **pids, size_t *n,
                    kk_error **err)
{
    struct cg_hier *h = first_v1(cg);
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    _cleanup_close_ int fd = cg_open_dir(h->fd, rel, err);
    if (fd < 0 || cg_read_pids(fd, "cgroup.procs", pids, n, err) < 0) {
        _cleanup_free_ char *what = cg_describe(h, rel);
        return kk_error_wrap(err, "cgroup %s", what);
    }
    return 0;
}

static int v1_freeze(struct kk_cg *cg, const struct kk_cg_ref *ref, bool frozen, int timeout_ms,
                     kk_error **err)
{
    struct cg_hier *h = find_hier(cg, KK_CG_FREEZER);
    if (!h) {
        kk_error_set(err, KK_E_PRECONDITION, "no freezer hierarchy mounted: cannot %s",
                     frozen ? "pause" : "resume");
        return kk_error_reason(err, "CgroupControllersMissing");
    }
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    _cleanup_free_ char *what = cg_describe(h, rel);
    _cleanup_close_ int fd = cg_open_dir(h->fd, rel, err);
    if (fd < 0)
        return kk_error_wrap(err, "cgroup %s", what);

    /* FROZEN may read back as FREEZING while tasks are still being stopped;
     * writing FROZEN again retries them (what runc does). */
    const char *want = frozen ? "FROZEN" : "THAWED";
    int64_t deadline = kk_clock_mono_ms(NULL) + timeout_ms;
    for (int delay = 1;; delay = delay < 20 ? delay * 2 : 20) {
        char state[V1_STATE_LEN];
        if (cg_write_file(fd, "freezer.state", want, err) < 0 || read_freezer(fd, state, err) < 0)
            return kk_error_wrap(err, "cgroup %s", what);
        if (strcmp(state, want) == 0)
            return 0;
        if (kk_clock_mono_ms(NULL) >= deadline)
            return kk_error_set(err, KK_E_DEADLINE, "cgroup %s: still %s after %d ms", what, state,
                                timeout_ms);
        cg_sleep_ms(delay);
    }
}

/* No cgroup.events in v1: poll until nothing is left below fd. */
static int wait_empty(int fd, int64_t deadline, bool *empty, kk_error **err)
{
    for (int delay = 1;; delay = delay < 50 ? delay * 2 : 50) {
        pid_t pid;
        size_t n = 0;
        if (cg_collect_pids(fd, &pid, 1, &n, err) < 0)
            return -1;
        *empty = n == 0;
        if (*empty || kk_clock_mono_ms(NULL) >= deadline)
            return 0;
        cg_sleep_ms(delay);
    }
}

/* Opens rel's parent and rel in one hierarchy; *fd stays -1 if rel is gone. */
static int open_pair(const struct cg_hier *h, const char *parent, const char *name, int *pfd,
                     int *fd, kk_error **err)
{
    _cleanup_error_ kk_error *nf = NULL;
    *pfd = cg_open_dir(h->fd, parent, &nf);
    *fd = *pfd < 0 ? -1 : cg_open_dir(*pfd, name, &nf);
    if (*fd >= 0 || kk_error_code(nf) == KK_E_NOT_FOUND)
        return 0;
    *err = TAKE_PTR(nf);
    return -1;
}

static int v1_remove(struct kk_cg *cg, const struct kk_cg_ref *ref, int timeout_ms, kk_error **err)
{
    struct cg_real *r = cg_real(cg);
    int64_t deadline = kk_clock_mono_ms(NULL) + timeout_ms;
    _cleanup_free_ char *rel = NULL, *parent = NULL;
    const char *name;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    cg_split(rel, &parent, &name);

    /* Wait in every hierarchy before removing in any, so that a busy
     * cgroup is left whole rather than half removed. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->n_hiers; i++) {
            struct cg_hier *h = &r->hiers[i];
            _cleanup_free_ char *what = cg_describe(h, rel);
            _cleanup_close_ int pfd = -1, fd = -1;
            if (open_pair(h, parent, name, &pfd, &fd, err) < 0)
                return kk_error_wrap(err, "cgroup %s", what);
            if (fd < 0)
                continue; /* already gone here */
            if (pass == 0) {
                bool empty;
                if (wait_empty(fd, deadline, &empty, err) < 0)
                    return kk_error_wrap(err, "cgroup %s", what);
                if (!empty)
                    return cg_busy_error(fd, what, timeout_ms, err);
                continue;
            }
            int64_t now = kk_clock_mono_ms(NULL);
            if (cg_rmtree(pfd, name, deadline > now + 100 ? deadline : now + 100, err) < 0) {
                /* A process that arrived after we looked. */
                if ((*err)->sys_errno == EBUSY)
                    return cg_busy_error(fd, what, timeout_ms, err);
                return kk_error_wrap(err, "cgroup %s", what);
            }
        }
    }
    return 0;
}

const struct kk_cg_ops kk_cg_v1_ops = {
        .ensure = v1_ensure,
        .status = v1_status,
        .apply = cg_v1_apply,
        .read = cg_v1_read,
        .place = v1_place,
        .procs = v1_procs,
        .freeze = v1_freeze,
        .remove = v1_remove,
        .close = cg_real_close,
};
