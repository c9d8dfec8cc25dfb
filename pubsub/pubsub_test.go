package pubsub_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/pubsub"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func start(t *testing.T, url string, buffer int) *pubsub.Broker {
	t.Helper()
	b := pubsub.NewBroker(url, buffer)
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

// TestFanOut: an event published on one pool reaches the subscribers of
// every broker listening on that database, and none on another database.
func TestFanOut(t *testing.T) {
	t.Parallel()
	pool := testdb.Pool(t)
	url := pool.Config().ConnString()
	a, b := start(t, url, 4), start(t, url, 4)
	elsewhere := start(t, testdb.New(t), 4)
	sa, sb, se := a.Subscribe(), b.Subscribe(), elsewhere.Subscribe()
	defer sa.Close()
	defer sb.Close()
	defer se.Close()

	want := pubsub.Event{Kind: "UPDATED", TaskID: "0b8f5d1e-0000-4000-8000-000000000001", ActorID: "u1",
		At: time.Now().UTC().Truncate(time.Microsecond), Private: true, CreatedBy: "u1"}
	require.NoError(t, pubsub.NewPublisher(pool).Publish(context.Background(), want))
	for _, s := range []*pubsub.Subscription{sa, sb} {
		got, ok := receive(t, s)
		require.True(t, ok)
		assert.Equal(t, want.TaskID, got.TaskID)
		assert.Equal(t, want, got)
	}
	select {
	case ev := <-se.C():
		t.Fatalf("another database's subscriber got %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSlowSubscriberIsCutOff: a subscriber that does not read is cut off
// when its buffer is full, and the others keep receiving everything.
func TestSlowSubscriberIsCutOff(t *testing.T) {
	t.Parallel()
	b := pubsub.NewBroker("postgres://unused", 2)
	slow, fast := b.Subscribe(), b.Subscribe()
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
