/* The Cell reconciler: cgroup, network, hosts files, firewall, containers
 * (root first), restart policy, ctl requests, status; and deletion. */
#include "agent/cell.h"

#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "agent/cell-decide.h"
#include "agent/events.h"
#include "fsapi/atomic.h"
#include "fsapi/ctl.h"
#include "fsapi/fsutil.h"
#include "fsapi/log.h"
#include "fsapi/manifest.h"
#include "runtime/net/hosts.h"

#define STANDALONE_MAX 64
#define DESIRED_MAX    (KK_CELL_CONTAINERS_MAX + STANDALONE_MAX)
/* After a ctl kill: STOP and CONT change a task without any containerd
 * event, so the cell is looked at again that soon. */
#define KILL_LOOK_AGAIN_MS 200
/* While a container is stopped by a signal: a SIGCONT from outside kuke. */
#define STOPPED_RETRY_MS 1000

/* ---- events ------------------------------------------------------------- */

void agent_cell_event(struct cell_ctx *c, enum kk_event_type type, const char *reason,
                      const char *container, const char *fmt, ...)
{
    char msg[KK_EVENTS_LINE_MAX];
    char object[KK_NAME_MAX + 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (container)
        snprintf(object, sizeof(object), "container/%s", container);
    else
        snprintf(object, sizeof(object), "cell");
    _cleanup_free_ char *dir = kk_tree_dir(c->key);
    _cleanup_error_ kk_error *err = NULL;
    if (kk_events_append(c->a->rootfd, dir, agent_now_ns(c->a), type, reason, object, msg, &err) <
        0)
        kk_log_debug("%s: event %s: %s", c->keystr, reason, err->message);
}

/* ---- metrics ------------------------------------------------------------ */

static void agent_metrics_forget(struct agent_ctx *a, const char *keystr)
{
    kk_metrics_set_cell(&a->metrics, keystr, NULL, 0);
}

/* The directories of d's cgroup the metrics read usage from: v2 one, v1
 * the memory and cpuacct hierarchies (hybrid hosts too: runc puts the
 * controllers in v1 there). */
static void usage_dirs(struct cell_ctx *c, const struct desired *d, char **mem, char **cpu)
{
    struct kk_cg_ref leaf = {c->key->names[0], c->key->names[1], c->key->names[2],
                             c->key->names[3], d->spec->id,      d->role};
    _cleanup_free_ char *path = NULL;
    _cleanup_error_ kk_error *err = NULL;
    *mem = *cpu = NULL;
    if (!c->a->be.cg || kk_cg_runc_path(c->a->be.cg, &leaf, &path, &err) < 0)
        return;
    if (c->a->be.cg->mode == KK_CG_MODE_V1) {
        *mem = kk_xasprintf(KK_CG_DEFAULT_MOUNT "/memory%s", path);
        *cpu = kk_xasprintf(KK_CG_DEFAULT_MOUNT "/cpuacct%s", path);
    } else {
        *mem = kk_xasprintf(KK_CG_DEFAULT_MOUNT "%s", path);
        *cpu = kk_xstrdup(*mem);
    }
}

/* Tells the metrics what this reconcile found of the cell's containers. */
static void publish_metrics(struct cell_ctx *c)
{
    size_t n = c->n_desired < c->st->n_containers ? c->n_desired : c->st->n_containers;
    struct kk_metrics_container *v = kk_xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const struct kk_container_status *cs = &c->st->containers[i];
        v[i].id = cs->id;
        v[i].state = cs->state;
        v[i].restarts = cs->restart_count;
        usage_dirs(c, &c->desired[i], &v[i].memory_dir, &v[i].cpu_dir);
    }
    kk_metrics_set_cell(&c->a->metrics, c->keystr, v, n);
    for (size_t i = 0; i < n; i++) {
        free(v[i].memory_dir);
        free(v[i].cpu_dir);
    }
    free(v);
}

/* "09:30:11Z": the time of day of a wall-clock ns, for messages. */
static void time_of_day(int64_t ns, char out[16])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 16, "%H:%M:%SZ", &tm);
}

static struct ctr_mem *ctr_mem_of(struct cell_ctx *c, const char *id)
{
    struct res_mem *m = c->mem;
    for (size_t i = 0; i < m->n_ctrs; i++)
        if (strcmp(m->ctrs[i].id, id) == 0)
            return &m->ctrs[i];
    m->ctrs = kk_xrealloc(m->ctrs, (m->n_ctrs + 1) * sizeof(*m->ctrs));
    struct ctr_mem *cm = &m->ctrs[m->n_ctrs++];
    memset(cm, 0, sizeof(*cm));
    snprintf(cm->id, sizeof(cm->id), "%s", id);
    const struct kk_container_status *prev = c->prev ? kk_status_find_container(c->prev, id) : NULL;
    if (prev) {
        /* Counters survive an agent restart through status.yaml. */
        cm->restart_count = prev->restart_count;
        cm->pid = prev->pid;
        cm->started_at = prev->started_at;
        cm->finished_at = prev->finished_at;
    }
    return cm;
}

/* ---- ctl ---------------------------------------------------------------- */

enum ctl_action { CTL_NONE, CTL_STOP, CTL_RESTART, CTL_KILL };

/* Consumes the cell's ctl file: sticky verbs go into mem, the others are
 * returned (with the signal for kill). */
static enum ctl_action consume_ctl(struct cell_ctx *c, int *signal)
{
    _cleanup_free_ char *rel = kk_tree_ctl_path(c->key);
    _cleanup_buf_ struct kk_buf data = KK_BUF_INIT;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_read_file(c->a->rootfd, rel, KK_CTL_FILE_MAX, &data, &err) < 0) {
        if (kk_error_code(err) != KK_E_NOT_FOUND) {
            kk_log_warn("%s: ctl: %s", c->keystr, err->message);
            kk_error_freep(&err);
            kk_fs_unlink(c->a->rootfd, rel, &err);
        }
        return CTL_NONE;
    }
    kk_fs_unlink(c->a->rootfd, rel, &err);
    c->ctl_seen = true;
    struct kk_ctl_request req;
    const char *result = "ok";
    enum ctl_action act = CTL_NONE;
    if (kk_ctl_parse(data.data, data.len, &req, &result) < 0)
        req.verb = KK_CTL_INVALID;
    switch (req.verb) {
    case KK_CTL_INVALID:
        break;
    case KK_CTL_STOP:
        if (!c->mem->stopped)
            act = CTL_STOP;
        c->mem->stopped = true;
        break;
    case KK_CTL_START:
        c->mem->stopped = c->mem->paused = false;
        c->mem->stop_sent_ms = 0;
        for (size_t i = 0; i < c->mem->n_ctrs; i++)
            c->mem->ctrs[i].backoff_until_ms = 0;
        break;
    case KK_CTL_PAUSE:
        c->mem->paused = true;
        break;
    case KK_CTL_RESUME:
        c->mem->paused = false;
        break;
    case KK_CTL_RESTART:
        c->mem->stopped = c->mem->paused = false;
        c->mem->stop_sent_ms = 0; /* a later stop starts its own clock */
        act = CTL_RESTART;
        break;
    case KK_CTL_KILL:
        *signal = req.signal;
        act = CTL_KILL;
        break;
    }
    struct kk_last_control *lc = &c->st->last_control;
    free(lc->verb);
    free(lc->result);
    lc->verb = kk_xstrdup(req.text);
    lc->at = agent_now_ns(c->a);
    lc->result = kk_xstrdup(result);
    kk_log_info("%s: ctl %s: %s", c->keystr, lc->verb, result);
    return act;
}

/* ---- desired containers ------------------------------------------------- */

