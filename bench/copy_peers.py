#!/usr/bin/env python3
"""bench/copy_peers.py - snaplake's copy stage side by side with the copiers a user would pick
instead (issue 10): the seed's boto3 thread-pool copier and s5cmd (256 workers), over the
same export of small objects in the RDS layout, into the same lake keys, on a storing
S3-compatible server (versitygw, posix backend) on loopback, plain and with 100 ms round trip,
and on the sink endpoint (bench/s3sink: keeps no bytes, so the client is the bottleneck),
plain and through the latency proxy (the boto3 copier runs on the storing server only).

Each condition (plain loopback; the latency) runs the clients in turn, --reps rounds, the
order rotated each round so no client always runs first or last on a shared machine. Before
each run the destination is emptied; after it, it is verified (bench/peers/verify.py: exactly
the expected keys, sizes and ETags, a sample read back and hashed; on the sink, keys, sizes
and the sources' ETags by listing). A run that does not
verify is an error, not a figure. Printed: objects/s (median of the rounds, with min..max),
CPU seconds, peak and steady RSS per client, and the ratios to the peers; the load average
of the machine, which is shared, goes with the figures.

The snaplake client is the copy stage itself, run standalone (bench/peers/snaplake_copy.py:
a real `snaplake-worker copy` on the local stack, one `exported` message in, `copied` out),
or any command given with --snaplake-cmd (bench/peers/clients.py, CommandCopy, says what it
receives). --snaplake-concurrency (default 64,1024) runs one snaplake client per value;
--snaplake-env NAME=VALUE (repeatable) sets the worker's other settings (COPY_PLAN_AHEAD,
COPY_LIST_CONCURRENCY, LOG_LEVEL=debug for the table states).
The end of the output lists issue 10's targets with the figure measured for each; beside the
steady RSS, the libraries' floor (bench/rss_floor: the worker's libraries started as the
worker starts them, holding nothing of snaplake's), so the worker's own share is the rest.

The latency is `tc netem` in a network namespace when the kernel has netem (a second
versitygw inside the namespace, reached over a veth pair), else bench/latproxy (C, epoll)
in front of the one server. Peers are installed by bench/peers/install.sh (pinned, cached).

  bench/copy_peers.py                  10,000 objects, 3 rounds, loopback and 100 ms RTT;
                                       the boto3 copier over 2,000 of the same layout
                                       (--boto3-objects 0: the same 10,000), so the default
                                       run stays near 10 minutes
  bench/copy_peers.py --quick          1,000 objects for every client, 3 rounds
  bench/copy_peers.py --memory-objects 100000
                                       also one run of each client but boto3 over 100,000
                                       objects on loopback, for the memory figure
Ports: --port-base (default 19100, or SL_BENCH_PORT_BASE) and the next four, on 127.0.0.1.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))

import clients  # noqa: E402
import endpoints  # noqa: E402
import verify  # noqa: E402
from layout import Layout  # noqa: E402

SRC_BUCKET = "sl-bench-export"
DST_BUCKET = "sl-bench-lake"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def install_peers():
    r = subprocess.run([os.path.join(HERE, "peers", "install.sh")], capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit("bench/peers/install.sh failed:\n" + r.stderr[-3000:])
    return r.stdout.strip().splitlines()[-1]


def stack_env(start):
    """The local stack's Kafka and PostgreSQL settings (.stack/env); starts the stack first
    when `start` and it is not up. Returns (env dict, whether we started it)."""
    started = False
    st = subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), "status"],
                        capture_output=True, text=True)
    if st.returncode != 0:
        if not start:
            sys.exit("the local stack is not up (scripts/stack.sh start), and --no-stack-start")
        log("starting the local stack (scripts/stack.sh start)")
        r = subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), "start"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("scripts/stack.sh start failed:\n" + r.stderr[-3000:])
        started = True
    r = subprocess.run(["bash", "-c", '. "$1/.stack/env" && env -0', "_", ROOT],
                       capture_output=True)
    env = dict(kv.split("=", 1) for kv in r.stdout.decode().split("\0") if "=" in kv)
    keep = ("KAFKA_BOOTSTRAP_SERVERS", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE")
    return {k: env[k] for k in keep if k in env}, started


def rss_floor(wbin, senv):
    """The libraries' floor under the worker's RSS (bench/rss_floor.c, built beside the worker:
    the worker's libraries started the way it starts them, with no data of snaplake's), as
    its JSON line; None when that program is not built."""
    exe = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(wbin))), "bench",
                       "rss_floor")
    if not os.access(exe, os.X_OK):
        return None
    r = subprocess.run([exe], env=dict(os.environ, **senv), capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (exe, r.stderr[-2000:]))
    return json.loads(r.stdout)


def worker_binary(given):
    if given:
        return given
    for d in ("build/bench-rel/bin", "build/bin"):
        b = os.path.join(ROOT, d, "snaplake-worker")
        if os.access(b, os.X_OK):
            return b
    sys.exit("no snaplake-worker built (make bench builds build/bench-rel); or --worker-bin")


class Condition:
    """One endpoint the clients copy through: a name, the URL, the server behind it (with
    .url and .proc), and the processes on the way whose CPU each run reports (is the
    endpoint the bottleneck?). stores=False for an endpoint that keeps no bytes (the sink
    endpoint): a destination there is checked by listing (keys, sizes, the source's ETags),
    not read back. clients: the names of the clients that run on it (None: all)."""

    def __init__(self, name, url, server, proxy=None, stores=True, clients=None):
        self.name, self.url, self.server, self.proxy = name, url, server, proxy
        self.stores = stores
        self.clients = clients

    def runs(self, client):
        return self.clients is None or any(client.name.startswith(c) for c in self.clients)

    def cpu_s(self):
        """CPU seconds so far of (server, proxy or None)."""
        return (clients.proc_cpu_s(self.server.proc.pid),
                clients.proc_cpu_s(self.proxy.proc.pid, children=True) if self.proxy else None)


def setup(args, bindir, tmp):
    """Starts the server(s) and the latency; returns (conditions, things to stop, how)."""
    vgw = os.path.join(bindir, "versitygw")
    base = args.port_base
    plain = endpoints.Versitygw(vgw, base, tmp).start()
    stops = [plain]
    conds = [Condition("loopback", plain.url, plain)]
    how = "none"
    netem = False
    if args.delay_ms > 0:
        ok, why = endpoints.NetemNamespace.available()
        if ok and not args.force_proxy:
            ns = endpoints.NetemNamespace(str(base), args.delay_ms).start()
            stops.insert(0, ns)
            far = endpoints.Versitygw(vgw, base + 1, tmp, netns=ns.ns, host=ns.ns_ip).start()
            stops.insert(0, far)
            how = "tc netem %g ms each way (network namespace)" % args.delay_ms
            conds.append(Condition("%g ms RTT" % (2 * args.delay_ms), far.url, far))
            netem = True
        else:
            proxy = endpoints.LatencyProxy(base + 2, "127.0.0.1", base, args.delay_ms,
                                           tmp).start()
            stops.insert(0, proxy)
            how = "bench/latproxy %g ms each way (no netem: %s)" % (args.delay_ms, why)
            conds.append(Condition("%g ms RTT" % (2 * args.delay_ms), proxy.url, plain, proxy))
    if args.sink:
        # The sink's conditions: the client's own ceiling. Not the boto3 copier (tens of
        # objects a second: the sink would show nothing the storing server does not).
        only = ("s5cmd", "snaplake")
        sink = endpoints.S3Sink(base + 3, tmp).start()
        stops.insert(0, sink)
        conds.append(Condition("sink", sink.url, sink, stores=False, clients=only))
        if args.delay_ms > 0:
            if netem:
                fsink = endpoints.S3Sink(base + 4, tmp, netns=ns.ns, host=ns.ns_ip).start()
                stops.insert(0, fsink)
                conds.append(Condition("sink %g ms RTT" % (2 * args.delay_ms), fsink.url, fsink,
                                       stores=False, clients=only))
            else:
                sp = endpoints.LatencyProxy(base + 4, "127.0.0.1", base + 3, args.delay_ms,
                                            tmp).start()
                stops.insert(0, sp)
                conds.append(Condition("sink %g ms RTT" % (2 * args.delay_ms), sp.url, sink, sp,
                                       stores=False, clients=only))
    return conds, stops, how


def s3_of(server):
    return verify.s3_client(server.url, endpoints.REGION, endpoints.ACCESS_KEY,
                            endpoints.SECRET_KEY)


def prepare(servers, layout, s5cmd):
    """Buckets and the export on each distinct server."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=endpoints.ACCESS_KEY,
               AWS_SECRET_ACCESS_KEY=endpoints.SECRET_KEY, AWS_REGION=endpoints.REGION)
    for srv in servers:
        s3 = s3_of(srv)
        for b in (SRC_BUCKET, DST_BUCKET):
            try:
                s3.create_bucket(Bucket=b)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
        have = verify.listing(s3, SRC_BUCKET, layout.root + "/")
        if sum(1 for k in have if k.endswith(".gz.parquet")) != layout.n:
            verify.clear(s3, SRC_BUCKET, layout.root + "/")
            t0 = time.monotonic()
            layout.upload(s5cmd, srv.url, SRC_BUCKET, env)
            log("  uploaded %d objects to %s in %.1fs" % (layout.n, srv.url,
                                                         time.monotonic() - t0))


