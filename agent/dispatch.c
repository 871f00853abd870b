/* Dispatch: what runs a key and what enqueues keys. The queue's callback
 * routes each key to its reconciler (parents.c, cell.c, inbox.c) or to
 * the dispatch's own work (full scans, putting back inbox-owned specs);
 * the watcher's notifications and containerd's events only enqueue.
 * Anything that reads the filesystem or calls containerd runs on a worker,
 * never on the caller's thread (the main loop must not block). */
#include "agent/agent-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/orphans.h"

#include "fsapi/fsutil.h"
#include "fsapi/inbox.h"
#include "fsapi/log.h"

#define SCAN_DIR_MAX 10000

static void scan_all(struct kk_agent *a);
static void put_back_inbox_owned(struct kk_agent *a, const char *keystr);

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- routing ------------------------------------------------------------ */

static int reconcile_key(struct agent_ctx *c, const struct kk_key *key)
{
    switch (key->level) {
    case KK_LEVEL_REALM:
        return agent_reconcile_realm(c, key);
    case KK_LEVEL_SPACE:
        return agent_reconcile_space(c, key);
    case KK_LEVEL_STACK:
        return agent_reconcile_stack(c, key);
    case KK_LEVEL_CELL:
        return agent_reconcile_cell(c, key);
    case KK_LEVEL_CONTAINER: {
        struct kk_key cell;
        kk_key_parent(key, &cell);
        return agent_reconcile_cell(c, &cell);
    }
    default:
        return KK_QUEUE_DONE;
    }
}

/* Whether key belongs to this agent: its realm is in the tree, or has a
 * trace under this agent's own names (what the orphan sweep takes down).
 * Keys also come from containerd events, mapped to a realm through the
 * namespace prefix; another agent whose prefix extends ours ("kukeon-"
 * and "kukeon-x-") has namespaces that map to realms we never had, and
 * a cell reconcile would delete its containers as specless. */
static bool key_is_ours(struct kk_agent *a, const struct kk_key *key)
{
    struct kk_key realm;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_init(&realm, KK_LEVEL_REALM, key->names[0], NULL, NULL, NULL, NULL, &err) < 0)
        return false;
    _cleanup_free_ char *dir = kk_tree_dir(&realm);
    struct stat sb;
    if (fstatat(a->ctx.rootfd, dir, &sb, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
        return true;
    return agent_orphans_realm_traced(&a->ctx, agent_orphans_cg_mount(&a->ctx), key->names[0]);
}

int kk_agent_reconcile(struct kk_agent *a, const char *keystr)
{
    if (strcmp(keystr, RESCAN_KEY) == 0) {
        scan_all(a);
        return KK_QUEUE_DONE;
    }
    if (has_prefix(keystr, OWNED_KEY_PREFIX)) {
        put_back_inbox_owned(a, keystr + strlen(OWNED_KEY_PREFIX));
        return KK_QUEUE_DONE;
    }
    if (has_prefix(keystr, INBOX_KEY_PREFIX))
        return agent_reconcile_inbox(&a->ctx, keystr + strlen(INBOX_KEY_PREFIX));
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_parse(&key, keystr, &err) < 0) {
        kk_log_warn("%s: %s", keystr, err->message);
        return KK_QUEUE_DONE;
    }
    if (!key_is_ours(a, &key)) {
        kk_log_debug("%s: realm %s is not this agent's: ignored", keystr, key.names[0]);
        return KK_QUEUE_DONE;
    }
    return reconcile_key(&a->ctx, &key);
}

static int queue_fn(void *userdata, const char *key, unsigned attempt)
{
    struct kk_agent *a = userdata;
    (void)attempt;
    /* Reconcile durations are real time, whatever the agent's clock. */
    int64_t t0 = kk_clock_mono_ns(NULL);
    int r = kk_agent_reconcile(a, key);
    double s = (double)(kk_clock_mono_ns(NULL) - t0) / 1e9;
    kk_metrics_observe_reconcile(&a->ctx.metrics, s, r != KK_QUEUE_RETRY);
    return r;
}

/* The inbox wins: a spec the inbox owns that someone edited in the tree is
 * put back by applying its inbox file again (which writes only if the
 * content differs, so the agent's own writes end here). */
static void put_back_inbox_owned(struct kk_agent *a, const char *keystr)
{
    struct kk_key key;
    _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_parse(&key, keystr, &err) < 0 || agent_spec_load(&a->ctx, &key, &r, &err) <= 0)
        return;
    const char *src = kk_kvs_get(&r->meta.annotations, KK_ANNOTATION_SOURCE);
    if (src)
        kk_agent_notify_inbox(a, src);
}

