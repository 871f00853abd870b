/* One container of a cell: the OCI runtime spec, the containerd container
 * (snapshot, labels) and its task. */
#include "agent/cell.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fsapi/fsutil.h"
#include "fsapi/log.h"
#include "runtime/oci/container.h"
#include "runtime/oci/spec.h"

#define PORTS_MAX      KK_FW_PORTS_MAX
#define IMAGE_FILE_MAX (1024 * 1024) /* /etc/passwd, /etc/group */

static void fill_resources(const struct kk_resources *r, struct kk_oci_resources *o)
{
    if (r->cpu.weight)
        o->cpu_shares = kk_cg_weight_to_shares(r->cpu.weight);
    if (r->cpu.millicpus) {
        o->cpu_period = 100000;
        o->cpu_quota = (int64_t)r->cpu.millicpus * 100;
    }
    o->cpuset_cpus = r->cpu.cpuset;
    if (r->memory.max > 0)
        o->memory_limit = r->memory.max;
    if (r->memory.high > 0)
        o->memory_reservation = r->memory.high;
    if (r->memory.swap >= 0 && r->memory.max > 0)
        o->memory_swap = r->memory.max + r->memory.swap;
    if (r->pids.max > 0)
        o->pids_limit = r->pids.max;
    if (r->io.weight)
        o->blkio_weight = (uint16_t)kk_cg_io_weight_to_blkio(r->io.weight);
}

/* The user names the image must resolve ("nobody", "app:staff"), rather
 * than numbers: only then are the image's /etc/passwd and /etc/group read. */
static bool user_needs_names(const char *user)
{
    return user && strspn(user, "0123456789:") != strlen(user);
}

/* Builds the runtime spec of d into out. */
static int build_spec(struct cell_ctx *c, const struct desired *d, const struct kk_image_info *img,
                      const char *passwd, const char *group, struct kk_buf *out, kk_error **err)
{
    const struct kk_container *k = d->spec;
    struct kk_cg_ref leaf = {
            c->key->names[0], c->key->names[1], c->key->names[2], c->key->names[3], k->id, d->role};
    _cleanup_free_ char *cgpath = NULL;
    if (kk_cg_runc_path(c->a->be.cg, &leaf, &cgpath, err) < 0)
        return kk_error_wrap(err, "cgroup path");
    const char *command[] = {k->command, NULL};
    _cleanup_free_ char *hosts = kk_xasprintf("%s/hosts", c->files_dir);
    _cleanup_free_ char *hostname = kk_xasprintf("%s/hostname", c->files_dir);
    _cleanup_free_ char *resolv = kk_xasprintf("%s/resolv.conf", c->files_dir);
    struct kk_oci_spec_config sc = {
            .image = &img->config,
            .command = k->command ? command : NULL,
            .args = (const char *const *)k->args.v,
            .env = (const char *const *)k->env.v,
            .cwd = k->working_dir,
            .user = k->user,
            .passwd_text = passwd,
            .group_text = group,
            .hostname = c->key->names[3],
            .netns_path = c->host_network ? NULL : c->netns_path,
            .cgroups_path = cgpath,
            /* in the host's network, the host's names and resolver */
            .hosts_file = c->host_network ? "/etc/hosts" : hosts,
            .hostname_file = c->host_network ? NULL : hostname,
            .resolv_conf_file = c->host_network ? "/etc/resolv.conf" : resolv,
    };
    /* Volumes, tmpfs, devices, privileges, capabilities, seccomp, AppArmor
     * and host namespaces: runtime/oci maps the model's own fields. */
    _cleanup_(kk_oci_container_storage_release) struct kk_oci_container_storage st = {0};
    if (kk_oci_spec_from_container(&sc, k, &st, err) < 0)
        return kk_error_wrap(err, "container %s", k->id);
    sc.host_network = sc.host_network || c->host_network;
    fill_resources(&k->resources, &sc.resources);
    if (kk_oci_spec_build(&sc, out, err) < 0)
        return kk_error_wrap(err, "runtime spec");
    return 0;
}

