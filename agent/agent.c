/* The agent object: the services reconcilers call through their context
 * (clock, enqueue, memory, containerd bookkeeping, cgroups), the test
 * mode's pending list, and the agent's life cycle. Routing keys to the
 * reconcilers, events and scans are dispatch.c's. */
#include "agent/agent-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/inbox-index.h"
#include "agent/watch.h"
#include "fsapi/atomic.h"
#include "fsapi/cleanup.h"
#include "fsapi/fsutil.h"
#include "fsapi/log.h"

int64_t agent_now_ns(const struct agent_ctx *c)
{
    return kk_clock_real_ns(c->be.clock);
}

int64_t agent_mono_ms(const struct agent_ctx *c)
{
    return kk_clock_mono_ms(c->be.clock);
}

/* ---- test-mode pending list (workers == 0) ----------------------------- */

struct pending_key *agent_pending_find(struct kk_agent *a, const char *key)
{
    for (size_t i = 0; i < a->n_pending; i++)
        if (strcmp(a->pending[i].key, key) == 0)
            return &a->pending[i];
    return NULL;
}

void agent_pending_add(struct kk_agent *a, const char *key, bool delayed, bool parked)
{
    pthread_mutex_lock(&a->lock);
    struct pending_key *p = agent_pending_find(a, key);
    if (p) {
        if (!delayed && !parked)
            p->delayed = p->parked = false;
    } else {
        kk_xgrow((void **)&a->pending, &a->cap_pending, a->n_pending + 1, sizeof(*a->pending));
        a->pending[a->n_pending++] =
                (struct pending_key){.key = kk_xstrdup(key), .delayed = delayed, .parked = parked};
    }
    pthread_cond_broadcast(&a->pending_cv);
    pthread_mutex_unlock(&a->lock);
}

void agent_enqueue(struct agent_ctx *c, const char *key)
{
    struct kk_agent *a = agent_of(c);
    if (a->queue)
        kk_queue_enqueue(a->queue, key);
    else
        agent_pending_add(a, key, false, false);
}

void agent_enqueue_after(struct agent_ctx *c, const char *key, unsigned ms)
{
    struct kk_agent *a = agent_of(c);
    if (a->queue)
        kk_queue_enqueue_after(a->queue, key, ms);
    else
        agent_pending_add(a, key, true, false);
}

bool agent_test_mode(const struct agent_ctx *c)
{
    return c->cfg.workers == 0;
}

bool kk_agent_is_pending(struct kk_agent *a, const char *key)
{
    pthread_mutex_lock(&a->lock);
    struct pending_key *p = agent_pending_find(a, key);
    bool r = p && !p->parked;
    pthread_mutex_unlock(&a->lock);
    return r;
}

bool kk_agent_wait_pending(struct kk_agent *a, const char *key, unsigned timeout_ms)
{
    struct timespec deadline = kk_mono_deadline_ms(timeout_ms);
    bool r = false;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        struct pending_key *p = agent_pending_find(a, key);
        r = p && !p->parked && !p->delayed;
        if (r || pthread_cond_timedwait(&a->pending_cv, &a->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&a->lock);
    return r;
}

/* ---- memory ------------------------------------------------------------ */

struct res_mem *agent_mem(struct agent_ctx *c, const char *key)
{
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->lock);
    struct res_mem *m = kk_hashmap_get(&a->mems, key);
    if (!m) {
        m = kk_xcalloc(1, sizeof(*m));
        snprintf(m->key, sizeof(m->key), "%s", key);
        kk_hashmap_put(&a->mems, m->key, m);
    }
    pthread_mutex_unlock(&a->lock);
    return m;
}

static void mem_free(void *p)
{
    struct res_mem *m = p;
    if (!m)
        return;
    free(m->ns);
    free(m->ctrs);
    free(m);
}

void agent_mem_drop(struct agent_ctx *c, const char *key)
{
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->lock);
    mem_free(kk_hashmap_take(&a->mems, key));
    pthread_mutex_unlock(&a->lock);
}

