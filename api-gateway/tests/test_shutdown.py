"""Stopping: gunicorn with our settings and worker, as the image runs it, told to stop
(SIGTERM) with a shutdown delay, as under Docker Swarm (docker-stack.yml)."""

import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

DELAY_SECONDS = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(connection: http.client.HTTPConnection) -> tuple[int, str | None]:
    """GET /livez on connection; its status and Connection header."""
    connection.request("GET", "/livez")
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("Connection")


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen, int]]:
    """A second gateway server in this container: one worker, its own port and metrics."""
    port = _free_port()
    env = os.environ | {
        "PORT": str(port),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_SHUTDOWN_DELAY": str(DELAY_SECONDS),
        "GUNICORN_RELOAD": "false",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(),  # not the live gateway's
    }
    command = ["gunicorn", "--config", "python:flotilla.gunicorn_conf", "gateway:create_app()"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            _get(http.client.HTTPConnection("127.0.0.1", port, timeout=5))
            break
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield process, port
    process.kill()
    process.wait()


def test_a_stopping_server_answers_new_connections_for_its_shutdown_delay(server):
    process, port = server
    kept_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert _get(kept_alive) == (200, "keep-alive")
    # The worker parks the connection for its next request only after the answer has left;
    # parked after SIGTERM, it would be closed at once (keep-alive is off while draining).
    time.sleep(0.5)

    told_to_stop = time.monotonic()
    process.send_signal(signal.SIGTERM)
    time.sleep(DELAY_SECONDS / 2)
    # Clients that looked the server up before it left service discovery still reach it,
    # and every answer tells them to open their next connection elsewhere.
    assert _get(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) == (200, "close")
    assert _get(kept_alive) == (200, "close")

    assert process.wait(timeout=30) == 0
    assert time.monotonic() - told_to_stop >= DELAY_SECONDS


@pytest.mark.parametrize("delay", ["11", "-1", "soon"])
def test_a_shutdown_delay_that_leaves_no_time_to_drain_stops_the_start(delay):
    env = os.environ | {"GUNICORN_SHUTDOWN_DELAY": delay}
    command = ["python", "-c", "import flotilla.gunicorn_conf"]
    started = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert started.returncode != 0
    assert "GUNICORN_SHUTDOWN_DELAY must be" in started.stderr.splitlines()[-1]
