"""Integration tests of the export stage (snaplake-worker export) on the local stack: real
Kafka, PostgreSQL (advisory-lock slots, run ledger) and moto behind a stand-in of our own that
gives exports AWS's lifecycle (tests/standin). Run with .stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_export.py

The stand-in's own cap is raised far above EXPORT_TASK_LIMIT in the cap tests, so the bound
we assert is kept by the workers' slots, not by the stand-in refusing starts.
"""

import hashlib
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT


@pytest.fixture
def ctx(standin, request, tmp_path):
    """A clean stand-in, a bucket, a unique topic prefix, and worker bookkeeping."""
    h.standin_config_reset()
    h.standin_reset(all=True)
    c = {"prefix": h.topic_prefix(request.node.name), "bucket": h.create_bucket(),
         "tmp": tmp_path, "workers": []}
    h.create_topics(c["prefix"])
    yield c
    for w in c["workers"]:
        if w.alive():
            w.stop()


def start_worker(c, name, prefix=None, **env):
    prefix = prefix or c["prefix"]
    base = dict(EXPORT_S3_BUCKET=c["bucket"], EXPORT_IAM_ROLE_ARN=ROLE, EXPORT_KMS_KEY_ID=KMS,
                EXPORT_POLL_INTERVAL="1s", EXPORT_SLOT_RETRY="500ms",
                KAFKA_GROUP_ID="export-" + prefix, KAFKA_SESSION_TIMEOUT_MS="6000",
                KAFKA_HEARTBEAT_INTERVAL_MS="1000", STAGE_RETRY_BASE="200ms")
    base.update(env)
    w = h.Worker("export", h.worker_env(prefix, **base), c["tmp"] / ("%s.log" % name))
    c["workers"].append(w)
    return w


def assigned_partitions(w):
    """Partitions assigned by the latest rebalance (0 after a revoke)."""
    n = 0
    for r in w.logs():
        m = r.get("msg", "")
        if m.startswith("assigned "):
            n = int(m.split()[1])
        elif m.startswith("revoking "):
            n = 0
    return n


def wait_group_settled(workers, total=12, timeout=60):
    h.wait_for(lambda: all(w.alive() for w in workers)
               and sum(assigned_partitions(w) for w in workers) == total
               and all(assigned_partitions(w) > 0 for w in workers),
               timeout, what="consumer group to settle")


def feed(c, clusters, mode="snapshot"):
    for cl in clusters:
        h.produce(c["prefix"] + "snapshots", h.snapshot_message(cl, mode), key=cl["cluster"])


def our_tasks(state, ids):
    return [t for t in state["tasks"] if t["ExportTaskIdentifier"] in ids]


def test_export_cap_twelve_clusters_two_workers(ctx):
    h.standin_config(export_cap=50, export_seconds=3.0)
    clusters = [h.create_cluster() for _ in range(12)]
    ids = {cl["run_id"] for cl in clusters}
    w1 = start_worker(ctx, "w1", EXPORT_TASK_LIMIT="5")
    w2 = start_worker(ctx, "w2", EXPORT_TASK_LIMIT="5")
    wait_group_settled([w1, w2])
    feed(ctx, clusters)

    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(12, 150)
    got = {x.value["run_id"]: x for x in recs}
    assert set(got) == ids, "exported runs: %s" % sorted(got)
    for cl in clusters:
        v = got[cl["run_id"]].value
        assert v["type"] == "exported" and v["export_task_id"] == cl["run_id"]
        assert v["s3_bucket"] == ctx["bucket"]
        assert v["s3_prefix"] == "s3-export/%s/%s" % (cl["cluster"], cl["date"])
        assert v["snapshot_id"] == cl["snapshot_id"] and v["export_started_at"]
        assert got[cl["run_id"]].key == cl["cluster"]

    st = h.standin_state()
    assert st["accounts"][h.ACCOUNT]["max_concurrent"] <= 5, st["accounts"]
    assert st["accounts"][h.ACCOUNT]["max_concurrent"] == 5, "the slots were never all used"
    tasks = our_tasks(st, ids)
    assert len(tasks) == 12 and all(t["Status"] == "COMPLETE" for t in tasks)
    starts = [c for c in st["start_calls"] if c["task_id"] in ids]
    assert [c for c in starts if c["result"] == "started"].__len__() == 12
    # Our own counting kept us under the limit: the stand-in never had to refuse.
    assert not [c for c in starts if c["result"] == "ExportTaskLimitReachedFault"]
    # A queued export starts only once a slot freed. How soon after is a figure for the
    # benchmarks (the slot hand-off), not a wall-clock assert on a loaded machine.
    spans = sorted((t["TaskStartTime"], t["TaskEndTime"]) for t in tasks)
    ends = sorted(e for _, e in spans)
    for start, _ in spans[5:]:
        before = [e for e in ends if e <= start]
        assert before, "a 6th export started before any ended"

    rows = h.ledger_stage(list(ids), "export")
    assert len(rows) == 12 and all(r["status"] == "succeeded" for r in rows.values()), rows
    assert all(r["export_task_id"] == rid for rid, r in rows.items())
    # Queued runs were recorded as waiting on the way (how many depends on how fast the 12
    # messages arrive relative to the 3 s exports; with the slots all used, some did wait).
    waited = h.psql_json("SELECT DISTINCT run_id FROM snaplake_stage_events WHERE stage = 'export'"
                         " AND status = 'waiting' AND run_id = ANY(string_to_array(:'p1', ','))",
                         ",".join(ids))
    assert len(waited) >= 1, waited
    assert w1.alive() and w2.alive()
    assert w1.stop() == 0 and w2.stop() == 0


