/* The inbox ownership index (agent/inbox-index.h) on its own, then the
 * agent's pruning through it: an inbox file removed or shrunk prunes what
 * it owned and nothing else, a resource another file defines is left for
 * that file (also one saved but not applied yet), and an agent started on
 * an existing tree rebuilds the index from the specs' annotations. The
 * agent runs in test mode with no backends: only inbox keys are run, so
 * only spec files are written and removed. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/inbox-index.h"
#include "fsapi/cleanup.h"
#include "fsapi/error.h"
#include "tests/lib/kktest.h"

/* ---- the index ------------------------------------------------------------ */

static struct agent_inbox_stamp stamp(uint64_t ino, int64_t size)
{
    return (struct agent_inbox_stamp){.dev = 1, .ino = ino, .size = size, .mtime_ns = 5};
}

KT_CASE(owners_follow_the_last_writer)
{
    struct agent_inbox_index *ix = agent_inbox_index_new();
    agent_inbox_index_set_owner(ix, "r/s/st/b", "a.yaml");
    agent_inbox_index_set_owner(ix, "r/s/st/a", "a.yaml");
    agent_inbox_index_set_owner(ix, "r/s/st/c", "b.yaml");
    size_t n;
    _cleanup_strv_ char **va = agent_inbox_index_owned(ix, "a.yaml", &n);
    /* b.yaml takes r/s/st/a over; a.yaml's spec of r/s/st/b goes. */
    agent_inbox_index_set_owner(ix, "r/s/st/a", "b.yaml");
    agent_inbox_index_set_owner(ix, "r/s/st/b", NULL);
    _cleanup_strv_ char **va2 = agent_inbox_index_owned(ix, "a.yaml", NULL);
    _cleanup_strv_ char **vb = agent_inbox_index_owned(ix, "b.yaml", NULL);
    _cleanup_free_ char *oa = agent_inbox_index_owner(ix, "r/s/st/a");
    _cleanup_free_ char *ob = agent_inbox_index_owner(ix, "r/s/st/b");
    agent_inbox_index_free(ix);
    KT_ASSERT_EQ(n, 2);
    KT_ASSERT_STREQ(va[0], "r/s/st/a"); /* sorted */
    KT_ASSERT_STREQ(va[1], "r/s/st/b");
    KT_ASSERT(va[2] == NULL);
    KT_ASSERT(va2[0] == NULL);
    KT_ASSERT_STREQ(vb[0], "r/s/st/a");
    KT_ASSERT_STREQ(vb[1], "r/s/st/c");
    KT_ASSERT(vb[2] == NULL);
    KT_ASSERT_STREQ(oa, "b.yaml");
    KT_ASSERT(ob == NULL);
}

KT_CASE(definitions_are_replaced_and_stamped)
{
    struct agent_inbox_index *ix = agent_inbox_index_new();
    struct agent_inbox_stamp s1 = stamp(10, 100), s2 = stamp(10, 120);
    const char *ka[] = {"r/s", "r/s/x"};
    const char *kb[] = {"r/s/x"};
    agent_inbox_index_define(ix, "a.yaml", &s1, ka, 2);
    agent_inbox_index_define(ix, "b.yaml", &s1, kb, 1);
    _cleanup_free_ char *d1 = agent_inbox_index_definer(ix, "r/s/x", NULL);
    _cleanup_free_ char *d2 = agent_inbox_index_definer(ix, "r/s/x", "a.yaml");
    _cleanup_free_ char *d3 = agent_inbox_index_definer(ix, "r/s", "a.yaml");
    bool cur1 = agent_inbox_index_is_current(ix, "a.yaml", &s1);
    bool cur2 = agent_inbox_index_is_current(ix, "a.yaml", &s2);
    bool cur3 = agent_inbox_index_is_current(ix, "c.yaml", &s1);
    /* a.yaml changes: it defines only r/s now. */
    agent_inbox_index_define(ix, "a.yaml", &s2, ka, 1);
    _cleanup_free_ char *d4 = agent_inbox_index_definer(ix, "r/s/x", "b.yaml");
    bool cur4 = agent_inbox_index_is_current(ix, "a.yaml", &s2);
    /* b.yaml is gone, a.yaml became invalid (defines nothing). */
    agent_inbox_index_forget(ix, "b.yaml");
    agent_inbox_index_define(ix, "a.yaml", &s1, NULL, 0);
    _cleanup_free_ char *d5 = agent_inbox_index_definer(ix, "r/s/x", NULL);
    _cleanup_free_ char *d6 = agent_inbox_index_definer(ix, "r/s", NULL);
    _cleanup_strv_ char **files = agent_inbox_index_files(ix);
    agent_inbox_index_free(ix);
    KT_ASSERT_STREQ(d1, "a.yaml"); /* the first by name */
    KT_ASSERT_STREQ(d2, "b.yaml");
    KT_ASSERT(d3 == NULL);
    KT_ASSERT(cur1 && !cur2 && !cur3 && cur4);
    KT_ASSERT(d4 == NULL);
    KT_ASSERT(d5 == NULL && d6 == NULL);
    KT_ASSERT_STREQ(files[0], "a.yaml");
    KT_ASSERT(files[1] == NULL);
}

