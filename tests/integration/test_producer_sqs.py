"""snaplake-producer's sqs mode end to end on the local stack, as production runs it: an
EventBridge rule with the seed's pattern (moto's events) targets an SQS queue (moto's sqs), a
real-shaped RDS event is put with PutEvents, moto routes it to the queue, and the producer in
sqs mode publishes the `snapshot` message to Kafka and deletes the SQS message. Also: a
non-matching event never reaches the queue; a malformed body sent straight to the queue is
dead-lettered and deleted; a producer killed between publish and delete has its message
redelivered, and the second producer's duplicate check keeps it to one run; the whole pipeline's
export stage runs the run once. Run with .stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_producer_sqs.py
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_producer as tp  # noqa: E402  (its event(), penv() and readers)

PATTERN_SOURCE = "aws.rds"


class Producer(h.Worker):
    """A long-running `snaplake-producer sqs`, with the Worker helpers (logs, wait_log, stop)."""

    def __init__(self, env, log_path):  # pylint: disable=super-init-not-called
        import subprocess
        self.stage = "producer-sqs"
        self.log_path = str(log_path)
        self.out = open(self.log_path, "wb")
        self.err_path = self.log_path + ".stderr"
        self.err = open(self.err_path, "wb")
        self.p = subprocess.Popen([h.producer_binary(), "sqs"], env=env, stdout=self.out,
                                  stderr=self.err, cwd=h.ROOT)


def rule_and_queue(clusters, name):
    """The deploy/ rule (seed pattern, one SourceIdentifier prefix per cluster) and its SQS
    target in moto. Returns (queue url, sqs client, events client)."""
    sqs, events = h.aws("sqs", standin=False), h.aws("events", standin=False)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    pattern = {"source": [PATTERN_SOURCE], "detail-type": ["RDS DB Cluster Snapshot Event"],
               "detail": {"Message": ["Automated cluster snapshot created"],
                          "SourceIdentifier": [{"prefix": "rds:%s" % c} for c in clusters]}}
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "producer", "Arn": arn}])
    return url, sqs, events


def put_event(events, ev):
    """PutEvents of an event-mode event dict (tp.event), as RDS would emit it."""
    r = events.put_events(Entries=[{"Source": ev["source"], "DetailType": ev["detail-type"],
                                    "Detail": json.dumps(ev["detail"]),
                                    "Resources": ev["resources"]}])
    assert r["FailedEntryCount"] == 0, r


def queue_counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def drained(sqs, url):
    return queue_counts(sqs, url) == (0, 0)


def senv(ctx, url, **kv):
    return tp.penv(ctx["prefix"], SQS_QUEUE_URL=url, SQS_WAIT_SECONDS="1",
                   AWS_ENDPOINT_URL_SQS=os.environ["MOTO_ENDPOINT"], **kv)


def events_of(proc, name):
    return [r for r in proc.logs() if r.get("event") == name]


@pytest.fixture
def ctx(request):
    h.require_stack()
    pre = h.topic_prefix(request.node.name)
    h.create_topics(pre)
    return {"prefix": pre, "u": h.uid(6)}


def test_sqs_event_published_then_deleted(ctx, tmp_path):
    """PutEvents -> rule -> queue -> producer: one snapshot message, the queue drained, a clean
    stop with the summary; a non-matching event (manual snapshot) never reaches the queue."""
    c = "sq-%s-a" % ctx["u"]
    url, sqs, events = rule_and_queue([c], "sl-%s" % ctx["u"])
    put_event(events, tp.event(c, message="Manual cluster snapshot created"))
    put_event(events, tp.event("zz-%s" % ctx["u"]))  # another cluster: outside the prefix
    assert queue_counts(sqs, url) == (0, 0), "a non-matching event reached the queue"
    put_event(events, tp.event(c))
    assert queue_counts(sqs, url)[0] == 1, "moto did not route the event to the queue"

    p = Producer(senv(ctx, url), tmp_path / "producer.log")
    try:
        p.wait_log(lambda r: r.get("event") == "published", 60, "published")
        h.wait_for(lambda: drained(sqs, url), 30, what="queue drained")
    finally:
        rc = p.stop()
    assert rc == 0, p.stderr()
    assert tp.summary(p.logs()) == {"published": 1, "duplicates": 0, "dead_lettered": 0,
                                    "errors": 0}
    snaps = tp.read_exactly(ctx["prefix"] + "snapshots", 1)
    v = snaps[0].value
    assert snaps[0].key == c
    assert v["type"] == "snapshot" and v["cluster"] == c and v["source"] == "event"
    assert v["snapshot_id"] == "rds:%s-%s-03-05" % (c, tp.DATE)
    assert v["run_id"] == "%s-%s-03-05" % (c, tp.DATE)
    assert tp.runs([v["run_id"]])[v["run_id"]]["source"] == "event"


def test_sqs_malformed_and_duplicate_are_dead_lettered_or_skipped_then_deleted(ctx, tmp_path):
    """A body that is not JSON (sent with SendMessage: EventBridge would refuse it) goes to the
    DLQ with its reason and the SQS message id, a duplicate event is skipped, and both are
    deleted from the queue."""
    c = "sq-%s-b" % ctx["u"]
    url, sqs, events = rule_and_queue([c], "sl-%s" % ctx["u"])
    put_event(events, tp.event(c))
    put_event(events, tp.event(c))  # the same snapshot announced twice
    mid = sqs.send_message(QueueUrl=url, MessageBody='{"source": "aws.rds", "detail')["MessageId"]

    p = Producer(senv(ctx, url), tmp_path / "producer.log")
    try:
        p.wait_log(lambda r: r.get("event") == "dead_letter", 60, "dead letter")
        h.wait_for(lambda: drained(sqs, url), 30, what="queue drained")
        h.wait_for(lambda: len(events_of(p, "published")) + len(events_of(p, "duplicate")) == 2,
                   30, what="both events handled")
    finally:
        rc = p.stop()
    assert rc == 0, p.stderr()
    assert tp.summary(p.logs()) == {"published": 1, "duplicates": 1, "dead_lettered": 1,
                                    "errors": 0}
    tp.read_exactly(ctx["prefix"] + "snapshots", 1)
    d = tp.read_exactly(ctx["prefix"] + "dlq", 1)[0].value
    assert d["type"] == "dead_letter"
    assert d["reason"].startswith("malformed: "), d["reason"]
    assert "SQS message %s" % mid in d["reason"], d["reason"]


def test_sqs_killed_between_publish_and_delete_is_redelivered_once(ctx, tmp_path):
    """SL_TEST_EXIT_AFTER_PUBLISH kills the first producer after Kafka acknowledged (and the
    ledger recorded) the publish, before DeleteMessageBatch. After the visibility timeout SQS
    hands the message to a second producer, whose duplicate check skips it and deletes it:
    one snapshot message for the run, one ledger run."""
    c = "sq-%s-c" % ctx["u"]
    url, sqs, events = rule_and_queue([c], "sl-%s" % ctx["u"])
    put_event(events, tp.event(c))
    run_id = "%s-%s-03-05" % (c, tp.DATE)

    p1 = Producer(senv(ctx, url, SQS_VISIBILITY_TIMEOUT="2", SL_TEST_EXIT_AFTER_PUBLISH="true"),
                  tmp_path / "p1.log")
    h.wait_for(lambda: not p1.alive(), 60, what="first producer killed by the fault hook")
    assert p1.stop() == -9, p1.stderr()
    assert len(events_of(p1, "published")) == 1
    assert sum(queue_counts(sqs, url)) == 1, "the message was deleted before the crash"

    p2 = Producer(senv(ctx, url, SQS_VISIBILITY_TIMEOUT="2"), tmp_path / "p2.log")
    try:
        p2.wait_log(lambda r: r.get("event") == "duplicate", 60, "redelivered duplicate")
        h.wait_for(lambda: drained(sqs, url), 30, what="queue drained")
    finally:
        rc = p2.stop()
    assert rc == 0, p2.stderr()
    assert tp.summary(p2.logs()) == {"published": 0, "duplicates": 1, "dead_lettered": 0,
                                     "errors": 0}
    snaps = tp.read_exactly(ctx["prefix"] + "snapshots", 1)
    assert snaps[0].value["run_id"] == run_id
    assert list(tp.runs([run_id])) == [run_id]


def test_sqs_pipeline_crash_before_delete_one_export_one_crawl(standin, tmp_path):
    """The whole pipeline fed by SQS: PutEvents -> queue -> a producer killed after the publish
    and before the delete -> a second producer gets the redelivery and skips it as a
    duplicate; the export, copy and crawl workers run the run exactly once (one export task at
    the stand-in, one `exported`, one `crawled`)."""
    import test_pipeline as tpl
    p = tpl.Pipeline(tmp_path, "sqs-pipeline")
    producers = []
    try:
        h.standin_config(export_seconds=1.0, crawler_seconds=0.5)
        c = p.add_cluster(tpl.CURRENT, prefix="sqp")
        p.start_workers()
        url, sqs, events = rule_and_queue([c["cluster"]], "sl-%s" % h.uid(8))
        put_event(events, p.event(c))
        ctx = {"prefix": p.prefix}
        producers.append(Producer(senv(ctx, url, SQS_VISIBILITY_TIMEOUT="2",
                                       SL_TEST_EXIT_AFTER_PUBLISH="true"),
                                  tmp_path / "p1.log"))
        h.wait_for(lambda: not producers[0].alive(), 60, what="first producer killed")
        assert producers[0].stop() == -9, producers[0].stderr()
        producers.append(Producer(senv(ctx, url, SQS_VISIBILITY_TIMEOUT="2"),
                                  tmp_path / "p2.log"))
        producers[1].wait_log(lambda r: r.get("event") == "duplicate", 60, "duplicate")
        h.wait_for(lambda: drained(sqs, url), 30, what="queue drained")

        crawled = p.read("crawls", 1, 120)
        assert crawled[0].value["run_id"] == c["run_id"]
        assert crawled[0].value["crawl_status"] == "SUCCEEDED"
        p.assert_no_more("exports", 1)
        p.assert_no_more("crawls", 1)
        tasks = [t for t in h.standin_state()["tasks"]
                 if t["ExportTaskIdentifier"].startswith(c["run_id"])]
        assert len(tasks) == 1, tasks
        assert producers[1].stop() == 0, producers[1].stderr()
        assert tp.summary(producers[1].logs())["duplicates"] == 1
        tpl.assert_clean_exit(p)
    finally:
        for pr in producers:
            pr.stop()
        if p.workers:
            p.stop()
        h.standin_config_reset()


def test_sqs_config_errors_exit_2(ctx):
    """sqs mode without SQS_QUEUE_URL, or with one that is not a queue URL: exit 2 before
    anything connects, every error at once."""
    for url, want in ((None, "SQS_QUEUE_URL: required in sqs mode"),
                      ("arn:aws:sqs:us-east-1:123456789012:q", "is not an http(s) queue URL")):
        env = senv(ctx, url or "", SQS_MAX_MESSAGES="11")
        if url is None:
            env.pop("SQS_QUEUE_URL")
        rc, _, err = tp.run("sqs", env, timeout=60)
        assert rc == 2, err
        assert want in err and "SQS_MAX_MESSAGES" in err, err


def test_sqs_missing_queue_fails_after_attempts(ctx, tmp_path):
    """A queue that does not exist: each ReceiveMessage fails with SQS's code, the producer
    retries PRODUCER_MAX_ATTEMPTS times in a row, then exits 1 with the summary."""
    url = "%s/%s/sl-missing-%s" % (os.environ["MOTO_ENDPOINT"], h.ACCOUNT, ctx["u"])
    rc, logs, err = tp.run("sqs", senv(ctx, url, PRODUCER_MAX_ATTEMPTS="2"), timeout=120)
    assert rc == 1, err
    fails = [r for r in logs if r.get("event") == "aws_error"]
    assert len(fails) == 2, logs
    assert "QueueDoesNotExist" in fails[0]["error_code"] or \
        "NonExistentQueue" in fails[0]["error_code"], fails[0]
    assert tp.summary(logs)["published"] == 0


def test_sqs_slow_batch_extends_visibility(ctx, tmp_path):
    """A batch held past half SQS_VISIBILITY_TIMEOUT has its visibility extended before the
    next message (ChangeMessageVisibilityBatch, every entry accepted by SQS) and nothing is
    delivered twice. The slow publish: the test holds an uncommitted ledger row of both runs,
    so the producer's ledger record waits on that lock until the test rolls back. The hold is
    the one duration here: it must pass half the timeout (4 s) and end well before the whole
    (8 s); nothing asserts how long anything took."""
    import subprocess
    import time
    u = ctx["u"]
    a, b = "sq-%s-d" % u, "sq-%s-e" % u
    url, sqs, events = rule_and_queue([a, b], "sl-%s" % u)
    put_event(events, tp.event(a))
    put_event(events, tp.event(b))
    app = "sl-test-lock-%s" % u
    rows = ",".join("('%s-%s-03-05', '%s', 'snapshot', 'rds:%s-%s-03-05', 'arn:x', '%s',"
                    " 'event')" % (c, tp.DATE, c, c, tp.DATE, tp.DATE) for c in (a, b))
    lock = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, env=dict(os.environ, PGAPPNAME=app),
                            text=True)
    p = None
    try:
        lock.stdin.write("BEGIN;\nINSERT INTO snaplake_runs (run_id, cluster, mode, snapshot_id,"
                         " source_arn, date, source) VALUES %s;\n" % rows)
        lock.stdin.flush()
        h.wait_for(lambda: h.psql_json("SELECT 1 FROM pg_stat_activity WHERE application_name ="
                                       " :'p1' AND state = 'idle in transaction'", app),
                   30, what="the test's lock held")
        p = Producer(senv(ctx, url, SQS_VISIBILITY_TIMEOUT="8", PG_LOCK_TIMEOUT="60s"),
                     tmp_path / "producer.log")
        h.wait_for(lambda: h.psql_json("SELECT 1 FROM pg_stat_activity WHERE application_name ="
                                       " 'snaplake-producer' AND wait_event_type = 'Lock'"),
                   60, what="the producer waiting on the ledger lock")
        time.sleep(5)  # the slow publish (see the docstring)
    finally:
        lock.stdin.write("ROLLBACK;\n")
        lock.stdin.close()
        lock.wait(30)
    try:
        ext = p.wait_log(lambda r: r.get("event") == "sqs_visibility_extended", 60,
                         "visibility extended")
        h.wait_for(lambda: drained(sqs, url), 30, what="queue drained")
        h.wait_for(lambda: len(events_of(p, "published")) == 2, 30, what="both published")
    finally:
        rc = p.stop()
    assert rc == 0, p.stderr()
    assert ext["messages"] == "2", ext
    assert not events_of(p, "sqs_batch_failed") and not events_of(p, "aws_error")
    assert tp.summary(p.logs()) == {"published": 2, "duplicates": 0, "dead_lettered": 0,
                                    "errors": 0}
    tp.read_exactly(ctx["prefix"] + "snapshots", 2)


def test_sqs_endpoint_ready_and_metrics(ctx, tmp_path):
    """sqs mode with METRICS_ADDR serves the workers' endpoint from its own loop: /readyz 200
    once Kafka, PostgreSQL and SQS have answered (the body names all four checks), /metrics
    (read with Prometheus' own parser) counting a published event and a dead-lettered body,
    both received and deleted, and SQS's requests by operation; `--probe` is the health check."""
    import subprocess
    import test_metrics as tm
    c = "sq-%s-m" % ctx["u"]
    url, sqs, events = rule_and_queue([c], "sl-%s" % ctx["u"])
    port = tm.free_port()
    p = Producer(senv(ctx, url, METRICS_ADDR="127.0.0.1:%d" % port, HEALTH_READY_TIMEOUT="6s"),
                 tmp_path / "producer.log")
    try:
        status, text = h.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            tm.get(port, "/readyz")), 90, what="/readyz 200")
        assert json.loads(text)["checks"] == {"loop": "ok", "kafka": "ok", "postgres": "ok",
                                              "sqs": "ok"}
        m0 = tm.scrape(port)
        assert tm.sample(m0, "snaplake_producer_published_total", mode="sqs") == 0
        assert tm.sample(m0, "snaplake_dead_letters_total", stage="producer") == 0
        assert tm.sample(m0, "snaplake_producer_sqs_deleted_total") == 0

        put_event(events, tp.event(c))
        sqs.send_message(QueueUrl=url, MessageBody="{not json")

        def moved():
            m = tm.scrape(port)
            return m if (tm.sample(m, "snaplake_producer_published_total", mode="sqs") == 1
                         and tm.sample(m, "snaplake_dead_letters_total", stage="producer") == 1
                         and tm.sample(m, "snaplake_producer_sqs_deleted_total") == 2) else None
        m = h.wait_for(moved, 60, what="a publish and a dead letter counted, both deleted")
        assert tm.sample(m, "snaplake_producer_events_received_total", mode="sqs") == 2
        assert tm.sample(m, "snaplake_producer_sqs_received_total") == 2
        assert tm.sample(m, "snaplake_producer_duplicates_total", mode="sqs") == 0
        assert tm.sample(m, "snaplake_producer_step_failures_total", step="publish") == 0
        for op in ("ReceiveMessage", "DeleteMessageBatch"):
            ok = tm.sample(m, "snaplake_aws_requests_total", service="sqs", operation=op,
                           code="OK")
            assert ok and ok >= 1, (op, m)
        probe = subprocess.run([h.producer_binary(), "--probe", "/healthz"],
                               env=dict(os.environ, METRICS_ADDR=":%d" % port),
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "http://127.0.0.1:%d/healthz 200" % port
    finally:
        rc = p.stop()
    assert rc == 0, p.stderr()


def test_sqs_endpoint_not_ready_while_the_queue_fails(ctx, tmp_path):
    """A queue SQS refuses (it does not exist): Kafka and PostgreSQL answer, but /readyz says
    503 with "sqs": "unreachable" while the producer keeps retrying, and the refusals are
    counted by SQS's error code."""
    import test_metrics as tm
    url = "%s/%s/sl-missing-%s" % (os.environ["MOTO_ENDPOINT"], h.ACCOUNT, ctx["u"])
    port = tm.free_port()
    p = Producer(senv(ctx, url, METRICS_ADDR="127.0.0.1:%d" % port, PRODUCER_MAX_ATTEMPTS="100",
                      HEALTH_READY_TIMEOUT="3s"), tmp_path / "producer.log")
    try:
        def refused():
            m = tm.scrape(port)
            n = sum(v for (name, ls), v in m.items() if name == "snaplake_aws_requests_total"
                    and dict(ls).get("operation") == "ReceiveMessage"
                    and dict(ls).get("code") != "OK")
            return n if n >= 2 else None
        h.wait_for(lambda: tm.get(port, "/metrics")[0] == 200, 90, what="/metrics answers")
        h.wait_for(refused, 60, what="ReceiveMessage refusals counted")

        def kafka_pg_ok():
            status, text = tm.get(port, "/readyz")
            c = json.loads(text)["checks"] if status else {}
            return (status, c) if c.get("kafka") == "ok" and c.get("postgres") == "ok" else None
        status, checks = h.wait_for(kafka_pg_ok, 60, what="Kafka and PostgreSQL seen answering")
        assert status == 503 and checks["sqs"] == "unreachable", checks
        assert p.alive()
    finally:
        p.stop()
