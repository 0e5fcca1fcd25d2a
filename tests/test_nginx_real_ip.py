"""Client addresses at the edge: NGINX believes X-Forwarded-For only from the proxies in
NGINX_TRUSTED_PROXIES (docs/gateway.md, "NGINX").

The stack's NGINX trusts nobody, as by default. The trusted path runs through a second
NGINX started from the stack's image and configuration, trusting the edge network (where
these tests run) as if the tests were a TLS terminator in front of it. What the gateway
received shows in its rate-limit counters: one per client address (API.md)."""

import contextlib
import ipaddress
import json
import random
import time
import uuid

import docker
import pytest
import requests

from conftest import (
    BASE_URL,
    PROJECT,
    TIMEOUT,
    container_of,
    network_of,
    wait_for_log,
    wait_until,
)


def documentation_address() -> str:
    """A new IPv6 address from the documentation prefix: a client no one else plays."""
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | random.getrandbits(64)))


def edge_network(stack: list) -> docker.models.networks.Network:
    nginx = container_of(stack, "nginx")
    return nginx.client.networks.get(network_of(nginx, "edge")[0])


def run_nginx(stack: list, trusted_proxies: str, env: dict[str, str] | None = None, **options):
    """Start an NGINX container like the stack's (image, settings plus env, mounted
    configuration)."""
    template = container_of(stack, "nginx")
    environment = dict(item.split("=", 1) for item in template.attrs["Config"]["Env"])
    environment.update(env or {})
    name = f"{PROJECT}-nginx-{uuid.uuid4().hex[:8]}"
    return template.client.containers.run(
        template.image.id,
        name=name,
        detach=True,
        environment={**environment, "NGINX_TRUSTED_PROXIES": trusted_proxies},
        volumes_from=[template.id],
        # `compose down --remove-orphans` removes it should a run be killed.
        labels={"com.docker.compose.project": PROJECT, "com.docker.compose.service": name},
        **options,
    )


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def trusting_nginx(stack):
    """Base URL and container of an NGINX that trusts the edge network as its proxies."""
    network = edge_network(stack)
    subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
    container = run_nginx(stack, subnet, network=network.name)
    try:
        url = f"http://{container.name}"
        wait_until(lambda: answers(f"{url}/nginx-health"), 30, f"{container.name} to start")
        yield url, container
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def access_log_line(container, request_id: str, since: float) -> dict:
    """NGINX's access log line of one request."""
    logs = wait_for_log([container], request_id, since)
    (line,) = [
        json.loads(line)
        for line in logs.splitlines()
        if line.startswith("{") and json.loads(line)["request_id"] == request_id
    ]
    return line


def gateway_counted(base_url: str, forwarded_for: str, request_id: str) -> tuple[int, int]:
    """Call the gateway as an anonymous client; return RateLimit-Limit and -Remaining.

    An unknown /api path: counted at the gateway, never answered by the edge cache."""
    response = requests.get(
        f"{base_url}/api/nothing",
        headers={"X-Forwarded-For": forwarded_for, "X-Request-ID": request_id},
        timeout=TIMEOUT,
    )
    assert response.status_code == 404, response.text
    return int(response.headers["RateLimit-Limit"]), int(response.headers["RateLimit-Remaining"])


def test_x_forwarded_for_from_an_untrusted_client_is_ignored(stack):
    forged = [documentation_address() for _ in range(2)]
    request_ids = [f"forged-{uuid.uuid4().hex}" for _ in forged]
    since = time.time() - 1
    counts = [
        gateway_counted(BASE_URL, address, request_id)
        for address, request_id in zip(forged, request_ids, strict=True)
    ]
    # One client, one counter at the gateway: each forged address would start a new one.
    limit = counts[0][0]
    assert [remaining for _, remaining in counts] != [limit - 1, limit - 1]
    nginx = container_of(stack, "nginx")
    for address, request_id in zip(forged, request_ids, strict=True):
        line = access_log_line(nginx, request_id, since)
        assert line["remote_addr"] == line["peer"] != address


def test_a_trusted_proxy_reports_each_client_address(trusting_nginx):
    url, container = trusting_nginx
    clients = [documentation_address() for _ in range(2)]
    request_ids = [f"trusted-{uuid.uuid4().hex}" for _ in clients]
    since = time.time() - 1
    for client, request_id in zip(clients, request_ids, strict=True):
        # A new counter per client: the gateway got the address NGINX decided on.
        limit, remaining = gateway_counted(url, client, request_id)
        assert remaining == limit - 1
    for client, request_id in zip(clients, request_ids, strict=True):
        line = access_log_line(container, request_id, since)
        assert ipaddress.ip_address(line["remote_addr"]) == ipaddress.ip_address(client)
        assert line["peer"] != line["remote_addr"]


def test_behind_trusted_proxies_the_client_is_the_last_untrusted_address(stack, trusting_nginx):
    url, container = trusting_nginx
    subnet = ipaddress.ip_network(edge_network(stack).attrs["IPAM"]["Config"][0]["Subnet"])
    client, spoofed = documentation_address(), documentation_address()
    # What the client claimed, then the client as the first proxy saw it, then a second
    # trusted proxy: only the client's own address counts.
    chain = f"{spoofed}, {client}, {next(subnet.hosts())}"
    request_id = f"chain-{uuid.uuid4().hex}"
    since = time.time() - 1
    limit, remaining = gateway_counted(url, chain, request_id)
    assert remaining == limit - 1
    line = access_log_line(container, request_id, since)
    assert ipaddress.ip_address(line["remote_addr"]) == ipaddress.ip_address(client)


@pytest.mark.parametrize("value", ["10.0.0.0/8; include /etc/passwd", "proxy.example", "*"])
def test_nginx_refuses_to_start_with_a_trusted_proxy_that_is_not_an_address(stack, value):
    container = run_nginx(stack, value, network_disabled=True)
    try:
        assert container.wait(timeout=30)["StatusCode"] != 0
        logs = container.logs().decode(errors="replace")
        assert "is not an address or CIDR" in logs
    finally:
        container.remove(force=True)
