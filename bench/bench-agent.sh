#!/bin/bash
# The agent's benchmarks (issue 5, "Speed"): kukeond on a private containerd
# against `ctr run -d` and `podman kube play` measured in the same run.
#
#   ready   drop-to-Ready of a one-container cell (image present), against
#           `ctr run -d` and `podman kube play` of the same image and command;
#           interleaved, order rotated each round, medians
#   fifty   50 cells dropped at once until all Ready, against 50 sequential
#           `ctr run -d` and one `podman kube play` of 50 pods
#   idle    kukeond's RSS with those cells running and its CPU over an idle
#           window
#   exit    container killed (SIGKILL to its pid) -> status.yaml shows it
#   begins  manifest saved -> the agent's first write for it (its spec
#           materialised in the state tree)
#   scale   one changed cell -> Ready at the new generation, with 10 and with
#           500 resources present
#   cells   10, 100, 500, 1,000 cells without containers dropped at once, as
#           N files and as N/50 files of 50 documents: drop -> all Ready and
#           remove -> all gone, per cell (the curve must stay flat)
#   restart kukeond restarted with KK_BENCH_CELLS cells running: until its
#           log says it converged and until _agent/status.yaml (written
#           every 5 s) shows this agent with every cell Ready
#   shim    a cell of a root and two sidecars: drop -> Ready (medians), and
#           the runc shims serving KK_BENCH_SHIM_CELLS such cells: how many,
#           their RSS and PSS per cell
#
# Every time is taken by bench-agent-probe (inotify, no polling) from the
# rename into the inbox (or the kill) to the status file's change; peers are
# timed around their command with bash's EPOCHREALTIME.
#
# Environment: KK_BENCH_ONLY="ready fifty ..." (default: all), KK_BENCH_ITERS
# (ready rounds, 7), KK_BENCH_CELLS (50), KK_BENCH_IDLE_S (60),
# KK_BENCH_SAVES (begins samples, 50), KK_BENCH_SCALE (500), KK_BENCH_EDITS
# (scale samples per size, 7), KK_BENCH_SETTLE_S (quiet time before the
# scale samples, 5), KK_BENCH_CELL_SIZES (cells: "10 100 500 1000"),
# KK_BENCH_SHIM_CELLS (shim: 5), KK_BENCH_PODMAN=0 (no podman peer).
# Root only; everything it starts is stopped by pid and removed at exit.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
case ${BUILD:-build} in /*) bdir=$BUILD ;; *) bdir=$KUKEON_SRC/${BUILD:-build} ;; esac
KUKEON_BIN=${KUKEON_BIN:-$bdir/bin}
# bench/run.sh makes KUKEON_BIN $PWD/$BUILD/bin, wrong for an absolute BUILD.
[ -d "$KUKEON_BIN" ] || KUKEON_BIN=$bdir/bin
. "$KUKEON_SRC/bench/lib-bench-agent.sh"

ONLY=${KK_BENCH_ONLY:-ready fifty idle exit begins restart scale cells shim}
ITERS=${KK_BENCH_ITERS:-7}
CELLS=${KK_BENCH_CELLS:-50}
IDLE_S=${KK_BENCH_IDLE_S:-60}
SAVES=${KK_BENCH_SAVES:-50}
SCALE=${KK_BENCH_SCALE:-500}
EDITS=${KK_BENCH_EDITS:-7}
SETTLE_S=${KK_BENCH_SETTLE_S:-5}
CELL_SIZES=${KK_BENCH_CELL_SIZES:-10 100 500 1000}
if ! [ "$CELLS" -ge 1 ] 2>/dev/null || [ "$CELLS" -gt 240 ]; then bench_die "KK_BENCH_CELLS: 1..240"; fi
if ! [ "$SCALE" -ge 20 ] 2>/dev/null || [ "$SCALE" -gt 2000 ]; then bench_die "KK_BENCH_SCALE: 20..2000"; fi
for n in $CELL_SIZES; do
    # A space bridge takes at most 1,024 ports (BR_MAX_PORTS).
    if ! [ "$n" -ge 1 ] 2>/dev/null || [ "$n" -gt 1000 ]; then bench_die "KK_BENCH_CELL_SIZES: 1..1000 each"; fi
done

want() { [[ " $ONLY " == *" $1 "* ]]; }
podman_on() { [ "${KK_BENCH_PODMAN:-1}" = 1 ]; }

READY='^  state: Ready$'

# kk_drop NAME...: rename staged manifests NAME.yaml into the inbox and wait
# until each cell is Ready; prints the probe's lines (µs and path per cell).
kk_drop() {
    local args=() st=() n
    for n in "$@"; do
        args+=(-r "$STAGE/$n.yaml" "$INBOX/$n.yaml")
        st+=("$(cell_dir "$n")/status.yaml")
    done
    "$PROBE" -t 120000 "${args[@]}" -- -m "$READY" "${st[@]}"
}

kk_remove() { # NAME...: remove the manifests, wait for the cells to go
    local n dirs=()
    for n in "$@"; do
        rm -f "$INBOX/$n.yaml"
        dirs+=("$(cell_dir "$n")")
    done
    wait_gone "${dirs[@]}" 120 || bench_log "cells still present after 120 s: $*"
}

# ---- 1. drop-to-Ready -------------------------------------------------------

bench_ready() {
    local i side kk=() ct=() pd=() t0 t1 out
    bench_log "ready: $ITERS rounds (+1 warm-up) of kukeon, ctr$(podman_on && echo ' and podman')"
    for ((i = 0; i <= ITERS; i++)); do
        local sides=(kukeon ctr podman)
        # Rotate the order, so no side always follows another's teardown.
        sides=("${sides[@]:$((i % 3))}" "${sides[@]:0:$((i % 3))}")
        for side in "${sides[@]}"; do
            case $side in
            kukeon)
                cell_yaml "r$i" >"$STAGE/r$i.yaml"
                out=$(kk_drop "r$i" | probe_max) || bench_die "ready: cell r$i not Ready in 120 s"
                [ "$i" -gt 0 ] && kk+=("$out")
                kk_remove "r$i"
                ;;
            ctr)
                t0=$(now_us)
                ctr_run "r$i" || bench_die "ready: ctr run -d failed"
                t1=$(now_us)
                [ "$i" -gt 0 ] && ct+=($((t1 - t0)))
                ctr_remove "r$i"
                ;;
            podman)
                podman_on || continue
                pod_yaml "r$i" >"$STAGE/pod-r$i.yaml"
                t0=$(now_us)
                pm kube play --network "$PM_NET" "$STAGE/pod-r$i.yaml" >/dev/null 2>&1 ||
                    bench_die "ready: podman kube play failed"
                t1=$(now_us)
                [ "$i" -gt 0 ] && pd+=($((t1 - t0)))
                pm_pod_rm "r$i"
                ;;
            esac
        done
    done
    local mk mc mp
    mk=$(printf '%s\n' "${kk[@]}" | stat_median)
    mc=$(printf '%s\n' "${ct[@]}" | stat_median)
    echo "ready: kukeon drop-to-Ready   median $(ms "$mk") ms  (runs: $(for v in "${kk[@]}"; do printf '%s ' "$(ms "$v")"; done))"
    echo "ready: ctr run -d             median $(ms "$mc") ms  (runs: $(for v in "${ct[@]}"; do printf '%s ' "$(ms "$v")"; done))"
    echo "ready: ratio vs ctr $(ratio "$mk" "$mc")x (goal <= 1.3: $(verdict "$(ratio "$mk" "$mc")" 1.3)) [load $(load)]"
    if podman_on; then
        mp=$(printf '%s\n' "${pd[@]}" | stat_median)
        echo "ready: podman kube play       median $(ms "$mp") ms  (runs: $(for v in "${pd[@]}"; do printf '%s ' "$(ms "$v")"; done))"
        echo "ready: ratio vs podman $(ratio "$mk" "$mp")x (goal <= 0.5: $(verdict "$(ratio "$mk" "$mp")" 0.5))"
    fi
}

# ---- 2. fifty cells at once -------------------------------------------------

FIFTY=()

bench_fifty() {
    local i t0 t1 tc tp tk names=()
    bench_log "fifty: $CELLS cells: ctr sequential, podman one kube play, kukeon one drop"
    for ((i = 0; i < CELLS; i++)); do names+=("f$i"); done

    t0=$(now_us)
    for n in "${names[@]}"; do ctr_run "$n" || bench_die "fifty: ctr run -d $n failed"; done
    t1=$(now_us)
    tc=$((t1 - t0))
    ctr_remove "${names[@]}"

    if podman_on; then
        for n in "${names[@]}"; do
            echo ---
            pod_yaml "$n"
        done >"$STAGE/pods.yaml"
        t0=$(now_us)
        PM_TIMEOUT=600 pm kube play --network "$PM_NET" "$STAGE/pods.yaml" >/dev/null 2>&1 ||
            bench_die "fifty: podman kube play of $CELLS pods failed"
        t1=$(now_us)
        tp=$((t1 - t0))
        pm_pod_rm -a
    fi

    for n in "${names[@]}"; do cell_yaml "$n" >"$STAGE/$n.yaml"; done
    tk=$(kk_drop "${names[@]}" | probe_max) || bench_die "fifty: not all $CELLS cells Ready in 120 s"
    FIFTY=("${names[@]}")

    echo "fifty: kukeon $CELLS cells dropped at once -> all Ready  $(ms "$tk") ms"
    echo "fifty: ctr run -d x $CELLS sequential               $(ms "$tc") ms"
    echo "fifty: ratio vs ctr $(ratio "$tk" "$tc")x (goal <= 1.0: $(verdict "$(ratio "$tk" "$tc")" 1.0)) [load $(load)]"
    if podman_on; then
        echo "fifty: podman kube play of $CELLS pods (one file)     $(ms "$tp") ms"
        echo "fifty: ratio vs podman $(ratio "$tk" "$tp")x (goal <= 0.4: $(verdict "$(ratio "$tk" "$tp")" 0.4))"
    fi
}

ensure_fifty() {
    [ "${#FIFTY[@]}" -gt 0 ] && return 0
    local i
    for ((i = 0; i < CELLS; i++)); do
        FIFTY+=("f$i")
        cell_yaml "f$i" >"$STAGE/f$i.yaml"
    done
    kk_drop "${FIFTY[@]}" | probe_max >/dev/null || bench_die "not all $CELLS cells Ready in 120 s"
}

# ---- 3. RSS and idle CPU ----------------------------------------------------

bench_idle() {
    ensure_fifty
    sleep 2 # let the last status writes and log lines settle
    local rss rssm hwm anon file a b hz cpu
    mib() { awk -v k="$(awk -v f="$1:" '$1 == f {print $2}' "/proc/$AGENT_PID/status")" \
        'BEGIN {printf "%.1f", k/1024}'; }
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status")
    rssm=$(mib VmRSS) hwm=$(mib VmHWM) anon=$(mib RssAnon) file=$(mib RssFile)
    hz=$(getconf CLK_TCK)
    # utime + stime: fields 14 and 15 (the command, field 2, has no spaces).
    a=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
    sleep "$IDLE_S"
    b=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
    cpu=$(awk -v d=$((b - a)) -v hz="$hz" -v s="$IDLE_S" 'BEGIN {printf "%.3f", 100 * d / hz / s}')
    echo "idle: kukeond VmRSS with ${#FIFTY[@]} cells running $rssm MiB = RssAnon $anon + RssFile $file (peak VmHWM $hwm MiB; ${AGENT_RSS0:-?} MiB at start, no cells) (goal <= 10 MiB: $(verdict "$rss" 10240))"
    echo "idle: kukeond CPU over ${IDLE_S} s idle: $((b - a)) ticks of 1/$hz s = ${cpu}% of a core (goal <= 0.1%: $(verdict "$cpu" 0.1))"
}

# ---- 4. exit -> status ------------------------------------------------------

bench_exit() {
    ensure_fifty
    local n pid out st v=()
    for n in "${FIFTY[@]}"; do
        st=$(cell_dir "$n")/status.yaml
        pid=$(sed -n 's/^ *pid: //p' "$st" | head -1)
        [[ $pid =~ ^[1-9][0-9]*$ ]] || bench_die "exit: no pid in $st"
        # Only a process of this run's cells: its cgroup is beneath our root.
        [[ $(e2e_cgroup_of "$pid") == "/$CGROOT/"* ]] ||
            bench_die "exit: pid $pid of $n is not in cgroup /$CGROOT"
        # Satisfied by the first status.yaml whose cell is no longer Ready.
        out=$("$PROBE" -t 10000 -k "$pid" -- -x "$READY" "$st" | probe_max) ||
            bench_die "exit: $n: status not updated within 10 s of kill -9 $pid"
        v+=("$out")
    done
    local p50 p99 mx
    p50=$(printf '%s\n' "${v[@]}" | stat_median)
    p99=$(printf '%s\n' "${v[@]}" | stat_p99)
    mx=$(printf '%s\n' "${v[@]}" | stat_max)
    echo "exit: kill -9 -> status.yaml not Ready, ${#v[@]} samples: median $(ms "$p50") ms, p99 $(ms "$p99") ms, max $(ms "$mx") ms, $(printf '%s\n' "${v[@]}" | stat_over 50000) over 50 ms (goal p99 <= 50 ms: $(verdict "$p99" 50000)) [load $(load)]"
    grep -E '^  (state|reason):|exitCode' "$(cell_dir "${FIFTY[0]}")/status.yaml" | tr -s ' ' | tr '\n' ' ' |
        sed 's/^/exit: status after the kill: /'
    echo
}

# ---- 5. save -> first write --------------------------------------------------

bench_begins() {
    local i out spec=() st=()
    bench_log "begins: $SAVES stack manifests saved one at a time"
    for ((i = 0; i < SAVES; i++)); do
        stack_yaml "b$i" >"$STAGE/b$i.yaml"
        out=$("$PROBE" -t 30000 -r "$STAGE/b$i.yaml" "$INBOX/b$i.yaml" -- \
            "$(stack_dir "b$i")/stack.yaml" -m "$READY" "$(stack_dir "b$i")/status.yaml") ||
            bench_die "begins: stack b$i not Ready in 30 s"
        spec+=("$(awk 'NR == 1 {print $1}' <<<"$out")")
        st+=("$(awk 'NR == 2 {print $1}' <<<"$out")")
        rm -f "$INBOX/b$i.yaml"
        wait_gone "$(stack_dir "b$i")" 30 || bench_die "begins: stack b$i not removed in 30 s"
    done
    local p50 p99 s50 s99
    p50=$(printf '%s\n' "${spec[@]}" | stat_median)
    p99=$(printf '%s\n' "${spec[@]}" | stat_p99)
    s50=$(printf '%s\n' "${st[@]}" | stat_median)
    s99=$(printf '%s\n' "${st[@]}" | stat_p99)
    echo "begins: save -> spec materialised in the tree, ${#spec[@]} samples: median $(ms "$p50") ms, p99 $(ms "$p99") ms, $(printf '%s\n' "${spec[@]}" | stat_over 10000) over 10 ms (goal p99 <= 10 ms: $(verdict "$p99" 10000)) [load $(load)]"
    echo "begins: save -> stack reconciled (status Ready):     median $(ms "$s50") ms, p99 $(ms "$s99") ms"
}

# ---- 5b. agent restart with the cells running --------------------------------

# cells_ready_in_agent_status PID N: _agent/status.yaml is this agent's and
# counts N cells Ready.
agent_status_says() {
    awk -v pid="$1" -v n="$2" '
        $1 == "pid:" && $2 == pid {p = 1}
        $1 == "cells:" {c = 1; next}
        c && $1 == "Ready:" && $2 == n {r = 1}
        c && $1 ~ /^[a-z]+:$/ && $1 != "Ready:" && $1 !~ /^[A-Z]/ {c = 0}
        END {exit !(p && r)}' "$STATE/_agent/status.yaml" 2>/dev/null
}

bench_restart() {
    ensure_fifty
    sleep 2
    local n=${#FIFTY[@]} before after t0 t1 i line conv
    before=$(for c in "${FIFTY[@]}"; do sed -n 's/^ *pid: //p' "$(cell_dir "$c")/status.yaml"; done | sort | tr '\n' ' ')
    e2e_stop_agent
    local mark
    mark=$(wc -l <"$T/agent.log")
    t0=$(now_us)
    e2e_start_agent || bench_die "restart: kukeond did not start again"
    for ((i = 0; i < 60 * 50; i++)); do
        agent_status_says "$AGENT_PID" "$n" && break
        sleep 0.02
    done
    t1=$(now_us)
    agent_status_says "$AGENT_PID" "$n" || bench_die "restart: _agent/status.yaml never showed $n cells Ready"
    # The agent's own log stamps its convergence (sd_notify READY=1).
    line=$(tail -n +"$((mark + 1))" "$T/agent.log" | grep -m1 'converged after start-up')
    conv=$(date -d "${line%% *}" +%s%6N 2>/dev/null)
    after=$(for c in "${FIFTY[@]}"; do sed -n 's/^ *pid: //p' "$(cell_dir "$c")/status.yaml"; done | sort | tr '\n' ' ')
    echo "restart: kukeond restarted with $n cells running: converged (log) after $([ -n "$conv" ] && ms $((conv - t0)) || echo '?') ms; _agent/status.yaml shows all $n Ready after $(ms $((t1 - t0))) ms (written every 5 s); container pids $([ "$before" = "$after" ] && echo unchanged || echo CHANGED) [load $(load)]"
    echo "restart: log: ${line#* }"
}

# ---- 6. reconcile latency vs resources present ------------------------------

# The tree's resources: every spec file (realm, space, stack, cell).
count_resources() {
    find "$STATE" -mindepth 2 \( -name realm.yaml -o -name space.yaml -o -name stack.yaml \
        -o -name cell.yaml \) | wc -l
}

# edit_samples OUTVAR: KK_BENCH_EDITS edits of cell "sx" (a new env value:
# its container is recreated), each timed to Ready at the new generation.
edit_samples() {
    local -n outv=$1
    local i gen st out
    st=$(cell_dir sx)/status.yaml
    for ((i = 0; i < EDITS; i++)); do
        EDIT_GEN=$((EDIT_GEN + 1))
        gen=$(sed -n 's/^  observedGeneration: //p' "$st")
        [ -n "$gen" ] || bench_die "scale: no observedGeneration in $st"
        cell_yaml sx "$EDIT_GEN" >"$STAGE/sx.yaml"
        out=$("$PROBE" -t 60000 -r "$STAGE/sx.yaml" "$INBOX/sx.yaml" -- \
            -m "$READY" -x "^  observedGeneration: $gen\$" "$st" | probe_max) ||
            bench_die "scale: edit $EDIT_GEN of sx not Ready in 60 s"
        outv+=("$out")
    done
}

bench_scale() {
    local i n small=() large=() ncells nstacks
    EDIT_GEN=0
    [ "${#FIFTY[@]}" -gt 0 ] && kk_remove "${FIFTY[@]}" && FIFTY=()
    cell_yaml sx 0 >"$STAGE/sx.yaml"
    kk_drop sx | probe_max >/dev/null || bench_die "scale: cell sx not Ready"
    # Fill up to 10 with stacks.
    for ((i = $(count_resources); i < 10; i++)); do
        echo ---
        stack_yaml "s$i"
    done >"$STAGE/fill-small.yaml"
    mv "$STAGE/fill-small.yaml" "$INBOX/"
    for ((i = 0; i < 300 && $(count_resources) < 10; i++)); do sleep 0.05; done
    wait_ready_all 60 || bench_die "scale: the small set did not converge"
    sleep "$SETTLE_S"
    n=$(count_resources)
    edit_samples small
    local m1 m2
    m1=$(printf '%s\n' "${small[@]}" | stat_median)
    echo "scale: $n resources: edit -> Ready at the new generation, median $(ms "$m1") ms (runs: $(for v in "${small[@]}"; do printf '%s ' "$(ms "$v")"; done))"

    # Up to SCALE: half of what is missing as cells without containers (each
    # has a cgroup, a netns, a veth and an IP; at most 200, the space is a
    # /24), the rest as stacks (a cgroup subtree each); 50 per inbox file.
    local missing=$((SCALE - n))
    ncells=$((missing / 2))
    [ "$ncells" -gt 200 ] && ncells=200
    nstacks=$((missing - ncells))
    bench_log "scale: adding $ncells empty cells and $nstacks stacks"
    local k=0 f
    for ((i = 0; i < ncells; i++, k++)); do
        f="$STAGE/fill-$((k / 50)).yaml"
        echo --- >>"$f"
        empty_cell_yaml "e$i" >>"$f"
    done
    for ((i = 0; i < nstacks; i++, k++)); do
        f="$STAGE/fill-$((k / 50)).yaml"
        echo --- >>"$f"
        stack_yaml "t$i" >>"$f"
    done
    for f in "$STAGE"/fill-*.yaml; do mv "$f" "$INBOX/"; done
    for ((i = 0; i < 3000 && $(count_resources) < SCALE; i++)); do sleep 0.1; done
    wait_ready_all 600 || bench_die "scale: $SCALE resources did not converge in 600 s"
    # Both sizes are measured on a quiet agent: the 200 network set-ups
    # and status writes of the fill are over.
    sleep "$SETTLE_S"
    n=$(count_resources)
    edit_samples large
    m2=$(printf '%s\n' "${large[@]}" | stat_median)
    echo "scale: $n resources: edit -> Ready at the new generation, median $(ms "$m2") ms (runs: $(for v in "${large[@]}"; do printf '%s ' "$(ms "$v")"; done))"
    echo "scale: ratio $n / 10 resources $(ratio "$m2" "$m1")x (goal <= 1.5: $(verdict "$(ratio "$m2" "$m1")" 1.5)) [load $(load)]"
    # Leave it to the agent to take it all down (teardown would otherwise
    # delete a few hundred veths by hand).
    rm -f "$INBOX"/*.yaml
    wait_gone "$STATE/default/default/default/sx" "$STATE/default/default/default/e0" 300 ||
        bench_log "scale: cells still present after 300 s"
}

# wait_ready_all TIMEOUT_S: every status.yaml of the tree says Ready (the
# resource's own state line, two spaces in), and every spec has a status.
wait_ready_all() {
    local i specs ready
    for ((i = 0; i < $1 * 5; i++)); do
        specs=$(count_resources)
        ready=$(find "$STATE" -mindepth 2 -name status.yaml -not -path '*/_*' -exec grep -l "$READY" {} + | wc -l)
        [ "$ready" -ge "$specs" ] && return 0
        sleep 0.2
    done
    return 1
}

