/* kuke start|stop|kill|restart|pause|resume cell NAME [SIGNAL]
 *
 * Writes one verb into the cell's ctl file (docs/design.md §2); the agent
 * consumes it, acts, and reports the result as lastControl in the cell's
 * status.yaml. With --wait, waits until the request is done (kuke/wait.h:
 * inotify, no polling):
 *
 *   stop             the cell is Stopped
 *   start, resume    the cell is Ready
 *   pause            the cell is Paused
 *   restart          the cell is Ready and every container started after
 *                    the request
 *   kill             the agent reported the request (the restart policy
 *                    decides what follows)
 *
 * A refused request (lastControl.result other than "ok"), a cell that ends
 * Failed, or --timeout (default 60 s) ends the wait with exit status 1. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "fsapi/atomic.h"
#include "fsapi/clock.h"
#include "fsapi/ctl.h"
#include "kuke/common.h"
#include "kuke/kuke.h"
#include "kuke/wait.h"

struct wait_arg {
    const char *verb;
    int64_t before_at;    /* lastControl.at before the request */
    int64_t requested_at; /* wall time the request was written */
    const char *result;
};

/* The agent has consumed the request: lastControl is newer and names the
 * verb. */
static bool consumed(const struct kk_status *st, const struct wait_arg *wa)
{
    return st->last_control.at > wa->before_at && st->last_control.verb &&
           strncmp(st->last_control.verb, wa->verb, strlen(wa->verb)) == 0;
}

/* Every container runs a task started after the request. */
static bool all_restarted(const struct kk_status *st, int64_t since)
{
    for (size_t i = 0; i < st->n_containers; i++)
        if (st->containers[i].state != KK_STATE_READY || st->containers[i].started_at < since)
            return false;
    return true;
}

static int request_done(const struct kk_status *st, bool gone, void *arg)
{
    struct wait_arg *wa = arg;
    if (gone)
        return KUKE_WAIT_FAILED; /* the cell was deleted meanwhile */
    if (!st || !consumed(st, wa))
        return KUKE_WAIT_MORE;
    wa->result = st->last_control.result ? st->last_control.result : "";
    if (strcmp(wa->result, "ok") != 0)
        return KUKE_WAIT_FAILED;
    const char *v = wa->verb;
    if (strcmp(v, "kill") == 0)
        return KUKE_WAIT_DONE;
    if (st->state == KK_STATE_FAILED && strcmp(v, "stop") != 0)
        return KUKE_WAIT_FAILED;
    if (strcmp(v, "stop") == 0)
        return st->state == KK_STATE_STOPPED ? KUKE_WAIT_DONE : KUKE_WAIT_MORE;
    if (strcmp(v, "pause") == 0)
        return st->state == KK_STATE_PAUSED ? KUKE_WAIT_DONE : KUKE_WAIT_MORE;
    if (strcmp(v, "restart") == 0)
        return st->state == KK_STATE_READY && all_restarted(st, wa->requested_at) ? KUKE_WAIT_DONE
                                                                                  : KUKE_WAIT_MORE;
    /* start, resume */
    return st->state == KK_STATE_READY ? KUKE_WAIT_DONE : KUKE_WAIT_MORE;
}

static void usage(FILE *out, const char *verb)
{
    fprintf(out,
            "usage: kuke %s cell NAME%s [--wait [--timeout SECONDS]]\n"
            "  --wait              wait until the request is done (stop: Stopped; start,\n"
            "                      resume: Ready; pause: Paused; restart: Ready again)\n"
            "  --timeout SECONDS   give up waiting after that long (exit 1; default 60)\n%s",
            verb, strcmp(verb, "kill") == 0 ? " [SIGNAL]" : "", kuke_common_help);
}

