/* Manifest loader and validator: the bytes as one inbox file.
 *
 * kk_manifest_load_buffer parses, decodes, normalises and validates every
 * document. Whatever loads must also survive the round trip the agent
 * relies on (emit, reload: equal model, equal hash, same bytes again); a
 * difference aborts, as a crash would. The same bytes are also loaded as a
 * state-tree file of one kind (kk_resource_load_buffer), and every
 * diagnostic is formatted (they quote the input). */
#include <stdio.h>

#include "fsapi/hash.h"
#include "fsapi/manifest.h"
#include "tests/fuzz/fuzz.h"

FUZZ_QUIET_INIT

static void emit_all(const struct kk_manifest *m, struct kk_buf *out)
{
    for (size_t i = 0; i < m->n; i++) {
        kk_buf_adds(out, "---\n");
        kk_model_emit_spec(m->docs[i], out);
    }
}

static void format_diags(const struct kk_diags *diags)
{
    for (size_t i = 0; i < diags->n; i++) {
        _cleanup_buf_ struct kk_buf line = KK_BUF_INIT;
        kk_diag_format(&diags->items[i], &line);
    }
}

static void roundtrip(const struct kk_manifest *m)
{
    _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
    emit_all(m, &text);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *again = NULL;
    if (kk_manifest_load_buffer("emitted", kk_buf_str(&text), text.len, &again, &diags, &err) < 0) {
        if (FUZZ_SKIP_KNOWN_BUGS && fuzz_has_long_key(text.data, text.len))
            return; /* LONGKEY, tests/fuzz/fuzz.h */
        fprintf(stderr, "emitted text does not load: %s\n%s", err->message, kk_buf_str(&text));
        kk_diags_print(&diags, stderr);
        abort();
    }
    if (again->n != m->n) {
        fprintf(stderr, "%zu documents became %zu\n", m->n, again->n);
        abort();
    }
    for (size_t i = 0; i < m->n; i++) {
        char h1[KK_HASH_SIZE], h2[KK_HASH_SIZE];
        kk_model_spec_hash(m->docs[i], h1);
        kk_model_spec_hash(again->docs[i], h2);
        if (!kk_model_equal(m->docs[i], again->docs[i]) || strcmp(h1, h2) != 0) {
            fprintf(stderr, "document %zu differs after a round trip:\n%s", i, kk_buf_str(&text));
            abort();
        }
    }
    _cleanup_buf_ struct kk_buf text2 = KK_BUF_INIT;
    emit_all(again, &text2);
    if (strcmp(kk_buf_str(&text), kk_buf_str(&text2)) != 0) {
        fprintf(stderr, "emission is not stable:\n%s---- then ----\n%s", kk_buf_str(&text),
                kk_buf_str(&text2));
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    {
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
        if (kk_manifest_load_buffer("fuzz.yaml", (const char *)data, size, &m, &diags, &err) == 0)
            roundtrip(m);
        format_diags(&diags);
    }
    {
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
        enum kk_kind kind = (enum kk_kind)(size ? data[size - 1] % KK_KIND_COUNT : 0);
        kk_resource_load_buffer("cell.yaml", (const char *)data, size, kind, &r, &diags, &err);
        format_diags(&diags);
    }
    return 0;
}
