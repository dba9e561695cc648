"""snaplakectl retention (issue 8): partitions older than LAKE_RETENTION_DAYS go from the Glue
catalog and from the lake together, the newest partition of a table stays, and nothing outside
LAKE_BUCKET/LAKE_PREFIX is touched. S3 and Glue are moto's (the local stack).

    .venv/bin/pytest -q tests/integration/test_retention.py
"""

import datetime
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

DAYS = 10


def day(n):
    """Today's UTC date minus n days, as the date= value."""
    return (datetime.datetime.now(datetime.timezone.utc).date()
            - datetime.timedelta(days=n)).isoformat()


def ctl(*args, **env):
    e = dict(os.environ)
    e.update({"AWS_ENDPOINT_URL": os.environ["MOTO_ENDPOINT"],
              "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
              "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
    for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "DATABASE_URL"):
        e.pop(k, None)  # no PostgreSQL needed
    e.update({k: str(v) for k, v in env.items() if v is not None})
    for k, v in env.items():
        if v is None:
            e.pop(k, None)
    r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN"), "retention"] + list(args),
                       env=e, capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def keys(s3, bucket):
    out = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out.update(o["Key"] for o in page.get("Contents", []))
    return out


def partitions(glue, db, table):
    return {tuple(p["Values"]) for p in
            glue.get_partitions(DatabaseName=db, TableName=table)["Partitions"]}


@pytest.fixture
def lake():
    """Two tables of one cluster under prefix `lake/`: `orders` with dates 40, 20, 11, 10, 2 and
    0 days old (two objects each), `users` whose only dates are 30 and 25 days old (both past
    retention: the newer stays). Plus objects outside the prefix, a decoy prefix `lake-old/`,
    a malformed date folder, and a Glue table per lake table in snaplake_<cluster> (orders
    direct-style) and in a crawler's database (users, crawler-style name and location)."""
    h.require_stack()
    s3, glue = h.aws("s3", standin=False), h.aws("glue", standin=False)
    bucket = "sl-test-%s" % h.uid(12)
    s3.create_bucket(Bucket=bucket)
    cluster = "c%s" % h.uid(6)
    db, crawler_db = "snaplake_%s" % cluster, "crawled_%s" % cluster
    base = "lake/%s/appdb" % cluster
    orders_dates = [day(n) for n in (40, 20, 11, 10, 2, 0)]
    users_dates = [day(n) for n in (30, 25)]
    for t, dates in (("public.orders", orders_dates), ("public.users", users_dates)):
        for d in dates:
            for i in range(2):
                s3.put_object(Bucket=bucket, Key="%s/%s/date=%s/part-%d.gz.parquet" % (
                    base, t, d, i), Body=b"PAR1" + b"x" * (10 + i))
    outside = {"other/%s/appdb/public.orders/date=%s/part-0.gz.parquet" % (cluster, day(40)),
               "lake-old/%s/appdb/public.orders/date=%s/part-0.gz.parquet" % (cluster, day(40)),
               "%s/public.orders/date=not-a-date/part-0.gz.parquet" % base,
               "%s/public.orders/_SUCCESS" % base,
               "lake/README"}
    for k in outside:
        s3.put_object(Bucket=bucket, Key=k, Body=b"keep")
    for name in (db, crawler_db):
        glue.create_database(DatabaseInput={"Name": name})
    tables = [(db, "public_orders", "s3://%s/%s/public.orders/" % (bucket, base), orders_dates),
              (crawler_db, "public_users", "s3://%s/%s/public.users" % (bucket, base),
               users_dates)]
    # a decoy Glue table at the decoy prefix, with an old partition: not ours
    tables.append((db, "decoy", "s3://%s/lake-old/%s/appdb/public.orders/" % (bucket, cluster),
                   [day(40)]))
    for gdb, name, loc, dates in tables:
        sd = {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": loc}
        glue.create_table(DatabaseName=gdb, TableInput={
            "Name": name, "StorageDescriptor": sd,
            "PartitionKeys": [{"Name": "date", "Type": "string"}]})
        for d in dates:
            glue.create_partition(DatabaseName=gdb, TableName=name, PartitionInput={
                "Values": [d], "StorageDescriptor": dict(sd, Location=loc.rstrip("/")
                                                         + "/date=%s/" % d)})
    env = {"LAKE_BUCKET": bucket, "LAKE_PREFIX": "lake", "LAKE_RETENTION_DAYS": DAYS,
           "RETENTION_CATALOG_DATABASES": "crawled_{cluster}"}
    return dict(s3=s3, glue=glue, bucket=bucket, base=base, db=db, crawler_db=crawler_db,
                orders=orders_dates, users=users_dates, outside=outside, env=env)


def test_dry_run_then_real_then_idempotent(lake):
    s3, glue, bucket, base = lake["s3"], lake["glue"], lake["bucket"], lake["base"]
    before = keys(s3, bucket)
    gone_orders = [day(40), day(20), day(11)]
    gone_users = [day(30)]

    rc, out, err = ctl("--dry-run", **lake["env"])
    assert rc == 0, (out, err)
    would = sorted(line for line in out.splitlines() if line.startswith("would remove"))
    want = sorted(["would remove s3://%s/%s/public.orders/date=%s/ objects=2 bytes=29 "
                   "catalog=%s.public_orders" % (bucket, base, d, lake["db"])
                   for d in gone_orders] +
                  ["would remove s3://%s/%s/public.users/date=%s/ objects=2 bytes=29 "
                   "catalog=%s.public_users" % (bucket, base, d, lake["crawler_db"])
                   for d in gone_users])
    assert would == want, out
    assert "date=not-a-date" in err, err  # the malformed folder is reported, and left
    assert keys(s3, bucket) == before
    assert len(partitions(glue, lake["db"], "public_orders")) == 6
    assert len(partitions(glue, lake["crawler_db"], "public_users")) == 2

    rc, out, err = ctl(**lake["env"])
    assert rc == 0, (out, err)
    assert sum(line.startswith("removed ") for line in out.splitlines()) == 4, out
    assert "4 partitions removed (8 objects, 116 bytes, 4 catalog partitions)" in out, out
    after = keys(s3, bucket)
    for t, d in [("public.orders", d) for d in gone_orders] + [("public.users", gone_users[0])]:
        assert not any(k.startswith("%s/%s/date=%s/" % (base, t, d)) for k in after), d
    kept = {(t, d) for t, ds in (("public.orders", lake["orders"]), ("public.users", lake["users"]))
            for d in ds} - {("public.orders", d) for d in gone_orders} - \
        {("public.users", gone_users[0])}
    for t, d in kept:
        for i in range(2):
            assert "%s/%s/date=%s/part-%d.gz.parquet" % (base, t, d, i) in after, (t, d)
    # users' newest partition is 25 days old, past retention: it stays
    assert ("public.users", day(25)) in kept
    assert lake["outside"] <= after  # nothing outside the prefix, or malformed, touched
    assert partitions(glue, lake["db"], "public_orders") == {
        (d,) for d in lake["orders"] if d not in gone_orders}
    assert partitions(glue, lake["crawler_db"], "public_users") == {(day(25),)}
    assert partitions(glue, lake["db"], "decoy") == {(day(40),)}

    rc, out, err = ctl(**lake["env"])
    assert rc == 0, (out, err)
    assert not any(line.startswith("removed ") for line in out.splitlines()), out
    assert "0 partitions removed" in out, out
    assert keys(s3, bucket) == after


def test_catalog_partition_left_by_a_crash_goes_on_rerun(lake):
    """Objects whose catalog partition is already gone (a run stopped between the two deletes)
    are removed on the next run; the Glue side's EntityNotFound counts as done."""
    glue, s3 = lake["glue"], lake["s3"]
    old = day(40)
    glue.batch_delete_partition(DatabaseName=lake["db"], TableName="public_orders",
                                PartitionsToDelete=[{"Values": [old]}])
    rc, out, err = ctl(**lake["env"])
    assert rc == 0, (out, err)
    assert "removed s3://%s/%s/public.orders/date=%s/ objects=2 bytes=29 catalog=-" % (
        lake["bucket"], lake["base"], old) in out, out
    prefix = "%s/public.orders/date=%s/" % (lake["base"], old)
    assert not any(k.startswith(prefix) for k in keys(s3, lake["bucket"]))


def test_unset_keeps_everything(lake):
    before = keys(lake["s3"], lake["bucket"])
    rc, out, err = ctl(**dict(lake["env"], LAKE_RETENTION_DAYS=None))
    assert rc == 0, (out, err)
    assert "LAKE_RETENTION_DAYS is unset" in out
    assert keys(lake["s3"], lake["bucket"]) == before


@pytest.mark.parametrize("args,env", [
    (["--now"], {}),
    (["--dry-run", "--dry-run"], {}),
    (["extra"], {}),
    ([], {"LAKE_RETENTION_DAYS": "0"}),
    ([], {"LAKE_RETENTION_DAYS": "36501"}),
    ([], {"LAKE_RETENTION_DAYS": "7d"}),
    ([], {"LAKE_BUCKET": None}),
])
def test_bad_usage_or_config_is_exit_2(args, env):
    h.require_stack()
    e = {"LAKE_BUCKET": "b", "LAKE_RETENTION_DAYS": "7"}
    e.update(env)
    rc, out, err = ctl(*args, **e)
    assert rc == 2, (out, err)
    assert "snaplakectl retention" in err, err


def test_error_is_exit_1_and_says_what_was_removed(lake):
    rc, out, err = ctl(**dict(lake["env"], LAKE_BUCKET="sl-missing-%s" % h.uid(8)))
    assert rc == 1, (out, err)
    assert "NoSuchBucket" in err, err
    assert "FAILED after 0 partitions removed" in out, out


class GlueFaults:
    """A forwarding proxy in front of moto that answers BatchDeletePartition itself, with a
    per-partition InternalServiceException for every partition asked (the call succeeds, the
    partitions do not go): what Glue does under throttling of single entries."""

    def __init__(self):
        import http.client
        import http.server
        import threading
        import urllib.parse

        upstream = urllib.parse.urlsplit(os.environ["MOTO_ENDPOINT"])
        self.asked = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Amz-Target") == "AWSGlue.BatchDeletePartition":
                    import json
                    req = json.loads(body)
                    outer.asked.append(req)
                    out = json.dumps({"Errors": [
                        {"PartitionValues": p["Values"],
                         "ErrorDetail": {"ErrorCode": "InternalServiceException",
                                         "ErrorMessage": "planted"}}
                        for p in req["PartitionsToDelete"]]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                c = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
                c.request(self.command, self.path, body=body,
                          headers={k: v for k, v in self.headers.items()})
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_a_failed_catalog_delete_keeps_the_objects(lake):
    """Catalog first: a partition Glue did not delete keeps its objects (no catalog partition
    may point at nothing), the run exits 1 and says what it removed; the next run, with Glue
    healthy, finishes."""
    s3, glue, bucket, base = lake["s3"], lake["glue"], lake["bucket"], lake["base"]
    before = keys(s3, bucket)
    faults = GlueFaults()
    try:
        rc, out, err = ctl(**dict(lake["env"], AWS_ENDPOINT_URL=faults.url))
    finally:
        faults.close()
    assert rc == 1, (out, err)
    assert "InternalServiceException" in err and "planted" in err, err
    assert "FAILED after 0 partitions removed (0 objects" in out, out
    asked = sorted(v for req in faults.asked for p in req["PartitionsToDelete"]
                   for v in p["Values"])
    # the first table's failure stops the run: orders' three, in one call
    assert asked == sorted([day(40), day(20), day(11)]), faults.asked
    assert all(len(req["PartitionsToDelete"]) <= 25 for req in faults.asked)
    assert keys(s3, bucket) == before  # every object of a still-catalogued partition stays
    assert len(partitions(glue, lake["db"], "public_orders")) == 6

    rc, out, err = ctl(**lake["env"])
    assert rc == 0, (out, err)
    assert "4 partitions removed (8 objects, 116 bytes, 4 catalog partitions)" in out, out
