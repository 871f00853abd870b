/* kuke doctor: checks that this host can run kukeond, and says what to fix.
 *
 * One line per check: "ok", "warn" or "FAIL", the check's name, what was
 * found and, for warn and FAIL, "; fix: " and what to do. Exit 0 when no check failed (warnings are
 * things that work but may bite later), 1 otherwise, 2 on usage errors.
 *
 * Read-only: it opens containerd's socket, reads /proc/sys and the cgroup
 * mount, lists nftables tables, walks (without following symlinks) the
 * state tree and the IPAM files under --run-dir, and reads the agent's own
 * report (_agent/status.yaml) to say whether kukeond runs. It changes nothing, so it
 * is safe on a production host and in a CI job. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsapi/buf.h"
#include "fsapi/fsutil.h"
#include "fsapi/tree.h"
#include "fsapi/validate.h"
#include "fsapi/yaml.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/containerd/containerd.h"
#include "runtime/net/ipam.h"

#define CONTAINERD_TIMEOUT_MS 3000
/* The agent watches every directory of the state tree; the walk stops
 * counting there (the verdict is already clear) and at this depth (the
 * deepest resource is realm/space/stack/cell/containers). */
#define TREE_COUNT_MAX 10000000
#define TREE_DEPTH_MAX 8
/* Watches the agent needs beside the tree: the inbox, its parent (symlink
 * swaps), _inbox, _agent, and some slack for the rest of the host. */
#define WATCH_SLACK      64
#define IPAM_FILES_MAX   4096
#define IPAM_FILE_BYTES  (1024 * 1024)
#define AGENT_STATUS_MAX (64 * 1024)

enum verdict { OK, WARN, FAIL };

/* What the agent would use: each from its flag, else the environment (the
 * containerd socket, the state tree), else the configuration shared with
 * kukeond (kuke_config), else the default. */
struct doctor {
    const char *containerd_address;
    const char *state_dir;
    const char *run_dir;
    const char *subnet_pool;
    const char *namespace_prefix;
    const char *cgroup_root;   /* kukeond's subtree, beneath the mount */
    const char *nft_table;     /* inet table */
    const char *bridge_prefix; /* kukeond's own bridges, not a conflict */
    const char *proc_sys;      /* /proc/sys, or a copy of its files in tests */
    const char *cgroup_mount;  /* the cgroup mount */
};

struct check {
    const char *name;
    /* Fills `what` (the finding) and, unless OK, `fix` (what to do). */
    enum verdict (*run)(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix);
};

/* Reads an unsigned integer from <proc_sys>/<rel>; -1 if unreadable. */
static long long read_sysctl(const struct doctor *d, const char *rel)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", d->proc_sys, rel);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    long long v;

    if (!f || fscanf(f, "%lld", &v) != 1 || v < 0)
        return -1;
    return v;
}

static enum verdict check_containerd(const struct doctor *d, struct kk_buf *what,
                                     struct kk_buf *fix)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_ctd_ struct kk_ctd *c = NULL;
    _cleanup_free_ char *version = NULL, *revision = NULL;
    if (kuke_ctd_open(d->containerd_address, CONTAINERD_TIMEOUT_MS, &c, &err) < 0 ||
        kk_ctd_version(c, &version, &revision, &err) < 0) {
        if (strstr(err->message, d->containerd_address)) /* it names the socket already */
            kk_buf_printf(what, "%s", err->message);
        else
            kk_buf_printf(what, "not reachable at %s: %s", d->containerd_address, err->message);
        kk_buf_printf(fix, "start containerd (systemctl enable --now containerd), or pass "
                           "--containerd-address with the socket kukeond uses");
        return FAIL;
    }
    kk_buf_printf(what, "%s at %s", version, d->containerd_address);
    /* The realms' namespaces: the prefix kuke and kukeond agree on. */
    _cleanup_strv_ char **names = NULL;
    if (kk_ctd_namespace_list(c, &names, &err) == 0) {
        size_t n = 0, len = strlen(d->namespace_prefix);
        for (size_t i = 0; names && names[i]; i++)
            n += strncmp(names[i], d->namespace_prefix, len) == 0;
        kk_buf_printf(what, "; %zu realm namespace%s (%s*)", n, n == 1 ? "" : "s",
                      d->namespace_prefix);
    }
    return OK;
}

