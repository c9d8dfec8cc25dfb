package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/apierror"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/requestid"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// ErrorPresenter gives every error a stable extensions.code and the request
// id. Domain errors keep their message (and name the offending field);
// anything else is logged in full and reaches the client only as
// "internal server error".
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		reqID := requestid.From(ctx)
		if reqID != "" {
			gqlErr.Extensions["requestId"] = reqID
		}
		var de *domain.Error
		switch {
		case errors.As(err, &de) && de.Code != domain.EINTERNAL:
			gqlErr.Message = de.Error()
			gqlErr.Extensions["code"] = apierror.FromDomain(de.Code)
			if de.Field != "" {
				gqlErr.Extensions["field"] = de.Field
			}
			if de.Code == domain.EUNAVAILABLE || de.Code == domain.ETIMEOUT {
				log.WarnContext(ctx, "request failed", "request_id", reqID, "path", gqlErr.Path.String(), "err", err)
			}
		case gqlErr.Err == nil && gqlErr.Extensions["code"] != nil:
			// gqlgen's own parse and validation errors: already coded; the
			// ones about a variable's value lose the value.
			gqlErr.Message = withoutVariableValue(gqlErr)
		default:
			log.ErrorContext(ctx, "internal error", "request_id", reqID, "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = "internal server error"
			gqlErr.Extensions["code"] = apierror.Internal
		}
		return gqlErr
	}
}

// echoes match gqlparser's variable-coercion messages that repeat the value
// sent ("<value> is not a valid TaskStatus", "cannot use value 1e+20 as
// Int", "cannot use 1e+300 as ID: ..."); the value is dropped, the type
// kept.
var echoes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?s)^.* is not a valid (\w+)$`), "not a valid $1"},
	{regexp.MustCompile(`(?s)^cannot use value .* as (\w+)$`), "cannot use this value as $1"},
	{regexp.MustCompile(`(?s)^cannot use [-+0-9.eE]+ as ID\b.*$`), "cannot use this number as an ID"},
}

func withoutVariableValue(e *gqlerror.Error) string {
	if len(e.Path) == 0 || e.Path[0] != ast.PathName("variable") {
		return e.Message
	}
	for _, x := range echoes {
		if x.re.MatchString(e.Message) {
			return x.re.ReplaceAllString(e.Message, x.with)
		}
	}
	return e.Message
}

// RecoverFunc turns a panic in a resolver into an INTERNAL_SERVER_ERROR for
// that field, logging the stack with the request id.
func RecoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "request_id", requestid.From(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &domain.Error{Code: domain.EINTERNAL, Message: "internal server error"}
	}
}
