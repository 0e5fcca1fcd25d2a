"""Mail over SMTP: the send-mail job hands each queued notification to the SMTP server.

Send, then mark: a mail is marked sent only after the server took it, so an outage never
loses one; it is retried with its own backoff and failed only after MAIL_GIVE_UP_HOURS. A
mail the server took whose record fails is remembered and recorded by a later run, never
sent again by this process. Each mail's Message-ID comes from its notification id, so a
repeat (the process killed between sending and marking) is recognisable as the same mail.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import current_app

from flotilla import faults
from flotilla.clients import resolves
from flotilla.db import get_db
from flotilla.logs import request_id_scope
from flotilla.worker import check_lease
from notification_service import repository
from notification_service.config import Config, SmtpSettings, settings

log = logging.getLogger(__name__)

BATCH = 50
# The server's answer about one mail: smtplib resets the transaction (RSET) before raising
# these, so the connection serves the next mail.
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused)


def message_id(notification_id: int, sender: str) -> str:
    """Return the stable Message-ID of a notification's mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return f"<notification-{notification_id}@{domain}>"


def build_message(mail: dict, *, sender: str) -> EmailMessage:
    """Return the mail of a notification (a due_mail row)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail["address"]
    message["Subject"] = mail["subject"]
    message["Date"] = format_datetime(mail["created_at"])
    message["Message-ID"] = message_id(mail["id"], sender)
    message.set_content(mail["body"])
    return message


def open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    """Connect (and log in) to the SMTP server."""
    # The timeout does not cover the name lookup, which can take 10 s to fail for a stopped
    # container on a Compose network: the worker's other work would wait that long.
    if not resolves(settings.host, settings.port, min(settings.timeout_seconds, 2.0)):
        raise OSError(f"cannot resolve {settings.host}")
    context = ssl.create_default_context()
    if settings.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_seconds, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    try:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def is_permanent(error: smtplib.SMTPException) -> bool:
    """Whether the server refused this mail for good (5xx), not just for now."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500


def send_queued_mail() -> int:
    """Send the mail that is due; return how many were sent (the send-mail job)."""
    config = settings()
    unrecorded = _unrecorded()
    record_sent(unrecorded)
    with get_db().transaction() as cursor:
        due = repository.due_mail(cursor, limit=BATCH)
    # Taken by the server already: recorded by a later run, never sent twice by this worker.
    due = [mail for mail in due if mail["id"] not in unrecorded]
    unknown = [mail for mail in due if mail["address"] is None]
    if unknown:
        # An order event can arrive before its user's user.registered: wait for the address.
        postpone(unknown, "recipient address not known (yet)", config)
    due = [mail for mail in due if mail["address"] is not None]
    if not due:
        return 0
    try:
        smtp = open_smtp(config.smtp)
    except (OSError, smtplib.SMTPException) as error:
        postpone(due, f"SMTP server unavailable: {error!r}", config)
        return 0
    sent = 0
    with smtp:
        for mail in due:
            with request_id_scope(mail["request_id"]):
                check_lease()  # another replica may be sending: stop before sending more
                try:
                    sent += send_one(smtp, mail, config, unrecorded)
                except (OSError, smtplib.SMTPException) as error:
                    # The connection is likely gone: this mail waits out its backoff, the
                    # rest stay due for the next run, on a new connection.
                    postpone([mail], f"SMTP server unavailable: {error!r}", config)
                    break
    return sent


def send_one(smtp: smtplib.SMTP, mail: dict, config: Config, unrecorded: set[int]) -> bool:
    """Send one mail and record the outcome; raise when the server is unavailable."""
    try:
        smtp.send_message(build_message(mail, sender=config.mail_from))
    # ValueError: a header email.message refuses (a line break in it): no retry helps.
    except ValueError as error:
        give_up(mail, error)
        return False
    except REFUSALS as error:
        if smtp.sock is None:  # a 421: smtplib closed the connection, the server goes away
            raise
        if is_permanent(error):
            give_up(mail, error)
        else:  # this mail alone: the others on this connection go on
            postpone([mail], f"mail refused for now: {error!r}", config)
        return False
    faults.crash_point("mail.after-accept", enabled=config.fault_injection)
    unrecorded.add(mail["id"])
    record_sent(unrecorded)
    log.info("mail sent", extra={"notification_id": mail["id"]})
    return True


def record_sent(unrecorded: set[int]) -> None:
    """Mark sent the mail the server took; what cannot be recorded now stays in unrecorded."""
    for notification_id in sorted(unrecorded):
        try:
            with get_db().transaction() as cursor:
                repository.mark_sent(cursor, notification_id=notification_id)
        except Exception as error:  # the next run records it, before sending anything
            log.warning(
                "mail sent, not recorded yet",
                extra={"notification_id": notification_id, "error": repr(error)},
            )
            continue
        unrecorded.discard(notification_id)


def give_up(mail: dict, error: Exception) -> None:
    """Mark a mail failed for good; if that cannot be recorded, it stays queued."""
    try:
        with get_db().transaction() as cursor:
            repository.mark_failed(cursor, notification_id=mail["id"], error=repr(error))
    except Exception as failure:  # not sent: the next run meets the same refusal
        log.warning(
            "mail refusal not recorded",
            extra={"notification_id": mail["id"], "error": repr(failure)},
        )
        return
    log.error("mail refused", extra={"notification_id": mail["id"], "error": repr(error)})


def postpone(mails: list[dict], error: str, config: Config) -> None:
    """Try these mails again later, each after its own backoff; log those given up."""
    try:
        with get_db().transaction() as cursor:
            outcomes = repository.postpone_mail(
                cursor,
                notification_ids=[mail["id"] for mail in mails],
                error=error,
                first_retry_seconds=config.mail_first_retry_seconds,
                max_retry_seconds=config.mail_max_retry_seconds,
                give_up_hours=config.mail_give_up_hours,
            )
    except Exception as failure:  # they stay due: none was sent
        log.warning("mail delay not recorded", extra={"error": repr(failure)})
        return
    request_ids = {mail["id"]: mail["request_id"] for mail in mails}
    for outcome in outcomes:
        about = {"notification_id": outcome["id"], "error": error}
        with request_id_scope(request_ids[outcome["id"]]):
            if outcome["email"] == "failed":
                log.error("mail given up", extra=about)
            else:
                log.warning("mail delayed", extra=about)


def requeue_failed_mail() -> int:
    """Queue every failed mail again, due now, with a new retry window; return how many."""
    with get_db().transaction() as cursor:
        requeued = repository.requeue_failed_mail(cursor)
    log.info("failed mail queued again", extra={"rows": requeued})
    return requeued


def _unrecorded() -> set[int]:
    """The ids of mail this process sent whose record failed: kept for the process's life."""
    return current_app.extensions.setdefault("notification_service.unrecorded_mail", set())