static enum verdict check_runc(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    const char *path = getenv("PATH");
    _cleanup_free_ char *dirs = kk_xstrdup(path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    char *save = NULL;

    (void)d;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *candidate = kk_xasprintf("%s/runc", dir);
        if (access(candidate, X_OK) == 0) {
            kk_buf_printf(what, "%s", candidate);
            return OK;
        }
    }
    kk_buf_adds(what, "runc not found in PATH");
    kk_buf_adds(fix, "install runc (apt-get install runc): containerd's runc shim runs it");
    return FAIL;
}

static enum verdict check_cgroups(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_cg_config cfg = {.mount = d->cgroup_mount, .mode = KK_CG_MODE_AUTO};
    _cleanup_cg_ struct kk_cg *cg = NULL;
    _cleanup_free_ char *have = NULL, *missing = NULL;
    unsigned lacking;
    bool v2;

    if (kk_cg_open_real(&cfg, &cg, &err) < 0) {
        kk_buf_printf(what, "%s", err->message);
        kk_buf_printf(fix, "mount cgroup2 at %s (or the v1 hierarchies beneath it)",
                      d->cgroup_mount);
        return FAIL;
    }
    v2 = cg->mode == KK_CG_MODE_V2;
    lacking = KK_CG_DEFAULT_SET & ~cg->available;
    have = kk_cg_controllers_format(cg->available, cg->mode);
    missing = kk_cg_controllers_format(lacking, cg->mode);
    kk_buf_printf(what, "%s; controllers: %s",
                  v2           ? "v2 (unified)"
                  : cg->hybrid ? "v1, hybrid"
                               : "v1 (legacy)",
                  have);
    /* kukeond creates its subtree on start: absent only before that (on
     * v1, looked for in the memory hierarchy). */
    _cleanup_free_ char *sub = v2 ? kk_xasprintf("%s/%s", d->cgroup_mount, d->cgroup_root)
                                  : kk_xasprintf("%s/memory/%s", d->cgroup_mount, d->cgroup_root);
    struct stat sb;
    kk_buf_printf(what, "; %s %s", sub,
                  stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode) ? "present" : "not created yet");
    if (lacking) {
        kk_buf_printf(what, "; missing: %s", missing);
        kk_buf_printf(fix, "enable the missing controllers (kernel config, or "
                           "cgroup_enable= on the kernel command line): cells get no "
                           "limits of those kinds");
        return WARN;
    }
    return OK;
}

static long tree_dirs, tree_unreadable;

static int count_dir(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path, (void)st;
    if ((type == FTW_D || type == FTW_DNR) && ftw->level <= TREE_DEPTH_MAX)
        tree_dirs++;
    if (type == FTW_DNR && ftw->level == 0) {
        errno = EACCES; /* the root itself: nothing was counted */
        return -1;
    }
    if (type == FTW_DNR)
        tree_unreadable++;
    return tree_dirs >= TREE_COUNT_MAX ? 1 : 0;
}

/* Directories of the state tree, symlinks not followed, and how many of
 * them could not be listed (*unreadable; the count is then short); -1 with
 * errno if the root itself cannot be read. nftw keeps its state in a
 * global, which a one-shot CLI can afford. */
