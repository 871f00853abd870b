/* The inbox: manifests dropped by people and tools, materialised into the
 * state tree as spec files annotated with their source, with a report per
 * file in _inbox/<file>.status.yaml; and pruning when a file goes away. */
#include "agent/internal.h"

#include <assert.h>
#include <stdio.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/inbox-index.h"
#include "fsapi/atomic.h"
#include "fsapi/fsutil.h"
#include "fsapi/hashmap.h"
#include "fsapi/inbox.h"
#include "fsapi/log.h"
#include "fsapi/manifest.h"
#include "fsapi/sha256.h"
#include "fsapi/yaml.h"

#define INBOX_FILES_MAX 4096

enum apply_result { RES_CREATED, RES_UPDATED, RES_UNCHANGED, RES_FAILED };
static const char *const result_names[] = {"created", "updated", "unchanged", "failed"};

struct report_entry {
    char key[KK_KEY_STRLEN];
    const char *kind;
    enum apply_result result;
    char *error;
};

/* The key a document names. */
static int doc_key(const struct kk_resource *r, struct kk_key *key, kk_error **err)
{
    switch (r->kind) {
    case KK_KIND_REALM:
        return kk_key_init(key, KK_LEVEL_REALM, r->realm.id, NULL, NULL, NULL, NULL, err);
    case KK_KIND_SPACE:
        return kk_key_init(key, KK_LEVEL_SPACE, r->space.realm_id, r->space.id, NULL, NULL, NULL,
                           err);
    case KK_KIND_STACK:
        return kk_key_init(key, KK_LEVEL_STACK, r->stack.realm_id, r->stack.space_id, r->stack.id,
                           NULL, NULL, err);
    case KK_KIND_CELL:
        return kk_key_init(key, KK_LEVEL_CELL, r->cell.realm_id, r->cell.space_id, r->cell.stack_id,
                           r->cell.id, NULL, err);
    case KK_KIND_CONTAINER:
        return kk_key_init(key, KK_LEVEL_CONTAINER, r->container.realm_id, r->container.space_id,
                           r->container.stack_id, r->container.cell_id, r->container.id, err);
    }
    return kk_error_set(err, KK_E_INVALID, "unknown kind");
}

/* The key whose reconcile acts on a spec (a container's cell). */
static void work_key(const struct kk_key *key, char out[KK_KEY_STRLEN])
{
    struct kk_key k = *key;
    if (k.level == KK_LEVEL_CONTAINER)
        kk_key_parent(key, &k);
    kk_key_format(&k, out);
}

/* ---- the ownership index ------------------------------------------------ */

/* Builds a's index from the tree again: called when an agent starts. The
 * index is emptied and filled in place, never replaced. */
static void index_fill(struct agent_ctx *a, struct agent_inbox_index *ix);

static void index_reset(struct agent_ctx *a)
{
    agent_inbox_index_clear(a->inbox_index);
    index_fill(a, a->inbox_index);
}

/* Whether rel (not followed) has exactly the permission bits `mode`: an
 * older agent wrote every spec 0644. */
