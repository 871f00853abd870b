#!/bin/bash
# End to end (issue 6): a cell whose image is only in a registry comes up
# Ready — kukeond pulls it (through its registries.yaml: the loopback
# registry is plain HTTP) — while a cell naming a tag the registry lacks
# stays Pending/ImagePullBackOff with the registry's word for it, and does
# not hold the first one back. Root only; a docker-registry on 127.0.0.1
# started and stopped by pid; everything cleaned up at exit.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1

kt_case registry_up
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
mkdir -p "$T/reg/data"
cat >"$T/reg/config.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $T/reg/data
http:
  addr: $REG
  secret: kukeon-e2e
YAML
setsid /usr/bin/docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 </dev/null &
REG_PID=$!
kt_cleanup "kill $REG_PID"
for i in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
IMG=$REG/kk/web:1
if curl -fs "http://$REG/v2/" >/dev/null &&
    bash "$KUKEON_SRC/contrib/mkimage/mkimage.sh" --format oci --layers 2 --gzip --name "$IMG" \
        -o "$T/web.tar" >/dev/null 2>&1 &&
    skopeo copy -q --dest-tls-verify=false "oci-archive:$T/web.tar" "docker://$IMG" >"$T/reg/push" 2>&1; then
    kt_pass
else
    kt_fail "registry or push: $(tail -3 "$T/reg/log" "$T/reg/push" 2>/dev/null)"
    exit 1
fi
printf 'registries:\n  - host: %s\n    insecure: true\n' "$REG" >"$T/registries.yaml"

e2e_start_agent --registries-config "$T/registries.yaml" || exit 1

cell_manifest() { # NAME IMAGE
    cat <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: $1
spec:
  containers:
    - id: web
      image: $2
      command: /bin/sh
      args: ["-c", "exec httpd -f -p 8080 -h /www"]
YAML
}

kt_case image_not_in_containerd_before
kt_check "the image is already in containerd" \
    bash -c "! ctr -a '$CTD_SOCK' -n '$NS_DEFAULT' images ls -q | grep -qx '$IMG'"

kt_case missing_tag_fails_with_registry_message
cell_manifest ghost "$REG/kk/web:nope" >"$INBOX/ghost.yaml"
GHOST=default/default/default/ghost
for i in $(seq 300); do
    [ "$(e2e_status_field $GHOST reason)" = ImagePullBackOff ] && break
    sleep 0.1
done
kt_check "ghost: $(e2e_status_field $GHOST state)/$(e2e_status_field $GHOST reason): $(e2e_status_field $GHOST message)" \
    bash -c '[ "$1" = Pending ] && [ "$2" = ImagePullBackOff ] && grep -qi "not found\|unknown" <<<"$3"' _ \
    "$(e2e_status_field $GHOST state)" "$(e2e_status_field $GHOST reason)" "$(e2e_status_field $GHOST message)"

kt_case cell_from_registry_ready
cell_manifest pulled "$IMG" >"$INBOX/pulled.yaml"
CELL=default/default/default/pulled
kt_check "pulled: $(e2e_status_field $CELL reason) $(e2e_status_field $CELL message)" \
    e2e_wait_state $CELL Ready 90

kt_case pulled_image_serves_http
IP=$(e2e_status_field $CELL ip)
body=$(curl -fs -m 5 "http://$IP:8080/" 2>&1)
kt_check "GET http://$IP:8080/ answered '$body'" test -n "$body"

kt_case image_recorded_in_realm_namespace
kt_check "ctr images ls lacks $IMG" \
    bash -c "ctr -a '$CTD_SOCK' -n '$NS_DEFAULT' images ls -q | grep -qx '$IMG'"

kt_case ghost_still_pending
kt_check "ghost is $(e2e_status_field $GHOST state)" test "$(e2e_status_field $GHOST state)" = Pending

rm -f "$INBOX/ghost.yaml" "$INBOX/pulled.yaml"
kt_case removal_leaves_nothing
kt_check "cell directories left" e2e_wait_gone "$STATE/$CELL" 60

e2e_stop_agent
exit $KT_FAILED
