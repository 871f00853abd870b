/* The YAML reader every state-tree and inbox file goes through
 * (kk_yaml_parse): manifests, status.yaml, the inbox apply reports
 * (_inbox/<file>.status.yaml, kind InboxReport: no dedicated reader, so
 * this is the parser that reads them), kukeond.yaml, registries.yaml.
 *
 * A tree that parses is walked (lookups of the keys a report reader
 * uses) and emitted; the emitted text must parse again. */
#include <stdio.h>

#include "fsapi/yaml.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    if (kk_yaml_parse("report.yaml", (const char *)data, size, &t, &diags) < 0) {
        for (size_t i = 0; i < diags.n; i++) {
            _cleanup_buf_ struct kk_buf line = KK_BUF_INIT;
            kk_diag_format(&diags.items[i], &line);
        }
        return 0;
    }
    for (size_t d = 0; d < t->ndocs; d++) {
        const struct kk_ynode *root = t->docs[d].root;
        const struct kk_ynode *st = kk_ynode_get(root, "status");
        (void)kk_ynode_is_null(kk_ynode_get(root, "kind"));
        (void)kk_ynode_is_null(kk_ynode_get(st, "valid"));
        (void)kk_ynode_get(st, "errors");
        (void)kk_ynode_get(st, "resources");
        if (!root)
            continue;
        _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
        kk_yaml_emit(root, &out);
        if (out.len > KK_YAML_MAX_INPUT)
            continue; /* aliases expanded past the input limit: not comparable */
        _cleanup_diags_ struct kk_diags d2 = KK_DIAGS_INIT;
        _cleanup_(kk_ytree_freep) struct kk_ytree *t2 = NULL;
        if (kk_yaml_parse("emitted", kk_buf_str(&out), out.len, &t2, &d2) < 0) {
            fprintf(stderr, "emitted YAML does not parse:\n%s", kk_buf_str(&out));
            kk_diags_print(&d2, stderr);
            abort();
        }
    }
    return 0;
}