static void add_desired(struct cell_ctx *c, const struct kk_container *k, bool root)
{
    struct desired *d = &c->desired[c->n_desired++];
    memset(d, 0, sizeof(*d));
    d->spec = k;
    d->root = root;
    d->role = root ? "root" : k->id;
    kk_model_container_hash(k, d->hash);
    snprintf(d->ctd_id, sizeof(d->ctd_id), "%s_%s_%s_%s", c->key->names[1], c->key->names[2],
             c->key->names[3], k->id);
    struct kk_key ck;
    _cleanup_error_ kk_error *err = NULL;
    kk_key_init(&ck, KK_LEVEL_CONTAINER, c->key->names[0], c->key->names[1], c->key->names[2],
                c->key->names[3], k->id, &err);
    _cleanup_free_ char *rel = kk_tree_log_path(&ck);
    d->log_path = kk_tree_join(c->a->cfg.state, rel);
}

/* Loads containers/<id>.yaml; invalid ones are reported and skipped. */
static void load_standalone(struct cell_ctx *c, struct kk_resource **out, size_t *n)
{
    struct kk_key ck = *c->key;
    _cleanup_free_ char *dir = kk_tree_dir(c->key);
    _cleanup_free_ char *rel = kk_xasprintf("%s/" KK_TREE_CONTAINERS, dir);
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    *n = 0;
    if (kk_fs_list_dir(c->a->rootfd, rel, KK_TREE_DIR_MAX, &list, &err) < 0)
        return;
    for (size_t i = 0; i < list.n && *n < STANDALONE_MAX; i++) {
        _cleanup_free_ char *path = kk_xasprintf("%s/%s", rel, list.entries[i].name);
        struct kk_tree_class tc;
        kk_tree_classify(path, &tc);
        if (tc.file != KK_TREE_CONTAINER_SPEC)
            continue;
        ck = tc.key;
        struct kk_resource *r = NULL;
        if (agent_spec_load(c->a, &ck, &r, &err) <= 0) {
            if (err)
                kk_log_warn("%s: %s", c->keystr, err->message);
            kk_error_freep(&err);
            continue;
        }
        out[(*n)++] = r;
    }
}

/* ---- one container ------------------------------------------------------ */

/* What to do is decided in cell-decide.c; here it is observed and done. */

static void mem_load(const struct ctr_mem *cm, struct agent_cell_mem *m)
{
    *m = (struct agent_cell_mem){
            .restart_count = cm->restart_count,
            .backoff_until_ms = cm->backoff_until_ms,
            .pid = cm->pid,
            .started_at = cm->started_at,
            .finished_at = cm->finished_at,
            .oom = cm->oom,
    };
}

static void mem_store(struct ctr_mem *cm, const struct agent_cell_mem *m)
{
    cm->restart_count = m->restart_count;
    cm->backoff_until_ms = m->backoff_until_ms;
    cm->pid = m->pid;
    cm->started_at = m->started_at;
    cm->finished_at = m->finished_at;
    cm->oom = m->oom;
}

/* The soonest of the reconciles asked for wins. */
static void want_retry(struct cell_ctx *c, unsigned ms)
{
    if (!c->retry_ms || ms < c->retry_ms)
        c->retry_ms = ms;
}

static enum agent_cell_task task_of(enum kk_ctd_task_status s)
{
    switch (s) {
    case KK_CTD_TASK_CREATED:
        return AGENT_CELL_TASK_CREATED;
    case KK_CTD_TASK_PAUSED:
        return AGENT_CELL_TASK_PAUSED;
    case KK_CTD_TASK_STOPPED:
        return AGENT_CELL_TASK_STOPPED;
    default: /* running, pausing, unknown: neither paused nor exited */
        return AGENT_CELL_TASK_RUNNING;
    }
}

/* Asks containerd for d's task. *err keeps the error (in->error points
 * into it) when containerd could not tell. */
static void observe_task(struct cell_ctx *c, const struct desired *d, struct agent_cell_in *in,
                         kk_error **err)
{
    struct agent_ctx *a = c->a;
    struct kk_ctd_task_state ts = {0};
    if (a->be.ctd->task_get(a->be.ctd_self, c->ns, d->ctd_id, &ts, err) < 0) {
        if (kk_error_code(*err) != KK_E_NOT_FOUND) {
            agent_note_ctd_error(a, *err);
            if (!c->ctd_code)
                c->ctd_code = kk_error_code(*err);
            in->task = AGENT_CELL_TASK_ERROR;
            in->error = (*err)->message;
            return;
        }
        kk_error_freep(err);
        in->task = AGENT_CELL_TASK_NONE;
        return;
    }
    in->task = task_of(ts.status);
    in->pid = ts.pid;
    in->exit_code = ts.exit_status;
    in->exited_at_ns = ts.exited_at_ns;
    /* Taken only when it is looked at: see agent_cell_needs_oom. */
    if (agent_cell_needs_oom(in))
        in->oom_event = agent_take_oom(a, c->ns, d->ctd_id);
}

/* Observes d's task (once its container exists) and decides. */
static void decide(struct cell_ctx *c, const struct desired *d, struct agent_cell_in *in,
                   struct agent_cell_decision *dec, kk_error **err)
{
    if (in->exists)
        observe_task(c, d, in, err);
    in->now_ms = agent_mono_ms(c->a);
    in->now_ns = agent_now_ns(c->a);
    agent_cell_decide(in, dec);
}

static const struct kk_container_status *prev_entry(const struct cell_ctx *c, const char *id)
{
    return c->prev ? kk_status_find_container(c->prev, id) : NULL;
}

