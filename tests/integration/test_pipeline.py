"""The whole pipeline end to end on the local stack (issue 3): snaplake-producer in event mode
-> export worker -> copy worker -> crawl worker, with the run ledger in PostgreSQL, Kafka
topics of the test's own, and moto behind a private AWS stand-in (tests/standin) that gives
exports and crawler runs AWS's lifecycle and injects faults. Run with .stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_pipeline.py

Covered:
  - end to end: three clusters (current naming convention, previous convention, an export
    that FAILS with a cause) fed as EventBridge events plus a duplicate; two `crawled`, one
    `failure`, the lake's exact keys, the ledger per stage, three runs for four events;
  - faults: 5% of RDS, S3 and Glue requests answered 500, 503 SlowDown/ServiceUnavailable or
    throttled, and every run still completes;
  - replay: the `exported` message produced again (an operator replaying the offset) redoes
    copy and crawl idempotently, with no second export.

The stand-in is private to this module so its caps, counters and faults never reach other
test files. Every wait is bounded.
"""

import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT
EXPORT_ROOT = "s3-export"
LAKE_PREFIX = "lake"
CAUSE = ("The IAM role arn:aws:iam::%s:role/rds-s3-export is not authorized to call "
         "kms:GenerateDataKey (injected)" % h.ACCOUNT)

# Two layouts in the stand-in's format (tests/standin/README.md, "Layout lookup").
CURRENT = {"convention": "current",
           "databases": {"appdb": {"public.users": {"files": 3, "partitions": 2, "bytes": 96},
                                   "public.orders": {"files": 2, "partitions": 1,
                                                     "bytes": 150}},
                         "auth": {"iam.tokens": {"files": 1, "partitions": 3, "bytes": 40}}}}
PREVIOUS = {"convention": "previous",
            "databases": {"sales": {"public.invoices": {"files": 4, "partitions": 2,
                                                        "bytes": 120},
                                    "public.refunds": {"files": 1, "partitions": 1,
                                                       "bytes": 64}}}}


def layout_files(layout):
    return sum(int(t.get("files", 1)) * int(t.get("partitions", 1))
               for tables in layout["databases"].values() for t in tables.values())


