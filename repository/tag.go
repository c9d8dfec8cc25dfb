package repository

import (
	"context"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

func scanTagLink(row pgx.CollectableRow) (domain.Link[*domain.Tag], error) {
	l := domain.Link[*domain.Tag]{Item: &domain.Tag{}}
	g := l.Item
	err := row.Scan(&l.OwnerID, &g.ID, &g.Name, &g.Color, &g.CreatedAt)
	return l, err
}

func scanTag(row pgx.CollectableRow) (*domain.Tag, error) {
	var g domain.Tag
	err := row.Scan(&g.ID, &g.Name, &g.Color, &g.CreatedAt)
	return &g, err
}

// TagsByTaskIDs returns the tags of each task, by name, in one statement on
// the task_tags primary key (task_id, tag_id).
func (r *Repo) TagsByTaskIDs(ctx context.Context, taskIDs []string) ([]domain.Link[*domain.Tag], error) {
	return readQuery(ctx, r, byKeys(psql.Select("tt.task_id, g.id, g.name, g.color, g.created_at").
		From("task_tags tt").Join("tags g ON g.id = tt.tag_id"), "tt.task_id", taskIDs).OrderBy("tt.task_id", "g.name"), scanTagLink)
}

// TagsOfTasks returns the tags of each task as TagsByTaskIDs does: the
// tag ids a row carries are as of that row, and the statement reads the
// current ones, which are never older.
func (r *Repo) TagsOfTasks(ctx context.Context, tasks []*domain.Task) ([]domain.Link[*domain.Tag], error) {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return r.TagsByTaskIDs(ctx, ids)
}

// TagsOfSubtasks returns the tags of each subtask as TagsBySubtaskIDs
// does (see TagsOfTasks).
func (r *Repo) TagsOfSubtasks(ctx context.Context, subtasks []*domain.Subtask) ([]domain.Link[*domain.Tag], error) {
	ids := make([]string, len(subtasks))
	for i, s := range subtasks {
		ids[i] = s.ID
	}
	return r.TagsBySubtaskIDs(ctx, ids)
}

// TagsBySubtaskIDs returns the tags of each subtask, by name, in one
// statement on the subtask_tags primary key (subtask_id, tag_id).
func (r *Repo) TagsBySubtaskIDs(ctx context.Context, subtaskIDs []string) ([]domain.Link[*domain.Tag], error) {
	return readQuery(ctx, r, byKeys(psql.Select("st.subtask_id, g.id, g.name, g.color, g.created_at").
		From("subtask_tags st").Join("tags g ON g.id = st.tag_id"), "st.subtask_id", subtaskIDs).OrderBy("st.subtask_id", "g.name"), scanTagLink)
}

// ListTags returns tags by name after the given name (index tags_name_key).
func (r *Repo) ListTags(ctx context.Context, first int, afterName string) ([]*domain.Tag, error) {
	b := psql.Select("id, name, color, created_at").From("tags").OrderBy("name").Limit(uint64(first))
	if afterName != "" {
		b = b.Where("name > ?", afterName)
	}
	return readQuery(ctx, r, b, scanTag)
}

// TagsByIDs returns the tags with these ids.
func (r *Repo) TagsByIDs(ctx context.Context, ids []string) ([]*domain.Tag, error) {
	return readQuery(ctx, r, byKeys(psql.Select("g.id, g.name, g.color, g.created_at").From("tags g"), "g.id", ids), scanTag)
}

// ensureTags returns the ids of the named tags, creating missing ones. A
// concurrent creator of the same name can make the insert skip a row this
// statement's snapshot cannot see yet, so the lookup is repeated once.
func ensureTags(ctx context.Context, tx *writeTx, names []string) ([]string, error) {
	colors := make([]string, len(names))
	for i, n := range names {
		colors[i] = domain.TagColor(n)
	}
	var ids []string
	for range 2 {
		rows, err := tx.Query(ctx, `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS i(name, color)),
			ins AS (INSERT INTO tags (name, color) SELECT name, color FROM input ON CONFLICT (name) DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT g.id FROM tags g JOIN input USING (name)`, names, colors)
		if err != nil {
			return nil, translate(err)
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, translate(err)
		}
		if len(ids) == len(names) {
			return ids, nil
		}
	}
	return nil, domain.Errorf(domain.ECONFLICT, "tags were being created concurrently; retry")
}

// linkTags attaches the named tags (created when missing) to one owner in
// a link table (task_tags or subtask_tags).
func linkTags(ctx context.Context, tx *writeTx, table, ownerCol, ownerID string, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ids, err := ensureTags(ctx, tx, names)
	if err != nil {
		return nil, err
	}
	return tagNames(ctx, tx, "WITH c AS (INSERT INTO "+table+" ("+ownerCol+", tag_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING tag_id)", ownerID, ids)
}

// tagNames runs a statement that changes links (cte, returning tag_id as
// c) and returns the names of the tags it linked or unlinked, by name.
func tagNames(ctx context.Context, tx *writeTx, cte string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, cte+" SELECT g.name FROM c JOIN tags g ON g.id = c.tag_id ORDER BY g.name", args...)
	if err != nil {
		return nil, translate(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return names, translate(err)
}

// unlinkTags detaches the named tags from one owner; unknown names are ignored.
func unlinkTags(ctx context.Context, tx *writeTx, table, ownerCol, ownerID string, names []string) ([]string, error) {
	return tagNames(ctx, tx, "WITH c AS (DELETE FROM "+table+" WHERE "+ownerCol+" = $1 AND tag_id IN (SELECT id FROM tags WHERE name = ANY($2::text[])) RETURNING tag_id)", ownerID, names)
}

// tagsChanged counts a change of the locked task t's tag set (changed) in
// its tags_version and returns the row with its children's ids, for the
// caches to write through; the statement runs after the links changed and
// under the row lock, so the ids are those this transaction commits. An
// unchanged set returns t as it was.
func tagsChanged(ctx context.Context, tx *writeTx, t *domain.Task, changed bool) (*domain.Task, error) {
	if !changed {
		return t, nil
	}
	return queryRow(ctx, tx, "UPDATE tasks AS t SET tags_version = t.tags_version + 1 WHERE t.id = $1 RETURNING "+taskWithChildrenCols,
		[]any{t.ID}, scanTaskWithChildren)
}

// tagIDsOf reads the ids of a task's tags inside a transaction.
func tagIDsOf(ctx context.Context, tx *writeTx, taskID string) ([]string, error) {
	var ids []string
	err := tx.QueryRow(ctx, "SELECT ARRAY(SELECT tag_id::text FROM task_tags WHERE task_id = $1)", taskID).Scan(&ids)
	if ids == nil {
		ids = []string{}
	}
	return ids, translate(err)
}

// AddTaskTags attaches tags by name, creating unknown ones.
func (r *Repo) AddTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	var t *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		var err error
		if t, _, err = lockTask(ctx, tx, taskID, guard); err != nil {
			return err
		}
		added, err := linkTags(ctx, tx, "task_tags", "task_id", taskID, names)
		if err != nil {
			return err
		}
		if t, err = tagsChanged(ctx, tx, t, len(added) > 0); err != nil {
			return err
		}
		return insertEvents(ctx, tx, tagEvents(taskID, nil, added, true))
	})
	return t, err
}

