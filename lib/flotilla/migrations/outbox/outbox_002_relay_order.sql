-- The relay publishes in the order events were written: a sequence number orders the
-- events of one transaction too, which share occurred_at (now() is the transaction's start).
ALTER TABLE outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- The retention purge finds published rows without reading the whole table.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
