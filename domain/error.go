package domain

import (
	"errors"
	"fmt"
)

// Error codes, independent of any transport. graph/ maps them to GraphQL
// extensions.code values in one place.
const (
	EINVALID         = "invalid"         // the caller sent something unacceptable
	ENOTFOUND        = "not_found"       // no such thing, or the caller may not see it
	ECONFLICT        = "conflict"        // a stale version, a duplicate, a cycle
	EUNAUTHENTICATED = "unauthenticated" // credentials missing or invalid where required
	EFORBIDDEN       = "forbidden"       // authenticated but not allowed
	EUNAVAILABLE     = "unavailable"     // a dependency (PostgreSQL) is unreachable
	ETIMEOUT         = "timeout"         // the request ran out of time
	EINTERNAL        = "internal"        // a bug or an unexpected failure
)

// Error is an error the client is meant to read. Field names the offending
// input field (a GraphQL path such as "input.title") when there is one.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for the facts that several layers test for.
var (
	ErrNotFound        = &Error{Code: ENOTFOUND, Message: "not found"}
	ErrConflict        = &Error{Code: ECONFLICT, Message: "the object was changed by someone else; reload it and retry"}
	ErrForbidden       = &Error{Code: EFORBIDDEN, Message: "you are not allowed to do this"}
	ErrUnauthenticated = &Error{Code: EUNAUTHENTICATED, Message: "sign in to do this"}
)

// ErrorCode returns the code of err, EINTERNAL for an error that is not an
// *Error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