class Pipeline:
    """One test's world: buckets, a Glue database, topics, clusters with a crawler each, one
    worker per stage, readers of the output topics."""

    def __init__(self, tmp, name):
        h.standin_config_reset()
        h.standin_reset(all=True)
        self.tmp = tmp
        self.name = name
        self.s3 = h.aws("s3", standin=False)   # checks read moto itself, never faulted
        self.glue = h.aws("glue")
        self.export_bucket = h.create_bucket("sl-exp-%s" % h.uid(12))
        self.lake_bucket = h.create_bucket("sl-lake-%s" % h.uid(12))
        self.db = "sl_pipe_%s" % h.uid()
        self.glue.create_database(DatabaseInput={"Name": self.db})
        self.prefix = h.topic_prefix(name)
        h.create_topics(self.prefix)
        self.clusters = []
        self.workers = {}
        self.readers = {}

    # ---------------------------------------------------------------------------- setup
    def add_cluster(self, layout=None, fail_cause=None, prefix="c"):
        c = h.create_cluster("%s-%s" % (prefix, h.uid(10)))
        self.glue.create_crawler(
            Name="snaplake-%s" % c["cluster"], Role="arn:aws:iam::%s:role/glue" % h.ACCOUNT,
            DatabaseName=self.db,
            Targets={"S3Targets": [{"Path": "s3://%s/%s/%s/" % (self.lake_bucket, LAKE_PREFIX,
                                                                c["cluster"])}]})
        # Keyed by cluster id: the least specific key the stand-in looks up.
        if layout is not None:
            h.standin_config(layouts={c["cluster"]: layout})
        if fail_cause is not None:
            h.standin_config(fail_sources={c["cluster"]: fail_cause})
        c["layout"] = layout
        self.clusters.append(c)
        return c

    def start_workers(self, **extra):
        common = dict(STAGE_RETRY_BASE="200ms", STAGE_RETRY_MAX="2s",
                      KAFKA_SESSION_TIMEOUT_MS="6000", KAFKA_HEARTBEAT_INTERVAL_MS="1000")
        common.update(extra)
        per_stage = {
            "export": dict(EXPORT_S3_BUCKET=self.export_bucket, EXPORT_S3_PREFIX=EXPORT_ROOT,
                           EXPORT_IAM_ROLE_ARN=ROLE, EXPORT_KMS_KEY_ID=KMS,
                           EXPORT_POLL_INTERVAL="200ms", EXPORT_SLOT_RETRY="300ms"),
            "copy": dict(LAKE_BUCKET=self.lake_bucket, LAKE_PREFIX=LAKE_PREFIX,
                         AWS_S3_FORCE_PATH_STYLE="true", COPY_CONCURRENCY="16"),
            "crawl": dict(CRAWLER_NAME="snaplake-{cluster}", CRAWL_POLL_INTERVAL="200ms",
                          CRAWL_CLOCK_SKEW="200ms"),
        }
        for stage, env in per_stage.items():
            env.update(common)
            env.update(KAFKA_GROUP_ID="g-%s%s" % (self.prefix, stage))
            self.workers[stage] = h.Worker(stage, h.worker_env(self.prefix, **env),
                                           self.tmp / ("%s-%s.log" % (self.name, stage)))
        for w in self.workers.values():
            w.wait_ready(90)
        for t in ("snapshots", "exports", "copies", "crawls", "failures", "dlq"):
            self.readers[t] = h.KafkaReader(self.prefix + t)

    def event(self, c):
        """An EventBridge event of the seed's pattern for c's automated snapshot."""
        return h.snapshot_event(c)

    def produce_events(self, events):
        """Runs snaplake-producer in event mode over events (JSON lines); returns its summary."""
        f = self.tmp / ("%s-events.jsonl" % self.name)
        f.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
        env = h.worker_env(self.prefix, AWS_ENDPOINT_URL=os.environ["STANDIN_ENDPOINT"],
                           PRODUCER_RETRY_BASE="100ms", EVENTS_FILE=str(f))
        for k in ("CLUSTERS", "PRODUCER_MODE"):
            env.pop(k, None)
        r = subprocess.run([h.producer_binary(), "event"], env=env, capture_output=True,
                           timeout=60, cwd=h.ROOT)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        assert r.returncode == 0, "producer exit %d\n%s\n%s" % (r.returncode, out[-3000:],
                                                                 err[-3000:])
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
        logs = []
        for line in out.splitlines():
            try:
                logs.append(json.loads(line))
            except ValueError:
                pass
        s = [x for x in logs if x.get("event") == "summary"]
        assert len(s) == 1, logs
        return {k: int(s[0][k]) for k in ("published", "duplicates", "dead_lettered", "errors")}

    # --------------------------------------------------------------------------- output
    def read(self, topic, n, timeout):
        """Waits until topic holds n records in all (fails on timeout); returns them all."""
        r = self.readers[topic]
        recs = h.wait_for(lambda: len(r.read(n, 0.5)) >= n and r.records, timeout,
                          what="%d records on %s" % (n, topic))
        return list(recs)

    def settled(self):
        """Each stage's worker took every message of its input topic, and each of those jobs
        is over (committed or fenced out): nothing more is coming, upstream first."""
        for stage, topic in (("export", "snapshots"), ("copy", "exports"), ("crawl", "copies")):
            n = len(self.readers[topic].read_to_end())
            ev = [r.get("event") for r in self.workers[stage].logs()]
            if ev.count("committed") + ev.count("fenced_out") < n:
                return False
        return True

    def assert_no_more(self, topic, n):
        """topic holds exactly n records once the pipeline settled."""
        h.wait_for(self.settled, 60, what="the pipeline to settle")
        recs = self.readers[topic].read_to_end()
        assert len(recs) == n, "expected %d records on %s, got %r" % (n, topic, recs)

    # ----------------------------------------------------------------------------- S3
    def export_files(self, c):
        """{key: size} of the data files the stand-in wrote for c's export."""
        root = "%s/%s/%s/%s/" % (EXPORT_ROOT, c["cluster"], c["date"], c["run_id"])
        return {k: v for k, v in list_keys(self.s3, self.export_bucket, root).items()
                if k.endswith(".gz.parquet")}

    def expected_lake(self, c):
        """{lake key: size} the copy must produce for c: <LAKE_PREFIX>/<cluster>/<db>/
        <schema.table>/date=<date>/<file>, whichever naming convention the export used."""
        root = "%s/%s/%s/%s/" % (EXPORT_ROOT, c["cluster"], c["date"], c["run_id"])
        want = {}
        for k, size in self.export_files(c).items():
            parts = k[len(root):].split("/")
            assert len(parts) in (3, 4), k   # db/table/[n/]file
            dest = "%s/%s/%s/%s/date=%s/%s" % (LAKE_PREFIX, c["cluster"], parts[0], parts[1],
                                               c["date"], parts[-1])
            assert dest not in want, "file name shared across partitions: %s" % dest
            want[dest] = size
        return want

    def lake(self):
        return list_keys(self.s3, self.lake_bucket, "")

    # ------------------------------------------------------------------------- teardown
    def stop(self):
        """SIGTERMs every worker; returns {stage: (exit code, stderr tail)}."""
        res = {}
        for stage, w in self.workers.items():
            rc = w.stop(30)
            res[stage] = (rc, w.stderr()[-3000:])
        self.workers = {}
        for r in self.readers.values():
            r.close()
        self.readers = {}
        return res


