"""A TLS 1.2 server that asks for renegotiation in the middle of a request.

    python3 ci/lib/renegotiate.py CERT KEY CA PORT -- FETCH [ARGS...]

Starts `openssl s_server -tls1_2` on 127.0.0.1:PORT, runs FETCH --cacert CA against
it, and once the request has arrived types `R` (send a HelloRequest) into the
server, then an HTTP answer. tinyhttps (rustls) refuses renegotiation; the check is
that the client ends promptly with a clear error line and a non-zero exit, never a
hang and never a body. Prints one line `outcome: ...` and exits 0 when that holds.
"""
import subprocess
import sys
import time


def main():
    cert, key, ca, port = sys.argv[1:5]
    fetch = sys.argv[6:]
    server = subprocess.Popen(
        ["openssl", "s_server", "-tls1_2", "-accept", port, "-cert", cert, "-key", key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)
        client = subprocess.Popen(
            fetch + ["--cacert", ca, "--max-time", "20", f"https://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3.0)  # handshake and request (slow under qemu)
        try:
            server.stdin.write(b"R\n")
            server.stdin.flush()
            time.sleep(1.0)
            server.stdin.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            server.stdin.flush()
        except BrokenPipeError:
            pass
        try:
            out, err = client.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            client.kill()
            print("outcome: FAIL: the client hung")
            return 1
        err = err.decode(errors="replace").strip()
        if client.returncode != 0 and err.startswith("error: TLS") and not out:
            print(f"outcome: renegotiation refused, clear error: {err}")
            return 0
        print(f"outcome: FAIL: exit {client.returncode}, stdout {out!r}, stderr {err!r}")
        return 1
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
