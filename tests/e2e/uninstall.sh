#!/bin/bash
# End to end: `kukeond --uninstall` leaves the host as it found it. The host
# is snapshotted item by item (nft tables, mounts, links, addresses, cgroup
# directories, containerd namespaces, files under the run dir, lock files),
# an agent runs cells in two realms and two spaces, is stopped, and
# `kukeond --uninstall` (same names) must bring every item back to the
# snapshot. Only this run's names are compared: other agents may run on the
# same host. Root only; everything is cleaned up at exit.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
POOL_NET=${POOL%.0.0/16}. # "10.x."

# The agent's flags, as e2e_start_agent passes them, for --uninstall.
names() {
    echo --manifests "$INBOX" --state "$STATE" --containerd-address "$CTD_SOCK" \
        --run-dir "$RUN" --cgroup-root "$CGROOT" --bridge-prefix "$BPFX" \
        --veth-prefix "$VPFX" --subnet-pool "$POOL" --nft-table "$NFT" \
        --namespace-prefix "$NSP" --config /dev/null
}

# `ip ARGS` until its dump was not interrupted (links of other agents come
# and go meanwhile; an interrupted dump may miss some).
ip_stable() {
    local i out
    for i in $(seq 20); do
        out=$(ip "$@" 2>&1)
        grep -q "Dump was interrupted" <<<"$out" || break
    done
    grep -v "Dump was interrupted" <<<"$out"
}

# One snapshot: a file per item under $1, each sorted.
snapshot() {
    local d=$1
    mkdir -p "$d"
    nft list tables 2>/dev/null | grep -x "table inet $NFT" >"$d/nft"
    awk -v r="$RUN" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo |
        sort >"$d/mounts"
    ip_stable -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
        grep -E "^(${BPFX}|${VPFX})" | sort >"$d/links"
    ip_stable -o -4 addr show | awk '{print $2, $4}' | grep -F " $POOL_NET" | sort >"$d/addresses"
    ip_stable -4 route show table all | grep -F "$POOL_NET" | sort >"$d/routes"
    find /sys/fs/cgroup -maxdepth 3 -type d -name "$CGROOT" 2>/dev/null | sort >"$d/cgroups"
    # Namespaces with content: this run's prefix only. (The image e2e_setup
    # imported sits in $NS_DEFAULT: see the containerd case below.)
    ctr -a "$CTD_SOCK" namespaces ls -q 2>/dev/null | grep "^$NSP" | sort >"$d/namespaces"
    ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" containers ls -q 2>/dev/null | sort >"$d/containers"
    ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ls -q 2>/dev/null | sort >"$d/tasks"
    ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" leases ls -q 2>/dev/null | sort >"$d/leases"
    (find "$RUN" -mindepth 1 2>/dev/null | sort) >"$d/run-files"
    ls /run/lock/kukeon 2>/dev/null | grep -E -- "-($NFT|$CGROOT|$BPFX|$VPFX)\.lock$" |
        sort >"$d/locks"
    find "/run/containerd/runc" -maxdepth 1 -name "$NSP*" 2>/dev/null | sort >"$d/runc"
}

# A link of someone else holding an address inside the pool: the agent
# warns about it at start, and uninstall leaves it alone.
WARN_LINK=w$BPFX
ip link add "$WARN_LINK" type bridge && ip addr add "${POOL_NET}7.1/24" dev "$WARN_LINK"
kt_cleanup "ip link del $WARN_LINK"

# Lock files an earlier test with the same prefixes (pid % 1000) left,
# unheld, would be removed by the uninstall as ours: start without them.
for f in /run/lock/kukeon/cgroup-"$CGROOT".lock /run/lock/kukeon/nft-"$NFT".lock \
    /run/lock/kukeon/bridge-"$BPFX".lock /run/lock/kukeon/veth-"$VPFX".lock; do
    [ -f "$f" ] && flock -n "$f" rm -f "$f" 2>/dev/null
done
snapshot "$T/before"

e2e_start_agent || exit 1

kt_case start_up_warns_of_pool_overlap
kt_check "no warning naming ${POOL_NET}7.0/24 on $WARN_LINK: $(grep -i overlap "$T/agent.log")" \
    grep -q "subnet pool $POOL overlaps ${POOL_NET}7.0/24 (address on $WARN_LINK)" "$T/agent.log"
cp "$KUKEON_SRC/examples/manifests/hello-world.yaml" "$INBOX/"
cat >"$INBOX/two.yaml" <<EOF
apiVersion: v1beta1
kind: Realm
metadata:
  name: other
---
apiVersion: v1beta1
kind: Space
metadata:
  name: back
spec:
  realmId: other
---
apiVersion: v1beta1
kind: Stack
metadata:
  name: default
spec:
  realmId: other
  spaceId: back
---
apiVersion: v1beta1
kind: Cell
metadata:
  name: db
spec:
  realmId: other
  spaceId: back
  containers:
    - id: main
      image: docker.io/library/busybox:latest
      imagePullPolicy: Never
      command: /bin/sh
      args: ["-c", "sleep 3600"]
      ports: ["18$((RANDOM % 900 + 100)):80"]
EOF
# Another agent's namespace, whose prefix "${NSP}x-" extends ours: its
# container names realm "default", not "x-default". Uninstall keeps it.
FOREIGN=${NSP}x-default
ctr -a "$CTD_SOCK" -n "$FOREIGN" images import "$T/busybox.tar" >/dev/null 2>&1
ctr -a "$CTD_SOCK" -n "$FOREIGN" containers create --label kukeon.io/realm=default \
    docker.io/library/busybox:latest foreign >/dev/null 2>&1
