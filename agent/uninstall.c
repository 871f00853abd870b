/* kukeond --uninstall: everything the agent made on the host, found by the
 * configured names, listed and removed (uninstall.h). */
#include "agent/uninstall.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/cleanup.h"
#include "fsapi/contract.h"
#include "fsapi/manifest.h"
#include "fsapi/tree.h"
#include "fsapi/validate.h"
#include "fsapi/yaml.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/containerd/containerd.h"
#include "runtime/firewall/firewall.h"
#include "runtime/net/hostnets.h"
#include "runtime/net/net.h"
#include "runtime/net/netns.h"
#include "runtime/net/sweep.h"

#define LOCKS_MAX    5
#define MOUNTS_MAX   4096
#define CTD_TIMEOUT  10000
#define STOP_TIMEOUT 2000

struct ui {
    const struct kk_agent_config *cfg;
    const struct agent_uninstall_opts *o;
    FILE *out;
    kk_error *first; /* the first failure; the others are only printed */
    unsigned found;
};

static void item(struct ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void item(struct ui *u, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(u->o->dry_run ? "would remove " : "removed ", u->out);
    vfprintf(u->out, fmt, ap);
    fputc('\n', u->out);
    va_end(ap);
    u->found++;
}

/* Reports a failure and keeps going; the first one is what the call returns. */
static void failed(struct ui *u, kk_error **e)
{
    fprintf(u->out, "failed: %s\n", (*e)->message);
    if (!u->first)
        u->first = TAKE_PTR(*e);
    kk_error_freep(e);
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- locks: refuse while an agent runs ----------------------------------- */

struct held {
    int fds[LOCKS_MAX];
    char *paths[LOCKS_MAX]; /* global lock files, unlinked at the end */
    size_t n;
};

static void held_release(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->fds[i] >= 0)
            close(h->fds[i]);
        free(h->paths[i]);
    }
    h->n = 0;
}

/* Locks path like agent/lock.c does, without writing a pid: EWOULDBLOCK
 * means a kukeond runs. A missing file is created only where an agent
 * would create it (so none can start meanwhile), never in a dry run. */
static int hold(struct held *h, const char *path, bool create, bool unlink_later, kk_error **err)
{
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
    _cleanup_close_ int fd = open(path, flags, 0600);
    if (fd < 0)
        return errno == ENOENT ? 0 : kk_error_errno(err, "lock %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return kk_error_errno(err, "lock %s", path);
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return kk_error_set(err, KK_E_PRECONDITION,
                            "a kukeond (pid %s) holds %s: stop it before uninstalling",
                            *pid ? pid : "unknown", path);
    }
    h->fds[h->n] = TAKE_FD(fd);
    h->paths[h->n] = unlink_later ? kk_xstrdup(path) : NULL;
    h->n++;
    return 0;
}

