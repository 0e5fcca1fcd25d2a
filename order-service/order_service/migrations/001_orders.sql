-- An order is recorded `pending` with its lines before its stock is taken (docs/orders.md);
-- names, prices and the total arrive when it is confirmed. One whose stock was never taken
-- ends `failed` and holds nothing. Each order holds its stock through one reservation in
-- product-service, named by reservation_id; releasing it is idempotent on that side.
-- stock_returned_at: a cancel commits first and returns the stock afterwards; until
-- product-service has confirmed that, it is NULL and the worker keeps returning it.
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'confirmed', 'cancelled', 'failed')),
    total_cents bigint CHECK (total_cents >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    reservation_id text NOT NULL UNIQUE CHECK (length(reservation_id) BETWEEN 1 AND 100),
    stock_returned_at timestamptz,
    CONSTRAINT orders_priced_check CHECK (total_cents IS NOT NULL OR status IN ('pending', 'failed'))
);

CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);
-- What the worker's recovery looks for.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'pending';
CREATE INDEX orders_stock_to_return_idx ON orders (updated_at)
    WHERE status = 'cancelled' AND stock_returned_at IS NULL;

-- Each line keeps the name and price product-service took its stock at (NULL until then).
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id bigint NOT NULL,
    name text,
    unit_price_cents bigint CHECK (unit_price_cents >= 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (order_id, product_id)
);

-- Idempotency-Key, per user (API.md). A row without status_code is a request still running,
-- leased to it until lease_expires_at; a request that failed on our side (5xx) ends its lease
-- at once so that the client's retry finishes the order. A finished row holds the response
-- (the exact JSON text) that every repeat gets back. Kept at least 24 hours.
-- Whoever settles an order (the request, a repeat or the recovery) stores the answer of its
-- key in the same transaction, finding the key by the reservation id.
CREATE TABLE idempotency_keys (
    user_id bigint NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    reservation_id text NOT NULL,
    status_code integer CHECK (status_code BETWEEN 200 AND 499),
    response_body text CHECK ((status_code IS NULL) = (response_body IS NULL)),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE UNIQUE INDEX idempotency_keys_reservation_idx ON idempotency_keys (reservation_id);
