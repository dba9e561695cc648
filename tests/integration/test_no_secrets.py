"""Secrets never reach a log line (the quality bar; STYLE.md "Memory and ownership").

Runs a short pipeline on the local stack at LOG_LEVEL=debug, with every kind of secret the
binaries can hold set to a value this test knows, and then searches everything they wrote
(stdout and stderr of snaplake-producer, the three workers and snaplakectl) for them:

  - temporary AWS credentials from STS AssumeRole against moto (a role of the test's own,
    allowed everything), so the workers sign with AWS_SESSION_TOKEN set and moto verifies
    those signatures: the secret access key and the session token must not appear;
  - a DATABASE_URL carrying a password (the stack's PostgreSQL trusts loopback, so the
    password is carried but not needed) and, separately, malformed URLs whose parse error
    libpq reports by quoting the text (common/pg.c redacts the password);
  - KAFKA_SASL_PASSWORD (mapped onto librdkafka's sasl.password, unused over PLAINTEXT);
  - the signing material itself: "Signature=", "Authorization", "X-Amz-Signature",
    "AWS4-HMAC-SHA256 Credential", "X-Amz-Security-Token" never appear either.

The access key id is not a secret; the test records whether it appears but does not fail on
it. It also asserts that the workers did their work with these credentials (a run exported,
copied and crawled, the ledger says so), so a pipeline that logged nothing because nothing
happened cannot pass.

    .venv/bin/pytest -q tests/integration/test_no_secrets.py
"""

import hashlib
import json
import os
import subprocess
import sys
import xml.sax.saxutils

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROLE_EXPORT = "arn:aws:iam::%s:role/rds-s3-export" % h.ACCOUNT
KMS = "arn:aws:kms:us-east-1:%s:key/snaplake-test" % h.ACCOUNT
DB_PASSWORD = "pgPw-%s" % h.uid(16)
SASL_PASSWORD = "saslPw-%s" % h.uid(16)
MARKERS = ("Signature=", "Authorization", "authorization:", "X-Amz-Signature",
           "AWS4-HMAC-SHA256 Credential", "X-Amz-Security-Token", "x-amz-security-token")


def binary(name):
    env = {"snaplake-producer": "SNAPLAKE_PRODUCER_BIN",
           "snaplakectl": "SNAPLAKECTL_BIN"}.get(name)
    if env and os.environ.get(env):
        return os.environ[env]
    for p in ("build/asan/bin/" + name, "build/bin/" + name):
        full = os.path.join(h.ROOT, p)
        if os.path.exists(full):
            return full
    pytest.skip("%s is not built (make)" % name)


def temp_credentials():
    """AssumeRole in moto for a role of this test's own; returns the Credentials dict."""
    iam = h.aws("iam", standin=False)
    sts = h.aws("sts", standin=False)
    role = "sl-nosecrets-%s" % h.uid(10)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                       "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=role, PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    c = sts.assume_role(RoleArn="arn:aws:iam::%s:role/%s" % (h.ACCOUNT, role),
                        RoleSessionName="snaplake-nosecrets")["Credentials"]
    assert c["SessionToken"] and c["SecretAccessKey"] != os.environ["AWS_SECRET_ACCESS_KEY"]
    return c


event = h.snapshot_event


def find_leaks(text, secrets):
    """[(what, excerpt)] for each secret value or marker found in text."""
    hits = []
    for what, s in list(secrets.items()) + [(m, m) for m in MARKERS]:
        i = text.find(s)
        if s and i >= 0:
            hits.append((what, text[max(0, i - 120):i + 40]))
    return hits


