/* runtime/firewall without the kernel: port specs, validation, the rules a
 * space or cell renders to, the parser of nft's listing and the plans. */
#include <string.h>

#include "runtime/firewall/firewall.h"
#include "runtime/firewall/ruleset.h"
#include "tests/lib/kktest.h"

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

KT_CASE(port_parse_accepts_the_compose_forms)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_fw_port p;

    KT_ASSERT_OK(kk_fw_port_parse("8080:80", &p, &err), &err);
    KT_ASSERT_EQ(p.host_port, 8080);
    KT_ASSERT_EQ(p.container_port, 80);
    KT_ASSERT_EQ(p.proto, KK_FW_TCP);
    KT_ASSERT_STREQ(p.host_ip, "");

    KT_ASSERT_OK(kk_fw_port_parse("127.0.0.1:5353:53/udp", &p, &err), &err);
    KT_ASSERT_STREQ(p.host_ip, "127.0.0.1");
    KT_ASSERT_EQ(p.host_port, 5353);
    KT_ASSERT_EQ(p.container_port, 53);
    KT_ASSERT_EQ(p.proto, KK_FW_UDP);

    KT_ASSERT_OK(kk_fw_port_parse("0.0.0.0:65535:1/tcp", &p, &err), &err);
    KT_ASSERT_STREQ(p.host_ip, "");
    KT_ASSERT_EQ(p.host_port, 65535);
}

KT_CASE(port_parse_rejects_the_rest)
{
    static const char *const bad[] = {
            "",
            "80",
            "0:80",
            "8080:0",
            "65536:80",
            "8080:80/sctp",
            "8080:80/",
            ":80",
            "8080:",
            "a:80",
            "-1:80",
            "1.2.3:80:80",
            "::1:8080:80",
            "1.2.3.4:8080:80:9",
            "8080 :80",
            "08080080:80",
            "1.2.3.4::80",
            "8080:80/tcp/udp",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        struct kk_fw_port p;
        KT_ASSERT_MSG(kk_fw_port_parse(bad[i], &p, &err) < 0, "accepted \"%s\"", bad[i]);
        KT_ASSERT_EQ(err->code, KK_E_INVALID);
    }
    char big[200];
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    _cleanup_error_ kk_error *err = NULL;
    struct kk_fw_port p;
    KT_ASSERT(kk_fw_port_parse(big, &p, &err) < 0);
}

KT_CASE(names_are_validated)
{
    KT_ASSERT(kk_fw_table_valid("kukeon"));
    KT_ASSERT(kk_fw_table_valid("kk_test-42"));
    KT_ASSERT(!kk_fw_table_valid(""));
    KT_ASSERT(!kk_fw_table_valid("1abc"));
    KT_ASSERT(!kk_fw_table_valid("a b"));
    KT_ASSERT(!kk_fw_table_valid("a;flush ruleset"));

    KT_ASSERT(kk_fw_key_valid("main/web"));
    KT_ASSERT(kk_fw_key_valid("a/b-c/d/e0"));
    KT_ASSERT(!kk_fw_key_valid(""));
    KT_ASSERT(!kk_fw_key_valid("a//b"));
    KT_ASSERT(!kk_fw_key_valid("/a"));
    KT_ASSERT(!kk_fw_key_valid("a/"));
    KT_ASSERT(!kk_fw_key_valid("a/-b"));
    KT_ASSERT(!kk_fw_key_valid("a/b-"));
    KT_ASSERT(!kk_fw_key_valid("a/B"));
    KT_ASSERT(!kk_fw_key_valid("a/b_c"));
    KT_ASSERT(!kk_fw_key_valid("a/b\"c"));

    KT_ASSERT(kk_fw_ifname_valid("kkb1a2b3c4d"));
    KT_ASSERT(!kk_fw_ifname_valid("0123456789abcdef"));
    KT_ASSERT(!kk_fw_ifname_valid(".."));
    KT_ASSERT(!kk_fw_ifname_valid("a/b"));
    KT_ASSERT(!kk_fw_ifname_valid("a\""));
}

