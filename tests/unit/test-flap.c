/* Regression test: a restarted agent wrote "Pending WaitingForParent" into
 * the status of cells that had never stopped running, for ~100 ms, until
 * their stack's wake-up ran them again.
 *
 * The cause was in agent_parent_ready (agent/parents.c): it read the
 * parent's "reconciled Ready in this run" and then, apart, "state
 * recorded in this run". A parent's reconcile publishes ready, writes its
 * status, then records the state; a child reading between the two saw
 * "not ready" (from before) and "state recorded" (from after), took the
 * pair for a parent found not Ready in this run, and wrote
 * WaitingForParent over its Ready status.
 *
 * Here one thread replays a parent's first reconcile after a start, over
 * and over (memory forgotten, ready published, state recorded), while
 * three others ask agent_parent_ready for a child, as cells on the
 * workers do. The only right answers are
 * "ready" (1) and "not reconciled yet: wait without writing" (-1); "not
 * Ready" (0) is the flap. No sleeps: the threads spin for
 * two seconds; on the old code the bad answer came in 8 runs of 8 on a
 * loaded 2-CPU VM (the window is a few instructions wide). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent-private.h"
#include "fsapi/clock.h"
#include "fsapi/status.h"
#include "tests/lib/kktest.h"

/* How long the threads race (real time; no sleeping: they spin). */
#define RACE_NS (2000 * 1000 * 1000LL)
/* Children asking at once, as cells on the agent's workers do: their
 * contention for the agent's lock is what lets the parent's two updates
 * both land between one child's two reads. */
#define CHILDREN 3

struct race {
    struct agent_ctx *ctx;
    atomic_bool done;
    atomic_uint rounds;
};

struct child {
    struct race *r;
    struct kk_key cell;
    unsigned asked, ready, waited, flapped, flapped_at;
};

static void *replay_parent(void *arg)
{
    struct race *r = arg;
    const char *stack = "default/default/default";
    int64_t until = kk_clock_mono_ns(NULL) + RACE_NS;
    for (unsigned i = 0; (i & 1023) != 0 || kk_clock_mono_ns(NULL) < until; i++) {
        /* A new agent: nothing known of the stack. */
        agent_mem_drop(r->ctx, stack);
        /* reconcile_level's success path, in its order. */
        agent_set_ready(r->ctx, stack, true);
        agent_set_state(r->ctx, stack, KK_STATE_READY);
        atomic_store(&r->rounds, i + 1);
    }
    atomic_store(&r->done, true);
    return NULL;
}

static void *ask_as_child(void *arg)
{
    struct child *c = arg;
    /* st is only written on a "not Ready" answer: one for the whole race
     * keeps the loop tight, so the child asks as often as it can. */
    struct kk_status *st = kk_status_new(KK_KIND_CELL, "web");
    while (!atomic_load(&c->r->done)) {
        int v = agent_parent_ready(c->r->ctx, &c->cell, st);
        c->asked++;
        if (v > 0)
            c->ready++;
        else if (v < 0)
            c->waited++;
        else if (c->flapped++ == 0)
            c->flapped_at = atomic_load(&c->r->rounds);
    }
    kk_status_free(st);
    return NULL;
}

static struct kk_agent *new_agent(struct kk_agent_config *cfg, kk_error **err)
{
    const char *tmp = kt_tmpdir();
    _cleanup_free_ char *inbox = kk_xasprintf("%s/inbox", tmp);
    _cleanup_free_ char *state = kk_xasprintf("%s/state", tmp);
    _cleanup_free_ char *run = kk_xasprintf("%s/run", tmp);
    kk_agent_config_init(cfg);
    if (kk_agent_config_set(cfg, "manifests", inbox, err) < 0 ||
        kk_agent_config_set(cfg, "state", state, err) < 0 ||
        kk_agent_config_set(cfg, "run-dir", run, err) < 0)
        return NULL;
    cfg->workers = 0;
    /* agent_parent_ready touches no backend: none is given. */
    struct kk_agent_backends be = {0};
    struct kk_agent *a = NULL;
    if (kk_agent_new(cfg, &be, &a, err) < 0)
        return NULL;
    return a;
}