static bool mode_is(int rootfd, const char *rel, mode_t mode)
{
    struct stat sb;
    return fstatat(rootfd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0 && (sb.st_mode & 07777) == mode;
}

/* Writes one spec file; returns the result. */
static enum apply_result write_spec(struct agent_ctx *a, struct agent_inbox_index *ix,
                                    struct kk_resource *r, const struct kk_key *key,
                                    const char *source, kk_error **err)
{
    if (source)
        kk_kvs_set(&r->meta.annotations, KK_ANNOTATION_SOURCE, source);
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    kk_model_emit_spec(r, &out);
    _cleanup_free_ char *rel = kk_tree_spec_path(key);
    _cleanup_free_ char *dir = kk_xstrdup(rel);
    *strrchr(dir, '/') = '\0';
    _cleanup_buf_ struct kk_buf cur = KK_BUF_INIT;
    _cleanup_error_ kk_error *rerr = NULL;
    bool existed = kk_fs_read_file(a->rootfd, rel, KK_SPEC_FILE_MAX, &cur, &rerr) == 0;
    if (existed && cur.len == out.len && memcmp(cur.data, out.data, out.len) == 0 &&
        mode_is(a->rootfd, rel, kk_model_spec_mode(r))) {
        if (source) {
            char k[KK_KEY_STRLEN];
            kk_key_format(key, k);
            agent_inbox_index_set_owner(ix, k, source);
        }
        return RES_UNCHANGED;
    }
    agent_note_self_write(a, rel, out.data, out.len);
    pthread_mutex_lock(&a->spec_lock);
    int w = kk_fs_mkdir_p(a->rootfd, dir, 0755, NULL, err) < 0 ||
                            kk_atomic_write(a->rootfd, rel, out.data, out.len,
                                            kk_model_spec_mode(r), err) < 0
                    ? -1
                    : 0;
    if (w == 0 && source) {
        char k[KK_KEY_STRLEN];
        kk_key_format(key, k);
        agent_inbox_index_set_owner(ix, k, source);
    }
    pthread_mutex_unlock(&a->spec_lock);
    agent_note_write(a, rel, w < 0 ? *err : NULL);
    if (w < 0) {
        kk_error_wrap(err, "%s", rel);
        return RES_FAILED;
    }
    return existed ? RES_UPDATED : RES_CREATED;
}

int agent_inbox_ensure_defaults(struct agent_ctx *a, kk_error **err)
{
    for (enum kk_key_level l = KK_LEVEL_REALM; l <= KK_LEVEL_STACK; l++) {
        struct kk_key key;
        if (kk_key_init(&key, l, KK_DEFAULT_NAME, KK_DEFAULT_NAME, KK_DEFAULT_NAME, NULL, NULL,
                        err) < 0)
            return -1;
        _cleanup_free_ char *rel = kk_tree_spec_path(&key);
        struct stat sb;
        if (fstatat(a->rootfd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            continue;
        _cleanup_(kk_resource_freep) struct kk_resource *r = kk_resource_new((enum kk_kind)(l - 1));
        r->meta.name = kk_xstrdup(KK_DEFAULT_NAME);
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        if (kk_model_normalize(r, NULL, &diags) != 0)
            return kk_error_set(err, KK_E_INTERNAL, "default %s does not normalise",
                                kk_kind_name(r->kind));
        if (write_spec(a, NULL, r, &key, NULL, err) == RES_FAILED)
            return -1;
        kk_log_info("%s: default %s created", rel, kk_kind_name(r->kind));
    }
    index_reset(a);
    return 0;
}

/* ---- reports ------------------------------------------------------------ */

static void ys(struct kk_ytree *t, struct kk_ynode *m, const char *k, const char *v)
{
    kk_ynode_set(t, m, k, kk_ytree_scalar(t, v, true));
}

static int write_report(struct agent_ctx *a, const char *name, const char *digest, bool valid,
                        const struct kk_diags *diags, const struct report_entry *v, size_t n,
                        kk_error **err)
{
    _cleanup_free_ char *rel = kk_tree_inbox_status_path(name);
    if (!rel)
        return 0;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *root = kk_ytree_map(t);
    ys(t, root, "apiVersion", KK_API_VERSION);
    ys(t, root, "kind", "InboxReport");
    struct kk_ynode *st = kk_ytree_map(t);
    kk_ynode_set(t, root, "status", st);
    ys(t, st, "file", name);
    if (digest)
        ys(t, st, "sha256", digest);
    kk_ynode_set(t, st, "valid", kk_ytree_scalar(t, valid ? "true" : "false", false));
    if (diags && diags->n) {
        struct kk_ynode *errs = kk_ytree_seq(t);
        kk_ynode_set(t, st, "errors", errs);
        for (size_t i = 0; i < diags->n; i++) {
            _cleanup_buf_ struct kk_buf line = KK_BUF_INIT;
            kk_diag_format(&diags->items[i], &line);
            kk_ynode_append(errs, kk_ytree_scalar(t, kk_buf_str(&line), true));
        }
    }
    struct kk_ynode *res = kk_ytree_seq(t);
    kk_ynode_set(t, st, "resources", res);
    for (size_t i = 0; i < n; i++) {
        struct kk_ynode *e = kk_ytree_map(t);
        ys(t, e, "key", v[i].key);
        ys(t, e, "kind", v[i].kind);
        ys(t, e, "result", result_names[v[i].result]);
        if (v[i].error)
            ys(t, e, "error", v[i].error);
        kk_ynode_append(res, e);
    }
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    kk_yaml_emit(root, &out);
    int w = kk_atomic_write_if_changed(a->rootfd, rel, out.data, out.len, 0644, err);
    /* A report found unchanged wrote nothing: no news about the disk (it
     * would clear a failure another write is still retrying). */
    if (w != 0)
        agent_note_write(a, rel, w < 0 ? *err : NULL);
    if (w < 0)
        return kk_error_wrap(err, "%s", rel);
    return 0;
}

/* ---- ownership and pruning ---------------------------------------------- */

/* Calls fn for every spec file of the tree. */
typedef void (*spec_fn)(struct agent_ctx *a, const struct kk_key *key, void *ud);

static void walk_specs(struct agent_ctx *a, const char *dir, int depth, spec_fn fn, void *ud)
{
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->rootfd, dir, KK_TREE_DIR_MAX, &list, &err) < 0)
        return;
    for (size_t i = 0; i < list.n; i++) {
        _cleanup_free_ char *rel = *dir ? kk_xasprintf("%s/%s", dir, list.entries[i].name)
                                        : kk_xstrdup(list.entries[i].name);
        struct kk_tree_class c;
        kk_tree_classify(rel, &c);
        if (c.file == KK_TREE_SPEC || c.file == KK_TREE_CONTAINER_SPEC)
            fn(a, &c.key, ud);
        else if ((c.file == KK_TREE_DIR || c.file == KK_TREE_CONTAINERS_DIR) && depth < 5)
            walk_specs(a, rel, depth + 1, fn, ud);
    }
}

/* Start-up: every spec's source annotation into a new index. A spec that
 * does not even mention the annotation is not parsed. */
static void index_spec(struct agent_ctx *a, const struct kk_key *key, void *ud)
{
    struct agent_inbox_index *ix = ud;
    _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *rel = kk_tree_spec_path(key);
    _cleanup_buf_ struct kk_buf raw = KK_BUF_INIT;
    if (kk_fs_read_file(a->rootfd, rel, KK_SPEC_FILE_MAX, &raw, &err) < 0 ||
        !memmem(raw.data, raw.len, KK_ANNOTATION_SOURCE, strlen(KK_ANNOTATION_SOURCE)))
        return;
    if (agent_spec_load(a, key, &r, &err) <= 0)
        return;
    const char *src = kk_kvs_get(&r->meta.annotations, KK_ANNOTATION_SOURCE);
    if (src) {
        char k[KK_KEY_STRLEN];
        kk_key_format(key, k);
        agent_inbox_index_set_owner(ix, k, src);
    }
}

static void index_fill(struct agent_ctx *a, struct agent_inbox_index *ix)
{
    walk_specs(a, "", 0, index_spec, ix);
}

/* Who key's spec names as its source now: 1 `name`, 0 another file or
 * none, -1 no spec (any more), 2 unknown (the spec does not load). */
static int owned_by(struct agent_ctx *a, const struct kk_key *key, const char *name, char **other)
{
    _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
    _cleanup_error_ kk_error *err = NULL;
    int l = agent_spec_load(a, key, &r, &err);
    if (l == 0)
        return -1;
    if (l < 0)
        return 2;
    const char *src = kk_kvs_get(&r->meta.annotations, KK_ANNOTATION_SOURCE);
    if (src && strcmp(src, name) == 0)
        return 1;
    *other = src ? kk_xstrdup(src) : NULL;
    return 0;
}

static int read_inbox_file(int inboxfd, const char *name, struct kk_buf *out,
                           struct agent_inbox_stamp *stamp, kk_error **err);

/* The keys inbox file `name` defines (its documents', a file that does not
 * load defines none), into the index with the stamp st. Read the way an
 * apply reads it (read_inbox_file): a fifo or a device put in the inbox
 * must not block the worker in open(2). */
static void define_from_file(struct agent_inbox_index *ix, int inboxfd, const char *name,
                             const struct agent_inbox_stamp *st)
{
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    struct agent_inbox_stamp read_st;
    if (read_inbox_file(inboxfd, name, &data, &read_st, &err) < 0 ||
        kk_manifest_load_buffer(name, kk_buf_str(&data), data.len, &m, &diags, &err) < 0) {
        if (kk_error_code(err) == KK_E_NOT_FOUND)
            agent_inbox_index_forget(ix, name);
        else
            agent_inbox_index_define(ix, name, st, NULL, 0);
        return;
    }
    char(*keys)[KK_KEY_STRLEN] = kk_xcalloc(m->n ? m->n : 1, sizeof(*keys));
    const char **kv = kk_xcalloc(m->n ? m->n : 1, sizeof(*kv));
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct kk_key k;
        if (doc_key(m->docs[i], &k, &err) == 0) {
            kk_key_format(&k, keys[n]);
            kv[n] = keys[n];
            n++;
        }
        kk_error_freep(&err);
    }
    agent_inbox_index_define(ix, name, st, kv, n);
    free(kv);
    free(keys);
}

