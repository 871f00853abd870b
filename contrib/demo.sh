#!/bin/bash
# make demo: kukeond in the foreground with the example manifests.
#
# On a host prepared by contrib/setup.sh, as root:
#   1. uses the system containerd if its socket answers, else starts one
#      (systemctl when systemd runs, else `containerd &` logging to
#      /var/log/kukeon-demo-containerd.log);
#   2. builds the busybox test image offline (contrib/mkimage) and loads it
#      with `kuke image load` into the realms the examples use;
#   3. runs build/bin/kukeond with --manifests examples/manifests (state in
#      /opt/kukeon). Watch the cells come up in another terminal:
#        cat /opt/kukeon/default/default/default/hello-world/status.yaml
#        build/bin/kuke get cells
#      ^C stops the agent; the cells keep running (rm a manifest to delete
#      its cells, or run the agent again to pick them up).
#
# Environment: BUILD (default build), MANIFESTS (default examples/manifests),
# STATE (default /opt/kukeon), CONTAINERD_ADDRESS. Arguments are passed on to
# kukeond (e.g. --log-level debug, or other host-global names).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MANIFESTS=${MANIFESTS:-$PWD/examples/manifests}
STATE=${STATE:-/opt/kukeon}
SOCK=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
REALMS=(default main) # the realms of examples/manifests

say() { echo "demo: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "run as root (kukeond manages cgroups, network namespaces and nftables)"
    exit 1
fi
for b in kukeond kuke; do
    if [ ! -x "$BUILD/bin/$b" ]; then
        say "$BUILD/bin/$b missing: run make first (or contrib/setup.sh)"
        exit 1
    fi
done

ctd_up() { ctr -a "$SOCK" version >/dev/null 2>&1; }
if ctd_up; then
    say "using the containerd at $SOCK"
else
    if [ -d /run/systemd/system ] && systemctl list-unit-files containerd.service >/dev/null 2>&1; then
        say "starting containerd (systemctl start containerd)"
        systemctl start containerd
    else
        say "starting containerd in the background (log: /var/log/kukeon-demo-containerd.log)"
        containerd >>/var/log/kukeon-demo-containerd.log 2>&1 </dev/null &
    fi
    for _ in $(seq 100); do ctd_up && break; sleep 0.2; done
    if ! ctd_up; then
        say "containerd did not come up at $SOCK"
        exit 1
    fi
fi

image=/var/tmp/kukeon-demo-busybox.tar
say "building the busybox image offline -> $image"
bash contrib/mkimage/mkimage.sh -o "$image"
for realm in "${REALMS[@]}"; do
    say "loading it into realm $realm"
    "$BUILD/bin/kuke" image load --containerd-address "$SOCK" --realm "$realm" "$image"
done
# The standalone-container example mounts /srv/html read-only.
mkdir -p /srv/html

say "kukeond --manifests $MANIFESTS --state $STATE (^C to stop; cells keep running)"
exec "$BUILD/bin/kukeond" --manifests "$MANIFESTS" --state "$STATE" --containerd-address "$SOCK" "$@"
