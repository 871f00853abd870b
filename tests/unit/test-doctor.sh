#!/bin/bash
# kuke doctor against a fake /proc/sys, cgroup mount, state tree and IPAM
# directory (its --proc-sys and --cgroup-mount test hooks): every verdict
# and the exit status. No root needed; the containerd check meets a socket
# nobody listens on. tests/e2e/gitops.sh runs it against a real containerd.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
T=$(mktemp -d /tmp/kk-doctor-XXXXXX)
kt_cleanup "rm -rf '$T'"

sysctls() { # WATCHES INSTANCES IP_FORWARD
    mkdir -p "$T/sys/fs/inotify" "$T/sys/net/ipv4"
    echo "$1" >"$T/sys/fs/inotify/max_user_watches"
    echo "$2" >"$T/sys/fs/inotify/max_user_instances"
    echo "$3" >"$T/sys/net/ipv4/ip_forward"
}
doctor() {
    KUKEON_CONFIG=/dev/null "$KUKEON_BIN/kuke" doctor --containerd-address "$T/none.sock" --state "$T/state" \
        --run-dir "$T/run" --proc-sys "$T/sys" "$@" >"$T/out" 2>&1
    echo $? >"$T/rc"
}
line() { grep -E "^[a-zA-Z]+ +$1 " "$T/out"; }
verdict() { line "$1" | awk '{print $1}'; }

mkdir -p "$T/state/default/default/default" "$T/run/net"
for i in $(seq 40); do mkdir -p "$T/state/default/default/default/c$i/containers"; done
ln -s / "$T/state/default/escape" # a symlink is not walked
printf 'subnet 10.77.0.0/24\nnext 10.77.0.2\n' >"$T/run/net/default_default.ipam"
printf 'subnet 10.99.0.0/24\n' >"$T/run/net/other_pool.ipam"

kt_case healthy_host_but_no_containerd
sysctls 100000 128 1
doctor --subnet-pool 10.77.0.0/23
if [ "$(verdict containerd)" != FAIL ] || ! line containerd | grep -q "fix: start containerd"; then
    kt_fail "containerd: $(line containerd)"
elif [ "$(cat "$T/rc")" != 1 ]; then
    kt_fail "exit status $(cat "$T/rc") with a FAIL"
elif [ "$(verdict inotify)" != ok ] || ! line inotify | grep -q "for 84 directories"; then
    kt_fail "inotify: $(line inotify)"
elif [ "$(verdict ip_forward)" != ok ]; then
    kt_fail "ip_forward: $(line ip_forward)"
elif ! line subnets | grep -q "1 of 2 /24s free in 10.77.0.0/23"; then
    kt_fail "subnets: $(line subnets)"
elif ! tail -1 "$T/out" | grep -q "failed, .* warnings"; then
    kt_fail "no summary line"
else
    kt_pass
fi

kt_case inotify_watches_too_low
sysctls 100 128 1
doctor
kt_check "$(line inotify)" eval '[ "$(verdict inotify)" = FAIL ] &&
    line inotify | grep -q "fix: sysctl -w fs.inotify.max_user_watches="'

kt_case inotify_watches_tight_and_few_instances
sysctls 200 4 1
doctor
kt_check "$(line inotify)" eval '[ "$(verdict inotify)" = warn ] &&
    line inotify | grep -q "max_user_instances to at least 128"'

kt_case ip_forward_off_is_a_warning
sysctls 100000 128 0
doctor
kt_check "$(line ip_forward)" eval '[ "$(verdict ip_forward)" = warn ] &&
    line ip_forward | grep -q "sysctl.d"'

kt_case subnet_pool_exhausted
sysctls 100000 128 1
doctor --subnet-pool 10.77.0.0/24
kt_check "$(line subnets)" eval '[ "$(verdict subnets)" = FAIL ] &&
    line subnets | grep -q "0 of 1 /24s free"'

