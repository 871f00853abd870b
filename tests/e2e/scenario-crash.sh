#!/bin/bash
# Scenario: the agent killed with SIGKILL while ten cells are being
# applied (at the first container created, then again half way), then
# started again: all ten converge to Ready, with no
# duplicates (exactly ten containers, tasks, shims, netns, veths, IPs,
# cgroups) and no orphans. Then SIGKILL again with the ten running: the
# restarted agent adopts them, same pids. Removing the files leaves
# nothing.
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
N=10
CELLS=$(for i in $(seq $N); do echo $D/c$i; done)
kill9_agent() {
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}
# The restarted agent has scanned and counts N Ready cells
# (_agent/status.yaml, written by this agent process).
agent_settled() { # [COUNT, default N]
    local f=$STATE/_agent/status.yaml
    grep -q "^  pid: $AGENT_PID\$" "$f" 2>/dev/null && grep -q lastFullScan "$f" &&
        [ "$(awk '$1 == "cells:" {c = 1} c && $1 == "Ready:" {print $2; exit}' "$f")" = "${1:-$N}" ]
}
# The shims our containerd runs (by its socket on their command line).
shims() { ps -eo args= | grep -F -- "$CTD_SOCK" | grep -c '^[^ ]*containerd-shim'; }
# One line per trace of duplication: counts of everything a cell owns.
census() {
    local ids ips
    ids=$(sc_ctr -n $NS_DEFAULT containers ls -q 2>/dev/null | sort | tr '\n' ' ')
    [ "$ids" = "$(for i in $(seq $N); do echo default_default_c${i}_web; done | sort | tr '\n' ' ')" ] ||
        echo "containers: $ids"
    [ "$(sc_running_count $NS_DEFAULT)" = $N ] || echo "running tasks: $(sc_running_count $NS_DEFAULT)"
    [ "$(shims)" = $N ] || echo "shims: $(shims)"
    [ "$(ls "$RUN/netns" | wc -l)" = $N ] || echo "netns: $(ls "$RUN/netns" | tr '\n' ' ')"
    [ "$(ip -o link show | grep -c ": $VPFX")" = $N ] || echo "veths: $(ip -o link show | grep -c ": $VPFX")"
    ips=$(for k in $CELLS; do sc_ip "$k"; done | sort -u | grep -c .)
    [ "$ips" = $N ] || echo "distinct IPs: $ips"
    local cg
    cg=$(e2e_cgroup_dir "/$CGROOT/$D")
    [ "$(find "$cg" -mindepth 1 -maxdepth 1 -type d | wc -l)" = $N ] ||
        echo "cell cgroups: $(ls "$cg" | tr '\n' ' ')"
    local k p t
    for k in $CELLS; do
        p=$(sc_pid "$k")
        # The status pid is the task containerd runs, in the cell's leaf.
        t=$(sc_ctr -n $NS_DEFAULT tasks ls 2>/dev/null | awk -v id="default_default_${k##*/}_web" '$1 == id {print $2}')
        [ -n "$p" ] && [ "$p" = "$t" ] || echo "$k: status pid '$p', task pid '$t'"
        [ "$(e2e_cgroup_of "$p" 2>/dev/null)" = "/$CGROOT/$k/web_root" ] ||
            echo "$k: pid $p in cgroup '$(e2e_cgroup_of "$p" 2>/dev/null)'"
    done
}

ready_count() {
    local k n=0
    for k in $CELLS; do sc_is_ready "$k" && n=$((n + 1)); done
    echo $n
}

kt_case kill9_while_applying
# One worker, so the ten are applied one after another and a kill at the
# first container created lands in the middle. The kill follows the log
# line within ~10 ms (a tight poll: ctr is too slow to notice in time).
e2e_stop_agent
sc_start_agent --workers 1 || exit 1
e2e_wait_state default/default/default Ready 30
MARK=$(wc -l <"$T/agent.log")
for i in $(seq $N); do sc_cell c$i >"$INBOX/c$i.yaml"; done
deadline=$((SECONDS + 30))
until tail -n +$((MARK + 1)) "$T/agent.log" | grep -q ': container web created'; do
    [ $SECONDS -ge $deadline ] && break
    sleep 0.01