def test_worker_killed_mid_export_is_adopted(ctx):
    cl = h.create_cluster()
    # The export runs until the survivor adopted it (ended below).
    h.standin_config(export_cap=50, task_seconds={cl["run_id"]: 600.0})
    w1 = start_worker(ctx, "w1")
    w2 = start_worker(ctx, "w2")
    wait_group_settled([w1, w2])
    feed(ctx, [cl])

    def who_started():
        for w in (w1, w2):
            if any(r.get("event") == "export_started" for r in w.logs()):
                return w
        return None
    victim = h.wait_for(who_started, 60, what="an export to start")
    survivor = w2 if victim is w1 else w1
    victim.kill()
    assert h.standin_state()["tasks"][0]["Status"] in ("STARTING", "IN_PROGRESS")
    survivor.wait_log(lambda r: r.get("event") == "adopt", 90, "the survivor to adopt the export")
    h.standin_config(task_seconds={cl["run_id"]: 0})

    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(1, 90)
    assert [x.value["run_id"] for x in recs] == [cl["run_id"]]
    adopt = [x for x in survivor.logs() if x.get("event") == "adopt"]
    assert adopt and adopt[0]["export_task_id"] == cl["run_id"]
    calls = [c for c in h.standin_state()["start_calls"] if c["task_id"] == cl["run_id"]]
    assert [c["result"] for c in calls] == ["started"], calls
    row = h.ledger_stage([cl["run_id"]], "export")[cl["run_id"]]
    assert row["status"] == "succeeded" and row["attempt"] >= 2, row
    assert survivor.stop() == 0


def test_failed_export_publishes_failure_with_cause(ctx):
    cl = h.create_cluster()
    cause = "S3 bucket %s is in another region (injected)" % ctx["bucket"]
    h.standin_config(export_seconds=1.5, fail_tasks={cl["run_id"]: cause})
    w = start_worker(ctx, "w")
    w.wait_ready()
    feed(ctx, [cl])
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        recs = r.read(1, 60)
    assert len(recs) == 1
    f = recs[0].value
    assert f["type"] == "failure" and f["stage"] == "export"
    assert f["run_id"] == cl["run_id"] and f["cluster"] == cl["cluster"]
    assert f["error_code"] == "ExportFailed" and cause in f["error_message"]
    assert f["export_task_id"] == cl["run_id"] and f["attempt"] == 1
    assert f["input"]["snapshot_id"] == cl["snapshot_id"]
    row = h.ledger_stage([cl["run_id"]], "export")[cl["run_id"]]
    assert row["status"] == "failed" and row["error_code"] == "ExportFailed"
    assert cause in row["error_message"]
    w.wait_log(lambda r: r.get("event") == "committed" and r.get("run_id") == cl["run_id"], 30,
               "the failed job committed")
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        assert r.read_to_end() == []
    assert w.stop() == 0