kt_case no_ipam_yet_is_skipped
doctor --run-dir "$T/nothing-here"
kt_check "$(line subnets)" eval '[ "$(verdict subnets)" = ok ] && line subnets | grep -q skipped'

kt_case bad_pool_and_missing_cgroups_fail
mkdir -p "$T/not-a-cgroupfs"
doctor --subnet-pool 10.77.0.0/33 --cgroup-mount "$T/not-a-cgroupfs"
kt_check "$(line subnets) / $(line cgroups)" eval '[ "$(verdict subnets)" = FAIL ] &&
    [ "$(verdict cgroups)" = FAIL ]'

kt_case unreadable_proc_fails
doctor --proc-sys "$T/no-proc"
kt_check "$(line inotify) / $(line ip_forward)" eval '[ "$(verdict inotify)" = FAIL ] &&
    [ "$(verdict ip_forward)" = FAIL ]'

kt_case agent_never_ran_is_a_warning
doctor
kt_check "$(line agent)" eval '[ "$(verdict agent)" = warn ] && line agent | grep -q "no kukeond has reported"'

kt_case agent_gone_is_a_warning
mkdir -p "$T/state/_agent"
# A pid that is surely not kukeond: this shell's.
printf 'apiVersion: v1beta1\nkind: Agent\nstatus:\n  version: 0.1.0\n  pid: %d\n  startedAt: 2026-01-01T00:00:00Z\n' $$ \
    >"$T/state/_agent/status.yaml"
doctor
kt_check "$(line agent)" eval '[ "$(verdict agent)" = warn ] && line agent | grep -q "not running (last pid $$"'

kt_case half_written_agent_status_is_a_warning
printf 'status: {pid: [' >"$T/state/_agent/status.yaml"
doctor
kt_check "$(line agent)" eval '[ "$(verdict agent)" = warn ] && line agent | grep -q unreadable'
rm -rf "$T/state/_agent"

kt_case missing_socket_said_plainly
doctor
kt_check "$(line containerd)" eval 'line containerd | grep -q "no containerd socket at $T/none.sock; is containerd running?"'

# A socket file left by a containerd that died: nothing listens. Said at
# once, not after the client's retries ("deadline exceeded while connecting").
kt_case dead_socket_said_plainly
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/dead.sock"
start=$(date +%s%N)
doctor --containerd-address "$T/dead.sock"
ms=$((($(date +%s%N) - start) / 1000000))
kt_check "$(line containerd) (${ms} ms)" eval '[ "$(verdict containerd)" = FAIL ] &&
    line containerd | grep -q "nothing listens on the containerd socket at $T/dead.sock; is containerd running?" &&
    [ $ms -lt 2500 ]'

# The settings kukeond has beside the paths: its cgroup subtree and nft table.
kt_case cgroup_root_and_nft_table_flags
doctor --cgroup-root "kkdoc-$$" --nft-table "kkdoc_$$" --namespace-prefix "kkdoc$$-"
if [ "$(verdict cgroups)" = ok ] && ! line cgroups | grep -q "kkdoc-$$ not created yet"; then
    kt_fail "cgroups: $(line cgroups)"
elif [ "$(verdict nftables)" = ok ] && ! line nftables | grep -q "table inet kkdoc_$$ not created yet"; then
    kt_fail "nftables: $(line nftables)"
else
    kt_pass
fi

# Directories doctor cannot read make a warning, not "ok": its counts are
# short. Run as an unprivileged user (root reads everything), from a copy
# of kuke that user can execute.
as_user() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
    else
        "$@"
    fi
}
U=$(mktemp -d /tmp/kk-doctor-user-XXXXXX)
kt_cleanup "chmod -R u+rwx '$U'; rm -rf '$U'"
chmod 755 "$U"
cp "$KUKEON_BIN/kuke" "$U/kuke"
mkdir -p "$U/sys/fs/inotify" "$U/sys/net/ipv4" "$U/state/default/locked" "$U/locked-run/net" \
    "$U/locked-state/default"
