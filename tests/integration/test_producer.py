"""Integration tests of snaplake-producer (event, discover and cluster modes) on the local
stack: real Kafka, the PostgreSQL run ledger, and moto (signature checking on) for RDS. Run with
.stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_producer.py

Every test uses its own topic prefix and its own cluster names, so runs in the shared ledger
and topics never collide with other tests.
"""

import array
import fcntl
import json
import os
import signal
import subprocess
import sys
import termios
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DATE = "2024-02-29"


def penv(prefix, **kv):
    """Environment for the producer: stack env, RDS = moto itself, unique topic prefix."""
    e = h.worker_env(prefix, AWS_ENDPOINT_URL=os.environ["MOTO_ENDPOINT"],
                     PRODUCER_RETRY_BASE="100ms")
    for k in ("CLUSTERS", "EVENTS_FILE", "PRODUCER_MODE"):
        e.pop(k, None)
    e.update({k: str(v) for k, v in kv.items()})
    return e


def log_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def summary(logs):
    s = [r for r in logs if r.get("event") == "summary"]
    assert len(s) == 1, "expected one summary line, got %r" % s
    return {k: int(s[0][k]) for k in ("published", "duplicates", "dead_lettered", "errors")}


def run(mode, env, stdin=None, timeout=120):
    r = subprocess.run([h.producer_binary(), mode], env=env, input=stdin, capture_output=True,
                       timeout=timeout, cwd=h.ROOT)
    return r.returncode, log_lines(r.stdout.decode("utf-8", "replace")), \
        r.stderr.decode("utf-8", "replace")


def read_exactly(topic, n, timeout=30):
    """The records of topic, asserting there are exactly n (waits a little for extras)."""
    with h.KafkaReader(topic) as r:
        recs = r.read(n, timeout)
        assert len(recs) >= n, "only %d of %d records on %s: %r" % (len(recs), n, topic, recs)
        recs = r.read(n + 1, 3)
    assert len(recs) == n, "expected %d records on %s, got %d: %r" % (n, topic, len(recs), recs)
    return recs


def event(cluster, date=DATE, hhmm="03-05", message="Automated cluster snapshot created",
          **over):
    sid = "rds:%s-%s-%s" % (cluster, date, hhmm)
    ev = {"version": "0", "id": h.uid(16), "detail-type": "RDS DB Cluster Snapshot Event",
          "source": "aws.rds", "account": h.ACCOUNT, "time": "%sT03:10:11Z" % DATE,
          "region": "us-east-1",
          "resources": ["arn:aws:rds:us-east-1:%s:cluster-snapshot:%s" % (h.ACCOUNT, sid)],
          "detail": {"EventCategories": ["backup"], "SourceType": "CLUSTER_SNAPSHOT",
                     "SourceArn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:%s"
                     % (h.ACCOUNT, sid),
                     "Message": message, "SourceIdentifier": sid,
                     "EventID": "RDS-EVENT-0169"}}
    ev.update(over)
    return ev


def line(ev):
    return json.dumps(ev, separators=(",", ":"))


def runs(run_ids):
    rows = h.psql_json("SELECT run_id, cluster, mode, snapshot_id, source_arn, source,"
                       " date::text AS date FROM snaplake_runs"
                       " WHERE run_id = ANY(string_to_array(:'p1', ','))", ",".join(run_ids))
    return {r["run_id"]: r for r in rows}


@pytest.fixture
def ctx(request):
    h.require_stack()
    pre = h.topic_prefix(request.node.name)
    h.create_topics(pre)
    return {"prefix": pre, "u": h.uid(6)}


# ---------------------------------------------------- discover mode: the first generation

def _discover_make(rds, c):
    rds.create_db_cluster(DBClusterIdentifier=c, Engine="aurora-postgresql",
                          MasterUsername="snaplake", MasterUserPassword="not-a-secret-1")


def _discover_automated(rds, c):
    return sorted(s["DBClusterSnapshotIdentifier"] for s in rds.describe_db_cluster_snapshots(
        DBClusterIdentifier=c, SnapshotType="automated")["DBClusterSnapshots"])


