/* The agent object: keys, the work queue, containerd events, scans. */
#include "agent/internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "agent/watch.h"
#include "fsapi/fsutil.h"
#include "fsapi/inbox.h"
#include "fsapi/log.h"

#define SCAN_DIR_MAX 10000

int64_t agent_now_ns(const struct kk_agent *a)
{
    return kk_clock_real_ns(a->be.clock);
}

int64_t agent_mono_ms(const struct kk_agent *a)
{
    return kk_clock_mono_ms(a->be.clock);
}

/* ---- test-mode pending list (workers == 0) ----------------------------- */

static struct pending_key *pending_find(struct kk_agent *a, const char *key)
{
    for (size_t i = 0; i < a->n_pending; i++)
        if (strcmp(a->pending[i].key, key) == 0)
            return &a->pending[i];
    return NULL;
}

static void pending_add(struct kk_agent *a, const char *key, bool delayed, bool parked)
{
    pthread_mutex_lock(&a->lock);
    struct pending_key *p = pending_find(a, key);
    if (p) {
        if (!delayed && !parked)
            p->delayed = p->parked = false;
    } else {
        kk_xgrow((void **)&a->pending, &a->cap_pending, a->n_pending + 1, sizeof(*a->pending));
        a->pending[a->n_pending++] =
                (struct pending_key){.key = kk_xstrdup(key), .delayed = delayed, .parked = parked};
    }
    pthread_mutex_unlock(&a->lock);
}

void agent_enqueue(struct kk_agent *a, const char *key)
{
    if (a->queue)
        kk_queue_enqueue(a->queue, key);
    else
        pending_add(a, key, false, false);
}

void agent_enqueue_after(struct kk_agent *a, const char *key, unsigned ms)
{
    if (a->queue)
        kk_queue_enqueue_after(a->queue, key, ms);
    else
        pending_add(a, key, true, false);
}

bool kk_agent_is_pending(struct kk_agent *a, const char *key)
{
    pthread_mutex_lock(&a->lock);
    struct pending_key *p = pending_find(a, key);
    bool r = p && !p->parked;
    pthread_mutex_unlock(&a->lock);
    return r;
}

/* ---- memory ------------------------------------------------------------ */

struct res_mem *agent_mem(struct kk_agent *a, const char *key)
{
    pthread_mutex_lock(&a->lock);
    struct res_mem *m = a->mems;
    while (m && strcmp(m->key, key) != 0)
        m = m->next;
    if (!m) {
        m = kk_xcalloc(1, sizeof(*m));
        snprintf(m->key, sizeof(m->key), "%s", key);
        m->next = a->mems;
        a->mems = m;
    }
    pthread_mutex_unlock(&a->lock);
    return m;
}

static void mem_free(struct res_mem *m)
{
    free(m->ns);
    free(m->ctrs);
    free(m);
}

void agent_mem_drop(struct kk_agent *a, const char *key)
{
    pthread_mutex_lock(&a->lock);
    for (struct res_mem **p = &a->mems; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            struct res_mem *m = *p;
            *p = m->next;
            mem_free(m);
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
}

void agent_set_ready(struct kk_agent *a, const char *key, bool ready)
{
    struct res_mem *m = agent_mem(a, key);
    pthread_mutex_lock(&a->lock);
    m->ready = ready;
    pthread_mutex_unlock(&a->lock);
}

void agent_set_state(struct kk_agent *a, const char *key, int state)
{
    struct res_mem *m = agent_mem(a, key);
    pthread_mutex_lock(&a->lock);
    m->state = state;
    pthread_mutex_unlock(&a->lock);
}

int agent_get_state(struct kk_agent *a, const char *key)
{
    int state = KK_STATE_NONE;
    pthread_mutex_lock(&a->lock);
    for (struct res_mem *m = a->mems; m; m = m->next)
        if (strcmp(m->key, key) == 0)
            state = m->state;
    pthread_mutex_unlock(&a->lock);
    return state;
}

bool kk_agent_key_ready(struct kk_agent *a, const char *key)
{
    bool r = false;
    pthread_mutex_lock(&a->lock);
    for (struct res_mem *m = a->mems; m; m = m->next)
        if (strcmp(m->key, key) == 0)
            r = m->ready;
    pthread_mutex_unlock(&a->lock);
    return r;
}

char *agent_realm_ns(struct kk_agent *a, const char *realm)
{
    char *ns = NULL;
    pthread_mutex_lock(&a->lock);
    for (struct res_mem *m = a->mems; m; m = m->next)
        if (strcmp(m->key, realm) == 0 && m->ns)
            ns = kk_xstrdup(m->ns);
    pthread_mutex_unlock(&a->lock);
    if (ns)
        return ns;
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_init(&key, KK_LEVEL_REALM, realm, NULL, NULL, NULL, NULL, &err) == 0) {
        _cleanup_(kk_status_freep) struct kk_status *st = status_load(a, &key);
        if (st && st->namespace_)
            return kk_xstrdup(st->namespace_);
    }
    return kk_xasprintf("%s%s", a->cfg.namespace_prefix, realm);
}

