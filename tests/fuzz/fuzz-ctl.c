/* A cell's ctl file ("stop", "kill SIGTERM", ...), which `kuke ctl` and
 * anyone with write access to the state tree can write: kk_ctl_parse, the
 * one parser kuke and the agent (consume_ctl in agent/cell.c) share, and
 * kk_ctl_signal_parse. Checks what fsapi/ctl.h promises: a request parses
 * to a real verb (kill: a signal 1..64) or fails with a reason, and the
 * text kept for status.yaml is NUL-terminated, printable ASCII, no line
 * break, whatever came in. */
#include <stdio.h>

#include "fsapi/ctl.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static void check_text(const struct kk_ctl_request *req)
{
    size_t n = strnlen(req->text, sizeof(req->text));
    if (n == sizeof(req->text)) {
        fprintf(stderr, "ctl text not NUL-terminated\n");
        abort();
    }
    for (size_t i = 0; i < n; i++)
        if (req->text[i] < 0x20 || req->text[i] > 0x7e) {
            fprintf(stderr, "ctl text byte %zu is 0x%02x\n", i, (unsigned char)req->text[i]);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exactly sized: the parser must not look for a NUL past len */
    _cleanup_free_ char *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    struct kk_ctl_request req;
    memset(&req, 0xa5, sizeof(req)); /* nothing left from a previous call */
    const char *why = NULL;
    if (kk_ctl_parse(copy, size, &req, &why) == 0) {
        if (req.verb == KK_CTL_INVALID ||
            (req.verb == KK_CTL_KILL && (req.signal < 1 || req.signal > 64))) {
            fprintf(stderr, "accepted verb %d signal %d\n", (int)req.verb, req.signal);
            abort();
        }
    } else if (!why) {
        fprintf(stderr, "refused without a reason\n");
        abort();
    }
    check_text(&req);

    _cleanup_free_ char *s = fuzz_cstr(data, size);
    int sig = kk_ctl_signal_parse(s);
    if (sig != -1 && (sig < 1 || sig > 64)) {
        fprintf(stderr, "signal %d\n", sig);
        abort();
    }
    return 0;
}
