# Helpers of the agent's end-to-end tests (sourced; not a test itself: it
# prints no PASS/FAIL line and exits 0 when run alone).
# e2e_setup: a private containerd, the busybox image loaded into
# the run's default realm namespace ($NS_DEFAULT), unique host-global names, and cleanup at exit.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

# containerd namespaces of this run: runc keeps its state per namespace in
# /run/containerd/runc/<ns>/<id> whatever containerd instance runs it, so
# two runs using "kukeon-default" would drive each other's containers.
NSP=${NSP:-kke2e-$$-}
NS_DEFAULT=${NS_DEFAULT:-${NSP}default}

e2e_log() { echo "# $*" >&2; }

e2e_setup() {
    if [ "$(id -u)" -ne 0 ]; then
        kt_case setup
        kt_fail "needs root"
        return 1
    fi
    if [ ! -x "$KUKEON_BIN/kukeond" ]; then
        kt_case setup
        kt_fail "$KUKEON_BIN/kukeond is not built"
        return 1
    fi
    T=$(mktemp -d "/var/tmp/kke2e-$$-XXXXXX")
    INBOX=$T/inbox STATE=$T/state RUN=$T/run
    mkdir -p "$INBOX" "$STATE" "$RUN"
    local n=$(($$ % 1000))
    CGROOT="kke2e-$$"
    BPFX=$(printf 'e%03d' "$n")
    VPFX=$(printf 'f%03d' "$n")
    NFT="kke2e_$$"
    POOL="10.$((200 + $$ % 50)).0.0/16"
    CTD_SOCK=$T/ctd/containerd.sock
    kt_cleanup e2e_teardown
    mkdir -p "$T/ctd"
    cat >"$T/ctd/config.toml" <<TOML
version = 2
root = "$T/ctd/root"
state = "$T/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$CTD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/ctd/opt"
TOML
    e2e_containerd_up
    kt_case setup
    if ! ctr -a "$CTD_SOCK" version >/dev/null 2>&1; then
        kt_fail "containerd did not start: $(tail -5 "$T/ctd/containerd.log")"
        return 1
    fi
    if ! bash "$KUKEON_SRC/contrib/mkimage/mkimage.sh" -o "$T/busybox.tar" >/dev/null 2>&1 ||
        ! ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" images import "$T/busybox.tar" >/dev/null 2>&1; then
        kt_fail "busybox image not built or imported"
        return 1
    fi
    kt_pass
}

