-- The transactional outbox: events written in the same transaction as the change they
-- announce; the service's worker relays them to RabbitMQ and marks them published.
CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    request_id text,
    data jsonb NOT NULL,
    published_at timestamptz
);

CREATE INDEX outbox_unpublished ON outbox (occurred_at) WHERE published_at IS NULL;