/* Asks the puller for d's image (pulls run on threads of their own; the
 * cell is woken when one ends). The realm's registryCredentials go along. */
static int pull_image(struct cell_ctx *c, const struct desired *d, kk_error **err)
{
    struct kk_key rk;
    _cleanup_(kk_resource_freep) struct kk_resource *realm = NULL;
    if (kk_key_init(&rk, KK_LEVEL_REALM, c->key->names[0], NULL, NULL, NULL, NULL, err) < 0 ||
        agent_spec_load(c->a, &rk, &realm, err) < 0)
        return kk_error_wrap(err, "realm %s", c->key->names[0]);
    const struct kk_registry_credential *creds = realm ? realm->realm.registry_credentials : NULL;
    size_t n = realm ? realm->realm.n_registry_credentials : 0;
    return kk_puller_need(c->a->puller, c->ns, d->spec->image, d->spec->image_pull_policy, creds, n,
                          c->keystr, err);
}

/* Resolves d's image in the realm's namespace, pulling it as its
 * imagePullPolicy says when the agent has a registry backend. Without one
 * (or with Never) a missing image is Pending/ImageNotFound with a hint. */
static int resolve_image(struct cell_ctx *c, const struct desired *d, struct kk_image_info *img,
                         kk_error **err)
{
    struct agent_ctx *a = c->a;
    int policy = d->spec->image_pull_policy;
    bool can_pull = a->puller && policy != KK_PULL_NEVER;
    if (can_pull && policy == KK_PULL_ALWAYS && pull_image(c, d, err) < 0)
        return -1;
    if (a->be.image->resolve(a->be.image_self, c->ns, d->spec->image, img, err) == 0)
        return 0;
    if (kk_error_code(*err) != KK_E_NOT_FOUND)
        return kk_error_wrap(err, "image %s", d->spec->image);
    kk_error_freep(err);
    if (can_pull && policy != KK_PULL_ALWAYS) {
        if (pull_image(c, d, err) < 0)
            return -1;
        if (a->be.image->resolve(a->be.image_self, c->ns, d->spec->image, img, err) == 0)
            return 0;
        return kk_error_wrap(err, "image %s after its pull", d->spec->image);
    }
    kk_error_set(err, KK_E_NOT_FOUND,
                 "image %s is not in containerd namespace %s (load it with `kuke image load`%s)",
                 d->spec->image, c->ns,
                 policy == KK_PULL_NEVER ? "; imagePullPolicy is Never" : "");
    return kk_error_reason(err, "ImageNotFound");
}

/* Appends the image's file at path to out if it has one. */
static void read_image_file(struct cell_ctx *c, const struct kk_image_info *img, const char *path,
                            struct kk_buf *out)
{
    _cleanup_error_ kk_error *err = NULL;
    if (c->a->be.image->read_file(c->a->be.image_self, c->ns, NULL, img, path, IMAGE_FILE_MAX, out,
                                  &err) < 0 &&
        kk_error_code(err) != KK_E_NOT_FOUND)
        kk_log_warn("%s: image %s: %s: %s", c->keystr, img->name ? img->name : "?", path,
                    err->message);
}

/* d's image is there: one Pulled event before its container is created,
 * with the time the pull took if d waited for one (its entry was
 * PullingImage), else saying the image was present (as kubelet does). */
static void note_pulled(struct cell_ctx *c, const struct desired *d)
{
    const struct kk_container_status *prev =
            c->prev ? kk_status_find_container(c->prev, d->spec->id) : NULL;
    int64_t took_ms = 0;
    if (c->a->puller && prev && prev->reason && strcmp(prev->reason, "PullingImage") == 0 &&
        kk_puller_last_pull(c->a->puller, c->ns, d->spec->image, &took_ms) == 1)
        agent_cell_event(c, KK_EVENT_NORMAL, "Pulled", d->spec->id, "pulled %s in %.1f s",
                         d->spec->image, (double)took_ms / 1000);
    else
        agent_cell_event(c, KK_EVENT_NORMAL, "Pulled", d->spec->id, "image %s already present",
                         d->spec->image);
}