cp "$T/sys/fs/inotify/"* "$U/sys/fs/inotify/"
cp "$T/sys/net/ipv4/ip_forward" "$U/sys/net/ipv4/"
chmod -R a+rX "$U"
chmod 000 "$U/state/default/locked" "$U/locked-run" "$U/locked-state"
udoctor() {
    as_user "$U/kuke" doctor --containerd-address "$U/none.sock" --proc-sys "$U/sys" "$@" \
        >"$T/out" 2>&1
    echo $? >"$T/rc"
}

kt_case unreadable_state_tree_is_a_warning
udoctor --state "$U/locked-state" --run-dir "$U/nothing"
kt_check "$(line inotify)" eval '[ "$(verdict inotify)" = warn ] &&
    line inotify | grep -q "state tree $U/locked-state unreadable"'

kt_case unreadable_directory_in_tree_is_a_warning
udoctor --state "$U/state" --run-dir "$U/nothing"
kt_check "$(line inotify)" eval '[ "$(verdict inotify)" = warn ] &&
    line inotify | grep -q "1 directories of $U/state unreadable"'

kt_case unreadable_run_dir_is_a_warning
udoctor --state "$U/state" --run-dir "$U/locked-run"
kt_check "$(line subnets)" eval '[ "$(verdict subnets)" = warn ] && line subnets | grep -q "allocations unknown"'

kt_case missing_run_dir_is_still_ok
udoctor --state "$U/state" --run-dir "$U/nothing"
kt_check "$(line subnets)" eval '[ "$(verdict subnets)" = ok ] && line subnets | grep -q "no allocations"'

kt_case usage_errors
"$KUKEON_BIN/kuke" doctor extra >/dev/null 2>&1
rc1=$?
"$KUKEON_BIN/kuke" doctor --bogus >/dev/null 2>&1
rc2=$?
"$KUKEON_BIN/kuke" doctor --help | grep -q "usage: kuke doctor"
rc3=$?
err=$("$KUKEON_BIN/kuke" doctor --bogus 2>&1)
kt_check "exit statuses $rc1 $rc2 $rc3; $err" eval 'test "$rc1-$rc2-$rc3" = 2-2-0 &&
    [[ $err == "kuke doctor: unknown option '"'--bogus'"'; try "* ]]'

kt_case pool_overlapping_a_host_address_warns
# In a network namespace of its own (root only): a link holding an
# address inside the pool is named; one outside it is not.
if [ "$(id -u)" != 0 ] || ! unshare -n true 2>/dev/null; then
    echo "SKIP: needs root and unshare -n"
else
    unshare -n bash -c 'ip link add kkdd0 type veth peer name kkdd1 && ip link set kkdd0 up &&
        ip addr add 10.77.3.1/24 dev kkdd0 && ip addr add 192.0.2.1/24 dev kkdd0 &&
        KUKEON_CONFIG=/dev/null "$0" doctor --containerd-address "$1/none.sock" \
            --state "$1/state" --run-dir "$1/run" --proc-sys "$1/sys" \
            --subnet-pool 10.77.0.0/16 >"$1/out" 2>&1' "$KUKEON_BIN/kuke" "$T"
    kt_check "$(line pool_host)" eval '[ "$(verdict pool_host)" = warn ] &&
        line pool_host | grep -q "10.77.3.0/24 (address on kkdd0)" &&
        ! line pool_host | grep -q 192.0.2'
    unshare -n bash -c 'KUKEON_CONFIG=/dev/null "$0" doctor --containerd-address "$1/none.sock" \
        --state "$1/state" --run-dir "$1/run" --proc-sys "$1/sys" \
        --subnet-pool 10.77.0.0/16 >"$1/out" 2>&1' "$KUKEON_BIN/kuke" "$T"
    kt_check "$(line pool_host)" eval '[ "$(verdict pool_host)" = ok ]'
fi

exit $KT_FAILED