/* ---- state --------------------------------------------------------------- */

bool kk_agent_converged(struct kk_agent *a)
{
    pthread_mutex_lock(&a->lock);
    bool scanned = a->scanned;
    pthread_mutex_unlock(&a->lock);
    if (!scanned || agent_writes_failing(a))
        return false;
    if (!a->queue)
        return true;
    struct kk_queue_stats qs;
    kk_queue_get_stats(a->queue, &qs);
    return qs.queued == 0 && qs.running == 0;
}

void agent_key_readiness(struct agent_ctx *c, const char *key, bool *ready, int *state)
{
    struct kk_agent *a = agent_of(c);
    *ready = false;
    *state = KK_STATE_NONE;
    pthread_mutex_lock(&a->lock);
    const struct res_mem *m = kk_hashmap_get(&a->mems, key);
    if (m) {
        *ready = m->ready;
        *state = m->state;
    }
    pthread_mutex_unlock(&a->lock);
}

void kk_agent_summary(struct kk_agent *a, char *buf, size_t size)
{
    unsigned ready = 0, pending = 0, other = 0;
    pthread_mutex_lock(&a->lock);
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    while (kk_hashmap_next(&a->mems, &it)) {
        const struct res_mem *m = it.value;
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

/* ---- test mode ----------------------------------------------------------- */

static bool is_ancestor_key(const char *parent, const char *key)
{
    size_t n = strlen(parent);
    return strncmp(parent, key, n) == 0 && key[n] == '/';
}

/* Takes the first runnable pending key (the caller frees it), or NULL. */
static char *pending_take(struct kk_agent *a, bool include_delayed)
{
    char *key = NULL;
    pthread_mutex_lock(&a->lock);
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
    return key;
}

/* What the queue does after a run, for the pending list. */
static void pending_finish(struct kk_agent *a, const char *key, int r)
{
    if (r == KK_QUEUE_PARK) {
        agent_pending_add(a, key, false, true);
    } else if (r == KK_QUEUE_DONE) {
        pthread_mutex_lock(&a->lock);
        for (size_t i = 0; i < a->n_pending; i++)
            if (a->pending[i].parked && is_ancestor_key(key, a->pending[i].key))
                a->pending[i].parked = false;
        pthread_mutex_unlock(&a->lock);
    } else {
        agent_pending_add(a, key, true, false);
    }
}

unsigned kk_agent_run_pending(struct kk_agent *a, unsigned max_runs, bool include_delayed)
{
    unsigned runs = 0;
    while (runs < max_runs) {
        char *key = pending_take(a, include_delayed);
        if (!key)
            break;
        int r = kk_agent_reconcile(a, key);
        runs++;
        pending_finish(a, key, r);
        free(key);
    }
    return runs;
}

/* ---- notifications ------------------------------------------------------ */

/* The key a changed path of the tree enqueues, or false for the agent's
 * own files (status, logs, reports). */
static bool key_of_path(const struct kk_tree_class *c, char buf[KK_KEY_STRLEN])
{
    switch (c->file) {
    case KK_TREE_DIR:
    case KK_TREE_SPEC:
    case KK_TREE_CTL:
    case KK_TREE_CONTAINERS_DIR:
        kk_key_format(&c->key, buf);
        return true;
    case KK_TREE_CONTAINER_SPEC: {
        struct kk_key cell;
        kk_key_parent(&c->key, &cell);
        kk_key_format(&cell, buf);
        return true;
    }
    default:
        return false;
    }
}

void kk_agent_notify_state(struct kk_agent *a, const char *relpath)
{
    struct kk_tree_class c;
    kk_tree_classify(relpath, &c);
    char buf[KK_KEY_STRLEN];
    if (!key_of_path(&c, buf))
        return;
    kk_log_debug("%s: %s changed", buf, kk_tree_file_name(c.file));
    kk_metrics_event(&a->ctx.metrics, agent_now_ns(&a->ctx) / KK_NSEC_PER_SEC);
    agent_enqueue(&a->ctx, buf);
    if (c.file == KK_TREE_SPEC || c.file == KK_TREE_CONTAINER_SPEC) {
        char spec[KK_KEY_STRLEN];
        kk_key_format(&c.key, spec);
        _cleanup_free_ char *owned = kk_xasprintf(OWNED_KEY_PREFIX "%s", spec);
        agent_enqueue(&a->ctx, owned);
    }
}

void kk_agent_notify_inbox(struct kk_agent *a, const char *name)
{
    if (!kk_inbox_name_counts(name)) {
        kk_log_debug("inbox: %s ignored (%s)", name,
                     kk_inbox_verdict_name(kk_inbox_classify(name)));
        return;
    }
    _cleanup_free_ char *key = kk_xasprintf(INBOX_KEY_PREFIX "%s", name);
    kk_metrics_event(&a->ctx.metrics, agent_now_ns(&a->ctx) / KK_NSEC_PER_SEC);
    agent_enqueue(&a->ctx, key);
}

/* ---- containerd events -------------------------------------------------- */

/* The realm whose containerd namespace is ns, into realm[]; false if none. */
static bool realm_of_ns(struct kk_agent *a, const char *ns, char realm[KK_NAME_MAX + 1])
{
    realm[0] = '\0';
    pthread_mutex_lock(&a->lock);
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    while (kk_hashmap_next(&a->mems, &it)) {
        const struct res_mem *m = it.value;
        if (m->ns && strcmp(m->ns, ns) == 0 && !strchr(m->key, '/') &&
            strlen(m->key) <= KK_NAME_MAX)
            memcpy(realm, m->key, strlen(m->key) + 1);
    }
    pthread_mutex_unlock(&a->lock);
    const char *prefix = a->ctx.cfg.namespace_prefix;
    size_t pl = strlen(prefix);
    if (!realm[0] && strncmp(ns, prefix, pl) == 0 && strlen(ns + pl) <= KK_NAME_MAX)
        snprintf(realm, KK_NAME_MAX + 1, "%s", ns + pl);
    return realm[0] != '\0';
}

/* "space_stack_cell_container" in a realm's namespace -> the cell key. */
static bool cell_key_of(struct kk_agent *a, const char *ns, const char *id, char out[KK_KEY_STRLEN])
{
    char realm[KK_NAME_MAX + 1];
    if (!realm_of_ns(a, ns, realm))
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
        agent_set_ctd_connected(a, false);
        return;
    }
    if (ev->kind == KK_CTD_EVENT_RESUBSCRIBED) {
        kk_log_info("containerd: reconnected, resyncing");
        agent_set_ctd_connected(a, true);
        kk_agent_rescan(a); /* a scan touches the filesystem: on a worker */
        return;
    }
    if (!ev->container_id || !ev->container_id[0] || (ev->exec_id && ev->exec_id[0]))
        return;
    char key[KK_KEY_STRLEN];
    if (!cell_key_of(a, ev->ns, ev->container_id, key))
        return;
    kk_log_debug("%s: containerd %s (%s)", key, ev->topic, ev->container_id);
    if (ev->kind == KK_CTD_EVENT_TASK_OOM)
        agent_note_oom(&a->ctx, ev->ns, ev->container_id);
    kk_metrics_event(&a->ctx.metrics, agent_now_ns(&a->ctx) / KK_NSEC_PER_SEC);
    agent_enqueue(&a->ctx, key);
}

/* ---- scanning (on a worker, as RESCAN_KEY) ------------------------------- */

static void scan_level(struct kk_agent *a, const char *dir, int depth)
{
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->ctx.rootfd, dir, SCAN_DIR_MAX, &list, &err) < 0) {
        if (kk_error_code(err) != KK_E_NOT_FOUND)
            kk_log_warn("scan %s: %s", *dir ? dir : ".", err->message);
        return;
    }
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (list.entries[i].type != DT_DIR || !kk_name_valid_n(name, strlen(name)))
            continue;
        _cleanup_free_ char *rel = *dir ? kk_xasprintf("%s/%s", dir, name) : kk_xstrdup(name);
        agent_enqueue(&a->ctx, rel);
        if (depth < 3)
            scan_level(a, rel, depth + 1);
    }
}

