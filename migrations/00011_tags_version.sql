-- A task's tags are read with its row by the entity cache (Task.TagIDs), so
-- a board or a detail needs no tag list of its own. tags_version counts the
-- changes to the task's tag set: every tag write bumps it under the task's
-- row lock, in the transaction that links or unlinks, so a row's version
-- and tags_version together name its tags, and their sum orders the
-- copies of the row that writers write through to Redis.
--
-- A tag is not an edit of the task's fields: bumping tags_version leaves
-- updated_at alone, as allocating a subtask number does.

-- +goose Up
ALTER TABLE tasks ADD COLUMN tags_version integer NOT NULL DEFAULT 0;
DROP TRIGGER tasks_set_updated_at ON tasks;
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.subtask_counter = NEW.subtask_counter AND OLD.tags_version = NEW.tags_version)
    EXECUTE FUNCTION set_updated_at();

-- +goose Down
DROP TRIGGER tasks_set_updated_at ON tasks;
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.subtask_counter = NEW.subtask_counter)
    EXECUTE FUNCTION set_updated_at();
ALTER TABLE tasks DROP COLUMN tags_version;
