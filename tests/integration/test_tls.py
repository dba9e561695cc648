"""TLS verification is on by default; AWS_CA_BUNDLE only adds a trust anchor.

common/aws_http.c sets CURLOPT_SSL_VERIFYPEER=1 and CURLOPT_SSL_VERIFYHOST=2 on every AWS
request and AWS_CA_BUNDLE only becomes CURLOPT_CAINFO; common/creds.c leaves libcurl's
verifying defaults alone for the container credentials endpoint. This proves it from the
outside with the real snaplakectl binary against an HTTPS "S3" on loopback whose
certificate is self-signed (made here with `openssl req -x509`):

  - by default the call fails with a certificate error and no HTTP request reaches the
    server (the handshake is refused before anything is sent, credentials included);
  - with AWS_CA_BUNDLE naming that certificate the same call succeeds and lists the object;
  - with AWS_CA_BUNDLE trusting a certificate issued for another host name the call still
    fails: host name checking stays on when the CA is replaced;
  - the container credentials provider refuses the self-signed https FULL_URI too, before
    sending its authorization token.

Needs only openssl and a built snaplakectl, not the local stack.

    .venv/bin/pytest -q tests/integration/test_tls.py
"""

import http.server
import os
import shutil
import ssl
import subprocess
import threading

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = "lake/c1/app/public.users/date=2024-01-02/part-00000.parquet"
LISTING = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
           "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
           "<Name>tls-lake</Name><Prefix>lake/</Prefix><KeyCount>1</KeyCount>"
           "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
           "<Contents><Key>%s</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>"
           "<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>4242</Size>"
           "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>" % KEY)
CONTAINER_TOKEN = "container-token-never-sent-over-unverified-tls"


def ctl_binary():
    if os.environ.get("SNAPLAKECTL_BIN"):
        return os.environ["SNAPLAKECTL_BIN"]
    for p in ("build/asan/bin/snaplakectl", "build/bin/snaplakectl"):
        full = os.path.join(ROOT, p)
        if os.path.exists(full):
            return full
    pytest.skip("snaplakectl is not built (make)")


def make_cert(d, name, san):
    if not shutil.which("openssl"):
        pytest.skip("openssl command not found")
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=snaplake-tls-test", "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", crt], check=True, capture_output=True, timeout=60)
    return crt, key


class Server:
    """HTTPS on 127.0.0.1 with the given certificate; counts the HTTP requests it reads."""

    def __init__(self, crt, key):
        self.requests = []
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                owner.requests.append((self.command, self.path, dict(self.headers)))
                if self.path.startswith("/creds"):
                    body = b'{"Code": "Nope"}'
                    self.send_response(500)
                else:
                    body = LISTING.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amz-request-id", "TLSTEST")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def certs(tmp_path):
    good = make_cert(str(tmp_path), "loopback", "IP:127.0.0.1,DNS:localhost")
    other = make_cert(str(tmp_path), "other", "DNS:other.example")
    return {"good": good, "other": other}


def run_lake(port, **extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "AKIDTLSTEST000000000",
           "AWS_SECRET_ACCESS_KEY": "tls/test/secret/key/000000000000000000000",
           "AWS_ENDPOINT_URL": "https://127.0.0.1:%d" % port, "AWS_S3_FORCE_PATH_STYLE": "true",
           "AWS_MAX_ATTEMPTS": "1", "LAKE_BUCKET": "tls-lake", "LAKE_PREFIX": "lake",
           "LOG_LEVEL": "warn", "ASAN_OPTIONS": "detect_leaks=1"}
    env.update(extra)
    env = {k: v for k, v in env.items() if v is not None}
    r = subprocess.run([ctl_binary(), "lake"], env=env, capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def test_self_signed_refused_by_default(certs):
    s = Server(*certs["good"])
    try:
        rc, out = run_lake(s.port)
    finally:
        s.close()
    assert rc != 0, out
    assert "certificate" in out.lower(), out
    assert s.requests == [], "an HTTP request got through an unverified handshake"


def test_ca_bundle_trusts_the_certificate(certs):
    s = Server(*certs["good"])
    try:
        rc, out = run_lake(s.port, AWS_CA_BUNDLE=certs["good"][0])
    finally:
        s.close()
    assert rc == 0, out
    assert "date=2024-01-02" in out and "1 objects" in out and "4242 bytes" in out, out
    assert len(s.requests) == 1, s.requests
    method, path, headers = s.requests[0]
    assert method == "GET" and path.startswith("/tls-lake"), s.requests
    assert headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "), headers


def test_ca_bundle_keeps_host_name_checking(certs):
    # Trusted anchor, wrong name: VERIFYHOST must still refuse it.
    s = Server(*certs["other"])
    try:
        rc, out = run_lake(s.port, AWS_CA_BUNDLE=certs["other"][0])
    finally:
        s.close()
    assert rc != 0, out
    assert "subject name" in out or "host name" in out, out
    assert s.requests == [], s.requests


def test_container_credentials_refuse_self_signed(certs):
    s = Server(*certs["good"])
    try:
        rc, out = run_lake(s.port, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
                           AWS_CONTAINER_CREDENTIALS_FULL_URI="https://127.0.0.1:%d/creds"
                           % s.port,
                           AWS_CONTAINER_AUTHORIZATION_TOKEN=CONTAINER_TOKEN,
                           AWS_EC2_METADATA_DISABLED="true", HOME="/nonexistent")
    finally:
        s.close()
    assert rc != 0, out
    assert "container" in out and "certificate" in out.lower(), out
    assert CONTAINER_TOKEN not in out
    assert s.requests == [], "the authorization token went over an unverified connection"
