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
