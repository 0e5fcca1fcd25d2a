"""The stack itself: ports, users, secrets, networks and data that survives restarts."""

from conftest import (
    PASSWORD,
    bearer,
    container_of,
    run_in,
    service_of,
    wait_for_health,
    wait_until_healthy,
)


def python_containers(stack: list) -> list:
    """Every container running one of our images: services and their workers."""
    found = [
        c for c in stack if any(e.startswith("SERVICE_NAME=") for e in c.attrs["Config"]["Env"])
    ]
    assert len(found) >= 6, [service_of(c) for c in found]
    return found


def test_only_nginx_publishes_a_port(stack):
    published = {
        service_of(c): bindings
        for c in stack
        for port, bindings in (c.attrs["NetworkSettings"]["Ports"] or {}).items()
        if bindings
    }
    assert set(published) == {"nginx"}
    assert all(b["HostIp"] == "127.0.0.1" for b in published["nginx"])


def test_python_services_run_as_an_unprivileged_user(stack):
    for container in python_containers(stack):
        exit_code, output = run_in(container, ["id", "-u"])
        assert exit_code == 0 and output.isdigit() and output != "0", service_of(container)


def test_no_secret_is_baked_into_an_image(stack):
    for container in python_containers(stack):
        image_env = container.image.attrs["Config"].get("Env") or []
        names = [entry.split("=", 1)[0] for entry in image_env]
        assert not [n for n in names if "PASSWORD" in n or "SECRET" in n or "KEY" in n]


def test_databases_sit_on_an_internal_network(stack):
    postgres = container_of(stack, "postgres")
    networks = postgres.attrs["NetworkSettings"]["Networks"]
    assert [name.rsplit("_", 1)[-1] for name in networks] == ["data"]
    for network in postgres.client.networks.list(names=list(networks)):
        assert network.attrs["Internal"] is True


def test_users_survive_a_database_restart(api, account, stack):
    postgres = container_of(stack, "postgres")
    postgres.restart(timeout=10)
    # Its own healthcheck first: a restart can take under a second, less than the gateway
    # keeps /health's answer, which could then still be the one from before it.
    wait_for_health(postgres)
    wait_until_healthy()
    # Pooled connections died with the server; the first requests must still succeed.
    for _ in range(3):
        login = api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert api.get("/api/users/me", headers=bearer(login.json()["access_token"])).ok


def test_redis_refuses_clients_without_the_password(stack):
    redis = container_of(stack, "redis")
    _, output = run_in(redis, ["redis-cli", "ping"], environment={"REDISCLI_AUTH": ""})
    assert "NOAUTH" in output
    _, output = run_in(redis, ["redis-cli", "-a", "wrong-password", "--no-auth-warning", "ping"])
    assert "WRONGPASS" in output and "PONG" not in output
