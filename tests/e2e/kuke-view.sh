#!/bin/bash
# End to end: kuke's read verbs against a real kukeond and containerd.
# `kuke get cells -w` runs while a cell comes up and must print its rows as
# the agent writes them; the STATUS column shows a crash loop and a missing
# image by their reasons; `kuke get inbox` reports a valid and an invalid
# manifest; `kuke describe` and `kuke events [-w]` show what the agent
# wrote into events.log; `kuke logs --tail`. Root only.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1
K() { "$KUKEON_BIN/kuke" "$1" --state "$STATE" --manifests "$INBOX" "${@:2}"; }
CELL=default/default/default/hello-world

# until TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds.
until_ok() {
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
# status_of TABLE NAME: the STATUS column of NAME's row.
status_of() {
    awk -v r="$2" 'NR == 1 { i = index($0, "STATUS") } NR > 1 && $1 == r { s = substr($0, i); sub(/ .*/, "", s); print s }' <<<"$1"
}

kt_case defaults_exist
kt_check "default stack not Ready" e2e_wait_state default/default/default Ready 30

# get -w from before the cell exists: the rows come as the agent writes.
timeout -k 5 120 "$KUKEON_BIN/kuke" get cells -w --state "$STATE" >"$T/getw.out" 2>"$T/getw.err" &
GETW=$!
kt_cleanup "kill $GETW"
timeout -k 5 120 "$KUKEON_BIN/kuke" events -w -o json --state "$STATE" >"$T/evw.out" 2>"$T/evw.err" &
EVW=$!
kt_cleanup "kill $EVW"

kt_case hello_world_ready
cp "$KUKEON_SRC/examples/manifests/hello-world.yaml" "$INBOX/hello-world.yaml"
kt_check "cell not Ready: $(e2e_status_field $CELL reason)" e2e_wait_state $CELL Ready 60

kt_case get_w_printed_the_ready_row
row_ready() { grep -Eq '^hello-world +1/1 +Ready ' "$T/getw.out"; }
kt_check "get -w printed: $(cat "$T/getw.out" "$T/getw.err")" until_ok 5 row_ready

kt_case get_table_status_ready
tbl=$(K get cells)
kt_check "$tbl" test "$(status_of "$tbl" hello-world)" = Ready

kt_case events_of_the_cell
ev=$(K events cell hello-world -o json | python3 -c 'import json,sys; print(" ".join(sorted({i["reason"] + ":" + i["object"] for i in json.load(sys.stdin)["items"]})))')
kt_check "events: $ev" grep -q 'Started:container/web' <<<"$ev"

kt_case events_w_saw_the_start
started() { grep -q '"reason":"Started","object":"container/web"' "$T/evw.out"; }
kt_check "events -w printed: $(head -c 2000 "$T/evw.out")" until_ok 5 started

kt_case describe_cell
d=$(K describe cell hello-world)
pid=$(e2e_status_field $CELL pid)
if grep -Eq "^State: +Ready" <<<"$d" && grep -Eq "PID: +$pid\$" <<<"$d" &&
    grep -Eq "Image: +docker.io/library/busybox" <<<"$d" && grep -Eq "Started +container/web" <<<"$d"; then
    kt_pass
else
    kt_fail "$d"
fi

kt_case logs_tail
# httpd -v logs each request: two requests, two lines at least.
for i in 1 2; do wget -q -T 5 -O /dev/null "http://$(e2e_status_field $CELL ip):8080/" 2>/dev/null; done
served() { [ "$(K logs hello-world | wc -l)" -ge 2 ]; }
until_ok 10 served
all=$(K logs hello-world | wc -l)
one=$(K logs hello-world --tail 1 | wc -l)
last=$(K logs hello-world | tail -n 1)
kt_check "all $all lines, --tail 1 gave $one" test "$one" -eq 1 -a "$all" -ge 2 -a "$(K logs hello-world --tail 1)" = "$last"

kt_case stop_is_seen_by_events_w
K stop cell hello-world >/dev/null
stopped() { grep -q '"reason":"Stopped"' "$T/evw.out"; }
kt_check "events -w printed: $(tail -c 1500 "$T/evw.out")" until_ok 30 stopped

kt_case get_w_printed_the_stopped_row
row_stopped() { grep -Eq '^hello-world +0/1 +Stopped ' "$T/getw.out"; }
kt_check "get -w printed: $(cat "$T/getw.out")" until_ok 10 row_stopped

kt_case crash_loop_in_status_column
cat >"$INBOX/crash.yaml" <<'YAML'
apiVersion: v1beta1
kind: Cell
metadata:
  name: crash
spec:
  containers:
    - id: main
      image: busybox
      command: sh
      args: ["-c", "exit 3"]
      restartPolicy: always
      restartBackoffSeconds: 5
YAML
crashing() { [ "$(status_of "$(K get cells)" crash)" = CrashLoopBackOff ]; }
kt_check "cells: $(K get cells) / $(e2e_status_field default/default/default/crash reason)" until_ok 30 crashing

kt_case missing_image_in_status_column
cat >"$INBOX/noimage.yaml" <<'YAML'
apiVersion: v1beta1
kind: Cell
metadata:
  name: noimage
spec:
  containers:
    - id: main
      image: kukeon.invalid/none:1
      imagePullPolicy: Never
YAML
want=
no_image() {
    want=$(e2e_status_field default/default/default/noimage reason)
    [ -n "$want" ] && [ "$want" != Pending ] && [ "$(status_of "$(K get cells)" noimage)" = "$want" ]
}
kt_check "cells: $(K get cells), reason '$want'" until_ok 30 no_image

kt_case get_inbox
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: bad\nspec:\n  containers:\n    - id: a\n      imagee: busybox\n' >"$INBOX/bad.yaml"
reported() { [ -e "$STATE/_inbox/bad.yaml.status.yaml" ]; }
until_ok 20 reported
tbl=$(K get inbox)
good=$(grep '^hello-world.yaml ' <<<"$tbl" | tr -s ' ')
bad=$(grep '^bad.yaml ' <<<"$tbl" | tr -s ' ')
if [ "$good" = "hello-world.yaml yes 1" ] && [[ $bad == "bad.yaml no 0 "*"8:7: "*imagee* ]]; then
    kt_pass
else
    kt_fail "$tbl"
fi

kill $GETW $EVW 2>/dev/null
exit $KT_FAILED