@pytest.fixture(scope="module", autouse=True)
def discover_first_generation():
    """The first generation of test_discover_newest_per_cluster's two clusters (an automated
    snapshot each, a manual one, then deleted), made as this module starts: moto names an
    automated snapshot by the minute, so the test's second generation must wait for the next
    minute, and the module's other tests (the discover test runs last) fill that wait instead
    of a test standing idle for up to 60 s. Yields (rds client, clusters, {cluster: automated
    snapshot ids}, the newest of their "HH-MM")."""
    h.require_stack()
    rds = h.aws("rds", standin=False)
    u = h.uid(6)
    clusters = ["disc-%s-a" % u, "disc-%s-b" % u]
    for c in clusters:
        _discover_make(rds, c)
    first = {c: _discover_automated(rds, c) for c in clusters}
    minute = max(s[-5:] for v in first.values() for s in v)
    for c in clusters:
        rds.create_db_cluster_snapshot(DBClusterIdentifier=c,
                                       DBClusterSnapshotIdentifier="%s-manual" % c)
        rds.delete_db_cluster(DBClusterIdentifier=c, SkipFinalSnapshot=True)
    yield rds, clusters, first, minute


# ------------------------------------------------------------------------------- event mode


def pipe_unread(f):
    """Bytes written to the pipe behind file f that its reader has not read yet."""
    buf = array.array("i", [0])
    fcntl.ioctl(f.fileno(), termios.FIONREAD, buf)
    return buf[0]

def test_event_file_mixed_input(ctx, tmp_path):
    """Valid events, a duplicate, malformed JSON, a non-matching event, a bad date and a
    cluster outside CLUSTERS: one snapshot per distinct valid snapshot, the rest dead-lettered
    with their reasons, exit 0, every line handled."""
    u = ctx["u"]
    a, b, outsider = "ev-%s-a" % u, "ev-%s-b" % u, "zz-%s" % u
    lines = [
        line(event(a)),                                            # 1 valid
        line(event(b, hhmm="04-10")),                              # 2 valid
        "",                                                        # blank: skipped
        line(event(a)),                                            # 4 duplicate of 1
        '{"source": "aws.rds", "detail-type": "RDS DB Cluster',    # 5 malformed JSON
        line(event(b, message="Manual cluster snapshot created")), # 6 not matching
        line(event(a, date="2024-02-30")),                         # 7 bad date
        line(event(outsider)),                                     # 8 outside CLUSTERS
    ]
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join(lines) + "\n")
    rc, logs, err = run("event", penv(ctx["prefix"], EVENTS_FILE=f,
                                      CLUSTERS="ev-%s-a,ev-%s-b" % (u, u)))
    assert rc == 0, err
    assert summary(logs) == {"published": 2, "duplicates": 1, "dead_lettered": 4, "errors": 0}

    snaps = read_exactly(ctx["prefix"] + "snapshots", 2)
    by_cluster = {r.value["cluster"]: r for r in snaps}
    assert set(by_cluster) == {a, b}
    for c, hhmm in ((a, "03-05"), (b, "04-10")):
        r = by_cluster[c]
        m = r.value
        assert r.key == c
        assert m["v"] == 1 and m["type"] == "snapshot"
        assert m["mode"] == "snapshot" and m["source"] == "event"
        assert m["snapshot_id"] == "rds:%s-%s-%s" % (c, DATE, hhmm)
        assert m["run_id"] == "%s-%s-%s" % (c, DATE, hhmm)
        assert m["source_arn"].endswith(":cluster-snapshot:" + m["snapshot_id"])
        assert m["date"] == DATE
        assert m["snapshot_time"] == "%sT03:10:11.000Z" % DATE
    dups = [r for r in logs if r.get("event") == "duplicate"]
    assert len(dups) == 1 and dups[0]["msg"] == "duplicate snapshot, run exists"
    assert dups[0]["run_id"] == "%s-%s-03-05" % (a, DATE)

    dlq = read_exactly(ctx["prefix"] + "dlq", 4)
    by_line = {}
    for r in dlq:
        d = r.value
        assert d["type"] == "dead_letter" and d["topic"] == ""
        assert d["partition"] == -1 and d["offset"] == -1
        ln = int(d["reason"].rsplit("(input line ", 1)[1].rstrip(")"))
        by_line[ln] = d
    assert sorted(by_line) == [5, 6, 7, 8]
    assert by_line[5]["reason"].startswith("malformed: not valid JSON")
    assert by_line[6]["reason"].startswith("not matching: detail.Message")
    assert by_line[7]["reason"].startswith("malformed: detail.SourceIdentifier")
    assert "2024-02-30" in by_line[7]["reason"]
    assert by_line[8]["reason"].startswith(
        "not matching: cluster %s is not in the allowlist" % outsider)
    for ln, d in by_line.items():
        assert d["payload"] == lines[ln - 1], "payload of line %d is not the raw input" % ln

    # the ledger holds exactly the two runs, recorded after their publish
    got = runs(["%s-%s-03-05" % (a, DATE), "%s-%s-04-10" % (b, DATE),
                "%s-%s-03-05" % (outsider, DATE)])
    assert set(got) == {"%s-%s-03-05" % (a, DATE), "%s-%s-04-10" % (b, DATE)}
    assert all(r["mode"] == "snapshot" and r["source"] == "event" for r in got.values())

    # the same input again: everything valid is a duplicate now, nothing new is published
    rc, logs, err = run("event", penv(ctx["prefix"], EVENTS_FILE=f,
                                      CLUSTERS="ev-%s-a,ev-%s-b" % (u, u)))
    assert rc == 0, err
    assert summary(logs) == {"published": 0, "duplicates": 3, "dead_lettered": 4, "errors": 0}
    read_exactly(ctx["prefix"] + "snapshots", 2)