def test_exports_running_elsewhere_count_against_limit(ctx):
    h.standin_config(export_cap=50, export_seconds=3.0)
    foreign = [h.create_cluster() for _ in range(3)]
    ours = [h.create_cluster() for _ in range(4)]
    rds = h.aws("rds")
    for i, cl in enumerate(foreign):
        tid = "other-team-%s" % h.uid(10)
        h.standin_config(task_seconds={tid: 8.0})
        rds.start_export_task(ExportTaskIdentifier=tid, SourceArn=cl["snapshot_arn"],
                              S3BucketName=ctx["bucket"], IamRoleArn=ROLE, KmsKeyId=KMS)
    t0 = time.time()
    w = start_worker(ctx, "w", EXPORT_TASK_LIMIT="5")
    w.wait_ready()
    feed(ctx, ours)
    ids = {cl["run_id"] for cl in ours}
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(4, 120)
    assert {x.value["run_id"] for x in recs} == ids
    st = h.standin_state()
    assert st["accounts"][h.ACCOUNT]["max_concurrent"] <= 5, st["accounts"]
    assert not [c for c in st["start_calls"]
                if c["task_id"] in ids and c["result"] != "started"], st["start_calls"]
    # While the 3 foreign exports ran, at most 2 of ours ran at any moment (3 + 2 = 5).
    foreign_end = min(t["TaskEndTime"] for t in st["tasks"]
                      if t["ExportTaskIdentifier"].startswith("other-team-"))
    mine = our_tasks(st, ids)
    for s in sorted(t["TaskStartTime"] for t in mine if t["TaskStartTime"] < foreign_end):
        running = [t for t in mine if t["TaskStartTime"] <= s < t["TaskEndTime"]]
        assert len(running) <= 2, [(t["ExportTaskIdentifier"], t["TaskStartTime"] - t0)
                                   for t in running]
    assert sum(1 for t in mine if t["TaskStartTime"] < foreign_end) >= 3, "never queued"
    assert st["accounts"][h.ACCOUNT]["max_concurrent"] == 5
    assert any("2 foreign exports" in r.get("msg", "") or "3 foreign exports" in r.get("msg", "")
               for r in w.logs())
    assert w.stop() == 0


def test_adopted_export_publishes_the_tasks_own_prefix(ctx):
    # An export started under an earlier EXPORT_S3_PREFIX (by a worker since redeployed with a
    # new one) writes where it was told: the `exported` message must point there, or the copy
    # finds nothing.
    h.standin_config(export_seconds=1.0)
    cl = h.create_cluster()
    old = "old-root/%s/%s" % (cl["cluster"], cl["date"])
    h.aws("rds").start_export_task(ExportTaskIdentifier=cl["run_id"],
                                   SourceArn=cl["snapshot_arn"], S3BucketName=ctx["bucket"],
                                   S3Prefix=old, IamRoleArn=ROLE, KmsKeyId=KMS)
    w = start_worker(ctx, "w", EXPORT_S3_PREFIX="new-root")
    w.wait_ready()
    feed(ctx, [cl])
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(1, 60)
    v = recs[0].value
    assert v["export_task_id"] == cl["run_id"] and v["s3_bucket"] == ctx["bucket"], v
    assert v["s3_prefix"] == old, v
    assert any(r.get("event") == "adopt" for r in w.logs())
    listed = h.aws("s3").list_objects_v2(Bucket=ctx["bucket"],
                                         Prefix="%s/%s/" % (old, cl["run_id"]))
    assert listed.get("KeyCount", 0) > 0, "the export wrote nothing under %s" % old
    calls = [c for c in h.standin_state()["start_calls"] if c["task_id"] == cl["run_id"]]
    assert [c["result"] for c in calls] == ["started"], calls
    assert w.stop() == 0


def test_bad_messages_go_to_dlq_and_worker_keeps_running(ctx):
    w = start_worker(ctx, "w")
    w.wait_ready()
    topic = ctx["prefix"] + "snapshots"
    h.produce(topic, b"{not json", key=b"bad-1")
    h.produce(topic, {"v": 1, "type": "snapshot", "cluster": "x"}, key=b"bad-2")
    wrong = h.snapshot_message(h.create_cluster())
    wrong["v"] = 2
    h.produce(topic, wrong, key=b"bad-3")
    with h.KafkaReader(ctx["prefix"] + "dlq") as r:
        recs = r.read(3, 60)
    by_key = {x.key: x.value for x in recs}
    assert set(by_key) == {"bad-1", "bad-2", "bad-3"}, by_key
    for k, v in by_key.items():
        assert v["type"] == "dead_letter" and v["topic"] == topic and v["reason"]
        assert v["partition"] >= 0 and v["offset"] >= 0
    assert by_key["bad-1"]["payload"] == "{not json"
    assert "JSON" in by_key["bad-1"]["reason"]
    assert "run_id" in by_key["bad-2"]["reason"] or "missing" in by_key["bad-2"]["reason"]
    assert "v" in by_key["bad-3"]["reason"] or "version" in by_key["bad-3"]["reason"]
    assert w.alive()
    # ... and still does its job.
    h.standin_config(export_seconds=1.0)
    cl = h.create_cluster()
    feed(ctx, [cl])
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        assert [x.value["run_id"] for x in r.read(1, 60)] == [cl["run_id"]]
    assert w.alive() and w.stop() == 0


