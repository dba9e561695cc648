"""Copy stage against the local stack: a real snaplake-worker (`copy`) consumes `exported`
messages from its input topic and copies what sits in S3 (moto, through the AWS stand-in).

The export files are written here with boto3 (straight into moto, which the stand-in fronts),
so each test controls the exact keys; the `exported` message is produced on the worker's input
topic. Covered: pagination and mapping of 2,500 previous-convention files, re-export of a day
(partition replacement, `removed`), the current convention with partition folders and a name
shared by two partitions, failed tables from export_tables_info, a source missing mid-copy
(failure message with S3's code, nothing deleted), multipart copy above the threshold, keys
with spaces, '+', '%', '=' and non-ASCII (against moto without signature checking, since
moto's own check rejects valid signatures for such keys) and injected S3 faults (on a private
stand-in, so the shared one keeps its config).
"""

import json
import os
import resource
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

DATE = "2024-03-05"
TIMEOUT = 120


def s3_at(url):
    return boto3.client("s3", endpoint_url=url, region_name=os.environ.get("AWS_REGION",
                                                                         "us-east-1"),
                        config=Config(retries={"max_attempts": 8, "mode": "standard"},
                                      s3={"addressing_style": "path"},
                                      max_pool_connections=32))


def put_many(s3, bucket, items):
    """items: [(key, bytes)] put with 16 threads."""
    def one(kv):
        s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1])
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(one, items))


def all_keys(s3, bucket, prefix=""):
    keys = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            keys[o["Key"]] = o["Size"]
    return keys


def tables_info(task, statuses):
    """export_tables_info body: statuses = [(target, status, warning or None)]."""
    per = []
    for target, status, warning in statuses:
        e = {"target": target, "status": status, "sizeGB": 0.0001,
             "tableStatistics": {"extractionStartTime": "2024-03-05T03:05:00.000Z"}}
        if warning:
            e["warningMessage"] = warning
        per.append(e)
    return json.dumps({"perTableStatus": per}).encode()


class Ctx:
    """One test's world: buckets, topics, a copy worker, readers of its output."""

    def __init__(self, tmp_path, name, endpoint=None, s3=None, nofile=None, **env):
        h.require_stack()
        self.s3 = s3 or h.aws("s3", standin=False)
        self.cluster = "c-%s" % h.uid(8)
        self.export_bucket = "sl-exp-%s" % h.uid(12)
        self.lake_bucket = "sl-lake-%s" % h.uid(12)
        self.s3.create_bucket(Bucket=self.export_bucket)
        self.s3.create_bucket(Bucket=self.lake_bucket)
        self.prefix = h.topic_prefix(name)
        h.create_topics(self.prefix, partitions=1)
        self.out = h.KafkaReader(self.prefix + "copies")
        self.failures = h.KafkaReader(self.prefix + "failures")
        wenv = h.worker_env(self.prefix, LAKE_BUCKET=self.lake_bucket, LAKE_PREFIX="lake",
                            AWS_S3_FORCE_PATH_STYLE="true", STAGE_MAX_ATTEMPTS="2",
                            STAGE_RETRY_BASE="200ms", KAFKA_GROUP_ID="g-" + h.uid(10), **env)
        if endpoint:
            wenv["AWS_ENDPOINT_URL"] = endpoint
        self.wenv = wenv
        self.worker = h.Worker("copy", wenv, tmp_path / ("worker-%s.log" % name), nofile=nofile)
        self.worker.wait_ready(90)
        self.n = 0

    def export_root(self, task):
        return "s3-export/%s/%s/%s" % (self.cluster, DATE, task)

    def lake_dir(self, db, table):
        return "lake/%s/%s/%s/date=%s/" % (self.cluster, db, table, DATE)

    def exported(self, task, snapshot_time=None):
        """snapshot_time given: a run of its own per export (two exports of one day)."""
        run = "%s-%s-03-04" % (self.cluster, DATE)
        if snapshot_time:
            run = "%s-%s-%s" % (self.cluster, DATE, task)
        snap = "rds:" + run
        m = {"v": 1, "type": "exported", "run_id": run, "cluster": self.cluster,
             "mode": "snapshot", "snapshot_id": snap,
             "source_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:%s" % (h.ACCOUNT, snap),
             "date": DATE, "source": "event", "produced_at": h.now_rfc3339(),
             "export_task_id": task, "s3_bucket": self.export_bucket,
             "s3_prefix": "s3-export/%s/%s" % (self.cluster, DATE)}
        if snapshot_time:
            m["snapshot_time"] = snapshot_time
        return m

    def send(self, task, snapshot_time=None):
        h.produce(self.prefix + "exports", self.exported(task, snapshot_time), key=self.cluster)

    def next_copied(self, timeout=TIMEOUT):
        self.n += 1
        recs = h.wait_for(lambda: len(self.out.read(self.n, 0.5)) >= self.n
                          and self.out.records, timeout, what="copied message %d" % self.n)
        return recs[self.n - 1].value

    def close(self):
        rc = self.worker.stop(30)
        self.out.close()
        self.failures.close()
        assert rc == 0, "worker exit %s; stderr:\n%s" % (rc, self.worker.stderr()[-3000:])
        err = self.worker.stderr()
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


@pytest.fixture
def make_ctx(tmp_path):
    made = []

    def mk(name, **kw):
        c = Ctx(tmp_path, name, **kw)
        made.append(c)
        return c
    yield mk
    for c in made:
        c.close()


def parquet(i):
    return b"PAR1" + (b"%08d" % i) * 8 + b"PAR1"


# ------------------------------------------------------------------------ (a) pagination

