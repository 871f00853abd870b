/* Host traces of resources no spec accounts for: see agent/orphans.h. */
#include "agent/orphans.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/fsutil.h"
#include "fsapi/log.h"

/* A directory of ours is user-reachable input too: bounded. */
#define TRACE_DIR_MAX 10000
#define IPAM_SUFFIX   ".ipam"

static bool strv_has(const struct kk_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

static void add_key(struct kk_strv *keys, const char *s)
{
    if (!strv_has(keys, s))
        kk_strv_push(keys, s);
}

/* Lists the absolute directory path (NotFound and the like: nothing). */
static int list_abs(const char *path, struct kk_fs_list *out)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(fd, "", TRACE_DIR_MAX, out, &err) < 0) {
        kk_log_debug("orphans: %s: %s", path, err->message);
        return -1;
    }
    return 0;
}

/* Names of resources: what kk_key_init accepts. A container leaf of a
 * cell ("web_root") or the "_internal" leaf is not one, and stops the walk. */
static bool name_ok(const char *name)
{
    return kk_name_valid_n(name, strlen(name));
}

/* One cgroup hierarchy below our root: realm/space/stack/cell levels. */
static void walk_cgroup(const char *dir, const char *key, unsigned depth, unsigned max,
                        struct kk_strv *keys)
{
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    if (list_abs(dir, &list) < 0)
        return;
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (list.entries[i].type != DT_DIR || !name_ok(name))
            continue;
        _cleanup_free_ char *k = *key ? kk_xasprintf("%s/%s", key, name) : kk_xstrdup(name);
        add_key(keys, k);
        if (depth < max) {
            _cleanup_free_ char *sub = kk_xasprintf("%s/%s", dir, name);
            walk_cgroup(sub, k, depth + 1, max, keys);
        }
    }
}

/* Down to level max (4: cells; 1: realms only). */
static void cgroup_traces(struct agent_ctx *a, const char *mount, unsigned max,
                          struct kk_strv *keys)
{
    if (!mount || !a->cfg.cgroup_root || !*a->cfg.cgroup_root)
        return;
    /* v2: <mount>/<root>; v1 and hybrid: <mount>/<hierarchy>/<root>. */
    _cleanup_free_ char *unified = kk_xasprintf("%s/%s", mount, a->cfg.cgroup_root);
    walk_cgroup(unified, "", 1, max, keys);
    _cleanup_fs_list_ struct kk_fs_list hier = {0};
    if (list_abs(mount, &hier) < 0)
        return;
    for (size_t i = 0; i < hier.n; i++) {
        if (hier.entries[i].type != DT_DIR) /* cpu -> cpu,cpuacct: seen once */
            continue;
        _cleanup_free_ char *root =
                kk_xasprintf("%s/%s/%s", mount, hier.entries[i].name, a->cfg.cgroup_root);
        walk_cgroup(root, "", 1, max, keys);
    }
}

/* "a_b_c_d" (n == 4) or "a_b" (n == 2) into a key; names cannot hold '_',
 * so the split is unambiguous. False if it is not such a name. */
static bool key_of_underscored(const char *s, size_t len, unsigned n, char out[KK_KEY_STRLEN])
{
    char parts[4][KK_NAME_MAX + 1];
    const char *p = s, *end = s + len;
    for (unsigned i = 0; i < n; i++) {
        const char *q = p;
        while (q < end && *q != '_')
            q++;
        if (q == p || (size_t)(q - p) > KK_NAME_MAX || (i + 1 < n) != (q < end))
            return false;
        memcpy(parts[i], p, (size_t)(q - p));
        parts[i][q - p] = '\0';
        p = q + 1;
    }
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_init(&key, (enum kk_key_level)n, parts[0], parts[1], n > 2 ? parts[2] : NULL,
                    n > 3 ? parts[3] : NULL, NULL, &err) < 0)
        return false;
    kk_key_format(&key, out);
    return true;
}

static void run_dir_traces(struct agent_ctx *a, struct kk_strv *keys)
{
    char key[KK_KEY_STRLEN];
    _cleanup_free_ char *netns = kk_xasprintf("%s/netns", a->cfg.run_dir);
    _cleanup_fs_list_ struct kk_fs_list ns = {0};
    if (list_abs(netns, &ns) == 0)
        for (size_t i = 0; i < ns.n; i++)
            if (key_of_underscored(ns.entries[i].name, strlen(ns.entries[i].name), 4, key))
                add_key(keys, key);
    _cleanup_free_ char *ipam = kk_xasprintf("%s/net", a->cfg.run_dir);
    _cleanup_fs_list_ struct kk_fs_list ip = {0};
    if (list_abs(ipam, &ip) == 0)
        for (size_t i = 0; i < ip.n; i++) {
            const char *name = ip.entries[i].name;
            size_t n = strlen(name), sl = strlen(IPAM_SUFFIX);
            if (ip.entries[i].type == DT_REG && n > sl && strcmp(name + n - sl, IPAM_SUFFIX) == 0 &&
                key_of_underscored(name, n - sl, 2, key))
                add_key(keys, key);
        }
}

const char *agent_orphans_cg_mount(const struct agent_ctx *a)
{
    return agent_test_mode(a) ? NULL : AGENT_ORPHANS_CG_MOUNT;
}

void agent_orphans_traces(struct agent_ctx *a, const char *cg_mount, struct kk_strv *keys)
{
    cgroup_traces(a, cg_mount, 4, keys);
    run_dir_traces(a, keys);
}

bool agent_orphans_realm_traced(struct agent_ctx *a, const char *cg_mount, const char *realm)
{
    /* Called for keys from containerd events too: realms' cgroups only. */
    struct kk_strv keys = {0};
    cgroup_traces(a, cg_mount, 1, &keys);
    run_dir_traces(a, &keys);
    size_t n = strlen(realm);
    bool found = false;
    for (size_t i = 0; i < keys.n && !found; i++)
        found = strncmp(keys.v[i], realm, n) == 0 && (keys.v[i][n] == '\0' || keys.v[i][n] == '/');
    kk_strv_release(&keys);
    return found;
}

void agent_orphans_untracked(struct agent_ctx *a, const struct kk_strv *keys, struct kk_strv *out)
{
    for (size_t i = 0; i < keys->n; i++) {
        struct kk_key key;
        _cleanup_error_ kk_error *err = NULL;
        if (kk_key_parse(&key, keys->v[i], &err) < 0)
            continue;
        _cleanup_free_ char *dir = kk_tree_dir(&key);
        struct stat sb;
        if (fstatat(a->rootfd, dir, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
            add_key(out, keys->v[i]);
    }
}

void agent_orphans_leaves(const struct kk_strv *keys, struct kk_strv *out)
{
    for (size_t i = 0; i < keys->n; i++) {
        size_t n = strlen(keys->v[i]);
        bool below = false;
        for (size_t j = 0; j < keys->n && !below; j++)
            below = j != i && strncmp(keys->v[j], keys->v[i], n) == 0 && keys->v[j][n] == '/';
        if (!below)
            add_key(out, keys->v[i]);
    }
}
