/* The decision of a cell's container reconcile (agent/cell-decide.h), with
 * no containerd and no fakes: every combination of task state, ctl request,
 * restart policy, backoff, restart count, root and root_down, OOM, stop
 * timing and remembered pid is checked against the table of cell-decide.h
 * (written out again below as `expect`), plus cases with literal values for
 * every branch. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/cell-decide.h"
#include "tests/lib/kktest.h"

#define NOW_MS       1000000
#define NOW_NS       1700000000000000000LL
#define EXITED_NS    1699999999000000000LL
#define STARTED_NS   1600000000000000000LL
#define TIMEOUT_S    10
#define OBSERVED_PID 4242
#define OTHER_PID    77
#define LIMIT        2 /* on-failure's restartMaxRetries */

/* ---- the combinations --------------------------------------------------- */

enum t { T_ABSENT, T_ERROR, T_NONE, T_CREATED, T_RUNNING, T_PAUSED, T_EXIT0, T_EXIT3, T_N };
enum pol { P_NO, P_ON_FAILURE, P_ALWAYS, P_UNLESS_STOPPED, P_N };
enum backoff { B_NONE, B_PENDING, B_ELAPSED, B_N };
enum stop_sent { S_NONE, S_RECENT, S_OLD, S_N };
enum mempid { M_NONE, M_SAME, M_OTHER, M_N };

struct combo {
    enum t task;
    bool stopped, paused;
    enum pol policy;
    enum backoff backoff;
    bool at_limit; /* restart_count == LIMIT, else 0 */
    bool root, root_down;
    bool oom_event, oom_remembered;
    enum stop_sent stop_sent;
    enum mempid mempid;
    bool started_at_known;
};

static const char *const task_names[] = {"absent",  "error",  "none",  "created",
                                         "running", "paused", "exit0", "exit3"};
static const char *const pol_names[] = {"no", "on-failure", "always", "unless-stopped"};

static void describe(const struct combo *k, char *buf, size_t n)
{
    snprintf(buf, n,
             "task=%s stopped=%d paused=%d policy=%s backoff=%d at_limit=%d root=%d "
             "root_down=%d oom=%d/%d stop_sent=%d mempid=%d started_known=%d",
             task_names[k->task], k->stopped, k->paused, pol_names[k->policy], k->backoff,
             k->at_limit, k->root, k->root_down, k->oom_event, k->oom_remembered, k->stop_sent,
             k->mempid, k->started_at_known);
}

static void spec_of(const struct combo *k, struct kk_container *spec)
{
    static const int policies[] = {KK_RESTART_NO, KK_RESTART_ON_FAILURE, KK_RESTART_ALWAYS,
                                   KK_RESTART_UNLESS_STOPPED};
    memset(spec, 0, sizeof(*spec));
    spec->restart_policy = policies[k->policy];
    spec->restart_max_retries = k->policy == P_ON_FAILURE ? LIMIT : 0;
    spec->restart_backoff_seconds = 1;
}

static void input_of(const struct combo *k, const struct kk_container *spec,
                     struct agent_cell_in *in)
{
    static const enum agent_cell_task tasks[] = {AGENT_CELL_TASK_NONE,    AGENT_CELL_TASK_ERROR,
                                                 AGENT_CELL_TASK_NONE,    AGENT_CELL_TASK_CREATED,
                                                 AGENT_CELL_TASK_RUNNING, AGENT_CELL_TASK_PAUSED,
                                                 AGENT_CELL_TASK_STOPPED, AGENT_CELL_TASK_STOPPED};
    static const int64_t backoffs[] = {0, NOW_MS + 500, NOW_MS - 1};
    static const int64_t sent[] = {0, NOW_MS - 2000, NOW_MS - TIMEOUT_S * 1000};
    static const uint32_t pids[] = {0, OBSERVED_PID, OTHER_PID};
    *in = (struct agent_cell_in){
            .exists = k->task != T_ABSENT,
            .task = tasks[k->task],
            .pid = k->task == T_CREATED || k->task == T_RUNNING || k->task == T_PAUSED
                           ? OBSERVED_PID
                           : 0,
            .exit_code = k->task == T_EXIT3 ? 3 : 0,
            .exited_at_ns = EXITED_NS,
            .error = k->task == T_ERROR ? "connection refused" : NULL,
            .oom_event = k->oom_event,
            .mem =
                    {
                            .restart_count = k->at_limit ? LIMIT : 0,
                            .backoff_until_ms = backoffs[k->backoff],
                            .pid = pids[k->mempid],
                            .started_at = k->started_at_known ? STARTED_NS : 0,
                            .finished_at = 11,
                            .oom = k->oom_remembered,
                    },
            .stop_sent_ms = sent[k->stop_sent],
            .spec = spec,
            .stopped = k->stopped,
            .paused = k->paused,
            .root = k->root,
            .root_down = k->root_down,
            .stop_timeout_s = TIMEOUT_S,
            .now_ms = NOW_MS,
            .now_ns = NOW_NS,
    };
}

