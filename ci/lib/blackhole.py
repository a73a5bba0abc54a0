"""Blackholed addresses on loopback, for the Happy Eyeballs checks of interop.sh.

    python3 ci/lib/blackhole.py PORT ADDR...

Listens on each ADDR at PORT (0: one free port for all, the first ADDR's pick) with
a backlog of 0, and fills each accept queue with connections never accepted: the
kernel then drops further SYNs, and a connect waits for its time limit, as to an
address whose packets vanish. Prints the port once every queue is full, then holds
the sockets until killed.
"""
import socket
import sys
import time

# A loopback connect the kernel accepts completes at once; one still pending after
# this long had its SYN dropped: the queue is full.
SYN_DROPPED_AFTER = 0.5

port = int(sys.argv[1])
held = []
for addr in sys.argv[2:]:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    listener = socket.socket(family)
    listener.bind((addr, port))
    port = listener.getsockname()[1]
    listener.listen(0)
    held.append(listener)
    for _ in range(16):
        sock = socket.socket(family)
        sock.settimeout(SYN_DROPPED_AFTER)
        try:
            sock.connect((addr, port))
        except socket.timeout:
            break
        held.append(sock)
    else:
        sys.exit(f"the accept queue of {addr} port {port} never filled")
print(port, flush=True)
while True:
    time.sleep(3600)
