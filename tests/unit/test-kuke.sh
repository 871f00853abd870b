#!/bin/bash
# kuke's file-only verbs against a temp state tree and inbox (no root, no agent).
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d)
kt_cleanup "rm -rf '$T'"
export KUKEON_STATE=$T/state KUKEON_MANIFESTS=$T/inbox
mkdir -p "$KUKEON_STATE" "$KUKEON_MANIFESTS"
EX=$KUKEON_SRC/examples/manifests
CELL=$KUKEON_STATE/default/default/default/hello-world

kt_case apply_writes_spec_then_unchanged
out1=$($K apply -f "$EX/hello-world.yaml") && out2=$($K apply -f "$EX/hello-world.yaml")
kt_check "apply: '$out1' / '$out2'" test -f "$CELL/cell.yaml" -a "$out1" = "cell/default/default/default/hello-world created" \
    -a "$out2" = "cell/default/default/default/hello-world unchanged"

kt_case apply_realm_with_password_is_root_only
printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: priv\nspec:\n  registryCredentials:\n    - serverAddress: reg.example:5000\n      username: u\n      password: pw\n' >"$T/priv.yaml"
$K apply -f "$T/priv.yaml" >/dev/null
mode=$(stat -c %a "$KUKEON_STATE/priv/realm.yaml" 2>&1)
kt_check "realm.yaml mode $mode" test "$mode" = 600

kt_case applied_spec_is_valid_and_normalised
kt_check "cell.yaml does not validate" "$K" validate -q "$CELL/cell.yaml"

kt_case apply_invalid_writes_nothing
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: bad\nspec:\n  containers:\n    - id: a\n      imagee: busybox\n' >"$T/bad.yaml"
err=$($K apply -f "$EX/web-sidecar.yaml" -f "$T/bad.yaml" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ $err == *"bad.yaml:8:7: spec.containers[0].imagee"* ]] && [ ! -e "$KUKEON_STATE/default/default/default/web" ]; then kt_pass; else kt_fail "rc=$rc err=$err"; fi

kt_case get_table_and_formats
tbl=$($K get cells) && yaml=$($K get cell hello-world -o yaml) && json=$($K get cells -o json)
if [[ $tbl == NAME*READY*STATUS*hello-world* ]] && [[ $yaml == *"rootContainerId: web"* ]] &&
    echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["kind"]=="List" and d["items"][0]["spec"]["id"]=="hello-world"'; then
    kt_pass; else kt_fail "get output: $tbl / $json"; fi

kt_case get_shows_status
cat >"$CELL/status.yaml" <<'YAML'
apiVersion: v1beta1
kind: Cell
metadata:
  name: hello-world
status:
  state: Ready
  ip: 10.88.0.2
  containers:
    - id: web
      state: Ready
      pid: 4242
YAML
tbl=$($K get cells) && ctr=$($K get containers --cell hello-world)
if [[ $tbl == *"hello-world   1/1     Ready    0"* ]] && [[ $($K get cells -o wide) == *"10.88.0.2"* ]] && [[ $ctr == *"web"*"Ready"*"4242"* ]]; then kt_pass; else kt_fail "$tbl / $ctr"; fi

kt_case get_missing_name_fails
kt_check "get of a missing cell succeeded" bash -c "! $K get cell nope 2>/dev/null"

kt_case create_container_and_refuse_duplicate
$K create container side --cell hello-world --image busybox --command sh --args -c --args 'sleep 1' >/dev/null
if grep -q 'image: docker.io/library/busybox:latest' "$CELL/containers/side.yaml" &&
    ! $K create container side --cell hello-world 2>/dev/null; then kt_pass; else kt_fail "create"; fi

kt_case create_rejects_bad_name
err=$($K create cell Bad_Name 2>&1); rc=$?
kt_check "rc=$rc $err" test $rc -eq 1 -a -n "$err"

kt_case ctl_writes_one_verb
$K kill cell hello-world KILL >/dev/null && v=$(cat "$CELL/ctl")
kt_check "ctl holds '$v'" test "$v" = "kill KILL"

kt_case ctl_rejects_bad_signal
kt_check "accepted a bad signal" bash -c "! $K kill cell hello-world NOPE 2>/dev/null"

kt_case logs_prints_root_container_log
echo "hello from the log" >"$CELL/containers/web.log"
out=$($K logs hello-world)
kt_check "logs: '$out'" test "$out" = "hello from the log"

kt_case delete_needs_cascade
if ! $K delete cell hello-world 2>/dev/null && [ -f "$CELL/cell.yaml" ] &&
    $K delete cell hello-world --cascade >/dev/null && [ ! -e "$CELL/cell.yaml" ] && [ ! -e "$CELL/containers/side.yaml" ]; then
    kt_pass; else kt_fail "delete"; fi

kt_case apply_refuses_inbox_owned_spec
mkdir -p "$CELL"
sed 's/^metadata:/metadata:\n  annotations:\n    kukeon.io\/source: web.yaml/' "$EX/hello-world.yaml" | $K apply -f - >/dev/null
err=$($K apply -f "$EX/hello-world.yaml" 2>&1); rc=$?
kt_check "rc=$rc $err" test $rc -eq 1 -a -n "$(echo "$err" | grep 'owned by the inbox file web.yaml')"

kt_case apply_inbox_copies_file
$K apply --inbox -f "$EX/web-sidecar.yaml" >/dev/null
kt_check "inbox copy differs" cmp -s "$EX/web-sidecar.yaml" "$KUKEON_MANIFESTS/web-sidecar.yaml"

kt_case get_list_applies_back
# kubectl's round trip: a List from `get KIND -o yaml` (and -o json) is a
# manifest whose items are applied as they were (a tree of its own).
export KUKEON_STATE=$T/state2
C2=$KUKEON_STATE/default/default/default
mkdir -p "$KUKEON_STATE"
$K apply -f "$EX/hello-world.yaml" -f "$EX/web-sidecar.yaml" >/dev/null
list=$($K get cells -o yaml) && jlist=$($K get cells -o json)
cp "$C2/hello-world/cell.yaml" "$T/before.yaml"
rm -r "$C2/hello-world"
out=$(printf '%s\n' "$list" | $K apply -f - 2>&1); rc=$?
if [ $rc -ne 0 ] || ! cmp -s "$T/before.yaml" "$C2/hello-world/cell.yaml"; then
    kt_fail "rc=$rc $out"
else
    out=$(printf '%s\n' "$jlist" | $K apply -f - 2>&1)
    kt_check "json list: $out" eval '[[ $out == *"hello-world unchanged"* && $out == *"web unchanged"* ]]'
fi

exit 0