/* ---- the table of cell-decide.h, written out again ---------------------- */

struct want {
    enum agent_cell_act acts[AGENT_CELL_ACTS_MAX];
    size_t n_acts;
    int signal;
    enum kk_state state;
    const char *reason;
    char message[128]; /* "" none */
    uint32_t pid;
    int64_t exit_code, started_at, finished_at;
    int64_t deadline_ns, next_retry_ns;
    unsigned retry_ms;
    bool failed;
    struct agent_cell_mem mem;
    int64_t stop_sent_ms;
    uint32_t vanished_pid;
    bool restart_scheduled;
    unsigned restart_delay_ms;
};

static void add(struct want *w, enum agent_cell_act a)
{
    w->acts[w->n_acts++] = a;
}

static void cond(struct want *w, enum kk_state state, const char *reason, const char *message)
{
    w->state = state;
    w->reason = reason;
    snprintf(w->message, sizeof(w->message), "%s", message ? message : "");
}

/* A task that runs (observed: its pid is the observed one). */
static void want_running(const struct combo *k, const struct agent_cell_in *in, bool is_paused,
                         bool observed, struct want *w)
{
    if (observed) {
        if (w->mem.pid != in->pid || !w->mem.started_at) {
            w->mem.pid = in->pid;
            w->mem.started_at = NOW_NS;
        }
        w->pid = in->pid;
        w->started_at = w->mem.started_at;
    }
    if (k->root_down && !k->root) {
        cond(w, KK_STATE_STOPPING, "RootExited", "the root container exited");
        w->retry_ms = 1000;
    } else if (k->stopped) {
        if (!w->stop_sent_ms)
            w->stop_sent_ms = NOW_MS;
        bool late = k->stop_sent == S_OLD;
        w->signal = late ? SIGKILL : SIGTERM;
        if (is_paused)
            add(w, AGENT_CELL_RESUME_TO_KILL);
        add(w, AGENT_CELL_KILL);
        cond(w, KK_STATE_STOPPING, "StopRequested", NULL);
        w->deadline_ns = NOW_NS + (w->stop_sent_ms + TIMEOUT_S * 1000 - NOW_MS) * 1000000;
        w->retry_ms = late ? 1000 : TIMEOUT_S * 1000 + 100;
    } else if (k->paused) {
        if (!is_paused)
            add(w, AGENT_CELL_PAUSE);
        cond(w, KK_STATE_PAUSED, "PausedByUser", NULL);
    } else {
        if (is_paused)
            add(w, AGENT_CELL_RESUME);
        cond(w, KK_STATE_READY, NULL, NULL);
    }
}

static void want_start(const struct combo *k, const struct agent_cell_in *in, struct want *w)
{
    if (k->root_down && !k->root) {
        cond(w, KK_STATE_STOPPED, "RootExited", NULL);
    } else if (k->stopped) {
        cond(w, KK_STATE_STOPPED, "StoppedByUser", NULL);
    } else {
        add(w, AGENT_CELL_START_NEW);
        want_running(k, in, false, false, w);
    }
}

