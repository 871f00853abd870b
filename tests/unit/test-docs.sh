#!/bin/bash
# The ecosystem files: man pages lint clean and document every verb and flag
# the binaries have; systemd-analyze accepts the units; the example config
# only uses settings kukeond knows; shell scripts parse.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
cd "$KUKEON_SRC" || exit 1
T=$(mktemp -d /tmp/kk-docs-XXXXXX)
kt_cleanup "rm -rf '$T'"
PAGES=(docs/kuke.1 docs/kukeon-manifest.5 docs/kukeon-fsapi.7 docs/kukeond.8)

kt_case man_pages_lint_clean
out=""
for p in "${PAGES[@]}"; do
    [ -f "$p" ] || out+="$p missing; "
    if command -v mandoc >/dev/null; then
        out+=$(mandoc -Tlint "$p" 2>&1)
    fi
    out+=$(groff -ww -man -z "$p" 2>&1)
done
if ! command -v mandoc >/dev/null && ! command -v groff >/dev/null; then
    kt_fail "neither mandoc nor groff installed (contrib/debian-packages.txt)"
elif [ -n "$out" ]; then
    kt_fail "$out"
else
    kt_pass
fi

kt_case man_renders_without_warnings
out=""
for p in "${PAGES[@]}"; do
    out+=$(MANWIDTH=80 man -l "$p" 2>&1 >/dev/null)
done
kt_check "man -l: $out" test -z "$out"

# The verbs come from the built binary when there is one, else from the
# registration table, so a verb added later without a page fails here.
kt_case kuke_page_has_every_verb
if [ -x "$KUKEON_BIN/kuke" ]; then
    verbs=$("$KUKEON_BIN/kuke" --help 2>&1 | awk '/^commands:/{c=1; next} c && /^  [a-z]/{print $1}')
else
    verbs=$(sed -n 's/^ *{"\([a-z]*\)", ".*/\1/p' kuke/commands.c)
fi
# Synopsis lines (".B kuke VERB..."), roff font escapes removed.
synopsis=$(sed -n 's/^\.B kuke //p' docs/kuke.1 | sed 's/\\f[RPBI]//g; s/\\-/-/g')
missing=""
for v in $verbs; do
    grep -Eq "(^|[ |])$v([ |]|$)" <<<"$synopsis" || missing+=" $v"
done
if [ -z "$verbs" ]; then
    kt_fail "no verbs found"
else
    kt_check "kuke.1 lacks:$missing" test -z "$missing"
fi

kt_case kukeond_page_has_every_flag
if [ -x "$KUKEON_BIN/kukeond" ] && "$KUKEON_BIN/kukeond" --help >/dev/null 2>&1; then
    flags=$("$KUKEON_BIN/kukeond" --help 2>&1 | sed -n 's/^ *--\([a-z-]*\) .*/\1/p')
else
    flags=$(sed -n 's/^ *{"\([a-z-]*\)", offsetof.*/\1/p; s/^ *{"\([a-z-]*\)", SIZE_MAX.*/\1/p' \
        agent/config.c)
fi
missing=""
for f in $flags; do
    grep -q -- "-\\\\-${f//-/\\\\-}\b" docs/kukeond.8 || missing+=" --$f"
done
if [ -z "$flags" ]; then
    kt_fail "no flags found"
else
    kt_check "kukeond.8 lacks:$missing" test -z "$missing"
fi

kt_case example_config_uses_known_settings
unknown=""
for k in $(sed -n 's/^\([a-z-]*\):.*/\1/p' contrib/systemd/kukeond.yaml); do
    grep -q "{\"$k\"," agent/config.c || unknown+=" $k"
done
kt_check "kukeond.yaml has settings kukeond does not know:$unknown" test -z "$unknown"

