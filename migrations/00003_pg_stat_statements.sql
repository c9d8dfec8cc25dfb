-- pg_stat_statements records every statement's calls, time and rows; the
-- admin field and `herotasks verify` read it. It needs the library preloaded
-- (the private clusters of make run and make test do that) and the right to
-- create extensions, so it is created where possible and skipped elsewhere.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_stat_statements not created: %', SQLERRM;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP EXTENSION IF EXISTS pg_stat_statements;
