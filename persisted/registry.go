package persisted

import (
	"context"
	"sync"
	"time"

	"github.com/herotasks/api/domain"
)

// QueryStore is where registered documents are kept (PostgreSQL).
type QueryStore interface {
	PersistedQueriesSince(ctx context.Context, seq int64) ([]*domain.PersistedQuery, error)
	SavePersistedQuery(ctx context.Context, hash string, name *string, document string, createdBy *string) (*domain.PersistedQuery, error)
}

// Registry is the set of trusted documents, held in memory so that looking
// a hash up costs no round trip (an unregistered document is refused
// without a single SQL statement): the built-in manifest plus the rows of
// persisted_queries, read at start and then every refresh interval, so a
// document registered on one instance runs on every instance within that
// interval (at once on the instance that registered it).
type Registry struct {
	store QueryStore

	mu   sync.RWMutex
	docs map[string]string // hash → document
	seq  int64             // newest row read
}

// NewRegistry returns a registry holding the manifest's operations; with a
// nil store nothing can be registered at run time.
func NewRegistry(m Manifest, store QueryStore) *Registry {
	r := &Registry{store: store, docs: make(map[string]string, len(m.Operations))}
	for _, op := range m.Operations {
		r.docs[op.ID] = op.Body
	}
	return r
}

// Lookup returns the trusted document with this hash.
func (r *Registry) Lookup(hash string) (string, bool) {
	if r == nil {
		return "", false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	doc, ok := r.docs[hash]
	return doc, ok
}

// Len returns how many documents are trusted.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.docs)
}

// Refresh reads the documents registered since the last refresh.
func (r *Registry) Refresh(ctx context.Context) error {
	if r.store == nil {
		return nil
	}
	r.mu.RLock()
	seq := r.seq
	r.mu.RUnlock()
	rows, err := r.store.PersistedQueriesSince(ctx, seq)
	if err != nil {
		return err
	}
	r.add(rows...)
	return nil
}

func (r *Registry) add(rows ...*domain.PersistedQuery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range rows {
		r.docs[q.Hash] = q.Document
		r.seq = max(r.seq, q.Seq)
	}
}

// Run refreshes every interval until ctx ends; failures keep the documents
// already known (and are retried at the next tick).
func (r *Registry) Run(ctx context.Context, every time.Duration, onError func(error)) {
	if r.store == nil || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
		}
	}
}

// Register stores a checked document and trusts it on this instance at once.
func (r *Registry) Register(ctx context.Context, document string, name *string, createdBy *string) (*domain.PersistedQuery, error) {
	q, err := r.store.SavePersistedQuery(ctx, Hash(document), name, document, createdBy)
	if err != nil {
		return nil, err
	}
	r.add(q)
	return q, nil
}