/* restart: the policy restarts; final: else, with state and reason. */
static bool policy_restarts(const struct combo *k, enum kk_state *state, const char **reason)
{
    bool failed = k->task == T_EXIT3;
    switch (k->policy) {
    case P_ALWAYS:
    case P_UNLESS_STOPPED:
        return true;
    case P_ON_FAILURE:
        if (failed && !k->at_limit)
            return true;
        *state = failed ? KK_STATE_FAILED : KK_STATE_STOPPED;
        *reason = !failed ? "Completed" : "RestartLimitReached";
        return false;
    default:
        *state = failed ? KK_STATE_FAILED : KK_STATE_STOPPED;
        *reason = failed ? "Error" : "Completed";
        return false;
    }
}

static void want_exited(const struct combo *k, const struct agent_cell_in *in, struct want *w)
{
    unsigned code = k->task == T_EXIT3 ? 3 : 0;
    w->exit_code = code;
    w->finished_at = EXITED_NS;
    w->started_at = in->mem.started_at;
    if (k->root_down && !k->root) {
        cond(w, KK_STATE_STOPPED, "RootExited", NULL);
        return;
    }
    if (k->stopped) {
        add(w, AGENT_CELL_DELETE_TASK);
        w->mem.finished_at = EXITED_NS;
        w->mem.pid = 0;
        cond(w, KK_STATE_STOPPED, "StoppedByUser", NULL);
        return;
    }
    bool oom = k->oom_event || k->oom_remembered;
    w->mem.oom = oom;
    const char *why = oom ? " (out of memory)" : "";
    enum kk_state state = 0;
    const char *reason = NULL;
    char msg[128];
    if (!policy_restarts(k, &state, &reason)) {
        snprintf(msg, sizeof(msg), "exited with code %u%s", code, why);
        cond(w, state, oom ? "OOMKilled" : reason, msg);
        return;
    }
    unsigned delay = k->at_limit ? 4000 : 1000; /* 1 s * 2^restarts */
    if (k->backoff == B_NONE) {
        w->mem.backoff_until_ms = NOW_MS + delay;
        w->restart_scheduled = true;
        w->restart_delay_ms = delay;
    }
    if (k->backoff != B_ELAPSED) {
        unsigned left = k->backoff == B_NONE ? delay : 500;
        snprintf(msg, sizeof(msg), "exited with code %u%s; restarting in %u ms", code, why, left);
        cond(w, KK_STATE_PENDING, "CrashLoopBackOff", msg);
        w->retry_ms = left;
        w->next_retry_ns = NOW_NS + (int64_t)left * 1000000;
        return;
    }
    w->mem.backoff_until_ms = 0;
    w->mem.oom = false;
    w->mem.restart_count++;
    add(w, AGENT_CELL_RECORD_RESTART);
    want_start(k, in, w);
}

static void expect(const struct combo *k, const struct agent_cell_in *in, struct want *w)
{
    memset(w, 0, sizeof(*w));
    w->exit_code = KK_UNSET;
    w->mem = in->mem;
    w->stop_sent_ms = in->stop_sent_ms;
    switch (k->task) {
    case T_ABSENT:
        if (k->stopped) {
            cond(w, KK_STATE_STOPPED, "StoppedByUser", NULL);
            return;
        }
        add(w, AGENT_CELL_CREATE);
        w->mem.restart_count = 0;
        w->mem.backoff_until_ms = 0;
        w->mem.pid = 0;
        cond(w, 0, NULL, NULL);
        return;
    case T_ERROR:
        cond(w, KK_STATE_UNKNOWN, "ContainerdError", "connection refused");
        w->failed = true;
        return;
    case T_NONE:
        if (in->mem.pid && !k->stopped) {
            add(w, AGENT_CELL_RECORD_RESTART);
            w->mem.restart_count++;
            w->finished_at = w->mem.finished_at = NOW_NS;
            w->vanished_pid = in->mem.pid;
            w->mem.pid = 0;
        }
        want_start(k, in, w);
        return;
    case T_CREATED:
        if (!k->stopped) {
            add(w, AGENT_CELL_START_CREATED);
            want_running(k, in, false, false, w);
        } else {
            want_running(k, in, false, true, w);
        }
        return;
    case T_RUNNING:
    case T_PAUSED:
        want_running(k, in, k->task == T_PAUSED, true, w);
        return;
    case T_EXIT0:
    case T_EXIT3:
        want_exited(k, in, w);
        return;
    case T_N:
        break;
    }
}