static bool streq0(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static bool is_reason(const kk_error *err, const char *reason)
{
    return err->reason && strcmp(err->reason, reason) == 0;
}

/* A failed pull waits out the puller's backoff: ImagePullBackOff with the
 * time of the next pull, and one reconcile then (the pull's end wakes the
 * cell before, if another cell's request started it). */
static void pull_backoff(struct cell_ctx *c, const struct desired *d,
                         struct kk_container_status *cs, const kk_error *err)
{
    unsigned in_ms = c->a->puller ? kk_puller_retry_in_ms(c->a->puller, c->ns, d->spec->image) : 0;
    if (!in_ms)
        in_ms = KK_PULLER_FAIL_HOLD_MS;
    cs->next_retry_at = agent_now_ns(c->a) + (int64_t)in_ms * 1000000;
    char at[16];
    time_of_day(cs->next_retry_at, at);
    _cleanup_free_ char *msg = kk_xasprintf("%s; next pull at %s", err->message, at);
    kk_container_status_set(cs, KK_STATE_PENDING, "ImagePullBackOff", msg);
    want_retry(c, in_ms);
}

/* Creates d's container, or reports why not in cs. Logged and recorded as
 * an event only when the reason or message is new, so a retry loop writes
 * one line per step, not one per attempt. */
static int create(struct cell_ctx *c, const struct desired *d, struct kk_container_status *cs)
{
    _cleanup_error_ kk_error *err = NULL;
    if (agent_container_create(c, d, &err) == 0) {
        agent_cell_event(c, KK_EVENT_NORMAL, "Created", d->spec->id, "created from %s",
                         d->spec->image);
        return 0;
    }
    /* A missing image is polled for; a pull in progress wakes the cell when
     * it ends (the poll is only a safety net); a failed pull waits for the
     * puller's next attempt; anything else takes the queue's backoff. */
    const struct kk_container_status *prev = prev_entry(c, d->spec->id);
    if (is_reason(err, "ImagePullFailed")) {
        pull_backoff(c, d, cs, err);
        if (!prev || !streq0(prev->reason, "ImagePullBackOff"))
            agent_cell_event(c, KK_EVENT_WARNING, "Failed", d->spec->id, "%s", err->message);
        return -1;
    }
    kk_container_status_set(cs, KK_STATE_PENDING, err->reason ? err->reason : "CreateFailed",
                            err->message);
    bool img = is_reason(err, "ImageNotFound") || is_reason(err, "PullingImage");
    bool news = !prev || !streq0(prev->reason, cs->reason) || !streq0(prev->message, cs->message);
    if (news && !is_reason(err, "PullingImage")) {
        kk_log_warn("%s: container %s: %s", c->keystr, d->spec->id, err->message);
        agent_cell_event(c, KK_EVENT_WARNING, "Failed", d->spec->id, "%s", err->message);
    }
    if (img)
        want_retry(c, IMAGE_RETRY_MS);
    else
        c->failed = true;
    return -1;
}

/* The task of d runs with pid (it was just started). */
static void note_started(struct cell_ctx *c, struct kk_container_status *cs,
                         struct agent_cell_mem *m, uint32_t pid)
{
    cs->pid = pid;
    agent_cell_note_pid(m, pid, agent_now_ns(c->a));
    cs->started_at = m->started_at;
}

/* Starts the task that was created but never started. */
static int start_created(struct cell_ctx *c, const struct desired *d,
                         struct kk_container_status *cs, struct agent_cell_mem *m, uint32_t pid)
{
    _cleanup_error_ kk_error *err = NULL;
    if (c->a->be.ctd->task_start(c->a->be.ctd_self, c->ns, d->ctd_id, &pid, &err) < 0) {
        kk_container_status_set(cs, KK_STATE_PENDING, "StartFailed", err->message);
        c->failed = true;
        return -1;
    }
    kk_log_info("%s: container %s started (pid %u)", c->keystr, d->spec->id, pid);
    agent_cell_event(c, KK_EVENT_NORMAL, "Started", d->spec->id, "started (pid %u)", pid);
    note_started(c, cs, m, pid);
    return 0;
}

/* Creates and starts a new task; a stale task containerd cannot let go of
 * takes its container with it (created again next time). */
static int start_new(struct cell_ctx *c, const struct desired *d, struct kk_container_status *cs,
                     struct agent_cell_mem *m)
{
    struct agent_ctx *a = c->a;
    _cleanup_error_ kk_error *err = NULL;
    uint32_t pid = 0;
    if (agent_task_start_new(c, d, &pid, &err) < 0) {
        if (err->reason && strcmp(err->reason, "StaleTask") == 0) {
            _cleanup_error_ kk_error *e2 = NULL;
            if (a->be.ctd->container_remove_safely(a->be.ctd_self, c->ns, d->ctd_id,
                                                   (int)a->cfg.stop_timeout_s * 1000, &e2) < 0)
                kk_log_warn("%s: %s", c->keystr, e2->message);
        }
        kk_container_status_set(cs, KK_STATE_PENDING, "StartFailed", err->message);
        kk_log_warn("%s: container %s: %s", c->keystr, d->spec->id, err->message);
        c->failed = true;
        return -1;
    }
    cs->exit_code = KK_UNSET;
    cs->finished_at = 0;
    m->pid = pid;
    m->started_at = agent_now_ns(a);
    note_started(c, cs, m, pid);
    agent_cell_event(c, KK_EVENT_NORMAL, "Started", d->spec->id, "started (pid %u)", pid);
    return 0;
}

/* Pauses or resumes d's task; a failure is reported in cs. */
static int pause_or_resume(struct cell_ctx *c, const struct desired *d,
                           struct kk_container_status *cs, bool pause)
{
    const struct kk_ctd_ops *ctd = c->a->be.ctd;
    _cleanup_error_ kk_error *err = NULL;
    if (pause && ctd->task_pause(c->a->be.ctd_self, c->ns, d->ctd_id, &err) < 0) {
        kk_container_status_set(cs, KK_STATE_READY, "PauseFailed", err->message);
        return -1;
    }
    if (!pause && ctd->task_resume(c->a->be.ctd_self, c->ns, d->ctd_id, &err) < 0) {
        kk_container_status_set(cs, KK_STATE_PAUSED, "ResumeFailed", err->message);
        return -1;
    }
    return 0;
}

/* Performs one action of dec; < 0: it failed and cs says why. */
static int act_one(struct cell_ctx *c, struct desired *d, struct kk_container_status *cs,
                   const struct agent_cell_in *in, const struct agent_cell_decision *dec,
                   enum agent_cell_act act, struct agent_cell_mem *m)
{
    struct agent_ctx *a = c->a;
    _cleanup_error_ kk_error *err = NULL; /* of the actions whose failure is ignored */
    switch (act) {
    case AGENT_CELL_CREATE: /* done by observe_and_act, alone */
        break;
    case AGENT_CELL_START_CREATED:
        return start_created(c, d, cs, m, in->pid);
    case AGENT_CELL_START_NEW:
        return start_new(c, d, cs, m);
    case AGENT_CELL_DELETE_TASK:
        a->be.ctd->task_delete(a->be.ctd_self, c->ns, d->ctd_id, NULL, &err);
        break;
    case AGENT_CELL_RECORD_RESTART:
        kk_metrics_add_restart(&a->metrics);
        if (dec->vanished_pid) {
            kk_log_info("%s: container %s: task %u vanished; starting it again", c->keystr,
                        d->spec->id, dec->vanished_pid);
            agent_cell_event(c, KK_EVENT_WARNING, "Restarted", d->spec->id,
                             "task %u vanished (containerd lost it); restart %u", dec->vanished_pid,
                             m->restart_count);
        } else {
            agent_cell_event(c, KK_EVENT_NORMAL, "Restarted", d->spec->id,
                             "restart %u after its backoff", m->restart_count);
        }
        d->restarted = true;
        break;
    case AGENT_CELL_RESUME_TO_KILL:
        a->be.ctd->task_resume(a->be.ctd_self, c->ns, d->ctd_id, &err);
        break;
    case AGENT_CELL_KILL:
        a->be.ctd->task_kill(a->be.ctd_self, c->ns, d->ctd_id, dec->signal, true, &err);
        break;
    case AGENT_CELL_PAUSE:
    case AGENT_CELL_RESUME:
        return pause_or_resume(c, d, cs, act == AGENT_CELL_PAUSE);
    }
    return 0;
}

/* The state letter of process pid (/proc/<pid>/stat), 0 if unknown. */
static char proc_state(uint32_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf));
    return n > 0 ? agent_cell_stat_state(buf, (size_t)n) : 0;
}

/* containerd and runc report a task whose process a SIGSTOP stopped as
 * running and publish no event: the agent looks at the process itself.
 * Not in test mode, whose fake tasks have made-up pids. */
static void note_stopped_by_signal(struct cell_ctx *c, struct kk_container_status *cs, uint32_t pid)
{
    if (cs->state != KK_STATE_READY || !pid || agent_test_mode(c->a) || proc_state(pid) != 'T')
        return;
    _cleanup_free_ char *msg = kk_xasprintf(
            "process %" PRIu32 " is stopped by a signal; kuke kill cell %s CONT resumes it", pid,
            c->key->names[3]);
    kk_container_status_set(cs, KK_STATE_PAUSED, "StoppedBySignal", msg);
    /* A SIGCONT sent by hand brings no event either. */
    want_retry(c, STOPPED_RETRY_MS);
}

/* Performs dec's actions in order, then reports its condition in cs; the
 * first action that fails reports its failure instead and ends there. */
static void act(struct cell_ctx *c, struct desired *d, struct kk_container_status *cs,
                const struct agent_cell_in *in, const struct agent_cell_decision *dec,
                struct agent_cell_mem *m)
{
    cs->restart_count = m->restart_count;
    cs->pid = dec->pid;
    cs->exit_code = dec->exit_code;
    cs->started_at = dec->started_at;
    cs->finished_at = dec->finished_at;
    cs->deadline = dec->deadline_ns;
    cs->next_retry_at = dec->next_retry_ns;
    if (dec->restart_scheduled) {
        kk_log_info("%s: container %s exited with code %u, restart in %u ms", c->keystr,
                    d->spec->id, in->exit_code, dec->restart_delay_ms);
        agent_cell_event(c, in->exit_code ? KK_EVENT_WARNING : KK_EVENT_NORMAL, "Exited",
                         d->spec->id, "exited with code %u%s", in->exit_code,
                         dec->mem.oom ? " (out of memory)" : "");
        agent_cell_event(c, KK_EVENT_WARNING, "BackOff", d->spec->id,
                         "restarting in %u ms (restart %u)", dec->restart_delay_ms,
                         m->restart_count + 1);
    }
    for (size_t i = 0; i < dec->n_acts; i++)
        if (act_one(c, d, cs, in, dec, dec->acts[i], m) < 0)
            return;
    kk_container_status_set(cs, dec->state, dec->reason, agent_cell_message(dec));
    note_stopped_by_signal(c, cs, dec->pid);
    if (dec->retry_ms)
        want_retry(c, dec->retry_ms);
    if (dec->failed)
        c->failed = true;
}

