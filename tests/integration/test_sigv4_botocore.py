"""Differential test: common/sigv4.c against botocore, request by request.

For a table of S3 and non-S3 requests signed at one fixed time, the canonical request, string
to sign and signature that tests/sigv4-suite --sign-json produces (our C signer) must equal what
botocore's SigV4Auth / S3SigV4Auth (header form) and SigV4QueryAuth / S3SigV4QueryAuth (query
form) produce for the same request. Time is frozen the way botocore's own tests do it (patching
the clock botocore.auth reads).

Paths: S3 object keys are given raw; botocore gets them encoded the way its serializer does
(quote(key, safe='/~')) and our binary gets the raw key and encodes it with
sl_sigv4_uri_encode, so the encoders are compared too. Query parameters given as `params` go the
same way (botocore's request.params vs our encoder); `query` is an already-encoded wire query
handed to both unchanged.
"""

import calendar
import datetime
import json
import os
import subprocess
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlsplit

import pytest

botocore = pytest.importorskip("botocore")
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "sigv4-suite"

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+ex/ample+token=="
DATE = datetime.datetime(2024, 3, 5, 7, 8, 9)
EPOCH = calendar.timegm(DATE.timetuple())
REGION = "us-east-1"
S3_HOST = "snaplake-share.s3.us-east-1.amazonaws.com"

FORM = "application/x-www-form-urlencoded; charset=utf-8"