int agent_container_create(struct cell_ctx *c, const struct desired *d, kk_error **err)
{
    struct agent_ctx *a = c->a;
    struct kk_image_info img = {0};
    if (resolve_image(c, d, &img, err) < 0)
        return -1;
    note_pulled(c, d);
    _cleanup_buf_ struct kk_buf passwd = KK_BUF_INIT, group = KK_BUF_INIT, spec = KK_BUF_INIT;
    if (user_needs_names(d->spec->user)) {
        read_image_file(c, &img, "/etc/passwd", &passwd);
        read_image_file(c, &img, "/etc/group", &group);
    }
    int r = build_spec(c, d, &img, passwd.data, group.data, &spec, err);
    kk_image_info_clear(&img);
    if (r < 0)
        return r;
    /* The rootfs snapshot, named like the container (idempotent; unpacks
     * the image's layers first if they are not yet). */
    if (a->be.image->prepare_rootfs(a->be.image_self, c->ns, NULL, d->spec->image, d->ctd_id, NULL,
                                    err) < 0)
        return kk_error_wrap(err, "rootfs of %s", d->ctd_id);
    const char *labels[] = {
            KK_LABEL_REALM,     c->key->names[0], KK_LABEL_SPACE, c->key->names[1],
            KK_LABEL_STACK,     c->key->names[2], KK_LABEL_CELL,  c->key->names[3],
            KK_LABEL_CONTAINER, d->spec->id,      KK_LABEL_HASH,  d->hash,
            KK_LABEL_ROLE,      d->role,          NULL,
    };
    struct kk_ctd_container_spec cs = {
            .id = d->ctd_id,
            .image = d->spec->image,
            .labels = labels,
            .spec_json = spec.data,
            .spec_len = spec.len,
            .snapshot_key = d->ctd_id,
    };
    if (a->be.ctd->container_create(a->be.ctd_self, c->ns, &cs, err) < 0)
        return kk_error_wrap(err, "create container %s", d->ctd_id);
    kk_log_info("%s: container %s created", c->keystr, d->spec->id);
    return 0;
}

/* Opens rel for appending if it is a regular file with one link, beneath
 * the root and without following a symlink; 1 opened, 0 replaceable (a
 * symlink, a FIFO, a device, a hard link: nothing the shim may write to),
 * < 0 on another error. */