void agent_note_ctd_error(struct kk_agent *a, const kk_error *err)
{
    if (kk_error_code(err) != KK_E_UNAVAILABLE)
        return;
    pthread_mutex_lock(&a->lock);
    bool was = a->ctd_connected;
    a->ctd_connected = false;
    pthread_mutex_unlock(&a->lock);
    if (was)
        kk_log_warn("containerd: unreachable (%s)", err->message);
    kk_metrics_set_containerd_up(&a->metrics, false);
}

void agent_note_oom(struct kk_agent *a, const char *ns, const char *ctd_id)
{
    char *entry = kk_xasprintf("%s/%s", ns, ctd_id);
    pthread_mutex_lock(&a->lock);
    if (a->n_ooms < OOM_PENDING_MAX) {
        kk_xgrow((void **)&a->ooms, &a->cap_ooms, a->n_ooms + 1, sizeof(*a->ooms));
        a->ooms[a->n_ooms++] = TAKE_PTR(entry);
    }
    pthread_mutex_unlock(&a->lock);
    free(entry);
}

bool agent_take_oom(struct kk_agent *a, const char *ns, const char *ctd_id)
{
    bool found = false;
    size_t nl = strlen(ns);
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n_ooms; i++) {
        const char *e = a->ooms[i];
        if (strncmp(e, ns, nl) == 0 && e[nl] == '/' && strcmp(e + nl + 1, ctd_id) == 0) {
            free(a->ooms[i]);
            a->ooms[i] = a->ooms[--a->n_ooms];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

bool agent_has_children(struct kk_agent *a, const struct kk_key *key)
{
    _cleanup_free_ char *dir = kk_tree_dir(key);
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (!dir || kk_fs_list_dir(a->rootfd, dir, KK_TREE_DIR_MAX, &list, &err) < 0)
        return false;
    for (size_t i = 0; i < list.n; i++)
        if (list.entries[i].type == DT_DIR &&
            kk_name_valid_n(list.entries[i].name, strlen(list.entries[i].name)))
            return true;
    return false;
}

/* ---- dispatch ---------------------------------------------------------- */

int kk_agent_reconcile(struct kk_agent *a, const char *keystr)
{
    if (strcmp(keystr, RESCAN_KEY) == 0) {
        kk_agent_rescan(a);
        return KK_QUEUE_DONE;
    }
    if (strncmp(keystr, INBOX_KEY_PREFIX, strlen(INBOX_KEY_PREFIX)) == 0)
        return reconcile_inbox(a, keystr + strlen(INBOX_KEY_PREFIX));
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_parse(&key, keystr, &err) < 0) {
        kk_log_warn("%s: %s", keystr, err->message);
        return KK_QUEUE_DONE;
    }
    switch (key.level) {
    case KK_LEVEL_REALM:
        return reconcile_realm(a, &key);
    case KK_LEVEL_SPACE:
        return reconcile_space(a, &key);
    case KK_LEVEL_STACK:
        return reconcile_stack(a, &key);
    case KK_LEVEL_CELL:
        return reconcile_cell(a, &key);
    case KK_LEVEL_CONTAINER: {
        struct kk_key cell;
        kk_key_parent(&key, &cell);
        return reconcile_cell(a, &cell);
    }
    default:
        return KK_QUEUE_DONE;
    }
}

static int queue_fn(void *userdata, const char *key, unsigned attempt)
{
    struct kk_agent *a = userdata;
    (void)attempt;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = kk_agent_reconcile(a, key);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    kk_metrics_observe_reconcile(&a->metrics, s, r != KK_QUEUE_RETRY);
    return r;
}

bool kk_agent_converged(struct kk_agent *a)
{
    pthread_mutex_lock(&a->lock);
    bool scanned = a->scanned;
    pthread_mutex_unlock(&a->lock);
    if (!scanned)
        return false;
    if (!a->queue)
        return true;
    struct kk_queue_stats qs;
    kk_queue_get_stats(a->queue, &qs);
    return qs.queued == 0 && qs.running == 0;
}

void kk_agent_summary(struct kk_agent *a, char *buf, size_t size)
{
    unsigned ready = 0, pending = 0, other = 0;
    pthread_mutex_lock(&a->lock);
    for (struct res_mem *m = a->mems; m; m = m->next) {
        size_t slashes = 0;
        for (const char *p = m->key; *p; p++)
            slashes += *p == '/';
        if (slashes != 3)
            continue;
        if (m->state == KK_STATE_READY)
            ready++;
        else if (m->state == KK_STATE_PENDING || m->state == KK_STATE_NONE)
            pending++;
        else
            other++;
    }
    bool up = a->ctd_connected;
    pthread_mutex_unlock(&a->lock);
    snprintf(buf, size, "%u cells ready, %u pending, %u other, containerd %s", ready, pending,
             other, up ? "up" : "down");
}

static bool is_ancestor_key(const char *parent, const char *key)
{
    size_t n = strlen(parent);
    return strncmp(parent, key, n) == 0 && key[n] == '/';
}

unsigned kk_agent_run_pending(struct kk_agent *a, unsigned max_runs, bool include_delayed)
{
    unsigned runs = 0;
    while (runs < max_runs) {
        pthread_mutex_lock(&a->lock);
        char *key = NULL;
        for (size_t i = 0; i < a->n_pending; i++) {
            struct pending_key *p = &a->pending[i];
            if (p->parked || (p->delayed && !include_delayed))
                continue;
            key = p->key;
            memmove(p, p + 1, (a->n_pending - i - 1) * sizeof(*p));
            a->n_pending--;
            break;
        }
        pthread_mutex_unlock(&a->lock);
        if (!key)
            break;
        int r = kk_agent_reconcile(a, key);
        runs++;
        if (r == KK_QUEUE_PARK) {
            pending_add(a, key, false, true);
        } else if (r == KK_QUEUE_DONE) {
            pthread_mutex_lock(&a->lock);
            for (size_t i = 0; i < a->n_pending; i++)
                if (a->pending[i].parked && is_ancestor_key(key, a->pending[i].key))
                    a->pending[i].parked = false;
            pthread_mutex_unlock(&a->lock);
        } else {
            pending_add(a, key, true, false);
        }
        free(key);
    }
    return runs;
}

/* ---- notifications ------------------------------------------------------ */

void kk_agent_set_watch(struct kk_agent *a, struct kk_watch *w)
{
    if (a)
        a->watch = w;
}

/* The inbox wins: a spec the inbox owns that someone edited in the tree is
 * put back by applying its inbox file again (which writes only if the
 * content differs, so the agent's own writes end here). */
static void put_back_inbox_owned(struct kk_agent *a, const struct kk_key *key)
{
    _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (spec_load(a, key, &r, &err) <= 0)
        return;
    const char *src = kk_kvs_get(&r->meta.annotations, KK_ANNOTATION_SOURCE);
    if (src)
        kk_agent_notify_inbox(a, src);
}

void kk_agent_notify_state(struct kk_agent *a, const char *relpath)
{
    struct kk_tree_class c;
    kk_tree_classify(relpath, &c);
    char buf[KK_KEY_STRLEN];
    switch (c.file) {
    case KK_TREE_DIR:
    case KK_TREE_SPEC:
    case KK_TREE_CTL:
    case KK_TREE_CONTAINERS_DIR:
        kk_key_format(&c.key, buf);
        break;
    case KK_TREE_CONTAINER_SPEC: {
        struct kk_key cell;
        kk_key_parent(&c.key, &cell);
        kk_key_format(&cell, buf);
        break;
    }
    default:
        return; /* status, logs, reports: the agent's own writes */
    }
    kk_log_debug("%s: %s changed", buf, kk_tree_file_name(c.file));
    kk_metrics_event(&a->metrics, time(NULL));
    agent_enqueue(a, buf);
    if (c.file == KK_TREE_SPEC || c.file == KK_TREE_CONTAINER_SPEC)
        put_back_inbox_owned(a, &c.key);
}

void kk_agent_notify_inbox(struct kk_agent *a, const char *name)
{
    if (!kk_inbox_name_counts(name)) {
        kk_log_debug("inbox: %s ignored (%s)", name,
                     kk_inbox_verdict_name(kk_inbox_classify(name)));
        return;
    }
    _cleanup_free_ char *key = kk_xasprintf(INBOX_KEY_PREFIX "%s", name);
    kk_metrics_event(&a->metrics, time(NULL));
    agent_enqueue(a, key);
}

/* ---- containerd events -------------------------------------------------- */

/* "space_stack_cell_container" in a realm's namespace -> the cell key. */
static bool cell_key_of(struct kk_agent *a, const char *ns, const char *id, char out[KK_KEY_STRLEN])
{
    char realm[KK_NAME_MAX + 1] = "";
    pthread_mutex_lock(&a->lock);
    for (struct res_mem *m = a->mems; m; m = m->next)
        if (m->ns && strcmp(m->ns, ns) == 0 && !strchr(m->key, '/') &&
            strlen(m->key) <= KK_NAME_MAX)
            memcpy(realm, m->key, strlen(m->key) + 1);
    pthread_mutex_unlock(&a->lock);
    size_t pl = strlen(a->cfg.namespace_prefix);
    if (!realm[0] && strncmp(ns, a->cfg.namespace_prefix, pl) == 0 &&
        strlen(ns + pl) <= KK_NAME_MAX)
        snprintf(realm, sizeof(realm), "%s", ns + pl);
    if (!realm[0])
        return false;
    char parts[4][KK_NAME_MAX + 1];
    const char *p = id;
    for (int i = 0; i < 4; i++) {
        const char *end = i < 3 ? strchr(p, '_') : p + strlen(p);
        if (!end || end == p || end - p > KK_NAME_MAX)
            return false;
        memcpy(parts[i], p, (size_t)(end - p));
        parts[i][end - p] = '\0';
        p = end + (i < 3);
    }
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_init(&key, KK_LEVEL_CELL, realm, parts[0], parts[1], parts[2], NULL, &err) < 0)
        return false;
    kk_key_format(&key, out);
    return true;
}

