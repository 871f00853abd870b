/* Hostile manifests the node limit alone did not stop: aliases of large
 * strings (a bomb by bytes, not by nodes) and lists of tens of thousands of
 * entries. Each ends in one diagnostic with a line and column, quickly.
 * (tests/e2e/hostile-input.sh drops the same kinds of file into a running
 * agent.) */
#include <string.h>

#include "fsapi/manifest.h"
#include "fsapi/yaml.h"
#include "tests/lib/kktest.h"

static const char cell_head[] = "apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: c\n";

/* A label of `len` bytes anchored as &s, then a list of `n` aliases of it
 * (and, with nested, a list of that list aliased again). */
static void byte_bomb(struct kk_buf *b, size_t len, unsigned n, unsigned nested)
{
    kk_buf_adds(b, cell_head);
    kk_buf_adds(b, "  labels:\n    big: &s \"");
    for (size_t i = 0; i < len; i++)
        kk_buf_addch(b, 'x');
    kk_buf_adds(b, "\"\nspec:\n  containers:\n    - id: w\n      image: busybox\n      args: &l [");
    for (unsigned i = 0; i < n; i++)
        kk_buf_printf(b, "%s*s", i ? "," : "");
    kk_buf_adds(b, "]\n");
    if (nested) {
        kk_buf_adds(b, "    - id: v\n      image: busybox\n      x: [");
        for (unsigned i = 0; i < nested; i++)
            kk_buf_printf(b, "%s*l", i ? "," : "");
        kk_buf_adds(b, "]\n");
    }
}

KT_CASE(alias_of_a_large_string_is_counted_by_its_bytes)
{
    /* 60 KB aliased 20,000 times: 1.2 GB of text, 20,000 nodes. */
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    byte_bomb(&b, 60000, 20000, 0);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    struct kk_ytree *t = NULL;
    int r = kk_yaml_parse("bomb.yaml", kk_buf_str(&b), b.len, &t, &diags);
    KT_ASSERT(r < 0 && t == NULL);
    KT_ASSERT_EQ(diags.n, 1);
    KT_ASSERT_MSG(strstr(diags.items[0].message, "more than 2 MiB of text"), "%s",
                  diags.items[0].message);
    /* At the alias that crossed the limit, so nothing past it was
     * expanded: the 34th (the label and 34 aliases: 35 * 60 KB > 2 MiB),
     * at column 17 + 3 * 33. */
    KT_ASSERT_EQ(diags.items[0].line, 11);
    KT_ASSERT_EQ(diags.items[0].col, 17 + 3 * 33);
}

KT_CASE(alias_of_a_list_counts_the_list_text)
{
    /* 1,000 bytes aliased 30 times in a list, that list aliased 40 times:
     * 30 KB + 1.2 MB < 2 MiB passes; aliased 80 times it does not. */
    _cleanup_buf_ struct kk_buf ok = KK_BUF_INIT;
    byte_bomb(&ok, 1000, 30, 40);
    _cleanup_diags_ struct kk_diags d1 = KK_DIAGS_INIT;
    struct kk_ytree *t = NULL;
    KT_ASSERT(kk_yaml_parse("ok.yaml", kk_buf_str(&ok), ok.len, &t, &d1) == 0);
    kk_ytree_free(t);

    _cleanup_buf_ struct kk_buf bad = KK_BUF_INIT;
    byte_bomb(&bad, 1000, 30, 80);
    _cleanup_diags_ struct kk_diags d2 = KK_DIAGS_INIT;
    t = NULL;
    KT_ASSERT(kk_yaml_parse("bad.yaml", kk_buf_str(&bad), bad.len, &t, &d2) < 0 && !t);
    KT_ASSERT(strstr(d2.items[0].message, "more than 2 MiB of text"));
    KT_ASSERT_EQ(d2.items[0].line, 14);
}

KT_CASE(text_without_aliases_is_never_refused_as_expanded)
{
    /* The one escape that grows: "\L" (2 bytes) is U+2028 (3 bytes). A
     * file of them just under 1 MiB is 1.5 MiB of text, and still fine. */
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    for (int i = 0; i < 26; i++) {
        kk_buf_printf(&b, "k%d: \"", i);
        for (int j = 0; j < 20000; j++)
            kk_buf_adds(&b, "\\L");
        kk_buf_adds(&b, "\"\n");
    }
    KT_ASSERT(b.len < KK_YAML_MAX_INPUT);
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    struct kk_ytree *t = NULL;
    KT_ASSERT_MSG(kk_yaml_parse("l.yaml", kk_buf_str(&b), b.len, &t, &diags) == 0, "%s",
                  diags.n ? diags.items[0].message : "");
    KT_ASSERT_EQ(kk_ynode_get(t->docs[0].root, "k3")->len, 20000 * 3);
    kk_ytree_free(t);
}

/* A cell whose one container has `n` entries in env (list) or labels
 * (mapping). */
static int load_cell_with(const char *what, unsigned n, struct kk_diags *diags)
{
    _cleanup_buf_ struct kk_buf b = KK_BUF_INIT;
    kk_buf_adds(&b, cell_head);
    if (strcmp(what, "labels") == 0) {
        kk_buf_adds(&b, "  labels:\n");
        for (unsigned i = 0; i < n; i++)
            kk_buf_printf(&b, "    l%u: v\n", i);
    }
    kk_buf_adds(&b, "spec:\n  containers:\n    - id: w\n      image: busybox\n");
    if (strcmp(what, "env") == 0) {
        kk_buf_adds(&b, "      env:\n");
        for (unsigned i = 0; i < n; i++)
            kk_buf_printf(&b, "        - E%u=v\n", i);
    }
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    _cleanup_error_ kk_error *err = NULL;
    return kk_manifest_load_buffer("many.yaml", kk_buf_str(&b), b.len, &m, diags, &err);
}

KT_CASE(env_of_4096_entries_loads_4097_does_not)
{
    _cleanup_diags_ struct kk_diags d1 = KK_DIAGS_INIT;
    KT_ASSERT(load_cell_with("env", 4096, &d1) == 0);
    _cleanup_diags_ struct kk_diags d2 = KK_DIAGS_INIT;
    KT_ASSERT(load_cell_with("env", 4097, &d2) < 0);
    KT_ASSERT_EQ(d2.n, 1);
    KT_ASSERT_MSG(strstr(d2.items[0].message, "limit: more than 4096 entries"), "%s",
                  d2.items[0].message);
    KT_ASSERT_STREQ(d2.items[0].path, "spec.containers[0].env");
    KT_ASSERT_EQ(d2.items[0].line, 10 + 4096); /* the 4097th entry */
    KT_ASSERT_EQ(d2.items[0].col, 11);
}

KT_CASE(labels_of_40000_entries_are_refused)
{
    /* Labels are kept sorted by insertion: 40,000 of them took seconds.
     * Refused at the 4,097th, before any is decoded (no timing here: unit
     * tests also run under valgrind; the bound is the entry count). */
    _cleanup_diags_ struct kk_diags d = KK_DIAGS_INIT;
    KT_ASSERT(load_cell_with("labels", 40000, &d) < 0);
    KT_ASSERT_MSG(strstr(d.items[0].message, "limit: more than 4096 entries"), "%s",
                  d.items[0].message);
    KT_ASSERT_EQ(d.items[0].line, 6 + 4096); /* the 4097th */
}