/* Observes d's containerd container and task and acts: creates what is
 * missing, applies the restart policy to an exited task, follows the sticky
 * stop/pause; fills its status entry cs. Problems end up in cs and in
 * c->retry_ms / c->failed, never as a return value. */
static void observe_and_act(struct cell_ctx *c, struct desired *d, struct kk_container_status *cs,
                            bool exists)
{
    struct ctr_mem *cm = ctr_mem_of(c, d->spec->id);
    _cleanup_error_ kk_error *err = NULL;
    cs->containerd_id = kk_xstrdup(d->ctd_id);
    cs->image = kk_xstrdup(d->spec->image);
    cs->log_path = kk_xstrdup(d->log_path);
    cs->observed_generation = kk_xstrdup(d->hash);
    cs->restart_count = cm->restart_count;
    cs->exit_code = KK_UNSET;

    struct agent_cell_in in = {
            .exists = exists,
            .stop_sent_ms = c->mem->stop_sent_ms,
            .spec = d->spec,
            .stopped = c->mem->stopped,
            .paused = c->mem->paused,
            .root = d->root,
            .root_down = c->root_down,
            .stop_timeout_s = c->a->cfg.stop_timeout_s,
    };
    mem_load(cm, &in.mem);
    struct agent_cell_decision dec;
    decide(c, d, &in, &dec, &err);
    if (dec.n_acts && dec.acts[0] == AGENT_CELL_CREATE) {
        if (create(c, d, cs) < 0)
            return; /* the memory stays as it was */
        in.mem = dec.mem;
        in.exists = true;
        decide(c, d, &in, &dec, &err);
    }
    struct agent_cell_mem m = dec.mem;
    c->mem->stop_sent_ms = dec.stop_sent_ms;
    act(c, d, cs, &in, &dec, &m);
    mem_store(cm, &m);
}

/* Copies the first `size` bytes of fd into <base>.1 beside it, through a
 * temporary file renamed into place: streamed (copy_file_range), so a log
 * of any size is rotated, and created O_EXCL in the cell's own directory. */
static int copy_to_rotated(int dirfd, const char *base, int fd, off_t size, kk_error **err)
{
    _cleanup_free_ char *tmp = kk_xasprintf(".%s.1.tmp", base);
    _cleanup_free_ char *dst = kk_xasprintf("%s.1", base);
    (void)unlinkat(dirfd, tmp, 0); /* a temp left by a crash */
    _cleanup_close_ int out =
            openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (out < 0)
        return kk_error_errno(err, "create %s", tmp);
    off_t in_off = 0;
    while (in_off < size) {
        ssize_t n = copy_file_range(fd, &in_off, out, NULL, (size_t)(size - in_off), 0);
        if (n <= 0) {
            int r = n < 0 ? kk_error_errno(err, "copy to %s", tmp)
                          : kk_error_set(err, KK_E_INTERNAL, "%s shrank while copied", base);
            (void)unlinkat(dirfd, tmp, 0);
            return r;
        }
    }
    if (renameat(dirfd, tmp, dirfd, dst) < 0) {
        int r = kk_error_errno(err, "rename %s", tmp);
        (void)unlinkat(dirfd, tmp, 0);
        return r;
    }
    return 0;
}

/* Makes room for a new <base>.1: <base>.<n-1> becomes <base>.<n>, ...,
 * <base>.1 becomes <base>.2 (renames within the directory: a name that is a
 * symlink is moved as a link, never followed). The oldest, <base>.<n>, is
 * replaced. Nothing to do when one rotated file is kept. */
static void shift_rotated(int dirfd, const char *base, unsigned n)
{
    for (unsigned i = n; i > 1; i--) {
        _cleanup_free_ char *from = kk_xasprintf("%s.%u", base, i - 1);
        _cleanup_free_ char *to = kk_xasprintf("%s.%u", base, i);
        (void)renameat(dirfd, from, dirfd, to); /* a gap (ENOENT) is fine */
    }
}

/* Caps containers/<id>.log at log-max-bytes: the content moves to
 * <id>.log.1 (older ones shift to .2 ... .<log-max-files>, the oldest
 * dropped) and the log is truncated in place
 * (copytruncate: the shim keeps its O_APPEND descriptor, so it goes on
 * writing at the new end; a line written between the copy and the truncate
 * is lost). Runs on every reconcile of the cell, hence at least at every
 * resync. Only a regular file with one link is touched: a log hard-linked
 * to a file elsewhere is never truncated, and symlinks are never followed. */
static void rotate_log(struct cell_ctx *c, const struct desired *d)
{
    struct kk_key ck;
    _cleanup_error_ kk_error *err = NULL;
    if (kk_key_init(&ck, KK_LEVEL_CONTAINER, c->key->names[0], c->key->names[1], c->key->names[2],
                    c->key->names[3], d->spec->id, &err) < 0)
        return;
    _cleanup_free_ char *rel = kk_tree_log_path(&ck);
    _cleanup_close_ int fd = kk_fs_open(c->a->rootfd, rel, O_RDWR | O_NONBLOCK, 0, &err);
    struct stat sb;
    /* 0: a configuration built without the settings (tests, or a caller
     * that does not copy them): the defaults. */
    uint64_t max_bytes =
            c->a->cfg.log_max_bytes ? c->a->cfg.log_max_bytes : KK_AGENT_LOG_MAX_BYTES_DEFAULT;
    unsigned max_files = c->a->cfg.log_max_files ? c->a->cfg.log_max_files : 1;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size <= max_bytes)
        return;
    if (sb.st_nlink != 1) {
        kk_log_warn("%s: %s has %ju links: not rotated (it would truncate the other names)",
                    c->keystr, rel, (uintmax_t)sb.st_nlink);
        return;
    }
    const char *base;
    _cleanup_close_ int dirfd = kk_fs_open_parent(c->a->rootfd, rel, &base, &err);
    if (dirfd >= 0)
        shift_rotated(dirfd, base, max_files);
    if (dirfd < 0 || copy_to_rotated(dirfd, base, fd, sb.st_size, &err) < 0 ||
        (ftruncate(fd, 0) < 0 && kk_error_errno(&err, "truncate %s", rel) < 0)) {
        kk_log_warn("%s: rotate %s: %s", c->keystr, rel, err->message);
        return;
    }
    kk_log_info("%s: %s rotated (%lld bytes)", c->keystr, rel, (long long)sb.st_size);
}

/* ---- the cell ----------------------------------------------------------- */

static char *ctd_filter(const struct kk_key *key)
{
    return kk_xasprintf("labels.\"" KK_LABEL_SPACE "\"==\"%s\",labels.\"" KK_LABEL_STACK
                        "\"==\"%s\",labels.\"" KK_LABEL_CELL "\"==\"%s\"",
                        key->names[1], key->names[2], key->names[3]);
}

static char *files_dir_of(struct agent_ctx *a, const struct kk_key *key)
{
    return kk_xasprintf("%s/cells/%s_%s_%s_%s", a->cfg.run_dir, key->names[0], key->names[1],
                        key->names[2], key->names[3]);
}

static int remove_containers(struct agent_ctx *a, const char *ns, const struct kk_key *key,
                             kk_error **err)
{
    _cleanup_free_ char *filter = ctd_filter(key);
    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    if (a->be.ctd->container_list(a->be.ctd_self, ns, filter, &v, &n, err) < 0)
        return kk_error_wrap(err, "list containers");
    /* SIGTERM to all at once, so the cell stops within one stop timeout
     * rather than one per container. */
    for (size_t i = 0; i < n; i++) {
        _cleanup_error_ kk_error *e = NULL;
        a->be.ctd->task_kill(a->be.ctd_self, ns, v[i].id, SIGTERM, true, &e);
    }
    int r = 0;
    /* Reverse order of creation: the root (created first) goes last. */
    for (size_t i = n; i-- > 0 && r == 0;)
        r = a->be.ctd->container_remove_safely(a->be.ctd_self, ns, v[i].id,
                                               (int)a->cfg.stop_timeout_s * 1000, err);
    kk_ctd_container_list_free(v, n);
    return r;
}