KT_CASE(clear_forgets_everything_and_stays_usable)
{
    struct agent_inbox_index *ix = agent_inbox_index_new();
    struct agent_inbox_stamp s1 = stamp(3, 30);
    const char *k[] = {"r/s"};
    agent_inbox_index_set_owner(ix, "r/s", "a.yaml");
    agent_inbox_index_define(ix, "a.yaml", &s1, k, 1);
    agent_inbox_index_clear(ix);
    _cleanup_free_ char *o1 = agent_inbox_index_owner(ix, "r/s");
    _cleanup_free_ char *d1 = agent_inbox_index_definer(ix, "r/s", NULL);
    _cleanup_strv_ char **owned = agent_inbox_index_owned(ix, "a.yaml", NULL);
    bool cur = agent_inbox_index_is_current(ix, "a.yaml", &s1);
    agent_inbox_index_set_owner(ix, "r/s", "b.yaml");
    _cleanup_free_ char *o2 = agent_inbox_index_owner(ix, "r/s");
    agent_inbox_index_free(ix);
    KT_ASSERT(o1 == NULL && d1 == NULL && owned[0] == NULL && !cur);
    KT_ASSERT_STREQ(o2, "b.yaml");
}

/* ---- the agent's pruning through it --------------------------------------- */

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

static int world_init(struct world *w, kk_error **err)
{
    memset(w, 0, sizeof(*w));
    w->inbox = kk_xasprintf("%s/inbox", kt_tmpdir());
    w->state = kk_xasprintf("%s/state", kt_tmpdir());
    mkdir(w->inbox, 0755);
    _cleanup_free_ char *run = kk_xasprintf("%s/run", kt_tmpdir());
    kk_agent_config_init(&w->cfg);
    if (kk_agent_config_set(&w->cfg, "manifests", w->inbox, err) < 0 ||
        kk_agent_config_set(&w->cfg, "state", w->state, err) < 0 ||
        kk_agent_config_set(&w->cfg, "run-dir", run, err) < 0)
        return -1;
    w->cfg.workers = 0; /* test mode: keys run by hand */
    struct kk_agent_backends be = {0};
    return kk_agent_new(&w->cfg, &be, &w->agent, err);
}

/* Writes inbox file `name` holding one Stack per name in `stacks`
 * (space-separated), without applying it. */
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

static void apply(struct world *w, const char *name)
{
    _cleanup_free_ char *key = kk_xasprintf("_inbox/%s", name);
    kk_agent_reconcile(w->agent, key);
}

static void drop(struct world *w, const char *name, const char *stacks)
{
    put(w, name, stacks);
    apply(w, name);
}

static void rm_inbox(struct world *w, const char *name)
{
    _cleanup_free_ char *path = kk_xasprintf("%s/%s", w->inbox, name);
    unlink(path);
    apply(w, name);
}

/* Whether stack `id` of the default space has its spec, and its source. */
static bool has_stack(struct world *w, const char *id)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/default/default/%s/stack.yaml", w->state, id);
    return access(p, F_OK) == 0;
}

static bool source_is(struct world *w, const char *id, const char *file)
{
    _cleanup_free_ char *p = kk_xasprintf("%s/default/default/%s/stack.yaml", w->state, id);
    _cleanup_fclose_ FILE *f = fopen(p, "r");
    char line[256];
    _cleanup_free_ char *want = kk_xasprintf("kukeon.io/source: %s\n", file);
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, want))
            return true;
    return false;
}

KT_CASE(removed_file_prunes_only_what_it_owned)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "a.yaml", "s1 s2");
    drop(&w, "b.yaml", "s3");
    bool all = has_stack(&w, "s1") && has_stack(&w, "s2") && has_stack(&w, "s3");
    rm_inbox(&w, "a.yaml");
    bool s1 = has_stack(&w, "s1"), s2 = has_stack(&w, "s2"), s3 = has_stack(&w, "s3");
    bool dflt = has_stack(&w, "default");
    world_free(&w);
    KT_ASSERT(all);
    KT_ASSERT(!s1 && !s2);
    KT_ASSERT(s3);
    KT_ASSERT(dflt); /* the default stack has no inbox file: never pruned */
}

