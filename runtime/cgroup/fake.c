/* The in-memory test double of fake.h. */
#include "runtime/cgroup/fake.h"

#include <string.h>

#include "runtime/cgroup/cg-internal.h"

struct fake_cg {
    char *path; /* "/kukeon/r/s" */
    struct kk_cg_resources res;
    bool frozen;
    unsigned subtree; /* v2 cgroup.subtree_control */
    pid_t *pids;
    size_t n_pids;
};

struct fake {
    struct kk_cg base;
    struct fake_cg *cgs;
    size_t n, cap;
    char *fail_op;
    kk_code fail_code;
};

static struct fake *fake(struct kk_cg *cg)
{
    return (struct fake *)cg;
}

static int injected(struct fake *f, const char *op, kk_error **err)
{
    if (!f->fail_op || strcmp(f->fail_op, op) != 0)
        return 0;
    free(f->fail_op);
    f->fail_op = NULL;
    return kk_error_set(err, f->fail_code, "fake cgroup: %s fails as asked", op);
}

static struct fake_cg *find(struct fake *f, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->cgs[i].path, path) == 0)
            return &f->cgs[i];
    return NULL;
}

/* path is below (or is) top. */
static bool within(const char *path, const char *top)
{
    size_t len = strlen(top);
    return strncmp(path, top, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static struct fake_cg *lookup(struct fake *f, const struct kk_cg_ref *ref, char **pathp,
                              kk_error **err)
{
    _cleanup_free_ char *path = NULL;
    if (kk_cg_ref_path(f->base.root, ref, &path, err) < 0)
        return NULL;
    struct fake_cg *c = find(f, path);
    if (!c)
        kk_error_set(err, KK_E_NOT_FOUND, "cgroup %s: no such cgroup", path);
    if (pathp)
        *pathp = TAKE_PTR(path);
    return c;
}

static void fill_status(struct fake *f, const char *path, bool leaf, struct kk_cg_status *st)
{
    *st = (struct kk_cg_status){.path = kk_xstrdup(path)};
    struct fake_cg *c = find(f, path);
    if (!c)
        return;
    st->ready = true;
    for (size_t i = 0; i < f->n; i++) {
        if (within(f->cgs[i].path, path))
            st->populated |= f->cgs[i].n_pids > 0;
        if (within(path, f->cgs[i].path))
            st->frozen |= f->cgs[i].frozen;
    }
    if (f->base.mode == KK_CG_MODE_V1) {
        st->controllers = f->base.available;
    } else if (!leaf) {
        st->controllers = c->subtree;
    } else {
        _cleanup_free_ char *parent = kk_xstrndup(path, strrchr(path, '/') - path);
        struct fake_cg *p = find(f, parent);
        st->controllers = p ? p->subtree : 0;
    }
}

static int fake_ensure(struct kk_cg *cg, const struct kk_cg_ref *ref, unsigned flags,
                       struct kk_cg_status *st, kk_error **err)
{
    struct fake *f = fake(cg);
    _cleanup_free_ char *path = NULL;
    if (injected(f, "ensure", err) < 0 || kk_cg_ref_path(cg->root, ref, &path, err) < 0)
        return -1;
    unsigned want = cg->available & ((flags & KK_CG_ENSURE_NESTED) ? ~0u : KK_CG_DEFAULT_SET);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct fake_cg *c = find(f, path);
        if (!c) {
            void *v = f->cgs;
            kk_xgrow(&v, &f->cap, f->n + 1, sizeof(*f->cgs));
            f->cgs = v;
            c = &f->cgs[f->n++];
            *c = (struct fake_cg){.path = kk_xstrdup(path)};
        }
        bool last = saved == '\0';
        if (cg->mode == KK_CG_MODE_V2 && (!last || !cg_ref_is_leaf(ref)))
            c->subtree |= want;
        *p = saved;
        if (last)
            break;
    }
    if (st)
        fill_status(f, path, cg_ref_is_leaf(ref), st);
    return 0;
}

static int fake_status(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                       kk_error **err)
{
    struct fake *f = fake(cg);
    _cleanup_free_ char *path = NULL;
    if (injected(f, "status", err) < 0 || kk_cg_ref_path(cg->root, ref, &path, err) < 0)
        return -1;
    fill_status(f, path, cg_ref_is_leaf(ref), st);
    return 0;
}

static void merge(struct kk_cg_resources *into, const struct kk_cg_resources *res)
{
#define TAKE(field)                                                                                \
    if (res->field)                                                                                \
        into->field = res->field;
    TAKE(cpu_weight)
    TAKE(cpu_quota_us)
    TAKE(cpu_period_us)
    TAKE(memory_max)
    TAKE(memory_high)
    TAKE(swap_max)
    TAKE(io_weight)
    TAKE(pids_max)
#undef TAKE
    if (res->cpuset_cpus[0])
        memcpy(into->cpuset_cpus, res->cpuset_cpus, sizeof(into->cpuset_cpus));
    if (res->cpuset_mems[0])
        memcpy(into->cpuset_mems, res->cpuset_mems, sizeof(into->cpuset_mems));
    if (res->n_io_throttle) {
        memcpy(into->io_throttle, res->io_throttle, sizeof(into->io_throttle));
        into->n_io_throttle = res->n_io_throttle;
    }
}

static int fake_apply(struct kk_cg *cg, const struct kk_cg_ref *ref,
                      const struct kk_cg_resources *res, kk_error **err)
{
    struct fake *f = fake(cg);
    if (injected(f, "apply", err) < 0 || kk_cg_resources_check(res, err) < 0)
        return -1;
    _cleanup_free_ char *path = NULL;
    struct fake_cg *c = lookup(f, ref, &path, err);
    if (!c)
        return -1;
    unsigned missing = cg_resources_needs(res) & ~cg->available;
    if (missing) {
        _cleanup_free_ char *names = kk_cg_controllers_format(missing, cg->mode);
        kk_error_set(err, KK_E_PRECONDITION, "cgroup %s: the host has no %s controller", path,
                     names);
        return kk_error_reason(err, "CgroupControllersMissing");
    }
    merge(&c->res, res);
    return 0;
}

static int fake_read(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_resources *res,
                     kk_error **err)
{
    struct fake *f = fake(cg);
    if (injected(f, "read", err) < 0)
        return -1;
    struct fake_cg *c = lookup(f, ref, NULL, err);
    if (!c)
        return -1;
    *res = c->res;
    return 0;
}

void kk_cg_fake_exit(struct kk_cg *cg, pid_t pid)
{
    struct fake *f = fake(cg);
    for (size_t i = 0; i < f->n; i++) {
        struct fake_cg *c = &f->cgs[i];
        for (size_t j = 0; j < c->n_pids;) {
            if (c->pids[j] == pid)
                c->pids[j] = c->pids[--c->n_pids];
            else
                j++;
        }
    }
}

static int fake_place(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t pid, kk_error **err)
{
    struct fake *f = fake(cg);
    if (injected(f, "place", err) < 0)
        return -1;
    struct fake_cg *c = lookup(f, ref, NULL, err);
    if (!c)
        return -1;
    kk_cg_fake_exit(cg, pid);
    c->pids = kk_xrealloc(c->pids, (c->n_pids + 1) * sizeof(*c->pids));
    c->pids[c->n_pids++] = pid;
    return 0;
}

static int fake_procs(struct kk_cg *cg, const struct kk_cg_ref *ref, pid_t **pids, size_t *n,
                      kk_error **err)
{
    struct fake *f = fake(cg);
    if (injected(f, "procs", err) < 0)
        return -1;
    struct fake_cg *c = lookup(f, ref, NULL, err);
    if (!c)
        return -1;
    *pids = kk_xmalloc((c->n_pids + 1) * sizeof(**pids));
    memcpy(*pids, c->pids, c->n_pids * sizeof(**pids));
    *n = c->n_pids;
    return 0;
}

static int fake_freeze(struct kk_cg *cg, const struct kk_cg_ref *ref, bool frozen, int timeout_ms,
                       kk_error **err)
{
    struct fake *f = fake(cg);
    (void)timeout_ms;
    if (injected(f, "freeze", err) < 0)
        return -1;
    if (cg->mode == KK_CG_MODE_V1 && !(cg->available & KK_CG_FREEZER)) {
        kk_error_set(err, KK_E_PRECONDITION, "no freezer hierarchy mounted");
        return kk_error_reason(err, "CgroupControllersMissing");
    }
    struct fake_cg *c = lookup(f, ref, NULL, err);
    if (!c)
        return -1;
    c->frozen = frozen;
    return 0;
}

static int fake_remove(struct kk_cg *cg, const struct kk_cg_ref *ref, int timeout_ms,
                       kk_error **err)
{
    struct fake *f = fake(cg);
    _cleanup_free_ char *path = NULL;
    if (injected(f, "remove", err) < 0 || kk_cg_ref_path(cg->root, ref, &path, err) < 0)
        return -1;
    for (size_t i = 0; i < f->n; i++)
        if (within(f->cgs[i].path, path) && f->cgs[i].n_pids > 0) {
            kk_error_set(err, KK_E_PRECONDITION,
                         "cgroup %s still has processes after %d ms (pids %d)", path, timeout_ms,
                         (int)f->cgs[i].pids[0]);
            return kk_error_reason(err, "CgroupBusy");
        }
    size_t kept = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (within(f->cgs[i].path, path)) {
            free(f->cgs[i].path);
            free(f->cgs[i].pids);
        } else {
            f->cgs[kept++] = f->cgs[i];
        }
    }
    f->n = kept;
    return 0;
}

