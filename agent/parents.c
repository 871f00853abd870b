/* Reconcilers of Realm (containerd namespace, cgroup), Space (bridge,
 * subnet, firewall, cgroup) and Stack (cgroup), and their deletion. */
#include "agent/internal.h"
#include "agent/events.h"
#include "agent/orphans.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsapi/fsutil.h"
#include "fsapi/hash.h"
#include "fsapi/log.h"

static const char *kind_of_level(enum kk_key_level level)
{
    return level >= KK_LEVEL_REALM && level <= KK_LEVEL_CONTAINER
                   ? kk_kind_name((enum kk_kind)(level - 1))
                   : "?";
}

int agent_parent_ready(struct agent_ctx *a, const struct kk_key *key, struct kk_status *st)
{
    struct kk_key parent;
    if (!kk_key_parent(key, &parent))
        return 1;
    char buf[KK_KEY_STRLEN];
    kk_key_format(&parent, buf);
    /* One snapshot of both: the parent's reconcile sets ready, then writes
     * its status, then records the state. Read apart, "not ready" from
     * before and "state recorded" from after looked like a parent found not
     * Ready in this run, and a running cell was written WaitingForParent
     * at an agent restart until its stack's wake-up ran it again. */
    bool ready;
    int state;
    agent_key_readiness(a, buf, &ready, &state);
    if (ready)
        return 1;
    /* Right after a start the parent exists but has not been reconciled
     * yet (or its first reconcile is running): wait for it without
     * reporting anything. The child's status on disk stays what the last
     * run observed; the parent finishing wakes the child (a running child
     * is run again), so no wake-up is lost. */
    _cleanup_free_ char *spec = kk_tree_spec_path(&parent);
    struct stat sb;
    if (state == KK_STATE_NONE && fstatat(a->rootfd, spec, &sb, AT_SYMLINK_NOFOLLOW) == 0)
        return -1;
    st->state = KK_STATE_PENDING;
    free(st->reason);
    free(st->message);
    st->reason = kk_xstrdup("WaitingForParent");
    st->message = kk_xasprintf("waiting for %s %s to be Ready", kind_of_level(parent.level), buf);
    return 0;
}

