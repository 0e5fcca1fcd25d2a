-- Orders that always finish (docs/orders.md). An order is recorded `pending` with its lines
-- before its stock is taken; names, prices and the total arrive when it is confirmed. One
-- whose stock was never taken ends `failed` and holds nothing.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'confirmed', 'cancelled', 'failed'));
ALTER TABLE orders ALTER COLUMN total_cents DROP NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_priced_check
    CHECK (total_cents IS NOT NULL OR status IN ('pending', 'failed'));
ALTER TABLE order_items ALTER COLUMN name DROP NOT NULL;
ALTER TABLE order_items ALTER COLUMN unit_price_cents DROP NOT NULL;

-- A cancel commits first and returns the stock afterwards; until product-service has
-- confirmed that, this is NULL and the worker keeps returning it. Orders cancelled before
-- this migration had their stock returned inside the cancel.
ALTER TABLE orders ADD COLUMN stock_returned_at timestamptz;
UPDATE orders
SET stock_returned_at = updated_at
WHERE status = 'cancelled';

-- What the worker's recovery looks for.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'pending';
CREATE INDEX orders_stock_to_return_idx ON orders (updated_at)
    WHERE status = 'cancelled' AND stock_returned_at IS NULL;

-- Whoever settles an order (the request, a repeat or the recovery) stores the answer of its
-- idempotency key in the same transaction, finding the key by the reservation id. A key is
-- leased to the request running it; a request that failed on our side (5xx) ends its lease
-- at once so that the client's retry finishes the order.
CREATE UNIQUE INDEX idempotency_keys_reservation_idx ON idempotency_keys (reservation_id);
ALTER TABLE idempotency_keys ADD COLUMN lease_expires_at timestamptz NOT NULL DEFAULT now();
UPDATE idempotency_keys
SET lease_expires_at = updated_at + interval '120 seconds'
WHERE status_code IS NULL;