KT_CASE(owned_chain_names_fit_and_do_not_collide)
{
    char a[KK_FW_CHAIN_NAME_SIZE], b[KK_FW_CHAIN_NAME_SIZE];
    kk_fw_owned_chain(KK_FW_CELL, "main/web/app/api", 0, a);
    KT_ASSERT_STREQ(a, "cell/main/web/app/api/dnat");
    kk_fw_owned_chain(KK_FW_SPACE, "main/web", 1, a);
    KT_ASSERT_STREQ(a, "space/main/web/post");
    KT_ASSERT_STREQ(kk_fw_owned_dispatch(KK_FW_SPACE, 1), "masq");

    /* Four names of 63 characters: too long for a chain name, hashed. */
    char key[4 * 64];
    for (int s = 0; s < 4; s++) {
        memset(key + 64 * s, 'a' + s, 63);
        key[64 * s + 63] = s == 3 ? '\0' : '/';
    }
    KT_ASSERT(kk_fw_key_valid(key));
    kk_fw_owned_chain(KK_FW_CELL, key, 1, a);
    KT_ASSERT(strlen(a) < KK_FW_CHAIN_NAME_SIZE);
    KT_ASSERT(strncmp(a, "cell/_", 6) == 0);
    KT_ASSERT_EQ(strlen(a), strlen("cell/_") + 32 + strlen("/fwd"));
    key[0] = 'z';
    kk_fw_owned_chain(KK_FW_CELL, key, 1, b);
    KT_ASSERT(strcmp(a, b) != 0);
}

KT_CASE(space_renders_isolation_masquerade_and_guard)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_want_ struct kk_fw_want w = {0};
    struct kk_fw_space sp = {"main/web", "kkb0123abcd", "10.88.3.0/24"};

    KT_ASSERT_OK(kk_fw_render_space(&sp, &w, &err), &err);
    KT_ASSERT_STREQ(kk_buf_str(&w.rules[0]),
                    "oifname \"kkb0123abcd\" iifname != \"kkb0123abcd\" drop\n");
    KT_ASSERT_STREQ(kk_buf_str(&w.rules[1]),
                    "ip saddr 10.88.3.0/24 oifname != \"kkb0123abcd\" masquerade\n"
                    "oifname \"kkb0123abcd\" ct status dnat ip saddr 127.0.0.0/8 masquerade\n"
                    "oifname \"kkb0123abcd\" ct status dnat ip saddr 10.88.3.0/24 masquerade\n");
    KT_ASSERT_STREQ(kk_buf_str(&w.rules[2]), "iifname \"kkb0123abcd\" drop\n");
}

KT_CASE(space_rejects_bad_input)
{
    static const struct kk_fw_space bad[] = {
            {"main/web", "kkb1", "10.88.3.1/24"}, /* host bits */
            {"main/web", "kkb1", "10.88.3.0"},      {"main/web", "kkb1", "10.88.3.0/33"},
            {"main/web", "kkb1", "10.88.3.0/0"},    {"main/web", "kkb1", "10.88.3.0/24x"},
            {"main/web", "kkb1", "10.088.3.0/24 "}, {"main/web", "kkb1\" accept", "10.88.3.0/24"},
            {"main/web", NULL, "10.88.3.0/24"},     {"Main/web", "kkb1", "10.88.3.0/24"},
            {NULL, "kkb1", "10.88.3.0/24"},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_want_ struct kk_fw_want w = {0};
        KT_ASSERT_MSG(kk_fw_render_space(&bad[i], &w, &err) < 0, "accepted case %zu", i);
        KT_ASSERT_EQ(err->code, KK_E_INVALID);
    }
}

