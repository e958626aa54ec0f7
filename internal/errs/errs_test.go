package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/forumhq/forum/internal/errs"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var kinds = []errs.Kind{errs.InvalidArgument, errs.NotFound, errs.AlreadyExists, errs.FailedPrecondition,
	errs.Aborted, errs.PermissionDenied, errs.Unauthenticated, errs.ResourceExhausted, errs.OutOfRange}

// TestKindOf checks that a kind is found through wrapping, and that other
// errors are of kind Other.
func TestKindOf(t *testing.T) {
	for _, k := range kinds {
		err := fmt.Errorf("outer: %w", fmt.Errorf("%w: thread threads/7", k))
		if got := errs.KindOf(err); got != k {
			t.Errorf("KindOf(%v) = %v, want %v", err, got, k)
		}
		if !errors.Is(err, k) {
			t.Errorf("errors.Is(%v, %v) = false", err, k)
		}
	}
	for _, err := range []error{nil, errors.New("disk on fire"), fmt.Errorf("x: %w", errors.New("y"))} {
		if got := errs.KindOf(err); got != errs.Other {
			t.Errorf("KindOf(%v) = %v, want Other", err, got)
		}
	}
	v := errs.InvalidField("thread.title", "must not be empty")
	if errs.KindOf(fmt.Errorf("wrapped: %w", v)) != errs.InvalidArgument || !errors.Is(v, errs.InvalidArgument) {
		t.Errorf("%v is not of kind InvalidArgument", v)
	}
}

// TestKindsDistinct checks that no two kinds share a code or a reason, so
// that FromStatus can tell them apart.
func TestKindsDistinct(t *testing.T) {
	codesSeen, reasons := map[codes.Code]errs.Kind{}, map[string]errs.Kind{}
	for _, k := range append(kinds, errs.Other) {
		if o, ok := codesSeen[k.Code()]; ok {
			t.Errorf("%v and %v share code %v", k, o, k.Code())
		}
		if o, ok := reasons[k.Reason()]; ok {
			t.Errorf("%v and %v share reason %s", k, o, k.Reason())
		}
		codesSeen[k.Code()], reasons[k.Reason()] = k, k
	}
	if s := errs.Kind(200).Error(); s != "errs.Kind(200)" {
		t.Errorf("an unknown kind's text is %q", s)
	}
}

// TestFromStatus sends every kind over the wire as the server does (code,
// ErrorInfo reason, field violations) and reads it back.
func TestFromStatus(t *testing.T) {
	for _, k := range kinds {
		st, err := status.New(k.Code(), "not found: thread threads/7").WithDetails(&errdetails.ErrorInfo{Domain: errs.Domain, Reason: k.Reason()})
		if err != nil {
			t.Fatal(err)
		}
		got := errs.FromStatus(st)
		if errs.KindOf(got) != k || got.Error() != "not found: thread threads/7" {
			t.Errorf("FromStatus of %v = %v (kind %v)", k, got, errs.KindOf(got))
		}
	}
	// Without an ErrorInfo (a status from a proxy), the code decides.
	if got := errs.FromStatus(status.New(codes.NotFound, "no such thing")); errs.KindOf(got) != errs.NotFound {
		t.Errorf("code-only NOT_FOUND gave kind %v", errs.KindOf(got))
	}
	// An ErrorInfo of another domain is not ours: the code decides.
	st, _ := status.New(codes.Unavailable, "x").WithDetails(&errdetails.ErrorInfo{Domain: "other", Reason: "NOT_FOUND"})
	if got := errs.FromStatus(st); errs.KindOf(got) != errs.Other {
		t.Errorf("UNAVAILABLE with a foreign reason gave kind %v", errs.KindOf(got))
	}
	// Field violations come back as an *InvalidArgumentError.
	st, _ = status.New(codes.InvalidArgument, "invalid").WithDetails(
		&errdetails.ErrorInfo{Domain: errs.Domain, Reason: "INVALID_ARGUMENT"},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "thread.title", Description: "must not be empty"}}})
	var ia *errs.InvalidArgumentError
	if got := errs.FromStatus(st); !errors.As(got, &ia) || len(ia.Violations) != 1 || ia.Violations[0].Field != "thread.title" {
		t.Errorf("FromStatus with a BadRequest = %#v", got)
	}
	if errs.FromStatus(status.New(codes.OK, "")) != nil || errs.FromStatus(nil) != nil {
		t.Error("FromStatus of OK is not nil")
	}
}

// TestMetadata sends an error with metadata over the wire and reads it back.
func TestMetadata(t *testing.T) {
	err := errs.WithMetadata(fmt.Errorf("%w: revision 3 is gone", errs.OutOfRange), "oldest_revision", "17")
	if errs.KindOf(err) != errs.OutOfRange || errs.MetadataOf(err)["oldest_revision"] != "17" {
		t.Fatalf("%v: kind %v, metadata %v", err, errs.KindOf(err), errs.MetadataOf(err))
	}
	st, _ := status.New(codes.OutOfRange, err.Error()).WithDetails(&errdetails.ErrorInfo{Domain: errs.Domain, Reason: "OUT_OF_RANGE", Metadata: errs.MetadataOf(err)})
	got := errs.FromStatus(st)
	if errs.KindOf(got) != errs.OutOfRange || errs.MetadataOf(got)["oldest_revision"] != "17" || got.Error() != err.Error() {
		t.Errorf("FromStatus: %v, kind %v, metadata %v", got, errs.KindOf(got), errs.MetadataOf(got))
	}
	if errs.MetadataOf(errors.New("x")) != nil {
		t.Error("metadata of a plain error")
	}
}

func TestViolations(t *testing.T) {
	var v errs.Violations
	if v.Err() != nil {
		t.Fatal("empty Violations gave an error")
	}
	v.Add("a", "bad %d", 1)
	v.Add("b", "worse")
	if got, want := v.Err().Error(), "invalid argument: a: bad 1; b: worse"; got != want {
		t.Errorf("Err() = %q, want %q", got, want)
	}
}

func ExampleKindOf() {
	err := fmt.Errorf("GetThread: %w", fmt.Errorf("%w: thread threads/7", errs.NotFound))
	fmt.Println(errs.KindOf(err), errs.KindOf(err).Code(), errs.KindOf(err).Reason())
	// Output: not found NotFound NOT_FOUND
}
