/* What to do with one container of a cell (see cell-decide.h). */
#include "agent/cell-decide.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/restart.h"

#define ROOT_DOWN_RETRY_MS 1000
#define KILL_RETRY_MS      1000

/* No path of the table decides more than AGENT_CELL_ACTS_MAX actions (the
 * longest is RECORD_RESTART, START_NEW, PAUSE); the table's test walks
 * every path. */
static void push(struct agent_cell_decision *d, enum agent_cell_act act)
{
    d->acts[d->n_acts++] = act;
}

static void set(struct agent_cell_decision *d, enum kk_state state, const char *reason,
                const char *message)
{
    d->state = state;
    d->reason = reason;
    d->message = message;
}

/* A non-root container whose root is down for good stays down. */
static bool follows_root_down(const struct agent_cell_in *in)
{
    return in->root_down && !in->root;
}

void agent_cell_note_pid(struct agent_cell_mem *m, uint32_t pid, int64_t now_ns)
{
    if (m->pid != pid || !m->started_at) {
        m->pid = pid;
        m->started_at = now_ns;
    }
}

/* The sticky stop: SIGTERM, then SIGKILL once the stop timeout passed. */
static void stop(const struct agent_cell_in *in, enum agent_cell_task task,
                 struct agent_cell_decision *d)
{
    int64_t timeout_ms = (int64_t)in->stop_timeout_s * 1000;
    d->signal = SIGTERM;
    if (!d->stop_sent_ms)
        d->stop_sent_ms = in->now_ms;
    else if (in->now_ms - d->stop_sent_ms >= timeout_ms)
        d->signal = SIGKILL;
    if (task == AGENT_CELL_TASK_PAUSED)
        push(d, AGENT_CELL_RESUME_TO_KILL);
    push(d, AGENT_CELL_KILL);
    set(d, KK_STATE_STOPPING, "StopRequested", NULL);
    /* Wall time of the SIGKILL, for status readers (kuke stop --wait). */
    d->deadline_ns = in->now_ns + (d->stop_sent_ms + timeout_ms - in->now_ms) * 1000000;
    d->retry_ms = d->signal == SIGKILL ? KILL_RETRY_MS : in->stop_timeout_s * 1000 + 100;
}

/* A task exists and runs, is paused, or was created: observed says whether
 * its pid is the one observed (else a start action gives it). */
static void runs(const struct agent_cell_in *in, enum agent_cell_task task, bool observed,
                 struct agent_cell_decision *d)
{
    if (observed) {
        agent_cell_note_pid(&d->mem, in->pid, in->now_ns);
        d->pid = in->pid;
        d->started_at = d->mem.started_at;
    }
    if (follows_root_down(in)) {
        set(d, KK_STATE_STOPPING, "RootExited", "the root container exited");
        d->retry_ms = ROOT_DOWN_RETRY_MS;
        return;
    }
    if (in->stopped) {
        stop(in, task, d);
        return;
    }
    bool is_paused = task == AGENT_CELL_TASK_PAUSED;
    if (in->paused && !is_paused)
        push(d, AGENT_CELL_PAUSE);
    else if (!in->paused && is_paused)
        push(d, AGENT_CELL_RESUME);
    if (in->paused)
        set(d, KK_STATE_PAUSED, "PausedByUser", NULL);
    else
        set(d, KK_STATE_READY, NULL, NULL);
}

/* No task (any more): a new one starts unless the container is to stay down. */
static void start_new(const struct agent_cell_in *in, struct agent_cell_decision *d)
{
    if (follows_root_down(in)) {
        set(d, KK_STATE_STOPPED, "RootExited", NULL);
        return;
    }
    if (in->stopped) {
        set(d, KK_STATE_STOPPED, "StoppedByUser", NULL);
        return;
    }
    push(d, AGENT_CELL_START_NEW);
    runs(in, AGENT_CELL_TASK_RUNNING, false, d);
}

/* No task, and the agent remembers a pid it did not delete: containerd
 * died with its shims. What follows is a restart. */
static void no_task(const struct agent_cell_in *in, struct agent_cell_decision *d)
{
    if (d->mem.pid && !in->stopped) {
        d->mem.restart_count++;
        d->finished_at = d->mem.finished_at = in->now_ns;
        d->vanished_pid = d->mem.pid;
        d->mem.pid = 0;
        push(d, AGENT_CELL_RECORD_RESTART);
    }
    start_new(in, d);
}