/* ---- comparing ---------------------------------------------------------- */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            kt_fail(__FILE__, __LINE__, "%s: %s", what, #cond);                                    \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

static bool streq_or_null(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool mem_eq(const struct agent_cell_mem *a, const struct agent_cell_mem *b)
{
    return a->restart_count == b->restart_count && a->backoff_until_ms == b->backoff_until_ms &&
           a->pid == b->pid && a->started_at == b->started_at && a->finished_at == b->finished_at &&
           a->oom == b->oom;
}

static bool matches(const char *what, const struct agent_cell_decision *d, const struct want *w)
{
    CHECK(d->n_acts == w->n_acts);
    for (size_t i = 0; i < w->n_acts; i++)
        CHECK(d->acts[i] == w->acts[i]);
    bool kills = false;
    for (size_t i = 0; i < d->n_acts; i++)
        kills = kills || d->acts[i] == AGENT_CELL_KILL;
    CHECK(!kills || d->signal == w->signal);
    bool creates = d->n_acts && d->acts[0] == AGENT_CELL_CREATE;
    if (!creates) {
        CHECK(d->state == w->state);
        CHECK(streq_or_null(d->reason, w->reason));
        const char *m = agent_cell_message(d);
        CHECK(streq_or_null(m, w->message[0] ? w->message : NULL));
    }
    CHECK(d->pid == w->pid);
    CHECK(d->exit_code == w->exit_code);
    CHECK(d->started_at == w->started_at);
    CHECK(d->finished_at == w->finished_at);
    CHECK(d->deadline_ns == w->deadline_ns);
    CHECK(d->next_retry_ns == w->next_retry_ns);
    CHECK(d->retry_ms == w->retry_ms);
    CHECK(d->failed == w->failed);
    CHECK(mem_eq(&d->mem, &w->mem));
    CHECK(d->stop_sent_ms == w->stop_sent_ms);
    CHECK(d->vanished_pid == w->vanished_pid);
    CHECK(d->restart_scheduled == w->restart_scheduled);
    CHECK(!w->restart_scheduled || d->restart_delay_ms == w->restart_delay_ms);
    return true;
}

static bool same_decision(const struct agent_cell_decision *a, const struct agent_cell_decision *b)
{
    if (a->n_acts != b->n_acts)
        return false;
    for (size_t i = 0; i < a->n_acts; i++)
        if (a->acts[i] != b->acts[i])
            return false;
    return a->signal == b->signal && a->state == b->state && streq_or_null(a->reason, b->reason) &&
           streq_or_null(agent_cell_message(a), agent_cell_message(b)) && a->pid == b->pid &&
           a->exit_code == b->exit_code && a->started_at == b->started_at &&
           a->finished_at == b->finished_at && a->deadline_ns == b->deadline_ns &&
           a->next_retry_ns == b->next_retry_ns && a->retry_ms == b->retry_ms &&
           a->failed == b->failed && mem_eq(&a->mem, &b->mem) &&
           a->stop_sent_ms == b->stop_sent_ms && a->vanished_pid == b->vanished_pid &&
           a->restart_scheduled == b->restart_scheduled &&
           a->restart_delay_ms == b->restart_delay_ms;
}

/* What holds whatever the combination. */
static bool invariants(const char *what, const struct combo *k, const struct agent_cell_in *in,
                       const struct agent_cell_decision *d)
{
    bool down = k->root_down && !k->root;
    for (size_t i = 0; i < d->n_acts; i++) {
        enum agent_cell_act a = d->acts[i];
        /* Only a missing container is created, and alone. */
        CHECK(a != AGENT_CELL_CREATE || (!in->exists && d->n_acts == 1));
        /* A stop is sticky: nothing starts. */
        CHECK(!k->stopped || (a != AGENT_CELL_START_NEW && a != AGENT_CELL_START_CREATED));
        /* Only a stop kills. */
        CHECK(a != AGENT_CELL_KILL || k->stopped);
        /* A container whose root is down starts nothing new. */
        CHECK(!down || a != AGENT_CELL_START_NEW);
    }
    bool records = false;
    for (size_t i = 0; i < d->n_acts; i++)
        records = records || d->acts[i] == AGENT_CELL_RECORD_RESTART;
    bool creates = d->n_acts && d->acts[0] == AGENT_CELL_CREATE;
    if (!creates)
        CHECK(d->mem.restart_count == in->mem.restart_count + (records ? 1 : 0));
    /* Only a containerd error takes the queue's backoff. */
    CHECK(d->failed == (in->exists && in->task == AGENT_CELL_TASK_ERROR));
    /* A retry is asked for exactly while waiting: a backoff or a stop. */
    CHECK((d->retry_ms > 0) ==
          (!creates && (d->state == KK_STATE_STOPPING ||
                        (d->reason && strcmp(d->reason, "CrashLoopBackOff") == 0))));
    /* A deadline exactly while a stop's signals go out; a next retry
     * exactly while backing off. */
    CHECK((d->deadline_ns != 0) ==
          (!creates && d->reason && strcmp(d->reason, "StopRequested") == 0));
    CHECK((d->next_retry_ns != 0) ==
          (!creates && d->reason && strcmp(d->reason, "CrashLoopBackOff") == 0));
    /* The OOM record is looked at only when agent_cell_needs_oom says so. */
    if (!agent_cell_needs_oom(in)) {
        struct agent_cell_in flipped = *in;
        flipped.oom_event = !in->oom_event;
        struct agent_cell_decision d2;
        agent_cell_decide(&flipped, &d2);
        CHECK(same_decision(&d2, d));
    }
    return true;
}

static bool check_combo(const struct combo *k, size_t *n)
{
    struct kk_container spec;
    struct agent_cell_in in;
    struct agent_cell_decision d;
    struct want w;
    char what[512];
    spec_of(k, &spec);
    input_of(k, &spec, &in);
    memset(&d, 0x5a, sizeof(d)); /* decide sets every field */
    agent_cell_decide(&in, &d);
    expect(k, &in, &w);
    describe(k, what, sizeof(what));
    (*n)++;
    /* The OOM record is for the restart policy only. */
    bool exited = k->task == T_EXIT0 || k->task == T_EXIT3;
    bool needs_oom = exited && !(k->root_down && !k->root) && !k->stopped;
    if (agent_cell_needs_oom(&in) != needs_oom) {
        kt_fail(__FILE__, __LINE__, "%s: agent_cell_needs_oom", what);
        return false;
    }
    return matches(what, &d, &w) && invariants(what, k, &in, &d);
}

KT_CASE(every_combination_follows_the_table)
{
    size_t n = 0;
    struct combo k = {0};
    for (k.task = 0; k.task < T_N; k.task++)
        for (int ctl = 0; ctl < 4; ctl++)
            for (k.policy = 0; k.policy < P_N; k.policy++)
                for (k.backoff = 0; k.backoff < B_N; k.backoff++)
                    for (int bits = 0; bits < 64; bits++)
                        for (k.stop_sent = 0; k.stop_sent < S_N; k.stop_sent++)
                            for (k.mempid = 0; k.mempid < M_N; k.mempid++) {
                                k.stopped = ctl & 1;
                                k.paused = ctl & 2;
                                k.at_limit = bits & 1;
                                k.root = bits & 2;
                                k.root_down = bits & 4;
                                k.oom_event = bits & 8;
                                k.oom_remembered = bits & 16;
                                k.started_at_known = bits & 32;
                                if (!check_combo(&k, &n))
                                    return;
                            }
    KT_ASSERT_EQ(n, (size_t)T_N * 4 * P_N * B_N * 64 * S_N * M_N);
}

/* ---- literal cases, one per branch -------------------------------------- */

static struct kk_container always_spec = {.restart_policy = KK_RESTART_ALWAYS};

static struct agent_cell_in base(enum agent_cell_task task)
{
    return (struct agent_cell_in){
            .exists = true,
            .task = task,
            .pid = 100,
            .spec = &always_spec,
            .stop_timeout_s = 5,
            .now_ms = 50000,
            .now_ns = 9000,
            .mem = {.pid = 100, .started_at = 7000},
    };
}

KT_CASE(absent_is_created_with_fresh_counters)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_NONE);
    in.exists = false;
    in.mem = (struct agent_cell_mem){.restart_count = 4, .backoff_until_ms = 9, .pid = 3};
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_CREATE);
    KT_ASSERT_EQ(d.mem.restart_count, 0);
    KT_ASSERT_EQ(d.mem.backoff_until_ms, 0);
    KT_ASSERT_EQ(d.mem.pid, 0);
    KT_ASSERT(!agent_cell_needs_oom(&in));
    in.stopped = true;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPED);
    KT_ASSERT_STREQ(d.reason, "StoppedByUser");
    KT_ASSERT_EQ(d.mem.restart_count, 4);
}

