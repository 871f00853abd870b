/* Defaults and the checks that span fields: kk_model_normalize.
 *
 * Each check walks the model and, beside it, the YAML nodes it came from
 * (when there are any) only to give a diagnostic its line and column. When a
 * field is missing, the diagnostic points at the mapping that lacks it. */
#include "fsapi/model.h"

#include <stdarg.h>
#include <string.h>

/* More would be a mistake, not a pod. */
#define MAX_CELL_CONTAINERS 64

_Static_assert(offsetof(struct kk_realm, id) == 0, "kk_resource_id relies on id first");
_Static_assert(offsetof(struct kk_space, id) == 0, "kk_resource_id relies on id first");
_Static_assert(offsetof(struct kk_stack, id) == 0, "kk_resource_id relies on id first");
_Static_assert(offsetof(struct kk_cell, id) == 0, "kk_resource_id relies on id first");
_Static_assert(offsetof(struct kk_container, id) == 0, "kk_resource_id relies on id first");

/* The node of `key` in `map`, or `map` itself when the key is absent (the
 * position of a missing field is that of its mapping). */
static const struct kk_ynode *at(const struct kk_ynode *map, const char *key)
{
    const struct kk_ynode *n = kk_ynode_get(map, key);
    return n ? n : map;
}

static const struct kk_ynode *item_at(const struct kk_ynode *seq, size_t i)
{
    return seq && seq->type == KK_YSEQ && i < seq->n ? seq->items[i] : NULL;
}

