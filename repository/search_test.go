package repository_test

import (
	"context"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSearch checks each way searchTasks finds its candidates on 3,000
// seeded tasks: a common word from the newest tasks (bounded at 100
// candidates, paged without repeats, best first), a rare word through the
// GIN index (every match), a misspelling corrected through the vocabulary,
// and nothing.
func TestSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 3000, 1)
	anonymous := domain.Viewer{}
	matches := func(text string) []string {
		rows, _ := pool.Query(ctx, `SELECT id::text FROM tasks WHERE visibility = 'PUBLIC'
			AND search @@ websearch_to_tsquery('english', $1) ORDER BY created_at DESC, id DESC`, text)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return ids
	}
	// walk pages through every result of text, checking the order.
	walk := func(text string, size int) []string {
		var ids []string
		after := ""
		for {
			page, err := repo.SearchTasks(ctx, anonymous, text, size, after)
			require.NoError(t, err, text)
			for _, e := range page.Edges {
				assert.Equal(t, domain.VisibilityPublic, e.Node.Visibility)
				ids = append(ids, e.Node.ID)
			}
			if !page.HasNextPage {
				return ids
			}
			require.Len(t, page.Edges, size)
			after = page.Edges[len(page.Edges)-1].Cursor
		}
	}

	t.Run("common word: the 100 newest matches, best first", func(t *testing.T) {
		all := matches("customer")
		require.Greater(t, len(all), 300, "customer is a common word of the seed")
		got := walk("customer", 30)
		assert.Len(t, got, 100)
		assert.ElementsMatch(t, all[:100], got, "the candidates are the newest matches")
		n, err := repo.CountSearch(ctx, anonymous, "customer")
		require.NoError(t, err)
		assert.Equal(t, 100, n)
		// A title match (weight A) ranks above description-only ones (B).
		var inTitle int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE id = ANY($1::uuid[]) AND title ILIKE '%customer%'`, got).Scan(&inTitle))
		require.Positive(t, inTitle, "some candidates have customer in the title")
		first, err := repo.SearchTasks(ctx, anonymous, "customer", 5, "")
		require.NoError(t, err)
		assert.Contains(t, first.Edges[0].Node.Title, "ustomer")
	})
	t.Run("rare word: every match", func(t *testing.T) {
		all := matches("kafka")
		require.NotEmpty(t, all)
		require.Less(t, len(all), 100)
		assert.ElementsMatch(t, all, walk("kafka", 7))
		n, err := repo.CountSearch(ctx, anonymous, "kafka")
		require.NoError(t, err)
		assert.Equal(t, len(all), n)
	})
	t.Run("misspelling: corrected through the vocabulary", func(t *testing.T) {
		assert.ElementsMatch(t, matches("kafka"), walk("kafak", 7))
		n, err := repo.CountSearch(ctx, anonymous, "kafak")
		require.NoError(t, err)
		assert.Equal(t, len(matches("kafka")), n)
	})
	t.Run("no match", func(t *testing.T) {
		assert.Empty(t, walk("xylophone zeppelin", 10))
		n, err := repo.CountSearch(ctx, anonymous, "xylophone zeppelin")
		require.NoError(t, err)
		assert.Zero(t, n)
	})
	t.Run("a cursor of another query is refused", func(t *testing.T) {
		page, err := repo.SearchTasks(ctx, anonymous, "customer", 2, "")
		require.NoError(t, err)
		_, err = repo.SearchTasks(ctx, anonymous, "kafka", 2, page.Edges[1].Cursor)
		assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	})
}
