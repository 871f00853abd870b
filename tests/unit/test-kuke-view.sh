#!/bin/bash
# kuke's read verbs (get, describe, events, get -w, events -w) against a
# temporary state tree, with status.yaml and events.log files written here
# in the agent's formats (docs/design.md §1.6, §2.10): no root, no agent.
# Waits are reads of kuke's output bounded at 10 s, never sleeps.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d /tmp/kk-view-XXXXXX)
kt_cleanup "rm -rf '$T'"
export KUKEON_STATE=$T/state KUKEON_MANIFESTS=$T/inbox
mkdir -p "$KUKEON_STATE" "$KUKEON_MANIFESTS"
S=$KUKEON_STATE/default/default/default

# cell NAME: a cell spec with one container "main".
cell() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n    - id: main\n      image: busybox\n      command: sleep\n      args: ["3600"]\n      ports: ["8080:80"]\n      restartPolicy: on-failure\n      restartMaxRetries: 5\n      resources:\n        memory: {max: 64Mi}\n' "$1" | $K apply -f - >/dev/null
}
# status NAME STATE [REASON] [CONTAINER-STATE CONTAINER-REASON RESTARTS]:
# writes the cell's status.yaml atomically, as the agent does.
status() {
    local f=$S/$1/status.yaml
    {
        printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nstatus:\n  state: %s\n' "$1" "$2"
        [ -n "${3:-}" ] && printf '  reason: %s\n' "$3"
        printf '  createdAt: 2026-01-01T00:00:00Z\n  ip: 10.88.0.7\n'
        if [ -n "${4:-}" ]; then
            printf '  containers:\n    - id: main\n      state: %s\n' "$4"
            [ -n "${5:-}" ] && printf '      reason: %s\n' "$5"
            printf '      pid: 4242\n      restartCount: %s\n      exitCode: 1\n      startedAt: 2026-01-01T00:00:05Z\n' "${6:-0}"
        fi
    } >"$f.tmp" && mv "$f.tmp" "$f"
}
# ev TIME TYPE REASON OBJECT MESSAGE: one events.log line (§2.10).
ev() { printf '%s\t%s\t%s\t%s\t%s\n' "$@"; }
# column HEADER TABLE ROW-NAME: the cell of that column in that row.
column() {
    awk -v h="$1" -v r="$3" 'NR == 1 { i = index($0, h) } NR > 1 && $1 == r { s = substr($0, i); sub(/   .*/, "", s); print s }' <<<"$2"
}
# json EXPR: evaluates a Python expression on kuke's JSON output (d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- 1. listings are a List for 0, 1 and 2 results; a name is the object

kt_case get_json_is_a_list_for_0_1_2_results
out0=$($K get cells -o json) && n0=$(json '(d["kind"], len(d["items"]))' <<<"$out0")
cell one
out1=$($K get cells -o json) && n1=$(json '(d["kind"], len(d["items"]), d["items"][0]["metadata"]["name"])' <<<"$out1")
cell two
out2=$($K get cells -o json) && n2=$(json '(d["kind"], d["apiVersion"], [i["metadata"]["name"] for i in d["items"]])' <<<"$out2")
if [ "$n0" = "('List', 0)" ] && [ "$n1" = "('List', 1, 'one')" ] && [ "$n2" = "('List', 'v1beta1', ['one', 'two'])" ]; then
    kt_pass
else
    kt_fail "0: $n0 / 1: $n1 / 2: $n2"
fi

kt_case get_yaml_is_one_list_document
rm -rf "$S/one" "$S/two"
y0=$($K get cells -o yaml)
cell one
y1=$($K get cells -o yaml)
cell two
y2=$($K get cells -o yaml)
if [ "$y0" = $'apiVersion: v1beta1\nkind: List\nitems: []' ] &&
    [[ $y1 == $'apiVersion: v1beta1\nkind: List\nitems:\n  - apiVersion: v1beta1\n    kind: Cell'* ]] &&
    [ "$(grep -c '^  - apiVersion: v1beta1$' <<<"$y1")" = 1 ] &&
    [ "$(grep -c '^  - apiVersion: v1beta1$' <<<"$y2")" = 2 ] && ! grep -q '^---' <<<"$y2"; then
    kt_pass
else
    kt_fail "yaml: $y0 / $y1 / $y2"
fi