/* Brings the index's definitions up to date with the inbox as it is on
 * disk: a file is parsed again only if its stamp changed since (a file
 * saved but not applied yet counts with its new content, as it did when
 * every file was parsed for every orphan); files gone are forgotten.
 * `except` (the file being pruned) is left alone. One readdir and one stat
 * per file: called once per prune that has something to remove. */
static void refresh_definitions(struct agent_ctx *a, struct agent_inbox_index *ix,
                                const char *except)
{
    _cleanup_closedir_ DIR *d = opendir(a->cfg.manifests);
    if (!d)
        return;
    struct kk_hashmap seen = KK_HASHMAP_INIT;
    struct dirent *e;
    unsigned count = 0;
    while ((e = readdir(d)) && count++ < INBOX_FILES_MAX) {
        if (!kk_inbox_name_counts(e->d_name) || strcmp(e->d_name, except) == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, 0) < 0)
            continue;
        kk_hashmap_put(&seen, e->d_name, NULL);
        struct agent_inbox_stamp st;
        agent_inbox_stamp_of(&sb, &st);
        if (!agent_inbox_index_is_current(ix, e->d_name, &st))
            define_from_file(ix, dirfd(d), e->d_name, &st);
    }
    _cleanup_strv_ char **files = agent_inbox_index_files(ix);
    for (char **f = files; *f; f++)
        if (strcmp(*f, except) != 0 && !kk_hashmap_has(&seen, *f))
            agent_inbox_index_forget(ix, *f);
    kk_hashmap_clear(&seen, NULL);
}

