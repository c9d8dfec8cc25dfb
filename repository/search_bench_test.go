package repository_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/repository"
)

// BenchmarkSearch times searchTasks' first page (20 tasks, an anonymous
// caller) for each kind of query and reports p50 and p99. It runs on a
// fresh database seeded with 20,000 tasks, or on HT_BENCH_DATABASE_URL
// (for example a million seeded tasks: see README, Numbers), which it only
// reads.
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	repo := repository.New(openSeeded(b, 20000))
	anonymous := domain.Viewer{}
	kinds := []struct {
		name, text string
		hits       bool
	}{
		{"common_word", "customer", true},         // in about 17% of tasks
		{"rare_word", "pgvector", true},           // about 0.2%
		{"two_words", "rate limiting", true},      // both in 2.7%
		{"phrase", `"read replica"`, true},        // 1.3%
		{"misspelling", "kafak", true},            // no match: corrected to kafka through the vocabulary
		{"no_match", "xylophone zeppelin", false}, // nothing, corrected or not
	}
	for _, k := range kinds {
		page, err := repo.SearchTasks(ctx, anonymous, k.text, 20, "")
		if err != nil {
			b.Fatal(err)
		}
		if got := len(page.Edges) > 0; got != k.hits {
			b.Fatalf("SearchTasks(%q) found %d tasks, want hits=%v", k.text, len(page.Edges), k.hits)
		}
		b.Run(k.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := repo.SearchTasks(ctx, anonymous, k.text, 20, ""); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			ms := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))]) / 1e6 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
		})
	}
}
