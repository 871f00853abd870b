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
 * another asks agent_parent_ready for a child. The only right answers are
 * "ready" (1) and "not reconciled yet: wait without writing" (-1); "not
 * Ready" (0) is the flap. No sleeps: both threads spin for a fixed number
 * of rounds; on the old code the bad answer came within a few thousand. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "agent/agent-private.h"
#include "fsapi/status.h"
#include "tests/lib/kktest.h"

#define ROUNDS 200000

struct race {
    struct agent_ctx *ctx;
    atomic_bool done;
    atomic_uint rounds;
};

static void *replay_parent(void *arg)
{
    struct race *r = arg;
    const char *stack = "default/default/default";
    for (unsigned i = 0; i < ROUNDS; i++) {
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
    pthread_t t;
    KT_ASSERT(pthread_create(&t, NULL, replay_parent, &r) == 0);
    unsigned asked = 0, ready = 0, waited = 0, flapped = 0, flapped_at = 0;
    while (!atomic_load(&r.done)) {
        struct kk_status *st = kk_status_new(KK_KIND_CELL, "web");
        int v = agent_parent_ready(&a->ctx, &cell, st);
        asked++;
        if (v > 0)
            ready++;
        else if (v < 0)
            waited++;
        else if (flapped++ == 0)
            flapped_at = atomic_load(&r.rounds);
        kk_status_free(st);
    }
    pthread_join(t, NULL);
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
