/* kuke delete KIND NAME [--cascade] | kuke delete -f FILE...
 *
 * Removes spec files; the agent sees the removal and deletes the resource
 * (and leaves nothing of it on the host). A resource with children is only
 * deleted with --cascade, which removes the children's specs first. A
 * resource owned by an inbox file cannot be deleted here (the agent would
 * put it back): remove that file instead. */
#include <stdio.h>
#include <string.h>

#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "fsapi/manifest.h"

#define MAX_CHILDREN 100000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke delete KIND NAME [--cascade] [--cell CELL]\n"
            "       kuke delete -f FILE...\n"
            "  --cascade           also delete what the resource contains\n"
            "  --cell NAME         the cell of a container\n%s",
            kuke_common_help);
}

/* Names of the child resources of key (directories that hold a spec). */
static int children(struct kuke_ctx *ctx, const struct kk_key *key, struct kk_strv *out,
                    kk_error **err)
{
    struct kk_key probe = *key;
    probe.level = key->level + 1;
    _cleanup_free_ char *dir = kk_tree_dir(key);
    _cleanup_free_ char *rel = key->level == KK_LEVEL_CELL
                                       ? kk_xasprintf("%s/" KK_TREE_CONTAINERS, dir)
                                       : kk_xstrdup(dir);
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *list_err = NULL;
    if (kk_fs_list_dir(ctx->rootfd, rel, MAX_CHILDREN, &list, &list_err) < 0) {
        if (kk_error_code(list_err) == KK_E_NOT_FOUND)
            return 0;
        *err = TAKE_PTR(list_err);
        return -1;
    }
    for (size_t i = 0; i < list.n; i++) {
        const char *name = list.entries[i].name;
        if (key->level == KK_LEVEL_CELL) {
            size_t len = strlen(name);
            if (list.entries[i].type == DT_REG && len > 5 && strcmp(name + len - 5, ".yaml") == 0 &&
                kk_name_valid_n(name, len - 5)) {
                _cleanup_free_ char *id = kk_xstrndup(name, len - 5);
                kk_strv_push(out, id);
            }
        } else if (list.entries[i].type == DT_DIR && kk_name_valid_n(name, strlen(name))) {
            snprintf(probe.names[key->level], sizeof(probe.names[0]), "%s", name);
            _cleanup_free_ char *spec = kk_tree_spec_path(&probe);
            _cleanup_error_ kk_error *ignored = NULL;
            _cleanup_close_ int fd = kk_fs_open(ctx->rootfd, spec, O_RDONLY, 0, &ignored);
            if (fd >= 0)
                kk_strv_push(out, name);
        }
    }
    return 0;
}

static int delete_key(struct kuke_ctx *ctx, const struct kk_key *key, bool cascade, kk_error **err)
{
    char k[KK_KEY_STRLEN];
    enum kk_kind kind = (enum kk_kind)(key->level - 1);
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    int r = kuke_load_spec(ctx, key, kind, &spec, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return kk_error_set(err, KK_E_NOT_FOUND, "%s %s not found", kuke_kind_word(kind),
                            kk_key_format(key, k));
    if (kuke_spec_owner(spec))
        return kk_error_set(err, KK_E_PRECONDITION,
                            "%s %s is owned by the inbox file %s: remove it from that file",
                            kuke_kind_word(kind), kk_key_format(key, k), kuke_spec_owner(spec));
    if (key->level < KK_LEVEL_CONTAINER) {
        struct kk_strv kids = {0};
        if (children(ctx, key, &kids, err) < 0)
            return -1;
        if (kids.n && !cascade) {
            kk_error_set(err, KK_E_PRECONDITION,
                         "%s %s still contains %zu resource(s) (%s%s): use --cascade",
                         kuke_kind_word(kind), kk_key_format(key, k), kids.n, kids.v[0],
                         kids.n > 1 ? ", ..." : "");
            kk_strv_release(&kids);
            return -1;
        }
        for (size_t i = 0; i < kids.n; i++) {
            struct kk_key child = *key;
            child.level = key->level + 1;
            snprintf(child.names[key->level], sizeof(child.names[0]), "%s", kids.v[i]);
            if (delete_key(ctx, &child, cascade, err) < 0) {
                kk_strv_release(&kids);
                return -1;
            }
        }
        kk_strv_release(&kids);
    }
    _cleanup_free_ char *rel = kk_tree_spec_path(key);
    if (kk_fs_unlink(ctx->rootfd, rel, err) < 0)
        return -1;
    printf("%s/%s deleted\n", kuke_kind_word(kind), kk_key_format(key, k));
    return 0;
}

int kuke_cmd_delete(int argc, char **argv)
{
    static const struct option opts[] = {
            {"filename", required_argument, NULL, 'f'},
            {"cascade", no_argument, NULL, 'C'},
            {"cell", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    struct kk_strv files = {0};
    bool cascade = false;
    const char *cell = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'f':
            kk_strv_push(&files, optarg);
            break;
        case 'C':
            cascade = true;
            break;
        case 'c':
            cell = optarg;
            break;
        case 'h':
            usage(stdout);
            kk_strv_release(&files);
            return 0;
        default:
            usage(stderr);
            kk_strv_release(&files);
            return 2;
        }
    }
    int status = 0;
    _cleanup_error_ kk_error *err = NULL;
    if ((files.n == 0) == (argc - optind != 2)) {
        usage(stderr);
        kk_strv_release(&files);
        return 2;
    }
    if (kuke_open_state(&ctx, &err) < 0) {
        kk_strv_release(&files);
        return kuke_fail("delete", err);
    }
    if (files.n == 0) {
        int kind = kuke_kind_parse(argv[optind]);
        struct kk_key key;
        if (kind < 0) {
            fprintf(stderr, "kuke delete: %s: accepted: realm, space, stack, cell, container\n",
                    argv[optind]);
            status = 2;
        } else if (kuke_named_key(&ctx, (enum kk_kind)kind, argv[optind + 1], cell, &key, &err) <
                           0 ||
                   delete_key(&ctx, &key, cascade, &err) < 0) {
            status = kuke_fail("delete", err);
        }
    }
    for (size_t i = 0; i < files.n; i++) {
        _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        if (kk_manifest_load_file(files.v[i], &m, &diags, &err) < 0) {
            if (diags.n)
                kk_diags_print(&diags, stderr);
            else
                kuke_fail("delete", err);
            status = 1;
            continue;
        }
        /* Children before parents: documents in reverse order of kind. */
        for (int kind = KK_KIND_CONTAINER; kind >= KK_KIND_REALM; kind--) {
            for (size_t d = 0; d < m->n; d++) {
                struct kk_key key;
                if ((int)m->docs[d]->kind != kind)
                    continue;
                if (kk_resource_key(m->docs[d], &key, &err) < 0 ||
                    delete_key(&ctx, &key, cascade, &err) < 0) {
                    status = kuke_fail("delete", err);
                }
            }
        }
    }
    kk_strv_release(&files);
    kuke_ctx_release(&ctx);
    return status;
}
