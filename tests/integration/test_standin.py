"""Integration tests of the AWS stand-in (tests/standin/standin.py) over moto.

Run from the venv with .stack/env sourced (MOTO_ENDPOINT, AWS keys of a moto
IAM user, signature checking on; STANDIN_ENDPOINT optional).  Without
STANDIN_ENDPOINT a stand-in is started on a free port for this module.
Without MOTO_ENDPOINT a moto server is started too (signature checking on
after the three IAM setup calls), so the file also runs on its own.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "..", "standin", "standin.py")
ACCOUNT = "123456789012"
REGION = os.environ.get("AWS_REGION", "us-east-1")
ROLE = "arn:aws:iam::%s:role/rds-s3-export" % ACCOUNT


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise RuntimeError("%s did not come up" % url)


@pytest.fixture(scope="module")
def env():
    procs = []
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    moto = os.environ.get("MOTO_ENDPOINT")
    if not moto:
        port = free_port()
        menv = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=menv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        moto = "http://127.0.0.1:%d" % port
        wait_http(moto + "/moto-api/")
        iam = boto3.client("iam", endpoint_url=moto, region_name=REGION,
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="standin-test")
        iam.put_user_policy(UserName="standin-test", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="standin-test")["AccessKey"]
        os.environ["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
        os.environ["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
    assert os.environ.get("AWS_ACCESS_KEY_ID"), "AWS keys of a moto IAM user are needed"
    standin = os.environ.get("STANDIN_ENDPOINT")
    shared = bool(standin)
    if not standin:
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, STANDIN, "--port", str(port), "--upstream", moto],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        standin = "http://127.0.0.1:%d" % port
        wait_http(standin + "/_standin/health")
    # A shared stand-in (from scripts/stack.sh) gets its config back at the end.
    saved_cfg = ctl(standin, "/_standin/config") if shared else None
    yield {"moto": moto, "standin": standin, "shared": shared}
    if shared:
        ctl(standin, "/_standin/config/reset", {})
        ctl(standin, "/_standin/config", saved_cfg)
    for p in reversed(procs):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def ctl(base, path, obj=None):
    data = json.dumps(obj).encode() if obj is not None else None
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture
def sd(env):
    """Control helper; every test starts from the default config."""
    base = env["standin"]
    ctl(base, "/_standin/config/reset", {})
    ctl(base, "/_standin/config", {"export_seconds": 1.5, "crawler_seconds": 1.0,
                                   "crawler_stopping_seconds": 0.3})
    yield lambda path, obj=None: ctl(base, path, obj)
    ctl(base, "/_standin/config/reset", {})


def client(env, service, attempts=3, secret=None):
    return boto3.client(
        service, endpoint_url=env["standin"], region_name=REGION,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                      s3={"addressing_style": "path"}))


def uid(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def make_snapshot(env, cluster=None):
    """Aurora cluster + automated-style snapshot in moto, via the stand-in."""
    rds = client(env, "rds")
    cluster = cluster or uid("c")
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                          MasterUsername="admin1", MasterUserPassword="password123")
    snap = "rds:%s-2024-05-06-07-08" % cluster
    arn = rds.create_db_cluster_snapshot(
        DBClusterIdentifier=cluster,
        DBClusterSnapshotIdentifier=snap)["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    return cluster, arn


def make_bucket(env):
    b = uid("export")
    client(env, "s3").create_bucket(Bucket=b)
    return b


def start(env, task_id, arn, bucket, prefix="s3-export", **kw):
    return client(env, "rds", attempts=1).start_export_task(
        ExportTaskIdentifier=task_id, SourceArn=arn, S3BucketName=bucket, S3Prefix=prefix,
        IamRoleArn=ROLE, KmsKeyId="arn:aws:kms:%s:%s:key/test" % (REGION, ACCOUNT), **kw)


def describe(env, task_id):
    return client(env, "rds").describe_export_tasks(ExportTaskIdentifier=task_id)["ExportTasks"][0]


def wait_status(env, task_id, want, timeout=60):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        t = describe(env, task_id)
        if not seen or seen[-1] != t["Status"]:
            seen.append(t["Status"])
        if t["Status"] in want:
            return t, seen
        time.sleep(0.1)
    raise AssertionError("%s never reached %s (saw %s)" % (task_id, want, seen))


def list_keys(env, bucket, prefix=""):
    s3 = client(env, "s3")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def wait_idle(sd, timeout=120):
    """On a shared stand-in, other exports may still run; the cap tests need
    the account idle."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        acct = sd("/_standin/state")["accounts"].get(ACCOUNT, {"running": 0})
        if acct["running"] == 0:
            return
        time.sleep(0.5)
    raise AssertionError("account never went idle")


