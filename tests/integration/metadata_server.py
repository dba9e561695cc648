#!/usr/bin/env python3
"""A local stand-in for the two AWS metadata endpoints the credentials chain talks to.

It answers on loopback as
  * the ECS/EKS container credentials agent: GET /container/<anything> with the configured
    Authorization header (401 otherwise), returning {AccessKeyId, SecretAccessKey, Token,
    Expiration, AccountId};
  * EC2 IMDSv2: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1..21600,
    400 otherwise) issues a session token that expires after its TTL; every GET under
    /latest/meta-data/ needs a live token in X-aws-ec2-metadata-token (401 otherwise, as IMDS
    does when v2 is required). /latest/meta-data/iam/security-credentials/ lists the role,
    .../<role> returns {Code, LastUpdated, Type, AccessKeyId, SecretAccessKey, Token,
    Expiration}.

Every credential answer carries fresh keys (a counter in the key id), so a test can tell a
refresh from a cached copy, and an Expiration `expires_in` seconds from now.

and, with --sts-forward URL, as a checking relay for STS AssumeRoleWithWebIdentity:
  * POST /sts must be *unsigned* (no Authorization header, no X-Amz-Security-Token) and carry
    Action=AssumeRoleWithWebIdentity with RoleArn, RoleSessionName and WebIdentityToken (400
    otherwise). The relay then signs it with the keys in its own environment
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, botocore's SigV4Auth) and forwards it to URL,
    returning the answer untouched. Why: AWS accepts this call unsigned, but moto's server
    with signature checking on (INITIAL_NO_AUTH_ACTION_COUNT spent) fails any request without
    an Authorization header (KeyError 'HTTP_AUTHORIZATION', HTTP 500; moto 5.2.5). The relay
    lets the test prove our call is unsigned while moto keeps checking every other call,
    including those signed with the credentials this call returns.

Control endpoints (no auth; loopback only):
  GET  /_control/stats   -> JSON request counters
  POST /_control/config  <- JSON {"expires_in": N, "auth_token": "...", "fail": bool,
                                  "role": "name", "advance": S}; unknown keys are refused.
                            "advance" moves the server's clock S seconds on: IMDS session
                            tokens expire as if that time had passed (no test sleeps for it).
  POST /_control/reset   -> zero the counters

Usage: metadata_server.py [--port 0] [--port-file PATH] [--auth-token TOKEN]
                          [--expires-in SECONDS] [--role NAME] [--sts-forward URL]
The chosen port is printed as "PORT <n>" on stdout and written to --port-file (atomically).
Secrets are never logged: the request log is off.
"""
import argparse
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_TTL = 21600