static void on_event(const struct kk_ctd_event *ev, void *userdata)
{
    struct kk_agent *a = userdata;
    if (ev->kind == KK_CTD_EVENT_DISCONNECTED) {
        kk_log_warn("containerd: event stream lost; reconnecting");
        pthread_mutex_lock(&a->lock);
        a->ctd_connected = false;
        pthread_mutex_unlock(&a->lock);
        kk_metrics_set_containerd_up(&a->metrics, false);
        return;
    }
    if (ev->kind == KK_CTD_EVENT_RESUBSCRIBED) {
        kk_log_info("containerd: reconnected, resyncing");
        pthread_mutex_lock(&a->lock);
        a->ctd_connected = true;
        pthread_mutex_unlock(&a->lock);
        kk_metrics_set_containerd_up(&a->metrics, true);
        /* A scan touches the filesystem: hand it to a worker. */
        agent_enqueue(a, RESCAN_KEY);
        return;
    }
    if (!ev->container_id || !ev->container_id[0] || (ev->exec_id && ev->exec_id[0]))
        return;
    char key[KK_KEY_STRLEN];
    if (!cell_key_of(a, ev->ns, ev->container_id, key))
        return;
    kk_log_debug("%s: containerd %s (%s)", key, ev->topic, ev->container_id);
    if (ev->kind == KK_CTD_EVENT_TASK_OOM)
        agent_note_oom(a, ev->ns, ev->container_id);
    kk_metrics_event(&a->metrics, time(NULL));
    agent_enqueue(a, key);
}

