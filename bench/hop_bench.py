#!/usr/bin/env python3
"""Stage hop benchmark (issue 10): how long the runtime itself takes from consuming a message to
producing its successor, AWS time excluded, through the real broker.

A real snaplake-worker `copy` runs on the local stack (Kafka, PostgreSQL: source .stack/env)
against bench/s3sink on loopback, an S3 endpoint that answers at once. --messages `exported`
messages go in one after another (the next when the previous one's `copied` came out, so no
message waits behind another), each an export of --objects objects (default 1). Every run is
checked: a `copied` message with the right count, and the lake holds exactly those objects.

The figures come from the worker's own "published" log line (worker_job.c, sl_worker_log_hop),
written when the broker acknowledged the successor:
  hop       the job accepted (its input consumed) -> the successor's delivery report
  stage     time in the RUNNING phase: the stage's own work, its S3 calls included
  overhead  hop - stage: the runtime's share (ledger writes, the fence check, Kafka, the loop)
and, measured from outside, e2e: this script's produce -> its consumer reading the successor
(Kafka's fetch latency on both ends included). Printed: median and p99 of each, in ms.

  .venv/bin/python bench/hop_bench.py [--messages 200] [--objects 1]
        [--worker build/bench-rel/bin/snaplake-worker]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import copy_bench as cb  # noqa: E402

h = cb.h


def pct(xs, q):
    """The q-quantile (0..1) by the nearest rank: with 200 values, p99 is the 198th."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--objects", type=int, default=1)
    ap.add_argument("--worker", default=os.path.join(cb.ROOT,
                                                     "build/bench-rel/bin/snaplake-worker"))
    a = ap.parse_args()
    h.require_stack()
    tmp = tempfile.mkdtemp(prefix="hop-bench-")
    sink = cb.Sink(0, tmp, False)
    e2e = []
    try:
        run = cb.Run(a.worker, sink, 64, tmp)
        try:
            for _ in range(a.messages):
                t0 = time.monotonic()
                run.send(a.objects)
                e2e.append((time.monotonic() - t0) * 1000.0)
            # Our consumer can read the last `copied` before the worker has its delivery
            # report (and so its "published" line): wait for the line.
            hops = h.wait_for(lambda: (lambda x: x if len(x) >= a.messages else None)(
                [r for r in run.w.logs() if r.get("event") == "published"]), 30,
                what="%d published lines" % a.messages)
        finally:
            run.stop()
    finally:
        sink.stop()
    if len(hops) != a.messages:
        raise SystemExit("%d published lines for %d messages" % (len(hops), a.messages))
    cols = {k: [float(r[k + "_ms"]) for r in hops]
            for k in ("hop", "stage", "overhead", "before", "after")}
    cols["e2e"] = e2e
    print("stage hop (copy stage, %d messages one after another, %d object(s) each, s3sink on "
          "loopback; ms):" % (a.messages, a.objects))
    for k, label in (("overhead", "overhead (hop - stage)"), ("hop", "hop"),
                     ("stage", "stage (S3 work)"), ("before", "  accepted -> running"),
                     ("after", "  running -> delivered"), ("e2e", "e2e from outside")):
        xs = cols[k]
        print("  %-24s median %7.2f  p99 %7.2f  max %7.2f"
              % (label, statistics.median(xs), pct(xs, 0.99), max(xs)))
    print("load average %.2f (machine of %d CPUs)" % (os.getloadavg()[0], os.cpu_count()))


if __name__ == "__main__":
    main()
