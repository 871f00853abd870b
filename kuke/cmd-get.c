/* kuke get realms|spaces|stacks|cells|containers|inbox [NAME] [-o yaml|json|wide] [-w]
 *
 * Reads the state tree: which resources exist (their directories and spec
 * files) and what the agent observed (status.yaml). Output follows
 * kubectl: a table whose STATUS column is the state or, when there is
 * one, the reason (ImagePullBackOff says more than Pending); -o yaml and
 * -o json print each resource as its spec with the status attached, a
 * listing always as one List and a lookup by name as the object itself.
 * `inbox` lists the agent's reports on the manifests of the inbox.
 *
 * -w prints the listing, then watches the tree with inotify and prints a
 * resource again (a row, or a document) each time its spec or status file
 * changes content. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "fsapi/inbox.h"
#include "fsapi/manifest.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "kuke/output.h"
#include "kuke/watch.h"

#define MAX_ENTRIES 100000
#define KIND_INBOX  (-2) /* not a resource kind: the inbox reports */

/* What -w last saw of a resource: its status and spec files' content. */
struct seen {
    char key[KK_KEY_STRLEN];
    char *snapshot;
    size_t len;
};

struct get_opts {
    struct kuke_ctx ctx;
    int kind; /* enum kk_kind, or KIND_INBOX */
    const char *kind_word;
    const char *name; /* NULL: all */
    const char *cell; /* containers: limit to this cell */
    enum kuke_output output;
    bool watch;
    struct kuke_table table;
    struct kuke_docs docs; /* -o yaml / json */
    size_t found;
    struct seen *seen; /* -w */
    size_t n_seen, cap_seen;
    bool streamed; /* -w -o yaml: a document was printed */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke get realms|spaces|stacks|cells|containers|inbox [NAME] [-o FORMAT] [-w]\n"
            "  -o, --output FORMAT  yaml, json or wide (default: a table)\n"
            "  -w, --watch          after the listing, print each resource again when it "
            "changes\n"
            "  --cell NAME          containers: only those of this cell\n%s",
            kuke_common_help);
}

static bool is_doc_output(const struct get_opts *g)
{
    return g->output == KUKE_OUTPUT_YAML || g->output == KUKE_OUTPUT_JSON;
}

/* kubectl's STATUS: the reason when there is one, it says more than the
 * state (ImagePullBackOff, CrashLoopBackOff, Terminating, Completed), else
 * the state. A reason that only says who asked (StoppedByUser,
 * PausedByUser) shows the state it led to. Whatever the files hold is
 * shown: no list of known states or reasons here. */
static const char *status_word(bool known, int state, const char *reason)
{
    if (!known)
        return "Unknown";
    size_t n = reason ? strlen(reason) : 0;
    if (n && !(n > 6 && strcmp(reason + n - 6, "ByUser") == 0))
        return reason;
    const char *s = kk_state_name((enum kk_state)state);
    return s && *s ? s : "Unknown";
}

/* "3", or "3 (2m ago)" since the latest start of a restarted container. */
static void format_restarts(const struct kk_status *st, char buf[64])
{
    unsigned long total = 0;
    int64_t last = 0;
    for (size_t i = 0; st && i < st->n_containers; i++) {
        total += st->containers[i].restart_count;
        if (st->containers[i].restart_count && st->containers[i].started_at > last)
            last = st->containers[i].started_at;
    }
    char age[32];
    kuke_format_age(last, age);
    if (total && *age)
        snprintf(buf, 64, "%lu (%s ago)", total, age);
    else
        snprintf(buf, 64, "%lu", total);
}