static long count_tree_dirs(const char *root, long *unreadable)
{
    struct stat sb;
    tree_dirs = tree_unreadable = 0;
    *unreadable = 0;
    if (stat(root, &sb) < 0)
        return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    int r = nftw(root, count_dir, 32, FTW_PHYS | FTW_MOUNT);
    if (r < 0 || (r != 0 && tree_dirs < TREE_COUNT_MAX)) {
        if (r > 0 || errno == 0)
            errno = EACCES;
        return -1;
    }
    *unreadable = tree_unreadable;
    return tree_dirs;
}

static enum verdict check_inotify(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    long long watches = read_sysctl(d, "fs/inotify/max_user_watches");
    long long instances = read_sysctl(d, "fs/inotify/max_user_instances");
    long unreadable = 0;
    long dirs = count_tree_dirs(d->state_dir, &unreadable);
    int dirs_errno = dirs < 0 ? errno : 0;
    long long need;
    enum verdict v = OK;

    if (watches < 0 || instances < 0) {
        kk_buf_printf(what, "cannot read %s/fs/inotify", d->proc_sys);
        kk_buf_adds(fix, "is /proc mounted?");
        return FAIL;
    }
    if (dirs < 0 && dirs_errno == ENOENT) {
        /* A host where kukeond has not run yet: nothing to count. */
        kk_buf_printf(what, "no state tree at %s yet; ", d->state_dir);
        dirs = 0;
    } else if (dirs < 0 || unreadable) {
        /* The count is short, and so may be the limit: say so. */
        if (dirs < 0)
            kk_buf_printf(what, "state tree %s unreadable (%s); ", d->state_dir,
                          strerror(dirs_errno));
        else
            kk_buf_printf(what, "%ld directories of %s unreadable; ", unreadable, d->state_dir);
        kk_buf_printf(fix, "run kuke doctor as root (or as kukeond's user), or pass --state as "
                           "kukeond has it: the directory count is incomplete");
        dirs = dirs < 0 ? 0 : dirs;
        v = WARN;
    }
    need = dirs + WATCH_SLACK;
    kk_buf_printf(what, "max_user_watches %lld for %ld directories in %s; max_user_instances %lld",
                  watches, dirs, d->state_dir, instances);
    if (watches < need) {
        kk_buf_printf(fix,
                      "sysctl -w fs.inotify.max_user_watches=%lld (and in "
                      "/etc/sysctl.d/): the agent watches every directory of the tree",
                      4 * need);
        return FAIL;
    }
    if (watches < 2 * need) {
        if (fix->len)
            kk_buf_adds(fix, "; ");
        kk_buf_printf(fix,
                      "raise fs.inotify.max_user_watches to %lld: other programs of root "
                      "share the limit",
                      4 * need);
        v = WARN;
    }
    if (instances < 8) {
        if (fix->len)
            kk_buf_adds(fix, "; ");
        kk_buf_adds(fix, "raise fs.inotify.max_user_instances to at least 128");
        v = WARN;
    }
    return v;
}

static enum verdict check_ip_forward(const struct doctor *d, struct kk_buf *what,
                                     struct kk_buf *fix)
{
    long long v = read_sysctl(d, "net/ipv4/ip_forward");

    kk_buf_printf(what, "net.ipv4.ip_forward = %lld", v);
    if (v == 1)
        return OK;
    if (v < 0) {
        kk_buf_reset(what);
        kk_buf_printf(what, "cannot read %s/net/ipv4/ip_forward", d->proc_sys);
        kk_buf_adds(fix, "is /proc mounted?");
        return FAIL;
    }
    kk_buf_adds(fix, "kukeond sets it to 1 on start; make it stick "
                     "(net.ipv4.ip_forward=1 in /etc/sysctl.d/) or cells lose egress "
                     "when something resets it");
    return WARN;
}

