-- Each order holds its stock through one reservation in product-service, named by this id;
-- releasing it (cancel, or a failed placement) is idempotent on product-service's side.
ALTER TABLE orders ADD COLUMN reservation_id text NOT NULL UNIQUE
    CHECK (length(reservation_id) BETWEEN 1 AND 100);

-- Idempotency-Key, per user (API.md). A row without status_code is a request still running;
-- a finished one holds the response (the exact JSON text) that every repeat gets back.
-- Kept at least 24 hours.
CREATE TABLE idempotency_keys (
    user_id bigint NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    reservation_id text NOT NULL,
    status_code integer CHECK (status_code BETWEEN 200 AND 499),
    response_body text CHECK ((status_code IS NULL) = (response_body IS NULL)),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
