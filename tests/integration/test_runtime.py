"""Integration tests of the worker runtime (worker/worker.c, common/kafka_consumer.c) on the local
stack: rebalances of a full worker, jobs that keep stepping while another one waits, and inputs
or error texts the run ledger refuses (dead-lettered, or repaired, never retried forever). Run with
.stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_runtime.py
"""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT
PARTITIONS = 12


@pytest.fixture
def ctx(standin, request, tmp_path):
    """A clean stand-in, a bucket, a unique topic prefix, and worker bookkeeping."""
    h.standin_config_reset()
    h.standin_reset(all=True)
    c = {"prefix": h.topic_prefix(request.node.name), "bucket": h.create_bucket(),
         "tmp": tmp_path, "workers": []}
    h.create_topics(c["prefix"], PARTITIONS)
    yield c
    for w in c["workers"]:
        if w.alive():
            w.stop()


def start_export_worker(c, name, **env):
    base = dict(EXPORT_S3_BUCKET=c["bucket"], EXPORT_IAM_ROLE_ARN=ROLE, EXPORT_KMS_KEY_ID=KMS,
                EXPORT_POLL_INTERVAL="500ms", EXPORT_SLOT_RETRY="500ms", EXPORT_TASK_LIMIT="5",
                KAFKA_GROUP_ID="export-" + c["prefix"], KAFKA_SESSION_TIMEOUT_MS="6000",
                KAFKA_HEARTBEAT_INTERVAL_MS="1000", STAGE_RETRY_BASE="200ms")
    base.update(env)
    w = h.Worker("export", h.worker_env(c["prefix"], **base), c["tmp"] / ("%s.log" % name))
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


def produce_to_partition(topic, partition, value, key):
    h.produce(topic, value, key=key, partition=partition)


def received_partitions(w, run_ids):
    return {r.get("partition") for r in w.logs()
            if r.get("event") == "received" and r.get("run_id") in run_ids}


def test_full_worker_consumes_again_after_rebalance(ctx):
    """A worker paused because it is full (WORKER_MAX_JOBS=1, one export held) goes through a
    rebalance when a second replica joins; its partitions must not stay paused: every message
    produced afterwards, on every partition, is exported, and the first worker takes some."""
    held = h.create_cluster()
    # The held export runs for ten minutes unless failed; it keeps w1 full (and paused).
    h.standin_config(export_cap=50, export_seconds=1.0, task_seconds={held["run_id"]: 600})
    w1 = start_export_worker(ctx, "w1", WORKER_MAX_JOBS="1")
    w1.wait_log(lambda r: r.get("msg", "").startswith("assigned %d " % PARTITIONS), 60,
                "w1 assigned every partition")
    h.produce(ctx["prefix"] + "snapshots", h.snapshot_message(held), key=held["cluster"])
    w1.wait_log(lambda r: r.get("event") == "running" or (r.get("event") == "start"
                                                          and r.get("run_id") == held["run_id"]),
                60, "the held export started")
    h.wait_for(lambda: any(t["ExportTaskIdentifier"] == held["run_id"]
                           for t in h.standin_state()["tasks"]), 60, what="held task exists")

    w2 = start_export_worker(ctx, "w2", WORKER_MAX_JOBS="1")
    h.wait_for(lambda: w1.alive() and w2.alive()
               and assigned_partitions(w1) + assigned_partitions(w2) == PARTITIONS
               and assigned_partitions(w1) > 0 and assigned_partitions(w2) > 0,
               60, what="consumer group to settle")
    # Whoever redoes the held job now adopts the running task: end it so that worker is free.
    h.standin_fail_export(held["run_id"], "ended by the test", now=True)

    clusters = [h.create_cluster() for _ in range(PARTITIONS)]
    ids = {cl["run_id"] for cl in clusters}
    for p, cl in enumerate(clusters):
        produce_to_partition(ctx["prefix"] + "snapshots", p, h.snapshot_message(cl), cl["cluster"])

    def all_done():
        rows = h.ledger_stage(list(ids), "export")
        return len(rows) == PARTITIONS and all(r["status"] == "succeeded" for r in rows.values())
    try:
        h.wait_for(lambda: w1.alive() and w2.alive() and all_done(), 120,
                   what="every partition's export to succeed")
    finally:
        print("w1 took partitions %s, w2 took %s" % (sorted(received_partitions(w1, ids)),
                                                     sorted(received_partitions(w2, ids))))
    assert received_partitions(w1, ids), "w1 consumed nothing after the rebalance"
    assert received_partitions(w2, ids)
    assert w1.stop() == 0 and w2.stop() == 0