def list_keys(s3, bucket, prefix):
    keys = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            keys[o["Key"]] = o["Size"]
    return keys


def assert_clean_exit(p):
    for stage, (rc, err) in p.stop().items():
        assert rc == 0, "%s worker exit %s; stderr:\n%s" % (stage, rc, err)
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, \
            "%s worker:\n%s" % (stage, err)
        assert "LeakSanitizer" not in err, "%s worker:\n%s" % (stage, err)




def ledger_runs(clusters):
    return h.psql_json("SELECT run_id, cluster, snapshot_id FROM snaplake_runs"
                       " WHERE cluster = ANY(string_to_array(:'p1', ','))",
                       ",".join(c["cluster"] for c in clusters))


def wait_ledger(run_ids, stage, status, timeout=20):
    """Rows of stage for run_ids once all of them have status (the ledger is written right
    after the output is published, so it may trail the message by a moment)."""
    return h.wait_for(lambda: (lambda rows: rows if len(rows) == len(run_ids) and all(
        r["status"] == status for r in rows.values()) else None)(
            h.ledger_stage(list(run_ids), stage)),
        timeout, what="ledger %s %s for %s" % (stage, status, sorted(run_ids)))


# --------------------------------------------------------------------------- end to end

def test_end_to_end_three_clusters(pipeline):
    p = pipeline()
    h.standin_config(export_seconds=2.5, crawler_seconds=1.0)
    cur = p.add_cluster(CURRENT, prefix="cur")
    prev = p.add_cluster(PREVIOUS, prefix="prev")
    bad = p.add_cluster(fail_cause=CAUSE, prefix="bad")
    good = [cur, prev]
    p.start_workers()

    summary = p.produce_events([p.event(cur), p.event(prev), p.event(bad), p.event(cur)])
    assert summary == {"published": 3, "duplicates": 1, "dead_lettered": 0, "errors": 0}

    crawled = p.read("crawls", 2, 90)
    failures = p.read("failures", 1, 30)

    by_cluster = {r.key: r.value for r in crawled}
    assert set(by_cluster) == {cur["cluster"], prev["cluster"]}, crawled
    st = h.standin_state()
    tasks = {t["ExportTaskIdentifier"]: t for t in st["tasks"]}
    for c in good:
        m = by_cluster[c["cluster"]]
        files = p.export_files(c)
        assert len(files) == layout_files(c["layout"]) == tasks[c["run_id"]]["FilesWritten"]
        assert m["type"] == "crawled" and m["v"] == 1
        assert m["run_id"] == c["run_id"] and m["snapshot_id"] == c["snapshot_id"]
        assert m["crawl_status"] == "SUCCEEDED"
        assert m["crawler"] == "snaplake-%s" % c["cluster"]
        assert m["export_task_id"] == c["run_id"]
        assert m["objects"] == len(files) and m["bytes"] == sum(files.values())
        assert m["removed"] == 0 and m["failed_tables"] == []
        assert m["lake_bucket"] == p.lake_bucket and m["lake_prefix"] == LAKE_PREFIX
        assert sorted(m["tables"]) == sorted("%s/%s" % (db, t) for db, ts in
                                             c["layout"]["databases"].items() for t in ts)
        assert m["crawl_started_at"] >= m["copied_at"][:19]

    assert len(failures) == 1
    f = failures[0]
    assert f.key == bad["cluster"]
    fv = f.value
    assert fv["type"] == "failure" and fv["stage"] == "export"
    assert fv["run_id"] == bad["run_id"] and fv["cluster"] == bad["cluster"]
    assert fv["error_code"] == "ExportFailed" and CAUSE in fv["error_message"]
    assert fv["export_task_id"] == bad["run_id"]
    assert tasks[bad["run_id"]]["Status"] == "FAILED"
    assert tasks[bad["run_id"]]["FailureCause"] == CAUSE

    # The lake holds exactly the two exports' files, each where the layout says, whole.
    want = {}
    for c in good:
        want.update(p.expected_lake(c))
    assert p.lake() == want
    # Both conventions were exercised: partition folders in one export, none in the other.
    depth = {c["cluster"]: {k.count("/") for k in p.export_files(c)} for c in good}
    assert depth[cur["cluster"]] == {7} and depth[prev["cluster"]] == {6}, depth

    good_ids = {c["run_id"] for c in good}
    for stage in ("export", "copy", "crawl"):
        rows = wait_ledger(good_ids, stage, "succeeded")
        assert all(r["attempt"] == 1 and r["finished_at"] for r in rows.values()), rows
    bad_row = wait_ledger({bad["run_id"]}, "export", "failed")[bad["run_id"]]
    assert bad_row["error_code"] == "ExportFailed" and CAUSE in bad_row["error_message"]
    assert h.ledger_stage([bad["run_id"]], "copy") == {}
    assert h.ledger_stage([bad["run_id"]], "crawl") == {}
    # Four events, three runs: the duplicate made none.
    runs = ledger_runs(p.clusters)
    assert sorted(r["run_id"] for r in runs) == sorted(c["run_id"] for c in p.clusters)
    # ... and no second export or message either.
    starts = [s for s in st["start_calls"] if s["result"] == "started"]
    assert sorted(s["task_id"] for s in starts) == sorted(c["run_id"] for c in p.clusters)
    p.assert_no_more("exports", 2)
    p.assert_no_more("crawls", 2)
    p.assert_no_more("failures", 1)
    p.assert_no_more("dlq", 0)

    assert_clean_exit(p)