static int take_locks(struct ui *u, struct held *h, kk_error **err)
{
    const struct kk_agent_config *cfg = u->cfg;
    _cleanup_free_ char *state_lock =
            kk_xasprintf("%s/" KK_TREE_AGENT_DIRNAME "/kukeond.lock", cfg->state);
    if (hold(h, state_lock, false, false, err) < 0)
        return -1;
    struct stat st;
    bool dir = lstat(u->o->lock_dir, &st) == 0 && S_ISDIR(st.st_mode);
    const struct {
        const char *kind, *value;
    } names[] = {{"cgroup", cfg->cgroup_root},
                 {"nft", cfg->nft_table},
                 {"bridge", cfg->bridge_prefix},
                 {"veth", cfg->veth_prefix}};
    for (size_t i = 0; dir && i < KK_ARRAY_SIZE(names); i++) {
        _cleanup_free_ char *path =
                kk_xasprintf("%s/%s-%s.lock", u->o->lock_dir, names[i].kind, names[i].value);
        for (char *p = path + strlen(u->o->lock_dir) + 1; *p; p++)
            if (*p == '/')
                *p = '_';
        if (hold(h, path, !u->o->dry_run, !u->o->dry_run, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- containerd ----------------------------------------------------------- */

/* The namespaces realms of the state tree name in spec.namespace. */
static char **realm_namespaces(const char *state)
{
    char **v = kk_xcalloc(1, sizeof(*v));
    size_t n = 0;
    _cleanup_closedir_ DIR *d = opendir(state);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        _cleanup_free_ char *path = kk_xasprintf("%s/%s/realm.yaml", state, de->d_name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *e = NULL;
        _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
        if (kk_resource_load_fd(fd, path, KK_KIND_REALM, &r, &diags, &e) < 0 ||
            !r->realm.namespace_)
            continue;
        v = kk_xrealloc(v, (n + 2) * sizeof(*v));
        v[n++] = kk_xstrdup(r->realm.namespace_);
        v[n] = NULL;
    }
    return v;
}

static bool in_list(const char *ns, char *const *list)
{
    for (char *const *e = list; *e; e++)
        if (strcmp(*e, ns) == 0)
            return true;
    return false;
}

/* What a namespace holds, one line per container and image, and counts. */
static void list_namespace(struct ui *u, struct kk_ctd *c, const char *ns)
{
    _cleanup_error_ kk_error *e = NULL;
    struct kk_ctd_container *ctrs = NULL;
    size_t n = 0;
    if (kk_ctd_container_list(c, ns, NULL, &ctrs, &n, &e) == 0)
        for (size_t i = 0; i < n; i++)
            item(u, "containerd container %s/%s (and its task)", ns, ctrs[i].id);
    kk_ctd_container_list_free(ctrs, n);
    kk_error_freep(&e);
    struct kk_ctd_image *imgs = NULL;
    n = 0;
    if (kk_ctd_image_list(c, ns, NULL, &imgs, &n, &e) == 0)
        for (size_t i = 0; i < n; i++)
            item(u, "containerd image %s/%s", ns, imgs[i].name);
    kk_ctd_image_list_free(imgs, n);
    kk_error_freep(&e);
    _cleanup_strv_ char **leases = NULL;
    if (kk_ctd_lease_list(c, ns, &leases, &e) == 0)
        for (char **l = leases; *l; l++)
            item(u, "containerd lease %s/%s", ns, *l);
    kk_error_freep(&e);
    struct kk_ctd_snapshot_info *snaps = NULL;
    n = 0;
    if (kk_ctd_snapshot_list(c, ns, KK_CTD_DEFAULT_SNAPSHOTTER, &snaps, &n, &e) == 0 && n > 0)
        item(u, "containerd snapshots %s/%s (%zu)", ns, KK_CTD_DEFAULT_SNAPSHOTTER, n);
    kk_ctd_snapshot_list_free(snaps, n);
    kk_error_freep(&e);
}

/* The value of label `key` in a label vector, or NULL. */
static const char *label(char **labels, const char *key)
{
    for (char **l = labels; l && l[0] && l[1]; l += 2)
        if (strcmp(l[0], key) == 0)
            return l[1];
    return NULL;
}

char *agent_uninstall_ns_foreign(const char *ns, const char *prefix, bool from_spec,
                                 const struct kk_ctd_container *v, size_t n)
{
    const char *rest = ns + strlen(prefix);
    if (!from_spec && !kk_name_valid_n(rest, strlen(rest)))
        return kk_xasprintf("\"%s\" after the prefix is not a realm name", rest);
    for (size_t i = 0; i < n; i++) {
        const char *realm = label(v[i].labels, KK_LABEL_REALM);
        if (!realm)
            return kk_xasprintf("container %s is not kukeon's (no " KK_LABEL_REALM " label)",
                                v[i].id);
        if (!from_spec && strcmp(realm, rest) != 0)
            return kk_xasprintf("its containers belong to realm %s of another agent", realm);
    }
    return NULL;
}

static void remove_namespace(struct ui *u, struct kk_ctd *c, const char *ns, bool from_spec)
{
    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    _cleanup_error_ kk_error *e = NULL;
    if (kk_ctd_container_list(c, ns, NULL, &v, &n, &e) < 0) {
        kk_error_wrap(&e, "containerd namespace %s: list its containers", ns);
        failed(u, &e);
        return;
    }
    _cleanup_free_ char *why =
            agent_uninstall_ns_foreign(ns, u->cfg->namespace_prefix, from_spec, v, n);
    kk_ctd_container_list_free(v, n);
    if (why) {
        fprintf(u->out, "kept containerd namespace %s: %s\n", ns, why);
        return;
    }
    list_namespace(u, c, ns);
    if (u->o->dry_run) {
        item(u, "containerd namespace %s", ns);
        return;
    }
    if (kk_ctd_namespace_drain(c, ns, NULL, &e) < 0 || kk_ctd_namespace_delete(c, ns, &e) < 0) {
        kk_error_wrap(&e, "containerd namespace %s", ns);
        failed(u, &e);
        return;
    }
    item(u, "containerd namespace %s", ns);
    /* runc keeps an (empty) state directory per namespace. */
    _cleanup_free_ char *runc = kk_xasprintf("%s/%s", u->o->runc_root, ns);
    if (rmdir(runc) == 0)
        item(u, "directory %s", runc);
}

static void sweep_containerd(struct ui *u)
{
    const char *addr = u->cfg->containerd_address;
    struct stat st;
    if (stat(addr, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        fprintf(u->out, "note: no containerd socket at %s: its namespaces were not checked\n",
                addr);
        return;
    }
    _cleanup_error_ kk_error *e = NULL;
    _cleanup_ctd_ struct kk_ctd *c = NULL;
    _cleanup_strv_ char **names = NULL;
    _cleanup_strv_ char **extra = realm_namespaces(u->cfg->state);
    struct kk_ctd_opts opts = {.timeout_ms = CTD_TIMEOUT};
    if (kk_ctd_open(addr, &opts, &c, &e) < 0 || kk_ctd_namespace_list(c, &names, &e) < 0) {
        kk_error_wrap(&e, "containerd at %s", addr);
        failed(u, &e);
        return;
    }
    for (char **ns = names; *ns; ns++) {
        bool from_spec = in_list(*ns, extra);
        if (from_spec || has_prefix(*ns, u->cfg->namespace_prefix))
            remove_namespace(u, c, *ns, from_spec);
    }
}

/* ---- links and nftables --------------------------------------------------- */

/* Whether name is shaped as runtime/net names our links: the prefix, then
 * lowercase hex digits of a hash up to the 15 characters of IFNAMSIZ. */
static bool name_shaped(const char *name, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (!has_prefix(name, prefix) || strlen(name) != KK_NET_IFNAMSIZ - 1)
        return false;
    for (const char *p = name + plen; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

bool agent_uninstall_link_ours(const struct kk_agent_config *cfg, const char *prefix,
                               const struct kk_net_link_info *l)
{
    if (!l->alias[0])
        return name_shaped(l->name, prefix);
    char key[sizeof(l->alias)], *parts[4], *save = NULL;
    snprintf(key, sizeof(key), "%s", l->alias);
    size_t n = 0;
    for (char *t = strtok_r(key, "/", &save); t && n < 4; t = strtok_r(NULL, "/", &save))
        parts[n++] = t;
    struct kk_net_config nc = {.bridge_prefix = cfg->bridge_prefix,
                               .veth_prefix = cfg->veth_prefix};
    char want[KK_NET_IFNAMSIZ] = "";
    _cleanup_error_ kk_error *e = NULL;
    int r = -1;
    if (strcmp(l->kind, "bridge") == 0 && n == 2)
        r = kk_net_bridge_name(&nc, parts[0], parts[1], want, &e);
    else if (strcmp(l->kind, "veth") == 0 && n == 4)
        r = kk_net_veth_name(
                &nc, &(struct kk_net_cell_spec){parts[0], parts[1], parts[2], parts[3]}, want, &e);
    kk_error_freep(&e);
    return r == 0 && strcmp(want, l->name) == 0;
}

static void sweep_links(struct ui *u, const char *prefix, const char *kind)
{
    _cleanup_error_ kk_error *e = NULL;
    _cleanup_free_ struct kk_net_link_info *links = NULL;
    size_t n = 0;
    if (kk_net_links_with_prefix(prefix, kind, &links, &n, &e) < 0) {
        failed(u, &e);
        return;
    }
    _cleanup_free_ struct kk_hostnet *nets = NULL;
    size_t n_nets = 0;
    if (n > 0 && kk_hostnets_netlink.list(NULL, NULL, &nets, &n_nets, &e) < 0)
        kk_error_freep(&e); /* only for the listing */
    for (size_t i = 0; i < n; i++) {
        if (!agent_uninstall_link_ours(u->cfg, prefix, &links[i])) {
            if (links[i].alias[0])
                fprintf(u->out, "kept %s %s: named for %s by another agent's prefix\n", kind,
                        links[i].name, links[i].alias);
            else
                fprintf(u->out, "kept %s %s: no owner, and not a name of this prefix's\n", kind,
                        links[i].name);
            continue;
        }
        _cleanup_buf_ struct kk_buf addrs = KK_BUF_INIT;
        for (size_t k = 0; k < n_nets; k++)
            if (!nets[k].route && strcmp(nets[k].dev, links[i].name) == 0) {
                char c[KK_NET_CIDRSTRLEN];
                kk_ipam_format_cidr(&nets[k].net, c);
                kk_buf_printf(&addrs, ", address in %s", c);
            }
        if (!u->o->dry_run && kk_net_link_delete(links[i].index, links[i].name, &e) < 0) {
            failed(u, &e);
            continue;
        }
        item(u, "%s %s (%s%s)", kind, links[i].name,
             links[i].alias[0] ? links[i].alias : "no owner", kk_buf_str(&addrs));
    }
}

static void sweep_nft(struct ui *u)
{
    _cleanup_error_ kk_error *e = NULL;
    _cleanup_fw_ struct kk_fw *fw = NULL;
    _cleanup_buf_ struct kk_buf dump = KK_BUF_INIT;
    if (kk_fw_new(&(struct kk_fw_config){.table = u->cfg->nft_table}, &fw, &e) < 0 ||
        fw->ops->dump(fw, &dump, &e) < 0) {
        failed(u, &e);
        return;
    }
    if (dump.len == 0)
        return;
    if (!u->o->dry_run && fw->ops->teardown(fw, &e) < 0) {
        failed(u, &e);
        return;
    }
    item(u, "nft table inet %s", u->cfg->nft_table);
}

/* ---- mounts and directories ------------------------------------------------ */

struct mount_ent {
    char *point, *fstype;
};

static void mounts_free(struct mount_ent *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].point);
        free(v[i].fstype);
    }
    free(v);
}

/* /proc/self/mountinfo's mount points and types, in mount order. */
static size_t read_mounts(struct mount_ent **out)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    struct mount_ent *v = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t len = 0;
    while (f && n < MOUNTS_MAX && getline(&line, &len, f) > 0) {
        char point[4096], fstype[64];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
            sscanf(sep + 3, "%63s", fstype) != 1)
            continue;
        void *p = v;
        kk_xgrow(&p, &cap, n + 1, sizeof(*v));
        v = p;
        v[n++] = (struct mount_ent){kk_xstrdup(point), kk_xstrdup(fstype)};
    }
    free(line);
    *out = v;
    return n;
}

static bool under(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0');
}

/* The netns bind mounts, then anything else mounted under the run dir (its
 * netns directory's own shared mount), deepest and latest first. */
static void sweep_mounts(struct ui *u)
{
    _cleanup_free_ char *netns = kk_xasprintf("%s/netns", u->cfg->run_dir);
    _cleanup_closedir_ DIR *d = opendir(netns);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *path = kk_xasprintf("%s/%s", netns, de->d_name);
        if (!kk_netns_mounted(path))
            continue;
        kk_error *e = NULL;
        if (!u->o->dry_run && kk_netns_remove(path, &e) < 0) {
            failed(u, &e);
            continue;
        }
        item(u, "network namespace %s", path);
    }
    struct mount_ent *m = NULL;
    size_t n = read_mounts(&m);
    for (size_t i = n; i-- > 0;) {
        if (!under(m[i].point, u->cfg->run_dir))
            continue;
        if (!u->o->dry_run && umount2(m[i].point, MNT_DETACH) < 0 && errno != EINVAL &&
            errno != ENOENT) {
            kk_error *e = NULL;
            kk_error_errno(&e, "unmount %s", m[i].point);
            failed(u, &e);
            continue;
        }
        item(u, "mount %s (%s)", m[i].point, m[i].fstype);
    }
    mounts_free(m, n);
}

/* nftw has no context argument; the uninstall is single-threaded. */
static bool walk_dirs_only;
static int walk_failed_errno;
static char walk_failed_path[4096];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r;
    if (flag == FTW_DP || flag == FTW_D)
        r = rmdir(path);
    else if (walk_dirs_only)
        return 0; /* a cgroup's control files go with its directory */
    else
        r = unlink(path);
    if (r < 0 && errno != ENOENT && !walk_failed_errno) {
        walk_failed_errno = errno;
        snprintf(walk_failed_path, sizeof(walk_failed_path), "%s", path);
    }
    return 0;
}