def test_no_secret_in_any_output_of_a_debug_pipeline(standin, tmp_path):
    creds = temp_credentials()
    secrets = {"secret access key": creds["SecretAccessKey"],
               "session token": creds["SessionToken"],
               "stack secret access key": os.environ["AWS_SECRET_ACCESS_KEY"],
               "database password": DB_PASSWORD, "sasl password": SASL_PASSWORD}

    # The world: buckets, a Glue database and crawler, one cluster with a small export.
    export_bucket = h.create_bucket()
    lake_bucket = h.create_bucket()
    glue = h.aws("glue")
    db = "sl_nosecrets_%s" % h.uid()
    glue.create_database(DatabaseInput={"Name": db})
    c = h.create_cluster()
    glue.create_crawler(Name="snaplake-%s" % c["cluster"], DatabaseName=db,
                        Role="arn:aws:iam::%s:role/glue" % h.ACCOUNT,
                        Targets={"S3Targets": [{"Path": "s3://%s/lake/%s/"
                                                % (lake_bucket, c["cluster"])}]})
    h.standin_config(export_seconds=1, crawler_seconds=1, layouts={c["cluster"]: {
        "convention": "current",
        "databases": {"app": {"public.users": {"files": 3, "partitions": 2}}}}})
    prefix = h.topic_prefix("nosecrets")
    h.create_topics(prefix, partitions=3)

    pg = "postgresql://%s:%s@%s:%s/%s" % (os.environ["PGUSER"], DB_PASSWORD,
                                           os.environ["PGHOST"], os.environ["PGPORT"],
                                           os.environ["PGDATABASE"])
    common = dict(LOG_LEVEL="debug", AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
                  AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                  AWS_SESSION_TOKEN=creds["SessionToken"], DATABASE_URL=pg,
                  KAFKA_SASL_PASSWORD=SASL_PASSWORD, STAGE_RETRY_BASE="200ms",
                  STAGE_RETRY_MAX="2s", EXPORT_S3_BUCKET=export_bucket,
                  EXPORT_S3_PREFIX="s3-export", EXPORT_IAM_ROLE_ARN=ROLE_EXPORT,
                  EXPORT_KMS_KEY_ID=KMS, EXPORT_POLL_INTERVAL="300ms",
                  EXPORT_SLOT_RETRY="300ms", LAKE_BUCKET=lake_bucket, LAKE_PREFIX="lake",
                  AWS_S3_FORCE_PATH_STYLE="true", CRAWLER_NAME="snaplake-{cluster}",
                  CRAWL_POLL_INTERVAL="300ms", CRAWL_CLOCK_SKEW="200ms",
                  KAFKA_SESSION_TIMEOUT_MS="6000", KAFKA_HEARTBEAT_INTERVAL_MS="1000")
    outputs = {}

    # Producer, event mode: the event and a malformed line (a dead letter).
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(event(c)) + "\n" + '{"source": "aws.rds", "detail"\n')
    penv = h.worker_env(prefix, EVENTS_FILE=str(events), PRODUCER_RETRY_BASE="100ms",
                        **common)
    for k in ("CLUSTERS", "PRODUCER_MODE"):
        penv.pop(k, None)
    r = subprocess.run([binary("snaplake-producer"), "event"], env=penv, capture_output=True,
                       timeout=120, cwd=h.ROOT)
    outputs["producer"] = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 0, outputs["producer"][-3000:]
    assert '"published":"1"' in outputs["producer"] or '"published":1' in outputs["producer"], \
        outputs["producer"][-3000:]

    workers = {}
    try:
        for stage in ("export", "copy", "crawl"):
            env = h.worker_env(prefix, KAFKA_GROUP_ID="g-%s%s" % (prefix, stage), **common)
            workers[stage] = h.Worker(stage, env, tmp_path / ("%s.log" % stage))
        for w in workers.values():
            w.wait_ready(90)

        def crawled():
            row = h.ledger_stage([c["run_id"]], "crawl").get(c["run_id"])
            return row if row and row["status"] in ("succeeded", "failed") else None
        row = h.wait_for(crawled, 180, interval=0.5, what="the run to be crawled")
        assert row["status"] == "succeeded", row
        for stage in ("export", "copy"):
            st = h.ledger_stage([c["run_id"]], stage)[c["run_id"]]["status"]
            assert st == "succeeded", (stage, st)
    finally:
        codes = {s: w.stop(60) for s, w in workers.items()}
    for stage, w in workers.items():
        with open(w.log_path, "rb") as f:
            outputs[stage] = f.read().decode("utf-8", "replace") + w.stderr()
        debug = [line for line in outputs[stage].splitlines() if '"level":"debug"' in line]
        assert debug, "%s wrote no debug line: LOG_LEVEL=debug was not in force" % stage
    assert codes == {"export": 0, "copy": 0, "crawl": 0}, codes

    # The operators' CLI with the same credentials.
    ctl_env = h.worker_env(prefix, **common)
    r = subprocess.run([binary("snaplakectl"), "runs", c["run_id"]], env=ctl_env,
                       capture_output=True, timeout=60)
    outputs["ctl runs"] = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 0 and "crawl  succeeded" in outputs["ctl runs"], outputs["ctl runs"]
    r = subprocess.run([binary("snaplakectl"), "lake"], env=ctl_env, capture_output=True,
                       timeout=60)
    outputs["ctl lake"] = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 0 and "6 objects" in outputs["ctl lake"], outputs["ctl lake"]

    hits = {name: find_leaks(text, secrets) for name, text in outputs.items()}
    hits = {k: v for k, v in hits.items() if v}
    assert not hits, "secrets in output: %r" % hits
    # Not a secret, only reported: where the access key id shows up.
    seen = [n for n, t in outputs.items() if creds["AccessKeyId"] in t]
    print("access key id appears in: %s" % (seen or "nothing"))


