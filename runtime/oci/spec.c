/* The OCI runtime spec builder (see spec.h for the rules it applies). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsapi/json.h"
#include "fsapi/model.h"
#include "runtime/oci/seccomp.h"
#include "runtime/oci/spec.h"

#define APPARMOR_ENABLED_FILE "/sys/module/apparmor/parameters/enabled"
#define MAX_TMPFS             64
#define MAX_DEVICES           128

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ARGS     4096
#define MAX_ENV      4096
#define MAX_BINDS    256
#define MAX_STR      65536

/* Docker's default set. */
static const char *const default_caps[] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
        NULL,
};

/* Capability n is kk_capability_name(n), n < KK_CAP_COUNT: the names
 * runc 1.1 knows, one list with the model's (fsapi/model.h). */

uint64_t kk_oci_cap_bounding_set(void)
{
    uint64_t set = 0;
    for (unsigned i = 0; i < KK_CAP_COUNT; i++)
        if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) == 1)
            set |= UINT64_C(1) << i;
    return set;
}

/* containerd's defaults (oci/spec.go). */
static const char *const masked_paths[] = {
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        NULL,
};
static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* What kk_oci_spec_build works out before it writes anything, so that a
 * failure leaves nothing half-written. */
struct resolved_device {
    const char *path, *access;
    char type; /* 'c' or 'b' */
    unsigned major, minor;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

struct plan {
    uint64_t caps;
    struct kk_json *seccomp; /* a profile file's content */
    struct resolved_device *devs;
    size_t n_devs;
};

static size_t strv_len(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* Collects args per Docker's rules into a NULL-terminated borrowed vector. */
static int collect_args(const struct kk_oci_spec_config *c, const char ***out, kk_error **err)
{
    const struct kk_oci_image_config *img = c->image;
    const char *const *parts[2] = {NULL, NULL};

    if (strv_len(c->command) > 0) {
        parts[0] = c->command;
        parts[1] = c->args;
    } else {
        parts[0] = img ? (const char *const *)img->entrypoint : NULL;
        parts[1] = c->args ? c->args : img ? (const char *const *)img->cmd : NULL;
    }
    size_t n = strv_len(parts[0]) + strv_len(parts[1]);
    if (n == 0)
        return kk_error_set(err, KK_E_INVALID,
                            "no command: neither the container nor the image sets one");
    if (n > MAX_ARGS)
        return kk_error_set(err, KK_E_INVALID, "too many arguments (%zu)", n);
    const char **v = kk_xcalloc(n + 1, sizeof(*v));
    size_t k = 0;
    for (int p = 0; p < 2; p++)
        for (const char *const *a = parts[p]; a && *a; a++) /* parts[p] may be NULL */
            v[k++] = *a;
    *out = v;
    return 0;
}

static bool env_key_eq(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");
    return la == lb && memcmp(a, b, la) == 0;
}

/* Appends e to v (n entries), replacing an entry with the same key. */
static void env_set(const char **v, size_t *n, const char *e)
{
    for (size_t i = 0; i < *n; i++)
        if (env_key_eq(v[i], e)) {
            v[i] = e;
            return;
        }
    v[(*n)++] = e;
}

static bool env_has(const char *const *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (env_key_eq(v[i], key))
            return true;
    return false;
}

static int write_env(struct kk_json_writer *w, const struct kk_oci_spec_config *c, const char *home,
                     kk_error **err)
{
    const char *const *img_env = c->image ? (const char *const *)c->image->env : NULL;
    size_t cap = strv_len(img_env) + strv_len(c->env) + 3; /* PATH, HOME, NULL */
    if (cap > MAX_ENV)
        return kk_error_set(err, KK_E_INVALID, "too many environment variables (%zu)", cap);
    _cleanup_free_ const char **v = kk_xcalloc(cap, sizeof(*v));
    size_t n = 0;

    for (const char *const *ep = c->env; ep && *ep; ep++) { /* c->env may be NULL */
        const char *e = *ep;
        if (!strchr(e, '=') || e[0] == '=')
            return kk_error_set(err, KK_E_INVALID, "env \"%s\": expected KEY=VALUE", e);
    }
    for (const char *const *e = img_env; e && *e; e++) /* img_env may be NULL */
        if (strchr(*e, '='))
            env_set(v, &n, *e);
    for (const char *const *e = c->env; e && *e; e++)
        env_set(v, &n, *e);
    if (!env_has(v, n, "PATH="))
        v[n++] = DEFAULT_PATH;
    _cleanup_free_ char *home_kv = NULL;
    if (!env_has(v, n, "HOME=")) {
        home_kv = kk_xasprintf("HOME=%s", home);
        v[n++] = home_kv;
    }
    v[n] = NULL;
    kk_jw_kstrv(w, "env", v);
    return 0;
}

static void write_caps(struct kk_json_writer *w, uint64_t caps)
{
    static const char *const sets[] = {"bounding", "effective", "permitted", NULL};
    const char *names[KK_CAP_COUNT + 1];
    size_t n = 0;
    for (unsigned i = 0; i < KK_CAP_COUNT; i++)
        if (caps & (UINT64_C(1) << i))
            names[n++] = kk_capability_name(i);
    names[n] = NULL;
    kk_jw_key(w, "capabilities");
    kk_jw_obj(w);
    for (const char *const *s = sets; *s; s++)
        kk_jw_kstrv(w, *s, names);
    kk_jw_end(w);
}

static int cap_index(const char *name)
{
    for (unsigned i = 0; i < KK_CAP_COUNT; i++)
        if (strcmp(name, kk_capability_name(i)) == 0)
            return (int)i;
    return -1;
}

static bool has_all(const char *const *v)
{
    for (; v && *v; v++)
        if (strcmp(*v, "ALL") == 0)
            return true;
    return false;
}

/* The bits of the names in v ("ALL" aside). */
static int cap_mask(const char *const *v, uint64_t *mask, kk_error **err)
{
    *mask = 0;
    for (; v && *v; v++) {
        if (strcmp(*v, "ALL") == 0)
            continue;
        int i = cap_index(*v);
        if (i < 0)
            return kk_error_set(err, KK_E_INVALID, "unknown capability \"%s\"", *v);
        *mask |= UINT64_C(1) << i;
    }
    return 0;
}

/* The capabilities granted, by Docker's rules (spec.h). */
static int granted_caps(const struct kk_oci_spec_config *c, uint64_t *out, kk_error **err)
{
    uint64_t every = 0, defaults = 0, add, drop;
    for (unsigned i = 0; i < KK_CAP_COUNT; i++)
        every |= UINT64_C(1) << i;
    if (c->cap_bounding)
        every &= c->cap_bounding;
    if (c->privileged) {
        *out = every;
        return 0;
    }
    if (cap_mask(default_caps, &defaults, err) < 0 || cap_mask(c->cap_add, &add, err) < 0 ||
        cap_mask(c->cap_drop, &drop, err) < 0)
        return -1;
    if (has_all(c->cap_add))
        *out = every & ~drop;
    else if (has_all(c->cap_drop))
        *out = add;
    else
        *out = (defaults & ~drop) | add;
    return 0;
}

static int write_process(struct kk_json_writer *w, const struct kk_oci_spec_config *c,
                         uint64_t caps, kk_error **err)
{
    _cleanup_free_ const char **args = NULL;
    struct kk_oci_user user;
    const char *user_spec = c->user && *c->user ? c->user : c->image ? c->image->user : NULL;

    if (collect_args(c, &args, err) < 0)
        return -1;
    if (kk_oci_resolve_user(user_spec, c->passwd_text, c->group_text, &user, err) < 0)
        return -1;

    kk_jw_key(w, "process");
    kk_jw_obj(w);
    kk_jw_kbool(w, "terminal", false);
    kk_jw_key(w, "user");
    kk_jw_obj(w);
    kk_jw_kint(w, "uid", user.uid);
    kk_jw_kint(w, "gid", user.gid);
    if (user.n_gids) {
        kk_jw_key(w, "additionalGids");
        kk_jw_arr(w);
        for (size_t i = 0; i < user.n_gids; i++)
            kk_jw_int(w, user.gids[i]);
        kk_jw_end(w);
    }
    kk_jw_end(w);
    kk_jw_kstrv(w, "args", args);
    const char *home = user.home && *user.home ? user.home : user.uid == 0 ? "/root" : "/";
    int r = write_env(w, c, home, err);
    kk_oci_user_clear(&user);
    if (r < 0)
        return -1;

    const char *cwd = c->cwd && *c->cwd ? c->cwd
                      : c->image && c->image->working_dir && *c->image->working_dir
                              ? c->image->working_dir
                              : "/";
    if (cwd[0] != '/')
        return kk_error_set(err, KK_E_INVALID, "working directory \"%s\" is not absolute", cwd);
    kk_jw_kstr(w, "cwd", cwd);

    write_caps(w, caps);
    if (c->apparmor_profile && strcmp(c->apparmor_profile, "unconfined") != 0)
        kk_jw_kstr(w, "apparmorProfile", c->apparmor_profile);

    kk_jw_key(w, "rlimits");
    kk_jw_arr(w);
    if (c->n_rlimits == 0) {
        kk_jw_obj(w);
        kk_jw_kstr(w, "type", "RLIMIT_NOFILE");
        kk_jw_key(w, "hard");
        kk_jw_uint(w, 1024);
        kk_jw_key(w, "soft");
        kk_jw_uint(w, 1024);
        kk_jw_end(w);
    }
    for (size_t i = 0; i < c->n_rlimits; i++) {
        const struct kk_oci_rlimit *rl = &c->rlimits[i];
        if (!rl->type || strncmp(rl->type, "RLIMIT_", 7) != 0 || rl->soft > rl->hard)
            return kk_error_set(err, KK_E_INVALID, "rlimit %s: bad type or soft > hard",
                                rl->type ? rl->type : "(null)");
        kk_jw_obj(w);
        kk_jw_kstr(w, "type", rl->type);
        kk_jw_key(w, "hard");
        kk_jw_uint(w, rl->hard);
        kk_jw_key(w, "soft");
        kk_jw_uint(w, rl->soft);
        kk_jw_end(w);
    }
    kk_jw_end(w);
    kk_jw_kbool(w, "noNewPrivileges", !c->allow_new_privileges && !c->privileged);
    kk_jw_end(w);
    return 0;
}

static void add_mount(struct kk_json_writer *w, const char *dst, const char *type, const char *src,
                      const char *const *opts)
{
    kk_jw_obj(w);
    kk_jw_kstr(w, "destination", dst);
    kk_jw_kstr(w, "type", type);
    kk_jw_kstr(w, "source", src);
    kk_jw_kstrv(w, "options", opts);
    kk_jw_end(w);
}

static void add_tmpfs_mount(struct kk_json_writer *w, const struct kk_oci_tmpfs *t)
{
    char size[40] = "", mode[24] = "";
    const char *opts[8 + 64];
    size_t n = 0;
    opts[n++] = "nosuid";
    opts[n++] = "nodev";
    opts[n++] = t->readonly ? "ro" : "rw";
    if (t->size > 0) {
        snprintf(size, sizeof(size), "size=%lld", (long long)t->size);
        opts[n++] = size;
    }
    if (t->mode) {
        snprintf(mode, sizeof(mode), "mode=%04o", t->mode);
        opts[n++] = mode;
    }
    for (const char *const *o = t->options; o && *o && n < KK_ARRAY_SIZE(opts) - 1; o++)
        opts[n++] = *o;
    opts[n] = NULL;
    add_mount(w, t->target, "tmpfs", "tmpfs", opts);
}

static bool clean_abs_path(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) > 4096)
        return false;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.'))
            return false;
        s += n;
    }
    return true;
}