/* Removes the specs `name` owned that are not in keep[]: they are
 * deleted, unless another inbox file defines them (then that file is
 * applied again and takes them over, without a restart). What `name` owns
 * comes from the index, not from a walk of the tree; each removal is
 * checked against the spec's own annotation under the spec lock. */
static void prune(struct agent_ctx *a, struct agent_inbox_index *ix, const char *name,
                  const struct kk_key *keep, size_t n_keep)
{
    size_t n_owned;
    _cleanup_strv_ char **owned = agent_inbox_index_owned(ix, name, &n_owned);
    bool refreshed = false;
    for (size_t i = 0; i < n_owned; i++) {
        struct kk_key key;
        _cleanup_error_ kk_error *kerr = NULL;
        if (kk_key_parse(&key, owned[i], &kerr) < 0) {
            agent_inbox_index_set_owner(ix, owned[i], NULL);
            continue;
        }
        bool kept = false;
        for (size_t j = 0; j < n_keep && !kept; j++)
            kept = kk_key_equal(&key, &keep[j]);
        if (kept)
            continue;
        char buf[KK_KEY_STRLEN];
        kk_key_format(&key, buf);
        if (!refreshed) {
            refresh_definitions(a, ix, name);
            refreshed = true;
        }
        _cleanup_free_ char *owner = agent_inbox_index_definer(ix, buf, name);
        if (owner) {
            /* Left in place, so the spec never disappears, for the owner's
             * own run to take over (one worker per key: not run here). */
            kk_log_info("%s: now owned by inbox file %s", buf, owner);
            _cleanup_free_ char *owner_key = kk_xasprintf(INBOX_KEY_PREFIX "%s", owner);
            agent_enqueue(a, owner_key);
            continue;
        }
        _cleanup_free_ char *rel = kk_tree_spec_path(&key);
        _cleanup_free_ char *other = NULL;
        _cleanup_error_ kk_error *err = NULL;
        /* Under the lock every spec write takes: another file's apply may
         * have rewritten the spec since the index said it was ours. */
        pthread_mutex_lock(&a->spec_lock);
        int mine = owned_by(a, &key, name, &other);
        int r = 0;
        if (mine == 1) {
            agent_note_self_remove(a, rel);
            r = kk_fs_unlink(a->rootfd, rel, &err);
        }
        if (mine < 0 || (mine == 1 && r == 0))
            agent_inbox_index_set_owner(ix, buf, NULL);
        else if (mine == 0)
            agent_inbox_index_set_owner(ix, buf, other);
        pthread_mutex_unlock(&a->spec_lock);
        if (mine == 2) {
            /* not a takeover: the owner stays recorded, so the next prune
             * of this file (a resync) finds it again */
            kk_log_warn("%s: prune: its spec does not load; left in place", buf);
            continue;
        }
        if (mine < 0)
            continue; /* removed meanwhile (kuke delete): nothing to prune */
        if (mine == 0) {
            kk_log_info("%s: taken over by another inbox file", buf);
            continue;
        }
        if (r < 0) {
            kk_log_warn("%s: prune: %s", buf, err->message);
            continue;
        }
        kk_log_info("%s: pruned (inbox file %s)", buf, name);
        work_key(&key, buf);
        agent_enqueue(a, buf);
    }
}