static enum verdict check_nftables(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    const char *error;
    int r;

    (void)d;
    if (!ctx) {
        kk_buf_adds(what, "libnftables: no context");
        kk_buf_adds(fix, "reinstall libnftables1");
        return FAIL;
    }
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    r = nft_run_cmd_from_buffer(ctx, "list tables");
    error = nft_ctx_get_error_buffer(ctx);
    if (r != 0) {
        kk_buf_printf(what, "'nft list tables' failed: %.*s", (int)strcspn(error, "\n"), error);
        kk_buf_adds(fix, geteuid() != 0 ? "run as root (CAP_NET_ADMIN)"
                                        : "load the nf_tables kernel module (modprobe nf_tables)");
        nft_ctx_free(ctx);
        return FAIL;
    }
    kk_buf_adds(what, "nf_tables usable");
    /* kukeond's table ("table inet NAME" in the listing) exists once it
     * has started. */
    _cleanup_free_ char *needle = kk_xasprintf("table inet %s\n", d->nft_table);
    const char *out = nft_ctx_get_output_buffer(ctx);
    kk_buf_printf(what, "; table inet %s %s", d->nft_table,
                  out && strstr(out, needle) ? "present" : "not created yet");
    nft_ctx_free(ctx);
    return OK;
}

/* Reads the "subnet CIDR" line of one IPAM file into *net. */
static int ipam_file_subnet(int dirfd, const char *name, struct kk_ipv4_net *net, kk_error **err)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    const char *line;

    if (kk_fs_read_file(dirfd, name, IPAM_FILE_BYTES, &text, err) < 0)
        return -1;
    for (line = kk_buf_str(&text); line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, "subnet ", 7) == 0) {
            _cleanup_free_ char *cidr = kk_xstrndup(line + 7, strcspn(line + 7, "\n"));
            return kk_ipam_parse_cidr(cidr, 1, 32, net, err);
        }
    }
    return kk_error_set(err, KK_E_NOT_FOUND, "%s: no subnet line", name);
}

static bool overlaps(const struct kk_ipv4_net *a, const struct kk_ipv4_net *b)
{
    uint8_t len = a->len < b->len ? a->len : b->len;
    uint32_t mask = len ? ~(uint32_t)0 << (32 - len) : 0;

    return (a->addr & mask) == (b->addr & mask);
}

static enum verdict check_subnets(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *dir = kk_xasprintf("%s/net", d->run_dir);
    _cleanup_fs_list_ struct kk_fs_list files = {0};
    _cleanup_close_ int dirfd = -1;
    _cleanup_free_ bool *used = NULL;
    struct kk_ipv4_net pool;
    size_t total, n_used = 0;

    if (kk_ipam_parse_cidr(d->subnet_pool, 8, 24, &pool, &err) < 0) {
        kk_buf_printf(what, "subnet pool %s: %s", d->subnet_pool, err->message);
        kk_buf_adds(fix, "pass --subnet-pool as kukeond has it (an IPv4 CIDR, /8 to /24)");
        return FAIL;
    }
    total = (size_t)1 << (24 - pool.len);
    dirfd = kk_fs_open_root(dir, &err);
    if (dirfd < 0 && kk_error_code(err) == KK_E_NOT_FOUND) {
        /* No space has a subnet yet (or kukeond never ran). */
        kk_buf_printf(what, "%zu /24s in %s; no allocations in %s yet: skipped", total,
                      d->subnet_pool, dir);
        return OK;
    }
    if (dirfd < 0) {
        kk_buf_printf(what, "%zu /24s in %s; allocations unknown (%s)", total, d->subnet_pool,
                      err->message);
        kk_buf_adds(fix, "run kuke doctor as root, or pass --run-dir as kukeond has it");
        return WARN;
    }
    if (kk_fs_list_dir(dirfd, "", IPAM_FILES_MAX, &files, &err) < 0) {
        kk_buf_printf(what, "%s: %s", dir, err->message);
        kk_buf_adds(fix, "check the permissions of --run-dir");
        return FAIL;
    }
    used = kk_xcalloc(total, sizeof(*used));
    for (size_t i = 0; i < files.n; i++) {
        _cleanup_error_ kk_error *ferr = NULL;
        struct kk_ipv4_net net;
        const struct kk_fs_entry *e = &files.entries[i];
        size_t len = strlen(e->name);

        if (e->type != DT_REG || len < 6 || strcmp(e->name + len - 5, ".ipam") != 0)
            continue;
        if (ipam_file_subnet(dirfd, e->name, &net, &ferr) < 0 || !overlaps(&net, &pool))
            continue;
        for (size_t k = 0; k < total; k++) {
            struct kk_ipv4_net slot = {pool.addr + ((uint32_t)k << 8), 24};
            if (!used[k] && overlaps(&slot, &net)) {
                used[k] = true;
                n_used++;
            }
        }
    }
    kk_buf_printf(what, "%zu of %zu /24s free in %s", total - n_used, total, d->subnet_pool);
    if (n_used == total) {
        kk_buf_adds(fix, "no space can get a subnet: widen --subnet-pool or delete spaces");
        return FAIL;
    }
    if ((total - n_used) * 10 < total) {
        kk_buf_adds(fix, "fewer than 10% left: plan a wider --subnet-pool");
        return WARN;
    }
    return OK;
}