# ---- 7. N cells at once: the per-cell cost must not grow with N -----------

# The cells go to a space of their own with a /21 (2,046 addresses; the
# default space has a /24), in its stack "default"; they have no containers,
# so what is measured is the agent's work (inbox apply, cgroup, netns, veth,
# IP, hosts files) and not the shim's.
SCL_SPACE=scl
scl_setup() {
    [ -n "${SCL_READY:-}" ] && return 0
    local subnet="${POOL%.0.0/16}.248.0/21"
    printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: %s\nspec:\n  network:\n    subnet: %s\n---\napiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: default\nspec:\n  spaceId: %s\n' \
        "$SCL_SPACE" "$subnet" "$SCL_SPACE" >"$STAGE/scl.yaml"
    "$PROBE" -t 60000 -r "$STAGE/scl.yaml" "$INBOX/scl.yaml" -- -m "$READY" \
        "$STATE/default/$SCL_SPACE/status.yaml" "$STATE/default/$SCL_SPACE/default/status.yaml" \
        >/dev/null || bench_die "cells: space $SCL_SPACE not Ready in 60 s"
    SCL_READY=1
}
scl_cell_yaml() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  spaceId: %s\n  stackId: default\n  containers: []\n' \
        "$1" "$SCL_SPACE"
}
scl_cell_dir() { echo "$STATE/default/$SCL_SPACE/default/$1"; }