KT_CASE(containerd_error_is_unknown_and_retried)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_ERROR);
    in.error = "transport is closing";
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_UNKNOWN);
    KT_ASSERT_STREQ(d.reason, "ContainerdError");
    KT_ASSERT(agent_cell_message(&d) == in.error);
    KT_ASSERT(d.failed);
    KT_ASSERT_EQ(d.retry_ms, 0);
}

KT_CASE(vanished_task_counts_a_restart_and_starts_again)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_NONE);
    in.mem.restart_count = 2;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 2);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_RECORD_RESTART);
    KT_ASSERT_EQ(d.acts[1], AGENT_CELL_START_NEW);
    KT_ASSERT_EQ(d.vanished_pid, 100);
    KT_ASSERT_EQ(d.mem.pid, 0);
    KT_ASSERT_EQ(d.mem.restart_count, 3);
    KT_ASSERT_EQ(d.finished_at, 9000);
    KT_ASSERT_EQ(d.mem.finished_at, 9000);
    KT_ASSERT_EQ(d.state, KK_STATE_READY);
    KT_ASSERT(d.reason == NULL && agent_cell_message(&d) == NULL);
    /* No pid remembered (the agent deleted it, or it never ran): no restart. */
    in.mem.pid = 0;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_START_NEW);
    KT_ASSERT_EQ(d.vanished_pid, 0);
    KT_ASSERT_EQ(d.mem.restart_count, 2);
    /* Vanished under a root that is down: counted, not started. */
    in.mem.pid = 100;
    in.root_down = true;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_RECORD_RESTART);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPED);
    KT_ASSERT_STREQ(d.reason, "RootExited");
    /* The root itself does not follow root_down. */
    in.root = true;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 2);
    KT_ASSERT_EQ(d.acts[1], AGENT_CELL_START_NEW);
}