void agent_set_ready(struct agent_ctx *c, const char *key, bool ready)
{
    struct res_mem *m = agent_mem(c, key);
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->lock);
    m->ready = ready;
    pthread_mutex_unlock(&a->lock);
}

void agent_set_state(struct agent_ctx *c, const char *key, int state)
{
    struct res_mem *m = agent_mem(c, key);
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->lock);
    m->state = state;
    pthread_mutex_unlock(&a->lock);
}

int agent_get_state(struct agent_ctx *c, const char *key)
{
    struct kk_agent *a = agent_of(c);
    int state = KK_STATE_NONE;
    pthread_mutex_lock(&a->lock);
    const struct res_mem *m = kk_hashmap_get(&a->mems, key);
    if (m)
        state = m->state;
    pthread_mutex_unlock(&a->lock);
    return state;
}

bool agent_key_ready(struct agent_ctx *c, const char *key)
{
    struct kk_agent *a = agent_of(c);
    bool r = false;
    pthread_mutex_lock(&a->lock);
    const struct res_mem *m = kk_hashmap_get(&a->mems, key);
    if (m)
        r = m->ready;
    pthread_mutex_unlock(&a->lock);
    return r;
}

bool kk_agent_key_ready(struct kk_agent *a, const char *key)
{
    return agent_key_ready(&a->ctx, key);
}

char *agent_realm_ns(struct agent_ctx *c, const char *realm)
{
    struct kk_agent *a = agent_of(c);
    char *ns = NULL;
    pthread_mutex_lock(&a->lock);
    const struct res_mem *m = kk_hashmap_get(&a->mems, realm);
    if (m && m->ns)
        ns = kk_xstrdup(m->ns);
    pthread_mutex_unlock(&a->lock);
    if (ns)
        return ns;
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_init(&key, KK_LEVEL_REALM, realm, NULL, NULL, NULL, NULL, &err) == 0) {
        _cleanup_(kk_status_freep) struct kk_status *st = agent_status_load(c, &key);
        if (st && st->namespace_)
            return kk_xstrdup(st->namespace_);
    }
    return kk_xasprintf("%s%s", c->cfg.namespace_prefix, realm);
}

void agent_set_realm_ns(struct agent_ctx *c, const char *realm, const char *ns)
{
    struct res_mem *m = agent_mem(c, realm);
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->lock);
    free(m->ns);
    m->ns = kk_xstrdup(ns);
    pthread_mutex_unlock(&a->lock);
}

/* ---- containerd bookkeeping --------------------------------------------- */

void agent_set_ctd_connected(struct kk_agent *a, bool up)
{
    pthread_mutex_lock(&a->lock);
    a->ctd_stream_up = up;
    a->ctd_connected = up;
    pthread_mutex_unlock(&a->lock);
    kk_metrics_set_containerd_up(&a->ctx.metrics, up);
}

void agent_note_ctd_error(struct agent_ctx *c, const kk_error *err)
{
    struct kk_agent *a = agent_of(c);
    if (kk_error_code(err) != KK_E_UNAVAILABLE)
        return;
    pthread_mutex_lock(&a->lock);
    bool was = a->ctd_connected;
    a->ctd_connected = false;
    pthread_mutex_unlock(&a->lock);
    if (was)
        kk_log_warn("containerd: unreachable (%s)", err->message);
    kk_metrics_set_containerd_up(&c->metrics, false);
}

void agent_note_ctd_ok(struct agent_ctx *c)
{
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->lock);
    bool was = a->ctd_connected;
    /* a call went through: containerd is there, if its event stream is */
    a->ctd_connected = a->ctd_stream_up;
    bool now = a->ctd_connected;
    pthread_mutex_unlock(&a->lock);
    if (!was && now) {
        kk_log_info("containerd: reachable again");
        kk_metrics_set_containerd_up(&c->metrics, true);
    }
}

