#!/bin/bash
# Shell completion of kuke in bash, zsh and fish (contrib/): every verb,
# kinds, resource names from a state tree (also the state named by a
# kukeond.yaml), container names after -c from the cell's spec and
# containers/, image pull and its options. zsh and fish are checked when
# installed (contrib/debian-packages.txt), their completers driven without
# a terminal.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
cd "$KUKEON_SRC" || exit 1
T=$(mktemp -d /tmp/kk-completion-XXXXXX)
kt_cleanup "rm -rf '$T'"
unset KUKEON_STATE KUKEON_CONFIG

S=$T/state
C=$S/default/default/default
mkdir -p "$C/web/containers" "$C/db" "$S/_inbox" "$S/prod/edge" "$T/cfgstate/other/x"
cat >"$C/web/cell.yaml" <<'YAML'
apiVersion: v1beta1
kind: Cell
metadata:
  name: web
spec:
  id: web
  containers:
    - id: httpd
      image: docker.io/library/busybox:latest
      args:
        - -c
    - id: "sidecar"
      image: docker.io/library/busybox:latest
YAML
: >"$C/web/containers/extra.log"
: >"$C/web/containers/solo.yaml"
printf 'state: %s/cfgstate\n' "$T" >"$T/kukeond.yaml"

verbs=$("$KUKEON_BIN/kuke" --help 2>/dev/null | awk '/^commands:/{c=1; next} c && /^  [a-z]/{print $1}')
[ -n "$verbs" ] || verbs=$(sed -n 's/^ *{"\([a-z]*\)", ".*/\1/p' kuke/commands.c)

# --- bash --------------------------------------------------------------
shopt -s extglob
. contrib/bash-completion/kuke
bash_complete() { # WORD... (the last one is being completed)
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _kuke
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
# --- zsh: compadd and friends replaced by printers -----------------------
zsh_complete() {
    zsh -f -c '
        compadd() { while (( $# )) && [[ $1 != -- ]]; do shift; done; shift; print -rl -- "$@" }
        _files() { }
        _describe() { print -rl -- ${${(P)4}%%:*} }
        words=("$@"); CURRENT=$#
        source contrib/zsh/_kuke' zsh "$@" | awk -v cur="${!#}" 'index($0, cur) == 1' | sort -u | tr '\n' ' '
}
# --- fish: complete -C on the command line ------------------------------
fish_complete() {
    local line="$*"
    fish --no-config -c "source contrib/fish/kuke.fish; complete -C '$line'" | cut -f1 | sort -u | tr '\n' ' '
}

# check SHELL WANT WORD...: the completions of WORD... are exactly WANT.
check() {
    local sh=$1 want=$2 got
    shift 2
    got=$("${sh}_complete" "$@")
    [ "$got" = "$want" ] || echo "'$*': got '$got', want '$want'; "
}

for sh in bash zsh fish; do
    kt_case "${sh}_completes"
    if [ "$sh" != bash ] && ! command -v "$sh" >/dev/null; then
        echo "# $sh not installed: its completion is not checked" >&2
        echo "SKIP: test-usage-completion/${sh}_completes ($sh not installed)"
        continue
    fi
    out=""
    all=$("${sh}_complete" kuke "")
    for v in $verbs; do [[ " $all " == *" $v "* ]] || out+="verb $v not offered; "; done
    out+=$(check "$sh" "start stop " kuke st)
    out+=$(check "$sh" "cells containers " kuke get c)
    out+=$(check "$sh" "db web " kuke stop cell --state "$S" "")
    out+=$(check "$sh" "edge " kuke get spaces --state "$S" --realm prod "")
    out+=$(check "$sh" "db web " kuke describe cell --state "$S" "")
    out+=$(check "$sh" "container " kuke events cont)
    out+=$(check "$sh" "extra httpd sidecar solo " kuke logs web --state "$S" -c "")
    out+=$(check "$sh" "httpd " kuke logs --state "$S" web --container h)
    out+=$(check "$sh" "extra httpd sidecar solo " kuke get containers --state "$S" --cell web "")
    out+=$(check "$sh" "pull " kuke image pu)
    out+=$(check "$sh" "--platform " kuke image pull --pl)
    out+=$(check "$sh" "linux/arm/v7 linux/arm64 " kuke image pull --platform linux/ar)
    out+=$(check "$sh" "--nft-table " kuke doctor --nf)
    out+=$(check "$sh" "x " kuke get spaces --config "$T/kukeond.yaml" --realm other "")
    out+=$(KUKEON_STATE=$S check "$sh" "default prod " kuke get realms "")
    # exec's -u, -e and -w take a value: the cell still comes after them
    out+=$(check "$sh" "db web " kuke exec --state "$S" -u root "")
    out+=$(check "$sh" "db web " kuke exec --state "$S" -e A=b -w /tmp "")
    out+=$(check "$sh" "extra httpd sidecar solo " kuke exec --state "$S" -u root web -c "")
    out+=$(check "$sh" "db web " kuke events --state "$S" -w cell "")
    kt_check "$out" test -z "$out"
done

exit $KT_FAILED
