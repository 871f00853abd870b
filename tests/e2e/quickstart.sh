#!/bin/bash
# End to end: the README's quick start, literally. The first fenced block of
# README.md must hold exactly two commands, one running `make demo`, one
# running `make check`; the demo one is run as written (in a copy of this
# tree whose build/ is this run's build, in the background, in a process
# group of its own), the example cells must become Ready and answer on
# their ports, the README's second block (what to try while the demo runs)
# is run line by line as written, then ^C (SIGINT to the group) must stop
# the demo and leave the host as it was: every item of kukeon's default
# names (nft table, mounts under /run/kukeon, links, addresses, cgroup
# directories, lock files, runc directories) and every file the demo
# creates is compared before and after. The `make check` command is only
# checked for its form: running it here would run this test again.
#
# The demo uses the default names of an installed agent, so this test
# refuses (FAIL, touching nothing) on a host where any of them is in use;
# the CI host is fresh. Other agents with other names may run meanwhile:
# only the default names are compared. Root only.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"

STATE=/opt/kukeon RUN=/run/kukeon INBOX=/etc/kukeon/manifests
CELLS=(default/default/default/hello-world default/default/default/web main/frontend/shop/catalog)
DEMO_PID= CTD_PID= T=

log() { echo "# $*" >&2; }

# The fenced block number $1 (1-based) of README.md, one command a line,
# blank and comment-only lines dropped.
readme_block() {
    awk -v want="$1" '/^```/ { if (open) { open = 0; inblock = 0; next }
                                open = 1; n++; inblock = (n == want); next }
        inblock' "$KUKEON_SRC/README.md" | sed '/^[[:space:]]*\(#.*\)\{0,1\}$/d'
}

ip_stable() {
    local i out
    for i in $(seq 20); do
        out=$(ip "$@" 2>&1)
        grep -q "Dump was interrupted" <<<"$out" || break
    done
    grep -v "Dump was interrupted" <<<"$out"
}

# Every item of the default names, one file each under $1.
snapshot() {
    local d=$1
    mkdir -p "$d"
    nft list tables 2>/dev/null | grep -x "table inet kukeon" >"$d/nft"
    awk -v r="$RUN" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort >"$d/mounts"
    ip_stable -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^kk[bv]' | sort >"$d/links"
    ip_stable -o -4 addr show | awk '{print $2, $4}' | grep -F ' 10.77.' | sort >"$d/addresses"
    ip_stable -4 route show table all | grep -F '10.77.' | sort >"$d/routes"
    find /sys/fs/cgroup -maxdepth 3 -type d -name kukeon 2>/dev/null | sort >"$d/cgroups"
    ls -d /opt/kukeon /run/kukeon /etc/kukeon /srv/html /var/tmp/kukeon-demo* 2>/dev/null | sort >"$d/files"
    ls /run/lock/kukeon 2>/dev/null | grep -E -- '-(kukeon|kkb|kkv)\.lock$' | sort >"$d/locks"
    ls -d /run/containerd/runc/kukeon-* 2>/dev/null | sort >"$d/runc"
    ss -Hltn 2>/dev/null | awk '{print $4}' | grep -E ':(8080|8081)$' | sort >"$d/ports"
}

demo_alive() { [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; }

# ^C: SIGINT to the demo's process group, as a terminal sends it.
interrupt_demo() { # TIMEOUT_S
    local i
    demo_alive || return 0
    kill -INT -- "-$DEMO_PID" 2>/dev/null
    for i in $(seq $(($1 * 10))); do demo_alive || break; sleep 0.1; done
    ! demo_alive
}

teardown() {
    [ -n "$T" ] || return 0
    if ! interrupt_demo 120; then
        kill -KILL -- "-$DEMO_PID" 2>/dev/null
        # Names were verified free at the start: what is there is ours.
        "$KUKEON_BIN/kukeond" --uninstall --purge-state --config /dev/null >&2
    fi
    CTD_PID=$(sed -n 's/.*containerd the demo started (pid \([0-9]*\)).*/\1/p' "$T/demo.log" 2>/dev/null)
    [ -n "$CTD_PID" ] && kill -0 "$CTD_PID" 2>/dev/null && kill -TERM "$CTD_PID"
    # KK_QS_LOG=FILE keeps the demo's output.
    [ -n "${KK_QS_LOG:-}" ] && cp "$T/demo.log" "$KK_QS_LOG" 2>/dev/null
    if [ "$KT_FAILED" -ne 0 ] && [ -f "$T/demo.log" ]; then
        log "last lines of the demo's output:"
        tail -n 40 "$T/demo.log" >&2
    fi
    rm -rf "$T"
}

kt_case readme_has_two_commands
mapfile -t first < <(readme_block 1)
demo_cmd= check_cmd=
for l in "${first[@]}"; do
    case $l in
    *"make demo"*) demo_cmd=$l ;;
    *"make check"*) check_cmd=$l ;;
    esac
