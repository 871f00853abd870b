#!/bin/bash
# Scenario: a manifest edited the way people edit files. Saves that rename
# a temp file over the manifest and saves that write it in place; the
# litter editors leave beside it (a `cp` backup web.yaml~ holding the old
# version, a .swp file, vim's 4913 probe, an emacs #autosave#). Exactly the
# intended resources exist after each step, and saving identical content
# restarts nothing (same task pids).
# Root only; a private containerd and unique host-global names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"

sc_setup || exit 1
sc_start_agent || exit 1

K=default/default/default
WEB=$INBOX/web.yaml
REPORT=$STATE/_inbox/web.yaml.status.yaml
v1() { sc_cell e1 && sc_doc_sep && sc_cell e2; }
v2() { sc_cell e1 && sc_doc_sep && sc_cell e3; }
# The cells in the tree and the containers in containerd, one line each.
cells_in_tree() { (cd "$STATE/$K" && ls -d -- */ 2>/dev/null | tr -d / | tr '\n' ' '); }
containers() { sc_ctr -n $NS_DEFAULT containers ls -q 2>/dev/null | sort | tr '\n' ' '; }
report_says() { [ "$(grep -c "result: $1" "$REPORT" 2>/dev/null)" = "$2" ]; }
# The agent saw an inotify event for NAME (its debug log), counted from
# the line LOG_MARK: a barrier before asserting that nothing happened.
log_mark() { LOG_MARK=$(wc -l <"$T/agent.log"); }
agent_saw() { tail -n +$((LOG_MARK + 1)) "$T/agent.log" | grep -qF -- "$1"; }

kt_case first_save_ready
v1 | sc_save "$WEB"
if sc_wait_for 60 sc_all_ready $K/e1 $K/e2; then
    kt_pass
else
    kt_fail "$(sc_describe $K/e1); $(sc_describe $K/e2)"
fi
PIDS=$(sc_pids $K/e1 $K/e2)
E1=$(sc_pid $K/e1)
VETH_E2=$(sc_host_veth $K/e2)

kt_case identical_rename_save_restarts_nothing
v1 | sc_save "$WEB"
# The report turns from created to unchanged once the agent has read the
# new file: then give a restart every chance to show.
if ! sc_wait_for 10 report_says unchanged 2; then
    kt_fail "report not 'unchanged' twice: $(grep result: "$REPORT" | tr -s ' \n' ' ')"
elif ! sc_still 1 'test "$(sc_pids $K/e1 $K/e2)" = "$PIDS"'; then
    kt_fail "pids changed: $PIDS -> $(sc_pids $K/e1 $K/e2)"
else
    kt_check "not Ready any more" sc_all_ready $K/e1 $K/e2
fi

kt_case identical_in_place_save_restarts_nothing
log_mark
v1 >"$WEB" # truncate and write, as nano or vim with backupcopy=yes
if ! sc_wait_for 10 agent_saw "CLOSE_WRITE,CLOSE web.yaml"; then
    kt_fail "the agent never saw the write (no CLOSE_WRITE in its log)"
elif ! sc_still 1 'test "$(sc_pids $K/e1 $K/e2)" = "$PIDS"'; then
    kt_fail "pids changed: $PIDS -> $(sc_pids $K/e1 $K/e2)"
else
    kt_pass
fi

# Regression test (was a bug, fixed by the inbox removal grace period): vim's save (writebackup, backupcopy=auto on a plain file)
# renames web.yaml to web.yaml~, writes a new web.yaml and removes the
# backup, all within microseconds. When the agent handles the
# MOVED_FROM in that gap, agent/inbox.c agent_reconcile_inbox() finds no file
# and prunes at once (no grace period, no re-check), so the cells are
# deleted and created again: 2 restarts in 10 saves here. Removals
# want a short debounce (re-read the file after ~0.5 s before pruning).
kt_case vim_style_saves_restart_nothing
restarts=0
for _ in $(seq 10); do
    P=$(sc_pids $K/e1 $K/e2)
    python3 - "$WEB" <<'PY'
import os, sys
w = sys.argv[1]
data = open(w).read()
os.rename(w, w + "~")
with open(w, "w") as f:
f.write(data)
os.unlink(w + "~")
PY
    sc_still 1 'test "$(sc_pids $K/e1 $K/e2)" = "$P"' || restarts=$((restarts + 1))
    sc_wait_for 30 sc_all_ready $K/e1 $K/e2
done
kt_check "$restarts of 10 vim-style saves restarted cells" test $restarts = 0
E1=$(sc_pid $K/e1)

