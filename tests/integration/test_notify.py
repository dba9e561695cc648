"""The notify stage (worker/notify.c, `snaplake-worker notify`) on the local stack: every
failure and dead letter the pipeline produces reaches a local webhook receiver (a small HTTP
server in this file) with the fields an operator needs and the `snaplakectl redo` command; a
receiver that answers 500 or 429 for a while still gets every alert once it recovers, across a
worker restart, with no offset stored before the 2xx; a 4xx is handled as README documents.
Run with .stack/env sourced:

    .venv/bin/pytest -q tests/integration/test_notify.py
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_metrics import free_port, sample, scrape  # noqa: E402

ROLE = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT
# The path of a Slack webhook URL is its secret: it must never reach a log line.
TOKEN = "T0SECRET/B0SECRET/xoxb" + h.uid(16)


class Receiver:
    """A webhook receiver on 127.0.0.1. `answer(body) -> (status, headers)` decides each
    answer (200 unless set); every request is recorded as (path, status, parsed body)."""

    def __init__(self, tls=None):
        self.lock = threading.Lock()
        self.requests = []
        self.answer = lambda path, body: (200, {})
        rx = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode("utf-8", "replace")}
                with rx.lock:
                    status, headers = rx.answer(self.path, body)
                    rx.requests.append({"path": self.path, "status": status, "body": body,
                                        "ctype": self.headers.get("Content-Type")})
                out = b"ok" if status < 300 else b"invalid_payload"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        self.scheme = "http"
        if tls:  # (certificate, key): an https receiver
            import ssl
            sc = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sc.load_cert_chain(*tls)
            self.srv.socket = sc.wrap_socket(self.srv.socket, server_side=True)
            self.scheme = "https"
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def url(self, name):
        return "%s://127.0.0.1:%d/%s/%s" % (self.scheme, self.port, name, TOKEN)

    def accepted(self, name):
        with self.lock:
            return [r["body"] for r in self.requests
                    if r["path"].startswith("/" + name + "/") and r["status"] < 300]

    def seen(self, name):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith("/" + name + "/")]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def ctx(standin, request, tmp_path):
    h.standin_config_reset()
    h.standin_reset(all=True)
    c = {"prefix": h.topic_prefix(request.node.name), "tmp": tmp_path, "workers": [],
         "rx": Receiver()}
    h.create_topics(c["prefix"])
    yield c
    for w in c["workers"]:
        if w.alive():
            w.stop()
    c["rx"].close()


def notify_worker(c, name, group, fmt="slack", **env):
    base = dict(NOTIFY_FORMAT=fmt, KAFKA_GROUP_ID=group, KAFKA_SESSION_TIMEOUT_MS="6000",
                KAFKA_HEARTBEAT_INTERVAL_MS="1000", NOTIFY_RETRY_BASE="200ms",
                NOTIFY_RETRY_MAX="1s", KAFKA_AUTO_COMMIT_INTERVAL_MS="500")
    if "NOTIFY_WEBHOOK_URL_FILE" not in env:
        base["NOTIFY_WEBHOOK_URL"] = c["rx"].url(name)
    base.update(env)
    w = h.Worker("notify", h.worker_env(c["prefix"], **base), c["tmp"] / ("%s.log" % name))
    c["workers"].append(w)
    return w


def slack_valid(b):
    """Slack's incoming-webhook structure (Block Kit limits); returns every block's text."""
    assert isinstance(b.get("text"), str) and b["text"]
    blocks = b["blocks"]
    assert isinstance(blocks, list) and 1 <= len(blocks) <= 50
    texts = []
    for blk in blocks:
        t = blk["type"]
        if t == "header":
            assert blk["text"]["type"] == "plain_text" and len(blk["text"]["text"]) <= 150
        elif t == "section":
            assert "text" in blk or "fields" in blk
            if "text" in blk:
                assert blk["text"]["type"] == "mrkdwn" and len(blk["text"]["text"]) <= 3000
                texts.append(blk["text"]["text"])
            for f in blk.get("fields", []):
                assert f["type"] == "mrkdwn" and len(f["text"]) <= 2000
                texts.append(f["text"])
            assert len(blk.get("fields", [])) <= 10
        elif t == "context":
            assert 1 <= len(blk["elements"]) <= 10
        else:
            pytest.fail("unexpected block type %r" % t)
    return "\n".join(texts)


def failure_msg(run_id, cluster, stage="copy", code="AccessDenied"):
    return {"v": 1, "type": "failure", "run_id": run_id, "cluster": cluster, "stage": stage,
            "error_code": code, "error_message": "Access Denied to %s (injected)" % run_id,
            "aws_request_id": "req-" + run_id, "export_task_id": "task-" + run_id,
            "attempt": 1, "failed_at": h.now_rfc3339(),
            "input": {"v": 1, "type": "exported", "run_id": run_id, "cluster": cluster,
                      "snapshot_id": "rds:" + run_id}}


def committed_total(group, topics):
    """Sum over every partition of topics of the group's committed offsets (none = 0)."""
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
                     "group.id": group, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(12)]
        return sum(max(tp.offset, 0) for tp in cons.committed(tps, timeout=10))
    finally:
        cons.close()


