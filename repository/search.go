package repository

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	sq "github.com/Masterminds/squirrel"
	"github.com/google/uuid"
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
	searchCandidates = domain.MaxSearchCandidates
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
// of tasks a query is common enough (search_frequency), how many of the
// newest tasks the walk reads at most, and how many of them the sample that
// confirms the share reads first.
type searchPlan struct {
	share  float64
	walk   int
	sample int
}

// searchSampleHits sizes the sample of the newest tasks that confirms a
// query's share: searchSampleHits/share rows hold that many matches on
// average when the query's share is the walk's threshold. A search walks
// when the sample holds at least half of them: a query nearer the threshold
// costs about the same either way, and both ways find the same candidates.
const searchSampleHits = 10

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
//
// The vocabulary bounds a query's share by its rarest word only: two words
// each in 20% of tasks may be together in none, or in 15%. So before it
// walks, a search counts the matches among the newest searchSampleHits/share
// tasks (a twentieth of the walk's bound) and walks only when they hold
// about as many matches as the threshold share would put there: words
// rarely together go to the index after the sample instead of after the
// whole walk, words often together still walk.
func planSearch(tasks float64) searchPlan {
	share := math.Max(float64(searchCandidates)/searchRecent, math.Sqrt(searchCandidates/(2*math.Max(tasks, 1))))
	return searchPlan{share: share, walk: min(searchRecent, int(math.Ceil(2*searchCandidates/share))),
		sample: int(math.Ceil(searchSampleHits / share))}
}

// candidatesCTE is the candidate set of text among the tasks that satisfy
// vis, as the CTEs recent, matches, c and x (the candidates with their
// scores), in the order of its arguments.
func candidatesCTE(vis string, vargs []any, config, text string, plan searchPlan) (string, []any) {
	match := "t.search @@ websearch_to_tsquery(?::regconfig, ?)"
	// recent walks the newest tasks (index: tasks_created_keyset_idx); the
	// frequency test and the sample have no column, so the planner
	// evaluates them once (the sample only when the frequency passed: CASE
	// keeps that order) and skips the walk when they fail. matches is every match (index:
	// tasks_search_idx), a fence so the planner does not walk the created
	// index for it; it is read, and so computed, only when recent came short,
	// and holds no tsvector: only the newest searchCandidates fetch theirs,
	// by primary key (OFFSET 0 keeps that a lookup per row).
	sql := `WITH recent AS (
			SELECT t.id, t.created_at, t.search FROM (
				SELECT t.id, t.created_at, t.search FROM tasks t WHERE ` + vis + `
				ORDER BY t.created_at DESC, t.id DESC LIMIT ?) t
			WHERE ` + match + ` AND CASE WHEN search_frequency(websearch_to_tsquery(?::regconfig, ?)) >= ?
				THEN (SELECT count(*) FROM (
					SELECT t.search FROM tasks t WHERE ` + vis + `
					ORDER BY t.created_at DESC, t.id DESC LIMIT ?) s
					WHERE s.search @@ websearch_to_tsquery(?::regconfig, ?)) >= ?
				ELSE false END
			ORDER BY t.created_at DESC, t.id DESC LIMIT ?),
		matches AS MATERIALIZED (
			SELECT t.id, t.created_at FROM tasks t WHERE ` + vis + ` AND ` + match + `),
		c AS (
			SELECT * FROM recent WHERE (SELECT count(*) FROM recent) = ?
			UNION ALL
			SELECT m.id, m.created_at, s.search FROM (
				SELECT * FROM matches WHERE (SELECT count(*) FROM recent) < ? ORDER BY created_at DESC, id DESC LIMIT ?) m
			CROSS JOIN LATERAL (SELECT t.search FROM tasks t WHERE t.id = m.id OFFSET 0) s),
		x AS (SELECT c.id, c.created_at, ts_rank_cd(c.search, websearch_to_tsquery(?::regconfig, ?))::float8 AS score FROM c)`
	var args []any
	args = append(append(args, vargs...), plan.walk, config, text, config, text, plan.share)
	args = append(append(args, vargs...), plan.sample, config, text, searchSampleHits/2, searchCandidates)
	args = append(append(args, vargs...), config, text)
	args = append(args, searchCandidates, searchCandidates, searchCandidates, config, text)
	return sql, args
}

