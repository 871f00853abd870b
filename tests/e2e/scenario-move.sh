#!/bin/bash
# Scenario: resources change inbox files without changing. A cell moved
# from one file to another (added to the new file, then dropped from the
# old one), a Space moved with cells running in it, an inbox file renamed:
# nothing restarts (same task pids, same bridge), ownership and reports
# follow the files. A file renamed to a name the agent ignores is a
# removal: its resources go, leaving nothing.
# Root only; a private containerd and unique host-global names.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
. "$KUKEON_SRC/tests/e2e/lib-agent.sh"
. "$KUKEON_SRC/tests/e2e/lib-scenarios.sh"

sc_setup || exit 1
sc_start_agent || exit 1

D=default/default/default
M1=$D/m1 M2=$D/m2 M3=$D/m3 G1=default/green/default/g1
ALL="$M1 $M2 $M3 $G1"
source_of() { sed -n 's/^ *kukeon.io\/source: //p' "$STATE/$1/${2:-cell}.yaml" 2>/dev/null | tr -d '"'; }
report() { echo "$STATE/_inbox/$1.status.yaml"; }
# report_keys FILE: the keys its report lists, sorted, on one line.
report_keys() { sed -n 's/^ *- key: //p' "$(report "$1")" 2>/dev/null | tr -d '"' | sort | tr '\n' ' '; }
pids_kept() { [ "$(sc_pids $ALL)" = "$PIDS" ] && sc_all_ready $ALL; }

kt_case files_ready
{ sc_space green && sc_doc_sep && sc_stack default green; } >"$INBOX/net.yaml"
{ sc_cell m1 && sc_doc_sep && sc_cell m2; } >"$INBOX/a.yaml"
{ sc_cell m3 && sc_doc_sep && sc_cell g1 green; } >"$INBOX/b.yaml"
if sc_wait_for 60 sc_all_ready $ALL; then
    kt_pass
else
    kt_fail "$(for k in $ALL; do sc_describe "$k"; done)"
fi
PIDS=$(sc_pids $ALL)
BRIDGE=$(e2e_status_field default/green bridge)

kt_case cell_moved_between_files
{ sc_cell m3 && sc_doc_sep && sc_cell g1 green && sc_doc_sep && sc_cell m2; } | sc_save "$INBOX/b.yaml"
sc_cell m1 | sc_save "$INBOX/a.yaml"
if ! sc_wait_for 10 'test "$(report_keys a.yaml)" = "$M1 "'; then
    kt_fail "a.yaml's report lists '$(report_keys a.yaml)'"
elif ! sc_wait_for 10 'test "$(source_of $M2)" = b.yaml'; then
    kt_fail "m2's source is '$(source_of $M2)', not b.yaml"
elif ! sc_still 1 pids_kept; then
    kt_fail "restarted: $PIDS -> $(sc_pids $ALL)"
elif [ "$(report_keys b.yaml)" != "$(printf '%s\n' $M2 $M3 $G1 | sort | tr '\n' ' ')" ]; then
    kt_fail "b.yaml's report lists '$(report_keys b.yaml)'"
else
    kt_pass
fi

kt_case space_moved_with_cells_running
# Space and Stack green move from net.yaml into a.yaml; g1 runs in it.
{ sc_cell m1 && sc_doc_sep && sc_space green && sc_doc_sep && sc_stack default green; } |
    sc_save "$INBOX/a.yaml"
rm -f "$INBOX/net.yaml"
if ! sc_wait_for 10 'test ! -e "$(report net.yaml)" -a "$(source_of default/green space)" = a.yaml'; then
    kt_fail "net.yaml's report: $(ls "$(report net.yaml)" 2>&1); green's source '$(source_of default/green space)'"
elif ! sc_still 1 pids_kept; then
    kt_fail "restarted: $PIDS -> $(sc_pids $ALL)"
elif [ "$(e2e_status_field default/green bridge)" != "$BRIDGE" ] || ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    kt_fail "green's bridge was $BRIDGE, now '$(e2e_status_field default/green bridge)'"
elif [ "$(e2e_status_field default/green state)" != Ready ]; then
    kt_fail "green: $(e2e_status_field default/green state) $(e2e_status_field default/green message)"
else
    kt_pass
fi

kt_case file_renamed
mv "$INBOX/b.yaml" "$INBOX/c.yaml"
if ! sc_wait_for 10 'test -e "$(report c.yaml)" -a ! -e "$(report b.yaml)"'; then
    kt_fail "reports: $(ls "$STATE/_inbox" | tr '\n' ' ')"
elif ! sc_wait_for 10 'test "$(source_of $M2)$(source_of $M3)$(source_of $G1)" = c.yamlc.yamlc.yaml'; then
    kt_fail "sources: m2 '$(source_of $M2)', m3 '$(source_of $M3)', g1 '$(source_of $G1)'"
elif ! sc_still 1 pids_kept; then
    kt_fail "restarted: $PIDS -> $(sc_pids $ALL)"
else
    kt_pass
fi

kt_case renamed_to_an_ignored_name_removes
# c.yaml.bak does not count: m2, m3 and g1 lose their only file.
VETHS=$(for k in $M2 $M3 $G1; do sc_host_veth "$k"; done)
M1PID=$(sc_pid $M1)
mv "$INBOX/c.yaml" "$INBOX/c.yaml.bak"
if ! left=$(SC_GONE_VETHS=$VETHS SC_VETHS_LEFT=1 SC_BRIDGES_LEFT=2 sc_cleanly_gone 40 $M2 $M3 $G1); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif [ "$(sc_pid $M1)" != "$M1PID" ]; then
    kt_fail "m1 restarted: $M1PID -> $(sc_pid $M1)"
elif [ -e "$(report c.yaml)" ] || [ -e "$(report c.yaml.bak)" ]; then
    kt_fail "reports: $(ls "$STATE/_inbox" | tr '\n' ' ')"
else
    kt_pass
fi

kt_case remove_leaves_nothing
rm -f "$INBOX/a.yaml" "$INBOX/c.yaml.bak"
if ! left=$(SC_GONE_PARENTS="default/green" sc_cleanly_gone 40 $ALL); then
    kt_fail "left behind: $(tr '\n' ';' <<<"$left")"
elif ip link show "$BRIDGE" >/dev/null 2>&1; then
    kt_fail "green's bridge $BRIDGE left"
elif ! left=$(sc_only_defaults); then
    kt_fail "beyond the defaults: $(tr '\n' ';' <<<"$left")"
else
    kt_pass
fi

e2e_stop_agent
exit $KT_FAILED
