# A private containerd for shell tests (the C twin is containerd-fixture.c).
# Source it after tests/lib/kktest.sh, then:
#
#   kt_ctd_start            # sets KT_CTD_DIR, KT_CTD_ADDRESS, KT_CTD_STATE,
#                           # KT_CTD_PID, KT_CTD_CGROUP_PARENT; registers
#                           # kt_ctd_stop with kt_cleanup
#   ctr -a "$KT_CTD_ADDRESS" -n NS ...
#   kt_ctd_restart          # stop containerd (tasks keep running), start again
#   kt_ctd_stop             # stop and remove everything (idempotent)
#
# kt_ctd_stop ends only what this fixture started: containerd by its pid, the
# containers' init processes (init.pid in the state directory) and the shims
# (the processes whose working directory is a task bundle there); it then
# unmounts everything below KT_CTD_DIR, removes KT_CTD_CGROUP_PARENT from
# every cgroup hierarchy and deletes KT_CTD_DIR. Put test containers' cgroups
# below /$KT_CTD_CGROUP_PARENT/.

KT_CTD_DIR=""
KT_CTD_PID=""

_kt_ctd_spawn() {
    rm -f "$KT_CTD_ADDRESS"
    setsid containerd --config "$KT_CTD_DIR/config.toml" </dev/null >>"$KT_CTD_DIR/containerd.log" 2>&1 &
    KT_CTD_PID=$!
    local i
    for ((i = 0; i < 1000; i++)); do
        if ! kill -0 "$KT_CTD_PID" 2>/dev/null; then
            echo "containerd exited at start-up (see $KT_CTD_DIR/containerd.log)" >&2
            KT_CTD_PID=""
            return 1
        fi
        [ -S "$KT_CTD_ADDRESS" ] && ctr -a "$KT_CTD_ADDRESS" version >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    echo "containerd socket $KT_CTD_ADDRESS did not answer" >&2
    return 1
}

kt_ctd_start() {
    KT_CTD_DIR=$(mktemp -d "/var/tmp/kkctd-$$-XXXXXX") || return 1
    KT_CTD_ADDRESS=$KT_CTD_DIR/containerd.sock
    KT_CTD_STATE=$KT_CTD_DIR/state
    KT_CTD_CGROUP_PARENT=kkctd-$$-sh$RANDOM
    cat >"$KT_CTD_DIR/config.toml" <<TOML
version = 2
root = "$KT_CTD_DIR/root"
state = "$KT_CTD_STATE"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$KT_CTD_ADDRESS"
[ttrpc]
  address = "$KT_CTD_ADDRESS.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$KT_CTD_DIR/opt"
TOML
    kt_cleanup kt_ctd_stop
    _kt_ctd_spawn
}

_kt_ctd_kill_daemon() {
    [ -n "$KT_CTD_PID" ] || return 0
    kill -TERM "$KT_CTD_PID" 2>/dev/null
    local i
    for ((i = 0; i < 250; i++)); do
        kill -0 "$KT_CTD_PID" 2>/dev/null || break
        sleep 0.02
    done
    kill -KILL "$KT_CTD_PID" 2>/dev/null
    wait "$KT_CTD_PID" 2>/dev/null
    KT_CTD_PID=""
}

kt_ctd_restart() {
    _kt_ctd_kill_daemon
    _kt_ctd_spawn
}

# Pids of the containers' init processes and of the shims.
kt_ctd_task_pids() {
    local bundle p
    for bundle in "$KT_CTD_STATE"/io.containerd.runtime.v2.task/*/*; do
        [ -d "$bundle" ] || continue
        [ -f "$bundle/init.pid" ] && cat "$bundle/init.pid" && echo
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/cwd" 2>/dev/null)" = "$bundle" ] && echo "${p#/proc/}"
        done
    done
}

kt_ctd_stop() {
    [ -n "$KT_CTD_DIR" ] && [ -d "$KT_CTD_DIR" ] || return 0
    _kt_ctd_kill_daemon
    local pids p i
    pids=$(kt_ctd_task_pids | grep -E '^[0-9]+$' | sort -u)
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    for ((i = 0; i < 250; i++)); do
        local alive=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.02
    done
    awk -v d="$KT_CTD_DIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    local h
    for h in /sys/fs/cgroup/*/"$KT_CTD_CGROUP_PARENT" /sys/fs/cgroup/"$KT_CTD_CGROUP_PARENT"; do
        [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf --one-file-system "$KT_CTD_DIR"
    KT_CTD_DIR=""
}
