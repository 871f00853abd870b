/* The agent's reconcilers against fake backends: a fake containerd (below),
 * runtime/cgroup, runtime/net and runtime/firewall fakes. The agent runs in
 * test mode (no threads): each step runs the pending keys to quiescence. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "fsapi/buf.h"
#include "fsapi/clock.h"
#include "fsapi/log.h"
#include "fsapi/status.h"
#include "runtime/cgroup/fake.h"
#include "runtime/firewall/fake.h"
#include "runtime/net/fake.h"
#include "tests/lib/kktest.h"

/* ---- a fake containerd -------------------------------------------------- */

#define FAKE_MAX 32

struct fake_ctr {
    char *ns, *id, *image;
    char **labels;
    bool task;
    enum kk_ctd_task_status status;
    uint32_t pid, exit_status;
};

struct fake_ctd {
    struct fake_ctr v[FAKE_MAX];
    size_t n;
    uint32_t next_pid;
    struct kk_buf log; /* one line per mutating call */
    unsigned mutations;
    bool no_images;
    unsigned pulls;
    /* The fake registry's pull waits until the test lets it end. */
    pthread_mutex_t pull_mu;
    pthread_cond_t pull_cv;
    bool pull_may_end;
    /* The next list_failures container_list calls fail as containerd
     * restarting does (kukeon issue 11). */
    unsigned list_failures;
};

/* Lets a pull that waits in the fake registry end (idempotent). */
static void pull_release(struct fake_ctd *f)
{
    pthread_mutex_lock(&f->pull_mu);
    f->pull_may_end = true;
    pthread_cond_broadcast(&f->pull_cv);
    pthread_mutex_unlock(&f->pull_mu);
}

static void fake_log(struct fake_ctd *f, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void fake_log(struct fake_ctd *f, const char *fmt, ...)
{
    va_list ap;
    char line[512];
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    kk_buf_printf(&f->log, "%s\n", line);
    f->mutations++;
}

static struct fake_ctr *fake_find(struct fake_ctd *f, const char *ns, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].ns, ns) == 0 && strcmp(f->v[i].id, id) == 0)
            return &f->v[i];
    return NULL;
}

static char **strv_dup(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = kk_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = kk_xstrdup(v[i]);
    return out;
}

static const char *label(char **labels, const char *key)
{
    for (char **l = labels; l && l[0] && l[1]; l += 2)
        if (strcmp(l[0], key) == 0)
            return l[1];
    return NULL;
}

static int f_ns_create(void *self, const char *name, const char *const *labels, bool ok,
                       kk_error **err)
{
    (void)self, (void)name, (void)labels, (void)ok, (void)err;
    return 0;
}

static int f_ns_other(void *self, const char *name, kk_error **err)
{
    (void)self, (void)name, (void)err;
    return 0;
}

static int f_ctr_create(void *self, const char *ns, const struct kk_ctd_container_spec *spec,
                        kk_error **err)
{
    struct fake_ctd *f = self;
    if (fake_find(f, ns, spec->id))
        return kk_error_set(err, KK_E_EXISTS, "container %s exists", spec->id);
    struct fake_ctr *c = &f->v[f->n++];
    *c = (struct fake_ctr){.ns = kk_xstrdup(ns),
                           .id = kk_xstrdup(spec->id),
                           .image = kk_xstrdup(spec->image),
                           .labels = strv_dup(spec->labels)};
    fake_log(f, "create %s", spec->id);
    return 0;
}

static void ctr_fill(const struct fake_ctr *c, struct kk_ctd_container *out)
{
    memset(out, 0, sizeof(*out));
    out->id = kk_xstrdup(c->id);
    out->image = kk_xstrdup(c->image);
    out->labels = strv_dup((const char *const *)c->labels);
}

static int f_ctr_get(void *self, const char *ns, const char *id, struct kk_ctd_container *out,
                     kk_error **err)
{
    struct fake_ctr *c = fake_find(self, ns, id);
    if (!c)
        return kk_error_set(err, KK_E_NOT_FOUND, "no container %s", id);
    ctr_fill(c, out);
    return 0;
}

/* Understands the agent's two filters: label presence, and
 * `labels."kukeon.io/cell"=="x"` (with space and stack). */
static bool filter_match(const struct fake_ctr *c, const char *filter)
{
    static const char *keys[] = {"kukeon.io/space", "kukeon.io/stack", "kukeon.io/cell"};
    if (!filter)
        return true;
    for (size_t i = 0; i < KK_ARRAY_SIZE(keys); i++) {
        char pat[64];
        snprintf(pat, sizeof(pat), "\"%s\"==\"", keys[i]);
        const char *p = strstr(filter, pat);
        if (!p)
            continue;
        p += strlen(pat);
        const char *v = label(c->labels, keys[i]);
        if (!v || strncmp(v, p, strlen(v)) != 0 || p[strlen(v)] != '"')
            return false;
    }
    return label(c->labels, "kukeon.io/cell") != NULL;
}

static int f_ctr_list(void *self, const char *ns, const char *filter, struct kk_ctd_container **out,
                      size_t *n, kk_error **err)
{
    struct fake_ctd *f = self;
    if (f->list_failures) {
        f->list_failures--;
        return kk_error_set(err, KK_E_UNAVAILABLE,
                            "stream ended without grpc-status (reset by the server or "
                            "connection lost)");
    }
    *out = kk_xcalloc(FAKE_MAX, sizeof(**out));
    *n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].ns, ns) == 0 && filter_match(&f->v[i], filter))
            ctr_fill(&f->v[i], &(*out)[(*n)++]);
    return 0;
}

static void ctr_free(struct fake_ctr *c)
{
    free(c->ns);
    free(c->id);
    free(c->image);
    kk_strv_free(c->labels);
}

static int f_ctr_remove(void *self, const char *ns, const char *id, int timeout, kk_error **err)
{
    (void)timeout, (void)err;
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c)
        return 0;
    fake_log(f, "remove %s", id);
    ctr_free(c);
    *c = f->v[--f->n];
    return 0;
}

static int f_snap(void *self, const char *ns, const char *sn, const char *key, const char *parent,
                  kk_error **err)
{
    (void)self, (void)ns, (void)sn, (void)key, (void)parent, (void)err;
    return 0;
}