/* A scalar of the agent's status, or "" (a reader never trusts a status
 * file to be complete: docs/design.md §2). */
static const char *status_str(const struct kk_ynode *st, const char *key)
{
    const struct kk_ynode *n = kk_ynode_get(st, key);
    return n && n->type == KK_YSCALAR && n->value ? n->value : "";
}

/* Whether pid is a live process called kukeond (not a recycled pid). */
static bool agent_alive(long pid)
{
    _cleanup_free_ char *path = kk_xasprintf("/proc/%ld/comm", pid);
    _cleanup_fclose_ FILE *f = NULL;
    char comm[32] = "";

    if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
        return false;
    f = fopen(path, "re");
    return f && fgets(comm, sizeof(comm), f) && strncmp(comm, "kukeond", 7) == 0;
}

static enum verdict check_agent(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_close_ int rootfd = -1;
    _cleanup_free_ char *rel = kk_tree_agent_status_path();
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    const struct kk_ynode *st;
    long pid;

    rootfd = kk_fs_open_root(d->state_dir, &err);
    if (rootfd < 0 || kk_fs_read_file(rootfd, rel, AGENT_STATUS_MAX, &text, &err) < 0) {
        kk_buf_printf(what, "no kukeond has reported in %s yet", d->state_dir);
        kk_buf_adds(fix, "start it (systemctl enable --now kukeond), or pass --state as "
                         "kukeond has it");
        return WARN;
    }
    if (kk_yaml_parse(rel, text.data, text.len, &t, &diags) < 0 || t->ndocs != 1) {
        kk_buf_printf(what, "%s/%s unreadable", d->state_dir, rel);
        kk_buf_adds(fix, "run kuke doctor again (the agent may have been writing it)");
        return WARN;
    }
    st = kk_ynode_get(t->docs[0].root, "status");
    pid = strtol(status_str(st, "pid"), NULL, 10);
    if (!agent_alive(pid)) {
        kk_buf_printf(what, "not running (last pid %ld%s%s)", pid,
                      *status_str(st, "startedAt") ? ", started " : "",
                      status_str(st, "startedAt"));
        kk_buf_adds(fix, "start kukeond (systemctl start kukeond; journalctl -u kukeond "
                         "says why it stopped)");
        return WARN;
    }
    kk_buf_printf(what, "kukeond %s, pid %ld, last full scan %s", status_str(st, "version"), pid,
                  *status_str(st, "lastFullScan") ? status_str(st, "lastFullScan") : "pending");
    if (strcmp(status_str(kk_ynode_get(st, "containerd"), "connected"), "true") != 0) {
        kk_buf_adds(what, "; not connected to containerd");
        kk_buf_printf(fix, "kukeond uses %s: is containerd there?",
                      status_str(kk_ynode_get(st, "containerd"), "address"));
        return WARN;
    }
    return OK;
}