static void add_row(struct get_opts *g, const struct kk_key *key, const struct kk_status *st,
                    const struct kk_resource *spec)
{
    char age[32], ready[32], restarts[64];
    bool wide = g->output == KUKE_OUTPUT_WIDE;
    kuke_format_age(st ? st->created_at : 0, age);
    const char *status = status_word(st != NULL, st ? st->state : 0, st ? st->reason : NULL);
    const char *message = wide ? (st && st->message ? st->message : "") : NULL;
    const char *name = key->names[key->level - 1];
    switch ((enum kk_kind)g->kind) {
    case KK_KIND_REALM:
        kuke_table_row(&g->table, name, status, st && st->namespace_ ? st->namespace_ : "", age,
                       message, NULL);
        break;
    case KK_KIND_SPACE:
        kuke_table_row(&g->table, name, status, st && st->subnet ? st->subnet : "",
                       st && st->bridge ? st->bridge : "", age, message, NULL);
        break;
    case KK_KIND_STACK:
        kuke_table_row(&g->table, name, status, age, message, NULL);
        break;
    case KK_KIND_CELL: {
        size_t n = spec ? spec->cell.n_containers : 0, up = 0;
        for (size_t i = 0; st && i < st->n_containers; i++)
            up += st->containers[i].state == KK_STATE_READY;
        if (st && st->n_containers > n)
            n = st->n_containers; /* standalone containers count too */
        snprintf(ready, sizeof(ready), "%zu/%zu", up, n > up ? n : up);
        format_restarts(st, restarts);
        const char *cells[] = {name,
                               ready,
                               status,
                               restarts,
                               age,
                               wide ? (st && st->ip ? st->ip : "") : NULL,
                               st && st->cgroup_path ? st->cgroup_path : "",
                               message};
        kuke_table_rowv(&g->table, cells, KK_ARRAY_SIZE(cells));
        break;
    }
    case KK_KIND_CONTAINER:
        break;
    }
}

static void add_container_rows(struct get_opts *g, const struct kk_key *cell,
                               const struct kk_status *st)
{
    for (size_t i = 0; st && i < st->n_containers; i++) {
        const struct kk_container_status *cs = &st->containers[i];
        if (g->name && strcmp(cs->id, g->name) != 0)
            continue;
        char pid[16] = "", restarts[16], started[32];
        if (cs->pid)
            snprintf(pid, sizeof(pid), "%u", cs->pid);
        snprintf(restarts, sizeof(restarts), "%u", cs->restart_count);
        kuke_format_age(cs->started_at, started);
        bool wide = g->output == KUKE_OUTPUT_WIDE;
        const char *cells[] = {cell->names[3],
                               cs->id,
                               status_word(true, cs->state, cs->reason),
                               restarts,
                               pid,
                               started,
                               wide ? (cs->image ? cs->image : "") : NULL,
                               cs->message ? cs->message : ""};
        kuke_table_rowv(&g->table, cells, KK_ARRAY_SIZE(cells));
        g->found++;
    }
}

/* The status of st as a tree (its "status" mapping), kept alive in *keep. */
static struct kk_ynode *status_tree(const struct kk_status *st, struct kk_ytree **keep)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    kk_status_emit(st, &b);
    if (kk_yaml_parse(NULL, b.data, b.len, keep, &diags) < 0 || (*keep)->ndocs != 1)
        return NULL;
    return kk_ynode_get((*keep)->docs[0].root, "status");
}

/* One document: printed at once with -w, else added to the listing. */
static void add_doc(struct get_opts *g, const struct kk_ynode *doc)
{
    if (!g->watch) {
        kuke_docs_add(&g->docs, doc);
        return;
    }
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    kuke_doc_stream(g->output, doc, g->streamed, &out);
    g->streamed = true;
    fwrite(out.data, 1, out.len, stdout);
}

static void emit_doc(struct get_opts *g, const struct kk_resource *spec, const struct kk_status *st)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *root = spec ? kk_model_spec_tree(t, spec) : kk_ytree_map(t);
    _cleanup_(kk_ytree_freep) struct kk_ytree *st_tree = NULL;
    struct kk_ynode *s = st ? status_tree(st, &st_tree) : NULL;
    if (!spec && st) { /* a status without a spec: still say what it is */
        kuke_yset(t, root, "apiVersion", KK_API_VERSION);
        kuke_yset(t, root, "kind", kk_kind_name(st->kind));
        struct kk_ynode *meta = kk_ytree_map(t);
        kuke_yset(t, meta, "name", st->name ? st->name : "");
        kk_ynode_set(t, root, "metadata", meta);
    }
    if (s)
        kk_ynode_set(t, root, "status", s);
    add_doc(g, root);
}

