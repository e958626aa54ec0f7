// Package errs holds forum's error kinds, in a package of their own so that
// every layer (the store, the server, the gateway's tests, forumctl) names
// them the same way, as upspin's errors package does.
//
// A Kind is itself an error, so the layers wrap it with the reason in their
// own words and match it with errors.Is, through any number of wrappings:
//
//	return fmt.Errorf("%w: thread %s is locked", errs.FailedPrecondition, name)
//	...
//	if errors.Is(err, errs.FailedPrecondition) { ... }
//
// Kinds survive the wire: each has one gRPC code and one ErrorInfo reason
// (Code, Reason), the server sends both (server/errors.go), and FromStatus
// turns a received status back into an error of the same kind, with its
// field violations.
package errs

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kind is the class of an error: what went wrong, in terms a caller can act
// on. The zero Kind, Other, is an error of no known kind (an internal one).
type Kind uint8

// The kinds. Their order is not part of the API.
const (
	// Other: not one of the kinds below; the server reports it as INTERNAL
	// without detail.
	Other Kind = iota
	// InvalidArgument: the request is malformed; see *InvalidArgumentError
	// for the fields.
	InvalidArgument
	// NotFound: the resource does not exist, or the caller may not see it.
	NotFound
	// AlreadyExists: a resource with that name exists.
	AlreadyExists
	// FailedPrecondition: the resource is not in a state that allows the
	// change (a locked thread, a theme that still holds threads).
	FailedPrecondition
	// Aborted: the etag sent does not match the resource's current one.
	Aborted
	// PermissionDenied: the caller is known but may not do this.
	PermissionDenied
	// Unauthenticated: the call needs a valid token.
	Unauthenticated
	// ResourceExhausted: a server limit was reached.
	ResourceExhausted
	// OutOfRange: a position past what exists (a revision older than the
	// oldest the event log keeps).
	OutOfRange
	numKinds
)

var kindInfo = [numKinds]struct {
	text   string
	code   codes.Code
	reason string
}{
	Other:              {"internal error", codes.Internal, "INTERNAL"},
	InvalidArgument:    {"invalid argument", codes.InvalidArgument, "INVALID_ARGUMENT"},
	NotFound:           {"not found", codes.NotFound, "NOT_FOUND"},
	AlreadyExists:      {"already exists", codes.AlreadyExists, "ALREADY_EXISTS"},
	FailedPrecondition: {"failed precondition", codes.FailedPrecondition, "FAILED_PRECONDITION"},
	Aborted:            {"etag mismatch", codes.Aborted, "ETAG_MISMATCH"},
	PermissionDenied:   {"permission denied", codes.PermissionDenied, "PERMISSION_DENIED"},
	Unauthenticated:    {"unauthenticated", codes.Unauthenticated, "UNAUTHENTICATED"},
	ResourceExhausted:  {"resource exhausted", codes.ResourceExhausted, "RESOURCE_EXHAUSTED"},
	OutOfRange:         {"out of range", codes.OutOfRange, "OUT_OF_RANGE"},
}

// Error implements error: the kind's text, which the layers prefix to their
// reason ("not found: thread threads/7").
func (k Kind) Error() string {
	if k >= numKinds {
		return fmt.Sprintf("errs.Kind(%d)", uint8(k))
	}
	return kindInfo[k].text
}

// Code is the gRPC code the kind travels as.
func (k Kind) Code() codes.Code {
	if k >= numKinds {
		return codes.Internal
	}
	return kindInfo[k].code
}

// Reason is the ErrorInfo reason the kind travels as, in the "forum"
// domain (Domain).
func (k Kind) Reason() string {
	if k >= numKinds {
		return kindInfo[Other].reason
	}
	return kindInfo[k].reason
}

// Domain is the ErrorInfo domain of every error forum returns.
const Domain = "forum"

// KindOf returns the kind err is (matched with errors.Is, so through any
// wrapping), or Other.
func KindOf(err error) Kind {
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return Other
}

// FieldViolation names a request field and what is wrong with it.
type FieldViolation struct {
	// Field is the path of the field in the request, e.g. "thread.title".
	Field string
	// Description says what is wrong, in words a client developer can act on.
	Description string
}

// InvalidArgumentError is a request rejected for one or more fields. It
// is of kind InvalidArgument (errors.Is and KindOf).
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

// Unwrap makes the error of kind InvalidArgument.
func (e *InvalidArgumentError) Unwrap() error { return InvalidArgument }

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

// MetadataError is an error that carries key-value pairs for the client,
// sent as its ErrorInfo's metadata: an OUT_OF_RANGE revision names the
// oldest revision still kept ("oldest_revision"). Its kind is its Err's.
type MetadataError struct {
	Err      error
	Metadata map[string]string
}

// Error implements error.
func (e *MetadataError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *MetadataError) Unwrap() error { return e.Err }

// WithMetadata returns err carrying the key-value pairs kv (key, value,
// key, value, …) for the client.
func WithMetadata(err error, kv ...string) error {
	md := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		md[kv[i]] = kv[i+1]
	}
	return &MetadataError{Err: err, Metadata: md}
}

// MetadataOf returns the metadata err carries (WithMetadata, or received
// over the wire by FromStatus), or nil.
func MetadataOf(err error) map[string]string {
	var m *MetadataError
	if errors.As(err, &m) {
		return m.Metadata
	}
	return nil
}

// wireError is an error received over the wire: the message the server sent,
// of the kind its reason names.
type wireError struct {
	kind Kind
	msg  string
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.kind }

// FromStatus turns a status received from a forum server back into an
// error of the kind its ErrorInfo reason names (or, without one, of the kind
// of its code), keeping the server's message. A status with BadRequest field
// violations gives an *InvalidArgumentError. It returns nil for an OK
// status.
func FromStatus(st *status.Status) error {
	if st == nil || st.Code() == codes.OK {
		return nil
	}
	kind, byReason := Other, false
	var violations []FieldViolation
	var metadata map[string]string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() != Domain {
				continue
			}
			for k := range numKinds {
				if kindInfo[k].reason == d.GetReason() {
					kind, byReason = k, true
				}
			}
			metadata = d.GetMetadata()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				violations = append(violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	if !byReason {
		for k := range numKinds {
			if kindInfo[k].code == st.Code() && k != Other {
				kind = k
				break
			}
		}
	}
	if kind == InvalidArgument && len(violations) > 0 {
		return &InvalidArgumentError{Violations: violations}
	}
	var err error = &wireError{kind: kind, msg: st.Message()}
	if len(metadata) > 0 {
		err = &MetadataError{Err: err, Metadata: metadata}
	}
	return err
}