KT_CASE(cell_renders_dnat_and_forward)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_want_ struct kk_fw_want w = {0};
    struct kk_fw_port ports[3];
    KT_ASSERT_OK(kk_fw_port_parse("8080:80", &ports[0], &err), &err);
    KT_ASSERT_OK(kk_fw_port_parse("127.0.0.1:8081:80", &ports[1], &err), &err);
    KT_ASSERT_OK(kk_fw_port_parse("5353:53/udp", &ports[2], &err), &err);
    struct kk_fw_cell c = {"main/web/app/api", "10.88.3.2", ports, 3};

    KT_ASSERT_OK(kk_fw_render_cell(&c, &w, &err), &err);
    KT_ASSERT_STREQ(kk_buf_str(&w.rules[0]),
                    "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.3.2:80\n"
                    "ip daddr 127.0.0.1 tcp dport 8081 dnat ip to 10.88.3.2:80\n"
                    "meta nfproto ipv4 udp dport 5353 dnat ip to 10.88.3.2:53\n");
    /* One accept for tcp/80 although two host ports lead there. */
    KT_ASSERT_STREQ(kk_buf_str(&w.rules[1]), "ip daddr 10.88.3.2 tcp dport 80 accept\n"
                                             "ip daddr 10.88.3.2 udp dport 53 accept\n");
}

KT_CASE(cell_without_ports_owns_nothing)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_want_ struct kk_fw_want w = {0};
    struct kk_fw_cell c = {"main/web/app/api", NULL, NULL, 0};
    KT_ASSERT_OK(kk_fw_render_cell(&c, &w, &err), &err);
    KT_ASSERT_EQ(w.rules[0].len, 0);
    KT_ASSERT_EQ(w.rules[1].len, 0);
}

KT_CASE(cell_rejects_conflicts_and_bad_input)
{
    struct kk_fw_port p[2] = {{"", 8080, 80, KK_FW_TCP}, {"10.0.0.1", 8080, 81, KK_FW_TCP}};
    struct kk_fw_port ok[2] = {{"127.0.0.1", 8080, 80, KK_FW_TCP},
                               {"10.0.0.1", 8080, 81, KK_FW_TCP}};
    struct kk_fw_port udp[2] = {{"", 8080, 80, KK_FW_TCP}, {"", 8080, 80, KK_FW_UDP}};
    struct kk_fw_port any[2] = {{"0.0.0.0", 8080, 80, KK_FW_TCP},
                                {"10.0.0.1", 8080, 81, KK_FW_TCP}};
    struct kk_fw_port zero[1] = {{"", 0, 80, KK_FW_TCP}};
    struct kk_fw_port badip[1] = {{"1.2.3", 1, 80, KK_FW_TCP}};
    const struct kk_fw_cell bad[] = {
            {"a/b/c/d", "10.88.3.2", p, 2},
            {"a/b/c/d", "10.88.3.2", any, 2},
            {"a/b/c/d", "10.88.3.2", zero, 1},
            {"a/b/c/d", "10.88.3.2", badip, 1},
            {"a/b/c/d", "10.88.3.2/24", ok, 1},
            {"a/b/c/d", NULL, ok, 1},
            {"a/b/c/d", "10.88.3.2", ok, KK_FW_PORTS_MAX + 1},
            {"a/b/c/d\n", "10.88.3.2", ok, 1},
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_want_ struct kk_fw_want w = {0};
        KT_ASSERT_MSG(kk_fw_render_cell(&bad[i], &w, &err) < 0, "accepted case %zu", i);
        KT_ASSERT_EQ(err->code, KK_E_INVALID);
    }
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_want_ struct kk_fw_want w1 = {0};
    KT_ASSERT_OK(kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", "10.88.3.2", ok, 2}, &w1, &err),
                 &err);
    _cleanup_want_ struct kk_fw_want w2 = {0}, w3 = {0};
    KT_ASSERT_OK(kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", "10.88.3.2", any, 1}, &w3, &err),
                 &err);
    KT_ASSERT_STREQ(kk_buf_str(&w3.rules[0]),
                    "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.3.2:80\n");
    KT_ASSERT_OK(kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", "10.88.3.2", udp, 2}, &w2, &err),
                 &err);
}

