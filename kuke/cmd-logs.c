/* kuke logs CELL [-c CONTAINER] [-f]
 *
 * Prints a container's log file (containers/<id>.log: the task's stdout and
 * stderr, appended by containerd's shim). Without -c, the cell's root
 * container. -f follows the file with inotify, also across rotation. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke logs CELL [-c CONTAINER] [-f]\n"
            "  -c, --container ID  which container (default: the cell's root container)\n"
            "  -f, --follow        keep printing what is appended\n%s",
            kuke_common_help);
}

static int copy_out(int fd)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            return -EIO;
    }
}

/* Never returns but on error; *fd may be replaced by a reopened file. */
static int follow(struct kuke_ctx *ctx, const char *rel, int *fd, kk_error **err)
{
    _cleanup_free_ char *abs = kk_tree_join(ctx->state_dir, rel);
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC);
    if (ino < 0)
        return kk_error_errno(err, "inotify");
    _cleanup_free_ char *dir = kk_xstrdup(abs);
    *strrchr(dir, '/') = '\0';
    /* The directory, not the file: rotation renames the file away and a
     * new one appears under the same name. */
    if (inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
        return kk_error_errno(err, "watch %s", dir);
    const char *base = strrchr(abs, '/') + 1;
    for (;;) {
        fflush(stdout);
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(ino, ev, sizeof(ev));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return kk_error_errno(err, "inotify");
        }
        bool reopen = false;
        for (char *p = ev; p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            if (e->len && strcmp(e->name, base) == 0 && (e->mask & (IN_CREATE | IN_MOVED_TO)))
                reopen = true;
            p += sizeof(*e) + e->len;
        }
        copy_out(*fd);
        if (reopen) {
            _cleanup_error_ kk_error *ignored = NULL; /* not there yet: next event */
            int nfd = kk_fs_open(ctx->rootfd, rel, O_RDONLY, 0, &ignored);
            if (nfd >= 0) {
                close(*fd);
                *fd = nfd;
                copy_out(*fd);
            }
        }
    }
}

int kuke_cmd_logs(int argc, char **argv);
int kuke_cmd_logs(int argc, char **argv)
{
    static const struct option opts[] = {
            {"container", required_argument, NULL, 'c'},
            {"follow", no_argument, NULL, 'f'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    const char *container = NULL;
    bool follow_it = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'c':
            container = optarg;
            break;
        case 'f':
            follow_it = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    const char *cell = argv[optind];
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key cell_key, key;
    if (kuke_open_state(&ctx, &err) < 0 ||
        kuke_named_key(&ctx, KK_KIND_CELL, cell, NULL, &cell_key, &err) < 0)
        return kuke_fail("logs", err);
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    if (!container) {
        int r = kuke_load_spec(&ctx, &cell_key, KK_KIND_CELL, &spec, &err);
        if (r != 0) {
            if (r == 1)
                kk_error_set(&err, KK_E_NOT_FOUND, "cell %s not found", cell);
            return kuke_fail("logs", err);
        }
        container = spec->cell.root_container_id;
        if (!container) {
            fprintf(stderr, "kuke logs: cell %s has no containers\n", cell);
            return 1;
        }
    }
    if (kuke_named_key(&ctx, KK_KIND_CONTAINER, container, cell, &key, &err) < 0)
        return kuke_fail("logs", err);
    _cleanup_free_ char *rel = kk_tree_log_path(&key);
    int fd = kk_fs_open(ctx.rootfd, rel, O_RDONLY, 0, &err);
    if (fd < 0)
        return kuke_fail("logs", err);
    int r = copy_out(fd);
    if (r < 0) {
        close(fd);
        kk_error_errnum(&err, -r, "read %s", rel);
        return kuke_fail("logs", err);
    }
    if (follow_it && follow(&ctx, rel, &fd, &err) < 0) {
        close(fd);
        return kuke_fail("logs", err);
    }
    close(fd);
    kuke_ctx_release(&ctx);
    return 0;
}