# cells_round N PER_FILE: drops N cells in files of PER_FILE documents
# (renamed into the inbox within a few ms), times all Ready, then removes
# the files and times all cell directories gone. Prints "READY_US GONE_US
# CPU_READY_MS CPU_GONE_MS": the last two are kukeond's own CPU time (user +
# system, from /proc/PID/stat) over each phase, which the other suites
# loading the machine do not inflate as they do the wall-clock times.
agent_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($14 + $15) * 1000 / hz}' "/proc/$AGENT_PID/stat"; }
cells_round() {
    local n=$1 per=$2 i f args=() st=() dirs=() files=() out t0 t1 c0 c1 c2
    rm -f "$STAGE"/c-*.yaml
    for ((i = 0; i < n; i++)); do
        f=c-$((i / per)).yaml
        [ $((i % per)) -eq 0 ] && files+=("$f")
        { [ "$per" -gt 1 ] && echo ---; scl_cell_yaml "n$i"; } >>"$STAGE/$f"
        st+=("$(scl_cell_dir "n$i")/status.yaml")
        dirs+=("$(scl_cell_dir "n$i")")
    done
    for f in "${files[@]}"; do args+=(-r "$STAGE/$f" "$INBOX/$f"); done
    c0=$(agent_cpu_ms)
    out=$("$PROBE" -t 600000 "${args[@]}" -- -m "$READY" "${st[@]}" | probe_max) ||
        bench_die "cells: $n cells in ${#files[@]} files not all Ready in 600 s"
    c1=$(agent_cpu_ms)
    # Removal: every file at once, then the cell directories polled (20 ms
    # steps; the totals are seconds).
    t0=$(now_us)
    for f in "${files[@]}"; do rm -f "$INBOX/$f"; done
    wait_gone "${dirs[@]}" 600 || bench_die "cells: $n cells not removed in 600 s"
    t1=$(now_us)
    c2=$(agent_cpu_ms)
    echo "$out $((t1 - t0)) $((c1 - c0)) $((c2 - c1))"
}