def no_secret_in(w):
    text = open(w.log_path, encoding="utf-8", errors="replace").read() + w.stderr()
    assert TOKEN not in text and "SECRET" not in text


def test_every_failure_and_dead_letter_reaches_the_webhook(ctx):
    """A failed export (the stand-in's injected cause), a malformed snapshot message (the
    export worker dead-letters it) and a malformed message on dlq itself: each reaches both a
    Slack-format and a JSON-format receiver, with the ids and the redo command, and the notify
    workers publish nothing (no dead letter of the dlq message goes back into dlq)."""
    p, rx = ctx["prefix"], ctx["rx"]
    bucket = h.create_bucket()
    cl = h.create_cluster()
    cause = "S3 bucket %s is in another region (injected)" % bucket
    h.standin_config(export_seconds=1.0, fail_tasks={cl["run_id"]: cause})
    url_file = ctx["tmp"] / "webhook-url"
    url_file.write_text(rx.url("json") + "\n")
    port = free_port()
    # debug: the webhook URL must not reach even the most verbose log
    ws = notify_worker(ctx, "slack", "notify-slack-" + p, METRICS_ADDR="127.0.0.1:%d" % port,
                       LOG_LEVEL="debug")
    wj = notify_worker(ctx, "json", "notify-json-" + p, fmt="json",
                       NOTIFY_WEBHOOK_URL_FILE=str(url_file))
    ex = h.Worker("export", h.worker_env(p, EXPORT_S3_BUCKET=bucket, EXPORT_IAM_ROLE_ARN=ROLE,
                                         EXPORT_KMS_KEY_ID=KMS, EXPORT_POLL_INTERVAL="500ms",
                                         KAFKA_GROUP_ID="export-" + p),
                  ctx["tmp"] / "export.log")
    ctx["workers"].append(ex)
    for w in (ws, wj, ex):
        w.wait_ready()
    h.produce(p + "snapshots", h.snapshot_message(cl), key=cl["cluster"])
    h.produce(p + "snapshots", "{not json", key="junk")
    h.produce(p + "dlq", b"\xff\xfe not a dead letter", key="junk")

    for name in ("slack", "json"):
        h.wait_for(lambda: len(rx.accepted(name)) >= 3, 120, what="3 alerts at " + name)
    assert all(r["ctype"] == "application/json" for r in rx.seen("json") + rx.seen("slack"))

    js = rx.accepted("json")
    fails = [b for b in js if b["kind"] == "failure"]
    dead = sorted((b for b in js if b["kind"] == "dead_letter"), key=lambda b: b["topic"])
    assert len(fails) == 1 and len(dead) == 2, js
    f = fails[0]
    assert f["cluster"] == cl["cluster"] and f["stage"] == "export"
    assert f["run_id"] == cl["run_id"] and f["error_code"] == "ExportFailed"
    assert cause in f["error_message"] and f["export_task_id"] == cl["run_id"]
    assert f["snapshot_id"] == cl["snapshot_id"] and f["attempt"] == 1 and f["failed_at"]
    assert f["redo"] == "snaplakectl redo %s --stage export" % cl["run_id"]
    assert f["record"]["topic"] == p + "failures"
    bad_dlq, from_snap = dead  # "<p>dlq" sorts before "<p>snapshots"
    assert from_snap["topic"] == p + "snapshots" and from_snap["offset"] >= 0
    assert "undecodable" in from_snap["reason"] and "{not json" in from_snap["payload"]
    assert from_snap["record"]["topic"] == p + "dlq"
    assert bad_dlq["topic"] == p + "dlq" and bad_dlq["partition"] >= 0
    assert bad_dlq["reason"].startswith("bad message on the dead-letter topic: undecodable")
    assert "not a dead letter" in bad_dlq["payload"]

    sl = rx.accepted("slack")
    texts = [(b["text"], slack_valid(b)) for b in sl]
    ftext = [t for t in texts if "export failed for " + cl["cluster"] in t[0]]
    assert len(ftext) == 1, [t[0] for t in texts]
    line, blocks = ftext[0]
    redo = "snaplakectl redo %s --stage export" % cl["run_id"]
    assert "ExportFailed" in line and redo in line
    assert "```%s```" % redo in blocks and "`%s`" % cl["run_id"] in blocks
    assert "`%s`" % cl["snapshot_id"] in blocks
    assert sum("dead letter from %ssnapshots" % p in t[0] for t in texts) == 1
    assert sum("dead letter from %sdlq" % p in t[0] for t in texts) == 1

    # Nothing published by the notify workers: dlq holds the two inputs, failures the one.
    with h.KafkaReader(p + "dlq") as r:
        assert len(r.read(3, 5)) == 2
    with h.KafkaReader(p + "failures") as r:
        assert len(r.read(2, 3)) == 1
    m = scrape(port)
    assert sample(m, "snaplake_alerts_posted_total", kind="failure") == 1
    assert sample(m, "snaplake_alerts_posted_total", kind="dead_letter") == 2
    for w in (ws, wj):
        assert any(r.get("event") == "alert_posted" and r.get("webhook_host") == "127.0.0.1"
                   for r in w.logs())
        assert w.stop() == 0
        no_secret_in(w)
    # The ledger has no row of a notify stage: the run's rows are the stages'.
    assert h.ledger_stage([cl["run_id"]], "notify") == {}


