#!/bin/bash
# Scenario: resources removed while kukeond is stopped. What they left on
# the host (containerd containers and tasks, the rootfs snapshot, the
# netns bind mount, the veth, the IP lease, nft rules, the cgroup) is found
# by the restarted agent, though no spec, status or inbox report names it
# any more, and taken down within seconds; a cell that stays keeps its
# task (same pid), and what another agent (other names) made is not
# touched.
#
#   gone1  default/default/default/gone1: its spec directory, inbox file
#          and report removed (nothing in the tree names it)
#   gone2  orr/ors/ork/gone2, published port: the whole realm directory
#          removed with its inbox file and report (the realm, space and
#          stack go too: cgroups, bridge, nft chains)
#   gone3  default/default/default/gone3: only its inbox file removed
#   keep   default/default/default/keep: stays, same pid
#   alien  a container labelled like ours in containerd namespace
#          "${NSP}x-default" (another agent whose prefix extends ours):
#          realm x-default is nowhere in our tree, cgroups or netns
#          directory, so it is not ours
# Root only; a private containerd and unique host-global names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"

sc_setup || exit 1
sc_import_image "${NSP}orr" || exit 1
ALIEN_NS="${NSP}x-default"
sc_import_image "$ALIEN_NS" || exit 1
sc_start_agent || exit 1

D=default/default/default
G1=$D/gone1 G2=orr/ors/ork/gone2 G3=$D/gone3 K=$D/keep
PORT=$((20000 + $$ % 10000))
sc_cell keep >"$INBOX/keep.yaml"
sc_cell gone1 >"$INBOX/gone1.yaml"
sc_cell gone3 >"$INBOX/gone3.yaml"
{
    sc_realm orr
    sc_doc_sep
    sc_space ors orr
    sc_doc_sep
    sc_stack ork ors orr
    sc_doc_sep
    sc_cell gone2 ors ork orr "$PORT:8080"
} >"$INBOX/orr.yaml"

kt_case all_ready
if sc_wait_for 90 sc_all_ready $K $G1 $G2 $G3; then
    kt_pass
else
    kt_fail "$(for k in $K $G1 $G2 $G3; do sc_is_ready "$k" || sc_describe "$k"; done | tr '\n' ';')"
    exit 1
fi

kt_case alien_container_runs
# What another agent would have made: labelled like ours, in a namespace
# that starts with our prefix.
sc_ctr -n "$ALIEN_NS" run -d --label kukeon.io/realm=x-default --label kukeon.io/space=default \
    --label kukeon.io/stack=default --label kukeon.io/cell=alien --label kukeon.io/container=web \
    docker.io/library/busybox:latest default_default_alien_web sleep 100000 >/dev/null 2>&1
kt_check "not running: $(sc_ctr -n "$ALIEN_NS" tasks ls 2>&1 | tr '\n' ';')" \
    sc_wait_for 10 'sc_ctr -n "$ALIEN_NS" tasks ls | grep -q "^default_default_alien_web .*RUNNING"'
ALIEN_PID=$(sc_ctr -n "$ALIEN_NS" tasks ls 2>/dev/null | awk '$1 == "default_default_alien_web" {print $2}')

KEEP_PID=$(sc_pid $K)
G1_IP=$(sc_ip $G1) G2_IP=$(sc_ip $G2) G3_IP=$(sc_ip $G3)
G1_VETH=$(sc_host_veth $G1) G2_VETH=$(sc_host_veth $G2) G3_VETH=$(sc_host_veth $G3)
e2e_log "gone: veths $G1_VETH $G2_VETH $G3_VETH, ips $G1_IP $G2_IP $G3_IP; keep pid $KEEP_PID"

e2e_stop_agent
rm -f "$INBOX/gone1.yaml" "$STATE/_inbox/gone1.yaml.status.yaml"
rm -rf "${STATE:?}/$G1"
rm -f "$INBOX/orr.yaml" "$STATE/_inbox/orr.yaml.status.yaml"
rm -rf "${STATE:?}/orr"
rm -f "$INBOX/gone3.yaml"
sc_start_agent || exit 1

# Every trace of the cells and of realm orr, within seconds.
kt_case removed_while_stopped_leaves_nothing
if ! left=$(SC_VETHS_LEFT=1 SC_GONE_PARENTS="orr/ors/ork orr/ors orr" \
    SC_GONE_VETHS="$G1_VETH $G2_VETH $G3_VETH" SC_GONE_IPS="$G1_IP $G2_IP $G3_IP" \
    SC_GONE_PORTS="$PORT" sc_cleanly_gone 20 $G1 $G2 $G3); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

kt_case tasks_and_snapshots_gone
# A task with no container record and an Active snapshot (the rootfs) are
# what a careless removal leaves.
out=
for ns in "$NS_DEFAULT" "${NSP}orr"; do
    t=$(sc_ctr -n "$ns" tasks ls -q 2>/dev/null | grep -E '_gone[0-9]_' | tr '\n' ' ')
    [ -z "$t" ] || out+="tasks in $ns: $t; "
    s=$(sc_ctr -n "$ns" snapshots ls 2>/dev/null | awk '$3 == "Active" {print $1}' | grep -c .)
    want=0
    [ "$ns" = "$NS_DEFAULT" ] && want=1 # keep's
    [ "$s" = "$want" ] || out+="$s active snapshots in $ns, not $want; "
done
kt_check "$out" test -z "$out"

kt_case ip_leases_released
# The lease files of the space: no gone cell's address is allocated.
out=
for ip in $G1_IP $G3_IP; do
    grep -rqwF -- "$ip" "$RUN/net" 2>/dev/null && out+="$ip still leased; "
done
# Realm orr's space is gone, with its lease file.
ls "$RUN/net" 2>/dev/null | grep -q '^orr_' && out+="lease file of orr: $(ls "$RUN/net" | grep '^orr_'); "
kt_check "$out" test -z "$out"

kt_case keep_kept_its_task
if [ "$(sc_pid $K)" != "$KEEP_PID" ]; then
    kt_fail "pid $KEEP_PID -> $(sc_pid $K)"
elif ! sc_still 2 'sc_is_ready '"$K"' && test "$(sc_pid '"$K"')" = '"$KEEP_PID"; then
    kt_fail "$(sc_describe $K)"
else
    kt_check "keep does not serve" sc_http_is hi-from-keep "http://$(sc_ip $K):8080/"
fi

kt_case alien_untouched
now=$(sc_ctr -n "$ALIEN_NS" tasks ls 2>/dev/null | awk '$1 == "default_default_alien_web" {print $2, $3}')
kt_check "alien task: '$now', was '$ALIEN_PID RUNNING'" test "$now" = "$ALIEN_PID RUNNING"
sc_ctr -n "$ALIEN_NS" tasks kill -s KILL default_default_alien_web >/dev/null 2>&1

e2e_stop_agent
exit $KT_FAILED
