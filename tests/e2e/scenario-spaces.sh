#!/bin/bash
# Scenario: two spaces, two cells in each. Same-space cells reach each
# other, cross-space cells cannot (both directions), a published port
# answers on the host's 127.0.0.1 and on its own address, and removing the
# manifests leaves nothing on the host: no containerd container or active
# snapshot, netns, veth, extra bridge, nft chain/rule, cgroup directory (in
# every hierarchy) or state directory.
# Root only; a private containerd and unique host-global names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"

sc_setup || exit 1
sc_start_agent || exit 1

# A host port no other run of this test uses.
PORT=$((30000 + $$ % 20000))
RA=default/red/default/ra RB=default/red/default/rb
BA=default/blue/default/ba BB=default/blue/default/bb
CELLS="$RA $RB $BA $BB"

kt_case spaces_and_cells_ready
{
    sc_space red && sc_doc_sep && sc_stack default red && sc_doc_sep
    sc_space blue && sc_doc_sep && sc_stack default blue
} >"$INBOX/spaces.yaml"
{ sc_cell ra red && sc_doc_sep && sc_cell rb red; } >"$INBOX/red.yaml"
{ sc_cell ba blue default default "$PORT:8080" && sc_doc_sep && sc_cell bb blue; } >"$INBOX/blue.yaml"
if ! sc_wait_for 60 sc_all_ready $CELLS; then
    kt_fail "not all Ready: $(for k in $CELLS; do sc_describe "$k"; done)"
else
    kt_pass
fi

kt_case spaces_have_distinct_subnets_and_bridges
SUB_R=$(e2e_status_field default/red subnet) SUB_B=$(e2e_status_field default/blue subnet)
BR_R=$(e2e_status_field default/red bridge) BR_B=$(e2e_status_field default/blue bridge)
IP_RA=$(sc_ip $RA) IP_RB=$(sc_ip $RB) IP_BA=$(sc_ip $BA) IP_BB=$(sc_ip $BB)
in_subnet() { [ "${1%.*}" = "${2%.*}" ]; } # IP, a.b.c.0/24 (the default size)
if [ -z "$SUB_R" ] || [ "$SUB_R" = "$SUB_B" ] || [ -z "$BR_R" ] || [ "$BR_R" = "$BR_B" ]; then
    kt_fail "red $SUB_R on '$BR_R', blue $SUB_B on '$BR_B'"
elif ! in_subnet "$IP_RA" "${SUB_R%/*}" || ! in_subnet "$IP_RB" "${SUB_R%/*}" ||
    ! in_subnet "$IP_BA" "${SUB_B%/*}" || ! in_subnet "$IP_BB" "${SUB_B%/*}"; then
    kt_fail "cell IPs $IP_RA $IP_RB (red $SUB_R) $IP_BA $IP_BB (blue $SUB_B)"
elif ! ip -o link show "$BR_R" >/dev/null 2>&1 || ! ip -o link show "$BR_B" >/dev/null 2>&1; then
    kt_fail "bridge $BR_R or $BR_B missing"
else
    kt_pass
fi

kt_case same_space_cells_reach_each_other
r1=$(sc_http "http://$IP_RB:8080/" "$(sc_netns $RA)")
r2=$(sc_http "http://$IP_RA:8080/" "$(sc_netns $RB)")
b1=$(sc_http "http://$IP_BB:8080/" "$(sc_netns $BA)")
b2=$(sc_http "http://$IP_BA:8080/" "$(sc_netns $BB)")
if [ "$r1 $r2 $b1 $b2" != "hi-from-rb hi-from-ra hi-from-bb hi-from-ba" ]; then
    kt_fail "ra->rb '$r1', rb->ra '$r2', ba->bb '$b1', bb->ba '$b2'"
else
    kt_pass
fi

kt_case cross_space_cells_cannot
# The targets answered a same-space peer just above, so silence here is
# the firewall, not a dead server. TCP and ICMP, both directions.
x1=$(sc_http "http://$IP_BA:8080/" "$(sc_netns $RA)")
x2=$(sc_http "http://$IP_RB:8080/" "$(sc_netns $BB)")
if [ -n "$x1$x2" ]; then
    kt_fail "red reached blue: '$x1'; blue reached red: '$x2'"
elif nsenter --net="$(sc_netns $RA)" ping -c 1 -W 1 "$IP_BB" >/dev/null 2>&1; then
    kt_fail "ra pings bb across spaces"
elif ! nsenter --net="$(sc_netns $RA)" ping -c 1 -W 1 "$IP_RB" >/dev/null 2>&1; then
    kt_fail "ra does not even ping rb in its own space (the ping check is void)"
else
    kt_pass
fi

kt_case published_port_on_host_localhost
kt_check "127.0.0.1:$PORT answered '$(sc_http "http://127.0.0.1:$PORT/")'" \
    sc_http_is hi-from-ba "http://127.0.0.1:$PORT/"

kt_case published_port_on_host_address
HOST_IP=$(sc_host_ip)
if [ -z "$HOST_IP" ]; then
    kt_fail "no global IPv4 address on the host"
else
    kt_check "$HOST_IP:$PORT answered '$(sc_http "http://$HOST_IP:$PORT/")'" \
        sc_http_is hi-from-ba "http://$HOST_IP:$PORT/"
fi

kt_case published_port_not_from_unpublished_cell
# Only ba publishes: the port on the host must lead to ba, never to bb.
kt_check "127.0.0.1:$PORT is not ba" test "$(sc_http "http://127.0.0.1:$PORT/")" != hi-from-bb

kt_case remove_leaves_nothing
VETHS=$(for k in $CELLS; do sc_host_veth "$k"; done)
rm -f "$INBOX/red.yaml" "$INBOX/blue.yaml" "$INBOX/spaces.yaml"
SC_GONE_PARENTS="default/red default/blue default/red/default default/blue/default"
SC_GONE_IPS="$IP_RA $IP_RB $IP_BA $IP_BB ${SUB_R%/*} ${SUB_B%/*}"
SC_GONE_PORTS=$PORT
SC_GONE_VETHS=$VETHS
if [ "$(wc -w <<<"$VETHS")" != 4 ]; then
    kt_fail "host veths of the 4 cells: '$VETHS'"
elif ! left=$(sc_cleanly_gone 60 $CELLS); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif ip -o link show "$BR_R" >/dev/null 2>&1 || ip -o link show "$BR_B" >/dev/null 2>&1; then
    kt_fail "bridge $BR_R or $BR_B left"
elif ip -4 route | grep -qE "^(${SUB_R%/*}|${SUB_B%/*})/"; then
    kt_fail "route left: $(ip -4 route | grep -E "^(${SUB_R%/*}|${SUB_B%/*})/")"
elif [ -n "$(sc_http "http://127.0.0.1:$PORT/")" ]; then
    kt_fail "127.0.0.1:$PORT still answers"
elif ! left=$(sc_only_defaults); then
    kt_fail "beyond the defaults: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
