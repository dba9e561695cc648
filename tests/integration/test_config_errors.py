"""A bad configuration is reported whole, before anything connects, with exit status 2.

snaplake-worker, snaplake-producer and snaplakectl are started with several bad variables at
once and with PostgreSQL, Kafka and every AWS endpoint pointed at listening sockets of this
test's own: each bad variable must be named in the output, the exit status must be 2 (a
configuration error; 1 is kept for failures at run time), and none of the sockets may have
seen a connection.

    .venv/bin/pytest -q tests/integration/test_config_errors.py
"""

import os
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class Listeners:
    """Three listening sockets that never accept: a connection attempt queues in the backlog,
    where accept() (non-blocking) finds it afterwards."""

    def __init__(self):
        self.socks = {}
        for what in ("postgres", "kafka", "aws"):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            s.setblocking(False)
            self.socks[what] = s

    def port(self, what):
        return self.socks[what].getsockname()[1]

    def connected(self):
        seen = []
        for what, s in self.socks.items():
            try:
                c, _ = s.accept()
                c.close()
                seen.append(what)
            except BlockingIOError:
                pass
        return seen

    def close(self):
        for s in self.socks.values():
            s.close()


BAD = {
    "LOG_LEVEL": "loud",
    "AWS_REGION": "mars-1",
    "AWS_CA_BUNDLE": "/nonexistent/ca-bundle.pem",
    "KAFKA_BOGUS_PROPERTY": "1",
    "KAFKA_SOCKET_TIMEOUT_MS": "not-a-number",
    "KAFKA_ACKS": "0",
}


def env_with(listeners, **extra):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith(("KAFKA_", "AWS_ENDPOINT_URL", "EXPORT_", "LAKE_", "CRAWL")):
            del e[k]
    e.update({"DATABASE_URL": "host=127.0.0.1 port=%d dbname=x" % listeners.port("postgres"),
              "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:%d" % listeners.port("kafka"),
              "AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % listeners.port("aws"),
              "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
              "ASAN_OPTIONS": "detect_leaks=1"})
    e.update(BAD)
    e.update(extra)
    return e


def run(argv, env):
    r = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


@pytest.fixture
def listeners():
    ln = Listeners()
    yield ln
    ln.close()


def test_worker_export_reports_every_bad_variable_and_connects_nothing(listeners):
    extra = {"EXPORT_S3_BUCKET": "Bad_Bucket", "EXPORT_IAM_ROLE_ARN": "arn:aws:iam::1:role/x",
             "EXPORT_KMS_KEY_ID": "k", "EXPORT_TASK_PREFIX": "bad prefix!",
             "EXPORT_ONLY": "orders,9-not-a-cluster"}
    rc, out = run([h.worker_binary(), "export"], env_with(listeners, **extra))
    assert rc == 2, out
    for name in list(BAD) + ["EXPORT_S3_BUCKET", "EXPORT_TASK_PREFIX", "EXPORT_ONLY"]:
        assert name in out, "%s not reported:\n%s" % (name, out)
    assert listeners.connected() == [], out


def test_worker_copy_and_crawl_check_their_own_variables(listeners):
    rc, out = run([h.worker_binary(), "copy"],
                  env_with(listeners, LAKE_BUCKET="ab", LAKE_EXPECTED_BUCKET_OWNER="12345",
                           EXPORT_EXPECTED_BUCKET_OWNER="abcdefabcdef"))
    assert rc == 2, out
    for name in ("LAKE_BUCKET", "LAKE_EXPECTED_BUCKET_OWNER", "EXPORT_EXPECTED_BUCKET_OWNER",
                 "KAFKA_BOGUS_PROPERTY", "AWS_REGION"):
        assert name in out, "%s not reported:\n%s" % (name, out)
    rc, out = run([h.worker_binary(), "crawl"], env_with(listeners, CRAWLER_NAME="c-{clustr}"))
    assert rc == 2 and "CRAWLER_NAME" in out and "LOG_LEVEL" in out, out
    # Direct registration's settings (issue 8): mode, templates and the cluster list.
    rc, out = run([h.worker_binary(), "crawl"],
                  env_with(listeners, CATALOG_MODE="glue", CATALOG_DATABASE="db_{table}",
                           CATALOG_TABLE="{tabel}", CATALOG_DIRECT_CLUSTERS="9bad"))
    assert rc == 2, out
    for name in ("CATALOG_MODE", "CATALOG_DATABASE", "CATALOG_TABLE", "CATALOG_DIRECT_CLUSTERS"):
        assert name + ": value" in out, "%s not reported:\n%s" % (name, out)
    assert listeners.connected() == [], out


def test_producer_reports_every_bad_variable_and_connects_nothing(listeners):
    rc, out = run([h.producer_binary(), "discover"], env_with(listeners))
    assert rc == 2, out
    for name in BAD:
        assert name in out, "%s not reported:\n%s" % (name, out)
    assert listeners.connected() == [], out

