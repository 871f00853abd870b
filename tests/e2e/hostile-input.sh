#!/bin/bash
# Hostile input against a running kukeond (a private containerd, unique
# host-global names): each case ends in a clear error naming the file (and
# line:col where there is one) in the inbox report and in `kuke validate`,
# while a cell that was running before keeps running (same task pid).
#
#  1. Manifests: alias bombs (by nodes and by bytes), a 10 MB and a
#     HOSTILE_BIG_MB (default 200) MB file, 100,000 documents, nesting
#     10,000 deep, NUL bytes, invalid UTF-8, a file that grows while read.
#  2. The state tree: status.yaml, ctl, containers/, a container spec and a
#     whole cell directory replaced by a symlink out of the tree, a FIFO, a
#     directory, a 1 GB sparse file, a hard link to a file outside. Nothing
#     outside is written, truncated, chmod-ed, followed or deleted (content,
#     mode, mtime and link count compared), the agent never blocks on a
#     FIFO (a new cell converges after each round).
#  3. Names and values at and past the limits (fsapi/contract.h, yaml.h,
#     the codec), case and unicode look-alikes, a file name with a newline.
#  4. No registry password or passwordFile content in any status, log,
#     metrics or report.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"
. "$KUKEON_SRC/tests/chaos/lib-churn.sh"

# The big file: 200 MB proves that the size is looked at before reading;
# writing it takes a second or two, so a slow disk may lower it (anything
# far over the 1 MiB limit proves the same).
HOSTILE_BIG_MB=${HOSTILE_BIG_MB:-200}
D=default/default/default
KUKE=$KUKEON_BIN/kuke

sc_setup || exit 1
sc_start_agent || exit 1

kt_case defaults_ready
kt_check "default stack not Ready" sc_wait_for 60 'sc_is_ready default/default/default'

kt_case keeper_ready
churn_manifest keeper 1 | sc_save "$INBOX/keeper.yaml"
if sc_wait_for 60 "sc_all_ready $D/keeper"; then
    KPID=$(sc_pid $D/keeper)
    kt_pass
else
    kt_fail "$(sc_describe $D/keeper)"
    exit 1
fi

# keeper_same: the keeper runs, with the pid it had.
keeper_same() { [ "$(sc_pid $D/keeper)" = "$KPID" ] && [ -d "/proc/$KPID" ] && sc_is_ready $D/keeper; }
report() { echo "$STATE/_inbox/$1.status.yaml"; }
# wait_invalid NAME PATTERN: the report of inbox file NAME says invalid,
# with an error matching PATTERN (grep -E) that names the file.
wait_invalid() {
    sc_wait_for 20 "grep -q 'valid: false' '$(report "$1")' && grep -E -q -- '$2' '$(report "$1")'"
}
# check_invalid NAME PATTERN [VALIDATE_PATTERN]: the report, kuke validate
# on the same file (exit 1, PATTERN on stderr), the keeper, and the file
# taken out again. PASS/FAIL of the current case.
check_invalid() {
    local name=$1 pat=$2 vpat=${3:-$2} out rc
    out=$(timeout 30 "$KUKE" validate "$INBOX/$name" 2>&1 >/dev/null)
    rc=$?
    if ! wait_invalid "$name" "$pat"; then
        kt_fail "report of $name lacks /$pat/: $(head -c 600 "$(report "$name")" 2>/dev/null | tr '\n' ' ')"
    elif [ "$rc" != 1 ] || ! grep -E -q -- "$vpat" <<<"$out"; then
        kt_fail "kuke validate $name: rc $rc, '$(head -c 300 <<<"$out")'"
    elif ! keeper_same; then
        kt_fail "keeper changed: $(sc_describe $D/keeper), was pid $KPID"
    elif ! kill -0 "$AGENT_PID"; then
        kt_fail "kukeond died: $(tail -3 "$T/agent.log")"
    else
        kt_pass
    fi
    rm -f "$INBOX/$name"
}
# put NAME: stdin into the inbox as NAME, written beside it then renamed.
put() {
    cat >"$T/.put" && mv -f "$T/.put" "$INBOX/$1"
}

# ---- 1. manifests --------------------------------------------------------

kt_case alias_bomb_nodes
{
    echo 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    p=a
    for l in b c d e f g h i; do
        printf '%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' $l $l $p $p $p $p $p $p $p $p $p
        p=$l
    done
} | put laughs.yaml
check_invalid laughs.yaml 'laughs.yaml:[0-9]+:[0-9]+.*more than 100000 nodes'

