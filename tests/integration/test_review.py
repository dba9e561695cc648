"""Regression tests from the correctness review of the worker runtime and the stages (the
at-least-once guarantees of issue 3). Each test pins one bug the review found; its docstring
says what went wrong before the fix.

Run with the stack's environment:  set -a; . .stack/env; set +a
    .venv/bin/pytest -q tests/integration/test_review.py
"""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT


# ------------------------------------------------------------------------------ export stage


@pytest.fixture
def ctx(standin, request, tmp_path):
    h.standin_config_reset()
    h.standin_reset(all=True)
    c = {"prefix": h.topic_prefix(request.node.name[:20]), "bucket": h.create_bucket(),
         "tmp": tmp_path, "workers": []}
    h.create_topics(c["prefix"])
    yield c
    for w in c["workers"]:
        if w.alive():
            w.stop()


def export_worker(c, name="w", **env):
    base = dict(EXPORT_S3_BUCKET=c["bucket"], EXPORT_IAM_ROLE_ARN=ROLE, EXPORT_KMS_KEY_ID=KMS,
                EXPORT_POLL_INTERVAL="500ms", EXPORT_SLOT_RETRY="500ms",
                KAFKA_GROUP_ID="export-" + c["prefix"], STAGE_RETRY_BASE="100ms",
                STAGE_RETRY_MAX="1s")
    base.update(env)
    w = h.Worker("export", h.worker_env(c["prefix"], **base), c["tmp"] / ("%s.log" % name))
    c["workers"].append(w)
    return w


def committed(group, topic, partition):
    """The group's committed offset of topic[partition] (-1001 when none)."""
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                     "group.id": group, "enable.auto.commit": False})
    try:
        return cons.committed([TopicPartition(topic, partition)], timeout=10)[0].offset
    finally:
        cons.close()


def test_message_the_ledger_refuses_is_dead_lettered_and_offsets_move_on(ctx):
    """A message the run ledger refuses as data goes to the dead letters; offsets move on.

    Before: a date PostgreSQL does not accept (2024-02-30) or a run id too long for the
    ledger's primary-key index made the runtime's ledger `begin` fail on every retry, forever:
    the job never ended, held a job slot, and the partition's committed offset never passed it,
    so every later message of that partition was redone after each restart.
    """
    h.standin_config(export_seconds=1.0)
    good = h.create_cluster()
    key = good["cluster"]                      # all three on one partition, in this order
    bad_date = h.snapshot_message(good)
    bad_date.update(run_id="%s-bad-date" % good["run_id"], date="2024-02-30")
    long_id = h.snapshot_message(good)
    long_id["run_id"] = "r" + os.urandom(4000).hex()   # past the btree index row limit
    w = export_worker(ctx)
    w.wait_ready()
    topic = ctx["prefix"] + "snapshots"
    with h.KafkaReader(ctx["prefix"] + "dlq") as dlq, \
            h.KafkaReader(ctx["prefix"] + "exports") as out:
        h.produce(topic, bad_date, key=key)
        h.produce(topic, long_id, key=key)
        h.produce(topic, h.snapshot_message(good), key=key)
        dead = dlq.read(2, 30)
        exported = out.read(1, 60)
    assert len(dead) == 2, "refused messages were not dead-lettered: %r" % dead
    reasons = [d.value["reason"] for d in dead]
    assert all("ledger" in r for r in reasons), reasons
    assert "22008" in reasons[0] or "date" in reasons[0], reasons[0]
    assert [d.value["offset"] for d in dead] == sorted(d.value["offset"] for d in dead)
    part = dead[0].value["partition"]
    assert len(exported) == 1 and exported[0].value["run_id"] == good["run_id"]
    last = max(d.value["offset"] for d in dead) + 1     # the good message's offset
    # Everything up to and including the good message is done: the group commits past it
    # (auto.commit every 5 s; the worker commits on stop too).
    assert w.stop() == 0
    assert committed("export-" + ctx["prefix"], topic, part) == last + 1
    # The worker did not spin on the ledger.
    assert sum(1 for r in w.logs() if r.get("event") == "ledger_error") <= 2