static int f_task_create(void *self, const char *ns, const char *id, const char *log, uint32_t *pid,
                         kk_error **err)
{
    (void)log;
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c)
        return kk_error_set(err, KK_E_NOT_FOUND, "no container %s", id);
    if (c->task)
        return kk_error_set(err, KK_E_EXISTS, "task %s exists", id);
    c->task = true;
    c->status = KK_CTD_TASK_CREATED;
    c->pid = ++f->next_pid;
    if (pid)
        *pid = c->pid;
    return 0;
}

static int f_task_start(void *self, const char *ns, const char *id, uint32_t *pid, kk_error **err)
{
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c || !c->task)
        return kk_error_set(err, KK_E_NOT_FOUND, "no task %s", id);
    c->status = KK_CTD_TASK_RUNNING;
    if (pid)
        *pid = c->pid;
    fake_log(f, "start %s", id);
    return 0;
}

static int f_task_get(void *self, const char *ns, const char *id, struct kk_ctd_task_state *st,
                      kk_error **err)
{
    struct fake_ctr *c = fake_find(self, ns, id);
    if (!c || !c->task)
        return kk_error_set(err, KK_E_NOT_FOUND, "no task %s", id);
    *st = (struct kk_ctd_task_state){
            .pid = c->pid, .status = c->status, .exit_status = c->exit_status};
    return 0;
}

static int f_task_kill(void *self, const char *ns, const char *id, int sig, bool all,
                       kk_error **err)
{
    (void)all;
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c || !c->task)
        return kk_error_set(err, KK_E_NOT_FOUND, "no task %s", id);
    fake_log(f, "kill %s %d", id, sig);
    c->status = KK_CTD_TASK_STOPPED;
    c->exit_status = 128 + (uint32_t)sig;
    return 0;
}

static int f_task_delete(void *self, const char *ns, const char *id, uint32_t *exit_status,
                         kk_error **err)
{
    (void)exit_status;
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c || !c->task)
        return kk_error_set(err, KK_E_NOT_FOUND, "no task %s", id);
    c->task = false;
    fake_log(f, "delete-task %s", id);
    return 0;
}

static int f_task_pause(void *self, const char *ns, const char *id, kk_error **err)
{
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c || !c->task)
        return kk_error_set(err, KK_E_NOT_FOUND, "no task %s", id);
    c->status = KK_CTD_TASK_PAUSED;
    fake_log(f, "pause %s", id);
    return 0;
}

static int f_task_resume(void *self, const char *ns, const char *id, kk_error **err)
{
    struct fake_ctd *f = self;
    struct fake_ctr *c = fake_find(f, ns, id);
    if (!c || !c->task)
        return kk_error_set(err, KK_E_NOT_FOUND, "no task %s", id);
    c->status = KK_CTD_TASK_RUNNING;
    fake_log(f, "resume %s", id);
    return 0;
}

static const struct kk_ctd_ops fake_ops = {
        .namespace_create = f_ns_create,
        .namespace_drain = f_ns_other,
        .namespace_delete = f_ns_other,
        .container_create = f_ctr_create,
        .container_get = f_ctr_get,
        .container_list = f_ctr_list,
        .container_remove_safely = f_ctr_remove,
        .snapshot_prepare = f_snap,
        .task_create = f_task_create,
        .task_start = f_task_start,
        .task_get = f_task_get,
        .task_kill = f_task_kill,
        .task_delete = f_task_delete,
        .task_pause = f_task_pause,
        .task_resume = f_task_resume,
};

static char **strv_of(const char *a, const char *b)
{
    char **v = kk_xcalloc(3, sizeof(char *));
    v[0] = kk_xstrdup(a);
    v[1] = b ? kk_xstrdup(b) : NULL;
    return v;
}

static int f_image_resolve(void *self, const char *ns, const char *ref, struct kk_image_info *out,
                           kk_error **err)
{
    struct fake_ctd *f = self;
    (void)ns;
    if (__atomic_load_n(&f->no_images, __ATOMIC_SEQ_CST))
        return kk_error_set(err, KK_E_NOT_FOUND, "image %s: not found", ref);
    memset(out, 0, sizeof(*out));
    out->name = kk_xstrdup(ref);
    out->chain_id = kk_xstrdup("sha256:00");
    out->config.env = strv_of("PATH=/bin", NULL);
    out->config.cmd = strv_of("sh", NULL);
    return 0;
}

static int f_image_prepare(void *self, const char *ns, const char *snapshotter, const char *image,
                           const char *key, struct kk_ctd_mounts *mounts, kk_error **err)
{
    (void)self, (void)ns, (void)snapshotter, (void)image, (void)key, (void)mounts, (void)err;
    return 0;
}

static int f_image_read_file(void *self, const char *ns, const char *snapshotter,
                             const struct kk_image_info *img, const char *path, size_t max,
                             struct kk_buf *out, kk_error **err)
{
    (void)self, (void)ns, (void)snapshotter, (void)img, (void)max, (void)out;
    return kk_error_set(err, KK_E_NOT_FOUND, "%s: not in the fake image", path);
}

/* A registry that "pulls" by making the fake's images appear. Runs on the
 * puller's thread. */
static int f_registry_ensure(void *self, struct kk_ctd *c, const char *ns, const char *ref,
                             enum kk_pull_policy policy, const struct kk_registry_pull_opts *opts,
                             bool *pulled, kk_error **err)
{
    struct fake_ctd *f = self;
    (void)c, (void)ns, (void)ref, (void)policy, (void)opts, (void)err;
    __atomic_add_fetch(&f->pulls, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&f->pull_mu); /* until the test saw PullingImage */
    while (!f->pull_may_end)
        pthread_cond_wait(&f->pull_cv, &f->pull_mu);
    pthread_mutex_unlock(&f->pull_mu);
    __atomic_store_n(&f->no_images, false, __ATOMIC_SEQ_CST);
    if (pulled)
        *pulled = true;
    return 0;
}

static const struct kk_registry_ops fake_registry_ops = {.ensure_image = f_registry_ensure};

static const struct kk_image_ops fake_image_ops = {
        .resolve = f_image_resolve,
        .prepare_rootfs = f_image_prepare,
        .read_file = f_image_read_file,
};