def one_run(client, cond, layout):
    s3 = s3_of(cond.server)
    verify.clear(s3, DST_BUCKET, layout.lake_root())
    creds = (endpoints.ACCESS_KEY, endpoints.SECRET_KEY, endpoints.REGION)
    srv0, px0 = cond.cpu_s()
    r = client.run(cond.url, layout, SRC_BUCKET, DST_BUCKET, creds)
    srv1, px1 = cond.cpu_s()
    r["server_cpu_s"] = srv1 - srv0
    r["proxy_cpu_s"] = px1 - px0 if px0 is not None else None
    problems = verify.verify(s3, DST_BUCKET, layout) if cond.stores else \
        verify.verify_listed(s3, SRC_BUCKET, DST_BUCKET, layout)
    if problems:
        raise RuntimeError("%s on %s: destination does not verify: %s"
                           % (client.name, cond.name, "; ".join(problems)))
    r["objects_per_s"] = layout.n / r["seconds"]
    return r


def rounds(clist, conds, layouts, reps, results):
    """layouts: {client name: its layout} (the boto3 copier may have a smaller export)."""
    for cond in conds:
        for rep in range(reps):
            k = rep % len(clist)
            for client in clist[k:] + clist[:k]:
                if not cond.runs(client):
                    continue
                r = one_run(client, cond, layouts[client.name])
                results.setdefault((cond.name, client.name), []).append(r)
                px = r["proxy_cpu_s"]
                own = r.get("worker_seconds")
                log("  %-10s round %d  %-28s %8.1f obj/s  %6.2f CPU s  %6.1f MB peak  "
                    "server %.1f CPU s%s%s  (load %.1f)"
                    % (cond.name, rep + 1, client.name, r["objects_per_s"], r["cpu_s"],
                       r["rss_kb"] / 1024, r["server_cpu_s"],
                       ", proxy %.1f CPU s" % px if px is not None else "",
                       ", worker's own %.1f s" % own if own else "", os.getloadavg()[0]))