class State:
    def __init__(self, auth_token, expires_in, role):
        self.lock = threading.Lock()
        self.auth_token = auth_token
        self.expires_in = expires_in
        self.role = role
        self.fail = False
        self.serial = 0
        self.tokens = {}  # IMDS session token -> expiry on the clock below
        self.counts = {}
        self.clock_offset = 0.0  # seconds added by "advance"

    def clock(self):
        """Monotonic seconds, plus what the tests advanced; called with the lock held."""
        return time.monotonic() + self.clock_offset

    def count(self, name):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def new_creds(self):
        with self.lock:
            self.serial += 1
            serial = self.serial
            expires_in = self.expires_in
        now = time.time()
        exp = datetime.fromtimestamp(now + expires_in, tz=timezone.utc)
        return {
            "AccessKeyId": "ASIAMETA%012d" % serial,
            "SecretAccessKey": secrets.token_urlsafe(30),
            "Token": "IQoJ" + secrets.token_urlsafe(120),
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def iso_now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(BaseHTTPRequestHandler):
    server_version = "metadata-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: A003 - tokens travel in headers; log nothing
        pass

    @property
    def st(self):
        return self.server.state

    def reply(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 65536:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    # --- PUT: IMDSv2 session tokens --------------------------------------------------------
    def do_PUT(self):
        self.read_body()
        if self.path != "/latest/api/token":
            self.reply(404, "not found\n", "text/plain")
            return
        self.st.count("imds_token")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl_n = int(ttl)
        except (TypeError, ValueError):
            ttl_n = 0
        if ttl_n < 1 or ttl_n > MAX_TTL:
            self.st.count("imds_bad_ttl")
            self.reply(400, "missing or invalid X-aws-ec2-metadata-token-ttl-seconds\n",
                       "text/plain")
            return
        token = "AQAE" + secrets.token_urlsafe(40)
        with self.st.lock:
            now = self.st.clock()
            self.st.tokens = {t: e for t, e in self.st.tokens.items() if e > now}
            self.st.tokens[token] = now + ttl_n
        self.reply(200, token, "text/plain")

    # --- GET: container agent, IMDS metadata, control --------------------------------------
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/_control/stats":
            with self.st.lock:
                body = json.dumps(self.st.counts)
            self.reply(200, body)
        elif path.startswith("/container/"):
            self.container()
        elif path.startswith("/latest/meta-data/"):
            self.imds_get(path)
        else:
            self.reply(404, "not found\n", "text/plain")

    def container(self):
        self.st.count("container")
        with self.st.lock:
            want = self.st.auth_token
            fail = self.st.fail
        if want is not None and self.headers.get("Authorization") != want:
            self.st.count("container_unauthorized")
            self.reply(401, json.dumps({"code": "Unauthorized",
                                        "message": "invalid authorization token"}))
            return
        if fail:
            self.reply(500, json.dumps({"code": "InternalError", "message": "told to fail"}))
            return
        creds = self.st.new_creds()
        creds["AccountId"] = "123456789012"
        self.st.count("container_ok")
        self.reply(200, json.dumps(creds))

    def imds_get(self, path):
        token = self.headers.get("X-aws-ec2-metadata-token")
        with self.st.lock:
            exp = self.st.tokens.get(token) if token else None
            live = exp is not None and exp > self.st.clock()
            role = self.st.role
            fail = self.st.fail
        if not live:
            self.st.count("imds_unauthorized")
            self.reply(401, "", "text/plain")
            return
        prefix = "/latest/meta-data/iam/security-credentials/"
        if path == prefix:
            self.st.count("imds_role")
            self.reply(200, role, "text/plain")
        elif path == prefix + role:
            self.st.count("imds_creds")
            if fail:
                self.reply(500, "", "text/plain")
                return
            creds = self.st.new_creds()
            body = {"Code": "Success", "LastUpdated": iso_now(), "Type": "AWS-HMAC"}
            body.update(creds)
            self.reply(200, json.dumps(body))
        else:
            self.reply(404, "", "text/plain")

    def sts_error(self, code, message):
        self.st.count("sts_rejected")
        body = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message>"
                "</Error><RequestId>relay</RequestId></ErrorResponse>" % (code, message))
        self.reply(400, body, "text/xml")

    def sts_relay(self, raw):
        target = self.server.sts_forward
        if not target:
            self.sts_error("RelayDisabled", "started without --sts-forward")
            return
        if self.headers.get("Authorization") or self.headers.get("X-Amz-Security-Token"):
            self.sts_error("SignedRequest", "AssumeRoleWithWebIdentity must not be signed")
            return
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        want = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15"}
        for k, v in want.items():
            if form.get(k) != [v]:
                self.sts_error("BadRequest", "%s must be %s" % (k, v))
                return
        for k in ("RoleArn", "RoleSessionName", "WebIdentityToken"):
            if len(form.get(k, [])) != 1 or not form[k][0]:
                self.sts_error("MissingParameter", k)
                return
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError:
            self.reply(500, "botocore is not installed for the relay\n", "text/plain")
            return
        creds = Credentials(os.environ.get("AWS_ACCESS_KEY_ID", ""),
                            os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
        url = target.rstrip("/") + "/"
        req = AWSRequest(method="POST", url=url, data=raw, headers={
            "Content-Type": self.headers.get("Content-Type",
                                             "application/x-www-form-urlencoded")})
        SigV4Auth(creds, "sts", os.environ.get("AWS_REGION", "us-east-1")).add_auth(req)
        prepared = req.prepare()
        fwd = urllib.request.Request(url, data=raw, method="POST",
                                     headers=dict(prepared.headers.items()))
        try:
            with urllib.request.urlopen(fwd, timeout=30) as r:
                status, body, ctype = r.status, r.read(), r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type")
        self.st.count("sts_relayed")
        self.reply(status, body, ctype or "text/xml")

    def do_POST(self):
        try:
            raw = self.read_body()
        except ValueError:
            self.reply(413, "")
            return
        if self.path.split("?", 1)[0] in ("/sts", "/sts/"):
            self.sts_relay(raw)
            return
        if self.path == "/_control/reset":
            with self.st.lock:
                self.st.counts = {}
            self.reply(200, "{}")
            return
        if self.path != "/_control/config":
            self.reply(404, "")
            return
        try:
            cfg = json.loads(raw or b"{}")
            if not isinstance(cfg, dict):
                raise ValueError("not an object")
            allowed = {"expires_in", "auth_token", "fail", "role", "advance"}
            bad = set(cfg) - allowed
            if bad:
                raise ValueError("unknown keys: %s" % ", ".join(sorted(bad)))
        except ValueError as e:
            self.reply(400, json.dumps({"error": str(e)}))
            return
        with self.st.lock:
            if "expires_in" in cfg:
                self.st.expires_in = int(cfg["expires_in"])
            if "auth_token" in cfg:
                self.st.auth_token = cfg["auth_token"]
            if "fail" in cfg:
                self.st.fail = bool(cfg["fail"])
            if "role" in cfg:
                self.st.role = str(cfg["role"])
            if "advance" in cfg:
                self.st.clock_offset += float(cfg["advance"])
        self.reply(200, "{}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--auth-token", default=None,
                    help="Authorization value the container endpoint requires (none = any)")
    ap.add_argument("--expires-in", type=int, default=3600)
    ap.add_argument("--role", default="snaplake-instance-role")
    ap.add_argument("--sts-forward", default=None,
                    help="STS endpoint (moto) to relay unsigned AssumeRoleWithWebIdentity to")
    args = ap.parse_args()

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args.auth_token, args.expires_in, args.role)
    srv.sts_forward = args.sts_forward
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("PORT %d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