kt_case alias_bomb_bytes
{
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: bomb\n  labels:\n    big: &s "'
    head -c 60000 /dev/zero | tr '\0' x
    printf '"\nspec:\n  containers:\n    - id: w\n      image: busybox\n      args: [*s'
    for _ in $(seq 20000); do printf ',*s'; done
    printf ']\n'
} | put bytebomb.yaml
check_invalid bytebomb.yaml 'bytebomb.yaml:11:[0-9]+.*more than 2 MiB of text'

kt_case file_10mb
head -c $((10 << 20)) /dev/zero | tr '\0' '#' | put big10.yaml
check_invalid big10.yaml 'big10.yaml.*larger than' 'big10.yaml:1:1: limit: file larger than 1 MiB'

kt_case "file_${HOSTILE_BIG_MB}mb"
t0=$SECONDS
head -c $((HOSTILE_BIG_MB << 20)) /dev/zero | tr '\0' '#' | put big.yaml
e2e_log "${HOSTILE_BIG_MB} MB written in $((SECONDS - t0)) s"
check_invalid big.yaml 'big.yaml.*larger than' 'big.yaml:1:1: limit: file larger than 1 MiB'

kt_case documents_100000
awk 'BEGIN { for (i = 0; i < 100000; i++) print "---" }' | put docs.yaml
check_invalid docs.yaml 'docs.yaml:65:1.*more than 64 documents'

kt_case nesting_10000
{ printf 'a: '; head -c 10000 /dev/zero | tr '\0' '['; } | put deep.yaml
check_invalid deep.yaml 'deep.yaml:1:[0-9]+.*nesting deeper than 32'

kt_case nul_bytes
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: n\0ul\n' | put nul.yaml
check_invalid nul.yaml 'nul.yaml:4:[0-9]+.*control characters'

kt_case nul_escape_in_a_string
churn_manifest esc 1 | sed 's|image: busybox|image: "busybox\\0evil"|' | put esc.yaml
check_invalid esc.yaml 'esc.yaml:[0-9]+:[0-9]+.*NUL'

kt_case invalid_utf8
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: caf\xc3\x28\n' | put utf.yaml
check_invalid utf.yaml 'utf.yaml:4:[0-9]+.*UTF-8'

kt_case file_grows_while_read
# Written in place, line by line (each append a close-write event), from a
# valid manifest to 4 MB: the agent ends on "larger than", with no hang.
churn_manifest grower 1 >"$INBOX/grower.yaml"
(
    line=$(printf '# %0200d\n' 0)
    for _ in $(seq 20000); do echo "$line"; done >>"$INBOX/grower.yaml"
) &
GROW_PID=$!
for _ in $(seq 40); do
    printf '# %0200d\n' 1 >>"$INBOX/grower.yaml"
    sleep 0.05
done
wait "$GROW_PID"
check_invalid grower.yaml 'grower.yaml.*larger than' 'grower.yaml:1:1: limit: file larger than'
sc_wait_for 30 "[ ! -e '$STATE/$D/grower' ]"

kt_case still_converges_after_manifests
churn_manifest after1 1 | put after1.yaml
kt_check "new cell not Ready: $(sc_describe $D/after1)" sc_wait_for 60 "sc_all_ready $D/after1"
rm -f "$INBOX/after1.yaml"

# ---- 2. the state tree ---------------------------------------------------

OUT=$T/outside
mkdir -p "$OUT/dir"
printf 'precious\n' >"$OUT/file"
printf 'inner\n' >"$OUT/dir/inner"
chmod 0640 "$OUT/file"
touch -d '2001-02-03 04:05:06' "$OUT/file" "$OUT/dir/inner" "$OUT/dir"
# The outside files as they must stay: type, mode, links, size, mtime, content.
# With an argument, without the link count (while the test's own hard links
# exist; it is compared once they are gone).
outside_stat() {
    local fmt='%p %y %m %n %s %T@\n'
    [ $# -gt 0 ] && fmt='%p %y %m %s %T@\n'
    (cd "$OUT" && find . -printf "$fmt" | sort && cat file dir/inner)
}
OUT_BEFORE=$(outside_stat)
OUT_BEFORE_NOLINKS=$(outside_stat nolinks)

kt_case victims_ready
for v in v1 v2 v3 v4 v5; do churn_manifest $v 1 | put $v.yaml; done
if sc_wait_for 90 "sc_all_ready $D/v1 $D/v2 $D/v3 $D/v4 $D/v5"; then
    kt_pass
else
    kt_fail "$(for v in v1 v2 v3 v4 v5; do sc_describe $D/$v; done | tr '\n' ';')"
fi

# plant KIND PATH DIRLIKE: puts a hostile KIND at PATH (inside the tree).
plant() {
    local kind=$1 p=$2 dirlike=$3
    rm -f "$p" 2>/dev/null || rm -rf "$p"
    case $kind in
    symlink) if [ "$dirlike" = 1 ]; then ln -s "$OUT/dir" "$p"; else ln -s "$OUT/file" "$p"; fi ;;
    fifo) mkfifo "$p" ;;
    dir) mkdir "$p" ;;
    sparse) truncate -s 1G "$p" ;;
    hardlink) ln "$OUT/file" "$p" ;;
    esac
}
# unplant PATH: removes what is at PATH without following it.
unplant() {
    if [ -L "$1" ] || [ ! -d "$1" ]; then rm -f "$1"; else rm -rf "$1"; fi
}

