#!/usr/bin/env python3
"""Slot hand-off benchmark (issue 10): how long after an export slot frees the next queued export
starts.

One snaplake-worker `export` on the local stack (Kafka, PostgreSQL: source .stack/env) with
EXPORT_TASK_LIMIT=--limit, the stack's stand-in with short exports (--export-seconds) and its own
cap far above the limit (so the slots, not the stand-in, keep the bound), and --clusters
snapshot messages at once: all but --limit of them wait for a slot. Each run must end `exported`.

A slot frees when the worker logs "export slot N released" (the export seen COMPLETE); the
next export starts at the stand-in's next accepted StartExportTask (its state's start_calls).
While exports are still queued, every release is followed by exactly one start, so the k-th
release pairs with the (limit + k)-th start. Printed: median and max of start - release, in ms,
with EXPORT_SLOT_RETRY (how often a waiting job tries for a slot; --slot-retry, default the
worker's own) and EXPORT_POLL_INTERVAL (--poll, which only moves when the release is seen).

  .venv/bin/python bench/slot_bench.py [--clusters 12] [--limit 2] [--export-seconds 0.5]
        [--slot-retry 2s] [--poll 200ms] [--worker build/bench-rel/bin/snaplake-worker]
"""

import argparse
import os
import statistics
import sys
import tempfile
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as h  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-bench" % h.ACCOUNT


def log_time(r):
    """A worker log line's time (RFC 3339, UTC) as epoch seconds."""
    return datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clusters", type=int, default=12)
    ap.add_argument("--limit", type=int, default=2)
    ap.add_argument("--export-seconds", type=float, default=0.5)
    ap.add_argument("--slot-retry", default=None, help="EXPORT_SLOT_RETRY (default: the worker's)")
    ap.add_argument("--poll", default="200ms", help="EXPORT_POLL_INTERVAL")
    ap.add_argument("--worker", default=os.path.join(h.ROOT,
                                                     "build/bench-rel/bin/snaplake-worker"))
    a = ap.parse_args()
    h.require_stack()
    os.environ["SNAPLAKE_WORKER_BIN"] = a.worker
    tmp = tempfile.mkdtemp(prefix="slot-bench-")
    h.standin_config_reset()
    h.standin_reset(all=True)
    h.standin_config(export_cap=1000, export_seconds=a.export_seconds)
    prefix = h.topic_prefix("slotbench")
    h.create_topics(prefix)
    clusters = [h.create_cluster() for _ in range(a.clusters)]
    ids = {c["run_id"] for c in clusters}
    env = dict(EXPORT_S3_BUCKET=h.create_bucket(), EXPORT_IAM_ROLE_ARN=ROLE,
               EXPORT_KMS_KEY_ID=KMS, EXPORT_POLL_INTERVAL=a.poll,
               EXPORT_TASK_LIMIT=str(a.limit), KAFKA_GROUP_ID="g-" + prefix,
               WORKER_MAX_JOBS=str(a.clusters + 1))
    if a.slot_retry:
        env["EXPORT_SLOT_RETRY"] = a.slot_retry
    w = h.Worker("export", h.worker_env(prefix, **env), os.path.join(tmp, "export.log"))
    try:
        w.wait_ready(90)
        for c in clusters:
            h.produce(prefix + "snapshots", h.snapshot_message(c), key=c["cluster"])
        with h.KafkaReader(prefix + "exports") as r:
            recs = r.read(a.clusters, 60 + 4 * a.clusters * a.export_seconds)
        got = {x.value.get("run_id") for x in recs if x.value.get("type") == "exported"}
        if got != ids:
            raise SystemExit("exported %d of %d runs" % (len(got & ids), len(ids)))
        slot_lines = [x for x in w.logs() if str(x.get("msg", "")).startswith("export slot ")]
        releases = sorted(log_time(x) for x in slot_lines if x["msg"].endswith(" released"))
        taken = sorted(log_time(x) for x in slot_lines if " taken " in x["msg"])
    finally:
        w.stop(30)
    st = h.standin_state()
    h.standin_config_reset()
    starts = sorted(s["time"] for s in st["start_calls"]
                    if s["task_id"] in ids and s["result"] == "started")
    maxc = st["accounts"].get(h.ACCOUNT, {}).get("max_concurrent")
    if len(starts) != a.clusters:
        raise SystemExit("%d accepted starts for %d runs" % (len(starts), a.clusters))
    queued = a.clusters - a.limit
    n = min(queued, len(releases), len(taken) - a.limit)
    gaps = [(starts[a.limit + k] - releases[k]) * 1000.0 for k in range(n)]
    # Its two parts: release -> the next "slot taken" (the waiting job's retry), and taken ->
    # the start (the calls before StartExportTask: the live-export count, the start itself).
    take = [(taken[a.limit + k] - releases[k]) * 1000.0 for k in range(n)]
    call = [(starts[a.limit + k] - taken[a.limit + k]) * 1000.0 for k in range(n)]
    if not gaps or min(gaps) < 0:
        raise SystemExit("a start before its slot freed (gaps %s)" % gaps)
    print("slot hand-off (EXPORT_TASK_LIMIT %d, %d exports of %gs, EXPORT_SLOT_RETRY %s, "
          "EXPORT_POLL_INTERVAL %s): release -> next StartExportTask median %.0f ms, max %.0f ms "
          "over %d hand-offs (release -> slot taken median %.0f ms, taken -> start median %.0f "
          "ms); most exports at once %s"
          % (a.limit, a.clusters, a.export_seconds, a.slot_retry or "default", a.poll,
             statistics.median(gaps), max(gaps), len(gaps), statistics.median(take),
             statistics.median(call), maxc))


if __name__ == "__main__":
    main()
