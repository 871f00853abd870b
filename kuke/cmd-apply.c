/* kuke apply -f FILE... [--inbox] [--wait [--timeout S]]
 *
 * Validates every file first (nothing is written if any is invalid), then
 * either writes each document as its spec file in the state tree, or with
 * --inbox copies the files into the manifest directory for the agent to
 * apply. --wait then watches the status files until every resource reports
 * the applied generation as Ready (exit 0) or Failed (exit 1). */
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsapi/atomic.h"
#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "fsapi/hash.h"
#include "fsapi/inbox.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "kuke/watch.h"
#include "fsapi/manifest.h"

#define MAX_FILES 64

struct applied {
    struct kk_key key;
    enum kk_kind kind;
    char hash[KK_HASH_SIZE];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke apply -f FILE... [--inbox] [--wait [--timeout SECONDS]]\n"
            "  -f, --filename FILE  manifest to apply ('-' reads standard input)\n"
            "  --inbox              copy the files into the manifest directory instead of\n"
            "                       writing specs into the state tree\n"
            "  --wait               wait until every resource is Ready (Failed: exit 1)\n"
            "  --timeout SECONDS    how long --wait waits (default 120)\n%s",
            kuke_common_help);
}

static int write_spec(struct kuke_ctx *ctx, struct kk_resource *r, struct applied *out,
                      kk_error **err)
{
    if (kk_resource_key(r, &out->key, err) < 0)
        return -1;
    out->kind = r->kind;
    /* A container's status is an entry of its cell's: it reports the
     * container's own hash. */
    if (r->kind == KK_KIND_CONTAINER)
        kk_model_container_hash(&r->container, out->hash);
    else
        kk_model_spec_hash(r, out->hash);

    _cleanup_(kk_resource_freep) struct kk_resource *existing = NULL;
    int r_load = kuke_load_spec(ctx, &out->key, r->kind, &existing, err);
    if (r_load < 0)
        return -1;
    if (r_load == 0 && kuke_spec_owner(existing)) {
        char k[KK_KEY_STRLEN];
        return kk_error_set(err, KK_E_PRECONDITION,
                            "%s %s is owned by the inbox file %s: edit that file instead",
                            kuke_kind_word(r->kind), kk_key_format(&out->key, k),
                            kuke_spec_owner(existing));
    }
    _cleanup_free_ char *spec_rel = kk_tree_spec_path(&out->key);
    _cleanup_free_ char *dir = kk_xstrdup(spec_rel);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (kk_fs_mkdir_p(ctx->rootfd, dir, 0755, NULL, err) < 0)
            return -1;
    }
    _cleanup_buf_ struct kk_buf yaml = KK_BUF_INIT;
    kk_model_emit_spec(r, &yaml);
    int w = kk_atomic_write_if_changed(ctx->rootfd, spec_rel, yaml.data, yaml.len,
                                       kk_model_spec_mode(r), err);
    if (w < 0)
        return -1;
    char k[KK_KEY_STRLEN];
    printf("%s/%s %s\n", kuke_kind_word(r->kind), kk_key_format(&out->key, k),
           r_load == 1 ? "created"
           : w         ? "configured"
                       : "unchanged");
    return 0;
}

static int copy_to_inbox(struct kuke_ctx *ctx, const char *path, const char *data, size_t len,
                         kk_error **err)
{
    _cleanup_free_ char *copy = kk_xstrdup(path);
    const char *name = basename(copy);
    if (!kk_inbox_name_counts(name))
        return kk_error_set(err, KK_E_INVALID,
                            "%s: the inbox only reads *.yaml and *.yml files (this one would be "
                            "ignored: %s)",
                            path, kk_inbox_verdict_name(kk_inbox_classify(name)));
    _cleanup_close_ int inboxfd = kk_fs_open_root(ctx->inbox_dir, err);
    if (inboxfd < 0)
        return kk_error_wrap(err, "inbox %s", ctx->inbox_dir);
    int w = kk_atomic_write_if_changed(inboxfd, name, data, len, 0644, err);
    if (w < 0)
        return kk_error_wrap(err, "inbox %s", ctx->inbox_dir);
    printf("%s/%s %s\n", ctx->inbox_dir, name, w ? "written" : "unchanged");
    return 0;
}

