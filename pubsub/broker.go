package pubsub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// Broker follows the log, woken by one PostgreSQL session's LISTEN, and
// hands every change to this instance's subscribers without ever waiting
// for one: each subscriber has
// a buffer of its own, and a subscriber whose buffer is full when an event
// arrives is cut off (its channel closes and Dropped reports true) instead
// of slowing the others or silently missing events. A cut-off client is
// told so and resubscribes and refetches; dropping quietly would leave it
// showing data it believes is live.
type Broker struct {
	connString string
	buffer     int
	log        Log
	pos        string // cursor of the last change delivered (under mu)
	started    bool   // pos was set from the log's head (under mu)
	// idle: the log went unread while no one subscribed, so pos may be
	// behind its head (under mu). Reading it for no one would cost every
	// write's notification a statement or two on every instance.
	idle bool

	mu    sync.Mutex
	subs  map[*Subscription]struct{}
	ready chan struct{}
	once  sync.Once

	delivered, dropped atomic.Int64
}

// NewBroker returns a broker that reads log, woken through a session of
// its own on connString (Run); buffer is each subscriber's buffer.
func NewBroker(connString string, buffer int, log Log) *Broker {
	return &Broker{connString: connString, buffer: max(buffer, 1), log: log,
		subs: map[*Subscription]struct{}{}, ready: make(chan struct{})}
}

// Subscription is one subscriber's stream of events.
type Subscription struct {
	// From is the cursor of the last change delivered before this
	// subscription started ("" when none): the live stream begins after
	// it, and a subscriber resuming from an older cursor reads the log up
	// to it first.
	From    string
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

// Subscribe starts a subscription to every event. After a time without
// subscribers it first reads the log's head, where the broker would stand
// had it read the changes no one was listening to.
func (b *Broker) Subscribe(ctx context.Context) (*Subscription, error) {
	s := &Subscription{b: b, c: make(chan Event, b.buffer)}
	b.mu.Lock()
	if b.idle {
		b.mu.Unlock()
		head, err := b.log.TaskEventsHead(ctx)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		// Another subscription may have moved on from a head of its own
		// meanwhile: then the broker's position is the one to follow.
		if b.idle {
			b.pos, b.idle = head, false
		}
	}
	s.From = b.pos
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
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
	b.pos = ev.Cursor
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

// poll is how often the broker reads the log without a notification: a
// change held back behind a transaction that was still open is read then.
const poll = time.Second

// batch is how many history events one read of the log takes.
const batch = 500

// listen holds one session: LISTEN, then read the log after every
// notification (and every poll) until it fails.
func (b *Broker) listen(ctx context.Context, log *slog.Logger) error {
	conn, err := pgx.Connect(ctx, b.connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	b.mu.Lock()
	started := b.started
	b.mu.Unlock()
	if !started {
		// A new instance delivers what commits from now on; earlier
		// changes are for subscribers that resume with a cursor.
		head, err := b.log.TaskEventsHead(ctx)
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.pos, b.started = head, true
		b.mu.Unlock()
	}
	b.once.Do(func() { close(b.ready) })
	for {
		// With no subscriber the log is not read; the next subscription
		// starts from its head (Subscribe). Deciding under mu orders this
		// with Subscribe: a subscriber added after it is read for at the
		// next notification or poll.
		b.mu.Lock()
		idle := len(b.subs) == 0
		if idle {
			b.idle = true
		}
		b.mu.Unlock()
		if !idle {
			if err := b.catchUp(ctx, log); err != nil {
				return err
			}
		}
		wctx, cancel := context.WithTimeout(ctx, poll)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && (ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
			return err
		}
	}
}

// catchUp delivers every change of the log after the broker's position.
func (b *Broker) catchUp(ctx context.Context, log *slog.Logger) error {
	for {
		b.mu.Lock()
		pos := b.pos
		b.mu.Unlock()
		events, err := b.log.TaskEventsAfter(ctx, pos, batch)
		if errors.Is(err, domain.ErrCursorExpired) {
			// Retention dropped the month the broker stood in: go on
			// from the head; the subscribers are told nothing was lost
			// only if nothing was (they resume by their own cursors).
			log.Warn("subscriptions: the log position expired; going on from the head")
			head, herr := b.log.TaskEventsHead(ctx)
			if herr != nil {
				return herr
			}
			b.mu.Lock()
			b.pos = head
			b.mu.Unlock()
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range Changes(events) {
			b.Deliver(ev)
		}
		if len(events) > 0 {
			// Events the grouping skipped still move the position.
			last := events[len(events)-1]
			b.mu.Lock()
			b.pos = last.Cursor()
			b.mu.Unlock()
		}
		if len(events) < batch {
			return nil
		}
	}
}