# ------------------------------------------------------------------------------- faults

FAULT_CLUSTERS = 6
FAULT_LAYOUT = {"convention": "current",
                "databases": {"appdb": {"public.events": {"files": 20, "partitions": 2,
                                                          "bytes": 64},
                                        "public.users": {"files": 5, "partitions": 2,
                                                         "bytes": 64}}}}


def test_faults_every_run_completes(pipeline):
    """5% of every AWS request the workers make (RDS StartExportTask/DescribeExportTasks, S3
    ListObjectsV2/CopyObject/GetObject/DeleteObjects, Glue StartCrawler/GetCrawler) is answered
    500, 503 or throttled without reaching moto. The counts per service below are sized so
    that, at 5%, a service escaping every fault has odds of about 1e-5 whatever the seed
    (0.95^225). Each worker makes its AWS calls one at a time, so its request count is bound
    by the stand-in's latency (about 13-25 calls/s here) more than by the poll interval: the
    exports (two waves of 10 s, the cap being 5) and the crawls (10 s) last long enough for
    about 250 DescribeExportTasks and GetCrawler calls; the copies alone make 300 S3 calls.
    The request counts are asserted too (a slower machine makes fewer, and the odds grow)."""
    p = pipeline()
    h.standin_config(export_seconds=10.0, crawler_seconds=10.0, export_cap=5)
    clusters = [p.add_cluster(FAULT_LAYOUT, prefix="flt") for _ in range(FAULT_CLUSTERS)]
    p.start_workers(EXPORT_POLL_INTERVAL="100ms", CRAWL_POLL_INTERVAL="100ms",
                    STAGE_MAX_ATTEMPTS="8")
    seed = int(os.environ.get("SL_FAULT_SEED", "20240229"))
    h.standin_reset()   # count only what the pipeline does from here on
    h.standin_config(faults={"rate": 0.05, "kinds": ["500", "503", "throttle"],
                             "services": ["rds", "s3", "glue"], "actions": [],
                             "seed": seed})
    t0 = time.time()
    summary = p.produce_events([p.event(c) for c in clusters])
    assert summary["published"] == FAULT_CLUSTERS and summary["errors"] == 0

    crawled = p.read("crawls", FAULT_CLUSTERS, 600)
    elapsed = time.time() - t0
    st = h.standin_state()
    h.standin_config(faults={"rate": 0.0})
    print("faults: %.1fs, injected %s, by request %s, requests %s"
          % (elapsed, st["faults_injected"], st["faults_by_request"], st["requests"]))

    got = {r.key: r.value for r in crawled}
    assert set(got) == {c["cluster"] for c in clusters}
    p.assert_no_more("failures", 0)
    p.assert_no_more("dlq", 0)
    want = {}
    for c in clusters:
        m = got[c["cluster"]]
        files = p.export_files(c)
        assert len(files) == layout_files(FAULT_LAYOUT)
        assert m["crawl_status"] == "SUCCEEDED" and m["run_id"] == c["run_id"]
        assert m["objects"] == len(files) and m["bytes"] == sum(files.values())
        assert m["removed"] == 0
        want.update(p.expected_lake(c))
    assert p.lake() == want

    ids = {c["run_id"] for c in clusters}
    for stage in ("export", "copy", "crawl"):
        wait_ledger(ids, stage, "succeeded")
    # One export per run: a faulted StartExportTask never reached moto, and a retry after a
    # lost answer adopts the task.
    started = [s["task_id"] for s in st["start_calls"] if s["result"] == "started"]
    assert sorted(started) == sorted(ids), st["start_calls"]

    # The faults were real, and each service got its share.
    by_kind = st["faults_injected"]
    assert sum(by_kind.values()) > 0, st
    per_service = {}
    for k, n in st["faults_by_request"].items():
        per_service[k.split(":", 1)[0]] = per_service.get(k.split(":", 1)[0], 0) + n
    for svc in ("rds", "s3", "glue"):
        assert per_service.get(svc, 0) > 0, (svc, st["faults_by_request"], st["requests"])
    assert sum(per_service.values()) == sum(by_kind.values())
    # The workers saw them and retried, rather than the faults missing their requests.
    reqs = st["requests"]
    assert reqs.get("rds:DescribeExportTasks", 0) >= 150, reqs
    assert reqs.get("glue:AWSGlue.GetCrawler", 0) >= 150, reqs
    assert reqs.get("s3:PUT", 0) >= FAULT_CLUSTERS * layout_files(FAULT_LAYOUT), reqs

    assert_clean_exit(p)