void agent_note_oom(struct agent_ctx *c, const char *ns, const char *ctd_id)
{
    struct kk_agent *a = agent_of(c);
    char *entry = kk_xasprintf("%s/%s", ns, ctd_id);
    pthread_mutex_lock(&a->lock);
    if (a->n_ooms < OOM_PENDING_MAX) {
        kk_xgrow((void **)&a->ooms, &a->cap_ooms, a->n_ooms + 1, sizeof(*a->ooms));
        a->ooms[a->n_ooms++] = TAKE_PTR(entry);
    }
    pthread_mutex_unlock(&a->lock);
    free(entry);
}

bool agent_take_oom(struct agent_ctx *c, const char *ns, const char *ctd_id)
{
    struct kk_agent *a = agent_of(c);
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

/* ---- the tree, the watcher, cgroups ------------------------------------- */

bool agent_has_children(struct agent_ctx *c, const struct kk_key *key)
{
    _cleanup_free_ char *dir = kk_tree_dir(key);
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (!dir || kk_fs_list_dir(c->rootfd, dir, KK_TREE_DIR_MAX, &list, &err) < 0)
        return false;
    for (size_t i = 0; i < list.n; i++)
        if (list.entries[i].type == DT_DIR &&
            kk_name_valid_n(list.entries[i].name, strlen(list.entries[i].name)))
            return true;
    return false;
}

void kk_agent_set_watch(struct kk_agent *a, struct kk_watch *w)
{
    if (a)
        a->watch = w;
}

void agent_note_self_write(struct agent_ctx *c, const char *rel, const void *data, size_t len)
{
    struct kk_agent *a = agent_of(c);
    if (a->watch)
        kk_watch_note_self_write(a->watch, rel, data, len);
}

void agent_note_self_remove(struct agent_ctx *c, const char *rel)
{
    struct kk_agent *a = agent_of(c);
    if (a->watch)
        kk_watch_note_self_remove(a->watch, rel);
}

/* Fills status fields from a cgroup's observed state. */
void agent_status_set_cgroup(struct kk_status *st, const struct kk_cg_status *cs,
                             enum kk_cg_mode mode)
{
    free(st->cgroup_path);
    st->cgroup_path = cs->path ? kk_xstrdup(cs->path) : NULL;
    st->cgroup_ready = cs->ready;
    kk_strv_release(&st->subtree_controllers);
    _cleanup_free_ char *list = kk_cg_controllers_format(cs->controllers, mode);
    char *save = NULL;
    for (char *w = strtok_r(list, " ", &save); w; w = strtok_r(NULL, " ", &save))
        kk_strv_push(&st->subtree_controllers, w);
}

int agent_cg_ensure(struct agent_ctx *c, const struct kk_cg_ref *ref, unsigned flags,
                    struct kk_status *st, kk_error **err)
{
    struct kk_agent *a = agent_of(c);
    struct kk_cg_status cs = {0};
    pthread_mutex_lock(&a->cg_lock);
    int r = kk_cg_ensure(c->be.cg, ref, flags, &cs, err);
    pthread_mutex_unlock(&a->cg_lock);
    if (r < 0)
        return kk_error_wrap(err, "cgroup");
    if (st)
        agent_status_set_cgroup(st, &cs, c->be.cg->mode);
    kk_cg_status_release(&cs);
    return 0;
}

int agent_cg_remove(struct agent_ctx *c, const struct kk_cg_ref *ref, kk_error **err)
{
    struct kk_agent *a = agent_of(c);
    pthread_mutex_lock(&a->cg_lock);
    int r = kk_cg_remove(c->be.cg, ref, 5000, err);
    pthread_mutex_unlock(&a->cg_lock);
    return r < 0 ? kk_error_wrap(err, "remove cgroup") : 0;
}

/* ---- life cycle --------------------------------------------------------- */

/* A pull ended: the cells that waited for it are reconciled again. */
static void puller_wake(void *userdata, const char *key)
{
    agent_enqueue(userdata, key);
}

/* The agent's own copy: every field as given (a field added later is
 * copied without a change here), each string duplicated. */
static void config_copy(struct kk_agent_config *to, const struct kk_agent_config *cfg)
{
    *to = *cfg;
    char **strings[] = {&to->manifests,          &to->state,
                        &to->containerd_address, &to->run_dir,
                        &to->cgroup_root,        &to->bridge_prefix,
                        &to->veth_prefix,        &to->subnet_pool,
                        &to->nft_table,          &to->namespace_prefix,
                        &to->registries_config};
    for (size_t i = 0; i < KK_ARRAY_SIZE(strings); i++)
        *strings[i] = *strings[i] ? kk_xstrdup(*strings[i]) : NULL;
    if (!to->veth_prefix)
        to->veth_prefix = kk_xstrdup(cfg->bridge_prefix);
}

static void locks_init(struct kk_agent *a)
{
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->cg_lock, NULL);
    pthread_mutex_init(&a->ctx.spec_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->pending_cv, &ca);
    pthread_condattr_destroy(&ca);
}

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
    struct agent_ctx *c = &a->ctx;
    c->rootfd = rootfd;
    c->be = *be;
    config_copy(&c->cfg, cfg);
    locks_init(a);
    a->started_at = agent_now_ns(c);
    kk_metrics_init(&c->metrics, agent_now_ns(c) / KK_NSEC_PER_SEC);
    if (be->registry) {
        c->puller = kk_puller_new(be->registry, be->registry_self, be->client, puller_wake, c);
        kk_puller_set_clock(c->puller, be->clock);
    }
    c->inbox_index = agent_inbox_index_new();
    *out = a;
    if (kk_fs_mkdir_p(c->rootfd, KK_TREE_INBOX_DIRNAME, 0755, NULL, err) < 0 ||
        kk_fs_mkdir_p(c->rootfd, KK_TREE_AGENT_DIRNAME, 0755, NULL, err) < 0 ||
        agent_inbox_ensure_defaults(c, err) < 0) {
        kk_agent_free(a);
        *out = NULL;
        return kk_error_wrap(err, "state tree %s", cfg->state);
    }
    return 0;
}

