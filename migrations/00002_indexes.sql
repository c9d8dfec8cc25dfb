-- Indexes for every query the repository issues. Each is named in a comment
-- beside the query it serves (grep the index name in repository/).
--
-- Built CONCURRENTLY so a deploy never blocks writers; that cannot run in a
-- transaction. A failed concurrent build leaves an INVALID index that
-- IF NOT EXISTS would skip, so the first statement drops invalid leftovers,
-- which makes this migration safe to re-run after a failure.

-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE NOT i.indisvalid AND c.relnamespace = 'public'::regnamespace
    LOOP
        EXECUTE format('DROP INDEX %I', r.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Keyset pagination orders (TaskOrderField CREATED_AT / UPDATED_AT / DUE_DATE / PRIORITY).
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_created_keyset_idx ON tasks (created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_updated_keyset_idx ON tasks (updated_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_due_keyset_idx ON tasks ((COALESCE(due_date, 'infinity'::timestamptz)), id);
-- Also serves the priority filter: equality on priority, then (created_at,
-- id) in either direction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_priority_keyset_idx ON tasks (priority, created_at, id);

-- Filters combined with the default order.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_status_created_idx ON tasks (status, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_type_created_idx ON tasks (type, created_at DESC, id DESC);

-- "My work": assigned tasks by status and due date; unassigned rows are not
-- indexed. The due date is the DUE_DATE ordering's expression (a missing one
-- sorts last), so the index yields that order and its keyset.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_assignee_status_due_idx
    ON tasks (assignee_id, status, (COALESCE(due_date, 'infinity'::timestamptz)), id)
    WHERE assignee_id IS NOT NULL;
-- Active work (READY, IN_PROGRESS, BLOCKED), newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_active_created_idx ON tasks (created_at DESC, id DESC)
    WHERE status IN ('READY', 'IN_PROGRESS', 'BLOCKED');
-- Open tasks by due date (the DUE_DATE ordering's expression): the overdue
-- filter adds due_date < now() at query time, since a predicate with now()
-- could not be indexed.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_open_due_idx ON tasks ((COALESCE(due_date, 'infinity'::timestamptz)), id)
    WHERE status NOT IN ('COMPLETED', 'CANCELLED') AND due_date IS NOT NULL;
-- Private tasks are few; visibility checks for a user look them up by owner.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_private_created_by_idx ON tasks (created_by, created_at DESC)
    WHERE visibility = 'PRIVATE';

-- Foreign keys (the createdById filter; user deletion sets these to NULL; without an index each
-- deleted user would scan tasks).
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_created_by_idx ON tasks (created_by, created_at DESC, id DESC);

-- Search: ranked full text and fuzzy title matching.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_search_idx ON tasks USING gin (search);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_title_trgm_idx ON tasks USING gin (title gin_trgm_ops);

-- Relations.
CREATE INDEX CONCURRENTLY IF NOT EXISTS subtasks_task_position_idx ON subtasks (task_id, position, number);
CREATE INDEX CONCURRENTLY IF NOT EXISTS task_tags_tag_task_idx ON task_tags (tag_id, task_id);
-- Serves the ON DELETE CASCADE from tags, which would otherwise scan subtask_tags.
CREATE INDEX CONCURRENTLY IF NOT EXISTS subtask_tags_tag_subtask_idx ON subtask_tags (tag_id, subtask_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS task_dependencies_depends_on_idx ON task_dependencies (depends_on_id, task_id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS task_dependencies_depends_on_idx;
DROP INDEX CONCURRENTLY IF EXISTS subtask_tags_tag_subtask_idx;
DROP INDEX CONCURRENTLY IF EXISTS task_tags_tag_task_idx;
DROP INDEX CONCURRENTLY IF EXISTS subtasks_task_position_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_title_trgm_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_search_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_created_by_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_private_created_by_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_open_due_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_active_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_assignee_status_due_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_type_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_status_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_priority_keyset_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_due_keyset_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_updated_keyset_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_created_keyset_idx;
