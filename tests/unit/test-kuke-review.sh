#!/bin/bash
# kuke's read verbs against hostile state trees and readers: FIFOs planted
# where a spec, events.log or container log should be, a reader of -w / -f
# that goes away (`| head -1`, `| grep -m1`), bytes that are not UTF-8 in
# an events.log and -o json, an inotify queue that overflowed. No root, no
# agent; waits are bounded with timeout(1), never sleeps.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d /tmp/kk-review-XXXXXX)
kt_cleanup "rm -rf '$T'"
export KUKEON_STATE=$T/state KUKEON_MANIFESTS=$T/inbox KUKEON_CONFIG=/dev/null
mkdir -p "$KUKEON_STATE" "$KUKEON_MANIFESTS"
S=$KUKEON_STATE/default/default/default

cell() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n    - id: main\n      image: busybox\n      command: sleep\n' "$1" | $K apply -f - >/dev/null
}
ev() { printf '%s\t%s\t%s\t%s\t%s\n' "$@"; }
cell good
cell fifo
ev 2026-01-01T00:00:00.000Z Normal Started container/main hello >"$S/good/events.log"

# ---- 1. a FIFO in the tree never blocks a reader (open without O_NONBLOCK
# waits for a writer that never comes)

kt_case fifo_spec_does_not_block_get_or_describe
rm -f "$S/fifo/cell.yaml"
mkfifo "$S/fifo/cell.yaml"
out=$(timeout 10 $K get cells 2>&1)
rc1=$?
timeout 10 $K describe cell fifo >/dev/null 2>&1
rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 1 ] && grep -q '^good ' <<<"$out" && grep -q 'not a regular file' <<<"$out"; then
    kt_pass
else
    kt_fail "get rc $rc1 (124: blocked), describe rc $rc2: $out"
fi
rm -f "$S/fifo/cell.yaml"
cell fifo

kt_case fifo_events_log_does_not_block_events_or_describe
mkfifo "$S/fifo/events.log"
out=$(timeout 10 $K events 2>&1)
rc1=$?
timeout 10 $K describe cell fifo >/dev/null 2>&1
rc2=$?
kt_check "events rc $rc1 (124: blocked), describe rc $rc2: $out" \
    test $rc1 = 0 -a $rc2 = 0 -a -n "$(grep -c hello <<<"$out")"

kt_case fifo_log_does_not_block_logs
mkdir -p "$S/good/containers"
mkfifo "$S/good/containers/main.log"
out=$(timeout 10 $K logs good 2>&1)
rc=$?
kt_check "logs rc $rc (124: blocked): $out" test $rc = 1 -a -n "$(grep 'not a regular file' <<<"$out")"
rm -f "$S/good/containers/main.log" "$S/fifo/events.log"

# ---- 2. -w and -f end when their reader went away, not at the next change

kt_case watch_ends_when_the_reader_is_gone
timeout 10 $K get cells -w | head -1 >/dev/null
rc1=${PIPESTATUS[0]}
timeout 10 $K events -w | grep -m1 -q hello
rc2=${PIPESTATUS[0]}
printf 'line one\n' >"$S/good/containers/main.log"
timeout 10 $K logs good -f | grep -m1 -q 'line one'
rc3=${PIPESTATUS[0]}
kt_check "get -w rc $rc1, events -w rc $rc2, logs -f rc $rc3 (124: still waiting)" \
    test $rc1 = 0 -a $rc2 = 0 -a $rc3 = 0

# ---- 3. -o json is JSON (UTF-8) whatever bytes an events.log holds

kt_case events_json_is_valid_for_any_bytes
printf '2026-01-01T00:00:01.000Z\tWarning\tOdd\tcell\tq " b \\ c \001 e \033[31m x \377\376 y \303\251 z \355\240\200 w \300\257\n' \
    >>"$S/good/events.log"
