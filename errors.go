package agentalias

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentalias/agentalias/policy"
	"github.com/agentalias/agentalias/storage"
)

// Code classifies an Error. The set is closed: every error the router
// returns has one of these codes, and an error without one counts as
// Internal.
type Code string

// The error codes.
const (
	Invalid       Code = "invalid"        // the input is malformed or breaks a rule; see Error.Fields
	NotFound      Code = "not_found"      // the alias, session, event or artifact does not exist (in this tenant)
	AlreadyExists Code = "already_exists" // the key is taken
	Conflict      Code = "conflict"       // the state does not allow it now: a running turn, a referenced alias
	Forbidden     Code = "forbidden"      // the host's hooks refused the operation
	Unavailable   Code = "unavailable"    // no available agent could take the session
	TooLarge      Code = "too_large"      // an artifact or body exceeds its limit
	Internal      Code = "internal"       // a failure of the store or of the library
)

// Sentinels for errors.Is: errors.Is(err, agentalias.ErrNotFound) is true for
// every *Error whose Code is NotFound.
var (
	ErrInvalid       = &Error{Code: Invalid, Message: "invalid input"}
	ErrNotFound      = &Error{Code: NotFound, Message: "not found"}
	ErrAlreadyExists = &Error{Code: AlreadyExists, Message: "already exists"}
	ErrConflict      = &Error{Code: Conflict, Message: "conflict"}
	ErrForbidden     = &Error{Code: Forbidden, Message: "forbidden"}
	ErrUnavailable   = &Error{Code: Unavailable, Message: "unavailable"}
	ErrTooLarge      = &Error{Code: TooLarge, Message: "too large"}
	ErrInternal      = &Error{Code: Internal, Message: "internal error"}
)

var sentinels = map[Code]*Error{
	Invalid: ErrInvalid, NotFound: ErrNotFound, AlreadyExists: ErrAlreadyExists,
	Conflict: ErrConflict, Forbidden: ErrForbidden, Unavailable: ErrUnavailable,
	TooLarge: ErrTooLarge, Internal: ErrInternal,
}

// Error is the one error type of the router. Message is safe to show to a
// client; Err, the cause, is not (it may hold internal details) and is kept
// for errors.Is, errors.As and logs.
type Error struct {
	Code    Code
	Message string

	// Fields maps JSON paths of the input ("policy.rules[1].match") to what
	// is wrong with them. Only Invalid errors have it.
	Fields map[string]string

	// ID is the key or id that was not found, for NotFound errors.
	ID string

	// Err is the underlying cause, if any.
	Err error
}

// Error returns the message, and the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("agentalias: %s: %v", e.Message, e.Err)
	}
	return "agentalias: " + e.Message
}

// Unwrap returns the cause and the sentinel of the code, so that both
// errors.Is(err, storage.ErrNotFound) and errors.Is(err, ErrNotFound) work.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if s := sentinels[e.Code]; s != nil && s != e {
		out = append(out, s)
	}
	return out
}

// ErrorCode returns the code of err: the code of the first *Error in its
// chain, Internal for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the client-safe message of err: the Message of the
// first *Error in its chain, or a generic text for other errors.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// FieldErrors returns the field errors of err, or nil.
func FieldErrors(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// invalid turns a validation error (with FieldErrors) into an Invalid error;
// prefix is prepended to every path.
func invalid(err error, message string) *Error {
	e := &Error{Code: Invalid, Message: message, Err: err}
	var fe interface{ FieldErrors() map[string]string }
	if errors.As(err, &fe) {
		e.Fields = fe.FieldErrors()
		for path, msg := range e.Fields {
			if path == "" {
				delete(e.Fields, path)
				e.Message = message + ": " + msg
			}
		}
		if len(e.Fields) == 0 {
			e.Fields = nil
		}
	}
	return e
}

// classify turns an error from a store, a policy or the context into an
// *Error. It is the one place where such errors get codes. what names the
// item for messages ("alias", "session"), id its key.
func classify(err error, what, id string) error {
	if err == nil {
		return nil
	}
	var e *Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Code: NotFound, Message: what + " not found", ID: id, Err: err}
	case errors.Is(err, storage.ErrExists):
		return &Error{Code: AlreadyExists, Message: fmt.Sprintf("%s %q already exists", what, id), Err: err}
	case errors.Is(err, storage.ErrConflict):
		return &Error{Code: Conflict, Message: fmt.Sprintf("%s %q was changed concurrently; retry", what, id), Err: err}
	case errors.Is(err, storage.ErrInvalid):
		return &Error{Code: Invalid, Message: "invalid " + what, Err: err}
	case errors.Is(err, storage.ErrClosed):
		return &Error{Code: Unavailable, Message: "the router is closed", Err: err}
	case errors.Is(err, policy.ErrNoMatch), errors.Is(err, policy.ErrNullPartition):
		return &Error{Code: Invalid, Message: "the alias's policy could not resolve against the session: " + err.Error(), Err: err}
	case errors.Is(err, policy.ErrUnavailable):
		return &Error{Code: Unavailable, Message: "no available agent: " + err.Error(), Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: Unavailable, Message: "the request was cancelled or timed out", Err: err}
	}
	return &Error{Code: Internal, Message: "internal error", Err: err}
}