/* Empties and removes a cell's directory of hosts files: everything in it
 * is the agent's, including temp files a crash left mid-write. */
static void remove_files_dir(const char *dir)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(dirfd(d), e->d_name, 0);
    rmdir(dir);
}

/* The ids of the standalone container specs (containers/<id>.yaml) in the
 * cell's directory, whether or not the cell itself has a spec. */
static void standalone_ids(struct agent_ctx *a, const struct kk_key *key, struct kk_strv *out)
{
    _cleanup_free_ char *dir = kk_tree_dir(key);
    _cleanup_free_ char *rel = kk_xasprintf("%s/" KK_TREE_CONTAINERS, dir);
    _cleanup_fs_list_ struct kk_fs_list list = {0};
    _cleanup_error_ kk_error *err = NULL;
    if (kk_fs_list_dir(a->rootfd, rel, KK_TREE_DIR_MAX, &list, &err) < 0)
        return;
    for (size_t i = 0; i < list.n; i++) {
        _cleanup_free_ char *path = kk_xasprintf("%s/%s", rel, list.entries[i].name);
        struct kk_tree_class tc;
        kk_tree_classify(path, &tc);
        if (tc.file == KK_TREE_CONTAINER_SPEC && list.entries[i].type == DT_REG)
            kk_strv_push(out, tc.key.names[4]);
    }
}

/* Order across inbox files does not matter: a Container whose Cell has no
 * spec (yet, or any more) keeps its spec and waits, Pending/WaitingForParent,
 * reported in the cell's status. Everything the cell made on the host is
 * gone already; its ctl request goes with it. */
static int keep_waiting(struct agent_ctx *a, const struct kk_key *key, const char *keystr,
                        const struct kk_strv *ids)
{
    _cleanup_(kk_status_freep) struct kk_status *prev = agent_status_load(a, key);
    _cleanup_(kk_status_freep) struct kk_status *st = kk_status_new(KK_KIND_CELL, key->names[3]);
    _cleanup_error_ kk_error *err = NULL;
    st->state = KK_STATE_PENDING;
    st->reason = kk_xstrdup("WaitingForParent");
    st->message = kk_xasprintf("cell %s has no spec: %zu standalone container(s) wait for it",
                               key->names[3], ids->n);
    for (size_t i = 0; i < ids->n; i++) {
        struct kk_container_status *cs = kk_status_container(st, ids->v[i]);
        cs->state = KK_STATE_PENDING;
        cs->reason = kk_xstrdup("WaitingForParent");
        cs->exit_code = KK_UNSET;
    }
    _cleanup_free_ char *ctl = kk_tree_ctl_path(key);
    if (kk_fs_unlink(a->rootfd, ctl, &err) < 0)
        kk_error_freep(&err);
    agent_mem_drop(a, keystr);
    if (agent_status_write(a, key, st, prev, &err) < 0) {
        kk_log_warn("%s: %s", keystr, err->message);
        return KK_QUEUE_RETRY;
    }
    agent_set_state(a, keystr, st->state);
    kk_log_info("%s: no cell spec; %zu standalone container(s) wait for it", keystr, ids->n);
    return KK_QUEUE_DONE;
}

/* A copy of prev (through its YAML: there is no deep copy), or a fresh
 * status if there is none or it does not load back. */
static struct kk_status *clone_status(const struct kk_status *prev, const struct kk_key *key)
{
    if (prev) {
        _cleanup_buf_ struct kk_buf text = KK_BUF_INIT;
        _cleanup_diags_ struct kk_diags diags = KK_DIAGS_INIT;
        _cleanup_error_ kk_error *err = NULL;
        struct kk_status *st = NULL;
        kk_status_emit(prev, &text);
        if (kk_status_load_buffer("status.yaml", text.data, text.len, &st, &diags, &err) == 0)
            return st;
    }
    return kk_status_new(KK_KIND_CELL, key->names[3]);
}

/* Writes, at once and before the work that may take a stop timeout, that
 * the cell is in transition: the last status with the cell's condition
 * replaced and its running containers Stopping, both until `deadline`
 * (when SIGKILL goes out; 0: none). A reader (kuke get, --wait) sees it
 * within milliseconds of the request, not after the teardown. */
static void write_transition(struct agent_ctx *a, const struct kk_key *key, const char *keystr,
                             const struct kk_status *prev, enum kk_state state, const char *reason,
                             const char *message, int64_t deadline)
{
    _cleanup_(kk_status_freep) struct kk_status *st = clone_status(prev, key);
    kk_status_set(st, state, reason, message);
    st->deadline = deadline;
    for (size_t i = 0; i < st->n_containers; i++) {
        struct kk_container_status *cs = &st->containers[i];
        if (cs->state != KK_STATE_READY && cs->state != KK_STATE_PAUSED &&
            cs->state != KK_STATE_STOPPING)
            continue;
        kk_container_status_set(cs, KK_STATE_STOPPING, reason, NULL);
        cs->deadline = deadline;
    }
    _cleanup_error_ kk_error *err = NULL;
    if (agent_status_write(a, key, st, prev, &err) < 0)
        kk_log_warn("%s: %s", keystr, err->message);
    else
        agent_set_state(a, keystr, st->state);
}

static int64_t stop_deadline(struct agent_ctx *a)
{
    return agent_now_ns(a) + (int64_t)a->cfg.stop_timeout_s * 1000000000;
}

/* Says, before and while the teardown runs, that the cell is going: a cell
 * whose spec is gone is never shown Ready, even while a teardown step
 * fails and is retried. */
static void write_terminating(struct agent_ctx *a, const struct kk_key *key, const char *keystr,
                              const kk_error *failure)
{
    _cleanup_(kk_status_freep) struct kk_status *prev = agent_status_load(a, key);
    _cleanup_free_ char *msg =
            failure ? kk_xasprintf("spec removed; deleting, retried after: %s", failure->message)
                    : kk_xstrdup("spec removed; stopping its containers and removing what it used");
    write_transition(a, key, keystr, prev, KK_STATE_TERMINATING, "SpecRemoved", msg,
                     failure ? 0 : stop_deadline(a));
}

/* An event about a cell that is gone, in its stack's events.log. */
static void parent_event(struct agent_ctx *a, const struct kk_key *key, const char *reason,
                         const char *msg)
{
    struct kk_key parent;
    kk_key_parent(key, &parent);
    _cleanup_free_ char *dir = kk_tree_dir(&parent);
    _cleanup_free_ char *object = kk_xasprintf("cell/%s", key->names[3]);
    _cleanup_error_ kk_error *err = NULL;
    kk_events_append(a->rootfd, dir, agent_now_ns(a), KK_EVENT_NORMAL, reason, object, msg, &err);
}

