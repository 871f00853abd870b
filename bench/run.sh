#!/bin/bash
# Runs every benchmark: each $BUILD/bench/bench-* program and every
# bench/*.sh script (but this one), one after the other, and prints their
# output. Benchmarks print their figures and the ratio against the peer they
# measured in the same run; docs/benchmarks.md records them.
#   BUILD=build bench/run.sh [FILTER-REGEX]
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export KUKEON_SRC=$PWD
case $BUILD in /*) export KUKEON_BIN=$BUILD/bin ;; *) export KUKEON_BIN=$PWD/$BUILD/bin ;; esac
filter=${1:-}
failed=0
for b in "$BUILD"/bench/bench-* bench/*.sh; do
    [ -e "$b" ] || continue
    # Helpers are not benchmarks: sourced libraries and the agent's probe.
    case $b in bench/run.sh | bench/lib-*.sh | *-probe | *.o | *.d) continue ;; esac
    name=$(basename "$b")
    if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then continue; fi
    echo "## $name"
    case $b in
    *.sh) bash "$b" ;;
    *) "$b" ;;
    esac
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "## $name: exited with status $rc"
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ]