def cluster_run_id(cluster, when):
    """The producer's cluster-mode run id (ids.h): `<cluster>-<when>`, or, over 60 chars, the
    cluster cut to keep the whole at 60 and the first 8 hex chars of its SHA-256 appended."""
    full = "%s-%s" % (cluster, when)
    if len(full) <= 60:
        return full
    keep = 60 - 1 - 16 - 1 - 8
    while keep > 1 and cluster[keep - 1] == "-":
        keep -= 1
    return "%s-%s-%s" % (cluster[:keep], when, hashlib.sha256(full.encode()).hexdigest()[:8])


def test_cluster_mode_long_cluster_ids_export(ctx):
    # 44 chars is the shortest cluster id whose run id is shortened and hashed, 63 the longest
    # RDS allows: the stage must take the cluster from the message, not from the run id.
    h.standin_config(export_seconds=0.5)
    clusters = []
    for n in (44, 63):
        base = "c-%s-" % h.uid(12)
        cl = h.create_cluster(base + "a" * (n - len(base)))
        assert len(cl["cluster"]) == n
        cl["run_id"] = cluster_run_id(cl["cluster"], "%s-04-05" % cl["date"])
        assert cl["run_id"] != "%s-%s-04-05" % (cl["cluster"], cl["date"]), cl["run_id"]
        clusters.append(cl)
    w = start_worker(ctx, "w")
    w.wait_ready()
    feed(ctx, clusters, mode="cluster")
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        got = {x.value["run_id"]: x.value for x in r.read(2, 60)}
    assert set(got) == {cl["run_id"] for cl in clusters}, got
    for cl in clusters:
        v = got[cl["run_id"]]
        assert v["mode"] == "cluster" and v["export_task_id"] == cl["run_id"], v
        assert v["s3_prefix"] == "s3-export/%s/%s" % (cl["cluster"], cl["date"]), v
    calls = {c["task_id"]: c for c in h.standin_state()["start_calls"]}
    for cl in clusters:
        assert calls[cl["run_id"]]["result"] == "started", calls
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        assert r.read_to_end() == []
    assert w.stop() == 0


def test_full_worker_pauses_and_loses_nothing(ctx):
    """WORKER_MAX_JOBS=2: the worker pauses its partitions while full, holds what already
    arrived, resumes when a job ends, and every run still completes exactly once."""
    h.standin_config(export_cap=50, export_seconds=1.0)
    clusters = [h.create_cluster() for _ in range(6)]
    w = start_worker(ctx, "w", WORKER_MAX_JOBS="2", LOG_LEVEL="debug")
    w.wait_ready()
    feed(ctx, clusters)
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        r.read(6, 90)
        # Every job that arrived is over before the count: a run done twice would show now.
        h.wait_for(lambda: (lambda ev: ev.count("received") == ev.count("committed") >= 6)(
            [x.get("event") for x in w.logs()]), 30, what="every received job committed")
        recs = r.read_to_end()
    assert sorted(x.value["run_id"] for x in recs) == sorted(c["run_id"] for c in clusters)
    logs = w.logs()
    assert any(x.get("msg", "").startswith("paused ") for x in logs)
    assert any(x.get("msg", "").startswith("resumed ") for x in logs)
    # Never more than 2 jobs at once: each "received" is followed by at most 2 open jobs.
    open_jobs, peak = set(), 0
    for x in logs:
        if x.get("event") == "received":
            open_jobs.add(x["run_id"])
        elif x.get("event") == "committed" and x.get("run_id"):
            open_jobs.discard(x["run_id"])
        peak = max(peak, len(open_jobs))
    assert peak <= 2, peak
    assert w.stop() == 0