/* The restart policy on an exited task the user did not stop. */
static void apply_policy(const struct agent_cell_in *in, struct agent_cell_decision *d)
{
    if (in->oom_event)
        d->mem.oom = true;
    const char *why = d->mem.oom ? " (out of memory)" : "";
    struct agent_restart_decision r;
    agent_restart_decide(in->spec, in->exit_code, d->mem.restart_count, &r);
    if (!r.restart) {
        snprintf(d->text, sizeof(d->text), "exited with code %u%s", in->exit_code, why);
        set(d, r.state, d->mem.oom ? "OOMKilled" : r.reason, NULL);
        return;
    }
    if (!d->mem.backoff_until_ms) {
        d->mem.backoff_until_ms = in->now_ms + r.delay_ms;
        d->restart_scheduled = true;
        d->restart_delay_ms = r.delay_ms;
    }
    if (in->now_ms < d->mem.backoff_until_ms) {
        unsigned left = (unsigned)(d->mem.backoff_until_ms - in->now_ms);
        snprintf(d->text, sizeof(d->text), "exited with code %u%s; restarting in %u ms",
                 in->exit_code, why, left);
        set(d, KK_STATE_PENDING, "CrashLoopBackOff", NULL);
        d->retry_ms = left ? left : 1; /* 0: a wait of 2^32 ms, truncated */
        d->next_retry_ns = in->now_ns + (int64_t)d->retry_ms * 1000000;
        return;
    }
    d->mem.backoff_until_ms = 0;
    d->mem.oom = false;
    d->mem.restart_count++;
    push(d, AGENT_CELL_RECORD_RESTART);
    start_new(in, d);
}

bool agent_cell_needs_oom(const struct agent_cell_in *in)
{
    return in->exists && in->task == AGENT_CELL_TASK_STOPPED && !follows_root_down(in) &&
           !in->stopped;
}

static void exited(const struct agent_cell_in *in, struct agent_cell_decision *d)
{
    d->exit_code = in->exit_code;
    d->finished_at = in->exited_at_ns ? in->exited_at_ns : in->now_ns;
    d->started_at = d->mem.started_at;
    if (follows_root_down(in)) {
        set(d, KK_STATE_STOPPED, "RootExited", NULL);
        return;
    }
    if (in->stopped) {
        push(d, AGENT_CELL_DELETE_TASK);
        d->mem.finished_at = d->finished_at;
        d->mem.pid = 0; /* deleted on purpose: a later start is no restart */
        set(d, KK_STATE_STOPPED, "StoppedByUser", NULL);
        return;
    }
    apply_policy(in, d);
}

/* The container is missing: create it (a new container: no task of it has
 * run, no restart of it was made) unless the user stopped the cell. */
static void absent(const struct agent_cell_in *in, struct agent_cell_decision *d)
{
    if (in->stopped) {
        set(d, KK_STATE_STOPPED, "StoppedByUser", NULL);
        return;
    }
    push(d, AGENT_CELL_CREATE);
    d->mem.restart_count = 0;
    d->mem.backoff_until_ms = 0;
    d->mem.pid = 0;
}

void agent_cell_decide(const struct agent_cell_in *in, struct agent_cell_decision *out)
{
    *out = (struct agent_cell_decision){
            .exit_code = KK_UNSET,
            .mem = in->mem,
            .stop_sent_ms = in->stop_sent_ms,
    };
    if (!in->exists) {
        absent(in, out);
        return;
    }
    switch (in->task) {
    case AGENT_CELL_TASK_ERROR:
        set(out, KK_STATE_UNKNOWN, "ContainerdError", in->error);
        out->failed = true;
        break;
    case AGENT_CELL_TASK_NONE:
        no_task(in, out);
        break;
    case AGENT_CELL_TASK_CREATED:
        /* Created but never started (an agent killed in between). */
        if (!in->stopped) {
            push(out, AGENT_CELL_START_CREATED);
            runs(in, AGENT_CELL_TASK_RUNNING, false, out);
        } else {
            runs(in, AGENT_CELL_TASK_CREATED, true, out);
        }
        break;
    case AGENT_CELL_TASK_STOPPED:
        exited(in, out);
        break;
    case AGENT_CELL_TASK_RUNNING:
    case AGENT_CELL_TASK_PAUSED:
    default:
        runs(in, in->task, true, out);
        break;
    }
}

const char *agent_cell_message(const struct agent_cell_decision *d)
{
    return d->text[0] ? d->text : d->message;
}

bool agent_cell_error_transient(int code)
{
    return code == KK_E_UNAVAILABLE || code == KK_E_DEADLINE || code == KK_E_ABORTED;
}

bool agent_cell_hold_error(bool prev_ready, int code, unsigned tries, int64_t since_ms,
                           int64_t now_ms)
{
    return prev_ready && agent_cell_error_transient(code) && tries < AGENT_CELL_HOLD_TRIES &&
           now_ms - since_ms < AGENT_CELL_HOLD_MS;
}

char agent_cell_stat_state(const char *buf, size_t len)
{
    const char *close = memrchr(buf, ')', len);
    if (!close || (size_t)(close - buf) + 3 > len || close[1] != ' ')
        return 0;
    char state = close[2];
    return (state >= 'A' && state <= 'Z') || (state >= 'a' && state <= 'z') ? state : 0;
}