bench_cells() {
    local n per r rd gone cr cg base_r= base_g= base_cr= base_cg= label
    scl_setup
    for per in ${KK_BENCH_CELL_LAYOUTS:-1 50}; do
        [ "$per" = 1 ] && label="N files" || label="N/50 files of 50"
        base_r= base_g=
        for n in $CELL_SIZES; do
            bench_log "cells: $n cells, $label"
            sleep "$SETTLE_S"
            r=$(cells_round "$n" "$per")
            read -r rd gone cr cg <<<"$r"
            echo "cells: $label: $n cells: drop -> all Ready $(ms "$rd") ms = $(awk -v t="$rd" -v n="$n" 'BEGIN {printf "%.2f", t/n/1000}') ms/cell (kukeond CPU $(awk -v t="$cr" -v n="$n" 'BEGIN {printf "%.2f", t/n}') ms/cell); remove -> all gone $(ms "$gone") ms = $(awk -v t="$gone" -v n="$n" 'BEGIN {printf "%.2f", t/n/1000}') ms/cell (CPU $(awk -v t="$cg" -v n="$n" 'BEGIN {printf "%.2f", t/n}') ms/cell) [load $(load)]"
            if [ "$n" = 100 ]; then base_r=$rd base_g=$gone base_cr=$cr base_cg=$cg; fi
            if [ "$n" = 1000 ] && [ -n "$base_r" ]; then
                local q qc
                q=$(awk -v a="$rd" -v b="$base_r" 'BEGIN {printf "%.2f", (a/1000)/(b/100)}')
                qc=$(awk -v a="$cr" -v b="$base_cr" 'BEGIN {if (b > 0) printf "%.2f", (a/1000)/(b/100); else print "-"}')
                echo "cells: $label: per cell at 1000 / at 100: drop wall ${q}x (goal <= 1.2: $(verdict "$q" 1.2)), kukeond CPU ${qc}x; removal wall $(awk -v a="$gone" -v b="$base_g" 'BEGIN {printf "%.2f", (a/1000)/(b/100)}')x, CPU $(awk -v a="$cg" -v b="$base_cg" 'BEGIN {if (b > 0) printf "%.2f", (a/1000)/(b/100); else print "-"}')x"
            fi
        done
    done
}