static int delete_cell(struct agent_ctx *a, const struct kk_key *key, const char *keystr)
{
    /* A cell the agent never wrote a status for is most likely one whose
     * directory appeared a moment before its spec (the inbox creating it):
     * the teardown is quiet then, and finds nothing to remove. */
    _cleanup_(kk_status_freep) struct kk_status *known = agent_status_load(a, key);
    _cleanup_free_ char *ns = agent_realm_ns(a, key->names[0]);
    _cleanup_free_ char *dir = kk_tree_dir(key);
    _cleanup_free_ char *files = files_dir_of(a, key);
    _cleanup_error_ kk_error *err = NULL;
    struct kk_net_cell_spec ns_spec = {key->names[0], key->names[1], key->names[2], key->names[3]};
    struct kk_cg_ref ref = {key->names[0], key->names[1], key->names[2], key->names[3], NULL, NULL};
    agent_set_ready(a, keystr, false);
    if (known && known->state != KK_STATE_TERMINATING) {
        write_terminating(a, key, keystr, NULL);
        _cleanup_free_ char *cdir = kk_tree_dir(key);
        kk_events_append(a->rootfd, cdir, agent_now_ns(a), KK_EVENT_NORMAL, "Terminating", "cell",
                         "spec removed; stopping its containers", &err);
        kk_error_freep(&err);
    }
    agent_metrics_forget(a, keystr);
    if (remove_containers(a, ns, key, &err) < 0 || agent_cg_remove(a, &ref, &err) < 0 ||
        kk_net_cell_remove(a->be.net, &ns_spec, 0, &err) < 0 ||
        kk_fw_cell_remove(a->be.fw, keystr, &err) < 0) {
        kk_log_warn("%s: delete: %s", keystr, err->message);
        write_terminating(a, key, keystr, err);
        return KK_QUEUE_RETRY;
    }
    remove_files_dir(files);
    /* The spec may be back: the inbox file was put back (or an editor's
     * save raced the prune) while the containers were stopping. Then the
     * cell lives on and its reconcile builds it again; checked under the
     * lock the inbox writes specs with, so no write lands in between. */
    pthread_mutex_lock(&a->spec_lock);
    _cleanup_(kk_resource_freep) struct kk_resource *again = NULL;
    if (agent_spec_load(a, key, &again, &err) != 0) {
        pthread_mutex_unlock(&a->spec_lock);
        if (known)
            kk_log_info("%s: spec is back; not deleting", keystr);
        else
            kk_log_debug("%s: spec is back; not deleting", keystr);
        agent_enqueue(a, keystr);
        return KK_QUEUE_DONE;
    }
    struct kk_strv waiting = {0};
    standalone_ids(a, key, &waiting);
    if (waiting.n) {
        pthread_mutex_unlock(&a->spec_lock);
        int verdict = keep_waiting(a, key, keystr, &waiting);
        kk_strv_release(&waiting);
        return verdict;
    }
    int removed = kk_fs_remove_tree(a->rootfd, dir, &err);
    pthread_mutex_unlock(&a->spec_lock);
    if (removed < 0) {
        kk_log_warn("%s: delete: %s", keystr, err->message);
        return KK_QUEUE_RETRY;
    }
    if (removed > 0) {
        kk_log_info("%s: deleted", keystr);
        parent_event(a, key, "Deleted", "its containers, cgroup, network and directory are gone");
    }
    agent_mem_drop(a, keystr);
    struct kk_key parent;
    char buf[KK_KEY_STRLEN];
    kk_key_parent(key, &parent);
    agent_enqueue(a, kk_key_format(&parent, buf));
    return KK_QUEUE_DONE;
}

static void load_sticky(struct cell_ctx *c)
{
    if (c->mem->loaded)
        return;
    c->mem->loaded = true;
    if (!c->prev || !c->prev->reason)
        return;
    /* A stop under way when the agent went down is a stop too. */
    c->mem->stopped = strcmp(c->prev->reason, "StoppedByUser") == 0 ||
                      strcmp(c->prev->reason, "StopRequested") == 0;
    c->mem->paused = strcmp(c->prev->reason, "PausedByUser") == 0;
}

static int ensure_network(struct cell_ctx *c, kk_error **err)
{
    struct kk_net_cell_spec ns = {c->key->names[0], c->key->names[1], c->key->names[2],
                                  c->key->names[3]};
    struct kk_net_cell nc;
    if (c->host_network) {
        /* The host's network: nothing of the cell's own, and whatever it
         * had before it switched to the host's is released. */
        c->netns_path[0] = c->ip[0] = '\0';
        if (kk_net_cell_remove(c->a->be.net, &ns, 0, err) < 0)
            return kk_error_wrap(err, "network");
        if (kk_fw_cell_remove(c->a->be.fw, c->keystr, err) < 0)
            return kk_error_wrap(err, "firewall");
        return 0;
    }
    if (kk_net_cell_ensure(c->a->be.net, &ns, &nc, err) < 0)
        return kk_error_wrap(err, "network");
    snprintf(c->netns_path, sizeof(c->netns_path), "%s", nc.netns_path);
    snprintf(c->ip, sizeof(c->ip), "%s", nc.ip);
    const char *aliases[DESIRED_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < c->n_desired; i++)
        aliases[n++] = c->desired[i].spec->id;
    aliases[n] = NULL;
    struct kk_net_hosts_spec hs = {.hostname = c->key->names[3], .ip = c->ip, .aliases = aliases};
    if (kk_net_write_cell_files(c->files_dir, &hs, err) < 0)
        return kk_error_wrap(err, "hosts files");
    _cleanup_free_ struct kk_fw_port *ports = NULL;
    size_t np = 0;
    if (agent_cell_ports(c, &ports, &np, err) < 0)
        return -1;
    struct kk_fw_cell fc = {c->keystr, c->ip, ports, np};
    if (kk_fw_cell_apply(c->a->be.fw, &fc, err) < 0)
        return kk_error_wrap(err, "firewall");
    return 0;
}

/* Removes the containers that must go: gone from the spec, or whose spec
 * changed (a changed root recreates the whole cell, keeping its IP). Marks
 * in `exists` the desired containers that stay. */
static int prune_containers(struct cell_ctx *c, bool *exists, kk_error **err)
{
    struct agent_ctx *a = c->a;
    _cleanup_free_ char *filter = ctd_filter(c->key);
    struct kk_ctd_container *v = NULL;
    size_t n = 0;
    if (a->be.ctd->container_list(a->be.ctd_self, c->ns, filter, &v, &n, err) < 0)
        return kk_error_wrap(err, "list containers");
    bool root_changed = false;
    bool *keep = kk_xcalloc(n ? n : 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < c->n_desired; j++) {
            const struct desired *d = &c->desired[j];
            if (strcmp(v[i].id, d->ctd_id) != 0)
                continue;
            const char *h = NULL;
            for (char **l = v[i].labels; l && l[0] && l[1]; l += 2)
                if (strcmp(l[0], KK_LABEL_HASH) == 0)
                    h = l[1];
            if (h && strcmp(h, d->hash) == 0) {
                keep[i] = true;
                exists[j] = true;
            } else if (d->root) {
                root_changed = true;
            }
        }
    }
    int r = 0;
    for (size_t i = n; i-- > 0 && r == 0;) {
        if (keep[i] && !root_changed)
            continue;
        kk_log_info("%s: removing container %s (%s)", c->keystr, v[i].id,
                    root_changed ? "root changed" : "spec changed or removed");
        r = a->be.ctd->container_remove_safely(a->be.ctd_self, c->ns, v[i].id,
                                               (int)a->cfg.stop_timeout_s * 1000, err);
    }
    free(keep);
    kk_ctd_container_list_free(v, n);
    if (r < 0)
        return r;
    if (root_changed) {
        memset(exists, 0, c->n_desired * sizeof(bool));
        struct kk_net_cell_spec ns = {c->key->names[0], c->key->names[1], c->key->names[2],
                                      c->key->names[3]};
        if (kk_net_cell_remove(a->be.net, &ns, KK_NET_KEEP_IP, err) < 0 ||
            ensure_network(c, err) < 0)
            return -1;
    }
    return 0;
}

