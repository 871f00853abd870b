/* Detection of the host's cgroup layout, and the real backend's handle. */
#include "runtime/cgroup/cg-internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "fsapi/log.h"

static void hiers_free(struct cg_hier *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        if (h[i].fd >= 0)
            close(h[i].fd);
    }
    free(h);
}

void kk_cg_close(struct kk_cg *cg)
{
    if (cg)
        cg->ops->close(cg);
}

void cg_real_close(struct kk_cg *cg)
{
    struct cg_real *r = cg_real(cg);
    hiers_free(r->hiers, r->n_hiers);
    free(r->mount);
    free(cg->root);
    free(r);
}

static void add_hier(struct cg_real *r, size_t *cap, const char *name, int fd, bool unified)
{
    void *p = r->hiers;
    kk_xgrow(&p, cap, r->n_hiers + 1, sizeof(*r->hiers));
    r->hiers = p;
    struct cg_hier *h = &r->hiers[r->n_hiers++];
    *h = (struct cg_hier){.name = kk_xstrdup(name), .fd = fd, .unified = unified};
    if (!unified)
        /* v1 mounts are named after their controllers ("cpu,cpuacct"), the
         * convention of systemd and every init that mounts them; a name that
         * is no controller ("systemd") is a named hierarchy, still mirrored
         * because runc joins those too. */
        kk_cg_controllers_parse(name, KK_CG_MODE_V1, &h->controllers);
}

/* Every hierarchy directly under the mount. Symlinks ("cpu" ->
 * "cpu,cpuacct") are aliases and skipped. With `trust` (a forced mode, a
 * fake tree) any directory counts and "unified" is the cgroup2 one;
 * otherwise the filesystem type decides. */
static int scan_v1(struct cg_real *r, int mount_fd, bool trust, kk_error **err)
{
    size_t cap = 0;
    _cleanup_closedir_ DIR *d = cg_opendir(mount_fd, ".", err);
    if (!d)
        return kk_error_wrap(err, "%s", r->mount);
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_close_ int fd =
                openat(mount_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue; /* not a directory, or a symlink */
        bool unified;
        if (trust) {
            unified = strcmp(de->d_name, "unified") == 0;
        } else {
            struct statfs sfs;
            if (fstatfs(fd, &sfs) < 0)
                return kk_error_errno(err, "statfs %s/%s", r->mount, de->d_name);
            if (sfs.f_type != CGROUP_SUPER_MAGIC && sfs.f_type != CGROUP2_SUPER_MAGIC)
                continue;
            unified = sfs.f_type == CGROUP2_SUPER_MAGIC;
        }
        if (unified && r->base.hybrid)
            continue; /* only one companion */
        add_hier(r, &cap, de->d_name, TAKE_FD(fd), unified);
        if (unified)
            r->base.hybrid = true;
        else
            r->base.available |= r->hiers[r->n_hiers - 1].controllers;
    }
    if (r->n_hiers == (r->base.hybrid ? 1u : 0u))
        return kk_error_set(err, KK_E_NOT_FOUND, "no cgroup v1 hierarchy under %s", r->mount);
    return 0;
}

static int setup_v2(struct cg_real *r, int mount_fd, kk_error **err)
{
    size_t cap = 0;
    _cleanup_free_ char *list = NULL;
    int fd = fcntl(mount_fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return kk_error_errno(err, "dup");
    add_hier(r, &cap, "", fd, true);
    if (cg_read_file(fd, "cgroup.controllers", &list, err) < 0)
        return kk_error_wrap(err, "cgroup v2 at %s", r->mount);
    int unknown = kk_cg_controllers_parse(list, KK_CG_MODE_V2, &r->base.available);
    if (unknown)
        kk_log_debug("cgroup: %d controller(s) of \"%s\" unknown, not delegated", unknown, list);
    return 0;
}

int kk_cg_open_real(const struct kk_cg_config *cfg, struct kk_cg **out, kk_error **err)
{
    const char *mount = cfg && cfg->mount ? cfg->mount : KK_CG_DEFAULT_MOUNT;
    const char *root = cfg && cfg->root ? cfg->root : KK_CG_DEFAULT_ROOT;
    enum kk_cg_mode mode = cfg ? cfg->mode : KK_CG_MODE_AUTO;
    unsigned require = cfg ? cfg->require : 0;

    if (kk_cg_check_root(root, err) < 0)
        return -1;
    _cleanup_close_ int mount_fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount_fd < 0)
        return kk_error_errno(err, "cgroup mount %s", mount);

    bool trust = mode != KK_CG_MODE_AUTO;
    if (!trust) {
        struct statfs sfs;
        if (fstatfs(mount_fd, &sfs) < 0)
            return kk_error_errno(err, "statfs %s", mount);
        if (sfs.f_type == CGROUP2_SUPER_MAGIC)
            mode = KK_CG_MODE_V2;
        else if (sfs.f_type == TMPFS_MAGIC)
            mode = KK_CG_MODE_V1;
        else if (sfs.f_type == CGROUP_SUPER_MAGIC)
            return kk_error_set(err, KK_E_UNIMPLEMENTED,
                                "%s is a single cgroup v1 hierarchy; expected cgroup2 or a "
                                "tmpfs holding one mount per controller",
                                mount);
        else
            return kk_error_set(err, KK_E_NOT_FOUND, "no cgroup filesystem at %s", mount);
    }

    struct cg_real *r = kk_xcalloc(1, sizeof(*r));
    _cleanup_(kk_cg_closep) struct kk_cg *cg = &r->base;
    cg->ops = mode == KK_CG_MODE_V2 ? &kk_cg_v2_ops : &kk_cg_v1_ops;
    cg->mode = mode;
    cg->root = kk_xstrdup(root);
    r->mount = kk_xstrdup(mount);
    if ((mode == KK_CG_MODE_V2 ? setup_v2(r, mount_fd, err) : scan_v1(r, mount_fd, trust, err)) < 0)
        return -1;

    unsigned missing = require & ~cg->available;
    if (missing) {
        _cleanup_free_ char *miss = kk_cg_controllers_format(missing, mode);
        _cleanup_free_ char *have = kk_cg_controllers_format(cg->available, mode);
        kk_error_set(err, KK_E_PRECONDITION,
                     "cgroup %s at %s: controller(s) missing: %s (the host offers: %s)",
                     mode == KK_CG_MODE_V2 ? "v2" : "v1", mount, miss, *have ? have : "none");
        return kk_error_reason(err, "CgroupControllersMissing");
    }
    *out = TAKE_PTR(cg);
    return 0;
}

int cg_rel_path(struct kk_cg *cg, const struct kk_cg_ref *ref, char **rel, kk_error **err)
{
    _cleanup_free_ char *abs = NULL;
    if (kk_cg_ref_path(cg->root, ref, &abs, err) < 0)
        return -1;
    *rel = kk_xstrdup(abs + 1);
    return 0;
}

void cg_split(const char *rel, char **parent, const char **name)
{
    const char *slash = strrchr(rel, '/');
    *name = slash ? slash + 1 : rel;
    *parent = kk_xstrndup(rel, slash ? (size_t)(slash - rel) : 0);
}

char *cg_describe(const struct cg_hier *h, const char *rel)
{
    return *h->name ? kk_xasprintf("%s:/%s", h->name, rel) : kk_xasprintf("/%s", rel);
}

int cg_status_init(struct kk_cg *cg, const struct kk_cg_ref *ref, struct kk_cg_status *st,
                   kk_error **err)
{
    *st = (struct kk_cg_status){0};
    return kk_cg_ref_path(cg->root, ref, &st->path, err);
}
