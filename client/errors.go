package client

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors, matched with errors.Is against the errors the Client
// returns. Each stands for one gRPC status code.
var (
	// ErrNotFound: the resource does not exist, or the caller may not see
	// it (NOT_FOUND).
	ErrNotFound = errors.New("forum: not found")
	// ErrAlreadyExists: a resource with that name exists, such as a theme
	// slug or a username already taken (ALREADY_EXISTS).
	ErrAlreadyExists = errors.New("forum: already exists")
	// ErrInvalidArgument: the request is malformed; FieldViolations names
	// the fields (INVALID_ARGUMENT).
	ErrInvalidArgument = errors.New("forum: invalid argument")
	// ErrFailedPrecondition: the resource is not in a state that allows the
	// change, such as a reply to a locked thread (FAILED_PRECONDITION).
	ErrFailedPrecondition = errors.New("forum: failed precondition")
	// ErrConflict: the etag sent is not the resource's current one, because
	// someone changed it since it was read; read it again and redo the
	// change (ABORTED).
	ErrConflict = errors.New("forum: conflict (stale etag)")
	// ErrPermissionDenied: the caller is known but may not do this
	// (PERMISSION_DENIED).
	ErrPermissionDenied = errors.New("forum: permission denied")
	// ErrUnauthenticated: the call needs a token, or the token is unknown
	// or expired; log in again (UNAUTHENTICATED).
	ErrUnauthenticated = errors.New("forum: unauthenticated")
	// ErrRateLimited: a server limit was reached; RetryDelay tells how long
	// to wait if the server said (RESOURCE_EXHAUSTED with the server's
	// ErrorInfo or RetryInfo detail).
	ErrRateLimited = errors.New("forum: rate limited")
	// ErrTooLarge: a message was larger than gRPC allows (RESOURCE_EXHAUSTED
	// without the details of a server limit: gRPC's own "message larger
	// than max"). Waiting does not help; a smaller page_size may.
	ErrTooLarge = errors.New("forum: message too large")
	// ErrUnavailable: the server cannot be reached or is shutting down,
	// after the retries the policy allows (UNAVAILABLE).
	ErrUnavailable = errors.New("forum: unavailable")
	// ErrOutOfRange: a revision older than the oldest the event log
	// keeps; OldestRevision tells which one that is (OUT_OF_RANGE).
	ErrOutOfRange = errors.New("forum: out of range")
)

// sentinels maps status codes to the sentinel errors above, and to the
// context errors for the two codes that mean one.
var sentinels = map[codes.Code]error{
	codes.NotFound:           ErrNotFound,
	codes.AlreadyExists:      ErrAlreadyExists,
	codes.InvalidArgument:    ErrInvalidArgument,
	codes.FailedPrecondition: ErrFailedPrecondition,
	codes.Aborted:            ErrConflict,
	codes.PermissionDenied:   ErrPermissionDenied,
	codes.Unauthenticated:    ErrUnauthenticated,
	codes.ResourceExhausted:  ErrRateLimited,
	codes.Unavailable:        ErrUnavailable,
	codes.OutOfRange:         ErrOutOfRange,
	codes.DeadlineExceeded:   context.DeadlineExceeded,
	codes.Canceled:           context.Canceled,
}

// Error is a failed call's gRPC status. errors.Is matches it against the
// sentinel error of its code, and status.FromError and status.Code still
// work on it (and on errors wrapping it).
type Error struct {
	st *status.Status
}

// wrapError returns err as an *Error if it carries a gRPC status, and as it
// is otherwise.
func wrapError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return &Error{st: st}
}

// Error returns the status code and the server's message, such as
// "NotFound: not found: threads/99".
func (e *Error) Error() string {
	if e.st.Message() == "" {
		return e.st.Code().String()
	}
	return e.st.Code().String() + ": " + e.st.Message()
}

// GRPCStatus returns the status, for status.FromError and status.Code.
func (e *Error) GRPCStatus() *status.Status { return e.st }

// Is reports whether target is the sentinel error of e's code. A
// RESOURCE_EXHAUSTED status is ErrRateLimited if it carries the details a
// server limit sends (google.rpc.ErrorInfo or RetryInfo), and ErrTooLarge
// if it carries none.
func (e *Error) Is(target error) bool {
	if e.st.Code() == codes.ResourceExhausted {
		limit := false
		for _, d := range e.st.Details() {
			switch d.(type) {
			case *errdetails.ErrorInfo, *errdetails.RetryInfo:
				limit = true
			}
		}
		return (limit && target == ErrRateLimited) || (!limit && target == ErrTooLarge)
	}
	s, ok := sentinels[e.st.Code()]
	return ok && s == target
}

// Code returns the gRPC status code.
func (e *Error) Code() codes.Code { return e.st.Code() }

// Message returns the server's message, without the code.
func (e *Error) Message() string { return e.st.Message() }

// Reason returns the reason of the google.rpc.ErrorInfo detail, such as
// "ETAG_MISMATCH", or "" if there is none.
func (e *Error) Reason() string {
	for _, d := range e.st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// FieldViolation is a request field the server rejected, from the
// google.rpc.BadRequest detail of an INVALID_ARGUMENT error.
type FieldViolation struct {
	// Field is the path of the field in the request, such as
	// "thread.title".
	Field string
	// Description says what is wrong with it.
	Description string
}

// FieldViolations returns the request fields the server rejected, in the
// order it gave them.
func (e *Error) FieldViolations() []FieldViolation {
	var out []FieldViolation
	for _, d := range e.st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return out
}

// RetryDelay returns the delay of the google.rpc.RetryInfo detail, if the
// server sent one.
func (e *Error) RetryDelay() (time.Duration, bool) {
	for _, d := range e.st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// FieldViolations returns the request fields an INVALID_ARGUMENT error
// names, or nil if err is not such an error or names none.
func FieldViolations(err error) []FieldViolation {
	var e *Error
	if !errors.As(err, &e) {
		if st, ok := status.FromError(err); ok {
			e = &Error{st: st}
		} else {
			return nil
		}
	}
	return e.FieldViolations()
}

// RetryDelay returns how long the server asks the caller to wait before
// trying again, from the google.rpc.RetryInfo detail of err (usually an
// ErrRateLimited error). ok is false if err carries no such detail.
func RetryDelay(err error) (delay time.Duration, ok bool) {
	var e *Error
	if !errors.As(err, &e) {
		if st, sok := status.FromError(err); sok {
			e = &Error{st: st}
		} else {
			return 0, false
		}
	}
	return e.RetryDelay()
}

// OldestRevision returns the oldest revision the event log still keeps,
// from an ErrOutOfRange error (its google.rpc.ErrorInfo metadata,
// "oldest_revision"): where a reader that asked for an older one may read
// from instead, having missed the events between. ok is false if err is
// not such an error.
func OldestRevision(err error) (revision uint64, ok bool) {
	st, sok := status.FromError(err)
	if !sok || st.Code() != codes.OutOfRange {
		return 0, false
	}
	for _, d := range st.Details() {
		if info, iok := d.(*errdetails.ErrorInfo); iok {
			if v, has := info.GetMetadata()["oldest_revision"]; has {
				if n, perr := strconv.ParseUint(v, 10, 64); perr == nil {
					return n, true
				}
			}
		}
	}
	return 0, false
}
