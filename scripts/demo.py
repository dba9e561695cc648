#!/usr/bin/env python3
"""The snaplake demo: three Aurora clusters through the whole pipeline on the local stack.

Run by scripts/demo.sh (`make demo`) with .stack/env in the environment. Everything AWS goes
through the stand-in over moto with signature checking on, so every call our C binaries make
is verified by an independent SigV4 implementation.

  orders-<id>   a PostgreSQL export under the current naming convention (partition folders)
  events-<id>   a MySQL export under the previous naming convention, 2,400 files; one of its
                tables fails to export (listed in export_tables_info, reported by copy)
  billing-<id>  its export fails (the stand-in answers FAILED with a cause)

The three EventBridge "Automated cluster snapshot created" events (plus a duplicate) go through
moto's EventBridge, PutEvents -> a rule with the seed's pattern -> its SQS queue, as in
production (a malformed body is sent to the queue directly, to show the dead-letter topic);
the producer in sqs mode drains the queue and is stopped with SIGTERM; one worker per stage
(export, copy, crawl, share) does the rest; the crawl worker registers orders with its Glue
crawler and events directly from the export's schema metadata (CATALOG_DIRECT_CLUSTERS, no
crawler run), and prints which mode registered each. The share worker applies a demo policy
(sessions private, customers through a data cells filter that withholds `email`, the rest
through the public LF-Tag) in the stand-in's Lake Formation; the demo prints each run's share
summary and ends with `snaplakectl share plan` reporting no changes. The demo then prints the run ledger,
the failure message, the lake layout and the query check (pyarrow reads every Parquet file of
the lake back: "N rows in M partitions, 0 duplicates" per cluster), and exits non-zero unless
two runs were crawled with every row of their exports in the lake exactly once (and nothing of
the failed table) and the third failed at export with AWS's cause. At the end the failed run
is shown (snaplakectl show), its cause fixed and redone (snaplakectl redo) until it succeeds.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import boto3
from botocore.config import Config
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "build", "bin")
LOGS = os.path.join(ROOT, ".stack", "logs")
# The runs may take as long as they need on a busy machine; the demo gives up only when nothing
# has moved (no ledger transition, no new object in the lake) for STALL_S, or after CAP_S.
STALL_S = 180
CAP_S = 1800
ANALYTICS = "444455556666"   # the analytics account the policy shares with
FAIL_CAUSE = ("The IAM role arn:aws:iam::123456789012:role/snaplake-export does not have "
              "kms:GenerateDataKey on the export key")


def say(msg):
    print(msg, flush=True)


def client(service):
    return boto3.client(service, endpoint_url=os.environ["STANDIN_ENDPOINT"],
                        region_name=os.environ["AWS_REGION"],
                        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                      s3={"addressing_style": "path"}))


def standin(path, body):
    import urllib.request
    req = urllib.request.Request(os.environ["STANDIN_ENDPOINT"] + path,
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def create_cluster(rds, name):
    r = rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql",
                              MasterUsername="snaplake", MasterUserPassword="demo-only-pw1")
    snaps = rds.describe_db_cluster_snapshots(DBClusterIdentifier=name,
                                              SnapshotType="automated")["DBClusterSnapshots"]
    if not snaps:
        sys.exit("demo: moto made no automated snapshot for %s" % name)
    s = snaps[0]
    return {"cluster": name, "arn": r["DBCluster"]["DBClusterArn"],
            "snapshot_id": s["DBClusterSnapshotIdentifier"],
            "snapshot_arn": s["DBClusterSnapshotArn"],
            "run_id": s["DBClusterSnapshotIdentifier"][len("rds:"):]}


def event(c):
    """The EventBridge event RDS sends when an automated cluster snapshot is created."""
    return {"version": "0", "id": str(uuid.uuid4()),
            "detail-type": "RDS DB Cluster Snapshot Event", "source": "aws.rds",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": os.environ["AWS_REGION"], "resources": [c["snapshot_arn"]],
            "detail": {"EventCategories": ["backup"], "SourceType": "CLUSTER_SNAPSHOT",
                       "SourceArn": c["snapshot_arn"],
                       "Date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                       "Message": "Automated cluster snapshot created",
                       "SourceIdentifier": c["snapshot_id"], "EventID": "RDS-EVENT-0169"}}


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def read_topic(topic, n, timeout):
    """Up to n messages of topic from the beginning, every partition assigned by hand (no
    group: nothing to rebalance, so close cannot hang in one)."""
    c = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                  "group.id": "demo-reader-%s" % uuid.uuid4().hex[:8],
                  "enable.auto.commit": False})
    out, deadline = [], time.time() + timeout
    try:
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            return out
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.partitions])
        while len(out) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append(json.loads(m.value()))
    finally:
        c.close()
    return out


def query_check(s3, export_bucket, lake_bucket, runs, layouts):
    """Reads every Parquet file of the lake with pyarrow and compares each partition with the
    rows its export wrote (tests/standin/lake_check.py); prints "N rows in M partitions,
    D duplicates" per cluster and returns the problems (a duplicate, a missing or changed
    row, a wrong column type, a partition no export wrote)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "standin"))
    import lake_check
    lake = lake_check.read_lake(s3, lake_bucket, "lake")
    problems = []
    for c in runs:
        infos = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=export_bucket) for o in page.get("Contents", [])
            if o["Key"].endswith("/export_info_%s.json" % c["run_id"])]
        if len(infos) != 1:
            problems.append("%s: %d export_info files" % (c["cluster"], len(infos)))
            continue
        date = c["snapshot_id"][-16:-6]   # rds:<cluster>-YYYY-MM-DD-HH-MM
        want = {(c["cluster"], db, t, date): v for (db, t), v in lake_check.expected_export(
            s3, export_bucket, infos[0].rsplit("/", 1)[0], layouts[c["cluster"]]).items()}
        r = lake_check.check({k: v for k, v in lake.items() if k[0] == c["cluster"]}, want)
        say("   %-15s %s%s" % (c["cluster"], r.line(),
                              "" if not r.problems else "; " + "; ".join(r.problems[:3])))
        problems += ["query check %s: %s" % (c["cluster"], p) for p in r.problems]
    return problems


