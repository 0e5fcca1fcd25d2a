"""Requests in flight while their server stops (scripts/test-prod): python - HOST PORT PATH [tls].

Opens connections, sends each request but its last header line, prints READY and waits
until the file /sync/go appears; meanwhile the caller stops the server (SIGTERM, or NGINX's
SIGQUIT), then creates the file. Then it finishes the requests: a graceful shutdown answers
every one of them. Prints one line per request and exits non-zero when any failed.
Standard library only: it runs in any of our images.
"""

import os
import socket
import ssl
import sys
import time

CONNECTIONS = 3
GO = "/sync/go"
WAIT_SECONDS = 60


def open_connection(host: str, port: int, tls: bool) -> socket.socket:
    """Connect, over TLS without checking the (self-signed) certificate when asked."""
    sock = socket.create_connection((host, port), timeout=30)
    if not tls:
        return sock
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(sock, server_hostname=host)


def status_of(sock: socket.socket) -> int:
    """Read the whole answer (the server closes the connection) and return its status."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def main(host: str, port: int, path: str, tls: bool) -> int:
    """Hold CONNECTIONS requests open across the server's stop; 0 when all were answered."""
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Request-ID: in-flight\r\n".encode()
    connections = [open_connection(host, port, tls) for _ in range(CONNECTIONS)]
    for sock in connections:
        sock.sendall(head)
    print("READY", flush=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while not os.path.exists(GO) and time.monotonic() < deadline:
        time.sleep(0.1)
    failed = 0
    for number, sock in enumerate(connections, 1):
        try:
            sock.sendall(b"Connection: close\r\n\r\n")
            status = status_of(sock)
        except OSError as error:
            status, failed = 0, failed + 1
            print(f"request {number}: {error!r}", flush=True)
            continue
        failed += not 200 <= status < 300
        print(f"request {number}: {status}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:] == ["tls"]))