# ------------------------------------------------------------------------------- replay

def test_replay_exported_redoes_copy_and_crawl(pipeline):
    p = pipeline()
    h.standin_config(export_seconds=2.0, crawler_seconds=1.0)
    c = p.add_cluster(CURRENT, prefix="rpl")
    p.start_workers()
    assert p.produce_events([p.event(c)])["published"] == 1

    first = p.read("crawls", 1, 90)[0].value
    exported = p.read("exports", 1, 5)
    assert len(exported) == 1
    lake1 = p.lake()
    assert lake1 == p.expected_lake(c) and len(lake1) == layout_files(CURRENT)
    wait_ledger({c["run_id"]}, "crawl", "succeeded")
    st1 = h.standin_state()
    assert st1["requests"].get("rds:StartExportTask") == 1

    # The operator replays the exports topic from this run's offset: the same bytes again.
    h.produce(p.prefix + "exports", exported[0].value, key=c["cluster"])

    copied = p.read("copies", 2, 60)
    second = p.read("crawls", 2, 60)[1].value
    assert [r.value["run_id"] for r in copied] == [c["run_id"]] * 2
    again = copied[1].value
    assert again["removed"] == 0, again
    assert again["objects"] == first["objects"] and again["bytes"] == first["bytes"]
    assert second["crawl_status"] == "SUCCEEDED" and second["run_id"] == c["run_id"]
    assert second["crawl_started_at"] >= again["copied_at"][:19]
    # Same keys, same sizes: the copy overwrote in place, nothing duplicated or removed.
    assert p.lake() == lake1

    copy_row = wait_ledger({c["run_id"]}, "copy", "succeeded")[c["run_id"]]
    assert copy_row["attempt"] == 2, copy_row
    crawl_row = wait_ledger({c["run_id"]}, "crawl", "succeeded")[c["run_id"]]
    assert crawl_row["attempt"] == 2, crawl_row
    export_row = h.ledger_stage([c["run_id"]], "export")[c["run_id"]]
    assert export_row["attempt"] == 1 and export_row["status"] == "succeeded"
    # The export stage was not redone: one StartExportTask, one task, nothing new on exports.
    st2 = h.standin_state()
    assert st2["requests"].get("rds:StartExportTask") == 1, st2["requests"]
    assert [s["result"] for s in st2["start_calls"]] == ["started"]
    assert len(st2["tasks"]) == 1
    assert [(s["crawler"], s["result"]) for s in st2["crawl_starts"]] == \
        [("snaplake-%s" % c["cluster"], "started")] * 2, st2["crawl_starts"]
    p.assert_no_more("exports", 2)
    p.assert_no_more("failures", 0)

    assert_clean_exit(p)