static const char listing[] =
        "table inet kk { # handle 7\n"
        "\tset other { # handle 30\n"
        "\t\ttype ipv4_addr\n"
        "\t\telements = { 10.0.0.1, 10.0.0.2,\n"
        "\t\t\t     10.0.0.3 }\n"
        "\t}\n"
        "\n"
        "\tchain forward { # handle 4\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        "\t\tct state established,related accept # handle 10\n"
        "\t}\n"
        "\n"
        "\tchain publish { # handle 6\n"
        "\t\tjump cell/a/b/c/d/dnat # handle 15\n"
        "\t\tjump cell/a/b/c/e/dnat # handle 16\n"
        "\t\tjump cell/a/b/c/d/dnat # handle 17\n"
        "\t}\n"
        "\n"
        "\tchain cell/a/b/c/d/dnat { # handle 12\n"
        "\t\tmeta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.1.2:80 # handle 13\n"
        "\t}\n"
        "}\n";

KT_CASE(listing_is_parsed)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_state_ struct kk_fw_state st = {0};
    KT_ASSERT_OK(kk_fw_state_parse(listing, "kk", &st, &err), &err);
    KT_ASSERT(st.exists);
    KT_ASSERT_EQ(st.n_chains, 3);
    const struct kk_fw_chain *c = kk_fw_state_chain(&st, "publish");
    KT_ASSERT(c);
    KT_ASSERT_EQ(c->n_rules, 3);
    KT_ASSERT_STREQ(c->rules[1].text, "jump cell/a/b/c/e/dnat");
    KT_ASSERT_EQ(c->rules[1].handle, 16);
    c = kk_fw_state_chain(&st, "cell/a/b/c/d/dnat");
    KT_ASSERT(c);
    KT_ASSERT_EQ(c->n_rules, 1);
    KT_ASSERT_STREQ(c->rules[0].text, "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.1.2:80");
    KT_ASSERT(!kk_fw_state_chain(&st, "other"));
    KT_ASSERT_EQ(kk_fw_state_chain(&st, "forward")->n_rules, 1);
}

KT_CASE(listing_garbage_is_an_error)
{
    static const char *const bad[] = {
            "table inet kk {\n\tchain x {\n",
            "}\n",
            "hello\n",
            "table inet kk {\n\tfoo\n}\n",
    };
    for (size_t i = 0; i < KK_ARRAY_SIZE(bad); i++) {
        _cleanup_error_ kk_error *err = NULL;
        _cleanup_state_ struct kk_fw_state st = {0};
        KT_ASSERT_MSG(kk_fw_state_parse(bad[i], "kk", &st, &err) < 0, "accepted case %zu", i);
        KT_ASSERT_EQ(err->code, KK_E_DATA_LOSS);
        KT_ASSERT_EQ(st.n_chains, 0);
    }
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_state_ struct kk_fw_state st = {0};
    KT_ASSERT_OK(kk_fw_state_parse("", "kk", &st, &err), &err);
    KT_ASSERT(!st.exists);
}