kt_case get_by_name_is_the_object
j=$($K get cell one -o json | json '(d["kind"], d["metadata"]["name"])') &&
    y=$($K get cell one -o yaml | head -2 | tr '\n' ' ')
kt_check "by name: $j / $y" test "$j" = "('Cell', 'one')" -a "$y" = "apiVersion: v1beta1 kind: Cell "

kt_case get_containers_json_has_spec_and_status
status one Ready "" Ready "" 0
c=$($K get containers -o json | json '[(i["metadata"]["name"], i["spec"]["image"], i["status"]["pid"]) for i in d["items"]]')
kt_check "containers: $c" test "$c" = "[('main', 'docker.io/library/busybox:latest', 4242)]"

# ---- 2. the STATUS column: the reason when there is one, else the state

kt_case get_status_column
status one Pending CrashLoopBackOff Pending CrashLoopBackOff 3
status two Stopped StoppedByUser Stopped StoppedByUser 0
tbl=$($K get cells)
s1=$(column STATUS "$tbl" one) s2=$(column STATUS "$tbl" two) r1=$(column RESTARTS "$tbl" one)
ready=$(column READY "$tbl" one)
hdr=$(head -1 <<<"$tbl" | tr -s ' ')
if [ "$hdr" = "NAME READY STATUS RESTARTS AGE" ] && [ "$s1" = CrashLoopBackOff ] && [ "$s2" = Stopped ] &&
    [[ $r1 == "3 ("*" ago)" ]] && [ "$ready" = 0/1 ]; then kt_pass; else kt_fail "$tbl"; fi

kt_case get_status_shows_any_state_and_reason
status one Terminating "" Ready "" 0
status two Pending SomeReasonKukeDoesNotKnow
tbl=$($K get cells)
s1=$(column STATUS "$tbl" one) s2=$(column STATUS "$tbl" two) r=$(column READY "$tbl" one)
kt_check "$tbl" test "$s1" = Terminating -a "$s2" = SomeReasonKukeDoesNotKnow -a "$r" = 1/1

kt_case get_status_unknown_without_status_file
rm -f "$S/two/status.yaml"
tbl=$($K get cells)
kt_check "$tbl" test "$(column STATUS "$tbl" two)" = Unknown

kt_case get_containers_status_column
status one Pending ImagePullBackOff Pending ImagePullBackOff 0
tbl=$($K get containers --cell one)
st=$(awk 'NR == 2 { print $3 }' <<<"$tbl")
kt_check "$tbl" test "$st" = ImagePullBackOff

kt_case get_wide_adds_ip_and_message
tbl=$($K get cells -o wide)
kt_check "$tbl" test "$(column IP "$tbl" one)" = 10.88.0.7

# ---- 3. get inbox: the agent's reports on the inbox files

kt_case get_inbox_rows
mkdir -p "$KUKEON_STATE/_inbox"
printf 'apiVersion: v1beta1\nkind: InboxReport\nstatus:\n  file: good.yaml\n  sha256: sha256:00\n  valid: true\n  resources:\n    - key: default/default/default/one\n      kind: Cell\n      result: created\n    - key: default/default/default/two\n      kind: Cell\n      result: unchanged\n' >"$KUKEON_STATE/_inbox/good.yaml.status.yaml"
printf 'apiVersion: v1beta1\nkind: InboxReport\nstatus:\n  file: bad.yaml\n  valid: false\n  errors:\n    - "bad.yaml:8:7: spec.containers[0].imagee: unknown field"\n    - "bad.yaml:9:1: second"\n  resources: []\n' >"$KUKEON_STATE/_inbox/bad.yaml.status.yaml"
touch "$KUKEON_MANIFESTS/new.yaml" "$KUKEON_MANIFESTS/good.yaml" "$KUKEON_MANIFESTS/.swap.yaml.swp"
tbl=$($K get inbox)
good=$(grep '^good.yaml ' <<<"$tbl" | tr -s ' ') bad=$(grep '^bad.yaml ' <<<"$tbl" | tr -s ' ')
new=$(grep '^new.yaml ' <<<"$tbl" | tr -s ' ')
if [ "$(head -1 <<<"$tbl" | tr -s ' ')" = "FILE VALID RESOURCES ERROR" ] && [ "$good" = "good.yaml yes 2" ] &&
    [ "$bad" = "bad.yaml no 0 bad.yaml:8:7: spec.containers[0].imagee: unknown field" ] &&
    [[ $new == "new.yaml ? no report yet"* ]] && ! grep -q swp <<<"$tbl"; then
    kt_pass
