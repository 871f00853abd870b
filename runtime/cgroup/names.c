/* Controller names and cgroup paths: pure string work, no system calls. */
#include "runtime/cgroup/cgroup.h"

#include <ctype.h>
#include <string.h>

#include "fsapi/buf.h"

static const struct {
    unsigned bit;
    const char *v2; /* NULL: not a v2 controller */
    const char *v1; /* NULL: not a v1 controller */
} controllers[] = {
        /* The kernel's own order (kernel/cgroup/cgroup_subsys.h). */
        {KK_CG_CPUSET, "cpuset", "cpuset"},
        {KK_CG_CPU, "cpu", "cpu"},
        {KK_CG_CPUACCT, NULL, "cpuacct"},
        {KK_CG_IO, "io", "blkio"},
        {KK_CG_MEMORY, "memory", "memory"},
        {KK_CG_DEVICES, NULL, "devices"},
        {KK_CG_FREEZER, NULL, "freezer"},
        {KK_CG_NET_CLS, NULL, "net_cls"},
        {KK_CG_PERF_EVENT, "perf_event", "perf_event"},
        {KK_CG_NET_PRIO, NULL, "net_prio"},
        {KK_CG_HUGETLB, "hugetlb", "hugetlb"},
        {KK_CG_PIDS, "pids", "pids"},
        {KK_CG_RDMA, "rdma", "rdma"},
        {KK_CG_MISC, "misc", "misc"},
};

const char *kk_cg_controller_name(unsigned bit, enum kk_cg_mode mode)
{
    for (size_t i = 0; i < KK_ARRAY_SIZE(controllers); i++)
        if (controllers[i].bit == bit)
            return mode == KK_CG_MODE_V1 ? controllers[i].v1 : controllers[i].v2;
    return NULL;
}

static unsigned controller_bit(const char *name, size_t len, enum kk_cg_mode mode)
{
    for (size_t i = 0; i < KK_ARRAY_SIZE(controllers); i++) {
        const char *n = mode == KK_CG_MODE_V1 ? controllers[i].v1 : controllers[i].v2;
        if (n && strlen(n) == len && memcmp(n, name, len) == 0)
            return controllers[i].bit;
    }
    return 0;
}

int kk_cg_controllers_parse(const char *list, enum kk_cg_mode mode, unsigned *out)
{
    int unknown = 0;
    *out = 0;
    for (const char *p = list; *p;) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (*p == '+')
            p++;
        size_t len = strcspn(p, " \t\n,");
        if (len == 0)
            continue;
        unsigned bit = controller_bit(p, len, mode);
        if (bit)
            *out |= bit;
        else
            unknown++;
        p += len;
    }
    return unknown;
}

char *kk_cg_controllers_format(unsigned set, enum kk_cg_mode mode)
{
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_adds(&b, "");
    for (size_t i = 0; i < KK_ARRAY_SIZE(controllers); i++) {
        const char *n = mode == KK_CG_MODE_V1 ? controllers[i].v1 : controllers[i].v2;
        if (!(set & controllers[i].bit))
            continue;
        if (!n) /* "freezer" wanted on v2: still say what it is */
            n = controllers[i].v1 ? controllers[i].v1 : controllers[i].v2;
        if (b.len)
            kk_buf_addch(&b, ' ');
        kk_buf_adds(&b, n);
    }
    return kk_buf_detach(&b, NULL);
}

/* A resource name of docs/design.md §1: 1..63 of [a-z0-9-], alphanumeric ends. */
static bool valid_name(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return s[0] != '-' && s[len - 1] != '-';
}

int kk_cg_check_root(const char *root, kk_error **err)
{
    size_t len = root ? strlen(root) : 0;
    if (len == 0 || len > 255)
        return kk_error_set(err, KK_E_INVALID, "cgroup root name must be 1..255 bytes");
    for (const char *p = root; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return kk_error_set(err, KK_E_INVALID, "cgroup root name \"%s\": bad component", root);
        for (size_t i = 0; i < n; i++)
            if (!(isalnum((unsigned char)p[i]) || strchr("._-", p[i])))
                return kk_error_set(err, KK_E_INVALID,
                                    "cgroup root name \"%s\": character '%c' not allowed", root,
                                    p[i]);
        p += n;
        if (*p == '/' && *++p == '\0')
            return kk_error_set(err, KK_E_INVALID, "cgroup root name \"%s\": trailing '/'", root);
    }
    return 0;
}

int kk_cg_ref_path(const char *root, const struct kk_cg_ref *ref, char **out, kk_error **err)
{
    const char *const levels[] = {ref->realm, ref->space, ref->stack, ref->cell};
    static const char *const what[] = {"realm", "space", "stack", "cell"};
    size_t depth = 0;

    if (kk_cg_check_root(root, err) < 0)
        return -1;
    while (depth < KK_ARRAY_SIZE(levels) && levels[depth])
        depth++;
    for (size_t i = depth; i < KK_ARRAY_SIZE(levels); i++)
        if (levels[i])
            return kk_error_set(err, KK_E_INVALID, "cgroup path: %s given without its %s", what[i],
                                what[depth]);
    if ((ref->container || ref->role) && depth < KK_ARRAY_SIZE(levels))
        return kk_error_set(err, KK_E_INVALID, "cgroup path: container given without its %s",
                            what[depth]);
    if (!ref->container != !ref->role)
        return kk_error_set(err, KK_E_INVALID, "cgroup path: container and role go together");

    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_buf_printf(&b, "/%s", root);
    for (size_t i = 0; i < depth; i++) {
        if (!valid_name(levels[i]))
            return kk_error_set(err, KK_E_INVALID, "cgroup path: invalid %s name \"%s\"", what[i],
                                levels[i]);
        kk_buf_printf(&b, "/%s", levels[i]);
    }
    if (ref->container) {
        if (!valid_name(ref->container) || !valid_name(ref->role))
            return kk_error_set(err, KK_E_INVALID, "cgroup path: invalid container leaf \"%s_%s\"",
                                ref->container, ref->role);
        kk_buf_printf(&b, "/%s_%s", ref->container, ref->role);
    }
    *out = kk_buf_detach(&b, NULL);
    return 0;
}

int kk_cg_runc_path(const struct kk_cg *cg, const struct kk_cg_ref *ref, char **out, kk_error **err)
{
    /* runc's cgroupfs driver treats an absolute cgroupsPath as relative to
     * each hierarchy's mount point, which is exactly where our levels live. */
    return kk_cg_ref_path(cg->root, ref, out, err);
}

void kk_cg_status_release(struct kk_cg_status *st)
{
    if (!st)
        return;
    free(st->path);
    st->path = NULL;
}
