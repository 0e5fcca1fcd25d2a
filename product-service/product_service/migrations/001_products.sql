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