# ----------------------------------------------------------------- control

def test_health_and_unknown_control_endpoint(env):
    assert ctl(env["standin"], "/_standin/health")["ok"] is True
    with pytest.raises(urllib.error.HTTPError) as e:
        ctl(env["standin"], "/_standin/nope")
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        ctl(env["standin"], "/_standin/config", {"no_such_key": 1})
    assert e.value.code == 400


# ------------------------------------------------------------------ exports

def test_export_lifecycle_current_convention(env, sd):
    cluster, arn = make_snapshot(env)
    bucket = make_bucket(env)
    sd("/_standin/config", {"export_seconds": 3.0, "layouts": {cluster: {
        "convention": "current",
        "databases": {"appdb": {"public.users": {"files": 3, "partitions": 2},
                                "public.orders": {"files": 1, "partitions": 1},
                                "audit.log": {"files": 1, "partitions": 1}}},
        "failed_tables": ["appdb.audit.log"]}}})
    tid = uid("exp")
    r = start(env, tid, arn, bucket, prefix="s3-export/%s/2024-05-06" % cluster)
    assert r["Status"] == "STARTING"
    assert r["SourceType"] == "CLUSTER" and r["SourceArn"] == arn
    assert r["PercentProgress"] == 0
    # SnapshotTime is the snapshot's creation time, not the start.
    assert r["SnapshotTime"] <= r["TaskStartTime"]

    progress = []
    deadline = time.time() + 30
    while time.time() < deadline:
        t = describe(env, tid)
        progress.append((t["Status"], t.get("PercentProgress")))
        if t["Status"] == "COMPLETE":
            break
        assert "TaskEndTime" not in t
        time.sleep(0.1)
    statuses = [s for s, _ in progress]
    assert statuses[0] == "STARTING" and statuses[-1] == "COMPLETE"
    assert "IN_PROGRESS" in statuses
    mid = [p for s, p in progress if s == "IN_PROGRESS"]
    assert mid == sorted(mid) and 0 <= mid[0] < 100 and any(0 < p < 100 for p in mid)
    # order never goes backwards
    order = {"STARTING": 0, "IN_PROGRESS": 1, "COMPLETE": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    assert t["PercentProgress"] == 100
    assert t["TaskEndTime"] >= t["TaskStartTime"]
    assert (t["TaskEndTime"] - t["TaskStartTime"]).total_seconds() >= 2.5

    base = "s3-export/%s/2024-05-06/%s/" % (cluster, tid)
    keys = list_keys(env, bucket, base)
    rel = sorted(k[len(base):] for k in keys)
    parquet = [k for k in rel if k.endswith(".gz.parquet")]
    assert len(parquet) == 3 * 2 + 1
    pat = re.compile(r"^appdb/public\.(users|orders)/(\d+)/part-(\d{5})-[0-9a-f-]{36}\.gz\.parquet$")
    for k in parquet:
        assert pat.match(k), k
    assert sorted({pat.match(k).group(2) for k in parquet if "users" in k}) == ["1", "2"]
    assert sorted(k for k in rel if k.endswith("_SUCCESS")) == [
        "appdb/public.orders/1/_SUCCESS", "appdb/public.users/1/_SUCCESS",
        "appdb/public.users/2/_SUCCESS"]
    assert not any(k.startswith("appdb/audit.log/") for k in rel)  # failed table
    s3 = client(env, "s3")
    body = s3.get_object(Bucket=bucket, Key=base + parquet[0])["Body"].read()
    assert body[:4] == b"PAR1" and body[-4:] == b"PAR1"

    info = json.loads(s3.get_object(Bucket=bucket, Key=base + "export_info_%s.json" % tid)
                      ["Body"].read())
    assert info["exportTaskIdentifier"] == tid and info["status"] == "COMPLETE"
    assert info["percentProgress"] == 100 and info["sourceArn"] == arn
    assert info["s3Bucket"] == bucket
    tables_name = "export_tables_info_%s_from_1_to_3.json" % tid
    assert tables_name in rel
    tinfo = json.loads(s3.get_object(Bucket=bucket, Key=base + tables_name)["Body"].read())
    per = {e["target"]: e for e in tinfo["perTableStatus"]}
    assert set(per) == {"appdb.public.users", "appdb.public.orders", "appdb.audit.log"}
    assert per["appdb.public.users"]["status"] == "COMPLETE"
    assert per["appdb.public.users"]["tableStatistics"]["partitioningInfo"][
        "numberOfPartitions"] == 6
    assert per["appdb.audit.log"]["status"] == "FAILED"
    assert "warningMessage" in per["appdb.audit.log"]

    # Starting the same id again is AWS's ExportTaskAlreadyExists.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(env, tid, arn, bucket)
    assert error_code(e) == "ExportTaskAlreadyExists"


def test_previous_convention_2000_files_and_export_only(env, sd):
    cluster, arn = make_snapshot(env)
    bucket = make_bucket(env)
    tables = {"public.t%02d" % i: {"files": 210, "partitions": 1} for i in range(10)}
    tables["skipped.t"] = {"files": 5, "partitions": 1}
    sd("/_standin/config", {"export_seconds": 0.5, "layouts": {cluster: {
        "convention": "previous", "databases": {"db1": tables, "db2": {"public.x": {"files": 2}}}}}})
    tid = uid("prev")
    start(env, tid, arn, bucket, prefix="p", ExportOnly=["db1.public"])
    t, _ = wait_status(env, tid, ("COMPLETE", "FAILED"), timeout=300)
    assert t["Status"] == "COMPLETE", t.get("FailureCause")
    assert t["ExportOnly"] == ["db1.public"]
    keys = list_keys(env, bucket, "p/%s/" % tid)
    parquet = [k for k in keys if k.endswith(".gz.parquet")]
    assert len(parquet) == 2100
    pat = re.compile(r"^p/%s/db1/public\.t\d\d/part-(\d{5})-[0-9a-f-]{36}\.gz\.parquet$" % tid)
    assert all(pat.match(k) for k in parquet)
    assert len({pat.match(k).group(1) for k in parquet}) == 210
    assert sum(k.endswith("/_SUCCESS") for k in keys) == 10
    assert not any("/db2/" in k or "skipped.t" in k for k in keys)


def test_cap_sixth_start_refused_then_admitted(env, sd):
    wait_idle(sd)
    sd("/_standin/reset", {})
    sd("/_standin/config", {"export_seconds": 30.0, "export_cap": 5})
    bucket = make_bucket(env)
    snaps = [make_snapshot(env)[1] for _ in range(6)]
    ids = [uid("cap") for _ in range(6)]
    sd("/_standin/config", {"task_seconds": {ids[0]: 2.0}})
    for tid, arn in zip(ids[:5], snaps[:5]):
        assert start(env, tid, arn, bucket)["Status"] == "STARTING"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(env, ids[5], snaps[5], bucket)
    assert error_code(e) == "ExportTaskLimitReachedFault"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError):
        describe(env, ids[5])  # a refused start leaves no task behind
    st = sd("/_standin/state")
    assert st["accounts"][ACCOUNT]["max_concurrent"] == 5
    assert [c["result"] for c in st["start_calls"] if c["task_id"] == ids[5]] == [
        "ExportTaskLimitReachedFault"]
    # The short task frees a slot; the refused start now goes through.
    wait_status(env, ids[0], ("COMPLETE",))
    assert start(env, ids[5], snaps[5], bucket)["Status"] == "STARTING"
    st = sd("/_standin/state")
    assert st["accounts"][ACCOUNT]["max_concurrent"] == 5
    assert st["accounts"][ACCOUNT]["running"] == 5
    # Describe with the status filter sees exactly the running ones.
    running = client(env, "rds").describe_export_tasks(
        Filters=[{"Name": "status", "Values": ["starting", "in_progress"]}])["ExportTasks"]
    assert sorted(t["ExportTaskIdentifier"] for t in running) == sorted(ids[1:])
    for tid in ids[1:]:
        sd("/_standin/export/fail", {"task_id": tid, "cause": "test cleanup", "now": True})
    assert sd("/_standin/state")["accounts"][ACCOUNT]["running"] == 0


