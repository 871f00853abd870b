# Helpers of bench/bench-agent.sh (sourced). The set-up is the agent's
# end-to-end one (tests/e2e/lib-agent.sh: a private containerd, the busybox
# image, unique host-global names, teardown at exit, also after a failure);
# this file adds the peers (ctr in a namespace of its own, podman with a
# private storage, run directory and network), the stopwatch and statistics.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

# A benchmark prints figures, not PASS/FAIL lines: the harness' case
# functions become quiet, and a failure is an error message on stderr.
kt_case() { KT_CURRENT=$1; }
kt_pass() { :; }
kt_fail() { echo "bench-agent: ${KT_CURRENT:-}: $*" >&2; KT_FAILED=1; }

bench_die() { echo "bench-agent: $*" >&2; exit 1; }
bench_log() { echo "# $*" >&2; }

# The image and command every side runs: a shell that exits on SIGTERM (so
# a stop takes no stop timeout) and otherwise sleeps.
BENCH_IMAGE=docker.io/library/busybox:latest
BENCH_SH="trap 'exit 0' TERM; sleep 100000 & wait"
CTR_NS=kkbench

PROBE=${KUKEON_PROBE:-$KUKEON_BIN/../bench/bench-agent-probe}

bench_setup() {
    [ -x "$KUKEON_BIN/kukeond" ] || bench_die "no $KUKEON_BIN/kukeond (build it first)"
    [ -x "$PROBE" ] || bench_die "no $PROBE (make BUILD=... \$BUILD/bench/bench-agent-probe)"
    e2e_setup || exit 1
    kt_cleanup ctr_cgroups_teardown
    STAGE=$T/stage
    mkdir -p "$STAGE"
    timeout 60 ctr -a "$CTD_SOCK" -n "$CTR_NS" images import "$T/busybox.tar" >/dev/null 2>&1 ||
        bench_die "ctr images import into $CTR_NS failed"
    e2e_start_agent || exit 1
    e2e_wait_state default/default/default Ready 30 || bench_die "default stack not Ready"
    AGENT_RSS0=$(awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$AGENT_PID/status")
    [ "${KK_BENCH_PODMAN:-1}" = 1 ] && podman_setup
    return 0
}

# ---- podman: private storage, run dir, containers.conf and network -------

podman_setup() {
    local n=$(($$ % 1000))
    PM_DIR=$T/podman
    PM_NET=kkbench$n
    PM_IF=$(printf 'kkbp%03d' "$n")
    PM_SUBNET="10.$((150 + $$ % 50)).$((n % 250)).0/24"
    mkdir -p "$PM_DIR/net" "$PM_DIR/tmp"
    # Lower default ulimits: podman otherwise raises RLIMIT_NOFILE/NPROC
    # above what a sandbox allows ("error setting rlimit type 7: operation
    # not permitted", and --ulimit host does not help); events to a file
    # (no journald dependency); networks read from our own directory.
    printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[network]\nnetwork_config_dir = "%s"\n[engine]\nevents_logger = "file"\n' \
        "$PM_DIR/net" >"$PM_DIR/containers.conf"
    # A bridge of our own name and subnet (podman 4.3 cannot name the
    # interface on the command line, netavark reads it from this file).
    cat >"$PM_DIR/net/$PM_NET.json" <<JSON
{
  "name": "$PM_NET",
  "id": "$(printf '%064x' "$$")",
  "driver": "bridge",
  "network_interface": "$PM_IF",
  "subnets": [{"subnet": "$PM_SUBNET", "gateway": "${PM_SUBNET%.0/24}.1"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
JSON
    kt_cleanup podman_teardown
    if ! pm load -i "$T/busybox.tar" >/dev/null 2>&1; then
        bench_log "podman load failed; podman peers skipped"
        KK_BENCH_PODMAN=0
    fi
}

pm() {
    CONTAINERS_CONF=$PM_DIR/containers.conf timeout "${PM_TIMEOUT:-120}" \
        podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --tmpdir "$PM_DIR/tmp" \
        --cgroup-manager cgroupfs "$@"
}

# pm_pod_rm NAME...|-a: remove pods, and the cgroups podman (cgroupfs
# manager) sometimes leaves behind under /libpod_parent/<pod id>.
pm_pod_rm() {
    local ids id d
    if [ "$1" = -a ]; then
        ids=$(PM_TIMEOUT=60 pm pod ps -q --no-trunc 2>/dev/null)
    else
        ids=$(PM_TIMEOUT=60 pm pod inspect --format '{{.ID}}' "$@" 2>/dev/null)
    fi
    PM_TIMEOUT=600 pm pod rm -f -t 0 "$@" >/dev/null 2>&1
    for id in $ids; do
        [[ $id =~ ^[0-9a-f]{64}$ ]] || continue
        for d in /sys/fs/cgroup/*/libpod_parent/"$id"; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    done
}

podman_teardown() {
    pm_pod_rm -a
    PM_TIMEOUT=30 pm rm -a -f -t 0 >/dev/null 2>&1
    ip link del "$PM_IF" 2>/dev/null
}

# pod_yaml NAME: a kind: Pod with the cell's container.
pod_yaml() {
    cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: $BENCH_IMAGE
      command: ["/bin/sh", "-c", "$BENCH_SH"]
EOF
}

# ---- kukeon manifests ------------------------------------------------------

# cell_yaml NAME [ENV_VALUE]: a one-container cell in default/default/default.
cell_yaml() {
    cat <<EOF
apiVersion: v1beta1
kind: Cell
metadata:
  name: $1
spec:
  containers:
    - id: c
      image: $BENCH_IMAGE
      command: /bin/sh
      args: ["-c", "$BENCH_SH"]
      env: ["KKGEN=${2:-0}"]
      restartPolicy: "no"
EOF
}

empty_cell_yaml() { printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers: []\n' "$1"; }
stack_yaml() { printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: %s\n' "$1"; }

cell_dir() { echo "$STATE/default/default/default/$1"; }
stack_dir() { echo "$STATE/default/default/$1"; }

# wait_gone PATH... TIMEOUT_S: every PATH absent (20 ms polls; teardown only,
# never measured).
wait_gone() {
    local n=$(($# - 1)) args=("$@") i p
    local limit=$((${args[$n]} * 50))
    for ((i = 0; i < limit; i++)); do
        for p in "${args[@]:0:$n}"; do [ -e "$p" ] && break; p=; done
        [ -z "$p" ] && return 0
        sleep 0.02
    done
    return 1
}

# ---- ctr -------------------------------------------------------------------

# ctr's containers get cgroups of their own under "$CGROOT-ctr" (ctr's
# default, /<namespace>/<id>, would be a name shared with other runs).
ctr_run() { # ID
    timeout 60 ctr -a "$CTD_SOCK" -n "$CTR_NS" run -d --cgroup "/$CGROOT-ctr/$1" \
        "$BENCH_IMAGE" "$1" /bin/sh -c "$BENCH_SH" >/dev/null
}
ctr_remove() { # ID...
    local id
    for id in "$@"; do
        timeout 30 ctr -a "$CTD_SOCK" -n "$CTR_NS" tasks rm -f "$id" >/dev/null 2>&1
        timeout 30 ctr -a "$CTD_SOCK" -n "$CTR_NS" containers rm "$id" >/dev/null 2>&1
    done
}

ctr_cgroups_teardown() {
    local d
    for d in /sys/fs/cgroup/*/"$CGROOT-ctr"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
}

# ---- time and statistics ---------------------------------------------------

# now_us: microseconds (bash's EPOCHREALTIME, no fork).
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }

# median / p99 / max of numbers on stdin (nearest rank).
stat_median() { sort -n | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
stat_p99() { sort -n | awk '{v[NR]=$1} END {if (NR) {r=int(NR*0.99); if (r<NR*0.99) r++; print v[r]}}'; }
stat_max() { sort -n | tail -1; }
# over LIMIT: how many numbers on stdin exceed LIMIT.
stat_over() { awk -v l="$1" '$1 > l {n++} END {print n + 0}'; }
# load: the 1-minute load average (the machine may be shared).
load() { cut -d' ' -f1 /proc/loadavg; }
# ms US: microseconds as milliseconds with one decimal.
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }
# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b>0) printf "%.2f", a/b; else print "-"}'; }
# verdict VALUE GOAL: "met" if VALUE <= GOAL.
verdict() { awk -v v="$1" -v g="$2" 'BEGIN {print (v != "-" && v+0 <= g+0) ? "met" : "MISSED"}'; }

# probe_max: the largest time of a probe run's output, or fail if any file
# was not satisfied (its time is "-").
probe_max() { awk '$1 == "-" {bad=1} {if ($1+0 > m) m=$1+0} END {if (bad || NR==0) exit 1; print m}'; }
