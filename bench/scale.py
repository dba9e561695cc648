#!/usr/bin/env python3
"""Scale run (issue 10): --clusters clusters (default 1,000) with small exports through the
whole pipeline on one machine, 3 replicas per stage, the stand-in's export cap at 5. Not part of
`make test`; `make bench` runs it when SL_BENCH_SCALE is set (its value is --clusters).

On the local stack (Kafka, PostgreSQL, moto behind the stack's stand-in: source .stack/env):
  - moto gets the clusters (each with its automated snapshot) and a Glue crawler each; the
    stand-in gets export_cap 5, --export-seconds per export, --crawler-seconds per crawl, and a
    layout of one database with --tables tables of one file each;
  - --replicas snaplake-worker processes for each of export, copy and crawl (one consumer group
    per stage, 12 partitions per topic), EXPORT_TASK_LIMIT 5 (slots shared by the replicas);
  - --replicas snaplake-producer processes in event mode, each with its share of the clusters'
    EventBridge events.
It waits until every run has a `crawled` message (or a `failure`: that run is lost), then
checks, and prints:
  wall time   first event in -> last `crawled` out, and runs per minute over it
  lost        runs without `crawled`, runs whose ledger is not `succeeded` for export, copy and
              crawl, and clusters whose lake partition is not exactly the export's files
              (keys and sizes, listed from moto); 0 is the only right answer
  exports     the most exports ever running at once (the stand-in's max_concurrent; the cap
              of 5 must never be passed, and the stand-in refusing a start would show too)
  RSS         each worker's and producer's peak RSS (VmHWM, read before it exits)

  .venv/bin/python bench/scale.py [--clusters 1000] [--replicas 3] [--export-seconds 0.5]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as h  # noqa: E402
from test_pipeline import list_keys  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-bench" % h.ACCOUNT
EXPORT_ROOT = "s3-export"
LAKE_PREFIX = "lake"
CAP = 5


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def vm_hwm_mb(pid, comm=None):
    """VmHWM of pid in MB; NaN when gone, or when comm is given and pid is not (yet) that
    program (a child sampled between fork and exec shows the parent's image)."""
    try:
        if comm:
            with open("/proc/%d/comm" % pid) as f:
                if not comm.startswith(f.read().strip()):
                    return float("nan")
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def expected_lake(export_keys, c):
    """{lake key: size} for c from the export's data files (test_pipeline's mapping)."""
    root = "%s/%s/%s/%s/" % (EXPORT_ROOT, c["cluster"], c["date"], c["run_id"])
    want = {}
    for k, size in export_keys.items():
        if not k.startswith(root) or not k.endswith(".gz.parquet"):
            continue
        parts = k[len(root):].split("/")
        want["%s/%s/%s/%s/date=%s/%s" % (LAKE_PREFIX, c["cluster"], parts[0], parts[1],
                                         c["date"], parts[-1])] = size
    return want


def make_cluster(db, lake_bucket):
    c = h.create_cluster("s-%s" % h.uid(10))
    h.aws("glue").create_crawler(
        Name="snaplake-%s" % c["cluster"], Role="arn:aws:iam::%s:role/glue" % h.ACCOUNT,
        DatabaseName=db,
        Targets={"S3Targets": [{"Path": "s3://%s/%s/%s/" % (lake_bucket, LAKE_PREFIX,
                                                            c["cluster"])}]})
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--export-seconds", type=float, default=0.5)
    ap.add_argument("--crawler-seconds", type=float, default=0.3)
    ap.add_argument("--tables", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=0, help="seconds (default: from the count)")
    ap.add_argument("--bindir", default=os.path.join(h.ROOT, "build/bench-rel/bin"))
    a = ap.parse_args()
    h.require_stack()
    os.environ["SNAPLAKE_WORKER_BIN"] = os.path.join(a.bindir, "snaplake-worker")
    os.environ["SNAPLAKE_PRODUCER_BIN"] = os.path.join(a.bindir, "snaplake-producer")
    tmp = tempfile.mkdtemp(prefix="scale-")
    t_setup = time.monotonic()
    h.standin_config_reset()
    h.standin_reset(all=True)
    h.standin_config(export_cap=CAP, export_seconds=a.export_seconds,
                     crawler_seconds=a.crawler_seconds, crawler_stopping_seconds=0.1,
                     default_layout={"convention": "current", "databases": {"appdb": {
                         "public.t%d" % i: {"files": 1, "partitions": 1, "bytes": 64}
                         for i in range(a.tables)}}, "failed_tables": []})
    s3 = h.aws("s3", standin=False)
    export_bucket = h.create_bucket("sl-scale-exp-%s" % h.uid(10))
    lake_bucket = h.create_bucket("sl-scale-lake-%s" % h.uid(10))
    db = "sl_scale_%s" % h.uid()
    h.aws("glue").create_database(DatabaseInput={"Name": db})
    prefix = h.topic_prefix("scale")
    h.create_topics(prefix)
    # One at a time: moto's RDS backend is not safe under concurrent CreateDBCluster calls
    # (500s with "OrderedDict mutated during iteration").
    clusters = []
    for i in range(a.clusters):
        clusters.append(make_cluster(db, lake_bucket))
        if (i + 1) % 200 == 0:
            log("  %d clusters made (%.0f s)" % (i + 1, time.monotonic() - t_setup))
    ids = {c["run_id"]: c for c in clusters}
    log("scale: %d clusters and crawlers made in %.0f s" % (a.clusters,
                                                            time.monotonic() - t_setup))

    common = dict(STAGE_RETRY_BASE="200ms", STAGE_RETRY_MAX="2s",
                  KAFKA_SESSION_TIMEOUT_MS="10000", KAFKA_HEARTBEAT_INTERVAL_MS="1000")
    per_stage = {
        "export": dict(EXPORT_S3_BUCKET=export_bucket, EXPORT_S3_PREFIX=EXPORT_ROOT,
                       EXPORT_IAM_ROLE_ARN=ROLE, EXPORT_KMS_KEY_ID=KMS,
                       EXPORT_TASK_LIMIT=str(CAP), EXPORT_POLL_INTERVAL="200ms",
                       EXPORT_SLOT_RETRY="300ms"),
        "copy": dict(LAKE_BUCKET=lake_bucket, LAKE_PREFIX=LAKE_PREFIX,
                     AWS_S3_FORCE_PATH_STYLE="true", COPY_CONCURRENCY="16"),
        "crawl": dict(CRAWLER_NAME="snaplake-{cluster}", CRAWL_POLL_INTERVAL="200ms",
                      CRAWL_CLOCK_SKEW="200ms"),
    }
    workers = []
    readers = {}
    prods = []
    try:
        for stage, env in per_stage.items():
            env.update(common, KAFKA_GROUP_ID="g-%s%s" % (prefix, stage))
            for i in range(a.replicas):
                workers.append((stage, i, h.Worker(stage, h.worker_env(prefix, **env),
                                                   os.path.join(tmp, "%s-%d.log" % (stage, i)))))
        for _, _, w in workers:
            w.wait_ready(120)
        for t in ("crawls", "failures", "dlq"):
            readers[t] = h.KafkaReader(prefix + t)
        # The producers: each replica its share of the events, all at once.
        t0 = time.monotonic()
        for i in range(a.replicas):
            f = os.path.join(tmp, "events-%d.jsonl" % i)
            with open(f, "w") as out:
                for c in clusters[i::a.replicas]:
                    out.write(json.dumps(h.snapshot_event(c), separators=(",", ":")) + "\n")
            env = h.worker_env(prefix, AWS_ENDPOINT_URL=os.environ["STANDIN_ENDPOINT"],
                               PRODUCER_RETRY_BASE="100ms", EVENTS_FILE=f)
            for k in ("CLUSTERS", "PRODUCER_MODE"):
                env.pop(k, None)
            prods.append(subprocess.Popen([h.producer_binary(), "event"], env=env, cwd=h.ROOT,
                                          stdout=open(f + ".out", "wb"),
                                          stderr=open(f + ".err", "wb")))
        prod_rss = []
        timeout = a.timeout or 300 + a.clusters * (a.export_seconds + 1.0) / CAP * 2
        crawled, failed, t_last, t_note = {}, [], None, t0
        while True:
            for p in prods:
                if p.poll() is None:
                    m = vm_hwm_mb(p.pid, "snaplake-producer")
                    if m == m:
                        prod_rss.append((p.pid, m))
            for r in readers["crawls"].read(a.clusters, 1.0):
                if r.value.get("run_id") in ids and r.value["run_id"] not in crawled:
                    crawled[r.value["run_id"]] = r
                    t_last = time.monotonic()
            failed = readers["failures"].read(1, 0.01) + readers["dlq"].read(1, 0.01)
            dead = [(s, i) for s, i, w in workers if not w.alive()]
            if len(crawled) >= a.clusters or failed or dead:
                break
            if time.monotonic() - t0 > timeout:
                break
            if time.monotonic() - t_note > 15:
                t_note = time.monotonic()
                log("  %.0f s: %d of %d crawled" % (t_note - t0, len(crawled), a.clusters))
        wall = (t_last or time.monotonic()) - t0
        rss = {"%s-%d" % (s, i): vm_hwm_mb(w.p.pid) for s, i, w in workers}
        prc = [p.wait(60) for p in prods]
    finally:
        for _, _, w in workers:
            w.stop(60)
        for r in readers.values():
            r.close()
        st = h.standin_state()
        h.standin_config_reset()
    # Checks: the ledger, the lake, the cap.
    rows = {}
    for stage in ("export", "copy", "crawl"):
        got = h.ledger_stage(list(ids), stage)
        rows[stage] = {rid for rid, r in got.items() if r["status"] == "succeeded"}
    lake = list_keys(s3, lake_bucket, LAKE_PREFIX + "/")
    exports = list_keys(s3, export_bucket, EXPORT_ROOT + "/")
    by_cluster = {}
    for k, v in lake.items():
        by_cluster.setdefault(k.split("/")[1], {})[k] = v
    bad_lake = [c["cluster"] for c in clusters
                if not expected_lake(exports, c)
                or by_cluster.get(c["cluster"], {}) != expected_lake(exports, c)]
    not_crawled = set(ids) - set(crawled)
    not_ledger = {s: len(set(ids) - rows[s]) for s in rows}
    with open(os.path.join(tmp, "standin-state.json"), "w") as f:
        json.dump(st, f)
    acct = st["accounts"].get(h.ACCOUNT, {})
    refused = [s for s in st["start_calls"] if s["result"] != "started"]
    lost = len(not_crawled | {rid for s in rows for rid in set(ids) - rows[s]}
               | {ids_rid for ids_rid, c in ids.items() if c["cluster"] in bad_lake})
    print("scale run: %d clusters, %d replicas per stage (producer, export, copy, crawl), "
          "stand-in export cap %d (EXPORT_TASK_LIMIT %d), exports of %gs, %d table(s) of one file"
          % (a.clusters, a.replicas, CAP, CAP, a.export_seconds, a.tables))
    print("  wall %.1f s (first event in -> last crawled out), %.1f runs/min"
          % (wall, 60.0 * len(crawled) / wall if wall > 0 else 0))
    print("  lost %d: %d without crawled, ledger not succeeded %s, lake partitions wrong %d; "
          "failures/dead letters seen %d; producer exits %s"
          % (lost, len(not_crawled), not_ledger, len(bad_lake), len(failed), prc))
    why = {}
    for x in refused:
        why[x["result"]] = why.get(x["result"], 0) + 1
    print("  most exports at once %s (cap %d); StartExportTask calls not started %d %s"
          % (acct.get("max_concurrent"), CAP, len(refused), why or ""))
    print("  peak RSS MB: " + ", ".join("%s %.1f" % (k, v) for k, v in sorted(rss.items())) +
          "; producers %s" % ", ".join("%.1f" % v for v in
                                       sorted({p: m for p, m in prod_rss}.values())))
    print("  load average %.2f %.2f %.2f; logs in %s" % (*os.getloadavg(), tmp))
    return 1 if lost or failed else 0


if __name__ == "__main__":
    sys.exit(main())
