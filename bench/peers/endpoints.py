"""bench/peers/endpoints.py - the copy benchmarks' S3 servers (versitygw, posix backend, on
loopback; bench/s3sink, which stores no bytes) and the latency in front of them (tc netem in a
network namespace when the kernel has netem, else bench/latproxy, a C epoll proxy).

Every process here is started by us, remembered by its Popen, and stopped by that handle
(SIGTERM, then SIGKILL after a grace period); a namespace and veth pair are deleted by the
names we gave them. Nothing is ever stopped by a name match.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ACCESS_KEY = "snaplakebench"
SECRET_KEY = "snaplake-bench-secret-not-a-real-one"
REGION = "us-east-1"


def wait_port(host, port, timeout, proc=None, what="server"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited (%s) before it listened" % (what, proc.returncode))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s not listening on %s:%d after %ds" % (what, host, port, timeout))


def stop(proc, grace=10):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port():
    """A port on 127.0.0.1 free now (the kernel's pick)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    """A server process on host:port, inside network namespace netns if given, logging to
    log_dir/<name>-<port>.log. Subclasses give name and argv()."""

    name = "server"

    def __init__(self, port, log_dir, netns=None, host="127.0.0.1"):
        self.port, self.host, self.netns = port, host, netns
        self.log = open(os.path.join(log_dir, "%s-%d.log" % (self.name, port)), "ab")
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def argv(self):
        raise NotImplementedError

    def start(self):
        argv = self.argv()
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_port(self.host, self.port, 30, self.proc, self.name)
        return self

    def stop(self):
        stop(self.proc)
        self.log.close()


class Versitygw(Server):
    """versitygw with the posix backend over a directory of its own. --keep-alive: without it
    the server closes every connection after one request, and each request would pay a TCP
    handshake (and, behind the latency, a round trip more)."""

    name = "versitygw"

    def __init__(self, binary, port, log_dir, netns=None, host="127.0.0.1"):
        super().__init__(port, log_dir, netns, host)
        self.binary = binary
        self.root = tempfile.mkdtemp(prefix="sl-bench-vgw-")

    def argv(self):
        return [self.binary, "--access", ACCESS_KEY, "--secret", SECRET_KEY, "--region", REGION,
                "--port", "%s:%d" % (self.host, self.port), "--keep-alive", "posix", self.root]

    def stop(self):
        super().stop()
        shutil.rmtree(self.root, ignore_errors=True)


def bench_binary(name):
    """A binary of the bench build (make bench: build/bench-rel), else of the default build."""
    for d in ("build/bench-rel/bench", "build/bench"):
        b = os.path.join(ROOT, d, name)
        if os.access(b, os.X_OK):
            return b
    raise RuntimeError("no %s built (make bench builds build/bench-rel/bench/%s)" % (name, name))


class LatencyProxy:
    """bench/latproxy between a listen port and the server: delay_ms each way per chunk. Its
    stderr (the log) ends with its CPU seconds; proc_cpu_s reads them live from /proc."""

    def __init__(self, listen_port, upstream_host, upstream_port, delay_ms, log_dir,
                 scheme="http"):
        self.port, self.scheme = listen_port, scheme
        self.args = [bench_binary("latproxy"), str(listen_port),
                     "%s:%d" % (upstream_host, upstream_port), "%g" % delay_ms]
        self.log = open(os.path.join(log_dir, "latproxy-%d.log" % listen_port), "ab")
        self.proc = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_port("127.0.0.1", self.port, 30, self.proc, "latency proxy")
        return self

    def stop(self):
        stop(self.proc)
        self.log.close()


def _run(argv):
    return subprocess.run(argv, capture_output=True, text=True)


class S3Sink(Server):
    """bench/s3sink (answers S3 correctly, stores no bytes); over HTTPS with tls=(cert, key)."""

    name = "s3sink"

    def __init__(self, port, log_dir, netns=None, host="127.0.0.1", tls=None):
        super().__init__(port, log_dir, netns=netns, host=host)
        self.tls = tls

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def argv(self):
        return [bench_binary("s3sink"), str(self.port), self.host] + list(self.tls or ())[:2]


SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"


def make_tls_cert(d, hosts):
    """A self-signed certificate (and its key) for the IPv4 addresses in hosts, in d, and a CA
    file that trusts it: the system's bundle with the certificate added, as a deployment's trust
    store is (the bundle is what a client parses and holds; one certificate alone would hide
    that). Returns (cert_path, key_path, ca_path). A client trusts the sink through
    AWS_CA_BUNDLE=ca_path (the worker) or an SSL context with it as cafile (urllib)."""
    crt, key, ca = (os.path.join(d, "sink.crt"), os.path.join(d, "sink.key"),
                    os.path.join(d, "sink-ca.pem"))
    san = ",".join(["DNS:localhost"] + ["IP:" + x for x in hosts])
    r = _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
              "-subj", "/CN=snaplake-bench-sink", "-addext", "subjectAltName=" + san,
              "-keyout", key, "-out", crt])
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: %s" % r.stderr.strip()[-500:])
    with open(ca, "w") as out:
        if os.path.exists(SYSTEM_CA_FILE):
            with open(SYSTEM_CA_FILE) as f:
                out.write(f.read())
        with open(crt) as f:
            out.write(f.read())
    return crt, key, ca


class NetemNamespace:
    """A network namespace reached through a veth pair with `tc netem delay` on both ends, so
    the server inside answers over a real 2 x delay round trip. Needs root, iproute2 and a
    kernel with sch_netem; available() says whether all three are there (it tries netem in a
    throwaway namespace)."""

    def __init__(self, tag, delay_ms, subnet="10.229.%d" % (os.getpid() % 250)):
        self.ns = "slbench%s" % tag
        self.host_if = "slb%sh" % tag
        self.ns_if = "slb%sn" % tag
        self.delay = "%gms" % delay_ms
        self.host_ip = subnet + ".1"
        self.ns_ip = subnet + ".2"
        self.made = False

    @staticmethod
    def available():
        if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("tc") \
                or not shutil.which("unshare"):
            return False, "needs root, ip and tc"
        r = _run(["unshare", "-n", "sh", "-c",
                  "ip link set lo up && tc qdisc add dev lo root netem delay 1ms"])
        if r.returncode != 0:
            return False, (r.stderr.strip() or "tc netem failed").splitlines()[-1]
        return True, "tc netem"

    def start(self):
        steps = [["ip", "netns", "add", self.ns],
                 ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
                 ["ip", "link", "set", self.ns_if, "netns", self.ns],
                 ["ip", "addr", "add", self.host_ip + "/30", "dev", self.host_if],
                 ["ip", "link", "set", self.host_if, "up"],
                 ["tc", "qdisc", "add", "dev", self.host_if, "root", "netem", "delay",
                  self.delay, "limit", "100000"],
                 ["ip", "netns", "exec", self.ns, "ip", "addr", "add", self.ns_ip + "/30",
                  "dev", self.ns_if],
                 ["ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_if, "up"],
                 ["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"],
                 ["ip", "netns", "exec", self.ns, "tc", "qdisc", "add", "dev", self.ns_if,
                  "root", "netem", "delay", self.delay, "limit", "100000"]]
        self.made = True
        for s in steps:
            r = _run(s)
            if r.returncode != 0:
                self.stop()
                raise RuntimeError("%s: %s" % (" ".join(s), r.stderr.strip()))
        return self

    def stop(self):
        if self.made:
            _run(["ip", "link", "del", self.host_if])
            _run(["ip", "netns", "del", self.ns])
            self.made = False