def test_receiver_down_then_recovers_no_alert_lost_across_restart(ctx):
    """The receiver answers 500: every alert is tried and retried, no offset is committed; the
    worker is restarted while it still fails; then it answers 429 with Retry-After: 2 once and
    recovers: every alert arrives, and only then are the offsets committed."""
    p, rx = ctx["prefix"], ctx["rx"]
    group = "notify-" + p
    runs = ["r%d-%s" % (i, h.uid(6)) for i in range(3)]
    for r in runs:
        h.produce(p + "failures", failure_msg(r, "orders"), key="orders")
    h.produce(p + "dlq", {"v": 1, "type": "dead_letter", "reason": "not matching: injected",
                          "topic": p + "snapshots", "partition": 4, "offset": 9,
                          "payload": "{\"x\":1}"}, key="orders")
    state = {"mode": "down", "n429": 0}

    def answer(path, body):
        if state["mode"] == "down":
            return 500, {}
        if state["n429"] == 0:
            state["n429"] += 1
            return 429, {"Retry-After": "2"}
        return 200, {}
    rx.answer = answer

    w1 = notify_worker(ctx, "a", group, fmt="json")
    w1.wait_ready()

    def tried_all():
        keys = {b.get("run_id") or b.get("reason") for b in
                (r["body"] for r in rx.seen("a"))}
        return set(runs) | {"not matching: injected"} <= keys and len(rx.seen("a")) >= 8
    h.wait_for(tried_all, 60, what="every alert tried, and some retried")
    assert rx.accepted("a") == []
    w1.wait_log(lambda r: r.get("event") == "alert_retry" and r.get("http_status") == "500", 30)
    assert committed_total(group, [p + "failures", p + "dlq"]) == 0
    assert w1.stop() == 0  # restart while the receiver still fails
    assert committed_total(group, [p + "failures", p + "dlq"]) == 0

    state["mode"] = "up"
    w2 = notify_worker(ctx, "a", group, fmt="json")
    w2.wait_ready()
    h.wait_for(lambda: len(rx.accepted("a")) >= 4, 90, what="every alert accepted")
    got = rx.accepted("a")
    assert sorted(b["run_id"] for b in got if b["kind"] == "failure") == sorted(runs)
    dl = [b for b in got if b["kind"] == "dead_letter"]
    assert len(dl) == 1 and dl[0]["reason"] == "not matching: injected"
    assert dl[0]["topic"] == p + "snapshots" and dl[0]["partition"] == 4 and dl[0]["offset"] == 9
    for b in got:
        if b["kind"] == "failure":
            assert b["aws_request_id"] == "req-" + b["run_id"]
            assert b["export_task_id"] == "task-" + b["run_id"]
            assert b["redo"] == "snaplakectl redo %s --stage copy" % b["run_id"]
    # The 429's Retry-After: 2 was honoured (the wait the worker chose, from its log).
    r429 = w2.wait_log(lambda r: r.get("event") == "alert_retry"
                       and r.get("http_status") == "429", 30)
    assert int(r429["msg"].split("retrying in ")[1].split()[0]) >= 2000
    h.wait_for(lambda: committed_total(group, [p + "failures", p + "dlq"]) == 4, 60,
               what="offsets committed after the 2xx")
    assert w2.stop() == 0
    no_secret_in(w1)
    no_secret_in(w2)


