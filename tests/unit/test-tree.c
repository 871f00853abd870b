/* State-tree names, keys, paths and the path classifier (fsapi/tree.h). */
#include <string.h>

#include "fsapi/tree.h"
#include "fsapi/validate.h"
#include "tests/lib/kktest.h"

KT_CASE(name_rule)
{
    static const char *const good[] = {
            "a",     "0",
            "web",   "a-b",
            "a-b-c", "9lives",
            "x1",    "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz"};
    static const char *const bad[] = {
            "",    "-a",     "a-",
            "A",   "Web",    "a_b",
            "a.b", "a/b",    "..",
            ".",   " a",     "a b",
            "é",   "_inbox", "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0"};
    KT_ASSERT_EQ(strlen(good[7]), 63);
    KT_ASSERT_EQ(strlen(bad[KK_ARRAY_SIZE(bad) - 1]), 64);
    /* The in-place rule used for path components and the model's
     * kk_name_valid (fsapi/validate.h) agree, but for "--" (below). */
    for (size_t i = 0; i < KK_ARRAY_SIZE(good); i++) {
        KT_ASSERT_MSG(kk_name_valid_n(good[i], strlen(good[i])), "\"%s\" should be valid", good[i]);
        KT_ASSERT_MSG(kk_name_valid(good[i], NULL), "model: \"%s\" should be valid", good[i]);
    }
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        KT_ASSERT_MSG(!kk_name_valid_n(bad[i], strlen(bad[i])), "\"%s\" should be invalid", bad[i]);
        KT_ASSERT_MSG(!kk_name_valid(bad[i], NULL), "model: \"%s\" should be invalid", bad[i]);
    }
    /* "--": refused in manifests (containerd refuses it), still a name in
     * the tree, so what an older agent created is reconciled and deleted. */
    KT_ASSERT(!kk_name_valid("a--b", NULL));
    KT_ASSERT(!kk_name_valid("a---b", NULL));
    KT_ASSERT(kk_name_valid_n("a--b", 4));
    struct kk_tree_class tc;
    kk_tree_classify("default/a--b/space.yaml", &tc);
    KT_ASSERT_EQ(tc.file, KK_TREE_SPEC);
    KT_ASSERT_STREQ(tc.key.names[1], "a--b");
    KT_ASSERT(!kk_name_valid_n(NULL, 0));
    KT_ASSERT(kk_name_valid_n("web/x", 3));
    KT_ASSERT(!kk_name_valid_n("web/x", 4));
}

KT_CASE(key_parse_format_roundtrip)
{
    _cleanup_error_ kk_error *err = NULL;
    static const char *const keys[] = {"r", "r/s", "r/s/st", "r/s/st/c", "r/s/st/c/ctr"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(keys); i++) {
        struct kk_key k;
        char buf[KK_KEY_STRLEN];
        KT_ASSERT_OK(kk_key_parse(&k, keys[i], &err), &err);
        KT_ASSERT_EQ(k.level, (int)i + 1);
        KT_ASSERT_STREQ(kk_key_format(&k, buf), keys[i]);
    }
    struct kk_key k;
    static const char *const bad[] = {"",  "/",      "r/",    "/r",   "r//s", "r/s/st/c/ctr/x",
                                      "R", "r/../s", "r/s_t", "r/./s"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        KT_ASSERT_MSG(kk_key_parse(&k, bad[i], &err) < 0, "\"%s\" should not parse", bad[i]);
        KT_ASSERT_EQ(err->code, KK_E_INVALID);
        kk_error_freep(&err);
    }
}

KT_CASE(key_longest_fits)
{
    _cleanup_error_ kk_error *err = NULL;
    char n[64];
    memset(n, 'a', 63);
    n[63] = '\0';
    struct kk_key k;
    KT_ASSERT_OK(kk_key_init(&k, KK_LEVEL_CONTAINER, n, n, n, n, n, &err), &err);
    char buf[KK_KEY_STRLEN];
    KT_ASSERT_EQ(strlen(kk_key_format(&k, buf)), KK_KEY_STRLEN - 1);
    struct kk_key back;
    KT_ASSERT_OK(kk_key_parse(&back, buf, &err), &err);
    KT_ASSERT(kk_key_equal(&k, &back));
}

KT_CASE(key_init_validates_and_names_culprit)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key k;
    KT_ASSERT(kk_key_init(&k, KK_LEVEL_CELL, "default", "default", "../etc", "web", NULL, &err) <
              0);
    KT_ASSERT(strstr(err->message, "stack") && strstr(err->message, "../etc"));
    kk_error_freep(&err);
    /* Names beyond the level are ignored, names within it are required. */
    KT_ASSERT_OK(kk_key_init(&k, KK_LEVEL_SPACE, "r", "s", NULL, "BAD", NULL, &err), &err);
    KT_ASSERT(kk_key_init(&k, KK_LEVEL_STACK, "r", "s", NULL, NULL, NULL, &err) < 0);
}

