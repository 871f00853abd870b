/* Regressions found reviewing the agent's core (events, orphans, inbox
 * index, uninstall, runtime helpers): each case failed before its fix. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-private.h"
#include "agent/agent.h"
#include "agent/uninstall.h"
#include "fsapi/contract.h"
#include "runtime/containerd/containerd.h"
#include "runtime/net/sweep.h"
#include "fsapi/cleanup.h"
#include "fsapi/error.h"
#include "tests/lib/kktest.h"

/* ---- an agent in test mode over a temporary inbox and tree ---------------- */

struct world {
    char *inbox, *state;
    struct kk_agent_config cfg;
    struct kk_agent *agent;
};

static void world_free(struct world *w)
{
    kk_agent_free(w->agent);
    kk_agent_config_release(&w->cfg);
    free(w->inbox);
    free(w->state);
}

static int world_init(struct world *w, const char *sub, kk_error **err)
{
    memset(w, 0, sizeof(*w));
    w->inbox = kk_xasprintf("%s/%s-inbox", kt_tmpdir(), sub);
    w->state = kk_xasprintf("%s/%s-state", kt_tmpdir(), sub);
    mkdir(w->inbox, 0755);
    _cleanup_free_ char *run = kk_xasprintf("%s/%s-run", kt_tmpdir(), sub);
    kk_agent_config_init(&w->cfg);
    if (kk_agent_config_set(&w->cfg, "manifests", w->inbox, err) < 0 ||
        kk_agent_config_set(&w->cfg, "state", w->state, err) < 0 ||
        kk_agent_config_set(&w->cfg, "run-dir", run, err) < 0)
        return -1;
    w->cfg.workers = 0;
    struct kk_agent_backends be = {0};
    return kk_agent_new(&w->cfg, &be, &w->agent, err);
}

static void put(struct world *w, const char *name, const char *stacks)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", w->inbox, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    _cleanup_free_ char *copy = kk_xstrdup(stacks);
    char *save = NULL;
    for (char *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save))
        fprintf(f, "---\napiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: %s\n", s);
    fclose(f);
}

static void drop(struct world *w, const char *name, const char *stacks)
{
    put(w, name, stacks);
    _cleanup_free_ char *key = kk_xasprintf("_inbox/%s", name);
    kk_agent_reconcile(w->agent, key);
}

static bool has_stack(struct world *w, const char *id)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/default/default/%s/stack.yaml", w->state, id);
    return access(p, F_OK) == 0;
}

/* A fifo in the inbox (named like a manifest) was opened blocking by the
 * prune's look at the other inbox files: the worker hung for good, and
 * every later key waited behind it. The alarm turns the hang into a
 * failure. */
KT_CASE(prune_does_not_block_on_a_fifo_in_the_inbox)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, "fifo", &err), &err);
    drop(&w, "a.yaml", "s1 s2");
    _cleanup_free_ char *fifo = kk_xasprintf("%s/z.yaml", w.inbox);
    KT_ASSERT(mkfifo(fifo, 0644) == 0);
    alarm(20);
    drop(&w, "a.yaml", "s1"); /* prunes s2: looks at z.yaml */
    alarm(0);
    bool s1 = has_stack(&w, "s1"), s2 = has_stack(&w, "s2");
    world_free(&w);
    KT_ASSERT(s1);
    KT_ASSERT(!s2);
}

/* A full disk: a status write failed and is retried. An inbox file
 * applied again with nothing new (a resync) rewrote no report, yet counted
 * as a write that went through: lastWriteError vanished from
 * _agent/status.yaml and the agent said it had converged, until the next
 * retry failed and logged the warning again. */
KT_CASE(unchanged_inbox_report_does_not_clear_a_write_failure)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, "wfault", &err), &err);
    drop(&w, "a.yaml", "s1");
    drop(&w, "a.yaml", "s1"); /* its report now says "unchanged" */
    _cleanup_error_ kk_error *full = NULL;
    kk_error_errnum(&full, ENOSPC, "write default/default/s1/status.yaml");
    agent_note_write(&w.agent->ctx, "default/default/s1/status.yaml", full);
    bool failing_before = agent_writes_failing(w.agent);
    drop(&w, "a.yaml", "s1"); /* unchanged: no spec, no report written */
    bool failing_after = agent_writes_failing(w.agent);
    world_free(&w);
    KT_ASSERT(failing_before);
    KT_ASSERT_MSG(failing_after, "an unchanged report cleared the write failure");
}

/* ---- kukeond --uninstall: what is this configuration's ------------------- */

static struct kk_ctd_container ctr(char *id, char **labels)
{
    return (struct kk_ctd_container){.id = id, .labels = labels};
}

/* A namespace of another tool whose name happens to start with our prefix
 * (prefix "k": "k8s.io"; prefix "m": "moby") had no container naming
 * another realm, so it was drained and deleted, its containers with it. */