def test_pagination_and_mapping_previous_convention(make_ctx):
    c = make_ctx("copy-pages", COPY_CONCURRENCY="32")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    tables = [("shop", "public.orders", 1200), ("shop", "public.users", 900),
              ("billing", "acct.invoices", 400)]
    items, want = [], {}
    n = 0
    for db, table, count in tables:
        for i in range(count):
            f = "part-%05d-%s.gz.parquet" % (i, h.uid(12))
            body = parquet(n)
            items.append(("%s/%s/%s/%s" % (root, db, table, f), body))
            want[c.lake_dir(db, table) + f] = len(body)
            n += 1
        items.append(("%s/%s/%s/_SUCCESS" % (root, db, table), b""))
    items.append(("%s/export_info_%s.json" % (root, task), b"{}"))
    items.append(("%s/export_tables_info_%s_from_1_to_3.json" % (root, task),
                  tables_info(task, [("%s.%s" % (db, t), "COMPLETE", None)
                                     for db, t, _ in tables])))
    assert n == 2500
    put_many(c.s3, c.export_bucket, items)

    c.send(task)
    m = c.next_copied()
    got = all_keys(c.s3, c.lake_bucket)
    assert set(got) == set(want)
    assert got == want  # same sizes: each file landed where it belongs, whole
    assert m["type"] == "copied" and m["objects"] == 2500
    assert m["bytes"] == sum(want.values())
    assert m["removed"] == 0 and m["failed_tables"] == []
    assert m["tables"] == ["billing/acct.invoices", "shop/public.orders", "shop/public.users"]
    assert m["lake_bucket"] == c.lake_bucket and m["lake_prefix"] == "lake"
    assert m["export_task_id"] == task and m["run_id"] == c.exported(task)["run_id"]
    # Content survived byte for byte (spot check).
    k = sorted(want)[1234]
    src = [kv for kv in items if kv[0].endswith("/" + k.rsplit("/", 1)[1])][0]
    assert c.s3.get_object(Bucket=c.lake_bucket, Key=k)["Body"].read() == src[1]
    # Listed page by page: 2,506 keys need three ListObjectsV2 pages of 1,000.
    done = [r for r in c.worker.logs() if r.get("msg") == "copy finished"]
    assert done and done[-1]["objects"] == "2500"


def test_copies_start_while_the_export_is_listed(make_ctx):
    """A listing of several pages and tables is copied table by table while it goes on: each
    table is planned once the listing passes it, and with COPY_PLAN_AHEAD=100 the listing
    waits for the copies whenever 100 planned objects are not copied yet. So when the last
    page has been read, copies of the earlier tables have landed, and the last table (complete
    only when the listing ends) has not started. Every table is bigger than the window (a
    table is always listed whole)."""
    c = make_ctx("copy-stream", COPY_CONCURRENCY="16", COPY_PLAN_AHEAD="100")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    tables = [("db", "public.t1", 600), ("db", "public.t2", 700), ("db", "public.t3", 500),
              ("db", "public.t4", 400)]
    items, want = [], {}
    for db, table, count in tables:
        for i in range(count):
            f = "part-%05d-%s.gz.parquet" % (i, h.uid(8))
            body = parquet(i) + table.encode()
            items.append(("%s/%s/%s/%s" % (root, db, table, f), body))
            want[c.lake_dir(db, table) + f] = len(body)
    items.append(("%s/export_info_%s.json" % (root, task), b"{}"))
    items.append(("%s/export_tables_info_%s_from_1_to_4.json" % (root, task),
                  tables_info(task, [("%s.%s" % (db, t), "COMPLETE", None)
                                     for db, t, _ in tables])))
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert all_keys(c.s3, c.lake_bucket) == want
    assert m["objects"] == 2200 and m["bytes"] == sum(want.values()) and m["removed"] == 0
    assert m["tables"] == ["db/public.t1", "db/public.t2", "db/public.t3", "db/public.t4"]
    listed = [r for r in c.worker.logs() if r.get("msg") == "export listed; copying"]
    assert len(listed) == 1, listed
    copied = int(listed[0]["copied"])
    assert 0 < copied <= 2200 - 400, listed[0]
    assert listed[0]["objects"] == "2200" and listed[0]["tables"] == "4"
    done = [r for r in c.worker.logs() if r.get("msg") == "copy finished"]
    assert done and done[-1]["objects"] == "2200"


@pytest.mark.parametrize("listers", [1, 4])
def test_table_folders_are_listed_in_parallel(make_ctx, listers):
    """The export is listed folder by folder: the root and each database with the delimiter,
    then the table folders, COPY_LIST_CONCURRENCY at a time. Whatever that number, every key
    is seen once: every data file lands, and the files next to the table folders (at the
    root, in a database folder) are classified as before. With 4 listers and 5 tables in two
    databases, 4 table folders are listed at once (the summary line says how many); with 1,
    one at a time, and the result is the same."""
    c = make_ctx("copy-listers-%d" % listers, COPY_LIST_CONCURRENCY=str(listers))
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    tables = [("billing", "acct.t%d" % i) for i in range(2)] + \
             [("shop", "public.t%d" % i) for i in range(3)]
    items, want = [], {}
    for db, table in tables:
        for i in range(30):
            f = "part-%05d-%s.gz.parquet" % (i, h.uid(6))
            body = parquet(i) + table.encode()
            items.append(("%s/%s/%s/1/%s" % (root, db, table, f), body))
            want[c.lake_dir(db, table) + f] = len(body)
        items.append(("%s/%s/%s/_SUCCESS" % (root, db, table), b""))
    items.append(("%s/shop/README.txt" % root, b"not data"))    # next to the table folders
    items.append(("%s/notes.txt" % root, b"not data"))          # next to the databases
    items.append(("%s/export_info_%s.json" % (root, task), b"{}"))
    items.append(("%s/export_tables_info_%s_from_1_to_5.json" % (root, task),
                  tables_info(task, [("%s.%s" % t, "COMPLETE", None) for t in tables])))
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert all_keys(c.s3, c.lake_bucket) == want
    assert m["objects"] == 150 and m["tables"] == sorted("%s/%s" % t for t in tables)
    listed = [r for r in c.worker.logs() if r.get("msg") == "export listed; copying"]
    assert len(listed) == 1 and listed[0]["objects"] == "150", listed
    assert listed[0]["listed_at_once"] == str(min(listers, 4)), listed[0]
    skipped = sorted(r["key"] for r in c.worker.logs()
                     if r.get("msg", "").startswith("export file is neither data"))
    assert skipped == ["%s/notes.txt" % root, "%s/shop/README.txt" % root]


# ------------------------------------------------------------------------ (b) re-export

def test_reexport_replaces_partition(make_ctx):
    c = make_ctx("copy-reexport")
    a, b = "exp-a-%s" % h.uid(6), "exp-b-%s" % h.uid(6)
    tabs = [("db", "public.t1"), ("db", "public.t2")]

    def export(task, per_table):
        root, items, dests = c.export_root(task), [], set()
        for db, t in tabs:
            for i in range(per_table):
                f = "part-%05d-%s.gz.parquet" % (i, h.uid(10))
                items.append(("%s/%s/%s/%s" % (root, db, t, f), parquet(i)))
                dests.add(c.lake_dir(db, t) + f)
        items.append(("%s/export_tables_info_%s_from_1_to_2.json" % (root, task),
                      tables_info(task, [("db.public.t1", "COMPLETE", None),
                                         ("db.public.t2", "COMPLETE", None)])))
        put_many(c.s3, c.export_bucket, items)
        return dests

    other_day = "lake/%s/db/public.t1/date=2024-03-04/part-00000-keep.gz.parquet" % c.cluster
    c.s3.put_object(Bucket=c.lake_bucket, Key=other_day, Body=b"PAR1 yesterday PAR1")
    da = export(a, 5)
    c.send(a)
    ma = c.next_copied()
    assert ma["objects"] == 10 and ma["removed"] == 0
    assert set(all_keys(c.s3, c.lake_bucket)) == da | {other_day}

    db_ = export(b, 3)
    c.send(b)
    mb = c.next_copied()
    got = set(all_keys(c.s3, c.lake_bucket))
    assert got == db_ | {other_day}, "A's files must be gone, B's there, other days untouched"
    assert mb["objects"] == 6 and mb["removed"] == 10

    # Redelivery of B: same files again, nothing of B's removed.
    c.send(b)
    mb2 = c.next_copied()
    assert mb2["objects"] == 6 and mb2["removed"] == 0
    assert set(all_keys(c.s3, c.lake_bucket)) == db_ | {other_day}