def test_event_array_and_pretty_objects(ctx, tmp_path):
    """A JSON array of events followed by a pretty-printed object, on stdin."""
    u = ctx["u"]
    cs = ["arr-%s-%d" % (u, i) for i in range(3)]
    text = json.dumps([event(cs[0]), event(cs[1])], indent=2) + "\n" + \
        json.dumps(event(cs[2]), indent=4) + "\n"
    rc, logs, err = run("event", penv(ctx["prefix"]), stdin=text.encode())
    assert rc == 0, err
    assert summary(logs) == {"published": 3, "duplicates": 0, "dead_lettered": 0, "errors": 0}
    snaps = read_exactly(ctx["prefix"] + "snapshots", 3)
    assert sorted(r.key for r in snaps) == sorted(cs)


def test_event_overlong_line_is_dead_lettered(ctx, tmp_path):
    u = ctx["u"]
    big = line(event("big-%s" % u, padding="x" * 5000))
    ok = line(event("ok-%s" % u))
    rc, logs, err = run("event", penv(ctx["prefix"], EVENT_MAX_BYTES=1024),
                        stdin=(big + "\n" + ok + "\n").encode())
    assert rc == 0, err
    assert summary(logs) == {"published": 1, "duplicates": 0, "dead_lettered": 1, "errors": 0}
    (d,) = read_exactly(ctx["prefix"] + "dlq", 1)
    assert d.value["reason"].startswith(
        "malformed: input event of %d bytes exceeds EVENT_MAX_BYTES (1024)" % len(big))
    assert d.value["payload"] == big[:1024]
    (s,) = read_exactly(ctx["prefix"] + "snapshots", 1)
    assert s.key == "ok-%s" % u


def test_event_pipe_keeps_running_between_lines(ctx, tmp_path):
    """Fed through a pipe a line at a time: each line is handled as it arrives and the
    producer waits for the next; closing the pipe ends it with exit 0."""
    u = ctx["u"]
    c1, c2 = "pipe-%s-a" % u, "pipe-%s-b" % u
    out = open(tmp_path / "producer.log", "wb")
    p = subprocess.Popen([h.producer_binary(), "event"], env=penv(ctx["prefix"]),
                         stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, cwd=h.ROOT)

    def logs():
        return log_lines((tmp_path / "producer.log").read_text())

    def wait_log(pred, what):
        def find():
            assert p.poll() is None, "producer exited (%s): %s" % (p.returncode,
                                                                  p.stderr.read().decode())
            return next((r for r in logs() if pred(r)), None)
        return h.wait_for(find, 60, what=what)

    try:
        wait_log(lambda r: r.get("msg") == "producer ready", "producer ready")
        p.stdin.write((line(event(c1)) + "\n").encode())
        p.stdin.flush()
        wait_log(lambda r: r.get("event") == "published" and r.get("cluster") == c1,
                 "first event published")
        # half a line: nothing happens, and the producer keeps waiting. Wait until it has read
        # the half line out of the pipe (FIONREAD on a pipe counts the unread bytes, from either
        # end), so the check below sees what it did with it, not a race with the read.
        second = line(event(c2))
        p.stdin.write(second[:40].encode())
        p.stdin.flush()
        h.wait_for(lambda: pipe_unread(p.stdin) == 0, 60, what="half line read")
        assert p.poll() is None
        assert not [r for r in logs() if r.get("cluster") == c2]
        p.stdin.write((second[40:] + "\n").encode())
        p.stdin.flush()
        wait_log(lambda r: r.get("event") == "published" and r.get("cluster") == c2,
                 "second event published")
        p.stdin.write(b"this is not an event\n")
        p.stdin.flush()
        wait_log(lambda r: r.get("event") == "dead_letter", "dead letter")
        assert p.poll() is None, "producer stopped after a bad line"
        p.stdin.close()
        assert p.wait(60) == 0, p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        out.close()
    assert summary(logs()) == {"published": 2, "duplicates": 0, "dead_lettered": 1, "errors": 0}
    (d,) = read_exactly(ctx["prefix"] + "dlq", 1)
    assert d.value["payload"] == "this is not an event"
    assert d.value["reason"] == "malformed: not valid JSON (input line 3)"
    assert sorted(r.key for r in read_exactly(ctx["prefix"] + "snapshots", 2)) == [c1, c2]


