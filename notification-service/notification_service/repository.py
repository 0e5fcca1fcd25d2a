"""SQL of notification-service: plain functions over a cursor, returning plain dicts."""

from psycopg2.extras import RealDictCursor


def save_recipient(cursor: RealDictCursor, *, user_id: int, email: str, name: str) -> None:
    """Remember where a user's mail goes (the latest user.registered wins)."""
    cursor.execute(
        """
        INSERT INTO recipients (user_id, email, name)
        VALUES (%(user_id)s, %(email)s, %(name)s)
        ON CONFLICT (user_id) DO UPDATE
        SET email = EXCLUDED.email,
            name = EXCLUDED.name,
            updated_at = now()
        """,
        {"user_id": user_id, "email": email, "name": name},
    )


def insert_notification(
    cursor: RealDictCursor,
    *,
    event_id: str,
    user_id: int,
    type: str,
    subject: str,
    body: str,
    request_id: str | None,
) -> dict | None:
    """Store the notification of an event, its mail queued; None if the event has one."""
    cursor.execute(
        """
        INSERT INTO notifications (event_id, user_id, type, subject, body, request_id)
        VALUES (%(event_id)s, %(user_id)s, %(type)s, %(subject)s, %(body)s, %(request_id)s)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id, type, subject, body, created_at, email_status AS email
        """,
        {
            "event_id": event_id,
            "user_id": user_id,
            "type": type,
            "subject": subject,
            "body": body,
            "request_id": request_id,
        },
    )
    return cursor.fetchone()


def list_notifications(
    cursor: RealDictCursor, *, user_id: int, limit: int, offset: int
) -> list[dict]:
    """Return a page of a user's notifications, newest first."""
    cursor.execute(
        """
        SELECT id, type, subject, body, created_at, email_status AS email
        FROM notifications
        WHERE user_id = %(user_id)s
        ORDER BY created_at DESC, id DESC
        LIMIT %(limit)s
        OFFSET %(offset)s
        """,
        {"user_id": user_id, "limit": limit, "offset": offset},
    )
    return cursor.fetchall()


def count_notifications(cursor: RealDictCursor, *, user_id: int) -> int:
    """Return how many notifications a user has."""
    cursor.execute(
        """
        SELECT count(*) AS total
        FROM notifications
        WHERE user_id = %(user_id)s
        """,
        {"user_id": user_id},
    )
    return cursor.fetchone()["total"]


def due_mail(cursor: RealDictCursor, *, limit: int) -> list[dict]:
    """Return queued mail whose time has come, oldest first, with its recipient if known."""
    cursor.execute(
        """
        SELECT n.id, n.subject, n.body, n.request_id, n.created_at, r.email AS address
        FROM notifications AS n
        LEFT JOIN recipients AS r ON r.user_id = n.user_id
        WHERE n.email_status = 'queued'
          AND n.next_mail_at <= now()
        ORDER BY n.next_mail_at, n.id
        LIMIT %(limit)s
        """,
        {"limit": limit},
    )
    return cursor.fetchall()


def mail_counts(cursor: RealDictCursor) -> dict:
    """Return how many mails are queued, sent and failed, and the oldest queued one's age."""
    cursor.execute(
        """
        SELECT count(*) FILTER (WHERE email_status = 'queued') AS queued,
               count(*) FILTER (WHERE email_status = 'sent') AS sent,
               count(*) FILTER (WHERE email_status = 'failed') AS failed,
               extract(epoch FROM now() - min(queued_at) FILTER (
                   WHERE email_status = 'queued'
               )) AS oldest_queued_seconds
        FROM notifications
        """
    )
    return cursor.fetchone()


def mark_sent(cursor: RealDictCursor, *, notification_id: int) -> None:
    """Record that a notification's mail was handed to the SMTP server."""
    cursor.execute(
        """
        UPDATE notifications
        SET email_status = 'sent',
            sent_at = now(),
            mail_attempts = mail_attempts + 1,
            mail_error = NULL
        WHERE id = %(id)s
          AND email_status = 'queued'
        """,
        {"id": notification_id},
    )


def mark_failed(cursor: RealDictCursor, *, notification_id: int, error: str) -> None:
    """Give up a notification's mail for good (the server refused it)."""
    cursor.execute(
        """
        UPDATE notifications
        SET email_status = 'failed',
            mail_attempts = mail_attempts + 1,
            mail_error = %(error)s
        WHERE id = %(id)s
          AND email_status = 'queued'
        """,
        {"id": notification_id, "error": error},
    )


def postpone_mail(
    cursor: RealDictCursor,
    *,
    notification_ids: list[int],
    error: str,
    first_retry_seconds: float,
    max_retry_seconds: float,
    give_up_hours: float,
) -> list[dict]:
    """Try each mail again after twice its last wait (at most max_retry_seconds), less a random
    part of up to a half; fail mail queued over give_up_hours ago. Return each id and status."""
    cursor.execute(
        """
        UPDATE notifications
        SET mail_attempts = mail_attempts + 1,
            mail_error = %(error)s,
            next_mail_at = now() + make_interval(
                secs => least(%(first)s * power(2, least(mail_attempts, 30)), %(max)s)
                    * (1 - random() / 2)
            ),
            email_status = CASE
                WHEN queued_at < now() - make_interval(secs => %(give_up_hours)s * 3600)
                THEN 'failed'
                ELSE 'queued'
            END
        WHERE id = ANY(%(ids)s)
          AND email_status = 'queued'
        RETURNING id, email_status AS email
        """,
        {
            "ids": notification_ids,
            "error": error,
            "first": first_retry_seconds,
            "max": max_retry_seconds,
            "give_up_hours": give_up_hours,
        },
    )
    return cursor.fetchall()


def requeue_failed_mail(cursor: RealDictCursor) -> int:
    """Queue failed mail again, due now, its retry window starting now; return how many."""
    cursor.execute(
        """
        UPDATE notifications
        SET email_status = 'queued',
            queued_at = now(),
            next_mail_at = now(),
            mail_attempts = 0
        WHERE email_status = 'failed'
        """
    )
    return cursor.rowcount
