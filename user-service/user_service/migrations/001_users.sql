CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Normalised once, in Python (flotilla.schemas.normalise_email), and compared as
    -- stored: a CHECK with PostgreSQL's lower(), which follows the server's locale and
    -- Unicode tables, could refuse an address Python had normalised (a 500 at sign-up).
    email text NOT NULL UNIQUE CONSTRAINT users_email_length CHECK (length(email) <= 254),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    role text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are opaque; only their SHA-256 is stored. A family is one login's
-- chain of rotations, so a replayed (already rotated) token can revoke its whole chain.
CREATE TABLE refresh_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    family uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Development only: when no JWT_PRIVATE_KEY_FILE is configured, the first worker to start
-- generates a key here so every worker and replica signs with the same one.
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    private_key_pem text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