done
kill9_agent
AT_KILL="$(sc_ctr_count $NS_DEFAULT) containers, $(sc_running_count $NS_DEFAULT) running, $(ready_count) Ready"
e2e_log "agent killed with $AT_KILL"
if [ "$(sc_ctr_count $NS_DEFAULT)" = 0 ]; then
    kt_fail "killed before anything was created ($AT_KILL)"
elif [ "$(ready_count)" -ge $N ]; then
    kt_fail "the kill came too late to test anything ($AT_KILL)"
else
    kt_pass
fi

kt_case kill9_again_halfway
# Restarted, and killed again once half the cells are Ready: some run,
# some are being created, some not begun.
sc_start_agent --workers 1 || exit 1
deadline=$((SECONDS + 60))
until [ "$(ready_count)" -ge $((N / 2)) ] || [ $SECONDS -ge $deadline ]; do sleep 0.01; done
kill9_agent
AT_KILL="$(sc_ctr_count $NS_DEFAULT) containers, $(sc_running_count $NS_DEFAULT) running, $(ready_count) Ready"
e2e_log "agent killed again with $AT_KILL"
if [ "$(ready_count)" -lt $((N / 2)) ]; then
    kt_fail "never got half way ($AT_KILL)"
elif [ "$(ready_count)" -ge $N ]; then
    kt_fail "the kill came too late to test anything ($AT_KILL)"
else
    kt_pass
fi

kt_case restart_converges_all
sc_start_agent || exit 1
if sc_wait_for 90 sc_all_ready $CELLS; then
    kt_pass
else
    kt_fail "$(for k in $CELLS; do sc_is_ready "$k" || sc_describe "$k"; done | tr '\n' ';')"
fi

kt_case no_duplicates_no_orphans
# Give a late duplicate or a late cleanup time to show, then count.
sc_wait_for 10 'test -z "$(census)"'
out=$(census)
e2e_log "census: $(sc_ctr_count $NS_DEFAULT) containers, $(shims) shims, $(ls "$RUN/netns" | wc -l) netns"
kt_check "$(tr '\n' ';' <<<"$out")" test -z "$out"

kt_case every_cell_serves
bad=
for k in $CELLS; do
    sc_http_is "hi-from-${k##*/}" "http://$(sc_ip "$k"):8080/" || bad+="$k "
done
kt_check "no answer from: $bad" test -z "$bad"

kt_case kill9_with_cells_running_keeps_pids
PIDS=$(sc_pids $CELLS)
kill9_agent
MARK=$(wc -l <"$T/agent.log")
sc_start_agent || exit 1
if ! sc_wait_for 30 agent_settled; then
    kt_fail "the restarted agent never reported $N Ready cells: $(tr '\n' ' ' <"$STATE/_agent/status.yaml")"
elif ! sc_still 2 'test "$(sc_pids $CELLS)" = "$PIDS"'; then
    kt_fail "pids changed: $PIDS -> $(sc_pids $CELLS)"
elif ! sc_all_ready $CELLS; then
    kt_fail "not all Ready after adoption"
else
    out=$(census)
    kt_check "$(tr '\n' ';' <<<"$out")" test -z "$out"
fi

# Regression test (was a known bug, intermittent): a restarted agent wrote
# "Pending WaitingForParent" into the status of cells that never stopped
# running, for ~100 ms, until their stack was Ready in its memory again: a
# cell that looked at its stack while the stack's reconcile was finishing
# read "not Ready" and then "state written" and took the pair for a stack
# found not Ready in this run (agent/parents.c agent_parent_ready). Here
# every status.yaml is watched (inotify, read within a millisecond of each
# rename) across four restarts, SIGKILL and SIGTERM in turn, with the ten
# default cells and three more under a realm, space and stack of their own:
# no resource may be written anything but Ready, not even once.
FL=flr/fls/flk
FCELLS="$FL/f1 $FL/f2 $FL/f3"
FPARENTS="flr flr/fls $FL"
sc_import_image "${NSP}flr" || exit 1
kt_case adoption_does_not_flap_status
{
    sc_realm flr
    sc_doc_sep
    sc_space fls flr
    sc_doc_sep
    sc_stack flk fls flr
    for c in f1 f2 f3; do
        sc_doc_sep
        sc_cell $c fls flk flr
    done
} >"$INBOX/flap.yaml"
flaps=
if ! sc_wait_for 60 sc_all_ready $CELLS $FCELLS || ! sc_all_in Ready $FPARENTS; then
    flaps="never Ready: $(for k in $FPARENTS $FCELLS; do sc_is_ready "$k" || sc_describe "$k"; done | tr '\n' ';')"