/* One host network inside the pool, appended to the finding. */
static void note_overlap(void *ctx, const struct kk_ipv4_net *pool, const struct kk_hostnet *hn)
{
    (void)pool;
    struct kk_buf *what = ctx;
    char s[KK_IPAM_HOSTNET_STRLEN];
    kk_ipam_format_hostnet(hn, s);
    kk_buf_printf(what, "%s%s", what->len ? ", " : "pool overlaps ", s);
}

/* Addresses and routes of this host inside the pool: kukeond skips the
 * /24s they touch, so a pool full of them leaves few subnets. */
static enum verdict check_pool_host(const struct doctor *d, struct kk_buf *what, struct kk_buf *fix)
{
    _cleanup_error_ kk_error *err = NULL;
    int n = kk_ipam_host_overlaps(d->subnet_pool, d->bridge_prefix, note_overlap, what, &err);
    if (n < 0) {
        kk_buf_printf(what, "subnet pool %s: %s", d->subnet_pool, err->message);
        kk_buf_adds(fix, "pass --subnet-pool as kukeond has it (an IPv4 CIDR)");
        return WARN;
    }
    if (n == 0) {
        kk_buf_printf(what, "no address or route of this host in %s", d->subnet_pool);
        return OK;
    }
    kk_buf_adds(fix, "spaces get no subnet there; choose a subnet-pool clear of them if too "
                     "few /24s are left");
    return WARN;
}

static const struct check checks[] = {
        {"containerd", check_containerd}, {"runc", check_runc},
        {"cgroups", check_cgroups},       {"inotify", check_inotify},
        {"ip_forward", check_ip_forward}, {"nftables", check_nftables},
        {"subnets", check_subnets},       {"pool_host", check_pool_host},
        {"agent", check_agent},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke doctor [--config FILE] [--containerd-address SOCK] [--state DIR]\n"
            "                   [--run-dir DIR] [--subnet-pool CIDR] [--namespace-prefix P]\n"
            "                   [--cgroup-root NAME] [--nft-table NAME]\n"
            "Checks this host for kukeond: containerd, runc, cgroups, inotify limits,\n"
            "ip_forward, nftables, free subnets, kukeond itself. Exit 1 if any check FAILs.\n"
            "Each setting: the flag, else the environment, else kukeond's configuration\n"
            "(--config FILE, env KUKEON_CONFIG, default " KK_AGENT_CONFIG_FILE "), else:\n"
            "  --containerd-address SOCK  (env KUKEON_CONTAINERD_ADDRESS; "
            "default " KK_DEFAULT_CONTAINERD_ADDRESS ")\n"
            "  --state DIR                state tree (env KUKEON_STATE; "
            "default " KK_DEFAULT_STATE_DIR ")\n"
            "  --run-dir DIR              kukeond's run directory (default " KK_DEFAULT_RUN_DIR
            ")\n"
            "  --subnet-pool CIDR         kukeond's pool (default " KK_DEFAULT_SUBNET_POOL ")\n"
            "  --namespace-prefix P       realm namespaces (default " KK_DEFAULT_NAMESPACE_PREFIX
            ")\n"
            "  --cgroup-root NAME         kukeond's cgroup subtree (default " KK_DEFAULT_CGROUP_ROOT
            ")\n"
            "  --nft-table NAME           kukeond's inet table (default " KK_DEFAULT_NFT_TABLE
            ")\n");
}