def test_external_export_counts_against_cap(env, sd):
    wait_idle(sd)
    sd("/_standin/config", {"export_seconds": 30.0, "export_cap": 2})
    ext = sd("/_standin/export/external", {"seconds": 30})["task_id"]
    bucket = make_bucket(env)
    a, b = make_snapshot(env)[1], make_snapshot(env)[1]
    start(env, uid("ext"), a, bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(env, uid("ext"), b, bucket)
    assert error_code(e) == "ExportTaskLimitReachedFault"
    assert describe(env, ext)["Status"] in ("STARTING", "IN_PROGRESS")
    for t in sd("/_standin/state")["tasks"]:
        if t["Status"] in ("STARTING", "IN_PROGRESS"):
            sd("/_standin/export/fail", {"task_id": t["ExportTaskIdentifier"],
                                         "cause": "cleanup", "now": True})


def test_forced_failure_has_cause_and_writes_nothing(env, sd):
    cluster, arn = make_snapshot(env)
    bucket = make_bucket(env)
    tid = uid("fail")
    cause = "The IAM role doesn't have s3:PutObject on the bucket."
    sd("/_standin/export/fail", {"task_id": tid, "cause": cause})
    start(env, tid, arn, bucket)
    t, seen = wait_status(env, tid, ("FAILED", "COMPLETE"))
    assert t["Status"] == "FAILED" and t["FailureCause"] == cause
    assert "TaskEndTime" in t and seen[0] == "STARTING"
    assert list_keys(env, bucket) == []
    # by source: a cluster configured to fail
    cluster2, arn2 = make_snapshot(env)
    sd("/_standin/config", {"fail_sources": {cluster2: "source failure"}})
    tid2 = uid("fail")
    start(env, tid2, arn2, bucket)
    t2, _ = wait_status(env, tid2, ("FAILED", "COMPLETE"))
    assert t2["Status"] == "FAILED" and t2["FailureCause"] == "source failure"


def test_cluster_arn_export(env, sd):
    cluster, _ = make_snapshot(env)
    bucket = make_bucket(env)
    arn = "arn:aws:rds:%s:%s:cluster:%s" % (REGION, ACCOUNT, cluster)
    tid = uid("cl")
    r = start(env, tid, arn, bucket, prefix="direct")
    assert r["Status"] == "STARTING" and r["SourceType"] == "CLUSTER"
    t, _ = wait_status(env, tid, ("COMPLETE", "FAILED"))
    assert t["Status"] == "COMPLETE" and t["SourceArn"] == arn
    assert any(k.endswith(".gz.parquet") for k in list_keys(env, bucket, "direct/%s/" % tid))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(env, tid, arn, bucket)
    assert error_code(e) == "ExportTaskAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        start(env, uid("cl"), "arn:aws:rds:%s:%s:cluster:no-such-cluster" % (REGION, ACCOUNT),
              bucket)
    assert error_code(e) == "DBClusterNotFoundFault"
    # SourceArn filter of DescribeExportTasks
    got = client(env, "rds").describe_export_tasks(SourceArn=arn)["ExportTasks"]
    assert [x["ExportTaskIdentifier"] for x in got] == [tid]


