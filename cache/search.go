package cache

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herotasks/api/domain"
	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"
)

// Search results are kept as candidates per audience (domain.TaskSearcher):
// the candidates of a query among public tasks ("pub") are one entry that
// every user and anonymous caller shares, those among all tasks ("all") one
// for the admins, and a user's own private candidates ("u:<id>") one per
// user. A page is ranked here from its viewer's entries, exactly as
// PostgreSQL ranks the union, and its rows come from the entity cache.
//
// Invalidation is by word. Every (audience, lexeme) pair has a generation
// counter, and an entry is stored under the generations of its query's
// lexemes in its audience. A task can only enter, leave or reorder the
// candidates of a query in an audience it is (or was) in, and only if it
// matches (or matched) the query, which means it holds one of the query's
// lexemes; so a write that changes a task's text, visibility, assignee or
// existence bumps the generations of every lexeme of the task's text,
// before and after, in every audience of the task, before and after, and
// no other entry. A query that a task can match holding none of its
// lexemes (a negation) also depends on the audience's "*" generation,
// which every such write bumps. Writes to a task's status, priority, tags
// or subtasks bump nothing: a candidate holds an id, a creation time and a
// score, which depend on none of them.
//
// The guarantee is the entity cache's: a write bumps before it answers, and
// a reader computes its key from generations read before it reads the
// database, so what it stores lands under generations the write retired.

// searchTermsCached is how many queries' lexemes an instance remembers:
// they depend on the text alone.
const searchTermsCached = 4096

// The generations of an audience. A query made of one lexeme L depends on
// "1"+L, which a write bumps when L's occurrences change in number (in the
// title or the description): that query's score is the sum of its
// occurrences' weights, wherever they are. Any other query depends on "p"+L
// for each of its lexemes, bumped when L's positions change in a task, and
// on "c"+L, bumped when a task holding L enters the audience (created, made
// visible to it) or leaves it: for each of its lexemes, or, when every
// match holds every lexeme (AND and FOLLOWED BY alone), only for its
// Required one, so that a creation holding another of its words leaves it
// (a creation bumps no "p": it moves no existing task). searchAny is
// the generation of every query a task can match without holding one of
// its lexemes, bumped when a task enters or leaves the audience; postings
// (the audience's one-lexeme candidates) are kept under searchText, bumped
// with any "1" generation of the audience.
const (
	searchAny  = "*"
	searchText = "#"
)

// searchCands is an audience's candidates for a query, newest first.
type searchCands struct {
	IDs     []string
	Created []int64 // unix microseconds, PostgreSQL's precision
	Scores  []float64
}

// searchGenKey is the generation counter of lexeme in an audience.
func (c *Cache) searchGenKey(aud, lexeme string) string {
	return c.keys.prefix + ":sg:" + aud + ":" + lexeme
}

// searchGenTTL keeps a generation longer than any entry stored under it
// can live, so a counter that expires and restarts at zero can never make
// an older entry current again.
func (c *Cache) searchGenTTL() time.Duration { return 2*c.opts.SearchTTL + time.Minute }