KT_CASE(shrunk_file_prunes_the_documents_it_dropped)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "a.yaml", "s1 s2 s3");
    drop(&w, "a.yaml", "s2");
    bool s1 = has_stack(&w, "s1"), s2 = has_stack(&w, "s2"), s3 = has_stack(&w, "s3");
    /* s2 moved out, then back: it is created again. */
    drop(&w, "a.yaml", "s4");
    bool none = !has_stack(&w, "s2") && has_stack(&w, "s4");
    drop(&w, "a.yaml", "s2");
    bool back = has_stack(&w, "s2") && source_is(&w, "s2", "a.yaml");
    world_free(&w);
    KT_ASSERT(!s1 && s2 && !s3);
    KT_ASSERT(none);
    KT_ASSERT(back);
}

/* A resource moved from a.yaml to b.yaml: b.yaml is saved (in place, so
 * the inbox directory does not change) but not applied yet when a.yaml's
 * apply prunes; the resource must stay for b.yaml to take over, as when
 * every inbox file was parsed for every orphan. */
KT_CASE(moved_resource_survives_before_the_new_file_is_applied)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "a.yaml", "s1 s2");
    drop(&w, "b.yaml", "s9");
    /* b.yaml was parsed into the index (its orphans were looked for once). */
    drop(&w, "a.yaml", "s1 s2 s0");
    drop(&w, "a.yaml", "s1 s2");
    put(&w, "b.yaml", "s9 s1"); /* in place, larger: a new stamp */
    drop(&w, "a.yaml", "s2");
    bool kept = has_stack(&w, "s1") && source_is(&w, "s1", "a.yaml");
    apply(&w, "b.yaml");
    bool taken = has_stack(&w, "s1") && source_is(&w, "s1", "b.yaml");
    /* And a file new to the inbox, never applied, counts too. */
    put(&w, "c.yaml", "s2");
    drop(&w, "a.yaml", "s5");
    bool kept2 = has_stack(&w, "s2") && has_stack(&w, "s5");
    world_free(&w);
    KT_ASSERT(kept);
    KT_ASSERT(taken);
    KT_ASSERT(kept2);
}

/* Another file that took a resource over is not pruned by the first one
 * going away. */
KT_CASE(taken_over_resource_is_not_pruned_by_the_old_file)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "a.yaml", "s1");
    drop(&w, "b.yaml", "s1");
    bool b_owns = source_is(&w, "s1", "b.yaml");
    rm_inbox(&w, "a.yaml");
    bool kept = has_stack(&w, "s1");
    rm_inbox(&w, "b.yaml");
    bool gone = !has_stack(&w, "s1");
    world_free(&w);
    KT_ASSERT(b_owns);
    KT_ASSERT(kept);
    KT_ASSERT(gone);
}

/* A new agent on the same tree knows what each file owned: the index is
 * rebuilt from the specs' annotations at start-up. */
KT_CASE(restarted_agent_rebuilds_the_index)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "a.yaml", "s1 s2");
    drop(&w, "b.yaml", "s3");
    kk_agent_free(w.agent);
    w.agent = NULL;
    struct kk_agent_backends be = {0};
    KT_ASSERT_OK(kk_agent_new(&w.cfg, &be, &w.agent, &err), &err);
    rm_inbox(&w, "a.yaml");
    bool s1 = has_stack(&w, "s1"), s2 = has_stack(&w, "s2"), s3 = has_stack(&w, "s3");
    world_free(&w);
    KT_ASSERT(!s1 && !s2);
    KT_ASSERT(s3);
}

/* A spec removed behind the agent's back (kuke delete) is simply gone
 * when its file goes: nothing else is touched. */
KT_CASE(spec_removed_by_hand_then_file_removed)
{
    _cleanup_error_ kk_error *err = NULL;
    struct world w;
    KT_ASSERT_OK(world_init(&w, &err), &err);
    drop(&w, "a.yaml", "s1 s2");
    _cleanup_free_ char *p = kk_xasprintf("%s/default/default/s1/stack.yaml", w.state);
    unlink(p);
    rm_inbox(&w, "a.yaml");
    bool s1 = has_stack(&w, "s1"), s2 = has_stack(&w, "s2"), dflt = has_stack(&w, "default");
    world_free(&w);
    KT_ASSERT(!s1 && !s2 && dflt);
}
