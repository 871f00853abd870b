/* The in-memory cgroup backend the agent's tests use: it must behave like
 * the real one where the agent can tell. */
#include <string.h>

#include "fsapi/cleanup.h"
#include "fsapi/error.h"
#include "runtime/cgroup/fake.h"
#include "tests/lib/kktest.h"

static const struct kk_cg_ref cell = {"r", "s", "st", "c", NULL, NULL};
static const struct kk_cg_ref leaf = {"r", "s", "st", "c", "web", "root"};
static const struct kk_cg_ref stack = {"r", "s", "st", NULL, NULL, NULL};

KT_CASE(fake_v2_lifecycle)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(kk_cg_open_fake(KK_CG_MODE_V2, KK_CG_CPU | KK_CG_MEMORY | KK_CG_CPUSET, NULL, &cg,
                                 &err),
                 &err);
    struct kk_cg_status st = {0};
    KT_ASSERT_OK(kk_cg_status(cg, &cell, &st, &err), &err);
    KT_ASSERT_STREQ(st.path, "/kukeon/r/s/st/c");
    KT_ASSERT(!st.ready);
    kk_cg_status_release(&st);

    KT_ASSERT_OK(kk_cg_ensure(cg, &cell, 0, &st, &err), &err);
    KT_ASSERT(st.ready);
    KT_ASSERT_EQ(st.controllers, KK_CG_CPU | KK_CG_MEMORY); /* default set, filtered */
    kk_cg_status_release(&st);
    KT_ASSERT_EQ(kk_cg_fake_count(cg), 5);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, 0, NULL, &err), &err);
    KT_ASSERT_EQ(kk_cg_fake_count(cg), 6);

    struct kk_cg_resources res = {.memory_max = 1 << 20, .pids_max = 5}, got;
    KT_ASSERT(kk_cg_apply(cg, &leaf, &res, &err) < 0); /* no pids controller */
    KT_ASSERT_STREQ(err->reason, "CgroupControllersMissing");
    kk_error_freep(&err);
    res.pids_max = 0;
    KT_ASSERT_OK(kk_cg_apply(cg, &leaf, &res, &err), &err);
    KT_ASSERT_OK(kk_cg_read(cg, &leaf, &got, &err), &err);
    KT_ASSERT_EQ(got.memory_max, 1 << 20);

    KT_ASSERT_OK(kk_cg_place(cg, &leaf, 1234, &err), &err);
    KT_ASSERT_OK(kk_cg_freeze(cg, &cell, true, 100, &err), &err);
    KT_ASSERT_OK(kk_cg_status(cg, &leaf, &st, &err), &err);
    KT_ASSERT(st.populated && st.frozen);
    KT_ASSERT_EQ(st.controllers, KK_CG_CPU | KK_CG_MEMORY);
    kk_cg_status_release(&st);

    KT_ASSERT(kk_cg_remove(cg, &stack, 100, &err) < 0);
    KT_ASSERT_STREQ(err->reason, "CgroupBusy");
    KT_ASSERT_EQ(kk_cg_fake_count(cg), 6);
    kk_error_freep(&err);
    kk_cg_fake_exit(cg, 1234);
    KT_ASSERT_OK(kk_cg_remove(cg, &stack, 100, &err), &err);
    KT_ASSERT_OK(kk_cg_remove(cg, &stack, 100, &err), &err);
    KT_ASSERT_EQ(kk_cg_fake_count(cg), 3); /* root, realm, space */
    KT_ASSERT(kk_cg_place(cg, &leaf, 1234, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_NOT_FOUND);
}

KT_CASE(fake_v1_and_injected_failures)
{
    _cleanup_error_ kk_error *err = NULL;
    _cleanup_cg_ struct kk_cg *cg = NULL;
    KT_ASSERT_OK(kk_cg_open_fake(KK_CG_MODE_V1, KK_CG_CPU | KK_CG_MEMORY, "kktest", &cg, &err),
                 &err);
    KT_ASSERT(cg->hybrid);
    kk_cg_fake_fail_next(cg, "ensure", KK_E_UNAVAILABLE);
    KT_ASSERT(kk_cg_ensure(cg, &leaf, 0, NULL, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_UNAVAILABLE);
    kk_error_freep(&err);
    KT_ASSERT_OK(kk_cg_ensure(cg, &leaf, KK_CG_ENSURE_NESTED, NULL, &err), &err);
    KT_ASSERT(kk_cg_freeze(cg, &cell, true, 100, &err) < 0); /* no freezer */
    KT_ASSERT_EQ(err->code, KK_E_PRECONDITION);
    kk_error_freep(&err);

    KT_ASSERT_OK(kk_cg_place(cg, &leaf, 7, &err), &err);
    KT_ASSERT_OK(kk_cg_place(cg, &cell, 7, &err), &err); /* moved, not copied */
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    KT_ASSERT_OK(kk_cg_procs(cg, &leaf, &pids, &n, &err), &err);
    KT_ASSERT_EQ(n, 0);
    free(TAKE_PTR(pids));
    KT_ASSERT_OK(kk_cg_procs(cg, &cell, &pids, &n, &err), &err);
    KT_ASSERT(n == 1 && pids[0] == 7);

    struct kk_cg_ref bad = {.realm = "r", .space = "S"};
    KT_ASSERT(kk_cg_ensure(cg, &bad, 0, NULL, &err) < 0);
    KT_ASSERT_EQ(err->code, KK_E_INVALID);
}