def test_event_pipe_serves_the_endpoint(ctx, tmp_path):
    """Event mode on a pipe is long-running, so it serves the endpoint like the workers: /readyz
    200 with Kafka and PostgreSQL answering (no "sqs" check in this mode), and /metrics counting
    the lines read, the one published and the one dead-lettered."""
    import test_metrics as tm
    port = tm.free_port()
    out = open(tmp_path / "producer.log", "wb")
    p = subprocess.Popen([h.producer_binary(), "event"],
                         env=penv(ctx["prefix"], METRICS_ADDR="127.0.0.1:%d" % port),
                         stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, cwd=h.ROOT)
    try:
        status, text = h.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            tm.get(port, "/readyz")), 90, what="/readyz 200")
        assert json.loads(text)["checks"] == {"loop": "ok", "kafka": "ok", "postgres": "ok"}
        assert tm.sample(tm.scrape(port), "snaplake_producer_events_received_total",
                         mode="event") == 0
        p.stdin.write((line(event("ep-%s" % ctx["u"])) + "\nnot an event\n").encode())
        p.stdin.flush()

        def counted():
            m = tm.scrape(port)
            return m if (tm.sample(m, "snaplake_producer_published_total", mode="event") == 1
                         and tm.sample(m, "snaplake_dead_letters_total", stage="producer") == 1
                         ) else None
        m = h.wait_for(counted, 60, what="a publish and a dead letter counted")
        assert tm.sample(m, "snaplake_producer_events_received_total", mode="event") == 2
        assert not [k for k in m if k[0] == "snaplake_producer_sqs_received_total"], m
        p.stdin.close()
        assert p.wait(60) == 0, p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        out.close()


def test_event_sigterm_on_idle_pipe(ctx, tmp_path):
    u = ctx["u"]
    out = open(tmp_path / "producer.log", "wb")
    p = subprocess.Popen([h.producer_binary(), "event"], env=penv(ctx["prefix"]),
                         stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, cwd=h.ROOT)
    try:
        p.stdin.write((line(event("term-%s" % u)) + "\n").encode())
        p.stdin.flush()
        h.wait_for(lambda: any(r.get("event") == "published" for r in
                               log_lines((tmp_path / "producer.log").read_text())),
                   60, what="published")
        p.send_signal(signal.SIGTERM)
        assert p.wait(60) == 0, p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdin.close()
        out.close()
    logs = log_lines((tmp_path / "producer.log").read_text())
    assert summary(logs)["published"] == 1
    assert any(r.get("event") == "stop" for r in logs)


def test_infrastructure_failures_exit_nonzero(ctx, tmp_path):
    """Kafka or PostgreSQL unreachable after retries: exit 1 with a clear error line."""
    ev = (line(event("infra-%s" % ctx["u"])) + "\n").encode()
    rc, logs, err = run("event", penv(ctx["prefix"], PGPORT=1, PRODUCER_MAX_ATTEMPTS=2,
                                      SL_CREATE_TOPICS="false"), stdin=ev)
    assert rc == 1
    assert "cannot start" in err and "postgres" in err
    rc, logs, err = run("event", penv(ctx["prefix"], KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
                                      SL_CREATE_TOPICS="false", PRODUCER_MAX_ATTEMPTS=2,
                                      PUBLISH_TIMEOUT="2s", KAFKA_DELIVERY_TIMEOUT_MS=1500),
                        stdin=ev, timeout=90)
    assert rc == 1
    assert "publish failed after 2 tries" in err
    assert summary(logs)["published"] == 0
    # nothing was recorded for the snapshot that could not be published
    assert runs(["infra-%s-%s-03-05" % (ctx["u"], DATE)]) == {}
    # bad configuration: every error at once
    rc, logs, err = run("bogus", penv(ctx["prefix"], CLUSTERS="Not_A_Cluster",
                                      EVENT_MAX_BYTES=5))
    assert rc == 2  # a configuration error (nothing connected), not a run-time failure
    assert "unknown mode" in err and "EVENT_MAX_BYTES" in err