int kuke_cmd_doctor(int argc, char **argv)
{
    enum {
        OPT_CTD = 0x100,
        OPT_STATE,
        OPT_RUN,
        OPT_POOL,
        OPT_PROC_SYS,
        OPT_CGROUP,
        OPT_NS_PREFIX,
        OPT_CG_ROOT,
        OPT_NFT,
        OPT_CONFIG,
    };
    static const struct option opts[] = {
            {"config", required_argument, NULL, OPT_CONFIG},
            {"containerd-address", required_argument, NULL, OPT_CTD},
            {"state", required_argument, NULL, OPT_STATE},
            {"run-dir", required_argument, NULL, OPT_RUN},
            {"subnet-pool", required_argument, NULL, OPT_POOL},
            {"namespace-prefix", required_argument, NULL, OPT_NS_PREFIX},
            {"cgroup-root", required_argument, NULL, OPT_CG_ROOT},
            {"nft-table", required_argument, NULL, OPT_NFT},
            /* For tests: where the sysctls and the cgroup mount are. */
            {"proc-sys", required_argument, NULL, OPT_PROC_SYS},
            {"cgroup-mount", required_argument, NULL, OPT_CGROUP},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct doctor flags = {0}; /* what the command line set */
    static const char *const words[] = {"ok", "warn", "FAIL"};
    unsigned failed = 0, warned = 0;
    int c;

    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        struct doctor *f = &flags;
        switch (c) {
        case OPT_CONFIG:
            kuke_config_use(optarg);
            break;
        case OPT_NS_PREFIX:
            f->namespace_prefix = optarg;
            break;
        case OPT_CG_ROOT:
            f->cgroup_root = optarg;
            break;
        case OPT_NFT:
            f->nft_table = optarg;
            break;
        case OPT_CTD:
            f->containerd_address = optarg;
            break;
        case OPT_STATE:
            f->state_dir = optarg;
            break;
        case OPT_RUN:
            f->run_dir = optarg;
            break;
        case OPT_POOL:
            f->subnet_pool = optarg;
            break;
        case OPT_PROC_SYS:
            f->proc_sys = optarg;
            break;
        case OPT_CGROUP:
            f->cgroup_mount = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("doctor", "kuke doctor --state /opt/kukeon", c, argv);
        }
    }
    if (optind != argc)
        return kuke_usage_error("doctor", "kuke doctor", "unexpected argument '%s'", argv[optind]);
    _cleanup_error_ kk_error *err = NULL;
    if (kuke_config_check(&err) < 0)
        return kuke_fail("doctor", err);
    const struct kk_agent_config *cfg = kuke_config();
#define PICK(field, dflt) (flags.field ? flags.field : (dflt))
    struct doctor d = {
            .containerd_address = kuke_containerd_address(flags.containerd_address),
            .state_dir = PICK(state_dir, kuke_setting(NULL, "KUKEON_STATE", cfg->state)),
            .run_dir = PICK(run_dir, cfg->run_dir),
            .subnet_pool = PICK(subnet_pool, cfg->subnet_pool),
            .namespace_prefix = PICK(namespace_prefix, cfg->namespace_prefix),
            .cgroup_root = PICK(cgroup_root, cfg->cgroup_root),
            .nft_table = PICK(nft_table, cfg->nft_table),
            .bridge_prefix = cfg->bridge_prefix,
            .proc_sys = PICK(proc_sys, "/proc/sys"),
            .cgroup_mount = PICK(cgroup_mount, KK_CG_DEFAULT_MOUNT),
    };
#undef PICK
    if (kuke_config_path())
        printf("%-4s  %-10s  %s\n", "info", "config", kuke_config_path());

    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        _cleanup_buf_ struct kk_buf what = KK_BUF_INIT, fix = KK_BUF_INIT;
        enum verdict v = checks[i].run(&d, &what, &fix);

        printf("%-4s  %-10s  %s%s%s\n", words[v], checks[i].name, kk_buf_str(&what),
               v != OK && fix.len ? "; fix: " : "", v != OK ? kk_buf_str(&fix) : "");
        failed += v == FAIL;
        warned += v == WARN;
    }
    printf("%u failed, %u warnings\n", failed, warned);
    fflush(stdout);
    return failed ? 1 : 0;
}
