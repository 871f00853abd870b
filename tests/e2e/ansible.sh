#!/bin/bash
# End to end: the kukeon_cell Ansible role (contrib/ansible) run for real by
# ansible-playbook against localhost (connection: local), with kukeond on a
# private containerd. present -> the cell is Ready at the applied
# generation; a second run changes nothing; a changed manifest is rolled
# out; an invalid one is refused before the inbox; absent -> the cell's
# directory is gone. Root only; everything is cleaned up at exit.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

if ! command -v ansible-playbook >/dev/null; then
    kt_case setup
    kt_fail "ansible-playbook missing (ansible-core, contrib/debian-packages.txt)"
    exit 1
fi
e2e_setup || exit 1
e2e_start_agent || exit 1

CELL=default/default/default/greeter
mkdir -p "$T/ansible"
cat >"$T/ansible/greeter.yaml.j2" <<'YAML'
apiVersion: v1beta1
kind: Cell
metadata:
  name: greeter
spec:
  containers:
    - id: main
      image: docker.io/library/busybox:latest
      command: /bin/sh
      args: [-c, "echo {{ greeting }}; exec sleep 100000"]
      restartPolicy: always
YAML
cat >"$T/ansible/play.yml" <<'YAML'
- hosts: all
  gather_facts: false
  roles:
    - role: kukeon_cell
      vars:
        kukeon_cell_name: greeter
        kukeon_cell_manifest: "{{ playbook_dir }}/greeter.yaml.j2"
YAML

# play STATE GREETING: runs the role; output in $T/play.out.
play() {
    ANSIBLE_ROLES_PATH=$KUKEON_SRC/contrib/ansible/roles ANSIBLE_NOCOLOR=1 \
        ANSIBLE_LOCAL_TEMP=$T/ansible/tmp ANSIBLE_REMOTE_TEMP=$T/ansible/rtmp \
        ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_HOST_KEY_CHECKING=0 \
        ansible-playbook -i localhost, -c local "$T/ansible/play.yml" \
        -e ansible_python_interpreter=/usr/bin/python3 \
        -e kukeon_cell_state="$1" -e greeting="$2" \
        -e kukeon_inbox="$INBOX" -e kukeon_state_dir="$STATE" \
        -e kukeon_stage_dir="$T/ansible/stage" -e kukeon_kuke="$KUKEON_BIN/kuke" \
        -e kukeon_cell_timeout=90 >"$T/play.out" 2>&1
}
recap() { grep -o "$1=[0-9]*" "$T/play.out" | tail -1 | cut -d= -f2; }
log_of() { cat "$STATE/$CELL/containers/main.log" 2>/dev/null; }

kt_case present_waits_until_ready
e2e_wait_state default/default/default Ready 30
if ! play present hello-1; then
    kt_fail "playbook failed: $(tail -20 "$T/play.out")"
elif [ "$(e2e_status_field $CELL state)" != Ready ]; then
    kt_fail "the play returned before the cell was Ready: $(e2e_status_field $CELL state)"
elif [ "$(recap changed)" = 0 ]; then
    kt_fail "first run reported no change"
elif [ ! -f "$INBOX/greeter.yaml" ]; then
    kt_fail "no greeter.yaml in the inbox"
else
    kt_pass
fi
PID1=$(e2e_status_field $CELL pid)

kt_case applied_generation_is_observed
# kuke hashes the inbox file itself and waits for that hash as Ready in the
# status; its copy goes to a scratch inbox no agent watches.
GEN=$(e2e_status_field $CELL observedGeneration)
mkdir -p "$T/probe"
probe() {
    "$KUKEON_BIN/kuke" apply -f "$INBOX/greeter.yaml" --inbox --manifests "$T/probe" \
        --state "$STATE" --wait --timeout 5 >/dev/null
}
kt_check "status.yaml's observedGeneration $GEN is not the hash of the inbox file" probe

kt_case second_run_changes_nothing
if ! play present hello-1; then
    kt_fail "playbook failed: $(tail -20 "$T/play.out")"
elif [ "$(recap changed)" != 0 ]; then
    kt_fail "changed=$(recap changed) on an identical run"
elif [ "$(e2e_status_field $CELL pid)" != "$PID1" ]; then
    kt_fail "the container was restarted"
else
    kt_pass
fi

kt_case changed_manifest_rolls_out
if ! play present hello-2; then
    kt_fail "playbook failed: $(tail -20 "$T/play.out")"
elif [ "$(e2e_status_field $CELL state)" != Ready ]; then
    kt_fail "not Ready after the change"
elif [ "$(e2e_status_field $CELL observedGeneration)" = "$GEN" ]; then
    kt_fail "observedGeneration did not move"
elif ! log_of | grep -q hello-2; then
    kt_fail "the new container did not print hello-2: $(log_of | tail -3)"
else
    kt_pass
fi
PID2=$(e2e_status_field $CELL pid)

kt_case invalid_manifest_refused_before_the_inbox
cp "$T/ansible/greeter.yaml.j2" "$T/ansible/good.j2"
sed -i 's/      image:/      imag:/' "$T/ansible/greeter.yaml.j2"
before=$(sha256sum <"$INBOX/greeter.yaml")
play present hello-3
rc=$?
cp "$T/ansible/good.j2" "$T/ansible/greeter.yaml.j2"
if [ "$rc" = 0 ]; then
    kt_fail "the playbook accepted an invalid manifest"
elif [ "$(sha256sum <"$INBOX/greeter.yaml")" != "$before" ]; then
    kt_fail "the inbox file changed"
elif [ "$(e2e_status_field $CELL pid)" != "$PID2" ]; then
    kt_fail "the cell was restarted"
else
    kt_pass
fi

kt_case gather_status_fetches_the_fleet_view
printf '[kukeon]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' \
    >"$T/ansible/inventory"
ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP=$T/ansible/tmp ANSIBLE_REMOTE_TEMP=$T/ansible/rtmp \
    ansible-playbook -i "$T/ansible/inventory" "$KUKEON_SRC/contrib/ansible/gather-status.yml" \
    -e kukeon_become=false -e kukeon_state_dir="$STATE" -e kukeon_status_dest="$T/gathered" \
    -e kukeon_kuke="$KUKEON_BIN/kuke" >"$T/gather.out" 2>&1
rc=$?
if [ "$rc" != 0 ]; then
    kt_fail "gather-status.yml failed: $(tail -20 "$T/gather.out")"
elif ! cmp -s "$T/gathered/localhost/$CELL/status.yaml" "$STATE/$CELL/status.yaml"; then
    kt_fail "the cell's status.yaml was not fetched as it is"
elif [ ! -s "$T/gathered/localhost/_agent/status.yaml" ]; then
    kt_fail "the agent's status.yaml was not fetched"
else
    kt_pass
fi

kt_case absent_waits_until_gone
if ! play absent x; then
    kt_fail "playbook failed: $(tail -20 "$T/play.out")"
elif [ -e "$STATE/$CELL" ]; then
    kt_fail "the play returned with the cell directory still there"
elif [ -e "$INBOX/greeter.yaml" ]; then
    kt_fail "inbox file still there"
elif ctr -a "$CTD_SOCK" -n kukeon-default containers ls -q | grep -q greeter; then
    kt_fail "containerd still has the container"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
