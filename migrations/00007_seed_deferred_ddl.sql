-- A bulk seed (`herotasks seed --reset` with many tasks) drops the indexes and
-- constraints of the large tables, loads the rows, and rebuilds them: much
-- faster than maintaining them row by row. This table holds what is still to
-- rebuild, written in the same transaction as the drops, so a run that fails
-- or is killed half-way leaves a record instead of a silently index-less
-- database: the next seed run (or `herotasks seed --repair`) rebuilds from
-- it, and `herotasks verify` fails while it has rows.

-- +goose Up
CREATE TABLE seed_deferred_ddl (
    kind       text NOT NULL CHECK (kind IN ('key', 'index', 'fkey')),
    table_name text NOT NULL,
    name       text NOT NULL,
    definition text NOT NULL,
    -- for a key: its index, built first so that other indexes of the table
    -- can be built at the same time (ADD CONSTRAINT ... USING INDEX)
    index_definition text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, name)
);

-- +goose Down
DROP TABLE seed_deferred_ddl;
