#!/usr/bin/env python3
"""Copy benchmark: the copy stage's throughput, CPU and memory against bench/s3sink, an S3
endpoint of our own that answers correctly but stores no bytes (so the client is what is
measured). Figures only: it never passes or fails on speed, but every run is verified (the
lake holds exactly the expected objects with the expected sizes) and a wrong one aborts.

For each endpoint condition (plain loopback; --delay-ms of round trip, 100 = 50 ms each way, on
the network: tc netem in a network namespace with the sink inside when the kernel has netem, else
bench/latproxy in front of the sink; --force-proxy takes the proxy even with netem)
and each COPY_CONCURRENCY, it lays out --objects objects as an RDS export on the sink, starts
a real snaplake-worker `copy` on the local stack (Kafka, PostgreSQL: source .stack/env),
produces one `exported` message and waits for its `copied` message. Engines alternate run by
run. Printed per engine and setting (medians over --runs):

  obj/s       objects over the copy phase (the worker's own "copy finished" line)
  job obj/s   objects over the whole job, message consumed to `copied` published
  CPU s/1k    the worker's user+system CPU seconds per 1,000 objects (over the job), and the
              sink's own and the proxy's (when one nears a core, the endpoint is the ceiling)
  peak MB     the worker's VmHWM at the end; steady MB: median VmRSS sampled while copying

--old PATH adds a second worker binary (e.g. main built in a temp dir) and the ratio new/old.
--tls serves the sink over HTTPS, as S3 is served: the worker then holds a TLS connection per
copy in flight. It trusts the sink's self-signed certificate through AWS_CA_BUNDLE, a copy of
the system's CA bundle with that certificate added (what a deployment's trust store holds).

  .venv/bin/python bench/copy_bench.py [--objects 10000] [--runs 3] [--conc 64,256,1024]
        [--delay-ms 0,100] [--force-proxy] [--tls] [--new build/bench-rel/bin/snaplake-worker]
        [--old PATH]
"""

import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "peers"))
import endpoints  # noqa: E402
import harness as h  # noqa: E402

ROOT = h.ROOT
DATE = "2024-03-05"
TICK = os.sysconf("SC_CLK_TCK")


free_port = endpoints.free_port


