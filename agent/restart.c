/* Restart policy decisions (see restart.h). */
#include "agent/restart.h"

unsigned agent_restart_delay_ms(const struct kk_container *spec, uint32_t restarts_so_far)
{
    uint64_t base = spec->restart_backoff_seconds ? spec->restart_backoff_seconds
                                                  : KK_RESTART_BACKOFF_DEFAULT;
    uint64_t ms = base * 1000;
    for (uint32_t i = 0; i < restarts_so_far && ms < KK_RESTART_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms > KK_RESTART_BACKOFF_MAX_MS ? KK_RESTART_BACKOFF_MAX_MS : (unsigned)ms;
}

void agent_restart_decide(const struct kk_container *spec, uint32_t exit_code,
                          uint32_t restarts_so_far, struct agent_restart_decision *out)
{
    *out = (struct agent_restart_decision){0};
    bool failed = exit_code != 0;
    switch (spec->restart_policy) {
    case KK_RESTART_ALWAYS:
    case KK_RESTART_UNLESS_STOPPED:
        out->restart = true;
        break;
    case KK_RESTART_ON_FAILURE:
        if (!failed)
            break;
        if (spec->restart_max_retries && restarts_so_far >= spec->restart_max_retries) {
            out->state = KK_STATE_FAILED;
            out->reason = "RestartLimitReached";
            return;
        }
        out->restart = true;
        break;
    default:
        break;
    }
    if (out->restart) {
        out->delay_ms = agent_restart_delay_ms(spec, restarts_so_far);
        out->reason = "BackOff";
        out->state = KK_STATE_PENDING;
        return;
    }
    out->state = failed ? KK_STATE_FAILED : KK_STATE_STOPPED;
    out->reason = failed ? "Error" : "Completed";
}