static void fake_close(struct kk_cg *cg)
{
    struct fake *f = fake(cg);
    for (size_t i = 0; i < f->n; i++) {
        free(f->cgs[i].path);
        free(f->cgs[i].pids);
    }
    free(f->cgs);
    free(f->fail_op);
    free(cg->root);
    free(f);
}

static const struct kk_cg_ops fake_ops = {
        .ensure = fake_ensure,
        .status = fake_status,
        .apply = fake_apply,
        .read = fake_read,
        .place = fake_place,
        .procs = fake_procs,
        .freeze = fake_freeze,
        .remove = fake_remove,
        .close = fake_close,
};

int kk_cg_open_fake(enum kk_cg_mode mode, unsigned available, const char *root, struct kk_cg **out,
                    kk_error **err)
{
    root = root ? root : KK_CG_DEFAULT_ROOT;
    if (mode != KK_CG_MODE_V1 && mode != KK_CG_MODE_V2)
        return kk_error_set(err, KK_E_INVALID, "fake cgroup: mode must be v1 or v2");
    if (kk_cg_check_root(root, err) < 0)
        return -1;
    struct fake *f = kk_xcalloc(1, sizeof(*f));
    f->base = (struct kk_cg){.ops = &fake_ops,
                             .mode = mode,
                             .hybrid = mode == KK_CG_MODE_V1,
                             .available = available,
                             .root = kk_xstrdup(root)};
    *out = &f->base;
    return 0;
}

void kk_cg_fake_fail_next(struct kk_cg *cg, const char *op, kk_code code)
{
    struct fake *f = fake(cg);
    free(f->fail_op);
    f->fail_op = kk_xstrdup(op);
    f->fail_code = code;
}

size_t kk_cg_fake_count(struct kk_cg *cg)
{
    return fake(cg)->n;
}
