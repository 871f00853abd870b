/* Reading specs and status from the tree; writing status only on change;
 * the agent's own status file. */
#include "agent/agent-private.h"

#include <errno.h>
#include <string.h>

#include "fsapi/atomic.h"
#include "fsapi/fsutil.h"
#include "fsapi/log.h"
#include "fsapi/manifest.h"
#include "fsapi/yaml.h"

struct kk_status *agent_status_load(struct agent_ctx *a, const struct kk_key *key)
{
    _cleanup_free_ char *rel = kk_tree_status_path(key);
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    _cleanup_error_ kk_error *err = NULL;
    if (!rel || kk_fs_read_file(a->rootfd, rel, KK_STATUS_FILE_MAX, &data, &err) < 0)
        return NULL;
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    struct kk_status *st = NULL;
    if (kk_status_load_buffer(rel, data.data, data.len, &st, &diags, &err) < 0)
        return NULL;
    return st;
}

int agent_spec_load(struct agent_ctx *a, const struct kk_key *key, struct kk_resource **out,
                    kk_error **err)
{
    _cleanup_free_ char *rel = kk_tree_spec_path(key);
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    if (kk_fs_read_file(a->rootfd, rel, KK_SPEC_FILE_MAX, &data, err) < 0) {
        if (kk_error_code(*err) == KK_E_NOT_FOUND) {
            kk_error_freep(err);
            return 0;
        }
        return kk_error_wrap(err, "%s", rel);
    }
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    enum kk_kind kind = (enum kk_kind)(key->level - 1);
    if (kk_resource_load_buffer(rel, data.data, data.len, kind, out, &diags, err) < 0) {
        if (diags.n > 0) {
            kk_error_freep(err);
            _cleanup_buf_ struct kk_buf msg = KK_BUF_INIT;
            kk_diag_format(&diags.items[0], &msg);
            kk_error_set(err, KK_E_INVALID, "%s", kk_buf_str(&msg));
        }
        return kk_error_reason(err, "InvalidSpec");
    }
    /* The tree's layout names the resource; the document must agree. */
    const struct kk_resource *r = *out;
    const char *parents[4] = {NULL, NULL, NULL, NULL};
    switch (r->kind) {
    case KK_KIND_CONTAINER:
        parents[3] = r->container.cell_id;
        /* fallthrough */
    case KK_KIND_CELL:
        parents[2] = r->kind == KK_KIND_CELL ? r->cell.stack_id : r->container.stack_id;
        parents[1] = r->kind == KK_KIND_CELL ? r->cell.space_id : r->container.space_id;
        parents[0] = r->kind == KK_KIND_CELL ? r->cell.realm_id : r->container.realm_id;
        break;
    case KK_KIND_STACK:
        parents[1] = r->stack.space_id;
        parents[0] = r->stack.realm_id;
        break;
    case KK_KIND_SPACE:
        parents[0] = r->space.realm_id;
        break;
    default:
        break;
    }
    bool ok = strcmp(kk_resource_id(r), key->names[key->level - 1]) == 0;
    for (unsigned i = 0; i + 1 < key->level; i++)
        ok = ok && parents[i] && strcmp(parents[i], key->names[i]) == 0;
    if (!ok) {
        kk_resource_free(*out);
        *out = NULL;
        kk_error_set(err, KK_E_INVALID, "%s: names and parents do not match the path", rel);
        return kk_error_reason(err, "InvalidSpec");
    }
    return 1;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* status.yaml is the agent's: whatever was put in its place (a symlink,
 * never followed; a FIFO; a directory) is removed and the file written
 * again, rather than leaving the status stale for good. */
static int write_status_file(struct agent_ctx *a, const char *rel, const struct kk_buf *out,
                             kk_error **err)
{
    if (kk_atomic_write(a->rootfd, rel, out->data, out->len, 0644, err) == 0)
        return 0;
    int e = (*err)->sys_errno;
    if (e != ELOOP && e != EISDIR)
        return -1;
    kk_log_warn("%s: %s; replaced by the agent's file", rel, (*err)->message);
    kk_error_freep(err);
    if ((e == EISDIR ? kk_fs_remove_tree(a->rootfd, rel, err) : kk_fs_unlink(a->rootfd, rel, err)) <
        0)
        return -1;
    return kk_atomic_write(a->rootfd, rel, out->data, out->len, 0644, err);
}

