"""Fixtures for tests that drive the whole stack through NGINX, as a client would."""

import contextlib
import os
import time
import uuid
from collections.abc import Callable

import docker
import pytest
import requests

BASE_URL = os.environ.get("BASE_URL", "http://nginx")
# The list of services (the tests image holds a copy of the repository's services.txt).
SERVICES_FILE = os.environ.get("SERVICES_FILE", "/services.txt")
PROJECT = os.environ.get("COMPOSE_PROJECT_NAME", "flotilla-test")
PASSWORD = "correct horse battery"
TIMEOUT = 10


class Api(requests.Session):
    """A requests session whose paths are relative to NGINX."""

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, BASE_URL + url, *args, **kwargs)


def services() -> list[list[str]]:
    """The rows of services.txt: name, package, database, worker, routes ("-": none)."""
    with open(SERVICES_FILE) as listed:
        lines = [line.split() for line in listed if line.strip() and not line.startswith("#")]
    return [line for line in lines if line]


def upstreams() -> list[str]:
    """The services the gateway routes to."""
    return [row[0] for row in services() if row[4] != "-"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs a service services.txt does not list fails: nothing skips quietly."""
    listed = {row[0] for row in services()}
    for item in items:
        for marker in item.iter_markers("needs"):
            if marker.args[0] not in listed:
                raise pytest.UsageError(
                    f"{item.nodeid} needs {marker.args[0]}, which services.txt does not list"
                    " (make remove-service removes such tests with their service)"
                )


@pytest.fixture
def api() -> Api:
    with Api() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def new_email() -> Callable[[], str]:
    return lambda: f"it-{uuid.uuid4().hex[:16]}@example.com"


@pytest.fixture
def account(api: Api, new_email: Callable[[], str]) -> dict:
    """A newly registered customer: its user document, password and tokens."""
    email = new_email()
    created = api.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Client"}
    )
    assert created.status_code == 201, created.text
    tokens = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {**created.json(), "password": PASSWORD, **tokens.json()}


@pytest.fixture
def auth_headers(account: dict) -> dict[str, str]:
    return bearer(account["access_token"])


@pytest.fixture(scope="session")
def stack() -> list:
    """The containers of the Compose project under test."""
    client = docker.from_env()
    containers = client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={PROJECT}"}
    )
    yield containers
    client.close()


def service_of(container) -> str:
    return container.labels["com.docker.compose.service"]


# --- Driving containers (gateway, resilience and rate-limit tests) ---------------------


def container_of(stack: list, service: str):
    """The (first) container of a Compose service."""
    return next(c for c in stack if service_of(c) == service)


def network_of(container, role: str) -> tuple[str, dict]:
    """The name and settings (its IPAddress) of the container's network named *_<role>."""
    container.reload()  # networks joined since it was listed
    networks = container.attrs["NetworkSettings"]["Networks"]
    return next((name, n) for name, n in networks.items() if name.endswith(f"_{role}"))


def run_in(container, command: list[str], **options) -> tuple[int, str]:
    """Run a command that may run twice in a container; return its exit code and output.

    Docker's exec now and then hands back none of a short process's output
    (docker/docker-py#2042): a mark printed after the command tells that from a command
    that printed nothing, and the command runs again.
    """
    script = '"$@"; echo "--exit $?--"'
    for _ in range(3):
        _, output = container.exec_run(["sh", "-c", script, "sh", *command], **options)
        printed, mark, rest = output.decode().rpartition("--exit ")
        if mark:
            return int(rest.split("--")[0]), printed.strip()
    raise AssertionError(f"{container.name}: no output from {command[0]} in three runs")


def logs_since(containers: list, since: float) -> str:
    """The log output of containers since a Unix time."""
    return "".join(
        c.logs(since=int(since), stdout=True, stderr=True).decode(errors="replace")
        for c in containers
    )


def wait_for_log(containers: list, text: str, since: float, timeout: float = 10) -> str:
    """Wait until text shows in the containers' logs (Docker delivers them a bit late)."""
    wait_until(lambda: text in logs_since(containers, since), timeout, f"{text!r} in the logs")
    return logs_since(containers, since)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll condition every half second until it holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def stack_is_healthy() -> bool:
    """Whether NGINX answers /health with 200 (every service ready)."""
    try:
        return requests.get(f"{BASE_URL}/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def wait_for_health(container, timeout: float = 60) -> None:
    """Wait for a container's own healthcheck to report healthy."""

    def healthy() -> bool:
        container.reload()
        return container.attrs["State"].get("Health", {}).get("Status") == "healthy"

    wait_until(healthy, timeout, f"{container.name} to be healthy")


@pytest.fixture(scope="session")
def start_gateway(stack: list):
    """Start extra api-gateway containers (the stack's image and settings, plus overrides).

    They join the stack's backend network, then its edge network (with `aliases`, NGINX
    balances over them too); each is removed at the end of the session at the latest."""
    template = container_of(stack, "api-gateway")
    edge, _ = network_of(template, "edge")
    backend, _ = network_of(template, "backend")
    started = []

    def start(env: dict[str, str], aliases: list[str] | None = None):
        name = f"{PROJECT}-gateway-{uuid.uuid4().hex[:8]}"
        environment = dict(item.split("=", 1) for item in template.attrs["Config"]["Env"])
        container = template.client.containers.run(
            template.image.id,
            name=name,
            detach=True,
            environment={**environment, "GUNICORN_WORKERS": "1", **env},
            network=backend,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            # `compose down --remove-orphans` removes it should a run be killed.
            labels={"com.docker.compose.project": PROJECT, "com.docker.compose.service": name},
        )
        started.append(container)
        ready = [
            "python",
            "-c",
            "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz')",
        ]
        wait_until(lambda: container.exec_run(ready).exit_code == 0, 60, f"{name} to start")
        template.client.networks.get(edge).connect(container, aliases=aliases)
        return container

    yield start
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):  # a test removed it already
            container.remove(force=True)


# --- Catalog and orders (docs/orders.md) ---------------------------------------------------


def login_headers(email: str, password: str) -> dict[str, str]:
    """Log in through NGINX; return the bearer header."""
    response = requests.post(
        f"{BASE_URL}/api/auth/login", json={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def register_customer() -> dict:
    """Register and log in a new customer; return its user document and auth headers."""
    email = f"it-{uuid.uuid4().hex[:16]}@example.com"
    created = requests.post(
        f"{BASE_URL}/api/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Customer"},
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    return {**created.json(), "headers": login_headers(email, PASSWORD)}


@pytest.fixture(scope="module")
def admin_headers() -> dict[str, str]:
    """The configured first admin's bearer header."""
    return login_headers(os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"])


@pytest.fixture
def make_product(api: Api, admin_headers: dict[str, str]) -> Callable[..., dict]:
    """Create a product (unique SKU) as the admin; return it."""

    def make(**fields) -> dict:
        body = {
            "sku": f"IT-{uuid.uuid4().hex[:20]}",
            "name": f"Test product {uuid.uuid4().hex[:12]}",
            "price_cents": 500,
            "stock": 10,
            **fields,
        }
        response = api.post("/api/products", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


_reader: dict = {}


def reader_headers() -> dict[str, str]:
    """A customer's bearer header, renewed long before it expires: a read that carries it
    passes NGINX's edge cache (API.md, "Edge cache")."""
    if not _reader or time.monotonic() - _reader["at"] > 300:
        _reader.update(headers=register_customer()["headers"], at=time.monotonic())
    return _reader["headers"]


def stock_of(product: dict) -> int:
    """Return a product's stock from the database: searched by name, so never from
    product-service's cache, and with a token, so never from the edge cache."""
    response = requests.get(
        f"{BASE_URL}/api/products",
        params={"limit": 100, "q": product["name"]},
        headers=reader_headers(),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return next(p["stock"] for p in response.json()["items"] if p["id"] == product["id"])


def wait_until_healthy(timeout: float = 120) -> None:
    """Wait until NGINX's /health says every service is ready again."""
    wait_until(stack_is_healthy, timeout, "the stack to be healthy")
