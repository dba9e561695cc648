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


def start_worker(env, name="crawl", **kw):
    # Glue and the stand-in share this machine's clock: a small skew allowance keeps the
    # before/after-the-copy cases below apart.
    wenv = dict(CRAWL_POLL_INTERVAL="300ms", CRAWL_CLOCK_SKEW="200ms",
                CRAWLER_NAME="snaplake-{cluster}")
    wenv.update(kw)
    w = h.Worker("crawl", h.worker_env(env["prefix"], **wenv), env["tmp"] / ("%s.log" % name))
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


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def hold_other_run(env, crawler):
    """Someone else's run of crawler, RUNNING until release_other_run ends it (so a worker slow
    to start under ASan still finds it running). Returns its start time on Glue's clock."""
    h.standin_config(crawler_seconds_by_name={crawler: 600.0})
    env["glue"].start_crawler(Name=crawler)
    return starts_of(crawler)[0]["time"]


def release_other_run(crawler, copied_at, ours_seconds=1.0):
    """Once the worker's own start was refused: the other run ends, and a run the worker
    starts after it lasts ours_seconds. The copy time may lie ahead of the clock (a copy that
    finished just after the other run began): the other run ends after it, as it would."""
    h.wait_for(lambda: "CrawlerRunningException" in [s["result"] for s in starts_of(crawler)],
               60, what="the worker's start refused while the other run runs")
    h.wait_for(lambda: rfc3339(time.time()) > copied_at, 10, what="the copy time to pass")
    h.standin_config(crawler_seconds_by_name={crawler: ours_seconds})
    h.standin("POST", "/_standin/crawler/finish", {"crawler": crawler})


def test_running_crawl_that_started_after_the_copy_covers_it(crawl_env):
    """CrawlerRunningException: a run that began after our copy finished is our run."""
    cluster = "cw-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    w = start_worker(crawl_env)
    try:
        other = hold_other_run(crawl_env, crawler)
        # The copy finished 0.5 s before that run began: more than CRAWL_CLOCK_SKEW (200ms).
        msg = copied_message(cluster, rfc3339(other - 0.5))
        with h.KafkaReader(crawl_env["prefix"] + "crawls") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            release_other_run(crawler, msg["copied_at"])
            r = out.read(1, timeout=60)[0].value
        assert r["crawl_status"] == "SUCCEEDED"
        results = [s["result"] for s in starts_of(crawler)]
        # The manual start, then our refused start; no third run.
        assert results == ["started", "CrawlerRunningException"], results
    finally:
        assert w.stop() == 0


def test_running_crawl_that_started_before_the_copy_is_followed_by_a_new_run(crawl_env):
    """A run that began before our copy finished may have missed files: crawl again."""
    cluster = "cb-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    w = start_worker(crawl_env)
    try:
        other = hold_other_run(crawl_env, crawler)     # someone's run starts first ...
        msg = copied_message(cluster, rfc3339(other + 0.1))  # ... our copy finishes in it
        with h.KafkaReader(crawl_env["prefix"] + "crawls") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            release_other_run(crawler, msg["copied_at"])
            r = out.read(1, timeout=60)[0].value
        results = [s["result"] for s in starts_of(crawler)]
        assert results == ["started", "CrawlerRunningException", "started"], results
        ours = starts_of(crawler)[-1]["time"]
        # The result we published is the new run's, not the old one's.
        assert r["crawl_started_at"][:19] >= time.strftime("%Y-%m-%dT%H:%M:%S",
                                                          time.gmtime(int(ours)))
    finally:
        assert w.stop() == 0


def test_other_run_started_within_the_skew_before_the_copy_is_not_trusted(crawl_env):
    """Someone else's run that began 1 s before the copy ended is not trusted: crawl again.

    Before: CRAWL_CLOCK_SKEW was applied in the accepting direction for another's run, so a
    run that began up to the skew *before* the copy finished counted as covering it, though it
    may have listed the lake before the last files (or the new date= folder) were there.
    """
    cluster = "rs-%s" % h.uid()
    crawler = make_crawler(crawl_env, cluster)
    other = hold_other_run(crawl_env, crawler)         # someone's run starts ...
    msg = copied_message(cluster, rfc3339(other + 1.0))  # ... and our copy ends 1 s into it
    w = start_worker(crawl_env, CRAWL_CLOCK_SKEW="2s")
    try:
        with h.KafkaReader(crawl_env["prefix"] + "crawls") as out:
            h.produce(crawl_env["prefix"] + "copies", msg, key=cluster)
            release_other_run(crawler, msg["copied_at"])
            recs = out.read(1, 60)
        assert len(recs) == 1
        starts = starts_of(crawler)
        results = [s["result"] for s in starts]
        # 1 s before the copy ended is inside the 2 s allowance either way: crawl again.
        assert results == ["started", "CrawlerRunningException", "started"], results
        assert recs[0].value["crawl_started_at"][:19] >= time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.gmtime(int(starts[-1]["time"])))
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
