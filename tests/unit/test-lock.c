/* One kukeond per state tree and per host-global name (agent/lock.h). */
#include <string.h>
#include <unistd.h>

#include "agent/lock.h"
#include "tests/lib/kktest.h"

static void config(struct kk_agent_config *cfg, const char *state, const char *table)
{
    kk_agent_config_init(cfg);
    free(cfg->state);
    cfg->state = kk_xasprintf("%s/%s", kt_tmpdir(), state);
    free(cfg->cgroup_root); /* one per tree: only what a case shares collides */
    cfg->cgroup_root = kk_xasprintf("cg-%s", state);
    free(cfg->nft_table);
    cfg->nft_table = kk_xstrdup(table);
}

KT_CASE(second_agent_on_the_same_tree_is_refused)
{
    _cleanup_free_ char *dir = kk_xasprintf("%s/locks", kt_tmpdir());
    struct kk_agent_config a, b;
    config(&a, "state", "t1");
    config(&b, "state", "t2");
    struct agent_locks la = {0}, lb = {0};
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(agent_locks_take(&a, dir, &la, &err), &err);
    int r = agent_locks_take(&b, dir, &lb, &err);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    bool names = err && strstr(err->message, "state tree") && strstr(err->message, pid);
    agent_locks_release(&la);
    /* Released: now it may. */
    kk_error_freep(&err);
    int again = agent_locks_take(&b, dir, &lb, &err);
    agent_locks_release(&lb);
    kk_agent_config_release(&a);
    kk_agent_config_release(&b);
    KT_ASSERT(r < 0);
    KT_ASSERT(names);
    KT_ASSERT_EQ(again, 0);
}

/* Bridge prefixes hq1 and hq2 both derive the veth prefix hqv: the second
 * agent's cells took over the first one's veths. */
KT_CASE(same_derived_veth_prefix_is_refused)
{
    _cleanup_free_ char *dir = kk_xasprintf("%s/locks", kt_tmpdir());
    struct kk_agent_config a, b;
    config(&a, "v1", "tv1");
    config(&b, "v2", "tv2");
    /* An empty config file, so the host's /etc/kukeon/kukeond.yaml plays no
     * part; the parse derives veth_prefix from --bridge-prefix. */
    _cleanup_free_ char *conf = kk_xasprintf("%s/empty.yaml", kt_tmpdir());
    FILE *f = fopen(conf, "w");
    KT_ASSERT(f != NULL);
    fclose(f);
    char *argv_a[] = {"kukeond", "--config", conf, "--bridge-prefix", "hq1", NULL};
    char *argv_b[] = {"kukeond", "--config", conf, "--bridge-prefix", "hq2", NULL};
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(kk_agent_config_parse(&a, 5, argv_a, &err), &err);
    KT_ASSERT_OK(kk_agent_config_parse(&b, 5, argv_b, &err), &err);
    KT_ASSERT_STREQ(a.veth_prefix, b.veth_prefix);
    struct agent_locks la = {0}, lb = {0};
    KT_ASSERT_OK(agent_locks_take(&a, dir, &la, &err), &err);
    int rb = agent_locks_take(&b, dir, &lb, &err);
    bool names = err && strstr(err->message, "veth prefix");
    agent_locks_release(&la);
    agent_locks_release(&lb);
    kk_agent_config_release(&a);
    kk_agent_config_release(&b);
    KT_ASSERT(rb < 0);
    KT_ASSERT(names);
}

KT_CASE(same_nft_table_from_another_tree_is_refused)
{
    _cleanup_free_ char *dir = kk_xasprintf("%s/locks", kt_tmpdir());
    struct kk_agent_config a, b, c;
    config(&a, "s1", "shared");
    config(&b, "s2", "shared");
    config(&c, "s3", "other");
    free(c.cgroup_root);
    c.cgroup_root = kk_xstrdup("other/root"); /* a '/' in a cgroup root */
    free(c.bridge_prefix);
    c.bridge_prefix = kk_xstrdup("kko");
    struct agent_locks la = {0}, lb = {0}, lc = {0};
    _cleanup_error_ kk_error *err = NULL;
    KT_ASSERT_OK(agent_locks_take(&a, dir, &la, &err), &err);
    int rb = agent_locks_take(&b, dir, &lb, &err);
    bool names = err && strstr(err->message, "nft table shared");
    kk_error_freep(&err);
    int rc = agent_locks_take(&c, dir, &lc, &err);
    agent_locks_release(&la);
    agent_locks_release(&lb);
    agent_locks_release(&lc);
    kk_agent_config_release(&a);
    kk_agent_config_release(&b);
    kk_agent_config_release(&c);
    KT_ASSERT(rb < 0);
    KT_ASSERT(names);
    KT_ASSERT_EQ(rc, 0);
}
