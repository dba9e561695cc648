"""Shared helpers for snaplake's pipeline integration tests (pytest, run from .venv).

The runner sources .stack/env first (scripts/stack.sh writes it), so the environment holds
KAFKA_BOOTSTRAP_SERVERS, PGHOST/PGPORT/PGUSER/PGDATABASE, MOTO_ENDPOINT, STANDIN_ENDPOINT,
AWS_REGION and the moto IAM user's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Every wait here
is bounded; nothing sleeps longer than a poll interval.

Stable API (other test files import it; extend, do not change):

  require_stack()                      skip the calling test when the stack env is missing
  stack_env() -> dict                  the stack variables above (copy of os.environ subset)
  uid(n=8) -> str                      short random lowercase hex
  wait_for(pred, timeout, interval=0.2, what="condition") -> value
                                       polls pred() until truthy; returns it or fails the test

  AWS
  aws(service, standin=True)           boto3 client at the stand-in (default) or moto directly
  create_bucket(name=None) -> str      an S3 bucket in moto (through the stand-in)
  create_cluster(cluster=None) -> dict Aurora cluster in moto; moto 5.2.5 takes an automated
                                       snapshot `rds:<cluster>-YYYY-MM-DD-HH-MM` on
                                       CreateDBCluster. Returns {cluster, cluster_arn,
                                       snapshot_id, snapshot_arn, date, run_id}
  snapshot_message(c, mode="snapshot") -> dict
                                       the `snapshot` message (docs/messages.md, v1) for c
  snapshot_event(c) -> dict            an EventBridge event of the seed's pattern for c's
                                       automated snapshot (snaplake-producer event's input)

  Stand-in control (/_standin/, see tests/standin/README.md)
  standin(method, path, body=None) -> dict
  standin_state() / standin_config(**kv) / standin_config_reset() / standin_reset(all=False)
  standin_fail_export(task_id, cause, now=False)
  (conftest.py) fixture `standin`      a PrivateStandin for the whole test module
  PrivateStandin()                     a stand-in of our own over MOTO_ENDPOINT on a free port,
                                       started with this process's AWS keys (so it can write
                                       export files into moto with signature checking on) and
                                       isolated from other tests' caps and counters; .start()
                                       points STANDIN_ENDPOINT at it, .stop() restores it

  Kafka
  topic_prefix(name) -> str            unique KAFKA_TOPIC_PREFIX for one test ("t-<name>-<uid>.")
  create_topics(prefix, partitions=12) the six pipeline topics under prefix
  produce(topic, value, key=None, partition=None, **conf)
                                       value: dict (JSON-encoded), str or bytes; flushed;
                                       through producer(**conf), one idempotent Producer per
                                       config for the whole process
  KafkaReader(topic)                   .read(n, timeout) -> [Record]; .close(); a context manager
                                       .read_to_end(timeout) -> [Record]: all the topic holds now
      Record: .key (str|None), .value (dict, or raw str when not JSON), .partition, .offset

  Processes
  worker_binary() -> path              $SNAPLAKE_WORKER_BIN, else build/asan/bin/..., else build/bin
  producer_binary() -> path            the same for snaplake-producer ($SNAPLAKE_PRODUCER_BIN)
  Worker(stage, env, log_path[, nofile]) a running snaplake-worker; .logs() -> [dict JSON lines],
                                       .wait_log(pred, timeout), .stop(timeout) (SIGTERM, returns
                                       the exit code), .kill() (SIGKILL), .alive()
  worker_env(prefix, **overrides) -> dict
                                       env for a worker: stack env, AWS endpoint = stand-in,
                                       KAFKA_TOPIC_PREFIX=prefix, SL_CREATE_TOPICS=true

  Ledger (psql CLI with the PG* environment)
  psql_json(sql, *params) -> list[dict]
  ledger_stage(run_ids, stage) -> {run_id: row}  rows of snaplake_stage_runs
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ACCOUNT = "123456789012"
STACK_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE",
              "MOTO_ENDPOINT", "STANDIN_ENDPOINT", "AWS_REGION", "AWS_ACCESS_KEY_ID",
              "AWS_SECRET_ACCESS_KEY")
TOPIC_STAGES = ("snapshots", "exports", "copies", "crawls", "shares", "failures", "dlq")


def require_stack():
    missing = [v for v in STACK_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip("local stack not running (source .stack/env): missing %s" % ", ".join(missing))


def stack_env():
    return {k: os.environ[k] for k in STACK_VARS if k in os.environ}


def uid(n=8):
    return uuid.uuid4().hex[:n]


def wait_for(pred, timeout, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------------------------------- AWS

def aws(service, standin=True):
    url = os.environ["STANDIN_ENDPOINT"] if standin else os.environ["MOTO_ENDPOINT"]
    return boto3.client(service, endpoint_url=url, region_name=os.environ.get("AWS_REGION",
                                                                              "us-east-1"),
                        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                      s3={"addressing_style": "path"}))


def create_bucket(name=None):
    name = name or "sl-test-%s" % uid(12)
    aws("s3").create_bucket(Bucket=name)
    return name


def create_cluster(cluster=None):
    cluster = cluster or "c-%s" % uid(10)
    rds = aws("rds")
    r = rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                              MasterUsername="snaplake", MasterUserPassword="not-a-secret-1")
    snaps = rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster,
                                              SnapshotType="automated")["DBClusterSnapshots"]
    assert snaps, "moto made no automated snapshot for %s" % cluster
    s = snaps[0]
    sid = s["DBClusterSnapshotIdentifier"]
    assert sid.startswith("rds:%s-" % cluster), sid
    suffix = sid[len("rds:%s-" % cluster):]  # YYYY-MM-DD-HH-MM
    return {"cluster": cluster, "cluster_arn": r["DBCluster"]["DBClusterArn"],
            "snapshot_id": sid, "snapshot_arn": s["DBClusterSnapshotArn"],
            "date": suffix[:10], "run_id": sid[len("rds:"):]}


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def snapshot_message(c, mode="snapshot"):
    m = {"v": 1, "type": "snapshot", "run_id": c["run_id"], "cluster": c["cluster"],
         "mode": mode, "date": c["date"], "produced_at": now_rfc3339()}
    if mode == "snapshot":
        m.update(snapshot_id=c["snapshot_id"], source_arn=c["snapshot_arn"], source="event")
    else:
        m.update(source_arn=c["cluster_arn"], source="cluster")
    return m


def snapshot_event(c):
    """An EventBridge event of the seed's pattern for c's automated snapshot."""
    return {"version": "0", "id": uid(16), "detail-type": "RDS DB Cluster Snapshot Event",
            "source": "aws.rds", "account": ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": os.environ.get("AWS_REGION", "us-east-1"),
            "resources": [c["snapshot_arn"]],
            "detail": {"EventCategories": ["backup"], "SourceType": "CLUSTER_SNAPSHOT",
                       "SourceArn": c["snapshot_arn"],
                       "Message": "Automated cluster snapshot created",
                       "SourceIdentifier": c["snapshot_id"], "EventID": "RDS-EVENT-0169"}}


# ---------------------------------------------------------------------------------- stand-in

def standin(method, path, body=None):
    import urllib.request
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(os.environ["STANDIN_ENDPOINT"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def standin_state():
    return standin("GET", "/_standin/state")


def standin_config(**kv):
    return standin("POST", "/_standin/config", kv)


def standin_config_reset():
    return standin("POST", "/_standin/config/reset", {})


def standin_reset(all=False):
    return standin("POST", "/_standin/reset", {"all": bool(all)})


def standin_fail_export(task_id, cause, now=False):
    return standin("POST", "/_standin/export/fail", {"task_id": task_id, "cause": cause,
                                                     "now": now})


class PrivateStandin:
    def __init__(self):
        self.p = None
        self.saved = None
        self.url = None

    def start(self, timeout=30):
        import socket
        import urllib.request
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(ROOT, ".stack", "logs", "standin-%d.log" % port)
                        if os.path.isdir(os.path.join(ROOT, ".stack", "logs"))
                        else os.devnull, "wb")
        self.p = subprocess.Popen(
            [os.path.join(ROOT, ".venv", "bin", "python"),
             os.path.join(ROOT, "tests", "standin", "standin.py"), "--port", str(port),
             "--upstream", os.environ["MOTO_ENDPOINT"]],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ))
        self.url = "http://127.0.0.1:%d" % port

        def up():
            try:
                urllib.request.urlopen(self.url + "/_standin/health", timeout=1).read()
                return True
            except OSError:
                return self.p.poll() is not None and pytest.fail("stand-in exited")
        wait_for(up, timeout, what="stand-in health")
        self.saved = os.environ.get("STANDIN_ENDPOINT")
        os.environ["STANDIN_ENDPOINT"] = self.url
        return self.url

    def stop(self):
        if self.saved is not None:
            os.environ["STANDIN_ENDPOINT"] = self.saved
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self.p:
            self.log.close()


# ------------------------------------------------------------------------------------- Kafka

def topic_prefix(name):
    return "t-%s-%s." % (name.replace("_", "-")[:40], uid())


def create_topics(prefix, partitions=12):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    fs = a.create_topics([NewTopic(prefix + s, num_partitions=partitions, replication_factor=1)
                          for s in TOPIC_STAGES], operation_timeout=30)
    for t, f in fs.items():
        try:
            f.result(30)
        except Exception as e:  # already exists is fine
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise


_PRODUCERS = {}


def _producer_key(conf):
    return (os.environ["KAFKA_BOOTSTRAP_SERVERS"],) + tuple(sorted(conf.items()))


def producer(**conf):
    """An idempotent Producer kept for the whole process, one per config: a new one spends
    about 0.5 s getting its producer id before its first message goes out."""
    key = _producer_key(conf)
    p = _PRODUCERS.get(key)
    if p is None:
        from confluent_kafka import Producer
        c = {"bootstrap.servers": key[0], "enable.idempotence": True}
        c.update(conf)
        p = _PRODUCERS[key] = Producer(c)
    return p


def produce(topic, value, key=None, partition=None, **conf):
    """value: dict (JSON-encoded), str or bytes; flushed (durable) on return. partition: the
    partitioner's choice by key when None. conf: producer properties (producer())."""
    p = producer(**conf)
    if isinstance(value, dict):
        value = json.dumps(value)
    errs = []
    kw = {} if partition is None else {"partition": partition}
    p.produce(topic, value=value, key=key, on_delivery=lambda e, m: e and errs.append(e), **kw)
    left = p.flush(30)
    if left or errs:
        _PRODUCERS.pop(_producer_key(conf), None)   # the next call starts afresh
    assert left == 0 and not errs, "produce to %s failed: %s" % (topic, errs)