static void scan_inbox(struct kk_agent *a)
{
    _cleanup_closedir_ DIR *d = opendir(a->ctx.cfg.manifests);
    if (!d) {
        kk_log_warn("inbox %s: %s", a->ctx.cfg.manifests, strerror(errno));
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
    if (kk_fs_list_dir(a->ctx.rootfd, KK_TREE_INBOX_DIRNAME, SCAN_DIR_MAX, &list, &err) < 0)
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

/* Cells containerd runs containers for in realm's namespace: each is
 * reconciled, which removes those that no spec owns any more. */
static void scan_containerd_realm(struct kk_agent *a, const char *realm)
{
    const struct kk_agent_backends *be = &a->ctx.be;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *ns = agent_realm_ns(&a->ctx, realm);
    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    if (be->ctd->container_list(be->ctd_self, ns, "labels.\"" KK_LABEL_CELL "\"", &v, &n, &err) <
        0) {
        kk_log_warn("scan containerd namespace %s: %s", ns, err->message);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        char key[KK_KEY_STRLEN];
        if (cell_key_of(a, ns, v[j].id, key))
            agent_enqueue(&a->ctx, key);
    }
    kk_ctd_container_list_free(v, n);
}

static void scan_containerd(struct kk_agent *a)
{
    _cleanup_fs_list_ struct kk_fs_list realms = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->ctx.rootfd, "", SCAN_DIR_MAX, &realms, &err) < 0)
        return;
    for (size_t i = 0; i < realms.n; i++) {
        const char *realm = realms.entries[i].name;
        if (realms.entries[i].type == DT_DIR && kk_name_valid_n(realm, strlen(realm)))
            scan_containerd_realm(a, realm);
    }
}