/* Each container as a document: its spec (from the cell, or its own file
 * for a standalone one) and its entry of the cell's status. */
static void emit_container_docs(struct get_opts *g, const struct kk_key *cell,
                                const struct kk_status *st, const struct kk_resource *spec)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *st_tree = NULL;
    struct kk_ynode *entries = st ? kk_ynode_get(status_tree(st, &st_tree), "containers") : NULL;
    for (size_t i = 0; st && i < st->n_containers; i++) {
        const char *id = st->containers[i].id;
        if (g->name && strcmp(id, g->name) != 0)
            continue;
        _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
        _cleanup_(kk_resource_freep) struct kk_resource *own = NULL;
        struct kk_ynode *doc = NULL;
        for (size_t j = 0; spec && j < spec->cell.n_containers && !doc; j++) {
            if (strcmp(spec->cell.containers[j].id, id) != 0)
                continue;
            doc = kk_ytree_map(t);
            kuke_yset(t, doc, "apiVersion", KK_API_VERSION);
            kuke_yset(t, doc, "kind", "Container");
            struct kk_ynode *meta = kk_ytree_map(t);
            kuke_yset(t, meta, "name", id);
            kk_ynode_set(t, doc, "metadata", meta);
            kk_ynode_set(t, doc, "spec",
                         kk_codec_encode(t, &kk_container_schema, &spec->cell.containers[j]));
        }
        struct kk_key key;
        _cleanup_error_ kk_error *ignored = NULL; /* no spec of its own: status only */
        if (!doc &&
            kk_key_init(&key, KK_LEVEL_CONTAINER, cell->names[0], cell->names[1], cell->names[2],
                        cell->names[3], id, &ignored) == 0 &&
            kuke_load_spec(&g->ctx, &key, KK_KIND_CONTAINER, &own, &ignored) == 0)
            doc = kk_model_spec_tree(t, own);
        if (!doc) {
            doc = kk_ytree_map(t);
            kuke_yset(t, doc, "apiVersion", KK_API_VERSION);
            kuke_yset(t, doc, "kind", "Container");
            struct kk_ynode *meta = kk_ytree_map(t);
            kuke_yset(t, meta, "name", id);
            kk_ynode_set(t, doc, "metadata", meta);
        }
        for (size_t k = 0; entries && k < entries->n; k++) {
            struct kk_ynode *e = entries->items[k];
            struct kk_ynode *eid = kk_ynode_get(e, "id");
            if (eid && strcmp(eid->value, id) == 0) {
                kk_ynode_set(t, doc, "status", e);
                break;
            }
        }
        add_doc(g, doc);
        g->found++;
    }
}

/* What -w compares: the status and spec files of key, as bytes. */
static void snapshot(const struct get_opts *g, const struct kk_key *key, struct kk_buf *all)
{
    _cleanup_free_ char *status = kk_tree_status_path(key);
    _cleanup_free_ char *spec = kk_tree_spec_path(key);
    const char *files[] = {status, spec};
    for (size_t i = 0; i < KK_ARRAY_SIZE(files); i++) {
        _cleanup_error_ kk_error *ignored = NULL; /* missing: an empty part */
        _cleanup_buf_ struct kk_buf part = KK_BUF_INIT;
        if (kk_fs_read_file(g->ctx.rootfd, files[i], KK_STATUS_FILE_MAX, &part, &ignored) == 0)
            kk_buf_add(all, part.data, part.len);
        kk_buf_addch(all, '\0'); /* the two parts stay apart */
    }
}

/* Records key's snapshot; false if -w already showed exactly this. Sets
 * *gone when both files just disappeared (the resource was deleted). */
