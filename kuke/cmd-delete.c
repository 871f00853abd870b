/* kuke delete KIND NAME [--cascade] [--wait [--timeout S]] | kuke delete -f FILE...
 *
 * Removes spec files; the agent sees the removal and deletes the resource
 * (and leaves nothing of it on the host). A resource with children is only
 * deleted with --cascade, which removes the children's specs first. A
 * resource owned by an inbox file cannot be deleted here (the agent would
 * put it back): remove that file instead.
 *
 * With --wait, waits (inotify, kuke/wait.h) until the agent has deleted
 * what was named: its directory is gone (a container: its cell's status no
 * longer lists it), showing Terminating and the stop deadline meanwhile on a
 * terminal; --timeout (default 60 s) ends the wait with exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "kuke/wait.h"
#include "fsapi/manifest.h"

#define MAX_CHILDREN 100000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke delete KIND NAME [--cascade] [--cell CELL]\n"
            "       kuke delete -f FILE...\n"
            "  --cascade           also delete what the resource contains\n"
            "  --wait              wait until the agent has deleted it\n"
            "  --timeout SECONDS   give up waiting after that long (exit 1; default 60)\n"
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
            /* O_NONBLOCK: a FIFO in the tree must not block the open. */
            _cleanup_close_ int fd =
                    kk_fs_open(ctx->rootfd, spec, O_RDONLY | O_NONBLOCK, 0, &ignored);
            if (fd >= 0)
                kk_strv_push(out, name);
        }
    }
    return 0;
}

/* A container is gone once its cell's status no longer lists it. */
static int container_gone(const struct kk_status *st, bool gone, void *arg)
{
    const char *id = arg;
    return gone || !st || !kk_status_find_container(st, id) ? KUKE_WAIT_DONE : KUKE_WAIT_MORE;
}

static int dir_gone(const struct kk_status *st, bool gone, void *arg)
{
    (void)st;
    (void)arg;
    return gone ? KUKE_WAIT_DONE : KUKE_WAIT_MORE;
}

/* Waits until key is deleted, for what is left of timeout_ms since
 * start_ms. */
static int wait_deleted(struct kuke_ctx *ctx, const struct kk_key *key, int64_t start_ms,
                        int64_t timeout_ms)
{
    struct kuke_wait w = {
            .ctx = ctx,
            .key = key,
            .timeout_ms = timeout_ms - (kk_clock_mono_ms(NULL) - start_ms),
            .done = dir_gone,
            .what = "delete",
    };
    struct kk_key cell;
    if (key->level == KK_LEVEL_CONTAINER) {
        kk_key_parent(key, &cell);
        w.key = &cell;
        w.done = container_gone;
        w.arg = (void *)key->names[4];
    }
    if (w.timeout_ms < 1)
        w.timeout_ms = 1;
    int r = kuke_wait(&w);
    if (r == 0) {
        char k[KK_KEY_STRLEN];
        printf("%s/%s gone\n", kuke_kind_word((enum kk_kind)(key->level - 1)),
               kk_key_format(key, k));
    }
    return r;
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
            {"wait", no_argument, NULL, 'w'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    struct kk_strv files = {0};
    bool cascade = false, wait = false;
    int64_t timeout_ms = 60000;
    const char *cell = NULL;
    int c;
    const char *try_ = "kuke delete cell NAME --wait --timeout 30";
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
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
        case 'w':
            wait = true;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 86400) {
                kk_strv_release(&files);
                return kuke_usage_error("delete", try_,
                                        "--timeout: expected whole seconds from 1 to 86400, got "
                                        "'%s'",
                                        optarg);
            }
            timeout_ms = v * 1000;
            break;
        }
        case 'h':
            usage(stdout);
            kk_strv_release(&files);
            return 0;
        default:
            kk_strv_release(&files);
            return kuke_bad_option("delete", try_, c, argv);
        }
    }
    int status = 0;
    _cleanup_error_ kk_error *err = NULL;
    if ((files.n == 0) == (argc - optind != 2)) {
        int nargs = argc - optind;
        kk_strv_release(&files);
        if (nargs == 1 && kuke_kind_parse(argv[optind]) < 0)
            return kuke_usage_error("delete", "kuke delete cell web", "missing kind before '%s'",
                                    argv[optind]);
        return kuke_usage_error("delete", try_, "give KIND NAME or -f FILE (not both)");
    }
    if (kuke_open_state(&ctx, &err) < 0) {
        kk_strv_release(&files);
        return kuke_fail("delete", err);
    }
    int64_t start_ms = kk_clock_mono_ms(NULL);
    struct kk_key waits[64];
    size_t n_waits = 0;
    if (files.n == 0) {
        int kind = kuke_kind_parse(argv[optind]);
        struct kk_key key;
        if (kind < 0) {
            kk_strv_release(&files);
            return kuke_usage_error("delete", "kuke delete cell web",
                                    "%s: not a kind (realm, space, stack, cell, container)",
                                    argv[optind]);
        } else if (kuke_named_key(&ctx, (enum kk_kind)kind, argv[optind + 1], cell, &key, &err) <
                           0 ||
                   delete_key(&ctx, &key, cascade, &err) < 0) {
            status = kuke_fail("delete", err);
        } else {
            waits[n_waits++] = key;
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
                } else if (n_waits < KK_ARRAY_SIZE(waits)) {
                    waits[n_waits++] = key;
                }
            }
        }
    }
    for (size_t i = 0; wait && i < n_waits; i++)
        if (wait_deleted(&ctx, &waits[i], start_ms, timeout_ms) != 0 && status == 0)
            status = 1;
    kk_strv_release(&files);
    kuke_ctx_release(&ctx);
    return status;
}