def test_faults_on_the_start_calls(pipeline):
    """StartExportTask and StartCrawler are called about once per run, so 5% rarely lands on
    them; here 80% of them fail (RDS throttling with real RDS's `Throttling` code), and every
    run still makes exactly one export and completes. With 6 runs the odds that no start call
    of a kind is faulted are 0.2^6 (6e-5), whatever the seed; with 10 client attempts and 8
    stage attempts a run gives up with odds of 0.8^80."""
    p = pipeline()
    h.standin_config(export_seconds=2.0, crawler_seconds=1.0, export_cap=5)
    clusters = [p.add_cluster(CURRENT, prefix="fst") for _ in range(FAULT_CLUSTERS)]
    p.start_workers(STAGE_MAX_ATTEMPTS="8", AWS_MAX_ATTEMPTS="10",
                    AWS_RETRY_BASE_DELAY="20ms")
    seed = int(os.environ.get("SL_FAULT_SEED", "20240229"))
    h.standin_reset()
    h.standin_config(faults={"rate": 0.8, "kinds": ["500", "503", "throttle"],
                             "services": [], "seed": seed, "query_throttle_code": "Throttling",
                             "actions": ["StartExportTask", "AWSGlue.StartCrawler"]})
    summary = p.produce_events([p.event(c) for c in clusters])
    assert summary["published"] == FAULT_CLUSTERS and summary["errors"] == 0

    crawled = p.read("crawls", FAULT_CLUSTERS, 90)
    st = h.standin_state()
    h.standin_config(faults={"rate": 0.0, "actions": []})
    print("start-call faults: injected %s, by request %s, requests %s"
          % (st["faults_injected"], st["faults_by_request"], st["requests"]))
    assert {r.key for r in crawled} == {c["cluster"] for c in clusters}
    assert all(r.value["crawl_status"] == "SUCCEEDED" for r in crawled)
    p.assert_no_more("failures", 0)
    want = {}
    for c in clusters:
        want.update(p.expected_lake(c))
    assert p.lake() == want
    ids = {c["run_id"] for c in clusters}
    for stage in ("export", "copy", "crawl"):
        wait_ledger(ids, stage, "succeeded")

    fb = st["faults_by_request"]
    assert fb.get("rds:StartExportTask", 0) > 0 and fb.get("glue:AWSGlue.StartCrawler", 0) > 0
    assert set(fb) <= {"rds:StartExportTask", "glue:AWSGlue.StartCrawler"}, fb
    # A faulted start never reached moto: one started export and one crawl run per cluster.
    started = [s["task_id"] for s in st["start_calls"] if s["result"] == "started"]
    assert sorted(started) == sorted(ids), st["start_calls"]
    runs = [s["crawler"] for s in st["crawl_starts"] if s["result"] == "started"]
    assert sorted(runs) == sorted("snaplake-%s" % c["cluster"] for c in clusters), runs

    assert_clean_exit(p)
