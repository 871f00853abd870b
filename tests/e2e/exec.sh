#!/bin/bash
# End to end: kuke exec (issue 13) into a busybox cell run by kukeond on a
# private containerd: the exit code comes back, stdin (-i), stdout and
# stderr go through, -t gives a terminal, -e, -w and -u change the process,
# SIGTERM and SIGINT to kuke leave no process, exec or FIFO behind, and a
# missing or stopped cell is a clear error (exit 1). Root only; unique
# host-global names and cleanup at exit (tests/e2e/lib-agent.sh).
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1
e2e_wait_state default/default/default Ready 30

export KUKEON_STATE=$STATE KUKEON_MANIFESTS=$INBOX KUKEON_CONFIG=/dev/null
export KUKEON_CONTAINERD_ADDRESS=$CTD_SOCK
# kuke's FIFO directories go here, to be counted.
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
K=$KUKEON_BIN/kuke

# cell NAME SCRIPT [POLICY]: a one-container cell running SCRIPT under sh.
cell() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$1"
    printf '    - id: main\n      image: busybox\n      command: /bin/sh\n'
    printf '      args: ["-c", "%s"]\n' "$2"
    [ -n "${3:-}" ] && printf '      %s\n' "$3"
}
apply() { # NAME SCRIPT [POLICY]
    cell "$@" >"$T/$1.yaml"
    "$K" apply -f "$T/$1.yaml" >/dev/null
}

BOX=default/default/default/box
BOXID=default_default_box_main
apply box 'exec tail -f /dev/null'
kt_case setup_cell
kt_check "box not Ready: $(e2e_status_field $BOX reason) $(e2e_status_field $BOX message)" \
    e2e_wait_state $BOX Ready 60

# Host pids of the processes in box's container whose command is $1.
procs_named() {
    local p
    for p in $(ctr -a "$CTD_SOCK" -n "$NS_DEFAULT" tasks ps "$BOXID" 2>/dev/null | awk 'NR > 1 {print $1}'); do
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^$1" && echo "$p"
    done
}
# Exec processes containerd's shim still knows in box (their pid files).
execs_left() {
    find "$T/ctd/state" -path "*/$BOXID/*" -name 'kuke-exec-*' 2>/dev/null
}

# A standalone container in box, with an env of its own.
cat >"$T/side.yaml" <<'YAML'
apiVersion: v1beta1
kind: Container
metadata:
  name: side
spec:
  id: side
  cellId: box
  image: busybox
  command: /bin/sh
  args: ["-c", "exec tail -f /dev/null"]
  env: ["GREETING=hello"]
YAML
"$K" apply -f "$T/side.yaml" >/dev/null

kt_case exit_code
"$K" exec box -- sh -c 'exit 7' >"$T/out" 2>&1
rc=$?
kt_check "rc=$rc (want 7): $(cat "$T/out")" test "$rc" -eq 7

kt_case exit_zero_and_output
out=$("$K" exec box -- echo hi 2>&1)
rc=$?
kt_check "rc=$rc out='$out'" test "$rc" -eq 0 -a "$out" = hi

kt_case stdin_interactive
out=$(echo hello | "$K" exec -i box -- cat 2>&1)
kt_check "out='$out' (want hello)" test "$out" = hello

kt_case stdin_large
head -c 300000 /dev/urandom | base64 >"$T/big"
n=$("$K" exec -i box -- wc -c <"$T/big" 2>&1 | tr -d ' ')
kt_check "wc -c said '$n', sent $(stat -c %s "$T/big")" test "$n" = "$(stat -c %s "$T/big")"

kt_case stdout_stderr_apart
"$K" exec box -- sh -c 'echo to-out; echo to-err >&2' >"$T/o" 2>"$T/e"
kt_check "stdout '$(cat "$T/o")', stderr '$(cat "$T/e")'" \
    test "$(cat "$T/o")" = to-out -a "$(cat "$T/e")" = to-err

kt_case env
out=$("$K" exec -e FOO=bar box -- sh -c 'echo $FOO' 2>&1)
kt_check "out='$out' (want bar)" test "$out" = bar

kt_case standalone_container
for _ in $(seq 60); do
    out=$("$K" exec -c side box -- sh -c 'echo $GREETING' 2>&1) && break
    sleep 0.5
done
kt_check "out='$out' (want hello, side's env)" test "$out" = hello

kt_case env_keeps_container_path
out=$("$K" exec box -- sh -c 'echo $PATH' 2>&1)
kt_check "PATH='$out'" grep -q /bin <<<"$out"

kt_case workdir
out=$("$K" exec -w /tmp box -- pwd 2>&1)
kt_check "out='$out' (want /tmp)" test "$out" = /tmp

