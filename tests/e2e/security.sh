#!/bin/bash
# End to end: the security fields of a container with the real agent,
# containerd and runc. A default container runs under Docker's seccomp
# profile (Seccomp: 2, no user namespaces) with Docker's capabilities;
# capabilities, readOnlyRootFilesystem, a tmpfs volume, hostPID,
# seccomp=unconfined and a seccomp profile file do what they say; a
# profile that cannot be read and an AppArmor profile on a host without
# AppArmor leave the container Pending with a reason; a hostNetwork cell
# runs in the host's network namespace. Root only.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
# an explicit log size: the checks below read each container's whole log
e2e_start_agent --log-max-bytes 10M || exit 1

# Each container reports what it may do to its log, then sleeps.
cat >"$T/deny-mkdir.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
JSON
cat >"$INBOX/sec.yaml" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: sec
spec:
  containers:
    - id: plain
      image: busybox
      command: /bin/sh
      args:
        - -c
        - |
          grep Seccomp: /proc/self/status
          unshare -U -r true 2>&1 && echo UNSHARE-OK || echo UNSHARE-DENIED
          touch /f && chown 1:1 /f 2>&1 && echo CHOWN-OK || echo CHOWN-DENIED
          ip addr add 127.0.0.2/8 dev lo 2>&1 && echo IPADDR-OK || echo IPADDR-DENIED
          touch /x 2>&1 && echo TOUCH-OK || echo TOUCH-DENIED
          echo COMM1=\$(cat /proc/1/comm)
          echo DONE
          exec sleep 3600
    - id: tuned
      image: busybox
      command: /bin/sh
      readOnlyRootFilesystem: true
      hostPID: true
      capabilities:
        drop: [chown]
        add: [NET_ADMIN]
      securityOpts: [seccomp=unconfined]
      volumes:
        - kind: tmpfs
          target: /scratch
          sizeBytes: 8Mi
      args:
        - -c
        - |
          grep Seccomp: /proc/self/status
          touch /x 2>&1 && echo TOUCH-OK || echo TOUCH-DENIED
          touch /scratch/f && echo SCRATCH-OK
          chown 1:1 /scratch/f 2>&1 && echo CHOWN-OK || echo CHOWN-DENIED
          ip addr add 127.0.0.3/8 dev lo 2>&1 && echo IPADDR-OK || echo IPADDR-DENIED
          df -k /scratch
          grep ' /scratch ' /proc/mounts
          echo COMM1=\$(cat /proc/1/comm)
          echo DONE
          exec sleep 3600
    - id: prof
      image: busybox
      command: /bin/sh
      securityOpts: ["seccomp=$T/deny-mkdir.json"]
      args:
        - -c
        - |
          grep Seccomp: /proc/self/status
          mkdir /d 2>&1 && echo MKDIR-OK || echo MKDIR-DENIED
          echo DONE
          exec sleep 3600
YAML
SEC=default/default/default/sec