/* 1 done (Ready), 0 not yet, -1 failed (message in err). */
static int check_ready(struct kuke_ctx *ctx, const struct applied *a, kk_error **err)
{
    struct kk_key status_key = a->key;
    if (a->kind == KK_KIND_CONTAINER)
        kk_key_parent(&a->key, &status_key);
    _cleanup_(kk_status_freep) struct kk_status *st = NULL;
    if (kuke_load_status(ctx, &status_key, &st) != 0)
        return 0;
    const char *gen = st->observed_generation;
    int state = st->state;
    const char *reason = st->reason, *message = st->message;
    if (a->kind == KK_KIND_CONTAINER) {
        const struct kk_container_status *cs = kk_status_find_container(st, a->key.names[4]);
        if (!cs)
            return 0;
        gen = cs->observed_generation, state = cs->state;
        reason = cs->reason, message = cs->message;
    }
    if (!gen || strcmp(gen, a->hash) != 0)
        return 0;
    if (state == KK_STATE_READY)
        return 1;
    if (state == KK_STATE_FAILED) {
        char k[KK_KEY_STRLEN];
        kk_error_set(err, KK_E_ABORTED, "%s %s: Failed: %s: %s", kuke_kind_word(a->kind),
                     kk_key_format(&a->key, k), reason ? reason : "", message ? message : "");
        return -1;
    }
    return 0;
}

static void ignore_change(const char *rel, uint32_t mask, void *ud)
{
    (void)rel, (void)mask, (void)ud; /* any change: every status is read again */
}

static int wait_ready(struct kuke_ctx *ctx, const struct applied *v, size_t n, int timeout_s)
{
    int64_t start_ms = kk_clock_mono_ms(NULL);
    /* Woken by inotify (the tree down to the cells: with --inbox the
     * directories appear later), set up before the first look so that no
     * status written meanwhile goes unseen. Without one (out of watches),
     * a look every 50 ms. */
    _cleanup_(kuke_watch_freep) struct kuke_watch *w = NULL;
    _cleanup_error_ kk_error *watch_err = NULL;
    if (kuke_watch_open(ctx->state_dir, NULL, KK_LEVEL_CELL, ignore_change, NULL, &w, &watch_err) <
        0)
        w = NULL;
    for (;;) {
        size_t ready = 0;
        for (size_t i = 0; i < n; i++) {
            _cleanup_error_ kk_error *err = NULL;
            int r = check_ready(ctx, &v[i], &err);
            if (r < 0)
                return kuke_fail("apply", err);
            ready += (size_t)r;
        }
        if (ready == n)
            return 0;
        if (kk_clock_mono_ms(NULL) - start_ms >= timeout_s * 1000LL) {
            for (size_t i = 0; i < n; i++) {
                _cleanup_error_ kk_error *err = NULL;
                if (check_ready(ctx, &v[i], &err) == 0) {
                    char k[KK_KEY_STRLEN];
                    fprintf(stderr, "kuke apply: %s %s: not Ready after %d s\n",
                            kuke_kind_word(v[i].kind), kk_key_format(&v[i].key, k), timeout_s);
                }
            }
            return 1;
        }
        int64_t left = timeout_s * 1000LL - (kk_clock_mono_ms(NULL) - start_ms);
        struct pollfd p = {.fd = w ? kuke_watch_fd(w) : -1, .events = POLLIN};
        if (poll(&p, 1,
                 !w         ? 50
                 : left > 0 ? (int)left
                            : 0) > 0 &&
            kuke_watch_read(w, &watch_err) < 0)
            return kuke_fail("apply", watch_err);
    }
}

