-- pgstattuple measures how full each B-tree index's leaf pages are, which
-- `herotasks maintain` turns into its bloated-index report. Creating it
-- needs superuser, so it is created where possible and skipped elsewhere
-- (maintain then says that the bloat report is unavailable).

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgstattuple') THEN
        CREATE EXTENSION IF NOT EXISTS pgstattuple;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pgstattuple not created: %', SQLERRM;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP EXTENSION IF EXISTS pgstattuple;