def test_cancel_export(env, sd):
    sd("/_standin/config", {"export_seconds": 20.0, "cancel_seconds": 0.5})
    _, arn = make_snapshot(env)
    bucket = make_bucket(env)
    tid = uid("cancel")
    start(env, tid, arn, bucket)
    r = client(env, "rds").cancel_export_task(ExportTaskIdentifier=tid)
    assert r["Status"] == "CANCELING"
    t, _ = wait_status(env, tid, ("CANCELED",))
    assert "TaskEndTime" in t
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(env, "rds").cancel_export_task(ExportTaskIdentifier=tid)
    assert error_code(e) == "InvalidExportTaskStateFault"
    assert list_keys(env, bucket) == []


# ------------------------------------------------------------------ crawler

def make_crawler(env):
    glue = client(env, "glue")
    db = uid("lake").replace("-", "_")
    glue.create_database(DatabaseInput={"Name": db})
    name = uid("crawler")
    glue.create_crawler(Name=name, Role="arn:aws:iam::%s:role/glue" % ACCOUNT, DatabaseName=db,
                        Targets={"S3Targets": [{"Path": "s3://lake/x/"}]})
    return glue, name


def wait_ready(glue, name, timeout=30):
    states = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = glue.get_crawler(Name=name)["Crawler"]
        if not states or states[-1] != c["State"]:
            states.append(c["State"])
        if c["State"] == "READY":
            return c, states
        time.sleep(0.05)
    raise AssertionError("crawler never READY: %s" % states)


