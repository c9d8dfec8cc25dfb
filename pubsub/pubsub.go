// Package pubsub carries task changes from the server instance that
// committed them to the subscribers of every instance: PostgreSQL NOTIFY
// after commit, one LISTEN connection per instance, and an in-process
// fan-out with a bounded buffer per subscriber.
//
// Why PostgreSQL and not Redis pub/sub: PostgreSQL is the one service every
// instance needs (Redis is optional and its client fails open), NOTIFY is
// ordered by commit and reaches exactly the instances on the same database
// (tests on their own databases stay apart), and no second system has to be
// up for a subscriber to hear about a write. Its limits shape the design: a
// payload is at most 8000 bytes, so an event carries ids and the
// subscriber reads the rows itself, through the cache, after the writer has
// invalidated it; LISTEN needs a session of its own, never a pooled or
// transaction-pooled (PgBouncer) connection, and to the primary, not a
// replica; and delivery is at most once: an event published while an
// instance's listener is reconnecting is lost to that instance's
// subscribers, who should refetch after a reconnect of their own.
package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the NOTIFY channel task changes travel on.
const Channel = "ht_task_changes"

// Event is one committed change to a task, as small as NOTIFY wants it:
// ids, never rows.
type Event struct {
	Kind    string    `json:"k"`           // a TaskChangeKind value
	TaskID  string    `json:"t"`           // the task changed
	ActorID string    `json:"a,omitempty"` // who changed it
	At      time.Time `json:"at"`          // when the change was published
	// Who could see the task when it changed, for events whose task cannot
	// be read any more (DELETED): authorization needs it.
	Private    bool   `json:"p,omitempty"`
	CreatedBy  string `json:"c,omitempty"`
	AssigneeID string `json:"s,omitempty"`
}

// Publisher sends events with NOTIFY.
type Publisher struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// NewPublisher returns a publisher over the primary's pool.
func NewPublisher(pool *pgxpool.Pool) *Publisher {
	return &Publisher{pool: pool, timeout: 2 * time.Second}
}

// Publish sends ev to every instance's listener. Call it after commit (and
// after the cache invalidation), so a subscriber that reads the task on
// receipt sees the change. It runs even when ctx is already cancelled: the
// write it reports has happened.
func (p *Publisher) Publish(ctx context.Context, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()
	if _, err := p.pool.Exec(ctx, "SELECT pg_notify($1, $2)", Channel, string(b)); err != nil {
		return fmt.Errorf("publish %s %s: %w", ev.Kind, ev.TaskID, err)
	}
	return nil
}