class Record:
    def __init__(self, m):
        self.key = m.key().decode("utf-8", "replace") if m.key() is not None else None
        raw = m.value() or b""
        try:
            self.value = json.loads(raw)
        except ValueError:
            self.value = raw.decode("utf-8", "replace")
        self.partition = m.partition()
        self.offset = m.offset()

    def __repr__(self):
        return "Record(%r, %r)" % (self.key, self.value)


def watermarks(tps, timeout=10):
    """{partition: (low, high)} of the TopicPartitions, in one request. (The reader's own
    consumer would queue each query behind its fetch, up to fetch.wait.max.ms apiece.)"""
    from confluent_kafka.admin import AdminClient, OffsetSpec
    a = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    out = {tp.partition: [None, None] for tp in tps}
    for i, spec in enumerate((OffsetSpec.earliest(), OffsetSpec.latest())):
        fs = a.list_offsets({tp: spec for tp in tps}, request_timeout=timeout)
        for tp, f in fs.items():
            out[tp.partition][i] = f.result().offset
    return {p: tuple(v) for p, v in out.items()}


class KafkaReader:
    """Reads a topic from the beginning, every partition assigned by hand: no consumer group,
    so nothing to rebalance. (With subscribe(), librdkafka's consumer close could hang for
    good in the rebalance callback's assign during close, stalling the whole suite.) The topic
    may not exist yet: the partitions are assigned at the first read that finds it in the
    metadata, with every partition (the pipeline creates its topics whole)."""

    def __init__(self, topic):
        from confluent_kafka import Consumer
        self.topic = topic
        self.c = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                           "group.id": "reader-%s" % uid(12), "enable.auto.commit": False})
        self.assigned = False
        self.records = []

    def _assign(self):
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition
        md = self.c.list_topics(self.topic, timeout=5).topics.get(self.topic)
        if md is None or md.error is not None or not md.partitions:
            return False
        self.c.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in md.partitions])
        self.assigned = True
        return True

    def read(self, n, timeout):
        """Returns once n records were read in all (since creation) or timeout passed."""
        deadline = time.time() + timeout
        while len(self.records) < n and time.time() < deadline:
            if not self.assigned and not self._assign():
                time.sleep(0.2)
                continue
            m = self.c.poll(0.2)
            if m is None:
                continue
            if m.error():
                continue
            self.records.append(Record(m))
        return list(self.records)

    def read_to_end(self, timeout=30):
        """Every record the topic holds now: reads until each partition's position reaches the
        high watermark taken at the call (fails the test on timeout). After an event that
        follows a publish (a job's "committed" line, a worker's exit), this tells "nothing
        more was published" without waiting for a message that may never come."""
        from confluent_kafka import TopicPartition
        wait_for(lambda: self.assigned or self._assign(), timeout, what="topic %s" % self.topic)
        tps = [TopicPartition(self.topic, tp.partition) for tp in self.c.assignment()]
        marks = watermarks(tps)
        nxt = {tp.partition: -1 for tp in tps}
        for r in self.records:
            nxt[r.partition] = max(nxt[r.partition], r.offset + 1)

        def at_end():
            m = self.c.poll(0.05)
            if m is not None and not m.error():
                r = Record(m)
                self.records.append(r)
                nxt[r.partition] = max(nxt[r.partition], r.offset + 1)
            # position() also counts records a reader skips (control records).
            for tp in self.c.position(tps):
                nxt[tp.partition] = max(nxt[tp.partition], tp.offset)
            return all(hi <= lo or nxt[p] >= hi for p, (lo, hi) in marks.items())
        wait_for(at_end, timeout, interval=0, what="the end of %s" % self.topic)
        return list(self.records)

    def close(self):
        self.c.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# --------------------------------------------------------------------------------- processes

