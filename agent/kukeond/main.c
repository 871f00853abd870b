/* kukeond: the agent. A thin main over the agent library: configuration,
 * backends, the watcher, signals, periodic resync and agent status. */
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/lock.h"
#include "agent/sdnotify.h"
#include "agent/uninstall.h"
#include "agent/watch.h"
#include "fsapi/clock.h"
#include "fsapi/fsutil.h"
#include "fsapi/log.h"
#include "runtime/net/ipam.h"

#define AGENT_STATUS_PERIOD_MS 5000

static void on_watch(void *userdata, const struct kk_watch_event *ev)
{
    struct kk_agent *a = userdata;
    switch (ev->type) {
    case KK_WATCH_INBOX_CHANGED:
    case KK_WATCH_INBOX_REMOVED:
        kk_agent_notify_inbox(a, ev->name);
        break;
    case KK_WATCH_SPEC_CHANGED:
    case KK_WATCH_SPEC_REMOVED:
    case KK_WATCH_CTL:
        kk_agent_notify_state(a, ev->path);
        break;
    case KK_WATCH_RESCAN:
        kk_log_info("watcher overflow: full rescan");
        kk_agent_rescan(a);
        break;
    }
}

/* sd_notify(3) when run by systemd (Type=notify); a no-op otherwise. */
static void notify(const char *msg)
{
    _cleanup_error_ kk_error *err = NULL;
    if (kk_sd_notify(NULL, msg, &err) < 0)
        kk_log_debug("sd_notify: %s", err->message);
}

/* The main loop's timers and what it last told systemd. */
struct loop {
    const struct kk_agent_config *cfg;
    struct kk_agent *a;
    int64_t next_status, next_resync, watchdog_ms, next_watchdog;
    bool ready_sent;
    char summary[128];
};

/* A signal: SIGHUP asks for a rescan; false for the others (stop). */
static bool on_signal(struct loop *l, int sfd)
{
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof(si)) != sizeof(si))
        return true;
    if (si.ssi_signo == SIGHUP) {
        kk_agent_rescan(l->a);
        return true;
    }
    kk_log_info("signal %u: stopping (containers keep running)", si.ssi_signo);
    notify("STOPPING=1");
    return false;
}

/* READY=1 once the first scan converged; false when --once is done. */
static bool check_ready(struct loop *l)
{
    if (l->ready_sent || !kk_agent_converged(l->a))
        return true;
    kk_agent_summary(l->a, l->summary, sizeof(l->summary));
    _cleanup_free_ char *msg = kk_xasprintf("READY=1\nSTATUS=ready: %s", l->summary);
    notify(msg);
    kk_log_info("converged after start-up: %s", l->summary);
    l->ready_sent = true;
    if (!l->cfg->once)
        return true;
    _cleanup_error_ kk_error *e = NULL;
    kk_agent_write_agent_status(l->a, &e);
    return false;
}

/* Periodic work: resync (a queued scan) and the watchdog. */
static void on_timers(struct loop *l, int64_t now)
{
    if (now >= l->next_resync) {
        kk_agent_rescan(l->a);
        l->next_resync = now + (int64_t)l->cfg->resync_s * 1000;
    }
    if (l->watchdog_ms > 0 && now >= l->next_watchdog) {
        notify("WATCHDOG=1");
        l->next_watchdog = now + l->watchdog_ms;
    }
}

/* Periodic work: the summary (STATUS=) and _agent/status.yaml. */
static void on_status(struct loop *l, int64_t now)
{
    if (now < l->next_status)
        return;
    char now_summary[128];
    kk_agent_summary(l->a, now_summary, sizeof(now_summary));
    if (l->ready_sent && strcmp(now_summary, l->summary) != 0) {
        _cleanup_free_ char *msg = kk_xasprintf("STATUS=%s", now_summary);
        notify(msg);
        memcpy(l->summary, now_summary, sizeof(l->summary));
    }
    _cleanup_error_ kk_error *e = NULL;
    if (kk_agent_write_agent_status(l->a, &e) < 0)
        kk_log_warn("agent status: %s", e->message);
    l->next_status = now + AGENT_STATUS_PERIOD_MS;
}

/* Until a signal stops it (or --once converged): the watcher's events and
 * signals, and the periodic work. Anything slow is left to the workers. */
static int main_loop(const struct kk_agent_config *cfg, struct kk_agent *a, struct kk_watch *w,
                     int sfd, kk_error **err)
{
    struct loop l = {
            .cfg = cfg,
            .a = a,
            .next_resync = kk_clock_mono_ms(NULL) + (int64_t)cfg->resync_s * 1000,
            .watchdog_ms = (int64_t)(kk_sd_watchdog_usec() / 2000),
    };
    notify("STATUS=adopting");
    for (;;) {
        struct pollfd fds[2] = {{kk_watch_fd(w), POLLIN, 0}, {sfd, POLLIN, 0}};
        int n = poll(fds, 2, 1000);
        if (n < 0 && errno != EINTR)
            return kk_error_errno(err, "poll");
        if ((fds[1].revents & POLLIN) && !on_signal(&l, sfd))
            return 0;
        if (fds[0].revents & POLLIN) {
            _cleanup_error_ kk_error *e = NULL;
            if (kk_watch_dispatch(w, &e) < 0)
                kk_log_warn("watch: %s", e->message);
        }
        int64_t now = kk_clock_mono_ms(NULL);
        on_timers(&l, now);
        if (!check_ready(&l))
            return 0;
        on_status(&l, now);
    }
}