def test_error_text_cut_inside_a_utf8_character_still_reaches_the_ledger(ctx):
    """A FailureCause of 2-byte characters cut at 1,023 bytes: the run still ends failed.

    Before: the cut (sl_job's 1,024-byte error field; rds.c cuts FailureCause the same way)
    split a character, the failure message went out as invalid UTF-8, and PostgreSQL refused
    the final ledger write (SQLSTATE 22021) on every retry: the run never showed `failed` and
    the offset never moved.
    """
    cl = h.create_cluster()
    cause = "\u00e9" * 700                     # 1,400 bytes; any 1,023-byte cut splits a char
    h.standin_config(export_seconds=1.0, fail_tasks={cl["run_id"]: cause})
    w = export_worker(ctx)
    w.wait_ready()
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        h.produce(ctx["prefix"] + "snapshots", h.snapshot_message(cl), key=cl["cluster"])
        recs = r.read(1, 60)
    assert len(recs) == 1
    f = recs[0].value
    assert isinstance(f, dict), "failure message is not valid UTF-8 JSON: %r" % f[:200]
    assert f["error_code"] == "ExportFailed"
    assert f["error_message"].startswith("\u00e9" * 500)
    row = h.wait_for(lambda: (h.ledger_stage([cl["run_id"]], "export").get(cl["run_id"]) or {})
                     .get("status") == "failed"
                     and h.ledger_stage([cl["run_id"]], "export")[cl["run_id"]], 20,
                     what="ledger row failed")
    assert row["error_code"] == "ExportFailed"
    assert row["error_message"].startswith("\u00e9" * 500)
    assert w.stop() == 0


# ------------------------------------------------------------------------------- crawl stage

def copied_message(cluster, copied_at):
    run = "%s-2024-02-29-03-05" % cluster
    c = {"cluster": cluster, "run_id": run, "snapshot_id": "rds:" + run,
         "snapshot_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:rds:%s" % (h.ACCOUNT, run),
         "cluster_arn": "arn:aws:rds:us-east-1:%s:cluster:%s" % (h.ACCOUNT, cluster),
         "date": "2024-02-29"}
    m = h.snapshot_message(c)
    m.update(type="copied", export_task_id=run, s3_bucket="exports",
             s3_prefix="s3-export/%s/2024-02-29" % cluster, lake_bucket="lake",
             lake_prefix="lake", objects=1, bytes=100, removed=0, tables=["db/public.t1"],
             failed_tables=[], copied_at=copied_at)
    return m


def test_other_run_started_within_the_skew_before_the_copy_is_not_trusted(tmp_path):
    """Someone else's run that began 1 s before the copy ended is not trusted: crawl again.

    Before: CRAWL_CLOCK_SKEW was applied in the accepting direction for another's run, so a
    run that began up to the skew *before* the copy finished counted as covering it, though it
    may have listed the lake before the last files (or the new date= folder) were there.
    """
    h.require_stack()
    h.standin_config(crawler_seconds=2.5)
    glue = h.aws("glue")
    db = "sl_db_%s" % h.uid()
    glue.create_database(DatabaseInput={"Name": db})
    prefix = h.topic_prefix("review-crawl")
    h.create_topics(prefix)
    cluster = "rs-%s" % h.uid()
    crawler = "snaplake-%s" % cluster
    glue.create_crawler(Name=crawler, Role="arn:aws:iam::%s:role/glue" % h.ACCOUNT,
                        DatabaseName=db,
                        Targets={"S3Targets": [{"Path": "s3://lake/lake/%s/" % cluster}]})
    glue.start_crawler(Name=crawler)            # someone's run starts ...
    time.sleep(1.0)
    msg = copied_message(cluster, h.now_rfc3339())  # ... and our copy ends 1 s into it
    w = h.Worker("crawl", h.worker_env(prefix, CRAWL_POLL_INTERVAL="300ms",
                                       CRAWL_CLOCK_SKEW="2s"), tmp_path / "crawl.log")
    try:
        w.wait_ready()
        with h.KafkaReader(prefix + "crawls") as out:
            h.produce(prefix + "copies", msg, key=cluster)
            recs = out.read(1, 40)
        assert len(recs) == 1
        starts = [s for s in h.standin_state()["crawl_starts"] if s["crawler"] == crawler]
        results = [s["result"] for s in starts]
        # 1 s before the copy ended is inside the 2 s allowance either way: crawl again.
        assert results == ["started", "CrawlerRunningException", "started"], results
        assert recs[0].value["crawl_started_at"][:19] >= time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.gmtime(int(starts[-1]["time"])))
    finally:
        assert w.stop() == 0


# ------------------------------------------------------------------ export slots, foreign count

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
    w = export_worker(ctx, EXPORT_TASK_LIMIT="2", EXPORT_POLL_INTERVAL="300ms",
                      EXPORT_SLOT_RETRY="200ms")
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
