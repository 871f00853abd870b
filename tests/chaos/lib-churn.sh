# Helpers of the chaos and soak runs (tests/chaos/chaos.sh,
# tests/soak/soak.sh), on top of tests/e2e/lib-agent.sh and
# tests/e2e/lib-scenarios.sh (sourced first). Sourced; not a test itself.
#
# The churn: a pool of CHURN_CELLS cell names (ch1..chN) in the default
# stack, each a busybox "sleep" under restartPolicy always, created
# (a new inbox file), edited (a new env value: a new container hash, so the
# container is replaced) and deleted (the file removed) at random. The inbox
# is the truth: churn_census compares the host with it, exactly.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

CHURN_CELLS=${CHURN_CELLS:-30}
CHURN_D=default/default/default
CHURN_GEN=0
# Odd-numbered cells publish a host port (nft rules of their own): unique
# to the run, as every host-global name.
CHURN_PORT_BASE=${CHURN_PORT_BASE:-$((40000 + $$ % 500 * 40))}

# churn_manifest NAME GEN: the cell's manifest; GEN is in its env.
churn_manifest() {
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n' "$1"
    printf '  realmId: default\n  spaceId: default\n  stackId: default\n'
    printf '  containers:\n    - id: web\n      image: busybox\n      command: /bin/sleep\n'
    printf '      args: ["1000000"]\n      env: ["GEN=%s"]\n      restartPolicy: always\n' "$2"
    local n=${1#ch}
    case $n in '' | *[!0-9]*) return 0 ;; esac
    [ $((n % 2)) = 1 ] && printf '      ports: ["%d:8080"]\n' $((CHURN_PORT_BASE + n))
    return 0
}

# churn_present: the names of the cells whose file is in the inbox.
churn_present() { (cd "$INBOX" && ls -1 ch*.yaml 2>/dev/null | sed 's/\.yaml$//'); }

# churn_step: one random create, edit or delete (saved the way editors do:
# a temporary file renamed over the old one). Creates are favoured while
# fewer than half the pool exists, deletes once more than 3/4 do.
churn_step() {
    local n=$((RANDOM % CHURN_CELLS + 1)) have
    have=$(churn_present | grep -c .)
    local f=$INBOX/ch$n.yaml
    CHURN_GEN=$((CHURN_GEN + 1))
    if [ ! -e "$f" ]; then
        if [ "$have" -lt $((CHURN_CELLS * 3 / 4)) ] || [ $((RANDOM % 4)) = 0 ]; then
            churn_manifest "ch$n" "$CHURN_GEN" | sc_save "$f"
        fi
    elif [ "$have" -gt $((CHURN_CELLS / 2)) ] && [ $((RANDOM % 2)) = 0 ]; then
        rm -f "$f"
    else
        churn_manifest "ch$n" "$CHURN_GEN" | sc_save "$f"
    fi
}

# churn_gen NAME: the GEN of the cell's inbox file.
churn_gen() { sed -n 's/.*"GEN=\([0-9]*\)".*/\1/p' "$INBOX/$1.yaml" 2>/dev/null; }

