#!/bin/bash
# End to end: what an operator sees (issue 14). A stop shows Stopping, with
# its deadline, within 50 ms of the request, then Stopped; a delete shows
# Terminating within 50 ms, then the cell is gone; `kuke stop --wait
# --timeout 2` on a container that ignores SIGTERM gives up after about 2 s
# (exit 1) while the agent's stop timeout (5 s here) is still running;
# events.log tells Pulled, Started, Exited; the metrics count the running
# containers as Ready and report their memory. Root only; a private
# containerd and unique host-global names (tests/e2e/lib-agent.sh).
#
# KK_E2E_UX_MS (default 50): the bound for "at once", in ms.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
BOUND_MS=${KK_E2E_UX_MS:-50}

e2e_setup || exit 1
e2e_start_agent --stop-timeout 5 || exit 1
e2e_wait_state default/default/default Ready 30

export KUKEON_STATE=$STATE KUKEON_MANIFESTS=$INBOX KUKEON_CONFIG=/dev/null
K=$KUKEON_BIN/kuke

# cell NAME SCRIPT [POLICY]: a one-container cell running SCRIPT under sh.
cell() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$1"
    printf '    - id: main\n      image: busybox\n      command: /bin/sh\n'
    printf '      args: ["-c", "%s"]\n' "$2"
    [ -n "${3:-}" ] && printf '      %s\n' "$3"
}
apply() { # NAME SCRIPT [POLICY]
    cell "$@" >"$T/$1.yaml"
    "$K" apply -f "$T/$1.yaml" >/dev/null
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
# state_within KEY STATE MS: true if KEY's status says STATE within MS of
# $T0, the moment the request was written (kuke returned). A tight loop on
# the file with builtins only (no fork per look), as a watcher would see it.
state_within() {
    local f=$STATE/$1/status.yaml line now
    while :; do
        now=$((${EPOCHREALTIME/./} / 1000))
        while IFS= read -r line; do
            if [ "$line" = "  state: $2" ]; then
                SEEN_MS=$((now - T0))
                [ "$SEEN_MS" -le "$3" ]
                return
            fi
        done <"$f" 2>/dev/null
        [ $((now - T0)) -gt 5000 ] && { SEEN_MS=timeout; return 1; }
    done
}

# sh as pid 1 without a handler: SIGTERM does nothing, SIGKILL ends it.
IGNORES='while :; do sleep 1; done'
apply ign "$IGNORES" 'restartPolicy: always'
IGN=default/default/default/ign
e2e_wait_state $IGN Ready 60 || { kt_case setup_cells; kt_fail "ign not Ready: $(e2e_status_field $IGN message)"; }

kt_case stop_shows_stopping_at_once_then_stopped
sleep 1 # the cell idle: no reconcile of it running when the request comes
"$K" stop cell ign >/dev/null
T0=$(now_ms)
if ! state_within $IGN Stopping "$BOUND_MS"; then
    kt_fail "Stopping seen after $SEEN_MS ms (want <= $BOUND_MS): $(e2e_status_field $IGN state)"
else
    e2e_log "Stopping visible $SEEN_MS ms after kuke stop wrote the request"
    deadline=$(e2e_status_field $IGN deadline)
    if [ -z "$deadline" ]; then
        kt_fail "no deadline while Stopping"
    elif ! e2e_wait_state $IGN Stopped 15; then
        kt_fail "not Stopped: $(e2e_status_field $IGN state) $(e2e_status_field $IGN reason)"
    else
        kt_check "reason $(e2e_status_field $IGN reason)" \
            test "$(e2e_status_field $IGN reason)" = StoppedByUser
    fi
fi

kt_case start_wait_returns_ready
if "$K" start cell ign --wait --timeout 30 >"$T/start.out" 2>&1; then
    kt_check "state $(e2e_status_field $IGN state)" test "$(e2e_status_field $IGN state)" = Ready
else
    kt_fail "start --wait: $(cat "$T/start.out")"
fi

kt_case stop_wait_times_out_while_sigterm_is_ignored
t0=$(now_ms)
"$K" stop cell ign --wait --timeout 2 >"$T/stop.out" 2>&1
rc=$?
took=$(($(now_ms) - t0))
state=$(e2e_status_field $IGN state)
if [ "$rc" -eq 0 ]; then
    kt_fail "exit 0 after $took ms (state $state): $(cat "$T/stop.out")"
elif [ "$took" -lt 1900 ] || [ "$took" -gt 3500 ]; then
    kt_fail "gave up after $took ms, want about 2000"
else
    kt_check "state $state while kuke gave up (want Stopping); said: $(cat "$T/stop.out")" \
        test "$state" = Stopping
fi
e2e_wait_state $IGN Stopped 15

kt_case stop_wait_returns_once_stopped
"$K" start cell ign --wait --timeout 30 >/dev/null 2>&1
t0=$(now_ms)
if "$K" stop cell ign --wait --timeout 20 >"$T/stop2.out" 2>&1; then
    took=$(($(now_ms) - t0))
    kt_check "Stopped after $took ms (stop timeout 5 s); state $(e2e_status_field $IGN state)" \
        test "$(e2e_status_field $IGN state)" = Stopped -a "$took" -ge 4500
else
    kt_fail "stop --wait: $(cat "$T/stop2.out")"
fi

kt_case delete_shows_terminating_at_once_then_gone
"$K" start cell ign --wait --timeout 30 >/dev/null 2>&1
sleep 1
"$K" delete cell ign >/dev/null
T0=$(now_ms)
if ! state_within $IGN Terminating "$BOUND_MS"; then
    kt_fail "Terminating seen after $SEEN_MS ms (want <= $BOUND_MS): $(e2e_status_field $IGN state)"
else
    e2e_log "Terminating visible $SEEN_MS ms after kuke delete removed the spec"
    kt_check "cell directory still there after 15 s" e2e_wait_gone "$STATE/$IGN" 15
fi

kt_case events_log_tells_pulled_started_exited
apply ev 'sleep 0.3; exit 3' 'restartPolicy: on-failure
      restartMaxRetries: 1'
EV=default/default/default/ev
for _ in $(seq 100); do
    grep -q "	Restarted	" "$STATE/$EV/events.log" 2>/dev/null &&
        [ "$(e2e_status_field $EV state)" = Failed ] && break
    sleep 0.1
done
ev=$(cat "$STATE/$EV/events.log" 2>/dev/null)
missing=
for reason in Pulled Created Started Exited BackOff Restarted; do
    grep -q "^[0-9T:.-]*Z	[A-Za-z]*	$reason	container/main	" <<<"$ev" || missing="$missing $reason"
done
kt_check "events.log lacks:$missing; holds: $(tr '\t\n' ' |' <<<"$ev")" test -z "$missing"
kt_check "an exit line with its code" grep -q "	Exited	container/main	exited with code 3" <<<"$ev"

kt_case metrics_count_ready_containers_and_their_memory
apply m1 'exec sleep 100000'
apply m2 'exec sleep 100000'
e2e_wait_state default/default/default/m1 Ready 60
e2e_wait_state default/default/default/m2 Ready 60
PROM=$STATE/_agent/metrics.prom
ready=
for _ in $(seq 120); do
    ready=$(sed -n 's/^kukeon_resources{kind="Container",state="Ready"} //p' "$PROM" 2>/dev/null)
    [ "${ready:-0}" -ge 2 ] && break
    sleep 0.1
done
running=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ls 2>/dev/null | grep -c RUNNING)
if [ "${ready:-0}" != "$running" ]; then
    kt_fail "Container Ready = '${ready}', running tasks = $running"
