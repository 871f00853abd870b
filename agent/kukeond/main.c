/* kukeond: the agent. A thin main over the agent library: configuration,
 * backends, the watcher, signals, periodic resync and agent status. */
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/sdnotify.h"
#include "agent/watch.h"
#include "fsapi/fsutil.h"
#include "fsapi/log.h"

#define AGENT_STATUS_PERIOD_MS 5000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    if (kk_fs_mkdir_p_abs(cfg->manifests, 0755, err) < 0)
        return -1;

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
        int64_t next_status = 0, next_resync = mono_ms() + (int64_t)cfg->resync_s * 1000;
        int64_t watchdog_ms = (int64_t)(kk_sd_watchdog_usec() / 2000), next_watchdog = 0;
        bool ready_sent = false;
        char summary[128] = "";
        notify("STATUS=adopting");
        for (;;) {
            struct pollfd fds[2] = {{kk_watch_fd(w), POLLIN, 0}, {sfd, POLLIN, 0}};
            int n = poll(fds, 2, 1000);
            if (n < 0 && errno != EINTR) {
                r = kk_error_errno(err, "poll");
                break;
            }
            if (fds[1].revents & POLLIN) {
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        kk_agent_rescan(a);
                    } else {
                        kk_log_info("signal %u: stopping (containers keep running)", si.ssi_signo);
                        notify("STOPPING=1");
                        break;
                    }
                }
            }
            if (fds[0].revents & POLLIN) {
                _cleanup_error_ kk_error *e = NULL;
                if (kk_watch_dispatch(w, &e) < 0)
                    kk_log_warn("watch: %s", e->message);
            }
            int64_t now = mono_ms();
            if (now >= next_resync) {
                kk_agent_rescan(a);
                next_resync = now + (int64_t)cfg->resync_s * 1000;
            }
            if (watchdog_ms > 0 && now >= next_watchdog) {
                notify("WATCHDOG=1");
                next_watchdog = now + watchdog_ms;
            }
            if (!ready_sent && kk_agent_converged(a)) {
                kk_agent_summary(a, summary, sizeof(summary));
                _cleanup_free_ char *msg = kk_xasprintf("READY=1\nSTATUS=ready: %s", summary);
                notify(msg);
                kk_log_info("converged after start-up: %s", summary);
                ready_sent = true;
                if (cfg->once) {
                    _cleanup_error_ kk_error *e = NULL;
                    kk_agent_write_agent_status(a, &e);
                    break;
                }
            }
            if (now >= next_status) {
                char now_summary[128];
                kk_agent_summary(a, now_summary, sizeof(now_summary));
                if (ready_sent && strcmp(now_summary, summary) != 0) {
                    _cleanup_free_ char *msg = kk_xasprintf("STATUS=%s", now_summary);
                    notify(msg);
                    memcpy(summary, now_summary, sizeof(summary));
                }
                _cleanup_error_ kk_error *e = NULL;
                if (kk_agent_write_agent_status(a, &e) < 0)
                    kk_log_warn("agent status: %s", e->message);
                next_status = now + AGENT_STATUS_PERIOD_MS;
            }
        }
    }
    kk_agent_set_watch(a, NULL);
    kk_agent_free(a);
    kk_watch_close(w);
    kk_agent_backends_close(&be);
    return r;
}

int main(int argc, char **argv)
{
    struct kk_agent_config cfg;
    _cleanup_error_ kk_error *err = NULL;
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
        kk_agent_config_release(&cfg);
        return r < 0 ? 2 : 0;
    }
    kk_log_set_level(cfg.log_level);
    r = run(&cfg, &err);
    if (r < 0)
        kk_log_error("kukeond: %s", err->message);
    kk_agent_config_release(&cfg);
    return r < 0 ? 1 : 0;
}