# --------------------------------------------------------------- (c) current convention

def test_current_convention_partition_folders(make_ctx):
    c = make_ctx("copy-current")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    u1, u2 = h.uid(12), h.uid(12)
    items = [
        ("%s/db/public.events/1/part-00000-%s.gz.parquet" % (root, u1), parquet(1)),
        ("%s/db/public.events/2/part-00000-%s.gz.parquet" % (root, u2), parquet(2)),
        # The same file name in two partition folders: both kept, under distinct names.
        ("%s/db/public.events/1/part-00001-same.gz.parquet" % root, parquet(3)),
        ("%s/db/public.events/2/part-00001-same.gz.parquet" % root, parquet(4) + b"x"),
        ("%s/db/public.events/1/_SUCCESS" % root, b""),
        ("%s/db/public.events/2/_SUCCESS" % root, b""),
        ("%s/db/s2.logs/1/part-00000-%s.gz.parquet" % (root, u1), parquet(5)),
        ("%s/export_info_%s.json" % (root, task), b"{}"),
    ]
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    d, d2 = c.lake_dir("db", "public.events"), c.lake_dir("db", "s2.logs")
    got = all_keys(c.s3, c.lake_bucket)
    assert set(got) == {d + "part-00000-%s.gz.parquet" % u1, d + "part-00000-%s.gz.parquet" % u2,
                        d + "1-part-00001-same.gz.parquet", d + "2-part-00001-same.gz.parquet",
                        d2 + "part-00000-%s.gz.parquet" % u1}
    assert c.s3.get_object(Bucket=c.lake_bucket, Key=d + "2-part-00001-same.gz.parquet")[
        "Body"].read() == parquet(4) + b"x"
    assert m["objects"] == 5 and m["tables"] == ["db/public.events", "db/s2.logs"]


# ------------------------------------------------------------------ (d) failed tables

def test_failed_tables_reported(make_ctx):
    c = make_ctx("copy-failedtables")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    items = [
        ("%s/db/public.ok/part-00000-%s.gz.parquet" % (root, h.uid()), parquet(1)),
        ("%s/export_tables_info_%s_from_1_to_2.json" % (root, task),
         tables_info(task, [("db.public.ok", "COMPLETE", None),
                            ("db.public.broken", "FAILED", "table export failed: out of disk")])),
        ("%s/export_tables_info_%s_from_3_to_3.json" % (root, task),
         tables_info(task, [("db.audit.log", "FAILED", None)])),
    ]
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert m["objects"] == 1 and m["tables"] == ["db/public.ok"]
    ft = {f["table"]: f["reason"] for f in m["failed_tables"]}
    assert set(ft) == {"db/public.broken", "db/audit.log"}
    assert "out of disk" in ft["db/public.broken"]
    warn = [r for r in c.worker.logs() if r.get("msg") == "table export did not complete"]
    assert {r.get("table") for r in warn} == {"db.public.broken", "db.audit.log"}


def test_empty_export_fails(make_ctx):
    c = make_ctx("copy-empty")
    task = "exp-%s" % h.uid(8)
    c.s3.put_object(Bucket=c.export_bucket, Key="%s/export_info_%s.json"
                    % (c.export_root(task), task), Body=b"{}")
    c.send(task)
    f = h.wait_for(lambda: c.failures.read(1, 0.5), TIMEOUT, what="failure")[0].value
    assert f["type"] == "failure" and f["stage"] == "copy" and f["error_code"] == "EmptyExport"


# ----------------------------------------------------------------- (e) missing source

def test_missing_source_fails_with_aws_code(make_ctx):
    c = make_ctx("copy-missing", COPY_CONCURRENCY="1")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    keys = ["%s/db/public.t/part-%05d-x.gz.parquet" % (root, i) for i in range(250)]
    put_many(c.s3, c.export_bucket, [(k, parquet(i)) for i, k in enumerate(keys)])
    # The day already holds good data from an earlier run: a failed run must not touch it.
    old = c.lake_dir("db", "public.t") + "part-00000-earlier.gz.parquet"
    c.s3.put_object(Bucket=c.lake_bucket, Key=old, Body=b"PAR1 old PAR1")
    c.send(task)
    c.worker.wait_log(lambda r: r.get("msg") == "export listed; copying", 60, "listing done")
    # Copies run one at a time in key order; the last key vanishes before its turn.
    c.s3.delete_object(Bucket=c.export_bucket, Key=keys[-1])
    f = h.wait_for(lambda: c.failures.read(1, 0.5), TIMEOUT, what="failure")[0].value
    assert f["stage"] == "copy" and f["error_code"] == "NoSuchKey", f
    assert keys[-1] in f["error_message"]
    assert f["run_id"] == c.exported(task)["run_id"]
    c.worker.wait_log(lambda r: r.get("event") == "committed", 30, "the failed job committed")
    assert c.out.read_to_end() == []
    assert old in all_keys(c.s3, c.lake_bucket), "the earlier good data was deleted"


# ------------------------------------------------------------- shutdown mid-copy

def test_sigterm_mid_copy_then_redone(make_ctx, tmp_path):
    """A worker stopped in the middle of a copy frees its transfers (clean exit under ASan
    with leak checking), stores no offset, and the next worker of the group redoes the job."""
    c = make_ctx("copy-sigterm", COPY_CONCURRENCY="4")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    items, want = [], set()
    for i in range(600):
        f = "part-%05d-%s.gz.parquet" % (i, h.uid(8))
        items.append(("%s/db/public.t/%s" % (root, f), parquet(i)))
        want.add(c.lake_dir("db", "public.t") + f)
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    c.worker.wait_log(lambda r: r.get("msg") == "export listed; copying", 60, "listing done")
    # Stopped once the first objects landed, with hundreds still to go.
    h.wait_for(lambda: c.s3.list_objects_v2(Bucket=c.lake_bucket, MaxKeys=1).get("KeyCount"),
               TIMEOUT, interval=0.05, what="the first objects copied")
    rc = c.worker.stop(30)
    assert rc == 0, c.worker.stderr()[-3000:]
    assert "AddressSanitizer" not in c.worker.stderr()
    assert not [r for r in c.worker.logs() if r.get("msg") == "copy finished"]
    assert c.out.read_to_end() == []
    # Same group, same topics: the uncommitted message comes back and completes.
    c.worker = h.Worker("copy", c.wenv, tmp_path / "worker-copy-sigterm-2.log")
    c.worker.wait_ready(90)
    m = c.next_copied()
    assert m["objects"] == 600 and set(all_keys(c.s3, c.lake_bucket)) == want