/* Removes path and everything beneath it, on its own filesystem only (a
 * mount left inside makes the removal fail rather than empty the mount). */
static int remove_tree(const char *path, bool dirs_only, kk_error **err)
{
    if (strcmp(path, "/") == 0 || path[0] != '/')
        return kk_error_set(err, KK_E_INVALID, "refusing to remove \"%s\"", path);
    walk_dirs_only = dirs_only;
    walk_failed_errno = 0;
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return kk_error_errno(err, "remove %s", path);
    if (walk_failed_errno)
        return kk_error_errnum(err, walk_failed_errno, "remove %s", walk_failed_path);
    return 0;
}

static void sweep_tree(struct ui *u, const char *what, const char *path, bool dirs_only)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    _cleanup_error_ kk_error *e = NULL;
    if (!u->o->dry_run && remove_tree(path, dirs_only, &e) < 0) {
        failed(u, &e);
        return;
    }
    item(u, "%s %s", what, path);
}

/* <cgroup-root> in every cgroup hierarchy mounted under cgroup_fs. */
static void sweep_cgroups(struct ui *u)
{
    struct mount_ent *m = NULL;
    size_t n = read_mounts(&m);
    for (size_t i = 0; i < n; i++) {
        if (!under(m[i].point, u->o->cgroup_fs) ||
            (strcmp(m[i].fstype, "cgroup") != 0 && strcmp(m[i].fstype, "cgroup2") != 0))
            continue;
        _cleanup_free_ char *dir = kk_xasprintf("%s/%s", m[i].point, u->cfg->cgroup_root);
        sweep_tree(u, "cgroup", dir, true);
    }
    mounts_free(m, n);
}