def test_status_transitions_log_their_event(standin, tmp_path):
    """Every ledger status change is logged with its status as the event. The copy stage knows
    the export task id at start(), so the runtime records "running" again with it, passing the
    status the job remembers: that must survive (it was copied onto itself, which left it empty
    and logged "event":"")."""
    s3 = h.aws("s3", standin=False)
    cluster, task, date = "c-%s" % h.uid(8), "t-%s" % h.uid(8), "2024-03-05"
    src, lake = h.create_bucket(), h.create_bucket()
    run = "%s-%s-03-04" % (cluster, date)
    root = "s3-export/%s/%s" % (cluster, date)
    s3.put_object(Bucket=src, Key="%s/%s/db/db.public.t/part-00000.gz.parquet" % (root, task),
                  Body=b"x")
    prefix = h.topic_prefix("status-log")
    h.create_topics(prefix, 1)
    w = h.Worker("copy", h.worker_env(prefix, LAKE_BUCKET=lake, LAKE_PREFIX="lake",
                                      AWS_S3_FORCE_PATH_STYLE="true", STAGE_MAX_ATTEMPTS="2",
                                      STAGE_RETRY_BASE="200ms", KAFKA_GROUP_ID="g-" + h.uid(10)),
                 tmp_path / "copy.log")
    try:
        w.wait_ready(90)
        snap = "rds:" + run
        h.produce(prefix + "exports",
                  {"v": 1, "type": "exported", "run_id": run, "cluster": cluster,
                   "mode": "snapshot", "snapshot_id": snap,
                   "source_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:%s" % (h.ACCOUNT,
                                                                                   snap),
                   "date": date, "source": "event", "produced_at": h.now_rfc3339(),
                   "export_task_id": task, "s3_bucket": src, "s3_prefix": root},
                  key=cluster)
        w.wait_log(lambda r: r.get("event") == "committed" and r.get("run_id") == run, 90,
                   "the copy committed")
        mine = [r for r in w.logs() if r.get("run_id") == run and "event" in r]
        assert not [r for r in mine if not r["event"]], "lines with an empty event: %s" % mine
        assert [r for r in mine if r["event"] == "running"
                and r.get("export_task_id") == task], mine
        assert w.stop() == 0
    finally:
        if w.alive():
            w.stop()


def terminate_backends(app_name):
    """Ends the server side of every connection named app_name (as a server restart would)."""
    return h.psql_json("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
                       "WHERE application_name = :'p1'", app_name)


