/* kuke start|stop|kill|restart|pause|resume cell NAME [SIGNAL]
 *
 * Writes one verb into the cell's ctl file (docs/design.md §2); the agent
 * consumes it, acts, and reports the result as lastControl in the cell's
 * status.yaml. With --wait, waits for that report. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fsapi/atomic.h"
#include "fsapi/clock.h"
#include "fsapi/ctl.h"
#include "kuke/common.h"
#include "kuke/kuke.h"

static void usage(FILE *out, const char *verb)
{
    fprintf(out,
            "usage: kuke %s cell NAME%s [--wait [--timeout SECONDS]]\n"
            "  --wait              wait until the agent reports the request done\n%s",
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
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (kuke_common_option(&ctx, c, optarg))
            continue;
        switch (c) {
        case 'w':
            wait = true;
            break;
        case 't':
            timeout_s = atoi(optarg);
            break;
        case 'h':
            usage(stdout, verb);
            return 0;
        default:
            usage(stderr, verb);
            return 2;
        }
    }
    int nargs = argc - optind;
    bool is_kill = strcmp(verb, "kill") == 0;
    if (nargs < 2 || nargs > (is_kill ? 3 : 2)) {
        usage(stderr, verb);
        return 2;
    }
    if (kuke_kind_parse(argv[optind]) != KK_KIND_CELL) {
        fprintf(stderr, "kuke %s: %s: only cells take control requests (kuke %s cell NAME)\n", verb,
                argv[optind], verb);
        return 2;
    }
    const char *sig = nargs == 3 ? argv[optind + 2] : NULL;
    if (sig && kk_ctl_signal_parse(sig) < 0) {
        fprintf(stderr, "kuke kill: %s: not a signal (a name such as TERM or KILL, or 1-64)\n",
                sig);
        return 2;
    }
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
    int64_t start_ms = kk_clock_mono_ms(NULL);
    for (;;) {
        _cleanup_(kk_status_freep) struct kk_status *st = NULL;
        if (kuke_load_status(&ctx, &key, &st) == 0 && st->last_control.at > before_at &&
            st->last_control.verb && strncmp(st->last_control.verb, verb, strlen(verb)) == 0) {
            const char *result = st->last_control.result ? st->last_control.result : "";
            printf("cell/%s: %s: %s\n", k, verb, result);
            kuke_ctx_release(&ctx);
            return strcmp(result, "ok") == 0 ? 0 : 1;
        }
        if (kk_clock_mono_ms(NULL) - start_ms >= timeout_s * 1000LL) {
            fprintf(stderr, "kuke %s: no report from the agent after %d s\n", verb, timeout_s);
            kuke_ctx_release(&ctx);
            return 1;
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
}