# And a bridge of an agent whose prefix "${BPFX}0" extends ours, named as
# runtime/net names the bridge of space r/s: our prefix, its kind, not ours.
FOREIGN_BR=${BPFX}0$(printf 'r/s' | sha256sum | cut -c1-$((15 - ${#BPFX} - 1)))
ip link add "$FOREIGN_BR" type bridge && ip link set "$FOREIGN_BR" alias r/s
# The second realm's namespace needs the image too.
ctr -a "$CTD_SOCK" -n "${NSP}other" images import "$T/busybox.tar" >/dev/null 2>&1

kt_case cells_ready
if ! e2e_wait_state default/default/default/hello-world Ready 60; then
    kt_fail "hello-world not Ready: $(e2e_status_field default/default/default/hello-world reason)"
elif ! e2e_wait_state other/back/default/db Ready 60; then
    kt_fail "db not Ready: $(e2e_status_field other/back/default/db reason) $(e2e_status_field other/back/default/db message)"
else
    kt_pass
fi
snapshot "$T/during"

kt_case refuses_while_agent_runs
# shellcheck disable=SC2046
out=$("$KUKEON_BIN/kukeond" --uninstall $(names) 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
    kt_fail "uninstall ran beside a live agent: $out"
elif ! grep -q "pid $AGENT_PID" <<<"$out"; then
    kt_fail "refusal does not name the agent's pid $AGENT_PID: $out"
elif [ -z "$(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ls -q 2>/dev/null)" ]; then
    kt_fail "refused, but the tasks are gone"
else
    kt_pass
fi

e2e_stop_agent

kt_case dry_run_lists_and_touches_nothing
# shellcheck disable=SC2046
"$KUKEON_BIN/kukeond" --uninstall --dry-run $(names) >"$T/dry.out" 2>&1
rc=$?
snapshot "$T/after-dry"
missing=
for what in "containerd namespace ${NSP}default" "containerd namespace ${NSP}other" \
    "nft table inet $NFT" "veth $VPFX" "bridge $BPFX" "network namespace $RUN/netns/" \
    "cgroup " "directory $RUN"; do
    grep -q "^would remove $what" "$T/dry.out" || missing="$missing [$what]"
done
if [ $rc -ne 0 ]; then
    kt_fail "dry run failed ($rc): $(tail -3 "$T/dry.out")"
elif [ -n "$missing" ]; then
    kt_fail "dry run does not list:$missing; it said: $(head -c 1500 "$T/dry.out")"
elif ! diff -r "$T/during" "$T/after-dry" >"$T/dry.diff"; then
    kt_fail "the dry run changed the host: $(head -20 "$T/dry.diff")"
else
    kt_pass
fi

kt_case uninstall_succeeds
# shellcheck disable=SC2046
"$KUKEON_BIN/kukeond" --uninstall $(names) >"$T/un.out" 2>&1
kt_check "uninstall failed: $(tail -5 "$T/un.out")" test $? -eq 0
e2e_log "kukeond --uninstall said:"
sed 's/^/#   /' "$T/un.out" >&2

kt_case others_link_kept
kt_check "$WARN_LINK or its address went" grep -q " ${POOL_NET}7.1/24 " <<<"$(ip -o addr show dev "$WARN_LINK" 2>&1)"

kt_case foreign_bridge_kept
if ! ip link show "$FOREIGN_BR" >/dev/null 2>&1; then
    kt_fail "another agent's bridge $FOREIGN_BR was deleted"
else
    kt_check "uninstall does not say it kept $FOREIGN_BR" grep -q "^kept bridge $FOREIGN_BR" "$T/un.out"
fi
ip link del "$FOREIGN_BR" 2>/dev/null
snapshot "$T/after"

# Item by item against the snapshot taken before the agent ran.
for item in nft mounts links addresses routes cgroups containers tasks leases run-files locks runc; do
    kt_case "host_$item"
    kt_check "$item differs: $(diff "$T/before/$item" "$T/after/$item" | head -10 | tr '\n' ' ')" \
        cmp -s "$T/before/$item" "$T/after/$item"
done

# Before, $NS_DEFAULT held only the image e2e_setup imported (kukeon's own
# `kuke image load` does the same); uninstall removes every namespace of the
# prefix, images and all, so none may be left.
kt_case host_namespaces
kt_check "namespaces left: $(tr '\n' ' ' <"$T/after/namespaces") (only $FOREIGN should be)" \
    test "$(cat "$T/after/namespaces")" = "$FOREIGN"

kt_case foreign_namespace_kept
if ! grep -q "^kept containerd namespace $FOREIGN" "$T/un.out"; then
    kt_fail "uninstall does not say it kept $FOREIGN"
else
    kt_check "the other agent's container is gone" \
        ctr -a "$CTD_SOCK" -n "$FOREIGN" containers info foreign
fi

kt_case state_tree_kept
kt_check "the state tree or the inbox went without --purge-state" \
    test -f "$STATE/default/default/default/hello-world/cell.yaml" -a -f "$INBOX/two.yaml"

kt_case second_run_finds_nothing
# shellcheck disable=SC2046
out=$("$KUKEON_BIN/kukeond" --uninstall $(names) 2>&1)
kt_check "second run: $out" grep -qx "nothing to remove" <<<"$out"

kt_case purge_state
# shellcheck disable=SC2046
out=$("$KUKEON_BIN/kukeond" --uninstall --purge-state $(names) 2>&1)
kt_check "state tree or inbox left: $out" test ! -e "$STATE" -a ! -e "$INBOX"

exit $KT_FAILED