static void fake_release(struct fake_ctd *f)
{
    for (size_t i = 0; i < f->n; i++)
        ctr_free(&f->v[i]);
    kk_buf_release(&f->log);
    pthread_mutex_destroy(&f->pull_mu);
    pthread_cond_destroy(&f->pull_cv);
}

/* ---- the test world ----------------------------------------------------- */

struct world {
    char *inbox, *state, *run;
    struct fake_ctd ctd;
    struct kk_agent_backends be;
    struct kk_agent_config cfg;
    struct kk_fake_clock clock; /* the agent's: tests advance it */
    struct kk_agent *agent;
};

static void world_free(struct world *w)
{
    pull_release(&w->ctd); /* the puller's thread is joined below */
    kk_agent_free(w->agent);
    kk_cg_close(w->be.cg);
    kk_net_free(w->be.net);
    kk_fw_free(w->be.fw);
    fake_release(&w->ctd);
    kk_agent_config_release(&w->cfg);
    free(w->inbox);
    free(w->state);
    free(w->run);
}

static int world_agent(struct world *w, kk_error **err)
{
    kk_agent_free(w->agent);
    w->agent = NULL;
    if (kk_agent_new(&w->cfg, &w->be, &w->agent, err) < 0)
        return -1;
    return kk_agent_start(w->agent, err);
}

static int world_init(struct world *w, kk_error **err)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->ctd.pull_mu, NULL);
    pthread_cond_init(&w->ctd.pull_cv, NULL);
    kk_fake_clock_init(&w->clock, 1000, kk_clock_real_ns(NULL));
    const char *tmp = kt_tmpdir();
    w->inbox = kk_xasprintf("%s/inbox", tmp);
    w->state = kk_xasprintf("%s/state", tmp);
    w->run = kk_xasprintf("%s/run", tmp);
    mkdir(w->inbox, 0755);
    kk_agent_config_init(&w->cfg);
    if (kk_agent_config_set(&w->cfg, "manifests", w->inbox, err) < 0 ||
        kk_agent_config_set(&w->cfg, "state", w->state, err) < 0 ||
        kk_agent_config_set(&w->cfg, "run-dir", w->run, err) < 0)
        return -1;
    w->cfg.workers = 0; /* test mode */
    w->cfg.veth_prefix = kk_xstrdup("kkv");
    /* The fake keeps real IPAM files: in the test's directory, never the
     * host's /var/lib/kukeon. */
    _cleanup_free_ char *ipam = kk_xasprintf("%s/ipam", tmp);
    _cleanup_free_ char *netns = kk_xasprintf("%s/netns", tmp);
    struct kk_net_config nc = KK_NET_CONFIG_DEFAULT;
    nc.state_dir = ipam;
    nc.netns_dir = netns;
    w->be = (struct kk_agent_backends){.ctd = &fake_ops,
                                       .ctd_self = &w->ctd,
                                       .image = &fake_image_ops,
                                       .image_self = &w->ctd,
                                       .clock = &w->clock.clock};
    if (kk_cg_open_fake(KK_CG_MODE_V2, KK_CG_DEFAULT_SET, "kukeon", &w->be.cg, err) < 0 ||
        kk_net_new_fake(&nc, &w->be.net, err) < 0 || kk_fw_new_fake(&w->be.fw, err) < 0)
        return -1;
    return world_agent(w, err);
}

static void settle(struct world *w)
{
    kk_agent_run_pending(w->agent, 200, false);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static struct kk_status *load_status(struct world *w, const char *key)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s/status.yaml", w->state, key);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct kk_status *st = NULL;
    if (fd < 0 || kk_status_load_fd(fd, path, &st, &diags, &err) < 0)
        return NULL;
    return st;
}

static bool exists(struct world *w, const char *rel)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", w->state, rel);
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Whether rel's content contains needle. */
static bool file_has(struct world *w, const char *rel, const char *needle)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", w->state, rel);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

#define WEB_CELL                                                                                   \
    "apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: web\nspec:\n  containers:\n"              \
    "    - id: app\n      image: busybox\n      command: httpd\n"                                  \
    "      ports: [\"8080:80\"]\n"                                                                 \
    "    - id: side\n      image: busybox\n      command: sleep\n      args: [\"%s\"]\n"

static char *web_cell(const char *sleep)
{
    return kk_xasprintf(WEB_CELL, sleep);
}

#define CELL_KEY "default/default/default/web"

/* An inbox file written, noticed and reconciled. */
static void drop(struct world *w, const char *name, const char *text)
{
    write_file(w->inbox, name, text);
    kk_agent_notify_inbox(w->agent, name);
    settle(w);
}

/* The web cell (app + side) dropped into the inbox and reconciled. */
static void web_up(struct world *w)
{
    _cleanup_free_ char *cell = web_cell("100");
    drop(w, "web.yaml", cell);
}

/* ---- cases -------------------------------------------------------------- */

KT_CASE(defaults_ready_after_start)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    int r = world_init(&w, &err);
    if (r < 0) {
        world_free(&w);
        KT_ASSERT_OK(r, &err);
    }
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, "default/default/default");
    bool ok = st && st->state == KK_STATE_READY && exists(&w, "default/realm.yaml");
    bool space = kk_fw_fake_has_space(w.be.fw, "default/default");
    /* each level's state change is an event of its own (design §2.10) */
    bool events = file_has(&w, "default/events.log", "\tNormal\tReady\trealm\t") &&
                  file_has(&w, "default/default/events.log", "\tNormal\tReady\tspace\t") &&
                  file_has(&w, "default/default/default/events.log", "\tNormal\tReady\tstack\t");
    world_free(&w);
    KT_ASSERT(ok);
    KT_ASSERT(space);
    KT_ASSERT(events);
}

