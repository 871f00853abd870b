/* The YAML reader every state-tree and inbox file goes through
 * (kk_yaml_parse): manifests, status.yaml, the inbox apply reports
 * (_inbox/<file>.status.yaml, kind InboxReport: there is no dedicated
 * reader, so this is the parser that reads them), kukeond.yaml,
 * registries.yaml.
 *
 * A tree that parses is walked (the lookups a report reader makes), then
 * written back with kk_yaml_emit with every scalar marked a string (the
 * emitter writes plain scalars verbatim: by contract they are numbers,
 * booleans or null the schema produced, which parsed text need not be).
 * The text must parse again into the same tree: same shapes, same scalar
 * bytes. That is the quoting the model emitter relies on for user strings. */
#include <stdio.h>

#include "fsapi/yaml.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static bool same(const struct kk_ynode *a, const struct kk_ynode *b)
{
    if (a->type != b->type || a->n != b->n)
        return false;
    if (a->type == KK_YSCALAR)
        return a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
    for (size_t i = 0; i < a->n; i++)
        if (!same(a->items[i], b->items[i]))
            return false;
    return true;
}

static void roundtrip(const struct kk_ynode *root)
{
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    kk_yaml_emit(root, &out);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = NULL;
    if (kk_yaml_parse("emitted", kk_buf_str(&out), out.len, &t, &diags) < 0) {
        if (FUZZ_SKIP_KNOWN_BUGS && fuzz_has_long_key(out.data, out.len))
            return; /* LONGKEY, tests/fuzz/fuzz.h */
        fprintf(stderr, "emitted YAML does not parse:\n%s", kk_buf_str(&out));
        kk_diags_print(&diags, stderr);
        abort();
    }
    if (t->ndocs != 1 || !same(root, t->docs[0].root)) {
        fprintf(stderr, "emitted YAML reads back as another tree:\n%s", kk_buf_str(&out));
        abort();
    }
}

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
    for (size_t i = 0; i < t->nall; i++)
        if (t->all[i]->type == KK_YSCALAR)
            t->all[i]->str = true;
    for (size_t d = 0; d < t->ndocs; d++) {
        const struct kk_ynode *root = t->docs[d].root;
        const struct kk_ynode *st = kk_ynode_get(root, "status");
        (void)kk_ynode_get(root, "kind");
        (void)kk_ynode_is_null(kk_ynode_get(st, "valid"));
        (void)kk_ynode_get(st, "errors");
        (void)kk_ynode_get(st, "resources");
        /* Aliases are shared nodes: the emitted text repeats them, so bound
         * the expansion (and the comparison walk). Only collections: every
         * document the project emits is one, and a root scalar "..." or
         * "---" is written plain and reads back as a document marker
         * (tests/fuzz/crashes/yaml/root-scalar-dots.yaml). */
        if (root && root->type != KK_YSCALAR && root->weight <= 5000)
            roundtrip(root);
    }
    return 0;
}
