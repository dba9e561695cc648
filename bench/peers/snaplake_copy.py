"""bench/peers/snaplake_copy.py - runs snaplake's copy stage once over the benchmark's export,
standalone, the way tests/integration/test_copy.py drives it: a real `snaplake-worker copy`
on the local stack (Kafka and PostgreSQL from scripts/stack.sh's .stack/env), its S3 pointed
at the benchmark's endpoint (AWS_ENDPOINT_URL_S3), one `exported` message produced on its
input topic, and the run timed until its `copied` message arrives.

Each run gets a worker of its own, topics of its own (a fresh KAFKA_TOPIC_PREFIX) and a run id
of its own (the ledger would otherwise treat a second run as a replay), so runs do not see
each other. The worker is started and waits in its consumer group, and the benchmark's reader
of the output is live (it read a marker of its own), before the clock starts: the figure is
the copy, not either one's start-up. CPU seconds are the worker's utime+stime
over the copy (from /proc/<pid>/stat), peak RSS its VmHWM, steady RSS the median of VmRSS
sampled every 100 ms while it copied.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import time
import uuid

from clients import proc_cpu_s
from endpoints import stop

READY_TIMEOUT = 90
COPY_TIMEOUT = 1800


def _proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _kafka():
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    return Consumer, Producer, AdminClient, NewTopic, TopicPartition, OFFSET_BEGINNING


def forget_partition(env, cluster, date):
    """Every run copies the same export into the same partition, so the holder record a run
    leaves (snaplake_partitions, common/partlock.c) would make the next run's export, with
    the same snapshot time and an id that may sort lower, "superseded": the worker then
    copies nothing and publishes nothing. Each run starts from no holder, as a first copy."""
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    sql = "DELETE FROM snaplake_partitions WHERE cluster = :'c' AND date = :'d'::date;"
    r = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "c=" + cluster,
                        "-v", "d=" + date], input=sql, env=env, capture_output=True, text=True,
                       timeout=30)
    # Before the first copy worker ever ran on this stack the table does not exist yet.
    if r.returncode != 0 and "does not exist" not in r.stderr:
        raise RuntimeError("psql: " + r.stderr.strip())


class SnaplakeCopy:
    """One configured copy client: worker binary, stack environment, worker settings."""

    def __init__(self, worker_bin, stack_env, concurrency=64, extra_env=None, log_dir=None):
        self.worker_bin = worker_bin
        self.stack_env = dict(stack_env)
        self.concurrency = concurrency
        self.extra_env = dict(extra_env or {})
        self.log_dir = log_dir

    def run(self, endpoint, layout, src_bucket, dst_bucket, creds):
        """Copies layout's export (in src_bucket) to dst_bucket once. creds: (key, secret,
        region). Returns {"seconds", "cpu_s", "rss_kb", "steady_rss_kb", "objects"}; raises
        RuntimeError when the worker fails or publishes a failure."""
        Consumer, Producer, AdminClient, NewTopic, TopicPartition, OFFSET_BEGINNING = _kafka()
        boot = self.stack_env["KAFKA_BOOTSTRAP_SERVERS"]
        tag = uuid.uuid4().hex[:10]
        prefix = "bench-%s." % tag
        admin = AdminClient({"bootstrap.servers": boot})
        fs = admin.create_topics([NewTopic(prefix + t, num_partitions=1, replication_factor=1)
                                  for t in ("snapshots", "exports", "copies", "crawls",
                                            "shares", "failures", "dlq")],
                                 operation_timeout=30)
        for f in fs.values():
            f.result(30)
        env = dict(os.environ)
        env.update(self.stack_env)
        forget_partition(env, layout.cluster, layout.date)
        key, secret, region = creds
        env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                    "AWS_REGION": region, "AWS_ENDPOINT_URL_S3": endpoint,
                    "AWS_S3_FORCE_PATH_STYLE": "true", "LAKE_BUCKET": dst_bucket,
                    "LAKE_PREFIX": layout.lake_prefix, "COPY_CONCURRENCY": str(self.concurrency),
                    "KAFKA_TOPIC_PREFIX": prefix, "KAFKA_GROUP_ID": "bench-" + tag,
                    "LOG_LEVEL": "info", "STAGE_MAX_ATTEMPTS": "1"})
        env.pop("AWS_SESSION_TOKEN", None)
        env.update(self.extra_env)
        log = open(os.path.join(self.log_dir, "snaplake-%s.log" % tag), "wb") \
            if self.log_dir else subprocess.DEVNULL
        p = subprocess.Popen([self.worker_bin, "copy"], env=env, stdout=subprocess.PIPE,
                             stderr=log)
        consumer = None
        try:
            self._wait_ready(p, log)
            # Assigned by hand from the start: no group to join, so the reader is not what
            # takes time after the copy ends.
            consumer = Consumer({"bootstrap.servers": boot, "group.id": "bench-r-" + tag,
                                 "enable.auto.commit": False})
            consumer.assign([TopicPartition(prefix + t, 0, OFFSET_BEGINNING)
                             for t in ("copies", "failures")])
            producer = Producer({"bootstrap.servers": boot})
            self._reader_live(consumer, producer, prefix + "copies", tag)
            run_id = "%s-%s-%s" % (layout.cluster, layout.date, tag)
            msg = {"v": 1, "type": "exported", "run_id": run_id, "cluster": layout.cluster,
                   "mode": "snapshot", "snapshot_id": "rds:" + run_id,
                   "source_arn": "arn:aws:rds:%s:123456789012:cluster-snapshot:rds:%s"
                                 % (region, run_id),
                   "date": layout.date, "snapshot_time": "%sT03:04:00.000Z" % layout.date,
                   "source": "event",
                   "produced_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "export_task_id": layout.task, "s3_bucket": src_bucket,
                   "s3_prefix": layout.s3_prefix}
            cpu0 = proc_cpu_s(p.pid)
            t0 = time.monotonic()
            producer.produce(prefix + "exports", json.dumps(msg).encode(),
                             key=layout.cluster.encode())
            producer.flush(30)
            out, rss = self._wait_copied(p, consumer, t0, prefix)
            seconds = time.monotonic() - t0
            cpu = proc_cpu_s(p.pid) - cpu0
            hwm = _proc_status_kb(p.pid, "VmHWM")
            if out.get("type") != "copied":
                raise RuntimeError("snaplake copy failed: %s %s" % (out.get("error_code"),
                                                                   out.get("error_message")))
            r = {"seconds": seconds, "cpu_s": cpu, "rss_kb": hwm,
                 "steady_rss_kb": int(statistics.median(rss)) if rss else hwm,
                 "objects": out.get("objects")}
            # The worker's own timing of the job (its "copy finished" line), which leaves
            # out the Kafka hops on either side; logged just before `copied` is published.
            deadline = time.monotonic() + 2
            while self._finished is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._finished and "seconds" in self._finished:
                r["worker_seconds"] = float(self._finished["seconds"])
            return r
        finally:
            if consumer is not None:
                consumer.close()
            stop(p, 30)
            p.stdout.close()
            if log is not subprocess.DEVNULL:
                log.close()
            admin.delete_topics([prefix + t for t in ("snapshots", "exports", "copies",
                                                      "crawls", "shares", "failures", "dlq")])

    def _wait_ready(self, p, log):
        """Reads the worker's JSON log lines (stdout) until it is ready and was assigned its
        input partition (so the group join is not timed); the rest of its stdout is drained
        by a thread so a chatty worker never blocks on a full pipe."""
        import threading
        deadline = time.monotonic() + READY_TIMEOUT
        for line in p.stdout:
            if log is not subprocess.DEVNULL:
                log.write(line)
            try:
                if re.match(r"assigned [1-9]", json.loads(line).get("msg", "")):
                    break
            except ValueError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("snaplake worker not assigned after %ds" % READY_TIMEOUT)
        else:
            raise RuntimeError("snaplake worker exited (%s) before it was ready" % p.wait())

        def drain():
            for line in p.stdout:
                if log is not subprocess.DEVNULL:
                    log.write(line)
                if b'"copy finished"' in line:
                    try:
                        self._finished = json.loads(line)
                    except ValueError:
                        pass
        self._finished = None
        threading.Thread(target=drain, daemon=True).start()

    @staticmethod
    def _reader_live(consumer, producer, topic, tag):
        """A fresh reader takes a few hundred ms (metadata, offset lookup) before its first
        fetch; a copy on the sink takes about as long, so the reader's start-up would be timed
        as the copy's. It reads a marker of its own from the copies topic first, so the clock
        starts with the reader live."""
        marker = json.dumps({"bench_marker": tag}).encode()
        producer.produce(topic, marker)
        producer.flush(30)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            m = consumer.poll(0.1)
            if m is not None and not m.error() and m.value() == marker:
                return
        raise RuntimeError("the bench's reader saw no marker on %s after %ds"
                           % (topic, READY_TIMEOUT))

    def _wait_copied(self, p, consumer, t0, prefix):
        """Polls the copies and failures topics; samples the worker's RSS meanwhile."""
        rss = []
        while time.monotonic() - t0 < COPY_TIMEOUT:
            if p.poll() is not None:
                raise RuntimeError("snaplake worker exited (%s) while copying" % p.returncode)
            rss.append(_proc_status_kb(p.pid, "VmRSS"))
            m = consumer.poll(0.1)
            if m is None or m.error():
                continue
            out = json.loads(m.value())
            if "bench_marker" in out:
                continue
            return out, rss
        raise RuntimeError("no copied message after %ds" % COPY_TIMEOUT)