fi
PIDS=$(sc_pids $CELLS $FCELLS)
for round in 1 2 3 4; do
    [ -z "$flaps" ] || break
    if ! sc_watch_status_start "$T/watch.$round"; then
        flaps="inotifywait did not start: $(cat "$T/watch.err")"
        break
    fi
    MARK=$(wc -l <"$T/agent.log")
    if [ $((round % 2)) = 1 ]; then kill9_agent; else e2e_stop_agent; fi
    sc_start_agent || exit 1
    if ! sc_wait_for 30 agent_settled $((N + 3)); then
        flaps="round $round: the agent never reported $((N + 3)) Ready cells"
    fi
    # Late writes (a parked key woken after the count) have a second to show.
    sleep 1
    sc_watch_status_stop
    bad=$(awk '$2 != "Ready"' "$T/watch.$round" | sort | uniq -c | head -5 | tr -s ' \n' ' ')
    [ -n "$bad" ] && flaps+="round $round: written to disk: $bad; "
    bad=$(tail -n +$((MARK + 1)) "$T/agent.log" |
        grep -E "(default|flr)(/[a-z0-9-]+){0,3}: (Pending|Failed|Unknown|Stopped|Paused)" | head -3 | tr '\n' ';')
    [ -n "$bad" ] && flaps+="round $round: logged: $bad "
    [ "$(sc_pids $CELLS $FCELLS)" = "$PIDS" ] || flaps+="round $round: pids changed: $PIDS -> $(sc_pids $CELLS $FCELLS) "
    e2e_log "round $round: $(wc -l <"$T/watch.$round") status writes seen, all Ready: $([ -z "$flaps" ] && echo yes || echo no)"
done
kt_check "$flaps" test -z "$flaps"

kt_case flap_hierarchy_removed
rm -f "$INBOX/flap.yaml"
if ! left=$(SC_VETHS_LEFT=$N SC_GONE_PARENTS="$FPARENTS" sc_cleanly_gone 60 $FCELLS); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

kt_case remove_leaves_nothing
rm -f "$INBOX"/c*.yaml
if ! left=$(sc_cleanly_gone 60 $CELLS); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif [ "$(shims)" != 0 ]; then
    kt_fail "$(shims) shims left"
elif ! left=$(sc_only_defaults); then
    kt_fail "beyond the defaults: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

# Regression test (was a bug, seen once in ~8 runs of this scenario; made deterministic
# here): a SIGKILL between the temp file and the rename of an atomic
# write of a cell's hosts files leaves .hosts.<suffix> in
# <run-dir>/cells/<cell>/; on deletion agent/cell.c delete_cell()
# unlinks only hosts, hostname and resolv.conf and ignores rmdir's
# ENOTEMPTY, so the directory stays for ever.
kt_case crash_litter_in_run_files_removed
sc_cell cz >"$INBOX/cz.yaml"
if ! sc_wait_for 60 sc_all_ready $D/cz; then
    kt_fail "$(sc_describe $D/cz)"
else
    echo "127.0.0.1 localhost" >"$RUN/cells/default_default_default_cz/.hosts.crashed"
    rm -f "$INBOX/cz.yaml"
    if ! left=$(sc_cleanly_gone 30 $D/cz); then
        kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
    else
        kt_pass
    fi
fi

e2e_stop_agent
exit $KT_FAILED
