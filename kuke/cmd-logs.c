/* kuke logs CELL [-c CONTAINER] [-f] [--tail N]
 *
 * Prints a container's log file (containers/<id>.log: the task's stdout and
 * stderr, appended by containerd's shim). Without -c, the cell's root
 * container. -f follows the file with inotify, also across rotation: the
 * agent's (agent/cell.c rotate_log: copy to <id>.log.1, then truncate in
 * place) and a file replaced under the name (another inode: reopened).
 * --tail N starts at the last N lines. --since and --timestamps are refused:
 * the shim writes the task's output as it comes, with no time on a line. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "fsapi/fsutil.h"
#include "kuke/common.h"
#include "kuke/kuke.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kuke logs CELL [-c CONTAINER] [-f] [--tail N]\n"
            "  -c, --container ID  which container (default: the cell's root container)\n"
            "  -f, --follow        keep printing what is appended\n"
            "  --tail N            only the last N lines (then what is appended, with -f)\n%s",
            kuke_common_help);
}

#define TAIL_MAX 64

/* The file being printed and how far: `off` bytes were printed, the last
 * `tail_len` of them are in `tail`. The tail tells a truncated file that
 * was written again past `off` (its size alone cannot) from one that only
 * grew. */
struct logfile {
    int fd;
    off_t off;
    size_t tail_len;
    char tail[TAIL_MAX];
};

static void logfile_at_start(struct logfile *lf)
{
    lf->off = 0;
    lf->tail_len = 0;
}

static void logfile_release(struct logfile *lf)
{
    if (lf->fd >= 0)
        close(lf->fd);
    lf->fd = -1;
}

static void tail_push(struct logfile *lf, const char *data, size_t n)
{
    if (n >= TAIL_MAX) {
        memcpy(lf->tail, data + n - TAIL_MAX, TAIL_MAX);
        lf->tail_len = TAIL_MAX;
        return;
    }
    size_t keep = lf->tail_len + n > TAIL_MAX ? TAIL_MAX - n : lf->tail_len;
    memmove(lf->tail, lf->tail + lf->tail_len - keep, keep);
    memcpy(lf->tail + keep, data, n);
    lf->tail_len = keep + n;
}

/* Prints fd from its offset to its end; with lf, counts what it printed. */
static int copy_out(int fd, struct logfile *lf)
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
        if (lf) {
            lf->off += n;
            tail_push(lf, buf, (size_t)n);
        }
    }
}

/* Whether fd holds lf's tail right before lf->off: the bytes lf printed
 * last are still where they were. */
static bool tail_matches(int fd, const struct logfile *lf)
{
    char buf[TAIL_MAX];
    size_t n = lf->tail_len;
    return pread(fd, buf, n, lf->off - (off_t)n) == (ssize_t)n && memcmp(buf, lf->tail, n) == 0;
}

/* Whether lf's file was truncated since lf last read it: it is shorter than
 * what was printed, or it was written again past that. */
static bool truncated(const struct logfile *lf)
{
    struct stat st;
    if (lf->off == 0 || fstat(lf->fd, &st) < 0)
        return false;
    return st.st_size < lf->off || !tail_matches(lf->fd, lf);
}

/* The agent copied the log to <rel>.1 before truncating it: what was
 * appended after lf last read and before the copy is there, from lf->off
 * on, if <rel>.1 is that copy (it holds lf's tail right before lf->off). */
static void print_rotated_rest(struct kuke_ctx *ctx, const char *rel, const struct logfile *lf)
{
    _cleanup_free_ char *old = kk_xasprintf("%s.1", rel);
    _cleanup_error_ kk_error *ignored = NULL; /* no copy: nothing to add */
    _cleanup_close_ int fd = kk_fs_open_regular(ctx->rootfd, old, &(struct stat){0}, &ignored);
    if (fd < 0 || !tail_matches(fd, lf) || lseek(fd, lf->off, SEEK_SET) < 0)
        return;
    copy_out(fd, NULL);
}

/* Whether rel now names another file than lf->fd (replaced, recreated). A
 * missing rel is not: its successor has yet to appear. */
static bool replaced(struct kuke_ctx *ctx, const char *rel, const struct logfile *lf)
{
    struct stat now, ours;
    return fstatat(ctx->rootfd, rel, &now, AT_SYMLINK_NOFOLLOW) == 0 && fstat(lf->fd, &ours) == 0 &&
           (now.st_dev != ours.st_dev || now.st_ino != ours.st_ino);
}

/* Prints what is new in rel since lf last read it (errors are for the next
 * event to retry). */
static void catch_up(struct kuke_ctx *ctx, const char *rel, struct logfile *lf)
{
    if (replaced(ctx, rel, lf)) {
        _cleanup_error_ kk_error *ignored = NULL; /* gone again: next event */
        int nfd = kk_fs_open_regular(ctx->rootfd, rel, &(struct stat){0}, &ignored);
        if (nfd >= 0) {
            if (!truncated(lf))
                copy_out(lf->fd, NULL); /* the end written before the switch */
            logfile_release(lf);
            lf->fd = nfd;
            logfile_at_start(lf);
        }
    } else if (truncated(lf)) {
        print_rotated_rest(ctx, rel, lf);
        if (lseek(lf->fd, 0, SEEK_SET) == 0)
            logfile_at_start(lf);
    }
    copy_out(lf->fd, lf);
}

