"""notification-service's periodic jobs, run by notification-worker (`python -m
notification_service worker`) between the events it consumes, and its tasks, run by hand
(`python -m notification_service run TASK`)."""

from flotilla.consumer import purge_processed_events
from flotilla.worker import Job
from notification_service.mail import requeue_failed_mail, send_queued_mail

# Far beyond any redelivery: the outbox relays within minutes, retries end within an hour.
PROCESSED_EVENTS_DAYS = 30


def purge_processed_event_ids() -> int:
    """Forget the ids of events handled long ago; return how many."""
    return purge_processed_events(older_than_days=PROCESSED_EVENTS_DAYS)


JOBS = [
    Job("send-mail", 2, send_queued_mail),
    Job("purge-processed-events", 3600, purge_processed_event_ids),
]

TASKS = [
    # Every failed mail queued again, after the cause is fixed (README, "Mail").
    Job("requeue-failed-mail", 0, requeue_failed_mail),
]