static void aggregate(struct cell_ctx *c)
{
    struct kk_status *st = c->st;
    const struct kk_container_status *root = NULL, *pending = NULL, *failed = NULL;
    const struct kk_container_status *sig_stopped = NULL;
    bool all_stopped = true, any_paused = false;
    for (size_t i = 0; i < st->n_containers; i++) {
        const struct kk_container_status *cs = &st->containers[i];
        if (i < c->n_desired && c->desired[i].root)
            root = cs;
        if (cs->state == KK_STATE_PENDING && !pending)
            pending = cs;
        if (cs->state == KK_STATE_FAILED && !failed)
            failed = cs;
        if (cs->state != KK_STATE_STOPPED)
            all_stopped = false;
        if (cs->state == KK_STATE_PAUSED)
            any_paused = true;
        if (cs->state == KK_STATE_PAUSED && streq0(cs->reason, "StoppedBySignal") && !sig_stopped)
            sig_stopped = cs;
    }
    free(st->reason);
    free(st->message);
    st->reason = st->message = NULL;
    if (c->mem->stopped && !all_stopped) {
        st->state = KK_STATE_STOPPING;
        st->reason = kk_xstrdup("StopRequested");
        for (size_t i = 0; i < st->n_containers; i++)
            if (st->containers[i].deadline > st->deadline)
                st->deadline = st->containers[i].deadline;
        char at[16];
        time_of_day(st->deadline, at);
        st->message = st->deadline ? kk_xasprintf("SIGTERM sent; SIGKILL at %s", at) : NULL;
    } else if (c->mem->stopped) {
        st->state = KK_STATE_STOPPED;
        st->reason = kk_xstrdup("StoppedByUser");
    } else if (root && root->state == KK_STATE_FAILED) {
        st->state = KK_STATE_FAILED;
        st->reason = kk_xstrdup("RootFailed");
        st->message = kk_xasprintf("root container %s: %s", root->id,
                                   root->message ? root->message : "failed");
    } else if (root && root->state == KK_STATE_STOPPED) {
        st->state = KK_STATE_STOPPED;
        st->reason = kk_xstrdup("RootExited");
    } else if (failed) {
        st->state = KK_STATE_FAILED;
        st->reason = kk_xstrdup("ContainerFailed");
        st->message = kk_xasprintf("container %s: %s", failed->id,
                                   failed->message ? failed->message : "failed");
    } else if (pending) {
        st->state = KK_STATE_PENDING;
        st->reason = kk_xstrdup(pending->reason ? pending->reason : "ContainerPending");
        st->message = kk_xasprintf("container %s%s%s", pending->id, pending->message ? ": " : "",
                                   pending->message ? pending->message : "");
    } else if (c->mem->paused && any_paused) {
        st->state = KK_STATE_PAUSED;
        st->reason = kk_xstrdup("PausedByUser");
    } else if (sig_stopped) {
        st->state = KK_STATE_PAUSED;
        st->reason = kk_xstrdup("StoppedBySignal");
        st->message = kk_xasprintf("container %s: %s", sig_stopped->id,
                                   sig_stopped->message ? sig_stopped->message : "stopped");
    } else if (st->n_containers == 0) {
        st->state = KK_STATE_READY;
        st->reason = kk_xstrdup("NoContainers");
    } else {
        st->state = KK_STATE_READY;
    }
}

/* One event per change of the cell's condition, and one per exit of a
 * container that ends in Stopped or Failed (an exit the restart policy
 * acts on has its Exited and BackOff events already, see act). */
static void transition_events(struct cell_ctx *c)
{
    const struct kk_status *p = c->prev;
    const struct kk_status *st = c->st;
    int was = p ? p->state : KK_STATE_NONE;
    if (st->state != was || !streq0(p ? p->reason : NULL, st->reason)) {
        if (st->state == KK_STATE_STOPPING && was != KK_STATE_STOPPING)
            agent_cell_event(c, KK_EVENT_NORMAL, "Stopping", NULL, "%s",
                             st->message ? st->message : st->reason);
        else if (st->state == KK_STATE_STOPPED)
            agent_cell_event(c, KK_EVENT_NORMAL, "Stopped", NULL, "%s", st->reason);
        else if (st->state == KK_STATE_FAILED)
            agent_cell_event(c, KK_EVENT_WARNING, "Failed", NULL, "%s%s%s", st->reason,
                             st->message ? ": " : "", st->message ? st->message : "");
    }
    for (size_t i = 0; i < st->n_containers && i < c->n_desired; i++) {
        const struct kk_container_status *cs = &st->containers[i];
        if ((cs->state != KK_STATE_STOPPED && cs->state != KK_STATE_FAILED) ||
            cs->exit_code == KK_UNSET)
            continue;
        const struct kk_container_status *pc = prev_entry(c, cs->id);
        if (pc && pc->state == cs->state && pc->finished_at == cs->finished_at)
            continue;
        bool asked = streq0(cs->reason, "StoppedByUser") || streq0(cs->reason, "RootExited");
        agent_cell_event(c, cs->exit_code && !asked ? KK_EVENT_WARNING : KK_EVENT_NORMAL,
                         asked ? "Stopped" : "Exited", cs->id, "exited with code %lld (%s)",
                         (long long)cs->exit_code, cs->reason ? cs->reason : "");
    }
}

/* If the root is down for good, the others stop too; if it came back, the
 * others restart with it (they share its namespaces). */
static void follow_root(struct cell_ctx *c, bool *exists)
{
    if (c->n_desired < 2 || !c->desired[0].root || c->mem->stopped)
        return;
    const struct kk_container_status *root = &c->st->containers[0];
    bool down = root->state == KK_STATE_STOPPED || root->state == KK_STATE_FAILED;
    c->root_down = down;
    if (!down && !c->desired[0].restarted)
        return;
    for (size_t i = 1; i < c->n_desired; i++) {
        _cleanup_error_ kk_error *err = NULL;
        if (down) {
            c->a->be.ctd->task_kill(c->a->be.ctd_self, c->ns, c->desired[i].ctd_id, SIGKILL, true,
                                    &err);
        } else if (exists[i]) {
            c->a->be.ctd->container_remove_safely(c->a->be.ctd_self, c->ns, c->desired[i].ctd_id,
                                                  2000, &err);
            exists[i] = false;
        }
    }
}

static void copy_last_control(struct kk_status *st, const struct kk_status *prev)
{
    if (!prev || !prev->last_control.verb)
        return;
    st->last_control.verb = kk_xstrdup(prev->last_control.verb);
    st->last_control.at = prev->last_control.at;
    st->last_control.result =
            prev->last_control.result ? kk_xstrdup(prev->last_control.result) : NULL;
}

static void kill_all(struct cell_ctx *c, int signal)
{
    for (size_t i = 0; i < c->n_desired; i++) {
        _cleanup_error_ kk_error *err = NULL;
        c->a->be.ctd->task_kill(c->a->be.ctd_self, c->ns, c->desired[i].ctd_id, signal, true, &err);
    }
}

/* The containers to run: root first, then the others in spec order, then
 * standalone ones. Fails (Failed/TooManyContainers in the status) when the
 * cell has more than a cell may. */
static int build_desired(struct cell_ctx *c, const struct kk_cell *cell,
                         struct kk_resource **standalone, size_t n_standalone)
{
    if (cell->n_containers > KK_CELL_CONTAINERS_MAX) {
        _cleanup_error_ kk_error *err = NULL;
        kk_error_set(&err, KK_E_INVALID, "%zu containers: at most %d per cell", cell->n_containers,
                     KK_CELL_CONTAINERS_MAX);
        kk_status_set_error(c->st, KK_STATE_FAILED, "TooManyContainers", err);
        return -1;
    }
    for (size_t i = 0; i < cell->n_containers; i++)
        if (cell->containers[i].root)
            add_desired(c, &cell->containers[i], true);
    for (size_t i = 0; i < cell->n_containers; i++)
        if (!cell->containers[i].root)
            add_desired(c, &cell->containers[i], false);
    for (size_t i = 0; i < n_standalone; i++) {
        const struct kk_container *k = &standalone[i]->container;
        bool dup = false;
        for (size_t j = 0; j < c->n_desired; j++)
            dup = dup || strcmp(c->desired[j].spec->id, k->id) == 0;
        if (dup)
            kk_log_warn("%s: standalone container %s shadows a cell container; ignored", c->keystr,
                        k->id);
        else
            add_desired(c, k, false);
    }
    return 0;
}

/* Forgets the bookkeeping of containers that left the spec. */
static void forget_departed(struct cell_ctx *c)
{
    for (size_t i = 0; i < c->mem->n_ctrs;) {
        bool found = false;
        for (size_t j = 0; j < c->n_desired && !found; j++)
            found = strcmp(c->mem->ctrs[i].id, c->desired[j].spec->id) == 0;
        if (found) {
            i++;
            continue;
        }
        c->mem->ctrs[i] = c->mem->ctrs[--c->mem->n_ctrs];
    }
}

/* Says Stopping at once, before the host setup and the signals (they take
 * tens of ms); the end of this reconcile writes the containers' own
 * conditions. The stop's clock starts now, so both agree on the deadline. */