static bool changed(struct get_opts *g, const struct kk_key *key, bool *gone)
{
    char k[KK_KEY_STRLEN];
    kk_key_format(key, k);
    _cleanup_buf_ struct kk_buf snap = KK_BUF_INIT;
    snapshot(g, key, &snap);
    struct seen *s = NULL;
    for (size_t i = 0; i < g->n_seen && !s; i++)
        if (strcmp(g->seen[i].key, k) == 0)
            s = &g->seen[i];
    if (s && s->len == snap.len && memcmp(s->snapshot, snap.data, snap.len) == 0)
        return false;
    *gone = s && snap.len == 2 && s->len > 2; /* "\0\0": neither file is left */
    if (!s) {
        void *p = g->seen;
        kk_xgrow(&p, &g->cap_seen, g->n_seen + 1, sizeof(*g->seen));
        g->seen = p;
        s = &g->seen[g->n_seen++];
        memcpy(s->key, k, sizeof(k));
    } else {
        free(s->snapshot);
    }
    s->snapshot = kk_buf_detach(&snap, &s->len);
    return true;
}

/* -w: a row for a deleted resource (kubectl prints one too), its STATUS
 * "Deleted": its spec and status files are gone. */
static void show_deleted(struct get_opts *g, const struct kk_key *key)
{
    if (g->kind == KK_KIND_CONTAINER)
        return; /* its rows were its cell's status entries: nothing to name */
    if (is_doc_output(g))
        return; /* a document would have to make up a status: none is printed */
    const char *name = key->names[key->level - 1];
    const char *cells[] = {name, "Deleted"};
    if (g->kind == KK_KIND_CELL)
        kuke_table_row(&g->table, name, "", "Deleted", NULL);
    else
        kuke_table_rowv(&g->table, cells, KK_ARRAY_SIZE(cells));
}

static void show(struct get_opts *g, const struct kk_key *key)
{
    bool gone = false;
    if (g->watch && !changed(g, key, &gone))
        return;
    if (gone) {
        show_deleted(g, key);
        return;
    }
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    _cleanup_(kk_status_freep) struct kk_status *st = NULL;
    _cleanup_error_ kk_error *err = NULL;
    enum kk_kind spec_kind = (enum kk_kind)(key->level - 1);
    int r = kuke_load_spec(&g->ctx, key, spec_kind, &spec, &err);
    if (r < 0)
        fprintf(stderr, "kuke get: %s\n", err->message);
    kuke_load_status(&g->ctx, key, &st);
    if (r != 0 && !st)
        return; /* a directory that is not (or no longer) a resource */
    if (g->kind == KK_KIND_CONTAINER) {
        if (is_doc_output(g))
            emit_container_docs(g, key, st, spec);
        else
            add_container_rows(g, key, st);
        return;
    }
    if (is_doc_output(g))
        emit_doc(g, spec, st);
    else
        add_row(g, key, st, spec);
    g->found++;
}

/* Whether key (a realm .. cell) is one this listing shows. */
static bool key_matches(const struct get_opts *g, const struct kk_key *key)
{
    enum kk_key_level level =
            g->kind == KK_KIND_CONTAINER ? KK_LEVEL_CELL : (enum kk_key_level)(g->kind + 1);
    if (key->level != level)
        return false;
    const char *parents[] = {g->ctx.realm, g->ctx.space, g->ctx.stack};
    for (size_t i = 0; i + 1 < level && i < KK_ARRAY_SIZE(parents); i++)
        if (strcmp(key->names[i], parents[i]) != 0)
            return false;
    const char *name = key->names[level - 1];
    if (g->name && g->kind != KK_KIND_CONTAINER && strcmp(name, g->name) != 0)
        return false;
    return !g->cell || strcmp(name, g->cell) == 0;
}

/* Visits every resource directory at `level` beneath `parent`. */
static int walk(struct get_opts *g, const struct kk_key *parent, enum kk_key_level level,
                kk_error **err)
{
    _cleanup_free_ char *rel = parent->level ? kk_tree_dir(parent) : kk_xstrdup("");
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *list_err = NULL;
    if (kk_fs_list_dir(g->ctx.rootfd, rel, MAX_ENTRIES, &list, &list_err) < 0) {
        if (kk_error_code(list_err) == KK_E_NOT_FOUND)
            return 0;
        *err = TAKE_PTR(list_err);
        return -1;
    }
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (list.entries[i].type != DT_DIR || !kk_name_valid_n(name, strlen(name)))
            continue;
        struct kk_key key = *parent;
        key.level = parent->level + 1;
        snprintf(key.names[parent->level], sizeof(key.names[0]), "%s", name);
        if (key.level == level && key_matches(g, &key))
            show(g, &key);
    }
    return 0;
}