def settled(st, c):
    """The run's last stage ended: a failed stage before share, or share itself."""
    for stage in ("export", "copy", "crawl", "share"):
        if st.get((c["run_id"], stage)) == "failed":
            return True
        if st.get((c["run_id"], stage)) != "succeeded":
            return False
    return True


def main():
    tag = uuid.uuid4().hex[:6]
    prefix = "demo-%s." % tag
    export_bucket = "snaplake-demo-exports-%s" % tag
    lake_bucket = "snaplake-demo-lake-%s" % tag
    s3, rds, glue, kms = client("s3"), client("rds"), client("glue"), client("kms")

    say("-- AWS (moto + stand-in, signature checking on): buckets, KMS key, Glue, clusters")
    s3.create_bucket(Bucket=export_bucket)
    s3.create_bucket(Bucket=lake_bucket)
    key_arn = kms.create_key(Description="snaplake demo export key")["KeyMetadata"]["Arn"]
    db = "snaplake_demo_%s" % tag
    glue.create_database(DatabaseInput={"Name": db})
    clusters = [create_cluster(rds, "%s-%s" % (name, tag))
                for name in ("orders", "events", "billing")]
    orders, events, billing = clusters
    for c in clusters:
        glue.create_crawler(Name="snaplake-%s" % c["cluster"], DatabaseName=db,
                            Role="arn:aws:iam::123456789012:role/snaplake-glue",
                            Targets={"S3Targets": [{"Path": "s3://%s/lake/%s/"
                                                    % (lake_bucket, c["cluster"])}]})
    # What each export writes (stand-in layouts, keyed by cluster id).
    layouts = {
            orders["cluster"]: {"convention": "current", "databases": {
                "shop": {"public.orders": {"files": 3, "partitions": 2},
                         "public.order_items": {"files": 2, "partitions": 3},
                         "public.customers": {"files": 2, "partitions": 1, "columns": [
                             "id:bigint", "name:varchar(64)", "email:varchar(128)",
                             "country:varchar(2)", "created_at:timestamp"]}}}},
            events["cluster"]: {"convention": "previous", "databases": {
                "tracking": {"public.page_views": {"files": 1200, "partitions": 1},
                             "public.clicks": {"files": 800, "partitions": 1},
                             "public.sessions": {"files": 400, "partitions": 1},
                             "public.audit_log": {"files": 10, "partitions": 1}}},
                "engine": "mysql", "failed_tables": ["tracking.public.audit_log"]}}
    standin("/_standin/config", {
        "export_seconds": 4, "crawler_seconds": 2, "crawler_stopping_seconds": 0.3,
        "layouts": layouts, "fail_sources": {billing["cluster"]: FAIL_CAUSE}})
    for c in clusters:
        say("   %-15s snapshot %s" % (c["cluster"], c["snapshot_id"]))

    env = dict(os.environ)
    env.update({"AWS_ENDPOINT_URL": os.environ["STANDIN_ENDPOINT"], "KAFKA_TOPIC_PREFIX": prefix,
                "SL_CREATE_TOPICS": "true", "TOPIC_PARTITIONS": "6", "LOG_LEVEL": "info",
                "EXPORT_S3_BUCKET": export_bucket,
                "EXPORT_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/snaplake-export",
                "EXPORT_KMS_KEY_ID": key_arn, "EXPORT_POLL_INTERVAL": "1s",
                "EXPORT_SLOT_RETRY": "500ms", "LAKE_BUCKET": lake_bucket, "LAKE_PREFIX": "lake",
                "CRAWL_POLL_INTERVAL": "1s", "CRAWLER_NAME": "snaplake-{cluster}"})

    say("-- EventBridge -> SQS -> producer (sqs mode): 3 snapshot events, 1 duplicate, "
        "1 malformed body")
    sqs, bus = client("sqs"), client("events")
    queue_url = sqs.create_queue(QueueName="snaplake-demo-%s" % tag)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    # The rule deploy/events installs: the seed's pattern, one SourceIdentifier prefix each.
    pattern = {"source": ["aws.rds"], "detail-type": ["RDS DB Cluster Snapshot Event"],
               "detail": {"Message": ["Automated cluster snapshot created"],
                          "SourceIdentifier": [{"prefix": "rds:%s" % c["cluster"]}
                                               for c in clusters]}}
    bus.put_rule(Name="snaplake-demo-%s" % tag, EventPattern=json.dumps(pattern),
                 State="ENABLED")
    bus.put_targets(Rule="snaplake-demo-%s" % tag, Targets=[{"Id": "producer", "Arn": queue_arn}])
    for ev in [event(c) for c in clusters] + [event(orders)]:  # the last: a duplicate
        r = bus.put_events(Entries=[{"Source": ev["source"], "DetailType": ev["detail-type"],
                                     "Detail": json.dumps(ev["detail"]),
                                     "Resources": ev["resources"]}])
        if r["FailedEntryCount"]:
            sys.exit("demo: PutEvents refused an event: %r" % r)
    # EventBridge would refuse a body that is not JSON: it goes straight to the queue.
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"source": "aws.rds", "detail-type": ')
    os.makedirs(LOGS, exist_ok=True)
    penv = dict(env, SQS_QUEUE_URL=queue_url, SQS_WAIT_SECONDS="1")

    def queue_left():
        a = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(v) for v in a["Attributes"].values())

    with open(os.path.join(LOGS, "demo-producer.log"), "wb") as log:
        p = subprocess.Popen([os.path.join(BIN, "snaplake-producer"), "sqs"], env=penv,
                             stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while p.poll() is None and queue_left() and time.time() < deadline:
            time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    summary = [json.loads(l) for l in open(os.path.join(LOGS, "demo-producer.log"), "rb")
               if l.startswith(b"{") and b'"published"' in l]
    if p.returncode != 0 or not summary or queue_left():
        sys.exit("demo: producer failed (exit %d, %d messages left in the queue), see "
                 ".stack/logs/demo-producer.log" % (p.returncode, queue_left()))
    s = summary[-1]
    say("   published %s, duplicates %s, dead-lettered %s"
        % (s.get("published"), s.get("duplicates"), s.get("dead_lettered")))

    # The share policy (docs/share-policy.md): the database private, sessions kept private,
    # customers shared through a data cells filter without its email column, the rest through
    # the public tag, to the analytics account.
    share_policy = {
        "version": 1,
        "tags": {"confidential": ["sensitive", "private", "public"]},
        "database": {"name": db, "tags": {"confidential": "private"}},
        "tables": [
            {"match": "*.public_sessions", "private": True},
            {"match": "*.public_customers", "filter": {
                "name": "snaplake_{table}_no_email",
                "include": ["id", "name", "country", "created_at"]}},
            {"match": "*", "tags": {"confidential": "public"}}],
        "grants": [
            {"principal": ANALYTICS, "tags": {"confidential": ["public"]},
             "permissions": ["SELECT", "DESCRIBE"]},
            {"principal": ANALYTICS, "filters": ["*"], "permissions": ["SELECT"],
             "grant_option": True}],
        "sensitive_columns": ["*email*", "*phone*", "*password*", "*token*"]}
    policy_file = os.path.join(LOGS, "demo-share-policy-%s.json" % tag)
    os.makedirs(LOGS, exist_ok=True)
    with open(policy_file, "w") as f:
        json.dump(share_policy, f, indent=1)
    env["SHARE_POLICY_FILE"] = policy_file

    say("-- workers: export, copy, crawl, share (one each; the crawl worker runs the crawler "
        "for %s and registers %s directly, CATALOG_DIRECT_CLUSTERS; the share worker applies "
        "%s)" % (orders["cluster"], events["cluster"], os.path.relpath(policy_file, ROOT)))
    workers = {}
    t_start = time.time()
    for stage in ("export", "copy", "crawl", "share"):
        log = open(os.path.join(LOGS, "demo-%s.log" % stage), "wb")
        # One crawl worker, two modes: the way a deployment moves cluster by cluster from
        # the crawler to direct registration, into the same Glue database.
        wenv = dict(env, CATALOG_MODE="crawler", CATALOG_DIRECT_CLUSTERS=events["cluster"],
                    CATALOG_DATABASE=db) if stage == "crawl" else env
        workers[stage] = subprocess.Popen([os.path.join(BIN, "snaplake-worker"), stage],
                                          env=wenv, stdout=log, stderr=subprocess.STDOUT)
    run_ids = [c["run_id"] for c in clusters]
    ids_sql = ",".join("'%s'" % r for r in run_ids)
    done, stalled = False, False
    last_sig, last_move, last_lake = None, time.time(), (0.0, 0)
    while time.time() - t_start < CAP_S:
        for stage, w in workers.items():
            if w.poll() is not None:
                sys.exit("demo: %s worker exited (%d), see .stack/logs/demo-%s.log"
                         % (stage, w.returncode, stage))
        rows = psql("SELECT run_id, stage, status FROM snaplake_stage_runs"
                    " WHERE run_id IN (%s)" % ids_sql)
        st = {(r[0], r[1]): r[2] for r in rows}
        done = (settled(st, orders) and settled(st, events) and
                st.get((billing["run_id"], "export")) in ("succeeded", "failed"))
        if done:
            break
        # Progress: a ledger event, or objects landing in the lake (a long copy writes no
        # ledger row until it ends). The lake is counted every few seconds, not every turn.
        if time.time() - last_lake[0] >= 3:
            n = sum(p.get("KeyCount", 0) for p in
                    s3.get_paginator("list_objects_v2").paginate(Bucket=lake_bucket))
            last_lake = (time.time(), n)
        nev = psql("SELECT count(*) FROM snaplake_stage_events WHERE run_id IN (%s)" % ids_sql)
        sig = (tuple(sorted(st.items())), nev[0][0] if nev else 0, last_lake[1])
        if sig != last_sig:
            last_sig, last_move = sig, time.time()
        elif time.time() - last_move > STALL_S:
            stalled = True
            break
        time.sleep(0.5)
    elapsed = time.time() - t_start
    for stage, w in workers.items():
        w.send_signal(signal.SIGTERM)
    codes = {stage: w.wait(30) for stage, w in workers.items()}
    if not done:
        sys.exit("demo: runs %s; logs in .stack/logs/demo-*.log"
                 % ("made no progress for %d s" % STALL_S if stalled
                    else "did not finish within %d s" % CAP_S))
    say("   all runs settled in %.1f s; workers stopped (exit codes %s)" % (elapsed, codes))

    say("\n-- runs (snaplakectl runs): stage, outcome, attempt, duration")
    subprocess.run([os.path.join(BIN, "snaplakectl"), "runs"] + run_ids, env=env, check=True)

    failures = read_topic(prefix + "failures", 1, 15)
    if failures:
        f = failures[0]
        say("-- failure message on %sfailures: cluster %s, stage %s, %s: %s"
            % (prefix, f.get("cluster"), f.get("stage"), f.get("error_code"),
               f.get("error_message")))
    dlq = read_topic(prefix + "dlq", 1, 10)
    if dlq:
        say("-- dead letter on %sdlq: %s" % (prefix, dlq[0].get("reason")))
    crawled = read_topic(prefix + "crawls", 2, 15)
    for m in crawled:
        say("-- crawled: %s  %s objects, %s bytes, %s tables, crawl %s%s"
            % (m["cluster"], m["objects"], m["bytes"], len(m["tables"]), m["crawl_status"],
               ", failed tables: %s" % [t["table"] for t in m["failed_tables"]]
               if m.get("failed_tables") else ""))
        if m.get("catalog_mode") == "direct":
            say("   %-15s registered by: direct (no crawler), Glue %s: %s"
                % (m["cluster"], m["glue_database"], ", ".join(m.get("glue_tables", []))))
        else:
            say("   %-15s registered by: crawler %s" % (m["cluster"], m.get("crawler")))
    modes = {m["cluster"]: m.get("catalog_mode", "crawler") for m in crawled}
    names = [t["Name"] for t in glue.get_tables(DatabaseName=db)["TableList"]]
    say("   Glue %s: %d tables, %d duplicates" % (db, len(names), len(names) - len(set(names))))

    shared = read_topic(prefix + "shares", 2, 15)
    for m in sorted(shared, key=lambda m: m["shared_at"]):   # in the order they ran
        say("-- shared: %s  Glue %s: %d tables shared (%s), %d private; %d created, "
            "%d updated, %d removed, %d drift"
            % (m["cluster"], m["glue_database"], m["tables_shared"],
               ", ".join(m.get("shared_tables", [])), m["tables_private"], m["share_created"],
               m["share_updated"], m["share_removed"], m["share_drift"]))
        for line in m.get("share_changes") or ["(no changes: Lake Formation already showed "
                                               "the policy)"]:
            say("   %s" % line)
    say("\n-- snaplakectl share plan (after both runs)")
    plans = []
    for c in (orders, events):
        r = subprocess.run([os.path.join(BIN, "snaplakectl"), "share", "plan", "--cluster",
                            c["cluster"]], env=env, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        plans.append((c["cluster"], r.returncode, r.stdout))

    say("\n-- lake layout (snaplakectl lake)")
    subprocess.run([os.path.join(BIN, "snaplakectl"), "lake"], env=env, check=True)

    say("\n-- query check (pyarrow over the lake bucket's Parquet files)")
    query = query_check(s3, export_bucket, lake_bucket, (orders, events), layouts)

    # The outcome the demo promises.
    st = {(r[0], r[1]): r[2] for r in psql("SELECT run_id, stage, status FROM "
                                           "snaplake_stage_runs WHERE run_id IN (%s)" % ids_sql)}
    problems = []
    for c in (orders, events):
        for stage in ("export", "copy", "crawl", "share"):
            if st.get((c["run_id"], stage)) != "succeeded":
                problems.append("%s %s is %s" % (c["cluster"], stage,
                                                 st.get((c["run_id"], stage))))
    if st.get((billing["run_id"], "export")) != "failed":
        problems.append("billing export is %s" % st.get((billing["run_id"], "export")))
    if not failures or FAIL_CAUSE not in failures[0].get("error_message", ""):
        problems.append("no failure message carrying the export's FailureCause")
    if len(crawled) != 2:
        problems.append("%d crawled messages, expected 2" % len(crawled))
    if modes != {orders["cluster"]: "crawler", events["cluster"]: "direct"}:
        problems.append("catalog modes %s, expected orders crawler, events direct" % modes)
    if len(shared) != 2:
        problems.append("%d shared messages, expected 2" % len(shared))
    for cluster, rc, out in plans:
        if rc != 0 or "No changes." not in out:
            problems.append("share plan for %s: exit %d, %r" % (cluster, rc, out[-300:]))
    if len(names) != len(set(names)):
        problems.append("duplicate Glue tables: %s" % sorted(names))
    problems += query
    if any(code != 0 for code in codes.values()):
        problems.append("a worker did not stop cleanly: %s" % codes)
    if problems:
        sys.exit("demo: unexpected outcome:\n  " + "\n  ".join(problems))
    redo_failed_run(env, billing, db, workers)
    say("\ndemo: ok (orders and events crawled and shared, share plan clean, every lake row "
        "read back once, billing failed at export with AWS's cause, then was redone once the "
        "cause was fixed)")


def redo_failed_run(env, run, db, stages):
    """The console's redrive: `snaplakectl show` of the failed run, the cause fixed (the
    stand-in's fault cleared through its control endpoint), `snaplakectl redo`, and the run
    followed until every stage succeeded (the export as a new task generation)."""
    ctl = os.path.join(BIN, "snaplakectl")
    say("\n-- the failed run (snaplakectl show %s)" % run["run_id"])
    subprocess.run([ctl, "show", run["run_id"]], env=env, check=True)
    say("-- the cause fixed (the export role may use the key: the stand-in's fault cleared); "
        "snaplakectl redo %s" % run["run_id"])
    standin("/_standin/config", {"fail_sources": {run["cluster"]: None}})
    workers = {}
    for stage in stages:
        wenv = dict(env, CATALOG_MODE="crawler", CATALOG_DATABASE=db) if stage == "crawl" else env
        workers[stage] = subprocess.Popen(
            [os.path.join(BIN, "snaplake-worker"), stage], env=wenv,
            stdout=open(os.path.join(LOGS, "demo-redo-%s.log" % stage), "wb"),
            stderr=subprocess.STDOUT)
    subprocess.run([ctl, "redo", run["run_id"]], env=env, check=True)
    deadline, st = time.time() + CAP_S / 3, {}
    while time.time() < deadline and any(st.get(s) != "succeeded" for s in stages):
        out = subprocess.run([ctl, "runs", "--json", run["run_id"]], env=env, check=True,
                             capture_output=True, text=True).stdout
        st = {s["stage"]: s["status"] for s in json.loads(out)[0]["stages"]}
        if "failed" in st.values():
            break
        time.sleep(0.5)
    for w in workers.values():
        w.send_signal(signal.SIGTERM)
    codes = {stage: w.wait(30) for stage, w in workers.items()}
    say("\n-- redone (snaplakectl show %s)" % run["run_id"])
    subprocess.run([ctl, "show", run["run_id"]], env=env, check=True)
    if any(st.get(s) != "succeeded" for s in stages) or any(codes.values()):
        sys.exit("demo: the redone run ended %s (workers %s); logs in .stack/logs/demo-redo-*.log"
                 % (st, codes))


if __name__ == "__main__":
    main()
