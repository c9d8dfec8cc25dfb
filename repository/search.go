package repository

import (
	"context"
	"fmt"
	"math"
	"strings"

	sq "github.com/Masterminds/squirrel"
	"github.com/herotasks/api/domain"
	"github.com/jackc/pgx/v5"
)

// Search is full text over the generated tasks.search column (title with
// weight A above description with weight B; index tasks_search_idx),
// queried with websearch_to_tsquery and ranked with ts_rank_cd.
//
// Ranking every match costs one heap visit per match: a common word
// matches tens of thousands of tasks in a million, scattered over the
// whole table, which takes hundreds of milliseconds however it is
// indexed (a GIN index yields matches, not an order). So a search ranks a
// bounded candidate set, the searchCandidates newest matches, found in one
// statement the cheap way for the words at hand:
//
//   - recent: when the vocabulary says the query may match a share of tasks
//     large enough for the table's size (search_frequency, migration 00008:
//     the smallest share of tasks among its words; planSearch), walk the
//     newest tasks on tasks_created_keyset_idx (rows that sit together on
//     disk) and keep the first searchCandidates matches; the walk stops
//     there, after about searchCandidates/share rows, or at planSearch's
//     bound.
//   - all: when the vocabulary says the query is rarer, or the walk found
//     too few, the GIN index yields every match (each on its own page,
//     which is what bounds this branch's speed), of which the newest are
//     kept. The statement only runs this branch when the first came short.
//
// When nothing matches, each word of the query is replaced by the most
// similar word of the search vocabulary (search_words, a trigram index over
// the lexemes of tasks, migration 00008) and the corrected words are
// searched the same way (fuzzy).
//
// The trade-off: results are the best of the newest searchCandidates
// matches, not of every match (for a rare word, that is every match), and
// a search returns at most searchCandidates tasks. Pages are cut by
// (score, created_at, id); a cursor says whether the words were corrected,
// so every page ranks the same candidates.
const (
	searchCandidates = 100
	searchRecent     = 10000
)

// searchStep says whether a search ran the words as given or corrected.
type searchStep string

const (
	stepExact searchStep = "exact"
	stepFuzzy searchStep = "fuzzy"
)

// searchHit is a ranked candidate.
type searchHit struct {
	task  *domain.Task
	score float64
	n     int // candidates in the set
}

// searchPlan says when a search walks the newest tasks: from which share
// of tasks a query is common enough (search_frequency), and how many of the
// newest tasks the walk reads at most.
type searchPlan struct {
	share float64
	walk  int
}

// planSearch scales the walk to a table of about tasks rows. Walking finds
// the searchCandidates newest matches after about searchCandidates/share
// rows, side by side on disk; the GIN index yields all share*tasks matches,
// one heap visit each. They cost about the same where share is
// sqrt(searchCandidates/(2*tasks)): about 7% of 10,000 tasks, 0.7% of a
// million (where the floor, searchCandidates/searchRecent, takes over).
// Below that share the GIN index is cheaper. The walk stops after
// twice the rows that share needs (at most searchRecent), so a query whose
// words are each common but rarely together (the vocabulary only bounds a
// query's share by its rarest word) gives up early and asks the index.
func planSearch(tasks float64) searchPlan {
	share := math.Max(float64(searchCandidates)/searchRecent, math.Sqrt(searchCandidates/(2*math.Max(tasks, 1))))
	return searchPlan{share: share, walk: min(searchRecent, int(math.Ceil(2*searchCandidates/share)))}
}

