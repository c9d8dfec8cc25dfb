// Package apierror owns the API's error codes (every error's
// extensions.code) and the JSON of an error: a domain error's code maps to
// its API code here, and every error built outside the GraphQL executor's
// presenter (middleware, transports, extensions) is built here, so each
// carries its code and the request id the same way.
package apierror

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/herotasks/api/domain"
	"github.com/herotasks/api/requestid"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The codes, as DESIGN.md fixes them.
const (
	BadUserInput              = "BAD_USER_INPUT"
	Unauthenticated           = "UNAUTHENTICATED"
	Forbidden                 = "FORBIDDEN"
	NotFound                  = "NOT_FOUND"
	Conflict                  = "CONFLICT"
	ParseFailed               = "GRAPHQL_PARSE_FAILED"
	ValidationFailed          = "GRAPHQL_VALIDATION_FAILED"
	CostLimitExceeded         = "COST_LIMIT_EXCEEDED"
	DepthLimitExceeded        = "DEPTH_LIMIT_EXCEEDED"
	AliasLimitExceeded        = "ALIAS_LIMIT_EXCEEDED"
	SlicingArgumentRequired   = "SLICING_ARGUMENT_REQUIRED"
	SlicingArgumentOutOfRange = "SLICING_ARGUMENT_OUT_OF_RANGE"
	RateLimited               = "RATE_LIMITED"
	PersistedQueryNotFound    = "PERSISTED_QUERY_NOT_FOUND"
	Timeout                   = "TIMEOUT"
	ServiceUnavailable        = "SERVICE_UNAVAILABLE"
	Internal                  = "INTERNAL_SERVER_ERROR"
)

// UnavailableRetryAfter is the Retry-After, in seconds, of an answer
// refused with SERVICE_UNAVAILABLE. Every request tries PostgreSQL again,
// so the first one after it is back succeeds: a short wait is enough.
const UnavailableRetryAfter = "1"

// Has reports whether any of errs carries code.
func Has(errs gqlerror.List, code string) bool {
	for _, err := range errs {
		if c, _ := err.Extensions["code"].(string); c == code {
			return true
		}
	}
	return false
}

// Codes lists every code.
var Codes = []string{BadUserInput, Unauthenticated, Forbidden, NotFound, Conflict, ParseFailed, ValidationFailed,
	CostLimitExceeded, DepthLimitExceeded, AliasLimitExceeded, SlicingArgumentRequired, SlicingArgumentOutOfRange,
	RateLimited, PersistedQueryNotFound, Timeout, ServiceUnavailable, Internal}

var fromDomain = map[string]string{
	domain.EINVALID:         BadUserInput,
	domain.ENOTFOUND:        NotFound,
	domain.ECONFLICT:        Conflict,
	domain.EUNAUTHENTICATED: Unauthenticated,
	domain.EFORBIDDEN:       Forbidden,
	domain.ETIMEOUT:         Timeout,
	domain.EUNAVAILABLE:     ServiceUnavailable,
	domain.EINTERNAL:        Internal,
}

// FromDomain is the API code of a domain error code (domain.EINVALID, ...);
// Internal for a code it does not know.
func FromDomain(code string) string {
	if c, ok := fromDomain[code]; ok {
		return c
	}
	return Internal
}

// New is an error with code and the request id of ctx (when it has one).
func New(ctx context.Context, code, message string) *gqlerror.Error {
	ext := map[string]any{"code": code}
	if id := requestid.From(ctx); id != "" {
		ext["requestId"] = id
	}
	return &gqlerror.Error{Message: message, Extensions: ext}
}

// Response is a response of errors only: what a request that was not
// executed gets.
type Response struct {
	Errors gqlerror.List `json:"errors"`
}

// Write answers r with status and one error of code: a request refused
// before the GraphQL executor ran, in application/json.
func Write(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	WriteAs(w, status, "application/json", Response{Errors: gqlerror.List{New(r.Context(), code, message)}})
}

// internalJSON is what WriteAs sends when body cannot be encoded.
const internalJSON = `{"errors":[{"message":"internal server error","extensions":{"code":"` + Internal + `"}}]}`

// WriteAs writes body as JSON of mediaType with status.
func WriteAs(w http.ResponseWriter, status int, mediaType string, body any) {
	b, err := json.Marshal(body)
	if err != nil || body == nil {
		status, b = http.StatusInternalServerError, []byte(internalJSON)
	}
	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
