#!/bin/bash
# End to end: `kuke kill cell X STOP` stops the cell's processes, which
# containerd and runc still report as running (and publish no event): the
# agent reads the process's own state and says Paused / StoppedBySignal
# within 1 s; `kuke kill cell X CONT` brings it back to Ready within 1 s
# (kukeon issue 11). Root only; a private containerd and unique host-global
# names (tests/e2e/lib-agent.sh).
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1
e2e_wait_state default/default/default Ready 30

export KUKEON_STATE=$STATE KUKEON_MANIFESTS=$INBOX KUKEON_CONFIG=/dev/null
K=$KUKEON_BIN/kuke
KEY=default/default/default/halt

# The process's state letter (/proc/PID/stat, after the last ')').
proc_state() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) && s=${s##*) } && echo "${s%% *}"; }
# The cell's "state reason" within 1 s, else the last seen.
reached_within_1s() { # STATE REASON
    local i
    for i in $(seq 10); do
        [ "$(e2e_status_field $KEY state) $(e2e_status_field $KEY reason)" = "$1 $2" ] && return 0
        sleep 0.1
    done
    return 1
}

printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: halt\nspec:\n  containers:\n    - id: main\n      image: busybox\n      command: /bin/sh\n      args: ["-c", "exec sleep 3600"]\n' \
    >"$INBOX/halt.yaml"

kt_case cell_ready
kt_check "halt not Ready: $(e2e_status_field $KEY message)" e2e_wait_state $KEY Ready 60
PID=$(e2e_status_field $KEY pid)

kt_case kill_stop_is_paused_stopped_by_signal
"$K" kill cell halt STOP >/dev/null
if ! reached_within_1s Paused StoppedBySignal; then
    kt_fail "after kill STOP: $(e2e_status_field $KEY state) $(e2e_status_field $KEY reason)" \
        "(process $PID in state $(proc_state "$PID"))"
elif [ "$(proc_state "$PID")" != T ]; then
    kt_fail "process $PID not stopped: $(proc_state "$PID")"
elif ! grep -q "process $PID is stopped by a signal; kuke kill cell halt CONT resumes it" \
    "$STATE/$KEY/status.yaml"; then
    kt_fail "no resume hint in the status: $(cat "$STATE/$KEY/status.yaml")"
else
    kt_pass
fi

kt_case kill_cont_is_ready_again
"$K" kill cell halt CONT >/dev/null
if ! reached_within_1s Ready ""; then
    kt_fail "after kill CONT: $(e2e_status_field $KEY state) $(e2e_status_field $KEY reason)"
elif [ "$(e2e_status_field $KEY pid)" != "$PID" ]; then
    kt_fail "pid changed: $PID -> $(e2e_status_field $KEY pid)"
else
    kt_pass
fi

# A SIGSTOP/SIGCONT from outside kuke: the CONT is seen without any ctl.
kt_case cont_from_outside_is_seen
"$K" kill cell halt STOP >/dev/null
reached_within_1s Paused StoppedBySignal
kill -CONT "$PID"
ok=
for _ in $(seq 30); do
    [ "$(e2e_status_field $KEY state)" = Ready ] && ok=1 && break
    sleep 0.1
done
kt_check "still $(e2e_status_field $KEY state) 3 s after SIGCONT" test -n "$ok"

kt_case removed_leaves_nothing
rm -f "$INBOX/halt.yaml"
kt_check "cell directory left" e2e_wait_gone "$STATE/$KEY" 30

e2e_stop_agent
exit $KT_FAILED
