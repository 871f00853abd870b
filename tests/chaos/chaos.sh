#!/bin/bash
# Chaos: kukeond killed with SIGKILL CHAOS_KILLS times at random moments,
# and containerd CHAOS_CTD_KILLS times, while a churn of CHURN_CELLS cells
# is created, edited and deleted (tests/chaos/lib-churn.sh); sometimes the
# inbox also changes while the agent is down. Then the last agent is left to
# converge: the host must match the inbox exactly (churn_census: no orphan
# or duplicate container, task, snapshot, lease, shim, netns, veth, IP, nft
# chain, cgroup or tree directory; every cell Ready with the pid of its
# running task). Removing every file must then leave only the defaults.
# See tests/chaos/README.md. Root only; a private containerd, unique names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"
. "$KUKEON_SRC/tests/chaos/lib-churn.sh"

CHAOS_KILLS=${CHAOS_KILLS:-100}
CHAOS_CTD_KILLS=${CHAOS_CTD_KILLS:-10}
# Longest random wait (ms) between a restart and the next kill.
CHAOS_MAX_GAP_MS=${CHAOS_MAX_GAP_MS:-4000}
# Seconds the last agent gets to converge.
CHAOS_SETTLE_S=${CHAOS_SETTLE_S:-240}
CHAOS_SEED=${CHAOS_SEED:-$$}
RANDOM=$CHAOS_SEED
e2e_log "chaos: seed $CHAOS_SEED, $CHAOS_KILLS agent kills, $CHAOS_CTD_KILLS containerd kills, $CHURN_CELLS cells"

sc_setup || exit 1
sc_start_agent || exit 1

kt_case defaults_ready
kt_check "default stack not Ready" sc_wait_for 60 'sc_is_ready default/default/default'

kill9_agent() {
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

kt_case churn_under_kills
for _ in $(seq $((CHURN_CELLS / 2))); do churn_step; done
every=$((CHAOS_CTD_KILLS > 0 ? (CHAOS_KILLS + CHAOS_CTD_KILLS - 1) / CHAOS_CTD_KILLS : 0))
ctd_kills=0 crashed=0 t0=$SECONDS
for i in $(seq "$CHAOS_KILLS"); do
    for _ in $(seq $((RANDOM % 3 + 1))); do churn_step; done
    sleep_ms $(((RANDOM * 32768 + RANDOM) % (CHAOS_MAX_GAP_MS + 1)))
    if [ -n "$AGENT_PID" ] && ! kill -0 "$AGENT_PID" 2>/dev/null; then
        crashed=$((crashed + 1))
        e2e_log "kukeond $AGENT_PID died on its own: $(tail -3 "$T/agent.log")"
    fi
    if [ "$every" -gt 0 ] && [ $((i % every)) = 0 ] && [ "$ctd_kills" -lt "$CHAOS_CTD_KILLS" ]; then
        kill -KILL "$CTD_PID" 2>/dev/null
        { wait "$CTD_PID"; } 2>/dev/null
        ctd_kills=$((ctd_kills + 1))
        churn_step
        sleep_ms $((RANDOM % 1500))
        sc_containerd_start || e2e_log "containerd did not come back"
    fi
    kill9_agent
    # Sometimes the inbox changes while no agent runs.
    [ $((RANDOM % 3)) = 0 ] && churn_step
    sc_start_agent || break
    [ $((i % 10)) = 0 ] && e2e_log "chaos: $i kills, $ctd_kills containerd kills, $((SECONDS - t0)) s"
done
if [ "$crashed" -gt 0 ]; then
    kt_fail "kukeond died by itself $crashed times"
elif [ -z "$AGENT_PID" ]; then
    kt_fail "kukeond did not start again"
else
    kt_pass
fi
e2e_log "chaos: $CHAOS_KILLS kills and $ctd_kills containerd kills in $((SECONDS - t0)) s; inbox: $(churn_present | grep -c .) cells"

kt_case host_matches_inbox
t0=$SECONDS
if sc_wait_for "$CHAOS_SETTLE_S" churn_census; then
    e2e_log "chaos: converged $((SECONDS - t0)) s after the last kill"
    kt_pass
else
    kt_fail "after ${CHAOS_SETTLE_S} s: $(churn_census | head -20 | tr '\n' ';')"
fi

kt_case no_lost_status
# Every spec the agent wrote has a status next to it, and every status.yaml
# and inbox report parses (none truncated by a kill).
bad=
for f in $(find "$STATE" -name '*.yaml' -type f); do
    case $f in */_agent/*) continue ;; esac
    grep -q '^kind: \|^apiVersion: \|^valid: \|^status:' "$f" || bad+=" $f"
    python3 -c 'import sys,yaml; yaml.safe_load(open(sys.argv[1]))' "$f" 2>/dev/null || bad+=" $f(unparsable)"
done
kt_check "truncated or unparsable files:$bad" test -z "$bad"

kt_case remove_all_leaves_nothing
rm -f "$INBOX"/ch*.yaml
if sc_wait_for 120 'churn_census && sc_only_defaults'; then
    kt_pass
else
    kt_fail "$(churn_census | head -10 | tr '\n' ';') $(sc_only_defaults | tr '\n' ';')"
fi

e2e_stop_agent
exit $KT_FAILED
