/* Derived names and config validation of runtime/net (no root). */
#include "runtime/net/net.h"
#include "tests/lib/kktest.h"

KT_CASE(name_rules)
{
    KT_ASSERT(kk_net_name_valid("a"));
    KT_ASSERT(kk_net_name_valid("web-1"));
    const char *bad[] = {"",    "-a",
                         "a-",  "A",
                         "a_b", "a.b",
                         "..",  "a/b",
                         "a b", "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++)
        KT_ASSERT_MSG(!kk_net_name_valid(bad[i]), "accepted \"%s\"", bad[i]);
}

KT_CASE(link_names_deterministic_short_distinct)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = KK_NET_CONFIG_DEFAULT;
    char a[KK_NET_IFNAMSIZ], b[KK_NET_IFNAMSIZ], c[KK_NET_IFNAMSIZ];
    KT_ASSERT_OK(kk_net_bridge_name(&cfg, "main", "web", a, &err), &err);
    KT_ASSERT_OK(kk_net_bridge_name(&cfg, "main", "web", b, &err), &err);
    KT_ASSERT_OK(kk_net_bridge_name(&cfg, "main", "db", c, &err), &err);
    KT_ASSERT_STREQ(a, b);
    KT_ASSERT(strcmp(a, c) != 0);
    KT_ASSERT_EQ(strlen(a), 15);
    KT_ASSERT(strncmp(a, "kkb", 3) == 0);
    /* "mainw"/"eb" must not alias "main"/"web". */
    KT_ASSERT_OK(kk_net_bridge_name(&cfg, "mainw", "eb", c, &err), &err);
    KT_ASSERT(strcmp(a, c) != 0);

    struct kk_net_cell_spec s = {"main", "web", "app", "api"};
    KT_ASSERT_OK(kk_net_veth_name(&cfg, &s, a, &err), &err);
    KT_ASSERT_EQ(strlen(a), 15);
    KT_ASSERT(strncmp(a, "kkv", 3) == 0);
    s.cell = "api2";
    KT_ASSERT_OK(kk_net_veth_name(&cfg, &s, b, &err), &err);
    KT_ASSERT(strcmp(a, b) != 0);
    s.cell = "A";
    KT_ASSERT(kk_net_veth_name(&cfg, &s, b, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
}

KT_CASE(netns_path_and_key)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = KK_NET_CONFIG_DEFAULT;
    struct kk_net_cell_spec s = {"main", "web", "app", "api"};
    char path[4096], key[KK_NET_KEY_MAX + 1];
    KT_ASSERT_OK(kk_net_netns_path(&cfg, &s, path, sizeof(path), &err), &err);
    KT_ASSERT_STREQ(path, "/run/kukeon/netns/main_web_app_api");
    KT_ASSERT_OK(kk_net_cell_key(&s, key, &err), &err);
    KT_ASSERT_STREQ(key, "main/web/app/api");
    KT_ASSERT(kk_net_netns_path(&cfg, &s, path, 10, &err) < 0);
}

KT_CASE(config_validation)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_free_ char *state = kk_xasprintf("%s/state", kt_tmpdir());
    struct kk_net_config cfg = {"kkb", "kkv", "/run/kukeon-test-unused/netns", state,
                                "10.88.0.0/16"};
    struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new(&cfg, &net, &err), &err);
    kk_net_free(net);
    struct kk_net_config bad[] = {
            {"kkb", "kkb", cfg.netns_dir, state, "10.88.0.0/16"},      /* same prefix */
            {"kk", "kkv", cfg.netns_dir, state, "10.88.0.0/16"},       /* overlapping */
            {"kkbridge", "kkv", cfg.netns_dir, state, "10.88.0.0/16"}, /* too long */
            {"KK", "kkv", cfg.netns_dir, state, "10.88.0.0/16"},       /* bad chars */
            {"kkb", "kkv", "relative", state, "10.88.0.0/16"},
            {"kkb", "kkv", cfg.netns_dir, state, "10.88.0.0/26"},
            {"kkb", "kkv", cfg.netns_dir, state, NULL},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        KT_ASSERT_MSG(kk_net_new(&bad[i], &net, &err) < 0, "config %zu accepted", i);
        KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
        kk_error_freep(&err);
    }
}
