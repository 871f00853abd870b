#!/bin/bash
# End to end: kukeond surviving restarts — kill -9 of the agent while ten
# cells are being applied, a restart with cells running (same pids), a
# resource moved between inbox files and a file renamed (no restart), and
# containerd restarted under the agent. Root only; a private containerd
# and unique host-global names (tests/e2e/lib-agent.sh).
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1
e2e_wait_state default/default/default Ready 30

cellyaml() { # NAME
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n    - id: main\n      image: busybox\n      command: /bin/sh\n      args: ["-c", "exec sleep 100000"]\n      restartPolicy: always\n' "$1"
}
pids_of_all() { # prints "cell pid" lines
    local c
    for c in $(seq 0 9); do echo "c$c $(e2e_status_field default/default/default/c$c pid)"; done
}
all_ready() {
    local c
    for c in $(seq 0 9); do
        [ "$(e2e_status_field default/default/default/c$c state)" = Ready ] || return 1
    done
}
wait_all_ready() { # TIMEOUT_S
    local i
    for i in $(seq $(($1 * 10))); do all_ready && return 0; sleep 0.1; done
    return 1
}

kt_case kill9_while_applying_converges
for c in $(seq 0 9); do cellyaml "c$c" >"$INBOX/c$c.yaml"; done
sleep 0.4
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
e2e_start_agent
if ! wait_all_ready 90; then
    kt_fail "not all Ready: $(pids_of_all | tr '\n' ' ')"
else
    n=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q | grep -c '^default_default_c')
    tasks=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ls | grep -c 'RUNNING')
    kt_check "$n containers, $tasks running tasks (want 10 and 10)" test "$n" = 10 -a "$tasks" = 10
fi

kt_case agent_restart_keeps_all_pids
sleep 3 # let the aftermath of the kill -9 settle
wait_all_ready 30
before=$(pids_of_all)
e2e_stop_agent
e2e_start_agent
sleep 3
after=$(pids_of_all)
kt_check "pids changed: [$before] -> [$after]" test "$before" = "$after"

kt_case move_between_files_no_restart
P0=$(e2e_status_field default/default/default/c0 pid)
cat "$INBOX/c0.yaml" >"$INBOX/moved.yaml"
sleep 1
rm "$INBOX/c0.yaml"
sleep 2
P1=$(e2e_status_field default/default/default/c0 pid)
src=$(grep -o 'kukeon.io/source: .*' "$STATE/default/default/default/c0/cell.yaml")
kt_check "c0 pid $P0 -> $P1, $src" test -n "$P0" -a "$P0" = "$P1" -a "$src" = "kukeon.io/source: moved.yaml"

kt_case rename_file_no_restart
mv "$INBOX/moved.yaml" "$INBOX/renamed.yaml"
sleep 2
P2=$(e2e_status_field default/default/default/c0 pid)
src=$(grep -o 'kukeon.io/source: .*' "$STATE/default/default/default/c0/cell.yaml")
kt_check "c0 pid $P0 -> $P2 after rename, $src, state $(e2e_status_field default/default/default/c0 state)" \
    test "$P0" = "$P2" -a "$src" = "kukeon.io/source: renamed.yaml" \
    -a "$(e2e_status_field default/default/default/c0 state)" = Ready

kt_case containerd_restart_under_the_agent
before=$(pids_of_all)
e2e_containerd_down
sleep 1
e2e_containerd_up
sleep 4
after=$(pids_of_all)
if ! all_ready; then
    kt_fail "not all Ready after containerd restart"
else
    kt_check "pids changed across a containerd restart: [$before] -> [$after]" test "$before" = "$after"
fi

kt_case events_flow_after_containerd_restart
P3=$(e2e_status_field default/default/default/c3 pid)
kill -KILL "$P3"
kt_check "c3 not restarted after kill -9 of $P3 (events after reconnect)" \
    e2e_wait_new_pid default/default/default/c3 "$P3" 30

kt_case remove_all_leaves_nothing
rm -f "$INBOX"/*.yaml
for c in $(seq 0 9); do e2e_wait_gone "$STATE/default/default/default/c$c" 60; done
left=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q)
if [ -n "$left" ]; then
    kt_fail "containers left: $left"
elif [ -n "$(ls -A "$RUN/netns" 2>/dev/null)" ]; then
    kt_fail "netns left: $(ls "$RUN/netns")"
elif ip -o link show | grep -q " ${VPFX}"; then
    kt_fail "veth left"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
