/* kuke VERB --wait: see wait.h. */
#include "kuke/wait.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fsapi/cleanup.h"
#include "fsapi/clock.h"

/* How often the progress line is redrawn on a terminal (its countdown);
 * the status itself is read again only when inotify says it changed. */
#define PROGRESS_MS 500

static char *abs_dir(const struct kuke_ctx *ctx, const struct kk_key *key)
{
    _cleanup_free_ char *rel = key->level ? kk_tree_dir(key) : NULL;
    return rel ? kk_xasprintf("%s/%s", ctx->state_dir, rel) : kk_xstrdup(ctx->state_dir);
}

/* Watches the resource's directory (its status.yaml is renamed into it)
 * and its parent (the directory's own removal). A directory that does not
 * exist is not watched: its parent's events say when it appears or goes. */
static int watch(const struct kuke_wait *w)
{
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0)
        return -1;
    struct kk_key parent;
    kk_key_parent(w->key, &parent);
    _cleanup_free_ char *dir = abs_dir(w->ctx, w->key);
    _cleanup_free_ char *pdir = abs_dir(w->ctx, &parent);
    (void)inotify_add_watch(
            fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    (void)inotify_add_watch(fd, pdir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
    return fd;
}

static bool dir_gone(const struct kuke_wait *w)
{
    _cleanup_free_ char *dir = abs_dir(w->ctx, w->key);
    return access(dir, F_OK) < 0 && errno == ENOENT;
}

static void describe(const struct kk_status *st, bool gone, int64_t now_ns, char *buf, size_t n)
{
    if (gone) {
        snprintf(buf, n, "gone");
        return;
    }
    if (!st) {
        snprintf(buf, n, "no status yet");
        return;
    }
    int len = snprintf(buf, n, "%s%s%s", kk_state_name(st->state), st->reason ? " " : "",
                       st->reason ? st->reason : "");
    if (st->deadline && len > 0 && (size_t)len < n) {
        int64_t left_s = (st->deadline - now_ns + 999999999) / 1000000000;
        if (left_s > 0)
            snprintf(buf + len, n - (size_t)len, " (SIGKILL in %lld s)", (long long)left_s);
        else
            snprintf(buf + len, n - (size_t)len, " (SIGKILL sent)");
    }
}

int kuke_wait(const struct kuke_wait *w)
{
    char k[KK_KEY_STRLEN];
    kk_key_format(w->key, k);
    const char *kind = kuke_kind_word((enum kk_kind)(w->key->level - 1));
    bool tty = isatty(STDOUT_FILENO);
    _cleanup_close_ int ifd = watch(w);
    int64_t start = kk_clock_mono_ms(NULL);
    char what[160] = "";
    int verdict;
    for (;;) {
        _cleanup_(kk_status_freep) struct kk_status *st = NULL;
        bool gone = dir_gone(w);
        if (!gone)
            kuke_load_status(w->ctx, w->key, &st);
        verdict = w->done(st, gone, w->arg);
        describe(st, gone, kk_clock_real_ns(NULL), what, sizeof(what));
        if (tty) {
            printf("\r\033[K%s/%s: %s", kind, k, what);
            fflush(stdout);
        }
        if (verdict != KUKE_WAIT_MORE)
            break;
        int64_t left = w->timeout_ms - (kk_clock_mono_ms(NULL) - start);
        if (left <= 0)
            break;
        int64_t slice = tty && left > PROGRESS_MS ? PROGRESS_MS : left;
        if (ifd < 0) /* no inotify (out of watches): look again each slice */
            slice = slice > PROGRESS_MS ? PROGRESS_MS : slice;
        struct pollfd p = {.fd = ifd, .events = POLLIN};
        if (ifd >= 0 && poll(&p, 1, (int)slice) > 0) {
            char buf[4096];
            while (read(ifd, buf, sizeof(buf)) > 0)
                ; /* which event does not matter: the status is read again */
        } else if (ifd < 0) {
            poll(NULL, 0, (int)slice);
        }
    }
    if (tty) {
        printf("\r\033[K");
        fflush(stdout);
    }
    if (verdict == KUKE_WAIT_DONE)
        return 0;
    if (verdict == KUKE_WAIT_FAILED)
        fprintf(stderr, "kuke %s: %s/%s: %s\n", w->what, kind, k, what);
    else
        fprintf(stderr, "kuke %s: %s/%s: still %s after %.1f s\n", w->what, kind, k, what,
                (double)w->timeout_ms / 1000);
    return 1;
}