# ------------------------------------------------------------------- multipart copy

def test_multipart_copy_above_threshold(make_ctx):
    c = make_ctx("copy-multipart", COPY_MULTIPART_THRESHOLD=str(6 * 1024 * 1024),
                 COPY_PART_SIZE=str(5 * 1024 * 1024))
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    big = os.urandom(13 * 1024 * 1024 + 123)
    small = parquet(7)
    put_many(c.s3, c.export_bucket,
             [("%s/db/public.big/part-00000-big.gz.parquet" % root, big)])
    # The export's own metadata stays with the export: the lake's file says it is Parquet.
    c.s3.put_object(Bucket=c.export_bucket, Key="%s/db/public.big/part-00001-small.gz.parquet"
                    % root, Body=small, ContentType="binary/octet-stream",
                    Metadata={"export-side": "x"})
    c.send(task)
    m = c.next_copied()
    d = c.lake_dir("db", "public.big")
    assert m["objects"] == 2 and m["bytes"] == len(big) + len(small)
    for f in ("part-00000-big.gz.parquet", "part-00001-small.gz.parquet"):
        hd = c.s3.head_object(Bucket=c.lake_bucket, Key=d + f)
        assert hd["ContentType"] == "application/vnd.apache.parquet", (f, hd)
        assert "export-side" not in hd["Metadata"], (f, hd["Metadata"])
    assert c.s3.get_object(Bucket=c.lake_bucket, Key=d + "part-00000-big.gz.parquet")[
        "Body"].read() == big
    # A multipart object's ETag is "<md5 of the part md5s>-<parts>": 13 MiB in 5 MiB parts.
    etag = c.s3.head_object(Bucket=c.lake_bucket, Key=d + "part-00000-big.gz.parquet")["ETag"]
    assert etag.endswith('-3"'), etag
    etag = c.s3.head_object(Bucket=c.lake_bucket, Key=d + "part-00001-small.gz.parquet")["ETag"]
    assert "-" not in etag, etag
    assert c.s3.list_multipart_uploads(Bucket=c.lake_bucket).get("Uploads", []) == []
    # A second run skips both: the small one by size + ETag, the multipart one (whose ETag is
    # its own) by size + the source ETag its copy recorded in its metadata.
    c.send(task)
    m2 = c.next_copied()
    assert m2["objects"] == 2 and m2["skipped"] == 2, m2
    # Recorded marker of another source (as if the source changed): copied again.
    c.s3.copy_object(Bucket=c.lake_bucket, Key=d + "part-00000-big.gz.parquet",
                     CopySource={"Bucket": c.lake_bucket, "Key": d + "part-00000-big.gz.parquet"},
                     Metadata={"sl-source-etag": "0" * 32}, MetadataDirective="REPLACE")
    c.send(task)
    m3 = c.next_copied()
    assert m3["objects"] == 2 and m3["skipped"] == 1, m3
    assert c.s3.get_object(Bucket=c.lake_bucket, Key=d + "part-00000-big.gz.parquet")[
        "Body"].read() == big


def test_head_of_a_multipart_object_does_not_block_the_loop(make_ctx, private_standin):
    """A multipart object already at its destination is checked with a HeadObject (its
    recorded source ETag); that request goes on the scheduler like the listings, so a slow
    answer does not stop the worker loop: the worker's own endpoint (served by the loop)
    answers at once while the HeadObject is held 6 s (before, the HEAD was a blocking call
    inside step() and the endpoint waited for it)."""
    import socket
    import time
    import urllib.request
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    c = make_ctx("copy-head-async", endpoint=private_standin,
                 COPY_MULTIPART_THRESHOLD=str(6 * 1024 * 1024),
                 COPY_PART_SIZE=str(5 * 1024 * 1024), METRICS_ADDR="127.0.0.1:%d" % port)
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    put_many(c.s3, c.export_bucket,
             [("%s/db/public.big/part-00000-big.gz.parquet" % root,
               os.urandom(7 * 1024 * 1024 + 5))])
    c.send(task)
    assert c.next_copied()["objects"] == 1
    heads = standin_get(private_standin, "/_standin/state")["requests"].get("s3:HEAD", 0)
    standin_post(private_standin, "/_standin/config", {"latency_by_action": {"HeadObject": 6000}})
    c.send(task)
    h.wait_for(lambda: standin_get(private_standin, "/_standin/state")["requests"].get(
        "s3:HEAD", 0) > heads, TIMEOUT, interval=0.05, what="the HeadObject sent")
    t0 = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        r.read()
    took = time.monotonic() - t0
    assert took < 2.0, "the endpoint waited %.1f s: the loop was blocked by the HeadObject" % took
    m2 = c.next_copied()
    assert m2["objects"] == 1 and m2["skipped"] == 1, m2


# ----------------------------------------------------------------------- awkward keys

def test_awkward_keys_survive_byte_for_byte(make_ctx):
    url = os.environ.get("MOTO_NOAUTH_ENDPOINT")
    if not url:
        pytest.skip("no moto without signature checking (MOTO_NOAUTH_ENDPOINT)")
    c = make_ctx("copy-awkward", endpoint=url, s3=s3_at(url))
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    names = [("my db", "sch\u00e9ma.t a+b%20c=d", "part 0+%2B=~\u65e5.gz.parquet"),
             ("db", "public.t", "part-00001 x+y%z=w.gz.parquet")]
    items, want = [], set()
    for i, (db, t, f) in enumerate(names):
        items.append(("%s/%s/%s/%s" % (root, db, t, f), parquet(i)))
        want.add(c.lake_dir(db, t) + f)
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert set(all_keys(c.s3, c.lake_bucket)) == want and m["objects"] == 2
    for (k, body) in items:
        db, t, f = k[len(root) + 1:].split("/")
        assert c.s3.get_object(Bucket=c.lake_bucket, Key=c.lake_dir(db, t) + f)[
            "Body"].read() == body