KT_CASE(plan_apply_creates_then_keeps_the_jump)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_want_ struct kk_fw_want w = {0};
    _cleanup_state_ struct kk_fw_state st = {0};
    _cleanup_buf_ struct kk_buf first = KK_BUF_INIT, again = KK_BUF_INIT;
    struct kk_fw_port port = {"", 8080, 80, KK_FW_TCP};
    KT_ASSERT_OK(
            kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", "10.88.1.2", &port, 1}, &w, &err),
            &err);

    struct kk_fw_state none = {0};
    kk_fw_plan_apply("kk", &none, &w, &first);
    const char *t = kk_buf_str(&first);
    KT_ASSERT(contains(t, "add table inet kk\n"));
    KT_ASSERT(contains(t, "add chain inet kk forward { type filter hook forward"));
    KT_ASSERT(contains(t, "flush chain inet kk forward\n"));
    KT_ASSERT(contains(
            t, "add chain inet kk cell/a/b/c/d/dnat\nflush chain inet kk cell/a/b/c/d/dnat\n"
               "add rule inet kk cell/a/b/c/d/dnat meta nfproto ipv4 tcp dport 8080 "
               "dnat ip to 10.88.1.2:80\n"
               "add rule inet kk publish jump cell/a/b/c/d/dnat\n"));
    KT_ASSERT(contains(t, "add rule inet kk published jump cell/a/b/c/d/fwd\n"));
    KT_ASSERT(!contains(t, "delete"));
    /* The dispatch chains are created, never flushed. */
    KT_ASSERT(!contains(t, "flush chain inet kk publish\n"));

    /* With the jump there twice (handles 15 and 17): keep one, drop one. */
    KT_ASSERT_OK(kk_fw_state_parse(listing, "kk", &st, &err), &err);
    kk_fw_plan_apply("kk", &st, &w, &again);
    t = kk_buf_str(&again);
    KT_ASSERT_EQ(count(t, "jump cell/a/b/c/d/dnat"), 0);
    KT_ASSERT(contains(t, "delete rule inet kk publish handle 17\n"));
    KT_ASSERT(!contains(t, "handle 15"));
    KT_ASSERT(!contains(t, "handle 16"));
    KT_ASSERT(contains(t, "add rule inet kk published jump cell/a/b/c/d/fwd\n"));
}

KT_CASE(plan_remove_is_exact)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_state_ struct kk_fw_state st = {0};
    _cleanup_buf_ struct kk_buf cmds = KK_BUF_INIT, none = KK_BUF_INIT;
    KT_ASSERT_OK(kk_fw_state_parse(listing, "kk", &st, &err), &err);

    kk_fw_plan_remove("kk", &st, KK_FW_CELL, "a/b/c/d", &cmds);
    KT_ASSERT_STREQ(kk_buf_str(&cmds), "delete rule inet kk publish handle 15\n"
                                       "delete rule inet kk publish handle 17\n"
                                       "flush chain inet kk cell/a/b/c/d/dnat\n"
                                       "delete chain inet kk cell/a/b/c/d/dnat\n");
    kk_fw_plan_remove("kk", &st, KK_FW_CELL, "a/b/c/x", &none);
    KT_ASSERT_EQ(none.len, 0);
    kk_fw_plan_remove("kk", &st, KK_FW_SPACE, "a/b", &none);
    KT_ASSERT_EQ(none.len, 0);
}

KT_CASE(plan_prune_deletes_only_what_no_live_key_owns)
{
    static const char prune_listing[] = "table inet kk { # handle 7\n"
                                        "\tchain publish { # handle 6\n"
                                        "\t\tjump cell/a/b/c/d/dnat # handle 15\n"
                                        "\t\tjump cell/a/b/c/e/dnat # handle 16\n"
                                        "\t}\n"
                                        "\tchain isolate { # handle 8\n"
                                        "\t\tjump space/a/b/fwd # handle 20\n"
                                        "\t}\n"
                                        "\tchain cell/a/b/c/d/dnat { # handle 12\n"
                                        "\t}\n"
                                        "\tchain cell/a/b/c/e/dnat { # handle 13\n"
                                        "\t}\n"
                                        "\tchain space/a/b/fwd { # handle 19\n"
                                        "\t}\n"
                                        "\tchain cell/not-ours { # handle 21\n"
                                        "\t}\n"
                                        "}\n";
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_state_ struct kk_fw_state st = {0};
    _cleanup_buf_ struct kk_buf none = KK_BUF_INIT, some = KK_BUF_INIT, all = KK_BUF_INIT;
    KT_ASSERT_OK(kk_fw_state_parse(prune_listing, "kk", &st, &err), &err);

    const char *spaces[] = {"a/b", NULL};
    const char *cells[] = {"a/b/c/d", "a/b/c/e", "z/z/z/z", NULL};
    KT_ASSERT_EQ(kk_fw_plan_prune("kk", &st, spaces, cells, &none), 0);
    KT_ASSERT_EQ(none.len, 0);

    const char *cells_d[] = {"a/b/c/d", NULL};
    KT_ASSERT_EQ(kk_fw_plan_prune("kk", &st, spaces, cells_d, &some), 1);
    KT_ASSERT_STREQ(kk_buf_str(&some), "delete rule inet kk publish handle 16\n"
                                       "flush chain inet kk cell/a/b/c/e/dnat\n"
                                       "delete chain inet kk cell/a/b/c/e/dnat\n");

    KT_ASSERT_EQ(kk_fw_plan_prune("kk", &st, NULL, NULL, &all), 3);
    KT_ASSERT(contains(kk_buf_str(&all), "delete rule inet kk isolate handle 20\n"));
    KT_ASSERT(contains(kk_buf_str(&all), "delete chain inet kk space/a/b/fwd\n"));
    KT_ASSERT(!contains(kk_buf_str(&all), "not-ours"));
    KT_ASSERT(!contains(kk_buf_str(&all), "publish\n"));
}

