/* The fake struct kk_net the agent's tests use (no root). */
#include "runtime/net/fake.h"
#include "tests/lib/kktest.h"

static struct kk_net_config cfg_in(const char *dir)
{
    return (struct kk_net_config){"kkb", "kkv", "/nonexistent/netns", dir, "10.88.0.0/16"};
}

static bool only(const char *key, void *ctx)
{
    return strcmp(key, ctx) == 0;
}

KT_CASE(fake_allocates_like_the_real_one)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = cfg_in(kt_tmpdir());
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new_fake(&cfg, &net, &err), &err);
    struct kk_net_space sp;
    KT_ASSERT_OK(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "s", NULL}, &sp, &err),
                 &err);
    KT_ASSERT_STREQ(sp.subnet, "10.88.0.0/24");
    KT_ASSERT_STREQ(sp.gateway, "10.88.0.1");
    char bridge[KK_NET_IFNAMSIZ];
    KT_ASSERT_OK(kk_net_bridge_name(&cfg, "r", "s", bridge, &err), &err);
    KT_ASSERT_STREQ(sp.bridge, bridge);

    struct kk_net_cell_spec a = {"r", "s", "st", "a"}, b = {"r", "s", "st", "b"};
    struct kk_net_cell ca, cb, again;
    KT_ASSERT_OK(kk_net_cell_ensure(net, &a, &ca, &err), &err);
    KT_ASSERT_OK(kk_net_cell_ensure(net, &b, &cb, &err), &err);
    KT_ASSERT_OK(kk_net_cell_ensure(net, &a, &again, &err), &err);
    KT_ASSERT_STREQ(ca.ip, "10.88.0.2");
    KT_ASSERT_STREQ(cb.ip, "10.88.0.3");
    KT_ASSERT_STREQ(again.ip, ca.ip);
    KT_ASSERT_STREQ(ca.netns_path, "/nonexistent/netns/r_s_st_a");
    KT_ASSERT(kk_net_fake_cell_up(net, "r/s/st/a"));

    KT_ASSERT_OK(kk_net_cell_remove(net, &a, 0, &err), &err);
    KT_ASSERT(!kk_net_fake_cell_up(net, "r/s/st/a"));
    unsigned removed = 0;
    KT_ASSERT_OK(kk_net_reconcile(net, "r", "s", only, "nothing", &removed, &err), &err);
    KT_ASSERT_EQ(removed, 1); /* b */
    struct kk_net_fake_stats st = kk_net_fake_stats(net);
    KT_ASSERT_EQ(st.cell_ensure, 3);
    KT_ASSERT_EQ(st.cell_remove, 1);
    KT_ASSERT_EQ(st.cells_up, 0);
    KT_ASSERT_EQ(st.spaces_up, 1);
}

KT_CASE(fake_preconditions_and_injected_failures)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_config cfg = cfg_in(kt_tmpdir());
    _cleanup_net_ struct kk_net *net = NULL;
    KT_ASSERT_OK(kk_net_new_fake(&cfg, &net, &err), &err);
    struct kk_net_cell c;
    struct kk_net_cell_spec spec = {"r", "s", "st", "c"};
    KT_ASSERT(kk_net_cell_ensure(net, &spec, &c, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_PRECONDITION);
    kk_error_freep(&err);
    struct kk_net_space sp;
    kk_net_fake_fail_next(net, KK_E_UNAVAILABLE);
    KT_ASSERT(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "s", NULL}, &sp, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_UNAVAILABLE);
    kk_error_freep(&err);
    KT_ASSERT_EQ(kk_net_fake_stats(net).spaces_up, 0);
    KT_ASSERT_OK(kk_net_space_ensure(net, &(struct kk_net_space_spec){"r", "s", NULL}, &sp, &err),
                 &err);
    KT_ASSERT_OK(kk_net_ensure_forwarding(net, &err), &err);
    KT_ASSERT_EQ(kk_net_fake_stats(net).forwarding, 1);
    struct kk_net_config bad = cfg;
    bad.veth_prefix = "kkb";
    struct kk_net *n2 = NULL;
    KT_ASSERT(kk_net_new_fake(&bad, &n2, &err) < 0);
    KT_ASSERT_EQ(kk_error_code(err), KK_E_INVALID);
}