/* ---- one inbox file ----------------------------------------------------- */

/* Reads inbox file `name`. Unlike the state tree, the inbox is written by
 * people and tools, and a symlink in it (a manifest kept elsewhere, a
 * symlink farm) is followed; what it names must be a regular file of at
 * most KK_YAML_MAX_INPUT bytes. */
static int read_inbox_file(int inboxfd, const char *name, struct kk_buf *out,
                           struct agent_inbox_stamp *stamp, kk_error **err)
{
    /* The report of an inbox file is world-readable and may quote it: a
     * symlink (a synced git tree can bring one) is followed only to a file
     * everyone may read anyway, never to a root-only one. A regular file in
     * the inbox was put there by whoever may write it, and may be 0600.
     * Decided on the descriptor that is read, so swapping the name between
     * a check and the read cannot get a private file through. */
    const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    bool via_link = false;
    _cleanup_close_ int fd = openat(inboxfd, name, flags | O_NOFOLLOW);
    if (fd < 0 && errno == ELOOP) {
        via_link = true;
        fd = openat(inboxfd, name, flags);
    }
    if (fd < 0)
        return kk_error_errno(err, "open %s", name);
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return kk_error_errno(err, "stat %s", name);
    if (!S_ISREG(sb.st_mode))
        return kk_error_set(err, KK_E_INVALID, "%s: not a regular file", name);
    if (via_link && !(sb.st_mode & S_IROTH))
        return kk_error_set(err, KK_E_INVALID,
                            "%s: a symlink to a file that is not world-readable: refused "
                            "(copy the file into the inbox instead)",
                            name);
    if (sb.st_size > KK_YAML_MAX_INPUT)
        return kk_error_set(err, KK_E_EXHAUSTED, "%s: larger than %d bytes", name,
                            KK_YAML_MAX_INPUT);
    int r = kk_buf_read_fd(out, fd, KK_YAML_MAX_INPUT);
    if (r < 0)
        return kk_error_errnum(err, -r, "read %s", name);
    agent_inbox_stamp_of(&sb, stamp);
    return 0;
}

