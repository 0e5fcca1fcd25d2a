"""Each credential is refused what its holder must not do: Redis ACL users per client, and
RabbitMQ users per service (rabbitmq/definitions.sh).

Redis: run inside the Redis containers with each user's own password from that container's
environment, as the client holding it would connect. RabbitMQ: from here, on the backend
network, with each service's password (docker-compose.test.yml)."""

import json
import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pika
import pika.exceptions
import pytest

from conftest import container_of, run_in


def redis_cli(container, user: str, password_variable: str, *command: str) -> str:
    """Run one command as an ACL user; return what redis-cli printed."""
    script = f'redis-cli --no-auth-warning --user {user} --pass "${password_variable}" "$@"'
    return run_in(container, ["sh", "-c", script, "redis-cli", *command])[1]


@pytest.fixture(scope="module")
def redis(stack):
    return container_of(stack, "redis")


@pytest.fixture(scope="module")
def session_store(stack):
    return container_of(stack, "session-store")


def gateway(redis, *command: str) -> str:
    return redis_cli(redis, "gateway", "REDIS_GATEWAY_PASSWORD", *command)


def products(redis, *command: str) -> str:
    return redis_cli(redis, "products", "REDIS_PRODUCTS_PASSWORD", "-n", "1", *command)


def storefront(session_store, *command: str) -> str:
    return redis_cli(session_store, "storefront", "REDIS_STOREFRONT_PASSWORD", *command)


def test_the_gateway_counts_its_limits_and_nothing_else(redis):
    assert gateway(redis, "PING") == "PONG"
    assert gateway(redis, "INCR", "ratelimit:credentials-test").isdigit()
    assert "NOPERM" in gateway(redis, "GET", "ratelimit:credentials-test")  # only its script's
    assert "NOPERM" in gateway(redis, "INCR", "product:1:version")
    for command in (["FLUSHALL"], ["KEYS", "*"], ["CONFIG", "GET", "*"], ["DEL", "ratelimit:x"]):
        assert "NOPERM" in gateway(redis, *command), command


def test_the_product_cache_touches_product_keys_only(redis):
    assert products(redis, "SET", "product:credentials-test", "{}", "EX", "5") == "OK"
    assert "NOPERM" in products(redis, "SET", "ratelimit:anyone", "0")  # wipe someone's limit
    assert "NOPERM" in products(redis, "DEL", "ratelimit:anyone")
    for command in (["FLUSHDB"], ["KEYS", "*"], ["CONFIG", "SET", "maxmemory", "1"]):
        assert "NOPERM" in products(redis, *command), command


def test_the_storefront_reaches_its_sessions_only(session_store):
    key = "storefront:session:credentials-test"
    assert storefront(session_store, "SET", key, "{}", "EX", "5") == "OK"
    assert "NOPERM" in storefront(session_store, "SET", "ratelimit:x", "0")
    for command in (["FLUSHALL"], ["KEYS", "*"], ["SCAN", "0"], ["CONFIG", "GET", "*"]):
        assert "NOPERM" in storefront(session_store, *command), command


def test_the_session_store_never_evicts_and_the_cache_does(redis, session_store):
    admin = 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" CONFIG GET maxmemory-policy'
    assert "noeviction" in run_in(session_store, ["sh", "-c", admin])[1]
    assert "volatile-lru" in run_in(redis, ["sh", "-c", admin])[1]


def test_the_storefront_cannot_reach_the_cache_nor_the_limits(stack):
    storefront_container = container_of(stack, "storefront")
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('redis', 6379), timeout=3)\n"
        "    print('reached')\n"
        "except OSError:\n"
        "    print('refused')\n"
    )
    assert run_in(storefront_container, ["python", "-c", probe])[1] == "refused"


# --- RabbitMQ ------------------------------------------------------------------------------

EVENTS = "flotilla.events"
QUEUE = "notification-service"
ACCESS_REFUSED = 403
PUBLISHERS = ["user-service", "order-service"]


def rabbitmq_url(user: str) -> str:
    own = f"RABBITMQ_{user.upper().replace('-', '_')}_PASSWORD"
    variable = "RABBITMQ_PASSWORD" if user == "flotilla" else own
    return f"amqp://{user}:{quote(os.environ[variable], safe='')}@rabbitmq:5672/%2F"