# ---- 8. a cell of three containers: start time and its shims' memory -------

trio_yaml() { # NAME: a root and two sidecars
    local id
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$1"
    for id in main side1 side2; do
        printf '    - id: %s\n      image: %s\n      command: /bin/sh\n      args: ["-c", "%s"]\n      restartPolicy: "no"\n' \
            "$id" "$BENCH_IMAGE" "$BENCH_SH"
    done
}

# shims_of_cells NAME...: the distinct parents (the runc shims) of the
# cells' container pids, as listed in their status.yaml.
shims_of_cells() {
    local n p
    for n in "$@"; do
        for p in $(sed -n 's/^ *pid: //p' "$(cell_dir "$n")/status.yaml"); do
            awk '{print $4}' "/proc/$p/stat" 2>/dev/null
        done
    done | sort -u
}

bench_shim() {
    local i out v=() n=${KK_BENCH_SHIM_CELLS:-5} names=() shims s rss=0 pss=0 k
    bench_log "shim: $ITERS rounds (+1 warm-up) of a 3-container cell, then $n such cells"
    for ((i = 0; i <= ITERS; i++)); do
        trio_yaml "t$i" >"$STAGE/t$i.yaml"
        out=$(kk_drop "t$i" | probe_max) || bench_die "shim: cell t$i not Ready in 120 s"
        [ "$i" -gt 0 ] && v+=("$out")
        kk_remove "t$i"
    done
    local m
    m=$(printf '%s\n' "${v[@]}" | stat_median)
    echo "shim: 3-container cell drop -> Ready median $(ms "$m") ms (runs: $(for x in "${v[@]}"; do printf '%s ' "$(ms "$x")"; done)) [load $(load)]"
    for ((i = 0; i < n; i++)); do
        names+=("m$i")
        trio_yaml "m$i" >"$STAGE/m$i.yaml"
    done
    kk_drop "${names[@]}" | probe_max >/dev/null || bench_die "shim: $n cells not Ready in 120 s"
    sleep 2
    shims=$(shims_of_cells "${names[@]}")
    for s in $shims; do
        grep -q containerd-shim "/proc/$s/cmdline" 2>/dev/null || bench_die "shim: parent $s is not a shim"
        k=$(awk '/^Rss:/ {print $2}' "/proc/$s/smaps_rollup")
        rss=$((rss + k))
        k=$(awk '/^Pss:/ {print $2}' "/proc/$s/smaps_rollup")
        pss=$((pss + k))
    done
    echo "shim: $n cells of 3 containers: $(echo $shims | wc -w) shim processes; per cell: $(awk -v k=$rss -v n=$n 'BEGIN {printf "%.1f", k/n/1024}') MiB RSS, $(awk -v k=$pss -v n=$n 'BEGIN {printf "%.1f", k/n/1024}') MiB PSS"
    kk_remove "${names[@]}"
}

[ "$(id -u)" -eq 0 ] || bench_die "needs root"
bench_setup
want ready && bench_ready
want fifty && bench_fifty
want idle && bench_idle
want exit && bench_exit
want begins && bench_begins
want restart && bench_restart
want scale && bench_scale
want cells && bench_cells
want shim && bench_shim
exit $KT_FAILED
