/* agent/orphans.c: finding what resources removed while the agent was not
 * running left on the host, by this agent's own names only. The host is
 * played by directories of the test's: a cgroup mount with a v1 hierarchy
 * and the unified one, and the run dir's netns and IPAM directories. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent-private.h"
#include "agent/orphans.h"
#include "fsapi/buf.h"
#include "fsapi/fsutil.h"
#include "runtime/cgroup/fake.h"
#include "runtime/firewall/fake.h"
#include "runtime/net/fake.h"
#include "tests/lib/kktest.h"

struct host {
    struct kk_agent_config cfg;
    struct kk_agent *agent;
    char *mount;
};

static void mkdirs(const char *base, const char *rel)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", base, rel);
    _cleanup_error_ kk_error *err = NULL;
    kk_fs_mkdir_p_abs(path, 0755, &err);
}

static void touch(const char *base, const char *rel)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", base, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
}

static int host_init(struct host *h, kk_error **err)
{
    memset(h, 0, sizeof(*h));
    const char *tmp = kt_tmpdir();
    _cleanup_free_ char *inbox = kk_xasprintf("%s/inbox", tmp);
    _cleanup_free_ char *state = kk_xasprintf("%s/state", tmp);
    _cleanup_free_ char *run = kk_xasprintf("%s/run", tmp);
    h->mount = kk_xasprintf("%s/cgroup", tmp);
    kk_agent_config_init(&h->cfg);
    if (kk_agent_config_set(&h->cfg, "manifests", inbox, err) < 0 ||
        kk_agent_config_set(&h->cfg, "state", state, err) < 0 ||
        kk_agent_config_set(&h->cfg, "run-dir", run, err) < 0 ||
        kk_agent_config_set(&h->cfg, "cgroup-root", "kkt", err) < 0)
        return -1;
    h->cfg.workers = 0;
    struct kk_agent_backends be = {0};
    if (kk_agent_new(&h->cfg, &be, &h->agent, err) < 0)
        return -1;
    /* In the tree: the defaults (kk_agent_new) and cell default/default/default/keep. */
    mkdirs(state, "default/default/default/keep");
    /* cgroups, v1 hierarchy "memory": keep, gone1 (with its container
     * leaf), realm orr down to its cell; the unified hierarchy: stack
     * default/default/lone only. Another agent's root beside ours. */
    mkdirs(h->mount, "memory/kkt/default/default/default/keep/web_root");
    mkdirs(h->mount, "memory/kkt/default/default/default/gone1/web_root");
    mkdirs(h->mount, "memory/kkt/orr/ors/ork/gone2/web_root");
    mkdirs(h->mount, "kkt/default/default/lone");
    mkdirs(h->mount, "memory/other/alien/default/default/x");
    /* netns files: keep, gone3; IPAM: default's and orr's spaces; names
     * that are not ours are ignored. */
    mkdirs(run, "netns");
    touch(run, "netns/default_default_default_keep");
    touch(run, "netns/default_default_default_gone3");
    touch(run, "netns/not-a-cell");
    touch(run, "netns/a_b_c_d_e");
    mkdirs(run, "net");
    touch(run, "net/default_default.ipam");
    touch(run, "net/orr_ors.ipam");
    touch(run, "net/orr_ors.ipam.lock");
    return 0;
}

static void host_free(struct host *h)
{
    kk_agent_free(h->agent);
    kk_agent_config_release(&h->cfg);
    free(h->mount);
}

