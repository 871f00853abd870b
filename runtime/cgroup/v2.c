/* cgroup v2 (unified): hierarchy, delegation, placement, freezer, removal. */
#include "runtime/cgroup/cg-internal.h"

#include <string.h>

#include "fsapi/buf.h"
#include "fsapi/clock.h"

#define INTERNAL_LEAF "_internal"
#define MOVE_ROUNDS   8

static struct cg_hier *hier(struct kk_cg *cg)
{
    return &cg_real(cg)->hiers[0];
}

/* Moves every process of fd's cgroup into its child _internal. Processes
 * may fork while we move them, hence rounds until the cgroup is empty. */
static int move_internal(int fd, kk_error **err)
{
    _cleanup_close_ int leaf = cg_mkdir_child(fd, INTERNAL_LEAF, err);
    if (leaf < 0)
        return -1;
    for (int round = 0; round < MOVE_ROUNDS; round++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cg_read_pids(fd, "cgroup.procs", &pids, &n, err) < 0)
            return -1;
        if (n == 0)
            return 0;
        for (size_t i = 0; i < n; i++) {
            char s[16];
            snprintf(s, sizeof(s), "%d", (int)pids[i]);
            _cleanup_error_ kk_error *e = NULL;
            if (cg_write_file(leaf, "cgroup.procs", s, &e) < 0 && e->sys_errno != ESRCH)
                return kk_error_errnum(err, e->sys_errno, "move pid %s to %s", s, INTERNAL_LEAF);
        }
    }
    return kk_error_set(err, KK_E_ABORTED, "processes keep appearing; gave up moving them");
}

static int internal_error(const char *what, pid_t pid, size_t n, kk_error **err)
{
    kk_error_set(err, KK_E_PRECONDITION,
                 "cgroup %s holds processes (pid %d%s) so it cannot delegate controllers to its "
                 "children (no-internal-process rule)",
                 what, (int)pid, n > 1 ? " ..." : "");
    return kk_error_reason(err, "CgroupInternalProcesses");
}

/* Makes sure fd's cgroup delegates `want` to its children.
 *
 * No internal processes: a cgroup that delegates controllers may not hold
 * processes itself, except the true root. The mount's root is usually that
 * one, but inside a cgroup namespace (kukeond run as a nested workload) it
 * is the namespace's root, which holds kukeond itself: there the kernel's
 * EBUSY is the only way to tell, so it is handled after the write. */
static int delegate(int fd, const char *what, bool mount_root, unsigned want, unsigned flags,
                    kk_error **err)
{
    _cleanup_free_ char *text = NULL;
    unsigned have;
    if (cg_read_file(fd, "cgroup.subtree_control", &text, err) < 0)
        return kk_error_wrap(err, "cgroup %s", what);
    kk_cg_controllers_parse(text, KK_CG_MODE_V2, &have);
    unsigned missing = want & ~have;
    if (!missing)
        return 0;

    bool move = flags & KK_CG_ENSURE_MOVE_INTERNAL;
    if (!mount_root) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cg_read_pids(fd, "cgroup.procs", &pids, &n, err) < 0)
            return kk_error_wrap(err, "cgroup %s", what);
        if (n > 0 && !move)
            return internal_error(what, pids[0], n, err);
        if (n > 0 && move_internal(fd, err) < 0)
            return kk_error_wrap(err, "cgroup %s", what);
    }
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    for (unsigned bit = 1; bit && bit <= missing; bit <<= 1)
        if (missing & bit)
            kk_buf_printf(&b, "%s+%s", b.len ? " " : "", kk_cg_controller_name(bit, KK_CG_MODE_V2));
    if (cg_write_file(fd, "cgroup.subtree_control", kk_buf_str(&b), err) == 0)
        return 0;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    _cleanup_error_ kk_error *e = NULL;
    if ((*err)->sys_errno != EBUSY || cg_read_pids(fd, "cgroup.procs", &pids, &n, &e) < 0 || n == 0)
        return kk_error_wrap(err, "cgroup %s: delegate controllers", what);
    kk_error_freep(err);
    if (!move)
        return internal_error(what, pids[0], n, err);
    if (move_internal(fd, err) < 0 ||
        cg_write_file(fd, "cgroup.subtree_control", kk_buf_str(&b), err) < 0)
        return kk_error_wrap(err, "cgroup %s", what);
    return 0;
}

