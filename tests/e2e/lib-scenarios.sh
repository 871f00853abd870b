# Helpers of the scenario tests (tests/e2e/scenario-*.sh), on top of
# tests/e2e/lib-agent.sh (sourced first: it provides T, INBOX, STATE, RUN,
# CGROOT, BPFX, VPFX, NFT, CTD_SOCK, CTD_PID, AGENT_PID and e2e_*).
# Sourced; not a test itself (prints nothing and exits 0 when run alone).
#
# Conventions: every wait is a bounded poll (sc_wait_for), never a fixed
# sleep; every check that can find something wrong prints it on stdout and
# returns non-zero, so a case reads `out=$(sc_check ...) || kt_fail "$out"`.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

# sc_run CMD...: runs CMD; a single argument is shell code, evaluated
# anew on each call. So a condition over changing values is passed in
# single quotes ('test "$(sc_pid k)" = 42'): with double quotes, or as
# separate words, its $(...) would be expanded once, by the caller.
sc_run() {
    if [ $# -eq 1 ]; then eval "$1"; else "$@"; fi
}

# sc_wait_for TIMEOUT_S CMD...: polls CMD (see sc_run) every 50 ms until it
# succeeds (0) or TIMEOUT_S seconds have passed (1). Output discarded.
sc_wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    while :; do
        sc_run "$@" >/dev/null 2>&1 && return 0
        [ "$SECONDS" -ge "$deadline" ] && break
        sleep 0.05
    done
    sc_run "$@" >/dev/null 2>&1
}

# sc_still TIMEOUT_S CMD...: CMD (see sc_run) keeps succeeding for
# TIMEOUT_S seconds, polled every 100 ms; 1 at its first failure. For
# "nothing happens" assertions, where only time can tell.
sc_still() {
    local deadline=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        sc_run "$@" >/dev/null 2>&1 || return 1
        sleep 0.1
    done
}

# ---- setup --------------------------------------------------------------

# lib-agent.sh runs the realms under a containerd namespace prefix unique to
# the run (NSP; NS_DEFAULT is the default realm's namespace, where it loads
# the image): the shims keep runc state in the host-global
# /run/containerd/runc/<namespace>/<id>, so runs sharing kukeon-default
# would drive each other's containers.
sc_setup() { e2e_setup; }
sc_start_agent() { e2e_start_agent "$@"; }
# sc_import_image NS: the test image into containerd namespace NS too (the
# namespace of a realm other than default).
sc_import_image() {
    kt_case "image_in_$1"
    if sc_ctr -n "$1" images import "$T/busybox.tar" >/dev/null 2>&1; then
        kt_pass
    else
        kt_fail "busybox not imported into $1"
        return 1
    fi
}

# ---- manifests ----------------------------------------------------------

# The page every test cell serves: its own name, so an answer says who
# answered.
SC_HTTPD='mkdir -p /w && echo hi-from-$(hostname) > /w/index.html && exec httpd -f -p 8080 -h /w'