// searchConfig is the text search configuration of a step: the corrected
// words are lexemes already.
func searchConfig(step searchStep) string {
	if step == stepFuzzy {
		return "simple"
	}
	return "english"
}

// searchStatement finds the candidates of text (see above), ranks them
// and returns the page after the cursor c.
func searchStatement(v domain.Viewer, step searchStep, text string, first int, c []string, plan searchPlan) (string, []any, error) {
	vis, vargs, err := visibleTo(v).ToSql()
	if err != nil {
		return "", nil, err
	}
	cte, args := candidatesCTE(vis, vargs, searchConfig(step), text, plan)
	page := ""
	if c != nil {
		page = "WHERE (x.score, x.created_at, x.id) < (?::float8, ?::timestamptz, ?::uuid)"
	}
	// The page is cut before the rows are joined, so only its rows are read
	// in full, by primary key.
	sql := cte + `,
		p AS (SELECT x.id, x.created_at, x.score FROM x ` + page + `
			ORDER BY x.score DESC, x.created_at DESC, x.id DESC LIMIT ?)
		SELECT ` + taskCols + `, p.score, (SELECT count(*) FROM c),
			(SELECT greatest(reltuples, 1)::float8 FROM pg_class WHERE oid = 'tasks'::regclass)
		FROM p JOIN tasks t ON t.id = p.id
		ORDER BY p.score DESC, p.created_at DESC, p.id DESC`
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
		page.Edges[i] = domain.NewTaskEdge(c, h.task)
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
func learnSearchWords(ctx context.Context, tx *writeTx, taskID string) error {
	tx.atCommit(`INSERT INTO search_words (word, share)
		SELECT w, 0 FROM tasks t, unnest(tsvector_to_array(t.search)) AS w
		WHERE t.id = $1 AND w ~ '^[a-z]{3,}$' ORDER BY w
		ON CONFLICT (word) DO NOTHING`, taskID)
	return nil
}

var _ domain.TaskSearcher = (*Repo)(nil)

// The search in parts (domain.TaskSearcher), for the entity cache, which
// keeps each audience's candidates and ranks their union itself.

// SearchTerms parses text as the english configuration does: its lexemes
// (those of its query among them), whether the query holds a negation or no
// lexeme (so that a task may match it holding none of them), and its one
// lexeme when it is made of nothing else.
func (r *Repo) SearchTerms(ctx context.Context, text string) (domain.SearchQuery, error) {
	var q domain.SearchQuery
	var negated bool
	var nodes int
	var query string
	err := r.pools.Read.QueryRow(ctx, `SELECT tsvector_to_array(to_tsvector('english', $1)),
			position('!' in q::text) > 0, numnode(q), q::text
		FROM websearch_to_tsquery('english', $1) AS q`, text).Scan(&q.Lexemes, &negated, &nodes, &query)
	if err != nil {
		return q, translate(err)
	}
	q.Open = negated || len(q.Lexemes) == 0
	// One operand is printed as the quoted lexeme: 'word'.
	if l, ok := strings.CutPrefix(query, "'"); ok && nodes == 1 && !q.Open {
		if l, ok = strings.CutSuffix(l, "'"); ok && !strings.ContainsAny(l, `'\`) {
			q.Single = l
		}
	}
	q.Required = requiredLexeme(query)
	q.All = allLexemes(query)
	q.Key = queryKey(query)
	return q, nil
}

// printedQuery is a tsquery as PostgreSQL prints it ('a' & 'b' <-> 'c'),
// read once: its operands (each as printed, quotes included, and as a
// lexeme) and whether it holds anything but operands joined by & and <->.
type printedQuery struct {
	operands, lexemes []string
	followedBy        bool // a <-> (or <N>) between operands
	grouped           bool // parentheses
	other             bool // |, !, a prefix or weights ('a':*)
}

// readPrinted reads query; ok false when the printed form is ambiguous (a
// backslash, which PostgreSQL does not escape) or holds no operand.
func readPrinted(query string) (q printedQuery, ok bool) {
	if strings.ContainsRune(query, '\\') {
		return q, false
	}
	for i := 0; i < len(query); i++ {
		switch query[i] {
		case '|', '!':
			q.other = true
		case '(', ')':
			q.grouped = true
		case '<':
			q.followedBy = true
		case '\'':
			start := i
			var b strings.Builder
			for i++; i < len(query); i++ {
				if query[i] == '\'' {
					if i+1 < len(query) && query[i+1] == '\'' { // a quote, doubled
						b.WriteByte('\'')
						i++
						continue
					}
					break
				}
				b.WriteByte(query[i])
			}
			q.operands = append(q.operands, query[start:min(i+1, len(query))])
			q.lexemes = append(q.lexemes, b.String())
			if i+1 < len(query) && query[i+1] == ':' {
				q.other = true
			}
		}
	}
	return q, len(q.operands) > 0
}

// queryKey is a canonical form of a tsquery as PostgreSQL prints it: the
// printed form itself, with the operands sorted when every operator is &
// (AND commutes, in the matches and in ts_rank_cd's covers; FOLLOWED BY
// does not). "" when the printed form is ambiguous.
func queryKey(query string) string {
	q, ok := readPrinted(query)
	switch {
	case !ok:
		return ""
	case q.other || q.followedBy || q.grouped:
		return query
	}
	terms := slices.Clone(q.operands)
	slices.Sort(terms)
	return strings.Join(terms, " & ")
}

// requiredLexeme returns the longest operand of a tsquery as PostgreSQL
// prints it when every operator is & or <->, so that a match holds every
// operand; "" otherwise (an OR, a negation, a prefix, an ambiguous printed
// form, or no operand).
func requiredLexeme(query string) string {
	q, ok := readPrinted(query)
	if !ok || q.other {
		return ""
	}
	var best string
	for _, l := range q.lexemes {
		if len(l) > len(best) || (len(l) == len(best) && l < best) {
			best = l
		}
	}
	return best
}

// allLexemes returns the operands of a tsquery as PostgreSQL prints it
// when every operator is & or <->, so that a match holds every one of them;
// nil otherwise (as requiredLexeme).
func allLexemes(query string) []string {
	q, ok := readPrinted(query)
	if !ok || q.other {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(q.lexemes)))
}

// SearchCandidates returns the candidates of text among an audience's
// tasks with the words as given (step exact), newest first. A user's
// private tasks are few: they are matched directly (indexes:
// tasks_private_created_by_idx, tasks_private_assignee_idx), where the
// shared audiences take the plan of Search above.
func (r *Repo) SearchCandidates(ctx context.Context, audience, text string) ([]domain.SearchHit, error) {
	var sql string
	var args []any
	switch {
	case audience == "all" || audience == "pub":
		vis := "TRUE"
		if audience == "pub" {
			vis = "t.visibility = 'PUBLIC'"
		}
		cte, cargs := candidatesCTE(vis, nil, "english", text, r.searchPlan())
		var err error
		// With the table's size, as searchStep reads it, for the next plan.
		if sql, err = sq.Dollar.ReplacePlaceholders(cte + `
			SELECT x.id, x.created_at, x.score,
				(SELECT greatest(reltuples, 1)::float8 FROM pg_class WHERE oid = 'tasks'::regclass)
			FROM x ORDER BY x.created_at DESC, x.id DESC`); err != nil {
			return nil, fmt.Errorf("build search: %w", err)
		}
		args = cargs
	case strings.HasPrefix(audience, "u:") && validUUID(strings.TrimPrefix(audience, "u:")):
		// Both sides by their partial index, whatever the words: a common
		// word's GIN posting list is far longer than a user's private tasks.
		sql = `WITH mine AS MATERIALIZED (` + privateTasks("$2") + `)
			SELECT t.id, t.created_at, ts_rank_cd(t.search, q)::float8
			FROM mine JOIN tasks t ON t.id = mine.id, websearch_to_tsquery('english', $1) AS q
			WHERE t.search @@ q
			ORDER BY t.created_at DESC, t.id DESC LIMIT $3`
		args = []any{text, strings.TrimPrefix(audience, "u:"), searchCandidates}
	default:
		return nil, domain.Invalid("audience", "not a search audience")
	}
	// Planned for its arguments, as searchStep explains.
	rows, err := r.pools.Analytics.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, translate(err)
	}
	var tasks float64
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.SearchHit, error) {
		var h domain.SearchHit
		dest := []any{&h.ID, &h.CreatedAt, &h.Score}
		if len(row.FieldDescriptions()) > 3 {
			dest = append(dest, &tasks)
		}
		return h, row.Scan(dest...)
	})
	if tasks > 0 {
		r.tasksRows.Store(math.Float64bits(tasks))
	}
	return hits, translate(err)
}

// privateTasks selects the ids of the private tasks of the user whose id is
// parameter p, each side by its partial index (tasks_private_created_by_idx,
// tasks_private_assignee_idx).
func privateTasks(p string) string {
	return `SELECT t.id FROM tasks t WHERE t.visibility = 'PRIVATE' AND t.created_by = ` + p + `::uuid
		UNION
		SELECT t.id FROM tasks t WHERE t.visibility = 'PRIVATE' AND t.assignee_id = ` + p + `::uuid`
}

// SearchPostings returns, for each lexeme of a user's private tasks, the
// candidates of the query made of that lexeme alone, with the score
// ts_rank_cd gives that query (domain.TaskSearcher).
func (r *Repo) SearchPostings(ctx context.Context, audience string, limit int) (map[string][]domain.SearchHit, bool, error) {
	user, ok := strings.CutPrefix(audience, "u:")
	if !ok || !validUUID(user) {
		return nil, false, domain.Invalid("audience", "not a user's audience")
	}
	// The lexeme as a tsquery literal: quoted, its quotes doubled; those
	// with a backslash are left out rather than escaped.
	rows, err := r.pools.Analytics.Query(ctx, `WITH mine AS MATERIALIZED (`+privateTasks("$1")+`)
		SELECT u.lexeme, t.id, t.created_at,
			ts_rank_cd(t.search, ('''' || replace(u.lexeme, '''', '''''') || '''')::tsquery)::float8
		FROM mine JOIN tasks t ON t.id = mine.id, unnest(t.search) u
		WHERE strpos(u.lexeme, '\') = 0
		LIMIT $2`, user, limit+1)
	if err != nil {
		return nil, false, translate(err)
	}
	out := map[string][]domain.SearchHit{}
	n := 0
	var lexeme string
	var h domain.SearchHit
	_, err = pgx.ForEachRow(rows, []any{&lexeme, &h.ID, &h.CreatedAt, &h.Score}, func() error {
		out[lexeme] = append(out[lexeme], h)
		n++
		return nil
	})
	if err != nil {
		return nil, false, translate(err)
	}
	if n > limit {
		return nil, false, nil
	}
	for l, hits := range out {
		slices.SortFunc(hits, domain.NewestFirst)
		out[l] = hits[:min(len(hits), searchCandidates)]
	}
	return out, true, nil
}

// SearchTexts returns each task's searched text as the search column is
// made of it (domain.SearchText), and, when asked, its score for each
// one-lexeme query (the lexeme as a tsquery literal, as SearchPostings makes
// it): the column computed from the title and description as the schema
// computes it, read as a write reads its stored one (searchTextCol).
func (r *Repo) SearchTexts(ctx context.Context, tasks []*domain.Task, scores bool) ([]domain.SearchText, error) {
	titles, descs := make([]string, len(tasks)), make([]string, len(tasks))
	for i, t := range tasks {
		titles[i], descs[i] = t.Title, t.Description
	}
	cols := searchTextCol
	if scores {
		cols += ", " + searchScoreCols
	}
	rows, err := r.pools.Read.Query(ctx, `SELECT `+cols+`
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(title, description, i),
			LATERAL (SELECT setweight(to_tsvector('english', x.title), 'A') || setweight(to_tsvector('english', x.description), 'B') AS search) t
		ORDER BY x.i`, titles, descs)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.SearchText, error) {
		var text, lexemes []string
		var ranks []float64
		dest := []any{&text}
		if scores {
			dest = append(dest, &lexemes, &ranks)
		}
		if err := row.Scan(dest...); err != nil {
			return domain.SearchText{}, err
		}
		st, err := searchTextOf(text)
		if scores {
			st.Scores = scoresOf(lexemes, ranks)
		}
		return st, err
	})
	if err == nil && len(out) != len(tasks) {
		err = fmt.Errorf("search texts: %d rows for %d tasks", len(out), len(tasks))
	}
	return out, translate(err)
}

// searchTextCol is a task row's searched text (domain.SearchText) as its
// stored search column holds it (alias t): each lexeme with its positions
// and their weights, "lexeme {1,5} AB". A write returns it with the rows it
// locks and writes (domain.WrittenTexts); the column is stored, so nothing
// is parsed again.
const searchTextCol = `(SELECT coalesce(array_agg(u.lexeme || ' ' || u.positions::text || ' ' || array_to_string(u.weights, '')), '{}')
	FROM unnest(t.search) u)`

// searchScoreCols are a row's lexemes (sorted, those holding a backslash
// left out) and its score for the query made of each alone, as
// SearchTexts returns them.
const searchScoreCols = `(SELECT coalesce(array_agg(u.lexeme ORDER BY u.lexeme), '{}') FROM unnest(t.search) u WHERE strpos(u.lexeme, '\') = 0),
	(SELECT coalesce(array_agg(ts_rank_cd(t.search, ('''' || replace(u.lexeme, '''', '''''') || '''')::tsquery)::float8 ORDER BY u.lexeme), '{}')
		FROM unnest(t.search) u WHERE strpos(u.lexeme, '\') = 0)`

// searchTextOf reads searchTextCol: the title's lexemes are those of
// weight A, the description's those of weight B, whose positions in the
// column follow the title's last one.
func searchTextOf(entries []string) (domain.SearchText, error) {
	title, desc := map[string][]int{}, map[string][]int{}
	st := domain.SearchText{}
	for _, e := range entries {
		i := strings.LastIndexByte(e, ' ')
		j := -1
		if i > 0 {
			j = strings.LastIndexByte(e[:i], ' ') // a lexeme may hold spaces; its positions and weights do not
		}
		if j < 0 {
			return st, fmt.Errorf("search text: malformed entry %q", e)
		}
		lexeme, positions, weights := e[:j], strings.Trim(e[j+1:i], "{}"), e[i+1:]
		ps := strings.Split(positions, ",")
		if len(ps) != len(weights) {
			return st, fmt.Errorf("search text: %d positions and %d weights in %q", len(ps), len(weights), e)
		}
		for k, p := range ps {
			n, err := strconv.Atoi(p)
			if err != nil {
				return st, fmt.Errorf("search text: position %q in %q", p, e)
			}
			if weights[k] == 'A' {
				title[lexeme] = append(title[lexeme], n)
				st.TitleEnd = max(st.TitleEnd, n)
			} else {
				desc[lexeme] = append(desc[lexeme], n)
			}
		}
	}
	format := func(m map[string][]int, shift int) map[string]string {
		out := make(map[string]string, len(m))
		for l, ps := range m {
			b := make([]byte, 0, 4*len(ps)+2)
			b = append(b, '{')
			for k, p := range ps {
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(p-shift), 10)
			}
			out[l] = string(append(b, '}'))
		}
		return out
	}
	st.Title, st.Description = format(title, 0), format(desc, st.TitleEnd)
	return st, nil
}

// scoresOf pairs searchScoreCols' lexemes with their scores.
func scoresOf(lexemes []string, scores []float64) map[string]float64 {
	out := make(map[string]float64, len(lexemes))
	for i, l := range lexemes {
		if i < len(scores) {
			out[l] = scores[i]
		}
	}
	return out
}

// SearchCursor is the cursor of h in a search for text whose words matched
// as given: the one SearchTasks hands out.
func (r *Repo) SearchCursor(text string, h domain.SearchHit) string {
	return encodeCursor(searchOrder(text)+":"+string(stepExact), []string{fmt.Sprint(h.Score), pgTime(h.CreatedAt), h.ID})
}

// DecodeSearchCursor reads a search cursor of text (see SearchCursor).
func (r *Repo) DecodeSearchCursor(after, text string) (domain.SearchHit, bool, error) {
	step, values, err := decodeSearchCursor(after, text)
	if err != nil {
		return domain.SearchHit{}, false, err
	}
	var h domain.SearchHit
	h.Score, _ = strconv.ParseFloat(values[0], 64) // decodeCursor checked all three
	h.CreatedAt, _ = time.Parse(time.RFC3339Nano, values[1])
	h.ID = uuid.MustParse(values[2]).String() // canonical: ids compare as text
	return h, step == stepExact, nil
}