def test_stage_query_heals_main_connection(ctx):
    """The worker's main connection heals whoever uses it: an export waiting for a slot only
    reads the live slots on it (its "waiting" status is already recorded, so no ledger write
    comes), and when its backend is killed the export must still start once a slot frees."""
    h.standin_config(export_cap=50, export_seconds=1.0)
    # A foreign export fills EXPORT_TASK_LIMIT=1 until the test ends it (below).
    foreign = h.standin("POST", "/_standin/export/external", {"seconds": 600})["task_id"]
    cl = h.create_cluster()
    w = start_export_worker(ctx, "w", EXPORT_TASK_LIMIT="1")
    w.wait_log(lambda r: r.get("msg", "").startswith("assigned "), 60, "assignment")
    h.produce(ctx["prefix"] + "snapshots", h.snapshot_message(cl), key=cl["cluster"])
    h.wait_for(lambda: h.ledger_stage([cl["run_id"]], "export").get(cl["run_id"], {})
               .get("status") == "waiting", 60, what="the export to wait for a slot")
    assert terminate_backends("snaplake-export"), "the worker's main connection was not found"
    w.wait_log(lambda r: "reading live export slots failed" in r.get("msg", ""), 30,
               "the slot view to hit the dead connection")
    h.standin_config(task_seconds={foreign: 0})     # the foreign export ends: a slot frees
    h.wait_for(lambda: w.alive() and h.ledger_stage([cl["run_id"]], "export")[cl["run_id"]]
               ["status"] == "succeeded", 90, what="the export to start and succeed")
    assert w.stop() == 0


def test_jobs_keep_stepping_while_a_publish_waits(ctx):
    """A publish waits for its delivery report without stalling the worker: with the broker
    stopped (SIGSTOP), one export finishes and waits to publish, and another export keeps
    being polled; once the broker runs again, the first is published, recorded, committed."""
    fast, slow = h.create_cluster(), h.create_cluster()
    h.standin_config(export_cap=50, export_seconds=1.0,
                     task_seconds={fast["run_id"]: 3, slow["run_id"]: 600})
    w = start_export_worker(ctx, "w", LOG_LEVEL="debug", PUBLISH_TIMEOUT="60s",
                            KAFKA_SESSION_TIMEOUT_MS="45000", KAFKA_HEARTBEAT_INTERVAL_MS="3000")
    w.wait_log(lambda r: r.get("msg", "").startswith("assigned "), 60, "assignment")
    for cl in (slow, fast):
        h.produce(ctx["prefix"] + "snapshots", h.snapshot_message(cl), key=cl["cluster"])
    h.wait_for(lambda: all(r.get("status") == "running"
                           for r in h.ledger_stage([fast["run_id"], slow["run_id"]],
                                                   "export").values())
               and len(h.ledger_stage([fast["run_id"], slow["run_id"]], "export")) == 2,
               60, what="both exports running")
    with open(os.path.join(h.ROOT, ".stack", "pids", "kafka.pid")) as f:
        broker = int(f.read().strip())
    os.kill(broker, signal.SIGSTOP)
    try:
        done = w.wait_log(lambda r: r.get("event") == "done" and r.get("run_id") == fast["run_id"],
                          60, "the fast export done (its publish now waits)")
        # The slow export is still polled after the fast one began to publish.
        w.wait_log(lambda r: r.get("msg") == "export running" and r.get("run_id") == slow["run_id"]
                   and r["time"] > done["time"], 15,
                   "the slow export to be stepped while the publish waits")
        assert not [r for r in w.logs() if r.get("event") == "published"], \
            "published with the broker stopped"
    finally:
        os.kill(broker, signal.SIGCONT)
    w.wait_log(lambda r: r.get("event") == "committed" and r.get("run_id") == fast["run_id"], 90,
               "the fast export committed after the broker resumed")
    ev = [r["event"] for r in w.logs() if r.get("run_id") == fast["run_id"] and "event" in r]
    assert ev.index("published") < ev.index("committed"), ev
    assert h.ledger_stage([fast["run_id"]], "export")[fast["run_id"]]["status"] == "succeeded"
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        assert [x for x in r.read(1, 30) if x.value.get("run_id") == fast["run_id"]]
    assert w.stop() == 0


# ------------------------------------------------------------ the ledger refusing what it is given

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
    w = start_export_worker(ctx, "w", STAGE_RETRY_BASE="100ms", STAGE_RETRY_MAX="1s")
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
    w = start_export_worker(ctx, "w", STAGE_RETRY_BASE="100ms", STAGE_RETRY_MAX="1s")
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