kt_case user_numeric
out=$("$K" exec -u 1000:1000 box -- id 2>&1)
kt_check "out='$out'" grep -q '^uid=1000.*gid=1000' <<<"$out"

kt_case user_name
out=$("$K" exec -u kuke box -- sh -c 'id -un; echo $HOME' 2>&1 | tr '\n' ' ')
kt_check "out='$out'" grep -q '^kuke /' <<<"$out"

kt_case tty
if command -v script >/dev/null; then
    out=$(script -qec "$K exec -t box -- tty" /dev/null </dev/null 2>&1 | tr -d '\r')
else
    out=$(python3 -c 'import pty, sys; pty.spawn(sys.argv[1:])' "$K" exec -t box -- tty 2>&1 | tr -d '\r')
fi
kt_check "out='$out' (want /dev/pts/N)" grep -q '^/dev/pts/[0-9]' <<<"$out"

kt_case tty_exit_code
if command -v script >/dev/null; then
    script -qec "$K exec -t box -- sh -c 'exit 5'" /dev/null </dev/null >/dev/null 2>&1
    rc=$?
    kt_check "rc=$rc (want 5)" test "$rc" -eq 5
else
    echo "# skipped $KT_CURRENT: no script(1)" >&2
fi

kt_case tty_size_at_start
if command -v script >/dev/null; then
    out=$(script -qec "stty rows 33 cols 77; $K exec -t box -- stty size" /dev/null </dev/null 2>&1 | tr -d '\r')
    kt_check "stty size said '$out' (want 33 77)" grep -qx '33 77' <<<"$out"
else
    echo "# skipped $KT_CURRENT: no script(1)" >&2
fi

kt_case tty_size_follows_sigwinch
if command -v script >/dev/null; then
    out=$(script -qec "stty rows 33 cols 77; $K exec -t box -- sh -c 'sleep 2; stty size' & p=\$!; sleep 1; stty rows 44 cols 88; kill -WINCH \$p; wait \$p" /dev/null </dev/null 2>&1 | tr -d '\r')
    kt_check "stty size said '$out' (want 44 88)" grep -qx '44 88' <<<"$out"
else
    echo "# skipped $KT_CURRENT: no script(1)" >&2
fi

kt_case tty_interactive
if command -v script >/dev/null; then
    # Typed lines reach sh through kuke's raw terminal and the exec's pty.
    (sleep 1; printf 'echo in-$((1+2))\n'; sleep 1; printf 'exit 3\n'; sleep 1) |
        script -qec "$K exec -it box -- sh" /dev/null >"$T/tty.out" 2>&1
    rc=$?
    out=$(tr -d '\r' <"$T/tty.out")
    kt_check "rc=$rc (want 3): $out" eval '[ $rc -eq 3 ] && grep -q "^in-3" <<<"$out"'
else
    echo "# skipped $KT_CURRENT: no script(1)" >&2
fi

kt_case tty_mode_restored
if command -v script >/dev/null; then
    out=$( (sleep 1; printf 'exit\n'; sleep 1) |
        script -qec "$K exec -it box -- sh; stty -a" /dev/null 2>&1 | tr -d '\r')
    kt_check "terminal left raw: $(grep -o -- '-\?icanon' <<<"$out")" \
        eval 'grep -q -- " icanon" <<<"$out" && ! grep -q -- "-icanon" <<<"$out"'
else
    echo "# skipped $KT_CURRENT: no script(1)" >&2
fi

kt_case command_not_found_127
"$K" exec box -- nosuchcmd >"$T/out" 2>&1
rc=$?
kt_check "rc=$rc (want 127): $(cat "$T/out")" eval '[ $rc -eq 127 ] && grep -q nosuchcmd "$T/out"'

kt_case command_not_runnable_126
"$K" exec box -- /etc/passwd >"$T/out" 2>&1
rc=$?
kt_check "rc=$rc (want 126): $(cat "$T/out")" test "$rc" -eq 126

kt_case missing_workdir_1
"$K" exec -w /nonexistent box -- true >"$T/out" 2>&1
rc=$?
kt_check "rc=$rc (want 1): $(cat "$T/out")" eval '[ $rc -eq 1 ] && grep -q /nonexistent "$T/out"'

kt_case unknown_user_1
"$K" exec -u nosuchuser box -- true >"$T/out" 2>&1
rc=$?
kt_check "rc=$rc (want 1): $(cat "$T/out")" eval '[ $rc -eq 1 ] && grep -q nosuchuser "$T/out"'