void kk_agent_free(struct kk_agent *a)
{
    if (!a)
        return;
    struct agent_ctx *c = &a->ctx;
    if (a->sub)
        c->be.ctd->unsubscribe(c->be.ctd_self, a->sub);
    /* Workers first: a reconcile may still ask the puller for an image.
     * Then the puller, whose threads wake keys: a stopped queue refuses
     * them. Then the queue's memory. */
    if (a->queue)
        kk_queue_stop(a->queue, false);
    kk_puller_free(c->puller);
    kk_queue_free(a->queue);
    kk_hashmap_clear(&a->mems, mem_free);
    agent_inbox_index_free(c->inbox_index);
    for (size_t i = 0; i < a->n_pending; i++)
        free(a->pending[i].key);
    free(a->pending);
    for (size_t i = 0; i < a->n_ooms; i++)
        free(a->ooms[i]);
    free(a->ooms);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->pending_cv);
    pthread_mutex_destroy(&a->cg_lock);
    pthread_mutex_destroy(&c->spec_lock);
    kk_metrics_destroy(&c->metrics);
    if (c->rootfd >= 0)
        close(c->rootfd);
    kk_agent_config_release(&c->cfg);
    free(a);
}

/* ---- writes to the state tree ------------------------------------------- */

void agent_note_write(struct agent_ctx *c, const char *rel, const kk_error *err)
{
    struct kk_agent *a = agent_of(c);
    struct write_fault *f = &a->wfault;
    pthread_mutex_lock(&a->lock);
    bool was = f->failing;
    unsigned failed = f->count;
    if (err) {
        f->failing = true;
        f->count++;
        snprintf(f->path, sizeof(f->path), "%s", rel ? rel : "");
        snprintf(f->error, sizeof(f->error), "%s", err->message ? err->message : "");
        f->errnum = err->sys_errno;
        f->at_ns = agent_now_ns(c);
    } else {
        f->failing = false;
        f->count = 0;
    }
    pthread_mutex_unlock(&a->lock);
    /* One line per change, not one per retry: a full disk retried with
     * backoff would otherwise fill the journal too. */
    if (err && !was)
        kk_log_warn("state tree: cannot write %s: %s (retried until it goes through)", rel,
                    err->message);
    else if (!err && was)
        kk_log_info("state tree: writes go through again (%u failed)", failed);
}