KT_CASE(key_parent_and_ancestor)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key c, p, r;
    char buf[KK_KEY_STRLEN];
    KT_ASSERT_OK(kk_key_parse(&c, "r/s/st/c/x", &err), &err);
    KT_ASSERT(kk_key_parent(&c, &p));
    KT_ASSERT_STREQ(kk_key_format(&p, buf), "r/s/st/c");
    KT_ASSERT_EQ(p.level, KK_LEVEL_CELL);
    KT_ASSERT_STREQ(p.names[4], "");
    KT_ASSERT_OK(kk_key_parse(&r, "r", &err), &err);
    KT_ASSERT(!kk_key_parent(&r, &p));
    KT_ASSERT(kk_key_is_ancestor(&r, &c));
    KT_ASSERT(!kk_key_is_ancestor(&c, &r));
    KT_ASSERT(!kk_key_is_ancestor(&c, &c));
    struct kk_key other;
    KT_ASSERT_OK(kk_key_parse(&other, "rr/s/st/c/x", &err), &err);
    KT_ASSERT(!kk_key_is_ancestor(&r, &other));
}

KT_CASE(paths_match_design)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_key realm, space, stack, cell, ctr;
    KT_ASSERT_OK(kk_key_parse(&realm, "r", &err), &err);
    KT_ASSERT_OK(kk_key_parse(&space, "r/s", &err), &err);
    KT_ASSERT_OK(kk_key_parse(&stack, "r/s/st", &err), &err);
    KT_ASSERT_OK(kk_key_parse(&cell, "r/s/st/c", &err), &err);
    KT_ASSERT_OK(kk_key_parse(&ctr, "r/s/st/c/x", &err), &err);
    struct {
        char *got;
        const char *want;
    } t[] = {
            {kk_tree_spec_path(&realm), "r/realm.yaml"},
            {kk_tree_status_path(&realm), "r/status.yaml"},
            {kk_tree_spec_path(&space), "r/s/space.yaml"},
            {kk_tree_status_path(&space), "r/s/status.yaml"},
            {kk_tree_spec_path(&stack), "r/s/st/stack.yaml"},
            {kk_tree_status_path(&stack), "r/s/st/status.yaml"},
            {kk_tree_spec_path(&cell), "r/s/st/c/cell.yaml"},
            {kk_tree_status_path(&cell), "r/s/st/c/status.yaml"},
            {kk_tree_ctl_path(&cell), "r/s/st/c/ctl"},
            {kk_tree_dir(&cell), "r/s/st/c"},
            {kk_tree_spec_path(&ctr), "r/s/st/c/containers/x.yaml"},
            {kk_tree_log_path(&ctr), "r/s/st/c/containers/x.log"},
            {kk_tree_status_path(&ctr), "r/s/st/c/status.yaml"},
            {kk_tree_dir(&ctr), "r/s/st/c/containers"},
            {kk_tree_inbox_status_path("web.yaml"), "_inbox/web.yaml.status.yaml"},
            {kk_tree_agent_status_path(), "_agent/status.yaml"},
            {kk_tree_join("/opt/kukeon/", "r/realm.yaml"), "/opt/kukeon/r/realm.yaml"},
            {kk_tree_join("/", "r"), "/r"},
    };
    bool ok = true;
    for (size_t i = 0; i < KK_ARRAY_SIZE(t); i++) {
        if (!t[i].got || strcmp(t[i].got, t[i].want) != 0) {
            kt_fail(__FILE__, __LINE__, "path %zu: \"%s\" != \"%s\"", i,
                    t[i].got ? t[i].got : "(null)", t[i].want);
            ok = false;
        }
        free(t[i].got);
    }
    KT_ASSERT(ok);
    KT_ASSERT(kk_tree_ctl_path(&stack) == NULL);
    KT_ASSERT(kk_tree_log_path(&cell) == NULL);
    KT_ASSERT(kk_tree_inbox_status_path("web.yaml~") == NULL);
    KT_ASSERT(kk_tree_inbox_status_path("../x.yaml") == NULL);
}