// candidates returns the merged candidates of text for v, newest first, at
// most domain.MaxSearchCandidates; ok false when the cache cannot answer.
func (s *store) candidates(ctx context.Context, ts domain.TaskSearcher, v domain.Viewer, text string) ([]domain.SearchHit, bool, error) {
	q, err := s.searchQuery(ctx, ts, text)
	if err != nil {
		return nil, false, err
	}
	deps := q.deps
	auds := domain.ViewerAudiences(v)
	var keys []string
	for _, a := range auds {
		for _, d := range deps {
			keys = append(keys, s.c.searchGenKey(a, d))
		}
		keys = append(keys, s.c.searchGenKey(a, searchText))
	}
	var deltas []string // the shared audiences' additions since their entries (one-word queries)
	if q.Single != "" && !s.c.cluster {
		for _, a := range auds {
			if sharedAudience(a) {
				deltas = append(deltas, s.c.searchDeltaKey(a, q.Single))
			}
		}
	}
	gens, added, err := s.c.searchRead(ctx, append(keys, s.c.keys.Epoch()), deltas)
	if err != nil {
		s.c.stats.kinds[KindSearch].errors.Add(1)
		return nil, false, nil
	}
	epoch := parseEpoch(gens[len(keys)])
	var all []domain.SearchHit
	var entries []string         // the audiences whose candidates are an entry of their own
	audOf := map[string]string{} // entry id → audience
	for i, a := range auds {
		g := gens[i*(len(deps)+1) : (i+1)*(len(deps)+1)]
		if strings.HasPrefix(a, "u:") && !q.Open {
			if hits, known := s.privateCandidates(ctx, ts, a, s.c.postingsKey(epoch, a, g[len(deps)]), q); known {
				all = append(all, hits...)
				continue
			}
		}
		// Texts of one query share an entry ("Cache webhook", "webhook
		// cache"); the generations are named, so two queries whose
		// dependencies differ never share a key.
		key := q.Key
		if key == "" {
			key = "text:" + text
		}
		h := sha256.New()
		h.Write([]byte(a + "\x00" + key))
		for i, n := range g[:len(deps)] {
			n, _ := n.(string) // a generation never bumped is nil: zero
			h.Write([]byte("\x00" + deps[i] + "=" + n))
		}
		id := "c:" + hex.EncodeToString(h.Sum(nil)[:16])
		entries = append(entries, id)
		audOf[id] = a
	}
	m, err := fetch(ctx, s.c, KindSearch, entries, func(ctx context.Context, missing []string) (map[string]*searchCands, error) {
		out := make(map[string]*searchCands, len(missing))
		for _, id := range missing {
			hits, err := ts.SearchCandidates(ctx, audOf[id], text)
			if err != nil {
				return nil, err
			}
			out[id] = newSearchCands(hits)
		}
		return out, nil
	})
	if err != nil {
		return nil, false, err
	}
	for _, id := range entries {
		c := m[id]
		if c == nil || !c.valid() {
			return nil, false, nil
		}
		hits := c.hits()
		if d := added[s.c.searchDeltaKey(audOf[id], q.Single)]; len(d) > 0 {
			hits = withAdded(hits, d, strconv.FormatInt(epoch, 10))
		}
		all = append(all, hits...)
	}
	// The audiences are disjoint: the union's newest are its candidates.
	slices.SortFunc(all, domain.NewestFirst)
	return all[:min(len(all), domain.MaxSearchCandidates)], true, nil
}

// searchQuery is a parsed query text with its lexemes, sorted, and the
// generations its entries are stored under in each audience.
type searchQuery struct {
	domain.SearchQuery
	lexemes, deps []string
}

// searchQuery parses text, once per text and instance: it depends on the
// text alone.
func (s *store) searchQuery(ctx context.Context, ts domain.TaskSearcher, text string) (searchQuery, error) {
	if q, ok := s.c.searchTerms.Get(text); ok {
		return q, nil
	}
	p, err := ts.SearchTerms(ctx, text)
	if err != nil {
		return searchQuery{}, err
	}
	q := searchQuery{SearchQuery: p, lexemes: slices.Compact(slices.Sorted(slices.Values(p.Lexemes)))}
	switch {
	case p.Single != "":
		q.deps = []string{"1" + p.Single}
	default:
		for _, l := range q.lexemes {
			q.deps = append(q.deps, "p"+l)
			if p.Required == "" {
				q.deps = append(q.deps, "c"+l)
			}
		}
		if p.Required != "" {
			q.deps = append(q.deps, "c"+p.Required)
		}
		if p.Open {
			q.deps = append(q.deps, searchAny)
		}
	}
	s.c.searchTerms.Add(text, q)
	return q, nil
}

// A user's private tasks are few, and a query made of one word is most of
// what people type: a user audience's postings (for each lexeme of its
// tasks, the candidates of that lexeme alone, read in one statement) are
// one Redis hash under its searchText generation, so such a query costs no
// statement, and any query none of whose lexemes the hash holds has no
// private candidates. Field postingsMarker says the hash is complete
// ("1"), or that the audience is too large to keep ("big").
const (
	postingsMarker = "~"
	// searchPostingsMax bounds an audience's postings; a larger one is not
	// kept, and each query reads its private candidates as an entry.
	searchPostingsMax = 20000
)

