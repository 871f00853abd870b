#!/bin/bash
# contrib/gitops/kukeon-gitops-pull without an agent: a local bare
# repository; the inbox becomes a symlink to the commit's host directory by
# one rename; a broken commit is not published and is reported; a missing
# host directory is an error, not an empty inbox; old checkouts are pruned.
# tests/e2e/gitops.sh does the same against a running kukeond.
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
. "$KUKEON_SRC/tests/lib/kktest.sh"
T=$(mktemp -d /tmp/kk-gitops-XXXXXX)
kt_cleanup "rm -rf '$T'"
PULL=$KUKEON_SRC/contrib/gitops/kukeon-gitops-pull
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.invalid
export GIT_CONFIG_NOSYSTEM=1 HOME=$T

git init -q --bare "$T/repo.git"
git clone -q "$T/repo.git" "$T/work" 2>/dev/null
HOSTDIR=$T/work/hosts/node1
mkdir -p "$HOSTDIR" "$T/etc"

cell() { # NAME TEXT
    printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n    - id: main\n      image: busybox\n      command: sh\n      args: [-c, "echo %s; sleep 1000"]\n' "$1" "$2"
}
commit() { # MESSAGE
    git -C "$T/work" add -A && git -C "$T/work" commit -q -m "$1" && git -C "$T/work" push -q origin HEAD:main 2>/dev/null
    git -C "$T/work" rev-parse HEAD
}
pull() {
    "$PULL" --repo "$T/repo.git" --ref main --path hosts/node1 --inbox "$T/etc/manifests" \
        --cache "$T/cache" --keep 2 --kuke "$KUKEON_BIN/kuke" >"$T/pull.out" 2>&1
}
status_field() { sed -n "s/^$1: //p" "$T/cache/status.yaml" | tr -d '"'; }

kt_case first_publish_replaces_an_empty_inbox
cell web v1 >"$HOSTDIR/web.yaml"
echo "ignored" >"$HOSTDIR/README.md"
C1=$(commit "web v1")
mkdir -p "$T/etc/manifests" # the plain, empty inbox of a fresh install
if ! pull; then
    kt_fail "pull failed: $(cat "$T/pull.out")"
elif [ "$(readlink "$T/etc/manifests")" != "$T/cache/checkouts/$C1/hosts/node1" ]; then
    kt_fail "inbox -> $(readlink "$T/etc/manifests")"
elif ! grep -q "echo v1" "$T/etc/manifests/web.yaml"; then
    kt_fail "web.yaml not in the inbox"
elif [ "$(status_field result)" != published ] || [ "$(status_field commit)" != "$C1" ]; then
    kt_fail "status: $(cat "$T/cache/status.yaml")"
else
    kt_pass
fi

kt_case same_commit_is_unchanged
INODE1=$(stat -c %i "$T/etc/manifests")
pull
kt_check "status $(status_field result), symlink replaced" \
    test "$(status_field result)" = unchanged -a "$(stat -c %i "$T/etc/manifests")" = "$INODE1"

kt_case change_is_published_by_one_rename
cell web v2 >"$HOSTDIR/web.yaml"
cell db v1 >"$HOSTDIR/db.yml"
C2=$(commit "web v2, db")
# Watch the inbox's directory while pulling: the swap must be a single
# rename onto the inbox name, never a removal followed by a create.
if ! command -v inotifywait >/dev/null; then
    kt_fail "inotifywait missing (inotify-tools, contrib/debian-packages.txt)"
else
    inotifywait -q -m -e create,delete,moved_to,moved_from --format '%e %f' "$T/etc" >"$T/events" 2>/dev/null &
    WPID=$!
    kt_cleanup "kill $WPID"
    sleep 0.3