sc_realm() { printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: %s\n' "$1"; }
# sc_space NAME [REALM]
sc_space() {
    printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: %s\nspec:\n  realmId: %s\n' \
        "$1" "${2:-default}"
}
# sc_stack NAME SPACE [REALM]
sc_stack() {
    printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: %s\nspec:\n  realmId: %s\n  spaceId: %s\n' \
        "$1" "${3:-default}" "$2"
}
# sc_cell NAME [SPACE [STACK [REALM [PORT...]]]]: an httpd cell (restart
# policy always) serving "hi-from-NAME" on :8080; each PORT is a ports:
# entry such as "18080:8080".
sc_cell() {
    local name=$1 space=${2:-default} stack=${3:-default} realm=${4:-default}
    shift $(($# < 4 ? $# : 4))
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n' "$name"
    printf '  realmId: %s\n  spaceId: %s\n  stackId: %s\n' "$realm" "$space" "$stack"
    printf '  containers:\n    - id: web\n      image: busybox\n      command: /bin/sh\n'
    printf '      args: ["-c", "%s"]\n      restartPolicy: always\n' "$SC_HTTPD"
    if [ $# -gt 0 ]; then
        printf '      ports:\n'
        local p
        for p in "$@"; do printf '        - "%s"\n' "$p"; done
    fi
}
sc_doc_sep() { printf -- '---\n'; }

# sc_save FILE: stdin written the way editors and config tools do: a temp
# file in the same directory, renamed over FILE (IN_MOVED_TO).
sc_save() {
    local tmp
    tmp=$(dirname "$1")/.$(basename "$1").sc-tmp.$$
    cat >"$tmp" && mv -f "$tmp" "$1"
}

# ---- observation --------------------------------------------------------

sc_state() { e2e_status_field "$1" state; }
sc_pid() { e2e_status_field "$1" pid; }
sc_ip() { e2e_status_field "$1" ip; }
sc_netns() { # KEY (realm/space/stack/cell) -> its netns path
    echo "$RUN/netns/$(tr / _ <<<"$1")"
}
sc_is_ready() { [ "$(sc_state "$1")" = Ready ]; }
# sc_all_ready KEY...: every KEY is Ready with a live pid in status.yaml.
sc_all_ready() {
    local k p
    for k in "$@"; do
        sc_is_ready "$k" || return 1
        p=$(sc_pid "$k")
        [ -n "$p" ] && [ "$p" != 0 ] && [ -d "/proc/$p" ] || return 1
    done
}
# sc_all_in STATE KEY...: every KEY (of any kind) is in STATE.
sc_all_in() {
    local want=$1 k
    shift
    for k in "$@"; do [ "$(sc_state "$k")" = "$want" ] || return 1; done
}
# sc_describe KEY: one line for failure messages.
sc_describe() {
    echo "$1: state=$(sc_state "$1") reason=$(e2e_status_field "$1" reason)" \
        "message=$(e2e_status_field "$1" message) pid=$(sc_pid "$1")"
}
# sc_pids KEY...: "key=pid" words, to compare before/after.
sc_pids() {
    local k
    for k in "$@"; do printf '%s=%s ' "$k" "$(sc_pid "$k")"; done
}

sc_ctr() { ctr -a "$CTD_SOCK" "$@"; }
# sc_ctr_count NS: containers in containerd namespace NS.
sc_ctr_count() { sc_ctr -n "$1" containers ls -q 2>/dev/null | grep -c .; }
sc_running_count() { sc_ctr -n "$1" tasks ls 2>/dev/null | grep -c ' RUNNING'; }

# sc_http URL [NETNS_PATH]: the body at URL, from the host or from inside
# the network namespace NETNS_PATH, within 3 s. One try (-t 1): GNU wget
# otherwise retries a dropped connect 20 times, minutes for one negative
# check; timeout(1) bounds the rest.
sc_http() {
    if [ -n "${2:-}" ]; then
        timeout -k 1 3 nsenter --net="$2" wget -q -T 2 -t 1 -O - "$1" 2>/dev/null
    else
        timeout -k 1 3 wget -q -T 2 -t 1 -O - "$1" 2>/dev/null
    fi
}
# sc_http_is BODY URL [NETNS]: for sc_wait_for.
sc_http_is() { [ "$(sc_http "$2" "${3:-}")" = "$1" ]; }

# The host's first global IPv4 address that is not on one of our bridges.
sc_host_ip() {
    ip -o -4 addr show scope global | awk -v b="$BPFX" 'index($2, b) != 1 {print $4; exit}' |
        cut -d/ -f1
}

# ---- leftovers ----------------------------------------------------------

# sc_host_veth CELLKEY: the host end of the cell's veth pair (found from
# inside the cell's netns: the peer index of its one non-loopback link).
sc_host_veth() {
    local idx
    idx=$(nsenter --net="$(sc_netns "$1")" ip -o link show 2>/dev/null |
        sed -n 's/^[0-9]*: [^:]*@if\([0-9]*\):.*/\1/p' | head -1)
    [ -n "$idx" ] && ip -o link show | awk -F': ' -v i="$idx" '$1 == i {sub(/@.*/, "", $2); print $2}'
}

# sc_leftovers CELLKEY...: prints one line per trace the given cells (and
# the spaces/stacks/realms named in SC_GONE_PARENTS, keys like
# "default/blue") left on the host, and fails if there is any:
# containerd containers (every namespace of our containerd), netns files,
# per-cell run files, state tree directories, cgroup directories in every
# mounted hierarchy; the veths named in SC_GONE_VETHS (see sc_host_veth),
# and any veth beyond SC_VETHS_LEFT (default 0: cells still running have
# one each); bridges beyond SC_BRIDGES_LEFT (default 1: the default
# space's); nft chains/rules naming the keys, their IPs (SC_GONE_IPS) or
# published ports (SC_GONE_PORTS).
sc_leftovers() {
    local out= k ns id cg d table n
    for ns in $(sc_ctr namespaces ls -q 2>/dev/null); do
        for k in "$@"; do
            IFS=/ read -r _ sp st ce <<<"$k"
            for id in $(sc_ctr -n "$ns" containers ls -q 2>/dev/null | grep "^${sp}_${st}_${ce}_"); do
                out+="containerd container $ns/$id"$'\n'
            done
        done
    done
    for k in "$@"; do
        [ -e "$(sc_netns "$k")" ] && out+="netns $(sc_netns "$k")"$'\n'
        [ -e "$RUN/cells/$(tr / _ <<<"$k")" ] && out+="run files $RUN/cells/$(tr / _ <<<"$k")"$'\n'
        [ -e "$STATE/$k" ] && out+="state dir $STATE/$k"$'\n'
        for cg in /sys/fs/cgroup/*/"$CGROOT/$k" /sys/fs/cgroup/"$CGROOT/$k"; do
            [ -d "$cg" ] && out+="cgroup $cg"$'\n'
        done
    done
    for k in ${SC_GONE_PARENTS:-}; do
        [ -e "$STATE/$k" ] && out+="state dir $STATE/$k"$'\n'
        for cg in /sys/fs/cgroup/*/"$CGROOT/$k" /sys/fs/cgroup/"$CGROOT/$k"; do
            [ -d "$cg" ] && out+="cgroup $cg"$'\n'
        done
    done
    local links
    links=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//')
    n=$(grep -c "^$VPFX" <<<"$links")
    [ "$n" -ne "${SC_VETHS_LEFT:-0}" ] &&
        out+="veths: $n, not ${SC_VETHS_LEFT:-0}: $(grep "^$VPFX" <<<"$links" | tr '\n' ' ')"$'\n'
    for d in ${SC_GONE_VETHS:-}; do
        grep -qx -- "$d" <<<"$links" && out+="veth $d"$'\n'
    done
    n=$(grep -c "^$BPFX" <<<"$links")
    [ "$n" -ne "${SC_BRIDGES_LEFT:-1}" ] &&
        out+="bridges: $n, not ${SC_BRIDGES_LEFT:-1}: $(grep "^$BPFX" <<<"$links" | tr '\n' ' ')"$'\n'
    table=$(nft list table inet "$NFT" 2>/dev/null)
    for k in "$@" ${SC_GONE_PARENTS:-}; do
        # Chains are named kind/KEY/role: KEY between name boundaries, so
        # realm "late" does not match "related".
        local re="(^|[^a-z0-9-])${k}(/|[^a-z0-9-]|\$)"
        grep -qE -- "$re" <<<"$table" && out+="nft: $(grep -E -- "$re" <<<"$table" | head -3 | tr -s ' \t' ' ')"$'\n'
    done
    for d in ${SC_GONE_IPS:-} ${SC_GONE_PORTS:-}; do
        grep -qwF -- "$d" <<<"$table" && out+="nft mentions $d: $(grep -wF -- "$d" <<<"$table" | head -2 | tr -s ' \t' ' ')"$'\n'
    done
    [ -z "$out" ] && return 0
    printf '%s' "$out"
    return 1
}

# sc_cleanly_gone TIMEOUT_S CELLKEY...: waits for sc_leftovers to find
# nothing; on timeout prints what is left and fails.
sc_cleanly_gone() {
    local t=$1
    shift
    sc_wait_for "$t" sc_leftovers "$@" && return 0
    sc_leftovers "$@"
}

# sc_only_defaults: after every manifest is gone, the state tree and the
# cgroup tree hold exactly the default realm, space and stack (the agent
# keeps them, like `kuke init`), the netns and per-cell run directories are
# empty, and containerd has no container left in any namespace. Prints what
# differs and fails.
sc_only_defaults() {
    local want out= got h ns
    want=$(printf '%s\n' default default/default default/default/default)
    got=$(cd "$STATE" && find . -mindepth 1 -type d -not -path './_*' | sed 's|^\./||' | sort)
    [ "$got" = "$want" ] || out+="state tree dirs: $(tr '\n' ' ' <<<"$got")"$'\n'
    for h in /sys/fs/cgroup/*/"$CGROOT" /sys/fs/cgroup/"$CGROOT"; do
        [ -d "$h" ] || continue
        got=$(cd "$h" && find . -mindepth 1 -type d | sed 's|^\./||' | sort)
        # A hierarchy the agent does not populate below its root is fine.
        [ -z "$got" ] || [ "$got" = "$want" ] || out+="cgroup dirs in $h: $(tr '\n' ' ' <<<"$got")"$'\n'
    done
    [ -z "$(ls -A "$RUN/netns" 2>/dev/null)" ] || out+="netns: $(ls "$RUN/netns" | tr '\n' ' ')"$'\n'
    [ -z "$(ls -A "$RUN/cells" 2>/dev/null)" ] || out+="run/cells: $(ls "$RUN/cells" | tr '\n' ' ')"$'\n'
    for ns in $(sc_ctr namespaces ls -q 2>/dev/null); do
        got=$(sc_ctr -n "$ns" containers ls -q 2>/dev/null | tr '\n' ' ')
        [ -z "$got" ] || out+="containerd $ns: $got"$'\n'
        # A container's rootfs is an Active snapshot; image layers are
        # Committed ones and stay.
        got=$(sc_ctr -n "$ns" snapshots ls 2>/dev/null | awk '$3 == "Active" {print $1}' | tr '\n' ' ')
        [ -z "$got" ] || out+="active snapshots in $ns: $got"$'\n'
        # The shims' runc state of this run's namespaces (kukeon-default,
        # where lib-agent.sh loads the image, is shared with other runs).
        case $ns in "$NSP"*) ;; *) continue ;; esac
        got=$(ls -A "/run/containerd/runc/$ns" 2>/dev/null | tr '\n' ' ')
        [ -z "$got" ] || out+="runc state in /run/containerd/runc/$ns: $got"$'\n'
    done
    [ -z "$out" ] && return 0
    printf '%s' "$out"
    return 1
}

# ---- containerd under the agent -----------------------------------------

# sc_containerd_stop [KILL]: stops our private containerd (SIGTERM, or
# SIGKILL with KILL) by its pid and waits for it to be gone. Its shims and
# tasks live on, as they do when a real containerd restarts.
sc_containerd_stop() {
    kill -"${1:-TERM}" "$CTD_PID" 2>/dev/null
    local i
    for i in $(seq 100); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$CTD_PID" 2>/dev/null
    { wait "$CTD_PID"; } 2>/dev/null
}
# sc_containerd_start: the same containerd again (same config, socket,
# root and state, as lib-agent.sh started it); CTD_PID follows, so the
# teardown stops this one.
sc_containerd_start() {
    setsid containerd --config "$T/ctd/config.toml" >>"$T/ctd/containerd.log" 2>&1 </dev/null &
    CTD_PID=$!
    sc_wait_for 20 sc_ctr version
}
# sc_shim_pids: the runc shims of our containerd (their command line holds
# its socket); processes this test started through it.
sc_shim_pids() {
    ps -eo pid=,args= | grep -F -- "$CTD_SOCK" | awk '$2 ~ /containerd-shim/ {print $1}'
}

# ---- watching status files ----------------------------------------------

# sc_watch_status_start OUT: from now on, every status.yaml the agent puts
# in place under $STATE (an atomic rename: IN_MOVED_TO) is read at once and
# recorded in OUT as "KEY STATE" (KEY relative to $STATE; the agent's own
# _agent/ and _inbox/ files are left out). The read uses shell builtins
# only, so it follows the rename within a millisecond or so: a state that
# stays on disk for 100 ms cannot be missed. The watcher is inotifywait(1)
# on a FIFO, ended by its pid (sc_watch_status_stop).
sc_watch_status_start() {
    local out=$1 fifo=$T/watch.fifo.$$ i
    [ -n "${SC_WATCH_CLEANUP:-}" ] || kt_cleanup sc_watch_status_stop
    SC_WATCH_CLEANUP=1
    : >"$out"
    rm -f "$fifo" "$T/watch.err"
    mkfifo "$fifo"
    (
        while IFS= read -r f; do
            case $f in "$STATE"/_*) continue ;; */status.yaml) ;; *) continue ;; esac
            s=
            while IFS= read -r line; do
                case $line in "  state: "*)
                    s=${line#  state: }
                    break
                    ;;
                esac
            done <"$f"
            k=${f#"$STATE"/}
            printf '%s %s\n' "${k%/status.yaml}" "${s:-?}"
        done <"$fifo" >"$out"
    ) &
    SC_WATCH_READER=$!
    inotifywait -m -r -e moved_to -e close_write --format '%w%f' "$STATE" \
        >"$fifo" 2>"$T/watch.err" </dev/null &
    SC_WATCH_PID=$!
    # Watches on every directory of the tree before anything may change.
    for i in $(seq 200); do
        grep -q 'Watches established' "$T/watch.err" 2>/dev/null && return 0
        kill -0 "$SC_WATCH_PID" 2>/dev/null || break
        sleep 0.02
    done
    sc_watch_status_stop
    return 1
}

# sc_watch_status_stop: ends the watcher started above (by its pid) and
# waits for its reader to have written everything.
sc_watch_status_stop() {
    [ -n "${SC_WATCH_PID:-}" ] && kill "$SC_WATCH_PID" 2>/dev/null
    [ -n "${SC_WATCH_PID:-}" ] && { wait "$SC_WATCH_PID"; } 2>/dev/null
    [ -n "${SC_WATCH_READER:-}" ] && { wait "$SC_WATCH_READER"; } 2>/dev/null
    SC_WATCH_PID= SC_WATCH_READER=
    rm -f "$T/watch.fifo.$$"
}
