/* Restart policy: what to do when a container's task has exited.
 *
 * Pure functions of the policy, the exit and the history, so the rules are
 * tested without containerd:
 *
 *     policy          exit 0            exit != 0
 *     no / ""         Stopped Completed Failed Error
 *     always          restart           restart
 *     unless-stopped  restart           restart      (a user `stop` is sticky anyway)
 *     on-failure      Stopped Completed restart, until restartMaxRetries
 *                                       restarts were made: Failed
 *                                       RestartLimitReached
 *
 * Delay before restart n+1 (n restarts made so far): restartBackoffSeconds
 * (default 1 s) * 2^n, capped at KK_RESTART_BACKOFF_MAX_MS.
 */
#ifndef KUKEON_AGENT_RESTART_H
#define KUKEON_AGENT_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#include "fsapi/status.h"

#define KK_RESTART_BACKOFF_MAX_MS (5u * 60 * 1000)

struct agent_restart_decision {
    bool restart;
    unsigned delay_ms;   /* when restart */
    enum kk_state state; /* when not: the final state */
    const char *reason;  /* static CamelCase */
};

void agent_restart_decide(const struct kk_container *spec, uint32_t exit_code,
                          uint32_t restarts_so_far, struct agent_restart_decision *out);
unsigned agent_restart_delay_ms(const struct kk_container *spec, uint32_t restarts_so_far);

#endif