int cg_v2_walk(struct kk_cg *cg, const char *rel, unsigned want, bool leaf, unsigned flags,
               kk_error **err)
{
    struct cg_hier *h = hier(cg);
    _cleanup_close_ int fd = cg_open_dir(h->fd, "", err);
    if (fd < 0)
        return -1;
    _cleanup_buf_ struct kk_buf prefix = KK_BUF_INIT;
    kk_buf_adds(&prefix, "/");
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        _cleanup_free_ char *name = kk_xstrndup(p, n);
        if (want && delegate(fd, kk_buf_str(&prefix), p == rel, want, flags, err) < 0)
            return -1;
        int child = cg_mkdir_child(fd, name, err);
        if (child < 0)
            return kk_error_wrap(err, "cgroup %s", kk_buf_str(&prefix));
        close(fd);
        fd = child;
        kk_buf_printf(&prefix, "%s%s", p == rel ? "" : "/", name);
        p += n;
        while (*p == '/')
            p++;
    }
    if (want && !leaf && delegate(fd, kk_buf_str(&prefix), false, want, flags, err) < 0)
        return -1;
    return TAKE_FD(fd);
}

static int v2_status_fill(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                          kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    if (cg_status_init(cg, ref, st, err) < 0 || cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    _cleanup_error_ kk_error *nf = NULL;
    _cleanup_close_ int fd = cg_open_dir(hier(cg)->fd, rel, &nf);
    if (fd < 0) {
        if (kk_error_code(nf) == KK_E_NOT_FOUND)
            return 0;
        *err = TAKE_PTR(nf);
        return kk_error_wrap(err, "cgroup %s", st->path);
    }
    _cleanup_free_ char *events = NULL, *ctl = NULL;
    uint64_t v;
    if (cg_read_file(fd, "cgroup.events", &events, err) < 0 ||
        cg_read_file(fd, cg_ref_is_leaf(ref) ? "cgroup.controllers" : "cgroup.subtree_control",
                     &ctl, err) < 0)
        return kk_error_wrap(err, "cgroup %s", st->path);
    st->ready = true;
    st->populated = cg_keyed_get(events, "populated", &v) == 0 && v == 1;
    st->frozen = cg_keyed_get(events, "frozen", &v) == 0 && v == 1;
    kk_cg_controllers_parse(ctl, KK_CG_MODE_V2, &st->controllers);
    return 0;
}

static int v2_status(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                     kk_error **err)
{
    if (v2_status_fill(cg, ref, st, err) < 0) {
        kk_cg_status_release(st);
        return -1;
    }
    return 0;
}

static int v2_ensure(struct kk_cg *cg, const struct kk_cg_ref *ref, unsigned flags,
                     struct kk_cg_status *st, kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    unsigned want = cg->available & ((flags & KK_CG_ENSURE_NESTED) ? ~0u : KK_CG_DEFAULT_SET);
    _cleanup_close_ int fd = cg_v2_walk(cg, rel, want, cg_ref_is_leaf(ref), flags, err);
    if (fd < 0)
        return -1;
    return st ? v2_status(cg, ref, st, err) : 0;
}

static int open_ref(struct kk_cg *cg, const struct kk_cg_ref *ref, char **relp, kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    int fd = cg_open_dir(hier(cg)->fd, rel, err);
    if (fd < 0)
        return kk_error_wrap(err, "cgroup /%s", rel);
    if (relp)
        *relp = TAKE_PTR(rel);
    return fd;
}

static int v2_place(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t pid, kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    _cleanup_close_ int fd = open_ref(cg, ref, &rel, err);
    if (fd < 0)
        return -1;
    char s[16];
    snprintf(s, sizeof(s), "%d", (int)pid);
    if (cg_write_file(fd, "cgroup.procs", s, err) < 0) {
        if ((*err)->sys_errno == EBUSY)
            kk_error_wrap(err, "it delegates controllers, so processes belong in a leaf below "
                               "it (no-internal-process rule)");
        return kk_error_wrap(err, "cgroup /%s: place pid %d", rel, (int)pid);
    }
    return 0;
}

static int v2_procs(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t **pids, size_t *n,
                    kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    _cleanup_close_ int fd = open_ref(cg, ref, &rel, err);
    if (fd < 0)
        return -1;
    if (cg_read_pids(fd, "cgroup.procs", pids, n, err) < 0)
        return kk_error_wrap(err, "cgroup /%s", rel);
    return 0;
}

static int v2_freeze(struct kk_cg *cg, const struct kk_cg_ref *ref, bool frozen, int timeout_ms,
                     kk_error **err)
{
    _cleanup_free_ char *rel = NULL;
    _cleanup_close_ int fd = open_ref(cg, ref, &rel, err);
    if (fd < 0)
        return -1;
    if (!cg_has_file(fd, "cgroup.freeze"))
        return kk_error_set(err, KK_E_UNIMPLEMENTED,
                            "cgroup /%s: no cgroup.freeze (kernel older than 5.2)", rel);
    if (cg_write_file(fd, "cgroup.freeze", frozen ? "1" : "0", err) < 0 ||
        cg_wait_event(fd, "frozen", frozen, timeout_ms, err) < 0)
        return kk_error_wrap(err, "cgroup /%s: %s", rel, frozen ? "freeze" : "thaw");
    return 0;
}

static int v2_remove(struct kk_cg *cg, const struct kk_cg_ref *ref, int timeout_ms, kk_error **err)
{
    int64_t deadline = kk_clock_mono_ms(NULL) + timeout_ms;
    _cleanup_free_ char *rel = NULL;
    if (cg_rel_path(cg, ref, &rel, err) < 0)
        return -1;
    _cleanup_free_ char *parent = NULL;
    const char *name;
    cg_split(rel, &parent, &name);

    _cleanup_error_ kk_error *nf = NULL;
    _cleanup_close_ int pfd = cg_open_dir(hier(cg)->fd, parent, &nf);
    _cleanup_close_ int fd = pfd < 0 ? -1 : cg_open_dir(pfd, name, &nf);
    if (fd < 0) {
        if (kk_error_code(nf) == KK_E_NOT_FOUND)
            return 0; /* already gone */
        *err = TAKE_PTR(nf);
        return kk_error_wrap(err, "cgroup /%s", rel);
    }
    _cleanup_error_ kk_error *wait_err = NULL;
    if (cg_wait_event(fd, "populated", 0, timeout_ms, &wait_err) < 0) {
        if (kk_error_code(wait_err) != KK_E_DEADLINE) {
            *err = TAKE_PTR(wait_err);
            return kk_error_wrap(err, "cgroup /%s", rel);
        }
        _cleanup_free_ char *what = kk_xasprintf("/%s", rel);
        return cg_busy_error(fd, what, timeout_ms, err);
    }
    /* Empty now; rmdir can still meet a task that is finishing its exit. */
    int64_t now = kk_clock_mono_ms(NULL);
    if (cg_rmtree(pfd, name, deadline > now + 100 ? deadline : now + 100, err) < 0) {
        /* A process that arrived after we looked. */
        if ((*err)->sys_errno == EBUSY) {
            _cleanup_free_ char *what = kk_xasprintf("/%s", rel);
            return cg_busy_error(fd, what, timeout_ms, err);
        }
        return kk_error_wrap(err, "cgroup /%s", parent);
    }
    return 0;
}

const struct kk_cg_ops kk_cg_v2_ops = {
        .ensure = v2_ensure,
        .status = v2_status,
        .apply = cg_v2_apply,
        .read = cg_v2_read,
        .place = v2_place,
        .procs = v2_procs,
        .freeze = v2_freeze,
        .remove = v2_remove,
        .close = cg_real_close,
};