def test_free_low_slot_does_not_admit_past_the_limit_with_a_foreign_export(ctx):
    """Slots 0..L-1 plus the foreign count: a freed low slot must not start an L+1-th export.

    The old rule only bounded the slot *number* (k < limit - foreign): with slot 1 held by a
    running export, a foreign export running, and slot 0 just freed, k = 0 passed and a third
    export started under a limit of 2. The stand-in's cap is raised so only the worker's rule
    is under test (as in test_export.py's cap tests).
    """
    h.standin_config(export_cap=50, export_seconds=2.0)
    a, b, c3 = h.create_cluster(), h.create_cluster(), h.create_cluster()
    h.standin_config(task_seconds={a["run_id"]: 1.5, b["run_id"]: 9.0, c3["run_id"]: 1.5})
    w = start_worker(ctx, "w", EXPORT_TASK_LIMIT="2", EXPORT_POLL_INTERVAL="300ms",
                     EXPORT_SLOT_RETRY="200ms", STAGE_RETRY_BASE="100ms", STAGE_RETRY_MAX="1s")
    w.wait_ready()
    topic = ctx["prefix"] + "snapshots"
    with h.KafkaReader(ctx["prefix"] + "exports") as out:
        h.produce(topic, h.snapshot_message(a), key=a["cluster"])
        h.produce(topic, h.snapshot_message(b), key=b["cluster"])
        h.wait_for(lambda: {s["task_id"] for s in h.standin_state()["start_calls"]
                            if s["result"] == "started"} >= {a["run_id"], b["run_id"]},
                   20, what="A and B started")
        other = h.create_cluster()
        tid = "other-team-%s" % h.uid(10)
        h.standin_config(task_seconds={tid: 9.0})
        h.aws("rds").start_export_task(ExportTaskIdentifier=tid, SourceArn=other["snapshot_arn"],
                                       S3BucketName=ctx["bucket"], IamRoleArn=ROLE, KmsKeyId=KMS)
        first = out.read(1, 20)
        assert [r.value["run_id"] for r in first] == [a["run_id"]]
        h.produce(topic, h.snapshot_message(c3), key=c3["cluster"])
        recs = out.read(3, 60)
    assert {r.value["run_id"] for r in recs} == {a["run_id"], b["run_id"], c3["run_id"]}
    tasks = {t["ExportTaskIdentifier"]: t for t in h.standin_state()["tasks"]}
    c_start = tasks[c3["run_id"]]["TaskStartTime"]
    # (TaskEndTime is only filled once someone describes the task: use the set durations.)
    busy_until = min(tasks[b["run_id"]]["TaskStartTime"] + 9.0, tasks[tid]["TaskStartTime"] + 9.0)
    # C may only start once B or the foreign export ended (2 running = the limit).
    assert c_start >= busy_until - 0.05, (c_start, busy_until)
    assert w.stop() == 0


# ------------------------------------------------------------------ issue 6: export redo, ledger
# fences, poll budget, dead slot connections, PostgreSQL restarts

def events(run_id, stage="export"):
    return h.psql_json("SELECT status, attempt, generation, error_code FROM snaplake_stage_events"
                       " WHERE run_id = :'p1' AND stage = :'p2' ORDER BY id", run_id, stage)


def test_failed_export_is_redone_by_replaying_its_snapshot(ctx):
    """AWS keeps a FAILED task's id: replaying the snapshot message must start generation 2
    (`<id>-g2`), and a redelivery of that redo must adopt generation 2, not start a third."""
    cl = h.create_cluster()
    rid, gen2 = cl["run_id"], cl["run_id"] + "-g2"
    cause = "generation 1 fails (injected)"
    h.standin_config(export_seconds=1.0, fail_tasks={rid: cause})
    w = start_worker(ctx, "w")
    w.wait_ready()
    msg = h.snapshot_message(cl)
    topic = ctx["prefix"] + "snapshots"
    h.produce(topic, msg, key=cl["cluster"])
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        fails = r.read(1, 60)
    assert len(fails) == 1 and cause in fails[0].value["error_message"]
    h.wait_for(lambda: h.ledger_stage([rid], "export").get(rid, {}).get("status") == "failed",
               30, what="generation 1 recorded as failed")

    h.produce(topic, msg, key=cl["cluster"])  # the operator's redo: the same message again
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(1, 60)
    assert len(recs) == 1, "the redo did not export: %s" % [
        x.get("msg") for x in w.logs() if x.get("level") != "debug"][-10:]
    v = recs[0].value
    assert v["export_task_id"] == gen2 and v["export_generation"] == 2, v
    st = h.standin_state()
    by_id = {t["ExportTaskIdentifier"]: t for t in st["tasks"]}
    assert by_id[rid]["Status"] == "FAILED" and by_id[gen2]["Status"] == "COMPLETE"
    row = h.ledger_stage([rid], "export")[rid]
    assert row["status"] == "succeeded" and row["generation"] == 2, row
    assert row["export_task_id"] == gen2 and row["attempt"] == 2, row
    ev = events(rid)
    assert {"status": "failed", "attempt": 1, "generation": 1, "error_code": "ExportFailed"} in ev
    assert {"status": "succeeded", "attempt": 2, "generation": 2, "error_code": None} in ev

    # A redelivery of the redo adopts generation 2 (COMPLETE): no third task, no new start.
    h.produce(topic, msg, key=cl["cluster"])
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(2, 60)
    assert [x.value["export_task_id"] for x in recs] == [gen2, gen2]
    starts = [c["task_id"] for c in h.standin_state()["start_calls"]
              if c["task_id"].startswith(rid)]
    assert starts == [rid, gen2], starts
    assert w.stop() == 0