else
    kt_fail "$tbl"
fi

kt_case get_inbox_json
j=$($K get inbox -o json | json '(d["kind"], sorted(i["status"]["file"] for i in d["items"]))') &&
    one=$($K get inbox bad.yaml -o json | json '(d["kind"], d["status"]["valid"])')
kt_check "$j / $one" test "$j" = "('List', ['bad.yaml', 'good.yaml', 'new.yaml'])" -a "$one" = "('InboxReport', False)"

# ---- 4. describe

C=$S/one
kt_case describe_cell
status one Pending CrashLoopBackOff Pending CrashLoopBackOff 3
: >"$C/events.log"
for i in $(seq -w 1 25); do ev "2026-01-01T00:00:${i}.000Z" Warning BackOff container/main "back-off $i" >>"$C/events.log"; done
d=$($K describe cell one)
want=("Name: +one" "State: +Pending" "Reason: +CrashLoopBackOff" "IP: +10.88.0.7"
    "Image: +docker.io/library/busybox:latest" "Command: +sleep 3600" "Ports: +8080:80/tcp"
    "Restart: +on-failure, backoff 1 s, at most 5 restarts" "Resources: +memory max 64Mi"
    "PID: +4242" "Restarts: +3" "Exit code: +1" "Started: +2026-01-01T00:00:05Z"
    "BackOff +container/main +back-off 25")
miss=""
for w in "${want[@]}"; do grep -Eq "$w" <<<"$d" || miss+="[$w] "; done
shown=$(grep -c 'back-off' <<<"$d")
if [ -z "$miss" ] && [ "$shown" = 20 ] && ! grep -q 'back-off 05$' <<<"$d" && grep -q 'back-off 06$' <<<"$d"; then
    kt_pass
else
    kt_fail "missing $miss; $shown events: $d"
fi

kt_case describe_missing_fails
$K describe cell nope >/dev/null 2>&1
rc1=$?
$K describe cell >/dev/null 2>&1
kt_check "rc $rc1 / $?" test $rc1 -eq 1 -a $? -eq 2

# ---- 5. events: one resource, or the whole tree merged by time

kt_case events_merged_by_time
ev 2026-01-01T00:00:30.500Z Normal Created stack "stack up" >"$S/events.log"
ev 2026-01-01T00:00:02.000Z Normal Created cell "two created" >"$S/two/events.log"
all=$($K events -o json | json '[(i["time"][17:23], i["resource"]) for i in d["items"]]')
# Built by hand: the 25 events of one, two's at :02 after one's :02, the stack's at :30.5.
want="[('01.000', 'cell/default/default/default/one'), ('02.000', 'cell/default/default/default/one'), ('02.000', 'cell/default/default/default/two')"
for i in $(seq -w 3 25); do want+=", ('$i.000', 'cell/default/default/default/one')"; done
want+=", ('30.500', 'stack/default/default/default')]"
kt_check "merged: $all" test "$all" = "$want"

kt_case events_one_resource_json_fields
j=$($K events cell two -o json | json '(d["kind"], [(i["time"], i["type"], i["reason"], i["object"], i["message"]) for i in d["items"]])')
kt_check "$j" test "$j" = "('List', [('2026-01-01T00:00:02.000Z', 'Normal', 'Created', 'cell', 'two created')])"

kt_case events_table_and_container_filter
ev 2026-01-01T00:00:03.000Z Normal Started container/side "side started" >>"$S/two/events.log"
tbl=$($K events container side --cell two)
kt_check "$tbl" test "$(wc -l <<<"$tbl")" = 2 -a "$(awk 'NR == 2 { print $2, $3, $4 }' <<<"$tbl")" = "Normal Started container/side"

kt_case events_skips_malformed_lines
printf 'garbage line\n\tNormal\tX\tcell\tno time\n' >>"$S/two/events.log"
j=$($K events cell two -o json | json 'len(d["items"])')
kt_check "$j items" test "$j" = 2

# ---- 6. events -w: appends, files created later, trims (another inode)

