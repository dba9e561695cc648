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
    # The same over TLS, as S3 is served: what the worker holds per TLS connection.
    echo "== copy_bench --tls (SL_BENCH_COPY_TLS_ARGS: ${SL_BENCH_COPY_TLS_ARGS:-defaults})"
    # shellcheck disable=SC1091
    (set -a; . .stack/env; set +a
     # shellcheck disable=SC2086
     .venv/bin/python bench/copy_bench.py --tls ${SL_BENCH_COPY_TLS_ARGS:---conc 1024 --delay-ms 100} \
         2>build/bench-rel/copy_bench_tls.stderr)
    # The stage hop overhead and the slot hand-off (issue 10), on the same stack.
    echo "== hop_bench (SL_BENCH_HOP_ARGS: ${SL_BENCH_HOP_ARGS:-defaults})"
    # shellcheck disable=SC1091,SC2086
    (set -a; . .stack/env; set +a
     .venv/bin/python bench/hop_bench.py ${SL_BENCH_HOP_ARGS:-} 2>build/bench-rel/hop_bench.stderr)
    echo "== slot_bench (SL_BENCH_SLOT_ARGS: ${SL_BENCH_SLOT_ARGS:-defaults})"
    # shellcheck disable=SC1091,SC2086
    (set -a; . .stack/env; set +a
     .venv/bin/python bench/slot_bench.py ${SL_BENCH_SLOT_ARGS:-} \
         2>build/bench-rel/slot_bench.stderr)
    # The scale run is long (1,000 clusters: about 9 minutes, see bench/README.md): opt-in,
    # SL_BENCH_SCALE=<clusters>.
    if [[ -n "${SL_BENCH_SCALE:-}" ]]; then
        echo "== scale (SL_BENCH_SCALE=$SL_BENCH_SCALE clusters)"
        # shellcheck disable=SC1091
        (set -a; . .stack/env; set +a
         .venv/bin/python bench/scale.py --clusters "$SL_BENCH_SCALE" \
             2>build/bench-rel/scale.stderr)
    else
        echo "== scale: not run (opt-in: SL_BENCH_SCALE=1000 make bench)"
    fi
else
    echo "== copy_bench, hop_bench, slot_bench, scale: not run (no local stack;" \
        "scripts/stack.sh start)"
fi
# The latency proxy's own cost at 1,000 keep-alive connections (no stack needed).
echo "== latproxy_load"
"$SL_VENV/bin/python" bench/latproxy_load.py --seconds 5 2>/dev/null
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
