"""Bad input never crashes a worker and is never silently dropped (the quality bar).

The real snaplake-worker of each stage (export, copy, crawl) on the local stack gets, on its
own input topic, messages no producer of ours would write:

  - 2 MB of JSON (over SL_MSG_MAX_BYTES = 1 MiB; the topic is created to allow it);
  - bytes that are not valid UTF-8 inside a JSON string;
  - a well-formed message of version "v": 2;
  - 100,000 levels of nested arrays, bare and as a field of an otherwise valid message
    (cJSON refuses nesting beyond CJSON_NESTING_LIMIT, 1000, instead of recursing);
  - not JSON at all, 700 KiB of control characters (valid UTF-8 that JSON escapes six-fold),
    and an empty payload.

Each must end on the dead-letter topic with a reason, the original topic, partition and
offset, and the original key. The copy worker also gets an `exported` message whose bucket
does not exist: that one is well-formed, so it must end as a `failure` message naming AWS's
error. Afterwards every worker is still running and stops cleanly on SIGTERM (exit 0).

    .venv/bin/pytest -q tests/integration/test_bad_input.py
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BIG = 4 * 1024 * 1024
INPUT = {"export": "snapshots", "copy": "exports", "crawl": "copies"}


def create_topics(prefix):
    """The pipeline topics, the input ones allowing messages up to 4 MiB."""
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    topics = [NewTopic(prefix + t, num_partitions=2, replication_factor=1,
                       config={"max.message.bytes": str(BIG)} if t in INPUT.values() else {})
              for t in h.TOPIC_STAGES]
    for f in a.create_topics(topics, operation_timeout=30).values():
        f.result(30)


def produce_raw(topic, value, key):
    h.produce(topic, value, key=key, **{"message.max.bytes": BIG})


def exported(tag, **kw):
    m = {"v": 1, "type": "exported", "run_id": "bad-%s-2024-01-02-03-04" % tag,
         "cluster": "bad-%s" % tag, "mode": "snapshot",
         "snapshot_id": "rds:bad-%s-2024-01-02-03-04" % tag,
         "source_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:rds:bad-%s-2024-01-02-03-04"
                       % (h.ACCOUNT, tag),
         "date": "2024-01-02", "source": "event", "produced_at": "2024-01-02T03:10:00.000Z",
         "export_task_id": "bad-%s-2024-01-02-03-04" % tag, "s3_bucket": "no-such-%s" % tag,
         "s3_prefix": "s3-export"}
    m.update(kw)
    return m


def bad_messages(tag):
    """[(key, payload bytes, what)]: each must be dead-lettered."""
    nested = b"[" * 100000 + b"]" * 100000
    good = json.dumps(exported(tag)).encode()
    return [
        ("big", json.dumps(exported(tag, pad="x" * (2 * 1024 * 1024))).encode(), "2 MB"),
        ("utf8", good.replace(b'"s3-export"', b'"s3-\xff\xfe\xc3("'), "invalid UTF-8"),
        ("v2", json.dumps(exported(tag, v=2)).encode(), "version 2"),
        ("nested", nested, "100k nested arrays"),
        ("nested-field", good[:-1] + b', "deep": ' + nested + b"}", "nested field"),
        ("junk", b"this is not json", "not JSON"),
        # Valid UTF-8 that JSON must escape six-fold (\u0001): the dead letter still fits.
        ("ctrl", b"\x01" * (700 * 1024), "control characters"),
        ("empty", b"", "empty payload"),
    ]


def test_bad_input_is_dead_lettered_and_workers_survive(tmp_path):
    h.require_stack()
    prefix = h.topic_prefix("bad-input")
    create_topics(prefix)
    tag = h.uid()
    lake = h.create_bucket()
    env = dict(EXPORT_S3_BUCKET=h.create_bucket(), EXPORT_S3_PREFIX="s3-export",
               EXPORT_IAM_ROLE_ARN="arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT,
               EXPORT_KMS_KEY_ID="arn:aws:kms:us-east-1:%s:key/x" % h.ACCOUNT,
               LAKE_BUCKET=lake, LAKE_PREFIX="lake", AWS_S3_FORCE_PATH_STYLE="true",
               CRAWLER_NAME="snaplake-{cluster}", STAGE_RETRY_BASE="200ms",
               STAGE_RETRY_MAX="1s", KAFKA_SESSION_TIMEOUT_MS="6000",
               KAFKA_HEARTBEAT_INTERVAL_MS="1000")
    workers = {}
    try:
        for stage in INPUT:
            workers[stage] = h.Worker(stage, h.worker_env(
                prefix, KAFKA_GROUP_ID="g-%s%s" % (prefix, stage), **env),
                tmp_path / ("%s.log" % stage))
        for w in workers.values():
            w.wait_ready(90)

        bad = bad_messages(tag)
        for stage, topic in INPUT.items():
            for key, payload, _ in bad:
                produce_raw(prefix + topic, payload, "%s-%s" % (stage, key))
        # Well-formed, but its export bucket does not exist: a failure, not a dead letter.
        produce_raw(prefix + "exports", json.dumps(exported(tag)).encode(), "copy-nobucket")

        want = len(INPUT) * len(bad)
        with h.KafkaReader(prefix + "dlq") as dlq:
            recs = h.wait_for(lambda: (lambda r: r if len(r) >= want else None)(
                dlq.read(want, 1)), 120, what="%d dead letters" % want)
            # Each message's job is over (dead-lettered or failed, then committed): whatever
            # was published for them is on the topic now.
            h.wait_for(lambda: all(sum(1 for r in w.logs() if r.get("event") == "committed")
                                   >= len(bad) + (stage == "copy")
                                   for stage, w in workers.items()), 60,
                       what="every message's job committed")
            extra = dlq.read_to_end()
        assert len(extra) == want, "more dead letters than bad messages: %r" % extra[want:]
        by_key = {r.key: r.value for r in recs}
        for stage, topic in INPUT.items():
            for key, payload, what in bad:
                k = "%s-%s" % (stage, key)
                d = by_key.get(k)
                assert isinstance(d, dict), "no dead letter for %s (%s): %r" % (k, what, by_key)
                assert d["type"] == "dead_letter" and d["reason"], d
                assert d["topic"] == prefix + topic and d["offset"] >= 0, d
                assert d["partition"] in (0, 1), d
                # The payload travels along (truncated above 512 KiB, base64 if not UTF-8).
                assert "payload" in d, d
                if key in ("utf8",):
                    assert d.get("payload_encoding") == "base64", d
                if key in ("big", "ctrl"):
                    assert "cut" in d["reason"] and len(d["payload"]) > 1000, d["reason"]
                if key == "v2":
                    assert "2" in d["reason"] or "version" in d["reason"], d

        with h.KafkaReader(prefix + "failures") as fr:
            fails = h.wait_for(lambda: fr.read(1, 1), 60, what="the copy failure")
        f = fails[0].value
        assert f["stage"] == "copy" and f["cluster"] == "bad-%s" % tag, f
        assert "NoSuchBucket" in (f.get("error_code", "") + f["error_message"]), f

        for stage, w in workers.items():
            assert w.alive(), "%s worker died:\n%s" % (stage, w.stderr()[-4000:])
    finally:
        codes = {s: w.stop(60) for s, w in workers.items()}
    assert codes == {s: 0 for s in INPUT}, codes
    for stage, w in workers.items():
        err = w.stderr()
        assert "AddressSanitizer" not in err and "runtime error" not in err, err[-4000:]