round=0
for kind in symlink fifo dir sparse hardlink; do
    round=$((round + 1))
    kt_case "tree_${kind}"
    declare -A PIDS=()
    for v in v1 v2 v3 v4; do PIDS[$v]=$(sc_pid $D/$v); done
    mkdir -p "$STATE/$D/v4/containers"
    plant $kind "$STATE/$D/v1/status.yaml" 0
    plant $kind "$STATE/$D/v2/ctl" 0
    # containers/: the log is open in the shim, the directory can go.
    [ -L "$STATE/$D/v3/containers" ] || rm -rf "$STATE/$D/v3/containers"
    plant $kind "$STATE/$D/v3/containers" 1
    plant $kind "$STATE/$D/v4/containers/extra.yaml" 0
    rm -rf "$T/v5-moved" && mv "$STATE/$D/v5" "$T/v5-moved"
    plant $kind "$STATE/$D/v5" 1
    kill -HUP "$AGENT_PID"
    # The agent is not blocked (a FIFO opened for reading blocks until a
    # writer comes): a new cell converges, and a rescan after it.
    churn_manifest probe$round 1 | put probe$round.yaml
    ok=1
    sc_wait_for 60 "sc_all_ready $D/probe$round" || { ok=0; why="probe$round not Ready: $(sc_describe $D/probe$round)"; }
    sleep 1
    kill -HUP "$AGENT_PID"
    sleep 2
    OUT_NOW=$(outside_stat nolinks)
    if [ "$OUT_NOW" != "$OUT_BEFORE_NOLINKS" ]; then
        ok=0
        why="outside changed: $(diff <(echo "$OUT_BEFORE_NOLINKS") <(echo "$OUT_NOW") | tr '\n' ' ')"
    fi
    for v in v1 v2 v3 v4; do
        p=$(sc_pid $D/$v)
        if [ -n "${PIDS[$v]}" ] && [ "$p" != "${PIDS[$v]}" ] && [ ! -d "/proc/${PIDS[$v]}" ]; then
            ok=0 why="$v: task ${PIDS[$v]} gone ($(sc_describe $D/$v))"
        fi
    done
    keeper_same || { ok=0; why="keeper changed: $(sc_describe $D/keeper)"; }
    kill -0 "$AGENT_PID" 2>/dev/null || { ok=0; why="kukeond died: $(tail -3 "$T/agent.log")"; }
    if [ $ok = 1 ]; then kt_pass; else kt_fail "$why"; fi
    for p in v1/status.yaml v2/ctl v3/containers v4/containers/extra.yaml v5; do
        # What the agent left: its own file, or the planted thing.
        unplant "$STATE/$D/$p"
    done
    mv "$T/v5-moved" "$STATE/$D/v5"
    rm -f "$INBOX/probe$round.yaml"
    # With the planted links gone, the link count is back (the agent made
    # none of its own).
    OUT_NOW=$(outside_stat)
    [ "$OUT_NOW" = "$OUT_BEFORE" ] ||
        kt_fail "after removing what the test planted: $(diff <(echo "$OUT_BEFORE") <(echo "$OUT_NOW") | tr '\n' ' ')"
done

kt_case tree_victims_recover
kill -HUP "$AGENT_PID"
if sc_wait_for 90 "sc_all_ready $D/v1 $D/v2 $D/v3 $D/v4 $D/v5"; then
    kt_pass
