-- Development only: when no JWT_PRIVATE_KEY_FILE is configured, the first worker to start
-- generates a key here so every worker and replica signs with the same one.
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    private_key_pem text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
