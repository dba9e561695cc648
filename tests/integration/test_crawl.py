"""The crawl stage against the stand-in's Glue crawler runs (issue 3, "crawl worker").

Each test feeds `copied` messages straight onto its own `copies` topic and watches `crawls`,
`failures` and the ledger. The stand-in records every StartCrawler call, so the tests can
tell "waited for someone else's run" from "started another run".
"""

import time

import pytest

import harness as h


def copied_message(cluster, copied_at=None):
    c = {"cluster": cluster, "run_id": "%s-2024-02-29-03-05" % cluster,
         "snapshot_id": "rds:%s-2024-02-29-03-05" % cluster,
         "snapshot_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:rds:%s-2024-02-29-03-05"
                         % (h.ACCOUNT, cluster),
         "cluster_arn": "arn:aws:rds:us-east-1:%s:cluster:%s" % (h.ACCOUNT, cluster),
         "date": "2024-02-29"}
    m = h.snapshot_message(c)
    m.update(type="copied", export_task_id=c["run_id"], s3_bucket="exports",
             s3_prefix="s3-export/%s/2024-02-29" % cluster, lake_bucket="lake",
             lake_prefix="lake", objects=3, bytes=300, removed=0,
             tables=["db/public.t1"], failed_tables=[],
             copied_at=copied_at or h.now_rfc3339())
    return m


@pytest.fixture
def crawl_env(tmp_path):
    h.require_stack()
    glue = h.aws("glue")
    db = "sl_db_%s" % h.uid()
    glue.create_database(DatabaseInput={"Name": db})
    prefix = h.topic_prefix("crawl")
    h.create_topics(prefix)
    yield {"glue": glue, "db": db, "prefix": prefix, "tmp": tmp_path}


def make_crawler(env, cluster):
    name = "snaplake-%s" % cluster
    env["glue"].create_crawler(Name=name, Role="arn:aws:iam::%s:role/glue" % h.ACCOUNT,
                               DatabaseName=env["db"],
                               Targets={"S3Targets": [{"Path": "s3://lake/lake/%s/" % cluster}]})
    return name


def start_worker(env, name="crawl"):
    # Glue and the stand-in share this machine's clock: a small skew allowance keeps the
    # before/after-the-copy cases below apart by a second.
    w = h.Worker("crawl", h.worker_env(env["prefix"], CRAWL_POLL_INTERVAL="300ms",
                                       CRAWL_CLOCK_SKEW="200ms",
                                       CRAWLER_NAME="snaplake-{cluster}"),
                 env["tmp"] / ("%s.log" % name))
    w.wait_ready()
    return w


def starts_of(crawler):
    return [s for s in h.standin_state()["crawl_starts"] if s["crawler"] == crawler]


def test_crawl_succeeds_and_publishes(crawl_env):
    h.standin_config(crawler_seconds=1.0)
    cluster = "cr-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    w = start_worker(crawl_env)
    try:
        msg = copied_message(cluster)
        with h.KafkaReader(crawl_env["prefix"] + "crawls") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            recs = out.read(1, timeout=30)
        r = recs[0].value
        assert recs[0].key == cluster
        assert r["type"] == "crawled" and r["v"] == 1
        assert r["crawler"] == crawler and r["crawl_status"] == "SUCCEEDED"
        assert r["run_id"] == msg["run_id"] and r["objects"] == 3
        assert r["crawl_started_at"] >= msg["copied_at"][:19]
        assert [s["result"] for s in starts_of(crawler)] == ["started"]
        row = h.wait_for(lambda: h.ledger_stage([msg["run_id"]], "crawl").get(msg["run_id"]),
                         10, what="ledger row")
        h.wait_for(lambda: h.ledger_stage([msg["run_id"]], "crawl")[msg["run_id"]]["status"]
                   == "succeeded", 10, what="ledger succeeded")
        assert row["stage"] == "crawl"
    finally:
        assert w.stop() == 0


