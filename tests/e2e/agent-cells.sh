#!/bin/bash
# End to end: kukeond behaviours beyond one cell — a sidecar on localhost,
# child-before-parent order, space isolation, on-failure retries, sticky
# ctl stop across an agent restart. Root only; a private containerd and
# unique host-global names (tests/e2e/lib-agent.sh).
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1
e2e_wait_state default/default/default Ready 30

# A cell: NAME SPACE, then containers as "id|root|policy|script" lines.
cell() {
    local name=$1 space=$2
    shift 2
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  spaceId: %s\n  containers:\n' \
        "$name" "$space"
    local c id root policy script
    for c in "$@"; do
        IFS='|' read -r id root policy script <<<"$c"
        printf '    - id: %s\n      image: busybox\n      root: %s\n      command: /bin/sh\n' "$id" "$root"
        printf '      args: ["-c", "%s"]\n' "$script"
        [ -n "$policy" ] && printf '      %s\n' "$policy"
    done
}
HTTPD='mkdir -p /w && echo hi-from-$(hostname) > /w/index.html && exec httpd -f -p 8080 -h /w'

kt_case sidecar_reaches_root_on_localhost
cell duo default "web|true|restartPolicy: always|$HTTPD" \
    "side|false||sleep 1; wget -q -O - http://localhost:8080/; exec sleep 3600" >"$INBOX/duo.yaml"
DUO=default/default/default/duo
if ! e2e_wait_state $DUO Ready 60; then
    kt_fail "duo not Ready: $(e2e_status_field $DUO message)"
else
    log=$STATE/$DUO/containers/side.log
    for _ in $(seq 50); do grep -q hi-from-duo "$log" 2>/dev/null && break; sleep 0.1; done
    kt_check "sidecar log lacks the root's page: $(cat "$log" 2>&1)" grep -q hi-from-duo "$log"
fi

kt_case sidecar_shares_the_netns
p1=$(sed -n 's/^ *pid: //p' "$STATE/$DUO/status.yaml" | sed -n 1p)
p2=$(sed -n 's/^ *pid: //p' "$STATE/$DUO/status.yaml" | sed -n 2p)
kt_check "netns of $p1 and $p2 differ" \
    test -n "$p2" -a "$(readlink /proc/$p1/ns/net)" = "$(readlink /proc/$p2/ns/net)"

kt_case child_before_parent_converges
cell iso s2 "web|true|restartPolicy: always|$HTTPD" >"$INBOX/iso.yaml"
ISO=default/s2/default/iso
e2e_wait_state $ISO Pending 10
reason=$(e2e_status_field $ISO reason)
printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: s2\n---\napiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: default\nspec:\n  spaceId: s2\n' \
    >"$INBOX/s2.yaml"
if [ "$reason" != WaitingForParent ]; then
    kt_fail "cell before its space: reason '$reason', not WaitingForParent"
else
    kt_check "iso not Ready after its space came: $(e2e_status_field $ISO message)" \
        e2e_wait_state $ISO Ready 60
fi

kt_case spaces_are_isolated
IP_DUO=$(e2e_status_field $DUO ip)
IP_ISO=$(e2e_status_field $ISO ip)
HOST_OK=$(timeout 5 wget -q -T 3 -O - "http://$IP_ISO:8080/" 2>/dev/null)
SAME=$(timeout 5 nsenter --net="$RUN/netns/default_default_default_duo" wget -q -T 3 -O - "http://$IP_DUO:8080/" 2>/dev/null)
CROSS=$(timeout 5 nsenter --net="$RUN/netns/default_s2_default_iso" wget -q -T 3 -O - "http://$IP_DUO:8080/" 2>/dev/null)
if [ "$HOST_OK" != hi-from-iso ]; then
    kt_fail "host cannot reach iso at $IP_ISO ('$HOST_OK')"
elif [ "$SAME" != hi-from-duo ]; then
    kt_fail "duo cannot reach itself at $IP_DUO ('$SAME')"
elif [ -n "$CROSS" ]; then
    kt_fail "space s2 reached space default: '$CROSS'"
else
    kt_pass
fi

kt_case published_port_answers_from_the_host
HPORT=$((20000 + $$ % 10000))
cell pub default "web|true|restartPolicy: always|$HTTPD" |
    sed "s/      restartPolicy: always/      restartPolicy: always\n      ports: [\"127.0.0.1:$HPORT:8080\"]/" >"$INBOX/pub.yaml"
PUB=default/default/default/pub
if ! e2e_wait_state $PUB Ready 60; then
    kt_fail "pub not Ready: $(e2e_status_field $PUB message)"
else
    body=$(timeout 5 wget -q -T 3 -O - "http://127.0.0.1:$HPORT/" 2>/dev/null)
    kt_check "127.0.0.1:$HPORT answered '$body'" test "$body" = hi-from-pub
fi

kt_case same_space_cells_reach_each_other
IP_PUB=$(e2e_status_field $PUB ip)
body=$(timeout 5 nsenter --net="$RUN/netns/default_default_default_duo" wget -q -T 3 -O - "http://$IP_PUB:8080/" 2>/dev/null)
kt_check "duo could not reach pub at $IP_PUB ('$body')" test "$body" = hi-from-pub

kt_case standalone_container_joins_its_cell
printf 'apiVersion: v1beta1\nkind: Container\nmetadata:\n  name: extra\nspec:\n  cellId: pub\n  image: busybox\n  command: /bin/sh\n  args: ["-c", "wget -q -O - http://localhost:8080/; exec sleep 100000"]\n' \
    >"$STATE/$PUB/containers/.extra.tmp"
