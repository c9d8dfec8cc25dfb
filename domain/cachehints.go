package domain

import (
	"context"
	"sync"
)

// Hints for caches of whole answers, passed through the context so that
// neither the store contract nor the resolvers name a cache.
//
//   - Who asks. An answer that never depended on who asked is the same
//     bytes for everyone and may be shared. Whatever decides by the viewer
//     (a list filtered by what the viewer may see, a private task's
//     visibility, a field shown only to its owner) calls DependsOnViewer.
//   - Where a task was. A write's invalidation must reach the lists the
//     task leaves as well as those it enters; the store reports the row it
//     locked, before the change, with NotePrior.
//   - What comes next. A page's query tells the store which of its tasks'
//     levels it will read (WithPageLevels), so that they can ride along
//     with the page's rows; an answer recorded under tokens takes no such
//     shortcut (WithRecordedReads).

type viewerDependenceKey struct{}

// WithViewerDependence makes DependsOnViewer(ctx) call mark.
func WithViewerDependence(ctx context.Context, mark func()) context.Context {
	return context.WithValue(ctx, viewerDependenceKey{}, mark)
}

// DependsOnViewer records that the answer being computed through ctx
// depends on who asks.
func DependsOnViewer(ctx context.Context) {
	if mark, ok := ctx.Value(viewerDependenceKey{}).(func()); ok {
		mark()
	}
}

// Priors collects the rows a write locked, as they were before it.
type Priors struct {
	mu     sync.Mutex
	tasks  []Task
	parent *Priors // an outer collector (another cache layer's) that hears the same rows
}

type priorsKey struct{}

// WithPriors returns a context whose writes report their locked rows to
// the returned Priors, and to any collector ctx already had.
func WithPriors(ctx context.Context) (context.Context, *Priors) {
	parent, _ := ctx.Value(priorsKey{}).(*Priors)
	p := &Priors{parent: parent}
	return context.WithValue(ctx, priorsKey{}, p), p
}

// NotePrior reports t, a task row as a write found it under its lock.
func NotePrior(ctx context.Context, t *Task) {
	p, _ := ctx.Value(priorsKey{}).(*Priors)
	for ; p != nil && t != nil; p = p.parent {
		p.mu.Lock()
		p.tasks = append(p.tasks, *t)
		p.mu.Unlock()
	}
}

// Tasks returns the rows reported so far.
func (p *Priors) Tasks() []Task {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Task(nil), p.tasks...)
}

// PageLevels is what a page's query selects below its tasks (the levels
// of TaskWith it reads once it has the page), with room for the store to
// keep what it reads ahead for them: a store that knows a page's subtasks
// will be read can read them along with its rows. The page and its levels
// are read through the same context.
type PageLevels struct {
	With  TaskWith
	mu    sync.Mutex
	ahead any
}

type pageLevelsKey struct{}

// WithPageLevels returns ctx for reading a page whose tasks' levels with
// will be read next.
func WithPageLevels(ctx context.Context, with TaskWith) context.Context {
	return context.WithValue(ctx, pageLevelsKey{}, &PageLevels{With: with})
}

// PageLevelsOf returns the page levels of ctx, nil when none were given.
func PageLevelsOf(ctx context.Context) *PageLevels {
	p, _ := ctx.Value(pageLevelsKey{}).(*PageLevels)
	return p
}

// Ahead returns what the store kept (SetAhead), nil when nothing.
func (p *PageLevels) Ahead() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ahead
}

// SetAhead keeps v for the reads of the page's levels.
func (p *PageLevels) SetAhead(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ahead = v
}

type recordedKey struct{}

// WithRecordedReads marks the reads of ctx as recorded for an answer kept
// under tokens that each read takes before it reads (a response cache): a
// value read before its token was taken could predate a write the token
// does not show, so no such read may be answered from something read
// ahead of it.
func WithRecordedReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, recordedKey{}, true)
}

// RecordedReads reports whether the reads of ctx are recorded.
func RecordedReads(ctx context.Context) bool { return ctx.Value(recordedKey{}) != nil }

// WrittenTexts collects the searched texts (SearchText) of the task rows a
// write locked and wrote, as the store's own statements read them from the
// stored search column, so that a cache of search results learns what the
// write changed without reading the texts again. A store fills it only for
// writes that can change a search: a creation, a deletion, an edit of the
// title, description, visibility or assignee.
type WrittenTexts struct {
	mu     sync.Mutex
	texts  map[writtenKey]SearchText
	scores bool
}

type writtenTextsKey struct{}

// WithWrittenTexts returns a context whose task writes report their rows'
// searched texts to the returned collector; with scores, a creation's also
// carries its Scores.
func WithWrittenTexts(ctx context.Context, scores bool) (context.Context, *WrittenTexts) {
	w := &WrittenTexts{texts: map[writtenKey]SearchText{}, scores: scores}
	return context.WithValue(ctx, writtenTextsKey{}, w), w
}

// WrittenTextsOf returns the collector of ctx, nil when no one asked.
func WrittenTextsOf(ctx context.Context) *WrittenTexts {
	w, _ := ctx.Value(writtenTextsKey{}).(*WrittenTexts)
	return w
}

// Scores reports whether a creation's text should carry its Scores.
func (w *WrittenTexts) Scores() bool { return w.scores }

// Note records the searched text of the row of task id at version.
func (w *WrittenTexts) Note(id string, version int, st SearchText) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts[writtenKey{id, version}] = st
}

// Of returns the searched text recorded for row t (by its id and version).
func (w *WrittenTexts) Of(t *Task) (SearchText, bool) {
	if w == nil || t == nil {
		return SearchText{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.texts[writtenKey{t.ID, t.Version}]
	return st, ok
}

// writtenKey is a task row: its id and version.
type writtenKey struct {
	id      string
	version int
}