/* ---- scanning ----------------------------------------------------------- */

static void scan_level(struct kk_agent *a, const char *dir, int depth)
{
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->rootfd, dir, SCAN_DIR_MAX, &list, &err) < 0) {
        if (kk_error_code(err) != KK_E_NOT_FOUND)
            kk_log_warn("scan %s: %s", *dir ? dir : ".", err->message);
        return;
    }
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (list.entries[i].type != DT_DIR || !kk_name_valid_n(name, strlen(name)))
            continue;
        _cleanup_free_ char *rel = *dir ? kk_xasprintf("%s/%s", dir, name) : kk_xstrdup(name);
        agent_enqueue(a, rel);
        if (depth < 3)
            scan_level(a, rel, depth + 1);
    }
}

static void scan_inbox(struct kk_agent *a)
{
    _cleanup_closedir_ DIR *d = opendir(a->cfg.manifests);
    if (!d) {
        kk_log_warn("inbox %s: %s", a->cfg.manifests, strerror(errno));
    } else {
        struct dirent *e;
        unsigned n = 0;
        while ((e = readdir(d)) && n++ < SCAN_DIR_MAX)
            if (kk_inbox_name_counts(e->d_name))
                kk_agent_notify_inbox(a, e->d_name);
    }
    /* Reports whose file is gone: their resources are pruned. */
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->rootfd, KK_TREE_INBOX_DIRNAME, SCAN_DIR_MAX, &list, &err) < 0)
        return;
    const char *suffix = ".status.yaml";
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        size_t n = strlen(name), sl = strlen(suffix);
        if (n <= sl || strcmp(name + n - sl, suffix) != 0)
            continue;
        _cleanup_free_ char *file = kk_xstrndup(name, n - sl);
        kk_agent_notify_inbox(a, file);
    }
}

