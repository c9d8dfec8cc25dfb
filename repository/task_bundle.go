package repository

import (
	"context"
	"errors"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// taskBundleSQL holds one statement per TaskRef kind and TaskWith, built
// once: each is a fixed text, so pgx prepares it once per connection and
// pg_stat_statements shows each shape separately.
var taskBundleSQL = func() (m [2][8]string) {
	for byID := range 2 {
		for w := range 8 {
			m[byID][w] = buildTaskBundleSQL(byID == 1, domain.TaskWith{Tags: w&1 != 0, Assignee: w&2 != 0, Creator: w&4 != 0})
		}
	}
	return m
}()

func withIndex(w domain.TaskWith) int {
	i := 0
	if w.Tags {
		i |= 1
	}
	if w.Assignee {
		i |= 2
	}
	if w.Creator {
		i |= 4
	}
	return i
}

func buildTaskBundleSQL(byID bool, w domain.TaskWith) string {
	sel, from := "SELECT "+taskCols, " FROM tasks t"
	if w.Assignee {
		sel += ", a.id, a.email, a.name, a.role, a.created_at"
		from += " LEFT JOIN users a ON a.id = t.assignee_id"
	}
	if w.Creator {
		sel += ", c.id, c.email, c.name, c.role, c.created_at"
		from += " LEFT JOIN users c ON c.id = t.created_by"
	}
	if w.Tags {
		// The same rows and order as TagsByTaskIDs (task_tags primary key),
		// as parallel arrays sorted alike: no task column is repeated per tag.
		sel += ", g.ids, g.names, g.colors, g.created"
		from += " LEFT JOIN LATERAL (SELECT array_agg(g.id ORDER BY g.name) AS ids, array_agg(g.name ORDER BY g.name) AS names," +
			" array_agg(g.color ORDER BY g.name) AS colors, array_agg(g.created_at ORDER BY g.name) AS created" +
			" FROM task_tags tt JOIN tags g ON g.id = tt.tag_id WHERE tt.task_id = t.id) g ON true"
	}
	where := " WHERE t.number = $1"
	if byID {
		where = " WHERE t.id = $1"
	}
	return sel + from + where
}

// nullableUser scans a LEFT JOINed user, nil when the join found none.
type nullableUser struct {
	id, email, name *string
	role            *domain.Role
	createdAt       *time.Time
}

func (u *nullableUser) dest() []any { return []any{&u.id, &u.email, &u.name, &u.role, &u.createdAt} }

func (u *nullableUser) user() *domain.User {
	if u.id == nil {
		return nil
	}
	return &domain.User{ID: *u.id, Email: *u.email, Name: *u.name, Role: *u.role, CreatedAt: *u.createdAt}
}

// TaskBundle reads a task and, in the same statement, what w asks for of
// its tags (task_tags primary key), assignee and creator (users primary
// key): the one round trip a query for a single task needs when its
// levels are known ahead. The rows are those TasksByIDs, TagsByTaskIDs
// and UsersByIDs return; a missing task is a nil Task, not an error.
func (r *Repo) TaskBundle(ctx context.Context, ref domain.TaskRef, w domain.TaskWith) (*domain.TaskBundle, error) {
	sql, arg := taskBundleSQL[0][withIndex(w)], any(ref.Seq)
	if ref.ID != "" {
		sql, arg = taskBundleSQL[1][withIndex(w)], ref.ID
	}
	b, err := readRow(ctx, r, sql, []any{arg}, func(row pgx.CollectableRow) (*domain.TaskBundle, error) {
		var t domain.Task
		var assignee, creator nullableUser
		var ids, names, colors []string
		var created []time.Time
		dest := taskDest(&t)
		if w.Assignee {
			dest = append(dest, assignee.dest()...)
		}
		if w.Creator {
			dest = append(dest, creator.dest()...)
		}
		if w.Tags {
			dest = append(dest, &ids, &names, &colors, &created)
		}
		if err := row.Scan(dest...); err != nil {
			return nil, err
		}
		b := &domain.TaskBundle{Task: &t, Assignee: assignee.user(), Creator: creator.user()}
		if w.Tags {
			b.Tags = make([]*domain.Tag, len(ids))
			for i := range ids {
				b.Tags[i] = &domain.Tag{ID: ids[i], Name: names[i], Color: colors[i], CreatedAt: created[i]}
			}
		}
		return b, nil
	})
	if errors.Is(err, domain.ErrNotFound) {
		return &domain.TaskBundle{}, nil
	}
	return b, err
}
