# Shell side of the test harness: source it, then
#   kt_case NAME; ...commands...; kt_pass / kt_fail "why"
# Prints the same PASS:/FAIL: lines as the C harness. kt_cleanup registers a
# command run at exit (in reverse order), whatever happened.
KT_NAME=$(basename "$0" .sh)
KT_CURRENT=""
KT_FAILED=0
KT_CLEANUPS=()
kt_case() { KT_CURRENT=$1; echo "RUN: $KT_NAME/$1" >&2; }
kt_pass() { echo "PASS: $KT_NAME/$KT_CURRENT"; }
kt_fail() { echo "FAIL: $KT_NAME/$KT_CURRENT: $*"; KT_FAILED=1; }
# kt_check "description" command...: PASS/FAIL the current case on its status.
kt_check() { local d=$1; shift; if "$@"; then kt_pass; else kt_fail "$d"; fi; }
kt_cleanup() { KT_CLEANUPS+=("$*"); }
kt_run_cleanups() {
    local i
    for ((i = ${#KT_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${KT_CLEANUPS[$i]}" >/dev/null 2>&1 || true; done
    KT_CLEANUPS=()
}
trap 'kt_run_cleanups' EXIT
trap 'kt_run_cleanups; exit 130' INT TERM
