#!/bin/bash
# Runs test executables and counts their "PASS: x" / "FAIL: x" lines.
#   tests/run.sh --unit  UNIT...            unit tests only
#   tests/run.sh --root  -- ROOT...         root tests (C binaries given, plus
#                                           tests/integration/*.sh, tests/e2e/*.sh)
#   tests/run.sh --all   UNIT... -- ROOT... both
# The last line is "N passed, N failed". A test program that exits non-zero
# without printing a FAIL line (a crash, a timeout) counts as one failure.
# KK_TEST_WRAPPER (e.g. valgrind ...) prefixes every C test binary.
# KK_TEST_FILTER, a regex, limits which programs run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export KUKEON_SRC=$PWD
case $BUILD in /*) export KUKEON_BIN=$BUILD/bin ;; *) export KUKEON_BIN=$PWD/$BUILD/bin ;; esac
mode=$1; shift
unit=() root=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do unit+=("$1"); shift; done
[ $# -gt 0 ] && shift
root=("$@")

if [ "$mode" != "--root" ]; then
    for s in tests/unit/*.sh; do
        [ -f "$s" ] && unit+=("$s")
    done
fi
if [ "$mode" != "--unit" ]; then
    for s in tests/integration/*.sh tests/e2e/*.sh; do
        [ -f "$s" ] && root+=("$s")
    done
fi

logdir=$BUILD/test-logs
mkdir -p "$logdir"
passed=0 failed=0
failures=()
per_test_timeout=${KK_TEST_TIMEOUT:-1200}

run_one() {
    local prog=$1 wrapper=$2 name log rc
    name=$(basename "$(dirname "$prog")")/$(basename "$prog")
    if [ -n "${KK_TEST_FILTER:-}" ] && ! [[ $name =~ $KK_TEST_FILTER ]]; then return; fi
    log=$logdir/${name//\//-}.log
    local start=$SECONDS
    case $prog in
    *.sh) timeout -k 10 "$per_test_timeout" bash "$prog" >"$log.out" 2>"$log" ;;
    *) timeout -k 10 "$per_test_timeout" $wrapper "$prog" >"$log.out" 2>"$log" ;;
    esac
    rc=$?
    local p f
    p=$(grep -c '^PASS: ' "$log.out")
    f=$(grep -c '^FAIL: ' "$log.out")
    cat "$log.out"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL: $name: exited with status $rc (see $log)"
        f=1
    fi
    if [ "$f" -gt 0 ]; then
        failures+=("$name")
        sed 's/^/    /' "$log" | tail -n 40
    fi
    echo "# $name: $p passed, $f failed ($((SECONDS - start))s)"
    passed=$((passed + p))
    failed=$((failed + f))
}

for t in "${unit[@]}"; do run_one "$t" "${KK_TEST_WRAPPER:-}"; done
if [ ${#root[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "# root tests need root: ${#root[@]} programs not run" >&2
        for t in "${root[@]}"; do echo "FAIL: $(basename "$t"): needs root"; failed=$((failed + 1)); done
    else
        for t in "${root[@]}"; do run_one "$t" ""; done
    fi
fi
[ ${#failures[@]} -gt 0 ] && echo "# failing programs: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