KT_CASE(uninstall_keeps_namespaces_that_are_not_kukeons)
{
    char *ours[] = {KK_LABEL_REALM, "prod", NULL};
    char *other_realm[] = {KK_LABEL_REALM, "default", NULL};
    char *docker[] = {"com.docker/owner", "x", NULL};
    struct kk_ctd_container v_ours[] = {ctr("a", ours), ctr("b", ours)};
    struct kk_ctd_container v_other[] = {ctr("a", ours), ctr("c", other_realm)};
    struct kk_ctd_container v_docker[] = {ctr("a", ours), ctr("d", docker)};
    struct kk_ctd_container v_bare[] = {ctr("e", NULL)};
    _cleanup_free_ char *w1 = agent_uninstall_ns_foreign("kkt-prod", "kkt-", false, v_ours, 2);
    _cleanup_free_ char *w2 = agent_uninstall_ns_foreign("kkt-prod", "kkt-", false, NULL, 0);
    _cleanup_free_ char *w3 = agent_uninstall_ns_foreign("kkt-prod", "kkt-", false, v_other, 2);
    _cleanup_free_ char *w4 = agent_uninstall_ns_foreign("k8s.io", "k", false, NULL, 0);
    _cleanup_free_ char *w5 = agent_uninstall_ns_foreign("moby", "m", false, v_bare, 1);
    _cleanup_free_ char *w6 = agent_uninstall_ns_foreign("default", "kkt-", true, v_docker, 2);
    _cleanup_free_ char *w7 = agent_uninstall_ns_foreign("custom", "kkt-", true, v_other, 2);
    KT_ASSERT(w1 == NULL); /* ours */
    KT_ASSERT(w2 == NULL); /* ours, images only (kuke image load) */
    KT_ASSERT(w3 && strstr(w3, "realm default"));
    KT_ASSERT_MSG(w4 != NULL, "k8s.io taken for realm 8s.io of prefix k");
    KT_ASSERT_MSG(w5 && strstr(w5, "container e"), "%s", w5 ? w5 : "(kept: no)");
    KT_ASSERT_MSG(w6 && strstr(w6, "container d"), "%s", w6 ? w6 : "(kept: no)");
    KT_ASSERT(w7 == NULL); /* named by a realm: any realm of ours in it */
}

static struct kk_net_link_info mklink(const char *name, const char *kind, const char *alias)
{
    struct kk_net_link_info l = {.index = 1};
    snprintf(l.name, sizeof(l.name), "%s", name);
    snprintf(l.kind, sizeof(l.kind), "%s", kind);
    snprintf(l.alias, sizeof(l.alias), "%s", alias);
    return l;
}

/* A link of the prefix with no alias counted as ours: with a short prefix
 * ("d", "v") the uninstall deleted docker0 and docker's veths. */
KT_CASE(uninstall_keeps_ownerless_links_not_shaped_as_ours)
{
    struct kk_agent_config cfg = {.bridge_prefix = "d", .veth_prefix = "v"};
    struct kk_net_link_info docker0 = mklink("docker0", "bridge", "");
    struct kk_net_link_info veth = mklink("veth1a2b3c4", "veth", "");
    struct kk_net_link_info crashed = mklink("d0123456789abcd", "bridge", "");
    struct kk_net_link_info upper = mklink("d0123456789ABCD", "bridge", "");
    KT_ASSERT(!agent_uninstall_link_ours(&cfg, "d", &docker0));
    KT_ASSERT(!agent_uninstall_link_ours(&cfg, "v", &veth));
    KT_ASSERT(agent_uninstall_link_ours(&cfg, "d", &crashed));
    KT_ASSERT(!agent_uninstall_link_ours(&cfg, "d", &upper));
}

/* A cgroup root the agent itself refuses ("." or "..") reached the sweep
 * as <cgroup fs>/. : every (empty) cgroup of the host was removed. The
 * dry run shows it: it listed "/sys/fs/cgroup/." for removal. */
KT_CASE(uninstall_refuses_a_cgroup_root_that_is_not_a_name)
{
    _cleanup_free_ char *state = kk_xasprintf("%s/un-state", kt_tmpdir());
    _cleanup_free_ char *run = kk_xasprintf("%s/un-run", kt_tmpdir());
    _cleanup_free_ char *locks = kk_xasprintf("%s/un-locks", kt_tmpdir());
    _cleanup_free_ char *sock = kk_xasprintf("%s/un-none.sock", kt_tmpdir());
    struct kk_agent_config cfg = {.state = state,
                                  .manifests = state,
                                  .run_dir = run,
                                  .containerd_address = sock,
                                  .cgroup_root = ".",
                                  .bridge_prefix = "kkrcb",
                                  .veth_prefix = "kkrcv",
                                  .nft_table = "kkrc-none",
                                  .namespace_prefix = "kkrc-"};
    struct agent_uninstall_opts o = {.dry_run = true, .lock_dir = locks};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    _cleanup_error_ kk_error *err = NULL;
    int r = agent_uninstall(&cfg, &o, out, &err);
    fclose(out);
    _cleanup_free_ char *got = text;
    KT_ASSERT_MSG(!strstr(got, "cgroup /sys/fs/cgroup/."), "%s", got);
    KT_ASSERT(r < 0);
    KT_ASSERT(err && kk_error_code(err) == KK_E_INVALID);
}