def summary(runs):
    ops = [r["objects_per_s"] for r in runs]
    return {"ops": statistics.median(ops), "lo": min(ops), "hi": max(ops),
            "cpu": statistics.median(r["cpu_s"] for r in runs),
            "rss": max(r["rss_kb"] for r in runs) / 1024,
            "steady": statistics.median(r["steady_rss_kb"] for r in runs) / 1024, "n": len(runs)}


def table(clist, conds, results, layouts):
    """One row per client: obj/s per condition ("-" where it did not run), and its CPU and
    memory on the first condition (the storing server on loopback)."""
    out = []
    cn = [c.name for c in conds]
    out.append("| client | " + " | ".join("%s obj/s (min..max)" % n for n in cn) +
               " | CPU s (%s) | CPU s / 1,000 obj | peak RSS MB | steady RSS MB |" % cn[0])
    out.append("|---" * (len(cn) + 5) + "|")
    for c in clist:
        s = [summary(results[(n, c.name)]) if (n, c.name) in results else None for n in cn]
        ran = [x for x in s if x]
        first = s[0] or ran[0]
        n = layouts[c.name].n
        label = c.name if n == max(x.n for x in layouts.values()) else \
            "%s, %d objects" % (c.name, n)
        out.append("| %s | " % label +
                   " | ".join("%.0f (%.0f..%.0f)" % (x["ops"], x["lo"], x["hi"]) if x else "-"
                              for x in s) +
                   " | %.2f | %.2f | %.1f | %.1f |" % (first["cpu"], 1000 * first["cpu"] / n,
                                                       max(x["rss"] for x in ran),
                                                       first["steady"]))
    return "\n".join(out)