# ----------------------------------------------------------------------------- cluster mode

def test_cluster_mode_publishes_cluster_arn(ctx):
    c = h.create_cluster("clu-%s" % ctx["u"])
    missing = "nosuch-%s" % ctx["u"]
    t0 = time.time()
    rc, logs, err = run("cluster", penv(ctx["prefix"], CLUSTERS="%s,%s" % (c["cluster"],
                                                                          missing)))
    t1 = time.time()
    # the unknown cluster is a configuration error: reported, exit 1, the other one published
    assert rc == 1
    assert "could not be handled" in err
    bad = [r for r in logs if r.get("event") == "aws_error" and r.get("cluster") == missing]
    assert bad and bad[0]["error_code"] == "DBClusterNotFoundFault"
    assert summary(logs) == {"published": 1, "duplicates": 0, "dead_lettered": 0, "errors": 1}

    (r,) = read_exactly(ctx["prefix"] + "snapshots", 1)
    m = r.value
    assert r.key == c["cluster"]
    assert m["mode"] == "cluster" and m["source"] == "cluster"
    assert m["source_arn"] == c["cluster_arn"]
    assert "snapshot_id" not in m
    stamps = {time.strftime("%Y-%m-%d-%H-%M", time.gmtime(t)) for t in (t0, t1)}
    assert m["run_id"] in {"%s-%s" % (c["cluster"], s) for s in stamps}
    assert m["date"] == m["run_id"][-16:-6]
    row = runs([m["run_id"]])[m["run_id"]]
    assert row["mode"] == "cluster" and row["source_arn"] == c["cluster_arn"]
    assert row["snapshot_id"] is None


# ------------------------------------------------------- discover mode (last, see above)

def test_discover_newest_per_cluster(ctx, discover_first_generation):
    """Two clusters with several automated snapshots each (moto takes one per CreateDBCluster,
    named by the minute, so the clusters are re-created in the next minute) plus a manual one:
    the newest automated snapshot per cluster is published; a second run publishes nothing.
    The first generation was made when this module started (discover_first_generation), so
    the wait for the next minute has mostly passed by now."""
    rds, clusters, first, minute = discover_first_generation
    # wait for moto's clock to pass into the next minute, then re-create: a second snapshot
    h.wait_for(lambda: time.strftime("%H-%M", time.gmtime()) != minute, 65, interval=0.5,
               what="the next minute")
    for c in clusters:
        _discover_make(rds, c)
    newest = {}
    for c in clusters:
        ids = _discover_automated(rds, c)
        assert len(ids) == 2, ids
        newest[c] = max(ids, key=lambda s: s[-16:])
        assert newest[c] not in first[c]

    env = penv(ctx["prefix"], CLUSTERS=" ".join(clusters))
    rc, logs, err = run("discover", env)
    assert rc == 0, err
    assert summary(logs) == {"published": 2, "duplicates": 0, "dead_lettered": 0, "errors": 0}
    snaps = read_exactly(ctx["prefix"] + "snapshots", 2)
    got = {r.key: r.value for r in snaps}
    assert set(got) == set(clusters)
    for c in clusters:
        m = got[c]
        assert m["snapshot_id"] == newest[c]
        assert m["run_id"] == newest[c][len("rds:"):]
        assert m["mode"] == "snapshot" and m["source"] == "discovery"
        assert m["source_arn"].endswith(":cluster-snapshot:" + newest[c])
        assert m["date"] == newest[c][-16:-6]
        assert m.get("snapshot_time", "").endswith("Z")
    older = [s[len("rds:"):] for c in clusters for s in first[c]]
    recorded = runs([newest[c][len("rds:"):] for c in clusters] + older)
    assert set(recorded) == {newest[c][len("rds:"):] for c in clusters}
    assert all(r["source"] == "discovery" for r in recorded.values())

    # second run: the newest snapshots have runs, the older ones are not backfilled
    rc, logs, err = run("discover", env)
    assert rc == 0, err
    assert summary(logs) == {"published": 0, "duplicates": 2, "dead_lettered": 0, "errors": 0}
    read_exactly(ctx["prefix"] + "snapshots", 2)
    assert set(runs(older)) == set()
