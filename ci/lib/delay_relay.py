#!/usr/bin/env python3
"""A TCP relay on loopback that makes a link with a round-trip time: bench/bench.sh's
stand-in for `tc qdisc ... netem delay`, which this machine's kernel does not have.

    python3 ci/lib/delay_relay.py --rtt-ms 50 --port-file FILE TARGET_PORT...

For each TARGET_PORT it listens on a free port of 127.0.0.1 (the kernel picks it) and
forwards every connection to 127.0.0.1:TARGET_PORT. Once all listen, FILE gets one line
"TARGET_PORT RELAY_PORT" per target (written to FILE.tmp, then renamed, so a reader
never sees half of it). Python 3.11, standard library only.

What the link looks like to a client, with d = RTT/2:

- Every byte reaches the other side d after the relay read it, in order, in both
  directions; no rate limit (bytes are forwarded as they come, delayed, not paced).
- Set-up: on loopback a client's connect() returns at once, where on a real link it
  takes one round trip (SYN out, SYN-ACK back) before the client can send. So the
  relay holds what the client sends until one RTT after the accept: a byte the client
  sent at t reaches the server at max(t, t_accept + RTT) + d.
- A FIN (shutdown or close) is passed on d after it arrives, after the bytes before it;
  a reset or error on either side closes both sides.

The upstream connection is made at accept (loopback: at once), so the server sees its
accept early; servers that speak first (TLS and HTTP clients speak first) would see
their first bytes delayed by d only. It logs nothing per connection or byte; errors of
one connection close that connection and are not printed. SIGTERM and SIGINT stop it:
listeners and connections are closed, exit status 0.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys

# Bytes read from a socket at a time: no rate limit, only a bound on one read.
READ_SIZE = 64 * 1024


class Direction:
    """One direction of one connection: what was read, each chunk with the time it is
    due at the other side, written in order by its own task."""

    def __init__(self, loop, delay, hold_until, writer):
        self.loop = loop
        self.delay = delay
        # No byte leaves before this time (the client's side of the TCP handshake).
        self.hold_until = hold_until
        self.writer = writer
        self.queue = asyncio.Queue()

    def put(self, data):
        """Queues `data` (b"" for the FIN) as read now."""
        due = max(self.loop.time(), self.hold_until) + self.delay
        self.queue.put_nowait((due, data))

    async def send(self):
        """Writes each chunk at its time; at the FIN, shuts the write side down."""
        while True:
            due, data = await self.queue.get()
            wait = due - self.loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                return
            self.writer.write(data)
            await self.writer.drain()


async def pump(reader, direction):
    """Reads until EOF, queueing each chunk (and then the FIN) on `direction`."""
    while True:
        data = await reader.read(READ_SIZE)
        direction.put(data)
        if not data:
            return


async def relay(client_reader, client_writer, target_port, rtt):
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    delay = rtt / 2
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.transport.abort()
        return
    for writer in (client_writer, server_writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    upstream = Direction(loop, delay, accepted + rtt, server_writer)
    downstream = Direction(loop, delay, accepted, client_writer)
    tasks = [
        asyncio.ensure_future(pump(client_reader, upstream)),
        asyncio.ensure_future(upstream.send()),
        asyncio.ensure_future(pump(server_reader, downstream)),
        asyncio.ensure_future(downstream.send()),
    ]
    try:
        # Done when both directions delivered their FIN; a failure anywhere ends it all.
        await asyncio.gather(*tasks)
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client_writer.close()
        server_writer.close()


async def main(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rtt = args.rtt_ms / 1000.0
    connections = set()

    def handler(port):
        def on_accept(reader, writer):
            task = asyncio.ensure_future(relay(reader, writer, port, rtt))
            connections.add(task)
            task.add_done_callback(connections.discard)
        return on_accept

    servers, lines = [], []
    for port in args.target_ports:
        server = await asyncio.start_server(handler(port), "127.0.0.1", 0, backlog=512)
        servers.append(server)
        lines.append(f"{port} {server.sockets[0].getsockname()[1]}\n")
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.replace(tmp, args.port_file)

    await stop.wait()
    for server in servers:
        server.close()
    for task in list(connections):
        task.cancel()
    await asyncio.gather(*connections, return_exceptions=True)


def parse():
    p = argparse.ArgumentParser(description="TCP relay on 127.0.0.1 adding a round-trip time")
    p.add_argument("--rtt-ms", type=float, required=True, help="round-trip time to add, ms")
    p.add_argument("--port-file", required=True, help="where to write TARGET RELAY port pairs")
    p.add_argument("target_ports", type=int, nargs="+", metavar="TARGET_PORT")
    args = p.parse_args()
    if args.rtt_ms < 0:
        p.error("--rtt-ms must be 0 or more")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
    sys.exit(0)
