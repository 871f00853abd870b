/* kuke create container NAME --cell CELL [--image IMAGE] [--command CMD] [--args ARG]...
 * kuke create cell|stack|space|realm NAME
 *
 * Writes a new spec file into the state tree, as a manifest with just these
 * fields would (defaults and validation are the manifest's). An existing
 * resource is an error: edit it with `kuke apply`. */
#include <stdio.h>
#include <string.h>

#include "fsapi/atomic.h"
#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"

#define DEFAULT_IMAGE "docker.io/library/debian:latest"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke create container NAME --cell CELL [--image IMAGE] [--command CMD]\n"
            "                   [--args ARG]... [--env K=V]... [--restart POLICY]\n"
            "       kuke create cell|stack|space|realm NAME\n"
            "  --image IMAGE     default " DEFAULT_IMAGE "\n%s",
            kuke_common_help);
}

static void set_parents(struct kk_resource *r, const struct kuke_ctx *ctx, const char *cell)
{
    switch (r->kind) {
    case KK_KIND_REALM:
        break;
    case KK_KIND_SPACE:
        r->space.realm_id = kk_xstrdup(ctx->realm);
        break;
    case KK_KIND_STACK:
        r->stack.realm_id = kk_xstrdup(ctx->realm);
        r->stack.space_id = kk_xstrdup(ctx->space);
        break;
    case KK_KIND_CELL:
        r->cell.realm_id = kk_xstrdup(ctx->realm);
        r->cell.space_id = kk_xstrdup(ctx->space);
        r->cell.stack_id = kk_xstrdup(ctx->stack);
        break;
    case KK_KIND_CONTAINER:
        r->container.realm_id = kk_xstrdup(ctx->realm);
        r->container.space_id = kk_xstrdup(ctx->space);
        r->container.stack_id = kk_xstrdup(ctx->stack);
        r->container.cell_id = kk_xstrdup(cell);
        break;
    }
}

/* Builds the resource a manifest with these fields would give, normalises it
 * like the loader does (same defaults, same messages) and writes its spec.
 * Takes args and env. Returns the exit status. */
static int create(struct kuke_ctx *ctx, enum kk_kind kind, const char *name, const char *cell,
                  const char *image, const char *command, struct kk_strv *args, struct kk_strv *env,
                  const char *restart)
{
    _cleanup_(kk_resource_freep) struct kk_resource *r = kk_resource_new(kind);
    r->meta.name = kk_xstrdup(name);
    set_parents(r, ctx, cell);
    if (kind == KK_KIND_CONTAINER) {
        struct kk_container *k = &r->container;
        k->image = kk_xstrdup(image ? image : DEFAULT_IMAGE);
        k->command = command ? kk_xstrdup(command) : NULL;
        k->args = *args;
        k->env = *env;
        *args = (struct kk_strv){0};
        *env = (struct kk_strv){0};
        if (restart && (k->restart_policy = kk_restart_policy_parse(restart)) < 0) {
            return kuke_usage_error(
                    "create", "kuke create container web --cell web --restart always",
                    "--restart %s: accepted: no, always, on-failure, unless-stopped", restart);
        }
    }
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    if (kk_model_normalize(r, NULL, &diags) > 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "kuke create: %s%s%s\n", diags.items[i].path,
                    *diags.items[i].path ? ": " : "", diags.items[i].message);
        return 1;
    }

    _cleanup_error_ kk_error *err = NULL;
    struct kk_key key;
    char k[KK_KEY_STRLEN];
    if (kuke_open_state(ctx, &err) < 0 || kk_resource_key(r, &key, &err) < 0)
        return kuke_fail("create", err);
    _cleanup_(kk_resource_freep) struct kk_resource *existing = NULL;
    int found = kuke_load_spec(ctx, &key, r->kind, &existing, &err);
    if (found <= 0) {
        if (found == 0)
            kk_error_set(&err, KK_E_EXISTS, "%s %s already exists", kuke_kind_word(r->kind),
                         kk_key_format(&key, k));
        return kuke_fail("create", err);
    }
    _cleanup_free_ char *rel = kk_tree_spec_path(&key);
    _cleanup_free_ char *dir = kk_xstrdup(rel);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    _cleanup_buf_ struct kk_buf yaml = KK_BUF_INIT;
    kk_model_emit_spec(r, &yaml);
    if ((slash && kk_fs_mkdir_p(ctx->rootfd, dir, 0755, NULL, &err) < 0) ||
        kk_atomic_write(ctx->rootfd, rel, yaml.data, yaml.len, kk_model_spec_mode(r), &err) < 0)
        return kuke_fail("create", err);
    printf("%s/%s created\n", kuke_kind_word(r->kind), kk_key_format(&key, k));
    return 0;
}

int kuke_cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
            {"cell", required_argument, NULL, 'c'},
            {"image", required_argument, NULL, 'i'},
            {"command", required_argument, NULL, 'C'},
            {"args", required_argument, NULL, 'a'},
            {"env", required_argument, NULL, 'e'},
            {"restart", required_argument, NULL, 'r'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    const char *cell = NULL, *image = NULL, *command = NULL, *restart = NULL;
    struct kk_strv args = {0}, env = {0};
    int c, status = 2;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'c':
            cell = optarg;
            break;
        case 'i':
            image = optarg;
            break;
        case 'C':
            command = optarg;
            break;
        case 'a':
            kk_strv_push(&args, optarg);
            break;
        case 'e':
            kk_strv_push(&env, optarg);
            break;
        case 'r':
            restart = optarg;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default:
            status = kuke_bad_option("create", "kuke create cell web", c, argv);
            goto out;
        }
    }
    int nargs = argc - optind;
    int kind = nargs >= 1 ? kuke_kind_parse(argv[optind]) : -1;
    if (nargs == 0) {
        status = kuke_usage_error("create", "kuke create cell web", "missing kind and name");
        goto out;
    }
    if (kind < 0) {
        /* "kuke create web": a name where the kind goes. */
        _cleanup_free_ char *try_ = kk_xasprintf("kuke create cell %s", argv[optind]);
        status = kuke_usage_error("create", nargs == 1 ? try_ : NULL,
                                  "%s: not a kind (realm, space, stack, cell, container)",
                                  argv[optind]);
        goto out;
    }
    if (nargs == 1) {
        _cleanup_free_ char *try_ = kk_xasprintf("kuke create %s web", argv[optind]);
        status = kuke_usage_error("create", try_, "missing name");
        goto out;
    }
    if (nargs > 2) {
        status = kuke_usage_error("create", NULL, "unexpected argument '%s'", argv[optind + 2]);
        goto out;
    }
    if (kind == KK_KIND_CONTAINER && !cell) {
        _cleanup_free_ char *try_ =
                kk_xasprintf("kuke create container %s --cell CELL", argv[optind + 1]);
        status = kuke_usage_error("create", try_, "a container needs --cell");
        goto out;
    }
    if (kind != KK_KIND_CONTAINER && (image || command || args.n || env.n || restart)) {
        status = kuke_usage_error("create", NULL,
                                  "--image, --command, --args, --env and --restart are for "
                                  "containers, not a %s",
                                  kuke_kind_word((enum kk_kind)kind));
        goto out;
    }

    status = create(&ctx, (enum kk_kind)kind, argv[optind + 1], cell, image, command, &args, &env,
                    restart);
out:
    kk_strv_release(&args);
    kk_strv_release(&env);
    kuke_ctx_release(&ctx);
    return status;
}