static int list_resources(struct get_opts *g, kk_error **err)
{
    struct kk_key parent = {.level = KK_LEVEL_NONE};
    enum kk_key_level level =
            g->kind == KK_KIND_CONTAINER ? KK_LEVEL_CELL : (enum kk_key_level)(g->kind + 1);
    if (level > KK_LEVEL_REALM && kk_key_init(&parent, (enum kk_key_level)(level - 1), g->ctx.realm,
                                              g->ctx.space, g->ctx.stack, NULL, NULL, err) < 0)
        return -1;
    return walk(g, &parent, level, err);
}

/* ---- the inbox ------------------------------------------------------------ */

/* One report of _inbox/<file>.status.yaml (agent/inbox.c write_report). */
static void inbox_row(struct get_opts *g, const char *file, const struct kk_ynode *doc)
{
    const struct kk_ynode *st = kk_ynode_get(doc, "status");
    const struct kk_ynode *valid = kk_ynode_get(st, "valid");
    const struct kk_ynode *errors = kk_ynode_get(st, "errors");
    const struct kk_ynode *res = kk_ynode_get(st, "resources");
    const char *error = "";
    if (errors && errors->type == KK_YSEQ && errors->n && errors->items[0]->type == KK_YSCALAR)
        error = errors->items[0]->value;
    /* A valid file may still have a resource that could not be written. */
    for (size_t i = 0; !*error && res && res->type == KK_YSEQ && i < res->n; i++) {
        const struct kk_ynode *e = kk_ynode_get(res->items[i], "error");
        if (e && e->type == KK_YSCALAR)
            error = e->value;
    }
    char count[32] = "";
    if (res && res->type == KK_YSEQ)
        snprintf(count, sizeof(count), "%zu", res->n);
    const char *v = valid && valid->type == KK_YSCALAR ? valid->value : "";
    kuke_table_row(&g->table, file,
                   strcmp(v, "true") == 0    ? "yes"
                   : strcmp(v, "false") == 0 ? "no"
                                             : "?",
                   count, error, NULL);
}

/* The manifest files of the inbox directory that have no report yet. */
static void inbox_unreported(struct get_opts *g, const struct kk_fs_list *reports)
{
    _cleanup_error_ kk_error *ignored = NULL; /* no inbox directory: nothing waits */
    _cleanup_close_ int fd = kk_fs_open_root(g->ctx.inbox_dir, &ignored);
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    if (fd < 0 || kk_fs_list_dir(fd, "", MAX_ENTRIES, &list, &ignored) < 0)
        return;
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (!kk_inbox_name_counts(name) || (g->name && strcmp(name, g->name) != 0))
            continue;
        bool reported = false;
        size_t n = strlen(name);
        for (size_t j = 0; j < reports->n && !reported; j++)
            reported = strncmp(reports->entries[j].name, name, n) == 0 &&
                       strcmp(reports->entries[j].name + n, ".status.yaml") == 0;
        if (reported)
            continue;
        if (is_doc_output(g)) {
            _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
            struct kk_ynode *doc = kk_ytree_map(t);
            kuke_yset(t, doc, "apiVersion", KK_API_VERSION);
            kuke_yset(t, doc, "kind", "InboxReport");
            struct kk_ynode *st = kk_ytree_map(t);
            kuke_yset(t, st, "file", name);
            kk_ynode_set(t, doc, "status", st);
            kuke_docs_add(&g->docs, doc);
        } else {
            kuke_table_row(&g->table, name, "?", "", "no report yet (is kukeond running?)", NULL);
        }
        g->found++;
    }
}

