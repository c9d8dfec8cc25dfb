package persisted

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/herotasks/api/apierror"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Extension resolves the persistedQuery request extension before the
// document is parsed: from the registry, then (APQ mode) through gqlgen's
// AutomaticPersistedQuery over the Redis cache; in Only mode it refuses any
// document that is not registered. Websocket operations pass through it
// like HTTP ones.
type Extension struct {
	mode     Mode
	registry *Registry
	apq      extension.AutomaticPersistedQuery
	exempt   func(ctx context.Context) bool
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = (*Extension)(nil)

// NewExtension returns the extension for mode. cache holds APQ documents
// (nil: APQ hashes resolve only to registered documents); exempt reports
// whether a request may run unregistered documents in Only mode (admins).
func NewExtension(mode Mode, registry *Registry, cache graphql.Cache[string], exempt func(ctx context.Context) bool) *Extension {
	if cache == nil {
		cache = graphql.NoCache[string]{}
	}
	return &Extension{mode: mode, registry: registry, apq: extension.AutomaticPersistedQuery{Cache: cache}, exempt: exempt}
}

// ExtensionName implements graphql.HandlerExtension.
func (e *Extension) ExtensionName() string { return "PersistedQueries" }

// Validate implements graphql.HandlerExtension.
func (e *Extension) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (e *Extension) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	hash, err := requestedHash(p)
	if err != nil {
		return err
	}
	if e.mode == Only && !e.exempt(ctx) {
		return e.trusted(p, hash)
	}
	if hash == "" {
		return nil
	}
	if p.Query == "" {
		if doc, ok := e.registry.Lookup(hash); ok {
			p.Query = doc
			return nil
		}
	}
	if err := e.apq.MutateOperationParameters(ctx, p); err != nil {
		if err.Extensions["code"] == nil {
			errcode.Set(err, apierror.BadUserInput) // a hash that does not match its document
		}
		return err
	}
	return nil
}

// trusted lets through only registered documents, sent whole or by hash.
func (e *Extension) trusted(p *graphql.RawParams, hash string) *gqlerror.Error {
	if p.Query == "" {
		doc, ok := e.registry.Lookup(hash)
		if !ok {
			return notFound("PersistedQueryNotFound")
		}
		p.Query = doc
		return nil
	}
	sum := Hash(p.Query)
	if hash != "" && hash != sum {
		return badInput("provided persisted-query hash does not match the query")
	}
	if _, ok := e.registry.Lookup(sum); !ok {
		return notFound("this server runs only registered operations (trusted documents); this one is not registered")
	}
	return nil
}

// requestedHash reads extensions.persistedQuery {version: 1, sha256Hash};
// "" when absent.
func requestedHash(p *graphql.RawParams) (string, *gqlerror.Error) {
	raw := p.Extensions["persistedQuery"]
	if raw == nil {
		return "", nil
	}
	pq, _ := raw.(map[string]any)
	hash, _ := pq["sha256Hash"].(string)
	if fmt.Sprint(pq["version"]) != "1" || len(hash) != 64 {
		return "", badInput("extensions.persistedQuery must be {version: 1, sha256Hash: \"<64 hex digits>\"}")
	}
	return hash, nil
}

func notFound(msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, apierror.PersistedQueryNotFound)
	return err
}

func badInput(msg string) *gqlerror.Error {
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, apierror.BadUserInput)
	return err
}
