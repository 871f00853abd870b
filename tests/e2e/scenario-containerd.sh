#!/bin/bash
# Scenario: containerd restarted under a running agent. A clean restart
# (SIGTERM, start again): the tasks survive in their shims, the agent
# reports the connection lost and back, the cells stay Ready with the same
# pids. A crash (SIGKILL of containerd, its shims and their tasks, then
# start again): the agent reconnects, restarts the cells under restartPolicy
# always, and status.yaml tells the truth (Ready, new pids that are the
# tasks' pids, HTTP answers). Removing the files leaves nothing.
#
# Regression tests: containerd stopped is reported (connected: false) while
# it is away; a task that vanished in a crash counts as a restart.
# Root only; a private containerd and unique host-global names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"

sc_setup || exit 1
sc_start_agent || exit 1

D=default/default/default
CELLS="$D/k1 $D/k2 $D/k3"
connected_is() { grep -q "connected: $1\$" "$STATE/_agent/status.yaml" 2>/dev/null; }
task_pid() { # KEY: the pid containerd reports for the cell's web task
    sc_ctr -n $NS_DEFAULT tasks ls 2>/dev/null |
        awk -v id="default_default_${1##*/}_web" '$1 == id && $3 == "RUNNING" {print $2}'
}
# Every cell Ready, its status pid the running task's, serving HTTP.
status_true() {
    local k
    for k in $CELLS; do
        sc_all_ready "$k" && [ "$(sc_pid "$k")" = "$(task_pid "$k")" ] &&
            sc_http_is "hi-from-${k##*/}" "http://$(sc_ip "$k"):8080/" || return 1
    done
}
explain() {
    local k
    for k in $CELLS; do echo "$(sc_describe "$k") task=$(task_pid "$k")"; done | tr '\n' ';'
}

kt_case cells_ready
{ sc_cell k1 && sc_doc_sep && sc_cell k2 && sc_doc_sep && sc_cell k3; } >"$INBOX/k.yaml"
if sc_wait_for 60 sc_all_ready $CELLS && sc_wait_for 10 connected_is true; then
    kt_pass
else
    kt_fail "$(explain)"
fi
PIDS=$(sc_pids $CELLS)

reconnects() { grep -c 'containerd: reconnected' "$T/agent.log"; }

sc_containerd_stop TERM
kt_case clean_restart_reported_as_disconnected
if ! sc_wait_for 15 connected_is false; then
    kt_fail "_agent/status.yaml still says connected with containerd stopped"
else
    kt_pass
fi

kt_case clean_restart_keeps_tasks
sc_containerd_start
if ! sc_wait_for 30 'test "$(reconnects)" = 1' || ! sc_wait_for 10 connected_is true; then
    kt_fail "the agent did not reconnect: $(grep -i containerd "$T/agent.log" | tail -3 | tr '\n' ';')"
elif ! sc_wait_for 10 status_true; then
    kt_fail "$(explain)"
elif [ "$(sc_pids $CELLS)" != "$PIDS" ]; then
    kt_fail "tasks that survived were restarted: $PIDS -> $(sc_pids $CELLS)"
else
    kt_pass
fi

kt_case crash_tasks_restarted_with_new_pids
SHIMS=$(sc_shim_pids)
sc_containerd_stop KILL
# What a crash of the host's container stack leaves: nothing running.
kill -KILL $SHIMS $(for k in $CELLS; do sc_pid "$k"; done) 2>/dev/null
sc_wait_for 10 'test -z "$(sc_shim_pids)"'
sc_containerd_start
restarted() {
    local k
    for k in $CELLS; do
        [ "$(sc_pid "$k")" != "$(grep -o "$k=[0-9]*" <<<"$PIDS" | cut -d= -f2)" ] || return 1
    done
    status_true
}
if [ -z "$SHIMS" ]; then
    kt_fail "no shims of our containerd found (the crash would test nothing)"
elif ! sc_wait_for 30 'test "$(reconnects)" = 2'; then
    kt_fail "the agent did not resubscribe after the crash: $(grep -i containerd "$T/agent.log" | tail -3 | tr '\n' ';')"
elif ! sc_wait_for 60 restarted; then
    kt_fail "$(explain) (before: $PIDS)"
elif ! sc_wait_for 10 connected_is true; then
    kt_fail "_agent/status.yaml does not say connected"
else
    kt_pass
fi

kt_case crash_restart_counted
# Each container died once (killed) and was started again.
bad=
for k in $CELLS; do
    [ "$(e2e_status_field "$k" restartCount)" = 1 ] || bad+="$k restartCount=$(e2e_status_field "$k" restartCount) "
done
kt_check "$bad" test -z "$bad"

kt_case no_duplicates_after_crash
ids=$(sc_ctr -n $NS_DEFAULT containers ls -q | sort | tr '\n' ' ')
if [ "$ids" != "default_default_k1_web default_default_k2_web default_default_k3_web " ]; then
    kt_fail "containers: $ids"
elif [ "$(sc_shim_pids | wc -l)" != 3 ]; then
    kt_fail "shims: $(sc_shim_pids | wc -l)"
elif [ "$(ls "$RUN/netns" | wc -l)" != 3 ]; then
    kt_fail "netns: $(ls "$RUN/netns" | tr '\n' ' ')"
else
    kt_pass
fi

kt_case remove_leaves_nothing
rm -f "$INBOX/k.yaml"
if ! left=$(sc_cleanly_gone 60 $CELLS); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif [ -n "$(sc_shim_pids)" ]; then
    kt_fail "shims left: $(sc_shim_pids | tr '\n' ' ')"
elif ! left=$(sc_only_defaults); then
    kt_fail "beyond the defaults: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