int agent_status_write(struct agent_ctx *a, const struct kk_key *key, struct kk_status *st,
                       const struct kk_status *prev, kk_error **err)
{
    int64_t now = agent_now_ns(a);
    st->created_at = prev && prev->created_at ? prev->created_at : now;
    if (prev && prev->ready_at)
        st->ready_at = prev->ready_at;
    else if (st->state == KK_STATE_READY && !st->ready_at)
        st->ready_at = now;
    st->updated_at = prev ? prev->updated_at : 0;

    _cleanup_free_ char *rel = kk_tree_status_path(key);
    _cleanup_buf_ struct kk_buf cur = KK_BUF_INIT, out = KK_BUF_INIT;
    _cleanup_error_ kk_error *rerr = NULL;
    kk_status_emit(st, &out);
    if (kk_fs_read_file(a->rootfd, rel, KK_STATUS_FILE_MAX, &cur, &rerr) == 0 &&
        cur.len == out.len && memcmp(cur.data, out.data, out.len) == 0)
        return 0;
    st->updated_at = now;
    kk_buf_reset(&out);
    kk_status_emit(st, &out);
    int w = write_status_file(a, rel, &out, err);
    agent_note_write(a, rel, w < 0 ? *err : NULL);
    if (w < 0)
        return kk_error_wrap(err, "write %s", rel);
    char buf[KK_KEY_STRLEN];
    kk_key_format(key, buf);
    /* One log line per change of state or reason, with the key. */
    if (!prev || prev->state != st->state || !str_eq(prev->reason, st->reason))
        kk_log_info("%s: %s%s%s%s%s", buf, kk_state_name(st->state), st->reason ? " " : "",
                    st->reason ? st->reason : "", st->message ? ": " : "",
                    st->message ? st->message : "");
    return 1;
}

/* ---- _agent/status.yaml ------------------------------------------------- */

static void set_str(struct kk_ytree *t, struct kk_ynode *m, const char *k, const char *v)
{
    kk_ynode_set(t, m, k, kk_ytree_scalar(t, v, true));
}

static void set_num(struct kk_ytree *t, struct kk_ynode *m, const char *k, long long v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", v);
    kk_ynode_set(t, m, k, kk_ytree_scalar(t, buf, false));
}

static void fmt_time(int64_t ns, char out[40])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03dZ", (int)((ns / 1000000) % 1000));
}

int kk_agent_write_agent_status(struct kk_agent *a, kk_error **err)
{
    static const char *levels[] = {"realms", "spaces", "stacks", "cells"};
    unsigned counts[4][KK_STATE_LAST + 1] = {{0}};
    uint64_t prom[KK_KIND_COUNT][KK_METRICS_NSTATES] = {{0}};
    pthread_mutex_lock(&a->lock);
    struct kk_hashmap_iter it = KK_HASHMAP_ITER_INIT;
    while (kk_hashmap_next(&a->mems, &it)) {
        const struct res_mem *m = it.value;
        struct kk_key k;
        _cleanup_error_ kk_error *e = NULL;
        if (kk_key_parse(&k, m->key, &e) < 0 || k.level < 1 || k.level > 4 ||
            m->state <= KK_STATE_NONE || m->state > KK_STATE_LAST)
            continue;
        counts[k.level - 1][m->state]++;
        kk_metrics_count(prom, (enum kk_kind)(k.level - 1), m->state);
    }
    bool connected = a->ctd_connected;
    int64_t last_scan = a->last_scan_at;
    pthread_mutex_unlock(&a->lock);

    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *root = kk_ytree_map(t);
    set_str(t, root, "apiVersion", KK_API_VERSION);
    set_str(t, root, "kind", "Agent");
    struct kk_ynode *st = kk_ytree_map(t);
    kk_ynode_set(t, root, "status", st);
    char buf[40];
    set_str(t, st, "version", KK_AGENT_VERSION);
    set_num(t, st, "pid", getpid());
    fmt_time(a->started_at, buf);
    set_str(t, st, "startedAt", buf);
    struct kk_ynode *ctd = kk_ytree_map(t);
    kk_ynode_set(t, st, "containerd", ctd);
    set_str(t, ctd, "address", a->ctx.cfg.containerd_address);
    kk_ynode_set(t, ctd, "connected", kk_ytree_scalar(t, connected ? "true" : "false", false));
    if (last_scan) {
        fmt_time(last_scan, buf);
        set_str(t, st, "lastFullScan", buf);
    }
    struct kk_ynode *res = kk_ytree_map(t);
    kk_ynode_set(t, st, "resources", res);
    for (int l = 0; l < 4; l++) {
        struct kk_ynode *m = kk_ytree_map(t);
        kk_ynode_set(t, res, levels[l], m);
        for (int s = KK_STATE_PENDING; s <= KK_STATE_LAST; s++)
            if (counts[l][s])
                set_num(t, m, kk_state_name(s), counts[l][s]);
    }
    agent_write_fault_emit(a, t, st);
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    kk_yaml_emit(root, &out);
    _cleanup_free_ char *rel = kk_tree_agent_status_path();
    if (agent_write_own_file(a, rel, out.data, out.len, err) < 0)
        return kk_error_wrap(err, "write %s", rel);
    kk_metrics_set_resources(&a->ctx.metrics, (const uint64_t(*)[KK_METRICS_NSTATES])prom);
    _cleanup_free_ char *prom_path =
            kk_xasprintf("%s/" KK_TREE_AGENT_DIRNAME "/metrics.prom", a->ctx.cfg.state);
    if (kk_metrics_write(&a->ctx.metrics, prom_path, err) < 0)
        return kk_error_wrap(err, "write %s", prom_path);
    return 0;
}