def binary(name, env_var):
    """Path of a snaplake binary: $env_var, else the ASan build, else the plain build."""
    b = os.environ.get(env_var)
    if b:
        return b
    for d in ("build/asan/bin", "build/bin"):
        full = os.path.join(ROOT, d, name)
        if os.path.exists(full):
            return full
    pytest.skip("%s is not built (make)" % name)


def worker_binary():
    return binary("snaplake-worker", "SNAPLAKE_WORKER_BIN")


def producer_binary():
    return binary("snaplake-producer", "SNAPLAKE_PRODUCER_BIN")


def worker_env(prefix, **overrides):
    e = dict(os.environ)
    e.update({"AWS_ENDPOINT_URL": os.environ["STANDIN_ENDPOINT"],
              "KAFKA_TOPIC_PREFIX": prefix, "SL_CREATE_TOPICS": "true",
              "TOPIC_PARTITIONS": "12", "LOG_LEVEL": "info",
              "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
              "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
    e.update({k: str(v) for k, v in overrides.items()})
    return e


class Worker:
    # logs(): the lines parsed so far and the bytes of the log they came from (class defaults,
    # so a subclass with an __init__ of its own needs nothing more).
    _parsed = None
    _read_to = 0

    def __init__(self, stage, env, log_path, nofile=None):
        """nofile: (soft, hard) RLIMIT_NOFILE of the worker's process, else this one's."""
        self.stage = stage
        self.log_path = str(log_path)
        self.out = open(self.log_path, "wb")
        self.err_path = self.log_path + ".stderr"
        self.err = open(self.err_path, "wb")
        pre = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None
        self.p = subprocess.Popen([worker_binary(), stage], env=env, stdout=self.out,
                                  stderr=self.err, cwd=ROOT, preexec_fn=pre)

    def alive(self):
        return self.p.poll() is None

    def logs(self):
        """Every JSON line logged so far. Only what was appended since the last call is read
        and parsed (waits call this every poll, and a debug log grows to megabytes)."""
        if self._parsed is None:
            self._parsed = []
        with open(self.log_path, "rb") as f:
            f.seek(self._read_to)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1          # a line being written waits for its end ...
        if end < len(chunk) and self.p.poll() is not None:
            end = len(chunk)                     # ... unless the process is gone
        for line in chunk[:end].splitlines():
            try:
                self._parsed.append(json.loads(line))
            except ValueError:
                pass
        self._read_to += end
        return list(self._parsed)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pred, timeout, what="log line"):
        def find():
            if not self.alive():
                pytest.fail("worker exited (%s) while waiting for %s; stderr:\n%s"
                            % (self.p.returncode, what, self.stderr()[-4000:]))
            for r in self.logs():
                if pred(r):
                    return r
            return None
        return wait_for(find, timeout, what=what)

    def wait_ready(self, timeout=60):
        return self.wait_log(lambda r: r.get("msg") == "worker ready", timeout, "worker ready")

    def stop(self, timeout=30):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        self.err.close()
        return self.p.returncode

    def kill(self):
        if self.alive():
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()
        self.out.close()
        self.err.close()
        return self.p.returncode


# ------------------------------------------------------------------------------------ ledger

def psql_json(sql, *params):
    """Runs one SELECT with psql; params are bound as psql variables :'p1', :'p2', ..."""
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    args = [psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    for i, p in enumerate(params, 1):
        args += ["-v", "p%d=%s" % (i, p)]
    wrapped = "SELECT coalesce(json_agg(t), '[]'::json) FROM (%s) t" % sql
    r = subprocess.run(args, input=wrapped, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "psql failed: %s" % r.stderr
    return json.loads(r.stdout.strip() or "[]")


def ledger_stage(run_ids, stage):
    ids = ",".join(run_ids)
    rows = psql_json("SELECT * FROM snaplake_stage_runs WHERE stage = :'p1' "
                     "AND run_id = ANY(string_to_array(:'p2', ','))", stage, ids)
    return {r["run_id"]: r for r in rows}
