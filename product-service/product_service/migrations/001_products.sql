-- The catalog. The database itself refuses negative stock or prices and duplicate SKUs,
-- whatever the code above it does.
CREATE TABLE products (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    stock bigint NOT NULL CHECK (stock >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX products_name_lower_idx ON products (lower(name));

-- Stock taken for orders. order-service names each reservation, so reserving, resolving
-- and releasing can all be repeated safely. `committed`: its stock is taken; `released`:
-- its stock is returned, or it is a tombstone (refused, or resolved before it arrived) that
-- can never take stock, purged once released for RESERVATION_TOMBSTONE_SECONDS. Items keep
-- no foreign key to products: a product may be deleted while reservations still mention it.
CREATE TABLE reservations (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
    status text NOT NULL CHECK (status IN ('committed', 'released')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The purge of released reservations past their retention (inventory.py) reads this.
CREATE INDEX reservations_released_idx ON reservations (updated_at) WHERE status = 'released';

CREATE TABLE reservation_items (
    reservation_id text NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    product_id bigint NOT NULL,
    name text NOT NULL,
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (reservation_id, product_id)
);
