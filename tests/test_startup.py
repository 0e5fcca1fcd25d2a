"""Start-up work runs once per container, outside the app factory, and replicas that start
together all come up (docs/architecture.md: "How a service starts")."""

import contextlib
import uuid
from datetime import datetime

import docker
import pytest

from conftest import PROJECT, container_of, service_of, wait_for_health

MIGRATED = '"message": "migrations up to date"'


def _env(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def _started_at(container) -> int:
    container.reload()
    # Docker gives nanoseconds; fromisoformat takes at most microseconds on Python 3.11.
    stamp = container.attrs["State"]["StartedAt"][:26].rstrip("Z")
    return int(datetime.fromisoformat(stamp + "+00:00").timestamp())


def _migration_lines(container) -> int:
    logs = container.logs(since=_started_at(container)).decode(errors="replace")
    return logs.count(MIGRATED)


def test_every_container_with_a_database_migrates_once_not_once_per_worker(stack):
    with_database = [c for c in stack if "DB_NAME" in _env(c)]
    assert len(with_database) >= 5  # three services and their workers at least
    for container in with_database:
        assert _migration_lines(container) == 1, service_of(container)


@pytest.fixture
def replicas(stack):
    """Three more product-service containers, created first and then started at once."""
    template = container_of(stack, "product-service")
    networks = list(template.attrs["NetworkSettings"]["Networks"])
    created = []
    for _ in range(3):
        container = template.client.containers.create(
            template.image.id,
            name=f"{PROJECT}-replica-{uuid.uuid4().hex[:8]}",
            environment=_env(template),
            network=networks[0],
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            labels={"com.docker.compose.project": PROJECT},
        )
        for network in networks[1:]:
            template.client.networks.get(network).connect(container)
        created.append(container)
    yield created
    for container in created:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def test_three_replicas_started_together_all_become_healthy(replicas):
    for container in replicas:
        container.start()
    for container in replicas:
        wait_for_health(container, timeout=90)
        assert _migration_lines(container) == 1, container.name