static bool has(const struct kk_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

static char *joined(const struct kk_strv *sv)
{
    struct kk_buf b = KK_BUF_INIT;
    for (size_t i = 0; i < sv->n; i++)
        kk_buf_printf(&b, "%s%s", i ? " " : "", sv->v[i]);
    return kk_buf_detach(&b, NULL);
}

KT_CASE(traces_untracked_and_leaves)
{
    _cleanup_error_ kk_error *err = NULL;
    struct host h;
    if (host_init(&h, &err) < 0) {
        host_free(&h);
        KT_ASSERT_MSG(false, "host: %s", err ? err->message : "?");
    }
    struct agent_ctx *c = &h.agent->ctx;
    struct kk_strv traces = {0}, orphans = {0}, leaves = {0};
    agent_orphans_traces(c, h.mount, &traces);
    agent_orphans_untracked(c, &traces, &orphans);
    agent_orphans_leaves(&orphans, &leaves);
    _cleanup_free_ char *t = joined(&traces), *o = joined(&orphans), *l = joined(&leaves);
    bool orr_traced = agent_orphans_realm_traced(c, h.mount, "orr");
    bool alien_traced = agent_orphans_realm_traced(c, h.mount, "alien");
    bool other_traced = agent_orphans_realm_traced(c, h.mount, "other");
    bool or_traced = agent_orphans_realm_traced(c, h.mount, "or");
    struct kk_strv no_cg = {0};
    agent_orphans_traces(c, NULL, &no_cg);
    bool no_cg_ok = !has(&no_cg, "orr/ors/ork") && has(&no_cg, "orr/ors") &&
                    has(&no_cg, "default/default/default/gone3");
    kk_strv_release(&no_cg);
    bool ok_traces = has(&traces, "default/default/default/keep") &&
                     has(&traces, "default/default/default/gone1") &&
                     has(&traces, "orr/ors/ork/gone2") && has(&traces, "orr") &&
                     has(&traces, "default/default/lone") &&
                     has(&traces, "default/default/default/gone3") && has(&traces, "orr/ors") &&
                     has(&traces, "default/default") && !has(&traces, "alien") &&
                     !has(&traces, "other") && !has(&traces, "a/b/c/d");
    bool ok_orphans = orphans.n == 7 && has(&orphans, "default/default/default/gone1") &&
                      has(&orphans, "default/default/default/gone3") &&
                      has(&orphans, "default/default/lone") && has(&orphans, "orr") &&
                      has(&orphans, "orr/ors") && has(&orphans, "orr/ors/ork") &&
                      has(&orphans, "orr/ors/ork/gone2");
    bool ok_leaves = leaves.n == 4 && has(&leaves, "default/default/default/gone1") &&
                     has(&leaves, "default/default/default/gone3") &&
                     has(&leaves, "default/default/lone") && has(&leaves, "orr/ors/ork/gone2");
    kk_strv_release(&traces);
    kk_strv_release(&orphans);
    kk_strv_release(&leaves);
    host_free(&h);
    KT_ASSERT_MSG(ok_traces, "traces: %s", t);
    KT_ASSERT_MSG(ok_orphans, "orphans: %s", o);
    KT_ASSERT_MSG(ok_leaves, "leaves: %s", l);
    KT_ASSERT(orr_traced);
    KT_ASSERT(!alien_traced);
    KT_ASSERT(!other_traced);
    KT_ASSERT(!or_traced); /* a prefix of a realm's name is not that realm */
    KT_ASSERT(no_cg_ok);
}

/* A containerd that only counts what is asked of it. */
static unsigned ctd_calls;
static int f_list(void *self, const char *ns, const char *filter, struct kk_ctd_container **out,
                  size_t *n, kk_error **err)
{
    (void)self, (void)ns, (void)filter, (void)err;
    ctd_calls++;
    *out = NULL;
    *n = 0;
    return 0;
}
static int f_other(void *self, const char *ns, const char *id, int sig, bool all, kk_error **err)
{
    (void)self, (void)ns, (void)id, (void)sig, (void)all, (void)err;
    ctd_calls++;
    return 0;
}
static const struct kk_ctd_ops counting_ops = {.container_list = f_list, .task_kill = f_other};

/* A key from a containerd event in a namespace that only looks like ours
 * (another agent's prefix extends ours: realm "x-default" of prefix
 * "<ours>x-") is not reconciled: the cell's reconcile, finding no spec,
 * would list and delete what runs there. */
KT_CASE(key_of_a_realm_not_ours_is_ignored)
{
    _cleanup_error_ kk_error *err = NULL;
    struct host h;
    struct kk_agent_backends be = {.ctd = &counting_ops};
    struct kk_net_config nc = KK_NET_CONFIG_DEFAULT;
    _cleanup_free_ char *ipam = kk_xasprintf("%s/ipam", kt_tmpdir());
    _cleanup_free_ char *netns = kk_xasprintf("%s/fake-netns", kt_tmpdir());
    nc.state_dir = ipam;
    nc.netns_dir = netns;
    int r = host_init(&h, &err);
    if (r == 0 && (kk_cg_open_fake(KK_CG_MODE_V2, KK_CG_DEFAULT_SET, "kkt", &be.cg, &err) < 0 ||
                   kk_net_new_fake(&nc, &be.net, &err) < 0 || kk_fw_new_fake(&be.fw, &err) < 0))
        r = -1;
    if (r == 0) {
        kk_agent_free(h.agent);
        h.agent = NULL;
        r = kk_agent_new(&h.cfg, &be, &h.agent, &err);
    }
    ctd_calls = 0;
    int alien = r == 0 ? kk_agent_reconcile(h.agent, "x-default/default/default/alien") : -1;
    unsigned alien_calls = ctd_calls;
    /* The same for a realm of ours that is gone from the tree: asked. */
    ctd_calls = 0;
    int orr = r == 0 ? kk_agent_reconcile(h.agent, "orr/ors/ork/gone2") : -1;
    unsigned orr_calls = ctd_calls;
    host_free(&h);
    kk_cg_close(be.cg);
    kk_net_free(be.net);
    kk_fw_free(be.fw);
    KT_ASSERT_MSG(r == 0, "setup: %s", err ? err->message : "?");
    KT_ASSERT_EQ(alien, KK_QUEUE_DONE);
    KT_ASSERT_EQ(alien_calls, 0);
    (void)orr;
    KT_ASSERT(orr_calls > 0);
}
