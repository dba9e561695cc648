"""The worker's endpoint (common/endpoint.c, worker/worker_metrics.c) on the local stack:
/metrics read with Prometheus' own text parser while jobs run, /readyz after the group joins,
and /readyz and /healthz failing when Kafka cannot be reached. Run with .stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_metrics.py
"""

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; (None, error) when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def scrape(port):
    """{(name, frozenset(labels.items())): value} of every sample, parsed as Prometheus does."""
    status, body = get(port, "/metrics")
    assert status == 200, body
    out = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def sample(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def copy_job(prefix, src, cluster, task, date, run):
    root = "s3-export/%s/%s" % (cluster, date)
    snap = "rds:" + run
    h.produce(prefix + "exports",
              {"v": 1, "type": "exported", "run_id": run, "cluster": cluster, "mode": "snapshot",
               "snapshot_id": snap,
               "source_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:%s" % (h.ACCOUNT, snap),
               "date": date, "source": "event", "produced_at": h.now_rfc3339(),
               "export_task_id": task, "s3_bucket": src, "s3_prefix": root},
              key=cluster)


def test_metrics_move_and_ready_after_join(standin, tmp_path):
    """A copy worker with METRICS_ADDR: /readyz turns 200 once its group has joined, and a copy
    and a dead letter move the job, copy, AWS and dead-letter counters."""
    s3 = h.aws("s3", standin=False)
    cluster, task, date = "c-%s" % h.uid(8), "t-%s" % h.uid(8), "2024-03-05"
    src, lake = h.create_bucket(), h.create_bucket()
    run = "%s-%s-03-04" % (cluster, date)
    body = b"parquet bytes"
    s3.put_object(Bucket=src, Key="s3-export/%s/%s/%s/db/db.public.t/part-00000.gz.parquet"
                  % (cluster, date, task), Body=body)
    prefix = h.topic_prefix("metrics")
    h.create_topics(prefix, 1)
    port = free_port()
    w = h.Worker("copy", h.worker_env(prefix, LAKE_BUCKET=lake, LAKE_PREFIX="lake",
                                      AWS_S3_FORCE_PATH_STYLE="true",
                                      METRICS_ADDR="127.0.0.1:%d" % port,
                                      HEALTH_READY_TIMEOUT="6s",
                                      KAFKA_GROUP_ID="g-" + h.uid(10)),
                 tmp_path / "copy.log")
    try:
        w.wait_ready(90)
        h.wait_for(lambda: get(port, "/healthz")[0] == 200, 60, what="/healthz 200")
        status, text = h.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            get(port, "/readyz")), 90, what="/readyz 200 after the group joined")
        assert json.loads(text)["checks"] == {"loop": "ok", "kafka": "ok", "postgres": "ok"}

        m0 = scrape(port)
        assert sample(m0, "snaplake_jobs_finished_total", stage="copy", outcome="done") == 0
        assert sample(m0, "snaplake_dead_letters_total", stage="copy") == 0
        assert sample(m0, "snaplake_jobs_in_flight", stage="copy") == 0

        copy_job(prefix, src, cluster, task, date, run)
        h.produce(prefix + "exports", b"{not json", key=b"k")

        def moved():
            m = scrape(port)
            return m if (sample(m, "snaplake_jobs_finished_total", stage="copy",
                                outcome="done") == 1
                         and sample(m, "snaplake_dead_letters_total", stage="copy") == 1) else None
        m = h.wait_for(moved, 90, what="a copy and a dead letter counted")
        assert sample(m, "snaplake_jobs_finished_total", stage="copy", outcome="dead_letter") == 1
        assert sample(m, "snaplake_stage_duration_seconds_count", stage="copy") == 2
        assert sample(m, "snaplake_stage_duration_seconds_bucket", stage="copy",
                      le="+Inf") == 2
        assert sample(m, "snaplake_copy_objects_total") == 1
        assert sample(m, "snaplake_copy_bytes_total") == len(body)
        assert sample(m, "snaplake_failures_published_total", stage="copy") == 0
        ok = [v for (n, ls), v in m.items() if n == "snaplake_aws_requests_total"
              and dict(ls).get("service") == "s3" and dict(ls).get("code") == "OK"]
        assert ok and sum(ok) >= 2, m
        # Consumer lag of the partition this worker fetches, from librdkafka's statistics.
        h.wait_for(lambda: sample(scrape(port), "snaplake_consumer_lag",
                                  topic=prefix + "exports", partition="0") == 0,
                   60, what="consumer lag 0 reported")
        assert get(port, "/nope")[0] == 404
        # The container health check of images without curl (ECS): the worker's own probe.
        probe = subprocess.run([h.worker_binary(), "--probe", "/healthz"],
                               env=dict(os.environ, METRICS_ADDR=":%d" % port),
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "http://127.0.0.1:%d/healthz 200" % port
        assert w.stop() == 0
        # Nothing listens any more: the probe fails (exit 1), naming the URL.
        probe = subprocess.run([h.worker_binary(), "--probe", "/healthz"],
                               env=dict(os.environ, METRICS_ADDR=":%d" % port),
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode == 1 and "127.0.0.1:%d" % port in probe.stderr, probe
    finally:
        if w.alive():
            w.stop()


def test_unreachable_kafka_is_not_ready_then_not_live(tmp_path):
    """A worker whose Kafka cannot be reached used to log "worker ready" and stay Running for
    ever: /readyz must say 503 (kafka not joined), and /healthz too once
    HEALTH_DEPENDENCY_TIMEOUT has passed, so Kubernetes restarts it."""
    h.require_stack()
    closed = free_port()  # nothing listens there
    port = free_port()
    env = h.worker_env(h.topic_prefix("nokafka"), SL_CREATE_TOPICS="false",
                       KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:%d" % closed,
                       LAKE_BUCKET="b-" + h.uid(8), METRICS_ADDR="127.0.0.1:%d" % port,
                       HEALTH_READY_TIMEOUT="3s", HEALTH_DEPENDENCY_TIMEOUT="5s")
    w = h.Worker("copy", env, tmp_path / "copy.log")
    try:
        w.wait_ready(90)
        status, text = h.wait_for(lambda: (lambda r: r if r[0] is not None else None)(
            get(port, "/readyz")), 30, what="/readyz answers")
        assert status == 503, text
        assert json.loads(text)["checks"]["kafka"] == "not joined"
        assert json.loads(text)["checks"]["postgres"] == "ok"
        h.wait_for(lambda: get(port, "/healthz")[0] == 503, 60,
                   what="/healthz 503 after HEALTH_DEPENDENCY_TIMEOUT")
        assert json.loads(get(port, "/healthz")[1])["checks"]["kafka"] == "lost"
        assert w.alive()
        assert w.stop() == 0
    finally:
        if w.alive():
            w.stop()


def test_bad_metrics_addr_is_a_config_error(tmp_path):
    """METRICS_ADDR is checked at start with the other settings (exit 2, named)."""
    h.require_stack()
    env = h.worker_env(h.topic_prefix("badaddr"), LAKE_BUCKET="b-" + h.uid(8),
                       METRICS_ADDR="9464")
    w = h.Worker("copy", env, tmp_path / "copy.log")
    w.p.wait(60)
    out = open(w.log_path).read() + w.stderr()
    w.stop()
    assert w.p.returncode == 2, out
    assert "METRICS_ADDR" in out


def export_worker(tmp_path, name, foreign_seconds, limit, foreign_id=None):
    """An export worker with METRICS_ADDR against a reset stand-in (1 s exports) in which one
    foreign export (task foreign_id, else a random one) runs for foreign_seconds. Returns
    (topic prefix, port, worker)."""
    h.standin_config_reset()
    h.standin_reset(all=True)
    h.standin_config(export_cap=50, export_seconds=1.0)
    h.standin("POST", "/_standin/export/external",
              dict({"seconds": foreign_seconds}, **({"task_id": foreign_id} if foreign_id else {})))
    prefix = h.topic_prefix(name)
    h.create_topics(prefix, 1)
    port = free_port()
    role = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
    kms = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT
    w = h.Worker("export", h.worker_env(
        prefix, EXPORT_S3_BUCKET=h.create_bucket(), EXPORT_IAM_ROLE_ARN=role,
        EXPORT_KMS_KEY_ID=kms, EXPORT_POLL_INTERVAL="500ms", EXPORT_SLOT_RETRY="500ms",
        EXPORT_TASK_LIMIT=str(limit), KAFKA_GROUP_ID="g-" + h.uid(10),
        METRICS_ADDR="127.0.0.1:%d" % port), tmp_path / "export.log")
    return prefix, port, w


def test_export_slot_gauges_and_aws_operations(standin, tmp_path):
    """An export worker sets the slot gauges (limit, foreign exports counted) when it takes a
    slot, and counts RDS's StartExportTask by operation; a foreign export shows as foreign."""
    prefix, port, w = export_worker(tmp_path, "metrics-export", foreign_seconds=60, limit=3)
    try:
        w.wait_ready(90)
        cl = h.create_cluster()
        h.produce(prefix + "snapshots", h.snapshot_message(cl), key=cl["cluster"])

        def exported():
            m = scrape(port)
            return m if sample(m, "snaplake_jobs_finished_total", stage="export",
                               outcome="done") == 1 else None
        m = h.wait_for(exported, 120, what="the export counted as done")
        assert sample(m, "snaplake_export_slot_limit") == 3
        assert sample(m, "snaplake_export_foreign_running") == 1
        assert sample(m, "snaplake_export_slots_held") is not None
        assert sample(m, "snaplake_aws_requests_total", service="rds",
                      operation="StartExportTask", code="OK") == 1
        assert w.stop() == 0
    finally:
        if w.alive():
            w.stop()


def test_job_oldest_age_grows_while_an_export_waits(standin, tmp_path):
    """snaplake_job_oldest_age_seconds (the "export stuck" alert's metric) is 0 with nothing
    held, then grows while a job is held: here an export waiting for the account's only slot,
    which a foreign export occupies; once that ends, the export runs and the age is 0 again."""
    foreign = "other-tool-%s" % h.uid(8)
    prefix, port, w = export_worker(tmp_path, "metrics-age", foreign_seconds=600, limit=1,
                                    foreign_id=foreign)
    try:
        w.wait_ready(90)
        h.wait_for(lambda: get(port, "/metrics")[0] == 200, 60, what="/metrics answers")
        m0 = scrape(port)
        assert sample(m0, "snaplake_job_oldest_age_seconds", stage="export") == 0
        cl = h.create_cluster()
        h.produce(prefix + "snapshots", h.snapshot_message(cl), key=cl["cluster"])

        def held(at_least):
            m = scrape(port)
            age = sample(m, "snaplake_job_oldest_age_seconds", stage="export")
            return m if (sample(m, "snaplake_jobs_in_flight", stage="export") == 1
                         and age is not None and age >= at_least) else None
        m1 = h.wait_for(lambda: held(0.001), 90, what="the waiting export counted with an age")
        a1 = sample(m1, "snaplake_job_oldest_age_seconds", stage="export")
        m2 = h.wait_for(lambda: held(a1 + 1.0), 60, what="its age growing")
        assert sample(m2, "snaplake_jobs_finished_total", stage="export", outcome="done") == 0
        assert sample(m2, "snaplake_export_foreign_running") == 1
        # The foreign export ends: the run takes the slot, exports, and leaves the worker.
        h.standin_fail_export(foreign, "ended by the test", now=True)

        def finished():
            m = scrape(port)
            return m if (sample(m, "snaplake_jobs_finished_total", stage="export",
                                outcome="done") == 1
                         and sample(m, "snaplake_jobs_in_flight", stage="export") == 0
                         and sample(m, "snaplake_job_oldest_age_seconds", stage="export") == 0
                         ) else None
        h.wait_for(finished, 120, what="the export done and its age gone")
        assert w.stop() == 0
    finally:
        if w.alive():
            w.stop()


def kafka_pid():
    path = os.path.join(h.ROOT, ".stack", "pids", "kafka.pid")
    if not os.path.exists(path):
        pytest.skip("the local stack's Kafka pid is not known (%s)" % path)
    return int(open(path).read().strip())


def test_lost_kafka_turns_not_ready(tmp_path):
    """A worker that was Ready and then loses its broker (SIGSTOPped: connections stay open,
    nothing answers) turns /readyz 503 within HEALTH_READY_TIMEOUT plus librdkafka's request
    timeouts, and Ready again once the broker is back."""
    import signal
    h.require_stack()
    prefix = h.topic_prefix("metrics-lost")
    h.create_topics(prefix, 1)
    port = free_port()
    w = h.Worker("copy", h.worker_env(prefix, LAKE_BUCKET="b-" + h.uid(8),
                                      METRICS_ADDR="127.0.0.1:%d" % port,
                                      HEALTH_READY_TIMEOUT="3s", HEALTH_DEPENDENCY_TIMEOUT="10m",
                                      KAFKA_SOCKET_TIMEOUT_MS="5000",
                                      KAFKA_SESSION_TIMEOUT_MS="6000",
                                      KAFKA_HEARTBEAT_INTERVAL_MS="1000",
                                      KAFKA_GROUP_ID="g-" + h.uid(10)),
                 tmp_path / "copy.log")
    pid = kafka_pid()
    stopped = False
    try:
        w.wait_ready(90)
        h.wait_for(lambda: get(port, "/readyz")[0] == 200, 90, what="/readyz 200")
        os.kill(pid, signal.SIGSTOP)
        stopped = True
        h.wait_for(lambda: get(port, "/readyz")[0] == 503, 120,
                   what="/readyz 503 with the broker stopped")
        assert get(port, "/healthz")[0] == 200  # not yet HEALTH_DEPENDENCY_TIMEOUT
        os.kill(pid, signal.SIGCONT)
        stopped = False
        h.wait_for(lambda: get(port, "/readyz")[0] == 200, 120,
                   what="/readyz 200 again with the broker back")
        assert w.stop() == 0
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        if w.alive():
            w.stop()


def test_busy_metrics_port_fails_start(tmp_path):
    """A METRICS_ADDR that cannot be bound stops the start (exit 1) and says why in the log,
    rather than running a worker whose probes would fail for a reason nobody sees."""
    h.require_stack()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        env = h.worker_env(h.topic_prefix("busy"), LAKE_BUCKET="b-" + h.uid(8),
                           METRICS_ADDR="127.0.0.1:%d" % s.getsockname()[1])
        w = h.Worker("copy", env, tmp_path / "copy.log")
        w.p.wait(60)
        logs, err = w.logs(), w.stderr()
        w.stop()
    finally:
        s.close()
    assert w.p.returncode == 1, err
    assert "METRICS_ADDR" in err
    assert any("Address already in use" in r.get("msg", "") for r in logs), logs