# systemd-analyze verify checks ExecStart exists and Documentation= pages
# resolve: point them at the build and at docs/.
verify_unit() { # UNIT-FILE...
    mkdir -p "$T/units" "$T/man/man1" "$T/man/man5" "$T/man/man7" "$T/man/man8"
    local p u names=()
    for p in "${PAGES[@]}"; do ln -sf "$PWD/$p" "$T/man/man${p##*.}/"; done
    for u in "$@"; do
        sed -e "s|/usr/local/sbin/kukeond|$T/kukeond|; s|/usr/local/bin/kukeon-gitops-pull|$T/kukeon-gitops-pull|" \
            "$u" >"$T/units/$(basename "$u")"
        names+=("./$(basename "$u")")
    done
    printf '#!/bin/sh\n' >"$T/kukeond"
    cp "$T/kukeond" "$T/kukeon-gitops-pull"
    chmod +x "$T/kukeond" "$T/kukeon-gitops-pull"
    (cd "$T/units" && MANPATH="$T/man" SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
        --man=yes "${names[@]}" 2>&1)
}

kt_case systemd_units_verify
if ! command -v systemd-analyze >/dev/null; then
    kt_fail "systemd-analyze not installed"
else
    units=(contrib/systemd/kukeond.service)
    for u in contrib/gitops/*.service contrib/gitops/*.timer; do [ -f "$u" ] && units+=("$u"); done
    out=$(verify_unit "${units[@]}")
    kt_check "systemd-analyze verify: $out" test -z "$out"
fi

kt_case unit_keeps_containers_and_notifies
u=contrib/systemd/kukeond.service
if ! grep -qx 'Type=notify' $u; then
    kt_fail "not Type=notify"
elif ! grep -qx 'KillMode=process' $u || ! grep -qx 'Delegate=yes' $u; then
    kt_fail "KillMode=process and Delegate=yes are required"
elif grep -Eq '^(ProtectSystem|ProtectHome|PrivateTmp|ReadWritePaths|PrivateMounts|PrivateDevices)=' $u; then
    kt_fail "a mount-namespace sandboxing option hides the netns bind mounts from containerd"
else
    kt_pass
fi

# Completion: verbs, kinds, and cell names read from a state tree.
complete_words() { # WORD... (the last one is being completed)
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _kuke
    echo "${COMPREPLY[*]}"
}

kt_case bash_completion
shopt -s extglob
mkdir -p "$T/state/default/default/default/web" "$T/state/default/default/default/db" \
    "$T/state/default/default/default/web/containers" "$T/state/_inbox" "$T/state/prod/edge"
if ! . contrib/bash-completion/kuke; then
    kt_fail "completion does not load"
elif missing=$(for v in $verbs; do [[ " $(complete_words kuke "") " == *" $v "* ]] || echo $v; done) &&
    [ -n "$missing" ]; then
    kt_fail "verbs not completed: $missing"
elif [ "$(complete_words kuke st)" != "start stop" ]; then
    kt_fail "verbs: '$(complete_words kuke st)'"
elif [ "$(complete_words kuke get c)" != "cells containers" ]; then
    kt_fail "get kinds: '$(complete_words kuke get c)'"
elif [ "$(complete_words kuke stop cell --state "$T/state" "")" != "db web" ]; then
    kt_fail "cell names: '$(complete_words kuke stop cell --state "$T/state" "")'"
elif [ "$(complete_words kuke get spaces --state "$T/state" --realm prod "")" != "edge" ]; then
    kt_fail "space names of a realm: '$(complete_words kuke get spaces --state "$T/state" --realm prod "")'"
elif [ "$(KUKEON_STATE=$T/state complete_words kuke get realms "")" != "default prod" ]; then
    kt_fail "realm names from KUKEON_STATE"
elif [ "$(complete_words kuke get cells -o "")" != "yaml json wide" ]; then
    kt_fail "-o values"
else
    kt_pass
fi

kt_case shell_scripts_parse
out=""
for s in contrib/bash-completion/kuke contrib/gitops/kukeon-gitops-pull; do
    [ -f "$s" ] || { out+="$s missing; "; continue; }
    out+=$(bash -n "$s" 2>&1)
done
kt_check "$out" test -z "$out"

exit $KT_FAILED