int kuke_cmd_ctl(int argc, char **argv)
{
    static const struct option opts[] = {
            {"wait", no_argument, NULL, 'w'},
            {"timeout", required_argument, NULL, 't'},
            {"help", no_argument, NULL, 'h'},
            KUKE_COMMON_OPTIONS,
            {NULL, 0, NULL, 0},
    };
    const char *verb = argv[0];
    struct kuke_ctx ctx;
    kuke_ctx_init(&ctx);
    bool wait = false;
    int timeout_s = 60, c;
    _cleanup_free_ char *try_ = kk_xasprintf("kuke %s cell NAME --wait --timeout 30", verb);
    kuke_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'w':
            wait = true;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 86400)
                return kuke_usage_error(verb, try_,
                                        "--timeout: expected whole seconds from 1 to 86400, got "
                                        "'%s'",
                                        optarg);
            timeout_s = (int)v;
            break;
        }
        case 'h':
            usage(stdout, verb);
            return 0;
        default:
            return kuke_bad_option(verb, try_, c, argv);
        }
    }
    int nargs = argc - optind;
    bool is_kill = strcmp(verb, "kill") == 0;
    _cleanup_free_ char *try_cell = kk_xasprintf("kuke %s cell web", verb);
    if (nargs == 0)
        return kuke_usage_error(verb, try_cell, "missing kind and name");
    if (nargs == 1 && kuke_kind_parse(argv[optind]) < 0) {
        /* `kuke stop web`: the kind was left out */
        _cleanup_free_ char *t = kk_xasprintf("kuke %s cell %s", verb, argv[optind]);
        return kuke_usage_error(verb, t, "missing kind");
    }
    if (nargs == 1)
        return kuke_usage_error(verb, try_cell, "missing name");
    if (nargs > (is_kill ? 3 : 2))
        return kuke_usage_error(verb, try_cell, "unexpected argument '%s'",
                                argv[optind + (is_kill ? 3 : 2)]);
    if (kuke_kind_parse(argv[optind]) != KK_KIND_CELL) {
        _cleanup_free_ char *t = kk_xasprintf("kuke %s cell %s", verb, argv[optind + 1]);
        return kuke_usage_error(verb, t, "%s: only cells take control requests", argv[optind]);
    }
    const char *sig = nargs == 3 ? argv[optind + 2] : NULL;
    if (sig && kk_ctl_signal_parse(sig) < 0)
        return kuke_usage_error(verb, "kuke kill cell web KILL",
                                "%s: not a signal (a name such as TERM or KILL, or 1-64)", sig);
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key key;
    if (kuke_open_state(&ctx, &err) < 0 ||
        kuke_named_key(&ctx, KK_KIND_CELL, argv[optind + 1], NULL, &key, &err) < 0)
        return kuke_fail(verb, err);
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    int r = kuke_load_spec(&ctx, &key, KK_KIND_CELL, &spec, &err);
    if (r != 0) {
        if (r == 1)
            kk_error_set(&err, KK_E_NOT_FOUND, "cell %s not found", argv[optind + 1]);
        return kuke_fail(verb, err);
    }
    _cleanup_(kk_status_freep) struct kk_status *before = NULL;
    kuke_load_status(&ctx, &key, &before);
    int64_t before_at = before ? before->last_control.at : 0;

    int64_t requested_at = kk_clock_real_ns(NULL);
    _cleanup_free_ char *line = kk_xasprintf("%s%s%s\n", verb, sig ? " " : "", sig ? sig : "");
    _cleanup_free_ char *rel = kk_tree_ctl_path(&key);
    if (kk_atomic_write(ctx.rootfd, rel, line, strlen(line), 0644, &err) < 0)
        return kuke_fail(verb, err);
    char k[KK_KEY_STRLEN];
    printf("cell/%s: %s requested\n", kk_key_format(&key, k), verb);
    if (!wait) {
        kuke_ctx_release(&ctx);
        return 0;
    }
    struct wait_arg wa = {
            .verb = verb, .before_at = before_at, .requested_at = requested_at, .result = ""};
    struct kuke_wait w = {
            .ctx = &ctx,
            .key = &key,
            .timeout_ms = (int64_t)timeout_s * 1000,
            .done = request_done,
            .arg = &wa,
            .what = verb,
    };
    int r2 = kuke_wait(&w);
    if (r2 == 0)
        printf("cell/%s: %s: done\n", k, verb);
    else if (wa.result[0] && strcmp(wa.result, "ok") != 0)
        fprintf(stderr, "kuke %s: the agent refused the request: %s\n", verb, wa.result);
    kuke_ctx_release(&ctx);
    return r2;
}