def test_failed_crawl_publishes_failure_with_error_message(crawl_env):
    h.standin_config(crawler_seconds=1.0)
    cluster = "cf-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    h.standin("POST", "/_standin/crawler/fail",
              {"crawler": crawler, "status": "FAILED",
               "message": "Insufficient Lake Formation permission(s) on lake"})
    w = start_worker(crawl_env)
    try:
        msg = copied_message(cluster)
        with h.KafkaReader(crawl_env["prefix"] + "failures") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            f = out.read(1, timeout=30)[0].value
        assert f["type"] == "failure" and f["stage"] == "crawl"
        assert f["cluster"] == cluster and f["run_id"] == msg["run_id"]
        assert f["error_code"] == "CrawlFailed"
        assert "Insufficient Lake Formation permission(s) on lake" in f["error_message"]
        assert f["export_task_id"] == msg["export_task_id"] or "export_task_id" not in f
        h.wait_for(lambda: (h.ledger_stage([msg["run_id"]], "crawl").get(msg["run_id"]) or {})
                   .get("status") == "failed", 10, what="ledger failed")
        row = h.ledger_stage([msg["run_id"]], "crawl")[msg["run_id"]]
        assert row["error_code"] == "CrawlFailed"
    finally:
        assert w.stop() == 0


def test_cancelled_crawl_is_a_failure(crawl_env):
    h.standin_config(crawler_seconds=1.0)
    cluster = "cc-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    h.standin("POST", "/_standin/crawler/fail",
              {"crawler": crawler, "status": "CANCELLED", "message": "Stopped by operator"})
    w = start_worker(crawl_env)
    try:
        with h.KafkaReader(crawl_env["prefix"] + "failures") as out:
            h.produce(crawl_env["prefix"] + "copies", copied_message(cluster), key=cluster)
            f = out.read(1, timeout=30)[0].value
        assert f["error_code"] == "CrawlCancelled"
        assert "Stopped by operator" in f["error_message"]
    finally:
        assert w.stop() == 0


def test_running_crawl_that_started_after_the_copy_covers_it(crawl_env):
    """CrawlerRunningException: a run that began after our copy finished is our run."""
    h.standin_config(crawler_seconds=3.0)
    cluster = "cw-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    msg = copied_message(cluster)          # copy finished now ...
    time.sleep(0.5)            # more than CRAWL_CLOCK_SKEW (200ms) later
    crawl_env["glue"].start_crawler(Name=crawler)   # ... and someone starts the crawler after
    w = start_worker(crawl_env)
    try:
        with h.KafkaReader(crawl_env["prefix"] + "crawls") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            r = out.read(1, timeout=30)[0].value
        assert r["crawl_status"] == "SUCCEEDED"
        results = [s["result"] for s in starts_of(crawler)]
        # The manual start, then our refused start; no third run.
        assert results == ["started", "CrawlerRunningException"], results
    finally:
        assert w.stop() == 0


def test_running_crawl_that_started_before_the_copy_is_followed_by_a_new_run(crawl_env):
    """A run that began before our copy finished may have missed files: crawl again."""
    # Runs long enough that the other run is still going when the worker (slow to start under
    # ASan on a busy machine) asks for its own: 2 s let it end first in one loaded run.
    h.standin_config(crawler_seconds=15.0)
    cluster = "cb-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    crawl_env["glue"].start_crawler(Name=crawler)   # someone's run starts first ...
    time.sleep(1.1)
    msg = copied_message(cluster)          # ... our copy finishes while it runs
    w = start_worker(crawl_env)
    try:
        with h.KafkaReader(crawl_env["prefix"] + "crawls") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            r = out.read(1, timeout=180)[0].value
        results = [s["result"] for s in starts_of(crawler)]
        assert results == ["started", "CrawlerRunningException", "started"], results
        ours = starts_of(crawler)[-1]["time"]
        # The result we published is the new run's, not the old one's.
        assert r["crawl_started_at"][:19] >= time.strftime("%Y-%m-%dT%H:%M:%S",
                                                          time.gmtime(int(ours)))
    finally:
        assert w.stop() == 0


def test_missing_crawler_fails_with_aws_code(crawl_env):
    cluster = "cm-%s" % h.uid()   # no crawler made for it
    w = start_worker(crawl_env)
    try:
        with h.KafkaReader(crawl_env["prefix"] + "failures") as out:
            h.produce(crawl_env["prefix"] + "copies", copied_message(cluster), key=cluster)
            f = out.read(1, timeout=30)[0].value
        assert f["error_code"] == "EntityNotFoundException"
        assert f["stage"] == "crawl"
    finally:
        assert w.stop() == 0
