package pubsub_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/internal/apitest"
	"github.com/herotasks/api/pubsub"
)

// BenchmarkCommitToSubscriber: a write's change from its commit to a
// subscriber of a broker following the history in another session: the
// cross-instance latency a subscriber sees on top of the write itself.
func BenchmarkCommitToSubscriber(b *testing.B) {
	api := apitest.New(b)
	br := pubsub.NewBroker(api.DBURL, 16, api.Repo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go br.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	select {
	case <-br.Ready():
	case <-time.After(10 * time.Second):
		b.Fatal("not listening")
	}
	sub := subscribe(b, br)
	defer sub.Close()
	userID, _ := api.User(b, domain.RoleEditor)
	for b.Loop() {
		if _, err := api.Repo.CreateTask(ctx, domain.NewTask{Title: "bench", CreatedByID: &userID, Type: "FEATURE",
			Priority: "MEDIUM", Visibility: "PUBLIC"}); err != nil {
			b.Fatal(err)
		}
		<-sub.C()
	}
}

// BenchmarkDeliverFanOut: handing one event to 1,000 subscribers of one
// instance, each drained by its own goroutine.
func BenchmarkDeliverFanOut(b *testing.B) {
	br := pubsub.NewBroker("postgres://unused", 64, nil)
	var wg sync.WaitGroup
	subs := make([]*pubsub.Subscription, 1000)
	for i := range subs {
		subs[i] = subscribe(b, br)
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