else
    kt_fail "$(for v in v1 v2 v3 v4 v5; do sc_is_ready $D/$v || sc_describe $D/$v; done | tr '\n' ';')"
fi
rm -f "$INBOX"/v[1-5].yaml "$INBOX"/probe*.yaml

kt_case outside_untouched_at_the_end
OUT_NOW=$(outside_stat)
kt_check "outside changed: $(diff <(echo "$OUT_BEFORE") <(echo "$OUT_NOW") | tr '\n' ' ')" \
    test "$OUT_NOW" = "$OUT_BEFORE"

# ---- 3. limits, case and unicode ----------------------------------------

cell_of() { # NAME CONTAINERS...: a cell of sleep containers
    local name=$1 c
    shift
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$name"
    for c in "$@"; do
        printf '    - id: %s\n      image: busybox\n      command: /bin/sleep\n      args: ["1000000"]\n' "$c"
    done
}
# valid_in_validate FILE: kuke validate accepts it.
valid_in_validate() { "$KUKE" validate -q "$1" >/dev/null 2>&1; }

kt_case longest_cell_name_runs
# A container's containerd id is <space>_<stack>_<cell>_<container>, at
# most 76 characters: in the default space and stack, with container "w",
# a cell name may have 58 characters (63 is refused, naming the id).
N58=$(printf 'a%.0s' $(seq 57))z N59=$(printf 'a%.0s' $(seq 58))z
cell_of "$N58" w | put long.yaml
if ! sc_wait_for 60 "sc_all_ready $D/$N58"; then
    kt_fail "58-character cell not Ready: $(sc_describe $D/$N58)"
else
    kt_pass
fi
rm -f "$INBOX/long.yaml"

kt_case name_past_the_limit
cell_of "$N59" w | put long59.yaml
check_invalid long59.yaml 'long59.yaml:[0-9]+:[0-9]+.*would be 77 characters'

kt_case name_of_64_characters
N64=$(printf 'a%.0s' $(seq 64))
cell_of "$N64" w | put n64.yaml
check_invalid n64.yaml 'n64.yaml:4:9.*longer than 63 characters'

kt_case containers_64_valid_65_not
cell_of c64 $(for i in $(seq 64); do echo w$i; done) >"$T/c64.yaml"
if ! valid_in_validate "$T/c64.yaml"; then
    kt_fail "64 containers refused: $("$KUKE" validate "$T/c64.yaml" 2>&1 | head -2)"
else
    cell_of c65 $(for i in $(seq 65); do echo w$i; done) | put c65.yaml
    check_invalid c65.yaml 'c65.yaml:[0-9]+:[0-9]+.*more than 64 containers'
fi

kt_case env_4096_valid_4097_not
{ cell_of envs w; printf '      env:\n'; for i in $(seq 4096); do printf '        - "E%d=v"\n' "$i"; done; } >"$T/e4096.yaml"
if ! valid_in_validate "$T/e4096.yaml"; then
    kt_fail "4096 env entries refused: $("$KUKE" validate "$T/e4096.yaml" 2>&1 | head -2)"
else
    { cat "$T/e4096.yaml"; printf '        - "E4097=v"\n'; } | put e4097.yaml
    check_invalid e4097.yaml 'e4097.yaml:4108:11.*more than 4096 entries'
fi

kt_case ports_4096_valid_4097_not
{ cell_of ports w; printf '      ports:\n'; for i in $(seq 4097); do printf '        - "%d:80"\n' $((20000 + i)); done; } >"$T/p4097.yaml"
cp "$T/p4097.yaml" "$INBOX/p4097.yaml"
check_invalid p4097.yaml 'p4097.yaml:[0-9]+:[0-9]+.*more than 4096'

kt_case labels_past_the_limit
{ printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: labels\n  labels:\n'
  for i in $(seq 4097); do printf '    l%d: v\n' "$i"; done
  printf 'spec:\n  containers:\n    - id: w\n      image: busybox\n'; } | put labels.yaml
check_invalid labels.yaml 'labels.yaml:4102:5.*more than 4096 entries'

kt_case upper_case_name
cell_of Web w | put upper.yaml
check_invalid upper.yaml 'upper.yaml:4:9.*only lower-case'

kt_case cyrillic_lookalike_name
cell_of "wеb" w | put cyr.yaml # U+0435, not "e"
check_invalid cyr.yaml 'cyr.yaml:4:9.*only lower-case'

kt_case fullwidth_name
cell_of "ｗeb" w | put fullw.yaml
check_invalid fullw.yaml 'fullw.yaml:4:9.*only lower-case'

