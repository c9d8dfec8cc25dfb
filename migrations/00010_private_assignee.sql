-- A user's private tasks are those they created (tasks_private_created_by_idx)
-- and those they are assigned: a search among them (the entity cache keeps
-- each user's private search candidates apart from the shared public ones)
-- reads both sides by index, never every task the user is assigned.
--
-- Built CONCURRENTLY, as 00002 explains; an invalid leftover of a failed
-- build is dropped first, so a re-run builds it again.

-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE c.relname = 'tasks_private_assignee_idx' AND NOT i.indisvalid) THEN
        EXECUTE 'DROP INDEX tasks_private_assignee_idx';
    END IF;
END $$;
-- +goose StatementEnd
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_private_assignee_idx ON tasks (assignee_id, created_at DESC)
    WHERE visibility = 'PRIVATE';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS tasks_private_assignee_idx;