static int list_inbox(struct get_opts *g, kk_error **err)
{
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *list_err = NULL;
    if (kk_fs_list_dir(g->ctx.rootfd, KK_TREE_INBOX_DIRNAME, MAX_ENTRIES, &list, &list_err) < 0 &&
        kk_error_code(list_err) != KK_E_NOT_FOUND) {
        *err = TAKE_PTR(list_err);
        return -1;
    }
    static const char sfx[] = ".status.yaml";
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        size_t n = strlen(name);
        if (list.entries[i].type != DT_REG || n <= sizeof(sfx) - 1 ||
            strcmp(name + n - (sizeof(sfx) - 1), sfx) != 0)
            continue;
        _cleanup_free_ char *file = kk_xstrndup(name, n - (sizeof(sfx) - 1));
        if (!kk_inbox_name_counts(file) || (g->name && strcmp(file, g->name) != 0))
            continue;
        _cleanup_free_ char *rel = kk_xasprintf(KK_TREE_INBOX_DIRNAME "/%s", name);
        _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
        _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *read_err = NULL;
        /* A report being replaced or half-written is "not known": a row
         * that says so rather than an error (design.md §2.8). */
        const struct kk_ynode *doc = NULL;
        if (kk_fs_read_file(g->ctx.rootfd, rel, KK_STATUS_FILE_MAX, &data, &read_err) == 0 &&
            kk_yaml_parse(rel, data.data, data.len, &t, &diags) == 0 && t->ndocs == 1)
            doc = t->docs[0].root;
        if (is_doc_output(g)) {
            if (doc)
                kuke_docs_add(&g->docs, doc);
        } else {
            inbox_row(g, file, doc);
        }
        g->found++;
    }
    inbox_unreported(g, &list);
    return 0;
}

/* ---- -w ----------------------------------------------------------------- */

static void on_change(const char *rel, uint32_t mask, void *ud)
{
    struct get_opts *g = ud;
    if (mask & IN_Q_OVERFLOW) {                   /* events were lost: compare everything */
        _cleanup_error_ kk_error *ignored = NULL; /* the next event retries */
        list_resources(g, &ignored);
        /* and what was shown: a resource deleted meanwhile is in no
         * listing. show() appends to g->seen: its length is taken first. */
        for (size_t i = 0, n = g->n_seen; i < n; i++) {
            struct kk_key key;
            kk_error_freep(&ignored);
            if (kk_key_parse(&key, g->seen[i].key, &ignored) == 0)
                show(g, &key);
        }
        return;
    }
    struct kk_tree_class c;
    kk_tree_classify(rel, &c);
    struct kk_key key = c.key;
    switch (c.file) {
    case KK_TREE_SPEC:
    case KK_TREE_STATUS:
        break;
    case KK_TREE_CONTAINER_SPEC: /* a standalone container: its cell's row */
        if (!kk_key_parent(&c.key, &key))
            return;
        break;
    default:
        return;
    }
    if (key_matches(g, &key))
        show(g, &key);
}

static int watch(struct get_opts *g, struct kuke_watch *w, kk_error **err)
{
    for (;;) {
        if (!is_doc_output(g))
            kuke_table_print_new(&g->table, stdout);
        if (fflush(stdout) != 0 || kuke_wait_readable(kuke_watch_fd(w)) == 1)
            return 0; /* the reader went away */
        if (kuke_watch_read(w, err) < 0)
            return -1;
    }
}

