#!/bin/bash
# kuke exec without containerd (no root, no agent): usage errors in the
# house style (one line, exit 2, a "try" hint), --help, a missing cell and
# an unreachable containerd (exit 1, said plainly), and no FIFO directory
# left behind by any of them. The exec itself: tests/e2e/exec.sh.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d /tmp/kk-exec-cli-XXXXXX)
kt_cleanup "rm -rf '$T'"
export KUKEON_CONFIG=/dev/null KUKEON_STATE=$T/state KUKEON_MANIFESTS=$T/inbox
export KUKEON_CONTAINERD_ADDRESS=$T/none.sock TMPDIR=$T/tmp
mkdir -p "$KUKEON_STATE" "$KUKEON_MANIFESTS" "$TMPDIR"

# usage NAME WANT -- ARGS...: kuke exec ARGS exits 2 with one stderr line
# "kuke exec: ...WANT...; try '...' or 'kuke exec --help'".
usage() {
    local name=$1 want=$2
    shift 3
    kt_case "$name"
    local err rc
    err=$("$K" exec "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne 2 ]; then
        kt_fail "exit $rc: $err"
    elif [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then
        kt_fail "not one line: $err"
    elif [[ $err != "kuke exec: "*"$want"* ]]; then
        kt_fail "no 'kuke exec: ...$want': $err"
    elif [[ $err != *"; try '"*"' or 'kuke exec --help'" ]]; then
        kt_fail "no try hint: $err"
    else
        kt_pass
    fi
}
usage no_args "give a CELL" --
usage no_command "no command" -- web
usage no_command_after_dashdash "no command" -- web --
usage option_after_cell "put options before it" -- web -i cat
usage env_without_value "KEY=VALUE" -- -e FOO web -- env
usage env_empty_key "KEY=VALUE" -- -e =x web -- env
usage relative_workdir "absolute" -- -w tmp web -- pwd
usage unknown_option "unknown option '--bogus'" -- --bogus web -- true
usage missing_value "option '-u' needs a value" -- -u
usage two_cells "unexpected argument 'other'" -- web other -- true

kt_case help
out=$("$K" exec --help 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 0 ] && [[ $out == "usage: kuke exec CELL"* ]]'

kt_case missing_cell
out=$("$K" exec nosuchcell -- true 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: cell nosuchcell not found"* ]]'

kt_case no_containerd
"$K" apply -f "$KUKEON_SRC/examples/manifests/hello-world.yaml" >/dev/null
out=$("$K" exec hello-world -- true 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: no containerd socket at $T/none.sock"* ]]'

kt_case no_such_container
out=$("$K" exec -c nope hello-world -- true 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: cell hello-world has no container nope;"* ]]'

kt_case standalone_container_is_the_cells
"$K" apply -f "$KUKEON_SRC/examples/manifests/standalone-container.yaml" >/dev/null
out=$("$K" exec -c side hello-world -- true 2>&1)
rc=$?
# Past the cell's containers, on to containerd (absent here).
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: no containerd socket"* ]]'

kt_case nothing_left
kt_check "left in TMPDIR: $(ls -A "$TMPDIR")" test -z "$(ls -A "$TMPDIR")"

exit $KT_FAILED
