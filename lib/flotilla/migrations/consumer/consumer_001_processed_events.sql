-- The events a consumer has handled, written in the same transaction as the handler's
-- changes: a redelivered event finds its id here and changes nothing twice.
CREATE TABLE processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX processed_events_by_age ON processed_events (processed_at);
