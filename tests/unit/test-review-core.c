/* Regressions found reviewing the agent's core (events, orphans, inbox
 * index, uninstall, runtime helpers): each case failed before its fix. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
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