static void sweep_lock_files(struct ui *u, struct held *h)
{
    if (u->o->dry_run)
        return;
    /* Unlinked while held: an agent that opened one meanwhile still finds
     * it locked; one that starts later makes a new file. */
    for (size_t i = 0; i < h->n; i++)
        if (h->paths[i])
            unlink(h->paths[i]);
    rmdir(u->o->lock_dir); /* only if no other agent's files are left */
}

int agent_uninstall(const struct kk_agent_config *cfg, const struct agent_uninstall_opts *opts,
                    FILE *out, kk_error **err)
{
    struct agent_uninstall_opts o = *opts;
    if (!o.lock_dir)
        o.lock_dir = "/run/lock/kukeon";
    if (!o.cgroup_fs)
        o.cgroup_fs = "/sys/fs/cgroup";
    if (!o.runc_root)
        o.runc_root = "/run/containerd/runc";
    /* The names are used as paths and prefixes below: one the agent itself
     * would refuse ("." for the cgroup root: every cgroup of the host) must
     * not reach a removal. */
    if (kk_cg_check_root(cfg->cgroup_root, err) < 0)
        return kk_error_wrap(err, "cgroup-root");
    struct ui u = {.cfg = cfg, .o = &o, .out = out};
    _cleanup_(held_release) struct held h = {.n = 0};
    if (take_locks(&u, &h, err) < 0)
        return -1;
    /* Tasks first: their processes hold the cgroups and the namespaces. */
    sweep_containerd(&u);
    sweep_links(&u, cfg->veth_prefix, "veth");
    sweep_links(&u, cfg->bridge_prefix, "bridge");
    sweep_nft(&u);
    sweep_mounts(&u);
    sweep_cgroups(&u);
    sweep_tree(&u, "directory", cfg->run_dir, false);
    if (o.purge_state) {
        sweep_tree(&u, "state tree", cfg->state, false);
        sweep_tree(&u, "inbox", cfg->manifests, false);
    }
    sweep_lock_files(&u, &h);
    if (u.found == 0)
        fprintf(out, "nothing to remove\n");
    if (u.first) {
        *err = u.first;
        return kk_error_wrap(err, "uninstall incomplete");
    }
    return 0;
}