/* The inbox file could not be read. A file that is not a regular one, or
 * too large, is reported and nothing changes; one that is gone has its
 * resources pruned, once it stayed missing for the grace period. */
static int inbox_unreadable(struct agent_ctx *a, const char *name, bool have_inbox, kk_error **err)
{
    /* The caller's failing call set *err (fsapi/error.h), in another file:
     * the assert states it for clang's analyzer, which sees one file. */
    assert(*err);
    if (have_inbox &&
        (kk_error_code(*err) == KK_E_INVALID || kk_error_code(*err) == KK_E_EXHAUSTED)) {
        /* Nothing a retry would fix: say so, change nothing. */
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        kk_diags_add(&diags, name, 0, 0, "", "%s", (*err)->message);
        kk_log_warn("inbox %s: %s", name, (*err)->message);
        kk_error_freep(err);
        if (write_report(a, name, NULL, false, &diags, NULL, 0, err) < 0) {
            kk_log_warn("inbox %s: %s", name, (*err)->message);
            return KK_QUEUE_RETRY; /* a full or read-only disk: the report is not lost */
        }
        return KK_QUEUE_DONE;
    }
    if (kk_error_code(*err) != KK_E_NOT_FOUND) {
        kk_log_warn("inbox %s: %s", name, (*err)->message);
        return KK_QUEUE_RETRY;
    }
    if (!have_inbox)
        return KK_QUEUE_DONE;  /* no inbox at all: nothing to prune from */
    if (!agent_test_mode(a)) { /* test mode runs keys by hand: no grace there */
        _cleanup_free_ char *key = kk_xasprintf(INBOX_KEY_PREFIX "%s", name);
        struct res_mem *m = agent_mem(a, key);
        int64_t now = agent_mono_ms(a);
        if (!m->inbox_missing_ms)
            m->inbox_missing_ms = now;
        int64_t waited = now - m->inbox_missing_ms;
        if (waited < INBOX_REMOVE_GRACE_MS) {
            agent_enqueue_after(a, key, (unsigned)(INBOX_REMOVE_GRACE_MS - waited));
            return KK_QUEUE_DONE;
        }
        agent_mem_drop(a, key);
    }
    kk_log_info("inbox %s: removed", name);
    struct agent_inbox_index *ix = a->inbox_index;
    agent_inbox_index_forget(ix, name);
    prune(a, ix, name, NULL, 0);
    _cleanup_free_ char *rel = kk_tree_inbox_status_path(name);
    kk_error_freep(err);
    if (rel)
        kk_fs_unlink(a->rootfd, rel, err);
    return KK_QUEUE_DONE;
}

/* Writes the specs of a valid manifest, prunes what it no longer defines
 * and writes its report. */
/* Applies a valid file; returns the number of writes that failed (a full
 * or read-only disk: worth retrying, unlike an invalid document). */