int kuke_cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"cell", required_argument, NULL, 'c'},
            {"watch", no_argument, NULL, 'w'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct get_opts g = {.output = KUKE_OUTPUT_TABLE};
    kuke_ctx_init(&g.ctx);
    int c;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":o:wh", opts, NULL)) != -1) {
        if (kuke_common_option(&g.ctx, c, optarg))
            continue;
        switch (c) {
        case 'o':
            if (kuke_output_parse(optarg, &g.output) < 0)
                return kuke_usage_error("get", "kuke get cells -o yaml",
                                        "-o %s: accepted: yaml, json, wide", optarg);
            break;
        case 'c':
            g.cell = optarg;
            break;
        case 'w':
            g.watch = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("get", NULL, c, argv);
        }
    }
    if (optind >= argc || argc - optind > 2)
        return kuke_usage_error("get", "kuke get cells", "give a KIND and at most one NAME");
    g.kind_word = argv[optind];
    if (strcmp(g.kind_word, "inbox") == 0 || strcmp(g.kind_word, "inboxes") == 0)
        g.kind = KIND_INBOX;
    else
        g.kind = kuke_kind_parse(g.kind_word);
    if (g.kind == -1)
        return kuke_usage_error("get", "kuke get cells",
                                "%s: accepted: realms, spaces, stacks, cells, containers, inbox",
                                g.kind_word);
    if (g.watch && g.kind == KIND_INBOX)
        return kuke_usage_error("get", "kuke get inbox", "-w: not supported for inbox");
    g.name = argc - optind == 2 ? argv[optind + 1] : NULL;

    _cleanup_error_ kk_error *err = NULL;
    if (kuke_open_state(&g.ctx, &err) < 0)
        return kuke_fail("get", err);

    static const char *const headers[][9] = {
            [KK_KIND_REALM] = {"NAME", "STATUS", "NAMESPACE", "AGE", "MESSAGE", NULL},
            [KK_KIND_SPACE] = {"NAME", "STATUS", "SUBNET", "BRIDGE", "AGE", "MESSAGE", NULL},
            [KK_KIND_STACK] = {"NAME", "STATUS", "AGE", "MESSAGE", NULL},
            [KK_KIND_CELL] = {"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "CGROUP",
                              "MESSAGE", NULL},
            [KK_KIND_CONTAINER] = {"CELL", "NAME", "STATUS", "RESTARTS", "PID", "STARTED", "IMAGE",
                                   "MESSAGE", NULL},
    };
    static const char *const inbox_headers[] = {"FILE", "VALID", "RESOURCES", "ERROR", NULL};
    kuke_table_init(&g.table, g.kind == KIND_INBOX ? inbox_headers : headers[g.kind],
                    g.output == KUKE_OUTPUT_WIDE);
    kuke_docs_init(&g.docs);

    /* The watch first, then the listing: nothing changes unseen between. */
    _cleanup_(kuke_watch_freep) struct kuke_watch *w = NULL;
    int r = 0;
    if (g.watch) {
        struct kk_key scope = {.level = KK_LEVEL_NONE};
        enum kk_key_level level =
                g.kind == KK_KIND_CONTAINER ? KK_LEVEL_CONTAINER : (enum kk_key_level)(g.kind + 1);
        if (level > KK_LEVEL_REALM)
            r = kk_key_init(&scope, level > KK_LEVEL_STACK ? KK_LEVEL_STACK : level - 1,
                            g.ctx.realm, g.ctx.space, g.ctx.stack, NULL, NULL, &err);
        if (r == 0)
            r = kuke_watch_open(g.ctx.state_dir, &scope, level, on_change, &g, &w, &err);
    }
    if (r == 0)
        r = g.kind == KIND_INBOX ? list_inbox(&g, &err) : list_resources(&g, &err);
    int status = 0;
    if (r < 0) {
        status = kuke_fail("get", err);
    } else if (is_doc_output(&g) && !g.watch && !(g.name && g.found == 0)) {
        /* A name not found prints nothing on stdout (an empty List would
         * read as the object to `jq .metadata.name`): the error says it. */
        _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
        kuke_docs_emit(&g.docs, g.output, g.name != NULL, &out);
        fwrite(out.data, 1, out.len, stdout);
    } else if (!is_doc_output(&g)) {
        kuke_table_print(&g.table, stdout);
    }
    if (r == 0 && g.name && g.found == 0 && !g.watch) {
        fprintf(stderr, "kuke get: %s %s not found\n", g.kind_word, g.name);
        status = 1;
    }
    if (r == 0 && g.watch && watch(&g, w, &err) < 0)
        status = kuke_fail("get", err);
    kuke_table_release(&g.table);
    kuke_docs_release(&g.docs);
    for (size_t i = 0; i < g.n_seen; i++)
        free(g.seen[i].snapshot);
    free(g.seen);
    kuke_ctx_release(&g.ctx);
    return status;
}
