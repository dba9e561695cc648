"""Writes the snaplake SigV4 vectors (aws-c-auth layout, header form only) from botocore.

    .venv/bin/python tests/sigv4-vectors/snaplake/generate.py

Each case is signed by botocore's SigV4Auth / S3SigV4Auth at the suites' time and key, and its
canonical request, string to sign, signature and whole signed request are written beside the
request.txt and context.json that tests/sigv4-suite reads. They cover what the public suites
cannot express: a payload hash the caller gives (x-amz-content-sha256: UNSIGNED-PAYLOAD in the
request, or aws-c-auth's "signed_body_value"), with a session token.
"""

import datetime
import json
import os
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+ex/ample+token=="
DATE = datetime.datetime(2015, 8, 30, 12, 36, 0)

CASES = [
    # S3 PUT whose caller says the payload is not signed (a streamed upload).
    dict(name="s3-put-unsigned-payload-header", service="s3", method="PUT",
         host="snaplake-share.s3.us-east-1.amazonaws.com", path="/big/object-1.bin",
         headers=[("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")], body="hello unsigned",
         token=TOKEN, unsigned=True),
    # A non-S3 service given the same header: botocore signs the header's value.
    dict(name="get-service-unsigned-payload-header", service="service", method="GET",
         host="example.amazonaws.com", path="/",
         headers=[("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")]),
    # aws-c-auth's signed_body_value: the caller gives the hash out of band.
    dict(name="s3-get-signed-body-value", service="s3", method="GET",
         host="snaplake-share.s3.us-east-1.amazonaws.com", path="/exports/manifest.json",
         headers=[], signed_body_value="UNSIGNED-PAYLOAD", unsigned=True, token=TOKEN),
]


def sign(case):
    creds = Credentials(AKID, SECRET, case.get("token"))
    cls = botocore.auth.S3SigV4Auth if case["service"] == "s3" else botocore.auth.SigV4Auth
    auth = cls(creds, case["service"], "us-east-1")
    req = AWSRequest(method=case["method"], url="https://%s%s" % (case["host"], case["path"]),
                     data=case.get("body"))
    for n, v in case["headers"]:
        req.headers[n] = v
    if case.get("unsigned"):
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        req.context["payload_signing_enabled"] = False
    got = {}
    cr, sts, sig = auth.canonical_request, auth.string_to_sign, auth.signature
    auth.canonical_request = lambda r: got.setdefault("creq", cr(r))
    auth.string_to_sign = lambda r, c: got.setdefault("sts", sts(r, c))
    auth.signature = lambda s, r: got.setdefault("sig", sig(s, r))
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=DATE):
        auth.add_auth(req)
    return req, got


def main():
    for case in CASES:
        d = os.path.join(HERE, case["name"])
        os.makedirs(d, exist_ok=True)
        req, got = sign(case)
        body = case.get("body") or ""
        lines = ["%s %s HTTP/1.1" % (case["method"], case["path"]), "Host:" + case["host"]]
        lines += ["%s:%s" % hv for hv in case["headers"]]
        files = {"request.txt": "\n".join(lines) + "\n\n" + body}
        signed = ["%s %s HTTP/1.1" % (case["method"], case["path"]), "Host:" + case["host"]]
        signed += ["%s:%s" % (n, v) for n, v in req.headers.items()]
        files["header-signed-request.txt"] = "\n".join(signed) + "\n\n" + body
        files["header-canonical-request.txt"] = got["creq"]
        files["header-string-to-sign.txt"] = got["sts"]
        files["header-signature.txt"] = got["sig"]
        ctx = {"credentials": {"access_key_id": AKID, "secret_access_key": SECRET},
               "expiration_in_seconds": 3600, "normalize": case["service"] != "s3",
               "region": "us-east-1", "service": case["service"], "sign_body": False,
               "timestamp": DATE.strftime("%Y-%m-%dT%H:%M:%SZ"),
               # botocore's presigners drop a caller's X-Amz-Content-SHA256: header form only.
               "forms": ["header"]}
        if case.get("token"):
            ctx["credentials"]["token"] = case["token"]
        if case.get("signed_body_value"):
            ctx["signed_body_value"] = case["signed_body_value"]
        files["context.json"] = json.dumps(ctx, indent=4) + "\n"
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        print(case["name"], got["sig"])


if __name__ == "__main__":
    main()