KT_CASE(no_task_and_stopped_stays_stopped)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_NONE);
    in.stopped = true;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_STREQ(d.reason, "StoppedByUser");
    KT_ASSERT_EQ(d.mem.restart_count, 0);
    KT_ASSERT_EQ(d.mem.pid, 100); /* kept: a stop is not a vanish */
}

KT_CASE(created_task_is_started_then_paused)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_CREATED);
    in.paused = true;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 2);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_START_CREATED);
    KT_ASSERT_EQ(d.acts[1], AGENT_CELL_PAUSE);
    KT_ASSERT_EQ(d.state, KK_STATE_PAUSED);
    KT_ASSERT_STREQ(d.reason, "PausedByUser");
    /* The pid comes from the start, not from the decision. */
    KT_ASSERT_EQ(d.pid, 0);
    KT_ASSERT_EQ(d.started_at, 0);
    /* Created and stopped: killed like a running one, never started. */
    in.stopped = true;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_KILL);
    KT_ASSERT_EQ(d.signal, SIGTERM);
    KT_ASSERT_EQ(d.pid, 100);
}

KT_CASE(running_task_keeps_or_restarts_its_clock)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_RUNNING);
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_READY);
    KT_ASSERT_EQ(d.pid, 100);
    KT_ASSERT_EQ(d.started_at, 7000); /* same pid: its start time stays */
    in.pid = 101;                     /* another task */
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.mem.pid, 101);
    KT_ASSERT_EQ(d.started_at, 9000);
    KT_ASSERT_EQ(d.mem.started_at, 9000);
    in.pid = 100;
    in.mem.started_at = 0; /* unknown start time (status.yaml had none) */
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.started_at, 9000);
}

KT_CASE(note_pid)
{
    struct agent_cell_mem m = {.pid = 5, .started_at = 10};
    agent_cell_note_pid(&m, 5, 20);
    KT_ASSERT_EQ(m.started_at, 10);
    agent_cell_note_pid(&m, 6, 20);
    KT_ASSERT_EQ(m.pid, 6);
    KT_ASSERT_EQ(m.started_at, 20);
    m.started_at = 0;
    agent_cell_note_pid(&m, 6, 30);
    KT_ASSERT_EQ(m.started_at, 30);
}

