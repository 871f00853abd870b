#!/bin/sh
# Runs the libFuzzer harnesses built by `make fuzz-build`.
#
#     tests/fuzz/run.sh BINDIR SECONDS [NAME...]
#
# Each harness BINDIR/fuzz-NAME runs SECONDS on tests/fuzz/corpus/NAME and
# tests/fuzz/crashes/NAME (read only: libFuzzer writes new inputs to the
# first directory it is given, here BINDIR/work/NAME) with a 10 s per-input timeout and a 2 GiB RSS limit.
# A crash, sanitizer report, leak, timeout or OOM fails the run at once,
# naming the harness, its log and the reproducer. FUZZ_JOBS=N runs N
# harnesses at a time (default 1); FUZZ_KEEP_GOING=1 runs every harness
# and fails at the end instead. FUZZ_SEED=N fixes libFuzzer's random seed:
# CI uses one, so that the same code explores the same inputs and a red
# run means a regression, not a lucky draw (exploratory runs leave it
# unset and draw a new seed each time). At the end one line per harness:
# executions, exec/s, coverage (cov: edges, ft: features), corpus size.
set -u

bindir=${1:?usage: run.sh BINDIR SECONDS [NAME...]}
secs=${2:?usage: run.sh BINDIR SECONDS [NAME...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-1}
keep_going=${FUZZ_KEEP_GOING:-0}

if [ $# -eq 0 ]; then
    for f in "$bindir"/fuzz-*; do
        [ -x "$f" ] || continue
        set -- "$@" "${f##*/fuzz-}"
    done
fi
[ $# -gt 0 ] || { echo "run.sh: no harness in $bindir" >&2; exit 1; }

mkdir -p "$bindir/logs"

# Runs one harness; exit status is libFuzzer's.
run_one() {
    name=$1
    bin=$bindir/fuzz-$name
    seed=$here/corpus/$name
    work=$bindir/work/$name
    art=$bindir/artifacts/$name
    [ -x "$bin" ] || { echo "fuzz-$name: not built ($bin)" >&2; return 1; }
    [ -d "$seed" ] || { echo "fuzz-$name: no seed corpus $seed" >&2; return 1; }
    mkdir -p "$work" "$art"
    dict=
    [ -f "$here/$name.dict" ] && dict=-dict=$here/$name.dict
    # what earlier runs found stays a regression input (read first, never written)
    crashes=
    [ -d "$here/crashes/$name" ] && crashes=$here/crashes/$name
    seed_opt=
    [ -n "${FUZZ_SEED:-}" ] && seed_opt=-seed=$FUZZ_SEED
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" $dict $seed_opt \
        "$work" "$seed" $crashes >"$bindir/logs/$name.log" 2>&1
}

summary() {
    name=$1
    log=$bindir/logs/$name.log
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$done_line" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$done_line" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    printf '%-22s execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %s\n' \
        "fuzz-$name" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
}

fail() {
    name=$1
    echo "FUZZ FAIL: fuzz-$name (log $bindir/logs/$name.log)" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|ALARM|out-of-memory' \
        "$bindir/logs/$name.log" | head -n 20 >&2
    ls "$bindir/artifacts/$name" >&2 2>/dev/null
}

all="$*"
status=0
pids=
names=
for name in "$@"; do
    run_one "$name" &
    pids="$pids $!"
    names="$names $name"
    set -- $pids
    if [ $# -ge "$jobs" ]; then
        # Wait for the oldest; a failure stops the run.
        pid=$1
        n=$(echo $names | cut -d' ' -f1)
        ok=1
        wait "$pid" || ok=0
        pids=$(echo $pids | cut -s -d' ' -f2-)
        names=$(echo $names | cut -s -d' ' -f2-)
        if [ $ok = 1 ]; then
            echo "fuzz-$n: ok"
        else
            fail "$n"
            status=1
            [ "$keep_going" = 1 ] || break
        fi
    fi
done
set -- $pids
for n in $names; do
    pid=$1
    shift
    if ! wait "$pid"; then
        fail "$n"
        status=1
    else
        echo "fuzz-$n: ok"
    fi
done

echo "---- $secs s per harness ----"
for n in $all; do
    [ -f "$bindir/logs/$n.log" ] && summary "$n"
done
exit $status