KT_CASE(parent_ready_never_reports_a_parent_being_reconciled_as_not_ready)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_agent_config cfg;
    struct kk_agent *a = new_agent(&cfg, &err);
    KT_ASSERT_MSG(a, "agent: %s", err ? err->message : "?");
    struct kk_key cell;
    if (kk_key_parse(&cell, "default/default/default/web", &err) < 0) {
        kk_agent_free(a);
        kk_agent_config_release(&cfg);
        KT_ASSERT_MSG(false, "key: %s", err->message);
    }

    struct race r = {.ctx = &a->ctx};
    struct child kids[CHILDREN];
    pthread_t parent, child[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        kids[i] = (struct child){.r = &r, .cell = cell};
    KT_ASSERT(pthread_create(&parent, NULL, replay_parent, &r) == 0);
    for (int i = 0; i < CHILDREN; i++)
        KT_ASSERT(pthread_create(&child[i], NULL, ask_as_child, &kids[i]) == 0);
    pthread_join(parent, NULL);
    unsigned asked = 0, ready = 0, waited = 0, flapped = 0, flapped_at = 0;
    for (int i = 0; i < CHILDREN; i++) {
        pthread_join(child[i], NULL);
        asked += kids[i].asked;
        ready += kids[i].ready;
        waited += kids[i].waited;
        if (kids[i].flapped && !flapped)
            flapped_at = kids[i].flapped_at;
        flapped += kids[i].flapped;
    }
    kk_agent_free(a);
    kk_agent_config_release(&cfg);
    KT_ASSERT_MSG(flapped == 0,
                  "%u of %u answers were \"not Ready\" (WaitingForParent) for a stack being "
                  "reconciled Ready, the first at round %u (%u ready, %u wait)",
                  flapped, asked, flapped_at, ready, waited);
    /* The race was really run: the child asked while the parent changed. */
    KT_ASSERT(asked > 0);
}

/* The answers that must not change: a parent not reconciled yet whose spec
 * exists is waited for silently; one found not Ready in this run is
 * reported; one without a spec is reported (nothing will make it Ready). */
KT_CASE(parent_ready_answers)
{
    _cleanup_error_ kk_error *err = NULL;
    struct kk_agent_config cfg;
    struct kk_agent *a = new_agent(&cfg, &err);
    KT_ASSERT_MSG(a, "agent: %s", err ? err->message : "?");
    struct kk_key cell, orphan;
    int ok = kk_key_parse(&cell, "default/default/default/web", &err) == 0 &&
             kk_key_parse(&orphan, "default/default/nostack/web", &err) == 0;
    struct agent_ctx *c = &a->ctx;
    const char *stack = "default/default/default";
    int fresh = 0, pending = 0, readyv = 0, nospec = 0;
    _cleanup_free_ char *reason = NULL;
    if (ok) {
        struct kk_status *st = kk_status_new(KK_KIND_CELL, "web");
        fresh = agent_parent_ready(c, &cell, st);
        agent_set_ready(c, stack, false);
        agent_set_state(c, stack, KK_STATE_PENDING);
        pending = agent_parent_ready(c, &cell, st);
        reason = st->reason ? kk_xstrdup(st->reason) : NULL;
        agent_set_ready(c, stack, true);
        agent_set_state(c, stack, KK_STATE_READY);
        readyv = agent_parent_ready(c, &cell, st);
        nospec = agent_parent_ready(c, &orphan, st);
        kk_status_free(st);
    }
    kk_agent_free(a);
    kk_agent_config_release(&cfg);
    KT_ASSERT(ok);
    KT_ASSERT_EQ(fresh, -1);
    KT_ASSERT_EQ(pending, 0);
    KT_ASSERT_STREQ(reason, "WaitingForParent");
    KT_ASSERT_EQ(readyv, 1);
    KT_ASSERT_EQ(nospec, 0);
}