def test_refused_alert_is_logged_counted_and_skipped_revoked_webhook_waits(ctx):
    """A 404 (the webhook is gone) is retried, never skipped; a 400 for one alert (the body is
    refused) is logged at error with the alert, counted, and skipped so the next alert still
    goes; both offsets end committed."""
    p, rx = ctx["prefix"], ctx["rx"]
    group = "notify-" + p
    bad, good = "bad-" + h.uid(6), "good-" + h.uid(6)
    state = {"n404": 0}

    def answer(path, body):
        if state["n404"] < 2:
            state["n404"] += 1
            return 404, {}
        return (400, {}) if body.get("run_id") == bad else (200, {})
    rx.answer = answer
    port = free_port()
    w = notify_worker(ctx, "b", group, fmt="json", METRICS_ADDR="127.0.0.1:%d" % port)
    w.wait_ready()
    h.produce(p + "failures", failure_msg(bad, "orders"), key="orders")
    h.produce(p + "failures", failure_msg(good, "orders"), key="orders")
    h.wait_for(lambda: [b["run_id"] for b in rx.accepted("b")] == [good], 60,
               what="the good alert accepted")
    w.wait_log(lambda r: r.get("event") == "alert_retry" and r.get("http_status") == "404"
               and r.get("level") == "error", 30)
    refused = w.wait_log(lambda r: r.get("event") == "alert_refused", 30)
    assert refused["level"] == "error" and refused["http_status"] == "400"
    assert bad in refused["msg"] and refused["answer"] == "invalid_payload"
    m = scrape(port)
    assert sample(m, "snaplake_alerts_failed_total", kind="failure") == 1
    assert sample(m, "snaplake_alerts_posted_total", kind="failure") == 1
    assert sample(m, "snaplake_alert_retries_total", cause="webhook_refused") == 2
    h.wait_for(lambda: committed_total(group, [p + "failures"]) == 2, 60,
               what="both offsets committed")
    with h.KafkaReader(p + "failures") as r:
        assert len(r.read(3, 3)) == 2  # the refused alert made no failure message
    assert w.stop() == 0
    no_secret_in(w)


