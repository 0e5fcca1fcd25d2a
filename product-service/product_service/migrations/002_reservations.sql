-- Stock held for orders. order-service names each reservation (its key), so reserving,
-- committing and releasing can all be repeated safely. Items keep no foreign key to
-- products: a product may be deleted while old reservations still mention it.
CREATE TABLE reservations (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
    status text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'committed', 'released')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Finding reservations that were never committed (an order-service crash) to return their stock.
CREATE INDEX reservations_reserved_idx ON reservations (created_at) WHERE status = 'reserved';

CREATE TABLE reservation_items (
    reservation_id text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    product_id bigint NOT NULL,
    name text NOT NULL,
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (reservation_id, product_id)
);