# --------------------------------------------------------------------------- faults

@pytest.fixture
def private_standin(tmp_path):
    """A stand-in of our own in front of the stack's moto, so fault injection does not reach
    other tests using the shared one."""
    h.require_stack()
    state = tmp_path / "standin"
    state.mkdir()
    env = dict(os.environ)
    p = subprocess.Popen([os.path.join(h.ROOT, ".venv", "bin", "python"),
                          os.path.join(h.ROOT, "tests", "standin", "standin.py"), "--port", "0",
                          "--upstream", os.environ["MOTO_ENDPOINT"], "--state-dir", str(state)],
                         env=env, stdout=open(str(state / "log"), "wb"), stderr=subprocess.STDOUT)
    try:
        port = h.wait_for(lambda: (state / "standin.port").exists() and
                          (state / "standin.port").read_text().strip(), 30, what="stand-in port")
        yield "http://127.0.0.1:%s" % port
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_transient_s3_faults_are_retried(make_ctx, private_standin):
    import urllib.request
    req = urllib.request.Request(private_standin + "/_standin/config", method="POST",
                                 data=json.dumps({"faults": {"rate": 0.1, "kinds": ["500", "503",
                                                                                    "throttle"],
                                                             "services": ["s3"],
                                                             "seed": 7}}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    c = make_ctx("copy-faults", endpoint=private_standin, COPY_OBJECT_ATTEMPTS="8",
                 AWS_MAX_ATTEMPTS="5")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    items, want = [], set()
    for i in range(300):
        f = "part-%05d-%s.gz.parquet" % (i, h.uid(8))
        items.append(("%s/db/public.t/%s" % (root, f), parquet(i)))
        want.add(c.lake_dir("db", "public.t") + f)
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert m["objects"] == 300 and set(all_keys(c.s3, c.lake_bucket)) == want
    with urllib.request.urlopen(private_standin + "/_standin/state", timeout=10) as r:
        injected = json.loads(r.read())["faults_injected"]
    assert sum(injected.values()) >= 10, injected
    # The copies themselves (xfers, which the client does not retry) went through our retries.
    done = [r for r in c.worker.logs() if r.get("msg") == "copy finished"]
    assert done and int(done[-1]["retries"]) > 0, done


def test_copy_out_of_attempts_on_a_transient_error_retries_the_job(make_ctx, private_standin):
    """A CopyObject that keeps failing with a transient error (500 InternalError) past its
    COPY_OBJECT_ATTEMPTS ends the job's attempt as a RETRY, like every other request of the
    stage, not as a failure of the run: the next attempt copies it (before, the run failed
    for good with InternalError)."""
    # The first two CopyObject requests fail (both attempts of the one object), then none.
    standin_post(private_standin, "/_standin/config",
                 {"faults": {"kinds": ["500"], "services": ["s3"], "actions": ["CopyObject"],
                             "pattern": [1, 1] + [0] * 100, "seed": 3}})
    c = make_ctx("copy-attempts", endpoint=private_standin, COPY_OBJECT_ATTEMPTS="2")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    f = "part-00000-%s.gz.parquet" % h.uid(8)
    put_many(c.s3, c.export_bucket, [("%s/db/public.t/%s" % (root, f), parquet(0))])
    c.send(task)
    # Whichever comes first: a failure (the defect) must not wait out the copied message.
    h.wait_for(lambda: c.failures.read(1, 0.2) or c.out.read(1, 0.2), TIMEOUT,
               what="the job's outcome")
    assert c.failures.records == [], [(r.value["error_code"], r.value["error_message"])
                                      for r in c.failures.records]
    m = c.next_copied()
    assert m["objects"] == 1 and set(all_keys(c.s3, c.lake_bucket)) == {
        c.lake_dir("db", "public.t") + f}
    assert standin_get(private_standin, "/_standin/state")["faults_injected"] == {"500": 2}
    logs = c.worker.logs()
    retry = [r for r in logs if r.get("event") == "retry"]
    assert retry and "InternalError" in retry[0]["msg"] and "CopyObject" in retry[0]["msg"], retry
    done = [r for r in logs if r.get("event") == "done"]
    assert done and done[-1]["attempt"] == "2", done


def test_listing_out_of_order_fails_and_copies_nothing(make_ctx, private_standin):
    """A table folder's listing must come in key order (S3 lists in UTF-8 binary order; a
    server that does not could make a client resume where it did not mean). The stand-in
    swaps the first two keys of one ListObjectsV2 answer: the run fails with
    ListingOutOfOrder naming both keys, nothing is written to the lake, and the answers after
    it are in order again, so the failure is the listing's, not a crash or a retry loop."""
    c = make_ctx("copy-disorder", endpoint=private_standin)
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    keys = ["%s/db/public.t/part-%05d.gz.parquet" % (root, i) for i in range(5)]
    # The first answer with two keys or more is the table folder's: one file at the root, and
    # the database folder holds only the table folder.
    put_many(c.s3, c.export_bucket, [(k, parquet(i)) for i, k in enumerate(keys)] +
             [("%s/export_tables_info_%s_from_1_to_1.json" % (root, task),
               tables_info(task, [("db.public.t", "COMPLETE", None)]))])
    standin_post(private_standin, "/_standin/config", {"s3_list_disorder": 1})
    c.send(task)
    f = h.wait_for(lambda: c.failures.read(1, 0.5), TIMEOUT, what="failure")[0].value
    assert f["stage"] == "copy" and f["error_code"] == "ListingOutOfOrder", f
    assert keys[0] in f["error_message"] and keys[1] in f["error_message"], f
    assert all_keys(c.s3, c.lake_bucket) == {}
    assert standin_get(private_standin, "/_standin/config")["s3_list_disorder"] == 0


def standin_post(url, path, obj):
    import urllib.request
    req = urllib.request.Request(url + path, method="POST", data=json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def standin_get(url, path):
    import urllib.request
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return json.loads(r.read())


def test_slowdown_on_one_prefix_paces_only_that_table(make_ctx, private_standin):
    """One table's destination prefix is over S3's per-prefix rate (the stand-in's
    s3_prefix_rate answers 503 SlowDown above it); the other tables' prefixes are not. With
    a high COPY_CONCURRENCY the copy completes with every object right and within the
    default COPY_OBJECT_ATTEMPTS; the throttled prefix's window was cut (the worker logs each
    cut with its prefix), no other prefix's was, and the other tables kept more requests in
    flight than the throttled lane's window (the stand-in counts what each prefix had in
    flight at once)."""
    import socket
    import urllib.request
    from prometheus_client.parser import text_string_to_metric_families
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    c = make_ctx("copy-prefix-rate", endpoint=private_standin, COPY_CONCURRENCY="256",
                 METRICS_ADDR="127.0.0.1:%d" % port)
    tables = ("public.fast1", "public.slow", "public.fast2")
    per_table = 120
    slow_dir = c.lake_dir("db", "public.slow")
    fast_dirs = [c.lake_dir("db", t) for t in tables if t != "public.slow"]
    # 50 ms a request (S3's CopyObject of a small object takes tens of ms), so one request
    # in flight asks 20/s; the slow prefix takes 60 writes/s with a burst of a quarter
    # second: a ceiling of about 3 in flight, far below the 256 the job may send. (As with
    # S3's 3,500/s, the ceiling is above one request per round trip: a window does not go
    # below 1.) The fast prefixes get a rate nothing reaches, so the stand-in counts their
    # requests in flight too.
    rates = {"%s/%s" % (c.lake_bucket, slow_dir): 60}
    rates.update({"%s/%s" % (c.lake_bucket, d): 1e9 for d in fast_dirs})
    standin_post(private_standin, "/_standin/config",
                 {"s3_prefix_rate": rates, "s3_prefix_burst_seconds": 0.25, "latency_ms": 50})
    copy_small_export(c, tables, per_table)
    assert c.failures.read(1, 0.5) == []

    st = standin_get(private_standin, "/_standin/state")
    per_prefix = st["s3_prefix_rate"]
    slow = per_prefix["%s/%s" % (c.lake_bucket, slow_dir)]
    assert slow["throttled"] > 0, per_prefix   # the limit bit
    assert st["faults_injected"].get("prefix_rate") == slow["throttled"], st["faults_injected"]
    for d in fast_dirs:
        assert per_prefix["%s/%s" % (c.lake_bucket, d)]["throttled"] == 0, per_prefix

    logs = c.worker.logs()
    cuts = [r for r in logs if r.get("msg") == "prefix throttled (SlowDown); its window cut"]
    assert cuts, "no window cut logged"
    assert {r["prefix"] for r in cuts} == {slow_dir}, cuts
    windows = [int(r["window"]) for r in cuts]
    # Cut below the share of the cap each lane had at the start (256 over 3 lanes).
    assert min(windows) < 256 // 3, windows
    # The other tables were not held to that window: each had more in flight at once.
    for d in fast_dirs:
        peak = per_prefix["%s/%s" % (c.lake_bucket, d)]["peak_inflight"]
        assert peak > min(windows), (d, peak, windows)
    done = [r for r in logs if r.get("msg") == "all copies done"]
    assert done and int(done[-1]["slowdowns"]) > 0 and int(done[-1]["window_cuts"]) >= 1, done
    assert int(done[-1]["lanes"]) == 3, done
    fin = [r for r in logs if r.get("msg") == "copy finished"]
    assert fin and int(fin[-1]["retries"]) >= slow["throttled"], (fin, slow)
    # Every cut is counted in the metrics, the ones past the log's cap too.
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    got = [s.value for s in fams["snaplake_copy_window_cuts"].samples
           if s.name == "snaplake_copy_window_cuts_total"]
    assert got == [float(done[-1]["window_cuts"])], (got, done[-1])


def copy_small_export(c, tables, per_table):
    """Lays out per_table small objects for each table of database "db", has c's worker copy
    them, and checks the copy: complete, and every object's bytes where they belong."""
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    items, want = [], {}
    for t in tables:
        for i in range(per_table):
            f = "part-%05d-%s.gz.parquet" % (i, h.uid(8))
            body = b"PAR1 %s %d PAR1" % (t.encode(), i)
            items.append(("%s/db/%s/%s" % (root, t, f), body))
            want[c.lake_dir("db", t) + f] = body
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert m["objects"] == len(want), m
    assert lake_bodies(c) == want


def test_in_flight_is_sized_to_the_path(make_ctx, private_standin):
    """Between COPY_CONCURRENCY_MIN and COPY_CONCURRENCY a copy keeps what the path needs in
    flight (common/bdp.c): twice the least round trip over the worker's CPU per request. The
    same export copied by two fresh workers allowed 256: next to the endpoint (moto on
    loopback, a few ms) the window ends far below 256, and it is what the two measured
    figures it logs give; with 50 ms added to every request (the stand-in's latency_ms) it
    ends several times larger (at the cap, or what this build's CPU per request allows), and
    the stand-in saw more requests in flight at once than the near window. Both copies are
    complete and right."""
    per_table, tables = 150, ("public.a", "public.b")
    windows = {}
    for name, endpoint, latency in (("near", None, 0), ("far", private_standin, 50)):
        kw = {"endpoint": endpoint} if endpoint else {}
        c = make_ctx("copy-sized-" + name, COPY_CONCURRENCY="256", COPY_CONCURRENCY_MIN="2",
                     **kw)
        if endpoint:
            rates = {"%s/%s" % (c.lake_bucket, c.lake_dir("db", t)): 1e9 for t in tables}
            standin_post(endpoint, "/_standin/config",
                         {"s3_prefix_rate": rates, "latency_ms": latency})
        copy_small_export(c, tables, per_table)
        done = [r for r in c.worker.logs() if r.get("msg") == "all copies done"]
        assert done, "no final progress line"
        w, rtt_ms, cpu_us = (int(done[-1]["window"]), float(done[-1]["rtt_min_ms"]),
                             float(done[-1]["cpu_us"]))
        assert rtt_ms > 0 and cpu_us > 0, done[-1]
        sized = max(2, min(256, 2 * rtt_ms * 1000 / cpu_us))
        # The logged figures are rounded (3 and 1 decimals): within a few percent.
        assert abs(w - sized) <= max(2, 0.05 * sized), (w, sized, done[-1])
        windows[name] = w
        if endpoint:
            st = standin_get(endpoint, "/_standin/state")["s3_prefix_rate"]
            peak = sum(st["%s/%s" % (c.lake_bucket, c.lake_dir("db", t))]["peak_inflight"]
                       for t in tables)
            assert rtt_ms >= latency, done[-1]
            assert peak > windows["near"], (peak, windows)
    # 50 ms against a few: the far window is several times the near one (up to the cap).
    assert windows["near"] < 256 // 4, windows
    assert windows["far"] >= min(256, 4 * windows["near"]), windows


def test_requests_in_flight_fit_the_open_files_limit(make_ctx, private_standin):
    """Each request in flight is a socket. A worker raises its soft limit on open files to the
    hard one at start (containers often start at a soft 1,024), and where even the hard limit
    cannot hold WORKER_MAX_JOBS jobs at COPY_CONCURRENCY it lowers COPY_CONCURRENCY, saying
    so, instead of failing connects with EMFILE: at 300 open files, 4 jobs and 8 listers a job,
    a job keeps (300 - 128) / 4 - 2 x 8 - 2 = 25 in flight. With 50 ms on every request (so
    the path alone would size the window to 1,024) the copy is complete and right, no request
    failed, and the stand-in never saw more than 25 in flight."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
    if want > 256:
        raised = make_ctx("copy-nofile-raised", nofile=(256, hard))
        ready = [r for r in raised.worker.logs() if r.get("msg") == "worker ready"]
        assert ready and ready[-1]["open_files"] == str(want), ready
    # One table: one prefix, whose peak the stand-in counts.
    per_table, tables = 300, ("public.a",)
    c = make_ctx("copy-nofile", endpoint=private_standin, nofile=(300, 300),
                 COPY_CONCURRENCY="1024", COPY_CONCURRENCY_MIN="1024")
    ready = [r for r in c.worker.logs() if r.get("msg") == "worker ready"]
    assert ready and ready[-1]["open_files"] == "300", ready
    lowered = [r for r in c.worker.logs() if "COPY_CONCURRENCY 1024 lowered to 25" in
               r.get("msg", "")]
    assert lowered and lowered[0]["level"] == "warn", c.worker.logs()[:20]
    rates = {"%s/%s" % (c.lake_bucket, c.lake_dir("db", t)): 1e9 for t in tables}
    standin_post(private_standin, "/_standin/config", {"s3_prefix_rate": rates, "latency_ms": 50})
    copy_small_export(c, tables, per_table)
    done = [r for r in c.worker.logs() if r.get("msg") == "copy finished"]
    assert done and done[-1]["retries"] == "0", done
    st = standin_get(private_standin, "/_standin/state")["s3_prefix_rate"]
    peak = st["%s/%s" % (c.lake_bucket, c.lake_dir("db", tables[0]))]["peak_inflight"]
    assert 1 < peak <= 25, st


# ------------------------------------------- partition replacement: one at a time, newest wins

OLD_T, NEW_T = "2024-03-05T03:04:00.000Z", "2024-03-05T15:04:00.000Z"


def two_exports(c, per_table=40, tabs=(("db", "public.t1"), ("db", "public.t2"))):
    """An older and a newer export of the same cluster and date, with the SAME file names
    (RDS names files part-NNNNN-<uuid>, but nothing forbids a collision) plus names of their
    own, so a copy of one into the other's partition would overwrite keys. Returns
    {task: (snapshot_time, {dest key: body})}."""
    out = {}
    for tag, t in (("old", OLD_T), ("new", NEW_T)):
        task = "exp-%s-%s" % (tag, h.uid(6))
        root, items, want = c.export_root(task), [], {}
        for db, tb in tabs:
            for i in range(per_table):
                f = ("part-%05d-shared.gz.parquet" % i if i % 2 == 0
                     else "part-%05d-%s.gz.parquet" % (i, h.uid(8)))
                body = (b"PAR1 %s %s %d PAR1" % (tag.encode(), tb.encode(), i))
                items.append(("%s/%s/%s/%s" % (root, db, tb, f), body))
                want[c.lake_dir(db, tb) + f] = body
        put_many(c.s3, c.export_bucket, items)
        out[task] = (t, want)
    return out


def lake_bodies(c):
    keys = all_keys(c.s3, c.lake_bucket)
    return {k: c.s3.get_object(Bucket=c.lake_bucket, Key=k)["Body"].read() for k in keys}


def jobs_over(worker, tasks, n_each=1):
    """Counts per task when the worker logged n_each final outcomes for every task, else None.
    A job is over when it is committed (published, recorded, offset stored) or fenced out: a
    later begin of the same run and stage (the same message in another group) owns the ledger
    row, and the fenced job ends without publishing (the ledger's write fence). Once over,
    whatever the job published is on the topic."""
    counts = {t: 0 for t in tasks}
    for r in worker.logs():
        if r.get("event") in ("committed", "fenced_out") and r.get("export_task_id") in counts:
            counts[r["export_task_id"]] += 1
    return counts if all(v >= n_each for v in counts.values()) else None


def wait_jobs_over(worker, tasks, n_each=1, timeout=TIMEOUT):
    return h.wait_for(lambda: jobs_over(worker, tasks, n_each), timeout,
                      what="jobs of %s over" % (tasks,))


def test_replayed_older_export_does_not_roll_back(make_ctx):
    """A replay of an older `exported` message after a newer export of the same day finished:
    before the fix the last to finish won (the lake went back to the older snapshot)."""
    c = make_ctx("copy-rollback")
    ex = two_exports(c)
    (old, (t_old, _)), (new, (t_new, want_new)) = sorted(ex.items(), key=lambda kv: kv[1][0])
    c.send(new, t_new)
    m = c.next_copied()
    assert m["export_task_id"] == new
    assert lake_bodies(c) == want_new
    c.send(old, t_old)
    wait_jobs_over(c.worker, [old])
    assert lake_bodies(c) == want_new, "the older export replaced the newer one"
    assert c.out.read_to_end()[1:] == [], "a superseded copy publishes no copied message"
    row = h.ledger_stage([c.exported(old, t_old)["run_id"]], "copy")
    row = list(row.values())[0]
    assert row["status"] == "succeeded" and row["error_code"] is None
    assert row["details"]["superseded_by"]["export_task_id"] == new, row
    assert [r for r in c.worker.logs() if "superseded" in r.get("msg", "")]


@pytest.mark.parametrize("order", ["new_first", "old_first"])
def test_concurrent_exports_of_one_day_leave_the_newest(make_ctx, order):
    """Two exports of one cluster and date as two jobs of one worker at the same time: the
    partition ends holding exactly the newest snapshot's files, in either order."""
    c = make_ctx("copy-race-" + order, COPY_CONCURRENCY="2", WORKER_MAX_JOBS="4")
    ex = two_exports(c, per_table=60)
    (old, (t_old, _)), (new, (t_new, want_new)) = sorted(ex.items(), key=lambda kv: kv[1][0])
    seq = [(new, t_new), (old, t_old)] if order == "new_first" else [(old, t_old), (new, t_new)]
    for task, t in seq:
        c.send(task, t)
    wait_jobs_over(c.worker, [old, new])
    assert lake_bodies(c) == want_new
    outs = [r.value for r in c.out.read_to_end()]
    assert outs and outs[-1]["export_task_id"] == new, outs


def test_replay_concurrent_with_originals_two_workers(make_ctx, tmp_path):
    """A day's `exported` messages replayed while the originals still run: two copy workers
    (two groups on one topic, so each message runs twice at once), the messages sent twice.
    The partition is never empty once filled and ends with the newest snapshot's files."""
    c = make_ctx("copy-replay2", COPY_CONCURRENCY="2")
    w2 = h.Worker("copy", dict(c.wenv, KAFKA_GROUP_ID="g2-" + h.uid(10)),
                  tmp_path / "worker-copy-replay2-b.log")
    try:
        w2.wait_ready(90)
        ex = two_exports(c, per_table=50)
        (old, (t_old, want_old)), (new, (t_new, want_new)) = sorted(ex.items(),
                                                                    key=lambda kv: kv[1][0])
        for task, t in [(old, t_old), (new, t_new), (old, t_old), (new, t_new)]:
            c.send(task, t)
        seen_full = []

        def watched_until_over():
            """Looks at the lake while the jobs run: once filled, never empty again."""
            keys = set(all_keys(c.s3, c.lake_bucket))
            if keys:
                seen_full.append(True)
            elif seen_full:
                pytest.fail("a table's partition was emptied while exports raced")
            assert keys <= set(want_old) | set(want_new), keys - set(want_old) - set(want_new)
            return jobs_over(c.worker, [old, new], 2) and jobs_over(w2, [old, new], 2)
        h.wait_for(watched_until_over, TIMEOUT, interval=0.05,
                   what="the jobs of both workers over (2 each per export)")
        assert lake_bodies(c) == want_new
    finally:
        rc = w2.stop(30)
        assert rc == 0, w2.stderr()[-3000:]
        assert "AddressSanitizer" not in w2.stderr()


# --------------------------------------------------------- restart resumes, does not redo

def test_second_run_copies_nothing_again(make_ctx):
    """A redelivered export finds every object at its destination (same size and ETag) and
    copies none again: a restart after a rebalance resumes instead of starting from zero."""
    c = make_ctx("copy-resume")
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    items = [("%s/db/public.t/part-%05d-%s.gz.parquet" % (root, i, h.uid(6)), parquet(i))
             for i in range(120)]
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m1 = c.next_copied()
    assert m1["objects"] == 120 and m1.get("skipped", 0) == 0
    # Half the partition lost (or never copied, as after a rebalance mid-copy).
    lost = sorted(all_keys(c.s3, c.lake_bucket))[:40]
    for k in lost:
        c.s3.delete_object(Bucket=c.lake_bucket, Key=k)
    c.send(task)
    m2 = c.next_copied()
    assert m2["objects"] == 120 and m2["skipped"] == 80 and m2["removed"] == 0
    c.send(task)
    m3 = c.next_copied()
    assert m3["objects"] == 120 and m3["skipped"] == 120, "a second run copied objects again"
    assert len(all_keys(c.s3, c.lake_bucket)) == 120


def test_delete_key_errors_retry_only_those_keys(make_ctx, private_standin):
    """DeleteObjects answering 200 with per-key InternalError entries: only the failed keys
    are sent again (bounded), the job is not redone (before: every such answer restarted the
    whole job, and with faults on every attempt the run failed)."""
    import urllib.request
    req = urllib.request.Request(private_standin + "/_standin/config", method="POST",
                                 data=json.dumps({"s3_delete_key_faults": {"rate": 0.2},
                                                  "faults": {"seed": 11}}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    c = make_ctx("copy-delkeys", endpoint=private_standin, COPY_OBJECT_ATTEMPTS="8")
    old = {c.lake_dir("db", "public.t") + "part-%05d-old.gz.parquet" % i for i in range(60)}
    put_many(c.s3, c.lake_bucket, [(k, b"PAR1 old PAR1") for k in old])
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    items, want = [], set()
    for i in range(10):
        f = "part-%05d-%s.gz.parquet" % (i, h.uid(8))
        items.append(("%s/db/public.t/%s" % (root, f), parquet(i)))
        want.add(c.lake_dir("db", "public.t") + f)
    put_many(c.s3, c.export_bucket, items)
    c.send(task)
    m = c.next_copied()
    assert set(all_keys(c.s3, c.lake_bucket)) == want
    assert m["removed"] == 60 and m["objects"] == 10
    with urllib.request.urlopen(private_standin + "/_standin/state", timeout=10) as r:
        injected = json.loads(r.read())["faults_injected"]
    assert injected.get("delete_key", 0) > 0, injected
    logs = c.worker.logs()
    assert [r for r in logs if r.get("msg") == "DeleteObjects failed for some keys; retrying "
            "only those"]
    done = [r for r in logs if r.get("event") == "done"]
    assert done and done[-1]["attempt"] == "1", "the whole job was redone"


def test_abandoned_multipart_is_aborted_after_cleanup(make_ctx, private_standin, tmp_path):
    """A worker stopped while a multipart copy is open: job_cleanup only queues the abort
    (it runs inside the rebalance callback too), and the stage sends it afterwards (here in
    its shutdown, with a short overall deadline): no upload is left open to bill parts."""
    import urllib.request
    req = urllib.request.Request(private_standin + "/_standin/config", method="POST",
                                 data=json.dumps({"latency_ms": 400}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    c = make_ctx("copy-abort", endpoint=private_standin, COPY_CONCURRENCY="1",
                 COPY_MULTIPART_THRESHOLD=str(6 * 1024 * 1024),
                 COPY_PART_SIZE=str(5 * 1024 * 1024))
    task = "exp-%s" % h.uid(8)
    root = c.export_root(task)
    put_many(c.s3, c.export_bucket,
             [("%s/db/public.big/part-00000-big.gz.parquet" % root,
               os.urandom(10 * 5 * 1024 * 1024 + 17))])
    c.send(task)
    h.wait_for(lambda: c.s3.list_multipart_uploads(Bucket=c.lake_bucket).get("Uploads"),
               TIMEOUT, interval=0.1, what="the multipart upload open")
    rc = c.worker.stop(30)
    assert rc == 0, c.worker.stderr()[-3000:]
    assert not [r for r in c.worker.logs() if r.get("msg") == "copy finished"]
    assert [r for r in c.worker.logs() if r.get("msg") == "multipart upload aborted"]
    assert c.s3.list_multipart_uploads(Bucket=c.lake_bucket).get("Uploads", []) == []
    # The next worker of the group redoes the copy from a fresh upload.
    c.worker = h.Worker("copy", c.wenv, tmp_path / "worker-copy-abort-2.log")
    c.worker.wait_ready(90)
    urllib.request.urlopen(urllib.request.Request(
        private_standin + "/_standin/config", method="POST",
        data=json.dumps({"latency_ms": 0}).encode(),
        headers={"Content-Type": "application/json"}), timeout=10).read()
    m = c.next_copied()
    assert m["objects"] == 1
    assert c.s3.list_multipart_uploads(Bucket=c.lake_bucket).get("Uploads", []) == []
