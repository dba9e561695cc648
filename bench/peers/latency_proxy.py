#!/usr/bin/env python3
"""bench/peers/latency_proxy.py - a TCP proxy that adds a fixed delay each way.

The copy benchmark's stand-in for `tc netem` on kernels without it (bench/peers/latency.py
prefers netem when the kernel has it). With --delay-ms 50 every byte reaches the other side
50 ms after it was read, in both directions: a 100 ms round trip, which is closer to how S3
answers a small CopyObject than loopback is.

The delay is per chunk, not per connection: each chunk read is stamped with its arrival time
and a writer task per direction sends it when arrival + delay has come. So a connection
kept alive carries many requests, each paying one round trip (not one per connection, which
would flatter clients that reconnect and punish those that reuse), and a streamed body keeps
its shape (the first bytes arrive after the delay, not after the whole body). Half-closes
are forwarded after the same delay. A direction buffers at most MAX_QUEUED chunks; past that
the reader waits, so a slow peer backs pressure up to the sender as TCP would.

Usage: latency_proxy.py --listen HOST:PORT --upstream HOST:PORT --delay-ms MS [--procs N]
Prints "ready HOST:PORT" on stdout once it listens; stops on SIGTERM/SIGINT. --procs
accepting processes share the listening socket (default one per CPU).
"""

import argparse
import asyncio
import os
import signal
import socket
import sys

CHUNK = 256 * 1024
MAX_QUEUED = 64


async def _pump(reader, writer, delay, loop, abort):
    """Copies reader to writer, each chunk delayed by `delay` seconds from its arrival. On a
    reset either way it calls abort(), which closes both sockets: the other direction then
    ends too instead of waiting for a peer that is gone."""
    q = asyncio.Queue(MAX_QUEUED)

    async def send():
        while True:
            due, data = await q.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    async def send_or_abort():
        try:
            await send()
        except (ConnectionError, OSError):
            abort()

    sender = asyncio.ensure_future(send_or_abort())
    try:
        while True:
            data = await reader.read(CHUNK)
            await q.put((loop.time() + delay, data or None))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
        abort()
    except asyncio.CancelledError:
        sender.cancel()
        raise


def _nodelay(writer):
    s = writer.get_extra_info("socket")
    if s is not None:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _serve(args, sock):
    loop = asyncio.get_running_loop()
    delay = args.delay_ms / 1000.0
    uhost, uport = args.upstream.rsplit(":", 1)

    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection(uhost, int(uport))
        except OSError:
            cwriter.close()
            return
        _nodelay(cwriter)
        _nodelay(uwriter)

        def abort():
            for w in (cwriter, uwriter):
                w.transport.abort()
        try:
            await asyncio.gather(_pump(creader, uwriter, delay, loop, abort),
                                 _pump(ureader, cwriter, delay, loop, abort))
        except asyncio.CancelledError:
            pass   # the proxy is stopping: the connection just closes
        finally:
            for w in (cwriter, uwriter):
                w.close()

    server = await asyncio.start_server(handle, sock=sock)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()


def _children(args, sock):
    """Forks args.procs children that all accept on sock (each connection lives in the one
    that accepted it): one asyncio loop costs about a millisecond of CPU per proxied request,
    so a single process would cap a fast client near a thousand requests a second."""
    pids = []
    for _ in range(args.procs):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                asyncio.run(_serve(args, sock))
            except BaseException:
                code = 1
            os._exit(code)
        pids.append(pid)
    return pids


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT to listen on")
    ap.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--delay-ms", type=float, default=50.0, help="delay each way (ms)")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1,
                    help="accepting processes (default: one per CPU)")
    args = ap.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.listen(4096)
    sock.setblocking(False)
    # The parent only forwards SIGTERM/SIGINT to the children it forked, by their pids.
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pids = _children(args, sock)
    print("ready %s:%s (%d processes)" % (host, port, len(pids)), flush=True)
    code = 0
    for pid in pids:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        if os.waitstatus_to_exitcode(status) != 0 and not stopping:
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
