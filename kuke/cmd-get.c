/* kuke get realms|spaces|stacks|cells|containers [NAME] [-o yaml|json|wide]
 *
 * Reads the state tree: which resources exist (their directories and spec
 * files) and what the agent observed (status.yaml). Tables are
 * kubectl-like; -o yaml prints each resource as its spec with the status
 * attached, -o json the same as JSON. */
#include <stdio.h>
#include <string.h>

#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "kuke/output.h"
#include "fsapi/manifest.h"

#define MAX_ENTRIES 100000

struct get_opts {
    struct kuke_ctx ctx;
    enum kk_kind kind;
    const char *name; /* NULL: all */
    const char *cell; /* containers: limit to this cell */
    enum kuke_output output;
    struct kuke_table table;
    struct kk_buf docs; /* -o yaml / json */
    size_t found;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke get realms|spaces|stacks|cells|containers [NAME] [-o yaml|json|wide]\n"
            "  -o, --output FORMAT  yaml, json or wide (default: a table)\n"
            "  --cell NAME          containers: only those of this cell\n%s",
            kuke_common_help);
}

static void add_row(struct get_opts *g, const struct kk_key *key, const struct kk_status *st,
                    const struct kk_resource *spec)
{
    char age[32], ready[32];
    bool wide = g->output == KUKE_OUTPUT_WIDE;
    kuke_format_age(st ? st->created_at : 0, age);
    const char *state = st && st->state ? kk_state_name(st->state) : "Unknown";
    const char *reason = st && st->reason ? st->reason : "";
    const char *name = key->names[key->level - 1];
    switch (g->kind) {
    case KK_KIND_REALM:
        kuke_table_row(&g->table, name, state, st && st->namespace_ ? st->namespace_ : "", age,
                       wide ? reason : NULL, NULL);
        break;
    case KK_KIND_SPACE:
        kuke_table_row(&g->table, name, state, st && st->subnet ? st->subnet : "",
                       st && st->bridge ? st->bridge : "", age, wide ? reason : NULL, NULL);
        break;
    case KK_KIND_STACK:
        kuke_table_row(&g->table, name, state, age, wide ? reason : NULL, NULL);
        break;
    case KK_KIND_CELL: {
        size_t n = spec ? spec->cell.n_containers : 0, up = 0;
        for (size_t i = 0; st && i < st->n_containers; i++)
            up += st->containers[i].state == KK_STATE_READY;
        snprintf(ready, sizeof(ready), "%zu/%zu", up, n > up ? n : up);
        kuke_table_row(&g->table, name, ready, state, st && st->ip ? st->ip : "", age,
                       wide ? reason : NULL, wide && st && st->cgroup_path ? st->cgroup_path : NULL,
                       NULL);
        break;
    }
    case KK_KIND_CONTAINER:
        break;
    }
}

static void add_container_rows(struct get_opts *g, const struct kk_key *cell,
                               const struct kk_status *st, const struct kk_resource *spec)
{
    /* Containers of the cell spec, then standalone ones the status knows. */
    for (size_t i = 0; st && i < st->n_containers; i++) {
        const struct kk_container_status *cs = &st->containers[i];
        if (g->name && strcmp(cs->id, g->name) != 0)
            continue;
        char pid[16] = "", restarts[16], started[32];
        if (cs->pid)
            snprintf(pid, sizeof(pid), "%u", cs->pid);
        snprintf(restarts, sizeof(restarts), "%u", cs->restart_count);
        kuke_format_age(cs->started_at, started);
        kuke_table_row(&g->table, cell->names[3], cs->id,
                       cs->state ? kk_state_name(cs->state) : "Unknown", pid, restarts, started,
                       g->output == KUKE_OUTPUT_WIDE ? (cs->image ? cs->image : "") : NULL, NULL);
        g->found++;
    }
    (void)spec;
}

static void emit_doc(struct get_opts *g, const struct kk_resource *spec, const struct kk_status *st)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *root = spec ? kk_model_spec_tree(t, spec) : kk_ytree_map(t);
    _cleanup_(kk_ytree_freep) struct kk_ytree *st_tree = NULL;
    if (st) {
        _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        kk_status_emit(st, &b);
        if (kk_yaml_parse(NULL, b.data, b.len, &st_tree, &diags) == 0 && st_tree->ndocs == 1) {
            struct kk_ynode *s = kk_ynode_get(st_tree->docs[0].root, "status");
            if (s)
                kk_ynode_set(t, root, "status", s);
        }
    }
    kuke_emit_doc(g->output, root, &g->docs, g->found);
}