mv "$STATE/$PUB/containers/.extra.tmp" "$STATE/$PUB/containers/extra.yaml"
for _ in $(seq 100); do grep -q hi-from-pub "$STATE/$PUB/containers/extra.log" 2>/dev/null && break; sleep 0.1; done
if ! grep -q hi-from-pub "$STATE/$PUB/containers/extra.log" 2>/dev/null; then
    kt_fail "extra did not reach its cell's localhost: $(grep -A3 'id: extra' "$STATE/$PUB/status.yaml" | tr '\n' ' ')"
else
    rm "$STATE/$PUB/containers/extra.yaml"
    for _ in $(seq 100); do
        ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q | grep -q default_pub_extra || break
        sleep 0.1
    done
    kt_check "extra still in containerd after its spec was removed" \
        bash -c "! ctr -a '$CTD_SOCK' -n '$NS_DEFAULT' containers ls -q | grep -q default_pub_extra"
fi

kt_case on_failure_retries_then_failed
cell flaky default "f|true|restartPolicy: on-failure\n      restartMaxRetries: 3\n      restartBackoffSeconds: 1\n      user: kuke|echo try \$(id -u); exit 1" \
    | sed 's/\\n/\n/g' >"$INBOX/flaky.yaml"
FLAKY=default/default/default/flaky
e2e_wait_state $FLAKY Failed 40
kt_check "flaky: state $(e2e_status_field $FLAKY state), restartCount $(e2e_status_field $FLAKY restartCount), exitCode $(e2e_status_field $FLAKY exitCode)" \
    test "$(e2e_status_field $FLAKY state)" = Failed -a "$(e2e_status_field $FLAKY restartCount)" = 3 \
    -a "$(e2e_status_field $FLAKY exitCode)" = 1

kt_case flaky_log_has_every_try_as_user_kuke
kt_check "log holds $(grep -c 'try 1000' "$STATE/$FLAKY/containers/f.log" 2>/dev/null) tries by uid 1000, not 4: $(head -c 300 "$STATE/$FLAKY/containers/f.log")" \
    test "$(grep -c 'try 1000' "$STATE/$FLAKY/containers/f.log" 2>/dev/null)" = 4

kt_case oom_kill_is_reported
cell hog default "h|true|resources:\n        memory:\n          max: 16Mi|a=\$(head -c 100000000 /dev/zero | tr '\\\\0' x); sleep 100" \
    | sed 's/\\n/\n/g' >"$INBOX/hog.yaml"
HOG=default/default/default/hog
e2e_wait_state $HOG Failed 30
kt_check "hog: state $(e2e_status_field $HOG state), container reason $(sed -n 's/^ *reason: //p' "$STATE/$HOG/status.yaml" | tail -1)" \
    grep -q 'reason: OOMKilled' "$STATE/$HOG/status.yaml"
rm -f "$INBOX/hog.yaml"

kt_case ctl_stop_sticky_across_agent_restart
echo stop >"$STATE/$DUO/ctl"
if ! e2e_wait_state $DUO Stopped 30; then
    kt_fail "duo not Stopped after ctl stop: $(e2e_status_field $DUO state) $(e2e_status_field $DUO reason)"
else
    e2e_stop_agent
    e2e_start_agent
    sleep 3
    st=$(e2e_status_field $DUO state)
    tasks=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ls 2>/dev/null | grep -c 'duo_.*RUNNING')
    if [ "$st" != Stopped ] || [ "$tasks" != 0 ]; then
        kt_fail "after an agent restart: state $st, $tasks running tasks"
    elif [ -e "$STATE/$DUO/ctl" ]; then
        kt_fail "ctl not consumed"
    elif ! grep -q 'verb: stop' "$STATE/$DUO/status.yaml"; then
        kt_fail "lastControl not reported"
    else
        kt_pass
    fi
fi

kt_case ctl_start_brings_it_back
echo start >"$STATE/$DUO/ctl"
kt_check "duo not Ready after ctl start" e2e_wait_state $DUO Ready 30

kt_case agent_status_file
sleep 5 # written every 5 s
if ! grep -q 'connected: true' "$STATE/_agent/status.yaml" ||
    ! grep -q 'lastFullScan:' "$STATE/_agent/status.yaml"; then
    kt_fail "_agent/status.yaml incomplete: $(cat "$STATE/_agent/status.yaml")"
elif ! grep -q '^kukeon_containerd_up 1' "$STATE/_agent/metrics.prom"; then
    kt_fail "_agent/metrics.prom lacks kukeon_containerd_up 1"
elif ! grep -q 'converged after start-up' "$T/agent.log"; then
    kt_fail "the agent never said it converged"
else
    kt_pass
fi

kt_case remove_all_leaves_nothing
rm -f "$INBOX"/*.yaml
e2e_wait_gone "$STATE/$DUO" 40
e2e_wait_gone "$STATE/$ISO" 40
e2e_wait_gone "$STATE/$FLAKY" 40
e2e_wait_gone "$STATE/$PUB" 40
e2e_wait_gone "$STATE/default/s2" 20
left=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q)
if [ -n "$left" ]; then
    kt_fail "containers left: $left"
elif [ -e "$STATE/default/s2" ]; then
    kt_fail "space s2 left in the tree"
elif [ -n "$(ls -A "$RUN/netns" 2>/dev/null)" ]; then
    kt_fail "netns left: $(ls "$RUN/netns")"
elif ip -o link show | grep -q " ${VPFX}"; then
    kt_fail "veth left"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