else
    mem=$(sed -n 's/^kukeon_container_memory_bytes{.*cell="m1".*} //p' "$PROM")
    kt_check "memory of m1: '$mem'; $(grep -c '^kukeon_container_' "$PROM") container lines" \
        test -n "$mem" -a "${mem:-0}" -gt 0
    kt_check "build_info" grep -q '^kukeon_build_info{version="[^"]*"} 1$' "$PROM"
fi

kt_case restart_shows_stopping_at_once_and_wait_returns_when_ready_again
M1=default/default/default/m1
pid=$(e2e_status_field $M1 pid)
"$K" restart cell m1 --wait --timeout 30 >"$T/restart.out" 2>&1 &
RPID=$!
T0=$(now_ms)
if ! state_within $M1 Stopping 1000; then
    kt_fail "Stopping not seen within 1 s of the restart ($SEEN_MS)"
elif ! wait $RPID; then
    kt_fail "restart --wait: $(cat "$T/restart.out")"
else
    took=$(($(now_ms) - T0))
    new=$(e2e_status_field $M1 pid)
    kt_check "after $took ms: state $(e2e_status_field $M1 state), pid $pid -> $new" \
        test "$(e2e_status_field $M1 state)" = Ready -a -n "$new" -a "$new" != "$pid"
fi

kt_case log_rotation_keeps_log_max_files
e2e_stop_agent
e2e_start_agent --stop-timeout 5 --log-max-bytes 4096 --log-max-files 3 || exit 1
apply rot 'while :; do yes x | head -c 5000; sleep 0.2; done'
ROT=default/default/default/rot
e2e_wait_state $ROT Ready 60
# Each request makes the cell reconcile, and each reconcile rotates a log
# past 4096 bytes.
for _ in 1 2 3 4 5; do
    sleep 0.5
    "$K" kill cell rot CONT --wait --timeout 10 >/dev/null 2>&1
done
L=$STATE/$ROT/containers/main.log
sizes=$(stat -c %s "$L.1" "$L.2" "$L.3" 2>/dev/null | tr '\n' ' ')
if [ ! -f "$L.3" ] || [ -e "$L.4" ]; then
    kt_fail "want main.log.1 to .3 and no .4: $(ls "$STATE/$ROT/containers" | tr '\n' ' ')"
else
    kt_check "rotated sizes: $sizes" test "$(stat -c %s "$L.3")" -gt 4096
fi

e2e_stop_agent
exit $KT_FAILED
