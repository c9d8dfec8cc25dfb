-- A task's subtask list (its ids, in position order) is read with its row
-- by the entity cache too (Task.SubtaskIDs), as its tag ids are (00011).
-- subtasks_version counts the changes to that list: every write that adds,
-- removes or moves a subtask bumps it under the task's row lock, so the
-- row's stamp (version + tags_version + subtasks_version) grows with each,
-- and its written-through copy replaces every older one.
--
-- Like a tag, a subtask is not an edit of the task's fields: bumping
-- subtasks_version leaves updated_at alone.

-- +goose Up
ALTER TABLE tasks ADD COLUMN subtasks_version integer NOT NULL DEFAULT 0;
DROP TRIGGER tasks_set_updated_at ON tasks;
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.subtask_counter = NEW.subtask_counter AND OLD.tags_version = NEW.tags_version
        AND OLD.subtasks_version = NEW.subtasks_version)
    EXECUTE FUNCTION set_updated_at();

-- +goose Down
DROP TRIGGER tasks_set_updated_at ON tasks;
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.subtask_counter = NEW.subtask_counter AND OLD.tags_version = NEW.tags_version)
    EXECUTE FUNCTION set_updated_at();
ALTER TABLE tasks DROP COLUMN subtasks_version;
