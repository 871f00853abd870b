/* A tiny sd_notify(3): readiness, status and watchdog messages to the
 * service manager over $NOTIFY_SOCKET, without libsystemd.
 *
 * The protocol is one AF_UNIX SOCK_DGRAM datagram of newline-separated
 * "KEY=value" assignments, sent to the path in $NOTIFY_SOCKET ("@name"
 * names the Linux abstract namespace). Outside systemd the variable is
 * unset and every call is a cheap no-op that returns 0.
 *
 * The contract of kukeond with contrib/systemd/kukeond.service
 * (Type=notify):
 *
 *   - While starting:        kk_sd_notify(NULL, "STATUS=adopting", err)
 *   - READY=1 is sent exactly once, only after the first full scan of the
 *     inbox and the state tree has been enqueued AND run, and containerd's
 *     existing containers have been adopted (so `systemctl start kukeond`
 *     returns when what was running before is known again, and units
 *     ordered After=kukeond.service see a converged host):
 *         kk_sd_notify(NULL, "READY=1\nSTATUS=ready: 12 cells, 0 pending", err)
 *   - Afterwards, on a change of the summary (not on every reconcile):
 *         kk_sd_notifyf(NULL, err, "STATUS=%u cells ready, %u pending, containerd %s", ...)
 *     `systemctl status kukeond` shows the last STATUS line.
 *   - On SIGTERM, before stopping workers: "STOPPING=1".
 *   - If kk_sd_watchdog_usec() returns > 0 (WatchdogSec= set in the unit),
 *     the main loop sends "WATCHDOG=1" at least every half of that interval,
 *     and only while it is making progress (a wedged main loop must let the
 *     watchdog fire).
 *
 * Errors are reported (kk_error) but are never a reason for the agent to
 * stop: a service manager that cannot be told is not a broken host.
 *
 * Thread-safety: every function may be called from any thread; each call
 * opens, uses and closes its own socket. No global state.
 */
#ifndef KUKEON_AGENT_SDNOTIFY_H
#define KUKEON_AGENT_SDNOTIFY_H

#include <stdint.h>

#include "fsapi/error.h"

/* Largest message sent; longer ones are refused (KK_E_INVALID). */
#define KK_SD_NOTIFY_MAX 4096

/* Sends `msg` to `socket_path`, or to $NOTIFY_SOCKET when socket_path is
 * NULL. socket_path may start with '@' (abstract namespace) or '/'.
 * Returns 1 when sent, 0 when there is nowhere to send (NULL and the
 * variable unset or empty), < 0 on error. */
int kk_sd_notify(const char *socket_path, const char *msg, kk_error **err);

/* printf-style kk_sd_notify. */
int kk_sd_notifyf(const char *socket_path, kk_error **err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The watchdog interval requested by the service manager for this process,
 * from $WATCHDOG_USEC (and $WATCHDOG_PID, which must be our pid when set).
 * Returns the interval in microseconds, 0 when no watchdog is requested or
 * the variables are malformed. */
uint64_t kk_sd_watchdog_usec(void);

#endif
