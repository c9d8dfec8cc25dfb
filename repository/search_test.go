package repository_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/verify"
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
			after = page.Edges[len(page.Edges)-1].Cursor()
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
		_, err = repo.SearchTasks(ctx, anonymous, "kafka", 2, page.Edges[1].Cursor())
		assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	})
}

// TestSearchWalkScalesWithTable: how a search finds its candidates follows
// the table's size. On 3,000 tasks a word in about 1% of them comes from the
// GIN index alone (with a fixed 1% threshold the walk read every task for
// it), a word in 18% from the walk of the newest tasks, which stops at its
// 100th match; two common words that are often together walk too, two that
// never are come from the index after the sample, not after the walk; and
// no search reads the whole table.
func TestSearchWalkScalesWithTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &verify.Recorder{}
	pool, repo := seededTraced(t, 3000, 1, rec)
	anonymous := domain.Viewer{}
	_, err := repo.SearchTasks(ctx, anonymous, "customer", 20, "") // learns the table's size
	require.NoError(t, err)

	// executed sums a plan's nodes that ran: rows read by index name, and
	// the relations scanned sequentially.
	type executed struct {
		indexRows map[string]float64
		seqScans  []string
	}
	var visit func(n any, e *executed)
	visit = func(n any, e *executed) {
		m, _ := n.(map[string]any)
		if loops, _ := m["Actual Loops"].(float64); loops > 0 {
			rows, _ := m["Actual Rows"].(float64)
			if name, ok := m["Index Name"].(string); ok {
				e.indexRows[name] += rows * loops
			}
			if m["Node Type"] == "Seq Scan" {
				e.seqScans = append(e.seqScans, m["Relation Name"].(string))
			}
		}
		children, _ := m["Plans"].([]any)
		for _, c := range children {
			visit(c, e)
		}
	}
	for _, c := range []struct {
		text   string
		walked bool
	}{{"customer", true}, {"cron", false}, {"customer fix", true}, {"fix user", false}} {
		var share, rarest float64
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE search @@ websearch_to_tsquery('english', $1))::float8 / count(*)
			FROM tasks`, c.text).Scan(&share))
		require.NoError(t, pool.QueryRow(ctx, `SELECT min((SELECT count(*) FROM tasks WHERE search @@ to_tsquery('english', w))::float8 / (SELECT count(*) FROM tasks))
			FROM unnest(string_to_array($1, ' ')) AS w`, c.text).Scan(&rarest))
		rec.Reset()
		page, err := repo.SearchTasks(ctx, anonymous, c.text, 20, "")
		require.NoError(t, err)
		require.NotEmpty(t, page.Edges, c.text)
		stmts := rec.Statements()
		require.Len(t, stmts, 1, "%s: one statement", c.text)
		var raw []byte
		require.NoError(t, pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+stmts[0].SQL, stmts[0].Args...).Scan(&raw))
		var plan []map[string]any
		require.NoError(t, json.Unmarshal(raw, &plan))
		e := executed{indexRows: map[string]float64{}}
		visit(plan[0]["Plan"], &e)
		assert.Empty(t, e.seqScans, "%s: no sequential scan ran\n%s", c.text, raw)
		walked := e.indexRows["tasks_created_keyset_idx"]
		sample := float64(0)
		if strings.Contains(c.text, " ") {
			require.Greater(t, rarest, 0.15, "%s: each word is common", c.text)
			sample = 200 // a sample of the newest tasks, at most about 80 (10/share)
		}
		if c.walked {
			require.Greater(t, share, 0.1, "%s is common", c.text)
			assert.Positive(t, walked, "%s walked the newest tasks\n%s", c.text, raw)
			assert.Less(t, walked, 1000.0+sample, "%s: the walk stopped at its 100th match\n%s", c.text, raw)
			assert.Zero(t, e.indexRows["tasks_search_idx"], "%s: the index was not asked\n%s", c.text, raw)
		} else {
			if sample == 0 {
				require.InDelta(t, 0.014, share, 0.01, "cron is in about 1%% of tasks")
			} else {
				require.Less(t, share, 0.01, "%s: the words are rarely together", c.text)
			}
			assert.LessOrEqual(t, walked, sample, "%s: no walk\n%s", c.text, raw)
			assert.Positive(t, e.indexRows["tasks_search_idx"], "%s came from the GIN index\n%s", c.text, raw)
		}
	}
}

// TestSearchIndexPendingListStaysSmall: updates of tasks (none is HOT: each
// changes the indexed updated_at) add every lexeme of the task to the
// full-text index's pending list, which every search reads whole; migration
// 00013 keeps that list under 64 kB instead of GIN's default 4 MB.
func TestSearchIndexPendingListStaysSmall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := fresh(t, nil)
	// No autovacuum: a vacuum merges the list too, which would hide its growth.
	_, err := pool.Exec(ctx, "ALTER TABLE tasks SET (autovacuum_enabled = false)")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO tasks (title, description)
		SELECT 'Cache webhook retries ' || i, 'Dashboard pipeline events from the gateway, audit metrics ' || i
		FROM generate_series(1, 200) i`)
	require.NoError(t, err)
	var limit string
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(array_to_string(reloptions, ','), '')
		FROM pg_class WHERE relname = 'tasks_search_idx'`).Scan(&limit))
	assert.Equal(t, "gin_pending_list_limit=64", limit)
	for i := range 20 {
		_, err = pool.Exec(ctx, "UPDATE tasks SET priority = (ARRAY['LOW','MEDIUM','HIGH'])[$1 % 3 + 1]::task_priority", i)
		require.NoError(t, err)
	}
	var pages, tuples int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT pending_pages, pending_tuples FROM pgstatginindex('tasks_search_idx')").Scan(&pages, &tuples))
	// 4,000 updated rows of about ten lexemes each went through the list.
	assert.LessOrEqual(t, pages, int64(9), "the pending list stays within its 64 kB (%d pages, %d tuples)", pages, tuples)
}

// TestWrittenTextsMatchSearchTexts: the searched texts a write's own
// statements read from the stored search column (domain.WrittenTexts: a
// creation's with its scores, an edit's before and after, a deletion's)
// are what SearchTexts computes from the title and description, on texts
// with stop words, repeats, a word in both parts, quotes, backslashes,
// hyphens, addresses and an empty part; and a write that changes nothing a
// search depends on reads none.
func TestWrittenTextsMatchSearchTexts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, repo := seeded(t, 5, 3)
	texts := [][2]string{
		{"Cache the webhook cache", "The cache of webhooks: retries, retries and more retries."},
		{"It's the user's \"quoted\" title", `A back\slash, an 'apostrophe' and O'Brien's notes`},
		{"multi-word co-operation e-mail", "see https://example.com/a/b?c=1 or ops@example.com, v2.3.1"},
		{"Only a title of the and of", ""},
		{"the", "Description words follow a title of stop words alone"},
	}
	check := func(w *domain.WrittenTexts, rows []*domain.Task, scores bool) {
		t.Helper()
		want, err := repo.SearchTexts(ctx, rows, scores)
		require.NoError(t, err)
		for i, row := range rows {
			got, ok := w.Of(row)
			require.True(t, ok, "the write read the text of %q", row.Title)
			if !scores {
				want[i].Scores, got.Scores = nil, nil
			}
			assert.Equal(t, want[i], got, "%q / %q", row.Title, row.Description)
		}
	}
	for i, tx := range texts {
		wctx, w := domain.WithWrittenTexts(ctx, true)
		created, err := repo.CreateTask(wctx, domain.NewTask{Title: tx[0], Description: tx[1], Type: domain.TypeFeature,
			Priority: domain.PriorityMedium, Visibility: domain.VisibilityPublic})
		require.NoError(t, err)
		check(w, []*domain.Task{created}, true)

		next := texts[(i+1)%len(texts)]
		wctx, w = domain.WithWrittenTexts(ctx, false)
		wctx, priors := domain.WithPriors(wctx)
		edited, err := repo.UpdateTask(wctx, created.ID, domain.TaskPatch{Title: &next[0], Description: &next[1]}, nil)
		require.NoError(t, err)
		before := priors.Tasks()
		require.Len(t, before, 1)
		check(w, []*domain.Task{&before[0], edited}, false)

		wctx, w = domain.WithWrittenTexts(ctx, false)
		high := domain.PriorityHigh
		again, err := repo.UpdateTask(wctx, created.ID, domain.TaskPatch{Priority: &high}, nil)
		require.NoError(t, err)
		_, ok := w.Of(again)
		assert.False(t, ok, "a priority edit reads no text")

		wctx, w = domain.WithWrittenTexts(ctx, false)
		d, err := repo.DeleteTask(wctx, created.ID, nil)
		require.NoError(t, err)
		check(w, []*domain.Task{d.Task}, false)
	}
}

// TestFailedCreationReturnsNoTask: a creation that fails after its insert
// (a tag the schema refuses) is rolled back and returns no task, so no
// cache above the store writes through, or adds to search additions, a
// task that does not exist.
func TestFailedCreationReturnsNoTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, repo := seeded(t, 5, 4)
	created, err := repo.CreateTask(ctx, domain.NewTask{Title: "Phantom webhook", Type: domain.TypeFeature,
		Priority: domain.PriorityMedium, Visibility: domain.VisibilityPublic, Tags: []string{"Not A Tag!"}})
	require.Error(t, err)
	assert.Nil(t, created)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM tasks WHERE title = 'Phantom webhook'").Scan(&n))
	assert.Zero(t, n)
}
