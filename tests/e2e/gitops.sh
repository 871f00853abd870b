#!/bin/bash
# End to end: contrib/gitops/kukeon-gitops-pull feeding a running kukeond
# from a local bare git repository. Commit a cell -> it runs; change it ->
# it is updated; renaming its file restarts nothing; a broken commit -> not published, reported, what runs is
# untouched; delete it -> it is pruned. The inbox starts as the plain empty
# directory of a fresh install and becomes the puller's symlink while the
# agent runs. Also `kuke doctor` against this real containerd. Root only.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"

e2e_setup || exit 1
e2e_start_agent || exit 1

export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.invalid
export GIT_CONFIG_NOSYSTEM=1 HOME=$T
git init -q --bare "$T/fleet.git"
git clone -q "$T/fleet.git" "$T/work" 2>/dev/null
HOSTDIR=$T/work/hosts/node1
mkdir -p "$HOSTDIR"
CELL=default/default/default/pinger

cell() { # WORD: a cell printing WORD
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: pinger\nspec:\n  containers:\n    - id: main\n      image: docker.io/library/busybox:latest\n      command: /bin/sh\n      args: [-c, "echo %s; exec sleep 100000"]\n      restartPolicy: always\n' "$1"
}
commit() {
    git -C "$T/work" add -A && git -C "$T/work" commit -q -m "$1" &&
        git -C "$T/work" push -q origin HEAD:main 2>/dev/null
}
pull() {
    "$KUKEON_SRC/contrib/gitops/kukeon-gitops-pull" --repo "$T/fleet.git" --ref main \
        --path hosts/node1 --inbox "$INBOX" --cache "$T/gitops" --kuke "$KUKEON_BIN/kuke" \
        >"$T/pull.out" 2>&1
}
pulled() { sed -n "s/^$1: //p" "$T/gitops/status.yaml" | tr -d '"'; }
wait_log() { # WORD TIMEOUT_S
    local i
    for i in $(seq $(($2 * 10))); do
        grep -q "$1" "$STATE/$CELL/containers/main.log" 2>/dev/null &&
            [ "$(e2e_status_field $CELL state)" = Ready ] && return 0
        sleep 0.1
    done
    return 1
}

kt_case commit_runs
e2e_wait_state default/default/default Ready 30
cell one >"$HOSTDIR/pinger.yaml"
commit "pinger one"
if ! pull; then
    kt_fail "pull: $(cat "$T/pull.out")"
elif [ ! -L "$INBOX" ]; then
    kt_fail "the inbox is not the puller's symlink"
elif ! wait_log one 60; then
    kt_fail "cell not running: $(e2e_status_field $CELL state) $(e2e_status_field $CELL message)"
else
    kt_pass
fi
GEN1=$(e2e_status_field $CELL observedGeneration)

kt_case doctor_sees_containerd_and_agent
# The agent reports itself every few seconds: wait for that report first.
for i in $(seq 100); do [ -s "$STATE/_agent/status.yaml" ] && break; sleep 0.1; done
"$KUKEON_BIN/kuke" doctor --containerd-address "$CTD_SOCK" --state "$STATE" \
    --run-dir "$RUN" --subnet-pool "$POOL" >"$T/doctor.out" 2>&1
kt_check "$(cat "$T/doctor.out")" eval 'grep -Eq "^ok +containerd +1\.[0-9]" "$T/doctor.out" &&
    grep -Eq "^ok +agent +kukeond .*pid $AGENT_PID" "$T/doctor.out"'

kt_case agent_metrics_parse
# The agent's textfile-collector file, as node_exporter would read it: it
# parses as Prometheus text format and, once the agent has rewritten it
# after the cell became Ready (every few seconds), says containerd is up and
# one cell is Ready. Debian's python3 carries prometheus_client.
metrics_ok() {
    /usr/bin/python3 - "$STATE/_agent/metrics.prom" >"$T/metrics.err" 2>&1 <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
values = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        values[(s.name, tuple(sorted(s.labels.items())))] = s.value
assert values[("kukeon_containerd_up", ())] == 1, "containerd not up"
ready = values[("kukeon_resources", (("kind", "Cell"), ("state", "Ready")))]
assert ready >= 1, "no Ready cell counted"
PY
}
for i in $(seq 150); do metrics_ok && break; sleep 0.1; done
kt_check "$(cat "$T/metrics.err")" metrics_ok

kt_case change_updates
cell two >"$HOSTDIR/pinger.yaml"
commit "pinger two"
if ! pull; then
    kt_fail "pull: $(cat "$T/pull.out")"
elif ! wait_log two 60; then
    kt_fail "not updated: $(e2e_status_field $CELL state) $(e2e_status_field $CELL message)"
elif [ "$(e2e_status_field $CELL observedGeneration)" = "$GEN1" ]; then
    kt_fail "observedGeneration did not move"
else
    kt_pass
fi
PID2=$(e2e_status_field $CELL pid)
GEN2=$(e2e_status_field $CELL observedGeneration)

kt_case renamed_file_restarts_nothing
git -C "$T/work" mv hosts/node1/pinger.yaml hosts/node1/renamed.yaml
commit "rename"
if ! pull; then
    kt_fail "pull: $(cat "$T/pull.out")"
else
    sleep 2 # time for a (wrong) restart to show
    if [ "$(e2e_status_field $CELL pid)" != "$PID2" ] || [ "$(e2e_status_field $CELL state)" != Ready ]; then
        kt_fail "renaming the file restarted the cell: pid $PID2 -> $(e2e_status_field $CELL pid)"
    elif ! grep -q "key: $CELL" "$STATE/_inbox/renamed.yaml.status.yaml" 2>/dev/null; then
        kt_fail "renamed.yaml does not own the cell"
    else
        kt_pass
    fi
fi
PUBLISHED=$(readlink "$INBOX")

kt_case broken_commit_leaves_what_runs
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: pinger\nspec:\n  containers:\n    - id: main\n      image: [\n' \
    >"$HOSTDIR/renamed.yaml"
commit "broken"
pull
rc=$?
sleep 2 # give a (wrong) reaction of the agent the time to show
if [ "$rc" != 1 ]; then
    kt_fail "pull exit $rc for a broken commit"
elif [ "$(readlink "$INBOX")" != "$PUBLISHED" ]; then
    kt_fail "a broken commit was published"
elif [ "$(pulled result)" != failed ] || ! pulled message | grep -q "renamed.yaml:[0-9]*:[0-9]*"; then
    kt_fail "not reported: $(cat "$T/gitops/status.yaml")"
elif [ "$(e2e_status_field $CELL pid)" != "$PID2" ] ||
    [ "$(e2e_status_field $CELL observedGeneration)" != "$GEN2" ] ||
    [ "$(e2e_status_field $CELL state)" != Ready ]; then
    kt_fail "what runs changed: pid $PID2 -> $(e2e_status_field $CELL pid)"
else
    kt_pass
fi

kt_case delete_prunes
git -C "$T/work" rm -q hosts/node1/renamed.yaml
mkdir -p "$HOSTDIR" && touch "$HOSTDIR/.keep"
commit "nothing on node1"
if ! pull; then
    kt_fail "pull: $(cat "$T/pull.out")"
elif ! e2e_wait_gone "$STATE/$CELL" 60; then
    kt_fail "cell directory still there"
elif ctr -a "$CTD_SOCK" -n kukeon-default containers ls -q | grep -q pinger; then
    kt_fail "containerd still has the container"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
