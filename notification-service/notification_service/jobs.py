"""notification-service's periodic jobs, run by its worker (flotilla.worker)."""

from flotilla.consumer import purge_processed_events

# Far beyond any redelivery: the outbox relays within minutes, retries end within an hour.
PROCESSED_EVENTS_DAYS = 30


def purge_processed_event_ids() -> int:
    """Forget the ids of events handled long ago; return how many."""
    return purge_processed_events(older_than_days=PROCESSED_EVENTS_DAYS)