KT_CASE(cell_created_root_first_then_unchanged)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, CELL_KEY);
    _cleanup_free_ char *log = kk_xstrdup(kk_buf_str(&w.ctd.log));
    const char *root = strstr(log, "create default_default_web_app");
    const char *side = strstr(log, "create default_default_web_side");
    bool ports = kk_fw_fake_cell_ports(w.be.fw, CELL_KEY) == 1;
    bool net = kk_net_fake_cell_up(w.be.net, CELL_KEY);
    unsigned before = w.ctd.mutations;
    /* Nothing changed: a reconcile calls nothing that mutates. */
    kk_agent_notify_state(w.agent, CELL_KEY "/cell.yaml");
    kk_agent_notify_inbox(w.agent, "web.yaml");
    settle(&w);
    unsigned after = w.ctd.mutations;
    _cleanup_(kk_status_freep) struct kk_status *st2 = load_status(&w, CELL_KEY);
    world_free(&w);
    KT_ASSERT(st != NULL);
    KT_ASSERT_EQ(st->state, KK_STATE_READY);
    KT_ASSERT(st->ip != NULL);
    KT_ASSERT(st->cgroup_path != NULL);
    KT_ASSERT(st->observed_generation != NULL);
    KT_ASSERT(st->created_at > 0 && st->ready_at > 0);
    KT_ASSERT_EQ(st->n_containers, 2);
    KT_ASSERT_STREQ(st->containers[0].id, "app");
    KT_ASSERT(st->containers[0].pid > 0);
    KT_ASSERT_STREQ(st->containers[0].containerd_id, "default_default_web_app");
    KT_ASSERT_STREQ(st->containers[0].image, "docker.io/library/busybox:latest");
    KT_ASSERT(root && side && root < side);
    KT_ASSERT(ports);
    KT_ASSERT(net);
    KT_ASSERT_EQ(after, before);
    KT_ASSERT(st2 && st2->updated_at == st->updated_at);
}

KT_CASE(container_change_recreates_only_it)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_(kk_status_freep) struct kk_status *st1 = load_status(&w, CELL_KEY);
    kk_buf_reset(&w.ctd.log);
    _cleanup_free_ char *cell2 = web_cell("200");
    drop(&w, "web.yaml", cell2);
    _cleanup_(kk_status_freep) struct kk_status *st2 = load_status(&w, CELL_KEY);
    _cleanup_free_ char *log = kk_xstrdup(kk_buf_str(&w.ctd.log));
    world_free(&w);
    KT_ASSERT(st1 && st2);
    KT_ASSERT_EQ(st2->state, KK_STATE_READY);
    KT_ASSERT_EQ(st2->containers[0].pid, st1->containers[0].pid);
    KT_ASSERT(st2->containers[1].pid != st1->containers[1].pid);
    KT_ASSERT(strstr(log, "remove default_default_web_side") != NULL);
    KT_ASSERT(strstr(log, "create default_default_web_side") != NULL);
    KT_ASSERT(strstr(log, "web_app") == NULL);
}

KT_CASE(waiting_for_parent_then_converge)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "cell.yaml",
         "apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: c1\nspec:\n  spaceId: s1\n"
         "  containers:\n    - id: a\n      image: busybox\n      command: sh\n");
    _cleanup_(kk_status_freep) struct kk_status *st1 = load_status(&w, "default/s1/default/c1");
    size_t created_before = w.ctd.n;
    drop(&w, "space.yaml",
         "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: s1\n---\n"
         "apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: default\nspec:\n"
         "  spaceId: s1\n");
    _cleanup_(kk_status_freep) struct kk_status *st2 = load_status(&w, "default/s1/default/c1");
    world_free(&w);
    KT_ASSERT(st1 != NULL);
    KT_ASSERT_EQ(st1->state, KK_STATE_PENDING);
    KT_ASSERT_STREQ(st1->reason, "WaitingForParent");
    KT_ASSERT_EQ(created_before, 0);
    KT_ASSERT(st2 != NULL);
    KT_ASSERT_EQ(st2->state, KK_STATE_READY);
}

KT_CASE(delete_in_reverse_order_leaves_nothing)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    kk_buf_reset(&w.ctd.log);
    _cleanup_free_ char *path = kk_xasprintf("%s/web.yaml", w.inbox);
    unlink(path);
    kk_agent_notify_inbox(w.agent, "web.yaml");
    settle(&w);
    _cleanup_free_ char *log = kk_xstrdup(kk_buf_str(&w.ctd.log));
    size_t left = w.ctd.n;
    bool net = kk_net_fake_cell_up(w.be.net, CELL_KEY);
    size_t ports = kk_fw_fake_cell_ports(w.be.fw, CELL_KEY);
    bool dir = exists(&w, CELL_KEY);
    bool report = exists(&w, "_inbox/web.yaml.status.yaml");
    world_free(&w);
    const char *side = strstr(log, "remove default_default_web_side");
    const char *app = strstr(log, "remove default_default_web_app");
    KT_ASSERT(side && app && side < app);
    KT_ASSERT_EQ(left, 0);
    KT_ASSERT(!net);
    KT_ASSERT_EQ(ports, 0);
    KT_ASSERT(!dir);
    KT_ASSERT(!report);
}

KT_CASE(invalid_inbox_file_changes_nothing)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    unsigned before = w.ctd.mutations;
    drop(&w, "web.yaml",
         "apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: web\nspec:\n"
         "  containers:\n    - id: app\n      image: \"\"\n      bogus: 1\n");
    unsigned after = w.ctd.mutations;
    _cleanup_free_ char *rpath = kk_xasprintf("%s/_inbox/web.yaml.status.yaml", w.state);
    _cleanup_buf_ struct kk_buf report = KK_BUF_INIT;
    _cleanup_close_ int fd = open(rpath, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        kk_buf_read_fd(&report, fd, 1 << 20);
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, CELL_KEY);
    world_free(&w);
    KT_ASSERT_EQ(after, before);
    KT_ASSERT(strstr(kk_buf_str(&report), "valid: false") != NULL);
    KT_ASSERT(strstr(kk_buf_str(&report), "web.yaml:9:7") != NULL);
    KT_ASSERT(st && st->state == KK_STATE_READY);
}

KT_CASE(image_missing_is_pending_image_not_found)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    w.ctd.no_images = true;
    web_up(&w);
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, CELL_KEY);
    bool retry =
            kk_agent_is_pending(w.agent, CELL_KEY) || kk_agent_run_pending(w.agent, 1, true) == 1;
    world_free(&w);
    KT_ASSERT(st != NULL);
    KT_ASSERT_EQ(st->state, KK_STATE_PENDING);
    KT_ASSERT_STREQ(st->reason, "ImageNotFound");
    KT_ASSERT(strstr(st->message, "busybox") != NULL);
    KT_ASSERT(retry);
}