bool agent_writes_failing(struct kk_agent *a)
{
    pthread_mutex_lock(&a->lock);
    bool failing = a->wfault.failing;
    pthread_mutex_unlock(&a->lock);
    return failing;
}

static void fmt_rfc3339(int64_t ns, char out[40])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03dZ", (int)((ns / 1000000) % 1000));
}

void agent_write_fault_emit(struct kk_agent *a, struct kk_ytree *t, struct kk_ynode *status)
{
    pthread_mutex_lock(&a->lock);
    struct write_fault f = a->wfault;
    pthread_mutex_unlock(&a->lock);
    if (!f.failing)
        return;
    char at[40];
    fmt_rfc3339(f.at_ns, at);
    char count[16];
    snprintf(count, sizeof(count), "%u", f.count);
    struct kk_ynode *m = kk_ytree_map(t);
    kk_ynode_set(t, m, "path", kk_ytree_scalar(t, f.path, true));
    kk_ynode_set(t, m, "error", kk_ytree_scalar(t, f.error, true));
    kk_ynode_set(t, m, "at", kk_ytree_scalar(t, at, true));
    kk_ynode_set(t, m, "failures", kk_ytree_scalar(t, count, false));
    kk_ynode_set(t, status, "lastWriteError", m);
}

/* Overwrites `rel` in place with data, padded with newlines to the old
 * size when shorter (never truncated: a reader or a crash then sees no half
 * file, only trailing blank lines). It may grow only within the blocks the
 * file already has (a 600-byte file holds a 4 KiB page or block), which
 * needs no space. */
static int overwrite_in_place(int rootfd, const char *rel, const void *data, size_t len,
                              kk_error **err)
{
    _cleanup_close_ int fd = kk_fs_open(rootfd, rel, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0, err);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kk_error_errno(err, "stat %s", rel);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
        return kk_error_set(err, KK_E_INVALID, "%s: not a file of its own", rel);
    size_t size = (size_t)st.st_size;
    size_t room = size > (size_t)st.st_blocks * 512 ? size : (size_t)st.st_blocks * 512;
    if (len > room)
        return kk_error_set(err, KK_E_EXHAUSTED, "%s: %zu bytes do not fit in %zu", rel, len, room);
    size_t n = len > size ? len : size;
    _cleanup_free_ char *buf = kk_xmalloc(n);
    memcpy(buf, data, len);
    memset(buf + len, '\n', n - len);
    ssize_t w = pwrite(fd, buf, n, 0);
    if (w < 0)
        return kk_error_errno(err, "write %s", rel);
    if ((size_t)w != n)
        return kk_error_set(err, KK_E_EXHAUSTED, "write %s: short write", rel);
    return 1;
}

int agent_write_own_file(struct kk_agent *a, const char *rel, const void *data, size_t len,
                         kk_error **err)
{
    int r = kk_atomic_write_if_changed(a->ctx.rootfd, rel, data, len, 0644, err);
    if (r >= 0 || !*err || ((*err)->sys_errno != ENOSPC && (*err)->sys_errno != EDQUOT))
        return r;
    _cleanup_error_ kk_error *e2 = NULL;
    if (overwrite_in_place(a->ctx.rootfd, rel, data, len, &e2) < 0)
        return -1; /* the first error says why */
    kk_error_freep(err);
    return 1;
}
