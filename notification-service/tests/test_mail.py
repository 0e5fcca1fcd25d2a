"""Mail: sent to the SMTP server (the stack's MailDev), then marked; an outage delays it."""

import dataclasses
import logging
import os
import smtplib
import subprocess
import sys

import psycopg2
import pytest

from flotilla_testing.metrics import scrape_worker, value
from notification_service import mail, repository


@pytest.fixture
def send(app):
    """Run the send-mail job once (its lock is held for the test: see conftest)."""

    def run(with_app=None) -> int:
        with (with_app or app).app_context():
            return mail.send_queued_mail()

    return run


@pytest.fixture
def smtp_down(app_with, config):
    """The app with an SMTP server where nothing listens."""
    return app_with(smtp=dataclasses.replace(config.smtp, host="127.0.0.1", port=1))


def test_a_notification_is_mailed_once_with_a_stable_message_id(
    send, registered, handle, event, notifications, maildev
):
    user = registered(name="Ada")
    assert send() == 1
    [row] = notifications()
    assert row["email_status"] == "sent"
    [received] = maildev.emails(user["email"])
    assert received["subject"] == "Welcome to Flotilla"
    assert received["headers"]["message-id"] == f"<notification-{row['id']}@flotilla.local>"
    assert "Hello Ada" in received["text"]
    handle(event("order.cancelled", order_id=5, user_id=user["user_id"]))
    assert send() == 1
    assert send() == 0  # nothing is sent twice
    subjects = sorted(m["subject"] for m in maildev.emails(user["email"]))
    assert subjects == ["Order #5 cancelled", "Welcome to Flotilla"]


def test_an_smtp_outage_delays_mail_and_never_loses_it(
    send, smtp_down, registered, notifications, maildev, db
):
    user = registered()
    assert send(smtp_down) == 0
    [row] = notifications()
    assert row["email_status"] == "queued"
    assert row["mail_attempts"] == 1 and row["later"]
    assert "SMTP server unavailable" in row["mail_error"]
    assert send() == 0  # not due yet: backoff
    with db.transaction() as cursor:
        cursor.execute("UPDATE notifications SET next_mail_at = now()")
    assert send() == 1
    assert notifications()[0]["email_status"] == "sent"
    assert len(maildev.emails(user["email"])) == 1


def waits(db) -> list[float]:
    """Each queued mail's wait until its next attempt, in seconds, by notification id."""
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM next_mail_at - now())::float AS wait"
            " FROM notifications ORDER BY id"
        )
        return [row["wait"] for row in cursor.fetchall()]


def test_the_backoff_doubles_up_to_its_cap_less_a_random_part(
    send, smtp_down, registered, db, config
):
    registered()
    seen = []
    for _ in range(4):
        with db.transaction() as cursor:
            cursor.execute("UPDATE notifications SET next_mail_at = now()")
        send(smtp_down)
        [wait] = waits(db)
        seen.append(wait)
    first, cap = config.mail_first_retry_seconds, config.mail_max_retry_seconds
    for n, wait in enumerate(seen):
        longest = min(first * 2**n, cap)
        assert longest / 2 - 0.5 <= wait <= longest + 0.1, (n, seen)


def test_mail_postponed_together_is_retried_at_different_times(
    send, app_with, config, registered, db
):
    # Long waits, so that the random parts differ by more than the clock's resolution.
    slow = app_with(
        smtp=dataclasses.replace(config.smtp, host="127.0.0.1", port=1),
        mail_first_retry_seconds=600,
        mail_max_retry_seconds=600,
    )
    for _ in range(5):
        registered()
    send(slow)
    assert len(set(round(wait) for wait in waits(db))) > 1


def _past_the_retry_window(db) -> None:
    """Make every mail due now, its 24 h retry window over."""
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE notifications SET next_mail_at = now(),"
            " queued_at = now() - make_interval(hours => 25)"
        )


def test_mail_is_failed_only_after_the_retry_window(send, smtp_down, registered, notifications, db):
    registered()
    send(smtp_down)
    assert notifications()[0]["email_status"] == "queued"
    _past_the_retry_window(db)
    send(smtp_down)
    assert notifications()[0]["email_status"] == "failed"


def test_mail_for_a_user_not_known_yet_waits_for_the_address(
    send, handle, event, registered, notifications, maildev, db
):
    handle(event("order.failed", order_id=8, user_id=77))
    assert send() == 0
    [row] = notifications()
    assert row["email_status"] == "queued" and "address" in row["mail_error"]
    user = registered(user_id=77)  # user.registered arrives after the order's event
    with db.transaction() as cursor:
        cursor.execute("UPDATE notifications SET next_mail_at = now()")
    assert send() == 2
    subjects = sorted(m["subject"] for m in maildev.emails(user["email"]))
    assert subjects == ["Order #8 could not be completed", "Welcome to Flotilla"]