/* The offset of the start of the last n lines of fd (a last line without
 * its newline counts), reading backwards from its end. */
static off_t tail_start(int fd, unsigned long n)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return 0;
    if (n == 0)
        return st.st_size;
    char buf[65536];
    off_t end = st.st_size;
    /* The final newline ends the last line; it does not start one. */
    bool skip_last = pread(fd, buf, 1, end - 1) == 1 && buf[0] == '\n';
    unsigned long seen = 0;
    while (end > 0) {
        size_t chunk = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf);
        off_t at = end - (off_t)chunk;
        if (pread(fd, buf, chunk, at) != (ssize_t)chunk)
            return 0;
        for (size_t i = chunk; i-- > 0;) {
            if (buf[i] != '\n')
                continue;
            if (skip_last) {
                skip_last = false;
                continue;
            }
            if (++seen == n)
                return at + (off_t)i + 1;
        }
        end = at;
    }
    return 0;
}

/* Returns only when stdout's reader went away (0), or on error (-1). */
static int follow(struct kuke_ctx *ctx, const char *rel, struct logfile *lf, kk_error **err)
{
    _cleanup_free_ char *abs = kk_tree_join(ctx->state_dir, rel);
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC);
    if (ino < 0)
        return kk_error_errno(err, "inotify");
    _cleanup_free_ char *dir = kk_xstrdup(abs);
    *strrchr(dir, '/') = '\0';
    /* The directory, not the file: a replaced file appears under the same
     * name; IN_MODIFY also reports the truncation of a rotation. */
    if (inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
        return kk_error_errno(err, "watch %s", dir);
    const char *base = strrchr(abs, '/') + 1;
    /* Whatever happened between the first read and the watch. */
    catch_up(ctx, rel, lf);
    for (;;) {
        if (fflush(stdout) != 0 || kuke_wait_readable(ino) == 1)
            return 0; /* the reader went away */
        char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(ino, ev, sizeof(ev));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return kk_error_errno(err, "inotify");
        }
        bool ours = false; /* not the other containers' logs */
        for (char *p = ev; p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            if ((e->len && strcmp(e->name, base) == 0) || (e->mask & IN_Q_OVERFLOW))
                ours = true;
            p += sizeof(*e) + e->len;
        }
        if (ours)
            catch_up(ctx, rel, lf);
    }
}

int kuke_cmd_logs(int argc, char **argv)
{
    static const struct option opts[] = {
            {"container", required_argument, NULL, 'c'},
            {"follow", no_argument, NULL, 'f'},
            {"tail", required_argument, NULL, 't'},
            {"since", required_argument, NULL, 's'},
            {"timestamps", no_argument, NULL, 'T'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    const char *container = NULL;
    bool follow_it = false;
    long tail = -1; /* all */
    int c;
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":c:fh", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'c':
            container = optarg;
            break;
        case 'f':
            follow_it = true;
            break;
        case 't': {
            char *end;
            errno = 0;
            tail = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || tail < -1)
                return kuke_usage_error("logs", "kuke logs web --tail 20",
                                        "--tail %s: a number of lines (-1: all)", optarg);
            break;
        }
        case 's':
        case 'T':
            return kuke_usage_error("logs", NULL,
                                    "%s: not supported yet: log lines carry no "
                                    "timestamps",
                                    c == 's' ? "--since" : "--timestamps");
        case 'h':
            usage(stdout);
            return 0;
        default:
            return kuke_bad_option("logs", NULL, c, argv);
        }
    }
    if (argc - optind != 1)
        return kuke_usage_error("logs", "kuke logs web -f", "give one CELL");
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
    _cleanup_(logfile_release) struct logfile lf = {
            .fd = kk_fs_open_regular(ctx.rootfd, rel, &(struct stat){0}, &err)};
    if (lf.fd < 0)
        return kuke_fail("logs", err);
    if (tail >= 0) {
        lf.off = tail_start(lf.fd, (unsigned long)tail);
        /* The bytes before the start are the tail -f checks a rotation by. */
        char before[TAIL_MAX];
        size_t k = lf.off < TAIL_MAX ? (size_t)lf.off : TAIL_MAX;
        if (k && pread(lf.fd, before, k, lf.off - (off_t)k) == (ssize_t)k)
            tail_push(&lf, before, k);
        if (lseek(lf.fd, lf.off, SEEK_SET) < 0) {
            kk_error_errno(&err, "seek %s", rel);
            return kuke_fail("logs", err);
        }
    }
    int r = copy_out(lf.fd, &lf);
    if (r < 0) {
        kk_error_errnum(&err, -r, "read %s", rel);
        return kuke_fail("logs", err);
    }
    if (follow_it && follow(&ctx, rel, &lf, &err) < 0)
        return kuke_fail("logs", err);
    kuke_ctx_release(&ctx);
    return 0;
}
