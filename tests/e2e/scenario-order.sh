#!/bin/bash
# Scenario: files dropped in child-before-parent order, one per resource,
# in a realm of its own: the Cell, a standalone Container of it, the Stack,
# the Space and last the Realm. Every resource waits as Pending
# (WaitingForParent) until its parent appears, then all converge to Ready:
# the cell serves HTTP, the sidecar shares its netns, the containers live
# in the realm's containerd namespace. Removing the files, parents first,
# leaves nothing.
#
# The Container file comes first of all: its cell has no spec yet, so it
# waits (the agent keeps containers/side.yaml and reports it
# Pending/WaitingForParent in the cell's status).
# Root only; a private containerd and unique host-global names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"

sc_setup || exit 1
# The realm's containerd namespace needs the image too (no registry here).
sc_import_image "${NSP}late" || exit 1
sc_start_agent || exit 1

CELL=late/sp/st/c1
SIDE_FILE=$INBOX/10-side.yaml
pending_waiting() {
    [ "$(sc_state "$1")" = Pending ] && [ "$(e2e_status_field "$1" reason)" = WaitingForParent ]
}
# container_pid KEY ID: the pid of container ID in the cell's status.
container_pid() {
    awk -v id="$2" '$1 == "-" && $2 == "id:" {cur = $3} cur == id && $1 == "pid:" {print $2; exit}' \
        "$STATE/$1/status.yaml" 2>/dev/null
}

drop_side() {
    printf 'apiVersion: v1beta1\nkind: Container\nmetadata:\n  name: side\nspec:\n  realmId: late\n  spaceId: sp\n  stackId: st\n  cellId: c1\n  image: busybox\n  command: /bin/sh\n  args: ["-c", "exec sleep 3600"]\n  restartPolicy: always\n' \
        >"$SIDE_FILE"
    # Nothing can run yet; the file is valid and reported as such.
    if ! sc_wait_for 10 grep -q 'valid: true' "$STATE/_inbox/10-side.yaml.status.yaml"; then
        kt_fail "no valid report for the container file: $(cat "$STATE/_inbox/10-side.yaml.status.yaml" 2>&1)"
    elif [ "$(sc_ctr_count ${NSP}late)" != 0 ]; then
        kt_fail "containers in ${NSP}late before their cell: $(sc_ctr -n ${NSP}late containers ls -q)"
    else
        kt_pass
    fi
}

kt_case container_before_its_cell
drop_side

kt_case cell_waits_for_stack
sc_cell c1 sp st late >"$INBOX/20-cell.yaml"
kt_check "$(sc_describe $CELL)" sc_wait_for 10 pending_waiting $CELL

kt_case stack_waits_for_space
sc_stack st sp late >"$INBOX/30-stack.yaml"
if ! sc_wait_for 10 pending_waiting late/sp/st; then
    kt_fail "$(sc_describe late/sp/st)"
else
    kt_check "cell moved on without its parents: $(sc_describe $CELL)" pending_waiting $CELL
fi

kt_case space_waits_for_realm
sc_space sp late >"$INBOX/40-space.yaml"
if ! sc_wait_for 10 pending_waiting late/sp; then
    kt_fail "$(sc_describe late/sp)"
elif ! pending_waiting $CELL || ! pending_waiting late/sp/st; then
    kt_fail "children moved on without the realm: $(sc_describe late/sp/st); $(sc_describe $CELL)"
elif [ "$(sc_ctr_count ${NSP}late)" != 0 ]; then
    kt_fail "containers created before the realm exists"
else
    kt_pass
fi

kt_case realm_last_all_converge
sc_realm late >"$INBOX/50-realm.yaml"
if ! sc_wait_for 60 sc_all_in Ready late late/sp late/sp/st; then
    kt_fail "parents: $(sc_describe late); $(sc_describe late/sp); $(sc_describe late/sp/st)"
elif ! sc_wait_for 60 sc_all_ready $CELL; then
    kt_fail "$(sc_describe $CELL)"
else
    kt_pass
fi

kt_case converged_cell_serves_and_sidecar_joins
IP=$(sc_ip $CELL)
ROOT=$(container_pid $CELL web)
sc_wait_for 20 'test -n "$(container_pid $CELL side)"'
SIDE=$(container_pid $CELL side)
if ! sc_http_is hi-from-c1 "http://$IP:8080/"; then
    kt_fail "http://$IP:8080/ answered '$(sc_http "http://$IP:8080/")'"
elif [ -z "$SIDE" ] || [ ! -d "/proc/$SIDE" ]; then
    kt_fail "the standalone container does not run: $(grep -E '^ *(- id|state|pid):' "$STATE/$CELL/status.yaml" | tr -s ' \n' ' ')"
elif [ "$(readlink "/proc/$ROOT/ns/net")" != "$(readlink "/proc/$SIDE/ns/net")" ]; then
    kt_fail "side ($SIDE) is not in the root's ($ROOT) netns"
elif [ "$(sc_ctr -n ${NSP}late containers ls -q | sort | tr '\n' ' ')" != "sp_st_c1_side sp_st_c1_web " ]; then
    kt_fail "${NSP}late holds: $(sc_ctr -n ${NSP}late containers ls -q | tr '\n' ' ')"
elif [ "$(sc_ctr_count $NS_DEFAULT)" != 0 ]; then
    kt_fail "containers in $NS_DEFAULT: $(sc_ctr -n $NS_DEFAULT containers ls -q)"
else
    kt_pass
fi

kt_case remove_parents_first_leaves_nothing
VETH=$(sc_host_veth $CELL)
rm -f "$INBOX/50-realm.yaml" "$INBOX/40-space.yaml" "$INBOX/30-stack.yaml" "$INBOX/20-cell.yaml" "$SIDE_FILE"
if ! left=$(SC_GONE_VETHS=$VETH SC_GONE_IPS=$IP SC_GONE_PARENTS="late late/sp late/sp/st" \
    sc_cleanly_gone 60 $CELL); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif ! left=$(sc_only_defaults); then
    kt_fail "beyond the defaults: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