static int log_file_ok(int rootfd, const char *rel, kk_error **err)
{
    _cleanup_close_ int fd = kk_fs_open(
            rootfd, rel, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY, 0640, err);
    if (fd < 0) {
        int e = (*err)->sys_errno;
        if (e == ELOOP || e == ENXIO || e == EISDIR || e == ENOTDIR) {
            kk_error_freep(err);
            return 0;
        }
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return kk_error_errno(err, "stat %s", rel);
    return S_ISREG(sb.st_mode) && sb.st_nlink == 1;
}

/* The shim opens the log by its absolute path, following links: make sure
 * that path is the tree's own file (containers/ a real directory, the log a
 * regular file with one link), replacing whatever else was put there, so
 * container output never lands outside the tree. */
static int prepare_log(struct cell_ctx *c, const struct desired *d, kk_error **err)
{
    struct kk_key ck;
    if (kk_key_init(&ck, KK_LEVEL_CONTAINER, c->key->names[0], c->key->names[1], c->key->names[2],
                    c->key->names[3], d->spec->id, err) < 0)
        return -1;
    int rootfd = c->a->rootfd;
    _cleanup_free_ char *dir = kk_tree_dir(c->key);
    _cleanup_free_ char *cdir = kk_xasprintf("%s/" KK_TREE_CONTAINERS, dir);
    _cleanup_free_ char *rel = kk_tree_log_path(&ck);
    if (kk_fs_mkdir_p(rootfd, cdir, 0755, NULL, err) < 0) {
        /* Not a directory (a symlink out of the tree, a file): replace it. */
        kk_error_freep(err);
        kk_log_warn("%s: %s is not a directory: replaced", c->keystr, cdir);
        if (kk_fs_unlink(rootfd, cdir, err) < 0 || kk_fs_mkdir_p(rootfd, cdir, 0755, NULL, err) < 0)
            return kk_error_wrap(err, "container log directory");
    }
    int ok = log_file_ok(rootfd, rel, err);
    if (ok == 0) {
        kk_log_warn("%s: %s is not a plain file of its own: replaced", c->keystr, rel);
        if (kk_fs_unlink(rootfd, rel, err) < 0 || (ok = log_file_ok(rootfd, rel, err)) == 0)
            return kk_error_set(err, KK_E_PRECONDITION, "%s: cannot be replaced", rel);
    }
    return ok < 0 ? kk_error_wrap(err, "container log") : 0;
}

int agent_task_start_new(struct cell_ctx *c, const struct desired *d, uint32_t *pid, kk_error **err)
{
    struct agent_ctx *a = c->a;
    if (prepare_log(c, d, err) < 0)
        return -1;
    if (a->be.ctd->task_create(a->be.ctd_self, c->ns, d->ctd_id, d->log_path, pid, err) < 0) {
        if (kk_error_code(*err) != KK_E_EXISTS)
            return kk_error_wrap(err, "create task %s", d->ctd_id);
        /* A task left over (e.g. stopped, not deleted): replace it. */
        kk_error_freep(err);
        if (a->be.ctd->task_delete(a->be.ctd_self, c->ns, d->ctd_id, NULL, err) < 0 &&
            kk_error_code(*err) != KK_E_NOT_FOUND) {
            /* containerd cannot let go of it (e.g. its shim died): the
             * caller removes the whole container and creates it again. */
            kk_error_wrap(err, "stale task %s", d->ctd_id);
            return kk_error_reason(err, "StaleTask");
        }
        kk_error_freep(err);
        if (a->be.ctd->task_create(a->be.ctd_self, c->ns, d->ctd_id, d->log_path, pid, err) < 0)
            return kk_error_wrap(err, "create task %s", d->ctd_id);
    }
    if (a->be.ctd->task_start(a->be.ctd_self, c->ns, d->ctd_id, pid, err) < 0)
        return kk_error_wrap(err, "start task %s", d->ctd_id);
    kk_log_info("%s: container %s started (pid %u)", c->keystr, d->spec->id, pid ? *pid : 0);
    return 0;
}

int agent_cell_ports(const struct cell_ctx *c, struct kk_fw_port **out, size_t *n, kk_error **err)
{
    struct kk_fw_port *v = NULL;
    size_t cap = 0, len = 0;
    for (size_t i = 0; i < c->n_desired; i++) {
        const struct kk_ports *ps = &c->desired[i].spec->ports;
        for (size_t j = 0; j < ps->n; j++) {
            if (len >= PORTS_MAX) {
                free(v);
                return kk_error_set(err, KK_E_INVALID, "more than %d published ports", PORTS_MAX);
            }
            kk_xgrow((void **)&v, &cap, len + 1, sizeof(*v));
            struct kk_fw_port *p = &v[len++];
            memset(p, 0, sizeof(*p));
            if (ps->v[j].host_ip)
                snprintf(p->host_ip, sizeof(p->host_ip), "%s", ps->v[j].host_ip);
            p->host_port = ps->v[j].host_port;
            p->container_port = ps->v[j].container_port;
            p->proto = ps->v[j].proto == KK_PROTO_UDP ? KK_FW_UDP : KK_FW_TCP;
        }
    }
    *out = v;
    *n = len;
    return 0;
}
