"""Mail: sent to the SMTP server (the stack's MailDev), then marked; an outage delays it."""

import dataclasses
import smtplib

import pytest

from notification_service import mail


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


def test_the_backoff_doubles_up_to_its_cap(send, smtp_down, registered, db, config):
    registered()
    waits = []
    for _ in range(4):
        with db.transaction() as cursor:
            cursor.execute("UPDATE notifications SET next_mail_at = now()")
        send(smtp_down)
        with db.transaction() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM next_mail_at - now()) AS wait FROM notifications"
            )
            waits.append(round(cursor.fetchone()["wait"]))
    first, cap = config.mail_first_retry_seconds, config.mail_max_retry_seconds
    assert waits == [min(first * 2**n, cap) for n in range(4)]


def test_mail_is_failed_only_after_the_retry_window(send, smtp_down, registered, notifications, db):
    registered()
    send(smtp_down)
    assert notifications()[0]["email_status"] == "queued"
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE notifications SET next_mail_at = now(),"
            " created_at = now() - make_interval(hours => 25)"
        )
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