mkfifo "$T/ev"
timeout -k 5 120 "$K" events -w -o json >"$T/ev" 2>"$T/ev.err" &
EVW=$!
kt_cleanup "kill $EVW"
exec 3<"$T/ev"
# next_event FIELD...: the next event kuke printed, as "reason message".
next_event() {
    local line
    if ! IFS= read -r -t 10 -u 3 line; then
        echo "timeout"
        return 1
    fi
    json 'd["reason"] + " " + d["message"]' <<<"$line"
}
kt_case events_w_prints_what_is_there
n=0
while [ $n -lt 28 ] && next_event >/dev/null; do n=$((n + 1)); done
kt_check "read $n of 28 events" test $n -eq 28

kt_case events_w_follows_appends
ev 2026-01-01T00:01:00.000Z Normal Restarted container/main "appended" >>"$C/events.log"
got=$(next_event)
kt_check "got '$got'" test "$got" = "Restarted appended"

kt_case events_w_sees_a_file_created_later
cell three
ev 2026-01-01T00:02:00.000Z Normal Created cell "three created" >"$S/three/events.log.tmp" && mv "$S/three/events.log.tmp" "$S/three/events.log"
got=$(next_event)
kt_check "got '$got'" test "$got" = "Created three created"

kt_case events_w_sees_a_new_cell_directory
mkdir -p "$S/four"
ev 2026-01-01T00:03:00.000Z Normal Created cell "four created" >"$S/four/events.log"
got=$(next_event)
kt_check "got '$got'" test "$got" = "Created four created"

kt_case events_w_after_a_trim_prints_only_new_lines
# The agent's trim: the newest lines, rewritten atomically; one more line
# came with it. Nothing printed before may come out again.
{ tail -n 5 "$C/events.log" && ev 2026-01-01T00:04:00.000Z Warning BackOff container/main "after trim"; } >"$C/.events.log.tmp"
mv "$C/.events.log.tmp" "$C/events.log"
ev 2026-01-01T00:05:00.000Z Normal Started container/main "appended after trim" >>"$C/events.log"
got1=$(next_event) && got2=$(next_event)
kt_check "got '$got1' / '$got2'" test "$got1" = "BackOff after trim" -a "$got2" = "Started appended after trim"
exec 3<&-
kill $EVW 2>/dev/null

# ---- 7. get -w: a changed status.yaml is a new row within 100 ms

kt_case get_w_prints_a_changed_row_within_100ms
mkfifo "$T/gw"
timeout -k 5 120 "$K" get cells -w >"$T/gw" 2>"$T/gw.err" &
GW=$!
kt_cleanup "kill $GW"
exec 4<"$T/gw"
lines=()
ok=1
for i in 1 2 3 4; do # header + one, two, three (four has no spec)
    IFS= read -r -t 10 -u 4 l || { ok=0; break; }
    lines+=("$l")
done
t0=$EPOCHREALTIME # from before the write: the rename may be seen before it returns
status two Pending ImagePullBackOff Pending ImagePullBackOff 0 # atomic: a rename
IFS= read -r -t 10 -u 4 row || ok=0
t1=$EPOCHREALTIME
ms=$(((${t1/./} - ${t0/./}) / 1000))
echo "# measured: status.yaml renamed -> row printed in $ms ms"
if [ $ok = 1 ] && [[ $row == two*ImagePullBackOff* ]] && [ $ms -lt 100 ]; then
    kt_pass
else
    kt_fail "ok=$ok ${ms} ms row '$row' (initial: ${lines[*]})"
fi

kt_case get_w_prints_nothing_for_an_unchanged_rewrite
# The same bytes written again (an editor's save): no row; the next real
# change is the next row.
cp "$S/two/status.yaml" "$S/two/status.yaml.tmp" && mv "$S/two/status.yaml.tmp" "$S/two/status.yaml"
status one Ready "" Ready "" 0
IFS= read -r -t 10 -u 4 row
kt_check "row '$row'" test "${row%% *}" = one

kt_case get_w_sees_a_new_cell
cell five
IFS= read -r -t 10 -u 4 row
kt_check "row '$row'" test "${row%% *}" = five

kt_case get_w_prints_a_deleted_row
rm -rf "$S/five"
IFS= read -r -t 10 -u 4 row
kt_check "row '$row'" test "$(tr -s ' ' <<<"$row")" = "five Deleted"
exec 4<&-
kill $GW 2>/dev/null

exit $KT_FAILED
