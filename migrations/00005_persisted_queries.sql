-- Trusted documents (PERSISTED_QUERIES=only): operations an admin registered
-- at run time, beside the manifest built into the binary from examples/.
-- Kept in PostgreSQL, not Redis: the allow-list is configuration that must
-- survive a Redis flush or outage, and every instance reads it at start.

-- +goose Up
CREATE TABLE persisted_queries (
    hash       text PRIMARY KEY CONSTRAINT persisted_queries_hash_format CHECK (hash ~ '^[0-9a-f]{64}$'),
    seq        bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT persisted_queries_seq_key UNIQUE,
    name       text CHECK (char_length(name) <= 200),
    document   text NOT NULL CHECK (char_length(document) BETWEEN 1 AND 100000),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE persisted_queries;