// searchStatement finds the candidates of text (see above), ranks them
// and returns the page after the cursor c.
func searchStatement(v domain.Viewer, step searchStep, text string, first int, c []string, plan searchPlan) (string, []any, error) {
	vis, vargs, err := visibleTo(v).ToSql()
	if err != nil {
		return "", nil, err
	}
	config := "english"
	if step == stepFuzzy { // the corrected words are lexemes already
		config = "simple"
	}
	match := "t.search @@ websearch_to_tsquery(?::regconfig, ?)"
	page := ""
	if c != nil {
		page = "WHERE (x.score, x.created_at, x.id) < (?::float8, ?::timestamptz, ?::uuid)"
	}
	// recent walks the newest tasks (index: tasks_created_keyset_idx); the
	// frequency test has no column, so the planner evaluates it once and
	// skips the walk when it fails. matches is every match (index:
	// tasks_search_idx), a fence so the planner does not walk the created
	// index for it; it is read, and so computed, only when recent came short,
	// and holds no tsvector: only the newest searchCandidates fetch theirs,
	// by primary key (OFFSET 0 keeps that a lookup per row). The page is cut
	// before the rows are joined, so only its rows are read in full, by
	// primary key.
	sql := `WITH recent AS (
			SELECT t.id, t.created_at, t.search FROM (
				SELECT t.id, t.created_at, t.search FROM tasks t WHERE ` + vis + `
				ORDER BY t.created_at DESC, t.id DESC LIMIT ?) t
			WHERE ` + match + ` AND search_frequency(websearch_to_tsquery(?::regconfig, ?)) >= ?
			ORDER BY t.created_at DESC, t.id DESC LIMIT ?),
		matches AS MATERIALIZED (
			SELECT t.id, t.created_at FROM tasks t WHERE ` + vis + ` AND ` + match + `),
		c AS (
			SELECT * FROM recent WHERE (SELECT count(*) FROM recent) = ?
			UNION ALL
			SELECT m.id, m.created_at, s.search FROM (
				SELECT * FROM matches WHERE (SELECT count(*) FROM recent) < ? ORDER BY created_at DESC, id DESC LIMIT ?) m
			CROSS JOIN LATERAL (SELECT t.search FROM tasks t WHERE t.id = m.id OFFSET 0) s),
		x AS (SELECT c.id, c.created_at, ts_rank_cd(c.search, websearch_to_tsquery(?::regconfig, ?))::float8 AS score FROM c),
		p AS (SELECT x.id, x.created_at, x.score FROM x ` + page + `
			ORDER BY x.score DESC, x.created_at DESC, x.id DESC LIMIT ?)
		SELECT ` + taskCols + `, p.score, (SELECT count(*) FROM c),
			(SELECT greatest(reltuples, 1)::float8 FROM pg_class WHERE oid = 'tasks'::regclass)
		FROM p JOIN tasks t ON t.id = p.id
		ORDER BY p.score DESC, p.created_at DESC, p.id DESC`
	var args []any
	args = append(append(args, vargs...), plan.walk, config, text, config, text, plan.share, searchCandidates)
	args = append(append(args, vargs...), config, text)
	args = append(args, searchCandidates, searchCandidates, searchCandidates, config, text)
	for _, v := range c {
		args = append(args, v)
	}
	args = append(args, first+1)
	sql, err = sq.Dollar.ReplacePlaceholders(sql)
	return sql, args, err
}

// searchPlan returns the plan for the size of the tasks table that the
// last search saw (its planner estimate, which each search statement
// returns); before any, that of a million tasks.
func (r *Repo) searchPlan() searchPlan {
	rows := math.Float64frombits(r.tasksRows.Load())
	if rows == 0 {
		rows = 1e6
	}
	return planSearch(rows)
}

// searchStep runs the search statement.
func (r *Repo) searchStep(ctx context.Context, v domain.Viewer, step searchStep, text string, first int, c []string) ([]searchHit, error) {
	sql, args, err := searchStatement(v, step, text, first, c, r.searchPlan())
	if err != nil {
		return nil, fmt.Errorf("build search: %w", err)
	}
	// Planned for its arguments every time (an unnamed statement, one
	// round trip): the statement text is the same for every query, and a
	// prepared statement's generic plan, which PostgreSQL adopts after five
	// runs, cannot know which branch the words take, and is several times
	// slower at a million tasks (BenchmarkSearch).
	rows, err := r.pools.Analytics.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, translate(err)
	}
	var tasks float64
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (searchHit, error) {
		var h searchHit
		h.task = &domain.Task{}
		err := row.Scan(append(taskDest(h.task), &h.score, &h.n, &tasks)...)
		return h, err
	})
	if tasks > 0 {
		r.tasksRows.Store(math.Float64bits(tasks))
	}
	return hits, translate(err)
}

