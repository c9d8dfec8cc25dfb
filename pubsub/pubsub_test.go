package pubsub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/pubsub"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func start(t *testing.T, url string, buffer int, log pubsub.Log) *pubsub.Broker {
	t.Helper()
	b := pubsub.NewBroker(url, buffer, log)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	select {
	case <-b.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not start listening")
	}
	return b
}

func subscribe(t testing.TB, b *pubsub.Broker) *pubsub.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background())
	require.NoError(t, err)
	return s
}

func receive(t *testing.T, s *pubsub.Subscription) (pubsub.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.C():
		return ev, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return pubsub.Event{}, false
	}
}

// TestFanOut: a committed change reaches the subscribers of every broker
// following that database's history, with its cursor, and none on another
// database.
func TestFanOut(t *testing.T) {
	t.Parallel()
	api, other := apitest.New(t), apitest.New(t)
	a, b := start(t, api.DBURL, 4, api.Repo), start(t, api.DBURL, 4, api.Repo)
	elsewhere := start(t, other.DBURL, 4, other.Repo)
	sa, sb, se := subscribe(t, a), subscribe(t, b), subscribe(t, elsewhere)
	defer sa.Close()
	defer sb.Close()
	defer se.Close()

	userID, editor := api.User(t, domain.RoleEditor)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Fan me out", "visibility": "PRIVATE"})
	for _, s := range []*pubsub.Subscription{sa, sb} {
		got, ok := receive(t, s)
		require.True(t, ok)
		assert.Equal(t, pubsub.KindCreated, got.Kind)
		assert.Equal(t, id, got.TaskID)
		assert.Equal(t, userID, got.ActorID, "the history names who wrote")
		assert.NotEmpty(t, got.Cursor)
		pos, err := domain.ParseEventCursor("after", got.Cursor)
		require.NoError(t, err)
		assert.Equal(t, got.Pos.Tx, pos.Tx)
		assert.Equal(t, got.Pos.ID, pos.ID)
		assert.True(t, got.Pos.At.Equal(pos.At))
	}
	select {
	case ev := <-se.C():
		t.Fatalf("another database's subscriber got %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestChanges: the history events of one write to one task of one kind of
// change are one change, whose cursor is the last event's; the next write,
// task or kind starts another.
func TestChanges(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	ev := func(tx uint64, id int64, task string, kind domain.TaskEventKind) *domain.TaskEvent {
		return &domain.TaskEvent{Tx: tx, ID: id, TaskID: task, Kind: kind, CreatedAt: at}
	}
	got := pubsub.Changes([]*domain.TaskEvent{
		ev(10, 1, "a", domain.EventFieldChanged), ev(10, 2, "a", domain.EventFieldChanged), // one update, two fields
		ev(10, 3, "a", domain.EventTagAdded),                                                // same write, another kind
		ev(11, 4, "a", domain.EventStatusChanged), ev(11, 5, "a", domain.EventPhaseChanged), // one transition
		ev(12, 6, "a", domain.EventDependencyAdded), ev(12, 7, "b", domain.EventDependentAdded), // both tasks
	})
	var kinds []string
	for _, c := range got {
		kinds = append(kinds, c.TaskID+":"+c.Kind)
	}
	assert.Equal(t, []string{"a:UPDATED", "a:TAGS_CHANGED", "a:TRANSITIONED", "a:DEPENDENCIES_CHANGED", "b:DEPENDENCIES_CHANGED"}, kinds)
	assert.Equal(t, domain.EventCursor{Tx: 10, ID: 2, At: at}, got[0].Pos, "a change's cursor is its last event's")
	assert.Equal(t, got[0].Pos.String(), got[0].Cursor)
	assert.Equal(t, int64(5), got[2].Pos.ID)
}

// TestSlowSubscriberIsCutOff: a subscriber that does not read is cut off
// when its buffer is full, and the others keep receiving everything.
func TestSlowSubscriberIsCutOff(t *testing.T) {
	t.Parallel()
	b := pubsub.NewBroker("postgres://unused", 2, nil)
	slow, fast := subscribe(t, b), subscribe(t, b)
	defer fast.Close()
	ack := make(chan struct{})
	go func() {
		for range fast.C() {
			ack <- struct{}{}
		}
	}()
	for i := range 100 {
		b.Deliver(pubsub.Event{Kind: "UPDATED", TaskID: string(rune('a' + i%26))})
		select {
		case <-ack: // the reading subscriber got it
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d did not reach the reading subscriber", i)
		}
	}
	n := 0
	for range slow.C() {
		n++
	}
	assert.Equal(t, 2, n, "the slow subscriber kept its buffer, then its channel closed")
	assert.True(t, slow.Dropped())
	assert.False(t, fast.Dropped())
	assert.Equal(t, 1, b.Subscribers())
	_, dropped := b.Stats()
	assert.Equal(t, int64(1), dropped)
}

// countingLog counts the reads of the log after a position.
type countingLog struct {
	pubsub.Log
	after atomic.Int64
}

func (l *countingLog) TaskEventsAfter(ctx context.Context, after string, limit int) ([]*domain.TaskEvent, error) {
	l.after.Add(1)
	return l.Log.TaskEventsAfter(ctx, after, limit)
}

// TestIdleBrokerReadsNoLog: with no subscriber, writes and polls read
// nothing of the log; a subscription after them starts from the log's head
// (none of the earlier changes reaches it, and its From is at or after the
// last of them), and receives the next change. A broker that skipped the
// head would hand the new subscriber every change it let by.
func TestIdleBrokerReadsNoLog(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	log := &countingLog{Log: api.Repo}
	b := start(t, api.DBURL, 4, log)
	_, editor := api.User(t, domain.RoleEditor)
	var last string
	for i := range 6 { // more than the subscriber's buffer of 4
		id, _ := api.NewTask(t, editor, map[string]any{"title": fmt.Sprintf("Unheard %d", i)})
		events, err := api.Repo.TaskHistory(context.Background(), id, "", 1)
		require.NoError(t, err)
		require.NotEmpty(t, events)
		last = events[0].Cursor()
	}
	time.Sleep(1200 * time.Millisecond) // past a poll
	assert.Zero(t, log.after.Load(), "no subscriber: the log is not read")

	s := subscribe(t, b)
	defer s.Close()
	from, err := domain.ParseEventCursor("after", s.From)
	require.NoError(t, err, "the subscription starts at the log's head")
	lastPos, err := domain.ParseEventCursor("after", last)
	require.NoError(t, err)
	assert.False(t, from.Before(lastPos), "From %s is not before the last unheard change %s", s.From, last)
	id, _ := api.NewTask(t, editor, map[string]any{"title": "Heard"})
	got, ok := receive(t, s)
	require.True(t, ok, "not cut off: no earlier change was handed to it")
	assert.Equal(t, id, got.TaskID)
	assert.Positive(t, log.after.Load(), "with a subscriber the log is read")
}