/* The lower-case kind of key's level, the events' object name. */
static void object_of(const struct kk_key *key, char out[16])
{
    snprintf(out, 16, "%s", kind_of_level(key->level));
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

/* An event for a state change of key (design §2.10): into its own
 * events.log, only when state or reason differ from what was there. */
static void state_event(struct agent_ctx *a, const struct kk_key *key, const struct kk_status *st,
                        const struct kk_status *prev)
{
    if (prev && prev->state == st->state &&
        strcmp(prev->reason ? prev->reason : "", st->reason ? st->reason : "") == 0)
        return;
    char object[16];
    object_of(key, object);
    _cleanup_free_ char *dir = kk_tree_dir(key);
    bool ready = st->state == KK_STATE_READY;
    kk_events_emit(a->rootfd, dir, agent_now_ns(a), ready ? KK_EVENT_NORMAL : KK_EVENT_WARNING,
                   ready ? "Ready" : (st->reason ? st->reason : kk_state_name(st->state)), object,
                   "%s", st->message ? st->message : kk_state_name(st->state));
}

/* A Deleted event for key, in its parent's events.log (its own directory
 * is gone); a realm has no parent directory to hold one. */
static void deleted_event(struct agent_ctx *a, const struct kk_key *key)
{
    struct kk_key parent;
    if (!kk_key_parent(key, &parent))
        return;
    char object[16];
    object_of(key, object);
    _cleanup_free_ char *dir = kk_tree_dir(&parent);
    _cleanup_free_ char *obj = kk_xasprintf("%s/%s", object, key->names[key->level - 1]);
    kk_events_emit(a->rootfd, dir, agent_now_ns(a), KK_EVENT_NORMAL, "Deleted", obj,
                   "its host objects and directory are gone");
}

static struct kk_cg_ref cg_ref_of(const struct kk_key *key)
{
    struct kk_cg_ref ref = {0};
    const char **slots[] = {&ref.realm, &ref.space, &ref.stack, &ref.cell};
    for (unsigned i = 0; i < key->level && i < 4; i++)
        *slots[i] = key->names[i];
    return ref;
}

/* Whether key has a trace of its own on the host under this agent's names
 * (agent/orphans.h): a cgroup, or for a space its IPAM file. */
static bool traced(struct agent_ctx *a, const char *keystr)
{
    struct kk_strv keys = {0};
    agent_orphans_traces(a, agent_orphans_cg_mount(a), &keys);
    bool found = false;
    for (size_t i = 0; i < keys.n && !found; i++)
        found = strcmp(keys.v[i], keystr) == 0;
    kk_strv_release(&keys);
    return found;
}

static bool cell_alive(const char *cellkey, void *ctx);

/* Spec gone: once no child is left, undo what the reconciler did and remove
 * the directory; the parent is then told. A directory already gone (removed
 * while the agent was not running, so no child of it is left in the tree)
 * is no reason to leave the host objects behind: if the resource has a
 * trace of its own, what it made is taken down all the same. */
static int delete_parent_level(struct agent_ctx *a, const struct kk_key *key,
                               const struct kk_status *prev)
{
    char buf[KK_KEY_STRLEN];
    kk_key_format(key, buf);
    _cleanup_free_ char *dir = kk_tree_dir(key);
    _cleanup_error_ kk_error *err = NULL;
    struct stat sb;
    agent_set_ready(a, buf, false);
    /* only a directory that is not there is gone: an unreadable one may
     * hold a live space, whose bridge must not go */
    int fr = fstatat(a->rootfd, dir, &sb, AT_SYMLINK_NOFOLLOW);
    if (fr < 0 && errno != ENOENT) {
        kk_log_warn("%s: delete: stat %s: %s", buf, dir, strerror(errno));
        return KK_QUEUE_RETRY;
    }
    bool gone = fr < 0;
    if (gone && !traced(a, buf)) {
        agent_mem_drop(a, buf);
        return KK_QUEUE_DONE;
    }
    if (gone) {
        kk_log_info("%s: orphan: no directory in the tree; taking down what it left", buf);
        /* Its cells are gone from the tree: their addresses, links and
         * namespaces go before the bridge they hang on. */
        if (key->level == KK_LEVEL_SPACE &&
            kk_net_reconcile(a->be.net, key->names[0], key->names[1], cell_alive, a, NULL, &err) <
                    0) {
            kk_log_warn("%s: delete: %s", buf, err->message);
            return KK_QUEUE_RETRY;
        }
    } else if (agent_has_children(a, key)) {
        _cleanup_(kk_status_freep) struct kk_status *st =
                kk_status_new((enum kk_kind)(key->level - 1), key->names[key->level - 1]);
        kk_status_set(st, KK_STATE_PENDING, "WaitingForChildren",
                      "spec removed; deleted once its children are gone");
        if (agent_status_write(a, key, st, prev, &err) < 0) {
            kk_log_warn("%s: %s", buf, err->message);
        } else {
            state_event(a, key, st, prev);
            agent_set_state(a, buf, st->state);
        }
        /* Children without a spec delete themselves and enqueue us. */
        return KK_QUEUE_DONE;
    }
    struct kk_cg_ref ref = cg_ref_of(key);
    if (key->level == KK_LEVEL_SPACE) {
        if (kk_fw_space_remove(a->be.fw, buf, &err) < 0 ||
            kk_net_space_remove(a->be.net, key->names[0], key->names[1], &err) < 0) {
            kk_log_warn("%s: delete: %s", buf, err->message);
            return KK_QUEUE_RETRY;
        }
    }
    if (agent_cg_remove(a, &ref, &err) < 0) {
        kk_log_warn("%s: delete: %s", buf, err->message);
        return KK_QUEUE_RETRY;
    }
    if (key->level == KK_LEVEL_REALM) {
        _cleanup_free_ char *ns = agent_realm_ns(a, key->names[0]);
        if (a->be.ctd->namespace_delete(a->be.ctd_self, ns, &err) < 0) {
            /* Images loaded by the user keep it; that is theirs to remove. */
            kk_log_info("%s: containerd namespace %s kept: %s", buf, ns, err->message);
            kk_error_freep(&err);
        }
    }
    if (!gone && kk_fs_remove_tree(a->rootfd, dir, &err) < 0) {
        kk_log_warn("%s: delete: %s", buf, err->message);
        return KK_QUEUE_RETRY;
    }
    kk_log_info("%s: deleted", buf);
    deleted_event(a, key);
    agent_mem_drop(a, buf);
    struct kk_key parent;
    if (kk_key_parent(key, &parent))
        agent_enqueue(a, kk_key_format(&parent, buf));
    return KK_QUEUE_DONE;
}

/* The common shape of the three reconcilers. `ensure` does the level's
 * work on a loaded spec and a Pending status; it returns < 0 with err. */
typedef int (*ensure_fn)(struct agent_ctx *a, const struct kk_key *key,
                         const struct kk_resource *spec, struct kk_status *st, kk_error **err);

static int reconcile_level(struct agent_ctx *a, const struct kk_key *key, ensure_fn ensure)
{
    char buf[KK_KEY_STRLEN];
    kk_key_format(key, buf);
    _cleanup_(kk_status_freep) struct kk_status *prev = agent_status_load(a, key);
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    _cleanup_error_ kk_error *err = NULL;
    int r = agent_spec_load(a, key, &spec, &err);
    if (r == 0)
        return delete_parent_level(a, key, prev);

    _cleanup_(kk_status_freep) struct kk_status *st =
            kk_status_new((enum kk_kind)(key->level - 1), key->names[key->level - 1]);
    int verdict = KK_QUEUE_DONE;
    if (r < 0) {
        /* A broken spec changes nothing that exists. */
        kk_status_set_error(st, KK_STATE_FAILED, "InvalidSpec", err);
        agent_set_ready(a, buf, false);
    } else if ((r = agent_parent_ready(a, key, st)) <= 0) {
        agent_set_ready(a, buf, false);
        if (r < 0)
            return KK_QUEUE_PARK;
        verdict = KK_QUEUE_PARK;
    } else {
        char hash[KK_HASH_SIZE];
        kk_model_spec_hash(spec, hash);
        st->observed_generation = kk_xstrdup(hash);
        if (ensure(a, key, spec, st, &err) < 0) {
            kk_status_set_error(st, KK_STATE_PENDING, "Error", err);
            kk_log_warn("%s: %s", buf, err->message);
            agent_set_ready(a, buf, false);
            verdict = KK_QUEUE_RETRY;
        } else {
            kk_status_set(st, KK_STATE_READY, NULL, NULL);
            agent_set_ready(a, buf, true);
        }
    }
    kk_error_freep(&err);
    if (agent_status_write(a, key, st, prev, &err) < 0) {
        kk_log_warn("%s: %s", buf, err->message);
        return KK_QUEUE_RETRY;
    }
    state_event(a, key, st, prev);
    agent_set_state(a, buf, st->state);
    return verdict;
}

static int ensure_realm(struct agent_ctx *a, const struct kk_key *key,
                        const struct kk_resource *spec, struct kk_status *st, kk_error **err)
{
    const char *realm = key->names[0];
    /* The model's default namespace follows the configured prefix. */
    _cleanup_free_ char *dflt = kk_xasprintf(KK_DEFAULT_NAMESPACE_PREFIX "%s", realm);
    const char *ns_spec = spec->realm.namespace_;
    _cleanup_free_ char *ns = !ns_spec || strcmp(ns_spec, dflt) == 0
                                      ? kk_xasprintf("%s%s", a->cfg.namespace_prefix, realm)
                                      : kk_xstrdup(ns_spec);
    const char *labels[] = {KK_LABEL_REALM, realm, NULL};
    if (a->be.ctd->namespace_create(a->be.ctd_self, ns, labels, true, err) < 0) {
        agent_note_ctd_error(a, *err);
        kk_error_reason(err, "ContainerdUnavailable");
        return kk_error_wrap(err, "containerd namespace %s", ns);
    }
    agent_set_realm_ns(a, realm, ns);
    st->namespace_ = kk_xstrdup(ns);
    struct kk_cg_ref ref = cg_ref_of(key);
    return agent_cg_ensure(a, &ref, 0, st, err);
}

/* kk_net_alive_fn: a cell is alive while its directory is in the tree. */
static bool cell_alive(const char *cellkey, void *ctx)
{
    struct agent_ctx *a = ctx;
    struct kk_key key;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_parse(&key, cellkey, &err) < 0 || key.level != KK_LEVEL_CELL)
        return true; /* not ours to judge: keep it */
    _cleanup_free_ char *dir = kk_tree_dir(&key);
    struct stat sb;
    return fstatat(a->rootfd, dir, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static int ensure_space(struct agent_ctx *a, const struct kk_key *key,
                        const struct kk_resource *spec, struct kk_status *st, kk_error **err)
{
    struct kk_net_space sp;
    struct kk_net_space_spec ns = {key->names[0], key->names[1], spec->space.network.subnet};
    if (kk_net_space_ensure(a->be.net, &ns, &sp, err) < 0)
        return kk_error_wrap(err, "network");
    char fwkey[KK_KEY_STRLEN];
    kk_key_format(key, fwkey);
    struct kk_fw_space fs = {fwkey, sp.bridge, sp.subnet};
    if (kk_fw_space_apply(a->be.fw, &fs, err) < 0)
        return kk_error_wrap(err, "firewall");
    /* Addresses, links and namespaces of cells that are gone (an agent
     * killed half-way through a delete) are released here. */
    unsigned removed = 0;
    if (kk_net_reconcile(a->be.net, key->names[0], key->names[1], cell_alive, a, &removed, err) < 0)
        return kk_error_wrap(err, "network cleanup");
    if (removed)
        kk_log_info("%s/%s: released the network of %u cells that are gone", key->names[0],
                    key->names[1], removed);
    st->subnet = kk_xstrdup(sp.subnet);
    st->bridge = kk_xstrdup(sp.bridge);
    struct kk_cg_ref ref = cg_ref_of(key);
    return agent_cg_ensure(a, &ref, 0, st, err);
}

static int ensure_stack(struct agent_ctx *a, const struct kk_key *key,
                        const struct kk_resource *spec, struct kk_status *st, kk_error **err)
{
    (void)spec;
    struct kk_cg_ref ref = cg_ref_of(key);
    return agent_cg_ensure(a, &ref, 0, st, err);
}

int agent_reconcile_realm(struct agent_ctx *a, const struct kk_key *key)
{
    return reconcile_level(a, key, ensure_realm);
}

int agent_reconcile_space(struct agent_ctx *a, const struct kk_key *key)
{
    return reconcile_level(a, key, ensure_space);
}

int agent_reconcile_stack(struct agent_ctx *a, const struct kk_key *key)
{
    return reconcile_level(a, key, ensure_stack);
}
