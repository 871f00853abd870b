#!/bin/bash
# kuke logs -f across the agent's log rotation (agent/cell.c rotate_log:
# copy containers/<id>.log to <id>.log.1, then truncate it in place) and
# across a replaced file, on a temp state tree (no root, no agent). Every
# line must come out once and in order: each wait is a read of kuke's
# output bounded at 10 s.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d /tmp/kk-logs-XXXXXX)
kt_cleanup "rm -rf '$T'"
export KUKEON_STATE=$T/state KUKEON_MANIFESTS=$T/inbox
mkdir -p "$KUKEON_STATE" "$KUKEON_MANIFESTS"
$K apply -f "$KUKEON_SRC/examples/manifests/hello-world.yaml" >/dev/null || {
    echo "FAIL: $KT_NAME/setup: kuke apply"
    exit 1
}
LOG=$KUKEON_STATE/default/default/default/hello-world/containers/web.log
mkdir -p "$(dirname "$LOG")"

# expect LINE...: the next lines kuke printed are exactly these.
expect() {
    local want got
    for want in "$@"; do
        if ! IFS= read -r -t 10 -u 3 got; then
            kt_fail "waited 10 s for '$want'"
            return 1
        fi
        if [ "$got" != "$want" ]; then
            kt_fail "got '${got:0:40}', want '${want:0:40}'"
            return 1
        fi
    done
}
# lines PREFIX N [WIDTH]: N numbered lines, padded with x to WIDTH bytes.
lines() {
    local i l
    for ((i = 1; i <= $2; i++)); do
        l="$1-$i-"
        while [ ${#l} -lt "${3:-0}" ]; do l+=xxxxxxxxxx; done
        echo "$l"
    done
}
# expect_lines PREFIX N [WIDTH]: kuke printed those lines next.
expect_lines() {
    local want
    mapfile -t want < <(lines "$@")
    expect "${want[@]}"
}
# rotate: what the agent does (copy, then truncate the same inode).
rotate() { cp "$LOG" "$LOG.1" && : >"$LOG"; }
# check NAME LINE...: the case passes if those lines come next.
check() {
    local name=$1
    shift
    kt_case "$name"
    expect "$@" && kt_pass
}

lines before 3 >"$LOG"
mkfifo "$T/out"
timeout -k 5 120 "$K" logs -f hello-world >"$T/out" 2>"$T/err" &
KUKE=$!
kt_cleanup "kill $KUKE"
exec 3<"$T/out"

check prints_what_is_there before-1- before-2- before-3-

lines long 5 200 >>"$LOG"
kt_case follows_appends
expect_lines long 5 200 && kt_pass

# Less is written after the truncation than was there before: reading on
# from the old offset finds nothing.
rotate
lines short 3 >>"$LOG"
check goes_on_after_copytruncate short-1- short-2- short-3-

# More is written after the truncation than was there before, in one go.
rotate
lines longer 6 300 >>"$LOG"
kt_case goes_on_when_refilled_past_the_old_offset
expect_lines longer 6 300 && kt_pass

# Lines appended just before the rotation are not lost: the truncation
# may come before kuke read them (they are then in <id>.log.1).
lines late 4 >>"$LOG"
rotate
lines after 2 >>"$LOG"
check keeps_lines_written_just_before_rotation late-1- late-2- late-3- late-4- after-1- after-2-

# A replaced file (another inode under the name): kuke reopens it.
mv "$LOG" "$LOG.1"
lines new 3 >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
check reopens_a_replaced_file new-1- new-2- new-3-

rm -f "$LOG"
lines created 2 >"$LOG"
check reopens_a_recreated_file created-1- created-2-

kt_case prints_every_line_once
echo end >>"$LOG"
expect end && kill -0 "$KUKE" 2>/dev/null && kt_pass
exec 3<&-
kill $KUKE 2>/dev/null

# --tail N: the last N lines (a last line without its newline counts).
kt_case tail_prints_the_last_lines
printf 'l1\nl2\nl3\n' >"$LOG"
t2=$($K logs hello-world --tail 2) && t0=$($K logs hello-world --tail 0) && t9=$($K logs hello-world --tail 9)
kt_check "tail 2 '$t2', 0 '$t0', 9 '$t9'" test "$t2" = $'l2\nl3' -a -z "$t0" -a "$t9" = $'l1\nl2\nl3'

kt_case tail_counts_an_unfinished_last_line
printf 'l1\nl2\nl3' >"$LOG"
t1=$($K logs hello-world --tail 1)
kt_check "tail 1 '$t1'" test "$t1" = l3

kt_case tail_refuses_a_bad_count
$K logs hello-world --tail x >/dev/null 2>&1
kt_check "exit $?" test $? -eq 2

# --tail with -f: the last lines, then what is appended, across a rotation.
printf 'l1\nl2\nl3\n' >"$LOG"
mkfifo "$T/out2"
timeout -k 5 120 "$K" logs -f --tail 1 hello-world >"$T/out2" 2>"$T/err2" &
KUKE2=$!
kt_cleanup "kill $KUKE2"
exec 3<"$T/out2"
check tail_follow_starts_at_the_last_lines l3
lines more 2 >>"$LOG"
check tail_follow_prints_appends more-1- more-2-
rotate
lines rotated 2 >>"$LOG"
check tail_follow_goes_on_after_rotation rotated-1- rotated-2-
exec 3<&-
kill $KUKE2 2>/dev/null

# The log is the task's raw output: no line carries a time to filter on.
kt_case since_and_timestamps_are_refused
e1=$($K logs hello-world --since 5m 2>&1)
r1=$?
e2=$($K logs hello-world --timestamps 2>&1)
r2=$?
if [ $r1 -eq 2 ] && [ $r2 -eq 2 ] && [[ $e1 == *"--since: not supported yet: log lines carry no timestamps"* ]] &&
    [[ $e2 == *"--timestamps: not supported yet"* ]]; then kt_pass; else kt_fail "$r1 '$e1' / $r2 '$e2'"; fi
exit $KT_FAILED