static unsigned inbox_apply(struct agent_ctx *a, const char *name, const struct kk_manifest *m,
                            const char *digest, const struct agent_inbox_stamp *stamp)
{
    _cleanup_error_ kk_error *err = NULL;
    struct agent_inbox_index *ix = a->inbox_index;
    unsigned failed = 0;
    struct report_entry *entries = kk_xcalloc(m->n ? m->n : 1, sizeof(*entries));
    struct kk_key *keys = kk_xcalloc(m->n ? m->n : 1, sizeof(*keys));
    const char **key_names = kk_xcalloc(m->n ? m->n : 1, sizeof(*key_names));
    size_t n_keys = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct report_entry *e = &entries[i];
        e->kind = kk_kind_name(m->docs[i]->kind);
        struct kk_key key;
        if (doc_key(m->docs[i], &key, &err) < 0) {
            e->result = RES_FAILED;
            e->error = kk_xstrdup(err->message);
            kk_error_freep(&err);
            continue;
        }
        kk_key_format(&key, e->key);
        key_names[n_keys] = e->key;
        keys[n_keys++] = key;
        e->result = write_spec(a, ix, m->docs[i], &key, name, &err);
        if (e->result == RES_FAILED) {
            failed++;
            e->error = kk_xstrdup(err->message);
            kk_log_warn("inbox %s: %s: %s", name, e->key, err->message);
            kk_error_freep(&err);
            continue;
        }
        if (e->result != RES_UNCHANGED) {
            kk_log_info("inbox %s: %s %s %s", name, e->kind, e->key, result_names[e->result]);
            char wk[KK_KEY_STRLEN];
            work_key(&key, wk);
            agent_enqueue(a, wk);
        }
    }
    agent_inbox_index_define(ix, name, stamp, key_names, n_keys);
    prune(a, ix, name, keys, n_keys);
    if (write_report(a, name, digest, true, NULL, entries, m->n, &err) < 0) {
        failed++;
        kk_log_warn("inbox %s: %s", name, err->message);
    }
    for (size_t i = 0; i < m->n; i++)
        free(entries[i].error);
    free(entries);
    free(keys);
    free(key_names);
    return failed;
}

int agent_reconcile_inbox(struct agent_ctx *a, const char *name)
{
    _cleanup_error_ kk_error *err = NULL;
    if (!kk_inbox_name_counts(name))
        return KK_QUEUE_DONE;
    _cleanup_close_ int inboxfd = kk_fs_open_root(a->cfg.manifests, &err);
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    struct agent_inbox_stamp stamp;
    if (inboxfd < 0 || read_inbox_file(inboxfd, name, &data, &stamp, &err) < 0)
        return inbox_unreadable(a, name, inboxfd >= 0, &err);
    if (!agent_test_mode(a)) { /* there (again): any grace in progress is over */
        _cleanup_free_ char *key = kk_xasprintf(INBOX_KEY_PREFIX "%s", name);
        agent_mem_drop(a, key);
    }
    char digest[KK_SHA256_DIGEST_SIZE];
    kk_sha256_digest(data.data ? data.data : "", data.len, digest);
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    if (kk_manifest_load_buffer(name, data.data ? data.data : "", data.len, &m, &diags, &err) < 0) {
        /* Nothing of an invalid file is applied; what runs keeps running. */
        if (!diags.n)
            kk_diags_add(&diags, name, 0, 0, "", "%s", err->message);
        kk_log_warn("inbox %s: invalid (%zu errors), nothing applied", name, diags.n);
        agent_inbox_index_define(a->inbox_index, name, &stamp, NULL, 0);
        kk_error_freep(&err);
        if (write_report(a, name, digest, false, &diags, NULL, 0, &err) < 0) {
            kk_log_warn("inbox %s: %s", name, err->message);
            return KK_QUEUE_RETRY; /* a full or read-only disk: the report is not lost */
        }
        return KK_QUEUE_DONE;
    }
    /* A write that failed is tried again with the queue's backoff, so the
     * file is applied once space (or write access) is back. */
    return inbox_apply(a, name, m, digest, &stamp) ? KK_QUEUE_RETRY : KK_QUEUE_DONE;
}
