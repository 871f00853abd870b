#!/bin/bash
# kuke reads kukeond's configuration (--config FILE, $KUKEON_CONFIG, else
# /etc/kukeon/kukeond.yaml) for every setting the two share; the
# environment and flags override it. No root: containerd is a socket that
# hangs up on every call, which is enough to see which namespace a request
# was for.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d /tmp/kk-config-XXXXXX)
kt_cleanup "rm -rf '$T'"
unset KUKEON_STATE KUKEON_MANIFESTS KUKEON_CONTAINERD_ADDRESS KUKEON_CONFIG
export KUKEON_REGISTRIES_CONFIG=$T/none.yaml
P="kkcfg$$-" # a namespace prefix of this run

# A "containerd" that accepts and hangs up: each call fails with a message
# naming what it was for. It says "ready" once listening (no sleeps).
mkfifo "$T/ready"
python3 - "$T/hup.sock" >"$T/ready" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
print("ready", flush=True)
sys.stdout.close()
while True:
    s.accept()[0].close()
PY
srv=$!
kt_cleanup "kill $srv"
read -r _ <"$T/ready"

# A one-image OCI archive (an empty layer): enough for kuke image load to
# reach containerd.
python3 - "$T/img.tar" <<'PY'
import gzip, hashlib, io, json, sys, tarfile
blobs = {}
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return {"digest": "sha256:" + d, "size": len(data)}
raw = io.BytesIO()
tarfile.open(fileobj=raw, mode="w").close()
layer = blob(gzip.compress(raw.getvalue()))
cfg = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers",
    "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode())
man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]}).encode())
index = {"schemaVersion": 2, "manifests": [dict(man, mediaType="application/vnd.oci.image.manifest.v1+json",
    platform={"architecture": "amd64", "os": "linux"},
    annotations={"org.opencontainers.image.ref.name": "docker.io/library/empty:latest"})]}
with tarfile.open(sys.argv[1], "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", json.dumps(index).encode())
    for d, data in blobs.items():
        add("blobs/sha256/" + d, data)
PY

cat >"$T/kukeond.yaml" <<YAML
state: $T/cfg-state
manifests: $T/cfg-inbox
containerd-address: $T/hup.sock
namespace-prefix: $P
subnet-pool: 10.66.0.0/24
nft-table: kkcfg_$$
cgroup-root: kkcfg-$$
YAML
mkdir -p "$T/cfg-state" "$T/cfg-inbox" "$T/env-state" "$T/flag-state"

# The issue's bug: the realm's namespace ignored the configured prefix.
kt_case image_load_realm_uses_config_prefix
err=$("$K" image load --config "$T/kukeond.yaml" --realm default "$T/img.tar" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace ${P}default"* ]]'

kt_case image_load_config_from_environment
err=$(KUKEON_CONFIG=$T/kukeond.yaml "$K" image load --realm prod "$T/img.tar" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace ${P}prod"* ]]'

kt_case global_config_option
err=$("$K" --config "$T/kukeond.yaml" image load "$T/img.tar" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace ${P}default"* ]]'

kt_case namespace_prefix_flag_wins
err=$("$K" image load --config "$T/kukeond.yaml" --namespace-prefix other- "$T/img.tar" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace other-default"* ]]'

kt_case image_pull_uses_config_prefix
err=$("$K" image pull --config "$T/kukeond.yaml" busybox 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace ${P}default"* ]]'

# What the agent reported for the realm wins: it is the namespace in use.
kt_case realm_status_namespace_wins
mkdir -p "$T/cfg-state/edge"
printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: edge\nstatus:\n  state: Ready\n  namespace: edge-custom\n' \
    >"$T/cfg-state/edge/status.yaml"
err=$("$K" image load --config "$T/kukeond.yaml" --realm edge "$T/img.tar" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace edge-custom"* ]]'

kt_case without_config_the_default_prefix
err=$(KUKEON_CONFIG=/dev/null "$K" image load -a "$T/hup.sock" "$T/img.tar" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"namespace kukeon-default"* ]]'

kt_case containerd_address_from_config
printf 'containerd-address: %s/gone.sock\n' "$T" >"$T/gone.yaml"
err=$("$K" image ls --config "$T/gone.yaml" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"no containerd socket at $T/gone.sock; is containerd running?"* ]]'

kt_case containerd_address_env_over_config
err=$(KUKEON_CONTAINERD_ADDRESS=$T/env.sock "$K" image ls --config "$T/gone.yaml" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"no containerd socket at $T/env.sock"* ]]'

# The state tree: flag, else environment, else config.
cell() { echo "$1/default/default/default/$2/cell.yaml"; }
kt_case state_dir_from_config
out=$("$K" create cell a --config "$T/kukeond.yaml" 2>&1)
kt_check "$out" test -f "$(cell "$T/cfg-state" a)"

kt_case state_dir_env_over_config
out=$(KUKEON_STATE=$T/env-state "$K" --config "$T/kukeond.yaml" create cell b 2>&1)
kt_check "$out" eval '[ -f "$(cell "$T/env-state" b)" ] && [ ! -e "$(cell "$T/cfg-state" b)" ]'

kt_case state_flag_over_config_either_order
out=$("$K" create cell c --state "$T/flag-state" --config "$T/kukeond.yaml" 2>&1 &&
    "$K" create cell d --config "$T/kukeond.yaml" --state "$T/flag-state" 2>&1)
kt_check "$out" eval '[ -f "$(cell "$T/flag-state" c)" ] && [ -f "$(cell "$T/flag-state" d)" ]'

kt_case inbox_from_config
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: e\nspec:\n  containers:\n    - id: e\n      image: busybox\n' >"$T/e.yaml"
out=$("$K" apply --config "$T/kukeond.yaml" --inbox -f "$T/e.yaml" 2>&1)
kt_check "$out" test -f "$T/cfg-inbox/e.yaml"

# A broken configuration is an error, never silently the defaults.
kt_case unknown_setting_fails
printf 'state: %s/cfg-state\nstat: /x\n' "$T" >"$T/typo.yaml"
err=$("$K" get cells --config "$T/typo.yaml" 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"$T/typo.yaml:2:1"*"unknown setting"* ]]'

kt_case missing_named_config_fails
err=$(KUKEON_CONFIG=$T/nope.yaml "$K" get cells 2>&1); rc=$?
kt_check "rc=$rc: $err" eval '[ $rc -eq 1 ] && [[ $err == *"$T/nope.yaml"* ]]'

kt_case doctor_reads_config
"$K" doctor --config "$T/kukeond.yaml" --containerd-address "$T/gone.sock" --proc-sys "$T/nosys" >"$T/doctor.out" 2>&1
out=$(cat "$T/doctor.out")
kt_check "$out" eval 'grep -q "in 10.66.0.0/24" "$T/doctor.out" &&
    grep -Eq "^info +config +$T/kukeond.yaml" "$T/doctor.out" &&
    grep -q "kkcfg-$$ not created yet" "$T/doctor.out" &&
    grep -q "no kukeond has reported in $T/cfg-state" "$T/doctor.out"'

kt_case doctor_flags_over_config
"$K" doctor --config "$T/kukeond.yaml" --containerd-address "$T/gone.sock" --subnet-pool 10.55.0.0/24 --cgroup-root kkflag-$$ \
    --proc-sys "$T/nosys" >"$T/doctor.out" 2>&1
kt_check "$(cat "$T/doctor.out")" eval 'grep -q "in 10.55.0.0/24" "$T/doctor.out" &&
    grep -q "kkflag-$$ not created yet" "$T/doctor.out"'

exit $KT_FAILED
