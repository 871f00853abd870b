#!/bin/bash
# End to end: one runc shim per cell. A cell of three containers (a root
# and two sidecars) runs under one containerd-shim-runc-v2 process (the
# io.containerd.runc.v2.group annotation of its OCI specs, set by
# runtime/containerd/containers.c); a sidecar removed from the spec, or
# killed and restarted, leaves the others and the shim alone; the agent
# restarted adopts the same tasks; the cell removed ends the shim. Two
# cells have two shims. Root only; a private containerd and unique
# host-global names (tests/e2e/lib-agent.sh).
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1
e2e_wait_state default/default/default Ready 30

SLEEP='trap \"exit 0\" TERM; sleep 100000 & wait'
# cell NAME CONTAINER...: a cell whose containers sleep, the first the root.
cell() {
    local name=$1 id
    shift
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$name"
    for id in "$@"; do
        printf '    - id: %s\n      image: busybox\n      command: /bin/sh\n      args: ["-c", "%s"]\n      restartPolicy: always\n' \
            "$id" "$SLEEP"
    done
}
# pid_of CELL CONTAINER: the container's task pid, from containerd.
pid_of() {
    ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ls 2>/dev/null |
        awk -v id="default_default_$1_$2" '$1 == id && $3 == "RUNNING" {print $2}'
}
ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }
# shims_of CELL CONTAINER...: the distinct parents of the containers' pids.
shims_of() {
    local c=$1 id p
    shift
    for id in "$@"; do
        p=$(pid_of "$c" "$id")
        [ -n "$p" ] && ppid_of "$p"
    done | sort -u
}
is_shim() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "containerd-shim-runc-v2 .*-address $CTD_SOCK"; }
wait_for() { # TIMEOUT_S COMMAND...: polls COMMAND every 0.1 s
    local i n=$(($1 * 10))
    shift
    for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
    return 1
}
all_running() { # CELL CONTAINER...
    local c=$1 id
    shift
    for id in "$@"; do [ -n "$(pid_of "$c" "$id")" ] || return 1; done
}

G=default/default/default/grp
kt_case three_containers_one_shim
cell grp main side1 side2 >"$INBOX/grp.yaml"
if ! e2e_wait_state $G Ready 60 || ! wait_for 10 all_running grp main side1 side2; then
    kt_fail "grp not Ready: $(e2e_status_field $G reason) $(e2e_status_field $G message)"
    exit 1
fi
SHIMS=$(shims_of grp main side1 side2)
SHIM=$SHIMS
one_shim() { [ "$(echo "$SHIMS" | wc -w)" = 1 ] && is_shim "$SHIM"; }
kt_check "shims of grp: [$(echo $SHIMS)] (want one containerd-shim-runc-v2)" one_shim
label=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers info default_default_grp_side1 2>/dev/null |
    grep -c '"io.containerd.runc.v2.group": "default_default_grp"')
kt_check "container side1 lacks the group label" test "$label" -ge 1

kt_case second_cell_has_its_own_shim
cell solo main >"$INBOX/solo.yaml"
if e2e_wait_state default/default/default/solo Ready 60 && wait_for 10 all_running solo main; then
    S2=$(shims_of solo main)
    kt_check "solo's shim [$S2] vs grp's [$SHIM]" test -n "$S2" -a "$S2" != "$SHIM"
else
    kt_fail "solo not Ready"
fi
rm -f "$INBOX/solo.yaml"

kt_case killed_sidecar_restarts_in_the_same_shim
P_MAIN=$(pid_of grp main) P_S2=$(pid_of grp side2) P_S1=$(pid_of grp side1)
kill -KILL "$P_S1"
wait_for 30 sh -c "p=\$(ctr -a '$CTD_SOCK' -n '$NS_DEFAULT' tasks ls | awk '\$1 == \"default_default_grp_side1\" && \$3 == \"RUNNING\" {print \$2}'); [ -n \"\$p\" ] && [ \"\$p\" != $P_S1 ]"
NEW_S1=$(pid_of grp side1)
kt_check "side1 $P_S1 -> [$NEW_S1] under [$(ppid_of "${NEW_S1:-0}")], main $P_MAIN -> [$(pid_of grp main)], side2 $P_S2 -> [$(pid_of grp side2)], shim $SHIM" \
    test -n "$NEW_S1" -a "$NEW_S1" != "$P_S1" -a "$(ppid_of "${NEW_S1:-0}")" = "$SHIM" \
    -a "$(pid_of grp main)" = "$P_MAIN" -a "$(pid_of grp side2)" = "$P_S2"

kt_case agent_restart_adopts_grouped_tasks
before="$(pid_of grp main) $(pid_of grp side1) $(pid_of grp side2)"
e2e_stop_agent
e2e_start_agent
sleep 3
e2e_wait_state $G Ready 30
after="$(pid_of grp main) $(pid_of grp side1) $(pid_of grp side2)"
st_pids=$(sed -n 's/^ *pid: //p' "$STATE/$G/status.yaml" | sort -n | tr '\n' ' ')
kt_check "pids [$before] -> [$after], status pids [$st_pids], state $(e2e_status_field $G state)" \
    test "$before" = "$after" -a "$(e2e_status_field $G state)" = Ready \
    -a "$st_pids" = "$(echo $after | tr ' ' '\n' | sort -n | tr '\n' ' ')"

kt_case removed_sidecar_leaves_the_others_and_the_shim
P_MAIN=$(pid_of grp main) P_S1=$(pid_of grp side1)
cell grp main side1 >"$INBOX/grp.yaml"
gone() { ! ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q | grep -qx default_default_grp_side2; }
wait_for 30 gone
others_kept() { gone && [ "$(pid_of grp main)" = "$P_MAIN" ] && [ "$(pid_of grp side1)" = "$P_S1" ] && is_shim "$SHIM"; }
kt_check "side2 still there, or main $P_MAIN -> [$(pid_of grp main)], side1 $P_S1 -> [$(pid_of grp side1)], shim $SHIM alive: $(is_shim "$SHIM" && echo yes || echo no)" \
    others_kept

kt_case last_removal_ends_the_shim
rm -f "$INBOX/grp.yaml"
wait_for 60 sh -c "! test -e '$STATE/$G'"
shim_gone() { ! is_shim "$SHIM"; }
wait_for 20 shim_gone
kt_check "shim $SHIM still running after grp was removed (cell dir present: $(test -e "$STATE/$G" && echo yes || echo no))" \
    shim_gone

e2e_stop_agent
exit $KT_FAILED