@pytest.mark.parametrize("url", [
    "postgresql://u:%s%%zz@127.0.0.1:1/db",          # invalid percent-encoded token
    "postgresql://u:%s@[::1/db",                      # unterminated IPv6: the whole URL
    "postgresql://u@127.0.0.1:1/db?password=%s&nope=1",  # unknown query parameter
    "host=127.0.0.1 port=1 password='%s' dbname",    # conninfo without '='
    "host=127.0.0.1 port=1 password=zq %s y",        # a blank in an unquoted password
    "host=127.0.0.1 port=1 password='zq'z %s' y",   # a quote inside quotes
])
def test_database_url_password_not_in_connect_error(url):
    h.require_stack()
    env = dict(os.environ, DATABASE_URL=url % DB_PASSWORD, LOG_LEVEL="debug")
    r = subprocess.run([binary("snaplakectl"), "runs"], env=env, capture_output=True,
                       timeout=60)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode != 0 and "pg connect:" in out, out
    assert DB_PASSWORD not in out, out


class EchoingAws:
    """An AWS endpoint that fails every call the way RDS, STS and Glue fail a bad signature:
    403 SignatureDoesNotMatch whose message quotes the canonical request it computed, built
    from the headers it received, session token included, and the string to sign (the shape
    of AWS's answers; moto's own SignatureDoesNotMatch message does not quote them)."""

    def __init__(self):
        import http.server
        import threading
        self.tokens = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                token = self.headers.get("X-Amz-Security-Token", "")
                outer.tokens.append(token)
                names = sorted(k.lower() for k in self.headers.keys()
                               if k.lower() in ("content-type", "host", "x-amz-date",
                                                "x-amz-security-token"))
                canon = "POST\n/\n\n%s\n\n%s\n%s" % (
                    "\n".join("%s:%s" % (k, self.headers[k]) for k in names),
                    ";".join(names), hashlib.sha256(body).hexdigest())
                msg = ("The request signature we calculated does not match the signature you "
                       "provided. Check your AWS Secret Access Key and signing method. Consult "
                       "the service documentation for details.\n\nThe Canonical String for "
                       "this request should have been\n'%s'\n\nThe String-to-Sign should have "
                       "been\n'AWS4-HMAC-SHA256\n%s\n%s/us-east-1/rds/aws4_request\n%s'\n"
                       % (canon, self.headers.get("X-Amz-Date", ""),
                          self.headers.get("X-Amz-Date", "")[:8],
                          hashlib.sha256(canon.encode()).hexdigest()))
                out = ("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\n"
                       "  <Error>\n    <Type>Sender</Type>\n    <Code>SignatureDoesNotMatch"
                       "</Code>\n    <Message>%s</Message>\n  </Error>\n  <RequestId>%s"
                       "</RequestId>\n</ErrorResponse>\n"
                       % (xml.sax.saxutils.escape(msg), h.uid(16))).encode()
                self.send_response(403)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_session_token_echoed_by_a_signature_failure_reaches_no_sink(tmp_path):
    """AWS answers a bad signature by quoting the canonical request, x-amz-security-token
    included. The export worker turns that answer into a permanent failure: the warn/error log
    lines, the failures topic, the ledger (stage row and history) and `snaplakectl runs` all
    carry the message, and none of them may carry the token, the signature or the string to
    sign."""
    h.require_stack()
    token = "FQoGZXIvYXdzEchoed%s/+=" % h.uid(24)
    cluster = "sl-echo-%s" % h.uid(8)
    run_id = "%s-2024-01-01-00-00" % cluster
    c = {"cluster": cluster, "run_id": run_id, "snapshot_id": "rds:" + run_id,
         "snapshot_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:rds:%s" % (h.ACCOUNT, run_id),
         "date": "2024-01-01"}
    prefix = h.topic_prefix("echoed-token")
    h.create_topics(prefix, partitions=3)
    fake = EchoingAws()
    outputs = {}
    try:
        env = h.worker_env(prefix, AWS_ENDPOINT_URL_RDS=fake.url, AWS_SESSION_TOKEN=token,
                           LOG_LEVEL="debug", KAFKA_GROUP_ID="g-" + prefix,
                           EXPORT_S3_BUCKET="sl-echo-bucket", EXPORT_IAM_ROLE_ARN=ROLE_EXPORT,
                           EXPORT_KMS_KEY_ID=KMS, STAGE_RETRY_BASE="100ms",
                           STAGE_RETRY_MAX="200ms", KAFKA_SESSION_TIMEOUT_MS="6000",
                           KAFKA_HEARTBEAT_INTERVAL_MS="1000", TOPIC_PARTITIONS="3")
        w = h.Worker("export", env, tmp_path / "export.log")
        try:
            w.wait_ready(90)
            h.produce(prefix + "snapshots", h.snapshot_message(c), key=cluster)
            with h.KafkaReader(prefix + "failures") as r:
                recs = r.read(1, 90)
            assert len(recs) == 1, "no failure published"
            outputs["failures topic"] = json.dumps(recs[0].value)

            def failed():
                row = h.ledger_stage([run_id], "export").get(run_id)
                return row if row and row["status"] == "failed" else None
            row = h.wait_for(failed, 60, what="the export to fail in the ledger")
        finally:
            code = w.stop(60)
        with open(w.log_path, "rb") as f:
            outputs["worker"] = f.read().decode("utf-8", "replace") + w.stderr()
        assert code == 0, outputs["worker"][-3000:]
    finally:
        fake.close()
    assert token in fake.tokens, "the worker did not send the session token: %r" % fake.tokens
    outputs["ledger stage row"] = json.dumps(row)
    outputs["ledger history"] = json.dumps(h.psql_json(
        "SELECT * FROM snaplake_stage_events WHERE run_id = :'p1'", run_id))
    r = subprocess.run([binary("snaplakectl"), "runs", run_id], env=env, capture_output=True,
                       timeout=60)
    outputs["ctl runs"] = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 0 and "export" in outputs["ctl runs"], outputs["ctl runs"]

    leaks = {}
    for name, text in outputs.items():
        for what in (token, token[:20], "AWS4-HMAC-SHA256\n", "AWS4-HMAC-SHA256\\n",
                     "x-amz-security-token:"):
            if what in text:
                i = text.find(what)
                leaks.setdefault(name, []).append(text[max(0, i - 200):i + 60])
    assert not leaks, "the echoed canonical request reached: %r" % leaks
    # The failure is AWS's, and its message got through with the echo cut out of it.
    assert row["error_code"] == "SignatureDoesNotMatch", row
    assert "should have been [redacted]" in row["error_message"], row
    assert "[redacted]" in outputs["failures topic"], outputs["failures topic"]