log_of() { cat "$STATE/$SEC/containers/$1.log" 2>/dev/null; }
wait_done() {
    local i
    for i in $(seq 100); do
        grep -q '^DONE' "$STATE/$SEC/containers/$1.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
has() { grep -q -- "$2" <<<"$(log_of "$1")"; }

kt_case cell_ready
if ! e2e_wait_state $SEC Ready 90; then
    kt_fail "sec not Ready: $(e2e_status_field $SEC reason) $(e2e_status_field $SEC message)"
    exit 1
fi
ok=1
for c in plain tuned prof; do wait_done $c || ok=0; done
kt_check "containers did not finish their checks: plain: $(log_of plain) tuned: $(log_of tuned) prof: $(log_of prof)" \
    test $ok = 1

kt_case default_has_seccomp_filter
kt_check "plain: $(log_of plain | grep Seccomp:)" has plain 'Seccomp:[[:space:]]*2'

kt_case default_seccomp_seen_from_the_host
PID=$(e2e_status_field $SEC pid)
kt_check "pid $PID: $(grep Seccomp: /proc/$PID/status 2>&1)" \
    grep -q 'Seccomp:[[:space:]]*2' /proc/$PID/status

kt_case default_refuses_user_namespaces
kt_check "unshare -U -r: $(log_of plain | grep -i unshare)" has plain UNSHARE-DENIED

kt_case default_capabilities_allow_chown
kt_check "$(log_of plain | grep -i chown)" has plain CHOWN-OK

kt_case default_capabilities_refuse_net_admin
kt_check "$(log_of plain | grep -i ipaddr -B1)" has plain IPADDR-DENIED

kt_case default_root_is_writable
kt_check "$(log_of plain | grep -i touch)" has plain TOUCH-OK

kt_case default_pid_namespace_is_own
kt_check "$(log_of plain | grep COMM1)" has plain 'COMM1=sh'

kt_case drop_chown_refuses_chown
kt_check "$(log_of tuned | grep -i chown -B1)" has tuned CHOWN-DENIED

kt_case add_net_admin_allows_ip_addr
kt_check "$(log_of tuned | grep -i ipaddr -B1)" has tuned IPADDR-OK

kt_case read_only_root_refuses_touch
if has tuned TOUCH-OK || ! has tuned 'Read-only file system'; then
    kt_fail "$(log_of tuned | grep -i -e touch -e read-only)"
else
    kt_pass
fi

kt_case tmpfs_volume_is_a_tmpfs_of_its_size
if ! has tuned SCRATCH-OK; then
    kt_fail "/scratch not writable: $(log_of tuned)"
elif ! has tuned '^tmpfs /scratch tmpfs .*size=8192k'; then
    kt_fail "/proc/mounts: $(log_of tuned | grep scratch)"
elif ! log_of tuned | awk '$NF == "/scratch" && $2 == 8192 { found = 1 } END { exit !found }'; then
    kt_fail "df: $(log_of tuned | grep -B1 scratch)"
else
    kt_pass
fi

kt_case host_pid_sees_host_pid_1
HOST1=$(cat /proc/1/comm)
kt_check "tuned sees '$(log_of tuned | sed -n 's/^COMM1=//p')' as pid 1, the host has '$HOST1'" \
    has tuned "^COMM1=$HOST1\$"

kt_case seccomp_unconfined_has_no_filter
kt_check "tuned: $(log_of tuned | grep Seccomp:)" has tuned 'Seccomp:[[:space:]]*0'

kt_case seccomp_profile_file_applies
if ! has prof 'Seccomp:[[:space:]]*2'; then
    kt_fail "prof: $(log_of prof | grep Seccomp:)"
else
    kt_check "mkdir under the profile: $(log_of prof | grep -i mkdir)" has prof MKDIR-DENIED
fi

# Refusals: the container is never created; its status says why.
refused_cell() { # NAME SECURITY-OPT
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$1"
    printf '    - id: main\n      image: busybox\n      command: /bin/sleep\n      args: ["3600"]\n'
    printf '      securityOpts: ["%s"]\n' "$2"
}
wait_reason() { # KEY REASON
    local i
    for i in $(seq 300); do
        grep -q "reason: $2" "$STATE/$1/status.yaml" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

kt_case missing_seccomp_profile_is_reported
refused_cell noprof "seccomp=$T/no-such-profile.json" >"$INBOX/noprof.yaml"
NOPROF=default/default/default/noprof
if ! wait_reason $NOPROF SeccompProfileInvalid; then
    kt_fail "status: $(cat "$STATE/$NOPROF/status.yaml" 2>&1)"
else
    kt_check "message does not name the file: $(grep message "$STATE/$NOPROF/status.yaml")" \
        grep -q "no-such-profile.json" "$STATE/$NOPROF/status.yaml"
fi

kt_case apparmor_without_apparmor_is_reported
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
    kt_pass # this host has AppArmor: the refusal cannot happen here
else
    refused_cell aa "apparmor=kk-e2e-profile" >"$INBOX/aa.yaml"
    AA=default/default/default/aa
    kt_check "status: $(cat "$STATE/$AA/status.yaml" 2>&1)" wait_reason $AA AppArmorUnavailable
fi

kt_case host_network_cell_shares_the_agents_netns
cat >"$INBOX/hnet.yaml" <<'YAML'
apiVersion: v1beta1
kind: Cell
metadata:
  name: hnet
spec:
  containers:
    - id: main
      image: busybox
      hostNetwork: true
      command: /bin/sleep
      args: ["3600"]
    - id: side
      image: busybox
      command: /bin/sleep
      args: ["3600"]
YAML
HNET=default/default/default/hnet
if ! e2e_wait_state $HNET Ready 60; then
    kt_fail "hnet not Ready: $(e2e_status_field $HNET reason) $(e2e_status_field $HNET message)"
else
    p1=$(sed -n 's/^ *pid: //p' "$STATE/$HNET/status.yaml" | sed -n 1p)
    p2=$(sed -n 's/^ *pid: //p' "$STATE/$HNET/status.yaml" | sed -n 2p)
    host=$(readlink /proc/$AGENT_PID/ns/net)
    if [ "$(readlink /proc/$p1/ns/net)" != "$host" ] || [ "$(readlink /proc/$p2/ns/net)" != "$host" ]; then
        kt_fail "netns: main $(readlink /proc/$p1/ns/net), side $(readlink /proc/$p2/ns/net), agent $host"
    else
        kt_check "a host-network cell reports an IP: $(e2e_status_field $HNET ip)" \
            test -z "$(e2e_status_field $HNET ip)"
    fi
fi

kt_case agent_still_alive
kt_check "kukeond died: $(tail -3 "$T/agent.log")" kill -0 "$AGENT_PID"

rm -f "$INBOX/sec.yaml" "$INBOX/noprof.yaml" "$INBOX/aa.yaml" "$INBOX/hnet.yaml"
kt_case cells_removed
kt_check "sec still in the tree" e2e_wait_gone "$STATE/$SEC" 60