/* Cells containerd runs containers for: each is reconciled, which removes
 * those that no spec owns any more. */
static void scan_containerd(struct kk_agent *a)
{
    _cleanup_fs_list_ struct kk_fs_list realms = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->rootfd, "", SCAN_DIR_MAX, &realms, &err) < 0)
        return;
    for (size_t i = 0; i < realms.n; i++) {
        const char *realm = realms.entries[i].name;
        if (realms.entries[i].type != DT_DIR || !kk_name_valid_n(realm, strlen(realm)))
            continue;
        _cleanup_free_ char *ns = agent_realm_ns(a, realm);
        struct kk_ctd_container *v = NULL;
        size_t n = 0;
        if (a->be.ctd->container_list(a->be.ctd_self, ns, "labels.\"" KK_LABEL_CELL "\"", &v, &n,
                                      &err) < 0) {
            kk_log_warn("scan containerd namespace %s: %s", ns, err->message);
            kk_error_freep(&err);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            char key[KK_KEY_STRLEN];
            if (cell_key_of(a, ns, v[j].id, key))
                agent_enqueue(a, key);
        }
        kk_ctd_container_list_free(v, n);
    }
}

void kk_agent_rescan(struct kk_agent *a)
{
    kk_log_info("full scan of %s and %s", a->cfg.state, a->cfg.manifests);
    scan_level(a, "", 0);
    scan_inbox(a);
    scan_containerd(a);
    pthread_mutex_lock(&a->lock);
    a->scanned = true;
    a->last_scan_at = agent_now_ns(a);
    pthread_mutex_unlock(&a->lock);
}

/* ---- life cycle --------------------------------------------------------- */

/* A pull ended: the cells that waited for it are reconciled again. */
static void puller_wake(void *userdata, const char *key)
{
    agent_enqueue(userdata, key);
}

