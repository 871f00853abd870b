/* The in-memory firewall backend behaves like the real one where the agent
 * can see it. */
#include <string.h>

#include "runtime/firewall/fake.h"
#include "tests/lib/kktest.h"

KT_CASE(fake_applies_replaces_and_removes)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_fw_ struct kk_fw *fw = NULL;
    _cleanup_buf_ struct kk_buf dump = KK_BUF_INIT;
    struct kk_fw_port ports[2] = {{"", 8080, 80, KK_FW_TCP}, {"127.0.0.1", 5353, 53, KK_FW_UDP}};
    KT_ASSERT_OK(kk_fw_new_fake(&fw, &err), &err);

    KT_ASSERT_OK(
            kk_fw_space_apply(fw, &(struct kk_fw_space){"r/web", "kkb1", "10.88.0.0/24"}, &err),
            &err);
    KT_ASSERT_OK(
            kk_fw_cell_apply(fw, &(struct kk_fw_cell){"r/web/s/api", "10.88.0.2", ports, 2}, &err),
            &err);
    KT_ASSERT(kk_fw_fake_has_space(fw, "r/web"));
    KT_ASSERT_EQ(kk_fw_fake_cell_ports(fw, "r/web/s/api"), 2);
    KT_ASSERT_EQ(kk_fw_fake_changes(fw), 2);

    /* The same state again changes nothing. */
    KT_ASSERT_OK(
            kk_fw_space_apply(fw, &(struct kk_fw_space){"r/web", "kkb1", "10.88.0.0/24"}, &err),
            &err);
    KT_ASSERT_OK(
            kk_fw_cell_apply(fw, &(struct kk_fw_cell){"r/web/s/api", "10.88.0.2", ports, 2}, &err),
            &err);
    KT_ASSERT_EQ(kk_fw_fake_changes(fw), 2);

    KT_ASSERT_OK(kk_fw_dump(fw, &dump, &err), &err);
    KT_ASSERT_STREQ(kk_buf_str(&dump), "space r/web kkb1 10.88.0.0/24\n"
                                       "cell r/web/s/api 10.88.0.2 8080:80/tcp "
                                       "127.0.0.1:5353:53/udp\n");

    /* Fewer ports replace; none removes. */
    KT_ASSERT_OK(
            kk_fw_cell_apply(fw, &(struct kk_fw_cell){"r/web/s/api", "10.88.0.2", ports, 1}, &err),
            &err);
    KT_ASSERT_EQ(kk_fw_fake_cell_ports(fw, "r/web/s/api"), 1);
    KT_ASSERT_OK(kk_fw_cell_apply(fw, &(struct kk_fw_cell){"r/web/s/api", NULL, NULL, 0}, &err),
                 &err);
    KT_ASSERT_EQ(kk_fw_fake_cell_ports(fw, "r/web/s/api"), 0);
    KT_ASSERT_OK(kk_fw_cell_remove(fw, "r/web/s/api", &err), &err);
    KT_ASSERT_OK(kk_fw_space_remove(fw, "r/web", &err), &err);
    KT_ASSERT_OK(kk_fw_space_remove(fw, "r/web", &err), &err);
    KT_ASSERT(!kk_fw_fake_has_space(fw, "r/web"));
    KT_ASSERT_EQ(kk_fw_fake_changes(fw), 5);
}

KT_CASE(fake_validates_like_the_real_one)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_fw_ struct kk_fw *fw = NULL;
    KT_ASSERT_OK(kk_fw_new_fake(&fw, &err), &err);
    KT_ASSERT(kk_fw_space_apply(fw, &(struct kk_fw_space){"r/Web", "kkb1", "10.88.0.0/24"}, &err) <
              0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    kk_error_freep(&err);
    struct kk_fw_port dup[2] = {{"", 8080, 80, KK_FW_TCP}, {"", 8080, 81, KK_FW_TCP}};
    KT_ASSERT(kk_fw_cell_apply(fw, &(struct kk_fw_cell){"r/web/s/api", "10.88.0.2", dup, 2}, &err) <
              0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    kk_error_freep(&err);
    KT_ASSERT(kk_fw_cell_remove(fw, "../x", &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
    KT_ASSERT_EQ(kk_fw_fake_changes(fw), 0);
}

KT_CASE(fake_prunes_and_fails_on_demand)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_fw_ struct kk_fw *fw = NULL;
    unsigned removed = 0;
    struct kk_fw_port port = {"", 8080, 80, KK_FW_TCP};
    KT_ASSERT_OK(kk_fw_new_fake(&fw, &err), &err);
    KT_ASSERT_OK(kk_fw_space_apply(fw, &(struct kk_fw_space){"r/a", "kkb1", "10.88.0.0/24"}, &err),
                 &err);
    KT_ASSERT_OK(kk_fw_space_apply(fw, &(struct kk_fw_space){"r/b", "kkb2", "10.88.1.0/24"}, &err),
                 &err);
    KT_ASSERT_OK(kk_fw_cell_apply(fw, &(struct kk_fw_cell){"r/b/s/c", "10.88.1.2", &port, 1}, &err),
                 &err);

    kk_fw_fake_fail_next(fw, "prune", KK_E_UNAVAILABLE);
    const char *spaces[] = {"r/a", NULL};
    KT_ASSERT(kk_fw_prune(fw, spaces, NULL, &removed, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_UNAVAILABLE);
    KT_ASSERT(kk_fw_fake_has_space(fw, "r/b"));
    kk_error_freep(&err);

    KT_ASSERT_OK(kk_fw_prune(fw, spaces, NULL, &removed, &err), &err);
    KT_ASSERT_EQ(removed, 3 + 2);
    KT_ASSERT(kk_fw_fake_has_space(fw, "r/a"));
    KT_ASSERT(!kk_fw_fake_has_space(fw, "r/b"));
    KT_ASSERT_EQ(kk_fw_fake_cell_ports(fw, "r/b/s/c"), 0);

    KT_ASSERT_OK(kk_fw_teardown(fw, &err), &err);
    KT_ASSERT(!kk_fw_fake_has_space(fw, "r/a"));
}