# kill_test SIG WANT_RC: kuke exec ... sleep 100, then SIG to kuke.
kill_test() {
    "$K" exec box -- sleep 100 >"$T/kill.out" 2>&1 &
    local kpid=$!
    for _ in $(seq 100); do
        [ -n "$(procs_named 'sleep 100')" ] && break
        sleep 0.1
    done
    if [ -z "$(procs_named 'sleep 100')" ]; then
        kill -KILL "$kpid" 2>/dev/null
        wait "$kpid" 2>/dev/null
        kt_fail "sleep 100 never showed in the container"
        return
    fi
    kill "-$1" "$kpid"
    local rc=0
    for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$kpid" 2>/dev/null; then
        kill -KILL "$kpid"
        wait "$kpid"
        kt_fail "kuke exec still runs 10 s after SIG$1"
        return
    fi
    wait "$kpid"
    rc=$?
    local left
    left=$(procs_named 'sleep 100')
    if [ -n "$left" ]; then
        kt_fail "sleep still in the container: $left"
    elif [ "$rc" -ne "$2" ]; then
        kt_fail "rc=$rc (want $2): $(cat "$T/kill.out")"
    elif [ -n "$(execs_left)" ]; then
        kt_fail "exec processes left in the shim: $(execs_left)"
    elif [ -n "$(ls -A "$TMPDIR")" ]; then
        kt_fail "FIFO directories left: $(ls -A "$TMPDIR")"
    else
        kt_pass
    fi
}
kt_case sigterm_leaves_nothing
kill_test TERM 143
kt_case sigint_leaves_nothing
kill_test INT 130

kt_case second_signal_kills
# sh ignores SIGTERM: the first is passed on (and ignored), the second kills.
"$K" exec box -- sh -c 'trap "" TERM; echo ready; while :; do sleep 0.2; done' >"$T/ign.out" 2>&1 &
kpid=$!
for _ in $(seq 100); do grep -q ready "$T/ign.out" && break; sleep 0.1; done
kill -TERM "$kpid"
sleep 1
if ! kill -0 "$kpid" 2>/dev/null; then
    wait "$kpid"
    kt_fail "kuke ended on the first SIGTERM (rc=$?), the command ignores it"
else
    kill -TERM "$kpid"
    for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$kpid" 2>/dev/null; then
        kill -KILL "$kpid"
        wait "$kpid"
        kt_fail "kuke still runs 10 s after a second SIGTERM"
    else
        wait "$kpid"
        rc=$?
        kt_check "rc=$rc (want 137, SIGKILL); execs left: $(execs_left)" \
            eval '[ $rc -eq 137 ] && [ -z "$(execs_left)" ]'
    fi
fi

kt_case tty_sigterm_leaves_nothing
if command -v script >/dev/null; then
    # kuke under a terminal (script), SIGTERM to kuke itself.
    script -qec "$K exec -t box -- sleep 100" /dev/null </dev/null >/dev/null 2>&1 &
    spid=$!
    for _ in $(seq 100); do [ -n "$(procs_named 'sleep 100')" ] && break; sleep 0.1; done
    kpid=$(pgrep -P "$spid" -f "exec -t box" | head -1)
    [ -n "$kpid" ] && kill -TERM "$kpid"
    for _ in $(seq 100); do [ -z "$(procs_named 'sleep 100')" ] && break; sleep 0.1; done
    wait "$spid" 2>/dev/null
    kt_check "kuke $kpid; sleep left: $(procs_named 'sleep 100'); execs: $(execs_left)" \
        eval '[ -n "$kpid" ] && [ -z "$(procs_named "sleep 100")" ] && [ -z "$(execs_left)" ]'
else
    echo "# skipped $KT_CURRENT: no script(1)" >&2
fi

kt_case no_exec_left
kt_check "exec processes left in the shim: $(execs_left)" test -z "$(execs_left)"

kt_case no_fifo_dir_left
kt_check "left in TMPDIR: $(ls -A "$TMPDIR")" test -z "$(ls -A "$TMPDIR")"

kt_case missing_cell
out=$("$K" exec nosuchcell -- true 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: "*nosuchcell* ]]'

kt_case missing_container
out=$("$K" exec -c nosuch box -- true 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: cell box has no container nosuch"* ]]'

kt_case stopped_cell
DONE=default/default/default/finished
apply finished 'exit 0' 'restartPolicy: "no"'
for _ in $(seq 100); do
    grep -q 'exitCode: 0' "$STATE/$DONE/status.yaml" 2>/dev/null && break
    sleep 0.1
done
out=$("$K" exec finished -- true 2>&1)
rc=$?
kt_check "rc=$rc: $out" eval '[ $rc -eq 1 ] && [[ $out == "kuke exec: cell finished is not running"* ]]'

e2e_stop_agent
exit $KT_FAILED