/* mkdir -p of a configured (trusted) absolute path. */
int kk_agent_new(const struct kk_agent_config *cfg, const struct kk_agent_backends *be,
                 struct kk_agent **out, kk_error **err)
{
    if (kk_fs_mkdir_p_abs(cfg->state, 0755, err) < 0 ||
        kk_fs_mkdir_p_abs(cfg->run_dir, 0755, err) < 0)
        return -1;
    int rootfd = kk_fs_open_root(cfg->state, err);
    if (rootfd < 0)
        return kk_error_wrap(err, "state tree");
    struct kk_agent *a = kk_xcalloc(1, sizeof(*a));
    a->rootfd = rootfd;
    a->be = *be;
    a->cfg = (struct kk_agent_config){
            .manifests = kk_xstrdup(cfg->manifests),
            .state = kk_xstrdup(cfg->state),
            .containerd_address = kk_xstrdup(cfg->containerd_address),
            .run_dir = kk_xstrdup(cfg->run_dir),
            .cgroup_root = kk_xstrdup(cfg->cgroup_root),
            .bridge_prefix = kk_xstrdup(cfg->bridge_prefix),
            .veth_prefix = kk_xstrdup(cfg->veth_prefix ? cfg->veth_prefix : cfg->bridge_prefix),
            .subnet_pool = kk_xstrdup(cfg->subnet_pool),
            .nft_table = kk_xstrdup(cfg->nft_table),
            .namespace_prefix = kk_xstrdup(cfg->namespace_prefix),
            .workers = cfg->workers,
            .resync_s = cfg->resync_s,
            .log_level = cfg->log_level,
            .stop_timeout_s = cfg->stop_timeout_s,
            .once = cfg->once,
    };
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->cg_lock, NULL);
    pthread_mutex_init(&a->spec_lock, NULL);
    a->started_at = agent_now_ns(a);
    kk_metrics_init(&a->metrics, time(NULL));
    if (be->registry)
        a->puller = kk_puller_new(be->registry, be->registry_self, be->client, puller_wake, a);
    *out = a;
    if (kk_fs_mkdir_p(a->rootfd, KK_TREE_INBOX_DIRNAME, 0755, NULL, err) < 0 ||
        kk_fs_mkdir_p(a->rootfd, KK_TREE_AGENT_DIRNAME, 0755, NULL, err) < 0 ||
        inbox_ensure_defaults(a, err) < 0) {
        kk_agent_free(a);
        *out = NULL;
        return kk_error_wrap(err, "state tree %s", cfg->state);
    }
    return 0;
}

int kk_agent_start(struct kk_agent *a, kk_error **err)
{
    if (a->cfg.workers == 0) {
        kk_agent_rescan(a);
        return 0;
    }
    if (a->be.net) {
        _cleanup_error_ kk_error *e = NULL;
        if (kk_net_ensure_forwarding(a->be.net, &e) < 0)
            kk_log_warn("ip forwarding: %s", e->message);
    }
    struct kk_queue_config qc = {
            .workers = a->cfg.workers,
            .backoff_base_ms = 200,
            .backoff_max_ms = 60000,
            .jitter = true,
            .fn = queue_fn,
            .userdata = a,
    };
    if (kk_queue_new(&qc, &a->queue, err) < 0)
        return kk_error_wrap(err, "work queue");
    const char *filters[] = {"topic~=\"^/tasks/\"", NULL};
    _cleanup_error_ kk_error *e = NULL;
    if (a->be.ctd->subscribe(a->be.ctd_self, filters, on_event, a, &a->sub, &e) < 0) {
        /* Not fatal: containerd may come up later; resync covers it. */
        kk_log_warn("containerd events: %s", e->message);
    } else {
        a->ctd_connected = true;
    }
    kk_metrics_set_containerd_up(&a->metrics, a->ctd_connected);
    kk_agent_rescan(a);
    return 0;
}

void kk_agent_free(struct kk_agent *a)
{
    if (!a)
        return;
    if (a->sub)
        a->be.ctd->unsubscribe(a->be.ctd_self, a->sub);
    kk_puller_free(a->puller); /* its threads enqueue: before the queue goes */
    kk_queue_free(a->queue);
    while (a->mems) {
        struct res_mem *m = a->mems;
        a->mems = m->next;
        mem_free(m);
    }
    for (size_t i = 0; i < a->n_pending; i++)
        free(a->pending[i].key);
    free(a->pending);
    for (size_t i = 0; i < a->n_ooms; i++)
        free(a->ooms[i]);
    free(a->ooms);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->cg_lock);
    pthread_mutex_destroy(&a->spec_lock);
    kk_metrics_destroy(&a->metrics);
    if (a->rootfd >= 0)
        close(a->rootfd);
    kk_agent_config_release(&a->cfg);
    free(a);
}
