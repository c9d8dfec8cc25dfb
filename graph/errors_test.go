package graph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/graph"
	"github.com/herotasks/api/requestid"
	"github.com/stretchr/testify/assert"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func TestErrorPresenter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		code    string
		message string
		field   any
		logged  bool
	}{
		{"domain invalid", domain.Invalid("input.title", "must be 1 to 500 characters"), "BAD_USER_INPUT", "input.title: must be 1 to 500 characters", "input.title", false},
		{"wrapped not found", fmt.Errorf("load: %w", domain.ErrNotFound), "NOT_FOUND", "not found", nil, false},
		{"conflict", domain.ErrConflict, "CONFLICT", domain.ErrConflict.Message, nil, false},
		{"unavailable", domain.Errorf(domain.EUNAVAILABLE, "the database is unavailable; retry shortly"), "SERVICE_UNAVAILABLE", "the database is unavailable; retry shortly", nil, true},
		{"driver error", errors.New(`ERROR: relation "tasks" does not exist (SQLSTATE 42P01)`), "INTERNAL_SERVER_ERROR", "internal server error", nil, true},
		{"internal domain error", &domain.Error{Code: domain.EINTERNAL, Message: "boom at repository.go:42"}, "INTERNAL_SERVER_ERROR", "internal server error", nil, true},
		{"gqlgen validation", &gqlerror.Error{Message: "Cannot query field", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}, "GRAPHQL_VALIDATION_FAILED", "Cannot query field", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			present := graph.ErrorPresenter(slog.New(slog.NewTextHandler(&logs, nil)))
			ctx := requestid.With(graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil), "req-123456")
			got := present(ctx, c.err)
			assert.Equal(t, c.code, got.Extensions["code"], "code for %v", c.err)
			assert.Equal(t, c.message, got.Message, "message for %v", c.err)
			assert.Equal(t, c.field, got.Extensions["field"])
			assert.Equal(t, "req-123456", got.Extensions["requestId"])
			assert.Equal(t, c.logged, logs.Len() > 0, "logged: %s", logs.String())
			if c.logged {
				assert.Contains(t, logs.String(), "req-123456", "the log ties back to the request")
			}
		})
	}
}

func TestRecoverFunc(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := graph.RecoverFunc(log)(requestid.With(context.Background(), "req-abcdefgh"), "nil map write")
	got := graph.ErrorPresenter(log)(graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil), err)
	assert.Equal(t, "INTERNAL_SERVER_ERROR", got.Extensions["code"])
	assert.Equal(t, "internal server error", got.Message)
	assert.Contains(t, logs.String(), "nil map write")
	assert.Contains(t, logs.String(), "req-abcdefgh")
}