// correctSearch replaces each lexeme of text that no task has with the most
// similar word of the vocabulary (index: search_words_word_trgm_idx), and
// reports whether anything changed.
func (r *Repo) correctSearch(ctx context.Context, text string) (string, bool, error) {
	var words []string
	var changed bool
	err := r.pools.Analytics.QueryRow(ctx, `SELECT coalesce(array_agg(coalesce(w.word, l.lexeme) ORDER BY l.i), '{}'),
			coalesce(bool_or(w.word <> l.lexeme), false)
		FROM unnest(tsvector_to_array(to_tsvector('english', $1))) WITH ORDINALITY AS l(lexeme, i)
		LEFT JOIN LATERAL (SELECT s.word FROM search_words s WHERE s.word % l.lexeme
			ORDER BY similarity(s.word, l.lexeme) DESC, s.share DESC, s.word LIMIT 1) w ON true`, text).Scan(&words, &changed)
	if err != nil {
		return "", false, translate(err)
	}
	return strings.Join(words, " "), changed, nil
}

// runSearch finds the candidates of text for v and returns the page after
// the cursor, with the step that made it.
func (r *Repo) runSearch(ctx context.Context, v domain.Viewer, text string, first int, after string) ([]searchHit, searchStep, error) {
	step, values := stepExact, []string(nil)
	if after != "" {
		var err error
		if step, values, err = decodeSearchCursor(after, text); err != nil {
			return nil, "", err
		}
	}
	if step == stepExact {
		hits, err := r.searchStep(ctx, v, stepExact, text, first, values)
		if err != nil || len(hits) > 0 || after != "" {
			return hits, stepExact, err
		}
	}
	corrected, changed, err := r.correctSearch(ctx, text)
	if err != nil || !changed {
		return nil, stepFuzzy, err
	}
	hits, err := r.searchStep(ctx, v, stepFuzzy, corrected, first, values)
	return hits, stepFuzzy, err
}

// SearchTasks returns one page of the tasks v may see that match text, best
// first (see Search above).
func (r *Repo) SearchTasks(ctx context.Context, v domain.Viewer, text string, first int, after string) (*domain.TaskPage, error) {
	hits, step, err := r.runSearch(ctx, v, text, first, after)
	if err != nil {
		return nil, err
	}
	page := &domain.TaskPage{HasNextPage: len(hits) > first}
	if page.HasNextPage {
		hits = hits[:first]
	}
	page.Edges = make([]domain.TaskEdge, len(hits))
	for i, h := range hits {
		c := encodeCursor(searchOrder(text)+":"+string(step),
			[]string{fmt.Sprint(h.score), pgTime(h.task.CreatedAt), h.task.ID})
		page.Edges[i] = domain.TaskEdge{Cursor: c, Node: h.task}
	}
	return page, nil
}

// decodeSearchCursor reads a search cursor of text: the step and the
// (score, created_at, id) of the last row.
func decodeSearchCursor(after, text string) (searchStep, []string, error) {
	for _, step := range []searchStep{stepExact, stepFuzzy} {
		if values, err := decodeCursor(after, searchOrder(text)+":"+string(step), []string{"float8", "timestamptz", "uuid"}); err == nil {
			return step, values, nil
		}
	}
	return "", nil, domain.Invalid("after", "not a cursor of this list; pass an endCursor returned with the same arguments")
}

// CountSearch counts the tasks a search for text can return to v: its
// candidates, at most searchCandidates (see Search above).
func (r *Repo) CountSearch(ctx context.Context, v domain.Viewer, text string) (int, error) {
	hits, _, err := r.runSearch(ctx, v, text, 1, "")
	if err != nil || len(hits) == 0 {
		return 0, err
	}
	return hits[0].n, nil
}

// learnSearchWords adds the words of a task that the search vocabulary
// lacks, in the transaction that wrote the task, so a misspelling of a word
// that just arrived is corrected at once (the hourly refresh also drops
// words no task holds any more and recounts). Sorted, so two writers never
// wait on each other's new words in opposite orders.
func learnSearchWords(ctx context.Context, tx pgx.Tx, taskID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO search_words (word, share)
		SELECT w, 0 FROM tasks t, unnest(tsvector_to_array(t.search)) AS w
		WHERE t.id = $1 AND w ~ '^[a-z]{3,}$' ORDER BY w
		ON CONFLICT (word) DO NOTHING`, taskID)
	return translate(err)
}
