#!/usr/bin/env bash
# scripts/demo.sh - `make demo`: the pipeline end to end on the local stack.
#
# Builds the binaries, starts the local stack (Kafka, PostgreSQL, moto with signature checking,
# the AWS stand-in), then scripts/demo.py creates three Aurora clusters with automated
# snapshots, runs the producer and one worker per stage (share included), and prints each run's
# share summary and stages with
# their durations and outcomes and a summary of the lake. The stack is left running for a
# look around (`scripts/stack.sh stop` ends it). Exit status 0 only when every run ended the
# way the demo expects.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SL_ROOT"

t0=$(date +%s)
echo "== build"
make -j2 all >"${TMPDIR:-/tmp}/snaplake-demo-build.log" 2>&1 || {
    tail -40 "${TMPDIR:-/tmp}/snaplake-demo-build.log"
    exit 1
}
echo "== local stack"
scripts/stack.sh start
set -a
# shellcheck source=/dev/null
. "$SL_ROOT/.stack/env"
set +a
echo "== pipeline"
"$SL_VENV/bin/python" scripts/demo.py
echo "== done in $(($(date +%s) - t0)) s (stack still running: scripts/stack.sh stop)"
