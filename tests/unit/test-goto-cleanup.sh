#!/bin/bash
# No goto jumps past a _cleanup_ declaration. gcc compiles such a jump
# silently and the cleanup then runs on an uninitialised variable (it was
# `kuke image pull -a /nonexistent/containerd.sock busybox` aborting with
# `free(): invalid size`, exit 134, from kk_registry_pull); whether it
# crashes depends on what the stack held, so only the compiler can tell
# reliably: clang refuses the jump. Every source with both a goto and a
# _cleanup_ goes through clang -fsyntax-only.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$KUKEON_SRC/tests/lib/kktest.sh"
cd "$KUKEON_SRC" || exit 1
BUILD=${BUILD:-build}

kt_case no_goto_past_cleanup
if ! command -v clang >/dev/null; then
    kt_fail "clang not installed: cannot check goto against _cleanup_ declarations"
else
    out=""
    n=0
    for f in $(grep -l -r --include='*.c' -w goto fsapi runtime agent kuke tests | xargs grep -l '_cleanup'); do
        n=$((n + 1))
        out+=$(clang -std=c11 -D_GNU_SOURCE -I. -I"$BUILD/gen" -I/usr/include/x86_64-linux-gnu \
            -fsyntax-only -Wno-everything "$f" 2>&1)
    done
    if [ "$n" -eq 0 ]; then
        kt_fail "no source with goto and _cleanup_ found: the check checks nothing"
    elif [ -n "$out" ]; then
        kt_fail "$out"
    else
        kt_pass
    fi
fi
exit 0
