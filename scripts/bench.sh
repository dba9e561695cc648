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
