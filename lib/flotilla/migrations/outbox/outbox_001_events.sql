-- The transactional outbox: events written in the same transaction as the change they
-- announce; the service's worker relays them to RabbitMQ and marks them published.
-- seq is the order they were written in, also within one transaction, whose events share
-- occurred_at (now() is the transaction's start): the relay publishes in that order.
CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    request_id text,
    data jsonb NOT NULL,
    published_at timestamptz,
    seq bigint GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
-- The retention purge finds published rows without reading the whole table.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
