package pubsub

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Broker listens on one PostgreSQL session and hands every event to this
// instance's subscribers without ever waiting for one: each subscriber has
// a buffer of its own, and a subscriber whose buffer is full when an event
// arrives is cut off (its channel closes and Dropped reports true) instead
// of slowing the others or silently missing events. A cut-off client is
// told so and resubscribes and refetches; dropping quietly would leave it
// showing data it believes is live.
type Broker struct {
	connString string
	buffer     int

	mu    sync.Mutex
	subs  map[*Subscription]struct{}
	ready chan struct{}
	once  sync.Once

	delivered, dropped atomic.Int64
}

// NewBroker returns a broker that listens through a session of its own on
// connString (Run); buffer is each subscriber's buffer.
func NewBroker(connString string, buffer int) *Broker {
	return &Broker{connString: connString, buffer: max(buffer, 1),
		subs: map[*Subscription]struct{}{}, ready: make(chan struct{})}
}

// Subscription is one subscriber's stream of events.
type Subscription struct {
	b       *Broker
	c       chan Event
	dropped atomic.Bool
	closed  bool // under b.mu
}

// C delivers the events; it closes when the subscriber was cut off or closed.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped reports whether the subscriber was cut off for falling behind.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.remove(s)
}

// Subscribe starts a subscription to every event.
func (b *Broker) Subscribe() *Subscription {
	s := &Subscription{b: b, c: make(chan Event, b.buffer)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// remove closes s's channel once; b.mu is held.
func (b *Broker) remove(s *Subscription) {
	if !s.closed {
		s.closed = true
		delete(b.subs, s)
		close(s.c)
	}
}

// Subscribers returns how many subscriptions are open on this instance.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Stats returns how many events were delivered and how many subscribers
// were cut off since start.
func (b *Broker) Stats() (delivered, dropped int64) { return b.delivered.Load(), b.dropped.Load() }

// Deliver hands ev to every subscriber without blocking.
func (b *Broker) Deliver(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.c <- ev:
			b.delivered.Add(1)
		default:
			s.dropped.Store(true)
			b.dropped.Add(1)
			b.remove(s)
		}
	}
}

// Ready is closed once the broker listens; events published before that
// do not reach this instance.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Run listens until ctx ends, reconnecting with backoff after any failure.
func (b *Broker) Run(ctx context.Context, log *slog.Logger) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := b.listen(ctx, log)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			wait = 100 * time.Millisecond // it ran for a while: a new failure
		}
		log.Warn("subscription listener lost its PostgreSQL session; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen holds one session: LISTEN, then deliver notifications until it fails.
func (b *Broker) listen(ctx context.Context, log *slog.Logger) error {
	conn, err := pgx.Connect(ctx, b.connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	b.once.Do(func() { close(b.ready) })
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ev Event
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			log.Warn("ignoring a malformed task change", "payload_bytes", len(n.Payload), "err", err)
			continue
		}
		b.Deliver(ev)
	}
}