# Starts the private containerd (again) and waits for its socket.
e2e_containerd_up() {
    setsid containerd --config "$T/ctd/config.toml" >>"$T/ctd/containerd.log" 2>&1 </dev/null &
    CTD_PID=$!
    local i
    for i in $(seq 100); do
        ctr -a "$CTD_SOCK" version >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# Stops the private containerd (its shims and containers keep running).
e2e_containerd_down() {
    local i
    kill -TERM "$CTD_PID" 2>/dev/null
    for i in $(seq 100); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CTD_PID" 2>/dev/null
    wait "$CTD_PID" 2>/dev/null
}

e2e_start_agent() {
    "$KUKEON_BIN/kukeond" --manifests "$INBOX" --state "$STATE" \
        --containerd-address "$CTD_SOCK" --run-dir "$RUN" --cgroup-root "$CGROOT" \
        --bridge-prefix "$BPFX" --veth-prefix "$VPFX" --subnet-pool "$POOL" --nft-table "$NFT" \
        --namespace-prefix "$NSP" --stop-timeout 2 --log-level debug --config /dev/null "$@" \
        >>"$T/agent.log" 2>&1 </dev/null &
    AGENT_PID=$!
    sleep 0.3
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
        kt_case agent_start
        kt_fail "kukeond exited: $(tail -5 "$T/agent.log")"
        return 1
    fi
}

e2e_stop_agent() {
    [ -n "${AGENT_PID:-}" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null
    local i
    for i in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}

# e2e_status_field KEY FIELD: the first "FIELD: value" of KEY's status.yaml.
e2e_status_field() {
    sed -n "s/^ *-\{0,1\} *$2: //p" "$STATE/$1/status.yaml" 2>/dev/null | head -1 | tr -d '"'
}

e2e_wait_state() { # KEY STATE TIMEOUT_S
    local i
    for i in $(seq $(($3 * 10))); do
        [ "$(e2e_status_field "$1" state)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

e2e_wait_new_pid() { # KEY OLDPID TIMEOUT_S
    local i p
    for i in $(seq $(($3 * 10))); do
        p=$(e2e_status_field "$1" pid)
        [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$2" ] &&
            [ "$(e2e_status_field "$1" state)" = Ready ] && return 0
        sleep 0.1
    done
    return 1
}

e2e_wait_gone() { # PATH TIMEOUT_S
    local i
    for i in $(seq $(($2 * 10))); do
        [ -e "$1" ] || return 0
        sleep 0.1
    done
    return 1
}

# The directory of cgroup PATH in the memory (v1) or unified (v2) hierarchy.
e2e_cgroup_dir() {
    if [ -d /sys/fs/cgroup/memory ]; then echo "/sys/fs/cgroup/memory$1"; else echo "/sys/fs/cgroup$1"; fi
}
e2e_cgroup_exists() { [ -n "$1" ] && [ -d "$(e2e_cgroup_dir "$1")" ]; }
# The cgroup of process PID (memory hierarchy on v1, the unified one on v2).
e2e_cgroup_of() {
    if [ -d /sys/fs/cgroup/memory ]; then
        sed -n 's/^[0-9]*:memory://p' "/proc/$1/cgroup"
    else
        sed -n 's/^0:://p' "/proc/$1/cgroup"
    fi
}

e2e_teardown() {
    # Once only: the EXIT trap may run it again after a signal did.
    [ -n "${T:-}" ] && [ -z "${E2E_TORN_DOWN:-}" ] || return 0
    E2E_TORN_DOWN=1
    e2e_stop_agent
    # Containers and their shims: by the pid files of this containerd only.
    local ns id f i
    local live=
    [ -n "${CTD_PID:-}" ] && kill -0 "$CTD_PID" 2>/dev/null && live=1
    for ns in ${live:+$(timeout 10 ctr -a "$CTD_SOCK" namespaces ls -q 2>/dev/null)}; do
        for id in $(ctr -a "$CTD_SOCK" -n "$ns" tasks ls -q 2>/dev/null); do
            ctr -a "$CTD_SOCK" -n "$ns" tasks kill -s KILL "$id" >/dev/null 2>&1
        done
        sleep 0.3
        for id in $(ctr -a "$CTD_SOCK" -n "$ns" containers ls -q 2>/dev/null); do
            ctr -a "$CTD_SOCK" -n "$ns" tasks rm -f "$id" >/dev/null 2>&1
            ctr -a "$CTD_SOCK" -n "$ns" containers rm "$id" >/dev/null 2>&1
        done
    done
    for f in $(find "$T/ctd/state" -name init.pid -o -name shim.pid 2>/dev/null); do
        kill -KILL "$(cat "$f")" 2>/dev/null
    done
    if [ -n "${CTD_PID:-}" ]; then
        kill -TERM "$CTD_PID" 2>/dev/null
        for i in $(seq 50); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CTD_PID" 2>/dev/null
    fi
    # Mounts under T (netns bind mounts, overlay rootfs), deepest first.
    awk -v t="$T" '$5 ~ "^"t {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    local l
    for l in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^(${BPFX}|${VPFX})"); do
        ip link del "$l" 2>/dev/null
    done
    nft delete table inet "$NFT" 2>/dev/null
    for d in /run/containerd/runc/"$NSP"*; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null
    done
    local d
    for d in /sys/fs/cgroup/*/"$CGROOT" /sys/fs/cgroup/"$CGROOT"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    # The agent's lock files (agent/lock.c) of this test's names, unless
    # an agent still holds one: a later test whose pid gives the same
    # prefixes must find the host as a fresh one.
    for f in /run/lock/kukeon/cgroup-"$CGROOT".lock /run/lock/kukeon/nft-"$NFT".lock \
        /run/lock/kukeon/bridge-"$BPFX".lock /run/lock/kukeon/veth-"$VPFX".lock; do
        [ -f "$f" ] && flock -n "$f" rm -f "$f" 2>/dev/null
    done
    if [ "${KK_E2E_KEEP:-0}" = 1 ]; then
        e2e_log "kept $T"
    else
        # On failure, the end of the agent's log goes to stderr, which
        # tests/run.sh shows beside the failure.
        if [ "$KT_FAILED" -ne 0 ] && [ -f "$T/agent.log" ]; then
            e2e_log "last lines of the agent's log:"
            grep -v ' debug ' "$T/agent.log" | tail -n 60 >&2
        fi
        rm -rf "$T"
    fi
}