static void announce_stop(struct cell_ctx *c)
{
    struct agent_ctx *a = c->a;
    if (!c->mem->stop_sent_ms)
        c->mem->stop_sent_ms = agent_mono_ms(a);
    int64_t deadline = agent_now_ns(a) + ((int64_t)a->cfg.stop_timeout_s * 1000 +
                                          c->mem->stop_sent_ms - agent_mono_ms(a)) *
                                                 1000000;
    char at[16];
    time_of_day(deadline, at);
    _cleanup_free_ char *msg = kk_xasprintf("SIGTERM sent; SIGKILL at %s", at);
    write_transition(a, c->key, c->keystr, c->prev, KK_STATE_STOPPING, "StopRequested", msg,
                     deadline);
    c->announced = true;
}

/* The body of a cell reconcile once spec and parents are fine. */
static int converge(struct cell_ctx *c, const struct kk_resource *spec,
                    struct kk_resource **standalone, size_t n_standalone)
{
    struct agent_ctx *a = c->a;
    _cleanup_error_ kk_error *err = NULL;
    int signal = 0;
    enum ctl_action act = consume_ctl(c, &signal);
    if (act == CTL_STOP)
        announce_stop(c);
    const struct kk_cell *cell = &spec->cell;
    c->host_network = kk_cell_uses_host_network(cell);
    if (build_desired(c, cell, standalone, n_standalone) < 0)
        return KK_QUEUE_DONE;

    struct kk_cg_ref ref = {
            c->key->names[0], c->key->names[1], c->key->names[2], c->key->names[3], NULL, NULL};
    unsigned flags = cell->nested_cgroup_runtime ? KK_CG_ENSURE_NESTED : 0;
    if (agent_cg_ensure(a, &ref, flags | KK_CG_ENSURE_MOVE_INTERNAL, c->st, &err) < 0 ||
        ensure_network(c, &err) < 0) {
        kk_status_set_error(c->st, KK_STATE_PENDING, "HostSetupFailed", err);
        kk_log_warn("%s: %s", c->keystr, err->message);
        return KK_QUEUE_RETRY;
    }
    c->st->ip = c->ip[0] ? kk_xstrdup(c->ip) : NULL;

    bool exists[DESIRED_MAX] = {false};
    if (act == CTL_RESTART) {
        /* remove_containers takes up to a stop timeout: say so first. */
        write_transition(a, c->key, c->keystr, c->prev, KK_STATE_STOPPING, "Restarting",
                         "restart requested: removing every container to create it again",
                         stop_deadline(a));
        c->announced = true;
        agent_cell_event(c, KK_EVENT_NORMAL, "Stopping", NULL, "restart requested");
        if (remove_containers(a, c->ns, c->key, &err) < 0)
            kk_error_freep(&err);
    } else if (act == CTL_KILL) {
        kill_all(c, signal);
        want_retry(c, KILL_LOOK_AGAIN_MS);
    }
    if (prune_containers(c, exists, &err) < 0) {
        agent_note_ctd_error(a, err);
        if (!c->ctd_code)
            c->ctd_code = kk_error_code(err);
        kk_status_set_error(c->st, KK_STATE_PENDING, "ContainerdError", err);
        kk_log_warn("%s: %s", c->keystr, err->message);
        return KK_QUEUE_RETRY;
    }
    agent_note_ctd_ok(a);
    for (size_t i = 0; i < c->n_desired; i++) {
        struct kk_container_status *cs = kk_status_container(c->st, c->desired[i].spec->id);
        observe_and_act(c, &c->desired[i], cs, exists[i]);
        if (i == 0 && c->desired[0].root)
            follow_root(c, exists);
        rotate_log(c, &c->desired[i]);
    }
    forget_departed(c);
    aggregate(c);
    transition_events(c);
    publish_metrics(c);
    if (c->failed)
        return KK_QUEUE_RETRY;
    return KK_QUEUE_DONE;
}

/* Decides whether the failed containerd call of this reconcile is held
 * back (the status keeps saying Ready, the cell is looked at again soon)
 * or reported. */
static bool hold_back(struct cell_ctx *c, const struct kk_status *prev)
{
    struct res_mem *m = c->mem;
    if (!c->ctd_code || c->announced || c->ctl_seen) {
        m->ctd_fail_tries = 0;
        return false;
    }
    /* the consecutive failed reconciles of this cell, and since when */
    int64_t now = agent_mono_ms(c->a);
    if (m->ctd_fail_tries++ == 0)
        m->ctd_fail_since_ms = now;
    bool prev_ready = prev && prev->state == KK_STATE_READY;
    if (!agent_cell_hold_error(prev_ready, c->ctd_code, m->ctd_fail_tries, m->ctd_fail_since_ms,
                               now))
        return false;
    kk_log_info("%s: containerd failed (%s), try %u of %u: Ready kept, again in %u ms", c->keystr,
                kk_code_name(c->ctd_code), m->ctd_fail_tries, AGENT_CELL_HOLD_TRIES,
                AGENT_CELL_HOLD_RETRY_MS);
    return true;
}

int agent_reconcile_cell(struct agent_ctx *a, const struct kk_key *key)
{
    struct cell_ctx c = {.a = a, .key = key};
    kk_key_format(key, c.keystr);
    _cleanup_(kk_status_freep) struct kk_status *prev = agent_status_load(a, key);
    _cleanup_(kk_resource_freep) struct kk_resource *spec = NULL;
    _cleanup_error_ kk_error *err = NULL;
    int r = agent_spec_load(a, key, &spec, &err);
    if (r == 0)
        return delete_cell(a, key, c.keystr);

    _cleanup_(kk_status_freep) struct kk_status *st = kk_status_new(KK_KIND_CELL, key->names[3]);
    c.prev = prev;
    c.st = st;
    c.mem = agent_mem(a, c.keystr);
    load_sticky(&c);
    copy_last_control(st, prev);
    int verdict = KK_QUEUE_DONE;
    if (r < 0) {
        /* A broken spec changes nothing that runs. */
        kk_status_set_error(st, KK_STATE_FAILED, "InvalidSpec", err);
        kk_error_freep(&err);
    } else if ((r = agent_parent_ready(a, key, st)) <= 0) {
        if (r < 0)
            return KK_QUEUE_PARK;
        verdict = KK_QUEUE_PARK;
    } else {
        char hash[KK_HASH_SIZE];
        kk_model_spec_hash(spec, hash);
        st->observed_generation = kk_xstrdup(hash);
        struct kk_resource *standalone[STANDALONE_MAX];
        size_t n_standalone = 0;
        load_standalone(&c, standalone, &n_standalone);
        c.ns = agent_realm_ns(a, key->names[0]);
        c.files_dir = files_dir_of(a, key);
        c.desired = kk_xcalloc(DESIRED_MAX, sizeof(*c.desired));
        verdict = converge(&c, spec, standalone, n_standalone);
        for (size_t i = 0; i < c.n_desired; i++)
            free(c.desired[i].log_path);
        free(c.desired);
        free(c.files_dir);
        free(c.ns);
        for (size_t i = 0; i < n_standalone; i++)
            kk_resource_free(standalone[i]);
        if (hold_back(&c, prev)) {
            agent_enqueue_after(a, c.keystr, AGENT_CELL_HOLD_RETRY_MS);
            return KK_QUEUE_DONE;
        }
    }
    agent_set_ready(a, c.keystr, st->state == KK_STATE_READY);
    if (c.announced) {
        /* The file now holds the transition: compare with it, so the log
         * says a change only when there is one. */
        struct kk_status *now = agent_status_load(a, key);
        if (now) {
            kk_status_free(prev);
            prev = now;
        }
    }
    if (agent_status_write(a, key, st, prev, &err) < 0) {
        kk_log_warn("%s: %s", c.keystr, err->message);
        return KK_QUEUE_RETRY;
    }
    agent_set_state(a, c.keystr, st->state);
    if (verdict == KK_QUEUE_DONE && c.retry_ms)
        agent_enqueue_after(a, c.keystr, c.retry_ms);
    return verdict;
}
