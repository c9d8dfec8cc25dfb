package pubsub_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/internal/testdb"
	"github.com/herotasks/api/pubsub"
)

// BenchmarkNotifyToSubscriber: one event from NOTIFY on one pool to a
// subscriber of a broker listening in another session: the cross-instance
// latency a subscriber sees on top of the write itself.
func BenchmarkNotifyToSubscriber(b *testing.B) {
	pool := testdb.Pool(b)
	br := pubsub.NewBroker(pool.Config().ConnString(), 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go br.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	select {
	case <-br.Ready():
	case <-time.After(10 * time.Second):
		b.Fatal("not listening")
	}
	sub := br.Subscribe()
	defer sub.Close()
	pub := pubsub.NewPublisher(pool)
	ev := pubsub.Event{Kind: "UPDATED", TaskID: "0b8f5d1e-0000-4000-8000-000000000001", ActorID: "0b8f5d1e-0000-4000-8000-000000000002"}
	b.ResetTimer()
	for b.Loop() {
		ev.At = time.Now()
		if err := pub.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		<-sub.C()
	}
}

// BenchmarkDeliverFanOut: handing one event to 1,000 subscribers of one
// instance, each drained by its own goroutine.
func BenchmarkDeliverFanOut(b *testing.B) {
	br := pubsub.NewBroker("postgres://unused", 64)
	var wg sync.WaitGroup
	subs := make([]*pubsub.Subscription, 1000)
	for i := range subs {
		subs[i] = br.Subscribe()
		wg.Go(func() {
			for range subs[i].C() {
			}
		})
	}
	ev := pubsub.Event{Kind: "UPDATED", TaskID: "t"}
	for b.Loop() {
		br.Deliver(ev)
	}
	b.StopTimer()
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()
	if _, dropped := br.Stats(); dropped > 0 {
		b.Logf("%d subscribers cut off (their goroutines fell 64 events behind)", dropped)
	}
}