@pytest.fixture
def rabbitmq() -> Iterator[Callable[[str], pika.adapters.blocking_connection.BlockingChannel]]:
    """Open a channel (publisher confirms on) as a RabbitMQ user; closed after the test."""
    connections: list[pika.BlockingConnection] = []

    def channel_of(user: str):
        connections.append(pika.BlockingConnection(pika.URLParameters(rabbitmq_url(user))))
        channel = connections[-1].channel()
        channel.confirm_delivery()
        return channel

    yield channel_of
    for connection in connections:
        if connection.is_open:
            connection.close()


def refused(action: Callable[[], object]) -> bool:
    """True if RabbitMQ refused the action (ACCESS_REFUSED closes the channel)."""
    try:
        action()
    except pika.exceptions.ChannelClosedByBroker as error:
        assert error.reply_code == ACCESS_REFUSED, error
        return True
    return False


def message(kind: str = "test.credentials") -> tuple[str, bytes]:
    event = {"id": str(uuid.uuid4()), "type": kind, "data": {}}
    return kind, json.dumps(event).encode()


@pytest.mark.parametrize("user", PUBLISHERS)
def test_a_publisher_publishes_events_and_can_do_nothing_else(rabbitmq, user):
    kind, body = message()
    rabbitmq(user).basic_publish(EVENTS, kind, body)  # confirmed: allowed
    consumer_queues = (QUEUE, f"{QUEUE}.retry", f"{QUEUE}.dead")
    for queue in consumer_queues:
        assert refused(lambda q=queue: rabbitmq(user).basic_get(q)), queue
        assert refused(lambda q=queue: rabbitmq(user).basic_consume(q, lambda *a: None)), queue
        assert refused(lambda q=queue: rabbitmq(user).queue_purge(q)), queue
        assert refused(lambda q=queue: rabbitmq(user).queue_delete(q)), queue
    # Nor send anything straight into a consumer's queues, nor reshape the topology.
    assert refused(lambda: rabbitmq(user).basic_publish("", QUEUE, body))
    assert refused(lambda: rabbitmq(user).basic_publish(f"{QUEUE}.retry", QUEUE, body))
    assert refused(lambda: rabbitmq(user).basic_publish("flotilla.dead", QUEUE, body))
    assert refused(lambda: rabbitmq(user).queue_bind(QUEUE, EVENTS, routing_key="#"))
    assert refused(lambda: rabbitmq(user).exchange_delete(EVENTS))
    assert refused(lambda: rabbitmq(user).queue_declare(f"tests.{uuid.uuid4().hex}"))
    for queue in consumer_queues:
        rabbitmq(user).queue_declare(queue, passive=True)  # all still there


def test_the_consumer_cannot_publish_events_only_retry_its_own(rabbitmq):
    user = "notification-service"
    kind, body = message("order.confirmed")
    assert refused(lambda: rabbitmq(user).basic_publish(EVENTS, kind, body))
    assert refused(lambda: rabbitmq(user).basic_publish("", QUEUE, body))  # the default exchange
    assert refused(lambda: rabbitmq(user).basic_publish("flotilla.dead", QUEUE, body))
    assert refused(lambda: rabbitmq(user).queue_bind(QUEUE, EVENTS, routing_key="#"))
    assert refused(lambda: rabbitmq(user).basic_get(f"{QUEUE}.retry"))
    for queue in (QUEUE, f"{QUEUE}.retry", f"{QUEUE}.dead"):
        assert refused(lambda q=queue: rabbitmq(user).queue_delete(q)), queue
    assert refused(lambda: rabbitmq(user).exchange_delete(f"{QUEUE}.retry"))
    assert refused(lambda: rabbitmq(user).queue_declare(f"tests.{uuid.uuid4().hex}"))
    # What it needs: its queue and dead letters (taken back unacknowledged with the
    # connection), and its own retry exchange (a key it does not route: no message moves).
    rabbitmq(user).basic_get(QUEUE)
    rabbitmq(user).basic_get(f"{QUEUE}.dead")
    rabbitmq(user).basic_publish(f"{QUEUE}.retry", "tests.nowhere", body)


def test_the_retry_exchange_reaches_its_consumer_queue_and_retry_queue_alone(rabbitmq):
    channel = rabbitmq("flotilla")
    _, body = message()
    for key in (f"{QUEUE}.dead", "user-service", "tests.anything"):
        with pytest.raises(pika.exceptions.UnroutableError):
            channel.basic_publish(f"{QUEUE}.retry", key, body, mandatory=True)
