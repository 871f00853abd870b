#!/bin/bash
# End to end: kukeond on a private containerd, the seed's hello-world cell
# dropped into the inbox, served over HTTP, then removed leaving nothing.
# Root only. Every host-global name is unique to this run and everything is
# cleaned up at exit, also after a failure.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1

kt_case defaults_exist
kt_check "default realm/space/stack not Ready" \
    e2e_wait_state default/default/default Ready 30

kt_case hello_world_ready
t0=$(date +%s%N)
cp "$KUKEON_SRC/examples/manifests/hello-world.yaml" "$INBOX/hello-world.yaml"
CELL=default/default/default/hello-world
kt_check "cell not Ready: $(e2e_status_field $CELL reason) $(e2e_status_field $CELL message)" \
    e2e_wait_state $CELL Ready 60
echo "# measured: manifest dropped -> status Ready in $((($(date +%s%N) - t0) / 1000000)) ms"

kt_case hello_world_http
IP=$(e2e_status_field $CELL ip)
body=$(wget -q -T 5 -O - "http://$IP:8080/" 2>&1)
kt_check "GET http://$IP:8080/ answered '$body'" test "$body" = "hello from kukeon"

kt_case containerd_labels
info=$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers info default_default_hello-world_web 2>&1)
kt_check "ctr containers info lacks kukeon labels" \
    grep -q '"kukeon.io/cell": "hello-world"' <<<"$info"

kt_case cgroup_at_reported_path
CGPATH=$(e2e_status_field $CELL cgroupPath)
kt_check "cgroup $CGPATH missing" e2e_cgroup_exists "$CGPATH"

kt_case container_cgroup_leaf
LEAF=$(e2e_cgroup_of "$(e2e_status_field $CELL pid)")
kt_check "container runs in cgroup '$LEAF', not $CGPATH/web_root" test "$LEAF" = "$CGPATH/web_root"

kt_case resave_keeps_pid
PID1=$(e2e_status_field $CELL pid)
cp "$KUKEON_SRC/examples/manifests/hello-world.yaml" "$INBOX/.hello.tmp"
mv "$INBOX/.hello.tmp" "$INBOX/hello-world.yaml"
cp "$INBOX/hello-world.yaml" "$INBOX/hello-world.yaml~"
sleep 2
PID2=$(e2e_status_field $CELL pid)
kt_check "pid changed: $PID1 -> $PID2" test -n "$PID1" -a "$PID1" = "$PID2"

kt_case ignored_names_create_nothing
sed 's/hello-world/swapped/g' "$KUKEON_SRC/examples/manifests/hello-world.yaml" >"$INBOX/.swapped.yaml.swp"
sed 's/hello-world/backup/g' "$KUKEON_SRC/examples/manifests/hello-world.yaml" >"$INBOX/backup.yaml~"
sed 's/hello-world/tmp/g' "$KUKEON_SRC/examples/manifests/hello-world.yaml" >"$INBOX/tmp.yaml.tmp"
sleep 2
cells=$(cd "$STATE/default/default/default" && ls -d */ 2>/dev/null | tr -d / | tr '\n' ' ')
kt_check "cells in the tree: '$cells', not just hello-world" test "$cells" = "hello-world "
rm -f "$INBOX/.swapped.yaml.swp" "$INBOX/backup.yaml~" "$INBOX/tmp.yaml.tmp"

kt_case inbox_report
kt_check "report lacks the cell" grep -q "key: $CELL" "$STATE/_inbox/hello-world.yaml.status.yaml"

kt_case invalid_edit_keeps_running
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: hello-world\nspec:\n  containers:\n    - id: web\n      image: [\n' \
    >"$INBOX/.hello.tmp"
mv "$INBOX/.hello.tmp" "$INBOX/hello-world.yaml"
sleep 2
PID3=$(e2e_status_field $CELL pid)
if ! grep -q 'valid: false' "$STATE/_inbox/hello-world.yaml.status.yaml"; then
    kt_fail "report does not say invalid"
elif ! grep -Eq 'hello-world.yaml:[0-9]+:[0-9]+' "$STATE/_inbox/hello-world.yaml.status.yaml"; then
    kt_fail "no file:line:col in the report"
elif [ "$PID3" != "$PID1" ]; then
    kt_fail "cell restarted on an invalid edit ($PID1 -> $PID3)"
else
    kt_pass
fi
cp "$KUKEON_SRC/examples/manifests/hello-world.yaml" "$INBOX/hello-world.yaml"

kt_case exit_restarts_under_always
PID4=$(e2e_status_field $CELL pid)
t0=$(date +%s%N)
kill -9 "$PID4" 2>/dev/null
for _ in $(seq 2000); do grep -q 'exitCode: 137' "$STATE/$CELL/status.yaml" && break; sleep 0.005; done
echo "# measured: kill -9 -> exitCode in status.yaml in $((($(date +%s%N) - t0) / 1000000)) ms"
kt_check "not restarted after kill -9 of $PID4" e2e_wait_new_pid $CELL "$PID4" 20

kt_case agent_restart_keeps_pid
PID5=$(e2e_status_field $CELL pid)
e2e_stop_agent
e2e_start_agent
sleep 3
PID6=$(e2e_status_field $CELL pid)
kt_check "pid changed across an agent restart: $PID5 -> $PID6" \
    test -n "$PID5" -a "$PID5" = "$PID6" -a "$(e2e_status_field $CELL state)" = Ready

kt_case remove_leaves_nothing
rm -f "$INBOX/hello-world.yaml" "$INBOX/hello-world.yaml~"
if ! e2e_wait_gone "$STATE/$CELL" 40; then
    kt_fail "cell directory still there"
elif ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q | grep -q .; then
    kt_fail "containerd still has containers"
elif [ -n "$(ls -A "$RUN/netns" 2>/dev/null)" ]; then
    kt_fail "netns left: $(ls "$RUN/netns")"
elif ip -o link show | grep -q " ${VPFX}"; then
    kt_fail "veth left"
elif nft list table inet "$NFT" 2>/dev/null | grep -q 'cell/'; then
    kt_fail "nft cell chains left"
elif e2e_cgroup_exists "$CGPATH"; then
    kt_fail "cgroup $CGPATH left"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
