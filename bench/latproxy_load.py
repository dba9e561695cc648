#!/usr/bin/env python3
"""bench/latproxy's own cost: --conns keep-alive connections through the proxy (--delay-ms each
way) to an echo server, each sending a --size byte request and waiting for its echo before the
next, for --seconds. Prints requests/s through the proxy and its CPU (from /proc), so it can be
seen that the proxy is not the benchmarks' ceiling. The echo server and this client are
asyncio protocols (no streams), each in its own process.

  .venv/bin/python bench/latproxy_load.py [--conns 1000] [--delay-ms 50] [--seconds 10]
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
import endpoints  # noqa: E402
from clients import proc_cpu_s as cpu_s  # noqa: E402
from endpoints import free_port  # noqa: E402


class Echo(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t

    def data_received(self, d):
        self.t.write(d)


def serve(port):
    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(loop.create_server(Echo, "127.0.0.1", port, backlog=4096))
    print("ready", flush=True)
    try:
        loop.run_forever()
    finally:
        srv.close()


class Client(asyncio.Protocol):
    def __init__(self, msg, stats, stop_at):
        self.msg, self.stats, self.stop_at, self.got = msg, stats, stop_at, 0

    def connection_made(self, t):
        self.t = t
        t.write(self.msg)

    def data_received(self, d):
        self.got += len(d)
        if self.got >= len(self.msg):
            self.got -= len(self.msg)
            self.stats[0] += 1
            if time.monotonic() < self.stop_at:
                self.t.write(self.msg)
            else:
                self.t.close()


async def drive(port, conns, size, seconds, warm):
    loop = asyncio.get_running_loop()
    stats = [0]
    stop_at = time.monotonic() + warm + seconds
    msg = b"x" * size
    for _ in range(conns):
        await loop.create_connection(lambda: Client(msg, stats, stop_at), "127.0.0.1", port)
    await asyncio.sleep(warm)
    n0 = stats[0]
    await asyncio.sleep(seconds)
    return stats[0] - n0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve(a.serve)
    import tempfile
    tmp = tempfile.mkdtemp(prefix="latproxy-load-")
    eport = free_port()
    echo = subprocess.Popen([sys.executable, __file__, "--serve", str(eport)],
                            stdout=subprocess.PIPE)
    echo.stdout.readline()
    proxy = endpoints.LatencyProxy(free_port(), "127.0.0.1", eport, a.delay_ms, tmp).start()
    try:
        c0 = cpu_s(proxy.proc.pid)
        t0 = time.monotonic()
        n = asyncio.run(drive(proxy.port, a.conns, a.size, a.seconds, 2.0))
        dt = a.seconds
        c1 = cpu_s(proxy.proc.pid)
        # The warm-up (2 s) is inside the CPU window too: CPU per request counts it as well.
        total = time.monotonic() - t0
        print("latproxy: %d connections, %g ms each way, %d-byte requests: %.0f requests/s; "
              "proxy CPU %.2f s in %.1f s = %.0f%% of a core (%.1f us per request, "
              "both directions)" % (a.conns, a.delay_ms, a.size, n / dt, c1 - c0, total,
                                    100.0 * (c1 - c0) / total,
                                    1e6 * (c1 - c0) / max(1, n * total / dt)))
    finally:
        proxy.stop()
        endpoints.stop(echo)


if __name__ == "__main__":
    main()