KT_CASE(ctl_stop_is_sticky_across_restart_then_start)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *celldir = kk_xasprintf("%s/" CELL_KEY, w.state);
    write_file(celldir, "ctl", "stop\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    /* The fake kills at once; the exit event would enqueue the cell. */
    kk_agent_notify_state(w.agent, CELL_KEY "/cell.yaml");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st1 = load_status(&w, CELL_KEY);
    bool ctl_gone = !exists(&w, CELL_KEY "/ctl");
    /* A new agent over the same tree and containerd. */
    kk_buf_reset(&w.ctd.log);
    int r = world_agent(&w, &err);
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st2 = load_status(&w, CELL_KEY);
    bool started = strstr(kk_buf_str(&w.ctd.log), "start ") != NULL;
    write_file(celldir, "ctl", "start\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st3 = load_status(&w, CELL_KEY);
    world_free(&w);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT(st1 && st2 && st3);
    KT_ASSERT(ctl_gone);
    KT_ASSERT_EQ(st1->state, KK_STATE_STOPPED);
    KT_ASSERT_STREQ(st1->last_control.verb, "stop");
    KT_ASSERT_STREQ(st1->last_control.result, "ok");
    KT_ASSERT_EQ(st2->state, KK_STATE_STOPPED);
    KT_ASSERT(!started);
    KT_ASSERT_EQ(st3->state, KK_STATE_READY);
}

KT_CASE(root_exit_stops_the_others_under_policy_no)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    /* The root exits 0 under restartPolicy "" (no). */
    for (size_t i = 0; i < w.ctd.n; i++)
        if (strcmp(w.ctd.v[i].id, "default_default_web_app") == 0) {
            w.ctd.v[i].status = KK_CTD_TASK_STOPPED;
            w.ctd.v[i].exit_status = 0;
        }
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    bool killed = strstr(kk_buf_str(&w.ctd.log), "kill default_default_web_side 9") != NULL;
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, CELL_KEY);
    world_free(&w);
    KT_ASSERT(killed);
    KT_ASSERT(st != NULL);
    KT_ASSERT_EQ(st->state, KK_STATE_STOPPED);
    KT_ASSERT_STREQ(st->containers[0].reason, "Completed");
    KT_ASSERT_EQ(st->containers[0].exit_code, 0);
    KT_ASSERT_EQ(st->containers[1].state, KK_STATE_STOPPED);
}

KT_CASE(inbox_owned_spec_edit_is_put_back)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    kk_buf_reset(&w.ctd.log);
    _cleanup_free_ char *celldir = kk_xasprintf("%s/" CELL_KEY, w.state);
    /* Edit the materialised spec in place (its annotation stays). */
    _cleanup_free_ char *path = kk_xasprintf("%s/cell.yaml", celldir);
    _cleanup_buf_ struct kk_buf orig = KK_BUF_INIT;
    _cleanup_close_ int ofd = open(path, O_RDONLY | O_CLOEXEC);
    if (ofd >= 0)
        kk_buf_read_fd(&orig, ofd, 1 << 20);
    char *hit = strstr(orig.data ? orig.data : "", "100");
    KT_ASSERT(hit != NULL);
    memcpy(hit, "999", 3);
    write_file(celldir, "cell.yaml", orig.data);
    kk_agent_notify_state(w.agent, CELL_KEY "/cell.yaml");
    settle(&w);
    _cleanup_buf_ struct kk_buf spec = KK_BUF_INIT;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        kk_buf_read_fd(&spec, fd, 1 << 20);
    bool recreated = strstr(kk_buf_str(&w.ctd.log), "create ") != NULL;
    world_free(&w);
    KT_ASSERT_MSG(strstr(kk_buf_str(&spec), "100") != NULL, "spec: %s", kk_buf_str(&spec));
    KT_ASSERT(strstr(kk_buf_str(&spec), "999") == NULL);
    KT_ASSERT(strstr(kk_buf_str(&spec), "kukeon.io/source") != NULL);
    /* The edit may have run once before being put back; what counts is
     * that the spec ends as the inbox says. */
    (void)recreated;
}

KT_CASE(log_over_cap_is_rotated)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *dir = kk_xasprintf("%s/" CELL_KEY "/containers", w.state);
    mkdir(dir, 0755);
    _cleanup_free_ char *log = kk_xasprintf("%s/app.log", dir);
    FILE *f = fopen(log, "w");
    KT_ASSERT(f != NULL);
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 11 * 16; i++)
        fwrite(chunk, 1, sizeof(chunk), f);
    fclose(f);
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    struct stat cur, old;
    _cleanup_free_ char *log1 = kk_xasprintf("%s.1", log);
    int r1 = stat(log, &cur), r2 = stat(log1, &old);
    world_free(&w);
    KT_ASSERT(r1 == 0 && r2 == 0);
    KT_ASSERT_EQ(cur.st_size, 0);
    KT_ASSERT_EQ(old.st_size, 11 * (1 << 20));
}

/* Writes `size` bytes of 'x' to path (sparse beyond the first block would
 * also do, but real bytes prove the copy). */
static bool write_log(const char *path, off_t size)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof(chunk));
    for (off_t done = 0; done < size; done += (off_t)sizeof(chunk))
        fwrite(chunk, 1, sizeof(chunk), f);
    return fclose(f) == 0;
}

/* A log past twice the cap was never rotated again (it was read whole
 * into a buffer of that size). */
KT_CASE(log_far_over_cap_is_rotated)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *dir = kk_xasprintf("%s/" CELL_KEY "/containers", w.state);
    mkdir(dir, 0755);
    _cleanup_free_ char *log = kk_xasprintf("%s/app.log", dir);
    KT_ASSERT(write_log(log, 25 << 20));
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    struct stat cur, old;
    _cleanup_free_ char *log1 = kk_xasprintf("%s.1", log);
    int r1 = stat(log, &cur), r2 = stat(log1, &old);
    world_free(&w);
    KT_ASSERT(r1 == 0 && r2 == 0);
    KT_ASSERT_EQ(cur.st_size, 0);
    KT_ASSERT_EQ(old.st_size, 25 << 20);
}

/* A log hard-linked to a file outside the tree: rotation must not truncate
 * the outside file nor copy it into the tree. */
