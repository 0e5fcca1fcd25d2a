"""The gateway's fixtures; config, app and client come from the flotilla plugin and talk to
the real services of the test stack."""

import itertools
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from flotilla_testing.accounts import PASSWORD, bearer


@pytest.fixture
def auth_headers(client: FlaskClient) -> dict[str, str]:
    """Register a new customer through the gateway and return its bearer header."""
    email = f"gw-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Gateway"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    tokens = client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json
    return bearer(tokens["access_token"])


@dataclass
class Received:
    """One request as a stub upstream read it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int  # which TCP connection (1, 2, ...) carried it

    def header(self, name: str) -> str | None:
        """Return the value of a header (None when it was not sent)."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


# A stub's answer to a request: raw bytes to send, or None to close the connection unanswered.
Reply = Callable[[Received], bytes | None]


def answer(status: str = "200 OK", headers: dict[str, str] | None = None, body: bytes = b"{}"):
    """Return the bytes of an HTTP/1.1 answer with a JSON body."""
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class StubUpstream:
    """An HTTP/1.1 server in the test process that answers with whatever bytes `reply`
    returns, keeps connections alive (unless `close`), and records every request it read."""

    def __init__(self, reply: Reply, *, close: bool = False) -> None:
        self.reply = reply
        self.close_after_reply = close
        self.received: list[Received] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections = itertools.count(1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            number = next(self._connections)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn, conn.makefile("rb") as stream:
            while (received := self._read(stream, number)) is not None:
                self.received.append(received)
                reply = self.reply(received)
                if reply is None:
                    return
                conn.sendall(reply)
                if self.close_after_reply:
                    return

    @staticmethod
    def _read(stream, number: int) -> Received | None:
        request_line = stream.readline().decode("latin-1").strip()
        if not request_line:
            return None
        method, target, _ = request_line.split(" ", 2)
        headers = []
        while (line := stream.readline().decode("latin-1").rstrip("\r\n")) != "":
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        length = int(next((v for k, v in headers if k.lower() == "content-length"), 0))
        return Received(method, target, headers, stream.read(length), number)

    def close(self) -> None:
        """Stop accepting connections."""
        self._listener.close()


@pytest.fixture
def stub_upstream():
    """Start stub upstreams: stub_upstream(reply) → StubUpstream; closed after the test."""
    stubs = []

    def start(reply: Reply = lambda _: answer(), *, close: bool = False) -> StubUpstream:
        stubs.append(StubUpstream(reply, close=close))
        return stubs[-1]

    yield start
    for stub in stubs:
        stub.close()


@pytest.fixture
def gateway_to(config, app_with):
    """A gateway whose user-service (/api/auth, /api/users) is the given base URL."""

    def build(url: str, **changes):
        return app_with(upstreams={**config.upstreams, "user-service": url}, **changes)

    return build
