"""gunicorn with flotilla's settings and worker, as every image runs it: metrics summed over
its workers, a stop that serves on for the shutdown delay (docker-stack.yml), and an idle
server that exits within STOP_SECONDS of SIGTERM."""

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from flotilla_testing.metrics import REQUESTS, samples, value

DELAY_SECONDS = 2.0
STOP_SECONDS = 2.0
LIVEZ = {"method": "GET", "route": "/livez", "status": "200"}


class Server:
    """A gunicorn serving tests/probe.py on a port and a metrics directory of its own."""

    def __init__(self, tmp_path: Path, app: str = "probe:create_app()", **settings: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.metrics_dir = tmp_path / "metrics"
        env = os.environ | {
            "PORT": str(self.port),
            "PYTHONPATH": str(Path(__file__).parent),
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            **settings,
        }
        command = ["gunicorn", "--config", "python:flotilla.gunicorn_conf", app]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)

    def answers(self) -> bool:
        """Tell whether /livez answers."""
        try:
            return requests.get(f"{self.url}/livez", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def scrape(self) -> dict:
        """Scrape /metrics as Prometheus would: whichever worker answers, the sum of all."""
        response = requests.get(f"{self.url}/metrics", timeout=10)
        assert response.status_code == 200
        return samples(response.text)

    def livez_counts_per_worker(self) -> dict[int, float]:
        """Return, per worker (pid), how many /livez it counted: its own metrics file."""
        counts = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            families = MultiProcessCollector.merge([str(path)])
            counts[int(path.stem.removeprefix("counter_"))] = sum(
                sample.value
                for family in families
                for sample in family.samples
                if sample.name == REQUESTS and sample.labels == LIVEZ
            )
        return counts

    def hit(self, count: int) -> None:
        """Send `count` GETs of /livez at once, each on a new connection."""

        def get(_: int) -> int:
            headers = {"Connection": "close"}
            return requests.get(f"{self.url}/livez", headers=headers, timeout=10).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(get, range(count))) == {200}

    def stop(self) -> None:
        """Kill it, if it still runs."""
        self.process.kill()
        self.process.wait()


def until(condition: Callable[[], bool], seconds: float = 20) -> bool:
    """Wait until condition() holds; return whether it did."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    """Two workers, as in every container."""
    started = Server(tmp_path, GUNICORN_WORKERS="2")
    assert until(started.answers, 30), "gunicorn did not start"
    yield started
    started.stop()


@pytest.fixture
def draining_server(tmp_path) -> Iterator[Server]:
    """One worker that serves on for DELAY_SECONDS after SIGTERM."""
    started = Server(tmp_path, GUNICORN_WORKERS="1", GUNICORN_SHUTDOWN_DELAY=str(DELAY_SECONDS))
    assert until(started.answers, 30), "gunicorn did not start"
    yield started
    started.stop()


def test_metrics_add_up_over_the_workers(server):
    before = value(server.scrape(), REQUESTS, **LIVEZ)
    counts_before = server.livez_counts_per_worker()
    sent, served_by = 0, []
    # Until at least two workers have answered some (the kernel picks who accepts).
    while sent < 2000 and len(served_by) < 2:
        server.hit(40)
        sent += 40
        counts = server.livez_counts_per_worker()
        served_by = [pid for pid in counts if counts[pid] > counts_before.get(pid, 0)]
    assert len(served_by) >= 2, f"one worker answered all {sent}"
    for _ in range(4):  # whichever worker answers the scrape
        assert value(server.scrape(), REQUESTS, **LIVEZ) - before == sent


def test_metrics_survive_a_dead_worker(server):
    server.hit(20)
    total = value(server.scrape(), REQUESTS, **LIVEZ)
    workers = [pid for pid, count in server.livez_counts_per_worker().items() if count]
    os.kill(workers[0], signal.SIGKILL)
    # gunicorn's master reaps it and child_exit drops its live gauge (in flight)...
    gauge = server.metrics_dir / f"gauge_livesum_{workers[0]}.db"
    assert until(lambda: not gauge.exists()), "child_exit did not mark the worker dead"
    # ...while its counts stay in the totals: a counter never goes back.
    assert value(server.scrape(), REQUESTS, **LIVEZ) == total


def _get(connection: http.client.HTTPConnection) -> tuple[int, str | None]:
    """GET /livez on connection; its status and Connection header."""
    connection.request("GET", "/livez")
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader("Connection")


def test_a_stopping_server_answers_new_connections_for_its_shutdown_delay(draining_server):
    port = draining_server.port
    kept_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert _get(kept_alive) == (200, "keep-alive")
    # The worker parks the connection for its next request only after the answer has left;
    # parked after SIGTERM, it would be closed at once (keep-alive is off while draining).
    time.sleep(0.5)

    told_to_stop = time.monotonic()
    draining_server.process.send_signal(signal.SIGTERM)
    time.sleep(DELAY_SECONDS / 2)
    # Clients that looked the server up before it left service discovery still reach it,
    # and every answer tells them to open their next connection elsewhere.
    assert _get(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) == (200, "close")
    assert _get(kept_alive) == (200, "close")

    assert draining_server.process.wait(timeout=30) == 0
    assert time.monotonic() - told_to_stop >= DELAY_SECONDS


@pytest.mark.parametrize("delay", ["11", "-1", "soon"])
def test_a_shutdown_delay_that_leaves_no_time_to_drain_stops_the_start(delay):
    env = os.environ | {"GUNICORN_SHUTDOWN_DELAY": delay}
    command = ["python", "-c", "import flotilla.gunicorn_conf"]
    started = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert started.returncode != 0
    assert "GUNICORN_SHUTDOWN_DELAY must be" in started.stderr.splitlines()[-1]


@pytest.fixture
def hanging_lookup_server(tmp_path) -> Iterator[Server]:
    """Two workers whose lookups of names ending in probe.SLOW_SUFFIX take 30 s to fail."""
    started = Server(tmp_path, GUNICORN_WORKERS="2", PROBE_LOOKUP_SECONDS="30")
    assert until(started.answers, 30), "gunicorn did not start"
    yield started
    started.stop()


def test_an_idle_server_exits_at_once_although_a_lookup_still_hangs(hanging_lookup_server):
    # Each worker answers at once (the lookup's timeout) while its lookup thread hangs on.
    for _ in range(4):
        response = requests.get(
            f"{hanging_lookup_server.url}/probe/lookup/redis.slow.invalid",
            headers={"Connection": "close"},
            timeout=5,
        )
        assert response.json() == {"resolved": False}

    told_to_stop = time.monotonic()
    hanging_lookup_server.process.send_signal(signal.SIGTERM)
    assert hanging_lookup_server.process.wait(timeout=30) == 0
    assert time.monotonic() - told_to_stop < STOP_SECONDS


def test_a_worker_that_cannot_load_the_app_still_stops_the_server(tmp_path):
    # The worker's exit code tells the master not to start it again, and to stop.
    started = Server(tmp_path, app="probe:no_such_app()", GUNICORN_WORKERS="1")
    try:
        assert started.process.wait(timeout=30) != 0
    finally:
        started.stop()