def test_stale_owner_is_fenced_out_and_publishes_nothing(ctx):
    """Two consumers of one run (a replay in another group while the first still works): the
    later begin fences the earlier one, which must drop its job without publishing."""
    cl = h.create_cluster()
    # The export runs until B adopted it (ended below).
    h.standin_config(export_cap=50, task_seconds={cl["run_id"]: 600.0})
    a = start_worker(ctx, "a")
    a.wait_ready()
    feed(ctx, [cl])
    a.wait_log(lambda r: r.get("event") == "export_started", 60, "A to start the export")
    b = start_worker(ctx, "b", KAFKA_GROUP_ID="export-replay-" + ctx["prefix"])
    b.wait_log(lambda r: r.get("event") == "adopt", 60, "B to adopt the export")
    h.standin_config(task_seconds={cl["run_id"]: 0})
    # Both jobs end (A fenced out, or, before fencing, A publishing too), then count.
    a.wait_log(lambda r: r.get("event") in ("fenced_out", "committed") and
               r.get("run_id") == cl["run_id"], 60, "A's job to end")
    b.wait_log(lambda r: r.get("event") == "committed" and r.get("run_id") == cl["run_id"], 60,
               "B's job to end")
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read_to_end()
    assert len(recs) == 1, recs
    assert any(r.get("event") == "fenced_out" for r in a.logs())
    row = h.ledger_stage([cl["run_id"]], "export")[cl["run_id"]]
    assert row["status"] == "succeeded" and row["attempt"] == 2, row
    assert a.alive() and a.stop() == 0
    assert b.stop() == 0


def test_transient_poll_errors_fail_only_when_consecutive(ctx):
    """STAGE_MAX_ATTEMPTS=3 while every other DescribeExportTasks fails: many more than 3
    transient errors over the export, never two in a row, and the run completes. Then every
    poll fails: 3 in a row fail the run."""
    ok, bad = h.create_cluster(), h.create_cluster()
    h.standin_config(export_cap=50, task_seconds={ok["run_id"]: 6.0, bad["run_id"]: 60.0})
    w = start_worker(ctx, "w", STAGE_MAX_ATTEMPTS="3", AWS_MAX_ATTEMPTS="1",
                     EXPORT_POLL_INTERVAL="200ms", STAGE_RETRY_BASE="100ms",
                     STAGE_RETRY_MAX="200ms")
    w.wait_ready()
    h.standin_config(faults={"pattern": [0, 1], "actions": ["DescribeExportTasks"],
                             "kinds": ["503"]})
    feed(ctx, [ok])
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(1, 60)
    assert [x.value["run_id"] for x in recs] == [ok["run_id"]]
    injected = h.standin_state()["faults_by_request"].get("rds:DescribeExportTasks", 0)
    assert injected > 3, injected
    polls = [x for x in w.logs() if "polling again" in x.get("msg", "")]
    assert len(polls) > 3, len(polls)
    assert h.ledger_stage([ok["run_id"]], "export")[ok["run_id"]]["status"] == "succeeded"

    h.standin_config(faults={"pattern": []})
    feed(ctx, [bad])
    w.wait_log(lambda r: r.get("event") == "export_started" and r.get("run_id") == bad["run_id"],
               60, "the second export to start")
    h.standin_config(faults={"pattern": [1]})
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        fails = r.read(1, 60)
    h.standin_config(faults={"pattern": []})
    assert len(fails) == 1 and fails[0].value["run_id"] == bad["run_id"]
    assert "3 failed polls in a row" in fails[0].value["error_message"], fails[0].value
    assert w.stop() == 0


def listing_faults(kind, code=None):
    """Every DescribeExportTasks after the next one fails: the job's own look-up by id passes,
    each listing of the account's running exports (the slot's account view) does not."""
    f = {"pattern": [0] + [1] * 500, "actions": ["DescribeExportTasks"], "kinds": [kind]}
    if code:
        f["query_throttle_code"] = code
    h.standin_config(faults=f)


def view_failures(w, run_id):
    return [r for r in w.logs()
            if r.get("run_id") == run_id and "listing running exports failed" in r.get("msg", "")]


def test_slot_wait_fails_when_the_account_view_is_refused(ctx):
    """AccessDenied on the listing is no "no slot free": STAGE_MAX_ATTEMPTS=3 refusals in a
    row fail the run with AWS's code instead of waiting forever."""
    cl = h.create_cluster()
    w = start_worker(ctx, "w", STAGE_MAX_ATTEMPTS="3", AWS_MAX_ATTEMPTS="1",
                     EXPORT_SLOT_RETRY="200ms")
    w.wait_ready()
    listing_faults("throttle", "AccessDenied")
    feed(ctx, [cl])
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        fails = r.read(1, 60)
    h.standin_config(faults={"pattern": []})
    f = fails[0].value
    assert f["run_id"] == cl["run_id"] and f["stage"] == "export", f
    assert f["error_code"] == "AccessDenied", f
    assert "3 " in f["error_message"] and "in a row" in f["error_message"], f
    assert len(view_failures(w, cl["run_id"])) == 3
    assert not [c for c in h.standin_state()["start_calls"] if c["task_id"] == cl["run_id"]]
    row = h.ledger_stage([cl["run_id"]], "export")[cl["run_id"]]
    assert row["status"] == "failed" and row["error_code"] == "AccessDenied", row
    assert w.stop() == 0


