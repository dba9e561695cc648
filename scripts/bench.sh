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
# The copy benchmark needs the local stack (Kafka, PostgreSQL): scripts/stack.sh start.
if [[ -f .stack/env ]]; then
    echo "== copy_bench (SL_BENCH_COPY_ARGS: ${SL_BENCH_COPY_ARGS:-defaults})"
    # shellcheck disable=SC1091
    (set -a; . .stack/env; set +a
     # shellcheck disable=SC2086
     .venv/bin/python bench/copy_bench.py ${SL_BENCH_COPY_ARGS:-} 2>build/bench-rel/copy_bench.stderr)
else
    echo "== copy_bench: not run (no local stack; scripts/stack.sh start)"
fi
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
