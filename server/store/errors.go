package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/forumhq/forum/server/store/kv"
)

// Domain errors. The store and the server's validation return them (usually
// wrapped, with the reason); the gRPC layer maps them to status codes in one
// table, matching with errors.Is.
var (
	// ErrNotFound: the resource does not exist, or the caller may not see it.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a resource with that name exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request is malformed; see *InvalidArgumentError.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the resource is not in a state that allows the
	// change (a locked thread, a theme that still holds threads).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrAborted: the etag sent does not match the resource's current one.
	ErrAborted = errors.New("etag mismatch")
	// ErrPermissionDenied: the caller is known but may not do this.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnauthenticated: the call needs a valid token.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// Errors of the engine under the store, named here so that the layers above
// the store need not know the engine (they are the engine's own values, so
// errors.Is matches either name).
var (
	// ErrWritesStopped: a storage error (a failed fsync, a full disk)
	// stopped the writes until the database is reopened (Err says why).
	ErrWritesStopped = kv.ErrFailed
	// ErrClosed: the store is closed (forumd is shutting down).
	ErrClosed = kv.ErrClosed
	// ErrTooLarge: one call's writes are over MaxUpdateSize.
	ErrTooLarge = kv.ErrTooLarge
)

// MaxUpdateSize bounds what one call may write (the engine's bound).
const MaxUpdateSize = kv.MaxUpdateSize

// FieldViolation names a request field and what is wrong with it.
type FieldViolation struct {
	// Field is the path of the field in the request, e.g. "thread.title".
	Field string
	// Description says what is wrong, in words a client developer can act on.
	Description string
}

// InvalidArgumentError is a request rejected for one or more fields. It
// matches ErrInvalidArgument with errors.Is.
type InvalidArgumentError struct {
	Violations []FieldViolation
}

// Error implements error.
func (e *InvalidArgumentError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid argument: " + strings.Join(parts, "; ")
}

// Is reports whether target is ErrInvalidArgument.
func (e *InvalidArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// InvalidField returns an InvalidArgumentError for one field.
func InvalidField(field, format string, args ...any) error {
	return &InvalidArgumentError{Violations: []FieldViolation{{Field: field, Description: fmt.Sprintf(format, args...)}}}
}

// Violations collects field violations; its Err is nil while it is empty.
type Violations []FieldViolation

// Add records a violation of field.
func (v *Violations) Add(field, format string, args ...any) {
	*v = append(*v, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Err returns the violations as an *InvalidArgumentError, or nil.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &InvalidArgumentError{Violations: v}
}
