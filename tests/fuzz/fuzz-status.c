/* status.yaml reader (kk_status_load_buffer): what `kuke get`, `kuke apply
 * --wait` and the agent itself read back from the state tree, which any
 * local user able to write there can shape.
 *
 * Whatever loads is emitted and must load again and emit the very same
 * bytes (the status round trip of tests/unit/test-roundtrip.c); a
 * difference aborts. */
#include <stdio.h>

#include "fsapi/status.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static void roundtrip(const struct kk_status *st)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    kk_status_emit(st, &text);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_status_freep) struct kk_status *back = NULL;
    if (kk_status_load_buffer("emitted", kk_buf_str(&text), text.len, &back, &diags, &err) < 0) {
        fprintf(stderr, "emitted status does not load: %s\n%s", err->message, kk_buf_str(&text));
        kk_diags_print(&diags, stderr);
        abort();
    }
    _cleanup_buf_ struct kk_buf text2 = KK_BUF_INIT;
    kk_status_emit(back, &text2);
    if (strcmp(kk_buf_str(&text), kk_buf_str(&text2)) != 0) {
        fprintf(stderr, "status emission is not stable:\n%s---- then ----\n%s", kk_buf_str(&text),
                kk_buf_str(&text2));
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_status_freep) struct kk_status *st = NULL;
    if (kk_status_load_buffer("status.yaml", (const char *)data, size, &st, &diags, &err) == 0)
        roundtrip(st);
    for (size_t i = 0; i < diags.n; i++) {
        _cleanup_buf_ struct kk_buf line = KK_BUF_INIT;
        kk_diag_format(&diags.items[i], &line);
    }
    return 0;
}