KT_CASE(pause_and_resume_follow_the_ctl)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_RUNNING);
    in.paused = true;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_PAUSE);
    KT_ASSERT_EQ(d.state, KK_STATE_PAUSED);
    in.task = AGENT_CELL_TASK_PAUSED; /* already paused: nothing to do */
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_PAUSED);
    KT_ASSERT_STREQ(d.reason, "PausedByUser");
    in.paused = false;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_RESUME);
    KT_ASSERT_EQ(d.state, KK_STATE_READY);
    KT_ASSERT(d.reason == NULL);
}

KT_CASE(stop_sends_term_then_kill_after_the_timeout)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_PAUSED);
    in.stopped = true;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 2);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_RESUME_TO_KILL);
    KT_ASSERT_EQ(d.acts[1], AGENT_CELL_KILL);
    KT_ASSERT_EQ(d.signal, SIGTERM);
    KT_ASSERT_EQ(d.stop_sent_ms, 50000);
    KT_ASSERT_EQ(d.retry_ms, 5100);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPING);
    KT_ASSERT_STREQ(d.reason, "StopRequested");
    KT_ASSERT_EQ(d.deadline_ns, 9000 + 5000 * INT64_C(1000000)); /* now + the timeout */
    in.task = AGENT_CELL_TASK_RUNNING;
    in.stop_sent_ms = 50000 - 4999; /* just before the timeout: TERM again */
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.signal, SIGTERM);
    KT_ASSERT_EQ(d.stop_sent_ms, 50000 - 4999);
    KT_ASSERT_EQ(d.deadline_ns, 9000 + INT64_C(1000000)); /* the deadline does not move */
    in.stop_sent_ms = 50000 - 5000;                       /* at the timeout: KILL */
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.signal, SIGKILL);
    KT_ASSERT_EQ(d.retry_ms, 1000);
    KT_ASSERT_EQ(d.stop_sent_ms, 50000 - 5000);
}

KT_CASE(root_down_stops_the_others)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_RUNNING);
    in.root_down = true;
    in.stopped = true; /* root_down wins over the stop's signals */
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPING);
    KT_ASSERT_STREQ(d.reason, "RootExited");
    KT_ASSERT_STREQ(agent_cell_message(&d), "the root container exited");
    KT_ASSERT_EQ(d.retry_ms, 1000);
    in.task = AGENT_CELL_TASK_STOPPED;
    in.exit_code = 137;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPED);
    KT_ASSERT_STREQ(d.reason, "RootExited");
    KT_ASSERT_EQ(d.exit_code, 137);
    KT_ASSERT(!agent_cell_needs_oom(&in));
}

KT_CASE(exited_and_stopped_is_deleted)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_STOPPED);
    in.stopped = true;
    in.exited_at_ns = 0; /* unknown: now */
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 1);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_DELETE_TASK);
    KT_ASSERT_EQ(d.finished_at, 9000);
    KT_ASSERT_EQ(d.mem.finished_at, 9000);
    KT_ASSERT_EQ(d.mem.pid, 0);
    KT_ASSERT_EQ(d.started_at, 7000);
    KT_ASSERT_EQ(d.exit_code, 0);
    KT_ASSERT_STREQ(d.reason, "StoppedByUser");
    KT_ASSERT(!agent_cell_needs_oom(&in));
}

KT_CASE(policy_no_reports_the_exit_and_oom)
{
    struct kk_container spec = {.restart_policy = KK_RESTART_NO};
    struct agent_cell_in in = base(AGENT_CELL_TASK_STOPPED);
    in.spec = &spec;
    in.exit_code = 1;
    in.exited_at_ns = 8000;
    struct agent_cell_decision d;
    KT_ASSERT(agent_cell_needs_oom(&in));
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_FAILED);
    KT_ASSERT_STREQ(d.reason, "Error");
    KT_ASSERT_STREQ(agent_cell_message(&d), "exited with code 1");
    KT_ASSERT_EQ(d.finished_at, 8000);
    in.oom_event = true;
    agent_cell_decide(&in, &d);
    KT_ASSERT_STREQ(d.reason, "OOMKilled");
    KT_ASSERT_STREQ(agent_cell_message(&d), "exited with code 1 (out of memory)");
    KT_ASSERT(d.mem.oom);
    in.exit_code = 0;
    in.oom_event = false;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.state, KK_STATE_STOPPED);
    KT_ASSERT_STREQ(d.reason, "Completed");
}