int kuke_cmd_apply(int argc, char **argv)
{
    static const struct option opts[] = {
            {"filename", required_argument, NULL, 'f'},
            {"inbox", no_argument, NULL, 'i'},
            {"wait", no_argument, NULL, 'w'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    const char *files[MAX_FILES];
    size_t n_files = 0;
    bool inbox = false, wait = false;
    int timeout_s = 120, c;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, "+:f:h", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'f':
            if (n_files == MAX_FILES)
                return kuke_usage_error("apply", NULL, "at most %d files at once", MAX_FILES);
            files[n_files++] = optarg;
            break;
        case 'i':
            inbox = true;
            break;
        case 'w':
            wait = true;
            break;
        case 't': {
            /* Not atoi: "5x" is no number, 4294967297 no 1 s. */
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > 86400)
                return kuke_usage_error("apply", "kuke apply -f web.yaml --wait --timeout 60",
                                        "--timeout %s: not a number of seconds from 1 to 86400",
                                        optarg);
            timeout_s = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("apply", "kuke apply -f web.yaml", c, argv);
        }
    }
    if (optind != argc) {
        _cleanup_free_ char *try_ = kk_xasprintf("kuke apply -f %s", argv[optind]);
        return kuke_usage_error("apply", try_, "unexpected argument '%s' (files are named with -f)",
                                argv[optind]);
    }
    if (n_files == 0)
        return kuke_usage_error("apply", "kuke apply -f web.yaml", "no file given (-f FILE)");

    /* Validate everything before writing anything. */
    struct kk_manifest *manifests[MAX_FILES] = {0};
    struct kk_buf raw[MAX_FILES];
    int status = 0;
    for (size_t i = 0; i < n_files; i++) {
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        raw[i] = (struct kk_buf)KK_BUF_INIT;
        int fd = strcmp(files[i], "-") == 0 ? STDIN_FILENO : open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "kuke apply: %s: %s\n", files[i], strerror(errno));
            status = 1;
            continue;
        }
        int r = kk_buf_read_fd(&raw[i], fd, KK_YAML_MAX_INPUT);
        if (fd != STDIN_FILENO)
            close(fd);
        if (r < 0) {
            fprintf(stderr, "kuke apply: %s: %s\n", files[i],
                    r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
            status = 1;
            continue;
        }
        const char *shown = strcmp(files[i], "-") == 0 ? "<stdin>" : files[i];
        if (kk_manifest_load_buffer(shown, raw[i].data, raw[i].len, &manifests[i], &diags, &err) <
            0) {
            if (diags.n)
                kk_diags_print(&diags, stderr);
            else
                fprintf(stderr, "kuke apply: %s\n", err->message);
            status = 1;
        }
    }
    if (status == 0 && inbox) {
        for (size_t i = 0; i < n_files && status == 0; i++) {
            _cleanup_error_ kk_error *err = NULL;
            if (strcmp(files[i], "-") == 0) {
                fprintf(stderr, "kuke apply: --inbox needs a file name, not standard input\n");
                status = 1;
            } else if (copy_to_inbox(&ctx, files[i], raw[i].data, raw[i].len, &err) < 0) {
                status = kuke_fail("apply", err);
            }
        }
    }
    struct applied *applied = NULL;
    size_t n_applied = 0, cap = 0;
    if (status == 0) {
        _cleanup_error_ kk_error *err = NULL;
        if (kuke_open_state(&ctx, &err) < 0 && !(inbox && !wait))
            status = kuke_fail("apply", err);
    }
    for (size_t i = 0; i < n_files && status == 0; i++) {
        for (size_t d = 0; d < manifests[i]->n && status == 0; d++) {
            _cleanup_error_ kk_error *err = NULL;
            void *p = applied;
            kk_xgrow(&p, &cap, n_applied + 1, sizeof(*applied));
            applied = p;
            struct applied *a = &applied[n_applied];
            if (inbox) {
                if (kk_resource_key(manifests[i]->docs[d], &a->key, &err) < 0) {
                    status = kuke_fail("apply", err);
                    break;
                }
                a->kind = manifests[i]->docs[d]->kind;
                if (a->kind == KK_KIND_CONTAINER)
                    kk_model_container_hash(&manifests[i]->docs[d]->container, a->hash);
                else
                    kk_model_spec_hash(manifests[i]->docs[d], a->hash);
            } else if (write_spec(&ctx, manifests[i]->docs[d], a, &err) < 0) {
                status = kuke_fail("apply", err);
                break;
            }
            n_applied++;
        }
    }
    if (status == 0 && wait)
        status = wait_ready(&ctx, applied, n_applied, timeout_s);
    for (size_t i = 0; i < n_files; i++) {
        kk_manifest_free(manifests[i]);
        kk_buf_release(&raw[i]);
    }
    free(applied);
    kuke_ctx_release(&ctx);
    return status;
}
