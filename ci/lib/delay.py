"""A loopback TCP relay that delays what the server sends, for the early-data checks
of interop.sh.

    python3 ci/lib/delay.py UPSTREAM_PORT DELAY_MS

Listens on 127.0.0.1 (a free port, printed once listening) and relays each
connection to 127.0.0.1:UPSTREAM_PORT: what the client sends at once, what the
server sends DELAY_MS after it arrived (in order). A TLS 1.3 client then ends the
handshake (EndOfEarlyData, Finished) at least DELAY_MS after the server's flight
left, as on a link with latency, so the server has read the early data sent with
the ClientHello, and acted on it, before the handshake ends. nginx's
$ssl_early_data is "1" only while the handshake is not finished: over bare
loopback a fast client often finishes it before nginx gets to the request, and the
log would not show the early data it did receive. Runs until killed.
"""
import collections
import socket
import sys
import threading
import time

upstream_port = int(sys.argv[1])
delay = int(sys.argv[2]) / 1000.0


def forward(src, dst):
    """Client to server, at once; the end of the stream is passed on."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def delayed(src, dst):
    """Server to client, each piece DELAY_MS after it arrived; b"" is the end."""
    queue = collections.deque()
    ready = threading.Condition()

    def sender():
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, data = queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    out = threading.Thread(target=sender, daemon=True)
    out.start()
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        with ready:
            queue.append((time.monotonic() + delay, data))
            ready.notify()
        if not data:
            break
    out.join()


def relay(client):
    with client:
        try:
            server = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            return
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with server:
            up = threading.Thread(target=forward, args=(client, server), daemon=True)
            up.start()
            delayed(server, client)
            up.join()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=relay, args=(conn,), daemon=True).start()