/* The number of components of user mount i's target (binds first). */
static size_t path_depth(const struct kk_oci_spec_config *c, size_t i)
{
    const char *t = i < c->n_binds ? c->binds[i].target : c->tmpfs[i - c->n_binds].target;
    size_t depth = 0;
    for (const char *p = t; *p;) {
        while (*p == '/')
            p++;
        if (*p)
            depth++;
        p += strcspn(p, "/");
    }
    return depth;
}

static int write_mounts(struct kk_json_writer *w, const struct kk_oci_spec_config *c,
                        kk_error **err)
{
    bool priv = c->privileged;
    const char *sys_ro = priv ? "rw" : "ro";

    if (c->n_binds > MAX_BINDS || c->n_tmpfs > MAX_TMPFS)
        return kk_error_set(err, KK_E_INVALID, "too many volumes (%zu)", c->n_binds + c->n_tmpfs);
    kk_jw_key(w, "mounts");
    kk_jw_arr(w);
    add_mount(w, "/proc", "proc", "proc", (const char *[]){"nosuid", "noexec", "nodev", NULL});
    add_mount(w, "/dev", "tmpfs", "tmpfs",
              (const char *[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL});
    add_mount(w, "/dev/pts", "devpts", "devpts",
              (const char *[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                               "gid=5", NULL});
    add_mount(w, "/dev/shm", "tmpfs", "shm",
              (const char *[]){"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL});
    add_mount(w, "/dev/mqueue", "mqueue", "mqueue",
              (const char *[]){"nosuid", "noexec", "nodev", NULL});
    add_mount(w, "/sys", "sysfs", "sysfs",
              (const char *[]){"nosuid", "noexec", "nodev", sys_ro, NULL});
    add_mount(w, "/sys/fs/cgroup", "cgroup", "cgroup",
              (const char *[]){"nosuid", "noexec", "nodev", "relatime", sys_ro, NULL});

    const struct {
        const char *src, *dst;
    } files[] = {
            {c->hosts_file, "/etc/hosts"},
            {c->hostname_file, "/etc/hostname"},
            {c->resolv_conf_file, "/etc/resolv.conf"},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(files); i++) {
        if (!files[i].src)
            continue;
        if (files[i].src[0] != '/')
            return kk_error_set(err, KK_E_INVALID, "%s source \"%s\" is not absolute", files[i].dst,
                                files[i].src);
        add_mount(w, files[i].dst, "bind", files[i].src, (const char *[]){"rbind", "ro", NULL});
    }
    /* binds, then tmpfs mounts; shallowest target first, stable */
    size_t n = c->n_binds + c->n_tmpfs;
    _cleanup_free_ size_t *order = kk_xcalloc(n ? n : 1, sizeof(*order));
    for (size_t i = 0; i < n; i++) {
        const char *t = i < c->n_binds ? c->binds[i].target : c->tmpfs[i - c->n_binds].target;
        if (!clean_abs_path(t))
            return kk_error_set(err, KK_E_INVALID,
                                "volume target \"%s\": must be absolute, "
                                "without . or .. components",
                                t ? t : "(null)");
        if (i < c->n_binds && (!c->binds[i].source || c->binds[i].source[0] != '/'))
            return kk_error_set(err, KK_E_INVALID, "volume source \"%s\" is not absolute",
                                c->binds[i].source ? c->binds[i].source : "(null)");
        for (const char *const *o = i < c->n_binds ? NULL : c->tmpfs[i - c->n_binds].options;
             o && *o; o++)
            if (strchr(*o, ',') || !**o)
                return kk_error_set(err, KK_E_INVALID, "tmpfs %s: bad mount option \"%s\"", t, *o);
        size_t j = i;
        for (; j > 0 && path_depth(c, order[j - 1]) > path_depth(c, i); j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (i >= c->n_binds) {
            add_tmpfs_mount(w, &c->tmpfs[i - c->n_binds]);
            continue;
        }
        const struct kk_oci_bind *b = &c->binds[i];
        add_mount(w, b->target, "bind", b->source,
                  (const char *[]){"rbind", b->readonly ? "ro" : "rw", NULL});
    }
    kk_jw_end(w);
    return 0;
}

static void throttles(struct kk_json_writer *w, const char *key, const struct kk_oci_throttle *t,
                      size_t n)
{
    if (n == 0)
        return;
    kk_jw_key(w, key);
    kk_jw_arr(w);
    for (size_t i = 0; i < n; i++) {
        kk_jw_obj(w);
        kk_jw_kint(w, "major", t[i].major);
        kk_jw_kint(w, "minor", t[i].minor);
        kk_jw_key(w, "rate");
        kk_jw_uint(w, t[i].rate);
        kk_jw_end(w);
    }
    kk_jw_end(w);
}

static int write_resources(struct kk_json_writer *w, const struct kk_oci_spec_config *c,
                           const struct plan *p, kk_error **err)
{
    const struct kk_oci_resources *r = &c->resources;

    if (r->memory_limit < 0 || r->memory_reservation < 0 || r->pids_limit < 0 || r->cpu_quota < 0 ||
        r->memory_swap < -1)
        return kk_error_set(err, KK_E_INVALID, "negative resource limit");
    if (r->blkio_weight && (r->blkio_weight < 10 || r->blkio_weight > 1000))
        return kk_error_set(err, KK_E_INVALID, "blkio weight %u not in 10..1000", r->blkio_weight);

    kk_jw_key(w, "resources");
    kk_jw_obj(w);
    kk_jw_key(w, "devices");
    kk_jw_arr(w);
    kk_jw_obj(w);
    kk_jw_kbool(w, "allow", c->privileged);
    kk_jw_kstr(w, "access", "rwm");
    kk_jw_end(w);
    for (size_t i = 0; i < p->n_devs; i++) {
        const struct resolved_device *d = &p->devs[i];
        char type[2] = {d->type, '\0'};
        kk_jw_obj(w);
        kk_jw_kbool(w, "allow", true);
        kk_jw_kstr(w, "type", type);
        kk_jw_kint(w, "major", d->major);
        kk_jw_kint(w, "minor", d->minor);
        kk_jw_kstr(w, "access", d->access);
        kk_jw_end(w);
    }
    kk_jw_end(w);
    if (r->memory_limit || r->memory_reservation || r->memory_swap) {
        kk_jw_key(w, "memory");
        kk_jw_obj(w);
        if (r->memory_limit)
            kk_jw_kint(w, "limit", r->memory_limit);
        if (r->memory_reservation)
            kk_jw_kint(w, "reservation", r->memory_reservation);
        if (r->memory_swap)
            kk_jw_kint(w, "swap", r->memory_swap);
        kk_jw_end(w);
    }
    if (r->cpu_shares || r->cpu_quota || r->cpu_period || r->cpuset_cpus || r->cpuset_mems) {
        kk_jw_key(w, "cpu");
        kk_jw_obj(w);
        if (r->cpu_shares) {
            kk_jw_key(w, "shares");
            kk_jw_uint(w, r->cpu_shares);
        }
        if (r->cpu_quota)
            kk_jw_kint(w, "quota", r->cpu_quota);
        if (r->cpu_period) {
            kk_jw_key(w, "period");
            kk_jw_uint(w, r->cpu_period);
        }
        if (r->cpuset_cpus)
            kk_jw_kstr(w, "cpus", r->cpuset_cpus);
        if (r->cpuset_mems)
            kk_jw_kstr(w, "mems", r->cpuset_mems);
        kk_jw_end(w);
    }
    if (r->pids_limit) {
        kk_jw_key(w, "pids");
        kk_jw_obj(w);
        kk_jw_kint(w, "limit", r->pids_limit);
        kk_jw_end(w);
    }
    if (r->blkio_weight || r->n_read_bps || r->n_write_bps || r->n_read_iops || r->n_write_iops) {
        kk_jw_key(w, "blockIO");
        kk_jw_obj(w);
        if (r->blkio_weight)
            kk_jw_kint(w, "weight", r->blkio_weight);
        throttles(w, "throttleReadBpsDevice", r->read_bps, r->n_read_bps);
        throttles(w, "throttleWriteBpsDevice", r->write_bps, r->n_write_bps);
        throttles(w, "throttleReadIOPSDevice", r->read_iops, r->n_read_iops);
        throttles(w, "throttleWriteIOPSDevice", r->write_iops, r->n_write_iops);
        kk_jw_end(w);
    }
    kk_jw_end(w);
    return 0;
}

static void write_devices(struct kk_json_writer *w, const struct plan *p)
{
    if (!p->n_devs)
        return;
    kk_jw_key(w, "devices");
    kk_jw_arr(w);
    for (size_t i = 0; i < p->n_devs; i++) {
        const struct resolved_device *d = &p->devs[i];
        char type[2] = {d->type, '\0'};
        kk_jw_obj(w);
        kk_jw_kstr(w, "path", d->path);
        kk_jw_kstr(w, "type", type);
        kk_jw_kint(w, "major", d->major);
        kk_jw_kint(w, "minor", d->minor);
        kk_jw_kint(w, "fileMode", d->mode);
        kk_jw_kint(w, "uid", d->uid);
        kk_jw_kint(w, "gid", d->gid);
        kk_jw_end(w);
    }
    kk_jw_end(w);
}

static int write_linux(struct kk_json_writer *w, const struct kk_oci_spec_config *c,
                       const struct plan *p, kk_error **err)
{
    kk_jw_key(w, "linux");
    kk_jw_obj(w);
    if (c->cgroups_path) {
        if (c->cgroups_path[0] != '/' || !clean_abs_path(c->cgroups_path))
            return kk_error_set(err, KK_E_INVALID,
                                "cgroupsPath \"%s\": must be a clean "
                                "absolute path",
                                c->cgroups_path);
        kk_jw_kstr(w, "cgroupsPath", c->cgroups_path);
    }
    if (write_resources(w, c, p, err) < 0)
        return -1;

    kk_jw_key(w, "namespaces");
    kk_jw_arr(w);
    const struct {
        const char *type;
        bool host;
    } own[] = {{"pid", c->host_pid},
               {"ipc", false},
               {"uts", false},
               {"mount", false},
               {"cgroup", c->host_cgroup}};
    for (size_t i = 0; i < KK_ARRAY_SIZE(own); i++) {
        if (own[i].host)
            continue;
        kk_jw_obj(w);
        kk_jw_kstr(w, "type", own[i].type);
        kk_jw_end(w);
    }
    if (!c->host_network) {
        kk_jw_obj(w);
        kk_jw_kstr(w, "type", "network");
        if (c->netns_path) {
            if (c->netns_path[0] != '/')
                return kk_error_set(err, KK_E_INVALID, "netns path \"%s\" is not absolute",
                                    c->netns_path);
            kk_jw_kstr(w, "path", c->netns_path);
        }
        kk_jw_end(w);
    }
    kk_jw_end(w);
    write_devices(w, p);

    if (!c->privileged) {
        kk_jw_kstrv(w, "maskedPaths", masked_paths);
        kk_jw_kstrv(w, "readonlyPaths", readonly_paths);
        if (c->seccomp == KK_OCI_SECCOMP_DEFAULT) {
            kk_jw_key(w, "seccomp");
            kk_oci_seccomp_default(w, p->caps);
        } else if (c->seccomp == KK_OCI_SECCOMP_PROFILE) {
            kk_jw_key(w, "seccomp");
            kk_oci_seccomp_write(w, p->seccomp);
        }
    }
    kk_jw_end(w);
    return 0;
}

static int resolve_devices(const struct kk_oci_spec_config *c, struct plan *p, kk_error **err)
{
    if (c->n_devices > MAX_DEVICES)
        return kk_error_set(err, KK_E_INVALID, "too many devices (%zu)", c->n_devices);
    p->devs = kk_xcalloc(c->n_devices ? c->n_devices : 1, sizeof(*p->devs));
    for (size_t i = 0; i < c->n_devices; i++) {
        const struct kk_oci_device *d = &c->devices[i];
        const char *path = d->container_path ? d->container_path : d->host_path;
        const char *access = d->access && *d->access ? d->access : "rwm";
        if (!clean_abs_path(d->host_path) || !clean_abs_path(path))
            return kk_error_set(err, KK_E_INVALID,
                                "device %s: paths must be absolute, without . or .. components",
                                d->host_path ? d->host_path : "(null)");
        if (strspn(access, "rwm") != strlen(access))
            return kk_error_set(err, KK_E_INVALID, "device %s: access \"%s\" is not of r, w, m",
                                d->host_path, access);
        struct stat st;
        if (stat(d->host_path, &st) < 0)
            return kk_error_errno(err, "device %s", d->host_path);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
            return kk_error_set(err, KK_E_INVALID, "device %s: not a character or block device",
                                d->host_path);
        p->devs[p->n_devs++] = (struct resolved_device){
                .path = path,
                .access = access,
                .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
                .major = major(st.st_rdev),
                .minor = minor(st.st_rdev),
                .mode = st.st_mode & 07777,
                .uid = st.st_uid,
                .gid = st.st_gid,
        };
    }
    return 0;
}

/* AppArmor profiles only where the kernel enforces them: a profile the
 * host cannot load would make runc fail with a less helpful message. */
static int check_apparmor(const struct kk_oci_spec_config *c, kk_error **err)
{
    if (!c->apparmor_profile || strcmp(c->apparmor_profile, "unconfined") == 0)
        return 0;
    const char *file = c->apparmor_enabled_file ? c->apparmor_enabled_file : APPARMOR_ENABLED_FILE;
    char buf[8] = "";
    _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (n <= 0 || buf[0] != 'Y') {
        kk_error_set(err, KK_E_PRECONDITION,
                     "securityOpts apparmor=%s: AppArmor is not enabled on this host (%s)",
                     c->apparmor_profile, fd < 0 ? "no " APPARMOR_ENABLED_FILE : "disabled");
        return kk_error_reason(err, "AppArmorUnavailable");
    }
    return 0;
}

static int make_plan(const struct kk_oci_spec_config *c, struct plan *p, kk_error **err)
{
    if (granted_caps(c, &p->caps, err) < 0 || check_apparmor(c, err) < 0)
        return -1;
    if (resolve_devices(c, p, err) < 0)
        return kk_error_reason(err, "DeviceUnavailable");
    if (!c->privileged && c->seccomp == KK_OCI_SECCOMP_PROFILE) {
        if (!c->seccomp_profile)
            return kk_error_set(err, KK_E_INVALID, "seccomp profile path missing");
        if (kk_oci_seccomp_load(c->seccomp_profile, &p->seccomp, err) < 0)
            return kk_error_reason(err, "SeccompProfileInvalid");
    }
    return 0;
}

static void plan_release(struct plan *p)
{
    kk_json_free(p->seccomp);
    free(p->devs);
}

static int check_strings(const struct kk_oci_spec_config *c, kk_error **err)
{
    const char *single[] = {c->cwd, c->user, c->hostname, c->netns_path, c->cgroups_path};
    for (size_t i = 0; i < KK_ARRAY_SIZE(single); i++)
        if (single[i] && strlen(single[i]) > MAX_STR)
            return kk_error_set(err, KK_E_INVALID, "spec string too long");
    if (c->hostname && (strlen(c->hostname) > 64 || strchr(c->hostname, '/')))
        return kk_error_set(err, KK_E_INVALID, "hostname \"%s\" is not valid", c->hostname);
    return 0;
}

int kk_oci_spec_build(const struct kk_oci_spec_config *c, struct kk_buf *out, kk_error **err)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    struct kk_json_writer w;

    _cleanup_(plan_release) struct plan plan = {0};

    if (check_strings(c, err) < 0 || make_plan(c, &plan, err) < 0)
        return kk_error_wrap(err, "oci spec");
    kk_jw_init(&w, &b);
    kk_jw_obj(&w);
    kk_jw_kstr(&w, "ociVersion", "1.0.2-dev");
    if (write_process(&w, c, plan.caps, err) < 0)
        return kk_error_wrap(err, "oci spec");
    kk_jw_key(&w, "root");
    kk_jw_obj(&w);
    kk_jw_kstr(&w, "path", "rootfs");
    kk_jw_kbool(&w, "readonly", c->readonly_rootfs);
    kk_jw_end(&w);
    if (c->hostname && *c->hostname)
        kk_jw_kstr(&w, "hostname", c->hostname);
    if (write_mounts(&w, c, err) < 0 || write_linux(&w, c, &plan, err) < 0)
        return kk_error_wrap(err, "oci spec");
    kk_jw_end(&w);
    kk_buf_add(out, b.data, b.len);
    return 0;
}