KT_CASE(hard_linked_log_is_not_rotated)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *dir = kk_xasprintf("%s/" CELL_KEY "/containers", w.state);
    mkdir(dir, 0755);
    _cleanup_free_ char *outside = kk_xasprintf("%s/outside.log", kt_tmpdir());
    _cleanup_free_ char *log = kk_xasprintf("%s/app.log", dir);
    KT_ASSERT(write_log(outside, 11 << 20));
    unlink(log);
    KT_ASSERT(link(outside, log) == 0);
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    struct stat out, old;
    _cleanup_free_ char *log1 = kk_xasprintf("%s.1", log);
    int r1 = stat(outside, &out), r2 = stat(log1, &old);
    world_free(&w);
    KT_ASSERT_EQ(r1, 0);
    KT_ASSERT_EQ(out.st_size, 11 << 20);
    KT_ASSERT(r2 < 0);
}

/* containers/ swapped for a symlink out of the tree, then a restart: the
 * log must not be created at the link's target (the shim opens it by its
 * absolute path); the agent puts a real directory and file back. */
KT_CASE(log_paths_never_lead_out_of_the_tree)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *celldir = kk_xasprintf("%s/" CELL_KEY, w.state);
    _cleanup_free_ char *dir = kk_xasprintf("%s/containers", celldir);
    _cleanup_free_ char *outside = kk_xasprintf("%s/outside", kt_tmpdir());
    mkdir(outside, 0755);
    _cleanup_free_ char *cmd = kk_xasprintf("rm -rf '%s'", dir);
    KT_ASSERT(system(cmd) == 0);
    KT_ASSERT(symlink(outside, dir) == 0);
    write_file(celldir, "ctl", "restart\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    /* Now the log itself: a symlink to a file outside. */
    _cleanup_free_ char *target = kk_xasprintf("%s/passwd", outside);
    write_file(outside, "passwd", "root:x:0:0\n");
    _cleanup_free_ char *log = kk_xasprintf("%s/app.log", dir);
    unlink(log);
    int linked = symlink(target, log);
    write_file(celldir, "ctl", "restart\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    struct stat sd, sl, so;
    _cleanup_free_ char *outside_log = kk_xasprintf("%s/app.log", outside);
    int rd = lstat(dir, &sd), rl = lstat(log, &sl), ro = stat(target, &so);
    bool leaked = access(outside_log, F_OK) == 0;
    world_free(&w);
    KT_ASSERT(!leaked);
    KT_ASSERT(rd == 0 && S_ISDIR(sd.st_mode));
    KT_ASSERT_EQ(linked, 0);
    KT_ASSERT(rl == 0 && S_ISREG(sl.st_mode));
    KT_ASSERT(ro == 0 && so.st_size == 11); /* untouched */
}

/* A realm's registry password must not become world-readable in the
 * tree: its spec is written 0600 (also when an older agent left it 0644). */
KT_CASE(realm_with_password_is_root_only)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "realm.yaml",
         "apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: priv\nspec:\n"
         "  registryCredentials:\n    - serverAddress: reg.example:5000\n"
         "      username: u\n      password: s3cr3t-pw\n");
    _cleanup_free_ char *spec = kk_xasprintf("%s/priv/realm.yaml", w.state);
    struct stat first, again;
    int r1 = stat(spec, &first);
    chmod(spec, 0644); /* as an older agent wrote it */
    kk_agent_notify_inbox(w.agent, "realm.yaml");
    settle(&w);
    int r2 = stat(spec, &again);
    _cleanup_free_ char *cmd = kk_xasprintf(
            "grep -rl s3cr3t-pw '%s' | grep -v '^%s/priv/realm.yaml$'", w.state, w.state);
    int leaked = system(cmd); /* 0: grep found it elsewhere */
    world_free(&w);
    KT_ASSERT(r1 == 0 && r2 == 0);
    KT_ASSERT_EQ(first.st_mode & 07777, 0600);
    KT_ASSERT_EQ(again.st_mode & 07777, 0600);
    KT_ASSERT(leaked != 0);
}

/* status.yaml replaced by a symlink (or a directory) was never updated
 * again: the agent puts its own file back, never writing through it. */
KT_CASE(status_replaced_by_a_link_or_dir_is_written_again)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *celldir = kk_xasprintf("%s/" CELL_KEY, w.state);
    _cleanup_free_ char *status = kk_xasprintf("%s/status.yaml", celldir);
    write_file(kt_tmpdir(), "victim", "untouched\n");
    _cleanup_free_ char *victim = kk_xasprintf("%s/victim", kt_tmpdir());
    unlink(status);
    int linked = symlink(victim, status);
    write_file(celldir, "ctl", "stop\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st1 = load_status(&w, CELL_KEY);
    struct stat s1;
    int r1 = lstat(status, &s1);
    /* Now a directory in its place. */
    unlink(status);
    int made = mkdir(status, 0755);
    write_file(celldir, "ctl", "start\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st2 = load_status(&w, CELL_KEY);
    struct stat s2, sv;
    int r2 = lstat(status, &s2), rv = stat(victim, &sv);
    world_free(&w);
    KT_ASSERT(linked == 0 && made == 0);
    KT_ASSERT(r1 == 0 && S_ISREG(s1.st_mode));
    KT_ASSERT(st1 && st1->last_control.verb && strcmp(st1->last_control.verb, "stop") == 0);
    KT_ASSERT(r2 == 0 && S_ISREG(s2.st_mode));
    KT_ASSERT(st2 && st2->last_control.verb && strcmp(st2->last_control.verb, "start") == 0);
    KT_ASSERT(rv == 0 && sv.st_size == 10);
}

/* A spec that could not be written (a full or read-only disk; here a file
 * where the cell's directory goes) is retried with the queue's backoff and
 * applied once the obstacle is gone; it was never retried. */
KT_CASE(failed_apply_is_retried)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    _cleanup_free_ char *blocker = kk_xasprintf("%s/" CELL_KEY, w.state);
    write_file(w.state, CELL_KEY, "not a directory\n");
    _cleanup_free_ char *cell = web_cell("100");
    drop(&w, "web.yaml", cell);
    bool retrying = kk_agent_is_pending(w.agent, "_inbox/web.yaml");
    bool absent = !exists(&w, CELL_KEY "/cell.yaml");
    unlink(blocker); /* space is back */
    kk_agent_run_pending(w.agent, 200, true);
    settle(&w);
    bool applied = exists(&w, CELL_KEY "/cell.yaml");
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, CELL_KEY);
    world_free(&w);
    KT_ASSERT(absent);
    KT_ASSERT(retrying);
    KT_ASSERT(applied);
    KT_ASSERT(st && st->state == KK_STATE_READY);
}