/* Builds every path of a key and checks classify() gives it back. */
KT_CASE(classify_inverts_builders)
{
    _cleanup_error_ kk_error *err = NULL;
    static const char *const keys[] = {"r",
                                       "r/s",
                                       "r/s/st",
                                       "r/s/st/c",
                                       "r/s/st/c/x",
                                       "default/containers/ctl/status",
                                       "a/b/c/containers/ctl"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(keys); i++) {
        struct kk_key k;
        KT_ASSERT_OK(kk_key_parse(&k, keys[i], &err), &err);
        struct {
            char *path;
            enum kk_tree_file file;
        } t[] = {
                {kk_tree_spec_path(&k),
                 k.level == KK_LEVEL_CONTAINER ? KK_TREE_CONTAINER_SPEC : KK_TREE_SPEC},
                {k.level == KK_LEVEL_CONTAINER ? NULL : kk_tree_status_path(&k), KK_TREE_STATUS},
                {kk_tree_ctl_path(&k), KK_TREE_CTL},
                {kk_tree_log_path(&k), KK_TREE_LOG},
                {k.level == KK_LEVEL_CONTAINER ? NULL : kk_tree_dir(&k), KK_TREE_DIR},
        };
        bool ok = true;
        for (size_t j = 0; j < KK_ARRAY_SIZE(t); j++) {
            if (!t[j].path)
                continue;
            struct kk_tree_class c;
            kk_tree_classify(t[j].path, &c);
            if (c.file != t[j].file || !kk_key_equal(&c.key, &k)) {
                char buf[KK_KEY_STRLEN];
                kt_fail(__FILE__, __LINE__, "%s: got %s key %s", t[j].path,
                        kk_tree_file_name(c.file), kk_key_format(&c.key, buf));
                ok = false;
            }
            free(t[j].path);
        }
        KT_ASSERT(ok);
    }
}

KT_CASE(classify_table)
{
    static const struct {
        const char *path;
        enum kk_tree_file file;
        const char *key;
    } t[] = {
            {"web", KK_TREE_DIR, "web"},
            {"web/", KK_TREE_DIR, "web"},
            {"r/s/st/c/containers", KK_TREE_CONTAINERS_DIR, "r/s/st/c"},
            {"r/s/st/c/containers/", KK_TREE_CONTAINERS_DIR, "r/s/st/c"},
            {"_inbox", KK_TREE_INBOX_DIR, ""},
            {"_inbox/web.yaml.status.yaml", KK_TREE_INBOX_STATUS, ""},
            {"_agent", KK_TREE_AGENT_DIR, ""},
            {"_agent/status.yaml", KK_TREE_AGENT_STATUS, ""},
            /* Everything the agent must ignore. */
            {"", KK_TREE_OTHER, ""},
            {"/r", KK_TREE_OTHER, ""},
            {"..", KK_TREE_OTHER, ""},
            {"r/../etc", KK_TREE_OTHER, ""},
            {"r//realm.yaml", KK_TREE_OTHER, ""},
            {"r/./realm.yaml", KK_TREE_OTHER, ""},
            {"r/.realm.yaml.AbC123", KK_TREE_OTHER, ""},
            {"r/s/st/c/.status.yaml.x1y2z3", KK_TREE_OTHER, ""},
            {"r/space.yaml", KK_TREE_OTHER, ""},
            {"r/s/realm.yaml", KK_TREE_OTHER, ""},
            {"r/ctl", KK_TREE_DIR, "r/ctl"}, /* a space named ctl */
            {"r/s/ctl", KK_TREE_DIR, "r/s/ctl"},
            {"r/s/st/ctl/x", KK_TREE_OTHER, ""},
            {"r/s/st/c/cell.yml", KK_TREE_OTHER, ""},
            {"r/s/st/c/containers/x.yml", KK_TREE_OTHER, ""},
            {"r/s/st/c/containers/X.yaml", KK_TREE_OTHER, ""},
            {"r/s/st/c/containers/.yaml", KK_TREE_OTHER, ""},
            {"r/s/st/c/containers/x.yaml/y", KK_TREE_OTHER, ""},
            {"r/s/st/c/containers/sub/x.yaml", KK_TREE_OTHER, ""},
            {"r/s/st/c/x/cell.yaml", KK_TREE_OTHER, ""},
            {"R/realm.yaml", KK_TREE_OTHER, ""},
            {"_inbox/web.yaml~.status.yaml", KK_TREE_OTHER, ""},
            {"_inbox/x/y", KK_TREE_OTHER, ""},
            {"_agent/other.yaml", KK_TREE_OTHER, ""},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(t); i++) {
        struct kk_tree_class c;
        char buf[KK_KEY_STRLEN];
        kk_tree_classify(t[i].path, &c);
        KT_ASSERT_MSG(c.file == t[i].file && strcmp(kk_key_format(&c.key, buf), t[i].key) == 0,
                      "\"%s\": got %s \"%s\", want %s \"%s\"", t[i].path, kk_tree_file_name(c.file),
                      kk_key_format(&c.key, buf), kk_tree_file_name(t[i].file), t[i].key);
    }
    struct kk_tree_class c;
    kk_tree_classify("_inbox/web.yaml.status.yaml", &c);
    KT_ASSERT_EQ(c.inbox_file_len, 8);
    KT_ASSERT(strncmp(c.inbox_file, "web.yaml", 8) == 0);
}
