/* The YAML tree: positions, aliases, limits, duplicate keys, the emitter. */
#include <string.h>
#include <time.h>

#include "fsapi/manifest.h"
#include "fsapi/yaml.h"
#include "tests/lib/kktest.h"

static struct kk_ytree *parse(const char *s, struct kk_diags *diags)
{
    struct kk_ytree *t = NULL;
    kk_yaml_parse("y", s, strlen(s), &t, diags);
    return t;
}

KT_CASE(positions_and_documents)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = parse("# c\na: 1\nb:\n  - x\n  - {k: v}\n"
                                                         "---\nsecond: doc\n",
                                                         &diags);
    KT_ASSERT(t);
    KT_ASSERT_EQ(t->ndocs, 2);
    const struct kk_ynode *b = kk_ynode_get(t->docs[0].root, "b");
    KT_ASSERT(b && b->type == KK_YSEQ && b->n == 2);
    KT_ASSERT_EQ(b->items[1]->line, 5);
    KT_ASSERT_EQ(b->items[1]->col, 5);
    KT_ASSERT_STREQ(kk_ynode_get(b->items[1], "k")->value, "v");
    KT_ASSERT_EQ(t->docs[1].line, 6);
    KT_ASSERT_STREQ(kk_ynode_get(t->docs[1].root, "second")->value, "doc");
}

KT_CASE(scalar_styles)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_(kk_ytree_freep) struct kk_ytree *t =
            parse("a: true\nb: 'true'\nc: !!str true\nd: |\n  two\n  lines\ne:\n", &diags);
    KT_ASSERT(t);
    const struct kk_ynode *r = t->docs[0].root;
    KT_ASSERT(!kk_ynode_get(r, "a")->str);
    KT_ASSERT(kk_ynode_get(r, "b")->str);
    KT_ASSERT(kk_ynode_get(r, "c")->str);
    KT_ASSERT_STREQ(kk_ynode_get(r, "d")->value, "two\nlines\n");
    KT_ASSERT(kk_ynode_is_null(kk_ynode_get(r, "e")));
    KT_ASSERT(!kk_ynode_is_null(kk_ynode_get(r, "b")));
}

KT_CASE(aliases_are_shared_and_usable)
{
    static const char doc[] = "apiVersion: v1beta1\nkind: Cell\nmetadata: {name: c}\nspec:\n"
                              "  containers:\n"
                              "    - id: a\n      image: busybox\n      env: &env [A=1, B=2]\n"
                              "    - id: b\n      image: busybox\n      env: *env\n";
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_resource_freep) struct kk_resource *r = NULL;
    KT_ASSERT_OK(kk_resource_load_buffer("a", doc, strlen(doc), KK_KIND_CELL, &r, &diags, &err),
                 &err);
    KT_ASSERT_EQ(r->cell.containers[1].env.n, 2);
    KT_ASSERT_STREQ(r->cell.containers[1].env.v[1], "B=2");
}

KT_CASE(billion_laughs_stops_in_milliseconds)
{
    struct kk_buf b = KK_BUF_INIT;
    kk_buf_adds(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i < 30; i++) {
        kk_buf_printf(&b, "a%d: &a%d [", i, i);
        for (int j = 0; j < 10; j++)
            kk_buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
        kk_buf_adds(&b, "]\n");
    }
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct kk_ytree *t = NULL;
    int r = kk_yaml_parse("laughs", kk_buf_str(&b), b.len, &t, &diags);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    kk_buf_release(&b);
    KT_ASSERT(r < 0 && t == NULL);
    KT_ASSERT(strstr(diags.items[0].message, "more than 100000 nodes"));
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    KT_ASSERT_MSG(ms < 100, "took %.1f ms", ms);
}

KT_CASE(duplicate_and_complex_keys)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    struct kk_ytree *t = parse("a: 1\nb: {x: 1, y: 2, x: 3}\na: 2\n", &diags);
    KT_ASSERT(t == NULL);
    KT_ASSERT_EQ(diags.n, 2); /* both duplicates, not only the first */
    KT_ASSERT_STREQ(diags.items[0].path, "b.x");
    KT_ASSERT_EQ(diags.items[0].col, 17);
    KT_ASSERT_STREQ(diags.items[1].path, "a");
    KT_ASSERT_EQ(diags.items[1].line, 3);

    _cleanup_diags_ struct kk_diags d2 = KK_DIAGS_INIT;
    KT_ASSERT(parse("? {a: 1}\n: x\n", &d2) == NULL);
    KT_ASSERT(strstr(d2.items[0].message, "mapping keys must be scalars"));
    _cleanup_diags_ struct kk_diags d3 = KK_DIAGS_INIT;
    KT_ASSERT(parse("a: &k key\n*k : x\n", &d3) == NULL);
    KT_ASSERT(strstr(d3.items[0].message, "alias cannot be a mapping key"));
}

KT_CASE(anchors_are_per_document)
{
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    KT_ASSERT(parse("a: &x 1\n---\nb: *x\n", &diags) == NULL);
    KT_ASSERT(strstr(diags.items[0].message, "unknown alias *x"));
    KT_ASSERT_EQ(diags.items[0].line, 3);
}

KT_CASE(emitter_output_shapes)
{
    _cleanup_(kk_ytree_freep) struct kk_ytree *t = kk_ytree_new();
    struct kk_ynode *root = kk_ytree_map(t);
    struct kk_ynode *seq = kk_ytree_seq(t);
    struct kk_ynode *item = kk_ytree_map(t);
    kk_ynode_set(t, item, "id", kk_ytree_scalar(t, "web", true));
    kk_ynode_set(t, item, "num", kk_ytree_scalar(t, "1", false));
    kk_ynode_append(seq, item);
    kk_ynode_append(seq, kk_ytree_scalar(t, "1", true));
    kk_ynode_append(seq, kk_ytree_map(t));
    kk_ynode_set(t, root, "list", seq);
    kk_ynode_set(t, root, "empty", kk_ytree_seq(t));
    kk_ynode_set(t, root, "a: b", kk_ytree_scalar(t, "x", true));
    _cleanup_buf_ struct kk_buf out = KK_BUF_INIT;
    kk_yaml_emit(root, &out);
    KT_ASSERT_STREQ(kk_buf_str(&out), "list:\n"
                                      "  - id: web\n"
                                      "    num: 1\n"
                                      "  - \"1\"\n"
                                      "  - {}\n"
                                      "empty: []\n"
                                      "\"a: b\": x\n");
}

KT_CASE(nul_in_scalars_is_refused_where_text_is_expected)
{
    static const char doc[] = "apiVersion: v1beta1\nkind: Stack\nmetadata: {name: \"s\\0x\"}\n";
    _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_(kk_manifest_freep) struct kk_manifest *m = NULL;
    KT_ASSERT(kk_manifest_load_buffer("nul", doc, strlen(doc), &m, &diags, &err) < 0);
    KT_ASSERT(strstr(diags.items[0].message, "NUL"));
}