kt_case same_cell_twice
{ cell_of twin w; echo ---; cell_of twin x; } | put twin.yaml
check_invalid twin.yaml 'twin.yaml:11:1.*already defined'

kt_case file_name_with_newline
NL=$'nl\nname.yaml'
cell_of "$N64" w >"$INBOX/$NL"
if ! sc_wait_for 20 "grep -q 'valid: false' '$STATE/_inbox/$NL.status.yaml'"; then
    kt_fail "no report for a file name with a newline: $(ls "$STATE/_inbox" | tr '\n' ' ')"
elif ! python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); sys.exit(d["status"]["file"] != sys.argv[2])' \
    "$STATE/_inbox/$NL.status.yaml" "$NL" 2>/dev/null && command -v python3 >/dev/null; then
    kt_fail "the report does not name the file exactly: $(head -c 300 "$STATE/_inbox/$NL.status.yaml")"
elif ! keeper_same; then
    kt_fail "keeper changed"
else
    kt_pass
fi
rm -f "$INBOX/$NL"

# ---- 4. secrets ----------------------------------------------------------

kt_case no_secret_in_status_logs_metrics_reports
PW="pw-$RANDOM$RANDOM-SECRET" TOKEN="tok-$RANDOM$RANDOM-SECRET"
printf '%s\n' "$TOKEN" >"$OUT/token"
chmod 0600 "$OUT/token"
{
    printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: sec1\nspec:\n  registryCredentials:\n'
    printf '    - serverAddress: reg.invalid:5000\n      username: u\n      password: %s\n' "$PW"
    echo ---
    printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: sec2\nspec:\n  registryCredentials:\n'
    printf '    - serverAddress: reg.invalid:5000\n      username: u\n      passwordFile: %s\n' "$OUT/token"
    for r in sec1 sec2; do
        echo ---
        printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: s\nspec:\n  realmId: %s\n' $r
        echo ---
        printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: t\nspec:\n  realmId: %s\n  spaceId: s\n' $r
        echo ---
        printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: pull\nspec:\n  realmId: %s\n  spaceId: s\n  stackId: t\n' $r
        printf '  containers:\n    - id: w\n      image: reg.invalid:5000/x/y:1\n'
    done
} | put secrets.yaml
# An invalid file quoting them too: the report must not echo them back.
{
    printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: sec3\nspec:\n  registryCredentials:\n'
    printf '    - serverAddress: reg.invalid:5000\n      username: [%s]\n      password: {p: %s}\n' "$PW" "$PW"
    printf '      passwordFile: %s\n      pasword: %s\n' "$TOKEN" "$PW"
} | put secrets-bad.yaml
# Until both pulls failed (so the credentials were used) and reported.
sc_wait_for 60 "grep -q 'valid: false' '$(report secrets-bad.yaml)' &&
    [ -n \"\$(e2e_status_field sec1/s/t/pull reason)\" ] && [ -n \"\$(e2e_status_field sec2/s/t/pull reason)\" ]"
sleep 6 # a periodic _agent/status.yaml and metrics.prom write
leaks=$( (grep -rl -e "$PW" -e "$TOKEN" "$STATE" "$T/agent.log" 2>/dev/null) |
    grep -v "^$STATE/sec1/realm.yaml\$")
mode=$(stat -c %a "$STATE/sec1/realm.yaml" 2>/dev/null)
if [ -n "$leaks" ]; then
    kt_fail "secret found in: $(echo $leaks) ($(grep -h -o -e ".\{0,60\}$PW.\{0,20\}" -e ".\{0,60\}$TOKEN.\{0,20\}" $leaks | head -3 | tr '\n' ';'))"
elif [ "$mode" != 600 ]; then
    kt_fail "realm spec holding the password is mode '$mode'"
elif ! grep -q "pull" <<<"$(e2e_status_field sec1/s/t/pull reason) $(e2e_status_field sec1/s/t/pull message)" &&
    ! grep -qi "image\|pull\|registry" <<<"$(e2e_status_field sec1/s/t/pull message)"; then
    kt_fail "the pull was not tried: $(sc_describe sec1/s/t/pull)"
else
    kt_pass
fi
rm -f "$INBOX/secrets.yaml" "$INBOX/secrets-bad.yaml"

kt_case keeper_still_running
kt_check "keeper changed: $(sc_describe $D/keeper), was pid $KPID" keeper_same

e2e_stop_agent
exit $KT_FAILED