/* What the kernel lists once base and one cell are in place. */
static const char in_sync_listing[] =
        "table inet kk { # handle 1\n"
        "\tchain prerouting { # handle 1\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tfib daddr type local jump publish # handle 8\n"
        "\t}\n"
        "\tchain output { # handle 2\n"
        "\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tfib daddr type local jump publish # handle 9\n"
        "\t}\n"
        "\tchain postrouting { # handle 3\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        "\t\tjump masq # handle 10\n"
        "\t}\n"
        "\tchain forward { # handle 4\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        "\t\tct state established,related accept # handle 11\n"
        "\t\tct status dnat jump published # handle 12\n"
        "\t\tjump isolate # handle 13\n"
        "\t}\n"
        "\tchain raw-prerouting { # handle 5\n"
        "\t\ttype filter hook prerouting priority raw; policy accept;\n"
        "\t\tip daddr 127.0.0.0/8 jump martians # handle 14\n"
        "\t}\n"
        "\tchain publish { # handle 6\n"
        "\t\tjump cell/a/b/c/d/dnat # handle 20\n"
        "\t}\n"
        "\tchain published { # handle 7\n"
        "\t\tjump cell/a/b/c/d/fwd # handle 21\n"
        "\t}\n"
        "\tchain isolate { # handle 15\n"
        "\t}\n"
        "\tchain masq { # handle 16\n"
        "\t}\n"
        "\tchain martians { # handle 17\n"
        "\t}\n"
        "\tchain cell/a/b/c/d/dnat { # handle 18\n"
        "\t\tmeta nfproto ipv4 tcp dport 8080 dnat ip to 10.88.1.2:80 # handle 22\n"
        "\t}\n"
        "\tchain cell/a/b/c/d/fwd { # handle 19\n"
        "\t\tip daddr 10.88.1.2 tcp dport 80 accept # handle 23\n"
        "\t}\n"
        "}\n";