fi
pull
sleep 0.2
[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null
echo "# inotify: $(tr '\n' ' ' <"$T/events" 2>/dev/null)" >&2
if [ -z "${WPID:-}" ]; then
    :
elif [ "$(readlink "$T/etc/manifests")" != "$T/cache/checkouts/$C2/hosts/node1" ]; then
    kt_fail "inbox -> $(readlink "$T/etc/manifests"): $(cat "$T/pull.out")"
elif ! grep -q "echo v2" "$T/etc/manifests/web.yaml" || [ ! -f "$T/etc/manifests/db.yml" ]; then
    kt_fail "new files not visible"
elif grep -q "^DELETE manifests$" "$T/events"; then
    kt_fail "the inbox was deleted then recreated: $(cat "$T/events")"
elif ! grep -q "^MOVED_TO manifests$" "$T/events"; then
    kt_fail "no rename onto the inbox: $(cat "$T/events")"
else
    kt_pass
fi

kt_case broken_commit_is_not_published
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: web\nspec:\n  containers:\n    - id: main\n      imag: busybox\n' >"$HOSTDIR/web.yaml"
C3=$(commit "broken")
pull
rc=$?
if [ "$rc" != 1 ]; then
    kt_fail "exit $rc for a broken commit"
elif [ "$(readlink "$T/etc/manifests")" != "$T/cache/checkouts/$C2/hosts/node1" ]; then
    kt_fail "a broken commit was published"
elif [ "$(status_field result)" != failed ] || [ "$(status_field commit)" != "$C3" ]; then
    kt_fail "status: $(cat "$T/cache/status.yaml")"
elif ! status_field message | grep -q 'hosts/node1/web.yaml:8:[0-9]*: .*imag'; then
    kt_fail "status lacks file:line:col: $(status_field message)"
elif ! grep -q "NOT published" "$T/pull.out"; then
    kt_fail "nothing on stderr"
else
    kt_pass
fi

kt_case fixed_commit_is_published
cell web v3 >"$HOSTDIR/web.yaml"
C4=$(commit "fixed")
pull
kt_check "inbox -> $(readlink "$T/etc/manifests")" \
    test "$(readlink "$T/etc/manifests")" = "$T/cache/checkouts/$C4/hosts/node1"

kt_case old_checkouts_pruned
n=$(find "$T/cache/checkouts" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
kt_check "$n checkouts kept with --keep 2: $(ls "$T/cache/checkouts")" \
    test "$n" = 2 -a -d "$T/cache/checkouts/$C4"

kt_case deleting_every_manifest_empties_the_inbox
git -C "$T/work" rm -q hosts/node1/web.yaml hosts/node1/db.yml
touch "$HOSTDIR/.keep"
C5=$(commit "nothing runs here")
pull
kt_check "inbox: $(ls -A "$T/etc/manifests" 2>&1)" \
    test "$(readlink "$T/etc/manifests")" = "$T/cache/checkouts/$C5/hosts/node1" -a \
    -z "$(find "$T/etc/manifests/" -name '*.y*ml')" -a -f "$T/etc/manifests/.keep"

kt_case missing_host_directory_is_an_error
git -C "$T/work" rm -q -r hosts/node1
mkdir -p "$T/work/hosts/node2" && touch "$T/work/hosts/node2/.keep"
commit "node1 removed by mistake" >/dev/null
pull
rc=$?
kt_check "exit $rc, inbox -> $(readlink "$T/etc/manifests")" \
    test "$rc" = 1 -a "$(readlink "$T/etc/manifests")" = "$T/cache/checkouts/$C5/hosts/node1"

kt_case plain_inbox_with_files_is_not_replaced
mkdir -p "$T/etc2/manifests" && echo x >"$T/etc2/manifests/keep.yaml"
"$PULL" --repo "$T/repo.git" --ref "$C4" --path hosts/node1 --inbox "$T/etc2/manifests" \
    --cache "$T/cache2" --kuke "$KUKEON_BIN/kuke" >"$T/pull.out" 2>&1
rc=$?
kt_check "exit $rc: $(cat "$T/pull.out")" test "$rc" = 1 -a -f "$T/etc2/manifests/keep.yaml" \
    -a ! -L "$T/etc2/manifests"

kt_case usage_errors
"$PULL" --inbox relative --repo x >/dev/null 2>&1
rc1=$?
"$PULL" >/dev/null 2>&1
rc2=$?
"$PULL" --repo x --path ../etc >/dev/null 2>&1
rc3=$?
kt_check "exit statuses $rc1 $rc2 $rc3" test "$rc1-$rc2-$rc3" = 2-2-2

exit $KT_FAILED