/* Reports under path + "." + key. */
static void field_error(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void field_error(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                        const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    size_t mark = kk_dec_push_key(d, key);
    kk_dec_error(d, at(map, key), "%s", msg);
    kk_dec_pop(d, mark);
}

static void check_name(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                       const char *name)
{
    const char *why;
    if (!kk_name_valid(name, &why))
        field_error(d, map, key, "invalid name \"%.80s\": %s", name, why);
}

/* A parent reference: defaults to "default", else must be a valid name. */
static void check_parent(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                         char **value)
{
    if (!*value)
        *value = kk_xstrdup(KK_DEFAULT_NAME);
    else
        check_name(d, map, key, *value);
}

/* Inside a cell, a container's parent may be omitted or equal the cell's. */
static void inherit_parent(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                           char **value, const char *cell_value)
{
    if (*value && strcmp(*value, cell_value) != 0)
        field_error(d, map, key, "\"%.80s\" differs from the cell's \"%s\" (omit it)", *value,
                    cell_value);
    free(*value);
    *value = kk_xstrdup(cell_value);
}

static bool is_abs_path(const char *p)
{
    return p && p[0] == '/';
}

static bool cpuset_valid(const char *s)
{
    /* "0-3,6,8-9" */
    if (!*s || strspn(s, "0123456789-,") != strlen(s))
        return false;
    for (const char *p = s; *p; p++)
        if ((*p == '-' || *p == ',') && (p == s || !p[1] || p[1] == '-' || p[1] == ','))
            return false;
    return true;
}

static void check_resources(struct kk_dec *d, const struct kk_ynode *map, struct kk_resources *res)
{
    const struct kk_ynode *rn = kk_ynode_get(map, "resources");
    size_t mark = kk_dec_push_key(d, "resources");
    if (res->cpu.cpuset && !cpuset_valid(res->cpu.cpuset)) {
        size_t m2 = kk_dec_push_key(d, "cpu");
        field_error(d, kk_ynode_get(rn, "cpu"), "cpuset",
                    "invalid CPU list \"%.80s\" (expected e.g. \"0-3,6\")", res->cpu.cpuset);
        kk_dec_pop(d, m2);
    }
    const struct kk_ynode *tn = kk_ynode_get(kk_ynode_get(rn, "io"), "throttles");
    for (size_t i = 0; i < res->io.n_throttles; i++) {
        const struct kk_io_throttle *t = &res->io.throttles[i];
        if (t->device.major || t->device.minor)
            continue;
        size_t m2 = kk_dec_push_key(d, "io.throttles");
        kk_dec_push_index(d, i);
        field_error(d, item_at(tn, i), "device", "required");
        kk_dec_pop(d, m2);
    }
    kk_dec_pop(d, mark);
}

static void check_strv_names(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                             const struct kk_strv *sv)
{
    const struct kk_ynode *seq = kk_ynode_get(map, key);
    for (size_t i = 0; i < sv->n; i++) {
        const char *why;
        if (kk_name_valid(sv->v[i], &why))
            continue;
        size_t mark = kk_dec_push_key(d, key);
        kk_dec_push_index(d, i);
        kk_dec_error(d, item_at(seq, i) ? item_at(seq, i) : at(map, key),
                     "invalid name \"%.80s\": %s", sv->v[i], why);
        kk_dec_pop(d, mark);
    }
}

/* Reports at item i of the list under key (or at the list, or the map). */
static void item_error(struct kk_dec *d, const struct kk_ynode *map, const char *key, size_t i,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void item_error(struct kk_dec *d, const struct kk_ynode *map, const char *key, size_t i,
                       const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    const struct kk_ynode *seq = kk_ynode_get(map, key);
    size_t mark = kk_dec_push_key(d, key);
    kk_dec_push_index(d, i);
    kk_dec_error(d, item_at(seq, i) ? item_at(seq, i) : at(map, key), "%s", msg);
    kk_dec_pop(d, mark);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts sv and drops repeated entries: lists that are sets are canonical. */
static void strv_sort_unique(struct kk_strv *sv)
{
    if (sv->n < 2)
        return;
    qsort(sv->v, sv->n, sizeof(*sv->v), cmp_strp);
    size_t n = 1;
    for (size_t i = 1; i < sv->n; i++) {
        if (strcmp(sv->v[i], sv->v[n - 1]) == 0)
            free(sv->v[i]);
        else
            sv->v[n++] = sv->v[i];
    }
    sv->n = n;
    sv->v[n] = NULL;
}

static void check_cap_list(struct kk_dec *d, const struct kk_ynode *cn, const char *key,
                           struct kk_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        char *norm = kk_capability_normalize(sv->v[i]);
        if (!norm) {
            item_error(d, cn, key, i,
                       "unknown capability \"%.80s\" (a name such as NET_ADMIN or CAP_NET_ADMIN, "
                       "or ALL)",
                       sv->v[i]);
            continue;
        }
        free(sv->v[i]);
        sv->v[i] = norm;
    }
    strv_sort_unique(sv);
}

static void check_capabilities(struct kk_dec *d, const struct kk_ynode *map,
                               struct kk_capabilities *caps)
{
    const struct kk_ynode *cn = kk_ynode_get(map, "capabilities");
    size_t mark = kk_dec_push_key(d, "capabilities");
    check_cap_list(d, cn, "drop", &caps->drop);
    check_cap_list(d, cn, "add", &caps->add);
    kk_dec_pop(d, mark);
}

static void check_security_opts(struct kk_dec *d, const struct kk_ynode *map, struct kk_strv *opts)
{
    int seen[3] = {-1, -1, -1}; /* enum kk_secopt_kind -> first index */
    for (size_t i = 0; i < opts->n; i++) {
        struct kk_security_opt o;
        char *canon = NULL;
        const char *why;
        if (kk_security_opt_parse(opts->v[i], &o, &canon, &why) < 0) {
            item_error(d, map, "securityOpts", i, "\"%.80s\": %s", opts->v[i], why);
            continue;
        }
        free(o.value);
        free(opts->v[i]);
        opts->v[i] = canon;
        if (seen[o.kind] >= 0) {
            static const char *const names[] = {"no-new-privileges", "seccomp", "apparmor"};
            item_error(d, map, "securityOpts", i, "%s is already set by securityOpts[%d]",
                       names[o.kind], seen[o.kind]);
            continue;
        }
        seen[o.kind] = (int)i;
    }
    strv_sort_unique(opts);
}

static void check_devices(struct kk_dec *d, const struct kk_ynode *map, struct kk_strv *devs)
{
    /* container paths of the entries parsed so far, NULL for a bad one */
    char **targets = kk_xcalloc(devs->n + 1, sizeof(char *));
    for (size_t i = 0; i < devs->n; i++) {
        struct kk_device dev;
        const char *why;
        if (kk_device_parse(devs->v[i], &dev, &why) < 0) {
            item_error(d, map, "devices", i, "\"%.80s\": %s", devs->v[i], why);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (targets[j] && strcmp(targets[j], dev.container) == 0) {
                item_error(d, map, "devices", i, "%s is already a device of devices[%zu]",
                           dev.container, j);
                break;
            }
        }
        _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
        kk_device_format(&dev, &b);
        free(devs->v[i]);
        devs->v[i] = kk_buf_detach(&b, NULL);
        targets[i] = TAKE_PTR(dev.container);
        kk_device_clear(&dev);
    }
    for (size_t i = 0; i < devs->n; i++)
        free(targets[i]);
    free(targets);
    /* order matters to nobody, and equal sets must hash equal */
    strv_sort_unique(devs);
}

/* Mount options of a tmpfs: Docker's list, minus those that make no sense
 * for it; key=value ones are checked for a plain value. */
static bool tmpfs_option_valid(const char *o)
{
    static const char *const flags[] = {
            "ro",       "rw",         "nosuid",      "suid",          "nodev",
            "dev",      "noexec",     "exec",        "sync",          "async",
            "dirsync",  "atime",      "noatime",     "diratime",      "nodiratime",
            "relatime", "norelatime", "strictatime", "nostrictatime", "mand",
            "nomand",   NULL,
    };
    static const char *const keys[] = {"size",      "mode",      "uid",  "gid",
                                       "nr_inodes", "nr_blocks", "huge", NULL};
    for (size_t i = 0; flags[i]; i++)
        if (strcmp(o, flags[i]) == 0)
            return true;
    const char *eq = strchr(o, '=');
    if (!eq || !eq[1] ||
        strspn(eq + 1, "abcdefghijklmnopqrstuvwxyz0123456789kKmMgG%") != strlen(eq + 1))
        return false;
    for (size_t i = 0; keys[i]; i++)
        if ((size_t)(eq - o) == strlen(keys[i]) && strncmp(o, keys[i], (size_t)(eq - o)) == 0)
            return true;
    return false;
}

static void check_tmpfs(struct kk_dec *d, const struct kk_ynode *map, struct kk_container *k)
{
    const struct kk_ynode *tn = kk_ynode_get(map, "tmpfs");
    for (size_t i = 0; i < k->n_tmpfs; i++) {
        struct kk_tmpfs *t = &k->tmpfs[i];
        const struct kk_ynode *item = item_at(tn, i) ? item_at(tn, i) : tn;
        size_t mark = kk_dec_push_key(d, "tmpfs");
        kk_dec_push_index(d, i);
        if (!t->path)
            field_error(d, item, "path", "required");
        else if (!kk_clean_abs_path(t->path) || strcmp(t->path, "/") == 0)
            field_error(d, item, "path",
                        "must be an absolute path other than /, without . or .. components, "
                        "got \"%.80s\"",
                        t->path);
        if (t->size_bytes == 0)
            t->size_bytes = KK_UNSET;
        for (size_t j = 0; j < t->options.n; j++) {
            const char *o = t->options.v[j];
            if (!tmpfs_option_valid(o))
                item_error(d, item, "options", j,
                           "\"%.80s\" is not a tmpfs mount option (e.g. noexec, "
                           "mode=1777, uid=1000)",
                           o);
            else if (strncmp(o, "size=", 5) == 0 && t->size_bytes != KK_UNSET)
                item_error(d, item, "options", j, "conflicts with sizeBytes: give one");
        }
        kk_dec_pop(d, mark);
    }
}

static void check_volumes(struct kk_dec *d, const struct kk_ynode *map, struct kk_container *k)
{
    const struct kk_ynode *vols = kk_ynode_get(map, "volumes");
    for (size_t i = 0; i < k->n_volumes; i++) {
        struct kk_volume *v = &k->volumes[i];
        size_t mark = kk_dec_push_key(d, "volumes");
        kk_dec_push_index(d, i);
        const struct kk_ynode *vn = item_at(vols, i) ? item_at(vols, i) : vols;
        if (v->size_bytes == 0)
            v->size_bytes = KK_UNSET;
        switch (v->kind) {
        case KK_VOLUME_BIND:
            if (!v->source)
                field_error(d, vn, "source", "required");
            else if (!is_abs_path(v->source))
                field_error(d, vn, "source", "must be an absolute path, got \"%.80s\"", v->source);
            if (v->size_bytes != KK_UNSET)
                field_error(d, vn, "sizeBytes", "only for kind: tmpfs");
            if (v->mode)
                field_error(d, vn, "mode", "only for kind: tmpfs");
            break;
        case KK_VOLUME_TMPFS:
            if (v->source)
                field_error(d, vn, "source", "must be empty for kind: tmpfs");
            break;
        default:
            field_error(d, vn, "kind",
                        "volume is not supported yet (it comes with kind Volume); use bind or "
                        "tmpfs");
            break;
        }
        if (!v->target)
            field_error(d, vn, "target", "required");
        else if (!is_abs_path(v->target))
            field_error(d, vn, "target", "must be an absolute path, got \"%.80s\"", v->target);
        else if (v->kind == KK_VOLUME_TMPFS && strcmp(v->target, "/") == 0)
            field_error(d, vn, "target", "a tmpfs cannot replace the root filesystem");
        kk_dec_pop(d, mark);
    }
}

/* Two mounts at one place: the second would hide the first. */
static void check_mount_targets(struct kk_dec *d, const struct kk_ynode *map,
                                const struct kk_container *k)
{
    const struct kk_ynode *tn = kk_ynode_get(map, "tmpfs");
    size_t n = k->n_volumes + k->n_tmpfs;
    for (size_t i = 0; i < n; i++) {
        bool vol_i = i < k->n_volumes;
        const char *ti = vol_i ? k->volumes[i].target : k->tmpfs[i - k->n_volumes].path;
        for (size_t j = 0; ti && j < i; j++) {
            bool vol_j = j < k->n_volumes;
            const char *tj = vol_j ? k->volumes[j].target : k->tmpfs[j - k->n_volumes].path;
            if (!tj || strcmp(ti, tj) != 0)
                continue;
            size_t ij = vol_j ? j : j - k->n_volumes;
            size_t mark = kk_dec_push_key(d, vol_i ? "volumes" : "tmpfs");
            kk_dec_push_index(d, vol_i ? i : i - k->n_volumes);
            const struct kk_ynode *item = vol_i ? item_at(kk_ynode_get(map, "volumes"), i)
                                                : item_at(tn, i - k->n_volumes);
            field_error(d, item, vol_i ? "target" : "path", "%s is already mounted by %s[%zu]", ti,
                        vol_j ? "volumes" : "tmpfs", ij);
            kk_dec_pop(d, mark);
            break;
        }
    }
}

/* The upstream flat resource fields, moved into the cpu/memory/pids form. */
static void check_upstream_resources(struct kk_dec *d, const struct kk_ynode *map,
                                     struct kk_resources *res)
{
    const struct kk_ynode *rn = kk_ynode_get(map, "resources");
    static const char *const flat[] = {"memoryLimitBytes", "cpuShares", "pidsLimit"};
    static const char *const rich[] = {"cpu", "memory", "io", "pids"};
    bool flat_set[] = {res->memory_limit_bytes != KK_UNSET, res->cpu_shares != 0,
                       res->pids_limit != 0};
    bool rich_set[] = {res->cpu.weight || res->cpu.millicpus || res->cpu.cpuset,
                       res->memory.max != KK_UNSET || res->memory.high != KK_UNSET ||
                               res->memory.swap != KK_UNSET,
                       res->io.weight || res->io.n_throttles, res->pids.max != KK_UNSET};
    int f = -1, r = -1;
    for (int i = 0; i < 3 && f < 0; i++)
        if (flat_set[i] || kk_ynode_get(rn, flat[i]))
            f = i;
    for (int i = 0; i < 4 && r < 0; i++)
        if (rich_set[i] || kk_ynode_get(rn, rich[i]))
            r = i;
    if (f < 0)
        return;
    if (r >= 0) {
        size_t mark = kk_dec_push_key(d, "resources");
        field_error(d, rn, flat[f],
                    "conflicts with resources.%s: use either memoryLimitBytes, cpuShares and "
                    "pidsLimit, or cpu, memory, io and pids",
                    rich[r]);
        kk_dec_pop(d, mark);
        return;
    }
    if (res->memory_limit_bytes > 0)
        res->memory.max = res->memory_limit_bytes;
    if (res->cpu_shares) {
        /* runc's conversion of cgroup v1 shares [2, 262144] to cgroup v2
         * weights [1, 10000], which is what the kernel applies here */
        uint64_t shares = res->cpu_shares < 2 ? 2 : res->cpu_shares;
        res->cpu.weight = (uint32_t)(1 + ((shares - 2) * 9999) / 262142);
    }
    if (res->pids_limit > 0)
        res->pids.max = res->pids_limit;
    res->memory_limit_bytes = KK_UNSET;
    res->cpu_shares = 0;
    res->pids_limit = 0;
}

/* Checks one container's own fields (not its id or parents). */
static void check_container_fields(struct kk_dec *d, const struct kk_ynode *map,
                                   struct kk_container *k)
{
    if (!k->image) {
        field_error(d, map, "image", "required");
    } else {
        const char *why;
        char *norm = kk_image_normalize(k->image, &why);
        if (!norm) {
            field_error(d, map, "image", "invalid image reference \"%.80s\": %s", k->image, why);
        } else {
            free(k->image);
            k->image = norm;
        }
    }
    const struct kk_ynode *env = kk_ynode_get(map, "env");
    for (size_t i = 0; i < k->env.n; i++) {
        const char *eq = strchr(k->env.v[i], '=');
        if (eq && eq != k->env.v[i])
            continue;
        size_t mark = kk_dec_push_key(d, "env");
        kk_dec_push_index(d, i);
        kk_dec_error(d, item_at(env, i) ? item_at(env, i) : at(map, "env"),
                     "expected \"NAME=value\", got \"%.80s\"", k->env.v[i]);
        kk_dec_pop(d, mark);
    }
    if (k->working_dir && !is_abs_path(k->working_dir))
        field_error(d, map, "workingDir", "must be an absolute path, got \"%.80s\"",
                    k->working_dir);

    check_volumes(d, map, k);
    check_tmpfs(d, map, k);
    check_mount_targets(d, map, k);
    check_capabilities(d, map, &k->capabilities);
    check_security_opts(d, map, &k->security_opts);
    check_devices(d, map, &k->devices);

    const struct kk_ynode *pn = kk_ynode_get(map, "ports");
    for (size_t i = 0; i < k->ports.n; i++) {
        const struct kk_port *p = &k->ports.v[i];
        for (size_t j = 0; j < i; j++) {
            const struct kk_port *q = &k->ports.v[j];
            if (p->host_port != q->host_port || p->proto != q->proto)
                continue;
            if (p->host_ip && q->host_ip && strcmp(p->host_ip, q->host_ip) != 0)
                continue;
            size_t mark = kk_dec_push_key(d, "ports");
            kk_dec_push_index(d, i);
            kk_dec_error(d, item_at(pn, i), "host port %u/%s is already published by ports[%zu]",
                         p->host_port, p->proto == KK_PROTO_UDP ? "udp" : "tcp", j);
            kk_dec_pop(d, mark);
            break;
        }
        /* Kubernetes' rule: in the host's network the container port is
         * the host port; there is nothing to map. */
        if (k->host_network && p->host_port != p->container_port) {
            size_t mark = kk_dec_push_key(d, "ports");
            kk_dec_push_index(d, i);
            kk_dec_error(d, item_at(pn, i),
                         "with hostNetwork the host port must equal the container port (%u != %u)",
                         p->host_port, p->container_port);
            kk_dec_pop(d, mark);
        }
    }
    check_strv_names(d, map, "networks", &k->networks);
    check_strv_names(d, map, "networksAliases", &k->networks_aliases);
    check_resources(d, map, &k->resources);
    check_upstream_resources(d, map, &k->resources);
    if (!k->restart_backoff_seconds)
        k->restart_backoff_seconds = KK_RESTART_BACKOFF_DEFAULT;
}

static void check_cell_root(struct kk_dec *d, const struct kk_ynode *spec, struct kk_cell *cell)
{
    const struct kk_ynode *cn = kk_ynode_get(spec, "containers");
    size_t root = SIZE_MAX;
    if (cell->root_container_id) {
        for (size_t i = 0; i < cell->n_containers; i++)
            if (cell->containers[i].id &&
                strcmp(cell->containers[i].id, cell->root_container_id) == 0)
                root = i;
        if (root == SIZE_MAX) {
            field_error(d, spec, "rootContainerId", "\"%.80s\" names no container of the cell",
                        cell->root_container_id);
            return;
        }
        for (size_t i = 0; i < cell->n_containers; i++) {
            if (i == root || !cell->containers[i].root)
                continue;
            size_t mark = kk_dec_push_key(d, "containers");
            kk_dec_push_index(d, i);
            field_error(d, item_at(cn, i), "root", "conflicts with rootContainerId \"%s\"",
                        cell->root_container_id);
            kk_dec_pop(d, mark);
        }
    } else {
        for (size_t i = 0; i < cell->n_containers; i++) {
            if (!cell->containers[i].root)
                continue;
            if (root == SIZE_MAX) {
                root = i;
                continue;
            }
            size_t mark = kk_dec_push_key(d, "containers");
            kk_dec_push_index(d, i);
            field_error(d, item_at(cn, i), "root",
                        "more than one root container (containers[%zu] is root too)", root);
            kk_dec_pop(d, mark);
        }
        if (root == SIZE_MAX)
            root = 0;
    }
    if (cell->n_containers == 0)
        return;
    for (size_t i = 0; i < cell->n_containers; i++)
        cell->containers[i].root = i == root;
    if (!cell->root_container_id && cell->containers[root].id)
        cell->root_container_id = kk_xstrdup(cell->containers[root].id);
}

/* The containerd id "<space>_<stack>_<cell>_<container>" must fit containerd's
 * limit, or the container could never be created. */
static void check_ctd_id_length(struct kk_dec *d, const struct kk_ynode *map, const char *key,
                                const struct kk_container *k)
{
    const char *parts[] = {k->space_id, k->stack_id, k->cell_id, k->id};
    size_t len = KK_ARRAY_SIZE(parts) - 1;
    for (size_t i = 0; i < KK_ARRAY_SIZE(parts); i++) {
        if (!parts[i])
            return;
        len += strlen(parts[i]);
    }
    if (len > KK_CTD_ID_MAX)
        field_error(d, map, key,
                    "containerd id \"%s_%s_%s_%s\" would be %zu characters (containerd allows "
                    "%d): shorten the space, stack, cell or container name",
                    parts[0], parts[1], parts[2], parts[3], len, KK_CTD_ID_MAX);
}

/* The index check_cell_root will choose, before it checks anything. */
static size_t root_guess(const struct kk_cell *cell)
{
    for (size_t i = 0; cell->root_container_id && i < cell->n_containers; i++)
        if (cell->containers[i].id && strcmp(cell->containers[i].id, cell->root_container_id) == 0)
            return i;
    for (size_t i = 0; i < cell->n_containers; i++)
        if (cell->containers[i].root)
            return i;
    return 0;
}

static bool ports_clash(const struct kk_port *p, const struct kk_port *q)
{
    return p->host_port == q->host_port && p->proto == q->proto &&
           (!p->host_ip || !q->host_ip || strcmp(p->host_ip, q->host_ip) == 0);
}

/* The cell's containers share one network namespace and one IP address:
 * a host port may be published by one of them only. */
static void check_cell_ports(struct kk_dec *d, const struct kk_ynode *cn,
                             const struct kk_cell *cell)
{
    for (size_t i = 1; i < cell->n_containers; i++) {
        const struct kk_container *k = &cell->containers[i];
        for (size_t pi = 0; pi < k->ports.n; pi++) {
            bool found = false;
            for (size_t j = 0; j < i && !found; j++) {
                const struct kk_container *o = &cell->containers[j];
                for (size_t pj = 0; pj < o->ports.n && !found; pj++) {
                    if (!ports_clash(&k->ports.v[pi], &o->ports.v[pj]))
                        continue;
                    found = true;
                    const struct kk_ynode *kn = item_at(cn, i) ? item_at(cn, i) : cn;
                    size_t mark = kk_dec_push_key(d, "containers");
                    kk_dec_push_index(d, i);
                    item_error(d, kn, "ports", pi,
                               "host port %u/%s is already published by containers[%zu] "
                               "(\"%s\") ports[%zu]",
                               k->ports.v[pi].host_port,
                               k->ports.v[pi].proto == KK_PROTO_UDP ? "udp" : "tcp", j,
                               o->id ? o->id : "", pj);
                    kk_dec_pop(d, mark);
                }
            }
        }
    }
}

static void check_cell(struct kk_dec *d, const struct kk_ynode *spec, struct kk_cell *cell)
{
    check_parent(d, spec, "realmId", &cell->realm_id);
    check_parent(d, spec, "spaceId", &cell->space_id);
    check_parent(d, spec, "stackId", &cell->stack_id);
    const struct kk_ynode *cn = kk_ynode_get(spec, "containers");
    if (cell->n_containers > MAX_CELL_CONTAINERS) {
        field_error(d, spec, "containers", "more than %d containers", MAX_CELL_CONTAINERS);
        return;
    }
    /* One network namespace per cell, the root's: in the host's network,
     * every container is; otherwise none may leave it alone. */
    size_t root = root_guess(cell);
    bool host_net = cell->n_containers && cell->containers[root].host_network;
    for (size_t i = 0; i < cell->n_containers; i++) {
        struct kk_container *k = &cell->containers[i];
        const struct kk_ynode *kn = item_at(cn, i) ? item_at(cn, i) : cn;
        size_t mark = kk_dec_push_key(d, "containers");
        kk_dec_push_index(d, i);
        if (host_net)
            k->host_network = true;
        else if (k->host_network)
            field_error(d, kn, "hostNetwork",
                        "only the root container (\"%s\") may set it: the cell's containers share "
                        "its network namespace",
                        cell->containers[root].id ? cell->containers[root].id : "");
        if (!k->id)
            field_error(d, kn, "id", "required");
        else
            check_name(d, kn, "id", k->id);
        for (size_t j = 0; k->id && j < i; j++) {
            if (cell->containers[j].id && strcmp(cell->containers[j].id, k->id) == 0) {
                field_error(d, kn, "id", "duplicate container id \"%s\" (see containers[%zu])",
                            k->id, j);
                break;
            }
        }
        inherit_parent(d, kn, "realmId", &k->realm_id, cell->realm_id);
        inherit_parent(d, kn, "spaceId", &k->space_id, cell->space_id);
        inherit_parent(d, kn, "stackId", &k->stack_id, cell->stack_id);
        inherit_parent(d, kn, "cellId", &k->cell_id, cell->id);
        check_ctd_id_length(d, kn, "id", k);
        check_container_fields(d, kn, k);
        kk_dec_pop(d, mark);
    }
    check_cell_ports(d, cn, cell);
    check_cell_root(d, spec, cell);
}

static void check_realm(struct kk_dec *d, const struct kk_ynode *spec, struct kk_realm *realm)
{
    if (!realm->namespace_)
        realm->namespace_ = kk_xasprintf(KK_DEFAULT_NAMESPACE_PREFIX "%s", realm->id);
    else if (!kk_namespace_valid(realm->namespace_))
        field_error(d, spec, "namespace",
                    "invalid containerd namespace \"%.80s\" (letters, digits, and '.', '_', "
                    "'-' between them, at most 76 characters)",
                    realm->namespace_);
    const struct kk_ynode *cn = kk_ynode_get(spec, "registryCredentials");
    for (size_t i = 0; i < realm->n_registry_credentials; i++) {
        const struct kk_registry_credential *c = &realm->registry_credentials[i];
        const struct kk_ynode *n = item_at(cn, i) ? item_at(cn, i) : cn;
        size_t mark = kk_dec_push_key(d, "registryCredentials");
        kk_dec_push_index(d, i);
        if (!c->server_address)
            field_error(d, n, "serverAddress", "required");
        if (!c->username)
            field_error(d, n, "username", "required");
        if (c->password && c->password_file)
            field_error(d, n, "passwordFile", "exclusive with password: give one");
        else if (!c->password && !c->password_file)
            field_error(d, n, "password", "required (or passwordFile)");
        if (c->password_file && !is_abs_path(c->password_file))
            field_error(d, n, "passwordFile", "must be an absolute path");
        kk_dec_pop(d, mark);
    }
}

/* name <-> spec.id: either may be omitted, both given must agree. */
static void check_identity(struct kk_dec *d, const struct kk_ynode *doc, struct kk_resource *r)
{
    const struct kk_ynode *meta = kk_ynode_get(doc, "metadata");
    const struct kk_ynode *spec = kk_ynode_get(doc, "spec");
    char **id = kk_resource_spec(r);
    char **name = &r->meta.name;
    if (!*name && !*id) {
        size_t mark = kk_dec_push_key(d, "metadata");
        field_error(d, meta ? meta : doc, "name", "required (or spec.id)");
        kk_dec_pop(d, mark);
        return;
    }
    if (*name && *id && strcmp(*name, *id) != 0) {
        size_t mark = kk_dec_push_key(d, "spec");
        field_error(d, spec, "id", "\"%.80s\" does not match metadata.name \"%.80s\"", *id, *name);
        kk_dec_pop(d, mark);
        return;
    }
    if (*name) {
        size_t mark = kk_dec_push_key(d, "metadata");
        check_name(d, meta, "name", *name);
        kk_dec_pop(d, mark);
    } else {
        size_t mark = kk_dec_push_key(d, "spec");
        check_name(d, spec, "id", *id);
        kk_dec_pop(d, mark);
    }
    if (!*name)
        *name = kk_xstrdup(*id);
    if (!*id)
        *id = kk_xstrdup(*name);
}

unsigned kk_model_normalize(struct kk_resource *r, const struct kk_ynode *doc,
                            struct kk_diags *diags)
{
    struct kk_dec d = {.file = r->file, .diags = diags};
    const struct kk_ynode *spec = kk_ynode_get(doc, "spec");
    if (!spec)
        spec = doc;

    check_identity(&d, doc, r);
    size_t mark = kk_dec_push_key(&d, "spec");
    switch (r->kind) {
    case KK_KIND_REALM:
        check_realm(&d, spec, &r->realm);
        break;
    case KK_KIND_SPACE: {
        check_parent(&d, spec, "realmId", &r->space.realm_id);
        const char *why;
        if (r->space.network.subnet && !kk_subnet_valid(r->space.network.subnet, &why)) {
            size_t m2 = kk_dec_push_key(&d, "network");
            field_error(&d, kk_ynode_get(spec, "network"), "subnet", "\"%.80s\": %s",
                        r->space.network.subnet, why);
            kk_dec_pop(&d, m2);
        }
        break;
    }
    case KK_KIND_STACK:
        check_parent(&d, spec, "realmId", &r->stack.realm_id);
        check_parent(&d, spec, "spaceId", &r->stack.space_id);
        break;
    case KK_KIND_CELL:
        check_cell(&d, spec, &r->cell);
        break;
    case KK_KIND_CONTAINER:
        check_parent(&d, spec, "realmId", &r->container.realm_id);
        check_parent(&d, spec, "spaceId", &r->container.space_id);
        check_parent(&d, spec, "stackId", &r->container.stack_id);
        check_parent(&d, spec, "cellId", &r->container.cell_id);
        check_ctd_id_length(&d, spec, "id", &r->container);
        check_container_fields(&d, spec, &r->container);
        break;
    }
    kk_dec_pop(&d, mark);
    kk_buf_release(&d.path);
    return d.errors;
}
