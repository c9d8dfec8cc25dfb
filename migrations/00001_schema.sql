-- The Hero Tasks data model: users, tasks, subtasks, tags, their links,
-- dependencies and the monthly-partitioned workflow history.
--
-- Enum labels are the GraphQL enum names, so no mapping layer is needed and
-- an enum's declaration order is its sort order (CRITICAL sorts before LOW).

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TYPE user_role AS ENUM ('VIEWER', 'EDITOR', 'ADMIN');
CREATE TYPE task_status AS ENUM ('DRAFT', 'READY', 'IN_PROGRESS', 'BLOCKED', 'COMPLETED', 'CANCELLED');
CREATE TYPE task_priority AS ENUM ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW');
CREATE TYPE task_type AS ENUM (
    'FEATURE', 'BUG_FIX', 'REFACTOR', 'DOCUMENTATION', 'TEST', 'SECURITY', 'PERFORMANCE',
    'INTEGRATION', 'MIGRATION', 'MAINTENANCE', 'RESEARCH', 'PLANNING', 'REVIEW', 'DEPLOYMENT', 'MONITORING');
CREATE TYPE workflow_phase AS ENUM ('AUDIT', 'DECIDE', 'APPLY', 'VERIFY');
CREATE TYPE visibility AS ENUM ('PUBLIC', 'PRIVATE');
CREATE TYPE task_event_kind AS ENUM ('CREATED', 'STATUS_CHANGED', 'PHASE_CHANGED');

-- updated_at is maintained by the database so no write path can forget it.
-- +goose StatementBegin
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TABLE users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email      text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 320),
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    role       user_role NOT NULL DEFAULT 'VIEWER',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Task numbers (HT-001, HT-002, ...) come from a sequence: gaps after a
-- rollback are fine, duplicates are impossible.
CREATE SEQUENCE task_number_seq AS bigint START 1;

CREATE TABLE tasks (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number          bigint NOT NULL DEFAULT nextval('task_number_seq') CONSTRAINT tasks_number_key UNIQUE,
    title           text NOT NULL CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
    description     text NOT NULL DEFAULT '' CONSTRAINT tasks_description_length CHECK (char_length(description) <= 20000),
    status          task_status NOT NULL DEFAULT 'DRAFT',
    priority        task_priority NOT NULL DEFAULT 'MEDIUM',
    type            task_type NOT NULL DEFAULT 'FEATURE',
    phase           workflow_phase NOT NULL DEFAULT 'AUDIT',
    visibility      visibility NOT NULL DEFAULT 'PUBLIC',
    due_date        timestamptz,
    started_at      timestamptz,
    completed_at    timestamptz,
    estimated_hours numeric(8, 2) CONSTRAINT tasks_estimated_hours_range CHECK (estimated_hours >= 0),
    actual_hours    numeric(8, 2) CONSTRAINT tasks_actual_hours_range CHECK (actual_hours >= 0),
    assignee_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    version         integer NOT NULL DEFAULT 1,
    -- last subtask number handed out; bumped under the row lock so
    -- concurrent createSubtask calls never share a number, never reused.
    subtask_counter integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    search          tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', title), 'A') ||
                        setweight(to_tsvector('english', description), 'B')) STORED,
    CONSTRAINT tasks_started_after_created CHECK (started_at IS NULL OR started_at >= created_at),
    CONSTRAINT tasks_completed_after_started CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at),
    CONSTRAINT tasks_completed_after_created CHECK (completed_at IS NULL OR completed_at >= created_at),
    CONSTRAINT tasks_completed_status CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL))
);
-- Allocating a subtask number must not look like an edit of the task.
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.subtask_counter = NEW.subtask_counter)
    EXECUTE FUNCTION set_updated_at();

CREATE TABLE subtasks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id      uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    number       integer NOT NULL CHECK (number > 0),
    title        text NOT NULL CONSTRAINT subtasks_title_length CHECK (char_length(title) BETWEEN 1 AND 500),
    description  text NOT NULL DEFAULT '' CONSTRAINT subtasks_description_length CHECK (char_length(description) <= 20000),
    status       task_status NOT NULL DEFAULT 'DRAFT',
    priority     task_priority NOT NULL DEFAULT 'MEDIUM',
    position     integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    version      integer NOT NULL DEFAULT 1,
    completed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subtasks_task_number_key UNIQUE (task_id, number),
    CONSTRAINT subtasks_completed_after_created CHECK (completed_at IS NULL OR completed_at >= created_at)
);
CREATE TRIGGER subtasks_set_updated_at BEFORE UPDATE ON subtasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE tags (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CONSTRAINT tags_name_format CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,49}$'),
    color      text NOT NULL DEFAULT '#6b7280' CONSTRAINT tags_color_format CHECK (color ~ '^#[0-9a-f]{6}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_name_key UNIQUE (name)
);

CREATE TABLE task_tags (
    task_id    uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tag_id     uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, tag_id)
);

CREATE TABLE subtask_tags (
    subtask_id uuid NOT NULL REFERENCES subtasks (id) ON DELETE CASCADE,
    tag_id     uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subtask_id, tag_id)
);

-- task_id depends on depends_on_id: depends_on_id must be done first.
CREATE TABLE task_dependencies (
    task_id       uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, depends_on_id),
    CONSTRAINT task_dependencies_no_self CHECK (task_id <> depends_on_id)
);

-- Workflow history, partitioned by month. The default partition catches any
-- row whose month has no partition yet, so an insert is never lost;
-- maintenance creates months ahead and moves rows out of the default.
CREATE TABLE task_events (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    kind        task_event_kind NOT NULL,
    from_status task_status,
    to_status   task_status,
    from_phase  workflow_phase,
    to_phase    workflow_phase,
    reason      text CHECK (char_length(reason) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE task_events_default PARTITION OF task_events DEFAULT;

-- Creates the partition for the month holding m (idempotent).
-- +goose StatementBegin
CREATE FUNCTION ensure_task_events_partition(m date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    lo   date := date_trunc('month', m)::date;
    hi   date := (date_trunc('month', m) + interval '1 month')::date;
    name text := format('task_events_%s', to_char(lo, 'YYYY_MM'));
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF task_events FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    END IF;
    RETURN name;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    FOR i IN -12..3 LOOP
        PERFORM ensure_task_events_partition((date_trunc('month', now()) + make_interval(months => i))::date);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Serves TaskEventsByTaskIDs (history by task, newest first). Partitioned
-- tables cannot build indexes concurrently, so it lives here.
CREATE INDEX task_events_task_created_idx ON task_events (task_id, created_at DESC, id DESC);
-- Serves the actor foreign key (user deletion sets actor_id to NULL).
CREATE INDEX task_events_actor_idx ON task_events (actor_id);

-- +goose Down
DROP TABLE task_events;
DROP FUNCTION ensure_task_events_partition(date);
DROP TABLE task_dependencies;
DROP TABLE subtask_tags;
DROP TABLE task_tags;
DROP TABLE tags;
DROP TABLE subtasks;
DROP TABLE tasks;
DROP SEQUENCE task_number_seq;
DROP TABLE users;
DROP FUNCTION set_updated_at();
DROP TYPE task_event_kind;
DROP TYPE visibility;
DROP TYPE workflow_phase;
DROP TYPE task_type;
DROP TYPE task_priority;
DROP TYPE task_status;
DROP TYPE user_role;
DROP EXTENSION IF EXISTS pg_trgm;