static void show(struct get_opts *g, const struct kk_key *key)
{
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
        if (g->output == KUKE_OUTPUT_YAML || g->output == KUKE_OUTPUT_JSON) {
            /* Each container as a document of its own status entry. */
            for (size_t i = 0; st && i < st->n_containers; i++) {
                if (g->name && strcmp(st->containers[i].id, g->name) != 0)
                    continue;
                _cleanup_(kk_status_freep) struct kk_status *one =
                        kk_status_new(KK_KIND_CONTAINER, st->containers[i].id);
                struct kk_container_status *cs = kk_status_container(one, st->containers[i].id);
                cs->state = st->containers[i].state;
                cs->pid = st->containers[i].pid;
                cs->restart_count = st->containers[i].restart_count;
                one->state = st->containers[i].state;
                emit_doc(g, NULL, one);
                g->found++;
            }
        } else {
            add_container_rows(g, key, st, spec);
        }
        return;
    }
    if (g->output == KUKE_OUTPUT_YAML || g->output == KUKE_OUTPUT_JSON)
        emit_doc(g, spec, st);
    else
        add_row(g, key, st, spec);
    g->found++;
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
        if (key.level == level) {
            if (g->name && g->kind != KK_KIND_CONTAINER && strcmp(name, g->name) != 0)
                continue;
            if (g->cell && strcmp(name, g->cell) != 0)
                continue;
            show(g, &key);
        }
    }
    return 0;
}

int kuke_cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'},
            {"cell", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct get_opts g = {.output = KUKE_OUTPUT_TABLE, .docs = KK_BUF_INIT};
    kuke_ctx_init(&g.ctx);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (kuke_common_option(&g.ctx, c, optarg))
            continue;
        switch (c) {
        case 'o':
            if (kuke_output_parse(optarg, &g.output) < 0) {
                fprintf(stderr, "kuke get: -o %s: accepted: yaml, json, wide\n", optarg);
                return 2;
            }
            break;
        case 'c':
            g.cell = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        usage(stderr);
        return 2;
    }
    int kind = kuke_kind_parse(argv[optind]);
    if (kind < 0) {
        fprintf(stderr, "kuke get: %s: accepted: realms, spaces, stacks, cells, containers\n",
                argv[optind]);
        return 2;
    }
    g.kind = (enum kk_kind)kind;
    g.name = argc - optind == 2 ? argv[optind + 1] : NULL;

    _cleanup_error_ kk_error *err = NULL;
    if (kuke_open_state(&g.ctx, &err) < 0)
        return kuke_fail("get", err);

    static const char *const headers[][8] = {
            [KK_KIND_REALM] = {"NAME", "STATE", "NAMESPACE", "AGE", "REASON", NULL},
            [KK_KIND_SPACE] = {"NAME", "STATE", "SUBNET", "BRIDGE", "AGE", "REASON", NULL},
            [KK_KIND_STACK] = {"NAME", "STATE", "AGE", "REASON", NULL},
            [KK_KIND_CELL] = {"NAME", "READY", "STATE", "IP", "AGE", "REASON", "CGROUP", NULL},
            [KK_KIND_CONTAINER] = {"CELL", "NAME", "STATE", "PID", "RESTARTS", "STARTED", "IMAGE",
                                   NULL},
    };
    kuke_table_init(&g.table, headers[g.kind], g.output == KUKE_OUTPUT_WIDE);

    struct kk_key parent = {.level = KK_LEVEL_NONE};
    enum kk_key_level level = (enum kk_key_level)(g.kind + 1);
    if (g.kind == KK_KIND_CONTAINER)
        level = KK_LEVEL_CELL;
    int r = 0;
    if (level > KK_LEVEL_REALM) {
        r = kk_key_init(&parent, (enum kk_key_level)(level - 1 > 3 ? 3 : level - 1), g.ctx.realm,
                        g.ctx.space, g.ctx.stack, NULL, NULL, &err);
    }
    if (r == 0)
        r = walk(&g, &parent, level, &err);
    int status = 0;
    if (r < 0) {
        status = kuke_fail("get", err);
    } else if (g.output == KUKE_OUTPUT_YAML || g.output == KUKE_OUTPUT_JSON) {
        kuke_emit_finish(g.output, &g.docs, g.found);
        fwrite(g.docs.data, 1, g.docs.len, stdout);
    } else {
        kuke_table_print(&g.table, stdout);
    }
    if (r == 0 && g.name && g.found == 0) {
        fprintf(stderr, "kuke get: %s %s not found\n", argv[optind], g.name);
        status = 1;
    }
    kuke_table_release(&g.table);
    kk_buf_release(&g.docs);
    kuke_ctx_release(&g.ctx);
    return status;
}
