"""Alerts reach a person: a stopped service fires TargetDown in Alertmanager, which mails it
(to MailDev here), and mails again when the service is back (docs/operations.md). The test
stack's Prometheus and Alertmanager count in seconds (docker-compose.test.yml)."""

import pytest
import requests

from conftest import container_of, wait_for_health, wait_until, wait_until_healthy

pytestmark = pytest.mark.needs("product-service")

ALERTMANAGER = "http://alertmanager:9093"
MAILDEV = "http://maildev:1080"
SERVICE = "product-service"


def target_down_active() -> bool:
    """Whether Alertmanager holds an active TargetDown alert for the service."""
    alerts = requests.get(
        f"{ALERTMANAGER}/api/v2/alerts",
        params={"filter": ['alertname="TargetDown"', f'job="{SERVICE}"'], "active": "true"},
        timeout=5,
    )
    alerts.raise_for_status()
    return bool(alerts.json())


def alert_mails(state: str, before: set[str]) -> list[dict]:
    """The mails since `before` (ids) that say TargetDown for the service is in state."""
    mails = requests.get(f"{MAILDEV}/email", timeout=5).json()
    return [
        mail
        for mail in mails
        if mail["id"] not in before
        and mail["subject"].startswith(f"[{state}")
        and f"TargetDown {SERVICE}" in mail["subject"]
    ]


def test_a_stopped_service_is_mailed_then_its_return(stack):
    # An alert left by an earlier test would be mailed no second time.
    wait_until(lambda: not target_down_active(), 30, f"no TargetDown for {SERVICE}")
    before = {mail["id"] for mail in requests.get(f"{MAILDEV}/email", timeout=5).json()}
    service = container_of(stack, SERVICE)
    service.stop(timeout=5)
    try:
        wait_until(target_down_active, 30, f"TargetDown for {SERVICE} in Alertmanager")
        wait_until(lambda: alert_mails("FIRING", before), 30, "the alert's mail")
    finally:
        service.start()  # a stopped container is not restarted by its policy
    wait_for_health(service, 90)
    wait_until(lambda: alert_mails("RESOLVED", before), 30, "the mail that it is resolved")
    # While it starts, its new address may fail a scrape or two: an instance's own TargetDown
    # can fire then and resolve a few seconds later, with mails of its own.
    wait_until(lambda: not target_down_active(), 30, f"every TargetDown for {SERVICE} resolved")
    firing = alert_mails("FIRING", before)
    assert firing
    assert {mail["to"][0]["address"] for mail in firing} == {"operators@flotilla.local"}
    wait_until_healthy()