// RemoveTaskTags detaches tags by name; names not attached are ignored.
func (r *Repo) RemoveTaskTags(ctx context.Context, taskID string, names []string, guard domain.Guard) (*domain.Task, error) {
	var t *domain.Task
	err := r.inTx(ctx, func(tx *writeTx) error {
		var err error
		if t, _, err = lockTask(ctx, tx, taskID, guard); err != nil {
			return err
		}
		removed, err := unlinkTags(ctx, tx, "task_tags", "task_id", taskID, names)
		if err != nil {
			return err
		}
		if t, err = tagsChanged(ctx, tx, t, len(removed) > 0); err != nil {
			return err
		}
		return insertEvents(ctx, tx, tagEvents(taskID, nil, removed, false))
	})
	return t, err
}

// AddSubtaskTags attaches tags to a subtask by name, creating unknown ones.
func (r *Repo) AddSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	return r.changeSubtaskTags(ctx, subtaskID, guard, func(tx *writeTx, taskID string) error {
		added, err := linkTags(ctx, tx, "subtask_tags", "subtask_id", subtaskID, names)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, tagEvents(taskID, &subtaskID, added, true))
	})
}

// RemoveSubtaskTags detaches tags from a subtask by name.
func (r *Repo) RemoveSubtaskTags(ctx context.Context, subtaskID string, names []string, guard domain.Guard) (*domain.Subtask, error) {
	return r.changeSubtaskTags(ctx, subtaskID, guard, func(tx *writeTx, taskID string) error {
		removed, err := unlinkTags(ctx, tx, "subtask_tags", "subtask_id", subtaskID, names)
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, tagEvents(taskID, &subtaskID, removed, false))
	})
}

func (r *Repo) changeSubtaskTags(ctx context.Context, subtaskID string, guard domain.Guard, change func(tx *writeTx, taskID string) error) (*domain.Subtask, error) {
	var s *domain.Subtask
	err := r.inTx(ctx, func(tx *writeTx) error {
		taskID, err := lockSubtaskParent(ctx, tx, subtaskID, guard)
		if err != nil {
			return err
		}
		if err := change(tx, taskID); err != nil {
			return err
		}
		s, err = subtaskByID(ctx, tx, subtaskID)
		return err
	})
	return s, err
}