def test_slot_wait_outlasts_transient_account_view_errors(ctx):
    """503s on the listing, many more than STAGE_MAX_ATTEMPTS: the job keeps waiting and
    exports once the listing answers again."""
    h.standin_config(export_seconds=0.5)
    cl = h.create_cluster()
    w = start_worker(ctx, "w", STAGE_MAX_ATTEMPTS="3", AWS_MAX_ATTEMPTS="1",
                     EXPORT_SLOT_RETRY="200ms")
    w.wait_ready()
    listing_faults("503")
    feed(ctx, [cl])
    h.wait_for(lambda: len(view_failures(w, cl["run_id"])) > 6, 60,
               what="more than 6 failed listings")
    h.standin_config(faults={"pattern": []})
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        assert [x.value["run_id"] for x in r.read(1, 60)] == [cl["run_id"]]
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        assert r.read_to_end() == []
    assert w.stop() == 0


def test_slot_whose_connection_died_is_taken_again(ctx):
    """EXPORT_TASK_LIMIT=2, the stand-in's cap 1: A runs, B holds slot 1 waiting on
    ExportTaskLimitReachedFault. B's slot connection is killed, C takes the freed slot 1.
    Once the cap rises, B must not start on its dead slot: never more than 2 exports."""
    a, b, c3 = h.create_cluster(), h.create_cluster(), h.create_cluster()
    # A runs until the test ends it (below), however long the steps before take.
    h.standin_config(export_cap=1, task_seconds={a["run_id"]: 600.0, b["run_id"]: 2.0,
                                                 c3["run_id"]: 2.0})
    w = start_worker(ctx, "w", EXPORT_TASK_LIMIT="2")
    w.wait_ready()
    feed(ctx, [a])
    w.wait_log(lambda r: r.get("event") == "export_started" and r.get("run_id") == a["run_id"],
               60, "A to start")
    feed(ctx, [b])

    def b_refused():
        return sum(1 for x in w.logs() if x.get("run_id") == b["run_id"] and
                   x.get("msg", "").startswith("export refused"))
    h.wait_for(b_refused, 60, what="B to wait on the cap")
    killed = h.psql_json("SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity"
                         " WHERE application_name = 'sl:' || :'p1'", b["run_id"])
    assert killed == [{"k": True}], killed
    feed(ctx, [c3])
    h.wait_for(lambda: h.psql_json(
        "SELECT 1 FROM snaplake_stage_events WHERE run_id = :'p1' AND status = 'waiting'",
        c3["run_id"]), 60, what="C to wait")
    # Let B try again on its slot (and notice it is dead, or not) before capacity frees.
    n0 = b_refused()
    h.wait_for(lambda: b_refused() >= n0 + 2 or any(
        x.get("run_id") == b["run_id"] and "lost its connection" in x.get("msg", "")
        for x in w.logs()), 30, what="B to retry")
    h.standin_config(export_cap=50)
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        # A still runs while C does: a B starting on its dead slot meanwhile is a third export.
        h.wait_for(lambda: c3["run_id"] in {x.value["run_id"] for x in r.read(3, 0.5)}, 90,
                   what="C exported")
        h.standin_config(task_seconds={a["run_id"]: 0})
        recs = r.read(3, 90)
    assert {x.value["run_id"] for x in recs} == {a["run_id"], b["run_id"], c3["run_id"]}
    st = h.standin_state()
    assert st["accounts"][h.ACCOUNT]["max_concurrent"] <= 2, st["accounts"]
    assert any(x.get("run_id") == b["run_id"] and "lost its connection" in x.get("msg", "")
               for x in w.logs())
    assert w.stop() == 0