@pytest.mark.parametrize(
    "error, permanent",
    [
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (451, b"greylisted")}), False),
        (smtplib.SMTPDataError(554, b"rejected as spam"), True),
        (smtplib.SMTPDataError(452, b"mailbox full"), False),
        (smtplib.SMTPSenderRefused(550, b"sender refused", "no-reply@flotilla.local"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
    ],
)
def test_only_a_5xx_refusal_of_the_mail_itself_is_final(error, permanent):
    assert mail.is_permanent(error) is permanent


@pytest.fixture
def refusing(monkeypatch):
    """An SMTP server that refuses some recipients with a code: refusing(address, 451)."""
    refusals: dict[str, int] = {}
    real = smtplib.SMTP.send_message

    def send_message(self, message, *args, **kwargs):
        code = refusals.get(message["To"])
        if code is not None:
            self.rset()  # as smtplib does on a refusal: the connection serves the next mail
            raise smtplib.SMTPRecipientsRefused({message["To"]: (code, b"refused")})
        return real(self, message, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "send_message", send_message)
    return lambda address, code: refusals.__setitem__(address, code)


def test_a_temporary_refusal_of_one_recipient_delays_no_other_mail(
    send, refusing, registered, notifications, maildev
):
    before, refused, after = registered(), registered(), registered()
    refusing(refused["email"], 451)
    assert send() == 2
    rows = {row["user_id"]: row for row in notifications()}
    assert rows[refused["user_id"]]["email_status"] == "queued"
    assert rows[refused["user_id"]]["later"] and rows[refused["user_id"]]["mail_attempts"] == 1
    for user in (before, after):
        assert rows[user["user_id"]]["email_status"] == "sent"
        assert rows[user["user_id"]]["mail_attempts"] == 1
        assert len(maildev.emails(user["email"])) == 1
    assert maildev.emails(refused["email"]) == []


def test_a_final_refusal_fails_that_mail_alone(send, refusing, registered, notifications):
    refused, other = registered(), registered()
    refusing(refused["email"], 550)
    assert send() == 1
    rows = {row["user_id"]: row["email_status"] for row in notifications()}
    assert rows == {refused["user_id"]: "failed", other["user_id"]: "sent"}


def test_a_database_error_at_the_record_neither_stops_the_job_nor_sends_again(
    send, registered, notifications, maildev, monkeypatch, caplog
):
    first, second = registered(), registered()
    first_id = notifications()[0]["id"]
    real, database_down = repository.mark_sent, True

    def mark_sent(cursor, *, notification_id):
        if database_down and notification_id == first_id:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        real(cursor, notification_id=notification_id)

    monkeypatch.setattr(repository, "mark_sent", mark_sent)
    with caplog.at_level(logging.WARNING, logger="notification_service.mail"):
        assert send() == 2  # the job went on to the second mail
    rows = {row["user_id"]: row["email_status"] for row in notifications()}
    assert rows == {first["user_id"]: "queued", second["user_id"]: "sent"}
    assert "mail sent, not recorded yet" in caplog.messages

    database_down = False
    assert send() == 0  # the next run records it, and sends nothing again
    assert [row["email_status"] for row in notifications()] == ["sent", "sent"]
    assert len(maildev.emails(first["email"])) == 1
    assert len(maildev.emails(second["email"])) == 1


KILLED_SEND = """
from notification_service import create_app
from notification_service.mail import send_queued_mail

app = create_app()
with app.app_context():
    send_queued_mail()
"""


def test_a_worker_killed_between_the_servers_acceptance_and_the_record_sends_a_copy(
    send, registered, notifications, maildev
):
    user = registered()
    environ = {**os.environ, "FAULT_INJECTION": "true", "FAULT_AT": "mail.after-accept"}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_SEND], env=environ, timeout=60, check=False
    )
    assert killed.returncode == -9  # SIGKILL at the crash point
    [row] = notifications()
    assert row["email_status"] == "queued"  # the server has it; the record does not say so
    assert len(maildev.emails(user["email"])) == 1

    assert send() == 1  # at least once: the mail again...
    assert send() == 0
    assert notifications()[0]["email_status"] == "sent"
    copies = maildev.emails(user["email"])
    # ...with the same Message-ID, which mail systems recognise as one message.
    assert len(copies) == 2
    assert {copy["headers"]["message-id"] for copy in copies} == {
        f"<notification-{row['id']}@flotilla.local>"
    }


def mail_gauge(app, state: str) -> float:
    """notification-worker's gauge mail_<state>, read now."""
    return value(scrape_worker(app), f"mail_{state}")


def test_failed_mail_is_counted_and_one_command_queues_it_again(
    send, smtp_down, registered, notifications, db, app, maildev
):
    user = registered()
    send(smtp_down)
    _past_the_retry_window(db)
    send(smtp_down)
    assert notifications()[0]["email_status"] == "failed"
    assert mail_gauge(app, "failed") == 1

    command = [sys.executable, "-m", "notification_service", "run", "requeue-failed-mail"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "requeue-failed-mail: 1" in done.stdout.splitlines()
    [row] = notifications()
    assert row["email_status"] == "queued" and not row["later"]
    assert mail_gauge(app, "failed") == 0 and mail_gauge(app, "queued") == 1

    assert send() == 1
    assert len(maildev.emails(user["email"])) == 1
