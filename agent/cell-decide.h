/* What to do with one container of a cell, decided apart from doing it.
 *
 * agent/cell.c observes containerd (does the container exist with the
 * spec's hash, what is its task doing), adds what the agent remembers of
 * the container and of its cell (restart count, backoff, the pid it saw,
 * the sticky ctl stop/pause) and what the spec asks (restart policy, root
 * or not, whether the root is down for good), and asks agent_cell_decide.
 * The answer is a short list of containerd actions, the condition to
 * report when they all succeed, the memory to keep and how soon to look
 * again. cell.c performs the actions in order; when one of them fails it
 * reports that failure instead of the decided condition and stops there.
 *
 * Pure, like agent/restart.h: no I/O, no clock (the caller passes the
 * time), no allocation, so every combination is tested without containerd
 * (tests/unit/test-cell-decide.c).
 *
 * A missing container takes two decisions in one reconcile: the first is
 * AGENT_CELL_CREATE alone; once it is created its task is observed (a new
 * container has none, but containerd is asked, not assumed) and decided on
 * again with `exists` set.
 *
 * The table (root_down applies to non-root containers only; "stopped" and
 * "paused" are the cell's sticky ctl requests):
 *
 *   task      root_down   stopped      paused       actions, condition
 *   absent    -           yes          -            Stopped StoppedByUser
 *   absent    -           no           -            CREATE, then decide again
 *   error     -           -            -            Unknown ContainerdError
 *   none      yes         -            -            Stopped RootExited
 *   none      no          yes          -            Stopped StoppedByUser
 *   none      no          no           -            START_NEW, then as running
 *   created   -           no           -            START_CREATED, then as running
 *   created   -           yes          -            as running
 *   stopped   yes         -            -            Stopped RootExited
 *   stopped   no          yes          -            DELETE_TASK, Stopped StoppedByUser
 *   stopped   no          no           -            the restart policy: final
 *                                                   state, or Pending
 *                                                   CrashLoopBackOff (nextRetryAt)
 *                                                   until the backoff ends, then
 *                                                   RECORD_RESTART, START_NEW
 *   running   yes         -            -            Stopping RootExited (look again
 *                                                   in 1 s)
 *   running   no          yes          -            [RESUME_TO_KILL,] KILL TERM, KILL
 *                                                   after the stop timeout; Stopping
 *                                                   StopRequested (deadline: when
 *                                                   the KILL goes out)
 *   running   no          no           yes          PAUSE if not paused; Paused
 *                                                   PausedByUser
 *   running   no          no           no           RESUME if paused; Ready
 *
 * A task that is gone while the agent remembers its pid (and no stop was
 * asked) vanished with containerd's shims: RECORD_RESTART counts it.
 */
#ifndef KUKEON_AGENT_CELL_DECIDE_H
#define KUKEON_AGENT_CELL_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsapi/model.h"
#include "fsapi/status.h"

/* A container's task as containerd reports it. */
enum agent_cell_task {
    AGENT_CELL_TASK_NONE,    /* the container has no task */
    AGENT_CELL_TASK_CREATED, /* created, never started */
    AGENT_CELL_TASK_RUNNING, /* running, or any state neither paused nor exited */
    AGENT_CELL_TASK_PAUSED,
    AGENT_CELL_TASK_STOPPED, /* exited: exit_code, exited_at_ns */
    AGENT_CELL_TASK_ERROR,   /* containerd could not tell: error */
};

/* What the agent remembers of one container between reconciles. */
struct agent_cell_mem {
    uint32_t restart_count;
    int64_t backoff_until_ms; /* monotonic ms; 0: no restart scheduled */
    uint32_t pid;             /* of the task last seen or started; 0: none */
    int64_t started_at;       /* wall ns: when pid was first seen */
    int64_t finished_at;      /* wall ns */
    bool oom;                 /* the current task was killed for memory */
};

struct agent_cell_in {
    /* Observed. */
    bool exists;               /* the container exists with the spec's hash */
    enum agent_cell_task task; /* when exists */
    uint32_t pid;              /* CREATED, RUNNING, PAUSED */
    uint32_t exit_code;        /* STOPPED */
    int64_t exited_at_ns;      /* STOPPED; 0: unknown */
    const char *error;         /* ERROR: containerd's message (borrowed) */
    bool oom_event;            /* containerd reported an OOM kill; only looked at
                                * when agent_cell_needs_oom says so */
    /* Remembered. */
    struct agent_cell_mem mem;
    int64_t stop_sent_ms; /* the cell's: when SIGTERM went out; 0: not yet */
    /* Asked for. */
    const struct kk_container *spec; /* its restart policy (agent/restart.h) */
    bool stopped, paused;            /* the cell's sticky ctl requests */
    bool root;                       /* the cell's root container */
    bool root_down;                  /* the root exited for good */
    unsigned stop_timeout_s;         /* SIGTERM to SIGKILL */
    /* The caller's clocks, read once per decision. */
    int64_t now_ms; /* monotonic */
    int64_t now_ns; /* wall */
};