def ratio(results, layouts, cond, m, p):
    """(obj/s ratio, CPU-per-object ratio) of client m to client p on cond, or None."""
    if (cond, m.name) not in results or (cond, p.name) not in results:
        return None
    a = summary(results[(cond, m.name)])
    b = summary(results[(cond, p.name)])
    return (a["ops"] / b["ops"],
            (a["cpu"] / layouts[m.name].n) / (b["cpu"] / layouts[p.name].n))


def ratios(clist, conds, results, layouts):
    """Each snaplake client against each peer: throughput ratio per condition, and the ratio
    of CPU seconds per object (the boto3 copier may have copied fewer objects)."""
    out = []
    mine = [c for c in clist if c.name.startswith("snaplake")]
    peers = [c for c in clist if not c.name.startswith("snaplake")]
    for m in mine:
        for p in peers:
            parts = []
            for cond in conds:
                r = ratio(results, layouts, cond.name, m, p)
                if r:
                    parts.append("%s %.2fx obj/s, %.2fx CPU per object" % (cond.name, *r))
            out.append("%s vs %s: %s" % (m.name, p.name, "; ".join(parts)))
    return "\n".join(out)


def targets(clist, conds, results, layouts, delay_ms, floor=None):
    """Issue 10's figures, each against its target: one line per snaplake client and
    figure, "met" or "NOT met". Figures only: the benchmark never fails on them. floor
    (rss_floor) adds what of the steady RSS is the libraries' and what is the worker's own."""
    far = "%g ms RTT" % (2 * delay_ms)
    by = {c.name.split(" (")[0]: c for c in clist if not c.name.startswith("snaplake")}
    mine = [c for c in clist if c.name.startswith("snaplake")]
    out = []

    def line(what, value, goal, ok):
        out.append("  %-62s %-14s target %-10s %s" % (what, value, goal,
                                                     "met" if ok else "NOT met"))
    for m in mine:
        out.append("%s:" % m.name)
        boto3, s5 = by.get("boto3 seed") or by.get("boto3 thread pool"), by.get("s5cmd")
        if boto3 and ratio(results, layouts, far, m, boto3):
            x, _ = ratio(results, layouts, far, m, boto3)
            line("storing server, %s: obj/s vs %s" % (far, boto3.name), "%.1fx" % x, ">= 20x",
                 x >= 20)
        if s5 and ratio(results, layouts, far, m, s5):
            x, cpu = ratio(results, layouts, far, m, s5)
            line("storing server, %s: obj/s vs s5cmd" % far, "%.2fx" % x, ">= 1.1x", x >= 1.1)
            line("storing server, %s: CPU per object vs s5cmd" % far, "%.2fx" % cpu, "<= 0.33x",
                 cpu <= 1 / 3)
        sink = "sink " + far
        if (sink, m.name) in results:
            ops = summary(results[(sink, m.name)])["ops"]
            line("sink, %s: obj/s" % far, "%.0f" % ops, ">= 5000", ops >= 5000)
            if s5 and ratio(results, layouts, sink, m, s5):
                x, _ = ratio(results, layouts, sink, m, s5)
                line("sink, %s: obj/s vs s5cmd" % far, "%.2fx" % x, ">= 2x", x >= 2)
        steady = max(summary(results[(c.name, m.name)])["steady"]
                     for c in conds if (c.name, m.name) in results)
        line("steady RSS (highest median over the conditions)", "%.1f MB" % steady, "<= 16 MB",
             steady <= 16)
        if floor:
            c = floor.get("connected", {})
            out.append("    of which the libraries' floor %.1f MB (bench/rss_floor: %d shared "
                       "libraries, %.1f MB of their files%s), the worker's own %.1f MB"
                       % (floor["rss_kb"] / 1024, floor["libs"], floor["file_kb"] / 1024,
                          "" if c.get("kafka") and c.get("postgresql") else
                          "; NOT connected to Kafka and PostgreSQL, so lower than the worker's",
                          steady - floor["rss_kb"] / 1024))
        else:
            out.append("    the libraries' floor was not measured: bench/rss_floor is not built "
                       "beside the worker (make bench builds it)")
    conc = {int(c.name.split("(")[1].split()[0]): c for c in mine if "in flight" in c.name}
    if 64 in conc and 1024 in conc:
        out.append("concurrency:")
        for cond in conds:
            r = ratio(results, layouts, cond.name, conc[1024], conc[64])
            if r:
                line("%s: obj/s at 1024 in flight vs 64" % cond.name, "%.2fx" % r[0], ">= 1x",
                     r[0] >= 1)
    return "\n".join(out)


