#!/bin/bash
# make demo: kukeond in the foreground with the example manifests, under
# the default names of an installed agent, and nothing left when it ends.
#
# As root, on a host prepared by contrib/setup.sh:
#   1. uses the containerd at /run/containerd/containerd.sock if it answers,
#      else starts one (systemctl when systemd runs, else `containerd` in a
#      session of its own, so that ^C reaches the demo and not containerd);
#   2. builds the busybox test image offline (contrib/mkimage) and loads it
#      with `kuke image load` into the realms the examples use;
#   3. copies examples/manifests/*.yaml into the inbox /etc/kukeon/manifests
#      and runs build/bin/kukeond with the built-in defaults (state
#      /opt/kukeon, run dir /run/kukeon, cgroup kukeon, bridges kkb*, veths
#      kkv*, nft table inet kukeon, subnet pool 10.77.0.0/16, containerd
#      namespaces kukeon-*), printing all of it first;
#   4. on ^C (or SIGTERM): stops the agent, runs `kukeond --uninstall
#      --purge-state` with the same names (containers, images, namespaces,
#      links, nft table, netns mounts, cgroups, run dir, state tree, inbox),
#      removes what it made itself (/srv/html, /etc/kukeon if it was not
#      there, its temporary directory) and stops the containerd it started.
#
# It refuses to start when something already uses those names (an installed
# kukeon, or an earlier demo killed with SIGKILL), since the end of the demo
# removes everything they name: `kukeond --uninstall --dry-run` shows it.
#
# Environment: BUILD (default build). Arguments (make demo DEMO_ARGS="...")
# are passed on to kukeond, e.g. --log-level debug.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SRC=$PWD
SOCK=/run/containerd/containerd.sock
INBOX=/etc/kukeon/manifests
STATE=/opt/kukeon
RUN=/run/kukeon
REALMS=(default main) # the realms of examples/manifests
KUKEOND=$SRC/$BUILD/bin/kukeond
KUKE=$SRC/$BUILD/bin/kuke
# The names below are the built-in defaults; no kukeond.yaml is read.
NAMES=(--config /dev/null)

say() { echo "demo: $*" >&2; }
die() {
    say "$*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (kukeond manages cgroups, network namespaces and nftables)"
for b in "$KUKEOND" "$KUKE"; do
    [ -x "$b" ] || die "$b missing: run make first (or contrib/setup.sh)"
done
for p in "$STATE" "$RUN"; do
    [ -e "$p" ] && die "$p exists: a kukeon (installed, or an earlier demo) uses the default names," \
        "and the demo removes everything they name when it ends. See what is there with" \
        "'$KUKEOND --uninstall --dry-run --config /dev/null' and clear it with" \
        "'$KUKEOND --uninstall --purge-state --config /dev/null', then run the demo again."
done
if [ -d "$INBOX" ] && [ -n "$(ls -A "$INBOX")" ]; then
    die "$INBOX is not empty: the demo would delete those manifests when it ends"
fi

TMP=$(mktemp -d /var/tmp/kukeon-demo.XXXXXX)
CTD_PID= CTD_UNIT= AGENT_PID= MADE_ETC= MADE_SRV= OURS=
[ -e /etc/kukeon ] || MADE_ETC=1
HAD_INBOX=
[ -d "$INBOX" ] && HAD_INBOX=1 # `make install` made it: it stays
[ -e /srv/html ] || MADE_SRV=1

cleanup() {
    trap '' INT TERM # a second ^C must not cut the cleanup short
    say "stopping: kukeond, then removing everything it made (kukeond --uninstall --purge-state)"
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
    fi
    # Only once the default names were seen free: what was there before
    # the demo is someone else's.
    [ -n "$OURS" ] && "$KUKEOND" --uninstall --purge-state "${NAMES[@]}" | sed 's/^/demo:   /' >&2
    [ -n "$MADE_SRV" ] && rmdir /srv/html 2>/dev/null
    [ -n "$MADE_ETC" ] && rm -rf /etc/kukeon
    [ -n "$HAD_INBOX" ] && mkdir -p "$INBOX"
    if [ -n "$CTD_PID" ]; then
        say "stopping the containerd the demo started (pid $CTD_PID)"
        kill -TERM "$CTD_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    elif [ -n "$CTD_UNIT" ]; then
        say "stopping containerd (systemctl stop containerd: the demo started it)"
        systemctl stop containerd
    fi
    rm -rf "$TMP"
    say "done: nothing of the demo is left"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ctd_up() { ctr -a "$SOCK" version >/dev/null 2>&1; }
if ctd_up; then
    say "containerd: using the one running at $SOCK"
else
    if [ -d /run/systemd/system ] && systemctl list-unit-files containerd.service >/dev/null 2>&1; then
        say "containerd: starting it (systemctl start containerd); ^C stops it again"
        systemctl start containerd && CTD_UNIT=1
    else
        say "containerd: starting it at $SOCK (log: $TMP/containerd.log); ^C stops it again"
        setsid containerd >>"$TMP/containerd.log" 2>&1 </dev/null &
        CTD_PID=$!
    fi
    for _ in $(seq 100); do ctd_up && break; sleep 0.2; done
    ctd_up || die "containerd did not come up at $SOCK${CTD_PID:+: $(tail -5 "$TMP/containerd.log")}"
fi

# Nothing may use the default names yet (an agent with another state tree
# has the same nft table, links, cgroup and namespaces): the demo removes
# all they name when it ends.
inuse=$("$KUKEOND" --uninstall --dry-run "${NAMES[@]}" 2>&1 | grep -e '^would remove' -e '^failed')
[ -z "$inuse" ] || die "the default names are in use; the demo would remove these when it ends:" \
    "$(printf '\n%s' "$inuse")"
OURS=1

image=$TMP/busybox.tar
say "image: building busybox offline ($image), loading it into realms ${REALMS[*]}"
bash contrib/mkimage/mkimage.sh -o "$image" >/dev/null || die "mkimage failed"
for realm in "${REALMS[@]}"; do
    "$KUKE" --config /dev/null image load --containerd-address "$SOCK" --realm "$realm" "$image" >/dev/null ||
        die "kuke image load into realm $realm failed"
done
# The standalone-container example mounts /srv/html read-only.
mkdir -p /srv/html "$INBOX"
cp examples/manifests/*.yaml "$INBOX/"

cat >&2 <<EOF
demo: kukeond: inbox $INBOX (the examples: $(cd "$INBOX" && echo *.yaml))
demo:          state tree $STATE, run dir $RUN, containerd $SOCK
demo:          cgroups under kukeon/, bridges kkb*, veths kkv*, nft table inet kukeon,
demo:          subnet pool 10.77.0.0/16, containerd namespaces kukeon-default and kukeon-main
demo: in another terminal:
demo:   $KUKE get cells
demo:   cat $STATE/default/default/default/hello-world/status.yaml
demo:   rm $INBOX/web-sidecar.yaml                        # delete a cell
demo:   cp $SRC/examples/manifests/web-sidecar.yaml $INBOX/   # and bring it back
demo: ^C stops the agent and removes everything above.
EOF
"$KUKEOND" "${NAMES[@]}" "$@" &
AGENT_PID=$!
wait "$AGENT_PID"
rc=$?
AGENT_PID=
exit $rc