CASES = [
    # --- S3, header form ----------------------------------------------------------------------
    dict(name="s3-get-plain", s3=True, method="GET", key="exports/run-1/manifest.json"),
    dict(name="s3-get-space-plus-percent", s3=True, method="GET",
         key="exports/a b+c%d=e~f.parquet"),
    dict(name="s3-get-unicode-key", s3=True, method="GET",
         key="données/日本語/ünïcødé €.csv"),
    dict(name="s3-get-date-partition", s3=True, method="GET",
         key="db/table/date=2024-01-01/part-00000.parquet"),
    dict(name="s3-get-dots-not-normalised", s3=True, method="GET",
         key="odd/./key/../with//double"),
    dict(name="s3-head-token", s3=True, method="HEAD", key="db/t/date=2024-01-01/_SUCCESS",
         token=TOKEN),
    dict(name="s3-put-body", s3=True, method="PUT", key="db/t/date=2024-01-01/part 1.json",
         body='{"rows": 3, "name": "café"}',
         headers=[("Content-Type", "application/json")]),
    dict(name="s3-put-unsigned-payload", s3=True, method="PUT", key="big/object+1.bin",
         body="x" * 100, unsigned=True, token=TOKEN),
    # The caller's own x-amz-content-sha256 header is the payload hash (botocore replaces it
    # with UNSIGNED-PAYLOAD when payload signing is off, the same value).
    dict(name="s3-put-caller-unsigned-header", s3=True, method="PUT", key="big/stream 2.bin",
         body="y" * 50, unsigned=True, caller_header=True, token=TOKEN,
         headers=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")]),
    dict(name="s3-copy", s3=True, method="PUT", key="dst/date=2024-01-01/a b.parquet",
         headers=[("x-amz-copy-source", "src-bucket/exports/a%20b%2Bc.parquet"),
                  ("x-amz-metadata-directive", "COPY")]),
    dict(name="s3-list-params-unicode", s3=True, method="GET", key="",
         params=[("list-type", "2"), ("prefix", "données/2024 Q1/"), ("delimiter", "/"),
                 ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
                 ("max-keys", "1000")]),
    dict(name="s3-list-encoded-query", s3=True, method="GET", key="",
         query="list-type=2&prefix=caf%C3%A9%2F&start-after=a%2Bb%3Dc%20d"),
    dict(name="s3-multipart-empty-value", s3=True, method="POST", key="big/obj ect",
         query="uploads"),
    dict(name="s3-upload-part-token", s3=True, method="PUT", key="big/obj ect",
         query="partNumber=7&uploadId=VXBsb2FkIElE%2Bw%3D%3D", body="part-data",
         token=TOKEN),
    # --- S3, query form (presigned URLs) ----------------------------------------------------
    dict(name="s3-presign-get", s3=True, presign=True, method="GET",
         key="exports/a b+c=d~e/ünï.parquet", expires=3600),
    dict(name="s3-presign-get-token-params", s3=True, presign=True, method="GET",
         key="db/date=2024-01-01/x.json", expires=900, token=TOKEN,
         params=[("response-content-disposition", 'attachment; filename="x y.json"')]),
    # --- non-S3, header form ----------------------------------------------------------------
    dict(name="rds-start-export-task", service="rds", method="POST",
         host="rds.us-east-1.amazonaws.com", path="/",
         headers=[("Content-Type", FORM)],
         body="Action=StartExportTask&Version=2014-10-31"
              "&ExportTaskIdentifier=snaplake-orders-20240305"
              "&SourceArn=arn%3Aaws%3Ards%3Aus-east-1%3A123456789012%3Acluster-snapshot%3As1"
              "&S3BucketName=snaplake-share&IamRoleArn=arn%3Aaws%3Aiam%3A%3A123456789012"
              "%3Arole%2Fexport&KmsKeyId=alias%2Fsnaplake"),
    dict(name="rds-describe-token", service="rds", method="POST",
         host="rds.us-east-1.amazonaws.com", path="/", token=TOKEN,
         headers=[("Content-Type", FORM)],
         body="Action=DescribeExportTasks&Version=2014-10-31&ExportTaskIdentifier=a"),
    dict(name="sts-assume-role", service="sts", method="POST",
         host="sts.us-east-1.amazonaws.com", path="/",
         headers=[("Content-Type", FORM)],
         body="Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321"
              "%3Arole%2Fsnaplake&RoleSessionName=snaplake-share&ExternalId=ext%2Bid%3D1"),
    dict(name="sts-get-query", service="sts", method="GET",
         host="sts.us-east-1.amazonaws.com", path="/",
         params=[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
    dict(name="glue-json-target", service="glue", method="POST",
         host="glue.us-east-1.amazonaws.com", path="/",
         headers=[("Content-Type", "application/x-amz-json-1.1"),
                  ("X-Amz-Target", "AWSGlue.StartCrawler")],
         body='{"Name": "snaplake-orders-crawler", "Note": "données"}'),
    dict(name="glue-json-token-spaces", service="glue", method="POST",
         host="glue.us-east-1.amazonaws.com", path="/", token=TOKEN,
         headers=[("Content-Type", "application/x-amz-json-1.1"),
                  ("X-Amz-Target", "AWSGlue.GetTable"),
                  ("X-Custom-Spaces", "  a   b \t c  ")],
         body='{"DatabaseName": "db", "Name": "t"}'),
    # Non-S3: botocore's canonical_request takes the header's value over the body's hash.
    dict(name="glue-caller-unsigned-header", service="glue", method="POST",
         host="glue.us-east-1.amazonaws.com", path="/",
         headers=[("Content-Type", "application/x-amz-json-1.1"),
                  ("X-Amz-Target", "AWSGlue.GetCrawler"),
                  ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")],
         body='{"Name": "c"}'),
    dict(name="lakeformation-rest-path", service="lakeformation", method="POST",
         host="lakeformation.us-east-1.amazonaws.com", path="/GrantPermissions",
         headers=[("Content-Type", "application/json")], body='{"Permissions": ["SELECT"]}'),
    dict(name="nons3-double-slash-dotdot", service="glue", method="GET",
         host="glue.us-east-1.amazonaws.com", path="/a//b/../c/./d/"),
    dict(name="nons3-encoded-path-double-encoded", service="lakeformation", method="GET",
         host="lakeformation.us-east-1.amazonaws.com", path="/foo%20bar/%E2%82%AC/x~y"),
    dict(name="nons3-dotdot-past-root", service="glue", method="GET",
         host="glue.us-east-1.amazonaws.com", path="/../../x/.."),
    # --- non-S3, query form ------------------------------------------------------------------
    dict(name="rds-db-auth-token", service="rds-db", presign=True, method="GET",
         host="orders.cluster-abc.us-east-1.rds.amazonaws.com:5432", path="/", expires=900,
         params=[("Action", "connect"), ("DBUser", "snaplake_reader")]),
    dict(name="rds-db-auth-token-session", service="rds-db", presign=True, method="GET",
         host="orders.cluster-abc.us-east-1.rds.amazonaws.com:5432", path="/", expires=900,
         token=TOKEN, params=[("Action", "connect"), ("DBUser", "snaplake reader+1")]),
]


def _encoded_path(case):
    if case.get("s3"):
        return "/" + quote(case["key"], safe="/~")
    return case["path"]


def _host(case):
    return case.get("host", S3_HOST)


def _service(case):
    return "s3" if case.get("s3") else case["service"]


def botocore_sign(case):
    """Signs with botocore; returns what it computed, captured on the way."""
    creds = Credentials(ACCESS_KEY, SECRET_KEY, case.get("token"))
    s3 = case.get("s3", False)
    if case.get("presign"):
        cls = botocore.auth.S3SigV4QueryAuth if s3 else botocore.auth.SigV4QueryAuth
        auth = cls(creds, _service(case), REGION, expires=case["expires"])
    else:
        cls = botocore.auth.S3SigV4Auth if s3 else botocore.auth.SigV4Auth
        auth = cls(creds, _service(case), REGION)

    url = "https://%s%s" % (_host(case), _encoded_path(case))
    if case.get("query"):
        url += "?" + case["query"]
    request = AWSRequest(method=case["method"], url=url, data=case.get("body"))
    for name, value in case.get("headers", []):
        request.headers[name] = value
    if case.get("params"):
        request.params = list(case["params"])
    if case.get("unsigned"):
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})

    captured = {}
    orig_cr, orig_sts, orig_sig = auth.canonical_request, auth.string_to_sign, auth.signature

    def canonical_request(req):
        captured["canonical_request"] = orig_cr(req)
        return captured["canonical_request"]

    def string_to_sign(req, cr):
        captured["string_to_sign"] = orig_sts(req, cr)
        return captured["string_to_sign"]

    def signature(sts, req):
        captured["signature"] = orig_sig(sts, req)
        return captured["signature"]

    auth.canonical_request = canonical_request
    auth.string_to_sign = string_to_sign
    auth.signature = signature

    if hasattr(botocore.auth, "get_current_datetime"):
        clock = mock.patch.object(botocore.auth, "get_current_datetime", return_value=DATE)
    else:  # older botocore read datetime.datetime.utcnow()
        fake = mock.Mock(wraps=datetime.datetime)
        fake.utcnow.return_value = DATE
        clock = mock.patch.object(botocore.auth.datetime, "datetime", fake)
    with clock:
        auth.add_auth(request)

    captured["authorization"] = request.headers.get("Authorization")
    captured["url_query"] = urlsplit(request.url).query if case.get("presign") else None
    return captured


def our_sign(case):
    desc = {
        "method": case["method"],
        "service": _service(case),
        "region": REGION,
        "s3": bool(case.get("s3")),
        "presign": bool(case.get("presign")),
        "expires": case.get("expires", 3600),
        "time": EPOCH,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "headers": [["Host", _host(case)]] + [list(h) for h in case.get("headers", [])],
    }
    if case.get("s3"):
        desc["raw_path"] = "/" + case["key"]
    else:
        desc["path"] = case["path"]
    if case.get("params"):
        desc["params"] = [list(p) for p in case["params"]]
    elif case.get("query"):
        desc["query"] = case["query"]
    if case.get("body") is not None:
        desc["body"] = case["body"]
    if case.get("token"):
        desc["token"] = case["token"]
    if case.get("unsigned") and not case.get("caller_header"):
        desc["payload_hash"] = "UNSIGNED-PAYLOAD"
    proc = subprocess.run([str(SUITE), "--sign-json"], input=json.dumps(desc).encode(),
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return json.loads(proc.stdout)


def _pairs(query):
    return sorted(p for p in query.split("&") if p)


@pytest.mark.skipif(not SUITE.exists(), reason="tests/sigv4-suite not built (run `make`)")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_signer_matches_botocore(case):
    theirs = botocore_sign(case)
    ours = our_sign(case)

    # Our encoder against botocore's quote(): the wire path must be the same string.
    assert ours["path"] == _encoded_path(case)
    assert ours["canonical_request"] == theirs["canonical_request"]
    assert ours["string_to_sign"] == theirs["string_to_sign"]
    assert ours["signature"] == theirs["signature"]
    assert ours["amz_date"] == DATE.strftime("%Y%m%dT%H%M%SZ")
    if case.get("presign"):
        assert ours["authorization"] is None
        assert _pairs(ours["presigned_query"]) == _pairs(theirs["url_query"])
    else:
        assert ours["authorization"] == theirs["authorization"]
        added = dict((n.lower(), v) for n, v in ours["add_headers"])
        assert added["x-amz-date"] == DATE.strftime("%Y%m%dT%H%M%SZ")
        assert added.get("x-amz-security-token") == case.get("token")
        if case.get("s3"):
            assert added["x-amz-content-sha256"] == theirs["canonical_request"].split("\n")[-1]


def test_table_is_large_enough():
    s3 = [c for c in CASES if c.get("s3")]
    assert len(CASES) >= 15 and len(s3) >= 8 and len(CASES) - len(s3) >= 7
    assert any(c.get("presign") for c in s3) and any(c.get("token") for c in CASES)
