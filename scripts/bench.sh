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