static void warn_overlap(void *ctx, const struct kk_ipv4_net *pool, const struct kk_hostnet *hn)
{
    (void)ctx;
    char p[KK_NET_CIDRSTRLEN], h[KK_IPAM_HOSTNET_STRLEN];
    kk_ipam_format_cidr(pool, p);
    kk_ipam_format_hostnet(hn, h);
    kk_log_warn("subnet pool %s overlaps %s on this host: spaces get no subnet there "
                "(choose another --subnet-pool if that leaves too few)",
                p, h);
}

/* The pool against the host's addresses and routes, once, for the log:
 * the allocator skips what overlaps anyway (runtime/net/ipam.h). */
static void check_pool(const struct kk_agent_config *cfg)
{
    _cleanup_error_ kk_error *e = NULL;
    if (kk_ipam_host_overlaps(cfg->subnet_pool, cfg->bridge_prefix, warn_overlap, NULL, &e) < 0)
        kk_log_warn("subnet pool %s: %s", cfg->subnet_pool, e->message);
}

static int run(const struct kk_agent_config *cfg, kk_error **err)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0)
        return kk_error_errno(err, "signalfd");
    _cleanup_(agent_locks_release) struct agent_locks locks = {.n = 0};
    if (agent_locks_take(cfg, AGENT_LOCK_DIR, &locks, err) < 0 ||
        kk_fs_mkdir_p_abs(cfg->manifests, 0755, err) < 0)
        return -1;
    check_pool(cfg);

    struct kk_agent_backends be;
    if (kk_agent_backends_open_real(cfg, &be, err) < 0)
        return -1;
    struct kk_agent *a = NULL;
    if (kk_agent_new(cfg, &be, &a, err) < 0) {
        kk_agent_backends_close(&be);
        return -1;
    }
    struct kk_watch_config wc = {
            .inbox = cfg->manifests, .state = cfg->state, .fn = on_watch, .userdata = a};
    struct kk_watch *w = NULL;
    int r = kk_watch_open(&wc, &w, err);
    if (r == 0) {
        kk_agent_set_watch(a, w);
        r = kk_agent_start(a, err);
    }
    if (r == 0) {
        kk_log_info("kukeond %s: watching %s and %s (containerd %s)", KUKEON_VERSION,
                    cfg->manifests, cfg->state, cfg->containerd_address);
        r = main_loop(cfg, a, w, sfd, err);
    }
    kk_agent_set_watch(a, NULL);
    kk_agent_free(a);
    kk_watch_close(w);
    kk_agent_backends_close(&be);
    return r;
}

/* --uninstall [--dry-run] [--purge-state]: taken out of argv before the
 * configuration is parsed, so that every setting (file and flags) names
 * what to remove exactly as it names what a normal start creates. */
struct mode {
    bool uninstall, dry_run, purge_state, help;
};

static int take_mode_flags(int *argc, char **argv, struct mode *m)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--uninstall") == 0)
            m->uninstall = true;
        else if (strcmp(argv[i], "--dry-run") == 0)
            m->dry_run = true;
        else if (strcmp(argv[i], "--purge-state") == 0)
            m->purge_state = true;
        else {
            m->help |= strcmp(argv[i], "--help") == 0;
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    if ((m->dry_run || m->purge_state) && !m->uninstall) {
        fprintf(stderr, "kukeond: --dry-run and --purge-state go with --uninstall\n");
        return -1;
    }
    return 0;
}

static int uninstall(const struct kk_agent_config *cfg, const struct mode *m)
{
    _cleanup_error_ kk_error *err = NULL;
    struct agent_uninstall_opts o = {
            .dry_run = m->dry_run, .purge_state = m->purge_state, .lock_dir = AGENT_LOCK_DIR};
    int r = agent_uninstall(cfg, &o, stdout, &err);
    fflush(stdout);
    if (r < 0) {
        fprintf(stderr, "kukeond: %s\n", err->message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct kk_agent_config cfg;
    _cleanup_error_ kk_error *err = NULL;
    struct mode mode = {false, false, false, false};
    if (take_mode_flags(&argc, argv, &mode) < 0)
        return 2;
    /* glibc gives each thread that allocates its own 64 MiB arena; the
     * workers, the gRPC I/O thread and the event thread allocate little
     * and briefly, so extra arenas only cost resident memory (about
     * 7 MiB measured with 20 cells). Must precede the first thread. */
    mallopt(M_ARENA_MAX, 1);
    kk_agent_config_init(&cfg);
    int r = kk_agent_config_parse(&cfg, argc, argv, &err);
    if (r != 0) {
        if (r < 0) {
            fprintf(stderr, "kukeond: %s\n", err->message);
            kk_agent_config_usage(stderr);
        }
        if (r > 0 && mode.help)
            printf("\n  --uninstall [--dry-run] [--purge-state]\n"
                   "      remove everything this configuration created on the host (see "
                   "kukeond(8))\n");
        kk_agent_config_release(&cfg);
        return r < 0 ? 2 : 0;
    }
    kk_log_set_level(cfg.log_level);
    if (mode.uninstall) {
        r = uninstall(&cfg, &mode);
        kk_agent_config_release(&cfg);
        return r;
    }
    r = run(&cfg, &err);
    if (r < 0)
        kk_log_error("kukeond: %s", err->message);
    kk_agent_config_release(&cfg);
    return r < 0 ? 1 : 0;
}