kt_case edit_with_backup_and_swap_files
# An editor session: a swap file appears (with a cell of its own), the old
# version is copied to web.yaml~, the new one (e2 dropped, e3 added) is
# saved by rename. Only web.yaml counts.
{ v1 && sc_doc_sep && sc_cell swapped; } >"$INBOX/.web.yaml.swp"
cp "$WEB" "$WEB~"
v2 | sc_save "$WEB"
rm -f "$INBOX/.web.yaml.swp"
if ! sc_wait_for 60 sc_all_ready $K/e3 || ! e2e_wait_gone "$STATE/$K/e2" 30; then
    kt_fail "e3 not Ready or e2 not gone: $(sc_describe $K/e3); e2 dir: $(ls -d "$STATE/$K/e2" 2>&1)"
elif [ "$(cells_in_tree)" != "e1 e3 " ]; then
    kt_fail "cells in the tree: '$(cells_in_tree)', not 'e1 e3'"
elif ! sc_wait_for 20 'test "$(containers)" = "default_default_e1_web default_default_e3_web "'; then
    kt_fail "containerd holds '$(containers)'"
elif [ "$(sc_pid $K/e1)" != "$E1" ]; then
    kt_fail "e1 restarted: $E1 -> $(sc_pid $K/e1)"
else
    kt_pass
fi

kt_case dropped_cell_leaves_nothing
if [ -z "$VETH_E2" ]; then
    kt_fail "e2 had no host veth to follow"
elif ! left=$(SC_GONE_VETHS=$VETH_E2 SC_VETHS_LEFT=2 sc_cleanly_gone 30 $K/e2); then
    kt_fail "e2 left: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

kt_case litter_stays_ignored
# Touching the litter again (the backup still names e2, the probes name
# more cells) must not bring anything back nor restart anything.
PIDS=$(sc_pids $K/e1 $K/e3)
log_mark
v1 >"$WEB~"
sc_cell probe >"$INBOX/4913"
sc_cell autosave >"$INBOX/#web.yaml#"
sc_cell tmp >"$INBOX/web.yaml.tmp"
if ! sc_wait_for 10 agent_saw "#web.yaml#"; then
    kt_fail "the agent never saw the autosave file (not in its log)"
elif ! sc_still 1 'test "$(sc_pids $K/e1 $K/e3)" = "$PIDS" -a "$(cells_in_tree)" = "e1 e3 "'; then
    kt_fail "after the litter: cells '$(cells_in_tree)', pids $PIDS -> $(sc_pids $K/e1 $K/e3)"
elif [ "$(containers)" != "default_default_e1_web default_default_e3_web " ]; then
    kt_fail "containerd holds '$(containers)'"
elif [ "$(ls "$STATE/_inbox")" != web.yaml.status.yaml ]; then
    kt_fail "reports for ignored files: $(ls "$STATE/_inbox" | tr '\n' ' ')"
else
    kt_pass
fi

# Regression test (was: a defined cell stayed deleted; agent/cell.c now re-checks the spec under spec_lock): the file removed,
# then put back while the agent is still deleting the cell (the
# container's stop timeout, 2 s here). agent/cell.c delete_cell() runs
# on the pruned spec, stops the containers, then kk_fs_remove_tree()s
# the cell directory, taking the cell.yaml the inbox wrote again in the
# meantime with it; the report says "created", the cell never comes
# back until the file changes again. Also the mechanism behind the
# vim-style save case above.
kt_case put_back_while_being_deleted
sc_wait_for 30 sc_all_ready $K/e1 $K/e3
OLD=$(sc_pid $K/e1)
rm -f "$WEB"
sc_wait_for 10 test ! -e "$STATE/$K/e1/cell.yaml"
v2 | sc_save "$WEB"
# The status says Ready until the old task is gone (or kept): wait
# past the stop timeout before believing it.
sc_wait_for 5 '! kill -0 $OLD'
spec_back() { [ -e "$STATE/$K/e1/cell.yaml" ] && sc_all_ready $K/e1 $K/e3; }
if ! sc_wait_for 30 spec_back || ! sc_still 1 spec_back; then
    kt_fail "after the file came back: $(sc_describe $K/e1); cell.yaml: $(ls "$STATE/$K/e1/cell.yaml" 2>&1)"
else
    kt_pass
fi

kt_case remove_leaves_nothing
rm -f "$WEB" "$WEB~" "$INBOX/4913" "$INBOX/#web.yaml#" "$INBOX/web.yaml.tmp"
if ! left=$(sc_cleanly_gone 40 $K/e1 $K/e2 $K/e3); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif ! left=$(sc_only_defaults); then
    kt_fail "beyond the defaults: $(tr '\n' ';' <<<"$left")"
elif [ -e "$REPORT" ]; then
    kt_fail "the report of the removed file is still there"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