def test_freed_slot_wakes_waiting_exports_in_every_worker(ctx):
    """EXPORT_TASK_LIMIT=1 and EXPORT_SLOT_RETRY at its 10-minute maximum, so a waiting export
    can start early only through the wake-up a freed slot sends (export_wake.h). A runs in
    worker 1; B waits in worker 2 (topics and group of its own, the same PostgreSQL, so only
    the NOTIFY can reach it) and C in worker 1. Whichever of B and C the end of A admits, the
    other is admitted by a slot freed in the other worker: all three export well within one
    retry interval, one at a time."""
    a, b, c3 = h.create_cluster(), h.create_cluster(), h.create_cluster()
    h.standin_config(export_cap=50, task_seconds={a["run_id"]: 3.0, b["run_id"]: 1.0,
                                                  c3["run_id"]: 1.0})
    other = h.topic_prefix("wake-other")
    h.create_topics(other)
    slow = dict(EXPORT_TASK_LIMIT="1", EXPORT_SLOT_RETRY="10m")
    w1 = start_worker(ctx, "w1", **slow)
    w2 = start_worker(ctx, "w2", prefix=other, **slow)
    w1.wait_ready()
    w2.wait_ready()
    feed(ctx, [a])
    w1.wait_log(lambda r: r.get("event") == "export_started" and r.get("run_id") == a["run_id"],
                60, "A to start")
    h.produce(other + "snapshots", h.snapshot_message(b), key=b["cluster"])
    feed(ctx, [c3])
    h.wait_for(lambda: len(h.psql_json(
        "SELECT DISTINCT run_id FROM snaplake_stage_events WHERE status = 'waiting'"
        " AND run_id = ANY(string_to_array(:'p1', ','))", b["run_id"] + "," + c3["run_id"])) == 2,
        60, what="B and C to wait for the slot")
    # 10 minutes is the fallback; 120 s leaves the exports (1-3 s each) plenty on a busy machine.
    with h.KafkaReader(ctx["prefix"] + "exports") as r1, \
            h.KafkaReader(other + "exports") as r2:
        got1 = {x.value["run_id"] for x in r1.read(2, 120)}
        got2 = {x.value["run_id"] for x in r2.read(1, 120)}
    assert got1 == {a["run_id"], c3["run_id"]} and got2 == {b["run_id"]}, (got1, got2)
    st = h.standin_state()
    tasks = our_tasks(st, {a["run_id"], b["run_id"], c3["run_id"]})
    assert len(tasks) == 3 and all(t["Status"] == "COMPLETE" for t in tasks)
    spans = sorted((t["TaskStartTime"], t["TaskEndTime"]) for t in tasks)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "two exports at once with EXPORT_TASK_LIMIT=1: %s" % spans
    assert w1.stop() == 0 and w2.stop() == 0


def pg_restart():
    """Restarts the stack's PostgreSQL (pg_ctl restart on its data directory) and updates the
    stack's pid file so that scripts/stack.sh stop still finds it."""
    import subprocess
    root = os.path.realpath(os.path.join(h.ROOT, ".stack", "pg"))
    data = os.path.join(root, "data")
    cmd = ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", data, "-l", os.path.join(root,
                                                                                 "postgres.log"),
           "-m", "fast", "-w", "-t", "60", "restart"]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, start_new_session=True, timeout=120)
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = f.readline().strip()
    with open(os.path.join(h.ROOT, ".stack", "pids", "postgres.pid"), "w") as f:
        f.write(pid + "\n")


def test_waiting_exports_start_after_postgres_restart(ctx):
    """Every job waits for a slot (a foreign export fills EXPORT_TASK_LIMIT=1) when
    PostgreSQL restarts; once the foreign export ends, the waiting runs start and complete."""
    clusters = [h.create_cluster() for _ in range(2)]
    ids = [cl["run_id"] for cl in clusters]
    h.standin_config(export_cap=50, export_seconds=1.0)
    other = h.create_cluster()
    tid = "other-team-%s" % h.uid(10)
    h.standin_config(task_seconds={tid: 600.0})
    h.aws("rds").start_export_task(ExportTaskIdentifier=tid, SourceArn=other["snapshot_arn"],
                                   S3BucketName=ctx["bucket"], IamRoleArn=ROLE, KmsKeyId=KMS)
    w = start_worker(ctx, "w", EXPORT_TASK_LIMIT="1")
    w.wait_ready()
    feed(ctx, clusters)
    h.wait_for(lambda: len({r["run_id"] for r in h.psql_json(
        "SELECT run_id FROM snaplake_stage_runs WHERE stage = 'export' AND status = 'waiting'"
        " AND run_id = ANY(string_to_array(:'p1', ','))", ",".join(ids))}) == 2, 60,
        what="both runs waiting for a slot")
    pg_restart()
    # The worker must notice the dead connection on its own, with no ledger write to help.
    h.aws("rds").cancel_export_task(ExportTaskIdentifier=tid)
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        recs = r.read(2, 90)
    assert sorted(x.value["run_id"] for x in recs) == sorted(ids)
    rows = h.ledger_stage(ids, "export")
    assert all(r["status"] == "succeeded" for r in rows.values()), rows
    assert w.alive() and w.stop() == 0