enum agent_cell_act {
    AGENT_CELL_CREATE,         /* create the container (always alone) */
    AGENT_CELL_START_CREATED,  /* start the task that was created but not started */
    AGENT_CELL_DELETE_TASK,    /* delete the exited task; failure ignored */
    AGENT_CELL_RECORD_RESTART, /* count a restart (metrics); a root's others follow */
    AGENT_CELL_START_NEW,      /* create (replacing a stale one) and start a task */
    AGENT_CELL_RESUME_TO_KILL, /* resume so that a kill lands; failure ignored */
    AGENT_CELL_KILL,           /* signal all of the task's processes; failure ignored */
    AGENT_CELL_PAUSE,
    AGENT_CELL_RESUME,
};

#define AGENT_CELL_ACTS_MAX 4
#define AGENT_CELL_TEXT_MAX 96

struct agent_cell_decision {
    enum agent_cell_act acts[AGENT_CELL_ACTS_MAX]; /* in order */
    size_t n_acts;
    int signal; /* AGENT_CELL_KILL */

    /* The condition once every action succeeded; read the message with
     * agent_cell_message. */
    enum kk_state state;
    const char *reason;  /* static; NULL: none */
    const char *message; /* static or in->error; used when text is empty */
    char text[AGENT_CELL_TEXT_MAX];

    /* The status entry's fields as far as the decision knows them. A start
     * action that succeeds sets pid and startedAt from the task it started
     * (agent_cell_note_pid); START_NEW also clears exitCode and finishedAt. */
    uint32_t pid;
    int64_t exit_code; /* KK_UNSET: has not exited */
    int64_t started_at, finished_at;
    int64_t deadline_ns;   /* Stopping StopRequested: wall time of the SIGKILL */
    int64_t next_retry_ns; /* CrashLoopBackOff: wall time of the restart */

    /* What follows. */
    unsigned retry_ms; /* > 0: reconcile again within that */
    bool failed;       /* reconcile again with the queue's backoff */

    /* The memory to keep, whatever the actions' outcome, except after a
     * failed CREATE (the memory then stays as it was). */
    struct agent_cell_mem mem;
    int64_t stop_sent_ms;

    /* For the log. */
    uint32_t vanished_pid;  /* RECORD_RESTART of a task that vanished */
    bool restart_scheduled; /* a restart was scheduled in restart_delay_ms */
    unsigned restart_delay_ms;
};

/* Whether the decision on in looks at in->oom_event: the task exited and
 * the restart policy applies. The caller consumes containerd's OOM record
 * only then, so an OOM kill of one process of a task that goes on running
 * is reported when the task itself exits. */
bool agent_cell_needs_oom(const struct agent_cell_in *in);

/* Decides what to do with the container observed in in. Never fails. */
void agent_cell_decide(const struct agent_cell_in *in, struct agent_cell_decision *out);

/* The message of the decided condition, or NULL. Points into d or at
 * static or borrowed text: valid as long as d and the input are. */
const char *agent_cell_message(const struct agent_cell_decision *d);

/* Records that the task with pid runs, as of now_ns: a pid the memory does
 * not hold (or one without a start time) starts the clock again. */
void agent_cell_note_pid(struct agent_cell_mem *m, uint32_t pid, int64_t now_ns);

/* ---- a transient containerd failure of a Ready cell (kukeon issue 11) ---
 *
 * containerd restarting, or a stream it resets, fails a call or two; the
 * cell's tasks run on meanwhile. A cell whose status says Ready keeps it
 * while the failure is transient and young: the reconcile is tried again
 * in AGENT_CELL_HOLD_RETRY_MS without writing anything. The failure is
 * reported (Pending ContainerdError) at the AGENT_CELL_HOLD_TRIES-th
 * consecutive failure or once it has lasted AGENT_CELL_HOLD_MS, whichever
 * comes first; at once when the cell was not Ready or the failure is not
 * transient.
 */
#define AGENT_CELL_HOLD_TRIES    3
#define AGENT_CELL_HOLD_MS       5000
#define AGENT_CELL_HOLD_RETRY_MS 200

/* Whether an error code of a containerd call says "try again": the server
 * was unreachable or ended the call without an answer (KK_E_UNAVAILABLE),
 * the deadline passed (KK_E_DEADLINE), or it aborted (KK_E_ABORTED). */
bool agent_cell_error_transient(int code);

/* Whether to hold back the failure of this reconcile: prev_ready, the
 * status last written said Ready; code, the failed call's kk_code; tries,
 * the consecutive failed reconciles counting this one (>= 1); since_ms,
 * when the first of them failed, and now_ms (monotonic ms). */
bool agent_cell_hold_error(bool prev_ready, int code, unsigned tries, int64_t since_ms,
                           int64_t now_ms);

/* The state letter of a /proc/<pid>/stat line ("R", "S", "T" stopped, "t"
 * traced, ...): the first field after the last ')' (the command name may
 * hold spaces and parentheses). 0 when buf is not such a line. */
char agent_cell_stat_state(const char *buf, size_t len);

#endif
