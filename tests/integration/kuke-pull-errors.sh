#!/bin/bash
# kuke image pull when containerd cannot be used: a clean error (exit 1,
# a message that says why), never a crash. Regression: a goto in
# kk_registry_pull jumped past a _cleanup_error_ declaration, so the failed
# pull freed an uninitialised pointer (`free(): invalid size`, exit 134).
# No root needed. A socket that does not exist fails at once (it is not
# retried for the call's 120 s as a socket that refuses would be).
. "$KUKEON_SRC/tests/lib/kktest.sh"
K=$KUKEON_BIN/kuke
T=$(mktemp -d)
kt_cleanup "rm -rf '$T'"
export KUKEON_STATE=$T/state KUKEON_REGISTRIES_CONFIG=$T/none.yaml
unset KUKEON_CONTAINERD_ADDRESS

# The socket of the bug report: nothing there, retried until the deadline.
kt_case unreachable_socket_is_a_clean_error
err=$("$K" image pull -a /nonexistent/containerd.sock busybox 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ $err == *"no containerd socket at /nonexistent/containerd.sock"* ]]; then kt_pass; else kt_fail "rc=$rc err=$err"; fi

# A peer that hangs up at once: the error comes from the transport.
kt_case broken_peer_is_a_clean_error
python3 - "$T/ctd.sock" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
while True:
    s.accept()[0].close()
PY
srv=$!
kt_cleanup "kill $srv"
for _ in $(seq 50); do [ -S "$T/ctd.sock" ] && break; sleep 0.1; done
err=$("$K" image pull -a "$T/ctd.sock" busybox 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ $err == *"namespace kukeon-default"* ]]; then kt_pass; else kt_fail "rc=$rc err=$err"; fi
# containerd's own address form, unix://PATH, names the same socket.
kt_case unix_scheme_address_is_accepted
err=$("$K" image pull -a "unix://$T/ctd.sock" busybox 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ $err == *"namespace kukeon-default"* ]]; then kt_pass; else kt_fail "rc=$rc err=$err"; fi
exit $KT_FAILED