done
if [ ${#first[@]} -ne 2 ] || [ -z "$demo_cmd" ] || [ -z "$check_cmd" ]; then
    kt_fail "README's first block is not one 'make demo' and one 'make check' command: ${first[*]}"
    exit 1
fi
kt_pass
log "demo command: $demo_cmd"

kt_case setup
if [ "$(id -u)" -ne 0 ]; then
    kt_fail "needs root"
    exit 1
fi
T=$(mktemp -d /var/tmp/kkqs-$$-XXXXXX)
kt_cleanup teardown
snapshot "$T/before"
busy=$(cat "$T/before/nft" "$T/before/mounts" "$T/before/links" "$T/before/cgroups" \
    "$T/before/files" "$T/before/runc" "$T/before/ports" | tr '\n' ' ')
if [ -n "${busy// /}" ]; then
    kt_fail "kukeon's default names (or ports 8080/8081) are in use on this host: $busy"
    T_KEEP=$T T=
    rm -rf "$T_KEEP"
    exit 1
fi
# A copy of the tree as checked out (mtimes kept, so make finds this run's
# build up to date), whose build/ is the build under test.
mkdir -p "$T/src"
(cd "$KUKEON_SRC" && git ls-files -z --cached --others --exclude-standard |
    tar --null -T - -cf - 2>/dev/null) | tar -xpf - -C "$T/src"
ln -s "$(cd "$KUKEON_BIN/.." && pwd)" "$T/src/build"
kt_check "copy of the tree incomplete" test -x "$T/src/contrib/demo.sh" -a -x "$T/src/build/bin/kukeond"

kt_case demo_starts
(cd "$T/src" && unset BUILD KUKEON_SRC KUKEON_BIN && exec setsid bash -c "$demo_cmd" >"$T/demo.log" 2>&1 </dev/null) &
DEMO_PID=$!
ready=
for _ in $(seq 1800); do
    demo_alive || break
    ready=1
    for c in "${CELLS[@]}"; do
        grep -q '^  state: Ready' "$STATE/$c/status.yaml" 2>/dev/null || ready=
    done
    [ -n "$ready" ] && break
    sleep 0.1
done
if ! demo_alive; then
    kt_fail "the demo ended: $(tail -5 "$T/demo.log")"
elif [ -z "$ready" ]; then
    kt_fail "cells not Ready after 180 s: $(for c in "${CELLS[@]}"; do
        echo "$c: $(sed -n 's/^  \(state\|reason\): //p' "$STATE/$c/status.yaml" 2>/dev/null | tr '\n' ' ')"
    done)"
else
    kt_pass
fi

kt_case demo_says_what_and_where
missing=
for w in "inbox $INBOX" "state tree $STATE" "run dir $RUN" "nft table inet kukeon" "10.77.0.0/16" \
    "^C stops"; do
    grep -qF -- "$w" "$T/demo.log" || missing="$missing [$w]"
done
kt_check "the demo does not say:$missing" test -z "$missing"

kt_case published_port_answers
body=$(wget -q -T 5 -O - http://127.0.0.1:8080/ 2>&1)
kt_check "http://127.0.0.1:8080/ (web) answered '$body'" test "$body" = ok

kt_case cell_port_answers
ip=$(sed -n 's/^  ip: //p' "$STATE/default/default/default/hello-world/status.yaml" 2>/dev/null | tr -d '"')
body=$(wget -q -T 5 -O - "http://$ip:8080/" 2>&1)
kt_check "http://$ip:8080/ (hello-world) answered '$body'" test "$body" = "hello from kukeon"

kt_case readme_second_block_works
mapfile -t second < <(readme_block 2)
bad=
for l in "${second[@]}"; do
    (cd "$T/src" && timeout 30 bash -c "$l") >"$T/line.out" 2>&1 || bad="$bad [$l: $(tail -2 "$T/line.out")]"
    case $l in
    rm*web-sidecar*)
        for _ in $(seq 300); do [ -e "$STATE/default/default/default/web" ] || break; sleep 0.1; done
        [ -e "$STATE/default/default/default/web" ] && bad="$bad [web not deleted after rm]"
        ;;
    cp*web-sidecar*)
        for _ in $(seq 600); do
            grep -q '^  state: Ready' "$STATE/default/default/default/web/status.yaml" 2>/dev/null && break
            sleep 0.1
        done
        grep -q '^  state: Ready' "$STATE/default/default/default/web/status.yaml" 2>/dev/null ||
            bad="$bad [web not Ready again after cp]"
        ;;
    esac
done
if [ ${#second[@]} -lt 3 ]; then
    kt_fail "README's second block has ${#second[@]} commands"
else
    kt_check "README lines failed:$bad" test -z "$bad"
fi

kt_case ctrl_c_stops_the_demo
kt_check "the demo still runs 120 s after SIGINT" interrupt_demo 120
grep -q "nothing of the demo is left" "$T/demo.log" || kt_fail "no end message: $(tail -3 "$T/demo.log")"
snapshot "$T/after"

for item in nft mounts links addresses routes cgroups files locks runc ports; do
    kt_case "left_$item"
    kt_check "$item differs: $(diff "$T/before/$item" "$T/after/$item" | head -10 | tr '\n' ' ')" \
        cmp -s "$T/before/$item" "$T/after/$item"
done

kt_case containerd_namespaces_removed
missing=
for ns in kukeon-default kukeon-main; do
    grep -q "removed containerd namespace $ns" "$T/demo.log" || missing="$missing $ns"
done
kt_check "not removed:$missing" test -z "$missing"

kt_case containerd_it_started_is_stopped
CTD_PID=$(sed -n 's/.*containerd the demo started (pid \([0-9]*\)).*/\1/p' "$T/demo.log")
if grep -q "containerd: using the one running" "$T/demo.log"; then
    kt_pass # not the demo's to stop
elif [ -z "$CTD_PID" ]; then
    kt_fail "the demo started containerd but does not say it stopped it"
else
    for _ in $(seq 100); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    kt_check "containerd pid $CTD_PID still runs" test ! -d "/proc/$CTD_PID"
fi

exit $KT_FAILED