def test_crawler_lifecycle_and_running_exception(env, sd):
    glue, name = make_crawler(env)
    assert "LastCrawl" not in glue.get_crawler(Name=name)["Crawler"]
    t0 = time.time()
    glue.start_crawler(Name=name)
    c = glue.get_crawler(Name=name)["Crawler"]
    assert c["State"] == "RUNNING" and "LastCrawl" not in c
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.start_crawler(Name=name)
    assert error_code(e) == "CrawlerRunningException"
    c, states = wait_ready(glue, name)
    assert states[0] == "RUNNING" and "STOPPING" in states and states[-1] == "READY"
    assert c["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "ErrorMessage" not in c["LastCrawl"]
    started = c["LastCrawl"]["StartTime"].timestamp()
    assert t0 - 1 <= started <= time.time()
    assert c["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers"

    # While a second run is RUNNING, LastCrawl still describes the first.
    glue.start_crawler(Name=name)
    c2 = glue.get_crawler(Name=name)["Crawler"]
    assert c2["State"] == "RUNNING"
    assert c2["LastCrawl"]["StartTime"].timestamp() == pytest.approx(started, abs=0.01)
    c2, _ = wait_ready(glue, name)
    assert c2["LastCrawl"]["StartTime"].timestamp() > started
    crawlers = {x["Name"]: x for x in glue.get_crawlers()["Crawlers"]}
    assert crawlers[name]["State"] == "READY"


def test_crawler_forced_failed_and_cancelled(env, sd):
    glue, name = make_crawler(env)
    sd("/_standin/crawler/fail", {"crawler": name, "status": "FAILED",
                                  "message": "Internal Service Exception"})
    glue.start_crawler(Name=name)
    c, _ = wait_ready(glue, name)
    assert c["LastCrawl"]["Status"] == "FAILED"
    assert c["LastCrawl"]["ErrorMessage"] == "Internal Service Exception"
    sd("/_standin/crawler/fail", {"crawler": name, "status": "CANCELLED",
                                  "message": "cancelled by operator"})
    glue.start_crawler(Name=name)
    c, _ = wait_ready(glue, name)
    assert c["LastCrawl"]["Status"] == "CANCELLED"
    assert c["LastCrawl"]["ErrorMessage"] == "cancelled by operator"
    # the failure is consumed: the next run succeeds
    glue.start_crawler(Name=name)
    c, _ = wait_ready(glue, name)
    assert c["LastCrawl"]["Status"] == "SUCCEEDED"
    # StopCrawler on a running crawl ends it CANCELLED
    sd("/_standin/config", {"crawler_seconds": 20.0})
    glue.start_crawler(Name=name)
    glue.stop_crawler(Name=name)
    c, states = wait_ready(glue, name)
    assert c["LastCrawl"]["Status"] == "CANCELLED"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        glue.stop_crawler(Name=name)
    assert error_code(e) == "CrawlerNotRunningException"


# ----------------------------------------------------------- faults, auth

def test_fault_injection_rate_kinds_and_no_side_effect(env, sd):
    s3 = client(env, "s3", attempts=1)
    sd("/_standin/reset", {})
    sd("/_standin/config", {"faults": {"rate": 0.3, "kinds": ["500", "503"],
                                       "services": ["s3"], "seed": 42}})
    n = 200
    codes = {}
    for _ in range(n):
        try:
            s3.list_buckets()
            codes["ok"] = codes.get("ok", 0) + 1
        except botocore.exceptions.ClientError as e:
            c = e.response["Error"]["Code"]
            codes[c] = codes.get(c, 0) + 1
    failed = n - codes.get("ok", 0)
    # Binomial(200, 0.3): mean 60, sd 6.5; +-5 sd.
    assert 28 <= failed <= 92, codes
    assert set(codes) - {"ok"} <= {"InternalError", "SlowDown"}, codes
    injected = sd("/_standin/state")["faults_injected"]
    assert sum(injected.values()) == failed
    assert injected.get("500", 0) == codes.get("InternalError", 0)
    assert injected.get("503", 0) == codes.get("SlowDown", 0)

    # A faulted request never reached moto: the bucket does not exist.
    sd("/_standin/config", {"faults": {"rate": 1.0, "kinds": ["500"]}})
    b = uid("never")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.create_bucket(Bucket=b)
    sd("/_standin/config", {"faults": {"rate": 0.0}})
    names = [x["Name"] for x in s3.list_buckets()["Buckets"]]
    assert b not in names

    # Throttling in the query (RDS) and JSON (Glue) shapes.
    sd("/_standin/config", {"faults": {"rate": 1.0, "kinds": ["throttle"],
                                       "services": ["rds", "glue"]}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(env, "rds", attempts=1).describe_export_tasks()
    assert error_code(e) == "ThrottlingException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(env, "glue", attempts=1).get_crawlers()
    assert error_code(e) == "ThrottlingException"
    sd("/_standin/config", {"faults": {"rate": 0.0}})
    # botocore's own retries ride through a 30% fault rate
    sd("/_standin/config", {"faults": {"rate": 0.3, "kinds": ["503", "throttle"], "seed": 7,
                                       "services": []}})
    rds = client(env, "rds", attempts=10)
    for _ in range(20):
        rds.describe_export_tasks()


def test_latency(env, sd):
    s3 = client(env, "s3")
    s3.list_buckets()
    sd("/_standin/config", {"latency_ms": 300})
    t0 = time.time()
    s3.list_buckets()
    assert time.time() - t0 >= 0.3  # a floor, which load can only raise
    # Control requests are never delayed: with a 60 s latency an AWS call would take at least
    # 60 s, while the control request answers (a bound no load reaches).
    sd("/_standin/config", {"latency_ms": 60000})
    t0 = time.time()
    ctl(env["standin"], "/_standin/health")
    assert time.time() - t0 < 30
    sd("/_standin/config", {"latency_ms": 0})


def test_wrong_secret_is_rejected_through_the_standin(env, sd):
    bad_rds = client(env, "rds", attempts=1, secret="wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad_rds.describe_export_tasks()
    assert error_code(e) in ("SignatureDoesNotMatch", "InvalidClientTokenId")
    _, arn = make_snapshot(env)
    bucket = make_bucket(env)
    tid = uid("bad")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad_rds.start_export_task(ExportTaskIdentifier=tid, SourceArn=arn, S3BucketName=bucket,
                                  IamRoleArn=ROLE, KmsKeyId="k")
    assert error_code(e) in ("SignatureDoesNotMatch", "InvalidClientTokenId")
    assert tid not in [t["ExportTaskIdentifier"] for t in sd("/_standin/state")["tasks"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(env, "s3", attempts=1, secret="wrong-secret").list_objects_v2(Bucket=bucket)
    assert error_code(e) == "SignatureDoesNotMatch"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(env, "glue", attempts=1, secret="wrong-secret").get_crawlers()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (401, 403)


def test_s3_passthrough_odd_keys_and_large_body(env, sd):
    s3 = client(env, "s3")
    bucket = make_bucket(env)
    keys = ["a b/c+d/e%f=g/h.gz.parquet", "日本/データ=1/ü.parquet", "plain"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    assert sorted(list_keys(env, bucket)) == sorted(keys)
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
    big = os.urandom(6 * 1024 * 1024)
    s3.put_object(Bucket=bucket, Key="big", Body=big)
    assert s3.head_object(Bucket=bucket, Key="big")["ContentLength"] == len(big)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == big
    s3.copy_object(Bucket=bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    assert s3.head_object(Bucket=bucket, Key="big-copy")["ContentLength"] == len(big)
    s3.delete_object(Bucket=bucket, Key="big-copy")
    assert "big-copy" not in list_keys(env, bucket)


def test_state_survives_restart_with_state_dir(env, tmp_path):
    port = free_port()
    cmd = [sys.executable, STANDIN, "--port", str(port), "--upstream", env["moto"],
           "--state-dir", str(tmp_path)]
    base = "http://127.0.0.1:%d" % port
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(base + "/_standin/health")
        ctl(base, "/_standin/config", {"export_seconds": 60.0})
        tid = ctl(base, "/_standin/export/external", {"seconds": 60})["task_id"]
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(base + "/_standin/health")
        st = ctl(base, "/_standin/state")
        assert [t["ExportTaskIdentifier"] for t in st["tasks"]] == [tid]
        assert st["accounts"][ACCOUNT]["running"] == 1
        assert ctl(base, "/_standin/config")["export_seconds"] == 60.0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)


def test_state_saves_from_many_threads_at_once(tmp_path):
    """The state file is saved by request threads (a start, a cancel) and by the export
    writers' threads (an export written). A save once wrote one shared temporary file outside
    the lock, so two at once renamed it from under each other: FileNotFoundError in the
    request's thread, its connection dropped without an answer, and the client's retry found
    ExportTaskAlreadyExists (55 of 1,000 StartExportTask calls in a scale run; AWS answers
    once). Saves from 8 threads at once, 200 each, all succeed and leave a whole state file
    that a restarted stand-in loads."""
    import importlib.util
    import threading

    sys.path.insert(0, os.path.dirname(STANDIN))
    try:
        spec = importlib.util.spec_from_file_location("standin_under_test", STANDIN)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(os.path.dirname(STANDIN))
    sd = mod.Standin("http://127.0.0.1:9", state_dir=str(tmp_path))
    errors = []

    def saver():
        try:
            for _ in range(200):
                sd._save()
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            errors.append(repr(e))

    threads = [threading.Thread(target=saver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sd.writers.shutdown()
    assert errors == [], errors[:3]
    assert sorted(os.listdir(tmp_path)) == ["state.json"]
    with open(tmp_path / "state.json") as f:
        assert json.load(f)["config"] == sd.cfg
    again = mod.Standin("http://127.0.0.1:9", state_dir=str(tmp_path))
    again.writers.shutdown()
    assert again.cfg == sd.cfg and again.tasks == {}