KT_CASE(on_failure_backoff_then_limit)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "job.yaml",
         "apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: job\nspec:\n  containers:\n"
         "    - id: j\n      image: busybox\n      command: \"false\"\n"
         "      restartPolicy: on-failure\n      restartMaxRetries: 1\n");
    struct fake_ctr *c = fake_find(&w.ctd, "kukeon-default", "default_default_job_j");
    KT_ASSERT(c != NULL);
    uint32_t pid1 = c->pid;
    /* It exits 1: CrashLoopBackOff, a delayed retry, no restart yet. */
    c->status = KK_CTD_TASK_STOPPED;
    c->exit_status = 1;
    kk_agent_notify_state(w.agent, "default/default/default/job");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st1 =
            load_status(&w, "default/default/default/job");
    bool delayed = kk_agent_is_pending(w.agent, "default/default/default/job") &&
                   kk_agent_run_pending(w.agent, 10, false) == 0;
    /* After the backoff (1 s) the delayed run restarts it. */
    kk_fake_clock_advance(&w.clock, 1100);
    kk_agent_run_pending(w.agent, 10, true);
    c = fake_find(&w.ctd, "kukeon-default", "default_default_job_j");
    uint32_t pid2 = c ? c->pid : 0;
    _cleanup_(kk_status_freep) struct kk_status *st2 =
            load_status(&w, "default/default/default/job");
    /* It exits 1 again: the limit (1 restart) is reached. */
    if (c) {
        c->status = KK_CTD_TASK_STOPPED;
        c->exit_status = 1;
    }
    kk_agent_notify_state(w.agent, "default/default/default/job");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st3 =
            load_status(&w, "default/default/default/job");
    world_free(&w);
    KT_ASSERT(st1 && st2 && st3);
    KT_ASSERT_STREQ(st1->containers[0].reason, "CrashLoopBackOff");
    KT_ASSERT_EQ(st1->containers[0].exit_code, 1);
    KT_ASSERT(delayed);
    KT_ASSERT(pid2 != pid1);
    KT_ASSERT_EQ(st2->containers[0].state, KK_STATE_READY);
    KT_ASSERT_EQ(st2->containers[0].restart_count, 1);
    KT_ASSERT_EQ(st3->containers[0].state, KK_STATE_FAILED);
    KT_ASSERT_STREQ(st3->containers[0].reason, "RestartLimitReached");
    KT_ASSERT_EQ(st3->containers[0].restart_count, 1);
    KT_ASSERT_EQ(st3->state, KK_STATE_FAILED);
}

KT_CASE(ctl_pause_resume_kill)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *celldir = kk_xasprintf("%s/" CELL_KEY, w.state);
    write_file(celldir, "ctl", "pause\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *paused = load_status(&w, CELL_KEY);
    bool pause_calls = strstr(kk_buf_str(&w.ctd.log), "pause default_default_web_app") &&
                       strstr(kk_buf_str(&w.ctd.log), "pause default_default_web_side");
    write_file(celldir, "ctl", "resume\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *resumed = load_status(&w, CELL_KEY);
    kk_buf_reset(&w.ctd.log);
    write_file(celldir, "ctl", "kill TERM\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    bool term = strstr(kk_buf_str(&w.ctd.log), "kill default_default_web_app 15") != NULL;
    _cleanup_(kk_status_freep) struct kk_status *killed = load_status(&w, CELL_KEY);
    write_file(celldir, "ctl", "dance\n");
    kk_agent_notify_state(w.agent, CELL_KEY "/ctl");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *bad = load_status(&w, CELL_KEY);
    world_free(&w);
    KT_ASSERT(paused && resumed && killed && bad);
    KT_ASSERT_EQ(paused->state, KK_STATE_PAUSED);
    KT_ASSERT_EQ(paused->containers[0].state, KK_STATE_PAUSED);
    KT_ASSERT(pause_calls);
    KT_ASSERT_EQ(resumed->state, KK_STATE_READY);
    KT_ASSERT(term);
    KT_ASSERT_STREQ(killed->last_control.verb, "kill TERM");
    /* Under restartPolicy "" the killed root stays down: Failed. */
    KT_ASSERT_EQ(killed->containers[0].exit_code, 128 + 15);
    KT_ASSERT_STREQ(bad->last_control.verb, "dance");
    KT_ASSERT(strstr(bad->last_control.result, "unknown verb") != NULL);
}

KT_CASE(inbox_follows_symlinks_and_reports_non_files)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    _cleanup_free_ char *cell = web_cell("100");
    write_file(kt_tmpdir(), "elsewhere.yaml", cell);
    _cleanup_free_ char *target = kk_xasprintf("%s/elsewhere.yaml", kt_tmpdir());
    _cleanup_free_ char *link = kk_xasprintf("%s/web.yaml", w.inbox);
    _cleanup_free_ char *dir = kk_xasprintf("%s/dir.yaml", w.inbox);
    int r1 = symlink(target, link), r2 = mkdir(dir, 0755);
    kk_agent_notify_inbox(w.agent, "web.yaml");
    kk_agent_notify_inbox(w.agent, "dir.yaml");
    settle(&w);
    _cleanup_(kk_status_freep) struct kk_status *st = load_status(&w, CELL_KEY);
    _cleanup_free_ char *rpath = kk_xasprintf("%s/_inbox/dir.yaml.status.yaml", w.state);
    _cleanup_buf_ struct kk_buf report = KK_BUF_INIT;
    _cleanup_close_ int fd = open(rpath, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        kk_buf_read_fd(&report, fd, 1 << 20);
    bool pending = kk_agent_is_pending(w.agent, "_inbox/dir.yaml");
    world_free(&w);
    KT_ASSERT(r1 == 0 && r2 == 0);
    KT_ASSERT(st && st->state == KK_STATE_READY);
    KT_ASSERT(strstr(kk_buf_str(&report), "not a regular file") != NULL);
    KT_ASSERT(!pending);
}

/* An inbox symlink to a root-only file must not leak a line of it into the
 * world-readable report (the parse error quoted it). */
KT_CASE(inbox_symlink_to_root_only_file_leaks_nothing)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    write_file(kt_tmpdir(), "shadow", "root:$6$top-secret-hash:19000:0:99999:7:::\n");
    _cleanup_free_ char *target = kk_xasprintf("%s/shadow", kt_tmpdir());
    chmod(target, 0600);
    _cleanup_free_ char *link = kk_xasprintf("%s/leak.yaml", w.inbox);
    int r1 = symlink(target, link);
    kk_agent_notify_inbox(w.agent, "leak.yaml");
    settle(&w);
    _cleanup_free_ char *rpath = kk_xasprintf("%s/_inbox/leak.yaml.status.yaml", w.state);
    _cleanup_buf_ struct kk_buf report = KK_BUF_INIT;
    _cleanup_close_ int fd = open(rpath, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        kk_buf_read_fd(&report, fd, 1 << 20);
    world_free(&w);
    KT_ASSERT_EQ(r1, 0);
    KT_ASSERT(fd >= 0);
    KT_ASSERT_MSG(!strstr(kk_buf_str(&report), "top-secret"), "%s", kk_buf_str(&report));
    KT_ASSERT(strstr(kk_buf_str(&report), "not world-readable") != NULL);
}

KT_CASE(missing_image_is_pulled_then_runs)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    w.ctd.no_images = true;
    w.be.registry = &fake_registry_ops;
    w.be.registry_self = &w.ctd;
    int r = world_agent(&w, &err); /* again, now with a puller */
    web_up(&w);
    _cleanup_(kk_status_freep) struct kk_status *st1 = load_status(&w, CELL_KEY);
    /* The pull ends on the puller's thread, which wakes the cell: its
     * delayed retry (the 5 s safety poll) becomes due at once, so a run of
     * the due keys reconciles it. */
    pull_release(&w.ctd);
    bool woken = kk_agent_wait_pending(w.agent, CELL_KEY, 10000) &&
                 kk_agent_run_pending(w.agent, 100, false) > 0;
    _cleanup_(kk_status_freep) struct kk_status *st2 = load_status(&w, CELL_KEY);
    unsigned pulls = __atomic_load_n(&w.ctd.pulls, __ATOMIC_SEQ_CST);
    world_free(&w);
    KT_ASSERT_OK(r, &err);
    KT_ASSERT(st1 && st2);
    KT_ASSERT_EQ(st1->state, KK_STATE_PENDING);
    KT_ASSERT_STREQ(st1->reason, "PullingImage");
    KT_ASSERT(woken);
    KT_ASSERT_EQ(st2->state, KK_STATE_READY);
    KT_ASSERT_EQ(pulls, 1);
}

static char *read_file_text(struct world *w, const char *rel)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", w->state, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct kk_buf b = KK_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        kk_buf_add(&b, chunk, n);
    fclose(f);
    return kk_buf_detach(&b, NULL);
}