# churn_census: prints every difference between the host and the inbox and
# fails if there is one. Checked: the state tree's cell directories; each
# cell Ready, its status pid the RUNNING task of its one container (the
# current GEN), in the cell's cgroup leaf; containerd's containers, tasks,
# active snapshots and leases (every namespace of our containerd); shims;
# netns files and per-cell run files; veths (one per cell) and bridges (the
# default space's one); distinct IPs; nft chains of cells; cgroup
# directories of cells.
churn_census() {
    local out= want got k p t ns c
    want=$(churn_present | sort)
    got=$(cd "$STATE/$CHURN_D" 2>/dev/null && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||' | sort)
    [ "$got" = "$want" ] || out+="tree cells: [$(echo $got)], inbox: [$(echo $want)]"$'\n'
    local ids tasks
    ids=$(sc_ctr -n "$NS_DEFAULT" containers ls -q 2>/dev/null | sort)
    tasks=$(sc_ctr -n "$NS_DEFAULT" tasks ls 2>/dev/null | awk 'NR > 1')
    local want_ids
    want_ids=$(for c in $want; do echo "default_default_${c}_web"; done | sort)
    [ "$ids" = "$want_ids" ] || out+="containers: [$(echo $ids)], want [$(echo $want_ids)]"$'\n'
    got=$(awk '$3 == "RUNNING" {print $1}' <<<"$tasks" | sort)
    [ "$got" = "$want_ids" ] || out+="running tasks: [$(echo $got)]"$'\n'
    got=$(awk 'NF && $3 != "RUNNING" {print $1 "=" $3}' <<<"$tasks")
    [ -z "$got" ] || out+="tasks not running: [$(echo $got)]"$'\n'
    for ns in $(sc_ctr namespaces ls -q 2>/dev/null); do
        got=$(sc_ctr -n "$ns" snapshots ls 2>/dev/null | awk '$3 == "Active" {print $1}' | sort)
        if [ "$ns" = "$NS_DEFAULT" ]; then
            [ "$got" = "$want_ids" ] || out+="active snapshots: [$(echo $got)]"$'\n'
        else
            [ -z "$got" ] || out+="active snapshots in $ns: [$(echo $got)]"$'\n'
            got=$(sc_ctr -n "$ns" containers ls -q 2>/dev/null)
            [ -z "$got" ] || out+="containers in $ns: [$(echo $got)]"$'\n'
        fi
        # runtime/image and runtime/containerd hold a new snapshot with a
        # lease that expires by itself (120 s, 300 s) and is not deleted
        # once the container owns it: only a lease without an expiry is an
        # orphan.
        got=$(sc_ctr -n "$ns" leases ls 2>/dev/null | awk 'NR > 1 && !/containerd.io\/gc.expire=/ {print $1}')
        [ -z "$got" ] || out+="leases without expiry in $ns: [$(echo $got)]"$'\n'
    done
    got=$(sc_shim_pids | grep -c .)
    [ "$got" = "$(grep -c . <<<"$want_ids")" ] || [ -z "$want" -a "$got" = 0 ] ||
        out+="shims: $got"$'\n'
    got=$(ls -1 "$RUN/netns" 2>/dev/null | sort)
    [ "$got" = "$(for c in $want; do echo "default_default_default_$c"; done | sort)" ] ||
        out+="netns: [$(echo $got)]"$'\n'
    got=$(ls -1 "$RUN/cells" 2>/dev/null | sort)
    [ "$got" = "$(for c in $want; do echo "default_default_default_$c"; done | sort)" ] ||
        out+="run/cells: [$(echo $got)]"$'\n'
    local links
    links=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//')
    got=$(grep -c "^$VPFX" <<<"$links")
    [ "$got" = "$(echo $want | wc -w)" ] || out+="veths: $got for $(echo $want | wc -w) cells"$'\n'
    got=$(grep -c "^$BPFX" <<<"$links")
    [ "$got" = 1 ] || out+="bridges: $got"$'\n'
    local ips
    ips=$(for c in $want; do sc_ip "$CHURN_D/$c"; done | grep . | sort)
    [ "$(sort -u <<<"$ips" | grep -c .)" = "$(echo $want | wc -w)" ] ||
        out+="IPs: [$(echo $ips)]"$'\n'
    local table chains
    table=$(nft list table inet "$NFT" 2>/dev/null)
    # A cell has chains only for what it asks (ports, policies): none may
    # name a cell that is not in the inbox.
    chains=$(grep -oE "cell/$CHURN_D/[a-z0-9-]+/" <<<"$table" | cut -d/ -f5 | sort -u)
    got=$(comm -23 <(echo "$chains" | grep .) <(echo "$want" | grep .))
    [ -z "$got" ] || out+="nft chains of cells not in the inbox: [$(echo $got)]"$'\n'
    local h
    for h in /sys/fs/cgroup/*/"$CGROOT/$CHURN_D" /sys/fs/cgroup/"$CGROOT/$CHURN_D"; do
        [ -d "$h" ] || continue
        got=$(cd "$h" && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||' | sort)
        [ -z "$got" ] || [ "$got" = "$want" ] || out+="cgroups in $h: [$(echo $got)]"$'\n'
    done
    for c in $want; do
        k=$CHURN_D/$c
        [ "$(sc_state "$k")" = Ready ] || out+="$(sc_describe "$k")"$'\n'
        p=$(sc_pid "$k")
        t=$(awk -v id="default_default_${c}_web" '$1 == id {print $2}' <<<"$tasks")
        [ -n "$p" ] && [ "$p" = "$t" ] || out+="$k: status pid '$p', task pid '$t'"$'\n'
        [ -n "$p" ] && [ "$(e2e_cgroup_of "$p" 2>/dev/null)" = "/$CGROOT/$k/web_root" ] ||
            out+="$k: pid $p in cgroup '$(e2e_cgroup_of "$p" 2>/dev/null)'"$'\n'
        [ -n "$p" ] && tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "GEN=$(churn_gen "$c")" ||
            out+="$k: task $p does not run GEN=$(churn_gen "$c")"$'\n'
    done
    [ -z "$out" ] && return 0
    printf '%s' "$out"
    return 1
}
