#!/usr/bin/env bash
# scripts/bench.sh - `make bench`: runs every benchmark under bench/ (built with -O2 into
# build/bench-rel by the Makefile) and prints their figures. Benchmarks report numbers; they
# never pass or fail on speed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SL_ROOT"
for b in build/bench-rel/bench/bench_*; do
    [[ -x "$b" ]] || continue
    echo "== $(basename "$b")"
    "$b" "${SL_BENCH_SECONDS:-2}"
done
# The copy comparison (issue 10): snaplake's copy stage against the boto3 thread-pool copier
# and s5cmd on versitygw, plain and with 100 ms RTT. Installs its peers itself
# (bench/peers/install.sh, cached) and uses the local stack (started if down).
# SL_BENCH_COPY_PEERS=0 skips it; SL_BENCH_COPY_PEERS_ARGS passes options (e.g. --quick).
if [[ "${SL_BENCH_COPY_PEERS:-1}" != 0 ]]; then
    echo "== copy_peers"
    # shellcheck disable=SC2086
    "$SL_VENV/bin/python" bench/copy_peers.py --worker-bin build/bench-rel/bin/snaplake-worker \
        ${SL_BENCH_COPY_PEERS_ARGS:-}
fi
