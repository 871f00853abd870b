#!/bin/bash
# docs/kuke.1 and the binary agree on every command's flags: each flag a
# command's --help shows is in its man page entry (or, for commands taking
# the common options, in COMMON OPTIONS), and each flag an entry names is
# in that command's --help. A flag added to one and not the other fails.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
MAN=$KUKEON_SRC/docs/kuke.1
export KUKEON_CONFIG=/dev/null

# Flags an entry may name that the command does not take, on purpose.
# "VERB:FLAG" (kuke logs refuses --since and --timestamps, and says so).
NOT_FLAGS="logs:--since logs:--timestamps"

# flags: the -x and --long-name words of standard input, one a line, sorted;
# --help and -h left out (every command has them).
flags() {
    grep -oE '(^|[][ ,(|/])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b' |
        sed -E 's/^[][ ,(|/]//' | grep -vxE -- '--help|-h' | sort -u
}

# The man page as text: roff dashes and font escapes removed.
plain() { sed -e 's/\\-/-/g; s/\\f[RBIP]//g; s/\\(aq/'"'"'/g' "$MAN"; }

# entry VERB: the man page entries whose synopsis (".B kuke ...") names
# VERB, from that line to the next .TP (an .TQ continues the entry; a .TP
# between .RS and .RE is the entry's own list) or section.
entry() {
    plain | awk -v verb="$1" '
        /^\.SH/ { on = 0 }
        /^\.RS/ { rs++ }
        /^\.RE/ { rs-- }
        /^\.TP/ && rs > 0 { if (on) print; next }
        /^\.TP/ { on = 0; start = 1; next }
        start && /^\.B kuke / {
            line = $0; sub(/^\.B kuke /, "", line)
            n = split(line, w, /[ |]+/)
            on = 0
            for (i = 1; i <= n; i++) if (w[i] == verb) on = 1
        }
        { start = 0 }
        /^\.TQ/ { start = 1 }
        on { print }'
}
common() { plain | sed -n '/^\.SH COMMON OPTIONS/,/^\.SH /p'; }

verbs=$("$K" --help | awk '/^commands:/{c=1; next} c && /^  [a-z]/{print $1}')
kt_case verbs_found
kt_check "no verbs in kuke --help" test -n "$verbs"

for v in $verbs; do
    kt_case "${v}_flags_match"
    help=$("$K" "$v" --help 2>&1)
    [ "$v" = image ] && help+=$'\n'$("$K" image pull --help 2>&1)
    ent=$(entry "$v")
    if [ -z "$ent" ]; then
        kt_fail "kuke.1 has no entry for $v"
        continue
    fi
    documented=$(printf '%s\n' "$ent" | flags)
    if grep -q -- '--manifests' <<<"$help"; then
        documented=$( (printf '%s\n' "$documented"; common | flags) | sort -u)
    fi
    shown=$(printf '%s\n' "$help" | flags)
    # "-o, --output": the man page may name either form.
    aliases=$(printf '%s\n' "$help" | sed -nE 's/^ *(-[a-zA-Z]), (--[a-z][a-z0-9-]*).*/\1 \2/p')
    not_in_man=""
    for f in $(comm -23 <(printf '%s\n' "$shown") <(printf '%s\n' "$documented")); do
        alias=$(awk -v f="$f" '$1 == f { print $2 } $2 == f { print $1 }' <<<"$aliases")
        [ -n "$alias" ] && grep -qxF -- "$alias" <<<"$documented" && continue
        not_in_man+="$f "
    done
    not_in_help=""
    for f in $(printf '%s\n' "$ent" | flags); do
        [[ " $NOT_FLAGS " == *" $v:$f "* ]] && continue
        grep -qxF -- "$f" <<<"$shown" || not_in_help+="$f "
    done
    if [ -n "$not_in_man$not_in_help" ]; then
        kt_fail "${not_in_man:+in --help, not in kuke.1: $not_in_man}${not_in_help:+in kuke.1, not in --help: $not_in_help}"
    else
        kt_pass
    fi
done

# The test must be able to fail: a flag only one side has is found.
kt_case detects_a_missing_flag
fake=$(printf '.TP\n.B kuke apply \\-f \\fIFILE\\fP \\-\\-bogus\n' | sed -e 's/\\-/-/g; s/\\f[RBIP]//g' | flags | tr '\n' ' ')
kt_check "flags of a fake entry: $fake" test "$fake" = "--bogus -f "

exit $KT_FAILED
