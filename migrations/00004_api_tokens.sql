-- API tokens for machine clients: a random 256-bit secret shown once when
-- created and kept here only as its SHA-256, so a leaked table grants
-- nothing. A token speaks for its user with that user's current role;
-- revoking (or deleting the user) ends it at the next request.

-- +goose Up
CREATE TABLE api_tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    token_hash bytea NOT NULL CONSTRAINT api_tokens_hash_sha256 CHECK (octet_length(token_hash) = 32),
    prefix     text NOT NULL CHECK (char_length(prefix) <= 16),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
-- Every authenticated request looks its token up by hash.
CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
CREATE INDEX api_tokens_created_by_idx ON api_tokens (created_by);
CREATE INDEX api_tokens_created_at_idx ON api_tokens (created_at DESC, id DESC);

-- +goose Down
DROP TABLE api_tokens;