KT_CASE(restart_waits_out_its_backoff)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_STOPPED);
    in.exit_code = 2;
    in.mem.restart_count = 3;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT(d.restart_scheduled);
    KT_ASSERT_EQ(d.restart_delay_ms, 8000);
    KT_ASSERT_EQ(d.mem.backoff_until_ms, 58000);
    KT_ASSERT_EQ(d.state, KK_STATE_PENDING);
    KT_ASSERT_STREQ(d.reason, "CrashLoopBackOff");
    KT_ASSERT_STREQ(agent_cell_message(&d), "exited with code 2; restarting in 8000 ms");
    KT_ASSERT_EQ(d.retry_ms, 8000);
    KT_ASSERT_EQ(d.next_retry_ns, 9000 + 8000 * INT64_C(1000000));
    /* Later, still waiting: the schedule is not moved. */
    in.mem = d.mem;
    in.now_ms = 57999;
    in.oom_event = true;
    agent_cell_decide(&in, &d);
    KT_ASSERT(!d.restart_scheduled);
    KT_ASSERT_EQ(d.retry_ms, 1);
    KT_ASSERT_STREQ(agent_cell_message(&d),
                    "exited with code 2 (out of memory); restarting in 1 ms");
    /* Due: restarted, counted, the OOM forgotten. */
    in.mem = d.mem;
    in.now_ms = 58000;
    in.oom_event = false;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 2);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_RECORD_RESTART);
    KT_ASSERT_EQ(d.acts[1], AGENT_CELL_START_NEW);
    KT_ASSERT_EQ(d.vanished_pid, 0);
    KT_ASSERT_EQ(d.mem.restart_count, 4);
    KT_ASSERT_EQ(d.mem.backoff_until_ms, 0);
    KT_ASSERT(!d.mem.oom);
    KT_ASSERT_EQ(d.exit_code, 2); /* until the start succeeds */
    KT_ASSERT_EQ(d.retry_ms, 0);
}

KT_CASE(on_failure_stops_at_its_limit)
{
    struct kk_container spec = {.restart_policy = KK_RESTART_ON_FAILURE, .restart_max_retries = 1};
    struct agent_cell_in in = base(AGENT_CELL_TASK_STOPPED);
    in.spec = &spec;
    in.exit_code = 1;
    in.mem.restart_count = 1;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 0);
    KT_ASSERT_EQ(d.state, KK_STATE_FAILED);
    KT_ASSERT_STREQ(d.reason, "RestartLimitReached");
    KT_ASSERT_STREQ(agent_cell_message(&d), "exited with code 1");
    KT_ASSERT_EQ(d.retry_ms, 0);
}

KT_CASE(restart_of_a_paused_cell_starts_then_pauses)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_STOPPED);
    in.paused = true;
    in.mem.backoff_until_ms = 1;
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.n_acts, 3);
    KT_ASSERT_EQ(d.acts[0], AGENT_CELL_RECORD_RESTART);
    KT_ASSERT_EQ(d.acts[1], AGENT_CELL_START_NEW);
    KT_ASSERT_EQ(d.acts[2], AGENT_CELL_PAUSE);
    KT_ASSERT_EQ(d.state, KK_STATE_PAUSED);
}

KT_CASE(backoff_wait_never_asks_for_zero_ms)
{
    struct agent_cell_in in = base(AGENT_CELL_TASK_STOPPED);
    in.mem.backoff_until_ms = in.now_ms + (INT64_C(1) << 32); /* truncates to 0 ms */
    struct agent_cell_decision d;
    agent_cell_decide(&in, &d);
    KT_ASSERT_EQ(d.state, KK_STATE_PENDING);
    KT_ASSERT_EQ(d.retry_ms, 1);
}
