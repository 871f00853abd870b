#!/bin/bash
# Soak: SOAK_SECONDS (default 600) of create/edit/delete churn of
# CHURN_CELLS cells (tests/chaos/lib-churn.sh) under one kukeond. Its open
# descriptors (/proc/PID/fd) and RSS are sampled after a warm-up and at the
# end, both times with the same inbox and the host converged to it: they
# must be within SOAK_TOLERANCE_PCT (default 5) %. Both are also logged
# every minute of the churn. The host must match the
# inbox exactly at the end, and removing every file must leave only the
# defaults. Root only; a private containerd, unique host-global names.
#   SOAK_SECONDS=60 tests/soak/soak.sh        # a quick one
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"
. "$KUKEON_SRC/tests/chaos/lib-churn.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
# The allocator's arenas (one per worker thread) grow for the first minutes
# of churn, then stay: in a 10-minute run RSS rose ~5 % in the first two
# minutes and by 8 kB in the last six. The reference sample is taken after
# a warm-up of a fifth of the run (at least a minute), so what is compared
# is growth that goes on, not that plateau.
SOAK_WARMUP_S=${SOAK_WARMUP_S:-$((SOAK_SECONDS / 5 > 60 ? SOAK_SECONDS / 5 : 60))}
SOAK_GAP_MS=${SOAK_GAP_MS:-300}
SOAK_TOLERANCE_PCT=${SOAK_TOLERANCE_PCT:-5}
SOAK_SEED=${SOAK_SEED:-$$}
RANDOM=$SOAK_SEED
e2e_log "soak: seed $SOAK_SEED, $SOAK_SECONDS s, $CHURN_CELLS cells, a step every $SOAK_GAP_MS ms"

sc_setup || exit 1
sc_start_agent || exit 1

kt_case defaults_ready
kt_check "default stack not Ready" sc_wait_for 60 'sc_is_ready default/default/default'

churn_for() { # SECONDS [LOG]: with LOG, fds and RSS logged every minute
    local end=$((SECONDS + $1)) n=0 next=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$end" ]; do
        churn_step
        n=$((n + 1))
        if [ -n "${2:-}" ] && [ "$SECONDS" -ge "$next" ]; then
            e2e_log "soak: $n steps: fds $(fds), RSS $(rss_kb) kB (churning)"
            next=$((SECONDS + 60))
        fi
        sleep "$(printf '0.%03d' $((SOAK_GAP_MS % 1000)))"
        [ "$SOAK_GAP_MS" -ge 1000 ] && sleep $((SOAK_GAP_MS / 1000))
    done
    echo "$n"
}
# The inbox of the reference point, put back before each sample.
REF=$T/ref
restore_ref() {
    rm -f "$INBOX"/ch*.yaml
    cp -p "$REF"/ch*.yaml "$INBOX"/ 2>/dev/null
}
fds() { ls "/proc/$AGENT_PID/fd" | wc -l; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$AGENT_PID/status"; }
# sample: fds and RSS once converged and quiet (the agent idle between
# its periodic status writes).
sample() {
    sc_wait_for 180 churn_census || return 1
    sleep 3
    echo "$(fds) $(rss_kb)"
}

kt_case warmup
for _ in $(seq $((CHURN_CELLS / 2))); do churn_step; done
mkdir -p "$REF"
cp -p "$INBOX"/ch*.yaml "$REF"/ 2>/dev/null
steps=$(churn_for "$SOAK_WARMUP_S")
restore_ref
if START=$(sample); then
    e2e_log "soak: after warm-up ($steps steps): fds and RSS (kB): $START"
    kt_pass
else
    kt_fail "not converged after warm-up: $(churn_census | head -5 | tr '\n' ';')"
fi

kt_case churn
t0=$SECONDS
steps=$(churn_for "$SOAK_SECONDS" log)
e2e_log "soak: $steps steps in $((SECONDS - t0)) s"
kt_check "kukeond $AGENT_PID died: $(tail -3 "$T/agent.log")" kill -0 "$AGENT_PID"

kt_case host_matches_inbox
kt_check "$(churn_census | head -10 | tr '\n' ';')" sc_wait_for 180 churn_census

kt_case no_fd_or_memory_growth
restore_ref
if END=$(sample); then
    e2e_log "soak: at the end: fds and RSS (kB): $END (start: $START)"
    read -r f0 r0 <<<"$START"
    read -r f1 r1 <<<"$END"
    if [ $(((f1 - f0) * 100)) -gt $((f0 * SOAK_TOLERANCE_PCT)) ]; then
        kt_fail "descriptors grew from $f0 to $f1: $(ls -l "/proc/$AGENT_PID/fd" | tail -n +2 | awk '{print $NF}' | sort | uniq -c | sort -rn | head -5 | tr '\n' ';')"
    elif [ $(((r1 - r0) * 100)) -gt $((r0 * SOAK_TOLERANCE_PCT)) ]; then
        kt_fail "RSS grew from $r0 kB to $r1 kB (over $SOAK_TOLERANCE_PCT %)"
    else
        kt_pass
    fi
else
    kt_fail "not converged on the reference inbox: $(churn_census | head -5 | tr '\n' ';')"
fi

kt_case remove_all_leaves_nothing
rm -f "$INBOX"/ch*.yaml
if sc_wait_for 120 'churn_census && sc_only_defaults'; then
    kt_pass
else
    kt_fail "$(churn_census | head -10 | tr '\n' ';') $(sc_only_defaults | tr '\n' ';')"
fi

e2e_stop_agent
exit $KT_FAILED
