-- The history becomes the log of every change: what changed (field, old and
-- new value; tags, dependencies and subtasks added or removed), who and
-- when, written in the same transaction as the change. Subscriptions resume
-- from it, so it keeps the events of deleted tasks until retention drops
-- their month (the foreign key that deleted them with the task goes), with
-- what authorization needs to know of a task that is gone.

-- +goose Up
ALTER TYPE task_event_kind ADD VALUE 'FIELD_CHANGED';
ALTER TYPE task_event_kind ADD VALUE 'TAG_ADDED';
ALTER TYPE task_event_kind ADD VALUE 'TAG_REMOVED';
ALTER TYPE task_event_kind ADD VALUE 'DEPENDENCY_ADDED';
ALTER TYPE task_event_kind ADD VALUE 'DEPENDENCY_REMOVED';
ALTER TYPE task_event_kind ADD VALUE 'DEPENDENT_ADDED';
ALTER TYPE task_event_kind ADD VALUE 'DEPENDENT_REMOVED';
ALTER TYPE task_event_kind ADD VALUE 'SUBTASK_ADDED';
ALTER TYPE task_event_kind ADD VALUE 'SUBTASK_CHANGED';
ALTER TYPE task_event_kind ADD VALUE 'SUBTASK_REMOVED';
ALTER TYPE task_event_kind ADD VALUE 'SUBTASK_TAG_ADDED';
ALTER TYPE task_event_kind ADD VALUE 'SUBTASK_TAG_REMOVED';
ALTER TYPE task_event_kind ADD VALUE 'DELETED';

ALTER TABLE task_events
    ADD COLUMN field           text,
    ADD COLUMN old_value       text CHECK (char_length(old_value) <= 20000),
    ADD COLUMN new_value       text CHECK (char_length(new_value) <= 20000),
    ADD COLUMN subtask_id      uuid,
    -- The writing transaction: the log is read in (txid, id) order and only
    -- below the oldest transaction still running, so a reader never passes
    -- an event that commits later with a smaller position.
    ADD COLUMN txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- Who could see the task when it was deleted (DELETED events only).
    ADD COLUMN task_private    boolean,
    ADD COLUMN task_created_by uuid,
    ADD COLUMN task_assignee   uuid;

ALTER TABLE task_events DROP CONSTRAINT task_events_task_id_fkey;

-- Serves the log read (TaskEventsAfter): every partition in (txid, id) order.
CREATE INDEX task_events_log_idx ON task_events (txid, id);

-- +goose Down
DROP INDEX task_events_log_idx;
DELETE FROM task_events e WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = e.task_id);
DELETE FROM task_events WHERE kind::text NOT IN ('CREATED', 'STATUS_CHANGED', 'PHASE_CHANGED');
ALTER TABLE task_events ADD CONSTRAINT task_events_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE;
ALTER TABLE task_events DROP COLUMN field, DROP COLUMN old_value, DROP COLUMN new_value, DROP COLUMN subtask_id,
    DROP COLUMN txid, DROP COLUMN task_private, DROP COLUMN task_created_by, DROP COLUMN task_assignee;