def test_bad_webhook_settings_are_refused_at_start(ctx):
    """A bad NOTIFY_FORMAT is a configuration error (exit 2); a URL that is not a URL stops the
    worker without echoing it; no URL at all says which variables to set."""
    import subprocess
    env = h.worker_env(ctx["prefix"], NOTIFY_FORMAT="teams", NOTIFY_WEBHOOK_URL="http://x/y")
    r = subprocess.run([h.worker_binary(), "notify"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 2 and b"NOTIFY_FORMAT" in r.stderr
    env = h.worker_env(ctx["prefix"], NOTIFY_WEBHOOK_URL="not a url " + TOKEN)
    r = subprocess.run([h.worker_binary(), "notify"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and b"not a URL" in r.stderr
    assert TOKEN.encode() not in r.stderr + r.stdout
    env = h.worker_env(ctx["prefix"])
    env.pop("NOTIFY_WEBHOOK_URL", None)
    r = subprocess.run([h.worker_binary(), "notify"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 1 and b"NOTIFY_WEBHOOK_URL_FILE" in r.stderr


def test_tls_is_verified_and_ca_bundle_trusts_the_receiver(ctx):
    """An https receiver with a self-signed certificate: without NOTIFY_CA_BUNDLE the handshake
    is refused (no request reaches it, the alert is retried as a network error and not
    committed); with NOTIFY_CA_BUNDLE naming the certificate the same alert is delivered."""
    from test_tls import make_cert
    p = ctx["prefix"]
    crt, key = make_cert(str(ctx["tmp"]), "hook", "IP:127.0.0.1")
    rx = Receiver(tls=(crt, key))
    ctx["rx"].close()
    ctx["rx"] = rx  # closed by the fixture
    group = "notify-" + p
    run = "tls-" + h.uid(6)
    h.produce(p + "failures", failure_msg(run, "orders"), key="orders")
    w1 = notify_worker(ctx, "t", group, fmt="json")
    w1.wait_ready()
    r = w1.wait_log(lambda r: r.get("event") == "alert_retry", 60, "a refused handshake")
    assert "certificate" in r["msg"].lower() or "ssl" in r["msg"].lower(), r["msg"]
    assert rx.seen("t") == [] and committed_total(group, [p + "failures"]) == 0
    assert w1.stop() == 0
    w2 = notify_worker(ctx, "t", group, fmt="json", NOTIFY_CA_BUNDLE=crt)
    w2.wait_ready()
    h.wait_for(lambda: [b["run_id"] for b in rx.accepted("t")] == [run], 60,
               what="the alert over verified TLS")
    assert w2.stop() == 0
    no_secret_in(w1)
    no_secret_in(w2)


def test_slack_blocks_refused_then_text_line_alone_is_posted(ctx):
    """A receiver that refuses Block Kit (400 invalid_blocks, as Slack answers a bad block)
    still gets the alert: the notify worker posts its text line alone, once."""
    p, rx = ctx["prefix"], ctx["rx"]
    run = "blocks-" + h.uid(6)
    rx.answer = lambda path, body: (400, {}) if "blocks" in body else (200, {})
    port = free_port()
    w = notify_worker(ctx, "s", "notify-" + p, METRICS_ADDR="127.0.0.1:%d" % port)
    w.wait_ready()
    h.produce(p + "failures", failure_msg(run, "orders"), key="orders")
    h.wait_for(lambda: rx.accepted("s"), 60, what="the text-only alert")
    got = rx.accepted("s")
    assert len(got) == 1 and list(got[0]) == ["text"]
    assert "snaplakectl redo %s --stage copy" % run in got[0]["text"]
    assert "AccessDenied" in got[0]["text"]
    assert len(rx.seen("s")) == 2  # the full body once, then the text line once
    w.wait_log(lambda r: r.get("event") == "alert_fallback" and r.get("http_status") == "400",
               30)
    m = scrape(port)
    assert sample(m, "snaplake_alerts_posted_total", kind="failure") == 1
    assert sample(m, "snaplake_alerts_failed_total", kind="failure") == 0
    assert w.stop() == 0
    no_secret_in(w)