class Sink:
    """bench/s3sink with rtt_ms of round trip on the network in front of it: none; tc netem on
    a veth pair into a network namespace with the sink inside; or bench/latproxy on loopback.
    self.url is where the worker goes (through the latency); call() sends the bench-only
    requests (layout, count), through the latency as well, which only costs them time."""

    def __init__(self, rtt_ms, tmp, force_proxy, tls=False):
        self.proxy, self.ns = None, None
        port = free_port()
        self.how = "none"
        self.ca, self.ctx, cert = None, None, None
        ok, why = endpoints.NetemNamespace.available() if rtt_ms > 0 else (False, "")
        try:
            if rtt_ms > 0 and ok and not force_proxy:
                self.ns = endpoints.NetemNamespace(str(port), rtt_ms / 2.0)
            if tls:
                cert = endpoints.make_tls_cert(tmp, ["127.0.0.1"] +
                                               ([self.ns.ns_ip] if self.ns else []))
                self.ca = cert[2]
                self.ctx = ssl.create_default_context(cafile=self.ca)
            if self.ns:
                self.ns.start()
                self.server = endpoints.S3Sink(port, tmp, netns=self.ns.ns,
                                               host=self.ns.ns_ip, tls=cert).start()
                self.url = self.server.url
                self.how = "tc netem %g ms each way" % (rtt_ms / 2.0)
            else:
                self.server = endpoints.S3Sink(port, tmp, tls=cert).start()
                self.url = self.server.url
                if rtt_ms > 0:
                    self.proxy = endpoints.LatencyProxy(free_port(), "127.0.0.1", port,
                                                        rtt_ms / 2.0, tmp,
                                                        "https" if tls else "http").start()
                    self.url = self.proxy.url
                    self.how = "bench/latproxy %g ms each way%s" % (
                        rtt_ms / 2.0, " (no netem: %s)" % why if not force_proxy else "")
        except Exception:
            self.stop()
            raise

    def call(self, path):
        with urllib.request.urlopen(self.url + path, data=b"" if "layout" in path else None,
                                    timeout=60, context=self.ctx) as r:
            return r.read().decode()

    def cpu(self):
        """CPU seconds so far of the sink and of the proxy (0 without one)."""
        return (proc_cpu(self.server.proc.pid),
                proc_cpu(self.proxy.proc.pid) if self.proxy else 0.0)

    def stop(self):
        for x in (self.proxy, getattr(self, "server", None), self.ns):
            if x is not None:
                x.stop()


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def proc_mem(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class Run:
    """One worker (engine, concurrency) on the sink; send() copies one export."""

    def __init__(self, binary, sink, conc, tmp):
        self.sink = sink
        self.prefix = h.topic_prefix("bench")
        h.create_topics(self.prefix, partitions=1)
        self.lake = "lake-%s" % h.uid(8)
        env = h.worker_env(self.prefix, LAKE_BUCKET=self.lake, LAKE_PREFIX="lake",
                           AWS_ENDPOINT_URL=sink.url, AWS_S3_FORCE_PATH_STYLE="true",
                           COPY_CONCURRENCY=str(conc), KAFKA_GROUP_ID="g-" + h.uid(10),
                           LOG_LEVEL="info", STAGE_MAX_ATTEMPTS="1")
        if sink.ca:
            env["AWS_CA_BUNDLE"] = sink.ca
        env.pop("METRICS_ADDR", None)
        env["SNAPLAKE_WORKER_BIN"] = binary
        os.environ["SNAPLAKE_WORKER_BIN"] = binary
        self.w = h.Worker("copy", env, os.path.join(tmp, "w-%s.log" % h.uid(6)))
        self.w.wait_ready(90)
        self.out = h.KafkaReader(self.prefix + "copies")
        self.n = 0

    def send(self, nobj):
        cluster = "c-%s" % h.uid(8)
        task = "exp-%s" % h.uid(8)
        bucket = "exp-%s" % h.uid(8)
        prefix = "s3-export/%s/%s" % (cluster, DATE)
        self.sink.call("/_sink/layout?bucket=%s&prefix=%s/%s&n=%d&tables=10"
                       % (bucket, prefix, task, nobj))
        run = "%s-%s-03-04" % (cluster, DATE)
        m = {"v": 1, "type": "exported", "run_id": run, "cluster": cluster, "mode": "snapshot",
             "snapshot_id": "rds:" + run,
             "source_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:rds:%s" % (h.ACCOUNT, run),
             "date": DATE, "source": "event", "produced_at": h.now_rfc3339(),
             "export_task_id": task, "s3_bucket": bucket, "s3_prefix": prefix}
        pid = self.w.p.pid
        cpu0, (scpu0, pcpu0) = proc_cpu(pid), self.sink.cpu()
        t0 = time.monotonic()
        h.produce(self.prefix + "exports", m, key=cluster)
        self.n += 1
        rss = []
        while len(self.out.read(self.n, 0.05)) < self.n:
            if not self.w.alive():
                raise SystemExit("worker exited: %s" % self.w.stderr()[-2000:])
            rss.append(proc_mem(pid, "VmRSS"))
            if time.monotonic() - t0 > 1800:
                raise SystemExit("no copied message after 30 minutes")
        wall = time.monotonic() - t0
        cpu = proc_cpu(pid) - cpu0
        scpu1, pcpu1 = self.sink.cpu()
        scpu, pcpu = scpu1 - scpu0, pcpu1 - pcpu0
        msg = self.out.records[self.n - 1].value
        got = self.sink.call("/_sink/count?bucket=%s&prefix=lake/%s/" % (self.lake, cluster))
        want_bytes = sum(1024 + (i % 3072) for i in range(nobj))
        if msg.get("type") != "copied" or msg.get("objects") != nobj or \
                got != "%d %d" % (nobj, want_bytes):
            raise SystemExit("wrong copy: message %s, lake holds %s (want %d %d)"
                             % (json.dumps(msg)[:500], got, nobj, want_bytes))
        done = [r for r in self.w.logs() if r.get("msg") == "copy finished"
                and r.get("run_id") == run]
        return {"obj_s": float(done[-1]["objects_per_s"]) if done else nobj / wall,
                "job_obj_s": nobj / wall, "cpu_per_k": cpu * 1000.0 / nobj,
                "sink_cpu_per_k": scpu * 1000.0 / nobj,
                "proxy_cpu_per_k": pcpu * 1000.0 / nobj,
                "proxy_cpu_pct": 100.0 * pcpu / wall,
                "peak_mb": proc_mem(pid, "VmHWM"),
                "steady_mb": statistics.median(rss) if rss else 0.0}

    def stop(self):
        self.w.stop(30)
        self.out.close()


def med(rs, k):
    return statistics.median(r[k] for r in rs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conc", default="64,256,1024")
    ap.add_argument("--delay-ms", default="0,100", help="round trips, comma list")
    ap.add_argument("--force-proxy", action="store_true", help="bench/latproxy even with netem")
    ap.add_argument("--tls", action="store_true", help="the sink over HTTPS, as S3 is")
    ap.add_argument("--new", default=os.path.join(ROOT, "build/bench-rel/bin/snaplake-worker"))
    ap.add_argument("--old", default=None)
    a = ap.parse_args()
    h.require_stack()
    engines = [("new", a.new)] + ([("old", a.old)] if a.old else [])
    tmp = tempfile.mkdtemp(prefix="copy-bench-")
    rows = []
    for delay in [int(x) for x in a.delay_ms.split(",")]:
        sink = Sink(delay, tmp, a.force_proxy, a.tls)
        try:
            for conc in [int(x) for x in a.conc.split(",")]:
                workers = {}
                res = {name: [] for name, _ in engines}
                try:
                    for name, b in engines:
                        workers[name] = Run(b, sink, conc, tmp)
                    for _ in range(a.runs):  # alternate the engines run by run
                        for name, _b in engines:
                            res[name].append(workers[name].send(a.objects))
                finally:
                    for w in workers.values():
                        w.stop()
                for name, _b in engines:
                    rows.append((delay, conc, name, res[name]))
                line = "%sRTT %3d ms  conc %4d" % ("TLS " if a.tls else "", delay, conc)
                for name, _b in engines:
                    rs = res[name]
                    line += ("  | %s: %6.0f obj/s (job %5.0f)  CPU %4.2f s/1k (sink %4.2f%s)"
                             "  peak %5.1f MB  steady %5.1f MB"
                             % (name, med(rs, "obj_s"), med(rs, "job_obj_s"), med(rs, "cpu_per_k"),
                                med(rs, "sink_cpu_per_k"),
                                ", proxy %4.2f = %.0f%% of a core" % (
                                    med(rs, "proxy_cpu_per_k"), med(rs, "proxy_cpu_pct"))
                                if sink.proxy else "", med(rs, "peak_mb"),
                                med(rs, "steady_mb")))
                if a.old:
                    line += "  | new/old %.2fx" % (med(res["new"], "obj_s") /
                                                   med(res["old"], "obj_s"))
                print(line + ("  [latency: %s]" % sink.how if delay else ""), flush=True)
        finally:
            sink.stop()
    print(json.dumps([{"delay_ms": d, "concurrency": c, "engine": n, "runs": rs}
                      for d, c, n, rs in rows]), file=open(os.path.join(tmp, "results.json"), "w"))
    print("objects per run: %d, runs: %d; raw figures in %s/results.json"
          % (a.objects, a.runs, tmp))


if __name__ == "__main__":
    main()
