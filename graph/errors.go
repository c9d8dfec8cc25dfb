package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/requestid"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// codes maps domain error codes to GraphQL extensions.code: the one place
// where that translation happens.
var codes = map[string]string{
	domain.EINVALID:         "BAD_USER_INPUT",
	domain.ENOTFOUND:        "NOT_FOUND",
	domain.ECONFLICT:        "CONFLICT",
	domain.EUNAUTHENTICATED: "UNAUTHENTICATED",
	domain.EFORBIDDEN:       "FORBIDDEN",
	domain.ETIMEOUT:         "TIMEOUT",
	domain.EUNAVAILABLE:     "SERVICE_UNAVAILABLE",
	domain.EINTERNAL:        "INTERNAL_SERVER_ERROR",
}

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
			gqlErr.Extensions["code"] = codes[de.Code]
			if de.Field != "" {
				gqlErr.Extensions["field"] = de.Field
			}
			if de.Code == domain.EUNAVAILABLE || de.Code == domain.ETIMEOUT {
				log.WarnContext(ctx, "request failed", "request_id", reqID, "path", gqlErr.Path.String(), "err", err)
			}
		case gqlErr.Err == nil && gqlErr.Extensions["code"] != nil:
			// gqlgen's own parse and validation errors: already coded and safe.
		default:
			log.ErrorContext(ctx, "internal error", "request_id", reqID, "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = "internal server error"
			gqlErr.Extensions["code"] = "INTERNAL_SERVER_ERROR"
		}
		return gqlErr
	}
}

// RecoverFunc turns a panic in a resolver into an INTERNAL_SERVER_ERROR for
// that field, logging the stack with the request id.
func RecoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "request_id", requestid.From(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &domain.Error{Code: domain.EINTERNAL, Message: "internal server error"}
	}
}
