package repository

import (
	"context"
	"fmt"
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
// bounded candidate set, the searchCandidates newest matches, found the
// cheap way for the word at hand:
//
//   - recent: when the statistics say the query may match at least one
//     task in searchRecent/searchCandidates (search_frequency, migration
//     00008), walk the searchRecent newest tasks on tasks_created_keyset_idx
//     (rows that sit together on disk) and keep the first searchCandidates
//     matches; the walk stops there, after about searchCandidates/share
//     rows.
//   - all: when the statistics say the query is rarer, or the walk found
//     too few, the GIN index yields every match (each on its own page,
//     which is what bounds this step's speed), of which the newest are kept.
//   - fuzzy: when nothing matches, each word of the query is replaced by
//     the most similar word of the search vocabulary (search_words, a
//     trigram index over the lexemes of tasks, migration 00008), and
//     the corrected query runs as in all.
//
// The trade-off: results are the best of the newest searchCandidates
// matches, not of every match (for a rare word, that is every match), and
// a search returns at most searchCandidates tasks. Pages are cut by
// (score, created_at, id); a cursor carries the step that made the first
// page, so every page ranks the same candidates.
const (
	searchCandidates = 100
	searchRecent     = 10000
)

// searchStep is how a search found its candidates (see above).
type searchStep string

const (
	stepRecent searchStep = "recent"
	stepAll    searchStep = "all"
	stepFuzzy  searchStep = "fuzzy"
)

// searchHit is a ranked candidate.
type searchHit struct {
	task  *domain.Task
	score float64
	n     int // candidates in the set
}

// searchStatement is the statement of a step: the candidates, their rank,
// the page after the cursor.
func searchStatement(v domain.Viewer, step searchStep, text string, first int, c []string) (string, []any, error) {
	vis, vargs, err := visibleTo(v).ToSql()
	if err != nil {
		return "", nil, err
	}
	config := "english"
	if step == stepFuzzy { // the corrected words are lexemes already
		config = "simple"
	}
	// index: tasks_created_keyset_idx (recent) or tasks_search_idx (all, fuzzy)
	candidates := `SELECT t.id, t.created_at, t.search FROM tasks t
		WHERE ` + vis + ` AND t.search @@ websearch_to_tsquery(?::regconfig, ?)
		ORDER BY t.created_at DESC, t.id DESC LIMIT ?`
	args := append(append([]any{}, vargs...), config, text, searchCandidates)
	if step == stepRecent {
		// The frequency test has no column: the planner evaluates it once,
		// before the walk, which it skips when the test fails.
		candidates = `SELECT t.id, t.created_at, t.search FROM (
			SELECT t.id, t.created_at, t.search FROM tasks t WHERE ` + vis + `
			ORDER BY t.created_at DESC, t.id DESC LIMIT ?) t
		WHERE t.search @@ websearch_to_tsquery(?::regconfig, ?)
			AND search_frequency(websearch_to_tsquery(?::regconfig, ?)) >= ?
		ORDER BY t.created_at DESC, t.id DESC LIMIT ?`
		args = append(append(append([]any{}, vargs...), searchRecent), config, text, config, text,
			float64(searchCandidates)/searchRecent, searchCandidates)
	}
	page := ""
	if c != nil {
		page = "WHERE (r.score, r.created_at, r.id) < (?::float8, ?::timestamptz, ?::uuid)"
	}
	sql := `WITH c AS (` + candidates + `),
		r AS (SELECT c.id, c.created_at, ts_rank_cd(c.search, websearch_to_tsquery(?::regconfig, ?))::float8 AS score FROM c)
		SELECT ` + taskCols + `, r.score, (SELECT count(*) FROM c)
		FROM r JOIN tasks t ON t.id = r.id ` + page + `
		ORDER BY r.score DESC, r.created_at DESC, r.id DESC LIMIT ?`
	args = append(args, config, text)
	for _, v := range c {
		args = append(args, v)
	}
	args = append(args, first+1)
	sql, err = sq.Dollar.ReplacePlaceholders(sql)
	return sql, args, err
}

// searchStep runs one step.
func (r *Repo) searchStep(ctx context.Context, v domain.Viewer, step searchStep, text string, first int, c []string) ([]searchHit, error) {
	sql, args, err := searchStatement(v, step, text, first, c)
	if err != nil {
		return nil, fmt.Errorf("build search: %w", err)
	}
	rows, err := r.pools.Analytics.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (searchHit, error) {
		var h searchHit
		h.task = &domain.Task{}
		err := row.Scan(append(taskDest(h.task), &h.score, &h.n)...)
		return h, err
	})
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
			ORDER BY similarity(s.word, l.lexeme) DESC, s.ndoc DESC, s.word LIMIT 1) w ON true`, text).Scan(&words, &changed)
	if err != nil {
		return "", false, translate(err)
	}
	return strings.Join(words, " "), changed, nil
}

// runSearch finds the candidates of text for v and returns the page after
// the cursor, with the step that made it and the text it searched.
func (r *Repo) runSearch(ctx context.Context, v domain.Viewer, text string, first int, after string) ([]searchHit, searchStep, string, error) {
	if after != "" {
		step, values, err := decodeSearchCursor(after, text)
		if err != nil {
			return nil, "", "", err
		}
		if step == stepFuzzy {
			if text, _, err = r.correctSearch(ctx, text); err != nil {
				return nil, "", "", err
			}
		}
		hits, err := r.searchStep(ctx, v, step, text, first, values)
		return hits, step, text, err
	}
	hits, err := r.searchStep(ctx, v, stepRecent, text, first, nil)
	if err != nil || (len(hits) > 0 && hits[0].n == searchCandidates) {
		return hits, stepRecent, text, err
	}
	if hits, err = r.searchStep(ctx, v, stepAll, text, first, nil); err != nil || len(hits) > 0 {
		return hits, stepAll, text, err
	}
	corrected, changed, err := r.correctSearch(ctx, text)
	if err != nil || !changed {
		return nil, stepAll, text, err
	}
	hits, err = r.searchStep(ctx, v, stepFuzzy, corrected, first, nil)
	return hits, stepFuzzy, corrected, err
}

// SearchTasks returns one page of the tasks v may see that match text, best
// first (see Search above).
func (r *Repo) SearchTasks(ctx context.Context, v domain.Viewer, text string, first int, after string) (*domain.TaskPage, error) {
	hits, step, _, err := r.runSearch(ctx, v, text, first, after)
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
	for _, step := range []searchStep{stepRecent, stepAll, stepFuzzy} {
		if values, err := decodeCursor(after, searchOrder(text)+":"+string(step), []string{"float8", "timestamptz", "uuid"}); err == nil {
			return step, values, nil
		}
	}
	return "", nil, domain.Invalid("after", "not a cursor of this list; pass an endCursor returned with the same arguments")
}

// CountSearch counts the tasks a search for text can return to v: its
// candidates, at most searchCandidates (see Search above).
func (r *Repo) CountSearch(ctx context.Context, v domain.Viewer, text string) (int, error) {
	hits, _, _, err := r.runSearch(ctx, v, text, 1, "")
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
	_, err := tx.Exec(ctx, `INSERT INTO search_words (word, ndoc)
		SELECT w, 1 FROM tasks t, unnest(tsvector_to_array(t.search)) AS w
		WHERE t.id = $1 AND w ~ '^[a-z]{3,}$' ORDER BY w
		ON CONFLICT (word) DO NOTHING`, taskID)
	return translate(err)
}