// postingsKey is the postings hash of an audience under its searchText
// generation gen, in the current epoch.
func (c *Cache) postingsKey(epoch int64, aud string, gen any) string {
	g, _ := gen.(string)
	return c.keys.prefix + ":sp:" + strconv.FormatInt(epoch, 10) + ":" + aud + ":" + g
}

// privateCandidates answers a user audience's candidates from its postings;
// known false when they cannot (the hash is missing and cannot be filled,
// the audience is too large, or the query has several lexemes and some
// task of the audience may match it).
func (s *store) privateCandidates(ctx context.Context, ts domain.TaskSearcher, aud, key string, q searchQuery) ([]domain.SearchHit, bool) {
	st := &s.c.stats.kinds[KindSearch]
	fields := q.lexemes
	switch {
	case q.Single != "":
		fields = []string{q.Single}
	case len(q.All) > 0: // every match holds all of them: their postings decide
		fields = q.All
	}
	var vals []any
	err := s.c.do(ctx, func(ctx context.Context) error {
		var err error
		vals, err = s.c.rdb.HMGet(ctx, key, append([]string{postingsMarker}, fields...)...).Result()
		return err
	})
	if err != nil {
		st.errors.Add(1)
		return nil, false
	}
	var postings map[string]*searchCands
	switch vals[0] {
	case nil:
		st.misses.Add(1)
		if postings = s.fillPostings(ctx, ts, aud, key); postings == nil {
			return nil, false
		}
	case "1":
		st.hits.Add(1)
		postings = map[string]*searchCands{}
		for i, f := range fields {
			raw, _ := vals[i+1].(string)
			if raw == "" {
				continue
			}
			var c searchCands
			if msgpack.Unmarshal([]byte(raw), &c) != nil || !c.valid() {
				return nil, false
			}
			postings[f] = &c
		}
	default: // too large to keep
		st.hits.Add(1)
		return nil, false
	}
	if q.Single != "" {
		if c := postings[q.Single]; c != nil {
			return c.hits(), true
		}
		return nil, true
	}
	if len(q.All) > 0 {
		return nil, !mayHoldAll(postings, q.All)
	}
	for _, f := range fields {
		if postings[f] != nil || strings.Contains(f, `\`) { // backslashed lexemes are not kept
			return nil, false
		}
	}
	return nil, true // no task of the audience holds any of the query's lexemes
}

// mayHoldAll reports whether some task of an audience may hold every one
// of lexemes, which every match of an AND query does: false when the
// postings show that none does (a lexeme no task holds, or no task in
// every lexeme's postings). A posting of domain.MaxSearchCandidates tasks
// may have been cut (SearchPostings keeps the newest), and a backslashed
// lexeme has none: either may hide a match.
func mayHoldAll(postings map[string]*searchCands, lexemes []string) bool {
	var common map[string]bool
	for _, l := range lexemes {
		if strings.Contains(l, `\`) {
			return true
		}
		c := postings[l]
		if c == nil {
			return false
		}
		if len(c.IDs) >= domain.MaxSearchCandidates {
			return true
		}
		next := make(map[string]bool, len(c.IDs))
		for _, id := range c.IDs {
			if common == nil || common[id] {
				next[id] = true
			}
		}
		if len(next) == 0 {
			return false
		}
		common = next
	}
	return true
}

// fillPostings reads an audience's postings and stores them under key, in
// one transaction with their marker; nil when they cannot be had.
func (s *store) fillPostings(ctx context.Context, ts domain.TaskSearcher, aud, key string) map[string]*searchCands {
	st := &s.c.stats.kinds[KindSearch]
	hits, complete, err := ts.SearchPostings(ctx, aud, s.c.postingsMax)
	if err != nil {
		return nil
	}
	values := []any{postingsMarker, "1"}
	out := make(map[string]*searchCands, len(hits))
	if complete {
		for l, h := range hits {
			c := newSearchCands(h)
			b, err := msgpack.Marshal(c)
			if err != nil {
				return nil
			}
			out[l] = c
			values = append(values, l, b)
		}
	} else {
		values = []any{postingsMarker, "big"}
	}
	err = s.c.do(ctx, func(ctx context.Context) error {
		_, err := s.c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, values...)
			p.PExpire(ctx, key, s.c.ttl(s.c.opts.SearchTTL))
			return nil
		})
		return err
	})
	if err != nil {
		st.errors.Add(1)
	} else {
		st.fills.Add(1)
	}
	if !complete {
		return nil
	}
	return out
}

// newSearchCands holds hits as an entry does.
func newSearchCands(hits []domain.SearchHit) *searchCands {
	c := &searchCands{IDs: make([]string, len(hits)), Created: make([]int64, len(hits)), Scores: make([]float64, len(hits))}
	for i, h := range hits {
		c.IDs[i], c.Created[i], c.Scores[i] = h.ID, h.CreatedAt.UnixMicro(), h.Score
	}
	return c
}

// valid reports whether an entry read back is whole.
func (c *searchCands) valid() bool {
	return len(c.Created) == len(c.IDs) && len(c.Scores) == len(c.IDs)
}

// hits are the entry's candidates.
func (c *searchCands) hits() []domain.SearchHit {
	out := make([]domain.SearchHit, len(c.IDs))
	for i := range c.IDs {
		out[i] = domain.SearchHit{ID: c.IDs[i], CreatedAt: time.UnixMicro(c.Created[i]).UTC(), Score: c.Scores[i]}
	}
	return out
}

// byRank orders hits as a search page: best score first, then newest.
func byRank(a, b domain.SearchHit) int {
	return cmp.Or(cmp.Compare(b.Score, a.Score), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
}

// SearchTasks answers from the viewer's candidates (see above). A search
// whose words match nothing as given is corrected by the repository, whose
// pages (and their cursors) are not cached.
func (s *store) SearchTasks(ctx context.Context, v domain.Viewer, text string, first int, after string) (*domain.TaskPage, error) {
	ts, ok := s.Store.(domain.TaskSearcher)
	if !ok || !s.c.usable(ctx) {
		return s.Store.SearchTasks(ctx, v, text, first, after)
	}
	var last *domain.SearchHit
	if after != "" {
		h, exact, err := ts.DecodeSearchCursor(after, text)
		if err != nil {
			return nil, err
		}
		if !exact {
			return s.Store.SearchTasks(ctx, v, text, first, after)
		}
		last = &h
	}
	if q, err := s.searchQuery(ctx, ts, text); err != nil || len(q.Lexemes) == 0 {
		// Words that all stop (or none): no task matches them, as given or
		// corrected, whatever the tasks.
		return &domain.TaskPage{}, err
	}
	hits, ok, err := s.candidates(ctx, ts, v, text)
	if err != nil {
		return nil, err
	}
	if !ok || len(hits) == 0 {
		return s.Store.SearchTasks(ctx, v, text, first, after)
	}
	slices.SortFunc(hits, byRank)
	if last != nil {
		// The first hit after the cursor in rank order.
		i, _ := slices.BinarySearchFunc(hits, *last, func(h, l domain.SearchHit) int {
			if byRank(h, l) <= 0 {
				return -1
			}
			return 1
		})
		hits = hits[i:]
	}
	page := &domain.TaskPage{HasNextPage: len(hits) > first}
	hits = hits[:min(len(hits), first)]
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	tasks, err := s.tasks(ctx, ids)
	if err != nil {
		return nil, err
	}
	page.Edges = make([]domain.TaskEdge, 0, len(hits))
	for _, h := range hits {
		// A task deleted or hidden since its candidates were read is left
		// out: the write that did it is concurrent with this read.
		if t := tasks[h.ID]; t != nil && t.VisibleTo(v) {
			page.Edges = append(page.Edges, domain.NewTaskEdge(ts.SearchCursor(text, h), t))
		}
	}
	return page, nil
}

// CountSearch counts the viewer's candidates (see SearchTasks).
func (s *store) CountSearch(ctx context.Context, v domain.Viewer, text string) (int, error) {
	ts, ok := s.Store.(domain.TaskSearcher)
	if !ok || !s.c.usable(ctx) {
		return s.Store.CountSearch(ctx, v, text)
	}
	if q, err := s.searchQuery(ctx, ts, text); err != nil || len(q.Lexemes) == 0 {
		return 0, err // see SearchTasks
	}
	hits, ok, err := s.candidates(ctx, ts, v, text)
	if err != nil {
		return 0, err
	}
	if !ok || len(hits) == 0 {
		return s.Store.CountSearch(ctx, v, text)
	}
	return len(hits), nil
}

// writtenTexts returns the searched texts of rows as the write's own
// statements read them (domain.WrittenTexts); ok false unless every row's
// is there, with its Scores when scores is set.
func writtenTexts(ctx context.Context, rows []*domain.Task, scores bool) ([]domain.SearchText, bool) {
	w := domain.WrittenTextsOf(ctx)
	out := make([]domain.SearchText, len(rows))
	for i, t := range rows {
		st, ok := w.Of(t)
		if !ok || (scores && st.Scores == nil) {
			return nil, false
		}
		out[i] = st
	}
	return out, true
}

// searchWritten retires the candidates a task's committed write can change
// (see above): states are the task before the write and after it, nil for
// none (a creation, a deletion); more than two (several rows locked) are
// treated as any change among them. A failure distrusts the cache, which
// retires every entry.
func (s *store) searchWritten(ctx context.Context, states ...*domain.Task) {
	ts, ok := s.Store.(domain.TaskSearcher)
	if !ok || s.c == nil {
		return
	}
	var rows []*domain.Task
	for _, t := range states {
		if t != nil {
			rows = append(rows, t)
		}
	}
	if len(rows) == 0 {
		return
	}
	// Outlive the request: a bump that is skipped leaves entries stale.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.c.writeTimeout())
	defer cancel()
	// Scores only for a creation, which adds the task to additions.
	scores := len(states) == 2 && states[0] == nil && !s.c.cluster
	texts, ok := writtenTexts(ctx, rows, scores)
	if !ok {
		var err error
		if texts, err = ts.SearchTexts(ctx, rows, scores); err != nil {
			s.c.stats.kinds[KindSearch].errors.Add(1)
			s.c.trusted.Store(false)
			return
		}
	}
	var bumps map[string][]string
	if len(states) == 2 && states[0] != nil && states[1] != nil {
		bumps = searchBumps(states[0], states[1], texts[0], texts[1])
	} else {
		bumps = map[string][]string{}
		for i, t := range rows {
			for _, a := range domain.Audiences(t) {
				bumps[a] = append(bumps[a], everything(texts[i])...)
			}
		}
	}
	// The shared audiences' additions (see searchAddScript): a creation
	// adds to them instead of bumping the one-word generations, any other
	// bump of one takes the task out.
	created := len(states) == 2 && states[0] == nil
	var adds []string          // shared audiences the created task joins
	takes := map[string]bool{} // additions that lose the task
	if !s.c.cluster {
		for a, deps := range bumps {
			if !sharedAudience(a) {
				continue
			}
			if created {
				adds = append(adds, a)
				bumps[a] = slices.DeleteFunc(deps, func(d string) bool {
					_, scored := texts[0].Scores[strings.TrimPrefix(d, "1")]
					return strings.HasPrefix(d, "1") && scored
				})
				continue
			}
			for _, d := range deps {
				if l, ok := strings.CutPrefix(d, "1"); ok {
					takes[s.c.searchDeltaKey(a, l)] = true
				}
			}
		}
	}
	if created {
		// A new task moves no existing task's positions: the queries it
		// enters depend on its lexemes' "c" generations (see searchQuery).
		for a, deps := range bumps {
			bumps[a] = slices.DeleteFunc(deps, func(d string) bool { return strings.HasPrefix(d, "p") })
		}
	}
	defer func() {
		if err := s.searchAdditions(ctx, rows[0], texts[0], adds, slices.Collect(maps.Keys(takes))); err != nil {
			s.c.stats.kinds[KindSearch].errors.Add(1)
			s.c.trusted.Store(false)
		}
	}()
	ttl := s.c.searchGenTTL()
	pipe := s.c.wrdb.Pipeline()
	n := 0
	for a, deps := range bumps {
		if len(deps) == 0 {
			continue
		}
		for _, d := range slices.Compact(slices.Sorted(slices.Values(deps))) {
			k := s.c.searchGenKey(a, d)
			pipe.Incr(ctx, k)
			pipe.PExpire(ctx, k, ttl)
			n++
		}
	}
	if n == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.c.stats.kinds[KindSearch].errors.Add(1)
		s.c.trusted.Store(false)
		return
	}
	s.c.stats.kinds[KindSearch].invalidations.Add(int64(n))
}

// everything is every generation a text's lexemes are under, for a task
// that enters or leaves an audience.
func everything(t domain.SearchText) []string {
	out := []string{searchAny, searchText}
	for _, part := range []map[string]string{t.Title, t.Description} {
		for l := range part {
			out = append(out, "p"+l, "1"+l, "c"+l)
		}
	}
	return out
}

// occurrences counts the positions of a lexeme's position list ("{1,5}").
func occurrences(positions string) int {
	if positions == "" {
		return 0
	}
	return strings.Count(positions, ",") + 1
}

// searchBumps are the generations, per audience, that a task's change from
// before to after bumps. In an audience the task leaves or enters: every
// generation of every lexeme it held or holds (everything). In one it stays
// in: "p" of the lexemes whose positions changed, in the title or in the
// description, and, when the title's length changed (which moves every
// description position relative to the title's), of the title's lexemes
// too, since only a query with lexemes in both parts can see that move; "1"
// and searchText of the lexemes whose number of occurrences changed in
// either part.
func searchBumps(before, after *domain.Task, bt, at domain.SearchText) map[string][]string {
	out := map[string][]string{}
	ab, aa := domain.Audiences(before), domain.Audiences(after)
	for _, a := range ab {
		if !slices.Contains(aa, a) {
			out[a] = append(out[a], everything(bt)...)
		}
	}
	var changed []string
	diff := func(x, y map[string]string) {
		for l, p := range x {
			if y[l] != p {
				changed = append(changed, "p"+l)
				if occurrences(y[l]) != occurrences(p) {
					changed = append(changed, "1"+l, searchText)
				}
			}
		}
	}
	diff(bt.Title, at.Title)
	diff(at.Title, bt.Title)
	diff(bt.Description, at.Description)
	diff(at.Description, bt.Description)
	if bt.TitleEnd != at.TitleEnd {
		for _, t := range []map[string]string{bt.Title, at.Title} {
			for l := range t {
				changed = append(changed, "p"+l)
			}
		}
	}
	for _, a := range aa {
		if slices.Contains(ab, a) {
			out[a] = append(out[a], changed...)
		} else {
			out[a] = append(out[a], everything(at)...)
		}
	}
	return out
}

// changesSearch reports whether a task's write from before to after can
// change a search's candidates: its searched text, or the audiences it is in.
func changesSearch(before, after *domain.Task) bool {
	return before.Title != after.Title || before.Description != after.Description ||
		!slices.Equal(domain.Audiences(before), domain.Audiences(after))
}

// Creations. A task created holding lexeme L enters the candidates of the
// one-word query L in its shared audiences ("all", "pub") as their newest:
// rather than retire those entries, which are read from the whole table,
// the write adds the task to the audience's additions for L (a sorted set
// by creation time, the newest domain.MaxSearchCandidates kept), and a
// reader merges them into the entry. A later write that changes the task's
// occurrences of L, or moves it out of the audience, retires the entry and
// takes the task out of the additions. An addition is stored only while no
// later write of the task has stored its row (the write-through version),
// so an addition that reaches Redis after such a write, which would have
// taken it out, is not made; and each carries the epoch it was made in.
// Not on Redis Cluster, where the keys of one script may span slots: there
// a creation bumps, as any other write.

// sharedAudience reports whether an audience is one every viewer of its
// kind shares (its entries are read from the whole table).
func sharedAudience(a string) bool { return a == "all" || a == "pub" }

// searchDeltaKey is the additions of a shared audience for lexeme l.
func (c *Cache) searchDeltaKey(aud, l string) string { return c.keys.prefix + ":sd:" + aud + ":" + l }

// searchAddScript adds a created task to additions. KEYS[1]: the task's
// write-through version key; KEYS[2]: the epoch; KEYS[3...]: additions.
// ARGV: the task's version, its creation time (µs), its id, the TTL (ms),
// then its score for each addition's lexeme.
var searchAddScript = redis.NewScript(`local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
local ep = redis.call('GET', KEYS[2]) or '0'
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ep .. '|' .. ARGV[3] .. '|' .. ARGV[i + 2])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -` + strconv.Itoa(domain.MaxSearchCandidates+1) + `)
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return 1`)

// searchTakeScript takes a task (ARGV[1]) out of additions (KEYS).
var searchTakeScript = redis.NewScript(`for i = 1, #KEYS do
  for _, m in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    local a = string.find(m, '|', 1, true)
    local b = a and string.find(m, '|', a + 1, true)
    if b and string.sub(m, a + 1, b - 1) == ARGV[1] then redis.call('ZREM', KEYS[i], m) end
  end
end
return 1`)

// searchRead reads keys (as getMany) and, in the same round trip, the
// newest additions of each delta key, by key.
func (c *Cache) searchRead(ctx context.Context, keys, deltas []string) ([]any, map[string][]redis.Z, error) {
	if len(deltas) == 0 {
		vals, err := c.getMany(ctx, keys)
		return vals, nil, err
	}
	var vals []any
	added := make(map[string][]redis.Z, len(deltas))
	err := c.do(ctx, func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		mget := pipe.MGet(ctx, keys...)
		zs := make([]*redis.ZSliceCmd, len(deltas))
		for i, k := range deltas {
			zs[i] = pipe.ZRevRangeWithScores(ctx, k, 0, domain.MaxSearchCandidates-1)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return err
		}
		var err error
		if vals, err = mget.Result(); err != nil {
			return err
		}
		for i, k := range deltas {
			if added[k], err = zs[i].Result(); err != nil && err != redis.Nil {
				return err
			}
		}
		return nil
	})
	return vals, added, err
}

// withAdded merges additions made in epoch into an entry's hits, newest
// first; a task in both is the entry's.
func withAdded(hits []domain.SearchHit, added []redis.Z, epoch string) []domain.SearchHit {
	seen := make(map[string]bool, len(hits))
	for _, h := range hits {
		seen[h.ID] = true
	}
	for _, z := range added {
		m, _ := z.Member.(string)
		parts := strings.SplitN(m, "|", 3)
		if len(parts) != 3 || parts[0] != epoch || seen[parts[1]] {
			continue
		}
		score, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			continue
		}
		seen[parts[1]] = true
		hits = append(hits, domain.SearchHit{ID: parts[1], CreatedAt: time.UnixMicro(int64(z.Score)).UTC(), Score: score})
	}
	slices.SortFunc(hits, domain.NewestFirst)
	return hits[:min(len(hits), domain.MaxSearchCandidates)]
}

// searchAdditions takes task t out of the additions takes, then adds it
// (created, with text) to those of auds for each of its lexemes.
func (s *store) searchAdditions(ctx context.Context, t *domain.Task, text domain.SearchText, auds, takes []string) error {
	if len(takes) > 0 {
		if err := searchTakeScript.Run(ctx, s.c.wrdb, takes, t.ID).Err(); err != nil {
			return err
		}
	}
	if len(auds) == 0 || len(text.Scores) == 0 {
		return nil
	}
	keys := []string{s.c.keys.For(KindTask, t.ID) + ":version", s.c.keys.Epoch()}
	args := []any{t.Version, t.CreatedAt.UnixMicro(), t.ID, s.c.searchGenTTL().Milliseconds()}
	for _, a := range auds {
		for l, score := range text.Scores {
			keys = append(keys, s.c.searchDeltaKey(a, l))
			args = append(args, strconv.FormatFloat(score, 'g', -1, 64))
		}
	}
	return searchAddScript.Run(ctx, s.c.wrdb, keys, args...).Err()
}
