#!/bin/bash
# A short run of tests/chaos/chaos.sh for `make check`: 6 cells, kukeond
# killed with SIGKILL 5 times at random moments and containerd once, then
# the host must match the inbox exactly and removing everything must leave
# only the defaults. The long run (100 and 10 kills, 30 cells) is
# tests/chaos/chaos.sh itself (tests/chaos/README.md).
set -u
KUKEON_SRC=${KUKEON_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export KUKEON_SRC
export KUKEON_BIN=${KUKEON_BIN:-$KUKEON_SRC/build/bin}
export CHAOS_KILLS=${CHAOS_KILLS:-5} CHAOS_CTD_KILLS=${CHAOS_CTD_KILLS:-1}
export CHURN_CELLS=${CHURN_CELLS:-6} CHAOS_MAX_GAP_MS=${CHAOS_MAX_GAP_MS:-2500}
export CHAOS_SETTLE_S=${CHAOS_SETTLE_S:-90}
exec bash "$KUKEON_SRC/tests/chaos/chaos.sh"