/* What resources that went while the agent was not running left on the
 * host (agent/orphans.h): found by this agent's own names, enqueued
 * deepest first; their reconciles take them down, no spec being there. */
static void scan_orphans(struct kk_agent *a)
{
    struct agent_ctx *c = &a->ctx;
    struct kk_strv traces = {0}, orphans = {0}, leaves = {0};
    agent_orphans_traces(c, agent_orphans_cg_mount(c), &traces);
    agent_orphans_untracked(c, &traces, &orphans);
    for (size_t i = 0; i < orphans.n; i++) {
        /* A realm gone from the tree: its namespace is searched too. */
        if (!strchr(orphans.v[i], '/'))
            scan_containerd_realm(a, orphans.v[i]);
    }
    agent_orphans_leaves(&orphans, &leaves);
    for (size_t i = 0; i < leaves.n; i++) {
        kk_log_info("%s: orphan: left on the host with no spec; taking it down", leaves.v[i]);
        agent_enqueue(c, leaves.v[i]);
    }
    kk_strv_release(&traces);
    kk_strv_release(&orphans);
    kk_strv_release(&leaves);
}

static void scan_all(struct kk_agent *a)
{
    kk_log_info("full scan of %s and %s", a->ctx.cfg.state, a->ctx.cfg.manifests);
    scan_level(a, "", 0);
    scan_inbox(a);
    scan_containerd(a);
    scan_orphans(a);
    pthread_mutex_lock(&a->lock);
    a->scanned = true;
    a->last_scan_at = agent_now_ns(&a->ctx);
    pthread_mutex_unlock(&a->lock);
}

void kk_agent_rescan(struct kk_agent *a)
{
    if (a->queue)
        kk_queue_enqueue(a->queue, RESCAN_KEY);
    else
        scan_all(a); /* test mode: only fills the pending list */
}

/* ---- start -------------------------------------------------------------- */

static void subscribe(struct kk_agent *a)
{
    const struct kk_agent_backends *be = &a->ctx.be;
    const char *filters[] = {"topic~=\"^/tasks/\"", NULL};
    _cleanup_error_ kk_error *e = NULL;
    if (be->ctd->subscribe(be->ctd_self, filters, on_event, a, &a->sub, &e) < 0) {
        /* Not fatal: containerd may come up later; resync covers it. */
        kk_log_warn("containerd events: %s", e->message);
        agent_set_ctd_connected(a, false);
    } else {
        agent_set_ctd_connected(a, true);
    }
}

int kk_agent_start(struct kk_agent *a, kk_error **err)
{
    if (a->ctx.cfg.workers == 0) {
        /* Test mode subscribes to nothing: containerd counts as connected,
         * and its calls alone say otherwise (agent_note_ctd_error/_ok). */
        agent_set_ctd_connected(a, true);
        kk_agent_rescan(a);
        return 0;
    }
    if (a->ctx.be.net) {
        _cleanup_error_ kk_error *e = NULL;
        if (kk_net_ensure_forwarding(a->ctx.be.net, &e) < 0)
            kk_log_warn("ip forwarding: %s", e->message);
    }
    struct kk_queue_config qc = {
            .workers = a->ctx.cfg.workers,
            .backoff_base_ms = 200,
            .backoff_max_ms = 60000,
            .jitter = true,
            .clock = a->ctx.be.clock,
            .fn = queue_fn,
            .userdata = a,
    };
    if (kk_queue_new(&qc, &a->queue, err) < 0)
        return kk_error_wrap(err, "work queue");
    subscribe(a);
    kk_agent_rescan(a);
    return 0;
}