KT_CASE(plan_apply_of_what_is_there_is_empty)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_state_ struct kk_fw_state st = {0};
    struct kk_fw_port port = {"", 8080, 80, KK_FW_TCP}, other = {"", 8081, 80, KK_FW_TCP};
    KT_ASSERT_OK(kk_fw_state_parse(in_sync_listing, "kk", &st, &err), &err);
    KT_ASSERT_STREQ(kk_fw_state_chain(&st, "output")->hook,
                    "type nat hook output priority -100; policy accept;");
    KT_ASSERT(!kk_fw_state_chain(&st, "publish")->hook);

    _cleanup_want_ struct kk_fw_want same = {0}, changed = {0}, gone = {0};
    _cleanup_buf_ struct kk_buf a = KK_BUF_INIT, b = KK_BUF_INIT, c = KK_BUF_INIT;
    KT_ASSERT_OK(
            kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", "10.88.1.2", &port, 1}, &same, &err),
            &err);
    kk_fw_plan_apply("kk", &st, &same, &a);
    KT_ASSERT_STREQ(kk_buf_str(&a), "");

    /* A different port, or no port, is a change. */
    KT_ASSERT_OK(kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", "10.88.1.2", &other, 1},
                                   &changed, &err),
                 &err);
    kk_fw_plan_apply("kk", &st, &changed, &b);
    KT_ASSERT(contains(kk_buf_str(&b), "dport 8081 dnat"));
    KT_ASSERT_OK(kk_fw_render_cell(&(struct kk_fw_cell){"a/b/c/d", NULL, NULL, 0}, &gone, &err),
                 &err);
    kk_fw_plan_apply("kk", &st, &gone, &c);
    KT_ASSERT(contains(kk_buf_str(&c), "delete chain inet kk cell/a/b/c/d/dnat\n"));

    /* A base chain on another hook is not in sync either. */
    _cleanup_state_ struct kk_fw_state st2 = {0};
    _cleanup_free_ char *tampered = kk_xstrdup(in_sync_listing);
    char *prio = strstr(tampered, "priority -100");
    memcpy(prio, "priority -200", 13);
    KT_ASSERT_OK(kk_fw_state_parse(tampered, "kk", &st2, &err), &err);
    _cleanup_buf_ struct kk_buf d = KK_BUF_INIT;
    kk_fw_plan_apply("kk", &st2, &same, &d);
    KT_ASSERT(contains(kk_buf_str(&d), "flush chain inet kk output\n"));
}

KT_CASE(listings_of_one_table_are_merged_and_others_skipped)
{
    /* `list chains inet` (every inet table, no rules), then `list chain`. */
    static const char chains[] = "table inet other {\n"
                                 "\tchain publish {\n"
                                 "\t}\n"
                                 "}\n"
                                 "table inet kk {\n"
                                 "\tchain forward {\n"
                                 "\t\ttype filter hook forward priority filter; policy accept;\n"
                                 "\t}\n"
                                 "\tchain publish {\n"
                                 "\t}\n"
                                 "}\n";
    static const char publish[] = "table inet kk {\n"
                                  "\tchain publish { # handle 6\n"
                                  "\t\tjump cell/a/b/c/d/dnat # handle 15\n"
                                  "\t}\n"
                                  "}\n";
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_state_ struct kk_fw_state st = {0}, none = {0};
    KT_ASSERT_OK(kk_fw_state_parse(chains, "kk", &st, &err), &err);
    KT_ASSERT(st.exists);
    KT_ASSERT_EQ(st.n_chains, 2);
    KT_ASSERT_OK(kk_fw_state_parse(publish, "kk", &st, &err), &err);
    KT_ASSERT_EQ(st.n_chains, 2);
    const struct kk_fw_chain *c = kk_fw_state_chain(&st, "publish");
    KT_ASSERT_EQ(c->n_rules, 1);
    KT_ASSERT_EQ(c->rules[0].handle, 15);
    KT_ASSERT_STREQ(kk_fw_state_chain(&st, "forward")->hook,
                    "type filter hook forward priority filter; policy accept;");

    KT_ASSERT_OK(kk_fw_state_parse(chains, "kkk", &none, &err), &err);
    KT_ASSERT(!none.exists);
    KT_ASSERT_EQ(none.n_chains, 0);
}

KT_CASE(chains_to_read_cover_base_dispatch_and_owned)
{
    char names[KK_FW_READ_MAX][KK_FW_CHAIN_NAME_SIZE];
    size_t n = kk_fw_chains_to_read(KK_FW_CELL, "a/b/c/d", names);
    KT_ASSERT_EQ(n, 5 + 5 + 2);
    KT_ASSERT_STREQ(names[0], "prerouting");
    KT_ASSERT_STREQ(names[5], "publish");
    KT_ASSERT_STREQ(names[10], "cell/a/b/c/d/dnat");
    KT_ASSERT_STREQ(names[11], "cell/a/b/c/d/fwd");
    KT_ASSERT_EQ(kk_fw_chains_to_read(KK_FW_SPACE, NULL, names), 10);
}