out=$($K events cell good -o json | python3 -c '
import json, sys
d = json.loads(sys.stdin.buffer.read().decode("utf-8"))
print(ascii(d["items"][1]["message"]))' 2>&1)
want="'q \" b \\\\ c \\x01 e \\x1b[31m x \\ufffd\\ufffd y \\xe9 z \\ufffd\\ufffd\\ufffd w \\ufffd\\ufffd'"
kt_check "json: $out, want $want" test "$out" = "$want"

kt_case events_json_stream_is_valid_for_any_bytes
out=$(timeout 10 $K events cell good -w -o json | head -2 | python3 -c '
import json, sys
for l in sys.stdin.buffer.read().decode("utf-8").splitlines():
    print(json.loads(l)["reason"])' 2>&1 | tr '\n' ' ')
kt_check "json stream: $out" test "$out" = "Started Odd "

# ---- 4. an overflowed inotify queue: what changed is shown, a directory
# created meanwhile is watched from then on, a resource deleted meanwhile
# gets its Deleted row

kt_case get_watch_after_queue_overflow
status() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nstatus:\n  state: %s\n' "$1" "$2" >"$S/$1/status.yaml.tmp" &&
        mv "$S/$1/status.yaml.tmp" "$S/$1/status.yaml"
}
cell gone
OUT=$T/get-w.out
$K get cells -w >"$OUT" 2>&1 &
GW=$!
kt_cleanup "kill $GW 2>/dev/null"
# until its listing is out (its watch is set before the listing)
timeout 10 tail -n +1 -f "$OUT" | grep -m1 -q '^gone '
kill -STOP $GW
# more events than the queue holds (max_queued_events), while it sleeps;
# two names by turns, so that no two events in a row are merged
max=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
[ "$max" -le 262144 ] || max=262144 # a host that raised it: the case may pass without overflowing
python3 - "$S/good" "$max" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n // 2 + 10):
    p = os.path.join(d, "x%d" % (i % 2))
    open(p, "w").close()
    os.unlink(p)
PY
cell late
rm -rf "$S/gone"
kill -CONT $GW
timeout 10 tail -n +1 -f "$OUT" | grep -m1 -q '^late '
r1=$?
timeout 10 tail -n +1 -f "$OUT" | grep -m1 -q '^gone .*Deleted'
r2=$?
status late Stopped
timeout 10 tail -n +1 -f "$OUT" | grep -m1 -q '^late .*Stopped'
r3=$?
kill $GW 2>/dev/null
kt_check "late listed $r1, gone Deleted $r2, late's status after the overflow $r3 (0 = seen): $(cat "$OUT")" \
    test $r1 = 0 -a $r2 = 0 -a $r3 = 0

# ---- 5. usage: numbers are numbers; a name not found prints no object

kt_case apply_timeout_is_a_whole_number
f=$T/one.yaml
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: good\nspec:\n  containers:\n    - id: main\n      image: busybox\n      command: sleep\n' >"$f"
res=""
for t in 5x 4294967297 0 -1 ''; do
    timeout 10 $K apply -f "$f" --wait --timeout "$t" >/dev/null 2>&1
    res="$res $t=$?"
done
kt_check "exit codes:$res (2: usage)" test "$res" = " 5x=2 4294967297=2 0=2 -1=2 =2"

kt_case get_missing_name_prints_no_document
out=$($K get cell nope -o json 2>/dev/null)
rc1=$?
yout=$($K get cell nope -o yaml 2>/dev/null)
rc2=$?
kt_check "json rc $rc1 '$out', yaml rc $rc2 '$yout'" test $rc1 = 1 -a $rc2 = 1 -a -z "$out$yout"

# ---- 6. tables and describe: one line per row, no terminal controls,
# whatever a status message holds

kt_case table_rows_are_one_line_without_controls
cell msg
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: msg\nstatus:\n  state: Failed\n  message: "line1\\nline2 \\e[31mred\\x07\\tend"\n' >"$S/msg/status.yaml"
ev 2026-01-01T00:00:02.000Z Warning Esc cell $'bell\a \e]0;title\a done' >>"$S/msg/events.log"
wide=$($K get cell msg -o wide 2>/dev/null)
desc=$($K describe cell msg 2>/dev/null)
evs=$($K events cell msg 2>/dev/null)
bad=$(printf '%s\n%s\n%s\n' "$wide" "$desc" "$evs" | LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]')
rows=$(grep -c . <<<"$wide")
kt_check "rows $rows (want 2), lines with controls $bad: $wide / $(grep -E 'Message|Esc' <<<"$desc$evs")" \
    test "$rows" = 2 -a "$bad" = 0 -a -n "$(grep -F 'line1 line2 ?[31mred? end' <<<"$wide")" \
    -a -n "$(grep -F 'Message:         line1 line2' <<<"$desc")" -a -n "$(grep -F 'bell? ?]0;title? done' <<<"$evs")"

# ---- 7. apply --wait waits on inotify (kuke.1: "watches the status
# files"), not by reading every status each 50 ms

kt_case apply_wait_reads_status_on_change_only
if ! command -v strace >/dev/null; then
    echo "SKIP: test-kuke-review/apply_wait_reads_status_on_change_only (no strace)"
else
    strace -f -e trace=openat,openat2 -o "$T/strace" $K apply -f "$f" --wait --timeout 1 >/dev/null 2>&1
    rc=$?
    reads=$(grep -c 'good/status.yaml' "$T/strace")
    kt_check "rc $rc (want 1: no agent), status.yaml opened $reads times in 1 s (want < 5)" \
        test "$rc" = 1 -a "$reads" -lt 5
fi

exit $KT_FAILED