def build_clients(args, bindir, tmp):
    clist = []
    want = args.clients.split(",")
    if "boto3" in want:
        clist.append(clients.Boto3Copier(args.boto3_workers, tmp))
    if "s5cmd" in want:
        clist.append(clients.S5cmd(os.path.join(bindir, "s5cmd"), args.s5cmd_workers, tmp))
    started, floor = False, None
    if "snaplake" in want:
        if args.snaplake_cmd:
            clist.append(clients.CommandCopy(args.snaplake_cmd, log_dir=tmp))
        else:
            from snaplake_copy import SnaplakeCopy
            senv, started = stack_env(not args.no_stack_start)
            wbin = worker_binary(args.worker_bin)
            floor = rss_floor(wbin, senv)
            for conc in (int(x) for x in args.snaplake_concurrency.split(",")):
                c = SnaplakeCopy(wbin, senv, conc, log_dir=tmp,
                                 extra_env=dict(kv.split("=", 1) for kv in args.snaplake_env))
                c.name = "snaplake copy (%d in flight)" % conc
                clist.append(c)
    return clist, started, floor


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 objects (smoke run)")
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3, help="rounds per condition (>= 3)")
    ap.add_argument("--memory-objects", type=int, default=0,
                    help="also copy this many on loopback once per client but boto3")
    ap.add_argument("--delay-ms", type=float, default=50.0, help="added each way; 0 = none")
    ap.add_argument("--force-proxy", action="store_true", help="the proxy even with netem")
    ap.add_argument("--no-sink", dest="sink", action="store_false",
                    help="leave out the sink endpoint's conditions (bench/s3sink)")
    ap.add_argument("--clients", default="boto3,s5cmd,snaplake")
    ap.add_argument("--boto3-workers", type=int, default=0,
                    help="0: the seed's asyncio default executor, min(32, cpus + 4) threads")
    ap.add_argument("--boto3-objects", type=int, default=2000,
                    help="the boto3 copier's export (the same layout, smaller: at ~100 obj/s "
                    "10,000 objects would take the whole time budget); 0 = --objects")
    ap.add_argument("--s5cmd-workers", type=int, default=256)
    ap.add_argument("--snaplake-concurrency", default="64,1024",
                    help="comma list: one snaplake client per COPY_CONCURRENCY")
    ap.add_argument("--snaplake-cmd", help="a command that runs snaplake's copy once "
                    "(environment: bench/peers/clients.py CommandCopy)")
    ap.add_argument("--worker-bin", help="snaplake-worker (default build/bench-rel, build)")
    ap.add_argument("--snaplake-env", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of the snaplake worker (repeatable), e.g. LOG_LEVEL=debug")
    ap.add_argument("--no-stack-start", action="store_true")
    ap.add_argument("--port-base", type=int,
                    default=int(os.environ.get("SL_BENCH_PORT_BASE", "19100")))
    ap.add_argument("--keep-logs", action="store_true", help="keep the run logs")
    args = ap.parse_args(argv)
    if args.quick:
        args.objects = min(args.objects, 1000)
    if not args.boto3_objects or args.boto3_objects > args.objects:
        args.boto3_objects = args.objects
    if args.reps < 1:
        ap.error("--reps must be at least 1")

    # SIGTERM (timeout, a CI cancel) unwinds like Ctrl-C, so the servers, the proxy and the
    # stack we started are stopped by the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.monotonic()
    load0 = os.getloadavg()
    bindir = install_peers()
    tmp = tempfile.mkdtemp(prefix="sl-bench-copy-peers-")
    stops = []
    started_stack = False
    try:
        clist, started_stack, floor = build_clients(args, bindir, tmp)
        conds, stops, how = setup(args, bindir, tmp)
        layout = Layout(args.objects)
        layouts = {c.name: layout for c in clist}
        for c in clist:
            if isinstance(c, clients.Boto3Copier) and args.boto3_objects != layout.n:
                layouts[c.name] = Layout(args.boto3_objects)
        log("copy peers: %d objects, %d rounds, latency: %s" % (layout.n, args.reps, how))
        servers = {id(c.server): c.server for c in conds}.values()
        for lay in {x.n: x for x in layouts.values()}.values():
            prepare(servers, lay, os.path.join(bindir, "s5cmd"))
        results = {}
        rounds(clist, conds, layouts, args.reps, results)
        mem = None
        if args.memory_objects:
            big = Layout(args.memory_objects)
            prepare([conds[0].server], big, os.path.join(bindir, "s5cmd"))
            mem = {}
            mlist = [c for c in clist if not isinstance(c, clients.Boto3Copier)]
            rounds(mlist, conds[:1], {c.name: big for c in mlist}, 1, mem)
        load1 = os.getloadavg()
        print("\n== copy peers: %d objects of 1-4 KiB in the RDS export layout, versitygw "
              "(posix) on loopback; latency: %s; median of %d rounds, alternating"
              % (layout.n, how, args.reps))
        print(table(clist, conds, results, layouts))
        print()
        print(ratios(clist, conds, results, layouts))
        print("\n== issue 10's targets (figures, not a verdict on the build)")
        print(targets(clist, conds, results, layouts, args.delay_ms, floor))
        if mem:
            print("\n== memory: %d objects on loopback, one run each" % big.n)
            print(table(mlist, conds[:1], mem, {c.name: big for c in mlist}))
        print("\nmachine: %d CPUs; load average %.2f %.2f %.2f at start, %.2f %.2f %.2f at "
              "end; %.0f s in all" % (os.cpu_count(), *load0, *load1,
                                      time.monotonic() - t_start))
        if args.keep_logs:
            print("logs: %s" % tmp)
    finally:
        for s in stops:
            s.stop()
        if started_stack:
            subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), "stop"],
                           capture_output=True)
        if not args.keep_logs:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