static char *read_status_text(struct world *w, const char *key)
{
    _cleanup_free_ char *rel = kk_xasprintf("%s/status.yaml", key);
    return read_file_text(w, rel);
}

/* kukeon issue 11: a Ready cell whose containerd call fails transiently
 * (containerd restarting) keeps its status file as it was -- never written
 * Pending ContainerdError for a failure the next try does not see -- and is
 * looked at again soon; a failure that lasts is reported at the third try. */
KT_CASE(transient_containerd_error_keeps_ready)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    web_up(&w);
    _cleanup_free_ char *ready = read_status_text(&w, CELL_KEY);
    /* Once: held, retried, Ready again; the file never changed. */
    w.ctd.list_failures = 1;
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    _cleanup_free_ char *held = read_status_text(&w, CELL_KEY);
    bool retry_pending = kk_agent_is_pending(w.agent, CELL_KEY);
    kk_fake_clock_advance(&w.clock, 200);
    kk_agent_run_pending(w.agent, 10, true);
    _cleanup_free_ char *after = read_status_text(&w, CELL_KEY);
    bool list_ok = w.ctd.list_failures == 0;
    /* Three times in a row: reported at the third. */
    w.ctd.list_failures = 3;
    kk_agent_notify_state(w.agent, CELL_KEY);
    settle(&w);
    _cleanup_free_ char *try1 = read_status_text(&w, CELL_KEY);
    kk_fake_clock_advance(&w.clock, 200);
    kk_agent_run_pending(w.agent, 1, true);
    _cleanup_free_ char *try2 = read_status_text(&w, CELL_KEY);
    kk_fake_clock_advance(&w.clock, 200);
    kk_agent_run_pending(w.agent, 1, true);
    _cleanup_(kk_status_freep) struct kk_status *reported = load_status(&w, CELL_KEY);
    /* containerd is back: Ready again. */
    kk_fake_clock_advance(&w.clock, 1000);
    kk_agent_run_pending(w.agent, 10, true);
    _cleanup_(kk_status_freep) struct kk_status *back = load_status(&w, CELL_KEY);
    /* and the agent says containerd is connected again: the failed calls
     * did not mark it down for good while its event stream stayed up */
    _cleanup_error_ kk_error *aerr = NULL;
    int aw = kk_agent_write_agent_status(w.agent, &aerr);
    _cleanup_free_ char *agent_st = read_file_text(&w, "_agent/status.yaml");
    world_free(&w);
    KT_ASSERT_EQ(aw, 0);
    KT_ASSERT(agent_st && strstr(agent_st, "connected: true"));
    KT_ASSERT(ready && strstr(ready, "state: Ready"));
    KT_ASSERT(held && strcmp(held, ready) == 0);
    KT_ASSERT(retry_pending);
    KT_ASSERT(list_ok);
    KT_ASSERT(after && strcmp(after, ready) == 0);
    KT_ASSERT(try1 && strcmp(try1, ready) == 0);
    KT_ASSERT(try2 && strcmp(try2, ready) == 0);
    KT_ASSERT(reported);
    KT_ASSERT_EQ(reported->state, KK_STATE_PENDING);
    KT_ASSERT_STREQ(reported->reason, "ContainerdError");
    KT_ASSERT(back);
    KT_ASSERT_EQ(back->state, KK_STATE_READY);
}
